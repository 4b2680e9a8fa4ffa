// SPDX-License-Identifier: MIT
/*
 * SpAtten engine: the AVX-512 table's kernels over index lists. qk_gather
 * and pv_gather read the kept rows of a pruned job where they are,
 * through their index list, with no gathered copy; topk_split and
 * topk_filter run the top-k engine's passes eight keys a step.
 * Bit-identical to the portable kernels (tests/kernels), by the arguments
 * of spe_kernels_x86.h:
 *  - qk_gather: a vector of 32 dimensions per step, vpdpwssd into int32
 *    lanes (lane i: dimensions x with x % 32 / 2 == i). When every lane's
 *    sum of |q| is at most 65535 the lane sums are exact; each is split
 *    as 65536 * H + L and the halves of 16 lanes summed in int32 (they
 *    fit), the score rebuilt in int64. Otherwise q = 256 * qh + ql (ql
 *    0..255, qh -128..127), both sums exact over 256 dimensions; the
 *    score is 256 * H + L.
 *  - pv_gather: two value rows interleaved word by word, their weights a
 *    word pair, vpdpwssd: an int32 lane takes w_a * v_a + w_b * v_b. It
 *    stays exact while the weights summed into it total at most 65536
 *    (|v| <= 32768); it is flushed to int64 before. A weight outside
 *    0..32767 (2^15: a probability of exactly 1) goes through int64.
 *  - topk_split / topk_filter: the survivors of a comparison moved into
 *    place by vpcompressq (input order kept), their count a popcount: the
 *    sets, and so the pivots and cycles, of the portable loops.
 */
#if defined(__x86_64__) || defined(__i386__)

#include <immintrin.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* After the system headers: see spe_kernels_sse41.c. */
#if defined(__clang__)
#pragma clang attribute push(__attribute__((target( \
	"avx512f,avx512bw,avx512dq,avx512vl,avx512vnni,avx2,bmi2,popcnt"))), \
	apply_to = function)
#else
#pragma GCC target("avx512f,avx512bw,avx512dq,avx512vl,avx512vnni,avx2," \
		   "bmi2,popcnt")
#endif

#define SPE_KERNELS_X86_AVX512 1
#include "spe_kernels_x86.h"

/* Largest head_dim these kernels take in registers (8 rows x 8 vectors). */
#define SPE_GATHER_MAX_D	256

/*
 * Eight rows: score = 2^@hi_shift * H + L, H and L the int32 sums of
 * vpdpwssd with @qa (lane sums split at 16 bits) or of @qa = ql and
 * @qb = qh (@split).
 */
SPE_INLINE void spe_g_qk8(const __m512i *qa, const __m512i *qb,
			   const int16_t *const *row, uint32_t d, int split,
			   int64_t *acc)
{
	__m512i a[16];
	uint32_t x;
	int i;

#pragma GCC unroll 16
	for (i = 0; i < 16; i++)
		a[i] = _mm512_setzero_si512();
#pragma GCC unroll 8
	for (x = 0; x < d; x += 32) {
		__m512i va = qa[x / 32];
		__m512i vb = split ? qb[x / 32] : va;

#pragma GCC unroll 8
		for (i = 0; i < 8; i++) {
			__m512i kv = _mm512_loadu_si512((const void *)(row[i] +
								       x));

			a[i] = _mm512_dpwssd_epi32(a[i], kv, va);
			if (split)
				a[8 + i] = _mm512_dpwssd_epi32(a[8 + i], kv, vb);
		}
	}
	_mm512_storeu_si512((void *)acc, spe_scores8_avx512(a, split));
}

/*
 * Rows [j0, j0 + 8) of the list, the missing ones past @n repeating the
 * last row (their scores are not stored).
 */
SPE_INLINE void spe_g_rows8(const int16_t *k, const uint32_t *idx, uint32_t j0,
			uint32_t n, uint32_t d, const int16_t **row)
{
	uint32_t i;

	for (i = 0; i < 8; i++)
		row[i] = k + (size_t)idx[j0 + i < n ? j0 + i : n - 1] * d;
}

