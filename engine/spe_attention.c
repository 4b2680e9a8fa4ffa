// SPDX-License-Identifier: MIT
/*
 * SpAtten engine: running a job (v2: attention with cascade token and head
 * pruning, local value pruning and progressive quantization).
 *
 * Order of operations (docs/engine.md section 3 is the normative text):
 *  1. read the head_alive, tok_alive and pinned lists; check them (ERR_LIST)
 *     and the keep counts against them (ERR_KEEP);
 *  2. read tok_imp (one row, or one per KV head) and head_imp whole;
 *  3. token top-k before the layer: kept set T; write tok_kept;
 *  4. per alive head, ascending: read the Q rows of the computed query
 *     rows, the K rows (and, without value pruning, the V rows) of the kept
 *     tokens some computed row can see, each run of consecutive rows one
 *     read (or one mem->map: host int16 rows that are one run are then
 *     used in place); per query row: scores, softmax, progressive LSB
 *     refetch, token importance, value top-k; with value pruning, read
 *     the V rows some row kept; prob x V, requantise; head importance;
 *     write the head's output rows (one write per run of consecutive
 *     rows);
 *  5. head top-k after the layer; write tok_imp, head_imp, head_kept.
 * Every operand byte is read at most once. Scratch is one allocation per
 * job. The inner loops go through the kernel table (spe_kernels.h) over
 * contiguous gathered rows, so a pruned job costs about its kept fraction.
 * The query rows of a head go in blocks (spe_run_block(): one qk_rows and
 * one pv_rows call per block, softmax and the rest per row), which gives
 * the row-by-row results bit for bit (tests/host/test_rows.c).
 */
#include <endian.h>
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

static int spe_causal(const struct spe_job *job)
{
	return !!(job->flags & SPATTEN_DESC_F_CAUSAL);
}

/* Rows, heads and positions the engine takes: 32-bit, with room to add. */
#define SPE_MAX_ROWS		0x7fffffffu

/*
 * spe_run() may be handed a job that did not come from spe_desc_decode();
 * refuse anything that would break the arithmetic's or the scratch's
 * preconditions.
 */
static int spe_job_check(const struct spe_job *job)
{
	int prog = !!(job->flags & SPATTEN_DESC_F_PROGRESSIVE);
	uint64_t q_end = (uint64_t)job->q_start + job->q_rows;
	int rc;

	if (job->opcode != SPATTEN_OP_ATTENTION)
		return SPATTEN_HW_ERR_OPCODE;
	if (!job->n_heads || !job->q_rows || !job->kv_rows ||
	    job->n_heads > 0xffff || job->q_rows > SPE_MAX_ROWS ||
	    job->kv_rows > SPE_MAX_ROWS || job->head_dim < 8 ||
	    job->head_dim > 0x8000 || (job->head_dim & (job->head_dim - 1)) ||
	    !job->n_kv_heads || job->n_kv_heads > job->n_heads ||
	    job->n_heads % job->n_kv_heads)
		return SPATTEN_HW_ERR_SHAPE;
	/* chunks (q_rows > 1 new tokens) are version 3's */
	if (job->stage == SPATTEN_STAGE_GENERATION && job->q_rows != 1 &&
	    job->version < SPATTEN_DESC_VERSION_V3)
		return SPATTEN_HW_ERR_SHAPE;
	if (spe_causal(job) ? q_end > job->kv_rows : job->q_start != 0)
		return SPATTEN_HW_ERR_POSITION;
	if ((job->flags & SPATTEN_DESC_F_ROPE_POSITIONS) && q_end > job->kv_rows)
		return SPATTEN_HW_ERR_POSITION;
	if (job->stage == SPATTEN_STAGE_GENERATION &&
	    (q_end != job->kv_rows || (job->q_rows > 1 && !spe_causal(job))))
		return SPATTEN_HW_ERR_POSITION;
	if (job->stage == SPATTEN_STAGE_SUMMARIZATION &&
	    (job->n_tok_alive || job->token_keep) &&
	    (job->q_rows != job->kv_rows || job->q_start))
		return SPATTEN_HW_ERR_POSITION;
	if (job->q_fmt != SPATTEN_FMT_S16 || job->out_fmt != SPATTEN_FMT_S16 ||
	    job->k_fmt >= SPATTEN_FMT_NUM || job->v_fmt >= SPATTEN_FMT_NUM ||
	    (prog && job->k_fmt == SPATTEN_FMT_S16) ||
	    job->q_frac > 15 || job->k_frac > 15 || job->v_frac > 15 ||
	    job->out_frac > 15)
		return SPATTEN_HW_ERR_FORMAT;
	if (job->n_tok_alive > job->kv_rows || job->n_pinned > job->kv_rows ||
	    job->n_head_alive > job->n_heads ||
	    job->head_keep > (job->n_head_alive ? job->n_head_alive :
			      job->n_heads) ||
	    job->token_keep > job->kv_rows || job->value_keep > job->kv_rows ||
	    job->lsb_threshold > SPE_PROB_ONE ||
	    (job->n_pinned && !job->token_keep) ||
	    (job->list_bytes != 2 && job->list_bytes != 4) ||
	    (job->list_bytes == 2 && job->kv_rows > 0xffff))
		return SPATTEN_HW_ERR_KEEP;
	/* importance per KV head: version 3, no token pruning, u32 counts */
	if ((job->flags & SPATTEN_DESC_F_IMP_PER_KV_HEAD) &&
	    (job->version < SPATTEN_DESC_VERSION_V3 || job->token_keep))
		return SPATTEN_HW_ERR_FLAGS;
	if (spe_tok_imp_count(job) > SPE_MAX_ROWS)
		return SPATTEN_HW_ERR_SHAPE;
	rc = spe_check_layout(job);
	if (!rc)
		rc = spe_check_params(job);
	return rc;
}

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
	SLOT(S_GIDX, c->kern->qk_gather ? kv + 1 : 0, uint32_t);
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

