#!/bin/sh
# SPDX-License-Identifier: MIT
#
# The tools' interface: --help, exit codes 0/1/2, the messages for a
# missing device and bad arguments (exact stderr), a workload on the
# simulation backend (table and JSON, schema spatten-report/1), the dense
# baseline, a trace replay and bad traces. Prints TAP.
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
# experr STATUS NAME WANT CMD...: exit STATUS and stderr exactly WANT
experr() {
	want=$1 name=$2 msg=$3
	shift 3
	"$@" >"$tmp/out" 2>"$tmp/err"
	got=$?
	printf '%s\n' "$msg" >"$tmp/want"
	if [ "$got" = "$want" ] && cmp -s "$tmp/err" "$tmp/want"; then
		t 0 "$name"
	else
		echo "# exit $got (want $want), stderr:"
		sed 's/^/#   /' "$tmp/err" | head -5
		echo "# wanted: $msg"
		t 1 "$name"
	fi
}
# pyjson NAME PYTHON-EXPR: assert on the JSON document in $tmp/out (d),
# strictly: the bytes must be UTF-8 (no surrogateescape of the C locale)
pyjson() {
	if ! command -v python3 >/dev/null; then
		n=$((n + 1)); echo "ok $n - $1 # SKIP no python3"; return
	fi
	python3 -c "import json,sys
d=json.loads(sys.stdin.buffer.read().decode('utf-8'))
assert ($2), d" <"$tmp/out" >"$tmp/py" 2>&1
	r=$?
	[ $r = 0 ] || tail -3 "$tmp/py" | sed 's/^/#   /'
	t $r "$1"
}
unset SPATTEN_BACKEND
hdr=iteration_id,layer_id,head_id,embedding_length_D,sentence_length_L,key_fetch_num,quant_key_bit,quant_query_bit,auto_requant_thres,if_requant,auto_requant_incre,value_fetch_num,quant_value_bit,if_accumulate_importance,if_rescale_previous_importance,if_topk,topk

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
# The model as getopt reads it: every spelling it accepts selects it.
for m in "-mbert-base" "-m bert-base" "--model=bert-base" "--mod bert-base" \
	"--mode=bert-base" "--model gpt2-small -mbert-base"; do
	# shellcheck disable=SC2086
	expect 0 "spatten-run $m exits 0" \
		"$bin/spatten-run" -b sim -p 16 --layers 1 --json $m
	pyjson "... and runs bert-base" 'd["model"] == "bert-base"'
done
experr 2 "spatten-run -mnope: unknown model, exit 2" \
	"spatten-run: unknown model 'nope'; known:
$("$bin/spatten-run" -h | sed -n '/^  -m, --model/,/^      --layers/p' | sed '1d;$d')" \
	"$bin/spatten-run" -mnope
expect 0 "spatten-run -p 010 is decimal" \
	"$bin/spatten-run" -b sim -p 010 --layers 1 --json
pyjson "... prompt 10, not octal 8" 'd["prompt"] == 10'
experr 2 "spatten-run -p 0x10 is not a number" \
	"spatten-run: bad value '0x10' for --prompt
Try 'spatten-run --help'." "$bin/spatten-run" -b sim -p 0x10
experr 2 "spatten-run --v-bits 5 exits 2" \
	"spatten-run: bad value '5' for --v-bits
Try 'spatten-run --help'." "$bin/spatten-run" -b sim --v-bits 5
"$bin/spatten-run" --help >"$tmp/out"
grep -q '^      --v-bits N        value bits: 4, 6, 8, 10, 12 or 16 (default 12)$' \
	"$tmp/out" && grep -A1 '^      --k-bits N' "$tmp/out" | grep -q '16$' &&
	grep -q '^                        with --no-progressive$' "$tmp/out"
t $? "spatten-run --help: --v-bits and --k-bits list what they accept"
expect 0 "spatten-run --k-bits 16 --no-progressive --v-bits 16 exits 0" \
	"$bin/spatten-run" -b sim -p 16 --layers 1 -q --k-bits 16 \
	--no-progressive --v-bits 16
