# SPDX-License-Identifier: MIT
"""Sessions from Python: layouts, strides, element types and grouped-query
attention give the bits they must; dense sessions match a plain PyTorch
softmax attention within the fixed-point tolerance (docs/python.md)."""

import numpy as np
import pytest

import spatten
from reference import error_bound, softmax_attention

torch = pytest.importorskip("torch")

H, G, D, LAYERS = 8, 2, 32, 2


def _session(dev, **kw):
    base = dict(kind="decoder", n_layers=LAYERS, n_heads=H, n_kv_heads=G,
                head_dim=D, max_context=96,
                schedule=spatten.Schedule.paper(LAYERS, (0.7, 0.5),
                                                (1.0, 0.75), 0.6))
    base.update(kw)
    return spatten.Session(dev, **base)


def _inputs(rng, passes, heads=(H, G, G)):
    """Per pass and layer: float32 q, k, v as (heads, n, D)."""
    out = []
    for n in passes:
        out.append([tuple(rng.standard_normal((h, n, D)).astype(np.float32)
                          for h in heads) for _ in range(LAYERS)])
    return out


def _run(s, data, convert=lambda a: a, layout="htd"):
    outs = []
    for layers in data:
        for layer, (q, k, v) in enumerate(layers):
            q, k, v = (convert(a) for a in (q, k, v))
            if layout == "thd":
                q, k, v = (a.transpose(1, 0, 2).copy() if
                           isinstance(a, np.ndarray) else
                           a.transpose(0, 1).contiguous() for a in (q, k, v))
            o = s.attend(layer, q, k, v, layout=layout)
            if layout == "thd":
                o = o.transpose(1, 0, 2) if isinstance(o, np.ndarray) \
                    else o.transpose(0, 1)
            outs.append(np.array(o if isinstance(o, np.ndarray)
                                 else o.float().numpy(), np.float32))
    return outs


def _same(a, b):
    assert len(a) == len(b)
    for x, y in zip(a, b):
        assert x.shape == y.shape
        assert np.array_equal(x.view(np.uint32), y.view(np.uint32))


PASSES = [24, 1, 1, 1, 3]       # a prompt, three steps, a chunk


def test_layouts_and_strides_give_the_same_bits(dev, rng):
    data = _inputs(rng, PASSES)
    ref = _run(_session(dev), data)
    _same(ref, _run(_session(dev), data, layout="thd"))
    # torch views: strided (every other token of a wider tensor), the
    # head axis reversed twice (negative strides in between), as tensors

    def strided(a):
        t = torch.from_numpy(a)
        wide = torch.zeros(a.shape[0], 2 * a.shape[1], D)
        wide[:, ::2] = t
        return wide[:, ::2]
    _same(ref, _run(_session(dev), data, strided))

    def flipped(a):
        return np.flip(np.flip(a.copy(), 0), 0)
    _same(ref, _run(_session(dev), data, flipped))


def test_fp16_and_bf16_inputs_equal_float_inputs(dev, rng):
    data = _inputs(rng, PASSES)
    data16 = [[tuple(a.astype(np.float16).astype(np.float32) for a in x)
               for x in p] for p in data]
    ref = _run(_session(dev), data16)
    got = _run(_session(dev), data16, lambda a: a.astype(np.float16))
    assert all(np.array_equal(x.astype(np.float16), y) for x, y in
               zip(ref, got))
    # torch fp16 output: the float output rounded once (nearest even)
    got_t = _run(_session(dev), data16,
                 lambda a: torch.from_numpy(a).half())
    assert all(np.array_equal(x.astype(np.float16), y.astype(np.float16))
               for x, y in zip(ref, got_t))
    databf = [[tuple(torch.from_numpy(a).bfloat16().float().numpy()
                     for a in x) for x in p] for p in data]
    refbf = _run(_session(dev), databf)
    gotbf = _run(_session(dev), databf,
                 lambda a: torch.from_numpy(a).bfloat16())
    for x, y in zip(refbf, gotbf):
        assert torch.equal(torch.from_numpy(x).bfloat16(),
                           torch.from_numpy(y).bfloat16())


