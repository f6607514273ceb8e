// SPDX-License-Identifier: GPL-2.0
/*
 * pcapread: the classic pcap reader and IPv4/IPv6 TCP parser behind
 * pcapcheck.  pcap_read() calls fn for every TCP packet in the file.
 */
#ifndef PCAPREAD_H
#define PCAPREAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum { F_FIN = 0x01, F_SYN = 0x02, F_RST = 0x04, F_ACK = 0x10 };

struct pkt {
	unsigned long no; /* 1-based packet number in the file */
	double t; /* seconds since the first packet */
	int family;
	uint8_t src[16], dst[16];
	uint16_t sport, dport;
	uint32_t seq, ack;
	uint8_t flags;
	bool has_ts;
	uint32_t tsval;
	const uint8_t *data; /* payload bytes present in the capture */
	uint32_t len; /* payload length on the wire */
	uint32_t caplen; /* payload bytes captured (<= len) */
};

typedef void (*pcap_pkt_fn)(struct pkt *p);

/* Print "pcapcheck: <message>" and exit 2. */
__attribute__((noreturn, format(printf, 1, 2))) void die(const char *fmt, ...);
void *xrealloc(void *p, size_t n);

/*
 * Read the pcap file at path and call fn for each IPv4/IPv6 TCP packet
 * (either byte order, micro- or nanosecond timestamps; link types EN10MB,
 * LINUX_SLL, LINUX_SLL2, RAW, IPV4, IPV6, NULL, LOOP).  Dies on an
 * unreadable or corrupt file; warns and stops at a truncated last record.
 * Returns the number of records read.
 */
unsigned long pcap_read(const char *path, pcap_pkt_fn fn);

#endif /* PCAPREAD_H */
