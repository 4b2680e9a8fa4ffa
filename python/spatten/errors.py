# SPDX-License-Identifier: MIT
"""Exceptions: every libspatten failure is a :class:`SpattenError`.

The library returns ``-errno``; the exception carries that ``errno``, the
name of the C function that failed and a message (the library's own when
it keeps one, else the errno's text plus what the Python call knows).
Each errno class also derives from the built-in exception Python code
already catches for it (``ValueError`` for ``EINVAL``, ``MemoryError``
for ``ENOMEM``, ``FileNotFoundError`` for a missing board, ...).
"""

import errno as _errno
import os

from . import _ffi


class SpattenError(OSError):
    """A libspatten call failed.

    Attributes: ``errno`` (positive), ``strerror`` (its text), ``function``
    (the C function), ``message`` (the whole explanation).
    """

    def __init__(self, err, function, message):
        super().__init__(err, os.strerror(err))
        self.function = function
        self.message = message

    def __reduce__(self):       # picklable: multiprocessing, DataLoader
        return (type(self), (self.errno, self.function, self.message),
                self.__dict__)

    def __str__(self):
        return "%s: %s [%s]" % (self.function, self.message,
                                _errno.errorcode.get(self.errno, self.errno))


class InvalidArgumentError(SpattenError, ValueError):
    """EINVAL: an argument, shape or option the library refuses."""


class NotSupportedError(SpattenError, NotImplementedError):
    """EOPNOTSUPP: the board (or backend) lacks a feature, format or size."""


class DeviceNotFoundError(SpattenError, FileNotFoundError):
    """ENOENT/ENODEV/ENXIO: no such board, handle or job."""


class OutOfMemoryError(SpattenError, MemoryError):
    """ENOMEM: the library or the driver could not allocate."""


class SaturationError(SpattenError, ArithmeticError):
    """ERANGE from a session or attention(): a value would saturate."""


class OutOfBufferError(SpattenError, ValueError):
    """ERANGE from a job: an operand does not fit inside its buffer."""


class UnknownJobError(SpattenError, LookupError):
    """ENOENT from wait: no such job, or it was reaped already."""


class AccessDeniedError(SpattenError, PermissionError):
    """EACCES/EPERM: no permission on the board's node."""


class CacheFullError(SpattenError):
    """ENOSPC: the KV cache cannot hold the new tokens."""


class TooBigError(SpattenError, ValueError):
    """EFBIG/E2BIG/EOVERFLOW: a size past what the board or struct allows."""


class JobError(SpattenError):
    """EIO: the job ran and failed; ``status`` has the device's status."""

    status = None
    status_name = None


class JobTimeoutError(SpattenError, TimeoutError):
    """ETIME/ETIMEDOUT: the job did not complete in time."""


class BusyError(SpattenError, BlockingIOError):
    """EBUSY/EAGAIN: too many jobs waiting to be reaped."""


class CanceledError(SpattenError):
    """ECANCELED: the handle is banned after a hang; open the device again."""


class ProtocolError(SpattenError):
    """EPROTO/ENOTTY: the node is not a SpAtten board of a supported API."""


_CLASSES = {
    _errno.EINVAL: InvalidArgumentError,
    _errno.EOPNOTSUPP: NotSupportedError,
    _errno.ENOENT: DeviceNotFoundError,
    _errno.ENODEV: DeviceNotFoundError,
    _errno.ENXIO: DeviceNotFoundError,
    _errno.ENOMEM: OutOfMemoryError,
    _errno.ERANGE: SaturationError,
    _errno.ENOSPC: CacheFullError,
    _errno.EFBIG: TooBigError,
    _errno.E2BIG: TooBigError,
    _errno.EOVERFLOW: TooBigError,
    _errno.EIO: JobError,
    _errno.ETIME: JobTimeoutError,
    _errno.ETIMEDOUT: JobTimeoutError,
    _errno.EBUSY: BusyError,
    _errno.EAGAIN: BusyError,
    _errno.ECANCELED: CanceledError,
    _errno.EPROTO: ProtocolError,
    _errno.ENOTTY: ProtocolError,
    _errno.EACCES: AccessDeniedError,
    _errno.EPERM: AccessDeniedError,
    _errno.EFAULT: InvalidArgumentError,
}

# Where one errno means something else for a given call.
_BY_FUNCTION = {
    ("spatten_attn_prep3", _errno.ERANGE): OutOfBufferError,
    ("spatten_submit3", _errno.ERANGE): OutOfBufferError,
    ("spatten_wait", _errno.ENOENT): UnknownJobError,
}

# What an errno means for a given call, when the library says no more.
_HINTS = {
    ("spatten_open_backend", _errno.ENOENT):
        "from Python: spatten.open(backend='sim') runs on the in-process "
        "simulation",
    ("spatten_open_backend", _errno.ENODEV):
        "from Python: spatten.open(backend='sim') runs on the in-process "
        "simulation",
    ("spatten_open_backend", _errno.EACCES):
        "permission denied on the board's node (group 'render' or root?)",
}


def job_failed(result, function):
    """The :class:`JobError` of a job that completed with an error status
    (a :class:`spatten.Result`)."""
    e = JobError(_errno.EIO, function,
                 "the job failed on the device: %s (status %d)"
                 % (result.status_name, result.status))
    e.status, e.status_name = result.status, result.status_name
    return e


def error_class(err, function=None):
    """The exception class of a positive errno (raised by ``function``)."""
    return _BY_FUNCTION.get((function, err)) or _CLASSES.get(err,
                                                             SpattenError)


def make_error(ret, function, context=None, reason=None):
    """The exception for a ``-errno`` return of ``function``; ``reason``
    is the library's message when the caller had to read it early (before
    another library call), else it is read here."""
    err = -ret
    parts = [reason or _ffi.last_error() or os.strerror(err)]
    hint = _HINTS.get((function, err))
    if hint and not (context and context.startswith("path '/")):
        parts.append(hint)  # not when a node was named: no board hunt
    if context:
        parts.append(context)
    return error_class(err, function)(err, function, "; ".join(parts))


def check(ret, function, context=None):
    """Raise for a negative return, else give it back."""
    if ret < 0:
        raise make_error(ret, function, context)
    return ret
