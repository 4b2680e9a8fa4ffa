// SPDX-License-Identifier: MIT
/*
 * Pruning and progressive quantization, job by job, against the plain
 * reference of prune_ref.c: kept token and head sets exactly, outputs
 * within the error bound, importance updates within their rounding,
 * refetch decisions, and the traffic (every byte read or written counted
 * by the test's own callbacks, equal to the analytic count and to the
 * engine's statistics). Also: every feature off equals version 1 bit for
 * bit, packed formats, and the run-time list and keep errors.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attn_harness.h"
#include "prune_ref.h"
#include "spe_internal.h"
#include "tap.h"

#define REALISTIC .q_frac = 12, .k_frac = 12, .v_frac = 12, .out_frac = 12, \
	.q_amp = 8192, .k_amp = 8192, .v_amp = 16384

struct cmp {
	int status_ok, sets_ok, out_ok, imp_ok, bytes_ok, counts_ok;
	double max_err_frac;	/* largest error / tolerance */
	uint64_t refetches;
};

static int cmp_all(const struct cmp *m)
{
	return m->status_ok && m->sets_ok && m->out_ok && m->imp_ok &&
	       m->bytes_ok && m->counts_ok;
}

/*
 * Run @run (set up, decoded) and the reference with the same importance
 * inputs; compare everything. The engine's importance inputs are the
 * harness's; @tok_in / @head_in are the same values as doubles.
 */
static void compare(struct att_run *run, const double *tok_in,
		    const double *head_in, struct ref_result *r,
		    struct cmp *m)
{
	const struct att_case *c = &run->c;
	uint64_t seen_bytes[SPE_PLANE_COUNT];
	uint32_t i, h, row, x, contrib;
	int rc, p;

	memset(m, 0, sizeof(*m));
	rc = att_execute(run);
	ref_job(run, tok_in, head_in, r);
	m->status_ok = rc == r->status;
	if (rc) {
		/* A failed job: no output, no cascade state written. */
		uint64_t w = 0;

		for (p = 0; p < SPE_PLANE_COUNT; p++)
			w += run->rd.wbytes[p];
		m->sets_ok = m->out_ok = m->imp_ok = m->counts_ok = 1;
		m->bytes_ok = w == 0 && run->res.cycles == 0;
		return;
	}

	/* Kept sets, exactly. */
	m->sets_ok = run->res.stats.tokens_kept == r->n_tok &&
		     run->res.stats.heads == r->n_heads;
	if (c->token_keep)
		for (i = 0; i < r->n_tok; i++)
			m->sets_ok &= run->tok_kept[i] == r->tok[i];
	if (c->head_keep) {
		m->sets_ok &= run->res.stats.heads_kept == c->head_keep;
		for (i = 0; i < c->head_keep; i++)
			m->sets_ok &= run->head_kept[i] == r->head_kept[i];
	}

	/* Outputs: computed rows within the bound, the others untouched. */
	m->out_ok = 1;
	for (h = 0; h < c->heads; h++)
		for (row = 0; row < c->q_rows; row++) {
			size_t base = ((size_t)h * c->q_rows + row) * c->d;
			double tol = ref_tolerance(c, c->kv_rows, r->max_abs_v);

			for (x = 0; x < c->d; x++) {
				int16_t got = run->outd[base + x];
				double err;

				if (!r->computed[base / c->d]) {
					m->out_ok &= (uint16_t)got ==
						     ATT_OUT_SENTINEL;
					continue;
				}
				err = fabs(ldexp(got, -c->out_frac) -
					   r->out[base + x]);
				m->out_ok &= err <= tol;
				if (err / tol > m->max_err_frac)
					m->max_err_frac = err / tol;
			}
		}

