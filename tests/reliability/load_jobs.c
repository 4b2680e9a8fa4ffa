// SPDX-License-Identifier: MIT
/*
 * The jobs of the load campaign (load_jobs.h): version 2 jobs of mixed
 * shapes, formats and pruning, and, on boards with DRM_SPATTEN_FEAT_DESC_V3,
 * version 3 jobs (a third of them) with grouped-query heads, KV layouts
 * (packed, head-major with capacity, token-major, paged with a random
 * block table over a pool of blocks in the slot), RoPE (slot positions or
 * a position list), a score scale, the same pruning with u32 lists, now
 * and then a paged context above 65535 rows whose table reuses a few
 * blocks, and now and then a block outside the buffer (ERR_BLOCK).
 */
#include <math.h>

#include "load_jobs.h"

#define MAX_H3		8		/* heads of version 3 jobs */
#define KV_OFF_MAX	256		/* K/V/K-LSB offset in their region */
#define LONG_KV		65536		/* long jobs: from here... */
#define LONG_KV_MAX	100000		/* ...to here (or max_context) */

/* ---- filling ----------------------------------------------------------- */

static void fill_rand(uint64_t *r, uint8_t *p, size_t n, int bits)
{
	size_t i;

	if (bits == 16) {
		for (i = 0; i + 1 < n; i += 2) {
			int16_t v = (int16_t)((int)rndn(r, 8192) - 4096);

			memcpy(p + i, &v, 2);
		}
	} else {
		for (i = 0; i < n; i++)
			p[i] = (uint8_t)rnd64(r);
	}
}

static const int fbits[] = { 16, 4, 6, 8, 10, 12 };

/* A random ascending subset of 0..n-1 of size k into @out. */
static void subset(uint64_t *r, uint32_t *out, unsigned n, unsigned k)
{
	unsigned i, m = 0;

	for (i = 0; i < n && m < k; i++)
		if (rndn(r, n - i) < k - m)
			out[m++] = i;
}

/*
 * Pruning of a job, whatever its version: counts, and the lists the
 * version stores as u16 or u32.
 */
struct prune {
	bool tok_imp, head_imp;
	uint32_t n_tok_alive, token_keep, n_pinned;
	uint32_t n_head_alive, head_keep, value_keep;
	uint32_t alive[MAX_KV], pin[MAX_KV], head_alive[MAX_H3];
};

/*
 * Token pruning (kept lists, pinned tokens, alive lists, importance
 * write-back) when @tokens, head pruning, value pruning: the mix the
 * campaign has always run. @gen: a generation job (its query token is
 * alive and kept whatever the lists say).
 */
static void make_prune(uint64_t *r, struct prune *pr, unsigned heads,
		       unsigned kv, bool gen, bool tokens)
{
	unsigned cand = kv;

	memset(pr, 0, sizeof(*pr));
	if (tokens && rndn(r, 4)) {
		pr->tok_imp = true;
		if (kv > 2 && rndn(r, 3) == 0) {
			pr->n_tok_alive = 1 + rndn(r, kv - 1);
			subset(r, pr->alive, kv - gen, pr->n_tok_alive);
			cand = pr->n_tok_alive + gen;
		}
		if (rndn(r, 3)) {
			unsigned lo = gen;

			if (!pr->n_tok_alive && rndn(r, 2) && kv > 1) {
				pr->n_pinned = 1 + rndn(r, kv / 2);
				subset(r, pr->pin, kv - gen, pr->n_pinned);
				lo += pr->n_pinned;
			}
			if (lo < 1)
				lo = 1;
			pr->token_keep = lo + rndn(r, cand - lo + 1);
		}
	}
	if (heads > 1 && rndn(r, 2) &&
	    (info.features & DRM_SPATTEN_FEAT_HEAD_PRUNE)) {
		unsigned n = heads;

		pr->head_imp = true;
		if (rndn(r, 3) == 0) {
			pr->n_head_alive = n = 1 + rndn(r, heads);
			subset(r, pr->head_alive, heads, n);
		}
		if (rndn(r, 3))
			pr->head_keep = 1 + rndn(r, n);
	}
	if (rndn(r, 2))
		pr->value_keep = 1 + rndn(r, kv);
}

