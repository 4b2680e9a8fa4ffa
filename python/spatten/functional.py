# SPDX-License-Identifier: MIT
"""``spatten.attention()``: one attention layer as one hardware job, shaped
like PyTorch's ``scaled_dot_product_attention``."""

import ctypes
import threading
from collections import namedtuple

import numpy as np

from . import _ffi, arrays
from ._ffi import lib
from .device import open as _open
from .errors import check, job_failed
from .job import Job
from .session import check_scale, keep_count, threshold_fixed

_default = None
_default_lock = threading.Lock()


def default_device():
    """The device the functional calls use when given none: opened once,
    with :func:`spatten.open` (``$SPATTEN_BACKEND`` picks the backend)."""
    global _default
    with _default_lock:
        if _default is None:
            _default = _open()
        return _default


AttentionStats = namedtuple(
    "AttentionStats", "status status_name tokens_kept heads_kept token_keep "
    "head_keep value_keep lsb_refetches bytes_q bytes_k_msb bytes_k_lsb "
    "bytes_v bytes_written bytes_dense cycles saturations fracs")
AttentionStats.__doc__ = """What one job did: the tokens it kept
(``uint32`` cache positions, ``None`` without token pruning), the heads it
kept for the next layer (``None`` without head pruning), the keep counts,
LSB refetches, bytes read per plane, what a dense S16 job reads, modeled
cycles (1 GHz), values that saturated in conversion, and the fractional
bits chosen per head (``q``, ``k``, ``v``, ``out``)."""

_ALIGN = 64


class _Layout:
    """Offsets of one job's operands in the scratch buffer."""

    def __init__(self):
        self.size = 0
        self.at = {}

    def add(self, name, nbytes):
        if nbytes:
            self.at[name] = self.size
            self.size += (nbytes + _ALIGN - 1) // _ALIGN * _ALIGN


def _count(value, n, ceil, name):
    """A keep argument (int count or float ratio of ``n``) as a count."""
    if value is None:
        return None
    if isinstance(value, (bool, np.bool_)):
        raise TypeError("%s must be a count or a ratio, not a bool" % name)
    if isinstance(value, (int, np.integer)):
        if value < 1:
            raise ValueError("%s %d: at least 1" % (name, value))
        return int(value)
    r = float(value)
    if not 0.0 < r <= 1.0:
        raise ValueError("%s ratio %r outside (0, 1]" % (name, r))
    return max(1, keep_count(n, r, ceil))


def _index_list(x, n, name):
    if x is None:
        return None
    a = np.asarray(x).astype(np.int64).ravel()
    if a.size == 0 or np.any(a < 0) or np.any(a >= n) or \
            np.any(np.diff(a) <= 0):
        raise ValueError("%s must be strictly ascending indices in [0, %d)"
                         % (name, n))
    return a.astype(np.uint32)


def _importance(x, shape, name):
    if x is None:
        return None
    if arrays.is_torch(x):
        import torch
        if x.dtype != torch.int64:
            raise TypeError("%s: an int64 tensor or a uint64 array" % name)
        x = x.numpy()
    if not isinstance(x, np.ndarray) or x.dtype not in (np.uint64, np.int64):
        raise TypeError("%s: a uint64 (or int64) array, updated in place"
                        % name)
    if x.shape != tuple(shape):
        raise ValueError("%s: shape %s, expected %s" % (name, x.shape,
                                                        tuple(shape)))
    if not x.flags.writeable:
        raise ValueError("%s is read-only (it is updated in place)" % name)
    return x


