#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The whole test suite after `make` has built everything: host unit tests,
# driver static checks, then the guest suite in QEMU and a scan of the guest
# kernel log. Streams TAP; the last line is "N passed, N failed".
# A step that fails without printing its own "not ok" gets one here.
set -uo pipefail
. "$(dirname "$0")/common.sh"
top=$SPATTEN_TOP

run_step() {	# run_step NAME CMD...: a failing step is at least one "not ok"
	local name=$1
	shift
	local tmp t0
	tmp=$(mktemp)
	t0=$(date +%s)
	"$@" 2>&1 | tee "$tmp"
	local rc=${PIPESTATUS[0]}
	echo "# step $name: $(($(date +%s) - t0)) s"
	if [ "$rc" != 0 ] && ! grep -q '^not ok' "$tmp"; then
		echo "not ok - $name exited with status $rc"
	fi
	rm -f "$tmp"
}

tap_step() {	# tap_step NAME CMD...: one TAP line, output as diagnostics
	local name=$1
	shift
	local out
	out=$("$@" 2>&1)
	local rc=$?
	printf '%s\n' "$out" | sed 's/^/# /'
	if [ "$rc" = 0 ]; then
		echo "ok - $name"
	else
		echo "not ok - $name (exit status $rc)"
	fi
}

# tap_make NAME TARGET: one TAP line for a make target (its output, TAP
# lines indented away, as diagnostics on failure), with the time it took.
tap_make() {
	local name=$1 target=$2 log t0 rc
	log=$(mktemp)
	t0=$(date +%s)
	make -s -C "$top" "$target" >"$log" 2>&1
	rc=$?
	if [ "$rc" = 0 ]; then
		echo "ok - $name ($(($(date +%s) - t0)) s)"
	else
		echo "not ok - $name (make $target: status $rc)"
		grep -E 'not ok|ERROR|runtime error|Sanitizer|definitely|Invalid|error' \
			"$log" | head -n 30 | sed 's/^/# /'
	fi
	rm -f "$log"
}

{
	echo "# host unit tests"
	run_step "host tests" make -s -C "$top" host-check
	run_step "UAPI header" make -s -C "$top" uapi-header-check
	run_step "kernel variants" make -s -C "$top" kernels-check
	run_step "trace replay" make -s -C "$top" replay-check
	run_step "library tests" make -s -C "$top" lib-check
	run_step "man pages" make -s -C "$top" man-check
	run_step "kernel-log scan" "$top/tests/scripts/test-scan-klog.sh"
	echo "# device qtests (QEMU qtest framework; includes the short form of"
	echo "# the descriptor/ring/doorbell fuzz campaign, docs/reliability.md)"
	run_step "device qtests" "$top/scripts/qtest-run.sh"
	echo "# reliability short forms on the host (docs/reliability.md):"
	echo "# libFuzzer, ASan + UBSan, valgrind"
	run_step "fuzz-quick" make -s -C "$top" fuzz-quick
	tap_make "host tests under ASan + UBSan" host-check-asan
	tap_make "library tests and spatten-run under ASan + UBSan" lib-check-asan
	tap_make "library tests and spatten-run under valgrind memcheck" \
		lib-check-valgrind
	tap_make "spatten-demo (sim) and spatten-info under valgrind memcheck" \
		reliability-valgrind-tools
	echo "# driver static checks"
	run_step "driver checks" make -s -C "$top" driver-lint
	echo "# Python package (python/): pytest on the simulation backend, beside"
	echo "# the guest suite (QEMU's TCG keeps one core busy); its lines follow"
	echo "# the guest suite's"
	py_log=$(mktemp)
	run_step "python tests" make -s -C "$top" python-check >"$py_log" 2>&1 &
	py_pid=$!
	echo "# guest suite (QEMU, TCG): one boot per kernel and interrupt mode,"
	echo "# each followed by a scan of its kernel log"
	run_step "guest suite" make -s -C "$top" guest-check
	wait "$py_pid"
	cat "$py_log"
	rm -f "$py_log"
	echo "# debug kernel (KASAN, lockdep, kmemleak, DMA-API debugging, fault"
	echo "# injection): the suites, short forms, allocation-failure sweep"
	run_step "debug-kernel suite" make -s -C "$top" debug-check
	echo "# benchmarks, --quick: every piece of make bench runs and the"
	echo "# report is generated (into build/, not docs/); no speed is judged"
	tap_make "make bench --quick: host, traffic, model and guest benchmarks and the report" \
		bench-report-quick
} | awk -f "$top/scripts/tap-summary.awk"
