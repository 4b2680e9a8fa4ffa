# SPDX-License-Identifier: MIT
"""Devices, buffers and single jobs: what a program that drives the board
job by job sees (submit, wait, reap, poll, counters)."""

import mmap
import select

import numpy as np
import pytest

import spatten


def test_open_and_facts(dev):
    assert dev.backend == "sim"
    assert dev.info.api_version >= 5 and dev.info.max_heads >= 1
    assert {"desc_v3", "gqa", "rope", "token_prune"} <= set(dev.features)
    assert dev.has("gqa", "rope") and dev.has()
    with pytest.raises(ValueError, match="unknown feature"):
        dev.has("warp-drive")
    assert "sim" in repr(dev)


def test_env_selects_the_backend(monkeypatch, tmp_path):
    monkeypatch.setenv("SPATTEN_SYSFS_ROOT", str(tmp_path))   # no board
    monkeypatch.delenv("SPATTEN_BACKEND", raising=False)
    with pytest.raises(spatten.DeviceNotFoundError):
        spatten.open()
    monkeypatch.setenv("SPATTEN_BACKEND", "sim")
    with spatten.open() as d:
        assert d.backend == "sim"
    assert "closed" in repr(d)
    monkeypatch.setenv("SPATTEN_BACKEND", "gpu")
    with pytest.raises(ValueError, match="SPATTEN_BACKEND is 'gpu'"):
        spatten.open()


def test_buffers(dev):
    before = spatten.live_objects()
    b = dev.alloc(10000)
    assert b.nbytes >= 10000
    a = b.array(np.float32, (2, 5), offset=64)
    a[...] = np.arange(10).reshape(2, 5)
    assert b.array(np.float32, 10, 64).tolist() == list(range(10))
    assert spatten.live_objects()["buffers"] == before["buffers"] + 1
    del b                   # the view keeps the buffer alive
    assert a.sum() == 45
    assert spatten.live_objects()["buffers"] == before["buffers"] + 1
    del a
    assert spatten.live_objects() == before


def test_import_array_is_zero_copy(dev):
    m = mmap.mmap(-1, 2 * 4096)
    host = np.frombuffer(m, np.uint8)
    with dev.import_array(host) as b:
        assert b.address == host.ctypes.data
        b.array(np.uint8, 4)[...] = [1, 2, 3, 4]
        assert host[:4].tolist() == [1, 2, 3, 4]
    del host
    m.close()


def test_device_stays_open_for_its_buffers():
    d = spatten.open(backend="sim")
    n = spatten.live_objects()["devices"]
    b = d.alloc(4096)
    d.close()
    d.close()                               # idempotent
    assert spatten.live_objects()["devices"] == n   # b holds it
    b.array(np.uint8, 8)[...] = 7           # still usable
    b.free()
    assert spatten.live_objects()["devices"] == n - 1
    with pytest.raises(ValueError, match="closed"):
        d.alloc(4096)


def _dense_job(dev, buf, H, L, D, frac, user_data):
    """A dense S16 job in one buffer: Q, K, V, out at 64-byte offsets."""
    size = H * L * D * 2
    return spatten.Job(dev, n_heads=H, head_dim=D, q_rows=L, kv_rows=L,
                       q=(buf, 0), k=(buf, size), v=(buf, 2 * size),
                       out=(buf, 3 * size), q_frac=frac, k_frac=frac,
                       v_frac=frac, out_frac=frac, user_data=user_data)


def test_job_against_a_float_reference(dev, rng):
    H, L, D, frac = 2, 16, 32, 12
    buf = dev.alloc(4 * H * L * D * 2)
    x = rng.uniform(-1, 1, (3, H, L, D)).astype(np.float32)
    raw = np.round(x * 2 ** frac).astype(np.int16)
    buf.array(np.int16, (3, H, L, D))[...] = raw
    res = dev.run(_dense_job(dev, buf, H, L, D, frac, 7))
    assert res.ok and res.status_name == "ok" and res.user_data == 7
    assert res.bytes_q == H * L * D * 2 and res.cycles > 0
    q, k, v = raw.astype(np.float64) / 2 ** frac
    s = q @ k.transpose(0, 2, 1) / np.sqrt(D)
    p = np.exp(s - s.max(-1, keepdims=True))
    ref = (p / p.sum(-1, keepdims=True)) @ v
    out = buf.array(np.int16, (H, L, D), 3 * H * L * D * 2) / 2 ** frac
    assert np.abs(out - ref).max() < 4 * 2.0 ** -frac


