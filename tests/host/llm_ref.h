/* SPDX-License-Identifier: MIT */
/*
 * A plain double-precision reference of a version-3 job (docs/hardware.md:
 * "What a job computes", "Descriptor version 3"): grouped-query heads
 * (query head h uses KV head h / (heads / kv_heads)), the kept tokens and
 * computed rows, causal visibility, value pruning (top value_keep
 * probabilities, not renormalised), token importance summed over every
 * computed query head, RoPE (rotate-half, in long double) with slot or
 * listed positions, and score_scale. It works on the logical operands of
 * struct llm_data, never on engine code or the engine's buffers.
 */
#ifndef SPATTEN_LLM_REF_H
#define SPATTEN_LLM_REF_H

#include <stdint.h>

#include "llm_job.h"

/**
 * struct llm_ref - inputs and results of the reference
 * @s, @dt: the job and its logical operands (K: the full key)
 * @tok, @n_tok: kept tokens T, ascending (NULL: every slot)
 * @rows, @n_rows: query rows computed, ascending (NULL: all q_rows)
 * @heads, @n_heads: query heads computed, ascending (NULL: all)
 * @positions: RoPE key positions (NULL: the slots)
 *
 * Results (llm_ref_run() allocates them; llm_ref_free()):
 * @out: [heads][q_rows][d] exact attention in real units, clamped to the
 *	output range
 * @bound: [heads][q_rows][d] a per-element bound on |engine - @out| (see
 *	llm_ref.c): rounding, the 2^-15 quantisation of each probability (or
 *	the whole probability where it is smaller), the float error of the
 *	softmax, and with RoPE the effect of rounding the rotated rows
 * @computed: [heads][q_rows] rows the job computes
 * @imp: [kv_rows] sum over computed (head, row) of p * 2^15
 * @v_rows: [kv_heads] distinct V rows the rows of each KV head keep
 * @fragile: rows whose value-pruning selection the engine's float
 *	rounding could change (their outputs are not comparable)
 * @max_abs_v: largest |V| in real units
 * @rope_growth: largest e^(2 Delta) - 1 of a row, Delta the bound on the
 *	change of a scaled score by the rounding of the rotated rows (0
 *	without RoPE)
 * @contrib: (head, row) pairs computed
 */
struct llm_ref {
	const struct llm_spec *s;
	const struct llm_data *dt;
	const uint32_t *tok;
	uint32_t n_tok;
	const uint32_t *rows;
	uint32_t n_rows;
	const uint32_t *heads;
	uint32_t n_heads;
	const uint32_t *positions;

	double *out, *bound;
	uint8_t *computed;
	double *imp;
	uint64_t *v_rows;
	uint32_t fragile;
	double max_abs_v;
	double rope_growth;
	uint64_t contrib;
};

void llm_ref_run(struct llm_ref *r);
void llm_ref_free(struct llm_ref *r);

/*
 * The kept tokens T of a job: candidates @alive (s->n_tok_alive of them,
 * or every slot; in generation every new slot, q_start..kv_rows-1, listed
 * or not), the pinned and new ones forced, the other places to the
 * largest @imp (ties to the lower token). Returns |T|; @tok receives T ascending (room for
 * kv_rows + 1).
 */
uint32_t llm_ref_tokens(const struct llm_spec *s, const uint32_t *alive,
			const uint32_t *pinned, const uint64_t *imp,
			uint32_t *tok);

/*
 * Exact rotate-half rotation of one row of raw elements @x by position
 * @pos: @y receives it in raw units; @delta (may be NULL) the bound on
 * |engine's rotated element - y| (llm_ref.c derives it).
 */
void llm_ref_rotate(const int16_t *x, uint32_t d, uint32_t base, uint32_t pos,
		    double *y, double *delta);

/**
 * struct llm_cmp - engine output against the reference
 * @doc_tol: spe_out_tolerance() of the job, plus max|V| times
 *	@rope_growth with RoPE (llm_ref.c)
 * @max_err: largest |engine - reference| of a computed element, real units
 * @worst_doc, @worst_bound: largest error / @doc_tol and / the element's
 *	@bound
 * @over_doc, @over_bound: elements beyond either
 * @stray_out: elements of rows not computed that are not the sentinel
 * @max_bound: the largest per-element bound
 */
struct llm_cmp {
	double doc_tol, max_err, worst_doc, worst_bound, max_bound;
	uint64_t over_doc, over_bound, stray_out;
};

void llm_compare(const struct llm_ref *r, const struct llm_mem *m,
		 const struct spe_job *job, struct llm_cmp *c);

static inline int llm_cmp_ok(const struct llm_cmp *c)
{
	return !c->over_doc && !c->over_bound && !c->stray_out;
}

/*
 * Relative float error of the engine's probabilities of a row of @n keys
 * (llm_ref.c): rr = 1e-6 + (8 * 87 + n/8 + 8) * 2^-24.
 */
double llm_prob_rel_error(uint32_t n);

/*
 * Bound on |tok_imp written - (tok_imp read + @imp)| of one token, @imp
 * its reference sum over @contrib (head, row) pairs of rows of at most @n
 * keys: each pq is within 1/2 of its float p * 2^15 (rounding), which is
 * within rr of p (relative); plus 1 for safety.
 */
double llm_imp_tolerance(uint64_t contrib, uint32_t n, double imp);

/* Real value of the score_scale of @s: its float, or 1 / sqrt(d). */
double llm_ref_scale(const struct llm_spec *s);

#endif /* SPATTEN_LLM_REF_H */
