// SPDX-License-Identifier: GPL-2.0
/*
 * Tests of the lab's wire tools: the test streams, pcapcheck on crafted
 * captures (one per violation it must catch and clean ones it must pass,
 * every supported file and link format), and live captures of peer over
 * loopback in a private network namespace (clean must pass, RST must fail).
 * pcapcheck runs twice per crafted case: the normal build and the ASan/UBSan
 * one (pcapcheck-san).
 */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "live.h"
#include "stream.h"
#include "wiretest.h"

#define SRV4 "198.18.100.1:8080"
#define SRV6 "[fd00:7c:100::1]:8080"

static const char *const checkers[] = { "pcapcheck", "pcapcheck-san" };

/* Run checker @tool with the options in @opts (space separated) on @file. */
static int checker(const char *tool, const char *opts, const char *file,
		   char *out, size_t outlen)
{
	char o[256], *argv[16], *tok, *save = NULL;
	int n = 0, rc;

	snprintf(o, sizeof(o), "%s", opts);
	argv[n++] = strdup(bin_path(tool));
	for (tok = strtok_r(o, " ", &save); tok && n < 14;
	     tok = strtok_r(NULL, " ", &save))
		argv[n++] = tok;
	if (file)
		argv[n++] = (char *)file;
	argv[n] = NULL;
	rc = run_tool(argv, out, outlen, 30);
	free(argv[0]);
	return rc;
}

/* Both checkers give exit status @rc and print @str (when not NULL). */
#define CHECK(file, opts, rc, str)                                            \
	do {                                                                  \
		char _o[16384];                                               \
		for (size_t _i = 0; _i < 2; _i++) {                           \
			int _r = checker(checkers[_i], opts, file, _o,        \
					 sizeof(_o));                         \
			EXPECT_EQ(rc, _r)                                     \
			TH_LOG("%s %s: %s", checkers[_i], opts, _o);          \
			if (str)                                              \
				EXPECT_NE(NULL, strstr(_o, str))              \
			TH_LOG("%s %s: no \"%s\" in: %s", checkers[_i], opts, \
			       (const char *)(str), _o);                      \
		}                                                             \
	} while (0)

FIXTURE(cap)
{
	char path[64];
	struct trace t;
};

FIXTURE_SETUP(cap)
{
	snprintf(self->path, sizeof(self->path), "/tmp/tcpcp-wiretest-%d.pcap",
		 getpid());
}

FIXTURE_TEARDOWN(cap)
{
	unlink(self->path);
}

/* handshake and some data both ways, all acknowledged */
static void exchange(struct trace *t)
{
	trace_handshake(t);
	trace_data(t, CLI, 0, 100);
	trace_data(t, SRV, 0, 1000);
	trace_data(t, SRV, 1000, 1000);
	trace_ack(t, CLI);
	trace_data(t, CLI, 100, 50);
	trace_ack(t, SRV);
}

/* retransmissions, a keepalive, both FINs: clean in every format */
static void clean_trace(struct trace *t)
{
	exchange(t);
	trace_data(t, SRV, 2000, 1400);
	trace_data(t, SRV, 3400, 1400);
	trace_data(t, SRV, 2000, 1400); /* identical retransmission */
	trace_data(t, SRV, 3000, 2000); /* overlaps old and new data */
	trace_ack(t, CLI);
	trace_raw(t, SRV, TF_ACK, trace_seq(t, SRV, t->next[SRV]) - 1,
		  trace_seq(t, CLI, t->next[CLI]), t->ts[SRV]++, NULL,
		  0); /* keepalive */
	trace_fin(t, CLI);
	trace_ack(t, SRV);
	trace_fin(t, SRV);
	trace_fin(t, SRV); /* FIN retransmission */
	trace_ack(t, CLI);
}

