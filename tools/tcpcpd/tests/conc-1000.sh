#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# conc.sh with 1,000 connections moved a -> b at once (issue: "1,000
# connections moved concurrently, all streams verified"); about two
# minutes on two idle cores.  Exit code of conc.sh.
TCPCPD_TEST_CONC=1000 exec "$(dirname "$0")/conc.sh" "$@"
