// SPDX-License-Identifier: MIT
/*
 * SpAtten engine: SSE4.1, AVX2 and AVX-512 inner loops for x86.
 *
 * Each function carries its own __attribute__((target)), so the file
 * builds with the baseline flags of any x86 build (QEMU, the guest's
 * qemu64 CPU, the host tests); spe_kernels.c only calls a table when
 * __builtin_cpu_supports() says the CPU has what it needs.
 *
 * Bit-exactness with spe_kernels_generic.c (tests/kernels checks it):
 *  - Integer sums may wrap in int32 lanes (pmaddwd / vpdpwssd / paddd are
 *    all modulo 2^32): a lane is exact whenever its true final value fits
 *    in int32, and each path below proves that before using it.
 *  - qk_scores, one query row, horizontal (a lane per dimension pair,
 *    summed across lanes per key):
 *    . sum |q| <= 65535: every sum fits, int32 all the way;
 *    . every lane's sum of |q| <= 65535 (the usual case): lane sums fit;
 *      they are split as 65536 * (S >> 16) + (S & 0xffff) and the halves
 *      summed across lanes in int32, then rebuilt in int64;
 *    . otherwise q = 256 * qh + ql (ql 0..255, qh -128..127): both sums
 *      fit for up to 256 dimensions (255 * 32768 * 256 < 2^31); the score
 *      is 256 * H + L; longer rows go 256 dimensions at a time.
 *  - qk_rows (SSE4.1: row by row), transposed: K rewritten once per call
 *    as (k[j][2p], k[j][2p+1]) words, a lane per key, the query row's pair
 *    broadcast; no horizontal sums. A (row, 32-key block) uses int32
 *    lanes when ||q||^2 max ||k||^2 < 2^62 (Cauchy-Schwarz: |q.k| < 2^31),
 *    else the split above.
 *  - pv_accumulate / pv_rows: pairs of value rows interleaved through
 *    pmaddwd with their two weights (0..32767 as int16). An int32
 *    accumulator stays exact while the weights summed into it total at
 *    most 65536 (|sum| <= 32768 * 65536); flushed to int64 before that.
 *    Weights outside 0..32767 (2^15: a probability of exactly 1) take an
 *    int64 path. Rows that are mostly zero are compacted first.
 *  - exp_row: int64 -> double is exact below 2^51 (the 1.5 * 2^52 trick),
 *    so double -> float rounds once, like (float)int64 (AVX-512DQ:
 *    vcvtqq2ps directly); then spe_expf's operations lane by lane, no FMA.
 *  - sum8: the eight lanes are one ymm (two xmm); the final tree is the
 *    documented one, operand order kept. The tail adds +0.0, a no-op on
 *    every value a lane can hold (a lane starting at +0 is never -0).
 *  - softmax_row: p = e / sum, p * 32768 + 0.5, truncation: the same
 *    IEEE operations per lane (divps is correctly rounded).
 *  - requant_row: 64-bit arithmetic shift (emulated on AVX2), saturation
 *    (vpmovsqw on AVX-512), little-endian stores (x86).
 */
#if defined(__x86_64__) || defined(__i386__)

#include <immintrin.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* See spe_math.c: never fuse a multiply and an add in this file. */
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif

#include "spe_kernels.h"
#include "spe_kernels_impl.h"

#define SPE_T_SSE41	__attribute__((target("sse4.1")))
#define SPE_T_AVX2	__attribute__((target("avx2")))
#define SPE_T_AVX512	__attribute__((target( \
	"avx512f,avx512bw,avx512dq,avx512vl,avx512vnni,avx2")))
#define SPE_INLINE	static inline __attribute__((always_inline))

/* Dimensions per qk block: 255 * 32768 * 256 < 2^31 (see above). */
#define SPE_QK_BLOCK	256
/* Rows compacted at a time by pv_accumulate. */
#define SPE_PV_CHUNK	256
/* Longest row pv_accumulate packs on the stack for its dense path. */
#define SPE_PVR_DENSE_MAX	2048
/* Weight total an int32 prob x V accumulator can take exactly. */
#define SPE_PV_WSUM_MAX	65536
/* |int64 difference| below which the double trick is exact. */
#define SPE_EXP_DMAX	((int64_t)1 << 51)

/* ---- shared scalar helpers ------------------------------------------- */

static void spe_qk_scalar(const int16_t *q, const int16_t *k, uint32_t n,
			  uint32_t d, int64_t *acc)
{
	spe_kernels_generic.qk_scores(q, k, n, d, acc);
}

/* sum |q[x]| <= 65535: int32 sums are exact in any order. */
static int spe_q_small(const int16_t *q, uint32_t d)
{
	uint32_t x, s = 0;

	for (x = 0; x < d; x++) {
		s += (uint32_t)(q[x] < 0 ? -(int32_t)q[x] : q[x]);
		if (s > 65535)
			return 0;
	}
	return 1;
}

/*
 * pmaddwd lanes: with vectors of @vec int16, int32 lane i accumulates the
 * products of dimensions x with (x % vec) / 2 == i. If every lane's sum of
 * |q| is at most 65535, every lane sum is exact in int32 (|k| <= 32768).
 */
SPE_INLINE int spe_q_lanes_ok(const int16_t *q, uint32_t d, uint32_t vec)
{
	uint32_t lane[32] = { 0 }, x, i, bad = 0;

	/* @vec is a constant at every call: the loop is cheap. */
	for (x = 0; x < d; x += vec)
		for (i = 0; i < vec && i < 32; i++)
			lane[i] += (uint32_t)(q[x + i] < 0 ? -(int32_t)q[x + i] :
					      q[x + i]);
	for (i = 0; i < vec && i < 32; i += 2)
		bad |= lane[i] + lane[i + 1] > 65535;
	return !bad;
}

