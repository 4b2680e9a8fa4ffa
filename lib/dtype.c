// SPDX-License-Identifier: MIT
/*
 * libspatten: element types of host arrays: float32, IEEE binary16 (fp16)
 * and bfloat16, and the conversions between them.
 *
 * Integer bit manipulation only: no _Float16, no __bf16, no F16C, no libm,
 * no floating-point arithmetic (so no dependence on the rounding mode or on
 * flush-to-zero), no type punning through pointers (memcpy). fp16 and bf16
 * values are uint16_t in host byte order, as the compilers' _Float16 and
 * __bf16 arrays are.
 *
 * Narrowing rounds to nearest, ties to even, overflows to infinity, keeps
 * -0 and the sign of everything, rounds into the subnormals of the target
 * exactly. NaN stays NaN, made quiet, with its sign and the leading
 * payload bits the target has room for (docs: lib/README.md).
 */
#include <endian.h>
#include <errno.h>
#include <string.h>

#include "spatten_private.h"

#define F32_EXP_MASK	0x7f800000u
#define F32_QUIET	0x00400000u
#define F16_EXP_MASK	0x7c00u
#define F16_QUIET	0x0200u
#define BF16_QUIET	0x0040u

/* f16 exponent bias 15, float 127: 112 << 23 rebiases a shifted f16. */
#define F16_REBIAS	(112u << 23)

static uint32_t f32_bits(float f)
{
	uint32_t u;

	memcpy(&u, &f, sizeof(u));
	return u;
}

static float f32_from_bits(uint32_t u)
{
	float f;

	memcpy(&f, &u, sizeof(f));
	return f;
}

/*
 * fp16 -> float, exact, computed as the float's two 16-bit halves so that
 * the bulk loop below vectorizes with eight 16-bit lanes per SSE2 register
 * (and the scalar conversion is the same code).
 *
 * Normal, Inf, NaN (f16_hi(), f16_lo()): the float's bits are
 * (em << 13) + (112 << 23) for a normal em (exponent and mantissa: rebias
 * 15 -> 127), the high half (em >> 3) + 0x3800; Inf and NaN take another
 * 0x3800, which brings exponent 31 to 255; NaN gets the quiet bit (0x0040
 * of the high half), its other 9 payload bits landing at the top of
 * float's 22. The low half is em << 13 (mod 2^16) for all of these.
 *
 * Subnormal m * 2^-24 (m = em = 1..1023; f16_sub_hi(), f16_sub_lo()):
 * normalize m so that its leading one is bit 10, shifting left by
 * sh = 1..10 in four conditional steps of 8, 4, 2 and 1; then it is a
 * normal f16 of exponent field 1 - sh: high half (m >> 3) + ((112 - sh)
 * << 7), the one at m's bit 10 adding the 1. Zero (em = 0) is 0.
 * Selects only, no branches.
 */
static inline uint16_t f16_hi(uint16_t h)
{
	uint16_t em = h & 0x7fffu;
	uint16_t hi = (uint16_t)((em >> 3) + 0x3800u);

	hi = (uint16_t)(hi + (em >= F16_EXP_MASK ? 0x3800u : 0));
	hi = (uint16_t)(hi | (em > F16_EXP_MASK ? 0x0040u : 0));
	return (uint16_t)(hi | (h & 0x8000u));
}

static inline uint16_t f16_lo(uint16_t h)
{
	return (uint16_t)(h << 13);
}

static inline uint16_t f16_sub_norm(uint16_t em, uint16_t *sh)
{
	uint16_t m = em, s;

	s = m < 0x8u ? 8 : 0;
	m = m < 0x8u ? (uint16_t)(m << 8) : m;
	s = m < 0x80u ? (uint16_t)(s + 4) : s;
	m = m < 0x80u ? (uint16_t)(m << 4) : m;
	s = m < 0x200u ? (uint16_t)(s + 2) : s;
	m = m < 0x200u ? (uint16_t)(m << 2) : m;
	s = m < 0x400u ? (uint16_t)(s + 1) : s;
	m = m < 0x400u ? (uint16_t)(m << 1) : m;
	*sh = s;
	return m;
}

/* The halves of subnormal or zero @h, from f16_sub_norm()'s @m and @sh. */
static inline uint16_t f16_sub_hi(uint16_t h, uint16_t m, uint16_t sh)
{
	uint16_t hi = (uint16_t)((m >> 3) + ((112u - sh) << 7));

	hi = (h & 0x7fffu) == 0 ? 0 : hi;
	return (uint16_t)(hi | (h & 0x8000u));
}

