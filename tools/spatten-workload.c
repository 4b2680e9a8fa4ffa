// SPDX-License-Identifier: MIT
/*
 * Model-shaped workloads through a libspatten session, checked against a
 * float reference of the same pruned computation (spatten-workload-ref.c).
 * See spatten-workload.h.
 *
 * Inputs (fixed seed, any element regenerated on demand from a hash, so
 * the reference needs no copy of the KV cache): per (layer, KV head) a
 * direction u (entries +-1); every token j has a salience s_j (heavy
 * tailed, shared by all layers, varied per head). Then
 *   q = 0.6 g + u,   k = 0.6 g + s_j u,   v uniform in [-1, 1]
 * (g standard normal-ish; a query head uses its KV head's u), so a few
 * tokens draw most of the attention, as in trained models, and cascade
 * pruning and a bounded cache have something to find.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "spatten-workload-priv.h"

const char *wl_prog = "spatten";
const char *wl_sim_flag = "--backend sim";

/*
 * The LLM shapes (published configurations, docs/tools.md) run the dense
 * schedule: for them the bounded cache (--kv-budget) is the first tool,
 * and cascade pruning is what --token-keep etc. add.
 */
static const struct wl_model models[] = {
	{ "gpt2-small", 12, 12, 64, 1, 192, 8, 0.9f, 0.2f, 1.0f, 0.75f, 0.2f,
	  12, 0, 1024 },
	{ "gpt2-medium", 24, 16, 64, 1, 192, 8, 0.9f, 0.2f, 1.0f, 0.625f, 0.3f,
	  16, 0, 1024 },
	{ "bert-base", 12, 12, 64, 0, 128, 0, 0.9f, 0.4f, 1.0f, 0.75f, 1.0f,
	  12, 0, 512 },
	{ "bert-large", 24, 16, 64, 0, 128, 0, 0.9f, 0.4f, 1.0f, 0.75f, 1.0f,
	  16, 0, 512 },
	{ "llama2-7b", 32, 32, 128, 1, 256, 8, 1.0f, 1.0f, 1.0f, 1.0f, 1.0f,
	  32, 10000, 4096 },
	{ "llama3-8b", 32, 32, 128, 1, 256, 8, 1.0f, 1.0f, 1.0f, 1.0f, 1.0f,
	  8, 500000, 131072 },
	{ "mistral-7b", 32, 32, 128, 1, 256, 8, 1.0f, 1.0f, 1.0f, 1.0f, 1.0f,
	  8, 1000000, 32768 },
};

#define N_MODELS	(sizeof(models) / sizeof(models[0]))

const struct wl_model *wl_model_find(const char *name)
{
	size_t i;

	for (i = 0; i < N_MODELS; i++)
		if (!strcmp(models[i].name, name))
			return &models[i];
	return NULL;
}

void wl_model_list(FILE *f)
{
	size_t i;

	for (i = 0; i < N_MODELS; i++) {
		const struct wl_model *m = &models[i];

		fprintf(f, "  %-12s %2u layers x %2u heads", m->name,
			m->layers, m->heads);
		if (m->kv_heads != m->heads)
			fprintf(f, " (%u KV)", m->kv_heads);
		fprintf(f, ", D=%u, %s, %u tokens", m->head_dim,
			m->causal ? "decoder" : "encoder", m->prompt);
		if (m->causal)
			fprintf(f, " + %u generated", m->steps);
		if (m->rope_base)
			fprintf(f, ",\n  %12s RoPE base %u, context %u, dense "
				"schedule", "", m->rope_base, m->context);
		fprintf(f, "\n");
	}
}

void wl_opts_default(struct wl_opts *o, const struct wl_model *m)
{
	memset(o, 0, sizeof(*o));
	o->m = *m;
	o->prompt = m->prompt;
	o->steps = m->steps;
	o->seed = 0x5ba77e4;
	o->backend = SPATTEN_BACKEND_DEFAULT;
	o->progressive = 1;
	o->k_bits = 8;
	o->v_bits = 12;
	o->threshold = 0.1f;
	o->dtype = SPATTEN_DTYPE_F32;
	o->check_rows = 4;
	o->check = 1;
}

