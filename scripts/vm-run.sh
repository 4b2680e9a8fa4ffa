#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Boot the guest with the SpAtten device and run demo|check|shell in it.
# The guest's program output streams to stdout; the kernel console goes to
# $SPATTEN_CACHE/logs/guest-console.log. Exit status: the guest's.
# Usage: vm-run.sh MODE KERNEL INITRAMFS [extra -device spatten options]
# SPATTEN_VM_TAG=name keeps this boot's logs apart (guest-console-name.log,
# guest-MODE-name.log); SPATTEN_VM_APPEND adds kernel command-line words.
# SPATTEN_VM_MEM sets the guest memory (default 1G).
set -euo pipefail
. "$(dirname "$0")/common.sh"

mode=$1 kernel=$2 initrd=$3 devopts=${4:-}
tag=${SPATTEN_VM_TAG:+-$SPATTEN_VM_TAG}
console=$SPATTEN_LOGS/guest-console$tag.log
out=$SPATTEN_LOGS/guest-$mode$tag.log
qemu=$SPATTEN_CACHE/qemu-system-x86_64
timeout=${SPATTEN_VM_TIMEOUT:-1800}

args=(-M q35 -accel tcg -cpu max -smp 2 -m "${SPATTEN_VM_MEM:-1G}"
      -nodefaults -no-reboot -display none -monitor none
      -L /usr/share/qemu -L /usr/share/seabios
      -kernel "$kernel" -initrd "$initrd"
      -append "console=ttyS0 loglevel=7 panic=-1 spatten_run=$mode${SPATTEN_VM_APPEND:+ $SPATTEN_VM_APPEND}"
      -device "spatten${devopts:+,$devopts}"
      -serial "file:$console")
if [ "$mode" = shell ]; then
	exec "$qemu" "${args[@]}" -serial stdio
fi

# One boot; sets rc (QEMU's status).
boot() {
	set +e
	# sed -u, not tr: unbuffered, so long runs (spatten_run=reliability)
	# show their progress as it happens.
	timeout --foreground "$timeout" "$qemu" "${args[@]}" -serial stdio \
		</dev/null | sed -u 's/\r//g' | tee "$out"
	rc=${PIPESTATUS[0]}
	set -e
}

boot
# A kernel that panics before its init ran anything (no output at all) is
# a boot of the emulator gone wrong (TCG patching kernel text under two
# vCPUs has been seen to trap early), never a test result: boot once more.
if [ "$rc" = 0 ] && [ ! -s "$out" ] && grep -q "Kernel panic" "$console"; then
	echo "# guest: the kernel panicked before init (console: $console); booting again"
	cp "$console" "$console.panic"
	boot
fi
if [ "$rc" = 124 ]; then
	echo "not ok - guest: timed out after ${timeout}s (console: $console)"
	exit 1
fi
if [ "$rc" != 0 ]; then
	echo "not ok - guest: QEMU exited with status $rc (console: $console)"
	exit 1
fi
status=$(sed -n 's/^SPATTEN-EXIT: \([0-9]*\)$/\1/p' "$out" | tail -n 1)
if [ -z "$status" ]; then
	echo "not ok - guest: no exit status (crashed? console: $console)"
	exit 1
fi
exit "$status"