/* Store list @src of @n entries at @dst as u16 (version 2) or u32. */
static void put_list(uint8_t *dst, const uint32_t *src, unsigned n, bool v3)
{
	unsigned i;

	for (i = 0; i < n; i++) {
		if (v3) {
			memcpy(dst + 4 * i, &src[i], 4);
		} else {
			uint16_t v = (uint16_t)src[i];

			memcpy(dst + 2 * i, &v, 2);
		}
	}
}

/* The pruning of @pr into the job and its slot: counts, lists, imp. */
static void apply_prune(uint64_t *r, struct slot *s, const struct prune *pr,
			unsigned heads, unsigned kv, uint32_t h)
{
	struct drm_spatten_job *j = &s->j;
	uint8_t *d = s->dev;
	uint64_t *ti = (uint64_t *)(d + SPE_PLANE_TOK_IMP * PLANE_SZ);
	uint64_t *hi = (uint64_t *)(d + SPE_PLANE_HEAD_IMP * PLANE_SZ);
	bool v3 = is_v3(j);
	unsigned i;

	if (pr->tok_imp) {
		for (i = 0; i < kv; i++)
			ti[i] = rndn(r, 1u << 20);
		tensor(&j->tok_imp, h, 0);	/* offsets set later */
	}
	if (pr->head_imp) {
		for (i = 0; i < heads; i++)
			hi[i] = rndn(r, 1u << 24);
		tensor(&j->head_imp, h, 0);
	}
	put_list(d + SPE_PLANE_TOK_ALIVE * PLANE_SZ, pr->alive,
		 pr->n_tok_alive, v3);
	put_list(d + SPE_PLANE_PINNED * PLANE_SZ, pr->pin, pr->n_pinned, v3);
	put_list(d + SPE_PLANE_HEAD_ALIVE * PLANE_SZ, pr->head_alive,
		 pr->n_head_alive, v3);
	if (v3) {
		j->n_tok_alive32 = pr->n_tok_alive;
		j->token_keep32 = pr->token_keep;
		j->n_pinned32 = pr->n_pinned;
		j->value_keep32 = pr->value_keep;
	} else {
		j->n_tok_alive = (uint16_t)pr->n_tok_alive;
		j->token_keep = (uint16_t)pr->token_keep;
		j->n_pinned = (uint16_t)pr->n_pinned;
		j->value_keep = (uint16_t)pr->value_keep;
	}
	j->n_head_alive = (uint16_t)pr->n_head_alive;
	j->head_keep = (uint16_t)pr->head_keep;
	j->topk_seed = (uint32_t)rnd64(r);
}

/* Formats: S16 Q/out, random fractions; packed K/V, progressive if @prune. */
static void make_formats(uint64_t *r, struct drm_spatten_job *j, bool prune)
{
	j->q_fmt = j->out_fmt = DRM_SPATTEN_FMT_S16;
	j->q_frac = 10 + rndn(r, 4);
	j->k_frac = 10 + rndn(r, 4);
	j->v_frac = 10 + rndn(r, 4);
	j->out_frac = 10 + rndn(r, 4);
	j->k_fmt = j->v_fmt = DRM_SPATTEN_FMT_S16;
	if (!prune)
		return;
	if (rndn(r, 2))
		j->k_fmt = 1 + rndn(r, 5);
	if (rndn(r, 2))
		j->v_fmt = 1 + rndn(r, 5);
	if (j->k_fmt != DRM_SPATTEN_FMT_S16 && rndn(r, 2) &&
	    (info.features & DRM_SPATTEN_FEAT_PROGRESSIVE)) {
		j->flags |= DRM_SPATTEN_JOB_PROGRESSIVE;
		j->lsb_threshold = rndn(r, 32769);
	}
}

