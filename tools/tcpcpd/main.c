// SPDX-License-Identifier: GPL-2.0
/*
 * tcpcpd - the tcpcp migration daemon: moves live TCP connections between
 * hosts in a two-phase hand-off (see tcpcpd(8), tcpcpd.conf(5) and
 * Documentation/tcpcpd-protocol.rst).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/file.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "tcpcpd.h"
#include "redir.h" /* REDIR: release timers, nftables batches */

struct conf conf;
struct lmsg_status stats;
volatile bool stopping;

static int epfd = -1;

int ev_add(struct ev *ev, uint32_t events)
{
	struct epoll_event e = { .events = events, .data.ptr = ev };

	if (epoll_ctl(epfd, EPOLL_CTL_ADD, ev->fd, &e))
		return -errno;
	ev->events = events;
	ev->armed = true;
	return 0;
}

/* Change the events of ev; nothing to do (no syscall) when they are the same */
int ev_mod(struct ev *ev, uint32_t events)
{
	struct epoll_event e = { .events = events, .data.ptr = ev };

	if (ev->armed && ev->events == events)
		return 0;
	if (epoll_ctl(epfd, EPOLL_CTL_MOD, ev->fd, &e))
		return -errno;
	ev->events = events;
	ev->armed = true;
	return 0;
}

void ev_del(struct ev *ev)
{
	if (ev->fd >= 0)
		epoll_ctl(epfd, EPOLL_CTL_DEL, ev->fd, NULL);
	ev->armed = false;
}

uint64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

uint64_t now_ms(void)
{
	return now_us() / 1000;
}

static void lib_log(int level, const char *msg, void *arg)
{
	(void)arg;
	dlog(level, "libtcpcp: %s", msg);
}

static int pid_fd = -1;
static bool pid_written;

static int pidfile_lock(void)
{
	char dir[sizeof(conf.pid_file)], *s;

	snprintf(dir, sizeof(dir), "%s", conf.pid_file);
	s = strrchr(dir, '/');
	if (s && s != dir) {
		*s = '\0';
		mkdir(dir, 0755);
	}
	pid_fd = open(conf.pid_file, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (pid_fd < 0) {
		dlog(LOG_E, "pid file %s: %s", conf.pid_file, strerror(errno));
		return -errno;
	}
	if (flock(pid_fd, LOCK_EX | LOCK_NB) < 0) {
		dlog(LOG_E, "pid file %s is locked: another tcpcpd runs",
		     conf.pid_file);
		close(pid_fd);
		pid_fd = -1;
		return -EBUSY;
	}
	return 0;
}

static void pidfile_write(void)
{
	char b[32];
	int n = snprintf(b, sizeof(b), "%d\n", (int)getpid());

	if (ftruncate(pid_fd, 0) || pwrite(pid_fd, b, (size_t)n, 0) != n)
		dlog(LOG_W, "pid file %s: %s", conf.pid_file, strerror(errno));
	pid_written = true;
}

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: tcpcpd [-c CONFIG] [-f] [-v]... [-d] [-n]\n"
		"  -c CONFIG  configuration file (default /etc/tcpcp/tcpcpd.conf)\n"
		"  -f         stay in the foreground, log to stderr\n"
		"  -v         more log messages (info, then debug)\n"
		"  -d         debug: -f and debug messages\n"
		"  -n         check the configuration and the key file, then exit\n");
}

static int loop(void)
{
	struct epoll_event evs[64];
	uint64_t now, next;
	int n, timeout;

	while (!stopping) {
		now = now_ms();
		next = now + 60000;
		move_timers(now, &next);
		peer_timers(now, &next);
		redir_timers(now, &next); /* REDIR: release.c */
		peer_push();
		peer_reap();
		timeout = next > now ? (int)(next - now) : 0;
		n = epoll_wait(epfd, evs, 64, timeout);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			dlog(LOG_E, "epoll_wait: %s", strerror(errno));
			return -errno;
		}
		for (int i = 0; i < n; i++) {
			struct ev *ev = evs[i].data.ptr;

			ev->fn(ev, evs[i].events);
		}
		gateway_flush(); /* REDIR: before the closed pconns go */
		peer_push();
		keeper_flush();
		peer_reap();
	}
	return 0;
}

