#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""A small decoder in plain PyTorch whose attention runs on SpAtten.

Two architectures (``--arch``):

``gpt2``
    token + learned position embeddings, pre-LayerNorm blocks, a fused qkv
    projection (``c_attn``), attention, ``c_proj``, a GELU MLP (4x), a
    final LayerNorm and an LM head tied to the token embeddings.
``llama``
    token embeddings, RMSNorm, ``q/k/v/o_proj`` with grouped-query
    attention (``--kv-heads`` below ``--heads``), RoPE applied by the board
    (keys and queries go in unrotated; the board rotates them by their slot
    in the cache), a SwiGLU MLP, a final RMSNorm and an untied LM head.

Every block's attention is a :class:`spatten.torch.SpAttenAttention`, and
one :class:`spatten.torch.SpAttenKVCache` serves the whole model: K and V
live on the board (or in the simulation), the model keeps none.  By default
the cache prunes: the paper's cascade token / head / value schedule
(``--token-keep``, ``--head-keep``, ``--value-keep``) and, for ``llama``,
the authors' bounded cache (``--kv-budget START:IMPORTANT:RECENT``);
``--no-prune`` runs dense over an unbounded cache.

Weights are random (seeded) unless ``--checkpoint`` loads a ``state_dict``
saved with ``torch.save``; ``--save-checkpoint`` writes the model's.  The
prompt is random token ids (seeded); generation is greedy.  Each step
prints the token, the tokens in the cache and attended per layer, the bytes
read against a dense S16 job and the modeled cycles; the end the tokens per
second.  ``--json`` prints one JSON document instead.

Run from the repository (``SPATTEN_LIBRARY`` names the library when it is
not installed)::

    SPATTEN_LIBRARY=$PWD/build/lib/libspatten.so.1 \\
        python3 python/examples/decoder.py --arch llama --backend sim

