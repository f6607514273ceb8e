// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The public API: backend choice, the original tcpcp calls and the extended
 * -errno calls.  Everything that touches a socket goes through the backend
 * in force; everything that only reads or rewrites an ICI is here.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stddef.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

static pthread_mutex_t backend_lock = PTHREAD_MUTEX_INITIALIZER;
static const struct tcpcp_ops *backend_ops;

TCPCP_EXPORT int tcpcp_native_available(void)
{
	int s, v = 0, ret;
	socklen_t l = sizeof(v);

	s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, IPPROTO_TCP);
	if (s < 0)
		return -errno;
	ret = getsockopt(s, SOL_TCP, TCP_MAXICISIZE, &v, &l);
	/* A kernel without tcpcp does not know the option at all */
	ret = (ret == 0 || errno != ENOPROTOOPT) ? 1 : 0;
	close(s);
	return ret;
}

static const struct tcpcp_ops *ops_of(int backend)
{
	switch (backend) {
	case TCPCP_BACKEND_NATIVE:
		return &tcpcp_native_ops;
	case TCPCP_BACKEND_REPAIR:
		return &tcpcp_repair_ops;
	}
	return NULL;
}

static int resolve(int backend)
{
	if (backend == TCPCP_BACKEND_AUTO)
		backend = tcpcp_native_available() == 1 ? TCPCP_BACKEND_NATIVE :
							  TCPCP_BACKEND_REPAIR;
	if (!ops_of(backend))
		return -EINVAL;
	if (backend == TCPCP_BACKEND_NATIVE && tcpcp_native_available() != 1)
		return -EOPNOTSUPP;
	return backend;
}

TCPCP_EXPORT int tcpcp_set_backend(int backend)
{
	int b = resolve(backend);

	if (b < 0)
		return b;
	pthread_mutex_lock(&backend_lock);
	backend_ops = ops_of(b);
	pthread_mutex_unlock(&backend_lock);
	tcpcp_log(TCPCP_LOG_DEBUG, "backend: %s", backend_ops->name);
	return 0;
}

static int backend_from_env(void)
{
	const char *e = getenv("TCPCP_BACKEND");

	if (!e || !*e || !strcmp(e, "auto"))
		return TCPCP_BACKEND_AUTO;
	if (!strcmp(e, "native"))
		return TCPCP_BACKEND_NATIVE;
	if (!strcmp(e, "repair"))
		return TCPCP_BACKEND_REPAIR;
	tcpcp_log(TCPCP_LOG_WARN,
		  "TCPCP_BACKEND=%s is not native, repair or auto; using auto",
		  e);
	return TCPCP_BACKEND_AUTO;
}

const struct tcpcp_ops *tcpcp_ops(void)
{
	const struct tcpcp_ops *ops;
	int b;

	pthread_mutex_lock(&backend_lock);
	if (!backend_ops) {
		b = resolve(backend_from_env());
		if (b < 0) {
			tcpcp_log(
				TCPCP_LOG_WARN,
				"TCPCP_BACKEND: backend not available (%s); using repair",
				strerror(-b));
			b = TCPCP_BACKEND_REPAIR;
		}
		backend_ops = ops_of(b);
	}
	ops = backend_ops;
	pthread_mutex_unlock(&backend_lock);
	return ops;
}

TCPCP_EXPORT int tcpcp_backend(void)
{
	const struct tcpcp_ops *ops = tcpcp_ops();

	if (ops == &tcpcp_native_ops)
		return TCPCP_BACKEND_NATIVE;
	return TCPCP_BACKEND_REPAIR;
}

TCPCP_EXPORT const char *tcpcp_backend_name(int backend)
{
	switch (backend) {
	case TCPCP_BACKEND_AUTO:
		return "auto";
	case TCPCP_BACKEND_NATIVE:
		return "native";
	case TCPCP_BACKEND_REPAIR:
		return "repair";
	}
	return NULL;
}

/* Extended API: >= 0 or -errno */

TCPCP_EXPORT int tcpcp_max_size(int s)
{
	return tcpcp_ops()->max_size(s);
}

TCPCP_EXPORT int tcpcp_dump(int s, unsigned int flags, void **ici, size_t *len)
{
	if (!ici || !len || (flags & ~TCPCP_DUMP_CONG))
		return -EINVAL;
	return tcpcp_ops()->dump(s, flags, ici, len);
}

TCPCP_EXPORT int tcpcp_create_ex(const void *buf, size_t len, int fd,
				 unsigned int flags, unsigned int *lost)
{
	unsigned int dummy = 0;
	struct ici ici;
	char why[160];
	int ret;

	if (flags &
	    ~(TCPCP_CREATE_ANY_PORT | TCPCP_CREATE_CONG | TCPCP_CREATE_STRICT))
		return -EINVAL;
	ret = ici_decode(buf, len, &ici, why, sizeof(why));
	if (ret) {
		tcpcp_log(TCPCP_LOG_ERR, "create: bad ICI: %s", why);
		return ret;
	}
	if (!lost)
		lost = &dummy;
	*lost = 0;
	return tcpcp_ops()->create(&ici, fd, flags, lost);
}

TCPCP_EXPORT int tcpcp_activate_ex(int s)
{
	return tcpcp_ops()->activate(s);
}

