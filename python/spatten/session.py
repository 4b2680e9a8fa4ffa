# SPDX-License-Identifier: MIT
"""Sessions: a whole model's attention with the cascade state (importance,
alive tokens and heads, the KV cache) kept on the board between calls."""

import ctypes
import errno
import math
import threading
from collections import namedtuple

import numpy as np

from . import _ffi, arrays
from ._ffi import lib
from .device import _count
from .errors import check, make_error

_KINDS = {"encoder": _ffi.SESSION_ENCODER, "decoder": _ffi.SESSION_DECODER}

LayerStats = namedtuple(
    "LayerStats", "status status_name stage kv_rows q_rows tokens_alive "
    "tokens_kept heads_alive heads_kept value_keep lsb_refetches query_rows "
    "bytes_q bytes_k_msb bytes_k_lsb bytes_v bytes_written bytes_dense "
    "cycles")
LayerStats.__doc__ = """What a layer's job did (``struct
spatten_layer_stats``): tokens alive and kept, heads computed and kept,
V rows kept per query, LSB refetches, bytes read per plane and what a
dense S16 job of the same shape reads, modeled cycles (1 GHz)."""


def _layer_stats(s):
    name = lib.spatten_status_str(s.status).decode()
    rest = (getattr(s, f) for f in LayerStats._fields[2:])
    return LayerStats(s.status, name, *rest)


class Schedule:
    """Per-layer keep ratios (``struct spatten_schedule``): ``tok_keep``,
    ``head_keep``, ``value_keep``, each a list of ``n_layers`` ratios in
    (0, 1]; 1 prunes nothing."""

    def __init__(self, tok_keep, head_keep=None, value_keep=None):
        n = len(tok_keep)
        if not 1 <= n <= _ffi.MAX_LAYERS:
            raise ValueError("a schedule of %d layers: 1..%d"
                             % (n, _ffi.MAX_LAYERS))
        self.tok_keep = [float(r) for r in tok_keep]
        self.head_keep = [float(r) for r in (
            [1.0] * n if head_keep is None else head_keep)]
        self.value_keep = [float(r) for r in (
            [1.0] * n if value_keep is None else value_keep)]
        if not (len(self.head_keep) == len(self.value_keep) == n):
            raise ValueError("schedule lists of different lengths")
        for name in ("tok_keep", "head_keep", "value_keep"):
            for r in getattr(self, name):
                if not 0.0 < r <= 1.0:
                    raise ValueError("%s ratio %r outside (0, 1]" % (name, r))

    @classmethod
    def dense(cls, n_layers):
        """Prune nothing."""
        return cls([1.0] * n_layers)

    @classmethod
    def paper(cls, n_layers, token=(1.0, 1.0), head=(1.0, 1.0),
              value_keep=1.0):
        """The paper's rule (``spatten_schedule_paper()``): tokens unpruned
        in the first 15% of layers, heads in the first 30%, then linear
        from the start to the end ratio; value pruning where tokens are."""
        s = _ffi.Schedule()
        check(lib.spatten_schedule_paper(ctypes.byref(s), n_layers,
                                         token[0], token[1], head[0],
                                         head[1], value_keep),
              "spatten_schedule_paper")
        return cls(s.tok_keep[:n_layers], s.head_keep[:n_layers],
                   s.value_keep[:n_layers])

    def __len__(self):
        return len(self.tok_keep)

    def __repr__(self):
        return "Schedule(tok_keep=%r, head_keep=%r, value_keep=%r)" % (
            self.tok_keep, self.head_keep, self.value_keep)


def check_scale(scale):
    """A softmax scale for the library: a positive finite float, or None
    for 1/sqrt(head_dim) (the library's 0)."""
    if scale is None:
        return 0.0
    s = float(scale)
    if not (s > 0 and math.isfinite(s)):
        raise ValueError("scale %r: a positive number (None for "
                         "1/sqrt(head_dim))" % (scale,))
    return s