static inline uint16_t f16_sub_lo(uint16_t m)
{
	return (uint16_t)(m << 13);	/* 0 for zero: m = 0 */
}

static inline int f16_is_sub(uint16_t h)
{
	return (h & 0x7fffu) < 0x400u;	/* subnormal or zero */
}

static inline uint32_t f16_bits_to_f32_bits(uint16_t h)
{
	if (f16_is_sub(h)) {
		uint16_t sh, m = f16_sub_norm(h & 0x7fffu, &sh);

		return (uint32_t)f16_sub_hi(h, m, sh) << 16 | f16_sub_lo(m);
	}
	return (uint32_t)f16_hi(h) << 16 | f16_lo(h);
}

/*
 * float bits -> fp16, rounded to nearest even.
 *
 * Normal results (|x| in [2^-14, 65520)): rebias, then add 0xfff plus the
 * lowest kept bit and drop 13 bits; the carry of a round-up runs into the
 * exponent. 65520 is 65504 (the largest fp16) plus half its ulp, the tie
 * rounds to the even 65536: infinity, as does everything above.
 * Subnormal results (|x| < 2^-14): the value in units of 2^-24, the
 * subnormal ulp, is m * 2^(e - 126) with the float's significand m
 * (24 bits, its hidden one included) and biased exponent e; shift right by
 * 126 - e and round on what falls off. At most 2^-25 (a tie with 0 at
 * exactly 2^-25) gives 0; float subnormals are far below. A round-up to
 * 0x400 is the smallest normal, which is correct as it stands.
 */
static inline uint16_t f32_bits_to_f16(uint32_t x)
{
	uint16_t sign = (uint16_t)((x >> 16) & 0x8000u);
	uint32_t a = x & 0x7fffffffu;

	if (a >= F32_EXP_MASK) {
		if (a == F32_EXP_MASK)
			return sign | F16_EXP_MASK;
		/* NaN: quiet, the leading 9 of float's 22 payload bits. */
		return sign | F16_EXP_MASK | F16_QUIET |
		       (uint16_t)((a >> 13) & 0x1ffu);
	}
	if (a >= 0x477ff000u)			/* >= 65520 */
		return sign | F16_EXP_MASK;
	if (a >= 0x38800000u) {			/* >= 2^-14: normal */
		a -= F16_REBIAS;
		return sign | (uint16_t)((a + 0xfffu + ((a >> 13) & 1)) >> 13);
	}
	if (a <= 0x33000000u)			/* <= 2^-25 */
		return sign;
	{
		uint32_t e = a >> 23;		/* 102..112 */
		uint32_t m = (a & 0x7fffffu) | 0x800000u;
		uint32_t shift = 126 - e;	/* 14..24 */
		uint32_t q = m >> shift;
		uint32_t rem = m & ((1u << shift) - 1);
		uint32_t half = 1u << (shift - 1);

		if (rem > half || (rem == half && (q & 1)))
			q++;
		return sign | (uint16_t)q;
	}
}

/*
 * float bits -> bf16: drop the low 16 bits rounding to nearest even. The
 * same carry trick works over the whole range: subnormals stay subnormal
 * (or round up into the normals), and values from the largest bf16 plus
 * half an ulp up carry into exponent 255 with a zero mantissa: infinity.
 * NaN: quiet, the leading 6 of float's 22 payload bits.
 */
static inline uint16_t f32_bits_to_bf16(uint32_t x)
{
	if ((x & 0x7fffffffu) > F32_EXP_MASK)
		return (uint16_t)((x >> 16) | BF16_QUIET);
	return (uint16_t)((x + 0x7fffu + ((x >> 16) & 1)) >> 16);
}

/* bf16 -> float bits: exact, a shift; NaN gets the quiet bit. */
static inline uint32_t bf16_bits_to_f32_bits(uint32_t b)
{
	uint32_t r = b << 16;

	return (b & 0x7fffu) > 0x7f80u ? r | F32_QUIET : r;
}

SPATTEN_API size_t spatten_dtype_size(enum spatten_dtype t)
{
	spatten__enter();
	switch (t) {
	case SPATTEN_DTYPE_F32:
		return 4;
	case SPATTEN_DTYPE_F16:
	case SPATTEN_DTYPE_BF16:
		return 2;
	}
	return 0;
}

SPATTEN_API float spatten_f16_to_float(uint16_t h)
{
	spatten__enter();
	return f32_from_bits(f16_bits_to_f32_bits(h));
}

SPATTEN_API uint16_t spatten_float_to_f16(float x)
{
	spatten__enter();
	return f32_bits_to_f16(f32_bits(x));
}

