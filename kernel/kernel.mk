# SPDX-License-Identifier: GPL-2.0
# The patched kernel: unpack the pinned source once, lay kernel/ over it,
# apply patches/series (no fuzz), configure a small VM kernel from
# selftests/vm/config and build a bzImage, incrementally.
#
#   make kernel            $(O)/linux/arch/x86/boot/bzImage
#   make kernel-debug      the same with KASAN + lockdep, in $(O)/linux-debug
#   make kernel-tree       only prepare the patched source $(O)/linux-src
#   make export-patch      $(O)/export/*.patch, one series for vanilla 6.12
#   make checkpatch        export-patch + checkpatch.pl --strict, fails on any
#                          error, warning or check
#
# Trees: $(O)/linux-orig pristine (never written after unpacking),
# $(O)/linux-src patched source (hard links to linux-orig except the files we
# change, which are always replaced, never written in place), $(O)/linux and
# $(O)/linux-debug the O= object directories.

KORIG := $(O)/linux-orig
KSRC := $(O)/linux-src
KBUILD := $(O)/linux
KBUILD_DEBUG := $(O)/linux-debug
KIMAGE := $(KBUILD)/arch/x86/boot/bzImage
KIMAGE_DEBUG := $(KBUILD_DEBUG)/arch/x86/boot/bzImage
KFRAG := selftests/vm/config $(wildcard selftests/vm/config.tcpcp)
KFRAG_DEBUG := selftests/vm/config.debug
KTREE := KERNEL_PKG=$(KERNEL_PKG) selftests/vm/ktree.sh
KJOBS ?= 2
KMAKE = $(MAKE) -s -C $(KSRC) -j$(KJOBS)

.PHONY: kernel kernel-debug kernel-tree kernel-config kernel-config-debug \
	export-patch checkpatch kernel-possible

$(KORIG)/.tcpcp-unpacked: | $(DEPS_STAMP)
	@test -f $(KERNEL_TARBALL) || { echo "kernel: $(KERNEL_TARBALL) missing" \
		"(package $(KERNEL_PKG))" >&2; exit 1; }
	rm -rf $(KORIG) $(KORIG).tmp
	mkdir -p $(KORIG).tmp
	tar -xJf $(KERNEL_TARBALL) -C $(KORIG).tmp --strip-components=1
	mv $(KORIG).tmp $(KORIG)
	touch $@

$(KSRC)/.tcpcp-copied: $(KORIG)/.tcpcp-unpacked
	rm -rf $(KSRC)
	cp -al $(KORIG) $(KSRC).tmp
	rm -f $(KSRC).tmp/.tcpcp-unpacked
	mv $(KSRC).tmp $(KSRC)
	touch $@

kernel-tree: $(KSRC)/.tcpcp-copied
	@$(KTREE) prepare $(KSRC) $(KORIG)

kernel-config: kernel-tree
	@$(KTREE) config $(KSRC) $(KBUILD) $(KFRAG)

kernel-config-debug: kernel-tree
	@$(KTREE) config $(KSRC) $(KBUILD_DEBUG) $(KFRAG) $(KFRAG_DEBUG)

kernel: kernel-config
	@echo "  KBUILD  $(KIMAGE)"
	@start=$$(date +%s); \
	$(KMAKE) O=$(abspath $(KBUILD)) bzImage && \
	echo "  KERNEL  $(KIMAGE) ($$(( $$(date +%s) - start ))s)"

kernel-debug: kernel-config-debug
	@echo "  KBUILD  $(KIMAGE_DEBUG)"
	@start=$$(date +%s); \
	$(KMAKE) O=$(abspath $(KBUILD_DEBUG)) bzImage && \
	echo "  KERNEL  $(KIMAGE_DEBUG) ($$(( $$(date +%s) - start ))s)"

# For `make check`: build the kernel when this machine can (the pinned source
# is there or installable as root); otherwise the VM test skips and says why.
kernel-possible: | $(DEPS_STAMP)
	@if [ -f $(KERNEL_TARBALL) ]; then \
		$(MAKE) --no-print-directory kernel; \
	else \
		echo "kernel: $(KERNEL_TARBALL) missing, VM tests will skip"; \
	fi

export-patch: $(KORIG)/.tcpcp-unpacked
	@$(KTREE) export $(KORIG) $(O)/export
	@cd $(KORIG) && ./scripts/checkpatch.pl --strict \
		$(abspath $(O)/export)/*.patch >$(abspath $(O))/checkpatch.txt 2>&1; \
	echo $$? >$(abspath $(O))/checkpatch.rc; \
	cat $(abspath $(O))/checkpatch.txt

checkpatch: export-patch
	@if [ "$$(cat $(O)/checkpatch.rc)" = 0 ] && \
	    ! grep -qE '^(ERROR|WARNING|CHECK):' $(O)/checkpatch.txt; then \
		echo "checkpatch: clean"; \
	else \
		echo "checkpatch: NOT clean, see $(O)/checkpatch.txt"; exit 1; \
	fi
