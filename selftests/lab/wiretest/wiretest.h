/* SPDX-License-Identifier: GPL-2.0 */
/* wiretest: tests of pcapcheck, peer and the test streams. */
#ifndef TCPCP_WIRETEST_H
#define TCPCP_WIRETEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum {
	TF_FIN = 0x01,
	TF_SYN = 0x02,
	TF_RST = 0x04,
	TF_PSH = 0x08,
	TF_ACK = 0x10
};
enum { CLI = 0, SRV = 1 };

/* A crafted trace of one TCP connection, written as a pcap file. */
struct trace {
	FILE *f;
	uint32_t linktype;
	bool swap, nsec;
	uint64_t usec; /* time of the next packet */
	uint32_t step_us; /* time between packets (1000) */
	int family;
	uint8_t addr[2][16]; /* [CLI], [SRV] */
	uint16_t port[2];
	uint32_t isn[2];
	uint32_t seed[2]; /* stream each side sends */
	uint64_t next[2]; /* highest stream offset sent + 1 */
	uint32_t ts[2]; /* next TSval; 0 = no timestamps */
	bool syn_done[2], fin[2];
};

/* pcap writing (pcapgen.c) */
int trace_open(struct trace *t, const char *path, int family, uint32_t linktype,
	       bool swap, bool nsec);
void trace_close(struct trace *t);
void trace_raw(struct trace *t, int from, uint8_t flags, uint32_t seq,
	       uint32_t ack, uint32_t tsval, const void *data, uint32_t len);
/* the handshake: SYN, SYN-ACK, ACK */
void trace_handshake(struct trace *t);
/* @from sends len stream bytes at stream offset off (acking the other side) */
void trace_data(struct trace *t, int from, uint64_t off, uint32_t len);
/* @from sends a pure ACK (or FIN when fin) */
void trace_ack(struct trace *t, int from);
void trace_fin(struct trace *t, int from);
uint32_t trace_seq(const struct trace *t, int side, uint64_t off);
/* write a truncated record / extra garbage at the end */
void trace_trunc_tail(struct trace *t);

/* running the tools (live.c) */
const char *bin_path(const char *tool);
/* run argv, collect stdout+stderr in out; returns exit status or -1 */
int run_tool(char *const argv[], char *out, size_t outlen, double timeout);

#endif /* TCPCP_WIRETEST_H */
