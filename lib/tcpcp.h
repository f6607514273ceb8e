/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libtcpcp - pass a live TCP connection endpoint to another host.
 *
 * Lifecycle of a move:
 *
 *   origin                                destination
 *   ------                                -----------
 *   ici = tcpcp_get(s)   (s is isolated)
 *          --- ship the ICI bytes (tcpcp_size(ici) long) --->
 *                                         d = tcpcp_create(ici)  (isolated)
 *          --- redirect the network to the destination --------
 *   tcpcp_discard(s); close(s)            tcpcp_activate(d)
 *
 * Before the destination is activated the origin can roll back with
 * tcpcp_unisolate(s): the connection goes on there as if nothing happened.
 * At no moment do two endpoints transmit: an isolated endpoint sends nothing
 * and drops everything it receives.
 *
 * Ownership: tcpcp_get() returns a malloc'd ICI that the caller frees with
 * free().  tcpcp_create() returns a new file descriptor the caller owns.
 * ICIs passed in are only read.  The library never prints; see
 * tcpcp_set_log().
 *
 * Errors: the original calls (tcpcp_get, tcpcp_size, tcpcp_create,
 * tcpcp_activate) return NULL or -1 and set errno.  Every other call returns
 * >= 0 on success or a negative errno value, and leaves errno alone.
 *
 * Backends: "native" uses the TCP_ICI socket options of a kernel built with
 * CONFIG_TCPCP; "repair" uses TCP_REPAIR on a stock kernel.  Both read and
 * write the same ICI bytes.  The environment variable TCPCP_BACKEND
 * (native|repair|auto) or tcpcp_set_backend() chooses one.
 */
#ifndef TCPCP_H
#define TCPCP_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>
#include <netinet/in.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The original tcpcp high-level API */
void *tcpcp_get(int s);
int tcpcp_size(const void *ici);
int tcpcp_create(const void *ici);
int tcpcp_activate(int s);

/* Backends */
enum tcpcp_backend {
	TCPCP_BACKEND_AUTO = 0,
	TCPCP_BACKEND_NATIVE = 1,
	TCPCP_BACKEND_REPAIR = 2,
};
int tcpcp_set_backend(int backend);
int tcpcp_backend(void);
const char *tcpcp_backend_name(int backend);
int tcpcp_native_available(void);

/* Dump flags */
#define TCPCP_DUMP_CONG 0x0001 /* ask the destination to restore cwnd etc. */

/* Create flags */
#define TCPCP_CREATE_ANY_PORT 0x0001 /* bind the ICI's address, any free port */
#define TCPCP_CREATE_CONG 0x0002 /* restore congestion state (native only) */
#define TCPCP_CREATE_STRICT 0x0004 /* fail if any part cannot be restored */

/* What tcpcp_create_ex could not restore (its *lost) */
#define TCPCP_LOST_TS_RECENT 0x0001
#define TCPCP_LOST_OFO 0x0002
#define TCPCP_LOST_CONG 0x0004
#define TCPCP_LOST_ECN 0x0008

int tcpcp_dump(int s, unsigned int flags, void **ici, size_t *len);
int tcpcp_create_ex(const void *ici, size_t len, int fd, unsigned int flags,
		    unsigned int *lost);
int tcpcp_activate_ex(int s);
int tcpcp_unisolate(int s);
int tcpcp_discard(int s);
int tcpcp_max_size(int s);

/* ICI inspection and rewriting; none of these touch a socket */
struct tcpcp_info {
	int family; /* AF_INET or AF_INET6 */
	int state; /* TCPCP_STATE_* (Linux TCP_* numbers) */
	struct sockaddr_storage local;
	struct sockaddr_storage remote;
	uint32_t snd_una, snd_nxt, write_seq, rcv_nxt, copied_seq;
	uint32_t sndq_len, rcvq_len, ofo_segs, ofo_len;
	uint16_t mss;
	unsigned int options; /* TCPCP_OPT_* */
	unsigned int major, minor;
	size_t len; /* bytes of the whole ICI */
};

int tcpcp_ici_check(const void *ici, size_t len, char *why, size_t whylen);
int tcpcp_ici_info(const void *ici, size_t len, struct tcpcp_info *info);
int tcpcp_ici_set_local(void *ici, size_t len, const struct sockaddr *sa,
			socklen_t salen);

#define TCPCP_PRINT_JSON 0x0001
#define TCPCP_PRINT_PRETTY 0x0002 /* JSON on several lines */
#define TCPCP_PRINT_DATA 0x0004 /* include queue bytes as hex */
int tcpcp_ici_print(const void *ici, size_t len, FILE *f, unsigned int flags);

/* Logging: the library never prints, it calls this */
enum tcpcp_log_level {
	TCPCP_LOG_ERR = 0,
	TCPCP_LOG_WARN = 1,
	TCPCP_LOG_INFO = 2,
	TCPCP_LOG_DEBUG = 3,
};
typedef void (*tcpcp_log_fn)(int level, const char *msg, void *arg);
void tcpcp_set_log(int level, tcpcp_log_fn fn, void *arg);

#ifdef __cplusplus
}
#endif
#endif /* TCPCP_H */
