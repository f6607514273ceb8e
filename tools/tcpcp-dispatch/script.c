// SPDX-License-Identifier: GPL-2.0
/*
 * The dispatch script: one long-running process that reads one request line
 * per connection on its stdin and answers one line per request on its
 * stdout (tcpcp-dispatch-script(7)):
 *
 *   ID CLIENT-ADDR CLIENT-PORT SERVICE-ADDR SERVICE-PORT PREFIX NAME:INFLIGHT:MOVED...
 *   ID NAME | ID keep | ID reject
 *
 * PREFIX is the opening of the request with every byte outside '!'..'~'
 * and '%' written as %XX; "-" is the empty prefix.  The script is started
 * at once, and again after it ended (not more often than every RESTART_MS,
 * doubled up to RESTART_MAX_MS while it keeps ending within its first
 * second); one that crashes, closes its stdout or stalls is killed and its
 * pending requests fall back (main.c).  A script that has not answered
 * yet is starting: up to STARTUP_MS of that does not count against the
 * requests asked meanwhile.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "dispatch.h"

#define RESTART_MS 200
#define RESTART_MAX_MS 5000
#define STARTUP_MS 5000
#define LINE_MAX_LEN 1024

static pid_t pid = -1;
static int to_fd = -1, from_fd = -1;
static uint64_t started_ms;
static bool ever_started, answered;
static unsigned int restart_ms = RESTART_MS;
static unsigned int gen;
/* many answers at once; a line is at most LINE_MAX_LEN */
static char inbuf[16 * LINE_MAX_LEN];
static size_t inlen;
/* requests the pipe did not take yet (a burst of connections) */
#define OUTQ_MAX (4U << 20)
static char *outq;
static size_t outq_len, outq_cap;
static bool outq_blocked; /* the pipe took less than all: poll it */

int script_fd(void)
{
	return from_fd;
}

/* A script that ends: the next start waits longer if it died young */
static void script_ended(void)
{
	if (now_ms() - started_ms < 1000)
		restart_ms = restart_ms * 2 < RESTART_MAX_MS ? restart_ms * 2 :
							       RESTART_MAX_MS;
	else
		restart_ms = RESTART_MS;
}

void script_reap(void)
{
	int st;
	pid_t p;

	while ((p = waitpid(-1, &st, WNOHANG)) > 0) {
		if (p != pid)
			continue;
		/* its pipes stay open until their EOF is read (script_read) */
		dlog(0, "dispatch script (pid %d) %s %d", p,
		     WIFSIGNALED(st) ? "killed by signal" : "exited with",
		     WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st));
		script_ended();
		pid = -1;
	}
}

unsigned int script_gen(void)
{
	return gen;
}

uint64_t script_restart_at(void)
{
	/* the old one's answers are read to the end first */
	if (pid > 0 || from_fd >= 0 || !dconf.script)
		return UINT64_MAX;
	return ever_started ? started_ms + restart_ms : 0;
}

uint64_t script_grace_until(void)
{
	return answered ? 0 : started_ms + STARTUP_MS;
}

void script_kill(const char *why)
{
	if (pid > 0 || to_fd >= 0)
		dlog(0, "dispatch script (pid %d): %s%s", pid, why,
		     dconf.script ? "; restarting it" : "");
	if (pid > 0) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		script_ended();
	}
	pid = -1;
	loop_forget(to_fd);
	loop_forget(from_fd);
	if (to_fd >= 0)
		close(to_fd);
	if (from_fd >= 0)
		close(from_fd);
	to_fd = from_fd = -1;
	inlen = 0;
	outq_len = 0;
	outq_blocked = false;
	gen++; /* what the old one was asked will never be answered */
}

