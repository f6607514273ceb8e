/* SPDX-License-Identifier: GPL-2.0 */
/*
 * mover: one connection of the server application moved between hosts a
 * and b of the lab with libtcpcp, while the peer client streams both ways.
 * Used by the end-to-end tests and the demo.
 */
#ifndef TCPCP_MOVER_H
#define TCPCP_MOVER_H

#include <stdbool.h>
#include <stdint.h>

#include "labkit.h"

enum mv_end {
	MV_END_ORDERLY, /* moves while ESTABLISHED */
	MV_END_CLOSE_WAIT, /* peer has shut down: moves in CLOSE_WAIT */
	MV_END_FIN_WAIT2, /* server has shut down: moves in FIN_WAIT2 */
};

enum mv_port {
	MV_PORT_SAME, /* the ICI's address and port */
	MV_PORT_BOUND, /* a socket the destination bound to port 6000 */
	MV_PORT_ANY, /* TCPCP_CREATE_ANY_PORT */
};

#define MV_ALT_PORT 6000

struct mv_scen {
	int family;
	uint64_t c2s, s2c; /* bytes peer -> server, server -> peer */
	int moves; /* a -> b, b -> a, ... */
	enum mv_end end;
	enum mv_port port; /* for the first move */
	bool rollback; /* dump, then roll back instead of moving */
	bool lossy; /* gw drops the server's segments just before
				 * the first freeze: the peer lacks unacked
				 * data and unsent data stays queued */
	int silence_ms; /* rollback: watch a's wire this long while
				 * the endpoint is isolated */
	bool verbose; /* print each step (demo) */
	bool deny_bpf; /* the movers run with bpf(2) refused (seccomp):
				 * the repair backend's classic socket
				 * filters */
	double timeout;
};

struct mv_result {
	char err[400]; /* why it failed ("" if it did not) */
	char peer[256]; /* the peer's summary line */
	char pcap[512]; /* pcapcheck's output */
	char pcapfile[256]; /* the capture, kept when something failed */
	int peer_rc, pcap_rc;
	int leaked; /* packets a sent while isolated (silence_ms) */
	uint32_t max_unacked, max_unsent, max_unread, max_ici;
	uint32_t states_seen; /* bit per TCP state dumped */
	double max_freeze_ms; /* dump to activated */
	int moves;
};

/* 1 when seccomp can make bpf(2) fail here (CONFIG_SECCOMP_FILTER) */
int mv_can_deny_bpf(void);

/*
 * Run the scenario in lab l (already up): the caller's thread ends up in
 * NAME-a.  Returns 0 when the application, the peer and pcapcheck all
 * passed; res says what happened either way.
 */
int mv_run(struct lab *l, const struct mv_scen *sc, struct mv_result *res);

#endif /* TCPCP_MOVER_H */
