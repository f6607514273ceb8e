// SPDX-License-Identifier: GPL-2.0
/*
 * ICI decoder on malformed framing: truncation, lengths, magic, version,
 * reserved bits, padding, element order, duplicates, unknown elements,
 * element sizes.  Field values: ici_content.c.
 */
/*
 * clang-format cannot parse kselftest_harness.h idioms (ASSERT_*() TH_LOG(),
 * FIXTURE blocks): this file is formatted by hand in kernel style.
 */
/* clang-format off */
#include "ici_bad.h"

TEST_F(bad, truncated_at_every_length)
{
	size_t l;

	for (l = 0; l < self->len; l++) {
		EXPECT_DECODE(-EINVAL, self->buf, l, "%zu of %zu bytes", l,
			      self->len);
	}
	EXPECT_DECODE(0, self->buf, self->len, "whole ICI");
}

/*
 * Truncated with the header length patched to match: invalid unless the cut
 * falls between elements and drops only ignorable ones (OFOQ, CONG,
 * SOCKOPT are last here).
 */
TEST_F(bad, truncated_with_matching_header_len)
{
	uint8_t *copy = malloc(self->len);
	size_t l;
	int i;

	ASSERT_NE(NULL, copy);
	for (l = 16; l < self->len; l++) {
		int want = -EINVAL;

		for (i = 0; i < self->nel; i++)
			if (self->el[i].off == l &&
			    self->el[i].type >= TCPCP_EL_OFOQ)
				want = 0;
		memcpy(copy, self->buf, l);
		put_be32(copy + 8, l);
		EXPECT_DECODE(want, copy, l, "cut at %zu", l);
	}
	free(copy);
}

TEST_F(bad, header_length)
{
	static const uint32_t lens[] = { 0, 1, 15, 16, 23 };
	uint8_t *big = calloc(1, self->len + 8);
	unsigned int i;

	ASSERT_NE(NULL, big);
	memcpy(big, self->buf, self->len);
	for (i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		put_be32(big + 8, lens[i]);
		EXPECT_DECODE(-EINVAL, big, self->len, "hdr len %u", lens[i]);
	}
	/* header claims more than there is */
	put_be32(big + 8, self->len + 4);
	EXPECT_DECODE(-EINVAL, big, self->len, "hdr len + 4");
	put_be32(big + 8, 0xffffffff);
	EXPECT_DECODE(-EINVAL, big, self->len, "hdr len 0xffffffff");
	put_be32(big + 8, TCPCP_ICI_MAX_LEN + 4);
	EXPECT_DECODE(-EINVAL, big, self->len, "hdr len above the maximum");
	/* header claims less than given: trailing bytes */
	put_be32(big + 8, self->len);
	EXPECT_DECODE(-EINVAL, big, self->len + 4, "4 trailing zero bytes");
	EXPECT_DECODE(-EINVAL, big, self->len + 8,
		      "8 trailing bytes (an empty element header's worth)");
	/* both agree on 8 more bytes: an empty unknown ignorable element */
	put_be32(big + 8, self->len + 8);
	put_be16(big + self->len, 0x0100);
	EXPECT_DECODE(0, big, self->len + 8, "empty element 0x100 at the end");
	put_be16(big + self->len, 0);
	/* ... but not on 4: a cut element header */
	put_be32(big + 8, self->len + 4);
	EXPECT_DECODE(-EINVAL, big, self->len + 4, "4-byte element header");
	free(big);
}

TEST_F(bad, magic)
{
	uint8_t *copy = malloc(self->len);
	int i;

	ASSERT_NE(NULL, copy);
	for (i = 0; i < 4; i++) {
		memcpy(copy, self->buf, self->len);
		copy[i] ^= 0x20;
		EXPECT_DECODE(-EINVAL, copy, self->len, "magic byte %d", i);
	}
	/* little-endian magic */
	memcpy(copy, self->buf, self->len);
	put_be32(copy, __builtin_bswap32(TCPCP_ICI_MAGIC));
	EXPECT_DECODE(-EINVAL, copy, self->len, "byte-swapped magic");
	free(copy);
}

TEST_F(bad, header_reserved_and_flags)
{
	uint8_t *copy = malloc(self->len);
	int i;

	ASSERT_NE(NULL, copy);
	for (i = 12; i < 16; i++) {
		memcpy(copy, self->buf, self->len);
		copy[i] = 0x01;
		EXPECT_DECODE(-EINVAL, copy, self->len, "reserved byte %d", i);
	}
	memcpy(copy, self->buf, self->len);
	put_be16(copy + 6, 0x0002);
	EXPECT_DECODE(-EINVAL, copy, self->len, "unknown header flag 0x2");
	put_be16(copy + 6, 0x8000);
	EXPECT_DECODE(-EINVAL, copy, self->len, "unknown header flag 0x8000");
	put_be16(copy + 6, TCPCP_ICI_F_CHECKPOINT);
	EXPECT_DECODE(0, copy, self->len, "CHECKPOINT flag");
	free(copy);
}

