/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The repair backend's shared helpers (used by repair.c, defined in repair_create.c). */
#ifndef TCPCP_REPAIR_H
#define TCPCP_REPAIR_H

#include <netinet/tcp.h>
#include <sys/socket.h>

#include "ici.h"

#ifndef TCPI_OPT_USEC_TS
#define TCPI_OPT_USEC_TS 64
#endif
#ifndef IP_TRANSPARENT
#define IP_TRANSPARENT 19
#endif
#ifndef IPV6_TRANSPARENT
#define IPV6_TRANSPARENT 75
#endif

/* setsockopt/getsockopt of an int, ioctl of an int: 0 or -errno */
int repair_setopt(int s, int level, int name, int val);
int repair_getopt(int s, int level, int name, int *val);
int repair_ioctl(int s, unsigned long req, int *val);
int repair_tcp_info(int s, struct tcp_info *ti);
/*
 * A TCP socket of family AF_INET or AF_INET6: 0, else -errno; *local is
 * its address (getsockname(), whose family is the socket's domain)
 */
int repair_check_tcp(int s, int *domain, struct sockaddr_storage *local);
/* 0 when s is in repair mode, -EINVAL when not, else -errno */
int repair_in_repair(int s);

int repair_create(const struct ici *ici, int fd, unsigned int flags,
		  unsigned int *lost);

#endif /* TCPCP_REPAIR_H */
