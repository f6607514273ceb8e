// SPDX-License-Identifier: GPL-2.0
/*
 * tcpcpctl - talk to the local tcpcpd.
 *
 *   tcpcpctl [-s SOCKET] [-j] status
 *   tcpcpctl [-s SOCKET] register [port PORT] exec PROGRAM [ARG]...
 *
 * register keeps the connection open and runs PROGRAM for every socket the
 * daemon delivers, with the socket as stdin/stdout and the application
 * state on fd 3 (as the daemon's own handler).  Exit 0 ok, 1 failure,
 * 2 usage.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ctl.h"

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: tcpcpctl [-s SOCKET] [-j] { status | register [port PORT] exec PROGRAM [ARG]... }\n");
}

static int status(int c, int json)
{
	struct lmsg_status st;
	int ret = ctl_status(c, &st);

	if (ret) {
		fprintf(stderr, "Error: status: %s\n", strerror(-ret));
		return 1;
	}
#define F(n)             \
	{                \
#n, st.n \
	}
	struct {
		const char *n;
		uint64_t v;
	} f[] = {
		F(moves_out_ok),    F(moves_out_failed),  F(moves_in_ok),
		F(moves_in_failed), F(endpoints_created), F(auth_failures),
		F(proto_errors),    F(local_refused),	  F(moves_active),
		F(registered),
	};
#undef F
	if (json)
		printf("{");
	for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++) {
		if (json)
			printf("%s\"%s\":%" PRIu64, i ? "," : "", f[i].n,
			       f[i].v);
		else
			printf("%s %" PRIu64 "\n", f[i].n, f[i].v);
	}
	if (json)
		printf("}\n");
	return 0;
}

static int serve(int c, unsigned int port, char **argv)
{
	struct lmsg_result res;
	struct lmsg_deliver d;
	static uint8_t app[64 << 10];
	int ret, fd;

	ret = ctl_register(c, (uint16_t)port, &res);
	if (ret) {
		fprintf(stderr, "Error: register: %s\n", strerror(-ret));
		return 1;
	}
	signal(SIGCHLD, SIG_IGN);
	for (;;) {
		ret = ctl_recv_deliver(c, -1, &fd, &d, app, sizeof(app));
		if (ret) {
			fprintf(stderr, "Error: receive: %s\n", strerror(-ret));
			return 1;
		}
		if (fork() == 0) {
			int m = memfd_create("tcpcp-app-state", 0);

			if (m < 0 ||
			    write(m, app, d.app_len) != (ssize_t)d.app_len ||
			    lseek(m, 0, SEEK_SET) < 0 || dup2(m, 3) < 0 ||
			    dup2(fd, 0) < 0 || dup2(fd, 1) < 0)
				_exit(127);
			close(c);
			execvp(argv[0], argv);
			_exit(127);
		}
		close(fd);
	}
}

int main(int argc, char **argv)
{
	const char *path = NULL;
	unsigned int port = 0;
	int opt, json = 0, c, ret;

	while ((opt = getopt(argc, argv, "+s:jh")) != -1) {
		switch (opt) {
		case 's':
			path = optarg;
			break;
		case 'j':
			json = 1;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	argv += optind;
	argc -= optind;
	if (argc < 1) {
		usage(stderr);
		return 2;
	}
	if (strcmp(argv[0], "status") && strcmp(argv[0], "register")) {
		fprintf(stderr,
			"Error: argument \"%s\" is wrong: expected status or register\n",
			argv[0]);
		return 2;
	}
	if (!strcmp(argv[0], "register")) {
		argv++;
		argc--;
		if (argc >= 2 && !strcmp(argv[0], "port")) {
			char *end;

			port = (unsigned int)strtoul(argv[1], &end, 10);
			if (*end || !port || port > 65535) {
				fprintf(stderr,
					"Error: argument \"%s\" is wrong: port is 1..65535\n",
					argv[1]);
				return 2;
			}
			argv += 2;
			argc -= 2;
		}
		if (argc < 2 || strcmp(argv[0], "exec")) {
			fprintf(stderr,
				"Error: register needs \"exec PROGRAM\"\n");
			return 2;
		}
	}
	c = ctl_connect(path);
	if (c < 0) {
		fprintf(stderr, "Error: cannot reach tcpcpd at %s: %s\n",
			path ? path : TCPCPD_SOCKET_DEFAULT, strerror(-c));
		return 1;
	}
	if (!strcmp(argv[0], "status"))
		ret = status(c, json);
	else
		ret = serve(c, port, argv + 1);
	close(c);
	return ret;
}
