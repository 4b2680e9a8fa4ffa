// SPDX-License-Identifier: MIT
/*
 * The engine's inner-loop implementations (engine/spe_kernels*.c): every
 * SIMD table this CPU can run must give exactly the bits of the generic
 * one, on random shapes (n = 0..37 and long rows, every head_dim), on the
 * extreme values (-32768 everywhere: pmaddwd's int32 overflow), on weights
 * up to 2^15, on exp arguments across the flush-to-zero edge and on sums
 * whose length is not a multiple of 8. The generic exp is also pinned to
 * spe_expf() through test_golden.c's hashes.
 *
 * Environment: SPATTEN_KERNELS=<name> is honoured by spe_kernels_get();
 * the dispatch test checks the choice against it (EXPECT_KERNELS, when
 * set, names the table the run must get).
 */
#include <inttypes.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "spe_kernels.h"
#include "spe_kernels_impl.h"
#include "tap.h"

/* From tests/host/test_golden.c: spe_expf sweep and softmax rows. */
#define GOLDEN_EXPF_HASH	0x6a3f0eadd6a52429ull
#define GOLDEN_SOFTMAX_HASH	0x29b55e1f8c209644ull

#define MAX_N	1100
#define MAX_D	512

static const struct spe_kernels *gen = &spe_kernels_generic;

/* tests/host/testutil.c's generator, so the golden rows are the same. */
static uint32_t prng_next(uint64_t *state)
{
	uint64_t x = *state;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*state = x;
	return (uint32_t)((x * 0x2545F4914F6CDD1Dull) >> 32);
}

static int32_t prng_range(uint64_t *state, int32_t amp)
{
	uint64_t span = 2 * (uint64_t)amp + 1;

	return (int32_t)(prng_next(state) % span) - amp;
}

static uint64_t fnv(uint64_t h, uint32_t v)
{
	int i;

	for (i = 0; i < 4; i++)
		h = (h ^ ((v >> (8 * i)) & 0xff)) * 0x100000001b3ull;
	return h;
}

static uint32_t fbits(float f)
{
	uint32_t u;

	memcpy(&u, &f, sizeof(u));
	return u;
}

/* ---- operand generators ---------------------------------------------- */

enum fill {
	FILL_FULL,	/* uniform over int16 */
	FILL_SMALL,	/* |x| <= 64: qk's int32-only path */
	FILL_MIN,	/* every element -32768 */
	FILL_EXTREME,	/* -32768 / 32767 at random */
	FILL_MIXED,	/* extremes, zeros and random */
	FILL_MID,	/* |x| <= 8192: int32 lane sums, split in halves */
	FILL_EDGE16K,	/* +-16383 / +-16384: lane sums at 2^16 - 4 / 2^16 */
	FILL_EDGE8K,	/* +-8191 / +-8192: the same for 8-dim lanes */
	FILL_COUNT,
};

static const char *const fill_name[FILL_COUNT] = {
	"full", "small", "all -32768", "extremes", "mixed", "mid",
	"edge 16k", "edge 8k",
};

static void fill_s16(int16_t *x, size_t n, enum fill f, uint64_t *seed)
{
	size_t i;

	for (i = 0; i < n; i++) {
		uint32_t r = prng_next(seed);

		switch (f) {
		case FILL_FULL:
			x[i] = (int16_t)((int32_t)(r & 0xffff) - 32768);
			break;
		case FILL_SMALL:
			x[i] = (int16_t)prng_range(seed, 64);
			break;
		case FILL_MIN:
			x[i] = INT16_MIN;
			break;
		case FILL_EXTREME:
			x[i] = (r & 1) ? INT16_MAX : INT16_MIN;
			break;
		case FILL_MID:
			x[i] = (int16_t)prng_range(seed, 8192);
			break;
		case FILL_EDGE16K:
			x[i] = (int16_t)((r & 2 ? 16384 : 16383) * (r & 1 ? -1 : 1));
			break;
		case FILL_EDGE8K:
			x[i] = (int16_t)((r & 2 ? 8192 : 8191) * (r & 1 ? -1 : 1));
			break;
		default:
			switch (r % 5) {
			case 0: x[i] = INT16_MIN; break;
			case 1: x[i] = INT16_MAX; break;
			case 2: x[i] = 0; break;
			default:
				x[i] = (int16_t)((int32_t)(r >> 16) - 32768);
				break;
			}
		}
	}
}

/* Probability-like weights: 0..32768 with the edge values frequent. */
static void fill_w(int32_t *w, uint32_t n, int mode, uint64_t *seed)
{
	uint32_t j;

	for (j = 0; j < n; j++) {
		uint32_t r = prng_next(seed);

		switch (mode) {
		case 0:		/* anything in range */
			w[j] = (int32_t)(r % 32769);
			break;
		case 1:		/* many zeros, some maxima */
			w[j] = r % 4 == 0 ? (int32_t)((r >> 8) % 32769) :
			       r % 4 == 1 ? 32768 : 0;
			break;
		case 2:		/* everything at the top: forces int32 flushes */
			w[j] = (r & 1) ? 32767 : 32768;
			break;
		default:	/* a softmax-like row: sums to about 2^15 */
			w[j] = (int32_t)(r % (2 * 32768 / (n ? n : 1) + 1));
			break;
		}
	}
}

