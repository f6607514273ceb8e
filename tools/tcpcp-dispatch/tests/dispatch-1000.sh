#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# 1,000 clients at once through tcpcp-dispatch (dispatch.sh 1000), so that
# make check runs it as a test of its own.
exec "$(dirname "$0")/dispatch.sh" 1000
