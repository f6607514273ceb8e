// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Isolation for the repair backend: the blackhole policy rules (raw
 * rtnetlink), the isolation mark, the ingress socket filters, the registry
 * of saved socket settings and the injection of a peer's FIN.  See
 * isolate.h for why TCP_REPAIR alone is not enough.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <linux/filter.h>
#include <linux/fib_rules.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sockios.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/ip6.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "internal.h"
#include "isolate.h"

#ifndef SO_NETNS_COOKIE
#define SO_NETNS_COOKIE 71
#endif

static pthread_mutex_t iso_lock = PTHREAD_MUTEX_INITIALIZER;

/*
 * Network namespaces (by SO_NETNS_COOKIE, which is never reused) where the
 * rules are known to exist.  Someone deleting the rules behind our back is
 * not detected; a small ring is enough for a process that works in a few
 * namespaces.
 */
#define NS_CACHE 16
static uint64_t ns_done[NS_CACHE];
static unsigned int ns_next;

static int netns_cookie(int s, uint64_t *cookie)
{
	socklen_t len = sizeof(*cookie);

	if (getsockopt(s, SOL_SOCKET, SO_NETNS_COOKIE, cookie, &len) < 0)
		return -errno;
	return 0;
}

static int nl_rule_add(int nl, int family, uint32_t seq)
{
	struct {
		struct nlmsghdr nh;
		struct fib_rule_hdr frh;
		char attrs[3 * RTA_SPACE(sizeof(uint32_t))];
	} req;
	uint32_t vals[3] = { ISOLATE_MARK, 0xffffffffU, ISOLATE_PREF };
	uint16_t types[3] = { FRA_FWMARK, FRA_FWMASK, FRA_PRIORITY };
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
	char buf[512];
	struct nlmsghdr *nh;
	ssize_t n;
	int i;

	memset(&req, 0, sizeof(req));
	req.nh.nlmsg_type = RTM_NEWRULE;
	req.nh.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE |
			     NLM_F_EXCL;
	req.nh.nlmsg_seq = seq;
	req.frh.family = family;
	req.frh.action = FR_ACT_BLACKHOLE;
	req.nh.nlmsg_len = NLMSG_LENGTH(sizeof(req.frh));
	for (i = 0; i < 3; i++) {
		struct rtattr *rta =
			(struct rtattr *)((char *)&req +
					  NLMSG_ALIGN(req.nh.nlmsg_len));

		rta->rta_type = types[i];
		rta->rta_len = RTA_LENGTH(sizeof(uint32_t));
		memcpy(RTA_DATA(rta), &vals[i], sizeof(uint32_t));
		req.nh.nlmsg_len = NLMSG_ALIGN(req.nh.nlmsg_len) + rta->rta_len;
	}
	if (sendto(nl, &req, req.nh.nlmsg_len, 0, (struct sockaddr *)&sa,
		   sizeof(sa)) < 0)
		return -errno;
	for (;;) {
		n = recv(nl, buf, sizeof(buf), 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		for (nh = (struct nlmsghdr *)buf; NLMSG_OK(nh, (size_t)n);
		     nh = NLMSG_NEXT(nh, n)) {
			struct nlmsgerr *e = NLMSG_DATA(nh);

			if (nh->nlmsg_seq != seq ||
			    nh->nlmsg_type != NLMSG_ERROR)
				continue;
			if (e->error == -EEXIST)
				return 0;
			return e->error;
		}
	}
}

/* A NETLINK_ROUTE socket in the network namespace of s */
static int nl_open_for(int s, uint64_t want)
{
	int nl, self = -1, ns = -1, ret;
	uint64_t have;

	nl = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (nl < 0)
		return -errno;
	if (netns_cookie(nl, &have) < 0 || have == want)
		return nl;
	/* s lives in another namespace: open the netlink socket there */
	close(nl);
	ns = ioctl(s, SIOCGSKNS);
	if (ns < 0)
		return -errno;
	self = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	if (self < 0) {
		ret = -errno;
		close(ns);
		return ret;
	}
	if (setns(ns, CLONE_NEWNET) < 0) {
		ret = -errno;
		goto out;
	}
	nl = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	ret = nl < 0 ? -errno : nl;
	if (setns(self, CLONE_NEWNET) < 0) {
		/* cannot happen with the rights that got us here */
		tcpcp_log(TCPCP_LOG_ERR,
			  "isolate: cannot return to our netns: %s",
			  strerror(errno));
	}
out:
	close(self);
	close(ns);
	return ret;
}

int isolate_rules(int s)
{
	static uint32_t seq;
	uint64_t cookie = 0;
	bool have_cookie;
	unsigned int i;
	int nl, ret, r6;

	have_cookie = netns_cookie(s, &cookie) == 0;
	pthread_mutex_lock(&iso_lock);
	if (have_cookie)
		for (i = 0; i < NS_CACHE; i++)
			if (ns_done[i] == cookie) {
				pthread_mutex_unlock(&iso_lock);
				return 0;
			}
	nl = nl_open_for(s, cookie);
	if (nl < 0) {
		ret = nl;
		goto out;
	}
	ret = nl_rule_add(nl, AF_INET, ++seq);
	r6 = nl_rule_add(nl, AF_INET6, ++seq);
	close(nl);
	/* a kernel without IPv6 has no IPv6 sockets to isolate either */
	if (!ret && r6 && r6 != -EAFNOSUPPORT)
		ret = r6;
	if (ret) {
		tcpcp_log(
			TCPCP_LOG_ERR,
			"isolate: cannot add the blackhole rule for mark 0x%x: %s",
			ISOLATE_MARK, strerror(-ret));
		goto out;
	}
	if (have_cookie) {
		ns_done[ns_next] = cookie;
		ns_next = (ns_next + 1) % NS_CACHE;
	}
out:
	pthread_mutex_unlock(&iso_lock);
	return ret;
}

int isolate_egress(int s)
{
	uint32_t mark = ISOLATE_MARK;

	if (setsockopt(s, SOL_SOCKET, SO_MARK, &mark, sizeof(mark)) < 0)
		return -errno;
	return 0;
}

/*
 * A TCP socket filter sees the segment from its TCP header on (the IP
 * header is already pulled).  ISOLATE_FILTER_FIN accepts exactly a segment
 * whose urgent pointer is ISOLATE_FIN_MAGIC while URG is clear, which no
 * ordinary peer sends.
 *
 * The filters are loaded once per process as eBPF socket filters and
 * attached by descriptor (SO_ATTACH_BPF): every socket then shares one
 * program.  A classic filter (SO_ATTACH_FILTER) would be translated,
 * allocated (vmalloc) and JIT-compiled again for every socket, which costs
 * more than the rest of an isolation.  Where bpf() is refused (no
 * CONFIG_BPF_SYSCALL, a seccomp or LSM policy) the classic filter is used.
 */
#define EBPF_INSN(c, d, s, o, i)            \
	((struct bpf_insn){ .code = (c),    \
			    .dst_reg = (d), \
			    .src_reg = (s), \
			    .off = (o),     \
			    .imm = (i) })

static int ebpf_fd[2] = { -1, -1 };
static bool ebpf_refused;

static int ebpf_load(enum isolate_filter f)
{
	const struct bpf_insn drop[] = {
		EBPF_INSN(BPF_ALU | BPF_MOV | BPF_K, BPF_REG_0, 0, 0, 0),
		EBPF_INSN(BPF_JMP | BPF_EXIT, 0, 0, 0, 0),
	};
	const struct bpf_insn fin[] = {
		/* r6 = ctx, for the packet loads */
		EBPF_INSN(BPF_ALU64 | BPF_MOV | BPF_X, BPF_REG_6, BPF_REG_1, 0,
			  0),
		/* r0 = urgent pointer (host order) */
		EBPF_INSN(BPF_LD | BPF_ABS | BPF_H, 0, 0, 0, 18),
		EBPF_INSN(BPF_JMP | BPF_JNE | BPF_K, BPF_REG_0, 0, 4,
			  ISOLATE_FIN_MAGIC),
		/* r0 = flags; URG set: drop */
		EBPF_INSN(BPF_LD | BPF_ABS | BPF_B, 0, 0, 0, 13),
		EBPF_INSN(BPF_JMP | BPF_JSET | BPF_K, BPF_REG_0, 0, 2, 0x20),
		EBPF_INSN(BPF_ALU | BPF_MOV | BPF_K, BPF_REG_0, 0, 0, -1),
		EBPF_INSN(BPF_JMP | BPF_EXIT, 0, 0, 0, 0),
		EBPF_INSN(BPF_ALU | BPF_MOV | BPF_K, BPF_REG_0, 0, 0, 0),
		EBPF_INSN(BPF_JMP | BPF_EXIT, 0, 0, 0, 0),
	};
	union bpf_attr a;
	int fd;

	memset(&a, 0, sizeof(a));
	a.prog_type = BPF_PROG_TYPE_SOCKET_FILTER;
	a.insns = (uintptr_t)(f == ISOLATE_FILTER_FIN ? fin : drop);
	a.insn_cnt = f == ISOLATE_FILTER_FIN ? sizeof(fin) / sizeof(fin[0]) :
					       sizeof(drop) / sizeof(drop[0]);
	a.license = (uintptr_t) "GPL";
	fd = (int)syscall(SYS_bpf, BPF_PROG_LOAD, &a, sizeof(a));
	if (fd < 0)
		return -errno;
	return fd;
}

/* SO_ATTACH_BPF with the shared program; -errno when it cannot be used */
static int ebpf_attach(int s, enum isolate_filter f)
{
	int fd, ret = -EINVAL, tries;

	for (tries = 0; tries < 2; tries++) {
		pthread_mutex_lock(&iso_lock);
		if (ebpf_refused) {
			pthread_mutex_unlock(&iso_lock);
			return -EPERM;
		}
		if (ebpf_fd[f] < 0) {
			ret = ebpf_load(f);
			if (ret < 0) {
				ebpf_refused = true;
				pthread_mutex_unlock(&iso_lock);
				tcpcp_log(
					TCPCP_LOG_DEBUG,
					"isolate: bpf() refused (%s), classic socket filters",
					strerror(-ret));
				return ret;
			}
			ebpf_fd[f] = ret;
		}
		fd = ebpf_fd[f];
		pthread_mutex_unlock(&iso_lock);
		if (!setsockopt(s, SOL_SOCKET, SO_ATTACH_BPF, &fd, sizeof(fd)))
			return 0;
		ret = -errno;
		if (ret != -EBADF && ret != -EINVAL)
			return ret;
		/* the application closed our descriptor: load it again */
		pthread_mutex_lock(&iso_lock);
		if (ebpf_fd[f] == fd)
			ebpf_fd[f] = -1;
		pthread_mutex_unlock(&iso_lock);
	}
	return ret;
}

int isolate_ingress(int s, enum isolate_filter f)
{
	struct sock_filter drop[] = {
		BPF_STMT(BPF_RET | BPF_K, 0),
	};
	struct sock_filter fin[] = {
		BPF_STMT(BPF_LD | BPF_H | BPF_ABS, 18),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, ISOLATE_FIN_MAGIC, 0, 3),
		BPF_STMT(BPF_LD | BPF_B | BPF_ABS, 13),
		BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, 0x20, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, 0xffffffffU),
		BPF_STMT(BPF_RET | BPF_K, 0),
	};
	struct sock_fprog prog;

	if (!ebpf_attach(s, f))
		return 0;
	if (f == ISOLATE_FILTER_FIN) {
		prog.len = sizeof(fin) / sizeof(fin[0]);
		prog.filter = fin;
	} else {
		prog.len = sizeof(drop) / sizeof(drop[0]);
		prog.filter = drop;
	}
	if (setsockopt(s, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof(prog)) <
	    0)
		return -errno;
	return 0;
}

