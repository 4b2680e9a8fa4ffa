// SPDX-License-Identifier: MIT
/*
 * libspatten: float <-> fixed point: S16, bit-packed Sn, and the MSB/LSB
 * planes of progressive keys.
 *
 * No libm: rounding is done by hand so static guest binaries need nothing
 * beyond libc.
 */
#include <endian.h>
#include <errno.h>
#include <string.h>

#include "spatten_private.h"

#define S16_MIN		(-32768)
#define S16_MAX		32767

static unsigned int clamp_frac(unsigned int frac)
{
	return frac > SPATTEN_S16_MAX_FRAC ? SPATTEN_S16_MAX_FRAC : frac;
}

/*
 * The arrays are converted in blocks of a fixed 16 elements copied to and
 * from local arrays (memcpy: no alignment asked of the caller), so that
 * GCC vectorizes the loops at -O2 with SSE2: its default "very cheap"
 * cost model only vectorizes loops whose trip count is a known multiple
 * of the vector length and that need no run-time alias checks (as in
 * dtype.c).
 */
#define BLOCK		16
#define ALWAYS_INLINE	inline __attribute__((always_inline))
/* Blocks between two flushes of the per-lane saturation counts. */
#define SAT_FLUSH	(1u << 20)

/*
 * One call's constants: the scale 2^frac, the format's range [lo, hi] and
 * the saturation bounds lo - 0.5 and hi + 0.5, all exact in float.
 */
struct fx {
	float scale, lo, hi, sat_lo, sat_hi;
};

static ALWAYS_INLINE struct fx fx_init(unsigned int frac, unsigned int bits)
{
	int32_t max = (int32_t)(1u << (bits - 1)) - 1;
	struct fx p;

	p.scale = (float)(1u << clamp_frac(frac));
	p.hi = (float)max;
	p.lo = (float)(-max - 1);
	p.sat_hi = p.hi + 0.5f;
	p.sat_lo = p.lo - 0.5f;
	return p;
}

static ALWAYS_INLINE uint32_t f32_bits(float f)
{
	uint32_t u;

	memcpy(&u, &f, sizeof(u));
	return u;
}

static ALWAYS_INLINE float f32_of(uint32_t u)
{
	float f;

	memcpy(&f, &u, sizeof(f));
	return f;
}

/*
 * @c ? @a : @b on the bits: GCC keeps a float ?: a branch under
 * -ftrapping-math (the default), and a branch keeps a loop from being
 * vectorized; this is an AND and an OR of a mask.
 */
static ALWAYS_INLINE float fsel(int c, float a, float b)
{
	uint32_t m = -(uint32_t)c;

	return f32_of((f32_bits(a) & m) | (f32_bits(b) & ~m));
}

/*
 * x * 2^frac rounded to the nearest integer, halfway cases away from
 * zero, saturated to [lo, hi]; NaN becomes 0. *@sat is 1 when the value
 * saturated: when it rounds outside the range, s >= hi + 0.5 or
 * s <= lo - 0.5.
 *
 * Exact, with no branch, in float: s = x * 2^frac is exact (a power of
 * two; an overflow to infinity saturates as the exact product would).
 * Clamping s to [lo, hi] first changes no result (a value in (hi, hi + 0.5)
 * rounds to hi anyway) and makes the conversion to int defined. The
 * rounding splits c into its truncation t and r = c - t, exact for
 * |c| < 2^24, and moves t away from zero when |r| >= 0.5: adding 0.5
 * before truncating would round in float (0.5 - 2^-25 + 0.5 is 1).
 */
static ALWAYS_INLINE int32_t fx_one(float x, const struct fx *p, int *sat)
{
	float s = x * p->scale;
	float c = fsel(s == s, s, 0.0f);
	float r;
	int32_t t;

	c = fsel(c < p->lo, p->lo, c);
	c = fsel(c > p->hi, p->hi, c);
	t = (int32_t)c;
	r = c - (float)t;
	*sat = (s >= p->sat_hi) | (s <= p->sat_lo);
	return t + (r >= 0.5f) - (r <= -0.5f);
}

