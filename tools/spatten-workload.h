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

#include <string.h>

#include "libspatten.h"

struct wl_model {
	const char *name;
	uint32_t layers, heads, head_dim;
	int causal;		/* decoder: prompt + generation */
	uint32_t prompt;	/* default prompt / sequence length */
	uint32_t steps;		/* default generation steps */
	float tok_start, tok_end, head_start, head_end, value_keep;
	uint32_t kv_heads;	/* grouped-query attention; heads if equal */
	uint32_t rope_base;	/* 0: no RoPE (learned positions) */
	uint32_t context;	/* the published context length */
};

/* Program name for messages (default "spatten"). */
extern const char *wl_prog;
/* The option that selects the simulation, for hints (default "--backend sim"). */
extern const char *wl_sim_flag;

/*
 * Built-in shapes: gpt2-small, gpt2-medium, bert-base, bert-large,
 * llama2-7b, llama3-8b, mistral-7b.
 */
const struct wl_model *wl_model_find(const char *name);
void wl_model_list(FILE *f);

/* Largest head_dim and head count the tools run (--head-dim, --heads). */
#define WL_MAX_D	256
#define WL_MAX_HEADS	256

/* --rss-at: at most this many token counts. */
#define WL_MAX_RSS	16

struct wl_opts {
	struct wl_model m;		/* shape and schedule (editable) */
	uint32_t prompt, steps;
	uint32_t fill;			/* synthetic tokens imported into the
					 * cache before generation */
	uint64_t seed;
	int backend;			/* enum spatten_backend */
	const char *path;		/* device node, NULL: default */
	int dense;			/* the dense baseline: no pruning,
					 * static S16 keys, S16 values */
	int progressive;		/* K as MSB + LSB planes */
	uint32_t k_bits;		/* MSB bits (progressive) or static */
	uint32_t v_bits;
	float threshold;		/* LSB refetch threshold, 0..1 */
	int dtype;			/* enum spatten_dtype of the inputs */
	uint32_t kv_start, kv_important, kv_recent;	/* bounded cache */
	uint32_t kv_capacity;		/* cache slots (0: the default) */
	int kv_per_head;		/* each KV head selects its own tokens */
	uint32_t n_rss;			/* --rss-at */
	uint64_t rss_at[WL_MAX_RSS];	/* token counts, ascending */
	uint32_t check_rows;		/* reference rows per (layer, head) of
					 * the prompt; generation: every row */
	int check;			/* compare with the float reference */
	int json;
	int progress;			/* progress line on stderr */
	int quiet;			/* no table */
};

void wl_opts_default(struct wl_opts *o, const struct wl_model *m);

/* Tokens of the whole sequence: fill, prompt and generated. */
uint64_t wl_tokens(const struct wl_opts *o);

/* Passes of the run: the prompt's (if any), one per generated token. */
uint32_t wl_passes(const struct wl_opts *o);

/* The bounded cache's budget (start + important + recent; 0: unbounded). */
uint32_t wl_budget(const struct wl_opts *o);

/*
 * Slots of the session's KV cache: the whole sequence, or with a budget
 * @kv_capacity (default budget + 1: the authors' cache, which holds the
 * budget and the new token; or the prompt if longer, which is one pass).
 */
uint32_t wl_capacity(const struct wl_opts *o);

/* Bytes one cache slot takes in a layer: K MSBs, K LSBs, V of every KV head. */
uint64_t wl_slot_bytes(const struct wl_opts *o);

/* What a run produced (per layer: sums over every pass). */
struct wl_result {
	struct spatten_layer_stats layer[SPATTEN_MAX_LAYERS];
	double max_err[SPATTEN_MAX_LAYERS];
	double tol[SPATTEN_MAX_LAYERS];
	uint32_t kept_max[SPATTEN_MAX_LAYERS];	/* tokens kept, largest pass */
	uint32_t ctx_max[SPATTEN_MAX_LAYERS];	/* cache slots, largest pass */
	uint32_t kept_last[SPATTEN_MAX_LAYERS];	/* the last pass's */
	uint32_t heads_last[SPATTEN_MAX_LAYERS];
	uint64_t sat[SPATTEN_MAX_LAYERS][3];	/* Q, K, V saturations */
	uint64_t rows_checked;
	uint64_t rows_unchecked;	/* the reference could not see them */
	double max_err_all, worst_ratio;	/* err / tol, worst */
	uint64_t rss_tokens[WL_MAX_RSS];	/* sequence length when read */
	uint64_t rss_kib[WL_MAX_RSS];		/* VmRSS then */
	uint32_t n_rss;
	uint32_t capacity;			/* cache slots */
	double seconds;
	double fill_seconds;			/* of --fill */
	double attend_seconds;			/* in the session's passes */
	double step_seconds;			/* of them, the steps after -p */
	double check_seconds;			/* in the float reference */
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
/*
 * Why a libspatten call just failed with @err: the library's own message
 * (spatten_last_error()), else the errno text. Read it before any other
 * library call.
 */
static inline const char *wl_reason(int err)
{
	const char *why = spatten_last_error();

	return why ? why : strerror(-err);
}

#endif /* SPATTEN_WORKLOAD_H */
