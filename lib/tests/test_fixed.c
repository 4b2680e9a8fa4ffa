// SPDX-License-Identifier: MIT
/*
 * Tests of libspatten's fixed point (lib/fixed.c): quantizing, packing
 * and the MSB/LSB split, the largest magnitude and dequantizing, in bulk
 * and one value at a time, against scalar references written here that
 * share none of the library's code: rounding with libm's round() in
 * double, packing one bit at a time, the split by floor division. Every
 * format (S4..S16), every fractional bit count (0..15) and every split
 * (4..12 MSB bits), on values around every rounding tie and saturation
 * bound of the format, the IEEE specials (NaN of both signs, infinities,
 * zeros, subnormals, the largest float), random bit patterns and random
 * values in range; arrays of every length of a block and more, so that
 * partial blocks are covered, each into a buffer whose bytes around the
 * result must stay as they were. Then a session gives the same outputs
 * and saturation counts whether its inputs are contiguous (converted a
 * head at a time) or strided (a row at a time), float32, fp16 or bf16.
 * Prints TAP; exits 1 if any check failed.
 *
 * Usage: test_fixed [--quick]   (--quick: a sample of the tie values,
 * for the sanitizer build)
 */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "libspatten.h"
#include "lib_tap.h"

static int quick;

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
/* Guard bytes around every result; a value no packing ends with. */
#define GUARD		16
#define GUARD_BYTE	0xa5

/* Mismatches are counted; the first few are printed. */
static unsigned long n_bad;

static void bad(const char *what, unsigned int bits, unsigned int frac,
		size_t at, long got, long want)
{
	if (n_bad++ < 8)
		printf("#   %s S%u frac %u: element/byte %zu: got %ld, "
		       "want %ld\n", what, bits, frac, at, got, want);
}

static void check_no_bad(const char *what, unsigned long n)
{
	if (n_bad)
		printf("#   %s: %lu mismatches in %lu values\n", what, n_bad,
		       n);
	else
		printf("#   %s: %lu values\n", what, n);
	check_(n_bad == 0, what, __FILE__, __LINE__);
	n_bad = 0;
}

static float bitsf(uint32_t u)
{
	float f;

	memcpy(&f, &u, 4);
	return f;
}

static uint32_t fbits(float f)
{
	uint32_t u;

	memcpy(&u, &f, 4);
	return u;
}

/* xorshift64*: reproducible random 32-bit patterns. */
static uint64_t rng_state = 0x2545f4914f6cdd1dull;

static uint32_t rnd32(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return (uint32_t)((rng_state * 0x2545f4914f6cdd1dull) >> 32);
}

/* ---- references ---------------------------------------------------------- */

/*
 * x * 2^frac rounded half away from zero (round() of the exact product in
 * double), then saturated to @bits signed bits; NaN is 0.
 */
static int32_t ref_fixed(float x, unsigned int frac, unsigned int bits,
			 int *sat)
{
	double max = ldexp(1, (int)bits - 1) - 1, min = -max - 1, r;

	*sat = 0;
	if (isnan(x))
		return 0;
	r = round(ldexp((double)x, (int)frac));
	if (r > max || r < min) {
		*sat = 1;
		return r > max ? (int32_t)max : (int32_t)min;
	}
	return (int32_t)r;
}

/* Bit @k of @v into bit @pos of a little-endian bit stream. */
static void ref_put(unsigned char *d, uint64_t pos, unsigned int bits,
		    int32_t v)
{
	unsigned int k;

	for (k = 0; k < bits; k++, pos++)
		if ((uint32_t)v >> k & 1)
			d[pos / 8] |= (unsigned char)(1u << pos % 8);
}

/* @n values as @bits-bit fields (16: little-endian int16) into zeros. */
static long ref_pack(unsigned char *d, unsigned int bits, const float *x,
		     size_t n, unsigned int frac)
{
	long nsat = 0;
	size_t i;
	int sat;

	memset(d, 0, n * bits / 8);
	for (i = 0; i < n; i++) {
		ref_put(d, (uint64_t)i * bits, bits,
			ref_fixed(x[i], frac, bits, &sat));
		nsat += sat;
	}
	return nsat;
}

