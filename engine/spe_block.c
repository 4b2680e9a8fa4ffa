// SPDX-License-Identifier: MIT
/*
 * SpAtten engine: one block of query rows of a head (docs/engine.md
 * section 3, steps 6.2-6.5): first-pass scores, softmax, the progressive
 * LSB refetch, token importance, local value pruning and prob x V, the
 * output rows requantised.
 */
#include <string.h>

#include "spe_run.h"

/*
 * Full keys of gathered rows [from, to) of the loaded KV head: LSB plane
 * rows merged into the first-pass keys, msb * 16 + lsb (rotated with
 * RoPE).
 */
static int spe_fetch_lsb(struct spe_ctx *c, uint32_t from, uint32_t to)
{
	size_t d = c->d;
	int16_t *full = c->kfull + from * d;
	int rc;

	rc = spe_load_kv(c, SPE_PLANE_K_LSB, c->kv_head, from, to,
			 c->k16 + from * d, full, NULL);
	if (rc)
		return rc;
	if (c->rope)
		spe_rope_keys(c, full, from, to);
	return SPATTEN_HW_OK;
}

/*
 * Requantise one output row (@acc) into the head's staging buffer; returns
 * its head-importance contribution, sum |y| << (16 - out_frac).
 */
static uint64_t spe_store_row(struct spe_ctx *c, uint32_t ri,
			      const int64_t *acc)
{
	uint8_t *dst = c->out + (size_t)ri * c->d * 2;
	uint64_t mag = c->kern->requant_row(acc, c->d, c->shift, dst);

	return mag << (SPE_HEAD_IMP_FRAC - c->out_frac);
}

/*
 * The largest of @n >= 0 probabilities (0 if none). gcc's -O2 cost
 * model will not vectorise a loop that needs an epilogue (see
 * spe_add_imp()), and this one runs over every row of a progressive job.
 */
#if defined(__GNUC__) && !defined(__clang__)
__attribute__((optimize("tree-vectorize", "vect-cost-model=cheap")))
#endif
static int32_t spe_max_prob(const int32_t *pq, uint32_t n)
{
	int32_t m = 0;
	uint32_t j;

	for (j = 0; j < n; j++)
		m = pq[j] > m ? pq[j] : m;
	return m;
}

/* 8 * sum_x q[x]: what the first-pass keys' "+ 8" adds to a score. */
static int64_t spe_q_mid(const int16_t *q, uint32_t d)
{
	int64_t s = 0;
	uint32_t x;

	for (x = 0; x < d; x++)
		s += q[x];
	return 8 * s;
}

/*
 * Scores of query row @q against first-pass keys msb * 16 + 8 from
 * qk_packed's q . msb: 16 q . msb + 8 sum q, exact in int64.
 */
static void spe_packed_scores(const int16_t *q, uint32_t d, int64_t *score,
			      uint32_t n)
{
	int64_t mid = spe_q_mid(q, d);
	uint32_t j;

	for (j = 0; j < n; j++)
		score[j] = score[j] * 16 + mid;
}

/*
 * The LSB refetch of scores from the packed plane: the full keys are
 * msb * 16 + lsb, so q . full = (first-pass score - 8 sum q) + q . lsb;
 * the LSB rows [lsb_loaded, vis) are read (as they are) once per KV head.
 */
static int spe_refetch_packed(struct spe_ctx *c, const int16_t *q,
			      int64_t *score, uint32_t vis)
{
	int64_t mid = spe_q_mid(q, c->d);
	uint32_t j;
	int rc;

	if (c->lsb_loaded < vis) {
		rc = spe_load_kv(c, SPE_PLANE_K_LSB, c->kv_head, c->lsb_loaded,
				 vis, NULL, c->kfull + (size_t)c->lsb_loaded *
				 c->d, NULL);
		if (rc)
			return rc;
		c->lsb_loaded = vis;
	}
	c->kern->qk_scores(q, c->kfull, vis, c->d, c->lsbdot);
	for (j = 0; j < vis; j++)
		score[j] += c->lsbdot[j] - mid;
	return SPATTEN_HW_OK;
}

/*
 * Probabilities @pq of one query row @q over the first @vis gathered keys,
 * its first-pass scores already in @score: softmax and, with PROGRESSIVE,
 * the LSB refetch (section 3, step 6.2), which recomputes @score[0..vis).
 */
