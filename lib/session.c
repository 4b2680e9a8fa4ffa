// SPDX-License-Identifier: MIT
/*
 * libspatten: sessions. The cascade state of one sequence (token and head
 * importance, the tokens alive at each layer, the heads alive in the
 * current pass, the KV cache) lives in device buffers and host lists; one
 * call per layer builds the job, runs it and takes its kept lists.
 *
 * KV cache layout: per layer one buffer holding K (MSB plane), the K LSB
 * plane (progressive) and V, each [n_heads][max_context][row]: allocated
 * once at capacity and read in place by version-3 jobs (head stride
 * max_context, row stride 1); a step writes only its new tokens' rows, at
 * slots len..len+n-1, so its cost does not grow with the context.
 */
#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "session.h"

static uint64_t up(uint64_t x)
{
	return (x + WORK_ALIGN - 1) & ~(uint64_t)(WORK_ALIGN - 1);
}

SPATTEN_API void spatten_schedule_dense(struct spatten_schedule *s)
{
	unsigned int l;

	if (!s)
		return;
	for (l = 0; l < SPATTEN_MAX_LAYERS; l++) {
		s->tok_keep[l] = 1.0f;
		s->head_keep[l] = 1.0f;
		s->value_keep[l] = 1.0f;
	}
}

static int ratio_ok(float r)
{
	return r > 0.0f && r <= 1.0f;
}

/* First pruned layer: ceil(frac * n), at most n - 1. */
static unsigned int first_pruned(unsigned int n, unsigned int pct)
{
	unsigned int f = (n * pct + 99) / 100;

	return f >= n ? n - 1 : f;
}

/*
 * Layers first..n-1 go linearly from @a to @b. In double, as
 * (a (m - k) + b k) / m, then rounded once to float: the ends are @a and
 * @b exactly, every value lies between them (never above 1, which a float
 * a + (b - a) t could reach) and within 2^-23 of the exact ramp of the
 * decimals the user meant, which keep_floor() and keep_ceil() allow for.
 */
static void ramp(float *r, unsigned int n, unsigned int first, float a,
		 float b)
{
	unsigned int m = n - 1 - first, k;

	for (k = 0; first + k < n; k++)
		r[first + k] = m ? (float)(((double)a * (m - k) +
					    (double)b * k) / m) : a;
}

SPATTEN_API int spatten_schedule_paper(struct spatten_schedule *s,
				       unsigned int n_layers,
				       float tok_start, float tok_end,
				       float head_start, float head_end,
				       float value_keep)
{
	unsigned int ft, fh, l;

	if (!s || !n_layers || n_layers > SPATTEN_MAX_LAYERS ||
	    !ratio_ok(tok_start) || !ratio_ok(tok_end) ||
	    !ratio_ok(head_start) || !ratio_ok(head_end) ||
	    !ratio_ok(value_keep))
		return -EINVAL;
	spatten_schedule_dense(s);
	if (n_layers == 1)
		return 0;
	ft = first_pruned(n_layers, 15);
	fh = first_pruned(n_layers, 30);
	ramp(s->tok_keep, n_layers, ft, tok_start, tok_end);
	ramp(s->head_keep, n_layers, fh, head_start, head_end);
	for (l = ft; l < n_layers; l++)
		s->value_keep[l] = value_keep;
	return 0;
}

SPATTEN_API void spatten_session_config_init(
	struct spatten_session_config *cfg, uint32_t n_layers,
	uint32_t n_heads, uint32_t head_dim, uint32_t max_context)
{
	if (!cfg)
		return;
	memset(cfg, 0, sizeof(*cfg));
	cfg->n_layers = n_layers;
	cfg->n_heads = n_heads;
	cfg->head_dim = head_dim;
	cfg->max_context = max_context;
	cfg->flags = SPATTEN_SESSION_CAUSAL;
	cfg->k_bits = 16;
	cfg->v_bits = 16;
	cfg->q_frac = 11;
	cfg->k_frac = 11;
	cfg->v_frac = 11;
	cfg->out_frac = 11;
	cfg->lsb_threshold = 3277;
	spatten_schedule_dense(&cfg->schedule);
}