/* ---- comparisons -------------------------------------------------------- */

static int64_t ga[MAX_N], ka[MAX_N + 8];
static int16_t qbuf[MAX_D], kbuf[MAX_N * MAX_D];
static int32_t wbuf[MAX_N];
static int64_t sbuf[MAX_N];
static float ge[MAX_N], ke[MAX_N + 8];
static int32_t gp[MAX_N], pbuf[MAX_N + 8];

static const uint32_t dims[] = { 8, 16, 32, 64, 128, 256, 512 };
#define N_DIMS	(sizeof(dims) / sizeof(dims[0]))

static uint32_t pick_n(uint32_t i, uint64_t *seed)
{
	static const uint32_t big[] = { 64, 100, 255, 256, 257, 384, 513, 1024,
					1100 };

	if (i < 38)
		return i;
	return big[prng_next(seed) % (sizeof(big) / sizeof(big[0]))];
}

static void test_qk(const struct spe_kernels *kt)
{
	uint64_t seed = 0x51ab;
	unsigned int cases = 0, bad = 0;
	uint32_t di, i, j;
	int fq, fk;

	for (di = 0; di < N_DIMS; di++) {
		uint32_t d = dims[di];

		for (fq = 0; fq < FILL_COUNT; fq++)
			for (fk = 0; fk < FILL_COUNT; fk++)
				for (i = 0; i < 44; i++) {
					uint32_t n = pick_n(i, &seed);

					if ((size_t)n * d > sizeof(kbuf) / 2)
						n = (uint32_t)(sizeof(kbuf) / 2 / d);
					fill_s16(qbuf, d, (enum fill)fq, &seed);
					fill_s16(kbuf, (size_t)n * d,
						 (enum fill)fk, &seed);
					gen->qk_scores(qbuf, kbuf, n, d, ga);
					for (j = 0; j < n + 8; j++)
						ka[j] = 0x5a5a5a5a5a5a5a5all;
					kt->qk_scores(qbuf, kbuf, n, d, ka);
					cases++;
					if (memcmp(ga, ka, n * sizeof(*ga)) ||
					    ka[n] != 0x5a5a5a5a5a5a5a5all) {
						if (!bad++)
							diag("%s qk d %u n %u q %s k %s: "
							     "first diff", kt->name,
							     d, n, fill_name[fq],
							     fill_name[fk]);
					}
				}
	}
	ok(!bad, "%s qk_scores == generic on %u shapes (n 0..37 and up to "
	   "1100, d 8..512, extremes)", kt->name, cases);

	/* The worst case pmaddwd sees: every product (-32768)^2. */
	for (j = 0; j < 64; j++)
		qbuf[j] = INT16_MIN;
	for (j = 0; j < 5 * 64; j++)
		kbuf[j] = INT16_MIN;
	kt->qk_scores(qbuf, kbuf, 5, 64, ka);
	for (j = 0, bad = 0; j < 5; j++)
		bad += ka[j] != 64 * ((int64_t)1 << 30);
	ok(!bad, "%s qk_scores: 64 x (-32768)^2 = 2^36 exactly", kt->name);
}

static void test_generic_exact(void)
{
	uint64_t seed = 77;
	int64_t want;
	uint32_t j, x, bad = 0;

	/* The reference against the plainest possible arithmetic. */
	for (j = 0; j < 200; j++) {
		uint32_t d = dims[j % N_DIMS];

		fill_s16(qbuf, d, (enum fill)(j % FILL_COUNT), &seed);
		fill_s16(kbuf, 3 * d, (enum fill)((j / 5) % FILL_COUNT), &seed);
		gen->qk_scores(qbuf, kbuf, 3, d, ga);
		want = 0;
		for (x = 0; x < d; x++)
			want += (int64_t)qbuf[x] * kbuf[2 * d + x];
		bad += ga[2] != want;
	}
	ok(!bad, "generic qk_scores == int64 dot products");

	for (j = 0; j < 200; j++) {
		uint32_t d = dims[j % N_DIMS], n = 1 + j % 37;

		fill_w(wbuf, n, (int)(j % 4), &seed);
		fill_s16(kbuf, (size_t)n * d, (enum fill)(j % FILL_COUNT), &seed);
		gen->pv_accumulate(wbuf, kbuf, n, d, ga);
		want = 0;
		for (x = 0; x < n; x++)
			want += (int64_t)wbuf[x] * kbuf[(size_t)x * d + d - 1];
		bad += ga[d - 1] != want;
	}
	ok(!bad, "generic pv_accumulate == int64 weighted sums");
}

