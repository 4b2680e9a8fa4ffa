#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# One TAP line: does the guest kernel log hold a warning, a bug, an oops, a
# call trace or a leak report? The offending lines follow as diagnostics.
# Usage: scan-klog.sh CONSOLE_LOG
set -uo pipefail
log=$1
pattern='WARNING|BUG|Oops|Call Trace|leak'
if [ ! -s "$log" ]; then
	echo "not ok - guest kernel log exists and is not empty ($log)"
	exit 1
fi
hits=$(tr -d '\r' <"$log" | grep -E "$pattern")
if [ -n "$hits" ]; then
	echo "not ok - guest kernel log has no WARNING/BUG/Oops/Call Trace/leak"
	printf '%s\n' "$hits" | head -n 40 | sed 's/^/# /'
	exit 1
fi
echo "ok - guest kernel log has no WARNING/BUG/Oops/Call Trace/leak"
