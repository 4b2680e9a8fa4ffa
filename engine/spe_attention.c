// SPDX-License-Identifier: MIT
/*
 * SpAtten engine: running a job (v1: dense multi-head attention).
 *
 * Per head: read the Q, K and V rows the head needs (each once), widen the
 * int16 elements to int32 once, then per query row: integer scores, the
 * quantised softmax of spe_math.c, an integer prob x V sum and the
 * requantised output row. Scratch is allocated once per job.
 *
 * Pruning (v2) will choose which K/V rows and heads take part; the row
 * loaders and the per-row kernels are shaped for that: they take a row
 * range and a count of visible keys rather than assuming a whole head.
 */
#include <stdlib.h>
#include <string.h>

#include "spe.h"
#include "spatten_hw.h"
#include "spe_internal.h"

#define SPE_SCRATCH_ALIGN	64	/* a cache line: keeps arrays apart */

/* Per-job working memory, one allocation. */
struct spe_scratch {
	void *block;
	uint8_t *raw;		/* rows as read, little-endian int16 */
	int32_t *q;		/* [q_rows][head_dim] of the current head */
	int32_t *k;		/* [kv_used][head_dim] */
	int32_t *v;		/* [kv_used][head_dim] */
	int64_t *score;		/* [kv_used] one query row's scores */
	float *e;		/* [kv_used] exps of the row */
	int32_t *pq;		/* [kv_used] quantised probabilities */
	int64_t *acc;		/* [head_dim] prob x V accumulators */
};

static int spe_causal(const struct spe_job *job)
{
	return !!(job->flags & SPATTEN_DESC_F_CAUSAL);
}

/* K/V rows any query row of the job can see: the rows the job reads. */
static uint32_t spe_kv_used(const struct spe_job *job)
{
	return spe_causal(job) ? job->q_start + job->q_rows : job->kv_rows;
}

/* Keys visible to query row @i. */
static uint32_t spe_visible(const struct spe_job *job, uint32_t i)
{
	return spe_causal(job) ? job->q_start + i + 1 : job->kv_rows;
}

/*
 * spe_run() may be handed a job that did not come from spe_desc_decode();
 * refuse anything that would break the arithmetic's preconditions.
 */
static int spe_job_check(const struct spe_job *job)
{
	if (job->opcode != SPATTEN_OP_ATTENTION)
		return SPATTEN_HW_ERR_OPCODE;
	if (!job->n_heads || !job->q_rows || !job->kv_rows ||
	    !job->head_dim || (job->head_dim & (job->head_dim - 1)))
		return SPATTEN_HW_ERR_SHAPE;
	if (spe_causal(job) && job->q_start + job->q_rows > job->kv_rows)
		return SPATTEN_HW_ERR_POSITION;
	if (job->q_fmt != SPATTEN_FMT_S16 || job->k_fmt != SPATTEN_FMT_S16 ||
	    job->v_fmt != SPATTEN_FMT_S16 || job->out_fmt != SPATTEN_FMT_S16 ||
	    job->q_frac > 15 || job->k_frac > 15 || job->v_frac > 15 ||
	    job->out_frac > 15)
		return SPATTEN_HW_ERR_FORMAT;
	return SPATTEN_HW_OK;
}

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

static int spe_scratch_alloc(const struct spe_job *job, struct spe_scratch *s)
{
	size_t d = job->head_dim, n_q = job->q_rows, n_kv = spe_kv_used(job);
	size_t max_rows = n_q > n_kv ? n_q : n_kv;
	size_t total = 0, o_raw, o_q, o_k, o_v, o_score, o_e, o_pq, o_acc;
	uint8_t *base;

	memset(s, 0, sizeof(*s));
	/* Element counts are products of 16-bit fields: fit in 32 bits. */
	if (!spe_reserve(&total, max_rows * d, sizeof(int16_t), &o_raw) ||
	    !spe_reserve(&total, n_q * d, sizeof(int32_t), &o_q) ||
	    !spe_reserve(&total, n_kv * d, sizeof(int32_t), &o_k) ||
	    !spe_reserve(&total, n_kv * d, sizeof(int32_t), &o_v) ||
	    !spe_reserve(&total, n_kv, sizeof(int64_t), &o_score) ||
	    !spe_reserve(&total, n_kv, sizeof(float), &o_e) ||
	    !spe_reserve(&total, n_kv, sizeof(int32_t), &o_pq) ||
	    !spe_reserve(&total, d, sizeof(int64_t), &o_acc))
		return SPATTEN_HW_ERR_NO_MEMORY;

	s->block = malloc(total);
	if (!s->block)
		return SPATTEN_HW_ERR_NO_MEMORY;
	base = s->block;
	s->raw = base + o_raw;
	s->q = (int32_t *)(void *)(base + o_q);
	s->k = (int32_t *)(void *)(base + o_k);
	s->v = (int32_t *)(void *)(base + o_v);
	s->score = (int64_t *)(void *)(base + o_score);
	s->e = (float *)(void *)(base + o_e);
	s->pq = (int32_t *)(void *)(base + o_pq);
	s->acc = (int64_t *)(void *)(base + o_acc);
	return SPATTEN_HW_OK;
}

static void spe_scratch_free(struct spe_scratch *s)
{
	free(s->block);
	s->block = NULL;
}

/* Little-endian int16 to int32, without implementation-defined casts. */
static void spe_widen_s16(const uint8_t *raw, size_t n, int32_t *dst)
{
	size_t x;

	for (x = 0; x < n; x++) {
		uint32_t u = raw[2 * x] | (uint32_t)raw[2 * x + 1] << 8;

		dst[x] = (int32_t)(u ^ 0x8000) - 0x8000;
	}
}

