// SPDX-License-Identifier: MIT
/*
 * The cycle model: the worked examples of docs/engine.md (BERT-base
 * summarization, GPT-2-small generation; full chip and SpAtten_1/8) from
 * analytic statistics, and real runs whose statistics equal the analytic
 * ones field by field, so a trace replay gets the same cycles.
 */
#include <stdint.h>
#include <string.h>

#include "attn_harness.h"
#include "spe_internal.h"
#include "tap.h"

/* Analytic statistics of a dense S16 job: what docs/engine.md says. */
static void dense_stats(struct spe_stats *st, uint32_t heads, uint32_t d,
			uint32_t q_rows, uint32_t kv_rows, int generation)
{
	uint64_t qk = generation ? (uint64_t)heads * kv_rows :
				   (uint64_t)heads * q_rows * kv_rows;

	memset(st, 0, sizeof(*st));
	st->bytes[SPE_PLANE_Q] = (uint64_t)heads * q_rows * d * 2;
	st->bytes[SPE_PLANE_K_MSB] = (uint64_t)heads * kv_rows * d * 2;
	st->bytes[SPE_PLANE_V] = (uint64_t)heads * kv_rows * d * 2;
	st->bytes[SPE_PLANE_OUT] = (uint64_t)heads * q_rows * d * 2;
	st->heads = heads;
	st->query_rows = (uint64_t)heads * q_rows;
	st->qk_scores = qk;
	st->pv_rows = qk;
	st->tokens_kept = kv_rows;
	st->heads_kept = heads;
}

static void test_constants(void)
{
	struct spe_model f = spe_model_full(), e = spe_model_eighth();

	ok(SPE_FILL_LATENCY == 102,
	   "pipeline fill: 1+1+9 + 7+21+23+29+7 + 1 + 3 = 102 cycles");
	ok(f.dram_bytes_per_cycle == 512 && f.multipliers == 512 &&
	   f.topk_comparators == 16 && f.topk_rate == 8,
	   "full chip: 512 B/cycle, 512 multipliers, top-k 16 comparators, "
	   "8 scores/cycle");
	ok(e.dram_bytes_per_cycle == 64 && e.multipliers == 128 &&
	   e.topk_comparators == 16 && e.topk_rate == 8,
	   "SpAtten_1/8: 64 B/cycle, 128 multipliers");
	ok(spe_mac_cycles(64, 64, 512) == 8 && spe_mac_cycles(65, 64, 512) == 9 &&
	   spe_mac_cycles(1, 64, 512) == 1 && spe_mac_cycles(32, 16, 512) == 1 &&
	   spe_mac_cycles(33, 16, 512) == 2 &&
	   spe_mac_cycles(3, 1024, 512) == 6 &&
	   spe_mac_cycles(0, 64, 512) == 0 && spe_mac_cycles(9, 64, 128) == 5,
	   "M multipliers: ceil(rows * head_dim / M) cycles");
}

