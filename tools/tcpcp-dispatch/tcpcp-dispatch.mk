# SPDX-License-Identifier: GPL-2.0
# tcpcp-dispatch: the script-driven dispatcher.  It links tcpcpd's local
# client (tools/tcpcpd/ctl.c) and the static library.  Tests: tests/.
ifndef TCPCP_DISPATCH_MK
TCPCP_DISPATCH_MK := 1

TCPCP_DISPATCH := $(O)/tcpcp-dispatch
TCPCP_DISPATCH_SRCS := tools/tcpcp-dispatch/main.c tools/tcpcp-dispatch/opts.c \
	tools/tcpcp-dispatch/script.c \
	tools/tcpcp-dispatch/hand.c tools/tcpcpd/ctl.c
TCPCP_DISPATCH_HDRS := tools/tcpcp-dispatch/dispatch.h tools/tcpcpd/ctl.h \
	tools/tcpcpd/local.h lib/tcpcp.h
TOOLS += $(TCPCP_DISPATCH)

$(TCPCP_DISPATCH): $(TCPCP_DISPATCH_SRCS) $(TCPCP_DISPATCH_HDRS) $(LIB_A) | $(O)
	$(CC) $(CPPFLAGS_ALL) -Itools/tcpcpd -Itools/tcpcp-dispatch $(CFLAGS_ALL) -o $@ \
		$(TCPCP_DISPATCH_SRCS) $(LIB_A) -lpthread

-include tools/tcpcp-dispatch/tests/tests.mk
endif
