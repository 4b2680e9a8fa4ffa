// SPDX-License-Identifier: MIT
/*
 * libspatten: one layer of a session (spatten_session_attend(),
 * spatten_session_layer()): the candidates and keep counts of the cascade
 * rules, the version-3 job over the cache read in place, and the kept
 * lists, statistics and output taken from it.
 */
#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "session.h"

/* Lists of version-3 jobs: little-endian u32 entries. */
static void put_list(unsigned char *dst, const uint32_t *l, uint32_t n)
{
	uint32_t i;

	for (i = 0; i < n; i++) {
		uint32_t le = htole32(l[i]);

		memcpy(dst + 4 * i, &le, 4);
	}
}

static void get_list(uint32_t *l, const unsigned char *src, uint32_t n)
{
	uint32_t i;

	for (i = 0; i < n; i++) {
		uint32_t le;

		memcpy(&le, src + 4 * i, 4);
		l[i] = le32toh(le);
	}
}

/* Candidates of @layer: see docs (cascade) in libspatten.h. */
static uint32_t candidates(struct spatten_session *s, unsigned int layer,
			   int gen, uint32_t L)
{
	const uint32_t *prev = s->alive + (size_t)layer * s->cfg.max_context;
	uint32_t np = s->n_alive[layer], n = 0, i, j;

	if (!gen) {
		if (!layer) {
			for (i = 0; i < L; i++)
				s->cand[i] = i;
			return L;
		}
		memcpy(s->cand, s->kept, s->n_kept * sizeof(uint32_t));
		return s->n_kept;
	}
	/*
	 * generation: alive at this layer last step, restricted to what the
	 * layer above kept in this step, plus the new tokens
	 */
	if (!layer) {
		memcpy(s->cand, prev, np * sizeof(uint32_t));
		n = np;
	} else {
		for (i = 0, j = 0; i < np && j < s->n_kept;) {
			if (prev[i] == s->kept[j]) {
				s->cand[n++] = prev[i];
				i++;
				j++;
			} else if (prev[i] < s->kept[j]) {
				i++;
			} else {
				j++;
			}
		}
	}
	for (i = L - s->pass_new; i < L; i++)
		s->cand[n++] = i;
	return n;
}

/*
 * The output rows into @out: computed heads' rows (of kept tokens when
 * the rows were listed), dequantised (straight into a float32 view);
 * every other row 0.
 */
static void dequant_out(struct spatten_session *s,
			const struct spatten_view *out, int all_rows,
			uint32_t n_new, const struct spatten_pass_scales *ps)
{
	const struct spatten_session_opts *c = &s->cfg;
	const unsigned char *o = (unsigned char *)spatten_bo_map(s->work) +
				 s->off_out;
	uint32_t D = c->head_dim, H = c->n_heads, h, i, t;

	for (h = 0; h < H; h++)
		for (t = 0; t < n_new; t++)
			spatten__view_zero(out, h, t, D);
	for (h = 0; h < s->n_pass_heads; h++) {
		uint32_t m = s->pass_heads[h], n = all_rows ? n_new : s->n_kept;
		int out_frac = spatten__scales_out(s, ps, m);

		for (i = 0; i < n; i++) {
			float *row;

			t = all_rows ? i : s->kept[i];
			row = spatten__view_out_row(out, m, t, s->row);
			spatten_dequantize_s16(row, o + ((size_t)m * n_new +
							 t) * D * 2,
					       D, (unsigned int)out_frac);
			if (row == s->row)
				spatten__view_put(out, m, t, D, row);
		}
	}
}

static void add_stats(struct spatten_layer_stats *t,
		      const struct spatten_layer_stats *x)
{
	t->status = x->status;
	t->stage = x->stage;
	t->kv_rows += x->kv_rows;
	t->q_rows += x->q_rows;
	t->tokens_alive += x->tokens_alive;
	t->tokens_kept += x->tokens_kept;
	t->heads_alive += x->heads_alive;
	t->heads_kept += x->heads_kept;
	t->value_keep += x->value_keep;
	t->lsb_refetches += x->lsb_refetches;
	t->query_rows += x->query_rows;
	t->bytes_q += x->bytes_q;
	t->bytes_k_msb += x->bytes_k_msb;
	t->bytes_k_lsb += x->bytes_k_lsb;
	t->bytes_v += x->bytes_v;
	t->bytes_written += x->bytes_written;
	t->bytes_dense += x->bytes_dense;
	t->cycles += x->cycles;
}