static void test_pv(const struct spe_kernels *kt)
{
	uint64_t seed = 0x9e37;
	unsigned int cases = 0, bad = 0;
	uint32_t di, i, j;
	int fv, mode;

	for (di = 0; di < N_DIMS; di++) {
		uint32_t d = dims[di];

		for (fv = 0; fv < FILL_COUNT; fv++)
			for (mode = 0; mode < 4; mode++)
				for (i = 0; i < 44; i++) {
					uint32_t n = pick_n(i, &seed);

					if ((size_t)n * d > sizeof(kbuf) / 2)
						n = (uint32_t)(sizeof(kbuf) / 2 / d);
					fill_w(wbuf, n, mode, &seed);
					fill_s16(kbuf, (size_t)n * d,
						 (enum fill)fv, &seed);
					gen->pv_accumulate(wbuf, kbuf, n, d, ga);
					for (j = 0; j < d + 8 && j < MAX_N + 8; j++)
						ka[j] = 0x3c3c3c3c3c3c3c3cll;
					kt->pv_accumulate(wbuf, kbuf, n, d, ka);
					cases++;
					if (memcmp(ga, ka, d * sizeof(*ga)) ||
					    ka[d] != 0x3c3c3c3c3c3c3c3cll) {
						if (!bad++)
							diag("%s pv d %u n %u v %s w "
							     "mode %d: first diff",
							     kt->name, d, n,
							     fill_name[fv], mode);
					}
				}
	}
	ok(!bad, "%s pv_accumulate == generic on %u shapes (weights up to "
	   "2^15, extremes)", kt->name, cases);

	/* Largest magnitude: 1100 rows of 32768 * -32768 = -1100 * 2^30. */
	for (j = 0; j < 1100; j++)
		wbuf[j] = 32767 + (int32_t)(j & 1);
	for (j = 0; j < 1100 * 64; j++)
		kbuf[j] = INT16_MIN;
	kt->pv_accumulate(wbuf, kbuf, 1100, 64, ka);
	ok(ka[0] == -(int64_t)(550 * 32767 + 550 * 32768) * 32768 &&
	   ka[63] == ka[0], "%s pv_accumulate: 1100 rows at w ~ 2^15 of "
	   "-32768, exact", kt->name);
}

static int cmp_f(const float *a, const float *b, uint32_t n)
{
	uint32_t j;

	for (j = 0; j < n; j++)
		if (fbits(a[j]) != fbits(b[j]))
			return 1;
	return 0;
}

static void test_exp(const struct spe_kernels *kt)
{
	static const float scales[] = { 7.450580596923828e-09f /* 2^-27 */,
					1.0f / 65536.0f, 1e-3f, 0.125f, 1.0f,
					3.0f, 1e-9f, 0.0f };
	uint64_t seed = 0xe4e4;
	unsigned int cases = 0, bad = 0;
	uint32_t i, j, s;

	for (s = 0; s < sizeof(scales) / sizeof(scales[0]); s++)
		for (i = 0; i < 120; i++) {
			uint32_t n = pick_n(i % 60, &seed);
			float sc = scales[s];
			int64_t max = (int64_t)prng_range(&seed, 1 << 30) *
				      (int64_t)(1 + prng_next(&seed) % 64);
			/* Spread so x = diff * scale crosses -87 and beyond. */
			double span = 200.0 / (sc > 0 ? sc : 1.0);

			for (j = 0; j < n; j++) {
				double u = (double)prng_next(&seed) / 4294967296.0;

				switch ((prng_next(&seed) >> 7) % 8) {
				case 0:	/* the maximum itself */
					sbuf[j] = max;
					break;
				case 1:	/* beyond 2^51: scalar path */
					sbuf[j] = max - ((int64_t)1 << 51) -
						  (int64_t)prng_next(&seed);
					break;
				case 2:	/* around the flush edge */
					sbuf[j] = max - (int64_t)((87.0 + 2 * u - 1) /
								  (sc > 0 ? sc : 1));
					break;
				case 3:	/* above the maximum (clamp at 88) */
					sbuf[j] = (i & 1) ? max + (int64_t)(u * span) :
						  max - (int64_t)(u * span);
					break;
				default:
					sbuf[j] = max - (int64_t)(u * span);
					break;
				}
			}
			gen->exp_row(sbuf, n, max, sc, ge);
			for (j = 0; j < n + 8; j++)
				ke[j] = -1.0f;
			kt->exp_row(sbuf, n, max, sc, ke);
			cases++;
			if (cmp_f(ge, ke, n) || ke[n] != -1.0f) {
				if (!bad++)
					diag("%s exp_row scale %g n %u: first diff",
					     kt->name, (double)sc, n);
			}
		}
	/* NaN and infinite scales: every lane 0 (or e^88 clamp). */
	for (s = 0; s < 3; s++) {
		float sc = s == 0 ? NAN : s == 1 ? INFINITY : -INFINITY;

		for (j = 0; j < 37; j++)
			sbuf[j] = (int64_t)j - 18;
		gen->exp_row(sbuf, 37, 0, sc, ge);
		kt->exp_row(sbuf, 37, 0, sc, ke);
		cases++;
		if (cmp_f(ge, ke, 37) && !bad++)
			diag("%s exp_row scale %g: first diff", kt->name,
			     (double)sc);
	}
	ok(!bad, "%s exp_row == generic on %u rows (flush region, > 2^51, "
	   "clamp, NaN/inf scale)", kt->name, cases);
}