/* The rows in eights, with constant @d and @split at each call site. */
SPE_INLINE void spe_g_qk_all(const int16_t *qa, const int16_t *qb,
				      const int16_t *k, const uint32_t *idx,
				      uint32_t n, uint32_t d, int split,
				      int64_t *acc)
{
	__m512i va[SPE_GATHER_MAX_D / 32], vb[SPE_GATHER_MAX_D / 32];
	const int16_t *row[8];
	int64_t tail[8];
	uint32_t j, x;

	/* the query's vectors, loaded once */
	for (x = 0; x < d / 32; x++) {
		va[x] = _mm512_loadu_si512((const void *)(qa + 32 * x));
		vb[x] = split ? _mm512_loadu_si512((const void *)(qb + 32 * x)) :
				va[x];
	}
	for (j = 0; j + 8 <= n; j += 8) {
		uint32_t i;

		for (i = 0; i < 8; i++)
			row[i] = k + (size_t)idx[j + i] * d;
		spe_g_qk8(va, vb, row, d, split, acc + j);
	}
	if (j < n) {
		spe_g_rows8(k, idx, j, n, d, row);
		spe_g_qk8(va, vb, row, d, split, tail);
		memcpy(acc + j, tail, (n - j) * sizeof(*acc));
	}
}

void spe_qk_gather_avx512(const int16_t *q, const int16_t *k,
			  const uint32_t *idx, uint32_t n, uint32_t d,
			  int64_t *acc)
{
	int16_t qlo[SPE_GATHER_MAX_D] __attribute__((aligned(64)));
	int16_t qhi[SPE_GATHER_MAX_D] __attribute__((aligned(64)));

	if (d % 32 || d > SPE_GATHER_MAX_D) {
		spe_qk_gather_generic(q, k, idx, n, d, acc);
		return;
	}
	if (spe_q_lanes_ok(q, d, 32)) {
		if (d == 64)
			spe_g_qk_all(q, q, k, idx, n, 64, 0, acc);
		else if (d == 128)
			spe_g_qk_all(q, q, k, idx, n, 128, 0, acc);
		else
			spe_g_qk_all(q, q, k, idx, n, d, 0, acc);
		return;
	}
	spe_q_split(q, d, qlo, qhi);
	spe_g_qk_all(qlo, qhi, k, idx, n, d, 1, acc);
}

/* Value rows pv_gather pairs up at a time (a stack array of each). */
#define SPE_GATHER_CHUNK	256

/*
 * Rows [j0, j0 + cnt) with a weight in 1..32767: their addresses and
 * weights into @row and @wt; weight-0 rows are skipped, other weights go
 * through int64 at once. Returns the count.
 */
static uint32_t spe_g_compact(const int32_t *w, const int16_t *v,
			      const uint32_t *idx, uint32_t j0, uint32_t cnt,
			      uint32_t d, int64_t *acc, const int16_t **row,
			      int32_t *wt)
{
	uint32_t j, m = 0;

	for (j = j0; j < j0 + cnt; j++) {
		int32_t p = w[j];

		if ((uint32_t)p - 1u < 32767u) {
			row[m] = v + (size_t)idx[j] * d;
			wt[m++] = p;
		} else if (p) {
			spe_pv_row_wide(p, v + (size_t)idx[j] * d, 0, d, acc);
		}
	}
	return m;
}

/*
 * Value rows @ra and @rb (@nv vectors of 32 columns) interleaved word by
 * word into vpdpwssd with their weights' pair @wv: the int32 sums @lo
 * (columns 0-3, 8-11, ... of each vector) and @hi (the others).
 */
SPE_INLINE void spe_g_pv_pair(const int16_t *ra, const int16_t *rb,
			      __m512i wv, uint32_t nv, __m512i *lo,
			      __m512i *hi)
{
	uint32_t x;

#pragma GCC unroll 8
	for (x = 0; x < nv; x++) {
		__m512i a = _mm512_loadu_si512((const void *)(ra + 32 * x));
		__m512i b = _mm512_loadu_si512((const void *)(rb + 32 * x));

		lo[x] = _mm512_dpwssd_epi32(lo[x],
					    _mm512_unpacklo_epi16(a, b), wv);
		hi[x] = _mm512_dpwssd_epi32(hi[x],
					    _mm512_unpackhi_epi16(a, b), wv);
	}
}

