// SPDX-License-Identifier: MIT
/*
 * SpAtten engine: the SSE4.1 inner loops (table "sse4.1"), and the
 * fallbacks of spe_kernels_avx2.c for rows of 8 (not 16) dimensions.
 *
 * The whole file is compiled for SSE4.1 (the pragma below, after the
 * system headers), so it builds with any x86 build's baseline flags;
 * spe_kernels.c only calls this table on a CPU with SSE4.1. Why each
 * int32 shortcut is exact: spe_kernels_x86.h.
 */
#if defined(__x86_64__) || defined(__i386__)

#include <immintrin.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/*
 * The ISA from here on, not before: the system headers stay baseline
 * code, and gcc 12's immintrin.h included with an ISA already on fails on
 * i386 (_Float16 in avx512fp16intrin.h).
 */
#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("sse4.1"))), \
			     apply_to = function)
#else
#pragma GCC target("sse4.1")
#endif

#include "spe_kernels_x86.h"

SPE_INLINE __m128i spe_hsum4x4_sse(__m128i a, __m128i b,
				   __m128i c, __m128i d)
{
	return _mm_hadd_epi32(_mm_hadd_epi32(a, b), _mm_hadd_epi32(c, d));
}

void spe_qk_scores_sse41(const int16_t *q, const int16_t *k, uint32_t n,
			 uint32_t d, int64_t *acc)
{
	int16_t qlo[SPE_QK_BLOCK], qhi[SPE_QK_BLOCK];
	uint32_t j, x, b0, len;

	if (d % 8 || !n) {
		spe_qk_scalar(q, k, n, d, acc);
		return;
	}

	if (spe_q_small(q, d)) {
		/* One pmaddwd per 8 elements; int32 sums cannot overflow. */
		for (j = 0; j + 4 <= n; j += 4) {
			const int16_t *k0 = k + (size_t)j * d;
			__m128i a0 = _mm_setzero_si128(), a1 = a0, a2 = a0,
				a3 = a0, s;

			for (x = 0; x < d; x += 8) {
				__m128i qv = _mm_loadu_si128((const void *)(q + x));

				a0 = _mm_add_epi32(a0, _mm_madd_epi16(qv,
					_mm_loadu_si128((const void *)(k0 + x))));
				a1 = _mm_add_epi32(a1, _mm_madd_epi16(qv,
					_mm_loadu_si128((const void *)(k0 + d + x))));
				a2 = _mm_add_epi32(a2, _mm_madd_epi16(qv,
					_mm_loadu_si128((const void *)(k0 + 2 * d + x))));
				a3 = _mm_add_epi32(a3, _mm_madd_epi16(qv,
					_mm_loadu_si128((const void *)(k0 + 3 * d + x))));
			}
			s = spe_hsum4x4_sse(a0, a1, a2, a3);
			_mm_storeu_si128((void *)(acc + j), _mm_cvtepi32_epi64(s));
			_mm_storeu_si128((void *)(acc + j + 2),
					 _mm_cvtepi32_epi64(_mm_srli_si128(s, 8)));
		}
		if (j < n)
			spe_qk_scalar(q, k + (size_t)j * d, n - j, d, acc + j);
		return;
	}

	for (b0 = 0; b0 < d; b0 += len) {
		len = d - b0 < SPE_QK_BLOCK ? d - b0 : SPE_QK_BLOCK;
		spe_q_split(q + b0, len, qlo, qhi);
		for (j = 0; j + 2 <= n; j += 2) {
			const int16_t *k0 = k + (size_t)j * d + b0;
			__m128i l0 = _mm_setzero_si128(), h0 = l0, l1 = l0,
				h1 = l0, s;
			int64_t r0, r1;

			for (x = 0; x < len; x += 8) {
				__m128i lv = _mm_loadu_si128((const void *)(qlo + x));
				__m128i hv = _mm_loadu_si128((const void *)(qhi + x));
				__m128i kv0 = _mm_loadu_si128((const void *)(k0 + x));
				__m128i kv1 = _mm_loadu_si128((const void *)(k0 + d + x));

				l0 = _mm_add_epi32(l0, _mm_madd_epi16(kv0, lv));
				h0 = _mm_add_epi32(h0, _mm_madd_epi16(kv0, hv));
				l1 = _mm_add_epi32(l1, _mm_madd_epi16(kv1, lv));
				h1 = _mm_add_epi32(h1, _mm_madd_epi16(kv1, hv));
			}
			/* [L0, H0, L1, H1] */
			s = spe_hsum4x4_sse(l0, h0, l1, h1);
			r0 = (int64_t)_mm_extract_epi32(s, 1) * 256 +
			     _mm_cvtsi128_si32(s);
			r1 = (int64_t)_mm_extract_epi32(s, 3) * 256 +
			     _mm_extract_epi32(s, 2);
			if (b0) {
				acc[j] += r0;
				acc[j + 1] += r1;
			} else {
				acc[j] = r0;
				acc[j + 1] = r1;
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

static void spe_pv_flush_sse41(__m128i lo, __m128i hi, int64_t *acc)
{
	/* lo: columns 0..3, hi: columns 4..7 of this group of 8. */
	__m128i a;

	a = _mm_loadu_si128((const void *)acc);
	_mm_storeu_si128((void *)acc, _mm_add_epi64(a, _mm_cvtepi32_epi64(lo)));
	a = _mm_loadu_si128((const void *)(acc + 2));
	_mm_storeu_si128((void *)(acc + 2),
			 _mm_add_epi64(a, _mm_cvtepi32_epi64(_mm_srli_si128(lo, 8))));
	a = _mm_loadu_si128((const void *)(acc + 4));
	_mm_storeu_si128((void *)(acc + 4), _mm_add_epi64(a, _mm_cvtepi32_epi64(hi)));
	a = _mm_loadu_si128((const void *)(acc + 6));
	_mm_storeu_si128((void *)(acc + 6),
			 _mm_add_epi64(a, _mm_cvtepi32_epi64(_mm_srli_si128(hi, 8))));
}

/* Columns per pass: 32 = 8 int32 accumulators of 4. */
#define SPE_PV_SSE_COLS	32

void spe_pv_accumulate_sse41(const int32_t *w, const int16_t *v, uint32_t n,
			     uint32_t d, int64_t *acc)
{
	uint32_t idx[SPE_PV_CHUNK];
	uint32_t c0, ncol, j0, cnt, m, t, g;

	memset(acc, 0, (size_t)d * sizeof(*acc));
	if (d % 8) {
		for (j0 = 0; j0 < n; j0++)
			if (w[j0])
				spe_pv_row_wide(w[j0], v + (size_t)j0 * d, 0, d,
						acc);
		return;
	}

	for (c0 = 0; c0 < d; c0 += ncol) {
		__m128i a[SPE_PV_SSE_COLS / 4];
		uint32_t wsum = 0;

		ncol = d - c0 < SPE_PV_SSE_COLS ? d - c0 : SPE_PV_SSE_COLS;
		#pragma GCC unroll 16
		for (g = 0; g < SPE_PV_SSE_COLS / 4; g++)
			a[g] = _mm_setzero_si128();

		for (j0 = 0; j0 < n; j0 += cnt) {
			cnt = n - j0 < SPE_PV_CHUNK ? n - j0 : SPE_PV_CHUNK;
			m = spe_pv_compact(w, v, j0, cnt, d, c0, c0 + ncol,
					   acc, idx);
			for (t = 0; t < m; t += 2) {
				uint32_t ja = idx[t];
				uint32_t jb = t + 1 < m ? idx[t + 1] : ja;
				uint32_t wa = (uint32_t)w[ja];
				uint32_t wb = t + 1 < m ? (uint32_t)w[jb] : 0;
				const int16_t *va = v + (size_t)ja * d + c0;
				const int16_t *vb = v + (size_t)jb * d + c0;
				__m128i wv;

				if (wsum + wa + wb > SPE_PV_WSUM_MAX) {
					#pragma GCC unroll 8
					for (g = 0; g < ncol / 8; g++) {
						spe_pv_flush_sse41(a[2 * g], a[2 * g + 1],
								   acc + c0 + 8 * g);
						a[2 * g] = _mm_setzero_si128();
						a[2 * g + 1] = _mm_setzero_si128();
					}
					wsum = 0;
				}
				wsum += wa + wb;
				wv = _mm_set1_epi32((int32_t)(wa | wb << 16));
				#pragma GCC unroll 8
				for (g = 0; g < ncol / 8; g++) {
					__m128i x0 = _mm_loadu_si128((const void *)(va + 8 * g));
					__m128i x1 = _mm_loadu_si128((const void *)(vb + 8 * g));

					a[2 * g] = _mm_add_epi32(a[2 * g],
						_mm_madd_epi16(_mm_unpacklo_epi16(x0, x1), wv));
					a[2 * g + 1] = _mm_add_epi32(a[2 * g + 1],
						_mm_madd_epi16(_mm_unpackhi_epi16(x0, x1), wv));
				}
			}
		}
		#pragma GCC unroll 8
		for (g = 0; g < ncol / 8; g++)
			spe_pv_flush_sse41(a[2 * g], a[2 * g + 1], acc + c0 + 8 * g);
	}
}

/* spe_expf() on four lanes, operation for operation. */
SPE_INLINE __m128 spe_exp4_sse41(__m128 x)
{
	__m128 ok = _mm_cmpge_ps(x, _mm_set1_ps(SPE_K_EXPF_MIN));
	__m128 t, fn, r, p, y, s;
	__m128i n;

	x = _mm_min_ps(x, _mm_set1_ps(SPE_K_EXPF_MAX));
	t = _mm_mul_ps(x, _mm_set1_ps(SPE_K_LOG2E));
	t = _mm_blendv_ps(_mm_add_ps(t, _mm_set1_ps(0.5f)),
			  _mm_sub_ps(t, _mm_set1_ps(0.5f)),
			  _mm_cmplt_ps(t, _mm_setzero_ps()));
	n = _mm_cvttps_epi32(t);
	fn = _mm_cvtepi32_ps(n);
	r = _mm_sub_ps(x, _mm_mul_ps(fn, _mm_set1_ps(SPE_K_LN2_HI)));
	r = _mm_sub_ps(r, _mm_mul_ps(fn, _mm_set1_ps(SPE_K_LN2_LO)));
	p = _mm_set1_ps(SPE_K_P0);
	p = _mm_add_ps(_mm_mul_ps(p, r), _mm_set1_ps(SPE_K_P1));
	p = _mm_add_ps(_mm_mul_ps(p, r), _mm_set1_ps(SPE_K_P2));
	p = _mm_add_ps(_mm_mul_ps(p, r), _mm_set1_ps(SPE_K_P3));
	p = _mm_add_ps(_mm_mul_ps(p, r), _mm_set1_ps(SPE_K_P4));
	p = _mm_add_ps(_mm_mul_ps(p, r), _mm_set1_ps(SPE_K_P5));
	y = _mm_mul_ps(p, _mm_mul_ps(r, r));
	y = _mm_add_ps(y, r);
	y = _mm_add_ps(y, _mm_set1_ps(1.0f));
	s = _mm_castsi128_ps(_mm_slli_epi32(_mm_add_epi32(n, _mm_set1_epi32(127)),
					    23));
	return _mm_and_ps(_mm_mul_ps(y, s), ok);
}

/* Two int64 differences, |v| < 2^51, to float with one rounding. */
SPE_INLINE __m128 spe_i64x2_ps_sse41(__m128i v)
{
	const __m128d magic = _mm_set1_pd(6755399441055744.0);	/* 1.5 * 2^52 */
	__m128d dv = _mm_sub_pd(_mm_castsi128_pd(_mm_add_epi64(v,
					_mm_castpd_si128(magic))), magic);

	return _mm_cvtpd_ps(dv);
}

static void spe_exp_row_sse41(const int64_t *score, uint32_t n, int64_t max,
			      float scale, float *e)
{
	const __m128i mx = _mm_set1_epi64x(max);
	const __m128 sc = _mm_set1_ps(scale);
	uint32_t j, i;

	for (j = 0; j + 4 <= n; j += 4) {
		__m128i d0 = _mm_sub_epi64(_mm_loadu_si128((const void *)(score + j)), mx);
		__m128i d1 = _mm_sub_epi64(_mm_loadu_si128((const void *)(score + j + 2)), mx);
		int wide = 0;
		__m128 x;

		for (i = 0; i < 4; i++) {
			uint64_t dd = (uint64_t)score[j + i] - (uint64_t)max;

			wide |= dd + (uint64_t)SPE_EXP_DMAX >=
				2 * (uint64_t)SPE_EXP_DMAX;
		}
		if (wide) {
			spe_exp_scalar(score + j, 4, max, scale, e + j);
			continue;
		}
		x = _mm_movelh_ps(spe_i64x2_ps_sse41(d0), spe_i64x2_ps_sse41(d1));
		_mm_storeu_ps(e + j, spe_exp4_sse41(_mm_mul_ps(x, sc)));
	}
	spe_exp_scalar(score + j, n - j, max, scale, e + j);
}

static float spe_sum8_sse41(const float *e, uint32_t n)
{
	__m128 lo = _mm_setzero_ps(), hi = lo, v;
	float tail[8] = { 0 };
	uint32_t j;

	for (j = 0; j + 8 <= n; j += 8) {
		lo = _mm_add_ps(lo, _mm_loadu_ps(e + j));
		hi = _mm_add_ps(hi, _mm_loadu_ps(e + j + 4));
	}
	if (j < n) {
		/* x + 0 == x for every lane value a sum can hold (not -0). */
		memcpy(tail, e + j, (n - j) * sizeof(float));
		lo = _mm_add_ps(lo, _mm_loadu_ps(tail));
		hi = _mm_add_ps(hi, _mm_loadu_ps(tail + 4));
	}
	v = _mm_add_ps(lo, hi);			/* l0+l4 l1+l5 l2+l6 l3+l7 */
	v = _mm_add_ps(v, _mm_movehl_ps(v, v));	/* (l0+l4)+(l2+l6), (..1)+(..3) */
	return _mm_cvtss_f32(_mm_add_ss(v, _mm_shuffle_ps(v, v, 1)));
}

/* p = e / sum; pq = (int32)(p * 32768 + 0.5), lane by lane. */
SPE_INLINE __m128i spe_prob4_sse41(__m128 e, __m128 sum)
{
	__m128 p = _mm_div_ps(e, sum);

	return _mm_cvttps_epi32(_mm_add_ps(_mm_mul_ps(p, _mm_set1_ps(32768.0f)),
					   _mm_set1_ps(0.5f)));
}

static int64_t spe_max_scalar(const int64_t *score, uint32_t n)
{
	int64_t max = score[0];
	uint32_t j;

	for (j = 1; j < n; j++)
		if (score[j] > max)
			max = score[j];
	return max;
}

static float spe_softmax_row_sse41(const int64_t *score, uint32_t n,
				   float scale, float *e, int32_t *pq)
{
	int64_t max = spe_max_scalar(score, n);
	__m128 sv;
	float sum;
	uint32_t j;

	spe_exp_row_sse41(score, n, max, scale, e);
	sum = spe_sum8_sse41(e, n);
	sv = _mm_set1_ps(sum);
	for (j = 0; j + 4 <= n; j += 4)
		_mm_storeu_si128((void *)(pq + j),
				 spe_prob4_sse41(_mm_loadu_ps(e + j), sv));
	spe_prob_scalar(e + j, n - j, sum, pq + j);
	return sum;
}

SPE_KERNELS_ROWS_LOOP(sse41, spe_qk_scores_sse41, spe_pv_accumulate_sse41)

const struct spe_kernels spe_kernels_sse41 = {
	.name = "sse4.1",
	.qk_scores = spe_qk_scores_sse41,
	.pv_accumulate = spe_pv_accumulate_sse41,
	.exp_row = spe_exp_row_sse41,
	.sum8 = spe_sum8_sse41,
	.softmax_row = spe_softmax_row_sse41,
	.requant_row = spe_requant_row_scalar,
	.qk_rows = spe_qk_rows_sse41,
	.pv_rows = spe_pv_rows_sse41,
	.unpack = SPE_UNPACK_X86,
	.qk_packed = SPE_QK_PACKED_X86,
	.topk_split = spe_topk_split_generic,
	.topk_filter = spe_topk_filter_generic,
};

#if defined(__clang__)
#pragma clang attribute pop
#endif

#endif /* x86 */
