# SPDX-License-Identifier: GPL-2.0
# Test build glue.  Each test directory has its own .mk that appends the test
# programs to CHECK_TESTS (run in order by selftests/run.sh) and what they need
# built to CHECK_DEPS.

# kselftest_harness.h and kselftest.h come from the pinned kernel source
KSFT_DIR := $(O)/ksft
KSFT_HDRS := $(KSFT_DIR)/kselftest_harness.h $(KSFT_DIR)/kselftest.h
$(KSFT_HDRS): $(DEPS_STAMP)
	@mkdir -p $(KSFT_DIR)
	tar -xJf $(KERNEL_TARBALL) -C $(KSFT_DIR) --strip-components=4 --wildcards \
		'*/tools/testing/selftests/kselftest_harness.h' \
		'*/tools/testing/selftests/kselftest.h'
	touch $(KSFT_HDRS)

TEST_CFLAGS := $(CPPFLAGS_ALL) -I$(KSFT_DIR) -std=gnu11 -Wall -Wextra -Werror -O1 -g -Wno-sign-compare -Wno-unused-parameter -Wno-clobbered
SAN_FLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all

-include selftests/unit/unit.mk
-include selftests/fuzz/fuzz.mk
-include selftests/lab/lab.mk
-include selftests/vm/vm.mk
-include selftests/bench/bench.mk
