#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# scripts/scan-klog.sh against kernel-log lines as the checkers print
# them: each report must fail the scan, each start-up line must not.
# Prints TAP.
set -uo pipefail
scan=$(dirname "$0")/../../scripts/scan-klog.sh
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
n=0 fail=0

check() {	# check WANT LINE: WANT is "report" or "clean"
	local want=$1 line=$2 got
	n=$((n + 1))
	printf '[    0.100000] Linux version 6.12\n%s\n' "$line" >"$tmp/log"
	if "$scan" "$tmp/log" >/dev/null; then got=clean; else got=report; fi
	if [ "$got" = "$want" ]; then
		echo "ok $n - scan-klog: $want: $line"
	else
		echo "not ok $n - scan-klog: $want expected, got $got: $line"
		fail=1
	fi
}

echo "1..16"
check report '[   68.375335] BUG: KASAN: slab-use-after-free in acpi_ns_get_attached_object+0xc1/0xf0'
check report '[   12.000000] BUG: KFENCE: out-of-bounds read in spatten_submit+0x10/0x20'
check report '[   12.000000] WARNING: possible circular locking dependency detected'
check report '[   12.000000] WARNING: suspicious RCU usage'
check report '[   12.000000] BUG: sleeping function called from invalid context at mm/slub.c:4100'
check report '[   84.412332] DMA-API: cacheline tracking ENOMEM, dma-debug disabled'
check report '[   12.000000] spatten 0000:00:01.0: DMA-API: device driver frees DMA memory with wrong function'
check report '[   12.000000] kmemleak: 2 new suspected memory leaks (see /sys/kernel/debug/kmemleak)'
check report '[  300.000000] INFO: task spatten-faults:88 blocked for more than 120 seconds.'
check report '[   12.000000] Disabling lock debugging due to kernel taint'
check report '[   12.000000] Kernel panic - not syncing: Attempted to kill init!'
check report '[   12.000000] UBSAN: array-index-out-of-bounds in driver/spatten_job.c:10:2'
check clean '[    0.500000] kmemleak: Kernel memory leak detector initialized (mem pool available: 15615)'
check clean '[    0.500000] DMA-API: preallocated 65536 debug entries'
check clean '[   90.000000] DMA-API: dma_debug_entry pool grown to 131072 (200%)'
check clean '[    0.400000] kfence: initialized - using 2097152 bytes for 255 objects at 0x(____ptrval____)-0x(____ptrval____)'
exit $fail
