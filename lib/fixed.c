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
 * Quantize with a saturation report. x * 2^frac is exact in double; adding
 * 0.5 to a magnitude below 2^17 is exact too, so truncation rounds halfway
 * cases away from zero. Values that round outside [-32768, 32767]
 * (s >= 32767.5 or s <= -32768.5) saturate.
 */
static int32_t to_fixed(float x, unsigned int frac, unsigned int bits,
			int *saturated)
{
	double s = (double)x * (double)(1u << clamp_frac(frac));
	int32_t max = (int32_t)(1u << (bits - 1)) - 1, min = -max - 1;

	*saturated = 0;
	if (s != s)
		return 0;
	if (s >= max + 0.5) {
		*saturated = 1;
		return max;
	}
	if (s <= min - 0.5) {
		*saturated = 1;
		return min;
	}
	if (s >= 0)
		return (int32_t)(s + 0.5);
	return -(int32_t)(-s + 0.5);
}

static int16_t to_s16(float x, unsigned int frac, int *saturated)
{
	return (int16_t)to_fixed(x, frac, 16, saturated);
}

SPATTEN_API int16_t spatten_float_to_s16(float x, unsigned int frac)
{
	int sat;

	return to_s16(x, frac, &sat);
}

SPATTEN_API float spatten_s16_to_float(int16_t v, unsigned int frac)
{
	return (float)v / (float)(1u << clamp_frac(frac));
}

SPATTEN_API long spatten_quantize_s16(void *dst, const float *src, size_t n,
				      unsigned int frac)
{
	unsigned char *d = dst;
	long saturated = 0;
	size_t i;

	if (frac > SPATTEN_S16_MAX_FRAC || (n && (!dst || !src)))
		return -EINVAL;

	for (i = 0; i < n; i++) {
		uint16_t le;
		int sat;

		le = htole16((uint16_t)to_s16(src[i], frac, &sat));
		memcpy(d + 2 * i, &le, sizeof(le));
		saturated += sat;
	}
	return saturated;
}

SPATTEN_API int spatten_dequantize_s16(float *dst, const void *src, size_t n,
				       unsigned int frac)
{
	const unsigned char *s = src;
	size_t i;

	if (frac > SPATTEN_S16_MAX_FRAC || (n && (!dst || !src)))
		return -EINVAL;

	for (i = 0; i < n; i++) {
		uint16_t le;

		memcpy(&le, s + 2 * i, sizeof(le));
		dst[i] = spatten_s16_to_float((int16_t)le16toh(le), frac);
	}
	return 0;
}

SPATTEN_API int spatten_frac_for_range(float max_abs)
{
	int frac;

	if (max_abs != max_abs || max_abs < 0)
		return -EINVAL;

	for (frac = SPATTEN_S16_MAX_FRAC; frac >= 0; frac--) {
		if ((double)max_abs * (double)(1u << frac) < S16_MAX + 0.5)
			return frac;
	}
	return -ERANGE;
}

SPATTEN_API float spatten_max_abs(const float *x, size_t n)
{
	float m = 0;
	size_t i;

	if (!x)
		return 0;
	for (i = 0; i < n; i++) {
		float a = x[i] < 0 ? -x[i] : x[i];

		if (a > m)
			m = a;
	}
	return m;
}

SPATTEN_API int spatten_frac_for_bits(float max_abs, unsigned int bits)
{
	double max;
	int frac;

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
	return fmt < SPATTEN_FMT_NUM ? spatten_hw_fmt_bits((uint8_t)fmt) : 0;
}

SPATTEN_API int spatten_fmt_of_bits(unsigned int bits)
{
	unsigned int f;

	for (f = 0; f < SPATTEN_FMT_NUM; f++)
		if (spatten_hw_fmt_bits((uint8_t)f) == bits)
			return (int)f;
	return -EINVAL;
}

SPATTEN_API uint64_t spatten_packed_bytes(unsigned int fmt, uint64_t n)
{
	unsigned int bits = spatten_fmt_bits(fmt);

	return (n * bits + 7) / 8;
}

/*
 * Little-endian bit stream of n-bit fields: field e in bits [e*n, e*n+n).
 * put_field() ORs into zeroed bytes, so callers clear the destination.
 */
static void put_field(unsigned char *d, size_t e, unsigned int bits,
		      uint32_t v)
{
	uint64_t pos = (uint64_t)e * bits;
	unsigned int sh = pos % 8;
	uint32_t w = (v & ((1u << bits) - 1)) << sh;
	size_t i = pos / 8;

	while (w) {
		d[i++] |= (unsigned char)w;
		w >>= 8;
	}
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

SPATTEN_API long spatten_pack(void *dst, unsigned int fmt, const float *src,
			      size_t n, unsigned int frac)
{
	unsigned int bits = spatten_fmt_bits(fmt);
	unsigned char *d = dst;
	long saturated = 0;
	size_t i;

	if (!pack_args_ok(bits, dst, src, n, frac))
		return -EINVAL;
	if (bits == 16)
		return spatten_quantize_s16(dst, src, n, frac);
	if (!n)
		return 0;
	memset(d, 0, (size_t)spatten_packed_bytes(fmt, n));
	for (i = 0; i < n; i++) {
		int sat;

		put_field(d, i, bits,
			  (uint32_t)to_fixed(src[i], frac, bits, &sat));
		saturated += sat;
	}
	return saturated;
}

SPATTEN_API int spatten_unpack(float *dst, unsigned int fmt, const void *src,
			       size_t n, unsigned int frac)
{
	unsigned int bits = spatten_fmt_bits(fmt);
	float scale;
	size_t i;

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
	long saturated = 0;
	size_t i;

	if (!split_bits_ok(msb_bits) || !pack_args_ok(msb_bits, msb, src, n,
						      frac) ||
	    (n && !lsb) || n % 2)
		return -EINVAL;
	if (!n)
		return 0;
	memset(msb, 0, (size_t)((uint64_t)n * msb_bits / 8));
	memset(lsb, 0, n / 2);
	for (i = 0; i < n; i++) {
		int sat;
		int32_t raw = to_fixed(src[i], frac, msb_bits + SPATTEN_LSB_BITS,
				       &sat);

		/* arithmetic shift by division: floor for negatives */
		put_field(msb, i, msb_bits, (uint32_t)((raw - (raw & 15)) / 16));
		put_field(lsb, i, SPATTEN_LSB_BITS, (uint32_t)(raw & 15));
		saturated += sat;
	}
	return saturated;
}

SPATTEN_API int spatten_unpack_split(float *dst, unsigned int msb_bits,
				     const void *msb, const void *lsb,
				     size_t n, unsigned int frac)
{
	float scale;
	size_t i;

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
