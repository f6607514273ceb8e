#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Boot the patched kernel in qemu (TCG) and run the VM tests inside it.
#
# usage: selftests/vm/run-vm.sh [TEST...]
#
# Tests: selftests/vm/smoke.sh, then every line of selftests/vm/TESTS
# ("PATH [TIMEOUT]", paths relative to the repository, # comments), or the
# TESTs given as arguments.  The host's root filesystem is the guest's,
# read-only over virtio-9p; init.sh runs the tests and writes results to a
# writable 9p share ($O/vm-results).  Prints each test's output with a "# "
# prefix, "ok N PATH" / "not ok N PATH", and a kselftest "# Totals:" line;
# a kselftest_harness program counts case by case.  A test fails when dmesg
# shows a splat (WARNING, BUG, Oops, KASAN, lockdep...) after it ran.
# Exit: 0 all passed, 1 a failure, 4 cannot run here (skip, says why).
#
# Environment: TCPCP_VM_KERNEL (bzImage; default $O/linux/arch/x86/boot/
# bzImage), TCPCP_VM_MEM (default 1536M), TCPCP_VM_SMP (2),
# TCPCP_VM_TEST_TIMEOUT (default per-test timeout, 600 s),
# TCPCP_VM_TIMEOUT_SCALE (integer factor on every test's timeout, 1),
# TCPCP_VM_RESULTS (results dir), TCPCP_VM_APPEND (extra kernel args).
set -u

cd "$(dirname "$0")/../.." || exit 1
REPO=$PWD
O=${O:-build}
KERNEL=${TCPCP_VM_KERNEL:-$O/linux/arch/x86/boot/bzImage}
MEM=${TCPCP_VM_MEM:-1536M}
SMP=${TCPCP_VM_SMP:-2}
TEST_TIMEOUT=${TCPCP_VM_TEST_TIMEOUT:-600}
SCALE=${TCPCP_VM_TIMEOUT_SCALE:-1}
RES=${TCPCP_VM_RESULTS:-$O/vm-results}
KERNEL_TARBALL=${KERNEL_TARBALL:-/usr/src/linux-source-6.12.tar.xz}

skip() { echo "run-vm: SKIP: $*"; exit 4; }

command -v qemu-system-x86_64 >/dev/null ||
	skip "qemu-system-x86_64 not installed (package qemu-system-x86)"
if [ ! -f "$KERNEL" ]; then
	[ -f "$KERNEL_TARBALL" ] ||
		skip "no kernel source ($KERNEL_TARBALL), cannot build the VM kernel"
	skip "no kernel image $KERNEL: run 'make kernel' first"
fi
case $REPO in
*[[:space:]]*) skip "repository path '$REPO' has white space" ;;
esac

# the test list: index, path, timeout
tests=()
timeouts=()
add_test() {
	local path=$1 tmo=${2:-$TEST_TIMEOUT}
	tests+=("$path")
	timeouts+=("$((tmo * SCALE))")
}
if [ $# -gt 0 ]; then
	for t in "$@"; do add_test "$t"; done
else
	add_test selftests/vm/smoke.sh 300
	if [ -f selftests/vm/TESTS ]; then
		while read -r path tmo _; do
			add_test "$path" "$tmo"
		done < <(sed -e 's/#.*//' selftests/vm/TESTS | awk 'NF')
	fi
fi

rm -rf "$RES"
mkdir -p "$RES"
RES=$(realpath "$RES")
hard=120
for i in "${!tests[@]}"; do
	echo "$((i + 1)) ${tests[i]} ${timeouts[i]}" >>"$RES/tests.list"
	hard=$((hard + timeouts[i] + 15))
done
hard=${TCPCP_VM_TIMEOUT:-$hard}

append="console=ttyS0 root=/dev/root rootfstype=9p"
append+=" rootflags=trans=virtio,version=9p2000.L,msize=262144 ro"
append+=" init=$REPO/selftests/vm/init.sh panic=-1 TCPCP_REPO=$REPO"
# no_timer_check: a loaded host can make the guest's IO-APIC timer check
# fail and panic the boot
append+=" no_timer_check"
append+=" ${TCPCP_VM_APPEND:-}"

echo "# VM: $KERNEL, ${#tests[@]} test(s), ${MEM} RAM, $SMP CPUs, limit ${hard}s"
t0=$(date +%s.%N)
timeout -k 10 "$hard" qemu-system-x86_64 \
	-accel tcg -cpu max -m "$MEM" -smp "$SMP" \
	-nodefaults -no-user-config -nographic -no-reboot \
	-serial stdio -monitor none -nic none \
	-kernel "$KERNEL" -append "$append" \
	-fsdev local,id=rootfs,path=/,security_model=none,readonly=on,multidevs=remap \
	-device virtio-9p-pci,fsdev=rootfs,mount_tag=/dev/root \
	-fsdev local,id=results,path="$RES",security_model=none \
	-device virtio-9p-pci,fsdev=results,mount_tag=results \
	</dev/null >"$RES/console.log" 2>&1 &
qpid=$!
trap 'kill $qpid 2>/dev/null' EXIT
tboot=""
while kill -0 $qpid 2>/dev/null; do
	if [ -z "$tboot" ] && [ -e "$RES/boot.secs" ]; then
		tboot=$(date +%s.%N)
	fi
	sleep 0.5
done
wait $qpid
qrc=$?
trap - EXIT
t1=$(date +%s.%N)

since() { echo "$t0 $1" | awk '{ printf "%.1f", $2 - $1 }'; }
echo "# VM: qemu exited rc=$qrc after $(since "$t1")s;" \
	"first test started $( [ -n "$tboot" ] && since "$tboot" || echo "?")s" \
	"after qemu start (guest uptime $(cat "$RES/boot.secs" 2>/dev/null)s)"

# field NAME TOTALS-LINE: the number after exactly "NAME:" (not xNAME:)
field() {
	echo "$2" | awk -v k="$1" '{
		for (i = 1; i <= NF; i++) {
			split($i, kv, ":")
			if (kv[1] == k) { print kv[2] + 0; exit }
		}
	}'
}

