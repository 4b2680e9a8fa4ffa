// SPDX-License-Identifier: MIT
/*
 * spe_run() against an independent double-precision reference: the exact
 * real-number attention of the same fixed-point operands, written here with
 * plain loops and libm's exp (no engine code). Every case must stay within
 * spe_out_tolerance() and should typically be far inside it.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "attn_harness.h"
#include "spe_internal.h"
#include "tap.h"

/* ---- The reference ----------------------------------------------------- */

static double *reference(const struct att_run *run)
{
	const struct att_case *c = &run->c;
	double qs = ldexp(1.0, -c->q_frac), ks = ldexp(1.0, -c->k_frac);
	double vs = ldexp(1.0, -c->v_frac), os = ldexp(1.0, -c->out_frac);
	double *ref = calloc(att_out_elems(c), sizeof(*ref));
	double *s = calloc(c->kv_rows, sizeof(*s));
	uint32_t h, i, j, x;

	for (h = 0; h < c->heads; h++) {
		const int16_t *q = run->qd + (size_t)h * c->q_rows * c->d;
		const int16_t *k = run->kd + (size_t)h * c->kv_rows * c->d;
		const int16_t *v = run->vd + (size_t)h * c->kv_rows * c->d;

		for (i = 0; i < c->q_rows; i++) {
			uint32_t n = c->causal ? c->q_start + i + 1 : c->kv_rows;
			double *o = ref + ((size_t)h * c->q_rows + i) * c->d;
			double max = -INFINITY, sum = 0.0;

			for (j = 0; j < n; j++) {
				double dot = 0.0;

				for (x = 0; x < c->d; x++)
					dot += (q[i * c->d + x] * qs) *
					       (k[j * c->d + x] * ks);
				s[j] = dot / sqrt((double)c->d);
				if (s[j] > max)
					max = s[j];
			}
			for (j = 0; j < n; j++) {
				s[j] = exp(s[j] - max);
				sum += s[j];
			}
			for (x = 0; x < c->d; x++) {
				double acc = 0.0;

				for (j = 0; j < n; j++)
					acc += s[j] * (v[j * c->d + x] * vs);
				acc /= sum;
				/* The output saturates to int16. */
				if (acc > 32767 * os)
					acc = 32767 * os;
				if (acc < -32768 * os)
					acc = -32768 * os;
				o[x] = acc;
			}
		}
	}
	free(s);
	return ref;
}

static double max_abs_v_real(const struct att_run *run)
{
	size_t n = (size_t)run->c.heads * run->c.kv_rows * run->c.d, i;
	double m = 0.0;

	for (i = 0; i < n; i++)
		if (fabs((double)run->vd[i]) > m)
			m = fabs((double)run->vd[i]);
	return ldexp(m, -run->c.v_frac);
}

/* ---- One case: run, compare, check the reads ------------------------- */

struct case_result {
	double max_err, mean_err, tol;
	size_t n_sat_hi, n_sat_lo;
	uint64_t hash;
};

static uint32_t kv_used(const struct att_case *c)
{
	return c->causal ? c->q_start + c->q_rows : c->kv_rows;
}

/*
 * Runs @c and emits three results: error within tolerance, error typically
 * small (mean below @mean_frac of the bound), reads exact.
 */
static void check_case(const struct att_case *c, double mean_frac,
		       struct case_result *cr)
{
	struct att_run run;
	struct case_result r = { 0 };
	size_t n = att_out_elems(c), i;
	uint64_t want_q = (uint64_t)c->heads * c->q_rows * c->d * 2;
	uint64_t want_kv = (uint64_t)c->heads * kv_used(c) * c->d * 2;
	double *ref, sum = 0.0;
	int rc;

