// SPDX-License-Identifier: GPL-2.0
/*
 * mover: move the server end of a live bidirectional stream between lab
 * hosts a and b (mover.h).  Host a is the calling process, host b a forked
 * child; they pass the connection (ICI and application state) over a
 * socketpair:
 *
 *   holder X                          taker Y
 *   tcpcp_dump (isolated)   -- ICI -->  tcpcp_create_ex (isolated)
 *                           <- CREATED
 *   route S via Y, tcpcp_discard, close
 *                           --- GO --->  tcpcp_activate
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mover.h"
#include "tcpcp.h"

enum { M_ICI = 1, M_CREATED, M_GO, M_DONE, M_FAIL };

struct stats {
	uint32_t max_unacked, max_unsent, max_unread, max_ici, states;
	double max_freeze_ms, t_freeze;
};

/* What travels with the connection */
struct cstate {
	struct app app;
	struct stats st;
};

struct msg {
	uint32_t type, len; /* len: ICI bytes that follow */
	struct cstate cs;
	uint16_t port, pad;
	char text[300];
};

struct side {
	struct lab *l;
	const struct mv_scen *sc;
	int leaked;
	int ch;
	char me, other;
	char err[300];
};

static double t_start;

static void say(struct side *s, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void say(struct side *s, const char *fmt, ...)
{
	va_list ap;

	if (!s->sc->verbose)
		return;
	printf("  [%7.3f s] %c: ", now_s() - t_start, s->me);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
}

static int fail(struct side *s, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static int fail(struct side *s, const char *fmt, ...)
{
	struct msg m = { .type = M_FAIL };
	va_list ap;
	int n;

	n = snprintf(s->err, sizeof(s->err), "%c: ", s->me);
	va_start(ap, fmt);
	vsnprintf(s->err + n, sizeof(s->err) - n, fmt, ap);
	va_end(ap);
	snprintf(m.text, sizeof(m.text), "%s", s->err);
	if (write(s->ch, &m, sizeof(m)) < 0) {
		/* the other side is gone already */
	}
	return -1;
}

static int xfer(int fd, void *buf, size_t len, bool rd, double timeout)
{
	struct pollfd pfd = { .fd = fd, .events = rd ? POLLIN : POLLOUT };
	uint8_t *p = buf;
	ssize_t n;

	while (len) {
		if (poll(&pfd, 1, (int)(timeout * 1000)) <= 0)
			return -ETIMEDOUT;
		n = rd ? read(fd, p, len) : write(fd, p, len);
		if (n == 0)
			return -EPIPE;
		if (n < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			return -errno;
		}
		p += n;
		len -= n;
	}
	return 0;
}

static int send_msg(struct side *s, struct msg *m, const void *ici)
{
	int ret = xfer(s->ch, m, sizeof(*m), false, s->sc->timeout);

	if (!ret && m->len)
		ret = xfer(s->ch, (void *)ici, m->len, false, s->sc->timeout);
	return ret;
}

/* Receive a message; M_FAIL becomes an error with the other side's text */
static int recv_msg(struct side *s, struct msg *m, uint8_t **ici)
{
	int ret = xfer(s->ch, m, sizeof(*m), true, s->sc->timeout);

	if (ret) {
		snprintf(s->err, sizeof(s->err), "%c: channel: %s", s->me,
			 strerror(-ret));
		return -1;
	}
	if (m->type == M_FAIL) {
		m->text[sizeof(m->text) - 1] = 0;
		snprintf(s->err, sizeof(s->err), "%s", m->text);
		return -1;
	}
	if (!m->len)
		return 0;
	*ici = malloc(m->len);
	if (!*ici || xfer(s->ch, *ici, m->len, true, s->sc->timeout)) {
		snprintf(s->err, sizeof(s->err), "%c: channel: short ICI",
			 s->me);
		return -1;
	}
	return 0;
}

static int nat(struct side *s, uint16_t port)
{
	const char *ip = s->sc->family == AF_INET6 ? "ip6" : "ip";
	const char *addr = s->sc->family == AF_INET6 ? LAB_S6 : LAB_S4;

	/* stateless port rewriting for traffic through b0 only */
	return lab_sh(
		"ip netns exec %s-gw nft -f - <<'EOF'\n"
		"table inet tcpcpnat {\n"
		" chain c {\n"
		"  type filter hook forward priority -150; policy accept;\n"
		"  oifname \"b0\" %s daddr %s tcp dport %d tcp dport set %u\n"
		"  iifname \"b0\" %s saddr %s tcp sport %u tcp sport set %d\n"
		" }\n"
		"}\n"
		"EOF\n",
		s->l->name, ip, addr, LAB_PORT, port, ip, addr, port, LAB_PORT);
}

/* gw drops (or stops dropping) what the server sends to the peer */
static int drop(struct side *s, bool on)
{
	const char *ip = s->sc->family == AF_INET6 ? "ip6" : "ip";
	const char *addr = s->sc->family == AF_INET6 ? LAB_S6 : LAB_S4;

	if (!on)
		return lab_sh(
			"ip netns exec %s-gw nft delete table inet tcpcpdrop",
			s->l->name);
	return lab_sh(
		"ip netns exec %s-gw nft -f - <<'EOF'\n"
		"table inet tcpcpdrop {\n"
		" chain c {\n"
		"  type filter hook forward priority -160; policy accept;\n"
		"  %s saddr %s tcp sport %d drop\n"
		" }\n"
		"}\n"
		"EOF\n",
		s->l->name, ip, addr, LAB_PORT);
}

/* Bring the stream to move number app->moves; the socket holds data */
static int checkpoint(struct side *s, int fd, struct app *a)
{
	const struct mv_scen *sc = s->sc;
	uint64_t k = a->moves, n = sc->moves;
	char msg[200];
	int ret = 0;

	msg[0] = 0;
	if (sc->end == MV_END_ORDERLY) {
		ret = app_pump(fd, a, a->tx_total * (k + 1) / (n + 2),
			       a->rx_total * (k + 1) / (n + 2), 0, sc->timeout,
			       msg, sizeof(msg));
	} else if (sc->end == MV_END_CLOSE_WAIT && k == 0) {
		/* leave 40000 bytes and the peer's FIN unread */
		ret = app_pump(fd, a, a->tx_total / 3, a->rx_total - 40000, 0,
			       sc->timeout, msg, sizeof(msg));
		if (!ret)
			ret = app_pump(fd, a, a->tx, a->rx, TCP_CLOSE_WAIT,
				       sc->timeout, msg, sizeof(msg));
	} else if (sc->end == MV_END_FIN_WAIT2 && k == 0) {
		/* everything sent and our FIN acknowledged, peer still sends */
		ret = app_pump(fd, a, a->tx_total, a->rx_total / 4, 0,
			       sc->timeout, msg, sizeof(msg));
		if (!ret && shutdown(fd, SHUT_WR))
			return fail(s, "shutdown: %s", strerror(errno));
		if (!ret)
			ret = app_pump(fd, a, a->tx, a->rx, TCP_FIN_WAIT2,
				       sc->timeout, msg, sizeof(msg));
	}
	if (ret)
		return fail(s, "stream before move %u: %s", a->moves,
			    ret > 0 ? "early EOF" : msg);
	if (sc->lossy && k == 0) {
		int big = 4 << 20;
		unsigned int rate = 20 << 20;

		/* room for more than the network takes at once: pacing
		 * leaves most of the burst unsent
		 */
		setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &big, sizeof(big));
		setsockopt(fd, SOL_SOCKET, SO_MAX_PACING_RATE, &rate,
			   sizeof(rate));
		if (drop(s, true))
			return fail(s, "nft drop rule on gw failed");
	}
	/* let unread data pile up, then leave unsent data in the queue */
	usleep(sc->lossy && k == 0 ? 20000 : 3000);
	app_burst(fd, a, sc->lossy && k == 0 ? 2000000 : 256 * 1024);
	return 0;
}

static void account(struct stats *st, const struct tcpcp_info *in, size_t len)
{
	uint32_t fin = in->state == 4 || in->state == 5 || in->state == 9 ||
		       in->state == 11;
	uint32_t unacked = in->snd_nxt - in->snd_una;
	uint32_t unsent = in->write_seq - in->snd_nxt;

	if (fin && unacked)
		unacked--;
	if (fin && !unacked && unsent)
		unsent--;
	if (unacked > st->max_unacked)
		st->max_unacked = unacked;
	if (unsent > st->max_unsent)
		st->max_unsent = unsent;
	if (in->rcvq_len > st->max_unread)
		st->max_unread = in->rcvq_len;
	if (len > st->max_ici)
		st->max_ici = len;
	st->states |= 1U << in->state;
}

/*
 * The isolated endpoint must not transmit anything, although its timers
 * run (retransmission, loss probe, window probe): capture a's side of the
 * wire for a while and count what the service address sent.
 */
static int watch_silence(struct side *s)
{
	char file[300], cmd[700], line[64] = "";
	pid_t pid;
	FILE *f;

	snprintf(file, sizeof(file), "/tmp/%s-a.pcap", s->l->name);
	pid = lab_tcpdump(s->l, "a", file);
	if (pid < 0)
		return fail(s, "tcpdump on a did not start");
	usleep(s->sc->silence_ms * 1000);
	lab_tcpdump_stop(pid);
	snprintf(cmd, sizeof(cmd),
		 "tcpdump -r %s -n 'src host %s' 2>/dev/null | wc -l", file,
		 s->sc->family == AF_INET6 ? LAB_S6 : LAB_S4);
	f = popen(cmd, "r");
	if (!f || !fgets(line, sizeof(line), f)) {
		if (f)
			pclose(f);
		return fail(s, "cannot read the capture on a");
	}
	pclose(f);
	s->leaked = atoi(line);
	say(s, "isolated for %d ms: %d packets left a", s->sc->silence_ms,
	    s->leaked);
	unlink(file);
	snprintf(file + strlen(file), sizeof(file) - strlen(file), ".log");
	unlink(file);
	return 0;
}

/* Returns the fd when the connection stays here (roll back), else -1 */
static int hand_over(struct side *s, int fd, struct cstate *cs, int *err)
{
	struct msg m = { .type = M_ICI };
	struct tcpcp_info in;
	void *ici = NULL;
	size_t len = 0;
	int ret;

	*err = 0;
	ret = checkpoint(s, fd, &cs->app);
	if (ret)
		goto out_err;
	cs->st.t_freeze = now_s();
	ret = tcpcp_dump(fd, 0, &ici, &len);
	if (ret < 0) {
		fail(s, "tcpcp_dump: %s", strerror(-ret));
		goto out_err;
	}
	ret = tcpcp_ici_info(ici, len, &in);
	if (ret < 0) {
		fail(s, "tcpcp_ici_info: %s", strerror(-ret));
		goto out_err;
	}
	account(&cs->st, &in, len);
	say(s,
	    "tcpcp_get: frozen in state %d, ICI %zu bytes: %u+%u bytes to "
	    "send (unacked+unsent), %u unread",
	    in.state, len, in.snd_nxt - in.snd_una, in.write_seq - in.snd_nxt,
	    in.rcvq_len);
	cs->app.moves++;
	if (s->sc->rollback && s->sc->silence_ms) {
		ret = watch_silence(s);
		if (ret) {
			free(ici);
			goto out_err;
		}
	}
	if (s->sc->lossy && s->sc->rollback && drop(s, false)) {
		free(ici);
		fail(s, "nft: cannot remove the drop rule");
		goto out_err;
	}
	if (s->sc->rollback) {
		ret = tcpcp_unisolate(fd);
		free(ici);
		if (ret < 0) {
			fail(s, "tcpcp_unisolate: %s", strerror(-ret));
			goto out_err;
		}
		say(s,
		    "tcpcp_unisolate: rolled back, the connection goes on here");
		return fd;
	}
	m.len = len;
	m.cs = *cs;
	ret = send_msg(s, &m, ici);
	free(ici);
	if (ret) {
		fail(s, "channel: %s", strerror(-ret));
		goto out_err;
	}
	if (recv_msg(s, &m, NULL) || m.type != M_CREATED) {
		if (!s->err[0])
			fail(s, "expected CREATED, got message %u", m.type);
		goto out_err;
	}
	if (m.port && m.port != LAB_PORT && nat(s, m.port)) {
		fail(s, "nft port rewriting on gw failed");
		goto out_err;
	}
	if (s->sc->lossy && cs->app.moves == 1 && drop(s, false)) {
		fail(s, "nft: cannot remove the drop rule");
		goto out_err;
	}
	if (lab_route(s->l, s->other)) {
		fail(s, "lab.sh route %c failed", s->other);
		goto out_err;
	}
	say(s, "network: gw now routes the service address via %c", s->other);
	ret = tcpcp_discard(fd);
	close(fd);
	if (ret < 0) {
		fail(s, "tcpcp_discard: %s", strerror(-ret));
		*err = -1;
		return -1;
	}
	say(s, "tcpcp_discard + close: old endpoint dropped silently");
	m = (struct msg){ .type = M_GO };
	if (send_msg(s, &m, NULL))
		*err = fail(s, "channel: GO");
	return -1;
out_err:
	*err = -1;
	close(fd);
	return -1;
}

static int take_over(struct side *s, struct msg *m, uint8_t *ici,
		     struct cstate *cs)
{
	bool first = m->cs.app.moves == 1;
	struct msg r = { .type = M_CREATED };
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	unsigned int lost = 0;
	int fd = -1, ret;

	*cs = m->cs;
	if (first && s->sc->port == MV_PORT_BOUND) {
		struct tcpcp_info in;

		/* a socket bound by the application, the ICI rewritten to it */
		fd = socket(s->sc->family, SOCK_STREAM, 0);
		tcpcp_ici_info(ici, m->len, &in);
		if (in.local.ss_family == AF_INET)
			((struct sockaddr_in *)&in.local)->sin_port =
				htons(MV_ALT_PORT);
		else
			((struct sockaddr_in6 *)&in.local)->sin6_port =
				htons(MV_ALT_PORT);
		sl = in.local.ss_family == AF_INET ?
			     sizeof(struct sockaddr_in) :
			     sizeof(struct sockaddr_in6);
		if (fd < 0 || bind(fd, (struct sockaddr *)&in.local, sl))
			return fail(s, "bind port %d: %s", MV_ALT_PORT,
				    strerror(errno));
		ret = tcpcp_ici_set_local(ici, m->len,
					  (struct sockaddr *)&in.local, sl);
		if (ret < 0)
			return fail(s, "tcpcp_ici_set_local: %s",
				    strerror(-ret));
		ret = tcpcp_create_ex(ici, m->len, fd, 0, &lost);
	} else {
		ret = tcpcp_create_ex(ici, m->len, -1,
				      first && s->sc->port == MV_PORT_ANY ?
					      TCPCP_CREATE_ANY_PORT :
					      0,
				      &lost);
	}
	free(ici);
	if (ret < 0)
		return fail(s, "tcpcp_create: %s", strerror(-ret));
	fd = ret;
	sl = sizeof(ss);
	getsockname(fd, (struct sockaddr *)&ss, &sl);
	r.port = ntohs(ss.ss_family == AF_INET ?
			       ((struct sockaddr_in *)&ss)->sin_port :
			       ((struct sockaddr_in6 *)&ss)->sin6_port);
	say(s,
	    "tcpcp_create: endpoint rebuilt on port %u, isolated (lost 0x%x)",
	    r.port, lost);
	if (send_msg(s, &r, NULL))
		return fail(s, "channel: CREATED");
	if (recv_msg(s, &r, NULL) || r.type != M_GO) {
		close(fd);
		return -1;
	}
	ret = tcpcp_activate_ex(fd);
	if (ret < 0) {
		close(fd);
		return fail(s, "tcpcp_activate: %s", strerror(-ret));
	}
	{
		double ms = (now_s() - cs->st.t_freeze) * 1000;

		if (ms > cs->st.max_freeze_ms)
			cs->st.max_freeze_ms = ms;
		say(s, "tcpcp_activate: live again, %.1f ms after the freeze",
		    ms);
	}
	return fd;
}

/* Hold or wait for the connection until the stream is done */
static int side_loop(struct side *s, int fd, struct cstate *cs)
{
	struct msg m;
	uint8_t *ici;
	char msg[200];
	int err;

	for (;;) {
		if (fd < 0) {
			ici = NULL;
			if (recv_msg(s, &m, &ici)) {
				free(ici);
				return -1;
			}
			if (m.type == M_DONE) {
				*cs = m.cs;
				return 0;
			}
			if (m.type != M_ICI)
				return fail(s, "unexpected message %u", m.type);
			fd = take_over(s, &m, ici, cs);
			if (fd < 0)
				return -1;
			continue;
		}
		if ((int)cs->app.moves < s->sc->moves) {
			fd = hand_over(s, fd, cs, &err);
			if (err)
				return -1;
			continue;
		}
		msg[0] = 0;
		if (app_finish(fd, &cs->app, s->sc->timeout, msg,
			       sizeof(msg))) {
			close(fd);
			return fail(s, "stream end: %s", msg);
		}
		say(s,
		    "stream complete: %llu bytes sent, %llu received, all verified",
		    (unsigned long long)cs->app.tx,
		    (unsigned long long)cs->app.rx);
		m = (struct msg){ .type = M_DONE, .cs = *cs };
		send_msg(s, &m, NULL);
		return 0;
	}
}

static int accept_one(int lfd, double timeout)
{
	struct pollfd pfd = { .fd = lfd, .events = POLLIN };

	if (poll(&pfd, 1, (int)(timeout * 1000)) <= 0)
		return -1;
	return accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
}

/* Make bpf(2) fail with EPERM in this process and its children from now on */
static int deny_bpf(void)
{
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
			 offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_bpf, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = { .len = sizeof(f) / sizeof(f[0]),
				   .filter = f };

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) ||
	    prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog))
		return -1;
	return syscall(SYS_bpf, 0, NULL, 0) < 0 && errno == EPERM ? 0 : -1;
}

