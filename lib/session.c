// SPDX-License-Identifier: MIT
/*
 * libspatten: sessions. The cascade state of one sequence (token and head
 * importance, the tokens alive at each layer, the heads alive in the
 * current pass, the KV cache) lives in device buffers and host lists; one
 * call per layer builds the job, runs it and takes its kept lists.
 *
 * KV cache layout: per layer one buffer for each of K (MSB plane), the K
 * LSB plane (progressive) and V, each [n_kv_heads][max_context][row]
 * (so each stays within the board's largest buffer): allocated
 * once at capacity and read in place by version-3 jobs (head stride
 * max_context, row stride 1); a step writes only its new tokens' rows, at
 * slots len..len+n-1, so its cost does not grow with the context.
 */
#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
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

	spatten__enter();
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

	spatten__enter();
	if (!s || !n_layers || n_layers > SPATTEN_MAX_LAYERS)
		return spatten__err(-EINVAL, "n_layers %u: 1..%d (and a "
				    "schedule to fill)", n_layers,
				    SPATTEN_MAX_LAYERS);
	if (!ratio_ok(tok_start) || !ratio_ok(tok_end) ||
	    !ratio_ok(head_start) || !ratio_ok(head_end) ||
	    !ratio_ok(value_keep))
		return spatten__err(-EINVAL, "keep ratios tokens %g..%g, heads "
				    "%g..%g, values %g: each in (0, 1]",
				    (double)tok_start, (double)tok_end,
				    (double)head_start, (double)head_end,
				    (double)value_keep);
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
	spatten__enter();
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
	spatten__enter();
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

static int bits_ok(unsigned int b)
{
	return b == 16 || (b >= 4 && b <= 12 && !(b & 1));
}

/* A refused option: the message spatten_last_error() gives, -EINVAL. */
#define BAD(...)	spatten__err(-EINVAL, __VA_ARGS__)

static int check_shape(const struct spatten_session_opts *c)
{
	if (c->kind != SPATTEN_SESSION_ENCODER &&
	    c->kind != SPATTEN_SESSION_DECODER)
		return BAD("kind %u: SPATTEN_SESSION_ENCODER or "
			   "SPATTEN_SESSION_DECODER (there is no default)",
			   c->kind);
	if (!c->n_layers || c->n_layers > SPATTEN_MAX_LAYERS)
		return BAD("n_layers %u: 1..%d", c->n_layers,
			   SPATTEN_MAX_LAYERS);
	if (!c->n_heads || c->n_heads > UINT16_MAX)
		return BAD("n_heads %u: 1..65535", c->n_heads);
	if (!c->n_kv_heads || c->n_kv_heads > c->n_heads ||
	    c->n_heads % c->n_kv_heads)
		return BAD("n_kv_heads %u: a divisor of n_heads %u (1..%u)",
			   c->n_kv_heads, c->n_heads, c->n_heads);
	if (c->head_dim < 8 || c->head_dim > UINT16_MAX ||
	    (c->head_dim & (c->head_dim - 1)))
		return BAD("head_dim %u is not a power of two from 8 to 32768",
			   c->head_dim);
	if (!c->max_context || c->max_context > SESSION_MAX_CONTEXT)
		return BAD("max_context %u: 1..%u", c->max_context,
			   (unsigned int)SESSION_MAX_CONTEXT);
	if (c->max_step > c->max_context)
		return BAD("max_step %u is above max_context %u", c->max_step,
			   c->max_context);
	return 0;
}

