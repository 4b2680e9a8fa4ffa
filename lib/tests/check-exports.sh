#!/bin/sh
# SPDX-License-Identifier: MIT
#
# The shared library exports exactly the documented API: the set of
# functions libspatten.h declares with SPATTEN_API (each with a kernel-doc
# comment), the set the version script lists, and the set of dynamic
# symbols the .so defines must be the same. Prints TAP.
#
# With README and EXAMPLE also checks that the README's C snippet is the
# example the tests build and run, byte for byte.
#
# Usage: check-exports.sh LIBSPATTEN.SO LIBSPATTEN.MAP LIBSPATTEN.H
#			  [README EXAMPLE]
set -u
so=$1 map=$2 hdr=$3 readme=${4:-} example=${5:-}
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT

# Declared: "SPATTEN_API <type> [*]name(" possibly across lines.
tr '\n' ' ' <"$hdr" | grep -o 'SPATTEN_API [^(;]*(' |
	sed -e 's/($//' -e 's/.*[ *]//' | grep '^spatten_' | sort -u >"$tmp/hdr"
# Documented: "/**" blocks whose first line is " * name() - ".
grep -o '^ \* spatten_[a-z0-9_]*() - ' "$hdr" |
	sed -e 's/^ \* //' -e 's/() - $//' | sort -u >"$tmp/doc"
grep -o '^[[:space:]]*spatten_[a-z0-9_]*;' "$map" | tr -d ' \t;' |
	sort -u >"$tmp/map"
nm -D --defined-only "$so" | awk '$2 == "T" || $2 == "D" || $2 == "B" \
	{ sub(/@.*/, "", $3); print $3 }' | sort -u >"$tmp/so"

n=0 bad=0
check() {
	n=$((n + 1))
	if diff -u "$tmp/$2" "$tmp/$3" >"$tmp/diff"; then
		echo "ok $n - $1"
	else
		echo "not ok $n - $1"
		sed 's/^/# /' "$tmp/diff"
		bad=$((bad + 1))
	fi
}
# Inline helpers are documented too, but are not exported.
comm -12 "$tmp/hdr" "$tmp/doc" >"$tmp/hdr_doc"
check "every declared function is documented (kernel-doc)" hdr hdr_doc
check "the version script lists exactly the declared functions" hdr map
check "the shared library exports exactly the declared functions" hdr so
n=$((n + 1))
if nm -D --defined-only "$so" | grep -q ' spe_'; then
	echo "not ok $n - no engine symbol leaks from the shared library"
	bad=$((bad + 1))
else
	echo "ok $n - no engine symbol leaks from the shared library"
fi
n=$((n + 1))
if [ "$(wc -l <"$tmp/hdr")" -gt 40 ]; then
	echo "ok $n - $(wc -l <"$tmp/hdr") public functions"
else
	echo "not ok $n - too few public functions found ($(wc -l <"$tmp/hdr"))"
	bad=$((bad + 1))
fi
if [ -n "$readme" ]; then
	n=$((n + 1))
	awk '/^```c$/ { p = 1; next } /^```$/ { p = 0 } p' "$readme" \
		>"$tmp/snippet"
	if cmp -s "$tmp/snippet" "$example"; then
		echo "ok $n - the README snippet is $example"
	else
		echo "not ok $n - the README snippet differs from $example"
		bad=$((bad + 1))
	fi
fi
echo "1..$n"
[ $bad -eq 0 ]
