// SPDX-License-Identifier: MIT
/*
 * SpAtten engine: a job's scratch, one allocation (docs/engine.md,
 * "Scratch"): the sizes of every array, linear in the context and the
 * query rows, never in their product; the blocks of query rows that bound
 * the scores; the caps' max_scratch.
 */
#include <stdlib.h>
#include <string.h>

#include "spe_run.h"

#define SPE_SCRATCH_ALIGN	64	/* a cache line: keeps arrays apart */
/*
 * The arrays operand rows are read into start a page: the reads copy
 * whole rows there, and a copy whose destination sits a little ahead of
 * its source within the page (4K aliasing: the loads wait on the stores
 * just made) runs up to 25% slower. Guest buffers are page-aligned, host
 * ones at a small page offset; a destination at offset 0 suits both.
 */
#define SPE_ROWS_ALIGN		4096
#define SPE_RAW_PAD		8	/* unpackers may look a word ahead */

/* ---- Scratch ------------------------------------------------------------ */

/*
 * Reserve @n elements of @elem bytes at the next aligned offset of a block
 * of *@total bytes. Returns 0 if the size does not fit in size_t.
 */
static int spe_reserve(size_t *total, size_t n, size_t elem, size_t align,
		       size_t *off)
{
	size_t start = *total, bytes;

	if (start > SIZE_MAX - (align - 1))
		return 0;
	start = (start + align - 1) & ~(size_t)(align - 1);
	if (n && elem > SIZE_MAX / n)
		return 0;
	bytes = n * elem;
	if (bytes > SIZE_MAX - start)
		return 0;
	*off = start;
	*total = start + bytes;
	return 1;
}

/*
 * Query rows per block: the scores of a block come from one qk_rows call
 * (the SIMD kernels rearrange K once per call, so bigger is better: a
 * whole BERT-base head, 384 rows, beats blocks of 64 by 20%) and its
 * products from one pv_rows call. A block takes as many rows as keep its
 * scores within SPE_BLOCK_SCORES (2 MB of int64 scores and 1 MB of pq
 * whatever the context, up to 32768 keys); causal blocks compute every
 * row's scores against the visible keys of the block's last row, so they
 * also stop at 64 rows to waste little.
 */
#define SPE_BLOCK_SCORES	(256u * 1024)
#define SPE_BLOCK_ROWS_CAUSAL	64

enum {
	S_RAW, S_HEADS, S_CAND, S_PINNED, S_TOK, S_ROWS, S_QSPAN, S_KVSPAN,
	S_IDX, S_SEL, S_KEY, S_TOKIMP, S_HEADIMP, S_IMP, S_IMP32, S_TABLE,
	S_POS, S_HFRAC, S_INVF, S_Q16, S_K16, S_KROT, S_KFULL, S_V16, S_VTMP, S_RVIS,
	S_SCORE, S_E, S_PQ, S_ACC, S_VPIDX, S_VPN, S_VPW, S_VSTATE, S_OUT,
	S_TK0, S_TK1, S_TK2, S_GIDX, S_LSBDOT, S_ROPEK, S_ROPEQ, S_COUNT
};

/*
 * Bytes of c->raw: the widest read that cannot go straight to its place:
 * lists, importance arrays, and rows of packed formats (and, on a
 * big-endian host, of int16 ones) up to a whole head's.
 */
static size_t spe_raw_bytes(const struct spe_ctx *c)
{
	const struct spe_job *job = c->job;
	size_t kv = job->kv_rows, nq = job->q_rows, row = 0, raw;

	if (c->k_bits < 16 || !SPE_HOST_LE)
		row = spe_row_bytes(c->d, c->k_bits);
	if ((c->v_bits < 16 || !SPE_HOST_LE) &&
	    row < spe_row_bytes(c->d, c->v_bits))
		row = spe_row_bytes(c->d, c->v_bits);
	if (c->progressive && row < spe_row_bytes(c->d, SPATTEN_LSB_BITS))
		row = spe_row_bytes(c->d, SPATTEN_LSB_BITS);
	raw = kv * row;
	if (!SPE_HOST_LE && raw < nq * c->d * 2)
		raw = nq * c->d * 2;
	if (raw < (size_t)c->n_imp * SPATTEN_IMP_BYTES)
		raw = (size_t)c->n_imp * SPATTEN_IMP_BYTES;
	if (raw < (size_t)job->n_heads * SPATTEN_IMP_BYTES)
		raw = (size_t)job->n_heads * SPATTEN_IMP_BYTES;
	return raw;
}

/*
 * Query rows per block (SPE_BLOCK_SCORES): at least 1, at most q_rows,
 * at most SPE_BLOCK_ROWS_CAUSAL when causal.
 */
