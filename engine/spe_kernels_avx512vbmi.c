// SPDX-License-Identifier: MIT
/*
 * SpAtten engine: packed operand rows (S4..S12, the U4 LSB plane) with
 * AVX-512 VBMI, 32 elements a step: unpack to int16, and qk_packed's
 * scores straight from the packed rows; bit-identical to the portable
 * kernels (tests/kernels compares every width, sign, shift, offset and
 * length). The x86 tables call them through spe_kernels.c's dispatch,
 * which checks for VBMI (their other kernels need less).
 *
 * Every width the hardware has is even and at most 12 bits, so element e
 * (bits [e * b, e * b + b) of the stream) lies within the two bytes at
 * byte o = e * b / 8: its bit offset s = e * b % 8 is 0, 2, 4 or 6 and
 * s + b <= 16. One vpermb moves bytes o and o + 1 into word e; shifting
 * the word left by 16 - b - s puts the element's top bit at bit 15, and
 * an arithmetic (or, unsigned, logical) right shift by 16 - b extends it.
 * Thirty-two elements take 4 * b bytes, one masked load (never past the
 * operand: masked-off bytes do not fault).
 */
#if defined(__x86_64__)

#include <immintrin.h>
#include <stddef.h>
#include <stdint.h>

/* After the system headers: see spe_kernels_sse41.c. */
#if defined(__clang__)
#pragma clang attribute push(__attribute__((target( \
	"avx512f,avx512bw,avx512dq,avx512vl,avx512vnni,avx512vbmi,avx2," \
	"bmi2"))), apply_to = function)
#else
#pragma GCC target("avx512f,avx512bw,avx512dq,avx512vl,avx512vnni," \
		   "avx512vbmi,avx2,bmi2")
#endif

#define SPE_KERNELS_X86_AVX512 1
#include "spe_kernels_x86.h"

/*
 * Per width 4, 6, 8, 10, 12 (index bits / 2 - 2): word e of the
 * permutation takes bytes o and o + 1, o = e * bits / 8; its left shift
 * is 16 - bits - e * bits % 8. Tables, not loops: a value-pruned
 * generation step unpacks a few rows per call.
 */
static const uint8_t spe_unpack_perm_tab[5][64] __attribute__((aligned(64))) = {
	{
		0, 1, 0, 1, 1, 2, 1, 2, 2, 3, 2, 3, 3, 4, 3, 4,
		4, 5, 4, 5, 5, 6, 5, 6, 6, 7, 6, 7, 7, 8, 7, 8,
		8, 9, 8, 9, 9, 10, 9, 10, 10, 11, 10, 11, 11, 12, 11, 12,
		12, 13, 12, 13, 13, 14, 13, 14, 14, 15, 14, 15, 15, 16, 15, 16,
	},
	{
		0, 1, 0, 1, 1, 2, 2, 3, 3, 4, 3, 4, 4, 5, 5, 6,
		6, 7, 6, 7, 7, 8, 8, 9, 9, 10, 9, 10, 10, 11, 11, 12,
		12, 13, 12, 13, 13, 14, 14, 15, 15, 16, 15, 16, 16, 17, 17, 18,
		18, 19, 18, 19, 19, 20, 20, 21, 21, 22, 21, 22, 22, 23, 23, 24,
	},
	{
		0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8,
		8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13, 14, 14, 15, 15, 16,
		16, 17, 17, 18, 18, 19, 19, 20, 20, 21, 21, 22, 22, 23, 23, 24,
		24, 25, 25, 26, 26, 27, 27, 28, 28, 29, 29, 30, 30, 31, 31, 32,
	},
	{
		0, 1, 1, 2, 2, 3, 3, 4, 5, 6, 6, 7, 7, 8, 8, 9,
		10, 11, 11, 12, 12, 13, 13, 14, 15, 16, 16, 17, 17, 18, 18, 19,
		20, 21, 21, 22, 22, 23, 23, 24, 25, 26, 26, 27, 27, 28, 28, 29,
		30, 31, 31, 32, 32, 33, 33, 34, 35, 36, 36, 37, 37, 38, 38, 39,
	},
	{
		0, 1, 1, 2, 3, 4, 4, 5, 6, 7, 7, 8, 9, 10, 10, 11,
		12, 13, 13, 14, 15, 16, 16, 17, 18, 19, 19, 20, 21, 22, 22, 23,
		24, 25, 25, 26, 27, 28, 28, 29, 30, 31, 31, 32, 33, 34, 34, 35,
		36, 37, 37, 38, 39, 40, 40, 41, 42, 43, 43, 44, 45, 46, 46, 47,
	},
};

