/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers for the VM tests that move sockets through libtcpcp's public API
 * (tcpcp_native, tcpcp_cross).  Include after kselftest_harness.h,
 * tcpcp.h and tcpcp_util.h.
 */
#ifndef TCPCP_API_UTIL_H
#define TCPCP_API_UTIL_H

/*
 * Dump s with backend from, check the ICI, discard s, create the endpoint
 * with backend to and activate it; the new socket in *d.  0 or -errno, the
 * failing step and (for create) the ICI on stderr.
 */
static inline int vm_move_via(int s, int from, int to, int *d)
{
	char why[160] = "";
	void *ici = NULL;
	size_t len = 0;
	int ret;

	ret = tcpcp_set_backend(from);
	if (!ret)
		ret = tcpcp_dump(s, 0, &ici, &len);
	if (!ret)
		ret = tcpcp_ici_check(ici, len, why, sizeof(why));
	if (ret) {
		fprintf(stderr, "# dump/check: %s %s\n", strerror(-ret), why);
		free(ici);
		return ret;
	}
	ret = tcpcp_discard(s);
	if (!ret)
		ret = tcpcp_set_backend(to);
	if (!ret)
		ret = tcpcp_create_ex(ici, len, -1, 0, NULL);
	if (ret < 0) {
		fprintf(stderr, "# create failed (%s), the ICI:\n",
			strerror(-ret));
		tcpcp_ici_print(ici, len, stderr, 0);
	}
	free(ici);
	if (ret < 0)
		return ret;
	*d = ret;
	return tcpcp_activate_ex(*d);
}

/* 5000 patterned bytes a -> b, then b -> a, each compared */
static inline void vm_stream_check(struct __test_metadata *_metadata, int a,
				   int b)
{
	char out[5000], in[5000];

	for (size_t i = 0; i < sizeof(out); i++)
		out[i] = (char)(i * 7 + 3);
	ASSERT_EQ((ssize_t)sizeof(out), write(a, out, sizeof(out)));
	ASSERT_EQ(0, vm_read_all(b, in, sizeof(in), 3000));
	EXPECT_EQ(0, memcmp(in, out, sizeof(in)));
	ASSERT_EQ((ssize_t)sizeof(out), write(b, out, sizeof(out)));
	ASSERT_EQ(0, vm_read_all(a, in, sizeof(in), 3000));
	EXPECT_EQ(0, memcmp(in, out, sizeof(in)));
}

#endif /* TCPCP_API_UTIL_H */
