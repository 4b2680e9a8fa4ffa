#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Print the files of kernel modules and of everything they depend on, one
# absolute path a line, in load order (each module after its dependencies,
# no duplicates).
# Usage: kmod-deps.sh MODDIR MODULE...
#   MODDIR   a kernel's module tree, .../lib/modules/<release>
#   MODULE   a module name (drm, gpu-sched or gpu_sched, ...)
# The dependencies are those of MODDIR/modules.dep; a tree without one (a
# Debian kernel image unpacked, not installed: its postinst runs depmod)
# gets them from `depmod -n` (dry run: prints, writes nothing).
set -euo pipefail

[ $# -ge 2 ] || { echo "usage: $0 MODDIR MODULE..." >&2; exit 2; }
moddir=${1%/}
shift
[ -d "$moddir/kernel" ] || { echo "$0: $moddir: no kernel/ in it" >&2; exit 1; }

depfile=$(mktemp)
trap 'rm -f "$depfile"' EXIT
if [ -s "$moddir/modules.dep" ]; then
	cp "$moddir/modules.dep" "$depfile"
else
	release=$(basename "$moddir")
	base=$(dirname "$(dirname "$(dirname "$moddir")")")	# .../lib/modules/R -> ...
	[ "$base/lib/modules/$release" -ef "$moddir" ] ||
		{ echo "$0: $moddir is not <root>/lib/modules/<release>" >&2; exit 1; }
	# The dry run prints every modules.* file; modules.dep comes first and
	# its lines are the only ones of the form "kernel/...: ...".
	depmod -n -b "$base" "$release" 2>/dev/null |
		grep -E '^(kernel|updates|extra)/[^ ]+:( |$)' >"$depfile" || true
	[ -s "$depfile" ] ||
		{ echo "$0: depmod -n found no modules under $moddir" >&2; exit 1; }
fi

# awk: find each module's line (file name, .ko[.xz|.zst|.gz] stripped,
# '-' and '_' alike), then a depth-first walk: dependencies first.
awk -v moddir="$moddir" -v want="$*" '
function norm(f) {
	sub(/.*\//, "", f)
	sub(/\.ko(\.(xz|zst|gz))?$/, "", f)
	gsub(/-/, "_", f)
	return f
}
function visit(path,   n, d, i) {
	if (path in state) {
		if (state[path] == 1) {
			print "kmod-deps: dependency loop at " path >"/dev/stderr"
			bad = 1
		}
		return
	}
	if (!(path in deps)) {
		print "kmod-deps: " path " is not in modules.dep" >"/dev/stderr"
		bad = 1
		return
	}
	state[path] = 1
	n = split(deps[path], d, " ")
	for (i = n; i >= 1; i--)	# modprobe loads from the end of the list
		visit(d[i])
	state[path] = 2
	print moddir "/" path
}
{
	p = $1
	sub(/:$/, "", p)
	$1 = ""
	deps[p] = $0
	byname[norm(p)] = p
}
END {
	n = split(want, w, " ")
	for (i = 1; i <= n; i++) {
		m = norm(w[i])
		if (!(m in byname)) {
			print "kmod-deps: module " w[i] " not found under " moddir >"/dev/stderr"
			bad = 1
			continue
		}
		visit(byname[m])
	}
	exit bad
}' "$depfile"
