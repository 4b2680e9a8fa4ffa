// SPDX-License-Identifier: MIT
/*
 * libspatten: describing jobs: the descriptor's checks (the UAPI's rules,
 * with the reason for each refusal) and its encoding, versions 2 and 3.
 * submit.c queues and reaps them.
 */
#include <errno.h>
#include <string.h>

#include "spatten_private.h"
#include "spatten_drm.h"

#define TENSOR_ALIGN	64u

SPATTEN_API uint64_t spatten_tensor_bytes(uint32_t n_heads, uint32_t rows,
					  uint32_t head_dim)
{
	spatten__enter();
	return spatten_hw_tensor_bytes(n_heads, rows, head_dim,
				       SPATTEN_FMT_S16);
}

static uint64_t align_up(uint64_t x, uint64_t a)
{
	return (x + a - 1) & ~(a - 1);
}

SPATTEN_API uint64_t spatten_attn_desc_bytes(uint32_t n_heads,
					     uint32_t head_dim,
					     uint32_t q_rows, uint32_t kv_rows)
{
	uint64_t qo = align_up(spatten_tensor_bytes(n_heads, q_rows, head_dim),
			       TENSOR_ALIGN);
	uint64_t kv = align_up(spatten_tensor_bytes(n_heads, kv_rows, head_dim),
			       TENSOR_ALIGN);

	spatten__enter();
	return 2 * qo + 2 * kv;
}

SPATTEN_API void spatten_attn_desc_init(struct spatten_attn_desc *desc,
					struct spatten_bo *bo,
					uint32_t n_heads, uint32_t head_dim,
					uint32_t q_rows, uint32_t kv_rows)
{
	uint64_t qo = align_up(spatten_tensor_bytes(n_heads, q_rows, head_dim),
			       TENSOR_ALIGN);
	uint64_t kv = align_up(spatten_tensor_bytes(n_heads, kv_rows, head_dim),
			       TENSOR_ALIGN);

	spatten__enter();
	if (!desc)
		return;
	memset(desc, 0, sizeof(*desc));
	desc->n_heads = n_heads;
	desc->head_dim = head_dim;
	desc->q_rows = q_rows;
	desc->kv_rows = kv_rows;
	desc->stage = SPATTEN_STAGE_SUMMARIZATION;
	if (!bo)
		return;
	desc->q = (struct spatten_tensor_ref){ bo, 0 };
	desc->k = (struct spatten_tensor_ref){ bo, qo };
	desc->v = (struct spatten_tensor_ref){ bo, qo + kv };
	desc->out = (struct spatten_tensor_ref){ bo, qo + 2 * kv };
}

/* A refused descriptor: the message spatten_last_error() gives, -EINVAL. */
#define BAD(...)	spatten__err(-EINVAL, __VA_ARGS__)

static int check_u16(uint32_t v, uint32_t min)
{
	return v >= min && v <= UINT16_MAX ? 0 : -EINVAL;
}

static int check_dims(const struct spatten_attn_desc *d)
{
	if (check_u16(d->n_heads, 1))
		return BAD("n_heads %u: 1..65535", d->n_heads);
	if (check_u16(d->head_dim, 1) || (d->head_dim & (d->head_dim - 1)))
		return BAD("head_dim %u: a power of two up to 32768",
			   d->head_dim);
	if (!d->q_rows || !d->kv_rows)
		return BAD("q_rows %u, kv_rows %u: at least 1 each", d->q_rows,
			   d->kv_rows);
	return 0;
}

static int check_shape(const struct spatten_attn_desc *d)
{
	int ret = check_dims(d);

	if (ret)
		return ret;
	if (check_u16(d->q_rows, 1) || check_u16(d->kv_rows, 1) ||
	    check_u16(d->q_start, 0))
		return BAD("q_rows %u, kv_rows %u, q_start %u: a version 2 job "
			   "holds 16 bits each (spatten_attn_prep3() takes "
			   "more)", d->q_rows, d->kv_rows, d->q_start);
	return 0;
}

