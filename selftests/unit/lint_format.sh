#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# make check wrapper: clang-format check of lib/ tools/ selftests/ (exit 0 clean,
# 1 unformatted files; `make format` fixes them).
exec "$(dirname "$0")/../../tools/build/lint.sh" --format
