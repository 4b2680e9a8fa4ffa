// SPDX-License-Identifier: MIT
/*
 * engine-bench: the SpAtten engine (engine/, what the QEMU device runs)
 * against a strong float baseline on the same shapes, in one process:
 *
 *   - BERT-base summarization: 12 heads, D 64, L = 384 queries x 384 keys;
 *   - GPT-2-small generation step: 12 heads, D 64, 1 query x 1024 keys
 *     (causal, KV cache).
 *
 * Baseline (bench/baseline.c): OpenBLAS sgemm for Q K^T and P V, a softmax
 * vectorised with glibc's libmvec expf (-O3 -march=native -ffast-math),
 * single-threaded. Engine: spe_run() on a decoded v2 descriptor over host
 * memory (struct spe_mem copying from arrays), int16 operands with 12
 * fractional bits, exactly what the device computes; dense, then with
 * cascade token pruning at keep ratios r = 1, 0.5, 0.25, 0.1, 0.05.
 *
 * Runs are interleaved (baseline, engine dense, engine pruned r..., then
 * again) so they share the machine's noise; each figure is the median of
 * the repetitions. Ratio = engine throughput / baseline throughput (same
 * flops, 2 * L0 * L1 * D * 2 per head): >= 1 meets the target. Pruned
 * rows: time / dense time against the target 1.25 * r.
 *
 * Every kernel table the CPU supports is measured, each in a child
 * process (the engine chooses its table once per process, from
 * SPATTEN_KERNELS), unless --kernels NAME picks one.
 *
 *   engine-bench [--quick] [--reps N] [--kernels NAME|all] [--shape S]
 *                [--profile R]
 *
 * --shape S: only the shapes whose name contains S ("BERT", "GPT").
 * --profile R: only spe_run() with keep ratio R (1: dense), --reps times,
 * in this process (for perf record): median ms and callbacks per job.
 * --quick: small shapes, one repetition: checks that everything works.
 */
#include <endian.h>
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "spatten_hw.h"
#include "spe.h"
#include "spe_kernels.h"
#include "spe_kernels_impl.h"
#include "baseline.h"
#include "bench-util.h"

#define FRAC		12	/* fractional bits of Q, K, V and output */
#define AMP		(2 << FRAC)	/* operands uniform in [-2, 2] */
#define N_KEEP		5

static const double keep_ratio[N_KEEP] = { 1.0, 0.5, 0.25, 0.1, 0.05 };

struct shape {
	const char *name;
	int heads, d, q_rows, kv_rows, q_start, causal, generation;
};

static const struct shape full_shapes[] = {
	{ "BERT-base L=384 summarization", 12, 64, 384, 384, 0, 0, 0 },
	{ "GPT-2-small gen step L=1024", 12, 64, 1, 1024, 1023, 1, 1 },
};

static const struct shape quick_shapes[] = {
	{ "BERT-base L=64 summarization", 12, 64, 64, 64, 0, 0, 0 },
	{ "GPT-2-small gen step L=128", 12, 64, 1, 128, 127, 1, 1 },
};

/* ---- helpers ---------------------------------------------------------- */

static void *xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);

	if (!p) {
		fprintf(stderr, "engine-bench: out of memory\n");
		exit(2);
	}
	return p;
}

static void set_buf(struct spatten_hw_buf *b, enum spe_plane plane,
		    size_t len)
{
	b->addr = htole64(0x100000000ull * (1 + (uint64_t)plane));
	b->len = htole32((uint32_t)len);
	b->offset = 0;
	b->flags = 0;
}

/* One shape: operands, the float copies, and the engine's memory. */
struct bench_case {
	const struct shape *sh;
	size_t nq, nkv, nout;
	int16_t *q16, *k16, *v16, *out16;
	float *qf, *kf, *vf, *outf, *s;
	uint64_t *tok_imp0, *tok_imp;
	uint16_t *tok_kept;
	struct hmem mem;
	struct spe_caps caps;
};

