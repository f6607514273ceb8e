// SPDX-License-Identifier: GPL-2.0
/*
 * Seed corpus for the ICI fuzzer:  gen_corpus DIR
 * Writes one valid ICI (ici_encode_alloc) for every family, state and shape
 * (queues, TS, OFO, CONG, SOCKOPT, sequence wrap), plus a few that reach the
 * decoder's other paths: a newer minor with an unknown ignorable element, an
 * unknown mandatory element, a truncated ICI.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ici.h"
#include "ici_sample.h"

static int write_file(const char *dir, const char *name, const void *p,
		      size_t len)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "wb");
	if (!f || fwrite(p, 1, len, f) != len || fclose(f)) {
		perror(path);
		return -1;
	}
	return 0;
}

/* The same ICI with an extra element after CONN and the given minor */
static int with_extra(const char *dir, const char *name, const uint8_t *buf,
		      size_t len, uint8_t minor, uint16_t type, uint16_t flags)
{
	struct elem el[16];
	struct raw r;
	int n, i, ret;

	n = elem_walk(buf, len, el, 16);
	if (n < 0)
		return -1;
	raw_init(&r, len + 64);
	raw_hdr(&r, TCPCP_ICI_MAGIC, TCPCP_ICI_MAJOR, minor, 0, 0);
	for (i = 0; i < n; i++) {
		raw_elem(&r, el[i].type, el[i].flags, buf + el[i].payload,
			 el[i].len, 0);
		if (i == 0)
			raw_elem(&r, type, flags, "future", 6, 0);
	}
	raw_fix_len(&r);
	ret = write_file(dir, name, r.buf, r.len);
	raw_free(&r);
	return ret;
}

int main(int argc, char **argv)
{
	static const uint8_t families[] = { TCPCP_FAMILY_INET,
					    TCPCP_FAMILY_INET6 };
	unsigned int f, i, shape, n = 0;
	struct sample s;
	char name[64];
	void *buf;
	size_t len;

	if (argc != 2) {
		fprintf(stderr, "usage: %s DIR\n", argv[0]);
		return 2;
	}
	for (f = 0; f < 2; f++) {
		for (i = 0; i < sample_nstates; i++) {
			for (shape = 0; shape <= SAMPLE_ALL; shape++) {
				sample_init(&s, families[f], sample_states[i],
					    shape);
				if (ici_encode_alloc(&s.ici, &buf, &len))
					return 1;
				snprintf(name, sizeof(name), "v%u-s%u-%02x",
					 families[f], sample_states[i], shape);
				if (write_file(argv[1], name, buf, len))
					return 1;
				n++;
				if (shape == SAMPLE_ALL) {
					snprintf(name, sizeof(name),
						 "v%u-s%u-minor1-ignorable",
						 families[f], sample_states[i]);
					if (with_extra(argv[1], name, buf, len,
						       1, 0x100, 0))
						return 1;
					snprintf(name, sizeof(name),
						 "v%u-s%u-unknown-mandatory",
						 families[f], sample_states[i]);
					if (with_extra(argv[1], name, buf, len,
						       1, 0x100,
						       TCPCP_ELF_MANDATORY))
						return 1;
					snprintf(name, sizeof(name),
						 "v%u-s%u-truncated",
						 families[f], sample_states[i]);
					if (write_file(argv[1], name, buf,
						       len / 2))
						return 1;
					n += 3;
				}
				free(buf);
			}
		}
	}
	printf("gen_corpus: %u files in %s\n", n, argv[1]);
	return 0;
}
