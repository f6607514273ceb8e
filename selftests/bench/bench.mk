# SPDX-License-Identifier: GPL-2.0
# make bench: per-connection cost of a move in the lab (not part of check)
BENCH_WRAP := socket setsockopt getsockopt bind connect getsockname \
	getpeername send recv sendto shutdown ioctl close nanosleep
BENCH_LDFLAGS := $(foreach f,$(BENCH_WRAP),-Wl,--wrap=$(f))

$(O)/selftests/bench: selftests/bench/bench.c selftests/lab/labkit.c \
		selftests/lab/labkit.h $(STREAM_SRCS) $(LIB_A) selftests/bench/bench.mk
	@mkdir -p $(@D)
	$(CC) $(LAB_CFLAGS) $(BENCH_LDFLAGS) -o $@ $< selftests/lab/labkit.c \
		$(STREAM_SRCS) $(LAB_LIBS)

.PHONY: bench
bench: deps all $(O)/selftests/bench
	$(O)/selftests/bench
