# SPDX-License-Identifier: GPL-2.0
# VM tests: boot the patched kernel (kernel/kernel.mk) in qemu and run
# selftests/vm/smoke.sh plus the programs listed in selftests/vm/TESTS inside.
#
#   make vm-check          kernel + the VM run
#   make vm-check-debug    the same on the KASAN + lockdep kernel
#
# Build rules of the VM test programs go in selftests/vm/tests.mk, which adds
# what they need built to VM_TEST_DEPS.

VM_RUN := selftests/vm/run-vm.sh
VM_TEST_DEPS :=

-include selftests/vm/tests.mk

.PHONY: vm-check vm-check-debug vm-deps
vm-deps: $(DEPS_STAMP) lib $(VM_TEST_DEPS)

vm-check: kernel vm-deps
	O=$(O) $(VM_RUN)

# KASAN and lockdep under TCG run several times slower: fewer fuzzed ICIs
# (TCPCP_VM_APPEND words with = reach init's environment) and three times
# every test's time limit.
vm-check-debug: kernel-debug vm-deps
	O=$(O) TCPCP_VM_KERNEL=$(KBUILD_DEBUG)/arch/x86/boot/bzImage \
		TCPCP_VM_MEM=2G TCPCP_VM_RESULTS=$(O)/vm-results-debug \
		TCPCP_VM_TIMEOUT_SCALE=3 \
		TCPCP_VM_APPEND="TCPCP_FUZZ_ITERS=20000 TCPCP_VM_DEBUG=1 $(TCPCP_VM_APPEND)" $(VM_RUN)

# Native vs repair backend in the VM (a measurement, not in make check).
# Without ACPI the guest cannot calibrate its TSC and falls back to a
# jiffies clock (1 ms steps): tell it the host's TSC rate, which TCG passes
# through.
VM_TSC_KHZ = $(shell awk '/^cpu MHz/ { printf "%d", $$4 * 1000; exit }' /proc/cpuinfo)
.PHONY: vm-bench
vm-bench: kernel vm-deps $(O)/selftests/bench
	O=$(O) TCPCP_VM_RESULTS=$(O)/vm-results-bench \
		TCPCP_VM_APPEND="tsc_early_khz=$(VM_TSC_KHZ) tsc=reliable no_timer_check $(TCPCP_VM_APPEND)" \
		TCPCP_VM_TEST_TIMEOUT=1600 $(VM_RUN) selftests/vm/bench-vm.sh

# tcpcp-dispatch against HAProxy in the VM, native and repair backends
# (selftests/vm/bench-dispatch.sh; a measurement, not in make check)
.PHONY: vm-bench-dispatch
vm-bench-dispatch: kernel vm-deps all
	$(MAKE) $(O)/tools/tcpcp-dispatch/tests/benchsrv \
		$(O)/tools/tcpcp-dispatch/tests/benchcli
	O=$(O) TCPCP_VM_RESULTS=$(O)/vm-results-dispatch \
		TCPCP_VM_APPEND="tsc_early_khz=$(VM_TSC_KHZ) tsc=reliable no_timer_check $(TCPCP_VM_APPEND)" \
		TCPCP_VM_TEST_TIMEOUT=900 $(VM_RUN) selftests/vm/bench-dispatch.sh

# `make check`: the kernel when this machine can build it, then one VM run
# that reports every VM test case in its "# Totals:" line.
CHECK_DEPS += kernel-possible $(VM_TEST_DEPS)
CHECK_TESTS += $(VM_RUN)

# the whole change as one series for vanilla 6.12, checkpatch --strict clean
CHECK_TESTS += selftests/vm/checkpatch.sh
