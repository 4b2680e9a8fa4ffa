# SPDX-License-Identifier: MIT
"""Every library error surfaces as the right exception, with the errno,
the C function and a message; Python-side argument checks raise the
built-in exception types numpy and PyTorch users expect."""

import errno
import pickle

import numpy as np
import pytest

import spatten
from spatten import errors


def _session(dev, **kw):
    base = dict(kind="decoder", n_layers=2, n_heads=4, head_dim=32,
                max_context=64)
    base.update(kw)
    return spatten.Session(dev, **base)


def _raises(exc, err, fn, *args, **kw):
    with pytest.raises(exc) as info:
        fn(*args, **kw)
    e = info.value
    assert isinstance(e, spatten.SpattenError)
    assert e.errno == err
    assert e.function.startswith("spatten_")
    assert e.function in str(e) and errno.errorcode[err] in str(e)
    return e


@pytest.mark.parametrize("err, cls, builtin", [
    (errno.EINVAL, spatten.InvalidArgumentError, ValueError),
    (errno.EOPNOTSUPP, spatten.NotSupportedError, NotImplementedError),
    (errno.ENOENT, spatten.DeviceNotFoundError, FileNotFoundError),
    (errno.ENODEV, spatten.DeviceNotFoundError, FileNotFoundError),
    (errno.ENOMEM, spatten.OutOfMemoryError, MemoryError),
    (errno.ERANGE, spatten.SaturationError, ArithmeticError),
    (errno.ENOSPC, spatten.CacheFullError, spatten.SpattenError),
    (errno.EFBIG, spatten.TooBigError, ValueError),
    (errno.E2BIG, spatten.TooBigError, ValueError),
    (errno.EOVERFLOW, spatten.TooBigError, ValueError),
    (errno.EIO, spatten.JobError, spatten.SpattenError),
    (errno.ETIME, spatten.JobTimeoutError, TimeoutError),
    (errno.EBUSY, spatten.BusyError, BlockingIOError),
    (errno.ECANCELED, spatten.CanceledError, spatten.SpattenError),
    (errno.EPROTO, spatten.ProtocolError, spatten.SpattenError),
    (errno.ENOTTY, spatten.ProtocolError, spatten.SpattenError),
    (errno.EACCES, spatten.AccessDeniedError, PermissionError),
    (errno.EPERM, spatten.AccessDeniedError, PermissionError),
    (errno.EFAULT, spatten.InvalidArgumentError, ValueError),
    (errno.E2BIG + 1000, spatten.SpattenError, OSError),    # unknown
])
def test_errno_classes(err, cls, builtin):
    """The mapping itself, for every errno the library documents (some,
    like ETIME and ECANCELED, only a board can produce)."""
    e = errors.make_error(-err, "spatten_session_open", "context")
    assert type(e) is cls
    assert isinstance(e, builtin) and isinstance(e, OSError)
    assert e.errno == err and "context" in e.message
    with pytest.raises(cls):
        errors.check(-err, "spatten_session_open")
    assert errors.check(3, "spatten_session_open") == 3
    # picklable, for multiprocessing and DataLoader workers
    back = pickle.loads(pickle.dumps(e))
    assert type(back) is cls and back.errno == err
    assert back.message == e.message and back.function == e.function


@pytest.mark.parametrize("function, err, cls, builtin", [
    ("spatten_attn_prep3", errno.ERANGE, spatten.OutOfBufferError,
     ValueError),
    ("spatten_submit3", errno.ERANGE, spatten.OutOfBufferError, ValueError),
    ("spatten_wait", errno.ENOENT, spatten.UnknownJobError, LookupError),
    ("spatten_session_attend", errno.ERANGE, spatten.SaturationError,
     ArithmeticError),
])
def test_errno_classes_by_function(function, err, cls, builtin):
    """One errno, two meanings: the function decides."""
    e = errors.make_error(-err, function)
    assert type(e) is cls and isinstance(e, builtin)