/* The sweep of test_golden.c, through exp_row: pins exp to spe_expf. */
static void test_exp_golden(const struct spe_kernels *kt)
{
	uint64_t h = 0xcbf29ce484222325ull;
	long i0, i;
	uint32_t n;

	for (i0 = 0; i0 <= 87L * 65536; i0 += MAX_N) {
		n = (uint32_t)(87L * 65536 + 1 - i0 < MAX_N ?
			       87L * 65536 + 1 - i0 : MAX_N);
		for (i = 0; i < (long)n; i++)
			sbuf[i] = -(i0 + i);
		kt->exp_row(sbuf, n, 0, 1.0f / 65536.0f, ke);
		for (i = 0; i < (long)n; i++)
			h = fnv(h, fbits(ke[i]));
	}
	ok(h == GOLDEN_EXPF_HASH, "%s exp_row over [-87, 0] step 2^-16: "
	   "spe_expf's golden hash 0x%016" PRIx64, kt->name, h);
}

/* test_golden.c's 2000 softmax rows, built from the kernels. */
static void test_softmax_golden(const struct spe_kernels *kt)
{
	float scale = (1.0f / (float)(1u << 24)) / sqrtf(64.0f);
	uint64_t h = 0xcbf29ce484222325ull, seed = 12345;
	uint32_t row, n, j;

	for (row = 0; row < 2000; row++) {
		int64_t max;
		float sum;

		n = 1 + prng_next(&seed) % 300;
		for (j = 0; j < n; j++)
			sbuf[j] = (int64_t)prng_range(&seed, 1 << 27) *
				  (1 + (row & 7));
		max = sbuf[0];
		for (j = 1; j < n; j++)
			if (sbuf[j] > max)
				max = sbuf[j];
		kt->exp_row(sbuf, n, max, scale, ke);
		sum = kt->sum8(ke, n);
		h = fnv(h, fbits(sum));
		for (j = 0; j < n; j++) {
			float p = ke[j] / sum;

			h = fnv(fnv(h, fbits(ke[j])),
				(uint32_t)(int32_t)(p * 32768.0f + 0.5f));
		}
	}
	ok(h == GOLDEN_SOFTMAX_HASH, "%s exp_row + sum8 reproduce the golden "
	   "softmax rows: 0x%016" PRIx64, kt->name, h);

	/* The same rows through softmax_row. */
	h = 0xcbf29ce484222325ull;
	seed = 12345;
	for (row = 0; row < 2000; row++) {
		float sum;

		n = 1 + prng_next(&seed) % 300;
		for (j = 0; j < n; j++)
			sbuf[j] = (int64_t)prng_range(&seed, 1 << 27) *
				  (1 + (row & 7));
		sum = kt->softmax_row(sbuf, n, scale, ke, pbuf);
		h = fnv(h, fbits(sum));
		for (j = 0; j < n; j++)
			h = fnv(fnv(h, fbits(ke[j])), (uint32_t)pbuf[j]);
	}
	ok(h == GOLDEN_SOFTMAX_HASH, "%s softmax_row reproduces the golden "
	   "softmax rows: 0x%016" PRIx64, kt->name, h);
}

/* Step 5 and 7 of docs/engine.md written out independently. */
static int16_t ref_requant(int64_t o, int shift)
{
	int64_t y;

	if (shift > 0) {
		int64_t a = o + ((int64_t)1 << (shift - 1));
		int64_t b = (int64_t)1 << shift;

		y = a / b;
		if (a % b && a < 0)	/* floor */
			y--;
	} else {
		y = o > 32767 ? 32768 : o < -32768 ? -32769 : o;
		y *= (int64_t)1 << -shift;
	}
	return (int16_t)(y > 32767 ? 32767 : y < -32768 ? -32768 : y);
}

static void fill_acc(int64_t *a, uint32_t d, int shift, uint64_t *seed)
{
	uint32_t x;

	for (x = 0; x < d; x++) {
		uint32_t r = prng_next(seed);
		int64_t unit = (int64_t)1 << (shift > 0 ? shift : 0);

		switch (r % 6) {
		case 0:		/* exactly halfway: rounding direction */
			a[x] = (int64_t)prng_range(seed, 40000) * unit +
			       (shift > 0 ? unit / 2 : 0);
			break;
		case 1:		/* saturating either way (|a| < 2^61) */
			a[x] = (int64_t)prng_range(seed, 1 << 30) * 4 *
			       (shift > 28 ? (int64_t)1 << 28 : unit);
			break;
		case 2:		/* the largest |acc| prob x V can reach */
			a[x] = (r & 64 ? -1 : 1) * ((int64_t)1100 << 30);
			break;
		default:
			a[x] = (int64_t)prng_range(seed, 1 << 30) *
			       (1 + (int64_t)(r >> 20));
			break;
		}
	}
}