static uint32_t spe_block_rows(const struct spe_ctx *c)
{
	size_t blk = SPE_BLOCK_SCORES / c->job->kv_rows;

	if (c->causal && blk > SPE_BLOCK_ROWS_CAUSAL)
		blk = SPE_BLOCK_ROWS_CAUSAL;
	if (!blk)
		blk = 1;
	if (blk > c->job->q_rows)
		blk = c->job->q_rows;
	return (uint32_t)blk;
}

/*
 * The sizes of every scratch array. Nothing grows with q_rows x kv_rows:
 * per-token arrays and one KV head's gathered rows are linear in the
 * context, per-query-row arrays linear in q_rows, and the scores and
 * value-pruning selections of one block of query rows are bounded by
 * SPE_BLOCK_SCORES (docs/engine.md, "Scratch").
 */
static void spe_scratch_sizes(struct spe_ctx *c, size_t *n, size_t *sz)
{
	const struct spe_job *job = c->job;
	size_t d = c->d, nq = job->q_rows, kv = job->kv_rows;
	size_t nh = job->n_heads, nk = kv + 1 > nh ? kv + 1 : nh, vk, blk;

	vk = c->value_prune ? (job->value_keep < kv ? job->value_keep : kv) : 0;
	c->vk = (uint32_t)vk;
	blk = c->blk = spe_block_rows(c);

#define SLOT(s, count, type) do { n[s] = (count); sz[s] = sizeof(type); } while (0)
	SLOT(S_RAW, spe_raw_bytes(c) + SPE_RAW_PAD, uint8_t);
	SLOT(S_HEADS, nh, uint32_t);
	SLOT(S_CAND, kv + 1, uint32_t);
	SLOT(S_PINNED, kv, uint32_t);
	SLOT(S_TOK, kv + 1, uint32_t);
	SLOT(S_ROWS, nq, uint32_t);
	SLOT(S_QSPAN, nq, struct spe_span);
	SLOT(S_KVSPAN, kv + 1, struct spe_span);
	SLOT(S_IDX, nk, uint32_t);
	SLOT(S_SEL, nk + SPE_TOPK_PAD, uint32_t);
	SLOT(S_KEY, nk, uint64_t);
	SLOT(S_TOKIMP, c->n_imp, uint64_t);
	SLOT(S_HEADIMP, nh, uint64_t);
	SLOT(S_IMP, kv + 1, uint64_t);
	SLOT(S_IMP32, kv + 1, uint32_t);
	SLOT(S_TABLE, c->kv.n_blocks, uint32_t);
	SLOT(S_POS, job->flags & SPATTEN_DESC_F_ROPE_POSITIONS ? kv : 0,
	     uint32_t);
	SLOT(S_HFRAC, job->flags & SPATTEN_DESC_F_HEAD_FRACS ?
	     2 * (nh + job->n_kv_heads) : 0, uint8_t);
	SLOT(S_INVF, c->rope ? d / 2 : 0, double);
	SLOT(S_Q16, nq * d, int16_t);
	SLOT(S_K16, kv * d, int16_t);
	SLOT(S_KROT, c->rope && c->progressive ? kv * d : 0, int16_t);
	SLOT(S_KFULL, c->progressive ? kv * d : 0, int16_t);
	SLOT(S_V16, kv * d, int16_t);
	SLOT(S_VTMP, vk * d, int16_t);
	SLOT(S_RVIS, nq, uint32_t);
	SLOT(S_SCORE, blk * kv, int64_t);
	SLOT(S_E, kv, float);
	SLOT(S_PQ, blk * kv, int32_t);
	SLOT(S_ACC, blk * d, int64_t);
	SLOT(S_VPIDX, blk * vk + SPE_TOPK_PAD, uint32_t);
	SLOT(S_VPN, vk ? blk : 0, uint32_t);
	SLOT(S_VPW, blk * vk, int32_t);
	SLOT(S_VSTATE, vk ? kv : 0, uint8_t);
	SLOT(S_OUT, nq * d * 2, uint8_t);
	SLOT(S_TK0, nk + SPE_TOPK_PAD, uint64_t);
	SLOT(S_TK1, nk + SPE_TOPK_PAD, uint64_t);
	SLOT(S_TK2, nk + SPE_TOPK_PAD, uint64_t);
	/* always: the same scratch (and max_scratch verdict) on every CPU */
	SLOT(S_GIDX, kv + 1, uint32_t);
	SLOT(S_LSBDOT, c->progressive ? kv : 0, int64_t);
	/* RoPE's cos and sin per gathered key and per query row (spe_rope.c) */
	SLOT(S_ROPEK, c->rope_tables ? kv * d : 0, int32_t);
	SLOT(S_ROPEQ, c->rope_tables ? nq * d : 0, int32_t);
#undef SLOT
}

