// SPDX-License-Identifier: MIT
/*
 * SpAtten engine: running a job (v2: attention with cascade token and head
 * pruning, local value pruning and progressive quantization).
 *
 * Order of operations (docs/engine.md section 3 is the normative text):
 *  1. read the head_alive, tok_alive and pinned lists; check them (ERR_LIST)
 *     and the keep counts against them (ERR_KEEP);
 *  2. read tok_imp and head_imp whole;
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

#include "spe.h"
#include "spatten_hw.h"
#include "spe_internal.h"
#include "spe_kernels.h"

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

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define SPE_HOST_LE		1
#else
#define SPE_HOST_LE		0
#endif

/* A maximal run of consecutive row numbers: idx[at .. at + len). */
struct spe_span {
	uint32_t at, len;
};

struct spe_ctx {
	const struct spe_job *job;
	const struct spe_mem *mem;
	const struct spe_kernels *kern;
	struct spe_stats *st;
	struct spe_topk topk;
	uint32_t d, k_bits, v_bits, k_row, v_row, lsb_row;
	int causal, progressive, generation, value_prune, has_tok_imp;
	float scale;
	int shift;
	uint64_t max_scratch;		/* caps->max_scratch, 0: no limit */

	void *block;
	uint8_t *raw;		/* bytes as read: lists, rows, arrays */
	uint32_t *heads, n_heads;	/* heads computed, ascending */
	uint32_t *cand, n_cand;		/* token candidates, ascending */
	uint32_t *pinned, n_pinned;
	uint32_t *tok, n_tok;		/* kept tokens T, ascending */
	uint32_t *rows, n_rows;		/* query rows computed, ascending */
	uint32_t n_kvis;		/* prefix of T any computed row sees */
	struct spe_span *q_span;	/* runs of rows[] */
	struct spe_span *kv_span;	/* runs of tok[0..n_kvis) */
	uint32_t n_q_span, n_kv_span;
	uint32_t *idx;			/* [kv + 1] top-k input -> candidate */
	uint32_t *sel;			/* [kv + 1] top-k survivors */
	uint64_t *key;			/* [kv + 1] top-k keys */
	uint64_t *tok_imp, *head_imp;
	uint64_t *imp;			/* [kv + 1] sum of pq per kept token */
	uint32_t *imp32;		/* [kv + 1] the same, one head */
	int16_t *q16;			/* [n_rows][d] */
	int16_t *k16;			/* [n_kvis][d], MSB * 16 + 8 if prog. */
	int16_t *kfull;			/* [n_kvis][d] progressive, with LSBs */
	int16_t *v16;			/* [n_kvis][d] */
	int16_t *vtmp;			/* [vk][d] gathered V rows of a row */
	/*
	 * The head's gathered Q, K and V rows as the kernels read them:
	 * q16, k16 and v16, or the operand's own bytes where mem->map gave
	 * them in place (spe_load_spans()).
	 */
	const int16_t *qp, *kp, *vp;
	uint32_t blk;			/* query rows per block */
	uint32_t *rvis;			/* [n_rows] visible keys per row */
	int64_t *score;			/* [blk][kv] */
	float *e;			/* [kv] */
	int32_t *pq;			/* [blk][kv] */
	int64_t *acc;			/* [blk][d] */
	uint32_t vk;			/* value pruning: kept per row, max */
	uint32_t *vp_idx, *vp_n, *vmap, *vrows;
	int32_t *vp_w;
	uint8_t *out;			/* [n_rows][d] int16 LE, one head */
};

static int spe_causal(const struct spe_job *job)
{
	return !!(job->flags & SPATTEN_DESC_F_CAUSAL);
}

/*
 * spe_run() may be handed a job that did not come from spe_desc_decode();
 * refuse anything that would break the arithmetic's or the scratch's
 * preconditions.
 */
static int spe_job_check(const struct spe_job *job)
{
	int prog = !!(job->flags & SPATTEN_DESC_F_PROGRESSIVE);

	if (job->opcode != SPATTEN_OP_ATTENTION)
		return SPATTEN_HW_ERR_OPCODE;
	if (!job->n_heads || !job->q_rows || !job->kv_rows ||
	    job->n_heads > 0xffff || job->q_rows > 0xffff ||
	    job->kv_rows > 0xffff || job->head_dim < 8 ||
	    job->head_dim > 0x8000 || (job->head_dim & (job->head_dim - 1)))
		return SPATTEN_HW_ERR_SHAPE;
	if (job->stage == SPATTEN_STAGE_GENERATION && job->q_rows != 1)
		return SPATTEN_HW_ERR_SHAPE;
	if (spe_causal(job) ? job->q_start + job->q_rows > job->kv_rows :
			      job->q_start != 0)
		return SPATTEN_HW_ERR_POSITION;
	if (job->stage == SPATTEN_STAGE_GENERATION &&
	    job->q_start != job->kv_rows - 1)
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
	    (job->n_pinned && !job->token_keep))
		return SPATTEN_HW_ERR_KEEP;
	return SPATTEN_HW_OK;
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
	S_IDX, S_SEL, S_KEY, S_TOKIMP, S_HEADIMP, S_IMP, S_IMP32, S_Q16, S_K16, S_KFULL,
	S_V16, S_VTMP, S_RVIS, S_SCORE, S_E, S_PQ, S_ACC, S_VPIDX, S_VPN,
	S_VMAP, S_VROWS, S_VPW, S_OUT, S_TK0, S_TK1, S_TK2, S_COUNT
};

