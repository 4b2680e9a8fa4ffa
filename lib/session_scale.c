// SPDX-License-Identifier: MIT
/*
 * libspatten: a session's fixed-point scales and saturation
 * (SPATTEN_SESSION_SATURATION_ERROR).
 *
 * The scales are the options' q_frac, k_frac, v_frac and out_frac. A
 * value that saturates is never silent: Q, K and V saturations are
 * counted per layer (spatten_session_saturations()), and with
 * SPATTEN_SESSION_SATURATION_ERROR a pass in which a value would saturate
 * fails with -ERANGE before anything is written.
 *
 * Scales chosen from the data per head need one score unit per head,
 * which a job cannot express yet (one q_frac + k_frac per job): with a
 * single unit an outlier head takes the precision of every other head.
 * They come with per-head fractional bits in the hardware interface.
 */
#include <errno.h>
#include <string.h>

#include "session.h"

/* Total bits of a stored key: MSB bits plus the LSB plane. */
static unsigned int key_bits(const struct spatten_session *s)
{
	return s->cfg.k_bits + (s->prog ? SPATTEN_LSB_BITS : 0);
}

/* Largest |x| of head @h of a [heads][n][D] array. */
static float head_max(const float *x, uint32_t h, uint32_t n, uint32_t d)
{
	return spatten_max_abs(x + (size_t)h * n * d, (size_t)n * d);
}

/* Would @max stored with @frac fractional bits in @bits bits saturate? */
static int saturates(float max, int frac, unsigned int bits)
{
	int f = spatten_frac_for_bits(max, bits);

	return f < 0 || f < frac;
}

int spatten__scales_pass(struct spatten_session *s, unsigned int layer,
			 uint32_t n, const float *q, const float *k,
			 const float *v, struct spatten_pass_scales *ps)
{
	const struct spatten_session_opts *c = &s->cfg;
	uint32_t H = c->n_heads, G = c->n_kv_heads, D = c->head_dim, h, g;
	int8_t *kf = s->kfrac + (size_t)layer * G;
	int bad = 0;

	for (g = 0; g < G; g++)
		kf[g] = (int8_t)c->k_frac;
	s->vfrac[layer] = (int8_t)c->v_frac;
	if (c->flags & SPATTEN_SESSION_SATURATION_ERROR) {
		for (g = 0; g < G && !bad; g++)
			bad = saturates(head_max(k, g, n, D), c->k_frac,
					key_bits(s)) ||
			      saturates(head_max(v, g, n, D), c->v_frac,
					c->v_bits);
		for (h = 0; h < H && !bad; h++)
			bad = saturates(head_max(q, h, n, D), c->q_frac, 16);
		if (bad)
			return -ERANGE;
	}
	for (h = 0; h < H; h++)
		ps->qexp[h] = c->q_frac;
	ps->score_frac = c->q_frac + c->k_frac;
	ps->vf = c->v_frac;
	ps->out_frac = c->out_frac;
	return 0;
}

/* Quantise the [H][n][D] queries into S16, head h at 2^qexp[h]. */
long spatten__scales_put_q(struct spatten_session *s, unsigned char *dst,
			   const float *q, uint32_t n,
			   const struct spatten_pass_scales *ps)
{
	const struct spatten_session_opts *c = &s->cfg;
	uint32_t H = c->n_heads, D = c->head_dim, h;
	long sat = 0, ret;

	for (h = 0; h < H; h++) {
		ret = spatten_quantize_s16(dst + (size_t)h * n * D * 2,
					   q + (size_t)h * n * D,
					   (size_t)n * D,
					   (unsigned int)ps->qexp[h]);
		if (ret < 0)
			return ret;
		sat += ret;
	}
	return sat;
}

SPATTEN_API int spatten_session_saturations(const struct spatten_session *s,
					    unsigned int layer,
					    uint64_t *q, uint64_t *k,
					    uint64_t *v)
{
	if (!s || layer >= s->cfg.n_layers)
		return -EINVAL;
	if (q)
		*q = s->sat[(size_t)layer * 3];
	if (k)
		*k = s->sat[(size_t)layer * 3 + 1];
	if (v)
		*v = s->sat[(size_t)layer * 3 + 2];
	return 0;
}
