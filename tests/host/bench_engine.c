// SPDX-License-Identifier: MIT
/*
 * Engine speed, dense vs token-pruned: a GPT-2-small generation step (12
 * heads, D 64, 1024 keys) and a BERT-base summarization layer (12 heads,
 * D 64, 384 tokens), keep ratios 1, 0.5, 0.2 and 0.1. Prints the time per
 * job (best of several runs) and the ratio to dense measured in the same
 * run. A benchmark, not a test: `make -f tests/host/host.mk host-bench`.
 */
#include <endian.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "spe.h"
#include "spe_kernels.h"
#include "testutil.h"

/* Operands in host memory, one array per plane; reads are memcpy. */
struct bench_mem {
	uint8_t *plane[SPE_PLANE_COUNT];
	size_t len[SPE_PLANE_COUNT];
};

static int bench_read(void *opaque, enum spe_plane p, uint64_t off,
		      void *dst, size_t len)
{
	struct bench_mem *m = opaque;

	if (off > m->len[p] || len > m->len[p] - off)
		return SPATTEN_HW_ERR_BUFFER;
	memcpy(dst, m->plane[p] + off, len);
	return 0;
}

static int bench_write(void *opaque, enum spe_plane p, uint64_t off,
		       const void *src, size_t len)
{
	struct bench_mem *m = opaque;

	if (off > m->len[p] || len > m->len[p] - off)
		return SPATTEN_HW_ERR_BUFFER;
	memcpy(m->plane[p] + off, src, len);
	return 0;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void plane(struct bench_mem *m, struct spe_job *job, int p,
		  size_t len, uint64_t *seed)
{
	size_t i;

	m->plane[p] = calloc(len ? len : 1, 1);
	m->len[p] = len;
	for (i = 0; i < len; i += 2) {
		int16_t v = (int16_t)prng_range(seed, 8192);

		m->plane[p][i] = (uint8_t)v;
		if (i + 1 < len)
			m->plane[p][i + 1] = (uint8_t)((uint16_t)v >> 8);
	}
	job->buf[p].len = (uint32_t)len;
}

/* Seconds per job, best of @reps after a warm-up. */
static double bench(uint32_t heads, uint32_t L, int generation,
		    uint32_t keep, uint32_t value_keep, struct spe_result *res)
{
	struct spe_job job = { .opcode = SPATTEN_OP_ATTENTION,
			       .version = 2, .n_heads = heads,
			       .head_dim = 64, .kv_rows = L,
			       .q_rows = generation ? 1 : L,
			       .q_start = generation ? L - 1 : 0,
			       .stage = generation ? SPATTEN_STAGE_GENERATION :
						     SPATTEN_STAGE_SUMMARIZATION,
			       .flags = generation ? SPATTEN_DESC_F_CAUSAL : 0,
			       .q_frac = 12, .k_frac = 12, .v_frac = 12,
			       .out_frac = 12, .token_keep = keep,
			       .value_keep = value_keep, .topk_seed = 1 };
	struct bench_mem m;
	struct spe_mem mem = { .read = bench_read, .write = bench_write, .opaque = &m };
	struct spe_caps caps;
	uint64_t seed = 42;
	size_t kv = (size_t)heads * L * 64 * 2;
	size_t q = (size_t)heads * job.q_rows * 64 * 2;
	double best = 1e9;
	int r, reps = generation ? 200 : 5, p;

	memset(&m, 0, sizeof(m));
	test_caps(&caps);
	plane(&m, &job, SPE_PLANE_Q, q, &seed);
	plane(&m, &job, SPE_PLANE_K_MSB, kv, &seed);
	plane(&m, &job, SPE_PLANE_V, kv, &seed);
	plane(&m, &job, SPE_PLANE_OUT, q, &seed);
	if (keep) {
		plane(&m, &job, SPE_PLANE_TOK_IMP, (size_t)L * 8, &seed);
		plane(&m, &job, SPE_PLANE_TOK_KEPT, (size_t)keep * 2, &seed);
	}
	for (r = -1; r < reps; r++) {
		double t0 = now(), t;

		if (spe_run(&job, &caps, &mem, res)) {
			fprintf(stderr, "bench: status %u\n", res->status);
			exit(1);
		}
		t = now() - t0;
		if (r >= 0 && t < best)
			best = t;
	}
	for (p = 0; p < SPE_PLANE_COUNT; p++)
		free(m.plane[p]);
	return best;
}

int main(void)
{
	static const double ratios[] = { 1.0, 0.5, 0.2, 0.1 };
	struct spe_result res;
	double dense = 1.0;
	size_t i;

	printf("# kernels: %s\n", spe_kernels_get()->name);
	printf("%-34s %6s %10s %8s %12s %10s\n", "job", "keep", "us/job",
	       "vs dense", "model cyc", "K+V bytes");
	for (i = 0; i < 4; i++) {
		uint32_t keep = ratios[i] < 1 ? (uint32_t)(1024 * ratios[i]) : 0;
		double t = bench(12, 1024, 1, keep, 0, &res);

		if (i == 0)
			dense = t;
		printf("%-34s %6.2f %10.1f %8.3f %12" PRIu64 " %10" PRIu64 "\n",
		       "GPT-2-small gen L=1024", ratios[i], t * 1e6,
		       t / dense, res.cycles,
		       res.stats.bytes[SPE_PLANE_K_MSB] +
		       res.stats.bytes[SPE_PLANE_V]);
	}
	for (i = 1; i < 4; i++) {
		uint32_t keep = (uint32_t)(1024 * ratios[i]);
		double t = bench(12, 1024, 1, keep, keep / 5, &res);

		printf("%-34s %6.2f %10.1f %8.3f %12" PRIu64 " %10" PRIu64 "\n",
		       "  + values 20% of kept", ratios[i], t * 1e6,
		       t / dense, res.cycles,
		       res.stats.bytes[SPE_PLANE_K_MSB] +
		       res.stats.bytes[SPE_PLANE_V]);
	}
	for (i = 0; i < 4; i++) {
		uint32_t keep = ratios[i] < 1 ? (uint32_t)(384 * ratios[i]) : 0;
		double t = bench(12, 384, 0, keep, 0, &res);

		if (i == 0)
			dense = t;
		printf("%-34s %6.2f %10.1f %8.3f %12" PRIu64 " %10" PRIu64 "\n",
		       "BERT-base summarization L=384", ratios[i], t * 1e6,
		       t / dense, res.cycles,
		       res.stats.bytes[SPE_PLANE_K_MSB] +
		       res.stats.bytes[SPE_PLANE_V]);
	}
	return 0;
}