static int check_stage(const struct spatten_attn_desc *d)
{
	if (d->stage != SPATTEN_STAGE_SUMMARIZATION &&
	    d->stage != SPATTEN_STAGE_GENERATION)
		return BAD("stage %u: SPATTEN_STAGE_SUMMARIZATION or "
			   "SPATTEN_STAGE_GENERATION", d->stage);
	if (!(d->flags & SPATTEN_ATTN_CAUSAL) && d->q_start)
		return BAD("q_start %u in a job that is not causal (it starts "
			   "at 0)", d->q_start);
	return 0;
}

/*
 * The position rules of the UAPI (the same as the device's): a non-causal
 * job starts at 0, a causal one ends at or before the last key, a
 * generation job is one query at the last key position (so it is causal
 * unless kv_rows == 1).
 */
static int check_position(const struct spatten_attn_desc *d)
{
	int ret;

	if (d->flags & ~SPATTEN_ATTN_FLAGS_ALL)
		return BAD("flags %#x: a version 2 job knows %#x "
			   "(spatten_attn_prep3() takes the others)", d->flags,
			   SPATTEN_ATTN_FLAGS_ALL);
	ret = check_stage(d);
	if (ret)
		return ret;
	if (d->q_start + d->q_rows > d->kv_rows)
		return BAD("q_start %u + q_rows %u is past kv_rows %u",
			   d->q_start, d->q_rows, d->kv_rows);
	if (d->stage == SPATTEN_STAGE_GENERATION &&
	    (d->q_rows != 1 || d->q_start != d->kv_rows - 1))
		return BAD("a version 2 generation job is one query row at the "
			   "last slot: q_rows 1, q_start kv_rows - 1 = %u",
			   d->kv_rows - 1);
	return 0;
}

static int check_frac(const struct spatten_attn_desc *d)
{
	if (d->q_frac > SPATTEN_S16_MAX_FRAC ||
	    d->k_frac > SPATTEN_S16_MAX_FRAC ||
	    d->v_frac > SPATTEN_S16_MAX_FRAC ||
	    d->out_frac > SPATTEN_S16_MAX_FRAC)
		return BAD("fractional bits q %u, k %u, v %u, out %u: each "
			   "0..%d", d->q_frac, d->k_frac, d->v_frac,
			   d->out_frac, SPATTEN_S16_MAX_FRAC);
	return 0;
}

static int check_formats(const struct spatten_attn_desc *d)
{
	if (d->k_fmt >= SPATTEN_FMT_NUM || d->v_fmt >= SPATTEN_FMT_NUM)
		return BAD("k_fmt %u, v_fmt %u: enum spatten_format (0..%d)",
			   d->k_fmt, d->v_fmt, SPATTEN_FMT_NUM - 1);
	if ((d->flags & SPATTEN_ATTN_PROGRESSIVE) &&
	    d->k_fmt == SPATTEN_FMT_S16)
		return BAD("progressive keys: k_fmt is the MSB plane's format, "
			   "S4..S12, not S16");
	if (!(d->flags & SPATTEN_ATTN_PROGRESSIVE) && d->lsb_threshold)
		return BAD("lsb_threshold %u without SPATTEN_ATTN_PROGRESSIVE",
			   d->lsb_threshold);
	if (d->lsb_threshold > 32768)
		return BAD("lsb_threshold %u: 0..32768 (units of 2^-15)",
			   d->lsb_threshold);
	return 0;
}

