// SPDX-License-Identifier: MIT
/*
 * SpAtten engine: the top-k engine of the paper (algorithm section 6).
 *
 * 1. Quick-select finds theta, the k-th largest key: a pseudo-random pivot
 *    from the current set; one pass streams the set into a "greater" and a
 *    "less" FIFO, counting keys equal to the pivot (cost: ceil(n_cur / C)
 *    + 3 cycles, C = 16 comparators). With g greater, q equal and k_left
 *    still to find:
 *      g + q < k_left:  k_left -= g + q, continue with "less";
 *      g > k_left:      continue with "greater";
 *      otherwise:       theta = pivot (it is the k_left-th largest).
 *    (The paper writes "g + q <= k_left" for the first case; with equality
 *    theta is the pivot itself, so we stop there rather than recurse into
 *    "less" with nothing left to find.)
 * 2. One filter pass over the input in its original order keeps x > theta
 *    and the first (k - #{x > theta}) keys equal to theta (cost: ceil(n /
 *    R) cycles, R = 8 keys per cycle). Exactly k survive, ties go to the
 *    earliest indices, the output is in index order.
 * k == 0 keeps nothing and k >= n keeps everything: there is nothing to
 * select, the engine does not run and costs nothing (and such a run takes
 * no number in the pivot sequence).
 *
 * Pivots: a xorshift32 generator per run, seeded from the job's topk_seed
 * and the run's number within the job (spe_topk_prng_init()); the pivot of
 * a pass is element (next() % n_cur) of the current set, the set being kept
 * in input order (FIFOs preserve order). So the cycles are deterministic
 * per descriptor, and the survivors never depend on the pivots.
 */
#include <string.h>

#include "spe.h"
#include "spe_internal.h"

/* murmur3's 32-bit finaliser: every input bit affects every output bit. */
static uint32_t spe_fmix32(uint32_t h)
{
	h ^= h >> 16;
	h *= 0x85ebca6bu;
	h ^= h >> 13;
	h *= 0xc2b2ae35u;
	h ^= h >> 16;
	return h;
}

uint32_t spe_topk_prng_init(uint32_t seed, uint32_t call)
{
	uint32_t s = spe_fmix32(seed ^ spe_fmix32(call + 0x9e3779b9u));

	return s ? s : 0x6d2b79f5u;	/* xorshift32 must not start at 0 */
}

/* Marsaglia's xorshift32 (13, 17, 5): period 2^32 - 1. */
uint32_t spe_topk_prng_next(uint32_t *state)
{
	uint32_t x = *state;

	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	*state = x;
	return x;
}

static uint64_t spe_div_up(uint64_t a, uint64_t b)
{
	return a / b + (a % b != 0);
}

/*
 * Quick-select (step 1): the k-th largest key, 0 < k < n. Adds the cycles
 * of its passes to *@cyc; *@n_gt receives how many keys exceed it (the
 * keys consumed by "less" steps, plus the last pass's "greater").
 */
static uint64_t spe_topk_theta(struct spe_topk *t, const uint64_t *key,
			       uint32_t n, uint32_t k, uint32_t comparators,
			       uint64_t *cyc, uint32_t *n_gt)
{
	uint32_t state = spe_topk_prng_init(t->seed, t->calls++);
	const uint64_t *cur = key;
	uint32_t n_cur = n, k_left = k;

	for (;;) {
		/* Write the two buffers the current set is not in. */
		uint64_t *gt = cur == t->buf[0] ? t->buf[1] : t->buf[0];
		uint64_t *lt = cur == t->buf[2] ? t->buf[1] : t->buf[2];
		uint64_t pivot = cur[spe_topk_prng_next(&state) % n_cur];
		uint32_t g, l, q;

		/* gt and lt are never the current set */
		g = t->kern->topk_split(cur, n_cur, pivot, gt, lt, &l);
		q = n_cur - g - l;
		*cyc += spe_div_up(n_cur, comparators) + SPE_TOPK_PASS_OVERHEAD;
		if (g + q < k_left) {
			k_left -= g + q;
			cur = lt;
			n_cur = l;
		} else if (g > k_left) {
			cur = gt;
			n_cur = g;
		} else {
			*n_gt = k - k_left + g;
			return pivot;
		}
	}
}

uint32_t spe_topk_select(struct spe_topk *t, const uint64_t *key, uint32_t n,
			 uint32_t k, uint32_t *out, uint64_t *cycles)
{
	uint32_t comparators = SPE_TOPK_COMPARATORS, rate = SPE_TOPK_RATE;
	uint32_t n_gt = 0, i, m;
	uint64_t cyc = 0, theta;

	if (t->model) {
		if (t->model->topk_comparators)
			comparators = t->model->topk_comparators;
		if (t->model->topk_rate)
			rate = t->model->topk_rate;
	}
	if (k == 0 || k >= n) {
		for (i = 0; i < k && i < n; i++)
			out[i] = i;
		if (cycles)
			*cycles = 0;
		return k < n ? k : n;
	}

	theta = spe_topk_theta(t, key, n, k, comparators, &cyc, &n_gt);

	/* Step 2, the filter pass, in input order. */
	cyc += spe_div_up(n, rate);
	m = t->kern->topk_filter(key, n, theta, k - n_gt, out);
	if (cycles)
		*cycles = cyc;
	return m;
}