static int begin_pass(struct spatten_session *s, unsigned int n_new)
{
	const struct spatten_session_opts *c = &s->cfg;
	uint32_t h;
	int ret;

	if (!n_new)
		return spatten__err(-EINVAL, "n_new is 0: a pass takes at "
				    "least one token");
	if (s->len && !spatten__causal(c))
		return spatten__err(-EINVAL, "an encoder takes one pass (its "
				    "%u tokens are in): reset the session for "
				    "another sequence", s->len);
	if (s->len && n_new > 1 && !s->chunks)
		return spatten__err(-EOPNOTSUPP, "%u new tokens after the "
				    "prompt: a chunk, which this board cannot "
				    "run (no SPATTEN_FEAT_CHUNKS); one token "
				    "per pass", n_new);
	if (n_new > c->max_context)
		return spatten__err(-ENOSPC, "%u new tokens: the cache holds "
				    "max_context %u", n_new, c->max_context);
	if (n_new > s->max_pass)
		return spatten__err(-EINVAL, "%u new tokens: a pass takes at "
				    "most max_step %u", n_new, s->max_pass);
	ret = spatten__kv_room(s, n_new);
	if (ret < 0)
		return spatten__err(ret, "%u new tokens do not fit: the cache "
				    "holds %u of max_context %u%s", n_new,
				    s->len, c->max_context,
				    spatten__kv_budget(c) ?
				    " even after the bounded cache makes room" :
				    " (a bounded cache, kv_start + "
				    "kv_important + kv_recent, evicts)");
	s->pass_L = s->len + n_new;
	s->pass_new = n_new;
	s->next_layer = 0;
	s->in_pass = 1;
	for (h = 0; h < c->n_heads; h++)
		s->pass_heads[h] = h;
	s->n_pass_heads = c->n_heads;
	s->n_kept = 0;
	return 0;
}

/*
 * Keep counts of a ratio r: floor(n r) tokens, ceil(n r) heads and V rows,
 * of the decimal r stands for. A float is within 2^-24 of its decimal
 * (relative), a ramp value within 2^-23 (its ends, then its own rounding),
 * so a product within n r 2^-23 of an integer is taken as that integer:
 * 10 * 0.199999988f keeps 2 tokens, 10 * 0.700000048f (a ramp's 0.7)
 * computes 7 heads. n r, its distance to the nearest integer and the slack
 * are exact in double (n < 2^16, r has 24 bits), so the counts are exactly
 * floor(n r (1 + 2^-23)) and ceil(n r (1 - 2^-23)): monotone in n and r.
 */
#define KEEP_SLACK	0x1p-23

/* The integer nearest to x >= 0 in *k: is x within the slack of it? */
static int keep_snap(double x, uint32_t *k)
{
	double d;

	*k = (uint32_t)(x + 0.5);
	d = x - *k;
	return d <= x * KEEP_SLACK && -d <= x * KEEP_SLACK;
}

static uint32_t keep_floor(uint32_t n, float r)
{
	double x = (double)n * r;
	uint32_t k;

	return keep_snap(x, &k) ? k : (uint32_t)x;
}

static uint32_t keep_ceil(uint32_t n, float r)
{
	double x = (double)n * r;
	uint32_t k;

	if (keep_snap(x, &k))
		return k;
	k = (uint32_t)x;
	return k < x ? k + 1 : k;
}

/* What a layer's job keeps (see spatten_session_layer()'s rules). */
struct layer_keep {
	uint32_t ncand;		/* candidates */
	uint32_t np;		/* pinned tokens below L */
	uint32_t tk;		/* tokens kept, 0: every candidate */
	uint32_t vk;		/* V rows per query row, 0: all */
	uint32_t hk;		/* heads for the next layer, 0: all */
};

/* Forced candidates: the pinned ones, plus the new tokens in generation. */
static uint32_t forced(const struct spatten_session *s, uint32_t np,
		       uint32_t ncand, int gen, uint32_t L)
{
	const struct spatten_session_opts *c = &s->cfg;
	uint32_t a = 0, b = 0, n = 0, first_new = L - s->pass_new;

	while (a < np && b < ncand) {
		if (c->pinned[a] == s->cand[b]) {
			if (!gen || s->cand[b] < first_new)
				n++;
			a++;
			b++;
		} else if (c->pinned[a] < s->cand[b]) {
			a++;
		} else {
			b++;
		}
	}
	return n + (gen ? s->pass_new : 0);
}

