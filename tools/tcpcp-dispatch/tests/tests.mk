# SPDX-License-Identifier: GPL-2.0
# tcpcp-dispatch lab test: dispatchers in host a of the namespace lab pass
# connections through tcpcpd to back ends b and c (python3 clients and
# back ends, standard library only; benchsrv and benchcli for the case of
# 1,000 clients at once and for bench-haproxy.sh).
DISPATCH_TEST_DIR := $(O)/tools/tcpcp-dispatch/tests
DISPATCH_BENCHSRV := $(DISPATCH_TEST_DIR)/benchsrv
DISPATCH_BENCHCLI := $(DISPATCH_TEST_DIR)/benchcli

$(DISPATCH_BENCHSRV): tools/tcpcp-dispatch/tests/benchsrv.c tools/tcpcp-dispatch/tests/bench.h \
		tools/tcpcpd/ctl.c tools/tcpcpd/ctl.h tools/tcpcpd/local.h
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS_ALL) -Itools/tcpcpd $(CFLAGS_ALL) -o $@ \
		tools/tcpcp-dispatch/tests/benchsrv.c tools/tcpcpd/ctl.c

$(DISPATCH_BENCHCLI): tools/tcpcp-dispatch/tests/benchcli.c tools/tcpcp-dispatch/tests/bench.h
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS_ALL) $(CFLAGS_ALL) -o $@ tools/tcpcp-dispatch/tests/benchcli.c

CHECK_DEPS += $(TCPCP_DISPATCH) $(TCPCPD) $(TCPCPCTL) $(O)/selftests/peer \
	$(DISPATCH_BENCHSRV) $(DISPATCH_BENCHCLI)
# dispatch.sh: every example script, a POST streaming during the move,
# back ends that die before they accept, a crashing and a stalling script,
# IPv6, --direct (about 35 s alone, 110 s on a loaded machine);
# dispatch-1000.sh: 1,000 clients at once (about 20 s).  Not here:
# bench-haproxy.sh (needs haproxy, about 2 minutes).
CHECK_TESTS += tools/tcpcp-dispatch/tests/dispatch.sh
CHECK_TESTS += tools/tcpcp-dispatch/tests/dispatch-1000.sh
