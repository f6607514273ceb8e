# SPDX-License-Identifier: GPL-2.0
# make bench: per-connection cost of a move in the lab (not part of check)
BENCH_WRAP := socket setsockopt getsockopt bind connect getsockname \
	getpeername send recv sendto shutdown ioctl close nanosleep open setns
BENCH_LDFLAGS := $(foreach f,$(BENCH_WRAP),-Wl,--wrap=$(f))

BENCH_SRCS := selftests/bench/bench.c selftests/bench/client.c \
	selftests/bench/report.c \
	selftests/bench/syscount.c selftests/lab/labkit.c $(STREAM_SRCS)

$(O)/selftests/bench: $(BENCH_SRCS) selftests/bench/bench.h \
		selftests/lab/labkit.h $(STREAM_HDRS) $(LIB_A) \
		selftests/bench/bench.mk
	@mkdir -p $(@D)
	$(CC) $(LAB_CFLAGS) $(BENCH_LDFLAGS) -o $@ $(BENCH_SRCS) $(LAB_LIBS)

# make bench [BENCH_ARGS="-p 1 100"]: -p adds a capture at the peer checked
# by pcapcheck; -b native,repair compares backends (in the VM:
# selftests/vm/bench-vm.sh); the Ns default to 1 100 1000 10000
.PHONY: bench
bench: deps all $(O)/selftests/bench $(O)/selftests/peer $(O)/selftests/pcapcheck
	$(O)/selftests/bench $(BENCH_ARGS)
