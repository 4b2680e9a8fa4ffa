// SPDX-License-Identifier: MIT
/*
 * libspatten: what the simulation backend does with a submitted job
 * before the engine sees it: the driver's SUBMIT checks (the same errno
 * values as driver/spatten_desc.c: -EINVAL for a malformed field, -ENOENT
 * for an unknown handle, -ERANGE for an operand outside its buffer), and
 * the hardware descriptor the driver would build, with contiguous buffer
 * references to process memory instead of page lists.
 *
 * Every job is handled in the layout of API 5 (struct spatten_job3): a
 * version 1 or 2 job has the version 3 tail zero.
 */
#include <endian.h>
#include <errno.h>
#include <stddef.h>
#include <string.h>

#include "sim.h"

/* A job's rows and counts, from the 16-bit or the 32-bit fields. */
struct sim_dims {
	uint32_t q_rows, kv_rows, q_start;
	uint32_t n_tok_alive, token_keep, n_pinned, value_keep;
	uint32_t n_kv_heads, list_bytes;
};

static int is_v3(const struct spatten_job3 *j)
{
	return j->job.version == SPATTEN_DESC_VERSION_V3;
}

static void sim_dims(const struct spatten_job3 *j3, struct sim_dims *dm)
{
	const struct spatten_job *j = &j3->job;

	if (is_v3(j3)) {
		*dm = (struct sim_dims){
			j3->q_rows32, j3->kv_rows32, j3->q_start32,
			j3->n_tok_alive32, j3->token_keep32, j3->n_pinned32,
			j3->value_keep32, j3->n_kv_heads,
			SPATTEN_LIST_BYTES_V3,
		};
		return;
	}
	*dm = (struct sim_dims){
		j->q_rows, j->kv_rows, j->q_start, j->n_tok_alive,
		j->token_keep, j->n_pinned, j->value_keep, j->n_heads,
		SPATTEN_LIST_BYTES,
	};
}

/* Operands by plane; NULL past the planes of the job's version. */
static const struct spatten_tensor *job_tensor(const struct spatten_job3 *j3,
					       enum spe_plane p)
{
	const struct spatten_job *j = &j3->job;

	switch (p) {
	case SPE_PLANE_Q: return &j->q;
	case SPE_PLANE_K_MSB: return &j->k;
	case SPE_PLANE_V: return &j->v;
	case SPE_PLANE_OUT: return &j->out;
	case SPE_PLANE_K_LSB: return &j->k_lsb;
	case SPE_PLANE_TOK_IMP: return &j->tok_imp;
	case SPE_PLANE_TOK_ALIVE: return &j->tok_alive;
	case SPE_PLANE_TOK_KEPT: return &j->tok_kept;
	case SPE_PLANE_PINNED: return &j->pinned;
	case SPE_PLANE_HEAD_IMP: return &j->head_imp;
	case SPE_PLANE_HEAD_ALIVE: return &j->head_alive;
	case SPE_PLANE_HEAD_KEPT: return &j->head_kept;
	case SPE_PLANE_BLOCK_TABLE: return &j3->block_table;
	case SPE_PLANE_POSITIONS: return &j3->positions;
	case SPE_PLANE_HEAD_FRACS: return &j3->head_fracs;
	default: return NULL;
	}
}

/* The UAPI's operand order: q, k, v, out, then the optional ones. */
static const enum spe_plane uapi_order[SPE_PLANE_COUNT] = {
	SPE_PLANE_Q, SPE_PLANE_K_MSB, SPE_PLANE_V, SPE_PLANE_OUT,
	SPE_PLANE_K_LSB, SPE_PLANE_TOK_IMP, SPE_PLANE_TOK_ALIVE,
	SPE_PLANE_TOK_KEPT, SPE_PLANE_PINNED, SPE_PLANE_HEAD_IMP,
	SPE_PLANE_HEAD_ALIVE, SPE_PLANE_HEAD_KEPT, SPE_PLANE_BLOCK_TABLE,
	SPE_PLANE_POSITIONS, SPE_PLANE_HEAD_FRACS,
};

