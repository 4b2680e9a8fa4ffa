// SPDX-License-Identifier: MIT
/*
 * SpAtten engine: running a job (v2: attention with cascade token and head
 * pruning, local value pruning and progressive quantization).
 *
 * Order of operations (docs/engine.md section 3 is the normative text):
 *  1. read the head_alive, tok_alive and pinned lists; check them (ERR_LIST)
 *     and the keep counts against them (ERR_KEEP);
 *  2. read tok_imp (one row, or one per KV head) and head_imp whole;
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
 * job (spe_scratch.c). The inner loops go through the kernel table
 * (spe_kernels.h) over contiguous gathered rows, or over the kept rows in
 * place through their index list, so a pruned job costs about its kept
 * fraction. The query rows of a head go in blocks (spe_block.c: one
 * qk_rows and one pv_rows call per block, softmax and the rest per row),
 * which gives the row-by-row results bit for bit (tests/host/test_rows.c).
 */
#include <endian.h>
#include <stdlib.h>
#include <string.h>

#include "spe_run.h"

static int spe_causal(const struct spe_job *job)
{
	return !!(job->flags & SPATTEN_DESC_F_CAUSAL);
}

/* Rows, heads and positions the engine takes: 32-bit, with room to add. */
#define SPE_MAX_ROWS		0x7fffffffu

/*
 * spe_run() may be handed a job that did not come from spe_desc_decode();
 * refuse anything that would break the arithmetic's or the scratch's
 * preconditions.
 */
static int spe_job_check(const struct spe_job *job)
{
	int prog = !!(job->flags & SPATTEN_DESC_F_PROGRESSIVE);
	uint64_t q_end = (uint64_t)job->q_start + job->q_rows;
	int rc;

	if (job->opcode != SPATTEN_OP_ATTENTION)
		return SPATTEN_HW_ERR_OPCODE;
	if (!job->n_heads || !job->q_rows || !job->kv_rows ||
	    job->n_heads > 0xffff || job->q_rows > SPE_MAX_ROWS ||
	    job->kv_rows > SPE_MAX_ROWS || job->head_dim < 8 ||
	    job->head_dim > 0x8000 || (job->head_dim & (job->head_dim - 1)) ||
	    !job->n_kv_heads || job->n_kv_heads > job->n_heads ||
	    job->n_heads % job->n_kv_heads)
		return SPATTEN_HW_ERR_SHAPE;
	/* chunks (q_rows > 1 new tokens) are version 3's */
	if (job->stage == SPATTEN_STAGE_GENERATION && job->q_rows != 1 &&
	    job->version < SPATTEN_DESC_VERSION_V3)
		return SPATTEN_HW_ERR_SHAPE;
	if (spe_causal(job) ? q_end > job->kv_rows : job->q_start != 0)
		return SPATTEN_HW_ERR_POSITION;
	if ((job->flags & SPATTEN_DESC_F_ROPE_POSITIONS) && q_end > job->kv_rows)
		return SPATTEN_HW_ERR_POSITION;
	if (job->stage == SPATTEN_STAGE_GENERATION &&
	    (q_end != job->kv_rows || (job->q_rows > 1 && !spe_causal(job))))
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
	    (job->n_pinned && !job->token_keep) ||
	    (job->list_bytes != 2 && job->list_bytes != 4) ||
	    (job->list_bytes == 2 && job->kv_rows > 0xffff))
		return SPATTEN_HW_ERR_KEEP;
	/* importance per KV head: version 3, no token pruning, u32 counts */
	if ((job->flags & SPATTEN_DESC_F_IMP_PER_KV_HEAD) &&
	    (job->version < SPATTEN_DESC_VERSION_V3 || job->token_keep))
		return SPATTEN_HW_ERR_FLAGS;
	if (spe_tok_imp_count(job) > SPE_MAX_ROWS)
		return SPATTEN_HW_ERR_SHAPE;
	rc = spe_check_layout(job);
	if (!rc)
		rc = spe_check_params(job);
	return rc;
}

/* ---- Before the layer: lists, keep counts, token selection ------------- */

/*
 * Query rows per head up to which the kept K and V rows of a pruned job
 * are read in place through the gathers rather than copied together:
 * a generation step (one row) or a small chunk. More rows amortise one
 * copy, and the multi-row kernels want contiguous rows.
 */