int isolate_release(int s, uint32_t mark)
{
	int dummy = 0, ret = 0;

	if (setsockopt(s, SOL_SOCKET, SO_DETACH_FILTER, &dummy, sizeof(dummy)) <
		    0 &&
	    errno != ENOENT)
		ret = -errno;
	if (setsockopt(s, SOL_SOCKET, SO_MARK, &mark, sizeof(mark)) < 0 && !ret)
		ret = -errno;
	return ret;
}

/* The registry */

struct reg_ent {
	uint64_t cookie;
	struct isolate_saved sv;
	struct reg_ent *next;
};
/*
 * By socket cookie, hashed: a busy daemon keeps thousands of sockets
 * isolated (a second of committed endpoints lingering)
 */
#define REG_HASH 1024
static struct reg_ent *registry[REG_HASH];
static unsigned long reg_count;

static struct reg_ent **reg_head(uint64_t cookie)
{
	return &registry[(cookie ^ (cookie >> 20)) % REG_HASH];
}

int isolate_cookie(int s, uint64_t *cookie)
{
	socklen_t len = sizeof(*cookie);

	if (getsockopt(s, SOL_SOCKET, SO_COOKIE, cookie, &len) < 0)
		return -errno;
	return 0;
}

int isolate_save(uint64_t cookie, const struct isolate_saved *sv)
{
	struct reg_ent *e;

	pthread_mutex_lock(&iso_lock);
	for (e = *reg_head(cookie); e; e = e->next)
		if (e->cookie == cookie)
			break;
	if (!e) {
		e = calloc(1, sizeof(*e));
		if (!e) {
			pthread_mutex_unlock(&iso_lock);
			return -ENOMEM;
		}
		e->cookie = cookie;
		e->next = *reg_head(cookie);
		*reg_head(cookie) = e;
		reg_count++;
	}
	e->sv = *sv;
	pthread_mutex_unlock(&iso_lock);
	return 0;
}

