// SPDX-License-Identifier: MIT
/*
 * SpAtten engine: the cycle model (docs/engine.md section 8), from the
 * hardware figures of the SpAtten paper (algorithm section 7).
 *
 * It reads only the job's opcode and head_dim and the struct spe_stats
 * fields bytes[], heads, qk_scores, pv_rows, tokens_kept and topk_cycles,
 * so a trace replay that fills those analytically gets the same cycles as
 * a real run of the same shape.
 *
 *   dram    = ceil(sum of bytes[] / dram_bytes_per_cycle)
 *   qk      = ceil(qk_scores * head_dim / multipliers)
 *   pv      = ceil(pv_rows * head_dim / multipliers)
 *   compute = max(qk, pv)          (two pipelined stages of M multipliers)
 *   H       = max(heads, 1)
 *   overlap = ceil((dram + compute + (H - 1) * max(dram, compute)) / H)
 *   drain   = SPE_FILL_LATENCY + ceil(tokens_kept / max(1, M / head_dim))
 *   cycles  = overlap + drain + topk_cycles
 *
 * "overlap" is heads streaming through a double-buffered K/V SRAM: the
 * first head's fetch and the last head's compute are exposed, every other
 * head costs the longer of its fetch and its compute (heads are taken as
 * equal shares of the totals). One head gives dram + compute, the paper's
 * "DRAM cycles + sum over queries of ceil(L1'/8)".
 */
#include "spe.h"
#include "spatten_hw.h"
#include "spe_internal.h"

struct spe_model spe_model_full(void)
{
	struct spe_model m = {
		.dram_bytes_per_cycle = SPE_DRAM_BYTES_PER_CYCLE,
		.multipliers = SPE_MULTIPLIERS,
		.topk_comparators = SPE_TOPK_COMPARATORS,
		.topk_rate = SPE_TOPK_RATE,
	};

	return m;
}

struct spe_model spe_model_eighth(void)
{
	struct spe_model m = {
		.dram_bytes_per_cycle = SPE_EIGHTH_BYTES_PER_CYCLE,
		.multipliers = SPE_EIGHTH_MULTIPLIERS,
		.topk_comparators = SPE_TOPK_COMPARATORS,
		.topk_rate = SPE_TOPK_RATE,
	};

	return m;
}

static uint64_t spe_ceil_div(uint64_t a, uint64_t b)
{
	return a / b + (a % b != 0);
}

/*
 * Cycles for @n_rows rows of @head_dim elements through @multipliers
 * multipliers: multipliers / head_dim rows per cycle (8 for 512 and D 64),
 * rounded up once over the whole count.
 */
uint64_t spe_mac_cycles(uint64_t n_rows, uint32_t head_dim,
			uint32_t multipliers)
{
	if (!multipliers)
		multipliers = SPE_MULTIPLIERS;
	return spe_ceil_div(n_rows * head_dim, multipliers);
}

uint64_t spe_cycles(const struct spe_job *job, const struct spe_stats *st,
		    const struct spe_model *model)
{
	uint32_t bpc = model && model->dram_bytes_per_cycle ?
		       model->dram_bytes_per_cycle : SPE_DRAM_BYTES_PER_CYCLE;
	uint32_t mult = model && model->multipliers ?
			model->multipliers : SPE_MULTIPLIERS;
	uint64_t bytes = 0, dram, qk, pv, compute, heads, overlap, longer;
	uint64_t spc, drain;
	int p;

	if (job->opcode != SPATTEN_OP_ATTENTION)
		return SPE_NOP_CYCLES;

	for (p = 0; p < SPE_PLANE_COUNT; p++)
		bytes += st->bytes[p];
	dram = spe_ceil_div(bytes, bpc);
	qk = spe_mac_cycles(st->qk_scores, job->head_dim, mult);
	pv = spe_mac_cycles(st->pv_rows, job->head_dim, mult);
	compute = qk > pv ? qk : pv;

	heads = st->heads ? st->heads : 1;
	longer = dram > compute ? dram : compute;
	overlap = spe_ceil_div(dram + compute + (heads - 1) * longer, heads);

	spc = job->head_dim && mult >= job->head_dim ? mult / job->head_dim : 1;
	drain = SPE_FILL_LATENCY + spe_ceil_div(st->tokens_kept, spc);

	return overlap + drain + st->topk_cycles;
}
