// SPDX-License-Identifier: MIT
/*
 * Rotary positions (descriptor version 3, SPATTEN_DESC_F_ROPE):
 *  (a) the documented rotation of one row, spe_rope_row() (engine/
 *      spe_rope.c), against an exact long-double rotation;
 *  (b) whole jobs against the double reference that rotates Q and K
 *      exactly, then attends (llm_ref.c), within spe_out_tolerance()
 *      plus the effect of rounding the rotated rows (derived below);
 *  (c) position lists: the identity list is bit-identical to slot
 *      positions; evicted and scrambled lists match the reference using
 *      those positions;
 *  (d) without the flag the keys are used as stored, and a RoPE job
 *      leaves the cache untouched.
 *
 * The bound of (b). Each rotated element is within delta = 1/2 + (|x_i| +
 * |x_i'|) (2^-16 + 1e-10) LSB of the exact rotation (llm_ref_rotate()),
 * so a scaled score moves by at most Delta = scale * sum_d (|q_d| dk_d +
 * |k_d| dq_d + dq_d dk_d), each probability by a factor within e^(+-2
 * Delta), and the output by at most max|V| (e^(2 Delta) - 1) more than
 * spe_out_tolerance() allows the unrotated arithmetic. With |Q|, |K| <=
 * 2 (12 fractional bits), D = 64: delta <= 0.75 LSB = 1.8e-4, Delta <=
 * 64 * (2 * 2 * 1.8e-4) / 8 = 0.006, about 1.2% of max|V|. The reference
 * computes Delta row by row from the actual elements.
 */
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "llm_job.h"
#include "llm_ref.h"
#include "spe_run.h"
#include "tap.h"

#define FRAC12	.q_frac = 12, .k_frac = 12, .v_frac = 12, .out_frac = 12

/* ---- (a) One row --------------------------------------------------------- */

/*
 * spe_rope_row() of random full-range rows and of extreme ones (every
 * pair at +-32767/-32768, which saturates near 45 degrees) against
 * llm_ref_rotate(): each element within its delta, i.e. half an LSB of
 * rounding plus (|x_i| + |x_i'|) 2^-16 of the Q1.15 cos and sin, at most
 * 1.5 LSB. The inverse frequencies of spe_rope_init() are base^(-2i/D)
 * to 1e-15.
 */
static void check_rope_rows(uint32_t base, uint32_t d)
{
	static const uint32_t pos[] = { 0, 1, 4095, 131071 };
	double inv[64], y[128], delta[128], worst = 0, max_err = 0;
	int16_t x[128], e[128];
	uint64_t seed = base * 131 + d;
	uint32_t p, row, i, bad = 0, freq_bad = 0;

	spe_rope_init(inv, d, base);
	for (i = 0; i < d / 2; i++)
		freq_bad += fabsl(inv[i] - powl(base, -2.0L * i / d)) >
			    1e-15L * powl(base, -2.0L * i / d);
	for (p = 0; p < sizeof(pos) / sizeof(pos[0]); p++)
		for (row = 0; row < 40; row++) {
			for (i = 0; i < d; i++)
				x[i] = row < 36 ? (int16_t)llm_rand_range(&seed,
									32767) :
				       row == 36 ? 32767 : row == 37 ? -32768 :
				       (int16_t)(i & 1 ? 32767 : -32768);
			if (row == 39)		/* one -1 amid extremes */
				x[0] = -1;
			memcpy(e, x, sizeof(e));
			spe_rope_row(e, d, inv, pos[p]);
			llm_ref_rotate(x, d, base, pos[p], y, delta);
			for (i = 0; i < d; i++) {
				double want = fmin(32767, fmax(-32768, y[i]));
				double err = fabs(e[i] - want);

				if (err > max_err)
					max_err = err;
				if (err / delta[i] > worst)
					worst = err / delta[i];
				bad += err > delta[i];
			}
		}
	ok(!bad && !freq_bad, "spe_rope_row base %u D%u, positions 0, 1, "
	   "4095, 131071: every element within 1/2 + (|x_i|+|x_i'|) 2^-16 LSB "
	   "of the exact rotation (max %.3f LSB, %.0f%% of its bound)", base,
	   d, max_err, 100 * worst);
}