static int script_start(void)
{
	int in[2], out[2];
	uint64_t now = now_ms();

	if (!dconf.script || (ever_started && now - started_ms < restart_ms))
		return -EAGAIN;
	if (pipe2(in, O_CLOEXEC) < 0)
		return -errno;
	if (pipe2(out, O_CLOEXEC) < 0) {
		close(in[0]);
		close(in[1]);
		return -errno;
	}
	if (ever_started)
		__atomic_add_fetch(&dstats.script_restarts, 1,
				   __ATOMIC_RELAXED);
	ever_started = true;
	answered = false;
	started_ms = now;
	pid = fork();
	if (pid == 0) {
		sigset_t all;

		sigemptyset(&all);
		sigprocmask(SIG_SETMASK, &all, NULL);
		signal(SIGPIPE, SIG_DFL);
		if (dup2(in[0], 0) < 0 || dup2(out[1], 1) < 0)
			_exit(127);
		execvp(dconf.script[0], dconf.script);
		fprintf(stderr, "tcpcp-dispatch: cannot run %s: %s\n",
			dconf.script[0], strerror(errno));
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	if (pid < 0) {
		int e = errno;

		close(in[1]);
		close(out[0]);
		return -e;
	}
	to_fd = in[1];
	from_fd = out[0];
	fcntl(to_fd, F_SETPIPE_SZ, 1 << 20); /* the default limit; may fail */
	fcntl(to_fd, F_SETFL, O_NONBLOCK);
	fcntl(from_fd, F_SETFL, O_NONBLOCK);
	inlen = 0;
	dlog(1, "dispatch script %s started, pid %d", dconf.script[0], pid);
	return 0;
}

size_t prefix_escape(const uint8_t *p, size_t len, char *out, size_t outlen)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t o = 0;

	if (!len) {
		if (outlen > 1)
			out[o++] = '-';
	}
	for (size_t i = 0; i < len && o + 4 < outlen; i++) {
		uint8_t c = p[i];

		if (c > ' ' && c <= '~' && c != '%' &&
		    !(c == '-' && len == 1)) {
			out[o++] = (char)c;
		} else {
			out[o++] = '%';
			out[o++] = hex[c >> 4];
			out[o++] = hex[c & 15];
		}
	}
	if (outlen)
		out[o] = '\0';
	return o;
}

static void addr_str(const struct sockaddr_storage *ss, char *a, size_t alen,
		     unsigned int *port)
{
	if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const void *)ss;

		inet_ntop(AF_INET6, &s6->sin6_addr, a, (socklen_t)alen);
		*port = ntohs(s6->sin6_port);
	} else {
		const struct sockaddr_in *s4 = (const void *)ss;

		inet_ntop(AF_INET, &s4->sin_addr, a, (socklen_t)alen);
		*port = ntohs(s4->sin_port);
	}
}

int script_ensure(void)
{
	if (pid > 0 && to_fd >= 0)
		return 0;
	if (to_fd >= 0)
		script_kill("ended");
	return script_start();
}

int script_ask(uint64_t id, const struct sockaddr_storage *client,
	       const struct sockaddr_storage *local, const uint8_t *prefix,
	       size_t len)
{
	char ca[64], la[64];
	unsigned int cp, lp;
	size_t cap = len * 3 + 2 + 256 + (size_t)dconf.nbackends * 96;
	char *line = malloc(cap);
	size_t o;
	int ret;

	if (!line)
		return -ENOMEM;
	ret = script_ensure();
	if (ret) {
		free(line);
		return ret;
	}
	addr_str(client, ca, sizeof(ca), &cp);
	addr_str(local, la, sizeof(la), &lp);
	o = (size_t)snprintf(line, cap, "%" PRIu64 " %s %u %s %u ", id, ca, cp,
			     la, lp);
	o += prefix_escape(prefix, len, line + o, cap - o);
	for (int i = 0; i < dconf.nbackends; i++) {
		struct backend *b = &dconf.be[i];

		o += (size_t)snprintf(
			line + o, cap - o, " %s:%u:%" PRIu64, b->name,
			__atomic_load_n(&b->inflight, __ATOMIC_RELAXED),
			__atomic_load_n(&b->moved, __ATOMIC_RELAXED));
	}
	line[o++] = '\n';
	/* queued: the main loop writes a turn's requests at once */
	ret = 0;
	if (outq_len + o > OUTQ_MAX) {
		ret = -EAGAIN;
	} else if (outq_len + o > outq_cap) {
		size_t ncap = (outq_len + o) * 2;
		char *q = realloc(outq, ncap);

		if (q) {
			outq = q;
			outq_cap = ncap;
		} else {
			ret = -ENOMEM;
		}
	}
	if (!ret) {
		memcpy(outq + outq_len, line, o);
		outq_len += o;
	}
	free(line);
	if (ret) {
		script_kill("does not read its input");
		return ret;
	}
	__atomic_add_fetch(&dstats.asked, 1, __ATOMIC_RELAXED);
	return 0;
}

