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
#include <stddef.h>
#include <string.h>

#include "spe.h"
#include "spatten_hw.h"
#include "spe_internal.h"

/* First byte of the version-2 fields: all zero in a version-1 descriptor. */
#define SPE_DESC_V2_START	0x68

static void spe_decode_buf(struct spe_buf *dst, const struct spatten_hw_buf *src)
{
	dst->addr = le64toh(src->addr);
	dst->len = le32toh(src->len);
	dst->offset = le16toh(src->offset);
	dst->flags = le16toh(src->flags);
}

/* Every field of a version 1 or 2 descriptor, host-endian; no judgement. */
static void spe_decode_fields(const struct spatten_hw_desc *d,
			      struct spe_job *job)
{
	memset(job, 0, sizeof(*job));
	job->opcode = le16toh(d->opcode);
	job->stage = d->stage;
	job->flags = le16toh(d->flags);
	job->tag = le32toh(d->tag);
	job->n_heads = le16toh(d->n_heads);
	job->n_kv_heads = job->n_heads;
	job->list_bytes = SPATTEN_LIST_BYTES;
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
	job->version = d->version;
	spe_decode_buf(&job->buf[SPE_PLANE_K_LSB], &d->k_lsb);
	spe_decode_buf(&job->buf[SPE_PLANE_TOK_IMP], &d->tok_imp);
	spe_decode_buf(&job->buf[SPE_PLANE_TOK_ALIVE], &d->tok_alive);
	spe_decode_buf(&job->buf[SPE_PLANE_TOK_KEPT], &d->tok_kept);
	spe_decode_buf(&job->buf[SPE_PLANE_PINNED], &d->pinned);
	spe_decode_buf(&job->buf[SPE_PLANE_HEAD_IMP], &d->head_imp);
	spe_decode_buf(&job->buf[SPE_PLANE_HEAD_ALIVE], &d->head_alive);
	spe_decode_buf(&job->buf[SPE_PLANE_HEAD_KEPT], &d->head_kept);
	job->n_tok_alive = le16toh(d->n_tok_alive);
	job->token_keep = le16toh(d->token_keep);
	job->n_pinned = le16toh(d->n_pinned);
	job->n_head_alive = le16toh(d->n_head_alive);
	job->head_keep = le16toh(d->head_keep);
	job->value_keep = le16toh(d->value_keep);
	job->lsb_threshold = le16toh(d->lsb_threshold);
	job->topk_seed = le32toh(d->topk_seed);
}

