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
#include "spe_kernels.h"

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
#define SPE_EIGHTH_BYTES_PER_CYCLE	64	/* SpAtten_1/8: 64 GB/s */
#define SPE_EIGHTH_MULTIPLIERS		128
#define SPE_TOPK_COMPARATORS		16	/* quick-select, per pass */
#define SPE_TOPK_RATE			8	/* filter: scores per cycle */
#define SPE_TOPK_PASS_OVERHEAD		3	/* cycles per quick-select pass */

/* QxK 1+1+9, softmax 7+21+23+29+7, requant check 1, prob x V 3. */
#define SPE_FILL_LATENCY	(1 + 1 + 9 + 7 + 21 + 23 + 29 + 7 + 1 + 3)

#define SPE_NOP_CYCLES		20	/* fetch, decode, complete */

/* ---- Fixed-point constants of the datapath ----------------------------- */

#define SPE_PROB_FRAC		15	/* quantised probabilities: 0..2^15 */
#define SPE_PROB_ONE		(1u << SPE_PROB_FRAC)
#define SPE_EXPF_MIN		(-87.0f) /* spe_expf() flushes to 0 below */
#define SPE_HEAD_IMP_FRAC	16	/* head importance: units of 2^-16 */

/* spe_math.c: the documented arithmetic */
float spe_expf(float x);
float spe_score_scale(const struct spe_job *job);
float spe_score_scale_fracs(const struct spe_job *job, unsigned int frac);
float spe_softmax_row(const int64_t *score, uint32_t n, float scale,
		      float *e, int32_t *pq);
int16_t spe_requantise(int64_t acc, int shift);

/*
 * spe_desc.c: bytes a K, K-LSB or V plane must hold for @job's layout; the
 * layout (SPATTEN_HW_ERR_LAYOUT) and parameter (ERR_PARAM) checks, which
 * spe_run() repeats for jobs that were not decoded.
 */
uint64_t spe_kv_plane_bytes(const struct spe_job *job, uint32_t bits);
uint64_t spe_tok_imp_count(const struct spe_job *job);
int spe_check_layout(const struct spe_job *job);
int spe_check_params(const struct spe_job *job);

/* spe_cycles.c */
uint64_t spe_mac_cycles(uint64_t n_rows, uint32_t head_dim,
			uint32_t multipliers);

/* ---- spe_topk.c: the top-k engine (algorithm section 6) --------------- */

/**
 * struct spe_topk - working memory and pivot sequence of the top-k engine
 * @cap: largest n the buffers hold
 * @buf: three arrays of @cap keys (the current set and the two FIFOs)
 * @seed: topk_seed of the job
 * @calls: top-k runs so far in this job (mixed into each run's PRNG)
 * @model: comparators and filter rate for the cycles (NULL: 16 and 8)
 * @kern: the passes (spe_kernels.topk_split, topk_filter)
 *
 * The three buffers have room for SPE_TOPK_PAD keys past @cap (the SIMD
 * passes store whole vectors), as spe_topk_select()'s @out past @k.
 */
struct spe_topk {
	uint32_t cap;
	uint64_t *buf[3];
	uint32_t seed;
	uint32_t calls;
	const struct spe_model *model;
	const struct spe_kernels *kern;
};

/*
 * Room the top-k buffers and output lists need past their keys: what
 * spe_kernels.topk_split and topk_filter may store past them.
 */
#define SPE_TOPK_PAD		8
_Static_assert(SPE_TOPK_PAD >= 8, "the AVX-512 passes store 8 keys at once");

uint32_t spe_topk_prng_init(uint32_t seed, uint32_t call);
uint32_t spe_topk_prng_next(uint32_t *state);

/**
 * spe_topk_select() - the k largest of @n keys, exactly
 * @t: engine (buffers of at least @n keys)
 * @key: the keys, in input order
 * @n: number of keys
 * @k: survivors wanted, 0..n
 * @out: receives the indices (into @key) of the survivors, ascending
 *	(room for @k + SPE_TOPK_PAD)
 * @cycles: if not NULL, receives the engine cycles (docs/engine.md)
 *
 * Ties resolve to the earliest index. Return: k.
 */
uint32_t spe_topk_select(struct spe_topk *t, const uint64_t *key, uint32_t n,
			 uint32_t k, uint32_t *out, uint64_t *cycles);

/* ---- spe_pack.c: packed Sn rows and the MSB/LSB split ----------------- */

/* Bytes of one row of @d elements of @bits each. */
static inline uint32_t spe_row_bytes(uint32_t d, uint32_t bits)
{
	return d * bits / 8;
}

/*
 * Unpack one row: @bits-bit signed (or, with @is_unsigned, unsigned)
 * elements, little-endian bit stream, into int16. Reads at most
 * spe_row_bytes(d, bits) bytes of @src.
 */
void spe_unpack_row(const uint8_t *src, uint32_t bits, int is_unsigned,
		    uint32_t d, int16_t *dst);
/* The inverse: the low @bits bits of each element, packed. */
void spe_pack_row(const int16_t *src, uint32_t bits, uint32_t d,
		  uint8_t *dst);
/* Progressive keys: full = msb * 16 + lsb; split is the inverse. */
void spe_split_key(int32_t full, int16_t *msb, uint8_t *lsb);
int16_t spe_merge_key(int16_t msb, uint8_t lsb);

#endif /* SPE_INTERNAL_H */