experr 2 "spatten-run --no-progressive --threshold exits 2" \
	"spatten-run: --threshold is the LSB refetch threshold of progressive keys: it cannot be combined with --no-progressive
Try 'spatten-run --help'." "$bin/spatten-run" -b sim --no-progressive \
	--threshold 0.2
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
pyjson "... schema spatten-report/1, 12 layers, check passed" \
	'd["schema"] == "spatten-report/1" and d["tool"] == "spatten-run" and
d["kind"] == "workload" and len(d["per_layer"]) == 12 and
d["check"]["status"] == "pass"'
# 32-token prompt + 2 steps: contexts 32, 33, 34 (average 33); layer 0
# prunes nothing, so it computes 12 heads x 34 query rows.
expect 0 "spatten-run --json, prompt 32 + 2 steps" \
	"$bin/spatten-run" -b sim -p 32 -g 2 --layers 3 --json
pyjson "... per-layer figures are per-pass averages and named sums" \
	'd["passes"] == 3 and d["per_layer"][0]["context_avg"] == 33 and
d["per_layer"][0]["heads_avg"] == 12 and
d["per_layer"][0]["query_rows_sum"] == 12 * 34 and
d["per_layer"][2]["tokens_kept_avg"] < 33 and
"tokens_kept" not in d["per_layer"][0]'
expect 0 "spatten-run --no-check --json" \
	"$bin/spatten-run" -b sim -p 16 --layers 2 --no-check --json
pyjson "... check status skipped, not pass" \
	'd["check"]["status"] == "skipped" and d["check"]["max_err"] is None
and d["per_layer"][0]["max_err"] is None'
expect 0 "spatten-demo --sim --json" "$bin/spatten-demo" --sim --json
pyjson "... the same schema (tool spatten-demo)" \
	'd["schema"] == "spatten-report/1" and d["tool"] == "spatten-demo"
and d["kind"] == "workload" and d["check"]["status"] == "pass"'

# --dense: the baseline a user compares against. A dense S16 job reads
# exactly bytes_dense (the library's "dense S16 job of the same shape").
expect 0 "spatten-run --dense --json exits 0" "$bin/spatten-run" -b sim \
	-p 32 -g 2 --layers 3 --dense --json
pyjson "... no pruning, no progressive keys, S16 keys and values" \
	'd["dense"] and not d["progressive"] and d["k_bits"] == 16 and
d["v_bits"] == 16 and d["threshold"] is None and
all(l["bytes_read_sum"] == l["bytes_dense_s16_sum"] and
l["bytes_sum"]["k_lsb"] == 0 and l["tokens_kept_avg"] == l["context_avg"]
and l["heads_avg"] == 12 and l["value_keep_avg"] == 0
for l in d["per_layer"]) and d["totals"]["reduction_s16"] == 1.0'
expect 0 "spatten-run --dense table" "$bin/spatten-run" -b sim -p 16 \
	--layers 2 --dense -q
grep -q '^dense baseline: pruning off; keys static S16; V S16' "$tmp/out"
t $? "... says it is the dense baseline, S16 keys and values"
for f in "--token-keep 0.5:0.2" "--head-keep 0.5:0.5" "--value-keep 0.5" \
	"--k-bits 8" "--v-bits 12" "--threshold 0.2"; do
	o=${f%% *}
	# shellcheck disable=SC2086
	experr 2 "spatten-run --dense $f exits 2 and names $o" \
		"spatten-run: --dense is the dense baseline (no pruning, S16 keys and values): $o cannot be combined with it
Try 'spatten-run --help'." "$bin/spatten-run" -b sim --dense $f
done
expect 0 "spatten-run --dense --no-progressive (consistent) exits 0" \
	"$bin/spatten-run" -b sim -p 16 --layers 2 --dense --no-progressive -q

