# SPDX-License-Identifier: MIT
"""The package's results equal the C API's, bit for bit.

The same inputs go through :func:`spatten.attention` and
:class:`spatten.Session` on one side and through c/pyref.c (the C API
called directly, as its head comment describes) on the other, both on the
simulation backend; the outputs must be the same bytes and every figure
the job reports (kept tokens and heads, importance, fractional bits, bytes
read, cycles, LSB refetches, saturations) the same values.  fp16 and bf16
inputs reach the C side widened to float32 (exactly), and its float
output is narrowed by spatten_convert(), as the package does.

A dense check against a float64 softmax attention makes sure the two
sides do not agree on something wrong.
"""

import itertools
import math
import subprocess

import numpy as np
import pytest

import spatten

try:
    import torch
except ImportError:     # the bf16 cases skip
    torch = None

DTYPES = ("f32", "f16", "bf16")

# struct spatten_layer_stats's fields, in the order pyref writes them.
STATS_FIELDS = ("status", "stage", "kv_rows", "q_rows", "tokens_alive",
                "tokens_kept", "heads_alive", "heads_kept", "value_keep",
                "lsb_refetches", "query_rows", "bytes_q", "bytes_k_msb",
                "bytes_k_lsb", "bytes_v", "bytes_written", "bytes_dense",
                "cycles")
# The job's figures pyref writes last, after the fractional bits.
RESULT_FIELDS = ("status", "lsb_refetches", "bytes_q", "bytes_k_msb",
                 "bytes_k_lsb", "bytes_v", "bytes_written", "cycles",
                 "saturations")


# ---- helpers ----------------------------------------------------------------

class Reader:
    """Reads pyref's output file in order."""

    def __init__(self, data):
        self.data = data
        self.at = 0

    def take(self, dtype, n):
        dtype = np.dtype(dtype).newbyteorder("<")
        a = np.frombuffer(self.data, dtype, n, self.at)
        self.at += a.nbytes
        return a

    def u64(self):
        return int(self.take(np.uint64, 1)[0])

    def done(self):
        assert self.at == len(self.data), \
            "pyref wrote %d bytes, %d read" % (len(self.data), self.at)


_runs = itertools.count()


def run_pyref(pyref, tmp_path, mode, args, payload):
    """Run `pyref mode` on @payload; return its output file's bytes."""
    n = next(_runs)
    inp = tmp_path / ("%s-%d.in" % (mode, n))
    out = tmp_path / ("%s-%d.out" % (mode, n))
    inp.write_bytes(payload)
    cmd = [pyref, mode] + ["%s=%s" % (k, _fmt(v)) for k, v in args.items()] + \
        ["in=%s" % inp, "out=%s" % out]
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       universal_newlines=True)
    assert p.returncode == 0, "%s: exit %d: %s" % (" ".join(map(str, cmd)),
                                                   p.returncode, p.stderr)
    return out.read_bytes()


def bits_of(x):
    """The element bit patterns of an output (numpy or torch), as uints."""
    if torch is not None and isinstance(x, torch.Tensor):
        return x.view(torch.int16).numpy().view(np.uint16)
    if x.dtype.kind == "u":
        return x
    return x.view(np.uint32 if x.dtype == np.float32 else np.uint16)


def c_bits(raw, dtype, shape):
    """pyref's output bytes as element bit patterns of @shape."""
    a = np.frombuffer(raw, np.uint32 if dtype == "f32" else np.uint16)
    return a.reshape(shape)


def as_float(bits, dtype):
    if dtype == "f32":
        return bits.view(np.float32).astype(np.float64)
    if dtype == "f16":
        return bits.view(np.float16).astype(np.float64)
    return (bits.astype(np.uint32) << 16).view(np.float32).astype(np.float64)


def assert_same_bits(py, c, dtype, what):
    pb = bits_of(py)
    assert pb.shape == c.shape, "%s: shapes %s, %s" % (what, pb.shape,
                                                       c.shape)
    if not np.array_equal(pb, c):
        diff = pb != c
        d = np.abs(as_float(pb, dtype) - as_float(c, dtype))
        pytest.fail("%s: %d of %d elements differ (first at %s, largest "
                    "difference %g)" % (what, diff.sum(), diff.size,
                                        np.argwhere(diff)[0].tolist(),
                                        np.nanmax(d)))


def make(rng, shape, spread=2.0):
    """float32 data of @shape (..., heads, rows, dim), each head at its own
    scale (2^-spread .. 2^spread), so each gets its own fractional bits."""
    x = rng.standard_normal(shape).astype(np.float32)
    s = 2.0 ** rng.uniform(-spread, spread, size=shape[:-2] + (1, 1))
    return (x * s).astype(np.float32)


