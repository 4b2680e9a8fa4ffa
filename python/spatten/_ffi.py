# SPDX-License-Identifier: MIT
"""ctypes bindings of libspatten: the library, its structs and prototypes.

Everything here mirrors ``libspatten.h`` and ``spatten_types.h``.  The
mirror is pinned by ``tests/test_layout.py``, which compares every struct's
size and every field's offset, and every constant, with what a C program
built from the installed headers prints.  Nothing outside this package
should import it: the public API is in :mod:`spatten`.
"""

import ctypes
import ctypes.util
import os

from ctypes import (POINTER, Structure, c_char, c_char_p, c_float, c_int,
                    c_int64, c_long, c_size_t, c_uint, c_uint8, c_uint16,
                    c_uint32, c_uint64, c_void_p)

LIB_ENV = "SPATTEN_LIBRARY"
BACKEND_ENV = "SPATTEN_BACKEND"
SONAME = "libspatten.so.1"

# ---- constants (libspatten.h, spatten_types.h, spatten_hw.h) ------------

BACKEND_DEFAULT, BACKEND_DEVICE, BACKEND_SIM = 0, 1, 2

ATTN_CAUSAL = 1 << 0
ATTN_PROGRESSIVE = 1 << 1
ATTN_ROPE = 1 << 2
ATTN_ROPE_POSITIONS = 1 << 3
ATTN_HEAD_FRACS = 1 << 4
ATTN_IMP_PER_KV_HEAD = 1 << 5

STAGE_SUMMARIZATION, STAGE_GENERATION = 0, 1

FMT_S16, FMT_S4, FMT_S6, FMT_S8, FMT_S10, FMT_S12 = range(6)
LSB_BITS = 4

SESSION_PROGRESSIVE = 1 << 1
SESSION_FIXED_SCALES = 1 << 2
SESSION_SATURATION_ERROR = 1 << 3
SESSION_KV_PER_HEAD = 1 << 4
SESSION_ENCODER, SESSION_DECODER = 1, 2

DTYPE_F32, DTYPE_F16, DTYPE_BF16 = 0, 1, 2

MAX_LAYERS = 128
MAX_PINNED = 64
MAX_SUBMIT = 64
REAP_MAX = 256
CNT_MAX = 15
MAX_FRAC = 15
WAIT_FOREVER = -1
STATUS_TIMEOUT = 256
STATUS_CANCELED = 257

FEAT_BITS = {
    "causal": 1 << 0, "generation": 1 << 1, "page_list": 1 << 2,
    "intx": 1 << 3, "token_prune": 1 << 4, "head_prune": 1 << 5,
    "value_prune": 1 << 6, "progressive": 1 << 7, "desc_v3": 1 << 8,
    "gqa": 1 << 9, "kv_layout": 1 << 10, "rope": 1 << 11,
    "chunks": 1 << 12, "imp_per_kv_head": 1 << 13,
}

# Counter names, indexed by SPATTEN_CNT_* (the device's, then the driver's).
COUNTER_NAMES = (
    "jobs_ok", "jobs_err", "bytes_q", "bytes_k_msb", "bytes_k_lsb",
    "bytes_v", "bytes_written", "lsb_refetches", "cycles", "bytes_meta",
    "resets", "timeouts", "irqs_dropped",
)

# ---- structs ---------------------------------------------------------------


class Info(Structure):
    _fields_ = [
        ("api_version", c_uint32), ("hw_version", c_uint32),
        ("vendor_id", c_uint16), ("device_id", c_uint16),
        ("num_engines", c_uint32), ("num_queues", c_uint32),
        ("queue_depth", c_uint32), ("max_context", c_uint32),
        ("max_heads", c_uint32), ("head_dims", c_uint32),
        ("formats", c_uint32), ("splits", c_uint32),
        ("features", c_uint32), ("dma_bits", c_uint32),
        ("rsvd0", c_uint32), ("max_bo_size", c_uint64),
        ("rsvd", c_uint64 * 4),
    ]


class Counters(Structure):
    _fields_ = [("flags", c_uint32), ("num", c_uint32),
                ("value", c_uint64 * CNT_MAX)]


class Board(Structure):
    _fields_ = [("index", c_uint), ("path", c_char * 32),
                ("pci_addr", c_char * 32)]


class TensorRef(Structure):
    _fields_ = [("bo", c_void_p), ("offset", c_uint64)]