# the board's limits, named (the simulated board holds 131072 tokens;
# a session's cache at most 2^30)
experr 1 "spatten-run beyond the board's context says the limit" \
	"spatten-run: prompt + steps = 131800 tokens: more than the board's max context of 131072 tokens" \
	"$bin/spatten-run" -b sim -p 131000 -g 800 -q
experr 2 "spatten-run beyond a session's cache says the limit" \
	"spatten-run: prompt + steps = 1073741825 tokens: more than 1073741824 (the largest KV cache of a session; --kv-budget bounds it)" \
	"$bin/spatten-run" -b sim -p 1073741824 -g 1 -q
experr 1 "spatten-run with more heads than the board says the limit" \
	"spatten-run: 100 heads: more than the board's max of 64 heads" \
	"$bin/spatten-run" -b sim --heads 100 -p 16 -q
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

# --trace: the JSON document of spatten-replay (hand-computed figures of
# tests/replay/test_replay.c's three-row trace), plus per_job.
row="64.0,100,80,6,16,0.05"
printf '%s\n%s\n%s\n%s\n%s\n' "$hdr" \
	"0,0,0,$row,True,4,20,6,True,False,False,-1" \
	"0,0,1,$row,False,4,20,6,True,False,True,40" \
	"configs/some/config.yml,,,,,,,,,,,,,,,," \
	"0,1,0,64.0,100,40,8,-1,-1,False,-1,10,-1,False,False,False,-1" \
	>"$tmp/three.csv"
expect 0 "spatten-run --trace --json exits 0" \
	"$bin/spatten-run" --trace "$tmp/three.csv" --json
pyjson "... schema spatten-report/1, kind trace, the replay's totals" \
	'd["schema"] == "spatten-report/1" and d["tool"] == "spatten-run" and
d["kind"] == "trace" and d["rows"] == 3 and d["jobs"] == 2 and
d["skipped_lines"] == 1 and d["dram_bytes_total"] == 20368 and
d["dram_bytes_dense_fp32"] == 153600 and d["bytes"]["k_lsb"] == 2560 and
d["reduction"] == 9.6 and len(d["per_job"]) == 2 and
d["per_job"][0]["heads"] == 2 and "error" not in d'
expect 0 "spatten-run --trace (table) exits 0" \
	"$bin/spatten-run" --trace "$tmp/three.csv"
grep -qx '5 lines: 3 rows, 1 skipped (not rows)' "$tmp/out"
t $? "... and reports the skipped line, as spatten-replay does"
printf '%s\n%s\n%s\n' "$hdr" "0,0,0,$row,True,4,20,6,True,False,False,-1" \
	"1O,0,1,$row,True,4,20,6,True,False,False,-1" >"$tmp/typo.csv"
experr 1 "spatten-run --trace: a typo in iteration_id is an error, not skipped" \
	"spatten-run: $tmp/typo.csv:3: column iteration_id: '1O' is not a number" \
	"$bin/spatten-run" --trace "$tmp/typo.csv"
printf 'model,%s\n%s\n%s\n' "$hdr" \
	"gpt2,0,0,0,$row,True,4,20,6,True,False,False,-1" \
	"gpt2,0,0,1,$row,True,4,20,6,True,False,False,-1" >"$tmp/strcol.csv"
expect 0 "spatten-run --trace: a string first column" \
	"$bin/spatten-run" --trace "$tmp/strcol.csv" --json
pyjson "... every row read, none skipped" \
	'd["rows"] == 2 and d["skipped_lines"] == 0 and d["jobs"] == 1'
printf '%s\n%s\n' "$hdr" "configs/x.yml,,,,,,,,,,,,,,,," >"$tmp/cfg.csv"
experr 1 "spatten-run --trace: no rows, says how many lines were skipped" \
	"spatten-run: $tmp/cfg.csv: no rows (a header and 1 skipped line: a repeated header or a config path line)" \
	"$bin/spatten-run" --trace "$tmp/cfg.csv"
