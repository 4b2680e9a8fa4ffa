// SPDX-License-Identifier: MIT
/*
 * llm-bench: section 7 of docs/benchmarks.md (bench/report.sh): a
 * Llama-3-8B-shaped decode step (32 query heads, 8 KV heads, D = 128,
 * RoPE base 500000) at 4K, 32K and 128K tokens of context.
 *
 *   llm-bench [--quick] [--reps N] OUT
 *
 * Every job is one layer's generation job (q_rows 1, q_start = kv_rows -
 * 1, causal) in a version-3 descriptor over a head-major KV cache held at
 * capacity (kv_head_stride = capacity, kv_row_stride 1: the layout of a
 * libspatten session), decoded by spe_desc_decode() and run by spe_run()
 * over host memory (bench-util.c's struct hmem):
 *
 *   (a) dense fp16-equivalent: S16 K and V, nothing pruned;
 *   (b) the paper schedule of the stack's GPT-2-small setting
 *	(spatten_schedule_paper(32 layers, tokens 0.9 -> 0.2, heads
 *	1 -> 0.75, values 0.2), as traffic-bench and spatten-run use it),
 *	cascade token and head lists carried from layer to layer, progressive
 *	keys 8 MSB + 4 LSB bits (threshold 0.1), 12-bit values; per layer the
 *	last layer, whole model the 32 layers;
 *   (c) a bounded cache (the authors' SpAttenKVCache defaults: start 4 +
 *	important 128 + recent 128 = 260 slots, kv_rows 260 whatever the
 *	context), the same quantization, RoPE in the device at slot positions
 *	(the authors' "position shift"), token importance accumulated.
 *
 * Writes into OUT: llm-model.md (per layer, modeled cycles and DRAM bytes),
 * llm-model32.md (32 layers), llm-time.md (host engine time against the
 * fp32 OpenBLAS GQA baseline of llm-baseline.c), llm-mem.md (peak RSS growth
 * per job, in a forked child), llm-append.md and llm-append.dat (the cost
 * of appending one token in place vs copying the cache), llm-summary.md
 * (rows of the report's summary table).
 */
#define _GNU_SOURCE
#include <endian.h>
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "spatten_hw.h"
#include "spe.h"
#include "libspatten.h"
#include "bench-util.h"
#include "llm-baseline.h"

#define HEADS		32
#define KV_HEADS	8
#define GROUP		(HEADS / KV_HEADS)
#define D		128
#define LAYERS		32
#define ROPE_BASE	500000u
#define FRAC		12		/* S16 operands: |x| <= 2 */
#define QFRAC		10		/* 12-bit values and 8+4-bit keys: |x| <= 2 */
#define AMP		(2 << FRAC)
#define THRESHOLD	3277		/* the paper's 0.1 in 2^-15 */
#define K_MSB		8
#define V_BITS		12
#define KV_START	4
#define KV_IMPORTANT	128
#define KV_RECENT	128
#define BUDGET		(KV_START + KV_IMPORTANT + KV_RECENT)
#define MAX_SCRATCH	(256ull << 20)	/* the QEMU device's default */

/* the schedule of the stack's GPT-2-small setting (tools/spatten-workload.c) */
#define TOK_START	0.9f
#define TOK_END		0.2f
#define HEAD_START	1.0f
#define HEAD_END	0.75f
#define VAL_KEEP	0.2f

#define K16_ROW		(D * 2)
#define KMSB_ROW	(D * K_MSB / 8)
#define KLSB_ROW	(D / 2)
#define V12_ROW		(D * V_BITS / 8)

static const uint32_t full_ctx[] = { 4096, 32768, 131072 };
static const uint32_t quick_ctx[] = { 4096 };

/* ---- helpers ---------------------------------------------------------- */

static void *xalloc(size_t n)
{
	void *p = calloc(n ? n : 1, 1);

	if (!p) {
		fprintf(stderr, "llm-bench: out of memory (%zu bytes)\n", n);
		exit(2);
	}
	return p;
}

static FILE *xopen(const char *dir, const char *name)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	if (!f) {
		fprintf(stderr, "llm-bench: %s: %s\n", path, strerror(errno));
		exit(2);
	}
	return f;
}

static const char *ctx_name(uint32_t n)
{
	static char buf[4][16];
	static int i;

	i = (i + 1) % 4;
	if (n % 1024 == 0)
		snprintf(buf[i], sizeof(buf[i]), "%uK", n / 1024);
	else
		snprintf(buf[i], sizeof(buf[i]), "%u", n);
	return buf[i];
}

static const char *mib(double bytes)
{
	static char buf[8][32];
	static int i;

	i = (i + 1) % 8;
	if (bytes >= 1024.0 * 1024 * 1024)
		snprintf(buf[i], sizeof(buf[i]), "%.2f GiB",
			 bytes / (1024.0 * 1024 * 1024));
	else if (bytes >= 1024.0 * 1024)
		snprintf(buf[i], sizeof(buf[i]), "%.1f MiB",
			 bytes / (1024.0 * 1024));
	else
		snprintf(buf[i], sizeof(buf[i]), "%.1f KiB", bytes / 1024.0);
	return buf[i];
}

/* The library's keep counts (lib/session.c): floor for tokens, ceil for
 * heads and V rows, of the decimal a float ratio stands for. */
#define KEEP_SLACK	0x1p-23

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

/* ---- the operands: one KV cache at capacity, allocated once ------------ */

struct world {
	uint32_t cap;			/* slots per KV head */
	int16_t *q16, *k16, *v16, *out16;
	uint8_t *kmsb, *klsb, *v12;	/* packed by libspatten */
	uint8_t *bk_msb, *bk_lsb, *bv12;	/* the bounded cache, BUDGET slots */
	float *qf, *kf, *vf, *outf, *s;
	uint64_t *tok_imp0, *tok_imp, *head_imp0, *head_imp;
	uint32_t *tok_kept, *head_kept;
	uint32_t *order;		/* tokens by tok_imp0, descending */
	struct spe_caps caps;
};

