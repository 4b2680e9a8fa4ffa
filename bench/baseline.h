/* SPDX-License-Identifier: MIT */
/* The float baseline of bench/engine-bench.c (bench/baseline.c). */
#ifndef SPATTEN_BENCH_BASELINE_H
#define SPATTEN_BENCH_BASELINE_H

struct base_shape {
	int n_heads, head_dim, q_rows, kv_rows, q_start, causal;
};

/*
 * out[h] = softmax(Q[h] K[h]^T / sqrt(d), causal mask) V[h] for each head;
 * layouts as the engine's ([heads][rows][d], row-major); @s is scratch of
 * q_rows * kv_rows floats.
 */
void base_attention(const struct base_shape *sh, const float *q,
		    const float *k, const float *v, float *out, float *s);
/* Softmax of s[0..n) in place (libmvec's expf), then zero s[n..width). */
void base_softmax_row(float *s, int n, int width);
void base_threads(int n);
int base_threads_get(void);
const char *base_config(void);

#endif
