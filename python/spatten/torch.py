# SPDX-License-Identifier: MIT
"""PyTorch integration: an attention module and a KV cache kept on the
board (or the simulation), with the authors' SpAttenKVCache policy.

A decoder swaps its attention and cache in a few lines::

    cache = SpAttenKVCache(start_size=4, recent_size=128,
                           important_size=128, n_layers=cfg.n_layer)
    attn = [SpAttenAttention(layer_idx=i) for i in range(cfg.n_layer)]
    ...
    y = attn[i](q, k, v, cache)        # q: (B, H, T, D), k, v: (B, G, T, D)

Inference only: no gradient flows through the accelerator.
"""

import torch
from torch import nn

from . import functional
from .session import Session

__all__ = ["SpAttenKVCache", "SpAttenAttention", "attention",
           "scaled_dot_product_attention"]


def _no_grad_check(*tensors):
    if torch.is_grad_enabled() and any(t.requires_grad for t in tensors):
        raise RuntimeError("SpAtten attention is inference-only: run the "
                           "model under torch.no_grad() (or "
                           "torch.inference_mode())")


def attention(q, k, v, **kw):
    """:func:`spatten.attention` on tensors: returns ``(out, stats)``."""
    _no_grad_check(q, k, v)
    return functional.attention(q, k, v, **kw)


def scaled_dot_product_attention(query, key, value, attn_mask=None,
                                 dropout_p=0.0, is_causal=False, scale=None,
                                 enable_gqa=False):
    """``torch.nn.functional.scaled_dot_product_attention`` (PyTorch 2.x's
    signature) on SpAtten: returns the output tensor.

    The causal mask is PyTorch's (top-left: row i sees keys ``j <= i``,
    also when ``L < S``; :func:`spatten.attention` defaults to the
    bottom-right alignment of a KV cache instead).  No arbitrary mask and
    no dropout: the board has neither (``ValueError``).  For pruning and
    statistics, call :func:`spatten.attention`."""
    if attn_mask is not None:
        raise ValueError("attn_mask: SpAtten computes causal or full "
                         "attention only (is_causal)")
    if dropout_p:
        raise ValueError("dropout_p: SpAtten has no dropout (inference)")
    out, _ = attention(query, key, value, is_causal=is_causal,
                       q_start=0 if is_causal else None, scale=scale,
                       enable_gqa=enable_gqa)
    return out