int isolate_take(uint64_t cookie, struct isolate_saved *sv)
{
	struct reg_ent **pp, *e;

	pthread_mutex_lock(&iso_lock);
	for (pp = reg_head(cookie); (e = *pp); pp = &e->next)
		if (e->cookie == cookie) {
			*pp = e->next;
			reg_count--;
			break;
		}
	pthread_mutex_unlock(&iso_lock);
	if (!e) {
		memset(sv, 0, sizeof(*sv));
		return -ENOENT;
	}
	*sv = e->sv;
	free(e);
	return 0;
}

bool isolate_registry_empty(void)
{
	bool empty;

	pthread_mutex_lock(&iso_lock);
	empty = !reg_count;
	pthread_mutex_unlock(&iso_lock);
	return empty;
}

/* FIN injection */

static uint32_t csum_add(uint32_t sum, const void *data, size_t len)
{
	const uint8_t *p = data;

	while (len > 1) {
		sum += (uint32_t)p[0] << 8 | p[1];
		p += 2;
		len -= 2;
	}
	if (len)
		sum += (uint32_t)p[0] << 8;
	return sum;
}

static uint16_t csum_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return htons((uint16_t)~sum);
}

int isolate_inject_fin(int family, const uint8_t *src, uint16_t sport,
		       const uint8_t *dst, uint16_t dport, uint32_t seq,
		       uint32_t ack, uint16_t win)
{
	uint8_t pkt[sizeof(struct ip6_hdr) + sizeof(struct tcphdr)];
	struct sockaddr_storage ss;
	struct tcphdr *th;
	uint8_t pseudo[40];
	size_t alen = family == AF_INET ? 4 : 16, hlen, plen;
	socklen_t sl;
	uint32_t sum;
	int fd, ret = 0;

	memset(pkt, 0, sizeof(pkt));
	memset(&ss, 0, sizeof(ss));
	memset(pseudo, 0, sizeof(pseudo));
	if (family == AF_INET) {
		struct ip *ip = (struct ip *)pkt;
		struct sockaddr_in *sin = (struct sockaddr_in *)&ss;

		hlen = sizeof(*ip);
		ip->ip_v = 4;
		ip->ip_hl = 5;
		ip->ip_ttl = 64;
		ip->ip_p = IPPROTO_TCP;
		ip->ip_len = htons(hlen + sizeof(*th));
		memcpy(&ip->ip_src, src, 4);
		memcpy(&ip->ip_dst, dst, 4);
		sin->sin_family = AF_INET;
		memcpy(&sin->sin_addr, dst, 4);
		sl = sizeof(*sin);
	} else {
		struct ip6_hdr *ip6 = (struct ip6_hdr *)pkt;
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;

		hlen = sizeof(*ip6);
		ip6->ip6_flow = htonl(6U << 28);
		ip6->ip6_plen = htons(sizeof(*th));
		ip6->ip6_nxt = IPPROTO_TCP;
		ip6->ip6_hlim = 64;
		memcpy(&ip6->ip6_src, src, 16);
		memcpy(&ip6->ip6_dst, dst, 16);
		sin6->sin6_family = AF_INET6;
		memcpy(&sin6->sin6_addr, dst, 16);
		sl = sizeof(*sin6);
	}
	th = (struct tcphdr *)(pkt + hlen);
	th->th_sport = sport;
	th->th_dport = dport;
	th->th_seq = htonl(seq);
	th->th_ack = htonl(ack);
	th->th_off = 5;
	th->th_flags = TH_FIN | TH_ACK;
	th->th_win = htons(win);
	th->th_urp = htons(ISOLATE_FIN_MAGIC);

	/* pseudo header: addresses, then length and protocol */
	memcpy(pseudo, src, alen);
	memcpy(pseudo + alen, dst, alen);
	plen = 2 * alen;
	if (family == AF_INET) {
		pseudo[plen + 1] = IPPROTO_TCP;
		pseudo[plen + 3] = sizeof(*th);
		plen += 4;
	} else {
		pseudo[plen + 3] = sizeof(*th);
		pseudo[plen + 7] = IPPROTO_TCP;
		plen += 8;
	}
	sum = csum_add(0, pseudo, plen);
	sum = csum_add(sum, th, sizeof(*th));
	th->th_sum = csum_fold(sum);

	fd = socket(family, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_RAW);
	if (fd < 0)
		return -errno;
	if (sendto(fd, pkt, hlen + sizeof(*th), 0, (struct sockaddr *)&ss, sl) <
	    0)
		ret = -errno;
	close(fd);
	return ret;
}
