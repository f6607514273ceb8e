// SPDX-License-Identifier: GPL-2.0
/*
 * tcpcp-ici - inspect, check and rewrite tcpcp ICI files.
 *
 *   tcpcp-ici [ OPTIONS ] show { FILE | - }
 *   tcpcp-ici check { FILE | - }
 *   tcpcp-ici set-local { FILE | - } ADDR [ PORT ] -o { OUT | - }
 *   tcpcp-ici help
 *
 * Grammar, messages and exit codes as iproute2: exact keyword match, exit 0
 * on success, 1 on failure, 2 on usage errors.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "linux/tcpcp.h"
#include "tcpcp.h"

#define EXIT_USAGE 2
#define NOT_UNICAST \
	"not a unicast address (unspecified, multicast, reserved or IPv4-mapped)"

static const char *prog = "tcpcp-ici";

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: %s [ OPTIONS ] show { FILE | - }\n"
		"       %s check { FILE | - }\n"
		"       %s set-local { FILE | - } ADDR [ PORT ] -o { OUT | - }\n"
		"       %s help\n"
		"OPTIONS := { -j | -json | -p | -pretty | -d | -data }\n"
		"ADDR := { IPv4-ADDRESS | IPv6-ADDRESS }\n"
		"PORT := 1..65535 (default: keep the ICI's port)\n",
		prog, prog, prog, prog);
}

static int invarg(const char *arg, const char *what)
{
	fprintf(stderr, "Error: argument \"%s\" is wrong: %s\n", arg, what);
	return EXIT_USAGE;
}

static int missarg(const char *what)
{
	fprintf(stderr, "Error: %s is missing, try \"%s help\".\n", what, prog);
	return EXIT_USAGE;
}

static int toomany(const char *arg)
{
	fprintf(stderr, "Error: unexpected argument \"%s\", try \"%s help\".\n",
		arg, prog);
	return EXIT_USAGE;
}

/* Read a whole file ("-" is stdin) into *buf; at most one byte more than
 * the largest valid ICI, so that the codec reports an oversized one.
 */
static int read_ici(const char *name, void **buf, size_t *len)
{
	size_t cap = 4096, n = 0, max = (size_t)TCPCP_ICI_MAX_LEN + 1;
	bool is_stdin = !strcmp(name, "-");
	FILE *f = is_stdin ? stdin : fopen(name, "rb");
	char *b, *nb;
	size_t got;

	if (!f) {
		fprintf(stderr, "Error: cannot open \"%s\": %s\n", name,
			strerror(errno));
		return -1;
	}
	b = malloc(cap);
	if (!b) {
		fprintf(stderr, "Error: out of memory\n");
		goto fail;
	}
	for (;;) {
		if (n == cap) {
			cap = cap * 2 < max ? cap * 2 : max;
			nb = realloc(b, cap);
			if (!nb) {
				fprintf(stderr, "Error: out of memory\n");
				goto fail;
			}
			b = nb;
		}
		got = fread(b + n, 1, cap - n, f);
		n += got;
		if (n == max || got == 0)
			break;
	}
	if (ferror(f)) {
		fprintf(stderr, "Error: cannot read \"%s\": %s\n", name,
			strerror(errno));
		goto fail;
	}
	if (!is_stdin)
		fclose(f);
	*buf = b;
	*len = n;
	return 0;
fail:
	free(b);
	if (!is_stdin)
		fclose(f);
	return -1;
}

static int write_ici(const char *name, const void *buf, size_t len)
{
	bool is_stdout = !strcmp(name, "-");
	FILE *f = is_stdout ? stdout : fopen(name, "wb");
	int ret = 0;

	if (!f) {
		fprintf(stderr, "Error: cannot create \"%s\": %s\n", name,
			strerror(errno));
		return -1;
	}
	if (fwrite(buf, 1, len, f) != len || fflush(f))
		ret = -1;
	if (!is_stdout && fclose(f))
		ret = -1;
	if (ret)
		fprintf(stderr, "Error: cannot write \"%s\": %s\n", name,
			strerror(errno));
	return ret;
}

