// SPDX-License-Identifier: MIT
/*
 * Bit-exactness pinned: fixed jobs whose output hashes (FNV-1a 64 of the
 * int16 output bytes) are written down here. host.mk builds this file
 * against the engine compiled at -O2 and at -O0; both must match, as must
 * any other conforming compiler (try HOST_CC=clang). A change of these
 * numbers is a change of the documented arithmetic (docs/engine.md).
 */
#include <inttypes.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "attn_harness.h"
#include "spe_internal.h"
#include "tap.h"

#define GOLDEN_EXPF_HASH	0x6a3f0eadd6a52429ull
#define GOLDEN_SOFTMAX_HASH	0x29b55e1f8c209644ull

static uint64_t fnv(uint64_t h, uint32_t v)
{
	int i;

	for (i = 0; i < 4; i++)
		h = (h ^ ((v >> (8 * i)) & 0xff)) * 0x100000001b3ull;
	return h;
}

/* Every bit of spe_expf over [-87, 0] in steps of 2^-16. */
static void test_golden_expf(void)
{
	uint64_t h = 0xcbf29ce484222325ull;
	long i;

	for (i = 0; i <= 87L * 65536; i++) {
		float e = spe_expf(-(float)i / 65536.0f);
		uint32_t u;

		memcpy(&u, &e, sizeof(u));
		h = fnv(h, u);
	}
	ok(h == GOLDEN_EXPF_HASH, "golden spe_expf sweep: hash 0x%016" PRIx64,
	   h);
}

/* Sums, exps and probabilities of 2000 rows of 1..300 scores. */
static void test_golden_softmax(void)
{
	struct spe_job job = { .q_frac = 12, .k_frac = 12, .head_dim = 64 };
	float scale = spe_score_scale(&job);
	int64_t *score = calloc(300, sizeof(*score));
	float *e = calloc(300, sizeof(*e));
	int32_t *pq = calloc(300, sizeof(*pq));
	uint64_t h = 0xcbf29ce484222325ull, seed = 12345;
	uint32_t row, n, j, u;
	float sum;

	for (row = 0; row < 2000; row++) {
		n = 1 + prng_next(&seed) % 300;
		for (j = 0; j < n; j++)
			score[j] = (int64_t)prng_range(&seed, 1 << 27) *
				   (1 + (row & 7));
		sum = spe_softmax_row(score, n, scale, e, pq);
		memcpy(&u, &sum, sizeof(u));
		h = fnv(h, u);
		for (j = 0; j < n; j++) {
			memcpy(&u, &e[j], sizeof(u));
			h = fnv(fnv(h, u), (uint32_t)pq[j]);
		}
	}
	ok(h == GOLDEN_SOFTMAX_HASH,
	   "golden softmax rows (sums, exps, probabilities): hash 0x%016" PRIx64, h);
	free(score);
	free(e);
	free(pq);
}

struct golden {
	struct att_case c;
	uint64_t hash;
	uint64_t cycles;
};

static const struct golden goldens[] = {
	{ { .name = "golden summarization 3x48x80 D64", .heads = 3, .d = 64,
	    .q_rows = 48, .kv_rows = 80, .q_frac = 12, .k_frac = 12,
	    .v_frac = 12, .out_frac = 12, .q_amp = 8192, .k_amp = 8192,
	    .v_amp = 16384, .seed = 0x5ba77e4 },
	  0xc33d49237f3850bcull, 1616 },
	{ { .name = "golden causal q_start 17 D32", .heads = 2, .d = 32,
	    .q_rows = 29, .kv_rows = 51, .q_start = 17, .causal = 1,
	    .q_frac = 10, .k_frac = 11, .v_frac = 9, .out_frac = 13,
	    .q_amp = 20000, .k_amp = 9000, .v_amp = 32767, .seed = 7 },
	  0xbffa61e742acce0full, 241 },
	{ { .name = "golden generation 1x333 D128", .heads = 2, .d = 128,
	    .q_rows = 1, .kv_rows = 333, .q_start = 332, .causal = 1,
	    .generation = 1, .q_frac = 13, .k_frac = 13, .v_frac = 14,
	    .out_frac = 14, .q_amp = 12000, .k_amp = 12000,
	    .v_amp = 16000, .seed = 99 },
	  0xebf9fe1c99b3d5cdull, 938 },
};

int main(void)
{
	size_t i;

	test_golden_expf();
	test_golden_softmax();

	for (i = 0; i < sizeof(goldens) / sizeof(goldens[0]); i++) {
		const struct golden *g = &goldens[i];
		struct att_run run;
		uint64_t hash = 0;
		int rc;

		att_setup(&run, &g->c);
		rc = run.decode_rc ? run.decode_rc : att_execute(&run);
		if (!rc)
			hash = att_out_hash(&run);
		ok(rc == 0 && hash == g->hash && run.res.cycles == g->cycles,
		   "%s: hash 0x%016" PRIx64 " cycles %" PRIu64, g->c.name,
		   hash, run.res.cycles);
		att_teardown(&run);
	}
	return done_testing();
}
