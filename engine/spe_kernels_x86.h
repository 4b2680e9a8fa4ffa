/* SPDX-License-Identifier: MIT */
/*
 * SpAtten engine: what the x86 kernel files share (spe_kernels_sse41.c,
 * spe_kernels_avx2.c, spe_kernels_avx512.c). Not an API: spe_kernels.h is.
 *
 * Each file includes its system headers, then turns its ISA on for the
 * rest of the file (#pragma GCC target; clang: #pragma clang attribute),
 * then includes this header, so these helpers are compiled for that ISA:
 * as baseline (legacy SSE) code called from AVX2 code, the scalar exp
 * tail cost the AVX2 table up to 30% on pruned jobs (the SSE/AVX
 * transition penalty). The files build with the baseline flags of any
 * x86 build (QEMU, the guest's qemu64 CPU, the host tests); spe_kernels.c
 * only calls a table when __builtin_cpu_supports() says the CPU has what
 * it needs. A file may call a less capable file's functions (declared at
 * the end): an AVX-512 CPU runs AVX2 code.
 *
 * Bit-exactness with spe_kernels_generic.c (tests/kernels checks it):
 *  - Integer sums may wrap in int32 lanes (pmaddwd / vpdpwssd / paddd are
 *    all modulo 2^32): a lane is exact whenever its true final value fits
 *    in int32, and each path proves that before using it.
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
#ifndef SPE_KERNELS_X86_H
#define SPE_KERNELS_X86_H

#include <stddef.h>
#include <stdint.h>

/* See spe_math.c: never fuse a multiply and an add in these files. */
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif

#include "spe_kernels.h"
#include "spe_kernels_impl.h"

#define SPE_INLINE	static inline __attribute__((always_inline))

/* Dimensions per qk block: 255 * 32768 * 256 < 2^31 (see above). */
#define SPE_QK_BLOCK	256
/* Rows compacted at a time by pv_accumulate. */
#define SPE_PV_CHUNK	256
/* Weight total an int32 prob x V accumulator can take exactly. */
#define SPE_PV_WSUM_MAX	65536
/* |int64 difference| below which the double trick is exact. */
#define SPE_EXP_DMAX	((int64_t)1 << 51)

/* ---- shared scalar helpers ------------------------------------------- */

static inline void spe_qk_scalar(const int16_t *q, const int16_t *k,
				 uint32_t n, uint32_t d, int64_t *acc)
{
	spe_kernels_generic.qk_scores(q, k, n, d, acc);
}

/* sum |q[x]| <= 65535: int32 sums are exact in any order. */
static inline int spe_q_small(const int16_t *q, uint32_t d)
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
static inline void spe_q_split(const int16_t *q, uint32_t len, int16_t *lo,
			       int16_t *hi)
{
	uint32_t x;

	for (x = 0; x < len; x++) {
		int32_t v = q[x];

		lo[x] = (int16_t)(v & 0xff);
		hi[x] = (int16_t)((v - (v & 0xff)) / 256);
	}
}

static inline void spe_exp_scalar(const int64_t *score, uint32_t n,
				  int64_t max, float scale, float *e)
{
	uint32_t j;

	for (j = 0; j < n; j++)
		e[j] = spe_kernels_expf((float)(score[j] - max) * scale);
}