def test_gqa_equals_repeated_kv(dev, rng):
    data = _inputs(rng, PASSES)
    rep = [[(q, np.repeat(k, H // G, 0), np.repeat(v, H // G, 0))
            for q, k, v in p] for p in data]
    gqa = _session(dev)
    _same(_run(gqa, data), _run(_session(dev, n_kv_heads=H), rep))
    st = gqa.total_stats(0)
    st_mha = _session(dev, n_kv_heads=H)
    _run(st_mha, rep)
    # each KV head's rows are read once for its query heads
    assert st.bytes_k_msb * (H // G) == st_mha.total_stats(0).bytes_k_msb


@pytest.mark.parametrize("kind", ["encoder", "decoder"])
def test_dense_session_matches_torch_softmax(dev, rng, kind):
    s = _session(dev, kind=kind, schedule=None)
    prompt = 40
    ks = [[] for _ in range(LAYERS)]
    vs = [[] for _ in range(LAYERS)]
    passes = [prompt] + ([1] * 6 if kind == "decoder" else [])
    worst = 0.0
    for n in passes:
        for layer in range(LAYERS):
            q = rng.standard_normal((H, n, D)).astype(np.float32) * 2
            k = rng.standard_normal((G, n, D)).astype(np.float32)
            v = rng.standard_normal((G, n, D)).astype(np.float32) * 3
            if ks[layer]:
                # the cache keeps the scales of a layer's first pass: later
                # tokens within its range saturate nothing
                for x, first in ((k, ks[layer][0]), (v, vs[layer][0])):
                    lim = np.abs(first).max(axis=(1, 2), keepdims=True)
                    np.clip(x, -lim, lim, out=x)
            out = s.attend(layer, q, k, v)
            assert s.saturations(layer) == (0, 0, 0)
            ks[layer].append(k)
            vs[layer].append(v)
            K = np.concatenate(ks[layer], 1)
            V = np.concatenate(vs[layer], 1)
            causal = None if kind == "encoder" else K.shape[1] - n
            ref = softmax_attention(q, K, V, causal)
            err = np.abs(out - ref).max(-1)
            bound = error_bound(q, K, V, causal)
            assert np.all(err <= bound), (n, layer, (err / bound).max())
            worst = max(worst, (err / bound).max())
    assert worst > 0.001    # the comparison saw quantization at all


def test_torch_module_dense_matches_softmax(dev, rng):
    from spatten.torch import SpAttenAttention, SpAttenKVCache
    cache = SpAttenKVCache(0, 0, 0, n_layers=1, max_context=64, device=dev)
    attn = SpAttenAttention(layer_idx=0)
    q = torch.randn(2, H, 20, D)
    k = torch.randn(2, G, 20, D)
    v = torch.randn(2, G, 20, D)
    with torch.no_grad():
        out = attn(q, k, v, cache)
        assert out.shape == q.shape and out.dtype == q.dtype
        for b in range(2):
            qb, kb, vb = q[b].numpy(), k[b].numpy(), v[b].numpy()
            err = np.abs(out[b].numpy() - softmax_attention(qb, kb, vb, 0))
            assert np.all(err.max(-1) <= error_bound(qb, kb, vb, 0))
        # stateless: one job per batch row, the same scales and bits
        out2 = SpAttenAttention(device=dev)(q, k, v)
        assert torch.equal(out, out2)
    assert len(cache) == 20 and cache.kept_tokens().tolist() == \
        list(range(20))
    cache.close()


def test_import_then_steps_equals_prompt_then_steps(dev, rng):
    """Importing a prompt's K and V, then generating, gives what running
    the prompt gives (dense, fixed scales: the library's rule)."""
    kw = dict(schedule=None, fixed_fracs=(11, 11, 11, 11))
    n = 16
    data = _inputs(rng, [n, 1, 1])
    a = _session(dev, **kw)
    ref = _run(a, data)
    b = _session(dev, **kw)
    b.import_kv([x[1] for x in data[0]], [x[2] for x in data[0]])
    assert b.context == n
    got = _run(b, data[1:])
    _same(ref[LAYERS:], got)


def test_state_queries(dev, rng):
    s = _session(dev)
    data = _inputs(rng, [24, 1])
    _run(s, data)
    assert s.context == 25
    ids, imp = s.cache()
    assert ids.tolist() == list(range(25)) and imp.dtype == np.uint64
    alive = s.alive(1)
    assert len(alive) == s.stats(1).tokens_kept and 24 in alive
    assert len(s.heads(1)) == s.stats(1).heads_alive
    tot = s.total_stats(0)
    assert tot.q_rows == 25 and tot.bytes_dense > 0
    assert s.saturations(0) == (0, 0, 0)
    s.reset()
    assert s.context == 0 and s.total_stats(0).bytes_q == 0
    assert "decoder" in repr(s)


def test_batch_of_one_keeps_its_rank(dev, rng):
    s = _session(dev, schedule=None)
    q = torch.randn(1, H, 5, D)
    kv = torch.randn(1, G, 5, D)
    out = s.attend(0, q, kv, kv)
    assert out.shape == q.shape
    out1 = s.attend(1, q[0], kv[0], kv[0])
    assert out1.shape == q[0].shape


def test_rope_scales_leave_room_for_the_rotation(dev, rng):
    """RoPE on the board: a pair (x_i, x_{i+D/2}) at the head's largest
    |x| rotates to up to sqrt(2) times it.  The scales must hold that
    (they were once chosen from |x| alone, and the board clipped the
    rotated values silently: outputs off by 0.1 and more)."""
    n, base = 24, 10000.0
    half = D // 2
    s = _session(dev, n_kv_heads=H, schedule=None, rope_base=int(base))
    q = rng.uniform(-1, 1, (H, n, D)).astype(np.float32)
    k = rng.uniform(-1, 1, (H, n, D)).astype(np.float32)
    v = rng.standard_normal((H, n, D)).astype(np.float32)
    for x in (q, k):
        # every element at 7.9: 16 bits hold it with 12 fractional bits
        # (7.9 * 2^12 = 32358), a rotated pair reaches 11.2 (45761)
        x[...] = 7.9 * np.sign(rng.standard_normal(x.shape))

    def rope(x):
        inv = base ** (-np.arange(half) * 2.0 / D)
        ang = np.arange(n)[:, None] * inv[None, :]
        c, si = np.cos(ang), np.sin(ang)
        a, b = x[..., :half].astype(np.float64), x[..., half:]
        return np.concatenate([a * c - b * si, b * c + a * si], -1)
    out = s.attend(0, q, k, v)
    rq, rk = rope(q), rope(k)
    ref = softmax_attention(rq, rk, v, 0)
    err = np.abs(out - ref).max(-1)
    assert np.all(err <= error_bound(rq, rk, v, 0)), err.max()