SPATTEN_API float spatten_bf16_to_float(uint16_t b)
{
	spatten__enter();
	return f32_from_bits(bf16_bits_to_f32_bits(b));
}

SPATTEN_API uint16_t spatten_float_to_bf16(float x)
{
	spatten__enter();
	return f32_bits_to_bf16(f32_bits(x));
}

/*
 * The widening loops work in blocks of a fixed 16 elements so that the
 * compiler vectorizes them at -O2 (GCC's default "very cheap" cost model
 * only vectorizes loops whose trip count is a known multiple of the vector
 * length). fp16: every element as a normal number first, then, only in
 * blocks that have one, the subnormals and zeros fixed up; each float is
 * stored as its two 16-bit halves, in the host's order (LO_HALF: index of
 * the low half). memcpy: the arrays need no alignment.
 */
#define BLOCK	16

#if __BYTE_ORDER == __BIG_ENDIAN
#define LO_HALF	1
#else
#define LO_HALF	0
#endif

static void f16_to_f32_array(float *dst, const void *src, size_t n)
{
	const unsigned char *s = src;
	unsigned char *d = (unsigned char *)dst;
	uint16_t in[BLOCK], hi[BLOCK], lo[BLOCK], out[2 * BLOCK];
	size_t i, j;

	for (i = 0; i + BLOCK <= n; i += BLOCK) {
		uint16_t any_sub = 0;

		memcpy(in, s + 2 * i, sizeof(in));
		for (j = 0; j < BLOCK; j++) {
			hi[j] = f16_hi(in[j]);
			lo[j] = f16_lo(in[j]);
			any_sub |= (uint16_t)f16_is_sub(in[j]);
		}
		if (any_sub) {
			for (j = 0; j < BLOCK; j++) {
				uint16_t h = in[j], sh;
				uint16_t m = f16_sub_norm(h & 0x7fffu, &sh);
				uint16_t shi = f16_sub_hi(h, m, sh);
				uint16_t slo = f16_sub_lo(m);

				hi[j] = f16_is_sub(h) ? shi : hi[j];
				lo[j] = f16_is_sub(h) ? slo : lo[j];
			}
		}
		for (j = 0; j < BLOCK; j++) {
			out[2 * j + LO_HALF] = lo[j];
			out[2 * j + 1 - LO_HALF] = hi[j];
		}
		memcpy(d + 4 * i, out, sizeof(out));
	}
	for (; i < n; i++) {
		uint16_t h;
		uint32_t u;

		memcpy(&h, s + 2 * i, 2);
		u = f16_bits_to_f32_bits(h);
		memcpy(d + 4 * i, &u, 4);
	}
}

static void bf16_to_f32_array(float *dst, const void *src, size_t n)
{
	const unsigned char *s = src;
	unsigned char *d = (unsigned char *)dst;
	uint16_t in[BLOCK];
	uint32_t out[BLOCK];
	size_t i, j;

	for (i = 0; i + BLOCK <= n; i += BLOCK) {
		memcpy(in, s + 2 * i, sizeof(in));
		for (j = 0; j < BLOCK; j++)
			out[j] = bf16_bits_to_f32_bits(in[j]);
		memcpy(d + 4 * i, out, sizeof(out));
	}
	for (; i < n; i++) {
		uint16_t b;
		uint32_t u;

		memcpy(&b, s + 2 * i, 2);
		u = bf16_bits_to_f32_bits(b);
		memcpy(d + 4 * i, &u, 4);
	}
}

static void f32_to_bf16_array(void *dst, const void *src, size_t n)
{
	const unsigned char *s = src;
	unsigned char *d = dst;
	uint32_t in[BLOCK];
	uint16_t out[BLOCK];
	size_t i, j;

	for (i = 0; i + BLOCK <= n; i += BLOCK) {
		memcpy(in, s + 4 * i, sizeof(in));
		for (j = 0; j < BLOCK; j++)
			out[j] = f32_bits_to_bf16(in[j]);
		memcpy(d + 2 * i, out, sizeof(out));
	}
	for (; i < n; i++) {
		uint32_t u;
		uint16_t b;

		memcpy(&u, s + 4 * i, 4);
		b = f32_bits_to_bf16(u);
		memcpy(d + 2 * i, &b, 2);
	}
}