uint64_t wl_tokens(const struct wl_opts *o)
{
	return (uint64_t)o->fill + o->prompt + o->steps;
}

uint32_t wl_passes(const struct wl_opts *o)
{
	return (o->prompt ? 1 : 0) + o->steps;
}

uint32_t wl_budget(const struct wl_opts *o)
{
	return o->kv_start + o->kv_important + o->kv_recent;
}

uint32_t wl_capacity(const struct wl_opts *o)
{
	uint64_t t = wl_tokens(o);

	if (!wl_budget(o))
		return (uint32_t)t;
	if (o->kv_capacity)
		return o->kv_capacity;
	/* the prompt is one pass: it must fit before anything is evicted */
	return o->prompt > wl_budget(o) ? o->prompt : wl_budget(o) + 1;
}

uint64_t wl_slot_bytes(const struct wl_opts *o)
{
	uint64_t D = o->m.head_dim;

	return o->m.kv_heads * (D * o->k_bits / 8 + (o->progressive ?
				D * 4 / 8 : 0) + D * o->v_bits / 8);
}

/* ---- inputs ------------------------------------------------------------- */

enum { KIND_U = 4, KIND_S, KIND_SH };

static uint64_t mix(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ull;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

static uint64_t h5(uint64_t seed, uint64_t a, uint64_t b, uint64_t c,
		   uint64_t d)
{
	return mix(mix(mix(mix(seed ^ a) ^ b) ^ c) ^ d);
}

static double unit(uint64_t h)
{
	return (double)(h >> 11) / 9007199254740992.0;	/* [0, 1) */
}

static double gauss(uint64_t h)
{
	/* sum of four uniforms, scaled to unit variance */
	double s = unit(h) + unit(mix(h + 1)) + unit(mix(h + 2)) +
		   unit(mix(h + 3));

	return (s - 2.0) * 1.7320508075688772;
}

static double salience(const struct wl_opts *o, uint32_t l, uint32_t g,
		       uint64_t j)
{
	double r = unit(h5(o->seed, KIND_S, 0, 0, j));
	double v = unit(h5(o->seed, KIND_SH, l, g, j));

	return 0.7 * r * r * r * r * r * r * (0.5 + v);
}

int wl_gen_init(struct wl_gen *g, const struct wl_opts *o)
{
	uint32_t G = o->m.kv_heads, D = o->m.head_dim, l, h, e;

	g->o = o;
	g->u = malloc((size_t)o->m.layers * G * D);
	if (!g->u)
		return -ENOMEM;
	for (l = 0; l < o->m.layers; l++)
		for (h = 0; h < G; h++)
			for (e = 0; e < D; e++)
				g->u[((size_t)l * G + h) * D + e] =
					(h5(o->seed, KIND_U, l, h, e) & 1) ?
					1 : -1;
	return 0;
}

void wl_gen_free(struct wl_gen *g)
{
	free(g->u);
	g->u = NULL;
}

void wl_gen_row(const struct wl_gen *g, int kind, uint32_t l, uint32_t h,
		uint64_t j, float *dst)
{
	const struct wl_opts *o = g->o;
	uint32_t D = o->m.head_dim, G = o->m.kv_heads, e;
	uint32_t kvh = kind == WL_Q ? h / (o->m.heads / G) : h;
	const int8_t *u = g->u + ((size_t)l * G + kvh) * D;
	uint64_t base = h5(o->seed, (uint64_t)kind, l, h, j);
	double s = kind == WL_K ? salience(o, l, h, j) : 0.0;

	for (e = 0; e < D; e++) {
		uint64_t x = mix(base + e);

		switch (kind) {
		case WL_Q:
			dst[e] = (float)(0.6 * gauss(x) + u[e]);
			break;
		case WL_K:
			dst[e] = (float)(0.6 * gauss(x) + s * u[e]);
			break;
		default:
			dst[e] = (float)(2.0 * unit(x) - 1.0);
		}
	}
}

/*
 * Q (unless @q is NULL), K and V of tokens pos0..pos0+n-1 at layer @l:
 * [heads][n][D] floats (spatten_session_layer()'s layout), or with @thd
 * [n][heads][D] (what PyTorch's projections produce).
 */
static void gen_pass(const struct wl_gen *g, uint32_t l, uint64_t pos0,
		     uint32_t n, int thd, float *q, float *k, float *v)
{
	uint32_t H = g->o->m.heads, G = g->o->m.kv_heads;
	uint32_t D = g->o->m.head_dim, h, i;

	for (i = 0; i < n; i++) {
		for (h = 0; q && h < H; h++)
			wl_gen_row(g, WL_Q, l, h, pos0 + i, q + ((thd ?
				   (size_t)i * H + h : (size_t)h * n + i) * D));
		for (h = 0; h < G; h++) {
			size_t at = (thd ? (size_t)i * G + h :
				     (size_t)h * n + i) * D;

			wl_gen_row(g, WL_K, l, h, pos0 + i, k + at);
			wl_gen_row(g, WL_V, l, h, pos0 + i, v + at);
		}
	}
}

/* ---- the session ------------------------------------------------------------ */

static int session_opts(const struct wl_opts *o,
			struct spatten_session_opts *c)
{
	const struct wl_model *m = &o->m;
	int f;

	spatten_session_opts_init(c, m->causal ? SPATTEN_SESSION_DECODER :
				  SPATTEN_SESSION_ENCODER, m->layers, m->heads,
				  m->kv_heads, m->head_dim, wl_capacity(o));
	/* the reference quantises with the same fractional bits */
	c->flags = SPATTEN_SESSION_FIXED_SCALES;
	if (!o->dense) {
		int ret = spatten_schedule_paper(&c->schedule, m->layers,
						 m->tok_start, m->tok_end,
						 m->head_start, m->head_end,
						 m->value_keep);
		if (ret < 0)
			return ret;
	}
	c->k_bits = (uint8_t)o->k_bits;
	if (o->progressive) {
		c->flags |= SPATTEN_SESSION_PROGRESSIVE;
		f = spatten_frac_for_bits(4.0f, o->k_bits + 4);
	} else {
		f = spatten_frac_for_bits(4.0f, o->k_bits);
	}
	if (f < 0)
		return f;
	c->k_frac = (uint8_t)f;
	c->v_bits = (uint8_t)o->v_bits;
	f = spatten_frac_for_bits(1.0f, o->v_bits);
	if (f < 0)
		return f;
	c->v_frac = (uint8_t)f;
	c->q_frac = 11;
	c->out_frac = 14;
	c->lsb_threshold = (uint16_t)lrintf(o->threshold * 32768.0f);
	c->topk_seed = (uint32_t)o->seed;
	c->rope_base = m->rope_base;
	c->kv_start = o->kv_start;
	c->kv_important = o->kv_important;
	c->kv_recent = o->kv_recent;
	if (o->kv_per_head)
		c->flags |= SPATTEN_SESSION_KV_PER_HEAD;
	/* the work buffer holds one pass's queries: not 128K of them */
	c->max_step = o->prompt > 1 ? o->prompt : 1;
	if (!m->causal) {	/* BERT: [CLS] is never pruned */
		c->n_pinned = 1;
		c->pinned[0] = 0;
	}
	return 0;
}

/* VmRSS of this process in KiB, 0 if unknown. */
static uint64_t rss_kib(void)
{
	char line[256];
	uint64_t kib = 0;
	FILE *f = fopen("/proc/self/status", "r");

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, "VmRSS:", 6)) {
			kib = strtoull(line + 6, NULL, 10);
			break;
		}
	fclose(f);
	return kib;
}

