// SPDX-License-Identifier: MIT
/*
 * Tests of libspatten's element types (lib/dtype.c): fp16 and bfloat16 to
 * and from float32, scalar and bulk, against references computed another
 * way: widening from sign, exponent and mantissa with ldexp() in double;
 * narrowing by looking up the two representable neighbours of the value
 * in a sorted table of every finite fp16 / bf16 value (built from the
 * widening reference) and comparing the distances in double, which are
 * exact (see nearest()). Where the compiler has _Float16, its conversions
 * too. Prints TAP; exits 1 if any check failed.
 *
 * Usage: test_dtype [--quick]   (--quick: strided instead of exhaustive
 * binades, for the sanitizer build)
 *
 * Linked with the library's object lib/dtype.o, so that the internal
 * spatten__load_f32() is tested too.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "spatten_private.h"
#include "lib_tap.h"

static int quick;

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* Mismatches are counted; the first few are printed. */
static unsigned long n_bad;

static void bad(const char *what, uint32_t in, uint32_t got, uint32_t want)
{
	if (n_bad++ < 8)
		printf("#   %s: input 0x%08x: got 0x%08x, want 0x%08x\n", what,
		       in, got, want);
}

static void check_no_bad(const char *what, unsigned long n)
{
	if (n_bad)
		printf("#   %s: %lu of %lu wrong\n", what, n_bad, n);
	else
		printf("#   %s: %lu checked\n", what, n);
	check_(n_bad == 0, what, __FILE__, __LINE__);
	n_bad = 0;
}

static uint32_t fbits(float f)
{
	uint32_t u;

	memcpy(&u, &f, 4);
	return u;
}

static float bitsf(uint32_t u)
{
	float f;

	memcpy(&f, &u, 4);
	return f;
}

/* xorshift64*: reproducible random 32-bit patterns. */
static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint32_t rnd32(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return (uint32_t)((rng_state * 0x2545f4914f6cdd1dull) >> 32);
}

/* ---- references ---------------------------------------------------------- */

/*
 * A 16-bit format with one sign bit, @ebits exponent bits (bias
 * 2^(ebits-1) - 1) and @mbits mantissa bits: fp16 is (5, 10), bf16 (8, 7).
 */
struct fmt {
	const char *name;
	int ebits, mbits;
	uint16_t (*narrow)(float x);
	float (*widen)(uint16_t p);
	double *table;		/* value of every finite non-negative pattern */
	unsigned int n_finite;	/* = the pattern of +infinity */
};

static struct fmt f16 = { "fp16", 5, 10, spatten_float_to_f16,
			  spatten_f16_to_float, NULL, 0 };
static struct fmt bf16 = { "bf16", 8, 7, spatten_float_to_bf16,
			   spatten_bf16_to_float, NULL, 0 };

/* Value of a pattern, from its fields, in double (NAN for a NaN). */
static double ref_value(const struct fmt *f, uint16_t p)
{
	int bias = (1 << (f->ebits - 1)) - 1;
	unsigned int e = (p >> f->mbits) & ((1u << f->ebits) - 1);
	unsigned int m = p & ((1u << f->mbits) - 1);
	double v;

	if (e == (1u << f->ebits) - 1)
		v = m ? NAN : INFINITY;
	else if (e == 0)
		v = ldexp(m, 1 - bias - f->mbits);
	else
		v = ldexp((double)((1u << f->mbits) + m),
			  (int)e - bias - f->mbits);
	return (p & 0x8000) ? -v : v;
}

static void build_table(struct fmt *f)
{
	unsigned int p;

	f->n_finite = ((1u << f->ebits) - 1) << f->mbits;
	f->table = malloc(f->n_finite * sizeof(double));
	if (!f->table) {
		perror("malloc");
		exit(2);
	}
	for (p = 0; p < f->n_finite; p++)
		f->table[p] = ref_value(f, (uint16_t)p);
}

/*
 * The correctly rounded pattern of float @x: for |x| the largest finite
 * value lo <= |x| (binary search in the table) and the next one up, hi;
 * whichever is nearer, the even pattern on a tie. Both distances are exact
 * in double: they are multiples of the float ulp of x below the spacing
 * of the target format, at most 2^24 such ulps (or x itself, when lo = 0).
 * Above the largest finite value the next one up is the largest plus one
 * ulp (2^(emax+1)): infinity on reaching half way, per IEEE 754.
 * NaN: quiet, sign kept, the leading payload bits.
 */
