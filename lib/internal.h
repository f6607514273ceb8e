/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libtcpcp internals shared by the API layer and the backends. */
#ifndef TCPCP_INTERNAL_H
#define TCPCP_INTERNAL_H

#include <errno.h>
#include <stddef.h>

#include "ici.h"
#include "tcpcp.h"

#define TCPCP_EXPORT __attribute__((visibility("default")))

void tcpcp_log(int level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Both backends implement these; all return >= 0 or -errno */
struct tcpcp_ops {
	const char *name;
	int (*max_size)(int s);
	int (*dump)(int s, unsigned int flags, void **ici, size_t *len);
	int (*create)(const struct ici *ici, int fd, unsigned int flags,
		      unsigned int *lost);
	int (*activate)(int s);
	int (*unisolate)(int s);
	int (*discard)(int s);
};

extern const struct tcpcp_ops tcpcp_repair_ops;
extern const struct tcpcp_ops tcpcp_native_ops;

/* The backend in force (resolves AUTO and TCPCP_BACKEND on first use) */
const struct tcpcp_ops *tcpcp_ops(void);

/* Convert "-errno" to the original API's -1/errno convention */
static inline int tcpcp_ret_errno(int ret)
{
	if (ret < 0) {
		errno = -ret;
		return -1;
	}
	return ret;
}

#endif /* TCPCP_INTERNAL_H */