/* ---- the run ---------------------------------------------------------------- */

struct wl_run_ctx {
	const struct wl_opts *o;
	struct wl_result *r;
	struct spatten_session_opts c;
	struct spatten_dev *dev;
	struct spatten_session *s;
	struct wl_gen g;
	struct wl_ref x;
	float *q, *k, *v, *out;
	void *q16, *k16, *v16;	/* --dtype f16, bf16: the converted inputs */
	uint32_t passes, done;
	uint64_t seq;		/* tokens of the sequence so far */
};

static int run_alloc(struct wl_run_ctx *ru)
{
	const struct wl_model *m = &ru->o->m;
	size_t rows = ru->o->prompt > 1 ? ru->o->prompt : 1;
	size_t nq = rows * m->heads * m->head_dim;
	size_t nkv = rows * m->kv_heads * m->head_dim;
	int ret;

	ru->q = malloc(nq * sizeof(float));
	ru->out = malloc(nq * sizeof(float));
	ru->k = malloc(nkv * sizeof(float));
	ru->v = malloc(nkv * sizeof(float));
	if (ru->o->dtype != SPATTEN_DTYPE_F32) {
		ru->q16 = malloc(nq * 2);
		ru->k16 = malloc(nkv * 2);
		ru->v16 = malloc(nkv * 2);
		if (!ru->q16 || !ru->k16 || !ru->v16)
			return -ENOMEM;
	}
	if (!ru->q || !ru->out || !ru->k || !ru->v)
		return -ENOMEM;
	ret = wl_gen_init(&ru->g, ru->o);
	if (ret < 0 || !ru->o->check)
		return ret;
	return wl_ref_init(&ru->x, ru->o, &ru->c, &ru->g, ru->c.max_context);
}