static void test_rope_rows(void)
{
	check_rope_rows(10000, 64);
	check_rope_rows(10000, 128);
	check_rope_rows(500000, 64);
	check_rope_rows(500000, 128);
}

/* ---- (b) Whole jobs ------------------------------------------------------ */

static int run_ok(struct llm_test *t, const char *name)
{
	int rc = llm_test_run(t);

	return ok(t->decode_rc == 0 && rc == 0,
		  "%s: decodes (%d) and runs (%d)", name, t->decode_rc, rc);
}

/* The output check against a reference run with @positions. */
static void check_against_ref(const char *name, const struct llm_test *t,
			      const uint32_t *positions)
{
	struct llm_ref r = { .s = &t->s, .dt = &t->dt, .positions = positions };
	struct llm_cmp c;

	llm_ref_run(&r);
	llm_compare(&r, &t->m, &t->job, &c);
	ok(llm_cmp_ok(&c), "%s: outputs within spe_out_tolerance + max|V| "
	   "(e^(2 Delta) - 1) = %.3g (max error %.3g, %.1f%%; RoPE term "
	   "%.3g) and the per-element bound (%.0f%%)", name, c.doc_tol,
	   c.max_err, 100 * c.worst_doc, r.max_abs_v * r.rope_growth,
	   100 * c.worst_bound);
	llm_ref_free(&r);
}

/*
 * The engine keeps RoPE's cos and sin per job in scratch when they fit
 * (spe_rope.c); at the smallest max_scratch the job runs with, they do
 * not, and every angle is computed where it is used. Both must give the
 * same bits: output, statistics and cycles.
 */
static void check_tables_same(const char *name, struct llm_test *t)
{
	size_t out_len = t->m.size[SPE_PLANE_OUT];
	uint8_t *out = malloc(out_len ? out_len : 1);
	struct spe_result full = t->res, tight;
	uint64_t lo = 0, hi = 1ull << 32;
	int rc;

	memcpy(out, t->m.data[SPE_PLANE_OUT], out_len);
	while (hi - lo > 1) {		/* smallest cap that runs */
		t->caps.max_scratch = lo + (hi - lo) / 2;
		rc = llm_run(&t->m, &t->job, &t->caps, &tight);
		if (rc == SPATTEN_HW_ERR_NO_MEMORY)
			lo = t->caps.max_scratch;
		else
			hi = t->caps.max_scratch;
	}
	t->caps.max_scratch = hi;
	rc = llm_run(&t->m, &t->job, &t->caps, &tight);
	ok(rc == 0 && !memcmp(out, t->m.data[SPE_PLANE_OUT], out_len) &&
	   tight.cycles == full.cycles &&
	   !memcmp(&tight.stats, &full.stats, sizeof(full.stats)),
	   "%s: the same bits with the angles computed at every use (max_scratch "
	   "%" PRIu64 ", no room for the per-job cos/sin tables)", name, hi);
	t->caps.max_scratch = 0;
	free(out);
}

static void check_rope_job(const char *name, struct llm_spec s, int32_t k_amp,
			   uint64_t seed)
{
	struct llm_test t;

	llm_test_init(&t, &s, 8192, k_amp, 16384, seed, NULL, 0);
	if (run_ok(&t, name)) {
		check_against_ref(name, &t, NULL);
		check_tables_same(name, &t);
		if (s.flags & SPATTEN_DESC_F_PROGRESSIVE)
			ok(t.res.lsb_refetches == (uint64_t)s.heads * s.q_rows,
			   "%s: every row refetched (%" PRIu64 "), so the "
			   "rotated full keys count", name,
			   t.res.lsb_refetches);
	}
	llm_test_free(&t);
}

