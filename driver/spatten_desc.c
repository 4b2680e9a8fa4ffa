// SPDX-License-Identifier: GPL-2.0
/*
 * SpAtten driver: job validation and descriptor building. A job is checked
 * as the device would check it at decode (docs/hardware.md), so a job that
 * passes never faults the device on its fields; its operands are resolved
 * to buffer page lists of the submitting file.
 */
#include <linux/log2.h>
#include <linux/string.h>

#include <drm/drm_gem.h>

#include "spatten_drv.h"
#include "spatten_gem.h"
#include "spatten_job.h"

/* Largest fractional bit count of a 16-bit fixed-point element. */
#define SPATTEN_MAX_FRAC	15

/* Largest lsb_threshold: a probability of 1.0 in units of 2^-15. */
#define SPATTEN_MAX_LSB_THRESHOLD	BIT(15)

/* The UAPI names the hardware's own values (tests/host pins both). */
static_assert(DRM_SPATTEN_OP_NOP == SPATTEN_OP_NOP);
static_assert(DRM_SPATTEN_OP_ATTENTION == SPATTEN_OP_ATTENTION);
static_assert(DRM_SPATTEN_STAGE_GENERATION == SPATTEN_STAGE_GENERATION);
static_assert(DRM_SPATTEN_JOB_CAUSAL == SPATTEN_DESC_F_CAUSAL);
static_assert(DRM_SPATTEN_JOB_PROGRESSIVE == SPATTEN_DESC_F_PROGRESSIVE);
static_assert(DRM_SPATTEN_FMT_S12 == SPATTEN_FMT_S12);
static_assert(DRM_SPATTEN_DESC_V2 == SPATTEN_DESC_VERSION);
static_assert(DRM_SPATTEN_DESC_V3 == SPATTEN_DESC_VERSION_V3);
static_assert(DRM_SPATTEN_JOB_ROPE == SPATTEN_DESC_F_ROPE);
static_assert(DRM_SPATTEN_JOB_ROPE_POSITIONS == SPATTEN_DESC_F_ROPE_POSITIONS);
static_assert(DRM_SPATTEN_JOB_HEAD_FRACS == SPATTEN_DESC_F_HEAD_FRACS);
static_assert(DRM_SPATTEN_STATUS_ERR_PARAM == SPATTEN_HW_ERR_PARAM);
static_assert(DRM_SPATTEN_STATUS_ERR_PARAM == SPATTEN_HW_STATUS_MAX);
static_assert(DRM_SPATTEN_FEAT_ROPE == SPATTEN_FEAT_ROPE);
static_assert(DRM_SPATTEN_FEAT_CHUNKS == SPATTEN_FEAT_CHUNKS);
static_assert(DRM_SPATTEN_JOB_IMP_PER_KV_HEAD ==
	      SPATTEN_DESC_F_IMP_PER_KV_HEAD);
static_assert(DRM_SPATTEN_FEAT_IMP_PER_KV_HEAD ==
	      SPATTEN_FEAT_IMP_PER_KV_HEAD);
static_assert(DRM_SPATTEN_STATUS_ERR_LIST == SPATTEN_HW_ERR_LIST);
static_assert(DRM_SPATTEN_STATUS_ABORTED == SPATTEN_HW_ERR_ABORTED);
static_assert(DRM_SPATTEN_FEAT_PROGRESSIVE == SPATTEN_FEAT_PROGRESSIVE);
static_assert(DRM_SPATTEN_CNT_HW_NUM == SPATTEN_CNT_NUM);

static bool spatten_fmt_ok(const struct spatten_caps *caps, u8 fmt, u8 frac)
{
	return fmt < 32 && (caps->formats & BIT(fmt)) &&
	       spatten_hw_fmt_bits(fmt) && frac <= SPATTEN_MAX_FRAC;
}

/*
 * The rows and counts of a job whatever its version: 16-bit fields for
 * versions 1 and 2, the 32-bit ones of the version 3 tail otherwise.
 */
struct spatten_job_dims {
	u32 q_rows, kv_rows, q_start;
	u32 n_tok_alive, token_keep, n_pinned, value_keep;
	u32 n_kv_heads;
	u32 list_bytes;
};

