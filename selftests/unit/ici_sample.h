/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Test helpers for the ICI codec, shared by the unit tests and the fuzz
 * corpus generator:
 *
 *  - sample_init() fills a struct ici that is consistent by construction
 *    (the expectations are computed here, independently of lib/ici.c);
 *  - ici_equal() compares two decoded ICIs field by field and queue by queue;
 *  - raw_*() write ICI bytes by hand, so tests can build what ici_encode()
 *    refuses to (duplicates, wrong order, unknown elements, bad padding);
 *  - elem_walk() splits ICI bytes into elements without checking them.
 */
#ifndef TCPCP_TEST_ICI_SAMPLE_H
#define TCPCP_TEST_ICI_SAMPLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ici.h"

/* Shapes of a sample ICI */
#define SAMPLE_QUEUES 0x0001 /* non-empty send and receive queues */
#define SAMPLE_TS 0x0002 /* TCPCP_OPT_TSTAMP with a TS element */
#define SAMPLE_OFO 0x0004 /* out-of-order segments (if no FIN came in) */
#define SAMPLE_CONG 0x0008 /* congestion element */
#define SAMPLE_SOCKOPT 0x0010 /* socket option element */
#define SAMPLE_WRAP 0x0020 /* sequence numbers wrap inside the queues */
#define SAMPLE_ALL 0x003f

#define SAMPLE_SNDQ_LEN 1001 /* odd on purpose: exercises padding */
#define SAMPLE_RCVQ_LEN 701
#define SAMPLE_OFO_SEGS 3
#define SAMPLE_OFO_BYTES (50 + 3 + 8)

/* Every state an ICI may carry */
extern const uint8_t sample_states[];
extern const unsigned int sample_nstates;

/* Independent FIN accounting: which states sent / received a FIN */
bool sample_fin_sent(uint8_t state);
bool sample_fin_rcvd(uint8_t state);

struct sample {
	struct ici ici;
	uint8_t sndq[SAMPLE_SNDQ_LEN];
	uint8_t rcvq[SAMPLE_RCVQ_LEN];
	uint8_t ofo[128];
};

/* family: TCPCP_FAMILY_INET or TCPCP_FAMILY_INET6 */
void sample_init(struct sample *s, uint8_t family, uint8_t state,
		 unsigned int shape);

/* 0 if equal, else -1 and the first difference in why */
int ici_equal(const struct ici *a, const struct ici *b, char *why,
	      size_t whylen);

/* Hand-written ICI bytes */
struct raw {
	uint8_t *buf;
	size_t len, cap;
};

void raw_init(struct raw *r, size_t cap);
void raw_free(struct raw *r);
void raw_hdr(struct raw *r, uint32_t magic, uint8_t major, uint8_t minor,
	     uint16_t flags, uint32_t reserved);
/* An element, padded with pad_byte up to 4 bytes */
void raw_elem(struct raw *r, uint16_t type, uint16_t flags, const void *p,
	      uint32_t len, uint8_t pad_byte);
/* Write the current length into the header */
void raw_fix_len(struct raw *r);

/* One element of an ICI, as found in the bytes */
struct elem {
	uint16_t type, flags;
	uint32_t len;
	size_t off; /* offset of the element header */
	size_t payload; /* offset of the payload */
};

/* Split buf into up to max elements; returns the count or -1 if malformed */
int elem_walk(const uint8_t *buf, size_t len, struct elem *el, int max);
/* The element of a type, or NULL */
const struct elem *elem_find(const struct elem *el, int n, uint16_t type);

/* Big-endian stores and loads */
void put_be16(uint8_t *p, uint16_t v);
void put_be32(uint8_t *p, uint32_t v);
uint16_t get_be16(const uint8_t *p);
uint32_t get_be32(const uint8_t *p);

/* Build the raw OFO payload of segs (seq, len) with pattern data */
size_t ofo_build(uint8_t *out, size_t cap, const uint32_t *seq,
		 const uint32_t *len, int n);

#endif /* TCPCP_TEST_ICI_SAMPLE_H */
