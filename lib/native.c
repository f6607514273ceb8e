// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The native backend: TCP_MAXICISIZE, TCP_ICI and TCP_CP_FN on a kernel
 * built with CONFIG_TCPCP.  The kernel reads and writes the ICI itself, so
 * a move costs the origin one getsockopt (two if the first buffer was too
 * small) and one setsockopt, and the destination a socket(), a setsockopt
 * and an activation.  On a kernel without tcpcp every call fails with
 * -ENOPROTOOPT.
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "internal.h"

/*
 * First guess at an ICI's size: most fit, bigger ones cost one retry.  Kept
 * below glibc's mmap threshold (128 KiB): a larger first buffer made every
 * dump an mmap, an mremap and later a munmap, which cost more CPU than the
 * kernel's dump itself (measured in the VM benchmark).
 */
#define NATIVE_FIRST_BUF (64U << 10)

/* The one place a failed call becomes -errno */
static int sys_ret(int ret)
{
	return ret < 0 ? -errno : ret;
}

static int native_max_size(int s)
{
	int v = 0;
	socklen_t l = sizeof(v);
	int ret = sys_ret(getsockopt(s, SOL_TCP, TCP_MAXICISIZE, &v, &l));

	return ret < 0 ? ret : v;
}

/* Set or clear TCPCP_CONG_F_RESTORE in an ICI, re-encoding it */
static int set_cong_restore(void **buf, size_t *len, int on)
{
	struct ici ici;
	void *out;
	size_t olen;
	int ret;

	ret = ici_decode(*buf, *len, &ici, NULL, 0);
	if (ret)
		return ret;
	if (!ici.has_cong || !!(ici.cong.flags & TCPCP_CONG_F_RESTORE) == !!on)
		return 0;
	if (on)
		ici.cong.flags |= TCPCP_CONG_F_RESTORE;
	else
		ici.cong.flags &= ~TCPCP_CONG_F_RESTORE;
	ret = ici_encode_alloc(&ici, &out, &olen);
	if (ret)
		return ret;
	free(*buf);
	*buf = out;
	*len = olen;
	return 0;
}

static int native_dump(int s, unsigned int flags, void **ici, size_t *len)
{
	socklen_t l = NATIVE_FIRST_BUF;
	void *buf = NULL, *nb;
	int ret, tries;

	for (tries = 0; tries < 4; tries++) {
		nb = realloc(buf, l);
		if (!nb) {
			ret = -ENOMEM;
			goto fail;
		}
		buf = nb;
		ret = sys_ret(getsockopt(s, SOL_TCP, TCP_ICI, buf, &l));
		if (ret != -ERANGE)
			break;
		/* the kernel wrote the size it needs into l */
	}
	if (ret < 0)
		goto fail;
	nb = realloc(buf, l ? l : 1);
	if (nb)
		buf = nb;
	*ici = buf;
	*len = l;
	if (flags & TCPCP_DUMP_CONG) {
		/* the endpoint is isolated now: a failure here is not fatal */
		ret = set_cong_restore(ici, len, 1);
		if (ret < 0)
			tcpcp_log(
				TCPCP_LOG_WARN,
				"native: cannot mark the ICI for congestion restore: %s",
				strerror(-ret));
	}
	return 0;
fail:
	free(buf);
	return ret;
}

static int family_of(const struct ici *ici)
{
	return ici->family == TCPCP_FAMILY_INET6 ? AF_INET6 : AF_INET;
}

/* TCPCP_CREATE_ANY_PORT: bind the ICI's local address with port 0 */
static int bind_any_port(int fd, const struct ici *ici)
{
	struct sockaddr_storage ss;
	socklen_t sl;

	memset(&ss, 0, sizeof(ss));
	if (ici->family == TCPCP_FAMILY_INET6) {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;

		sin6->sin6_family = AF_INET6;
		memcpy(&sin6->sin6_addr, ici->laddr, 16);
		sl = sizeof(*sin6);
	} else {
		struct sockaddr_in *sin = (struct sockaddr_in *)&ss;

		sin->sin_family = AF_INET;
		memcpy(&sin->sin_addr, ici->laddr, 4);
		sl = sizeof(*sin);
	}
	return sys_ret(bind(fd, (struct sockaddr *)&ss, sl));
}

static int native_create(const struct ici *ici, int fd, unsigned int flags,
			 unsigned int *lost)
{
	struct ici copy = *ici;
	int own = fd < 0, ret;
	void *buf = NULL;
	size_t len;

	(void)lost; /* the kernel restores everything the ICI holds */
	if (copy.has_cong) {
		if (flags & TCPCP_CREATE_CONG)
			copy.cong.flags |= TCPCP_CONG_F_RESTORE;
		else
			copy.cong.flags &= ~TCPCP_CONG_F_RESTORE;
	}
	ret = ici_encode_alloc(&copy, &buf, &len);
	if (ret)
		return ret;
	if (own) {
		fd = sys_ret(socket(family_of(ici), SOCK_STREAM | SOCK_CLOEXEC,
				    IPPROTO_TCP));
		if (fd < 0) {
			free(buf);
			return fd;
		}
	}
	ret = 0;
	if (flags & TCPCP_CREATE_ANY_PORT)
		ret = bind_any_port(fd, ici);
	if (!ret)
		ret = sys_ret(
			setsockopt(fd, SOL_TCP, TCP_ICI, buf, (socklen_t)len));
	free(buf);
	if (ret < 0) {
		if (own)
			close(fd);
		return ret;
	}
	return fd;
}

static int cp_fn(int s, int fn)
{
	return sys_ret(setsockopt(s, SOL_TCP, TCP_CP_FN, &fn, sizeof(fn)));
}

static int native_activate(int s)
{
	return cp_fn(s, TCPCP_ACTIVATE);
}

static int native_unisolate(int s)
{
	return cp_fn(s, TCPCP_UNISOLATE);
}

static int native_discard(int s)
{
	return cp_fn(s, TCPCP_DISCARD);
}

const struct tcpcp_ops tcpcp_native_ops = {
	.name = "native",
	.max_size = native_max_size,
	.dump = native_dump,
	.create = native_create,
	.activate = native_activate,
	.unisolate = native_unisolate,
	.discard = native_discard,
};
