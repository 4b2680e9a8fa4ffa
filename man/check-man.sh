#!/bin/sh
# SPDX-License-Identifier: MIT
#
# man/check-man.sh [BINDIR]: the checks of `make man-check`, as TAP.
#
# One line per page of man/man1, man3 and man4:
#   - groff -man -ww -z prints nothing (no warning of any kind), and
#     neither does man --warnings -l when man-db is installed;
#   - rendered at 80 columns no line is longer than 80 characters, and no
#     source line is longer than 80 characters;
#   - a page has the sections its kind needs, its .TH names it;
#   - a link (.so) points to a page of this tree whose NAME lists it.
# Then three lines for the whole set:
#   - every function lib/libspatten.h declares SPATTEN_API (and every
#     static inline one) has a page or a link;
#   - the SYNOPSIS of that page has the function's prototype exactly as
#     the header declares it (whitespace aside);
#   - every tool (spatten-* in BINDIR, default build/bin, and every
#     tools/spatten-*.c with a main()) has a section-1 page, which names
#     every option its --help lists (when the tool is built).
#
# Needs groff (Debian: groff-base); man (man-db) is optional. Exit
# status 1 if any check fails. Runs from anywhere: paths are found from
# this script's place (BINDIR is relative to the current directory).
set -u

mandir=$(cd "$(dirname "$0")" && pwd)
top=$(dirname "$mandir")
bindir=${1:-$top/build/bin}
case $bindir in
/*) ;;
*) bindir=$PWD/$bindir ;;
esac
header=$top/lib/libspatten.h
export LC_ALL=C.UTF-8 MANWIDTH=80
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT

cd "$mandir" || exit 1
pages=$(for f in man1/*.1 man3/*.3 man4/*.4; do [ -f "$f" ] && echo "$f"; done)
npages=$(printf '%s\n' "$pages" | grep -c .)
if ! command -v groff >/dev/null 2>&1; then
	echo "1..1"
	echo "not ok 1 - man: groff is installed (Debian package groff-base)"
	exit 1
fi
have_man=0
command -v man >/dev/null 2>&1 && have_man=1
[ $have_man = 1 ] || echo "# man (man-db) is not installed: groff checks only"

n=0
fails=0
echo "1..$((npages + 3))"

# tap OK NAME: one TAP line, the diagnostics of $tmp/diag after a failure
tap() {
	n=$((n + 1))
	if [ "$1" = 0 ]; then
		echo "ok $n - man: $2"
	else
		echo "not ok $n - man: $2"
		sed 's/^/# /' "$tmp/diag" | head -n 20
		fails=$((fails + 1))
	fi
}

# The source with escapes a reader does not see removed: \- is -, fonts go.
plain_source() {
	sed -e 's/\\-/-/g' -e 's/\\f[BIRP]//g' -e 's/\\f(..//g' \
	    -e 's/\\%//g' -e 's/\\&//g' -e 's/\\e/\\/g' "$1"
}

# The SYNOPSIS of a page as one line, whitespace collapsed, no space after
# "(" or before ")".
synopsis() {
	groff -man -Tascii -P-cbou -rLL=200n "$1" 2>/dev/null |
	awk '/^SYNOPSIS/ { on = 1; next } /^[A-Z]/ { on = 0 }
	     on { printf "%s ", $0 }' | normalize
}

normalize() {
	sed -e 's/[[:space:]][[:space:]]*/ /g' -e 's/( /(/g' -e 's/ )/)/g' \
	    -e 's/^ //' -e 's/ $//'
}

# Sections each kind of page must have (_ for a space).
required_sections() {
	common="NAME SYNOPSIS DESCRIPTION"
	case $1 in
	man1/*) echo "$common OPTIONS EXIT_STATUS EXAMPLES SEE_ALSO" ;;
	man3/libspatten.3) echo "$common EXAMPLES SEE_ALSO" ;;
	man3/*) echo "$common RETURN_VALUE ERRORS EXAMPLES SEE_ALSO" ;;
	man4/*) echo "$common IOCTLS RETURN_VALUE ERRORS FILES EXAMPLES" \
		"SEE_ALSO" ;;
	esac
}

check_page() {	# check_page PAGE: diagnostics into $tmp/diag
	p=$1
	: >"$tmp/diag"
	base=$(basename "$p")
	name=${base%.*}
	sect=${base##*.}
	if grep -q '^\.so ' "$p"; then
		target=$(sed -n 's/^\.so  *//p' "$p")
		if [ "$(grep -c . "$p")" != 1 ]; then
			echo "a link holds one .so line only" >>"$tmp/diag"
		elif [ ! -f "$target" ]; then
			echo "links to $target, which does not exist" >>"$tmp/diag"
		elif grep -q '^\.so ' "$target"; then
			echo "links to $target, itself a link" >>"$tmp/diag"
		elif ! awk '/^\.SH/ { on = ($2 == "NAME") ; next }
			    on { print }' "$target" | tr ',' '\n' |
		     sed -e 's/\\-.*//' -e 's/^ *//' -e 's/ *$//' |
		     grep -qx "$name"; then
			echo "$target does not name $name in its NAME section" \
				>>"$tmp/diag"
		fi
	else
		th=$(awk '/^\.TH/ { print $2, $3; exit }' "$p")
		upper=$(echo "$name" | tr '[:lower:]' '[:upper:]')
		[ "$th" = "$upper $sect" ] ||
			echo ".TH says '$th', expected '$upper $sect'" >>"$tmp/diag"
		for s in $(required_sections "$p"); do
			s=$(echo "$s" | tr '_' ' ')
			grep -q "^\.SH \"\{0,1\}$s\"\{0,1\}\$" "$p" ||
				echo "no section $s" >>"$tmp/diag"
		done
		awk 'length($0) > 80 {
			printf "source line %d has %d characters\n", NR, length($0)
		     }' "$p" >>"$tmp/diag"
	fi
	groff -man -ww -z "$p" >>"$tmp/diag" 2>&1
	if [ $have_man = 1 ]; then
		man --warnings -E UTF-8 -l "$p" 2>>"$tmp/diag" >/dev/null
	fi
	groff -man -Tascii -P-cbou -rLL=78n "$p" 2>/dev/null |
	awk 'length($0) > 80 {
		printf "rendered line %d has %d characters: %s\n", NR,
		       length($0), $0
	     }' >>"$tmp/diag"
	[ ! -s "$tmp/diag" ]
}

