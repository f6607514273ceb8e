// SPDX-License-Identifier: GPL-2.0
/*
 * demo-move: the live part of `make demo`.  In the lab NAME (set up by
 * demo.sh) the peer streams to and from a service on host a; the service's
 * connection moves a -> b -> a with libtcpcp while both streams run.  Every
 * step is printed with its time; the verdict checks both streams byte for
 * byte and the capture taken at the peer.
 *
 * Usage: demo-move NAME
 */
#include <stdio.h>
#include <sys/socket.h>

#include "mover.h"
#include "tcpcp.h"

int main(int argc, char **argv)
{
	struct mv_scen sc = {
		.c2s = 8000000,
		.s2c = 8000000,
		.moves = 2,
		.verbose = true,
		.timeout = 20,
	};
	struct mv_result res;
	struct lab l;
	int ret, fam;

	if (argc != 2) {
		fprintf(stderr, "Usage: demo-move NAME\n");
		return 2;
	}
	lab_attach(&l, argv[1]);
	for (fam = 0; fam < 2; fam++) {
		sc.family = fam ? AF_INET6 : AF_INET;
		printf("\n%s: peer <-> service %s:%d, %llu bytes each way, backend %s\n",
		       fam ? "IPv6" : "IPv4", fam ? LAB_S6 : LAB_S4, LAB_PORT,
		       (unsigned long long)sc.s2c,
		       tcpcp_backend_name(tcpcp_backend()));
		fflush(stdout);
		ret = mv_run(&l, &sc, &res);
		printf("  verdict: %s\n",
		       ret ? "FAILED" : "moved a -> b -> a, connection intact");
		printf("    %s\n",
		       res.peer[0] ? res.peer : "peer: (no output)");
		printf("    pcapcheck at the peer: %s\n",
		       res.pcap[0] ? res.pcap : "(no output)");
		printf("    longest freeze (tcpcp_get to tcpcp_activate): %.1f ms\n",
		       res.max_freeze_ms);
		if (ret) {
			printf("    error: %s (capture kept: %s)\n", res.err,
			       res.pcapfile);
			return 1;
		}
		/* the same service port again for the next run */
		lab_route(&l, 'a');
	}
	return 0;
}
