// SPDX-License-Identifier: GPL-2.0
/*
 * The socket-free public calls on ICIs: tcpcp_ici_check, tcpcp_ici_info,
 * tcpcp_ici_set_local, tcpcp_ici_print (text and JSON, the JSON parsed by
 * python3), tcpcp_size.
 */
/*
 * clang-format cannot parse kselftest_harness.h idioms (ASSERT_*() TH_LOG(),
 * FIXTURE blocks): this file is formatted by hand in kernel style.
 */
/* clang-format off */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kselftest_harness.h"

#include "ici.h"
#include "ici_sample.h"
#include "tcpcp.h"

FIXTURE(api) {
	struct sample s;
	uint8_t *buf;
	size_t len;
	char why[256];
};

FIXTURE_VARIANT(api) {
	uint8_t family;
	int af;
	const char *laddr, *raddr; /* the sample's, as text */
	const char *naddr; /* another local address */
	const char *bad_addr; /* an address ici_validate refuses */
};

FIXTURE_VARIANT_ADD(api, ipv4) {
	.family = TCPCP_FAMILY_INET,
	.af = AF_INET,
	.laddr = "198.18.100.1",
	.raddr = "198.18.0.1",
	.naddr = "198.18.2.1",
	.bad_addr = "224.0.0.1",
};

FIXTURE_VARIANT_ADD(api, ipv6) {
	.family = TCPCP_FAMILY_INET6,
	.af = AF_INET6,
	.laddr = "fd00:7c:100::1",
	.raddr = "fd00:7c::1",
	.naddr = "fd00:7c:2::1",
	.bad_addr = "ff02::1",
};

static void make(struct __test_metadata *_metadata, FIXTURE_DATA(api) * self,
		 uint8_t family, uint8_t state, unsigned int shape)
{
	free(self->buf);
	sample_init(&self->s, family, state, shape);
	ASSERT_EQ(0, ici_encode_alloc(&self->s.ici, (void **)&self->buf,
				      &self->len));
}

FIXTURE_SETUP(api)
{
	memset(self, 0, sizeof(*self));
	make(_metadata, self, variant->family, TCPCP_STATE_ESTABLISHED,
	     SAMPLE_ALL);
}

FIXTURE_TEARDOWN(api)
{
	free(self->buf);
}

/* A sockaddr of the variant's family */
static socklen_t mkaddr(struct sockaddr_storage *ss, int af, const char *a,
			uint16_t port)
{
	memset(ss, 0, sizeof(*ss));
	ss->ss_family = af;
	if (af == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)ss;

		inet_pton(AF_INET, a, &sin->sin_addr);
		sin->sin_port = htons(port);
		return sizeof(*sin);
	}
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

	inet_pton(AF_INET6, a, &sin6->sin6_addr);
	sin6->sin6_port = htons(port);
	return sizeof(*sin6);
}

static void sa_text(const struct sockaddr_storage *ss, char *buf, size_t len,
		    uint16_t *port)
{
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *sin = (const void *)ss;

		inet_ntop(AF_INET, &sin->sin_addr, buf, len);
		*port = ntohs(sin->sin_port);
	} else {
		const struct sockaddr_in6 *sin6 = (const void *)ss;

		inet_ntop(AF_INET6, &sin6->sin6_addr, buf, len);
		*port = ntohs(sin6->sin6_port);
	}
}

TEST_F(api, check)
{
	char small[8];
	uint8_t *copy = malloc(self->len);

	ASSERT_NE(NULL, copy);
	EXPECT_EQ(0, tcpcp_ici_check(self->buf, self->len, self->why,
				     sizeof(self->why)));
	EXPECT_EQ(0, tcpcp_ici_check(self->buf, self->len, NULL, 0));
	EXPECT_EQ(-EINVAL, tcpcp_ici_check(self->buf, self->len - 1, self->why,
					   sizeof(self->why)));
	EXPECT_NE(0, self->why[0]);
	EXPECT_EQ(-EINVAL, tcpcp_ici_check(NULL, 0, NULL, 0));
	/* the reason is cut to fit, NUL-terminated */
	memset(small, 'x', sizeof(small));
	EXPECT_EQ(-EINVAL, tcpcp_ici_check(self->buf, 3, small, sizeof(small)));
	EXPECT_EQ(0, small[sizeof(small) - 1]);
	memcpy(copy, self->buf, self->len);
	copy[4] = TCPCP_ICI_MAJOR + 1;
	EXPECT_EQ(-EPROTONOSUPPORT, tcpcp_ici_check(copy, self->len, self->why,
						    sizeof(self->why)));
	free(copy);
}

