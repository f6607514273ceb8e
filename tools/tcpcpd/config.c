// SPDX-License-Identifier: GPL-2.0
/* tcpcpd.conf(5): "key = value" lines, '#' comments. */
#include <ctype.h>
#include <errno.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "redir.h"

void conf_defaults(struct conf *c)
{
	memset(c, 0, sizeof(*c));
	if (gethostname(c->name, sizeof(c->name) - 1) < 0)
		strcpy(c->name, "tcpcpd");
	strcpy(c->listen, "*");
	strcpy(c->key_file, "/etc/tcpcp/tcpcpd.key");
	strcpy(c->socket_path, "/run/tcpcp/tcpcpd.sock");
	strcpy(c->pid_file, "/run/tcpcp/tcpcpd.pid");
	c->socket_mode = 0660;
	c->log_level = TCPCP_LOG_INFO;
	c->prepare_timeout_ms = 5000;
	c->redirect_timeout_ms = 5000;
	c->hold_ms = 15000;
	c->commit_timeout_ms = 5000;
	c->hello_timeout_ms = 5000;
	c->max_moves = 4096;
	c->port = TCPCPD_DEFAULT_PORT;
	c->backend = TCPCP_BACKEND_AUTO;
	c->redirect_mode = TCPCPD_REDIR_RULE;
	c->gateway_table = 7700;
	c->gateway_pref = 7700;
}

static int parse_uint(const char *v, unsigned int min, unsigned int max,
		      int base, unsigned int *out)
{
	char *end;
	unsigned long n;

	errno = 0;
	n = strtoul(v, &end, base);
	if (errno || end == v || *end || n < min || n > max || *v == '-')
		return -EINVAL;
	*out = (unsigned int)n;
	return 0;
}

static int set_str(char *dst, size_t size, const char *v)
{
	if (strlen(v) >= size)
		return -ENAMETOOLONG;
	strcpy(dst, v);
	return 0;
}

static int parse_bool(const char *v, bool *out)
{
	if (!strcmp(v, "yes") || !strcmp(v, "true") || !strcmp(v, "1"))
		*out = true;
	else if (!strcmp(v, "no") || !strcmp(v, "false") || !strcmp(v, "0"))
		*out = false;
	else
		return -EINVAL;
	return 0;
}