/* A block of fx_one(): the values at @v, each lane's saturations added. */
static ALWAYS_INLINE void fx_block(int32_t *v, int32_t *sat, const float *x,
				   const struct fx *p)
{
	unsigned int j;
	int s;

	for (j = 0; j < BLOCK; j++) {
		v[j] = fx_one(x[j], p, &s);
		sat[j] += s;
	}
}

/* The lanes' saturation counts, taken (and cleared). */
static ALWAYS_INLINE long sat_take(int32_t *sat)
{
	long sum = 0;
	unsigned int j;

	for (j = 0; j < BLOCK; j++) {
		sum += sat[j];
		sat[j] = 0;
	}
	return sum;
}

/* A block of values as little-endian int16 at @b. */
static ALWAYS_INLINE void put_s16(unsigned char *b, const int32_t *v)
{
	uint16_t le[BLOCK];
	unsigned int j;

	for (j = 0; j < BLOCK; j++)
		le[j] = htole16((uint16_t)v[j]);
	memcpy(b, le, sizeof(le));
}

/* S8: one byte a value. */
static ALWAYS_INLINE void put_bytes(unsigned char *b, const int32_t *v)
{
	unsigned int j;

	for (j = 0; j < BLOCK; j++)
		b[j] = (unsigned char)v[j];
}

/*
 * Little-endian bit stream of n-bit fields: field e in bits [e*n, e*n+n).
 * Four fields make n / 2 whole bytes (n is even), so a block is packed as
 * four groups of four, each a 64-bit word stored whole at @b + g * n / 2:
 * its upper bytes are zeros that the next group overwrites, and @b has 8
 * bytes of slack past the block's 2 * n. @bits is a constant in each of
 * fx_pack()'s specialisations, so these are shifts and ORs.
 */
static ALWAYS_INLINE void put_fields(unsigned char *b, const int32_t *v,
				     unsigned int bits)
{
	uint64_t mask = (1u << bits) - 1, w;
	unsigned int g;

	for (g = 0; g < BLOCK / 4; g++) {
		const int32_t *f = v + 4 * g;

		w = ((uint32_t)f[0] & mask) |
		    ((uint32_t)f[1] & mask) << bits |
		    ((uint32_t)f[2] & mask) << 2 * bits |
		    ((uint32_t)f[3] & mask) << 3 * bits;
		w = htole64(w);
		memcpy(b + g * bits / 2, &w, sizeof(w));
	}
}

/* A block of @bits-bit values at @b (2 * bits bytes, 8 more of slack). */
static ALWAYS_INLINE void put_block(unsigned char *b, const int32_t *v,
				    unsigned int bits)
{
	if (bits == 16)
		put_s16(b, v);
	else if (bits == 8)
		put_bytes(b, v);
	else
		put_fields(b, v, bits);
}

/*
 * The first @m values of a block stored: as @bits-bit fields at @d, or
 * with @split as the MSB/LSB planes: raw >> 4 in @bits bits at @d (an
 * arithmetic shift; of a field's bits a logical shift gives the same)
 * and raw & 15 at @lsb. @m is BLOCK but for a call's last block, so the
 * copies are mostly of a constant size.
 */
static ALWAYS_INLINE void put_first(unsigned char *d, unsigned char *lsb,
				    const int32_t *v, unsigned int bits,
				    int split, size_t m)
{
	unsigned char b[2 * BLOCK + 8];
	int32_t hi[BLOCK];
	unsigned int j;

	if (!split) {
		put_block(b, v, bits);
		memcpy(d, b, m * bits / 8);
		return;
	}
	for (j = 0; j < BLOCK; j++)
		hi[j] = (int32_t)((uint32_t)v[j] >> SPATTEN_LSB_BITS);
	put_block(b, hi, bits);
	memcpy(d, b, m * bits / 8);
	put_fields(b, v, SPATTEN_LSB_BITS);
	memcpy(lsb, b, m / 2);
}

/*
 * @n floats to @bits-bit fixed point at @d (with @split: bits + 4 bits,
 * split into @d and @lsb); returns how many saturated. The whole blocks,
 * then the last few padded with zeros, which convert to 0 without
 * saturating, only their own bytes stored (@n * bits is whole bytes, so
 * are theirs). Called with constant @bits and @split.
 */
