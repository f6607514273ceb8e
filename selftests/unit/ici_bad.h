/* SPDX-License-Identifier: GPL-2.0 */
/*
 * clang-format cannot parse kselftest_harness.h idioms (ASSERT_*() TH_LOG(),
 * FIXTURE blocks): this file is formatted by hand in kernel style.
 */
/* clang-format off */
/*
 * Fixture and helpers shared by the malformed-ICI tests (ici_bad.c: framing,
 * ici_content.c: field values).  The fixture holds a valid ICI (ESTABLISHED,
 * queues, TS, OFO, CONG, SOCKOPT) for IPv4 and IPv6, split into elements.
 *
 * Every truncated or patched copy is decoded from a malloc'd buffer of
 * exactly its length, so the sanitized build catches any overread.
 */
#ifndef TCPCP_TEST_ICI_BAD_H
#define TCPCP_TEST_ICI_BAD_H

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "kselftest_harness.h"

#include "ici.h"
#include "ici_sample.h"

#define MAXEL 32

FIXTURE(bad) {
	struct sample s;
	uint8_t *buf; /* valid encoding of s.ici */
	size_t len;
	struct elem el[MAXEL];
	int nel;
	char why[256];
};

FIXTURE_VARIANT(bad) {
	uint8_t family;
};

FIXTURE_VARIANT_ADD(bad, ipv4) {
	.family = TCPCP_FAMILY_INET,
};

FIXTURE_VARIANT_ADD(bad, ipv6) {
	.family = TCPCP_FAMILY_INET6,
};

/* (Re)build the fixture's valid ICI from a sample */
static inline void make(struct __test_metadata *_metadata,
			FIXTURE_DATA(bad) * self, uint8_t family, uint8_t state,
			unsigned int shape)
{
	free(self->buf);
	sample_init(&self->s, family, state, shape);
	ASSERT_EQ(0, ici_encode_alloc(&self->s.ici, (void **)&self->buf,
				      &self->len));
	self->nel = elem_walk(self->buf, self->len, self->el, MAXEL);
	ASSERT_GT(self->nel, 0);
	ASSERT_EQ(0, ici_decode(self->buf, self->len, &(struct ici){},
				self->why, sizeof(self->why)))
		TH_LOG("valid sample rejected: %s", self->why);
}

FIXTURE_SETUP(bad)
{
	memset(self, 0, sizeof(*self));
	make(_metadata, self, variant->family, TCPCP_STATE_ESTABLISHED,
	     SAMPLE_QUEUES | SAMPLE_TS | SAMPLE_OFO | SAMPLE_CONG |
		     SAMPLE_SOCKOPT);
}

FIXTURE_TEARDOWN(bad)
{
	free(self->buf);
}

/* Decode len bytes from an exact-size copy; returns the result */
static inline int decode_copy(const void *p, size_t len, char *why,
			      size_t whylen)
{
	struct ici out;
	void *copy = malloc(len ? len : 1);
	int ret;

	if (!copy)
		abort();
	memcpy(copy, p, len);
	ret = ici_decode(copy, len, &out, why, whylen);
	free(copy);
	return ret;
}

/* Expect err from decoding p, with a reason */
#define EXPECT_DECODE(err, p, len, ...)                                       \
	do {                                                                  \
		int __r = decode_copy(p, len, self->why, sizeof(self->why));  \
		EXPECT_EQ(err, __r) TH_LOG(__VA_ARGS__);                      \
		if ((err) != 0) {                                             \
			EXPECT_NE(0, self->why[0]) TH_LOG("no reason given"); \
		}                                                             \
	} while (0)

/* A struct ici that ici_validate and the decoder must refuse with -EINVAL */
static inline void expect_bad_struct(struct __test_metadata *_metadata,
				     FIXTURE_DATA(bad) * self,
				     const struct ici *c, const char *what)
{
	void *b = NULL;
	size_t l = 0;

	EXPECT_EQ(-EINVAL, ici_validate(c, self->why, sizeof(self->why)))
		TH_LOG("validate: %s", what);
	ASSERT_EQ(0, ici_encode_alloc(c, &b, &l));
	EXPECT_DECODE(-EINVAL, b, l, "decode: %s", what);
	free(b);
}

/* Patch bytes of the payload of element type at off; decode a copy */
static inline int patched(FIXTURE_DATA(bad) * self, uint16_t type, size_t off,
			  const void *bytes, size_t n)
{
	const struct elem *e = elem_find(self->el, self->nel, type);
	uint8_t *copy;
	int ret;

	if (!e || off + n > ((e->len + 3) & ~3U))
		abort();
	copy = malloc(self->len);
	if (!copy)
		abort();
	memcpy(copy, self->buf, self->len);
	memcpy(copy + e->payload + off, bytes, n);
	ret = decode_copy(copy, self->len, self->why, sizeof(self->why));
	free(copy);
	return ret;
}

/* Re-emit element i of the fixture's ICI into r */
static inline void copy_elem(FIXTURE_DATA(bad) * self, struct raw *r, int i)
{
	const struct elem *e = &self->el[i];

	raw_elem(r, e->type, e->flags, self->buf + e->payload, e->len, 0);
}

static inline void raw_start(FIXTURE_DATA(bad) * self, struct raw *r,
			     uint8_t minor)
{
	raw_init(r, self->len + 4096);
	raw_hdr(r, TCPCP_ICI_MAGIC, TCPCP_ICI_MAJOR, minor, 0, 0);
}

#endif /* TCPCP_TEST_ICI_BAD_H */