static int spe_scratch_alloc(struct spe_ctx *c)
{
	const struct spe_job *job = c->job;
	size_t d = job->head_dim, nq = job->q_rows, kv = job->kv_rows;
	size_t nh = job->n_heads, raw, nk = kv + 1, vk, blk;
	size_t n[S_COUNT], sz[S_COUNT], off[S_COUNT], total = 0;
	uint8_t *base;
	int i;

	if (nk < nh)
		nk = nh;
	/* Widest read: a whole tensor row range, or an importance array. */
	raw = (nq > kv ? nq : kv) * d * 2;
	if (raw < kv * SPATTEN_IMP_BYTES)
		raw = kv * SPATTEN_IMP_BYTES;
	if (raw < nh * SPATTEN_IMP_BYTES)
		raw = nh * SPATTEN_IMP_BYTES;
	vk = c->value_prune ? (job->value_keep < kv ? job->value_keep : kv) : 0;
	c->vk = (uint32_t)vk;
	blk = SPE_BLOCK_SCORES / kv;
	if (c->causal && blk > SPE_BLOCK_ROWS_CAUSAL)
		blk = SPE_BLOCK_ROWS_CAUSAL;
	if (!blk)
		blk = 1;
	if (blk > nq)
		blk = nq;
	c->blk = (uint32_t)blk;

#define SLOT(s, count, type) do { n[s] = (count); sz[s] = sizeof(type); } while (0)
	SLOT(S_RAW, raw + SPE_RAW_PAD, uint8_t);
	SLOT(S_HEADS, nh, uint32_t);
	SLOT(S_CAND, kv + 1, uint32_t);
	SLOT(S_PINNED, kv, uint32_t);
	SLOT(S_TOK, kv + 1, uint32_t);
	SLOT(S_ROWS, nq, uint32_t);
	SLOT(S_QSPAN, nq, struct spe_span);
	SLOT(S_KVSPAN, kv + 1, struct spe_span);
	SLOT(S_IDX, nk, uint32_t);
	SLOT(S_SEL, nk, uint32_t);
	SLOT(S_KEY, nk, uint64_t);
	SLOT(S_TOKIMP, kv, uint64_t);
	SLOT(S_HEADIMP, nh, uint64_t);
	SLOT(S_IMP, kv + 1, uint64_t);
	SLOT(S_IMP32, kv + 1, uint32_t);
	SLOT(S_Q16, nq * d, int16_t);
	SLOT(S_K16, kv * d, int16_t);
	SLOT(S_KFULL, c->progressive ? kv * d : 0, int16_t);
	SLOT(S_V16, kv * d, int16_t);
	SLOT(S_VTMP, vk * d, int16_t);
	SLOT(S_RVIS, nq, uint32_t);
	SLOT(S_SCORE, blk * kv, int64_t);
	SLOT(S_E, kv, float);
	SLOT(S_PQ, blk * kv, int32_t);
	SLOT(S_ACC, blk * d, int64_t);
	SLOT(S_VPIDX, nq * vk, uint32_t);
	SLOT(S_VPN, vk ? nq : 0, uint32_t);
	SLOT(S_VMAP, vk ? kv : 0, uint32_t);
	SLOT(S_VROWS, vk ? kv : 0, uint32_t);
	SLOT(S_VPW, nq * vk, int32_t);
	SLOT(S_OUT, nq * d * 2, uint8_t);
	SLOT(S_TK0, nk, uint64_t);
	SLOT(S_TK1, nk, uint64_t);
	SLOT(S_TK2, nk, uint64_t);
#undef SLOT

	for (i = 0; i < S_COUNT; i++) {
		size_t align = i == S_Q16 || i == S_K16 || i == S_KFULL ||
			       i == S_V16 ? SPE_ROWS_ALIGN : SPE_SCRATCH_ALIGN;

		if (!spe_reserve(&total, n[i], sz[i], align, &off[i]))
			return SPATTEN_HW_ERR_NO_MEMORY;
	}
	/* One allocation, its start rounded up to a page by hand. */
	if (total > SIZE_MAX - SPE_ROWS_ALIGN)
		return SPATTEN_HW_ERR_NO_MEMORY;
	if (c->max_scratch &&
	    (uint64_t)total + SPE_ROWS_ALIGN > c->max_scratch)
		return SPATTEN_HW_ERR_NO_MEMORY;
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
	c->q16 = AT(S_Q16);
	c->k16 = AT(S_K16);
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
	c->vmap = AT(S_VMAP);
	c->vrows = AT(S_VROWS);
	c->vp_w = AT(S_VPW);
	c->out = AT(S_OUT);
	c->topk.buf[0] = AT(S_TK0);
	c->topk.buf[1] = AT(S_TK1);
	c->topk.buf[2] = AT(S_TK2);
	c->topk.cap = (uint32_t)nk;
#undef AT
	return SPATTEN_HW_OK;
}

