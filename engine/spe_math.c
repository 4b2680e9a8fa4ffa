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

/*
 * ln 2 split so that n * SPE_LN2_HI is exact for |n| < 2^15 (the high part
 * has 9 significant bits): Cody and Waite's range reduction.
 */
#define SPE_LOG2E	1.44269504088896341f
#define SPE_LN2_HI	0.693359375f
#define SPE_LN2_LO	(-2.12194440e-4f)

/* Largest argument that keeps 2^n finite after rounding n. */
#define SPE_EXPF_MAX	88.0f

/* 2^n as a float, for -126 <= n <= 127, built from its exponent bits. */
static float spe_pow2i(int n)
{
	uint32_t bits = (uint32_t)(n + 127) << 23;
	float f;

	memcpy(&f, &bits, sizeof(f));
	return f;
}

/**
 * spe_expf() - deterministic e^x for the softmax
 * @x: argument; the engine only passes x <= 0
 *
 * e^x = 2^n * e^r with n = round(x / ln 2), |r| <= ln(2)/2 (a little more
 * after rounding), e^r = 1 + r + r^2 * P(r) with Cephes' degree-5 minimax
 * P. Relative error below 2e-7 over [SPE_EXPF_MIN, 0]; exactly 1 at 0;
 * 0 below SPE_EXPF_MIN (where e^x nears the smallest normal float) and for
 * NaN. Arguments above SPE_EXPF_MAX are clamped to it.
 */
float spe_expf(float x)
{
	float t, r, rr, p, y;
	int n;

	if (!(x >= SPE_EXPF_MIN))	/* also NaN */
		return 0.0f;
	if (x > SPE_EXPF_MAX)
		x = SPE_EXPF_MAX;

	/* Round half away from zero; the conversion truncates. */
	t = x * SPE_LOG2E;
	n = (int)(t < 0.0f ? t - 0.5f : t + 0.5f);

	r = x - (float)n * SPE_LN2_HI;
	r = r - (float)n * SPE_LN2_LO;

	p = 1.9875691500e-4f;
	p = p * r + 1.3981999507e-3f;
	p = p * r + 8.3334519073e-3f;
	p = p * r + 4.1665795894e-2f;
	p = p * r + 1.6666665459e-1f;
	p = p * r + 5.0000001201e-1f;
	rr = r * r;
	y = p * rr;
	y = y + r;
	y = y + 1.0f;

	/* n >= -126 here, so the scale is normal and the product exact. */
	return y * spe_pow2i(n);
}

/*
 * Float factor from integer score units to natural-log units:
 * 2^-(q_frac + k_frac) / sqrt(head_dim), computed once per job. The power
 * of two is exact (q_frac + k_frac <= 30); sqrtf and the division round
 * once each.
 */
float spe_score_scale(const struct spe_job *job)
{
	float unit = 1.0f / (float)(1u << (job->q_frac + job->k_frac));

	return unit / sqrtf((float)job->head_dim);
}

/*
 * Sum of e[0..n) in 8 lanes (lane j % 8, each in index order), combined
 * pairwise in a fixed tree. Fixed so a SIMD version gives the same bits.
 */
static float spe_sum_lanes(const float *e, uint32_t n)
{
	float lane[8] = { 0 };
	uint32_t j;

	for (j = 0; j < n; j++)
		lane[j & 7] += e[j];

	return ((lane[0] + lane[4]) + (lane[2] + lane[6])) +
	       ((lane[1] + lane[5]) + (lane[3] + lane[7]));
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
 * <= 0 and makes the largest term exactly 1, so the sum is >= 1.
 *
 * Return: the sum of the exps; the largest probability is 1 / sum (what
 * progressive quantization's confidence check will look at).
 */
float spe_softmax_row(const int64_t *score, uint32_t n, float scale,
		      float *e, int32_t *pq)
{
	int64_t max = score[0];
	float sum;
	uint32_t j;

	for (j = 1; j < n; j++)
		if (score[j] > max)
			max = score[j];

	for (j = 0; j < n; j++)
		e[j] = spe_expf((float)(score[j] - max) * scale);

	sum = spe_sum_lanes(e, n);

	for (j = 0; j < n; j++) {
		float p = e[j] / sum;

		/* p * 2^15 is exact; + 0.5 then truncation rounds half up. */
		pq[j] = (int32_t)(p * 32768.0f + 0.5f);
	}
	return sum;
}

/* Arithmetic shift right without relying on implementation-defined >>. */
static int64_t spe_asr64(int64_t v, int shift)
{
	return v < 0 ? ~(~v >> shift) : v >> shift;
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
	int64_t y;

	if (shift > 0) {
		y = spe_asr64(acc + ((int64_t)1 << (shift - 1)), shift);
	} else {
		/* Clamp first so the multiply cannot overflow. */
		if (acc > INT16_MAX)
			acc = INT16_MAX + 1;
		else if (acc < INT16_MIN)
			acc = INT16_MIN - 1;
		y = acc * ((int64_t)1 << -shift);
	}

	if (y > INT16_MAX)
		return INT16_MAX;
	if (y < INT16_MIN)
		return INT16_MIN;
	return (int16_t)y;
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
