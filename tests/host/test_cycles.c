// SPDX-License-Identifier: MIT
/*
 * Cycle model v1: worked examples from docs/engine.md, through spe_run()
 * (the cycles a job reports) and the helpers directly.
 */
#include <stdint.h>

#include "attn_harness.h"
#include "spe_internal.h"
#include "tap.h"

static uint64_t run_cycles(const struct att_case *c)
{
	struct att_run run;
	uint64_t cycles = UINT64_MAX;

	att_setup(&run, c);
	if (run.decode_rc == SPATTEN_HW_OK && att_execute(&run) == 0)
		cycles = run.res.cycles;
	att_teardown(&run);
	return cycles;
}

static void test_fill_latency_constant(void)
{
	ok(SPE_FILL_LATENCY == 102,
	   "pipeline fill: 1+1+9 + 7+21+23+29+7 + 1 + 3 = 102 cycles");
}

static void test_mac_cycles(void)
{
	ok(spe_mac_cycles(64, 64) == 8 && spe_mac_cycles(65, 64) == 9 &&
	   spe_mac_cycles(1, 64) == 1 && spe_mac_cycles(32, 16) == 1 &&
	   spe_mac_cycles(33, 16) == 2 && spe_mac_cycles(3, 1024) == 6 &&
	   spe_mac_cycles(0, 64) == 0,
	   "512 multipliers: ceil(n * head_dim / 512) cycles per n rows");
}

static void test_summarization_compute_bound(void)
{
	struct att_case c = { .heads = 1, .d = 64, .q_rows = 64,
			      .kv_rows = 64, .q_amp = 100, .k_amp = 100,
			      .v_amp = 100 };
	uint64_t got = run_cycles(&c);

	/* DRAM 24576 B / 512 = 48; compute 64 rows * 2 * 8 = 1024. */
	ok(got == 1024 + 102, "1 head 64x64 D64: max(48, 1024) + 102 = 1126 "
	   "(got %llu)", (unsigned long long)got);
}

static void test_generation_dram_bound(void)
{
	struct att_case c = { .heads = 2, .d = 64, .q_rows = 1,
			      .kv_rows = 300, .q_start = 299, .causal = 1,
			      .generation = 1, .q_amp = 100, .k_amp = 100,
			      .v_amp = 100 };
	uint64_t got = run_cycles(&c);

	/* DRAM 2 * 601 * 128 = 153856 B -> 301; compute 2 * 2 * 38 = 152. */
	ok(got == 301 + 2 * 102, "generation 2 heads x 300 keys: "
	   "max(301, 152) + 204 = 505 (got %llu)", (unsigned long long)got);
}

static void test_causal_counts_visible_keys(void)
{
	struct att_case c = { .heads = 1, .d = 32, .q_rows = 10,
			      .kv_rows = 40, .q_start = 20, .causal = 1,
			      .q_amp = 100, .k_amp = 100, .v_amp = 100 };
	uint64_t got = run_cycles(&c);

	/* Rows see 21..30 keys: 2 cycles each stage; 70 rows read = 9. */
	ok(got == 10 * 2 * 2 + 102, "causal q_start 20: only visible keys "
	   "cost cycles: 40 + 102 = 142 (got %llu)",
	   (unsigned long long)got);
}

static void test_nop_cycles(void)
{
	struct spe_job job = { .opcode = SPATTEN_OP_NOP };
	struct spe_stats st = { 0 };

	ok(spe_cycles(&job, &st) == SPE_NOP_CYCLES && SPE_NOP_CYCLES == 20,
	   "NOP costs 20 cycles");
}

int main(void)
{
	test_fill_latency_constant();
	test_mac_cycles();
	test_summarization_compute_bound();
	test_generation_dram_bound();
	test_causal_counts_visible_keys();
	test_nop_cycles();
	return done_testing();
}
