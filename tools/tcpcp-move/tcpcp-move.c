// SPDX-License-Identifier: GPL-2.0
/*
 * tcpcp-move - list movable TCP connections and move one through tcpcpd.
 *
 *   tcpcp-move [ OPTIONS ] list
 *   tcpcp-move [ OPTIONS ] connection SELECTOR to HOST[:PORT] [ timeout MS ]
 *   SELECTOR := { pid PID fd FD | local ADDR:PORT remote ADDR:PORT }
 *   OPTIONS  := { -j[son] | -p[retty] | -s[ocket] PATH }
 *
 * list uses sock_diag for the connections and /proc/PID/fd for their
 * owners; connection takes the socket with pidfd_getfd() and hands it to
 * the local tcpcpd.  Exit 0 success, 1 failure, 2 usage.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "ctl.h"

/* ESTABLISHED and the half-closed states an ICI can hold */
#define MOVABLE \
	((1 << TCP_ESTABLISHED) | (1 << TCP_CLOSE_WAIT) | (1 << TCP_FIN_WAIT2))

struct conn {
	int family, state;
	char local[64], remote[64];
	unsigned int inode, uid;
	int pid, fd, owners;
	char comm[32];
};

static bool json, pretty;
static const char *sock_path;

static const char *state_name(int s)
{
	switch (s) {
	case TCP_ESTABLISHED:
		return "ESTAB";
	case TCP_CLOSE_WAIT:
		return "CLOSE-WAIT";
	case TCP_FIN_WAIT2:
		return "FIN-WAIT-2";
	}
	return "UNKNOWN";
}

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: tcpcp-move [ OPTIONS ] list\n"
		"       tcpcp-move [ OPTIONS ] connection SELECTOR to HOST[:PORT] [ timeout MS ]\n"
		"where  SELECTOR := { pid PID fd FD | local ADDR:PORT remote ADDR:PORT }\n"
		"       OPTIONS := { -j[son] | -p[retty] | -s[ocket] PATH }\n");
}

static int usage_err(const char *arg, const char *what)
{
	fprintf(stderr, "Error: argument \"%s\" is wrong: %s\n", arg, what);
	return 2;
}

static void fmt_addr(int family, const void *addr, uint16_t port, char *out,
		     size_t len)
{
	char a[INET6_ADDRSTRLEN];

	inet_ntop(family, addr, a, sizeof(a));
	if (family == AF_INET6)
		snprintf(out, len, "[%s]:%u", a, ntohs(port));
	else
		snprintf(out, len, "%s:%u", a, ntohs(port));
}

static int diag_family(int family, struct conn **list, size_t *n)
{
	struct {
		struct nlmsghdr nlh;
		struct inet_diag_req_v2 r;
	} req = {
		.nlh = { .nlmsg_len = sizeof(req),
			 .nlmsg_type = SOCK_DIAG_BY_FAMILY,
			 .nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP },
		.r = { .sdiag_family = (uint8_t)family,
		       .sdiag_protocol = IPPROTO_TCP,
		       .idiag_states = MOVABLE },
	};
	static char buf[65536];
	int s = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC,
		       NETLINK_SOCK_DIAG);
	ssize_t len;

	if (s < 0)
		return -errno;
	if (send(s, &req, sizeof(req), 0) < 0) {
		close(s);
		return -errno;
	}
	for (;;) {
		struct nlmsghdr *h;

		len = recv(s, buf, sizeof(buf), 0);
		if (len < 0) {
			close(s);
			return -errno;
		}
		for (h = (void *)buf; NLMSG_OK(h, (size_t)len);
		     h = NLMSG_NEXT(h, len)) {
			struct inet_diag_msg *d = NLMSG_DATA(h);
			struct conn *c;

			if (h->nlmsg_type == NLMSG_DONE) {
				close(s);
				return 0;
			}
			if (h->nlmsg_type == NLMSG_ERROR) {
				close(s);
				return -EIO;
			}
			c = realloc(*list, (*n + 1) * sizeof(**list));
			if (!c) {
				close(s);
				return -ENOMEM;
			}
			*list = c;
			c = &c[(*n)++];
			memset(c, 0, sizeof(*c));
			c->family = d->idiag_family;
			c->state = d->idiag_state;
			c->inode = d->idiag_inode;
			c->uid = d->idiag_uid;
			c->pid = c->fd = -1;
			fmt_addr(c->family, d->id.idiag_src, d->id.idiag_sport,
				 c->local, sizeof(c->local));
			fmt_addr(c->family, d->id.idiag_dst, d->id.idiag_dport,
				 c->remote, sizeof(c->remote));
		}
	}
}

