# SPDX-License-Identifier: MIT
"""numpy arrays and torch tensors as the library sees them.

An array is handed to libspatten as a pointer, an element type and strides
in elements (``struct spatten_view``): no copy when its rows are contiguous
(``stride(-1) == 1``), whatever its other strides.  torch tensors must live
on the CPU; nothing here imports torch unless the caller passes a tensor.
"""

import sys

import numpy as np

from . import _ffi

DTYPE_NAMES = {_ffi.DTYPE_F32: "float32", _ffi.DTYPE_F16: "float16",
               _ffi.DTYPE_BF16: "bfloat16"}


def is_torch(x):
    """Is ``x`` a torch tensor (without importing torch)?"""
    mod = sys.modules.get("torch")
    return mod is not None and isinstance(x, mod.Tensor)


def _torch_code(t):
    import torch
    codes = {torch.float32: _ffi.DTYPE_F32, torch.float16: _ffi.DTYPE_F16,
             torch.bfloat16: _ffi.DTYPE_BF16}
    if t.dtype not in codes:
        raise TypeError("tensor of %s: SpAtten takes float32, float16 or "
                        "bfloat16" % t.dtype)
    return codes[t.dtype]


def _numpy_code(a):
    if a.dtype == np.float32:
        return _ffi.DTYPE_F32
    if a.dtype == np.float16:
        return _ffi.DTYPE_F16
    raise TypeError("array of %s: SpAtten takes float32 or float16 (bfloat16 "
                    "as a torch tensor); convert with .astype(np.float32)"
                    % a.dtype)


class Operand:
    """One input or output: pointer, type, shape and strides in elements.

    ``keep`` holds what must stay alive while the library reads ``ptr``.
    """

    __slots__ = ("ptr", "dtype", "shape", "strides", "keep", "torch")

    def __init__(self, ptr, dtype, shape, strides, keep, torch):
        self.ptr = ptr
        self.dtype = dtype
        self.shape = tuple(shape)
        self.strides = tuple(strides)
        self.keep = keep
        self.torch = torch


def operand(x, name, writable=False):
    """Describe ``x`` (numpy array, torch tensor, or anything
    ``np.asarray`` takes, as float32) for the library."""
    if is_torch(x):
        if x.device.type != "cpu":
            raise ValueError("%s is on %s: SpAtten reads host memory; move it "
                             "with .cpu()" % (name, x.device))
        if x.requires_grad and writable:
            raise ValueError("%s requires grad: SpAtten does not write into "
                             "autograd tensors" % name)
        code = _torch_code(x)
        return Operand(x.data_ptr(), code, x.shape, x.stride(), x, True)
    if writable and not isinstance(x, np.ndarray):
        raise TypeError("%s must be a numpy array or a tensor (float32, "
                        "float16 or bfloat16), not %s" % (name,
                                                          type(x).__name__))
    if not isinstance(x, np.ndarray):
        x = np.asarray(x, dtype=np.float32)
    elif x.dtype == np.float64 and not writable:
        x = x.astype(np.float32)
    code = _numpy_code(x)
    if writable and not x.flags.writeable:
        raise ValueError("%s is read-only" % name)
    item = x.itemsize
    if any(s % item for s in x.strides):
        raise ValueError("%s has strides %s that are not whole elements"
                         % (name, x.strides))
    strides = tuple(s // item for s in x.strides)
    ptr = x.__array_interface__["data"][0]      # cheaper than x.ctypes
    return Operand(ptr, code, x.shape, strides, x, False)


def shape_of(x):
    """The shape of an array, tensor or nested sequence."""
    return tuple(x.shape) if hasattr(x, "shape") else np.shape(x)


def view(op, head_axis, token_axis, name, head_dim):
    """A ``struct spatten_view`` of a 3-D (or batch-indexed) operand."""
    if op.shape[-1] != head_dim:
        raise ValueError("%s: last dimension %d, expected head_dim %d"
                         % (name, op.shape[-1], head_dim))
    if head_dim > 1 and op.strides[-1] != 1:
        raise ValueError("%s: rows are not contiguous (stride(-1) = %d); "
                         "SpAtten reads head_dim elements in a row: use "
                         ".contiguous() or np.ascontiguousarray()"
                         % (name, op.strides[-1]))
    v = _ffi.View()
    v.data = op.ptr
    v.dtype = op.dtype
    v.token_stride = op.strides[token_axis]
    v.head_stride = op.strides[head_axis]
    return v


def empty_like(op, shape, dtype=None):
    """A new array of ``shape``, of the operand's library and type."""
    dtype = op.dtype if dtype is None else dtype
    if op.torch:
        import torch
        tt = {_ffi.DTYPE_F32: torch.float32, _ffi.DTYPE_F16: torch.float16,
              _ffi.DTYPE_BF16: torch.bfloat16}[dtype]
        return torch.empty(shape, dtype=tt)
    if dtype == _ffi.DTYPE_BF16:
        raise TypeError("numpy has no bfloat16")
    return np.empty(shape, dtype=np.float32 if dtype == _ffi.DTYPE_F32
                    else np.float16)


def as_float32(x, name):
    """``x`` as a float32 numpy array (no copy for float32; fp16 and bf16
    widen exactly)."""
    if is_torch(x):
        if x.device.type != "cpu":
            raise ValueError("%s is on %s: SpAtten reads host memory; move it "
                             "with .cpu()" % (name, x.device))
        import torch
        if x.dtype == torch.float32:
            return x.detach().numpy()
        if x.dtype == torch.float16:
            return x.detach().numpy().astype(np.float32)
        if x.dtype == torch.bfloat16:
            bits = x.detach().view(torch.int16).numpy().view(np.uint16)
            return (bits.astype(np.uint32) << 16).view(np.float32)
        raise TypeError("tensor of %s: SpAtten takes float32, float16 or "
                        "bfloat16" % x.dtype)
    a = np.asarray(x)
    if a.dtype == np.float32:
        return a
    if a.dtype in (np.float16, np.float64):
        return a.astype(np.float32)
    raise TypeError("array of %s: SpAtten takes float32, float16 (or "
                    "float64, converted to float32)" % a.dtype)