class AttnDesc(Structure):
    _fields_ = [
        ("n_heads", c_uint32), ("head_dim", c_uint32),
        ("q_rows", c_uint32), ("kv_rows", c_uint32),
        ("q_start", c_uint32), ("stage", c_uint32), ("flags", c_uint32),
        ("q_frac", c_uint8), ("k_frac", c_uint8), ("v_frac", c_uint8),
        ("out_frac", c_uint8),
        ("q", TensorRef), ("k", TensorRef), ("v", TensorRef),
        ("out", TensorRef), ("user_data", c_uint64),
        ("k_fmt", c_uint8), ("v_fmt", c_uint8), ("lsb_threshold", c_uint16),
        ("topk_seed", c_uint32),
        ("k_lsb", TensorRef), ("tok_imp", TensorRef),
        ("tok_alive", TensorRef), ("tok_kept", TensorRef),
        ("pinned", TensorRef), ("head_imp", TensorRef),
        ("head_alive", TensorRef), ("head_kept", TensorRef),
        ("n_tok_alive", c_uint32), ("token_keep", c_uint32),
        ("n_pinned", c_uint32), ("n_head_alive", c_uint32),
        ("head_keep", c_uint32), ("value_keep", c_uint32),
    ]


class AttnExt(Structure):
    _fields_ = [
        ("n_kv_heads", c_uint32), ("kv_head_stride", c_uint32),
        ("kv_row_stride", c_uint32), ("kv_block_stride", c_uint32),
        ("kv_block_rows", c_uint32), ("rope_base", c_uint32),
        ("score_scale", c_float), ("rsvd0", c_uint32),
        ("block_table", TensorRef), ("positions", TensorRef),
        ("head_fracs", TensorRef), ("rsvd", c_uint64 * 2),
    ]


# struct spatten_job and struct spatten_job3 are filled by the library and
# passed back to it whole: their size is all Python needs.
JOB_SIZE = 288
JOB3_SIZE = 392