static void run_free(struct wl_run_ctx *ru)
{
	free(ru->q);
	free(ru->k);
	free(ru->v);
	free(ru->out);
	free(ru->q16);
	free(ru->k16);
	free(ru->v16);
	wl_gen_free(&ru->g);
	wl_ref_free(&ru->x);
	spatten_session_destroy(ru->s);
	spatten_close(ru->dev);
}

/* The options, the board, the session. Return: 0 or -errno (said). */
static int run_open(struct wl_run_ctx *ru)
{
	int ret = session_opts(ru->o, &ru->c);
	char why[256];

	if (ret < 0) {
		fprintf(stderr, "%s: bad workload parameters: %s\n", wl_prog,
			strerror(-ret));
		return ret;
	}
	ret = spatten_open_backend(ru->o->path, ru->o->backend, &ru->dev);
	if (ret < 0) {
		wl_explain_open_error(wl_prog, ru->o->path, ret);
		return ret;
	}
	ru->r->backend = spatten_backend(ru->dev);
	ret = spatten_session_open(ru->dev, &ru->c, &ru->s);
	/* the library's reason, kept before any other call replaces it */
	snprintf(why, sizeof(why), "%s", ret < 0 ? wl_reason(ret) : "");
	if (ret == -EOPNOTSUPP)
		wl_explain_caps(ru->dev, ru->o, &ru->c);
	else if (ret < 0 && (ret != -EFBIG ||
			     !wl_explain_bo_size(ru->dev, ru->o, &ru->c)))
		fprintf(stderr, "%s: cannot set up the session: %s\n", wl_prog,
			why);
	ru->r->capacity = ru->c.max_context;
	return ret;
}

static int layer_failed(struct wl_run_ctx *ru, uint32_t l, uint32_t t,
			uint32_t n, int ret)
{
	struct spatten_layer_stats st;

	fprintf(stderr, "%s: layer %u of pass %u failed: %s", wl_prog, l, t,
		wl_reason(ret));
	spatten_session_layer_stats(ru->s, l, &st, NULL);
	if (ret == -EIO)
		fprintf(stderr, " (job status %u: %s)", st.status,
			spatten_status_str(st.status));
	if (ret == -EOPNOTSUPP && n > 1 && ru->seq)
		fprintf(stderr, " (a prompt after --fill is a chunk: the "
			"board has no chunked steps, SPATTEN_FEAT_CHUNKS)");
	fprintf(stderr, "\n");
	return ret;
}