def test_no_board_names_the_simulation(monkeypatch):
    monkeypatch.setenv("SPATTEN_SYSFS_ROOT", "/nonexistent-sysfs")
    e = _raises(spatten.DeviceNotFoundError, errno.ENOENT, spatten.open,
                backend="device")
    assert "backend='sim'" in e.message and "SPATTEN_BACKEND=sim" in \
        e.message
    e = _raises(spatten.DeviceNotFoundError, errno.ENOENT, spatten.open,
                "spatten:3", backend="device")
    assert "spatten:3" in e.message


def test_missing_node_is_named():
    e = _raises(spatten.DeviceNotFoundError, errno.ENOENT, spatten.open,
                "/nonexistent/accel0", backend="device")
    assert "/nonexistent/accel0" in e.message and "sim" not in e.message


def test_node_that_is_not_a_board():
    _raises(spatten.ProtocolError, errno.ENOTTY, spatten.open, "/dev/null",
            backend="device")


def test_bad_backend_name():
    with pytest.raises(ValueError, match="backend"):
        spatten.open(backend="gpu")


def test_buffer_errors(dev):
    with pytest.raises(ValueError):
        dev.alloc(0)
    _raises(spatten.InvalidArgumentError, errno.EINVAL, dev.alloc,
            dev.info.max_bo_size + 4096)
    b = dev.alloc(4096)
    with pytest.raises(ValueError, match="outside"):
        b.array(np.float32, 1025)
    with pytest.raises(ValueError):
        dev.import_array(np.zeros(100, np.float32)[::2])
    # not page-aligned (an offset of 4 bytes into an array)
    a = np.zeros(4096 * 3, np.uint8)
    start = (-a.ctypes.data) % 4096 + 4
    _raises(spatten.InvalidArgumentError, errno.EINVAL, dev.import_array,
            a[start:start + 4096])
    b.free()
    with pytest.raises(ValueError, match="freed"):
        b.handle


def test_job_errors(dev):
    b = dev.alloc(4096)
    ok = dict(n_heads=1, head_dim=32, q_rows=1, kv_rows=1, q=b, k=b, v=b,
              out=(b, 128))
    spatten.Job(dev, **ok)
    _raises(spatten.InvalidArgumentError, errno.EINVAL, spatten.Job, dev,
            **dict(ok, n_heads=0))
    _raises(spatten.InvalidArgumentError, errno.EINVAL, spatten.Job, dev,
            **dict(ok, flags=1 << 30))
    _raises(spatten.OutOfBufferError, errno.ERANGE, spatten.Job, dev,
            **dict(ok, out=(b, 8192)))
    with pytest.raises(OverflowError, match="q_frac"):
        spatten.Job(dev, **dict(ok, q_frac=256))
    with pytest.raises(OverflowError, match="n_heads"):
        spatten.Job(dev, **dict(ok, n_heads=2 ** 32 + 1))
    with pytest.raises(TypeError, match="integer"):
        spatten.Job(dev, **dict(ok, rope_base=10000.5))
    with pytest.raises(TypeError, match="unknown field"):
        spatten.Job(dev, heads=1)
    with pytest.raises(ValueError, match="negative"):
        spatten.Job(dev, **dict(ok, q=(b, -2)))
    _raises(spatten.InvalidArgumentError, errno.EINVAL, dev.submit,
            [spatten.Job.nop(dev)] * 65)
    _raises(spatten.UnknownJobError, errno.ENOENT, dev.wait, 1 << 40)
    with pytest.raises(ValueError):
        dev.reap(0)


def test_job_failing_on_the_device(dev):
    """A paged job whose block table points past the buffer passes the
    checks and fails on the board: JobError with the device's status."""
    D, rows = 32, 16
    b = dev.alloc(1 << 16)
    table = dev.alloc(4096)
    table.array(np.uint32, 1)[0] = 1000         # block 1000: far outside
    job = spatten.Job(dev, n_heads=1, head_dim=D, q_rows=1, kv_rows=rows,
                      q=b, k=(b, 4096), v=(b, 8192), out=(b, 12288),
                      kv_block_rows=16, kv_block_stride=16, kv_row_stride=1,
                      kv_head_stride=16, block_table=table)
    e = _raises(spatten.JobError, errno.EIO, dev.run, job)
    assert e.status != 0 and "block" in e.status_name


