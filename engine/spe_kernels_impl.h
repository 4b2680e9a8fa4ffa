/* SPDX-License-Identifier: MIT */
/*
 * SpAtten engine: internals of the kernel implementations (spe_kernels_*.c)
 * and their tests. Not an API: spe_kernels.h is.
 */
#ifndef SPE_KERNELS_IMPL_H
#define SPE_KERNELS_IMPL_H

#include <float.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "spe_kernels.h"

#if !defined(FLT_EVAL_METHOD) || FLT_EVAL_METHOD != 0
#error "the SpAtten kernels need FLT_EVAL_METHOD == 0 (SSE2 math on x86)"
#endif

#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif

/* The constants of spe_expf() (docs/engine.md, section 5). */
#define SPE_K_EXPF_MIN	(-87.0f)
#define SPE_K_EXPF_MAX	88.0f
#define SPE_K_LOG2E	1.44269504088896341f	/* 0x3fb8aa3b */
#define SPE_K_LN2_HI	0.693359375f		/* 0x3f318000 */
#define SPE_K_LN2_LO	(-2.12194440e-4f)	/* 0xb95e8083 */
#define SPE_K_P0	1.9875691500e-4f	/* 0x39506967 */
#define SPE_K_P1	1.3981999507e-3f	/* 0x3ab743ce */
#define SPE_K_P2	8.3334519073e-3f	/* 0x3c088908 */
#define SPE_K_P3	4.1665795894e-2f	/* 0x3d2aa9c1 */
#define SPE_K_P4	1.6666665459e-1f	/* 0x3e2aaaaa */
#define SPE_K_P5	5.0000001201e-1f	/* 0x3f000000 */

/*
 * spe_expf() of spe_math.c, operation for operation (the SIMD versions
 * follow this sequence lane by lane). tests/kernels checks it against the
 * pinned hash of test_golden.c, so the two cannot drift apart.
 */
static inline float spe_kernels_expf(float x)
{
	float t, r, rr, p, y, s;
	uint32_t bits;
	int n;

	if (!(x >= SPE_K_EXPF_MIN))	/* also NaN */
		return 0.0f;
	if (x > SPE_K_EXPF_MAX)
		x = SPE_K_EXPF_MAX;

	t = x * SPE_K_LOG2E;
	n = (int)(t < 0.0f ? t - 0.5f : t + 0.5f);

	r = x - (float)n * SPE_K_LN2_HI;
	r = r - (float)n * SPE_K_LN2_LO;

	p = SPE_K_P0;
	p = p * r + SPE_K_P1;
	p = p * r + SPE_K_P2;
	p = p * r + SPE_K_P3;
	p = p * r + SPE_K_P4;
	p = p * r + SPE_K_P5;
	rr = r * r;
	y = p * rr;
	y = y + r;
	y = y + 1.0f;

	bits = (uint32_t)(n + 127) << 23;
	memcpy(&s, &bits, sizeof(s));
	return y * s;
}

/* spe_requantise() of spe_math.c: round half up, saturate to int16. */
static inline int16_t spe_kernels_requantise(int64_t acc, int shift)
{
	int64_t y;

	if (shift > 0) {
		y = acc + ((int64_t)1 << (shift - 1));
		/* Arithmetic shift without implementation-defined >>. */
		y = y < 0 ? ~(~y >> shift) : y >> shift;
	} else {
		if (acc > INT16_MAX)
			acc = INT16_MAX + 1;
		else if (acc < INT16_MIN)
			acc = INT16_MIN - 1;
		y = acc * ((int64_t)1 << -shift);
	}
	if (y > INT16_MAX)
		return INT16_MAX;
	if (y < INT16_MIN)
		return INT16_MIN;
	return (int16_t)y;
}

/*
 * qk_rows / pv_rows of a table whose only multi-row support is its
 * single-row kernel: row by row.
 */
#define SPE_KERNELS_ROWS_LOOP(suffix, qk, pv)				\
static void spe_qk_rows_##suffix(const int16_t *q, uint32_t m,		\
				 const int16_t *k, uint32_t n,		\
				 uint32_t d, int64_t *acc)		\
{									\
	uint32_t i;							\
									\
	for (i = 0; i < m; i++)						\
		qk(q + (size_t)i * d, k, n, d, acc + (size_t)i * n);	\
}									\
static void spe_pv_rows_##suffix(const int32_t *w, uint32_t m,		\
				 const int16_t *v, uint32_t n,		\
				 uint32_t d, int64_t *acc)		\
{									\
	uint32_t i;							\
									\
	for (i = 0; i < m; i++)						\
		pv(w + (size_t)i * n, v, n, d, acc + (size_t)i * d);	\
}

/*
 * The SIMD tables (spe_kernels_sse41.c, spe_kernels_avx2.c,
 * spe_kernels_avx512.c); each only where it was compiled.
 */