static void spatten_job_dims(const struct drm_spatten_job *uj,
			     struct spatten_job_dims *dm)
{
	if (uj->version == SPATTEN_DESC_VERSION_V3) {
		dm->q_rows = uj->q_rows32;
		dm->kv_rows = uj->kv_rows32;
		dm->q_start = uj->q_start32;
		dm->n_tok_alive = uj->n_tok_alive32;
		dm->token_keep = uj->token_keep32;
		dm->n_pinned = uj->n_pinned32;
		dm->value_keep = uj->value_keep32;
		dm->n_kv_heads = uj->n_kv_heads;
		dm->list_bytes = SPATTEN_LIST_BYTES_V3;
		return;
	}
	dm->q_rows = uj->q_rows;
	dm->kv_rows = uj->kv_rows;
	dm->q_start = uj->q_start;
	dm->n_tok_alive = uj->n_tok_alive;
	dm->token_keep = uj->token_keep;
	dm->n_pinned = uj->n_pinned;
	dm->value_keep = uj->value_keep;
	dm->n_kv_heads = uj->n_heads;
	dm->list_bytes = SPATTEN_LIST_BYTES;
}

/* The operands of a job in enum spatten_tensor_idx order. */
static const struct drm_spatten_tensor *
spatten_job_tensor(const struct drm_spatten_job *uj, unsigned int idx)
{
	const struct drm_spatten_tensor *t[SPATTEN_T_NUM] = {
		&uj->q, &uj->k, &uj->v, &uj->out, &uj->k_lsb, &uj->tok_imp,
		&uj->tok_alive, &uj->tok_kept, &uj->pinned, &uj->head_imp,
		&uj->head_alive, &uj->head_kept, &uj->block_table,
		&uj->positions, &uj->head_fracs,
	};

	return t[idx];
}

/*
 * Versions 1 and 2 leave the version 3 tail zero; version 3 leaves the
 * 16-bit row fields it replaces zero.
 */
static bool spatten_job_fields_ok(const struct drm_spatten_job *uj)
{
	size_t tail = offsetof(struct drm_spatten_job, q_rows32);

	if (uj->version != SPATTEN_DESC_VERSION_V3)
		return !memchr_inv((const u8 *)uj + tail, 0, sizeof(*uj) - tail);
	return !(uj->q_rows || uj->kv_rows || uj->q_start || uj->n_tok_alive ||
		 uj->token_keep || uj->n_pinned || uj->value_keep ||
		 uj->rsvd4);
}

/* Does the job name any version 2 operand, count or field? */
static bool spatten_job_has_v2(const struct drm_spatten_job *uj)
{
	unsigned int i;

	for (i = SPATTEN_T_K_LSB; i < SPATTEN_T_NUM_V2; i++) {
		const struct drm_spatten_tensor *t = spatten_job_tensor(uj, i);

		if (t->handle || t->flags || t->offset)
			return true;
	}
	return uj->n_tok_alive || uj->token_keep || uj->n_pinned ||
	       uj->n_head_alive || uj->head_keep || uj->value_keep ||
	       uj->lsb_threshold || uj->rsvd2 || uj->topk_seed || uj->rsvd3 ||
	       (uj->flags & SPATTEN_DESC_F_PROGRESSIVE);
}

/* An optional operand is present exactly when @required says so. */
static bool spatten_presence_ok(const struct drm_spatten_tensor *t, bool required)
{
	return !!t->handle == required;
}

/**
 * spatten_job_check_v2() - static checks of the pruning and progressive
 * fields: features, presence of the optional operands, keep counts
 * @caps: capabilities
 * @uj: an attention job whose version 1 fields passed
 * @dm: its rows and counts
 *
 * The same checks the device makes at decode (docs/hardware.md, "Checks at
 * run time"); the lists themselves are checked by the device.
 *
 * Return: 0 or -EINVAL.
 */