static void case_init(struct bench_case *c, const struct shape *sh,
		      uint64_t seed)
{
	size_t i;

	memset(c, 0, sizeof(*c));
	c->sh = sh;
	c->nq = (size_t)sh->heads * sh->q_rows * sh->d;
	c->nkv = (size_t)sh->heads * sh->kv_rows * sh->d;
	c->nout = c->nq;
	c->q16 = xcalloc(c->nq, 2);
	c->k16 = xcalloc(c->nkv, 2);
	c->v16 = xcalloc(c->nkv, 2);
	c->out16 = xcalloc(c->nout, 2);
	c->qf = xcalloc(c->nq, sizeof(float));
	c->kf = xcalloc(c->nkv, sizeof(float));
	c->vf = xcalloc(c->nkv, sizeof(float));
	c->outf = xcalloc(c->nout, sizeof(float));
	c->s = xcalloc((size_t)sh->q_rows * sh->kv_rows, sizeof(float));
	c->tok_imp0 = xcalloc((size_t)sh->kv_rows, sizeof(uint64_t));
	c->tok_imp = xcalloc((size_t)sh->kv_rows, sizeof(uint64_t));
	c->tok_kept = xcalloc((size_t)sh->kv_rows, sizeof(uint16_t));

#define FILL(dst16, dstf, n)						\
	for (i = 0; i < (n); i++) {					\
		int32_t r = (int32_t)(bench_prng(&seed) %		\
				    (2 * AMP + 1)) - AMP;		\
		dst16[i] = (int16_t)(r > 32767 ? 32767 : r);		\
		dstf[i] = (float)dst16[i] / (float)(1 << FRAC);		\
	}
	FILL(c->q16, c->qf, c->nq);
	FILL(c->k16, c->kf, c->nkv);
	FILL(c->v16, c->vf, c->nkv);
#undef FILL
	/* Importance as after a few layers: arbitrary, distinct-ish. */
	for (i = 0; i < (size_t)sh->kv_rows; i++)
		c->tok_imp0[i] = bench_prng(&seed) % 1000000;

	c->mem.plane[SPE_PLANE_Q] = (uint8_t *)c->q16;
	c->mem.len[SPE_PLANE_Q] = c->nq * 2;
	c->mem.plane[SPE_PLANE_K_MSB] = (uint8_t *)c->k16;
	c->mem.len[SPE_PLANE_K_MSB] = c->nkv * 2;
	c->mem.plane[SPE_PLANE_V] = (uint8_t *)c->v16;
	c->mem.len[SPE_PLANE_V] = c->nkv * 2;
	c->mem.plane[SPE_PLANE_OUT] = (uint8_t *)c->out16;
	c->mem.len[SPE_PLANE_OUT] = c->nout * 2;
	c->mem.plane[SPE_PLANE_TOK_IMP] = (uint8_t *)c->tok_imp;
	c->mem.len[SPE_PLANE_TOK_IMP] = (size_t)sh->kv_rows * 8;
	c->mem.plane[SPE_PLANE_TOK_KEPT] = (uint8_t *)c->tok_kept;
	c->mem.len[SPE_PLANE_TOK_KEPT] = (size_t)sh->kv_rows * 2;
	bench_caps(&c->caps);
}

static void case_free(struct bench_case *c)
{
	free(c->q16);
	free(c->k16);
	free(c->v16);
	free(c->out16);
	free(c->qf);
	free(c->kf);
	free(c->vf);
	free(c->outf);
	free(c->s);
	free(c->tok_imp0);
	free(c->tok_imp);
	free(c->tok_kept);
}

/* Decode the job; @keep 0: dense. Returns the decode status. */
static int case_job(struct bench_case *c, uint32_t keep, struct spe_job *job)
{
	const struct shape *sh = c->sh;
	struct spatten_hw_desc desc;

	memset(&desc, 0, sizeof(desc));
	desc.opcode = htole16(SPATTEN_OP_ATTENTION);
	desc.desc_size = htole16(SPATTEN_DESC_SIZE);
	desc.version = SPATTEN_DESC_VERSION;
	desc.stage = sh->generation ? SPATTEN_STAGE_GENERATION :
		     SPATTEN_STAGE_SUMMARIZATION;
	desc.flags = htole16(sh->causal ? SPATTEN_DESC_F_CAUSAL : 0);
	desc.tag = htole32(keep);
	desc.n_heads = htole16((uint16_t)sh->heads);
	desc.head_dim = htole16((uint16_t)sh->d);
	desc.q_rows = htole16((uint16_t)sh->q_rows);
	desc.kv_rows = htole16((uint16_t)sh->kv_rows);
	desc.q_start = htole16((uint16_t)sh->q_start);
	desc.q_fmt = desc.k_fmt = desc.v_fmt = desc.out_fmt = SPATTEN_FMT_S16;
	desc.q_frac = desc.k_frac = desc.v_frac = desc.out_frac = FRAC;
	set_buf(&desc.q, SPE_PLANE_Q, c->nq * 2);
	set_buf(&desc.k, SPE_PLANE_K_MSB, c->nkv * 2);
	set_buf(&desc.v, SPE_PLANE_V, c->nkv * 2);
	set_buf(&desc.out, SPE_PLANE_OUT, c->nout * 2);
	if (keep) {
		set_buf(&desc.tok_imp, SPE_PLANE_TOK_IMP,
			(size_t)sh->kv_rows * 8);
		set_buf(&desc.tok_kept, SPE_PLANE_TOK_KEPT, (size_t)keep * 2);
		desc.token_keep = htole16((uint16_t)keep);
		desc.topk_seed = htole32(0x5ba77e4);
	}
	return spe_desc_decode(&desc, sizeof(desc), &c->caps, job);
}

