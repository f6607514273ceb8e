// SPDX-License-Identifier: GPL-2.0
/*
 * pcapread: classic pcap files and the IPv4/IPv6 TCP headers in them, for
 * pcapcheck (see pcapread.h).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pcapread.h"

#define MAX_REC (256u << 20) /* larger records mean a corrupt file */

static bool warned_trunc;

void die(const char *fmt, ...)
{
	va_list ap;

	fputs("pcapcheck: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(2);
}

void *xrealloc(void *p, size_t n)
{
	p = realloc(p, n);
	if (!p)
		die("out of memory");
	return p;
}

static uint16_t be16(const uint8_t *b)
{
	return (uint16_t)(b[0] << 8 | b[1]);
}

static uint32_t be32(const uint8_t *b)
{
	return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 |
	       (uint32_t)b[2] << 8 | b[3];
}

/* Parse TCP at b (n captured bytes, iplen bytes on the wire). */
static bool parse_tcp(struct pkt *p, const uint8_t *b, uint32_t n,
		      uint32_t iplen)
{
	uint32_t doff, i, k;

	if (n < 20 || iplen < 20)
		return false;
	doff = (b[12] >> 4) * 4u;
	if (doff < 20 || doff > n || doff > iplen)
		return false;
	p->sport = be16(b);
	p->dport = be16(b + 2);
	p->seq = be32(b + 4);
	p->ack = be32(b + 8);
	p->flags = b[13];
	p->has_ts = false;
	for (i = 20; i < doff;) {
		k = b[i];
		if (k == 0)
			break;
		if (k == 1) {
			i++;
			continue;
		}
		if (i + 1 >= doff || b[i + 1] < 2 || i + b[i + 1] > doff)
			break;
		if (k == 8 && b[i + 1] == 10) {
			p->has_ts = true;
			p->tsval = be32(b + i + 2);
		}
		i += b[i + 1];
	}
	p->len = iplen - doff;
	p->caplen = n - doff < p->len ? n - doff : p->len;
	p->data = b + doff;
	if (p->caplen < p->len && !warned_trunc) {
		warned_trunc = true;
		fprintf(stderr,
			"pcapcheck: warning: packet %lu is truncated in the capture "
			"(capture with -s 0); retransmitted bytes are checked only where "
			"captured\n",
			p->no);
	}
	return true;
}

static bool parse_ip(struct pkt *p, const uint8_t *b, uint32_t n)
{
	uint32_t hl, tot, nh, off;

	if (n < 1)
		return false;
	if ((b[0] >> 4) == 4) {
		if (n < 20)
			return false;
		hl = (b[0] & 15) * 4u;
		tot = be16(b + 2);
		if (!tot)
			tot = n; /* TSO / BIG TCP: length not filled in */
		if (hl < 20 || hl > n || tot < hl || b[9] != 6)
			return false;
		if (be16(b + 6) & 0x3fff)
			return false; /* fragment */
		p->family = AF_INET;
		memset(p->src, 0, sizeof(p->src));
		memset(p->dst, 0, sizeof(p->dst));
		memcpy(p->src, b + 12, 4);
		memcpy(p->dst, b + 16, 4);
		return parse_tcp(p, b + hl, n - hl, tot - hl);
	}
	if ((b[0] >> 4) != 6 || n < 40)
		return false;
	tot = be16(b + 4);
	if (!tot)
		tot = n - 40; /* jumbogram / BIG TCP */
	p->family = AF_INET6;
	memcpy(p->src, b + 8, 16);
	memcpy(p->dst, b + 24, 16);
	nh = b[6];
	off = 40;
	tot += 40;
	for (;;) {
		if (nh == 6)
			break;
		if (off + 8 > n)
			return false;
		if (nh == 0 || nh == 43 || nh == 60) {
			hl = (b[off + 1] + 1) * 8u;
		} else if (nh == 51) {
			hl = (b[off + 1] + 2) * 4u;
		} else if (nh == 44) {
			if (be16(b + off + 2) & 0xfff9)
				return false; /* a real fragment */
			hl = 8;
		} else {
			return false;
		}
		nh = b[off];
		off += hl;
	}
	if (off > n || off > tot)
		return false;
	return parse_tcp(p, b + off, n - off, tot - off);
}

/* Find the IP header behind the link header. */
static bool parse_link(struct pkt *p, uint32_t lt, const uint8_t *b, uint32_t n)
{
	uint32_t et, off, af;

	switch (lt) {
	case 1: /* EN10MB */
		if (n < 14)
			return false;
		off = 12;
		et = be16(b + off);
		while ((et == 0x8100 || et == 0x88a8 || et == 0x9100) &&
		       off + 6 <= n) {
			off += 4;
			et = be16(b + off);
		}
		off += 2;
		break;
	case 113: /* LINUX_SLL */
		if (n < 16)
			return false;
		et = be16(b + 14);
		off = 16;
		break;
	case 276: /* LINUX_SLL2 */
		if (n < 20)
			return false;
		et = be16(b);
		off = 20;
		break;
	case 0: /* NULL: host byte order family */
	case 108: /* LOOP: network byte order family */
		if (n < 4)
			return false;
		af = lt ? be32(b) :
			  (uint32_t)b[0] | b[1] << 8 | b[2] << 16 |
				     (uint32_t)b[3] << 24;
		if (lt == 0 && af > 0xffff)
			af = be32(b);
		et = af == 2					    ? 0x0800 :
		     (af == 10 || af == 24 || af == 28 || af == 30) ? 0x86dd :
								      0;
		off = 4;
		break;
	case 12:
	case 14:
	case 101: /* RAW */
	case 228:
	case 229: /* IPV4, IPV6 */
		et = 0x0800;
		off = 0;
		break;
	default:
		return false;
	}
	if (et != 0x0800 && et != 0x86dd)
		return false;
	if (off > n)
		return false;
	return parse_ip(p, b + off, n - off);
}
static uint32_t get32(const uint8_t *b, bool swap)
{
	uint32_t v;

	memcpy(&v, b, 4);
	return swap ? __builtin_bswap32(v) : v;
}

unsigned long pcap_read(const char *path, pcap_pkt_fn fn)
{
	unsigned long npackets = 0;
	uint8_t gh[24], rh[16], *buf = NULL;
	double t0 = 0, frac_div, t;
	uint32_t magic, lt, incl;
	size_t bufsz = 0;
	bool swap, first = true;
	struct pkt p;
	FILE *f;

	f = fopen(path, "rb");
	if (!f)
		die("cannot open %s: %s", path, strerror(errno));
	if (fread(gh, 1, 24, f) != 24)
		die("%s: not a pcap file (too short)", path);
	memcpy(&magic, gh, 4);
	swap = magic == 0xd4c3b2a1 || magic == 0x4d3cb2a1;
	if (swap)
		magic = __builtin_bswap32(magic);
	if (magic == 0x0a0d0d0a)
		die("%s: pcapng is not supported; write classic pcap (tcpdump -w)",
		    path);
	if (magic != 0xa1b2c3d4 && magic != 0xa1b23c4d)
		die("%s: not a pcap file (magic 0x%08x)", path, magic);
	frac_div = magic == 0xa1b23c4d ? 1e9 : 1e6;
	lt = get32(gh + 20, swap) & 0xffff;
	if (lt != 0 && lt != 1 && lt != 12 && lt != 14 && lt != 101 &&
	    lt != 108 && lt != 113 && lt != 228 && lt != 229 && lt != 276)
		die("%s: link type %u is not supported", path, lt);
	for (;;) {
		size_t r = fread(rh, 1, 16, f);

		if (r == 0)
			break;
		if (r != 16) {
			fprintf(stderr,
				"pcapcheck: warning: %s ends inside a record header\n",
				path);
			break;
		}
		incl = get32(rh + 8, swap);
		if (incl > MAX_REC)
			die("%s: record %lu has length %u: corrupt file", path,
			    npackets + 1, incl);
		if (incl > bufsz) {
			bufsz = incl;
			buf = xrealloc(buf, bufsz);
		}
		if (fread(buf, 1, incl, f) != incl) {
			fprintf(stderr,
				"pcapcheck: warning: %s ends inside record %lu\n",
				path, npackets + 1);
			break;
		}
		npackets++;
		t = get32(rh, swap) + get32(rh + 4, swap) / frac_div;
		if (first) {
			t0 = t;
			first = false;
		}
		memset(&p, 0, sizeof(p));
		p.no = npackets;
		p.t = t - t0;
		if (parse_link(&p, lt, buf, incl))
			fn(&p);
	}
	if (ferror(f))
		die("%s: read error: %s", path, strerror(errno));
	fclose(f);
	free(buf);
	return npackets;
}