static int spatten_job_check_v2(const struct spatten_caps *caps,
				const struct drm_spatten_job *uj,
				const struct spatten_job_dims *dm)
{
	bool progressive = uj->flags & SPATTEN_DESC_F_PROGRESSIVE;
	u64 tok_limit;
	u32 head_limit;

	if (uj->rsvd2 || uj->rsvd3)
		return -EINVAL;

	/* Features. */
	if (progressive) {
		u32 bits = spatten_hw_fmt_bits(uj->k_fmt);

		if (!(caps->features & SPATTEN_FEAT_PROGRESSIVE) ||
		    uj->k_fmt == SPATTEN_FMT_S16 || bits >= 32 ||
		    !(caps->splits & BIT(bits)))
			return -EINVAL;
	}
	if (dm->token_keep && !(caps->features & SPATTEN_FEAT_TOKEN_PRUNE))
		return -EINVAL;
	if (uj->head_keep && !(caps->features & SPATTEN_FEAT_HEAD_PRUNE))
		return -EINVAL;
	if (dm->value_keep && !(caps->features & SPATTEN_FEAT_VALUE_PRUNE))
		return -EINVAL;

	/* Summarization with a token list or pruning: query row i is token i. */
	if (uj->stage == SPATTEN_STAGE_SUMMARIZATION &&
	    (dm->n_tok_alive || dm->token_keep) &&
	    (dm->q_rows != dm->kv_rows || dm->q_start))
		return -EINVAL;

	/* Keep counts, as the device checks them at decode. */
	if (dm->n_tok_alive > dm->kv_rows || dm->n_pinned > dm->kv_rows ||
	    uj->n_head_alive > uj->n_heads || dm->value_keep > dm->kv_rows ||
	    uj->lsb_threshold > SPATTEN_MAX_LSB_THRESHOLD)
		return -EINVAL;
	head_limit = uj->n_head_alive ? uj->n_head_alive : uj->n_heads;
	/* the listed tokens and the new ones (one outside generation) */
	tok_limit = dm->n_tok_alive ? dm->n_tok_alive + 1ull : dm->kv_rows;
	if (dm->n_tok_alive && uj->stage == SPATTEN_STAGE_GENERATION)
		tok_limit = (u64)dm->n_tok_alive + dm->q_rows;
	if (uj->head_keep > head_limit || dm->token_keep > tok_limit)
		return -EINVAL;
	if (dm->n_pinned && !dm->token_keep)
		return -EINVAL;

	/* Presence: required exactly when a count or flag asks for it. */
	if (!spatten_presence_ok(&uj->k_lsb, progressive) ||
	    !spatten_presence_ok(&uj->tok_alive, dm->n_tok_alive) ||
	    !spatten_presence_ok(&uj->tok_kept, dm->token_keep) ||
	    !spatten_presence_ok(&uj->pinned, dm->n_pinned) ||
	    !spatten_presence_ok(&uj->head_alive, uj->n_head_alive) ||
	    !spatten_presence_ok(&uj->head_kept, uj->head_keep))
		return -EINVAL;
	if ((dm->token_keep && !uj->tok_imp.handle) ||
	    (uj->head_keep && !uj->head_imp.handle))
		return -EINVAL;
	return 0;
}

/**
 * spatten_job_check_v3() - the fields of descriptor version 3: KV heads,
 * KV layout, RoPE, score scale, and their operands
 * @caps: capabilities
 * @uj: a version 3 attention job
 * @dm: its rows and counts
 *
 * The rules of spatten_hw.h's inline helpers, which the device applies
 * (ERR_SHAPE, ERR_FLAGS, ERR_LAYOUT, ERR_PARAM, ERR_BUFFER); the block
 * table's entries are checked by the device (ERR_BLOCK).
 *
 * Return: 0 or -EINVAL.
 */
static int spatten_job_check_v3(const struct spatten_caps *caps,
				const struct drm_spatten_job *uj,
				const struct spatten_job_dims *dm)
{
	bool rope = uj->flags & SPATTEN_DESC_F_ROPE;
	bool positions = uj->flags & SPATTEN_DESC_F_ROPE_POSITIONS;
	bool head_fracs = uj->flags & SPATTEN_DESC_F_HEAD_FRACS;
	bool imp_per_kv = uj->flags & SPATTEN_DESC_F_IMP_PER_KV_HEAD;
	bool layout = uj->kv_head_stride || uj->kv_row_stride ||
		      uj->kv_block_stride || uj->kv_block_rows;

	if (!dm->n_kv_heads || dm->n_kv_heads > uj->n_heads ||
	    uj->n_heads % dm->n_kv_heads)
		return -EINVAL;
	if ((dm->n_kv_heads != uj->n_heads &&
	     !(caps->features & SPATTEN_FEAT_GQA)) ||
	    (layout && !(caps->features & SPATTEN_FEAT_KV_LAYOUT)) ||
	    (rope && !(caps->features & SPATTEN_FEAT_ROPE)) ||
	    (positions && !rope))
		return -EINVAL;
	/*
	 * Importance per KV head: the feature, its tok_imp plane, and no
	 * token pruning (one slot selection for caches of different tokens).
	 */
	if (imp_per_kv &&
	    (!(caps->features & SPATTEN_FEAT_IMP_PER_KV_HEAD) ||
	     !uj->tok_imp.handle || dm->token_keep))
		return -EINVAL;
	if (positions && (u64)dm->q_start + dm->q_rows > dm->kv_rows)
		return -EINVAL;
	if (!spatten_hw_kv_layout_ok(dm->n_kv_heads, uj->kv_head_stride,
				     uj->kv_row_stride, uj->kv_block_stride,
				     uj->kv_block_rows) ||
	    !spatten_hw_params_ok(uj->flags, uj->score_scale, uj->rope_base,
				  uj->q_frac + uj->k_frac))
		return -EINVAL;
	if (!spatten_presence_ok(&uj->block_table, uj->kv_block_rows) ||
	    !spatten_presence_ok(&uj->positions, positions))
		return -EINVAL;
	/* fractions per head: the job's own are 0 (the table is read later) */
	if (!spatten_presence_ok(&uj->head_fracs, head_fracs) ||
	    (head_fracs && (uj->q_frac || uj->k_frac || uj->v_frac ||
			    uj->out_frac)))
		return -EINVAL;
	return 0;
}

