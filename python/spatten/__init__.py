# SPDX-License-Identifier: MIT
"""SpAtten sparse attention from Python: libspatten through ctypes.

>>> import numpy as np, spatten
>>> dev = spatten.open(backend="sim")          # or a board: spatten.open()
>>> q = np.random.randn(12, 128, 64).astype(np.float32)
>>> out, st = spatten.attention(q, q, q, is_causal=True, device=dev)

:func:`attention` runs one layer as one job; :class:`Session` runs a whole
model with the cascade state (importance, alive tokens and heads, the KV
cache) kept on the board; :mod:`spatten.torch` has a PyTorch attention
module and KV cache.  Errors are :class:`SpattenError` subclasses carrying
the errno.  docs/python.md is the guide.
"""

from ._ffi import last_error
from .device import Board, Buffer, Device, Info, Result, list_boards, \
    live_objects, open  # noqa: F401 (not in __all__)
from .errors import AccessDeniedError, BusyError, CacheFullError, \
    CanceledError, DeviceNotFoundError, InvalidArgumentError, JobError, \
    JobTimeoutError, NotSupportedError, OutOfBufferError, \
    OutOfMemoryError, ProtocolError, SaturationError, SpattenError, \
    TooBigError, UnknownJobError
from .functional import AttentionStats, attention, default_device
from .job import Job
from .session import LayerStats, Schedule, Session

__version__ = "1.3.0"

# spatten.open is not in __all__: "from spatten import *" must not shadow
# the builtin open().
__all__ = [
    "list_boards", "live_objects", "last_error", "default_device",
    "Device", "Buffer", "Board", "Info", "Result", "Job",
    "attention", "AttentionStats",
    "Session", "Schedule", "LayerStats",
    "SpattenError", "InvalidArgumentError", "NotSupportedError",
    "DeviceNotFoundError", "OutOfMemoryError", "SaturationError",
    "CacheFullError", "TooBigError", "JobError", "JobTimeoutError",
    "BusyError", "CanceledError", "ProtocolError", "OutOfBufferError",
    "UnknownJobError", "AccessDeniedError",
]