static const uint16_t spe_unpack_lsh_tab[5][32] __attribute__((aligned(64))) = {
	{
		12, 8, 12, 8, 12, 8, 12, 8, 12, 8, 12, 8, 12, 8, 12, 8,
		12, 8, 12, 8, 12, 8, 12, 8, 12, 8, 12, 8, 12, 8, 12, 8,
	},
	{
		10, 4, 6, 8, 10, 4, 6, 8, 10, 4, 6, 8, 10, 4, 6, 8,
		10, 4, 6, 8, 10, 4, 6, 8, 10, 4, 6, 8, 10, 4, 6, 8,
	},
	{
		8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8,
		8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8,
	},
	{
		6, 4, 2, 0, 6, 4, 2, 0, 6, 4, 2, 0, 6, 4, 2, 0,
		6, 4, 2, 0, 6, 4, 2, 0, 6, 4, 2, 0, 6, 4, 2, 0,
	},
	{
		4, 0, 4, 0, 4, 0, 4, 0, 4, 0, 4, 0, 4, 0, 4, 0,
		4, 0, 4, 0, 4, 0, 4, 0, 4, 0, 4, 0, 4, 0, 4, 0,
	},
};

static __m512i spe_unpack_perm(uint32_t bits)
{
	return _mm512_load_si512((const void *)spe_unpack_perm_tab[bits / 2 - 2]);
}

static __m512i spe_unpack_lshift(uint32_t bits)
{
	return _mm512_load_si512((const void *)spe_unpack_lsh_tab[bits / 2 - 2]);
}

void spe_unpack_avx512vbmi(const uint8_t *src, uint32_t bits,
			   int is_unsigned, size_t n, unsigned int shift,
			   int16_t add, const int16_t *base, int16_t *dst)
{
	const __m512i perm = spe_unpack_perm(bits);
	const __m512i lsh = spe_unpack_lshift(bits);
	const __m512i addv = _mm512_set1_epi16(add);
	const __m128i rsh = _mm_cvtsi32_si128((int)(16 - bits));
	const __m128i ush = _mm_cvtsi32_si128((int)shift);
	size_t step = 4 * (size_t)bits, e;

	for (e = 0; e < n; e += 32) {
		size_t left = n - e < 32 ? n - e : 32;
		/* n * bits is whole bytes, so is every step's share */
		__mmask64 in = _bzhi_u64(~0ull, (unsigned int)(left * bits / 8));
		__mmask32 out = _bzhi_u32(~0u, (unsigned int)left);
		__m512i w = _mm512_maskz_loadu_epi8(in, src);

		w = _mm512_permutexvar_epi8(perm, w);
		w = _mm512_sllv_epi16(w, lsh);
		w = is_unsigned ? _mm512_srl_epi16(w, rsh) :
				  _mm512_sra_epi16(w, rsh);
		w = _mm512_add_epi16(_mm512_sll_epi16(w, ush), addv);
		if (base)
			w = _mm512_add_epi16(w, _mm512_maskz_loadu_epi16(out,
								base + e));
		_mm512_mask_storeu_epi16(dst + e, out, w);
		src += step;
	}
}

/* Thirty-two elements of @bits bits at @src to int16 lanes (signed). */
SPE_INLINE __m512i
spe_unpack32(const uint8_t *src, __mmask64 in, __m512i perm, __m512i lsh,
	     __m128i rsh)
{
	__m512i w = _mm512_maskz_loadu_epi8(in, src);

	w = _mm512_permutexvar_epi8(perm, w);
	return _mm512_sra_epi16(_mm512_sllv_epi16(w, lsh), rsh);
}