static unsigned int plane_count(const struct spatten_job3 *j3)
{
	return is_v3(j3) ? SPE_PLANE_COUNT : SPE_PLANE_COUNT_V2;
}

/* Bytes of a K, K-LSB or V operand of @bits-bit elements. */
static uint64_t kv_need(const struct spatten_job3 *j3,
			const struct sim_dims *dm, uint32_t bits)
{
	return spatten_hw_kv_plane_bytes(dm->n_kv_heads, dm->kv_rows,
					 j3->kv_head_stride, j3->kv_row_stride,
					 j3->kv_block_rows,
					 j3->job.head_dim * bits / 8);
}

/* Bytes and alignment an operand needs. */
static void operand_need(const struct spatten_job3 *j3,
			 const struct sim_dims *dm, enum spe_plane p,
			 uint64_t *bytes, unsigned int *align)
{
	const struct spatten_job *j = &j3->job;
	uint32_t H = j->n_heads, D = j->head_dim;
	uint64_t lb = dm->list_bytes;

	*align = (unsigned int)lb;
	switch (p) {
	case SPE_PLANE_Q:
	case SPE_PLANE_OUT: {
		uint8_t f = p == SPE_PLANE_Q ? j->q_fmt : j->out_fmt;

		*bytes = spatten_hw_tensor_bytes(H, dm->q_rows, D, f);
		*align = f == SPATTEN_FMT_S16 ? 2 : 1;
		break;
	}
	case SPE_PLANE_K_MSB:
	case SPE_PLANE_V: {
		uint8_t f = p == SPE_PLANE_V ? j->v_fmt : j->k_fmt;

		*bytes = kv_need(j3, dm, spatten_hw_fmt_bits(f));
		*align = f == SPATTEN_FMT_S16 ? 2 : 1;
		break;
	}
	case SPE_PLANE_K_LSB:
		*bytes = kv_need(j3, dm, SPATTEN_LSB_BITS);
		*align = 1;
		break;
	case SPE_PLANE_TOK_IMP:
		/* a row per KV head with SPATTEN_DESC_F_IMP_PER_KV_HEAD */
		*bytes = (uint64_t)dm->kv_rows * SPATTEN_IMP_BYTES *
			 (j->flags & SPATTEN_DESC_F_IMP_PER_KV_HEAD ?
			  dm->n_kv_heads : 1);
		*align = 8;
		break;
	case SPE_PLANE_HEAD_IMP:
		*bytes = (uint64_t)H * SPATTEN_IMP_BYTES;
		*align = 8;
		break;
	case SPE_PLANE_TOK_ALIVE:
		*bytes = dm->n_tok_alive * lb;
		break;
	case SPE_PLANE_TOK_KEPT:
		*bytes = dm->token_keep * lb;
		break;
	case SPE_PLANE_PINNED:
		*bytes = dm->n_pinned * lb;
		break;
	case SPE_PLANE_HEAD_ALIVE:
		*bytes = j->n_head_alive * lb;
		break;
	case SPE_PLANE_HEAD_KEPT:
		*bytes = j->head_keep * lb;
		break;
	case SPE_PLANE_BLOCK_TABLE:
		*bytes = spatten_hw_kv_blocks(dm->kv_rows, j3->kv_block_rows) *
			 SPATTEN_BLOCK_ENTRY_BYTES;
		*align = SPATTEN_BLOCK_ENTRY_BYTES;
		break;
	case SPE_PLANE_POSITIONS:
		*bytes = (uint64_t)dm->kv_rows * SPATTEN_POSITION_BYTES;
		*align = SPATTEN_POSITION_BYTES;
		break;
	case SPE_PLANE_HEAD_FRACS:
		*bytes = 2 * ((uint64_t)H + dm->n_kv_heads);
		*align = 1;
		break;
	default:
		*bytes = 0;
	}
}

