/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Deterministic, random-access test byte streams.
 *
 * Stream @seed is an endless sequence of bytes; the byte at absolute offset
 * off depends only on (seed, off), so a writer and a reader that agree on the
 * seed can produce and verify any part of the stream without sharing state
 * (e.g. after a connection has moved between hosts).
 *
 * Byte off is byte (off % 8) (little-endian order) of the 64-bit word
 * splitmix64(seed * 0xd1b54a32d192ed03 + off / 8).
 */
#ifndef TCPCP_LAB_STREAM_H
#define TCPCP_LAB_STREAM_H

#include <stddef.h>
#include <stdint.h>

/* Write len bytes of stream @seed starting at absolute offset @off to buf. */
void stream_fill(uint32_t seed, uint64_t off, void *buf, size_t len);

/*
 * Compare buf with len bytes of stream @seed starting at offset @off.
 * Returns -1 when all bytes match, else the absolute offset of the first
 * byte that differs.
 */
int64_t stream_check(uint32_t seed, uint64_t off, const void *buf, size_t len);

/* The expected byte at absolute offset @off of stream @seed. */
uint8_t stream_byte(uint32_t seed, uint64_t off);

#endif /* TCPCP_LAB_STREAM_H */