TEST_F(cap, clean_formats)
{
	static const struct {
		int family;
		uint32_t lt;
		bool swap, nsec;
	} f[] = {
		{ AF_INET, 1, false, false },	{ AF_INET, 113, true, false },
		{ AF_INET, 276, false, true },	{ AF_INET, 101, true, true },
		{ AF_INET6, 1, true, true },	{ AF_INET6, 113, false, true },
		{ AF_INET6, 276, true, false }, { AF_INET6, 101, false, false },
	};

	for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++) {
		TH_LOG("family %d linktype %u swap %d nsec %d", f[i].family,
		       f[i].lt, f[i].swap, f[i].nsec);
		ASSERT_EQ(0, trace_open(&self->t, self->path, f[i].family,
					f[i].lt, f[i].swap, f[i].nsec));
		clean_trace(&self->t);
		trace_close(&self->t);
		CHECK(self->path,
		      f[i].family == AF_INET ?
			      "--server " SRV4 " --server-fin --client-fin" :
			      "--server " SRV6 " --server-fin --client-fin",
		      0,
		      "packets=20 server_segs=12 retrans=3 max_stall_ms=4.000 verdict=ok");
		CHECK(self->path,
		      f[i].family == AF_INET ? "--server " SRV4 " -v" :
					       "--server " SRV6 " -v",
		      1, "FIN from client");
	}
}

TEST_F(cap, rst)
{
	ASSERT_EQ(0,
		  trace_open(&self->t, self->path, AF_INET, 1, false, false));
	exchange(&self->t);
	trace_raw(&self->t, SRV, TF_RST, trace_seq(&self->t, SRV, 2000), 0, 0,
		  NULL, 0);
	trace_close(&self->t);
	CHECK(self->path, "--server " SRV4, 1,
	      "packet 10 t=0.009000 client 198.18.0.1:40000:"
	      " RST from server");

	ASSERT_EQ(0,
		  trace_open(&self->t, self->path, AF_INET6, 1, false, false));
	exchange(&self->t);
	trace_raw(&self->t, CLI, TF_RST | TF_ACK, trace_seq(&self->t, CLI, 150),
		  trace_seq(&self->t, SRV, 2000), 0, NULL, 0);
	trace_close(&self->t);
	CHECK(self->path, "--server " SRV6, 1,
	      "client [fd00:7c::1]:40000: RST from client");
	CHECK(self->path, "--server " SRV6, 1, "verdict=FAIL");
}

TEST_F(cap, syn)
{
	struct trace *t = &self->t;

	/* exact SYN and SYN-ACK retransmissions pass */
	ASSERT_EQ(0, trace_open(t, self->path, AF_INET, 1, false, false));
	trace_raw(t, CLI, TF_SYN, t->isn[CLI], 0, 1, NULL, 0);
	trace_raw(t, CLI, TF_SYN, t->isn[CLI], 0, 2, NULL, 0);
	trace_raw(t, SRV, TF_SYN | TF_ACK, t->isn[SRV], t->isn[CLI] + 1, 5,
		  NULL, 0);
	trace_raw(t, SRV, TF_SYN | TF_ACK, t->isn[SRV], t->isn[CLI] + 1, 6,
		  NULL, 0);
	trace_ack(t, CLI);
	trace_data(t, SRV, 0, 100);
	trace_close(t);
	CHECK(self->path, "--server " SRV4, 0, "verdict=ok");

	/* a new SYN after the handshake */
	ASSERT_EQ(0, trace_open(t, self->path, AF_INET, 1, false, false));
	exchange(t);
	trace_raw(t, CLI, TF_SYN, 77777, 0, t->ts[CLI]++, NULL, 0);
	trace_close(t);
	CHECK(self->path, "--server " SRV4, 1,
	      "SYN from client after the handshake");

	/* a SYN-ACK with another sequence number */
	ASSERT_EQ(0, trace_open(t, self->path, AF_INET6, 1, false, false));
	exchange(t);
	trace_raw(t, SRV, TF_SYN | TF_ACK, 999, t->isn[CLI] + 1, t->ts[SRV]++,
		  NULL, 0);
	trace_close(t);
	CHECK(self->path, "--server " SRV6, 1,
	      "SYN from server other than the initial");
}