/* ---- Memory ------------------------------------------------------------- */

/* A status from struct spe_mem, made a valid completion status. */
static int spe_mem_status(int rc, int fallback)
{
	if (rc > 0 && rc <= SPATTEN_HW_STATUS_MAX)
		return rc;
	return fallback;
}

static int spe_read(struct spe_ctx *c, enum spe_plane plane, uint64_t off,
		    void *dst, size_t len)
{
	int rc;

	if (!len)
		return SPATTEN_HW_OK;
	rc = c->mem->read(c->mem->opaque, plane, off, dst, len);
	if (rc)
		return spe_mem_status(rc, SPATTEN_HW_ERR_DMA_READ);
	c->st->bytes[plane] += len;
	return SPATTEN_HW_OK;
}

/*
 * Operand bytes [off, off + len) in place through mem->map, counted as
 * read; NULL when there is no map or it declined (then read them).
 */
static const uint8_t *spe_map(struct spe_ctx *c, enum spe_plane plane,
			      uint64_t off, size_t len)
{
	const uint8_t *p;

	if (!c->mem->map || !len)
		return NULL;
	p = c->mem->map(c->mem->opaque, plane, off, len);
	if (p)
		c->st->bytes[plane] += len;
	return p;
}

static int spe_write(struct spe_ctx *c, enum spe_plane plane, uint64_t off,
		     const void *src, size_t len)
{
	int rc;

	if (!len)
		return SPATTEN_HW_OK;
	if (!c->mem->write)
		return SPATTEN_HW_ERR_DMA_WRITE;
	rc = c->mem->write(c->mem->opaque, plane, off, src, len);
	if (rc)
		return spe_mem_status(rc, SPATTEN_HW_ERR_DMA_WRITE);
	c->st->bytes[plane] += len;
	return SPATTEN_HW_OK;
}

/* Read a u16 list of @n entries; each < @limit and strictly ascending. */
static int spe_read_list(struct spe_ctx *c, enum spe_plane plane, uint32_t n,
			 uint32_t limit, uint32_t *dst)
{
	uint32_t i;
	int rc;

	rc = spe_read(c, plane, 0, c->raw, (size_t)n * SPATTEN_LIST_BYTES);
	if (rc)
		return rc;
	for (i = 0; i < n; i++) {
		dst[i] = c->raw[2 * i] | (uint32_t)c->raw[2 * i + 1] << 8;
		if (dst[i] >= limit || (i && dst[i] <= dst[i - 1]))
			return SPATTEN_HW_ERR_LIST;
	}
	return SPATTEN_HW_OK;
}

static int spe_write_list(struct spe_ctx *c, enum spe_plane plane,
			  const uint32_t *src, uint32_t n)
{
	uint32_t i;

	for (i = 0; i < n; i++) {
		c->raw[2 * i] = (uint8_t)src[i];
		c->raw[2 * i + 1] = (uint8_t)(src[i] >> 8);
	}
	return spe_write(c, plane, 0, c->raw, (size_t)n * SPATTEN_LIST_BYTES);
}

/* Little-endian u64 array: on little-endian hosts, straight into @dst. */
static int spe_read_u64s(struct spe_ctx *c, enum spe_plane plane, uint32_t n,
			 uint64_t *dst)
{
	uint32_t i;
	int rc;

	if (SPE_HOST_LE)
		return spe_read(c, plane, 0, dst, (size_t)n * 8);
	rc = spe_read(c, plane, 0, c->raw, (size_t)n * 8);
	if (rc)
		return rc;
	for (i = 0; i < n; i++) {
		uint64_t le;

		memcpy(&le, c->raw + 8 * (size_t)i, 8);
		dst[i] = le64toh(le);
	}
	return SPATTEN_HW_OK;
}

