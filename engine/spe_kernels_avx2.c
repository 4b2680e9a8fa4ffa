// SPDX-License-Identifier: MIT
/*
 * SpAtten engine: the AVX2 inner loops (table "avx2"), and the AVX-512
 * table's fallbacks for rows of 16 (not 32) dimensions and its sum8.
 *
 * The whole file is compiled for AVX2 (the pragma below, after the system
 * headers), so it builds with any x86 build's baseline flags;
 * spe_kernels.c only calls this table on a CPU with AVX2. Why each int32
 * shortcut is exact: spe_kernels_x86.h.
 */
#if defined(__x86_64__) || defined(__i386__)

#include <immintrin.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* After the system headers: see spe_kernels_sse41.c. */
#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx2"))), \
			     apply_to = function)
#else
#pragma GCC target("avx2")
#endif

#include "spe_kernels_x86.h"

/* [sum a, sum b, sum c, sum d] of four vectors of 8 int32 (exact sums). */
SPE_INLINE __m128i spe_hsum4x8_avx2(__m256i a, __m256i b,
				    __m256i c, __m256i d)
{
	__m256i s = _mm256_hadd_epi32(_mm256_hadd_epi32(a, b),
				      _mm256_hadd_epi32(c, d));

	return _mm_add_epi32(_mm256_castsi256_si128(s),
			     _mm256_extracti128_si256(s, 1));
}

/* Four keys, q small: one pmaddwd per 16 elements. */
SPE_INLINE void spe_qk4_small_avx2(const int16_t *q,
				   const int16_t *k0, uint32_t d,
				   int64_t *acc)
{
	__m256i a0 = _mm256_setzero_si256(), a1 = a0, a2 = a0, a3 = a0;
	__m128i s;
	uint32_t x;

	#pragma GCC unroll 8
	for (x = 0; x < d; x += 16) {
		__m256i qv = _mm256_loadu_si256((const void *)(q + x));

		a0 = _mm256_add_epi32(a0, _mm256_madd_epi16(qv,
			_mm256_loadu_si256((const void *)(k0 + x))));
		a1 = _mm256_add_epi32(a1, _mm256_madd_epi16(qv,
			_mm256_loadu_si256((const void *)(k0 + d + x))));
		a2 = _mm256_add_epi32(a2, _mm256_madd_epi16(qv,
			_mm256_loadu_si256((const void *)(k0 + 2 * d + x))));
		a3 = _mm256_add_epi32(a3, _mm256_madd_epi16(qv,
			_mm256_loadu_si256((const void *)(k0 + 3 * d + x))));
	}
	s = spe_hsum4x8_avx2(a0, a1, a2, a3);
	_mm256_storeu_si256((void *)acc, _mm256_cvtepi32_epi64(s));
}

/*
 * Four keys whose lane sums are exact in int32 (spe_q_lanes_ok, 16-element
 * vectors): lane sums split as 65536 * (S >> 16) + (S & 0xffff), the
 * halves summed over the eight lanes in int32, the score rebuilt in int64.
 */
SPE_INLINE void spe_qk4_lanes_avx2(const int16_t *q,
				   const int16_t *k0, uint32_t d,
				   int64_t *acc)
{
	const __m256i lo16 = _mm256_set1_epi32(0xffff);
	__m256i a0 = _mm256_setzero_si256(), a1 = a0, a2 = a0, a3 = a0;
	__m256i e, f, s, l, h;
	uint32_t x;

#pragma GCC unroll 8
	for (x = 0; x < d; x += 16) {
		__m256i qv = _mm256_loadu_si256((const void *)(q + x));

		a0 = _mm256_add_epi32(a0, _mm256_madd_epi16(qv,
			_mm256_loadu_si256((const void *)(k0 + x))));
		a1 = _mm256_add_epi32(a1, _mm256_madd_epi16(qv,
			_mm256_loadu_si256((const void *)(k0 + d + x))));
		a2 = _mm256_add_epi32(a2, _mm256_madd_epi16(qv,
			_mm256_loadu_si256((const void *)(k0 + 2 * d + x))));
		a3 = _mm256_add_epi32(a3, _mm256_madd_epi16(qv,
			_mm256_loadu_si256((const void *)(k0 + 3 * d + x))));
	}
	/* Per 128-bit half: [L0 L1 L2 L3] and [H0 H1 H2 H3], partial. */
	e = _mm256_hadd_epi32(
		_mm256_hadd_epi32(_mm256_and_si256(a0, lo16),
				  _mm256_and_si256(a1, lo16)),
		_mm256_hadd_epi32(_mm256_and_si256(a2, lo16),
				  _mm256_and_si256(a3, lo16)));
	f = _mm256_hadd_epi32(
		_mm256_hadd_epi32(_mm256_srai_epi32(a0, 16),
				  _mm256_srai_epi32(a1, 16)),
		_mm256_hadd_epi32(_mm256_srai_epi32(a2, 16),
				  _mm256_srai_epi32(a3, 16)));
	s = _mm256_add_epi32(_mm256_permute2x128_si256(e, f, 0x20),
			     _mm256_permute2x128_si256(e, f, 0x31));
	l = _mm256_cvtepi32_epi64(_mm256_castsi256_si128(s));
	h = _mm256_cvtepi32_epi64(_mm256_extracti128_si256(s, 1));
	_mm256_storeu_si256((void *)acc,
			    _mm256_add_epi64(_mm256_slli_epi64(h, 16), l));
}

