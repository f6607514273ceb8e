# SPDX-License-Identifier: GPL-2.0
# The namespace lab: end-to-end moves, the demo program, bad-input tests.
# WIRE's tools (peer, pcapcheck, stream) come from tools.mk.
-include selftests/lab/tools.mk

# kselftest_harness.h is not -Wextra clean
LAB_CFLAGS = $(TEST_CFLAGS) \
	     -Wno-format-truncation -Iselftests/lab
LAB_LIBS = $(LIB_A) $(LIB_LDLIBS) -lpthread
LABKIT_SRCS := selftests/lab/labkit.c selftests/lab/mover.c $(STREAM_SRCS)
LABKIT_HDRS := selftests/lab/labkit.h selftests/lab/mover.h $(STREAM_HDRS)

$(O)/selftests/e2e: selftests/lab/e2e.c $(LABKIT_SRCS) $(LABKIT_HDRS) $(LIB_A) $(KSFT_HDRS) selftests/lab/lab.mk
	@mkdir -p $(@D)
	$(CC) $(LAB_CFLAGS) -o $@ $< $(LABKIT_SRCS) $(LAB_LIBS)

$(O)/selftests/demo-move: selftests/lab/demo-move.c $(LABKIT_SRCS) $(LABKIT_HDRS) $(LIB_A) selftests/lab/lab.mk
	@mkdir -p $(@D)
	$(CC) $(LAB_CFLAGS) -o $@ $< $(LABKIT_SRCS) $(LAB_LIBS)

$(O)/selftests/badinput: selftests/lab/badinput.c $(LIB_A) $(KSFT_HDRS) selftests/lab/lab.mk
	@mkdir -p $(@D)
	$(CC) $(LAB_CFLAGS) -o $@ $< $(LAB_LIBS)

CHECK_DEPS += $(O)/selftests/badinput $(O)/selftests/e2e
CHECK_TESTS += $(O)/selftests/badinput $(O)/selftests/e2e

# make demo runs selftests/lab/demo.sh, which needs these built; make check
# runs it too, so the README's first command is tested
DEMO_DEPS := $(O)/selftests/demo-move $(O)/selftests/peer $(O)/selftests/pcapcheck
demo: $(DEMO_DEPS)
CHECK_DEPS += $(DEMO_DEPS)
CHECK_TESTS += selftests/lab/demo.sh
