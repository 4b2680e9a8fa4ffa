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
 *     read; per query row: scores, softmax, progressive LSB refetch,
 *     token importance, value top-k; with value pruning, read the V rows
 *     some row kept; prob x V, requantise; head importance; write the
 *     head's output rows (one write per run of consecutive rows);
 *  5. head top-k after the layer; write tok_imp, head_imp, head_kept.
 * Every operand byte is read at most once. Scratch is one allocation per
 * job. The inner loops go through the kernel table (spe_kernels.h) over
 * contiguous gathered rows, so a pruned job costs about its kept fraction.
 */
#include <endian.h>
#include <stdlib.h>
#include <string.h>

#include "spe.h"
#include "spatten_hw.h"
#include "spe_internal.h"
#include "spe_kernels.h"

#define SPE_SCRATCH_ALIGN	64	/* a cache line: keeps arrays apart */
#define SPE_RAW_PAD		8	/* unpackers may look a word ahead */

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define SPE_HOST_LE		1
#else
#define SPE_HOST_LE		0
#endif

struct spe_ctx {
	const struct spe_job *job;
	const struct spe_mem *mem;
	const struct spe_kernels *kern;
	struct spe_stats *st;
	struct spe_topk topk;
	uint32_t d, k_bits, v_bits, k_row, v_row, lsb_row;
	int causal, progressive, generation, value_prune;
	float scale;
	int shift;