static int set_key(struct conf *c, const char *k, const char *v)
{
	static const char *const levels[] = { "err", "warn", "info", "debug" };
	unsigned int u;
	struct group *g;
	int ret;

#define STR(name, field)      \
	if (!strcmp(k, name)) \
	return set_str(c->field, sizeof(c->field), v)
#define MS(name, field)                                  \
	if (!strcmp(k, name)) {                          \
		ret = parse_uint(v, 1, 3600000, 10, &u); \
		if (!ret)                                \
			c->field = u;                    \
		return ret;                              \
	}
	STR("name", name);
	STR("listen", listen);
	STR("key_file", key_file);
	STR("socket", socket_path);
	STR("pid_file", pid_file);
	STR("hook", hook);
	STR("handler", handler);
	STR("gateway", gateway);
	MS("prepare_timeout", prepare_timeout_ms);
	MS("redirect_timeout", redirect_timeout_ms);
	MS("hold_timeout", hold_ms);
	MS("commit_timeout", commit_timeout_ms);
	MS("hello_timeout", hello_timeout_ms);
	MS("queue_timeout", queue_timeout_ms);
#undef STR
#undef MS
	if (!strcmp(k, "group")) {
		g = getgrnam(v);
		if (!g)
			return -ENOENT;
		c->gid = g->gr_gid;
		c->have_gid = true;
		return set_str(c->group, sizeof(c->group), v);
	}
	if (!strcmp(k, "socket_mode")) {
		ret = parse_uint(v, 0, 0777, 8, &u);
		if (!ret)
			c->socket_mode = u;
		return ret;
	}
	if (!strcmp(k, "max_moves"))
		return parse_uint(v, 1, 1000000, 10, &c->max_moves);
	if (!strcmp(k, "max_inflight"))
		return parse_uint(v, 1, 65536, 10, &c->max_inflight);
	if (!strcmp(k, "port"))
		return parse_uint(v, 1, 65535, 10, &c->port);
	if (!strcmp(k, "syslog"))
		return parse_bool(v, &c->syslog);
	if (!strcmp(k, "gateway_role"))
		return parse_bool(v, &c->gateway_role);
	if (!strcmp(k, "gateway_table"))
		return parse_uint(v, 1, 0xfffffff0, 10, &c->gateway_table);
	if (!strcmp(k, "gateway_pref"))
		return parse_uint(v, 1, 0xfffffff0, 10, &c->gateway_pref);
	if (!strcmp(k, "redirect_mode")) {
		if (!strcmp(v, "route"))
			c->redirect_mode = TCPCPD_REDIR_ROUTE;
		else if (!strcmp(v, "rule"))
			c->redirect_mode = TCPCPD_REDIR_RULE;
		else if (!strcmp(v, "nftmap"))
			c->redirect_mode = TCPCPD_REDIR_NFTMAP;
		else if (!strcmp(v, "address"))
			c->redirect_mode = TCPCPD_REDIR_ADDRESS;
		else
			return -EINVAL;
		return 0;
	}
	if (!strcmp(k, "release"))
		return parse_bool(v, &rconf.release);
	if (!strcmp(k, "release_grace"))
		return parse_uint(v, 0, 3600000, 10, &rconf.release_grace_ms);
	if (!strcmp(k, "release_poll"))
		return parse_uint(v, 100, 3600000, 10, &rconf.release_poll_ms);
	if (!strcmp(k, "log_level")) {
		for (u = 0; u < 4; u++)
			if (!strcmp(v, levels[u])) {
				c->log_level = (int)u;
				return 0;
			}
		return -EINVAL;
	}
	if (!strcmp(k, "backend")) {
		for (u = TCPCP_BACKEND_AUTO; u <= TCPCP_BACKEND_REPAIR; u++)
			if (!strcmp(v, tcpcp_backend_name((int)u))) {
				c->backend = (int)u;
				return 0;
			}
		return -EINVAL;
	}
	return -ENOKEY;
}

static char *trim(char *s)
{
	char *e;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

/* 0, or -errno after printing where the file is wrong */
int conf_load(struct conf *c, const char *path)
{
	char line[1024], *k, *v, *eq;
	int lineno = 0, ret = 0;
	FILE *f;

	f = fopen(path, "re");
	if (!f) {
		ret = -errno;
		dlog(LOG_E, "config %s: %s", path, strerror(errno));
		return ret;
	}
	while (fgets(line, sizeof(line), f)) {
		lineno++;
		if (!strchr(line, '\n') && !feof(f)) {
			dlog(LOG_E, "%s:%d: line too long", path, lineno);
			ret = -EINVAL;
			break;
		}
		k = strchr(line, '#');
		if (k)
			*k = '\0';
		k = trim(line);
		if (!*k)
			continue;
		eq = strchr(k, '=');
		if (!eq) {
			dlog(LOG_E, "%s:%d: expected \"key = value\"", path,
			     lineno);
			ret = -EINVAL;
			break;
		}
		*eq = '\0';
		v = trim(eq + 1);
		k = trim(k);
		ret = set_key(c, k, v);
		if (ret == -ENOKEY) {
			dlog(LOG_E, "%s:%d: unknown key \"%s\"", path, lineno,
			     k);
			ret = -EINVAL;
			break;
		}
		if (ret) {
			dlog(LOG_E, "%s:%d: value \"%s\" of %s is wrong (%s)",
			     path, lineno, v, k, strerror(-ret));
			break;
		}
	}
	fclose(f);
	/* address mode: the destination's daemon takes the REDIRECT (addr.c) */
	if (!ret && c->redirect_mode == TCPCPD_REDIR_ADDRESS && !c->gateway[0])
		strcpy(c->gateway, "destination");
	return ret;
}
