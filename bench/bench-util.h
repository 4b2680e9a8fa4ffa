/* SPDX-License-Identifier: MIT */
/*
 * bench-util: what the host benchmarks (engine-bench, host-bench) share:
 * host memory behind struct spe_mem (engine/spe.h), a PRNG, a clock and
 * order statistics.
 */
#ifndef BENCH_UTIL_H
#define BENCH_UTIL_H

#include <stddef.h>
#include <stdint.h>

#include "spe.h"

/**
 * struct hmem - host memory behind struct spe_mem, one buffer per plane
 * @plane: the buffer of each plane (NULL: the plane is not mapped)
 * @len: the length in bytes of each buffer
 * @reads: successful hmem_read() callbacks (for profiling)
 * @writes: successful hmem_write() callbacks (for profiling)
 *
 * Pass a pointer to it as struct spe_mem's opaque, with hmem_read,
 * hmem_write and (optionally) hmem_map as the callbacks.
 */
struct hmem {
	uint8_t *plane[SPE_PLANE_COUNT];
	size_t len[SPE_PLANE_COUNT];
	unsigned long reads, writes;
};

int hmem_read(void *opaque, enum spe_plane plane, uint64_t off, void *dst,
	      size_t len);
int hmem_write(void *opaque, enum spe_plane plane, uint64_t off,
	       const void *src, size_t len);
const void *hmem_map(void *opaque, enum spe_plane plane, uint64_t off,
		     size_t len);
const void *hmem_map_gather(void *opaque, enum spe_plane plane, uint64_t off,
			    size_t len, size_t used);

uint64_t bench_prng(uint64_t *s);
double bench_now_ms(void);
int bench_cmp_double(const void *a, const void *b);
double bench_median(double *v, int n);

/**
 * struct bench_stat - the median of a sample and its spread
 * @med: the median
 * @lo: the 10th percentile (lower end of the spread)
 * @hi: the 90th percentile (upper end of the spread)
 */
struct bench_stat {
	double med, lo, hi;
};

struct bench_stat bench_stats(double *v, int n);
double bench_spread_pct(struct bench_stat s);

void bench_caps(struct spe_caps *caps);
uint32_t bench_keep_count(uint32_t kv_rows, int generation, double r);

#endif /* BENCH_UTIL_H */