/*
 * Point every present operand at its region of the slot (K, V and K-LSB
 * of a version 3 job at @kv_off in theirs), then copy the slot for the
 * engine.
 */
static void bind_planes(struct slot *s, uint32_t h, const uint32_t *kv_off)
{
	int p, np = is_v3(&s->j) ? SPE_PLANE_COUNT : SPE_PLANE_COUNT_V2;

	for (p = 0; p < np; p++)
		if (plane_present(&s->j, p))
			tensor(jt(&s->j, p), h, s->base + p * PLANE_SZ +
			       (kv_off && kv_plane(p) ? kv_off[p] : 0));
	memcpy(s->sim, s->dev, SLOT_SZ);
}

/* ---- version 2 --------------------------------------------------------- */

static void make_job_v2(uint64_t *r, struct slot *s, uint32_t h)
{
	struct drm_spatten_job *j = &s->j;
	uint8_t *d = s->dev;
	unsigned heads = 1 + rndn(r, MAX_H), dim = 16u << rndn(r, 3);
	unsigned kv = 1 + rndn(r, MAX_KV), qr;
	bool gen = rndn(r, 3) == 0;
	bool prune = rndn(r, 10) < 7;
	unsigned kbits, vbits;
	struct prune pr;

	if (heads > info.max_heads)
		heads = info.max_heads;
	j->version = DRM_SPATTEN_DESC_V2;
	j->n_heads = heads;
	j->head_dim = dim;
	j->kv_rows = kv;
	if (gen) {
		j->stage = DRM_SPATTEN_STAGE_GENERATION;
		qr = 1;
		j->q_start = kv - 1;
		j->flags = DRM_SPATTEN_JOB_CAUSAL;
	} else {
		qr = kv;
		if (!prune && rndn(r, 2)) {
			qr = 1 + rndn(r, kv);
			j->flags = DRM_SPATTEN_JOB_CAUSAL;
			j->q_start = rndn(r, kv - qr + 1);
		} else if (rndn(r, 2)) {
			j->flags = DRM_SPATTEN_JOB_CAUSAL;
		}
	}
	j->q_rows = qr;
	make_formats(r, j, prune);
	if (!prune)
		s->kind |= LOAD_DENSE;
	kbits = fbits[j->k_fmt];
	vbits = fbits[j->v_fmt];
	fill_rand(r, d + SPE_PLANE_Q * PLANE_SZ, heads * qr * dim * 2, 16);
	fill_rand(r, d + SPE_PLANE_K_MSB * PLANE_SZ, heads * kv * dim * kbits / 8,
		  kbits);
	fill_rand(r, d + SPE_PLANE_V * PLANE_SZ, heads * kv * dim * vbits / 8,
		  vbits);
	if (j->flags & DRM_SPATTEN_JOB_PROGRESSIVE)
		fill_rand(r, d + SPE_PLANE_K_LSB * PLANE_SZ,
			  heads * kv * dim / 2, 8);
	if (prune) {
		make_prune(r, &pr, heads, kv, gen, true);
		apply_prune(r, s, &pr, heads, kv, h);
	}
	bind_planes(s, h, NULL);
}

/* ---- version 3 --------------------------------------------------------- */

/* A random divisor of @n (n itself without DRM_SPATTEN_FEAT_GQA). */
static unsigned kv_heads(uint64_t *r, unsigned n)
{
	unsigned divs[MAX_H3] = { 1 }, nd = 1, i;

	if (!(info.features & DRM_SPATTEN_FEAT_GQA))
		return n;
	for (i = 2; i <= n && nd < MAX_H3; i++)
		if (n % i == 0)
			divs[nd++] = i;
	return divs[rndn(r, nd)];
}

