// SPDX-License-Identifier: GPL-2.0
/*
 * Throw random and mutated ICIs at setsockopt(TCP_ICI): the kernel must
 * refuse the bad ones cleanly, never splat (run-vm.sh scans dmesg), and
 * leak no socket (/proc/net/sockstat).  Usage: tcpcp_fuzz [ITERATIONS [SEED]]
 * ITERATIONS defaults to $TCPCP_FUZZ_ITERS or 100000 (the debug kernel run
 * sets fewer: KASAN under TCG is about ten times slower).
 * Exit 0 pass, 1 fail, 4 skip.
 */
#include "tcpcp_util.h"

static uint64_t rng;

static uint32_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)rng;
}

/* TCP sockets hashed plus allocated, from /proc/net/sockstat */
static int tcp_inuse(void)
{
	char line[256];
	FILE *f = fopen("/proc/net/sockstat", "r");
	int inuse = -1, orphan, tw, alloc = -1;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "TCP: inuse %d orphan %d tw %d alloc %d",
			   &inuse, &orphan, &tw, &alloc) == 4)
			break;
	fclose(f);
	return inuse < 0 || alloc < 0 ? -1 : inuse + alloc;
}

/* A base ICI with data in the send and receive queues */
static int base_ici(int family, void **ici, socklen_t *len)
{
	char buf[600];
	int c, s, ret;

	if (vm_pair(family, &c, &s))
		return -1;
	memset(buf, 'z', sizeof(buf));
	if (write(c, buf, 300) != 300)
		return -1;
	usleep(20000);
	ret = vm_dump(s, ici, len);
	if (!ret && write(s, buf, sizeof(buf)) == (ssize_t)sizeof(buf))
		ret = vm_dump(s, ici, len);
	close(s);
	close(c);
	return ret;
}

static size_t mutate(const uint8_t *base, size_t blen, uint8_t *out)
{
	size_t len = blen, i, n;
	uint32_t how = rnd() % 100;

	memcpy(out, base, blen);
	if (how < 5) {
		/* pure noise, with a valid header half of the time */
		len = 16 + rnd() % (blen + 64);
		for (i = 0; i < len; i++)
			out[i] = (uint8_t)rnd();
		if (rnd() & 1)
			memcpy(out, base, 8);
	} else if (how < 15) {
		/* truncate or extend */
		len = rnd() % (blen + 32);
		for (i = blen; i < len; i++)
			out[i] = (rnd() & 3) ? 0 : (uint8_t)rnd();
	} else if (how < 35) {
		/* poke a 32-bit field at an aligned offset */
		i = (rnd() % (blen / 4)) * 4;
		uint32_t v = (rnd() & 1) ? rnd() : rnd() % 256;

		memcpy(out + i, &v, 4);
	} else {
		/* flip 1 to 8 random bytes or bits */
		n = 1 + rnd() % 8;
		while (n--) {
			i = rnd() % blen;
			if (rnd() & 1)
				out[i] ^= (uint8_t)(1U << (rnd() % 8));
			else
				out[i] = (uint8_t)rnd();
		}
	}
	/* mostly keep the header's length right so the body gets parsed */
	if (len >= 12 && rnd() % 4) {
		uint32_t l = htonl((uint32_t)len);

		memcpy(out + 8, &l, 4);
	}
	return len;
}

int main(int argc, char **argv)
{
	const char *env = getenv("TCPCP_FUZZ_ITERS");
	long iters = argc > 1 ? atol(argv[1]) : env ? atol(env) : 100000;
	int families[2] = { AF_INET, AF_INET6 };
	long ok = 0, refused = 0, odd = 0;
	int before, after, ret, d = -1;
	uint8_t *buf;

	rng = argc > 2 ? strtoull(argv[2], NULL, 0) : 0x7c9c9e3779b97f4aULL;
	ret = vm_netns();
	if (ret) {
		printf("SKIP: no network namespace: %s\n", strerror(-ret));
		return 4;
	}
	d = socket(AF_INET, SOCK_STREAM, 0);
	ret = 0;
	socklen_t l = sizeof(ret);

	if (getsockopt(d, SOL_TCP, TCP_MAXICISIZE, &ret, &l) &&
	    errno == ENOPROTOOPT) {
		printf("SKIP: kernel without CONFIG_TCPCP\n");
		return 4;
	}
	close(d);
	d = -1;
	before = tcp_inuse();

	for (int f = 0; f < 2; f++) {
		void *base;
		socklen_t blen;
		int family = families[f];

		if (base_ici(family, &base, &blen)) {
			printf("FAIL: no base ICI for family %d: %s\n", family,
			       strerror(errno));
			return 1;
		}
		buf = malloc(blen + 256);
		for (long i = 0; i < iters / 2; i++) {
			size_t len = mutate(base, blen, buf);

			if (i && !(i % 10000)) {
				printf("# family %d: %ld ICIs\n", family, i);
				fflush(stdout);
			}
			if (d < 0) {
				d = socket(family, SOCK_STREAM, 0);
				if (d < 0) {
					printf("FAIL: socket: %s\n",
					       strerror(errno));
					return 1;
				}
			}
			if (!setsockopt(d, SOL_TCP, TCP_ICI, buf,
					(socklen_t)len)) {
				/* accepted: an isolated endpoint, drop it */
				ok++;
				close(d);
				d = -1;
			} else if (errno == EINVAL ||
				   errno == EPROTONOSUPPORT ||
				   errno == EAFNOSUPPORT ||
				   errno == EADDRINUSE ||
				   errno == EADDRNOTAVAIL ||
				   errno == ENETUNREACH ||
				   errno == EHOSTUNREACH || errno == EACCES) {
				refused++;
				/* a failed create may leave it bound: renew */
				if (errno != EINVAL &&
				    errno != EPROTONOSUPPORT) {
					close(d);
					d = -1;
				}
			} else {
				odd++;
				if (odd < 10)
					printf("unexpected errno %d (%s) for len %zu\n",
					       errno, strerror(errno), len);
			}
		}
		free(buf);
		free(base);
		if (d >= 0)
			close(d);
		d = -1;
	}
	usleep(200000);
	after = tcp_inuse();
	printf("%ld ICIs: %ld accepted, %ld refused, %ld other; TCP inuse+alloc %d -> %d\n",
	       iters, ok, refused, odd, before, after);
	if (odd || after != before || before < 0) {
		printf("FAIL\n");
		return 1;
	}
	printf("PASS\n");
	return 0;
}
