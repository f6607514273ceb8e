// SPDX-License-Identifier: GPL-2.0
/*
 * tcpcpd child programs: the redirect hook and the handler for moved
 * sockets.  Each child is watched through a pidfd in the event loop.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ctl.h"
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

/*
 * The keeper: a child process that holds a copy of every isolated endpoint
 * this daemon holds for an incoming move, so that the endpoint outlives a
 * daemon killed before it activated it.  While the network points to this
 * host, the isolated endpoint drops the peer's segments in silence; without
 * it the kernel would answer them with a reset before the origin, which
 * sees this daemon's connection end, has undone the redirect and rolled
 * back.  The daemon sends HOLD (with the socket) when it creates an endpoint
 * and DROP when the move ends here; the keeper closes its copy on DROP.
 * The DROPs of one turn of the daemon's event loop go in one message
 * (keeper_flush), and the keeper blocks in recvmsg: a move costs the
 * keeper two wake-ups at most.
 * Once the daemon is gone (end of file on the pair) it keeps each endpoint
 * for its hold time more, then closes it (silent: it is isolated) and exits.
 */
enum { K_HOLD = 1, K_DROP = 2 };
#define K_BATCH 64
struct kmsg {
	uint32_t op;
	uint32_t hold_ms; /* K_DROP: the number of ids, 1 to K_BATCH */
	uint8_t id[K_BATCH][16]; /* K_HOLD: one */
};
struct kheld {
	uint8_t id[16];
	int fd;
	uint32_t hold_ms;
	uint64_t end;
};

static int keeper_fd = -1;

static void keeper_loop(int fd)
{
	struct kheld *h = NULL;
	size_t n = 0, cap = 0, i;
	uint32_t j;
	bool gone = false;

	for (;;) {
		union {
			char buf[CMSG_SPACE(sizeof(int))];
			struct cmsghdr align;
		} u;
		struct kmsg k;
		struct iovec iov = { .iov_base = &k, .iov_len = sizeof(k) };
		struct msghdr mh = { .msg_iov = &iov,
				     .msg_iovlen = 1,
				     .msg_control = u.buf,
				     .msg_controllen = sizeof(u.buf) };
		struct cmsghdr *cm;
		int timeout = -1, sfd = -1;
		uint64_t now = now_ms();
		ssize_t r;

		if (gone) {
			for (i = 0; i < n;) {
				if (h[i].end <= now) {
					close(h[i].fd);
					h[i] = h[--n];
					continue;
				}
				if (timeout < 0 ||
				    h[i].end - now < (uint64_t)timeout)
					timeout = (int)(h[i].end - now);
				i++;
			}
			if (!n)
				_exit(0);
			poll(NULL, 0, timeout);
			continue;
		}
		r = recvmsg(fd, &mh, MSG_CMSG_CLOEXEC);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			gone = true;
			for (i = 0; i < n; i++)
				h[i].end = now + h[i].hold_ms;
			continue;
		}
		cm = CMSG_FIRSTHDR(&mh);
		if (cm && cm->cmsg_level == SOL_SOCKET &&
		    cm->cmsg_type == SCM_RIGHTS)
			memcpy(&sfd, CMSG_DATA(cm), sizeof(int));
		if (r < 8 || (k.op == K_HOLD && r != 8 + 16) ||
		    (k.op == K_DROP &&
		     (k.hold_ms < 1 || k.hold_ms > K_BATCH ||
		      (size_t)r != 8 + 16 * (size_t)k.hold_ms))) {
			if (sfd >= 0)
				close(sfd);
			continue;
		}
		if (k.op == K_HOLD && sfd >= 0) {
			if (n == cap) {
				struct kheld *nh;

				cap = cap ? 2 * cap : 64;
				nh = realloc(h, cap * sizeof(*h));
				if (!nh) {
					close(sfd);
					cap = n;
					continue;
				}
				h = nh;
			}
			memcpy(h[n].id, k.id[0], 16);
			h[n].fd = sfd;
			h[n].hold_ms = k.hold_ms;
			n++;
			continue;
		}
		if (sfd >= 0)
			close(sfd);
		for (j = 0; k.op == K_DROP && j < k.hold_ms; j++)
			for (i = 0; i < n; i++)
				if (!memcmp(h[i].id, k.id[j], 16)) {
					close(h[i].fd);
					h[i] = h[--n];
					break;
				}
	}
}

int keeper_start(void)
{
	sigset_t all;
	int sv[2];
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return -errno;
	pid = fork();
	if (pid < 0) {
		close(sv[0]);
		close(sv[1]);
		return -errno;
	}
	if (pid == 0) {
		/* nothing of the daemon's but the pair: no listener, no key */
		memset(conf.key, 0, sizeof(conf.key));
		prctl(PR_SET_NAME, "tcpcpd-keeper");
		if (dup2(sv[1], 3) < 0)
			_exit(1);
		syscall(SYS_close_range, 4, ~0U, 0);
		sigemptyset(&all);
		sigprocmask(SIG_SETMASK, &all, NULL);
		signal(SIGPIPE, SIG_IGN);
		keeper_loop(3);
		_exit(0);
	}
	close(sv[1]);
	/* blocking: a DROP must not be lost (the keeper's copy of an activated
	 * socket would hold back its FIN), and the keeper does nothing else */
	keeper_fd = sv[0];
	return 0;
}

static struct kmsg drops = { .op = K_DROP };

static void keeper_send(struct kmsg *k, int fd)
{
	int op = (int)k->op;
	union ctl_fdbuf u;
	struct iovec iov = { .iov_base = k,
			     .iov_len =
				     8 + 16 * (op == K_DROP ? k->hold_ms : 1) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };

	if (keeper_fd < 0)
		return;
	ctl_attach_fd(&mh, &u, fd);
	while (sendmsg(keeper_fd, &mh, MSG_NOSIGNAL) < 0) {
		if (errno == EINTR)
			continue;
		dlog(LOG_W, "keeper: %s not sent: %s; keeper stopped",
		     op == K_HOLD ? "HOLD" : "DROP", strerror(errno));
		close(keeper_fd);
		keeper_fd = -1;
		break;
	}
}

void keeper_hold(const uint8_t id[16], int fd, uint32_t hold_ms)
{
	struct kmsg k = { .op = K_HOLD, .hold_ms = hold_ms };

	memcpy(k.id[0], id, 16);
	keeper_send(&k, fd);
}

/* Sent with the others of this turn of the event loop (keeper_flush) */
void keeper_drop(const uint8_t id[16])
{
	memcpy(drops.id[drops.hold_ms++], id, 16);
	if (drops.hold_ms == K_BATCH)
		keeper_flush();
}

void keeper_flush(void)
{
	if (drops.hold_ms)
		keeper_send(&drops, -1);
	drops.hold_ms = 0;
}

void keeper_stop(void)
{
	keeper_flush();
	if (keeper_fd >= 0)
		close(keeper_fd);
	keeper_fd = -1;
}
