// SPDX-License-Identifier: MIT
/*
 * The float reference of a workload (see spatten-workload.h): selected
 * output rows recomputed in double from the inputs the session saw, over
 * the tokens the layer kept and the heads it computed.
 *
 * What the reference takes from the session is only what it decided: the
 * kept tokens (spatten_session_alive(): cache slots), the computed heads,
 * which token sits in each slot of each KV head
 * (spatten_session_cache_head(): a bounded cache evicts, per KV head with
 * --kv-per-head) and the value_keep count. The arithmetic is its own, from the
 * documents:
 *  - inputs: the generator's floats, rounded to fp16 or bf16 with --dtype
 *    (round to nearest even, written here from the formats' definitions,
 *    not with spatten_convert()), then stored in the session's fixed-point
 *    formats (nearest, ties away from zero, saturating; progressive keys
 *    scored first with their MSBs), also written here, not packed by the
 *    library;
 *  - grouped-query attention: query head h reads KV head h / (H / G);
 *  - RoPE (docs/hardware.md, "Rotary positions"): rotate half, in integers
 *    on the stored values, cos and sin rounded to Q1.15, a key at its slot
 *    and the query at its own slot (the authors' position shift), so the
 *    rotated operands are the device's exactly;
 *  - the LSB refetch decision from the MSB-only probabilities, and the
 *    value_keep largest probabilities kept without renormalising
 *    (docs/hardware.md).
 * The remaining difference is the device's softmax and accumulation,
 * bounded by spe_out_tolerance(); a selection within PROB_EPS of its
 * threshold may go either way on the device, and the reference accepts
 * either.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "spatten-workload-priv.h"
#include "spe.h"

/* ---- inputs as the session saw them ---------------------------------------- */

/*
 * @x rounded to nearest even with @bits significant bits (the implicit one
 * included) and exponents down to @emin (below: the subnormals' fixed
 * quantum). Finite results only: the generator's values are small.
 */
static double round_sig(double x, int bits, int emin)
{
	int e;

	if (x == 0.0)
		return x;
	frexp(x, &e);		/* |x| in [2^(e-1), 2^e) */
	if (e - 1 < emin)
		e = emin + 1;
	/* nearbyint() rounds ties to even in the default mode */
	return ldexp(nearbyint(ldexp(x, bits - e)), e - bits);
}

/* The value an input element has after the tool converted it to @dtype. */
static float round_dtype(float x, int dtype)
{
	switch (dtype) {
	case SPATTEN_DTYPE_F16:		/* 11 bits, normal down to 2^-14 */
		return (float)round_sig(x, 11, -14);
	case SPATTEN_DTYPE_BF16:	/* 8 bits, float's exponent range */
		return (float)round_sig(x, 8, -126);
	default:
		return x;
	}
}

static void gen_seen(const struct wl_ref *x, int kind, uint32_t l,
		     uint32_t h, uint64_t j, float *dst)
{
	uint32_t D = x->c->head_dim, e;

	wl_gen_row(x->g, kind, l, h, j, dst);
	if (x->o->dtype != SPATTEN_DTYPE_F32)
		for (e = 0; e < D; e++)
			dst[e] = round_dtype(dst[e], x->o->dtype);
}

/*
 * @x stored as a signed @bits-bit integer with @frac fractional bits:
 * nearest, halfway cases away from zero, saturating (libspatten.h,
 * spatten_float_to_s16(); the packers of the S4..S12 formats likewise).
 */
static double stored(double x, double one, double max)
{
	double v = x * one;

	v = v < 0 ? -floor(-v + 0.5) : floor(v + 0.5);
	if (v > max)
		v = max;
	if (v < -max - 1)
		v = -max - 1;
	return v;
}

/*
 * The key (full and MSB-only) and value rows of token @j, KV head @g.
 * Progressive keys are (k_bits + 4)-bit integers r; the board scores first
 * with the MSBs, as the integer (r >> 4) * 16 + 8 (docs/hardware.md).
 */