/*
 * float bits -> fp16 as f32_bits_to_f16() but for a subnormal result,
 * with selects instead of branches, so that a block of them vectorizes:
 * the normal rounding computed for every lane (unsigned arithmetic, which
 * wraps harmlessly for the lanes that use another result), then
 * overflow, infinity, NaN and zero chosen over it; in 32-bit lanes, the
 * halves made at the end. *@sub gets a 1 for a subnormal result
 * (2^-25 < |x| < 2^-14), which this gets wrong (shifts by a count per
 * lane need more than SSE2). The magnitudes are below 2^31, so they
 * compare as signed integers too.
 */
static inline uint32_t f32_bits_to_f16_normal(uint32_t x, int32_t *sub)
{
	int32_t a = (int32_t)(x & 0x7fffffffu);
	uint32_t r = (uint32_t)a - F16_REBIAS;
	uint32_t nan = F16_EXP_MASK | F16_QUIET | ((uint32_t)a >> 13 & 0x1ffu);

	r = (r + 0xfffu + ((r >> 13) & 1)) >> 13;
	r = a >= 0x477ff000 ? F16_EXP_MASK : r;	/* >= 65520, infinity */
	r = a > (int32_t)F32_EXP_MASK ? nan : r;
	r = a <= 0x33000000 ? 0 : r;		/* <= 2^-25 */
	*sub |= (a > 0x33000000) & (a < 0x38800000);
	return ((x >> 16) & 0x8000u) | r;
}

/*
 * In blocks (as the widening loops above) of f32_bits_to_f16_normal(); a
 * block with a subnormal result is redone by f32_bits_to_f16().
 */
static void f32_to_f16_array(void *dst, const void *src, size_t n)
{
	const unsigned char *s = src;
	unsigned char *d = dst;
	uint32_t in[BLOCK], r[BLOCK];
	uint16_t out[BLOCK];
	size_t i, j;

	for (i = 0; i + BLOCK <= n; i += BLOCK) {
		int32_t sub = 0;

		memcpy(in, s + 4 * i, sizeof(in));
		for (j = 0; j < BLOCK; j++)
			r[j] = f32_bits_to_f16_normal(in[j], &sub);
		for (j = 0; j < BLOCK; j++)
			out[j] = (uint16_t)r[j];
		for (j = 0; sub && j < BLOCK; j++)
			out[j] = f32_bits_to_f16(in[j]);
		memcpy(d + 2 * i, out, sizeof(out));
	}
	for (; i < n; i++) {
		uint32_t u;
		uint16_t h;

		memcpy(&u, s + 4 * i, 4);
		h = f32_bits_to_f16(u);
		memcpy(d + 2 * i, &h, 2);
	}
}

/*
 * fp16 <-> bf16 through float: exact widening, then one rounding. Element
 * i is read before it is written, so @dst may be @src.
 */
static void f16_bf16_array(void *dst, enum spatten_dtype dst_type,
			   const void *src, size_t n)
{
	const unsigned char *s = src;
	unsigned char *d = dst;
	size_t i;

	for (i = 0; i < n; i++) {
		uint16_t h;

		memcpy(&h, s + 2 * i, 2);
		if (dst_type == SPATTEN_DTYPE_BF16)
			h = f32_bits_to_bf16(f16_bits_to_f32_bits(h));
		else
			h = f32_bits_to_f16(bf16_bits_to_f32_bits(h));
		memcpy(d + 2 * i, &h, 2);
	}
}

SPATTEN_API int spatten_convert(void *dst, enum spatten_dtype dst_type,
				const void *src, enum spatten_dtype src_type,
				size_t n)
{
	size_t dsz = spatten_dtype_size(dst_type);
	size_t ssz = spatten_dtype_size(src_type);

	spatten__enter();
	if (!dsz || !ssz || (n && (!dst || !src)))
		return -EINVAL;
	if (!n)
		return 0;
	if (dst_type == src_type) {
		if (dst != src)
			memmove(dst, src, n * dsz);
		return 0;
	}
	if (dst_type == SPATTEN_DTYPE_F32) {
		if (src_type == SPATTEN_DTYPE_F16)
			f16_to_f32_array(dst, src, n);
		else
			bf16_to_f32_array(dst, src, n);
	} else if (src_type == SPATTEN_DTYPE_F32) {
		if (dst_type == SPATTEN_DTYPE_F16)
			f32_to_f16_array(dst, src, n);
		else
			f32_to_bf16_array(dst, src, n);
	} else {
		f16_bf16_array(dst, dst_type, src, n);
	}
	return 0;
}

int spatten__load_f32(float *dst, const void *src, enum spatten_dtype t,
		      size_t n)
{
	return spatten_convert(dst, SPATTEN_DTYPE_F32, src, t, n);
}