SPATTEN_API void spatten_session_opts_init(struct spatten_session_opts *o,
					   uint32_t kind, uint32_t n_layers,
					   uint32_t n_heads,
					   uint32_t n_kv_heads,
					   uint32_t head_dim,
					   uint32_t max_context)
{
	if (!o)
		return;
	memset(o, 0, sizeof(*o));
	o->size = sizeof(*o);
	o->kind = kind;
	o->n_layers = n_layers;
	o->n_heads = n_heads;
	o->n_kv_heads = n_kv_heads;
	o->head_dim = head_dim;
	o->max_context = max_context;
	o->k_bits = 16;
	o->v_bits = 16;
	o->q_frac = 11;
	o->k_frac = 11;
	o->v_frac = 11;
	o->out_frac = 11;
	o->lsb_threshold = 3277;
	spatten_schedule_dense(&o->schedule);
}

/* The options a version-1.1 configuration stands for. */
static void opts_of_config(struct spatten_session_opts *o,
			   const struct spatten_session_config *c)
{
	unsigned int i;

	spatten_session_opts_init(o, c->flags & SPATTEN_SESSION_CAUSAL ?
				  SPATTEN_SESSION_DECODER :
				  SPATTEN_SESSION_ENCODER, c->n_layers,
				  c->n_heads, c->n_heads, c->head_dim,
				  c->max_context);
	/* a 1.1 configuration names its fractional bits */
	o->flags = (c->flags & ~SPATTEN_SESSION_CAUSAL) |
		   SPATTEN_SESSION_FIXED_SCALES;
	o->k_bits = c->k_bits;
	o->v_bits = c->v_bits;
	o->q_frac = c->q_frac;
	o->k_frac = c->k_frac;
	o->v_frac = c->v_frac;
	o->out_frac = c->out_frac;
	o->lsb_threshold = c->lsb_threshold;
	o->topk_seed = c->topk_seed;
	o->n_pinned = c->n_pinned;
	for (i = 0; i < c->n_pinned && i < SESSION_MAX_PINNED; i++)
		o->pinned[i] = c->pinned[i];
	o->schedule = c->schedule;
}

static int causal(const struct spatten_session_opts *c)
{
	return c->kind == SPATTEN_SESSION_DECODER;
}

static int bits_ok(unsigned int b)
{
	return b == 16 || (b >= 4 && b <= 12 && !(b & 1));
}

static int check_config(const struct spatten_session_opts *c)
{
	uint32_t scale_bits;
	unsigned int l, i;

	if (c->kind != SPATTEN_SESSION_ENCODER &&
	    c->kind != SPATTEN_SESSION_DECODER)
		return -EINVAL;
	if (!c->n_kv_heads || c->n_kv_heads > c->n_heads ||
	    c->n_heads % c->n_kv_heads)
		return -EINVAL;
	if (!(c->score_scale >= 0.0f && c->score_scale < INFINITY) ||
	    c->rope_base == 1 || c->rope_base > 0x80000000u)
		return -EINVAL;
	/* the device's rule, with the session's fractional bits */
	memcpy(&scale_bits, &c->score_scale, sizeof(scale_bits));
	/* scales from the data may take 15 + 15 fractional bits */
	if (!spatten_hw_params_ok(c->rope_base ? SPATTEN_DESC_F_ROPE : 0,
				  scale_bits, c->rope_base,
				  c->flags & SPATTEN_SESSION_FIXED_SCALES ?
				  c->q_frac + c->k_frac : 30))
		return -EINVAL;
	if (!c->n_layers || c->n_layers > SPATTEN_MAX_LAYERS || !c->n_heads ||
	    c->n_heads > UINT16_MAX || !c->head_dim ||
	    (c->head_dim & (c->head_dim - 1)) || c->head_dim < 8 ||
	    c->head_dim > UINT16_MAX || !c->max_context ||
	    c->max_context > SESSION_MAX_CONTEXT)
		return -EINVAL;
	if (c->flags & ~(SPATTEN_SESSION_PROGRESSIVE |
			 SPATTEN_SESSION_FIXED_SCALES |
			 SPATTEN_SESSION_SATURATION_ERROR |
			 SPATTEN_SESSION_KV_PER_HEAD))
		return -EINVAL;
	if (!bits_ok(c->k_bits) || !bits_ok(c->v_bits))
		return -EINVAL;
	if ((c->flags & SPATTEN_SESSION_PROGRESSIVE) && c->k_bits == 16)
		return -EINVAL;
	if (c->q_frac > 15 || c->k_frac > 15 || c->v_frac > 15 ||
	    c->out_frac > 15 || c->lsb_threshold > 32768)
		return -EINVAL;
	if (c->n_pinned > sizeof(c->pinned) / sizeof(c->pinned[0]))
		return -EINVAL;
	for (i = 1; i < c->n_pinned; i++)
		if (c->pinned[i] <= c->pinned[i - 1])
			return -EINVAL;
	for (l = 0; l < c->n_layers; l++)
		if (!ratio_ok(c->schedule.tok_keep[l]) ||
		    !ratio_ok(c->schedule.head_keep[l]) ||
		    !ratio_ok(c->schedule.value_keep[l]))
			return -EINVAL;
	if (c->max_step > c->max_context)
		return -EINVAL;
	return spatten__kv_check(c);
}