TEST_F(cap, fin)
{
	struct trace *t = &self->t;

	ASSERT_EQ(0, trace_open(t, self->path, AF_INET, 113, false, false));
	exchange(t);
	trace_fin(t, SRV);
	trace_ack(t, CLI);
	trace_ack(t, SRV);
	trace_close(t);
	CHECK(self->path, "--server " SRV4, 1, "FIN from server (not allowed");
	CHECK(self->path, "--server " SRV4 " --client-fin", 1,
	      "FIN from server");
	CHECK(self->path, "--server " SRV4 " --server-fin", 0, "verdict=ok");

	/* new data after the FIN */
	ASSERT_EQ(0, trace_open(t, self->path, AF_INET, 113, false, false));
	exchange(t);
	trace_fin(t, SRV);
	trace_data(t, SRV, 2000, 10);
	trace_close(t);
	CHECK(self->path, "--server " SRV4 " --server-fin", 1,
	      "server sent data after its FIN");

	/* client: FIN, then data */
	ASSERT_EQ(0, trace_open(t, self->path, AF_INET6, 276, false, false));
	exchange(t);
	trace_fin(t, CLI);
	trace_close(t);
	CHECK(self->path, "--server " SRV6, 1, "FIN from client (not allowed");
	CHECK(self->path, "--server " SRV6 " --client-fin", 0, "verdict=ok");
	ASSERT_EQ(0, trace_open(t, self->path, AF_INET6, 276, false, false));
	exchange(t);
	trace_fin(t, CLI);
	trace_data(t, CLI, 150, 10);
	trace_close(t);
	CHECK(self->path, "--server " SRV6 " --client-fin", 1,
	      "client sent data after its FIN");
}

TEST_F(cap, tsval)
{
	struct trace *t = &self->t;

	ASSERT_EQ(0, trace_open(t, self->path, AF_INET, 1, false, false));
	exchange(t);
	t->ts[SRV] -= 3;
	trace_data(t, SRV, 2000, 100);
	trace_close(t);
	CHECK(self->path, "--server " SRV4, 1,
	      "server TSval went back from 7003 to 7001");

	/* 32-bit wrap is no step back */
	ASSERT_EQ(0, trace_open(t, self->path, AF_INET, 1, false, false));
	t->ts[SRV] = 0xfffffffd;
	exchange(t);
	trace_data(t, SRV, 2000, 100);
	trace_close(t);
	CHECK(self->path, "--server " SRV4, 0, "verdict=ok");
}

TEST_F(cap, retransmission_differs)
{
	struct trace *t = &self->t;
	uint8_t buf[1000];

	ASSERT_EQ(0, trace_open(t, self->path, AF_INET, 1, true, true));
	exchange(t);
	stream_fill(t->seed[SRV], 1000, buf, sizeof(buf));
	buf[500] ^= 0x40;
	trace_raw(t, SRV, TF_ACK, trace_seq(t, SRV, 1000),
		  trace_seq(t, CLI, 150), t->ts[SRV]++, buf, sizeof(buf));
	trace_close(t);
	CHECK(self->path, "--server " SRV4, 1,
	      "server retransmission differs from the first "
	      "transmission at seq 501501");

	/* bytes never seen before (a capture gap) are no retransmission to check */
	ASSERT_EQ(0, trace_open(t, self->path, AF_INET, 1, false, false));
	trace_handshake(t);
	trace_data(t, SRV, 1000, 1000);
	trace_data(t, SRV, 0, 1000);
	trace_data(t, SRV, 500, 1000);
	trace_close(t);
	CHECK(self->path, "--server " SRV4, 0, "retrans=2");
}

TEST_F(cap, sequence_back)
{
	struct trace *t = &self->t;

	/* a pure ACK below the highest sequence, not a keepalive */
	ASSERT_EQ(0, trace_open(t, self->path, AF_INET, 1, false, false));
	exchange(t);
	trace_raw(t, SRV, TF_ACK, trace_seq(t, SRV, 1000),
		  trace_seq(t, CLI, 150), t->ts[SRV]++, NULL, 0);
	trace_close(t);
	CHECK(self->path, "--server " SRV4, 1,
	      "server sequence went back: seq 501001 "
	      "below highest 502001");

	/* client ACK number is 502001: a probe at 502000 is fine, 501999 is not */
	ASSERT_EQ(0, trace_open(t, self->path, AF_INET6, 101, false, false));
	exchange(t);
	trace_raw(t, SRV, TF_ACK, trace_seq(t, SRV, 2000) - 1,
		  trace_seq(t, CLI, 150), t->ts[SRV]++, NULL, 0);
	trace_close(t);
	CHECK(self->path, "--server " SRV6, 0, "verdict=ok");
	ASSERT_EQ(0, trace_open(t, self->path, AF_INET6, 101, false, false));
	exchange(t);
	trace_raw(t, SRV, TF_ACK, trace_seq(t, SRV, 2000) - 2,
		  trace_seq(t, CLI, 150), t->ts[SRV]++, NULL, 0);
	trace_close(t);
	CHECK(self->path, "--server " SRV6, 1, "server sequence went back");
}