def test_submit_wait_reap_poll(dev, rng):
    H, L, D, frac = 1, 8, 16, 10
    bufs = [dev.alloc(4 * H * L * D * 2) for _ in range(5)]
    for b in bufs:
        b.array(np.int16)[:3 * H * L * D] = rng.integers(
            -1000, 1000, 3 * H * L * D)
    jobs = [_dense_job(dev, b, H, L, D, frac, 100 + i)
            for i, b in enumerate(bufs)]
    seqs = dev.submit(jobs)
    assert seqs == list(range(seqs[0], seqs[0] + 5))
    r, _, _ = select.select([dev.fileno()], [], [], 5)
    assert r == [dev.fileno()]              # a completion waits
    first = dev.wait(seqs[0], timeout=0)
    assert first.seqno == seqs[0] and first.user_data == 100
    rest = dev.reap(max_jobs=16, min_jobs=4, timeout=5)
    assert [x.seqno for x in rest] == seqs[1:]
    assert [x.user_data for x in rest] == [101, 102, 103, 104]
    assert all(x.ok for x in rest)
    r, _, _ = select.select([dev.fileno()], [], [], 0)
    assert r == []                          # nothing left
    assert dev.reap() == []
    with pytest.raises(spatten.UnknownJobError):
        dev.wait(seqs[0])                   # reaped once only
    # a NOP fences a queue and completes at once
    seq, = dev.submit(spatten.Job.nop(dev, user_data=9))
    assert dev.wait(seq).user_data == 9


def test_counters_count_jobs(dev, rng):
    before = dev.counters()
    assert set(before) >= {"jobs_ok", "bytes_q", "cycles", "resets"}
    q = rng.standard_normal((2, 8, 32)).astype(np.float32)
    _, st = spatten.attention(q, q, q, device=dev)
    after = dev.counters()
    assert after["jobs_ok"] == before["jobs_ok"] + 1
    assert after["bytes_q"] - before["bytes_q"] == st.bytes_q
    assert after["cycles"] - before["cycles"] == st.cycles


def test_list_boards_without_boards(monkeypatch, tmp_path):
    monkeypatch.setenv("SPATTEN_SYSFS_ROOT", str(tmp_path))
    assert spatten.list_boards() == []


def test_default_device(monkeypatch):
    monkeypatch.setenv("SPATTEN_BACKEND", "sim")
    d = spatten.default_device()
    assert d is spatten.default_device() and d.backend == "sim"


def test_free_refuses_while_views_or_jobs_use_the_buffer(dev):
    """As mmap.close(): no use-after-free through a numpy view or a job."""
    b = dev.alloc(8192)
    a = b.array(np.float32, 16)
    with pytest.raises(BufferError, match="view"):
        b.free()
    a[...] = 1                      # still mapped
    del a
    b.free()
    b.free()                        # idempotent
    # a job naming a freed buffer is refused before it reaches the board
    b2 = dev.alloc(8192)
    job = spatten.Job(dev, n_heads=1, head_dim=16, q_rows=1, kv_rows=1,
                      q=b2, k=(b2, 64), v=(b2, 128), out=(b2, 192))
    seq, = dev.submit(job)
    with pytest.raises(BufferError, match="not reaped"):
        b2.free()                   # the job is in flight
    dev.wait(seq)
    b2.free()
    with pytest.raises(ValueError, match="freed buffer"):
        dev.submit(job)


def test_reap_accounts_for_jobs_in_flight(dev):
    b = dev.alloc(8192)
    job = spatten.Job(dev, n_heads=1, head_dim=16, q_rows=1, kv_rows=1,
                      q=b, k=(b, 64), v=(b, 128), out=(b, 192))
    dev.submit([job, job])
    got = dev.reap(min_jobs=2, timeout=float("inf"))
    assert len(got) == 2
    b.free()                        # reaped: free is allowed


def test_threads_share_a_device(dev, rng):
    """attention() from several threads on one Device gives each the
    result it gives alone."""
    import threading
    qs = [rng.standard_normal((2, 8, 16)).astype(np.float32)
          for _ in range(4)]
    alone = [spatten.attention(q, q, q, device=dev)[0] for q in qs]
    got = [None] * 4
    errors = []

    def work(i):
        try:
            for _ in range(25):
                out, _ = spatten.attention(qs[i], qs[i], qs[i], device=dev)
                assert np.array_equal(out, alone[i])
            got[i] = out
        except Exception as e:          # pragma: no cover - reported below
            errors.append(e)
    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and all(np.array_equal(g, a)
                              for g, a in zip(got, alone))