static void keep_counts(struct spatten_session *s, unsigned int layer,
			int gen, uint32_t L, struct layer_keep *k)
{
	const struct spatten_session_opts *c = &s->cfg;
	uint32_t i, uncond;
	float r;

	memset(k, 0, sizeof(*k));
	k->ncand = candidates(s, layer, gen, L);
	for (i = 0; i < c->n_pinned; i++)
		if (c->pinned[i] < L)
			k->np++;
	uncond = forced(s, k->np, k->ncand, gen, L);
	r = c->schedule.tok_keep[layer];
	if (r < 1.0f) {
		k->tk = keep_floor(L, r);
		if (k->tk < uncond)
			k->tk = uncond;
		if (!k->tk)
			k->tk = 1;
		if (k->tk >= k->ncand)
			k->tk = 0;
	}
	r = c->schedule.value_keep[layer];
	if (r < 1.0f) {
		k->vk = keep_ceil(k->tk ? k->tk : k->ncand, r);
		if (!k->vk)
			k->vk = 1;
		if (k->vk > L)
			k->vk = L;
	}
	/* heads: how many the next layer computes */
	if (layer + 1 < c->n_layers) {
		uint32_t t = keep_ceil(c->n_heads,
				       c->schedule.head_keep[layer + 1]);

		if (!t)
			t = 1;
		if (t < s->n_pass_heads)
			k->hk = t;
	}
}

/* A tensor reference into the work buffer. */
static struct spatten_tensor_ref work_ref(struct spatten_session *s,
					  uint64_t off)
{
	return (struct spatten_tensor_ref){ s->work, off };
}

/* The job's token and head lists, written into the work buffer. */
static void job_lists(struct spatten_session *s, struct spatten_attn_desc *d,
		      const struct layer_keep *k, uint32_t L)
{
	const struct spatten_session_opts *c = &s->cfg;
	unsigned char *w = spatten_bo_map(s->work);

	if (k->ncand != L) {
		/* the list excludes nothing when it is 0..L-1 */
		put_list(w + s->off_talive, s->cand, k->ncand);
		d->tok_alive = work_ref(s, s->off_talive);
		d->n_tok_alive = k->ncand;
	}
	if (k->tk) {
		d->token_keep = k->tk;
		d->tok_kept = work_ref(s, s->off_tkept);
		if (k->np) {
			put_list(w + s->off_pinned, c->pinned, k->np);
			d->pinned = work_ref(s, s->off_pinned);
			d->n_pinned = k->np;
		}
	}
	if (s->n_pass_heads != c->n_heads) {
		put_list(w + s->off_halive, s->pass_heads, s->n_pass_heads);
		d->head_alive = work_ref(s, s->off_halive);
		d->n_head_alive = s->n_pass_heads;
	}
	if (k->hk) {
		d->head_keep = k->hk;
		d->head_kept = work_ref(s, s->off_hkept);
	}
	d->value_keep = k->vk;
}

/* The layer's version-3 job: the cache at capacity, read in place. */
static int build_job(struct spatten_session *s, unsigned int layer, int gen,
		     const struct layer_keep *k,
		     const struct spatten_pass_scales *ps,
		     struct spatten_job3 *job)
{
	const struct spatten_session_opts *c = &s->cfg;
	uint32_t L = s->pass_L, n_new = s->pass_new;
	struct spatten_attn_desc d;
	struct spatten_attn_ext e;

	spatten_attn_desc_init(&d, NULL, c->n_heads, c->head_dim, n_new, L);
	d.stage = gen ? SPATTEN_STAGE_GENERATION : SPATTEN_STAGE_SUMMARIZATION;
	d.flags = (spatten__causal(c) ? SPATTEN_ATTN_CAUSAL : 0) |
		  (c->rope_base ? SPATTEN_ATTN_ROPE : 0) |
		  (s->prog ? SPATTEN_ATTN_PROGRESSIVE : 0) |
		  (s->per_head ? SPATTEN_ATTN_IMP_PER_KV_HEAD : 0);
	d.q_start = gen ? L - n_new : 0;
	spatten__scales_job(s, ps, (unsigned char *)spatten_bo_map(s->work) +
			    s->off_fracs, &d);
	d.k_fmt = s->k_fmt;
	d.v_fmt = s->v_fmt;
	d.q = work_ref(s, s->off_q);
	d.out = work_ref(s, s->off_out);
	d.k = (struct spatten_tensor_ref){ spatten__kv_bo(s, layer, KV_K), 0 };
	d.v = (struct spatten_tensor_ref){ spatten__kv_bo(s, layer, KV_V), 0 };
	if (s->prog) {
		d.k_lsb = (struct spatten_tensor_ref){
			spatten__kv_bo(s, layer, KV_K_LSB), 0 };
		d.lsb_threshold = c->lsb_threshold;
	}
	d.topk_seed = c->topk_seed;
	d.tok_imp = work_ref(s, s->off_timp);
	d.head_imp = work_ref(s, s->off_himp);
	job_lists(s, &d, k, L);
	d.user_data = layer;

