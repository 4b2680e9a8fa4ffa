// SPDX-License-Identifier: MIT
/*
 * The double-precision reference of a version-3 job; see llm_ref.h.
 * Written from docs/hardware.md with qsort selections and libm.
 *
 * The per-element bound (@bound). For an output element with kept keys j:
 *
 *	|out - out*| <= 2^-(out_frac+1) + sum_j |V_j| |pq_j / 2^15 - p*_j|
 *
 * (docs/engine.md, section 7, with the sum per element instead of Vmax).
 * The engine's float probability p_j has a relative error of at most
 * rr = 1e-6 + (8 * 87 + n/8 + 8) * 2^-24 (u = 2^-24) against p*_j:
 * spe_expf's 2e-7 in the numerator and again through the normaliser (1e-6
 * allowed); the scaled argument's 4 roundings, 4u |x| with |x| <= 87 (e^x
 * is 0 below), in the numerator and in the normaliser's weighted mean
 * (8 * 87 u); (n/8 + 3) roundings of the 8-lane sum and one of the
 * division ((n/8 + 8) u allowed). Quantising to 2^-15 moves
 * it by at most 2^-16 (+2^-40) and, where p_j < 2^-16, by p_j itself
 * (it becomes 0), so
 *
 *	|pq_j / 2^15 - p*_j| <= min(2^-16 + 2^-40, p*_j (1 + rr)) + p*_j rr.
 *
 * This is much tighter than spe_out_tolerance() where most keys carry
 * almost nothing (long contexts); on rows of a handful of keys its
 * generous float term makes it a little looser. The tests check both.
 *
 * RoPE: the engine rotates the int16 rows and rounds (llm_ref_rotate());
 * each rotated element is off by at most delta (below), so each scaled
 * score by at most Delta = scale * sum_d (|q_d| dk_d + |k_d| dq_d + dq_d
 * dk_d) (real units). Scores that move by at most Delta move each
 * probability by a factor within e^(+-2 Delta), so by at most
 * p_j (e^(2 Delta) - 1): the element gains sum_j |V_j| p_j (e^(2 Delta) -
 * 1), and the quantisation terms above are taken of p_j e^(2 Delta).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "llm_ref.h"

static void *ref_calloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size);

	if (!p) {
		fprintf(stderr, "llm_ref: out of memory\n");
		abort();
	}
	return p;
}

double llm_ref_scale(const struct llm_spec *s)
{
	float f;

	if (!s->score_scale)
		return 1.0 / sqrt((double)s->d);
	memcpy(&f, &s->score_scale, sizeof(f));
	return f;
}

/*
 * The engine rounds cos and sin of its binary64 angle to Q1.15: C =
 * round(cos * 2^15), |C / 2^15 - cos a| <= 2^-16. Its angle differs from
 * this long double one by far less than 1e-10 rad at positions below
 * 2^31, so |C / 2^15 - cos a_ref| <= 2^-16 + 1e-10, and the same for S.
 * Its rotated element (x_i C - x_i' S) / 2^15 is then within (|x_i| +
 * |x_i'|) (2^-16 + 1e-10) of the exact x_i cos - x_i' sin; rounding half
 * up adds at most 1/2, saturation to int16 moves it no further from an
 * in-range exact value. So delta = 1/2 + (|x_i| + |x_i'|) (2^-16 +
 * 1e-10) raw units: below 1.5 LSB for any int16 pair.
 */
void llm_ref_rotate(const int16_t *x, uint32_t d, uint32_t base, uint32_t pos,
		    double *y, double *delta)
{
	uint32_t half = d / 2, i;

	for (i = 0; i < half; i++) {
		long double theta = powl((long double)base,
					 -2.0L * i / (long double)d);
		long double a = (long double)pos * theta;
		long double c = cosl(a), sn = sinl(a);
		long double x0 = x[i], x1 = x[i + half];

		y[i] = (double)(x0 * c - x1 * sn);
		y[i + half] = (double)(x1 * c + x0 * sn);
		if (delta)
			delta[i] = delta[i + half] =
				0.5 + (fabsl(x0) + fabsl(x1)) *
				      (ldexp(1.0, -16) + 1e-10);
	}
}

