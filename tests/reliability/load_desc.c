// SPDX-License-Identifier: MIT
/*
 * The descriptor the driver builds for a job of the load campaign
 * (load_jobs.h), as driver/spatten_desc.c builds it (spatten_job_prepare):
 * the same fields, the same buffer lengths (the bytes each operand needs;
 * a paged K, V or K-LSB reference from its offset to the end of the
 * buffer object, as spatten_job_bind() gives it), contiguous addresses in
 * the process's copy of the slot instead of page lists. And the rules
 * behind it: which operands a job has, where a KV row is.
 */
#include "load_jobs.h"

/* Plane p of the job <-> tensor field of struct drm_spatten_job. */
struct drm_spatten_tensor *jt(struct drm_spatten_job *j, int p)
{
	switch (p) {
	case SPE_PLANE_Q: return &j->q;
	case SPE_PLANE_K_MSB: return &j->k;
	case SPE_PLANE_K_LSB: return &j->k_lsb;
	case SPE_PLANE_V: return &j->v;
	case SPE_PLANE_OUT: return &j->out;
	case SPE_PLANE_TOK_IMP: return &j->tok_imp;
	case SPE_PLANE_TOK_ALIVE: return &j->tok_alive;
	case SPE_PLANE_TOK_KEPT: return &j->tok_kept;
	case SPE_PLANE_PINNED: return &j->pinned;
	case SPE_PLANE_HEAD_IMP: return &j->head_imp;
	case SPE_PLANE_HEAD_ALIVE: return &j->head_alive;
	case SPE_PLANE_HEAD_KEPT: return &j->head_kept;
	case SPE_PLANE_BLOCK_TABLE: return &j->block_table;
	case SPE_PLANE_POSITIONS: return &j->positions;
	default: return &j->head_fracs;
	}
}

/* The same for a hardware descriptor of version 1/2 or 3. */
static struct spatten_hw_buf *hb(union spatten_hw_sqe *e, bool v3, int p)
{
	struct spatten_hw_desc *d = &e->v2;
	struct spatten_hw_desc_v3 *d3 = &e->v3;

	switch (p) {
	case SPE_PLANE_Q: return v3 ? &d3->q : &d->q;
	case SPE_PLANE_K_MSB: return v3 ? &d3->k : &d->k;
	case SPE_PLANE_K_LSB: return v3 ? &d3->k_lsb : &d->k_lsb;
	case SPE_PLANE_V: return v3 ? &d3->v : &d->v;
	case SPE_PLANE_OUT: return v3 ? &d3->out : &d->out;
	case SPE_PLANE_TOK_IMP: return v3 ? &d3->tok_imp : &d->tok_imp;
	case SPE_PLANE_TOK_ALIVE: return v3 ? &d3->tok_alive : &d->tok_alive;
	case SPE_PLANE_TOK_KEPT: return v3 ? &d3->tok_kept : &d->tok_kept;
	case SPE_PLANE_PINNED: return v3 ? &d3->pinned : &d->pinned;
	case SPE_PLANE_HEAD_IMP: return v3 ? &d3->head_imp : &d->head_imp;
	case SPE_PLANE_HEAD_ALIVE:
		return v3 ? &d3->head_alive : &d->head_alive;
	case SPE_PLANE_HEAD_KEPT: return v3 ? &d3->head_kept : &d->head_kept;
	case SPE_PLANE_BLOCK_TABLE: return &d3->block_table;
	case SPE_PLANE_POSITIONS: return &d3->positions;
	default: return &d3->head_fracs;
	}
}

bool is_v3(const struct drm_spatten_job *j)
{
	return j->version == DRM_SPATTEN_DESC_V3;
}

void load_dims(const struct drm_spatten_job *j, struct load_dims *dm)
{
	if (is_v3(j)) {
		*dm = (struct load_dims){
			j->q_rows32, j->kv_rows32, j->q_start32,
			j->n_tok_alive32, j->token_keep32, j->n_pinned32,
			j->value_keep32, j->n_kv_heads,
		};
		return;
	}
	*dm = (struct load_dims){
		j->q_rows, j->kv_rows, j->q_start, j->n_tok_alive,
		j->token_keep, j->n_pinned, j->value_keep, j->n_heads,
	};
}