static void test_requant(const struct spe_kernels *kt)
{
	static const uint32_t rd[] = { 1, 7, 8, 9, 16, 31, 64, 100, 128, 256 };
	uint8_t gd[2 * 256 + 16], kd[2 * 256 + 16];
	uint64_t seed = 0x7e7e, gm, km;
	unsigned int cases = 0, bad = 0;
	uint32_t i, x;
	int shift;

	for (shift = -2; shift <= 33; shift++)
		for (i = 0; i < 30; i++) {
			uint32_t d = rd[i % (sizeof(rd) / sizeof(rd[0]))];

			fill_acc(ga, d, shift, &seed);
			memset(kd, 0xa5, sizeof(kd));
			gm = gen->requant_row(ga, d, shift, gd);
			km = kt->requant_row(ga, d, shift, kd);
			cases++;
			if (gm != km || memcmp(gd, kd, 2 * d) || kd[2 * d] != 0xa5) {
				if (!bad++)
					diag("%s requant d %u shift %d: first diff",
					     kt->name, d, shift);
			}
			if (kt != gen)
				continue;
			/* The reference against the documented rule. */
			for (x = 0, km = 0; x < d; x++) {
				int16_t y = ref_requant(ga[x], shift);
				uint16_t u = (uint16_t)(gd[2 * x] | gd[2 * x + 1] << 8);

				km += (uint64_t)(y < 0 ? -(int32_t)y : y);
				if ((int16_t)u != y && !bad++)
					diag("generic requant %" PRId64 " >> %d: "
					     "%d, want %d", ga[x], shift,
					     (int16_t)u, y);
			}
			if (km != gm && !bad++)
				diag("generic requant magnitude %" PRIu64
				     " want %" PRIu64, gm, km);
		}
	ok(!bad, "%s requant_row == %s on %u rows (shift -2..33, halfway, "
	   "saturation)", kt->name, kt == gen ? "docs/engine.md step 7" :
	   "generic", cases);
}

static void test_softmax(const struct spe_kernels *kt)
{
	uint64_t seed = 0x50f7;
	unsigned int cases = 0, bad = 0;
	uint32_t i, j;

	for (i = 0; i < 300; i++) {
		uint32_t n = 1 + (i < 80 ? i % 40 : pick_n(40 + i, &seed) - 1);
		float sc = i % 3 ? 7.450580596923828e-09f : 1e-3f;
		float gs, ks;

		for (j = 0; j < n; j++)
			sbuf[j] = (int64_t)prng_range(&seed, 1 << 30) *
				  (int64_t)(1 + i % 5) - ((int64_t)i << 33);
		if (i % 4 == 0)		/* ties at the maximum */
			for (j = 0; j < n; j += 3)
				sbuf[j] = (int64_t)1 << 40;
		gs = gen->softmax_row(sbuf, n, sc, ge, gp);
		for (j = 0; j < n + 8; j++)
			pbuf[j] = -7;
		ks = kt->softmax_row(sbuf, n, sc, ke, pbuf);
		cases++;
		if (fbits(gs) != fbits(ks) || cmp_f(ge, ke, n) ||
		    memcmp(gp, pbuf, n * sizeof(*gp)) || pbuf[n] != -7) {
			if (!bad++)
				diag("%s softmax_row n %u: first diff", kt->name, n);
		}
	}
	ok(!bad, "%s softmax_row == generic on %u rows (ties, n 1..1100)",
	   kt->name, cases);
}

static void test_sum8(const struct spe_kernels *kt)
{
	uint64_t seed = 0x5858;
	unsigned int cases = 0, bad = 0;
	uint32_t i, j;

	for (i = 0; i < 400; i++) {
		uint32_t n = i < 120 ? i % 40 : pick_n(40 + i, &seed);
		float a, b;

		for (j = 0; j < n; j++) {
			uint32_t r = prng_next(&seed);

			/* Magnitudes 2^-40..2^20 so additions round. */
			ge[j] = ldexpf((float)(r >> 8) / 16777216.0f,
				       (int)(r % 61) - 40);
			if (i % 7 == 0 && r % 3 == 0)
				ge[j] = 0.0f;
		}
		a = gen->sum8(ge, n);
		b = kt->sum8(ge, n);
		cases++;
		if (fbits(a) != fbits(b) && !bad++)
			diag("%s sum8 n %u: %a vs %a", kt->name, n, (double)a,
			     (double)b);
	}
	ok(!bad, "%s sum8 == generic on %u rows (n 0..39 and long)", kt->name,
	   cases);
}

static void test_sum8_order(void)
{
	float e[11], want, lane[8];
	uint32_t j;

	/* Values whose sum depends on the order: check the documented tree. */
	for (j = 0; j < 11; j++)
		e[j] = j % 3 ? 1.0f : 1e8f + (float)j;
	for (j = 0; j < 8; j++)
		lane[j] = 0.0f;
	for (j = 0; j < 11; j++)
		lane[j & 7] += e[j];
	want = ((lane[0] + lane[4]) + (lane[2] + lane[6])) +
	       ((lane[1] + lane[5]) + (lane[3] + lane[7]));
	ok(fbits(gen->sum8(e, 11)) == fbits(want),
	   "generic sum8 follows the documented 8-lane tree");
}

/* qk_rows / pv_rows: many rows at once, == generic row by row. */
#define ROWS_MAX	33
static int64_t rga[ROWS_MAX * MAX_N], rka[ROWS_MAX * MAX_N + 8];
static int16_t rq[ROWS_MAX * MAX_D];
static int32_t rw[ROWS_MAX * MAX_N];