static const uint64_t *cmp_imp;

static int cmp_by_imp(const void *a, const void *b)
{
	uint64_t x = cmp_imp[*(const uint32_t *)a];
	uint64_t y = cmp_imp[*(const uint32_t *)b];

	if (x != y)
		return x < y ? 1 : -1;
	return *(const uint32_t *)a < *(const uint32_t *)b ? -1 : 1;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

static void world_caps(struct spe_caps *caps, uint32_t max_context)
{
	memset(caps, 0, sizeof(*caps));
	caps->max_context = max_context < 131072 ? 131072 : max_context;
	caps->max_heads = 64;
	caps->head_dims = 0x1f0;	/* 16..256 */
	caps->formats = (1u << SPATTEN_FMT_NUM) - 1;
	caps->splits = (1u << 4) | (1u << 6) | (1u << 8) | (1u << 10) |
		       (1u << 12);
	caps->features = SPATTEN_FEAT_CAUSAL | SPATTEN_FEAT_GENERATION |
			 SPATTEN_FEAT_TOKEN_PRUNE | SPATTEN_FEAT_HEAD_PRUNE |
			 SPATTEN_FEAT_VALUE_PRUNE | SPATTEN_FEAT_PROGRESSIVE |
			 SPATTEN_FEAT_DESC_V3 | SPATTEN_FEAT_GQA |
			 SPATTEN_FEAT_KV_LAYOUT | SPATTEN_FEAT_ROPE;
	caps->dma_bits = 48;
	caps->model = spe_model_full();
	caps->max_scratch = MAX_SCRATCH;
}

static void world_init(struct world *w, uint32_t cap)
{
	size_t nkv = (size_t)KV_HEADS * cap * D, nq = (size_t)HEADS * D, i;
	uint64_t seed = 0x11a3a8b0u;
	uint32_t g;

	memset(w, 0, sizeof(*w));
	w->cap = cap;
	w->q16 = xalloc(nq * 2);
	w->out16 = xalloc(nq * 2);
	w->k16 = xalloc(nkv * 2);
	w->v16 = xalloc(nkv * 2);
	w->qf = xalloc(nq * sizeof(float));
	w->outf = xalloc(nq * sizeof(float));
	w->kf = xalloc(nkv * sizeof(float));
	w->vf = xalloc(nkv * sizeof(float));
	w->s = xalloc((size_t)GROUP * cap * sizeof(float));
	w->kmsb = xalloc(nkv * K_MSB / 8);
	w->klsb = xalloc(nkv / 2);
	w->v12 = xalloc(nkv * V_BITS / 8);
	w->bk_msb = xalloc((size_t)KV_HEADS * BUDGET * KMSB_ROW);
	w->bk_lsb = xalloc((size_t)KV_HEADS * BUDGET * KLSB_ROW);
	w->bv12 = xalloc((size_t)KV_HEADS * BUDGET * V12_ROW);
	w->tok_imp0 = xalloc((size_t)cap * 8);
	w->tok_imp = xalloc((size_t)cap * 8);
	w->tok_kept = xalloc((size_t)cap * 4);
	w->head_imp0 = xalloc(HEADS * 8);
	w->head_imp = xalloc(HEADS * 8);
	w->head_kept = xalloc(HEADS * 4);
	w->order = xalloc((size_t)cap * 4);
#define FILL(d16, df, n)						\
	for (i = 0; i < (n); i++) {					\
		int32_t r = (int32_t)(bench_prng(&seed) %		\
				      (2 * AMP + 1)) - AMP;		\
		d16[i] = (int16_t)(r > 32767 ? 32767 : r);		\
		df[i] = (float)d16[i] / (float)(1 << FRAC);		\
	}
	FILL(w->q16, w->qf, nq);
	FILL(w->k16, w->kf, nkv);
	FILL(w->v16, w->vf, nkv);
#undef FILL
	/* the quantized cache, packed by the library as a session packs it */
	for (g = 0; g < KV_HEADS; g++) {
		size_t at = (size_t)g * cap;

		if (spatten_pack_split(w->kmsb + at * KMSB_ROW,
				       w->klsb + at * KLSB_ROW, K_MSB,
				       w->kf + at * D, (size_t)cap * D,
				       QFRAC) < 0 ||
		    spatten_pack(w->v12 + at * V12_ROW, SPATTEN_FMT_S12,
				 w->vf + at * D, (size_t)cap * D, QFRAC) < 0 ||
		    spatten_pack_split(w->bk_msb + (size_t)g * BUDGET * KMSB_ROW,
				       w->bk_lsb + (size_t)g * BUDGET * KLSB_ROW,
				       K_MSB, w->kf + at * D,
				       (size_t)BUDGET * D, QFRAC) < 0 ||
		    spatten_pack(w->bv12 + (size_t)g * BUDGET * V12_ROW,
				 SPATTEN_FMT_S12, w->vf + at * D,
				 (size_t)BUDGET * D, QFRAC) < 0) {
			fprintf(stderr, "llm-bench: spatten_pack failed\n");
			exit(2);
		}
	}
	for (i = 0; i < cap; i++)
		w->tok_imp0[i] = bench_prng(&seed) >> 24;
	for (i = 0; i < HEADS; i++)
		w->head_imp0[i] = bench_prng(&seed) >> 24;
	world_caps(&w->caps, cap);
}

/* The order of the first @n tokens by importance (descending). */
static void world_order(struct world *w, uint32_t n)
{
	uint32_t i;

	for (i = 0; i < n; i++)
		w->order[i] = i;
	cmp_imp = w->tok_imp0;
	qsort(w->order, n, sizeof(*w->order), cmp_by_imp);
}

/* ---- jobs -------------------------------------------------------------- */

enum kind { DENSE, PAPER, BOUNDED };

struct ljob {
	enum kind kind;
	int layer;
	uint32_t kv_rows;
	uint32_t n_tok_alive, token_keep, value_keep;
	uint32_t n_head_alive, head_keep;
	uint16_t lsb_threshold;
	int no_rope;			/* BOUNDED: keys stored rotated */
	uint32_t *tok_alive, *head_alive;	/* owned */
	struct hmem mem;
	struct spe_job job;
};

static void set_buf(struct spatten_hw_buf *b, struct hmem *m,
		    enum spe_plane plane, void *data, size_t len)
{
	b->addr = htole64(0x100000000ull * (1 + (uint64_t)plane));
	b->len = htole32((uint32_t)len);
	b->offset = 0;
	b->flags = 0;
	m->plane[plane] = data;
	m->len[plane] = len;
}

/* Build and decode @j's descriptor over @w. */
static int ljob_build(struct world *w, struct ljob *j)
{
	struct spatten_hw_desc_v3 d;
	struct hmem *m = &j->mem;
	int q = j->kind != DENSE;
	uint32_t cap = j->kind == BOUNDED ? BUDGET : w->cap;
	size_t rows = (size_t)KV_HEADS * cap;
	uint16_t flags = SPATTEN_DESC_F_CAUSAL;

	memset(&d, 0, sizeof(d));
	memset(m, 0, sizeof(*m));
	if (q)
		flags |= SPATTEN_DESC_F_PROGRESSIVE;
	if (j->kind == BOUNDED && !j->no_rope)
		flags |= SPATTEN_DESC_F_ROPE;
	d.opcode = htole16(SPATTEN_OP_ATTENTION);
	d.desc_size = htole16(SPATTEN_DESC_V3_SIZE);
	d.version = SPATTEN_DESC_VERSION_V3;
	d.stage = SPATTEN_STAGE_GENERATION;
	d.flags = htole16(flags);
	d.n_heads = htole16(HEADS);
	d.n_kv_heads = htole16(KV_HEADS);
	d.head_dim = htole16(D);
	d.q_rows = htole32(1);
	d.kv_rows = htole32(j->kv_rows);
	d.q_start = htole32(j->kv_rows - 1);
	d.q_fmt = d.out_fmt = SPATTEN_FMT_S16;
	d.q_frac = d.out_frac = FRAC;
	d.k_fmt = q ? SPATTEN_FMT_S8 : SPATTEN_FMT_S16;
	d.k_frac = q ? QFRAC : FRAC;
	d.v_fmt = q ? SPATTEN_FMT_S12 : SPATTEN_FMT_S16;
	d.v_frac = q ? QFRAC : FRAC;
	d.n_tok_alive = htole32(j->n_tok_alive);
	d.token_keep = htole32(j->token_keep);
	d.value_keep = htole32(j->value_keep);
	d.n_head_alive = htole16((uint16_t)j->n_head_alive);
	d.head_keep = htole16((uint16_t)j->head_keep);
	d.lsb_threshold = htole16(q ? j->lsb_threshold : 0);
	d.topk_seed = htole32(0x5ba77e4);
	d.rope_base = htole32(flags & SPATTEN_DESC_F_ROPE ? ROPE_BASE : 0);
	d.kv_head_stride = htole32(cap);
	d.kv_row_stride = htole32(1);
	set_buf(&d.q, m, SPE_PLANE_Q, w->q16, HEADS * D * 2);
	set_buf(&d.out, m, SPE_PLANE_OUT, w->out16, HEADS * D * 2);
	if (j->kind == DENSE) {
		set_buf(&d.k, m, SPE_PLANE_K_MSB, w->k16, rows * K16_ROW);
		set_buf(&d.v, m, SPE_PLANE_V, w->v16, rows * K16_ROW);
	} else if (j->kind == PAPER) {
		set_buf(&d.k, m, SPE_PLANE_K_MSB, w->kmsb, rows * KMSB_ROW);
		set_buf(&d.k_lsb, m, SPE_PLANE_K_LSB, w->klsb, rows * KLSB_ROW);
		set_buf(&d.v, m, SPE_PLANE_V, w->v12, rows * V12_ROW);
	} else {
		set_buf(&d.k, m, SPE_PLANE_K_MSB, w->bk_msb, rows * KMSB_ROW);
		set_buf(&d.k_lsb, m, SPE_PLANE_K_LSB, w->bk_lsb,
			rows * KLSB_ROW);
		set_buf(&d.v, m, SPE_PLANE_V, w->bv12, rows * V12_ROW);
	}
	if (j->kind != DENSE)	/* importance accumulates (cascade, eviction) */
		set_buf(&d.tok_imp, m, SPE_PLANE_TOK_IMP, w->tok_imp,
			(size_t)j->kv_rows * 8);
	if (j->kind == PAPER) {
		set_buf(&d.head_imp, m, SPE_PLANE_HEAD_IMP, w->head_imp,
			HEADS * 8);
		if (j->n_tok_alive)
			set_buf(&d.tok_alive, m, SPE_PLANE_TOK_ALIVE,
				j->tok_alive, (size_t)j->n_tok_alive * 4);
		if (j->token_keep)
			set_buf(&d.tok_kept, m, SPE_PLANE_TOK_KEPT, w->tok_kept,
				(size_t)j->token_keep * 4);
		if (j->n_head_alive)
			set_buf(&d.head_alive, m, SPE_PLANE_HEAD_ALIVE,
				j->head_alive, (size_t)j->n_head_alive * 4);
		if (j->head_keep)
			set_buf(&d.head_kept, m, SPE_PLANE_HEAD_KEPT,
				w->head_kept, (size_t)j->head_keep * 4);
	}
	return spe_desc_decode(&d, sizeof(d), &w->caps, &j->job);
}

static void ljob_free(struct ljob *j)
{
	free(j->tok_alive);
	free(j->head_alive);
	j->tok_alive = j->head_alive = NULL;
}

/* The @n most important of the first @L tokens, the current one included,
 * ascending, little-endian u32 (w->order must be of @L). */
static uint32_t *top_tokens(const struct world *w, uint32_t L, uint32_t n)
{
	uint32_t *t = xalloc((size_t)n * 4), i, have = 0;

	for (i = 0; i < L && have < n - 1; i++)
		if (w->order[i] != L - 1)
			t[have++] = w->order[i];
	t[have++] = L - 1;
	qsort(t, have, 4, cmp_u32);
	for (i = 0; i < have; i++)
		t[i] = htole32(t[i]);
	return t;
}

static uint32_t *top_heads(const struct world *w, uint32_t n)
{
	uint32_t order[HEADS], *t = xalloc((size_t)n * 4), i;

	for (i = 0; i < HEADS; i++)
		order[i] = i;
	cmp_imp = w->head_imp0;
	qsort(order, HEADS, 4, cmp_by_imp);
	memcpy(t, order, (size_t)n * 4);
	qsort(t, n, 4, cmp_u32);
	for (i = 0; i < n; i++)
		t[i] = htole32(t[i]);
	return t;
}

/*
 * Layer @l of the paper schedule at context @L: the tokens and heads alive
 * are those the previous layers kept (the cascade: kept sets nest, chosen by
 * the same importance), this layer keeps its own counts.
 */
static void paper_layer(struct world *w, const struct spatten_schedule *sc,
			uint32_t L, int l, uint16_t thr, struct ljob *j)
{
	uint32_t alive = L, halive = HEADS, kept;
	int i;

	memset(j, 0, sizeof(*j));
	j->kind = PAPER;
	j->layer = l;
	j->kv_rows = L;
	j->lsb_threshold = thr;
	for (i = 0; i < l; i++) {
		if (sc->tok_keep[i] < 1.0f)
			alive = keep_floor(L, sc->tok_keep[i]);
		if (sc->head_keep[i] < 1.0f)
			halive = keep_ceil(HEADS, sc->head_keep[i]);
	}
	if (alive < 2)
		alive = 2;
	if (alive < L) {
		j->n_tok_alive = alive;
		j->tok_alive = top_tokens(w, L, alive);
	}
	kept = alive;
	if (sc->tok_keep[l] < 1.0f) {
		kept = keep_floor(L, sc->tok_keep[l]);
		if (kept < 2)
			kept = 2;
		if (kept > alive)
			kept = alive;
		j->token_keep = kept;
		if (sc->value_keep[l] < 1.0f)
			j->value_keep = keep_ceil(kept, sc->value_keep[l]);
	}
	if (halive < HEADS) {
		j->n_head_alive = halive;
		j->head_alive = top_heads(w, halive);
	}
	if (sc->head_keep[l] < 1.0f) {
		j->head_keep = keep_ceil(HEADS, sc->head_keep[l]);
		if (j->head_keep > halive)
			j->head_keep = halive;
	}
}

static int use_map = 1;

static double run_job(struct world *w, struct ljob *j, struct spe_result *res)
{
	struct spe_mem mem = { .read = hmem_read, .write = hmem_write,
			       .opaque = &j->mem,
			       .map = use_map ? hmem_map : NULL,
			       .map_gather = use_map ? hmem_map_gather : NULL };
	struct spe_result r;
	double t0, t1;
	int rc;

	if (j->kind != DENSE)
		memcpy(w->tok_imp, w->tok_imp0, (size_t)j->kv_rows * 8);
	memcpy(w->head_imp, w->head_imp0, HEADS * 8);
	t0 = bench_now_ms();
	rc = spe_run(&j->job, &w->caps, &mem, res ? res : &r);
	t1 = bench_now_ms();
	if (rc) {
		fprintf(stderr, "llm-bench: job (kind %d, layer %d, %u tokens) "
			"failed, status %d\n", j->kind, j->layer, j->kv_rows, rc);
		exit(1);
	}
	return t1 - t0;
}

static uint64_t all_bytes(const struct spe_stats *st)
{
	uint64_t b = 0;
	int p;

	for (p = 0; p < SPE_PLANE_COUNT; p++)
		b += st->bytes[p];
	return b;
}

static uint64_t kv_bytes(const struct spe_stats *st)
{
	return st->bytes[SPE_PLANE_K_MSB] + st->bytes[SPE_PLANE_K_LSB] +
	       st->bytes[SPE_PLANE_V];
}

/* ---- modeled cycles and DRAM bytes ------------------------------------- */

struct model {
	uint64_t cycles, cycles8, bytes, kv, refetch, rows, tokens, heads;
};

static void model_add(struct model *m, struct world *w, struct ljob *j)
{
	struct spe_model e = spe_model_eighth();
	struct spe_result res;

	run_job(w, j, &res);
	m->cycles += res.cycles;
	m->cycles8 += spe_cycles(&j->job, &res.stats, &e);
	m->bytes += all_bytes(&res.stats);
	m->kv += kv_bytes(&res.stats);
	m->refetch += res.stats.refetch_rows;
	m->rows += res.stats.query_rows;
	m->tokens += res.stats.tokens_kept;
	m->heads += res.stats.heads;
}

static void model_sum(struct model *m, const struct model *d)
{
	m->cycles += d->cycles;
	m->cycles8 += d->cycles8;
	m->bytes += d->bytes;
	m->kv += d->kv;
	m->refetch += d->refetch;
	m->rows += d->rows;
	m->tokens += d->tokens;
	m->heads += d->heads;
}

/* Same counts and lists (the lists follow from the counts here). */
static int same_job(const struct ljob *a, const struct ljob *b)
{
	return a->kind == b->kind && a->kv_rows == b->kv_rows &&
	       a->n_tok_alive == b->n_tok_alive &&
	       a->token_keep == b->token_keep &&
	       a->value_keep == b->value_keep &&
	       a->n_head_alive == b->n_head_alive &&
	       a->head_keep == b->head_keep &&
	       a->lsb_threshold == b->lsb_threshold;
}

/* ---- peak memory of a job, in a child ----------------------------------- */

static long status_kb(const char *key)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	size_t n = strlen(key);
	long v = -1;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, key, n) && line[n] == ':') {
			v = strtol(line + n + 1, NULL, 10);
			break;
		}
	fclose(f);
	return v;
}

