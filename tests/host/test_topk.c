// SPDX-License-Identifier: MIT
/*
 * The top-k engine against a stable-sort oracle written here: exactly k
 * survivors, the k largest keys, ties to the earliest index, ascending
 * output; whatever the seed (which may change only the cycles). Inputs
 * with heavy ties, all keys equal, k = 1 and k = n.
 */
#include <stdlib.h>
#include <string.h>

#include "spe_internal.h"
#include "spe_kernels_impl.h"
#include "testutil.h"
#include "tap.h"

#define MAX_N	600

struct oracle_item {
	uint64_t key;
	uint32_t idx;
};

/* Larger key first; equal keys: smaller index first (a stable order). */
static int oracle_cmp(const void *a, const void *b)
{
	const struct oracle_item *x = a, *y = b;

	if (x->key != y->key)
		return x->key > y->key ? -1 : 1;
	return x->idx < y->idx ? -1 : x->idx > y->idx;
}

static int u32_cmp(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

static void oracle(const uint64_t *key, uint32_t n, uint32_t k,
		   uint32_t *out)
{
	struct oracle_item it[MAX_N];
	uint32_t i;

	for (i = 0; i < n; i++) {
		it[i].key = key[i];
		it[i].idx = i;
	}
	qsort(it, n, sizeof(it[0]), oracle_cmp);
	for (i = 0; i < k; i++)
		out[i] = it[i].idx;
	qsort(out, k, sizeof(out[0]), u32_cmp);
}

static uint64_t bufs[3][MAX_N + SPE_TOPK_PAD];

/* The passes under test: every implementation this CPU runs, in turn. */
static const struct spe_kernels *kern = &spe_kernels_generic;

static void engine_init(struct spe_topk *t, uint32_t seed)
{
	static const struct spe_model model = {
		.topk_comparators = 16, .topk_rate = 8,
	};

	memset(t, 0, sizeof(*t));
	t->cap = MAX_N;
	t->buf[0] = bufs[0];
	t->buf[1] = bufs[1];
	t->buf[2] = bufs[2];
	t->seed = seed;
	t->model = &model;
	t->kern = kern;
}

/* Key generators: distinct-ish, heavy ties, all equal, two values. */
static uint64_t gen_key(uint64_t *s, int kind)
{
	switch (kind) {
	case 0:
		return prng_next(s) | (uint64_t)prng_next(s) << 32;
	case 1:
		return prng_next(s) % 4;
	case 2:
		return 7;
	case 3:
		return prng_next(s) % 2 ? 1ull << 63 : 0;
	default:
		return prng_next(s) % 32769;	/* like quantised probs */
	}
}

static void test_against_oracle(void)
{
	static const uint32_t seeds[] = { 0, 1, 0xdeadbeef, 12345, 0xffffffff };
	static const char *const kinds[] = {
		"random 64-bit", "heavy ties (4 values)", "all equal",
		"two extreme values", "probability-like",
	};
	uint64_t s = 42;
	int kind;

	for (kind = 0; kind < 5; kind++) {
		int good = 1, seed_sensitive = 0;
		unsigned int trial;

		for (trial = 0; trial < 300; trial++) {
			uint64_t key[MAX_N];
			uint32_t want[MAX_N], got[MAX_N];
			uint32_t n = 1 + prng_next(&s) % MAX_N, k, m, i;
			uint64_t cyc0 = 0, cyc;
			size_t si;

			for (i = 0; i < n; i++)
				key[i] = gen_key(&s, kind);
			k = trial % 3 == 0 ? 1 : trial % 3 == 1 ? n :
			    1 + prng_next(&s) % n;
			oracle(key, n, k, want);
			for (si = 0; si < 5; si++) {
				struct spe_topk t;

				engine_init(&t, seeds[si]);
				m = spe_topk_select(&t, key, n, k, got, &cyc);
				if (m != k || memcmp(got, want, k * 4)) {
					good = 0;
					diag("%s: n %u k %u seed %u differs",
					     kinds[kind], n, k, seeds[si]);
				}
				if (si == 0)
					cyc0 = cyc;
				else if (cyc != cyc0)
					seed_sensitive = 1;
			}
		}
		ok(good, "%s top-k = stable-sort oracle, %s keys, k = 1, n "
		   "and random, 300 inputs x 5 seeds", kern->name,
		   kinds[kind]);
		if (kind == 0 || kind == 4)
			ok(seed_sensitive, "%s keys: the seed changes the "
			   "pivots and so the cycles", kinds[kind]);
	}
}

static void test_cycles_exact(void)
{
	uint64_t key[MAX_N];
	uint32_t out[MAX_N], i, m;
	struct spe_topk t;
	uint64_t cyc;
	int good = 1;

	for (i = 0; i < 100; i++)
		key[i] = 5;
	engine_init(&t, 9);
	m = spe_topk_select(&t, key, 100, 37, out, &cyc);
	/* One pass (every key equals the pivot) + the filter pass. */
	ok(m == 37 && cyc == (7 + 3) + 13 && out[0] == 0 && out[36] == 36,
	   "100 equal keys, k 37: one pass ceil(100/16)+3 plus filter "
	   "ceil(100/8) = 23 cycles, the first 37 indices (got %llu)",
	   (unsigned long long)cyc);

	m = spe_topk_select(&t, key, 100, 100, out, &cyc);
	ok(m == 100 && cyc == 0 && out[99] == 99,
	   "k = n: everything kept, the engine does not run (0 cycles)");
	m = spe_topk_select(&t, key, 100, 0, out, &cyc);
	ok(m == 0 && cyc == 0, "k = 0: nothing survives, no cycles");

	/* Distinct keys: every pass removes at least the pivot. */
	for (i = 0; i < 200; i++)
		key[i] = (i * 7919u) % 200;
	for (i = 1; i < 200 && good; i += 13) {
		uint32_t n_pass_max = 200;

		engine_init(&t, i);
		m = spe_topk_select(&t, key, 200, i, out, &cyc);
		good &= m == i && cyc >= 13 + 16 &&
			cyc <= 25 + n_pass_max * (13 + 3);
		good &= key[out[0]] >= 200 - i;
	}
	ok(good, "distinct keys: cycles between one pass and the worst case");
}

static void test_prng(void)
{
	uint32_t s = 1;

	ok(spe_topk_prng_next(&s) == 270369u &&
	   spe_topk_prng_next(&s) == 67634689u,
	   "xorshift32(13,17,5) from 1: 270369, 67634689");
	ok(spe_topk_prng_init(0, 0) != 0 && spe_topk_prng_init(0, 0) !=
	   spe_topk_prng_init(0, 1) && spe_topk_prng_init(1, 0) !=
	   spe_topk_prng_init(0, 0),
	   "per-run PRNG state is non-zero and depends on seed and run");
}

/*
 * Every implementation's passes against the portable ones: the same
 * survivors and the same cycles (so the same set sizes pass by pass),
 * with each run's output list guarded past k + SPE_TOPK_PAD.
 */
static void test_kernels_agree(const struct spe_kernels *kt)
{
	uint64_t s = 99;
	unsigned int trial, bad = 0;

	for (trial = 0; trial < 2000; trial++) {
		uint64_t key[MAX_N], cg, ck;
		uint32_t want[MAX_N + SPE_TOPK_PAD], got[MAX_N + 2 * SPE_TOPK_PAD];
		uint32_t n = 1 + prng_next(&s) % MAX_N, k, mg, mk, i;
		struct spe_topk t;

		for (i = 0; i < n; i++)
			key[i] = gen_key(&s, (int)(trial % 5));
		k = prng_next(&s) % (n + 1);
		kern = &spe_kernels_generic;
		engine_init(&t, trial);
		mg = spe_topk_select(&t, key, n, k, want, &cg);
		kern = kt;
		engine_init(&t, trial);
		for (i = 0; i < MAX_N + 2 * SPE_TOPK_PAD; i++)
			got[i] = 0xdeadbeef;
		mk = spe_topk_select(&t, key, n, k, got, &ck);
		if (mk != mg || ck != cg || memcmp(got, want, mg * 4) ||
		    got[k + SPE_TOPK_PAD] != 0xdeadbeef)
			bad++;
	}
	kern = &spe_kernels_generic;
	ok(!bad, "%s passes: survivors and cycles == generic's on 2000 "
	   "inputs, nothing written past k + %d (%u differ)", kt->name,
	   SPE_TOPK_PAD, bad);
}

int main(void)
{
	const struct spe_kernels *list[8];
	unsigned int n, i;

	test_prng();
	test_against_oracle();
	test_cycles_exact();
	n = spe_kernels_available(list, 8);
	for (i = 1; i < n; i++) {
		kern = list[i];
		test_against_oracle();
		kern = &spe_kernels_generic;
		test_kernels_agree(list[i]);
	}
	return done_testing();
}
