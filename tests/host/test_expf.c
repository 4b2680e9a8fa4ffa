// SPDX-License-Identifier: MIT
/*
 * spe_expf(): the engine's own exp, checked against libm in double
 * precision over the whole range the softmax uses.
 */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "spe_internal.h"
#include "tap.h"

#define EXPF_MAX_REL_ERR	2e-7

static double rel_err(float x)
{
	double want = exp((double)x);

	return fabs((double)spe_expf(x) - want) / want;
}

/* A fixed step through [-87, 0] plus every 7th float in [-2^-6, -2^-20]. */
static void test_expf_sweep(void)
{
	double worst = 0.0;
	float worst_x = 0.0f;
	uint32_t bits;
	long i, n = 0;

	for (i = 0; i <= 87L * 65536; i++) {
		float x = -(float)i / 65536.0f;
		double e = rel_err(x);

		if (e > worst) {
			worst = e;
			worst_x = x;
		}
		n++;
	}
	/* Small arguments: all of them (the polynomial's home ground). */
	for (bits = 0xb5800000u; bits <= 0xbc800000u; bits += 7) {
		float x;
		double e;

		memcpy(&x, &bits, sizeof(x));
		e = rel_err(x);
		if (e > worst) {
			worst = e;
			worst_x = x;
		}
		n++;
	}
	diag("%ld points, max relative error %.3g at x = %.9g", n, worst,
	     (double)worst_x);
	ok(worst <= EXPF_MAX_REL_ERR,
	   "spe_expf relative error <= 2e-7 over [-87, 0] (max %.3g)", worst);
}

/* Against libm's float expf too (itself within half an ulp). */
static void test_expf_vs_libm_expf(void)
{
	double worst = 0.0;
	long i;

	for (i = 0; i <= 90L * 4096; i++) {
		float x = -(float)i / 4096.0f, want;

		if (x < SPE_EXPF_MIN)
			break;
		want = expf(x);
		if (fabs((double)spe_expf(x) - want) / want > worst)
			worst = fabs((double)spe_expf(x) - want) / want;
	}
	ok(worst <= EXPF_MAX_REL_ERR,
	   "spe_expf within 2e-7 of libm expf over [-87, 0] (max %.3g)",
	   worst);
}

static void test_expf_exact_one(void)
{
	ok(spe_expf(0.0f) == 1.0f && spe_expf(-0.0f) == 1.0f,
	   "spe_expf(0) and spe_expf(-0) are exactly 1");
}

static void test_expf_cutoff(void)
{
	static const float below[] = {
		-87.00001f, -87.5f, -88.0f, -90.0f, -1e30f, -INFINITY,
	};
	size_t i;
	int zero = 1;

	for (i = 0; i < sizeof(below) / sizeof(below[0]); i++)
		zero &= spe_expf(below[i]) == 0.0f;
	zero &= spe_expf(NAN) == 0.0f;
	ok(zero, "spe_expf flushes to exactly 0 below -87 and for NaN");
	ok(spe_expf(SPE_EXPF_MIN) > 0.0f &&
	   rel_err(SPE_EXPF_MIN) <= EXPF_MAX_REL_ERR,
	   "spe_expf(-87) is still accurate (normal result)");
}

/* The softmax relies on e(x) <= 1 for x <= 0 and on monotonicity. */
static void test_expf_monotonic(void)
{
	float prev = spe_expf(0.0f);
	int good = prev <= 1.0f;
	long i;

	for (i = 1; i <= 87L * 65536; i++) {
		float e = spe_expf(-(float)i / 65536.0f);

		good &= e <= prev && e <= 1.0f;
		prev = e;
	}
	ok(good, "spe_expf is non-increasing and <= 1 as x falls from 0");
}

int main(void)
{
	test_expf_sweep();
	test_expf_vs_libm_expf();
	test_expf_exact_one();
	test_expf_cutoff();
	test_expf_monotonic();
	return done_testing();
}