def to_input(x, dtype):
    """float32 @x as the package's input of @dtype, and the float32 values
    the C side gets (the input widened exactly)."""
    if dtype == "f32":
        return x, x
    if dtype == "f16":
        h = x.astype(np.float16)
        return h, h.astype(np.float32)
    if torch is None:
        pytest.skip("bfloat16 inputs are torch tensors: torch is not "
                    "installed")
    t = torch.from_numpy(np.ascontiguousarray(x)).to(torch.bfloat16)
    return t, t.float().numpy()


def _fmt(v):
    if isinstance(v, bool):
        return int(v)
    if isinstance(v, float):
        return repr(v)
    if isinstance(v, (list, tuple)):
        return ",".join(str(int(i)) for i in v)
    return v


# ---- spatten.attention() against pyref job ----------------------------------

# name: (H, G, L, S, E, causal)
SHAPES = {
    "mha-prompt": (4, 4, 32, 32, 32, True),
    "gqa-prompt": (8, 2, 48, 48, 64, True),
    "mqa-prompt": (4, 1, 24, 24, 16, True),
    "mha-decode": (4, 4, 1, 40, 16, True),
    "gqa-decode": (8, 2, 1, 96, 32, True),
    "gqa-chunk": (8, 2, 8, 64, 32, True),
    "mqa-decode": (4, 1, 1, 64, 64, True),
    "encoder": (4, 4, 40, 40, 32, False),
    "gqa-encoder": (8, 2, 32, 32, 16, False),
    "cross": (4, 4, 24, 64, 32, False),
    "gqa-cross": (8, 2, 16, 40, 64, False),
}

# name: (shape, attention() keywords; tok_imp/head_imp: pass importance;
# refetch: "some" = 0 < refetches < every row, "any" = > 0)
PRUNING = {
    "token-imp-prompt": ("mha-prompt", dict(token_keep=12, tok_imp=True)),
    "token-imp-decode": ("gqa-decode", dict(token_keep=40, tok_imp=True)),
    "token-noimp": ("encoder", dict(token_keep=16)),
    "token-pinned": ("encoder", dict(token_keep=10, pinned=[0, 5, 39],
                                     tok_imp=True)),
    "token-alive": ("encoder", dict(token_alive=list(range(0, 40, 2)))),
    "token-alive-keep": ("gqa-prompt", dict(
        token_alive=[0, 1, 2, 5, 8, 13, 21, 30, 31, 32, 40, 47],
        token_keep=7, tok_imp=True)),
    "token-alive-decode": ("gqa-decode", dict(
        token_alive=list(range(0, 95, 3)), token_keep=12, tok_imp=True)),
    "head-alive": ("gqa-prompt", dict(head_alive=[0, 3, 4, 7],
                                      head_imp=True)),
    "head-alive-keep": ("mqa-decode", dict(head_alive=[1, 2], head_keep=1,
                                           head_imp=True)),
    "token-chunk": ("gqa-chunk", dict(token_keep=30, tok_imp=True)),
    "head-imp": ("gqa-prompt", dict(head_keep=3, head_imp=True)),
    "head-noimp": ("mha-decode", dict(head_keep=2)),
    "value": ("encoder", dict(value_keep=8)),
    "value-decode": ("mqa-decode", dict(value_keep=5)),
    "all-gqa": ("gqa-prompt", dict(token_keep=20, head_keep=5,
                                   value_keep=6, tok_imp=True,
                                   head_imp=True)),
    "all-decode": ("gqa-decode", dict(token_keep=50, head_keep=6,
                                      value_keep=9, tok_imp=True)),
    "prog8": ("mha-prompt", dict(progressive=True, k_bits=8,
                                 lsb_threshold=0.3, refetch="some")),
    "prog8-high": ("encoder", dict(progressive=True, k_bits=8,
                                   lsb_threshold=0.5, refetch="any")),
    "prog6-gqa-decode": ("gqa-decode", dict(progressive=True, k_bits=6,
                                            lsb_threshold=0.5,
                                            refetch="any")),
    "prog6-prune": ("gqa-encoder", dict(progressive=True, k_bits=6,
                                        lsb_threshold=0.3, token_keep=24,
                                        value_keep=7, tok_imp=True,
                                        refetch="any")),
    "k8-static": ("mha-prompt", dict(k_bits=8)),
    "v8": ("gqa-encoder", dict(v_bits=8)),
    "v8-decode": ("mqa-decode", dict(v_bits=8)),
    "k12-v10": ("cross", dict(k_bits=12, v_bits=10)),
    "k6-v4": ("gqa-prompt", dict(k_bits=6, v_bits=4)),
    "prog8-v8": ("gqa-prompt", dict(progressive=True, k_bits=8, v_bits=8,
                                    lsb_threshold=0.15)),
    "scale": ("encoder", dict(scale=0.05)),
    "scale-gqa-decode": ("gqa-decode", dict(scale=0.3)),
    "rope-prompt": ("gqa-prompt", dict(rope_base=10000)),
    "rope-decode": ("mqa-decode", dict(rope_base=10000)),
    "rope-prune": ("mha-prompt", dict(rope_base=10000, token_keep=10,
                                      progressive=True, k_bits=8,
                                      lsb_threshold=0.1, tok_imp=True)),
    "rope-positions": ("gqa-prompt", dict(rope_base=10000, positions=(
        np.arange(48) * 3 + 7))),
    # a cache whose middle was evicted: 4 sinks, then every other token
    "rope-positions-decode": ("gqa-decode", dict(
        rope_base=500000,
        positions=np.concatenate((np.arange(4), np.arange(92) * 2 + 40)))),
    "rope-positions-chunk": ("gqa-chunk", dict(rope_base=10000,
                                               positions=np.arange(64) + 1000,
                                               token_keep=40, tok_imp=True)),
    "topk-seed": ("gqa-decode", dict(token_keep=50, head_keep=6,
                                     value_keep=9, tok_imp=True,
                                     topk_seed=12345)),
}