/**
 * spatten_job_check() - validate the fields of a job that need no handle
 * @sdev: the board (capabilities)
 * @uj: the job as copied from userspace
 * @dm: receives its rows and counts, whatever its version
 *
 * Return: 0 or -EINVAL.
 */
static int spatten_job_check(const struct spatten_device *sdev,
			     const struct drm_spatten_job *uj,
			     struct spatten_job_dims *dm)
{
	const struct spatten_caps *caps = &sdev->caps;
	bool causal = uj->flags & SPATTEN_DESC_F_CAUSAL;
	bool v3 = uj->version == SPATTEN_DESC_VERSION_V3;
	unsigned int i;

	if (uj->version < SPATTEN_DESC_VERSION_MIN ||
	    (uj->version > SPATTEN_DESC_VERSION && !v3) ||
	    (v3 && !(caps->features & SPATTEN_FEAT_DESC_V3)))
		return -EINVAL;
	if (uj->opcode != SPATTEN_OP_NOP && uj->opcode != SPATTEN_OP_ATTENTION)
		return -EINVAL;
	if (uj->flags & ~(v3 ? SPATTEN_DESC_F_ALL_V3 : SPATTEN_DESC_F_ALL))
		return -EINVAL;
	if (!spatten_job_fields_ok(uj))
		return -EINVAL;
	spatten_job_dims(uj, dm);
	if (uj->stage != SPATTEN_STAGE_SUMMARIZATION &&
	    uj->stage != SPATTEN_STAGE_GENERATION)
		return -EINVAL;
	if (uj->rsvd0 || uj->rsvd1 ||
	    memchr_inv(uj->rsvd, 0, sizeof(uj->rsvd)))
		return -EINVAL;
	for (i = 0; i < SPATTEN_T_NUM; i++)
		if (spatten_job_tensor(uj, i)->flags)
			return -EINVAL;
	/* Version 1: every version 2 field is zero. */
	if (uj->version == 1 && spatten_job_has_v2(uj))
		return -EINVAL;

	if (uj->opcode == SPATTEN_OP_NOP) {
		struct drm_spatten_job rest = *uj;

		/* A NOP carries nothing but its opcode and user data. */
		rest.opcode = 0;
		rest.version = 0;
		rest.user_data = 0;
		return memchr_inv(&rest, 0, sizeof(rest)) ? -EINVAL : 0;
	}

	if (causal && !(caps->features & SPATTEN_FEAT_CAUSAL))
		return -EINVAL;
	if (uj->stage == SPATTEN_STAGE_GENERATION &&
	    !(caps->features & SPATTEN_FEAT_GENERATION))
		return -EINVAL;

	if (!uj->n_heads || uj->n_heads > caps->max_heads)
		return -EINVAL;
	if (!is_power_of_2(uj->head_dim) ||
	    !(caps->head_dims & BIT(ilog2(uj->head_dim))))
		return -EINVAL;
	if (!dm->q_rows || dm->q_rows > caps->max_context ||
	    !dm->kv_rows || dm->kv_rows > caps->max_context)
		return -EINVAL;

	/* The same position rules as the device (engine/spe_desc.c). */
	if (causal) {
		if ((u64)dm->q_start + dm->q_rows > dm->kv_rows)
			return -EINVAL;
	} else if (dm->q_start) {
		return -EINVAL;
	}
	/*
	 * Generation: the new tokens end the slots; more than one (a chunk)
	 * only in version 3, causal, on a board with CHUNKS.
	 */
	if (uj->stage == SPATTEN_STAGE_GENERATION &&
	    ((u64)dm->q_start + dm->q_rows != dm->kv_rows ||
	     (dm->q_rows > 1 && (!v3 || !causal ||
				 !(caps->features & SPATTEN_FEAT_CHUNKS)))))
		return -EINVAL;