/* VmHWM growth (KiB) over one run of @j in a forked child; -1 on failure. */
static long peak_growth_kb(struct world *w, struct ljob *j, int map)
{
	int fd[2];
	long v = -1;
	pid_t pid;

	if (pipe(fd))
		return -1;
	fflush(NULL);
	pid = fork();
	if (pid < 0)
		return -1;
	if (!pid) {
		FILE *f = fopen("/proc/self/clear_refs", "w");
		long h0, h1;

		close(fd[0]);
		/* warm the copied-on-write state first: only the job's own
		 * allocations should count */
		if (j->kind != DENSE)
			memcpy(w->tok_imp, w->tok_imp0, (size_t)j->kv_rows * 8);
		memcpy(w->head_imp, w->head_imp0, HEADS * 8);
		memset(w->out16, 0, HEADS * D * 2);
		memset(w->tok_kept, 0, (size_t)j->kv_rows * 4);
		memset(w->head_kept, 0, HEADS * 4);
		if (f) {	/* reset VmHWM to the current RSS */
			fputs("5", f);
			fclose(f);
		}
		use_map = map;
		h0 = status_kb("VmHWM");
		run_job(w, j, NULL);
		h1 = status_kb("VmHWM");
		v = h0 < 0 || h1 < 0 ? -1 : h1 - h0;
		if (write(fd[1], &v, sizeof(v)) != sizeof(v))
			_exit(1);
		_exit(0);
	}
	close(fd[1]);
	if (read(fd[0], &v, sizeof(v)) != sizeof(v))
		v = -1;
	close(fd[0]);
	waitpid(pid, NULL, 0);
	return v;
}