TEST_F(api, size)
{
	uint8_t *copy = malloc(self->len);

	ASSERT_NE(NULL, copy);
	EXPECT_EQ((int)self->len, tcpcp_size(self->buf));
	memcpy(copy, self->buf, self->len);
	copy[0] ^= 1;
	errno = 0;
	EXPECT_EQ(-1, tcpcp_size(copy));
	EXPECT_EQ(EINVAL, errno);
	memcpy(copy, self->buf, self->len);
	put_be32(copy + 8, 15);
	errno = 0;
	EXPECT_EQ(-1, tcpcp_size(copy));
	EXPECT_EQ(EINVAL, errno);
	put_be32(copy + 8, TCPCP_ICI_MAX_LEN + 1);
	errno = 0;
	EXPECT_EQ(-1, tcpcp_size(copy));
	EXPECT_EQ(EINVAL, errno);
	free(copy);
}

TEST_F(api, info)
{
	unsigned int i, shape;

	for (i = 0; i < sample_nstates; i++) {
		for (shape = 0; shape <= SAMPLE_ALL; shape += 5) {
			struct ici *c = &self->s.ici;
			struct tcpcp_info info;
			char a[INET6_ADDRSTRLEN];
			uint16_t port;

			if (sample_states[i] == TCPCP_STATE_FIN_WAIT2)
				continue; /* see codec.roundtrip_fin_wait2 */
			make(_metadata, self, variant->family, sample_states[i],
			     shape);
			memset(&info, 0xa5, sizeof(info));
			ASSERT_EQ(0,
				  tcpcp_ici_info(self->buf, self->len, &info))
				TH_LOG("state %u shape %#x", c->state, shape);
			EXPECT_EQ(variant->af, info.family);
			EXPECT_EQ(c->state, info.state);
			EXPECT_EQ(variant->af, info.local.ss_family);
			EXPECT_EQ(variant->af, info.remote.ss_family);
			sa_text(&info.local, a, sizeof(a), &port);
			EXPECT_STREQ(variant->laddr, a);
			EXPECT_EQ(80, port);
			sa_text(&info.remote, a, sizeof(a), &port);
			EXPECT_STREQ(variant->raddr, a);
			EXPECT_EQ(40000, port);
			EXPECT_EQ(c->snd_una, info.snd_una);
			EXPECT_EQ(c->snd_nxt, info.snd_nxt);
			EXPECT_EQ(c->write_seq, info.write_seq);
			EXPECT_EQ(c->rcv_nxt, info.rcv_nxt);
			EXPECT_EQ(c->copied_seq, info.copied_seq);
			EXPECT_EQ(c->sndq_len, info.sndq_len);
			EXPECT_EQ(c->rcvq_len, info.rcvq_len);
			EXPECT_EQ(c->ofo_segs, info.ofo_segs);
			EXPECT_EQ(c->ofo_bytes, info.ofo_len);
			EXPECT_EQ(1448, info.mss);
			EXPECT_EQ(c->opts, info.options);
			EXPECT_EQ(TCPCP_ICI_MAJOR, info.major);
			EXPECT_EQ(TCPCP_ICI_MINOR, info.minor);
			EXPECT_EQ(self->len, info.len);
		}
	}
}

TEST_F(api, info_invalid)
{
	struct tcpcp_info info;

	EXPECT_EQ(-EINVAL, tcpcp_ici_info(self->buf, self->len - 4, &info));
	EXPECT_EQ(-EINVAL, tcpcp_ici_info(self->buf, self->len, NULL));
}