	if (!spatten_fmt_ok(caps, uj->q_fmt, uj->q_frac) ||
	    !spatten_fmt_ok(caps, uj->k_fmt, uj->k_frac) ||
	    !spatten_fmt_ok(caps, uj->v_fmt, uj->v_frac) ||
	    !spatten_fmt_ok(caps, uj->out_fmt, uj->out_frac))
		return -EINVAL;
	/* Q and the output are S16; K and V may be packed. */
	if (uj->q_fmt != SPATTEN_FMT_S16 || uj->out_fmt != SPATTEN_FMT_S16)
		return -EINVAL;

	if (v3 && spatten_job_check_v3(caps, uj, dm))
		return -EINVAL;
	return spatten_job_check_v2(caps, uj, dm);
}

/**
 * spatten_job_bind() - resolve one operand and build its buffer reference
 * @file: the submitting file
 * @job: the job; receives a reference on the buffer
 * @idx: which operand
 * @t: the operand as userspace named it
 * @bytes: size of the operand
 * @align: required alignment of @t->offset in bytes
 * @to_end: the reference covers the buffer from @t->offset to its end
 *	(capped at 4 GiB - 1): a paged KV plane, whose blocks may be anywhere
 * @hb: the descriptor's buffer reference to fill
 *
 * Return: 0; -ENOENT for a handle this file does not have; -EINVAL for an
 * offset that is not aligned or a buffer of another device; -ERANGE if the
 * operand does not fit in the buffer; -ENODEV after an unplug.
 */
static int spatten_job_bind(struct drm_file *file, struct spatten_job *job,
			    enum spatten_tensor_idx idx,
			    const struct drm_spatten_tensor *t, u64 bytes,
			    u32 align, bool to_end, struct spatten_hw_buf *hb)
{
	struct spatten_devmap *map;
	struct drm_gem_object *obj;
	int ret;

	obj = drm_gem_object_lookup(file, t->handle);
	if (!obj)
		return -ENOENT;
	job->bo[idx] = obj;

	if (!IS_ALIGNED(t->offset, align))
		return -EINVAL;
	if (t->offset > obj->size || bytes > obj->size - t->offset ||
	    bytes > U32_MAX)
		return -ERANGE;
	ret = spatten_gem_map_for_device(obj);
	if (ret)
		return ret;
	map = spatten_gem_devmap(obj);
	if (to_end)
		bytes = min_t(u64, obj->size - t->offset, U32_MAX);

	hb->addr = cpu_to_le64(map->list_dma +
			       (t->offset >> PAGE_SHIFT) * sizeof(__le64));
	hb->len = cpu_to_le32(bytes);
	hb->offset = cpu_to_le16(t->offset & ~PAGE_MASK);
	hb->flags = cpu_to_le16(SPATTEN_BUF_PAGE_LIST);
	return 0;
}

/* Offset alignment of a tensor of format @fmt: whole elements for S16. */
static u32 spatten_fmt_align(u8 fmt)
{
	return fmt == SPATTEN_FMT_S16 ? 2 : 1;
}

/* Where each operand's buffer reference goes in a version 1/2 descriptor. */
static const size_t spatten_operand_field[SPATTEN_T_NUM_V2] = {
	[SPATTEN_T_Q] = offsetof(struct spatten_hw_desc, q),
	[SPATTEN_T_K] = offsetof(struct spatten_hw_desc, k),
	[SPATTEN_T_V] = offsetof(struct spatten_hw_desc, v),
	[SPATTEN_T_OUT] = offsetof(struct spatten_hw_desc, out),
	[SPATTEN_T_K_LSB] = offsetof(struct spatten_hw_desc, k_lsb),
	[SPATTEN_T_TOK_IMP] = offsetof(struct spatten_hw_desc, tok_imp),
	[SPATTEN_T_TOK_ALIVE] = offsetof(struct spatten_hw_desc, tok_alive),
	[SPATTEN_T_TOK_KEPT] = offsetof(struct spatten_hw_desc, tok_kept),
	[SPATTEN_T_PINNED] = offsetof(struct spatten_hw_desc, pinned),
	[SPATTEN_T_HEAD_IMP] = offsetof(struct spatten_hw_desc, head_imp),
	[SPATTEN_T_HEAD_ALIVE] = offsetof(struct spatten_hw_desc, head_alive),
	[SPATTEN_T_HEAD_KEPT] = offsetof(struct spatten_hw_desc, head_kept),
};