/* The planes: floor(raw / 16) in @msb_bits bits, raw - 16 * that in 4. */
static long ref_split(unsigned char *msb, unsigned char *lsb,
		      unsigned int msb_bits, const float *x, size_t n,
		      unsigned int frac)
{
	long nsat = 0;
	size_t i;
	int sat;

	memset(msb, 0, n * msb_bits / 8);
	memset(lsb, 0, n / 2);
	for (i = 0; i < n; i++) {
		int32_t raw = ref_fixed(x[i], frac, msb_bits + 4, &sat);
		int32_t hi = (int32_t)floor(raw / 16.0);

		ref_put(msb, (uint64_t)i * msb_bits, msb_bits, hi);
		ref_put(lsb, (uint64_t)i * 4, 4, raw - 16 * hi);
		nsat += sat;
	}
	return nsat;
}

/* The largest |x| that is not NaN, as a float (+0 if none). */
static float ref_max_abs(const float *x, size_t n)
{
	double m = 0;
	size_t i;

	for (i = 0; i < n; i++)
		if (!isnan(x[i]) && fabs((double)x[i]) > m)
			m = fabs((double)x[i]);
	return (float)m;
}

/* ---- inputs -------------------------------------------------------------- */

static float *vals;
static size_t n_vals, cap_vals;

static void add(float x)
{
	if (n_vals == cap_vals) {
		cap_vals = cap_vals ? 2 * cap_vals : 1u << 16;
		vals = realloc(vals, cap_vals * sizeof(*vals));
		if (!vals) {
			perror("realloc");
			exit(2);
		}
	}
	vals[n_vals++] = x;
}

/* @x and its two float neighbours. */
static void add3(float x)
{
	add(x);
	add(nextafterf(x, INFINITY));
	add(nextafterf(x, -INFINITY));
}

static const uint32_t specials[] = {
	0x00000000, 0x80000000,			/* +-0 */
	0x00000001, 0x80000001,			/* smallest subnormals */
	0x007fffff, 0x807fffff,			/* largest subnormals */
	0x00800000, 0x80800000,			/* smallest normals */
	0x7f7fffff, 0xff7fffff,			/* largest floats */
	0x7f800000, 0xff800000,			/* infinities */
	0x7fc00000, 0xffc00000,			/* quiet NaN */
	0x7f800001, 0xff800001,			/* signalling NaN */
	0x7fffffff, 0xffffffff,			/* NaN, every payload bit */
	0x3effffff, 0xbeffffff,			/* just below +-0.5 */
	0x3f000000, 0xbf000000,			/* +-0.5 */
	0x4b000000, 0xcb000000,			/* 2^23 */
	0x4b800000, 0xcb800000,			/* 2^24 */
	0x4f000000, 0xcf000000,			/* 2^31 */
	0x5f000000, 0xdf000000,			/* 2^63 */
};

/*
 * The values of one (@bits, @frac): the specials; in units of 2^-frac,
 * every integer and
 * every half way between two of [lo - 3, hi + 3] (--quick: the 200 on each
 * end and every 37th of the rest), each with its neighbours; quarters near
 * zero; random bit patterns; random values in range.
 */
static void make_vals(unsigned int bits, unsigned int frac)
{
	int32_t hi = (1 << (bits - 1)) - 1, lo = -hi - 1, k;
	float unit = ldexpf(1.0f, -(int)frac);
	unsigned int i;

	n_vals = 0;
	for (i = 0; i < ARRAY_SIZE(specials); i++)
		add(bitsf(specials[i]));
	for (k = 2 * (lo - 3); k <= 2 * (hi + 3); k++) {
		if (quick && k > 2 * lo + 200 && k < 2 * hi - 200 && k % 37)
			continue;
		add3((float)k / 2 * unit);
	}
	for (k = -8; k <= 8; k++)
		add3((float)k / 4 * unit);
	for (i = 0; i < 4096; i++)
		add(bitsf(rnd32()));
	for (i = 0; i < 4096; i++)
		add((float)((int64_t)(rnd32() % (uint32_t)(4 * hi + 8)) -
			    (2 * hi + 4)) / 2.0f * unit +
		    (float)(rnd32() % 1000) / 1000.0f * unit);
}