	memset(&e, 0, sizeof(e));
	e.n_kv_heads = c->n_kv_heads;
	e.kv_head_stride = c->max_context;
	e.kv_row_stride = 1;
	e.rope_base = c->rope_base;
	e.score_scale = c->score_scale;
	if (d.flags & SPATTEN_ATTN_HEAD_FRACS)
		e.head_fracs = work_ref(s, s->off_fracs);
	return spatten_attn_prep3(job, &d, &e);
}

/* The layer's statistics, from its job's result. */
static void layer_stats(struct spatten_session *s, unsigned int layer,
			int gen, const struct layer_keep *k,
			const struct spatten_result *res)
{
	const struct spatten_session_opts *c = &s->cfg;
	struct spatten_layer_stats st;
	uint32_t L = s->pass_L, n_new = s->pass_new;
	int listed = k->tk || k->ncand != L;

	memset(&st, 0, sizeof(st));
	st.status = res->status;
	st.stage = gen ? SPATTEN_STAGE_GENERATION :
			 SPATTEN_STAGE_SUMMARIZATION;
	st.kv_rows = L;
	st.q_rows = n_new;
	st.tokens_alive = k->ncand;
	st.tokens_kept = k->tk ? k->tk : k->ncand;
	st.heads_alive = s->n_pass_heads;
	st.heads_kept = k->hk ? k->hk : s->n_pass_heads;
	st.value_keep = k->vk;
	st.lsb_refetches = res->lsb_refetches;
	st.bytes_q = res->bytes_q;
	st.bytes_k_msb = res->bytes_k_msb;
	st.bytes_k_lsb = res->bytes_k_lsb;
	st.bytes_v = res->bytes_v;
	st.bytes_written = res->bytes_written;
	st.cycles = res->cycles;
	/* causal or not, the last query sees every key */
	st.bytes_dense = spatten_tensor_bytes(c->n_heads, n_new,
					      c->head_dim) +
			 2 * spatten_tensor_bytes(c->n_kv_heads, L,
						  c->head_dim);
	st.query_rows = (uint64_t)s->n_pass_heads *
			(!gen && listed ? st.tokens_kept : n_new);
	s->last[layer] = st;
	add_stats(&s->total[layer], &st);
}

/* The kept tokens and heads become the alive sets; the output. */
static void take_results(struct spatten_session *s, unsigned int layer,
			 int gen, const struct layer_keep *k,
			 const struct spatten_pass_scales *ps,
			 const struct spatten_view *out)
{
	const struct spatten_session_opts *c = &s->cfg;
	unsigned char *w = spatten_bo_map(s->work);
	uint32_t H = c->n_heads;

	if (k->tk) {
		get_list(s->kept, w + s->off_tkept, k->tk);
		s->n_kept = k->tk;
	} else {
		memcpy(s->kept, s->cand, k->ncand * sizeof(uint32_t));
		s->n_kept = k->ncand;
	}
	memcpy(s->alive + (size_t)layer * c->max_context, s->kept,
	       s->n_kept * sizeof(uint32_t));
	s->n_alive[layer] = s->n_kept;
	memcpy(s->layer_heads + (size_t)layer * H, s->pass_heads,
	       s->n_pass_heads * sizeof(uint32_t));
	s->n_layer_heads[layer] = s->n_pass_heads;
	if (out)
		dequant_out(s, out, gen || !(k->tk || k->ncand != s->pass_L),
			    s->pass_new, ps);
	if (k->hk) {
		get_list(s->pass_heads, w + s->off_hkept, k->hk);
		s->n_pass_heads = k->hk;
	}
}

/* Layer 0 begins a pass; later layers follow it in order. */
static int layer_order(struct spatten_session *s, unsigned int layer,
		       unsigned int n_new)
{
	if (s->broken)
		return spatten__err(-EINVAL, "an earlier pass failed midway: "
				    "spatten_session_reset() the session");
	if (layer >= s->cfg.n_layers)
		return spatten__err(-EINVAL, "layer %u of a %u-layer session",
				    layer, s->cfg.n_layers);
	if (layer == 0)
		return begin_pass(s, n_new);
	if (!s->in_pass || layer != s->next_layer)
		return spatten__err(-EINVAL, "layer %u out of order: the pass "
				    "is at layer %u (layer 0 begins a pass)",
				    layer, s->in_pass ? s->next_layer : 0);
	if (n_new != s->pass_new)
		return spatten__err(-EINVAL, "%u new tokens at layer %u: the "
				    "pass began with %u", n_new, layer,
				    s->pass_new);
	return 0;
}