TEST_F(cap, ack_back)
{
	struct trace *t = &self->t;

	ASSERT_EQ(0, trace_open(t, self->path, AF_INET, 1, false, false));
	exchange(t);
	trace_raw(t, SRV, TF_ACK, trace_seq(t, SRV, 2000),
		  trace_seq(t, CLI, 100), t->ts[SRV]++, NULL, 0);
	trace_close(t);
	CHECK(self->path, "--server " SRV4, 1,
	      "server ACK went back from 1151 to 1101");
}

/* an older packet captured just after newer ones was reordered on the way */
TEST_F(cap, reordering)
{
	struct trace *t = &self->t;
	uint32_t step[] = { 200, 3000 };

	for (int i = 0; i < 2; i++) {
		ASSERT_EQ(0,
			  trace_open(t, self->path, AF_INET, 1, false, false));
		t->step_us = step[i];
		exchange(t);
		/* sent before the last ACK and data: ACK 1101, TSval 7002 */
		trace_data(t, SRV, 2000, 100);
		trace_ack(t, SRV);
		trace_raw(t, SRV, TF_ACK, trace_seq(t, SRV, 2000),
			  trace_seq(t, CLI, 100), 7002, NULL, 0);
		trace_close(t);
		if (i == 0) {
			CHECK(self->path, "--server " SRV4 " -v", 0,
			      "reordered=1");
			CHECK(self->path, "--server " SRV4 " --reorder-ms 0", 1,
			      "server TSval went back from 7005 to 7002");
			CHECK(self->path, "--server " SRV4 " --reorder-ms 0", 1,
			      "server ACK went back from 1151 to 1101");
			CHECK(self->path, "--server " SRV4 " --reorder-ms 0", 1,
			      "server sequence went back: seq 502001 below highest 502101");
		} else {
			CHECK(self->path, "--server " SRV4, 1,
			      "server ACK went back");
		}
	}
}

TEST_F(cap, sequence_wrap)
{
	struct trace *t = &self->t;
	uint8_t buf[3000];

	ASSERT_EQ(0, trace_open(t, self->path, AF_INET, 1, false, false));
	t->isn[SRV] = 0xfffff000;
	t->isn[CLI] = 0xffffffff;
	exchange(t);
	trace_data(t, SRV, 2000, 3000);
	trace_data(t, SRV, 3000, 2000); /* retransmission across the wrap */
	trace_ack(t, CLI);
	trace_ack(t, SRV);
	trace_close(t);
	CHECK(self->path, "--server " SRV4, 0, "retrans=1");

	ASSERT_EQ(0, trace_open(t, self->path, AF_INET, 1, false, false));
	t->isn[SRV] = 0xfffff000;
	exchange(t);
	trace_data(t, SRV, 2000, 3000);
	stream_fill(t->seed[SRV], 2000, buf, sizeof(buf));
	buf[2500] ^= 1; /* offset 4500: seq 0xfffff001 + 4500 = 405 */
	trace_raw(t, SRV, TF_ACK, trace_seq(t, SRV, 2000),
		  trace_seq(t, CLI, 150), t->ts[SRV]++, buf, sizeof(buf));
	trace_close(t);
	CHECK(self->path, "--server " SRV4, 1, "transmission at seq 405 ");
}

