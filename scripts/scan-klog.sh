#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# One TAP line: does the guest kernel log hold a report of a kernel defect?
# Production kernels: a warning, a bug, an oops, a call trace, a leak. The
# debug kernel adds KASAN, KFENCE, UBSAN, lockdep ("possible circular
# locking", "suspicious RCU usage"), kmemleak, DMA-API debugging and
# "BUG: sleeping function called from invalid context" (all but the first
# and the DMA-API ones also say BUG or WARNING). The checkers' start-up
# lines are not reports and are left out by exact text.
# Usage: scan-klog.sh CONSOLE_LOG
set -uo pipefail
log=$1
pattern='WARNING|BUG|Oops|Call Trace|leak|KASAN|KFENCE|UBSAN|DMA-API|circular locking|suspicious RCU|sleeping function|general protection'
startup='kmemleak: Kernel memory leak detector initialized|kmemleak: Automatic memory scanning thread|DMA-API: preallocated [0-9]+ debug entries|DMA-API: debugging enabled by kernel config|kasan: KernelAddressSanitizer initialized|kfence: initialized'
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