	att_setup(&run, c);
	if (!ok(run.decode_rc == SPATTEN_HW_OK, "%s: decodes", c->name)) {
		att_teardown(&run);
		return;
	}
	rc = att_execute(&run);
	ref = reference(&run);
	r.tol = spe_out_tolerance(&run.job, max_abs_v_real(&run));
	for (i = 0; i < n; i++) {
		double got = ldexp((double)run.outd[i], -c->out_frac);
		double err = fabs(got - ref[i]);

		if (err > r.max_err)
			r.max_err = err;
		sum += err;
		r.n_sat_hi += run.outd[i] == INT16_MAX;
		r.n_sat_lo += run.outd[i] == INT16_MIN;
	}
	r.mean_err = sum / (double)n;
	r.hash = att_out_hash(&run);

	ok(rc == SPATTEN_HW_OK && r.max_err <= r.tol,
	   "%s: max |error| %.3g <= tolerance %.3g (status %d)", c->name,
	   r.max_err, r.tol, rc);
	ok(rc == SPATTEN_HW_OK && r.mean_err <= r.tol * mean_frac,
	   "%s: mean |error| %.3g is %.1f%% of the bound", c->name,
	   r.mean_err, 100.0 * r.mean_err / r.tol);
	ok(!run.rd.reread && run.rd.bytes[SPE_PLANE_Q] == want_q &&
	   run.rd.bytes[SPE_PLANE_K_MSB] == want_kv &&
	   run.rd.bytes[SPE_PLANE_V] == want_kv &&
	   run.rd.bytes[SPE_PLANE_K_LSB] == 0 &&
	   !run.rd.rewrite && run.rd.wbytes[SPE_PLANE_OUT] == want_q &&
	   !memcmp(run.rd.bytes, run.res.stats.bytes, 4 * sizeof(uint64_t)) &&
	   run.res.stats.bytes[SPE_PLANE_OUT] == want_q,
	   "%s: reads every needed byte once (Q %llu, K %llu, V %llu), "
	   "writes every output byte once; stats agree", c->name,
	   (unsigned long long)run.rd.bytes[SPE_PLANE_Q],
	   (unsigned long long)run.rd.bytes[SPE_PLANE_K_MSB],
	   (unsigned long long)run.rd.bytes[SPE_PLANE_V]);
	free(ref);
	att_teardown(&run);
	if (cr)
		*cr = r;
}

/* Realistic operands: |Q|, |K| <= 2 with 12 fraction bits, |V| <= 4. */
#define REALISTIC .q_frac = 12, .k_frac = 12, .v_frac = 12, .out_frac = 12, \
	.q_amp = 8192, .k_amp = 8192, .v_amp = 16384

static void test_summarization_dense(void)
{
	struct att_case c = { .name = "summarization 4x64x64 D64",
			      .heads = 4, .d = 64, .q_rows = 64,
			      .kv_rows = 64, REALISTIC, .seed = 1 };

	check_case(&c, 0.25, NULL);
}

static void test_summarization_causal(void)
{
	struct att_case c = { .name = "summarization causal 4x64x64 D64",
			      .heads = 4, .d = 64, .q_rows = 64,
			      .kv_rows = 64, .causal = 1, REALISTIC,
			      .seed = 2 };

	check_case(&c, 0.25, NULL);
}

static void test_generation(void)
{
	struct att_case c = { .name = "generation 1 query x 300 keys",
			      .heads = 2, .d = 64, .q_rows = 1,
			      .kv_rows = 300, .q_start = 299, .causal = 1,
			      .generation = 1, REALISTIC, .seed = 3 };

	check_case(&c, 0.1, NULL);
}

static void test_head_dims(void)
{
	static const uint32_t dims[] = { 16, 32, 128, 256 };
	static const uint32_t kv[] = { 37, 45, 23, 9 };
	static const char *const names[] = {
		"D16, 37 keys", "D32, 45 keys", "D128, 23 keys", "D256, 9 keys",
	};
	size_t i;

	for (i = 0; i < 4; i++) {
		struct att_case c = { .name = names[i], .heads = 3,
				      .d = dims[i], .q_rows = 11,
				      .kv_rows = kv[i], REALISTIC,
				      .seed = 10 + i };

		check_case(&c, 0.25, NULL);
	}
}