/* ---- host time --------------------------------------------------------- */

static double run_base(struct world *w, uint32_t L, int grouped)
{
	struct llm_base_shape sh = { HEADS, KV_HEADS, D, (int)L, w->cap };
	double t0 = bench_now_ms();

	if (grouped)
		llm_base_group(&sh, w->qf, w->kf, w->vf, w->outf, w->s);
	else
		llm_base_gemv(&sh, w->qf, w->kf, w->vf, w->outf, w->s);
	return bench_now_ms() - t0;
}

/* ---- append ------------------------------------------------------------- */

/* Append token @slot's K and V (from the float cache) in place: 8 KV heads
 * x 128 values, MSB/LSB split keys and 12-bit values, as the session's
 * put_rows() does: the rows of one token, nothing else moves. */
static void append_in_place(struct world *w, uint8_t *kmsb, uint8_t *klsb,
			    uint8_t *v12, size_t cap, uint32_t slot)
{
	uint32_t g;

	for (g = 0; g < KV_HEADS; g++) {
		size_t at = (size_t)g * cap + slot;
		const float *src = w->kf + ((size_t)g * w->cap + slot) * D;
		const float *vsrc = w->vf + ((size_t)g * w->cap + slot) * D;

		spatten_pack_split(kmsb + at * KMSB_ROW, klsb + at * KLSB_ROW,
				   K_MSB, src, D, QFRAC);
		spatten_pack(v12 + at * V12_ROW, SPATTEN_FMT_S12, vsrc, D,
			     QFRAC);
	}
}

