// SPDX-License-Identifier: MIT
/*
 * libspatten: a session's fixed-point scales and saturation
 * (struct spatten_session_opts: SPATTEN_SESSION_FIXED_SCALES,
 * SPATTEN_SESSION_SATURATION_ERROR).
 *
 * Unless fixed, the scales come from the data, per head: K and V per KV
 * head at the layer's first pass (the most fractional bits that hold its
 * largest value; kept for the life of the cache, whose rows are stored
 * with them), Q per query head at every pass; each query head's output
 * in its KV head's V units. Jobs carry them as a table of fractional bits
 * per head (SPATTEN_ATTN_HEAD_FRACS), so an outlier head costs no other
 * head any precision, and head importance stays in 2^-16 units for all.
 * Fixed: the options' q_frac, k_frac, v_frac and out_frac, as the job's.
 *
 * A value that saturates is never silent: Q, K and V saturations are
 * counted per layer (spatten_session_saturations()), and with
 * SPATTEN_SESSION_SATURATION_ERROR a pass in which a value would saturate
 * fails with -ERANGE before anything is written.
 */
#include <errno.h>
#include <string.h>

#include "session.h"

/* Total bits of a stored key: MSB bits plus the LSB plane. */
static unsigned int key_bits(const struct spatten_session *s)
{
	return s->cfg.k_bits + (s->prog ? SPATTEN_LSB_BITS : 0);
}

/* Most fractional bits holding @max in @bits bits; 0 if none does. */
static int frac_for(float max, unsigned int bits)
{
	int f = spatten_frac_for_bits(max, bits);

	return f < 0 ? 0 : f;
}

/* Would @max stored with @frac fractional bits in @bits bits saturate? */
static int saturates(float max, int frac, unsigned int bits)
{
	int f = spatten_frac_for_bits(max, bits);

	return f < 0 || f < frac;
}

int spatten__scales_fixed(const struct spatten_session *s)
{
	return !!(s->cfg.flags & SPATTEN_SESSION_FIXED_SCALES);
}

/*
 * Does the board rotate Q and K (RoPE)? Then their 16-bit scales leave
 * room for the rotation, which can make an element up to sqrt(2) larger:
 * the board would clip it silently. (Keys of fewer bits are rotated as
 * int16 and have room to spare.)
 */
static int rotated(const struct spatten_session *s)
{
	return s->cfg.rope_base != 0;
}

/* Does a pass have to refuse a saturating value? */
static int sat_error(const struct spatten_session *s)
{
	return !!(s->cfg.flags & SPATTEN_SESSION_SATURATION_ERROR);
}

/*
 * K and V fractions of @layer's KV heads (chosen at the layer's first
 * pass or import), and whether the @n new rows of @k and @v saturate.
 * The callers look at the latter with SPATTEN_SESSION_SATURATION_ERROR
 * only, so without it the rows' maxima are computed only to choose
 * scales, not at every pass.
 */
static int choose_kv(struct spatten_session *s, unsigned int layer,
		     uint32_t n, const struct spatten_view *k,
		     const struct spatten_view *v)
{
	const struct spatten_session_opts *c = &s->cfg;
	uint32_t G = c->n_kv_heads, D = c->head_dim, g;
	int8_t *kf = s->kfrac + (size_t)layer * G;
	int8_t *vf = s->vfrac + (size_t)layer * G;
	int bad = 0;

	for (g = 0; g < G; g++) {
		float km, vm;

		if (spatten__scales_fixed(s)) {
			kf[g] = (int8_t)c->k_frac;
			vf[g] = (int8_t)c->v_frac;
		}
		if (kf[g] >= 0 && !sat_error(s))
			continue;
		km = rotated(s) && key_bits(s) == 16 ?
		     spatten__view_head_max_rope(k, g, n, D, s->row) :
		     spatten__view_head_max(k, g, n, D);
		vm = spatten__view_head_max(v, g, n, D);
		if (kf[g] < 0) {
			kf[g] = (int8_t)frac_for(km, key_bits(s));
			vf[g] = (int8_t)frac_for(vm, c->v_bits);
		}
		bad |= saturates(km, kf[g], key_bits(s)) ||
		       saturates(vm, vf[g], c->v_bits);
	}
	return bad;
}

/* A pass refused for a saturating value: the reason, -ERANGE. */
static int saturated(unsigned int layer)
{
	return spatten__err(-ERANGE, "a value of layer %u would saturate at "
			    "its scales (SPATTEN_SESSION_SATURATION_ERROR; K "
			    "and V keep the scales of the layer's first "
			    "pass)", layer);
}