static void test_odd_kv_rows(void)
{
	struct att_case c = { .name = "odd kv_rows 77 (not a multiple of 8)",
			      .heads = 2, .d = 64, .q_rows = 5,
			      .kv_rows = 77, REALISTIC, .seed = 20 };

	check_case(&c, 0.25, NULL);
}

static void test_causal_q_start(void)
{
	/* Keys 30..39 are visible to no query: never read. */
	struct att_case c = { .name = "causal q_start 20, 10 queries, 40 keys",
			      .heads = 2, .d = 32, .q_rows = 10,
			      .kv_rows = 40, .q_start = 20, .causal = 1,
			      REALISTIC, .seed = 21 };

	check_case(&c, 0.25, NULL);
}

static void test_out_frac_shifts(void)
{
	struct att_case a = { .name = "v_frac 8 -> out_frac 12 (shift 11)",
			      .heads = 2, .d = 64, .q_rows = 8, .kv_rows = 50,
			      .q_frac = 10, .k_frac = 9, .v_frac = 8,
			      .out_frac = 12, .q_amp = 2000, .k_amp = 1000,
			      .v_amp = 1500, .seed = 30 };
	struct att_case b = { .name = "v_frac 0 -> out_frac 15 (shift 0)",
			      .heads = 2, .d = 16, .q_rows = 8, .kv_rows = 33,
			      .q_frac = 3, .k_frac = 3, .v_frac = 0,
			      .out_frac = 15, .q_amp = 20, .k_amp = 20,
			      .v_amp = 1, .seed = 31 };
	struct att_case d = { .name = "v_frac 14 -> out_frac 2 (shift 27)",
			      .heads = 2, .d = 32, .q_rows = 8, .kv_rows = 40,
			      .q_frac = 14, .k_frac = 14, .v_frac = 14,
			      .out_frac = 2, .q_amp = 30000, .k_amp = 30000,
			      .v_amp = 32767, .seed = 32 };

	check_case(&a, 0.25, NULL);
	/* shift 0: no output rounding, the bound is almost all rounding. */
	check_case(&b, 0.5, NULL);
	/* Output LSB 0.25 vs |V| < 2: rounding dominates, mean ~ half. */
	check_case(&d, 0.6, NULL);
}

static void test_saturation(void)
{
	struct att_case c = { .name = "saturation (|V| up to 2^15, out 2^11)",
			      .heads = 2, .d = 64, .q_rows = 16,
			      .kv_rows = 24, .q_frac = 8, .k_frac = 8,
			      .v_frac = 0, .out_frac = 4, .q_amp = 4000,
			      .k_amp = 4000, .v_amp = 32767, .seed = 40 };
	struct case_result r;

	check_case(&c, 0.25, &r);
	ok(r.n_sat_hi > 0 && r.n_sat_lo > 0,
	   "saturation: outputs clamp to both 32767 (%zu) and -32768 (%zu)",
	   r.n_sat_hi, r.n_sat_lo);
}

static void test_peaked_softmax(void)
{
	/* Scores spread over hundreds of units: most exps flush to 0. */
	struct att_case c = { .name = "peaked softmax (exp underflow)",
			      .heads = 2, .d = 64, .q_rows = 16,
			      .kv_rows = 100, .q_frac = 4, .k_frac = 4,
			      .v_frac = 12, .out_frac = 12, .q_amp = 32767,
			      .k_amp = 32767, .v_amp = 16384, .seed = 50 };

	check_case(&c, 0.25, NULL);
}

static void test_extreme_operands(void)
{
	/* Every element -32768: largest scores, uniform softmax. */
	struct att_case c = { .name = "all elements -32768, D256",
			      .heads = 1, .d = 256, .q_rows = 3,
			      .kv_rows = 200, .q_frac = 0, .k_frac = 0,
			      .v_frac = 15, .out_frac = 15, .fill = -32768,
			      .seed = 60 };

	check_case(&c, 0.5, NULL);
}

