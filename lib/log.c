// SPDX-License-Identifier: LGPL-2.1-or-later
/* The library never prints: messages go to the hook set with tcpcp_set_log. */
#include <stdarg.h>
#include <stdio.h>

#include "internal.h"

static int log_level = TCPCP_LOG_WARN;
static tcpcp_log_fn log_fn;
static void *log_arg;

TCPCP_EXPORT void tcpcp_set_log(int level, tcpcp_log_fn fn, void *arg)
{
	log_level = level;
	log_fn = fn;
	log_arg = arg;
}

void tcpcp_log(int level, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	if (!log_fn || level > log_level)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_fn(level, msg, log_arg);
}
