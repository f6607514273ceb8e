#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Bounded fuzz session on the ICI decoder: TCPCP_FUZZ_SECONDS (default 60)
# of libFuzzer from the seed corpus, with the ICI dictionary.  New inputs
# are kept in build/fuzz-work (replayed by replay.sh), crashes in
# build/fuzz-artifacts/.  Exit 0 when nothing crashed, 1 otherwise.
set -u
cd "$(dirname "$0")/../.." || exit 1

B=build/fuzz
secs=${TCPCP_FUZZ_SECONDS:-60}
mkdir -p build/fuzz-work build/fuzz-artifacts
if [ ! -x "$B/fuzz_ici" ]; then
	echo "$B/fuzz_ici missing: run make check (or make fuzz)"
	exit 1
fi

log=build/fuzz-artifacts/last-run.log
"$B/fuzz_ici" -max_total_time="$secs" -rss_limit_mb=2048 -timeout=10 \
	-dict=selftests/fuzz/ici.dict -print_final_stats=1 \
	-artifact_prefix=build/fuzz-artifacts/ \
	build/fuzz-work build/fuzz-corpus selftests/fuzz/corpus >"$log" 2>&1
rc=$?
grep -E 'INITED|DONE|ERROR|SUMMARY|property|runtime error|artifact|Test unit' \
	"$log" | head -40
execs=$(sed -nE 's/^stat::number_of_executed_units: *([0-9]+)/\1/p' "$log")
rate=$(sed -nE 's/^stat::average_exec_per_sec: *([0-9]+)/\1/p' "$log")
cov=$(grep -oE 'cov: [0-9]+ ft: [0-9]+ corp: [0-9]+/[0-9a-zA-Z]+' "$log" |
	tail -n 1)
echo "fuzz: ${secs}s, ${execs:-?} execs, ${rate:-?} exec/s, $cov, rc=$rc"
[ "$rc" = 0 ] || { tail -n 30 "$log"; exit 1; }
exit 0