int mv_can_deny_bpf(void)
{
	pid_t p = fork();
	int st;

	if (p == 0)
		_exit(deny_bpf() ? 1 : 0);
	if (p < 0 || waitpid(p, &st, 0) != p)
		return 0;
	return WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

int mv_run(struct lab *l, const struct mv_scen *sc, struct mv_result *res)
{
	const char *extra[8] = { "--expect-eof", "--timeout", "60" };
	struct side s = { .l = l, .sc = sc, .me = 'a', .other = 'b' };
	struct cstate cs = { 0 };
	char out[256] = "/tmp/tcpcp-peer-XXXXXX";
	int lfd = -1, fd, outfd, sp[2], ret = -1;
	pid_t dump = -1, peer = -1, child = -1;
	FILE *f;

	memset(res, 0, sizeof(*res));
	t_start = now_s();
	if (sc->end == MV_END_CLOSE_WAIT)
		extra[3] = "--shut-after-send";
	snprintf(res->pcapfile, sizeof(res->pcapfile), "/tmp/%s.pcap", l->name);
	if (lab_enter(l, "a") || (lfd = listen_on(sc->family, LAB_PORT)) < 0) {
		snprintf(res->err, sizeof(res->err), "listen in a: %s",
			 strerror(errno));
		return -1;
	}
	if (sc->end == MV_END_FIN_WAIT2) {
		/* a small receive buffer keeps the peer sending until the
		 * move: a 3 MB window would let it finish and close first
		 */
		int rb = 256 << 10;

		setsockopt(lfd, SOL_SOCKET, SO_RCVBUF, &rb, sizeof(rb));
	}
	dump = lab_tcpdump(l, "peer", res->pcapfile);
	outfd = mkstemp(out);
	if (dump < 0 || outfd < 0) {
		snprintf(res->err, sizeof(res->err), "tcpdump did not start");
		goto out;
	}
	peer = lab_peer(l, sc->family, sc->c2s, sc->s2c, extra, outfd);
	fd = accept_one(lfd, 5);
	if (fd < 0) {
		snprintf(res->err, sizeof(res->err),
			 "the peer did not connect");
		goto out;
	}
	say(&s, "accepted the peer's connection; streaming %llu bytes each way",
	    (unsigned long long)sc->s2c);
	cs.app.tx_total = sc->s2c;
	cs.app.rx_total = sc->c2s;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp))
		goto out;
	if (sc->deny_bpf && deny_bpf()) {
		snprintf(res->err, sizeof(res->err),
			 "cannot refuse bpf() with seccomp: %s",
			 strerror(errno));
		goto out;
	}
	fflush(stdout);
	child = fork();
	if (child == 0) {
		struct side b = {
			.l = l, .sc = sc, .ch = sp[1], .me = 'b', .other = 'a'
		};

		close(lfd);
		close(fd);
		close(sp[0]);
		if (lab_enter(l, "b"))
			_exit(fail(&b, "cannot enter b") ? 1 : 1);
		if (side_loop(&b, -1, &cs))
			fprintf(stderr, "%s\n", b.err);
		_exit(b.err[0] ? 1 : 0);
	}
	close(sp[1]);
	s.ch = sp[0];
	ret = side_loop(&s, fd, &cs);
	if (ret)
		snprintf(res->err, sizeof(res->err), "%s", s.err);
	close(sp[0]);
	if (lab_wait(child, sc->timeout) != 0 && !ret) {
		snprintf(res->err, sizeof(res->err), "host b's process failed");
		ret = -1;
	}