static void test_rows(const struct spe_kernels *kt)
{
	static const uint32_t ms[] = { 0, 1, 2, 3, 4, 5, 7, 8, 9, 17, 33 };
	uint64_t seed = 0x4077;
	unsigned int qcases = 0, qbad = 0, pcases = 0, pbad = 0;
	uint32_t c, i, j;

	for (c = 0; c < 900; c++) {
		uint32_t m = ms[c % (sizeof(ms) / sizeof(ms[0]))];
		uint32_t d = dims[(c / 11) % N_DIMS];
		uint32_t n = pick_n((c * 7) % 50, &seed);
		enum fill fq = (enum fill)((c / 3) % FILL_COUNT);
		enum fill fk = (enum fill)((c / 5) % FILL_COUNT);

		if ((size_t)n * d > sizeof(kbuf) / 2)
			n = (uint32_t)(sizeof(kbuf) / 2 / d);
		fill_s16(rq, (size_t)m * d, fq, &seed);
		if (c % 4 == 0)		/* one outlier row: a split block */
			fill_s16(rq, d, FILL_FULL, &seed);
		fill_s16(kbuf, (size_t)n * d, fk, &seed);
		if (c % 3 == 1 && m) {
			/*
			 * Keys parallel to a query row: q . k = +-||q||^2, the
			 * Cauchy-Schwarz bound itself, around 2^31.
			 */
			uint32_t x, amp = 2048u << (c % 5);

			for (x = 0; x < (size_t)m * d; x++)
				rq[x] = (int16_t)prng_range(&seed, (int32_t)amp);
			for (j = 0; j < n; j++)
				for (x = 0; x < d; x++)
					kbuf[(size_t)j * d + x] = (int16_t)
						((j & 1 ? -1 : 1) *
						 rq[(size_t)(j % m) * d + x]);
		}
		gen->qk_rows(rq, m, kbuf, n, d, rga);
		for (j = 0; j < m * n + 8; j++)
			rka[j] = 0x1234;
		kt->qk_rows(rq, m, kbuf, n, d, rka);
		qcases++;
		if ((memcmp(rga, rka, (size_t)m * n * sizeof(*rga)) ||
		     rka[m * n] != 0x1234) && !qbad++)
			diag("%s qk_rows m %u n %u d %u q %s k %s: first diff",
			     kt->name, m, n, d, fill_name[fq], fill_name[fk]);

		for (i = 0; i < m; i++) {
			/* Mostly softmax-like rows, some out of the fast range. */
			int mode = (c + i) % 7 == 0 ? (int)((c + i) % 3) : 3;

			fill_w(rw + (size_t)i * n, n, mode, &seed);
		}
		gen->pv_rows(rw, m, kbuf, n, d, rga);
		for (j = 0; j < m * d + 8; j++)
			rka[j] = 0x4321;
		kt->pv_rows(rw, m, kbuf, n, d, rka);
		pcases++;
		if ((memcmp(rga, rka, (size_t)m * d * sizeof(*rga)) ||
		     rka[m * d] != 0x4321) && !pbad++)
			diag("%s pv_rows m %u n %u d %u v %s: first diff",
			     kt->name, m, n, d, fill_name[fk]);
	}
	ok(!qbad, "%s qk_rows == generic on %u blocks (m 0..33)", kt->name,
	   qcases);
	ok(!pbad, "%s pv_rows == generic on %u blocks (m 0..33)", kt->name,
	   pcases);
}

/*
 * qk_gather / pv_gather against int64 sums written here, over rows picked
 * by random ascending index lists (every kept fraction) from a pool, for
 * every dimension, operand fill and weight mode; the guard past acc[]
 * must stay.
 */
static uint32_t gidx[MAX_N];

static uint32_t pick_rows(uint32_t pool, uint32_t want, uint64_t *seed)
{
	uint32_t j, n = 0;

	for (j = 0; j < pool && n < want; j++)
		if (prng_next(seed) % pool < want)
			gidx[n++] = j;
	return n;
}

static int gather_case(const struct spe_kernels *kt, uint32_t d, uint32_t n)
{
	uint32_t j, c, x;

	for (j = 0; j < n + 8; j++)
		ka[j] = 0x3c3c3c3c3c3c3c3cll;
	kt->qk_gather(qbuf, kbuf, gidx, n, d, ka);
	for (j = 0; j < n; j++) {
		int64_t want = 0;

		for (x = 0; x < d; x++)
			want += (int64_t)qbuf[x] * kbuf[(size_t)gidx[j] * d + x];
		if (ka[j] != want)
			return 0;
	}
	if (ka[n] != 0x3c3c3c3c3c3c3c3cll)
		return 0;
	for (j = 0; j < d + 8 && j < MAX_N + 8; j++)
		ka[j] = 0x3c3c3c3c3c3c3c3cll;
	kt->pv_gather(wbuf, kbuf, gidx, n, d, ka);
	for (c = 0; c < d; c++) {
		int64_t want = 0;

		for (j = 0; j < n; j++)
			want += (int64_t)wbuf[j] *
				kbuf[(size_t)gidx[j] * d + c];
		if (ka[c] != want)
			return 0;
	}
	return ka[d] == 0x3c3c3c3c3c3c3c3cll;
}