/* The codec's reason for rejecting an ICI, as "Error: FILE: reason" */
static void report_bad(const char *name, const void *buf, size_t len, int err)
{
	char why[256] = "";

	tcpcp_ici_check(buf, len, why, sizeof(why));
	if (!why[0])
		snprintf(why, sizeof(why), "%s", strerror(-err));
	fprintf(stderr, "Error: %s: %s\n", name, why);
}

static int do_show(int argc, char **argv, unsigned int flags)
{
	size_t len;
	void *buf;
	int ret;

	if (argc < 1)
		return missarg("FILE");
	if (argc > 1)
		return toomany(argv[1]);
	if (read_ici(argv[0], &buf, &len))
		return EXIT_FAILURE;
	ret = tcpcp_ici_print(buf, len, stdout, flags);
	if (ret == -EIO)
		fprintf(stderr, "Error: cannot write output: %s\n",
			strerror(errno));
	else if (ret < 0)
		report_bad(argv[0], buf, len, ret);
	free(buf);
	return ret < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}

static int do_check(int argc, char **argv)
{
	char why[256] = "";
	size_t len;
	void *buf;
	int ret;

	if (argc < 1)
		return missarg("FILE");
	if (argc > 1)
		return toomany(argv[1]);
	if (read_ici(argv[0], &buf, &len))
		return EXIT_FAILURE;
	ret = tcpcp_ici_check(buf, len, why, sizeof(why));
	free(buf);
	if (ret < 0) {
		if (!why[0])
			snprintf(why, sizeof(why), "%s", strerror(-ret));
		fprintf(stderr, "Error: %s: %s\n", argv[0], why);
		return EXIT_FAILURE;
	}
	printf("ok\n");
	return fflush(stdout) ? EXIT_FAILURE : EXIT_SUCCESS;
}

static int parse_addr(const char *arg, struct sockaddr_storage *ss,
		      socklen_t *sslen)
{
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
	struct sockaddr_in *sin = (struct sockaddr_in *)ss;
	char tmp[INET6_ADDRSTRLEN + 2];
	size_t n = strlen(arg);

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, arg, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		*sslen = sizeof(*sin);
		return 0;
	}
	/* IPv6, optionally in brackets */
	if (n >= 2 && n < sizeof(tmp) && arg[0] == '[' && arg[n - 1] == ']') {
		memcpy(tmp, arg + 1, n - 2);
		tmp[n - 2] = '\0';
		arg = tmp;
	}
	if (inet_pton(AF_INET6, arg, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		*sslen = sizeof(*sin6);
		return 0;
	}
	return -1;
}

/* The port field of an AF_INET or AF_INET6 address */
static in_port_t *sa_port(struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET6)
		return &((struct sockaddr_in6 *)ss)->sin6_port;
	return &((struct sockaddr_in *)ss)->sin_port;
}

static int parse_port(const char *arg, unsigned int *port)
{
	unsigned long v;
	char *end;

	if (arg[0] < '0' || arg[0] > '9')
		return -1;
	errno = 0;
	v = strtoul(arg, &end, 10);
	if (errno || *end || v < 1 || v > 65535)
		return -1;
	*port = v;
	return 0;
}

