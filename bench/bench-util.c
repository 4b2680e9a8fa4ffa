// SPDX-License-Identifier: MIT
/*
 * bench-util: what the host benchmarks (engine-bench, host-bench) share;
 * see bench-util.h.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "spatten_hw.h"
#include "spe.h"
#include "bench-util.h"

/* ---- host memory behind struct spe_mem --------------------------------- */

/**
 * hmem_read() - struct spe_mem's read: copy from a plane's buffer
 * @opaque: the struct hmem
 * @plane: the plane to read
 * @off: byte offset in the plane
 * @dst: where to copy to
 * @len: bytes to copy
 *
 * Counts the call in m->reads.
 *
 * Return: 0, or SPATTEN_HW_ERR_DMA_READ if the plane is not mapped or
 * [@off, @off + @len) is out of its bounds.
 */
int hmem_read(void *opaque, enum spe_plane plane, uint64_t off, void *dst,
	      size_t len)
{
	struct hmem *m = opaque;

	if (!m->plane[plane] || off > m->len[plane] ||
	    len > m->len[plane] - off)
		return SPATTEN_HW_ERR_DMA_READ;
	memcpy(dst, m->plane[plane] + off, len);
	m->reads++;
	return 0;
}

/**
 * hmem_map() - struct spe_mem's optional map: the operands in place
 * @opaque: the struct hmem
 * @plane: the plane to map
 * @off: byte offset in the plane
 * @len: bytes the caller will read
 *
 * Zero-copy: the engine reads host memory in place (as the simulation).
 *
 * Return: a pointer to the bytes, or NULL if the plane is not mapped or
 * [@off, @off + @len) is out of its bounds.
 */
const void *hmem_map(void *opaque, enum spe_plane plane, uint64_t off,
		     size_t len)
{
	struct hmem *m = opaque;

	if (!m->plane[plane] || off > m->len[plane] ||
	    len > m->len[plane] - off)
		return NULL;
	return m->plane[plane] + off;
}

/**
 * hmem_map_gather() - struct spe_mem's optional map_gather: hmem_map()
 * @opaque: the struct hmem
 * @plane: the plane to map
 * @off: byte offset in the plane
 * @len: bytes spanned by the rows the caller will read
 * @used: bytes of them it reads (hmem counts no traffic)
 *
 * Return: as hmem_map().
 */
const void *hmem_map_gather(void *opaque, enum spe_plane plane, uint64_t off,
			    size_t len, size_t used)
{
	(void)used;
	return hmem_map(opaque, plane, off, len);
}

/**
 * hmem_write() - struct spe_mem's write: copy into a plane's buffer
 * @opaque: the struct hmem
 * @plane: the plane to write
 * @off: byte offset in the plane
 * @src: what to copy
 * @len: bytes to copy
 *
 * Counts the call in m->writes.
 *
 * Return: 0, or SPATTEN_HW_ERR_DMA_WRITE if the plane is not mapped or
 * [@off, @off + @len) is out of its bounds.
 */
int hmem_write(void *opaque, enum spe_plane plane, uint64_t off,
	       const void *src, size_t len)
{
	struct hmem *m = opaque;

	if (!m->plane[plane] || off > m->len[plane] ||
	    len > m->len[plane] - off)
		return SPATTEN_HW_ERR_DMA_WRITE;
	memcpy(m->plane[plane] + off, src, len);
	m->writes++;
	return 0;
}

/* ---- helpers ---------------------------------------------------------- */

/**
 * bench_prng() - xorshift64* pseudo-random numbers
 * @s: the state (non-zero), updated
 *
 * Return: the next number of the sequence.
 */
uint64_t bench_prng(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*s = x;
	return x * 0x2545F4914F6CDD1Dull;
}

/**
 * bench_now_ms() - the monotonic clock
 *
 * Return: CLOCK_MONOTONIC in milliseconds.
 */
double bench_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/**
 * bench_cmp_double() - qsort() comparison of two doubles, ascending
 * @a: the first double
 * @b: the second double
 *
 * Return: -1, 0 or 1 as *@a is less than, equal to or greater than *@b.
 */
int bench_cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/**
 * bench_median() - the median of a sample
 * @v: the sample, sorted in place (ascending)
 * @n: its size, > 0
 *
 * Return: the middle value, or the mean of the two middle ones if @n is
 * even.
 */
double bench_median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), bench_cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/**
 * bench_stats() - the median of a sample and its p10..p90 spread
 * @v: the sample, sorted in place (ascending)
 * @n: its size, > 0
 *
 * Return: the median and the 10th and 90th percentiles (nearest rank).
 */
struct bench_stat bench_stats(double *v, int n)
{
	struct bench_stat s;

	s.med = bench_median(v, n);
	s.lo = v[(n - 1) / 10];
	s.hi = v[n - 1 - (n - 1) / 10];
	return s;
}

/**
 * bench_spread_pct() - the spread of a sample relative to its median
 * @s: the statistics from bench_stats()
 *
 * Return: (p90 - p10) / median in percent, 0 if the median is not positive.
 */
double bench_spread_pct(struct bench_stat s)
{
	return s.med > 0 ? 100.0 * (s.hi - s.lo) / s.med : 0.0;
}

/**
 * bench_caps() - the device the host benchmarks run the engine as
 * @caps: filled: every format, split and feature, context 1024, 16 heads,
 *	head_dim 16..256, 48-bit DMA, the full chip's cycle model
 */
void bench_caps(struct spe_caps *caps)
{
	memset(caps, 0, sizeof(*caps));
	caps->max_context = 1024;
	caps->max_heads = 16;
	caps->head_dims = 0x1f0;	/* 16..256 */
	caps->formats = (1u << SPATTEN_FMT_NUM) - 1;
	caps->splits = (1u << 4) | (1u << 6) | (1u << 8) | (1u << 10) |
		       (1u << 12);
	caps->features = SPATTEN_FEAT_CAUSAL | SPATTEN_FEAT_GENERATION |
			 SPATTEN_FEAT_TOKEN_PRUNE | SPATTEN_FEAT_HEAD_PRUNE |
			 SPATTEN_FEAT_VALUE_PRUNE | SPATTEN_FEAT_PROGRESSIVE;
	caps->dma_bits = 48;
	caps->model = spe_model_full();
}

/**
 * bench_keep_count() - tokens kept at keep ratio @r of @kv_rows
 * @kv_rows: context length
 * @generation: a generation step, whose current token is always kept
 * @r: keep ratio
 *
 * Return: round(r * kv_rows), at least 1, and at least 2 in generation
 * (the current token plus one chosen by the top-k).
 */
uint32_t bench_keep_count(uint32_t kv_rows, int generation, double r)
{
	double k = floor(r * (double)kv_rows + 0.5);

	if (k < 1)
		k = 1;
	if (generation && k < 2 && kv_rows > 1)
		k = 2;
	return (uint32_t)k;
}