/*
 * The lengths the bulk calls are given in turn: 1..40 (every partial
 * block and then some), then longer runs; each rounded up to a multiple
 * of @mult (whole bytes), at most @left (0: the values are done). The
 * calls' starts move along the values, so that a value falls at another
 * position of a block from one frac to the next.
 */
static size_t next_len(size_t *state, size_t mult, size_t left)
{
	static const size_t longer[] = { 64, 100, 255, 1000 };
	size_t n = *state < 40 ? *state + 1 : longer[(*state - 40) % 4];

	*state = (*state + 1) % 44;
	n = (n + mult - 1) / mult * mult;
	return n <= left ? n : left / mult * mult;
}

/* Untouched bytes around a result: [GUARD][len][GUARD] of GUARD_BYTE. */
static int guards_ok(const unsigned char *buf, size_t len)
{
	size_t i;

	for (i = 0; i < GUARD; i++)
		if (buf[i] != GUARD_BYTE || buf[GUARD + len + i] != GUARD_BYTE)
			return 0;
	return 1;
}

static unsigned char *got_buf, *want_buf, *got2_buf, *want2_buf;

static void bufs_alloc(void)
{
	size_t sz = 4096 + 2 * GUARD;

	got_buf = malloc(sz);
	want_buf = malloc(sz);
	got2_buf = malloc(sz);
	want2_buf = malloc(sz);
	if (!got_buf || !want_buf || !got2_buf || !want2_buf) {
		perror("malloc");
		exit(2);
	}
}

/* Compare @len bytes; a mismatch reported at the element it is in. */
static void cmp_bytes(const char *what, unsigned int bits, unsigned int frac,
		      size_t at, const unsigned char *got,
		      const unsigned char *want, size_t len,
		      unsigned int field_bits)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (got[i] != want[i]) {
			bad(what, bits, frac, at + i * 8 / field_bits, got[i],
			    want[i]);
			return;
		}
}

/* ---- bulk conversions ---------------------------------------------------- */

/*
 * spatten_pack() of @fmt (spatten_quantize_s16() too for S16) over the
 * values of every frac: bytes and saturation counts as ref_pack().
 */
static void pack_fmt(unsigned int fmt)
{
	unsigned int bits = spatten_fmt_bits(fmt), frac;
	unsigned long total = 0;
	char what[48];

	snprintf(what, sizeof(what), "pack S%u", bits);
	for (frac = 0; frac <= SPATTEN_MAX_FRAC; frac++) {
		size_t i = 0, st = 0, n, len;
		long g, w;

		make_vals(bits, frac);
		for (; i < n_vals; i += n) {
			n = next_len(&st, bits == 8 || bits == 16 ? 1 : 4,
				     n_vals - i);
			if (!n)
				break;
			len = n * bits / 8;
			memset(got_buf, GUARD_BYTE, len + 2 * GUARD);
			w = ref_pack(want_buf, bits, vals + i, n, frac);
			g = spatten_pack(got_buf + GUARD, fmt, vals + i, n,
					 frac);
			if (g != w)
				bad(what, bits, frac, i, g, w);
			cmp_bytes(what, bits, frac, i, got_buf + GUARD,
				  want_buf, len, bits);
			if (!guards_ok(got_buf, len))
				bad("guard bytes", bits, frac, i, 0, 0);
			if (bits == 16) {
				memset(got_buf, GUARD_BYTE, len + 2 * GUARD);
				g = spatten_quantize_s16(got_buf + GUARD,
							 vals + i, n, frac);
				if (g != w)
					bad("quantize_s16", bits, frac, i, g,
					    w);
				cmp_bytes("quantize_s16", bits, frac, i,
					  got_buf + GUARD, want_buf, len, bits);
				if (!guards_ok(got_buf, len))
					bad("guard bytes", bits, frac, i, 0, 0);
			}
			total += n;
		}
	}
	check_no_bad(what, total);
}

