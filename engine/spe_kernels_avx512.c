// SPDX-License-Identifier: MIT
/*
 * SpAtten engine: the AVX-512 inner loops (F, BW, DQ, VL, VNNI; table
 * "avx512"): the host side of QEMU on recent CPUs. Shapes the 512-bit
 * vectors do not cover fall back to spe_kernels_avx2.c (an AVX-512 CPU
 * has AVX2).
 *
 * The whole file is compiled for these extensions (the pragma below,
 * after the system headers), so it builds with any x86 build's baseline
 * flags; spe_kernels.c only calls this table on a CPU with all of them.
 * Why each int32 shortcut is exact: spe_kernels_x86.h. This file has the
 * single-row scores, the softmax and the requantisation;
 * spe_kernels_avx512_rows.c the products with V and the multi-row
 * kernels.
 */
#if defined(__x86_64__) || defined(__i386__)

#include <immintrin.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* After the system headers: see spe_kernels_sse41.c. */
#if defined(__clang__)
#pragma clang attribute push(__attribute__((target( \
	"avx512f,avx512bw,avx512dq,avx512vl,avx512vnni,avx2"))), \
	apply_to = function)
#else
#pragma GCC target("avx512f,avx512bw,avx512dq,avx512vl,avx512vnni,avx2")
#endif

#define SPE_KERNELS_X86_AVX512 1
#include "spe_kernels_x86.h"



/*
 * Eight keys whose lane sums are exact in int32 (spe_q_lanes_ok): each
 * lane sum S = 65536 * (S >> 16) + (S & 0xffff), and the two halves of
 * sixteen lanes add up in int32 without overflow; the score is
 * 65536 * H + L in int64.
 */
SPE_INLINE void spe_qk8_lanes_avx512(const int16_t *q,
				     const int16_t *k0,
				     uint32_t d, int64_t *acc)
{
	__m512i a[16];
	uint32_t x;
	int i;

#pragma GCC unroll 8
	for (i = 0; i < 8; i++)
		a[i] = _mm512_setzero_si512();
#pragma GCC unroll 8
	for (x = 0; x < d; x += 32) {
		__m512i qv = _mm512_loadu_si512((const void *)(q + x));

#pragma GCC unroll 8
		for (i = 0; i < 8; i++)
			a[i] = spe_dpwssd(a[i], qv,
				_mm512_loadu_si512((const void *)(k0 + (size_t)i * d + x)));
	}
	_mm512_storeu_si512((void *)acc, spe_scores8_avx512(a, 0));
}

/* Eight keys, split q: 256 * H + L over @len (<= 256) dimensions. */
SPE_INLINE void spe_qk8_split_avx512(const int16_t *qlo,
				     const int16_t *qhi,
				     const int16_t *k0,
				     uint32_t d, uint32_t len,
				     int64_t *r)
{
	__m512i a[16];
	uint32_t x;
	int i;

	#pragma GCC unroll 16
	for (i = 0; i < 16; i++)
		a[i] = _mm512_setzero_si512();
	#pragma GCC unroll 8
	for (x = 0; x < len; x += 32) {
		__m512i lv = _mm512_loadu_si512((const void *)(qlo + x));
		__m512i hv = _mm512_loadu_si512((const void *)(qhi + x));

		#pragma GCC unroll 16
		for (i = 0; i < 8; i++) {
			__m512i kv = _mm512_loadu_si512(
				(const void *)(k0 + (size_t)i * d + x));

			a[i] = spe_dpwssd(a[i], kv, lv);
			a[8 + i] = spe_dpwssd(a[8 + i], kv, hv);
		}
	}
	_mm512_storeu_si512((void *)r, spe_scores8_avx512(a, 1));
}

