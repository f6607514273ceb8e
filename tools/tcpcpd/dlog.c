// SPDX-License-Identifier: GPL-2.0
/* tcpcpd logging: one function, four levels, stderr or syslog. */
#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/un.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "tcpcpd.h"

static int max_level = TCPCP_LOG_INFO;
static bool to_syslog;

static const char *const names[] = { "error", "warning", "info", "debug" };
static const int prios[] = { LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG };

void dlog_setup(int level, bool use_syslog)
{
	max_level = level;
	if (use_syslog && !to_syslog)
		openlog("tcpcpd", LOG_PID | LOG_NDELAY, LOG_DAEMON);
	to_syslog = use_syslog;
}

void dlog(int level, const char *fmt, ...)
{
	char msg[768];
	struct timespec ts;
	va_list ap;

	if (level > max_level)
		return;
	if (level < 0)
		level = 0;
	if (level > 3)
		level = 3;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (to_syslog) {
		syslog(prios[level], "%s", msg);
		return;
	}
	clock_gettime(CLOCK_REALTIME, &ts);
	fprintf(stderr, "%lld.%03ld tcpcpd[%d]: %s: %s\n", (long long)ts.tv_sec,
		ts.tv_nsec / 1000000, (int)getpid(), names[level], msg);
}

const char *addr_str(const struct sockaddr_storage *ss, char *buf, size_t len)
{
	char a[INET6_ADDRSTRLEN] = "?";

	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *sin = (const void *)ss;

		inet_ntop(AF_INET, &sin->sin_addr, a, sizeof(a));
		snprintf(buf, len, "%s:%u", a, ntohs(sin->sin_port));
	} else if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const void *)ss;

		inet_ntop(AF_INET6, &sin6->sin6_addr, a, sizeof(a));
		snprintf(buf, len, "[%s]:%u", a, ntohs(sin6->sin6_port));
	} else {
		snprintf(buf, len, "family-%d", ss->ss_family);
	}
	return buf;
}
