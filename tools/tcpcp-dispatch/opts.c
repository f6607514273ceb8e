// SPDX-License-Identifier: GPL-2.0
/* tcpcp-dispatch: the command line (see tcpcp-dispatch(8)) into dconf */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "dispatch.h"
#include "tcpcp.h"

struct dconf dconf = {
	.peek_max = 4096,
	.peek_timeout_ms = 1000,
	.script_timeout_ms = 1000,
	.max_conns = 1024,
	.fallback = FB_CLOSE,
};

static int parse_addr(const char *s, struct sockaddr_storage *ss,
		      socklen_t *len)
{
	char host[128], *colon, *end;
	unsigned long port;

	if (strlen(s) >= sizeof(host))
		return -1;
	strcpy(host, s);
	colon = strrchr(host, ':');
	if (!colon)
		return -1;
	*colon = '\0';
	port = strtoul(colon + 1, &end, 10);
	if (*end || !port || port > 65535)
		return -1;
	memset(ss, 0, sizeof(*ss));
	if (host[0] == '[' && colon > host + 1 && colon[-1] == ']') {
		struct sockaddr_in6 *s6 = (void *)ss;

		colon[-1] = '\0';
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)port);
		*len = sizeof(*s6);
		return inet_pton(AF_INET6, host + 1, &s6->sin6_addr) == 1 ? 0 :
									    -1;
	} else {
		struct sockaddr_in *s4 = (void *)ss;

		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)port);
		*len = sizeof(*s4);
		return inet_pton(AF_INET, host, &s4->sin_addr) == 1 ? 0 : -1;
	}
}

/* \r \n \t \\ in a delimiter */
static int parse_delim(const char *s)
{
	size_t o = 0;

	if (!strcmp(s, "http"))
		s = "\\r\\n\\r\\n";
	for (; *s; s++) {
		char c = *s;

		if (c == '\\') {
			s++;
			c = *s == 'r'  ? '\r' :
			    *s == 'n'  ? '\n' :
			    *s == 't'  ? '\t' :
			    *s == '\\' ? '\\' :
					 0;
			if (!c)
				return -1;
		}
		if (o + 1 >= sizeof(dconf.delim))
			return -1;
		dconf.delim[o++] = c;
	}
	dconf.delim_len = o;
	return o ? 0 : -1;
}

static int uint_arg(const char *opt, const char *s, unsigned long max,
		    unsigned long *v)
{
	char *end;

	errno = 0;
	*v = strtoul(s, &end, 10);
	if (errno || *end || end == s || *v > max) {
		fprintf(stderr,
			"Error: argument \"%s\" is wrong: %s wants 0..%lu\n", s,
			opt, max);
		return -1;
	}
	return 0;
}

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: tcpcp-dispatch -l ADDR:PORT -b NAME=DEST [-b NAME=DEST]...\n"
		"           [-s SOCKET | --direct] [-m PEEK_MAX] [-d DELIM] [-t PEEK_MS]\n"
		"           [-T SCRIPT_MS] [-M MOVE_MS] [-f close|503|exec:PROGRAM]\n"
		"           [-n MAX_CONNS] [-v]... -- SCRIPT [ARG]...\n");
}

static int backend_arg(const char *s)
{
	const char *eq = strchr(s, '=');
	struct backend *b = &dconf.be[dconf.nbackends];
	size_t nl;

	if (dconf.nbackends == DISP_MAX_BACKENDS || !eq || eq == s || !eq[1] ||
	    (nl = (size_t)(eq - s)) >= DISP_NAME_LEN ||
	    strlen(eq + 1) >= DISP_DEST_LEN || strcspn(s, " \t:") < nl) {
		fprintf(stderr,
			"Error: argument \"%s\" is wrong: NAME=DEST, NAME without blanks or ':'\n",
			s);
		return -1;
	}
	memcpy(b->name, s, nl);
	strcpy(b->dest, eq + 1);
	if (!strcmp(b->name, "keep") || !strcmp(b->name, "reject")) {
		fprintf(stderr,
			"Error: argument \"%s\" is wrong: %s is an answer\n", s,
			b->name);
		return -1;
	}
	dconf.nbackends++;
	return 0;
}

int parse_args(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "listen", 1, NULL, 'l' },
		{ "backend", 1, NULL, 'b' },
		{ "socket", 1, NULL, 's' },
		{ "direct", 0, NULL, 'D' },
		{ "peek-max", 1, NULL, 'm' },
		{ "delim", 1, NULL, 'd' },
		{ "peek-timeout", 1, NULL, 't' },
		{ "script-timeout", 1, NULL, 'T' },
		{ "move-timeout", 1, NULL, 'M' },
		{ "fallback", 1, NULL, 'f' },
		{ "max-conns", 1, NULL, 'n' },
		{ "verbose", 0, NULL, 'v' },
		{ "help", 0, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	unsigned long v;
	int o;

	while ((o = getopt_long(argc, argv, "+l:b:s:m:d:t:T:M:f:n:vh", lo,
				NULL)) != -1) {
		switch (o) {
		case 'l':
			dconf.listen = optarg;
			if (parse_addr(optarg, &dconf.addr, &dconf.addrlen)) {
				fprintf(stderr,
					"Error: argument \"%s\" is wrong: ADDR:PORT or [ADDR6]:PORT\n",
					optarg);
				return -1;
			}
			break;
		case 'b':
			if (backend_arg(optarg))
				return -1;
			break;
		case 's':
			dconf.tcpcpd_sock = optarg;
			break;
		case 'D':
			dconf.direct = true;
			break;
		case 'm':
			if (uint_arg("peek-max", optarg, 65536, &v) || !v)
				return -1;
			dconf.peek_max = v;
			break;
		case 'd':
			if (parse_delim(optarg)) {
				fprintf(stderr,
					"Error: argument \"%s\" is wrong: up to 15 bytes, \\r \\n \\t \\\\ or \"http\"\n",
					optarg);
				return -1;
			}
			break;
		case 't':
		case 'T':
		case 'M':
			if (uint_arg(o == 't' ? "peek-timeout" :
				     o == 'T' ? "script-timeout" :
						"move-timeout",
				     optarg, 600000, &v))
				return -1;
			*(o == 't' ? &dconf.peek_timeout_ms :
			  o == 'T' ? &dconf.script_timeout_ms :
				     &dconf.move_timeout_ms) = (unsigned int)v;
			break;
		case 'f':
			if (!strcmp(optarg, "close")) {
				dconf.fallback = FB_CLOSE;
			} else if (!strcmp(optarg, "503")) {
				dconf.fallback = FB_503;
			} else if (!strncmp(optarg, "exec:", 5) && optarg[5]) {
				dconf.fallback = FB_EXEC;
				dconf.fallback_prog = optarg + 5;
			} else {
				fprintf(stderr,
					"Error: argument \"%s\" is wrong: close, 503 or exec:PROGRAM\n",
					optarg);
				return -1;
			}
			break;
		case 'n':
			if (uint_arg("max-conns", optarg, 65536, &v) || !v)
				return -1;
			dconf.max_conns = (unsigned int)v;
			break;
		case 'v':
			dconf.verbose++;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			return -1;
		}
	}
	if (!dconf.listen || !dconf.nbackends || optind >= argc) {
		fprintf(stderr, "Error: %s is missing\n",
			!dconf.listen	 ? "-l ADDR:PORT" :
			!dconf.nbackends ? "-b NAME=DEST" :
					   "the dispatch script after --");
		usage(stderr);
		return -1;
	}
	dconf.script = argv + optind;
	return 0;
}
