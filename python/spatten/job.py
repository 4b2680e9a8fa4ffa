# SPDX-License-Identifier: MIT
"""Single jobs: every knob of the hardware, as ``spatten_attn_prep3()``
takes them (libspatten.h, ``struct spatten_attn_desc`` and ``struct
spatten_attn_ext``)."""

import ctypes

from . import _ffi
from ._ffi import lib
from .errors import make_error

# Operands: a (Buffer, offset) pair, or a Buffer (offset 0).
_DESC_REFS = ("q", "k", "v", "out", "k_lsb", "tok_imp", "tok_alive",
              "tok_kept", "pinned", "head_imp", "head_alive", "head_kept")
_EXT_REFS = ("block_table", "positions", "head_fracs")
_DESC_INTS = ("n_heads", "head_dim", "q_rows", "kv_rows", "q_start",
              "stage", "flags", "q_frac", "k_frac", "v_frac", "out_frac",
              "user_data", "k_fmt", "v_fmt", "lsb_threshold", "topk_seed",
              "n_tok_alive", "token_keep", "n_pinned", "n_head_alive",
              "head_keep", "value_keep")
_EXT_INTS = ("n_kv_heads", "kv_head_stride", "kv_row_stride",
             "kv_block_stride", "kv_block_rows", "rope_base")


def _ref(dst, name, value, buffers):
    if value is None:
        return
    if isinstance(value, tuple):
        buf, off = value
    else:
        buf, off = value, 0
    if off < 0:
        raise ValueError("%s: negative offset %d" % (name, off))
    ref = getattr(dst, name)
    ref.bo = buf.handle
    ref.offset = off
    buffers.append(buf)


class Job:
    """One attention job, checked and encoded (descriptor version 3).

    Keyword arguments are the fields of ``struct spatten_attn_desc`` and
    ``struct spatten_attn_ext`` (names as in C; operands as ``buffer`` or
    ``(buffer, offset)``; ``score_scale`` a float, 0 for 1/sqrt(D)).
    Raises :class:`spatten.InvalidArgumentError` /
    :class:`spatten.SaturationError` as ``spatten_attn_prep3()`` returns
    ``-EINVAL`` / ``-ERANGE``.  Submit with :meth:`Device.submit` or
    :meth:`Device.run`.
    """

    def __init__(self, device, **fields):
        desc, ext = _ffi.AttnDesc(), _ffi.AttnExt()
        self._buffers = []
        for name, value in fields.items():
            if name in _DESC_REFS:
                _ref(desc, name, value, self._buffers)
            elif name in _EXT_REFS:
                _ref(ext, name, value, self._buffers)
            elif name in _DESC_INTS:
                _ffi.setfield(desc, name, value)
            elif name in _EXT_INTS:
                _ffi.setfield(ext, name, value)
            elif name == "score_scale":
                ext.score_scale = float(value)
            else:
                raise TypeError("Job: unknown field %r" % name)
        for b in self._buffers:
            if b.device is not device:
                raise ValueError("a buffer of another device")
        self.device = device
        self._raw = _ffi.Job3()
        ret = lib.spatten_attn_prep3(ctypes.byref(self._raw),
                                     ctypes.byref(desc), ctypes.byref(ext))
        if ret < 0:
            raise make_error(ret, "spatten_attn_prep3", _describe(desc, ext))

    @classmethod
    def nop(cls, device, user_data=0):
        """A job that completes at once (fences a queue, measures latency)."""
        self = cls.__new__(cls)
        self.device = device
        self._buffers = []
        self._raw = _ffi.Job3()
        lib.spatten_nop_prep(ctypes.cast(ctypes.byref(self._raw),
                                         ctypes.POINTER(_ffi.Job)), user_data)
        return self


def _describe(d, e):
    return ("job of %d heads (%d KV), head_dim %d, %d query rows, %d KV rows"
            % (d.n_heads, e.n_kv_heads or d.n_heads, d.head_dim, d.q_rows,
               d.kv_rows))