/* The same in a version 3 descriptor. */
static const size_t spatten_operand_field_v3[SPATTEN_T_NUM] = {
	[SPATTEN_T_Q] = offsetof(struct spatten_hw_desc_v3, q),
	[SPATTEN_T_K] = offsetof(struct spatten_hw_desc_v3, k),
	[SPATTEN_T_V] = offsetof(struct spatten_hw_desc_v3, v),
	[SPATTEN_T_OUT] = offsetof(struct spatten_hw_desc_v3, out),
	[SPATTEN_T_K_LSB] = offsetof(struct spatten_hw_desc_v3, k_lsb),
	[SPATTEN_T_TOK_IMP] = offsetof(struct spatten_hw_desc_v3, tok_imp),
	[SPATTEN_T_TOK_ALIVE] = offsetof(struct spatten_hw_desc_v3, tok_alive),
	[SPATTEN_T_TOK_KEPT] = offsetof(struct spatten_hw_desc_v3, tok_kept),
	[SPATTEN_T_PINNED] = offsetof(struct spatten_hw_desc_v3, pinned),
	[SPATTEN_T_HEAD_IMP] = offsetof(struct spatten_hw_desc_v3, head_imp),
	[SPATTEN_T_HEAD_ALIVE] = offsetof(struct spatten_hw_desc_v3,
					  head_alive),
	[SPATTEN_T_HEAD_KEPT] = offsetof(struct spatten_hw_desc_v3, head_kept),
	[SPATTEN_T_BLOCK_TABLE] = offsetof(struct spatten_hw_desc_v3,
					   block_table),
	[SPATTEN_T_POSITIONS] = offsetof(struct spatten_hw_desc_v3, positions),
	[SPATTEN_T_HEAD_FRACS] = offsetof(struct spatten_hw_desc_v3,
					  head_fracs),
};

/* Bytes of one row of a K, K-LSB or V plane of @bits-bit elements. */
static u64 spatten_kv_bytes(const struct drm_spatten_job *uj,
			    const struct spatten_job_dims *dm, u32 bits)
{
	return spatten_hw_kv_plane_bytes(dm->n_kv_heads, dm->kv_rows,
					 uj->kv_head_stride, uj->kv_row_stride,
					 uj->kv_block_rows,
					 uj->head_dim * bits / 8);
}

/* Bytes the device reads or writes through operand @idx of a valid job. */
static u64 spatten_operand_bytes(const struct drm_spatten_job *uj,
				 const struct spatten_job_dims *dm,
				 unsigned int idx)
{
	u32 nh = uj->n_heads, dim = uj->head_dim, lb = dm->list_bytes;

	switch (idx) {
	case SPATTEN_T_Q:
		return spatten_hw_tensor_bytes(nh, dm->q_rows, dim, uj->q_fmt);
	case SPATTEN_T_K:
		return spatten_kv_bytes(uj, dm, spatten_hw_fmt_bits(uj->k_fmt));
	case SPATTEN_T_V:
		return spatten_kv_bytes(uj, dm, spatten_hw_fmt_bits(uj->v_fmt));
	case SPATTEN_T_OUT:
		return spatten_hw_tensor_bytes(nh, dm->q_rows, dim, uj->out_fmt);
	case SPATTEN_T_K_LSB:
		return spatten_kv_bytes(uj, dm, SPATTEN_LSB_BITS);
	case SPATTEN_T_TOK_IMP:
		/* one row per KV head with SPATTEN_DESC_F_IMP_PER_KV_HEAD */
		if (uj->flags & SPATTEN_DESC_F_IMP_PER_KV_HEAD)
			return (u64)dm->n_kv_heads * dm->kv_rows *
			       SPATTEN_IMP_BYTES;
		return (u64)dm->kv_rows * SPATTEN_IMP_BYTES;
	case SPATTEN_T_TOK_ALIVE:
		return (u64)dm->n_tok_alive * lb;
	case SPATTEN_T_TOK_KEPT:
		return (u64)dm->token_keep * lb;
	case SPATTEN_T_PINNED:
		return (u64)dm->n_pinned * lb;
	case SPATTEN_T_HEAD_IMP:
		return (u64)nh * SPATTEN_IMP_BYTES;
	case SPATTEN_T_HEAD_ALIVE:
		return (u64)uj->n_head_alive * lb;
	case SPATTEN_T_HEAD_KEPT:
		return (u64)uj->head_keep * lb;
	case SPATTEN_T_BLOCK_TABLE:
		return spatten_hw_kv_blocks(dm->kv_rows, uj->kv_block_rows) *
		       SPATTEN_BLOCK_ENTRY_BYTES;
	case SPATTEN_T_POSITIONS:
		return (u64)dm->kv_rows * SPATTEN_POSITION_BYTES;
	default:
		return 2 * ((u64)nh + dm->n_kv_heads);
	}
}