static void test_page_list_operands(void)
{
	struct att_case c = { .name = "causal, all operands in page lists",
			      .heads = 3, .d = 64, .q_rows = 40,
			      .kv_rows = 70, .q_start = 30, .causal = 1,
			      REALISTIC, .seed = 70 };
	struct case_result paged, contig;

	c.page_list = 1;
	check_case(&c, 0.25, &paged);
	c.page_list = 0;
	c.name = "causal, same operands contiguous";
	check_case(&c, 0.25, &contig);
	ok(paged.hash == contig.hash,
	   "page-list and contiguous operands give identical output bytes");
}

static void test_determinism(void)
{
	struct att_case c = { .name = "determinism", .heads = 2, .d = 64,
			      .q_rows = 33, .kv_rows = 57, .causal = 1,
			      .q_start = 24, REALISTIC, .seed = 80 };
	struct att_run a, b;

	att_setup(&a, &c);
	att_setup(&b, &c);
	att_execute(&a);
	att_execute(&b);
	ok(a.res.status == SPATTEN_HW_OK && b.res.status == SPATTEN_HW_OK &&
	   !memcmp(a.outd, b.outd, att_out_elems(&c) * 2) &&
	   a.res.cycles == b.res.cycles &&
	   !memcmp(&a.res.stats, &b.res.stats, sizeof(a.res.stats)),
	   "same job twice: identical output bytes and cycles");
	att_teardown(&a);
	att_teardown(&b);
}

static void test_read_failure_mid_job(void)
{
	struct att_case c = { .name = "fail", .heads = 3, .d = 32,
			      .q_rows = 8, .kv_rows = 16, REALISTIC,
			      .seed = 90 };
	unsigned int n_calls = 3 * 4, at;	/* Q, K, V reads, out write */
	struct att_run run;
	int good = 1, rc;

	att_setup(&run, &c);
	run.rd.fail_at = 3;
	run.rd.fail_rc = SPATTEN_HW_ERR_DMA_READ;
	rc = att_execute(&run);
	ok(rc == SPATTEN_HW_ERR_DMA_READ && run.res.cycles == 0 &&
	   run.rd.calls == 3,
	   "3rd read fails: ERR_DMA_READ, no further reads, cycles 0");
	att_teardown(&run);

	for (at = 1; at <= n_calls; at++) {
		int is_write = at % 4 == 0;

		att_setup(&run, &c);
		run.rd.fail_at = at;
		run.rd.fail_rc = at & 1 ? SPATTEN_HW_ERR_PAGE_LIST : -5;
		rc = att_execute(&run);
		good &= rc == (at & 1 ? SPATTEN_HW_ERR_PAGE_LIST :
			       is_write ? SPATTEN_HW_ERR_DMA_WRITE :
					  SPATTEN_HW_ERR_DMA_READ);
		good &= run.rd.calls == at && run.res.cycles == 0;
		att_teardown(&run);
	}
	ok(good, "a failure at each of the %u reads and writes ends the job "
	   "with the callback's status (or ERR_DMA_READ/WRITE for a "
	   "non-status)", n_calls);

	att_setup(&run, &c);
	rc = att_execute(&run);
	ok(rc == SPATTEN_HW_OK && run.rd.reads == 9 && run.rd.writes == 3,
	   "an unfailed run reads Q, K, V once per head and writes its "
	   "output once per head (%u reads, %u writes)", run.rd.reads,
	   run.rd.writes);
	att_teardown(&run);
}

static int no_read(void *opaque, enum spe_plane plane, uint64_t off,
		   void *dst, size_t len)
{
	(void)plane;
	(void)off;
	(void)dst;
	(void)len;
	++*(int *)opaque;
	return SPATTEN_HW_ERR_DMA_READ;
}

static void test_max_scratch(void)
{
	struct att_case c = { .name = "scratch", .heads = 2, .d = 32,
			      .q_rows = 8, .kv_rows = 16, REALISTIC,
			      .seed = 91 };
	struct att_run run;
	int rc;

	att_setup(&run, &c);
	run.caps.max_scratch = 4096;
	rc = att_execute(&run);
	ok(rc == SPATTEN_HW_ERR_NO_MEMORY && run.rd.calls == 0 &&
	   run.res.cycles == 0,
	   "scratch above caps.max_scratch: ERR_NO_MEMORY before any read");
	att_teardown(&run);

	att_setup(&run, &c);
	run.caps.max_scratch = 64u << 20;
	rc = att_execute(&run);
	ok(rc == SPATTEN_HW_OK, "the same job within max_scratch runs");
	att_teardown(&run);
}

