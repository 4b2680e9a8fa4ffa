/* SPDX-License-Identifier: MIT */
/*
 * SpAtten engine: workload-trace replay through the traffic and cycle model.
 *
 * A trace (the CSV format of the authors' simulator: shared/workloads/)
 * has one row per (generation iteration, layer, head). This file parses
 * the rows, turns each into the DRAM traffic the device would move for
 * that head, groups the heads of one layer of one iteration into the one
 * job the device would run (struct spe_job + struct spe_stats), and sums
 * what spe_cycles() gives for the full chip and for SpAtten_1/8.
 *
 * Plain C, no stdio streams and no allocation: the caller feeds lines (or a
 * whole buffer). QEMU compiles this file with the rest of the engine but
 * never calls it; spatten-replay, spatten-run --trace and the benchmarks
 * do. docs/replay.md explains every column and formula.
 */
#ifndef SPE_TRACE_H
#define SPE_TRACE_H

#include <stddef.h>
#include <stdint.h>

#include "spe.h"

/* Columns of a trace, in the authors' order (matched by name). */
enum spe_trace_col {
	SPE_TRACE_ITERATION,		/* iteration_id */
	SPE_TRACE_LAYER,		/* layer_id */
	SPE_TRACE_HEAD,			/* head_id */
	SPE_TRACE_D,			/* embedding_length_D */
	SPE_TRACE_L,			/* sentence_length_L */
	SPE_TRACE_KEY_FETCH,		/* key_fetch_num */
	SPE_TRACE_KEY_BITS,		/* quant_key_bit */
	SPE_TRACE_QUERY_BITS,		/* quant_query_bit */
	SPE_TRACE_REQUANT_THRES,	/* auto_requant_thres */
	SPE_TRACE_IF_REQUANT,		/* if_requant */
	SPE_TRACE_REQUANT_INCRE,	/* auto_requant_incre */
	SPE_TRACE_VALUE_FETCH,		/* value_fetch_num */
	SPE_TRACE_VALUE_BITS,		/* quant_value_bit */
	SPE_TRACE_ACC_IMPORTANCE,	/* if_accumulate_importance */
	SPE_TRACE_RESCALE_IMPORTANCE,	/* if_rescale_previous_importance */
	SPE_TRACE_IF_TOPK,		/* if_topk */
	SPE_TRACE_TOPK,			/* topk */
	SPE_TRACE_NCOLS,
};

/* Header name of column @col, or NULL. */
const char *spe_trace_col_name(enum spe_trace_col col);

/* Bits the device uses for a "-1" (dense, full precision) column: S16. */
#define SPE_TRACE_DENSE_BITS	16
/* Bits of the dense baseline of dram_bytes_dense_fp32. */
#define SPE_TRACE_FP32_BITS	32

/**
 * struct spe_trace_row - one parsed row, "-1" already resolved
 * @line: line number in the input (1-based)
 * @iteration, @layer, @head: position
 * @d: head dimension (embedding_length_D)
 * @l: tokens in the KV cache, the current one included (sentence_length_L)
 * @key_fetch: keys fetched (cascade token pruning: alive tokens)
 * @key_bits: K MSB bits as fetched; SPE_TRACE_DENSE_BITS for "-1"
 * @query_bits: Q bits; SPE_TRACE_DENSE_BITS for "-1"
 * @requant_thres: the LSB refetch threshold (max prob below it); 0 if "-1"
 * @if_requant: the LSBs of the fetched keys were refetched
 * @lsb_bits: bits of the LSB plane (auto_requant_incre); 0 if "-1"
 * @value_fetch: V rows fetched (local value pruning)
 * @value_bits: V bits; SPE_TRACE_DENSE_BITS for "-1"
 * @acc_importance: token importance is accumulated in this head
 * @rescale_importance: previous importance rescaled (no traffic of its own)
 * @if_topk: token top-k runs after this head
 * @topk: tokens the top-k keeps (0 when @if_topk is false)
 * @key_dense, @query_dense, @value_dense: the column was "-1"
 */
struct spe_trace_row {
	unsigned long line;
	uint32_t iteration, layer, head;
	uint32_t d, l;
	uint32_t key_fetch;
	uint32_t key_bits, query_bits;
	double requant_thres;
	int if_requant;
	uint32_t lsb_bits;
	uint32_t value_fetch;
	uint32_t value_bits;
	int acc_importance, rescale_importance, if_topk;
	uint32_t topk;
	int key_dense, query_dense, value_dense;
};