STALE = (
    "rows the device does not write (tokens pruned or not alive in "
    "summarization, heads not alive: docs/hardware.md) must come back 0, "
    "not holding an earlier call's output from the reused scratch buffer")


def unwritten_rows(shape, st, kw):
    """(H, L) mask of the output rows the device does not write: heads not
    alive, and in summarization the query rows of tokens not kept."""
    H, G, L, S, E, causal = shape
    mask = np.zeros((H, L), bool)
    if kw.get("head_alive") is not None:
        dead = np.setdiff1d(np.arange(H), kw["head_alive"])
        mask[dead] = True
    generation = causal and L < S and kw.get("q_start", S - L) == S - L
    if not generation:
        if kw.get("token_keep"):
            kept = st.tokens_kept
        elif kw.get("token_alive") is not None:
            kept = np.asarray(kw["token_alive"])
        else:
            kept = np.arange(L)
        mask[:, np.setdiff1d(np.arange(L), kept)] = True
    return mask


def run_both(dev, pyref, tmp_path, rng, shape, dtype, kw, batch=()):
    """Run one configuration through attention() and pyref job; compare
    everything.  Returns the Python stats (a list with a batch)."""
    H, G, L, S, E, causal = shape
    kw = dict(kw)
    tok_imp = kw.pop("tok_imp", False)
    head_imp = kw.pop("head_imp", False)
    kw.pop("refetch", None)
    q32 = make(rng, batch + (H, L, E))
    k32 = make(rng, batch + (G, S, E))
    v32 = make(rng, batch + (G, S, E))
    q, qc = to_input(q32, dtype)
    k, kc = to_input(k32, dtype)
    v, vc = to_input(v32, dtype)
    timp = (rng.integers(0, 1 << 24, size=batch + (S,)).astype(np.uint64)
            if tok_imp else None)
    himp = (rng.integers(0, 1 << 24, size=batch + (H,)).astype(np.uint64)
            if head_imp else None)
    timp0 = None if timp is None else timp.copy()
    himp0 = None if himp is None else himp.copy()

    out, stats = spatten.attention(
        q, k, v, is_causal=causal, enable_gqa=(G != H), device=dev,
        token_importance=timp, head_importance=himp, saturation="ignore",
        **kw)
    if not batch:
        stats = [stats]
    n_items = int(np.prod(batch)) if batch else 1
    py_bits = bits_of(out).reshape((n_items, H, L, E))
    qc, kc, vc = (a.reshape((n_items,) + a.shape[len(batch):])
                  for a in (qc, kc, vc))

    args = dict(n_heads=H, n_kv_heads=G, q_rows=L, kv_rows=S, head_dim=E,
                causal=causal, dtype=dtype, tok_imp=tok_imp,
                head_imp=head_imp)
    for name in ("token_keep", "head_keep", "value_keep"):
        if kw.get(name):
            args[name] = kw[name]
    for name in ("progressive", "k_bits", "v_bits", "rope_base", "scale",
                 "pinned", "topk_seed"):
        if name in kw:
            args[name] = kw[name]
    q_start = kw.get("q_start", S - L if causal else 0)
    args["q_start"] = q_start
    # generation: the new tokens are the last (libspatten.h, @stage)
    args["stage"] = int(causal and L < S and q_start == S - L)
    positions = kw.get("positions")
    if positions is not None:
        args["positions"] = 1
    for name, key in (("token_alive", "tok_alive"),
                      ("head_alive", "head_alive")):
        if name in kw:
            args[key] = kw[name]
    if "lsb_threshold" in kw:
        args["lsb_threshold"] = int(round(kw["lsb_threshold"] * 32768))

    stale = []
    for b in range(n_items):
        st = stats[b]
        payload = qc[b].tobytes() + kc[b].tobytes() + vc[b].tobytes()
        if tok_imp:
            payload += timp0.reshape((n_items, S))[b].tobytes()
        if head_imp:
            payload += himp0.reshape((n_items, H))[b].tobytes()
        if positions is not None:
            payload += np.asarray(positions, np.uint32).tobytes()
        r = Reader(run_pyref(pyref, tmp_path, "job", args, payload))
        what = "item %d" % b if batch else "output"
        c_out = r.take(np.uint32 if dtype == "f32" else np.uint16,
                       H * L * E).reshape((H, L, E))
        tk = kw.get("token_keep", 0)
        hk = kw.get("head_keep", 0)
        assert st.token_keep == tk and st.head_keep == hk
        assert st.value_keep == kw.get("value_keep", 0)
        # the rows the device wrote, bit for bit; the others are 0 in C
        skip = unwritten_rows(shape, st, kw)
        assert_same_bits(py_bits[b][~skip], c_out[~skip], dtype, what)
        assert not c_out[skip].any(), "pyref: unwritten rows are not 0"
        if py_bits[b][skip].any():
            stale.append(b)
        c_tok = r.take(np.uint32, tk)
        c_head = r.take(np.uint32, hk)
        if tk:
            np.testing.assert_array_equal(st.tokens_kept, c_tok,
                                          "kept tokens")
        else:
            assert st.tokens_kept is None
        if hk:
            np.testing.assert_array_equal(st.heads_kept, c_head,
                                          "kept heads")
        else:
            assert st.heads_kept is None
        if tok_imp:
            np.testing.assert_array_equal(
                timp.reshape((n_items, S))[b], r.take(np.uint64, S),
                "updated token importance")
        if head_imp:
            np.testing.assert_array_equal(
                himp.reshape((n_items, H))[b], r.take(np.uint64, H),
                "updated head importance")
        fr = r.take(np.uint8, 2 * H + 2 * G).tolist()
        assert st.fracs == {"q": fr[:H], "out": fr[H:2 * H],
                            "k": fr[2 * H:2 * H + G], "v": fr[2 * H + G:]}
        c_res = dict(zip(RESULT_FIELDS, r.take(np.uint64, 9).tolist()))
        r.done()
        py_res = {f: getattr(st, f) for f in RESULT_FIELDS}
        assert py_res == c_res
        assert st.status == 0
    if tok_imp:
        assert not np.array_equal(timp, timp0), "importance not updated"
    return (stats if batch else stats[0]), stale


