// SPDX-License-Identifier: GPL-2.0
/*
 * pcapcheck: check a capture taken at the peer for what a connection move
 * must never show on the wire.
 *
 * pcapcheck --server ADDR:PORT [--server-fin] [--client-fin] [--window BYTES]
 *           [--reorder-ms MS] [-v] FILE
 *
 * Reads a classic pcap file (either byte order, micro- or nanosecond
 * timestamps; link types EN10MB, LINUX_SLL, LINUX_SLL2, RAW, IPV4, IPV6,
 * NULL, LOOP) with IPv4/IPv6 TCP, follows every connection to the server
 * ADDR:PORT separately and reports, one line per violation:
 *   - any RST;
 *   - any SYN but the initial SYN and SYN-ACK and their exact retransmissions;
 *   - a FIN from a side not allowed to close, or new data after a FIN;
 *   - server TSval decreasing (32-bit serial arithmetic), in capture order;
 *   - server sequence going back, except a retransmission that carries the
 *     same bytes as the first transmission (the most recent --window bytes,
 *     default 16 MiB, are kept per connection; older retransmissions are
 *     counted as unverified) or a zero-length segment at the client's highest
 *     ACK - 1 (keepalive, window probe);
 *   - server ACK number decreasing;
 *   - no packet at all to or from the server.
 * A server packet that is older in every respect (TSval, ACK, sequence not
 * above the highest seen) and arrives within --reorder-ms (default 1 ms) of
 * the packets that set those highest values was reordered on its way to the
 * capture (per-CPU queues of lo and veth); it is counted, not reported.
 * --reorder-ms 0 makes every step back a violation.
 * max_stall_ms is the largest gap between consecutive server segments that
 * make progress (carry new data, a new FIN, or advance the server's ACK).
 * Exit 0 verdict ok, 1 FAIL, 2 usage error or unreadable file.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pcapread.h"

#define MAX_LINES 200 /* violation lines printed in total */
#define NBUCKETS 65536

struct iv {
	int64_t a, b; /* known server bytes [a, b) */
};

struct conn {
	struct conn *next;
	uint8_t caddr[16];
	uint16_t cport;
	/* handshake */
	bool c_syn, s_syn, c_seen, s_seen;
	uint32_t c_isn, s_isn, s_synack_ack;
	/* server stream: offsets are 64-bit, unwrapped from sequence numbers */
	int64_t s_max; /* highest offset sent + 1 (SYN, FIN count) */
	uint32_t s_max_seq; /* sequence number of s_max */
	bool ts_seen, s_ack_seen, c_ack_seen, s_fin, c_fin;
	uint32_t tsval, s_ack, c_ack, s_fin_seq, c_fin_seq;
	/* first transmissions of the latest server bytes */
	uint8_t *ring;
	int64_t cap; /* power of two, 0 until data is seen */
	struct iv *ivs;
	size_t niv, civ;
	/* capture times the TSval, ACK and sequence high-water marks were set */
	double t_ts, t_ack, t_seq;
	/* statistics */
	double last_progress, max_stall;
	bool have_progress;
	unsigned long segs, retrans, unverified, reordered, violations;
	bool fin_reported[2];
};

static int srv_family;
static uint8_t srv_addr[16];
static uint16_t srv_port;
static bool allow_sfin, allow_cfin, verbose;
static int64_t max_window = 16 << 20;
static double reorder_win = 0.001;
static unsigned long nlines, nviolations, npackets, nserver, nretrans, nconns;
static double max_stall;
static struct conn *buckets[NBUCKETS];

static void usage(void)
{
	fprintf(stderr,
		"Usage: pcapcheck --server ADDR:PORT [--server-fin] [--client-fin]\n"
		"                 [--window BYTES] [--reorder-ms MS] [-v] FILE\n"
		"ADDR:PORT is 198.18.100.1:8080 or [fd00:7c:100::1]:8080.\n");
	exit(2);
}

static const char *conn_name(const struct conn *c)
{
	static char buf[INET6_ADDRSTRLEN + 16];
	char a[INET6_ADDRSTRLEN];

	inet_ntop(srv_family, c->caddr, a, sizeof(a));
	snprintf(buf, sizeof(buf), srv_family == AF_INET6 ? "[%s]:%u" : "%s:%u",
		 a, c->cport);
	return buf;
}