static void test_gather(const struct spe_kernels *kt)
{
	uint64_t seed = 0x6a7e;
	unsigned int cases = 0, bad = 0;
	uint32_t di, i;
	int fv, mode;

	if (!kt->qk_gather || !kt->pv_gather) {
		ok(!kt->qk_gather && !kt->pv_gather, "%s: no gathers (both "
		   "NULL: the engine copies)", kt->name);
		return;
	}
	for (di = 0; di < N_DIMS; di++) {
		/* up to 64K elements: rows enough for every kept fraction */
		uint32_t d = dims[di], pool = 65536 / d;

		if (pool > MAX_N)
			pool = MAX_N;
		for (fv = 0; fv < FILL_COUNT; fv++) {
			/* rows of the next fill: every pairing of q and rows */
			fill_s16(kbuf, (size_t)pool * d,
				 (enum fill)((fv + 1) % FILL_COUNT), &seed);
			for (mode = 0; mode < 4; mode++)
				for (i = 0; i < 8; i++) {
					uint32_t want = i < 4 ? i * 3 :
						prng_next(&seed) % (pool + 1);
					uint32_t n = pick_rows(pool, want,
							       &seed);

					fill_s16(qbuf, d, (enum fill)fv, &seed);
					fill_w(wbuf, n, mode, &seed);
					cases++;
					if (!gather_case(kt, d, n) &&
					    !bad++)
						diag("%s gather d %u n %u of %u "
						     "q %s mode %d: first diff",
						     kt->name, d, n, pool,
						     fill_name[fv], mode);
				}
		}
	}
	ok(!bad, "%s qk_gather, pv_gather == int64 sums on %u index lists",
	   kt->name, cases);
}

/*
 * unpack against the format as docs/hardware.md states it, written here
 * bit by bit: element e at bits [e * b, e * b + b) of a little-endian
 * stream, bit i being bit i % 8 of byte i / 8. Every width, both signs,
 * the three (shift, add, base) forms the engine uses and odd ones,
 * lengths 8..520 (every tail of a 32-element step), random and extreme
 * values.
 */
typedef void (*unpack_fn)(const uint8_t *, uint32_t, int, size_t,
			  unsigned int, int16_t, const int16_t *, int16_t *);

#define UNPACK_MAX	520

static void pack_ref(const int32_t *x, size_t n, uint32_t bits, uint8_t *dst)
{
	size_t i;

	memset(dst, 0, (n * bits + 7) / 8);
	for (i = 0; i < n * bits; i++)
		if (((uint32_t)x[i / bits] >> (i % bits)) & 1)
			dst[i / 8] |= (uint8_t)(1u << (i % 8));
}

static int unpack_case(unpack_fn fn, uint32_t bits, int is_unsigned,
		       size_t n, unsigned int shift, int16_t add, int use_base,
		       uint64_t *seed)
{
	static int32_t x[UNPACK_MAX];
	static int16_t base[UNPACK_MAX], got[UNPACK_MAX + 32];
	/* one byte past the operand, so a read beyond it shows */
	static uint8_t src[UNPACK_MAX * 12 / 8 + 64];
	int32_t lo = is_unsigned ? 0 : -(1 << (bits - 1));
	int32_t hi = is_unsigned ? (1 << bits) - 1 : (1 << (bits - 1)) - 1;
	size_t i, bytes = n * bits / 8;

	for (i = 0; i < n; i++) {
		uint32_t r = prng_next(seed);

		x[i] = r % 8 == 0 ? lo : r % 8 == 1 ? hi :
		       lo + (int32_t)(prng_next(seed) % (uint32_t)(hi - lo + 1));
		base[i] = (int16_t)prng_next(seed);
	}
	pack_ref(x, n, bits, src);
	memset(src + bytes, 0xa5, 64);
	for (i = 0; i < n + 32; i++)
		got[i] = 0x5a5a;
	fn(src, bits, is_unsigned, n, shift, add, use_base ? base : NULL, got);
	for (i = 0; i < n; i++) {
		int32_t want = x[i] * (1 << shift) + add +
			       (use_base ? base[i] : 0);

		if (got[i] != (int16_t)(uint16_t)(uint32_t)want)
			return 0;
	}
	for (i = n; i < n + 32; i++)
		if (got[i] != 0x5a5a)
			return 0;	/* wrote past the end */
	return 1;
}

static void test_unpack_fn(const char *name, unpack_fn fn)
{
	static const uint32_t widths[] = { 4, 6, 8, 10, 12 };
	static const struct { unsigned int shift; int16_t add; int base; }
	form[] = { { 0, 0, 0 }, { 4, 8, 0 }, { 0, -8, 1 }, { 3, -77, 1 } };
	uint64_t seed = 0x5eed0u;
	unsigned int w, f, sgn, cases = 0, bad = 0;
	size_t n;

	for (w = 0; w < 5; w++)
		for (sgn = 0; sgn < 2; sgn++)
			for (f = 0; f < 4; f++)
				for (n = 8; n <= UNPACK_MAX; n += 8) {
					cases++;
					if (!unpack_case(fn, widths[w], sgn, n,
							 form[f].shift,
							 form[f].add,
							 form[f].base, &seed))
						bad++;
				}
	ok(!bad, "%s unpack == the packed format on %u cases (%u wrong)",
	   name, cases, bad);
}