static int check_board(struct spatten_dev *dev,
		       const struct spatten_session_opts *c, uint32_t *features)
{
	struct spatten_info info;
	uint32_t need = 0;
	unsigned int l;
	int ret, kf, vf;

	ret = spatten_get_info(dev, &info);
	if (ret < 0)
		return ret;
	/* version-3 jobs: an API 5 driver (an API 4 one reports raw bits) */
	if (dev->api_version < 5)
		return -EOPNOTSUPP;
	for (l = 0; l < c->n_layers; l++) {
		if (c->schedule.tok_keep[l] < 1.0f)
			need |= SPATTEN_FEAT_TOKEN_PRUNE;
		if (c->schedule.head_keep[l] < 1.0f)
			need |= SPATTEN_FEAT_HEAD_PRUNE;
		if (c->schedule.value_keep[l] < 1.0f)
			need |= SPATTEN_FEAT_VALUE_PRUNE;
	}
	/* the cache is read in place: version-3 jobs with a KV layout */
	need |= SPATTEN_FEAT_DESC_V3 | SPATTEN_FEAT_KV_LAYOUT;
	if (causal(c))
		need |= SPATTEN_FEAT_CAUSAL | SPATTEN_FEAT_GENERATION;
	if (c->n_kv_heads != c->n_heads)
		need |= SPATTEN_FEAT_GQA;
	if (c->rope_base)
		need |= SPATTEN_FEAT_ROPE;
	if (c->flags & SPATTEN_SESSION_KV_PER_HEAD)
		need |= SPATTEN_FEAT_IMP_PER_KV_HEAD;
	if (c->flags & SPATTEN_SESSION_PROGRESSIVE) {
		need |= SPATTEN_FEAT_PROGRESSIVE;
		if (!(info.splits & (1u << c->k_bits)))
			return -EOPNOTSUPP;
	}
	kf = spatten_fmt_of_bits(c->k_bits);
	vf = spatten_fmt_of_bits(c->v_bits);
	if ((info.features & need) != need ||
	    c->n_heads > info.max_heads || c->max_context > info.max_context ||
	    !(info.head_dims & c->head_dim) ||
	    !(info.formats & (1u << SPATTEN_FMT_S16)) ||
	    !(info.formats & (1u << kf)) || !(info.formats & (1u << vf)))
		return -EOPNOTSUPP;
	*features = info.features;
	return 0;
}

