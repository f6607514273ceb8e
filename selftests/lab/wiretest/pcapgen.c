// SPDX-License-Identifier: GPL-2.0
/* Write crafted TCP traces as classic pcap files for the pcapcheck tests. */
#include <arpa/inet.h>
#include <string.h>
#include <sys/socket.h>

#include "stream.h"
#include "wiretest.h"

static uint32_t le32(uint32_t v, bool swap)
{
	return swap ? __builtin_bswap32(v) : v;
}

static void put16(uint8_t *b, uint16_t v)
{
	b[0] = v >> 8;
	b[1] = v;
}

static void put32(uint8_t *b, uint32_t v)
{
	put16(b, v >> 16);
	put16(b + 2, v);
}

int trace_open(struct trace *t, const char *path, int family, uint32_t linktype,
	       bool swap, bool nsec)
{
	uint32_t gh[6] = { nsec ? 0xa1b23c4d : 0xa1b2c3d4,
			   0x00040002,
			   0,
			   0,
			   262144,
			   linktype };
	int i;

	memset(t, 0, sizeof(*t));
	t->f = fopen(path, "wb");
	if (!t->f)
		return -1;
	for (i = 0; i < 6; i++)
		gh[i] = le32(gh[i], swap);
	if (swap) /* version fields are two 16-bit halves */
		gh[1] = 0x04000200;
	fwrite(gh, 4, 6, t->f);
	t->linktype = linktype;
	t->swap = swap;
	t->nsec = nsec;
	t->usec = 1700000000ULL * 1000000;
	t->step_us = 1000;
	t->family = family;
	if (family == AF_INET) {
		inet_pton(AF_INET, "198.18.0.1", t->addr[CLI]);
		inet_pton(AF_INET, "198.18.100.1", t->addr[SRV]);
	} else {
		inet_pton(AF_INET6, "fd00:7c:0::1", t->addr[CLI]);
		inet_pton(AF_INET6, "fd00:7c:100::1", t->addr[SRV]);
	}
	t->port[CLI] = 40000;
	t->port[SRV] = 8080;
	t->isn[CLI] = 1000;
	t->isn[SRV] = 500000;
	t->seed[CLI] = 11;
	t->seed[SRV] = 22;
	t->ts[CLI] = 100;
	t->ts[SRV] = 7000;
	return 0;
}

void trace_close(struct trace *t)
{
	fclose(t->f);
	t->f = NULL;
}

static void record(struct trace *t, const uint8_t *pkt, uint32_t len,
		   uint32_t orig)
{
	uint32_t rh[4];

	rh[0] = le32(t->usec / 1000000, t->swap);
	rh[1] = le32(t->nsec ? (t->usec % 1000000) * 1000 : t->usec % 1000000,
		     t->swap);
	rh[2] = le32(len, t->swap);
	rh[3] = le32(orig, t->swap);
	fwrite(rh, 4, 4, t->f);
	fwrite(pkt, 1, len, t->f);
	t->usec += t->step_us;
}