/* The keep counts against their candidates (both descriptor versions). */
static int keep_rules(const struct spatten_attn_desc *d, uint64_t tok_cand,
		      uint32_t head_cand)
{
	if (d->n_tok_alive > d->kv_rows || d->n_pinned > d->kv_rows)
		return BAD("n_tok_alive %u, n_pinned %u: at most kv_rows %u",
			   d->n_tok_alive, d->n_pinned, d->kv_rows);
	if (d->n_head_alive > d->n_heads || d->head_keep > head_cand)
		return BAD("n_head_alive %u, head_keep %u: at most the %u "
			   "heads", d->n_head_alive, d->head_keep, head_cand);
	if (d->token_keep > tok_cand)
		return BAD("token_keep %u: more than the %llu candidate tokens",
			   d->token_keep, (unsigned long long)tok_cand);
	if (d->value_keep > d->kv_rows)
		return BAD("value_keep %u: at most kv_rows %u", d->value_keep,
			   d->kv_rows);
	if (d->n_pinned && !d->token_keep)
		return BAD("%u pinned tokens without token pruning "
			   "(token_keep)", d->n_pinned);
	/* Summarization with a token list: query row i is token i. */
	if (d->stage == SPATTEN_STAGE_SUMMARIZATION &&
	    (d->n_tok_alive || d->token_keep) &&
	    (d->q_rows != d->kv_rows || d->q_start))
		return BAD("token pruning or a token list in summarization "
			   "needs q_rows == kv_rows and q_start 0 (query row i "
			   "is token i): %u query rows, %u keys", d->q_rows,
			   d->kv_rows);
	return 0;
}

/* The keep-count rules of the device's decode, checked early. */
static int check_keep(const struct spatten_attn_desc *d)
{
	uint32_t tok_cand = d->n_tok_alive ? d->n_tok_alive + 1 : d->kv_rows;
	uint32_t head_cand = d->n_head_alive ? d->n_head_alive : d->n_heads;

	return keep_rules(d, tok_cand, head_cand);
}

static int encode_tensor(const char *name, struct spatten_tensor *t,
			 const struct spatten_tensor_ref *ref,
			 const struct spatten_dev *dev, uint64_t bytes,
			 unsigned int align)
{
	if (!ref->bo)
		return BAD("operand %s has no buffer", name);
	if (ref->bo->dev != dev)
		return BAD("operand %s is a buffer of another device than q's",
			   name);
	if (ref->offset % align)
		return BAD("operand %s: offset %llu is not a multiple of %u",
			   name, (unsigned long long)ref->offset, align);
	if (ref->offset > ref->bo->size || bytes > ref->bo->size - ref->offset)
		return spatten__err(-ERANGE, "operand %s: %llu bytes at offset "
				    "%llu pass the end of its %zu-byte buffer",
				    name, (unsigned long long)bytes,
				    (unsigned long long)ref->offset,
				    ref->bo->size);
	t->handle = ref->bo->handle;
	t->flags = 0;
	t->offset = ref->offset;
	return 0;
}

/* An optional operand: present exactly when @want (or, if @may, either). */
static int encode_opt(const char *name, struct spatten_tensor *t,
		      const struct spatten_tensor_ref *ref,
		      const struct spatten_dev *dev, uint64_t bytes,
		      unsigned int align, int want, int may)
{
	if (!want && !ref->bo)
		return 0;
	if (!want && !may)
		return BAD("operand %s is given but the job does not use it "
			   "(its count or flag is 0)", name);
	return encode_tensor(name, t, ref, dev, bytes, align);
}

static unsigned int fmt_align(uint8_t fmt)
{
	return fmt == SPATTEN_FMT_S16 ? 2 : 1;
}

