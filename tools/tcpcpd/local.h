/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The tcpcpd local protocol: messages on the UNIX SOCK_SEQPACKET socket
 * (/run/tcpcp/tcpcpd.sock), one message per packet, host byte order.  A
 * socket travels with MOVE (client -> daemon) and DELIVER (daemon ->
 * registered application) as SCM_RIGHTS.  ctl.h has the client calls.
 */
#ifndef TCPCPD_LOCAL_H
#define TCPCPD_LOCAL_H

#include <stdint.h>
#include <sys/socket.h>

#define TCPCPD_LOCAL_MAGIC 0x74637064 /* "tcpd" */
#define TCPCPD_LOCAL_VERSION 1
#define TCPCPD_DEST_LEN 256
#define TCPCPD_MSG_LEN 200
#define TCPCPD_LOCAL_MAX (sizeof(struct lmsg_move) + (64U << 10))

enum lmsg_type {
	LMSG_MOVE = 1, /* client: move this socket; answered by RESULT */
	LMSG_RESULT = 2, /* daemon: outcome of a request */
	LMSG_REGISTER = 3, /* application: deliver moved sockets to me */
	LMSG_DELIVER = 4, /* daemon: a moved, activated socket + its state */
	LMSG_STATUS = 5, /* client: counters please; answered by STATUS */
};

struct lmsg_hdr {
	uint32_t magic; /* TCPCPD_LOCAL_MAGIC */
	uint16_t type; /* enum lmsg_type */
	uint16_t version; /* TCPCPD_LOCAL_VERSION */
	uint32_t len; /* of the whole message */
	uint32_t req; /* request id, echoed in the RESULT */
};

struct lmsg_move {
	struct lmsg_hdr h;
	char dest[TCPCPD_DEST_LEN]; /* HOST[:PORT], NUL-terminated */
	uint32_t timeout_ms; /* 0: the daemon's default */
	uint32_t flags; /* TCPCP_CREATE_* for the destination */
	uint32_t app_len; /* application state bytes that follow */
	uint32_t pad;
	uint8_t app[];
};

/* Phases of a move, as reported in RESULT */
enum move_phase {
	PHASE_NONE = 0,
	PHASE_DUMP, /* dump the ICI, isolate the endpoint */
	PHASE_CONNECT, /* reach and authenticate the destination */
	PHASE_PREPARE, /* destination creates the endpoint */
	PHASE_REDIRECT, /* redirect the network */
	PHASE_COMMIT, /* origin discards; commit point */
	PHASE_ACTIVATE, /* destination activates and delivers */
	PHASE_DONE,
	PHASE_MAX = PHASE_DONE,
};

struct lmsg_result {
	struct lmsg_hdr h;
	int32_t err; /* 0 or a positive errno */
	uint32_t phase; /* enum move_phase reached / failed in */
	uint32_t committed; /* 1: past the commit point */
	uint32_t pad;
	uint8_t id[16]; /* move id */
	uint32_t t_us[PHASE_MAX + 1]; /* end of each phase, us after start */
	char msg[TCPCPD_MSG_LEN]; /* human-readable detail */
};

struct lmsg_register {
	struct lmsg_hdr h;
	uint16_t port; /* local port to receive; 0: any */
	uint16_t pad;
	uint32_t flags;
};

struct lmsg_deliver {
	struct lmsg_hdr h;
	uint8_t id[16];
	struct sockaddr_storage local, remote;
	uint32_t lost; /* TCPCP_LOST_* */
	uint32_t app_len;
	uint8_t app[];
};

struct lmsg_status {
	struct lmsg_hdr h;
	uint64_t moves_out_ok, moves_out_failed;
	uint64_t moves_in_ok, moves_in_failed;
	uint64_t endpoints_created;
	uint64_t auth_failures; /* bad MAC or unanswered challenge */
	uint64_t proto_errors; /* malformed, oversized, truncated, out of place */
	uint64_t local_refused; /* local clients without permission */
	uint64_t moves_active;
	uint64_t registered; /* applications registered */
};

#endif /* TCPCPD_LOCAL_H */