/* The figures a pass leaves at layer @l: largest and last. */
static void note_layer(struct wl_run_ctx *ru, uint32_t l)
{
	struct spatten_layer_stats st;
	struct wl_result *r = ru->r;

	spatten_session_layer_stats(ru->s, l, &st, NULL);
	if (st.tokens_kept > r->kept_max[l])
		r->kept_max[l] = st.tokens_kept;
	if (st.kv_rows > r->ctx_max[l])
		r->ctx_max[l] = st.kv_rows;
	r->kept_last[l] = st.tokens_kept;
	r->heads_last[l] = st.heads_alive;
}

/* --rss-at: the resident set once the sequence reached each count. */
static void note_rss(struct wl_run_ctx *ru)
{
	struct wl_result *r = ru->r;

	while (r->n_rss < ru->o->n_rss && ru->seq >= ru->o->rss_at[r->n_rss]) {
		r->rss_tokens[r->n_rss] = ru->seq;
		r->rss_kib[r->n_rss] = rss_kib();
		r->n_rss++;
	}
}

/* @n floats at @src as @dtype (fp16 or bf16) at @dst. */
static int convert(void *dst, int dtype, const float *src, size_t n)
{
	return spatten_convert(dst, (enum spatten_dtype)dtype, src,
			       SPATTEN_DTYPE_F32, n);
}

/*
 * --dtype f16 or bf16: the inputs as PyTorch has them, [tokens][heads][D]
 * in the narrow type; the output in float, [heads][tokens][D], for the
 * reference.
 */
static int gen_narrow(struct wl_run_ctx *ru, uint32_t l, uint32_t n,
		      uint64_t pos0)
{
	const struct wl_model *m = &ru->o->m;
	int t = ru->o->dtype;
	size_t nq = (size_t)n * m->heads * m->head_dim;
	size_t nkv = (size_t)n * m->kv_heads * m->head_dim;
	int ret;

	gen_pass(&ru->g, l, pos0, n, 1, ru->q, ru->k, ru->v);
	ret = convert(ru->q16, t, ru->q, nq);
	if (!ret)
		ret = convert(ru->k16, t, ru->k, nkv);
	if (!ret)
		ret = convert(ru->v16, t, ru->v, nkv);
	return ret;
}

/* gen_narrow()'s inputs through spatten_session_attend(). */
static int attend_narrow(struct wl_run_ctx *ru, uint32_t l, uint32_t n)
{
	const struct wl_model *m = &ru->o->m;
	enum spatten_dtype t = (enum spatten_dtype)ru->o->dtype;
	struct spatten_view qv, kv, vv, ov;

	qv = spatten_view_thd(ru->q16, t, m->heads, m->head_dim);
	kv = spatten_view_thd(ru->k16, t, m->kv_heads, m->head_dim);
	vv = spatten_view_thd(ru->v16, t, m->kv_heads, m->head_dim);
	ov = spatten_view_htd(ru->out, SPATTEN_DTYPE_F32, n, m->head_dim);
	return spatten_session_attend(ru->s, l, n, &qv, &kv, &vv, &ov);
}

/* The synthetic inputs of one layer of a pass (not timed as attention). */
static int gen_layer(struct wl_run_ctx *ru, uint32_t l, uint32_t n,
		     uint64_t pos0)
{
	if (ru->o->dtype != SPATTEN_DTYPE_F32)
		return gen_narrow(ru, l, n, pos0);
	gen_pass(&ru->g, l, pos0, n, 0, ru->q, ru->k, ru->v);
	return 0;
}

/* One layer of a pass of @n new tokens, on gen_layer()'s inputs. */
static int run_layer(struct wl_run_ctx *ru, uint32_t l, uint32_t n)
{
	if (ru->o->dtype != SPATTEN_DTYPE_F32)
		return attend_narrow(ru, l, n);
	return spatten_session_layer(ru->s, l, n, ru->q, ru->k, ru->v,
				     ru->out);
}

/*
 * --fill: tokens per spatten_session_import() call, about 32 MiB of K and
 * V for every layer; with a budget what fits after an eviction.
 */