/*
 * qk_packed against int64 dot products with the elements as packed (by
 * pack_ref()): every width, dimensions 8..512, rows in order and through
 * random index lists, every query fill (the extremes included).
 */
#define QKP_ROWS	300

static void test_qk_packed(const struct spe_kernels *kt)
{
	static const uint32_t widths[] = { 4, 6, 8, 10, 12 };
	static int32_t x[QKP_ROWS * MAX_D];
	static uint8_t pk[QKP_ROWS * MAX_D * 12 / 8 + 64];
	uint64_t seed = 0x9acced;
	unsigned int cases = 0, bad = 0;
	uint32_t w, di, i, j, c;
	int fq;

	for (w = 0; w < 5; w++)
		for (di = 0; di < N_DIMS; di++)
			for (fq = 0; fq < FILL_COUNT; fq++) {
				uint32_t b = widths[w], d = dims[di];
				uint32_t pool = 16384 / d < QKP_ROWS ?
						16384 / d : QKP_ROWS, n;
				int with_idx = fq & 1;
				int32_t lo = -(1 << (b - 1));

				for (i = 0; i < pool * d; i++) {
					uint32_t r = prng_next(&seed);

					x[i] = r % 4 == 0 ? lo : r % 4 == 1 ?
					       -lo - 1 :
					       lo + (int32_t)(prng_next(&seed) %
							      (1u << b));
				}
				pack_ref(x, (size_t)pool * d, b, pk);
				fill_s16(qbuf, d, (enum fill)fq, &seed);
				n = with_idx ? pick_rows(pool, prng_next(&seed) %
							 pool, &seed) :
					       1 + prng_next(&seed) % pool;
				for (j = 0; j < n + 8; j++)
					ka[j] = 0x3c3c3c3c3c3c3c3cll;
				kt->qk_packed(qbuf, pk, with_idx ? gidx : NULL,
					      n, b, d, ka);
				cases++;
				for (j = 0; j < n; j++) {
					uint32_t r = with_idx ? gidx[j] : j;
					int64_t want = 0;

					for (c = 0; c < d; c++)
						want += (int64_t)qbuf[c] *
							x[(size_t)r * d + c];
					if (ka[j] != want)
						break;
				}
				if (j < n || ka[n] != 0x3c3c3c3c3c3c3c3cll) {
					if (!bad++)
						diag("%s qk_packed %u bits d %u "
						     "n %u q %s: first diff",
						     kt->name, b, d, n,
						     fill_name[fq]);
				}
			}
	ok(!bad, "%s qk_packed == int64 dot products of the packed "
	   "elements on %u cases", kt->name, cases);
}

static void test_dispatch(const struct spe_kernels **list, unsigned int n)
{
	const char *forced = getenv("SPATTEN_KERNELS");
	const char *expect = getenv("EXPECT_KERNELS");
	const struct spe_kernels *k = spe_kernels_get();
	unsigned int i;

	ok(k && k == spe_kernels_get(), "spe_kernels_get() chose \"%s\", "
	   "stable", k ? k->name : "(null)");
	if (expect && *expect)
		ok(!strcmp(k->name, expect), "SPATTEN_KERNELS=%s gives %s",
		   forced ? forced : "", expect);
	else if (!forced || !*forced)
		ok(k == list[n - 1], "default is the most capable supported "
		   "(%s)", list[n - 1]->name);
	ok(spe_kernels_by_name("generic") == gen &&
	   !spe_kernels_by_name("no-such-kernels"),
	   "spe_kernels_by_name: generic found, unknown names refused");
	for (i = 0; i < n; i++)
		diag("supported: %s", list[i]->name);
}

int main(void)
{
	const struct spe_kernels *list[8];
	unsigned int n, i;

	n = spe_kernels_available(list, 8);
	ok(n >= 1 && list[0] == gen, "%u implementation(s) on this CPU, "
	   "generic first", n);
	test_dispatch(list, n);
	test_generic_exact();
	test_sum8_order();
	test_exp_golden(gen);
	test_softmax_golden(gen);
	test_requant(gen);
	if (getenv("EXPECT_KERNELS") && *getenv("EXPECT_KERNELS"))
		return done_testing();	/* a dispatch run: the rest ran before */

	test_unpack_fn(gen->name, gen->unpack);
	test_gather(gen);
	test_qk_packed(gen);
#ifdef SPE_UNPACK_VBMI
	if (spe_kernels_have_vbmi())
		test_unpack_fn("avx512vbmi", spe_unpack_avx512vbmi);
#endif

	for (i = 1; i < n; i++) {
		test_qk(list[i]);
		test_pv(list[i]);
		test_exp(list[i]);
		test_exp_golden(list[i]);
		test_softmax_golden(list[i]);
		test_sum8(list[i]);
		test_softmax(list[i]);
		test_requant(list[i]);
		test_rows(list[i]);
		test_unpack_fn(list[i]->name, list[i]->unpack);
		test_gather(list[i]);
		test_qk_packed(list[i]);
	}
	return done_testing();
}
