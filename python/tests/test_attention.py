# SPDX-License-Identifier: MIT
"""spatten.attention(): against float softmax attention within the
documented bound, and the semantics of its arguments (batching, types,
layouts, pruning) against independent computations."""

import numpy as np
import pytest

import spatten
from reference import error_bound, softmax_attention

torch = pytest.importorskip("torch")


@pytest.mark.parametrize("H, G, L, S, D, causal, scale, mag", [
    (4, 4, 32, 32, 64, True, None, (1, 1, 1)),
    (8, 2, 1, 77, 32, True, None, (2, 2, 0.1)),      # decode step, GQA
    (4, 1, 5, 40, 128, True, 0.3, (1, 3, 30)),        # MQA, chunk
    (2, 2, 16, 48, 16, False, None, (4, 4, 1)),       # cross attention
    (4, 2, 64, 64, 32, False, 0.05, (10, 10, 2)),     # peaked softmax
])
def test_dense_matches_softmax(dev, rng, H, G, L, S, D, causal, scale, mag):
    q = (rng.standard_normal((H, L, D)) * mag[0]).astype(np.float32)
    k = (rng.standard_normal((G, S, D)) * mag[1]).astype(np.float32)
    v = (rng.standard_normal((G, S, D)) * mag[2]).astype(np.float32)
    out, st = spatten.attention(q, k, v, is_causal=causal, scale=scale,
                                enable_gqa=G != H, device=dev)
    assert out.dtype == np.float32 and out.shape == q.shape
    start = S - L if causal else None
    ref = softmax_attention(q, k, v, start, scale)
    bound = error_bound(q, k, v, start, scale)
    err = np.abs(out - ref).max(-1)
    assert np.all(err <= bound), (err / bound).max()
    assert err.max() > 0                  # quantization is visible
    assert st.status == 0 and st.bytes_k_msb == G * S * D * 2
    assert st.bytes_dense == 2 * D * (H * L + 2 * G * S)
    assert st.fracs["out"] == [st.fracs["v"][h // (H // G)]
                               for h in range(H)]


def test_batches_types_and_layouts_give_the_same_bits(dev, rng):
    B, H, L, D = 3, 4, 12, 32
    q = rng.standard_normal((B, H, L, D)).astype(np.float32)
    k = rng.standard_normal((B, H, L, D)).astype(np.float32)
    v = rng.standard_normal((B, H, L, D)).astype(np.float32)
    out, stats = spatten.attention(q, k, v, is_causal=True, device=dev)
    assert isinstance(stats, list) and len(stats) == B
    for b in range(B):
        one, st = spatten.attention(q[b], k[b], v[b], is_causal=True,
                                    device=dev)
        assert np.array_equal(one, out[b]) and st.cycles == stats[b].cycles
    # two batch dimensions, torch tensors, non-contiguous inputs
    tq = torch.from_numpy(q).reshape(1, B, H, L, D)
    tk = torch.from_numpy(np.ascontiguousarray(k.transpose(0, 2, 1, 3))) \
        .transpose(1, 2).reshape(1, B, H, L, D)
    tv = torch.from_numpy(v).reshape(1, B, H, L, D)
    tout, tstats = spatten.attention(tq, tk, tv, is_causal=True, device=dev)
    assert isinstance(tout, torch.Tensor) and tout.shape == tq.shape
    assert np.array_equal(tout[0].numpy(), out) and len(tstats) == B
    # float64 input is taken as float32
    o64, _ = spatten.attention(q.astype(np.float64), k, v, is_causal=True,
                               device=dev)
    assert np.array_equal(o64, out)
    # fp16 and bf16: the float result of the same values, rounded once
    for dt in (torch.float16, torch.bfloat16):
        x = [torch.from_numpy(a).to(dt) for a in (q, k, v)]
        o, _ = spatten.attention(*x, is_causal=True, device=dev)
        of, _ = spatten.attention(*[a.float() for a in x], is_causal=True,
                                  device=dev)
        assert o.dtype == dt and torch.equal(o, of.to(dt))
    o16, _ = spatten.attention(q.astype(np.float16), k, v, is_causal=True,
                               device=dev)
    ref16, _ = spatten.attention(q.astype(np.float16).astype(np.float32), k,
                                 v, is_causal=True, device=dev)
    assert o16.dtype == np.float16
    assert np.array_equal(o16, ref16.astype(np.float16))


def test_more_than_one_submit(dev, rng):
    """70 batch items: two submits of at most 64 jobs."""
    q = rng.standard_normal((70, 1, 4, 16)).astype(np.float32)
    before = dev.counters()["jobs_ok"]
    out, stats = spatten.attention(q, q, q, device=dev)
    assert dev.counters()["jobs_ok"] - before == 70 and len(stats) == 70
    last, _ = spatten.attention(q[69], q[69], q[69], device=dev)
    assert np.array_equal(out[69], last)


def test_token_pruning_keeps_the_most_important(dev, rng):
    """The kept tokens are the top-k of the importance given (ties to the
    older token), pinned ones always; the importance grows in place by
    the probabilities the kept tokens received."""
    H, S, D, keep = 4, 40, 32, 10
    q = rng.standard_normal((H, S, D)).astype(np.float32)
    imp = rng.integers(0, 1 << 20, S).astype(np.uint64)
    imp[[3, 4]] = imp.max() + 5                    # a tie at the top
    before = imp.copy()
    out, st = spatten.attention(q, q, q, is_causal=True, token_keep=keep,
                                token_importance=imp, pinned=[0],
                                device=dev)
    order = sorted(range(1, S), key=lambda j: (-int(before[j]), j))
    expect = sorted([0] + order[:keep - 1])
    assert st.token_keep == keep and st.tokens_kept.tolist() == expect
    grown = imp - before
    assert np.all(grown[expect] > 0)
    dropped = np.setdiff1d(np.arange(S), expect)
    assert np.all(grown[dropped] == 0)
    # query rows of pruned tokens give 0 (summarization)
    assert np.all(out[:, dropped] == 0)
    assert st.bytes_k_msb == H * keep * D * 2
    # ratios count like the library's schedule: 0.25 of 40 is 10
    imp2 = before.copy()
    _, st2 = spatten.attention(q, q, q, is_causal=True, token_keep=0.25,
                               token_importance=imp2, pinned=[0],
                               device=dev)
    assert st2.tokens_kept.tolist() == expect


def test_value_and_head_pruning(dev, rng):
    H, S, D = 4, 32, 16
    q = rng.standard_normal((H, S, D)).astype(np.float32)
    himp = np.array([5, 1, 9, 3], np.uint64)
    out, st = spatten.attention(q, q, q, head_keep=2, head_importance=himp,
                                value_keep=0.25, device=dev)
    assert st.value_keep == 8 and st.head_keep == 2
    # heads are ranked after this layer adds its output magnitudes
    added = himp - np.array([5, 1, 9, 3], np.uint64)
    assert np.all(added > 0)
    assert st.heads_kept.tolist() == sorted(np.argsort(-himp.astype(
        np.float64), kind="stable")[:2].tolist())
    # value pruning reads at most 8 V rows per (head, query), and the
    # output is the top-8 probabilities' V rows (not renormalised)
    dense, _ = spatten.attention(q, q, q, device=dev)
    assert not np.array_equal(out, dense)
    s = np.einsum("hld,hsd->hls", q.astype(np.float64), q) / np.sqrt(D)
    p = np.exp(s - s.max(-1, keepdims=True))
    p /= p.sum(-1, keepdims=True)
    order = np.argsort(-p, -1, kind="stable")
    mask = np.zeros_like(p, bool)
    np.put_along_axis(mask, order[..., :8], True, -1)
    ref = np.where(mask, p, 0) @ q.astype(np.float64)
    # rows whose 8th and 9th probabilities are closer than the board's
    # resolution may keep either: compare the others
    ps = np.take_along_axis(p, order, -1)
    clear = ps[..., 7] - ps[..., 8] > 2.0 ** -12
    assert clear.mean() > 0.5
    assert np.abs(out - ref).max(-1)[clear].max() < 0.02
    # only the heads alive are computed
    out3, _ = spatten.attention(q, q, q, head_alive=[1, 3], device=dev)
    assert np.all(out3[[0, 2]] == 0) and np.array_equal(out3[[1, 3]],
                                                        dense[[1, 3]])


def test_progressive_keys_refetch(dev, rng):
    H, S, D = 4, 48, 32
    q = rng.standard_normal((H, S, D)).astype(np.float32)
    k = rng.standard_normal((H, S, D)).astype(np.float32)
    dense, _ = spatten.attention(q, k, k, is_causal=True, device=dev)

    def run(threshold):
        return spatten.attention(q, k, k, is_causal=True, progressive=True,
                                 k_bits=6, lsb_threshold=threshold,
                                 device=dev)
    some, st = run(0.5)
    assert 0 < st.lsb_refetches < H * S
    assert st.bytes_k_msb == H * S * D * 6 // 8 and st.bytes_k_lsb > 0
    never, st0 = run(0.0)
    assert st0.lsb_refetches == 0 and st0.bytes_k_lsb == 0
    always, st1 = run(1.0)
    assert st1.lsb_refetches == H * (S - 1)   # row 0 sees one key: p = 1
    # refetching brings the 6-bit MSB keys back to their 10 bits
    err = [np.abs(x - dense).mean() for x in (never, some, always)]
    assert err[0] > err[1] > err[2]


def test_rope_on_the_board(dev, rng):
    """rope_base: the board rotates Q and K by position; the result equals
    attention over keys and queries rotated in float64 here."""
    H, S, D, base = 2, 24, 32, 10000.0
    q = rng.standard_normal((H, S, D)).astype(np.float32)
    k = rng.standard_normal((H, S, D)).astype(np.float32)
    out, _ = spatten.attention(q, k, k, is_causal=True, rope_base=10000,
                               device=dev)

    def rope(x):
        half = D // 2
        inv = base ** (-np.arange(half) * 2.0 / D)
        ang = np.arange(S)[:, None] * inv[None, :]
        c, s = np.cos(ang), np.sin(ang)
        x1, x2 = x[..., :half].astype(np.float64), x[..., half:]
        return np.concatenate([x1 * c - x2 * s, x2 * c + x1 * s], -1)
    ref = softmax_attention(rope(q), rope(k), k, 0)
    plain = softmax_attention(q, k, k, 0)
    err = np.abs(out - ref).max()
    assert err < 0.01 and np.abs(out - plain).max() > 10 * err


def test_saturation_is_reported(dev, rng):
    """4-bit V holds at most 7.5 even with no fractional bits: larger
    values saturate, and the call says so as asked."""
    q = rng.standard_normal((2, 8, 16)).astype(np.float32)
    v = q * 10
    with pytest.warns(RuntimeWarning, match="saturated"):
        _, st = spatten.attention(q, q, v, v_bits=4, device=dev)
    assert st.saturations > 0
    with pytest.raises(spatten.SaturationError, match="saturated"):
        spatten.attention(q, q, v, v_bits=4, saturation="raise", device=dev)
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _, st2 = spatten.attention(q, q, v, v_bits=4, saturation="ignore",
                                   device=dev)
    assert st2.saturations == st.saturations


def test_requires_grad_is_refused(dev):
    q = torch.zeros(2, 4, 16, requires_grad=True)
    with pytest.raises(RuntimeError, match="no_grad"):
        spatten.attention(q, q, q, device=dev)
    with torch.no_grad():
        out, _ = spatten.attention(q, q, q, device=dev)
    assert not out.requires_grad


def test_pinned_without_pruning(dev, rng):
    """token_keep that prunes nothing with pinned tokens: nothing to pin."""
    q = rng.standard_normal((2, 8, 16)).astype(np.float32)
    out, st = spatten.attention(q, q, q, token_keep=1.0, pinned=[0],
                                device=dev)
    dense, _ = spatten.attention(q, q, q, device=dev)
    assert np.array_equal(out, dense) and st.token_keep == 0


def test_torch_sdpa_drop_in(dev, rng, monkeypatch):
    """spatten.torch.scaled_dot_product_attention: PyTorch's signature and
    causal mask (top-left, also when L < S)."""
    from spatten.torch import scaled_dot_product_attention as sdpa
    monkeypatch.setattr(spatten.functional, "_default", dev)
    H, L, S, D = 4, 6, 20, 32
    q = torch.randn(2, H, L, D)
    k = torch.randn(2, H, S, D)
    v = torch.randn(2, H, S, D)
    out = sdpa(q, k, v, is_causal=True)
    assert isinstance(out, torch.Tensor) and out.shape == q.shape
    for b in range(2):
        qb, kb, vb = q[b].numpy(), k[b].numpy(), v[b].numpy()
        ref = softmax_attention(qb, kb, vb, 0)          # top-left
        err = np.abs(out[b].numpy() - ref).max(-1)
        assert np.all(err <= error_bound(qb, kb, vb, 0))
    full = sdpa(q, k, v, scale=0.1)
    ref = softmax_attention(q[0].numpy(), k[0].numpy(), v[0].numpy(),
                            None, 0.1)
    assert np.abs(full[0].numpy() - ref).max() < 0.01
    with pytest.raises(ValueError, match="attn_mask"):
        sdpa(q, k, v, attn_mask=torch.ones(L, S, dtype=torch.bool))
    with pytest.raises(ValueError, match="dropout"):
        sdpa(q, k, v, dropout_p=0.1)