TEST_F(cap, connections)
{
	struct trace *t = &self->t;

	/* two clients: the clean one passes, the other one's RST is reported */
	ASSERT_EQ(0, trace_open(t, self->path, AF_INET, 1, false, false));
	exchange(t);
	t->port[CLI] = 40001;
	t->next[0] = t->next[1] = 0;
	exchange(t);
	trace_raw(t, CLI, TF_RST, trace_seq(t, CLI, 150), 0, 0, NULL, 0);
	/* RST and SYN of other services do not matter */
	t->port[SRV] = 8081;
	exchange(t);
	trace_raw(t, SRV, TF_RST, 1, 0, 0, NULL, 0);
	trace_close(t);
	CHECK(self->path, "--server " SRV4 " -v", 1,
	      "client 198.18.0.1:40001: RST from client");
	CHECK(self->path, "--server " SRV4 " -v", 1,
	      "client 198.18.0.1:40000 server_segs=4 retrans=0 unverified=0 reordered=0 max_stall_ms=");
	CHECK(self->path, "--server 198.18.100.1:8081 -v", 1,
	      "RST from server");
	CHECK(self->path, "--server 198.18.100.1:8082", 1,
	      "no packets to or from the server");
	CHECK(self->path, "--server " SRV6, 1,
	      "no packets to or from the server");
}

TEST_F(cap, window)
{
	struct trace *t = &self->t;
	uint8_t buf[1000];
	uint64_t off;

	/* 200 KB with a 64 KB window: old retransmissions go unverified */
	ASSERT_EQ(0, trace_open(t, self->path, AF_INET, 1, false, false));
	trace_handshake(t);
	for (off = 0; off < 200000; off += 1000)
		trace_data(t, SRV, off, 1000);
	stream_fill(t->seed[SRV], 1000, buf, sizeof(buf));
	buf[0] ^= 1;
	trace_raw(t, SRV, TF_ACK, trace_seq(t, SRV, 1000), trace_seq(t, CLI, 0),
		  t->ts[SRV]++, buf, sizeof(buf));
	trace_data(t, SRV, 150000, 1000);
	trace_close(t);
	CHECK(self->path, "--server " SRV4 " --window 65536 -v", 0,
	      "unverified=1");
	CHECK(self->path, "--server " SRV4, 1, "differs");
}

TEST_F(cap, bad_files)
{
	struct trace *t = &self->t;
	FILE *f;

	CHECK(NULL, "", 2, "Usage");
	CHECK(self->path, "", 2, "Usage");
	CHECK(self->path, "--server 198.18.100.1", 2, "Usage");
	CHECK(self->path, "--server fd00::1:80", 2, "[ADDR]:PORT");
	CHECK(self->path, "--server 198.18.100.300:80", 2, "bad address");
	CHECK(self->path, "--server 198.18.100.1:0", 2, "bad port");
	CHECK("/nonexistent/x.pcap", "--server " SRV4, 2, "cannot open");
	f = fopen(self->path, "w");
	ASSERT_NE(NULL, f);
	fputs("this is not a capture at all", f);
	fclose(f);
	CHECK(self->path, "--server " SRV4, 2, "not a pcap file");
	f = fopen(self->path, "w");
	fwrite("\x0a\x0d\x0d\x0a\x1c\0\0\0\x4d\x3c\x2b\x1a\1\0\0\0\xff\xff\xff\xff\xff\xff\xff\xff",
	       1, 24, f);
	fclose(f);
	CHECK(self->path, "--server " SRV4, 2, "pcapng is not supported");
	/* a record cut short at the end (tcpdump killed) is a warning */
	ASSERT_EQ(0, trace_open(t, self->path, AF_INET, 1, false, false));
	exchange(t);
	trace_trunc_tail(t);
	trace_close(t);
	CHECK(self->path, "--server " SRV4, 0, "ends inside record 10");
	/* an empty capture can not pass */
	ASSERT_EQ(0, trace_open(t, self->path, AF_INET, 1, false, false));
	trace_close(t);
	CHECK(self->path, "--server " SRV4, 1,
	      "packets=0 server_segs=0 retrans=0");
}