static int encode_tensors(struct spatten_job *job,
			  const struct spatten_attn_desc *d)
{
	uint64_t qb = spatten_tensor_bytes(d->n_heads, d->q_rows, d->head_dim);
	const struct spatten_dev *dev = d->q.bo ? d->q.bo->dev : NULL;
	uint32_t H = d->n_heads, L = d->kv_rows, D = d->head_dim;
	int prog = !!(d->flags & SPATTEN_ATTN_PROGRESSIVE);
	int ret;

	ret = encode_tensor("q", &job->q, &d->q, dev, qb, 2);
	if (!ret)
		ret = encode_tensor("k", &job->k, &d->k, dev,
				    spatten_hw_tensor_bytes(H, L, D, d->k_fmt),
				    fmt_align(d->k_fmt));
	if (!ret)
		ret = encode_tensor("v", &job->v, &d->v, dev,
				    spatten_hw_tensor_bytes(H, L, D, d->v_fmt),
				    fmt_align(d->v_fmt));
	if (!ret)
		ret = encode_tensor("out", &job->out, &d->out, dev, qb, 2);
	if (!ret)
		ret = encode_opt("k_lsb", &job->k_lsb, &d->k_lsb, dev,
				 spatten_hw_plane_bytes(H, L, D,
							SPATTEN_LSB_BITS),
				 1, prog, 0);
	if (!ret)
		ret = encode_opt("tok_imp", &job->tok_imp, &d->tok_imp, dev,
				 (uint64_t)L * SPATTEN_IMP_BYTES, 8,
				 !!d->token_keep, 1);
	if (!ret)
		ret = encode_opt("tok_alive", &job->tok_alive, &d->tok_alive, dev,
				 (uint64_t)d->n_tok_alive * SPATTEN_LIST_BYTES,
				 2, !!d->n_tok_alive, 0);
	if (!ret)
		ret = encode_opt("tok_kept", &job->tok_kept, &d->tok_kept, dev,
				 (uint64_t)d->token_keep * SPATTEN_LIST_BYTES,
				 2, !!d->token_keep, 0);
	if (!ret)
		ret = encode_opt("pinned", &job->pinned, &d->pinned, dev,
				 (uint64_t)d->n_pinned * SPATTEN_LIST_BYTES,
				 2, !!d->n_pinned, 0);
	if (!ret)
		ret = encode_opt("head_imp", &job->head_imp, &d->head_imp, dev,
				 (uint64_t)H * SPATTEN_IMP_BYTES, 8,
				 !!d->head_keep, 1);
	if (!ret)
		ret = encode_opt("head_alive", &job->head_alive, &d->head_alive, dev,
				 (uint64_t)d->n_head_alive * SPATTEN_LIST_BYTES,
				 2, !!d->n_head_alive, 0);
	if (!ret)
		ret = encode_opt("head_kept", &job->head_kept, &d->head_kept, dev,
				 (uint64_t)d->head_keep * SPATTEN_LIST_BYTES,
				 2, !!d->head_keep, 0);
	return ret;
}

static int check_counts_u16(const struct spatten_attn_desc *d)
{
	return d->n_tok_alive > UINT16_MAX || d->token_keep > UINT16_MAX ||
	       d->n_pinned > UINT16_MAX || d->n_head_alive > UINT16_MAX ||
	       d->head_keep > UINT16_MAX || d->value_keep > UINT16_MAX ?
	       -EINVAL : 0;
}