static int check_params(const struct spatten_session_opts *c)
{
	uint32_t scale_bits;

	if (!(c->score_scale >= 0.0f && c->score_scale < INFINITY))
		return BAD("score_scale %g: a positive number, or 0 for "
			   "1/sqrt(head_dim)", (double)c->score_scale);
	if (c->rope_base == 1 || c->rope_base > 0x80000000u)
		return BAD("rope_base %u: 2..2^31 (10000, 500000, ...), or 0 "
			   "for no RoPE", c->rope_base);
	if (c->q_frac > 15 || c->k_frac > 15 || c->v_frac > 15 ||
	    c->out_frac > 15)
		return BAD("fractional bits q %u, k %u, v %u, out %u: each "
			   "0..15", c->q_frac, c->k_frac, c->v_frac,
			   c->out_frac);
	/* the device's rule, with the session's fractional bits */
	memcpy(&scale_bits, &c->score_scale, sizeof(scale_bits));
	/* scales from the data may take 15 + 15 fractional bits */
	if (!spatten_hw_params_ok(c->rope_base ? SPATTEN_DESC_F_ROPE : 0,
				  scale_bits, c->rope_base,
				  c->flags & SPATTEN_SESSION_FIXED_SCALES ?
				  c->q_frac + c->k_frac : 30))
		return BAD("score_scale %g is outside what the board's score "
			   "arithmetic holds with these fractional bits",
			   (double)c->score_scale);
	if (c->flags & ~(SPATTEN_SESSION_PROGRESSIVE |
			 SPATTEN_SESSION_FIXED_SCALES |
			 SPATTEN_SESSION_SATURATION_ERROR |
			 SPATTEN_SESSION_KV_PER_HEAD))
		return BAD("flags %#x: unknown bits %#x", c->flags,
			   c->flags & ~(SPATTEN_SESSION_PROGRESSIVE |
					SPATTEN_SESSION_FIXED_SCALES |
					SPATTEN_SESSION_SATURATION_ERROR |
					SPATTEN_SESSION_KV_PER_HEAD));
	if (!bits_ok(c->k_bits) || !bits_ok(c->v_bits))
		return BAD("k_bits %u, v_bits %u: each 16, or 4, 6, 8, 10, 12",
			   c->k_bits, c->v_bits);
	if ((c->flags & SPATTEN_SESSION_PROGRESSIVE) && c->k_bits == 16)
		return BAD("progressive keys take k_bits of 4..12 MSBs (+ 4 "
			   "LSBs), not 16");
	if (c->lsb_threshold > 32768)
		return BAD("lsb_threshold %u: 0..32768 (units of 2^-15)",
			   c->lsb_threshold);
	return 0;
}

static int check_schedule(const struct spatten_session_opts *c)
{
	unsigned int l, i;

	if (c->n_pinned > sizeof(c->pinned) / sizeof(c->pinned[0]))
		return BAD("n_pinned %u: at most %zu", c->n_pinned,
			   sizeof(c->pinned) / sizeof(c->pinned[0]));
	for (i = 1; i < c->n_pinned; i++)
		if (c->pinned[i] <= c->pinned[i - 1])
			return BAD("pinned tokens must be strictly ascending: "
				   "pinned[%u] = %u after %u", i, c->pinned[i],
				   c->pinned[i - 1]);
	for (l = 0; l < c->n_layers; l++) {
		if (!ratio_ok(c->schedule.tok_keep[l]))
			return BAD("schedule.tok_keep[%u] = %g: a ratio in "
				   "(0, 1]", l, (double)c->schedule.tok_keep[l]);
		if (!ratio_ok(c->schedule.head_keep[l]))
			return BAD("schedule.head_keep[%u] = %g: a ratio in "
				   "(0, 1]", l,
				   (double)c->schedule.head_keep[l]);
		if (!ratio_ok(c->schedule.value_keep[l]))
			return BAD("schedule.value_keep[%u] = %g: a ratio in "
				   "(0, 1]", l,
				   (double)c->schedule.value_keep[l]);
	}
	return 0;
}

static int check_config(const struct spatten_session_opts *c)
{
	int ret;

	ret = check_shape(c);
	if (!ret)
		ret = check_params(c);
	if (!ret)
		ret = check_schedule(c);
	return ret ? ret : spatten__kv_check(c);
}