static int v2_fields_zero(const struct spatten_job3 *j3)
{
	const struct spatten_job *j = &j3->job;
	int p;

	for (p = SPE_PLANE_K_LSB; p < SPE_PLANE_COUNT_V2; p++) {
		const struct spatten_tensor *t = job_tensor(j3, p);

		if (p == SPE_PLANE_V || p == SPE_PLANE_OUT)
			continue;
		if (t->handle || t->offset)
			return 0;
	}
	return !(j->n_tok_alive || j->token_keep || j->n_pinned ||
		 j->n_head_alive || j->head_keep || j->value_keep ||
		 j->lsb_threshold || j->topk_seed ||
		 (j->flags & SPATTEN_DESC_F_PROGRESSIVE));
}

/*
 * Versions 1 and 2 leave the version 3 tail zero; version 3 leaves the
 * 16-bit row fields it replaces zero.
 */
static int tail_ok(const struct spatten_job3 *j3)
{
	static const unsigned char zero[sizeof(*j3) - sizeof(j3->job)];
	const struct spatten_job *j = &j3->job;

	if (!is_v3(j3))
		return !memcmp((const unsigned char *)j3 + sizeof(*j), zero,
			       sizeof(zero));
	return !(j->q_rows || j->kv_rows || j->q_start || j->n_tok_alive ||
		 j->token_keep || j->n_pinned || j->value_keep ||
		 j3->rsvd4);
}

/* A NOP carries nothing but its opcode, version and user data. */
static int check_nop(const struct spatten_job3 *j3)
{
	static const struct spatten_job3 zero;
	struct spatten_job3 rest = *j3;

	rest.job.opcode = 0;
	rest.job.version = 0;
	rest.job.user_data = 0;
	return memcmp(&rest, &zero, sizeof(rest)) ? -EINVAL : 0;
}

/* An optional operand is present exactly when its count or flag says. */
static int presence_ok(const struct spatten_tensor *t, int required)
{
	return !!t->handle == !!required;
}

/* The pruning and progressive fields, as the driver checks them. */
static int check_v2(const struct spe_caps *c, const struct spatten_job *j,
		    const struct sim_dims *dm)
{
	int prog = !!(j->flags & SPATTEN_DESC_F_PROGRESSIVE);
	uint64_t tok_limit;
	uint32_t head_limit;

	if (prog) {
		uint32_t bits = spatten_hw_fmt_bits(j->k_fmt);

		if (!(c->features & SPATTEN_FEAT_PROGRESSIVE) ||
		    j->k_fmt == SPATTEN_FMT_S16 || !bits ||
		    !(c->splits & (1u << bits)))
			return -EINVAL;
	}
	if ((dm->token_keep && !(c->features & SPATTEN_FEAT_TOKEN_PRUNE)) ||
	    (j->head_keep && !(c->features & SPATTEN_FEAT_HEAD_PRUNE)) ||
	    (dm->value_keep && !(c->features & SPATTEN_FEAT_VALUE_PRUNE)))
		return -EINVAL;
	if (j->stage == SPATTEN_STAGE_SUMMARIZATION &&
	    (dm->n_tok_alive || dm->token_keep) &&
	    (dm->q_rows != dm->kv_rows || dm->q_start))
		return -EINVAL;
	if (dm->n_tok_alive > dm->kv_rows || dm->n_pinned > dm->kv_rows ||
	    j->n_head_alive > j->n_heads || dm->value_keep > dm->kv_rows ||
	    j->lsb_threshold > 32768)
		return -EINVAL;
	head_limit = j->n_head_alive ? j->n_head_alive : j->n_heads;
	/* the listed tokens and the new ones (one outside generation) */
	tok_limit = dm->n_tok_alive ? dm->n_tok_alive + 1ull : dm->kv_rows;
	if (dm->n_tok_alive && j->stage == SPATTEN_STAGE_GENERATION)
		tok_limit = (uint64_t)dm->n_tok_alive + dm->q_rows;
	if (j->head_keep > head_limit || dm->token_keep > tok_limit)
		return -EINVAL;
	if (dm->n_pinned && !dm->token_keep)
		return -EINVAL;
	if (!presence_ok(&j->k_lsb, prog) ||
	    !presence_ok(&j->tok_alive, dm->n_tok_alive) ||
	    !presence_ok(&j->tok_kept, dm->token_keep) ||
	    !presence_ok(&j->pinned, dm->n_pinned) ||
	    !presence_ok(&j->head_alive, j->n_head_alive) ||
	    !presence_ok(&j->head_kept, j->head_keep))
		return -EINVAL;
	if ((dm->token_keep && !j->tok_imp.handle) ||
	    (j->head_keep && !j->head_imp.handle))
		return -EINVAL;
	return 0;
}