static uint16_t nearest(const struct fmt *f, float x)
{
	uint32_t u = fbits(x);
	uint16_t sign = (uint16_t)((u >> 16) & 0x8000);
	double a = fabs((double)x), dlo, dhi, vhi;
	unsigned int lo = 0, top = f->n_finite - 1, hi;

	if (isnan(x))
		return sign | (uint16_t)(((1u << f->ebits) - 1) << f->mbits) |
		       (uint16_t)(1u << (f->mbits - 1)) |
		       (uint16_t)((u & 0x3fffff) >> (23 - f->mbits));
	if (isinf(x))
		return sign | (uint16_t)f->n_finite;
	if (a >= f->table[top]) {
		lo = top;
	} else {
		hi = top;		/* table[lo] <= a < table[hi] */
		while (hi - lo > 1) {
			unsigned int mid = lo + (hi - lo) / 2;

			if (f->table[mid] <= a)
				lo = mid;
			else
				hi = mid;
		}
	}
	hi = lo + 1;
	vhi = hi < f->n_finite ? f->table[hi] :
		ldexp(1, 1 << (f->ebits - 1));	/* 2^(emax+1) */
	dlo = a - f->table[lo];
	dhi = vhi - a;
	if (dlo < dhi || (dlo == dhi && !(lo & 1)))
		return sign | (uint16_t)lo;
	return sign | (uint16_t)hi;		/* n_finite: infinity */
}

static int is_nan16(const struct fmt *f, uint16_t p)
{
	return (p & 0x7fff) > f->n_finite;
}

/* ---- widening ------------------------------------------------------------ */

/*
 * Every one of the 65,536 patterns: the float has the reference value
 * (and the sign of zero); it narrows back to the same pattern. NaN: stays
 * NaN with its sign, made quiet, payload kept, and narrows back to the
 * quieted pattern.
 */
static void widen_all_patterns(struct fmt *f)
{
	unsigned int p, shift = 23 - f->mbits;
	uint16_t qbit = (uint16_t)(1u << (f->mbits - 1));

	for (p = 0; p < 65536; p++) {
		float x = f->widen((uint16_t)p);
		double ref = ref_value(f, (uint16_t)p);
		uint16_t back = f->narrow(x);

		if (isnan(ref)) {
			uint32_t want = (uint32_t)(p & 0x8000) << 16 |
					0x7f800000u | 0x00400000u |
					(uint32_t)(p & (qbit - 1u)) << shift;

			if (fbits(x) != want)
				bad("NaN widened", p, fbits(x), want);
			if (back != (p | qbit) || !is_nan16(f, back))
				bad("NaN round trip", p, back, p | qbit);
			continue;
		}
		if ((double)x != ref || !!signbit(x) != !!(p & 0x8000))
			bad("value", p, fbits(x), fbits((float)ref));
		if (back != p)
			bad("round trip", p, back, p);
	}
	check_no_bad(f->name, 65536);
}

static void f16_widens_exactly_and_round_trips(void)
{
	widen_all_patterns(&f16);
	/* a few by hand */
	CHECK(spatten_f16_to_float(0x3c00) == 1.0f);
	CHECK(spatten_f16_to_float(0xc000) == -2.0f);
	CHECK(spatten_f16_to_float(0x7bff) == 65504.0f);
	CHECK(spatten_f16_to_float(0x0400) == 0x1p-14f);
	CHECK(spatten_f16_to_float(0x0001) == 0x1p-24f);
	CHECK(spatten_f16_to_float(0x03ff) == 0x3ffp-24f);
	CHECK(spatten_f16_to_float(0x3555) == 0x1.554p-2f);
	CHECK_EQ(fbits(spatten_f16_to_float(0x8000)), 0x80000000u);
	CHECK(spatten_f16_to_float(0xfc00) == -INFINITY);
	CHECK_EQ(fbits(spatten_f16_to_float(0x7d01)), 0x7fe02000u);
	CHECK_EQ(fbits(spatten_f16_to_float(0xfc01)), 0xffc02000u);
}

static void bf16_widens_exactly_and_round_trips(void)
{
	widen_all_patterns(&bf16);
	CHECK(spatten_bf16_to_float(0x3f80) == 1.0f);
	CHECK(spatten_bf16_to_float(0x7f7f) == 0x1.fep127f);
	CHECK(spatten_bf16_to_float(0x0001) == 0x1p-133f);
	CHECK(spatten_bf16_to_float(0x8080) == -0x1p-126f);
	CHECK_EQ(fbits(spatten_bf16_to_float(0x8000)), 0x80000000u);
	CHECK_EQ(fbits(spatten_bf16_to_float(0xff81)), 0xffc10000u);
}