/* The same for version 3. */
static void spe_decode_fields_v3(const struct spatten_hw_desc_v3 *d,
				 struct spe_job *job)
{
	memset(job, 0, sizeof(*job));
	job->opcode = le16toh(d->opcode);
	job->stage = d->stage;
	job->flags = le16toh(d->flags);
	job->tag = le32toh(d->tag);
	job->version = d->version;
	job->n_heads = le16toh(d->n_heads);
	job->n_kv_heads = le16toh(d->n_kv_heads);
	job->head_dim = le16toh(d->head_dim);
	job->q_rows = le32toh(d->q_rows);
	job->kv_rows = le32toh(d->kv_rows);
	job->q_start = le32toh(d->q_start);
	job->q_fmt = d->q_fmt;
	job->q_frac = d->q_frac;
	job->k_fmt = d->k_fmt;
	job->k_frac = d->k_frac;
	job->v_fmt = d->v_fmt;
	job->v_frac = d->v_frac;
	job->out_fmt = d->out_fmt;
	job->out_frac = d->out_frac;
	job->n_tok_alive = le32toh(d->n_tok_alive);
	job->token_keep = le32toh(d->token_keep);
	job->n_pinned = le32toh(d->n_pinned);
	job->value_keep = le32toh(d->value_keep);
	job->n_head_alive = le16toh(d->n_head_alive);
	job->head_keep = le16toh(d->head_keep);
	job->lsb_threshold = le16toh(d->lsb_threshold);
	job->topk_seed = le32toh(d->topk_seed);
	job->score_scale = le32toh(d->score_scale);
	job->rope_base = le32toh(d->rope_base);
	job->kv_block_rows = le32toh(d->kv_block_rows);
	job->kv_head_stride = le32toh(d->kv_head_stride);
	job->kv_row_stride = le32toh(d->kv_row_stride);
	job->kv_block_stride = le32toh(d->kv_block_stride);
	job->list_bytes = SPATTEN_LIST_BYTES_V3;
	spe_decode_buf(&job->buf[SPE_PLANE_Q], &d->q);
	spe_decode_buf(&job->buf[SPE_PLANE_K_MSB], &d->k);
	spe_decode_buf(&job->buf[SPE_PLANE_V], &d->v);
	spe_decode_buf(&job->buf[SPE_PLANE_OUT], &d->out);
	spe_decode_buf(&job->buf[SPE_PLANE_K_LSB], &d->k_lsb);
	spe_decode_buf(&job->buf[SPE_PLANE_TOK_IMP], &d->tok_imp);
	spe_decode_buf(&job->buf[SPE_PLANE_TOK_ALIVE], &d->tok_alive);
	spe_decode_buf(&job->buf[SPE_PLANE_TOK_KEPT], &d->tok_kept);
	spe_decode_buf(&job->buf[SPE_PLANE_PINNED], &d->pinned);
	spe_decode_buf(&job->buf[SPE_PLANE_HEAD_IMP], &d->head_imp);
	spe_decode_buf(&job->buf[SPE_PLANE_HEAD_ALIVE], &d->head_alive);
	spe_decode_buf(&job->buf[SPE_PLANE_HEAD_KEPT], &d->head_kept);
	spe_decode_buf(&job->buf[SPE_PLANE_BLOCK_TABLE], &d->block_table);
	spe_decode_buf(&job->buf[SPE_PLANE_POSITIONS], &d->positions);
	spe_decode_buf(&job->buf[SPE_PLANE_HEAD_FRACS], &d->head_fracs);
}

/* Flags a descriptor version knows. */
static uint16_t spe_known_flags(uint8_t version)
{
	if (version >= SPATTEN_DESC_VERSION_V3)
		return SPATTEN_DESC_F_ALL_V3;
	return version >= 2 ? SPATTEN_DESC_F_ALL : SPATTEN_DESC_F_CAUSAL;
}

/*
 * Check 1: version and size: versions 1 and 2 are SPATTEN_DESC_SIZE
 * bytes, version 3 SPATTEN_DESC_V3_SIZE and only where the device has it
 * and the SQ entry holds it.
 */
static int spe_check_version(uint8_t version, uint16_t desc_size,
			     size_t entry_size, const struct spe_caps *caps)
{
	if (entry_size < SPATTEN_DESC_SIZE)
		return SPATTEN_HW_ERR_VERSION;
	if (version >= SPATTEN_DESC_VERSION_MIN &&
	    version <= SPATTEN_DESC_VERSION)
		return desc_size == SPATTEN_DESC_SIZE ? SPATTEN_HW_OK :
							SPATTEN_HW_ERR_VERSION;
	if (version != SPATTEN_DESC_VERSION_V3 ||
	    desc_size != SPATTEN_DESC_V3_SIZE || entry_size < desc_size ||
	    !(caps->features & SPATTEN_FEAT_DESC_V3))
		return SPATTEN_HW_ERR_VERSION;
	return SPATTEN_HW_OK;
}

/* Checks 2-3: what kind of job this is. */
static int spe_check_header(const struct spe_job *job)
{
	if (job->opcode != SPATTEN_OP_NOP && job->opcode != SPATTEN_OP_ATTENTION)
		return SPATTEN_HW_ERR_OPCODE;
	/* PROGRESSIVE is a version-2 flag: unknown to version 1, etc. */
	if (job->flags & ~spe_known_flags(job->version))
		return SPATTEN_HW_ERR_FLAGS;
	if (job->stage != SPATTEN_STAGE_SUMMARIZATION &&
	    job->stage != SPATTEN_STAGE_GENERATION)
		return SPATTEN_HW_ERR_FLAGS;
	return SPATTEN_HW_OK;
}