/* Two keys, split q: L and H sums of each. */
SPE_INLINE void spe_qk2_split_avx2(const int16_t *qlo,
				   const int16_t *qhi,
				   const int16_t *k0, uint32_t d,
				   uint32_t len, int64_t *r)
{
	__m256i l0 = _mm256_setzero_si256(), h0 = l0, l1 = l0, h1 = l0;
	__m128i s;
	uint32_t x;

	#pragma GCC unroll 8
	for (x = 0; x < len; x += 16) {
		__m256i lv = _mm256_loadu_si256((const void *)(qlo + x));
		__m256i hv = _mm256_loadu_si256((const void *)(qhi + x));
		__m256i kv0 = _mm256_loadu_si256((const void *)(k0 + x));
		__m256i kv1 = _mm256_loadu_si256((const void *)(k0 + d + x));

		l0 = _mm256_add_epi32(l0, _mm256_madd_epi16(kv0, lv));
		h0 = _mm256_add_epi32(h0, _mm256_madd_epi16(kv0, hv));
		l1 = _mm256_add_epi32(l1, _mm256_madd_epi16(kv1, lv));
		h1 = _mm256_add_epi32(h1, _mm256_madd_epi16(kv1, hv));
	}
	s = spe_hsum4x8_avx2(l0, h0, l1, h1);	/* [L0, H0, L1, H1] */
	r[0] = (int64_t)_mm_extract_epi32(s, 1) * 256 + _mm_cvtsi128_si32(s);
	r[1] = (int64_t)_mm_extract_epi32(s, 3) * 256 + _mm_extract_epi32(s, 2);
}

void spe_qk_scores_avx2(const int16_t *q, const int16_t *k, uint32_t n,
			uint32_t d, int64_t *acc)
{
	int16_t qlo[SPE_QK_BLOCK] __attribute__((aligned(32)));
	int16_t qhi[SPE_QK_BLOCK] __attribute__((aligned(32)));
	uint32_t j, x, b0, len;

	if (d % 16 || !n) {
		spe_qk_scores_sse41(q, k, n, d, acc);
		return;
	}

	if (spe_q_small(q, d)) {
		if (d == 64)
			for (j = 0; j + 4 <= n; j += 4)
				spe_qk4_small_avx2(q, k + (size_t)j * 64, 64,
						   acc + j);
		else
			for (j = 0; j + 4 <= n; j += 4)
				spe_qk4_small_avx2(q, k + (size_t)j * d, d,
						   acc + j);
		if (j < n)
			spe_qk_scalar(q, k + (size_t)j * d, n - j, d, acc + j);
		return;
	}

	if (spe_q_lanes_ok(q, d, 16)) {
		if (d == 64)
			for (j = 0; j + 4 <= n; j += 4)
				spe_qk4_lanes_avx2(q, k + (size_t)j * 64, 64,
						   acc + j);
		else
			for (j = 0; j + 4 <= n; j += 4)
				spe_qk4_lanes_avx2(q, k + (size_t)j * d, d,
						   acc + j);
		if (j < n)
			spe_qk_scalar(q, k + (size_t)j * d, n - j, d, acc + j);
		return;
	}

	for (b0 = 0; b0 < d; b0 += len) {
		len = d - b0 < SPE_QK_BLOCK ? d - b0 : SPE_QK_BLOCK;
		spe_q_split(q + b0, len, qlo, qhi);
		for (j = 0; j + 2 <= n; j += 2) {
			int64_t r[2];

			if (len == 64)
				spe_qk2_split_avx2(qlo, qhi, k + (size_t)j * d + b0,
						   d, 64, r);
			else
				spe_qk2_split_avx2(qlo, qhi, k + (size_t)j * d + b0,
						   d, len, r);
			if (b0) {
				acc[j] += r[0];
				acc[j + 1] += r[1];
			} else {
				acc[j] = r[0];
				acc[j + 1] = r[1];
			}
		}
		for (; j < n; j++) {
			const int16_t *k0 = k + (size_t)j * d + b0;
			int64_t sum = 0;

			for (x = 0; x < len; x++)
				sum += (int32_t)q[b0 + x] * k0[x];
			acc[j] = b0 ? acc[j] + sum : sum;
		}
	}
}

/*
 * Flush one group of 16 columns: lo holds columns 0-3 and 8-11, hi 4-7
 * and 12-15 (unpacklo/hi work within 128-bit halves).
 */