/* The features a session of @c needs on the board. */
static uint32_t needed_features(const struct spatten_session_opts *c)
{
	uint32_t need = 0;
	unsigned int l;

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
	if (spatten__causal(c))
		need |= SPATTEN_FEAT_CAUSAL | SPATTEN_FEAT_GENERATION;
	if (c->n_kv_heads != c->n_heads)
		need |= SPATTEN_FEAT_GQA;
	if (c->rope_base)
		need |= SPATTEN_FEAT_ROPE;
	if (c->flags & SPATTEN_SESSION_KV_PER_HEAD)
		need |= SPATTEN_FEAT_IMP_PER_KV_HEAD;
	if (c->flags & SPATTEN_SESSION_PROGRESSIVE)
		need |= SPATTEN_FEAT_PROGRESSIVE;
	return need;
}

/* "16, 32, 64" of a head_dims mask, into @buf. */
static const char *dims_text(uint32_t dims, char *buf, size_t len)
{
	size_t at = 0;
	unsigned int n;

	buf[0] = 0;
	for (n = 0; n < 32 && at < len; n++)
		if (dims & (1u << n))
			at += (size_t)snprintf(buf + at, len - at, "%s%u",
					       at ? ", " : "", 1u << n);
	return buf;
}

#define UNSUPPORTED(...)	spatten__err(-EOPNOTSUPP, __VA_ARGS__)

static int check_limits(const struct spatten_info *info,
			const struct spatten_session_opts *c)
{
	int kf = spatten_fmt_of_bits(c->k_bits);
	int vf = spatten_fmt_of_bits(c->v_bits);
	char dims[64];

	if (c->n_heads > info->max_heads)
		return UNSUPPORTED("n_heads %u: this board has at most %u",
				   c->n_heads, info->max_heads);
	if (c->max_context > info->max_context)
		return UNSUPPORTED("max_context %u: this board's context is at "
				   "most %u", c->max_context,
				   info->max_context);
	if (!(info->head_dims & c->head_dim))
		return UNSUPPORTED("head_dim %u is not a size this board "
				   "supports (%s)", c->head_dim,
				   dims_text(info->head_dims, dims,
					     sizeof(dims)));
	if (!(info->formats & (1u << SPATTEN_FMT_S16)) ||
	    !(info->formats & (1u << kf)) || !(info->formats & (1u << vf)))
		return UNSUPPORTED("k_bits %u or v_bits %u: a format this "
				   "board lacks (formats mask %#x)", c->k_bits,
				   c->v_bits, info->formats);
	/* each plane of a layer's cache is one buffer */
	if ((uint64_t)c->max_context * c->n_kv_heads * c->head_dim *
	    (c->k_bits > c->v_bits ? c->k_bits : c->v_bits) / 8 >
	    info->max_bo_size)
		return spatten__err(-EFBIG, "a layer's KV cache plane (%u "
				    "tokens x %u KV heads x %u) is larger than "
				    "the board's largest buffer (%llu bytes): "
				    "lower max_context", c->max_context,
				    c->n_kv_heads, c->head_dim,
				    (unsigned long long)info->max_bo_size);
	return 0;
}

