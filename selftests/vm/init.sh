#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# PID 1 of the tcpcp test VM (see run-vm.sh).  The root filesystem is the
# host's, read-only over 9p; the results share is mounted writable.  Runs
# every test listed in the results share's tests.list ("INDEX PATH TIMEOUT"),
# each with a timeout, scans dmesg after each one, stores per test INDEX.log,
# INDEX.rc, INDEX.dmesg, INDEX.secs (and INDEX.splat on a dmesg hit), then
# reboots, which ends qemu (-no-reboot).
#
# The kernel passes TCPCP_REPO (the repository path) from its command line.

PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
HOME=/tmp
TERM=dumb
LC_ALL=C.UTF-8
export PATH HOME TERM LC_ALL

# What fails a test when dmesg shows it after the test ran.
SPLAT='WARNING:|BUG:|kernel BUG|Oops|KASAN|UBSAN|circular locking|possible recursive|inconsistent lock state|suspicious RCU usage|general protection fault|Call Trace:|refcount_t:|list_(add|del) corruption|blocked for more than|rcu.*stall|Kernel panic|unreferenced object'

RES=/run/tcpcp-results

say() { echo "tcpcp-vm: $*" >/dev/console; }

finish() {
	sync
	say "$1, rebooting"
	echo b >/proc/sysrq-trigger
	sleep 5
	exit 1	# panic=-1 reboots too
}

uptime_s() { cut -d' ' -f1 /proc/uptime; }

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
mkdir -p /dev/pts /dev/shm
mount -t devpts -o gid=5,mode=620,ptmxmode=666 devpts /dev/pts
mount -t tmpfs -o mode=1777 shm /dev/shm
# devtmpfs has no /dev/fd: bash's process substitution needs it
[ -e /dev/fd ] || ln -s /proc/self/fd /dev/fd
for i in 0:stdin 1:stdout 2:stderr; do
	[ -e "/dev/${i#*:}" ] || ln -s "/proc/self/fd/${i%%:*}" "/dev/${i#*:}"
done
mount -t tmpfs -o mode=755 run /run
# a repository under /tmp or /var/tmp (a CI clone) must stay visible
# through the fresh tmpfs mounted there
keep=""
case $TCPCP_REPO in
/tmp/*|/var/tmp/*)
	keep=/run/tcpcp-repo
	mkdir -p $keep
	mount --bind "$TCPCP_REPO" $keep ;;
esac
mount -t tmpfs -o mode=1777 tmp /tmp
mount -t tmpfs -o mode=1777 vartmp /var/tmp
if [ -n "$keep" ]; then
	mkdir -p "$TCPCP_REPO"
	mount --bind $keep "$TCPCP_REPO"
fi
[ -d /sys/kernel/debug ] && mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null
[ -d /sys/fs/bpf ] && mount -t bpf bpf /sys/fs/bpf 2>/dev/null
mkdir -p $RES /run/netns
if ! mount -t 9p -o trans=virtio,version=9p2000.L,msize=262144 results $RES; then
	finish "cannot mount the results share"
fi
ip link set lo up
hostname tcpcp-vm 2>/dev/null
# make a later deadlock or stall visible in dmesg rather than silent
echo 60 2>/dev/null >/proc/sys/kernel/hung_task_timeout_secs

booted=$(uptime_s)
echo "$booted" >$RES/boot.secs
dmesg -c >$RES/boot.dmesg
if grep -Eq "$SPLAT" $RES/boot.dmesg; then
	: >$RES/boot.splat
	say "dmesg splat during boot"
fi
say "booted in ${booted}s, running tests"

cd "$TCPCP_REPO" || finish "no repository at '$TCPCP_REPO'"
while read -r idx path tmo; do
	[ -n "$idx" ] || continue
	say "[$idx] $path (timeout ${tmo}s)"
	start=$(uptime_s)
	echo "$start" >$RES/$idx.start
	timeout -k 10 "$tmo" "$path" >$RES/$idx.log 2>&1 </dev/null
	rc=$?
	end=$(uptime_s)
	# leftovers of this test must not disturb the next one
	kill -9 -1 2>/dev/null
	ip -all netns delete 2>/dev/null
	dmesg -c >$RES/$idx.dmesg
	if grep -Eq "$SPLAT" $RES/$idx.dmesg; then
		: >$RES/$idx.splat
	fi
	echo "$start $end" | awk '{ printf "%.1f\n", $2 - $1 }' >$RES/$idx.secs
	echo $rc >$RES/$idx.rc
	say "[$idx] rc=$rc"
done <$RES/tests.list

: >$RES/done
finish "all tests ran"