static void ref_kv(struct wl_ref *x, uint32_t l, uint32_t g, uint64_t j,
		   double *kf, double *km, double *vv)
{
	const struct spatten_session_opts *c = x->c;
	int prog = !!(c->flags & SPATTEN_SESSION_PROGRESSIVE);
	unsigned int kb = c->k_bits + (prog ? 4 : 0);
	double k1 = ldexp(1.0, c->k_frac), v1 = ldexp(1.0, c->v_frac);
	double kmax = ldexp(1.0, (int)kb - 1) - 1;
	double vmax = ldexp(1.0, c->v_bits - 1) - 1;
	uint32_t D = c->head_dim, e;

	gen_seen(x, WL_K, l, g, j, x->row);
	for (e = 0; e < D; e++) {
		double r = stored(x->row[e], k1, kmax);

		kf[e] = r / k1;
		km[e] = prog ? (floor(r / 16) * 16 + 8) / k1 : kf[e];
	}
	gen_seen(x, WL_V, l, g, j, x->row);
	for (e = 0; e < D; e++)
		vv[e] = stored(x->row[e], v1, vmax) / v1;
}

/* ---- RoPE ------------------------------------------------------------------ */

/* cos and sin of position @pos's angles, in Q1.15: @cs[2i], @cs[2i + 1]. */
static void rope_angles(const struct wl_ref *x, uint32_t pos, int32_t *cs)
{
	uint32_t i;

	for (i = 0; i < x->c->head_dim / 2; i++) {
		double a = (double)pos * x->inv_freq[i];

		cs[2 * i] = (int32_t)llrint(cos(a) * 32768.0);
		cs[2 * i + 1] = (int32_t)llrint(sin(a) * 32768.0);
	}
}

/* (v + 2^14) / 2^15 rounded down, saturated to int16. */
static double rope_round(double v)
{
	double r = floor((v + 16384.0) / 32768.0);	/* exact: |v| < 2^40 */

	return r > 32767.0 ? 32767.0 : r < -32768.0 ? -32768.0 : r;
}

/* Rotate the row @v (real values with @frac fractional bits) in place. */
static void rope_apply(double *v, uint32_t D, unsigned int frac,
		       const int32_t *cs)
{
	uint32_t half = D / 2, i;
	double one = ldexp(1.0, (int)frac);

	for (i = 0; i < half; i++) {
		double x0 = v[i] * one;		/* the stored integers */
		double x1 = v[i + half] * one;

		v[i] = rope_round(x0 * cs[2 * i] - x1 * cs[2 * i + 1]) / one;
		v[i + half] = rope_round(x1 * cs[2 * i] + x0 * cs[2 * i + 1]) /
			      one;
	}
}

/* ---- one row ------------------------------------------------------------- */

static double score_scale(const struct spatten_session_opts *c)
{
	return c->score_scale > 0 ? c->score_scale : 1.0 / sqrt(c->head_dim);
}

static void softmax(const struct wl_ref *x, const double *q,
		    const double *keys, uint32_t n, double *p)
{
	uint32_t D = x->c->head_dim, j, e;
	double m = -1e300, sum = 0, scale = score_scale(x->c);

	for (j = 0; j < n; j++) {
		double dot = 0;

		for (e = 0; e < D; e++)
			dot += q[e] * keys[(size_t)j * D + e];
		p[j] = dot * scale;
		if (p[j] > m)
			m = p[j];
	}
	for (j = 0; j < n; j++) {
		p[j] = exp(p[j] - m);
		sum += p[j];
	}
	for (j = 0; j < n; j++)
		p[j] /= sum;
}

/*
 * Probability resolution of the device (units of 2^-15) plus its softmax
 * error: a selection within this distance of its threshold may go either
 * way on the device, so the reference treats it as ambiguous.
 */
#define PROB_EPS	(4.0 / 32768.0)

static int by_desc(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? 1 : x > y ? -1 : 0;
}

/*
 * Output of one row from probabilities @p over @n keys with value pruning
 * to @vk: @ref gets the output of the keys surely kept plus half of the
 * ambiguous ones, @slack half of the ambiguous ones' magnitude.
 */