class _Plan:
    """Everything a call decides once for all its batch items."""

    def __init__(self, H, G, L, S, E, kw):
        self.H, self.G, self.L, self.S, self.E = H, G, L, S, E
        self.__dict__.update(kw)
        self.k_store = (self.k_bits if self.k_bits != 16 else 16)
        self.k_total = self.k_bits + (_ffi.LSB_BITS if self.progressive
                                      else 0)
        self.k_fmt = (0 if self.k_store == 16
                      else check(lib.spatten_fmt_of_bits(self.k_store),
                                 "spatten_fmt_of_bits",
                                 "k_bits %d" % self.k_store))
        self.v_fmt = (0 if self.v_bits == 16
                      else check(lib.spatten_fmt_of_bits(self.v_bits),
                                 "spatten_fmt_of_bits",
                                 "v_bits %d" % self.v_bits))
        lay = _Layout()
        lay.add("q", H * L * E * 2)
        lay.add("k", G * S * E * self.k_store // 8)
        if self.progressive:
            lay.add("k_lsb", G * S * E * _ffi.LSB_BITS // 8)
        lay.add("v", G * S * E * self.v_bits // 8)
        lay.add("out", H * L * E * 2)
        lay.add("head_fracs", 2 * H + 2 * G)
        if self.tok_imp_needed:
            lay.add("tok_imp", 8 * S)
        if self.alive is not None:
            lay.add("tok_alive", 4 * len(self.alive))
        if self.token_keep:
            lay.add("tok_kept", 4 * self.token_keep)
        if self.pinned is not None:
            lay.add("pinned", 4 * len(self.pinned))
        if self.head_imp_needed:
            lay.add("head_imp", 8 * H)
        if self.head_alive is not None:
            lay.add("head_alive", 4 * len(self.head_alive))
        if self.head_keep:
            lay.add("head_kept", 4 * self.head_keep)
        if self.positions is not None:
            lay.add("positions", 4 * S)
        self.layout = lay


def _head_max(x, name, rotated):
    """Largest |x| of each head of [heads][rows][E]; NaN and infinities
    are refused (the board's fixed point has neither).  ``rotated``: the
    board rotates the rows (RoPE pairs element i with i + E/2), which can
    make an element as large as its pair's norm: the largest norm, with
    room for the rotation's rounding, as libspatten's sessions choose it
    (lib/session_view.c, spatten__view_head_max_rope())."""
    m = np.abs(x).max(axis=(1, 2))
    if not np.all(np.isfinite(m)):
        bad = int(np.flatnonzero(~np.isfinite(m))[0])
        raise ValueError("%s has NaN or infinite values (head %d)"
                         % (name, bad))
    if rotated:
        half = x.shape[2] // 2
        a = x[:, :, :half].astype(np.float64)
        b = x[:, :, half:].astype(np.float64)
        norm2 = (a * a + b * b).max(axis=(1, 2))
        m = (np.sqrt(norm2) * (1.0 + 2.0 ** -13)).astype(np.float32)
    return m


def _quantize_heads(dst_addr, x, heads, bits, fmt, split, lsb_addr, name,
                    rotated=False):
    """Quantize each head of ``x`` [heads][rows][E] (float32) at its own
    scale into the packed plane(s); return (fracs, saturations).
    ``rotated``: the board rotates these 16-bit rows (RoPE)."""
    fracs, sat = [], 0
    per = x.shape[1] * x.shape[2]
    maxima = _head_max(x, name, rotated and bits == 16)
    for h in range(heads):
        xh = np.ascontiguousarray(x[h])
        src = xh.__array_interface__["data"][0]
        # -ERANGE: even 0 fractional bits cannot hold the largest value;
        # those values saturate (counted, and reported by the caller)
        f = max(0, lib.spatten_frac_for_bits(float(maxima[h]), bits))
        if split:
            msb = dst_addr + h * per * fmt_bits(fmt) // 8
            lsb = lsb_addr + h * per * _ffi.LSB_BITS // 8
            n = lib.spatten_pack_split(msb, lsb, bits - _ffi.LSB_BITS, src,
                                       per, f)
            name = "spatten_pack_split"
        elif fmt == 0:
            n = lib.spatten_quantize_s16(dst_addr + h * per * 2, src, per, f)
            name = "spatten_quantize_s16"
        else:
            n = lib.spatten_pack(dst_addr + h * per * fmt_bits(fmt) // 8, fmt,
                                 src, per, f)
            name = "spatten_pack"
        sat += check(n, name)
        fracs.append(f)
    return fracs, sat


def _check_board(dev, H, G, S, E):
    """What the board's limits say, before a job is built."""
    info = dev.info
    dims = [1 << n for n in range(32) if info.head_dims >> n & 1]
    if E not in dims:
        raise ValueError("head_dim %d: this board takes %s" % (E, dims))
    if H > info.max_heads:
        raise ValueError("%d heads: this board takes at most %d"
                         % (H, info.max_heads))
    if S > info.max_context:
        raise ValueError("%d keys: this board's context is at most %d"
                         % (S, info.max_context))


def fmt_bits(fmt):
    return (16, 4, 6, 8, 10, 12)[fmt]


def attention(q, k, v, *, is_causal=False, scale=None, enable_gqa=False,
              q_start=None, token_keep=None, head_keep=None, value_keep=None,
              token_importance=None, head_importance=None, token_alive=None,
              head_alive=None, pinned=None, progressive=False, k_bits=None,
              v_bits=16, lsb_threshold=0.1, rope_base=0, positions=None,
              topk_seed=0, saturation="warn", device=None):
    """Attention of ``q`` over ``k`` and ``v`` on the accelerator, with
    SpAtten's pruning.  Returns ``(out, stats)``.

    Shapes as ``torch.nn.functional.scaled_dot_product_attention``: ``q``
    ``(..., H, L, E)``, ``k`` and ``v`` ``(..., G, S, E)`` with the same
    leading batch dimensions; ``G < H`` (grouped-query) needs
    ``enable_gqa=True``.  numpy arrays or CPU tensors of float32, float16
    or bfloat16 (torch); ``out`` is of q's kind and type.  Each batch item
    is one job; up to 64 are submitted at once.  ``stats`` is an
    :class:`AttentionStats`, or a list of them (one per batch item) when
    there are batch dimensions.

    ``is_causal``: row i sees keys ``j <= q_start + i``, ``q_start``
    defaulting to ``S - L`` (the new tokens are the last, as with a KV
    cache; equal to PyTorch's top-left mask when ``L == S``).  A causal
    call with ``L < S`` is a generation step (the new tokens are always
    kept; a smaller ``q_start`` is a causal summarization).  ``scale``: the
    softmax scale (``1/sqrt(E)``).

    Pruning (counts as ints, or ratios in (0, 1]):
    ``token_keep`` tokens kept, chosen by top-k on ``token_importance``
    (``uint64 (..., S)``, the importance accumulated by earlier layers,
    read and updated in place; without it every token ties and the oldest
    are kept), among ``token_alive`` (ascending indices) and always
    keeping ``pinned``; ``head_keep`` heads kept for the next layer, by
    ``head_importance`` (``uint64 (..., H)``, updated in place), of the
    ``head_alive`` heads computed (the others' output rows are 0);
    ``value_keep`` V rows per query (local value pruning, probabilities not
    renormalised).  In a non-generation call with token pruning or
    ``token_alive``, query row i is token i and the rows of pruned tokens
    are 0.  ``progressive``: keys stored as
    ``k_bits`` MSBs (default 8) + 4 LSBs, the LSBs fetched for rows whose
    largest probability is below ``lsb_threshold``.  ``k_bits``/``v_bits``
    also pack non-progressive operands (16, 12, 10, 8, 6, 4).
    ``rope_base`` (and ``positions``, ``uint32 (S,)``): the device rotates
    Q and K (RoPE).

    Values are converted to the board's 16-bit fixed point (keys and values
    to their formats) with fractional bits chosen per head from the data,
    so the output differs from a float computation by the quantization:
    docs/python.md gives the bound.  A value too large for its format even
    with no fractional bits saturates: ``saturation="warn"`` (a
    ``RuntimeWarning``), ``"raise"`` (:class:`spatten.SaturationError`,
    before any job runs) or ``"ignore"``; ``stats.saturations`` counts
    them.  NaN and infinities raise ``ValueError``.
    """
    from .device import Device
    dev = device if device is not None else default_device()
    if not isinstance(dev, Device):
        raise TypeError("device must be a spatten.Device (spatten.open()), "
                        "not %r" % (dev,))
    if saturation not in ("warn", "raise", "ignore"):
        raise ValueError("saturation %r: 'warn', 'raise' or 'ignore'"
                         % (saturation,))
    if any(arrays.is_torch(x) and x.requires_grad for x in (q, k, v)):
        import torch
        if torch.is_grad_enabled():
            raise RuntimeError("SpAtten attention is inference-only: run "
                               "it under torch.no_grad() (or "
                               "torch.inference_mode())")
    qa, ka, va = (arrays.as_float32(x, n) for x, n in
                  ((q, "q"), (k, "k"), (v, "v")))
    if qa.ndim < 3 or ka.ndim != qa.ndim or va.ndim != qa.ndim:
        raise ValueError("q, k, v: shapes %s, %s, %s; expected (..., H, L, "
                         "E) and (..., G, S, E)" % (qa.shape, ka.shape,
                                                    va.shape))
    batch = qa.shape[:-3]
    H, L, E = qa.shape[-3:]
    G, S, Ek = ka.shape[-3:]
    if ka.shape[:-3] != batch or va.shape[:-3] != batch:
        raise ValueError("batch dimensions differ: %s, %s, %s"
                         % (batch, ka.shape[:-3], va.shape[:-3]))
    if va.shape[-3:] != (G, S, E) or Ek != E:
        raise ValueError("k %s and v %s must both be (G, S, E=%d)"
                         % (ka.shape[-3:], va.shape[-3:], E))
    if G != H and not enable_gqa:
        raise ValueError("q has %d heads, k and v %d: pass enable_gqa=True "
                         "for grouped-query attention" % (H, G))
    if G == 0 or H % G:
        raise ValueError("%d KV heads do not divide %d query heads" % (G, H))
    if L == 0 or S == 0:
        raise ValueError("empty query or key sequence")
    _check_board(dev, H, G, S, E)
    if progressive and k_bits == 16:
        raise ValueError("progressive keys take k_bits of 4..12 MSBs (+ 4 "
                         "LSBs), not 16")
    if q_start is None:
        q_start = S - L if is_causal else 0
    if is_causal and not 0 <= q_start <= S - L:
        raise ValueError("causal: q_start %d with %d queries over %d keys"
                         % (q_start, L, S))
    if not is_causal and q_start:
        raise ValueError("q_start applies to causal attention only")
    if k_bits is None:
        k_bits = 8 if progressive else 16
    alive = _index_list(token_alive, S, "token_alive")
    n_alive = S if alive is None else len(alive)
    pin = _index_list(pinned, S, "pinned")
    tk = _count(token_keep, S, False, "token_keep")
    if tk is not None:
        tk = max(tk, 0 if pin is None else len(pin))
        if tk >= n_alive and token_importance is None:
            tk = None
        else:
            tk = min(tk, n_alive)
    if pin is not None and tk is None:
        if token_keep is None:
            raise ValueError("pinned tokens need token pruning "
                             "(token_keep)")
        pin = None      # nothing is pruned: every token stays anyway
    halive = _index_list(head_alive, H, "head_alive")
    n_halive = H if halive is None else len(halive)
    hk = _count(head_keep, H, True, "head_keep")
    if hk is not None:
        if hk >= n_halive and head_importance is None:
            hk = None
        else:
            hk = min(hk, n_halive)
    vk = _count(value_keep, tk or n_alive, True, "value_keep")
    timp = _importance(token_importance, batch + (S,), "token_importance")
    himp = _importance(head_importance, batch + (H,), "head_importance")
    pos = None
    if positions is not None:
        pos = np.ascontiguousarray(np.asarray(positions), dtype=np.uint32)
        if pos.shape != (S,):
            raise ValueError("positions: shape %s, expected (%d,)"
                             % (pos.shape, S))
        if not rope_base:
            raise ValueError("positions need rope_base")
        raw = np.asarray(positions)
        if raw.size and (raw.min() < 0 or raw.max() > 0xffffffff or
                         not np.all(raw == np.floor(raw))):
            raise ValueError("positions: integers 0..2^32-1")
    plan = _Plan(H, G, L, S, E, dict(
        progressive=bool(progressive), k_bits=int(k_bits),
        v_bits=int(v_bits), alive=alive, pinned=pin, token_keep=tk or 0,
        head_alive=halive, head_keep=hk or 0, value_keep=vk or 0,
        tok_imp_needed=bool(tk) or timp is not None,
        head_imp_needed=bool(hk) or himp is not None, positions=pos))
    out = _empty_out(q, qa.shape)
    n_items = int(np.prod(batch, dtype=np.int64)) if batch else 1
    qf = qa.reshape((n_items, H, L, E))
    kf = ka.reshape((n_items, G, S, E))
    vf = va.reshape((n_items, G, S, E))
    timp_f = None if timp is None else timp.reshape((n_items, S))
    himp_f = None if himp is None else himp.reshape((n_items, H))
    if rope_base != int(rope_base) or not 0 <= rope_base < 1 << 32:
        raise ValueError("rope_base %r: an integer (10000, 500000, ...)"
                         % (rope_base,))
    opts = dict(causal=bool(is_causal), q_start=q_start,
                scale=check_scale(scale),
                threshold=threshold_fixed(lsb_threshold),
                rope_base=int(rope_base), seed=int(topk_seed),
                saturation=saturation)
    item_bytes = plan.layout.size
    if item_bytes > dev.info.max_bo_size:
        raise ValueError("one item needs %d bytes of device memory, more "
                         "than the board's largest buffer (%d)"
                         % (item_bytes, dev.info.max_bo_size))
    group = min(_ffi.MAX_SUBMIT, dev.info.max_bo_size // item_bytes)
    stats = []
    with dev._lock:
        try:
            for first in range(0, n_items, group):
                items = range(first, min(n_items, first + group))
                stats += _run_group(dev, plan, opts, items, qf, kf, vf,
                                    timp_f, himp_f, out)
        finally:
            dev._scratch_done()
    for orig, flat in ((timp, timp_f), (himp, himp_f)):
        if orig is not None and not np.shares_memory(orig, flat):
            orig[...] = flat.reshape(orig.shape)
    return out, (stats if batch else stats[0])


def _empty_out(q, shape):
    if arrays.is_torch(q):
        import torch
        return torch.empty(shape, dtype=q.dtype)
    if isinstance(q, np.ndarray) and q.dtype == np.float16:
        return np.empty(shape, np.float16)
    return np.empty(shape, np.float32)


def _out_rows(out, n_items, H, L, E):
    """(address, dtype code) of each item's [H][L][E] output."""
    if arrays.is_torch(out):
        code = arrays._torch_code(out)
        base, item = out.data_ptr(), out.element_size()
    else:
        code = arrays._numpy_code(out)
        base, item = out.ctypes.data, out.itemsize
    return base, item * H * L * E, code


def _run_group(dev, plan, o, items, qf, kf, vf, timp, himp, out):
    lay = plan.layout
    H, G, L, E = plan.H, plan.G, plan.L, plan.E
    buf = dev._scratch_buffer(lay.size * len(items))
    base_addr = buf.address
    jobs, fracs, sats = [], [], []
    for j, b in enumerate(items):
        at = {n: j * lay.size + off for n, off in lay.at.items()}
        addr = {n: base_addr + a for n, a in at.items()}
        rope = bool(o["rope_base"])
        fq, sq = _quantize_heads(addr["q"], qf[b], H, 16, 0, False, 0, "q",
                                 rope)
        fk, sk = _quantize_heads(addr["k"], kf[b], G, plan.k_total,
                                 plan.k_fmt, plan.progressive,
                                 addr.get("k_lsb", 0), "k", rope)
        fv, sv = _quantize_heads(addr["v"], vf[b], G, plan.v_bits,
                                 plan.v_fmt, False, 0, "v")
        if sq + sk + sv:
            _saturated(o["saturation"], b, sq, sk, sv)
        # the board writes only the rows it computes: heads not alive and
        # (summarization) pruned tokens read as 0, not as stale scratch
        ctypes.memset(addr["out"], 0, H * L * E * 2)
        fo = [fv[h // (H // G)] for h in range(H)]
        table = bytes(fq + fo + fk + fv)
        ctypes.memmove(addr["head_fracs"], table, len(table))
        fracs.append({"q": fq, "k": fk, "v": fv, "out": fo})
        sats.append(sq + sk + sv)
        _fill_lists(buf, at, plan, timp, himp, b)
        jobs.append(_make_job(dev, buf, at, plan, o, b))
    seqnos = dev.submit(jobs)
    try:
        return _finish_group(dev, plan, buf, seqnos, items, fracs, sats,
                             timp, himp, out)
    finally:
        for seq in seqnos:      # a failure or an interrupt leaves none
            if seq in dev._inflight:
                try:
                    dev.wait(seq)
                except Exception:
                    pass


def _saturated(mode, b, sq, sk, sv):
    if mode == "ignore":
        return
    text = ("values too large for the board's fixed point saturated in "
            "item %d: %d of Q, %d of K, %d of V (scale the inputs down)"
            % (b, sq, sk, sv))
    if mode == "raise":
        from .errors import SaturationError
        raise SaturationError(34, "spatten.attention", text)
    import warnings
    warnings.warn(text, RuntimeWarning, stacklevel=4)


def _finish_group(dev, plan, buf, seqnos, items, fracs, sats, timp, himp,
                  out):
    lay = plan.layout
    H, L, E = plan.H, plan.L, plan.E
    base_addr = buf.address
    stats = []
    o_base, o_bytes, o_code = _out_rows(out, 0, H, L, E)
    for j, (b, seq) in enumerate(zip(items, seqnos)):
        res = dev.wait(seq)
        if not res.ok:
            raise job_failed(res, "spatten_wait")
        at = {n: j * lay.size + off for n, off in lay.at.items()}
        _read_out(base_addr + at["out"], fracs[j]["out"], H, L * E,
                  o_base + b * o_bytes, o_code)
        stats.append(_collect(buf, at, plan, res, timp, himp, b, fracs[j],
                              sats[j]))
    return stats


def _fill_lists(buf, at, plan, timp, himp, b):
    def put(name, arr):
        if name in at:
            a = np.ascontiguousarray(arr)
            buf.array(a.dtype, a.shape, at[name])[...] = a
    if "tok_imp" in at:
        put("tok_imp", timp[b] if timp is not None
            else np.zeros(plan.S, np.uint64))
    if "head_imp" in at:
        put("head_imp", himp[b] if himp is not None
            else np.zeros(plan.H, np.uint64))
    for name, arr in (("tok_alive", plan.alive), ("pinned", plan.pinned),
                      ("head_alive", plan.head_alive),
                      ("positions", plan.positions)):
        if arr is not None:
            put(name, arr)


def _make_job(dev, buf, at, plan, o, b):
    f = dict(n_heads=plan.H, head_dim=plan.E, q_rows=plan.L, kv_rows=plan.S,
             q_start=o["q_start"], user_data=b, k_fmt=plan.k_fmt,
             v_fmt=plan.v_fmt, topk_seed=o["seed"], n_kv_heads=plan.G,
             token_keep=plan.token_keep, head_keep=plan.head_keep,
             value_keep=plan.value_keep)
    flags = _ffi.ATTN_HEAD_FRACS
    if o["causal"]:
        flags |= _ffi.ATTN_CAUSAL
        if plan.L < plan.S and o["q_start"] == plan.S - plan.L:
            f["stage"] = _ffi.STAGE_GENERATION
    if plan.progressive:
        flags |= _ffi.ATTN_PROGRESSIVE
        f["lsb_threshold"] = o["threshold"]
    if o["rope_base"]:
        flags |= _ffi.ATTN_ROPE
        f["rope_base"] = o["rope_base"]
        if plan.positions is not None:
            flags |= _ffi.ATTN_ROPE_POSITIONS
    if o["scale"] is not None:
        f["score_scale"] = o["scale"]
    f["flags"] = flags
    if plan.alive is not None:
        f["n_tok_alive"] = len(plan.alive)
    if plan.pinned is not None:
        f["n_pinned"] = len(plan.pinned)
    if plan.head_alive is not None:
        f["n_head_alive"] = len(plan.head_alive)
    for name, off in at.items():
        f[name] = (buf, off)
    return Job(dev, **f)


def _read_out(src, fracs, H, per, dst, code):
    if code == _ffi.DTYPE_F32:
        for h in range(H):
            check(lib.spatten_dequantize_s16(dst + h * per * 4,
                                             src + h * per * 2, per,
                                             fracs[h]),
                  "spatten_dequantize_s16")
        return
    tmp = np.empty(per, np.float32)
    for h in range(H):
        check(lib.spatten_dequantize_s16(tmp.ctypes.data, src + h * per * 2,
                                         per, fracs[h]),
              "spatten_dequantize_s16")
        check(lib.spatten_convert(dst + h * per * 2, code, tmp.ctypes.data,
                                  _ffi.DTYPE_F32, per), "spatten_convert")


def _collect(buf, at, plan, res, timp, himp, b, fracs, sat):
    def get(name, dtype, n):
        return buf.array(dtype, n, at[name]).copy() if name in at else None
    if timp is not None:
        timp[b] = buf.array(np.uint64, plan.S, at["tok_imp"])
    if himp is not None:
        himp[b] = buf.array(np.uint64, plan.H, at["head_imp"])
    tok = get("tok_kept", np.uint32, plan.token_keep)
    heads = get("head_kept", np.uint32, plan.head_keep)
    E = plan.E
    dense = 2 * E * (plan.H * plan.L + 2 * plan.G * plan.S)
    return AttentionStats(res.status, res.status_name, tok, heads,
                          plan.token_keep, plan.head_keep, plan.value_keep,
                          res.lsb_refetches, res.bytes_q, res.bytes_k_msb,
                          res.bytes_k_lsb, res.bytes_v, res.bytes_written,
                          dense, res.cycles, sat, fracs)