static int spe_write_u64s(struct spe_ctx *c, enum spe_plane plane,
			  const uint64_t *src, uint32_t n)
{
	uint32_t i;

	if (SPE_HOST_LE)
		return spe_write(c, plane, 0, src, (size_t)n * 8);
	for (i = 0; i < n; i++) {
		uint64_t le = htole64(src[i]);

		memcpy(c->raw + 8 * (size_t)i, &le, 8);
	}
	return spe_write(c, plane, 0, c->raw, (size_t)n * 8);
}

/* Little-endian int16 row data to int16 (big-endian hosts). */
static void spe_unpack_s16(const uint8_t *raw, size_t n, int16_t *dst)
{
	size_t x;

	for (x = 0; x < n; x++) {
		uint32_t u = raw[2 * x] | (uint32_t)raw[2 * x + 1] << 8;

		dst[x] = (int16_t)((int32_t)(u ^ 0x8000) - 0x8000);
	}
}

/*
 * Length of the run of consecutive row numbers at @idx[i], i < n: one
 * comparison when everything left is one run (dense jobs), else a scan.
 */
static uint32_t spe_run_len(const uint32_t *idx, uint32_t i, uint32_t n)
{
	uint32_t run = 1;

	/* Strictly ascending: the rest is one run iff its span matches. */
	if (idx[n - 1] - idx[i] == n - 1 - i)
		return n - i;
	while (i + run < n && idx[i + run] == idx[i] + run)
		run++;
	return run;
}

/* The runs of @idx[0..n) into @sp; returns their count. */
static uint32_t spe_spans(const uint32_t *idx, uint32_t n,
			  struct spe_span *sp)
{
	uint32_t i = 0, k = 0;

	while (i < n) {
		sp[k].at = i;
		sp[k].len = spe_run_len(idx, i, n);
		i += sp[k++].len;
	}
	return k;
}

/*
 * Rows @idx[at .. at + run) of head @head of @plane (@plane_rows rows per
 * head, rows of @bits-bit elements, consecutive numbers) into @dst as
 * int16: one read.
 */
static int spe_load_run(struct spe_ctx *c, enum spe_plane plane,
			uint32_t head, uint32_t plane_rows, uint32_t bits,
			int is_unsigned, uint32_t first, uint32_t run,
			int16_t *dst)
{
	uint32_t d = c->d, row_bytes = spe_row_bytes(d, bits), r;
	uint64_t off = ((uint64_t)head * plane_rows + first) * row_bytes;
	size_t len = (size_t)run * row_bytes;
	const uint8_t *src = spe_map(c, plane, off, len);
	int rc;

	if (!src) {
		if (bits == 16 && SPE_HOST_LE)	/* the host's int16 */
			return spe_read(c, plane, off, dst, len);
		rc = spe_read(c, plane, off, c->raw, len);
		if (rc)
			return rc;
		src = c->raw;
	}
	if (bits == 16 && SPE_HOST_LE) {
		memcpy(dst, src, len);	/* mapped */
	} else if (bits == 16) {
		spe_unpack_s16(src, (size_t)run * d, dst);
	} else {
		for (r = 0; r < run; r++)
			spe_unpack_row(src + (size_t)r * row_bytes, bits,
				       is_unsigned, d, dst + (size_t)r * d);
	}
	return SPATTEN_HW_OK;
}

/*
 * Rows @idx[] of the precomputed runs @sp[0..n_sp) into @dst; *@rows
 * receives where the kernels find them: @dst, or, when @in_place allows
 * it and the rows are one run that mem->map gives (int16-aligned, host
 * int16), the operand's own bytes.
 */
