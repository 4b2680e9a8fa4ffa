// SPDX-License-Identifier: MIT
/*
 * The plain reference of a pruned job; see prune_ref.h. Written from
 * docs/hardware.md with qsort-based selections and libm's exp.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "prune_ref.h"

struct sel_item {
	double key;
	uint32_t idx;
};

/* Larger key first, then the lower index: what the hardware keeps. */
static int sel_cmp(const void *a, const void *b)
{
	const struct sel_item *x = a, *y = b;

	if (x->key != y->key)
		return x->key > y->key ? -1 : 1;
	return x->idx < y->idx ? -1 : x->idx > y->idx;
}

static int u32_cmp(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/* Indices of the k largest keys (ties: lower index), ascending. */
static void sel_topk(const double *key, const uint32_t *idx, uint32_t n,
		     uint32_t k, uint32_t *out)
{
	struct sel_item *it = calloc(n ? n : 1, sizeof(*it));
	uint32_t i;

	for (i = 0; i < n; i++) {
		it[i].key = key[i];
		it[i].idx = idx[i];
	}
	qsort(it, n, sizeof(*it), sel_cmp);
	for (i = 0; i < k; i++)
		out[i] = it[i].idx;
	qsort(out, k, sizeof(*out), u32_cmp);
	free(it);
}

static int in_list(const uint16_t *l, uint32_t n, uint32_t v)
{
	uint32_t i;

	for (i = 0; i < n; i++)
		if (l[i] == v)
			return 1;
	return 0;
}

static int list_ok(const uint16_t *l, uint32_t n, uint32_t limit)
{
	uint32_t i;

	for (i = 0; i < n; i++)
		if (l[i] >= limit || (i && l[i] <= l[i - 1]))
			return 0;
	return 1;
}

double ref_tolerance(const struct att_case *c, uint32_t n, double max_abs_v)
{
	return ((double)n * (1.0 / 65536 + 4e-7) + 1e-6) * max_abs_v +
	       ldexp(1.0, -(c->out_frac + 1));
}

/* Softmax of q . k over the visible keys, in real units. */
static void ref_softmax(const struct att_case *c, const int16_t *q,
			const int16_t *kd, const uint32_t *vis, uint32_t n,
			int key_mode, double *p)
{
	double qs = ldexp(1.0, -c->q_frac), ks = ldexp(1.0, -c->k_frac);
	double max = -INFINITY, sum = 0.0;
	uint32_t j, x;

	for (j = 0; j < n; j++) {
		const int16_t *k = kd + (size_t)vis[j] * c->d;
		double dot = 0.0;

		for (x = 0; x < c->d; x++) {
			double kv = k[x];

			if (key_mode == 1) {	/* MSB pass: msb * 16 + 8 */
				int32_t lsb = ((k[x] % 16) + 16) % 16;

				kv = (double)(k[x] - lsb + 8);
			}
			dot += q[x] * qs * (kv * ks);
		}
		p[j] = dot / sqrt((double)c->d);
		if (p[j] > max)
			max = p[j];
	}
	for (j = 0; j < n; j++) {
		p[j] = exp(p[j] - max);
		sum += p[j];
	}
	for (j = 0; j < n; j++)
		p[j] /= sum;
}

void ref_job(const struct att_run *run, const double *tok_imp_in,
	     const double *head_imp_in, struct ref_result *r)
{
	const struct att_case *c = &run->c;
	uint32_t L = c->kv_rows, cur = L - 1, i, j, m, x;
	uint32_t kbits = spatten_hw_fmt_bits(c->k_fmt);
	uint32_t vbits = spatten_hw_fmt_bits(c->v_fmt);
	uint32_t cand[1100], n_cand = 0, forced[1100], n_forced = 0;
	uint32_t others[1100], n_others = 0, picked[1100];
	double keys[1100], *p = calloc(L + 1, sizeof(double));
	double vs = ldexp(1.0, -c->v_frac), os = ldexp(1.0, -c->out_frac);
	uint32_t *vis = calloc(L + 1, sizeof(uint32_t));
	uint8_t *vneed = calloc(L + 1, 1);
	uint32_t n_kvis;
	size_t nv = (size_t)c->heads * L * c->d;

	memset(r, 0, sizeof(*r));
	r->out = calloc(att_out_elems(c), sizeof(double));
	r->computed = calloc((size_t)c->heads * c->q_rows, 1);
	r->tok_imp = calloc(L, sizeof(double));
	r->head_imp = calloc(c->heads, sizeof(double));
	for (i = 0; i < L; i++)
		r->tok_imp[i] = tok_imp_in ? tok_imp_in[i] : 0.0;
	for (i = 0; i < c->heads; i++)
		r->head_imp[i] = head_imp_in ? head_imp_in[i] : 0.0;
	for (i = 0; i < nv; i++)
		if (fabs(run->vd[i] * vs) > r->max_abs_v)
			r->max_abs_v = fabs(run->vd[i] * vs);

	/* Lists and keep counts, as checked at run time. */
	if ((c->n_head_alive && !list_ok(c->head_alive, c->n_head_alive,
					 c->heads)) ||
	    (c->n_tok_alive && !list_ok(c->tok_alive, c->n_tok_alive, L)) ||
	    (c->n_pinned && !list_ok(c->pinned, c->n_pinned, L))) {
		r->status = SPATTEN_HW_ERR_LIST;
		goto out;
	}
	for (i = 0; i < (c->n_head_alive ? c->n_head_alive : c->heads); i++)
		r->heads[r->n_heads++] = c->n_head_alive ? c->head_alive[i] : i;
	for (i = 0; i < (c->n_tok_alive ? c->n_tok_alive : L); i++)
		cand[n_cand++] = c->n_tok_alive ? c->tok_alive[i] : i;
	if (c->generation && !in_list(c->tok_alive, c->n_tok_alive, cur) &&
	    c->n_tok_alive)
		cand[n_cand++] = cur;
	for (i = 0; i < n_cand; i++) {
		if ((c->generation && cand[i] == cur) ||
		    in_list(c->pinned, c->n_pinned, cand[i]))
			forced[n_forced++] = cand[i];
		else
			others[n_others++] = cand[i];
	}
	if (c->token_keep && (c->token_keep < n_forced ||
			      c->token_keep > n_cand)) {
		r->status = SPATTEN_HW_ERR_KEEP;
		goto out;
	}

	/* Tokens kept before the layer. */
	if (c->token_keep) {
		for (i = 0; i < n_others; i++)
			keys[i] = r->tok_imp[others[i]];
		sel_topk(keys, others, n_others, c->token_keep - n_forced,
			 picked);
		memcpy(r->tok, forced, n_forced * sizeof(uint32_t));
		memcpy(r->tok + n_forced, picked,
		       (c->token_keep - n_forced) * sizeof(uint32_t));
		r->n_tok = c->token_keep;
		qsort(r->tok, r->n_tok, sizeof(uint32_t), u32_cmp);
	} else {
		memcpy(r->tok, cand, n_cand * sizeof(uint32_t));
		r->n_tok = n_cand;
	}
	if (!c->generation && (c->n_tok_alive || c->token_keep)) {
		memcpy(r->rows, r->tok, r->n_tok * sizeof(uint32_t));
		r->n_rows = r->n_tok;
	} else {
		for (i = 0; i < c->q_rows; i++)
			r->rows[i] = i;
		r->n_rows = c->q_rows;
	}
	n_kvis = 0;
	for (i = 0; i < r->n_tok; i++)
		if (!c->causal ||
		    r->tok[i] <= c->q_start + r->rows[r->n_rows - 1])
			n_kvis++;

	for (m = 0; m < r->n_heads; m++) {
		uint32_t h = r->heads[m], lsb_rows = 0, n_vneed = 0;
		const int16_t *kd = run->kd + (size_t)h * L * c->d;
		const int16_t *vd = run->vd + (size_t)h * L * c->d;

		memset(vneed, 0, L + 1);
		for (i = 0; i < r->n_rows; i++) {
			uint32_t row = r->rows[i], n = 0, pos = c->q_start + row;
			const int16_t *q = run->qd +
				((size_t)h * c->q_rows + row) * c->d;
			double *o = r->out + ((size_t)h * c->q_rows + row) *
					     c->d;
			uint32_t sel[1100], n_sel;

			for (j = 0; j < r->n_tok; j++)
				if (!c->causal || r->tok[j] <= pos)
					vis[n++] = r->tok[j];
			ref_softmax(c, q, kd, vis, n, c->progressive, p);
			r->qk_scores += n;
			if (c->progressive) {
				double mx = 0;

				for (j = 0; j < n; j++)
					if (floor(p[j] * 32768 + 0.5) > mx)
						mx = floor(p[j] * 32768 + 0.5);
				if (mx < c->lsb_threshold) {
					ref_softmax(c, q, kd, vis, n, 0, p);
					r->refetch_rows++;
					r->qk_scores += n;
					if (n > lsb_rows)
						lsb_rows = n;
				}
			}
			for (j = 0; j < n; j++)
				r->tok_imp[vis[j]] += p[j] * 32768;
			if (c->value_keep && c->value_keep < n) {
				uint32_t pos_idx[1100];

				for (j = 0; j < n; j++) {
					keys[j] = floor(p[j] * 32768 + 0.5);
					pos_idx[j] = j;
				}
				sel_topk(keys, pos_idx, n, c->value_keep, sel);
				n_sel = c->value_keep;
			} else {
				for (j = 0; j < n; j++)
					sel[j] = j;
				n_sel = n;
			}
			r->pv_rows += n_sel;
			for (x = 0; x < c->d; x++) {
				double acc = 0;

				for (j = 0; j < n_sel; j++)
					acc += p[sel[j]] *
					       (vd[(size_t)vis[sel[j]] * c->d + x] *
						vs);
				if (acc > 32767 * os)
					acc = 32767 * os;
				if (acc < -32768 * os)
					acc = -32768 * os;
				o[x] = acc;
				r->head_imp[h] += fabs(acc) * 65536;
			}
			for (j = 0; j < n_sel; j++)
				vneed[vis[sel[j]]] = 1;
			r->computed[(size_t)h * c->q_rows + row] = 1;
		}
		for (j = 0; j < L; j++)
			n_vneed += vneed[j];
		r->bytes[SPE_PLANE_Q] += (uint64_t)r->n_rows * c->d * 2;
		r->bytes[SPE_PLANE_K_MSB] += (uint64_t)n_kvis * c->d * kbits / 8;
		r->bytes[SPE_PLANE_K_LSB] += (uint64_t)lsb_rows * c->d / 2;
		r->bytes[SPE_PLANE_V] += (uint64_t)(c->value_keep ? n_vneed :
						    n_kvis) * c->d * vbits / 8;
		r->bytes[SPE_PLANE_OUT] += (uint64_t)r->n_rows * c->d * 2;
	}

	if (c->head_keep) {
		double hk[64];

		for (i = 0; i < r->n_heads; i++)
			hk[i] = r->head_imp[r->heads[i]];
		sel_topk(hk, r->heads, r->n_heads, c->head_keep, r->head_kept);
		r->n_head_kept = c->head_keep;
	}
	if (c->with_tok_imp || c->token_keep)
		r->bytes[SPE_PLANE_TOK_IMP] = 2ull * L * 8;
	if (c->with_head_imp || c->head_keep)
		r->bytes[SPE_PLANE_HEAD_IMP] = 2ull * c->heads * 8;
	r->bytes[SPE_PLANE_TOK_ALIVE] = 2ull * c->n_tok_alive;
	r->bytes[SPE_PLANE_TOK_KEPT] = 2ull * c->token_keep;
	r->bytes[SPE_PLANE_PINNED] = 2ull * c->n_pinned;
	r->bytes[SPE_PLANE_HEAD_ALIVE] = 2ull * c->n_head_alive;
	r->bytes[SPE_PLANE_HEAD_KEPT] = 2ull * c->head_keep;
out:
	free(p);
	free(vis);
	free(vneed);
}

void ref_free(struct ref_result *r)
{
	free(r->out);
	free(r->computed);
	free(r->tok_imp);
	free(r->head_imp);
}
