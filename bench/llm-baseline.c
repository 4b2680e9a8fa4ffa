// SPDX-License-Identifier: MIT
/*
 * The float baseline of bench/llm-bench.c: one grouped-query-attention
 * decode step (one query row per query head, a KV cache of @kv_rows
 * tokens) in fp32, built like bench/baseline.c (OpenBLAS, single-threaded
 * by the caller; softmax vectorised with glibc's libmvec expf: -O3
 * -march=native -ffast-math -fopenmp-simd).
 *
 * Two ways:
 *   llm_base_gemv()   per query head h: sgemv of q_h against the K of its
 *		     KV head g = h / group, softmax, sgemv with V_g (what a
 *		     straightforward port does: each KV head is streamed once
 *		     per query head, so `group` times);
 *   llm_base_group()  per KV head g: one sgemm of its `group` query rows
 *		     against K_g (4 x L), the softmax of each row, one sgemm
 *		     with V_g (each KV head streamed once, as GQA decode
 *		     kernels do).
 * The cache is head-major at capacity: KV head g starts at row g * cap.
 */
#include <math.h>
#include <stddef.h>

#include <cblas.h>

#include "baseline.h"
#include "llm-baseline.h"

void llm_base_gemv(const struct llm_base_shape *sh, const float *q,
		   const float *k, const float *v, float *out, float *s)
{
	int d = sh->head_dim, l = sh->kv_rows;
	int group = sh->n_heads / sh->n_kv_heads;
	float scale = 1.0f / sqrtf((float)d);
	int h;

	for (h = 0; h < sh->n_heads; h++) {
		size_t g = (size_t)(h / group);
		const float *kg = k + g * sh->cap * d;
		const float *vg = v + g * sh->cap * d;

		cblas_sgemv(CblasRowMajor, CblasNoTrans, l, d, scale, kg, d,
			    q + (size_t)h * d, 1, 0.0f, s, 1);
		base_softmax_row(s, l, l);
		cblas_sgemv(CblasRowMajor, CblasTrans, l, d, 1.0f, vg, d, s, 1,
			    0.0f, out + (size_t)h * d, 1);
	}
}

void llm_base_group(const struct llm_base_shape *sh, const float *q,
		    const float *k, const float *v, float *out, float *s)
{
	int d = sh->head_dim, l = sh->kv_rows;
	int group = sh->n_heads / sh->n_kv_heads;
	float scale = 1.0f / sqrtf((float)d);
	int g, i;

	for (g = 0; g < sh->n_kv_heads; g++) {
		const float *kg = k + (size_t)g * sh->cap * d;
		const float *vg = v + (size_t)g * sh->cap * d;

		cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, group, l, d,
			    scale, q + (size_t)g * group * d, d, kg, d, 0.0f,
			    s, l);
		for (i = 0; i < group; i++)
			base_softmax_row(s + (size_t)i * l, l, l);
		cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, group, d,
			    l, 1.0f, s, l, vg, d, 0.0f,
			    out + (size_t)g * group * d, d);
	}
}