void spe_qk_scores_avx512(const int16_t *q, const int16_t *k, uint32_t n,
			  uint32_t d, int64_t *acc)
{
	int16_t qlo[SPE_QK_BLOCK] __attribute__((aligned(64)));
	int16_t qhi[SPE_QK_BLOCK] __attribute__((aligned(64)));
	uint32_t j, b0, len;

	if (d % 32 || n < 8) {
		spe_qk_scores_avx2(q, k, n, d, acc);
		return;
	}

	if (spe_q_lanes_ok(q, d, 32)) {
		if (d == 64)
			for (j = 0; j + 8 <= n; j += 8)
				spe_qk8_lanes_avx512(q, k + (size_t)j * 64, 64,
						     acc + j);
		else
			for (j = 0; j + 8 <= n; j += 8)
				spe_qk8_lanes_avx512(q, k + (size_t)j * d, d,
						     acc + j);
		if (j < n)
			spe_qk_scores_avx2(q, k + (size_t)j * d, n - j, d,
					   acc + j);
		return;
	}

	for (b0 = 0; b0 < d; b0 += len) {
		int64_t r[8];

		len = d - b0 < SPE_QK_BLOCK ? d - b0 : SPE_QK_BLOCK;
		spe_q_split(q + b0, len, qlo, qhi);
		for (j = 0; j + 8 <= n; j += 8) {
			int i;

			if (len == 64)
				spe_qk8_split_avx512(qlo, qhi,
						     k + (size_t)j * d + b0, d,
						     64, r);
			else
				spe_qk8_split_avx512(qlo, qhi,
						     k + (size_t)j * d + b0, d,
						     len, r);
			for (i = 0; i < 8; i++)
				acc[j + i] = b0 ? acc[j + i] + r[i] : r[i];
		}
		if (j < n) {
			/* The last keys (fewer than 8). */
			uint32_t i, m = n - j;

			for (i = 0; i < m; i++) {
				const int16_t *kr = k + (size_t)(j + i) * d + b0;
				int64_t sum = 0;
				uint32_t x;

				for (x = 0; x < len; x++)
					sum += (int32_t)q[b0 + x] * kr[x];
				acc[j + i] = b0 ? acc[j + i] + sum : sum;
			}
		}
	}
}

/*
 * spe_expf() on sixteen lanes, the same IEEE results lane by lane, in
 * fewer instructions:
 *  - t < 0 ? t - 0.5 : t + 0.5 is t + (0.5 with t's sign bit): the same
 *    sum except for t = -0, where both truncate to n = 0 (-0 here);
 *  - (float)(int)u is roundscale(u) toward zero (|u| < 128 on every lane
 *    that counts);
 *  - x - fn * LN2_HI in one FMA: fn * LN2_HI is exact (9 significant bits
 *    times |fn| <= 127), so the FMA's single rounding is the subtraction's;
 *    with fn = -0 it gives +0 for x = -0 where the reference gives -0, and
 *    the next step (r - fn * LN2_LO) makes both +0;
 *  - y * 2^n (the reference builds 2^n, n in -126..127, from its bits) is
 *    vscalefps(y, fn): the same product, rounded once.
 * Lanes below -87 (or NaN) are zero, as in spe_expf().
 */