static ALWAYS_INLINE long fx_pack(unsigned char *d, unsigned char *lsb,
				  const float *src, size_t n,
				  unsigned int frac, unsigned int bits,
				  int split)
{
	struct fx p = fx_init(frac, split ? bits + SPATTEN_LSB_BITS : bits);
	int32_t v[BLOCK], sat[BLOCK] = { 0 };
	long saturated = 0;
	float x[BLOCK];
	size_t i;

	for (i = 0; i + BLOCK <= n; i += BLOCK) {
		memcpy(x, src + i, sizeof(x));
		fx_block(v, sat, x, &p);
		put_first(d + i * bits / 8, split ? lsb + i / 2 : NULL, v,
			  bits, split, BLOCK);
		if (i / BLOCK % SAT_FLUSH == SAT_FLUSH - 1)
			saturated += sat_take(sat);
	}
	if (i < n) {
		memset(x, 0, sizeof(x));
		memcpy(x, src + i, (n - i) * sizeof(*x));
		fx_block(v, sat, x, &p);
		put_first(d + i * bits / 8, split ? lsb + i / 2 : NULL, v,
			  bits, split, n - i);
	}
	return saturated + sat_take(sat);
}

SPATTEN_API int16_t spatten_float_to_s16(float x, unsigned int frac)
{
	struct fx p = fx_init(frac, 16);
	int sat;

	spatten__enter();
	return (int16_t)fx_one(x, &p, &sat);
}

SPATTEN_API float spatten_s16_to_float(int16_t v, unsigned int frac)
{
	spatten__enter();
	return (float)v / (float)(1u << clamp_frac(frac));
}

SPATTEN_API long spatten_quantize_s16(void *dst, const float *src, size_t n,
				      unsigned int frac)
{
	spatten__enter();
	if (frac > SPATTEN_S16_MAX_FRAC || (n && (!dst || !src)))
		return -EINVAL;
	return fx_pack(dst, NULL, src, n, frac, 16, 0);
}

/*
 * Widening: the int16 values times 2^-frac, which equals dividing by
 * 2^frac (both exact: a nonzero |v| >= 1 stays a normal float).
 */
SPATTEN_API int spatten_dequantize_s16(float *dst, const void *src, size_t n,
				       unsigned int frac)
{
	const unsigned char *s = src;
	float inv, out[BLOCK];
	uint16_t le[BLOCK];
	size_t i, j;

	spatten__enter();
	if (frac > SPATTEN_S16_MAX_FRAC || (n && (!dst || !src)))
		return -EINVAL;

	inv = 1.0f / (float)(1u << frac);
	for (i = 0; i + BLOCK <= n; i += BLOCK) {
		memcpy(le, s + 2 * i, sizeof(le));
		for (j = 0; j < BLOCK; j++)
			out[j] = (float)(int16_t)le16toh(le[j]) * inv;
		memcpy(dst + i, out, sizeof(out));
	}
	for (; i < n; i++) {
		uint16_t one;

		memcpy(&one, s + 2 * i, sizeof(one));
		dst[i] = spatten_s16_to_float((int16_t)le16toh(one), frac);
	}
	return 0;
}

SPATTEN_API int spatten_frac_for_range(float max_abs)
{
	int frac;

	spatten__enter();
	if (max_abs != max_abs || max_abs < 0)
		return -EINVAL;

	for (frac = SPATTEN_S16_MAX_FRAC; frac >= 0; frac--) {
		if ((double)max_abs * (double)(1u << frac) < S16_MAX + 0.5)
			return frac;
	}
	return -ERANGE;
}

/*
 * On the bits: |x| is x with the sign bit cleared, and non-negative
 * floats order as their bits do, as signed 32-bit integers too; NaN is
 * above infinity's 0x7f800000 and counts as 0 (ignored); -0 and +0 are
 * both 0. A running maximum per lane of a block, reduced at the end; a
 * last partial block is padded with zeros, which change no maximum.
 */
static ALWAYS_INLINE void max_block32(int32_t *m, const uint32_t *u)
{
	unsigned int j;
	int32_t a;

	for (j = 0; j < BLOCK; j++) {
		a = (int32_t)(u[j] & 0x7fffffffu);
		a = a > 0x7f800000 ? 0 : a;
		m[j] = a > m[j] ? a : m[j];
	}
}