/* One engine run; returns ms, or a negative value on a failed job. */
static double run_engine(struct bench_case *c, const struct spe_job *job)
{
	/* ENGINE_BENCH_NO_MAP in the environment: read only, no map. */
	const void *(*map)(void *, enum spe_plane, uint64_t, size_t) =
		getenv("ENGINE_BENCH_NO_MAP") ? NULL : hmem_map;
	struct spe_mem mem = {
		.read = hmem_read,
		.write = hmem_write,
		.opaque = &c->mem,
		.map = map,
		.map_gather = map ? hmem_map_gather : NULL,
	};
	struct spe_result res;
	double t0, t1;
	int rc;

	memcpy(c->tok_imp, c->tok_imp0, (size_t)c->sh->kv_rows * 8);
	t0 = bench_now_ms();
	rc = spe_run(job, &c->caps, &mem, &res);
	t1 = bench_now_ms();
	if (rc) {
		fprintf(stderr, "engine-bench: %s: job failed, status %d\n",
			c->sh->name, rc);
		return -1.0;
	}
	return t1 - t0;
}

static double run_base(struct bench_case *c)
{
	const struct shape *sh = c->sh;
	struct base_shape bs = { sh->heads, sh->d, sh->q_rows, sh->kv_rows,
				 sh->q_start, sh->causal };
	double t0 = bench_now_ms();

	base_attention(&bs, c->qf, c->kf, c->vf, c->outf, c->s);
	return bench_now_ms() - t0;
}

/*
 * The engine's arithmetic driven straight through the kernel table, as a
 * restructured engine loop would: per head qk_rows over all query rows,
 * softmax_row per row, pv_rows, requant_row. No pruning, no DMA model:
 * what the dense path costs in the kernels alone. Must give spe_run()'s
 * bytes exactly.
 */
struct kpath {
	int64_t *score, *acc;
	float *e;
	int32_t *pq;
	uint8_t *out;
};

static void kpath_init(struct kpath *kp, const struct shape *sh)
{
	size_t sc = (size_t)sh->q_rows * sh->kv_rows;

	kp->score = xcalloc(sc, sizeof(int64_t));
	kp->pq = xcalloc(sc, sizeof(int32_t));
	kp->e = xcalloc((size_t)sh->kv_rows, sizeof(float));
	kp->acc = xcalloc((size_t)sh->q_rows * sh->d, sizeof(int64_t));
	kp->out = xcalloc((size_t)sh->heads * sh->q_rows * sh->d, 2);
}

static void kpath_free(struct kpath *kp)
{
	free(kp->score);
	free(kp->pq);
	free(kp->e);
	free(kp->acc);
	free(kp->out);
}