# Strings in JSON: valid UTF-8 whatever the bytes of the name or the field.
cp "$tmp/three.csv" "$tmp/weird$(printf '\377')name.csv"
expect 0 "spatten-run --trace --json, a file name with a \\xff byte" \
	"$bin/spatten-run" --trace "$tmp/weird$(printf '\377')name.csv" --json
pyjson "... is valid UTF-8 JSON, the byte as U+FFFD" \
	'd["file"].endswith("/weird\ufffdname.csv") and d["rows"] == 3'
e15=$(printf 'x'; for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15; do printf '\303\251'; done)
printf '%s\n0,0,0,%s,100,80,6,16,0.05,True,4,20,6,True,False,False,-1\n' \
	"$hdr" "$e15" >"$tmp/utf.csv"
experr 1 "spatten-run --trace: a long UTF-8 field is cut between characters" \
	"spatten-run: $tmp/utf.csv:2: column embedding_length_D: 'x$(printf '\303\251\303\251\303\251\303\251\303\251\303\251\303\251\303\251\303\251\303\251\303\251')'... is not a number" \
	"$bin/spatten-run" --trace "$tmp/utf.csv" --json
pyjson "... and its JSON error is valid UTF-8" \
	'd["error"] == "column embedding_length_D: '"'"'x" + "\u00e9" * 11 + "'"'"'... is not a number"'
printf '%s\n0,0,0,\377\376\033[2J,100,80,6,16,0.05,True,4,20,6,True,False,False,-1\n' \
	"$hdr" >"$tmp/bin.csv"
experr 1 "spatten-run --trace: non-UTF-8 and escape bytes as \\xNN" \
	"spatten-run: $tmp/bin.csv:2: column embedding_length_D: '\xff\xfe\x1b[2J' is not a number" \
	"$bin/spatten-run" --trace "$tmp/bin.csv" --json
pyjson "... the same message in valid JSON" \
	'd["error"] == "column embedding_length_D: '"'"'\\xff\\xfe\\x1b[2J'"'"' is not a number"'
experr 2 "spatten-run --trace with a workload option exits 2 and names it" \
	"spatten-run: --trace replays a trace: --dense does not apply to it
Try 'spatten-run --help'." "$bin/spatten-run" --trace "$tmp/three.csv" --dense
experr 2 "spatten-run --trace --model eighth: --model does not apply (not 'unknown model')" \
	"spatten-run: --trace replays a trace: --model does not apply to it
Try 'spatten-run --help'." "$bin/spatten-run" --trace "$tmp/three.csv" \
	--model eighth
experr 1 "spatten-run --trace: control bytes of a file name as \\xNN" \
	"spatten-run: $tmp/a\x1b[2J\x0db\xff.csv: No such file or directory" \
	"$bin/spatten-run" --trace "$tmp/a$(printf '\033[2J\r')b$(printf '\377').csv"
experr 1 "spatten-run --trace DIR: Is a directory" \
	"spatten-run: $tmp: Is a directory" "$bin/spatten-run" --trace "$tmp"
experr 1 "spatten-run --trace /dev/zero: a NUL byte, at once" \
	"spatten-run: /dev/zero:1: NUL byte at byte 1 of the line: not a text trace" \
	"$bin/spatten-run" --trace /dev/zero
printf '%s\n0,0,0,64\0.0,100\n' "$hdr" >"$tmp/nul.csv"
experr 1 "spatten-run --trace: a NUL in a number is a NUL byte" \
	"spatten-run: $tmp/nul.csv:2: NUL byte at byte 9 of the line: not a text trace" \
	"$bin/spatten-run" --trace "$tmp/nul.csv"
printf '%s\n' "$hdr" >"$tmp/hdr.csv"
experr 1 "spatten-run --trace: a header alone has no rows" \
	"spatten-run: $tmp/hdr.csv: no rows (a header but no data lines)" \
	"$bin/spatten-run" --trace "$tmp/hdr.csv"
printf '%s\n%s\n%s\n' "$hdr" "0,0,0,$row,True,4,20,6,True,False,False,-1" \
	"0,0,0,$row,True,4,20,6,True,False,False,-1" >"$tmp/rep.csv"