SPATTEN_API float spatten_max_abs(const float *x, size_t n)
{
	int32_t m[BLOCK] = { 0 }, best = 0;
	uint32_t u[BLOCK];
	size_t i, j;
	float f;

	spatten__enter();
	if (!x)
		return 0;
	for (i = 0; i + BLOCK <= n; i += BLOCK) {
		memcpy(u, x + i, sizeof(u));
		max_block32(m, u);
	}
	if (i < n) {
		memset(u, 0, sizeof(u));
		memcpy(u, x + i, (n - i) * sizeof(*x));
		max_block32(m, u);
	}
	for (j = 0; j < BLOCK; j++)
		best = m[j] > best ? m[j] : best;
	memcpy(&f, &best, sizeof(f));
	return f;
}

/*
 * The same for fp16 and bf16, as the bits of the largest magnitude:
 * @inf is the type's infinity, above which a magnitude is NaN (16-bit
 * lanes: pmaxsw).
 */
static ALWAYS_INLINE void max_block16(int16_t *m, const uint16_t *u,
				      int16_t inf)
{
	unsigned int j;
	int16_t a;

	for (j = 0; j < BLOCK; j++) {
		a = (int16_t)(u[j] & 0x7fff);
		a = a > inf ? 0 : a;
		m[j] = a > m[j] ? a : m[j];
	}
}

static uint16_t max_mag16(const void *src, size_t n, int16_t inf)
{
	const unsigned char *s = src;
	int16_t m[BLOCK] = { 0 }, best = 0;
	uint16_t u[BLOCK];
	size_t i, j;

	for (i = 0; i + BLOCK <= n; i += BLOCK) {
		memcpy(u, s + 2 * i, sizeof(u));
		max_block16(m, u, inf);
	}
	if (i < n) {
		memset(u, 0, sizeof(u));
		memcpy(u, s + 2 * i, (n - i) * 2);
		max_block16(m, u, inf);
	}
	for (j = 0; j < BLOCK; j++)
		best = m[j] > best ? m[j] : best;
	return (uint16_t)best;
}

/*
 * spatten_max_abs() of @n elements of type @t widened, without widening
 * them: widening is exact and keeps the order, so the largest magnitude
 * is found on the narrow bits and only it is widened.
 */
float spatten__max_abs(const void *src, enum spatten_dtype t, size_t n)
{
	if (t == SPATTEN_DTYPE_F16)
		return spatten_f16_to_float(max_mag16(src, n, 0x7c00));
	if (t == SPATTEN_DTYPE_BF16)
		return spatten_bf16_to_float(max_mag16(src, n, 0x7f80));
	return spatten_max_abs(src, n);
}

SPATTEN_API int spatten_frac_for_bits(float max_abs, unsigned int bits)
{
	double max;
	int frac;

	spatten__enter();
	if (max_abs != max_abs || max_abs < 0 || bits < 4 || bits > 16)
		return -EINVAL;
	max = (double)((1u << (bits - 1)) - 1) + 0.5;
	for (frac = SPATTEN_MAX_FRAC; frac >= 0; frac--) {
		if ((double)max_abs * (double)(1u << frac) < max)
			return frac;
	}
	return -ERANGE;
}

SPATTEN_API unsigned int spatten_fmt_bits(unsigned int fmt)
{
	spatten__enter();
	return fmt < SPATTEN_FMT_NUM ? spatten_hw_fmt_bits((uint8_t)fmt) : 0;
}

SPATTEN_API int spatten_fmt_of_bits(unsigned int bits)
{
	unsigned int f;

	spatten__enter();
	for (f = 0; f < SPATTEN_FMT_NUM; f++)
		if (spatten_hw_fmt_bits((uint8_t)f) == bits)
			return (int)f;
	return -EINVAL;
}

SPATTEN_API uint64_t spatten_packed_bytes(unsigned int fmt, uint64_t n)
{
	unsigned int bits = spatten_fmt_bits(fmt);

	spatten__enter();
	return (n * bits + 7) / 8;
}