/* Return values of spe_trace_parse_line(). */
#define SPE_TRACE_ROW		1	/* @row holds a row */
#define SPE_TRACE_NONE		0	/* header, blank or skipped line */
#define SPE_TRACE_ERROR		(-1)	/* malformed: see parser->err */

#define SPE_TRACE_ERR_LEN	192

/**
 * struct spe_trace_parser - line-by-line trace parser state
 * @col: field index of each column, from the header
 * @have_header: the header line was seen
 * @line: lines fed so far (the number of the last one)
 * @rows: rows returned
 * @skipped: non-blank lines that are not rows: a repeated header, or the
 *	config path line of the authors' files (a first field, all others
 *	empty)
 * @err_line: line of the last SPE_TRACE_ERROR (0: not tied to a line)
 * @err: its message, without the line number
 */
struct spe_trace_parser {
	int col[SPE_TRACE_NCOLS];
	int have_header;
	unsigned long line;
	unsigned long rows;
	unsigned long skipped;
	unsigned long err_line;
	char err[SPE_TRACE_ERR_LEN];
};

void spe_trace_parser_init(struct spe_trace_parser *p);

/**
 * spe_trace_parse_line() - parse one line
 * @p: parser
 * @text: the line, without or with its "\n" / "\r\n"; need not be
 *	NUL-terminated
 * @len: bytes of @text
 * @row: receives the row on SPE_TRACE_ROW
 *
 * The first non-blank line must be the header; columns are matched by name
 * (any order, extra columns ignored, all SPE_TRACE_NCOLS required). The
 * header repeated, or a line whose fields after the first are all empty
 * (the authors' config path line), is skipped and counted. Every other
 * line is a row: a malformed or out-of-range field, iteration_id
 * included, is an error naming the line and column.
 *
 * Return: SPE_TRACE_ROW, SPE_TRACE_NONE or SPE_TRACE_ERROR.
 */
int spe_trace_parse_line(struct spe_trace_parser *p, const char *text,
			 size_t len, struct spe_trace_row *row);

/**
 * spe_trace_row_stats() - traffic and work of one head
 * @row: the row
 * @st: receives (zeroed first) what this head moves and computes:
 *	bytes[Q], bytes[K_MSB], bytes[K_LSB], bytes[V], bytes[OUT], heads = 1,
 *	query_rows = 1, qk_scores, pv_rows, refetch_rows, topk_cycles of its
 *	local value top-k. The cascade state of a layer (token importance,
 *	alive and kept lists) is per job, added by spe_trace_replay_row().
 */
void spe_trace_row_stats(const struct spe_trace_row *row,
			 struct spe_stats *st);

/* Dense fp32 bytes of a row: every K and V row of the head at 32 bits. */
uint64_t spe_trace_row_dense_fp32(const struct spe_trace_row *row);

/**
 * spe_trace_topk_cycles() - modeled cycles of one top-k engine run
 * @n: inputs
 * @k: outputs wanted
 * @seed: the job's topk_seed
 * @call: the run's number within the job
 *
 * The engine's quick-select (spe_topk.c, same pivot generator) on @n
 * distinct keys in random order: each pass costs ceil(n_cur / 16) + 3
 * cycles, then one filter pass ceil(n / 8). 0 when k == 0 or k >= n (the
 * trace did not prune, so the device runs no top-k).
 */
uint64_t spe_trace_topk_cycles(uint32_t n, uint32_t k, uint32_t seed,
			       uint32_t call);

/**
 * struct spe_trace_totals - sums over a replay
 * @rows, @jobs: rows (heads) and jobs ((iteration, layer) groups)
 * @iterations: iteration changes seen, +1 (distinct consecutive ids)
 * @bytes: DRAM bytes per plane (read; written for the written planes)
 * @bytes_total: sum of @bytes
 * @bytes_kv: K MSB + K LSB + V
 * @dense_fp32: every K and V row of every head at 32 bits
 * @keys_fetched, @values_fetched, @keys_dense: sums of key_fetch_num,
 *	value_fetch_num and sentence_length_L
 * @refetch_rows: rows with if_requant (LSB refetches)
 * @token_topk_runs: jobs that ran a token top-k (cascade pruning)
 * @qk_scores, @pv_rows, @topk_cycles: sums of the job statistics
 * @topk_cycles_value: the part of @topk_cycles spent on local value pruning
 *	(the rest is the token top-k)
 * @cycles_full, @cycles_eighth: sums of spe_cycles() per job
 */