void trace_raw(struct trace *t, int from, uint8_t flags, uint32_t seq,
	       uint32_t ack, uint32_t tsval, const void *data, uint32_t len)
{
	static uint8_t pkt[70000];
	uint8_t *ip, *tcp;
	uint32_t link = 0, iphl = t->family == AF_INET ? 20 : 40;
	uint32_t thl = tsval ? 32 : 20,
		 et = t->family == AF_INET ? 0x0800 : 0x86dd;
	int to = !from;

	memset(pkt, 0, 128);
	switch (t->linktype) {
	case 1: /* EN10MB, with an 802.1Q tag in IPv6 traces */
		memset(pkt, from ? 0xaa : 0xbb, 12);
		if (t->family == AF_INET6) {
			put16(pkt + 12, 0x8100);
			put16(pkt + 14, 7);
			link = 4;
		}
		put16(pkt + 12 + link, et);
		link += 14;
		break;
	case 113: /* LINUX_SLL */
		put16(pkt, from == SRV ? 0 : 4);
		put16(pkt + 2, 1);
		put16(pkt + 4, 6);
		put16(pkt + 14, et);
		link = 16;
		break;
	case 276: /* LINUX_SLL2 */
		put16(pkt, et);
		put32(pkt + 4, 2);
		put16(pkt + 8, 1);
		pkt[10] = from == SRV ? 0 : 4;
		pkt[11] = 6;
		link = 20;
		break;
	default: /* RAW */
		break;
	}
	ip = pkt + link;
	tcp = ip + iphl;
	if (t->family == AF_INET) {
		ip[0] = 0x45;
		put16(ip + 2, iphl + thl + len);
		put16(ip + 6, 0x4000); /* DF */
		ip[8] = 64;
		ip[9] = 6;
		memcpy(ip + 12, t->addr[from], 4);
		memcpy(ip + 16, t->addr[to], 4);
	} else {
		ip[0] = 0x60;
		put16(ip + 4, thl + len);
		ip[6] = 6;
		ip[7] = 64;
		memcpy(ip + 8, t->addr[from], 16);
		memcpy(ip + 24, t->addr[to], 16);
	}
	put16(tcp, t->port[from]);
	put16(tcp + 2, t->port[to]);
	put32(tcp + 4, seq);
	put32(tcp + 8, ack);
	tcp[12] = (thl / 4) << 4;
	tcp[13] = flags;
	put16(tcp + 14, 512);
	if (tsval) {
		tcp[20] = 1;
		tcp[21] = 1;
		tcp[22] = 8;
		tcp[23] = 10;
		put32(tcp + 24, tsval);
		put32(tcp + 28, t->ts[to] ? t->ts[to] - 1 : 0);
	}
	if (len)
		memcpy(tcp + thl, data, len);
	record(t, pkt, link + iphl + thl + len, link + iphl + thl + len);
}

uint32_t trace_seq(const struct trace *t, int side, uint64_t off)
{
	return t->isn[side] + 1 + (uint32_t)off;
}

static uint32_t ack_of(const struct trace *t, int from)
{
	int to = !from;

	return trace_seq(t, to, t->next[to]) + t->fin[to];
}

static uint32_t next_ts(struct trace *t, int from)
{
	return t->ts[from] ? t->ts[from]++ : 0;
}

void trace_handshake(struct trace *t)
{
	trace_raw(t, CLI, TF_SYN, t->isn[CLI], 0, next_ts(t, CLI), NULL, 0);
	trace_raw(t, SRV, TF_SYN | TF_ACK, t->isn[SRV], t->isn[CLI] + 1,
		  next_ts(t, SRV), NULL, 0);
	trace_ack(t, CLI);
}

void trace_data(struct trace *t, int from, uint64_t off, uint32_t len)
{
	static uint8_t buf[65536];

	stream_fill(t->seed[from], off, buf, len);
	trace_raw(t, from, TF_ACK | TF_PSH, trace_seq(t, from, off),
		  ack_of(t, from), next_ts(t, from), buf, len);
	if (off + len > t->next[from])
		t->next[from] = off + len;
}

void trace_ack(struct trace *t, int from)
{
	trace_raw(t, from, TF_ACK,
		  trace_seq(t, from, t->next[from]) + t->fin[from],
		  ack_of(t, from), next_ts(t, from), NULL, 0);
}

void trace_fin(struct trace *t, int from)
{
	trace_raw(t, from, TF_ACK | TF_FIN, trace_seq(t, from, t->next[from]),
		  ack_of(t, from), next_ts(t, from), NULL, 0);
	t->fin[from] = true;
}

void trace_trunc_tail(struct trace *t)
{
	uint32_t rh[4] = { 0, 0, le32(100, t->swap), le32(100, t->swap) };

	fwrite(rh, 4, 4, t->f);
	fwrite("short", 1, 5, t->f);
}