/* The new tokens' K and V into the cache, their Q into the work buffer. */
static int layer_inputs(struct spatten_session *s, unsigned int layer,
			const struct spatten_view *q,
			const struct spatten_view *k,
			const struct spatten_view *v,
			struct spatten_pass_scales *ps)
{
	uint32_t n_new = s->pass_new;
	long sat;
	int ret;

	/* scales first: a saturation error leaves everything as it was */
	ps->qexp = s->qexp;
	ret = spatten__scales_pass(s, layer, n_new, q, k, v, ps);
	if (ret < 0)
		return ret;
	s->broken = 1;	/* until the layer completes */
	ret = spatten__kv_append(s, layer, k, v, s->len, n_new);
	if (ret < 0)
		return ret;
	spatten__kv_new_tokens(s, layer, n_new);
	sat = spatten__scales_put_q(s, (unsigned char *)spatten_bo_map(s->work) +
				    s->off_q, q, n_new, ps);
	if (sat < 0)
		return (int)sat;
	s->sat[(size_t)layer * 3] += (uint64_t)sat;
	return 0;
}

SPATTEN_API int spatten_session_attend(struct spatten_session *s,
				       unsigned int layer, unsigned int n_new,
				       const struct spatten_view *q,
				       const struct spatten_view *k,
				       const struct spatten_view *v,
				       const struct spatten_view *out)
{
	struct spatten_pass_scales ps;
	struct spatten_result res;
	struct spatten_job3 job;
	struct layer_keep keep;
	int gen, ret, held;

	spatten__enter();
	if (!s)
		return spatten__err(-EINVAL, "the session is NULL");
	if (!spatten__view_ok(q) || !spatten__view_ok(k) ||
	    !spatten__view_ok(v) || (out && !spatten__view_ok(out)))
		return spatten__err(-EINVAL, "a view of %s is not usable: "
				    "NULL or misaligned data, an unknown "
				    "dtype, or rsvd not 0",
				    !spatten__view_ok(q) ? "q" :
				    !spatten__view_ok(k) ? "k" :
				    !spatten__view_ok(v) ? "v" : "out");
	ret = layer_order(s, layer, n_new);
	if (ret < 0)
		return ret;
	gen = s->len > 0;
	ret = layer_inputs(s, layer, q, k, v, &ps);
	if (ret < 0)
		return ret;
	keep_counts(s, layer, gen, s->pass_L, &keep);
	ret = build_job(s, layer, gen, &keep, &ps, &job);
	if (ret < 0)
		return ret;
	memset(&res, 0, sizeof(res));
	spatten__kv_imp_in(s, layer, s->pass_L);
	ret = spatten_run3(s->dev, &job, &res);
	held = spatten__err_held();	/* the statistics call the library */
	layer_stats(s, layer, gen, &keep, &res);
	spatten__err_hold(held);
	if (ret < 0)
		return ret;
	spatten__kv_imp_out(s, layer, s->pass_L);
	take_results(s, layer, gen, &keep, &ps, out);

	s->broken = 0;
	s->next_layer = layer + 1;
	if (s->next_layer == s->cfg.n_layers) {
		s->len = s->pass_L;
		s->seen += n_new;
		s->in_pass = 0;
	}
	return 0;
}

SPATTEN_API int spatten_session_layer(struct spatten_session *s,
				      unsigned int layer, unsigned int n_new,
				      const float *q, const float *k,
				      const float *v, float *out)
{
	struct spatten_view qv, kv, vv, ov;
	uint32_t D;

	spatten__enter();
	if (!s || !q || !k || !v)
		return -EINVAL;
	D = s->cfg.head_dim;
	qv = spatten_view_htd((void *)q, SPATTEN_DTYPE_F32, n_new, D);
	kv = spatten_view_htd((void *)k, SPATTEN_DTYPE_F32, n_new, D);
	vv = spatten_view_htd((void *)v, SPATTEN_DTYPE_F32, n_new, D);
	ov = spatten_view_htd(out, SPATTEN_DTYPE_F32, n_new, D);
	return spatten_session_attend(s, layer, n_new, &qv, &kv, &vv,
				      out ? &ov : NULL);
}

