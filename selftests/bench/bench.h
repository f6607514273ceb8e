/* SPDX-License-Identifier: GPL-2.0 */
/*
 * bench: what bench.c (the runs) and report.c (the tables, the capture's
 * verdict, the clocks) share.
 */
#ifndef TCPCP_BENCH_H
#define TCPCP_BENCH_H

#include <stdbool.h>
#include <stdint.h>

#include "labkit.h"

#define PAYLOAD 1000 /* peer -> service, left unread at a */
#define CHUNK 100 /* service -> peer per connection and pass */
#define PERIOD 0.001 /* s, shortest pass ... */
#define PERIOD_CONN 20e-6 /* ... or this per connection, whichever longer */
#define PHASE 1.0 /* s of streaming before and after the move */
#define MIN_PASSES 5 /* ... and at least this many passes */
#define TIMEOUT 600 /* s, for everything */
#define SEED_C2S_BASE 0x10000u /* + connection index */
#define SEED_S2C_BASE 0x20000u

/* The phases of a move whose cost is counted per connection */
enum { PH_DUMP, PH_CREATE, PH_ACT, PH_DISCARD, PH_N };

/* the library's syscalls, counted by syscount.c (ld --wrap) */
extern unsigned long nsys;
extern bool opt_pcap;

/* What the peer reports */
struct peer_stats {
	double gap_max; /* s, largest gap between two reads of a connection */
	double move_max, move_p50; /* s, the gap before b's first byte */
	double base_max; /* s, the largest gap before the move began */
	double after_max; /* s, the largest gap after b's first byte */
	int moved; /* connections whose move gap was seen */
	uint64_t rx; /* bytes received and verified, all connections */
	int eofs, rc;
};

/* What b reports */
struct side_stats {
	double t_first_act, t_last_act;
	unsigned long sys_create, sys_act;
	double ru_create, ru_act; /* s, rusage over the loops */
	uint64_t tx; /* bytes a and b sent to the peer, all connections */
};

/* One row of the table: one N, one backend */
struct row {
	int n;
	int backend; /* TCPCP_BACKEND_* */
	double get[2], create[2], act[2]; /* p50, p99 in s */
	double sys[PH_N]; /* per connection */
	/* s, thread CPU time in the library calls: all connections, p50 */
	double cpu[PH_N], cpu_p50[PH_N];
	/* ... and rusage user+sys over each phase's loop (tick-sampled) */
	double ru[PH_N];
	double freeze, act_all; /* s */
	/* first dump to: last dump, last create, route, last discard */
	double dumped, created, routed, discarded;
	double sum_get, sum_create; /* s, all connections */
	struct peer_stats ps;
	double pcap_stall; /* ms, < 0 without a capture */
	char pcap[16];
	double wall; /* s */
	bool ok;
};

int cmpd(const void *a, const void *b); /* for qsort of doubles */
int xio(int fd, void *p, size_t len, bool rd); /* all or -1 */
void nonblock(int fd);
/* The peer (client.c): its exit status; struct peer_stats to res */
int client(struct lab *l, int n, int ctlfd, int res);

/* s; CLOCK_THREAD_CPUTIME_ID, and getrusage(RUSAGE_THREAD) user + sys */
double cpu_s(void);
double rusage_s(void);

/* pcapcheck's verdict on the capture at the peer, into row */
int pcap_verdict(struct lab *l, const char *file, struct row *row);

/* Measure and print the clocks' resolution (once, before the runs) */
void report_clocks(void);
void print_head(void);
void print_row(const struct row *r);
/* Everything at the end: the tables and the native/repair ratios */
void report(const struct row *rows, int nrows);

#endif /* TCPCP_BENCH_H */