SPE_INLINE __m512 spe_exp16_avx512(__m512 x, int nonpos)
{
	__mmask16 ok = _mm512_cmp_ps_mask(x, _mm512_set1_ps(SPE_K_EXPF_MIN),
					  _CMP_GE_OQ);
	__m512 t, h, fn, r, p, y;

	/* @nonpos: no lane above +0 (NaN lanes are zeroed anyway). */
	if (!nonpos)
		x = _mm512_min_ps(x, _mm512_set1_ps(SPE_K_EXPF_MAX));
	t = _mm512_mul_ps(x, _mm512_set1_ps(SPE_K_LOG2E));
	/* (t & sign) | 0.5; with @nonpos -0.5 (t = +0: n = 0 either way) */
	h = nonpos ? _mm512_set1_ps(-0.5f) :
		_mm512_castsi512_ps(_mm512_ternarylogic_epi32(_mm512_castps_si512(t),
		_mm512_set1_epi32((int32_t)0x80000000u),
		_mm512_castps_si512(_mm512_set1_ps(0.5f)), 0xea));
	fn = _mm512_roundscale_ps(_mm512_add_ps(t, h),
				  _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
	r = _mm512_fnmadd_ps(fn, _mm512_set1_ps(SPE_K_LN2_HI), x);
	r = _mm512_sub_ps(r, _mm512_mul_ps(fn, _mm512_set1_ps(SPE_K_LN2_LO)));
	p = _mm512_set1_ps(SPE_K_P0);
	p = _mm512_add_ps(_mm512_mul_ps(p, r), _mm512_set1_ps(SPE_K_P1));
	p = _mm512_add_ps(_mm512_mul_ps(p, r), _mm512_set1_ps(SPE_K_P2));
	p = _mm512_add_ps(_mm512_mul_ps(p, r), _mm512_set1_ps(SPE_K_P3));
	p = _mm512_add_ps(_mm512_mul_ps(p, r), _mm512_set1_ps(SPE_K_P4));
	p = _mm512_add_ps(_mm512_mul_ps(p, r), _mm512_set1_ps(SPE_K_P5));
	y = _mm512_mul_ps(p, _mm512_mul_ps(r, r));
	y = _mm512_add_ps(y, r);
	y = _mm512_add_ps(y, _mm512_set1_ps(1.0f));
	return _mm512_maskz_scalef_ps(ok, y, fn);
}

/*
 * (float)(score[j] - max) for sixteen scores, @mm the valid ones (others
 * 0). With @narrow, every score - max fits in int32: the low dwords are
 * subtracted in int32 (exact: the true difference fits) and converted
 * once, the same rounding as (float)int64; else vcvtqq2ps rounds int64 ->
 * float once.
 */
SPE_INLINE __m512 spe_diff16_avx512(const int64_t *score, __mmask16 mm,
				    __m512i mx, int narrow)
{
	__m512i a = _mm512_maskz_loadu_epi64((__mmask8)mm, score);
	__m512i b = _mm512_maskz_loadu_epi64((__mmask8)(mm >> 8), score + 8);

	if (narrow) {
		const __m512i lowd = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14,
						       16, 18, 20, 22, 24, 26,
						       28, 30);

		return _mm512_cvtepi32_ps(_mm512_sub_epi32(
			_mm512_permutex2var_epi32(a, lowd, b), mx));
	}
	return _mm512_insertf32x8(_mm512_castps256_ps512(_mm512_cvtepi64_ps(
		_mm512_sub_epi64(a, mx))), _mm512_cvtepi64_ps(
		_mm512_sub_epi64(b, mx)), 1);
}

/*
 * e[j] = spe_expf((float)(score[j] - max) * scale), j < n; with @sum, the
 * 8-lane sum of docs/engine.md as it goes (spe_sum8_avx2's lanes: a
 * vector's low half, then its high half; lanes past n add +0, a no-op on
 * any value a lane holds) and returned.
 */
SPE_INLINE float spe_exp_sum_avx512(const int64_t *score, uint32_t n,
				    int64_t max, float scale, float *e,
				    int sum, int narrow, int nonpos)
{
	const __m512i mx = narrow ? _mm512_set1_epi32((int32_t)(uint32_t)max) :
				    _mm512_set1_epi64(max);
	const __m512 sc = _mm512_set1_ps(scale);
	__m256 acc = _mm256_setzero_ps();
	__m128 v;
	uint32_t j;

	/* Four vectors at once: one exp is a long dependency chain. */
	for (j = 0; j + 64 <= n; j += 64) {
		__m512 x[4];
		int i;

#pragma GCC unroll 4
		for (i = 0; i < 4; i++)
			x[i] = spe_exp16_avx512(_mm512_mul_ps(spe_diff16_avx512(
				score + j + 16 * i, 0xffff, mx, narrow), sc),
				nonpos);
#pragma GCC unroll 4
		for (i = 0; i < 4; i++) {
			_mm512_storeu_ps(e + j + 16 * i, x[i]);
			if (sum) {
				acc = _mm256_add_ps(acc, _mm512_castps512_ps256(x[i]));
				acc = _mm256_add_ps(acc, _mm512_extractf32x8_ps(x[i], 1));
			}
		}
	}
	for (; j + 16 <= n; j += 16) {
		__m512 x = spe_exp16_avx512(_mm512_mul_ps(
			spe_diff16_avx512(score + j, 0xffff, mx, narrow), sc),
			nonpos);

		_mm512_storeu_ps(e + j, x);
		if (sum) {
			acc = _mm256_add_ps(acc, _mm512_castps512_ps256(x));
			acc = _mm256_add_ps(acc, _mm512_extractf32x8_ps(x, 1));
		}
	}
	if (j < n) {
		__mmask16 mm = (__mmask16)((1u << (n - j)) - 1);
		__m512 x = _mm512_maskz_mov_ps(mm, spe_exp16_avx512(_mm512_mul_ps(
			spe_diff16_avx512(score + j, mm, mx, narrow), sc), nonpos));

		_mm512_mask_storeu_ps(e + j, mm, x);
		if (sum) {
			acc = _mm256_add_ps(acc, _mm512_castps512_ps256(x));
			acc = _mm256_add_ps(acc, _mm512_extractf32x8_ps(x, 1));
		}
	}
	if (!sum)
		return 0.0f;
	/* ((l0+l4)+(l2+l6))+((l1+l5)+(l3+l7)), as spe_sum8_avx2. */
	v = _mm_add_ps(_mm256_castps256_ps128(acc), _mm256_extractf128_ps(acc, 1));
	v = _mm_add_ps(v, _mm_movehl_ps(v, v));
	return _mm_cvtss_f32(_mm_add_ss(v, _mm_shuffle_ps(v, v, 1)));
}

