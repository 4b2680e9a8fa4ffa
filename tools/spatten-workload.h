/* SPDX-License-Identifier: MIT */
/*
 * Model-shaped attention workloads for spatten-run and spatten-demo: model
 * shapes, a deterministic synthetic input generator, a run through a
 * libspatten session, a float reference of the same pruned computation,
 * and the per-layer report (table or JSON: spatten-workload-report.c).
 */
#ifndef SPATTEN_WORKLOAD_H
#define SPATTEN_WORKLOAD_H

#include <stdint.h>
#include <stdio.h>

#include "libspatten.h"

struct wl_model {
	const char *name;
	uint32_t layers, heads, head_dim;
	int causal;		/* decoder: prompt + generation */
	uint32_t prompt;	/* default prompt / sequence length */
	uint32_t steps;		/* default generation steps */
	float tok_start, tok_end, head_start, head_end, value_keep;
};

/* Program name for messages (default "spatten"). */
extern const char *wl_prog;
/* The option that selects the simulation, for hints (default "--backend sim"). */
extern const char *wl_sim_flag;

/* Built-in shapes: gpt2-small, gpt2-medium, bert-base, bert-large. */
const struct wl_model *wl_model_find(const char *name);
void wl_model_list(FILE *f);

struct wl_opts {
	struct wl_model m;		/* shape and schedule (editable) */
	uint32_t prompt, steps;
	uint64_t seed;
	int backend;			/* enum spatten_backend */
	const char *path;		/* device node, NULL: default */
	int dense;			/* the dense baseline: no pruning,
					 * static S16 keys, S16 values */
	int progressive;		/* K as MSB + LSB planes */
	uint32_t k_bits;		/* MSB bits (progressive) or static */
	uint32_t v_bits;
	float threshold;		/* LSB refetch threshold, 0..1 */
	uint32_t check_rows;		/* reference rows per (layer, head) of
					 * the prompt; generation: every row */
	int check;			/* compare with the float reference */
	int json;
	int progress;			/* progress line on stderr */
	int quiet;			/* no table */
};

void wl_opts_default(struct wl_opts *o, const struct wl_model *m);

/* What a run produced (per layer: sums over every pass). */
struct wl_result {
	struct spatten_layer_stats layer[SPATTEN_MAX_LAYERS];
	double max_err[SPATTEN_MAX_LAYERS];
	double tol[SPATTEN_MAX_LAYERS];
	uint64_t rows_checked;
	double max_err_all, worst_ratio;	/* err / tol, worst */
	double seconds;
	int backend;
};

/*
 * Run the workload. Prints what failed on stderr (with a hint for a
 * missing device or driver). Return: 0, or a negative errno.
 */
int wl_run(const struct wl_opts *o, struct wl_result *r);

/* Print the per-layer table and totals, or the JSON document. */
void wl_report(FILE *f, const struct wl_opts *o, const struct wl_result *r);

/* Explain an open error: no board, no driver, permissions. */
void wl_explain_open_error(const char *prog, const char *path, int err);

#endif /* SPATTEN_WORKLOAD_H */
