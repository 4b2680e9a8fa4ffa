# SPDX-License-Identifier: MIT
# Shared helpers for the set-up scripts: step banners, logs, the cache.
# shellcheck shell=bash

SPATTEN_CACHE=${SPATTEN_CACHE:-/var/cache/spatten}
SPATTEN_TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SPATTEN_LOGS=$SPATTEN_CACHE/logs
mkdir -p "$SPATTEN_CACHE" "$SPATTEN_LOGS"

step() { printf '==> %s\n' "$*" >&2; }

# run_logged NAME CMD...: run CMD with output to $SPATTEN_LOGS/NAME.log; on
# failure name the step and the log, and show its tail.
run_logged() {
	local name=$1 log=$SPATTEN_LOGS/$1.log
	shift
	if ! "$@" >"$log" 2>&1; then
		printf 'FAILED: step "%s"; full log: %s\n' "$name" "$log" >&2
		tail -n 30 "$log" >&2
		exit 1
	fi
}

# copy_if_changed SRC DST: keep DST's mtime when the content is the same,
# so ninja/make rebuild only what really changed.
copy_if_changed() {
	cmp -s "$1" "$2" || cp "$1" "$2"
}