/* Version 3: KV heads, layout, RoPE, scale, as the driver checks them. */
static int check_v3(const struct spe_caps *c, const struct spatten_job3 *j3,
		    const struct sim_dims *dm)
{
	const struct spatten_job *j = &j3->job;
	int rope = !!(j->flags & SPATTEN_DESC_F_ROPE);
	int positions = !!(j->flags & SPATTEN_DESC_F_ROPE_POSITIONS);
	int fracs = !!(j->flags & SPATTEN_DESC_F_HEAD_FRACS);
	int imp_kv = !!(j->flags & SPATTEN_DESC_F_IMP_PER_KV_HEAD);
	int layout = j3->kv_head_stride || j3->kv_row_stride ||
		     j3->kv_block_stride || j3->kv_block_rows;

	if (!dm->n_kv_heads || dm->n_kv_heads > j->n_heads ||
	    j->n_heads % dm->n_kv_heads)
		return -EINVAL;
	if ((dm->n_kv_heads != j->n_heads &&
	     !(c->features & SPATTEN_FEAT_GQA)) ||
	    (layout && !(c->features & SPATTEN_FEAT_KV_LAYOUT)) ||
	    (rope && !(c->features & SPATTEN_FEAT_ROPE)) ||
	    (positions && !rope))
		return -EINVAL;
	/* importance per KV head: required tok_imp, no token pruning */
	if (imp_kv && (!(c->features & SPATTEN_FEAT_IMP_PER_KV_HEAD) ||
		       !j->tok_imp.handle || dm->token_keep))
		return -EINVAL;
	if (positions && (uint64_t)dm->q_start + dm->q_rows > dm->kv_rows)
		return -EINVAL;
	if (!spatten_hw_kv_layout_ok(dm->n_kv_heads, j3->kv_head_stride,
				     j3->kv_row_stride, j3->kv_block_stride,
				     j3->kv_block_rows) ||
	    !spatten_hw_params_ok((uint16_t)j->flags, j3->score_scale,
				  j3->rope_base, j->q_frac + j->k_frac))
		return -EINVAL;
	if (!presence_ok(&j3->block_table, j3->kv_block_rows) ||
	    !presence_ok(&j3->positions, positions))
		return -EINVAL;
	if (!presence_ok(&j3->head_fracs, fracs) ||
	    (fracs && (j->q_frac || j->k_frac || j->v_frac || j->out_frac)))
		return -EINVAL;
	return 0;
}

/* Version, opcode, flags, stage and reserved fields. */
static int check_header(const struct spe_caps *c, const struct spatten_job3 *j3)
{
	const struct spatten_job *j = &j3->job;
	uint32_t known = is_v3(j3) ? SPATTEN_DESC_F_ALL_V3 : SPATTEN_DESC_F_ALL;
	unsigned int i;

	if (j->version < SPATTEN_DESC_VERSION_MIN ||
	    (j->version > SPATTEN_DESC_VERSION && !is_v3(j3)) ||
	    (is_v3(j3) && !(c->features & SPATTEN_FEAT_DESC_V3)))
		return -EINVAL;
	if (j->opcode != SPATTEN_OP_NOP && j->opcode != SPATTEN_OP_ATTENTION)
		return -EINVAL;
	if ((j->flags & ~known) || j->stage > SPATTEN_STAGE_GENERATION)
		return -EINVAL;
	if (!tail_ok(j3) || (j->version < 2 && !v2_fields_zero(j3)))
		return -EINVAL;
	if (j->rsvd0 || j->rsvd1 || j->rsvd2 || j->rsvd3)
		return -EINVAL;
	for (i = 0; i < sizeof(j->rsvd) / sizeof(j->rsvd[0]); i++)
		if (j->rsvd[i])
			return -EINVAL;
	for (i = 0; i < SPE_PLANE_COUNT; i++)
		if (job_tensor(j3, i)->flags)
			return -EINVAL;
	return 0;
}

