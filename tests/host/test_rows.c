// SPDX-License-Identifier: MIT
/*
 * spe_run() computes the query rows of a head in blocks (one qk_rows call
 * for the block's first-pass scores, one pv_rows call for its products;
 * causal blocks score every row against the keys of the block's last row
 * and give the keys a row does not see weight 0). This test pins that the
 * blocks change no bit: every output element, tok_imp, head_imp and the
 * statistics equal a row-by-row recomputation with the portable
 * single-row kernels (qk_scores, softmax_row, pv_accumulate, requant_row)
 * done here, on causal and non-causal shapes whose row counts are not
 * multiples of the block, several blocks per head, q_start > 0, progressive
 * refetch (per-row fallback) and value pruning (per-row fallback).
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "attn_harness.h"
#include "spatten_hw.h"
#include "spe_internal.h"
#include "spe_kernels.h"
#include "tap.h"

struct rows_ref {
	int16_t *out;		/* [heads][q_rows][d] */
	uint64_t *tok_imp;	/* [kv_rows] */
	uint64_t *head_imp;	/* [heads] */
	uint64_t qk_scores, pv_rows, refetch;
};

/* Keys ranked by pq, ties to the lower index: the value_keep survivors. */
static void ref_value_keep(const int32_t *pq, uint32_t n, uint32_t keep,
			   uint8_t *kept)
{
	uint32_t j, r, above;

	for (j = 0; j < n; j++) {
		/* rank of j: keys that beat it */
		for (r = 0, above = 0; r < n; r++)
			above += pq[r] > pq[j] || (pq[r] == pq[j] && r < j);
		kept[j] = above < keep;
	}
}

static void rows_reference(const struct att_run *run, struct rows_ref *rr)
{
	const struct att_case *c = &run->c;
	const struct spe_kernels *k = &spe_kernels_generic;
	uint32_t d = c->d, kv = c->kv_rows, h, i, j, x;
	float scale = spe_score_scale(&run->job);
	int shift = SPE_PROB_FRAC + c->v_frac - c->out_frac;
	int16_t *kf = calloc((size_t)kv * d, 2), *km = calloc((size_t)kv * d, 2);
	int16_t *vg = calloc((size_t)kv * d, 2);
	int64_t *score = calloc(kv, 8), acc[512];
	int32_t *pq = calloc(kv, 4), *w = calloc(kv, 4);
	float *e = calloc(kv, 4);
	uint8_t *kept = calloc(kv, 1), le[1024];

	memset(rr->tok_imp, 0, (size_t)kv * 8);
	memset(rr->head_imp, 0, (size_t)c->heads * 8);
	rr->qk_scores = rr->pv_rows = rr->refetch = 0;
	for (h = 0; h < c->heads; h++) {
		uint64_t mag = 0;

		memcpy(kf, run->kd + (size_t)h * kv * d, (size_t)kv * d * 2);
		for (x = 0; x < kv * d; x++) {
			int16_t msb;
			uint8_t lsb;

			spe_split_key(kf[x], &msb, &lsb);
			km[x] = c->progressive ? (int16_t)(msb * 16 + 8) : kf[x];
		}
		for (i = 0; i < c->q_rows; i++) {
			const int16_t *q = run->qd + ((size_t)h * c->q_rows + i) * d;
			uint32_t vis = c->causal ? c->q_start + i + 1 : kv, n = 0;
			int32_t mx = 0;

			k->qk_scores(q, km, vis, d, score);
			k->softmax_row(score, vis, scale, e, pq);
			rr->qk_scores += vis;
			for (j = 0; j < vis; j++)
				mx = pq[j] > mx ? pq[j] : mx;
			if (c->progressive && (uint32_t)mx < c->lsb_threshold) {
				k->qk_scores(q, kf, vis, d, score);
				k->softmax_row(score, vis, scale, e, pq);
				rr->qk_scores += vis;
				rr->refetch++;
			}
			for (j = 0; j < vis; j++)
				rr->tok_imp[j] += (uint32_t)pq[j];
			if (c->value_keep && c->value_keep < vis)
				ref_value_keep(pq, vis, c->value_keep, kept);
			else
				memset(kept, 1, vis);
			for (j = 0; j < vis; j++) {
				if (!kept[j])
					continue;
				memcpy(vg + (size_t)n * d,
				       run->vd + ((size_t)h * kv + j) * d, d * 2);
				w[n++] = pq[j];
			}
			rr->pv_rows += n;
			k->pv_accumulate(w, vg, n, d, acc);
			mag += k->requant_row(acc, d, shift, le) <<
			       (SPE_HEAD_IMP_FRAC - c->out_frac);
			for (x = 0; x < d; x++)
				rr->out[((size_t)h * c->q_rows + i) * d + x] =
					(int16_t)(le[2 * x] | le[2 * x + 1] << 8);
		}
		rr->head_imp[h] = mag;
	}
	free(kf);
	free(km);
	free(vg);
	free(score);
	free(pq);
	free(w);
	free(e);
	free(kept);
}

