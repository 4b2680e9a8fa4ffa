/* SPDX-License-Identifier: MIT */
/*
 * SpAtten engine: the inner loops, behind one table of function pointers
 * chosen once at run time (portable C, or SIMD versions where the CPU has
 * them). Every implementation gives bit-identical results: the integer
 * kernels are exact, and the float kernels perform the documented
 * operations (docs/engine.md) in the documented order, lane by lane.
 */
#ifndef SPE_KERNELS_H
#define SPE_KERNELS_H

#include <stddef.h>
#include <stdint.h>

/**
 * struct spe_kernels - one implementation of the inner loops
 * @name: "generic", "sse4.1", "avx2", ... (benchmarks print it)
 * @qk_scores: acc[j] = sum_d q[d] * k[j * d + d'] for j < n: exact int64
 *	dot products of one query row with n contiguous key rows of d int16
 * @pv_accumulate: acc[c] = sum_j w[j] * v[j * d + c] for c < d: exact
 *	int64, w[j] in 0..2^15, n contiguous value rows of d int16
 * @exp_row: e[j] = spe_expf((float)(score[j] - max) * scale) for j < n,
 *	the exact float operations of spe_expf()
 * @sum8: the 8-lane sum of docs/engine.md: lane l sums e[j], j = l mod 8,
 *	in index order; lanes combine as ((l0+l4)+(l2+l6))+((l1+l5)+(l3+l7))
 * @softmax_row: steps 2-5 of docs/engine.md for one row of n >= 1 scores,
 *	exactly spe_softmax_row(): m = max_j score[j], e = exp_row(score, n,
 *	m, scale), sum = sum8(e, n), pq[j] = (int32_t)(f32(f32(e[j] / sum) *
 *	32768) + 0.5f); returns sum
 * @requant_row: step 7 for one output row: y_x = spe_requantise(acc[x],
 *	shift) stored as little-endian int16 at dst[2x], for x < d; returns
 *	sum_x |y_x| (head importance)
 * @qk_rows: qk_scores for m query rows (q[i * d ..]) against the same n
 *	keys: acc[i * n + j], i < m, j < n. Worth calling with many rows at
 *	once (a whole head): SIMD versions rearrange K once per call
 * @pv_rows: pv_accumulate for m weight rows (w[i * n + j]) over the same
 *	n value rows: acc[i * d + c], i < m, c < d
 * @unpack: @n elements of a packed operand (spe_pack.c's little-endian
 *	bit stream of @bits = 4, 6, 8, 10 or 12 bits an element, signed, or
 *	unsigned with @is_unsigned; n * bits a multiple of 8) to int16:
 *	dst[e] = (base ? base[e] : 0) + x_e * 2^shift + add, wrapping to
 *	int16. The engine's three uses: rows as they are, progressive MSBs
 *	(x * 16 + 8) and their LSBs merged (base - 8 + lsb). Reads exactly
 *	n * bits / 8 bytes of @src; @base may be @dst.
 * @qk_gather: qk_scores over the rows an index list picks where they
 *	are: acc[j] = q . k[idx[j] * d ..], j < n (the kept keys of a
 *	pruned generation step, read in place). NULL: the table has no
 *	faster way than gathering copies for qk_scores (the engine does so)
 * @pv_gather: pv_accumulate likewise: acc[c] = sum_j w[j] *
 *	v[idx[j] * d + c]; NULL with qk_gather
 * @qk_packed: qk_scores straight from a packed plane (first-pass
 *	progressive keys of a generation step): acc[j] = q . x_j, x_j the
 *	d elements of @bits bits (as @unpack, signed) of row idx[j] (or j
 *	if @idx is NULL) at k + row * d * bits / 8, for j < n
 * @topk_split: one pass of the top-k engine's quick-select
 *	(spe_topk.c): the keys of cur[0..n) above @pivot to @gt, those
 *	below it to @lt, each in input order; returns the count above,
 *	*@n_lt the count below. @gt and @lt have room for n + 8 keys
 * @topk_filter: its filter pass: the indices i < n, ascending, of the
 *	keys above @theta and of the first @need_eq keys equal to it, into
 *	@out (room for their count + 8); returns their count
 */
struct spe_kernels {
	const char *name;
	void (*qk_scores)(const int16_t *q, const int16_t *k, uint32_t n,
			  uint32_t d, int64_t *acc);
	void (*pv_accumulate)(const int32_t *w, const int16_t *v, uint32_t n,
			      uint32_t d, int64_t *acc);
	void (*exp_row)(const int64_t *score, uint32_t n, int64_t max,
			float scale, float *e);
	float (*sum8)(const float *e, uint32_t n);
	/* Added after v2's first cut (additive: the members above unchanged). */
	float (*softmax_row)(const int64_t *score, uint32_t n, float scale,
			     float *e, int32_t *pq);
	uint64_t (*requant_row)(const int64_t *acc, uint32_t d, int shift,
				uint8_t *dst);
	void (*qk_rows)(const int16_t *q, uint32_t m, const int16_t *k,
			uint32_t n, uint32_t d, int64_t *acc);
	void (*pv_rows)(const int32_t *w, uint32_t m, const int16_t *v,
			uint32_t n, uint32_t d, int64_t *acc);
	void (*unpack)(const uint8_t *src, uint32_t bits, int is_unsigned,
		       size_t n, unsigned int shift, int16_t add,
		       const int16_t *base, int16_t *dst);
	void (*qk_gather)(const int16_t *q, const int16_t *k,
			  const uint32_t *idx, uint32_t n, uint32_t d,
			  int64_t *acc);
	void (*pv_gather)(const int32_t *w, const int16_t *v,
			  const uint32_t *idx, uint32_t n, uint32_t d,
			  int64_t *acc);
	void (*qk_packed)(const int16_t *q, const uint8_t *k,
			  const uint32_t *idx, uint32_t n, uint32_t bits,
			  uint32_t d, int64_t *acc);
	uint32_t (*topk_split)(const uint64_t *cur, uint32_t n,
			       uint64_t pivot, uint64_t *gt, uint64_t *lt,
			       uint32_t *n_lt);
	uint32_t (*topk_filter)(const uint64_t *key, uint32_t n,
				uint64_t theta, uint32_t need_eq,
				uint32_t *out);
};

/* The portable implementation: the reference every other one must match. */
extern const struct spe_kernels spe_kernels_generic;

/*
 * The implementation spe_run() uses: the fastest the CPU supports, chosen
 * once per process; SPATTEN_KERNELS=generic|sse4.1|avx2|avx512 in the
 * environment (or SPE_KERNELS) forces one, falling back to generic if the
 * CPU or build lacks it. ->name says which.
 */
const struct spe_kernels *spe_kernels_get(void);

#endif /* SPE_KERNELS_H */
