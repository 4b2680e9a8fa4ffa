/* SPDX-License-Identifier: MIT */
/*
 * SpAtten engine: the state of one running job, shared by the files that
 * run it (spe_attention.c: the pipeline; spe_rows.c: operand rows and
 * lists through struct spe_mem; spe_rope.c: rotary positions). Not an
 * API: spe.h is.
 */
#ifndef SPE_RUN_H
#define SPE_RUN_H

#include <stdint.h>

#include "spe.h"
#include "spe_internal.h"
#include "spe_kernels.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define SPE_HOST_LE		1
#else
#define SPE_HOST_LE		0
#endif

/* A maximal run of consecutive row numbers: idx[at .. at + len). */
struct spe_span {
	uint32_t at, len;
};

/*
 * Where the rows of the K, K-LSB and V planes are (spatten_hw.h, "KV
 * layout"), in rows of the plane: the packed layout of versions 1 and 2
 * is head_stride = kv_rows, row_stride = 1, no blocks.
 */
struct spe_kv_layout {
	uint64_t head_stride, row_stride, block_stride;
	uint32_t block_rows;		/* 0: not paged */
	uint32_t block_shift;		/* log2(block_rows) */
	uint32_t *table;		/* [n_blocks] block numbers */
	uint32_t n_blocks;
};

struct spe_ctx {
	const struct spe_job *job;
	const struct spe_mem *mem;
	const struct spe_kernels *kern;
	struct spe_stats *st;
	struct spe_topk topk;
	uint32_t d, k_bits, v_bits;
	int causal, progressive, generation, value_prune, has_tok_imp, rope;
	int imp_per_kv;			/* F_IMP_PER_KV_HEAD */
	uint32_t n_imp;			/* tok_imp entries: kv_rows (x G) */
	float scale;			/* this head's (F_HEAD_FRACS) */
	int shift;
	unsigned int out_frac;
	uint8_t *hfrac;			/* F_HEAD_FRACS: the table, or NULL */
	uint64_t max_scratch;		/* caps->max_scratch, 0: no limit */
	struct spe_kv_layout kv;
	uint32_t group;			/* query heads per KV head */
	uint32_t kv_head;		/* KV head whose rows are loaded */
	uint32_t lsb_loaded;		/* its gathered rows with LSBs in */

	void *block;
	uint8_t *raw;		/* bytes as read: lists, packed rows, arrays */
	uint32_t *heads, n_heads;	/* query heads computed, ascending */
	uint32_t *cand, n_cand;		/* token candidates, ascending */
	uint32_t *pinned, n_pinned;
	uint32_t *tok, n_tok;		/* kept tokens T, ascending */
	uint32_t *rows, n_rows;		/* query rows computed, ascending */
	uint32_t n_kvis;		/* prefix of T any computed row sees */
	struct spe_span *q_span;	/* runs of rows[] */
	uint32_t n_q_span;
	struct spe_span *kv_span;	/* runs of tok[0..n_kvis) */
	uint32_t n_kv_span;
	uint32_t *idx;			/* [kv + 1] top-k input -> candidate */
	uint32_t *sel;			/* [kv + 1] top-k survivors */
	uint64_t *key;			/* [kv + 1] top-k keys */
	uint64_t *tok_imp;		/* [n_imp]: [G][kv] per KV head */
	uint64_t *head_imp;
	uint64_t *imp;			/* [kv + 1] sum of pq per kept token */
	uint32_t *imp32;		/* [kv + 1] the same, one head */
	uint32_t imp32_rows;		/* rows summed into imp32 */
	uint32_t *pos;			/* [kv] key positions, or NULL: slots */
	double *inv_freq;		/* [d / 2] RoPE inverse frequencies */
	/*
	 * RoPE's Q1.15 cos and sin, pair by pair, of the gathered keys'
	 * positions ([kv][d / 2][2], rows [0, rope_k_rows) filled) and of
	 * the computed query rows' ([nq][d / 2][2]): found once per job
	 * rather than per KV head and query head. NULL (rope_tables 0)
	 * when too large: then computed at every use.
	 */
	int rope_tables;
	int32_t *rope_k, *rope_q;
	uint32_t rope_k_rows, rope_q_rows;
	int16_t *q16;			/* [n_rows][d] */
	int16_t *k16;			/* [n_kvis][d], MSB * 16 + 8 if prog. */
	int16_t *krot;			/* [n_kvis][d] RoPE + progressive */
	int16_t *kfull;			/* [n_kvis][d] progressive, with LSBs */
	int16_t *v16;			/* [n_kvis][d] */
	int16_t *vtmp;			/* [vk][d] gathered V rows of a row */
	/*
	 * The gathered Q, K and V rows as the kernels read them: q16, k16
	 * (krot) and v16, or the operand's own bytes where mem->map gave
	 * them in place.
	 */
	const int16_t *qp, *kp, *vp;
	/*
	 * Gathers (spe_gather_wanted()): kp and vp may instead be the
	 * operand's own rows from the first kept token on, row j of the
	 * gathered ones at gidx[j] = tok[j] - tok[0] (k_gather, v_gather).
	 */
	uint32_t *gidx;			/* [kv + 1], NULL: no gathers */
	int k_gather, v_gather;
	/*
	 * Progressive keys of a generation step scored straight from the
	 * packed MSB plane (k_packed): its rows at kpk, row j of the
	 * gathered ones row kidx[j] (j if NULL); LSB refetches add q . lsb
	 * (lsbdot) to the first-pass scores.
	 */
	int k_packed;
	const uint8_t *kpk;
	const uint32_t *kidx;
	int64_t *lsbdot;		/* [kv] */
	uint32_t blk;			/* query rows per block */
	uint32_t *rvis;			/* [n_rows] visible keys per row */
	int64_t *score;			/* [blk][kv] */
	float *e;			/* [kv] */
	int32_t *pq;			/* [blk][kv] */
	int64_t *acc;			/* [blk][d] */
	uint32_t vk;			/* value pruning: kept per row, max */
	uint32_t *vp_idx, *vp_n;	/* [blk][vk], [blk] */
	int32_t *vp_w;			/* [blk][vk] */
	uint8_t *vstate;		/* [kv] SPE_V_* of gathered V rows */
	uint8_t *out;			/* [n_rows][d] int16 LE, one head */
};