/* The whole-cache copy an append by concatenation makes: the @n tokens of
 * every KV head of the three planes into a new cache of n + 1 slots, then
 * the new token. */
static void append_copy(struct world *w, uint8_t *dst, uint32_t n)
{
	size_t c = (size_t)n + 1;
	uint8_t *dmsb = dst, *dlsb = dmsb + KV_HEADS * c * KMSB_ROW;
	uint8_t *dv = dlsb + KV_HEADS * c * KLSB_ROW;
	uint32_t g;

	for (g = 0; g < KV_HEADS; g++) {
		size_t at = (size_t)g * w->cap;

		memcpy(dmsb + g * c * KMSB_ROW, w->kmsb + at * KMSB_ROW,
		       (size_t)n * KMSB_ROW);
		memcpy(dlsb + g * c * KLSB_ROW, w->klsb + at * KLSB_ROW,
		       (size_t)n * KLSB_ROW);
		memcpy(dv + g * c * V12_ROW, w->v12 + at * V12_ROW,
		       (size_t)n * V12_ROW);
	}
	append_in_place(w, dmsb, dlsb, dv, c, n - 1);
}

/* ---- main --------------------------------------------------------------- */

static void usage(void)
{
	fprintf(stderr, "usage: llm-bench [--quick] [--reps N] OUTDIR\n");
	exit(2);
}

#define MAX_CTX 3
#define N_T 7