	/* Importance: each (head, row) contribution rounds by <= 1/2. */
	m->imp_ok = 1;
	contrib = r->n_heads * r->n_rows;
	if (c->with_tok_imp || c->token_keep)
		for (i = 0; i < c->kv_rows; i++)
			m->imp_ok &= fabs((double)run->tok_imp[i] -
					  r->tok_imp[i]) <=
				     contrib * 0.501 + 1.0;
	if (c->with_head_imp || c->head_keep)
		for (h = 0; h < c->heads; h++) {
			double tol = ref_tolerance(c, c->kv_rows,
						   r->max_abs_v) * 65536 *
				     r->n_rows * c->d;

			m->imp_ok &= fabs((double)run->head_imp[h] -
					  r->head_imp[h]) <= tol + 1.0;
		}

	/* Traffic: seen by our callbacks == analytic == engine stats. */
	m->bytes_ok = !run->rd.reread && !run->rd.rewrite;
	for (p = 0; p < SPE_PLANE_COUNT; p++) {
		seen_bytes[p] = run->rd.bytes[p] + run->rd.wbytes[p];
		if (seen_bytes[p] != r->bytes[p] ||
		    run->res.stats.bytes[p] != r->bytes[p]) {
			diag("%s: plane %d: seen %llu, stats %llu, analytic "
			     "%llu", c->name, p,
			     (unsigned long long)seen_bytes[p],
			     (unsigned long long)run->res.stats.bytes[p],
			     (unsigned long long)r->bytes[p]);
			m->bytes_ok = 0;
		}
	}
	m->refetches = run->res.lsb_refetches;
	m->counts_ok = run->res.stats.refetch_rows == r->refetch_rows &&
		       run->res.lsb_refetches == r->refetch_rows &&
		       run->res.stats.pv_rows == r->pv_rows &&
		       run->res.stats.qk_scores == r->qk_scores &&
		       run->res.stats.query_rows ==
				(uint64_t)r->n_heads * r->n_rows &&
		       run->res.cycles == spe_cycles(&run->job,
						     &run->res.stats,
						     &run->caps.model);
}

static void report(const char *name, const struct cmp *m)
{
	ok(cmp_all(m), "%s: status, kept sets, outputs (max %.0f%% of the "
	   "bound), importance, traffic and counts (%llu refetches) match "
	   "the reference", name, 100 * m->max_err_frac,
	   (unsigned long long)m->refetches);
	if (!cmp_all(m))
		diag("status %d sets %d out %d imp %d bytes %d counts %d",
		     m->status_ok, m->sets_ok, m->out_ok, m->imp_ok,
		     m->bytes_ok, m->counts_ok);
}

/* Run one case against the reference with importances from @imp_seed. */
static void check_case(struct att_case c, uint64_t imp_seed)
{
	uint64_t *ti = calloc(c.kv_rows, 8), *hi = calloc(c.heads, 8);
	double *tid = calloc(c.kv_rows, sizeof(double));
	double *hid = calloc(c.heads, sizeof(double));
	struct ref_result r;
	struct att_run run;
	struct cmp m;
	uint32_t i;

	for (i = 0; imp_seed && i < c.kv_rows; i++)
		tid[i] = ti[i] = prng_next(&imp_seed) % 5000;
	for (i = 0; imp_seed && i < c.heads; i++)
		hid[i] = hi[i] = prng_next(&imp_seed);
	c.tok_imp_init = ti;
	c.head_imp_init = hi;
	att_setup(&run, &c);
	if (ok(run.decode_rc == 0, "%s: decodes (%d)", c.name,
	       run.decode_rc)) {
		compare(&run, tid, hid, &r, &m);
		report(c.name, &m);
		ref_free(&r);
	}
	att_teardown(&run);
	free(ti);
	free(hi);
	free(tid);
	free(hid);
}

/* ---- Every feature off: version 1 bit for bit ------------------------- */

