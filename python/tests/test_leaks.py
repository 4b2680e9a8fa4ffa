# SPDX-License-Identifier: MIT
"""No memory leaks across 10,000 calls: Python objects (tracemalloc), the
package's live handles (spatten.live_objects()) and the process's resident
memory, which also sees what the C library allocates."""

import gc
import tracemalloc

import numpy as np
import pytest

import spatten

CALLS = 10000


def _rss_kib():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4


def _check(fn, warmup=300, rss_slack_kib=4096, py_slack=256 * 1024):
    for i in range(warmup):
        fn(i)
    gc.collect()
    live = spatten.live_objects()
    rss = _rss_kib()
    tracemalloc.start()
    try:
        before = tracemalloc.take_snapshot()
        for i in range(CALLS):
            fn(i)
        gc.collect()
        after = tracemalloc.take_snapshot()
    finally:
        tracemalloc.stop()
    grown = sum(s.size_diff for s in after.compare_to(before, "filename"))
    assert grown < py_slack, "Python heap grew by %d bytes" % grown
    assert spatten.live_objects() == live
    assert _rss_kib() - rss < rss_slack_kib, "RSS grew by %d KiB" % (
        _rss_kib() - rss)


def test_attention_calls(dev, rng):
    q = rng.standard_normal((2, 4, 16)).astype(np.float32)
    imp = np.zeros(4, np.uint64)
    _check(lambda i: spatten.attention(q, q, q, is_causal=True,
                                       token_keep=3, token_importance=imp,
                                       device=dev))


def test_session_steps(dev, rng):
    s = spatten.Session(dev, kind="decoder", n_layers=1, n_heads=2,
                        head_dim=16, max_context=16, kv_budget=(1, 2, 2))
    x = rng.standard_normal((2, 1, 16)).astype(np.float32)
    out = np.empty_like(x)
    s.attend(0, x, x, x, out)
    _check(lambda i: s.attend(0, x, x, x, out))
    s.close()


def test_error_paths(dev):
    q = np.zeros((2, 4, 32), np.float32)
    kv = np.zeros((2, 6, 32), np.float32)

    def fail(i):
        with pytest.raises(spatten.SpattenError):
            if i % 2:       # cross attention cannot prune tokens: EINVAL
                spatten.attention(q, kv, kv, token_keep=3, device=dev)
            else:
                spatten.Session(dev, kind="decoder", n_layers=1, n_heads=3,
                                n_kv_heads=2, head_dim=16, max_context=8)
    _check(fail)


def test_buffers_and_sessions_come_and_go(dev):
    def churn(i):
        if i % 4 == 0:
            s = spatten.Session(dev, kind="encoder", n_layers=1, n_heads=1,
                                head_dim=16, max_context=8)
            s.close()
        else:
            b = dev.alloc(4096 * (1 + i % 3))
            b.array(np.uint8, 16)[...] = 1
            b.free()
    _check(churn)