bool kv_plane(int p)
{
	return p == SPE_PLANE_K_MSB || p == SPE_PLANE_V ||
	       p == SPE_PLANE_K_LSB;
}

/* Bytes per row of KV plane @p. */
uint32_t kv_row_bytes(const struct drm_spatten_job *j, int p)
{
	uint32_t bits = p == SPE_PLANE_K_MSB ? spatten_hw_fmt_bits(j->k_fmt) :
			p == SPE_PLANE_V ? spatten_hw_fmt_bits(j->v_fmt) :
			SPATTEN_LSB_BITS;

	return j->head_dim * bits / 8;
}

/* Is operand @p present (required) for the job's counts and flags? */
bool plane_present(const struct drm_spatten_job *j, int p)
{
	struct load_dims dm;

	load_dims(j, &dm);
	switch (p) {
	case SPE_PLANE_K_LSB:
		return j->flags & DRM_SPATTEN_JOB_PROGRESSIVE;
	case SPE_PLANE_TOK_IMP:		/* optional: the generator's choice */
		return j->tok_imp.handle;
	case SPE_PLANE_TOK_ALIVE:
		return dm.n_tok_alive;
	case SPE_PLANE_TOK_KEPT:
		return dm.token_keep;
	case SPE_PLANE_PINNED:
		return dm.n_pinned;
	case SPE_PLANE_HEAD_IMP:
		return j->head_imp.handle;
	case SPE_PLANE_HEAD_ALIVE:
		return j->n_head_alive;
	case SPE_PLANE_HEAD_KEPT:
		return j->head_keep;
	case SPE_PLANE_BLOCK_TABLE:
		return j->kv_block_rows;
	case SPE_PLANE_POSITIONS:
		return j->flags & DRM_SPATTEN_JOB_ROPE_POSITIONS;
	case SPE_PLANE_HEAD_FRACS:
		return j->flags & DRM_SPATTEN_JOB_HEAD_FRACS;
	default:
		return true;
	}
}

/* Bytes the device reads or writes through operand @p (driver's formula). */
static uint64_t operand_bytes(const struct drm_spatten_job *j, int p)
{
	struct load_dims dm;
	uint32_t nh = j->n_heads, dim = j->head_dim;
	uint64_t lb = is_v3(j) ? SPATTEN_LIST_BYTES_V3 : SPATTEN_LIST_BYTES;

	load_dims(j, &dm);
	if (kv_plane(p))
		return spatten_hw_kv_plane_bytes(dm.n_kv_heads, dm.kv_rows,
						 j->kv_head_stride,
						 j->kv_row_stride,
						 j->kv_block_rows,
						 kv_row_bytes(j, p));
	switch (p) {
	case SPE_PLANE_Q:
		return spatten_hw_tensor_bytes(nh, dm.q_rows, dim, j->q_fmt);
	case SPE_PLANE_OUT:
		return spatten_hw_tensor_bytes(nh, dm.q_rows, dim, j->out_fmt);
	case SPE_PLANE_TOK_IMP:
		return (uint64_t)dm.kv_rows * SPATTEN_IMP_BYTES;
	case SPE_PLANE_TOK_ALIVE:
		return dm.n_tok_alive * lb;
	case SPE_PLANE_TOK_KEPT:
		return dm.token_keep * lb;
	case SPE_PLANE_PINNED:
		return dm.n_pinned * lb;
	case SPE_PLANE_HEAD_IMP:
		return (uint64_t)nh * SPATTEN_IMP_BYTES;
	case SPE_PLANE_HEAD_ALIVE:
		return j->n_head_alive * lb;
	case SPE_PLANE_HEAD_KEPT:
		return j->head_keep * lb;
	case SPE_PLANE_BLOCK_TABLE:
		return spatten_hw_kv_blocks(dm.kv_rows, j->kv_block_rows) *
		       SPATTEN_BLOCK_ENTRY_BYTES;
	case SPE_PLANE_POSITIONS:
		return (uint64_t)dm.kv_rows * SPATTEN_POSITION_BYTES;
	default:
		return 2 * ((uint64_t)nh + dm.n_kv_heads);
	}
}

