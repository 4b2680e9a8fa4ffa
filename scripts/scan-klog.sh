#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# One TAP line: does the guest kernel log hold a report of a kernel defect?
# Production kernels: a warning, a bug, an oops, a call trace, a leak. The
# debug kernel adds KASAN, KFENCE, lockdep ("possible circular locking",
# "suspicious RCU usage", "Disabling lock debugging"), kmemleak, DMA-API
# debugging, "BUG: sleeping function called from invalid context", hung
# tasks and RCU stalls, a panic without an oops (UBSAN too, should a
# kernel have it). The checkers' start-up lines and the DMA-API pool
# growing are not reports and are left out by exact text.
# Usage: scan-klog.sh CONSOLE_LOG
set -uo pipefail
log=$1
pattern='WARNING|BUG|Oops|Call Trace|leak|KASAN|KFENCE|UBSAN|DMA-API|circular locking|suspicious RCU|sleeping function|general protection|INFO: task|detected stall|Disabling lock debugging|Kernel panic'
# Anchored on the timestamp, so a report quoting these words still counts.
ts='^\[ *[0-9]+\.[0-9]+\] '
startup="${ts}(kmemleak: Kernel memory leak detector initialized|kmemleak: Automatic memory scanning thread|DMA-API: preallocated [0-9]+ debug entries|DMA-API: debugging enabled by kernel config|DMA-API: dma_debug_entry pool grown to [0-9]+ |kasan: KernelAddressSanitizer initialized|kfence: initialized)"

if [ ! -s "$log" ]; then
	echo "not ok - guest kernel log exists and is not empty ($log)"
	exit 1
fi
hits=$(tr -d '\r' <"$log" | grep -E "$pattern" | grep -Ev "$startup")
if [ -n "$hits" ]; then
	echo "not ok - guest kernel log has no WARNING/BUG/Oops/Call Trace/leak or debug-checker report"
	printf '%s\n' "$hits" | head -n 40 | sed 's/^/# /'
	exit 1
fi
echo "ok - guest kernel log has no WARNING/BUG/Oops/Call Trace/leak or debug-checker report"