/* Rewrite the local address and port; everything else stays */
TEST_F(api, set_local)
{
	struct sockaddr_storage ss;
	struct ici ref, out;
	socklen_t sl;
	uint8_t *orig = malloc(self->len);

	ASSERT_NE(NULL, orig);
	memcpy(orig, self->buf, self->len);
	ASSERT_EQ(0, ici_decode(orig, self->len, &ref, NULL, 0));

	sl = mkaddr(&ss, variant->af, variant->naddr, 8080);
	ASSERT_EQ(0, tcpcp_ici_set_local(self->buf, self->len,
					 (struct sockaddr *)&ss, sl));
	ASSERT_EQ(0, ici_decode(self->buf, self->len, &out, self->why,
				sizeof(self->why)))
		TH_LOG("%s", self->why);
	EXPECT_EQ(8080, out.lport);
	EXPECT_NE(0, memcmp(ref.laddr, out.laddr, 16));
	/* the rest is the same: decoded, and byte for byte outside CONN's
	 * lport (payload offset 4) and laddr (8..23)
	 */
	memcpy(ref.laddr, out.laddr, 16);
	ref.lport = out.lport;
	EXPECT_EQ(0, ici_equal(&ref, &out, self->why, sizeof(self->why)))
		TH_LOG("%s", self->why);
	EXPECT_EQ(0, memcmp(orig, self->buf, 16 + 8 + 4));
	EXPECT_EQ(0x1f, self->buf[16 + 8 + 4]); /* 8080 = 0x1f90 */
	EXPECT_EQ(0x90, self->buf[16 + 8 + 5]);
	EXPECT_EQ(0, memcmp(orig + 16 + 8 + 6, self->buf + 16 + 8 + 6, 2));
	EXPECT_EQ(0, memcmp(orig + 16 + 8 + 24, self->buf + 16 + 8 + 24,
			    self->len - 16 - 8 - 24));

	/* port 0 keeps the port */
	sl = mkaddr(&ss, variant->af, variant->laddr, 0);
	ASSERT_EQ(0, tcpcp_ici_set_local(self->buf, self->len,
					 (struct sockaddr *)&ss, sl));
	ASSERT_EQ(0, ici_decode(self->buf, self->len, &out, NULL, 0));
	EXPECT_EQ(8080, out.lport);
	/* and this was the original address: back to the original bytes */
	sl = mkaddr(&ss, variant->af, variant->laddr, 80);
	ASSERT_EQ(0, tcpcp_ici_set_local(self->buf, self->len,
					 (struct sockaddr *)&ss, sl));
	EXPECT_EQ(0, memcmp(orig, self->buf, self->len));
	free(orig);
}

/* Refused rewrites leave the ICI untouched */
TEST_F(api, set_local_invalid)
{
	int other = variant->af == AF_INET ? AF_INET6 : AF_INET;
	const char *other_addr = other == AF_INET ? "198.18.2.1" :
						    "fd00:7c:2::1";
	uint8_t *orig = malloc(self->len);
	struct sockaddr_storage ss;
	socklen_t sl;

	ASSERT_NE(NULL, orig);
	memcpy(orig, self->buf, self->len);

	sl = mkaddr(&ss, other, other_addr, 8080);
	EXPECT_EQ(-EINVAL, tcpcp_ici_set_local(self->buf, self->len,
					       (struct sockaddr *)&ss, sl))
		TH_LOG("family mismatch");
	sl = mkaddr(&ss, variant->af, variant->naddr, 8080);
	EXPECT_EQ(-EINVAL, tcpcp_ici_set_local(self->buf, self->len,
					       (struct sockaddr *)&ss, sl - 1))
		TH_LOG("short sockaddr");
	EXPECT_EQ(-EINVAL, tcpcp_ici_set_local(self->buf, self->len, NULL, 0));
	sl = mkaddr(&ss, variant->af, variant->bad_addr, 8080);
	EXPECT_EQ(-EINVAL, tcpcp_ici_set_local(self->buf, self->len,
					       (struct sockaddr *)&ss, sl))
		TH_LOG("multicast address");
	sl = mkaddr(&ss, variant->af,
		    variant->af == AF_INET ? "0.0.0.0" : "::", 8080);
	EXPECT_EQ(-EINVAL, tcpcp_ici_set_local(self->buf, self->len,
					       (struct sockaddr *)&ss, sl))
		TH_LOG("wildcard address");
	ss.ss_family = AF_UNIX;
	EXPECT_EQ(-EINVAL,
		  tcpcp_ici_set_local(self->buf, self->len,
				      (struct sockaddr *)&ss, sizeof(ss)))
		TH_LOG("AF_UNIX");
	/* an invalid ICI is not rewritten */
	sl = mkaddr(&ss, variant->af, variant->naddr, 8080);
	self->buf[16 + 8 + 6] = self->buf[16 + 8 + 7] = 0; /* rport 0 */
	memcpy(orig, self->buf, self->len);
	EXPECT_GT(0, tcpcp_ici_set_local(self->buf, self->len,
					 (struct sockaddr *)&ss, sl));
	EXPECT_EQ(0, memcmp(orig, self->buf, self->len));
	free(orig);
}

