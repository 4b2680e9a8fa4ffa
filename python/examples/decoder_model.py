# SPDX-License-Identifier: MIT
"""The model of decoder.py: a GPT-2- and a Llama-architecture decoder in
plain PyTorch whose attention runs on SpAtten (``SpAttenAttention`` with
one ``SpAttenKVCache``), their configuration, checkpoints, the caches (and
a float reference cache) and greedy generation.  decoder.py is the
command line; this module is what the tests and the benchmark import."""

import dataclasses
import math
import os
import sys
import time

import torch
from torch import nn
from torch.nn import functional as F

try:
    import spatten
except ImportError:                     # run from the source tree
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(
        __file__)), ".."))
    import spatten
from spatten.torch import SpAttenAttention, SpAttenKVCache  # noqa: E402

ARCHS = ("gpt2", "llama")


# ---- configuration ----------------------------------------------------------

@dataclasses.dataclass
class Config:
    """The model's shape (what a checkpoint must match) and how it runs."""

    arch: str = "gpt2"
    layers: int = 4
    heads: int = 8
    kv_heads: int = 0           # 0: gpt2 as heads, llama heads / 4
    dim: int = 256
    vocab: int = 1024
    n_positions: int = 1024     # gpt2: the learned positions
    ffn: int = 0                # 0: gpt2 4 * dim, llama ~8/3 * dim
    rope_base: int = 10000      # llama
    rope: str = "board"         # llama: "board" rotates by slot, "host" here
    norm_eps: float = 1e-5
    seed: int = 0
    # how the attention runs
    prune: bool = True
    token_keep: tuple = None    # (start, end); None: the arch's default
    head_keep: tuple = None
    value_keep: float = None
    kv_budget: tuple = None     # (start, important, recent) or None
    max_context: int = 0        # 0: derived from the prompt and budget
    progressive: bool = False
    backend: str = None         # "sim", "device", None: $SPATTEN_BACKEND

    def __post_init__(self):
        if self.arch not in ARCHS:
            raise ValueError("arch %r: gpt2 or llama" % (self.arch,))
        if not self.kv_heads:
            self.kv_heads = (self.heads if self.arch == "gpt2"
                             else max(1, self.heads // 4))
        if not self.ffn:
            self.ffn = (4 * self.dim if self.arch == "gpt2"
                        else 64 * math.ceil(8 * self.dim / 3 / 64))
        defaults = {"gpt2": ((0.9, 0.2), (1.0, 0.75), 0.2, None),
                    "llama": ((1.0, 1.0), (1.0, 1.0), 0.2, (4, 32, 32))}
        tk, hk, vk, budget = defaults[self.arch]
        if self.token_keep is None:
            self.token_keep = tk
        if self.head_keep is None:
            self.head_keep = hk
        if self.value_keep is None:
            self.value_keep = vk
        if not self.prune:
            self.kv_budget = None           # dense: an unbounded cache
        elif self.kv_budget is None:
            self.kv_budget = budget
        self.token_keep = tuple(self.token_keep)
        self.head_keep = tuple(self.head_keep)
        if self.kv_budget is not None:
            self.kv_budget = tuple(self.kv_budget)
        self.check()

    @property
    def head_dim(self):
        return self.dim // self.heads

    def check(self):
        """Raise ValueError naming what is inconsistent."""
        for name in ("layers", "heads", "kv_heads", "dim", "vocab",
                     "n_positions", "ffn"):
            if getattr(self, name) < 1:
                raise ValueError("--%s must be at least 1"
                                 % name.replace("_", "-"))
        if self.dim % self.heads:
            raise ValueError("--dim %d is not a multiple of --heads %d"
                             % (self.dim, self.heads))
        d = self.head_dim
        if d < 16 or d > 256 or d & (d - 1):
            raise ValueError("head dim %d (--dim / --heads) must be a power "
                             "of two in 16..256" % d)
        if self.heads % self.kv_heads:
            raise ValueError("--kv-heads %d does not divide --heads %d"
                             % (self.kv_heads, self.heads))
        if self.arch == "gpt2" and self.kv_heads != self.heads:
            raise ValueError("gpt2 has no grouped-query attention: "
                             "--kv-heads must be --heads (or --arch llama)")
        if self.arch == "llama" and self.rope_base < 2:
            raise ValueError("--rope-base must be at least 2")
        if self.rope not in ("board", "host"):
            raise ValueError("--rope %r: board or host" % (self.rope,))
        if self.layers > 128:
            raise ValueError("--layers: at most 128 (a session's limit)")
        for name in ("token_keep", "head_keep"):
            for r in getattr(self, name):
                if not 0.0 < r <= 1.0:
                    raise ValueError("--%s ratio %r outside (0, 1]"
                                     % (name.replace("_", "-"), r))
        if not 0.0 < self.value_keep <= 1.0:
            raise ValueError("--value-keep %r outside (0, 1]"
                             % (self.value_keep,))
        if self.kv_budget is not None and (
                len(self.kv_budget) != 3 or min(self.kv_budget) < 0 or
                sum(self.kv_budget) == 0):
            raise ValueError("--kv-budget S:I:R: three counts, not all 0")

    def shape(self):
        """The fields a checkpoint's tensors depend on."""
        return {f: getattr(self, f) for f in
                ("arch", "layers", "heads", "kv_heads", "dim", "vocab",
                 "n_positions", "ffn")}


def as_config(x):
    """A :class:`Config` from a Config or the CLI's namespace."""
    if isinstance(x, Config):
        return x
    return Config(
        arch=x.arch, layers=x.layers, heads=x.heads, kv_heads=x.kv_heads,
        dim=x.dim, vocab=x.vocab, n_positions=x.n_positions, ffn=x.ffn,
        rope_base=x.rope_base, rope=x.rope, seed=x.seed, prune=not x.no_prune,
        token_keep=x.token_keep, head_keep=x.head_keep,
        value_keep=x.value_keep, kv_budget=x.kv_budget,
        max_context=x.max_context, progressive=x.progressive,
        backend=x.backend)


# ---- the two architectures --------------------------------------------------

class RMSNorm(nn.Module):
    def __init__(self, dim, eps):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) \
            * self.weight


class GPT2Attention(nn.Module):
    def __init__(self, cfg, layer_idx):
        super().__init__()
        self.heads, self.head_dim = cfg.heads, cfg.head_dim
        self.c_attn = nn.Linear(cfg.dim, 3 * cfg.dim)
        self.c_proj = nn.Linear(cfg.dim, cfg.dim)
        self.attn = SpAttenAttention(layer_idx)

    def forward(self, x, cache):
        B, T, C = x.shape
        # (B, T, heads, D) views of the fused projection: no copy, the
        # cache reads them in place (k_seq_dim=1)
        q, k, v = (t.view(B, T, self.heads, self.head_dim)
                   for t in self.c_attn(x).split(C, dim=2))
        y = self.attn(q, k, v, cache)
        return self.c_proj(y.reshape(B, T, C))


class GPT2Block(nn.Module):
    def __init__(self, cfg, layer_idx):
        super().__init__()
        self.ln_1 = nn.LayerNorm(cfg.dim, eps=cfg.norm_eps)
        self.attn = GPT2Attention(cfg, layer_idx)
        self.ln_2 = nn.LayerNorm(cfg.dim, eps=cfg.norm_eps)
        self.mlp = nn.Sequential()
        self.mlp.add_module("c_fc", nn.Linear(cfg.dim, cfg.ffn))
        self.mlp.add_module("act", nn.GELU(approximate="tanh"))
        self.mlp.add_module("c_proj", nn.Linear(cfg.ffn, cfg.dim))

    def forward(self, x, cache):
        x = x + self.attn(self.ln_1(x), cache)
        return x + self.mlp(self.ln_2(x))


class GPT2(nn.Module):
    """GPT-2's architecture (module names as Hugging Face's, but
    ``nn.Linear`` weights: ``(out, in)``, the transpose of its Conv1D)."""

    def __init__(self, cfg):
        super().__init__()
        self.cfg = cfg
        self.wte = nn.Embedding(cfg.vocab, cfg.dim)
        self.wpe = nn.Embedding(cfg.n_positions, cfg.dim)
        self.h = nn.ModuleList(GPT2Block(cfg, i) for i in range(cfg.layers))
        self.ln_f = nn.LayerNorm(cfg.dim, eps=cfg.norm_eps)

    def forward(self, ids, cache, last_only=True):
        """Logits of the new tokens ``ids`` (B, T), appended to ``cache``
        (only the last position's with ``last_only``)."""
        start = cache.seen_tokens
        T = ids.shape[1]
        if start + T > self.cfg.n_positions:
            raise ValueError("position %d: the model has %d positions"
                             % (start + T - 1, self.cfg.n_positions))
        pos = torch.arange(start, start + T)
        x = self.wte(ids) + self.wpe(pos)[None]
        for block in self.h:
            x = block(x, cache)
        if last_only:
            x = x[:, -1:]
        return F.linear(self.ln_f(x), self.wte.weight)     # tied head


class LlamaAttention(nn.Module):
    def __init__(self, cfg, layer_idx):
        super().__init__()
        self.heads, self.kv_heads = cfg.heads, cfg.kv_heads
        self.head_dim = D = cfg.head_dim
        self.q_proj = nn.Linear(cfg.dim, cfg.heads * D, bias=False)
        self.k_proj = nn.Linear(cfg.dim, cfg.kv_heads * D, bias=False)
        self.v_proj = nn.Linear(cfg.dim, cfg.kv_heads * D, bias=False)
        self.o_proj = nn.Linear(cfg.heads * D, cfg.dim, bias=False)
        self.attn = SpAttenAttention(layer_idx)
        self.rope_base = cfg.rope_base if cfg.rope == "host" else 0

    def forward(self, x, cache):
        B, T, _ = x.shape
        D = self.head_dim
        q = self.q_proj(x).view(B, T, self.heads, D)
        k = self.k_proj(x).view(B, T, self.kv_heads, D)
        v = self.v_proj(x).view(B, T, self.kv_heads, D)
        if self.rope_base:
            # --rope host: rotated here by sequence position, the cache
            # opened without rope_base
            pos = torch.arange(cache.seen_tokens, cache.seen_tokens + T)
            q, k = rotate(q, pos, self.rope_base), rotate(k, pos,
                                                          self.rope_base)
        # else no rotation here: the cache was opened with rope_base, so
        # the board rotates q and k by their slot (the authors' position
        # shift: a bounded cache keeps every position below its capacity)
        y = self.attn(q, k, v, cache)
        return self.o_proj(y.reshape(B, T, self.heads * D))


class LlamaMLP(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.gate_proj = nn.Linear(cfg.dim, cfg.ffn, bias=False)
        self.up_proj = nn.Linear(cfg.dim, cfg.ffn, bias=False)
        self.down_proj = nn.Linear(cfg.ffn, cfg.dim, bias=False)

    def forward(self, x):
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


class LlamaBlock(nn.Module):
    def __init__(self, cfg, layer_idx):
        super().__init__()
        self.input_layernorm = RMSNorm(cfg.dim, cfg.norm_eps)
        self.self_attn = LlamaAttention(cfg, layer_idx)
        self.post_attention_layernorm = RMSNorm(cfg.dim, cfg.norm_eps)
        self.mlp = LlamaMLP(cfg)

    def forward(self, x, cache):
        x = x + self.self_attn(self.input_layernorm(x), cache)
        return x + self.mlp(self.post_attention_layernorm(x))


class Llama(nn.Module):
    """Llama's architecture (module names as Hugging Face's)."""

    def __init__(self, cfg):
        super().__init__()
        self.cfg = cfg
        self.embed_tokens = nn.Embedding(cfg.vocab, cfg.dim)
        self.layers = nn.ModuleList(LlamaBlock(cfg, i)
                                    for i in range(cfg.layers))
        self.norm = RMSNorm(cfg.dim, cfg.norm_eps)
        self.lm_head = nn.Linear(cfg.dim, cfg.vocab, bias=False)

    def forward(self, ids, cache, last_only=True):
        x = self.embed_tokens(ids)
        for block in self.layers:
            x = block(x, cache)
        if last_only:
            x = x[:, -1:]
        return self.lm_head(self.norm(x))


def _init_std(name, shape, cfg):
    """The random weights' scale.  A projection's weights are
    N(0, 1/fan_in), so each sub-layer's output is O(1) for its normalized
    input (the branches back into the residual stream, c_proj / o_proj and
    the MLP's last, scaled by 1/sqrt(2 layers) as GPT-2 does); queries and
    keys get a gain of 1.5, so pre-softmax scores have a standard deviation
    of about 2: the attention is neither uniform (GPT-2's std 0.02 would
    make it so at these widths) nor one-hot, and importance, what pruning
    ranks by, is spread unevenly.  Llama's embeddings are N(0, 1), the
    residual stream O(1) from the start, and its untied head N(0, 1/dim)
    gives logits of unit size.  GPT-2's embeddings are its own N(0, 0.02^2)
    (positions 0.01): its head is tied to them, and larger embeddings make
    each token predict itself."""
    fan_in = shape[-1]
    std = 1.0 / math.sqrt(fan_in)
    if name.endswith(("c_attn.weight", "q_proj.weight", "k_proj.weight")):
        std *= 1.5
    if name.endswith(("attn.c_proj.weight", "mlp.c_proj.weight",
                      "o_proj.weight", "down_proj.weight")):
        std /= math.sqrt(2 * cfg.layers)
    if name.endswith("embed_tokens.weight"):
        std = 1.0
    if name.endswith("wte.weight"):
        std = 0.02
    if name.endswith("wpe.weight"):
        std = 0.01
    return std


def build_model(cfg):
    """The model of ``cfg`` (a :class:`Config` or the CLI's namespace)
    with random weights from ``cfg.seed``, in eval mode."""
    cfg = as_config(cfg)
    torch.manual_seed(cfg.seed)             # nn.Module's own init, if any
    model = (GPT2 if cfg.arch == "gpt2" else Llama)(cfg)
    gen = torch.Generator().manual_seed(cfg.seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("bias"):
                p.zero_()
            elif p.dim() == 1:              # LayerNorm / RMSNorm gains
                p.fill_(1.0)
            else:
                p.copy_(torch.randn(p.shape, generator=gen) *
                        _init_std(name, p.shape, cfg))
    return model.eval()


# ---- checkpoints ------------------------------------------------------------

class CheckpointError(ValueError):
    """A checkpoint that does not fit the model's configuration."""


def load_checkpoint(model, path):
    """Load a ``state_dict`` written by ``torch.save`` (or
    ``--save-checkpoint``) into ``model``; :class:`CheckpointError` says
    what does not match."""
    try:
        sd = torch.load(path, map_location="cpu")
    except Exception as e:          # unpickling errors come in many types
        raise CheckpointError("checkpoint %s: cannot be read: %s" % (path, e))
    if isinstance(sd, dict) and "state_dict" in sd and \
            isinstance(sd["state_dict"], dict):
        sd = sd["state_dict"]
    if not isinstance(sd, dict) or not all(
            isinstance(v, torch.Tensor) for v in sd.values()):
        raise CheckpointError("checkpoint %s: not a state_dict (a dict of "
                              "tensors, as torch.save(model.state_dict()) "
                              "writes)" % path)
    own = model.state_dict()
    missing = [k for k in own if k not in sd]
    unexpected = [k for k in sd if k not in own]
    shapes = ["%s: %s in the checkpoint, %s in the model"
              % (k, tuple(sd[k].shape), tuple(own[k].shape))
              for k in own if k in sd and sd[k].shape != own[k].shape]
    if missing or unexpected or shapes:
        lines = []
        for title, items in (("missing", missing),
                             ("unexpected", unexpected),
                             ("shape mismatch", shapes)):
            if items:
                more = " (and %d more)" % (len(items) - 5) \
                    if len(items) > 5 else ""
                lines.append("  %s: %s%s" % (title, ", ".join(items[:5]),
                                             more))
        raise CheckpointError(
            "checkpoint %s does not match the model (%s)%s:\n%s"
            % (path, ", ".join("%s=%s" % kv for kv in
                               model.cfg.shape().items()),
               _describe(sd), "\n".join(lines)))
    model.load_state_dict({k: v.float() for k, v in sd.items()})
    return model


def _describe(sd):
    """What the shapes of a state_dict say about its model, as far as they
    say it: ``"; the checkpoint: gpt2, 4 layers, dim 128, vocab 256"``."""
    for arch, emb, prefix in (("gpt2", "wte.weight", "h."),
                              ("llama", "embed_tokens.weight", "layers.")):
        if emb in sd and sd[emb].dim() == 2:
            layers = len({k.split(".")[1] for k in sd
                          if k.startswith(prefix)})
            return "; the checkpoint: %s, %d layers, dim %d, vocab %d" % (
                arch, layers, sd[emb].shape[1], sd[emb].shape[0])
    return ""


def save_checkpoint(model, path):
    torch.save(model.state_dict(), path)


# ---- the caches: SpAtten, and a float reference -----------------------------

def prune_schedule(cfg):
    """The cascade schedule of ``cfg`` (None when dense)."""
    if not cfg.prune:
        return None
    return spatten.Schedule.paper(cfg.layers, token=cfg.token_keep,
                                  head=cfg.head_keep,
                                  value_keep=cfg.value_keep)


def cache_capacity(cfg, prompt_len, steps):
    """The slots of the cache: every token when unbounded; with a budget,
    ``--max-context``, else the budget + 1 (every step past the budget
    evicts) or the prompt if longer (a prompt is one pass and must fit)."""
    total = prompt_len + steps
    if cfg.kv_budget is None:
        if cfg.max_context and cfg.max_context < total:
            raise ValueError("--max-context %d: an unbounded cache needs "
                             "prompt + steps = %d" % (cfg.max_context, total))
        return cfg.max_context or total
    budget = sum(cfg.kv_budget)
    n = cfg.max_context or max(budget + 1, prompt_len)
    if n <= budget or n < prompt_len:
        raise ValueError("--max-context %d must exceed the budget %d and "
                         "hold the prompt (%d)" % (n, budget, prompt_len))
    return n


def make_cache(cfg, prompt_len, steps, device=None):
    """The model's :class:`SpAttenKVCache`: pruned as ``cfg`` says, or dense
    over an unbounded cache (``prune=False``)."""
    cfg = as_config(cfg)
    if device is None:
        device = (spatten.open(backend=cfg.backend) if cfg.backend
                  else spatten.default_device())
    start, important, recent = cfg.kv_budget or (0, 0, 0)
    return SpAttenKVCache(
        start, recent, important, k_seq_dim=1, v_seq_dim=1,
        n_layers=cfg.layers,
        max_context=cache_capacity(cfg, prompt_len, steps),
        schedule=prune_schedule(cfg),
        progressive=cfg.progressive and cfg.prune,
        rope_base=board_rope(cfg), device=device)


def board_rope(cfg):
    """The cache's rope_base: llama's, unless the model rotates itself."""
    return cfg.rope_base if cfg.arch == "llama" and cfg.rope == "board" \
        else 0


def rotate(x, positions, base):
    """RoPE, "rotate half" (Hugging Face's Llama, the board's): ``x`` is
    (B, T, heads, D), ``positions`` (T,)."""
    D = x.shape[-1]
    half = D // 2
    inv = torch.tensor(base, dtype=torch.float64) ** (
        -torch.arange(half, dtype=torch.float64) * 2.0 / D)
    ang = positions.to(torch.float64)[:, None] * inv[None, :]
    c = torch.cos(ang).to(x.dtype)[None, :, None, :]
    s = torch.sin(ang).to(x.dtype)[None, :, None, :]
    x1, x2 = x[..., :half], x[..., half:]
    return torch.cat([x1 * c - x2 * s, x2 * c + x1 * s], dim=-1)


class CacheProxy:
    """A cache that passes everything to another one (``.cache``): the
    base of caches that watch the calls (timing, checking)."""

    def __init__(self, cache):
        self.cache = cache

    @property
    def seen_tokens(self):
        return self.cache.seen_tokens

    def __len__(self):
        return len(self.cache)

    def step_stats(self):
        return self.cache.step_stats()

    def attention(self, layer, q, k, v):
        return self.cache.attention(layer, q, k, v)


class TorchKVCache:
    """An ordinary KV cache with float softmax attention in plain PyTorch,
    with :class:`SpAttenKVCache`'s interface (``(B, T, heads, D)``
    tensors): the dense reference.  With ``rope_base`` it rotates queries
    and keys by position, as the board does by slot (the same thing in an
    unbounded cache)."""

    def __init__(self, n_layers, rope_base=0, dtype=torch.float32):
        self.n_layers = n_layers
        self.rope_base = rope_base
        self.dtype = dtype
        self.k = [None] * n_layers
        self.v = [None] * n_layers
        self.seen_tokens = 0

    def attention(self, layer_idx, q, k, v):
        B, T, H, D = q.shape
        G = k.shape[2]
        past = 0 if self.k[layer_idx] is None else self.k[layer_idx].shape[1]
        q, k, v = (t.to(self.dtype) for t in (q, k, v))
        if self.rope_base:
            pos = torch.arange(past, past + T)
            q, k = rotate(q, pos, self.rope_base), rotate(k, pos,
                                                          self.rope_base)
        if past:
            k = torch.cat([self.k[layer_idx], k], dim=1)
            v = torch.cat([self.v[layer_idx], v], dim=1)
        self.k[layer_idx], self.v[layer_idx] = k, v
        S = k.shape[1]
        kx = k.repeat_interleave(H // G, dim=2)
        vx = v.repeat_interleave(H // G, dim=2)
        scores = torch.einsum("bthd,bshd->bhts", q, kx) / math.sqrt(D)
        mask = torch.arange(S)[None, :] > torch.arange(past, past + T)[:, None]
        scores = scores.masked_fill(mask, float("-inf"))
        out = torch.einsum("bhts,bshd->bthd", scores.softmax(-1), vx)
        if layer_idx == 0:
            self.seen_tokens += T
        return out.float().contiguous()

    def __len__(self):
        return 0 if self.k[0] is None else self.k[0].shape[1]

    def step_stats(self, batch=0):
        n = len(self)
        return {"kept": [n] * self.n_layers, "heads": None,
                "bytes_read": None, "bytes_dense": None, "cycles": None,
                "lsb_refetches": None}

    def reset(self):
        self.k = [None] * self.n_layers
        self.v = [None] * self.n_layers
        self.seen_tokens = 0

    def close(self):
        self.reset()


def reference_cache(cfg, dtype=torch.float32):
    """The float reference cache for ``cfg``'s model."""
    cfg = as_config(cfg)
    return TorchKVCache(cfg.layers, board_rope(cfg), dtype)


# ---- generation -------------------------------------------------------------

def random_prompt(cfg, n, seed=1234):
    """``n`` random token ids below the vocabulary size, fixed by ``seed``
    (not the weights': a checkpoint and the weights it came from see the
    same prompt)."""
    gen = torch.Generator().manual_seed(seed)
    return torch.randint(cfg.vocab, (n,), generator=gen).tolist()


def generate(model, prompt, steps, cache=None, *, forced=None,
             keep_logits=False, on_step=None):
    """Greedy generation of ``steps`` tokens after ``prompt`` (a list of
    ids), batch 1: the prompt's pass gives the first token, each further
    pass takes the previous token.

    ``cache``: an empty :class:`SpAttenKVCache` (or :class:`TorchKVCache`);
    None makes the model's (:func:`make_cache` of ``model.cfg``) for this
    call.  ``forced``: feed these tokens instead of the model's choices
    (teacher forcing; the choices are still reported).  ``on_step(rec)``
    is called after each pass.

    Returns a dict: ``tokens`` (the choices), ``steps`` (per pass: token,
    tokens in the cache, tokens attended per layer, heads, bytes read and
    dense, modeled cycles, seconds), ``logits`` (with ``keep_logits``),
    ``seconds`` (wall clock of the passes, model and attention; the
    statistics and ``on_step`` excluded), ``prefill_seconds``,
    ``tokens_per_second`` (steps / seconds) and
    ``decode_tokens_per_second`` (the passes after the prompt's)."""
    if steps < 1:
        raise ValueError("steps must be at least 1")
    if forced is not None and len(forced) < steps - 1:
        raise ValueError("forced: %d tokens for %d steps"
                         % (len(forced), steps))
    own = cache is None
    if own:
        cache = make_cache(model.cfg, len(prompt), steps)
    tokens, records, logits = [], [], []
    seconds = 0.0
    ids = torch.tensor([list(prompt)], dtype=torch.int64)
    with torch.inference_mode():
        for step in range(steps):
            t0 = time.perf_counter()
            out = model(ids, cache)[0, -1]
            tok = int(out.argmax())
            dt = time.perf_counter() - t0
            seconds += dt
            st = cache.step_stats()
            rec = {"step": step, "token": tok, "cache": len(cache),
                   "kept": st["kept"], "heads": st["heads"],
                   "bytes_read": st["bytes_read"],
                   "bytes_dense": st["bytes_dense"], "cycles": st["cycles"],
                   "lsb_refetches": st["lsb_refetches"], "seconds": dt}
            tokens.append(tok)
            records.append(rec)
            if keep_logits:
                logits.append(out.clone())
            if on_step is not None:
                on_step(rec)
            nxt = forced[step] if forced is not None else tok
            ids = torch.tensor([[nxt]], dtype=torch.int64)
    if own:
        cache.close()
    prefill = records[0]["seconds"]
    return {"tokens": tokens, "steps": records,
            "logits": torch.stack(logits) if keep_logits else None,
            "seconds": seconds, "prefill_seconds": prefill,
            "tokens_per_second": steps / seconds,
            "decode_tokens_per_second": ((steps - 1) / (seconds - prefill)
                                         if steps > 1 else None)}