/* Offset alignment of operand @idx: whole elements. */
static u32 spatten_operand_align(const struct drm_spatten_job *uj,
				 const struct spatten_job_dims *dm,
				 unsigned int idx)
{
	switch (idx) {
	case SPATTEN_T_Q:
		return spatten_fmt_align(uj->q_fmt);
	case SPATTEN_T_K:
		return spatten_fmt_align(uj->k_fmt);
	case SPATTEN_T_V:
		return spatten_fmt_align(uj->v_fmt);
	case SPATTEN_T_OUT:
		return spatten_fmt_align(uj->out_fmt);
	case SPATTEN_T_K_LSB:
		return 1;
	case SPATTEN_T_TOK_IMP:
	case SPATTEN_T_HEAD_IMP:
		return SPATTEN_IMP_BYTES;
	case SPATTEN_T_BLOCK_TABLE:
	case SPATTEN_T_POSITIONS:
		return SPATTEN_BLOCK_ENTRY_BYTES;
	case SPATTEN_T_HEAD_FRACS:
		return 1;
	default:
		return dm->list_bytes;
	}
}

/* K, V and K's LSB plane: the planes the KV layout addresses. */
static bool spatten_operand_is_kv(unsigned int idx)
{
	return idx == SPATTEN_T_K || idx == SPATTEN_T_V ||
	       idx == SPATTEN_T_K_LSB;
}

/* The shape and keep fields of a version 1/2 descriptor. */
static void spatten_desc_fill(struct spatten_hw_desc *d,
			      const struct drm_spatten_job *uj)
{
	d->n_heads = cpu_to_le16(uj->n_heads);
	d->head_dim = cpu_to_le16(uj->head_dim);
	d->q_rows = cpu_to_le16(uj->q_rows);
	d->kv_rows = cpu_to_le16(uj->kv_rows);
	d->q_start = cpu_to_le16(uj->q_start);
	d->q_fmt = uj->q_fmt;
	d->q_frac = uj->q_frac;
	d->k_fmt = uj->k_fmt;
	d->k_frac = uj->k_frac;
	d->v_fmt = uj->v_fmt;
	d->v_frac = uj->v_frac;
	d->out_fmt = uj->out_fmt;
	d->out_frac = uj->out_frac;
	d->n_tok_alive = cpu_to_le16(uj->n_tok_alive);
	d->token_keep = cpu_to_le16(uj->token_keep);
	d->n_pinned = cpu_to_le16(uj->n_pinned);
	d->n_head_alive = cpu_to_le16(uj->n_head_alive);
	d->head_keep = cpu_to_le16(uj->head_keep);
	d->value_keep = cpu_to_le16(uj->value_keep);
	d->lsb_threshold = cpu_to_le16(uj->lsb_threshold);
	d->topk_seed = cpu_to_le32(uj->topk_seed);
}

