// SPDX-License-Identifier: GPL-2.0
/*
 * libFuzzer target for the ICI decoder.  For every input:
 *  - ici_decode() returns 0, -EINVAL or -EPROTONOSUPPORT (with a reason), and
 *    tcpcp_ici_check/info/print/set_local agree with it;
 *  - a decoded ICI validates, re-encodes, and the re-encoding decodes to the
 *    same ICI (semantic equality) and re-encodes to the same bytes;
 *  - tcpcp_ici_info reports the decoded fields, tcpcp_ici_print writes text
 *    and JSON, the OFO iterator visits what the decoder counted;
 *  - tcpcp_ici_set_local on a copy changes the local endpoint and nothing
 *    else, and refuses the other address family without touching the copy.
 * A violated property aborts, which libFuzzer reports as a crash.
 *
 * Also linked with replay.c into a plain program (gcc + ASan) that runs the
 * corpus without libFuzzer.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ici.h"
#include "ici_sample.h"
#include "tcpcp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                       \
	do {                                                              \
		if (!(cond)) {                                            \
			fprintf(stderr, "%s:%d: property violated: %s\n", \
				__FILE__, __LINE__, #cond);               \
			abort();                                          \
		}                                                         \
	} while (0)

static FILE *devnull(void)
{
	static FILE *f;

	if (!f)
		f = fopen("/dev/null", "w");
	CHECK(f);
	return f;
}

/* The error paths: every public reader refuses the same way */
static void check_refused(const uint8_t *data, size_t size, int ret,
			  const char *why)
{
	struct tcpcp_info info;
	struct sockaddr_in sin = { .sin_family = AF_INET };
	uint8_t *copy;

	CHECK(ret == -EINVAL || ret == -EPROTONOSUPPORT);
	CHECK(why[0] != 0);
	CHECK(tcpcp_ici_check(data, size, NULL, 0) == ret);
	CHECK(tcpcp_ici_info(data, size, &info) == ret);
	CHECK(tcpcp_ici_print(data, size, devnull(), 0) == ret);
	CHECK(tcpcp_ici_print(data, size, devnull(), TCPCP_PRINT_JSON) == ret);
	copy = malloc(size ? size : 1);
	CHECK(copy);
	memcpy(copy, data, size);
	inet_pton(AF_INET, "198.18.2.1", &sin.sin_addr);
	CHECK(tcpcp_ici_set_local(copy, size, (struct sockaddr *)&sin,
				  sizeof(sin)) == ret);
	CHECK(!memcmp(copy, data, size));
	free(copy);
}

static void check_info(const struct ici *a, const uint8_t *data, size_t size)
{
	struct tcpcp_info info;

	CHECK(tcpcp_ici_info(data, size, &info) == 0);
	CHECK(info.family ==
	      (a->family == TCPCP_FAMILY_INET ? AF_INET : AF_INET6));
	CHECK(info.local.ss_family == info.family);
	CHECK(info.state == a->state);
	CHECK(info.snd_una == a->snd_una && info.snd_nxt == a->snd_nxt);
	CHECK(info.write_seq == a->write_seq && info.rcv_nxt == a->rcv_nxt);
	CHECK(info.copied_seq == a->copied_seq);
	CHECK(info.sndq_len == a->sndq_len && info.rcvq_len == a->rcvq_len);
	CHECK(info.ofo_segs == a->ofo_segs && info.ofo_len == a->ofo_bytes);
	CHECK(info.mss == a->mss && info.options == a->opts);
	CHECK(info.major == a->major && info.minor == a->minor);
	CHECK(info.len == size);
}

static void check_ofo(const struct ici *a)
{
	uint32_t seq, len, n = 0, bytes = 0;
	const uint8_t *d;
	size_t off = 0;
	int ret;

	while ((ret = ici_ofo_next(a, &off, &seq, &d, &len)) == 1) {
		CHECK(len > 0);
		CHECK(d >= a->ofoq && d + len <= a->ofoq + a->ofoq_len);
		n++;
		bytes += len;
	}
	CHECK(ret == 0);
	CHECK(n == a->ofo_segs && bytes == a->ofo_bytes);
}

