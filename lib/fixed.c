// SPDX-License-Identifier: MIT
/*
 * libspatten: float <-> SPATTEN_FMT_S16 fixed point.
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
static int16_t to_s16(float x, unsigned int frac, int *saturated)
{
	double s = (double)x * (double)(1u << clamp_frac(frac));

	*saturated = 0;
	if (s != s)
		return 0;
	if (s >= S16_MAX + 0.5) {
		*saturated = 1;
		return S16_MAX;
	}
	if (s <= S16_MIN - 0.5) {
		*saturated = 1;
		return S16_MIN;
	}
	if (s >= 0)
		return (int16_t)(long)(s + 0.5);
	return (int16_t)-(long)(-s + 0.5);
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
