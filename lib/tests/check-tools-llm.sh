# SPDX-License-Identifier: MIT
#
# spatten-run's LLM options (sourced by check-tools.sh, whose helpers t,
# expect, experr and pyjson it uses): the Llama-shaped models, --kv-heads,
# --rope, --dtype, --kv-budget, --kv-capacity, --fill, --rss-at; every bad
# value exits 2 with a message naming the option; the JSON members of the
# cache; and a bounded cache's resident set stays flat once the budget is
# reached.

"$bin/spatten-run" --help >"$tmp/out"
for m in llama2-7b llama3-8b mistral-7b; do
	grep -q "^  $m " "$tmp/out"
	t $? "spatten-run --help lists $m"
done
grep -q '^  llama3-8b    32 layers x 32 heads (8 KV), D=128, decoder' "$tmp/out" &&
	grep -q 'RoPE base 500000, context 131072' "$tmp/out"
t $? "... llama3-8b with its KV heads, RoPE base and context"

# bad values: exit 2, "bad value 'X' for --option"
for a in "--kv-heads 0" "--kv-heads x" "--kv-heads 257" "--dtype f64" \
	"--dtype F16" "--kv-budget 1:2" "--kv-budget 0:0:0" \
	"--kv-budget 4:x:4" "--kv-budget 1:2:3:4" "--kv-budget 4:4:" \
	"--kv-budget 4:1073741824:4" "--kv-capacity 1" "--kv-capacity -3" \
	"--rope 1" "--rope -5" "--rope 2147483649" "--rope 1e4" \
	"--rss-at 0" "--rss-at 5,3" "--rss-at 5,5" "--rss-at 1,," \
	"--rss-at ,1" "--rss-at 1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17" \
	"--fill x" "--fill 0" "--fill 1073741825" "--prompt 1073741825"; do
	o=${a%% *} v=${a#* }
	# shellcheck disable=SC2086
	experr 2 "spatten-run $a exits 2 and names $o" \
		"spatten-run: bad value '$v' for $o
Try 'spatten-run --help'." "$bin/spatten-run" -b sim $a
done
# values that are fine alone but not together
experr 2 "spatten-run: KV heads must divide the heads" \
	"spatten-run: 3 KV heads do not divide the 32 heads (--kv-heads)" \
	"$bin/spatten-run" -b sim -m llama3-8b --kv-heads 3
experr 2 "spatten-run: --kv-heads above --heads" \
	"spatten-run: 16 KV heads do not divide the 8 heads (--kv-heads)" \
	"$bin/spatten-run" -b sim --heads 8 --kv-heads 16
experr 2 "spatten-run: --kv-budget on an encoder" \
	"spatten-run: bert-base is an encoder: --kv-budget bounds a decoder's cache" \
	"$bin/spatten-run" -b sim -m bert-base --kv-budget 4:4:4
experr 2 "spatten-run: --fill on an encoder" \
	"spatten-run: bert-base is an encoder: --fill fills a decoder's cache" \
	"$bin/spatten-run" -b sim -m bert-base --fill 100
experr 2 "spatten-run: --fill with nothing to attend" \
	"spatten-run: --fill without --steps (or a prompt): nothing would attend to the cache" \
	"$bin/spatten-run" -b sim --fill 100 -g 0
experr 2 "spatten-run: --fill counts in the session's limit" \
	"spatten-run: fill + prompt + steps = 1073741825 tokens: more than 1073741824 (the largest KV cache of a session; --kv-budget bounds it)" \
	"$bin/spatten-run" -b sim --fill 1073741824 -g 1
experr 1 "spatten-run: a layer's cache plane above the largest buffer says so" \
	"spatten-run: a layer's 12-bit KV-cache plane of 131072 slots x 6144 bytes = 768 MiB: more than the board's largest buffer (256 MiB); fewer slots (--kv-budget) or bits (--k-bits, --v-bits)" \
	"$bin/spatten-run" -b sim -m llama2-7b --layers 1 --fill 131071 -g 1
experr 2 "spatten-run: --kv-per-head without a budget" \
	"spatten-run: --kv-per-head: each KV head selects its own tokens in a bounded cache: it needs --kv-budget, and allows no cascade token pruning (--token-keep)" \
	"$bin/spatten-run" -b sim -m llama3-8b --kv-per-head
experr 2 "spatten-run: --kv-per-head with --token-keep" \
	"spatten-run: --kv-per-head: each KV head selects its own tokens in a bounded cache: it needs --kv-budget, and allows no cascade token pruning (--token-keep)" \
	"$bin/spatten-run" -b sim -m llama3-8b --kv-budget 4:4:4 --kv-per-head \
	--token-keep 0.5:0.5
experr 2 "spatten-run: --kv-capacity without --kv-budget" \
	"spatten-run: --kv-capacity is the size of a bounded cache: it needs --kv-budget" \
	"$bin/spatten-run" -b sim --kv-capacity 100
experr 2 "spatten-run: --kv-capacity not above the budget" \
	"spatten-run: --kv-capacity 12: not above the budget of 12 tokens (S+I+R)" \
	"$bin/spatten-run" -b sim -p 8 --kv-budget 4:4:4 --kv-capacity 12
experr 2 "spatten-run: --kv-capacity below the prompt" \
	"spatten-run: --kv-capacity 20: the 64-token prompt does not fit (it is one pass)" \
	"$bin/spatten-run" -b sim -p 64 --kv-budget 4:4:4 --kv-capacity 20
experr 2 "spatten-run: --rss-at beyond the run" \
	"spatten-run: --rss-at 300: beyond the run's 200 tokens" \
	"$bin/spatten-run" -b sim -p 192 -g 8 --rss-at 100,300
experr 2 "spatten-run: more tokens than 32-bit numbers" \
	"spatten-run: 4294967296 tokens: more than 4294967295 (the session's 32-bit token numbers)" \
	"$bin/spatten-run" -b sim -p 2 -g 4294967294 --kv-budget 1:1:1

# Llama shapes: GQA, RoPE, the dense schedule, checked against the reference
for m in llama2-7b llama3-8b mistral-7b; do
	expect 0 "spatten-run -m $m (1 layer, short) exits 0" \
		"$bin/spatten-run" -b sim -m $m --layers 1 -p 12 -g 2 --json
	case $m in
	llama2-7b) kv=32 base=10000 ;;
	llama3-8b) kv=8 base=500000 ;;
	*) kv=8 base=1000000 ;;
	esac
	pyjson "... $kv KV heads, RoPE $base, D 128, dense schedule, passes" \
		'd["heads"] == 32 and d["kv_heads"] == '$kv' and