for p in $pages; do
	check_page "$p"
	tap $? "$p"
done

# ---- the API: name<TAB>prototype of each function of the header ---------
awk '
	function flush() {
		gsub(/[ \t]+/, " ", decl)
		sub(/^ /, "", decl)
		sub(/^SPATTEN_API /, "", decl)
		sub(/ *\{$/, "", decl)
		nm = decl
		sub(/\(.*/, "", nm)
		sub(/.* \**/, "", nm)
		print nm "\t" decl
		decl = ""; in_decl = 0
	}
	/^SPATTEN_API / || /^static inline .*spatten_[a-z0-9_]*\(/ {
		in_decl = 1; decl = ""
	}
	in_decl {
		decl = decl " " $0
		if ($0 ~ /;[ \t]*$/ || $0 ~ /^\{/ || $0 ~ /\)[ \t]*$/) flush()
	}
' "$header" | sed 's/( /(/g; s/ )/)/g' >"$tmp/api"

: >"$tmp/diag"
while IFS='	' read -r fn proto; do
	[ -f "man3/$fn.3" ] || echo "$fn: no man3/$fn.3" >>"$tmp/diag"
done <"$tmp/api"
[ -s "$tmp/api" ] || echo "no function found in $header" >>"$tmp/diag"
tap "$([ -s "$tmp/diag" ] && echo 1 || echo 0)" \
	"every SPATTEN_API function of lib/libspatten.h has a page or a link"

: >"$tmp/diag"
while IFS='	' read -r fn proto; do
	page=man3/$fn.3
	[ -f "$page" ] || continue
	grep -q '^\.so ' "$page" && page=$(sed -n 's/^\.so  *//p' "$page")
	[ -f "$page" ] || continue
	synopsis "$page" >"$tmp/syn"
	printf '%s\n' "$proto" | normalize >"$tmp/proto"
	if ! awk 'NR == FNR { p = $0; next } { if (index($0, p)) f = 1 }
		  END { exit !f }' "$tmp/proto" "$tmp/syn"; then
		echo "$page: SYNOPSIS lacks: $(cat "$tmp/proto")" >>"$tmp/diag"
	fi
done <"$tmp/api"
tap "$([ -s "$tmp/diag" ] && echo 1 || echo 0)" \
	"SYNOPSIS prototypes match lib/libspatten.h"

# ---- the tools ------------------------------------------------------------
: >"$tmp/diag"
tools=$( (for f in "$bindir"/spatten-*; do
		[ -f "$f" ] && basename "$f"
	  done
	  cd "$top/tools" 2>/dev/null &&
	  grep -l '^int main(' spatten-*.c 2>/dev/null | sed 's/\.c$//') |
	sort -u)
[ -n "$tools" ] || echo "no tool found" >>"$tmp/diag"
for t in $tools; do
	page=man1/$t.1
	if [ ! -f "$page" ]; then
		echo "$t: no $page" >>"$tmp/diag"
		continue
	fi
	[ -x "$bindir/$t" ] || {
		echo "# $t not built in $bindir: its options are not checked"
		continue
	}
	plain_source "$page" >"$tmp/src"
	"$bindir/$t" --help 2>&1 |
	grep -oE -- '(^|[][ ,|])--?[a-zA-Z][a-zA-Z0-9-]*' |
	sed 's/^[][ ,|]*//' | sort -u |
	while read -r opt; do
		grep -qE -- "(^|[^a-zA-Z0-9-])$opt([^a-zA-Z0-9-]|\$)" \
			"$tmp/src" || echo "$page lacks $opt (from $t --help)"
	done >>"$tmp/diag"
done
tap "$([ -s "$tmp/diag" ] && echo 1 || echo 0)" \
	"every tool has a section-1 page naming each option of its --help"

echo "# man-check: $((n - fails)) passed, $fails failed"
[ $fails = 0 ]
