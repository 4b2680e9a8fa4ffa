# SPDX-License-Identifier: MIT
"""python/examples/decoder.py: the GPT-2- and Llama-architecture decoders
generate 64 tokens through spatten.torch on the simulation.

- pruned, each step attends what the schedule (gpt2: the paper's cascade,
  counts from the alive sets) or the bounded cache (llama: the authors'
  policy, predicted from the importance the board reports) implies;
- dense, the tokens are those of the same model with a plain PyTorch float
  attention and an ordinary KV cache, every attention output is within the
  documented fixed-point bound of a float64 attention of the same inputs,
  and the logits are close;
- checkpoints round-trip, a mismatched one is refused clearly;
- the command line runs, ``--json`` parses.
"""

import importlib.util
import json
import math
import os
import subprocess
import sys

import pytest

torch = pytest.importorskip("torch")
import spatten                                  # noqa: E402
from spatten.session import keep_count          # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from reference import error_bound               # noqa: E402

EXAMPLE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..",
                       "examples", "decoder.py")


def _load_example():
    """The example's model module (decoder.py is its command line)."""
    path = os.path.join(os.path.dirname(EXAMPLE), "decoder_model.py")
    spec = importlib.util.spec_from_file_location("spatten_example_decoder",
                                                  path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


dec = _load_example()

STEPS = 64
# small shapes: a run of 64 steps takes about 0.1 s
GPT2 = dict(arch="gpt2", layers=4, heads=4, dim=128, vocab=256, seed=4)
LLAMA = dict(arch="llama", layers=3, heads=4, kv_heads=2, dim=128, vocab=256,
             seed=0)
PROMPT = {"gpt2": 32, "llama": 24}


@pytest.fixture(scope="module")
def sim():
    """The simulation backend (this file's own: no conftest needed)."""
    with spatten.open(backend="sim") as d:
        yield d


def _run(cfg, sim, on_step=None, steps=STEPS, cache=None, **kw):
    model = dec.build_model(cfg)
    prompt = dec.random_prompt(cfg, PROMPT[cfg.arch])
    own = cache is None
    if own:
        cache = dec.make_cache(cfg, len(prompt), steps, device=sim)
    res = dec.generate(model, prompt, steps, cache,
                       on_step=on_step and (lambda r: on_step(cache, r)),
                       **kw)
    if own:
        cache.close()
    return res


# ---- pruned: what each step attends -----------------------------------------

def test_gpt2_cascade_follows_the_schedule(sim):
    """Layer l keeps floor(L * tok_keep[l]) of its candidates (the tokens it
    kept last pass plus the new one, that layer l - 1 kept in this pass),
    computes ceil(H * head_keep[l]) heads; pruned layers attend fewer
    tokens than the dense model, and read fewer bytes."""
    cfg = dec.Config(**GPT2)
    sched = dec.prune_schedule(cfg)
    L, H = cfg.layers, cfg.heads
    alive = []

    def snap(cache, rec):
        s = cache.sessions[0]
        alive.append([set(s.alive(i).tolist()) for i in range(L)])
    res = _run(cfg, sim, snap)
    recs = res["steps"]
    assert len(recs) == STEPS and len(res["tokens"]) == STEPS
    for step, rec in enumerate(recs):
        n = rec["cache"]
        assert n == PROMPT["gpt2"] + step            # unbounded: all stay
        prev = alive[step - 1] if step else [set(range(n))] * L
        new = {n - 1} if step else set()
        for i in range(L):
            cand = (prev[i] | new) & (alive[step][i - 1] if i
                                      else set(range(n)))
            want = min(max(keep_count(n, sched.tok_keep[i], False),
                           len(new)), len(cand))
            assert rec["kept"][i] == len(alive[step][i]) == want, \
                (step, i, rec["kept"])
            assert alive[step][i] <= cand and new <= alive[step][i]
            heads = keep_count(H, sched.head_keep[i], True)
            assert rec["heads"][i] == heads, (step, i, rec["heads"])
        if step:
            assert rec["bytes_read"] < rec["bytes_dense"]
    last = recs[-1]
    assert last["kept"][0] == last["cache"]
    assert all(k < last["cache"] for k in last["kept"][1:])
    assert last["kept"][-1] <= math.floor(0.2 * last["cache"])

    dense = _run(dec.Config(**GPT2, prune=False), sim)["steps"]
    for rec, d in zip(recs, dense):
        assert d["kept"] == [d["cache"]] * L
        assert d["bytes_read"] == d["bytes_dense"]     # S16, nothing pruned
        assert sum(rec["kept"]) < sum(d["kept"])
        assert rec["cycles"] < d["cycles"]


def _policy(ids, imp, start, important, recent):
    """The authors' SpAttenKVCache policy, from its statement: a full cache
    keeps its first ``start`` tokens, its ``recent`` newest and the
    ``important`` of the rest of largest importance (ties: the older)."""
    n = len(ids)
    middle = range(start, n - recent)
    ranked = sorted(middle, key=lambda i: (-imp[i], i))[:important]
    keep = sorted(list(range(start)) + ranked + list(range(n - recent, n)))
    return [ids[i] for i in keep]


def test_llama_bounded_cache_keeps_the_budget(sim):
    """The bounded cache (budget 4:8:8, 24 slots) never holds more than its
    slots; each step past them evicts down to the budget, keeping exactly
    what the policy says of the importance the board reported; every
    layer attends the whole cache (no token pruning) and keeps
    ceil(0.2 * tokens) V rows per query where values are pruned."""
    cfg = dec.Config(**LLAMA, kv_budget=(4, 8, 8))
    start, important, recent = cfg.kv_budget
    budget = sum(cfg.kv_budget)
    sched = dec.prune_schedule(cfg)
    snaps = []

    def snap(cache, rec):
        s = cache.sessions[0]
        snaps.append((cache.kept_tokens().tolist(),
                      cache.importance().tolist(),
                      [s.stats(i).value_keep for i in range(cfg.layers)],
                      cache.max_context))
    res = _run(cfg, sim, snap)
    P = PROMPT["llama"]
    assert snaps[0][3] == P                         # max(budget + 1, prompt)
    evictions = 0
    for step, rec in enumerate(res["steps"]):
        ids, imp, vkeep, slots = snaps[step]
        n = rec["cache"]
        assert n == len(ids) <= slots
        assert rec["kept"] == [n] * cfg.layers
        if step == 0:
            assert ids == list(range(P))
        else:
            before = snaps[step - 1][0]
            token = P + step - 1                    # the token fed this step
            if len(before) + 1 > slots:
                want = _policy(before, snaps[step - 1][1], start, important,
                               recent)
                assert len(want) == budget
                evictions += 1
            else:
                want = before
            assert ids == want + [token], step
            assert ids[:start] == list(range(start))
        for i in range(cfg.layers):
            vk = sched.value_keep[i]
            assert vkeep[i] == (keep_count(n, vk, True) if vk < 1 else 0)
    assert evictions >= 10


# ---- dense: the float reference ---------------------------------------------

class _Tee(dec.CacheProxy):
    """The SpAtten cache, with every call also run by a float64
    TorchKVCache on the same inputs and its output checked against the
    documented bound (tests/reference.py): ``worst`` is the largest
    error / bound."""

    def __init__(self, cache, ref, rope_base):
        super().__init__(cache)
        self.ref, self.rope_base = ref, rope_base
        self.worst = 0.0

    def attention(self, layer, q, k, v):
        out = self.cache.attention(layer, q, k, v)
        want = self.ref.attention(layer, q.double(), k.double(), v.double())
        T = q.shape[1]
        S = self.ref.k[layer].shape[1]
        qh = q[0].transpose(0, 1).double()
        kh = self.ref.k[layer][0].transpose(0, 1)   # rotated if rope
        vh = self.ref.v[layer][0].transpose(0, 1).numpy()
        if self.rope_base:
            # The board rotates quantized Q and K: each rotated element is
            # off by at most (|cos| + |sin|) d + d/2 + 2^-15 |x| < 3 d
            # (d: half a step of the tensor's fixed point), so the
            # score term of the bound at most triples (2 eps << 1 here).
            qr = dec.rotate(qh.transpose(0, 1)[None], torch.arange(S - T, S),
                            self.rope_base)[0].transpose(0, 1)
            bound = 3 * error_bound(qr.numpy(), kh.numpy(), vh, S - T)
        else:
            bound = error_bound(qh.numpy(), kh.numpy(), vh, S - T)
        err = (out[0] - want[0]).abs().amax(-1).transpose(0, 1).numpy()
        self.worst = max(self.worst, float((err / bound).max()))
        return out


def _dense_check(sim, cfg):
    model = dec.build_model(cfg)
    prompt = dec.random_prompt(cfg, PROMPT[cfg.arch])
    cache = dec.make_cache(cfg, len(prompt), STEPS, device=sim)
    tee = _Tee(cache, dec.reference_cache(cfg, torch.float64),
               dec.board_rope(cfg))
    got = dec.generate(model, prompt, STEPS, tee, keep_logits=True)
    sat = [cache.sessions[0].saturations(i) for i in range(cfg.layers)]
    cache.close()
    ref = dec.generate(model, prompt, STEPS, dec.reference_cache(cfg),
                       keep_logits=True)
    # the bound holds for values that did not saturate (K and V keep the
    # scales of the prompt's pass): the seeds are chosen so none does
    assert sat == [(0, 0, 0)] * cfg.layers
    # every attention output row of the 64 passes within the bound
    assert tee.worst <= 1.0, "an output %.1f times the bound" % tee.worst
    # Logits: each attention call is off by at most the bound (observed:
    # 5% of it), about 1e-3 of max|v| at these shapes; the model's
    # sub-layers have gains of O(1) (normalized inputs, 1/sqrt(fan_in)
    # weights), so 2 * layers of them leave the logits within 1% of their
    # range (observed: 0.03%).
    dl = (got["logits"] - ref["logits"]).abs().max()
    scale = ref["logits"].abs().max()
    assert dl <= 0.01 * scale, (float(dl), float(scale))
    # greedy tokens: equal, unless a near-tie (a top-2 margin within twice
    # the logits' difference) lets the quantization choose the other one
    if got["tokens"] != ref["tokens"]:
        i = next(i for i, (a, b) in enumerate(zip(got["tokens"],
                                                  ref["tokens"])) if a != b)
        top = ref["logits"][i].topk(2).values
        assert top[0] - top[1] <= 2 * dl, \
            "step %d: token %d, float attention %d" % (
                i, got["tokens"][i], ref["tokens"][i])
        pytest.fail("step %d: a near-tie (margin %.2g) chose another token"
                    % (i, float(top[0] - top[1])))
    assert len(set(got["tokens"])) > 8          # not a degenerate model


def test_gpt2_dense_equals_float_attention(sim):
    _dense_check(sim, dec.Config(**GPT2, prune=False))


def test_llama_dense_equals_float_attention(sim):
    """GQA, RoPE rotated by the model (``--rope host``)."""
    _dense_check(sim, dec.Config(**LLAMA, prune=False, rope="host"))


def test_llama_dense_board_rope_equals_float_attention(sim):
    """GQA, RoPE applied by the board (the default)."""
    _dense_check(sim, dec.Config(**LLAMA, prune=False))


# ---- checkpoints ------------------------------------------------------------

@pytest.mark.parametrize("shape", [GPT2, LLAMA], ids=["gpt2", "llama"])
def test_checkpoint_round_trip(sim, tmp_path, shape):
    """A state_dict saved with torch.save loads into a model of other
    random weights, which then generates what the saved one did, bit for
    bit."""
    path = str(tmp_path / "model.pt")
    cfg = dec.Config(**shape)
    a = dec.build_model(cfg)
    torch.save(a.state_dict(), path)
    b = dec.build_model(dec.Config(**dict(shape, seed=shape["seed"] + 10)))
    assert not torch.equal(a.state_dict()[next(iter(a.state_dict()))],
                           b.state_dict()[next(iter(b.state_dict()))])
    dec.load_checkpoint(b, path)
    for k, t in a.state_dict().items():
        assert torch.equal(t, b.state_dict()[k]), k
    prompt = dec.random_prompt(cfg, PROMPT[cfg.arch])
    outs = []
    for model in (a, b):
        cache = dec.make_cache(cfg, len(prompt), 16, device=sim)
        outs.append(dec.generate(model, prompt, 16, cache, keep_logits=True))
        cache.close()
    assert outs[0]["tokens"] == outs[1]["tokens"]
    assert torch.equal(outs[0]["logits"], outs[1]["logits"])


def test_mismatched_checkpoint_is_refused(tmp_path):
    path = str(tmp_path / "gpt2.pt")
    torch.save(dec.build_model(dec.Config(**GPT2)).state_dict(), path)
    narrow = dec.build_model(dec.Config(**dict(GPT2, dim=64)))
    with pytest.raises(dec.CheckpointError) as e:
        dec.load_checkpoint(narrow, path)
    msg = str(e.value)
    assert "does not match" in msg and "shape mismatch" in msg
    assert "wte.weight: (256, 128) in the checkpoint, (256, 64) in the " \
           "model" in msg and "dim=64" in msg
    with pytest.raises(dec.CheckpointError, match="(?s)the checkpoint: gpt2, "
                       "4 layers, dim 128, vocab 256.*missing: .*embed_tokens"
                       ".*unexpected: .*wte"):
        dec.load_checkpoint(dec.build_model(dec.Config(**LLAMA)), path)
    deeper = dec.build_model(dec.Config(**dict(GPT2, layers=5)))
    with pytest.raises(dec.CheckpointError, match=r"missing: h\.4\."):
        dec.load_checkpoint(deeper, path)
    other = str(tmp_path / "list.pt")
    torch.save([1, 2, 3], other)
    with pytest.raises(dec.CheckpointError, match="not a state_dict"):
        dec.load_checkpoint(narrow, other)
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a checkpoint")
    with pytest.raises(dec.CheckpointError, match="cannot be read"):
        dec.load_checkpoint(narrow, str(junk))


# ---- the command line -------------------------------------------------------

def _cli(monkeypatch, *args):
    monkeypatch.setenv("SPATTEN_BACKEND", "sim")
    return subprocess.run([sys.executable, EXAMPLE] + list(args),
                          capture_output=True, text=True, timeout=120)


CLI_SHAPE = ["--arch", "llama", "--layers", "2", "--heads", "4",
             "--kv-heads", "2", "--dim", "128", "--vocab", "256",
             "--prompt", "16", "--steps", "8", "--kv-budget", "2:4:4"]


def test_cli_json_and_checkpoint(monkeypatch, tmp_path):
    ckpt = str(tmp_path / "llama.pt")
    p = _cli(monkeypatch, *CLI_SHAPE, "--seed", "5", "--json",
             "--save-checkpoint", ckpt)
    assert p.returncode == 0, p.stderr
    doc = json.loads(p.stdout)
    assert len(doc["steps"]) == 8 and len(doc["tokens"]) == 8
    assert doc["tokens"] == [s["token"] for s in doc["steps"]]
    assert all(0 <= t < 256 for t in doc["tokens"])
    assert doc["capacity"] == 16 and doc["config"]["kv_budget"] == [2, 4, 4]
    for s in doc["steps"]:
        assert s["cache"] <= 16 and s["kept"] == [s["cache"]] * 2
        assert 0 < s["bytes_read"] <= s["bytes_dense"] and s["cycles"] > 0
    assert doc["steps"][1]["cache"] == 11           # evicted to 2+4+4, +1
    assert doc["tokens_per_second"] > 0
    # the checkpoint, loaded into a model of another seed, generates the same
    p2 = _cli(monkeypatch, *CLI_SHAPE, "--seed", "6", "--json",
              "--checkpoint", ckpt)
    assert p2.returncode == 0, p2.stderr
    assert json.loads(p2.stdout)["tokens"] == doc["tokens"]
    # and a checkpoint of another shape is refused, exit 2, saying why
    p3 = _cli(monkeypatch, *CLI_SHAPE, "--dim", "256", "--checkpoint", ckpt)
    assert p3.returncode == 2 and p3.stdout == ""
    assert "does not match the model" in p3.stderr
    assert "q_proj.weight: (128, 128) in the checkpoint, (256, 256)" \
        in p3.stderr


def test_cli_text(monkeypatch):
    p = _cli(monkeypatch, "--layers", "2", "--heads", "4", "--dim", "128",
             "--vocab", "256", "--prompt", "16", "--steps", "4")
    assert p.returncode == 0, p.stderr
    out = p.stdout
    assert "gpt2: 2 layers x 4 heads" in out and "tokens/s" in out
    assert len([ln for ln in out.splitlines()
                if ln.split() and ln.split()[0] in "0123"]) == 4
    bad = _cli(monkeypatch, "--arch", "gpt2", "--kv-heads", "2")
    assert bad.returncode == 2 and "grouped-query" in bad.stderr