SPATTEN_API int spatten_attn_prep(struct spatten_job *job,
				  const struct spatten_attn_desc *desc)
{
	int ret;

	spatten__enter();
	if (!job || !desc)
		return -EINVAL;
	memset(job, 0, sizeof(*job));

	ret = check_shape(desc);
	if (!ret)
		ret = check_position(desc);
	if (!ret)
		ret = check_frac(desc);
	if (!ret)
		ret = check_formats(desc);
	if (!ret)
		ret = check_counts_u16(desc);
	if (!ret)
		ret = check_keep(desc);
	if (!ret)
		ret = encode_tensors(job, desc);
	if (ret) {
		memset(job, 0, sizeof(*job));
		return ret;
	}

	job->opcode = SPATTEN_OP_ATTENTION;
	job->stage = (uint8_t)desc->stage;
	job->version = SPATTEN_DESC_VERSION;
	job->flags = (desc->flags & SPATTEN_ATTN_CAUSAL ?
		      SPATTEN_DESC_F_CAUSAL : 0) |
		     (desc->flags & SPATTEN_ATTN_PROGRESSIVE ?
		      SPATTEN_DESC_F_PROGRESSIVE : 0);
	job->n_heads = (uint16_t)desc->n_heads;
	job->head_dim = (uint16_t)desc->head_dim;
	job->q_rows = (uint16_t)desc->q_rows;
	job->kv_rows = (uint16_t)desc->kv_rows;
	job->q_start = (uint16_t)desc->q_start;
	job->q_fmt = SPATTEN_FMT_S16;
	job->k_fmt = desc->k_fmt;
	job->v_fmt = desc->v_fmt;
	job->out_fmt = SPATTEN_FMT_S16;
	job->q_frac = desc->q_frac;
	job->k_frac = desc->k_frac;
	job->v_frac = desc->v_frac;
	job->out_frac = desc->out_frac;
	job->n_tok_alive = (uint16_t)desc->n_tok_alive;
	job->token_keep = (uint16_t)desc->token_keep;
	job->n_pinned = (uint16_t)desc->n_pinned;
	job->n_head_alive = (uint16_t)desc->n_head_alive;
	job->head_keep = (uint16_t)desc->head_keep;
	job->value_keep = (uint16_t)desc->value_keep;
	job->lsb_threshold = desc->lsb_threshold;
	job->topk_seed = desc->topk_seed;
	job->user_data = desc->user_data;
	return 0;
}

SPATTEN_API void spatten_nop_prep(struct spatten_job *job, uint64_t user_data)
{
	spatten__enter();
	if (!job)
		return;
	memset(job, 0, sizeof(*job));
	job->opcode = SPATTEN_OP_NOP;
	job->version = SPATTEN_DESC_VERSION;
	job->user_data = user_data;
}

/* ---- Descriptor version 3 --------------------------------------------- */

/* The rules of version 3's shape and positions (64-bit sums). */
static int check_shape3(const struct spatten_attn_desc *d, uint32_t n_kv)
{
	uint64_t q_end = (uint64_t)d->q_start + d->q_rows;
	int ret = check_dims(d);

	if (ret)
		return ret;
	if (!n_kv || n_kv > d->n_heads || d->n_heads % n_kv)
		return BAD("n_kv_heads %u: a divisor of n_heads %u (1..%u)",
			   n_kv, d->n_heads, d->n_heads);
	if (d->flags & ~SPATTEN_ATTN_FLAGS_ALL_V3)
		return BAD("flags %#x: unknown bits %#x", d->flags,
			   d->flags & ~SPATTEN_ATTN_FLAGS_ALL_V3);
	/* one slot selection cannot serve caches of different tokens */
	if ((d->flags & SPATTEN_ATTN_IMP_PER_KV_HEAD) && d->token_keep)
		return BAD("SPATTEN_ATTN_IMP_PER_KV_HEAD takes no token "
			   "pruning (token_keep %u)", d->token_keep);
	ret = check_stage(d);
	if (ret)
		return ret;
	if (((d->flags & SPATTEN_ATTN_CAUSAL) ||
	     (d->flags & SPATTEN_ATTN_ROPE_POSITIONS)) && q_end > d->kv_rows)
		return BAD("q_start %u + q_rows %u is past kv_rows %u",
			   d->q_start, d->q_rows, d->kv_rows);
	if ((d->flags & SPATTEN_ATTN_HEAD_FRACS) &&
	    (d->q_frac || d->k_frac || d->v_frac || d->out_frac))
		return BAD("with SPATTEN_ATTN_HEAD_FRACS the table holds the "
			   "fractional bits: the desc's *_frac must be 0");
	/* generation: the new tokens end the slots; a chunk is causal */
	if (d->stage == SPATTEN_STAGE_GENERATION && q_end != d->kv_rows)
		return BAD("generation: the new tokens are the last slots "
			   "(q_start = kv_rows - q_rows = %llu, not %u)",
			   (unsigned long long)d->kv_rows - d->q_rows,
			   d->q_start);
	if (d->stage == SPATTEN_STAGE_GENERATION && d->q_rows > 1 &&
	    !(d->flags & SPATTEN_ATTN_CAUSAL))
		return BAD("a generation chunk (%u rows) is causal",
			   d->q_rows);
	if ((d->flags & SPATTEN_ATTN_ROPE_POSITIONS) &&
	    !(d->flags & SPATTEN_ATTN_ROPE))
		return BAD("SPATTEN_ATTN_ROPE_POSITIONS without "
			   "SPATTEN_ATTN_ROPE");
	return 0;
}

