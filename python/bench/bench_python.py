#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The Python figures, on the simulation backend:

(a) the overhead of the Python call over the C call for a GPT-2-small
    decode step: 12 layers x 12 heads x 64, a 128-token prompt, then one
    token per step through every layer, timed per step in C
    (c_decode.c: spatten_session_attend) and in Python
    (spatten.Session.attend on preallocated numpy arrays and torch tensors,
    and spatten.torch.SpAttenKVCache.attention, the module's path), dense
    and with lib/README.md's pruning; the same synthetic inputs on both
    sides (their last outputs are compared bit for bit).  The C program and
    the Python runs alternate, round after round, in this one run; the
    figures are medians.  The simulation runs the attention itself in this
    process, so the per-step time includes the engine's: the ratio is
    Python / C of the whole step, the difference the Python overhead.
(b) tokens per second of the example decoder (python/examples/decoder.py,
    gpt2 architecture at GPT-2-small's shape: 12 layers x 768, 12 heads,
    vocab 50257, random weights) generating after a prompt of several
    hundred tokens, with SpAtten's pruning (its default cascade schedule)
    and without (--no-prune), alternated, medians; with the share of the
    time spent in the attention calls.

    SPATTEN_LIBRARY=$PWD/build/lib/libspatten.so.1 \\
        /usr/bin/python3 python/bench/bench_python.py [--quick] [--json]

(``make python-bench`` sets the environment.)  The C program is built with
gcc against lib/ and include/ and the library SPATTEN_LIBRARY names.
"""

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.environ.get("SPATTEN_TOP") or os.path.abspath(
    os.path.join(HERE, "..", ".."))
try:
    import spatten
except ImportError:                     # run from the source tree
    sys.path.insert(0, os.path.join(HERE, ".."))
    import spatten
sys.path.insert(0, os.path.join(HERE, "..", "examples"))
import torch                                            # noqa: E402
from spatten.torch import SpAttenKVCache                # noqa: E402
import decoder_model as decoder                         # noqa: E402

L, H, D = 12, 12, 64                    # GPT-2-small's attention
PRUNE = dict(token=(0.9, 0.1), head=(1.0, 0.75), value_keep=0.2)


# ---- (a) the call overhead --------------------------------------------------

def synth(n, salt):
    """c_decode.c's synth() of elements 0..n-1: the same floats."""
    i = np.arange(n, dtype=np.uint32)
    with np.errstate(over="ignore"):
        x = i * np.uint32(0x9e3779b9) + np.uint32(
            (salt * 0x85ebca6b + 1) & 0xffffffff)
        x ^= x >> np.uint32(16)
        x *= np.uint32(0x7feb352d)
        x ^= x >> np.uint32(15)
        x *= np.uint32(0x846ca68b)
        x ^= x >> np.uint32(16)
    return ((x >> np.uint32(8)).astype(np.float32) * np.float32(2.0 ** -23)
            - np.float32(1.0))


def library_path():
    lib = os.environ.get("SPATTEN_LIBRARY")
    if lib:
        return os.path.abspath(lib)
    guess = os.path.join(TOP, "build", "lib", "libspatten.so.1")
    return guess if os.path.exists(guess) else None


def build_c(tmp):
    """c_decode.c compiled against the repository's headers and the
    library; None (and why) when it cannot be."""
    lib = library_path()
    if shutil.which("gcc") is None:
        return None, "no gcc"
    if lib is None:
        return None, "no library: set SPATTEN_LIBRARY"
    exe = os.path.join(tmp, "c_decode")
    p = subprocess.run(
        ["gcc", "-O2", "-std=gnu11", "-Wall", "-Wextra",
         "-I" + os.path.join(TOP, "lib"), "-I" + os.path.join(TOP, "include"),
         os.path.join(HERE, "c_decode.c"), lib,
         "-Wl,-rpath," + os.path.dirname(lib), "-o", exe],
        capture_output=True, text=True)
    if p.returncode:
        return None, "gcc failed: " + p.stderr.strip()
    return exe, None


class Inputs:
    """The prompt's and one token's Q, K, V per layer, as c_decode.c makes
    them, in numpy and torch (sharing memory), with outputs."""

    def __init__(self, prompt):
        n_p, n_1 = L * H * prompt * D, L * H * D
        shape_p, shape_1 = (L, H, prompt, D), (L, H, 1, D)
        self.qp, self.kp, self.vp = (synth(n_p, s).reshape(shape_p)
                                     for s in (1, 2, 3))
        self.q1, self.k1, self.v1 = (synth(n_1, s).reshape(shape_1)
                                     for s in (4, 5, 6))
        self.outp = np.empty(shape_p, np.float32)
        self.out1 = np.empty(shape_1, np.float32)
        self.prompt = prompt

    def per_layer(self, kind):
        """Lists of per-layer arrays (made once: preallocated)."""
        names = ("qp", "kp", "vp", "outp", "q1", "k1", "v1", "out1")
        arrs = [getattr(self, n) for n in names]
        if kind != "numpy":
            arrs = [torch.from_numpy(a) for a in arrs]
        if kind == "kvcache":               # (batch 1, H, T, D)
            return [[a[i:i + 1] for i in range(L)] for a in arrs]
        return [[a[i] for i in range(L)] for a in arrs]


def schedule(prune):
    return spatten.Schedule.paper(L, **PRUNE) if prune else None


def py_run(dev, inp, kind, prune, steps, warmup):
    """Per-step seconds of ``steps`` decode steps after the prompt and
    ``warmup`` untimed ones; the last step's outputs (L, H, 1, D)."""
    qp, kp, vp, outp, q1, k1, v1, out1 = inp.per_layer(kind)
    ctx = inp.prompt + warmup + steps
    times = []
    perf = time.perf_counter
    if kind == "kvcache":
        cache = SpAttenKVCache(0, 0, 0, n_layers=L, max_context=ctx,
                               schedule=schedule(prune), progressive=prune,
                               device=dev)
        outs = [None] * L               # the module allocates outputs
        with torch.no_grad():
            for i in range(L):
                cache.attention(i, qp[i], kp[i], vp[i])
            for t in range(warmup + steps):
                t0 = perf()
                for i in range(L):
                    outs[i] = cache.attention(i, q1[i], k1[i], v1[i])
                dt = perf() - t0
                if t >= warmup:
                    times.append(dt)
        cache.close()
        return times, torch.cat(outs).numpy()
    s = spatten.Session(dev, kind="decoder", n_layers=L, n_heads=H,
                        head_dim=D, max_context=ctx,
                        schedule=schedule(prune), progressive=prune,
                        k_bits=8 if prune else 16)
    for i in range(L):
        s.attend(i, qp[i], kp[i], vp[i], outp[i])
    attend = s.attend
    for t in range(warmup + steps):
        t0 = perf()
        for i in range(L):
            attend(i, q1[i], k1[i], v1[i], out1[i])
        dt = perf() - t0
        if t >= warmup:
            times.append(dt)
    s.close()
    return times, inp.out1.copy()


def c_run(exe, inp, prune, steps, warmup, dump):
    args = [exe, "--layers", str(L), "--heads", str(H), "--head-dim", str(D),
            "--prompt", str(inp.prompt), "--steps", str(steps), "--warmup",
            str(warmup), "--dump", dump] + (["--prune"] if prune else [])
    p = subprocess.run(args, capture_output=True, text=True, timeout=300)
    if p.returncode:
        raise RuntimeError("c_decode failed: " + p.stderr.strip())
    doc = json.loads(p.stdout)
    last = np.fromfile(dump, np.float32).reshape(L, H, 1, D)
    return [us / 1e6 for us in doc["step_us"]], last


def figure_a(dev, exe, rounds, steps, warmup, prompt, log):
    inp = Inputs(prompt)
    kinds = ["c", "numpy", "torch", "kvcache"]
    res = {}
    with tempfile.TemporaryDirectory() as tmp:
        dump = os.path.join(tmp, "out.f32")
        for prune in (False, True):
            med = {k: [] for k in kinds}
            identical = {k: True for k in kinds[1:]}
            for r in range(rounds):
                # alternate who goes first, round by round
                order = kinds if r % 2 == 0 else kinds[::-1]
                outs = {}
                for k in order:
                    if k == "c":
                        t, outs[k] = c_run(exe, inp, prune, steps, warmup,
                                           dump)
                    else:
                        t, outs[k] = py_run(dev, inp, k, prune, steps,
                                            warmup)
                    med[k].append(statistics.median(t))
                for k in kinds[1:]:
                    identical[k] &= bool(np.array_equal(
                        outs[k].view(np.uint32), outs["c"].view(np.uint32)))
            name = "pruned" if prune else "dense"
            c = statistics.median(med["c"])
            row = {"c_us": c * 1e6, "rounds": rounds, "steps": steps,
                   "c_us_rounds": [x * 1e6 for x in med["c"]]}
            for k in kinds[1:]:
                pk = statistics.median(med[k])
                ratios = [a / b for a, b in zip(med[k], med["c"])]
                diffs = [a - b for a, b in zip(med[k], med["c"])]
                row[k] = {"us": pk * 1e6,
                          "ratio": statistics.median(ratios),
                          "overhead_us": statistics.median(diffs) * 1e6,
                          "overhead_us_per_call":
                              statistics.median(diffs) * 1e6 / L,
                          "us_rounds": [x * 1e6 for x in med[k]],
                          "outputs_identical": identical[k]}
            res[name] = row
            log("  %s: done" % name)
    return {"shape": {"layers": L, "heads": H, "head_dim": D,
                      "prompt": prompt, "warmup": warmup,
                      "context": [prompt + warmup + 1,
                                  prompt + warmup + steps]},
            "pruning": dict(PRUNE, progressive="8 MSBs + 4 LSBs"),
            "configs": res}


# ---- (b) tokens per second of the example --------------------------------

class TimedCache(decoder.CacheProxy):
    """A cache whose attention calls are timed (the share of the step)."""

    def __init__(self, cache):
        super().__init__(cache)
        self.seconds = 0.0

    def attention(self, layer, q, k, v):
        t0 = time.perf_counter()
        out = self.cache.attention(layer, q, k, v)
        self.seconds += time.perf_counter() - t0
        return out


def figure_b(dev, rounds, shape, prompt_len, steps, log):
    cfg = decoder.Config(arch="gpt2", seed=0, **shape)
    model = decoder.build_model(cfg)
    prompt = decoder.random_prompt(cfg, prompt_len)
    variants = {"pruned": cfg,
                "dense": decoder.Config(arch="gpt2", seed=0, prune=False,
                                        **shape)}
    runs = {k: [] for k in variants}
    for r in range(rounds):
        order = list(variants) if r % 2 == 0 else list(variants)[::-1]
        for name in order:
            c = variants[name]
            cache = TimedCache(decoder.make_cache(c, prompt_len, steps,
                                                  device=dev))
            at_prefill = []
            t0 = time.perf_counter()
            res = decoder.generate(
                model, prompt, steps, cache,
                on_step=lambda rec: rec["step"] or at_prefill.append(
                    cache.seconds))
            wall = time.perf_counter() - t0
            decode_s = res["seconds"] - res["prefill_seconds"]
            attn_s = cache.seconds - at_prefill[0]
            recs = res["steps"][1:]
            runs[name].append({
                "decode_tokens_per_second": res["decode_tokens_per_second"],
                "tokens_per_second": res["tokens_per_second"],
                "prefill_seconds": res["prefill_seconds"],
                "wall_seconds": wall,
                "attention_share": attn_s / decode_s,
                "attention_ms_per_token": attn_s / len(recs) * 1e3,
                "kept_last": res["steps"][-1]["kept"],
                "bytes_ratio": sum(x["bytes_read"] for x in recs) /
                sum(x["bytes_dense"] for x in recs),
                "cycles_per_step": sum(x["cycles"] for x in recs) /
                len(recs), "decode_seconds": decode_s})
            cache.cache.close()
        log("  round %d of %d" % (r + 1, rounds))
    out = {}
    for name, rs in runs.items():
        out[name] = {k: statistics.median(x[k] for x in rs) for k in
                     ("decode_tokens_per_second", "tokens_per_second",
                      "prefill_seconds", "attention_share",
                      "attention_ms_per_token", "bytes_ratio",
                      "cycles_per_step")}
        out[name]["kept_last"] = rs[-1]["kept_last"]
        out[name]["decode_tokens_per_second_rounds"] = [
            x["decode_tokens_per_second"] for x in rs]
    pairs = [a["decode_tokens_per_second"] / b["decode_tokens_per_second"]
             for a, b in zip(runs["pruned"], runs["dense"])]
    whole = [a["tokens_per_second"] / b["tokens_per_second"]
             for a, b in zip(runs["pruned"], runs["dense"])]
    params = sum(p.numel() for p in model.parameters())
    return {"model": dict(shape, arch="gpt2", kv_heads=cfg.kv_heads,
                          head_dim=cfg.head_dim, parameters=params,
                          weights="random (seed 0)"),
            "prompt": prompt_len, "steps": steps, "rounds": rounds,
            "schedule": {"token": cfg.token_keep, "head": cfg.head_keep,
                         "value_keep": cfg.value_keep},
            "torch_threads": torch.get_num_threads(),
            "variants": out,
            "ratio_decode": statistics.median(pairs),
            "ratio_whole": statistics.median(whole)}


# ---- the report -------------------------------------------------------------

def machine():
    cpu = platform.processor() or "?"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return {"cpu": cpu, "cores": os.cpu_count(),
            "python": platform.python_version(), "numpy": np.__version__,
            "torch": torch.__version__, "spatten": spatten.__version__}


def report(doc):
    m = doc["machine"]
    print("SpAtten Python figures, simulation backend; %s, %d cores, "
          "Python %s, torch %s (%d thread%s)" % (
              m["cpu"], m["cores"], m["python"], m["torch"],
              doc["b"]["torch_threads"] if doc.get("b") else
              torch.get_num_threads(),
              "" if torch.get_num_threads() == 1 else "s"))
    print("Times are this machine's, under whatever else ran: compare "
          "ratios within one run.\n")
    a = doc.get("a")
    if a and "configs" in a:
        sh = a["shape"]
        print("(a) Python call over C call, GPT-2-small decode step: %d "
              "layers x %d heads x %d, prompt %d, context %d..%d; "
              "per step = %d attend calls; medians of %d rounds x %d steps"
              % (sh["layers"], sh["heads"], sh["head_dim"], sh["prompt"],
                 sh["context"][0], sh["context"][1], sh["layers"],
                 a["configs"]["dense"]["rounds"],
                 a["configs"]["dense"]["steps"]))
        print("    %-7s %-26s %9s %8s %13s %9s %s" % (
            "config", "path", "us/step", "ratio", "overhead us", "per call",
            "same bits"))
        paths = (("numpy", "Session.attend, numpy"),
                 ("torch", "Session.attend, torch"),
                 ("kvcache", "SpAttenKVCache.attention"))
        for name, row in a["configs"].items():
            print("    %-7s %-26s %9.1f" % (
                name, "C spatten_session_attend", row["c_us"]))
            for k, label in paths:
                x = row[k]
                print("    %-7s %-26s %9.1f %7.2fx %13.1f %9.2f %s" % (
                    "", label, x["us"], x["ratio"], x["overhead_us"],
                    x["overhead_us_per_call"],
                    "yes" if x["outputs_identical"] else "NO"))
        print("    (the simulation's engine runs in both: the ratio is of "
              "the whole step, the overhead the Python time on top)\n")
    elif a:
        print("(a) skipped: %s\n" % a["skipped"])
    for key, what in (("b", "GPT-2-small's shape"),
                      ("b_long", "a small model over a long context, "
                       "where attention dominates")):
        if doc.get(key):
            report_b(doc[key], key, what)


def report_b(b, key, what):
    if b:
        mo = b["model"]
        print("(%s) tokens/s of the example decoder, %s (gpt2, %d layers x "
              "%d, %d heads x %d, vocab %d, %.1fM parameters, random "
              "weights), prompt %d, %d tokens, medians of %d alternated "
              "rounds"
              % (key, what, mo["layers"], mo["dim"], mo["heads"],
                 mo["head_dim"], mo["vocab"], mo["parameters"] / 1e6,
                 b["prompt"], b["steps"], b["rounds"]))
        print("    %-7s %9s %9s %8s %14s %6s %8s  %s" % (
            "", "decode/s", "whole/s", "prefill", "attention", "bytes",
            "cycles", "attended per layer, last step"))
        for name, v in b["variants"].items():
            print("    %-7s %9.2f %9.2f %7.2fs %5.2fms %5.1f%% %6.2f %8.0f  %s"
                  % (name, v["decode_tokens_per_second"],
                     v["tokens_per_second"], v["prefill_seconds"],
                     v["attention_ms_per_token"],
                     100 * v["attention_share"], v["bytes_ratio"],
                     v["cycles_per_step"],
                     " ".join(str(k) for k in v["kept_last"])))
        print("    pruned / dense (median of the rounds' ratios): %.3fx "
              "decode tokens/s, %.3fx with the prompt's pass"
              % (b["ratio_decode"], b["ratio_whole"]))
        print("    (decode/s: tokens per second of the steps after the "
              "prompt's pass; whole/s: with it; attention: time per token in "
              "the SpAttenKVCache calls, and its share of the step; bytes: "
              "read / dense S16; cycles: the board's modeled cycles per "
              "step, 1 GHz)")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true",
                    help="fewer rounds, steps and tokens (about 15 s)")
    ap.add_argument("--json", action="store_true",
                    help="the figures as one JSON document")
    ap.add_argument("--only", choices=("a", "b"), help="one figure")
    args = ap.parse_args(argv)

    def log(msg):
        if not args.json:
            print(msg, file=sys.stderr, flush=True)

    q = args.quick
    dev = spatten.open(backend="sim")
    doc = {"machine": machine(), "quick": q}
    t0 = time.perf_counter()
    if args.only in (None, "a"):
        log("(a) C and Python decode steps...")
        with tempfile.TemporaryDirectory() as tmp:
            exe, why = build_c(tmp)
            if exe is None:
                doc["a"] = {"skipped": why}
            else:
                doc["a"] = figure_a(dev, exe, rounds=3 if q else 9,
                                    steps=32 if q else 64, warmup=8,
                                    prompt=128, log=log)
    if args.only in (None, "b"):
        log("(b) the example decoder, pruned and dense...")
        shape = dict(layers=12, heads=12, dim=768, vocab=50257,
                     n_positions=1024)
        doc["b"] = figure_b(dev, rounds=2 if q else 5, shape=shape,
                            prompt_len=256 if q else 512,
                            steps=12 if q else 48, log=log)
        log("(b_long) the example decoder over a long context...")
        long_shape = dict(layers=4, heads=4, dim=256, vocab=512,
                          n_positions=2048)
        doc["b_long"] = figure_b(dev, rounds=2 if q else 5,
                                 shape=long_shape,
                                 prompt_len=256 if q else 1536,
                                 steps=12 if q else 48, log=log)
    doc["seconds"] = time.perf_counter() - t0
    if args.json:
        json.dump(doc, sys.stdout, indent=1)
        print()
    else:
        report(doc)
        print("\n%.0f s" % doc["seconds"])
    dev.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