static void ref_out(const struct wl_ref *x, const double *p, uint32_t n,
		    uint32_t vk, double *ref, double *slack)
{
	uint32_t D = x->c->head_dim, j, e;
	double theta = -1.0;

	if (vk && vk < n) {	/* the vk-th largest probability */
		memcpy(x->sc, p, n * sizeof(double));
		qsort(x->sc, n, sizeof(double), by_desc);
		theta = x->sc[vk - 1];
	}
	for (e = 0; e < D; e++) {
		ref[e] = 0;
		slack[e] = 0;
	}
	for (j = 0; j < n; j++) {
		double w = 1.0, a = 0.0;

		if (theta >= 0) {
			if (p[j] < theta - PROB_EPS)
				continue;
			if (p[j] <= theta + PROB_EPS) {
				w = 0.5;
				a = 0.5;
			}
		}
		for (e = 0; e < D; e++) {
			double pv = p[j] * x->vv[(size_t)j * D + e];

			ref[e] += w * pv;
			slack[e] += a * fabs(pv);
		}
	}
}

static double row_err(const struct wl_ref *x, const double *ref,
		      const double *slack, const float *dev)
{
	uint32_t D = x->c->head_dim, e;
	double err = 0;

	for (e = 0; e < D; e++) {
		double d = fabs(ref[e] - dev[e]) - slack[e];

		if (d < 0)
			d = 0;
		if (d > err)
			err = d;
	}
	return err;
}

static double out_err(const struct wl_ref *x, const double *keys,
		      uint32_t n, const double *q, uint32_t vk,
		      const float *dev)
{
	double ref[WL_MAX_D], slack[WL_MAX_D];

	softmax(x, q, keys, n, x->p);
	ref_out(x, x->p, n, vk, ref, slack);
	return row_err(x, ref, slack, dev);
}

/*
 * Error of one output row (query @q, already quantised and rotated) over
 * the first @n loaded keys: max |device - reference| beyond what ambiguous
 * selections (near-ties of the value top-k or of the LSB refetch
 * threshold) can explain.
 */
static double ref_row(struct wl_ref *x, const double *q, uint32_t n,
		      uint32_t value_keep, const float *dev_row)
{
	const struct spatten_session_opts *c = x->c;
	double maxp = 0, thr = c->lsb_threshold / 32768.0;
	uint32_t j;

	if (!(c->flags & SPATTEN_SESSION_PROGRESSIVE))
		return out_err(x, x->kf, n, q, value_keep, dev_row);
	softmax(x, q, x->km, n, x->p);
	for (j = 0; j < n; j++)
		if (x->p[j] > maxp)
			maxp = x->p[j];
	if (maxp >= thr + PROB_EPS)		/* surely no refetch */
		return out_err(x, x->km, n, q, value_keep, dev_row);
	if (maxp >= thr - PROB_EPS)		/* either: take the closer */
		return fmin(out_err(x, x->km, n, q, value_keep, dev_row),
			    out_err(x, x->kf, n, q, value_keep, dev_row));
	return out_err(x, x->kf, n, q, value_keep, dev_row);
}

/* Engine bound for a dense job of the same shape (docs/engine.md). */
static double tolerance(const struct spatten_session_opts *c, uint32_t L)
{
	struct spe_job j;

	memset(&j, 0, sizeof(j));
	j.opcode = SPATTEN_OP_ATTENTION;
	j.n_heads = c->n_heads;
	j.head_dim = c->head_dim;
	j.kv_rows = L;
	j.q_rows = 1;
	j.out_frac = c->out_frac;
	j.v_frac = c->v_frac;
	return spe_out_tolerance(&j, 1.0);
}

/* ---- a layer ------------------------------------------------------------------ */