TEST_F(bad, wrong_major)
{
	static const uint8_t majors[] = { 0, 2, 3, 0x81, 255 };
	uint8_t *copy = malloc(self->len);
	unsigned int i;

	ASSERT_NE(NULL, copy);
	for (i = 0; i < sizeof(majors); i++) {
		memcpy(copy, self->buf, self->len);
		copy[4] = majors[i];
		EXPECT_DECODE(-EPROTONOSUPPORT, copy, self->len, "major %u",
			      majors[i]);
	}
	free(copy);
}

/* A newer minor version's unknown ignorable elements are skipped */
TEST_F(bad, newer_minor_unknown_ignorable_element)
{
	static const uint16_t types[] = { TCPCP_EL_MAX + 1, 0x0100, 0x7fff, 0xffff };
	static const uint8_t junk[5] = { 1, 2, 3, 4, 5 };
	struct ici out, ref;
	struct raw r;
	unsigned int t;
	int i;

	ASSERT_EQ(0, ici_decode(self->buf, self->len, &ref, NULL, 0));
	for (t = 0; t < sizeof(types) / sizeof(types[0]); t++) {
		raw_start(self, &r, TCPCP_ICI_MINOR + 1);
		for (i = 0; i < self->nel; i++) {
			copy_elem(self, &r, i);
			/* after CONN, in the middle, twice at the end */
			if (i == 0 || self->el[i].type == TCPCP_EL_SEQ)
				raw_elem(&r, types[t], 0, junk, sizeof(junk),
					 0);
		}
		raw_elem(&r, types[t], 0, junk, sizeof(junk), 0);
		raw_elem(&r, types[t], 0, NULL, 0, 0);
		raw_fix_len(&r);
		ASSERT_EQ(0, ici_decode(r.buf, r.len, &out, self->why,
					sizeof(self->why)))
			TH_LOG("type %u: %s", types[t], self->why);
		EXPECT_EQ(TCPCP_ICI_MINOR + 1, out.minor);
		ref.minor = out.minor;
		EXPECT_EQ(0,
			  ici_equal(&ref, &out, self->why, sizeof(self->why)))
			TH_LOG("type %u: %s", types[t], self->why);
		raw_free(&r);
	}
}

/* Unknown mandatory elements: this reader cannot handle the ICI */
TEST_F(bad, unknown_mandatory_element)
{
	static const uint16_t types[] = { TCPCP_EL_MAX + 1, 0x0100, 0x7fff, 0xffff };
	struct raw r;
	unsigned int t, minor;
	int i;

	for (minor = 0; minor < 2; minor++) {
		for (t = 0; t < sizeof(types) / sizeof(types[0]); t++) {
			raw_start(self, &r, minor);
			for (i = 0; i < self->nel; i++)
				copy_elem(self, &r, i);
			raw_elem(&r, types[t], TCPCP_ELF_MANDATORY, "abcd", 4,
				 0);
			raw_fix_len(&r);
			EXPECT_DECODE(-EPROTONOSUPPORT, r.buf, r.len,
				      "minor %u type %u", minor, types[t]);
			raw_free(&r);
		}
	}
}

TEST_F(bad, unknown_element_flags)
{
	static const uint16_t flags[] = { 0x0002, 0x0003, 0x8000, 0x8001 };
	uint8_t *copy = malloc(self->len);
	unsigned int f;
	int i;

	ASSERT_NE(NULL, copy);
	for (i = 0; i < self->nel; i++) {
		for (f = 0; f < sizeof(flags) / sizeof(flags[0]); f++) {
			memcpy(copy, self->buf, self->len);
			put_be16(copy + self->el[i].off + 2, flags[f]);
			EXPECT_DECODE(-EINVAL, copy, self->len,
				      "element %u flags %#x", self->el[i].type,
				      flags[f]);
		}
	}
	free(copy);
}

TEST_F(bad, duplicate_element)
{
	struct raw r;
	int i, j;

	ASSERT_EQ(10, self->nel);
	for (i = 0; i < self->nel; i++) {
		raw_start(self, &r, TCPCP_ICI_MINOR);
		for (j = 0; j < self->nel; j++) {
			copy_elem(self, &r, j);
			if (j == i)
				copy_elem(self, &r, j);
		}
		raw_fix_len(&r);
		EXPECT_DECODE(-EINVAL, r.buf, r.len, "element %u twice",
			      self->el[i].type);
		raw_free(&r);
	}
}