/*
 * The offsets of every array in one block; its size (with the page its
 * start is rounded up to) in *@total, 0 if it does not fit in size_t.
 */
static void spe_scratch_layout(struct spe_ctx *c, size_t *n, size_t *sz,
			       size_t *off, size_t *total)
{
	int i;

	spe_scratch_sizes(c, n, sz);
	*total = 0;
	for (i = 0; i < S_COUNT; i++) {
		size_t align = i == S_Q16 || i == S_K16 || i == S_KROT ||
			       i == S_KFULL || i == S_V16 ? SPE_ROWS_ALIGN :
							     SPE_SCRATCH_ALIGN;

		if (!spe_reserve(total, n[i], sz[i], align, &off[i])) {
			*total = 0;
			return;
		}
	}
	if (*total > SIZE_MAX - SPE_ROWS_ALIGN)
		*total = 0;
	else
		*total += SPE_ROWS_ALIGN;
}

/*
 * Each RoPE table up to this size (a 131072-slot step's keys at D 128
 * just fit): a cache, never what makes a job fail.
 */
#define SPE_ROPE_TABLE_MAX	(64u << 20)

/* The block of *@total bytes (page included), within max_scratch. */
static void *spe_scratch_block(struct spe_ctx *c, size_t *n, size_t *sz,
			       size_t *off, size_t *total)
{
	spe_scratch_layout(c, n, sz, off, total);
	if (!*total || (c->max_scratch && *total > c->max_scratch))
		return NULL;
	return malloc(*total);
}

int spe_scratch_alloc(struct spe_ctx *c)
{
	size_t n[S_COUNT], sz[S_COUNT], off[S_COUNT], total;
	uint64_t rows = (uint64_t)c->job->kv_rows > c->job->q_rows ?
			c->job->kv_rows : c->job->q_rows;
	uint8_t *base;

	c->rope_tables = c->rope &&
			 rows * c->d * sizeof(int32_t) <= SPE_ROPE_TABLE_MAX;
	c->block = spe_scratch_block(c, n, sz, off, &total);
	if (!c->block && c->rope_tables) {
		c->rope_tables = 0;	/* without them, cos and sin per use */
		c->block = spe_scratch_block(c, n, sz, off, &total);
	}
	if (!c->block)
		return SPATTEN_HW_ERR_NO_MEMORY;
	base = (uint8_t *)c->block +
	       (-(uintptr_t)c->block & (uintptr_t)(SPE_ROWS_ALIGN - 1));
#define AT(s) ((void *)(base + off[s]))
	c->raw = AT(S_RAW);
	c->heads = AT(S_HEADS);
	c->cand = AT(S_CAND);
	c->pinned = AT(S_PINNED);
	c->tok = AT(S_TOK);
	c->rows = AT(S_ROWS);
	c->q_span = AT(S_QSPAN);
	c->kv_span = AT(S_KVSPAN);
	c->idx = AT(S_IDX);
	c->sel = AT(S_SEL);
	c->key = AT(S_KEY);
	c->tok_imp = AT(S_TOKIMP);
	c->head_imp = AT(S_HEADIMP);
	c->imp = AT(S_IMP);
	c->imp32 = AT(S_IMP32);
	c->kv.table = AT(S_TABLE);
	c->pos = n[S_POS] ? AT(S_POS) : NULL;
	c->hfrac = n[S_HFRAC] ? AT(S_HFRAC) : NULL;
	c->inv_freq = AT(S_INVF);
	c->q16 = AT(S_Q16);
	c->k16 = AT(S_K16);
	c->krot = AT(S_KROT);
	c->kfull = AT(S_KFULL);
	c->v16 = AT(S_V16);
	c->vtmp = AT(S_VTMP);
	c->rvis = AT(S_RVIS);
	c->score = AT(S_SCORE);
	c->e = AT(S_E);
	c->pq = AT(S_PQ);
	c->acc = AT(S_ACC);
	c->vp_idx = AT(S_VPIDX);
	c->vp_n = AT(S_VPN);
	c->vp_w = AT(S_VPW);
	c->vstate = AT(S_VSTATE);
	c->out = AT(S_OUT);
	c->topk.buf[0] = AT(S_TK0);
	c->topk.buf[1] = AT(S_TK1);
	c->topk.buf[2] = AT(S_TK2);
	c->topk.cap = (uint32_t)(n[S_TK0] - SPE_TOPK_PAD);
	c->gidx = n[S_GIDX] ? AT(S_GIDX) : NULL;
	c->lsbdot = AT(S_LSBDOT);
	c->rope_k = n[S_ROPEK] ? AT(S_ROPEK) : NULL;
	c->rope_q = n[S_ROPEQ] ? AT(S_ROPEQ) : NULL;
	c->rope_k_rows = c->rope_q_rows = 0;
#undef AT
	return SPATTEN_HW_OK;
}
