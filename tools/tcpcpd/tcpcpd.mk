# SPDX-License-Identifier: GPL-2.0
# tcpcpd (the migration daemon) and tcpcpctl (its local client), linked
# against the static library and OpenSSL's libcrypto.  Tests: tests/.

TCPCPD := $(O)/tcpcpd
TCPCPCTL := $(O)/tcpcpctl
TCPCPD_SRCS := tools/tcpcpd/main.c tools/tcpcpd/config.c tools/tcpcpd/dlog.c \
	tools/tcpcpd/peer.c tools/tcpcpd/local.c tools/tcpcpd/move.c \
	tools/tcpcpd/child.c tools/tcpcpd/proto.c tools/tcpcpd/ctl.c \
	tools/tcpcpd/gateway.c tools/tcpcpd/redirect.c tools/tcpcpd/origin.c \
	tools/tcpcpd/dest.c tools/tcpcpd/nftmap.c tools/tcpcpd/release.c \
	tools/tcpcpd/addr.c
TCPCPD_HDRS := tools/tcpcpd/tcpcpd.h tools/tcpcpd/redir.h tools/tcpcpd/move.h tools/tcpcpd/proto.h tools/tcpcpd/local.h \
	tools/tcpcpd/ctl.h lib/tcpcp.h
TCPCPD_CFLAGS := $(CPPFLAGS_ALL) -Itools/tcpcpd $(CFLAGS_ALL)
TCPCPD_NL_CFLAGS := $(shell pkg-config --cflags libnl-route-3.0 2>/dev/null || echo -I/usr/include/libnl3)
TCPCPD_LIBS := -lcrypto -lpthread $(shell pkg-config --libs libnl-route-3.0 2>/dev/null || echo -lnl-route-3 -lnl-3) \
	$(shell pkg-config --libs libnftables 2>/dev/null || echo -lnftables)
TCPCPD_LIB_A := $(LIB_A)
TOOLS += $(TCPCPD) $(TCPCPCTL)

$(TCPCPD): $(TCPCPD_SRCS) $(TCPCPD_HDRS) $(LIB_A) | $(O)
	$(CC) $(TCPCPD_CFLAGS) $(TCPCPD_NL_CFLAGS) -o $@ $(TCPCPD_SRCS) $(TCPCPD_LIB_A) \
		$(TCPCPD_LIBS)

$(TCPCPCTL): tools/tcpcpd/tcpcpctl.c tools/tcpcpd/ctl.c tools/tcpcpd/ctl.h \
		tools/tcpcpd/local.h | $(O)
	$(CC) $(TCPCPD_CFLAGS) -o $@ tools/tcpcpd/tcpcpctl.c tools/tcpcpd/ctl.c

-include tools/tcpcpd/tests/tests.mk
# tcpcp-move links ctl.c from here; its .mk is guarded, so tools/tools.mk
# may include it too
-include tools/tcpcp-move/tcpcp-move.mk