TCPCP_EXPORT int tcpcp_unisolate(int s)
{
	return tcpcp_ops()->unisolate(s);
}

TCPCP_EXPORT int tcpcp_discard(int s)
{
	return tcpcp_ops()->discard(s);
}

/* The original tcpcp API: NULL or -1 and errno */

TCPCP_EXPORT void *tcpcp_get(int s)
{
	void *ici = NULL;
	size_t len;
	int ret = tcpcp_dump(s, 0, &ici, &len);

	if (ret < 0) {
		errno = -ret;
		return NULL;
	}
	return ici;
}

TCPCP_EXPORT int tcpcp_size(const void *ici)
{
	const struct tcpcp_ici_hdr *h = ici;
	uint32_t len;

	if (!ici || ntohl(h->magic) != TCPCP_ICI_MAGIC) {
		errno = EINVAL;
		return -1;
	}
	len = ntohl(h->len);
	if (len < sizeof(*h) || len > TCPCP_ICI_MAX_LEN) {
		errno = EINVAL;
		return -1;
	}
	return (int)len;
}

TCPCP_EXPORT int tcpcp_create(const void *ici)
{
	int len = tcpcp_size(ici);

	if (len < 0)
		return -1;
	return tcpcp_ret_errno(tcpcp_create_ex(ici, (size_t)len, -1, 0, NULL));
}

TCPCP_EXPORT int tcpcp_activate(int s)
{
	return tcpcp_ret_errno(tcpcp_activate_ex(s));
}

/* ICI inspection and rewriting */

TCPCP_EXPORT int tcpcp_ici_check(const void *buf, size_t len, char *why,
				 size_t whylen)
{
	struct ici ici;

	return ici_decode(buf, len, &ici, why, whylen);
}

static void fill_sa(struct sockaddr_storage *ss, int family,
		    const uint8_t *addr, uint16_t port)
{
	memset(ss, 0, sizeof(*ss));
	if (family == TCPCP_FAMILY_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)ss;

		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		memcpy(&sin->sin_addr, addr, 4);
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
		memcpy(&sin6->sin6_addr, addr, 16);
	}
}

TCPCP_EXPORT int tcpcp_ici_info(const void *buf, size_t len,
				struct tcpcp_info *info)
{
	struct ici ici;
	int ret;

	if (!info)
		return -EINVAL;
	ret = ici_decode(buf, len, &ici, NULL, 0);
	if (ret)
		return ret;
	memset(info, 0, sizeof(*info));
	info->family = ici.family == TCPCP_FAMILY_INET ? AF_INET : AF_INET6;
	info->state = ici.state;
	fill_sa(&info->local, ici.family, ici.laddr, ici.lport);
	fill_sa(&info->remote, ici.family, ici.raddr, ici.rport);
	info->snd_una = ici.snd_una;
	info->snd_nxt = ici.snd_nxt;
	info->write_seq = ici.write_seq;
	info->rcv_nxt = ici.rcv_nxt;
	info->copied_seq = ici.copied_seq;
	info->sndq_len = ici.sndq_len;
	info->rcvq_len = ici.rcvq_len;
	info->ofo_segs = ici.ofo_segs;
	info->ofo_len = ici.ofo_bytes;
	info->mss = ici.mss;
	info->options = ici.opts;
	info->major = ici.major;
	info->minor = ici.minor;
	info->len = len;
	return 0;
}

/* CONN is always the first element: its payload starts after two headers */
#define CONN_OFF (sizeof(struct tcpcp_ici_hdr) + sizeof(struct tcpcp_ici_elem))

TCPCP_EXPORT int tcpcp_ici_set_local(void *buf, size_t len,
				     const struct sockaddr *sa, socklen_t salen)
{
	struct ici ici;
	uint16_t port;
	uint8_t *p;
	int ret;

	ret = ici_decode(buf, len, &ici, NULL, 0);
	if (ret)
		return ret;
	if (!sa)
		return -EINVAL;
	if (sa->sa_family == AF_INET && salen >= sizeof(struct sockaddr_in) &&
	    ici.family == TCPCP_FAMILY_INET) {
		const struct sockaddr_in *sin = (const void *)sa;

		memset(ici.laddr, 0, sizeof(ici.laddr));
		memcpy(ici.laddr, &sin->sin_addr, 4);
		port = ntohs(sin->sin_port);
	} else if (sa->sa_family == AF_INET6 &&
		   salen >= sizeof(struct sockaddr_in6) &&
		   ici.family == TCPCP_FAMILY_INET6) {
		const struct sockaddr_in6 *sin6 = (const void *)sa;

		memcpy(ici.laddr, &sin6->sin6_addr, 16);
		port = ntohs(sin6->sin6_port);
	} else {
		return -EINVAL;
	}
	if (port)
		ici.lport = port;
	ret = ici_validate(&ici, NULL, 0);
	if (ret)
		return ret;
	/* the caller's buffer need not be aligned: write bytes */
	p = (uint8_t *)buf + CONN_OFF;
	memcpy(p + offsetof(struct tcpcp_el_conn, laddr), ici.laddr,
	       sizeof(ici.laddr));
	p[offsetof(struct tcpcp_el_conn, lport)] = ici.lport >> 8;
	p[offsetof(struct tcpcp_el_conn, lport) + 1] = ici.lport & 0xff;
	return 0;
}