TEST(stream)
{
	uint8_t a[4096], b[4096];
	size_t i;

	stream_fill(5, 1000, a, sizeof(a));
	for (i = 0; i < sizeof(a); i++)
		ASSERT_EQ(stream_byte(5, 1000 + i), a[i]);
	/* random access: any split gives the same bytes */
	stream_fill(5, 1000, b, 3);
	stream_fill(5, 1003, b + 3, 1000);
	stream_fill(5, 2003, b + 1003, sizeof(b) - 1003);
	ASSERT_EQ(0, memcmp(a, b, sizeof(a)));
	ASSERT_EQ(-1, stream_check(5, 1000, a, sizeof(a)));
	ASSERT_EQ(-1, stream_check(5, 1017, a + 17, 999));
	a[2345] ^= 0x80;
	ASSERT_EQ(1000 + 2345, stream_check(5, 1000, a, sizeof(a)));
	ASSERT_EQ(3345, stream_check(5, 3000, a + 2000, 500));
	/* other seeds, other bytes */
	stream_fill(6, 1000, b, sizeof(b));
	ASSERT_NE(0, memcmp(a, b, sizeof(a)));
	ASSERT_EQ(1000, stream_check(6, 1000, a, sizeof(a)));
}

/* peer: usage errors exit 2, a failed connection 1 with the reason */
TEST(peer_usage)
{
	char *none[] = { NULL, NULL };
	char *family[] = { NULL, "-c",	      "127.0.0.1", "-p",
			   "1",	 "--bind",    "::1",	   "--send",
			   "1",	 "--recv",    "1",	   "--seed-tx",
			   "1",	 "--seed-rx", "2",	   NULL };
	char *size[] = { NULL,	   "-c",	"127.0.0.1", "-p", "1",
			 "--send", "1x",	"--recv",    "1",  "--seed-tx",
			 "1",	   "--seed-rx", "2",	     NULL };
	char *refused[] = { NULL, "-c",	       "127.0.0.1", "-p",
			    "1",  "--send",    "1",	    "--recv",
			    "1",  "--seed-tx", "1",	    "--seed-rx",
			    "2",  NULL };
	char out[4096];

	none[0] = family[0] = size[0] = refused[0] = strdup(bin_path("peer"));
	ASSERT_EQ(2, run_tool(none, out, sizeof(out), 10));
	EXPECT_NE(NULL, strstr(out, "Usage: peer"));
	ASSERT_EQ(2, run_tool(family, out, sizeof(out), 10));
	EXPECT_NE(NULL, strstr(out, "same address family")) TH_LOG("%s", out);
	ASSERT_EQ(2, run_tool(size, out, sizeof(out), 10));
	EXPECT_NE(NULL, strstr(out, "N must be a number")) TH_LOG("%s", out);
	/* nothing listens on port 1 of loopback */
	ASSERT_EQ(1, run_tool(refused, out, sizeof(out), 10));
	EXPECT_NE(NULL, strstr(out, "peer: sent=0 rcvd=0 FAIL: connect "
				    "127.0.0.1 port 1: Connection refused"))
	TH_LOG("%s", out);
	free(none[0]);
}

FIXTURE(live)
{
	struct live l;
};

FIXTURE_VARIANT(live)
{
	int family;
};

FIXTURE_VARIANT_ADD(live, ipv4){
	.family = AF_INET,
};

FIXTURE_VARIANT_ADD(live, ipv6){
	.family = AF_INET6,
};

FIXTURE_SETUP(live)
{
	const char *why;

	live_init(&self->l);
	why = live_start(&self->l, variant->family);
	if (why)
		SKIP(return, "%s", why);
}

FIXTURE_TEARDOWN(live)
{
	live_cleanup(&self->l);
}