static int alloc_state(struct spatten_session *s)
{
	const struct spatten_session_opts *c = &s->cfg;
	size_t L = c->max_context, H = c->n_heads, N = c->n_layers;

	s->alive = calloc(N * L, sizeof(uint32_t));
	s->n_alive = calloc(N, sizeof(uint32_t));
	s->cand = calloc(L, sizeof(uint32_t));
	s->kept = calloc(L, sizeof(uint32_t));
	s->pass_heads = calloc(H, sizeof(uint32_t));
	s->layer_heads = calloc(N * H, sizeof(uint32_t));
	s->n_layer_heads = calloc(N, sizeof(uint32_t));
	s->last = calloc(N, sizeof(*s->last));
	s->total = calloc(N, sizeof(*s->total));
	s->kv = calloc(N, sizeof(*s->kv));
	s->ids = calloc(L, sizeof(uint32_t));
	s->order = calloc(L, sizeof(uint32_t));
	s->kfrac = malloc(N * c->n_kv_heads);
	s->vfrac = malloc(N * c->n_kv_heads);
	s->sat = calloc(N * 3, sizeof(uint64_t));
	s->qexp = calloc(H, sizeof(int));
	s->row = calloc(c->head_dim, sizeof(float));
	if (!s->ids || !s->order || !s->kfrac || !s->vfrac || !s->sat ||
	    !s->qexp || !s->row || spatten__kv_alloc(s))
		return -ENOMEM;
	memset(s->kfrac, -1, N * c->n_kv_heads);
	memset(s->vfrac, -1, N * c->n_kv_heads);
	if (!s->alive || !s->n_alive || !s->cand || !s->kept ||
	    !s->pass_heads || !s->layer_heads || !s->n_layer_heads ||
	    !s->last || !s->total || !s->kv)
		return -ENOMEM;
	return 0;
}

static int alloc_buffers(struct spatten_session *s)
{
	const struct spatten_session_opts *c = &s->cfg;
	uint64_t H = c->n_heads, L = c->max_context, D = c->head_dim;
	uint64_t G = c->n_kv_heads, kvb, o = 0;
	unsigned int l;
	int ret;

	s->k_row = (uint32_t)(D * spatten_fmt_bits(s->k_fmt) / 8);
	s->lsb_row = s->prog ? (uint32_t)(D * SPATTEN_LSB_BITS / 8) : 0;
	s->v_row = (uint32_t)(D * spatten_fmt_bits(s->v_fmt) / 8);
	s->off_lsb = up(G * L * s->k_row);
	s->off_v = s->off_lsb + up(G * L * s->lsb_row);
	kvb = s->off_v + up(G * L * s->v_row);
	for (l = 0; l < c->n_layers; l++) {
		ret = spatten_bo_alloc(s->dev, kvb, &s->kv[l]);
		if (ret < 0)
			return ret;
	}
	/* queries and outputs of one pass */
	s->off_q = o;
	o += up(H * s->max_pass * D * 2);
	s->off_out = o;
	o += up(H * s->max_pass * D * 2);
	s->off_timp = o;
	o += up(spatten__kv_imp_bytes(s));
	s->off_himp = o;
	o += up(H * SPATTEN_IMP_BYTES);
	s->off_talive = o;
	o += up(L * SPATTEN_LIST_BYTES_V3);
	s->off_tkept = o;
	o += up(L * SPATTEN_LIST_BYTES_V3);
	s->off_pinned = o;
	o += up(SESSION_MAX_PINNED * SPATTEN_LIST_BYTES_V3);
	s->off_halive = o;
	o += up(H * SPATTEN_LIST_BYTES_V3);
	s->off_hkept = o;
	o += up(H * SPATTEN_LIST_BYTES_V3);
	s->off_fracs = o;
	o += up(2 * (H + c->n_kv_heads));
	return spatten_bo_alloc(s->dev, o, &s->work);
}

SPATTEN_API void spatten_session_destroy(struct spatten_session *s)
{
	unsigned int l;

	if (!s)
		return;
	if (s->kv)
		for (l = 0; l < s->cfg.n_layers; l++)
			spatten_bo_free(s->kv[l]);
	spatten_bo_free(s->work);
	free(s->kv);
	free(s->alive);
	free(s->n_alive);
	free(s->cand);
	free(s->kept);
	free(s->ids);
	free(s->himp);
	free(s->hids);
	free(s->order);
	free(s->kfrac);
	free(s->vfrac);
	free(s->sat);
	free(s->qexp);
	free(s->row);
	free(s->pass_heads);
	free(s->layer_heads);
	free(s->n_layer_heads);
	free(s->last);
	free(s->total);
	spatten__dev_put(s->dev);
	free(s);
}