/* Eight rows' scores: @row[i] packed rows of @bits (a constant). */
SPE_INLINE void spe_qkp8(const __m512i *qv, const uint8_t *const *row,
			 uint32_t bits, uint32_t d, __m512i perm, __m512i lsh,
			 __m128i rsh, __mmask64 in, int64_t *acc)
{
	size_t step = 4 * (size_t)bits;
	__m512i a[16];
	uint32_t i, x;

#pragma GCC unroll 8
	for (i = 0; i < 8; i++)
		a[i] = _mm512_setzero_si512();
#pragma GCC unroll 8
	for (x = 0; x < d / 32; x++) {
#pragma GCC unroll 8
		for (i = 0; i < 8; i++) {
			const uint8_t *p = row[i] + x * step;
			__m512i kv = bits == 8 ?
				_mm512_cvtepi8_epi16(_mm256_loadu_si256(
					(const void *)p)) :
				spe_unpack32(p, in, perm, lsh, rsh);

			a[i] = _mm512_dpwssd_epi32(a[i], qv[x], kv);
		}
	}
	_mm512_storeu_si512((void *)acc, spe_scores8_avx512(a, 0));
}

/*
 * qk_packed, eight rows at a time, unpacked in registers and multiplied
 * with vpdpwssd. Exact: an element has at most 12 bits (|x| <= 2^11), so
 * an int32 lane, which sums the products of d / 16 <= 16 dimensions,
 * stays below 2^30; each lane sum is split as 65536 * H + L, the halves
 * of 16 lanes added in int32 (they fit) and the score rebuilt in int64.
 * The last rows past @n repeat the last; their scores are not stored.
 * @bits and @d are constants at every call site: 8-bit rows
 * sign-extend as they load.
 */
SPE_INLINE void spe_qkp_rows(const int16_t *q, const uint8_t *k,
			     const uint32_t *idx, uint32_t n, uint32_t bits,
			     uint32_t d, int64_t *acc)
{
	const __m512i perm = spe_unpack_perm(bits);
	const __m512i lsh = spe_unpack_lshift(bits);
	const __m128i rsh = _mm_cvtsi32_si128((int)(16 - bits));
	const __mmask64 in = _bzhi_u64(~0ull, 4 * bits);
	size_t row_bytes = (size_t)d * bits / 8;
	__m512i qv[256 / 32];
	const uint8_t *row[8];
	int64_t tail[8];
	uint32_t j, i;

	for (i = 0; i < d / 32; i++)
		qv[i] = _mm512_loadu_si512((const void *)(q + 32 * i));
	for (j = 0; j + 8 <= n; j += 8) {
		for (i = 0; i < 8; i++)
			row[i] = k + (size_t)(idx ? idx[j + i] : j + i) *
				     row_bytes;
		spe_qkp8(qv, row, bits, d, perm, lsh, rsh, in, acc + j);
	}
	if (j < n) {
		for (i = 0; i < 8; i++) {
			uint32_t r = j + i < n ? j + i : n - 1;

			row[i] = k + (size_t)(idx ? idx[r] : r) * row_bytes;
		}
		spe_qkp8(qv, row, bits, d, perm, lsh, rsh, in, tail);
		for (i = 0; j + i < n; i++)
			acc[j + i] = tail[i];
	}
}

/* The widths, and the usual head dimensions, as constants. */
#define SPE_QKP_D(bits)							\
	do {								\
		if (d == 64)						\
			spe_qkp_rows(q, k, idx, n, bits, 64, acc);	\
		else if (d == 128)					\
			spe_qkp_rows(q, k, idx, n, bits, 128, acc);	\
		else							\
			spe_qkp_rows(q, k, idx, n, bits, d, acc);	\
	} while (0)

void spe_qk_packed_avx512vbmi(const int16_t *q, const uint8_t *k,
			      const uint32_t *idx, uint32_t n, uint32_t bits,
			      uint32_t d, int64_t *acc)
{
	if (d % 32 || d > 256) {
		spe_qk_packed_generic(q, k, idx, n, bits, d, acc);
		return;
	}
	switch (bits) {
	case 4:
		SPE_QKP_D(4);
		break;
	case 6:
		SPE_QKP_D(6);
		break;
	case 8:
		SPE_QKP_D(8);
		break;
	case 10:
		SPE_QKP_D(10);
		break;
	default:
		SPE_QKP_D(12);
		break;
	}
}

#if defined(__clang__)
#pragma clang attribute pop
#endif

#endif /* x86-64 */