static void pack_s4(void)
{
	pack_fmt(SPATTEN_FMT_S4);
}

static void pack_s6(void)
{
	pack_fmt(SPATTEN_FMT_S6);
}

static void pack_s8(void)
{
	pack_fmt(SPATTEN_FMT_S8);
}

static void pack_s10(void)
{
	pack_fmt(SPATTEN_FMT_S10);
}

static void pack_s12(void)
{
	pack_fmt(SPATTEN_FMT_S12);
}

static void pack_s16_and_quantize(void)
{
	pack_fmt(SPATTEN_FMT_S16);
}

/* spatten_pack_split() of every split and frac against ref_split(). */
static void pack_split_every_split(void)
{
	unsigned int mb, frac;
	unsigned long total = 0;

	for (mb = 4; mb <= 12; mb += 2) {
		for (frac = 0; frac <= SPATTEN_MAX_FRAC; frac++) {
			size_t i = 0, st = 0, n, lm, ll;
			long g, w;

			make_vals(mb + 4, frac);
			for (; i < n_vals; i += n) {
				n = next_len(&st, mb % 4 ? 4 : 2, n_vals - i);
				if (!n)
					break;
				lm = n * mb / 8;
				ll = n / 2;
				memset(got_buf, GUARD_BYTE, lm + 2 * GUARD);
				memset(got2_buf, GUARD_BYTE, ll + 2 * GUARD);
				w = ref_split(want_buf, want2_buf, mb,
					      vals + i, n, frac);
				g = spatten_pack_split(got_buf + GUARD,
						       got2_buf + GUARD, mb,
						       vals + i, n, frac);
				if (g != w)
					bad("split", mb + 4, frac, i, g, w);
				cmp_bytes("split MSB", mb + 4, frac, i,
					  got_buf + GUARD, want_buf, lm, mb);
				cmp_bytes("split LSB", mb + 4, frac, i,
					  got2_buf + GUARD, want2_buf, ll, 4);
				if (!guards_ok(got_buf, lm) ||
				    !guards_ok(got2_buf, ll))
					bad("guard bytes", mb + 4, frac, i, 0,
					    0);
				total += n;
			}
		}
	}
	check_no_bad("pack_split", total);
}

/*
 * spatten_float_to_s16() on every value of every frac, and with fracs
 * above 15, which it treats as 15.
 */
static void float_to_s16_every_frac(void)
{
	unsigned int frac;
	unsigned long total = 0;
	size_t i;
	int sat;

	for (frac = 0; frac <= 20; frac++) {
		unsigned int f = frac > 15 ? 15 : frac;

		make_vals(16, f);
		for (i = 0; i < n_vals; i++) {
			int16_t g = spatten_float_to_s16(vals[i], frac);
			int32_t w = ref_fixed(vals[i], f, 16, &sat);

			if (g != w)
				bad("float_to_s16", 16, frac, i, g, w);
		}
		total += n_vals;
	}
	check_no_bad("float_to_s16", total);
}

/*
 * spatten_max_abs() over runs of every length at every start, of the
 * values (NaN among them) and of runs whose largest value sits at every
 * position; compared as bits (+0 for an empty or NaN-only run).
 */
