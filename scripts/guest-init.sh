#!/bin/sh
# SPDX-License-Identifier: MIT
# /init of the test guest. The kernel console goes to ttyS0 (a log file on
# the host); this script's output goes to ttyS1 (the host's stdout). The
# kernel passes spatten_run=demo|check|reliability|relquick|shell as an
# environment variable. reliability: the long forms of the guest campaigns
# of docs/reliability.md (sizes from rel_calls, rel_rounds, rel_procs,
# rel_jobs on the kernel command line); relquick: their short forms only.
# bench: bench/stack-bench.c (spatten_bench_args=--quick for the short form).
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t tmpfs tmpfs /tmp
mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null
exec </dev/ttyS1 >/dev/ttyS1 2>&1

n=0
tap() {	# tap RESULT NAME: one TAP line of the guest script's own checks
	n=$((n + 1))
	if [ "$1" = 0 ]; then echo "ok $n - guest: $2"; else echo "not ok $n - guest: $2"; fi
}

rc=0
insmod /lib/modules/spatten.ko
r=$?
tap $r "insmod spatten.ko"
[ $r = 0 ] || rc=1
i=0
while [ ! -c /dev/spatten0 ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
[ -c /dev/spatten0 ]
r=$?
tap $r "/dev/spatten0 appears"
[ $r = 0 ] || rc=1

# rel_run NAME CMD...: one reliability campaign; its TAP lines pass through.
rel_run() {
	name=$1
	shift
	[ -x "$1" ] || { tap 1 "$name: $1 present"; rc=1; return; }
	"$@"
	r=$?
	[ $r = 0 ] || rc=1
}

# The short forms of the reliability campaigns (also part of check).
rel_short() {
	rel_run "ioctl fuzz" /bin/spatten-ioctl-fuzz -n "${rel_calls:-20000}" \
		-p 2 -t 3 -s "${rel_seed:-1}"
	rel_run "faults" /bin/spatten-faults -r "${rel_rounds:-3}"
	rel_run "load" /bin/spatten-load -p "${rel_procs:-8}" \
		-j "${rel_jobs:-50}" -s "${rel_seed:-1}"
}

case "$spatten_run" in
reliability)
	t0=$(date +%s)
	rel_run "ioctl fuzz" /bin/spatten-ioctl-fuzz -n "${rel_calls:-1000000}" \
		-p "${rel_fuzz_procs:-2}" -t 3 -s "${rel_seed:-1}"
	t1=$(date +%s)
	rel_run "faults" /bin/spatten-faults -r "${rel_rounds:-50}"
	t2=$(date +%s)
	rel_run "load" /bin/spatten-load -p "${rel_procs:-8}" \
		-j "${rel_jobs:-1000}" -s "${rel_seed:-1}"
	t3=$(date +%s)
	echo "# guest seconds: ioctl fuzz $((t1 - t0)), faults $((t2 - t1)), load $((t3 - t2))"
	rmmod spatten
	r=$?
	tap $r "rmmod spatten after the reliability campaigns"
	[ $r = 0 ] || rc=1
	;;
relquick)
	t0=$(date +%s)
	rel_short
	echo "# guest seconds: reliability short forms $(($(date +%s) - t0))"
	rmmod spatten
	r=$?
	tap $r "rmmod spatten after the reliability short forms"
	[ $r = 0 ] || rc=1
	;;
demo)
	/bin/spatten-demo || rc=$?
	;;
check)
	/bin/spatten-demo >/tmp/demo.out 2>&1
	r=$?
	sed 's/^/# /' /tmp/demo.out
	tap $r "demo: device output within tolerance of the float reference"
	[ $r = 0 ] || rc=1
	for t in /bin/*_test; do
		[ -x "$t" ] || continue
		"$t" || rc=1
	done
	# Reliability campaigns, short forms (docs/reliability.md).
	rel_short
	# Unload with jobs in flight: a process holds jobs on the device
	# (the driver test's --hold-jobs) and is killed with SIGKILL first.
	held=0
	if [ -x /bin/spatten_driver_test ]; then
		/bin/spatten_driver_test --hold-jobs >/tmp/hold.out 2>&1 &
		pid=$!
		i=0
		while ! grep -q held /tmp/hold.out && [ $i -lt 100 ]; do
			sleep 0.1; i=$((i + 1))
		done
		grep -q held /tmp/hold.out && held=1
		kill -9 $pid
		wait $pid 2>/dev/null
	fi
	rmmod spatten
	r=$?
	if [ $held = 1 ]; then
		tap $r "rmmod spatten after the suite, with a killed process's jobs in flight"
	else
		tap $r "rmmod spatten after the suite"
	fi
	[ $r = 0 ] || rc=1
	;;
bench)
	/bin/spatten-stack-bench $spatten_bench_args || rc=$?
	;;
shell)
	setsid cttyhack sh
	;;
esac
echo "SPATTEN-EXIT: $rc"
sync
poweroff -f
