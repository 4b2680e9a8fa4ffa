#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The debug-kernel boot of `make check` (make debug-check): run MODE in
# the guest, then scan the kernel log. The guest marks the log
# ("SPATTEN-MARK: modules load") before it loads any module. A report of
# the kernel's checkers before that mark is the kernel's own, not the
# driver's (seen: a KASAN report in an early-boot interrupt under TCG),
# and it leaves the boot unfit to judge the driver: lockdep switches
# itself off at the first report. Such a boot is shown as diagnostics and
# run again, up to 3 boots; a report after the mark fails at once, except
# an int3 Oops inside kernel text patching (TCG's, below).
# Usage: debug-boot.sh MODE KERNEL INITRAMFS KERNEL-ARGS
set -uo pipefail
. "$(dirname "$0")/common.sh"

mode=$1 kernel=$2 initrd=$3 append=$4
console=$SPATTEN_LOGS/guest-console-debug.log
out=$(mktemp)
early=$(mktemp)
trap 'rm -f "$out" "$early"' EXIT

for attempt in 1 2 3; do
	t0=$(date +%s)
	SPATTEN_VM_TAG=debug SPATTEN_VM_MEM=2G \
		SPATTEN_VM_TIMEOUT=${SPATTEN_VM_TIMEOUT:-5400} \
		SPATTEN_VM_APPEND="$append" \
		"$SPATTEN_TOP/scripts/vm-run.sh" "$mode" "$kernel" "$initrd" \
		>"$out" 2>&1
	rc=$?
	t=$(($(date +%s) - t0))
	tr -d '\r' <"$console" | sed '/SPATTEN-MARK: modules load/,$d' >"$early"
	if grep -q 'SPATTEN-MARK: modules load' "$console" &&
	   ! "$SPATTEN_TOP/scripts/scan-klog.sh" "$early" >/dev/null; then
		echo "# debug boot $attempt: the kernel reported a problem before any module was loaded (not the driver's); booting again:"
		"$SPATTEN_TOP/scripts/scan-klog.sh" "$early" | sed 's/^/# /' | head -n 8
		cp "$console" "$SPATTEN_LOGS/guest-console-debug-early-$attempt.log"
		continue
	fi
	# An int3 Oops while the kernel patches its own text (a static call
	# or tracepoint switched on or off: text_poke's breakpoints) is TCG
	# executing a half-patched instruction under two vCPUs, not the
	# driver (seen once: the tracepoints test enabling events).
	if [ "$attempt" -lt 3 ] &&
	   tr -d '\r' <"$console" | grep -A40 'Oops: int3' |
	   grep -qE '__static_call_update|text_poke|arch_jump_label_transform'; then
		echo "# debug boot $attempt: an int3 Oops inside kernel text patching (TCG, not the driver); booting again"
		cp "$console" "$SPATTEN_LOGS/guest-console-debug-int3-$attempt.log"
		continue
	fi
	break
done
cat "$out"
echo "# debug boot: $t s from QEMU start to power-off"
scan=$("$SPATTEN_TOP/scripts/scan-klog.sh" "$console") || rc=1
printf '%s\n' "$scan" | sed "s/ - guest kernel log/ - boot debug: guest kernel log/"
exit "$rc"