static void test_nop_run(void)
{
	struct spe_job job = { .opcode = SPATTEN_OP_NOP, .tag = 5 };
	int calls = 0;
	struct spe_mem mem = { .read = no_read, .opaque = &calls };
	struct spe_result res;
	struct spe_caps caps;
	int rc;

	test_caps(&caps);
	rc = spe_run(&job, &caps, &mem, &res);
	ok(rc == SPATTEN_HW_OK && res.status == SPATTEN_HW_OK &&
	   res.cycles == SPE_NOP_CYCLES && res.lsb_refetches == 0 &&
	   calls == 0, "NOP: OK, %d cycles, touches no memory",
	   SPE_NOP_CYCLES);
}

static void test_hand_built_job_rejected(void)
{
	struct spe_job job = { .opcode = SPATTEN_OP_ATTENTION, .n_heads = 1,
			       .head_dim = 64, .q_rows = 4, .kv_rows = 4,
			       .q_start = 3, .flags = SPATTEN_DESC_F_CAUSAL };
	int calls = 0;
	struct spe_mem mem = { .read = no_read, .opaque = &calls };
	struct spe_result res;
	struct spe_caps caps;
	int good = 1;

	test_caps(&caps);
	good &= spe_run(&job, &caps, &mem, &res) == SPATTEN_HW_ERR_POSITION;
	job.q_start = 0;
	job.head_dim = 48;
	good &= spe_run(&job, &caps, &mem, &res) == SPATTEN_HW_ERR_SHAPE;
	job.head_dim = 64;
	job.out_frac = 16;
	good &= spe_run(&job, &caps, &mem, &res) == SPATTEN_HW_ERR_FORMAT;
	job.out_frac = 0;
	job.flags = SPATTEN_DESC_F_PROGRESSIVE;	/* with an S16 K */
	good &= spe_run(&job, &caps, &mem, &res) == SPATTEN_HW_ERR_FORMAT;
	job.flags = 0;
	job.value_keep = 5;			/* more than kv_rows */
	good &= spe_run(&job, &caps, &mem, &res) == SPATTEN_HW_ERR_KEEP;
	job.value_keep = 0;
	job.token_keep = 2;			/* summarization: q_rows */
	job.q_rows = 3;				/* must equal kv_rows */
	good &= spe_run(&job, &caps, &mem, &res) == SPATTEN_HW_ERR_POSITION;
	job.opcode = 7;
	good &= spe_run(&job, &caps, &mem, &res) == SPATTEN_HW_ERR_OPCODE;
	ok(good && calls == 0,
	   "spe_run refuses an inconsistent hand-built job before any read");
}

static void test_tolerance_formula(void)
{
	struct spe_job job = { .opcode = SPATTEN_OP_ATTENTION, .kv_rows = 64,
			       .out_frac = 12 };
	double want = (64 * (1.0 / 65536 + 4e-7) + 1e-6) * 2.0 +
		      1.0 / 8192;

	ok(fabs(spe_out_tolerance(&job, 2.0) - want) < 1e-15 &&
	   spe_out_tolerance(&job, -2.0) == spe_out_tolerance(&job, 2.0),
	   "spe_out_tolerance = (kv_rows (2^-16 + 4e-7) + 1e-6) max|V| + "
	   "2^-(out_frac+1)");
}

int main(void)
{
	test_summarization_dense();
	test_summarization_causal();
	test_generation();
	test_head_dims();
	test_odd_kv_rows();
	test_causal_q_start();
	test_out_frac_shifts();
	test_saturation();
	test_peaked_softmax();
	test_extreme_operands();
	test_page_list_operands();
	test_determinism();
	test_read_failure_mid_job();
	test_nop_run();
	test_max_scratch();
	test_hand_built_job_rejected();
	test_tolerance_formula();
	return done_testing();
}