static double run_kpath(struct bench_case *c, struct kpath *kp)
{
	const struct shape *sh = c->sh;
	const struct spe_kernels *k = spe_kernels_get();
	uint32_t d = (uint32_t)sh->d, m = (uint32_t)sh->q_rows;
	uint32_t kv = (uint32_t)(sh->causal ? sh->q_start + sh->q_rows :
				 sh->kv_rows);
	float scale = (1.0f / (float)(1u << (2 * FRAC))) / sqrtf((float)d);
	double t0 = bench_now_ms();
	uint32_t h, i, j;

	for (h = 0; h < (uint32_t)sh->heads; h++) {
		const int16_t *q = c->q16 + (size_t)h * m * d;
		const int16_t *kk = c->k16 + (size_t)h * sh->kv_rows * d;
		const int16_t *v = c->v16 + (size_t)h * sh->kv_rows * d;

		k->qk_rows(q, m, kk, kv, d, kp->score);
		for (i = 0; i < m; i++) {
			uint32_t vis = sh->causal ? (uint32_t)sh->q_start + i + 1 : kv;

			k->softmax_row(kp->score + (size_t)i * kv, vis, scale, kp->e,
				       kp->pq + (size_t)i * kv);
			for (j = vis; j < kv; j++)
				kp->pq[(size_t)i * kv + j] = 0;
		}
		k->pv_rows(kp->pq, m, v, kv, d, kp->acc);
		for (i = 0; i < m; i++)
			k->requant_row(kp->acc + (size_t)i * d, d, 15,
				       kp->out + ((size_t)h * m + i) * d * 2);
	}
	return bench_now_ms() - t0;
}

/* Engine output against the float result, in real units. */
static void check_accuracy(struct bench_case *c, const struct spe_job *job)
{
	double worst = 0.0, tol = spe_out_tolerance(job, 2.0);
	size_t i;

	for (i = 0; i < c->nout; i++) {
		double diff = fabs((double)c->out16[i] / (1 << FRAC) -
				   (double)c->outf[i]);

		if (diff > worst)
			worst = diff;
	}
	printf("#   %-32s engine vs float: max |diff| %.2e (bound %.2e)%s\n",
	       c->sh->name, worst, tol, worst <= tol + 1e-5 ? "" :
	       "  ** ABOVE BOUND **");
}

struct shape_result {
	double base_ms, eng_ms, kpath_ms, prune_ms[N_KEEP];
	int kpath_same;		/* kernel path == spe_run, byte for byte */
	int prune_ok;		/* spe_run accepted token pruning */
	uint32_t keep[N_KEEP];
};

static int bench_shape(const struct shape *sh, int reps,
		       struct shape_result *r)
{
	struct bench_case c;
	struct spe_job dense, pruned[N_KEEP];
	double *tb = xcalloc((size_t)reps, sizeof(double));
	double *te = xcalloc((size_t)reps, sizeof(double));
	double *tp = xcalloc((size_t)reps * N_KEEP, sizeof(double));
	double *tk = xcalloc((size_t)reps, sizeof(double));
	struct kpath kp;
	int i, k, rc = 0;

	case_init(&c, sh, 0x5eed0000u + (uint64_t)sh->kv_rows);
	kpath_init(&kp, sh);
	memset(r, 0, sizeof(*r));
	if (case_job(&c, 0, &dense)) {
		fprintf(stderr, "engine-bench: %s: dense descriptor refused\n",
			sh->name);
		rc = 1;
		goto out;
	}
	r->prune_ok = 1;
	for (k = 0; k < N_KEEP; k++) {
		r->keep[k] = bench_keep_count((uint32_t)sh->kv_rows, sh->generation, keep_ratio[k]);
		if (case_job(&c, r->keep[k], &pruned[k]))
			r->prune_ok = 0;
	}

	/* Warm-up (page faults, BLAS buffers), and the accuracy check. */
	run_base(&c);
	if (run_engine(&c, &dense) < 0) {
		rc = 1;
		goto out;
	}
	check_accuracy(&c, &dense);
	run_kpath(&c, &kp);
	r->kpath_same = !memcmp(kp.out, c.out16, c.nout * 2);
	if (r->prune_ok)
		for (k = 0; k < N_KEEP; k++)
			if (run_engine(&c, &pruned[k]) < 0)
				r->prune_ok = 0;

	for (i = 0; i < reps; i++) {
		tb[i] = run_base(&c);
		te[i] = run_engine(&c, &dense);
		if (te[i] < 0) {
			rc = 1;
			goto out;
		}
		tk[i] = run_kpath(&c, &kp);
		if (r->prune_ok)
			for (k = 0; k < N_KEEP; k++)
				tp[k * reps + i] = run_engine(&c, &pruned[k]);
	}
	r->base_ms = bench_median(tb, reps);
	r->eng_ms = bench_median(te, reps);
	r->kpath_ms = bench_median(tk, reps);
	if (r->prune_ok)
		for (k = 0; k < N_KEEP; k++)
			r->prune_ms[k] = bench_median(tp + k * reps, reps);
out:
	case_free(&c);
	kpath_free(&kp);
	free(tk);
	free(tb);
	free(te);
	free(tp);
	return rc;
}