static void test_rope_jobs(void)
{
	struct llm_spec s = {
		.heads = 8, .kv_heads = 2, .d = 64, .q_rows = 64,
		.kv_rows = 64, .flags = SPATTEN_DESC_F_CAUSAL |
		SPATTEN_DESC_F_ROPE, .rope_base = 10000,
		.k_fmt = SPATTEN_FMT_S16, .v_fmt = SPATTEN_FMT_S16, FRAC12,
	};

	check_rope_job("RoPE 10000, causal prefill 64, 8/2 D64", s, 8192, 201);
	s.q_rows = 32, s.kv_rows = 232, s.q_start = 200;
	s.heads = 4, s.kv_heads = 1;
	check_rope_job("RoPE 10000, causal chunk 32 at 200, 4/1 D64", s, 8192,
		       202);
	s.heads = 8, s.kv_heads = 2, s.d = 128, s.generation = 1;
	s.q_rows = 1, s.kv_rows = 3000, s.q_start = 2999;
	s.rope_base = 500000;
	check_rope_job("RoPE 500000, generation at 3000, 8/2 D128", s, 8192,
		       203);
	/* Progressive: the first pass rotates msb*16+8, the refetch the
	 * merged full keys; threshold 2^15 makes every row refetch. */
	s.d = 64, s.heads = 4, s.kv_rows = 500, s.q_start = 499;
	s.rope_base = 10000;
	s.flags |= SPATTEN_DESC_F_PROGRESSIVE;
	s.k_fmt = SPATTEN_FMT_S8, s.k_frac = 10, s.lsb_threshold = 32768;
	check_rope_job("RoPE + progressive S8+4 K, generation at 500, 4/2", s,
		       2047, 204);
}

/* ---- (c) Position lists ------------------------------------------------- */

/*
 * The job @s with ROPE_POSITIONS and @pos (kv_rows entries): the run, or
 * -1 if it did not decode and run.
 */
static int run_with_positions(struct llm_test *t, struct llm_spec s,
			      const uint32_t *pos, uint64_t seed)
{
	s.flags |= SPATTEN_DESC_F_ROPE_POSITIONS;
	llm_test_init(t, &s, 8192, 8192, 16384, seed, NULL, 0);
	llm_put_u32s(&t->m, SPE_PLANE_POSITIONS, pos, s.kv_rows);
	return llm_test_run(t) || t->decode_rc ? -1 : 0;
}

/* positions[r] = r: the slot positions, bit for bit. */
static void check_identity_list(const char *name, struct llm_spec s,
				uint64_t seed)
{
	uint32_t *pos = calloc(s.kv_rows, sizeof(*pos)), i;
	struct llm_test a, b;
	struct spe_stats st;
	int rc_b, same;

	for (i = 0; i < s.kv_rows; i++)
		pos[i] = i;
	llm_test_init(&a, &s, 8192, 8192, 16384, seed, NULL, 0);
	rc_b = run_with_positions(&b, s, pos, seed);
	same = llm_test_run(&a) == 0 && a.decode_rc == 0 && rc_b == 0 &&
	       !memcmp(a.m.data[SPE_PLANE_OUT], b.m.data[SPE_PLANE_OUT],
		       a.m.size[SPE_PLANE_OUT]);
	st = b.res.stats;
	same &= st.bytes[SPE_PLANE_POSITIONS] == (uint64_t)s.kv_rows * 4;
	st.bytes[SPE_PLANE_POSITIONS] = 0;
	same &= !memcmp(&st, &a.res.stats, sizeof(st));
	ok(same, "%s: positions[r] = r gives the slot positions' output and "
	   "statistics bit for bit (+%u list bytes)", name, s.kv_rows * 4);
	llm_test_free(&a);
	llm_test_free(&b);
	free(pos);
}

