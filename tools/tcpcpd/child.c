// SPDX-License-Identifier: GPL-2.0
/*
 * tcpcpd child programs: the redirect hook and the handler for moved
 * sockets.  Each child is watched through a pidfd in the event loop.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tcpcpd.h"

struct child {
	struct ev ev;
	pid_t pid;
	child_done_fn done;
	void *arg;
};

static void child_event(struct ev *ev, uint32_t events)
{
	struct child *c = (struct child *)ev;
	int status = 0;

	(void)events;
	if (waitpid(c->pid, &status, WNOHANG) == 0)
		return;
	ev_del(&c->ev);
	close(c->ev.fd);
	if (c->done)
		c->done(c->arg, status);
	free(c);
}

static pid_t do_fork(char *const argv[], char *const envp[], int in_fd,
		     int extra_fd)
{
	sigset_t all;
	pid_t pid;
	int nul;

	pid = fork();
	if (pid != 0)
		return pid;
	sigemptyset(&all);
	sigprocmask(SIG_SETMASK, &all, NULL);
	signal(SIGPIPE, SIG_DFL);
	nul = open("/dev/null", O_RDWR);
	if (extra_fd >= 0 && dup2(extra_fd, 3) < 0)
		_exit(127);
	if (in_fd >= 0) {
		if (dup2(in_fd, 0) < 0 || dup2(in_fd, 1) < 0)
			_exit(127);
	} else if (nul >= 0) {
		dup2(nul, 0);
		dup2(nul, 1);
	}
	if (extra_fd < 0 && nul >= 0)
		dup2(nul, 3);
	syscall(SYS_close_range, 4, ~0U, 0);
	execve(argv[0], argv, envp);
	_exit(127);
}

struct child *child_spawn(char *const argv[], char *const envp[], int in_fd,
			  int extra_fd, child_done_fn done, void *arg)
{
	struct child *c = calloc(1, sizeof(*c));
	int pfd;

	if (!c)
		return NULL;
	c->pid = do_fork(argv, envp, in_fd, extra_fd);
	if (c->pid < 0) {
		free(c);
		return NULL;
	}
	pfd = (int)syscall(SYS_pidfd_open, c->pid, 0);
	if (pfd < 0) {
		/* cannot watch it: wait now rather than leave a zombie */
		int st = 0;

		waitpid(c->pid, &st, 0);
		if (done)
			done(arg, st);
		free(c);
		return NULL;
	}
	c->ev.fd = pfd;
	c->ev.fn = child_event;
	c->done = done;
	c->arg = arg;
	ev_add(&c->ev, EPOLLIN);
	return c;
}

void child_kill(struct child *c)
{
	kill(c->pid, SIGKILL);
}

void child_forget(struct child *c)
{
	c->done = NULL;
}

/* Run and wait at most timeout_ms: exit status, or -errno */
int run_sync(char *const argv[], char *const envp[], unsigned int timeout_ms)
{
	struct timespec ts = { 0, 10 * 1000 * 1000 };
	uint64_t end = now_ms() + timeout_ms;
	int status = 0;
	pid_t pid, r;

	pid = do_fork(argv, envp, -1, -1);
	if (pid < 0)
		return -errno;
	for (;;) {
		r = waitpid(pid, &status, WNOHANG);
		if (r == pid)
			break;
		if (r < 0)
			return -errno;
		if (now_ms() >= end) {
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			return -ETIMEDOUT;
		}
		nanosleep(&ts, NULL);
	}
	return status;
}
