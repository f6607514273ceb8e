// SPDX-License-Identifier: GPL-2.0
/*
 * syscount: count the libc calls the benchmark makes, the library's among
 * them, by wrapping them at link time (ld --wrap=NAME, see bench.mk).
 * bench.c zeroes nsys before a library call and reads it after.  The list
 * is every syscall wrapper libtcpcp.a imports (nm -u); what malloc does
 * (brk, mmap) is not counted.
 */
#include <fcntl.h>
#include <sched.h>
#include <stdarg.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <time.h>

unsigned long nsys;

#define WRAP(ret, name, proto, args)       \
	ret __real_##name proto;           \
	ret __wrap_##name proto;           \
	ret __wrap_##name proto            \
	{                                  \
		nsys++;                    \
		return __real_##name args; \
	}

WRAP(int, socket, (int d, int t, int p), (d, t, p))
WRAP(int, setsockopt, (int s, int l, int n, const void *v, socklen_t len),
     (s, l, n, v, len))
WRAP(int, getsockopt, (int s, int l, int n, void *v, socklen_t *len),
     (s, l, n, v, len))
WRAP(int, bind, (int s, const struct sockaddr *a, socklen_t l), (s, a, l))
WRAP(int, connect, (int s, const struct sockaddr *a, socklen_t l), (s, a, l))
WRAP(int, getsockname, (int s, struct sockaddr *a, socklen_t *l), (s, a, l))
WRAP(int, getpeername, (int s, struct sockaddr *a, socklen_t *l), (s, a, l))
WRAP(ssize_t, send, (int s, const void *b, size_t n, int f), (s, b, n, f))
WRAP(ssize_t, recv, (int s, void *b, size_t n, int f), (s, b, n, f))
WRAP(ssize_t, sendto,
     (int s, const void *b, size_t n, int f, const struct sockaddr *a,
      socklen_t l),
     (s, b, n, f, a, l))
WRAP(int, shutdown, (int s, int h), (s, h))
WRAP(int, ioctl, (int fd, unsigned long r, void *a), (fd, r, a))
WRAP(int, close, (int fd), (fd))
WRAP(int, nanosleep, (const struct timespec *t, struct timespec *r), (t, r))
WRAP(int, setns, (int fd, int t), (fd, t))

int __real_open(const char *path, int flags, ...);
int __wrap_open(const char *path, int flags, ...);
int __wrap_open(const char *path, int flags, ...)
{
	mode_t mode = 0;
	va_list ap;

	nsys++;
	if (flags & (O_CREAT | O_TMPFILE)) {
		va_start(ap, flags);
		mode = va_arg(ap, mode_t);
		va_end(ap);
	}
	return __real_open(path, flags, mode);
}