static int spe_bytes_zero(const void *p, size_t from, size_t to)
{
	const uint8_t *b = p;
	size_t i;

	for (i = from; i < to; i++)
		if (b[i])
			return 0;
	return 1;
}

/*
 * Check 4: reserved fields, compared raw (zero in any byte order); a
 * version-1 descriptor has every byte from 0x68 on zero.
 */
static int spe_check_reserved_v3(const struct spatten_hw_desc_v3 *d)
{
	if (d->rsvd0 || d->rsvd1 || d->rsvd2 || d->rsvd3 ||
	    !spe_bytes_zero(d->rsvd4, 0, sizeof(d->rsvd4)) ||
	    !spe_bytes_zero(d->rsvd5, 0, sizeof(d->rsvd5)))
		return SPATTEN_HW_ERR_RESERVED;
	return SPATTEN_HW_OK;
}

static int spe_check_reserved(const struct spatten_hw_desc *d)
{
	if (d->rsvd0 || d->rsvd1 || d->rsvd2 || d->rsvd3 || d->rsvd4)
		return SPATTEN_HW_ERR_RESERVED;
	if (d->version < 2 &&
	    !spe_bytes_zero(d, SPE_DESC_V2_START, sizeof(*d)))
		return SPATTEN_HW_ERR_RESERVED;
	return SPATTEN_HW_OK;
}

static int spe_buf_is_zero(const struct spe_buf *b)
{
	return !b->addr && !b->len && !b->offset && !b->flags;
}

/*
 * Check 5: a NOP carries no shape, format, buffer or pruning field: every
 * byte after rsvd0 is zero (tag, flags and stage are allowed). Both
 * layouts put n_heads at 0x10.
 */
static int spe_check_nop(const void *d, size_t size)
{
	if (!spe_bytes_zero(d, offsetof(struct spatten_hw_desc, n_heads), size))
		return SPATTEN_HW_ERR_RESERVED;
	return SPATTEN_HW_OK;
}

static int spe_is_pow2(uint32_t x)
{
	return x && !(x & (x - 1));
}

/* Token lists, token pruning or token importance: the token machinery. */
static int spe_uses_token_pruning(const struct spe_job *job)
{
	return job->token_keep || job->n_tok_alive || job->n_pinned ||
	       job->buf[SPE_PLANE_TOK_IMP].len;
}