static int spe_load_spans(struct spe_ctx *c, enum spe_plane plane,
			  uint32_t head, uint32_t plane_rows, uint32_t bits,
			  int is_unsigned, const uint32_t *idx,
			  const struct spe_span *sp, uint32_t n_sp,
			  int16_t *dst, int in_place, const int16_t **rows)
{
	uint32_t k;
	int rc;

	*rows = dst;
	if (bits == 16 && SPE_HOST_LE && c->mem->map) {
		/*
		 * Each run through map, read where it declines: one run in
		 * place (a dense job's K and V are), several gathered into
		 * @dst. (Prefetching later runs' sources while copying, or
		 * running the kernels run by run on the mapped rows instead
		 * of gathering, measured no faster / much slower.)
		 */
		const void *(*map)(void *, enum spe_plane, uint64_t, size_t) =
			c->mem->map;
		void *opaque = c->mem->opaque;
		uint64_t base = (uint64_t)head * plane_rows;
		size_t row_bytes = (size_t)c->d * 2, moved = 0;

		for (k = 0; k < n_sp; k++) {
			size_t len = (size_t)sp[k].len * row_bytes;
			uint64_t off = (base + idx[sp[k].at]) * row_bytes;
			int16_t *to = dst + (size_t)sp[k].at * c->d;
			const uint8_t *p = map(opaque, plane, off, len);

			if (!p) {
				rc = spe_read(c, plane, off, to, len);
				if (rc) {
					c->st->bytes[plane] += moved;
					return rc;
				}
				continue;
			}
			moved += len;
			if (in_place && n_sp == 1 && !((uintptr_t)p & 1))
				*rows = (const int16_t *)(const void *)p;
			else
				memcpy(to, p, len);
		}
		c->st->bytes[plane] += moved;
		return SPATTEN_HW_OK;
	}
	if (bits == 16 && SPE_HOST_LE) {
		/*
		 * The host's int16, straight into place: the loop a pruned
		 * generation step spends its time in (a read per run of
		 * kept rows, per plane and head), kept tight.
		 */
		int (*rd)(void *, enum spe_plane, uint64_t, void *, size_t) =
			c->mem->read;
		void *opaque = c->mem->opaque;
		uint64_t base = (uint64_t)head * plane_rows;
		size_t row_bytes = (size_t)c->d * 2, moved = 0;

		for (k = 0; k < n_sp; k++) {
			size_t len = (size_t)sp[k].len * row_bytes;

			rc = rd(opaque, plane, (base + idx[sp[k].at]) * row_bytes,
				dst + (size_t)sp[k].at * c->d, len);
			if (rc) {
				c->st->bytes[plane] += moved;
				return spe_mem_status(rc, SPATTEN_HW_ERR_DMA_READ);
			}
			moved += len;
		}
		c->st->bytes[plane] += moved;
		return SPATTEN_HW_OK;
	}
	for (k = 0; k < n_sp; k++) {
		rc = spe_load_run(c, plane, head, plane_rows, bits,
				  is_unsigned, idx[sp[k].at], sp[k].len,
				  dst + (size_t)sp[k].at * c->d);
		if (rc)
			return rc;
	}
	return SPATTEN_HW_OK;
}

/* Rows @idx[0..n), one read per run of consecutive row numbers. */
static int spe_load_rows(struct spe_ctx *c, enum spe_plane plane,
			 uint32_t head, uint32_t plane_rows, uint32_t bits,
			 int is_unsigned, const uint32_t *idx, uint32_t n,
			 int16_t *dst)
{
	uint32_t i = 0, run;
	int rc;

	while (i < n) {
		run = spe_run_len(idx, i, n);
		rc = spe_load_run(c, plane, head, plane_rows, bits,
				  is_unsigned, idx[i], run,
				  dst + (size_t)i * c->d);
		if (rc)
			return rc;
		i += run;
	}
	return SPATTEN_HW_OK;
}

/* ---- Before the layer: lists, keep counts, token selection ------------- */

