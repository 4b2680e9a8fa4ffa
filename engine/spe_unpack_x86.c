// SPDX-License-Identifier: MIT
/*
 * SpAtten engine: packed operand rows (S4..S12, the U4 LSB plane) to
 * int16 with AVX-512 VBMI, 32 elements a step, bit-identical to the
 * portable spe_kernels.unpack (tests/kernels compares every width, sign,
 * shift, offset and length).
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

#include "spe_kernels_impl.h"

#define SPE_T_VBMI	__attribute__((target( \
	"avx512f,avx512bw,avx512vl,avx512vbmi,bmi2")))

/* Word e of the permutation: bytes o and o + 1, o = e * bits / 8. */
SPE_T_VBMI static __m512i spe_unpack_perm(uint32_t bits)
{
	uint8_t idx[64] __attribute__((aligned(64)));
	uint32_t e;

	for (e = 0; e < 32; e++) {
		idx[2 * e] = (uint8_t)(e * bits / 8);
		idx[2 * e + 1] = (uint8_t)(e * bits / 8 + 1);
	}
	return _mm512_load_si512((const void *)idx);
}

/* Word e's left shift, 16 - bits - e * bits % 8. */
SPE_T_VBMI static __m512i spe_unpack_lshift(uint32_t bits)
{
	uint16_t sh[32] __attribute__((aligned(64)));
	uint32_t e;

	for (e = 0; e < 32; e++)
		sh[e] = (uint16_t)(16 - bits - e * bits % 8);
	return _mm512_load_si512((const void *)sh);
}

SPE_T_VBMI
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

/*
 * The unpack of the x86 tables: VBMI where the CPU has it (Ice Lake and
 * later, Zen 4), else the portable loop. A table's other kernels need
 * less (AVX-512 F/BW/DQ/VL/VNNI, AVX2), so the choice is made here, once.
 */
void spe_unpack_x86(const uint8_t *src, uint32_t bits, int is_unsigned,
		    size_t n, unsigned int shift, int16_t add,
		    const int16_t *base, int16_t *dst)
{
	static int vbmi = -1;
	int v = __atomic_load_n(&vbmi, __ATOMIC_RELAXED);

	if (v < 0) {
		__builtin_cpu_init();
		v = __builtin_cpu_supports("avx512vbmi") &&
		    __builtin_cpu_supports("avx512bw") &&
		    __builtin_cpu_supports("avx512vl") &&
		    __builtin_cpu_supports("bmi2");
		__atomic_store_n(&vbmi, v, __ATOMIC_RELAXED);
	}
	if (v)
		spe_unpack_avx512vbmi(src, bits, is_unsigned, n, shift, add,
				      base, dst);
	else
		spe_unpack_generic(src, bits, is_unsigned, n, shift, add,
				   base, dst);
}

#endif /* x86-64 */