/* RoPE tables up to this size: a cache, never what makes a job fail. */
#define SPE_ROPE_TABLES_MAX	(64u << 20)

static int spe_scratch_alloc(struct spe_ctx *c)
{
	size_t n[S_COUNT], sz[S_COUNT], off[S_COUNT], total;
	uint64_t tables = (uint64_t)(c->job->kv_rows + c->job->q_rows) *
			  c->d * sizeof(int32_t);
	uint8_t *base;

	c->rope_tables = c->rope && tables <= SPE_ROPE_TABLES_MAX;
	spe_scratch_layout(c, n, sz, off, &total);
	if (c->rope_tables &&
	    (!total || (c->max_scratch && total > c->max_scratch))) {
		c->rope_tables = 0;	/* without them, cos and sin per use */
		spe_scratch_layout(c, n, sz, off, &total);
	}
	/* One allocation, its start rounded up to a page by hand. */
	if (!total || (c->max_scratch && total > c->max_scratch))
		return SPATTEN_HW_ERR_NO_MEMORY;
	total -= SPE_ROWS_ALIGN;
	c->block = malloc(total + SPE_ROWS_ALIGN);
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

/* ---- Before the layer: lists, keep counts, token selection ------------- */

/*
 * Query rows per head up to which the kept K and V rows of a pruned job
 * are read in place through the gathers rather than copied together:
 * a generation step (one row) or a small chunk. More rows amortise one
 * copy, and the multi-row kernels want contiguous rows.
 */
#define SPE_GATHER_MAX_ROWS	4

/*
 * Gathers, where they pay and can be used: kept rows in more than one
 * run, few query rows, host int16 rows through a map in a packed or
 * head-major layout; c->gidx[] then lists the gathered rows from the
 * first. Otherwise c->gidx is NULL.
 */
static void spe_gather_init(struct spe_ctx *c)
{
	uint32_t j;

	if (!c->gidx || !SPE_HOST_LE || !c->mem->map_gather ||
	    c->n_kv_span < 2 ||
	    c->n_rows > SPE_GATHER_MAX_ROWS || c->kv.row_stride != 1 ||
	    c->kv.block_rows ||
	    (c->k_bits != 16 && c->v_bits != 16 && !c->progressive)) {
		c->gidx = NULL;
		return;
	}
	for (j = 0; j < c->n_kvis; j++)
		c->gidx[j] = c->tok[j] - c->tok[0];
}

static int spe_prepare(struct spe_ctx *c)
{
	const struct spe_job *job = c->job;
	uint32_t kv = job->kv_rows, i, p, s, f, n_forced, n_nf, k;
	uint32_t first_new = c->generation ? job->q_start : kv;
	uint64_t cyc;
	int rc;

	/* Lists: heads, tokens, pinned; ERR_LIST before any ERR_KEEP. */
	if (job->n_head_alive) {
		rc = spe_read_list(c, SPE_PLANE_HEAD_ALIVE, job->n_head_alive,
				   job->n_heads, c->heads);
		if (rc)
			return rc;
		c->n_heads = job->n_head_alive;
	} else {
		for (i = 0; i < job->n_heads; i++)
			c->heads[i] = i;
		c->n_heads = job->n_heads;
	}
	if (job->n_tok_alive) {
		rc = spe_read_list(c, SPE_PLANE_TOK_ALIVE, job->n_tok_alive,
				   kv, c->cand);
		if (rc)
			return rc;
		c->n_cand = job->n_tok_alive;
	} else {
		for (i = 0; i < kv; i++)
			c->cand[i] = i;
		c->n_cand = kv;
	}
	/*
	 * The new tokens of a generation step, slots q_start..kv_rows-1, are
	 * always candidates, listed or not: the listed candidates below
	 * q_start, then every new slot (one, the current token, unless the
	 * step is a chunk of version 3).
	 */
	if (c->generation) {
		while (c->n_cand && c->cand[c->n_cand - 1] >= first_new)
			c->n_cand--;
		for (i = first_new; i < kv; i++)
			c->cand[c->n_cand++] = i;
	}
	if (job->n_pinned) {
		rc = spe_read_list(c, SPE_PLANE_PINNED, job->n_pinned, kv,
				   c->pinned);
		if (rc)
			return rc;
		c->n_pinned = job->n_pinned;
	}

	/*
	 * Forced candidates: pinned ones, and the new tokens (the last
	 * q_rows candidates of a generation step). With pinned tokens, @idx
	 * gets the positions of the others, in candidate order.
	 */
	if (!c->n_pinned) {
		n_forced = kv - first_new;
		n_nf = c->n_cand - n_forced;
	} else {
		n_forced = n_nf = 0;
		for (i = 0, p = 0; i < c->n_cand; i++) {
			uint32_t t = c->cand[i];

			while (p < c->n_pinned && c->pinned[p] < t)
				p++;
			if ((p < c->n_pinned && c->pinned[p] == t) ||
			    t >= first_new)
				n_forced++;
			else
				c->idx[n_nf++] = i;
		}
	}
	if (job->token_keep &&
	    (job->token_keep < n_forced || job->token_keep > c->n_cand))
		return SPATTEN_HW_ERR_KEEP;
	if (job->head_keep > c->n_heads)
		return SPATTEN_HW_ERR_KEEP;

	if (c->has_tok_imp) {
		rc = spe_read_u64s(c, SPE_PLANE_TOK_IMP, c->n_imp, c->tok_imp);
		if (rc)
			return rc;
	}
	if (job->buf[SPE_PLANE_HEAD_IMP].len) {
		rc = spe_read_u64s(c, SPE_PLANE_HEAD_IMP, job->n_heads,
				   c->head_imp);
		if (rc)
			return rc;
	}
	/* Version 3: the block table and key positions, before any write. */
	if (c->kv.block_rows) {
		rc = spe_kv_read_table(c);
		if (rc)
			return rc;
	}
	if (c->pos) {
		rc = spe_read_u32s(c, SPE_PLANE_POSITIONS, kv, c->pos);
		if (rc)
			return rc;
	}
	if (c->hfrac) {
		uint32_t nf = 2 * (job->n_heads + job->n_kv_heads);

		rc = spe_read(c, SPE_PLANE_HEAD_FRACS, 0, c->hfrac, nf);
		if (rc)
			return rc;
		for (i = 0; i < nf; i++)
			if (c->hfrac[i] > 15)
				return SPATTEN_HW_ERR_FORMAT;
		/* each head's score scale stays normal (decode's rule) */
		for (i = 0; i < job->n_heads; i++)
			if (!spatten_hw_params_ok(job->flags, job->score_scale,
						  job->rope_base,
						  c->hfrac[i] +
						  c->hfrac[2 * job->n_heads +
							   i / c->group]))
				return SPATTEN_HW_ERR_PARAM;
	}
	if (c->rope)
		spe_rope_init(c->inv_freq, c->d, job->rope_base);

	if (!job->token_keep) {
		memcpy(c->tok, c->cand, (size_t)c->n_cand * sizeof(*c->tok));
		c->n_tok = c->n_cand;
	} else if (!c->n_pinned) {
		/* Top-k over the candidates but the new tokens. */
		const uint64_t *key = c->tok_imp;	/* all tokens: as is */

		if (job->n_tok_alive) {
			for (i = 0; i < n_nf; i++)
				c->key[i] = c->tok_imp[c->cand[i]];
			key = c->key;
		}
		k = job->token_keep - n_forced;
		k = spe_topk_select(&c->topk, key, n_nf, k, c->sel, &cyc);
		c->st->topk_cycles += cyc;
		for (s = 0; s < k; s++)
			c->tok[s] = c->cand[c->sel[s]];
		c->n_tok = k;
		for (i = first_new; i < kv; i++)
			c->tok[c->n_tok++] = i;
	} else {
		/* Top-k over the candidates that are not forced. */
		for (i = 0; i < n_nf; i++)
			c->key[i] = c->tok_imp[c->cand[c->idx[i]]];
		k = job->token_keep - n_forced;
		k = spe_topk_select(&c->topk, c->key, n_nf, k, c->sel, &cyc);
		c->st->topk_cycles += cyc;
		/* Merge forced candidates and survivors, in candidate order. */
		c->n_tok = 0;
		for (i = 0, f = 0, s = 0; i < c->n_cand; i++) {
			if (f < n_nf && c->idx[f] == i) {	/* not forced */
				if (s < k && c->sel[s] == f) {
					c->tok[c->n_tok++] = c->cand[i];
					s++;
				}
				f++;
			} else {
				c->tok[c->n_tok++] = c->cand[i];
			}
		}
	}
	if (job->token_keep) {
		rc = spe_write_list(c, SPE_PLANE_TOK_KEPT, c->tok, c->n_tok);
		if (rc)
			return rc;
	}

	/* Query rows: kept tokens when summarising over a token subset. */
	if (!c->generation && (job->n_tok_alive || job->token_keep)) {
		memcpy(c->rows, c->tok, (size_t)c->n_tok * sizeof(*c->rows));
		c->n_rows = c->n_tok;
	} else {
		for (i = 0; i < job->q_rows; i++)
			c->rows[i] = i;
		c->n_rows = job->q_rows;
	}

	/* Kept tokens any computed row can see: a prefix of T. */
	if (c->causal) {
		uint32_t last = job->q_start + c->rows[c->n_rows - 1];

		for (c->n_kvis = c->n_tok; c->n_kvis &&
		     c->tok[c->n_kvis - 1] > last; c->n_kvis--)
			;
	} else {
		c->n_kvis = c->n_tok;
	}

	/*
	 * Visible keys per row, a growing prefix of T' (the same for every
	 * head): the rows that see all of T' (every row of a generation
	 * step or of a non-causal job) without a scan.
	 */
	for (i = 0, k = 0; i < c->n_rows; i++) {
		uint32_t pos = job->q_start + c->rows[i];

		if (!c->causal || !c->n_kvis || pos >= c->tok[c->n_kvis - 1]) {
			k = c->n_kvis;
		} else {
			while (k < c->n_kvis && c->tok[k] <= pos)
				k++;
		}
		c->rvis[i] = k;
	}

	/* The same rows are read for every head: their runs, once. */
	c->n_q_span = spe_spans(c->rows, c->n_rows, c->q_span);
	c->n_kv_span = c->n_kvis ? spe_spans(c->tok, c->n_kvis, c->kv_span) : 0;
	spe_gather_init(c);
	if (c->has_tok_imp)
		memset(c->imp, 0, (size_t)c->n_tok * sizeof(*c->imp));
	return SPATTEN_HW_OK;
}

/* ---- One KV head and its query heads ----------------------------------- */

/*
 * The gathered K rows (and, without value pruning, V rows) of KV head @g:
 * read once for all of its query heads. With RoPE the first-pass keys are
 * rotated: in place, or into krot when progressive keys need the
 * unrotated MSBs to merge their LSBs into later.
 */
static int spe_load_kv_head(struct spe_ctx *c, uint32_t g)
{
	size_t n = (size_t)c->n_kvis * c->d;
	int rc;

	int k_in = 0, v_in = 0;

	c->kv_head = g;
	c->lsb_loaded = 0;
	c->kp = c->k16;
	c->vp = c->v16;
	/*
	 * One query row (a generation step): progressive keys are scored
	 * from the packed plane, unless RoPE must rotate them first.
	 */
	c->k_packed = c->progressive && !c->rope && c->n_rows == 1 &&
		      c->n_kvis && spe_map_kv_packed(c, g);
	if (c->k_packed)
		k_in = 2;
	/* RoPE rotates keys, progressive ones are packed: never in place */
	else if (c->gidx && c->k_bits == 16 && !c->rope)
		k_in = spe_map_kv_span(c, SPE_PLANE_K_MSB, g, c->k16, &c->kp);
	c->k_gather = k_in == 1;
	if (!k_in) {
		rc = spe_load_kv_all(c, SPE_PLANE_K_MSB, g, c->k16,
				     c->progressive || c->rope ? NULL : &c->kp);
		if (rc)
			return rc;
	}
	if (c->gidx && c->v_bits == 16 && !c->value_prune)
		v_in = spe_map_kv_span(c, SPE_PLANE_V, g, c->v16, &c->vp);
	c->v_gather = v_in == 1;
	if (!v_in && !c->value_prune) {
		rc = spe_load_kv_all(c, SPE_PLANE_V, g, c->v16, &c->vp);
		if (rc)
			return rc;
	}
	/* progressive: k16 has the first-pass keys (spe_kv_form()) */
	if (c->rope && c->progressive) {
		memcpy(c->krot, c->k16, n * sizeof(*c->krot));
		c->kp = c->krot;
	}
	if (c->rope)
		spe_rope_keys(c, (int16_t *)c->kp, 0, c->n_kvis);
	if (c->value_prune)
		memset(c->vstate, SPE_V_ABSENT, c->n_kvis);
	return SPATTEN_HW_OK;
}

/*
 * Full keys of gathered rows [from, to) of the loaded KV head: LSB plane
 * rows merged into the first-pass keys, msb * 16 + lsb (rotated with
 * RoPE).
 */
static int spe_fetch_lsb(struct spe_ctx *c, uint32_t from, uint32_t to)
{
	size_t d = c->d;
	int16_t *full = c->kfull + from * d;
	int rc;

	rc = spe_load_kv(c, SPE_PLANE_K_LSB, c->kv_head, from, to,
			 c->k16 + from * d, full, NULL);
	if (rc)
		return rc;
	if (c->rope)
		spe_rope_keys(c, full, from, to);
	return SPATTEN_HW_OK;
}

/*
 * Requantise one output row (@acc) into the head's staging buffer; returns
 * its head-importance contribution, sum |y| << (16 - out_frac).
 */
static uint64_t spe_store_row(struct spe_ctx *c, uint32_t ri,
			      const int64_t *acc)
{
	uint8_t *dst = c->out + (size_t)ri * c->d * 2;
	uint64_t mag = c->kern->requant_row(acc, c->d, c->shift, dst);

	return mag << (SPE_HEAD_IMP_FRAC - c->out_frac);
}

/*
 * The largest of @n >= 0 probabilities (0 if none). gcc's -O2 cost
 * model will not vectorise a loop that needs an epilogue (see
 * spe_add_imp()), and this one runs over every row of a progressive job.
 */
#if defined(__GNUC__) && !defined(__clang__)
__attribute__((optimize("tree-vectorize", "vect-cost-model=cheap")))
#endif
static int32_t spe_max_prob(const int32_t *pq, uint32_t n)
{
	int32_t m = 0;
	uint32_t j;

	for (j = 0; j < n; j++)
		m = pq[j] > m ? pq[j] : m;
	return m;
}

/* 8 * sum_x q[x]: what the first-pass keys' "+ 8" adds to a score. */
static int64_t spe_q_mid(const int16_t *q, uint32_t d)
{
	int64_t s = 0;
	uint32_t x;

	for (x = 0; x < d; x++)
		s += q[x];
	return 8 * s;
}

/*
 * Scores of query row @q against first-pass keys msb * 16 + 8 from
 * qk_packed's q . msb: 16 q . msb + 8 sum q, exact in int64.
 */
static void spe_packed_scores(const int16_t *q, uint32_t d, int64_t *score,
			      uint32_t n)
{
	int64_t mid = spe_q_mid(q, d);
	uint32_t j;

	for (j = 0; j < n; j++)
		score[j] = score[j] * 16 + mid;
}

/*
 * The LSB refetch of scores from the packed plane: the full keys are
 * msb * 16 + lsb, so q . full = (first-pass score - 8 sum q) + q . lsb;
 * the LSB rows [lsb_loaded, vis) are read (as they are) once per KV head.
 */
static int spe_refetch_packed(struct spe_ctx *c, const int16_t *q,
			      int64_t *score, uint32_t vis)
{
	int64_t mid = spe_q_mid(q, c->d);
	uint32_t j;
	int rc;

	if (c->lsb_loaded < vis) {
		rc = spe_load_kv(c, SPE_PLANE_K_LSB, c->kv_head, c->lsb_loaded,
				 vis, NULL, c->kfull + (size_t)c->lsb_loaded *
				 c->d, NULL);
		if (rc)
			return rc;
		c->lsb_loaded = vis;
	}
	c->kern->qk_scores(q, c->kfull, vis, c->d, c->lsbdot);
	for (j = 0; j < vis; j++)
		score[j] += c->lsbdot[j] - mid;
	return SPATTEN_HW_OK;
}

/*
 * Probabilities @pq of one query row @q over the first @vis gathered keys,
 * its first-pass scores already in @score: softmax and, with PROGRESSIVE,
 * the LSB refetch (section 3, step 6.2), which recomputes @score[0..vis).
 */
static int spe_row_probs(struct spe_ctx *c, const int16_t *q, int64_t *score,
			 int32_t *pq, uint32_t vis)
{
	int rc;

	c->kern->softmax_row(score, vis, c->scale, c->e, pq);
	c->st->qk_scores += vis;
	if (!c->progressive)
		return SPATTEN_HW_OK;

	if ((uint32_t)spe_max_prob(pq, vis) >= c->job->lsb_threshold)
		return SPATTEN_HW_OK;
	if (c->k_packed) {
		rc = spe_refetch_packed(c, q, score, vis);
		if (rc)
			return rc;
	} else if (c->lsb_loaded < vis) {
		rc = spe_fetch_lsb(c, c->lsb_loaded, vis);
		if (rc)
			return rc;
		c->lsb_loaded = vis;
	}
	if (!c->k_packed)
		c->kern->qk_scores(q, c->kfull, vis, c->d, score);
	c->kern->softmax_row(score, vis, c->scale, c->e, pq);
	c->st->qk_scores += vis;
	c->st->refetch_rows++;
	return SPATTEN_HW_OK;
}

/*
 * Local value pruning of block row @bi: remember its kept (key, prob)
 * pairs and mark their V rows wanted.
 */
static void spe_row_values(struct spe_ctx *c, uint32_t bi, uint32_t vis,
			   const int32_t *pq)
{
	uint32_t *idx = c->vp_idx + (size_t)bi * c->vk;
	int32_t *w = c->vp_w + (size_t)bi * c->vk;
	uint32_t j, n_sel = vis;
	uint64_t cyc;

	if (c->job->value_keep < vis) {
		for (j = 0; j < vis; j++)
			c->key[j] = (uint32_t)pq[j];
		/* The value engine's cycles are hidden (docs/engine.md). */
		n_sel = spe_topk_select(&c->topk, c->key, vis,
					c->job->value_keep, idx, &cyc);
		for (j = 0; j < n_sel; j++)
			w[j] = pq[idx[j]];
	} else {
		for (j = 0; j < vis; j++) {
			idx[j] = j;
			w[j] = pq[j];
		}
	}
	for (j = 0; j < n_sel; j++)
		if (c->vstate[idx[j]] == SPE_V_ABSENT)
			c->vstate[idx[j]] = SPE_V_WANTED;
	c->vp_n[bi] = n_sel;
	c->st->pv_rows += n_sel;
}

/* The caller's cancellation poll (struct spe_mem.cancelled). */
static int spe_cancelled(const struct spe_ctx *c)
{
	return c->mem->cancelled && c->mem->cancelled(c->mem->opaque);
}

/*
 * V rows the rows of a block kept and no earlier block of this KV head
 * did, among gathered keys [0, nb): read, one read per run, into v16.
 * Each V row of a KV head is read at most once, whatever its query heads
 * and blocks.
 */
static int spe_load_wanted_values(struct spe_ctx *c, uint32_t nb)
{
	uint32_t j = 0, end;
	int rc;

	while (j < nb) {
		if (c->vstate[j] != SPE_V_WANTED) {
			j++;
			continue;
		}
		for (end = j; end < nb && c->vstate[end] == SPE_V_WANTED; end++)
			c->vstate[end] = SPE_V_LOADED;
		rc = spe_load_kv(c, SPE_PLANE_V, c->kv_head, j, end, NULL,
				 c->v16 + (size_t)j * c->d, NULL);
		if (rc)
			return rc;
		j = end;
	}
	return SPATTEN_HW_OK;
}

/*
 * With value pruning, at the end of block rows [r0, r1) (visible keys
 * [0, nb)): read the V rows they kept, then prob x V per row.
 */
static int spe_block_values(struct spe_ctx *c, uint32_t r0, uint32_t r1,
			    uint32_t nb, uint64_t *mag)
{
	uint32_t d = c->d, ri, s;
	int rc;

	rc = spe_load_wanted_values(c, nb);
	if (rc)
		return rc;
	for (ri = r0; ri < r1; ri++) {
		const uint32_t *kj = c->vp_idx + (size_t)(ri - r0) * c->vk;
		const int32_t *w = c->vp_w + (size_t)(ri - r0) * c->vk;
		uint32_t n = c->vp_n[ri - r0];

		if (!n) {
			memset(c->acc, 0, d * sizeof(*c->acc));
		} else if (kj[n - 1] - kj[0] + 1 == n) {
			/*
			 * The row's V rows are consecutive gathered rows:
			 * multiply them in place.
			 */
			c->kern->pv_accumulate(w, c->v16 + (size_t)kj[0] * d,
					       n, d, c->acc);
		} else if (c->kern->pv_gather) {
			c->kern->pv_gather(w, c->v16, kj, n, d, c->acc);
		} else {
			for (s = 0; s < n; s++)
				memcpy(c->vtmp + (size_t)s * d,
				       c->v16 + (size_t)kj[s] * d,
				       d * sizeof(int16_t));
			c->kern->pv_accumulate(w, c->vtmp, n, d, c->acc);
		}
		*mag += spe_store_row(c, ri, c->acc);
	}
	return SPATTEN_HW_OK;
}

/*
 * imp[j] += pq[j] for j < n: token importance of one row, gathered
 * (section 3, 6.3), in 32 bits per head (spe_flush_imp() moves the sums
 * to 64 bits before 65536 rows of pq <= 2^15 could overflow them).
 * Integer adds, so vectorising changes no bit; gcc's -O2 cost model will
 * not vectorise a loop that needs an epilogue, hence the attribute (clang
 * vectorises it at -O2 anyway). On a BERT-base layer with tok_imp this
 * loop is 147456 adds per head.
 */
#if defined(__GNUC__) && !defined(__clang__)
__attribute__((optimize("tree-vectorize", "vect-cost-model=cheap")))
#endif
static void spe_add_imp(uint32_t *restrict imp, const int32_t *restrict pq,
			uint32_t n)
{
	uint32_t j;

	for (j = 0; j < n; j++)
		imp[j] += (uint32_t)pq[j];
}

/* The head's 32-bit token importance sums into the 64-bit ones. */
static void spe_flush_imp(struct spe_ctx *c)
{
	uint32_t k;

	for (k = 0; k < c->n_kvis; k++)
		c->imp[k] += c->imp32[k];
	memset(c->imp32, 0, (size_t)c->n_kvis * sizeof(*c->imp32));
	c->imp32_rows = 0;
}

/*
 * Query rows [r0, r1) of the head, ascending (section 3, step 6.2-6.5):
 * the first-pass scores of the whole block in one qk_rows call against
 * the visible keys of its last row (rows that see fewer ignore the rest),
 * then per row softmax, refetch, importance, value selection; prob x V of
 * the block in one pv_rows call, the weights of keys a row does not see
 * being 0, or with value pruning row by row over the kept V rows. Integer
 * sums are exact, so every row gets the bits the row-by-row order gives.
 */
static int spe_run_block(struct spe_ctx *c, uint32_t r0, uint32_t r1,
			 uint64_t *head_mag)
{
	uint32_t d = c->d, i, m, z, nb;
	int rc;

	if (c->has_tok_imp && c->imp32_rows + (r1 - r0) > 0x10000)
		spe_flush_imp(c);
	c->imp32_rows += r1 - r0;
	/* Rows that see nothing (not for decoded jobs) lead the block. */
	for (z = r0; z < r1 && !c->rvis[z]; z++) {
		if (c->value_prune) {
			c->vp_n[z - r0] = 0;
		} else {
			memset(c->acc, 0, d * sizeof(*c->acc));
			*head_mag += spe_store_row(c, z, c->acc);
		}
	}
	if (z == r1)
		return c->value_prune ? spe_block_values(c, r0, r1, 0, head_mag) :
					SPATTEN_HW_OK;
	m = r1 - z;
	nb = c->rvis[r1 - 1];

	if (c->k_packed)
		for (i = 0; i < m; i++) {
			const int16_t *q = c->qp + (size_t)(z + i) * d;
			int64_t *score = c->score + (size_t)i * nb;

			c->kern->qk_packed(q, c->kpk, c->kidx, nb, c->k_bits,
					   d, score);
			spe_packed_scores(q, d, score, nb);
		}
	else if (c->k_gather)
		for (i = 0; i < m; i++)
			c->kern->qk_gather(c->qp + (size_t)(z + i) * d, c->kp,
					   c->gidx, nb, d,
					   c->score + (size_t)i * nb);
	else
		c->kern->qk_rows(c->qp + (size_t)z * d, m, c->kp, nb, d,
				 c->score);
	for (i = 0; i < m; i++) {
		uint32_t n = c->rvis[z + i];
		int64_t *score = c->score + (size_t)i * nb;
		int32_t *pq = c->pq + (size_t)i * nb;

		rc = spe_row_probs(c, c->qp + (size_t)(z + i) * d, score, pq,
				   n);
		if (rc)
			return rc;
		if (c->has_tok_imp)
			spe_add_imp(c->imp32, pq, n);
		if (c->value_prune) {
			spe_row_values(c, z + i - r0, n, pq);
		} else {
			if (n < nb)
				memset(pq + n, 0, (nb - n) * sizeof(*pq));
			c->st->pv_rows += n;
		}
	}
	if (c->value_prune)
		return spe_block_values(c, r0, r1, nb, head_mag);
	if (c->v_gather)
		for (i = 0; i < m; i++)
			c->kern->pv_gather(c->pq + (size_t)i * nb, c->vp,
					   c->gidx, nb, d,
					   c->acc + (size_t)i * d);
	else
		c->kern->pv_rows(c->pq, m, c->vp, nb, d, c->acc);
	for (i = 0; i < m; i++)
		*head_mag += spe_store_row(c, z + i, c->acc + (size_t)i * d);
	return SPATTEN_HW_OK;
}

/*
 * F_HEAD_FRACS: query head @h's units: scores 2^-(q_frac[h] + k_frac[g]),
 * products shifted by 15 + v_frac[g] - out_frac[h] (0..30), output and
 * head importance with out_frac[h].
 */
static void spe_head_fracs(struct spe_ctx *c, uint32_t h)
{
	const struct spe_job *job = c->job;
	uint32_t g = h / c->group, H = job->n_heads, G = job->n_kv_heads;
	unsigned int qf = c->hfrac[h], of = c->hfrac[H + h];
	unsigned int kf = c->hfrac[2 * H + g], vf = c->hfrac[2 * H + G + g];

	c->scale = spe_score_scale_fracs(job, qf + kf);
	c->shift = SPE_PROB_FRAC + (int)vf - (int)of;
	c->out_frac = of;
}

/* Section 3, step 6: one query head; its KV head's rows are loaded. */
static int spe_run_head(struct spe_ctx *c, uint32_t h)
{
	uint32_t r0, r1;
	uint64_t head_mag = 0;
	int rc;

	if (c->hfrac)
		spe_head_fracs(c, h);
	/* RoPE rotates the rows: never the operand's own bytes. */
	rc = spe_load_q(c, h, !c->rope);
	if (rc)
		return rc;
	if (c->rope)
		spe_rope_queries(c, c->q16);
	if (c->has_tok_imp)
		memset(c->imp32, 0, (size_t)c->n_kvis * sizeof(*c->imp32));
	c->imp32_rows = 0;

	for (r0 = 0; r0 < c->n_rows; r0 = r1) {
		r1 = c->n_rows - r0 > c->blk ? r0 + c->blk : c->n_rows;
		if (spe_cancelled(c))
			return SPATTEN_HW_ERR_ABORTED;
		rc = spe_run_block(c, r0, r1, &head_mag);
		if (rc)
			return rc;
	}
	rc = spe_write_out(c, h);
	if (rc)
		return rc;

	if (c->has_tok_imp)
		spe_flush_imp(c);
	c->head_imp[h] += head_mag;
	c->st->heads++;
	c->st->query_rows += c->n_rows;
	return SPATTEN_HW_OK;
}

/*
 * Each kept token's importance, gathered over the heads summed since the
 * last fold, into tok_imp's row @g (0 for the one shared row); the sums
 * restart at 0.
 */
static void spe_fold_imp(struct spe_ctx *c, uint32_t g)
{
	uint64_t *row = c->tok_imp + (size_t)g * c->job->kv_rows;
	uint32_t i;

	for (i = 0; i < c->n_tok; i++)
		row[c->tok[i]] += c->imp[i];
	memset(c->imp, 0, (size_t)c->n_tok * sizeof(*c->imp));
}

/*
 * Every alive query head, ascending, each KV head's rows read once before
 * its first alive query head (query heads of a KV head are consecutive).
 * With importance per KV head, a KV head's sums go to its row of tok_imp
 * when the next KV head starts, the last one's in spe_finish().
 */
static int spe_run_heads(struct spe_ctx *c)
{
	uint32_t i, h;
	int rc;

	for (i = 0; i < c->n_heads; i++) {
		h = c->heads[i];
		if (spe_cancelled(c))
			return SPATTEN_HW_ERR_ABORTED;
		if (!i || h / c->group != c->kv_head) {
			if (i && c->has_tok_imp && c->imp_per_kv)
				spe_fold_imp(c, c->kv_head);
			rc = spe_load_kv_head(c, h / c->group);
			if (rc)
				return rc;
		}
		rc = spe_run_head(c, h);
		if (rc)
			return rc;
	}
	return SPATTEN_HW_OK;
}

/* ---- After the layer ------------------------------------------------------ */

static int spe_finish(struct spe_ctx *c)
{
	const struct spe_job *job = c->job;
	uint64_t cyc;
	uint32_t i, k;
	int rc;

	c->st->tokens_kept = c->n_tok;
	c->st->heads_kept = c->n_heads;
	if (job->head_keep) {
		for (i = 0; i < c->n_heads; i++)
			c->key[i] = c->head_imp[c->heads[i]];
		k = spe_topk_select(&c->topk, c->key, c->n_heads,
				    job->head_keep, c->sel, &cyc);
		c->st->topk_cycles += cyc;
		for (i = 0; i < k; i++)
			c->idx[i] = c->heads[c->sel[i]];
		c->st->heads_kept = k;
	}
	if (c->has_tok_imp) {
		/* the last KV head's row, or the one shared row */
		spe_fold_imp(c, c->imp_per_kv ? c->kv_head : 0);
		rc = spe_write_u64s(c, SPE_PLANE_TOK_IMP, c->tok_imp,
				    c->n_imp);
		if (rc)
			return rc;
	}
	if (job->buf[SPE_PLANE_HEAD_IMP].len) {
		rc = spe_write_u64s(c, SPE_PLANE_HEAD_IMP, c->head_imp,
				    job->n_heads);
		if (rc)
			return rc;
	}
	if (job->head_keep)
		return spe_write_list(c, SPE_PLANE_HEAD_KEPT, c->idx,
				      job->head_keep);
	return SPATTEN_HW_OK;
}

static int spe_run_attention(const struct spe_job *desc_job,
			     const struct spe_caps *caps,
			     const struct spe_mem *mem, struct spe_stats *st)
{
	struct spe_job job_copy = *desc_job, *job = &job_copy;
	struct spe_ctx c;
	int rc;

	/* Hand-built jobs may leave the version-3 fields 0 (struct spe_job). */
	if (!job->n_kv_heads)
		job->n_kv_heads = job->n_heads;
	if (!job->list_bytes)
		job->list_bytes = SPATTEN_LIST_BYTES;
	rc = spe_job_check(job);
	if (rc)
		return rc;

	memset(&c, 0, sizeof(c));
	c.job = job;
	c.mem = mem;
	c.st = st;
	c.kern = spe_kernels_get();
	c.d = job->head_dim;
	c.k_bits = spatten_hw_fmt_bits(job->k_fmt);
	c.v_bits = spatten_hw_fmt_bits(job->v_fmt);
	c.causal = spe_causal(job);
	c.progressive = !!(job->flags & SPATTEN_DESC_F_PROGRESSIVE);
	c.generation = job->stage == SPATTEN_STAGE_GENERATION;
	c.value_prune = job->value_keep != 0;
	c.has_tok_imp = !!job->buf[SPE_PLANE_TOK_IMP].len;
	c.imp_per_kv = !!(job->flags & SPATTEN_DESC_F_IMP_PER_KV_HEAD);
	c.n_imp = (uint32_t)spe_tok_imp_count(job);
	c.scale = spe_score_scale(job);
	c.shift = SPE_PROB_FRAC + job->v_frac - job->out_frac;
	c.out_frac = job->out_frac;
	c.rope = !!(job->flags & SPATTEN_DESC_F_ROPE);
	c.group = job->n_heads / job->n_kv_heads;
	spe_kv_layout_init(&c);
	c.topk.seed = job->topk_seed;
	c.topk.model = caps ? &caps->model : NULL;
	c.topk.kern = c.kern;
	c.max_scratch = caps ? caps->max_scratch : 0;

	rc = spe_scratch_alloc(&c);
	if (rc)
		return rc;
	/* head_imp accumulates even when absent; tok_imp only if present. */
	memset(c.head_imp, 0, (size_t)job->n_heads * sizeof(*c.head_imp));

	rc = spe_prepare(&c);
	if (!rc)
		rc = spe_run_heads(&c);
	if (!rc)
		rc = spe_finish(&c);

	free(c.block);
	return rc;
}

int spe_run(const struct spe_job *job, const struct spe_caps *caps,
	    const struct spe_mem *mem, struct spe_result *res)
{
	struct spe_model full = spe_model_full();
	int rc = SPATTEN_HW_OK;

	memset(res, 0, sizeof(*res));
	if (job->opcode != SPATTEN_OP_NOP)
		rc = spe_run_attention(job, caps, mem, &res->stats);

	res->status = (uint16_t)rc;
	res->lsb_refetches = res->stats.refetch_rows;
	if (!rc)
		res->cycles = spe_cycles(job, &res->stats,
					 caps ? &caps->model : &full);
	return rc;
}