/*
 * The keep-count rules (64-bit, as the device's decode): the candidates
 * are at most the listed tokens and the new ones (one outside generation).
 */
static int check_keep3(const struct spatten_attn_desc *d)
{
	uint64_t extra = d->stage == SPATTEN_STAGE_GENERATION ? d->q_rows : 1;
	uint64_t tok_cand = d->n_tok_alive ? d->n_tok_alive + extra :
					     d->kv_rows;
	uint32_t head_cand = d->n_head_alive ? d->n_head_alive : d->n_heads;

	if (d->n_head_alive > UINT16_MAX || d->head_keep > UINT16_MAX)
		return BAD("n_head_alive %u, head_keep %u: at most 65535",
			   d->n_head_alive, d->head_keep);
	return keep_rules(d, tok_cand, head_cand);
}

static uint32_t float_bits(float f)
{
	uint32_t u;

	memcpy(&u, &f, sizeof(u));
	return u;
}

/* The version-3 fields: layout, RoPE, scale (spatten_hw.h's rules). */
static int check_ext(const struct spatten_attn_desc *d,
		     const struct spatten_attn_ext *e, uint32_t n_kv)
{
	uint16_t flags = d->flags & SPATTEN_ATTN_ROPE ? SPATTEN_DESC_F_ROPE : 0;
	unsigned int i;

	if (e->rsvd0)
		return BAD("ext->rsvd0 is not 0 (zero the struct before "
			   "filling it)");
	for (i = 0; i < sizeof(e->rsvd) / sizeof(e->rsvd[0]); i++)
		if (e->rsvd[i])
			return BAD("ext->rsvd[%u] is not 0 (zero the struct "
				   "before filling it)", i);
	if (!spatten_hw_kv_layout_ok(n_kv, e->kv_head_stride, e->kv_row_stride,
				     e->kv_block_stride, e->kv_block_rows))
		return BAD("KV layout: head stride %u, row stride %u, block "
			   "stride %u, block rows %u is not one the board "
			   "reads (docs/hardware.md, \"Descriptor version 3\")",
			   e->kv_head_stride, e->kv_row_stride,
			   e->kv_block_stride, e->kv_block_rows);
	if (!spatten_hw_params_ok(flags, float_bits(e->score_scale),
				  e->rope_base, d->q_frac + d->k_frac))
		return BAD("score_scale %g or rope_base %u: a positive normal "
			   "scale (0: 1/sqrt(head_dim)); a base of 2..2^31 "
			   "with SPATTEN_ATTN_ROPE, else 0",
			   (double)e->score_scale, e->rope_base);
	return 0;
}

/* Bytes of a K, K-LSB or V operand of @bits-bit elements. */
static uint64_t kv_bytes3(const struct spatten_attn_desc *d,
			  const struct spatten_attn_ext *e, uint32_t n_kv,
			  uint32_t bits)
{
	return spatten_hw_kv_plane_bytes(n_kv, d->kv_rows, e->kv_head_stride,
					 e->kv_row_stride, e->kv_block_rows,
					 d->head_dim * bits / 8);
}