/*
 * An ICI inside a larger message need not be aligned: under UBSan a store
 * through a struct pointer into the caller's bytes aborts here.
 */
TEST_F(api, set_local_unaligned)
{
	uint8_t *mem = malloc(self->len + 1);
	struct sockaddr_storage ss;
	struct ici out;
	socklen_t sl;

	ASSERT_NE(NULL, mem);
	memcpy(mem + 1, self->buf, self->len);
	sl = mkaddr(&ss, variant->af, variant->naddr, 8080);
	ASSERT_EQ(0, tcpcp_ici_set_local(mem + 1, self->len,
					 (struct sockaddr *)&ss, sl));
	ASSERT_EQ(0, ici_decode(mem + 1, self->len, &out, NULL, 0));
	EXPECT_EQ(8080, out.lport);
	free(mem);
}

/*
 * JSON checker: stdin holds JSON documents separated by lines of "\x1e";
 * each must parse to an object in which every argument appears as a value
 * (compared as text) somewhere.
 */
static const char json_check_py[] =
	"import json, sys\n"
	"def vals(x):\n"
	"    if isinstance(x, dict):\n"
	"        for v in x.values(): yield from vals(v)\n"
	"    elif isinstance(x, list):\n"
	"        for v in x: yield from vals(v)\n"
	"    else: yield str(x)\n"
	"docs = [d for d in sys.stdin.read().split('\\n\\x1e\\n') if d.strip()]\n"
	"for i, d in enumerate(docs):\n"
	"    o = json.loads(d)\n"
	"    assert isinstance(o, dict), 'document %d is not an object' % i\n"
	"    v = set(vals(o))\n"
	"    for w in sys.argv[1:]:\n"
	"        assert w in v, 'document %d lacks %s' % (i, w)\n"
	"print('%d JSON documents OK' % len(docs))\n";

/* Debian's python3 (deps.sh installs it); a pyenv shim takes seconds */
static const char *python3(void)
{
	return access("/usr/bin/python3", X_OK) ? "python3" :
						  "/usr/bin/python3";
}

static bool have_python3(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "%s -c 'import json' >/dev/null 2>&1",
		 python3());
	return system(cmd) == 0;
}

