#!/bin/sh
# SPDX-License-Identifier: MIT
# /init of the test guest. The kernel console goes to ttyS0 (a log file on
# the host); this script's output goes to ttyS1 (the host's stdout). The
# kernel passes spatten_run=demo|check|debugcheck|reliability|relquick|shell
# as an environment variable. reliability: the long forms of the guest
# campaigns of docs/reliability.md (sizes from rel_calls, rel_rounds,
# rel_procs, rel_jobs on the kernel command line); relquick: their short
# forms only. debugcheck: on the debug kernel, the driver suites, the short
# forms, the allocation-failure sweep and a kmemleak scan (with
# spatten_rel=long, the long forms instead of the short ones); failnth:
# the allocation-failure sweep alone.
# bench: bench/stack-bench.c (spatten_bench_args=--quick for the short form).
# check with spatten_demo=skip: without the demo (make check runs it on its
# first boot only). spatten_suites=driver: of the suites, only those of the
# kernel interface (the driver's kselftest, the UAPI suite, the 32-bit
# program, and the library's session I/O suite when spatten_suites_v3=1):
# the boots that vary the interrupt mode, and the debug kernel, leave the
# library's device-versus-simulation comparisons to the boots that run
# everything. spatten_rel=skip: no reliability short forms.
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
# A debug kernel's kmemleak: what boot left unreferenced is not ours. An
# object is reported once its checksum held across two scans and it is
# 5 s old; clear then greys what was reported.
if [ -w /sys/kernel/debug/kmemleak ]; then
	echo scan >/sys/kernel/debug/kmemleak &&
		sleep 6 && echo scan >/sys/kernel/debug/kmemleak &&
		echo clear >/sys/kernel/debug/kmemleak
	tap $? "kmemleak: boot-time suspects scanned and cleared"
fi
# The kernel log up to here is the kernel's own (scripts/debug-boot.sh).
echo "SPATTEN-MARK: modules load" >/dev/kmsg
# The kernel's own modules the image carries (DRM, drm_sched, the GEM
# shmem helpers and their dependencies), in dependency order
# (scripts/kmod-deps.sh).
if [ -s /lib/modules/load-order ]; then
	while read -r m; do
		insmod "/lib/modules/$m"
		r=$?
		tap $r "insmod $m"
		[ $r = 0 ] || rc=1
	done </lib/modules/load-order
fi
# unsafe_fault_injection=1: the DMA error knobs of debugfs (campaign 3).
insmod /lib/modules/spatten.ko unsafe_fault_injection=1
r=$?
tap $r "insmod spatten.ko"
[ $r = 0 ] || rc=1
echo "# modules loaded: $(cut -d' ' -f1 /proc/modules | tr '\n' ' ')"

