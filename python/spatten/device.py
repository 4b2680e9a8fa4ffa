# SPDX-License-Identifier: MIT
"""Devices and buffers: :func:`open`, :class:`Device`, :class:`Buffer`."""

import ctypes
import math
import os
import threading
import weakref
from collections import namedtuple

import numpy as np

from . import _ffi
from ._ffi import lib
from .errors import check, job_failed, InvalidArgumentError

_BACKENDS = {None: _ffi.BACKEND_DEFAULT, "default": _ffi.BACKEND_DEFAULT,
             "device": _ffi.BACKEND_DEVICE, "sim": _ffi.BACKEND_SIM}
_BACKEND_NAMES = {_ffi.BACKEND_DEVICE: "device", _ffi.BACKEND_SIM: "sim"}

# Live handles the package holds, for leak checks (spatten.live_objects()).
_live = {"devices": 0, "buffers": 0, "sessions": 0}
_live_lock = threading.Lock()


def _count(kind, delta):
    with _live_lock:
        _live[kind] += delta


def live_objects():
    """Open devices, buffers and sessions this process holds through the
    package (a leak shows as a count that keeps growing)."""
    with _live_lock:
        return dict(_live)


Board = namedtuple("Board", "index path pci_addr")


def list_boards():
    """The boards of this machine, in discovery order (``spatten:N``)."""
    n = check(lib.spatten_list_boards(None, 0), "spatten_list_boards")
    if n == 0:
        return []
    arr = (_ffi.Board * n)()
    n = check(lib.spatten_list_boards(arr, n), "spatten_list_boards")
    return [Board(b.index, b.path.decode(), b.pci_addr.decode())
            for b in arr[:n]]


Info = namedtuple("Info", "api_version hw_version vendor_id device_id "
                  "num_engines num_queues queue_depth max_context max_heads "
                  "head_dims formats splits features dma_bits max_bo_size")


class Result(namedtuple("Result", "seqno status status_name user_data "
                        "bytes_q bytes_k_msb bytes_k_lsb bytes_v "
                        "bytes_written cycles lsb_refetches")):
    """What a completed job did: its status and the device's figures."""

    __slots__ = ()

    @property
    def ok(self):
        return self.status == 0


def _result(seqno, r):
    name = lib.spatten_status_str(r.status).decode()
    return Result(seqno, r.status, name, r.user_data, r.bytes_q,
                  r.bytes_k_msb, r.bytes_k_lsb, r.bytes_v, r.bytes_written,
                  r.cycles, r.lsb_refetches)


def open(path=None, *, backend=None):  # noqa: A001 (as io.open)
    """Open a board or the simulation backend.

    ``backend``: ``"device"`` (the kernel driver's node), ``"sim"`` (the
    in-process simulation: the device's engine, the driver's checks), or
    ``None``: ``$SPATTEN_BACKEND`` if set, else the device.  ``path``: a
    node (``/dev/accel/accel0``), ``"spatten:N"`` for the N-th board, or
    ``None`` for the first.
    """
    if backend not in _BACKENDS:
        raise ValueError("backend %r: 'device', 'sim' or None" % (backend,))
    if backend is None and os.environ.get(_ffi.BACKEND_ENV, "") not in \
            ("", "sim", "device"):
        raise ValueError("$%s is %r: 'sim' or 'device'"
                         % (_ffi.BACKEND_ENV, os.environ[_ffi.BACKEND_ENV]))
    return Device(path, _BACKENDS[backend])