static int check_fields(const struct spe_caps *c,
			const struct spatten_job3 *j3)
{
	const struct spatten_job *j = &j3->job;
	struct sim_dims dm;
	int ret;

	ret = check_header(c, j3);
	if (ret)
		return ret;
	if (j->opcode == SPATTEN_OP_NOP)
		return check_nop(j3);
	sim_dims(j3, &dm);

	if ((j->flags & SPATTEN_DESC_F_CAUSAL) &&
	    !(c->features & SPATTEN_FEAT_CAUSAL))
		return -EINVAL;
	if (j->stage == SPATTEN_STAGE_GENERATION &&
	    !(c->features & SPATTEN_FEAT_GENERATION))
		return -EINVAL;
	if (!j->n_heads || j->n_heads > c->max_heads)
		return -EINVAL;
	if (!j->head_dim || (j->head_dim & (j->head_dim - 1)) ||
	    !(c->head_dims & j->head_dim))
		return -EINVAL;
	if (!dm.q_rows || dm.q_rows > c->max_context || !dm.kv_rows ||
	    dm.kv_rows > c->max_context)
		return -EINVAL;
	if (j->flags & SPATTEN_DESC_F_CAUSAL) {
		if ((uint64_t)dm.q_start + dm.q_rows > dm.kv_rows)
			return -EINVAL;
	} else if (dm.q_start) {
		return -EINVAL;
	}
	/* generation: a chunk (q_rows > 1) is v3's, causal, with CHUNKS */
	if (j->stage == SPATTEN_STAGE_GENERATION &&
	    ((uint64_t)dm.q_start + dm.q_rows != dm.kv_rows ||
	     (dm.q_rows > 1 && (!is_v3(j3) ||
				!(j->flags & SPATTEN_DESC_F_CAUSAL) ||
				!(c->features & SPATTEN_FEAT_CHUNKS)))))
		return -EINVAL;
	if (j->q_fmt >= 32 || j->k_fmt >= 32 || j->v_fmt >= 32 ||
	    j->out_fmt >= 32 || !(c->formats & (1u << j->q_fmt)) ||
	    !(c->formats & (1u << j->k_fmt)) ||
	    !(c->formats & (1u << j->v_fmt)) ||
	    !(c->formats & (1u << j->out_fmt)))
		return -EINVAL;
	if (j->q_frac > 15 || j->k_frac > 15 || j->v_frac > 15 ||
	    j->out_frac > 15)
		return -EINVAL;
	if (is_v3(j3) && check_v3(c, j3, &dm))
		return -EINVAL;
	return check_v2(c, j, &dm);
}

static int check_operands(const struct spatten_sim *sim,
			  const struct spatten_job3 *j3)
{
	struct sim_dims dm;
	unsigned int i;

	if (j3->job.opcode == SPATTEN_OP_NOP)
		return 0;
	sim_dims(j3, &dm);
	for (i = 0; i < plane_count(j3); i++) {
		enum spe_plane p = uapi_order[i];
		const struct spatten_tensor *t = job_tensor(j3, p);
		const struct sim_bo *bo;
		unsigned int align;
		uint64_t need;

		if (!t->handle && i >= 4)
			continue;	/* absent: its offset is ignored */
		bo = sim_lookup(sim, t->handle);
		if (!bo)
			return -ENOENT;
		operand_need(j3, &dm, p, &need, &align);
		if (t->offset % align)
			return -EINVAL;
		if (t->offset > bo->size || need > bo->size - t->offset ||
		    need > UINT32_MAX)
			return -ERANGE;
	}
	return 0;
}

