// SPDX-License-Identifier: MIT
/*
 * SpAtten engine: the AVX-512 table's products with V (pv_accumulate) and
 * its multi-row kernels (qk_rows, pv_rows), compiled as
 * spe_kernels_avx512.c is (which has the table). Why each int32 shortcut
 * is exact: spe_kernels_x86.h.
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

/* Longest row pv_accumulate packs on the stack for its dense path. */
#define SPE_PVR_DENSE_MAX	2048

/* spe_pv_compact() with vpcompressd, sixteen weights at a time. */
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

SPE_INLINE void spe_pv_pass_avx512(const int32_t *w,
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

				a[2 * g] = spe_dpwssd(a[2 * g],
					_mm512_unpacklo_epi16(x0, x1), wa);
				a[2 * g + 1] = spe_dpwssd(a[2 * g + 1],
					_mm512_unpackhi_epi16(x0, x1), wa);
				b[2 * g] = spe_dpwssd(b[2 * g],
					_mm512_unpacklo_epi16(x2, x3), wb);
				b[2 * g + 1] = spe_dpwssd(b[2 * g + 1],
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

/* ---- AVX-512 multi-row kernels --------------------------------------- */

/*
 * qk_rows turns the problem around: K is rewritten as words
 * kt[p * 32 + j] = (k[j][2p], k[j][2p + 1]), 32 keys at a time, so a
 * vector holds one dimension pair of 16 keys and each query row's pair is
 * a broadcast: no horizontal sums at all. A lane sums all of a key's
 * products: exact in int32 when |q . k| < 2^31, which Cauchy-Schwarz
 * guarantees when ||q||^2 max ||k||^2 < 2^62 over the block's keys
 * (spe_cs_small); else q is split (256 * qh + ql, both sums exact for
 * d <= 256). Nothing is allocated: each block of 32 keys is transposed in
 * registers into a stack buffer as the keys loop reaches it, and the
 * query rows are read where they are.
 */

#define SPE_QKR_ROWS	8	/* rows per block (4 when split) */
/* Query rows whose ||q||^2 are kept at once (the keys are transposed once
 * per chunk). */
#define SPE_QKR_CHUNK	512

/* int16 pairs read as one int32 word. */
typedef int32_t spe_i32a __attribute__((may_alias, aligned(2)));

/* Store 16 lanes as int64 (split: 256 * hi + lo) at dst, @cnt of them. */
SPE_INLINE void spe_qkr_store(__m512i lo, __m512i hi, int split,
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

/* Sixteen vectors of sixteen dwords transposed in place. */
SPE_INLINE void spe_tr16_avx512(__m512i *r)
{
	__m512i t[16], u[16];
	int i, c;

#pragma GCC unroll 8
	for (i = 0; i < 8; i++) {
		t[2 * i] = _mm512_unpacklo_epi32(r[2 * i], r[2 * i + 1]);
		t[2 * i + 1] = _mm512_unpackhi_epi32(r[2 * i], r[2 * i + 1]);
	}
	/* u[4g + c], per 128-bit lane L: element 4L + c of rows 4g..4g+3. */
#pragma GCC unroll 4
	for (i = 0; i < 4; i++) {
		u[4 * i] = _mm512_unpacklo_epi64(t[4 * i], t[4 * i + 2]);
		u[4 * i + 1] = _mm512_unpackhi_epi64(t[4 * i], t[4 * i + 2]);
		u[4 * i + 2] = _mm512_unpacklo_epi64(t[4 * i + 1], t[4 * i + 3]);
		u[4 * i + 3] = _mm512_unpackhi_epi64(t[4 * i + 1], t[4 * i + 3]);
	}
#pragma GCC unroll 4
	for (c = 0; c < 4; c++) {
		__m512i x = _mm512_shuffle_i32x4(u[c], u[4 + c], 0x88);
		__m512i y = _mm512_shuffle_i32x4(u[c], u[4 + c], 0xdd);
		__m512i x2 = _mm512_shuffle_i32x4(u[8 + c], u[12 + c], 0x88);
		__m512i y2 = _mm512_shuffle_i32x4(u[8 + c], u[12 + c], 0xdd);

		r[c] = _mm512_shuffle_i32x4(x, x2, 0x88);
		r[8 + c] = _mm512_shuffle_i32x4(x, x2, 0xdd);
		r[4 + c] = _mm512_shuffle_i32x4(y, y2, 0x88);
		r[12 + c] = _mm512_shuffle_i32x4(y, y2, 0xdd);
	}
}

/*
 * Keys k[0..cnt) (cnt <= 32, rows of d int16, d % 32 == 0) as words
 * kt[p * 32 + j], zero for j >= cnt; returns max_j ||k_j||^2.
 */
static uint64_t spe_kt_block_avx512(const int16_t *k, uint32_t cnt,
				    uint32_t d, int32_t *kt)
{
	const __m512i lo16 = _mm512_set1_epi32(0xffff);
	__m512i kmax = _mm512_setzero_si512();
	uint32_t P = d / 2, h, p0;
	int i;

	for (h = 0; h < 2; h++) {
		/* ||k||^2 as 65536 * H + L: each pair's square sum (at most
		 * 2^31, exact as uint32) in halves, d / 2 <= 128 of them. */
		__m512i sl = _mm512_setzero_si512(), sh = sl, n0, n1;

		for (p0 = 0; p0 < P; p0 += 16) {
			__m512i r[16];

#pragma GCC unroll 16
			for (i = 0; i < 16; i++) {
				uint32_t j = 16 * h + (uint32_t)i;

				r[i] = j < cnt ? _mm512_loadu_si512((const void *)
					(k + (size_t)j * d + 2 * p0)) :
					_mm512_setzero_si512();
			}
			spe_tr16_avx512(r);
#pragma GCC unroll 16
			for (i = 0; i < 16; i++) {
				__m512i s = _mm512_madd_epi16(r[i], r[i]);

				_mm512_store_si512((void *)(kt + (size_t)(p0 + i) * 32 +
							    16 * h), r[i]);
				sl = _mm512_add_epi32(sl, _mm512_and_si512(s, lo16));
				sh = _mm512_add_epi32(sh, _mm512_srli_epi32(s, 16));
			}
		}
		n0 = _mm512_add_epi64(_mm512_cvtepu32_epi64(_mm512_castsi512_si256(sl)),
			_mm512_slli_epi64(_mm512_cvtepu32_epi64(
				_mm512_castsi512_si256(sh)), 16));
		n1 = _mm512_add_epi64(_mm512_cvtepu32_epi64(
				_mm512_extracti64x4_epi64(sl, 1)),
			_mm512_slli_epi64(_mm512_cvtepu32_epi64(
				_mm512_extracti64x4_epi64(sh, 1)), 16));
		kmax = _mm512_max_epu64(kmax, _mm512_max_epu64(n0, n1));
	}
	return _mm512_reduce_max_epu64(kmax);
}

/* ||q||^2 of @m rows of d (% 32 == 0) int16, exact. */
static void spe_qn2_avx512(const int16_t *q, uint32_t m, uint32_t d,
			   uint64_t *qn2)
{
	uint32_t i, x;

	for (i = 0; i < m; i++) {
		const int16_t *qr = q + (size_t)i * d;
		__m512i a = _mm512_setzero_si512();

		for (x = 0; x < d; x += 32) {
			__m512i v = _mm512_loadu_si512((const void *)(qr + x));
			__m512i s = _mm512_madd_epi16(v, v);

			/* Pair sums <= 2^31 as uint32, widened. */
			a = _mm512_add_epi64(a, _mm512_add_epi64(
				_mm512_cvtepu32_epi64(_mm512_castsi512_si256(s)),
				_mm512_cvtepu32_epi64(_mm512_extracti64x4_epi64(s, 1))));
		}
		qn2[i] = (uint64_t)_mm512_reduce_add_epi64(a);
	}
}

/* @R rows of d int16 split: ql = q & 0xff, qh = q >> 8 (q = 256 qh + ql). */
static void spe_qsplit_avx512(const int16_t *q, uint32_t R, uint32_t d,
			      int16_t *ql, int16_t *qh)
{
	const __m512i ff = _mm512_set1_epi16(0xff);
	uint32_t x;

	for (x = 0; x < R * d; x += 32) {
		__m512i v = _mm512_loadu_si512((const void *)(q + x));

		_mm512_storeu_si512((void *)(ql + x), _mm512_and_si512(v, ff));
		_mm512_storeu_si512((void *)(qh + x), _mm512_srai_epi16(v, 8));
	}
}

/*
 * @R rows x 32 keys of @kt (a block as spe_kt_block_avx512 writes it):
 * @ql (and with @split, @qh) hold each row's P = d/2 words; results to
 * dst[r][0..cnt).
 */
SPE_INLINE void spe_qkr_block(const int16_t *ql, const int16_t *qh,
			      const int32_t *kt, uint32_t P, int R,
			      int split, int64_t *const *dst,
			      uint32_t cnt)
{
	const spe_i32a *wl = (const spe_i32a *)(const void *)ql;
	const spe_i32a *wh = (const spe_i32a *)(const void *)qh;
	__m512i l[SPE_QKR_ROWS][2], h[SPE_QKR_ROWS][2];
	uint32_t p;
	int r;

#pragma GCC unroll 8
	for (r = 0; r < R; r++)
		l[r][0] = l[r][1] = h[r][0] = h[r][1] = _mm512_setzero_si512();
#pragma GCC unroll 1
	for (p = 0; p < P; p++) {
		const int32_t *kp = kt + (size_t)p * 32;
		__m512i k0 = _mm512_load_si512((const void *)kp);
		__m512i k1 = _mm512_load_si512((const void *)(kp + 16));

#pragma GCC unroll 8
		for (r = 0; r < R; r++) {
			__m512i vl = _mm512_set1_epi32(wl[(size_t)r * P + p]);

			l[r][0] = spe_dpwssd(l[r][0], k0, vl);
			l[r][1] = spe_dpwssd(l[r][1], k1, vl);
			if (split) {
				__m512i vh = _mm512_set1_epi32(wh[(size_t)r * P + p]);

				h[r][0] = spe_dpwssd(h[r][0], k0, vh);
				h[r][1] = spe_dpwssd(h[r][1], k1, vh);
			}
		}
	}
#pragma GCC unroll 8
	for (r = 0; r < R; r++) {
		spe_qkr_store(l[r][0], h[r][0], split, dst[r],
			      cnt > 16 ? 16 : cnt);
		if (cnt > 16)
			spe_qkr_store(l[r][1], h[r][1], split, dst[r] + 16,
				      cnt - 16);
	}
}

/* Rows q[0..R) (R = 1 or 4) against one block of keys. */
SPE_INLINE void spe_qkr_rows_block(const int16_t *q, int R,
				   const uint64_t *qn2, uint64_t km,
				   const int32_t *kt, uint32_t d,
				   int64_t *const *dst, uint32_t cnt)
{
	int16_t ql[4 * SPE_QK_BLOCK] __attribute__((aligned(64)));
	int16_t qh[4 * SPE_QK_BLOCK] __attribute__((aligned(64)));
	int split = 0, r;

	for (r = 0; r < R; r++)
		split |= !spe_cs_small(qn2[r], km);
	if (!split) {
		spe_qkr_block(q, q, kt, d / 2, R, 0, dst, cnt);
		return;
	}
	spe_qsplit_avx512(q, (uint32_t)R, d, ql, qh);
	spe_qkr_block(ql, qh, kt, d / 2, R, 1, dst, cnt);
}

/*
 * Eight rows x 32 keys, no split: sixteen accumulators. In asm under GCC:
 * the intrinsics version came out with register copies and spills.
 */
SPE_INLINE void spe_qkr_block8(const int16_t *q, const int32_t *kt,
			       uint32_t d, int64_t *const *dst, uint32_t cnt)
{
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
	__m512i out[16];
	const char *k = (const char *)kt;
	const char *q0 = (const char *)q;
	const char *q3 = q0 + (size_t)3 * d * 2, *q6 = q0 + (size_t)6 * d * 2;
	size_t st = (size_t)d * 2, np = d / 2;
	int r;

	__asm__ volatile(
		"vpxord %%zmm0, %%zmm0, %%zmm0\n\t"
		"vmovdqa64 %%zmm0, %%zmm1\n\t"
		"vmovdqa64 %%zmm0, %%zmm2\n\t"
		"vmovdqa64 %%zmm0, %%zmm3\n\t"
		"vmovdqa64 %%zmm0, %%zmm4\n\t"
		"vmovdqa64 %%zmm0, %%zmm5\n\t"
		"vmovdqa64 %%zmm0, %%zmm6\n\t"
		"vmovdqa64 %%zmm0, %%zmm7\n\t"
		"vmovdqa64 %%zmm0, %%zmm8\n\t"
		"vmovdqa64 %%zmm0, %%zmm9\n\t"
		"vmovdqa64 %%zmm0, %%zmm10\n\t"
		"vmovdqa64 %%zmm0, %%zmm11\n\t"
		"vmovdqa64 %%zmm0, %%zmm12\n\t"
		"vmovdqa64 %%zmm0, %%zmm13\n\t"
		"vmovdqa64 %%zmm0, %%zmm14\n\t"
		"vmovdqa64 %%zmm0, %%zmm15\n\t"
		"1:\n\t"
		"vmovdqa64 (%[k]), %%zmm16\n\t"
		"vmovdqa64 64(%[k]), %%zmm17\n\t"
		"vpbroadcastd (%[q0]), %%zmm18\n\t"
		"vpbroadcastd (%[q0],%[st],1), %%zmm19\n\t"
		"vpbroadcastd (%[q0],%[st],2), %%zmm20\n\t"
		"vpbroadcastd (%[q3]), %%zmm21\n\t"
		"vpdpwssd %%zmm18, %%zmm16, %%zmm0\n\t"
		"vpdpwssd %%zmm18, %%zmm17, %%zmm1\n\t"
		"vpdpwssd %%zmm19, %%zmm16, %%zmm2\n\t"
		"vpdpwssd %%zmm19, %%zmm17, %%zmm3\n\t"
		"vpbroadcastd (%[q0],%[st],4), %%zmm22\n\t"
		"vpbroadcastd (%[q3],%[st],2), %%zmm23\n\t"
		"vpbroadcastd (%[q6]), %%zmm24\n\t"
		"vpbroadcastd (%[q6],%[st],1), %%zmm25\n\t"
		"vpdpwssd %%zmm20, %%zmm16, %%zmm4\n\t"
		"vpdpwssd %%zmm20, %%zmm17, %%zmm5\n\t"
		"vpdpwssd %%zmm21, %%zmm16, %%zmm6\n\t"
		"vpdpwssd %%zmm21, %%zmm17, %%zmm7\n\t"
		"vpdpwssd %%zmm22, %%zmm16, %%zmm8\n\t"
		"vpdpwssd %%zmm22, %%zmm17, %%zmm9\n\t"
		"vpdpwssd %%zmm23, %%zmm16, %%zmm10\n\t"
		"vpdpwssd %%zmm23, %%zmm17, %%zmm11\n\t"
		"vpdpwssd %%zmm24, %%zmm16, %%zmm12\n\t"
		"vpdpwssd %%zmm24, %%zmm17, %%zmm13\n\t"
		"vpdpwssd %%zmm25, %%zmm16, %%zmm14\n\t"
		"vpdpwssd %%zmm25, %%zmm17, %%zmm15\n\t"
		"add $128, %[k]\n\t"
		"add $4, %[q0]\n\t"
		"add $4, %[q3]\n\t"
		"add $4, %[q6]\n\t"
		"dec %[np]\n\t"
		"jnz 1b\n\t"
		"vmovdqu64 %%zmm0, (%[out])\n\t"
		"vmovdqu64 %%zmm1, 64(%[out])\n\t"
		"vmovdqu64 %%zmm2, 128(%[out])\n\t"
		"vmovdqu64 %%zmm3, 192(%[out])\n\t"
		"vmovdqu64 %%zmm4, 256(%[out])\n\t"
		"vmovdqu64 %%zmm5, 320(%[out])\n\t"
		"vmovdqu64 %%zmm6, 384(%[out])\n\t"
		"vmovdqu64 %%zmm7, 448(%[out])\n\t"
		"vmovdqu64 %%zmm8, 512(%[out])\n\t"
		"vmovdqu64 %%zmm9, 576(%[out])\n\t"
		"vmovdqu64 %%zmm10, 640(%[out])\n\t"
		"vmovdqu64 %%zmm11, 704(%[out])\n\t"
		"vmovdqu64 %%zmm12, 768(%[out])\n\t"
		"vmovdqu64 %%zmm13, 832(%[out])\n\t"
		"vmovdqu64 %%zmm14, 896(%[out])\n\t"
		"vmovdqu64 %%zmm15, 960(%[out])\n\t"
		: [k] "+r"(k), [q0] "+r"(q0), [q3] "+r"(q3), [q6] "+r"(q6),
		  [np] "+r"(np)
		: [st] "r"(st), [out] "r"(out)
		: "memory", "cc", "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5",
		  "xmm6", "xmm7", "xmm8", "xmm9", "xmm10", "xmm11", "xmm12",
		  "xmm13", "xmm14", "xmm15", "xmm16", "xmm17", "xmm18", "xmm19",
		  "xmm20", "xmm21", "xmm22", "xmm23", "xmm24", "xmm25");
	for (r = 0; r < 8; r++) {
		spe_qkr_store(out[2 * r], out[2 * r], 0, dst[r],
			      cnt > 16 ? 16 : cnt);
		if (cnt > 16)
			spe_qkr_store(out[2 * r + 1], out[2 * r + 1], 0,
				      dst[r] + 16, cnt - 16);
	}
#else
	spe_qkr_block(q, q, kt, d / 2, 8, 0, dst, cnt);
#endif
}

SPE_INLINE void spe_qkr_rows4(const int16_t *q, const uint64_t *qn2,
			      uint64_t km, const int32_t *kt, uint32_t d,
			      int64_t *const *dst, uint32_t cnt)
{
	spe_qkr_rows_block(q, 4, qn2, km, kt, d, dst, cnt);
}

SPE_INLINE void spe_qkr_rows8(const int16_t *q, const uint64_t *qn2,
			      uint64_t km, const int32_t *kt, uint32_t d,
			      int64_t *const *dst, uint32_t cnt)
{
	int split = 0, r;

	for (r = 0; r < 8; r++)
		split |= !spe_cs_small(qn2[r], km);
	if (!split) {
		spe_qkr_block8(q, kt, d, dst, cnt);
		return;
	}
	/* Split blocks are four rows (sixteen accumulators). */
	spe_qkr_rows_block(q, 4, qn2, km, kt, d, dst, cnt);
	spe_qkr_rows_block(q + (size_t)4 * d, 4, qn2 + 4, km, kt, d, dst + 4,
			   cnt);
}

void spe_qk_rows_avx512(const int16_t *q, uint32_t m, const int16_t *k,
			uint32_t n, uint32_t d, int64_t *acc)
{
	int32_t kt[SPE_QK_BLOCK / 2 * SPE_QKR_KEYS] __attribute__((aligned(64)));
	uint64_t qn2[SPE_QKR_CHUNK];
	uint32_t i0, mc, i, j, r;

	if (m < 4 || d % 32 || d > SPE_QK_BLOCK || n < 16) {
		for (i = 0; i < m; i++)
			spe_qk_scores_avx512(q + (size_t)i * d, k, n, d,
					     acc + (size_t)i * n);
		return;
	}
	for (i0 = 0; i0 < m; i0 += mc) {
		const int16_t *qc = q + (size_t)i0 * d;

		mc = m - i0 < SPE_QKR_CHUNK ? m - i0 : SPE_QKR_CHUNK;
		spe_qn2_avx512(qc, mc, d, qn2);
		/* Keys outer: the block of kt (P x 128 bytes) stays in L1. */
		for (j = 0; j < n; j += SPE_QKR_KEYS) {
			uint32_t cnt = n - j < SPE_QKR_KEYS ? n - j : SPE_QKR_KEYS;
			uint64_t km = spe_kt_block_avx512(k + (size_t)j * d, cnt,
							  d, kt);
			int64_t *dst[SPE_QKR_ROWS];

			for (i = 0; i + 8 <= mc; i += 8) {
				for (r = 0; r < 8; r++)
					dst[r] = acc + (size_t)(i0 + i + r) * n + j;
				if (d == 64)
					spe_qkr_rows8(qc + (size_t)i * d, qn2 + i,
						      km, kt, 64, dst, cnt);
				else
					spe_qkr_rows8(qc + (size_t)i * d, qn2 + i,
						      km, kt, d, dst, cnt);
			}
			if (i + 4 <= mc) {
				for (r = 0; r < 4; r++)
					dst[r] = acc + (size_t)(i0 + i + r) * n + j;
				spe_qkr_rows4(qc + (size_t)i * d, qn2 + i, km, kt,
					      d, dst, cnt);
				i += 4;
			}
			for (; i < mc; i++) {
				dst[0] = acc + (size_t)(i0 + i) * n + j;
				spe_qkr_rows_block(qc + (size_t)i * d, 1, qn2 + i,
						   km, kt, d, dst, cnt);
			}
		}
	}
}

/*
 * pv_rows: a pair of value rows is interleaved once and serves every
 * weight row of the group, each with its broadcast pair of weights. A row
 * whose weights are all in 0..32767 and total at most 65536 keeps exact
 * int32 sums for the whole row; any other row goes through pv_accumulate.
 */
/* spe_pv_flush_avx512() into a row not yet written: stores, no adds. */
SPE_INLINE void spe_pv_store_avx512(__m512i lo, __m512i hi, int64_t *acc)
{
	const __m512i idx_a = _mm512_set_epi64(11, 10, 9, 8, 3, 2, 1, 0);
	const __m512i idx_b = _mm512_set_epi64(15, 14, 13, 12, 7, 6, 5, 4);
	__m512i l64a = _mm512_cvtepi32_epi64(_mm512_castsi512_si256(lo));
	__m512i l64b = _mm512_cvtepi32_epi64(_mm512_extracti64x4_epi64(lo, 1));
	__m512i h64a = _mm512_cvtepi32_epi64(_mm512_castsi512_si256(hi));
	__m512i h64b = _mm512_cvtepi32_epi64(_mm512_extracti64x4_epi64(hi, 1));

	_mm512_storeu_si512((void *)acc,
			    _mm512_permutex2var_epi64(l64a, idx_a, h64a));
	_mm512_storeu_si512((void *)(acc + 8),
			    _mm512_permutex2var_epi64(l64a, idx_b, h64a));
	_mm512_storeu_si512((void *)(acc + 16),
			    _mm512_permutex2var_epi64(l64b, idx_a, h64b));
	_mm512_storeu_si512((void *)(acc + 24),
			    _mm512_permutex2var_epi64(l64b, idx_b, h64b));
}

#define SPE_PVR_ROWS	4

SPE_INLINE void spe_pvr_group(const int32_t *w2, uint32_t P2,
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
				a[r][t] = spe_dpwssd(a[r][t], u[t], wv);
		}
	}
#pragma GCC unroll 4
	for (r = 0; r < R; r++) {
#pragma GCC unroll 2
		for (t = 0; t < ncv; t++)
			spe_pv_store_avx512(a[r][2 * t], a[r][2 * t + 1],
					    dst[r] + 32 * t);
	}
}

/* Pack a row's weights as pairs; 0 if a weight or the total is out of range. */
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

void spe_pv_accumulate_avx512(const int32_t *w, const int16_t *v,
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

void spe_pv_rows_avx512(const int32_t *w, uint32_t m, const int16_t *v,
			uint32_t n, uint32_t d, int64_t *acc)
{
	/* Pair words of SPE_PVR_ROWS rows: on the stack up to n = 1024. */
	int32_t w2s[SPE_PVR_ROWS * (512 + 16)];
	uint32_t P2 = (n + 1) / 2, i, g = 0;
	int32_t *w2 = w2s;
	int64_t *dst[SPE_PVR_ROWS];

	if (m < 2 || (d != 32 && d != 64) || n < 2 ||
	    (P2 > 512 && !(w2 = malloc((size_t)SPE_PVR_ROWS * (P2 + 16) *
				       sizeof(int32_t))))) {
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
	if (w2 != w2s)
		free(w2);
}

#if defined(__clang__)
#pragma clang attribute pop
#endif

#endif /* x86 */