/* q = 256 * hi + lo, lo in 0..255, hi in -128..127. */
static void spe_q_split(const int16_t *q, uint32_t len, int16_t *lo,
			int16_t *hi)
{
	uint32_t x;

	for (x = 0; x < len; x++) {
		int32_t v = q[x];

		lo[x] = (int16_t)(v & 0xff);
		hi[x] = (int16_t)((v - (v & 0xff)) / 256);
	}
}

static void spe_exp_scalar(const int64_t *score, uint32_t n, int64_t max,
			   float scale, float *e)
{
	uint32_t j;

	for (j = 0; j < n; j++)
		e[j] = spe_kernels_expf((float)(score[j] - max) * scale);
}

/* Any weight outside 0..32767, or a shape the vectors do not cover. */
static void spe_pv_row_wide(int32_t w, const int16_t *v_row, uint32_t c0,
			    uint32_t c1, int64_t *acc)
{
	uint32_t c;

	for (c = c0; c < c1; c++)
		acc[c] += (int64_t)w * v_row[c];
}

/*
 * Indices of the rows of [j0, j0 + cnt) with a weight in 1..32767 into
 * @idx; rows with any other non-zero weight go through the int64 path for
 * columns [c0, c1) right away. Returns the count.
 */
static uint32_t spe_pv_compact(const int32_t *w, const int16_t *v,
			       uint32_t j0, uint32_t cnt, uint32_t d,
			       uint32_t c0, uint32_t c1, int64_t *acc,
			       uint32_t *idx)
{
	uint32_t j, m = 0;

	for (j = j0; j < j0 + cnt; j++) {
		int32_t p = w[j];

		if ((uint32_t)p - 1u < 32767u)
			idx[m++] = j;
		else if (p)
			spe_pv_row_wide(p, v + (size_t)j * d, c0, c1, acc);
	}
	return m;
}

/* ====================================================================== */
/* SSE4.1                                                                  */
/* ====================================================================== */

SPE_INLINE SPE_T_SSE41 __m128i spe_hsum4x4_sse(__m128i a, __m128i b,
						__m128i c, __m128i d)
{
	return _mm_hadd_epi32(_mm_hadd_epi32(a, b), _mm_hadd_epi32(c, d));
}

SPE_T_SSE41
static void spe_qk_scores_sse41(const int16_t *q, const int16_t *k,
				uint32_t n, uint32_t d, int64_t *acc)
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

SPE_T_SSE41
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

SPE_T_SSE41
static void spe_pv_accumulate_sse41(const int32_t *w, const int16_t *v,
				    uint32_t n, uint32_t d, int64_t *acc)
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
SPE_INLINE SPE_T_SSE41 __m128 spe_exp4_sse41(__m128 x)
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
SPE_INLINE SPE_T_SSE41 __m128 spe_i64x2_ps_sse41(__m128i v)
{
	const __m128d magic = _mm_set1_pd(6755399441055744.0);	/* 1.5 * 2^52 */
	__m128d dv = _mm_sub_pd(_mm_castsi128_pd(_mm_add_epi64(v,
					_mm_castpd_si128(magic))), magic);

	return _mm_cvtpd_ps(dv);
}

SPE_T_SSE41
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

SPE_T_SSE41
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
SPE_INLINE SPE_T_SSE41 __m128i spe_prob4_sse41(__m128 e, __m128 sum)
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

static void spe_prob_scalar(const float *e, uint32_t n, float sum,
			    int32_t *pq)
{
	uint32_t j;

	for (j = 0; j < n; j++) {
		float p = e[j] / sum;

		pq[j] = (int32_t)(p * 32768.0f + 0.5f);
	}
}

SPE_T_SSE41
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

