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

vm-check-debug: kernel-debug vm-deps
	O=$(O) TCPCP_VM_KERNEL=$(KBUILD_DEBUG)/arch/x86/boot/bzImage \
		TCPCP_VM_MEM=2G TCPCP_VM_RESULTS=$(O)/vm-results-debug $(VM_RUN)

# `make check`: the kernel when this machine can build it, then one VM run
# that reports every VM test case in its "# Totals:" line.
CHECK_DEPS += kernel-possible $(VM_TEST_DEPS)
CHECK_TESTS += $(VM_RUN)

# the whole change as one series for vanilla 6.12, checkpatch --strict clean
CHECK_TESTS += selftests/vm/checkpatch.sh