static void test_features_off_equal_v1(void)
{
	struct att_case c = { .name = "v1", .heads = 3, .d = 64, .q_rows = 40,
			      .kv_rows = 70, .q_start = 30, .causal = 1,
			      REALISTIC, .seed = 5, .version = 1 };
	struct att_run a, b, i;

	att_setup(&a, &c);
	c.version = 2;
	att_setup(&b, &c);
	c.with_tok_imp = c.with_head_imp = 1;
	att_setup(&i, &c);
	ok(a.decode_rc == 0 && b.decode_rc == 0 && i.decode_rc == 0 &&
	   att_execute(&a) == 0 && att_execute(&b) == 0 &&
	   att_execute(&i) == 0, "v1, v2 (all off) and v2 accumulating "
	   "importance only: all run");
	ok(!memcmp(a.outd, b.outd, att_out_elems(&c) * 2) &&
	   !memcmp(&a.res.stats, &b.res.stats, sizeof(a.res.stats)) &&
	   a.res.cycles == b.res.cycles,
	   "v2 descriptor with every feature off = v1: same output bytes, "
	   "statistics and cycles");
	ok(!memcmp(a.outd, i.outd, att_out_elems(&c) * 2) &&
	   !memcmp(a.rd.bytes, i.rd.bytes, 5 * sizeof(uint64_t)),
	   "accumulating importance changes neither output nor data reads");
	att_teardown(&a);
	att_teardown(&b);
	att_teardown(&i);

	c.version = 0;
	c.with_tok_imp = c.with_head_imp = 1;
	c.name = "v2 dense, importance accumulated";
	check_case(c, 0);
}

/* ---- Token, head and value pruning -------------------------------------- */

static void test_token_pruning(void)
{
	static const uint16_t pinned[] = { 0, 17 };
	static const uint16_t alive[] = { 0, 2, 3, 5, 8, 9, 10, 11, 17, 20,
					  21, 22, 25, 30, 31, 33, 38, 39 };
	static const uint16_t gen_alive[] = { 1, 4, 9, 16, 25, 36, 49, 64,
					      81, 100, 121, 144, 169, 190 };
	struct att_case c = { .name = "summarization, token_keep 20 of 40, "
			      "2 pinned", .heads = 3, .d = 64, .q_rows = 40,
			      .kv_rows = 40, REALISTIC, .seed = 11,
			      .token_keep = 20, .pinned = pinned,
			      .n_pinned = 2, .topk_seed = 3 };

	check_case(c, 77);
	c.name = "causal summarization over an alive list, keep 9 of 18";
	c.causal = 1;
	c.tok_alive = alive;
	c.n_tok_alive = 18;
	c.token_keep = 9;
	check_case(c, 78);
	c.name = "token list without pruning (importance only)";
	c.token_keep = 0;
	c.n_pinned = 0;
	c.with_tok_imp = 1;
	check_case(c, 79);

	c = (struct att_case){ .name = "generation over an alive list "
			       "without the current token, keep 6",
			       .heads = 4, .d = 32, .q_rows = 1,
			       .kv_rows = 200, .q_start = 199, .causal = 1,
			       .generation = 1, REALISTIC, .seed = 12,
			       .tok_alive = gen_alive, .n_tok_alive = 14,
			       .token_keep = 6, .topk_seed = 99 };
	check_case(c, 80);
	c.name = "generation, all tokens candidates, keep 50 of 200";
	c.n_tok_alive = 0;
	c.tok_alive = NULL;
	c.token_keep = 50;
	check_case(c, 81);
}

static void test_head_pruning(void)
{
	static const uint16_t alive[] = { 1, 2, 4, 6, 7 };
	struct att_case c = { .name = "head pruning: 8 heads, keep 5",
			      .heads = 8, .d = 32, .q_rows = 12,
			      .kv_rows = 30, REALISTIC, .seed = 13,
			      .head_keep = 5 };

	check_case(c, 90);
	c.name = "head alive list 5 of 8, keep 2";
	c.head_alive = alive;
	c.n_head_alive = 5;
	c.head_keep = 2;
	check_case(c, 91);
	c.name = "head alive list, importance only";
	c.head_keep = 0;
	c.with_head_imp = 1;
	check_case(c, 92);
}