def test_too_many_unreaped_jobs(dev):
    """4096 jobs not reaped: the next submit is EBUSY; reaping frees."""
    nop = spatten.Job.nop(dev)
    submitted = 0
    with pytest.raises(spatten.BusyError) as info:
        for _ in range(4096 // 64 + 1):
            dev.submit([nop] * 64)
            submitted += 64
    assert info.value.errno == errno.EBUSY and submitted == 4096
    reaped = 0
    while True:
        got = dev.reap()
        if not got:
            break
        reaped += len(got)
    assert reaped == 4096
    dev.submit([nop])
    assert len(dev.reap()) == 1


def test_session_errors(dev):
    x = np.random.default_rng(1).standard_normal((4, 9, 32), np.float32)
    with pytest.raises(ValueError, match="kind"):
        _session(dev, kind="causal")
    _raises(spatten.InvalidArgumentError, errno.EINVAL, _session, dev,
            n_kv_heads=3)
    _raises(spatten.InvalidArgumentError, errno.EINVAL, _session, dev,
            head_dim=80)
    _raises(spatten.InvalidArgumentError, errno.EINVAL, _session, dev,
            k_bits=7)
    with pytest.raises(OverflowError, match="k_bits"):
        _session(dev, k_bits=260)
    with pytest.raises(OverflowError, match="max_context"):
        _session(dev, max_context=2 ** 32 + 64)
    with pytest.raises(ValueError, match="q_frac"):
        _session(dev, fixed_fracs=(267, 11, 11, 11))
    with pytest.raises(ValueError, match="pinned"):
        _session(dev, pinned=[-1])
    with pytest.raises(ValueError, match="progressive"):
        _session(dev, progressive=True, k_bits=16)
    with pytest.raises(ValueError, match="scale"):
        _session(dev, scale=0)
    with pytest.raises(ValueError, match="kv_budget"):
        _session(dev, kv_budget=(1, 2))
    with pytest.raises(TypeError, match="Schedule"):
        _session(dev, schedule=[1.0, 1.0])
    _raises(spatten.InvalidArgumentError, errno.EINVAL, _session, dev,
            kv_per_head=True)           # needs a budget
    _raises(spatten.NotSupportedError, errno.EOPNOTSUPP, _session, dev,
            n_heads=64, head_dim=256, max_context=1 << 20)
    with pytest.raises(ValueError, match="pinned"):
        _session(dev, pinned=range(65))
    with pytest.raises(ValueError, match="schedule"):
        _session(dev, schedule=spatten.Schedule.dense(3))
    with pytest.raises(ValueError):
        spatten.Schedule([0.0])
    _raises(spatten.InvalidArgumentError, errno.EINVAL,
            spatten.Schedule.paper, 0)

    s = _session(dev, max_context=8)
    e = _raises(spatten.CacheFullError, errno.ENOSPC, s.attend, 0, x, x, x)
    assert "max_context" in e.message
    with pytest.raises(ValueError, match="pass is at layer 0"):
        s.attend(1, x[:, :4], x[:, :4], x[:, :4])
    with pytest.raises(ValueError, match="2-layer session"):
        s.attend(2, x[:, :4], x[:, :4], x[:, :4])
    with pytest.raises(ValueError, match="heads"):
        s.attend(0, x[:2], x, x)
    with pytest.raises(ValueError, match="tokens"):
        s.attend(0, x[:, :4], x[:, :3], x[:, :4])
    wide = np.zeros((4, 4, 64), np.float32)[:, :, ::2]    # stride 2
    with pytest.raises(ValueError, match="contiguous"):
        s.attend(0, wide, wide, wide)
    with pytest.raises(ValueError, match="batch"):
        s.attend(0, np.stack([x, x]), x, x)
    with pytest.raises(TypeError, match="float32"):
        s.attend(0, x.astype(np.int32), x, x)
    with pytest.raises(ValueError, match="read-only"):
        ro = np.empty_like(x[:, :4])
        ro.flags.writeable = False
        s.attend(0, x[:, :4], x[:, :4], x[:, :4], out=ro)
    with pytest.raises(TypeError, match="numpy array or a tensor"):
        s.attend(0, x[:, :4], x[:, :4], x[:, :4], out=[[0.0] * 32] * 4)
    # nothing changed: the same session still takes a good pass
    for layer in range(2):
        s.attend(layer, x[:, :4], x[:, :4], x[:, :4])
    assert s.context == 4
    # a pass left half done is refused, not silently restarted
    s.attend(0, x[:, :1], x[:, :1], x[:, :1])
    with pytest.raises(ValueError, match="pass is at layer 1"):
        s.attend(0, x[:, :1], x[:, :1], x[:, :1])
    s.attend(1, x[:, :1], x[:, :1], x[:, :1])
    assert s.context == 5
    _raises(spatten.InvalidArgumentError, errno.EINVAL,
            s.stats, 2)
    _raises(spatten.InvalidArgumentError, errno.EINVAL, s.cache_head, 0, 9)

    sat = _session(dev, saturation_error=True, fixed_fracs=(11, 11, 11, 11))
    _raises(spatten.SaturationError, errno.ERANGE, sat.attend, 0, x * 100,
            x, x)
    assert sat.context == 0

    enc = _session(dev, kind="encoder")
    z = np.zeros((4, 2, 32), np.float32)
    _raises(spatten.InvalidArgumentError, errno.EINVAL, enc.import_kv,
            [z, z], [z, z])
    with pytest.raises(ValueError, match="per layer"):
        enc.import_kv([z], [z])

    ph = _session(dev, kv_per_head=True, kv_budget=(1, 2, 2), max_context=8)
    _raises(spatten.InvalidArgumentError, errno.EINVAL, ph.cache)
    for s_ in (s, sat, enc, ph):
        s_.close()
    with pytest.raises(ValueError, match="closed"):
        s.context


def test_attention_argument_errors(dev):
    z = np.zeros((2, 4, 32), np.float32)
    with pytest.raises(ValueError, match="enable_gqa"):
        spatten.attention(np.zeros((4, 4, 32), np.float32), z, z,
                          device=dev)
    with pytest.raises(ValueError, match="divide"):
        spatten.attention(np.zeros((3, 4, 32), np.float32), z, z,
                          enable_gqa=True, device=dev)
    with pytest.raises(ValueError, match="shapes"):
        spatten.attention(z[0], z, z, device=dev)
    with pytest.raises(ValueError, match="batch"):
        spatten.attention(z[None], z[None].repeat(2, 0), z[None], device=dev)
    with pytest.raises(ValueError, match="E=32"):
        spatten.attention(z, np.zeros((2, 4, 16), np.float32), z,
                          device=dev)
    with pytest.raises(TypeError, match="float32"):
        spatten.attention(z.astype(np.int8), z, z, device=dev)
    with pytest.raises(ValueError, match="causal"):
        spatten.attention(np.zeros((2, 8, 32), np.float32), z, z,
                          is_causal=True, device=dev)
    with pytest.raises(ValueError, match="q_start"):
        spatten.attention(z, z, z, q_start=1, device=dev)
    with pytest.raises(ValueError, match="ratio"):
        spatten.attention(z, z, z, token_keep=1.5, device=dev)
    with pytest.raises(TypeError, match="bool"):
        spatten.attention(z, z, z, value_keep=True, device=dev)
    with pytest.raises(ValueError, match="ascending"):
        spatten.attention(z, z, z, token_alive=[2, 1], device=dev)
    with pytest.raises(ValueError, match="pinned"):
        spatten.attention(z, z, z, pinned=[0], device=dev)
    with pytest.raises(TypeError, match="uint64"):
        spatten.attention(z, z, z, token_keep=2,
                          token_importance=np.zeros(4), device=dev)
    with pytest.raises(ValueError, match="shape"):
        spatten.attention(z, z, z, token_keep=2,
                          token_importance=np.zeros(5, np.uint64),
                          device=dev)
    with pytest.raises(ValueError, match="rope_base"):
        spatten.attention(z, z, z, positions=np.arange(4), device=dev)
    z80 = np.zeros((2, 4, 80), np.float32)
    with pytest.raises(ValueError, match=r"head_dim 80: this board takes "
                       r"\[16, 32, 64, 128, 256\]"):
        spatten.attention(z80, z80, z80, device=dev)
    big = np.zeros((1, dev.info.max_context + 1, 16), np.float32)
    with pytest.raises(ValueError, match="context is at most"):
        spatten.attention(big[:, :1], big, big, device=dev)
    with pytest.raises(ValueError, match="scale"):
        spatten.attention(z, z, z, scale=0.0, device=dev)
    with pytest.raises(ValueError, match="NaN"):
        spatten.attention(z + np.nan, z, z, device=dev)
    with pytest.raises(ValueError, match="NaN or infinite"):
        spatten.attention(z, z, z + np.inf, device=dev)
    with pytest.raises(ValueError, match="progressive"):
        spatten.attention(z, z, z, progressive=True, k_bits=16, device=dev)
    with pytest.raises(TypeError, match="spatten.Device"):
        spatten.attention(z, z, z, device="sim")
    with pytest.raises(ValueError, match="saturation"):
        spatten.attention(z, z, z, saturation="maybe", device=dev)
    with pytest.raises(ValueError, match="rope_base"):
        spatten.attention(z, z, z, rope_base=10000.5, device=dev)
    _raises(spatten.InvalidArgumentError, errno.EINVAL, spatten.attention,
            z, z, z, k_bits=7, device=dev)


def test_torch_argument_errors(dev):
    torch = pytest.importorskip("torch")
    z = torch.zeros(2, 4, 32)
    with pytest.raises(TypeError, match="float32"):
        spatten.attention(z.to(torch.int32), z, z, device=dev)
    with pytest.raises(TypeError):
        spatten.attention(z.double().to(torch.complex64), z, z, device=dev)
    from spatten.torch import SpAttenAttention, SpAttenKVCache
    q = torch.zeros(1, 2, 4, 32, requires_grad=True)
    with pytest.raises(RuntimeError, match="no_grad"):
        SpAttenAttention(0)(q, q, q)
    with pytest.raises(ValueError, match="budget"):
        SpAttenKVCache(4, 4, 4, max_context=12)
    with pytest.raises(ValueError, match="seq_dim"):
        SpAttenKVCache(k_seq_dim=3, v_seq_dim=3)
    with torch.no_grad():
        c = SpAttenKVCache(1, 2, 2, device=dev)
        with pytest.raises(ValueError, match="n_layers"):
            c.attention(0, q, q, q)
        with pytest.raises(ValueError, match="layer_idx"):
            SpAttenAttention()(q, q, q, c)
        c.n_layers = 1
        c.attention(0, q.detach(), q.detach(), q.detach())
        with pytest.raises(ValueError, match="opened for"):
            c.attention(0, q[:, :, :, :16], q[:, :, :, :16],
                        q[:, :, :, :16])
        c.close()


def test_errors_carry_the_library_message(dev):
    """libspatten 1.4 says why (spatten_last_error()); the exception
    carries it, with what Python knew."""
    if not hasattr(spatten._ffi.lib, "spatten_last_error"):
        pytest.skip("libspatten before 1.4")
    e = _raises(spatten.InvalidArgumentError, errno.EINVAL, _session, dev,
                n_kv_heads=3)
    assert "n_kv_heads 3: a divisor of n_heads 4" in e.message
    assert "4 heads (3 KV)" in e.message            # Python's context
    e = _raises(spatten.NotSupportedError, errno.EOPNOTSUPP, _session, dev,
                n_heads=128)
    assert "this board has at most 64" in e.message
    assert "at most 64" in spatten.last_error()
    dev.counters()                          # a call that succeeds
    assert spatten.last_error() is None


def test_session_errors_carry_the_library_reason(dev):
    """The reason of a refused pass survives the calls that describe it."""
    if not hasattr(spatten._ffi.lib, "spatten_last_error"):
        pytest.skip("libspatten before 1.4")
    s = _session(dev, max_context=8)
    x = np.zeros((4, 9, 32), np.float32)
    e = _raises(spatten.CacheFullError, errno.ENOSPC, s.attend, 0, x, x, x)
    assert "9 new tokens: the cache holds max_context 8" in e.message
    s.close()
