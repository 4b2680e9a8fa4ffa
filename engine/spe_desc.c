// SPDX-License-Identifier: MIT
/*
 * SpAtten engine: descriptor decoding and validation.
 *
 * The guest controls every bit of a descriptor, so each check is written
 * for the worst value a field can hold, and all arithmetic on guest values
 * is done in 64 bits with explicit overflow tests. The order of the checks
 * is part of the hardware interface (docs/engine.md): the first failing
 * check decides the status.
 */
#include <endian.h>
#include <string.h>

#include "spe.h"
#include "spatten_hw.h"

#define SPE_RSVD3_WORDS \
	(sizeof(((struct spatten_hw_desc *)0)->rsvd3) / sizeof(__le32))

static void spe_decode_buf(struct spe_buf *dst, const struct spatten_hw_buf *src)
{
	dst->addr = le64toh(src->addr);
	dst->len = le32toh(src->len);
	dst->offset = le16toh(src->offset);
	dst->flags = le16toh(src->flags);
}

/* Every field, host-endian; no judgement yet. */
static void spe_decode_fields(const struct spatten_hw_desc *d,
			      struct spe_job *job)
{
	memset(job, 0, sizeof(*job));
	job->opcode = le16toh(d->opcode);
	job->stage = d->stage;
	job->flags = le16toh(d->flags);
	job->tag = le32toh(d->tag);
	job->n_heads = le16toh(d->n_heads);
	job->head_dim = le16toh(d->head_dim);
	job->q_rows = le16toh(d->q_rows);
	job->kv_rows = le16toh(d->kv_rows);
	job->q_start = le16toh(d->q_start);
	job->q_fmt = d->q_fmt;
	job->q_frac = d->q_frac;
	job->k_fmt = d->k_fmt;
	job->k_frac = d->k_frac;
	job->v_fmt = d->v_fmt;
	job->v_frac = d->v_frac;
	job->out_fmt = d->out_fmt;
	job->out_frac = d->out_frac;
	spe_decode_buf(&job->buf[SPE_PLANE_Q], &d->q);
	spe_decode_buf(&job->buf[SPE_PLANE_K_MSB], &d->k);
	spe_decode_buf(&job->buf[SPE_PLANE_V], &d->v);
	spe_decode_buf(&job->buf[SPE_PLANE_OUT], &d->out);
}

/* Checks 1-3: what kind of descriptor this is. */
static int spe_check_header(const struct spatten_hw_desc *d,
			    const struct spe_job *job)
{
	if (le16toh(d->desc_size) != SPATTEN_DESC_SIZE ||
	    d->version != SPATTEN_DESC_VERSION)
		return SPATTEN_HW_ERR_VERSION;
	if (job->opcode != SPATTEN_OP_NOP && job->opcode != SPATTEN_OP_ATTENTION)
		return SPATTEN_HW_ERR_OPCODE;
	if (job->flags & ~SPATTEN_DESC_F_ALL)
		return SPATTEN_HW_ERR_FLAGS;
	if (job->stage != SPATTEN_STAGE_SUMMARIZATION &&
	    job->stage != SPATTEN_STAGE_GENERATION)
		return SPATTEN_HW_ERR_FLAGS;
	return SPATTEN_HW_OK;
}

/* Check 4: reserved words, compared raw (zero in any byte order). */
static int spe_check_reserved(const struct spatten_hw_desc *d)
{
	size_t i;

	if (d->rsvd0 || d->rsvd1 || d->rsvd2)
		return SPATTEN_HW_ERR_RESERVED;
	for (i = 0; i < SPE_RSVD3_WORDS; i++)
		if (d->rsvd3[i])
			return SPATTEN_HW_ERR_RESERVED;
	return SPATTEN_HW_OK;
}

static int spe_buf_is_zero(const struct spe_buf *b)
{
	return !b->addr && !b->len && !b->offset && !b->flags;
}