SPE_INLINE void spe_pv_flush_avx2(__m256i lo, __m256i hi,
				  int64_t *acc)
{
	__m256i a;

#define SPE_PV_ADD4(off, src)						\
	do {								\
		a = _mm256_loadu_si256((const void *)(acc + (off)));	\
		_mm256_storeu_si256((void *)(acc + (off)),		\
			_mm256_add_epi64(a, _mm256_cvtepi32_epi64(src)));\
	} while (0)
	SPE_PV_ADD4(0, _mm256_castsi256_si128(lo));
	SPE_PV_ADD4(4, _mm256_castsi256_si128(hi));
	SPE_PV_ADD4(8, _mm256_extracti128_si256(lo, 1));
	SPE_PV_ADD4(12, _mm256_extracti128_si256(hi, 1));
#undef SPE_PV_ADD4
}

/* Columns per pass: 64 = 8 accumulators of 8 int32. */
#define SPE_PV_AVX2_COLS	64

SPE_INLINE void spe_pv_pass_avx2(const int32_t *w,
				 const int16_t *v, uint32_t n,
				 uint32_t d, uint32_t c0,
				 uint32_t ncol, int64_t *acc)
{
	uint32_t idx[SPE_PV_CHUNK];
	__m256i a[SPE_PV_AVX2_COLS / 8];
	uint32_t wsum = 0, j0, cnt, m, t, g;

	#pragma GCC unroll 16
	for (g = 0; g < SPE_PV_AVX2_COLS / 8; g++)
		a[g] = _mm256_setzero_si256();

	for (j0 = 0; j0 < n; j0 += cnt) {
		cnt = n - j0 < SPE_PV_CHUNK ? n - j0 : SPE_PV_CHUNK;
		m = spe_pv_compact(w, v, j0, cnt, d, c0, c0 + ncol, acc, idx);
		for (t = 0; t < m; t += 2) {
			uint32_t ja = idx[t];
			uint32_t jb = t + 1 < m ? idx[t + 1] : ja;
			uint32_t wa = (uint32_t)w[ja];
			uint32_t wb = t + 1 < m ? (uint32_t)w[jb] : 0;
			const int16_t *va = v + (size_t)ja * d + c0;
			const int16_t *vb = v + (size_t)jb * d + c0;
			__m256i wv;

			if (wsum + wa + wb > SPE_PV_WSUM_MAX) {
				#pragma GCC unroll 8
				for (g = 0; g < ncol / 16; g++) {
					spe_pv_flush_avx2(a[2 * g], a[2 * g + 1],
							  acc + c0 + 16 * g);
					a[2 * g] = _mm256_setzero_si256();
					a[2 * g + 1] = _mm256_setzero_si256();
				}
				wsum = 0;
			}
			wsum += wa + wb;
			wv = _mm256_set1_epi32((int32_t)(wa | wb << 16));
			#pragma GCC unroll 8
			for (g = 0; g < ncol / 16; g++) {
				__m256i x0 = _mm256_loadu_si256((const void *)(va + 16 * g));
				__m256i x1 = _mm256_loadu_si256((const void *)(vb + 16 * g));

				a[2 * g] = _mm256_add_epi32(a[2 * g],
					_mm256_madd_epi16(_mm256_unpacklo_epi16(x0, x1), wv));
				a[2 * g + 1] = _mm256_add_epi32(a[2 * g + 1],
					_mm256_madd_epi16(_mm256_unpackhi_epi16(x0, x1), wv));
			}
		}
	}
	#pragma GCC unroll 8
	for (g = 0; g < ncol / 16; g++)
		spe_pv_flush_avx2(a[2 * g], a[2 * g + 1], acc + c0 + 16 * g);
}

void spe_pv_accumulate_avx2(const int32_t *w, const int16_t *v, uint32_t n,
			    uint32_t d, int64_t *acc)
{
	uint32_t c0;

	if (d % 16) {
		spe_pv_accumulate_sse41(w, v, n, d, acc);
		return;
	}
	memset(acc, 0, (size_t)d * sizeof(*acc));
	for (c0 = 0; c0 < d; c0 += SPE_PV_AVX2_COLS) {
		if (d - c0 >= SPE_PV_AVX2_COLS)
			spe_pv_pass_avx2(w, v, n, d, c0, SPE_PV_AVX2_COLS, acc);
		else
			spe_pv_pass_avx2(w, v, n, d, c0, d - c0, acc);
	}
}