/* A list of @s.kv_rows positions against the reference using it. */
static void check_list(const char *name, struct llm_spec s,
		       const uint32_t *pos, uint64_t seed)
{
	struct llm_test t;
	int rc = run_with_positions(&t, s, pos, seed);

	if (ok(rc == 0, "%s: decodes and runs", name))
		check_against_ref(name, &t, pos);
	llm_test_free(&t);
}

static void test_position_lists(void)
{
	struct llm_spec s = {
		.heads = 8, .kv_heads = 2, .d = 64, .q_rows = 64,
		.kv_rows = 64, .flags = SPATTEN_DESC_F_CAUSAL |
		SPATTEN_DESC_F_ROPE, .rope_base = 10000,
		.k_fmt = SPATTEN_FMT_S16, .v_fmt = SPATTEN_FMT_S16, FRAC12,
	};
	uint32_t pos[105], i;

	check_identity_list("causal prefill 64, 8/2", s, 301);
	s.generation = 1, s.q_rows = 1, s.kv_rows = 700, s.q_start = 699;
	check_identity_list("generation at 700, 8/2", s, 302);

	/* After an eviction: 4 sink tokens, then positions 900..1000. */
	for (i = 0; i < 105; i++)
		pos[i] = i < 4 ? i : 896 + i;
	s.kv_rows = 105, s.q_start = 104;
	check_list("evicted 0-3, 900-1000, generation (query at 1000)", s,
		   pos, 303);
	s.generation = 0, s.q_rows = 105, s.q_start = 0;
	check_list("evicted 0-3, 900-1000, causal prefill 105", s, pos, 304);
	/* Not monotonic: each slot's own entry, not its rank. */
	for (i = 0; i < 105; i++)
		pos[i] = (i * 37) % 1009 + 5000;
	check_list("scrambled positions 5000-6008, causal prefill 105", s,
		   pos, 305);
}

/* ---- (d) Without the flag ----------------------------------------------- */

/*
 * A RoPE job, then the same buffers without the flag: the cache is the
 * same bytes after the RoPE job (the device rotates its own copy), and
 * the second job matches the reference without rotation.
 */
static void test_no_flag(void)
{
	struct llm_spec s = {
		.heads = 8, .kv_heads = 2, .d = 64, .generation = 1,
		.flags = SPATTEN_DESC_F_CAUSAL | SPATTEN_DESC_F_ROPE,
		.q_rows = 1, .kv_rows = 400, .q_start = 399,
		.rope_base = 10000, .k_fmt = SPATTEN_FMT_S16,
		.v_fmt = SPATTEN_FMT_S16, FRAC12,
	};
	size_t kbytes;
	uint8_t *kcopy;
	struct llm_test t;
	int rc, same;

	llm_test_init(&t, &s, 8192, 8192, 16384, 401, NULL, 0);
	kbytes = t.m.size[SPE_PLANE_K_MSB];
	kcopy = malloc(kbytes);
	memcpy(kcopy, t.m.data[SPE_PLANE_K_MSB], kbytes);
	rc = llm_test_run(&t);
	same = !memcmp(kcopy, t.m.data[SPE_PLANE_K_MSB], kbytes);
	ok(rc == 0 && t.decode_rc == 0 && same,
	   "RoPE generation at 400 runs (%d) and leaves the K cache as it "
	   "was", rc);

	t.s.flags &= (uint16_t)~SPATTEN_DESC_F_ROPE;
	t.s.rope_base = 0;
	if (run_ok(&t, "the same buffers without ROPE"))
		check_against_ref("without ROPE, keys as stored", &t, NULL);
	free(kcopy);
	llm_test_free(&t);
}

int main(void)
{
	test_rope_rows();
	test_rope_jobs();
	test_position_lists();
	test_no_flag();
	return done_testing();
}