static uint32_t get_field(const unsigned char *s, size_t e, unsigned int bits)
{
	uint64_t pos = (uint64_t)e * bits;
	unsigned int sh = pos % 8, need = (sh + bits + 7) / 8, k;
	uint32_t w = 0;

	for (k = 0; k < need; k++)
		w |= (uint32_t)s[pos / 8 + k] << (8 * k);
	return (w >> sh) & ((1u << bits) - 1);
}

static int32_t sign_extend(uint32_t v, unsigned int bits)
{
	uint32_t m = 1u << (bits - 1);

	return (int32_t)((v ^ m) - m);
}

static int pack_args_ok(unsigned int bits, const void *a, const void *b,
			size_t n, unsigned int frac)
{
	if (!bits || frac > SPATTEN_MAX_FRAC || (n && (!a || !b)))
		return 0;
	return (uint64_t)n * bits % 8 == 0;
}

/* One fx_pack() for each format: its shifts and sizes are constants. */
SPATTEN_API long spatten_pack(void *dst, unsigned int fmt, const float *src,
			      size_t n, unsigned int frac)
{
	unsigned int bits = spatten_fmt_bits(fmt);

	spatten__enter();
	if (!pack_args_ok(bits, dst, src, n, frac))
		return -EINVAL;
	switch (bits) {
	case 4:
		return fx_pack(dst, NULL, src, n, frac, 4, 0);
	case 6:
		return fx_pack(dst, NULL, src, n, frac, 6, 0);
	case 8:
		return fx_pack(dst, NULL, src, n, frac, 8, 0);
	case 10:
		return fx_pack(dst, NULL, src, n, frac, 10, 0);
	case 12:
		return fx_pack(dst, NULL, src, n, frac, 12, 0);
	}
	return fx_pack(dst, NULL, src, n, frac, 16, 0);
}

SPATTEN_API int spatten_unpack(float *dst, unsigned int fmt, const void *src,
			       size_t n, unsigned int frac)
{
	unsigned int bits = spatten_fmt_bits(fmt);
	float scale;
	size_t i;

	spatten__enter();
	if (!pack_args_ok(bits, dst, src, n, frac))
		return -EINVAL;
	if (bits == 16)
		return spatten_dequantize_s16(dst, src, n, frac);
	scale = (float)(1u << frac);
	for (i = 0; i < n; i++)
		dst[i] = (float)sign_extend(get_field(src, i, bits), bits) /
			 scale;
	return 0;
}

static int split_bits_ok(unsigned int msb_bits)
{
	return msb_bits >= 4 && msb_bits <= 12 && !(msb_bits & 1);
}

SPATTEN_API long spatten_pack_split(void *msb, void *lsb,
				    unsigned int msb_bits, const float *src,
				    size_t n, unsigned int frac)
{
	spatten__enter();
	if (!split_bits_ok(msb_bits) || !pack_args_ok(msb_bits, msb, src, n,
						      frac) ||
	    (n && !lsb) || n % 2)
		return -EINVAL;
	switch (msb_bits) {
	case 4:
		return fx_pack(msb, lsb, src, n, frac, 4, 1);
	case 6:
		return fx_pack(msb, lsb, src, n, frac, 6, 1);
	case 8:
		return fx_pack(msb, lsb, src, n, frac, 8, 1);
	case 10:
		return fx_pack(msb, lsb, src, n, frac, 10, 1);
	}
	return fx_pack(msb, lsb, src, n, frac, 12, 1);
}

SPATTEN_API int spatten_unpack_split(float *dst, unsigned int msb_bits,
				     const void *msb, const void *lsb,
				     size_t n, unsigned int frac)
{
	float scale;
	size_t i;

	spatten__enter();
	if (!split_bits_ok(msb_bits) || !pack_args_ok(msb_bits, dst, msb, n,
						      frac) || n % 2)
		return -EINVAL;
	scale = (float)(1u << frac);
	for (i = 0; i < n; i++) {
		int32_t m = sign_extend(get_field(msb, i, msb_bits), msb_bits);
		uint32_t l = lsb ? get_field(lsb, i, SPATTEN_LSB_BITS) : 8;

		dst[i] = (float)(m * 16 + (int32_t)l) / scale;
	}
	return 0;
}