static int encode_tensors3(struct spatten_job3 *j3,
			   const struct spatten_attn_desc *d,
			   const struct spatten_attn_ext *e, uint32_t n_kv)
{
	struct spatten_job *job = &j3->job;
	uint64_t qb = spatten_tensor_bytes(d->n_heads, d->q_rows, d->head_dim);
	const struct spatten_dev *dev = d->q.bo ? d->q.bo->dev : NULL;
	uint32_t H = d->n_heads, L = d->kv_rows, lb = SPATTEN_LIST_BYTES_V3;
	int prog = !!(d->flags & SPATTEN_ATTN_PROGRESSIVE);
	int ret;

	ret = encode_tensor("q", &job->q, &d->q, dev, qb, 2);
	if (!ret)
		ret = encode_tensor("k", &job->k, &d->k, dev,
				    kv_bytes3(d, e, n_kv,
					      spatten_hw_fmt_bits(d->k_fmt)),
				    fmt_align(d->k_fmt));
	if (!ret)
		ret = encode_tensor("v", &job->v, &d->v, dev,
				    kv_bytes3(d, e, n_kv,
					      spatten_hw_fmt_bits(d->v_fmt)),
				    fmt_align(d->v_fmt));
	if (!ret)
		ret = encode_tensor("out", &job->out, &d->out, dev, qb, 2);
	if (!ret)
		ret = encode_opt("k_lsb", &job->k_lsb, &d->k_lsb, dev,
				 kv_bytes3(d, e, n_kv, SPATTEN_LSB_BITS), 1,
				 prog, 0);
	if (!ret)
		ret = encode_opt("tok_imp", &job->tok_imp, &d->tok_imp, dev,
				 (uint64_t)L * SPATTEN_IMP_BYTES *
				 (d->flags & SPATTEN_ATTN_IMP_PER_KV_HEAD ?
				  n_kv : 1), 8,
				 d->token_keep ||
				 (d->flags & SPATTEN_ATTN_IMP_PER_KV_HEAD), 1);
	if (!ret)
		ret = encode_opt("tok_alive", &job->tok_alive, &d->tok_alive, dev,
				 (uint64_t)d->n_tok_alive * lb, lb,
				 !!d->n_tok_alive, 0);
	if (!ret)
		ret = encode_opt("tok_kept", &job->tok_kept, &d->tok_kept, dev,
				 (uint64_t)d->token_keep * lb, lb,
				 !!d->token_keep, 0);
	if (!ret)
		ret = encode_opt("pinned", &job->pinned, &d->pinned, dev,
				 (uint64_t)d->n_pinned * lb, lb, !!d->n_pinned, 0);
	if (!ret)
		ret = encode_opt("head_imp", &job->head_imp, &d->head_imp, dev,
				 (uint64_t)H * SPATTEN_IMP_BYTES, 8,
				 !!d->head_keep, 1);
	if (!ret)
		ret = encode_opt("head_alive", &job->head_alive, &d->head_alive, dev,
				 (uint64_t)d->n_head_alive * lb, lb,
				 !!d->n_head_alive, 0);
	if (!ret)
		ret = encode_opt("head_kept", &job->head_kept, &d->head_kept, dev,
				 (uint64_t)d->head_keep * lb, lb,
				 !!d->head_keep, 0);
	if (!ret)
		ret = encode_opt("block_table", &j3->block_table, &e->block_table, dev,
				 spatten_hw_kv_blocks(L, e->kv_block_rows) *
				 SPATTEN_BLOCK_ENTRY_BYTES,
				 SPATTEN_BLOCK_ENTRY_BYTES, !!e->kv_block_rows, 0);
	if (!ret)
		ret = encode_opt("positions", &j3->positions, &e->positions, dev,
				 (uint64_t)L * SPATTEN_POSITION_BYTES,
				 SPATTEN_POSITION_BYTES,
				 !!(d->flags & SPATTEN_ATTN_ROPE_POSITIONS), 0);
	if (!ret)
		ret = encode_opt("head_fracs", &j3->head_fracs, &e->head_fracs, dev,
				 2 * ((uint64_t)H + n_kv), 1,
				 !!(d->flags & SPATTEN_ATTN_HEAD_FRACS), 0);
	return ret;
}