/* ---- narrowing ----------------------------------------------------------- */

/*
 * Every positive float with biased exponent @e and every 7th negative one,
 * against nearest() (--quick: every 61st positive one).
 */
static unsigned long narrow_binade(const struct fmt *f, unsigned int e)
{
	uint32_t m, step, base = e << 23, sgn;
	unsigned long n = 0;

	for (sgn = 0; sgn < (quick ? 1u : 2u); sgn++) {
		step = quick ? 61 : sgn ? 7 : 1;
		for (m = 0; m < (1u << 23); m += step) {
			uint32_t u = sgn << 31 | base | m;
			float x = bitsf(u);
			uint16_t got = f->narrow(x), want = nearest(f, x);

			if (got != want)
				bad(f->name, u, got, want);
			n++;
		}
	}
	return n;
}

static void narrow_binades(const struct fmt *f, const unsigned int *e,
			   unsigned int ne)
{
	unsigned long n = 0;
	unsigned int i;

	for (i = 0; i < ne; i++)
		n += narrow_binade(f, e[i]);
	check_no_bad(f->name, n);
}

/*
 * fp16 boundaries, as float biased exponents: 0 (float subnormals), below
 * and through the f16 subnormals (2^-26 .. 2^-13: 101..114, which
 * includes the 2^-25 tie with 0 and the subnormal/normal step at 2^-14),
 * an ordinary binade (127), the top binades and past overflow (2^14 ..
 * 2^17: 141..144), and Inf/NaN (255).
 */
static void float_to_f16_exhaustive_binades(void)
{
	static const unsigned int e[] = {
		0, 101, 102, 103, 104, 105, 106, 107, 108, 109, 110, 111, 112,
		113, 114, 127, 141, 142, 143, 144, 255,
	};

	narrow_binades(&f16, e, ARRAY_SIZE(e));
}

/*
 * bf16 boundaries: float subnormals (0) and the smallest normals (1, 2),
 * an ordinary binade (127), the largest (254: overflow at 0x1.ffp127),
 * Inf/NaN (255).
 */
static void float_to_bf16_exhaustive_binades(void)
{
	static const unsigned int e[] = { 0, 1, 2, 127, 254, 255 };

	narrow_binades(&bf16, e, ARRAY_SIZE(e));
}

/*
 * Ties, by construction and independently of nearest(): for every pair of
 * adjacent non-negative patterns lo, lo + 1 (finite, and the largest
 * finite with infinity), the float halfway between goes to the even one
 * of the two, its float neighbours below and above to lo and to lo + 1;
 * the same negated. The midpoint has one bit more than the format, so it
 * is a float.
 */
static void narrow_ties(const struct fmt *f)
{
	unsigned int lo;
	unsigned long n = 0;

	for (lo = 0; lo < f->n_finite; lo++) {
		double vlo = f->table[lo];
		double vhi = lo + 1 < f->n_finite ? f->table[lo + 1] :
			     ldexp(1, 1 << (f->ebits - 1));
		float mid = (float)((vlo + vhi) / 2);
		uint16_t even = (lo & 1) ? (uint16_t)(lo + 1) : (uint16_t)lo;
		int s;

		if ((double)mid != (vlo + vhi) / 2) {
			bad("midpoint not a float", lo, fbits(mid), 0);
			continue;
		}
		for (s = 0; s < 2; s++) {
			float sg = s ? -1.0f : 1.0f;
			uint16_t sb = s ? 0x8000 : 0;
			float x = sg * mid;
			float below = sg * nextafterf(mid, 0);
			float above = sg * nextafterf(mid, INFINITY);

			if (f->narrow(x) != (sb | even))
				bad("tie", fbits(x), f->narrow(x), sb | even);
			if (f->narrow(below) != (sb | lo))
				bad("below the tie", fbits(below),
				    f->narrow(below), sb | lo);
			if (f->narrow(above) != (sb | (lo + 1)))
				bad("above the tie", fbits(above),
				    f->narrow(above), sb | (lo + 1));
			n += 3;
		}
	}
	check_no_bad(f->name, n);
}