class SpAttenKVCache:
    """A decoder's KV cache on the board, bounded by the authors'
    SpAttenKVCache policy: the first ``start_size`` tokens, the
    ``recent_size`` newest and the ``important_size`` of the rest with the
    largest importance stay; the others leave for good when room is needed
    (all three 0: unbounded, up to ``max_context``).

    The constructor takes the authors' arguments; ``k_seq_dim`` and
    ``v_seq_dim`` say where the tokens are in the tensors a layer passes
    (2: ``(B, heads, T, D)``, 1: ``(B, T, heads, D)``).  Keyword options:
    ``n_layers`` (required before the first call), ``max_context`` (the
    cache's capacity in slots; default the budget plus 1024, or 4096
    unbounded; a prompt must fit in it), ``per_head`` (each layer's KV head
    selects its own tokens, as the authors' LLM code does), ``schedule``
    (a :class:`spatten.Schedule` of cascade pruning; not with
    ``per_head``), ``progressive``, ``k_bits``, ``v_bits``,
    ``lsb_threshold``, ``rope_base`` (the board rotates Q and K by slot:
    pass them unrotated), ``scale`` (the softmax scale), ``device``.

    The heads, KV heads and head size come from the first call; each batch
    row is a sequence with its own session.
    """

    def __init__(self, start_size=4, recent_size=128, important_size=128,
                 k_seq_dim=2, v_seq_dim=2, *, n_layers=None,
                 max_context=None, per_head=False, schedule=None,
                 progressive=False, k_bits=None, v_bits=16,
                 lsb_threshold=0.1, rope_base=0, scale=None,
                 device=None, max_step=0):
        for name, n in (("start_size", start_size),
                        ("recent_size", recent_size),
                        ("important_size", important_size)):
            if n < 0:
                raise ValueError("%s %d is negative" % (name, n))
        if k_seq_dim != v_seq_dim or k_seq_dim not in (1, 2):
            raise ValueError("k_seq_dim and v_seq_dim: both 2 (B, H, T, D) "
                             "or both 1 (B, T, H, D)")
        self.start_size = start_size
        self.recent_size = recent_size
        self.important_size = important_size
        self.k_seq_dim, self.v_seq_dim = k_seq_dim, v_seq_dim
        self.budget = start_size + recent_size + important_size
        self.bounded = self.budget > 0
        if max_context is None:
            max_context = self.budget + 1024 if self.bounded else 4096
        if self.bounded and max_context <= self.budget:
            raise ValueError("max_context %d must exceed the budget %d"
                             % (max_context, self.budget))
        self.n_layers = n_layers
        self.max_context = max_context
        self._opts = dict(
            per_head=per_head, schedule=schedule, progressive=progressive,
            k_bits=k_bits, v_bits=v_bits, lsb_threshold=lsb_threshold,
            rope_base=rope_base, scale=scale, max_step=max_step)
        self._device = device
        self.sessions = []
        self._shape = None
        self.seen_tokens = 0

    # -- sessions -----------------------------------------------------------

    def _open(self, batch, H, G, D):
        if self.n_layers is None:
            raise ValueError("SpAttenKVCache needs n_layers (the model's "
                             "layer count) before its first call")
        if self._shape not in (None, (H, G, D)):
            raise ValueError("cache opened for (heads, kv_heads, head_dim) "
                             "%s, called with %s" % (self._shape, (H, G, D)))
        self._shape = (H, G, D)
        dev = self._device or functional.default_device()
        o = self._opts
        k_bits = o["k_bits"] or (8 if o["progressive"] else 16)
        while len(self.sessions) < batch:
            self.sessions.append(Session(
                dev, kind="decoder", n_layers=self.n_layers, n_heads=H,
                n_kv_heads=G, head_dim=D, max_context=self.max_context,
                schedule=o["schedule"], k_bits=k_bits, v_bits=o["v_bits"],
                progressive=o["progressive"],
                lsb_threshold=o["lsb_threshold"],
                scale=o["scale"], rope_base=o["rope_base"],
                kv_budget=((self.start_size, self.important_size,
                            self.recent_size) if self.bounded else None),
                kv_per_head=o["per_head"], max_step=o["max_step"]))

    def attention(self, layer_idx, q, k, v):
        """Append this pass's K and V at ``layer_idx`` and return the
        attention of ``q`` over the cache (a tensor shaped and typed as
        ``q``).  Layers go in order, 0 first; the first pass is the
        prompt, later ones a token (or a chunk) each."""
        _no_grad_check(q, k, v)
        if q.dim() != 4 or k.dim() != 4 or v.dim() != 4:
            raise ValueError("q, k, v must be 4-D (batch, ...): %s, %s, %s"
                             % (tuple(q.shape), tuple(k.shape),
                                tuple(v.shape)))
        sd = self.k_seq_dim
        hd = 1 if sd == 2 else 2
        B, H, D = q.shape[0], q.shape[hd], q.shape[3]
        G = k.shape[hd]
        if k.shape[0] != B or v.shape[0] != B:
            raise ValueError("q, k, v batch sizes differ")
        self._open(B, H, G, D)
        layout = "htd" if sd == 2 else "thd"
        if B == 1:      # the session takes a leading batch of 1 as is
            out = self.sessions[0].attend(layer_idx, q, k, v, layout=layout)
        else:
            out = torch.empty(q.shape, dtype=q.dtype)
            for b in range(B):
                self.sessions[b].attend(layer_idx, q[b], k[b], v[b], out[b],
                                        layout=layout)
        if layer_idx == 0:
            self.seen_tokens += q.shape[sd]
        return out

    # -- what the cache holds -------------------------------------------------

    def __len__(self):
        """Tokens in the cache now (of batch row 0)."""
        return self.sessions[0].context if self.sessions else 0

    def _slots(self, batch, layer, kv_head, which):
        if not self.sessions:
            return torch.empty(0, dtype=torch.int64)
        s = self._session(batch)
        if self._opts["per_head"]:
            got = s.cache_head(0 if layer is None else layer, kv_head)
        else:
            got = s.cache()
        return torch.from_numpy(got[which].astype("int64"))

    def kept_tokens(self, batch=0, layer=None, kv_head=0):
        """Sequence indices of the tokens the cache holds, in slot order
        (``per_head``: of ``layer``'s ``kv_head``)."""
        return self._slots(batch, layer, kv_head, 0)

    def importance(self, batch=0, layer=None, kv_head=0):
        """Each slot's importance, as :meth:`kept_tokens` orders them."""
        return self._slots(batch, layer, kv_head, 1)

    def _session(self, batch):
        if not 0 <= batch < len(self.sessions):
            raise ValueError("batch row %d: the cache holds %d sequence(s)"
                             % (batch, len(self.sessions)))
        return self.sessions[batch]

    def step_stats(self, batch=0):
        """The last pass summed over layers: tokens attended per layer
        (``kept``), heads computed, V rows kept per query (``value_keep``,
        0: all), bytes read, what dense S16 attention reads, modeled
        cycles, LSB refetches."""
        s = self._session(batch)
        st = [s.stats(layer) for layer in range(self.n_layers)]
        read = sum(x.bytes_q + x.bytes_k_msb + x.bytes_k_lsb + x.bytes_v
                   for x in st)
        return {"kept": [x.tokens_kept for x in st],
                "heads": [x.heads_alive for x in st],
                "value_keep": [x.value_keep for x in st],
                "bytes_read": read,
                "bytes_dense": sum(x.bytes_dense for x in st),
                "cycles": sum(x.cycles for x in st),
                "lsb_refetches": sum(x.lsb_refetches for x in st)}

    def reset(self):
        """Forget every sequence (the sessions stay open)."""
        for s in self.sessions:
            s.reset()
        self.seen_tokens = 0

    def close(self):
        """Free the sessions and their on-board caches."""
        for s in self.sessions:
            s.close()
        self.sessions = []
        self._shape = None
        self.seen_tokens = 0


