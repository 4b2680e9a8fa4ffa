// SPDX-License-Identifier: MIT
/*
 * SpAtten engine: the top-k engine's two passes (spe_topk.c) with
 * AVX-512: eight 64-bit keys a step, the survivors of a comparison moved
 * into place by vpcompressq, their count a popcount. The FIFOs keep input
 * order as compress does, so the sets, and with them the pivots and the
 * cycles, are those of the portable loops (tests/kernels, tests/host).
 */
#if defined(__x86_64__)

#include <immintrin.h>
#include <stdint.h>

#include "spe_kernels_impl.h"

#define SPE_T_TOPK	__attribute__((target( \
	"avx512f,avx512bw,avx512dq,avx512vl,bmi2,popcnt")))

/* The lanes of the last, partial step. */
SPE_T_TOPK static __mmask8 spe_topk_lanes(uint32_t left)
{
	return (__mmask8)(left >= 8 ? 0xff : (1u << left) - 1);
}

SPE_T_TOPK
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

SPE_T_TOPK
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