static void sig_event(struct ev *ev, uint32_t events)
{
	struct signalfd_siginfo si;

	(void)events;
	while (read(ev->fd, &si, sizeof(si)) == sizeof(si)) {
		if (si.ssi_signo == SIGHUP) {
			dlog(LOG_I,
			     "SIGHUP: nothing to reload in this version");
			continue;
		}
		dlog(LOG_I, "signal %d: shutting down", (int)si.ssi_signo);
		stopping = true;
	}
}

int main(int argc, char **argv)
{
	const char *config = "/etc/tcpcp/tcpcpd.conf";
	bool foreground = false, check = false, config_given = false;
	int verbose = 0, ret, opt;
	struct ev sig_ev;
	sigset_t mask;
	char why[200];

	conf_defaults(&conf);
	dlog_setup(TCPCP_LOG_INFO, false);
	while ((opt = getopt(argc, argv, "c:fvdnh")) != -1) {
		switch (opt) {
		case 'c':
			config = optarg;
			config_given = true;
			break;
		case 'f':
			foreground = true;
			break;
		case 'v':
			verbose++;
			break;
		case 'd':
			foreground = true;
			verbose = 3;
			break;
		case 'n':
			check = true;
			foreground = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		fprintf(stderr,
			"Error: argument \"%s\" is wrong: tcpcpd takes options only\n",
			argv[optind]);
		usage(stderr);
		return 2;
	}
	if ((config_given || access(config, F_OK) == 0) &&
	    conf_load(&conf, config))
		return 1;
	if (verbose)
		conf.log_level = conf.log_level + verbose > TCPCP_LOG_DEBUG ?
					 TCPCP_LOG_DEBUG :
					 conf.log_level + verbose;
	dlog_setup(conf.log_level, conf.syslog || !foreground);
	if (!foreground)
		dlog_setup(conf.log_level,
			   false); /* errors before detaching go to stderr */
	ret = proto_key_load(conf.key_file, conf.key, &conf.key_len, why,
			     sizeof(why));
	if (ret) {
		dlog(LOG_E, "key file: %s", why);
		return 1;
	}
	if (conf.backend != TCPCP_BACKEND_AUTO) {
		ret = tcpcp_set_backend(conf.backend);
		if (ret) {
			dlog(LOG_E, "backend %s: %s",
			     tcpcp_backend_name(conf.backend), strerror(-ret));
			return 1;
		}
	}
	if (check) {
		printf("configuration ok: backend %s, key %zu bytes\n",
		       tcpcp_backend_name(tcpcp_backend()), conf.key_len);
		return 0;
	}
	tcpcp_set_log(conf.log_level, lib_log, NULL);
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	epfd = epoll_create1(EPOLL_CLOEXEC);
	if (epfd < 0)
		return 1;
	sig_ev.fd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
	sig_ev.fn = sig_event;
	if (sig_ev.fd < 0 || ev_add(&sig_ev, EPOLLIN))
		return 1;
	if (pidfile_lock())
		return 1;
	/* the local socket last: once it answers, the daemon is ready */
	ret = peer_listen();
	if (!ret)
		ret = local_listen();
	if (ret)
		goto out;
	if (!foreground) {
		if (daemon(0, 0) < 0) {
			dlog(LOG_E, "daemon: %s", strerror(errno));
			ret = -errno;
			goto out;
		}
		dlog_setup(conf.log_level, true);
	}
	pidfile_write();
	ret = keeper_start();
	if (ret)
		dlog(LOG_W,
		     "cannot start the keeper of held endpoints: %s; they die with the daemon",
		     strerror(-ret));
	dlog(LOG_I, "tcpcpd %s started: backend %s", conf.name,
	     tcpcp_backend_name(tcpcp_backend()));
	ret = loop();
	dlog(LOG_I, "stopping: rolling back %llu move(s) in progress",
	     (unsigned long long)stats.moves_active);
	stopping = true;
	move_shutdown();
	keeper_stop();
	peer_close_all();
	gateway_stop();
	peer_reap();
out:
	local_stop();
	peer_stop();
	if (pid_written)
		unlink(conf.pid_file);
	if (pid_fd >= 0)
		close(pid_fd);
	memset(conf.key, 0, sizeof(conf.key));
	dlog(LOG_I, "stopped");
	return ret ? 1 : 0;
}