class SpAttenAttention(nn.Module):
    """Scaled dot-product attention on SpAtten, as a module.

    ``forward(q, k, v, cache=None)``: ``q`` ``(B, H, T, D)``, ``k`` and
    ``v`` ``(B, G, T, D)`` (G divides H); with a :class:`SpAttenKVCache`
    the tokens are appended to layer ``layer_idx``'s cache on the board
    and attend to it; without, one stateless call
    (:func:`spatten.attention`, causal unless ``is_causal=False``).
    Returns a tensor shaped and typed as ``q``.
    """

    def __init__(self, layer_idx=None, *, is_causal=True, scale=None,
                 **attention_kw):
        super().__init__()
        self.layer_idx = layer_idx
        self.is_causal = is_causal
        self.scale = scale
        self.attention_kw = attention_kw

    def forward(self, q, k, v, cache=None):
        if cache is not None:
            if self.layer_idx is None:
                raise ValueError("SpAttenAttention needs layer_idx to use a "
                                 "cache")
            return cache.attention(self.layer_idx, q, k, v)
        out, _ = attention(q, k, v, is_causal=self.is_causal,
                           scale=self.scale,
                           enable_gqa=k.shape[1] != q.shape[1],
                           **self.attention_kw)
        return out

    def extra_repr(self):
        return "layer_idx=%s, is_causal=%s" % (self.layer_idx,
                                               self.is_causal)