static int spe_row_probs(struct spe_ctx *c, const int16_t *q, int64_t *score,
			 int32_t *pq, uint32_t vis)
{
	int rc;

	c->kern->softmax_row(score, vis, c->scale, c->e, pq);
	c->st->qk_scores += vis;
	if (!c->progressive)
		return SPATTEN_HW_OK;

	if ((uint32_t)spe_max_prob(pq, vis) >= c->job->lsb_threshold)
		return SPATTEN_HW_OK;
	if (c->k_packed) {
		rc = spe_refetch_packed(c, q, score, vis);
		if (rc)
			return rc;
	} else if (c->lsb_loaded < vis) {
		rc = spe_fetch_lsb(c, c->lsb_loaded, vis);
		if (rc)
			return rc;
		c->lsb_loaded = vis;
	}
	if (!c->k_packed)
		c->kern->qk_scores(q, c->kfull, vis, c->d, score);
	c->kern->softmax_row(score, vis, c->scale, c->e, pq);
	c->st->qk_scores += vis;
	c->st->refetch_rows++;
	return SPATTEN_HW_OK;
}

/* A row's probabilities as top-k keys (vectorised as spe_add_imp()). */
#if defined(__GNUC__) && !defined(__clang__)
__attribute__((optimize("tree-vectorize", "vect-cost-model=cheap")))
#endif
static void spe_prob_keys(uint64_t *restrict key, const int32_t *restrict pq,
			  uint32_t n)
{
	uint32_t j;

	for (j = 0; j < n; j++)
		key[j] = (uint32_t)pq[j];
}

/*
 * Local value pruning of block row @bi: remember its kept (key, prob)
 * pairs and mark their V rows wanted.
 */
static void spe_row_values(struct spe_ctx *c, uint32_t bi, uint32_t vis,
			   const int32_t *pq)
{
	uint32_t *idx = c->vp_idx + (size_t)bi * c->vk;
	int32_t *w = c->vp_w + (size_t)bi * c->vk;
	uint32_t j, n_sel = vis;
	uint64_t cyc;

	if (c->job->value_keep < vis) {
		spe_prob_keys(c->key, pq, vis);
		/* The value engine's cycles are hidden (docs/engine.md). */
		n_sel = spe_topk_select(&c->topk, c->key, vis,
					c->job->value_keep, idx, &cyc);
		for (j = 0; j < n_sel; j++)
			w[j] = pq[idx[j]];
	} else {
		for (j = 0; j < vis; j++) {
			idx[j] = j;
			w[j] = pq[j];
		}
	}
	for (j = 0; j < n_sel; j++)
		if (c->vstate[idx[j]] == SPE_V_ABSENT)
			c->vstate[idx[j]] = SPE_V_WANTED;
	c->vp_n[bi] = n_sel;
	c->st->pv_rows += n_sel;
}

/*
 * V rows the rows of a block kept and no earlier block of this KV head
 * did, among gathered keys [0, nb): read, one read per run, into v16.
 * Each V row of a KV head is read at most once, whatever its query heads
 * and blocks.
 */
static int spe_load_wanted_values(struct spe_ctx *c, uint32_t nb)
{
	uint32_t j = 0, end;
	int rc;

	while (j < nb) {
		if (c->vstate[j] != SPE_V_WANTED) {
			j++;
			continue;
		}
		for (end = j; end < nb && c->vstate[end] == SPE_V_WANTED; end++)
			c->vstate[end] = SPE_V_LOADED;
		rc = spe_load_kv(c, SPE_PLANE_V, c->kv_head, j, end, NULL,
				 c->v16 + (size_t)j * c->d, NULL);
		if (rc)
			return rc;
		j = end;
	}
	return SPATTEN_HW_OK;
}

/*
 * With value pruning, at the end of block rows [r0, r1) (visible keys
 * [0, nb)): read the V rows they kept, then prob x V per row.
 */
static int spe_block_values(struct spe_ctx *c, uint32_t r0, uint32_t r1,
			    uint32_t nb, uint64_t *mag)
{
	uint32_t d = c->d, ri, s;
	int rc;

	rc = spe_load_wanted_values(c, nb);
	if (rc)
		return rc;
	for (ri = r0; ri < r1; ri++) {
		const uint32_t *kj = c->vp_idx + (size_t)(ri - r0) * c->vk;
		const int32_t *w = c->vp_w + (size_t)(ri - r0) * c->vk;
		uint32_t n = c->vp_n[ri - r0];

		if (!n) {
			memset(c->acc, 0, d * sizeof(*c->acc));
		} else if (kj[n - 1] - kj[0] + 1 == n) {
			/*
			 * The row's V rows are consecutive gathered rows:
			 * multiply them in place.
			 */
			c->kern->pv_accumulate(w, c->v16 + (size_t)kj[0] * d,
					       n, d, c->acc);
		} else if (c->kern->pv_gather) {
			c->kern->pv_gather(w, c->v16, kj, n, d, c->acc);
		} else {
			for (s = 0; s < n; s++)
				memcpy(c->vtmp + (size_t)s * d,
				       c->v16 + (size_t)kj[s] * d,
				       d * sizeof(int16_t));
			c->kern->pv_accumulate(w, c->vtmp, n, d, c->acc);
		}
		*mag += spe_store_row(c, ri, c->acc);
	}
	return SPATTEN_HW_OK;
}

