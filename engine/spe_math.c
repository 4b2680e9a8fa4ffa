// SPDX-License-Identifier: MIT
/*
 * SpAtten engine: the arithmetic of one attention row, defined so that any
 * conforming compiler at any optimisation level gives the same bits.
 *
 * Rules kept here (docs/engine.md restates them for board teams):
 *  - integers wherever the result is exact (scores, prob x V);
 *  - float only for scale, exp, sum and divide, one IEEE operation per
 *    C operator (FLT_EVAL_METHOD 0, -ffp-contract=off, no fma);
 *  - no libm except sqrtf (correctly rounded by IEEE 754).
 */
#include <math.h>
#include <string.h>

/*
 * Belt and braces for builds that forget -ffp-contract=off: a fused
 * multiply-add rounds once where this file's arithmetic rounds twice, and
 * gcc/clang fuse by default when the target has FMA (x86-64-v3, arm64).
 * clang's -ffp-contract=fast overrides the pragma: do not build with it.
 */
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif

#include "spe.h"
#include "spatten_hw.h"
#include "spe_internal.h"
#include "spe_kernels_impl.h"

/*
 * The documented arithmetic has one definition: the portable kernels
 * (spe_kernels_impl.h, spe_kernels_generic.c), which every SIMD variant
 * must match bit for bit. These are its named entry points for the tests
 * and for readers of docs/engine.md.
 */

/**
 * spe_expf() - deterministic e^x for the softmax
 *
 * e^x = 2^n * e^r with n = round(x / ln 2), |r| <= ln(2)/2 (a little more
 * after rounding), e^r = 1 + r + r^2 * P(r) with Cephes' degree-5 minimax
 * P. Relative error below 2e-7 over [SPE_EXPF_MIN, 0]; exactly 1 at 0;
 * 0 below SPE_EXPF_MIN (where e^x nears the smallest normal float) and for
 * NaN. Arguments above 88 are clamped to it.
 */
float spe_expf(float x)
{
	return spe_kernels_expf(x);
}

/*
 * Float factor from integer score units to natural-log units:
 * 2^-(q_frac + k_frac) / sqrt(head_dim), computed once per job. The power
 * of two is exact (q_frac + k_frac <= 30); sqrtf and the division round
 * once each. A version-3 score_scale s replaces 1 / sqrt(head_dim):
 * 2^-(q_frac + k_frac) * s, exact: decode refuses a scale that would
 * leave the normal range (ERR_PARAM).
 */
float spe_score_scale(const struct spe_job *job)
{
	return spe_score_scale_fracs(job, job->q_frac + job->k_frac);
}

/* The same with @frac = q_frac + k_frac of one head (F_HEAD_FRACS). */
float spe_score_scale_fracs(const struct spe_job *job, unsigned int frac)
{
	float unit = 1.0f / (float)(1u << frac);
	float scale;

	if (!job->score_scale)
		return unit / sqrtf((float)job->head_dim);
	memcpy(&scale, &job->score_scale, sizeof(scale));
	return unit * scale;
}

/**
 * spe_softmax_row() - softmax of one query row, quantised
 * @score: integer scores of the visible keys (Q.K in q_frac + k_frac units)
 * @n: visible keys, >= 1
 * @scale: spe_score_scale() of the job
 * @e: scratch, @n floats
 * @pq: receives the probabilities in 0..2^SPE_PROB_FRAC
 *
 * Subtracting the integer maximum first is exact, keeps every exp argument
 * <= 0 and makes the largest term exactly 1, so the sum is >= 1; the sum
 * is taken in 8 lanes (lane j % 8, each in index order) combined in a
 * fixed tree, so a SIMD version gives the same bits.
 *
 * Return: the sum of the exps; the largest probability is 1 / sum.
 */
float spe_softmax_row(const int64_t *score, uint32_t n, float scale,
		      float *e, int32_t *pq)
{
	return spe_kernels_generic.softmax_row(score, n, scale, e, pq);
}

/**
 * spe_requantise() - scale an output accumulator to the output format
 * @acc: sum_j pq_j * V[j][d], in 15 + v_frac fractional bits
 * @shift: 15 + v_frac - out_frac
 *
 * Rounds half up (towards +infinity) and saturates to int16.
 */
int16_t spe_requantise(int64_t acc, int shift)
{
	return spe_kernels_requantise(acc, shift);
}

/*
 * Error sources, each bounded in docs/engine.md: probability quantisation
 * (<= 2^-16 per visible key), float scale/exp/sum/divide (relative, a few
 * 1e-7 per key in the worst case plus 1e-6 overall), output rounding (half
 * an output LSB). Only the first two scale with max|V|.
 */
double spe_out_tolerance(const struct spe_job *job, double max_abs_v)
{
	double per_key = 1.0 / 65536.0 + 4e-7;
	double out_lsb = 1.0 / (double)(1u << job->out_frac);

	if (job->opcode != SPATTEN_OP_ATTENTION)
		return 0.0;
	if (max_abs_v < 0.0)
		max_abs_v = -max_abs_v;

	return ((double)job->kv_rows * per_key + 1e-6) * max_abs_v +
	       out_lsb / 2.0;
}
