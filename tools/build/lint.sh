#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Static checks for the userspace C code (lib/, tools/, selftests/).
#
#   tools/build/lint.sh              both checks
#   tools/build/lint.sh --format     clang-format --dry-run -Werror, per file
#   tools/build/lint.sh --cppcheck   cppcheck on lib/ and tools/
#
# kernel/ follows the kernel tree (checkpatch.pl) and is not checked here.
# Prints one line per file that fails and a summary; exits 0 when clean,
# 1 when a check fails, 4 (skip) when a needed program is missing.
# Run from anywhere; it works from the top of the repository.
set -u

cd "$(dirname "$0")/../.." || exit 1

do_format=0 do_cppcheck=0
case "${1:-}" in
"") do_format=1 do_cppcheck=1 ;;
--format) do_format=1 ;;
--cppcheck) do_cppcheck=1 ;;
-h | --help)
	sed -n '3,11p' "$0" | sed 's/^# \{0,1\}//'
	exit 0
	;;
*)
	echo "Error: argument \"$1\" is wrong: use --format or --cppcheck" >&2
	exit 2
	;;
esac

# Source files under the given directories, build output excluded
c_files() {
	find "$@" -path ./build -prune -o -type f \( -name '*.c' -o -name '*.h' \) \
		-print 2>/dev/null | LC_ALL=C sort
}

need() {
	if ! command -v "$1" >/dev/null 2>&1; then
		echo "SKIP: $1 not installed (run tools/build/deps.sh)"
		exit 4
	fi
}

rc=0

if [ "$do_format" = 1 ]; then
	need clang-format
	bad=0 n=0
	for f in $(c_files lib tools selftests); do
		n=$((n + 1))
		if ! clang-format --style=file --dry-run -Werror "$f" \
			>/dev/null 2>&1; then
			lines=$(clang-format --style=file --dry-run "$f" 2>&1 |
				grep -c 'warning:')
			echo "format: $f: $lines line(s) differ (make format)"
			bad=$((bad + 1))
		fi
	done
	echo "format: $n files, $bad not formatted"
	[ "$bad" = 0 ] || rc=1
fi

if [ "$do_cppcheck" = 1 ]; then
	need cppcheck
	mapfile -t files < <(c_files lib tools | grep '\.c$')
	if [ "${#files[@]}" = 0 ]; then
		echo "cppcheck: no files"
	else
		out=$(cppcheck --quiet --std=c11 --language=c \
			--enable=warning,performance,portability \
			--error-exitcode=1 --inline-suppr \
			--suppress=missingIncludeSystem \
			-D_GNU_SOURCE -D__GNUC__ -D__x86_64__ \
			-Ikernel/include/uapi -Ilib \
			--template='{file}:{line}: {severity}: {message} [{id}]' \
			"${files[@]}" 2>&1)
		crc=$?
		[ -n "$out" ] && echo "$out"
		nbad=$(echo "$out" | grep -E '^[^:]+:[0-9]+: ' | cut -d: -f1 |
			sort -u | grep -c . || true)
		echo "cppcheck: ${#files[@]} files, $nbad with findings"
		[ "$crc" = 0 ] || rc=1
	fi
fi

exit $rc
