// SPDX-License-Identifier: GPL-2.0
/* Deterministic, random-access test byte streams; see stream.h. */
#include <string.h>

#include "stream.h"

static inline uint64_t stream_word(uint32_t seed, uint64_t idx)
{
	uint64_t z = (uint64_t)seed * 0xd1b54a32d192ed03ULL + idx;

	/* splitmix64 */
	z += 0x9e3779b97f4a7c15ULL;
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static inline void word_bytes(uint64_t w, uint8_t b[8])
{
	int i;

	for (i = 0; i < 8; i++)
		b[i] = (uint8_t)(w >> (8 * i));
}

uint8_t stream_byte(uint32_t seed, uint64_t off)
{
	return (uint8_t)(stream_word(seed, off >> 3) >> (8 * (off & 7)));
}

void stream_fill(uint32_t seed, uint64_t off, void *buf, size_t len)
{
	uint8_t *p = buf, w[8];
	size_t head, n;

	if (!len)
		return;
	/* leading partial word */
	head = off & 7;
	if (head) {
		word_bytes(stream_word(seed, off >> 3), w);
		n = 8 - head < len ? 8 - head : len;
		memcpy(p, w + head, n);
		p += n;
		off += n;
		len -= n;
	}
	/* whole words */
	while (len >= 8) {
		word_bytes(stream_word(seed, off >> 3), w);
		memcpy(p, w, 8);
		p += 8;
		off += 8;
		len -= 8;
	}
	/* trailing partial word */
	if (len) {
		word_bytes(stream_word(seed, off >> 3), w);
		memcpy(p, w, len);
	}
}

int64_t stream_check(uint32_t seed, uint64_t off, const void *buf, size_t len)
{
	const uint8_t *p = buf;
	uint8_t w[8];
	size_t head, n, i;

	while (len) {
		head = off & 7;
		n = 8 - head < len ? 8 - head : len;
		word_bytes(stream_word(seed, off >> 3), w);
		if (memcmp(p, w + head, n)) {
			for (i = 0; i < n; i++)
				if (p[i] != w[head + i])
					return (int64_t)(off + i);
		}
		p += n;
		off += n;
		len -= n;
	}
	return -1;
}