def threshold_fixed(p):
    """An LSB-refetch threshold probability as the board's 1/2^15 units."""
    if not 0.0 <= p <= 1.0:
        raise ValueError("lsb_threshold %r outside [0, 1]" % (p,))
    return int(round(p * 32768))


class Session:
    """A model's attention on a device: ``n_layers`` layers of ``n_heads``
    query heads (``n_kv_heads`` K/V heads), the KV cache allocated at
    ``max_context`` tokens, cascade pruning by ``schedule``.

    ``kind`` is ``"encoder"`` (every token sees every token) or
    ``"decoder"`` (causal prompt, then generation steps); there is no
    default.  ``kv_budget=(start, important, recent)`` bounds the cache
    with the authors' SpAttenKVCache policy (``kv_per_head``: each layer's
    KV head selects for itself).  ``k_bits``/``v_bits``: 16, or 4..12
    packed; ``progressive``: keys of ``k_bits`` MSBs (default 8) + 4 LSBs
    refetched when the largest probability is below ``lsb_threshold``.
    ``scale``: the softmax scale (default ``1/sqrt(head_dim)``).

    Scales come from the data per head unless ``fixed_fracs=(q, k, v,
    out)`` gives the fractional bits: K and V at a layer's first pass (the
    cache keeps them, so later tokens beyond that range saturate and are
    counted: :meth:`saturations`), Q at every pass.
    ``saturation_error`` makes a saturating pass raise
    :class:`spatten.SaturationError` (changing nothing) instead.  The
    other options are ``struct spatten_session_opts``'s.
    """

    def __init__(self, device, *, kind, n_layers, n_heads, head_dim,
                 max_context, n_kv_heads=None, schedule=None, k_bits=None,
                 v_bits=16, progressive=False, lsb_threshold=0.1,
                 scale=None, rope_base=0, pinned=(), kv_budget=None,
                 kv_per_head=False, max_step=0, fixed_fracs=None,
                 saturation_error=False, topk_seed=0):
        if kind not in _KINDS:
            raise ValueError("kind %r: 'encoder' or 'decoder'" % (kind,))
        n_kv_heads = n_heads if n_kv_heads is None else n_kv_heads
        if k_bits is None:
            k_bits = 8 if progressive else 16
        if progressive and k_bits == 16:
            raise ValueError("progressive keys take k_bits of 4..12 MSBs "
                             "(+ 4 LSBs), not 16")
        o = _ffi.SessionOpts()
        lib.spatten_session_opts_init(ctypes.byref(o), _KINDS[kind], 0, 0, 0,
                                      0, 0)
        for name, value in (("n_layers", n_layers), ("n_heads", n_heads),
                            ("n_kv_heads", n_kv_heads),
                            ("head_dim", head_dim),
                            ("max_context", max_context),
                            ("k_bits", k_bits), ("v_bits", v_bits),
                            ("topk_seed", topk_seed),
                            ("rope_base", rope_base),
                            ("max_step", max_step)):
            _ffi.setfield(o, name, value)
        flags = 0
        if progressive:
            flags |= _ffi.SESSION_PROGRESSIVE
        if fixed_fracs is not None:
            flags |= _ffi.SESSION_FIXED_SCALES
            if len(fixed_fracs) != 4:
                raise ValueError("fixed_fracs is (q, k, v, out)")
            for name, f in zip(("q_frac", "k_frac", "v_frac", "out_frac"),
                               fixed_fracs):
                if not 0 <= f <= _ffi.MAX_FRAC:
                    raise ValueError("%s %r: 0..%d" % (name, f,
                                                       _ffi.MAX_FRAC))
                _ffi.setfield(o, name, f)
        if saturation_error:
            flags |= _ffi.SESSION_SATURATION_ERROR
        if kv_per_head:
            flags |= _ffi.SESSION_KV_PER_HEAD
        o.flags = flags
        o.lsb_threshold = threshold_fixed(lsb_threshold)
        o.score_scale = check_scale(scale)
        pinned = [int(t) for t in pinned]
        if len(pinned) > _ffi.MAX_PINNED:
            raise ValueError("%d pinned tokens: at most %d"
                             % (len(pinned), _ffi.MAX_PINNED))
        if any(not 0 <= t < max_context for t in pinned):
            raise ValueError("pinned tokens %s: positions 0..%d"
                             % (pinned, max_context - 1))
        o.n_pinned = len(pinned)
        for i, t in enumerate(pinned):
            o.pinned[i] = t
        if schedule is not None:
            if not isinstance(schedule, Schedule):
                raise TypeError("schedule: a spatten.Schedule (Schedule("
                                "tok_keep, head_keep, value_keep) or "
                                "Schedule.paper(...))")
            if len(schedule) != n_layers:
                raise ValueError("schedule of %d layers for %d"
                                 % (len(schedule), n_layers))
            for i in range(n_layers):
                o.schedule.tok_keep[i] = schedule.tok_keep[i]
                o.schedule.head_keep[i] = schedule.head_keep[i]
                o.schedule.value_keep[i] = schedule.value_keep[i]
        if kv_budget is not None:
            if len(kv_budget) != 3:
                raise ValueError("kv_budget is (start, important, recent)")
            for name, n in zip(("kv_start", "kv_important", "kv_recent"),
                               kv_budget):
                _ffi.setfield(o, name, n)
        h = ctypes.c_void_p()
        device._ref()
        try:
            check(lib.spatten_session_open(device.handle, ctypes.byref(o),
                                           ctypes.byref(h)),
                  "spatten_session_open", self._shape_text(o))
        except Exception:
            device._unref()
            raise
        self._h = h.value
        _count("sessions", 1)
        self.device = device
        self.kind = kind
        self.n_layers, self.n_heads = n_layers, n_heads
        self.n_kv_heads, self.head_dim = n_kv_heads, head_dim
        self.max_context = max_context
        self.kv_budget = kv_budget
        self._lock = threading.Lock()
        self._next_layer = 0        # the layer the current pass is at

    @staticmethod
    def _shape_text(o):
        return ("%d layers x %d heads (%d KV), head_dim %d, max_context %d"
                % (o.n_layers, o.n_heads, o.n_kv_heads, o.head_dim,
                   o.max_context))

    @property
    def handle(self):
        if self._h is None:
            raise ValueError("session is closed")
        return self._h

    def close(self):
        """Free the session and its buffers.  Idempotent."""
        lock = getattr(self, "_lock", None)
        if lock is None:            # __init__ failed before the handle
            return
        with lock:
            h, self._h = self._h, None
        if h is not None:
            lib.spatten_session_destroy(h)
            _count("sessions", -1)
            self.device._unref()

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def reset(self):
        """Start a new sequence: empty cache, importance cleared."""
        with self._lock:
            check(lib.spatten_session_reset(self.handle),
                  "spatten_session_reset")
            self._next_layer = 0

    # -- attention ------------------------------------------------------------

    def _views(self, x, heads, name, layout):
        op = arrays.operand(x, name, writable=(name == "out"))
        shape = op.shape
        if len(shape) == 4:
            if shape[0] != 1:
                raise ValueError("%s: batch of %d; a session is one sequence"
                                 % (name, shape[0]))
            op = arrays.Operand(op.ptr, op.dtype, shape[1:], op.strides[1:],
                                op.keep, op.torch)
            shape = op.shape
        if len(shape) != 3:
            raise ValueError("%s: shape %s, expected (heads, tokens, head_dim)"
                             " or (1, heads, tokens, head_dim)"
                             % (name, tuple(shape)))
        ha, ta = (0, 1) if layout == "htd" else (1, 0)
        if shape[ha] != heads:
            raise ValueError("%s: %d heads, the session has %d"
                             % (name, shape[ha], heads))
        return op, shape[ta], arrays.view(op, ha, ta, name, self.head_dim)

    def attend(self, layer, q, k, v, out=None, *, layout="htd"):
        """Run ``layer``'s attention for the new tokens and return the
        output (a new array of q's library and type, or ``out``).

        ``q`` is ``(n_heads, n_new, head_dim)`` (``layout="htd"``, PyTorch's
        attention layout; a leading batch of 1 is accepted) or ``(n_new,
        n_heads, head_dim)`` (``layout="thd"``, a projection's view); ``k``
        and ``v`` the same with ``n_kv_heads``.  Any strides, rows
        contiguous; float32, float16, bfloat16 (torch) read in place.
        Layers go in order, each pass from 0 to ``n_layers - 1``.
        """
        if layout not in ("htd", "thd"):
            raise ValueError("layout %r: 'htd' or 'thd'" % (layout,))
        if layer != self._next_layer:
            if not 0 <= layer < self.n_layers:
                raise ValueError("layer %d of a %d-layer session"
                                 % (layer, self.n_layers))
            raise ValueError(
                "layer %d called while the pass is at layer %d: a pass "
                "runs every layer 0..%d in order (is n_layers right? "
                "reset() abandons a pass)" % (layer, self._next_layer,
                                              self.n_layers - 1))
        qo, n, qv = self._views(q, self.n_heads, "q", layout)
        batched = len(arrays.shape_of(q)) == 4
        ko, nk, kv = self._views(k, self.n_kv_heads, "k", layout)
        vo, nv, vv = self._views(v, self.n_kv_heads, "v", layout)
        if not n == nk == nv:
            raise ValueError("q, k, v hold %d, %d, %d tokens" % (n, nk, nv))
        if out is None:
            out = arrays.empty_like(qo, ((1,) if batched else ()) +
                                    qo.shape)
        oo, no, ov = self._views(out, self.n_heads, "out", layout)
        if no != n:
            raise ValueError("out holds %d tokens, q %d" % (no, n))
        with self._lock:
            ret = lib.spatten_session_attend(self.handle, layer, n,
                                             ctypes.byref(qv),
                                             ctypes.byref(kv),
                                             ctypes.byref(vv),
                                             ctypes.byref(ov))
            if ret >= 0:
                self._next_layer = (layer + 1) % self.n_layers
        if ret < 0:
            raise self._attend_error(ret, layer, n)
        return out

    def _attend_error(self, ret, layer, n):
        reason = _ffi.last_error()      # before the calls below clear it
        ctx = self._context_or_minus()
        text = "layer %d of %d, %d new tokens, context %d of %d" % (
            layer, self.n_layers, n, ctx, self.max_context)
        if -ret == errno.ENOSPC:
            text += " (max_context is the cache's capacity"
            text += ", less what the budget keeps)" if self.kv_budget \
                else ")"
        e = make_error(ret, "spatten_session_attend", text, reason)
        if -ret == errno.EIO:
            st = self.stats(layer)
            e.status, e.status_name = st.status, st.status_name
        return e

    def _context_or_minus(self):
        return lib.spatten_session_context(self._h) if self._h else -1

    def import_kv(self, k, v, *, layout="htd"):
        """Append tokens to every layer's cache without attention: ``k``
        and ``v`` are lists of ``n_layers`` arrays of ``n_kv_heads`` heads
        of the same tokens (a prompt run elsewhere, a saved conversation)."""
        if len(k) != self.n_layers or len(v) != self.n_layers:
            raise ValueError("import_kv takes one K and one V per layer (%d)"
                             % self.n_layers)
        kvs, vvs = (_ffi.View * self.n_layers)(), (_ffi.View * self.n_layers)()
        keep, n = [], None
        for i in range(self.n_layers):
            ko, nk, kvs[i] = self._views(k[i], self.n_kv_heads, "k", layout)
            vo, nv, vvs[i] = self._views(v[i], self.n_kv_heads, "v", layout)
            keep += [ko, vo]
            if n is None:
                n = nk
            if nk != n or nv != n:
                raise ValueError("layer %d: K and V of %d and %d tokens, "
                                 "expected %d" % (i, nk, nv, n))
        if self._next_layer:
            raise ValueError("import_kv inside a pass (at layer %d)"
                             % self._next_layer)
        with self._lock:
            check(lib.spatten_session_import(self.handle, n, kvs, vvs),
                  "spatten_session_import", "%d tokens" % n)

    # -- state --------------------------------------------------------------

    @property
    def context(self):
        """Tokens in the KV cache after the last complete pass."""
        return check(lib.spatten_session_context(self.handle),
                     "spatten_session_context")

    def stats(self, layer):
        """The layer's last job (:class:`LayerStats`)."""
        s = _ffi.LayerStats()
        check(lib.spatten_session_layer_stats(self.handle, layer,
                                              ctypes.byref(s), None),
              "spatten_session_layer_stats", "layer %d" % layer)
        return _layer_stats(s)

    def total_stats(self, layer):
        """The layer's sums since open or reset."""
        s = _ffi.LayerStats()
        check(lib.spatten_session_layer_stats(self.handle, layer, None,
                                              ctypes.byref(s)),
              "spatten_session_layer_stats", "layer %d" % layer)
        return _layer_stats(s)

    def _list(self, fn, name, ctype, npt, *args):
        n = check(fn(self.handle, *args, None, 0), name)
        while True:
            arr = np.zeros(n, npt)
            got = check(fn(self.handle, *args,
                           arr.ctypes.data_as(ctypes.POINTER(ctype)), n),
                        name)
            if got <= n:
                return arr[:got]
            n = got

    def alive(self, layer):
        """The cache slots alive at ``layer`` (kept in the last pass)."""
        return self._list(lib.spatten_session_alive, "spatten_session_alive",
                          ctypes.c_uint32, np.uint32, layer)

    def heads(self, layer):
        """The heads ``layer`` computed in the last pass."""
        return self._list(lib.spatten_session_heads, "spatten_session_heads",
                          ctypes.c_uint16, np.uint16, layer)

    def _cache(self, fn, name, *args):
        n = check(fn(self.handle, *args, None, None, 0), name)
        while True:
            ids, imp = np.zeros(n, np.uint32), np.zeros(n, np.uint64)
            got = check(fn(self.handle, *args,
                           ids.ctypes.data_as(ctypes.POINTER(ctypes.c_uint32)),
                           imp.ctypes.data_as(ctypes.POINTER(ctypes.c_uint64)),
                           n), name)
            if got <= n:
                return ids[:got], imp[:got]
            n = got

    def cache(self):
        """``(tokens, importance)``: the sequence index of the token in
        each cache slot and its importance (the board's fixed point)."""
        return self._cache(lib.spatten_session_cache, "spatten_session_cache")

    def cache_head(self, layer, kv_head):
        """As :meth:`cache`, for one layer's KV head (``kv_per_head``)."""
        return self._cache(lib.spatten_session_cache_head,
                           "spatten_session_cache_head", layer, kv_head)

    def saturations(self, layer):
        """``(q, k, v)`` elements of ``layer`` that saturated."""
        c = [ctypes.c_uint64() for _ in range(3)]
        check(lib.spatten_session_saturations(self.handle, layer,
                                              *map(ctypes.byref, c)),
              "spatten_session_saturations", "layer %d" % layer)
        return tuple(x.value for x in c)

    def __repr__(self):
        if self._h is None:
            return "<spatten.Session closed>"
        return "<spatten.Session %s, %d layers x %d heads (%d KV) x %d, " \
               "context %d/%d>" % (self.kind, self.n_layers, self.n_heads,
                                   self.n_kv_heads, self.head_dim,
                                   self.context, self.max_context)


def keep_count(n, ratio, ceil):
    """The library's count for a keep ratio of ``n`` items (``struct
    spatten_schedule``): a product within n*r*2^-23 of an integer is that
    integer, else floored (tokens) or ceiled (heads, V rows)."""
    r = float(np.float32(ratio))
    x = n * r
    k = round(x)
    if abs(x - k) <= x * 2.0 ** -23:
        return int(k)
    return int(math.ceil(x) if ceil else math.floor(x))