/* Fill pid/fd/comm from /proc: the first owner found, and how many own it */
static void find_owners(struct conn *list, size_t n)
{
	DIR *proc = opendir("/proc"), *fds;
	struct dirent *p, *f;
	char path[300], link[64];

	if (!proc)
		return;
	while ((p = readdir(proc))) {
		int pid = atoi(p->d_name);

		if (pid <= 0)
			continue;
		snprintf(path, sizeof(path), "/proc/%d/fd", pid);
		fds = opendir(path);
		if (!fds)
			continue;
		while ((f = readdir(fds))) {
			unsigned int ino;
			ssize_t l;

			snprintf(path, sizeof(path), "/proc/%d/fd/%s", pid,
				 f->d_name);
			l = readlink(path, link, sizeof(link) - 1);
			if (l <= 0)
				continue;
			link[l] = '\0';
			if (sscanf(link, "socket:[%u]", &ino) != 1)
				continue;
			for (size_t i = 0; i < n; i++) {
				if (list[i].inode != ino)
					continue;
				if (!list[i].owners++) {
					FILE *c;

					list[i].pid = pid;
					list[i].fd = atoi(f->d_name);
					snprintf(path, sizeof(path),
						 "/proc/%d/comm", pid);
					c = fopen(path, "r");
					if (c) {
						if (fgets(list[i].comm,
							  sizeof(list[i].comm),
							  c))
							list[i].comm[strcspn(
								list[i].comm,
								"\n")] = 0;
						fclose(c);
					}
				}
			}
		}
		closedir(fds);
	}
	closedir(proc);
}

static int list_conns(struct conn **list, size_t *n)
{
	int ret = diag_family(AF_INET, list, n);

	if (!ret)
		ret = diag_family(AF_INET6, list, n);
	if (!ret)
		find_owners(*list, *n);
	return ret;
}

static void json_str(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			printf("\\%c", *s);
		else if ((unsigned char)*s < 0x20)
			printf("\\u%04x", *s);
		else
			putchar(*s);
	}
	putchar('"');
}

static int cmd_list(void)
{
	struct conn *list = NULL;
	size_t n = 0;
	int ret = list_conns(&list, &n);

	if (ret) {
		fprintf(stderr, "Error: sock_diag: %s\n", strerror(-ret));
		return 1;
	}
	if (json)
		printf("[");
	for (size_t i = 0; i < n; i++) {
		struct conn *c = &list[i];

		if (json) {
			printf("%s%s{\"state\":", i ? "," : "",
			       pretty ? "\n  " : "");
			json_str(state_name(c->state));
			printf(",\"local\":");
			json_str(c->local);
			printf(",\"remote\":");
			json_str(c->remote);
			printf(",\"inode\":%u,\"uid\":%u", c->inode, c->uid);
			if (c->pid > 0) {
				printf(",\"pid\":%d,\"fd\":%d,\"owners\":%d,\"comm\":",
				       c->pid, c->fd, c->owners);
				json_str(c->comm);
			}
			printf("}");
		} else {
			printf("%-10s %-45s %-45s", state_name(c->state),
			       c->local, c->remote);
			if (c->pid > 0)
				printf(" pid:%d fd:%d comm:\"%s\"%s", c->pid,
				       c->fd, c->comm,
				       c->owners > 1 ? " shared" : "");
			else
				printf(" owner:none");
			printf(" inode:%u\n", c->inode);
		}
	}
	if (json)
		printf("%s]\n", pretty && n ? "\n" : "");
	free(list);
	return 0;
}