class Device:
    """An open board (or the simulation).  Use as a context manager or call
    :meth:`close`; the handle is freed by the garbage collector otherwise."""

    def __init__(self, path=None, backend=_ffi.BACKEND_DEFAULT):
        h = ctypes.c_void_p()
        p = None if path is None else os.fsencode(path)
        check(lib.spatten_open_backend(p, backend, ctypes.byref(h)),
              "spatten_open_backend",
              None if path is None else "path '%s'" % (path,))
        self._h = h.value
        self._refs = 1          # this object, plus one per buffer/session
        self._closed = False
        self._lock = threading.RLock()
        self._scratch = None
        self._inflight = {}     # seqno -> Job: its buffers stay put
        _count("devices", 1)
        info = _ffi.Info()
        check(lib.spatten_get_info(self._h, ctypes.byref(info)),
              "spatten_get_info")
        self.info = Info(*(getattr(info, f) for f in Info._fields))

    # -- lifetime: buffers and sessions hold the device open -------------

    def _ref(self):
        with self._lock:
            if self._h is None:
                raise ValueError("device is closed")
            self._refs += 1

    def _unref(self):
        with self._lock:
            self._refs -= 1
            if self._refs == 0 and self._h is not None:
                lib.spatten_close(self._h)
                self._h = None
                _count("devices", -1)

    def close(self):
        """Close the handle once every buffer and session made on it is
        freed (they keep it open until then).  Idempotent."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            if self._scratch is not None:
                self._scratch.free()
                self._scratch = None
        self._unref()

    def __del__(self):
        try:
            self.close()
        except Exception:  # interpreter shutdown
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    @property
    def handle(self):
        """The ``struct spatten_dev *`` as an integer (for ctypes users)."""
        if self._h is None or self._closed:
            raise ValueError("device is closed")
        return self._h

    def __repr__(self):
        if self._h is None or self._closed:
            return "<spatten.Device closed>"
        return "<spatten.Device %s hw %#x>" % (self.backend,
                                               self.info.hw_version)

    # -- facts ------------------------------------------------------------

    @property
    def backend(self):
        """``"device"`` or ``"sim"``."""
        return _BACKEND_NAMES[check(lib.spatten_backend(self.handle),
                                    "spatten_backend")]

    def fileno(self):
        """A descriptor that is readable while a completion waits (for
        ``select``/``poll``/``asyncio``)."""
        return check(lib.spatten_fd(self.handle), "spatten_fd")

    def has(self, *features):
        """Does the board have every named feature (``"gqa"``, ``"rope"``,
        ``"chunks"``, ... : spatten_hw.h's SPATTEN_FEAT_*, lower case)?"""
        bits = 0
        for f in features:
            if f not in _ffi.FEAT_BITS:
                raise ValueError("unknown feature %r (one of %s)"
                                 % (f, ", ".join(sorted(_ffi.FEAT_BITS))))
            bits |= _ffi.FEAT_BITS[f]
        return bool(check(lib.spatten_probe(self.handle, bits),
                          "spatten_probe"))

    @property
    def features(self):
        """The board's feature names."""
        return sorted(n for n, b in _ffi.FEAT_BITS.items()
                      if self.info.features & b)

    def counters(self):
        """The device's and driver's counters, by name."""
        c = _ffi.Counters()
        check(lib.spatten_get_counters(self.handle, ctypes.byref(c)),
              "spatten_get_counters")
        n = min(c.num, len(_ffi.COUNTER_NAMES))
        return {_ffi.COUNTER_NAMES[i]: c.value[i] for i in range(n)}

    # -- buffers ----------------------------------------------------------

    def alloc(self, nbytes):
        """A new device buffer of ``nbytes`` (rounded up to a page)."""
        return Buffer._alloc(self, nbytes)

    def import_array(self, array):
        """Make page-aligned, writable host memory (a numpy array or CPU
        tensor whose whole pages are its own) a buffer, without copying."""
        return Buffer._import(self, array)

    # Scratch of the functional calls kept between calls up to this size;
    # a larger one is freed after its call.
    SCRATCH_KEEP = 16 << 20

    def _scratch_buffer(self, nbytes):
        """A buffer of at least ``nbytes`` for a functional call (the
        caller holds the device's lock)."""
        if self._scratch is None or self._scratch.nbytes < nbytes:
            if self._scratch is not None:
                self._scratch.free()
                self._scratch = None
            size = 1 << max(16, (nbytes - 1).bit_length())
            size = max(nbytes, min(size, self.info.max_bo_size))
            self._scratch = self.alloc(size)
        return self._scratch

    def _scratch_done(self):
        if self._scratch is not None and \
                self._scratch.nbytes > self.SCRATCH_KEEP:
            self._scratch.free()
            self._scratch = None

    # -- jobs ---------------------------------------------------------------

    def submit(self, jobs):
        """Queue 1..64 jobs (:class:`spatten.Job`) at once, all or nothing.

        Returns their sequence numbers."""
        from .job import Job
        if isinstance(jobs, Job):
            jobs = [jobs]
        jobs = list(jobs)
        if not 1 <= len(jobs) <= _ffi.MAX_SUBMIT:
            raise InvalidArgumentError(22, "spatten_submit3",
                                       "%d jobs: 1..%d per submit"
                                       % (len(jobs), _ffi.MAX_SUBMIT))
        arr = (_ffi.Job3 * len(jobs))()
        for i, j in enumerate(jobs):
            if j.device is not self:
                raise ValueError("job %d was made for another device" % i)
            for b in j._buffers:
                if b._h is None:
                    raise ValueError("job %d uses a freed buffer" % i)
            ctypes.memmove(ctypes.byref(arr[i]), ctypes.byref(j._raw),
                           ctypes.sizeof(_ffi.Job3))
        seq = ctypes.c_uint64()
        with self._lock:
            check(lib.spatten_submit3(self.handle, arr, len(jobs),
                                      ctypes.byref(seq)), "spatten_submit3")
            seqnos = list(range(seq.value, seq.value + len(jobs)))
            for s, j in zip(seqnos, jobs):
                self._inflight[s] = j
                for b in j._buffers:
                    b._pending += 1
        return seqnos

    def _reaped(self, seqno):
        with self._lock:
            job = self._inflight.pop(seqno, None)
            if job is not None:
                for b in job._buffers:
                    b._pending -= 1

    def wait(self, seqno, timeout=None):
        """Wait for job ``seqno`` (``timeout`` in seconds, ``None`` for
        ever, 0 polls) and reap it: its :class:`Result`."""
        ns = (_ffi.WAIT_FOREVER if timeout is None or math.isinf(timeout)
              else max(0, int(timeout * 1e9)))
        r = _ffi.Result()
        check(lib.spatten_wait(self.handle, seqno, ns, ctypes.byref(r)),
              "spatten_wait", "seqno %d" % seqno)
        self._reaped(seqno)
        return _result(seqno, r)

    def reap(self, max_jobs=_ffi.REAP_MAX, min_jobs=0, timeout=0):
        """Reap whichever jobs are done, in completion order, waiting for
        ``min_jobs`` of them up to ``timeout`` seconds (``None``: for
        ever)."""
        if not 1 <= max_jobs <= _ffi.REAP_MAX:
            raise ValueError("max_jobs %d: 1..%d" % (max_jobs,
                                                     _ffi.REAP_MAX))
        arr = (_ffi.Wait * max_jobs)()
        if timeout is None or math.isinf(timeout):
            deadline = (1 << 63) - 1
        else:
            deadline = lib.spatten_now_ns() + max(0, int(timeout * 1e9))
        n = check(lib.spatten_reap(self.handle, arr, max_jobs, min_jobs,
                                   deadline), "spatten_reap")
        for w in arr[:n]:
            self._reaped(w.seqno)
        return [_result(w.seqno, w) for w in arr[:n]]

    def run(self, job, timeout=None):
        """Submit one job, wait for it; raise :class:`spatten.JobError` if
        it failed on the device."""
        seq, = self.submit([job])
        res = self.wait(seq, timeout)
        if not res.ok:
            raise job_failed(res, "spatten_wait")
        return res


class _ViewToken:
    """Lives exactly as long as the memory a numpy view was made of."""

    __slots__ = ("__weakref__",)


class Buffer:
    """A device buffer (GEM object on a board, page-aligned memory on the
    simulation), mapped into the process: :meth:`array` views it."""

    def __init__(self, dev, handle, keep=None):
        self.device = dev
        self._h = handle
        self._keep = keep
        self._lock = threading.Lock()
        self._views = weakref.WeakSet()     # memory handed to numpy
        self._pending = 0                   # jobs submitted, not reaped
        self.nbytes = lib.spatten_bo_size(handle)
        self._map = lib.spatten_bo_map(handle)
        _count("buffers", 1)

    @classmethod
    def _alloc(cls, dev, nbytes):
        if nbytes <= 0:
            raise ValueError("buffer of %d bytes" % nbytes)
        dev._ref()
        h = ctypes.c_void_p()
        try:
            check(lib.spatten_bo_alloc(dev.handle, nbytes, ctypes.byref(h)),
                  "spatten_bo_alloc",
                  "%d bytes (the board's largest buffer: %d)"
                  % (nbytes, dev.info.max_bo_size))
        except Exception:
            dev._unref()
            raise
        return cls(dev, h.value)

    @classmethod
    def _import(cls, dev, array):
        from .arrays import is_torch
        if is_torch(array):
            ptr, size = array.data_ptr(), array.numel() * array.element_size()
            if not array.is_contiguous():
                raise ValueError("import needs a contiguous tensor")
        else:
            if not isinstance(array, np.ndarray) or \
                    not array.flags.c_contiguous or \
                    not array.flags.writeable:
                raise ValueError("import needs a writable, C-contiguous "
                                 "numpy array")
            ptr, size = array.ctypes.data, array.nbytes
        dev._ref()
        h = ctypes.c_void_p()
        try:
            check(lib.spatten_bo_import(dev.handle, ptr, size,
                                        ctypes.byref(h)),
                  "spatten_bo_import",
                  "%d bytes at %#x (page-aligned, whole pages)" % (size, ptr))
        except Exception:
            dev._unref()
            raise
        return cls(dev, h.value, keep=array)

    @property
    def handle(self):
        """The ``struct spatten_bo *`` as an integer."""
        if self._h is None:
            raise ValueError("buffer is freed")
        return self._h

    @property
    def gem_handle(self):
        """The driver's handle of the buffer (0 on the simulation)."""
        return lib.spatten_bo_handle(self.handle)

    @property
    def address(self):
        """Where the buffer is mapped in this process."""
        self.handle
        return self._map

    def array(self, dtype=np.uint8, shape=None, offset=0):
        """A numpy view of the buffer's memory (it keeps the buffer
        alive)."""
        dtype = np.dtype(dtype)
        if shape is None:
            shape = ((self.nbytes - offset) // dtype.itemsize,)
        shape = (shape,) if isinstance(shape, int) else tuple(shape)
        count = int(np.prod(shape, dtype=np.int64))
        if offset < 0 or offset + count * dtype.itemsize > self.nbytes:
            raise ValueError("view of %d bytes at %d outside a %d-byte "
                             "buffer" % (count * dtype.itemsize, offset,
                                         self.nbytes))
        raw = (ctypes.c_char * self.nbytes).from_address(self.address)
        raw._spatten_buffer = self      # the view keeps the buffer alive
        raw._spatten_token = token = _ViewToken()
        self._views.add(token)          # and free() refuses while it lives
        return np.frombuffer(raw, dtype, count, offset).reshape(shape)

    def free(self):
        """Free the buffer now.  Like ``mmap.close()``, raises
        ``BufferError`` while a view from :meth:`array` is alive or a job
        using it has not been reaped.  Idempotent."""
        with self._lock:
            if self._h is None:
                return
            if len(self._views):
                raise BufferError("%d numpy view(s) of the buffer exist: "
                                  "delete them first" % len(self._views))
            if self._pending:
                raise BufferError("%d job(s) using the buffer are not "
                                  "reaped: wait for them first"
                                  % self._pending)
            h, self._h = self._h, None
        lib.spatten_bo_free(h)
        self._keep = None
        _count("buffers", -1)
        self.device._unref()

    def __del__(self):
        # views and jobs hold a reference, so none is left here
        try:
            self._views = ()
            self._pending = 0
            self.free()
        except Exception:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.free()

    def __repr__(self):
        return "<spatten.Buffer %d bytes%s>" % (
            self.nbytes, "" if self._h is not None else " freed")