	void *block;
	uint8_t *raw;		/* bytes as read: lists, rows, arrays */
	uint32_t *heads, n_heads;	/* heads computed, ascending */
	uint32_t *cand, n_cand;		/* token candidates, ascending */
	uint32_t *pinned, n_pinned;
	uint32_t *tok, n_tok;		/* kept tokens T, ascending */
	uint32_t *rows, n_rows;		/* query rows computed, ascending */
	uint32_t n_kvis;		/* prefix of T any computed row sees */
	uint32_t *idx;			/* [kv + 1] top-k input -> candidate */
	uint32_t *sel;			/* [kv + 1] top-k survivors */
	uint64_t *key;			/* [kv + 1] top-k keys */
	uint64_t *tok_imp, *head_imp;
	int16_t *q16;			/* [n_rows][d] */
	int16_t *k16;			/* [n_kvis][d], MSB * 16 + 8 if prog. */
	int16_t *kfull;			/* [n_kvis][d] progressive, with LSBs */
	int16_t *v16;			/* [n_kvis][d] */
	int16_t *vtmp;			/* [vk][d] gathered V rows of a row */
	int64_t *score;
	float *e;
	int32_t *pq;
	int64_t *acc;
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
static int spe_reserve(size_t *total, size_t n, size_t elem, size_t *off)
{
	size_t start = *total, bytes;

	if (start > SIZE_MAX - (SPE_SCRATCH_ALIGN - 1))
		return 0;
	start = (start + SPE_SCRATCH_ALIGN - 1) & ~(size_t)(SPE_SCRATCH_ALIGN - 1);
	if (n && elem > SIZE_MAX / n)
		return 0;
	bytes = n * elem;
	if (bytes > SIZE_MAX - start)
		return 0;
	*off = start;
	*total = start + bytes;
	return 1;
}

enum {
	S_RAW, S_HEADS, S_CAND, S_PINNED, S_TOK, S_ROWS, S_IDX, S_SEL, S_KEY,
	S_TOKIMP, S_HEADIMP, S_Q16, S_K16, S_KFULL, S_V16, S_VTMP, S_SCORE,
	S_E, S_PQ, S_ACC, S_VPIDX, S_VPN, S_VMAP, S_VROWS, S_VPW, S_OUT,
	S_TK0, S_TK1, S_TK2, S_COUNT
};

static int spe_scratch_alloc(struct spe_ctx *c)
{
	const struct spe_job *job = c->job;
	size_t d = job->head_dim, nq = job->q_rows, kv = job->kv_rows;
	size_t nh = job->n_heads, raw, nk = kv + 1, vk;
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

#define SLOT(s, count, type) do { n[s] = (count); sz[s] = sizeof(type); } while (0)
	SLOT(S_RAW, raw + SPE_RAW_PAD, uint8_t);
	SLOT(S_HEADS, nh, uint32_t);
	SLOT(S_CAND, kv + 1, uint32_t);
	SLOT(S_PINNED, kv, uint32_t);
	SLOT(S_TOK, kv + 1, uint32_t);
	SLOT(S_ROWS, nq, uint32_t);
	SLOT(S_IDX, nk, uint32_t);
	SLOT(S_SEL, nk, uint32_t);
	SLOT(S_KEY, nk, uint64_t);
	SLOT(S_TOKIMP, kv, uint64_t);
	SLOT(S_HEADIMP, nh, uint64_t);
	SLOT(S_Q16, nq * d, int16_t);
	SLOT(S_K16, kv * d, int16_t);
	SLOT(S_KFULL, c->progressive ? kv * d : 0, int16_t);
	SLOT(S_V16, kv * d, int16_t);
	SLOT(S_VTMP, vk * d, int16_t);
	SLOT(S_SCORE, kv, int64_t);
	SLOT(S_E, kv, float);
	SLOT(S_PQ, kv, int32_t);
	SLOT(S_ACC, d, int64_t);
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

	for (i = 0; i < S_COUNT; i++)
		if (!spe_reserve(&total, n[i], sz[i], &off[i]))
			return SPATTEN_HW_ERR_NO_MEMORY;
	c->block = malloc(total ? total : 1);
	if (!c->block)
		return SPATTEN_HW_ERR_NO_MEMORY;
	base = c->block;
#define AT(s) ((void *)(base + off[s]))
	c->raw = AT(S_RAW);
	c->heads = AT(S_HEADS);
	c->cand = AT(S_CAND);
	c->pinned = AT(S_PINNED);
	c->tok = AT(S_TOK);
	c->rows = AT(S_ROWS);
	c->idx = AT(S_IDX);
	c->sel = AT(S_SEL);
	c->key = AT(S_KEY);
	c->tok_imp = AT(S_TOKIMP);
	c->head_imp = AT(S_HEADIMP);
	c->q16 = AT(S_Q16);
	c->k16 = AT(S_K16);
	c->kfull = AT(S_KFULL);
	c->v16 = AT(S_V16);
	c->vtmp = AT(S_VTMP);
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

static int spe_read_u64s(struct spe_ctx *c, enum spe_plane plane, uint32_t n,
			 uint64_t *dst)
{
	uint32_t i;
	int rc;

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

	for (i = 0; i < n; i++) {
		uint64_t le = htole64(src[i]);

		memcpy(c->raw + 8 * (size_t)i, &le, 8);
	}
	return spe_write(c, plane, 0, c->raw, (size_t)n * 8);
}

/* Little-endian int16 row data to int16. */
static void spe_unpack_s16(const uint8_t *raw, size_t n, int16_t *dst)
{
	size_t x;

	for (x = 0; x < n; x++) {
		uint32_t u = raw[2 * x] | (uint32_t)raw[2 * x + 1] << 8;

		dst[x] = (int16_t)((int32_t)(u ^ 0x8000) - 0x8000);
	}
}

/*
 * Rows @idx[0..n) of head @head of @plane (@plane_rows rows per head, rows
 * of @bits-bit elements) into @dst as int16, one read per run of
 * consecutive row numbers.
 */
static int spe_load_rows(struct spe_ctx *c, enum spe_plane plane,
			 uint32_t head, uint32_t plane_rows, uint32_t bits,
			 int is_unsigned, const uint32_t *idx, uint32_t n,
			 int16_t *dst)
{
	uint32_t d = c->d, row_bytes = spe_row_bytes(d, bits), i = 0, r;
	int rc;

	while (i < n) {
		uint32_t run = 1;
		uint64_t off;

		while (i + run < n && idx[i + run] == idx[i] + run)
			run++;
		off = ((uint64_t)head * plane_rows + idx[i]) * row_bytes;
		if (bits == 16 && SPE_HOST_LE) {
			/* Little-endian int16 is the host's int16: no copy. */
			rc = spe_read(c, plane, off, dst + (size_t)i * d,
				      (size_t)run * row_bytes);
			if (rc)
				return rc;
			i += run;
			continue;
		}
		rc = spe_read(c, plane, off, c->raw, (size_t)run * row_bytes);
		if (rc)
			return rc;
		if (bits == 16) {
			spe_unpack_s16(c->raw, (size_t)run * d,
				       dst + (size_t)i * d);
		} else {
			for (r = 0; r < run; r++)
				spe_unpack_row(c->raw + (size_t)r * row_bytes,
					       bits, is_unsigned, d,
					       dst + (size_t)(i + r) * d);
		}
		i += run;
	}
	return SPATTEN_HW_OK;
}

/* ---- Before the layer: lists, keep counts, token selection ------------- */

/*
 * Whether candidate @t is kept unconditionally: pinned, or the current
 * token of a generation step. Candidates are visited in ascending order;
 * *@p walks the pinned list alongside.
 */
static int spe_forced(const struct spe_ctx *c, uint32_t t, uint32_t *p)
{
	while (*p < c->n_pinned && c->pinned[*p] < t)
		(*p)++;
	if (*p < c->n_pinned && c->pinned[*p] == t)
		return 1;
	return c->generation && t == c->job->kv_rows - 1;
}

static int spe_prepare(struct spe_ctx *c)
{
	const struct spe_job *job = c->job;
	uint32_t kv = job->kv_rows, cur = kv - 1, i, p, s, n_forced, n_nf, k;
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

	/* Forced candidates: pinned ones, and the current token. */
	n_forced = 0;
	for (i = 0, p = 0; i < c->n_cand; i++) {
		n_forced += spe_forced(c, c->cand[i], &p);
	}
	if (job->token_keep &&
	    (job->token_keep < n_forced || job->token_keep > c->n_cand))
		return SPATTEN_HW_ERR_KEEP;
	if (job->head_keep > c->n_heads)
		return SPATTEN_HW_ERR_KEEP;

	if (job->buf[SPE_PLANE_TOK_IMP].len) {
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
	} else {
		/* Top-k over the candidates that are not forced. */
		n_nf = 0;
		for (i = 0, p = 0; i < c->n_cand; i++) {
			if (spe_forced(c, c->cand[i], &p))
				continue;
			c->idx[n_nf] = i;
			c->key[n_nf++] = c->tok_imp[c->cand[i]];
		}
		k = job->token_keep - n_forced;
		k = spe_topk_select(&c->topk, c->key, n_nf, k, c->sel, &cyc);
		c->st->topk_cycles += cyc;
		/* Merge forced candidates and survivors, in candidate order. */
		c->n_tok = 0;
		for (i = 0, p = 0, s = 0; i < c->n_cand; i++) {
			int keep = spe_forced(c, c->cand[i], &p);

			if (s < k && c->idx[c->sel[s]] == i) {
				keep = 1;
				s++;
			}
			if (keep)
				c->tok[c->n_tok++] = c->cand[i];
		}
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

		for (c->n_kvis = 0; c->n_kvis < c->n_tok &&
		     c->tok[c->n_kvis] <= last; c->n_kvis++)
			;
	} else {
		c->n_kvis = c->n_tok;
	}
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
 * Requantise one output row into the head's staging buffer; returns its
 * head-importance contribution, sum |y| << (16 - out_frac).
 */
static uint64_t spe_store_row(struct spe_ctx *c, uint32_t ri)
{
	uint8_t *dst = c->out + (size_t)ri * c->d * 2;
	uint64_t mag = c->kern->requant_row(c->acc, c->d, c->shift, dst);

	return mag << (SPE_HEAD_IMP_FRAC - c->job->out_frac);
}

/*
 * Probabilities of one query row @q over the first @vis gathered keys:
 * scores and softmax, and with PROGRESSIVE the LSB refetch (section 3,
 * step 6.2). *@lsb_loaded: gathered rows of this head whose LSBs are in.
 */
static int spe_row_probs(struct spe_ctx *c, uint32_t h, const int16_t *q,
			 uint32_t vis, uint32_t *lsb_loaded)
{
	int32_t max_pq = 0;
	uint32_t j;
	int rc;

	c->kern->qk_scores(q, c->k16, vis, c->d, c->score);
	c->kern->softmax_row(c->score, vis, c->scale, c->e, c->pq);
	c->st->qk_scores += vis;
	if (!c->progressive)
		return SPATTEN_HW_OK;

	for (j = 0; j < vis; j++)
		if (c->pq[j] > max_pq)
			max_pq = c->pq[j];
	if ((uint32_t)max_pq >= c->job->lsb_threshold)
		return SPATTEN_HW_OK;
	if (*lsb_loaded < vis) {
		rc = spe_fetch_lsb(c, h, *lsb_loaded, vis);
		if (rc)
			return rc;
		*lsb_loaded = vis;
	}
	c->kern->qk_scores(q, c->kfull, vis, c->d, c->score);
	c->kern->softmax_row(c->score, vis, c->scale, c->e, c->pq);
	c->st->qk_scores += vis;
	c->st->refetch_rows++;
	return SPATTEN_HW_OK;
}

/* Local value pruning of row @ri: remember its kept (key, prob) pairs. */
static void spe_row_values(struct spe_ctx *c, uint32_t ri, uint32_t vis)
{
	uint32_t *idx = c->vp_idx + (size_t)ri * c->vk;
	int32_t *w = c->vp_w + (size_t)ri * c->vk;
	uint32_t j, n_sel = vis;
	uint64_t cyc;

	if (c->job->value_keep < vis) {
		for (j = 0; j < vis; j++)
			c->key[j] = (uint32_t)c->pq[j];
		/* The value engine's cycles are hidden (docs/engine.md). */
		n_sel = spe_topk_select(&c->topk, c->key, vis,
					c->job->value_keep, c->sel, &cyc);
	} else {
		for (j = 0; j < vis; j++)
			c->sel[j] = j;
	}
	for (j = 0; j < n_sel; j++) {
		idx[j] = c->sel[j];
		w[j] = c->pq[c->sel[j]];
		c->vmap[c->sel[j]] = 1;
	}
	c->vp_n[ri] = n_sel;
	c->st->pv_rows += n_sel;
}

/*
 * With value pruning, after every row of head @h: read the V rows some row
 * kept (each once), then prob x V for every row. Returns the head's
 * importance through *@mag.
 */
static int spe_head_values(struct spe_ctx *c, uint32_t h, uint64_t *mag)
{
	uint32_t d = c->d, n_v = 0, ri, j, s;
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
		*mag += spe_store_row(c, ri);
	}
	return SPATTEN_HW_OK;
}

/* Section 3, step 6: one head. */
static int spe_run_head(struct spe_ctx *c, uint32_t h)
{
	const struct spe_job *job = c->job;
	uint32_t d = c->d, ri, j, vis = 0, lsb_loaded = 0;
	int tok_imp = !!job->buf[SPE_PLANE_TOK_IMP].len;
	uint64_t head_mag = 0;
	int rc;

	rc = spe_load_rows(c, SPE_PLANE_Q, h, job->q_rows, 16, 0, c->rows,
			   c->n_rows, c->q16);
	if (!rc)
		rc = spe_load_rows(c, SPE_PLANE_K_MSB, h, job->kv_rows,
				   c->k_bits, 0, c->tok, c->n_kvis, c->k16);
	if (!rc && !c->value_prune)
		rc = spe_load_rows(c, SPE_PLANE_V, h, job->kv_rows, c->v_bits,
				   0, c->tok, c->n_kvis, c->v16);
	if (rc)
		return rc;
	if (c->progressive)
		spe_msb_keys(c->k16, (size_t)c->n_kvis * d);
	if (c->value_prune)
		memset(c->vmap, 0, (size_t)job->kv_rows * sizeof(*c->vmap));

	for (ri = 0; ri < c->n_rows; ri++) {
		uint32_t pos = job->q_start + c->rows[ri];

		/* Visible keys: a prefix of the gathered rows. */
		if (c->causal)
			while (vis < c->n_kvis && c->tok[vis] <= pos)
				vis++;
		else
			vis = c->n_kvis;
		if (!vis) {	/* cannot happen for decoded jobs */
			memset(c->acc, 0, d * sizeof(*c->acc));
			if (c->value_prune)
				c->vp_n[ri] = 0;
			else
				head_mag += spe_store_row(c, ri);
			continue;
		}

		rc = spe_row_probs(c, h, c->q16 + (size_t)ri * d, vis,
				   &lsb_loaded);
		if (rc)
			return rc;
		if (tok_imp)
			for (j = 0; j < vis; j++)
				c->tok_imp[c->tok[j]] += (uint32_t)c->pq[j];

		if (c->value_prune) {
			spe_row_values(c, ri, vis);
		} else {
			c->kern->pv_accumulate(c->pq, c->v16, vis, d, c->acc);
			c->st->pv_rows += vis;
			head_mag += spe_store_row(c, ri);
		}
	}
	if (c->value_prune) {
		rc = spe_head_values(c, h, &head_mag);
		if (rc)
			return rc;
	}

	/* Output rows, one write per run of consecutive rows. */
	for (ri = 0; ri < c->n_rows;) {
		uint32_t run = 1;
		uint64_t off = ((uint64_t)h * job->q_rows + c->rows[ri]) * d * 2;

		while (ri + run < c->n_rows &&
		       c->rows[ri + run] == c->rows[ri] + run)
			run++;
		rc = spe_write(c, SPE_PLANE_OUT, off,
			       c->out + (size_t)ri * d * 2, (size_t)run * d * 2);
		if (rc)
			return rc;
		ri += run;
	}

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
	if (job->buf[SPE_PLANE_TOK_IMP].len) {
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
	c.scale = spe_score_scale(job);
	c.shift = SPE_PROB_FRAC + job->v_frac - job->out_frac;
	c.topk.seed = job->topk_seed;
	c.topk.model = caps ? &caps->model : NULL;

	rc = spe_scratch_alloc(&c);
	if (rc)
		return rc;
	memset(c.head_imp, 0, (size_t)job->n_heads * sizeof(*c.head_imp));
	memset(c.tok_imp, 0, (size_t)job->kv_rows * sizeof(*c.tok_imp));

	rc = spe_prepare(&c);
	for (i = 0; i < c.n_heads && !rc; i++)
		rc = spe_run_head(&c, c.heads[i]);
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