/* The same for version 3. */
static void spatten_desc_fill_v3(struct spatten_hw_desc_v3 *d,
				 const struct drm_spatten_job *uj,
				 const struct spatten_job_dims *dm)
{
	d->n_heads = cpu_to_le16(uj->n_heads);
	d->n_kv_heads = cpu_to_le16(dm->n_kv_heads);
	d->head_dim = cpu_to_le16(uj->head_dim);
	d->q_rows = cpu_to_le32(dm->q_rows);
	d->kv_rows = cpu_to_le32(dm->kv_rows);
	d->q_start = cpu_to_le32(dm->q_start);
	d->q_fmt = uj->q_fmt;
	d->q_frac = uj->q_frac;
	d->k_fmt = uj->k_fmt;
	d->k_frac = uj->k_frac;
	d->v_fmt = uj->v_fmt;
	d->v_frac = uj->v_frac;
	d->out_fmt = uj->out_fmt;
	d->out_frac = uj->out_frac;
	d->n_tok_alive = cpu_to_le32(dm->n_tok_alive);
	d->token_keep = cpu_to_le32(dm->token_keep);
	d->n_pinned = cpu_to_le32(dm->n_pinned);
	d->value_keep = cpu_to_le32(dm->value_keep);
	d->n_head_alive = cpu_to_le16(uj->n_head_alive);
	d->head_keep = cpu_to_le16(uj->head_keep);
	d->lsb_threshold = cpu_to_le16(uj->lsb_threshold);
	d->topk_seed = cpu_to_le32(uj->topk_seed);
	d->score_scale = cpu_to_le32(uj->score_scale);
	d->rope_base = cpu_to_le32(uj->rope_base);
	d->kv_block_rows = cpu_to_le32(uj->kv_block_rows);
	d->kv_head_stride = cpu_to_le32(uj->kv_head_stride);
	d->kv_row_stride = cpu_to_le32(uj->kv_row_stride);
	d->kv_block_stride = cpu_to_le32(uj->kv_block_stride);
}

/**
 * spatten_desc_q() - the Q buffer reference of an entry of either version
 * @d: submission-queue entry
 *
 * Return: its Q reference (the fault injection of run_job rewrites it).
 */
struct spatten_hw_buf *spatten_desc_q(union spatten_hw_sqe *d)
{
	return d->v2.version == SPATTEN_DESC_VERSION_V3 ? &d->v3.q : &d->v2.q;
}

/**
 * spatten_desc_out() - the output buffer reference of an entry
 * @d: submission-queue entry
 *
 * Return: its output reference.
 */
struct spatten_hw_buf *spatten_desc_out(union spatten_hw_sqe *d)
{
	return d->v2.version == SPATTEN_DESC_VERSION_V3 ? &d->v3.out :
							  &d->v2.out;
}

/**
 * spatten_job_prepare() - validate a job and build its descriptor
 * @sdev: the board
 * @file: the submitting file
 * @uj: the job as copied from userspace
 * @job: zeroed kernel job to fill; on error it may hold buffer references
 *	that spatten_job_put() drops
 *
 * A version 1 job becomes a version 1 descriptor (its version 2 fields are
 * zero), so it also runs on a 1.0 device; a version 2 job a version 2 one;
 * a version 3 job a 512-byte version 3 one (boards with
 * SPATTEN_FEAT_DESC_V3 only: caps.sqe_size is then 512).
 * Absent operands (handle 0) stay zero references.
 *
 * Return: 0, -EINVAL, -ENOENT or -ERANGE (see spatten_job_check() and
 * spatten_job_bind()).
 */
int spatten_job_prepare(struct spatten_device *sdev, struct drm_file *file,
			const struct drm_spatten_job *uj,
			struct spatten_job *job)
{
	bool v3 = uj->version == SPATTEN_DESC_VERSION_V3;
	struct spatten_hw_desc *d = &job->desc.v2;
	struct spatten_job_dims dm;
	unsigned int i, n;
	void *field;
	int ret;

	ret = spatten_job_check(sdev, uj, &dm);
	if (ret)
		return ret;

	job->result.user_data = uj->user_data;
	d->opcode = cpu_to_le16(uj->opcode);
	d->desc_size = cpu_to_le16(v3 ? SPATTEN_DESC_V3_SIZE : SPATTEN_DESC_SIZE);
	d->version = uj->version;
	d->stage = uj->stage;
	d->flags = cpu_to_le16(uj->flags);
	if (uj->opcode == SPATTEN_OP_NOP)
		return 0;
	if (v3)
		spatten_desc_fill_v3(&job->desc.v3, uj, &dm);
	else
		spatten_desc_fill(d, uj);

	/* q, k, v, out are always present; the others when named. */
	n = v3 ? SPATTEN_T_NUM : SPATTEN_T_NUM_V2;
	for (i = 0; i < n; i++) {
		const struct drm_spatten_tensor *t = spatten_job_tensor(uj, i);

		if (i > SPATTEN_T_OUT && !t->handle)
			continue;
		field = (void *)&job->desc + (v3 ? spatten_operand_field_v3[i] :
						   spatten_operand_field[i]);
		ret = spatten_job_bind(file, job, i, t,
				       spatten_operand_bytes(uj, &dm, i),
				       spatten_operand_align(uj, &dm, i),
				       uj->kv_block_rows &&
				       spatten_operand_is_kv(i), field);
		if (ret)
			return ret;
	}
	return 0;
}