/*
 * Every weight in 0..32767 and their total at most SPE_PV_WSUM_MAX (a
 * softmax row's are about 2^15): then int32 lanes hold every pair's
 * products to the end, unflushed.
 */
static int spe_g_pv_small(const int32_t *w, uint32_t n)
{
	uint64_t tot = 0;
	uint32_t j, bad = 0;

	for (j = 0; j < n; j++) {
		bad |= (uint32_t)w[j] > 32767u;
		tot += (uint32_t)w[j];
	}
	return !bad && tot <= SPE_PV_WSUM_MAX;
}

/* pv_gather of such weights: pairs straight from the list, no branches. */
SPE_INLINE void spe_g_pv_straight(const int32_t *w, const int16_t *v,
				  const uint32_t *idx, uint32_t n, uint32_t d,
				  int64_t *acc)
{
	__m512i lo[SPE_GATHER_MAX_D / 32], hi[SPE_GATHER_MAX_D / 32];
	uint32_t j, x, nv = d / 32;

	for (x = 0; x < nv; x++)
		lo[x] = hi[x] = _mm512_setzero_si512();
	for (j = 0; j < n; j += 2) {
		const int16_t *ra = v + (size_t)idx[j] * d;
		const int16_t *rb = j + 1 < n ? v + (size_t)idx[j + 1] * d : ra;
		uint32_t wb = j + 1 < n ? (uint32_t)w[j + 1] : 0;
		__m512i wv = _mm512_set1_epi32((int32_t)((uint32_t)w[j] |
						 wb << 16));

		spe_g_pv_pair(ra, rb, wv, nv, lo, hi);
	}
	memset(acc, 0, (size_t)d * sizeof(*acc));
	for (x = 0; x < nv; x++)
		spe_pv_flush_avx512(lo[x], hi[x], acc + 32 * x);
}

/*
 * Pairs of compacted rows into the int32 sums @lo, @hi (@nv vectors of
 * 32 columns, a constant at each call site), flushed into @acc whenever
 * the weights summed reach SPE_PV_WSUM_MAX.
 */
SPE_INLINE void spe_g_pv_pairs(const int16_t *const *row,
					const int32_t *wt, uint32_t m,
					uint32_t nv, __m512i *lo, __m512i *hi,
					uint32_t *wsum, int64_t *acc)
{
	uint32_t p, x;

	for (p = 0; p < m; p += 2) {
		const int16_t *ra = row[p], *rb = p + 1 < m ? row[p + 1] : ra;

		uint32_t wa = (uint32_t)wt[p], wb = p + 1 < m ? (uint32_t)wt[p + 1] : 0;
		__m512i wv = _mm512_set1_epi32((int32_t)(wa | wb << 16));

		if (*wsum + wa + wb > SPE_PV_WSUM_MAX) {
			for (x = 0; x < nv; x++) {
				spe_pv_flush_avx512(lo[x], hi[x], acc + 32 * x);
				lo[x] = hi[x] = _mm512_setzero_si512();
			}
			*wsum = 0;
		}
		*wsum += wa + wb;
		spe_g_pv_pair(ra, rb, wv, nv, lo, hi);
	}
}