static void float_to_f16_ties_to_even(void)
{
	narrow_ties(&f16);
	/* by hand: 1 + 2^-11 is a tie between 1 and 1 + 2^-10 */
	CHECK_EQ(spatten_float_to_f16(1.0f + 0x1p-11f), 0x3c00);
	CHECK_EQ(spatten_float_to_f16(1.0f + 3 * 0x1p-11f), 0x3c02);
	CHECK_EQ(spatten_float_to_f16(65519.0f), 0x7bff);
	CHECK_EQ(spatten_float_to_f16(65520.0f), 0x7c00);
	CHECK_EQ(spatten_float_to_f16(-65520.0f), 0xfc00);
	CHECK_EQ(spatten_float_to_f16(0x1p-25f), 0x0000);
	CHECK_EQ(spatten_float_to_f16(-0x1p-25f), 0x8000);
	CHECK_EQ(spatten_float_to_f16(nextafterf(0x1p-25f, 1)), 0x0001);
	CHECK_EQ(spatten_float_to_f16(0x3p-25f), 0x0002);
	CHECK_EQ(spatten_float_to_f16(0x7ffp-25f), 0x0400);
}

static void float_to_bf16_ties_to_even(void)
{
	narrow_ties(&bf16);
	CHECK_EQ(spatten_float_to_bf16(bitsf(0x3f808000)), 0x3f80);
	CHECK_EQ(spatten_float_to_bf16(bitsf(0x3f818000)), 0x3f82);
	CHECK_EQ(spatten_float_to_bf16(bitsf(0x3f808001)), 0x3f81);
	CHECK_EQ(spatten_float_to_bf16(bitsf(0x7f7f7fff)), 0x7f7f);
	CHECK_EQ(spatten_float_to_bf16(bitsf(0x7f7f8000)), 0x7f80);
	CHECK_EQ(spatten_float_to_bf16(bitsf(0x00008000)), 0x0000);
	CHECK_EQ(spatten_float_to_bf16(bitsf(0x80018000)), 0x8002);
}

/* Random float bit patterns (every exponent) against nearest(). */
static void narrow_random(const struct fmt *f, unsigned long n)
{
	unsigned long i;

	for (i = 0; i < n; i++) {
		uint32_t u = rnd32();
		float x = bitsf(u);
		uint16_t got = f->narrow(x), want = nearest(f, x);

		if (got != want)
			bad(f->name, u, got, want);
	}
	check_no_bad(f->name, n);
}

static void float_to_f16_random(void)
{
	narrow_random(&f16, quick ? 200000 : 4000000);
}

static void float_to_bf16_random(void)
{
	narrow_random(&bf16, quick ? 200000 : 4000000);
}

/* Specials by hand: zeros, infinities, NaNs, the extremes. */
static void narrowing_specials(void)
{
	CHECK_EQ(spatten_float_to_f16(0.0f), 0x0000);
	CHECK_EQ(spatten_float_to_f16(-0.0f), 0x8000);
	CHECK_EQ(spatten_float_to_bf16(-0.0f), 0x8000);
	CHECK_EQ(spatten_float_to_f16(INFINITY), 0x7c00);
	CHECK_EQ(spatten_float_to_f16(-INFINITY), 0xfc00);
	CHECK_EQ(spatten_float_to_bf16(-INFINITY), 0xff80);
	CHECK_EQ(spatten_float_to_f16(0x1p-149f), 0x0000);
	CHECK_EQ(spatten_float_to_f16(-0x1p-149f), 0x8000);
	CHECK_EQ(spatten_float_to_bf16(0x1p-149f), 0x0000);
	CHECK_EQ(spatten_float_to_bf16(0x1p-133f), 0x0001);
	CHECK_EQ(spatten_float_to_f16(3.4028235e38f), 0x7c00);
	CHECK_EQ(spatten_float_to_bf16(3.4028235e38f), 0x7f80);
	CHECK_EQ(spatten_float_to_bf16(-3.4028235e38f), 0xff80);
	/* NaN: quiet, sign, leading payload bits */
	CHECK_EQ(spatten_float_to_f16(bitsf(0x7fc00000)), 0x7e00);
	CHECK_EQ(spatten_float_to_f16(bitsf(0xffc00000)), 0xfe00);
	CHECK_EQ(spatten_float_to_f16(bitsf(0x7f800001)), 0x7e00);
	CHECK_EQ(spatten_float_to_f16(bitsf(0x7fbfe000)), 0x7fff);
	CHECK_EQ(spatten_float_to_f16(bitsf(0x7f802000)), 0x7e01);
	CHECK_EQ(spatten_float_to_bf16(bitsf(0x7f800001)), 0x7fc0);
	CHECK_EQ(spatten_float_to_bf16(bitsf(0xff810000)), 0xffc1);
	CHECK_EQ(spatten_float_to_bf16(bitsf(0x7fffffff)), 0x7fff);
	CHECK(isnan(spatten_f16_to_float(spatten_float_to_f16(NAN))));
	CHECK(isnan(spatten_bf16_to_float(spatten_float_to_bf16(-NAN))));
	CHECK(signbit(spatten_bf16_to_float(spatten_float_to_bf16(-NAN))));
}