size_t sim_desc(const struct slot *s, union spatten_hw_sqe *e)
{
	struct drm_spatten_job *j = (struct drm_spatten_job *)&s->j;
	struct load_dims dm;
	bool v3 = is_v3(j);
	int p, np = v3 ? SPE_PLANE_COUNT : SPE_PLANE_COUNT_V2;

	load_dims(j, &dm);
	memset(e, 0, sizeof(*e));
	/* The header is at the same place in both versions. */
	e->v2.opcode = htole16(j->opcode);
	e->v2.desc_size = htole16(v3 ? SPATTEN_DESC_V3_SIZE : SPATTEN_DESC_SIZE);
	e->v2.version = j->version;
	e->v2.stage = j->stage;
	e->v2.flags = htole16((uint16_t)j->flags);
	if (v3) {
		struct spatten_hw_desc_v3 *d = &e->v3;

		d->n_heads = htole16(j->n_heads);
		d->n_kv_heads = htole16(dm.n_kv_heads);
		d->head_dim = htole16(j->head_dim);
		d->q_rows = htole32(dm.q_rows);
		d->kv_rows = htole32(dm.kv_rows);
		d->q_start = htole32(dm.q_start);
		d->q_fmt = j->q_fmt;
		d->q_frac = j->q_frac;
		d->k_fmt = j->k_fmt;
		d->k_frac = j->k_frac;
		d->v_fmt = j->v_fmt;
		d->v_frac = j->v_frac;
		d->out_fmt = j->out_fmt;
		d->out_frac = j->out_frac;
		d->n_tok_alive = htole32(dm.n_tok_alive);
		d->token_keep = htole32(dm.token_keep);
		d->n_pinned = htole32(dm.n_pinned);
		d->value_keep = htole32(dm.value_keep);
		d->n_head_alive = htole16(j->n_head_alive);
		d->head_keep = htole16(j->head_keep);
		d->lsb_threshold = htole16(j->lsb_threshold);
		d->topk_seed = htole32(j->topk_seed);
		d->score_scale = htole32(j->score_scale);
		d->rope_base = htole32(j->rope_base);
		d->kv_block_rows = htole32(j->kv_block_rows);
		d->kv_head_stride = htole32(j->kv_head_stride);
		d->kv_row_stride = htole32(j->kv_row_stride);
		d->kv_block_stride = htole32(j->kv_block_stride);
	} else {
		struct spatten_hw_desc *d = &e->v2;

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
	for (p = 0; p < np; p++) {
		const struct drm_spatten_tensor *t = jt(j, p);
		struct spatten_hw_buf *b = hb(e, v3, p);
		uint64_t len = operand_bytes(j, p);

		if (!t->handle)
			continue;
		/* spatten_job_bind(): a paged KV plane to the object's end */
		if (j->kv_block_rows && kv_plane(p)) {
			len = BO_SZ - t->offset;
			if (len > UINT32_MAX)
				len = UINT32_MAX;
		}
		b->addr = htole64((uintptr_t)(s->sim + (t->offset - s->base)));
		b->len = htole32((uint32_t)len);
	}
	return v3 ? SPATTEN_DESC_V3_SIZE : SPATTEN_DESC_SIZE;
}

uint64_t kv_row(const struct drm_spatten_job *j, const uint32_t *table,
		uint32_t g, uint32_t slot)
{
	uint32_t br = j->kv_block_rows;
	struct load_dims dm;

	load_dims(j, &dm);
	if (!j->kv_row_stride)	/* packed */
		return (uint64_t)g * dm.kv_rows + slot;
	if (!br)
		return (uint64_t)g * j->kv_head_stride +
		       (uint64_t)slot * j->kv_row_stride;
	return (uint64_t)table[slot / br] * j->kv_block_stride +
	       (uint64_t)g * j->kv_head_stride +
	       (uint64_t)(slot % br) * j->kv_row_stride;
}