experr 1 "spatten-run --trace: a head repeated within a layer" \
	"spatten-run: $tmp/rep.csv:3: iteration 0 layer 0: head 0 appears twice" \
	"$bin/spatten-run" --trace "$tmp/rep.csv"
printf '%s\n%s\n%s\n' "$hdr" "0,1,0,$row,True,4,20,6,True,False,False,-1" \
	"0,0,0,$row,True,4,20,6,True,False,False,-1" >"$tmp/ord.csv"
experr 1 "spatten-run --trace: layers out of order" \
	"spatten-run: $tmp/ord.csv:3: iteration 0: layer 0 after layer 1: layers out of order" \
	"$bin/spatten-run" --trace "$tmp/ord.csv"
printf '%s\n%s\n' "$hdr" "0,0,0,$row,True,4,20,6,True,False,False,-1,9" \
	>"$tmp/extra.csv"
experr 1 "spatten-run --trace: a row with an extra field" \
	"spatten-run: $tmp/extra.csv:2: 18 fields, expected 17 (as many as the header)" \
	"$bin/spatten-run" --trace "$tmp/extra.csv"
printf '%s\n%s\n%s\n%s\n' "$hdr" "0,0,0,$row,True,4,20,6,True,False,False,-1" \
	"0,1,0,$row,True,4,20,6,True,False,False,-1" \
	"0,0,0,$row,True,4,20,6,True,False,False,-1" >"$tmp/late.csv"
experr 1 "spatten-run --trace --json cut short by an error exits 1" \
	"spatten-run: $tmp/late.csv:4: iteration 0: layer 0 after layer 1: layers out of order" \
	"$bin/spatten-run" --trace "$tmp/late.csv" --json
pyjson "... its document has the job before the error, then \"error\"" \
	'd["error"] == "iteration 0: layer 0 after layer 1: layers out of order"
and len(d["per_job"]) == 1 and "rows" not in d'
experr 1 "spatten-run --trace --json failing on the first row exits 1" \
	"spatten-run: $tmp/rep.csv:3: iteration 0 layer 0: head 0 appears twice" \
	"$bin/spatten-run" --trace "$tmp/rep.csv" --json
pyjson "... still one document, no job, the error" \
	'd["error"] == "iteration 0 layer 0: head 0 appears twice" and