/*
 * --profile R: spe_run() alone on one shape, keep ratio R (1: dense), for
 * perf record / callgrind; prints the median time per job and the
 * callbacks per job (each maximal run of kept rows is one read).
 */
static int profile_shape(const struct shape *sh, int reps, double r)
{
	struct bench_case c;
	struct spe_job job;
	uint32_t keep = r >= 1.0 ? 0 : bench_keep_count((uint32_t)sh->kv_rows, sh->generation, r);
	double *t = xcalloc((size_t)reps, sizeof(double));
	unsigned long reads, writes;
	double med;
	int i, rc = 0;

	case_init(&c, sh, 0x5eed0000u + (uint64_t)sh->kv_rows);
	if (case_job(&c, keep, &job) || run_engine(&c, &job) < 0) {
		fprintf(stderr, "engine-bench: %s: profile job failed\n",
			sh->name);
		rc = 1;
		goto out;
	}
	c.mem.reads = c.mem.writes = 0;
	for (i = 0; i < reps; i++) {
		t[i] = run_engine(&c, &job);
		if (t[i] < 0) {
			rc = 1;
			goto out;
		}
	}
	reads = c.mem.reads / (unsigned long)reps;
	writes = c.mem.writes / (unsigned long)reps;
	med = bench_median(t, reps);	/* sorts: t[0] is the fastest */
	printf("%-32s r %.2f keep %4u kernels %-7s %9.4f ms/job (median "
	       "of %d; min %.4f), %lu reads, %lu writes per job\n", sh->name,
	       r, keep, spe_kernels_get()->name, med, reps, t[0], reads,
	       writes);
out:
	case_free(&c);
	free(t);
	return rc;
}

static double shape_gflop(const struct shape *sh)
{
	return 2.0 * 2.0 * sh->q_rows * sh->kv_rows * sh->d * sh->heads / 1e9;
}

/* The measurement itself, in a process whose kernel table is fixed. */
static int child(const struct shape *shapes, int n_shapes, int reps)
{
	const struct spe_kernels *kern = spe_kernels_get();
	struct shape_result res[2];
	int s, k, rc = 0;

	base_threads(1);
	printf("\n## kernels %s (SPATTEN_KERNELS=%s), OpenBLAS threads %d, "
	       "%d repetitions\n", kern->name,
	       getenv("SPATTEN_KERNELS") ? getenv("SPATTEN_KERNELS") : "",
	       base_threads_get(), reps);
	fflush(stdout);

	for (s = 0; s < n_shapes; s++)
		rc |= bench_shape(&shapes[s], reps, &res[s]);
	if (rc)
		return rc;

	printf("%-32s %9s %9s %9s %9s %7s  %s\n", "shape", "base ms",
	       "base GF/s", "engine ms", "eng GF/s", "ratio", "kernels");
	for (s = 0; s < n_shapes; s++) {
		double gf = shape_gflop(&shapes[s]);

		printf("%-32s %9.3f %9.2f %9.3f %9.2f %7.2f  %s%s\n",
		       shapes[s].name, res[s].base_ms, gf / res[s].base_ms * 1e3,
		       res[s].eng_ms, gf / res[s].eng_ms * 1e3,
		       res[s].base_ms / res[s].eng_ms, kern->name,
		       res[s].base_ms >= res[s].eng_ms ? "" : "  (below 1.0)");
	}

	printf("%-32s %9s %9s %7s  %s\n", "kernel path (no engine loop)",
	       "ms", "GF/s", "ratio", "== spe_run output?");
	for (s = 0; s < n_shapes; s++) {
		double gf = shape_gflop(&shapes[s]);

		printf("%-32s %9.3f %9.2f %7.2f  %s\n", shapes[s].name,
		       res[s].kpath_ms, gf / res[s].kpath_ms * 1e3,
		       res[s].base_ms / res[s].kpath_ms,
		       res[s].kpath_same ? "yes, byte for byte" : "NO");
		if (!res[s].kpath_same)
			rc = 1;
	}

	printf("%-32s %5s %6s %9s %10s %7s  %s\n", "token pruning", "r", "keep",
	       "engine ms", "time/dense", "target", "met?");
	for (s = 0; s < n_shapes; s++)
		for (k = 0; k < N_KEEP; k++) {
			double rel = res[s].prune_ms[k] / res[s].eng_ms;
			double target = 1.25 * keep_ratio[k];

			if (!res[s].prune_ok) {
				printf("%-32s %5.2f %6u %9s %10s %7.3f  n/a\n",
				       shapes[s].name, keep_ratio[k],
				       res[s].keep[k], "n/a", "n/a", target);
				continue;
			}
			printf("%-32s %5.2f %6u %9.3f %10.3f %7.3f  %s\n",
			       shapes[s].name, keep_ratio[k], res[s].keep[k],
			       res[s].prune_ms[k], rel, target,
			       keep_ratio[k] < 0.1 ? (rel <= target ?
			       "yes (r < 0.1: no target)" :
			       "no (r < 0.1: no target)") :
			       rel <= target ? "yes" : "NO");
		}
	fflush(stdout);
	return rc;
}

