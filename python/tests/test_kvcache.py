# SPDX-License-Identifier: MIT
"""spatten.torch.SpAttenKVCache keeps the tokens the authors' policy keeps.

The reference below is written from the policy's statement alone
(docs/python.md, lib/README.md "bounded KV cache"): when a pass would not
fit, the cache keeps its first ``start`` tokens, its ``recent`` newest, and
the ``important`` of the rest with the largest importance (ties to the
older token), in their order, then appends the new tokens.  It is fed the
importance the board reports before each pass and must predict, token for
token, what the cache holds after it."""

import pytest

torch = pytest.importorskip("torch")
from spatten import Schedule                              # noqa: E402
from spatten.torch import SpAttenAttention, SpAttenKVCache  # noqa: E402

H, G, D = 4, 2, 32


def policy(ids, imp, start, important, recent):
    """The tokens a full cache keeps: a list of sequence ids, in order."""
    n = len(ids)
    if n <= start + important + recent:
        return list(ids)
    middle = list(range(start, n - recent))
    # largest importance first; among equals, the older (lower slot)
    ranked = sorted(middle, key=lambda i: (-int(imp[i]), i))[:important]
    keep = sorted(list(range(start)) + ranked +
                  list(range(n - recent, n)))
    return [int(ids[i]) for i in keep]


def _snapshot(cache, per_head, layers):
    if not per_head:
        return {None: (cache.kept_tokens().tolist(),
                       cache.importance().tolist())}
    return {(i, g): (cache.kept_tokens(layer=i, kv_head=g).tolist(),
                     cache.importance(layer=i, kv_head=g).tolist())
            for i in range(layers) for g in range(G)}


@pytest.mark.parametrize("per_head", [False, True])
@pytest.mark.parametrize("budget, max_context", [((4, 8, 8), 24),
                                                 ((0, 6, 3), 12),
                                                 ((2, 0, 5), 10)])
def test_kept_tokens_follow_the_policy(dev, per_head, budget, max_context):
    start, important, recent = budget
    layers = 2
    sched = None if per_head else Schedule.paper(layers, (0.9, 0.8))
    cache = SpAttenKVCache(start, recent, important, n_layers=layers,
                           max_context=max_context, per_head=per_head,
                           schedule=sched, device=dev)
    attn = [SpAttenAttention(i) for i in range(layers)]
    gen = torch.Generator().manual_seed(7 + max_context)
    prompt, evictions, seq = 9, 0, 0
    with torch.no_grad():
        for step in range(60):
            n = prompt if step == 0 else (2 if step % 7 == 3 else 1)
            before = _snapshot(cache, per_head, layers)
            for i in range(layers):
                q = torch.randn(1, H, n, D, generator=gen) * 2
                k = torch.randn(1, G, n, D, generator=gen) * 2
                v = torch.randn(1, G, n, D, generator=gen)
                attn[i](q, k, v, cache)
            new = list(range(seq, seq + n))
            seq += n
            after = _snapshot(cache, per_head, layers)
            for key, (ids, imp) in before.items():
                if len(ids) + n > max_context:
                    expect = policy(ids, imp, start, important, recent)
                    evictions += 1
                else:
                    expect = ids
                assert after[key][0] == expect + new, (step, key)
            assert len(cache) <= max_context
    assert evictions >= 5                   # the policy was exercised
    assert cache.seen_tokens == seq
    cache.close()


def test_unbounded_cache_keeps_everything(dev):
    cache = SpAttenKVCache(0, 0, 0, n_layers=1, max_context=40, device=dev)
    with torch.no_grad():
        for n in (10, 1, 1, 5):
            x = torch.randn(1, H, n, D)
            kv = torch.randn(1, G, n, D)
            cache.attention(0, x, kv, kv)
    assert cache.kept_tokens().tolist() == list(range(17))
    st = cache.step_stats()
    assert st["kept"] == [17] and st["bytes_read"] <= st["bytes_dense"]
    cache.reset()
    assert len(cache) == 0 and cache.seen_tokens == 0
    cache.close()


def test_token_major_tensors(dev):
    """k_seq_dim=1: (B, T, heads, D) tensors give the same bits."""
    a = SpAttenKVCache(1, 3, 3, n_layers=1, max_context=12, device=dev)
    b = SpAttenKVCache(1, 3, 3, 1, 1, n_layers=1, max_context=12,
                       device=dev)
    gen = torch.Generator().manual_seed(3)
    with torch.no_grad():
        for n in (8, 1, 1, 1, 1, 1):
            q = torch.randn(2, H, n, D, generator=gen)
            kv = torch.randn(2, G, n, D, generator=gen)
            oa = a.attention(0, q, kv, kv)
            ob = b.attention(0, q.transpose(1, 2), kv.transpose(1, 2),
                             kv.transpose(1, 2))
            assert torch.equal(oa, ob.transpose(1, 2))
    for row in range(2):
        assert a.kept_tokens(row).tolist() == b.kept_tokens(row).tolist()
    a.close()
    b.close()