#define SPE_GATHER_MAX_ROWS	4

/*
 * Gathers, where they pay and can be used: kept rows in more than one
 * run, few query rows, host int16 rows through a map in a packed or
 * head-major layout; c->gidx[] then lists the gathered rows from the
 * first. Otherwise c->gidx is NULL.
 */
static void spe_gather_init(struct spe_ctx *c)
{
	uint32_t j;

	if (!c->gidx || !SPE_HOST_LE || !c->mem->map_gather ||
	    c->n_kv_span < 2 ||
	    c->n_rows > SPE_GATHER_MAX_ROWS || c->kv.row_stride != 1 ||
	    c->kv.block_rows ||
	    (c->k_bits != 16 && c->v_bits != 16 && !c->progressive)) {
		c->gidx = NULL;
		return;
	}
	for (j = 0; j < c->n_kvis; j++)
		c->gidx[j] = c->tok[j] - c->tok[0];
}

static int spe_prepare(struct spe_ctx *c)
{
	const struct spe_job *job = c->job;
	uint32_t kv = job->kv_rows, i, p, s, f, n_forced, n_nf, k;
	uint32_t first_new = c->generation ? job->q_start : kv;
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
	/*
	 * The new tokens of a generation step, slots q_start..kv_rows-1, are
	 * always candidates, listed or not: the listed candidates below
	 * q_start, then every new slot (one, the current token, unless the
	 * step is a chunk of version 3).
	 */
	if (c->generation) {
		while (c->n_cand && c->cand[c->n_cand - 1] >= first_new)
			c->n_cand--;
		for (i = first_new; i < kv; i++)
			c->cand[c->n_cand++] = i;
	}
	if (job->n_pinned) {
		rc = spe_read_list(c, SPE_PLANE_PINNED, job->n_pinned, kv,
				   c->pinned);
		if (rc)
			return rc;
		c->n_pinned = job->n_pinned;
	}

	/*
	 * Forced candidates: pinned ones, and the new tokens (the last
	 * q_rows candidates of a generation step). With pinned tokens, @idx
	 * gets the positions of the others, in candidate order.
	 */
	if (!c->n_pinned) {
		n_forced = kv - first_new;
		n_nf = c->n_cand - n_forced;
	} else {
		n_forced = n_nf = 0;
		for (i = 0, p = 0; i < c->n_cand; i++) {
			uint32_t t = c->cand[i];

			while (p < c->n_pinned && c->pinned[p] < t)
				p++;
			if ((p < c->n_pinned && c->pinned[p] == t) ||
			    t >= first_new)
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
		rc = spe_read_u64s(c, SPE_PLANE_TOK_IMP, c->n_imp, c->tok_imp);
		if (rc)
			return rc;
	}
	if (job->buf[SPE_PLANE_HEAD_IMP].len) {
		rc = spe_read_u64s(c, SPE_PLANE_HEAD_IMP, job->n_heads,
				   c->head_imp);
		if (rc)
			return rc;
	}
	/* Version 3: the block table and key positions, before any write. */
	if (c->kv.block_rows) {
		rc = spe_kv_read_table(c);
		if (rc)
			return rc;
	}
	if (c->pos) {
		rc = spe_read_u32s(c, SPE_PLANE_POSITIONS, kv, c->pos);
		if (rc)
			return rc;
	}
	if (c->hfrac) {
		uint32_t nf = 2 * (job->n_heads + job->n_kv_heads);

		rc = spe_read(c, SPE_PLANE_HEAD_FRACS, 0, c->hfrac, nf);
		if (rc)
			return rc;
		for (i = 0; i < nf; i++)
			if (c->hfrac[i] > 15)
				return SPATTEN_HW_ERR_FORMAT;
		/* each head's score scale stays normal (decode's rule) */
		for (i = 0; i < job->n_heads; i++)
			if (!spatten_hw_params_ok(job->flags, job->score_scale,
						  job->rope_base,
						  c->hfrac[i] +
						  c->hfrac[2 * job->n_heads +
							   i / c->group]))
				return SPATTEN_HW_ERR_PARAM;
	}
	if (c->rope)
		spe_rope_init(c->inv_freq, c->d, job->rope_base);

	if (!job->token_keep) {
		memcpy(c->tok, c->cand, (size_t)c->n_cand * sizeof(*c->tok));
		c->n_tok = c->n_cand;
	} else if (!c->n_pinned) {
		/* Top-k over the candidates but the new tokens. */
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
		for (i = first_new; i < kv; i++)
			c->tok[c->n_tok++] = i;
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
	spe_gather_init(c);
	if (c->has_tok_imp)
		memset(c->imp, 0, (size_t)c->n_tok * sizeof(*c->imp));
	return SPATTEN_HW_OK;
}

/* ---- One KV head and its query heads ----------------------------------- */

/*
 * The gathered K rows (and, without value pruning, V rows) of KV head @g:
 * read once for all of its query heads. With RoPE the first-pass keys are
 * rotated: in place, or into krot when progressive keys need the
 * unrotated MSBs to merge their LSBs into later.
 */
static int spe_load_kv_head(struct spe_ctx *c, uint32_t g)
{
	size_t n = (size_t)c->n_kvis * c->d;
	int rc;

	int k_in = 0, v_in = 0;

	c->kv_head = g;
	c->lsb_loaded = 0;
	c->kp = c->k16;
	c->vp = c->v16;
	/*
	 * One query row (a generation step): progressive keys are scored
	 * from the packed plane, unless RoPE must rotate them first.
	 */
	c->k_packed = c->progressive && !c->rope && c->n_rows == 1 &&
		      c->n_kvis && spe_map_kv_packed(c, g);
	if (c->k_packed)
		k_in = 2;
	/* RoPE rotates keys, progressive ones are packed: never in place */
	else if (c->gidx && c->kern->qk_gather && c->k_bits == 16 && !c->rope)
		k_in = spe_map_kv_span(c, SPE_PLANE_K_MSB, g, c->k16, &c->kp);
	c->k_gather = k_in == 1;
	if (!k_in) {
		rc = spe_load_kv_all(c, SPE_PLANE_K_MSB, g, c->k16,
				     c->progressive || c->rope ? NULL : &c->kp);
		if (rc)
			return rc;
	}
	if (c->gidx && c->kern->pv_gather && c->v_bits == 16 &&
	    !c->value_prune)
		v_in = spe_map_kv_span(c, SPE_PLANE_V, g, c->v16, &c->vp);
	c->v_gather = v_in == 1;
	if (!v_in && !c->value_prune) {
		rc = spe_load_kv_all(c, SPE_PLANE_V, g, c->v16, &c->vp);
		if (rc)
			return rc;
	}
	/* progressive: k16 has the first-pass keys (spe_kv_form()) */
	if (c->rope && c->progressive) {
		memcpy(c->krot, c->k16, n * sizeof(*c->krot));
		c->kp = c->krot;
	}
	if (c->rope)
		spe_rope_keys(c, (int16_t *)c->kp, 0, c->n_kvis);
	if (c->value_prune)
		memset(c->vstate, SPE_V_ABSENT, c->n_kvis);
	return SPATTEN_HW_OK;
}

/*
 * F_HEAD_FRACS: query head @h's units: scores 2^-(q_frac[h] + k_frac[g]),
 * products shifted by 15 + v_frac[g] - out_frac[h] (0..30), output and
 * head importance with out_frac[h].
 */
static void spe_head_fracs(struct spe_ctx *c, uint32_t h)
{
	const struct spe_job *job = c->job;
	uint32_t g = h / c->group, H = job->n_heads, G = job->n_kv_heads;
	unsigned int qf = c->hfrac[h], of = c->hfrac[H + h];
	unsigned int kf = c->hfrac[2 * H + g], vf = c->hfrac[2 * H + G + g];

	c->scale = spe_score_scale_fracs(job, qf + kf);
	c->shift = SPE_PROB_FRAC + (int)vf - (int)of;
	c->out_frac = of;
}

/* Section 3, step 6: one query head; its KV head's rows are loaded. */
static int spe_run_head(struct spe_ctx *c, uint32_t h)
{
	uint32_t r0, r1;
	uint64_t head_mag = 0;
	int rc;

	if (c->hfrac)
		spe_head_fracs(c, h);
	/* RoPE rotates the rows: never the operand's own bytes. */
	rc = spe_load_q(c, h, !c->rope);
	if (rc)
		return rc;
	if (c->rope)
		spe_rope_queries(c, c->q16);
	if (c->has_tok_imp)
		memset(c->imp32, 0, (size_t)c->n_kvis * sizeof(*c->imp32));
	c->imp32_rows = 0;

	for (r0 = 0; r0 < c->n_rows; r0 = r1) {
		r1 = c->n_rows - r0 > c->blk ? r0 + c->blk : c->n_rows;
		if (spe_cancelled(c))
			return SPATTEN_HW_ERR_ABORTED;
		rc = spe_run_block(c, r0, r1, &head_mag);
		if (rc)
			return rc;
	}
	rc = spe_write_out(c, h);
	if (rc)
		return rc;

	if (c->has_tok_imp)
		spe_flush_imp(c);
	c->head_imp[h] += head_mag;
	c->st->heads++;
	c->st->query_rows += c->n_rows;
	return SPATTEN_HW_OK;
}

/*
 * Each kept token's importance, gathered over the heads summed since the
 * last fold, into tok_imp's row @g (0 for the one shared row); the sums
 * restart at 0.
 */
static void spe_fold_imp(struct spe_ctx *c, uint32_t g)
{
	uint64_t *row = c->tok_imp + (size_t)g * c->job->kv_rows;
	uint32_t i;

	for (i = 0; i < c->n_tok; i++)
		row[c->tok[i]] += c->imp[i];
	memset(c->imp, 0, (size_t)c->n_tok * sizeof(*c->imp));
}

/*
 * Every alive query head, ascending, each KV head's rows read once before
 * its first alive query head (query heads of a KV head are consecutive).
 * With importance per KV head, a KV head's sums go to its row of tok_imp
 * when the next KV head starts, the last one's in spe_finish().
 */
static int spe_run_heads(struct spe_ctx *c)
{
	uint32_t i, h;
	int rc;

	for (i = 0; i < c->n_heads; i++) {
		h = c->heads[i];
		if (spe_cancelled(c))
			return SPATTEN_HW_ERR_ABORTED;
		if (!i || h / c->group != c->kv_head) {
			if (i && c->has_tok_imp && c->imp_per_kv)
				spe_fold_imp(c, c->kv_head);
			rc = spe_load_kv_head(c, h / c->group);
			if (rc)
				return rc;
		}
		rc = spe_run_head(c, h);
		if (rc)
			return rc;
	}
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
		/* the last KV head's row, or the one shared row */
		spe_fold_imp(c, c->imp_per_kv ? c->kv_head : 0);
		rc = spe_write_u64s(c, SPE_PLANE_TOK_IMP, c->tok_imp,
				    c->n_imp);
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

static int spe_run_attention(const struct spe_job *desc_job,
			     const struct spe_caps *caps,
			     const struct spe_mem *mem, struct spe_stats *st)
{
	struct spe_job job_copy = *desc_job, *job = &job_copy;
	struct spe_ctx c;
	int rc;

	/* Hand-built jobs may leave the version-3 fields 0 (struct spe_job). */
	if (!job->n_kv_heads)
		job->n_kv_heads = job->n_heads;
	if (!job->list_bytes)
		job->list_bytes = SPATTEN_LIST_BYTES;
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
	c.imp_per_kv = !!(job->flags & SPATTEN_DESC_F_IMP_PER_KV_HEAD);
	c.n_imp = (uint32_t)spe_tok_imp_count(job);
	c.scale = spe_score_scale(job);
	c.shift = SPE_PROB_FRAC + job->v_frac - job->out_frac;
	c.out_frac = job->out_frac;
	c.rope = !!(job->flags & SPATTEN_DESC_F_ROPE);
	c.group = job->n_heads / job->n_kv_heads;
	spe_kv_layout_init(&c);
	c.topk.seed = job->topk_seed;
	c.topk.model = caps ? &caps->model : NULL;
	c.topk.kern = c.kern;
	c.max_scratch = caps ? caps->max_scratch : 0;

	rc = spe_scratch_alloc(&c);
	if (rc)
		return rc;
	/* head_imp accumulates even when absent; tok_imp only if present. */
	memset(c.head_imp, 0, (size_t)job->n_heads * sizeof(*c.head_imp));

	rc = spe_prepare(&c);
	if (!rc)
		rc = spe_run_heads(&c);
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
