// SPDX-License-Identifier: MIT
/*
 * SpAtten engine: cycle model v1 (dense attention), from the hardware
 * figures of the SpAtten paper (shared/design/spatten-algorithm.md, §7).
 *
 * DRAM and the compute pipeline overlap (K/V SRAM is double-buffered), so a
 * job costs whichever is longer, plus the pipeline fill latency that every
 * head pays once. docs/engine.md gives the worked formula.
 */
#include "spe.h"
#include "spatten_hw.h"
#include "spe_internal.h"

/*
 * Cycles to multiply @n_scores key (or value) rows of @head_dim elements
 * with SPE_MULTIPLIERS multipliers: 512 / head_dim rows per cycle (8 for
 * head_dim 64), a row of more than 512 elements taking several cycles.
 */
uint64_t spe_mac_cycles(uint32_t n_scores, uint32_t head_dim)
{
	uint64_t macs = (uint64_t)n_scores * head_dim;

	return (macs + SPE_MULTIPLIERS - 1) / SPE_MULTIPLIERS;
}

/**
 * spe_cycles() - modeled cycles of a finished job
 * @job: the job
 * @st: what spe_run() read and computed
 *
 * Return: SPE_NOP_CYCLES for a NOP; otherwise
 * max(ceil(bytes_read / 512), mac_cycles) + heads * SPE_FILL_LATENCY.
 */
uint64_t spe_cycles(const struct spe_job *job, const struct spe_stats *st)
{
	uint64_t dram, compute;

	if (job->opcode == SPATTEN_OP_NOP)
		return SPE_NOP_CYCLES;

	dram = st->bytes_read / SPE_DRAM_BYTES_PER_CYCLE +
	       (st->bytes_read % SPE_DRAM_BYTES_PER_CYCLE != 0);
	compute = st->mac_cycles;

	return (dram > compute ? dram : compute) +
	       (uint64_t)st->heads * SPE_FILL_LATENCY;
}