/* spe_expf() on eight lanes, operation for operation. */
SPE_INLINE __m256 spe_exp8_avx2(__m256 x)
{
	__m256 ok = _mm256_cmp_ps(x, _mm256_set1_ps(SPE_K_EXPF_MIN), _CMP_GE_OQ);
	__m256 t, fn, r, p, y, s;
	__m256i n;

	x = _mm256_min_ps(x, _mm256_set1_ps(SPE_K_EXPF_MAX));
	t = _mm256_mul_ps(x, _mm256_set1_ps(SPE_K_LOG2E));
	t = _mm256_blendv_ps(_mm256_add_ps(t, _mm256_set1_ps(0.5f)),
			     _mm256_sub_ps(t, _mm256_set1_ps(0.5f)),
			     _mm256_cmp_ps(t, _mm256_setzero_ps(), _CMP_LT_OQ));
	n = _mm256_cvttps_epi32(t);
	fn = _mm256_cvtepi32_ps(n);
	r = _mm256_sub_ps(x, _mm256_mul_ps(fn, _mm256_set1_ps(SPE_K_LN2_HI)));
	r = _mm256_sub_ps(r, _mm256_mul_ps(fn, _mm256_set1_ps(SPE_K_LN2_LO)));
	p = _mm256_set1_ps(SPE_K_P0);
	p = _mm256_add_ps(_mm256_mul_ps(p, r), _mm256_set1_ps(SPE_K_P1));
	p = _mm256_add_ps(_mm256_mul_ps(p, r), _mm256_set1_ps(SPE_K_P2));
	p = _mm256_add_ps(_mm256_mul_ps(p, r), _mm256_set1_ps(SPE_K_P3));
	p = _mm256_add_ps(_mm256_mul_ps(p, r), _mm256_set1_ps(SPE_K_P4));
	p = _mm256_add_ps(_mm256_mul_ps(p, r), _mm256_set1_ps(SPE_K_P5));
	y = _mm256_mul_ps(p, _mm256_mul_ps(r, r));
	y = _mm256_add_ps(y, r);
	y = _mm256_add_ps(y, _mm256_set1_ps(1.0f));
	s = _mm256_castsi256_ps(_mm256_slli_epi32(
		_mm256_add_epi32(n, _mm256_set1_epi32(127)), 23));
	return _mm256_and_ps(_mm256_mul_ps(y, s), ok);
}

/* Four int64 differences, |v| < 2^51, to float with one rounding. */
SPE_INLINE __m128 spe_i64x4_ps_avx2(__m256i v)
{
	const __m256d magic = _mm256_set1_pd(6755399441055744.0); /* 1.5 * 2^52 */
	__m256d dv = _mm256_sub_pd(_mm256_castsi256_pd(_mm256_add_epi64(v,
					_mm256_castpd_si256(magic))), magic);

	return _mm256_cvtpd_ps(dv);
}

static void spe_exp_row_avx2(const int64_t *score, uint32_t n, int64_t max,
			     float scale, float *e)
{
	const __m256i mx = _mm256_set1_epi64x(max);
	const __m256i hi = _mm256_set1_epi64x(SPE_EXP_DMAX - 1);
	const __m256i lo = _mm256_set1_epi64x(-(SPE_EXP_DMAX - 1));
	const __m256 sc = _mm256_set1_ps(scale);
	uint32_t j;

	for (j = 0; j + 8 <= n; j += 8) {
		__m256i d0 = _mm256_sub_epi64(
			_mm256_loadu_si256((const void *)(score + j)), mx);
		__m256i d1 = _mm256_sub_epi64(
			_mm256_loadu_si256((const void *)(score + j + 4)), mx);
		__m256i bad = _mm256_or_si256(
			_mm256_or_si256(_mm256_cmpgt_epi64(d0, hi),
					_mm256_cmpgt_epi64(lo, d0)),
			_mm256_or_si256(_mm256_cmpgt_epi64(d1, hi),
					_mm256_cmpgt_epi64(lo, d1)));
		__m256 x;

		if (!_mm256_testz_si256(bad, bad)) {
			spe_exp_scalar(score + j, 8, max, scale, e + j);
			continue;
		}
		x = _mm256_set_m128(spe_i64x4_ps_avx2(d1), spe_i64x4_ps_avx2(d0));
		_mm256_storeu_ps(e + j, spe_exp8_avx2(_mm256_mul_ps(x, sc)));
	}
	spe_exp_scalar(score + j, n - j, max, scale, e + j);
}

float spe_sum8_avx2(const float *e, uint32_t n)
{
	__m256 acc = _mm256_setzero_ps();
	float tail[8] = { 0 };
	__m128 v;
	uint32_t j;

	for (j = 0; j + 8 <= n; j += 8)
		acc = _mm256_add_ps(acc, _mm256_loadu_ps(e + j));
	if (j < n) {
		/* x + 0 == x for every lane value a sum can hold (not -0). */
		memcpy(tail, e + j, (n - j) * sizeof(float));
		acc = _mm256_add_ps(acc, _mm256_loadu_ps(tail));
	}
	v = _mm_add_ps(_mm256_castps256_ps128(acc),
		       _mm256_extractf128_ps(acc, 1));
	v = _mm_add_ps(v, _mm_movehl_ps(v, v));
	return _mm_cvtss_f32(_mm_add_ss(v, _mm_shuffle_ps(v, v, 1)));
}