struct spe_trace_totals {
	uint64_t rows, jobs, iterations;
	uint64_t bytes[SPE_PLANE_COUNT];
	uint64_t bytes_total, bytes_kv;
	uint64_t dense_fp32;
	uint64_t keys_fetched, values_fetched, keys_dense;
	uint64_t refetch_rows;
	uint64_t token_topk_runs;
	uint64_t qk_scores, pv_rows, topk_cycles, topk_cycles_value;
	uint64_t cycles_full, cycles_eighth;
};

struct spe_trace_replay;

/* Called once per finished job (optional), e.g. for per-iteration tables. */
typedef void (*spe_trace_job_fn)(void *opaque,
				  const struct spe_trace_replay *r,
				  const struct spe_job *job,
				  const struct spe_stats *st,
				  uint64_t dense_fp32,
				  uint64_t cycles_full, uint64_t cycles_eighth);

/**
 * struct spe_trace_replay - rows in, jobs and totals out
 * @parser: the line parser (its counts: lines, rows, skipped)
 * @totals: sums over the finished jobs
 * @model_full, @model_eighth: the cycle models
 * @on_job, @opaque: optional per-job callback
 * @iteration, @layer: of the job being built (valid if @n_rows)
 * @n_rows: rows in the job being built
 * @job, @st, @job_dense_fp32: the job being built
 * @acc_importance: a head of the job being built accumulates importance
 * @have_prev, @prev_iteration, @prev_layer, @prev_kept, @prev_kv_rows:
 *	the previous job (its kept tokens are the next layer's candidates)
 */
struct spe_trace_replay {
	struct spe_trace_parser parser;
	struct spe_trace_totals totals;
	struct spe_model model_full, model_eighth;
	spe_trace_job_fn on_job;
	void *opaque;
	uint32_t iteration, layer;
	uint32_t n_rows;
	struct spe_job job;
	struct spe_stats st;
	uint64_t job_dense_fp32;
	int acc_importance;
	int have_prev;
	uint32_t prev_iteration, prev_layer;
	uint64_t prev_kept;
	uint32_t prev_kv_rows;
};

/* Zeroes @r, sets the models to spe_model_full() / spe_model_eighth(). */
void spe_trace_replay_init(struct spe_trace_replay *r);

/**
 * spe_trace_replay_row() - add one row
 *
 * Consecutive rows of the same (iteration, layer) form one job (every head
 * of the layer); a row of another (iteration, layer) finishes the job being
 * built first. Return: 0, or SPE_TRACE_ERROR (too many heads for one job,
 * or D / L / bit widths differing within a job; message in r->parser.err).
 */
int spe_trace_replay_row(struct spe_trace_replay *r,
			 const struct spe_trace_row *row);

/* Finish the job being built, if any. Call once after the last row. */
void spe_trace_replay_finish(struct spe_trace_replay *r);

/**
 * spe_trace_replay_buffer() - parse and replay a whole trace in memory
 * @r: from spe_trace_replay_init()
 * @buf: the file's bytes (need not be NUL-terminated)
 * @len: its length
 *
 * Return: 0, or SPE_TRACE_ERROR with r->parser.err set. A trace with a
 * header but no rows is not an error (all totals 0); no header is.
 */
int spe_trace_replay_buffer(struct spe_trace_replay *r, const char *buf,
			    size_t len);

/*
 * Bytes of the UTF-8 character at @s (1..4; @n bytes available), or 0 if
 * they do not start a valid one (a stray continuation byte, an overlong
 * form, a surrogate, beyond U+10FFFF, cut short) or @n is 0.
 */
size_t spe_trace_utf8_char(const char *s, size_t n);

/* Device element format of a bit width (4,6,8,10,12,16), or -1. */
int spe_trace_format(uint32_t bits);

#endif /* SPE_TRACE_H */