static uint32_t fill_chunk(const struct wl_run_ctx *ru)
{
	const struct wl_opts *o = ru->o;
	uint64_t tok = (uint64_t)o->m.layers * o->m.kv_heads * o->m.head_dim *
		       2 * (sizeof(float) + 2);
	uint64_t c = (32u << 20) / tok;

	if (wl_budget(o) && c > ru->c.max_context - wl_budget(o))
		c = ru->c.max_context - wl_budget(o);
	if (c > o->fill)
		c = o->fill;
	return c ? (uint32_t)c : 1;
}

struct fill_buf {
	float *k, *v;			/* [layers][chunk][G][D] */
	uint16_t *k16, *v16;		/* the same in --dtype */
	struct spatten_view *kv, *vv;	/* [layers] */
	size_t per_layer;		/* elements of a layer's chunk */
};

static void fill_buf_free(struct fill_buf *b)
{
	free(b->k);
	free(b->v);
	free(b->k16);
	free(b->v16);
	free(b->kv);
	free(b->vv);
}

static int fill_buf_alloc(const struct wl_opts *o, uint32_t chunk,
			  struct fill_buf *b)
{
	size_t n, L = o->m.layers;

	memset(b, 0, sizeof(*b));
	b->per_layer = (size_t)chunk * o->m.kv_heads * o->m.head_dim;
	n = L * b->per_layer;
	b->k = malloc(n * sizeof(float));
	b->v = malloc(n * sizeof(float));
	b->kv = calloc(L, sizeof(*b->kv));
	b->vv = calloc(L, sizeof(*b->vv));
	if (o->dtype != SPATTEN_DTYPE_F32) {
		b->k16 = malloc(n * 2);
		b->v16 = malloc(n * 2);
		if (!b->k16 || !b->v16)
			return -ENOMEM;
	}
	return b->k && b->v && b->kv && b->vv ? 0 : -ENOMEM;
}

/* The views of @n tokens of every layer, from token @t0. */
static int fill_views(struct wl_run_ctx *ru, struct fill_buf *b,
		      uint64_t t0, uint32_t n)
{
	const struct wl_model *m = &ru->o->m;
	enum spatten_dtype t = (enum spatten_dtype)ru->o->dtype;
	size_t cnt = (size_t)n * m->kv_heads * m->head_dim;
	uint32_t l;
	int ret;

	for (l = 0; l < m->layers; l++) {
		size_t at = l * b->per_layer;
		void *k = b->k + at, *v = b->v + at;

		gen_pass(&ru->g, l, t0, n, 1, NULL, b->k + at, b->v + at);
		if (t != SPATTEN_DTYPE_F32) {
			k = b->k16 + at;
			v = b->v16 + at;
			ret = convert(k, t, b->k + at, cnt);
			if (!ret)
				ret = convert(v, t, b->v + at, cnt);
			if (ret < 0)
				return ret;
		}
		b->kv[l] = spatten_view_thd(k, t, m->kv_heads, m->head_dim);
		b->vv[l] = spatten_view_thd(v, t, m->kv_heads, m->head_dim);
	}
	return 0;
}

/*
 * --fill N: N synthetic tokens of K and V imported into every layer's
 * cache without attention (spatten_session_import()), in chunks, so a
 * decode step at a long context starts in seconds, not after a prefill.
 */
static int run_fill(struct wl_run_ctx *ru)
{
	const struct wl_opts *o = ru->o;
	uint32_t chunk = fill_chunk(ru), n;
	int64_t t0 = spatten_now_ns();
	struct fill_buf b;
	uint64_t at;
	int ret;

	ret = fill_buf_alloc(o, chunk, &b);
	for (at = 0; !ret && at < o->fill; at += n) {
		n = o->fill - at < chunk ? (uint32_t)(o->fill - at) : chunk;
		ret = fill_views(ru, &b, at, n);
		if (!ret)
			ret = spatten_session_import(ru->s, n, b.kv, b.vv);
		if (!ret && o->progress)
			fprintf(stderr, "\r%s: fill %" PRIu64 "/%u tokens",
				o->m.name, at + n, o->fill);
	}
	fill_buf_free(&b);
	if (ret == -ENOMEM)
		fprintf(stderr, "%s: out of memory\n", wl_prog);
	else if (ret < 0)
		fprintf(stderr, "%s: --fill: importing the cache failed: %s\n",
			wl_prog, wl_reason(ret));
	ru->seq = o->fill;
	ru->r->fill_seconds = (double)(spatten_now_ns() - t0) / 1e9;
	if (!ret)
		note_rss(ru);
	return ret;
}