out:
	res->peer_rc = peer > 0 ? lab_wait(peer, sc->timeout) : -1;
	f = outfd >= 0 ? fdopen(outfd, "r") : NULL;
	if (f) {
		rewind(f);
		if (!fgets(res->peer, sizeof(res->peer), f))
			res->peer[0] = 0;
		res->peer[strcspn(res->peer, "\n")] = 0;
		fclose(f);
	}
	unlink(out);
	lab_tcpdump_stop(dump);
	res->pcap_rc = lab_pcapcheck(l, res->pcapfile, sc->family, true, true,
				     res->pcap, sizeof(res->pcap));
	if (lfd >= 0)
		close(lfd);
	res->max_unacked = cs.st.max_unacked;
	res->max_unsent = cs.st.max_unsent;
	res->max_unread = cs.st.max_unread;
	res->max_ici = cs.st.max_ici;
	res->states_seen = cs.st.states;
	res->max_freeze_ms = cs.st.max_freeze_ms;
	res->moves = cs.app.moves;
	res->leaked = s.leaked;
	if (!ret && (res->peer_rc || res->pcap_rc)) {
		snprintf(res->err, sizeof(res->err),
			 "peer rc %d, pcapcheck rc %d", res->peer_rc,
			 res->pcap_rc);
		ret = -1;
	}
	if (!ret) {
		unlink(res->pcapfile);
		snprintf(out, sizeof(out), "%s.log", res->pcapfile);
		unlink(out);
	}
	return ret;
}