static void test_worked_examples(void)
{
	struct spe_job job = { .opcode = SPATTEN_OP_ATTENTION, .head_dim = 64 };
	struct spe_model f = spe_model_full(), e = spe_model_eighth();
	struct spe_stats st;
	uint64_t got;

	/* BERT-base, L = 384: 12 heads x 384 x 384, D 64, S16. */
	dense_stats(&st, 12, 64, 384, 384, 0);
	got = spe_cycles(&job, &st, &f);
	/* dram 2359296/512 = 4608; compute 1769472*64/512 = 221184;
	 * (4608 + 221184 + 11 * 221184) / 12 = 221568; drain 102 + 48. */
	ok(got == 221718, "BERT-base L=384, full chip: 221718 cycles (got "
	   "%llu)", (unsigned long long)got);
	got = spe_cycles(&job, &st, &e);
	/* dram 36864; compute 884736; overlap 887808; drain 102 + 192. */
	ok(got == 888102, "BERT-base L=384, SpAtten_1/8: 888102 cycles (got "
	   "%llu)", (unsigned long long)got);

	/* GPT-2-small generation step, 1024 keys: 12 heads, D 64, S16. */
	dense_stats(&st, 12, 64, 1, 1024, 1);
	got = spe_cycles(&job, &st, &f);
	/* dram 3148800/512 = 6150; compute 12288*64/512 = 1536;
	 * (6150 + 1536 + 11 * 6150) / 12 = 6278; drain 102 + 128. */
	ok(got == 6508, "GPT-2-small step L=1024, full chip: 6508 cycles "
	   "(got %llu)", (unsigned long long)got);
	got = spe_cycles(&job, &st, &e);
	/* dram 49200; compute 6144; overlap 49712; drain 102 + 512. */
	ok(got == 50326, "GPT-2-small step L=1024, SpAtten_1/8: 50326 "
	   "cycles (got %llu)", (unsigned long long)got);

	/* The same step pruned as the official trace's layers 6-11: 102
	 * keys with 8-bit MSBs, 20 values in S16, no refetch; cascade
	 * state traffic: tok_imp read + written, the 204-entry alive list
	 * read, the 102-entry kept list written. */
	memset(&st, 0, sizeof(st));
	st.bytes[SPE_PLANE_Q] = 12 * 64 * 2;
	st.bytes[SPE_PLANE_K_MSB] = 12 * 102 * 64;
	st.bytes[SPE_PLANE_V] = 12 * 20 * 64 * 2;
	st.bytes[SPE_PLANE_OUT] = 12 * 64 * 2;
	st.bytes[SPE_PLANE_TOK_IMP] = 2 * 1024 * 8;
	st.bytes[SPE_PLANE_TOK_ALIVE] = 204 * 2;
	st.bytes[SPE_PLANE_TOK_KEPT] = 102 * 2;
	st.heads = 12;
	st.qk_scores = 12 * 102;
	st.pv_rows = 12 * 20;
	st.tokens_kept = 102;
	st.topk_cycles = 60;
	got = spe_cycles(&job, &st, &f);
	/* bytes 129124 -> 253; qk 153; (253 + 153 + 11 * 253) / 12 = 266;
	 * drain 102 + 13; top-k 60. */
	ok(got == 441, "GPT-2-small step pruned to 102 keys / 20 values, "
	   "full chip: 441 cycles (got %llu)", (unsigned long long)got);
}

/* A real run's statistics equal the analytic ones; so do the cycles. */
static void test_run_matches_analytic(void)
{
	static const struct att_case cases[] = {
		{ .name = "summarization 3 heads 40x40 D64", .heads = 3,
		  .d = 64, .q_rows = 40, .kv_rows = 40, .q_amp = 100,
		  .k_amp = 100, .v_amp = 100 },
		{ .name = "generation 4 heads 200 keys D32", .heads = 4,
		  .d = 32, .q_rows = 1, .kv_rows = 200, .q_start = 199,
		  .causal = 1, .generation = 1, .q_amp = 100, .k_amp = 100,
		  .v_amp = 100 },
	};
	size_t i;

	for (i = 0; i < 2; i++) {
		const struct att_case *c = &cases[i];
		struct spe_model f = spe_model_full();
		struct spe_stats st;
		struct att_run run;
		int rc;

		dense_stats(&st, c->heads, c->d, c->q_rows, c->kv_rows,
			    c->generation);
		att_setup(&run, c);
		rc = run.decode_rc ? run.decode_rc : att_execute(&run);
		ok(rc == 0 && !memcmp(&st, &run.res.stats, sizeof(st)) &&
		   run.res.cycles == spe_cycles(&run.job, &st, &f),
		   "%s: run statistics equal the analytic ones, cycles %llu",
		   c->name, (unsigned long long)run.res.cycles);
		att_teardown(&run);
	}
}

static void test_single_head_is_additive(void)
{
	struct spe_job job = { .opcode = SPATTEN_OP_ATTENTION, .head_dim = 64 };
	struct spe_model f = spe_model_full();
	struct spe_stats st;

	dense_stats(&st, 1, 64, 64, 64, 0);
	/* dram 32768/512 = 64, compute 4096*64/512 = 512: 64 + 512 + 110. */
	ok(spe_cycles(&job, &st, &f) == 64 + 512 + 102 + 8,
	   "one head: DRAM + compute + drain, nothing overlaps");
	st.topk_cycles = 77;
	ok(spe_cycles(&job, &st, &f) == 64 + 512 + 102 + 8 + 77,
	   "top-k cycles add on");
}

static void test_nop_cycles(void)
{
	struct spe_job job = { .opcode = SPATTEN_OP_NOP };
	struct spe_stats st = { 0 };
	struct spe_model f = spe_model_full();

	ok(spe_cycles(&job, &st, &f) == SPE_NOP_CYCLES && SPE_NOP_CYCLES == 20,
	   "NOP costs 20 cycles");
}

int main(void)
{
	test_constants();
	test_worked_examples();
	test_run_matches_analytic();
	test_single_head_is_additive();
	test_nop_cycles();
	return done_testing();
}