int script_out_fd(void)
{
	return outq_len && outq_blocked ? to_fd : -1;
}

void script_flush(void)
{
	ssize_t n;

	outq_blocked = false;
	while (outq_len && to_fd >= 0) {
		n = write(to_fd, outq, outq_len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			if (errno == EAGAIN)
				outq_blocked = true; /* wait for EPOLLOUT */
			else
				script_kill("its input is closed");
			return;
		}
		memmove(outq, outq + n, outq_len - (size_t)n);
		outq_len -= (size_t)n;
		/* the pipe is full: what is left waits for EPOLLOUT */
		if (outq_len) {
			outq_blocked = true;
			return;
		}
	}
}

static void parse_line(char *l, answer_fn answer)
{
	char *end, *w;
	uint64_t id;

	answered = true;
	errno = 0;
	id = strtoull(l, &end, 10);
	if (errno || end == l || *end != ' ') {
		dlog(0, "dispatch script: bad answer \"%.80s\"", l);
		__atomic_add_fetch(&dstats.bad_answers, 1, __ATOMIC_RELAXED);
		return;
	}
	w = end + 1;
	w[strcspn(w, " \t\r")] = '\0';
	if (!strcmp(w, "keep")) {
		answer(id, ANS_KEEP, -1);
		return;
	}
	if (!strcmp(w, "reject")) {
		answer(id, ANS_REJECT, -1);
		return;
	}
	for (int i = 0; i < dconf.nbackends; i++) {
		if (!strcmp(w, dconf.be[i].name)) {
			answer(id, ANS_BACKEND, i);
			return;
		}
	}
	dlog(0,
	     "dispatch script: answer for %" PRIu64
	     " names no back end: \"%.80s\"",
	     id, w);
	__atomic_add_fetch(&dstats.bad_answers, 1, __ATOMIC_RELAXED);
	answer(id, ANS_NONE, -1);
}

/*
 * 0: read what there was; -EPIPE: the script is gone (pending fall back).
 * A read that returns less than it asked for has emptied the pipe: the
 * next answers wake the main loop again.
 */
int script_read(answer_fn answer)
{
	while (from_fd >= 0) {
		size_t want = sizeof(inbuf) - inlen, off = 0;
		ssize_t n = read(from_fd, inbuf + inlen, want);
		char *nl;

		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return 0;
		if (n <= 0) {
			script_kill(n ? "cannot read its answers" :
					"closed its output or ended");
			return -EPIPE;
		}
		inlen += (size_t)n;
		while ((nl = memchr(inbuf + off, '\n', inlen - off)) &&
		       nl - (inbuf + off) < LINE_MAX_LEN) {
			*nl = '\0';
			parse_line(inbuf + off, answer);
			off = (size_t)(nl - inbuf) + 1;
		}
		memmove(inbuf, inbuf + off, inlen - off);
		inlen -= off;
		if (nl || inlen >= LINE_MAX_LEN) {
			__atomic_add_fetch(&dstats.bad_answers, 1,
					   __ATOMIC_RELAXED);
			script_kill("wrote a line that is too long");
			return -EPIPE;
		}
		if ((size_t)n < want)
			return 0;
	}
	return -EPIPE;
}