static void test_value_pruning(void)
{
	struct att_case c = { .name = "value pruning: summarization causal, "
			      "keep 8 V rows per query", .heads = 2, .d = 64,
			      .q_rows = 50, .kv_rows = 50, .causal = 1,
			      REALISTIC, .seed = 14, .value_keep = 8 };

	check_case(c, 0);
	c = (struct att_case){ .name = "value pruning: generation 1024 keys, "
			       "keep 20%", .heads = 2, .d = 64, .q_rows = 1,
			       .kv_rows = 1024, .q_start = 1023, .causal = 1,
			       .generation = 1, REALISTIC, .seed = 15,
			       .value_keep = 204 };
	check_case(c, 0);
	c.name = "token + value pruning: generation keep 300, 60 values";
	c.token_keep = 300;
	c.value_keep = 60;
	check_case(c, 16);
}

/*
 * With value pruning a head ends with one pass over its rows (prob x the
 * kept V rows) as long as its scores: it polls the cancellation like the
 * blocks do (every 256 Ki V rows), so an unplug or reset does not wait
 * for the whole pass. V is read only at the start of that pass.
 */
static void test_value_pass_cancel(void)
{
	struct att_case c = { .name = "value pass", .heads = 1, .d = 64,
			      .q_rows = 1024, .kv_rows = 1024, REALISTIC,
			      .seed = 17, .value_keep = 600 };
	const unsigned int want = 1024 * 600 / (256 * 1024);
	struct att_run run;
	int rc;

	att_setup(&run, &c);
	rc = att_execute(&run);
	ok(rc == SPATTEN_HW_OK && run.rd.polls_after_v >= want,
	   "value pass of 1024 x 600 V rows: status %d, %u cancellation polls "
	   "during it (want >= %u)", rc, run.rd.polls_after_v, want);
	att_teardown(&run);

	att_setup(&run, &c);
	run.rd.cancel_after_v = 1;
	rc = att_execute(&run);
	ok(rc == SPATTEN_HW_ERR_ABORTED && run.rd.wbytes[SPE_PLANE_OUT] == 0,
	   "cancelled during the value pass: status %d (want ABORTED), "
	   "%llu output bytes written (want 0)", rc,
	   (unsigned long long)run.rd.wbytes[SPE_PLANE_OUT]);
	att_teardown(&run);
}

/* ---- Packed formats and progressive quantization ---------------------- */

static void test_packed_formats(void)
{
	static const uint8_t fmts[] = {
		SPATTEN_FMT_S4, SPATTEN_FMT_S6, SPATTEN_FMT_S8,
		SPATTEN_FMT_S10, SPATTEN_FMT_S12,
	};
	static const char *const names[] = {
		"K S4, V S12 static", "K S6, V S10 static",
		"K S8, V S8 static", "K S10, V S6 static",
		"K S12, V S4 static",
	};
	size_t i;

	for (i = 0; i < 5; i++) {
		struct att_case c = { .name = names[i], .heads = 2, .d = 32,
				      .q_rows = 9, .kv_rows = 37,
				      .q_frac = 12, .k_frac = 4, .v_frac = 3,
				      .out_frac = 10, .q_amp = 8192,
				      .k_fmt = fmts[i], .v_fmt = fmts[4 - i],
				      .seed = 20 + i, .page_list = i & 1 };

		c.k_amp = att_fmt_max(c.k_fmt);
		c.v_amp = att_fmt_max(c.v_fmt);
		check_case(c, 0);
	}
}

/*
 * Refetch iff the largest quantised probability of the MSB pass is below
 * the threshold: a flat head (64 equal keys, max pq 512), a moderately
 * peaked one (max pq about 17000) and a fully peaked one (max pq 2^15).
 */