static void check_print(const uint8_t *data, size_t size)
{
	static const unsigned int flags[] = {
		0,
		TCPCP_PRINT_DATA,
		TCPCP_PRINT_JSON,
		TCPCP_PRINT_JSON | TCPCP_PRINT_PRETTY | TCPCP_PRINT_DATA,
	};
	unsigned int i;

	for (i = 0; i < sizeof(flags) / sizeof(flags[0]); i++)
		CHECK(tcpcp_ici_print(data, size, devnull(), flags[i]) == 0);
}

static void check_set_local(const struct ici *a, const uint8_t *data,
			    size_t size)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	struct sockaddr_in6 sin6 = { .sin6_family = AF_INET6 };
	struct sockaddr *sa, *other;
	socklen_t sl, ol;
	uint8_t *copy = malloc(size);
	uint16_t port = a->rport & 1 ? 0 : (uint16_t)(a->rport ^ 0x5a5a);
	struct ici b, ref = *a;
	char why[256];

	CHECK(copy);
	memcpy(copy, data, size);
	inet_pton(AF_INET, "198.18.2.1", &sin.sin_addr);
	inet_pton(AF_INET6, "fd00:7c:2::1", &sin6.sin6_addr);
	sin.sin_port = sin6.sin6_port = htons(port);
	if (a->family == TCPCP_FAMILY_INET) {
		sa = (struct sockaddr *)&sin, sl = sizeof(sin);
		other = (struct sockaddr *)&sin6, ol = sizeof(sin6);
		memset(ref.laddr, 0, 16);
		memcpy(ref.laddr, &sin.sin_addr, 4);
	} else {
		sa = (struct sockaddr *)&sin6, sl = sizeof(sin6);
		other = (struct sockaddr *)&sin, ol = sizeof(sin);
		memcpy(ref.laddr, &sin6.sin6_addr, 16);
	}
	if (port)
		ref.lport = port;

	CHECK(tcpcp_ici_set_local(copy, size, other, ol) == -EINVAL);
	CHECK(!memcmp(copy, data, size));
	CHECK(tcpcp_ici_set_local(copy, size, sa, sl) == 0);
	CHECK(ici_decode(copy, size, &b, why, sizeof(why)) == 0);
	if (ici_equal(&ref, &b, why, sizeof(why))) {
		fprintf(stderr, "set_local changed more: %s\n", why);
		abort();
	}
	free(copy);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ici a, b, c;
	void *enc = NULL, *enc2 = NULL;
	size_t elen = 0, elen2 = 0;
	char why[256];
	int ret;

	why[0] = 0;
	ret = ici_decode(data, size, &a, why, sizeof(why));
	if (ret) {
		check_refused(data, size, ret, why);
		return 0;
	}
	CHECK(ici_validate(&a, why, sizeof(why)) == 0);
	CHECK(tcpcp_ici_check(data, size, why, sizeof(why)) == 0);
	CHECK(a.major == TCPCP_ICI_MAJOR);
	if (a.sndq_len)
		CHECK(a.sndq >= data && a.sndq + a.sndq_len <= data + size);
	if (a.rcvq_len)
		CHECK(a.rcvq >= data && a.rcvq + a.rcvq_len <= data + size);
	check_ofo(&a);

	/* re-encode: decodes to the same ICI, and is a fixed point */
	CHECK(ici_encode_alloc(&a, &enc, &elen) == 0);
	CHECK(elen == ici_encoded_size(&a));
	CHECK(elen <= size); /* unknown elements are dropped, not added */
	ret = ici_decode(enc, elen, &b, why, sizeof(why));
	if (ret) {
		fprintf(stderr, "re-encoding does not decode: %s\n", why);
		abort();
	}
	c = a;
	c.minor = TCPCP_ICI_MINOR; /* the encoder writes its own minor */
	if (ici_equal(&c, &b, why, sizeof(why))) {
		fprintf(stderr, "re-encoding decodes differently: %s\n", why);
		abort();
	}
	CHECK(ici_encode_alloc(&b, &enc2, &elen2) == 0);
	CHECK(elen2 == elen && !memcmp(enc, enc2, elen));

	check_info(&a, data, size);
	check_print(data, size);
	check_set_local(&a, data, size);
	free(enc);
	free(enc2);
	return 0;
}