int spatten__sim_check_job(const struct spatten_sim *sim,
			   const struct spatten_job3 *j)
{
	int ret = check_fields(&sim->caps, j);

	return ret ? ret : check_operands(sim, j);
}

/* ---- Descriptor ------------------------------------------------------- */

static void put_buf(struct spatten_hw_buf *b, const struct sim_bo *bo,
		    uint64_t offset, uint64_t need)
{
	b->addr = htole64((uint64_t)(uintptr_t)(bo->ptr + offset));
	b->len = htole32((uint32_t)need);
	b->offset = 0;
	b->flags = 0;
}

static void fill_v2(struct spatten_hw_desc *d, const struct spatten_job *j)
{
	d->n_heads = htole16(j->n_heads);
	d->head_dim = htole16(j->head_dim);
	d->q_rows = htole16(j->q_rows);
	d->kv_rows = htole16(j->kv_rows);
	d->q_start = htole16(j->q_start);
	d->q_fmt = j->q_fmt;
	d->q_frac = j->q_frac;
	d->k_fmt = j->k_fmt;
	d->k_frac = j->k_frac;
	d->v_fmt = j->v_fmt;
	d->v_frac = j->v_frac;
	d->out_fmt = j->out_fmt;
	d->out_frac = j->out_frac;
	d->n_tok_alive = htole16(j->n_tok_alive);
	d->token_keep = htole16(j->token_keep);
	d->n_pinned = htole16(j->n_pinned);
	d->n_head_alive = htole16(j->n_head_alive);
	d->head_keep = htole16(j->head_keep);
	d->value_keep = htole16(j->value_keep);
	d->lsb_threshold = htole16(j->lsb_threshold);
	d->topk_seed = htole32(j->topk_seed);
}

static void fill_v3(struct spatten_hw_desc_v3 *d,
		    const struct spatten_job3 *j3)
{
	const struct spatten_job *j = &j3->job;

	d->n_heads = htole16(j->n_heads);
	d->n_kv_heads = htole16(j3->n_kv_heads);
	d->head_dim = htole16(j->head_dim);
	d->q_rows = htole32(j3->q_rows32);
	d->kv_rows = htole32(j3->kv_rows32);
	d->q_start = htole32(j3->q_start32);
	d->q_fmt = j->q_fmt;
	d->q_frac = j->q_frac;
	d->k_fmt = j->k_fmt;
	d->k_frac = j->k_frac;
	d->v_fmt = j->v_fmt;
	d->v_frac = j->v_frac;
	d->out_fmt = j->out_fmt;
	d->out_frac = j->out_frac;
	d->n_tok_alive = htole32(j3->n_tok_alive32);
	d->token_keep = htole32(j3->token_keep32);
	d->n_pinned = htole32(j3->n_pinned32);
	d->value_keep = htole32(j3->value_keep32);
	d->n_head_alive = htole16(j->n_head_alive);
	d->head_keep = htole16(j->head_keep);
	d->lsb_threshold = htole16(j->lsb_threshold);
	d->topk_seed = htole32(j->topk_seed);
	d->score_scale = htole32(j3->score_scale);
	d->rope_base = htole32(j3->rope_base);
	d->kv_block_rows = htole32(j3->kv_block_rows);
	d->kv_head_stride = htole32(j3->kv_head_stride);
	d->kv_row_stride = htole32(j3->kv_row_stride);
	d->kv_block_stride = htole32(j3->kv_block_stride);
}

