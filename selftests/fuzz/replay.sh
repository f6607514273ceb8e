#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Replay the ICI fuzz corpus (checked-in seeds, generated seeds, and what
# earlier fuzz runs found) through the libFuzzer binary (clang, ASan+UBSan)
# and the plain replay driver (gcc, ASan+UBSan).  Exit 0 when every input
# ran clean, 1 when any crashed or violated a property.
set -u
cd "$(dirname "$0")/../.." || exit 1

B=build/fuzz
dirs=(selftests/fuzz/corpus build/fuzz-corpus)
[ -d build/fuzz-work ] && dirs+=(build/fuzz-work)

for f in "$B/fuzz_ici" "$B/replay"; do
	if [ ! -x "$f" ]; then
		echo "$f missing: run make check (or make fuzz)"
		exit 1
	fi
done
n=$(find "${dirs[@]}" -type f ! -name '.*' | wc -l)
echo "replay: $n inputs in ${dirs[*]}"

rc=0
echo "--- gcc replay driver"
"$B/replay" "${dirs[@]}" || rc=1
echo "--- libFuzzer (-runs=0)"
mkdir -p build/fuzz-artifacts
log=build/fuzz-artifacts/replay.log
"$B/fuzz_ici" -runs=0 -rss_limit_mb=2048 -timeout=10 \
	-artifact_prefix=build/fuzz-artifacts/replay- "${dirs[@]}" >"$log" 2>&1
frc=$?
grep -E 'INITED|ERROR|SUMMARY|property|Done|runtime error' "$log"
if [ "$frc" != 0 ]; then
	tail -n 30 "$log"
	rc=1
fi
echo "replay: $([ $rc = 0 ] && echo ok || echo FAILED)"
exit $rc