TEST_F(bad, conn_not_first)
{
	struct raw r;
	int pos, j;

	ASSERT_EQ(TCPCP_EL_CONN, self->el[0].type);
	/* CONN second, fifth, last */
	for (pos = 1; pos < self->nel; pos += 3) {
		raw_start(self, &r, TCPCP_ICI_MINOR);
		for (j = 1; j < self->nel; j++) {
			copy_elem(self, &r, j);
			if (j == pos)
				copy_elem(self, &r, 0);
		}
		raw_fix_len(&r);
		EXPECT_DECODE(-EINVAL, r.buf, r.len, "CONN after %d", pos);
		raw_free(&r);
	}
	/* an ignorable element before CONN */
	raw_start(self, &r, TCPCP_ICI_MINOR + 1);
	raw_elem(&r, 0x0100, 0, "abcd", 4, 0);
	for (j = 0; j < self->nel; j++)
		copy_elem(self, &r, j);
	raw_fix_len(&r);
	EXPECT_DECODE(-EINVAL, r.buf, r.len, "unknown element before CONN");
	raw_free(&r);
}

/* Mandatory elements cannot be left out; ignorable ones can */
TEST_F(bad, missing_element)
{
	struct raw r;
	int i, j;

	for (i = 0; i < self->nel; i++) {
		uint16_t type = self->el[i].type;

		raw_start(self, &r, TCPCP_ICI_MINOR);
		for (j = 0; j < self->nel; j++)
			if (j != i)
				copy_elem(self, &r, j);
		raw_fix_len(&r);
		EXPECT_DECODE(type <= TCPCP_EL_RCVQ ? -EINVAL : 0, r.buf, r.len,
			      "without element %u", type);
		raw_free(&r);
	}
}

/* Known fixed-size elements must have exactly their size */
TEST_F(bad, element_size)
{
	static const int delta[] = { -4, -1, 1, 4 };
	uint8_t payload[256] = { 0 };
	struct raw r;
	unsigned int d;
	int i, j;

	for (i = 0; i < self->nel; i++) {
		const struct elem *e = &self->el[i];

		if (e->type >= TCPCP_EL_SNDQ && e->type <= TCPCP_EL_OFOQ)
			continue; /* variable size */
		for (d = 0; d < sizeof(delta) / sizeof(delta[0]); d++) {
			uint32_t l = e->len + delta[d];

			ASSERT_LE(l, sizeof(payload));
			memset(payload, 0, sizeof(payload));
			memcpy(payload, self->buf + e->payload,
			       l < e->len ? l : e->len);
			raw_start(self, &r, TCPCP_ICI_MINOR);
			for (j = 0; j < self->nel; j++) {
				if (j == i)
					raw_elem(&r, e->type, e->flags, payload,
						 l, 0);
				else
					copy_elem(self, &r, j);
			}
			raw_fix_len(&r);
			EXPECT_DECODE(-EINVAL, r.buf, r.len,
				      "element %u with %u bytes", e->type, l);
			raw_free(&r);
		}
	}
}

TEST_F(bad, padding_not_zero)
{
	const struct elem *sq = elem_find(self->el, self->nel, TCPCP_EL_SNDQ);
	const struct elem *rq = elem_find(self->el, self->nel, TCPCP_EL_RCVQ);
	uint8_t x = 0x80;
	uint32_t p;

	ASSERT_NE(NULL, sq);
	ASSERT_NE(NULL, rq);
	ASSERT_EQ(SAMPLE_SNDQ_LEN, sq->len);
	for (p = sq->len; p % 4; p++) {
		EXPECT_EQ(-EINVAL, patched(self, TCPCP_EL_SNDQ, p, &x, 1))
			TH_LOG("SNDQ padding byte %u", p);
	}
	for (p = rq->len; p % 4; p++) {
		EXPECT_EQ(-EINVAL, patched(self, TCPCP_EL_RCVQ, p, &x, 1))
			TH_LOG("RCVQ padding byte %u", p);
	}
	/* OFO segment 1 is 50 bytes: padding at 8 + 50 */
	EXPECT_EQ(-EINVAL, patched(self, TCPCP_EL_OFOQ, 58, &x, 1));
	/* queue content itself may be anything */
	EXPECT_EQ(0, patched(self, TCPCP_EL_SNDQ, 0, &x, 1))
		TH_LOG("%s", self->why);
}

TEST_F(bad, reserved_fields)
{
	static const struct {
		uint16_t type;
		size_t off, n;
	} rsv[] = {
		{ TCPCP_EL_CONN, 2, 2 }, /* reserved */
		{ TCPCP_EL_CONN, 40, 4 }, /* reserved2 */
		{ TCPCP_EL_OPTS, 8, 4 }, /* reserved */
		{ TCPCP_EL_SOCKOPT, 7, 1 }, /* reserved */
	};
	unsigned int i;
	size_t b;

	for (i = 0; i < sizeof(rsv) / sizeof(rsv[0]); i++) {
		for (b = 0; b < rsv[i].n; b++) {
			uint8_t x = 1 << b;

			EXPECT_EQ(-EINVAL, patched(self, rsv[i].type,
						   rsv[i].off + b, &x, 1))
				TH_LOG("element %u byte %zu", rsv[i].type,
				       rsv[i].off + b);
		}
	}
}

TEST_HARNESS_MAIN
