# SPDX-License-Identifier: GPL-2.0
# Build rules of the tcpcp socket-option tests that run inside the VM
# (listed in selftests/vm/TESTS; vm.mk includes this file).

VM_PROGS := $(O)/vm/tcpcp_sockopt $(O)/vm/tcpcp_fuzz $(O)/vm/tcpcp_native \
	$(O)/vm/tcpcp_cross
VM_CFLAGS = $(TEST_CFLAGS)

$(O)/vm/%: selftests/vm/%.c selftests/vm/tcpcp_util.h $(KSFT_HDRS) \
		kernel/include/uapi/linux/tcpcp.h
	@mkdir -p $(dir $@)
	$(CC) $(VM_CFLAGS) -o $@ $<

# the library's native backend and its ICI checks, through the public API
$(O)/vm/tcpcp_native: selftests/vm/tcpcp_native.c selftests/vm/tcpcp_util.h \
		selftests/vm/tcpcp_api_util.h \
		$(KSFT_HDRS) $(LIB_A)
	@mkdir -p $(dir $@)
	$(CC) $(VM_CFLAGS) -o $@ $< $(LIB_A) -lpthread

VM_TEST_DEPS += $(VM_PROGS)

# moves across backends (native <-> repair), through the public API
$(O)/vm/tcpcp_cross: selftests/vm/tcpcp_cross.c selftests/vm/tcpcp_util.h \
		selftests/vm/tcpcp_api_util.h \
		$(KSFT_HDRS) $(LIB_A)
	@mkdir -p $(dir $@)
	$(CC) $(VM_CFLAGS) -o $@ $< $(LIB_A) -lpthread
VM_TEST_DEPS += $(O)/selftests/e2e

# the daemon lab test on the native backend (daemon-native.sh runs move.sh)
VM_TEST_DEPS += $(TCPCPD) $(TCPCPCTL) $(TCPCP_MOVE) $(TCPCPD_TESTAPP) \
	$(O)/selftests/peer $(O)/selftests/pcapcheck