static int parse_int(const char *s, int min, int max, int *out)
{
	char *end;
	long v = strtol(s, &end, 10);

	if (!*s || *end || v < min || v > max)
		return -1;
	*out = (int)v;
	return 0;
}

/* Same spelling as the list prints: ADDR:PORT or [ADDR6]:PORT */
static int by_tuple(const char *local, const char *remote, int *pid, int *fd)
{
	struct conn *list = NULL;
	size_t n = 0;
	int ret = list_conns(&list, &n), found = 0;

	if (ret) {
		fprintf(stderr, "Error: sock_diag: %s\n", strerror(-ret));
		return 1;
	}
	for (size_t i = 0; i < n; i++) {
		if (strcmp(list[i].local, local) ||
		    strcmp(list[i].remote, remote))
			continue;
		found = 1;
		*pid = list[i].pid;
		*fd = list[i].fd;
	}
	free(list);
	if (!found) {
		fprintf(stderr,
			"Error: no movable TCP connection %s -> %s; see \"tcpcp-move list\"\n",
			local, remote);
		return 1;
	}
	if (*pid <= 0) {
		fprintf(stderr,
			"Error: connection %s -> %s has no owner process\n",
			local, remote);
		return 1;
	}
	return 0;
}

static void print_result(const char *dest, int pid, int fd,
			 const struct lmsg_result *r)
{
	static const int phases[] = { PHASE_DUMP,    PHASE_CONNECT,
				      PHASE_PREPARE, PHASE_REDIRECT,
				      PHASE_COMMIT,  PHASE_ACTIVATE };
	char id[33];

	for (int i = 0; i < 16; i++)
		snprintf(id + 2 * i, 3, "%02x", r->id[i]);
	if (json) {
		printf("{\"id\":\"%s\",\"pid\":%d,\"fd\":%d,\"to\":", id, pid,
		       fd);
		json_str(dest);
		printf(",\"result\":\"%s\",\"errno\":%d,\"committed\":%s,\"phase\":\"%s\",\"message\":",
		       r->err ? "failed" : "moved", r->err,
		       r->committed ? "true" : "false",
		       ctl_phase_name(r->phase));
		json_str(r->msg);
		printf(",\"phases_us\":{");
		for (size_t i = 0; i < sizeof(phases) / sizeof(phases[0]); i++)
			printf("%s\"%s\":%u", i ? "," : "",
			       ctl_phase_name((unsigned int)phases[i]),
			       r->t_us[phases[i]]);
		printf("}}\n");
		return;
	}
	printf("move %.8s pid %d fd %d to %s: %s\n", id, pid, fd, dest,
	       r->err ? "FAILED" : "moved");
	for (size_t i = 0; i < sizeof(phases) / sizeof(phases[0]); i++)
		if (r->t_us[phases[i]])
			printf("  %-9s %10.3f ms\n",
			       ctl_phase_name((unsigned int)phases[i]),
			       r->t_us[phases[i]] / 1000.0);
}