/* The int64 maximum of score[0..n), n >= 1. */
static int64_t spe_max_avx2(const int64_t *score, uint32_t n)
{
	__m256i m0 = _mm256_set1_epi64x(score[0]), m1 = m0;
	int64_t lane[4], max;
	uint32_t j;

	for (j = 0; j + 8 <= n; j += 8) {
		__m256i a = _mm256_loadu_si256((const void *)(score + j));
		__m256i b = _mm256_loadu_si256((const void *)(score + j + 4));

		m0 = _mm256_blendv_epi8(m0, a, _mm256_cmpgt_epi64(a, m0));
		m1 = _mm256_blendv_epi8(m1, b, _mm256_cmpgt_epi64(b, m1));
	}
	m0 = _mm256_blendv_epi8(m0, m1, _mm256_cmpgt_epi64(m1, m0));
	_mm256_storeu_si256((void *)lane, m0);
	max = lane[0];
	for (j = 1; j < 4; j++)
		if (lane[j] > max)
			max = lane[j];
	for (j = n & ~7u; j < n; j++)
		if (score[j] > max)
			max = score[j];
	return max;
}

SPE_INLINE __m256i spe_prob8_avx2(__m256 e, __m256 sum)
{
	__m256 p = _mm256_div_ps(e, sum);

	return _mm256_cvttps_epi32(_mm256_add_ps(
		_mm256_mul_ps(p, _mm256_set1_ps(32768.0f)), _mm256_set1_ps(0.5f)));
}

static float spe_softmax_row_avx2(const int64_t *score, uint32_t n,
				  float scale, float *e, int32_t *pq)
{
	int64_t max = spe_max_avx2(score, n);
	__m256 sv;
	float sum;
	uint32_t j;

	spe_exp_row_avx2(score, n, max, scale, e);
	sum = spe_sum8_avx2(e, n);
	sv = _mm256_set1_ps(sum);
	for (j = 0; j + 8 <= n; j += 8)
		_mm256_storeu_si256((void *)(pq + j),
				    spe_prob8_avx2(_mm256_loadu_ps(e + j), sv));
	spe_prob_scalar(e + j, n - j, sum, pq + j);
	return sum;
}

/*
 * Four int64 accumulators requantised (shift in 1..62) and saturated to
 * [-32768, 32767], still as int64 lanes.
 */
SPE_INLINE __m256i spe_requant4_avx2(__m256i a, __m256i round,
				     __m128i cnt, __m128i cnt_hi)
{
	const __m256i hi = _mm256_set1_epi64x(INT16_MAX);
	const __m256i lo = _mm256_set1_epi64x(INT16_MIN);
	__m256i t = _mm256_add_epi64(a, round);
	__m256i sign = _mm256_cmpgt_epi64(_mm256_setzero_si256(), t);
	/* Arithmetic shift: logical shift, sign bits shifted in. */
	__m256i y = _mm256_or_si256(_mm256_srl_epi64(t, cnt),
				    _mm256_sll_epi64(sign, cnt_hi));

	y = _mm256_blendv_epi8(y, hi, _mm256_cmpgt_epi64(y, hi));
	return _mm256_blendv_epi8(y, lo, _mm256_cmpgt_epi64(lo, y));
}

static uint64_t spe_requant_row_avx2(const int64_t *acc, uint32_t d,
				     int shift, uint8_t *dst)
{
	const __m256i even = _mm256_setr_epi32(0, 2, 4, 6, 1, 3, 5, 7);
	__m256i round, mag = _mm256_setzero_si256();
	__m128i cnt, cnt_hi;
	uint32_t lane[8], x;
	uint64_t sum = 0;

	if (shift < 1 || shift > 62)
		return spe_requant_row_scalar(acc, d, shift, dst);
	round = _mm256_set1_epi64x((int64_t)1 << (shift - 1));
	cnt = _mm_cvtsi32_si128(shift);
	cnt_hi = _mm_cvtsi32_si128(64 - shift);

	for (x = 0; x + 8 <= d; x += 8) {
		__m256i y0 = spe_requant4_avx2(_mm256_loadu_si256(
			(const void *)(acc + x)), round, cnt, cnt_hi);
		__m256i y1 = spe_requant4_avx2(_mm256_loadu_si256(
			(const void *)(acc + x + 4)), round, cnt, cnt_hi);
		/* Low dwords (the values, in range) of each lane, packed. */
		__m128i w = _mm_packs_epi32(
			_mm256_castsi256_si128(_mm256_permutevar8x32_epi32(y0, even)),
			_mm256_castsi256_si128(_mm256_permutevar8x32_epi32(y1, even)));

		_mm_storeu_si128((void *)(dst + 2 * x), w);	/* x86: LE */
		mag = _mm256_add_epi32(mag, _mm256_cvtepu16_epi32(_mm_abs_epi16(w)));
	}
	_mm256_storeu_si256((void *)lane, mag);
	for (x = 0; x < 8; x++)
		sum += lane[x];
	if (d % 8)
		sum += spe_requant_row_scalar(acc + (d & ~7u), d % 8, shift,
					      dst + 2 * (d & ~7u));
	return sum;
}