/*
 * The caller's options in this library's struct: a shorter struct (an
 * older caller) is zero-extended, a longer one must be zero beyond.
 */
static int copy_opts(struct spatten_session_opts *o,
		     const struct spatten_session_opts *user)
{
	const unsigned char *tail = (const unsigned char *)user + sizeof(*o);
	size_t i;

	_Static_assert(sizeof(*o) >= SESSION_OPTS_SIZE0, "opts only grow");
	if (user->size < SESSION_OPTS_SIZE0 || user->size > SESSION_OPTS_SIZE_MAX)
		return -EINVAL;
	for (i = sizeof(*o); i < user->size; i++)
		if (tail[i - sizeof(*o)])
			return -E2BIG;
	memset(o, 0, sizeof(*o));
	memcpy(o, user, user->size < sizeof(*o) ? user->size : sizeof(*o));
	o->size = sizeof(*o);
	return 0;
}

static int session_open(struct spatten_dev *dev,
			const struct spatten_session_opts *cfg,
			struct spatten_session **sp)
{
	struct spatten_session *s;
	uint32_t features;
	int ret;

	ret = check_config(cfg);
	if (ret < 0)
		return ret;
	ret = check_board(dev, cfg, &features);
	if (ret < 0)
		return ret;

	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->dev = dev;
	spatten__dev_get(dev);
	s->cfg = *cfg;
	s->prog = !!(cfg->flags & SPATTEN_SESSION_PROGRESSIVE);
	s->k_fmt = (uint8_t)spatten_fmt_of_bits(cfg->k_bits);
	s->v_fmt = (uint8_t)spatten_fmt_of_bits(cfg->v_bits);
	s->max_pass = cfg->max_step ? cfg->max_step : cfg->max_context;
	s->chunks = !!(features & SPATTEN_FEAT_CHUNKS);
	ret = alloc_state(s);
	if (!ret)
		ret = alloc_buffers(s);
	if (ret < 0) {
		spatten_session_destroy(s);
		return ret;
	}
	*sp = s;
	return 0;
}

SPATTEN_API int spatten_session_open(struct spatten_dev *dev,
				     const struct spatten_session_opts *o,
				     struct spatten_session **sp)
{
	struct spatten_session_opts opts;
	int ret;

	if (!sp)
		return -EINVAL;
	*sp = NULL;
	if (!dev || !o)
		return -EINVAL;
	ret = copy_opts(&opts, o);
	return ret ? ret : session_open(dev, &opts, sp);
}

SPATTEN_API int spatten_session_create(struct spatten_dev *dev,
				       const struct spatten_session_config *cfg,
				       struct spatten_session **sp)
{
	struct spatten_session_opts opts;

	if (!sp)
		return -EINVAL;
	*sp = NULL;
	if (!dev || !cfg)
		return -EINVAL;
	/* the 1.1 rules the options no longer have (16-bit pinned list) */
	if (cfg->flags & ~SPATTEN_SESSION_FLAGS_ALL ||
	    cfg->n_pinned > sizeof(cfg->pinned) / sizeof(cfg->pinned[0]))
		return -EINVAL;
	opts_of_config(&opts, cfg);
	return session_open(dev, &opts, sp);
}

