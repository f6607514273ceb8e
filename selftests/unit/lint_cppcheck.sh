#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# make check wrapper: cppcheck on lib/ and tools/ (exit 0 clean, 1 findings).
exec "$(dirname "$0")/../../tools/build/lint.sh" --cppcheck