/*
 * Scales of an import into @layer: -ERANGE (with
 * SPATTEN_SESSION_SATURATION_ERROR) if a value would saturate; the caller
 * restores what was chosen then.
 */
int spatten__scales_kv(struct spatten_session *s, unsigned int layer,
		       uint32_t n, const struct spatten_view *k,
		       const struct spatten_view *v)
{
	if (choose_kv(s, layer, n, k, v) && sat_error(s))
		return saturated(layer);
	return 0;
}

int spatten__scales_pass(struct spatten_session *s, unsigned int layer,
			 uint32_t n, const struct spatten_view *q,
			 const struct spatten_view *k,
			 const struct spatten_view *v,
			 struct spatten_pass_scales *ps)
{
	const struct spatten_session_opts *c = &s->cfg;
	uint32_t H = c->n_heads, G = c->n_kv_heads, D = c->head_dim, h;
	int8_t *kf = s->kfrac + (size_t)layer * G;
	int8_t *vf = s->vfrac + (size_t)layer * G;
	int fixed = spatten__scales_fixed(s), bad;

	/* a refused pass chooses no scale: keep the layer's as they are */
	memcpy(s->frac_save, kf, G);
	memcpy(s->frac_save + G, vf, G);
	bad = choose_kv(s, layer, n, k, v);
	for (h = 0; h < H; h++) {
		float m;

		if (fixed && !sat_error(s)) {
			ps->qexp[h] = c->q_frac;
			continue;
		}
		if (rotated(s))
			m = spatten__view_head_max_rope(q, h, n, D, s->row);
		else
			m = spatten__view_head_max(q, h, n, D);
		ps->qexp[h] = fixed ? c->q_frac : frac_for(m, 16);
		bad |= saturates(m, ps->qexp[h], 16);
	}
	if (bad && sat_error(s)) {
		memcpy(kf, s->frac_save, G);
		memcpy(vf, s->frac_save + G, G);
		return saturated(layer);
	}
	ps->kf = kf;
	ps->vf = vf;
	return 0;
}

/*
 * The job's fractions: the options' (fixed), or a table per head in the
 * work buffer at @table: [H] Q, [H] output (its KV head's V), [G] K, [G] V.
 */
void spatten__scales_job(const struct spatten_session *s,
			 const struct spatten_pass_scales *ps,
			 unsigned char *table, struct spatten_attn_desc *d)
{
	const struct spatten_session_opts *c = &s->cfg;
	uint32_t H = c->n_heads, G = c->n_kv_heads, h, g;

	if (spatten__scales_fixed(s)) {
		d->q_frac = c->q_frac;
		d->k_frac = c->k_frac;
		d->v_frac = c->v_frac;
		d->out_frac = c->out_frac;
		return;
	}
	for (h = 0; h < H; h++) {
		table[h] = (unsigned char)ps->qexp[h];
		table[H + h] = (unsigned char)ps->vf[h / (H / G)];
	}
	for (g = 0; g < G; g++) {
		table[2 * H + g] = (unsigned char)ps->kf[g];
		table[2 * H + G + g] = (unsigned char)ps->vf[g];
	}
	d->flags |= SPATTEN_ATTN_HEAD_FRACS;
}

/* Output fractional bits of query head @h. */
int spatten__scales_out(const struct spatten_session *s,
			const struct spatten_pass_scales *ps, uint32_t h)
{
	const struct spatten_session_opts *c = &s->cfg;

	if (spatten__scales_fixed(s))
		return c->out_frac;
	return ps->vf[h / (c->n_heads / c->n_kv_heads)];
}

/*
 * Quantise the new queries into S16 [H][n][D], head h at 2^qexp[h]: a
 * head's rows in one call when the view has them contiguous.
 */
long spatten__scales_put_q(struct spatten_session *s, unsigned char *dst,
			   const struct spatten_view *q, uint32_t n,
			   const struct spatten_pass_scales *ps)
{
	const struct spatten_session_opts *c = &s->cfg;
	uint32_t H = c->n_heads, D = c->head_dim, h, t, rows;
	long sat = 0, ret;
	const float *x;

	for (h = 0; h < H; h++)
		for (t = 0; t < n; t += rows) {
			rows = spatten__view_rows(q, h, t, n, D, s->row, &x);
			ret = spatten_quantize_s16(dst + ((size_t)h * n + t) *
						   D * 2, x, (size_t)rows * D,
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
	spatten__enter();
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
