/* SPDX-License-Identifier: GPL-2.0 */
/*
 * labkit: what the lab's end-to-end tests, the demo and the benchmark share:
 * the namespace lab (lab.sh), entering a host, the peer client, tcpdump at
 * the peer, pcapcheck, and a server application whose byte streams survive
 * moves (struct app).
 */
#ifndef TCPCP_LABKIT_H
#define TCPCP_LABKIT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#define LAB_S4 "198.18.100.1"
#define LAB_S6 "fd00:7c:100::1"
#define LAB_PORT 5000
#define SEED_S2C 1111 /* server -> peer stream */
#define SEED_C2S 2222 /* peer -> server stream */

struct lab {
	char name[64];
	char root[512]; /* repository root (for lab.sh) */
	char bin[512]; /* directory of peer, pcapcheck */
	bool up;
};

/* "" when everything the lab needs is there, else why not */
const char *lab_missing(bool pcapcheck);
/* Names are tcpcp-OWNER-...; lab_init() makes the caller the owner */
void lab_init(void);
/* Delete every namespace of the owner (after a test that was killed) */
void lab_cleanup_all(void);
int lab_up(struct lab *l, const char *tag);
void lab_down(struct lab *l);
/* Use a lab someone else set up (lab.sh up NAME) */
void lab_attach(struct lab *l, const char *name);
/* Run a shell command line (printf format); returns the exit status */
int lab_sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int lab_route(struct lab *l, char host);
/* Move the calling thread into NAME-host's network namespace */
int lab_enter(struct lab *l, const char *host);

/* Start tcpdump on eth0 of NAME-host writing file; returns when it listens */
pid_t lab_tcpdump(struct lab *l, const char *host, const char *file);
void lab_tcpdump_stop(pid_t pid);
/* Run pcapcheck; its output (one line or more) goes to out */
int lab_pcapcheck(struct lab *l, const char *file, int family, bool sfin,
		  bool cfin, char *out, size_t outlen);

/* Start the peer client in NAME-peer; extra is appended (may be NULL) */
pid_t lab_peer(struct lab *l, int family, uint64_t send, uint64_t recv,
	       const char *const *extra, int outfd);
/* Wait for a child: its exit status, or -1 on a timeout (then killed) */
int lab_wait(pid_t pid, double timeout);

/* The server application: two stream offsets that move with the socket */
struct app {
	uint64_t tx, rx; /* bytes sent / received and verified */
	uint64_t tx_total, rx_total;
	uint32_t moves; /* moves done */
	uint32_t pad;
};

/*
 * Pump fd (non-blocking) until app->tx >= tx_to and app->rx >= rx_to, or
 * wait_state (a TCP_* state, 0 = none) is reached.  Verifies every byte
 * read.  Returns 0, 1 at EOF, -1 on error or timeout (msg says why).
 */
int app_pump(int fd, struct app *app, uint64_t tx_to, uint64_t rx_to,
	     int wait_state, double timeout, char *msg, size_t msglen);
/* Write up to len more bytes without blocking; returns bytes written */
long app_burst(int fd, struct app *app, uint64_t len);
/* Orderly end: send the rest, SHUT_WR, read the rest and EOF, close */
int app_finish(int fd, struct app *app, double timeout, char *msg,
	       size_t msglen);

int tcp_state(int fd);
double now_s(void);
int listen_on(int family, uint16_t port);

#endif /* TCPCP_LABKIT_H */