/* Pass @t: the prompt (@n tokens), a chunk or a generation step. */
static int run_pass(struct wl_run_ctx *ru, uint32_t t, uint32_t n)
{
	const struct wl_opts *o = ru->o;
	uint32_t L = o->m.layers, l;
	uint64_t pos0 = ru->seq;
	int ret;

	for (l = 0; l < L; l++) {
		int64_t t0, t1;

		/* the attention time is the session's alone */
		ret = gen_layer(ru, l, n, pos0);
		if (ret < 0)
			return layer_failed(ru, l, t, n, ret);
		t0 = spatten_now_ns();
		ret = run_layer(ru, l, n);
		if (ret < 0)
			return layer_failed(ru, l, t, n, ret);
		t1 = spatten_now_ns();
		ru->r->attend_seconds += (double)(t1 - t0) / 1e9;
		if (o->prompt && t)	/* a generation step after the prompt */
			ru->r->step_seconds += (double)(t1 - t0) / 1e9;
		note_layer(ru, l);
		if (o->check) {
			ret = wl_ref_check_layer(&ru->x, ru->s, l, pos0, n,
						 ru->out, ru->r);
			if (ret < 0)
				return ret;
			ru->r->check_seconds += (double)(spatten_now_ns() - t1) /
						1e9;
		}
		ru->done++;
		if (o->progress)
			fprintf(stderr, "\r%s: pass %u/%u layer %2u/%u "
				"(%3u%%)", o->m.name, t + 1, ru->passes, l + 1,
				L, (uint32_t)((uint64_t)ru->done * 100 /
					      ((uint64_t)ru->passes * L)));
	}
	ru->seq += n;
	note_rss(ru);
	return 0;
}

static int run_passes(struct wl_run_ctx *ru)
{
	const struct wl_opts *o = ru->o;
	uint32_t t = 0, i;
	int ret;

	ru->passes = wl_passes(o);
	if (o->fill) {
		ret = run_fill(ru);
		if (ret < 0)
			return ret;
	}
	if (o->prompt) {
		ret = run_pass(ru, t++, o->prompt);
		if (ret < 0)
			return ret;
	}
	for (i = 0; i < o->steps; i++) {
		ret = run_pass(ru, t++, 1);
		if (ret < 0)
			return ret;
	}
	return 0;
}

/* What the session counted: totals and saturations per layer. */
static void run_totals(struct wl_run_ctx *ru)
{
	struct wl_result *r = ru->r;
	uint32_t l;

	for (l = 0; l < ru->o->m.layers; l++) {
		spatten_session_layer_stats(ru->s, l, NULL, &r->layer[l]);
		spatten_session_saturations(ru->s, l, &r->sat[l][0],
					    &r->sat[l][1], &r->sat[l][2]);
	}
}

int wl_run(const struct wl_opts *o, struct wl_result *r)
{
	struct wl_run_ctx ru;
	int64_t t0 = spatten_now_ns();
	int ret;

	memset(r, 0, sizeof(*r));
	memset(&ru, 0, sizeof(ru));
	ru.o = o;
	ru.r = r;
	ret = run_open(&ru);
	if (!ret) {
		ret = run_alloc(&ru);
		if (ret == -ENOMEM)
			fprintf(stderr, "%s: out of memory\n", wl_prog);
	}
	if (!ret)
		ret = run_passes(&ru);
	if (o->progress)
		fprintf(stderr, "\r%60s\r", "");
	if (!ret)
		run_totals(&ru);
	r->seconds = (double)(spatten_now_ns() - t0) / 1e9;
	run_free(&ru);
	return ret;
}