int wl_ref_init(struct wl_ref *x, const struct wl_opts *o,
		const struct spatten_session_opts *c, const struct wl_gen *g,
		uint32_t cap)
{
	size_t D = c->head_dim;
	uint32_t i;

	memset(x, 0, sizeof(*x));
	x->o = o;
	x->c = c;
	x->g = g;
	x->cap = cap;
	if (D > WL_MAX_D)
		return -EINVAL;
	x->kf = malloc(cap * D * sizeof(double));
	x->km = malloc(cap * D * sizeof(double));
	x->vv = malloc(cap * D * sizeof(double));
	x->p = malloc(cap * sizeof(double));
	x->sc = malloc(cap * sizeof(double));
	x->inv_freq = malloc(D / 2 * sizeof(double));
	x->rot = c->rope_base ? malloc(cap * D * sizeof(int32_t)) : NULL;
	x->ids = malloc(cap * sizeof(uint32_t));
	x->slots = malloc(cap * sizeof(uint32_t));
	x->row = malloc(D * sizeof(float));
	if (!x->kf || !x->km || !x->vv || !x->p || !x->sc || !x->inv_freq ||
	    (c->rope_base && !x->rot) || !x->ids || !x->slots ||
	    !x->row) {
		wl_ref_free(x);
		return -ENOMEM;
	}
	for (i = 0; i < D / 2; i++)	/* docs/hardware.md: base^(-2i/D) */
		x->inv_freq[i] = pow((double)c->rope_base, -2.0 * i / D);
	/* positions are slots: every angle once, not at every step */
	for (i = 0; c->rope_base && i < cap; i++)
		rope_angles(x, i, x->rot + (size_t)i * D);
	return 0;
}

void wl_ref_free(struct wl_ref *x)
{
	free(x->kf);
	free(x->km);
	free(x->vv);
	free(x->p);
	free(x->sc);
	free(x->inv_freq);
	free(x->rot);
	free(x->ids);
	free(x->slots);
	free(x->row);
	memset(x, 0, sizeof(*x));
}

/*
 * The layer's kept slots into x->slots (spatten_session_alive(): 32-bit,
 * any context). Return: the count, 0 when unknown.
 */
static uint32_t kept_slots(struct wl_ref *x, struct spatten_session *s,
			   uint32_t l, const struct spatten_layer_stats *st)
{
	int nt = spatten_session_alive(s, l, x->slots, x->cap);

	(void)st;
	return nt < 0 || (uint32_t)nt > x->cap ? 0 : (uint32_t)nt;
}

/*
 * Token of every slot of KV head @g: the cache's, then the pass's new
 * tokens. A bounded cache selected per KV head holds different tokens in
 * each (SPATTEN_SESSION_KV_PER_HEAD); the new tokens are the same.
 */
static void slot_ids(struct wl_ref *x, struct spatten_session *s,
		     uint32_t l, uint32_t g, uint32_t L, uint64_t pos0)
{
	int nc = spatten_session_cache_head(s, l, g, x->ids, NULL, x->cap);
	uint32_t i;

	/* the cache counts the new tokens once the pass is complete */
	if (nc < 0 || (uint32_t)nc > L)
		nc = 0;
	for (i = (uint32_t)nc; i < L; i++)
		x->ids[i] = (uint32_t)(pos0 + (i - (uint32_t)nc));
}

/* Load the keys and values of the @nt kept slots of KV head @g. */
static void load_group(struct wl_ref *x, uint32_t l, uint32_t g,
		       uint32_t nt)
{
	const struct spatten_session_opts *c = x->c;
	uint32_t D = c->head_dim, i;

	for (i = 0; i < nt; i++) {
		double *kf = x->kf + (size_t)i * D, *km = x->km + (size_t)i * D;

		ref_kv(x, l, g, x->ids[x->slots[i]], kf, km,
		       x->vv + (size_t)i * D);
		if (!c->rope_base)
			continue;
		rope_apply(kf, D, c->k_frac, x->rot + (size_t)x->slots[i] * D);
		/* MSB-only keys are scored only when progressive */
		if (c->flags & SPATTEN_SESSION_PROGRESSIVE)
			rope_apply(km, D, c->k_frac,
				   x->rot + (size_t)x->slots[i] * D);
	}
}

/* The query of token @id, query head @h, at slot @slot, as the device has it. */
static void load_query(struct wl_ref *x, uint32_t l, uint32_t h,
		       uint64_t id, uint32_t slot, double *q)
{
	const struct spatten_session_opts *c = x->c;
	double one = ldexp(1.0, c->q_frac);
	uint32_t e;

	gen_seen(x, WL_Q, l, h, id, x->row);
	for (e = 0; e < c->head_dim; e++)
		q[e] = stored(x->row[e], one, 32767.0) / one;
	if (c->rope_base)
		rope_apply(q, c->head_dim, c->q_frac,
			   x->rot + (size_t)slot * c->head_dim);
}