def known_defect(stale):
    """Rows the board does not write must come back 0, as pyref's."""
    assert not stale, "item(s) %s: %s" % (stale, STALE)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", sorted(SHAPES))
def test_attention_dense(dev, pyref, tmp_path, rng, name, dtype):
    _, stale = run_both(dev, pyref, tmp_path, rng, SHAPES[name], dtype, {})
    known_defect(stale)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", sorted(PRUNING))
def test_attention_options(dev, pyref, tmp_path, rng, name, dtype):
    shape, kw = PRUNING[name]
    st, stale = run_both(dev, pyref, tmp_path, rng, SHAPES[shape], dtype,
                         kw)
    H, _, L = SHAPES[shape][:3]
    rows = H * L
    if kw.get("refetch") == "some":
        assert 0 < st.lsb_refetches < rows, \
            "%d LSB refetches of %d rows: the threshold tests nothing" \
            % (st.lsb_refetches, rows)
    elif kw.get("refetch") == "any":
        assert st.lsb_refetches > 0, "no LSB refetch"
    if kw.get("progressive"):
        assert (st.bytes_k_lsb > 0) == (st.lsb_refetches > 0)
    known_defect(stale)


@pytest.mark.parametrize("q_start", (0, 5))
def test_attention_q_start(dev, pyref, tmp_path, rng, q_start):
    """A causal job whose queries are not the last tokens (q_start < S -
    L): summarization, row i seeing keys up to q_start + i."""
    _, stale = run_both(dev, pyref, tmp_path, rng, (4, 4, 4, 16, 32, True),
                        "f32", dict(q_start=q_start))
    known_defect(stale)


