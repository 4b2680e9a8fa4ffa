/* SPDX-License-Identifier: MIT */
/*
 * SpAtten engine: internals shared by the engine's files and its host tests.
 * Not an API for the device or the library; spe.h is.
 */
#ifndef SPE_INTERNAL_H
#define SPE_INTERNAL_H

#include <float.h>
#include <stdint.h>

#include "spe.h"

/*
 * Bit-exact results need every float operation rounded to float, once.
 * x87 (FLT_EVAL_METHOD 2) keeps excess precision; on 32-bit x86 build
 * with -msse2 -mfpmath=sse. Also build with -ffp-contract=off: a fused
 * multiply-add rounds once where the documented arithmetic rounds twice.
 */
#if !defined(FLT_EVAL_METHOD) || FLT_EVAL_METHOD != 0
#error "the SpAtten engine needs FLT_EVAL_METHOD == 0 (SSE2 math on x86)"
#endif

/* ---- Hardware figures of the cycle model (docs/engine.md) ------------- */

#define SPE_DRAM_BYTES_PER_CYCLE	512	/* HBM2, 16 x 32 GB/s at 1 GHz */
#define SPE_MULTIPLIERS			512	/* per stage: QxK, and prob x V */

/* QxK 1+1+9, softmax 7+21+23+29+7, requant check 1, prob x V 3. */
#define SPE_FILL_LATENCY	(1 + 1 + 9 + 7 + 21 + 23 + 29 + 7 + 1 + 3)

#define SPE_NOP_CYCLES		20	/* fetch, decode, complete */

/* ---- Fixed-point constants of the datapath ----------------------------- */

#define SPE_PROB_FRAC		15	/* quantised probabilities: 0..2^15 */
#define SPE_EXPF_MIN		(-87.0f) /* spe_expf() flushes to 0 below */

/**
 * struct spe_stats - what a job did, as input to the cycle model
 * @bytes_read: operand bytes requested through struct spe_mem
 * @mac_cycles: QxK plus prob x V cycles summed over heads and query rows
 * @heads: heads that went through the pipeline (each pays the fill latency)
 */
struct spe_stats {
	uint64_t bytes_read;
	uint64_t mac_cycles;
	uint32_t heads;
};

/* spe_math.c: the documented arithmetic */
float spe_expf(float x);
float spe_score_scale(const struct spe_job *job);
float spe_softmax_row(const int64_t *score, uint32_t n, float scale,
		      float *e, int32_t *pq);
int16_t spe_requantise(int64_t acc, int shift);

/* spe_cycles.c: cycle model v1 */
uint64_t spe_mac_cycles(uint32_t n_scores, uint32_t head_dim);
uint64_t spe_cycles(const struct spe_job *job, const struct spe_stats *st);

#endif /* SPE_INTERNAL_H */