/* ---- the compiler's _Float16 --------------------------------------------- */

#ifdef __FLT16_MANT_DIG__
static uint16_t h16bits(_Float16 h)
{
	uint16_t u;

	memcpy(&u, &h, 2);
	return u;
}

/*
 * Every fp16 pattern widened, and every 67th float (every 1021st with
 * --quick) narrowed: 64 million, about 6 s here, where all 2^32 would take
 * some 7 minutes (GCC converts through libgcc's __truncsfhf2 without
 * F16C). Bit for bit, NaNs included: libgcc keeps the same payload bits
 * and quiets the same way.
 */
static void f16_matches_compiler_float16(void)
{
	uint64_t u, stride = quick ? 1021 : 67, n = 0;
	unsigned int p;

	for (p = 0; p < 65536; p++) {
		_Float16 h;
		float want, got = spatten_f16_to_float((uint16_t)p);
		uint16_t pp = (uint16_t)p;

		memcpy(&h, &pp, 2);
		want = (float)h;
		if (fbits(got) != fbits(want))
			bad("(float)_Float16", p, fbits(got), fbits(want));
	}
	for (u = 0; u < (1ull << 32); u += stride) {
		float x = bitsf((uint32_t)u);
		uint16_t got = spatten_float_to_f16(x);
		uint16_t want = h16bits((_Float16)x);

		if (got != want)
			bad("(_Float16)float", (uint32_t)u, got, want);
		n++;
	}
	check_no_bad("_Float16", n + 65536);
}
#else
static void f16_matches_compiler_float16(void)
{
	cur_skip = "the compiler has no _Float16";
}
#endif

/* ---- bulk ---------------------------------------------------------------- */

static void dtype_sizes(void)
{
	CHECK_EQ(spatten_dtype_size(SPATTEN_DTYPE_F32), 4);
	CHECK_EQ(spatten_dtype_size(SPATTEN_DTYPE_F16), 2);
	CHECK_EQ(spatten_dtype_size(SPATTEN_DTYPE_BF16), 2);
	CHECK_EQ(spatten_dtype_size((enum spatten_dtype)3), 0);
	CHECK_EQ(spatten_dtype_size((enum spatten_dtype)-1), 0);
}

static void convert_rejects_bad_args(void)
{
	float f[4] = { 1, 2, 3, 4 };
	uint16_t h[4] = { 0 };

	CHECK_EQ(spatten_convert(h, (enum spatten_dtype)3, f,
				 SPATTEN_DTYPE_F32, 4), -EINVAL);
	CHECK_EQ(spatten_convert(h, SPATTEN_DTYPE_F16, f,
				 (enum spatten_dtype)7, 4), -EINVAL);
	CHECK_EQ(spatten_convert(h, (enum spatten_dtype)-1, f,
				 SPATTEN_DTYPE_F32, 0), -EINVAL);
	CHECK_EQ(spatten_convert(NULL, SPATTEN_DTYPE_F16, f,
				 SPATTEN_DTYPE_F32, 1), -EINVAL);
	CHECK_EQ(spatten_convert(h, SPATTEN_DTYPE_F16, NULL,
				 SPATTEN_DTYPE_F32, 1), -EINVAL);
	CHECK_EQ(spatten_convert(NULL, SPATTEN_DTYPE_F32, NULL,
				 SPATTEN_DTYPE_F32, 3), -EINVAL);
	CHECK_EQ(h[0], 0);	/* nothing written on error */
	/* nothing to do: fine, even with NULL arrays */
	CHECK_EQ(spatten_convert(NULL, SPATTEN_DTYPE_F16, NULL,
				 SPATTEN_DTYPE_F32, 0), 0);
	CHECK_EQ(spatten_convert(h, SPATTEN_DTYPE_BF16, f,
				 SPATTEN_DTYPE_F32, 0), 0);
	CHECK_EQ(h[0], 0);
	CHECK_EQ(spatten__load_f32(f, h, (enum spatten_dtype)5, 4), -EINVAL);
	CHECK_EQ(spatten__load_f32(NULL, h, SPATTEN_DTYPE_F16, 4), -EINVAL);
	CHECK_EQ(spatten__load_f32(f, NULL, SPATTEN_DTYPE_F16, 4), -EINVAL);
	CHECK_EQ(spatten__load_f32(NULL, NULL, SPATTEN_DTYPE_F16, 0), 0);
	CHECK(f[0] == 1 && f[3] == 4);
}