SPATTEN_API int spatten_session_reset(struct spatten_session *s)
{
	const struct spatten_session_opts *c;
	unsigned char *w;

	if (!s)
		return -EINVAL;
	c = &s->cfg;
	w = spatten_bo_map(s->work);
	memset(w + s->off_timp, 0, spatten__kv_imp_bytes(s));
	spatten__kv_reset(s);
	memset(w + s->off_himp, 0, (size_t)c->n_heads * SPATTEN_IMP_BYTES);
	memset(s->n_alive, 0, c->n_layers * sizeof(*s->n_alive));
	memset(s->n_layer_heads, 0, c->n_layers * sizeof(uint32_t));
	memset(s->last, 0, c->n_layers * sizeof(*s->last));
	memset(s->total, 0, c->n_layers * sizeof(*s->total));
	s->len = 0;
	s->seen = 0;
	memset(s->kfrac, -1, (size_t)c->n_layers * c->n_kv_heads);
	memset(s->vfrac, -1, (size_t)c->n_layers * c->n_kv_heads);
	memset(s->sat, 0, (size_t)c->n_layers * 3 * sizeof(uint64_t));
	s->in_pass = 0;
	s->broken = 0;
	s->next_layer = 0;
	return 0;
}

SPATTEN_API int spatten_session_context(const struct spatten_session *s)
{
	return s ? (int)s->len : -EINVAL;
}

/* ---- One layer ----------------------------------------------------------- */

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
 * the rows were listed), dequantised; every other row 0.
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
			t = all_rows ? i : s->kept[i];
			spatten_dequantize_s16(s->row, o + ((size_t)m * n_new +
							   t) * D * 2,
					       D, (unsigned int)out_frac);
			spatten__view_put(out, m, t, D, s->row);
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

	if (!n_new || (s->len && !causal(c)))
		return -EINVAL;
	if (s->len && n_new > 1 && !s->chunks)
		return -EOPNOTSUPP;
	ret = spatten__kv_room(s, n_new);
	if (ret < 0)
		return ret;
	if (n_new > s->max_pass)
		return -EINVAL;
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
	d.flags = (causal(c) ? SPATTEN_ATTN_CAUSAL : 0) |
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
	d.k = (struct spatten_tensor_ref){ s->kv[layer], 0 };
	d.v = (struct spatten_tensor_ref){ s->kv[layer], s->off_v };
	if (s->prog) {
		d.k_lsb = (struct spatten_tensor_ref){ s->kv[layer],
						       s->off_lsb };
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
	if (s->broken || layer >= s->cfg.n_layers)
		return -EINVAL;
	if (layer == 0)
		return begin_pass(s, n_new);
	if (!s->in_pass || layer != s->next_layer || n_new != s->pass_new)
		return -EINVAL;
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
	int gen, ret;

	if (!s || !spatten__view_ok(q) || !spatten__view_ok(k) ||
	    !spatten__view_ok(v) || (out && !spatten__view_ok(out)))
		return -EINVAL;
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
	layer_stats(s, layer, gen, &keep, &res);
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

SPATTEN_API int spatten_session_layer_stats(const struct spatten_session *s,
					    unsigned int layer,
					    struct spatten_layer_stats *last,
					    struct spatten_layer_stats *total)
{
	if (!s || layer >= s->cfg.n_layers)
		return -EINVAL;
	if (last)
		*last = s->last[layer];
	if (total)
		*total = s->total[layer];
	return 0;
}

/* A 32-bit list to the API's 16-bit one: -EOVERFLOW past 65535. */
static int copy_list(const uint32_t *src, uint32_t n, uint16_t *list,
		     unsigned int max)
{
	uint32_t i;

	if (max && !list)
		return -EINVAL;
	for (i = 0; i < n && i < max; i++) {
		if (src[i] > UINT16_MAX)
			return -EOVERFLOW;
		list[i] = (uint16_t)src[i];
	}
	return (int)n;
}

SPATTEN_API int spatten_session_tokens(const struct spatten_session *s,
				       unsigned int layer, uint16_t *list,
				       unsigned int max)
{
	if (!s || layer >= s->cfg.n_layers)
		return -EINVAL;
	return copy_list(s->alive + (size_t)layer * s->cfg.max_context,
			 s->n_alive[layer], list, max);
}

SPATTEN_API int spatten_session_heads(const struct spatten_session *s,
				      unsigned int layer, uint16_t *list,
				      unsigned int max)
{
	if (!s || layer >= s->cfg.n_layers)
		return -EINVAL;
	return copy_list(s->layer_heads + (size_t)layer * s->cfg.n_heads,
			 s->n_layer_heads[layer], list, max);
}