static __attribute__((format(printf, 3, 4))) void
violation(struct conn *c, const struct pkt *p, const char *fmt, ...)
{
	va_list ap;

	nviolations++;
	if (c)
		c->violations++;
	if (++nlines > MAX_LINES)
		return;
	if (p)
		printf("pcapcheck: packet %lu t=%.6f client %s: ", p->no, p->t,
		       c ? conn_name(c) : "-");
	else
		printf("pcapcheck: ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
}

static inline bool seq_lt(uint32_t a, uint32_t b)
{
	return (int32_t)(a - b) < 0;
}

/* ---- known server bytes: a ring of the latest cap bytes + intervals ---- */

static void iv_trim(struct conn *c, int64_t low)
{
	size_t i, j = 0;

	for (i = 0; i < c->niv; i++) {
		if (c->ivs[i].b <= low)
			continue;
		c->ivs[j] = c->ivs[i];
		if (c->ivs[j].a < low)
			c->ivs[j].a = low;
		j++;
	}
	c->niv = j;
}

static void iv_add(struct conn *c, int64_t a, int64_t b)
{
	size_t i, j;

	if (a >= b)
		return;
	/* insert sorted, then merge neighbours */
	for (i = 0; i < c->niv && c->ivs[i].a < a; i++)
		;
	if (c->niv == c->civ) {
		c->civ = c->civ ? 2 * c->civ : 8;
		c->ivs = xrealloc(c->ivs, c->civ * sizeof(*c->ivs));
	}
	memmove(&c->ivs[i + 1], &c->ivs[i], (c->niv - i) * sizeof(*c->ivs));
	c->ivs[i].a = a;
	c->ivs[i].b = b;
	c->niv++;
	for (i = 0, j = 0; i < c->niv; i++) {
		if (j && c->ivs[i].a <= c->ivs[j - 1].b) {
			if (c->ivs[i].b > c->ivs[j - 1].b)
				c->ivs[j - 1].b = c->ivs[i].b;
		} else {
			c->ivs[j++] = c->ivs[i];
		}
	}
	c->niv = j;
}

/* Make the ring hold [new_max - cap, new_max), growing it up to max_window. */
static void ring_advance(struct conn *c, int64_t span, int64_t new_max)
{
	int64_t cap = c->cap ? c->cap : 4096, o, lo;
	uint8_t *r;

	while (cap < span && cap < max_window)
		cap *= 2;
	if (cap != c->cap) {
		r = xrealloc(NULL, cap);
		/* carry over the valid bytes of the old ring */
		for (size_t i = 0; i < c->niv; i++)
			for (o = c->ivs[i].a; o < c->ivs[i].b; o++)
				r[o & (cap - 1)] = c->ring[o & (c->cap - 1)];
		free(c->ring);
		c->ring = r;
		c->cap = cap;
	}
	lo = new_max - c->cap;
	iv_trim(c, lo);
}

/*
 * Compare a segment's bytes with what was first sent at the same offsets.
 * Returns the offset of the first differing byte or -1.
 */
static int64_t ring_compare(struct conn *c, int64_t off, const uint8_t *d,
			    int64_t n, uint8_t *was)
{
	int64_t a, b, o;

	for (size_t i = 0; i < c->niv; i++) {
		a = c->ivs[i].a > off ? c->ivs[i].a : off;
		b = c->ivs[i].b < off + n ? c->ivs[i].b : off + n;
		for (o = a; o < b; o++) {
			if (c->ring[o & (c->cap - 1)] != d[o - off]) {
				*was = c->ring[o & (c->cap - 1)];
				return o;
			}
		}
	}
	return -1;
}

/* Bytes of [off, off + n) that are already known. */
static int64_t known_bytes(const struct conn *c, int64_t off, int64_t n)
{
	int64_t a, b, k = 0;

	for (size_t i = 0; i < c->niv; i++) {
		a = c->ivs[i].a > off ? c->ivs[i].a : off;
		b = c->ivs[i].b < off + n ? c->ivs[i].b : off + n;
		if (b > a)
			k += b - a;
	}
	return k;
}

/* ---- per-connection state ---- */

static struct conn *conn_get(const uint8_t *addr, uint16_t port)
{
	uint32_t h = port * 2654435761u;
	struct conn *c;

	for (int i = 0; i < 16; i++)
		h = (h ^ addr[i]) * 16777619u;
	h %= NBUCKETS;
	for (c = buckets[h]; c; c = c->next)
		if (c->cport == port && !memcmp(c->caddr, addr, 16))
			return c;
	c = xrealloc(NULL, sizeof(*c));
	memset(c, 0, sizeof(*c));
	memcpy(c->caddr, addr, 16);
	c->cport = port;
	c->next = buckets[h];
	buckets[h] = c;
	nconns++;
	return c;
}

/* A new connection on the same address pair after both sides closed. */
static void conn_reset(struct conn *c)
{
	struct conn *next = c->next;
	uint8_t addr[16];
	uint16_t port = c->cport;

	memcpy(addr, c->caddr, 16);
	if (c->have_progress && c->max_stall > max_stall)
		max_stall = c->max_stall;
	free(c->ring);
	free(c->ivs);
	memset(c, 0, sizeof(*c));
	memcpy(c->caddr, addr, 16);
	c->cport = port;
	c->next = next;
}

static void progress(struct conn *c, const struct pkt *p)
{
	if (c->have_progress && p->t - c->last_progress > c->max_stall)
		c->max_stall = p->t - c->last_progress;
	c->last_progress = p->t;
	c->have_progress = true;
}

static void check_fin(struct conn *c, const struct pkt *p, int side)
{
	bool allowed = side ? allow_sfin : allow_cfin;
	bool *fin = side ? &c->s_fin : &c->c_fin;
	uint32_t *fin_seq = side ? &c->s_fin_seq : &c->c_fin_seq;
	const char *who = side ? "server" : "client";
	uint32_t end = p->seq + p->len + !!(p->flags & F_SYN);

	if (*fin && p->len && seq_lt(*fin_seq, end))
		violation(
			c, p,
			"%s sent data after its FIN (FIN at seq %u, data up to %u)",
			who, *fin_seq, end);
	if (!(p->flags & F_FIN))
		return;
	if (!allowed && !c->fin_reported[side]) {
		c->fin_reported[side] = true;
		violation(c, p, "FIN from %s (not allowed: %s)", who,
			  side ? "no --server-fin" : "no --client-fin");
	}
	if (*fin && end != *fin_seq)
		violation(c, p, "%s FIN moved from seq %u to %u", who, *fin_seq,
			  end);
	if (!*fin) {
		*fin = true;
		*fin_seq = end;
	}
}

static void client_pkt(struct conn *c, const struct pkt *p)
{
	if (p->flags & F_SYN) {
		if (!(p->flags & F_ACK) && c->c_syn && p->seq != c->c_isn &&
		    c->c_fin && c->s_fin) {
			conn_reset(c); /* the address pair is reused */
		}
		if (!c->c_syn && !c->c_seen && !c->s_seen &&
		    !(p->flags & F_ACK)) {
			c->c_syn = true;
			c->c_isn = p->seq;
		} else if (!c->c_syn || p->seq != c->c_isn ||
			   (p->flags & F_ACK)) {
			violation(
				c, p,
				"SYN from client after the handshake (seq %u)",
				p->seq);
		}
	}
	c->c_seen = true;
	if (p->flags & F_RST)
		violation(c, p, "RST from client (seq %u)", p->seq);
	if ((p->flags & F_ACK) &&
	    (!c->c_ack_seen || seq_lt(c->c_ack, p->ack))) {
		c->c_ack = p->ack;
		c->c_ack_seen = true;
	}
	check_fin(c, p, 0);
}

/* Server sequence numbers: never back, except identical retransmissions. */
static void server_seq(struct conn *c, const struct pkt *p, bool stale)
{
	uint32_t seq = p->seq + !!(p->flags & F_SYN);
	int64_t off = c->s_max + (int32_t)(seq - c->s_max_seq);
	int64_t end = off + p->len, fin_end = end + !!(p->flags & F_FIN);
	int64_t bad, lo;
	uint8_t was = 0;

	if (!p->len && !(p->flags & (F_FIN | F_SYN))) {
		/* pure ACK, keepalive or window probe */
		if (off < c->s_max && !(c->c_ack_seen && seq == c->c_ack - 1) &&
		    !stale)
			violation(
				c, p,
				"server sequence went back: seq %u below highest %u",
				seq, c->s_max_seq);
		if (off > c->s_max) {
			c->s_max = off; /* bytes missing from the capture */
			c->s_max_seq = seq;
			c->t_seq = p->t;
		}
		return;
	}
	if (p->flags & F_SYN)
		return;
	if (off < c->s_max) {
		c->retrans++;
		nretrans++;
	}
	if (p->len) {
		if (end > c->s_max || !c->cap) {
			lo = c->niv ? c->ivs[0].a : off;
			ring_advance(c,
				     (end > c->s_max ? end : c->s_max) -
					     (lo < off ? lo : off),
				     end > c->s_max ? end : c->s_max);
		}
		/* compare, then remember, the captured bytes inside the window */
		lo = (end > c->s_max ? end : c->s_max) - c->cap;
		if (off < lo) {
			c->unverified++;
			if (verbose)
				fprintf(stderr,
					"pcapcheck: packet %lu: retransmission of seq %u "
					"is older than the --window, not verified\n",
					p->no, seq);
		}
		int64_t a = off > lo ? off : lo, n = off + p->caplen - a;

		if (n > 0) {
			bad = ring_compare(c, a, p->data + (a - off), n, &was);
			if (bad >= 0)
				violation(
					c, p,
					"server retransmission differs from the first "
					"transmission at seq %u (0x%02x, was 0x%02x)",
					(uint32_t)(c->s_max_seq +
						   (bad - c->s_max)),
					p->data[bad - off], was);
			if (bad < 0 && known_bytes(c, a, n) < n) {
				for (int64_t o = a; o < a + n; o++)
					c->ring[o & (c->cap - 1)] =
						p->data[o - off];
				iv_add(c, a, a + n);
			}
		}
	}
	if (fin_end > c->s_max) {
		c->s_max_seq += (uint32_t)(fin_end - c->s_max);
		c->s_max = fin_end;
		c->t_seq = p->t;
		progress(c, p);
	}
}

/*
 * Could this packet have been sent before the ones that set the highest
 * TSval, ACK and sequence, and been reordered on the way to the capture?
 */
static bool reordered(const struct conn *c, const struct pkt *p)
{
	uint32_t seq = p->seq + p->len + !!(p->flags & F_FIN);
	int64_t end = c->s_max + (int32_t)(seq - c->s_max_seq);

	if (!c->s_seen || (p->flags & F_SYN) || reorder_win <= 0)
		return false;
	if (p->has_ts && c->ts_seen && p->tsval != c->tsval &&
	    (seq_lt(c->tsval, p->tsval) || p->t - c->t_ts > reorder_win))
		return false;
	if ((p->flags & F_ACK) && c->s_ack_seen && p->ack != c->s_ack &&
	    (seq_lt(c->s_ack, p->ack) || p->t - c->t_ack > reorder_win))
		return false;
	if (end != c->s_max &&
	    (end > c->s_max || p->t - c->t_seq > reorder_win))
		return false;
	return true;
}

static void server_pkt(struct conn *c, const struct pkt *p)
{
	bool first = !c->s_seen, stale = reordered(c, p);

	nserver++;
	c->segs++;
	if (p->flags & F_RST) {
		violation(c, p, "RST from server (seq %u)", p->seq);
		c->s_seen = true;
		return;
	}
	if (p->flags & F_SYN) {
		if (!c->s_syn && !c->s_seen) {
			c->s_syn = true;
			c->s_isn = p->seq;
			c->s_synack_ack = p->ack;
		} else if (!c->s_syn || p->seq != c->s_isn ||
			   p->ack != c->s_synack_ack) {
			violation(
				c, p,
				"SYN from server other than the initial SYN-ACK (seq %u)",
				p->seq);
		}
	}
	if (first) {
		c->s_max_seq = p->seq + !!(p->flags & F_SYN);
		c->s_max = 0;
	}
	c->s_seen = true;
	if (stale && (seq_lt(p->tsval, c->tsval) || seq_lt(p->ack, c->s_ack)))
		c->reordered++;
	if (p->has_ts) {
		if (c->ts_seen && seq_lt(p->tsval, c->tsval)) {
			if (!stale)
				violation(
					c, p,
					"server TSval went back from %u to %u",
					c->tsval, p->tsval);
		} else {
			if (!c->ts_seen || p->tsval != c->tsval)
				c->t_ts = p->t;
			c->tsval = p->tsval;
		}
		c->ts_seen = true;
	}
	if (p->flags & F_ACK) {
		if (c->s_ack_seen && seq_lt(p->ack, c->s_ack)) {
			if (!stale)
				violation(c, p,
					  "server ACK went back from %u to %u",
					  c->s_ack, p->ack);
		} else {
			if (!c->s_ack_seen || p->ack != c->s_ack) {
				if (c->s_ack_seen)
					progress(c, p);
				c->t_ack = p->t;
			}
			c->s_ack = p->ack;
		}
		c->s_ack_seen = true;
	}
	check_fin(c, p, 1);
	server_seq(c, p, stale);
}

static void handle(struct pkt *p)
{
	size_t alen = srv_family == AF_INET ? 4 : 16;
	struct conn *c;

	if (p->family != srv_family)
		return;
	if (p->dport == srv_port && !memcmp(p->dst, srv_addr, alen)) {
		c = conn_get(p->src, p->sport);
		client_pkt(c, p);
	} else if (p->sport == srv_port && !memcmp(p->src, srv_addr, alen)) {
		c = conn_get(p->dst, p->dport);
		server_pkt(c, p);
	}
}

static void parse_server(const char *s)
{
	char host[INET6_ADDRSTRLEN + 2];
	const char *colon;
	unsigned long port;
	char *end;
	size_t n;

	if (*s == '[') {
		colon = strstr(s, "]:");
		if (!colon)
			usage();
		n = colon - s - 1;
		if (n >= sizeof(host))
			usage();
		memcpy(host, s + 1, n);
		colon++;
	} else {
		colon = strchr(s, ':');
		if (colon && strchr(colon + 1, ':')) {
			fprintf(stderr,
				"Error: argument \"%s\" is wrong: IPv6 is [ADDR]:PORT\n",
				s);
			usage();
		}
		if (!colon || (size_t)(colon - s) >= sizeof(host))
			usage();
		n = colon - s;
		memcpy(host, s, n);
	}
	host[n] = 0;
	errno = 0;
	port = strtoul(colon + 1, &end, 10);
	if (errno || *end || !port || port > 65535 || end == colon + 1) {
		fprintf(stderr, "Error: argument \"%s\" is wrong: bad port\n",
			s);
		usage();
	}
	srv_port = port;
	memset(srv_addr, 0, sizeof(srv_addr));
	if (inet_pton(AF_INET, host, srv_addr) == 1) {
		srv_family = AF_INET;
	} else if (inet_pton(AF_INET6, host, srv_addr) == 1) {
		srv_family = AF_INET6;
	} else {
		fprintf(stderr,
			"Error: argument \"%s\" is wrong: bad address\n", s);
		usage();
	}
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "server", required_argument, NULL, 's' },
		{ "server-fin", no_argument, NULL, 'S' },
		{ "client-fin", no_argument, NULL, 'C' },
		{ "window", required_argument, NULL, 'w' },
		{ "reorder-ms", required_argument, NULL, 'r' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	bool have_server = false;
	unsigned long long w;
	struct conn *c;
	char *end;
	int o;

	while ((o = getopt_long(argc, argv, "vh", lo, NULL)) != -1) {
		switch (o) {
		case 's':
			parse_server(optarg);
			have_server = true;
			break;
		case 'S':
			allow_sfin = true;
			break;
		case 'C':
			allow_cfin = true;
			break;
		case 'v':
			verbose = true;
			break;
		case 'r':
			reorder_win = strtod(optarg, &end) / 1000;
			if (*end || end == optarg || !(reorder_win >= 0)) {
				fprintf(stderr,
					"Error: argument \"%s\" is wrong: --reorder-ms must "
					"be >= 0\n",
					optarg);
				usage();
			}
			break;
		case 'w':
			w = strtoull(optarg, &end, 0);
			if (*end || w < 4096 || w > (1ULL << 32)) {
				fprintf(stderr,
					"Error: argument \"%s\" is wrong: --window must be "
					"4096..4294967296\n",
					optarg);
				usage();
			}
			/* round up to a power of two */
			for (max_window = 4096;
			     (unsigned long long)max_window < w;)
				max_window *= 2;
			break;
		default:
			usage();
		}
	}
	if (!have_server || optind != argc - 1)
		usage();
	setvbuf(stdout, NULL, _IOLBF, 0);
	npackets = pcap_read(argv[optind], handle);

	if (!nconns)
		violation(NULL, NULL, "no packets to or from the server in %s",
			  argv[optind]);
	for (o = 0; o < NBUCKETS; o++) {
		for (c = buckets[o]; c; c = c->next) {
			if (c->have_progress && c->max_stall > max_stall)
				max_stall = c->max_stall;
			if (verbose)
				printf("pcapcheck: client %s server_segs=%lu retrans=%lu "
				       "unverified=%lu reordered=%lu max_stall_ms=%.3f "
				       "violations=%lu\n",
				       conn_name(c), c->segs, c->retrans,
				       c->unverified, c->reordered,
				       c->max_stall * 1000, c->violations);
		}
	}
	if (nlines > MAX_LINES)
		printf("pcapcheck: %lu more violations not shown\n",
		       nlines - MAX_LINES);
	printf("pcapcheck: packets=%lu server_segs=%lu retrans=%lu max_stall_ms=%.3f "
	       "verdict=%s\n",
	       npackets, nserver, nretrans, max_stall * 1000,
	       nviolations ? "FAIL" : "ok");
	return nviolations ? 1 : 0;
}
