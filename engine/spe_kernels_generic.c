// SPDX-License-Identifier: MIT
/*
 * SpAtten engine: the portable inner loops, the reference every SIMD
 * version is tested against bit for bit (tests/kernels/).
 *
 * Integer kernels are exact (int32 products of int16 operands, int64
 * sums). Float kernels perform exactly the operations of docs/engine.md,
 * section 5, one IEEE rounding per C operator.
 */
#include <string.h>

/* See spe_math.c: never fuse a multiply and an add in this file. */
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif

#include "spe_kernels.h"
#include "spe_kernels_impl.h"

/* acc[j] = q . k[j], exact: |q[x] * k[x]| <= 2^30 fits in int32. */
static void spe_qk_scores_generic(const int16_t *q, const int16_t *k,
				  uint32_t n, uint32_t d, int64_t *acc)
{
	uint32_t j, x;

	for (j = 0; j < n; j++) {
		const int16_t *k_row = k + (size_t)j * d;
		int64_t sum = 0;

		for (x = 0; x < d; x++)
			sum += (int32_t)q[x] * k_row[x];
		acc[j] = sum;
	}
}

/* acc[c] = sum_j w[j] * v[j][c], exact: |w * v| <= 2^30. */
static void spe_pv_accumulate_generic(const int32_t *w, const int16_t *v,
				      uint32_t n, uint32_t d, int64_t *acc)
{
	uint32_t j, c;

	memset(acc, 0, (size_t)d * sizeof(*acc));
	for (j = 0; j < n; j++) {
		const int16_t *v_row = v + (size_t)j * d;
		int32_t p = w[j];

		if (!p)		/* adds nothing */
			continue;
		for (c = 0; c < d; c++)
			acc[c] += (int64_t)(p * v_row[c]);
	}
}

static void spe_exp_row_generic(const int64_t *score, uint32_t n,
				int64_t max, float scale, float *e)
{
	uint32_t j;

	for (j = 0; j < n; j++)
		e[j] = spe_kernels_expf((float)(score[j] - max) * scale);
}

static float spe_sum8_generic(const float *e, uint32_t n)
{
	float lane[8] = { 0 };
	uint32_t j;

	for (j = 0; j < n; j++)
		lane[j & 7] += e[j];

	return ((lane[0] + lane[4]) + (lane[2] + lane[6])) +
	       ((lane[1] + lane[5]) + (lane[3] + lane[7]));
}

static float spe_softmax_row_generic(const int64_t *score, uint32_t n,
				     float scale, float *e, int32_t *pq)
{
	int64_t max = score[0];
	float sum;
	uint32_t j;

	for (j = 1; j < n; j++)
		if (score[j] > max)
			max = score[j];

	spe_exp_row_generic(score, n, max, scale, e);
	sum = spe_sum8_generic(e, n);

	for (j = 0; j < n; j++) {
		float p = e[j] / sum;

		/* p * 2^15 is exact; + 0.5 then truncation rounds half up. */
		pq[j] = (int32_t)(p * 32768.0f + 0.5f);
	}
	return sum;
}

static uint64_t spe_requant_row_generic(const int64_t *acc, uint32_t d,
					int shift, uint8_t *dst)
{
	uint64_t mag = 0;
	uint32_t x;

	for (x = 0; x < d; x++) {
		int16_t y = spe_kernels_requantise(acc[x], shift);
		uint16_t u = (uint16_t)y;

		dst[2 * x] = (uint8_t)(u & 0xff);
		dst[2 * x + 1] = (uint8_t)(u >> 8);
		mag += (uint64_t)(y < 0 ? -(int32_t)y : y);
	}
	return mag;
}

/* qk_scores over rows k + idx[j] * d. */
void spe_qk_gather_generic(const int16_t *q, const int16_t *k,
			   const uint32_t *idx, uint32_t n, uint32_t d,
			   int64_t *acc)
{
	uint32_t j;

	for (j = 0; j < n; j++)
		spe_qk_scores_generic(q, k + (size_t)idx[j] * d, 1, d,
				      acc + j);
}