/* Where each plane's reference sits in an entry of the job's version. */
static struct spatten_hw_buf *desc_buf(union spatten_hw_sqe *d, int v3,
				       enum spe_plane p)
{
	struct spatten_hw_buf *v2b[SPE_PLANE_COUNT_V2] = {
		[SPE_PLANE_Q] = &d->v2.q, [SPE_PLANE_K_MSB] = &d->v2.k,
		[SPE_PLANE_K_LSB] = &d->v2.k_lsb, [SPE_PLANE_V] = &d->v2.v,
		[SPE_PLANE_OUT] = &d->v2.out,
		[SPE_PLANE_TOK_IMP] = &d->v2.tok_imp,
		[SPE_PLANE_TOK_ALIVE] = &d->v2.tok_alive,
		[SPE_PLANE_TOK_KEPT] = &d->v2.tok_kept,
		[SPE_PLANE_PINNED] = &d->v2.pinned,
		[SPE_PLANE_HEAD_IMP] = &d->v2.head_imp,
		[SPE_PLANE_HEAD_ALIVE] = &d->v2.head_alive,
		[SPE_PLANE_HEAD_KEPT] = &d->v2.head_kept,
	};
	struct spatten_hw_buf *v3b[SPE_PLANE_COUNT] = {
		[SPE_PLANE_Q] = &d->v3.q, [SPE_PLANE_K_MSB] = &d->v3.k,
		[SPE_PLANE_K_LSB] = &d->v3.k_lsb, [SPE_PLANE_V] = &d->v3.v,
		[SPE_PLANE_OUT] = &d->v3.out,
		[SPE_PLANE_TOK_IMP] = &d->v3.tok_imp,
		[SPE_PLANE_TOK_ALIVE] = &d->v3.tok_alive,
		[SPE_PLANE_TOK_KEPT] = &d->v3.tok_kept,
		[SPE_PLANE_PINNED] = &d->v3.pinned,
		[SPE_PLANE_HEAD_IMP] = &d->v3.head_imp,
		[SPE_PLANE_HEAD_ALIVE] = &d->v3.head_alive,
		[SPE_PLANE_HEAD_KEPT] = &d->v3.head_kept,
		[SPE_PLANE_BLOCK_TABLE] = &d->v3.block_table,
		[SPE_PLANE_POSITIONS] = &d->v3.positions,
		[SPE_PLANE_HEAD_FRACS] = &d->v3.head_fracs,
	};

	return v3 ? v3b[p] : v2b[p];
}

/*
 * The library's one builder of a hardware descriptor from a checked job:
 * every field copied, every present operand a contiguous reference to
 * process memory (the driver builds page-list references instead).
 */
void spatten__sim_build_desc(const struct spatten_sim *sim,
			     const struct spatten_job3 *j3, uint32_t tag,
			     union spatten_hw_sqe *d)
{
	const struct spatten_job *j = &j3->job;
	int v3 = is_v3(j3);
	struct sim_dims dm;
	unsigned int p;

	memset(d, 0, sizeof(*d));
	d->v2.opcode = htole16(j->opcode);
	d->v2.desc_size = htole16(v3 ? SPATTEN_DESC_V3_SIZE : SPATTEN_DESC_SIZE);
	d->v2.version = j->version;
	d->v2.stage = j->stage;
	d->v2.flags = htole16((uint16_t)j->flags);
	d->v2.tag = htole32(tag);
	if (j->opcode == SPATTEN_OP_NOP)
		return;
	if (v3)
		fill_v3(&d->v3, j3);
	else
		fill_v2(&d->v2, j);
	sim_dims(j3, &dm);
	for (p = 0; p < plane_count(j3); p++) {
		const struct spatten_tensor *t = job_tensor(j3, p);
		const struct sim_bo *bo;
		unsigned int align;
		uint64_t need;

		if (!t->handle)
			continue;
		bo = sim_lookup(sim, t->handle);
		operand_need(j3, &dm, p, &need, &align);
		/* a paged plane's blocks may be anywhere after its offset */
		if (j3->kv_block_rows && (p == SPE_PLANE_K_MSB ||
					  p == SPE_PLANE_V ||
					  p == SPE_PLANE_K_LSB)) {
			need = bo->size - t->offset;
			if (need > UINT32_MAX)
				need = UINT32_MAX;
		}
		put_buf(desc_buf(d, v3, p), bo, t->offset, need);
	}
}