d["rope_base"] == '$base' and d["head_dim"] == 128 and
d["check"]["status"] == "pass" and d["kv_budget"] is None and
all(l["tokens_kept_avg"] == l["context_avg"] and l["heads_avg"] == 32
for l in d["per_layer"])'
done
# 8 KV heads x (8-bit MSBs + 4-bit LSBs + 12-bit V) x 128 = 3072 bytes a slot
expect 0 "spatten-run -m llama3-8b --json: cache figures" \
	"$bin/spatten-run" -b sim -m llama3-8b --layers 2 -p 20 -g 3 --json
pyjson "... kv_slot_bytes 3072, peak = 23 slots x 3072 per layer" \
	'd["kv_slot_bytes"] == 3072 and d["kv_capacity"] == 23 and
d["tokens"] == 23 and all(l["context_max"] == 23 and
l["kv_cache_peak_bytes"] == 23 * 3072 and l["tokens_kept_last"] == 23 and
l["heads_last"] == 32 and l["saturations"] == {"q": 0, "k": 0, "v": 0}
for l in d["per_layer"]) and
d["totals"]["kv_cache_peak_bytes"] == 2 * 23 * 3072 and
d["totals"]["saturations"]["k"] == 0 and d["rss"] == [] and
d["check"]["rows_unchecked"] == 0'
expect 0 "spatten-run: GQA on a GPT-2 shape (--kv-heads 4), pruned" \
	"$bin/spatten-run" -b sim --layers 4 --kv-heads 4 -p 48 -g 3 --json