/* ---- Token selection ----------------------------------------------------- */

struct ref_item {
	uint64_t key;
	uint32_t idx;
};

/* Larger key first, then the lower index. */
static int ref_item_cmp(const void *a, const void *b)
{
	const struct ref_item *x = a, *y = b;

	if (x->key != y->key)
		return x->key > y->key ? -1 : 1;
	return x->idx < y->idx ? -1 : x->idx > y->idx;
}

static int ref_u32_cmp(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

static int ref_listed(const uint32_t *l, uint32_t n, uint32_t v)
{
	uint32_t i;

	for (i = 0; i < n; i++)
		if (l[i] == v)
			return 1;
	return 0;
}

uint32_t llm_ref_tokens(const struct llm_spec *s, const uint32_t *alive,
			const uint32_t *pinned, const uint64_t *imp,
			uint32_t *tok)
{
	/* in generation the new slots q_start.. are candidates, and forced */
	uint32_t kv = s->kv_rows, n_cand = 0, n_t = 0, n_o = 0;
	uint32_t first_new = s->generation ? s->q_start : kv;
	uint32_t *cand = ref_calloc(kv + 1, sizeof(*cand)), i, k;
	struct ref_item *o = ref_calloc(kv + 1, sizeof(*o));
	uint8_t *listed = ref_calloc(kv, 1);

	for (i = 0; i < s->n_tok_alive; i++)
		listed[alive[i]] = 1;
	for (i = 0; i < kv; i++)
		if (i >= first_new || !s->n_tok_alive || listed[i])
			cand[n_cand++] = i;
	free(listed);
	for (i = 0; i < n_cand; i++) {
		int forced = cand[i] >= first_new ||
			     ref_listed(pinned, s->n_pinned, cand[i]);

		if (!s->token_keep || forced) {
			tok[n_t++] = cand[i];
		} else {
			o[n_o].key = imp[cand[i]];
			o[n_o++].idx = cand[i];
		}
	}
	if (s->token_keep) {
		qsort(o, n_o, sizeof(*o), ref_item_cmp);
		k = s->token_keep - n_t;
		for (i = 0; i < k; i++)
			tok[n_t++] = o[i].idx;
		qsort(tok, n_t, sizeof(*tok), ref_u32_cmp);
	}
	free(cand);
	free(o);
	return n_t;
}

/* ---- Attention --------------------------------------------------------- */

/* Working arrays of one run. */
struct ref_work {
	uint32_t *tok, n_tok;
	double *kr, *dk;	/* RoPE: rotated keys, their deltas (real) */
	double *score, *p, *w;
	double *qr, *dq;
	double *acc, *err;	/* [d] one output row and its bound */
	uint32_t *sel;
	struct ref_item *items;
	uint8_t *vneed;
};

/* Rotated keys of KV head @g (RoPE only), real units. */
static void ref_rotate_keys(const struct llm_ref *r, struct ref_work *w,
			    uint32_t g)
{
	const struct llm_spec *s = r->s;
	double ks = ldexp(1.0, -s->k_frac);
	uint32_t j, x;

	for (j = 0; j < w->n_tok; j++) {
		uint32_t t = w->tok[j];
		double *y = w->kr + (size_t)j * s->d, *dl = w->dk + (size_t)j * s->d;

		llm_ref_rotate(r->dt->k + ((size_t)g * s->kv_rows + t) * s->d,
			       s->d, s->rope_base,
			       r->positions ? r->positions[t] : t, y, dl);
		for (x = 0; x < s->d; x++) {
			y[x] *= ks;
			dl[x] *= ks;
		}
	}
}

/*
 * Scores of query row @q (raw) against the first @n kept keys of KV head
 * @g, scaled, into w->score; returns the largest score perturbation
 * Delta of RoPE (0 without).
 */
static double ref_scores(const struct llm_ref *r, struct ref_work *w,
			 uint32_t g, const int16_t *q, uint32_t qpos,
			 uint32_t n)
{
	const struct llm_spec *s = r->s;
	double qs = ldexp(1.0, -s->q_frac), ks = ldexp(1.0, -s->k_frac);
	double scale = llm_ref_scale(s), delta = 0.0;
	uint32_t d = s->d, j, x;

	if (!(s->flags & SPATTEN_DESC_F_ROPE)) {
		for (j = 0; j < n; j++) {
			const int16_t *k = r->dt->k +
				((size_t)g * s->kv_rows + w->tok[j]) * d;
			double dot = 0.0;

			for (x = 0; x < d; x++)
				dot += (double)q[x] * k[x];
			w->score[j] = dot * qs * ks * scale;
		}
		return 0.0;
	}
	llm_ref_rotate(q, d, s->rope_base, qpos, w->qr, w->dq);
	for (x = 0; x < d; x++) {
		w->qr[x] *= qs;
		w->dq[x] *= qs;
	}
	for (j = 0; j < n; j++) {
		const double *k = w->kr + (size_t)j * d, *dk = w->dk + (size_t)j * d;
		double dot = 0.0, err = 0.0;

		for (x = 0; x < d; x++) {
			dot += w->qr[x] * k[x];
			err += fabs(w->qr[x]) * dk[x] + fabs(k[x]) * w->dq[x] +
			       w->dq[x] * dk[x];
		}
		w->score[j] = dot * scale;
		if (err * scale > delta)
			delta = err * scale;
	}
	return delta;
}

/* Softmax of w->score[0..n) into w->p. */
static void ref_softmax(struct ref_work *w, uint32_t n)
{
	double mx = -INFINITY, sum = 0.0;
	uint32_t j;

	for (j = 0; j < n; j++)
		if (w->score[j] > mx)
			mx = w->score[j];
	for (j = 0; j < n; j++) {
		w->p[j] = exp(w->score[j] - mx);
		sum += w->p[j];
	}
	for (j = 0; j < n; j++)
		w->p[j] /= sum;
}

/* "a beats b" in the top-k order: larger key, then lower index. */
static int ref_beats(double ka, uint32_t a, double kb, uint32_t b)
{
	return ka > kb || (ka == kb && a < b);
}

/*
 * Value pruning of a row of @n keys: w->sel[0..k) the top @keep by the
 * quantised probability round(p * 2^15) (ties to the lower key), which is
 * what the engine ranks. Returns k; sets *@fragile when moving each
 * p * 2^15 by its float error @rr (relative) could change the set.
 */
static uint32_t ref_value_keep(struct ref_work *w, uint32_t n, uint32_t keep,
			       double rr, int *fragile)
{
	double weak_k = INFINITY, strong_k = -INFINITY;
	uint32_t weak_i = 0, strong_i = 0, j;

	for (j = 0; j < n; j++) {
		w->items[j].key = (uint64_t)floor(w->p[j] * 32768 + 0.5);
		w->items[j].idx = j;
	}
	qsort(w->items, n, sizeof(*w->items), ref_item_cmp);
	for (j = 0; j < n; j++) {
		uint32_t i = w->items[j].idx;
		double eps = w->p[i] * 32768 * rr + 1e-9;
		double lo = floor(w->p[i] * 32768 + 0.5 - eps);
		double hi = floor(w->p[i] * 32768 + 0.5 + eps);

		if (j < keep && !ref_beats(lo, i, weak_k, weak_i)) {
			weak_k = lo;
			weak_i = i;
		}
		if (j >= keep && ref_beats(hi, i, strong_k, strong_i)) {
			strong_k = hi;
			strong_i = i;
		}
	}
	*fragile = !ref_beats(weak_k, weak_i, strong_k, strong_i);
	for (j = 0; j < keep; j++)
		w->sel[j] = w->items[j].idx;
	qsort(w->sel, keep, sizeof(*w->sel), ref_u32_cmp);
	return keep;
}

/* Output row and bound of computed row @row of head @h (KV head @g). */
static void ref_row(struct llm_ref *r, struct ref_work *w, uint32_t h,
		    uint32_t g, uint32_t row)
{
	const struct llm_spec *s = r->s;
	uint32_t d = s->d, pos = s->q_start + row, n = 0, k, j, x;
	const int16_t *q = r->dt->q + ((size_t)h * s->q_rows + row) * d;
	size_t base = ((size_t)h * s->q_rows + row) * d;
	double vs = ldexp(1.0, -s->v_frac), top = ldexp(32767.0, -s->out_frac);
	double rr, delta, gr;
	int fragile = 0;

	/* Visible keys: a prefix of T (causal) or all of it. */
	while (n < w->n_tok &&
	       (!(s->flags & SPATTEN_DESC_F_CAUSAL) || w->tok[n] <= pos))
		n++;
	if (!n)
		return;
	delta = ref_scores(r, w, g, q, r->positions ? r->positions[pos] : pos,
			   n);
	gr = expm1(2 * delta);
	if (gr > r->rope_growth)
		r->rope_growth = gr;
	ref_softmax(w, n);
	rr = llm_prob_rel_error(n);

	for (j = 0; j < n; j++)
		r->imp[w->tok[j]] += w->p[j] * 32768;
	if (s->value_keep && s->value_keep < n) {
		k = ref_value_keep(w, n, s->value_keep, rr, &fragile);
	} else {
		for (k = 0; k < n; k++)
			w->sel[k] = k;
	}
	r->fragile += fragile;
	for (j = 0; j < k; j++) {
		double p = w->p[w->sel[j]], pg = p * (1 + gr);

		w->vneed[w->sel[j]] = 1;
		/* per-key error weight: quantisation, float, RoPE */
		w->w[j] = fmin(ldexp(1.0, -16) + ldexp(1.0, -40),
			       pg * (1 + rr)) + pg * rr + p * gr;
	}
	memset(w->acc, 0, d * sizeof(*w->acc));
	memset(w->err, 0, d * sizeof(*w->err));
	for (j = 0; j < k; j++) {	/* row by row: V is [slot][d] */
		const int16_t *v = r->dt->v + ((size_t)g * s->kv_rows +
					       w->tok[w->sel[j]]) * d;
		double p = w->p[w->sel[j]], e = w->w[j] * vs;

		for (x = 0; x < d; x++) {
			w->acc[x] += p * (v[x] * vs);
			w->err[x] += fabs((double)v[x]) * e;
		}
	}
	for (x = 0; x < d; x++) {
		r->out[base + x] = fmax(-top - ldexp(1.0, -s->out_frac),
					fmin(top, w->acc[x]));
		r->bound[base + x] = ldexp(1.0, -(s->out_frac + 1)) + w->err[x];
	}
	r->computed[(size_t)h * s->q_rows + row] = 1;
	r->contrib++;
}

/* V rows marked in w->vneed (gathered indices), counted and cleared. */
static uint64_t ref_flush_vneed(struct ref_work *w)
{
	uint64_t n = 0;
	uint32_t j;

	for (j = 0; j < w->n_tok; j++)
		n += w->vneed[j];
	memset(w->vneed, 0, w->n_tok);
	return n;
}

void llm_ref_run(struct llm_ref *r)
{
	const struct llm_spec *s = r->s;
	uint32_t group = s->heads / s->kv_heads, nh, i, h, g, m;
	uint32_t cur_g = UINT32_MAX;
	size_t nout = (size_t)s->heads * s->q_rows * s->d;
	int rope = !!(s->flags & SPATTEN_DESC_F_ROPE);
	struct ref_work w;

	memset(&w, 0, sizeof(w));
	r->out = ref_calloc(nout, sizeof(double));
	r->bound = ref_calloc(nout, sizeof(double));
	r->computed = ref_calloc((size_t)s->heads * s->q_rows, 1);
	r->imp = ref_calloc(s->kv_rows, sizeof(double));
	r->v_rows = ref_calloc(s->kv_heads, sizeof(uint64_t));
	r->fragile = 0;
	r->rope_growth = 0.0;
	r->contrib = 0;
	r->max_abs_v = llm_max_abs_v(r->dt, s);

	w.n_tok = r->tok ? r->n_tok : s->kv_rows;
	w.tok = ref_calloc(w.n_tok, sizeof(uint32_t));
	for (i = 0; i < w.n_tok; i++)
		w.tok[i] = r->tok ? r->tok[i] : i;
	w.score = ref_calloc(w.n_tok, sizeof(double));
	w.p = ref_calloc(w.n_tok, sizeof(double));
	w.w = ref_calloc(w.n_tok, sizeof(double));
	w.sel = ref_calloc(w.n_tok, sizeof(uint32_t));
	w.items = ref_calloc(w.n_tok, sizeof(*w.items));
	w.vneed = ref_calloc(w.n_tok, 1);
	w.qr = ref_calloc(s->d, sizeof(double));
	w.dq = ref_calloc(s->d, sizeof(double));
	w.acc = ref_calloc(s->d, sizeof(double));
	w.err = ref_calloc(s->d, sizeof(double));
	if (rope) {
		w.kr = ref_calloc((size_t)w.n_tok * s->d, sizeof(double));
		w.dk = ref_calloc((size_t)w.n_tok * s->d, sizeof(double));
	}

	nh = r->heads ? r->n_heads : s->heads;
	for (m = 0; m < nh; m++) {
		h = r->heads ? r->heads[m] : m;
		g = h / group;
		if (g != cur_g) {
			if (cur_g != UINT32_MAX)
				r->v_rows[cur_g] = ref_flush_vneed(&w);
			cur_g = g;
			if (rope)
				ref_rotate_keys(r, &w, g);
		}
		for (i = 0; i < (r->rows ? r->n_rows : s->q_rows); i++)
			ref_row(r, &w, h, g, r->rows ? r->rows[i] : i);
	}
	if (cur_g != UINT32_MAX)
		r->v_rows[cur_g] = ref_flush_vneed(&w);

	free(w.tok);
	free(w.score);
	free(w.p);
	free(w.w);
	free(w.sel);
	free(w.items);
	free(w.vneed);
	free(w.qr);
	free(w.dq);
	free(w.acc);
	free(w.err);
	free(w.kr);
	free(w.dk);
}

void llm_ref_free(struct llm_ref *r)
{
	free(r->out);
	free(r->bound);
	free(r->computed);
	free(r->imp);
	free(r->v_rows);
	r->out = r->bound = r->imp = NULL;
	r->computed = NULL;
	r->v_rows = NULL;
}

void llm_compare(const struct llm_ref *r, const struct llm_mem *m,
		 const struct spe_job *job, struct llm_cmp *c)
{
	const struct llm_spec *s = r->s;
	uint32_t h, row, x;

	memset(c, 0, sizeof(*c));
	c->doc_tol = spe_out_tolerance(job, r->max_abs_v) +
		     r->max_abs_v * r->rope_growth;
	for (h = 0; h < s->heads; h++)
		for (row = 0; row < s->q_rows; row++) {
			size_t base = ((size_t)h * s->q_rows + row) * s->d;

			for (x = 0; x < s->d; x++) {
				int16_t got = llm_out(m, s, h, row, x);
				double err;

				if (!r->computed[(size_t)h * s->q_rows + row]) {
					c->stray_out += (uint16_t)got !=
							LLM_OUT_SENTINEL;
					continue;
				}
				err = fabs(ldexp(got, -s->out_frac) -
					   r->out[base + x]);
				if (err > c->max_err)
					c->max_err = err;
				if (r->bound[base + x] > c->max_bound)
					c->max_bound = r->bound[base + x];
				if (err / c->doc_tol > c->worst_doc)
					c->worst_doc = err / c->doc_tol;
				if (err / r->bound[base + x] > c->worst_bound)
					c->worst_bound = err / r->bound[base + x];
				c->over_doc += err > c->doc_tol;
				c->over_bound += err > r->bound[base + x];
			}
		}
}

double llm_prob_rel_error(uint32_t n)
{
	return 1e-6 + (8.0 * 87 + n / 8.0 + 8) * ldexp(1.0, -24);
}

double llm_imp_tolerance(uint64_t contrib, uint32_t n, double imp)
{
	return 0.5 * (double)contrib + llm_prob_rel_error(n) * imp + 1.0;
}