/* Check 6: shape against the capabilities, then the features used. */
static int spe_check_shape(const struct spe_job *job,
			   const struct spe_caps *caps)
{
	int generation = job->stage == SPATTEN_STAGE_GENERATION;
	int causal = !!(job->flags & SPATTEN_DESC_F_CAUSAL);

	if (job->n_heads < 1 || job->n_heads > caps->max_heads)
		return SPATTEN_HW_ERR_SHAPE;
	if (job->n_kv_heads < 1 || job->n_kv_heads > job->n_heads ||
	    job->n_heads % job->n_kv_heads)
		return SPATTEN_HW_ERR_SHAPE;
	/* head_dim is 16 bits, so "bit n set" is simply head_dim & mask. */
	if (!spe_is_pow2(job->head_dim) || !(caps->head_dims & job->head_dim))
		return SPATTEN_HW_ERR_SHAPE;
	if (job->q_rows < 1 || job->q_rows > caps->max_context)
		return SPATTEN_HW_ERR_SHAPE;
	if (job->kv_rows < 1 || job->kv_rows > caps->max_context)
		return SPATTEN_HW_ERR_SHAPE;
	/* A chunk (q_rows > 1 new tokens): version 3 on a CHUNKS device. */
	if (generation && job->q_rows != 1 &&
	    (job->version != SPATTEN_DESC_VERSION_V3 ||
	     !(caps->features & SPATTEN_FEAT_CHUNKS)))
		return SPATTEN_HW_ERR_SHAPE;

	if (generation && !(caps->features & SPATTEN_FEAT_GENERATION))
		return SPATTEN_HW_ERR_FLAGS;
	if (causal && !(caps->features & SPATTEN_FEAT_CAUSAL))
		return SPATTEN_HW_ERR_FLAGS;
	if ((job->flags & SPATTEN_DESC_F_PROGRESSIVE) &&
	    !(caps->features & SPATTEN_FEAT_PROGRESSIVE))
		return SPATTEN_HW_ERR_FLAGS;
	if (spe_uses_token_pruning(job) &&
	    !(caps->features & SPATTEN_FEAT_TOKEN_PRUNE))
		return SPATTEN_HW_ERR_FLAGS;
	if ((job->head_keep || job->n_head_alive ||
	     job->buf[SPE_PLANE_HEAD_IMP].len) &&
	    !(caps->features & SPATTEN_FEAT_HEAD_PRUNE))
		return SPATTEN_HW_ERR_FLAGS;
	if (job->value_keep && !(caps->features & SPATTEN_FEAT_VALUE_PRUNE))
		return SPATTEN_HW_ERR_FLAGS;
	if (job->n_kv_heads != job->n_heads &&
	    !(caps->features & SPATTEN_FEAT_GQA))
		return SPATTEN_HW_ERR_FLAGS;
	if ((job->kv_head_stride || job->kv_row_stride ||
	     job->kv_block_stride || job->kv_block_rows) &&
	    !(caps->features & SPATTEN_FEAT_KV_LAYOUT))
		return SPATTEN_HW_ERR_FLAGS;
	if ((job->flags & SPATTEN_DESC_F_ROPE) &&
	    !(caps->features & SPATTEN_FEAT_ROPE))
		return SPATTEN_HW_ERR_FLAGS;
	/* A position list is only read for RoPE. */
	if ((job->flags & SPATTEN_DESC_F_ROPE_POSITIONS) &&
	    !(job->flags & SPATTEN_DESC_F_ROPE))
		return SPATTEN_HW_ERR_FLAGS;
	/*
	 * Importance per KV head: a feature; and no token pruning, whose one
	 * slot selection would serve caches holding different tokens.
	 */
	if ((job->flags & SPATTEN_DESC_F_IMP_PER_KV_HEAD) &&
	    (!(caps->features & SPATTEN_FEAT_IMP_PER_KV_HEAD) ||
	     job->token_keep))
		return SPATTEN_HW_ERR_FLAGS;
	return SPATTEN_HW_OK;
}

/*
 * Check 7: where the query rows sit among the keys (64-bit sums of
 * 32-bit fields). With RoPE a query row takes the position of its slot,
 * so the query rows must be slots.
 */
static int spe_check_position(const struct spe_job *job)
{
	uint64_t q_end = (uint64_t)job->q_start + job->q_rows;

	if (job->flags & SPATTEN_DESC_F_CAUSAL) {
		if (q_end > job->kv_rows)
			return SPATTEN_HW_ERR_POSITION;
	} else if (job->q_start != 0) {
		return SPATTEN_HW_ERR_POSITION;
	}
	if ((job->flags & SPATTEN_DESC_F_ROPE_POSITIONS) && q_end > job->kv_rows)
		return SPATTEN_HW_ERR_POSITION;
	/* Generation: the new tokens end the slots; a chunk is causal. */
	if (job->stage == SPATTEN_STAGE_GENERATION &&
	    (q_end != job->kv_rows ||
	     (job->q_rows > 1 && !(job->flags & SPATTEN_DESC_F_CAUSAL))))
		return SPATTEN_HW_ERR_POSITION;
	/* Summarization over a token subset: query row i is token i. */
	if (job->stage == SPATTEN_STAGE_SUMMARIZATION &&
	    (job->n_tok_alive || job->token_keep) &&
	    (job->q_rows != job->kv_rows || job->q_start != 0))
		return SPATTEN_HW_ERR_POSITION;
	return SPATTEN_HW_OK;
}

