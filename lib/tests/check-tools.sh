#!/bin/sh
# SPDX-License-Identifier: MIT
#
# The tools' interface: --help, exit codes 0/1/2, the messages for a
# missing device and bad arguments, a workload on the simulation backend
# (table and JSON), a trace replay. Prints TAP.
#
# Usage: check-tools.sh BINDIR
set -u
bin=$1
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
n=0 bad=0
t() {
	n=$((n + 1))
	if [ "$1" = 0 ]; then echo "ok $n - $2"; else
		echo "not ok $n - $2"; bad=$((bad + 1)); fi
}
# rc CMD...: run, keep output in $tmp/out, echo the exit status
rc() {
	"$@" >"$tmp/out" 2>&1
	echo $?
}
expect() {	# expect STATUS NAME CMD...
	want=$1 name=$2
	shift 2
	got=$(rc "$@")
	[ "$got" = "$want" ] || { echo "# exit $got, want $want:"; \
		sed 's/^/#   /' "$tmp/out" | head -5; }
	[ "$got" = "$want" ]
	t $? "$name"
}
unset SPATTEN_BACKEND

for p in spatten-run spatten-demo spatten-info; do
	expect 0 "$p --help exits 0" "$bin/$p" --help
	grep -q '^Usage: ' "$tmp/out"
	t $? "$p --help prints a usage line"
	expect 2 "$p with a bad option exits 2" "$bin/$p" --no-such-option
done
expect 2 "spatten-run --prompt abc exits 2" "$bin/spatten-run" --prompt abc
grep -q "bad value 'abc' for --prompt" "$tmp/out"
t $? "... and names the option"
expect 2 "spatten-run --model nope exits 2" "$bin/spatten-run" --model nope
expect 2 "spatten-run: an encoder has no generation steps" \
	"$bin/spatten-run" -m bert-base --steps 2
expect 1 "spatten-run without a device exits 1" \
	"$bin/spatten-run" -b device -d "$tmp/spatten9"
grep -q "no SpAtten device" "$tmp/out"
t $? "... and says there is no device"
expect 1 "spatten-run: SPATTEN_BACKEND=bogus exits 1" \
	env SPATTEN_BACKEND=bogus "$bin/spatten-run"
grep -q 'expected "sim" or "device"' "$tmp/out"
t $? "... and says what it expects"
expect 0 "spatten-run -b sim (gpt2-small, short) exits 0" \
	"$bin/spatten-run" -b sim -p 64 -g 2 -q
grep -q '^total ' "$tmp/out" && grep -q 'PASS' "$tmp/out"
t $? "... prints the totals and passes the reference check"
expect 0 "spatten-run -m bert-base --json exits 0" \
	"$bin/spatten-run" -b sim -m bert-base -p 64 --json
if command -v python3 >/dev/null; then
	python3 -c 'import json,sys; d=json.load(sys.stdin);
assert len(d["per_layer"]) == 12 and d["check"]["pass"]' <"$tmp/out"
	t $? "... valid JSON with 12 layers"
fi
expect 0 "spatten-run --dense exits 0" "$bin/spatten-run" -b sim -p 32 -g 1 \
	--dense -q --no-progressive --k-bits 16 --v-bits 16
trace=../shared/workloads/summary-gpt2-small-wikitext2-per8.csv
if [ -f "$trace" ]; then
	expect 0 "spatten-run --trace replays the GPT-2 trace" \
		"$bin/spatten-run" --trace "$trace"
	grep -q 'DRAM bytes' "$tmp/out"
	t $? "... and prints the traffic totals"
else
	n=$((n + 1)); echo "ok $n - spatten-run --trace # SKIP no $trace"
fi
expect 1 "spatten-run --trace on a missing file exits 1" \
	"$bin/spatten-run" --trace "$tmp/none.csv"
expect 0 "spatten-demo --sim exits 0 (within tolerance)" \
	"$bin/spatten-demo" --sim
expect 1 "spatten-demo without a device exits 1" \
	env SPATTEN_BACKEND=device "$bin/spatten-demo"
if [ -z "$(ls /dev/spatten* 2>/dev/null)" ]; then
	got=$(rc "$bin/spatten-info")
	if grep -q "SpAtten sparse-attention accelerator" "$tmp/out"; then
		n=$((n + 1)); echo "ok $n - spatten-info # SKIP a board is here"
	else
		[ "$got" = 1 ] && grep -q "no SpAtten board" "$tmp/out"
		t $? "spatten-info with no board exits 1 and says so"
	fi
fi
echo "1..$n"
[ $bad = 0 ]