/* Check 5: a NOP carries no shape, format or buffer (tag, flags allowed). */
static int spe_check_nop(const struct spe_job *job)
{
	if (job->n_heads || job->head_dim || job->q_rows || job->kv_rows ||
	    job->q_start)
		return SPATTEN_HW_ERR_RESERVED;
	if (job->q_fmt || job->q_frac || job->k_fmt || job->k_frac ||
	    job->v_fmt || job->v_frac || job->out_fmt || job->out_frac)
		return SPATTEN_HW_ERR_RESERVED;
	if (!spe_buf_is_zero(&job->buf[SPE_PLANE_Q]) ||
	    !spe_buf_is_zero(&job->buf[SPE_PLANE_K_MSB]) ||
	    !spe_buf_is_zero(&job->buf[SPE_PLANE_V]) ||
	    !spe_buf_is_zero(&job->buf[SPE_PLANE_OUT]))
		return SPATTEN_HW_ERR_RESERVED;
	return SPATTEN_HW_OK;
}

static int spe_is_pow2(uint32_t x)
{
	return x && !(x & (x - 1));
}

/* Check 6: shape against the capabilities, then the stage's features. */
static int spe_check_shape(const struct spe_job *job,
			   const struct spe_caps *caps)
{
	int generation = job->stage == SPATTEN_STAGE_GENERATION;
	int causal = !!(job->flags & SPATTEN_DESC_F_CAUSAL);

	if (job->n_heads < 1 || job->n_heads > caps->max_heads)
		return SPATTEN_HW_ERR_SHAPE;
	/* head_dim is 16 bits, so "bit n set" is simply head_dim & mask. */
	if (!spe_is_pow2(job->head_dim) || !(caps->head_dims & job->head_dim))
		return SPATTEN_HW_ERR_SHAPE;
	if (job->q_rows < 1 || job->q_rows > caps->max_context)
		return SPATTEN_HW_ERR_SHAPE;
	if (job->kv_rows < 1 || job->kv_rows > caps->max_context)
		return SPATTEN_HW_ERR_SHAPE;
	if (generation && job->q_rows != 1)
		return SPATTEN_HW_ERR_SHAPE;

	if (generation && !(caps->features & SPATTEN_FEAT_GENERATION))
		return SPATTEN_HW_ERR_FLAGS;
	if (causal && !(caps->features & SPATTEN_FEAT_CAUSAL))
		return SPATTEN_HW_ERR_FLAGS;
	return SPATTEN_HW_OK;
}

/* Check 7: where the query rows sit among the keys (32-bit sums of u16). */
static int spe_check_position(const struct spe_job *job)
{
	if (job->flags & SPATTEN_DESC_F_CAUSAL) {
		if (job->q_start + job->q_rows > job->kv_rows)
			return SPATTEN_HW_ERR_POSITION;
	} else if (job->q_start != 0) {
		return SPATTEN_HW_ERR_POSITION;
	}
	if (job->stage == SPATTEN_STAGE_GENERATION &&
	    job->q_start != job->kv_rows - 1)
		return SPATTEN_HW_ERR_POSITION;
	return SPATTEN_HW_OK;
}

/* A format the device advertises and the engine implements. */
static int spe_format_ok(uint8_t fmt, uint8_t frac,
			 const struct spe_caps *caps)
{
	if (fmt >= 32 || !(caps->formats & (1u << fmt)))
		return 0;
	if (spatten_hw_elem_bytes(fmt) == 0)
		return 0;
	return frac <= 15;
}

/* Check 8: element formats and fractional bits, Q, K, V, out. */
static int spe_check_formats(const struct spe_job *job,
			     const struct spe_caps *caps)
{
	if (!spe_format_ok(job->q_fmt, job->q_frac, caps) ||
	    !spe_format_ok(job->k_fmt, job->k_frac, caps) ||
	    !spe_format_ok(job->v_fmt, job->v_frac, caps) ||
	    !spe_format_ok(job->out_fmt, job->out_frac, caps))
		return SPATTEN_HW_ERR_FORMAT;
	return SPATTEN_HW_OK;
}

/*
 * [addr, addr + len) must be representable (addr + len <= 2^64 - 1) and,
 * when the device has fewer than 64 address bits, end at or below
 * 2^dma_bits.
 */