/*
 * A paged layout over a pool of blocks in planes of @cap rows: block
 * rows @br, vLLM's [block][row][kv head] or [block][kv head][row] inside
 * a block, now and then padding between blocks; the table (at @table)
 * names distinct blocks in random order, or any blocks with repeats
 * (shared prefixes; the only way a long context fits). Returns false if
 * not even one block fits.
 */
static bool make_paged(uint64_t *r, struct drm_spatten_job *j, unsigned nkv,
		       unsigned kv, uint32_t br, uint64_t cap, uint32_t *table,
		       bool distinct)
{
	static uint32_t pool_idx[PLANE_SZ];
	uint64_t hs, rs, bs, last, pool;
	unsigned nb = (kv + br - 1) / br, i;

	if (rndn(r, 2)) {		/* token-major in the block (vLLM) */
		hs = 1;
		rs = nkv;
	} else {
		hs = br;
		rs = 1;
	}
	bs = (uint64_t)br * nkv + (rndn(r, 3) ? 0 : 1 + rndn(r, 4));
	last = (nkv - 1) * hs + (br - 1) * rs + 1;
	if (last > cap)
		return false;
	pool = (cap - last) / bs + 1;
	if (pool > PLANE_SZ)
		pool = PLANE_SZ;
	j->kv_head_stride = (uint32_t)hs;
	j->kv_row_stride = (uint32_t)rs;
	j->kv_block_stride = (uint32_t)bs;
	j->kv_block_rows = br;
	if (distinct && pool >= nb) {	/* partial Fisher-Yates */
		for (i = 0; i < pool; i++)
			pool_idx[i] = i;
		for (i = 0; i < nb; i++) {
			unsigned k = i + rndn(r, (uint32_t)pool - i);
			uint32_t t = pool_idx[k];

			pool_idx[k] = pool_idx[i];
			pool_idx[i] = t;
			table[i] = t;
		}
	} else {
		for (i = 0; i < nb; i++)
			table[i] = rndn(r, (uint32_t)pool);
	}
	return true;
}

/*
 * The KV layout of a version 3 job whose K, V and K-LSB planes have @cap
 * rows each (past their offset): packed, head-major with a capacity,
 * token-major (with gaps between tokens now and then) or paged; falls
 * back to packed when the choice does not fit (the shapes make sure
 * packed does). @long_job: paged, and blocks repeat.
 */
static void make_layout(uint64_t *r, struct slot *s, unsigned nkv,
			unsigned kv, uint64_t cap, bool long_job)
{
	struct drm_spatten_job *j = &s->j;
	uint32_t *table = (uint32_t *)(s->dev + SPE_PLANE_BLOCK_TABLE *
				       PLANE_SZ);
	unsigned choice = long_job ? 3 : rndn(r, 4);
	uint64_t c;

	if (!(info.features & DRM_SPATTEN_FEAT_KV_LAYOUT))
		return;
	switch (choice) {
	case 1:				/* [nkv][C][D], C >= kv */
		c = kv + rndn(r, 9);
		if ((nkv - 1) * c + kv > cap)
			return;
		j->kv_head_stride = nkv > 1 || rndn(r, 2) ? (uint32_t)c : 0;
		j->kv_row_stride = 1;
		s->kind |= LOAD_STRIDED;
		return;
	case 2:				/* [kv][nkv + gap][D] */
		c = nkv + (rndn(r, 3) ? 0 : 1 + rndn(r, 2));
		if ((kv - 1) * c + nkv > cap)
			return;
		j->kv_head_stride = 1;
		j->kv_row_stride = (uint32_t)c;
		s->kind |= LOAD_STRIDED;
		return;
	case 3: {
		uint32_t br = long_job ? 1u << (4 + rndn(r, 5)) :
					 1u << rndn(r, 5);
		unsigned nb;

		while (long_job && br > 16 && (uint64_t)br * nkv * 2 > cap)
			br /= 2;
		if (!make_paged(r, j, nkv, kv, br, cap, table,
				!long_job && rndn(r, 4)))
			return;
		s->kind |= LOAD_PAGED;
		nb = (kv + br - 1) / br;
		if (rndn(r, 40) == 0) {	/* far outside the object */
			table[rndn(r, nb)] = (1u << 24) + rndn(r, 1u << 24);
			s->kind |= LOAD_BAD_BLOCK;
		}
		return;
	}
	default:
		return;
	}
}