static void max_abs_every_length(void)
{
	static const uint32_t only[][3] = {
		{ 0x7fc00000, 0xffc00000, 0x7f800001 },	/* NaN: +0 */
		{ 0x80000000, 0x80000000, 0x00000000 },	/* -0: +0 */
		{ 0x7fc00000, 0xff800000, 0x3f800000 },	/* inf */
		{ 0x80000001, 0x00000000, 0x7fffffff },	/* subnormal */
	};
	float x[300];
	unsigned long total = 0;
	size_t i, n, p, st = 0;

	make_vals(12, 3);
	for (i = 0; i < n_vals; i += n) {
		n = next_len(&st, 1, n_vals - i);
		if (fbits(spatten_max_abs(vals + i, n)) !=
		    fbits(ref_max_abs(vals + i, n)))
			bad("max_abs", 32, 0, i,
			    fbits(spatten_max_abs(vals + i, n)),
			    fbits(ref_max_abs(vals + i, n)));
		total += n;
	}
	for (n = 1; n <= ARRAY_SIZE(x); n += n < 40 ? 1 : 37)
		for (p = 0; p < n; p++) {
			for (i = 0; i < n; i++)
				x[i] = bitsf(rnd32() & 0xbfffffff); /* < 2 */
			x[p] = rnd32() & 1 ? -2.5f : 2.5f;
			if (fbits(spatten_max_abs(x, n)) != fbits(2.5f))
				bad("max_abs at", 32, 0, p, (long)n, 0);
			total += n;
		}
	for (i = 0; i < ARRAY_SIZE(only); i++)
		for (n = 1; n <= 40; n++) {
			for (p = 0; p < n; p++)
				x[p] = bitsf(only[i][p % 3]);
			if (fbits(spatten_max_abs(x, n)) !=
			    fbits(ref_max_abs(x, n)))
				bad("max_abs of", 32, 0, i,
				    fbits(spatten_max_abs(x, n)),
				    fbits(ref_max_abs(x, n)));
			total += n;
		}
	CHECK(fbits(spatten_max_abs(x, 0)) == 0);
	CHECK(fbits(spatten_max_abs(NULL, 4)) == 0);
	check_no_bad("max_abs", total);
}

/*
 * spatten_dequantize_s16() and spatten_s16_to_float() of every int16 at
 * every frac, as ldexp() in double, over runs of every length.
 */
static void dequantize_every_value(void)
{
	static float out[65536 + 8];
	static unsigned char in[2 * 65536];
	unsigned long total = 0;
	unsigned int frac;
	size_t i, n, st = 0;

	for (i = 0; i < 65536; i++) {
		in[2 * i] = (unsigned char)i;
		in[2 * i + 1] = (unsigned char)(i >> 8);
	}
	for (frac = 0; frac <= 15; frac++) {
		for (i = 0; i < 65536; i += n) {
			n = next_len(&st, 1, 65536 - i);
			out[i + n] = -1.0f;	/* a guard */
			CHECK_EQ(spatten_dequantize_s16(out + i, in + 2 * i, n,
							frac), 0);
			if (out[i + n] != -1.0f)
				bad("dequantize guard", 16, frac, i, 0, 0);
		}
		for (i = 0; i < 65536; i++) {
			float w = (float)ldexp((double)(int16_t)i, -(int)frac);

			if (fbits(out[i]) != fbits(w))
				bad("dequantize", 16, frac, i,
				    fbits(out[i]), fbits(w));
			if (fbits(spatten_s16_to_float((int16_t)i, frac)) !=
			    fbits(w))
				bad("s16_to_float", 16, frac, i,
				    fbits(spatten_s16_to_float((int16_t)i,
							       frac)),
				    fbits(w));
		}
		total += 65536;
	}
	check_no_bad("dequantize", total);
}

/* ---- a session, contiguous and strided ---------------------------------- */

/*
 * A session's inputs in float32 [heads][n][D] (contiguous: the library
 * converts a head's rows in one call, finds a head's largest magnitude in
 * one), [n][heads][D] (a row at a time) and as fp16 or bf16 in either
 * layout (the largest magnitude found on the narrow bits): the same
 * outputs and saturation counts, bit for bit, as float32 [heads][n][D] of
 * the same values. Fixed scales with values that saturate, NaN and
 * infinities among the inputs; then the scales from the data, with NaN.
 */
struct sess_in {
	uint32_t H, D, n;
	float *x[3];			/* Q, K, V: [H][n][D] */
};