static void usage(void)
{
	fprintf(stderr, "usage: engine-bench [--quick] [--reps N] "
		"[--kernels NAME|all] [--shape BERT|GPT] [--profile R]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	const struct shape *shapes = full_shapes;
	const char *want = "all", *only = NULL;
	struct shape picked[2];
	int quick = 0, reps = 15, i, rc = 0, n_shapes = 2;
	double profile = 0.0;
	const struct spe_kernels *list[8];
	unsigned int n, v;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--quick")) {
			quick = 1;
		} else if (!strcmp(argv[i], "--reps") && i + 1 < argc) {
			reps = atoi(argv[++i]);
			if (reps < 1)
				usage();
		} else if (!strcmp(argv[i], "--kernels") && i + 1 < argc) {
			want = argv[++i];
		} else if (!strcmp(argv[i], "--shape") && i + 1 < argc) {
			only = argv[++i];
		} else if (!strcmp(argv[i], "--profile") && i + 1 < argc) {
			profile = atof(argv[++i]);
			if (!(profile > 0.0 && profile <= 1.0))
				usage();
		} else {
			usage();
		}
	}
	if (quick) {
		shapes = quick_shapes;
		reps = 1;
	}

	if (only) {
		int k;

		for (k = 0, n_shapes = 0; k < 2; k++)
			if (strstr(shapes[k].name, only))
				picked[n_shapes++] = shapes[k];
		if (!n_shapes)
			usage();
		shapes = picked;
	}
	if (profile > 0.0) {
		/* In this process: the table comes from --kernels, if given. */
		if (strcmp(want, "all"))
			setenv("SPATTEN_KERNELS", want, 1);
		for (i = 0; i < n_shapes; i++)
			rc |= profile_shape(&shapes[i], reps, profile);
		return rc;
	}
	if (getenv("SPATTEN_BENCH_CHILD"))
		return child(shapes, n_shapes, reps);

	printf("# engine-bench: SpAtten engine (int16, exact) vs float "
	       "baseline (OpenBLAS sgemm + libmvec softmax), 1 thread\n");
	printf("# OpenBLAS: %s\n", base_config());
	printf("# ratio = engine throughput / baseline throughput; >= 1.00 "
	       "meets the target. Pruned: engine time / dense engine time "
	       "vs 1.25 r.\n");
	printf("# medians of interleaved repetitions%s\n",
	       quick ? " (--quick: small shapes, 1 repetition)" : "");

	n = spe_kernels_available(list, 8);
	for (v = 0; v < n; v++) {
		pid_t pid;
		int status;

		if (strcmp(want, "all") && strcmp(want, list[v]->name))
			continue;
		fflush(stdout);
		pid = fork();
		if (pid < 0) {
			perror("engine-bench: fork");
			return 2;
		}
		if (!pid) {
			setenv("SPATTEN_KERNELS", list[v]->name, 1);
			setenv("OPENBLAS_NUM_THREADS", "1", 1);
			setenv("SPATTEN_BENCH_CHILD", "1", 1);
			execv("/proc/self/exe", argv);
			perror("engine-bench: exec");
			_exit(2);
		}
		while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
			;
		if (!WIFEXITED(status) || WEXITSTATUS(status)) {
			fprintf(stderr, "engine-bench: kernels %s: run failed\n",
				list[v]->name);
			rc = 1;
		}
	}
	return rc;
}