/* RoPE on a third (slot positions or an ascending list), scale on a third. */
static void make_rope_scale(uint64_t *r, struct slot *s, unsigned kv,
			    bool long_job)
{
	struct drm_spatten_job *j = &s->j;
	uint32_t *pos = (uint32_t *)(s->dev + SPE_PLANE_POSITIONS * PLANE_SZ);
	unsigned i;

	if ((info.features & DRM_SPATTEN_FEAT_ROPE) && rndn(r, 3) == 0) {
		j->flags |= DRM_SPATTEN_JOB_ROPE;
		j->rope_base = rndn(r, 2) ? 10000 : 500000;
		s->kind |= LOAD_ROPE;
		if (!long_job && rndn(r, 2)) {
			uint32_t p = rndn(r, 2) ? 0 : rndn(r, 1u << 20);

			j->flags |= DRM_SPATTEN_JOB_ROPE_POSITIONS;
			for (i = 0; i < kv; i++) {
				pos[i] = p;
				p += 1 + rndn(r, 3);
			}
			s->kind |= LOAD_POSITIONS;
		}
	}
	if (rndn(r, 3) == 0) {
		/* 1/sqrt(D) times 0.25..2 */
		float f = (float)((0.25 + rndn(r, 1751) / 1000.0) /
				  sqrt(j->head_dim));

		memcpy(&j->score_scale, &f, 4);
		s->kind |= LOAD_SCALE;
	}
}

/*
 * A version 3 job. Small ones: 1..8 heads in groups, D and kv_rows so
 * that Q and a packed K/V fit their regions. Long ones (1 in 25 when the
 * board takes 65536 rows): a paged context of 65536..100000 rows over a
 * few blocks, a few query rows at its end, no token lists (they would not
 * fit), RoPE by slot.
 */