static uint32_t refetches(uint16_t threshold, uint64_t *lsb_bytes)
{
	enum { H = 3, D = 32, L = 64 };
	static int16_t q[H * D], k[H * L * D], v[H * L * D];
	struct att_case c = { .name = "refetch rule", .heads = H, .d = D,
			      .q_rows = 1, .kv_rows = L, .q_start = L - 1,
			      .causal = 1, .generation = 1, .q_frac = 8,
			      .k_frac = 8, .v_frac = 8, .out_frac = 8,
			      .k_fmt = SPATTEN_FMT_S8, .progressive = 1,
			      .lsb_threshold = threshold, .q_data = q,
			      .k_data = k, .v_data = v, .seed = 1 };
	uint64_t s = 3;
	struct att_run run;
	uint32_t i, j, n = UINT32_MAX;

	for (i = 0; i < H * D; i++)
		q[i] = 256;
	for (j = 0; j < L; j++)
		for (i = 0; i < D; i++) {
			k[(0 * L + j) * D + i] = 100;
			k[(1 * L + j) * D + i] = j == 5 ? 300 : 100;
			k[(2 * L + j) * D + i] = j == 5 ? 2000 : -2000;
		}
	for (i = 0; i < H * L * D; i++)
		v[i] = (int16_t)prng_range(&s, 1000);
	att_setup(&run, &c);
	if (!run.decode_rc && !att_execute(&run))
		n = (uint32_t)run.res.lsb_refetches;
	*lsb_bytes = run.rd.bytes[SPE_PLANE_K_LSB];
	att_teardown(&run);
	return n;
}

static void test_refetch_rule(void)
{
	uint64_t lsb;
	uint32_t n;

	n = refetches(1638, &lsb);
	ok(n == 1 && lsb == 64 * 32 / 2, "threshold 1638 (0.05): only the "
	   "flat head refetches, reading its 64 LSB rows once (%u, %llu B)",
	   n, (unsigned long long)lsb);
	n = refetches(20000, &lsb);
	ok(n == 2 && lsb == 2 * 64 * 32 / 2, "threshold 20000: flat and "
	   "moderately peaked heads refetch (%u)", n);
	n = refetches(32768, &lsb);
	ok(n == 2, "threshold 2^15: a row whose max pq is exactly 2^15 is "
	   "not below it and does not refetch (%u)", n);
	n = refetches(0, &lsb);
	ok(n == 0 && lsb == 0, "threshold 0: never refetch, LSB plane never "
	   "read");
}

static void test_progressive_vs_reference(void)
{
	static const uint8_t fmts[] = {
		SPATTEN_FMT_S4, SPATTEN_FMT_S6, SPATTEN_FMT_S8,
		SPATTEN_FMT_S10, SPATTEN_FMT_S12,
	};
	size_t i;

	for (i = 0; i < 5; i++) {
		uint32_t bits = spatten_hw_fmt_bits(fmts[i]);
		struct att_case c = { .name = "", .heads = 3, .d = 64,
				      .q_rows = 24, .kv_rows = 24,
				      .causal = 1, .q_frac = 10,
				      .k_frac = (uint8_t)(bits + 4 - 3),
				      .v_frac = 12, .out_frac = 12,
				      .q_amp = 700,
				      .k_amp = (1 << (bits + 3)) - 1,
				      .v_amp = 16384, .k_fmt = fmts[i],
				      .progressive = 1,
				      .lsb_threshold = 12000,
				      .seed = 40 + i };
		static char names[5][80];

		snprintf(names[i], sizeof(names[i]),
			 "progressive %u+4, causal summarization, "
			 "threshold 12000", bits);
		c.name = names[i];
		check_case(c, 0);
	}
	{
		struct att_case c = { .name = "progressive 8+4 generation, "
				      "token + value pruning", .heads = 4,
				      .d = 64, .q_rows = 1, .kv_rows = 300,
				      .q_start = 299, .causal = 1,
				      .generation = 1, .q_frac = 10,
				      .k_frac = 9, .v_frac = 12,
				      .out_frac = 12, .q_amp = 700,
				      .k_amp = 2047, .v_amp = 16384,
				      .k_fmt = SPATTEN_FMT_S8,
				      .v_fmt = SPATTEN_FMT_S8,
				      .progressive = 1, .lsb_threshold = 1638,
				      .token_keep = 120, .value_keep = 24,
				      .seed = 50 };

		c.v_amp = 127;
		check_case(c, 51);
	}
}

/* ---- Run-time list and keep errors -------------------------------------- */