static void spe_exp_row_avx512(const int64_t *score, uint32_t n,
			       int64_t max, float scale, float *e)
{
	spe_exp_sum_avx512(score, n, max, scale, e, 0, 0, 0);
}

/* The int64 maximum of score[0..n), n >= 1; *@narrow: max - min < 2^31. */
static int64_t spe_max_avx512(const int64_t *score, uint32_t n, int *narrow)
{
	__m512i m = _mm512_set1_epi64(score[0]), l = m, m2 = m, l2 = m;
	int64_t max, min;
	uint32_t j;

	for (j = 0; j + 16 <= n; j += 16) {
		__m512i v = _mm512_loadu_si512((const void *)(score + j));
		__m512i w = _mm512_loadu_si512((const void *)(score + j + 8));

		m = _mm512_max_epi64(m, v);
		l = _mm512_min_epi64(l, v);
		m2 = _mm512_max_epi64(m2, w);
		l2 = _mm512_min_epi64(l2, w);
	}
	m = _mm512_max_epi64(m, m2);
	l = _mm512_min_epi64(l, l2);
	for (; j + 8 <= n; j += 8) {
		__m512i v = _mm512_loadu_si512((const void *)(score + j));

		m = _mm512_max_epi64(m, v);
		l = _mm512_min_epi64(l, v);
	}
	if (j < n) {
		__mmask8 k = (__mmask8)((1u << (n - j)) - 1);

		m = _mm512_max_epi64(m, _mm512_mask_loadu_epi64(m, k, score + j));
		l = _mm512_min_epi64(l, _mm512_mask_loadu_epi64(l, k, score + j));
	}
	max = _mm512_reduce_max_epi64(m);
	min = _mm512_reduce_min_epi64(l);
	/* max >= min: the difference as uint64 is exact. */
	*narrow = (uint64_t)max - (uint64_t)min < ((uint64_t)1 << 31);
	return max;
}

/*
 * pq[j] = (int32_t)(f32(f32(e[j] / sum) * 32768) + 0.5f) for sixteen e
 * (@mm valid), with f32(e / sum) computed as f32(f64(e * f64(1 / sum))):
 * that double is within 2^-52 (relative) of e / sum, and e / sum (a
 * quotient of 24-bit significands) is never within 2^-49 of a midpoint
 * between floats (a midpoint has 25 significant bits, so e - sum * mid is
 * a non-zero multiple of the midpoint's half ulp times sum's ulp), nor
 * does it round differently when it is a float: the rounding to float is
 * the correctly rounded quotient, subnormal ones included.
 */
