# SPDX-License-Identifier: GPL-2.0
# Test build glue.  Each test directory has its own .mk that appends the test
# programs to CHECK_TESTS (run in order by selftests/run.sh) and what they need
# built to CHECK_DEPS.

-include selftests/unit/unit.mk
-include selftests/fuzz/fuzz.mk
-include selftests/lab/lab.mk
-include selftests/vm/vm.mk
-include selftests/bench/bench.mk