/* ---- multi-row kernels ----------------------------------------------- */

/*
 * K rewritten as words kt[p * np + j] = (k[j][2p], k[j][2p + 1]), zero
 * for j >= n; kmax2[b] = max ||k_j||^2 over the keys of block b (32 keys):
 * by Cauchy-Schwarz |q . k_j| <= ||q|| ||k_j||, so a (row, block) whose
 * bound is below 2^31 needs no split (the int32 lanes wrap but end exact).
 */
static void spe_kt_build(const int16_t *k, uint32_t n, uint32_t d,
			 uint32_t np, int32_t *kt, uint64_t *kmax2)
{
	uint32_t j, p, P = d / 2;

	for (j = 0; j < np / SPE_QKR_KEYS; j++)
		kmax2[j] = 0;
	for (j = 0; j < n; j++) {
		const int16_t *row = k + (size_t)j * d;
		uint64_t n2 = 0;

		for (p = 0; p < P; p++) {
			int32_t wd;

			memcpy(&wd, row + 2 * p, sizeof(wd));
			kt[(size_t)p * np + j] = wd;
		}
		for (p = 0; p < d; p++)
			n2 += (uint64_t)((int32_t)row[p] * row[p]);
		if (n2 > kmax2[j / SPE_QKR_KEYS])
			kmax2[j / SPE_QKR_KEYS] = n2;
	}
	for (p = 0; p < P; p++)
		for (j = n; j < np; j++)
			kt[(size_t)p * np + j] = 0;
}

/* Also the AVX-512 qk_rows' (why out of line: spe_kernels_x86.h). */
int spe_qkr_prepare(const int16_t *q, uint32_t m, const int16_t *k,
		    uint32_t n, uint32_t d, struct spe_qkr_prep *pp)
{
	size_t kt_words, q_words;
	uint32_t i, x;
	char *b;

	pp->np = (n + SPE_QKR_KEYS - 1) / SPE_QKR_KEYS * SPE_QKR_KEYS;
	pp->P = d / 2;
	kt_words = (size_t)pp->np * pp->P;
	q_words = (size_t)m * pp->P;
	pp->block = malloc((kt_words + 3 * q_words) * sizeof(int32_t) +
			   ((size_t)pp->np / SPE_QKR_KEYS + m) * sizeof(uint64_t));
	if (!pp->block)
		return 0;
	b = pp->block;
	pp->kmax2 = (uint64_t *)(void *)b;
	b += (size_t)pp->np / SPE_QKR_KEYS * sizeof(uint64_t);
	pp->qn2 = (uint64_t *)(void *)b;
	b += (size_t)m * sizeof(uint64_t);
	pp->kt = (int32_t *)(void *)b;
	pp->qw = pp->kt + kt_words;
	pp->ql = pp->qw + q_words;
	pp->qh = pp->ql + q_words;

	spe_kt_build(k, n, d, pp->np, pp->kt, pp->kmax2);
	for (i = 0; i < m; i++) {
		const int16_t *qr = q + (size_t)i * d;
		int16_t lo[256], hi[256];
		uint64_t n2 = 0;

		for (x = 0; x < d; x++)
			n2 += (uint64_t)((int32_t)qr[x] * qr[x]);
		pp->qn2[i] = n2;
		memcpy(pp->qw + (size_t)i * pp->P, qr, d * sizeof(int16_t));
		spe_q_split(qr, d, lo, hi);
		memcpy(pp->ql + (size_t)i * pp->P, lo, d * sizeof(int16_t));
		memcpy(pp->qh + (size_t)i * pp->P, hi, d * sizeof(int16_t));
	}
	return 1;
}

/*
 * The transposed formulation of qk_rows / pv_rows described with the
 * AVX-512 ones (spe_kernels_avx512.c), two rows at a time (sixteen ymm
 * registers), pmaddwd + paddd (wrapping: exact when the final sum fits,
 * which the Cauchy-Schwarz test or the split guarantees).
 */
SPE_INLINE void spe_qkr2_store(__m256i lo, __m256i hi, int split,
			       int64_t *dst, uint32_t cnt)
{
	__m256i a = _mm256_cvtepi32_epi64(_mm256_castsi256_si128(lo));
	__m256i b = _mm256_cvtepi32_epi64(_mm256_extracti128_si256(lo, 1));
	int64_t tmp[8];

	if (split) {
		a = _mm256_add_epi64(a, _mm256_slli_epi64(_mm256_cvtepi32_epi64(
			_mm256_castsi256_si128(hi)), 8));
		b = _mm256_add_epi64(b, _mm256_slli_epi64(_mm256_cvtepi32_epi64(
			_mm256_extracti128_si256(hi, 1)), 8));
	}
	if (cnt >= 8) {
		_mm256_storeu_si256((void *)dst, a);
		_mm256_storeu_si256((void *)(dst + 4), b);
		return;
	}
	_mm256_storeu_si256((void *)tmp, a);
	_mm256_storeu_si256((void *)(tmp + 4), b);
	memcpy(dst, tmp, cnt * sizeof(int64_t));
}