/* Pipe text to the checker; returns its exit status */
static int json_check(const char *text, size_t len, const char *const *want,
		      int nwant)
{
	char cmd[1024];
	size_t off;
	FILE *p;
	int i, st;

	off = snprintf(cmd, sizeof(cmd), "%s -c \"$TCPCP_JSON_CHECK\"",
		       python3());
	for (i = 0; i < nwant; i++)
		off += snprintf(cmd + off, sizeof(cmd) - off, " '%s'", want[i]);
	setenv("TCPCP_JSON_CHECK", json_check_py, 1);
	p = popen(cmd, "w");
	if (!p)
		return -1;
	fwrite(text, 1, len, p);
	st = pclose(p);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static const unsigned int print_flags[] = {
	0,
	TCPCP_PRINT_DATA,
	TCPCP_PRINT_JSON,
	TCPCP_PRINT_JSON | TCPCP_PRINT_PRETTY,
	TCPCP_PRINT_JSON | TCPCP_PRINT_DATA,
	TCPCP_PRINT_JSON | TCPCP_PRINT_PRETTY | TCPCP_PRINT_DATA,
};

/* Every state and shape, every flag combination; all JSON parsed */
TEST_F(api, print_text_and_json)
{
	const char *want[] = { NULL, NULL, "80", "40000", "1448" };
	char *text = NULL, *json = NULL, ep[80];
	size_t tlen = 0, jlen = 0;
	FILE *tf, *jf;
	unsigned int i, shape, f, n = 0;

	if (!have_python3())
		SKIP(return, "python3 not installed (tools/build/deps.sh)");
	tf = open_memstream(&text, &tlen);
	jf = open_memstream(&json, &jlen);
	ASSERT_NE(NULL, tf);
	ASSERT_NE(NULL, jf);
	for (i = 0; i < sample_nstates; i++) {
		if (sample_states[i] == TCPCP_STATE_FIN_WAIT2)
			continue; /* see codec.roundtrip_fin_wait2 */
		for (shape = 0; shape <= SAMPLE_ALL; shape++) {
			make(_metadata, self, variant->family, sample_states[i],
			     shape);
			for (f = 0;
			     f < sizeof(print_flags) / sizeof(print_flags[0]);
			     f++) {
				unsigned int fl = print_flags[f];
				FILE *out = (fl & TCPCP_PRINT_JSON) ? jf : tf;
				long before = ftell(out);

				ASSERT_EQ(0,
					  tcpcp_ici_print(self->buf, self->len,
							  out, fl))
					TH_LOG("state %u shape %#x flags %#x",
					       sample_states[i], shape, fl);
				/* something was printed, ending in a newline */
				ASSERT_GT(ftell(out), before);
				if (fl & TCPCP_PRINT_JSON)
					fputs("\x1e\n", out);
				n++;
			}
		}
	}
	ASSERT_EQ(0, fclose(tf));
	ASSERT_EQ(0, fclose(jf));
	ASSERT_EQ('\n', text[tlen - 1]);
	/* the local endpoint appears as ss(8) prints it */
	snprintf(ep, sizeof(ep), variant->af == AF_INET ? "%s:80" : "[%s]:80",
		 variant->laddr);
	EXPECT_NE(NULL, strstr(text, ep)) TH_LOG("no \"%s\" in text", ep);
	EXPECT_NE(NULL, strstr(text, "ESTAB"));
	want[0] = variant->laddr;
	want[1] = variant->raddr;
	EXPECT_EQ(0, json_check(json, jlen, want, 5));
	free(text);
	free(json);
	EXPECT_EQ((sample_nstates - 1) * (SAMPLE_ALL + 1) * 6, n);
}

/* The checker itself rejects broken JSON and missing values */
TEST(json_checker_can_fail)
{
	const char *want[] = { "80" };

	if (!have_python3())
		SKIP(return, "python3 not installed");
	EXPECT_EQ(0, json_check("{\"a\": 80}\n", 10, want, 1));
	EXPECT_NE(0, json_check("{\"a\": 80,}\n", 11, want, 1));
	EXPECT_NE(0, json_check("{\"a\": 81}\n", 10, want, 1));
	EXPECT_NE(0, json_check("[80]\n", 5, want, 1));
}

/* TCPCP_PRINT_DATA adds the queue bytes */
TEST_F(api, print_data)
{
	char *a = NULL, *b = NULL;
	size_t alen = 0, blen = 0;
	FILE *fa = open_memstream(&a, &alen), *fb = open_memstream(&b, &blen);

	ASSERT_NE(NULL, fa);
	ASSERT_NE(NULL, fb);
	ASSERT_EQ(0, tcpcp_ici_print(self->buf, self->len, fa, 0));
	ASSERT_EQ(0,
		  tcpcp_ici_print(self->buf, self->len, fb, TCPCP_PRINT_DATA));
	fclose(fa);
	fclose(fb);
	/* at least two hex digits per queued byte */
	EXPECT_GE(blen, alen + 2 * (SAMPLE_SNDQ_LEN + SAMPLE_RCVQ_LEN));
	free(a);
	free(b);
}

TEST_F(api, print_errors)
{
	char *t = NULL;
	size_t tlen = 0;
	FILE *f = open_memstream(&t, &tlen), *full;

	ASSERT_NE(NULL, f);
	EXPECT_EQ(-EINVAL, tcpcp_ici_print(self->buf, self->len - 1, f, 0));
	EXPECT_EQ(-EINVAL, tcpcp_ici_print(self->buf, self->len - 1, f,
					   TCPCP_PRINT_JSON));
	EXPECT_EQ(-EINVAL, tcpcp_ici_print(self->buf, self->len, f, 0x100));
	EXPECT_EQ(-EINVAL, tcpcp_ici_print(self->buf, self->len, NULL, 0));
	EXPECT_EQ(-EINVAL, tcpcp_ici_print(NULL, 0, f, 0));
	self->buf[4] = 2;
	EXPECT_EQ(-EPROTONOSUPPORT,
		  tcpcp_ici_print(self->buf, self->len, f, TCPCP_PRINT_JSON));
	fclose(f);
	/* nothing printed for a refused ICI */
	EXPECT_EQ(0, tlen);
	free(t);
	/* a write error is reported */
	self->buf[4] = 1;
	full = fopen("/dev/full", "w");
	if (full) {
		EXPECT_EQ(-EIO, tcpcp_ici_print(self->buf, self->len, full,
						TCPCP_PRINT_JSON));
		fclose(full);
	}
}

TEST_HARNESS_MAIN