/* Value pruning: where a gathered V row is. */
#define SPE_V_ABSENT	0
#define SPE_V_WANTED	1	/* kept by a row of the block, not read yet */
#define SPE_V_LOADED	2	/* in v16 */

/* The caller's cancellation poll (struct spe_mem.cancelled). */
static inline int spe_cancelled(const struct spe_ctx *c)
{
	return c->mem->cancelled && c->mem->cancelled(c->mem->opaque);
}

/* spe_scratch.c: the job's one allocation, c->block; its arrays set */
int spe_scratch_alloc(struct spe_ctx *c);

/* spe_block.c: query rows [r0, r1) of the head; importance sums to 64 bits */
int spe_run_block(struct spe_ctx *c, uint32_t r0, uint32_t r1,
		  uint64_t *head_mag);
void spe_flush_imp(struct spe_ctx *c);

/* spe_rows.c: operands through struct spe_mem */
int spe_read(struct spe_ctx *c, enum spe_plane plane, uint64_t off,
	     void *dst, size_t len);
int spe_write(struct spe_ctx *c, enum spe_plane plane, uint64_t off,
	      const void *src, size_t len);
int spe_read_list(struct spe_ctx *c, enum spe_plane plane, uint32_t n,
		  uint32_t limit, uint32_t *dst);
int spe_write_list(struct spe_ctx *c, enum spe_plane plane,
		   const uint32_t *src, uint32_t n);
int spe_read_u32s(struct spe_ctx *c, enum spe_plane plane, uint32_t n,
		  uint32_t *dst);
int spe_read_u64s(struct spe_ctx *c, enum spe_plane plane, uint32_t n,
		  uint64_t *dst);
int spe_write_u64s(struct spe_ctx *c, enum spe_plane plane,
		   const uint64_t *src, uint32_t n);
uint32_t spe_run_len(const uint32_t *idx, uint32_t i, uint32_t n);
uint32_t spe_spans(const uint32_t *idx, uint32_t n, struct spe_span *sp);
void spe_kv_layout_init(struct spe_ctx *c);
int spe_kv_read_table(struct spe_ctx *c);
int spe_load_q(struct spe_ctx *c, uint32_t head, int in_place);
int spe_load_kv(struct spe_ctx *c, enum spe_plane plane, uint32_t kv_head,
		uint32_t j0, uint32_t j1, const int16_t *base, int16_t *dst,
		const int16_t **direct);
int spe_load_kv_all(struct spe_ctx *c, enum spe_plane plane,
		    uint32_t kv_head, int16_t *dst, const int16_t **direct);
int spe_map_kv_packed(struct spe_ctx *c, uint32_t kv_head);
int spe_map_kv_span(struct spe_ctx *c, enum spe_plane plane,
		    uint32_t kv_head, int16_t *dst, const int16_t **rows);
int spe_write_out(struct spe_ctx *c, uint32_t head);

/* spe_rope.c: rotary positions */
void spe_rope_init(double *inv_freq, uint32_t d, uint32_t base);
void spe_rope_row(int16_t *x, uint32_t d, const double *inv_freq,
		  uint32_t pos);
void spe_rope_keys(struct spe_ctx *c, int16_t *k, uint32_t j0, uint32_t j1);
void spe_rope_queries(struct spe_ctx *c, int16_t *q);

#endif /* SPE_RUN_H */