/*
 * A float for every fp16 and bf16 pattern, one half an fp16 ulp above
 * each fp16 pattern (the ties of fp16 narrowing), then specials and
 * randoms: N_F32 in all.
 */
#define N_F32	(65536 * 3 + 4099)

static void fill_floats(float *x)
{
	static const uint32_t special[] = {
		0x00000000, 0x80000000, 0x7f800000, 0xff800000, 0x7fc00000,
		0xffc00001, 0x7f800001, 0x477ff000, 0x477fefff, 0x33000000,
		0x33000001, 0x00000001, 0x7f7fffff, 0x7f7f8000, 0x38800000,
	};
	unsigned int i, k = 0;

	for (i = 0; i < 65536; i++)
		x[k++] = spatten_f16_to_float((uint16_t)i);
	for (i = 0; i < 65536; i++)
		x[k++] = spatten_bf16_to_float((uint16_t)i);
	for (i = 0; i < 65536; i++)
		x[k++] = bitsf(fbits(spatten_f16_to_float((uint16_t)i)) +
			       0x1000u);
	for (i = 0; i < ARRAY_SIZE(special); i++)
		x[k++] = bitsf(special[i]);
	while (k < N_F32)
		x[k++] = bitsf(rnd32());
}

/* The scalar conversion of element i of an array of type t, as float bits. */
static uint32_t scalar_f32(const void *a, enum spatten_dtype t, size_t i)
{
	const unsigned char *p = a;
	uint16_t h;
	uint32_t u;

	if (t == SPATTEN_DTYPE_F32) {
		memcpy(&u, p + 4 * i, 4);
		return u;
	}
	memcpy(&h, p + 2 * i, 2);
	return fbits(t == SPATTEN_DTYPE_F16 ? spatten_f16_to_float(h) :
					      spatten_bf16_to_float(h));
}

/* Element i of an array of type t, its bits. */
static uint32_t raw(const void *a, enum spatten_dtype t, size_t i)
{
	uint32_t u = 0;

	memcpy(&u, (const unsigned char *)a + spatten_dtype_size(t) * i,
	       spatten_dtype_size(t));
	return u;
}

static uint32_t scalar_conv(uint32_t fb, enum spatten_dtype t)
{
	if (t == SPATTEN_DTYPE_F32)
		return fb;
	return t == SPATTEN_DTYPE_F16 ? spatten_float_to_f16(bitsf(fb)) :
					spatten_float_to_bf16(bitsf(fb));
}

/*
 * @n elements of type @st at @s converted in bulk into @d (type @dt)
 * equal the scalar conversions, element by element (equal types: the bits
 * copied, NaN payloads included), and nothing is written past the end.
 * @d must be followed by a byte 0xa5. Returns the elements checked.
 */
static unsigned long check_bulk(unsigned char *d, enum spatten_dtype dt,
				const unsigned char *s, enum spatten_dtype st,
				size_t n)
{
	size_t dsz = spatten_dtype_size(dt), i;

	CHECK_EQ(spatten_convert(d, dt, s, st, n), 0);
	for (i = 0; i < n; i++) {
		uint32_t want = st == dt ? raw(s, st, i) :
			scalar_conv(scalar_f32(s, st, i), dt);
		uint32_t got = 0;

		memcpy(&got, d + dsz * i, dsz);
		if (got != want)
			bad("bulk", (uint32_t)(st * 16 + dt), got, want);
	}
	CHECK_EQ(d[dsz * n], 0xa5);
	return n;
}

