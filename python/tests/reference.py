# SPDX-License-Identifier: MIT
"""Float references for the tests, written from the definitions alone.

``softmax_attention`` is plain scaled dot-product attention in float64.
``error_bound`` is the documented bound (docs/python.md, "Accuracy") on
how far the board's output may be from it: the engine's own bound against
the exact result of the quantized inputs (engine/spe_math.c,
spe_out_tolerance: ``(S (2^-16 + 4e-7) + 1e-6) max|v| + 2^-(f_out+1)``)
plus what rounding Q, K and V to their fractional bits can do: each score
moves by at most ``eps = scale * sum_d (|q_d| dk + |k_d| dq + dq dk)``
(``dx = 2^-(f_x+1)``), which moves each probability by a factor within
``e^(+-2 eps)``, so the output by at most ``(e^(2 eps) - 1) max|v|``, and
V itself by ``dv``."""

import numpy as np


def _expand(x, heads):
    return np.repeat(x, heads // x.shape[0], axis=0)


def _mask(L, S, causal_from):
    i = np.arange(L)[:, None] + causal_from
    return np.arange(S)[None, :] > i


def softmax_attention(q, k, v, causal_from=None, scale=None):
    """q (H, L, D), k and v (G, S, D), G dividing H; float64 result."""
    q, k, v = (np.asarray(a, np.float64) for a in (q, k, v))
    H, L, D = q.shape
    k, v = _expand(k, H), _expand(v, H)
    scale = 1 / np.sqrt(D) if scale is None else scale
    s = q @ k.transpose(0, 2, 1) * scale
    if causal_from is not None:
        s[:, _mask(L, k.shape[1], causal_from)] = -np.inf
    s -= s.max(-1, keepdims=True)
    p = np.exp(s)
    return (p / p.sum(-1, keepdims=True)) @ v


def frac_for(max_abs, bits):
    """Most fractional bits (0..15) that hold max_abs in a signed
    ``bits``-bit value, rounding to nearest: the library's rule."""
    for f in range(15, -1, -1):
        if np.floor(max_abs * 2.0 ** f + 0.5) <= 2 ** (bits - 1) - 1:
            return f
    return 0


def error_bound(q, k, v, causal_from=None, scale=None, k_bits=16,
                v_bits=16):
    """Per (query head, row): the bound of the module docstring, with the
    fractional bits chosen per head from the data as the board's callers
    do (Q per query head, K and V per KV head, the output in V's units)."""
    q, k, v = (np.asarray(a, np.float64) for a in (q, k, v))
    H, L, D = q.shape
    G, S, _ = k.shape
    scale = 1 / np.sqrt(D) if scale is None else scale
    dq = np.array([2.0 ** -(frac_for(np.abs(q[h]).max(), 16) + 1)
                   for h in range(H)])
    fk = [frac_for(np.abs(k[g]).max(), k_bits) for g in range(G)]
    fv = [frac_for(np.abs(v[g]).max(), v_bits) for g in range(G)]
    dk = _expand(np.array([2.0 ** -(f + 1) for f in fk]), H)
    dv = _expand(np.array([2.0 ** -(f + 1) for f in fv]), H)
    ke, ve = _expand(np.abs(k), H), _expand(np.abs(v), H)
    aq = np.abs(q)
    eps = scale * (aq.sum(-1, keepdims=True) * dk[:, None, None] +
                   (ke.sum(-1)[:, None, :]) * dq[:, None, None] +
                   D * (dq * dk)[:, None, None])
    if causal_from is not None:
        eps = np.where(_mask(L, S, causal_from)[None], 0, eps)
    eps = eps.max(-1)                                   # (H, L)
    vmax = ve.max(axis=(1, 2))[:, None]
    engine = (S * (2.0 ** -16 + 4e-7) + 1e-6) * vmax + dv[:, None]
    return (np.expm1(2 * eps) * vmax + dv[:, None] + engine)
