// SPDX-License-Identifier: MIT
/*
 * The float baseline of bench/engine-bench.c: multi-head attention as a
 * performance engineer writes it for this CPU. OpenBLAS sgemm for Q K^T
 * and P V (single-threaded: the caller sets it), the softmax rows
 * vectorised with glibc's libmvec expf (-O3 -march=native -ffast-math
 * -fopenmp-simd: gcc calls _ZGVeN16v_expf / _ZGVdN8v_expf; bench.mk's
 * build is checked with objdump in the report).
 */
#include <math.h>
#include <stddef.h>

#include <cblas.h>

#include "baseline.h"

/* Softmax of s[0..n) in place, then zero s[n..width). */
void base_softmax_row(float *s, int n, int width)
{
	float m = -INFINITY, sum = 0.0f, inv;
	int j;

#pragma omp simd reduction(max:m)
	for (j = 0; j < n; j++)
		m = s[j] > m ? s[j] : m;
#pragma omp simd reduction(+:sum)
	for (j = 0; j < n; j++) {
		float e = expf(s[j] - m);

		s[j] = e;
		sum += e;
	}
	inv = 1.0f / sum;
#pragma omp simd
	for (j = 0; j < n; j++)
		s[j] *= inv;
	for (j = n; j < width; j++)
		s[j] = 0.0f;
}

void base_attention(const struct base_shape *sh, const float *q,
		    const float *k, const float *v, float *out, float *s)
{
	int d = sh->head_dim, l0 = sh->q_rows, l1 = sh->kv_rows;
	float scale = 1.0f / sqrtf((float)d);
	int h, i;

	for (h = 0; h < sh->n_heads; h++) {
		const float *qh = q + (size_t)h * l0 * d;
		const float *kh = k + (size_t)h * l1 * d;
		const float *vh = v + (size_t)h * l1 * d;
		float *oh = out + (size_t)h * l0 * d;

		cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, l0, l1, d,
			    scale, qh, d, kh, d, 0.0f, s, l1);
		for (i = 0; i < l0; i++) {
			int n = sh->causal ? sh->q_start + i + 1 : l1;

			base_softmax_row(s + (size_t)i * l1, n, l1);
		}
		cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, l0, d, l1,
			    1.0f, s, l1, vh, d, 0.0f, oh, d);
	}
}

void base_threads(int n)
{
	openblas_set_num_threads(n);
}

int base_threads_get(void)
{
	return openblas_get_num_threads();
}

const char *base_config(void)
{
	return openblas_get_config();
}
