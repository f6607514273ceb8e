/* SPDX-License-Identifier: GPL-2.0 */
/* Live wire tests over loopback in a private network namespace (live.c). */
#ifndef TCPCP_WIRETEST_LIVE_H
#define TCPCP_WIRETEST_LIVE_H

#include <limits.h>
#include <sys/types.h>

#include "wiretest.h"

#define LIVE_PORT 8080

enum { LIVE_CLEAN, LIVE_RST };

struct live {
	int family;
	const char *addr;
	char dir[64];
	char pcap[128];
	int lfd, peer_fd, td_fd, mark_rc;
	char td_out[512]; /* what tcpdump said when it stopped */
	pid_t tcpdump, peer;
};

void live_init(struct live *l);
/* NULL, or why the test must be skipped */
const char *live_start(struct live *l, int family);
/* start peer -c ADDR -p 8080 args... */
int live_peer(struct live *l, const char *const *args);
const char *live_serve(struct live *l, uint64_t nsend, uint64_t nrecv,
		       uint32_t seed_tx, uint32_t seed_rx, int mode);
/* peer's exit status and output; then the capture is flushed and stopped */
int live_finish(struct live *l, char *out, size_t outlen);
/* run pcapcheck binary @tool on the capture */
int live_check(struct live *l, const char *tool, bool fins, char *out,
	       size_t outlen);
void live_cleanup(struct live *l);

#endif /* TCPCP_WIRETEST_LIVE_H */