#if defined(__x86_64__) || defined(__i386__)
#define SPE_KERNELS_X86 1
extern const struct spe_kernels spe_kernels_sse41;
extern const struct spe_kernels spe_kernels_avx2;
extern const struct spe_kernels spe_kernels_avx512;
#endif

/* spe_kernels_generic.c: the portable unpack, for tables without one. */
void spe_unpack_generic(const uint8_t *src, uint32_t bits, int is_unsigned,
			size_t n, unsigned int shift, int16_t add,
			const int16_t *base, int16_t *dst);

/* spe_kernels_generic.c: the portable gathers, the SIMD tables' tails. */
void spe_qk_gather_generic(const int16_t *q, const int16_t *k,
			   const uint32_t *idx, uint32_t n, uint32_t d,
			   int64_t *acc);
void spe_pv_gather_generic(const int32_t *w, const int16_t *v,
			   const uint32_t *idx, uint32_t n, uint32_t d,
			   int64_t *acc);

/* spe_kernels_generic.c: packed keys' scores, the portable way. */
void spe_qk_packed_generic(const int16_t *q, const uint8_t *k,
			   const uint32_t *idx, uint32_t n, uint32_t bits,
			   uint32_t d, int64_t *acc);

/* spe_kernels_generic.c: the top-k passes, for tables without faster ones. */
uint32_t spe_topk_split_generic(const uint64_t *cur, uint32_t n,
				uint64_t pivot, uint64_t *gt, uint64_t *lt,
				uint32_t *n_lt);
uint32_t spe_topk_filter_generic(const uint64_t *key, uint32_t n,
				 uint64_t theta, uint32_t need_eq,
				 uint32_t *out);

/* spe_kernels_avx512_gather.c: qk_gather and pv_gather with AVX-512. */
#if defined(__x86_64__) || defined(__i386__)
void spe_qk_gather_avx512(const int16_t *q, const int16_t *k,
			  const uint32_t *idx, uint32_t n, uint32_t d,
			  int64_t *acc);
void spe_pv_gather_avx512(const int32_t *w, const int16_t *v,
			  const uint32_t *idx, uint32_t n, uint32_t d,
			  int64_t *acc);
#endif

/* spe_kernels_avx512_gather.c: the top-k passes (x86-64). */
#if defined(__x86_64__)
uint32_t spe_topk_split_avx512(const uint64_t *cur, uint32_t n,
			       uint64_t pivot, uint64_t *gt, uint64_t *lt,
			       uint32_t *n_lt);
uint32_t spe_topk_filter_avx512(const uint64_t *key, uint32_t n,
				uint64_t theta, uint32_t need_eq,
				uint32_t *out);
#define SPE_TOPK_SPLIT_AVX512	spe_topk_split_avx512
#define SPE_TOPK_FILTER_AVX512	spe_topk_filter_avx512
#else
#define SPE_TOPK_SPLIT_AVX512	spe_topk_split_generic
#define SPE_TOPK_FILTER_AVX512	spe_topk_filter_generic
#endif

/*
 * spe_kernels_avx512vbmi.c: unpack and qk_packed with AVX-512 VBMI; the
 * x86 tables' (spe_kernels.c) use them where the CPU can.
 */
#if defined(__x86_64__)
#define SPE_UNPACK_VBMI 1
/* The CPU has every extension spe_kernels_avx512vbmi.c is built for. */
int spe_kernels_have_vbmi(void);
void spe_unpack_avx512vbmi(const uint8_t *src, uint32_t bits,
			   int is_unsigned, size_t n, unsigned int shift,
			   int16_t add, const int16_t *base, int16_t *dst);
#define SPE_UNPACK_X86	spe_unpack_x86
#define SPE_QK_PACKED_X86	spe_qk_packed_x86
void spe_qk_packed_avx512vbmi(const int16_t *q, const uint8_t *k,
			      const uint32_t *idx, uint32_t n, uint32_t bits,
			      uint32_t d, int64_t *acc);
void spe_qk_packed_x86(const int16_t *q, const uint8_t *k,
		       const uint32_t *idx, uint32_t n, uint32_t bits,
		       uint32_t d, int64_t *acc);
void spe_unpack_x86(const uint8_t *src, uint32_t bits, int is_unsigned,
		    size_t n, unsigned int shift, int16_t add,
		    const int16_t *base, int16_t *dst);
#else
#define SPE_UNPACK_X86	spe_unpack_generic
#define SPE_QK_PACKED_X86	spe_qk_packed_generic
#endif

/* Every implementation this build has and this CPU can run, generic first. */
unsigned int spe_kernels_available(const struct spe_kernels **list,
				   unsigned int max);

/* The implementation called @name, if built and supported; else NULL. */
const struct spe_kernels *spe_kernels_by_name(const char *name);

#endif /* SPE_KERNELS_IMPL_H */
