#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Run every benchmark of the stack and write the report: OUT/benchmarks.md
# and OUT/plots/*.png (gnuplot). `make bench` runs it with --out docs,
# `make bench-report-quick` with --quick --out build/bench/report-quick.
#
#   bench/report.sh [--quick] [--out DIR]
#
# Needs the programs of bench/bench.mk (bench-host-bins), the bench
# initramfs (build/bench/initramfs.cpio.gz) and the QEMU and guest kernel
# of `make setup`. --quick: tiny sizes and one repetition everywhere; it
# checks that every piece runs and the report is produced, not speed.
# Exit status: non-zero if a measurement fails or the report is incomplete
# (a missed performance target is reported, not a failure).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
. scripts/common.sh

quick=0 out=docs
while [ $# -gt 0 ]; do
	case $1 in
	--quick) quick=1 ;;
	--out) out=$2; shift ;;
	*) echo "usage: bench/report.sh [--quick] [--out DIR]" >&2; exit 2 ;;
	esac
	shift
done
q=; [ $quick = 1 ] && q=--quick
bb=build/bench
work=$bb/report-work${q:+-quick}
plots=$out/plots
workloads=${REPLAY_WORKLOADS:-../shared/workloads}
rm -rf "$work"
mkdir -p "$work" "$plots"
t_start=$(date +%s)
load0=$(cut -d' ' -f1-3 /proc/loadavg)
log() { echo "==> bench: $*" >&2; }

export OPENBLAS_NUM_THREADS=1

# ---- host ------------------------------------------------------------------
log "1. engine vs float baseline (host)"
"$bb/host-bench" engine $q "$work"
log "2. pruning and bit split (host engine)"
"$bb/host-bench" prune $q "$work"
log "2. whole-model wall time: all mechanisms vs dense (simulation backend)"
"$bb/traffic-bench" --time $q "$work"
log "5. cycle model TFLOPS"
"$bb/host-bench" tflops $q "$work"
log "7. LLM decode step: Llama-3-8B shape (host engine, cycle model, append)"
t_llm=$(date +%s)
"$bb/llm-bench" $q "$work" >"$work/llm.log"
llm_secs=$(($(date +%s) - t_llm))
log "8. Python: call overhead over C, example decoder tokens/s (simulation)"
PYTHON=${PYTHON:-/usr/bin/python3}
SPATTEN_LIBRARY=$top/build/lib/libspatten.so.1 SPATTEN_BACKEND=sim \
	"$PYTHON" python/bench/bench_python.py $q >"$work/python.txt" \
	2>"$work/python.log"
if [ $quick = 1 ]; then
	llm_ctx="4K tokens (32K and 128K in the full run, not with --quick)"
	llm_append="3 rounds x 51 single appends, the copy figure of 3"
else
	llm_ctx="4K, 32K and 128K tokens"
	llm_append="11 rounds x 201 single appends, the copy figure of 11"