/* Any weight outside 0..32767, or a shape the vectors do not cover. */
static inline void spe_pv_row_wide(int32_t w, const int16_t *v_row,
				   uint32_t c0, uint32_t c1, int64_t *acc)
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
static inline uint32_t spe_pv_compact(const int32_t *w, const int16_t *v,
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

static inline void spe_prob_scalar(const float *e, uint32_t n, float sum,
				   int32_t *pq)
{
	uint32_t j;

	for (j = 0; j < n; j++) {
		float p = e[j] / sum;

		pq[j] = (int32_t)(p * 32768.0f + 0.5f);
	}
}

static inline uint64_t spe_requant_row_scalar(const int64_t *acc,
					      uint32_t d, int shift,
					      uint8_t *dst)
{
	return spe_kernels_generic.requant_row(acc, d, shift, dst);
}

/* ---- multi-row helpers (AVX2 and AVX-512) ---------------------------- */

#define SPE_QKR_KEYS	32	/* keys per block; kmax2 granularity */

/* ||q||^2 ||k||^2 < 2^62 (with margin for the double product). */
static inline int spe_cs_small(uint64_t qn2, uint64_t kn2)
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

/*
 * ---- what one file calls in another -----------------------------------
 *
 * The fallbacks of a more capable file for the shapes its vectors do not
 * cover, and the AVX-512 table's sum8 (eight lanes: one ymm is the
 * natural fit): same contracts as the struct spe_kernels members. And
 * qk_rows' precomputation.
 */

/* spe_kernels_sse41.c */
void spe_qk_scores_sse41(const int16_t *q, const int16_t *k, uint32_t n,
			 uint32_t d, int64_t *acc);
void spe_pv_accumulate_sse41(const int32_t *w, const int16_t *v, uint32_t n,
			     uint32_t d, int64_t *acc);

/* spe_kernels_avx2.c */
void spe_qk_scores_avx2(const int16_t *q, const int16_t *k, uint32_t n,
			uint32_t d, int64_t *acc);
void spe_pv_accumulate_avx2(const int32_t *w, const int16_t *v, uint32_t n,
			    uint32_t d, int64_t *acc);
float spe_sum8_avx2(const float *e, uint32_t n);
/*
 * Fill @pp for rows q[0..m) against keys k[0..n) (d <= 256); 0 if out of
 * memory, else 1 and the caller frees pp->block. One copy, out of line, on
 * purpose: a static inline here, inlined into spe_qk_rows_avx512(), made
 * pruned BERT jobs up to 10% slower (engine-bench).
 */
int spe_qkr_prepare(const int16_t *q, uint32_t m, const int16_t *k,
		    uint32_t n, uint32_t d, struct spe_qkr_prep *pp);

/*
 * For the files compiled for AVX-512 (spe_kernels_avx512*.c), which
 * define SPE_KERNELS_X86_AVX512 first (clang's target pragma sets no
 * feature macro).
 */
#ifdef SPE_KERNELS_X86_AVX512
/*
 * Sixteen vectors of 16 int32 to one: lane i = sum of the lanes of v[i].
 * Exact while every partial sum fits in int32 (the callers guarantee it).
 */
SPE_INLINE __m512i spe_reduce16_avx512(const __m512i *v)
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
 * Flush one group of 32 columns: lo holds columns 0-3, 8-11, 16-19,
 * 24-27 and hi the others (unpack works within 128-bit chunks).
 */
SPE_INLINE void spe_pv_flush_avx512(__m512i lo, __m512i hi,
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
/*
 * vpdpwssd (acc += pairwise products of a and b, int32 lanes, wrapping).
 * GCC 12 surrounds the intrinsic with register copies (and spills) in the
 * multi-row loops; the asm form keeps the accumulator in place.
 */
#if defined(__GNUC__) && !defined(__clang__)
SPE_INLINE __m512i spe_dpwssd(__m512i acc, __m512i a, __m512i b)
{
	__asm__("vpdpwssd %2, %1, %0" : "+v"(acc) : "v"(a), "v"(b));
	return acc;
}
#else
#define spe_dpwssd	_mm512_dpwssd_epi32
#endif

/*
 * Eight int64 scores from the int32 lane sums of eight rows, a[i] for
 * row i. With @split, a[8 + i] are the high parts' sums and the score is
 * 256 * H + L; without, each (exact) lane sum is split here as
 * 65536 * (S >> 16) + (S & 0xffff), whose halves over sixteen lanes add
 * up in int32 without overflow. @a is overwritten.
 */
SPE_INLINE __m512i spe_scores8_avx512(__m512i *a, int split)
{
	const __m512i lo16 = _mm512_set1_epi32(0xffff);
	__m512i s, l, h;
	int i;

	if (!split) {
#pragma GCC unroll 8
		for (i = 0; i < 8; i++) {
			a[8 + i] = _mm512_srai_epi32(a[i], 16);
			a[i] = _mm512_and_si512(a[i], lo16);
		}
	}
	s = spe_reduce16_avx512(a);		/* [L0..L7, H0..H7] */
	l = _mm512_cvtepi32_epi64(_mm512_castsi512_si256(s));
	h = _mm512_cvtepi32_epi64(_mm512_extracti64x4_epi64(s, 1));
	return _mm512_add_epi64(_mm512_slli_epi64(h, split ? 8 : 16), l);
}

/* Shared by spe_kernels_avx512.c and spe_kernels_avx512_rows.c. */
void spe_qk_scores_avx512(const int16_t *q, const int16_t *k, uint32_t n,
			  uint32_t d, int64_t *acc);
void spe_pv_accumulate_avx512(const int32_t *w, const int16_t *v,
			      uint32_t n, uint32_t d, int64_t *acc);
void spe_qk_rows_avx512(const int16_t *q, uint32_t m, const int16_t *k,
			uint32_t n, uint32_t d, int64_t *acc);
void spe_pv_rows_avx512(const int32_t *w, uint32_t m, const int16_t *v,
			uint32_t n, uint32_t d, int64_t *acc);

#endif /* SPE_KERNELS_X86_AVX512 */

#endif /* SPE_KERNELS_X86_H */
