# SPDX-License-Identifier: GPL-2.0
# tcpcpd tests.  daemon_auth: protocol security against a real daemon in a
# private network namespace (root).

TCPCPD_AUTH_TEST := $(O)/tools/tcpcpd/tests/daemon_auth

$(TCPCPD_AUTH_TEST): tools/tcpcpd/tests/daemon_auth.c tools/tcpcpd/proto.c \
		tools/tcpcpd/ctl.c $(TCPCPD_HDRS) $(KSFT_HDRS)
	@mkdir -p $(@D)
	$(CC) $(TEST_CFLAGS) -Wno-sign-compare -Wno-unused-parameter -Wno-clobbered -Itools/tcpcpd -DTCPCPD_BIN='"$(TCPCPD)"' -o $@ \
		tools/tcpcpd/tests/daemon_auth.c tools/tcpcpd/proto.c tools/tcpcpd/ctl.c -lcrypto

CHECK_DEPS += $(TCPCPD) $(TCPCPCTL) $(TCPCPD_AUTH_TEST)
CHECK_TESTS += $(TCPCPD_AUTH_TEST)

# the lab move test: testapp (server, handler, registered application) and
# the script that runs tcpcpd in hosts a and b of the namespace lab
TCPCPD_TESTAPP := $(O)/tools/tcpcpd/tests/testapp
$(TCPCPD_TESTAPP): tools/tcpcpd/tests/testapp.c tools/tcpcpd/ctl.c $(TCPCPD_HDRS) \
		selftests/lab/stream.c selftests/lab/stream.h
	@mkdir -p $(@D)
	$(CC) $(TCPCPD_CFLAGS) -Iselftests/lab -o $@ tools/tcpcpd/tests/testapp.c \
		tools/tcpcpd/ctl.c selftests/lab/stream.c

CHECK_DEPS += $(TCPCPD_TESTAPP)
CHECK_TESTS += tools/tcpcpd/tests/move.sh
# faults during moves: daemons killed at protocol steps, COMMIT lost,
# corrupted PREPARE in transit, destination unreachable
CHECK_TESTS += tools/tcpcpd/tests/faults.sh
# 1,000 connections moved a -> b at once, every stream and capture checked
CHECK_TESTS += tools/tcpcpd/tests/conc-1000.sh

# proto.c on its own, with ASan and UBSan
TCPCPD_PROTO_UNIT := $(O)/tools/tcpcpd/tests/proto_unit
$(TCPCPD_PROTO_UNIT): tools/tcpcpd/tests/proto_unit.c tools/tcpcpd/proto.c \
		tools/tcpcpd/proto.h $(KSFT_HDRS)
	@mkdir -p $(@D)
	$(CC) $(TEST_CFLAGS) -Wno-sign-compare -Wno-unused-parameter -Wno-clobbered \
		-Itools/tcpcpd $(SAN_FLAGS) -o $@ tools/tcpcpd/tests/proto_unit.c \
		tools/tcpcpd/proto.c -lcrypto

CHECK_DEPS += $(TCPCPD_PROTO_UNIT)
CHECK_TESTS += $(TCPCPD_PROTO_UNIT)
# redirect modes nftmap, rule, address; gateway entries released when the
# moved connections end and removed when the gateway daemon stops (REDIR)
CHECK_TESTS += tools/tcpcpd/tests/redirect.sh

# local.c on its own over its real UNIX socket, with ASan and UBSan: the
# per-client output queue (pipelined RESULTs, DELIVERs with their sockets,
# in order, when the client reads late; limits)
TCPCPD_LOCAL_UNIT := $(O)/tools/tcpcpd/tests/local_unit
$(TCPCPD_LOCAL_UNIT): tools/tcpcpd/tests/local_unit.c tools/tcpcpd/local.c tools/tcpcpd/ctl.c \
		$(TCPCPD_HDRS) $(KSFT_HDRS)
	@mkdir -p $(@D)
	$(CC) $(TEST_CFLAGS) -Itools/tcpcpd $(SAN_FLAGS) -o $@ \
		tools/tcpcpd/tests/local_unit.c tools/tcpcpd/local.c tools/tcpcpd/ctl.c

CHECK_DEPS += $(TCPCPD_LOCAL_UNIT)
CHECK_TESTS += $(TCPCPD_LOCAL_UNIT)

# nftmap.c on its own in a namespace of its own, with ASan and UBSan: the
# element messages as nft lists them, a batch as one transaction, errors,
# the stale pair
TCPCPD_NFTMAP_UNIT := $(O)/tools/tcpcpd/tests/nftmap_unit
$(TCPCPD_NFTMAP_UNIT): tools/tcpcpd/tests/nftmap_unit.c tools/tcpcpd/nftmap.c \
		tools/tcpcpd/proto.c $(TCPCPD_HDRS) $(KSFT_HDRS)
	@mkdir -p $(@D)
	$(CC) $(TEST_CFLAGS) -Itools/tcpcpd $(SAN_FLAGS) -o $@ \
		tools/tcpcpd/tests/nftmap_unit.c tools/tcpcpd/nftmap.c \
		tools/tcpcpd/proto.c -lcrypto \
		$(shell pkg-config --libs libnftables 2>/dev/null || echo -lnftables)

CHECK_DEPS += $(TCPCPD_NFTMAP_UNIT)
CHECK_TESTS += $(TCPCPD_NFTMAP_UNIT)