static int spe_prepare(struct spe_ctx *c)
{
	const struct spe_job *job = c->job;
	uint32_t kv = job->kv_rows, cur = kv - 1, i, p, s, f, n_forced, n_nf;
	uint32_t k;
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
	/* The current token of a generation step is always a candidate. */
	if (c->generation && c->cand[c->n_cand - 1] != cur)
		c->cand[c->n_cand++] = cur;
	if (job->n_pinned) {
		rc = spe_read_list(c, SPE_PLANE_PINNED, job->n_pinned, kv,
				   c->pinned);
		if (rc)
			return rc;
		c->n_pinned = job->n_pinned;
	}

	/*
	 * Forced candidates: pinned ones, and the current token (the last
	 * candidate of a generation step). With pinned tokens, @idx gets the
	 * positions of the others, in candidate order.
	 */
	if (!c->n_pinned) {
		n_forced = c->generation;
		n_nf = c->n_cand - n_forced;
	} else {
		n_forced = n_nf = 0;
		for (i = 0, p = 0; i < c->n_cand; i++) {
			uint32_t t = c->cand[i];

			while (p < c->n_pinned && c->pinned[p] < t)
				p++;
			if ((p < c->n_pinned && c->pinned[p] == t) ||
			    (c->generation && t == cur))
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
		rc = spe_read_u64s(c, SPE_PLANE_TOK_IMP, kv, c->tok_imp);
		if (rc)
			return rc;
	}
	if (job->buf[SPE_PLANE_HEAD_IMP].len) {
		rc = spe_read_u64s(c, SPE_PLANE_HEAD_IMP, job->n_heads,
				   c->head_imp);
		if (rc)
			return rc;
	}

	if (!job->token_keep) {
		memcpy(c->tok, c->cand, (size_t)c->n_cand * sizeof(*c->tok));
		c->n_tok = c->n_cand;
	} else if (!c->n_pinned) {
		/* Top-k over the candidates but the current token. */
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
		if (n_forced)
			c->tok[c->n_tok++] = cur;
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
	if (c->has_tok_imp)
		memset(c->imp, 0, (size_t)c->n_tok * sizeof(*c->imp));
	return SPATTEN_HW_OK;
}

/* ---- One head ----------------------------------------------------------- */

/* MSB plane to the first-pass keys: msb * 16 + 8 (middle of the LSBs). */
static void spe_msb_keys(int16_t *k, size_t n)
{
	size_t x;

	for (x = 0; x < n; x++)
		k[x] = (int16_t)(k[x] * 16 + 8);
}

/* Full keys of rows [from, to): LSB plane rows, then msb * 16 + lsb. */
static int spe_fetch_lsb(struct spe_ctx *c, uint32_t head, uint32_t from,
			 uint32_t to)
{
	size_t d = c->d, x;
	int16_t *full = c->kfull + from * d;
	const int16_t *k = c->k16 + from * d;
	int rc;

	rc = spe_load_rows(c, SPE_PLANE_K_LSB, head, c->job->kv_rows,
			   SPATTEN_LSB_BITS, 1, c->tok + from, to - from, full);
	if (rc)
		return rc;
	for (x = 0; x < (to - from) * d; x++)
		full[x] = (int16_t)(k[x] - 8 + full[x]);
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

	return mag << (SPE_HEAD_IMP_FRAC - c->job->out_frac);
}

/*
 * Probabilities @pq of one query row @q over the first @vis gathered keys,
 * its first-pass scores already in @score: softmax and, with PROGRESSIVE,
 * the LSB refetch (section 3, step 6.2), which recomputes @score[0..vis).
 * *@lsb_loaded: gathered rows of this head whose LSBs are in.
 */
static int spe_row_probs(struct spe_ctx *c, uint32_t h, const int16_t *q,
			 int64_t *score, int32_t *pq, uint32_t vis,
			 uint32_t *lsb_loaded)
{
	int32_t max_pq = 0;
	uint32_t j;
	int rc;

	c->kern->softmax_row(score, vis, c->scale, c->e, pq);
	c->st->qk_scores += vis;
	if (!c->progressive)
		return SPATTEN_HW_OK;

	for (j = 0; j < vis; j++)
		if (pq[j] > max_pq)
			max_pq = pq[j];
	if ((uint32_t)max_pq >= c->job->lsb_threshold)
		return SPATTEN_HW_OK;
	if (*lsb_loaded < vis) {
		rc = spe_fetch_lsb(c, h, *lsb_loaded, vis);
		if (rc)
			return rc;
		*lsb_loaded = vis;
	}
	c->kern->qk_scores(q, c->kfull, vis, c->d, score);
	c->kern->softmax_row(score, vis, c->scale, c->e, pq);
	c->st->qk_scores += vis;
	c->st->refetch_rows++;
	return SPATTEN_HW_OK;
}

/* Local value pruning of row @ri: remember its kept (key, prob) pairs. */
static void spe_row_values(struct spe_ctx *c, uint32_t ri, uint32_t vis,
			   const int32_t *pq)
{
	uint32_t *idx = c->vp_idx + (size_t)ri * c->vk;
	int32_t *w = c->vp_w + (size_t)ri * c->vk;
	uint32_t j, n_sel = vis;
	uint64_t cyc;

	if (c->job->value_keep < vis) {
		for (j = 0; j < vis; j++)
			c->key[j] = (uint32_t)pq[j];
		/* The value engine's cycles are hidden (docs/engine.md). */
		n_sel = spe_topk_select(&c->topk, c->key, vis,
					c->job->value_keep, c->sel, &cyc);
		for (j = 0; j < n_sel; j++) {
			idx[j] = c->sel[j];
			w[j] = pq[c->sel[j]];
			c->vmap[c->sel[j]] = 1;
		}
	} else {
		for (j = 0; j < vis; j++) {
			idx[j] = j;
			w[j] = pq[j];
			c->vmap[j] = 1;
		}
	}
	c->vp_n[ri] = n_sel;
	c->st->pv_rows += n_sel;
}

/* The caller's cancellation poll (struct spe_mem.cancelled). */
static int spe_cancelled(const struct spe_ctx *c)
{
	return c->mem->cancelled && c->mem->cancelled(c->mem->opaque);
}

/*
 * With value pruning, after every row of head @h: read the V rows some row
 * kept (each once), then prob x V for every row. Returns the head's
 * importance through *@mag. The pass is not split into blocks, and can be
 * as long as the head's scores (q_rows x value_keep V rows): it polls the
 * cancellation as often as the blocks do, every SPE_BLOCK_SCORES V rows.
 */
static int spe_head_values(struct spe_ctx *c, uint32_t h, uint64_t *mag)
{
	uint32_t d = c->d, n_v = 0, ri, j, s;
	uint64_t since_poll = 0;
	int rc;

	for (j = 0; j < c->n_kvis; j++) {
		if (!c->vmap[j])
			continue;
		c->vmap[j] = n_v;	/* gathered key -> gathered V row */
		c->vrows[n_v++] = c->tok[j];
	}
	rc = spe_load_rows(c, SPE_PLANE_V, h, c->job->kv_rows, c->v_bits, 0,
			   c->vrows, n_v, c->v16);
	if (rc)
		return rc;

	for (ri = 0; ri < c->n_rows; ri++) {
		const uint32_t *kj = c->vp_idx + (size_t)ri * c->vk;
		const int32_t *w = c->vp_w + (size_t)ri * c->vk;
		uint32_t n = c->vp_n[ri];
		uint32_t first = n ? c->vmap[kj[0]] : 0;

		since_poll += n ? n : 1;
		if (since_poll >= SPE_BLOCK_SCORES) {
			since_poll = 0;
			if (spe_cancelled(c))
				return SPATTEN_HW_ERR_ABORTED;
		}
		if (!n) {
			memset(c->acc, 0, d * sizeof(*c->acc));
		} else if (c->vmap[kj[n - 1]] - first + 1 == n) {
			/*
			 * The row's V rows are contiguous (always so in
			 * generation): multiply them in place.
			 */
			c->kern->pv_accumulate(w, c->v16 + (size_t)first * d, n,
					       d, c->acc);
		} else {
			for (s = 0; s < n; s++)
				memcpy(c->vtmp + (size_t)s * d,
				       c->v16 + (size_t)c->vmap[kj[s]] * d,
				       d * sizeof(int16_t));
			c->kern->pv_accumulate(w, c->vtmp, n, d, c->acc);
		}
		*mag += spe_store_row(c, ri, c->acc);
	}
	return SPATTEN_HW_OK;
}

/*
 * imp[j] += pq[j] for j < n: token importance of one row, gathered
 * (section 3, 6.3); a head's sums fit in 32 bits (at most 65535 rows of
 * pq <= 2^15). Integer adds, so vectorising changes no bit; gcc's -O2
 * cost model will not vectorise a loop that needs an epilogue, hence the
 * attribute (clang vectorises it at -O2 anyway). On a BERT-base layer
 * with tok_imp this loop is 147456 adds per head.
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

/*
 * Query rows [r0, r1) of head @h, ascending (section 3, step 6.2-6.5):
 * the first-pass scores of the whole block in one qk_rows call against
 * the visible keys of its last row (rows that see fewer ignore the rest),
 * then per row softmax, refetch, importance, value selection; without
 * value pruning, prob x V of the block in one pv_rows call, the weights
 * of keys a row does not see being 0. Integer sums are exact, so every
 * row gets the bits the row-by-row order gives.
 */
static int spe_run_block(struct spe_ctx *c, uint32_t h, uint32_t r0,
			 uint32_t r1, uint32_t *lsb_loaded, uint64_t *head_mag)
{
	uint32_t d = c->d, i, m, z, nb;
	int rc;

	/* Rows that see nothing (not for decoded jobs) lead the block. */
	for (z = r0; z < r1 && !c->rvis[z]; z++) {
		if (c->value_prune) {
			c->vp_n[z] = 0;
		} else {
			memset(c->acc, 0, d * sizeof(*c->acc));
			*head_mag += spe_store_row(c, z, c->acc);
		}
	}
	if (z == r1)
		return SPATTEN_HW_OK;
	m = r1 - z;
	nb = c->rvis[r1 - 1];

	c->kern->qk_rows(c->qp + (size_t)z * d, m, c->kp, nb, d, c->score);
	for (i = 0; i < m; i++) {
		uint32_t n = c->rvis[z + i];
		int64_t *score = c->score + (size_t)i * nb;
		int32_t *pq = c->pq + (size_t)i * nb;

		rc = spe_row_probs(c, h, c->qp + (size_t)(z + i) * d, score,
				   pq, n, lsb_loaded);
		if (rc)
			return rc;
		if (c->has_tok_imp)
			spe_add_imp(c->imp32, pq, n);
		if (c->value_prune) {
			spe_row_values(c, z + i, n, pq);
		} else {
			if (n < nb)
				memset(pq + n, 0, (nb - n) * sizeof(*pq));
			c->st->pv_rows += n;
		}
	}
	if (c->value_prune)
		return SPATTEN_HW_OK;
	c->kern->pv_rows(c->pq, m, c->vp, nb, d, c->acc);
	for (i = 0; i < m; i++)
		*head_mag += spe_store_row(c, z + i, c->acc + (size_t)i * d);
	return SPATTEN_HW_OK;
}

/* Section 3, step 6: one head. */
static int spe_run_head(struct spe_ctx *c, uint32_t h)
{
	const struct spe_job *job = c->job;
	uint32_t d = c->d, r0, r1, k, lsb_loaded = 0;
	uint64_t head_mag = 0;
	int rc;

	/* Progressive keys are rewritten in place: never the operand's. */
	rc = spe_load_spans(c, SPE_PLANE_Q, h, job->q_rows, 16, 0, c->rows,
			    c->q_span, c->n_q_span, c->q16, 1, &c->qp);
	if (!rc)
		rc = spe_load_spans(c, SPE_PLANE_K_MSB, h, job->kv_rows,
				    c->k_bits, 0, c->tok, c->kv_span,
				    c->n_kv_span, c->k16, !c->progressive,
				    &c->kp);
	if (!rc && !c->value_prune)
		rc = spe_load_spans(c, SPE_PLANE_V, h, job->kv_rows, c->v_bits,
				    0, c->tok, c->kv_span, c->n_kv_span,
				    c->v16, 1, &c->vp);
	if (rc)
		return rc;
	if (c->progressive)
		spe_msb_keys(c->k16, (size_t)c->n_kvis * d);
	if (c->has_tok_imp)
		memset(c->imp32, 0, (size_t)c->n_kvis * sizeof(*c->imp32));
	if (c->value_prune)
		memset(c->vmap, 0, (size_t)job->kv_rows * sizeof(*c->vmap));

	for (r0 = 0; r0 < c->n_rows; r0 = r1) {
		r1 = c->n_rows - r0 > c->blk ? r0 + c->blk : c->n_rows;
		if (spe_cancelled(c))
			return SPATTEN_HW_ERR_ABORTED;
		rc = spe_run_block(c, h, r0, r1, &lsb_loaded, &head_mag);
		if (rc)
			return rc;
	}
	if (c->value_prune) {
		rc = spe_head_values(c, h, &head_mag);
		if (rc)
			return rc;
	}

	/* Output rows: one write per run of consecutive rows (as Q's). */
	for (k = 0; k < c->n_q_span; k++) {
		const struct spe_span *sp = &c->q_span[k];
		uint64_t off = ((uint64_t)h * job->q_rows + c->rows[sp->at]) *
			       d * 2;

		rc = spe_write(c, SPE_PLANE_OUT, off,
			       c->out + (size_t)sp->at * d * 2,
			       (size_t)sp->len * d * 2);
		if (rc)
			return rc;
	}

	if (c->has_tok_imp)
		for (k = 0; k < c->n_kvis; k++)
			c->imp[k] += c->imp32[k];
	c->head_imp[h] += head_mag;
	c->st->heads++;
	c->st->query_rows += c->n_rows;
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
		/* Each kept token's importance, gathered over the heads. */
		for (i = 0; i < c->n_tok; i++)
			c->tok_imp[c->tok[i]] += c->imp[i];
		rc = spe_write_u64s(c, SPE_PLANE_TOK_IMP, c->tok_imp,
				    job->kv_rows);
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

static int spe_run_attention(const struct spe_job *job,
			     const struct spe_caps *caps,
			     const struct spe_mem *mem, struct spe_stats *st)
{
	struct spe_ctx c;
	uint32_t i;
	int rc;

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
	c.scale = spe_score_scale(job);
	c.shift = SPE_PROB_FRAC + job->v_frac - job->out_frac;
	c.topk.seed = job->topk_seed;
	c.topk.model = caps ? &caps->model : NULL;
	c.max_scratch = caps ? caps->max_scratch : 0;

	rc = spe_scratch_alloc(&c);
	if (rc)
		return rc;
	/* head_imp accumulates even when absent; tok_imp only if present. */
	memset(c.head_imp, 0, (size_t)job->n_heads * sizeof(*c.head_imp));

	rc = spe_prepare(&c);
	for (i = 0; i < c.n_heads && !rc; i++)
		rc = spe_cancelled(&c) ? SPATTEN_HW_ERR_ABORTED :
		     spe_run_head(&c, c.heads[i]);
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