static int spe_range_ok(uint64_t addr, uint64_t len, uint32_t dma_bits)
{
	if (addr > UINT64_MAX - len)
		return 0;
	if (dma_bits < 64 && addr + len > ((uint64_t)1 << dma_bits))
		return 0;
	return 1;
}

/* Bytes of the page list that covers @b (offset + len bytes of pages). */
static uint64_t spe_page_list_bytes(const struct spe_buf *b)
{
	uint64_t span = (uint64_t)b->offset + b->len;
	uint64_t pages = (span + SPATTEN_HW_PAGE_SIZE - 1) >>
			 SPATTEN_HW_PAGE_SHIFT;

	return pages * sizeof(__le64);
}

static int spe_check_buf(const struct spe_buf *b, uint64_t need,
			 const struct spe_caps *caps)
{
	int page_list = !!(b->flags & SPATTEN_BUF_PAGE_LIST);
	uint64_t span;

	if (b->flags & ~SPATTEN_BUF_PAGE_LIST)
		return SPATTEN_HW_ERR_BUFFER;
	if (page_list) {
		if (!(caps->features & SPATTEN_FEAT_PAGE_LIST))
			return SPATTEN_HW_ERR_BUFFER;
		if (b->offset >= SPATTEN_HW_PAGE_SIZE || (b->addr & 7))
			return SPATTEN_HW_ERR_BUFFER;
	} else if (b->offset) {
		return SPATTEN_HW_ERR_BUFFER;
	}
	if (b->len < need)
		return SPATTEN_HW_ERR_BUFFER;

	span = page_list ? spe_page_list_bytes(b) : b->len;
	if (!spe_range_ok(b->addr, span, caps->dma_bits))
		return SPATTEN_HW_ERR_BUFFER;
	return SPATTEN_HW_OK;
}

/* Check 9: the buffers, in the order q, k, v, out. */
static int spe_check_buffers(const struct spe_job *job,
			     const struct spe_caps *caps)
{
	static const enum spe_plane order[] = {
		SPE_PLANE_Q, SPE_PLANE_K_MSB, SPE_PLANE_V, SPE_PLANE_OUT,
	};
	uint64_t q_bytes = spatten_hw_tensor_bytes(job->n_heads, job->q_rows,
						   job->head_dim, job->q_fmt);
	uint64_t need[SPE_PLANE_COUNT] = {
		[SPE_PLANE_Q] = q_bytes,
		[SPE_PLANE_K_MSB] = spatten_hw_tensor_bytes(job->n_heads,
							    job->kv_rows,
							    job->head_dim,
							    job->k_fmt),
		[SPE_PLANE_V] = spatten_hw_tensor_bytes(job->n_heads,
							job->kv_rows,
							job->head_dim,
							job->v_fmt),
		[SPE_PLANE_OUT] = spatten_hw_tensor_bytes(job->n_heads,
							  job->q_rows,
							  job->head_dim,
							  job->out_fmt),
	};
	size_t i;
	int rc;

	for (i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
		rc = spe_check_buf(&job->buf[order[i]], need[order[i]], caps);
		if (rc)
			return rc;
	}
	return SPATTEN_HW_OK;
}

int spe_desc_decode(const struct spatten_hw_desc *desc,
		    const struct spe_caps *caps, struct spe_job *job)
{
	struct spatten_hw_desc d;
	int rc;

	/* One snapshot: every check and the job see the same bytes. */
	memcpy(&d, desc, sizeof(d));
	spe_decode_fields(&d, job);

	rc = spe_check_header(&d, job);
	if (!rc)
		rc = spe_check_reserved(&d);
	if (rc)
		return rc;
	if (job->opcode == SPATTEN_OP_NOP)
		return spe_check_nop(job);

	rc = spe_check_shape(job, caps);
	if (!rc)
		rc = spe_check_position(job);
	if (!rc)
		rc = spe_check_formats(job, caps);
	if (!rc)
		rc = spe_check_buffers(job, caps);
	return rc;
}

size_t spe_job_out_bytes(const struct spe_job *job)
{
	if (job->opcode != SPATTEN_OP_ATTENTION)
		return 0;
	return (size_t)spatten_hw_tensor_bytes(job->n_heads, job->q_rows,
					       job->head_dim, job->out_fmt);
}