pyjson "... checked against the reference" \
	'd["kv_heads"] == 4 and d["heads"] == 12 and
d["check"]["status"] == "pass" and d["per_layer"][3]["tokens_kept_avg"] <
d["per_layer"][3]["context_avg"]'
expect 0 "spatten-run: --rope on a GPT-2 shape, pruned" \
	"$bin/spatten-run" -b sim --layers 4 --rope 10000 -p 48 -g 3 --json
pyjson "... checked against the reference" \
	'd["rope_base"] == 10000 and d["check"]["status"] == "pass"'
expect 0 "spatten-run: --rope 0 turns a model's RoPE off" \
	"$bin/spatten-run" -b sim -m llama3-8b --layers 1 --rope 0 -p 8 --json
pyjson "... rope_base 0" 'd["rope_base"] == 0 and d["check"]["status"] == "pass"'
expect 0 "spatten-run: --heads on a model without GQA sets the KV heads too" \
	"$bin/spatten-run" -b sim -m llama2-7b --layers 1 --heads 8 -p 8 --json
pyjson "... 8 heads, 8 KV heads" 'd["heads"] == 8 and d["kv_heads"] == 8'

# --dtype: the inputs rounded to fp16 / bf16, [tokens][heads][dim], and
# the reference from the rounded values
for ty in f16 bf16; do
	expect 0 "spatten-run --dtype $ty (llama3-8b, 2 layers)" \
		"$bin/spatten-run" -b sim -m llama3-8b --layers 2 -p 24 -g 3 \
		--dtype $ty --json
	pyjson "... dtype $ty, checked" \
		'd["dtype"] == "'$ty'" and d["check"]["status"] == "pass" and
d["check"]["rows"] == 2 * 32 * (4 + 3)'
	expect 0 "spatten-run --dtype $ty on a pruned GPT-2 shape" \
		"$bin/spatten-run" -b sim --layers 4 -p 48 -g 2 --dtype $ty --json
	pyjson "... checked" 'd["check"]["status"] == "pass"'
done

# --fill: a cache of synthetic tokens imported, then generation steps
expect 0 "spatten-run --fill 300 -g 3 (llama3-8b, 2 layers)" \
	"$bin/spatten-run" -b sim -m llama3-8b --layers 2 --fill 300 -g 3 \
	--rss-at 100,300,302 --json
pyjson "... no prompt, 3 passes over 301..303 slots, checked" \
	'd["fill"] == 300 and d["prompt"] == 0 and d["passes"] == 3 and
d["tokens"] == 303 and all(l["context_max"] == 303 and
l["context_avg"] == 302 for l in d["per_layer"]) and
d["check"]["status"] == "pass" and d["check"]["rows"] == 2 * 32 * 3 and
d["fill_seconds"] >= 0 and [(r["at"], r["tokens"]) for r in d["rss"]] ==
[(100, 300), (300, 300), (302, 302)]'
expect 0 "spatten-run --fill into a bounded cache, --dtype bf16" \
	"$bin/spatten-run" -b sim -m llama3-8b --layers 2 --heads 8 \
	--kv-heads 2 --fill 300 -g 6 --kv-budget 4:28:32 --kv-capacity 80 \
	--dtype bf16 --json
pyjson "... the cache holds at most 80 slots, checked" \
	'all(l["context_max"] <= 80 for l in d["per_layer"]) and
d["check"]["status"] == "pass" and d["check"]["rows"] == 2 * 8 * 6'
# beyond 65535 slots: the pruned layer's kept slots (32-bit
# spatten_session_alive()) are checked like the dense layer's
expect 0 "spatten-run --fill 70000: a decode step beyond 65535 slots" \
	"$bin/spatten-run" -b sim -m llama3-8b --layers 2 --heads 4 \
	--kv-heads 1 --head-dim 32 --fill 70000 -g 1 --token-keep 0.5:0.5 \
	--json