class Job(Structure):
    _fields_ = [("raw", c_uint64 * (JOB_SIZE // 8))]


class Job3(Structure):
    _fields_ = [("raw", c_uint64 * (JOB3_SIZE // 8))]


class Result(Structure):
    _fields_ = [
        ("status", c_uint32), ("lsb_refetches", c_uint32),
        ("user_data", c_uint64), ("bytes_q", c_uint64),
        ("bytes_k_msb", c_uint64), ("bytes_k_lsb", c_uint64),
        ("bytes_v", c_uint64), ("bytes_written", c_uint64),
        ("cycles", c_uint64),
    ]


class Wait(Structure):
    _fields_ = [
        ("seqno", c_uint64), ("timeout_ns", c_int64), ("flags", c_uint32),
        ("status", c_uint32), ("user_data", c_uint64),
        ("bytes_q", c_uint64), ("bytes_k_msb", c_uint64),
        ("bytes_k_lsb", c_uint64), ("bytes_v", c_uint64),
        ("bytes_written", c_uint64), ("cycles", c_uint64),
        ("lsb_refetches", c_uint32), ("rsvd0", c_uint32),
        ("rsvd", c_uint64 * 1),
    ]


class Schedule(Structure):
    _fields_ = [("tok_keep", c_float * MAX_LAYERS),
                ("head_keep", c_float * MAX_LAYERS),
                ("value_keep", c_float * MAX_LAYERS)]


class SessionOpts(Structure):
    _fields_ = [
        ("size", c_uint32), ("kind", c_uint32), ("n_layers", c_uint32),
        ("n_heads", c_uint32), ("n_kv_heads", c_uint32),
        ("head_dim", c_uint32), ("max_context", c_uint32),
        ("flags", c_uint32),
        ("k_bits", c_uint8), ("v_bits", c_uint8), ("q_frac", c_uint8),
        ("k_frac", c_uint8), ("v_frac", c_uint8), ("out_frac", c_uint8),
        ("lsb_threshold", c_uint16), ("topk_seed", c_uint32),
        ("score_scale", c_float), ("rope_base", c_uint32),
        ("n_pinned", c_uint32), ("pinned", c_uint32 * MAX_PINNED),
        ("schedule", Schedule),
        ("kv_start", c_uint32), ("kv_important", c_uint32),
        ("kv_recent", c_uint32), ("max_step", c_uint32),
    ]


class View(Structure):
    _fields_ = [("data", c_void_p), ("dtype", c_uint32), ("rsvd", c_uint32),
                ("token_stride", c_int64), ("head_stride", c_int64)]


class LayerStats(Structure):
    _fields_ = [
        ("status", c_uint32), ("stage", c_uint32), ("kv_rows", c_uint32),
        ("q_rows", c_uint32), ("tokens_alive", c_uint32),
        ("tokens_kept", c_uint32), ("heads_alive", c_uint32),
        ("heads_kept", c_uint32), ("value_keep", c_uint32),
        ("lsb_refetches", c_uint32), ("query_rows", c_uint64),
        ("bytes_q", c_uint64), ("bytes_k_msb", c_uint64),
        ("bytes_k_lsb", c_uint64), ("bytes_v", c_uint64),
        ("bytes_written", c_uint64), ("bytes_dense", c_uint64),
        ("cycles", c_uint64),
    ]


STRUCTS = {
    "spatten_info": Info, "spatten_counters": Counters,
    "spatten_board": Board, "spatten_tensor_ref": TensorRef,
    "spatten_attn_desc": AttnDesc, "spatten_attn_ext": AttnExt,
    "spatten_job": Job, "spatten_job3": Job3, "spatten_result": Result,
    "spatten_wait": Wait, "spatten_schedule": Schedule,
    "spatten_session_opts": SessionOpts, "spatten_view": View,
    "spatten_layer_stats": LayerStats,
}

# ---- the library -----------------------------------------------------------

_P = c_void_p
_PROTOTYPES = {
    # devices
    "spatten_open_backend": (c_int, [c_char_p, c_int, POINTER(_P)]),
    "spatten_open_index": (c_int, [c_uint, POINTER(_P)]),
    "spatten_close": (None, [_P]),
    "spatten_backend": (c_int, [_P]),
    "spatten_list_boards": (c_int, [POINTER(Board), c_uint]),
    "spatten_fd": (c_int, [_P]),
    "spatten_get_info": (c_int, [_P, POINTER(Info)]),
    "spatten_probe": (c_int, [_P, c_uint32]),
    "spatten_get_counters": (c_int, [_P, POINTER(Counters)]),
    # buffers
    "spatten_bo_alloc": (c_int, [_P, c_size_t, POINTER(_P)]),
    "spatten_bo_import": (c_int, [_P, _P, c_size_t, POINTER(_P)]),
    "spatten_bo_free": (None, [_P]),
    "spatten_bo_map": (c_void_p, [_P]),
    "spatten_bo_size": (c_size_t, [_P]),
    "spatten_bo_handle": (c_uint32, [_P]),
    # fixed point
    "spatten_quantize_s16": (c_long, [_P, _P, c_size_t, c_uint]),
    "spatten_dequantize_s16": (c_int, [_P, _P, c_size_t, c_uint]),
    "spatten_frac_for_bits": (c_int, [c_float, c_uint]),
    "spatten_max_abs": (c_float, [_P, c_size_t]),
    "spatten_fmt_of_bits": (c_int, [c_uint]),
    "spatten_packed_bytes": (c_uint64, [c_uint, c_uint64]),
    "spatten_pack": (c_long, [_P, c_uint, _P, c_size_t, c_uint]),
    "spatten_pack_split": (c_long, [_P, _P, c_uint, _P, c_size_t, c_uint]),
    # jobs
    "spatten_attn_prep3": (c_int, [POINTER(Job3), POINTER(AttnDesc),
                                   POINTER(AttnExt)]),
    "spatten_nop_prep": (None, [POINTER(Job), c_uint64]),
    "spatten_submit": (c_int, [_P, POINTER(Job), c_uint, POINTER(c_uint64)]),
    "spatten_submit3": (c_int, [_P, POINTER(Job3), c_uint,
                                POINTER(c_uint64)]),
    "spatten_wait": (c_int, [_P, c_uint64, c_int64, POINTER(Result)]),
    "spatten_reap": (c_int, [_P, POINTER(Wait), c_uint, c_uint, c_int64]),
    "spatten_run3": (c_int, [_P, POINTER(Job3), POINTER(Result)]),
    "spatten_now_ns": (c_int64, []),
    "spatten_status_str": (c_char_p, [c_uint]),
    # sessions
    "spatten_schedule_paper": (c_int, [POINTER(Schedule), c_uint, c_float,
                                       c_float, c_float, c_float, c_float]),
    "spatten_session_opts_init": (None, [POINTER(SessionOpts), c_uint32,
                                         c_uint32, c_uint32, c_uint32,
                                         c_uint32, c_uint32]),
    "spatten_session_open": (c_int, [_P, POINTER(SessionOpts), POINTER(_P)]),
    "spatten_session_destroy": (None, [_P]),
    "spatten_session_reset": (c_int, [_P]),
    "spatten_session_attend": (c_int, [_P, c_uint, c_uint, POINTER(View),
                                       POINTER(View), POINTER(View),
                                       POINTER(View)]),
    "spatten_session_import": (c_int, [_P, c_uint, POINTER(View),
                                       POINTER(View)]),
    "spatten_session_layer_stats": (c_int, [_P, c_uint, POINTER(LayerStats),
                                            POINTER(LayerStats)]),
    "spatten_session_alive": (c_int, [_P, c_uint, POINTER(c_uint32),
                                      c_uint]),
    "spatten_session_heads": (c_int, [_P, c_uint, POINTER(c_uint16),
                                      c_uint]),
    "spatten_session_context": (c_int, [_P]),
    "spatten_session_cache": (c_int, [_P, POINTER(c_uint32),
                                      POINTER(c_uint64), c_uint]),
    "spatten_session_cache_head": (c_int, [_P, c_uint, c_uint,
                                           POINTER(c_uint32),
                                           POINTER(c_uint64), c_uint]),
    "spatten_session_saturations": (c_int, [_P, c_uint, POINTER(c_uint64),
                                            POINTER(c_uint64),
                                            POINTER(c_uint64)]),
    # element types
    "spatten_convert": (c_int, [_P, c_int, _P, c_int, c_size_t]),
}

# Optional entry points: a newer library may have them (looked up lazily).
_OPTIONAL = {
    "spatten_last_error": (c_char_p, []),
}


def _candidates():
    env = os.environ.get(LIB_ENV)
    if env:
        return [env]
    names = []
    try:    # written by `make install`: the library it installed with us
        from ._paths import LIBDIR
        names.append(os.path.join(LIBDIR, SONAME))
    except ImportError:
        pass
    found = ctypes.util.find_library("spatten")
    if found:
        names.append(found)
    names.append(SONAME)
    return names


def _load():
    errors = []
    for name in _candidates():
        try:
            lib = ctypes.CDLL(name, use_errno=False)
        except OSError as e:
            errors.append(str(e))
            continue
        missing = [fn for fn in _PROTOTYPES if not hasattr(lib, fn)]
        if missing:
            errors.append("%s is older than libspatten 1.3 (no %s)"
                          % (name, missing[0]))
            continue
        for fn, (restype, argtypes) in _PROTOTYPES.items():
            f = getattr(lib, fn)
            f.restype = restype
            f.argtypes = argtypes
        for fn, (restype, argtypes) in _OPTIONAL.items():
            f = getattr(lib, fn, None)
            if f is not None:
                f.restype = restype
                f.argtypes = argtypes
        return lib
    raise ImportError(
        "libspatten (%s) not found: install it (make install, then "
        "ldconfig) or point %s at the library file (%s)"
        % (SONAME, LIB_ENV, "; ".join(errors)))


lib = _load()


def setfield(struct, name, value):
    """Set an integer field, refusing what ctypes would silently truncate
    (a negative count, 2**32 + 1 heads, 256 fractional bits)."""
    try:
        ivalue = int(value)
    except (TypeError, ValueError):
        raise TypeError("%s must be an integer, not %r" % (name, value))
    if ivalue != value:
        raise TypeError("%s must be an integer, not %r" % (name, value))
    setattr(struct, name, ivalue)
    if getattr(struct, name) != ivalue:
        raise OverflowError("%s = %d does not fit its %d-byte field"
                            % (name, ivalue, getattr(type(struct),
                                                     name).size))


def last_error():
    """The library's message for the calling thread's last failure, if the
    library keeps one (libspatten 1.4 and later), else None."""
    f = getattr(lib, "spatten_last_error", None)
    if f is None:
        return None
    msg = f()
    return msg.decode("utf-8", "replace") if msg else None