static uint64_t spe_requant_row_scalar(const int64_t *acc, uint32_t d,
				       int shift, uint8_t *dst)
{
	return spe_kernels_generic.requant_row(acc, d, shift, dst);
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

/* ====================================================================== */
/* AVX2                                                                    */
/* ====================================================================== */

/* [sum a, sum b, sum c, sum d] of four vectors of 8 int32 (exact sums). */
SPE_INLINE SPE_T_AVX2 __m128i spe_hsum4x8_avx2(__m256i a, __m256i b,
						__m256i c, __m256i d)
{
	__m256i s = _mm256_hadd_epi32(_mm256_hadd_epi32(a, b),
				      _mm256_hadd_epi32(c, d));

	return _mm_add_epi32(_mm256_castsi256_si128(s),
			     _mm256_extracti128_si256(s, 1));
}

/* Four keys, q small: one pmaddwd per 16 elements. */
SPE_INLINE SPE_T_AVX2 void spe_qk4_small_avx2(const int16_t *q,
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
SPE_INLINE SPE_T_AVX2 void spe_qk4_lanes_avx2(const int16_t *q,
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
SPE_INLINE SPE_T_AVX2 void spe_qk2_split_avx2(const int16_t *qlo,
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

SPE_T_AVX2
static void spe_qk_scores_avx2(const int16_t *q, const int16_t *k,
			       uint32_t n, uint32_t d, int64_t *acc)
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
SPE_INLINE SPE_T_AVX2 void spe_pv_flush_avx2(__m256i lo, __m256i hi,
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

SPE_INLINE SPE_T_AVX2 void spe_pv_pass_avx2(const int32_t *w,
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

SPE_T_AVX2
static void spe_pv_accumulate_avx2(const int32_t *w, const int16_t *v,
				   uint32_t n, uint32_t d, int64_t *acc)
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
SPE_INLINE SPE_T_AVX2 __m256 spe_exp8_avx2(__m256 x)
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
SPE_INLINE SPE_T_AVX2 __m128 spe_i64x4_ps_avx2(__m256i v)
{
	const __m256d magic = _mm256_set1_pd(6755399441055744.0); /* 1.5 * 2^52 */
	__m256d dv = _mm256_sub_pd(_mm256_castsi256_pd(_mm256_add_epi64(v,
					_mm256_castpd_si256(magic))), magic);

	return _mm256_cvtpd_ps(dv);
}

SPE_T_AVX2
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

SPE_T_AVX2
static float spe_sum8_avx2(const float *e, uint32_t n)
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
SPE_T_AVX2
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

SPE_INLINE SPE_T_AVX2 __m256i spe_prob8_avx2(__m256 e, __m256 sum)
{
	__m256 p = _mm256_div_ps(e, sum);

	return _mm256_cvttps_epi32(_mm256_add_ps(
		_mm256_mul_ps(p, _mm256_set1_ps(32768.0f)), _mm256_set1_ps(0.5f)));
}

SPE_T_AVX2
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
SPE_INLINE SPE_T_AVX2 __m256i spe_requant4_avx2(__m256i a, __m256i round,
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

SPE_T_AVX2
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

/* ---- multi-row helpers (AVX2 and AVX-512) ---------------------------- */

#define SPE_QKR_ROWS	4	/* AVX-512: rows per block */
#define SPE_QKR_KEYS	32	/* keys per block; kmax2 granularity */

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

/* ||q||^2 ||k||^2 < 2^62 (with margin for the double product). */
static int spe_cs_small(uint64_t qn2, uint64_t kn2)
{
	return (double)qn2 * (double)kn2 < 4.6e18;	/* 2^62 = 4.61e18 */
}

/*
 * Everything qk_rows precomputes, one allocation: kt and kmax2 for the
 * keys; per query row its P words as is (qw), split (ql, qh) and ||q||^2.
 */
struct spe_qkr_prep {
	void *block;
	int32_t *kt, *qw, *ql, *qh;
	uint64_t *kmax2, *qn2;
	uint32_t np, P;
};

static int spe_qkr_prepare(const int16_t *q, uint32_t m, const int16_t *k,
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
 * AVX2 multi-row kernels: the transposed formulation of qk_rows /
 * pv_rows described with the AVX-512 ones below, two rows at a time
 * (sixteen ymm registers), pmaddwd + paddd (wrapping: exact when the final
 * sum fits, which the Cauchy-Schwarz test or the split guarantees).
 */
SPE_INLINE SPE_T_AVX2 void spe_qkr2_store(__m256i lo, __m256i hi, int split,
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
SPE_INLINE SPE_T_AVX2 void spe_qkr2_block(const int32_t *ql, const int32_t *qh,
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

SPE_T_AVX2
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
SPE_INLINE SPE_T_AVX2 void spe_pvr2_group(const int32_t *w2, uint32_t P2,
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

SPE_T_AVX2
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

/* ====================================================================== */
/* AVX-512 (F, BW, DQ, VL, VNNI): the host side of QEMU on recent CPUs      */
/* ====================================================================== */

/*
 * Sixteen vectors of 16 int32 to one: lane i = sum of the lanes of v[i].
 * Exact while every partial sum fits in int32 (the callers guarantee it).
 */
SPE_INLINE SPE_T_AVX512 __m512i spe_reduce16_avx512(const __m512i *v)
{
	__m512i t[8], u[4], x, y;
	int i;

	/* Per 128-bit chunk: [a0+a2, b0+b2, a1+a3, b1+b3]. */
	#pragma GCC unroll 16
	for (i = 0; i < 8; i++)
		t[i] = _mm512_add_epi32(_mm512_unpacklo_epi32(v[2 * i], v[2 * i + 1]),
					_mm512_unpackhi_epi32(v[2 * i], v[2 * i + 1]));
	/* Per chunk: the chunk's sums of four vectors, in order. */
	#pragma GCC unroll 16
	for (i = 0; i < 4; i++)
		u[i] = _mm512_add_epi32(_mm512_unpacklo_epi64(t[2 * i], t[2 * i + 1]),
					_mm512_unpackhi_epi64(t[2 * i], t[2 * i + 1]));
	/* Fold the four chunks: [P01, P23, Q01, Q23], then [P, Q, R, S]. */
	x = _mm512_add_epi32(_mm512_shuffle_i32x4(u[0], u[1], 0x88),
			     _mm512_shuffle_i32x4(u[0], u[1], 0xdd));
	y = _mm512_add_epi32(_mm512_shuffle_i32x4(u[2], u[3], 0x88),
			     _mm512_shuffle_i32x4(u[2], u[3], 0xdd));
	return _mm512_add_epi32(_mm512_shuffle_i32x4(x, y, 0x88),
				_mm512_shuffle_i32x4(x, y, 0xdd));
}

/*
 * Eight keys whose lane sums are exact in int32 (spe_q_lanes_ok): each
 * lane sum S = 65536 * (S >> 16) + (S & 0xffff), and the two halves of
 * sixteen lanes add up in int32 without overflow; the score is
 * 65536 * H + L in int64.
 */
SPE_INLINE SPE_T_AVX512 void spe_qk8_lanes_avx512(const int16_t *q,
						   const int16_t *k0,
						   uint32_t d, int64_t *acc)
{
	const __m512i lo16 = _mm512_set1_epi32(0xffff);
	__m512i a[8], v[16], s, l, h;
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
			a[i] = _mm512_dpwssd_epi32(a[i], qv,
				_mm512_loadu_si512((const void *)(k0 + (size_t)i * d + x)));
	}
#pragma GCC unroll 8
	for (i = 0; i < 8; i++) {
		v[i] = _mm512_and_si512(a[i], lo16);
		v[8 + i] = _mm512_srai_epi32(a[i], 16);
	}
	s = spe_reduce16_avx512(v);		/* [L0..L7, H0..H7] */
	l = _mm512_cvtepi32_epi64(_mm512_castsi512_si256(s));
	h = _mm512_cvtepi32_epi64(_mm512_extracti64x4_epi64(s, 1));
	_mm512_storeu_si512((void *)acc,
			    _mm512_add_epi64(_mm512_slli_epi64(h, 16), l));
}

/* Eight keys, split q: 256 * H + L over @len (<= 256) dimensions. */
SPE_INLINE SPE_T_AVX512 void spe_qk8_split_avx512(const int16_t *qlo,
						   const int16_t *qhi,
						   const int16_t *k0,
						   uint32_t d, uint32_t len,
						   int64_t *r)
{
	__m512i a[16], s, l, h;
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

			a[i] = _mm512_dpwssd_epi32(a[i], kv, lv);
			a[8 + i] = _mm512_dpwssd_epi32(a[8 + i], kv, hv);
		}
	}
	s = spe_reduce16_avx512(a);		/* [L0..L7, H0..H7] */
	l = _mm512_cvtepi32_epi64(_mm512_castsi512_si256(s));
	h = _mm512_cvtepi32_epi64(_mm512_extracti64x4_epi64(s, 1));
	_mm512_storeu_si512((void *)r,
			    _mm512_add_epi64(_mm512_slli_epi64(h, 8), l));
}

SPE_T_AVX512
static void spe_qk_scores_avx512(const int16_t *q, const int16_t *k,
				 uint32_t n, uint32_t d, int64_t *acc)
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
 * Flush one group of 32 columns: lo holds columns 0-3, 8-11, 16-19,
 * 24-27 and hi the others (unpack works within 128-bit chunks).
 */
SPE_INLINE SPE_T_AVX512 void spe_pv_flush_avx512(__m512i lo, __m512i hi,
						  int64_t *acc)
{
	/* Chunk c of lo/hi: columns 8c..8c+3 / 8c+4..8c+7. */
	const __m512i idx_a = _mm512_set_epi64(11, 10, 9, 8, 3, 2, 1, 0);
	const __m512i idx_b = _mm512_set_epi64(15, 14, 13, 12, 7, 6, 5, 4);
	__m512i l64a = _mm512_cvtepi32_epi64(_mm512_castsi512_si256(lo));
	__m512i l64b = _mm512_cvtepi32_epi64(_mm512_extracti64x4_epi64(lo, 1));
	__m512i h64a = _mm512_cvtepi32_epi64(_mm512_castsi512_si256(hi));
	__m512i h64b = _mm512_cvtepi32_epi64(_mm512_extracti64x4_epi64(hi, 1));
	/* l64a: cols 0-3, 8-11; h64a: 4-7, 12-15; l64b/h64b: +16. */
	__m512i c0 = _mm512_permutex2var_epi64(l64a, idx_a, h64a);
	__m512i c1 = _mm512_permutex2var_epi64(l64a, idx_b, h64a);
	__m512i c2 = _mm512_permutex2var_epi64(l64b, idx_a, h64b);
	__m512i c3 = _mm512_permutex2var_epi64(l64b, idx_b, h64b);

	_mm512_storeu_si512((void *)acc, _mm512_add_epi64(
		_mm512_loadu_si512((const void *)acc), c0));
	_mm512_storeu_si512((void *)(acc + 8), _mm512_add_epi64(
		_mm512_loadu_si512((const void *)(acc + 8)), c1));
	_mm512_storeu_si512((void *)(acc + 16), _mm512_add_epi64(
		_mm512_loadu_si512((const void *)(acc + 16)), c2));
	_mm512_storeu_si512((void *)(acc + 24), _mm512_add_epi64(
		_mm512_loadu_si512((const void *)(acc + 24)), c3));
}

/* spe_pv_compact() with vpcompressd, sixteen weights at a time. */
SPE_T_AVX512
static uint32_t spe_pv_compact_avx512(const int32_t *w, const int16_t *v,
				      uint32_t j0, uint32_t cnt, uint32_t d,
				      uint32_t c0, uint32_t c1, int64_t *acc,
				      uint32_t *idx, uint32_t *wc)
{
	const __m512i one = _mm512_set1_epi32(1);
	const __m512i lim = _mm512_set1_epi32(32766);
	const __m512i step = _mm512_set1_epi32(16);
	__m512i iv = _mm512_add_epi32(_mm512_set1_epi32((int32_t)j0),
		_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13,
				  14, 15));
	uint32_t j, m = 0;

	for (j = 0; j < cnt; j += 16) {
		__mmask16 in = (__mmask16)(cnt - j >= 16 ? 0xffff :
					   (1u << (cnt - j)) - 1);
		__m512i wv = _mm512_maskz_loadu_epi32(in, w + j0 + j);
		/* w - 1 <= 32766 unsigned: w in 1..32767. */
		__mmask16 ok = _mm512_mask_cmple_epu32_mask(in,
					_mm512_sub_epi32(wv, one), lim);
		__mmask16 wide = _mm512_mask_cmpneq_epi32_mask(in, wv,
					_mm512_setzero_si512()) & ~ok;

		/* Register compress + plain store (the memory form is slow
		 * on some cores); idx has room for the full vector. */
		_mm512_storeu_si512((void *)(idx + m),
				    _mm512_maskz_compress_epi32(ok, iv));
		_mm512_storeu_si512((void *)(wc + m),
				    _mm512_maskz_compress_epi32(ok, wv));
		m += (uint32_t)__builtin_popcount(ok);
		while (wide) {
			uint32_t b = (uint32_t)__builtin_ctz(wide), jj = j0 + j + b;

			spe_pv_row_wide(w[jj], v + (size_t)jj * d, c0, c1, acc);
			wide &= (__mmask16)(wide - 1);
		}
		iv = _mm512_add_epi32(iv, step);
	}
	return m;
}

/* Columns per pass: 128 = 8 accumulators of 16 int32. */
#define SPE_PV_AVX512_COLS	128

SPE_INLINE SPE_T_AVX512 void spe_pv_pass_avx512(const int32_t *w,
						 const int16_t *v, uint32_t n,
						 uint32_t d, uint32_t c0,
						 uint32_t ncol, int64_t *acc)
{
	uint32_t idx[SPE_PV_CHUNK + 16], wc[SPE_PV_CHUNK + 16];
	/* Two sets of accumulators: vpdpwssd's latency, not its rate. */
	__m512i a[SPE_PV_AVX512_COLS / 16], b[SPE_PV_AVX512_COLS / 16];
	uint32_t wsum = 0, j0, cnt, m, t, g;

#pragma GCC unroll 16
	for (g = 0; g < SPE_PV_AVX512_COLS / 16; g++) {
		a[g] = _mm512_setzero_si512();
		b[g] = _mm512_setzero_si512();
	}

	for (j0 = 0; j0 < n; j0 += cnt) {
		cnt = n - j0 < SPE_PV_CHUNK ? n - j0 : SPE_PV_CHUNK;
		m = spe_pv_compact_avx512(w, v, j0, cnt, d, c0, c0 + ncol,
					  acc, idx, wc);
		if (!m)
			continue;
		/* Pad to whole groups of four rows with weight-0 rows. */
		while (m % 4) {
			idx[m] = idx[0];
			wc[m++] = 0;
		}
		for (t = 0; t < m; t += 4) {
			const int16_t *v0 = v + (size_t)idx[t] * d + c0;
			const int16_t *v1 = v + (size_t)idx[t + 1] * d + c0;
			const int16_t *v2 = v + (size_t)idx[t + 2] * d + c0;
			const int16_t *v3 = v + (size_t)idx[t + 3] * d + c0;
			uint32_t ws = wc[t] + wc[t + 1] + wc[t + 2] + wc[t + 3];
			__m512i wa, wb;

			if (wsum + ws > SPE_PV_WSUM_MAX) {
#pragma GCC unroll 8
				for (g = 0; g < ncol / 32; g++) {
					spe_pv_flush_avx512(a[2 * g], a[2 * g + 1],
							    acc + c0 + 32 * g);
					spe_pv_flush_avx512(b[2 * g], b[2 * g + 1],
							    acc + c0 + 32 * g);
					a[2 * g] = a[2 * g + 1] = _mm512_setzero_si512();
					b[2 * g] = b[2 * g + 1] = _mm512_setzero_si512();
				}
				wsum = 0;
			}
			wsum += ws;
			wa = _mm512_set1_epi32((int32_t)(wc[t] | wc[t + 1] << 16));
			wb = _mm512_set1_epi32((int32_t)(wc[t + 2] | wc[t + 3] << 16));
#pragma GCC unroll 8
			for (g = 0; g < ncol / 32; g++) {
				__m512i x0 = _mm512_loadu_si512((const void *)(v0 + 32 * g));
				__m512i x1 = _mm512_loadu_si512((const void *)(v1 + 32 * g));
				__m512i x2 = _mm512_loadu_si512((const void *)(v2 + 32 * g));
				__m512i x3 = _mm512_loadu_si512((const void *)(v3 + 32 * g));

				a[2 * g] = _mm512_dpwssd_epi32(a[2 * g],
					_mm512_unpacklo_epi16(x0, x1), wa);
				a[2 * g + 1] = _mm512_dpwssd_epi32(a[2 * g + 1],
					_mm512_unpackhi_epi16(x0, x1), wa);
				b[2 * g] = _mm512_dpwssd_epi32(b[2 * g],
					_mm512_unpacklo_epi16(x2, x3), wb);
				b[2 * g + 1] = _mm512_dpwssd_epi32(b[2 * g + 1],
					_mm512_unpackhi_epi16(x2, x3), wb);
			}
		}
	}
#pragma GCC unroll 8
	for (g = 0; g < ncol / 32; g++) {
		spe_pv_flush_avx512(a[2 * g], a[2 * g + 1], acc + c0 + 32 * g);
		spe_pv_flush_avx512(b[2 * g], b[2 * g + 1], acc + c0 + 32 * g);
	}
}

/* spe_expf() on sixteen lanes, operation for operation. */
SPE_INLINE SPE_T_AVX512 __m512 spe_exp16_avx512(__m512 x)
{
	__mmask16 ok = _mm512_cmp_ps_mask(x, _mm512_set1_ps(SPE_K_EXPF_MIN),
					  _CMP_GE_OQ);
	__m512 t, fn, r, p, y, s;
	__m512i n;

	x = _mm512_min_ps(x, _mm512_set1_ps(SPE_K_EXPF_MAX));
	t = _mm512_mul_ps(x, _mm512_set1_ps(SPE_K_LOG2E));
	t = _mm512_mask_blend_ps(_mm512_cmp_ps_mask(t, _mm512_setzero_ps(),
						    _CMP_LT_OQ),
				 _mm512_add_ps(t, _mm512_set1_ps(0.5f)),
				 _mm512_sub_ps(t, _mm512_set1_ps(0.5f)));
	n = _mm512_cvttps_epi32(t);
	fn = _mm512_cvtepi32_ps(n);
	r = _mm512_sub_ps(x, _mm512_mul_ps(fn, _mm512_set1_ps(SPE_K_LN2_HI)));
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
	s = _mm512_castsi512_ps(_mm512_slli_epi32(
		_mm512_add_epi32(n, _mm512_set1_epi32(127)), 23));
	return _mm512_maskz_mov_ps(ok, _mm512_mul_ps(y, s));
}

SPE_T_AVX512
static void spe_exp_row_avx512(const int64_t *score, uint32_t n,
			       int64_t max, float scale, float *e)
{
	const __m512i mx = _mm512_set1_epi64(max);
	const __m512 sc = _mm512_set1_ps(scale);
	uint32_t j;

	/* vcvtqq2ps rounds int64 -> float once, like (float)int64. */
	for (j = 0; j + 16 <= n; j += 16) {
		__m256 x0 = _mm512_cvtepi64_ps(_mm512_sub_epi64(
			_mm512_loadu_si512((const void *)(score + j)), mx));
		__m256 x1 = _mm512_cvtepi64_ps(_mm512_sub_epi64(
			_mm512_loadu_si512((const void *)(score + j + 8)), mx));
		__m512 x = _mm512_insertf32x8(_mm512_castps256_ps512(x0), x1, 1);

		_mm512_storeu_ps(e + j, spe_exp16_avx512(_mm512_mul_ps(x, sc)));
	}
	if (j < n) {
		__mmask8 m0 = (__mmask8)(n - j >= 8 ? 0xff : (1u << (n - j)) - 1);
		__mmask8 m1 = (__mmask8)(n - j <= 8 ? 0 : (1u << (n - j - 8)) - 1);
		__mmask16 mm = (__mmask16)(m0 | (uint32_t)m1 << 8);
		__m256 x0 = _mm512_cvtepi64_ps(_mm512_sub_epi64(
			_mm512_maskz_loadu_epi64(m0, score + j), mx));
		__m256 x1 = _mm512_cvtepi64_ps(_mm512_sub_epi64(
			_mm512_maskz_loadu_epi64(m1, score + j + 8), mx));
		__m512 x = _mm512_insertf32x8(_mm512_castps256_ps512(x0), x1, 1);

		_mm512_mask_storeu_ps(e + j, mm,
				      spe_exp16_avx512(_mm512_mul_ps(x, sc)));
	}
}

SPE_T_AVX512
static int64_t spe_max_avx512(const int64_t *score, uint32_t n)
{
	__m512i m = _mm512_set1_epi64(score[0]);
	uint32_t j;

	for (j = 0; j + 8 <= n; j += 8)
		m = _mm512_max_epi64(m, _mm512_loadu_si512((const void *)(score + j)));
	if (j < n)
		m = _mm512_max_epi64(m, _mm512_mask_loadu_epi64(m,
			(__mmask8)((1u << (n - j)) - 1), score + j));
	return _mm512_reduce_max_epi64(m);
}

SPE_T_AVX512
static float spe_softmax_row_avx512(const int64_t *score, uint32_t n,
				    float scale, float *e, int32_t *pq)
{
	int64_t max = spe_max_avx512(score, n);
	const __m512 k32 = _mm512_set1_ps(32768.0f), half = _mm512_set1_ps(0.5f);
	__m512 sv;
	float sum;
	uint32_t j;

	spe_exp_row_avx512(score, n, max, scale, e);
	sum = spe_sum8_avx2(e, n);
	sv = _mm512_set1_ps(sum);
	for (j = 0; j + 16 <= n; j += 16) {
		__m512 p = _mm512_div_ps(_mm512_loadu_ps(e + j), sv);

		_mm512_storeu_si512((void *)(pq + j), _mm512_cvttps_epi32(
			_mm512_add_ps(_mm512_mul_ps(p, k32), half)));
	}
	if (j < n) {
		__mmask16 m = (__mmask16)((1u << (n - j)) - 1);
		__m512 p = _mm512_div_ps(_mm512_maskz_loadu_ps(m, e + j), sv);

		_mm512_mask_storeu_epi32(pq + j, m, _mm512_cvttps_epi32(
			_mm512_add_ps(_mm512_mul_ps(p, k32), half)));
	}
	return sum;
}

SPE_T_AVX512
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

/* ---- AVX-512 multi-row kernels --------------------------------------- */

/*
 * qk_rows turns the problem around: K is rewritten once per call as
 * words kt[p * np + j] = (k[j][2p], k[j][2p + 1]), so a vector holds one
 * dimension pair of 16 keys and each query row's pair is a broadcast: no
 * horizontal sums at all. A lane sums all of a key's products: exact in
 * int32 when sum |q| * max |k| < 2^31 (checked per row), else q is split
 * (256 * qh + ql, both sums exact for d <= 256).
 */

/* Store 16 lanes as int64 (split: 256 * hi + lo) at dst, @cnt of them. */
SPE_INLINE SPE_T_AVX512 void spe_qkr_store(__m512i lo, __m512i hi, int split,
					    int64_t *dst, uint32_t cnt)
{
	__m512i a = _mm512_cvtepi32_epi64(_mm512_castsi512_si256(lo));
	__m512i b = _mm512_cvtepi32_epi64(_mm512_extracti64x4_epi64(lo, 1));

	if (split) {
		a = _mm512_add_epi64(a, _mm512_slli_epi64(_mm512_cvtepi32_epi64(
			_mm512_castsi512_si256(hi)), 8));
		b = _mm512_add_epi64(b, _mm512_slli_epi64(_mm512_cvtepi32_epi64(
			_mm512_extracti64x4_epi64(hi, 1)), 8));
	}
	if (cnt >= 16) {
		_mm512_storeu_si512((void *)dst, a);
		_mm512_storeu_si512((void *)(dst + 8), b);
	} else {
		_mm512_mask_storeu_epi64(dst, (__mmask8)(cnt >= 8 ? 0xff :
					 (1u << cnt) - 1), a);
		if (cnt > 8)
			_mm512_mask_storeu_epi64(dst + 8,
				(__mmask8)((1u << (cnt - 8)) - 1), b);
	}
}

/*
 * @R rows x 32 keys from key @j: @ql (and with @split, @qh) hold each
 * row's P = d/2 words; results to acc[r * n + j ..], @cnt keys valid.
 */
SPE_INLINE SPE_T_AVX512 void spe_qkr_block(const int32_t *ql,
					    const int32_t *qh,
					    const int32_t *kt, uint32_t np,
					    uint32_t j, uint32_t P, int R,
					    int split, int64_t *const *dst,
					    uint32_t cnt)
{
	__m512i l[SPE_QKR_ROWS][2], h[SPE_QKR_ROWS][2];
	uint32_t p;
	int r;

#pragma GCC unroll 4
	for (r = 0; r < R; r++)
		l[r][0] = l[r][1] = h[r][0] = h[r][1] = _mm512_setzero_si512();
	for (p = 0; p < P; p++) {
		const int32_t *kp = kt + (size_t)p * np + j;
		__m512i k0 = _mm512_loadu_si512((const void *)kp);
		__m512i k1 = _mm512_loadu_si512((const void *)(kp + 16));

#pragma GCC unroll 4
		for (r = 0; r < R; r++) {
			__m512i wl = _mm512_set1_epi32(ql[(size_t)r * P + p]);

			l[r][0] = _mm512_dpwssd_epi32(l[r][0], k0, wl);
			l[r][1] = _mm512_dpwssd_epi32(l[r][1], k1, wl);
			if (split) {
				__m512i wh = _mm512_set1_epi32(qh[(size_t)r * P + p]);

				h[r][0] = _mm512_dpwssd_epi32(h[r][0], k0, wh);
				h[r][1] = _mm512_dpwssd_epi32(h[r][1], k1, wh);
			}
		}
	}
#pragma GCC unroll 4
	for (r = 0; r < R; r++) {
		spe_qkr_store(l[r][0], h[r][0], split, dst[r] + j,
			      cnt > 16 ? 16 : cnt);
		if (cnt > 16)
			spe_qkr_store(l[r][1], h[r][1], split, dst[r] + j + 16,
				      cnt - 16);
	}
}

SPE_T_AVX512
static void spe_qk_rows_avx512(const int16_t *q, uint32_t m, const int16_t *k,
			       uint32_t n, uint32_t d, int64_t *acc)
{
	struct spe_qkr_prep pp;
	uint32_t i, j, r;

	if (m < SPE_QKR_ROWS || d % 32 || d > 256 || n < 16 ||
	    !spe_qkr_prepare(q, m, k, n, d, &pp)) {
		for (i = 0; i < m; i++)
			spe_qk_scores_avx512(q + (size_t)i * d, k, n, d,
					     acc + (size_t)i * n);
		return;
	}
	/* Keys outer: a block of kt (P x 128 bytes) stays in L1 for all rows. */
	for (j = 0; j < n; j += SPE_QKR_KEYS) {
		uint64_t km = pp.kmax2[j / SPE_QKR_KEYS];
		uint32_t cnt = n - j < SPE_QKR_KEYS ? n - j : SPE_QKR_KEYS;

		for (i = 0; i < m; i += SPE_QKR_ROWS) {
			int R = m - i >= SPE_QKR_ROWS ? SPE_QKR_ROWS : 1;
			size_t o = (size_t)i * pp.P;
			int64_t *dst[SPE_QKR_ROWS];
			int split = 0;

			for (r = 0; r < (uint32_t)R; r++) {
				dst[r] = acc + (size_t)(i + r) * n;
				split |= !spe_cs_small(pp.qn2[i + r], km);
			}
			if (R == SPE_QKR_ROWS) {
				if (split)
					spe_qkr_block(pp.ql + o, pp.qh + o, pp.kt,
						      pp.np, j, pp.P, SPE_QKR_ROWS,
						      1, dst, cnt);
				else
					spe_qkr_block(pp.qw + o, pp.qh + o, pp.kt,
						      pp.np, j, pp.P, SPE_QKR_ROWS,
						      0, dst, cnt);
			} else {
				if (split)
					spe_qkr_block(pp.ql + o, pp.qh + o, pp.kt,
						      pp.np, j, pp.P, 1, 1, dst, cnt);
				else
					spe_qkr_block(pp.qw + o, pp.qh + o, pp.kt,
						      pp.np, j, pp.P, 1, 0, dst, cnt);
				i -= SPE_QKR_ROWS - 1;	/* one row done */
			}
		}
	}
	free(pp.block);
}

/*
 * pv_rows: a pair of value rows is interleaved once and serves every
 * weight row of the group, each with its broadcast pair of weights. A row
 * whose weights are all in 0..32767 and total at most 65536 keeps exact
 * int32 sums for the whole row; any other row goes through pv_accumulate.
 */
#define SPE_PVR_ROWS	4

SPE_INLINE SPE_T_AVX512 void spe_pvr_group(const int32_t *w2, uint32_t P2,
					    const int16_t *v, uint32_t n,
					    uint32_t d, int ncv, int R,
					    int64_t *const *dst)
{
	/* @ncv (d / 32: 1 or 2 vectors per value row) and @R are constants. */
	__m512i a[SPE_PVR_ROWS][4];
	uint32_t p;
	int r, t;

#pragma GCC unroll 4
	for (r = 0; r < R; r++)
		a[r][0] = a[r][1] = a[r][2] = a[r][3] = _mm512_setzero_si512();
	for (p = 0; p < P2; p++) {
		const int16_t *v0 = v + (size_t)2 * p * d;
		/* Odd n: the last pair's second row is its first again, with
		 * weight 0 in the pair word (no branch, no read past V). */
		const int16_t *v1 = v0 + (2 * p + 1 < n ? d : 0);
		__m512i u[4] = { _mm512_setzero_si512(), _mm512_setzero_si512(),
				 _mm512_setzero_si512(), _mm512_setzero_si512() };

#pragma GCC unroll 2
		for (t = 0; t < ncv; t++) {
			__m512i x0 = _mm512_loadu_si512((const void *)(v0 + 32 * t));
			__m512i x1 = _mm512_loadu_si512((const void *)(v1 + 32 * t));

			u[2 * t] = _mm512_unpacklo_epi16(x0, x1);
			u[2 * t + 1] = _mm512_unpackhi_epi16(x0, x1);
		}
#pragma GCC unroll 4
		for (r = 0; r < R; r++) {
			__m512i wv = _mm512_set1_epi32(w2[(size_t)r * P2 + p]);

#pragma GCC unroll 4
			for (t = 0; t < 2 * ncv; t++)
				a[r][t] = _mm512_dpwssd_epi32(a[r][t], u[t], wv);
		}
	}
#pragma GCC unroll 4
	for (r = 0; r < R; r++) {
		memset(dst[r], 0, d * sizeof(int64_t));
#pragma GCC unroll 2
		for (t = 0; t < ncv; t++)
			spe_pv_flush_avx512(a[r][2 * t], a[r][2 * t + 1],
					    dst[r] + 32 * t);
	}
}

/* Pack a row's weights as pairs; 0 if a weight or the total is out of range. */
SPE_T_AVX512
static int spe_pvr_pack(const int32_t *w, uint32_t n, int32_t *w2,
			uint32_t *nonzero)
{
	const __m512i lim = _mm512_set1_epi32(32767);
	__m512i tot = _mm512_setzero_si512();
	__mmask16 bad = 0;
	uint32_t j, nz = 0;

	for (j = 0; j < n; j += 32) {
		__mmask16 m0 = (__mmask16)(n - j >= 16 ? 0xffff : (1u << (n - j)) - 1);
		__mmask16 m1 = (__mmask16)(n - j >= 32 ? 0xffff : n - j <= 16 ? 0 :
					   (1u << (n - j - 16)) - 1);
		__m512i a = _mm512_maskz_loadu_epi32(m0, w + j);
		__m512i b = _mm512_maskz_loadu_epi32(m1, w + j + 16);

		bad |= _mm512_cmpgt_epu32_mask(a, lim) | _mm512_cmpgt_epu32_mask(b, lim);
		nz += (uint32_t)__builtin_popcount(
			_mm512_test_epi32_mask(a, a) |
			(uint32_t)_mm512_test_epi32_mask(b, b) << 16);
		tot = _mm512_add_epi32(tot, _mm512_add_epi32(a, b));
		/* 32 weights (in range) -> 32 int16 = 16 pair words. */
		_mm512_mask_storeu_epi32(w2 + j / 2,
			(__mmask16)(n - j >= 32 ? 0xffff : (1u << ((n - j + 1) / 2)) - 1),
			_mm512_inserti64x4(_mm512_castsi256_si512(_mm512_cvtepi32_epi16(a)),
					   _mm512_cvtepi32_epi16(b), 1));
	}
	if (nonzero)
		*nonzero = nz;
	return !bad && (uint32_t)_mm512_reduce_add_epi32(tot) <= SPE_PV_WSUM_MAX;
}

SPE_T_AVX512
static void spe_pv_accumulate_avx512(const int32_t *w, const int16_t *v,
				     uint32_t n, uint32_t d, int64_t *acc)
{
	uint32_t c0, nz;
	int32_t w2[SPE_PVR_DENSE_MAX / 2];

	if (d % 32) {
		spe_pv_accumulate_avx2(w, v, n, d, acc);
		return;
	}
	/*
	 * A mostly non-zero row goes straight through in value-row order
	 * (no index list); a sparse one (peaked softmax, pruned) compacts.
	 */
	if ((d == 64 || d == 32) && n >= 2 && n <= SPE_PVR_DENSE_MAX &&
	    spe_pvr_pack(w, n, w2, &nz) && 2 * nz >= n) {
		if (d == 64)
			spe_pvr_group(w2, (n + 1) / 2, v, n, 64, 2, 1, &acc);
		else
			spe_pvr_group(w2, (n + 1) / 2, v, n, 32, 1, 1, &acc);
		return;
	}
	memset(acc, 0, (size_t)d * sizeof(*acc));
	for (c0 = 0; c0 < d; c0 += SPE_PV_AVX512_COLS) {
		if (d - c0 == 64)
			spe_pv_pass_avx512(w, v, n, d, c0, 64, acc);
		else if (d - c0 >= SPE_PV_AVX512_COLS)
			spe_pv_pass_avx512(w, v, n, d, c0, SPE_PV_AVX512_COLS,
					   acc);
		else
			spe_pv_pass_avx512(w, v, n, d, c0, d - c0, acc);
	}
}

SPE_T_AVX512
static void spe_pv_rows_avx512(const int32_t *w, uint32_t m, const int16_t *v,
			       uint32_t n, uint32_t d, int64_t *acc)
{
	uint32_t P2 = (n + 1) / 2, i, g = 0;
	int32_t *w2;
	int64_t *dst[SPE_PVR_ROWS];

	if (m < 2 || (d != 32 && d != 64) || n < 2 ||
	    !(w2 = malloc((size_t)SPE_PVR_ROWS * (P2 + 16) * sizeof(int32_t)))) {
		for (i = 0; i < m; i++)
			spe_pv_accumulate_avx512(w + (size_t)i * n, v, n, d,
						 acc + (size_t)i * d);
		return;
	}
	for (i = 0; i < m; i++) {
		const int32_t *wr = w + (size_t)i * n;

		if (!spe_pvr_pack(wr, n, w2 + (size_t)g * P2, NULL)) {
			spe_pv_accumulate_avx512(wr, v, n, d, acc + (size_t)i * d);
			continue;
		}
		dst[g++] = acc + (size_t)i * d;
		if (g == SPE_PVR_ROWS) {
			if (d == 64)
				spe_pvr_group(w2, P2, v, n, 64, 2, SPE_PVR_ROWS, dst);
			else
				spe_pvr_group(w2, P2, v, n, 32, 1, SPE_PVR_ROWS, dst);
			g = 0;
		}
	}
	for (i = 0; i < g; i++) {
		if (d == 64)
			spe_pvr_group(w2 + (size_t)i * P2, P2, v, n, 64, 2, 1,
				      dst + i);
		else
			spe_pvr_group(w2 + (size_t)i * P2, P2, v, n, 32, 1, 1,
				      dst + i);
	}
	free(w2);
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

#endif /* x86 */
