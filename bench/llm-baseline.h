/* SPDX-License-Identifier: MIT */
/* The fp32 GQA decode baseline of bench/llm-bench.c (bench/llm-baseline.c). */
#ifndef SPATTEN_BENCH_LLM_BASELINE_H
#define SPATTEN_BENCH_LLM_BASELINE_H

#include <stddef.h>

/*
 * One decode step: q [n_heads][head_dim], K and V head-major caches of
 * capacity @cap rows per KV head ([n_kv_heads][cap][head_dim]) of which
 * the first @kv_rows are used, out [n_heads][head_dim]; query head h reads
 * KV head h / (n_heads / n_kv_heads). @s: scratch of
 * (n_heads / n_kv_heads) * kv_rows floats.
 */
struct llm_base_shape {
	int n_heads, n_kv_heads, head_dim, kv_rows;
	size_t cap;
};

void llm_base_gemv(const struct llm_base_shape *sh, const float *q,
		   const float *k, const float *v, float *out, float *s);
void llm_base_group(const struct llm_base_shape *sh, const float *q,
		    const float *k, const float *v, float *out, float *s);

#endif