/* pv_accumulate over rows v + idx[j] * d. */
void spe_pv_gather_generic(const int32_t *w, const int16_t *v,
			   const uint32_t *idx, uint32_t n, uint32_t d,
			   int64_t *acc)
{
	uint32_t j, c;

	memset(acc, 0, (size_t)d * sizeof(*acc));
	for (j = 0; j < n; j++) {
		const int16_t *row = v + (size_t)idx[j] * d;

		for (c = 0; c < d; c++)
			acc[c] += (int64_t)w[j] * row[c];
	}
}

/*
 * Both FIFOs take every key, only the right one advances: no branch on
 * the data (random keys mispredict half the time). At key i both counts
 * are <= i.
 */
uint32_t spe_topk_split_generic(const uint64_t *cur, uint32_t n,
				uint64_t pivot, uint64_t *gt, uint64_t *lt,
				uint32_t *n_lt)
{
	uint32_t g = 0, l = 0, i;

	for (i = 0; i < n; i++) {
		uint64_t x = cur[i];

		gt[g] = x;
		lt[l] = x;
		g += x > pivot;
		l += x < pivot;
	}
	*n_lt = l;
	return g;
}

/* Branch-free, in input order. */
uint32_t spe_topk_filter_generic(const uint64_t *key, uint32_t n,
				 uint64_t theta, uint32_t need_eq,
				 uint32_t *out)
{
	uint32_t i, m = 0;

	for (i = 0; i < n; i++) {
		uint32_t eq = key[i] == theta && need_eq;

		out[m] = i;
		m += (key[i] > theta) | eq;
		need_eq -= eq;
	}
	return m;
}

/* Element @e of a packed little-endian bit stream, zero-extended. */
static uint32_t spe_field_generic(const uint8_t *src, size_t e, uint32_t bits)
{
	size_t bit = e * bits, at = bit / 8;
	uint32_t w = src[at];

	/* Even widths up to 12 span at most two bytes (bit % 8 + bits <= 16). */
	if (bit % 8 + bits > 8)
		w |= (uint32_t)src[at + 1] << 8;
	return (w >> (bit % 8)) & ((1u << bits) - 1);
}

void spe_unpack_generic(const uint8_t *src, uint32_t bits,
			       int is_unsigned, size_t n, unsigned int shift,
			       int16_t add, const int16_t *base, int16_t *dst)
{
	int32_t sign = is_unsigned ? 0 : (int32_t)1 << (bits - 1);
	size_t e;

	for (e = 0; e < n; e++) {
		int32_t x = (int32_t)(spe_field_generic(src, e, bits) ^
				      (uint32_t)sign) - sign;
		int32_t y = x * ((int32_t)1 << shift) + add;

		dst[e] = (int16_t)(base ? base[e] + y : y);
	}
}

void spe_qk_packed_generic(const int16_t *q, const uint8_t *k,
			   const uint32_t *idx, uint32_t n, uint32_t bits,
			   uint32_t d, int64_t *acc)
{
	int32_t sign = (int32_t)1 << (bits - 1);
	size_t row_bytes = (size_t)d * bits / 8;
	uint32_t j, x;

	for (j = 0; j < n; j++) {
		const uint8_t *row = k + (size_t)(idx ? idx[j] : j) * row_bytes;
		int64_t sum = 0;

		for (x = 0; x < d; x++)
			sum += (int32_t)q[x] *
			       ((int32_t)(spe_field_generic(row, x, bits) ^
					  (uint32_t)sign) - sign);
		acc[j] = sum;
	}
}

SPE_KERNELS_ROWS_LOOP(generic, spe_qk_scores_generic,
		      spe_pv_accumulate_generic)

const struct spe_kernels spe_kernels_generic = {
	.name = "generic",
	.qk_scores = spe_qk_scores_generic,
	.pv_accumulate = spe_pv_accumulate_generic,
	.exp_row = spe_exp_row_generic,
	.sum8 = spe_sum8_generic,
	.softmax_row = spe_softmax_row_generic,
	.requant_row = spe_requant_row_generic,
	.qk_rows = spe_qk_rows_generic,
	.pv_rows = spe_pv_rows_generic,
	.unpack = spe_unpack_generic,
	.qk_gather = spe_qk_gather_generic,
	.pv_gather = spe_pv_gather_generic,
	.qk_packed = spe_qk_packed_generic,
	.topk_split = spe_topk_split_generic,
	.topk_filter = spe_topk_filter_generic,
};