/* The fields of a checked job (its tensors are encoded already). */
static void fill_job3(struct spatten_job3 *j3,
		      const struct spatten_attn_desc *d,
		      const struct spatten_attn_ext *e, uint32_t n_kv)
{
	struct spatten_job *job = &j3->job;

	job->opcode = SPATTEN_OP_ATTENTION;
	job->stage = (uint8_t)d->stage;
	job->version = SPATTEN_DESC_VERSION_V3;
	job->flags = (d->flags & SPATTEN_ATTN_CAUSAL ? SPATTEN_DESC_F_CAUSAL : 0) |
		     (d->flags & SPATTEN_ATTN_PROGRESSIVE ?
		      SPATTEN_DESC_F_PROGRESSIVE : 0) |
		     (d->flags & SPATTEN_ATTN_ROPE ? SPATTEN_DESC_F_ROPE : 0) |
		     (d->flags & SPATTEN_ATTN_ROPE_POSITIONS ?
		      SPATTEN_DESC_F_ROPE_POSITIONS : 0) |
		     (d->flags & SPATTEN_ATTN_HEAD_FRACS ?
		      SPATTEN_DESC_F_HEAD_FRACS : 0) |
		     (d->flags & SPATTEN_ATTN_IMP_PER_KV_HEAD ?
		      SPATTEN_DESC_F_IMP_PER_KV_HEAD : 0);
	job->n_heads = (uint16_t)d->n_heads;
	job->head_dim = (uint16_t)d->head_dim;
	job->q_fmt = SPATTEN_FMT_S16;
	job->k_fmt = d->k_fmt;
	job->v_fmt = d->v_fmt;
	job->out_fmt = SPATTEN_FMT_S16;
	job->q_frac = d->q_frac;
	job->k_frac = d->k_frac;
	job->v_frac = d->v_frac;
	job->out_frac = d->out_frac;
	job->n_head_alive = (uint16_t)d->n_head_alive;
	job->head_keep = (uint16_t)d->head_keep;
	job->lsb_threshold = d->lsb_threshold;
	job->topk_seed = d->topk_seed;
	job->user_data = d->user_data;
	j3->q_rows32 = d->q_rows;
	j3->kv_rows32 = d->kv_rows;
	j3->q_start32 = d->q_start;
	j3->n_tok_alive32 = d->n_tok_alive;
	j3->token_keep32 = d->token_keep;
	j3->n_pinned32 = d->n_pinned;
	j3->value_keep32 = d->value_keep;
	j3->n_kv_heads = (uint16_t)n_kv;
	j3->score_scale = float_bits(e->score_scale);
	j3->rope_base = e->rope_base;
	j3->kv_head_stride = e->kv_head_stride;
	j3->kv_row_stride = e->kv_row_stride;
	j3->kv_block_stride = e->kv_block_stride;
	j3->kv_block_rows = e->kv_block_rows;
}

SPATTEN_API int spatten_attn_prep3(struct spatten_job3 *job,
				   const struct spatten_attn_desc *desc,
				   const struct spatten_attn_ext *ext)
{
	static const struct spatten_attn_ext none;
	uint32_t n_kv;
	int ret;

	spatten__enter();
	if (!job || !desc)
		return -EINVAL;
	memset(job, 0, sizeof(*job));
	if (!ext)
		ext = &none;
	n_kv = ext->n_kv_heads ? ext->n_kv_heads : desc->n_heads;

	ret = check_shape3(desc, n_kv);
	if (!ret)
		ret = check_frac(desc);
	if (!ret)
		ret = check_formats(desc);
	if (!ret)
		ret = check_keep3(desc);
	if (!ret)
		ret = check_ext(desc, ext, n_kv);
	if (!ret)
		ret = encode_tensors3(job, desc, ext, n_kv);
	if (ret) {
		memset(job, 0, sizeof(*job));
		return ret;
	}
	fill_job3(job, desc, ext, n_kv);
	return 0;
}
