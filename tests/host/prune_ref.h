/* SPDX-License-Identifier: MIT */
/*
 * A plain reference of what one job computes with pruning and progressive
 * quantization (docs/hardware.md, "What a job computes"), in double, with
 * sort-based selections. No engine code: it works on the harness's host
 * copies of the operands.
 */
#ifndef SPATTEN_PRUNE_REF_H
#define SPATTEN_PRUNE_REF_H

#include <stdint.h>

#include "attn_harness.h"

struct ref_result {
	uint32_t n_tok, tok[1100];	/* kept tokens, ascending */
	uint32_t n_rows, rows[1100];	/* query rows computed */
	uint32_t n_heads, heads[64];	/* heads computed */
	uint32_t n_head_kept, head_kept[64];
	double *out;			/* [heads][q_rows][d], real units */
	uint8_t *computed;		/* [heads][q_rows] */
	double *tok_imp;		/* [kv_rows], 2^-15 units, updated */
	double *head_imp;		/* [heads], 2^-16 units, updated */
	uint32_t refetch_rows;
	uint64_t bytes[SPE_PLANE_COUNT];	/* read + written */
	uint64_t pv_rows, qk_scores;
	double max_abs_v;
	int status;			/* expected run-time status */
};

/*
 * Compute @c's job on @run's operands. @tok_imp_in / @head_imp_in are the
 * importances before the job (NULL: zeros); selections use them.
 */
void ref_job(const struct att_run *run, const double *tok_imp_in,
	     const double *head_imp_in, struct ref_result *r);
void ref_free(struct ref_result *r);

/* Bound on |engine - reference| of one output element with @n keys. */
double ref_tolerance(const struct att_case *c, uint32_t n, double max_abs_v);

#endif /* SPATTEN_PRUNE_REF_H */