int main(int argc, char **argv)
{
	const uint32_t *ctx = full_ctx;
	int nctx = 3, quick = 0, reps = 0, i, c, l, k;
	const char *out = NULL;
	struct spatten_schedule sc;
	struct world w;
	FILE *md, *md32, *tmd, *mmd, *amd, *adat, *sum;
	double t_start = bench_now_ms();

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--quick"))
			quick = 1;
		else if (!strcmp(argv[i], "--reps") && i + 1 < argc)
			reps = atoi(argv[++i]);
		else if (argv[i][0] != '-' && !out)
			out = argv[i];
		else
			usage();
	}
	if (!out)
		usage();
	if (quick) {
		ctx = quick_ctx;
		nctx = 1;
	}
	if (spatten_schedule_paper(&sc, LAYERS, TOK_START, TOK_END,
				   HEAD_START, HEAD_END, VAL_KEEP)) {
		fprintf(stderr, "llm-bench: spatten_schedule_paper failed\n");
		return 2;
	}
	world_init(&w, ctx[nctx - 1]);
	printf("llm-bench: operands of %u slots ready (%.1f s)\n", w.cap,
	       (bench_now_ms() - t_start) / 1e3);
	fflush(stdout);

	md = xopen(out, "llm-model.md");
	md32 = xopen(out, "llm-model32.md");
	tmd = xopen(out, "llm-time.md");
	mmd = xopen(out, "llm-mem.md");
	amd = xopen(out, "llm-append.md");
	adat = xopen(out, "llm-append.dat");
	sum = xopen(out, "llm-summary.md");

	fprintf(md, "| context | job | K+V bytes | DRAM bytes (all planes) | "
		"dense / this: bytes | modeled cycles, full chip | dense / this: "
		"cycles | us per step at 1 GHz | cycles, SpAtten 1/8 | tokens kept "
		"| heads | LSB refetch rate |\n"
		"|---|---|---|---|---|---|---|---|---|---|---|---|\n");
	fprintf(md32, "| context | job | DRAM bytes per token, 32 layers | dense / "
		"this: bytes | modeled cycles per token, 32 layers | dense / "
		"this: cycles | ms per token at 1 GHz | LSB refetch rate |\n"
		"|---|---|---|---|---|---|---|---|\n");
	fprintf(tmd, "| context | what | reps | ms, median (spread) | sgemv "
		"baseline time / this (p10..p90) | sgemm baseline time / this "
		"(p10..p90) |\n|---|---|---|---|---|---|\n");
	fprintf(mmd, "| context | job | peak RSS growth, no map hook (the QEMU "
		"device's reads) | peak RSS growth, zero-copy map (simulation "
		"backend) | KV cache of this layer in guest memory | KV cache, 32 "
		"layers |\n|---|---|---|---|---|---|\n");

	for (c = 0; c < nctx; c++) {
		uint32_t L = ctx[c];
		struct ljob a, b, c3, b0;
		struct model ma = { 0 }, mb = { 0 }, mc = { 0 }, mb0 = { 0 };
		struct model m32 = { 0 }, m32_0 = { 0 };
		int r, nr;

		world_order(&w, L);
		memset(&a, 0, sizeof(a));
		a.kind = DENSE;
		a.kv_rows = L;
		paper_layer(&w, &sc, L, LAYERS - 1, THRESHOLD, &b);
		paper_layer(&w, &sc, L, LAYERS - 1, 0, &b0);
		memset(&c3, 0, sizeof(c3));
		c3.kind = BOUNDED;
		c3.kv_rows = BUDGET;
		c3.lsb_threshold = THRESHOLD;
		if (ljob_build(&w, &a) || ljob_build(&w, &b) ||
		    ljob_build(&w, &b0) || ljob_build(&w, &c3)) {
			fprintf(stderr, "llm-bench: a %uK job was refused\n",
				L / 1024);
			return 1;
		}
		model_add(&ma, &w, &a);
		model_add(&mb, &w, &b);
		model_add(&mb0, &w, &b0);
		model_add(&mc, &w, &c3);
		/*
		 * The whole model: every layer of the schedule. A layer whose
		 * job equals the previous layer's (the unpruned layers 0-4:
		 * same lists, same counts, same operands) gives the same
		 * figures: it is run once and counted again.
		 */
		{
			struct model d = { 0 }, d0 = { 0 };
			struct ljob prev;

			memset(&prev, 0, sizeof(prev));
			for (l = 0; l < LAYERS; l++) {
				struct ljob j, j0;

				paper_layer(&w, &sc, L, l, THRESHOLD, &j);
				if (l && same_job(&j, &prev)) {
					model_sum(&m32, &d);
					model_sum(&m32_0, &d0);
					ljob_free(&j);
					continue;
				}
				paper_layer(&w, &sc, L, l, 0, &j0);
				if (ljob_build(&w, &j) || ljob_build(&w, &j0)) {
					fprintf(stderr, "llm-bench: layer %d "
						"refused\n", l);
					return 1;
				}
				memset(&d, 0, sizeof(d));
				memset(&d0, 0, sizeof(d0));
				model_add(&d, &w, &j);
				model_add(&d0, &w, &j0);
				model_sum(&m32, &d);
				model_sum(&m32_0, &d0);
				ljob_free(&prev);
				prev = j;
				j.tok_alive = j.head_alive = NULL;
				ljob_free(&j0);
			}
			ljob_free(&prev);
		}
		printf("llm-bench: %s modeled (%.1f s)\n", ctx_name(L),
		       (bench_now_ms() - t_start) / 1e3);
		fflush(stdout);
#define ROW(name, m) \
		fprintf(md, "| %s | %s | %llu | %llu | **%.2fx** | %llu | " \
			"**%.2fx** | %.1f | %llu | %llu | %llu | %.0f%% |\n", \
			ctx_name(L), name, (unsigned long long)(m).kv, \
			(unsigned long long)(m).bytes, \
			(double)ma.bytes / (double)(m).bytes, \
			(unsigned long long)(m).cycles, \
			(double)ma.cycles / (double)(m).cycles, \
			(double)(m).cycles / 1e3, \
			(unsigned long long)(m).cycles8, \
			(unsigned long long)(m).tokens, \
			(unsigned long long)(m).heads, \
			(m).rows ? 100.0 * (double)(m).refetch / (double)(m).rows : 0.0)
		ROW("(a) dense fp16 (S16 K, V)", ma);
		ROW("(b) paper schedule, layer 31 (thr. 0.1)", mb);
		ROW("(b) same, no LSB refetch (peaked rows)", mb0);
		ROW("(c) bounded cache 4+128+128 (same quant.)", mc);
#undef ROW
#define ROW32(name, nb, nc, m) \
		fprintf(md32, "| %s | %s | %s | **%.2fx** | %llu | **%.2fx** | " \
			"%.3f | %.0f%% |\n", ctx_name(L), name, \
			mib((double)(nb)), \
			32.0 * (double)ma.bytes / (double)(nb), \
			(unsigned long long)(nc), \
			32.0 * (double)ma.cycles / (double)(nc), \
			(double)(nc) / 1e6, \
			(m).rows ? 100.0 * (double)(m).refetch / (double)(m).rows : 0.0)
		ROW32("(a) dense fp16, 32 x layer", 32 * ma.bytes, 32 * ma.cycles, ma);
		ROW32("(b) paper schedule, layers 0..31 (thr. 0.1)", m32.bytes,
		      m32.cycles, m32);
		ROW32("(b) same, no LSB refetch", m32_0.bytes, m32_0.cycles,
		      m32_0);
		ROW32("(c) bounded cache, 32 x layer", 32 * mc.bytes,
		      32 * mc.cycles, mc);
#undef ROW32
		fprintf(sum, "| 7 | Llama-3-8B decode step at %s: DRAM bytes, "
			"dense fp16 / paper schedule, 32 layers (layer 31 alone)"
			" | - | %.2fx (%.2fx) |\n", ctx_name(L),
			32.0 * (double)ma.bytes / (double)m32.bytes,
			(double)ma.bytes / (double)mb.bytes);
		fprintf(sum, "| 7 | Llama-3-8B decode step at %s: modeled "
			"cycles, dense fp16 / paper schedule, 32 layers (layer 31"
			" alone) | - | %.2fx (%.2fx) |\n", ctx_name(L),
			32.0 * (double)ma.cycles / (double)m32.cycles,
			(double)ma.cycles / (double)mb.cycles);
		fprintf(sum, "| 7 | Llama-3-8B decode step at %s: dense fp16 / "
			"bounded cache 260, bytes and cycles | - | %.1fx, %.1fx |\n",
			ctx_name(L), (double)ma.bytes / (double)mc.bytes,
			(double)ma.cycles / (double)mc.cycles);

		/* peak memory of each job (forked children) */
		{
			struct ljob *js[3] = { &a, &b, &c3 };
			const char *nm[3] = { "(a) dense S16", "(b) paper, layer 31",
					      "(c) bounded 260" };
			double cache[3] = {
				(double)KV_HEADS * L * D * 4,
				(double)KV_HEADS * L * D * (K_MSB + 4 + V_BITS) / 8,
				(double)KV_HEADS * BUDGET * D * (K_MSB + 4 + V_BITS) / 8,
			};

			for (k = 0; k < 3; k++) {
				long g0 = peak_growth_kb(&w, js[k], 0);
				long g1 = peak_growth_kb(&w, js[k], 1);

				fprintf(mmd, "| %s | %s | %s | %s | %s | %s |\n",
					ctx_name(L), nm[k],
					g0 < 0 ? "?" : mib(g0 * 1024.0),
					g1 < 0 ? "?" : mib(g1 * 1024.0),
					mib(cache[k]), mib(32 * cache[k]));
				if (k == 0)
					fprintf(sum, "| 7 | Llama-3-8B decode step at %s: "
						"engine peak RSS growth per job "
						"(device reads), dense / paper / "
						"bounded | - | %s",
						ctx_name(L), g0 < 0 ? "?" :
						mib(g0 * 1024.0));
				else
					fprintf(sum, " / %s", g0 < 0 ? "?" :
						mib(g0 * 1024.0));
			}
			fprintf(sum, " |\n");
		}

		/* host time, interleaved */
		nr = reps ? reps : quick ? 3 : L <= 4096 ? 21 : L <= 32768 ? 11 : 9;
		{
			static const char *const tn[N_T] = {
				"fp32 baseline: sgemv per query head",
				"fp32 baseline: sgemm per KV head (4 query rows)",
				"engine (a) dense S16",
				"engine (b) paper schedule, layer 31 (thr. 0.1)",
				"engine (b) same, no LSB refetch",
				"engine (c) bounded 260, RoPE in the device",
				"engine (c) bounded 260, keys stored rotated",
			};
			struct ljob cn = c3;
			double *t = xalloc(sizeof(double) * (size_t)nr * N_T);
			double *rr = xalloc(sizeof(double) * (size_t)nr);
			struct bench_stat st, r1, r2;

			cn.no_rope = 1;
			if (ljob_build(&w, &cn)) {
				fprintf(stderr, "llm-bench: no-RoPE job refused\n");
				return 1;
			}
			run_base(&w, L, 0);
			run_base(&w, L, 1);
			run_job(&w, &a, NULL);
			run_job(&w, &b, NULL);
			for (r = 0; r < nr; r++) {
				t[0 * nr + r] = run_base(&w, L, 0);
				t[2 * nr + r] = run_job(&w, &a, NULL);
				t[1 * nr + r] = run_base(&w, L, 1);
				t[3 * nr + r] = run_job(&w, &b, NULL);
				t[4 * nr + r] = run_job(&w, &b0, NULL);
				t[5 * nr + r] = run_job(&w, &c3, NULL);
				t[6 * nr + r] = run_job(&w, &cn, NULL);
			}
			for (k = 0; k < N_T; k++) {
				for (r = 0; r < nr; r++)
					rr[r] = t[0 * nr + r] / t[k * nr + r];
				r1 = bench_stats(rr, nr);
				for (r = 0; r < nr; r++)
					rr[r] = t[1 * nr + r] / t[k * nr + r];
				r2 = bench_stats(rr, nr);
				if (k == 2)
					fprintf(sum, "| 7 | Llama-3-8B decode step at %s: "
						"host engine (a) dense S16 vs fp32 "
						"OpenBLAS GQA, baseline time / engine "
						"time (sgemm per KV head; sgemv per "
						"query head) | >= 1.0 | %.2f; %.2f, %s |\n",
						ctx_name(L), r2.med, r1.med,
						r2.med >= 1.0 ? "met" : "**missed**");
				st = bench_stats(t + (size_t)k * nr, nr);
				fprintf(tmd, "| %s | %s | %d | %.3f (%.0f%%) | "
					"%s%.2f%s (%.2f..%.2f) | %s%.2f%s (%.2f..%.2f) |\n",
					ctx_name(L), tn[k], nr, st.med,
					bench_spread_pct(st), k > 1 ? "**" : "",
					r1.med, k > 1 ? "**" : "", r1.lo, r1.hi,
					k > 1 ? "**" : "", r2.med, k > 1 ? "**" : "",
					r2.lo, r2.hi);
				printf("llm-bench: %s %-48s %9.3f ms\n", ctx_name(L),
				       tn[k], st.med);
			}
			fflush(stdout);
			free(t);
			free(rr);
		}
		ljob_free(&b);
		ljob_free(&b0);
	}

	/* append one token: in place vs copying the cache */
	{
		int rounds = quick ? 3 : 11, per = quick ? 51 : 201;
		size_t n_in = (size_t)rounds * per;
		size_t cbytes = (size_t)KV_HEADS * (w.cap + 1) *
				(KMSB_ROW + KLSB_ROW + V12_ROW);
		uint8_t *dst = xalloc(cbytes);
		double *tin = xalloc(sizeof(double) * n_in * MAX_CTX);
		double *tcp = xalloc(sizeof(double) * (size_t)rounds * MAX_CTX);
		double *tmp = xalloc(sizeof(double) * n_in);
		struct bench_stat sin[MAX_CTX], scp[MAX_CTX];
		int r, p;

		memset(dst, 1, cbytes);		/* fault it in */
		for (r = 0; r < rounds; r++)
			for (c = 0; c < nctx; c++) {
				uint32_t L = ctx[c];

				for (p = 0; p < per; p++) {
					double t0 = bench_now_ms();

					append_in_place(&w, w.kmsb, w.klsb, w.v12,
							w.cap, L - 1);
					tin[(size_t)c * n_in + (size_t)r * per + p] =
						(bench_now_ms() - t0) * 1e3;
				}
				{
					double t0 = bench_now_ms();

					append_copy(&w, dst, L);
					tcp[(size_t)c * rounds + r] =
						(bench_now_ms() - t0) * 1e3;
				}
			}
		fprintf(amd, "| context (tokens in the cache) | in-place append: "
			"us per token (p10..p90) | / at %s | copy-the-cache append: "
			"us per token (p10..p90) | / at %s | bytes copied | copy / "
			"in place |\n|---|---|---|---|---|---|---|\n",
			ctx_name(ctx[0]), ctx_name(ctx[0]));
		fprintf(adat, "# tokens in_place_us lo hi copy_us lo hi\n");
		for (c = 0; c < nctx; c++) {
			memcpy(tmp, tin + (size_t)c * n_in, n_in * sizeof(double));
			sin[c] = bench_stats(tmp, (int)n_in);
			scp[c] = bench_stats(tcp + (size_t)c * rounds, rounds);
		}
		for (c = 0; c < nctx; c++) {
			uint32_t L = ctx[c];

			fprintf(amd, "| %s | **%.2f** (%.2f..%.2f) | %.2f | %.0f "
				"(%.0f..%.0f) | %.1f | %s | %.0fx |\n", ctx_name(L),
				sin[c].med, sin[c].lo, sin[c].hi,
				sin[c].med / sin[0].med, scp[c].med, scp[c].lo,
				scp[c].hi, scp[c].med / scp[0].med,
				mib((double)KV_HEADS * L *
				    (KMSB_ROW + KLSB_ROW + V12_ROW)),
				scp[c].med / sin[c].med);
			fprintf(adat, "%u %.4f %.4f %.4f %.3f %.3f %.3f\n", L,
				sin[c].med, sin[c].lo, sin[c].hi, scp[c].med,
				scp[c].lo, scp[c].hi);
		}
		fprintf(sum, "| 7 | append one token (8 KV heads x 128, 8+4-bit "
			"K, 12-bit V), in place: us per token at %s", ctx_name(ctx[0]));
		for (c = 1; c < nctx; c++)
			fprintf(sum, " / %s", ctx_name(ctx[c]));
		fprintf(sum, " (copying the cache: ");
		for (c = 0; c < nctx; c++)
			fprintf(sum, "%s%.0f", c ? " / " : "", scp[c].med);
		fprintf(sum, ") | flat in the context | ");
		for (c = 0; c < nctx; c++)
			fprintf(sum, "%s%.2f", c ? " / " : "", sin[c].med);
		fprintf(sum, " (%s: %.2fx of %s) |\n", ctx_name(ctx[nctx - 1]),
			sin[nctx - 1].med / sin[0].med, ctx_name(ctx[0]));
		free(dst);
		free(tin);
		free(tcp);
		free(tmp);
	}
	fclose(md);
	fclose(md32);
	fclose(tmd);
	fclose(mmd);
	fclose(amd);
	fclose(adat);
	fclose(sum);
	printf("llm-bench: done in %.1f s\n", (bench_now_ms() - t_start) / 1e3);
	return 0;
}