/* A status from struct spe_mem's reader, made a valid completion status. */
static int spe_read_status(int rc)
{
	if (rc > 0 && rc <= SPATTEN_HW_STATUS_MAX)
		return rc;
	return SPATTEN_HW_ERR_DMA_READ;
}

/*
 * Read rows [@row0, @row0 + @rows) of head @head of @plane (a tensor of
 * @plane_rows rows per head) and widen them into @dst.
 */
static int spe_load_rows(const struct spe_job *job, const struct spe_mem *mem,
			 enum spe_plane plane, uint32_t head,
			 uint32_t plane_rows, uint32_t row0, uint32_t rows,
			 uint8_t *raw, int32_t *dst, struct spe_stats *st)
{
	size_t n = (size_t)rows * job->head_dim;
	uint64_t off = ((uint64_t)head * plane_rows + row0) * job->head_dim *
		       sizeof(int16_t);
	int rc;

	rc = mem->read(mem->opaque, plane, off, raw, n * sizeof(int16_t));
	if (rc)
		return spe_read_status(rc);
	st->bytes_read += n * sizeof(int16_t);
	spe_widen_s16(raw, n, dst);
	return SPATTEN_HW_OK;
}

/* score[j] = Q_row . K[j] for j < @n, exact (|product| <= 2^30). */
static void spe_scores(const int32_t *q_row, const int32_t *k, uint32_t n,
		       uint32_t d, int64_t *score)
{
	uint32_t j, x;

	for (j = 0; j < n; j++) {
		const int32_t *k_row = k + (size_t)j * d;
		int64_t sum = 0;

		for (x = 0; x < d; x++)
			sum += q_row[x] * k_row[x];
		score[j] = sum;
	}
}

/* acc[x] = sum_j pq[j] * V[j][x], exact (|product| <= 2^30). */
static void spe_weighted_sum(const int32_t *pq, const int32_t *v, uint32_t n,
			     uint32_t d, int64_t *acc)
{
	uint32_t j, x;

	memset(acc, 0, d * sizeof(*acc));
	for (j = 0; j < n; j++) {
		const int32_t *v_row = v + (size_t)j * d;
		int32_t p = pq[j];

		if (!p)		/* flushed or rounded away: adds nothing */
			continue;
		for (x = 0; x < d; x++)
			acc[x] += p * v_row[x];
	}
}

static void spe_store_row(const int64_t *acc, uint32_t d, int shift,
			  uint8_t *dst)
{
	uint32_t x;

	for (x = 0; x < d; x++) {
		uint16_t u = (uint16_t)spe_requantise(acc[x], shift);

		dst[2 * x] = u & 0xff;
		dst[2 * x + 1] = u >> 8;
	}
}

static int spe_run_head(const struct spe_job *job, const struct spe_mem *mem,
			struct spe_scratch *s, uint32_t head, float scale,
			uint8_t *out, struct spe_stats *st)
{
	uint32_t d = job->head_dim, n_kv = spe_kv_used(job), i;
	int shift = SPE_PROB_FRAC + job->v_frac - job->out_frac;
	int rc;

	rc = spe_load_rows(job, mem, SPE_PLANE_Q, head, job->q_rows, 0,
			   job->q_rows, s->raw, s->q, st);
	if (!rc)
		rc = spe_load_rows(job, mem, SPE_PLANE_K_MSB, head,
				   job->kv_rows, 0, n_kv, s->raw, s->k, st);
	if (!rc)
		rc = spe_load_rows(job, mem, SPE_PLANE_V, head, job->kv_rows,
				   0, n_kv, s->raw, s->v, st);
	if (rc)
		return rc;

	for (i = 0; i < job->q_rows; i++) {
		uint32_t n_vis = spe_visible(job, i);
		size_t row = (size_t)head * job->q_rows + i;

		spe_scores(s->q + (size_t)i * d, s->k, n_vis, d, s->score);
		spe_softmax_row(s->score, n_vis, scale, s->e, s->pq);
		spe_weighted_sum(s->pq, s->v, n_vis, d, s->acc);
		spe_store_row(s->acc, d, shift, out + row * d * sizeof(int16_t));
		st->mac_cycles += 2 * spe_mac_cycles(n_vis, d);
	}
	st->heads++;
	return SPATTEN_HW_OK;
}

static int spe_run_attention(const struct spe_job *job,
			     const struct spe_mem *mem, uint8_t *out,
			     struct spe_stats *st)
{
	struct spe_scratch s;
	float scale;
	uint32_t h;
	int rc;

	rc = spe_job_check(job);
	if (rc)
		return rc;
	rc = spe_scratch_alloc(job, &s);
	if (rc)
		return rc;

	scale = spe_score_scale(job);
	for (h = 0; h < job->n_heads && !rc; h++)
		rc = spe_run_head(job, mem, &s, h, scale, out, st);

	spe_scratch_free(&s);
	return rc;
}

int spe_run(const struct spe_job *job, const struct spe_mem *mem, void *out,
	    struct spe_result *res)
{
	struct spe_stats st = { 0 };
	int rc = SPATTEN_HW_OK;

	memset(res, 0, sizeof(*res));
	if (job->opcode != SPATTEN_OP_NOP)
		rc = spe_run_attention(job, mem, out, &st);

	res->status = (uint16_t)rc;
	if (!rc)
		res->cycles = spe_cycles(job, &st);
	return rc;
}