/* @in's Q, K and V in @dt, [n][H][D] if @thd, as views (buffers in @buf). */
static int sess_views(const struct sess_in *in, enum spatten_dtype dt,
		      int thd, void **buf, struct spatten_view *vw)
{
	size_t es = spatten_dtype_size(dt), all = (size_t)in->H * in->n * in->D;
	uint32_t h, t, i;

	for (i = 0; i < 3; i++) {
		buf[i] = malloc(all * es);
		if (!buf[i])
			return -ENOMEM;
		for (h = 0; h < in->H; h++)
			for (t = 0; t < in->n; t++)
				spatten_convert((char *)buf[i] +
						(thd ? (size_t)t * in->H + h :
						 (size_t)h * in->n + t) *
						in->D * es, dt,
						in->x[i] + ((size_t)h * in->n +
							    t) * in->D,
						SPATTEN_DTYPE_F32, in->D);
		vw[i] = thd ? spatten_view_thd(buf[i], dt, in->H, in->D) :
			      spatten_view_htd(buf[i], dt, in->n, in->D);
	}
	return 0;
}

/* Two layers of one pass over @in's views; the last output, saturations. */
static int sess_run(const struct sess_in *in, int fixed, enum spatten_dtype dt,
		    int thd, float *out, uint64_t *sat)
{
	struct spatten_session_opts o;
	struct spatten_session *s = NULL;
	struct spatten_dev *dev = NULL;
	struct spatten_view vw[3], ov;
	void *buf[3] = { NULL, NULL, NULL };
	uint32_t l;
	int ret;

	ret = sess_views(in, dt, thd, buf, vw);
	if (!ret)
		ret = spatten_open(NULL, &dev);
	if (ret)
		goto out;
	spatten_session_opts_init(&o, SPATTEN_SESSION_DECODER, 2, in->H, in->H,
				  in->D, 64);
	o.flags |= SPATTEN_SESSION_PROGRESSIVE;
	o.k_bits = 8;
	o.v_bits = 12;
	if (fixed) {
		o.flags |= SPATTEN_SESSION_FIXED_SCALES;
		o.q_frac = 11;
		o.k_frac = 8;
		o.v_frac = 10;
		o.out_frac = 10;
	}
	ret = spatten_session_open(dev, &o, &s);
	ov = spatten_view_htd(out, SPATTEN_DTYPE_F32, in->n, in->D);
	for (l = 0; l < 2 && !ret; l++)
		ret = spatten_session_attend(s, l, in->n, &vw[0], &vw[1],
					     &vw[2], &ov);
	for (l = 0; l < 2 && !ret; l++)
		ret = spatten_session_saturations(s, l, &sat[3 * l],
						  &sat[3 * l + 1],
						  &sat[3 * l + 2]);
out:
	spatten_session_destroy(s);
	spatten_close(dev);
	free(buf[0]);
	free(buf[1]);
	free(buf[2]);
	return ret;
}

/*
 * Values in [-3, 3], outliers 64 times that, NaN and (with @inf) minus
 * infinity: without it, the largest magnitude of a head is finite and
 * sets the scale, so a NaN that was not ignored would show.
 */
static void sess_fill(float *x, size_t n, int inf)
{
	size_t i;

	for (i = 0; i < n; i++) {
		uint32_t r = rnd32();

		x[i] = (float)((int32_t)(r % 60001) - 30000) / 1e4f;
		if (r % 97 == 0)	/* outliers that saturate */
			x[i] *= 64.0f;
		if (r % 1009 == 0)
			x[i] = bitsf(inf && r % 2 ? 0xff800000 : 0x7fc00000);
	}
}

/* @in's values as @dt holds them (the values a caller of @dt has). */
static int sess_round(struct sess_in *in, enum spatten_dtype dt)
{
	size_t all = (size_t)in->H * in->n * in->D, i;
	uint16_t *tmp = malloc(all * 2);

	if (!tmp)
		return -ENOMEM;
	for (i = 0; i < 3; i++) {
		spatten_convert(tmp, dt, in->x[i], SPATTEN_DTYPE_F32, all);
		spatten_convert(in->x[i], SPATTEN_DTYPE_F32, tmp, dt, all);
	}
	free(tmp);
	return 0;
}