def test_attention_ratios(dev, pyref, tmp_path, rng):
    """Keep ratios become the counts the library's rule gives: 0.5 of 96
    tokens is 48, 0.5 of 8 heads 4, 0.25 of 48 kept V rows 12."""
    H, G, L, S, E, causal = SHAPES["gqa-decode"]
    q = make(rng, (H, L, E))
    k = make(rng, (G, S, E))
    v = make(rng, (G, S, E))
    timp = rng.integers(0, 1 << 20, size=S).astype(np.uint64)
    himp = rng.integers(0, 1 << 20, size=H).astype(np.uint64)
    t0, h0 = timp.copy(), himp.copy()
    out, st = spatten.attention(q, k, v, is_causal=True, enable_gqa=True,
                                token_keep=0.5, head_keep=0.5,
                                value_keep=0.25, token_importance=timp,
                                head_importance=himp, device=dev)
    assert (st.token_keep, st.head_keep, st.value_keep) == (48, 4, 12)
    args = dict(n_heads=H, n_kv_heads=G, q_rows=L, kv_rows=S, head_dim=E,
                causal=1, token_keep=48, head_keep=4, value_keep=12,
                tok_imp=1, head_imp=1)
    r = Reader(run_pyref(pyref, tmp_path, "job", args, q.tobytes() +
                         k.tobytes() + v.tobytes() + t0.tobytes() +
                         h0.tobytes()))
    assert_same_bits(out, c_bits(r.take(np.uint32, H * L * E).tobytes(),
                                 "f32", (H, L, E)), "f32", "output")
    np.testing.assert_array_equal(st.tokens_kept, r.take(np.uint32, 48))
    np.testing.assert_array_equal(st.heads_kept, r.take(np.uint32, 4))
    np.testing.assert_array_equal(timp, r.take(np.uint64, S))
    np.testing.assert_array_equal(himp, r.take(np.uint64, H))


@pytest.mark.parametrize("dtype", ("f32", "bf16"))
def test_attention_batch(dev, pyref, tmp_path, rng, dtype):
    """Batch items are independent jobs, each as pyref computes it alone
    (importance rows updated per item)."""
    _, stale = run_both(dev, pyref, tmp_path, rng, SHAPES["gqa-prompt"],
                        dtype, dict(token_keep=20, head_keep=4, tok_imp=True,
                                    head_imp=True, progressive=True,
                                    k_bits=8, lsb_threshold=0.1),
                        batch=(2, 3))
    known_defect(stale)


def test_cross_token_pruning_rejected(dev, pyref, tmp_path, rng):
    """Token pruning in summarization needs q_rows == kv_rows: both sides
    refuse cross attention with it (EINVAL from spatten_attn_prep3())."""
    H, G, L, S, E, _ = SHAPES["gqa-cross"]
    q, k, v = make(rng, (H, L, E)), make(rng, (G, S, E)), make(rng, (G, S, E))
    with pytest.raises(spatten.InvalidArgumentError):
        spatten.attention(q, k, v, enable_gqa=True, token_keep=17,
                          device=dev)
    inp = tmp_path / "cross.in"
    inp.write_bytes(q.tobytes() + k.tobytes() + v.tobytes())
    p = subprocess.run([pyref, "job", "n_heads=%d" % H, "n_kv_heads=%d" % G,
                        "q_rows=%d" % L, "kv_rows=%d" % S, "head_dim=%d" % E,
                        "token_keep=17", "in=%s" % inp,
                        "out=%s" % (tmp_path / "cross.out")],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       universal_newlines=True)
    assert p.returncode == 1 and "spatten_attn_prep3" in p.stderr \
        and "Invalid argument" in p.stderr, p.stderr


def test_pyref_bad_arguments(pyref, tmp_path):
    """pyref exits 2 on bad arguments, before touching a file."""
    for argv in (["job"], ["nosuchmode"], ["job", "n_heads=x"],
                 ["job", "n_heads=4", "q_rows=1", "kv_rows=1",
                  "head_dim=16", "bogus=1", "in=a", "out=b"],
                 ["session", "kind=neither", "in=a", "out=b"]):
        p = subprocess.run([pyref] + argv, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, cwd=str(tmp_path))
        assert p.returncode == 2, argv
    assert not list(tmp_path.iterdir())


def test_unwritten_rows_are_zero(rng):
    """Rows the device does not write come back 0, as pyref's (and a
    session's: libspatten.h, spatten_session_layer()), whatever ran
    before on the device."""
    dev = spatten.open(backend="sim")   # a scratch buffer of its own
    try:
        H, G, L, S, E, _ = SHAPES["encoder"]
        q, k, v = (make(rng, (H, L, E)), make(rng, (G, S, E)),
                   make(rng, (G, S, E)))
        spatten.attention(q, k, v, device=dev)      # writes every row
        out, st = spatten.attention(q, k, v, token_keep=8, device=dev)
        pruned = np.setdiff1d(np.arange(L), st.tokens_kept)
        assert not out[:, pruned].any(), \
            "rows of pruned tokens %s hold the previous call's output" \
            % pruned.tolist()
        out, st = spatten.attention(q, k, v, head_alive=[1, 2], device=dev)
        assert not out[[0, 3]].any(), "heads not alive hold stale rows"
    finally:
        dev.close()