/*
 * Every (dst, src) type pair: every 16-bit pattern, or every float of
 * fill_floats(), converted in bulk as check_bulk() says; at offsets 0 and
 * 1 byte (no alignment needed), whole, and in short runs of lengths
 * around the block size (the tails) at places with subnormals, Inf and
 * NaN. fp16 <-> bf16 is the float path's single rounding.
 */
static void convert_equals_scalar(void)
{
	static const size_t lens[] = { 1, 7, 15, 16, 17, 31, 33, 100 };
	/* where the short runs start: zero, subnormals, Inf/NaN of both */
	static const size_t at[] = { 0, 0x3f8, 0x7bfa, 0x7c01, 0x7f71,
				     0x83f9, 0xfc02, 0xff3d };
	size_t bytes = (size_t)N_F32 * 4 + 8, i, k;
	unsigned char *src = malloc(bytes), *dst = malloc(bytes);
	float *x = malloc((size_t)N_F32 * 4);
	unsigned int st, dt, off;
	unsigned long n_elems = 0;

	if (!src || !dst || !x) {
		CHECK(0);
		goto out;
	}
	fill_floats(x);
	for (st = 0; st < 3; st++) {
		size_t n = st == SPATTEN_DTYPE_F32 ? N_F32 : 65536;
		size_t ssz = spatten_dtype_size(st);

		for (i = 0; i < n; i++) {
			uint16_t h = (uint16_t)i;

			if (st == SPATTEN_DTYPE_F32)
				memcpy(src + 1 + 4 * i, &x[i], 4);
			else
				memcpy(src + 1 + 2 * i, &h, 2);
		}
		for (dt = 0; dt < 3; dt++) {
			for (off = 0; off < 2; off++) {
				const unsigned char *s = src + 1;

				/* off 0: aligned source (copied), else not */
				if (!off) {
					memmove(src, src + 1, n * ssz);
					s = src;
				}
				memset(dst, 0xa5, bytes);
				n_elems += check_bulk(dst + off, dt, s, st, n);
				CHECK_EQ(dst[0], off ? 0xa5 : dst[0]);
				for (k = 0; k < ARRAY_SIZE(lens); k++) {
					memset(dst, 0xa5, bytes);
					n_elems += check_bulk(dst + off, dt,
							      s + ssz * at[k],
							      st, lens[k]);
				}
				if (!off)
					memmove(src + 1, src, n * ssz);
			}
		}
	}
	check_no_bad("bulk vs scalar", n_elems);
out:
	free(src);
	free(dst);
	free(x);
}

/* fp16 <-> bf16 with @dst == @src, and a copy onto itself. */
static void convert_in_place(void)
{
	uint16_t *a = malloc(65536 * 2), *b = malloc(65536 * 2);
	unsigned int i;

	if (!a || !b) {
		CHECK(0);
		goto out;
	}
	for (i = 0; i < 65536; i++)
		a[i] = (uint16_t)i;
	CHECK_EQ(spatten_convert(b, SPATTEN_DTYPE_BF16, a, SPATTEN_DTYPE_F16,
				 65536), 0);
	CHECK_EQ(spatten_convert(a, SPATTEN_DTYPE_BF16, a, SPATTEN_DTYPE_F16,
				 65536), 0);
	CHECK(memcmp(a, b, 65536 * 2) == 0);
	for (i = 0; i < 65536; i++)
		a[i] = (uint16_t)i;
	CHECK_EQ(spatten_convert(b, SPATTEN_DTYPE_F16, a, SPATTEN_DTYPE_BF16,
				 65536), 0);
	CHECK_EQ(spatten_convert(a, SPATTEN_DTYPE_F16, a, SPATTEN_DTYPE_BF16,
				 65536), 0);
	CHECK(memcmp(a, b, 65536 * 2) == 0);
	CHECK_EQ(spatten_convert(a, SPATTEN_DTYPE_F16, a, SPATTEN_DTYPE_F16,
				 65536), 0);
	CHECK(memcmp(a, b, 65536 * 2) == 0);
	/* fp16 -> bf16: 1 + 2^-8 (0x3c04) is a tie: to 1 (0x3f80) */
	CHECK_EQ(spatten_float_to_bf16(spatten_f16_to_float(0x3c04)), 0x3f80);
	a[0] = 0x3c04;
	a[1] = 0x3c0c;	/* 1 + 3 * 2^-8: tie to 1 + 2^-6 (0x3f82) */
	a[2] = 0x7bff;	/* 65504: 65536 in bf16 (0x4780) */
	a[3] = 0x0001;	/* 2^-24: exact in bf16 (0x3380) */
	CHECK_EQ(spatten_convert(a, SPATTEN_DTYPE_BF16, a, SPATTEN_DTYPE_F16,
				 4), 0);
	CHECK_EQ(a[0], 0x3f80);
	CHECK_EQ(a[1], 0x3f82);
	CHECK_EQ(a[2], 0x4780);
	CHECK_EQ(a[3], 0x3380);
	/* bf16 -> fp16: 2^16 overflows, 2^-25 is the tie with 0 */
	a[0] = 0x4780;
	a[1] = 0x3300;
	a[2] = 0xb300;
	a[3] = 0x3f81;	/* 1 + 2^-7: exact in fp16 (0x3c08) */
	CHECK_EQ(spatten_convert(a, SPATTEN_DTYPE_F16, a, SPATTEN_DTYPE_BF16,
				 4), 0);
	CHECK_EQ(a[0], 0x7c00);
	CHECK_EQ(a[1], 0x0000);
	CHECK_EQ(a[2], 0x8000);
	CHECK_EQ(a[3], 0x3c08);
out:
	free(a);
	free(b);
}