# The board's node: /dev/accel/accelN (6.2+) or /dev/dri/renderDN (6.1)
# whose device is bound to spatten.
spatten_node() {
	for s in /sys/class/accel/accel* /sys/class/drm/renderD*; do
		[ "$(basename "$(readlink "$s/device/driver" 2>/dev/null)")" = spatten ] ||
			continue
		case $s in
		*/accel/*) echo "/dev/accel/${s##*/}" ;;
		*) echo "/dev/dri/${s##*/}" ;;
		esac
		return 0
	done
}
i=0
while [ -z "$(spatten_node)" ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
node=$(spatten_node)
[ -n "$node" ] && [ -c "$node" ]
r=$?
tap $r "the board's node appears (${node:-none})"
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

# Unload with jobs in flight: a process holds jobs on the device (the
# driver test's --hold-jobs) and is killed with SIGKILL first.
# A pending devcoredump of a hang holds the module: dismiss them all.
devcd_dismiss() {
	for d in /sys/class/devcoredump/devcd*/data; do
		[ -e "$d" ] && echo 1 >"$d"
	done
}

rmmod_busy() {
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
	devcd_dismiss
	rmmod spatten
	r=$?
	if [ $held = 1 ]; then
		tap $r "rmmod spatten after the suite, with a killed process's jobs in flight"
	else
		tap $r "rmmod spatten after the suite"
	fi
	[ $r = 0 ] || rc=1
}

# The debug kernel's checkers are still on: lockdep did not switch itself
# off (debug_locks), the DMA-API checker is enabled and counted no error
# (it prints only its first report).
checkers_alive() {
	if [ -r /proc/lockdep_stats ]; then
		grep -q 'debug_locks: *1' /proc/lockdep_stats
		r=$?
		tap $r "lockdep still on (debug_locks 1)"
		[ $r = 0 ] || rc=1
	fi
	d=/sys/kernel/debug/dma-api
	if [ -r $d/error_count ]; then
		[ "$(cat $d/disabled)" = N ] && [ "$(cat $d/error_count)" = 0 ]
		r=$?
		tap $r "DMA-API checker on, 0 errors (disabled $(cat $d/disabled), errors $(cat $d/error_count))"
		[ $r = 0 ] || rc=1
	fi
}

# The driver suites (kselftest harness) and the library on the device.
suites() {
	[ -x /bin/spatten_uapi32 ] && { /bin/spatten_uapi32 || rc=1; }
	for t in /bin/*_test; do
		[ -x "$t" ] || continue
		if [ "$spatten_suites" = driver ]; then
			case "${t#/bin/}" in
			spatten_test|spatten_driver_test) ;;
			spatten_session_io_test)
				if [ "$spatten_suites_v3" != 1 ]; then
					echo "# $t: not on this boot (spatten_suites=driver)"
					continue
				fi ;;
			*) echo "# $t: not on this boot (spatten_suites=driver)"
			   continue ;;
			esac
		fi
		ts=$(date +%s)
		"$t" || rc=1
		echo "# guest seconds: ${t#/bin/} $(($(date +%s) - ts))"
	done
}

# kmemleak: two scans (an object must be older than 5 s to be reported),
# then the report, if any, as diagnostics; the console log scan sees the
# kernel's "new suspected memory leaks" line too.
kmemleak_scan() {
	f=/sys/kernel/debug/kmemleak
	if [ ! -w $f ]; then
		echo "ok - guest: kmemleak # SKIP not in this kernel"
		return
	fi
	# A scan fails (EPERM) once kmemleak disabled itself: not a pass.
	echo scan >$f && sleep 6 && echo scan >$f && cat $f >/tmp/kmemleak.out
	r=$?
	sed 's/^/# /' /tmp/kmemleak.out | head -n 60
	[ $r = 0 ] && [ ! -s /tmp/kmemleak.out ]
	r=$?
	tap $r "kmemleak: no suspected leak after the campaigns and rmmod"
	[ $r = 0 ] || rc=1
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
	devcd_dismiss
	rmmod spatten
	r=$?
	tap $r "rmmod spatten after the reliability campaigns"
	[ $r = 0 ] || rc=1
	;;
relquick)
	t0=$(date +%s)
	rel_short
	echo "# guest seconds: reliability short forms $(($(date +%s) - t0))"
	devcd_dismiss
	rmmod spatten
	r=$?
	tap $r "rmmod spatten after the reliability short forms"
	[ $r = 0 ] || rc=1
	;;
demo)
	/bin/spatten-demo || rc=$?
	;;
check)
	if [ "$spatten_demo" != skip ]; then
		/bin/spatten-demo >/tmp/demo.out 2>&1
		r=$?
		sed 's/^/# /' /tmp/demo.out
		tap $r "demo: device output within tolerance of the float reference"
		[ $r = 0 ] || rc=1
	fi
	suites
	# Reliability campaigns, short forms (docs/reliability.md).
	[ "$spatten_rel" = skip ] || rel_short
	rmmod_busy
	;;
debugcheck)
	# The debug kernel (KASAN, lockdep, kmemleak, DMA-API debugging,
	# fault injection): the suites, the campaigns, the allocation-failure
	# sweep, rmmod with jobs in flight, then kmemleak.
	t0=$(date +%s)
	suites
	t1=$(date +%s)
	if [ "$spatten_rel" = long ]; then
		rel_run "ioctl fuzz" /bin/spatten-ioctl-fuzz \
			-n "${rel_calls:-1000000}" -p 2 -t 3 -s "${rel_seed:-1}"
		rel_run "faults" /bin/spatten-faults -r "${rel_rounds:-50}"
		rel_run "load" /bin/spatten-load -p "${rel_procs:-8}" \
			-j "${rel_jobs:-1000}" -s "${rel_seed:-1}"
	else
		rel_run "ioctl fuzz" /bin/spatten-ioctl-fuzz \
			-n "${rel_calls:-20000}" -p 2 -t 3 -s "${rel_seed:-1}"
		rel_run "faults" /bin/spatten-faults -r "${rel_rounds:-3}"
	fi
	t2=$(date +%s)
	rel_run "allocation-failure sweep" /bin/spatten-failnth
	t3=$(date +%s)
	rmmod_busy
	checkers_alive
	kmemleak_scan
	echo "# guest seconds: suites $((t1 - t0)), campaigns $((t2 - t1)), failnth $((t3 - t2)), kmemleak $(($(date +%s) - t3))"
	;;
failnth)
	# The allocation-failure sweep alone, then kmemleak (debug kernel).
	rel_run "allocation-failure sweep" /bin/spatten-failnth
	rmmod_busy
	checkers_alive
	kmemleak_scan
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