/* A format the device advertises and the engine implements. */
static int spe_format_ok(uint8_t fmt, uint8_t frac,
			 const struct spe_caps *caps)
{
	if (fmt >= SPATTEN_FMT_NUM || !(caps->formats & (1u << fmt)))
		return 0;
	return frac <= 15;
}

/*
 * Check 8: element formats and fractional bits of Q, K, V, out in turn
 * (Q and out S16 only), then the progressive split: an Sn MSB plane (not
 * S16) whose n is in caps->splits.
 */
static int spe_check_formats(const struct spe_job *job,
			     const struct spe_caps *caps)
{
	/* with a table of fractions per head, the job's own are 0 */
	if ((job->flags & SPATTEN_DESC_F_HEAD_FRACS) &&
	    (job->q_frac || job->k_frac || job->v_frac || job->out_frac))
		return SPATTEN_HW_ERR_FORMAT;
	if (!spe_format_ok(job->q_fmt, job->q_frac, caps) ||
	    job->q_fmt != SPATTEN_FMT_S16 ||
	    !spe_format_ok(job->k_fmt, job->k_frac, caps) ||
	    !spe_format_ok(job->v_fmt, job->v_frac, caps) ||
	    !spe_format_ok(job->out_fmt, job->out_frac, caps) ||
	    job->out_fmt != SPATTEN_FMT_S16)
		return SPATTEN_HW_ERR_FORMAT;
	if (job->flags & SPATTEN_DESC_F_PROGRESSIVE) {
		uint32_t bits = spatten_hw_fmt_bits(job->k_fmt);

		if (job->k_fmt == SPATTEN_FMT_S16 ||
		    !(caps->splits & (1u << bits)))
			return SPATTEN_HW_ERR_FORMAT;
	}
	return SPATTEN_HW_OK;
}

/*
 * Check 9: keep counts against each other and the shape. Candidates at
 * most: the listed tokens plus the new ones of a generation step (one
 * outside generation too, as versions 1 and 2 always had it).
 */
static int spe_check_keep(const struct spe_job *job)
{
	uint32_t heads = job->n_head_alive ? job->n_head_alive : job->n_heads;
	uint32_t extra = job->stage == SPATTEN_STAGE_GENERATION ?
			 job->q_rows : 1;
	uint64_t cands = job->n_tok_alive ? (uint64_t)job->n_tok_alive + extra :
					    job->kv_rows;

	if (job->n_tok_alive > job->kv_rows || job->n_pinned > job->kv_rows ||
	    job->n_head_alive > job->n_heads || job->head_keep > heads ||
	    job->token_keep > cands || job->value_keep > job->kv_rows ||
	    job->lsb_threshold > SPE_PROB_ONE)
		return SPATTEN_HW_ERR_KEEP;
	if (job->n_pinned && !job->token_keep)
		return SPATTEN_HW_ERR_KEEP;
	return SPATTEN_HW_OK;
}

/* Check 10 (version 3): the KV layout (spatten_hw_kv_layout_ok()). */
int spe_check_layout(const struct spe_job *job)
{
	if (!spatten_hw_kv_layout_ok(job->n_kv_heads, job->kv_head_stride,
				     job->kv_row_stride, job->kv_block_stride,
				     job->kv_block_rows))
		return SPATTEN_HW_ERR_LAYOUT;
	return SPATTEN_HW_OK;
}

/* Check 11 (version 3): score_scale and rope_base (spatten_hw_params_ok()). */
int spe_check_params(const struct spe_job *job)
{
	if (!spatten_hw_params_ok(job->flags, job->score_scale, job->rope_base,
				  job->q_frac + job->k_frac))
		return SPATTEN_HW_ERR_PARAM;
	return SPATTEN_HW_OK;
}

/* Entries of tok_imp: kv_rows, per KV head with F_IMP_PER_KV_HEAD. */
uint64_t spe_tok_imp_count(const struct spe_job *job)
{
	uint64_t n = job->kv_rows;

	if (job->flags & SPATTEN_DESC_F_IMP_PER_KV_HEAD)
		n *= job->n_kv_heads;
	return n;
}

