# SPDX-License-Identifier: GPL-2.0
# tcpcp-ici: inspect, check and rewrite ICI files.  Linked against the static
# library.  mkici (test ICI generator) and the tool's test are not installed.

TCPCP_ICI := $(O)/tcpcp-ici
TCPCP_ICI_MKICI := $(O)/tools/tcpcp-ici/mkici
TOOLS += $(TCPCP_ICI)

$(TCPCP_ICI): tools/tcpcp-ici/tcpcp-ici.c $(LIB_A) lib/tcpcp.h \
		kernel/include/uapi/linux/tcpcp.h | $(O)
	$(CC) $(CPPFLAGS_ALL) $(CFLAGS_ALL) -o $@ $< $(LIB_A)

$(TCPCP_ICI_MKICI): tools/tcpcp-ici/mkici.c $(LIB_A) $(LIB_HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS_ALL) $(CFLAGS_ALL) -o $@ $< $(LIB_A)

CHECK_TESTS += tools/tcpcp-ici/test-tcpcp-ici.sh
CHECK_DEPS += $(TCPCP_ICI) $(TCPCP_ICI_MKICI)
