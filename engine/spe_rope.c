// SPDX-License-Identifier: MIT
/*
 * SpAtten engine: rotary position embedding (RoPE) in the datapath
 * (descriptor version 3, SPATTEN_DESC_F_ROPE; docs/engine.md, "Rotary
 * positions").
 *
 * Pairs are "rotate half" (Hugging Face Llama, GPT-NeoX): element i with
 * element i + D/2, for i < D/2, rotated by the angle pos * base^(-2i/D):
 *
 *	x'_i       = (x_i * C - x_{i+D/2} * S + 2^14) >> 15
 *	x'_{i+D/2} = (x_{i+D/2} * C + x_i * S + 2^14) >> 15
 *
 * saturated to int16, where C and S are cos and sin of the angle rounded
 * to 15 fractional bits (Q1.15 in an int32: 1.0 is 32768). The angle and
 * its cos and sin are computed in binary64 (C library), so the device
 * model and the simulation backend, which run this code with the same
 * library, agree to the bit; the rotation itself is exact integer
 * arithmetic. A rotated element keeps its tensor's fractional bits.
 */
#include <math.h>

#include "spe_run.h"

void spe_rope_init(double *inv_freq, uint32_t d, uint32_t base)
{
	uint32_t i;

	for (i = 0; i < d / 2; i++)
		inv_freq[i] = pow((double)base, -2.0 * (double)i / (double)d);
}

static int16_t spe_sat16(int64_t x)
{
	if (x > INT16_MAX)
		return INT16_MAX;
	if (x < INT16_MIN)
		return INT16_MIN;
	return (int16_t)x;
}

/* Round-half-up shift by 15, as an arithmetic shift of a signed value. */
static int64_t spe_rope_shift(int64_t x)
{
	x += 1 << 14;
	return x >= 0 ? x >> 15 : -((-x + 32767) >> 15);
}

/* C and S of pair @i at position @pos. */
static void spe_rope_angle(const double *inv_freq, uint32_t i, uint32_t pos,
			   int32_t *cq, int32_t *sq)
{
	double a = (double)pos * inv_freq[i];

	*cq = (int32_t)llrint(cos(a) * 32768.0);
	*sq = (int32_t)llrint(sin(a) * 32768.0);
}

/* Pair @i of @x rotated by C = @cq, S = @sq. */
static void spe_rope_pair(int16_t *x, uint32_t half, uint32_t i, int64_t cq,
			  int64_t sq)
{
	int64_t x0 = x[i], x1 = x[i + half];

	x[i] = spe_sat16(spe_rope_shift(x0 * cq - x1 * sq));
	x[i + half] = spe_sat16(spe_rope_shift(x1 * cq + x0 * sq));
}

void spe_rope_row(int16_t *x, uint32_t d, const double *inv_freq,
		  uint32_t pos)
{
	uint32_t half = d / 2, i;
	int32_t cq, sq;

	for (i = 0; i < half; i++) {
		spe_rope_angle(inv_freq, i, pos, &cq, &sq);
		spe_rope_pair(x, half, i, cq, sq);
	}
}

/* C and S of every pair at @pos into @cs[2i], @cs[2i + 1]. */
static void spe_rope_fill(const double *inv_freq, uint32_t d, uint32_t pos,
			  int32_t *cs)
{
	uint32_t i;

	for (i = 0; i < d / 2; i++)
		spe_rope_angle(inv_freq, i, pos, &cs[2 * i], &cs[2 * i + 1]);
}

/* @x rotated by the table row @cs: the bits spe_rope_row() gives. */
static void spe_rope_apply(int16_t *x, uint32_t d, const int32_t *cs)
{
	uint32_t half = d / 2, i;

	for (i = 0; i < half; i++)
		spe_rope_pair(x, half, i, cs[2 * i], cs[2 * i + 1]);
}

/* Position of token slot @slot: itself, or its entry of the list. */
static uint32_t spe_slot_pos(const struct spe_ctx *c, uint32_t slot)
{
	return c->pos ? c->pos[slot] : slot;
}

/*
 * Gathered key rows j0 <= j < j1 at @k (row j at k + (j - j0) * d). With
 * the tables, the angles of a row are found the first time any KV head
 * rotates it (the gathered rows are the same for all of them).
 */
void spe_rope_keys(struct spe_ctx *c, int16_t *k, uint32_t j0, uint32_t j1)
{
	uint32_t j;

	if (!c->rope_k) {
		for (j = j0; j < j1; j++)
			spe_rope_row(k + (size_t)(j - j0) * c->d, c->d,
				     c->inv_freq, spe_slot_pos(c, c->tok[j]));
		return;
	}
	for (; c->rope_k_rows < j1; c->rope_k_rows++)
		spe_rope_fill(c->inv_freq, c->d,
			      spe_slot_pos(c, c->tok[c->rope_k_rows]),
			      c->rope_k + (size_t)c->rope_k_rows * c->d);
	for (j = j0; j < j1; j++)
		spe_rope_apply(k + (size_t)(j - j0) * c->d, c->d,
			       c->rope_k + (size_t)j * c->d);
}

/* The head's computed query rows at @q: row i is slot q_start + rows[i]. */
void spe_rope_queries(struct spe_ctx *c, int16_t *q)
{
	uint32_t i;

	if (!c->rope_q) {
		for (i = 0; i < c->n_rows; i++)
			spe_rope_row(q + (size_t)i * c->d, c->d, c->inv_freq,
				     spe_slot_pos(c, c->job->q_start +
						  c->rows[i]));
		return;
	}
	for (; c->rope_q_rows < c->n_rows; c->rope_q_rows++)
		spe_rope_fill(c->inv_freq, c->d,
			      spe_slot_pos(c, c->job->q_start +
					   c->rows[c->rope_q_rows]),
			      c->rope_q + (size_t)c->rope_q_rows * c->d);
	for (i = 0; i < c->n_rows; i++)
		spe_rope_apply(q + (size_t)i * c->d, c->d,
			       c->rope_q + (size_t)i * c->d);
}