static void check(const struct att_case *c)
{
	struct att_run run;
	struct rows_ref rr;
	size_t n = att_out_elems(c), i;
	int same_out = 1, same_imp = 1, same_hi = 1, rc;

	att_setup(&run, c);
	if (run.decode_rc) {
		ok(0, "%s: descriptor refused (%d)", c->name, run.decode_rc);
		att_teardown(&run);
		return;
	}
	rc = att_execute(&run);
	rr.out = calloc(n, 2);
	rr.tok_imp = calloc(c->kv_rows, 8);
	rr.head_imp = calloc(c->heads, 8);
	rows_reference(&run, &rr);
	for (i = 0; i < n; i++)
		same_out &= run.outd[i] == rr.out[i];
	if (c->with_tok_imp)
		for (i = 0; i < c->kv_rows; i++)
			same_imp &= run.tok_imp[i] == rr.tok_imp[i];
	if (c->with_head_imp)
		for (i = 0; i < c->heads; i++)
			same_hi &= run.head_imp[i] == rr.head_imp[i];
	ok(rc == 0 && same_out && same_imp && same_hi &&
	   run.res.stats.qk_scores == rr.qk_scores &&
	   run.res.stats.pv_rows == rr.pv_rows &&
	   run.res.lsb_refetches == rr.refetch,
	   "%s: blocks == row by row (out %s, tok_imp %s, head_imp %s, "
	   "qk %" PRIu64 "/%" PRIu64 ", pv %" PRIu64 "/%" PRIu64
	   ", refetch %" PRIu64 "/%" PRIu64 ")", c->name, same_out ? "same" : "DIFF",
	   same_imp ? "same" : "DIFF", same_hi ? "same" : "DIFF",
	   run.res.stats.qk_scores, rr.qk_scores, run.res.stats.pv_rows,
	   rr.pv_rows, (uint64_t)run.res.lsb_refetches, rr.refetch);
	free(rr.out);
	free(rr.tok_imp);
	free(rr.head_imp);
	att_teardown(&run);
}

static struct att_case base(const char *name, uint32_t heads, uint32_t d,
			    uint32_t q_rows, uint32_t kv_rows, uint32_t q_start,
			    int causal, uint64_t seed)
{
	struct att_case c;

	memset(&c, 0, sizeof(c));
	c.name = name;
	c.heads = heads;
	c.d = d;
	c.q_rows = q_rows;
	c.kv_rows = kv_rows;
	c.q_start = q_start;
	c.causal = causal;
	c.q_frac = c.k_frac = c.v_frac = 12;
	c.out_frac = 11;
	c.q_amp = c.k_amp = 2 << 12;
	c.v_amp = 4 << 12;
	c.seed = seed;
	c.with_tok_imp = 1;
	c.with_head_imp = 1;
	return c;
}

int main(void)
{
	struct att_case c;

	/* Causal: blocks of 64 rows, the last one partial. */
	c = base("causal 2x200x200 D64", 2, 64, 200, 200, 0, 1, 11);
	check(&c);
	c = base("causal q_start 37, 2x130x300 D32", 2, 32, 130, 300, 37, 1, 12);
	check(&c);
	c = base("causal 1x65x65 D128 (block + 1 row)", 1, 128, 65, 65, 0, 1, 13);
	check(&c);
	c = base("causal 3x64x64 D16 (one full block)", 3, 16, 64, 64, 0, 1, 14);
	check(&c);
	/* Non-causal: one block per head, or several when kv is large. */
	c = base("non-causal 2x97x97 D64", 2, 64, 97, 97, 0, 0, 15);
	check(&c);
	c = base("non-causal 1x600x600 D16 (two blocks)", 1, 16, 600, 600, 0, 0,
		 16);
	check(&c);
	c = base("non-causal 1x1000x1000 D16 (four blocks)", 1, 16, 1000, 1000,
		 0, 0, 17);
	check(&c);
	/* Large operands: the kernels' int32 shortcuts must not apply. */
	c = base("causal 1x150x150 D64, |q|,|k| near 2^15", 1, 64, 150, 150, 0,
		 1, 18);
	c.q_amp = c.k_amp = 32767;
	check(&c);
	/* Progressive refetch: some rows recomputed from full keys. */
	c = base("causal progressive 8+4, 2x160x160 D64", 2, 64, 160, 160, 0, 1,
		 19);
	c.k_fmt = SPATTEN_FMT_S8;
	c.progressive = 1;
	c.k_amp = att_fmt_max(SPATTEN_FMT_S8) * 16 + 15;
	c.lsb_threshold = 3000;
	check(&c);
	c = base("non-causal progressive 6+4, 1x120x120 D32", 1, 32, 120, 120,
		 0, 0, 20);
	c.k_fmt = SPATTEN_FMT_S6;
	c.progressive = 1;
	c.k_amp = att_fmt_max(SPATTEN_FMT_S6) * 16 + 15;
	c.lsb_threshold = 330;
	check(&c);
	/* Value pruning: per-row products over each row's kept values. */
	c = base("causal value_keep 9, 2x140x140 D64", 2, 64, 140, 140, 0, 1,
		 21);
	c.value_keep = 9;
	check(&c);
	c = base("non-causal value_keep 40, progressive, 1x90x90 D32", 1, 32, 90,
		 90, 0, 0, 22);
	c.value_keep = 40;
	c.k_fmt = SPATTEN_FMT_S10;
	c.progressive = 1;
	c.k_amp = att_fmt_max(SPATTEN_FMT_S10) * 16 + 15;
	c.lsb_threshold = 4000;
	check(&c);
	/* Generation: one row, every kept key visible. */
	c = base("generation 2x1x700 D64", 2, 64, 1, 700, 699, 1, 23);
	c.generation = 1;
	check(&c);
	return done_testing();
}