fi
log "4. traffic: sessions per mechanism (simulation backend)"
"$bb/traffic-bench" $q "$work" >/dev/null
log "4. traffic: trace replay"
: >"$work/replay.jsonl"
for f in "$workloads"/*.csv; do
	[ -f "$f" ] || continue
	build/bin/spatten-replay --json "$f" >>"$work/replay.jsonl"
done
[ -s "$work/replay.jsonl" ] || { echo "bench: no trace in $workloads" >&2; exit 1; }

# ---- guest -------------------------------------------------------------------
log "3, 2, 6. guest: stack overhead, full-stack pruning, memory (QEMU TCG)"
kernel=$SPATTEN_CACHE/kernel/$(cat build/kernel-abi)/vmlinuz
tag=bench$$
append=
[ $quick = 1 ] && append="spatten_bench_args=--quick"
SPATTEN_VM_TAG=$tag SPATTEN_VM_APPEND="$append" SPATTEN_VM_TIMEOUT=1500 \
	scripts/vm-run.sh bench "$kernel" "$bb/initramfs.cpio.gz" \
	>"$work/guest.out" 2>&1 &
vm=$!
# QEMU's resident memory while the guest runs: sample its /proc status.
: >"$work/rss.txt"
qpid=
while kill -0 "$vm" 2>/dev/null; do
	if [ -z "$qpid" ]; then	# the QEMU process itself, not `timeout`
		for p in $(pgrep -f -- "guest-console-$tag.log" || true); do
			case $(readlink "/proc/$p/exe" 2>/dev/null) in
			*qemu-system-x86_64) qpid=$p ;;
			esac
		done
	fi
	if [ -n "$qpid" ] && [ -r "/proc/$qpid/status" ]; then
		awk '/^VmRSS|^VmHWM/ {printf "%s %s ", $1, $2} END {print ""}' \
			"/proc/$qpid/status" >>"$work/rss.txt" 2>/dev/null || true
	fi
	sleep 0.5
done
if ! wait "$vm"; then
	echo "bench: the guest run failed (log: $work/guest.out)" >&2
	tail -n 20 "$work/guest.out" >&2
	exit 1
fi
awk -v dir="$work" '/^@@FILE / {f = dir "/" $2; printf "" >f; next}
	/^@@END/ {close(f); f = ""; next}
	/^@@PARAMS/ {print > (dir "/guest-params.txt"); next}
	f != "" {print >>f}' "$work/guest.out"
for f in roundtrip.md qd.md qd.dat procs.md procs.dat cost.md fullstack.md \
	fullstack.dat fullsplit.md fullsplit.dat memory-guest.md; do
	[ -s "$work/$f" ] || { echo "bench: guest output lacks $f" >&2; exit 1; }
done
rss_max=$(awk '{for (i = 1; i < NF; i++) if ($i == "VmRSS:" && $(i+1) > m) m = $(i+1)} END {print m + 0}' "$work/rss.txt")
rss_med=$(awk '{for (i = 1; i < NF; i++) if ($i == "VmRSS:") print $(i+1)}' "$work/rss.txt" | sort -n |
	awk '{v[NR] = $1} END {print NR ? v[int((NR + 1) / 2)] : 0}')
hwm=$(awk '{for (i = 1; i < NF; i++) if ($i == "VmHWM:") h = $(i+1)} END {print h + 0}' "$work/rss.txt")
rss_n=$(grep -c VmRSS "$work/rss.txt" || true)

# ---- trace replay figures ------------------------------------------------------
# One JSON object per line; fields by name.
awk '
function j(key,   m) {
	if (match($0, "\"" key "\":[^,}]*")) {
		m = substr($0, RSTART + length(key) + 3, RLENGTH - length(key) - 3)
		gsub(/"/, "", m); return m
	}
	return ""
}
{
	file = j("file"); n = split(file, p, "/"); file = p[n]
	kd = j("keys_dense"); kf = j("keys_fetched"); vf = j("values_fetched")
	fp32 = j("dram_bytes_dense_fp32"); kv = j("dram_bytes_kv")
	d = fp32 / (8 * kd)
	tv = (2 * kd) / (kf + vf)
	qz = (kf + vf) * d * 4 / kv
	printf "| `%s` | %d | %d | %.2fx | %.2fx | 1.00x (none in the trace) | %.2f%% | **%.2fx** | %.2fx | %d | %d |\n",
		file, j("rows"), kv, tv, qz, 100 * j("lsb_refetch_rate"), j("reduction"),
		j("reduction_total"), j("cycles_full"), j("cycles_eighth")
	lab = file; sub(/^summary-gpt2-small-wikitext2-/, "trace ", lab); sub(/\.csv$/, "", lab)
	printf "\"%s\" %.3f 1.0 %.3f %.3f\n", lab, tv, qz, j("reduction") > (dir "/replay.dat")
}' dir="$work" "$work/replay.jsonl" >"$work/replay.md"

# ---- plots -----------------------------------------------------------------------
log "plots"
term="set terminal pngcairo size 900,540 font 'DejaVu Sans,10'"
gnuplot -e "set terminal pngcairo" 2>/dev/null || term="set terminal png size 900,540"
gp() { gnuplot -e "$term" "$@"; }

gp - <<EOF
set output '$plots/engine.png'
set title 'Engine (int16, spe\_run) vs float baseline (OpenBLAS + libmvec), 1 thread'
set style data histogram; set style histogram cluster gap 1
set style fill solid 0.8 border -1; set boxwidth 0.9
set ylabel 'GFLOP/s (median)'; set yrange [0:*]; set grid ytics
set xtics noenhanced rotate by -12 scale 0; set key top right
plot '$work/engine.dat' using 2:xtic(1) title 'baseline', '' using 3 title 'engine'
EOF

gp - <<EOF
set output '$plots/pruning.png'
set title 'Time vs token keep ratio, relative to dense (medians)'
set logscale xy; set xrange [0.015:1.1]; set yrange [0.005:30]
set xlabel 'keep ratio r'; set ylabel 'time / dense time'; set grid
set key outside right noenhanced font ',8'
plot '$work/prune.dat' index 0 using 1:2 with linespoints lw 2 title 'engine, BERT-base L=384', \
     '' index 1 using 1:2 with linespoints lw 2 title 'engine, GPT-2-small gen L=1024', \
     '' index 0 using 1:5 with linespoints dt 3 title 'engine + value pruning 0.2, BERT', \
     '' index 1 using 1:5 with linespoints dt 3 title 'engine + value pruning 0.2, GPT-2', \
     '$work/fullstack.dat' index 0 using 1:2 with linespoints dt 2 lw 2 title 'full stack (guest), BERT-base', \
     '' index 1 using 1:2 with linespoints dt 2 lw 2 title 'full stack (guest), GPT-2-small', \
     1.25*x with lines lc rgb 'black' dt 4 title 'target 1.25 r'
EOF

gp - <<EOF
set output '$plots/bitsplit.png'
set title 'Time vs progressive key split (MSB bits + 4 LSB), relative to static S16'
set xlabel 'K MSB bits (16: static S16 keys)'; set ylabel 'time / S16 dense time'
set logscale y; set grid; set key outside right noenhanced font ',8'; set xrange [3:17]
plot '$work/split.dat' index 0 using 1:2 with linespoints lw 2 title 'engine, BERT-base L=384, thr. 0.1', \
     '' index 1 using 1:2 with linespoints dt 3 title 'engine, BERT-base, no refetch', \
     '' index 2 using 1:2 with linespoints lw 2 title 'engine, GPT-2-small gen L=1024, thr. 0.1', \
     '' index 3 using 1:2 with linespoints dt 3 title 'engine, GPT-2-small, no refetch', \
     '$work/fullsplit.dat' index 0 using 1:2 with linespoints dt 2 lw 2 title 'full stack (guest), BERT-base', \
     '' index 1 using 1:2 with linespoints dt 2 lw 2 title 'full stack (guest), GPT-2-small', \
     1 with lines lc rgb 'black' dt 4 title 'S16 dense'
EOF

gp - <<EOF
set output '$plots/queue-depth.png'
set title 'NOP jobs/s vs queue depth (guest, QEMU TCG; medians over rounds)'
set logscale x 2; set logscale y; set grid; set key top left
set xlabel 'queue depth'; set ylabel 'jobs/s'
plot '$work/qd.dat' using 1:2 with linespoints lw 2 title 'device side (kernel nop\_bench)', \
     '' using 1:3 with linespoints lw 2 title 'library, one submit per job, reap', \
     '' using 1:5 with linespoints lw 1 dt 2 title 'one submit per job, wait on the oldest', \
     '' using 1:4 with linespoints lw 2 title 'library, batched submit'
EOF

gp - <<EOF
set output '$plots/processes.png'
set title 'NOP jobs/s vs processes (guest, 2 vCPUs, medians over rounds)'
set grid; set key top left; set xlabel 'processes'; set ylabel 'aggregate jobs/s'
set xtics 1; set yrange [0:*]
plot '$work/procs.dat' using 1:2 with linespoints lw 2 title 'depth 1 per process', \
     '' using 1:3 with linespoints lw 2 title 'depth 16 per process'
EOF

paste_traffic() {
	# model rows of traffic.dat, then the traces, with the paper's row
	cat "$work/traffic.dat" | grep -v '^#'
	cat "$work/replay.dat"
	echo '"paper (GPT-2 / average)" 3.8 1.1 5.1 10.0'
}
paste_traffic >"$work/traffic-all.dat"
gp - <<EOF
set output '$plots/traffic.png'
set title 'DRAM traffic reduction by mechanism (x, higher is better)'
set style data histogram; set style histogram cluster gap 1
set style fill solid 0.8 border -1; set boxwidth 0.9
set logscale y; set yrange [0.8:*]; set grid ytics
set ylabel 'reduction factor (log)'; set key top left noenhanced
set xtics noenhanced rotate by -25 scale 0 font ',8'
plot '$work/traffic-all.dat' using 2:xtic(1) title 'token + value pruning (vs same precision)', \
     '' using 3 title 'head pruning', '' using 4 title 'progressive quantization (vs fp32)', \
     '' using 5 title 'all, vs dense fp32'
EOF

gp - <<EOF
set output '$plots/tflops.png'
set title 'Modeled throughput (executed FLOPs / modeled time at 1 GHz)'
set style data histogram; set style histogram cluster gap 1
set style fill solid 0.8 border -1; set boxwidth 0.9
set ylabel 'TFLOPS'; set yrange [0:2.2]; set grid ytics; set key top right noenhanced
set xtics noenhanced rotate by -25 scale 0 font ',8'
plot '$work/tflops.dat' using 2:xtic(1) title 'full chip', '' using 3 title 'SpAtten 1/8', \
     1.61 with lines lw 2 dt 2 lc rgb 'black' title 'paper: 1.61 (BERT)', \
     0.43 with lines lw 2 dt 3 lc rgb 'red' title 'paper: 0.43 (GPT-2)'
EOF

gp - <<EOF
set output '$plots/llm-append.png'
set title 'Appending one token to a Llama-3-8B layer cache (8 KV heads x 128; 8+4-bit K, 12-bit V)'
set logscale xy; set grid; set key top left noenhanced
set xlabel 'tokens in the cache'; set ylabel 'us per appended token (median, p10..p90)'
set xtics ("4K" 4096, "32K" 32768, "128K" 131072); set xrange [2048:262144]
plot '$work/llm-append.dat' using 1:2:3:4 with yerrorlines lw 2 title 'in place (libspatten packs the new rows)', \
     '' using 1:5:6:7 with yerrorlines lw 2 title 'copy the cache, then append'
EOF

# ---- the report ---------------------------------------------------------------------
log "report"
t_end=$(date +%s)
cpu=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)
blas=$(pkg-config --modversion openblas 2>/dev/null || echo "?")
load=$(cut -d' ' -f1-3 /proc/loadavg)
params=$(cat "$work/guest-params.txt" 2>/dev/null | sed 's/^@@PARAMS //')
gitrev=$(git rev-parse --short HEAD 2>/dev/null || echo "?")
mode="full"; [ $quick = 1 ] && mode="--quick (tiny sizes, 1 repetition: checks the pipeline, the figures mean nothing)"
ratio_rt=$(grep -o 'overhead on the minimal round trip: \*\*[^*]*\*\*' "$work/roundtrip.md" | sed 's/.*\*\*\(.*\)\*\*/\1/')
quiet_rt=$(sed -n 's/.*in which no p50 reached 1 ms (quiet host): \(.*\)\.$/\1/p' "$work/roundtrip.md")
rep=$out/benchmarks.md
{
cat <<EOF
# Benchmarks of the SpAtten stack

Generated by \`make bench\` (\`bench/report.sh\`; mode: $mode) on
$(date -u +%Y-%m-%d) at commit $gitrev, in $((t_end - t_start)) s. Do not edit:
rerun the command. Host: $cpu, $(nproc) cores shared with other work
(load average at the start: $load0, at the end: $load), OpenBLAS $blas. Guest: Debian's
$(cat build/kernel-abi) kernel under QEMU 7.2 TCG (\`-smp 2 -m 1G\`, q35),
the SpAtten device with its defaults (\`timing=fast\`, 2 engines, 4 queues).

Speed is measured on a shared, noisy machine: every figure is a median,
with its spread, and every target is a **ratio of two quantities measured in
the same run**, interleaved so that they share the noise. Absolute times
(especially in the guest, which is emulated) are only context.

| # | what | target | result |
|---|---|---|---|
EOF
awk -F'|' 'NR > 2 {printf "| 1 | engine / baseline throughput, %s | >= 1.5 | %s, %s |\n", $2, $8, $9}' "$work/engine.md"
awk -F'|' 'NR > 2 {gsub(/\*/, "", $5); printf "| 2 | session wall time, all mechanisms / dense S16, GPT-2-small %s (simulation backend) | <= 0.5 (moonshot: the modeled cycles, %s) | %s, %s |\n", $2, $6, $5, $7}' "$work/walltime.md"
# progressive keys at threshold 0 against static S16 keys, per shape
awk -F'|' 'NR > 2 {
	v = $7; gsub(/\*/, "", v); split(v, a, " ")
	if ($3 ~ /S16/) { s16[$2] = a[1]; if (!($2 in o)) o[$2] = ++k; next }
	if ($4 !~ /never/) next
	r = a[1] / s16[$2]; n[$2]++; if (r <= 1.1) y[$2]++
	if (r > w[$2]) { w[$2] = r; wb[$2] = $3 }
}
END {
	for (s in o) line[o[s]] = s
	for (i = 1; i <= k; i++) { s = line[i]
		printf "| 2 | progressive keys, LSB threshold 0, time / static S16 keys, %s | <= 1.1 | %d of %d splits met (worst: %.2f at %s) |\n", s, y[s], n[s], w[s], wb[s] }
}' "$work/split.md"
# per shape: the points with 0.1 <= r < 1, met / all, and the worst ratio
summ2() {	# FILE RCOL RELCOL METCOL LABEL
	awk -F'|' -v rc="$2" -v vc="$3" -v mc="$4" -v lab="$5" '
	NR > 2 && $rc + 0 >= 0.1 && $rc + 0 < 1 {
		s = $2; n[s]++; if ($mc ~ /yes/) y[s]++
		v = $vc; gsub(/\*/, "", v); split(v, a, " ")
		if (!(s in w) || a[1] / $rc > w[s]) { w[s] = a[1] / $rc; wr[s] = $rc + 0 }
		if (!(s in o)) o[s] = ++k
	}
	END {
		for (s in o) line[o[s]] = s
		for (i = 1; i <= k; i++) { s = line[i]
			printf "| 2 | %s time / dense at 0.1 <= r < 1, %s | <= 1.25 r | %d of %d points met (worst: %.2f r at r = %.2f) |\n", lab, s, y[s], n[s], w[s], wr[s] }
	}' "$1"
}
summ2 "$work/prune.md" 3 6 9 "host engine"
summ2 "$work/fullstack.md" 3 5 8 "full-stack (guest)"
echo "| 3 | library + driver added to the minimal device round trip (p50) | <= +50% | $ratio_rt (all rounds); ${quiet_rt:-?} (quiet rounds only) |"
awk -F'|' 'NR > 2 && $2 + 0 >= 16 {gsub(/\*/, "", $5); gsub(/\*/, "", $7); gsub(/\*/, "", $9); split($5, a, " "); split($7, o, " "); split($9, b, " "); printf "| 3 | jobs/s at queue depth %d / device-side rate | >= 0.90 | %s one submit per job + reap (%s waiting on the oldest), %s batched |\n", $2, a[1], o[1], b[1]}' "$work/qd.md"
awk -F'|' '$4 ~ /all/ && $3 ~ /steps|tokens/ {gsub(/\*/, "", $6); printf "| 4 | DRAM K+V bytes, dense fp32 / all mechanisms, %s (%s) | paper: 10.0x average | %s |\n", $2, $3, $6}' "$work/traffic.md"
awk -F'|' '{gsub(/\*/, "", $9); printf "| 4 | trace replay %s, K+V reduction vs dense fp32 | paper: 10.0x average | %s |\n", $2, $9}' "$work/replay.md"
awk -F'|' 'NR > 2 && $3 ~ /dense/ {gsub(/\*/, "", $6); gsub(/\*/, "", $9); printf "| 5 | modeled TFLOPS, %s dense: full / 1/8 | paper: %s | %s / %s |\n", $2, ($2 ~ /BERT/ ? "1.61 (BERT)" : "0.43 (GPT-2)"), $6, $9}' "$work/tflops.md"
echo "| 6 | QEMU resident memory during the guest run | - | max $((rss_max / 1024)) MiB (median $((rss_med / 1024)) MiB, peak HWM $((hwm / 1024)) MiB) |"
cat "$work/llm-summary.md"
cat <<EOF

## 1. Engine vs CPU baseline (host)

The engine's dense fixed-point attention (\`spe_run()\` on a decoded v2
descriptor over host memory read in place through the zero-copy \`map\`
hook of \`struct spe_mem\`, as the simulation backend does; int16 operands
with 12 fractional bits: what the device computes, bit for bit) against the strong float baseline of
\`bench/baseline.c\`: OpenBLAS \`sgemm\` for Q K^T and P V, a softmax
vectorised with glibc's libmvec \`expf\` (\`-O3 -march=native -ffast-math\`),
single-threaded (\`OPENBLAS_NUM_THREADS=1\`). Same shapes, same operands,
one process; baseline and engine alternate in every repetition.
Command: \`build/bench/host-bench engine $q OUT\` (21 repetitions, or 3
with --quick; medians; spread = (p90 - p10) / median; the ratio column is
the median of the per-repetition ratios with its p10..p90). FLOPs: 2 L0 L1 D
per product, two products per head. Target: ratio >= 1.5.

$(cat "$work/engine.md")

![engine vs baseline](plots/engine.png)

## 2. Pruning pays off in wall time

**Host engine.** \`spe_run()\` with cascade token pruning keeping
\`token_keep = r L\` tokens (top-k on a random importance array), with and
without local value pruning (20% of the kept tokens per query), against the
dense job; every job of a shape runs once per repetition, interleaved, and
each pruned time is divided by the same repetition's dense (r = 1) time (21
repetitions; the table gives the median and p10..p90 of that ratio).
Command: \`build/bench/host-bench prune $q OUT\`. Target: time / dense
<= 1.25 r for r >= 0.1 (r < 0.1 reported, no target).

$(cat "$work/prune.md")

**Full stack (guest).** The same jobs through libspatten, the driver and the
QEMU device (\`spatten_run()\` on operands in device buffers; the device
runs the engine natively, the guest's own code is emulated): one attention
job, timed from submit to reaped completion, each ratio against the dense
job of the same repetition (${params:-see below}; min..max over repetitions).
Command: \`spatten-stack-bench\` in the guest (\`scripts/guest-init.sh\` mode
\`bench\`).

$(cat "$work/fullstack.md")

![time vs keep ratio](plots/pruning.png)

**Whole model, every mechanism at once.** What an application of the
simulation backend sees: \`spatten-run -b sim -m gpt2-small -p 992 -g 32\`
(the paper's schedule of cascade token and head pruning, value pruning,
progressive 8+4-bit keys, 12-bit values) against the same run with
\`--dense\` (static S16 keys and values, no pruning), timing the session's
calls alone (the inputs are made outside the timed region); the two
alternate after a warm-up round, 7 times (1 with --quick, on a 60 + 4
token run), and each ratio is taken within its repetition. The modeled
cycles' ratio is what the board would save. Command: \`build/bench/traffic-bench
--time $q OUT\`. Target: all / dense <= 0.5.

$(cat "$work/walltime.md")

**Bit split.** Progressive keys: the K MSB plane in S4..S12 plus the 4-bit
LSB plane, against static S16 keys (dense, no pruning), with the paper's LSB
threshold 0.1 and with threshold 0 (never refetch: the cost of the packed
MSB plane alone). Operands are random, so the largest probability of a row
is small and the refetch rate at 0.1 is high (printed); with real attention
(peaked rows) far fewer rows refetch (the authors' GPT-2 trace: 7%). Same
interleaving and repetitions as above. Target (the summary table): with
threshold 0, at most 1.1x the static S16 keys' time (the S16 row; both
columns are relative to the round's dense job).

$(cat "$work/split.md")

Full stack (guest):

$(cat "$work/fullsplit.md")

![time vs bit split](plots/bitsplit.png)

## 3. Stack overhead (guest)

Minimal round trip of a job in the same guest, three ways, interleaved in
every round (order rotated): the kernel's own NOP (debugfs
\`spatten/<PCI address>/nop_bench\`, the queue's scheduler paused: a kernel
job put straight on the ring, SQ doorbell, completion through the
interrupt and the IRQ thread, timed with ktime until the waiting writer sees
it), the raw ioctls (SUBMIT + WAIT of one NOP, no library) and the library
(\`spatten_nop_prep()\` + \`spatten_run()\`). Each figure: median over rounds
of the per-round p50 (min..max of those); the ratio is taken per round.
Parameters: ${params:-?}. Target: the library and driver add at most 50% to
the minimal round trip.

$(cat "$work/roundtrip.md")

Jobs/s at queue depth 1, 4, 16 and 64, against the device-side rate at the
same depth (\`nop_bench\` with QD NOPs in flight from the kernel):

- **one submit per job, reap** (the target row): the loop an application
  keeping QD jobs in flight writes. One \`spatten_submit()\` per job until
  QD are in flight, then one \`spatten_reap(dev, res, QD, 1, forever)\`,
  which takes whatever is done (at least one job, up to QD), and as many
  submits again;
- one submit per job, **wait on the oldest**: the same with one
  \`spatten_wait()\` per job, on the oldest (a reap per job; for reference);
- **batched**: QD jobs per \`spatten_submit()\`, then reaped with
  \`spatten_reap()\` (min QD).

Target: at QD >= 16 the stack sustains >= 90% of the device-side rate with
one submit per job.

$(cat "$work/qd.md")

![jobs/s vs queue depth](plots/queue-depth.png)

**Where the time of a job goes.** The same NOP paths at depth 1 and 16,
each measured around with the CPU time of every guest thread
(\`/proc/PID/task/TID/schedstat\`: time on a CPU, user and kernel), the
context switches (\`/proc/stat\` ctxt) and the board's interrupts
(\`/proc/interrupts\`), per job; medians of 5 interleaved repetitions (1 with
--quick) of 2 n_rt jobs at depth 1 and 2 n_qd jobs at depth 16
(${params:-?}).
"caller" is the calling process: the library and its ioctls, or
\`nop_bench\`'s writer, which allocates each NOP, puts it on the ring and
waits for it inside one \`write()\`. The guest has 2 vCPUs, so a wall time
below half the CPU time means both were busy.

$(cat "$work/cost.md")

How to read it. The library adds no work of its own: each call is one ioctl
(one SUBMIT per \`spatten_submit()\`, one REAP per \`spatten_reap()\`, which
takes every job done so far), with no allocation and no copy (the jobs go
to the kernel in place), and it times the same as the raw ioctls above.
What a job costs beyond the device-side path is kernel work that
\`nop_bench\` skips: the SUBMIT ioctl (copy-in, checks, the job and its
fences, \`drm_sched_job_init()\`/\`arm()\`/\`push_job()\`), then the
scheduler's hop to \`run_job\` (on this 6.1 guest kernel one SCHED_FIFO
kthread per queue, woken by a push to an idle entity, which preempts the
submitting thread; a work item on 6.12) and its \`free_job\`, and the
scheduler's finished fence, signalled by the IRQ thread after the
hardware fence. With one submit per job every job pays the hop, the wake-ups
and the context switches around it (the "context switches/job" column);
batching pays them once per batch. Under TCG a context switch costs the
vCPU tens of microseconds, so these, not the device, set the per-job rate:
when the depth-16 target is missed, this table is the reason, and no change
of the library can remove a wake-up it does not cause.

1 to 4 processes, each with its own device handle, NOPs at depth 1 or 16
(the reap loop above), aggregate jobs/s from a common
start to the last finish (the guest has 2 vCPUs, the device 4 queues, of
which the driver uses one per vCPU).

$(cat "$work/procs.md")

![jobs/s vs processes](plots/processes.png)

## 4. DRAM traffic

**Sessions** (\`build/bench/traffic-bench $q OUT\`): whole-model attention
through libspatten sessions on the simulation backend (the device's engine
and cycle model, bit for bit), synthetic inputs of \`tools/spatten-workload.c\`
(fixed seed), the paper's schedules as \`spatten-run\` has them (GPT-2-small:
tokens 0.9 -> 0.2, heads 1 -> 0.75, values 0.2; GPT-2-medium: tokens
0.9 -> 0.2, heads 1 -> 0.625, values 0.3; BERT: tokens 0.9 -> 0.4, heads
1 -> 0.75, no value pruning, [CLS] pinned). GPT-2 runs a 992-token prompt and
32 generated tokens (the paper's setting), BERT 384 tokens (64/60 with
--quick). One session per mechanism: dense S16 (the device's full
precision), token pruning alone, token + local value pruning, head pruning
alone, progressive quantization alone (K 6+4 bits, V 6 bits: the precision
of the authors' GPT-2 trace, threshold 0.1) and all of them. Bytes are the
K (MSB + LSB) and V bytes the device reads, like for like with dense fp32 =
2 x the dense S16 bytes. Pruning factors are against dense at the same
precision; quantization and "all" against dense fp32. For GPT-2 the
generation steps alone (what the traces cover) are the full run minus a
prompt-only run. Deterministic: one run each.

$(cat "$work/traffic.md")

**Trace replay** (\`spatten-replay --json\` on every trace of
\`../shared/workloads\`, [replay.md](replay.md)): the authors' GPT-2-small
WikiText-2 pruning decisions through the traffic and cycle models.
Token + value = fp32 rows of K and V dense over rows fetched; quantization =
fp32 bytes of the fetched rows over the bytes moved (6-bit MSBs, 4-bit LSBs
on refetch, 6-bit V).

| trace | rows | K+V bytes | token + value | quantization | heads | LSB refetch | **total K+V vs fp32** | all traffic | cycles full | cycles 1/8 |
|---|---|---|---|---|---|---|---|---|---|---|
$(cat "$work/replay.md")

Paper (section 8 of the design notes): 10.0x on average over 30 benchmarks;
token + local value pruning 3.8x on GPT-2 (1.9x over all); progressive
quantization 5.1x; head pruning 1.1x.

![traffic by mechanism](plots/traffic.png)

## 5. Modeled throughput

\`spe_cycles()\` (docs/engine.md section 9) of one layer's job, full chip
(512 B/cycle, 512 + 512 multipliers, 2 TFLOPS peak) and SpAtten_1/8 (64
B/cycle, 128 multipliers), at 1 GHz: executed FLOPs (2 D per score, scores
recomputed on refetch included, plus 2 D per prob x V row) over modeled
time, dense and with tokens 50% + 6+4-bit keys (+ values 20% on GPT-2);
"dense-equiv." counts the dense job's FLOPs instead. Deterministic.
Command: \`build/bench/host-bench tflops $q OUT\`. Paper: 1.61 TFLOPS (BERT),
0.43 (GPT-2).

$(cat "$work/tflops.md")

![modeled TFLOPS](plots/tflops.png)

## 6. Memory

| what | measured | how |
|---|---|---|
| QEMU resident memory during the guest run | max $((rss_max / 1024)) MiB, median $((rss_med / 1024)) MiB, VmHWM $((hwm / 1024)) MiB | /proc/PID/status of qemu-system-x86_64 sampled every 0.5 s ($rss_n samples) while the guest ran section 3, the full-stack jobs and these memory tests; guest RAM is 1 GiB (-m 1G), mapped on demand |
$(tail -n +3 "$work/memory-guest.md")

## 7. LLM decode step: Llama-3-8B shape (host)

One layer of a Llama-3-8B decode step: 32 query heads, 8 KV heads
(grouped-query attention: query head h reads KV head h / 4), D = 128, one
query row (generation, \`q_rows\` 1, \`q_start = kv_rows - 1\`, causal), over
a KV cache of $llm_ctx. Each job is a version-3 descriptor
(\`struct spatten_hw_desc_v3\`) decoded by \`spe_desc_decode()\` and run by
\`spe_run()\` over host memory; the cache is head-major at capacity
(\`kv_head_stride\` = capacity, \`kv_row_stride\` 1), allocated once for the
largest context, as a libspatten session holds it, and packed by libspatten
(\`spatten_pack()\`, \`spatten_pack_split()\`). The engine gets the QEMU
device's \`max-scratch-bytes\` (256 MiB); cycles are the full chip's model
(docs/engine.md section 9), SpAtten_1/8 in its own column. Operands are
uniform random in [-2, 2]. Command: \`build/bench/llm-bench $q OUT\`
($llm_secs s).

- **(a) dense fp16-equivalent**: S16 K and V (2 bytes per element, the
  bytes of fp16), nothing pruned, no importance arrays.
- **(b) the paper schedule** as the stack runs GPT-2-small (\`spatten-run\`,
  section 4): \`spatten_schedule_paper()\` over 32 layers, tokens 0.9 -> 0.2
  of the context from layer 5 on, heads 1 -> 0.75 from layer 10 on, values
  0.2 of the kept tokens wherever tokens are pruned; progressive keys, 8
  MSB + 4 LSB bits, LSB threshold 0.1; 12-bit values; token and head
  importance accumulated. Per layer: **layer 31**, the deepest (keeps 20%
  of the tokens and, per query, the V rows of 20% of those; computes the 25
  query heads layer 30 kept and keeps 24). The tokens and heads alive at
  layer l are those layer l - 1 kept (the cascade; chosen by one fixed
  random importance, so the kept sets nest). The 32-layer rows run the job
  of every layer.
- **(c) a bounded cache**: the authors' \`SpAttenKVCache\` defaults, start
  4 + important 128 + recent 128 = 260 slots, so \`kv_rows\` = 260 at every
  context (right after an eviction; until the next one the cache grows
  towards its capacity), the quantization of (b) and no further pruning,
  token importance accumulated (the eviction needs it), RoPE applied by the
  device at slot positions (\`rope_base\` 500000: the authors' "position
  shift"). (a) and (b) hold keys already rotated, as Hugging Face caches
  them.

**LSB refetches.** Random operands give flat rows (the largest probability
among thousands of keys is far below 0.1), so at the paper's threshold
nearly every row refetches its LSBs: the worst case for progressive keys.
Real attention rows are peaked (attention sinks; the authors' GPT-2 trace
refetches 7% of rows); the "no LSB refetch" rows (threshold 0) are the
other end. A real model lies between the two.

**Modeled cycles and DRAM bytes per layer** (one run of each job;
deterministic; DRAM bytes are the engine's traffic counters over every
plane: Q, K MSB, K LSB, V, output, importance arrays and lists; "dense /
this" is (a) over the row):

$(cat "$work/llm-model.md")

**32 layers**: one token's decode step through the whole model's attention;
(a) and (c) are 32 times their layer, (b) the sum of the 32 layers of the
schedule:

$(cat "$work/llm-model32.md")

How to read it. A dense GQA step at D = 128 is balanced on the full chip:
each KV head's K and V are read once for its 4 query heads, so the DRAM
cycles and the multiplier cycles are about equal (32800 and 32768 at 4K).
An LSB refetch computes a row's scores twice, so with flat rows the
unpruned layers 0-4 of (b) turn compute-bound and cost more cycles than
dense while moving fewer bytes, and the pruned layers make up for it only
in part; with confident rows (no refetch) the schedule saves cycles at
every layer. The bounded cache moves the same bytes whatever the context:
its advantage over dense grows linearly with the context.

**Host engine time** against an fp32 OpenBLAS GQA decode step (one thread,
\`OPENBLAS_NUM_THREADS=1\`; \`bench/llm-baseline.c\`, \`-O3 -march=native
-ffast-math\`, the softmax on glibc's libmvec \`expf\`) over the same
operands as floats, in the same head-major cache at capacity, two ways: per
query head an \`sgemv\` of q against its KV head's K, the softmax and an
\`sgemv\` with V (each KV head streamed 4 times); and per KV head one
\`sgemm\` of its 4 query rows against K, the softmaxes, one \`sgemm\` with V
(each KV head streamed once, as GQA decode kernels do). The engine reads
the cache in place (the zero-copy \`map\` hook, as the simulation backend).
All seven run once per repetition, interleaved; medians, spread = (p90 -
p10) / median; the ratios are the medians of the per-repetition ratios
(p10..p90). Target for the dense engine: baseline time / engine time >= 1.0.

$(cat "$work/llm-time.md")

**Peak host memory of the device process.** The engine allocates its
scratch per job in the process that runs it (the QEMU device, or the
application on the simulation backend). Each job runs once in a forked
child of the benchmark, with the operands already resident; the child's
peak resident set (VmHWM) is reset through \`/proc/self/clear_refs\` just
before \`spe_run()\` and read after it: the growth is what one job adds at
its peak. Two ways: without the \`map\` hook, as the QEMU device reads
guest memory today (every row read is copied into the scratch: one KV
head's gathered K and V, \`kv_rows x D x 2\` bytes each), and with the
zero-copy hook (rows used in place). The KV cache itself is in guest memory
(QEMU's guest RAM, not part of this growth); its size per layer and for 32
layers is given for reference (a whole model's dense cache at 128K, 16 GiB,
needs a guest that large; the benchmark guest has 1 GiB).

$(cat "$work/llm-mem.md")

**Append cost per token.** A session keeps each layer's cache at capacity
and writes only the new token's rows (\`put_rows()\` in \`lib/session_kv.c\`):
8 KV heads x 128 values, the keys through \`spatten_pack_split()\` (8 + 4
bits), the values through \`spatten_pack()\` (12 bits), here at slot n - 1
of a cache holding n tokens. Against it, the append of a framework that
concatenates: a new cache of n + 1 tokens (a \`memcpy\` of the n tokens'
rows of the three planes into a preallocated, already faulted buffer: the
copy's best case), then the same pack of the new rows. The contexts
alternate in every round; the in-place figure is the median of
$llm_append single appends per context (p10..p90). All figures are for
one layer's cache; a token goes into 32 of them. Target: the in-place cost
does not depend on the context.

$(cat "$work/llm-append.md")

![append cost vs context](plots/llm-append.png)

## 8. Python

The \`spatten\` package (docs/python.md) on the simulation backend,
\`python/bench/bench_python.py\`: (a) a GPT-2-small decode step through
\`Session.attend\` (numpy and torch inputs) and \`SpAttenKVCache\` against
the same step through the C call (\`python/bench/c_decode.c\`), the two
alternating round by round in this run; (b) tokens per second of the
example decoder (\`python/examples/decoder.py\`, random weights, PyTorch
on one thread) with SpAtten's pruning and without, alternated. The
simulation runs the attention in the process: in (a) both sides include
the engine's time, and in (b) the model's own layers (projections, MLP,
LM head) are most of a step at GPT-2-small's shape; the long-context
model shows where attention dominates.

\`\`\`
$(cat "$work/python.txt")
\`\`\`

EOF
} >"$rep"

# ---- sanity: the report is complete ------------------------------------------------------
bad=0
for p in engine pruning bitsplit queue-depth processes traffic tflops llm-append; do
	if [ ! -s "$plots/$p.png" ]; then
		echo "bench: plot $plots/$p.png missing" >&2
		bad=1
	fi
done
grep -q '^## 6. Memory' "$rep" || bad=1
grep -q '^## 7. LLM decode step' "$rep" || bad=1
grep -q '^## 8. Python' "$rep" || bad=1
grep -q 'pruned / dense' "$work/python.txt" || {
	echo "bench: the Python figures are incomplete ($work/python.log)" >&2
	bad=1
}
for f in llm-model.md llm-model32.md llm-time.md llm-mem.md llm-append.md \
	llm-append.dat llm-summary.md; do
	if [ ! -s "$work/$f" ]; then
		echo "bench: llm-bench output lacks $f" >&2
		bad=1
	fi
done
if grep -q 'nan\|inf\| ? ' "$work"/llm-*.md; then
	echo "bench: NaN/inf or a failed measurement in the LLM figures" >&2
	bad=1
fi
if grep -q 'nan\|inf' "$work/engine.md" "$work/prune.md"; then
	echo "bench: NaN/inf in the host figures" >&2
	bad=1
fi
[ $bad = 0 ] || exit 1
log "wrote $rep and $plots/*.png in $((t_end - t_start)) s"
