/* SPDX-License-Identifier: GPL-2.0 */
/* Client side of the tcpcpd local protocol (tcpcpctl, tcpcp-move, tests). */
#ifndef TCPCPD_CTL_H
#define TCPCPD_CTL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "local.h"

#define TCPCPD_SOCKET_DEFAULT "/run/tcpcp/tcpcpd.sock"

/* All return >= 0 or -errno. */
int ctl_connect(const char *path);
/* Hand fd to the daemon and wait (up to timeout_ms + a margin) for the RESULT. */
int ctl_move(int c, int fd, const char *dest, const void *app, size_t app_len,
	     uint32_t timeout_ms, uint32_t flags, struct lmsg_result *res);
int ctl_register(int c, uint16_t port, struct lmsg_result *res);
/*
 * Wait for one DELIVER: *fd gets the socket, info the header (app_len
 * included), app up to app_max bytes.  timeout_ms < 0 waits forever.
 */
int ctl_recv_deliver(int c, int timeout_ms, int *fd, struct lmsg_deliver *info,
		     void *app, size_t app_max);
int ctl_status(int c, struct lmsg_status *st);
const char *ctl_phase_name(unsigned int phase);

/* Control buffer for one SCM_RIGHTS descriptor, aligned for a cmsghdr */
union ctl_fdbuf {
	char buf[CMSG_SPACE(sizeof(int))];
	struct cmsghdr align;
};

/* Attach fd to mh as SCM_RIGHTS in u; nothing when fd < 0. */
void ctl_attach_fd(struct msghdr *mh, union ctl_fdbuf *u, int fd);

#endif /* TCPCPD_CTL_H */