static int do_set_local(int argc, char **argv)
{
	const char *in = NULL, *addr = NULL, *port_arg = NULL, *out = NULL;
	struct sockaddr_storage ss;
	struct tcpcp_info info;
	unsigned int port;
	socklen_t sslen;
	int ret, i, rc = EXIT_FAILURE;
	size_t len;
	void *buf;

	for (i = 0; i < argc; i++) {
		if (!strcmp(argv[i], "-o")) {
			if (++i == argc)
				return missarg("OUT after \"-o\"");
			if (out)
				return invarg(argv[i], "\"-o\" given twice");
			out = argv[i];
		} else if (!in) {
			in = argv[i];
		} else if (!addr) {
			addr = argv[i];
		} else if (!port_arg) {
			port_arg = argv[i];
		} else {
			return toomany(argv[i]);
		}
	}
	if (!in)
		return missarg("FILE");
	if (!addr)
		return missarg("ADDR");
	if (!out)
		return missarg("\"-o OUT\"");
	if (parse_addr(addr, &ss, &sslen))
		return invarg(addr, "ADDR must be an IPv4 or IPv6 address");
	if (port_arg && parse_port(port_arg, &port))
		return invarg(port_arg, "PORT must be a number 1..65535");

	if (read_ici(in, &buf, &len))
		return EXIT_FAILURE;
	ret = tcpcp_ici_info(buf, len, &info);
	if (ret < 0) {
		report_bad(in, buf, len, ret);
		goto out;
	}
	/* without PORT, keep the ICI's */
	if (!port_arg)
		port = ntohs(*sa_port(&info.local));
	*sa_port(&ss) = htons(port);

	if (ss.ss_family != info.family) {
		fprintf(stderr,
			"Error: argument \"%s\" is wrong: the ICI's connection is %s, give an %s address.\n",
			addr, info.family == AF_INET6 ? "IPv6" : "IPv4",
			info.family == AF_INET6 ? "IPv6" : "IPv4");
		rc = EXIT_USAGE;
		goto out;
	}
	ret = tcpcp_ici_set_local(buf, len, (struct sockaddr *)&ss, sslen);
	if (ret < 0) {
		fprintf(stderr, "Error: argument \"%s\" is wrong: %s\n", addr,
			ret == -EINVAL ? NOT_UNICAST : strerror(-ret));
		goto out;
	}
	if (!write_ici(out, buf, len))
		rc = EXIT_SUCCESS;
out:
	free(buf);
	return rc;
}

/* "-json" and "--json" alike, as iproute2 */
static bool is_opt(const char *arg, const char *s, const char *l)
{
	if (arg[0] == '-' && arg[1] == '-')
		arg++;
	return !strcmp(arg, s) || !strcmp(arg, l);
}

int main(int argc, char **argv)
{
	unsigned int flags = 0;
	const char *cmd;

	argc--;
	argv++;
	while (argc > 0 && argv[0][0] == '-' && argv[0][1]) {
		if (is_opt(argv[0], "-j", "-json")) {
			flags |= TCPCP_PRINT_JSON;
		} else if (is_opt(argv[0], "-p", "-pretty")) {
			flags |= TCPCP_PRINT_JSON | TCPCP_PRINT_PRETTY;
		} else if (is_opt(argv[0], "-d", "-data")) {
			flags |= TCPCP_PRINT_DATA;
		} else if (is_opt(argv[0], "-h", "-help")) {
			usage(stdout);
			return EXIT_SUCCESS;
		} else {
			fprintf(stderr,
				"Option \"%s\" is unknown, try \"%s help\".\n",
				argv[0], prog);
			return EXIT_USAGE;
		}
		argc--;
		argv++;
	}
	if (argc < 1) {
		usage(stderr);
		return EXIT_USAGE;
	}
	cmd = argv[0];
	argc--;
	argv++;
	if (!strcmp(cmd, "show"))
		return do_show(argc, argv, flags);
	if (!strcmp(cmd, "check"))
		return do_check(argc, argv);
	if (!strcmp(cmd, "set-local"))
		return do_set_local(argc, argv);
	if (!strcmp(cmd, "help")) {
		usage(stdout);
		return EXIT_SUCCESS;
	}
	fprintf(stderr, "Command \"%s\" is unknown, try \"%s help\".\n", cmd,
		prog);
	return EXIT_USAGE;
}