pyjson "... both layers checked, the pruned one too" \
	'd["per_layer"][0]["context_max"] == 70001 and
d["per_layer"][1]["tokens_kept_max"] == 35000 and
d["check"]["rows"] == 8 and d["check"]["rows_unchecked"] == 0 and
d["check"]["status"] == "pass"'

# A bounded cache with pruning inside it: eviction, slots renumbered,
# RoPE by slot; the reference follows the cache
expect 0 "spatten-run: --kv-budget with cascade pruning and --kv-capacity" \
	"$bin/spatten-run" -b sim -m llama3-8b --layers 2 --heads 8 \
	--kv-heads 2 --head-dim 64 -p 24 -g 80 --kv-budget 2:14:16 \
	--kv-capacity 40 --token-keep 0.7:0.5 --head-keep 0.9:0.5 \
	--value-keep 0.5 --json
pyjson "... cache of 40 slots, evicted to 32, checked" \
	'd["kv_capacity"] == 40 and d["kv_budget"] == {"start": 2,
"important": 14, "recent": 16, "tokens": 32, "per_kv_head": False} and
all(l["context_max"] == 40 for l in d["per_layer"]) and
d["per_layer"][1]["tokens_kept_max"] < 40 and
d["check"]["status"] == "pass" and d["check"]["rows"] > 0'

# Per KV head: each head's cache holds its own tokens; the reference maps
# each head's slots (spatten_session_cache_head())
expect 0 "spatten-run --kv-per-head (GQA 8/2, evicting)" \
	"$bin/spatten-run" -b sim -m llama3-8b --layers 2 --heads 8 \
	--kv-heads 2 -p 32 -g 60 --kv-budget 4:12:16 --kv-per-head \
	--head-keep 0.9:0.5 --value-keep 0.5 --json
pyjson "... per_kv_head, checked" \
	'd["kv_budget"]["per_kv_head"] is True and d["kv_capacity"] == 33 and
d["check"]["status"] == "pass" and d["check"]["rows"] > 900'

# The resident set of a long generation in a bounded cache is flat once
# the budget is reached (the tool's own VmRSS readings), and no pass keeps
# more than the budget plus the new token.
expect 0 "spatten-run: 2000 tokens in a 128-token cache, --rss-at" \
	"$bin/spatten-run" -b sim -m llama3-8b --layers 1 --heads 8 \
	--kv-heads 2 --head-dim 64 -p 16 -g 1984 --kv-budget 4:60:64 \
	--rss-at 600,2000 --json
pyjson "... RSS at 2000 tokens <= RSS at 600 + 1 MiB, kept <= 129" \
	'len(d["rss"]) == 2 and d["rss"][0]["tokens"] == 600 and
d["rss"][1]["tokens"] == 2000 and d["rss"][0]["at"] == 600 and
d["rss"][0]["vm_rss_kib"] > 0 and
d["rss"][1]["vm_rss_kib"] <= d["rss"][0]["vm_rss_kib"] + 1024 and
d["kv_capacity"] == 129 and d["tokens"] == 2000 and
all(l["tokens_kept_max"] <= 129 and l["context_max"] == 129 and
l["kv_cache_peak_bytes"] == 129 * d["kv_slot_bytes"]
for l in d["per_layer"]) and d["check"]["status"] == "pass"'
expect 0 "spatten-run --rss-at (table)" "$bin/spatten-run" -b sim \
	-m llama3-8b --layers 1 -p 8 -g 8 --kv-budget 2:2:4 --rss-at 4,10,16 -q
grep -q '^RSS at 10 tokens: [0-9.]* MiB$' "$tmp/out" &&
	grep -q '^RSS at 4 tokens: [0-9.]* MiB (read at 8)$' "$tmp/out" &&
	grep -q '^RSS at 16 tokens: ' "$tmp/out" &&
	grep -q '^KV cache: budget 2+2+4 = 8 tokens in 9 slots; peak ' "$tmp/out"
t $? "... prints the cache and the RSS lines"