SPE_INLINE void spe_prob16_avx512(const float *e, __mmask16 mm,
				  __m512d inv, int32_t *pq)
{
	__m512 ev = _mm512_maskz_loadu_ps(mm, e);
	__m256 lo = _mm512_cvtpd_ps(_mm512_mul_pd(_mm512_cvtps_pd(
		_mm512_castps512_ps256(ev)), inv));
	__m256 hi = _mm512_cvtpd_ps(_mm512_mul_pd(_mm512_cvtps_pd(
		_mm512_extractf32x8_ps(ev, 1)), inv));
	__m512 p = _mm512_insertf32x8(_mm512_castps256_ps512(lo), hi, 1);

	_mm512_mask_storeu_epi32(pq, mm, _mm512_cvttps_epi32(_mm512_add_ps(
		_mm512_mul_ps(p, _mm512_set1_ps(32768.0f)),
		_mm512_set1_ps(0.5f))));
}

static float spe_softmax_row_avx512(const int64_t *score, uint32_t n,
				    float scale, float *e, int32_t *pq)
{
	int narrow;
	int64_t max = spe_max_avx512(score, n, &narrow);
	__m512d inv;
	float sum;
	uint32_t j;

	/* score - max <= 0: with scale >= 0 no exp argument is above +0. */
	if (narrow && scale >= 0.0f)
		sum = spe_exp_sum_avx512(score, n, max, scale, e, 1, 1, 1);
	else
		sum = spe_exp_sum_avx512(score, n, max, scale, e, 1, 0, 0);
	inv = _mm512_set1_pd(1.0 / (double)sum);
	for (j = 0; j + 16 <= n; j += 16)
		spe_prob16_avx512(e + j, 0xffff, inv, pq + j);
	if (j < n)
		spe_prob16_avx512(e + j, (__mmask16)((1u << (n - j)) - 1), inv,
				  pq + j);
	return sum;
}

static uint64_t spe_requant_row_avx512(const int64_t *acc, uint32_t d,
				       int shift, uint8_t *dst)
{
	__m512i round, mag = _mm512_setzero_si512();
	__m128i cnt;
	uint32_t x;

	if (shift < 1 || shift > 62)
		return spe_requant_row_scalar(acc, d, shift, dst);
	round = _mm512_set1_epi64((int64_t)1 << (shift - 1));
	cnt = _mm_cvtsi32_si128(shift);

	for (x = 0; x < d; x += 8) {
		__mmask8 m = (__mmask8)(d - x >= 8 ? 0xff : (1u << (d - x)) - 1);
		__m512i y = _mm512_sra_epi64(_mm512_add_epi64(
			_mm512_maskz_loadu_epi64(m, acc + x), round), cnt);
		/* vpmovsqw: signed saturation to int16, as spe_requantise. */
		__m128i w = _mm512_cvtsepi64_epi16(y);

		_mm_mask_storeu_epi16(dst + 2 * x, m, w);	/* x86: LE */
		mag = _mm512_add_epi64(mag, _mm512_maskz_cvtepu16_epi64(m,
				       _mm_abs_epi16(w)));
	}
	return (uint64_t)_mm512_reduce_add_epi64(mag);
}

const struct spe_kernels spe_kernels_avx512 = {
	.name = "avx512",
	.qk_scores = spe_qk_scores_avx512,
	.pv_accumulate = spe_pv_accumulate_avx512,
	.exp_row = spe_exp_row_avx512,
	.sum8 = spe_sum8_avx2,	/* eight lanes: one ymm is the natural fit */
	.softmax_row = spe_softmax_row_avx512,
	.requant_row = spe_requant_row_avx512,
	.qk_rows = spe_qk_rows_avx512,
	.pv_rows = spe_pv_rows_avx512,
	.unpack = SPE_UNPACK_X86,
	.qk_packed = SPE_QK_PACKED_X86,
	.qk_gather = spe_qk_gather_avx512,
	.pv_gather = spe_pv_gather_avx512,
	.topk_split = SPE_TOPK_SPLIT_AVX512,
	.topk_filter = SPE_TOPK_FILTER_AVX512,
};

#if defined(__clang__)
#pragma clang attribute pop
#endif

#endif /* x86 */