/*
 * imp[j] += pq[j] for j < n: token importance of one row, gathered
 * (section 3, 6.3), in 32 bits per head (spe_flush_imp() moves the sums
 * to 64 bits before 65536 rows of pq <= 2^15 could overflow them).
 * Integer adds, so vectorising changes no bit; gcc's -O2 cost model will
 * not vectorise a loop that needs an epilogue, hence the attribute (clang
 * vectorises it at -O2 anyway). On a BERT-base layer with tok_imp this
 * loop is 147456 adds per head.
 */
#if defined(__GNUC__) && !defined(__clang__)
__attribute__((optimize("tree-vectorize", "vect-cost-model=cheap")))
#endif
static void spe_add_imp(uint32_t *restrict imp, const int32_t *restrict pq,
			uint32_t n)
{
	uint32_t j;

	for (j = 0; j < n; j++)
		imp[j] += (uint32_t)pq[j];
}

/* The head's 32-bit token importance sums into the 64-bit ones. */
void spe_flush_imp(struct spe_ctx *c)
{
	uint32_t k;

	for (k = 0; k < c->n_kvis; k++)
		c->imp[k] += c->imp32[k];
	memset(c->imp32, 0, (size_t)c->n_kvis * sizeof(*c->imp32));
	c->imp32_rows = 0;
}

/*
 * Query rows [r0, r1) of the head, ascending (section 3, step 6.2-6.5):
 * the first-pass scores of the whole block in one qk_rows call against
 * the visible keys of its last row (rows that see fewer ignore the rest),
 * then per row softmax, refetch, importance, value selection; prob x V of
 * the block in one pv_rows call, the weights of keys a row does not see
 * being 0, or with value pruning row by row over the kept V rows. Integer
 * sums are exact, so every row gets the bits the row-by-row order gives.
 */
int spe_run_block(struct spe_ctx *c, uint32_t r0, uint32_t r1,
		  uint64_t *head_mag)
{
	uint32_t d = c->d, i, m, z, nb;
	int rc;

	if (c->has_tok_imp && c->imp32_rows + (r1 - r0) > 0x10000)
		spe_flush_imp(c);
	c->imp32_rows += r1 - r0;
	/* Rows that see nothing (not for decoded jobs) lead the block. */
	for (z = r0; z < r1 && !c->rvis[z]; z++) {
		if (c->value_prune) {
			c->vp_n[z - r0] = 0;
		} else {
			memset(c->acc, 0, d * sizeof(*c->acc));
			*head_mag += spe_store_row(c, z, c->acc);
		}
	}
	if (z == r1)
		return c->value_prune ? spe_block_values(c, r0, r1, 0, head_mag) :
					SPATTEN_HW_OK;
	m = r1 - z;
	nb = c->rvis[r1 - 1];

	if (c->k_packed)
		for (i = 0; i < m; i++) {
			const int16_t *q = c->qp + (size_t)(z + i) * d;
			int64_t *score = c->score + (size_t)i * nb;

			c->kern->qk_packed(q, c->kpk, c->kidx, nb, c->k_bits,
					   d, score);
			spe_packed_scores(q, d, score, nb);
		}
	else if (c->k_gather)
		for (i = 0; i < m; i++)
			c->kern->qk_gather(c->qp + (size_t)(z + i) * d, c->kp,
					   c->gidx, nb, d,
					   c->score + (size_t)i * nb);
	else
		c->kern->qk_rows(c->qp + (size_t)z * d, m, c->kp, nb, d,
				 c->score);
	for (i = 0; i < m; i++) {
		uint32_t n = c->rvis[z + i];
		int64_t *score = c->score + (size_t)i * nb;
		int32_t *pq = c->pq + (size_t)i * nb;

		rc = spe_row_probs(c, c->qp + (size_t)(z + i) * d, score, pq,
				   n);
		if (rc)
			return rc;
		if (c->has_tok_imp)
			spe_add_imp(c->imp32, pq, n);
		if (c->value_prune) {
			spe_row_values(c, z + i - r0, n, pq);
		} else {
			if (n < nb)
				memset(pq + n, 0, (nb - n) * sizeof(*pq));
			c->st->pv_rows += n;
		}
	}
	if (c->value_prune)
		return spe_block_values(c, r0, r1, nb, head_mag);
	if (c->v_gather)
		for (i = 0; i < m; i++)
			c->kern->pv_gather(c->pq + (size_t)i * nb, c->vp,
					   c->gidx, nb, d,
					   c->acc + (size_t)i * d);
	else
		c->kern->pv_rows(c->pq, m, c->vp, nb, d, c->acc);
	for (i = 0; i < m; i++)
		*head_mag += spe_store_row(c, z + i, c->acc + (size_t)i * d);
	return SPATTEN_HW_OK;
}