/* @R (1 or 2) rows x 16 keys from key @j. */
SPE_INLINE void spe_qkr2_block(const int32_t *ql, const int32_t *qh,
			       const int32_t *kt, uint32_t np,
			       uint32_t j, uint32_t P, int R,
			       int split, int64_t *const *dst,
			       uint32_t cnt)
{
	__m256i l[2][2], h[2][2];
	uint32_t p;
	int r;

#pragma GCC unroll 2
	for (r = 0; r < R; r++)
		l[r][0] = l[r][1] = h[r][0] = h[r][1] = _mm256_setzero_si256();
	for (p = 0; p < P; p++) {
		const int32_t *kp = kt + (size_t)p * np + j;
		__m256i k0 = _mm256_loadu_si256((const void *)kp);
		__m256i k1 = _mm256_loadu_si256((const void *)(kp + 8));

#pragma GCC unroll 2
		for (r = 0; r < R; r++) {
			__m256i wl = _mm256_set1_epi32(ql[(size_t)r * P + p]);

			l[r][0] = _mm256_add_epi32(l[r][0], _mm256_madd_epi16(k0, wl));
			l[r][1] = _mm256_add_epi32(l[r][1], _mm256_madd_epi16(k1, wl));
			if (split) {
				__m256i wh = _mm256_set1_epi32(qh[(size_t)r * P + p]);

				h[r][0] = _mm256_add_epi32(h[r][0],
							   _mm256_madd_epi16(k0, wh));
				h[r][1] = _mm256_add_epi32(h[r][1],
							   _mm256_madd_epi16(k1, wh));
			}
		}
	}
#pragma GCC unroll 2
	for (r = 0; r < R; r++) {
		spe_qkr2_store(l[r][0], h[r][0], split, dst[r] + j,
			       cnt > 8 ? 8 : cnt);
		if (cnt > 8)
			spe_qkr2_store(l[r][1], h[r][1], split, dst[r] + j + 8,
				       cnt - 8);
	}
}

static void spe_qk_rows_avx2(const int16_t *q, uint32_t m, const int16_t *k,
			     uint32_t n, uint32_t d, int64_t *acc)
{
	struct spe_qkr_prep pp;
	uint32_t i, j;

	if (m < 2 || d % 16 || d > 256 || n < 8 ||
	    !spe_qkr_prepare(q, m, k, n, d, &pp)) {
		for (i = 0; i < m; i++)
			spe_qk_scores_avx2(q + (size_t)i * d, k, n, d,
					   acc + (size_t)i * n);
		return;
	}
	/* Keys outer: a block of kt (P x 64 bytes) stays in L1 for all rows. */
	for (j = 0; j < n; j += 16) {
		uint64_t km = pp.kmax2[j / SPE_QKR_KEYS];
		uint32_t cnt = n - j < 16 ? n - j : 16;
		size_t o;

		for (i = 0; i < m; i += 2) {
			int64_t *dst[2] = { acc + (size_t)i * n,
					    acc + (size_t)(i + 1) * n };
			int split = !spe_cs_small(pp.qn2[i], km);

			o = (size_t)i * pp.P;
			if (i + 1 < m) {
				split |= !spe_cs_small(pp.qn2[i + 1], km);
				if (split)
					spe_qkr2_block(pp.ql + o, pp.qh + o, pp.kt,
						       pp.np, j, pp.P, 2, 1, dst, cnt);
				else
					spe_qkr2_block(pp.qw + o, pp.qh + o, pp.kt,
						       pp.np, j, pp.P, 2, 0, dst, cnt);
			} else if (split) {
				spe_qkr2_block(pp.ql + o, pp.qh + o, pp.kt, pp.np,
					       j, pp.P, 1, 1, dst, cnt);
			} else {
				spe_qkr2_block(pp.qw + o, pp.qh + o, pp.kt, pp.np,
					       j, pp.P, 1, 0, dst, cnt);
			}
		}
	}
	free(pp.block);
}