void spe_pv_gather_avx512(const int32_t *w, const int16_t *v,
			  const uint32_t *idx, uint32_t n, uint32_t d,
			  int64_t *acc)
{
	__m512i lo[SPE_GATHER_MAX_D / 32], hi[SPE_GATHER_MAX_D / 32];
	const int16_t *row[SPE_GATHER_CHUNK];
	int32_t wt[SPE_GATHER_CHUNK];
	uint32_t nv = d / 32, x, wsum = 0, j0, m;

	if (d % 32 || d > SPE_GATHER_MAX_D) {
		spe_pv_gather_generic(w, v, idx, n, d, acc);
		return;
	}
	if (spe_g_pv_small(w, n)) {
		if (d == 64)
			spe_g_pv_straight(w, v, idx, n, 64, acc);
		else if (d == 128)
			spe_g_pv_straight(w, v, idx, n, 128, acc);
		else
			spe_g_pv_straight(w, v, idx, n, d, acc);
		return;
	}
	memset(acc, 0, (size_t)d * sizeof(*acc));
	for (x = 0; x < nv; x++)
		lo[x] = hi[x] = _mm512_setzero_si512();
	for (j0 = 0; j0 < n; j0 += SPE_GATHER_CHUNK) {
		m = spe_g_compact(w, v, idx, j0, n - j0 < SPE_GATHER_CHUNK ?
				  n - j0 : SPE_GATHER_CHUNK, d, acc, row, wt);
		if (nv == 2)
			spe_g_pv_pairs(row, wt, m, 2, lo, hi, &wsum, acc);
		else if (nv == 4)
			spe_g_pv_pairs(row, wt, m, 4, lo, hi, &wsum, acc);
		else
			spe_g_pv_pairs(row, wt, m, nv, lo, hi, &wsum, acc);
	}
	for (x = 0; x < nv; x++)
		spe_pv_flush_avx512(lo[x], hi[x], acc + 32 * x);
}

#if defined(__x86_64__)	/* 64-bit mask and bit instructions */

/* The lanes of the last, partial step. */
static __mmask8 spe_topk_lanes(uint32_t left)
{
	return (__mmask8)(left >= 8 ? 0xff : (1u << left) - 1);
}

uint32_t spe_topk_split_avx512(const uint64_t *cur, uint32_t n,
			       uint64_t pivot, uint64_t *gt, uint64_t *lt,
			       uint32_t *n_lt)
{
	const __m512i pv = _mm512_set1_epi64((long long)pivot);
	uint32_t g = 0, l = 0, i;

	for (i = 0; i < n; i += 8) {
		__mmask8 in = spe_topk_lanes(n - i);
		__m512i x = _mm512_maskz_loadu_epi64(in, cur + i);
		__mmask8 mg = _mm512_mask_cmpgt_epu64_mask(in, x, pv);
		__mmask8 ml = _mm512_mask_cmplt_epu64_mask(in, x, pv);

		/* whole vectors: the buffers have room (spe_kernels.h) */
		_mm512_storeu_si512((void *)(gt + g),
				    _mm512_maskz_compress_epi64(mg, x));
		_mm512_storeu_si512((void *)(lt + l),
				    _mm512_maskz_compress_epi64(ml, x));
		g += (uint32_t)_mm_popcnt_u32(mg);
		l += (uint32_t)_mm_popcnt_u32(ml);
	}
	*n_lt = l;
	return g;
}

uint32_t spe_topk_filter_avx512(const uint64_t *key, uint32_t n,
				uint64_t theta, uint32_t need_eq,
				uint32_t *out)
{
	const __m512i th = _mm512_set1_epi64((long long)theta);
	__m256i at = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
	const __m256i step = _mm256_set1_epi32(8);
	uint32_t m = 0, i;

	for (i = 0; i < n; i += 8) {
		__mmask8 in = spe_topk_lanes(n - i);
		__m512i x = _mm512_maskz_loadu_epi64(in, key + i);
		uint32_t keep = _mm512_mask_cmpgt_epu64_mask(in, x, th);
		uint32_t eq = _mm512_mask_cmpeq_epu64_mask(in, x, th);

		if (eq && need_eq) {
			uint32_t ne = (uint32_t)_mm_popcnt_u32(eq);

			/* the first need_eq equal keys of the step */
			if (ne > need_eq)
				eq = _pdep_u32((1u << need_eq) - 1, eq);
			keep |= eq;
			need_eq -= ne < need_eq ? ne : need_eq;
		}
		_mm256_storeu_si256((void *)(out + m),
				    _mm256_maskz_compress_epi32((__mmask8)keep,
								at));
		m += (uint32_t)_mm_popcnt_u32(keep);
		at = _mm256_add_epi32(at, step);
	}
	return m;
}

#endif /* x86-64 */

#if defined(__clang__)
#pragma clang attribute pop
#endif

#endif /* x86 */