static void expect_runtime(const struct att_case *c, int want,
			   const char *what)
{
	struct att_run run;
	int rc, p;
	uint64_t w = 0;

	att_setup(&run, c);
	rc = run.decode_rc ? -run.decode_rc : att_execute(&run);
	for (p = 0; p < SPE_PLANE_COUNT; p++)
		w += run.rd.wbytes[p];
	ok(rc == want && w == 0 && run.rd.bytes[SPE_PLANE_Q] == 0 &&
	   run.rd.bytes[SPE_PLANE_K_MSB] == 0 && run.res.cycles == 0,
	   "%s: status %d (want %d), nothing written, no Q/K read", what, rc,
	   want);
	att_teardown(&run);
}

static void test_runtime_errors(void)
{
	static const uint16_t unsorted[] = { 1, 3, 2, 5 };
	static const uint16_t dup[] = { 1, 3, 3, 5 };
	static const uint16_t big[] = { 1, 3, 5, 30 };
	static const uint16_t pins[] = { 0, 1, 2 };
	static const uint16_t heads_big[] = { 0, 4 };
	static const uint16_t alive4[] = { 0, 1, 2, 3 };
	struct att_case c = { .name = "", .heads = 4, .d = 32, .q_rows = 30,
			      .kv_rows = 30, REALISTIC, .seed = 60,
			      .n_tok_alive = 4, .token_keep = 2 };

	c.tok_alive = unsorted;
	expect_runtime(&c, SPATTEN_HW_ERR_LIST, "tok_alive not ascending");
	c.tok_alive = dup;
	expect_runtime(&c, SPATTEN_HW_ERR_LIST, "tok_alive with a duplicate");
	c.tok_alive = big;
	expect_runtime(&c, SPATTEN_HW_ERR_LIST, "tok_alive entry >= kv_rows");
	c.tok_alive = alive4;
	c.pinned = unsorted;
	c.n_pinned = 4;
	c.token_keep = 4;
	expect_runtime(&c, SPATTEN_HW_ERR_LIST, "pinned not ascending");
	c.pinned = pins;
	c.n_pinned = 3;
	c.token_keep = 2;
	expect_runtime(&c, SPATTEN_HW_ERR_KEEP,
		       "3 pinned candidates, token_keep 2");
	c.n_pinned = 0;
	c.token_keep = 5;	/* <= n_tok_alive + 1 at decode, > 4 now */
	expect_runtime(&c, SPATTEN_HW_ERR_KEEP,
		       "token_keep 5 > 4 candidates (summarization)");
	c.token_keep = 2;
	c.head_alive = heads_big;
	c.n_head_alive = 2;
	expect_runtime(&c, SPATTEN_HW_ERR_LIST, "head_alive entry >= n_heads");

	c = (struct att_case){ .name = "generation: pinned tokens and the "
			       "current token kept", .heads = 2, .d = 32,
			       .q_rows = 1,
			       .kv_rows = 30, .q_start = 29, .causal = 1,
			       .generation = 1, REALISTIC, .seed = 61,
			       .tok_alive = alive4, .n_tok_alive = 4,
			       .pinned = pins, .n_pinned = 3,
			       .token_keep = 3 };
	expect_runtime(&c, SPATTEN_HW_ERR_KEEP, "generation: 3 pinned + the "
		       "current token, token_keep 3");
	c.token_keep = 4;
	check_case(c, 62);
}

/* ---- Cascade: layers and generation steps ------------------------------- */

enum { CH = 4, CD = 32, CL = 40, CLAYERS = 6, CSTEPS = 5, CMAX = CL + CSTEPS };

/* Operands with a per-token salience so importance ranks are robust. */
static void cascade_tensor(int16_t *t, uint32_t layer, uint32_t rows,
			   uint32_t kind, uint32_t step)
{
	uint32_t m, r, x;

	for (m = 0; m < CH; m++)
		for (r = 0; r < rows; r++) {
			uint64_t s = 1 + layer * 1000003ull + m * 7919 +
				     r * 104729ull + kind * 15485863ull +
				     step * 32452843ull;
			int16_t *row = t + ((size_t)m * rows + r) * CD;

			for (x = 0; x < CD; x++)
				row[x] = (int16_t)prng_range(&s, 600);
			if (kind == 1)	/* K: salience of the token */
				row[0] = (int16_t)(((r * 37) % CMAX) * 400 -
						   8000);
			if (kind == 0)	/* Q: looks for salience */
				row[0] = (int16_t)(8000 + 500 * m);
			if (kind == 2)	/* V: heads of distinct magnitude */
				for (x = 0; x < CD; x++)
					row[x] = (int16_t)(row[x] *
							   (1 + m) * 3);
		}
}