/* Pack a row's weights as pairs; 0 if a weight or the total is out of range. */
static int spe_pvr_pack_scalar(const int32_t *w, uint32_t n, int32_t *w2,
			       uint32_t *nonzero)
{
	uint64_t tot = 0;
	uint32_t j, nz = 0;

	for (j = 0; j < n; j++) {
		if ((uint32_t)w[j] > 32767)
			return 0;
		tot += (uint32_t)w[j];
		nz += !!w[j];
	}
	if (nonzero)
		*nonzero = nz;
	for (j = 0; j + 1 < n; j += 2)
		w2[j / 2] = (int32_t)((uint32_t)w[j] | (uint32_t)w[j + 1] << 16);
	if (n & 1)
		w2[n / 2] = w[n - 1];
	return tot <= SPE_PV_WSUM_MAX;
}

/* @R (1 or 2) weight rows, 32 columns from @c0. */
SPE_INLINE void spe_pvr2_group(const int32_t *w2, uint32_t P2,
			       const int16_t *v, uint32_t n,
			       uint32_t d, uint32_t c0, int R,
			       int64_t *const *dst)
{
	__m256i a[2][4];
	uint32_t p;
	int r, t;

#pragma GCC unroll 2
	for (r = 0; r < R; r++)
		a[r][0] = a[r][1] = a[r][2] = a[r][3] = _mm256_setzero_si256();
	for (p = 0; p < P2; p++) {
		const int16_t *v0 = v + (size_t)2 * p * d + c0;
		/* Odd n: the last pair's second row is its first again, with
		 * weight 0 in the pair word (no branch, no read past V). */
		const int16_t *v1 = v0 + (2 * p + 1 < n ? d : 0);
		__m256i x0 = _mm256_loadu_si256((const void *)v0);
		__m256i y0 = _mm256_loadu_si256((const void *)(v0 + 16));
		__m256i x1 = _mm256_loadu_si256((const void *)v1);
		__m256i y1 = _mm256_loadu_si256((const void *)(v1 + 16)), u[4];

		u[0] = _mm256_unpacklo_epi16(x0, x1);
		u[1] = _mm256_unpackhi_epi16(x0, x1);
		u[2] = _mm256_unpacklo_epi16(y0, y1);
		u[3] = _mm256_unpackhi_epi16(y0, y1);
#pragma GCC unroll 2
		for (r = 0; r < R; r++) {
			__m256i wv = _mm256_set1_epi32(w2[(size_t)r * P2 + p]);

#pragma GCC unroll 4
			for (t = 0; t < 4; t++)
				a[r][t] = _mm256_add_epi32(a[r][t],
							   _mm256_madd_epi16(u[t], wv));
		}
	}
#pragma GCC unroll 2
	for (r = 0; r < R; r++) {
		spe_pv_flush_avx2(a[r][0], a[r][1], dst[r] + c0);
		spe_pv_flush_avx2(a[r][2], a[r][3], dst[r] + c0 + 16);
	}
}

static void spe_pv_rows_avx2(const int32_t *w, uint32_t m, const int16_t *v,
			     uint32_t n, uint32_t d, int64_t *acc)
{
	uint32_t P2 = (n + 1) / 2, i, g = 0, c0;
	int32_t *w2;
	int64_t *dst[2];

	if (m < 2 || d % 32 || n < 2 ||
	    !(w2 = malloc((size_t)2 * (P2 + 1) * sizeof(int32_t)))) {
		for (i = 0; i < m; i++)
			spe_pv_accumulate_avx2(w + (size_t)i * n, v, n, d,
					       acc + (size_t)i * d);
		return;
	}
	for (i = 0; i <= m; i++) {
		if (i < m) {
			const int32_t *wr = w + (size_t)i * n;

			if (!spe_pvr_pack_scalar(wr, n, w2 + (size_t)g * P2, NULL)) {
				spe_pv_accumulate_avx2(wr, v, n, d,
						       acc + (size_t)i * d);
				continue;
			}
			dst[g] = acc + (size_t)i * d;
			memset(dst[g], 0, d * sizeof(int64_t));
			g++;
		}
		if (g == 2 || (i == m && g)) {
			for (c0 = 0; c0 < d; c0 += 32) {
				if (g == 2)
					spe_pvr2_group(w2, P2, v, n, d, c0, 2, dst);
				else
					spe_pvr2_group(w2, P2, v, n, d, c0, 1, dst);
			}
			g = 0;
		}
	}
	free(w2);
}

const struct spe_kernels spe_kernels_avx2 = {
	.name = "avx2",
	.qk_scores = spe_qk_scores_avx2,
	.pv_accumulate = spe_pv_accumulate_avx2,
	.exp_row = spe_exp_row_avx2,
	.sum8 = spe_sum8_avx2,
	.softmax_row = spe_softmax_row_avx2,
	.requant_row = spe_requant_row_avx2,
	.qk_rows = spe_qk_rows_avx2,
	.pv_rows = spe_pv_rows_avx2,
	.unpack = SPE_UNPACK_X86,
	.qk_packed = SPE_QK_PACKED_X86,
	.topk_split = spe_topk_split_generic,
	.topk_filter = spe_topk_filter_generic,
};

#if defined(__clang__)
#pragma clang attribute pop
#endif

#endif /* x86 */