/* The session's loader: every type, into float, as spatten_convert(). */
static void load_f32_every_type(void)
{
	uint16_t h[40];
	float x[40], got[40], want[40];
	unsigned int i, t;

	for (i = 0; i < 40; i++) {
		h[i] = (uint16_t)(0x3c00 + 37 * i);
		x[i] = (float)i * 0.37f - 3.0f;
	}
	for (t = 0; t < 3; t++) {
		const void *src = t == SPATTEN_DTYPE_F32 ? (const void *)x :
							   (const void *)h;

		memset(got, 0, sizeof(got));
		CHECK_EQ(spatten__load_f32(got, src, t, 40), 0);
		for (i = 0; i < 40; i++)
			want[i] = bitsf(scalar_f32(src, t, i));
		CHECK(memcmp(got, want, sizeof(got)) == 0);
	}
	CHECK(got[0] == spatten_bf16_to_float(0x3c00));
}

/*
 * Not a test: the widening speed, printed (see the report in the commit;
 * no timed assertion).
 */
static void widening_speed(void)
{
	size_t n = 4096, i;
	uint16_t *h = malloc(n * 2);
	float *f = malloc(n * 4);
	unsigned int t, r, reps = quick ? 20 : 2000;

	if (!h || !f) {
		CHECK(0);
		goto out;
	}
	for (i = 0; i < n; i++)
		h[i] = (uint16_t)rnd32();
	for (t = SPATTEN_DTYPE_F16; t <= SPATTEN_DTYPE_BF16; t++) {
		struct timespec t0, t1;
		double dt;

		clock_gettime(CLOCK_MONOTONIC, &t0);
		for (r = 0; r < reps; r++)
			CHECK_EQ(spatten_convert(f, SPATTEN_DTYPE_F32, h, t, n),
				 0);
		clock_gettime(CLOCK_MONOTONIC, &t1);
		dt = (double)(t1.tv_sec - t0.tv_sec) +
		     (t1.tv_nsec - t0.tv_nsec) * 1e-9;
		printf("#   %s -> float: %.2f ns per element (random bits)\n",
		       t == SPATTEN_DTYPE_F16 ? "fp16" : "bf16",
		       dt * 1e9 / ((double)n * reps));
	}
out:
	free(h);
	free(f);
}

int main(int argc, char **argv)
{
	quick = argc > 1 && !strcmp(argv[1], "--quick");
	build_table(&f16);
	build_table(&bf16);

	RUN(f16_widens_exactly_and_round_trips);
	RUN(bf16_widens_exactly_and_round_trips);
	RUN(narrowing_specials);
	RUN(float_to_f16_ties_to_even);
	RUN(float_to_bf16_ties_to_even);
	RUN(float_to_f16_exhaustive_binades);
	RUN(float_to_bf16_exhaustive_binades);
	RUN(float_to_f16_random);
	RUN(float_to_bf16_random);
	RUN(f16_matches_compiler_float16);
	RUN(dtype_sizes);
	RUN(convert_rejects_bad_args);
	RUN(convert_equals_scalar);
	RUN(convert_in_place);
	RUN(load_f32_every_type);
	RUN(widening_speed);
	free(f16.table);
	free(bf16.table);
	return tap_done();
}