struct cascade_state {
	uint64_t tok_imp[CMAX];
	double tok_ref[CMAX];
	uint64_t head_imp[CH];
	double head_ref[CH];
	uint16_t alive[CLAYERS][CMAX];	/* kept at layer l, last pass */
	uint16_t n_alive[CLAYERS];
	uint16_t heads[CLAYERS][CH];
	uint16_t n_heads[CLAYERS];
};

static void test_cascade(void)
{
	static const uint16_t tok_budget[CLAYERS] = { 0, 36, 28, 24, 20, 16 };
	static const uint16_t head_budget[CLAYERS] = { 0, 0, 3, 3, 2, 0 };
	static const uint16_t pinned[] = { 0 };
	static struct cascade_state st;
	static int16_t q[CH * CMAX * CD], k[CH * CMAX * CD], v[CH * CMAX * CD];
	struct cmp all = { 1, 1, 1, 1, 1, 1, 0, 0 };
	int sets_exact = 1, imp_close = 1, jobs = 0, step;
	double tok_bound = 1.0, head_bound[CH] = { 1, 1, 1, 1 };
	uint32_t l, i;

	memset(&st, 0, sizeof(st));
	for (step = -1; step < CSTEPS; step++) {
		uint32_t L = step < 0 ? CL : CL + step + 1;
		uint16_t cur_alive[CMAX], n_cur = 0;
		uint16_t heads_now[CH], n_heads_now = CH;

		for (i = 0; i < CH; i++)
			heads_now[i] = (uint16_t)i;
		for (l = 0; l < CLAYERS; l++) {
			struct att_case c = {
				.name = "cascade", .heads = CH, .d = CD,
				.q_frac = 12, .k_frac = 12, .v_frac = 12,
				.out_frac = 12, .q_data = q, .k_data = k,
				.v_data = v, .with_tok_imp = 1,
				.with_head_imp = 1, .topk_seed = l * 7 + 1,
				.value_keep = 12,
			};
			uint16_t cand[CMAX];
			uint32_t n_cand = 0, budget;
			struct ref_result r;
			struct att_run run;
			struct cmp m;

			cascade_tensor(q, l, step < 0 ? L : 1, 0, step + 1);
			cascade_tensor(k, l, L, 1, 0);
			cascade_tensor(v, l, L, 2, 0);
			if (step < 0) {	/* summarization, BERT-like */
				c.q_rows = c.kv_rows = L;
				/* candidates: kept by the previous layer */
				if (l > 0) {
					memcpy(cand, cur_alive, n_cur * 2);
					n_cand = n_cur;
				}
			} else {	/* generation, one new token */
				c.q_rows = 1;
				c.kv_rows = L;
				c.q_start = L - 1;
				c.causal = 1;
				c.generation = 1;
				/* alive at l last step and at l - 1 now */
				for (i = 0; i < st.n_alive[l]; i++) {
					uint16_t t = st.alive[l][i];
					uint32_t z;
					int up = l == 0;

					for (z = 0; !up && z < n_cur; z++)
						up = cur_alive[z] == t;
					if (up)
						cand[n_cand++] = t;
				}
			}
			budget = tok_budget[l];
			if (budget && n_cand && budget > n_cand + (step >= 0))
				budget = n_cand + (step >= 0);
			if (budget && !n_cand && budget > L)
				budget = L;
			c.tok_alive = cand;
			c.n_tok_alive = (uint16_t)n_cand;
			c.token_keep = (uint16_t)budget;
			if (budget && step < 0) {
				c.pinned = pinned;
				c.n_pinned = 1;
			}
			c.head_alive = heads_now;
			c.n_head_alive = n_heads_now < CH ? n_heads_now : 0;
			if (step < 0)
				c.head_keep = head_budget[l];
			if (step >= 0 && st.n_heads[l]) {
				c.head_alive = st.heads[l];
				c.n_head_alive = st.n_heads[l] < CH ?
						 st.n_heads[l] : 0;
			}
			if (step < 0) {
				st.n_heads[l] = n_heads_now;
				memcpy(st.heads[l], heads_now, 2 * CH);
			}
			c.tok_imp_init = st.tok_imp;
			c.head_imp_init = st.head_imp;

			att_setup(&run, &c);
			if (run.decode_rc) {
				diag("cascade step %d layer %u: decode %d",
				     step, l, run.decode_rc);
				all.status_ok = 0;
				att_teardown(&run);
				return;
			}
			compare(&run, st.tok_ref, st.head_ref, &r, &m);
			jobs++;
			all.status_ok &= m.status_ok;
			all.sets_ok &= m.sets_ok;
			all.out_ok &= m.out_ok;
			all.bytes_ok &= m.bytes_ok;
			all.counts_ok &= m.counts_ok;
			if (m.max_err_frac > all.max_err_frac)
				all.max_err_frac = m.max_err_frac;
			/*
			 * The reference selected from its own (double)
			 * importance, the engine from its (integer) one:
			 * equal sets mean the chains agree.
			 */
			if (!m.sets_ok) {
				sets_exact = 0;
				diag("cascade step %d layer %u: kept sets "
				     "differ", step, l);
			}
			/* Bounds accumulate job by job. */
			tok_bound += 0.501 * r.n_heads * r.n_rows;
			for (i = 0; i < r.n_heads; i++)
				head_bound[r.heads[i]] +=
					ref_tolerance(&c, L, r.max_abs_v) *
					65536.0 * r.n_rows * CD;
			for (i = 0; i < L; i++) {
				if (fabs((double)run.tok_imp[i] - r.tok_imp[i]) >
				    tok_bound)
					imp_close = 0;
				st.tok_imp[i] = run.tok_imp[i];
				st.tok_ref[i] = r.tok_imp[i];
			}
			for (i = 0; i < CH; i++) {
				if (fabs((double)run.head_imp[i] -
					 r.head_imp[i]) > head_bound[i])
					imp_close = 0;
				st.head_imp[i] = run.head_imp[i];
				st.head_ref[i] = r.head_imp[i];
			}
			/* Cascade state for the next layer and step. */
			n_cur = (uint16_t)r.n_tok;
			for (i = 0; i < r.n_tok; i++)
				cur_alive[i] = (uint16_t)r.tok[i];
			st.n_alive[l] = (uint16_t)r.n_tok;
			memcpy(st.alive[l], cur_alive, 2 * r.n_tok);
			if (c.head_keep) {
				n_heads_now = c.head_keep;
				for (i = 0; i < c.head_keep; i++)
					heads_now[i] = run.head_kept[i];
			}
			ref_free(&r);
			att_teardown(&run);
		}
	}
	ok(all.status_ok && all.out_ok && all.bytes_ok && all.counts_ok,
	   "cascade 6 layers x 4 heads, summarization + 5 generation steps "
	   "(%d jobs): every output within the bound (max %.0f%%), traffic "
	   "and counts as analysed", jobs, 100 * all.max_err_frac);
	ok(sets_exact, "cascade: token and head kept sets of every job equal "
	   "the independent reference chain's");
	ok(imp_close, "cascade: cumulative token and head importance track "
	   "the reference chain within rounding");
	ok(st.n_alive[CLAYERS - 1] == 16 && st.n_alive[1] == 36,
	   "cascade: budgets hold in the last step (layer 1 keeps 36, layer "
	   "5 keeps 16)");
}

int main(void)
{
	test_features_off_equal_v1();
	test_token_pruning();
	test_head_pruning();
	test_value_pruning();
	test_value_pass_cancel();
	test_packed_formats();
	test_refetch_rule();
	test_progressive_vs_reference();
	test_runtime_errors();
	test_cascade();
	return done_testing();
}