struct check_pass {
	uint32_t l, L, nt, n;
	const struct spatten_layer_stats *st;
	const float *out;
	double tol;
};

static void note_err(struct wl_result *r, uint32_t l, double err,
		     double tol)
{
	r->rows_checked++;
	if (err > r->max_err[l])
		r->max_err[l] = err;
	if (tol > r->tol[l])
		r->tol[l] = tol;
	if (err / tol > r->worst_ratio)
		r->worst_ratio = err / tol;
	if (err > r->max_err_all)
		r->max_err_all = err;
}

/*
 * The checked rows of query head @h (its output is zero if not computed):
 * the new tokens of the pass are slots L - n .. L - 1; those the layer kept
 * (all of a generation step's or a chunk's) are the last of the kept list.
 * A generation step checks its token, a prompt or chunk --check-rows of
 * them, spread evenly.
 */
static void check_head(struct wl_ref *x, const struct check_pass *cp,
		       uint32_t h, int computed, struct wl_result *r)
{
	uint32_t D = x->c->head_dim, first = cp->L - cp->n, k0 = cp->nt;
	uint32_t rows = cp->n == 1 ? 1 : x->o->check_rows, i, t, slot, nv;
	double q[WL_MAX_D];
	const float *dev;

	while (k0 && x->slots[k0 - 1] >= first)
		k0--;
	for (i = 0; i < rows && k0 < cp->nt; i++) {
		slot = x->slots[k0 + (uint64_t)(cp->nt - k0 - 1) * (i + 1) /
				rows];
		dev = cp->out + ((size_t)h * cp->n + (slot - first)) * D;
		if (!computed) {
			for (t = 0; t < D; t++)
				if (dev[t] != 0.0f)
					r->max_err[cp->l] = 1e9;
			continue;
		}
		/* causal: the kept slots up to the query's (a prefix) */
		nv = cp->nt;
		if (x->c->kind == SPATTEN_SESSION_DECODER)
			for (nv = 0; nv < cp->nt && x->slots[nv] <= slot; nv++)
				;
		load_query(x, cp->l, h, x->ids[slot], slot, q);
		note_err(r, cp->l, ref_row(x, q, nv, cp->st->value_keep, dev),
			 cp->tol);
	}
}

int wl_ref_check_layer(struct wl_ref *x, struct spatten_session *s,
		       uint32_t l, uint64_t pos0, uint32_t n, const float *out,
		       struct wl_result *r)
{
	const struct spatten_session_opts *c = x->c;
	uint32_t H = c->n_heads, G = c->n_kv_heads, grp = H / G, g, h, i;
	struct spatten_layer_stats st;
	struct check_pass cp;
	uint16_t heads[WL_MAX_HEADS];
	int nh;

	spatten_session_layer_stats(s, l, &st, NULL);
	nh = spatten_session_heads(s, l, heads, WL_MAX_HEADS);
	if (nh < 0)
		return nh;
	memset(&cp, 0, sizeof(cp));
	cp.l = l;
	cp.L = st.kv_rows;
	cp.n = n;
	cp.st = &st;
	cp.out = out;
	cp.tol = tolerance(c, st.kv_rows);
	slot_ids(x, s, l, 0, cp.L, pos0);
	cp.nt = kept_slots(x, s, l, &st);
	if (!cp.nt) {
		r->rows_unchecked += (uint64_t)H * (n == 1 ? 1 :
						    x->o->check_rows);
		return 0;
	}
	for (g = 0, i = 0; g < G; g++) {
		uint32_t first = i;

		/* heads[] is ascending: this group's computed heads */
		while (i < (uint32_t)nh && heads[i] < (g + 1) * grp)
			i++;
		if (x->o->kv_per_head)
			slot_ids(x, s, l, g, cp.L, pos0);
		if (i > first)
			load_group(x, l, g, cp.nt);
		for (h = g * grp; h < (g + 1) * grp; h++) {
			int computed = first < i && heads[first] == h;

			if (computed)
				first++;
			check_head(x, &cp, h, computed, r);
		}
	}
	return 0;
}
