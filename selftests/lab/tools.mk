# SPDX-License-Identifier: GPL-2.0
# Wire tools of the namespace lab (helper WIRE), included by selftests/lab/lab.mk:
#   $(O)/selftests/peer       the unmodified peer host's client
#   $(O)/selftests/pcapcheck  checks a capture taken at the peer
#   $(O)/selftests/stream.o   deterministic test byte streams (stream.h)
#   $(O)/selftests/wiretest   tests of the above (crafted and live captures)
# Other tests link the streams with $(STREAM_SRCS) or $(O)/selftests/stream.o
# and -Iselftests/lab.
#
# Capturing at the peer for pcapcheck: tcpdump -s 0 -B 16384 -U -Z root -w FILE
# with a filter that also lets "udp port 9" in; keep reading (or redirect)
# tcpdump's stderr until it stops, or it dies of SIGPIPE.  Before stopping it
# with SIGINT run, in the same namespace, peer --mark FILE -c GW_ADDR -p 9:
# it returns once everything sent before it is in FILE (SIGINT alone loses
# the packets tcpdump has not read yet, typically the final FINs).
# Then: pcapcheck --server ADDR:PORT [--server-fin] [--client-fin] FILE.

STREAM_SRCS := selftests/lab/stream.c
STREAM_HDRS := selftests/lab/stream.h
LAB_TOOLS_CFLAGS := $(CPPFLAGS_ALL) -Iselftests/lab $(CFLAGS_ALL)

$(O)/selftests/stream.o: $(STREAM_SRCS) $(STREAM_HDRS)
	@mkdir -p $(@D)
	$(CC) $(LAB_TOOLS_CFLAGS) -c -o $@ $<

$(O)/selftests/peer: selftests/lab/peer.c $(STREAM_SRCS) $(STREAM_HDRS)
	@mkdir -p $(@D)
	$(CC) $(LAB_TOOLS_CFLAGS) -o $@ selftests/lab/peer.c $(STREAM_SRCS)

PCAPCHECK_SRCS := selftests/lab/pcapcheck.c selftests/lab/pcapread.c
$(O)/selftests/pcapcheck: $(PCAPCHECK_SRCS) selftests/lab/pcapread.h
	@mkdir -p $(@D)
	$(CC) $(LAB_TOOLS_CFLAGS) -o $@ $(PCAPCHECK_SRCS)

# the same checker under ASan/UBSan, run by wiretest next to the normal build
$(O)/selftests/pcapcheck-san: $(PCAPCHECK_SRCS) selftests/lab/pcapread.h
	@mkdir -p $(@D)
	$(CC) $(LAB_TOOLS_CFLAGS) -O1 $(SAN_FLAGS) -o $@ $(PCAPCHECK_SRCS)

WIRETEST_SRCS := selftests/lab/wiretest/wiretest.c selftests/lab/wiretest/pcapgen.c \
	selftests/lab/wiretest/live.c
$(O)/selftests/wiretest: $(WIRETEST_SRCS) selftests/lab/wiretest/wiretest.h selftests/lab/wiretest/live.h \
		$(STREAM_SRCS) $(STREAM_HDRS) $(KSFT_HDRS)
	@mkdir -p $(@D)
	$(CC) $(TEST_CFLAGS) -Iselftests/lab $(SAN_FLAGS) -o $@ \
		$(WIRETEST_SRCS) $(STREAM_SRCS)

CHECK_DEPS += $(O)/selftests/peer $(O)/selftests/pcapcheck $(O)/selftests/pcapcheck-san \
	$(O)/selftests/stream.o $(O)/selftests/wiretest
CHECK_TESTS += $(O)/selftests/wiretest