From Python: ``model = build_model(cfg)``, ``cache = make_cache(cfg,
...)``, ``generate(model, prompt, steps, cache)``; :class:`TorchKVCache` is
the same interface in float PyTorch (the reference the tests compare with).
"""

import argparse
import dataclasses
import json
import sys

from decoder_model import ARCHS, as_config, build_model, cache_capacity, \
    generate, load_checkpoint, make_cache, prune_schedule, \
    random_prompt, reference_cache, save_checkpoint, spatten


# ---- the command line -------------------------------------------------------

def _pair(text):
    a, _, b = text.partition(":")
    return (float(a), float(b or a))


def _budget(text):
    parts = text.split(":")
    if len(parts) != 3:
        raise argparse.ArgumentTypeError("S:I:R, e.g. 4:32:32")
    return tuple(int(p) for p in parts)


def parser():
    p = argparse.ArgumentParser(
        description="A GPT-2 or Llama decoder in plain PyTorch with its "
        "attention and KV cache on SpAtten (spatten.torch).",
        epilog="Defaults prune: gpt2 the paper's cascade (tokens 0.9:0.2, "
        "heads 1.0:0.75, values 0.2), llama a bounded cache 4:32:32 with "
        "values 0.2. SPATTEN_LIBRARY names libspatten.so.1 when it is not "
        "installed.")
    a = p.add_argument
    a("--arch", choices=ARCHS, default="gpt2")
    a("--layers", type=int, default=4)
    a("--heads", type=int, default=8)
    a("--kv-heads", type=int, default=0,
      help="K/V heads (llama; default heads/4; gpt2: the heads)")
    a("--dim", type=int, default=256,
      help="model width; head dim = dim/heads, a power of two 16..256")
    a("--vocab", type=int, default=1024)
    a("--n-positions", type=int, default=1024,
      help="gpt2's learned positions (prompt + steps must fit)")
    a("--ffn", type=int, default=0,
      help="MLP width (default gpt2 4*dim, llama about 8/3*dim)")
    a("--rope-base", type=int, default=10000, help="llama's RoPE base")
    a("--rope", choices=("board", "host"), default="board",
      help="llama: the board rotates Q and K by cache slot (default), or "
      "the model rotates them here by position")
    a("--prompt", type=int, default=128, metavar="N",
      help="random prompt of N token ids")
    a("--steps", type=int, default=32, metavar="N",
      help="tokens to generate (greedy)")
    a("--seed", type=int, default=0, help="the random weights")
    a("--prompt-seed", type=int, default=1234, help="the random prompt")
    a("--no-prune", action="store_true",
      help="dense: no schedule, an unbounded cache")
    a("--token-keep", type=_pair, metavar="A:B",
      help="token keep ratios of the paper's schedule, first pruned "
      "layer to last")
    a("--head-keep", type=_pair, metavar="A:B", help="head keep ratios")
    a("--value-keep", type=float, metavar="R", help="V rows kept per query")
    a("--kv-budget", type=_budget, metavar="S:I:R",
      help="bounded cache: S first, I most important, R most recent tokens "
      "stay (llama default 4:32:32; gpt2 default unbounded)")
    a("--max-context", type=int, default=0, metavar="N",
      help="cache slots (bounded: default budget+1, or the prompt if "
      "longer)")
    a("--progressive", action="store_true",
      help="keys as 8 MSBs + 4 LSBs refetched when needed")
    a("--checkpoint", metavar="FILE", help="load a torch.save'd state_dict")
    a("--save-checkpoint", metavar="FILE",
      help="write the model's state_dict (the random weights)")
    a("--json", action="store_true", help="one JSON document on stdout")
    a("--backend", choices=("sim", "device"),
      help="default: $SPATTEN_BACKEND, else the device")
    a("--reference", action="store_true",
      help="plain PyTorch float attention and KV cache instead of SpAtten "
      "(dense)")
    return p


def _fmt_bytes(n):
    return "%.1fK" % (n / 1024.0) if n < 1 << 20 else "%.2fM" % (n / 2.0**20)


def _step_printer(layers):
    """A table row per step: its header printed, the row function."""
    width = max(len("attended/layer"), 5 * layers)
    print("%5s %6s %6s  %-*s %9s %9s %5s %9s" % (
        "step", "token", "cache", width, "attended/layer", "read", "dense",
        "ratio", "cycles"))

    def row(rec):
        kept = " ".join("%d" % k for k in rec["kept"])
        if rec["bytes_read"] is None:           # the float reference
            print("%5d %6d %6d  %s" % (rec["step"], rec["token"],
                                       rec["cache"], kept), flush=True)
            return
        print("%5d %6d %6d  %-*s %9s %9s %5.2f %9d" % (
            rec["step"], rec["token"], rec["cache"], width, kept,
            _fmt_bytes(rec["bytes_read"]), _fmt_bytes(rec["bytes_dense"]),
            rec["bytes_read"] / max(1, rec["bytes_dense"]), rec["cycles"]),
            flush=True)
    return row


def main(argv=None):
    p = parser()
    args = p.parse_args(argv)
    try:
        cfg = as_config(args)
        if args.prompt < 1 or args.steps < 1:
            raise ValueError("--prompt and --steps must be at least 1")
        if cfg.arch == "gpt2" and args.prompt + args.steps > cfg.n_positions:
            raise ValueError("prompt + steps = %d: more than the %d learned "
                             "positions (--n-positions)"
                             % (args.prompt + args.steps, cfg.n_positions))
        if args.progressive and args.no_prune:
            raise ValueError("--progressive prunes key bits: not with "
                             "--no-prune (the dense S16 baseline)")
        if args.reference:
            cfg = dataclasses.replace(cfg, prune=False)
        capacity = cache_capacity(cfg, args.prompt, args.steps)
        model = build_model(cfg)
        if args.checkpoint:
            load_checkpoint(model, args.checkpoint)
    except ValueError as e:             # CheckpointError included
        p.exit(2, "%s: error: %s\n" % (p.prog, e))
    if args.save_checkpoint:
        save_checkpoint(model, args.save_checkpoint)
    prompt = random_prompt(cfg, args.prompt, args.prompt_seed)
    try:
        cache = (reference_cache(cfg) if args.reference
                 else make_cache(cfg, args.prompt, args.steps))
    except spatten.SpattenError as e:      # no board, among others
        p.exit(1, "%s: %s\n" % (p.prog, e))
    params = sum(t.numel() for t in model.parameters())
    schedule = prune_schedule(cfg) if not args.reference else None
    if not args.json:
        what = ("float PyTorch attention (reference)" if args.reference else
                "SpAtten %s, %s" % (
                    "dense" if not cfg.prune else "pruned",
                    "bounded cache %d:%d:%d of %d slots" %
                    (cfg.kv_budget + (capacity,)) if cfg.kv_budget and
                    cfg.prune else "unbounded cache of %d slots" % capacity))
        print("%s: %d layers x %d heads (%d KV) x %d, dim %d, vocab %d, "
              "%.1fM parameters; %s" % (
                  cfg.arch, cfg.layers, cfg.heads, cfg.kv_heads,
                  cfg.head_dim, cfg.dim, cfg.vocab, params / 1e6, what))
        if schedule is not None:
            print("schedule: tokens %s, heads %s, values %s" % tuple(
                " ".join("%.2f" % r for r in getattr(schedule, n))
                for n in ("tok_keep", "head_keep", "value_keep")))
        print("prompt: %d random tokens, %d steps (step 0 is the prompt's "
              "pass)" % (args.prompt, args.steps))
    try:
        res = generate(model, prompt, args.steps, cache,
                       on_step=None if args.json
                       else _step_printer(cfg.layers))
    except spatten.SpattenError as e:
        p.exit(1, "%s: %s\n" % (p.prog, e))
    recs = res["steps"]
    total = {}
    if not args.reference:
        total = {k: sum(r[k] for r in recs[1:]) for k in
                 ("bytes_read", "bytes_dense", "cycles")}
    if args.json:
        doc = {"config": dataclasses.asdict(cfg), "capacity": capacity,
               "parameters": params, "reference": args.reference,
               "schedule": None if schedule is None else {
                   "tok_keep": schedule.tok_keep,
                   "head_keep": schedule.head_keep,
                   "value_keep": schedule.value_keep},
               "prompt": prompt, "tokens": res["tokens"], "steps": recs,
               "seconds": res["seconds"],
               "prefill_seconds": res["prefill_seconds"],
               "tokens_per_second": res["tokens_per_second"],
               "decode_tokens_per_second": res["decode_tokens_per_second"],
               "decode_totals": total}
        json.dump(doc, sys.stdout)
        sys.stdout.write("\n")
    else:
        if total:
            print("decode steps: read %s of %s dense (%.2f), %d cycles "
                  "modeled" % (_fmt_bytes(total["bytes_read"]),
                               _fmt_bytes(total["bytes_dense"]),
                               total["bytes_read"] /
                               max(1, total["bytes_dense"]),
                               total["cycles"]))
        dec = res["decode_tokens_per_second"]
        print("%d tokens in %.3f s: %.1f tokens/s (prompt pass %.3f s%s; "
              "wall clock of the model's passes, attention included)" % (
                  args.steps, res["seconds"], res["tokens_per_second"],
                  res["prefill_seconds"],
                  ", then %.1f tokens/s" % dec if dec else ""))
    cache.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