static int cmd_move(int pid, int fd, const char *dest, int timeout)
{
	struct lmsg_result r;
	int pfd, s, c, ret, type = 0, proto = 0;
	socklen_t l = sizeof(type);

	pfd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (pfd < 0) {
		fprintf(stderr, "Error: process %d: %s\n", pid,
			strerror(errno));
		return 1;
	}
	s = (int)syscall(SYS_pidfd_getfd, pfd, fd, 0);
	close(pfd);
	if (s < 0) {
		fprintf(stderr, "Error: fd %d of process %d: %s\n", fd, pid,
			strerror(errno));
		return 1;
	}
	if (getsockopt(s, SOL_SOCKET, SO_TYPE, &type, &l) ||
	    type != SOCK_STREAM ||
	    (l = sizeof(proto),
	     getsockopt(s, SOL_SOCKET, SO_PROTOCOL, &proto, &l)) ||
	    proto != IPPROTO_TCP) {
		fprintf(stderr,
			"Error: fd %d of process %d is not a TCP socket\n", fd,
			pid);
		return 1;
	}
	c = ctl_connect(sock_path);
	if (c < 0) {
		fprintf(stderr,
			"Error: cannot reach tcpcpd at %s: %s; is it running?\n",
			sock_path ? sock_path : TCPCPD_SOCKET_DEFAULT,
			strerror(-c));
		return 1;
	}
	ret = ctl_move(c, s, dest, NULL, 0, (uint32_t)timeout, 0, &r);
	close(c);
	close(s);
	if (ret) {
		fprintf(stderr, "Error: tcpcpd: %s\n", strerror(-ret));
		return 1;
	}
	print_result(dest, pid, fd, &r);
	if (r.err) {
		fprintf(stderr, "Error: move failed in %s: %s (%s)%s\n",
			ctl_phase_name(r.phase), strerror(r.err), r.msg,
			r.committed ? "; the connection has left this host" :
				      "; the connection goes on here");
		return 1;
	}
	return 0;
}

static bool is_opt(const char *a, const char *shrt, const char *lng)
{
	return !strcmp(a, shrt) || !strcmp(a, lng) ||
	       (a[0] == '-' && !strcmp(a + 1, lng));
}

int main(int argc, char **argv)
{
	int pid = -1, fd = -1, timeout = 0;
	const char *dest = NULL, *local = NULL, *remote = NULL;
	int i = 1;

	for (; i < argc && argv[i][0] == '-'; i++) {
		if (is_opt(argv[i], "-j", "-json")) {
			json = true;
		} else if (is_opt(argv[i], "-p", "-pretty")) {
			pretty = true;
		} else if (is_opt(argv[i], "-s", "-socket")) {
			if (++i == argc)
				return usage_err(argv[i - 1], "needs a PATH");
			sock_path = argv[i];
		} else if (is_opt(argv[i], "-h", "-help")) {
			usage(stdout);
			return 0;
		} else {
			usage(stderr);
			return usage_err(argv[i], "unknown option");
		}
	}
	if (i == argc) {
		usage(stderr);
		return 2;
	}
	if (!strcmp(argv[i], "list")) {
		if (i + 1 != argc)
			return usage_err(argv[i + 1],
					 "list takes no arguments");
		return cmd_list();
	}
	if (strcmp(argv[i], "connection"))
		return usage_err(argv[i], "expected list or connection");
	for (i++; i < argc; i++) {
		const char *k = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (!v)
			return usage_err(k, "needs a value");
		if (!strcmp(k, "pid")) {
			if (parse_int(v, 1, 1 << 30, &pid))
				return usage_err(v, "PID is a positive number");
		} else if (!strcmp(k, "fd")) {
			if (parse_int(v, 0, 1 << 30, &fd))
				return usage_err(v, "FD is a number");
		} else if (!strcmp(k, "local")) {
			local = v;
		} else if (!strcmp(k, "remote")) {
			remote = v;
		} else if (!strcmp(k, "to")) {
			dest = v;
		} else if (!strcmp(k, "timeout")) {
			if (parse_int(v, 1, 3600000, &timeout))
				return usage_err(v, "timeout is 1..3600000 ms");
		} else {
			return usage_err(
				k,
				"expected pid, fd, local, remote, to or timeout");
		}
		i++;
	}
	if (!dest)
		return usage_err("connection", "\"to HOST[:PORT]\" is missing");
	if ((pid > 0) != (fd >= 0) || (local != NULL) != (remote != NULL) ||
	    (pid > 0) == (local != NULL))
		return usage_err(
			"connection",
			"select by \"pid PID fd FD\" or by \"local ADDR:PORT remote ADDR:PORT\"");
	if (local && by_tuple(local, remote, &pid, &fd))
		return 1;
	return cmd_move(pid, fd, dest, timeout);
}
