# SPDX-License-Identifier: GPL-2.0
# tcpcp-move: list movable connections, move one through the local tcpcpd.
# Speaks tcpcpd's local protocol through tools/tcpcpd/ctl.c.

ifndef TCPCP_MOVE
TCPCP_MOVE := $(O)/tcpcp-move
TOOLS += $(TCPCP_MOVE)

$(TCPCP_MOVE): tools/tcpcp-move/tcpcp-move.c tools/tcpcpd/ctl.c \
		tools/tcpcpd/ctl.h tools/tcpcpd/local.h | $(O)
	$(CC) $(CPPFLAGS_ALL) -Itools/tcpcpd $(CFLAGS_ALL) -o $@ \
		tools/tcpcp-move/tcpcp-move.c tools/tcpcpd/ctl.c
endif