d["per_job"] == [] and d["schema"] == "spatten-report/1"'
# Output that cannot be written is a failure, said on stderr.
full() {	# full NAME CMD...: stdout to /dev/full: exit 1, the message
	name=$1
	shift
	"$@" >/dev/full 2>"$tmp/err"
	got=$?
	p=${1##*/}
	printf '%s: stdout: No space left on device\n' "$p" >"$tmp/want"
	if [ "$got" = 1 ] && tail -1 "$tmp/err" | cmp -s - "$tmp/want"; then
		t 0 "$name"
	else
		echo "# exit $got (want 1), stderr:"
		sed 's/^/#   /' "$tmp/err" | tail -3
		t 1 "$name"
	fi
}
full "spatten-run --trace FILE > /dev/full exits 1" \
	"$bin/spatten-run" --trace "$tmp/three.csv"
full "spatten-run --trace FILE --json > /dev/full exits 1" \
	"$bin/spatten-run" --trace "$tmp/three.csv" --json
full "spatten-run -b sim --json > /dev/full exits 1" \
	"$bin/spatten-run" -b sim -p 16 --layers 2 --json
full "spatten-run -b sim > /dev/full exits 1" \
	"$bin/spatten-run" -b sim -p 16 --layers 2 -q
full "spatten-run --help > /dev/full exits 1" "$bin/spatten-run" --help
full "spatten-demo --sim --json > /dev/full exits 1" \
	"$bin/spatten-demo" --sim --json
full "spatten-demo --help > /dev/full exits 1" "$bin/spatten-demo" --help
expect 0 "spatten-demo --sim exits 0 (within tolerance)" \
	"$bin/spatten-demo" --sim
expect 1 "spatten-demo without a device exits 1" \
	env SPATTEN_BACKEND=device "$bin/spatten-demo"
# A SpAtten board on the PCI bus, with or without the driver.
has_board() {
	for d in /sys/bus/pci/devices/*; do
		[ "$(cat "$d/vendor" 2>/dev/null)" = 0x1af4 ] &&
		[ "$(cat "$d/device" 2>/dev/null)" = 0x10f3 ] && return 0
	done
	return 1
}
if ! has_board; then
	experr 1 "spatten-demo without a board suggests its own flag, --sim" \
		"spatten-demo: no SpAtten device (no board found on the PCI bus either; --sim runs the simulation)" \
		env SPATTEN_BACKEND=device "$bin/spatten-demo"
	experr 1 "spatten-run without a board suggests --backend sim" \
		"spatten-run: $tmp/accel9: no SpAtten device (no board found on the PCI bus either; --backend sim runs the simulation)" \
		"$bin/spatten-run" -b device -d "$tmp/accel9"
	experr 1 "spatten-run -d spatten:1 without a board: the same" \
		"spatten-run: spatten:1: no SpAtten device (no board found on the PCI bus either; --backend sim runs the simulation)" \
		"$bin/spatten-run" -b device -d spatten:1
	"$bin/spatten-demo" --sim >/dev/null 2>&1
	t $? "... and spatten-demo accepts --sim"
else
	n=$((n + 1)); echo "ok $n - spatten-demo hint # SKIP a board is here"
fi
experr 1 "spatten-run -d spatten:x names the form it expects" \
	"spatten-run: spatten:x: expected spatten:N, N the board number (0 for the first)" \
	"$bin/spatten-run" -b device -d spatten:x
experr 1 "spatten-run -d /dev/null: not a SpAtten device" \
	"spatten-run: /dev/null: not a SpAtten device" \
	"$bin/spatten-run" -b device -d /dev/null
"$bin/spatten-run" --help >"$tmp/out"
grep -q '^  -d, --device PATH     device node (/dev/accel/accelN, /dev/dri/renderDN)$' \
	"$tmp/out" &&
	grep -q '^                        or spatten:N, the N-th board (default: the first)$' \
	"$tmp/out"
t $? "spatten-run --help: -d takes a node or spatten:N"
if ! has_board; then
	got=$(rc "$bin/spatten-info")
	if grep -q "SpAtten sparse-attention accelerator" "$tmp/out"; then
		n=$((n + 1)); echo "ok $n - spatten-info # SKIP a board is here"
	else
		[ "$got" = 1 ] && grep -q "no SpAtten board" "$tmp/out" &&
			grep -q "SPATTEN_BACKEND=sim; 'spatten-info --sim'" \
				"$tmp/out"
		t $? "spatten-info with no board exits 1, says so and names the simulation"
	fi
fi
got=$(rc "$bin/spatten-info" --sim)
[ "$got" = 0 ] && grep -q "^simulation backend (libspatten" "$tmp/out" &&
	grep -q "^    max context   131072 tokens$" "$tmp/out" &&
	grep -q "^    head dims     16, 32, 64, 128, 256$" "$tmp/out"
t $? "spatten-info --sim shows the simulation backend's limits"
# SPATTEN_DEBUG=1: the library logs each refusal with its reason
got=$(SPATTEN_DEBUG=1 rc "$bin/spatten-run" -b device -d /dev/null -q)
[ "$got" = 1 ] && grep -q "^libspatten: /dev/null is not a SpAtten node (not a DRM node of the spatten driver) (Inappropriate ioctl for device)$" \
	"$tmp/out"
t $? "SPATTEN_DEBUG=1 logs the library's reason for a refused open"
# shellcheck source=lib/tests/check-tools-llm.sh
. "$(dirname "$0")/check-tools-llm.sh"
echo "1..$n"
[ $bad = 0 ]
