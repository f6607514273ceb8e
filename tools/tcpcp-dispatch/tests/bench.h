/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What benchsrv sends and benchcli checks: the body of GET PATH?size=N is
 * N bytes of a pattern with period 251 (a prime, so a body shifted by any
 * amount that is not a multiple of 251 does not compare equal), starting at
 * a phase that depends on PATH, so that bodies of different requests
 * differ too.
 */
#ifndef TCPCP_DISPATCH_BENCH_H
#define TCPCP_DISPATCH_BENCH_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define BENCH_PERIOD 251
/* a pattern buffer: any BENCH_CHUNK bytes starting at 0..250 are in it */
#define BENCH_CHUNK (BENCH_PERIOD * 1024)

static inline void bench_pattern(uint8_t *buf, size_t len)
{
	for (size_t i = 0; i < len; i++)
		buf[i] = (uint8_t)(i % BENCH_PERIOD * 7 + 3);
}

/* The phase of PATH's body (PATH without the query) */
static inline unsigned int bench_phase(const char *path, size_t len)
{
	uint32_t h = 2166136261U;

	for (size_t i = 0; i < len && path[i] != '?'; i++)
		h = (h ^ (uint8_t)path[i]) * 16777619U;
	return h % BENCH_PERIOD;
}

#endif /* TCPCP_DISPATCH_BENCH_H */