static int check_board(struct spatten_dev *dev,
		       const struct spatten_session_opts *c, uint32_t *features)
{
	struct spatten_info info;
	uint32_t need = needed_features(c), missing;
	int ret;

	ret = spatten_get_info(dev, &info);
	if (ret < 0)
		return ret;
	/* version-3 jobs: an API 5 driver (an API 4 one reports raw bits) */
	if (dev->api_version < 5)
		return UNSUPPORTED("sessions need the driver's interface 5 or "
				   "later (this one has %u)", dev->api_version);
	if ((c->flags & SPATTEN_SESSION_PROGRESSIVE) &&
	    !(info.splits & (1u << c->k_bits)))
		return UNSUPPORTED("progressive keys of %u MSBs: this board "
				   "splits keys as %#x (bit n: n MSBs)",
				   c->k_bits, info.splits);
	missing = need & ~info.features;
	if (missing)
		return UNSUPPORTED("the board lacks features %#x the options "
				   "need (SPATTEN_FEAT_* of spatten_hw.h; "
				   "spatten-info lists the board's)", missing);
	ret = check_limits(&info, c);
	if (ret < 0)
		return ret;
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
	s->kv = calloc(N * KV_PLANES, sizeof(*s->kv));
	s->ids = calloc(L, sizeof(uint32_t));
	s->order = calloc(L, sizeof(uint32_t));
	s->kfrac = malloc(N * c->n_kv_heads);
	s->vfrac = malloc(N * c->n_kv_heads);
	s->sat = calloc(N * 3, sizeof(uint64_t));
	s->qexp = calloc(H, sizeof(int));
	s->row = calloc(c->head_dim, sizeof(float));
	s->frac_save = calloc(2, c->n_kv_heads);
	if (!s->ids || !s->order || !s->kfrac || !s->vfrac || !s->sat ||
	    !s->qexp || !s->row || !s->frac_save || spatten__kv_alloc(s))
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
	uint64_t G = c->n_kv_heads, o = 0;
	unsigned int l;
	int ret, p;

	s->k_row = (uint32_t)(D * spatten_fmt_bits(s->k_fmt) / 8);
	s->lsb_row = s->prog ? (uint32_t)(D * SPATTEN_LSB_BITS / 8) : 0;
	s->v_row = (uint32_t)(D * spatten_fmt_bits(s->v_fmt) / 8);
	for (l = 0; l < c->n_layers; l++)
		for (p = 0; p < KV_PLANES; p++) {
			if (!spatten__kv_row(s, p))
				continue;
			ret = spatten_bo_alloc(s->dev,
					       G * L * spatten__kv_row(s, p),
					       &s->kv[l * KV_PLANES + p]);
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

	spatten__enter();
	if (!s)
		return;
	if (s->kv)
		for (l = 0; l < s->cfg.n_layers * KV_PLANES; l++)
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
	free(s->frac_save);
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
		return spatten__err(-EINVAL, "opts->size %u: fill the options "
				    "with spatten_session_opts_init() first",
				    user->size);
	for (i = sizeof(*o); i < user->size; i++)
		if (tail[i - sizeof(*o)])
			return spatten__err(-E2BIG, "opts->size %u: byte %zu, "
					    "past what libspatten %d.%d knows, "
					    "is not 0", user->size, i,
					    SPATTEN_LIB_VERSION_MAJOR,
					    SPATTEN_LIB_VERSION_MINOR);
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
	uint32_t features = 0;
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
		int held = spatten__err_held();

		spatten_session_destroy(s);
		spatten__err_hold(held);
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

	spatten__enter();
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

	spatten__enter();
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

	spatten__enter();
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
	spatten__enter();
	return s ? (int)s->len : -EINVAL;
}

SPATTEN_API int spatten_session_layer_stats(const struct spatten_session *s,
					    unsigned int layer,
					    struct spatten_layer_stats *last,
					    struct spatten_layer_stats *total)
{
	spatten__enter();
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
	spatten__enter();
	if (!s || layer >= s->cfg.n_layers)
		return -EINVAL;
	return copy_list(s->alive + (size_t)layer * s->cfg.max_context,
			 s->n_alive[layer], list, max);
}

SPATTEN_API int spatten_session_alive(const struct spatten_session *s,
				      unsigned int layer, uint32_t *list,
				      unsigned int max)
{
	uint32_t n;

	spatten__enter();
	if (!s || layer >= s->cfg.n_layers || (max && !list))
		return -EINVAL;
	n = s->n_alive[layer];
	if (max)
		memcpy(list, s->alive + (size_t)layer * s->cfg.max_context,
		       (n < max ? n : max) * sizeof(uint32_t));
	return (int)n;
}

SPATTEN_API int spatten_session_heads(const struct spatten_session *s,
				      unsigned int layer, uint16_t *list,
				      unsigned int max)
{
	spatten__enter();
	if (!s || layer >= s->cfg.n_layers)
		return -EINVAL;
	return copy_list(s->layer_heads + (size_t)layer * s->cfg.n_heads,
			 s->n_layer_heads[layer], list, max);
}