/* Every type and layout of @in against float32 [heads][n][D]. */
static void sess_compare(struct sess_in *in, enum spatten_dtype dt, int fixed,
			 float *ref, float *got)
{
	size_t all = (size_t)in->H * in->n * in->D;
	uint64_t s_ref[6] = { 0 }, s_got[6];
	int thd;

	CHECK_EQ(sess_run(in, fixed, SPATTEN_DTYPE_F32, 0, ref, s_ref), 0);
	for (thd = 0; thd < 2; thd++) {
		if (dt == SPATTEN_DTYPE_F32 && !thd)
			continue;
		memset(s_got, 0, sizeof(s_got));
		memset(got, 0, all * 4);
		CHECK_EQ(sess_run(in, fixed, dt, thd, got, s_got), 0);
		CHECK(!memcmp(ref, got, all * 4));
		CHECK(!memcmp(s_ref, s_got, sizeof(s_ref)));
	}
	printf("#   %s, %s scales: saturated Q %llu, K %llu, V %llu\n",
	       dt == SPATTEN_DTYPE_F32 ? "f32" : dt == SPATTEN_DTYPE_F16 ?
	       "f16" : "bf16", fixed ? "fixed" : "data",
	       (unsigned long long)s_ref[3], (unsigned long long)s_ref[4],
	       (unsigned long long)s_ref[5]);
	if (fixed)
		CHECK(s_ref[3] && s_ref[4] && s_ref[5]);
}

/*
 * One shape: heads @H, head_dim @D (16: a row is one block), @n tokens.
 * With the scales from the data, each head's largest value is its last
 * (where a search that stopped short would miss it), beyond the
 * outliers, so that it sets the head's scale.
 */
static void sess_shape(uint32_t H, uint32_t D, uint32_t n)
{
	struct sess_in in = { .H = H, .D = D, .n = n };
	size_t all = (size_t)H * n * D, i, h;
	float *ref = malloc(all * 4), *got = malloc(all * 4);
	enum spatten_dtype dt;
	int fixed;

	for (i = 0; i < 3; i++)
		in.x[i] = malloc(all * 4);
	CHECK(ref && got && in.x[0] && in.x[1] && in.x[2]);
	if (!ref || !got || !in.x[0] || !in.x[1] || !in.x[2])
		goto out;
	printf("#   %u heads, D %u, %u tokens\n", H, D, n);
	for (dt = SPATTEN_DTYPE_F32; dt <= SPATTEN_DTYPE_BF16; dt++)
		for (fixed = 1; fixed >= 0; fixed--) {
			for (i = 0; i < 3; i++) {
				sess_fill(in.x[i], all, fixed);
				for (h = 0; !fixed && h < H; h++)
					in.x[i][(h + 1) * n * D - 1] =
						-300.0f - (float)h;
			}
			if (dt != SPATTEN_DTYPE_F32)
				CHECK_EQ(sess_round(&in, dt), 0);
			sess_compare(&in, dt, fixed, ref, got);
		}
out:
	free(ref);
	free(got);
	for (i = 0; i < 3; i++)
		free(in.x[i]);
}

static void session_layouts_and_types_agree(void)
{
	sess_shape(4, 64, 40);
	sess_shape(2, 16, 21);
}

int main(int argc, char **argv)
{
	quick = argc > 1 && !strcmp(argv[1], "--quick");
	bufs_alloc();

	RUN(pack_s4);
	RUN(pack_s6);
	RUN(pack_s8);
	RUN(pack_s10);
	RUN(pack_s12);
	RUN(pack_s16_and_quantize);
	RUN(pack_split_every_split);
	RUN(float_to_s16_every_frac);
	RUN(max_abs_every_length);
	RUN(dequantize_every_value);
	RUN(session_layouts_and_types_agree);
	free(vals);
	free(got_buf);
	free(want_buf);
	free(got2_buf);
	free(want2_buf);
	return tap_done();
}