static void make_job_v3(uint64_t *r, struct slot *s, uint32_t h)
{
	struct drm_spatten_job *j = &s->j;
	uint8_t *d = s->dev;
	bool long_job = info.max_context >= LONG_KV && rndn(r, 25) == 0;
	unsigned heads = 1 + rndn(r, long_job ? 4 : MAX_H3), nkv;
	unsigned dim = 16u << rndn(r, long_job ? 2 : 3), kv, qr, p;
	bool gen = rndn(r, 3) == 0;
	bool prune = rndn(r, 10) < 7;
	uint32_t kv_off[SPE_PLANE_COUNT] = { 0 }, rb = 0;
	struct prune pr;

	if (heads > info.max_heads)
		heads = info.max_heads;
	nkv = kv_heads(r, heads);
	if (long_job) {
		uint32_t top = info.max_context < LONG_KV_MAX ?
			       info.max_context : LONG_KV_MAX;

		kv = LONG_KV + rndn(r, top - LONG_KV + 1);
		s->kind |= LOAD_LONG;
	} else {
		while (heads * MAX_KV * dim * 2 > PLANE_SZ - KV_OFF_MAX)
			dim /= 2;
		kv = 1 + rndn(r, MAX_KV);
	}
	j->version = DRM_SPATTEN_DESC_V3;
	j->n_heads = heads;
	j->n_kv_heads = nkv;
	j->head_dim = dim;
	j->kv_rows32 = kv;
	if (nkv < heads)
		s->kind |= LOAD_GQA;
	if (gen) {
		j->stage = DRM_SPATTEN_STAGE_GENERATION;
		qr = 1;
		j->q_start32 = kv - 1;
		j->flags = DRM_SPATTEN_JOB_CAUSAL;
	} else if (long_job) {
		qr = 1 + rndn(r, 4);
		j->flags = DRM_SPATTEN_JOB_CAUSAL;
		j->q_start32 = kv - qr - rndn(r, 64);
	} else {
		qr = kv;
		if (!prune && rndn(r, 2)) {
			qr = 1 + rndn(r, kv);
			j->flags = DRM_SPATTEN_JOB_CAUSAL;
			j->q_start32 = rndn(r, kv - qr + 1);
		} else if (rndn(r, 2)) {
			j->flags = DRM_SPATTEN_JOB_CAUSAL;
		}
	}
	j->q_rows32 = qr;
	make_formats(r, j, prune);
	if (!prune)
		s->kind |= LOAD_DENSE;

	/* K, V, K-LSB: an offset in their region, the whole region random. */
	for (p = 0; p < SPE_PLANE_COUNT; p++) {
		if (!kv_plane(p) || (p == SPE_PLANE_K_LSB &&
				     !(j->flags & DRM_SPATTEN_JOB_PROGRESSIVE)))
			continue;
		kv_off[p] = 2 * rndn(r, KV_OFF_MAX / 2);
		if (kv_row_bytes(j, p) > rb)
			rb = kv_row_bytes(j, p);
		fill_rand(r, d + p * PLANE_SZ, PLANE_SZ,
			  p == SPE_PLANE_K_MSB ? fbits[j->k_fmt] :
			  p == SPE_PLANE_V ? fbits[j->v_fmt] : 8);
	}
	fill_rand(r, d + SPE_PLANE_Q * PLANE_SZ, heads * qr * dim * 2, 16);
	make_layout(r, s, nkv, kv, (PLANE_SZ - KV_OFF_MAX) / rb, long_job);
	make_rope_scale(r, s, kv, long_job);
	if (prune) {
		make_prune(r, &pr, heads, kv, gen, !long_job);
		apply_prune(r, s, &pr, heads, kv, h);
	}
	s->kind |= LOAD_V3;
	bind_planes(s, h, kv_off);
}

void make_job(uint64_t *r, struct slot *s, uint32_t h, uint64_t base)
{
	memset(&s->j, 0, sizeof(s->j));
	memset(s->dev, 0, SLOT_SZ);
	s->j.opcode = DRM_SPATTEN_OP_ATTENTION;
	s->base = base;
	s->kind = 0;
	if ((info.features & DRM_SPATTEN_FEAT_DESC_V3) && rndn(r, 3) == 0)
		make_job_v3(r, s, h);
	else
		make_job_v2(r, s, h);
}

void job_str(const struct slot *s, char *buf, size_t len)
{
	const struct drm_spatten_job *j = &s->j;
	struct load_dims dm;
	int n;

	load_dims(j, &dm);
	n = snprintf(buf, len, "v%u heads %u/%u dim %u kv %u q %u@%u "
		     "k/v fmt %u/%u tk %u hk %u vk %u prog %u",
		     j->version, j->n_heads, dm.n_kv_heads, j->head_dim,
		     dm.kv_rows, dm.q_rows, dm.q_start, j->k_fmt, j->v_fmt,
		     dm.token_keep, j->head_keep, dm.value_keep,
		     !!(j->flags & DRM_SPATTEN_JOB_PROGRESSIVE));
	if (n < 0 || (size_t)n >= len || !is_v3(j))
		return;
	snprintf(buf + n, len - n, " layout %u/%u/%u/%u rope %u%s scale %#x",
		 j->kv_head_stride, j->kv_row_stride, j->kv_block_stride,
		 j->kv_block_rows, j->rope_base,
		 j->flags & DRM_SPATTEN_JOB_ROPE_POSITIONS ? " pos" : "",
		 j->score_scale);
}