/* 2 MB each way, both sides close: peer and pcapcheck both say ok */
TEST_F(live, clean)
{
	const char *args[] = { "--send",       "2M",	    "--recv",
			       "2M",	       "--seed-tx", "1",
			       "--seed-rx",    "2",	    "--shut-after-send",
			       "--expect-eof", NULL };
	char out[4096];

	ASSERT_EQ(0, live_peer(&self->l, args));
	ASSERT_EQ(NULL,
		  live_serve(&self->l, 2000000, 2000000, 2, 1, LIVE_CLEAN));
	ASSERT_EQ(0, live_finish(&self->l, out, sizeof(out))) TH_LOG("%s", out);
	ASSERT_NE(NULL, strstr(out, "peer: sent=2000000 rcvd=2000000 ok"))
	TH_LOG("%s", out);
	ASSERT_EQ(0, self->l.mark_rc);
	for (int i = 0; i < 2; i++) {
		EXPECT_EQ(0, live_check(&self->l, bin_path(checkers[i]), true,
					out, sizeof(out)))
		TH_LOG("%s", out);
		EXPECT_NE(NULL, strstr(out, "verdict=ok")) TH_LOG("%s", out);
		/* both FINs were captured: without leave to close, it fails */
		EXPECT_EQ(1, live_check(&self->l, bin_path(checkers[i]), false,
					out, sizeof(out)));
		EXPECT_NE(NULL, strstr(out, "FIN from server"))
		TH_LOG("%s", out);
		EXPECT_NE(NULL, strstr(out, "FIN from client"))
		TH_LOG("%s", out);
	}
}

/* the server closes with SO_LINGER 0: peer and pcapcheck see the RST */
TEST_F(live, rst)
{
	const char *args[] = { "--send",    "100k", "--recv",	 "100k",
			       "--seed-tx", "1",    "--seed-rx", "2",
			       "--timeout", "20",   NULL };
	char out[4096];

	ASSERT_EQ(0, live_peer(&self->l, args));
	ASSERT_EQ(NULL, live_serve(&self->l, 0, 100000, 2, 1, LIVE_RST));
	ASSERT_EQ(1, live_finish(&self->l, out, sizeof(out))) TH_LOG("%s", out);
	ASSERT_NE(NULL, strstr(out, "FAIL: ")) TH_LOG("%s", out);
	TH_LOG("%s", out);
	ASSERT_EQ(0, self->l.mark_rc) TH_LOG("tcpdump: %s", self->l.td_out);
	TH_LOG("tcpdump: %s", self->l.td_out);
	for (int i = 0; i < 2; i++) {
		EXPECT_EQ(1, live_check(&self->l, bin_path(checkers[i]), true,
					out, sizeof(out)))
		TH_LOG("%s", out);
		EXPECT_NE(NULL, strstr(out, "RST from server"))
		TH_LOG("%s", out);
	}
}

/* peer finds the first wrong byte, and honours --rate */
TEST_F(live, peer_checks)
{
	const char *bad[] = { "--send",	      "0", "--recv",	"50000",
			      "--seed-tx",    "1", "--seed-rx", "2",
			      "--expect-eof", NULL };
	const char *slow[] = { "--send",
			       "300k",
			       "--recv",
			       "0",
			       "--seed-tx",
			       "1",
			       "--seed-rx",
			       "2",
			       "--rate",
			       "1M",
			       "--shut-after-send",
			       "--expect-eof",
			       NULL };
	struct timespec a, b;
	char out[4096];

	ASSERT_EQ(0, live_peer(&self->l, bad));
	live_serve(&self->l, 50000, 0, 3, 1, LIVE_CLEAN); /* peer gives up */
	ASSERT_EQ(1, live_finish(&self->l, out, sizeof(out))) TH_LOG("%s", out);
	ASSERT_NE(NULL, strstr(out, "FAIL: data mismatch at offset 0"))
	TH_LOG("%s", out);

	ASSERT_EQ(0, live_peer(&self->l, slow));
	clock_gettime(CLOCK_MONOTONIC, &a);
	ASSERT_EQ(NULL, live_serve(&self->l, 0, 300000, 2, 1, LIVE_CLEAN));
	clock_gettime(CLOCK_MONOTONIC, &b);
	ASSERT_EQ(0, live_finish(&self->l, out, sizeof(out))) TH_LOG("%s", out);
	ASSERT_NE(NULL, strstr(out, "peer: sent=300000 rcvd=0 ok"))
	TH_LOG("%s", out);
	/* 300 kB at 1 MB/s: 0.3 s */
	EXPECT_GE((b.tv_sec - a.tv_sec) * 1000 +
			  (b.tv_nsec - a.tv_nsec) / 1000000,
		  250);
}

TEST_HARNESS_MAIN