/* Bytes a K, K-LSB or V buffer of @bits-bit elements must hold. */
uint64_t spe_kv_plane_bytes(const struct spe_job *job, uint32_t bits)
{
	return spatten_hw_kv_plane_bytes(job->n_kv_heads, job->kv_rows,
					 job->kv_head_stride,
					 job->kv_row_stride,
					 job->kv_block_rows,
					 spe_row_bytes(job->head_dim, bits));
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

/*
 * Whether an optional reference must be present (1), must be absent (0)
 * or may be either (-1).
 */
static int spe_buf_wanted(const struct spe_job *job, enum spe_plane p)
{
	switch (p) {
	case SPE_PLANE_K_LSB:
		return !!(job->flags & SPATTEN_DESC_F_PROGRESSIVE);
	case SPE_PLANE_TOK_IMP:
		return job->token_keep ||
		       (job->flags & SPATTEN_DESC_F_IMP_PER_KV_HEAD) ? 1 : -1;
	case SPE_PLANE_TOK_ALIVE:
		return !!job->n_tok_alive;
	case SPE_PLANE_TOK_KEPT:
		return !!job->token_keep;
	case SPE_PLANE_PINNED:
		return !!job->n_pinned;
	case SPE_PLANE_HEAD_IMP:
		return job->head_keep ? 1 : -1;
	case SPE_PLANE_HEAD_ALIVE:
		return !!job->n_head_alive;
	case SPE_PLANE_HEAD_KEPT:
		return !!job->head_keep;
	case SPE_PLANE_BLOCK_TABLE:
		return !!job->kv_block_rows;
	case SPE_PLANE_POSITIONS:
		return !!(job->flags & SPATTEN_DESC_F_ROPE_POSITIONS);
	case SPE_PLANE_HEAD_FRACS:
		return !!(job->flags & SPATTEN_DESC_F_HEAD_FRACS);
	default:
		return 1;
	}
}

/*
 * Check 12: the buffers in descriptor order (q, k, v, out, k_lsb, tok_imp,
 * tok_alive, tok_kept, pinned, head_imp, head_alive, head_kept and, in
 * version 3, block_table, positions). K, K-LSB and V must hold every row
 * the KV layout reaches (spe_kv_plane_bytes()). An absent
 * reference (len 0) must be all zero; presence must match the counts and
 * flags; a present one is checked as in version 1 against its size.
 */
static int spe_check_buffers(const struct spe_job *job,
			     const struct spe_caps *caps)
{
	static const enum spe_plane order[] = {
		SPE_PLANE_Q, SPE_PLANE_K_MSB, SPE_PLANE_V, SPE_PLANE_OUT,
		SPE_PLANE_K_LSB, SPE_PLANE_TOK_IMP, SPE_PLANE_TOK_ALIVE,
		SPE_PLANE_TOK_KEPT, SPE_PLANE_PINNED, SPE_PLANE_HEAD_IMP,
		SPE_PLANE_HEAD_ALIVE, SPE_PLANE_HEAD_KEPT,
		SPE_PLANE_BLOCK_TABLE, SPE_PLANE_POSITIONS,
		SPE_PLANE_HEAD_FRACS,
	};
	uint64_t lb = job->list_bytes;
	uint64_t blocks = spatten_hw_kv_blocks(job->kv_rows,
					       job->kv_block_rows);
	uint64_t need[SPE_PLANE_COUNT] = {
		[SPE_PLANE_Q] = spatten_hw_tensor_bytes(job->n_heads,
							job->q_rows,
							job->head_dim,
							job->q_fmt),
		[SPE_PLANE_K_MSB] = spe_kv_plane_bytes(job,
						spatten_hw_fmt_bits(job->k_fmt)),
		[SPE_PLANE_V] = spe_kv_plane_bytes(job,
					spatten_hw_fmt_bits(job->v_fmt)),
		[SPE_PLANE_OUT] = spatten_hw_tensor_bytes(job->n_heads,
							  job->q_rows,
							  job->head_dim,
							  job->out_fmt),
		[SPE_PLANE_K_LSB] = spe_kv_plane_bytes(job, SPATTEN_LSB_BITS),
		[SPE_PLANE_TOK_IMP] = spe_tok_imp_count(job) * SPATTEN_IMP_BYTES,
		[SPE_PLANE_TOK_ALIVE] = job->n_tok_alive * lb,
		[SPE_PLANE_TOK_KEPT] = job->token_keep * lb,
		[SPE_PLANE_PINNED] = job->n_pinned * lb,
		[SPE_PLANE_HEAD_IMP] = (uint64_t)job->n_heads * SPATTEN_IMP_BYTES,
		[SPE_PLANE_HEAD_ALIVE] = job->n_head_alive * lb,
		[SPE_PLANE_HEAD_KEPT] = job->head_keep * lb,
		[SPE_PLANE_BLOCK_TABLE] = blocks * SPATTEN_BLOCK_ENTRY_BYTES,
		[SPE_PLANE_POSITIONS] = (uint64_t)job->kv_rows *
					SPATTEN_POSITION_BYTES,
		[SPE_PLANE_HEAD_FRACS] = 2 * ((uint64_t)job->n_heads +
					      job->n_kv_heads),
	};
	size_t i;
	int rc;

	for (i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
		const struct spe_buf *b = &job->buf[order[i]];
		int wanted = spe_buf_wanted(job, order[i]);

		if (!b->len) {
			/* Absent: wholly zero, and allowed to be absent. */
			if (!spe_buf_is_zero(b) || wanted == 1)
				return SPATTEN_HW_ERR_BUFFER;
			continue;
		}
		if (wanted == 0)
			return SPATTEN_HW_ERR_BUFFER;
		rc = spe_check_buf(b, need[order[i]], caps);
		if (rc)
			return rc;
	}
	return SPATTEN_HW_OK;
}

/* Checks 6-12 of an ATTENTION job, whatever its version. */
static int spe_check_job(const struct spe_job *job, const struct spe_caps *caps)
{
	int rc;

	rc = spe_check_shape(job, caps);
	if (!rc)
		rc = spe_check_position(job);
	if (!rc)
		rc = spe_check_formats(job, caps);
	if (!rc)
		rc = spe_check_keep(job);
	if (!rc)
		rc = spe_check_layout(job);
	if (!rc)
		rc = spe_check_params(job);
	if (!rc)
		rc = spe_check_buffers(job, caps);
	return rc;
}

int spe_desc_decode(const void *desc, size_t entry_size,
		    const struct spe_caps *caps, struct spe_job *job)
{
	union {
		struct spatten_hw_desc v2;
		struct spatten_hw_desc_v3 v3;
	} d;
	size_t size = entry_size < sizeof(d) ? entry_size : sizeof(d);
	int rc;

	/* One snapshot: every check and the job see the same bytes. */
	memset(&d, 0, sizeof(d));
	memcpy(&d, desc, size);
	if (d.v2.version == SPATTEN_DESC_VERSION_V3)
		spe_decode_fields_v3(&d.v3, job);
	else
		spe_decode_fields(&d.v2, job);

	rc = spe_check_version(d.v2.version, le16toh(d.v2.desc_size),
			       entry_size, caps);
	if (!rc)
		rc = spe_check_header(job);
	if (!rc)
		rc = job->version == SPATTEN_DESC_VERSION_V3 ?
		     spe_check_reserved_v3(&d.v3) : spe_check_reserved(&d.v2);
	if (rc)
		return rc;
	if (job->opcode == SPATTEN_OP_NOP)
		return spe_check_nop(&d, job->version == SPATTEN_DESC_VERSION_V3 ?
					 sizeof(d.v3) : sizeof(d.v2));
	return spe_check_job(job, caps);
}