pass=0 fail=0 skip=0
if [ -e "$RES/boot.splat" ]; then
	echo "# dmesg splat during boot:"
	grep -E -A20 'WARNING:|BUG:|Oops|KASAN|lockdep|Call Trace:' \
		"$RES/boot.dmesg" | head -n 60 | sed 's/^/# /'
fi

for i in "${!tests[@]}"; do
	n=$((i + 1))
	t=${tests[i]}
	log=$RES/$n.log
	echo "# [$n/${#tests[@]}] $t"
	[ -f "$log" ] && sed -e 's/^/# /' "$log"
	if [ ! -f "$RES/$n.rc" ]; then
		echo "not ok $n $t # no result: the VM died or timed out"
		fail=$((fail + 1))
		continue
	fi
	rc=$(cat "$RES/$n.rc")
	secs=$(cat "$RES/$n.secs" 2>/dev/null)
	totals=$(grep -E '^# Totals: pass:[0-9]+ fail:[0-9]+' "$log" | tail -n 1)
	if [ -n "$totals" ]; then
		p=$(field pass "$totals")
		f=$(field fail "$totals")
		s=$(field skip "$totals")
		e=$(field error "$totals")
		f=$((f + ${e:-0}))
		if [ "$rc" != 0 ] && [ "$rc" != 4 ] && [ "$f" = 0 ]; then
			f=1
		fi
	else
		p=0 f=0 s=0
		case $rc in
		0) p=1 ;;
		4) s=1 ;;
		*) f=1 ;;
		esac
	fi
	why=""
	[ "$rc" = 124 ] || [ "$rc" = 137 ] && why="timed out after ${timeouts[i]}s"
	if [ -e "$RES/$n.splat" ]; then
		echo "# dmesg after $t:"
		sed -e 's/^/#   /' "$RES/$n.dmesg" | head -n 80
		why="dmesg splat"
		f=$((f + p)); p=0
		[ "$f" -gt 0 ] || f=1
	fi
	pass=$((pass + p)); fail=$((fail + f)); skip=$((skip + s))
	if [ "$f" -gt 0 ]; then
		echo "not ok $n $t # rc=$rc pass:$p fail:$f skip:$s ${secs}s $why"
	elif [ "$p" = 0 ] && [ "$s" -gt 0 ]; then
		echo "ok $n $t # SKIP $(grep -v '^$' "$log" | tail -n 1)"
	else
		echo "ok $n $t # pass:$p skip:$s ${secs}s"
	fi
done

if [ ! -e "$RES/done" ]; then
	echo "# VM did not finish its run; end of the console:"
	tail -n 40 "$RES/console.log" | sed 's/^/#   /'
	[ "$fail" -gt 0 ] || fail=1
fi
if [ -e "$RES/boot.splat" ]; then
	fail=$((fail + 1))
	echo "not ok boot # dmesg splat during boot"
fi
echo "# Totals: pass:$pass fail:$fail xfail:0 xpass:0 skip:$skip error:0"
[ "$fail" = 0 ]