def test_progressive_refetches_happen(dev, rng):
    """LSB refetches follow the threshold: none at 0, more with a higher
    one, never a row whose largest probability is 1."""
    H, G, L, S, E, _ = SHAPES["mha-prompt"]
    q, k, v = make(rng, (H, L, E)), make(rng, (G, S, E)), make(rng, (G, S, E))
    counts = [spatten.attention(q, k, v, is_causal=True, progressive=True,
                                lsb_threshold=t, device=dev)[1].lsb_refetches
              for t in (0.0, 0.3, 0.6, 1.0)]
    assert counts[0] == 0 and counts[1] > 0
    assert counts == sorted(counts)
    # row 0 sees one key, of probability 1: never below the threshold
    assert counts[3] <= H * (L - 1)


# ---- a dense float64 reference ----------------------------------------------


def quantize(x, frac):
    """As spatten_quantize_s16(): round half away from zero, saturate."""
    y = np.asarray(x, np.float64) * 2.0 ** frac
    r = np.sign(y) * np.floor(np.abs(y) + 0.5)
    return np.clip(r, -32768, 32767) / 2.0 ** frac


def reference(q, k, v, causal, scale=None):
    """float64 softmax attention, [H][L][E] over [G][S][E]."""
    H, L, E = q.shape
    G, S, _ = k.shape
    scale = 1.0 / math.sqrt(E) if scale is None else scale
    kh = np.repeat(k, H // G, axis=0).astype(np.float64)
    vh = np.repeat(v, H // G, axis=0).astype(np.float64)
    s = np.einsum("hld,hsd->hls", q.astype(np.float64), kh) * scale
    if causal:
        mask = np.arange(S)[None, :] > (S - L) + np.arange(L)[:, None]
        s = np.where(mask[None], -np.inf, s)
    s -= s.max(axis=-1, keepdims=True)
    p = np.exp(s)
    p /= p.sum(axis=-1, keepdims=True)
    return np.einsum("hls,hsd->hld", p, vh)


@pytest.mark.parametrize("name", ("gqa-prompt", "mqa-decode", "gqa-cross",
                                  "encoder"))
def test_dense_against_float64(dev, rng, name):
    """Dense S16 output against float64 attention: from the same fixed-point
    Q, K, V within the engine's documented bound (spe_out_tolerance(),
    engine/spe_math.c: (S (2^-16 + 4e-7) + 1e-6) max|V| + half an output
    LSB), and from the float inputs within 4 output LSBs + 1e-3 of the
    output's range."""
    H, G, L, S, E, causal = SHAPES[name]
    q, k, v = make(rng, (H, L, E)), make(rng, (G, S, E)), make(rng, (G, S, E))
    out, st = spatten.attention(q, k, v, is_causal=causal,
                                enable_gqa=(G != H), device=dev)
    f = st.fracs
    qq = np.stack([quantize(q[h], f["q"][h]) for h in range(H)])
    kq = np.stack([quantize(k[g], f["k"][g]) for g in range(G)])
    vq = np.stack([quantize(v[g], f["v"][g]) for g in range(G)])
    exact = reference(qq, kq, vq, causal)
    loose = reference(q, k, v, causal)
    got = out.astype(np.float64)
    for h in range(H):
        lsb = 2.0 ** -f["out"][h]
        vmax = np.abs(vq[h // (H // G)]).max()
        tol = (S * (2.0 ** -16 + 4e-7) + 1e-6) * vmax + lsb / 2
        err = np.abs(got[h] - exact[h]).max()
        assert err <= tol, "head %d: %g from the fixed-point reference, " \
            "bound %g" % (h, err, tol)
        err = np.abs(got[h] - loose[h]).max()
        tol = 4 * lsb + 1e-3 * np.abs(loose[h]).max()
        assert err <= tol, "head %d: %g from the float reference, bound " \
            "%g" % (h, err, tol)


# ---- Session.attend() against pyref session ---------------------------------

SESSIONS = {
    # the paper's schedule on an encoder, [CLS] pinned
    "encoder-paper": dict(kind="encoder", layers=4, heads=4, head_dim=32,
                          max_context=48, prompt=48, steps=0,
                          schedule=(0.7, 0.3, 1.0, 0.5, 0.5), pinned=[0]),
    # a decoder: prompt + 8 steps, pruning, progressive keys
    "decoder-prog": dict(kind="decoder", layers=3, heads=4, head_dim=32,
                         max_context=48, prompt=32, steps=8,
                         schedule=(0.8, 0.4, 1.0, 0.75, 0.5),
                         progressive=True, k_bits=8, lsb_threshold=0.2),
    # GQA, RoPE, packed V, a given scale
    "decoder-gqa-rope": dict(kind="decoder", layers=2, heads=8, kv_heads=2,
                             head_dim=16, max_context=40, prompt=24, steps=8,
                             schedule=(0.9, 0.5, 0.5, 0.5, 1.0),
                             rope_base=10000, v_bits=8, scale=0.2),
    # GQA with a bounded cache that evicts (budget 16 of 24 slots)
    "decoder-gqa-evict": dict(kind="decoder", layers=2, heads=8, kv_heads=2,
                              head_dim=16, max_context=24, prompt=16,
                              steps=14, kv_budget=(2, 6, 8),
                              progressive=True, k_bits=6, lsb_threshold=0.2),
    # the same, each layer's KV head selecting for itself (sharp
    # attention: each head's importance is its own, not the tokens' age)
    "decoder-kv-per-head": dict(kind="decoder", layers=2, heads=4,
                                kv_heads=2, head_dim=32, max_context=20,
                                prompt=12, steps=14, kv_budget=(1, 5, 6),
                                kv_per_head=True, scale=1.0),
    # inputs and output token-major (a projection's view), GQA, pruning
    "decoder-thd": dict(kind="decoder", layers=2, heads=8, kv_heads=2,
                        head_dim=32, max_context=40, prompt=24, steps=6,
                        schedule=(0.7, 0.5, 0.5, 0.5, 0.6), layout="thd"),
    # fractional bits given, not from the data; packed V
    "decoder-fixed": dict(kind="decoder", layers=2, heads=4, head_dim=16,
                          max_context=32, prompt=20, steps=4,
                          fixed_fracs=(12, 12, 10, 10), v_bits=12,
                          progressive=True, k_bits=10, lsb_threshold=0.3,
                          schedule=(0.8, 0.5, 0.5, 0.5, 0.5)),
}
SESSION_DTYPES = {
    "encoder-paper": DTYPES,
    "decoder-prog": DTYPES,
    "decoder-gqa-rope": ("f32", "bf16"),
    "decoder-gqa-evict": DTYPES,
    "decoder-kv-per-head": ("f32", "f16"),
    "decoder-thd": DTYPES,
    "decoder-fixed": ("f32", "bf16"),
}


def session_input(x32, dtype, layout):
    """The package's input for @x32 [heads][n][D]: of @dtype, as an htd
    view with padded token and head strides, or a packed thd array; and
    the float32 htd values the C side gets."""
    heads, n, D = x32.shape
    if layout == "thd":
        x, xc = to_input(np.ascontiguousarray(x32.transpose(1, 0, 2)), dtype)
        return x, np.ascontiguousarray(xc.transpose(1, 0, 2))
    big = np.zeros((heads + 1, n + 3, D), np.float32)
    big[:heads, 2:n + 2] = x32
    x, xc = to_input(big, dtype)
    return x[:heads, 2:n + 2], np.ascontiguousarray(xc[:heads, 2:n + 2])


def _session_cases():
    for name in sorted(SESSIONS):
        for dtype in SESSION_DTYPES[name]:
            yield name, dtype


def _open_session(dev, c):
    sched = None
    if c.get("schedule"):
        ts, te, hs, he, vk = c["schedule"]
        sched = spatten.Schedule.paper(c["layers"], token=(ts, te),
                                       head=(hs, he), value_keep=vk)
    return spatten.Session(
        dev, kind=c["kind"], n_layers=c["layers"], n_heads=c["heads"],
        n_kv_heads=c.get("kv_heads"), head_dim=c["head_dim"],
        max_context=c["max_context"], schedule=sched,
        k_bits=c.get("k_bits", 16), v_bits=c.get("v_bits", 16),
        progressive=c.get("progressive", False),
        lsb_threshold=c.get("lsb_threshold", 0.1),
        scale=c.get("scale"), rope_base=c.get("rope_base", 0),
        pinned=c.get("pinned", ()), kv_budget=c.get("kv_budget"),
        kv_per_head=c.get("kv_per_head", False),
        fixed_fracs=c.get("fixed_fracs"))


def _session_args(c, dtype):
    a = dict(kind=c["kind"], layers=c["layers"], heads=c["heads"],
             kv_heads=c.get("kv_heads", c["heads"]), head_dim=c["head_dim"],
             max_context=c["max_context"], prompt=c["prompt"],
             steps=c["steps"], dtype=dtype)
    if c.get("schedule"):
        for key, val in zip(("tok_start", "tok_end", "head_start",
                             "head_end", "value_keep"), c["schedule"]):
            a[key] = repr(float(val))
    for key in ("progressive", "k_bits", "v_bits", "rope_base",
                "kv_per_head", "pinned"):
        if key in c:
            a[key] = _fmt(c[key])
    if "scale" in c:
        a["scale"] = repr(float(c["scale"]))
    if "lsb_threshold" in c:
        a["lsb_threshold"] = int(round(c["lsb_threshold"] * 32768))
    if c.get("kv_budget"):
        a["kv_start"], a["kv_important"], a["kv_recent"] = c["kv_budget"]
    if c.get("fixed_fracs"):
        a["q_frac"], a["k_frac"], a["v_frac"], a["out_frac"] = \
            c["fixed_fracs"]
    return a


@pytest.mark.parametrize("name,dtype", list(_session_cases()))
def test_session(dev, pyref, tmp_path, rng, name, dtype):
    c = SESSIONS[name]
    layout = c.get("layout", "htd")
    H, D, L = c["heads"], c["head_dim"], c["layers"]
    G = c.get("kv_heads", H)
    passes = [c["prompt"]] + [1] * c["steps"]
    payload, py_out = [], []
    with _open_session(dev, c) as s:
        for p, n in enumerate(passes):
            # later tokens a little smaller: K and V scales are the
            # prompt's, and saturating is not what this compares
            amp = 1.0 if p == 0 else 0.8
            for layer in range(L):
                qkv = []
                for heads in (H, G, G):
                    x32 = (make(rng, (heads, n, D)) * amp).astype(np.float32)
                    x, xc = session_input(x32, dtype, layout)
                    qkv.append(x)
                    payload.append(xc.tobytes())
                out = bits_of(s.attend(layer, *qkv, layout=layout))
                if layout == "thd":
                    out = out.transpose(1, 0, 2)
                py_out.append(out.copy())
        context = s.context
        if c.get("kv_per_head"):
            caches = [s.cache_head(layer, g) for layer in range(L)
                      for g in range(G)]
        else:
            caches = [s.cache()]
        totals = [s.total_stats(layer) for layer in range(L)]
        alive = [s.alive(layer) for layer in range(L)]
        heads = [s.heads(layer) for layer in range(L)]
        sats = [s.saturations(layer) for layer in range(L)]

    r = Reader(run_pyref(pyref, tmp_path, "session", _session_args(c, dtype),
                         b"".join(payload)))
    i = 0
    for p, n in enumerate(passes):
        for layer in range(L):
            raw = r.take(np.uint32 if dtype == "f32" else np.uint16,
                         H * n * D).reshape((H, n, D))
            assert_same_bits(py_out[i], raw, dtype,
                             "pass %d layer %d" % (p, layer))
            i += 1
    assert context == r.u64()
    for j, (ids, imp) in enumerate(caches):
        n = r.u64()
        np.testing.assert_array_equal(ids, r.take(np.uint32, n),
                                      "cache ids %d" % j)
        np.testing.assert_array_equal(imp, r.take(np.uint64, n),
                                      "cache importance %d" % j)
    for layer in range(L):
        c_tot = dict(zip(STATS_FIELDS, r.take(np.uint64, 18).tolist()))
        py_tot = {f: getattr(totals[layer], f) for f in STATS_FIELDS}
        assert py_tot == c_tot, "layer %d totals" % layer
        np.testing.assert_array_equal(alive[layer],
                                      r.take(np.uint32, r.u64()))
        np.testing.assert_array_equal(heads[layer],
                                      r.take(np.uint32, r.u64()))
        assert sats[layer] == tuple(r.take(np.uint64, 3).tolist())
    r.done()

    # what each case is for actually happened
    sched = c.get("schedule") or (1.0, 1.0, 1.0, 1.0, 1.0)
    if min(sched[:2]) < 1.0:
        assert sum(t.tokens_kept for t in totals) < \
            sum(t.tokens_alive for t in totals), "no token pruning"
    if min(sched[2:4]) < 1.0:
        assert sum(t.heads_alive for t in totals) < H * L * len(passes), \
            "no head pruning"
    if sched[4] < 1.0:
        assert any(t.value_keep for t in totals), "no value pruning"
    if c.get("progressive"):
        assert sum(t.lsb_refetches for t in totals) > 0, "no LSB refetch"
    if c.get("kv_budget"):
        budget = sum(c["kv_budget"])
        total = c["prompt"] + c["steps"]
        assert context < total
        for ids, _ in caches:
            assert len(ids) <= c["max_context"]
            assert not np.array_equal(ids, np.arange(len(ids))), \
                "nothing was evicted"
            assert ids[-1] == total - 1 and len(ids) >= budget
    if c.get("kv_per_head"):
        assert any(not np.array_equal(caches[0][0], ids)
                   for ids, _ in caches[1:]), \
            "every KV head kept the same tokens"


def test_stats_field_order(layout_json):
    """pyref writes struct spatten_layer_stats in declaration order: the
    order of STATS_FIELDS."""
    fields = layout_json["structs"]["spatten_layer_stats"]["fields"]
    assert tuple(fields) == STATS_FIELDS
    offs = [fields[f][0] for f in STATS_FIELDS]
    assert offs == sorted(offs)
