#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Run test programs and add up their results.
#
# Each argument is a test program (kselftest_harness binary or script).  A
# program that prints a kselftest "# Totals: pass:N fail:N ... skip:N" line is
# counted case by case; any other program counts as one test by its exit
# status: 0 pass, 4 skip (kselftest KSFT_SKIP), anything else fail.
# The last line is "N passed, N failed, N skipped".
set -u

pass=0 fail=0 skip=0
failed_list=()
logdir=${TCPCP_TEST_LOGDIR:-build/test-logs}
mkdir -p "$logdir"

for t in "$@"; do
	name=$(echo "$t" | tr '/ ' '__')
	log="$logdir/$name.log"
	echo "=== $t"
	start=$(date +%s)
	# shellcheck disable=SC2086
	$t >"$log" 2>&1 </dev/null
	rc=$?
	secs=$(( $(date +%s) - start ))
	totals=$(grep -E '^# Totals: pass:[0-9]+ fail:[0-9]+' "$log" | tail -n 1)
	if [ -n "$totals" ]; then
		p=$(echo "$totals" | sed -E 's/^# Totals: pass:([0-9]+).*/\1/')
		f=$(echo "$totals" | sed -E 's/.* fail:([0-9]+).*/\1/')
		s=$(echo "$totals" | sed -E 's/.* skip:([0-9]+).*/\1/')
		e=$(echo "$totals" | sed -nE 's/.* error:([0-9]+).*/\1/p')
		f=$((f + ${e:-0}))
		# a harness binary that crashed after printing totals still fails
		if [ "$rc" != 0 ] && [ "$rc" != 4 ] && [ "$f" = 0 ]; then f=1; fi
		pass=$((pass + p)); fail=$((fail + f)); skip=$((skip + s))
		grep -E '^(not ok|ok .*# SKIP)' "$log" | sed 's/^/    /'
		[ "$f" -gt 0 ] && failed_list+=("$t")
		echo "    pass:$p fail:$f skip:$s (${secs}s)"
	else
		case $rc in
		0) pass=$((pass + 1)); echo "    ok (${secs}s)" ;;
		4) skip=$((skip + 1)); echo "    skip: $(tail -n 1 "$log")" ;;
		*) fail=$((fail + 1)); failed_list+=("$t"); echo "    FAIL rc=$rc (${secs}s)" ;;
		esac
	fi
done

for t in "${failed_list[@]+"${failed_list[@]}"}"; do
	name=$(echo "$t" | tr '/ ' '__')
	echo "----- failure log of $t (last 40 lines)"
	tail -n 40 "$logdir/$name.log"
done

echo "$pass passed, $fail failed, $skip skipped"
[ "$fail" = 0 ]
