// SPDX-License-Identifier: MIT
/*
 * host-bench: the host measurements of docs/benchmarks.md (bench/report.sh),
 * one subcommand per section; each writes OUT/<name>.md (a Markdown
 * fragment) and OUT/<name>.dat (gnuplot data).
 *
 *   host-bench engine [--quick] [--reps N] OUT
 *	1. engine (spe_run(), dense, int16) vs the float baseline of
 *	   bench/baseline.c (OpenBLAS sgemm + libmvec softmax, -O3, 1 thread)
 *	   on BERT-base L=128/384 summarization and GPT-2-small/-medium
 *	   generation steps at L=1024; interleaved runs, medians, spread.
 *   host-bench prune [--quick] [--reps N] OUT
 *	2. engine time vs token keep ratio (1 .. 0.05), with and without
 *	   local value pruning, and vs the progressive bit split (4+4 .. 12+4
 *	   against static S16 keys), relative to the dense run measured in
 *	   the same interleaved loop.
 *   host-bench tflops [--quick] OUT
 *	5. the cycle model (spe_cycles(), full chip and SpAtten_1/8) on
 *	   BERT and GPT-2 shapes, dense and with pruning; executed and
 *	   dense-equivalent TFLOPS at 1 GHz.
 *
 * Engine jobs are built as engine-bench builds them (a v2 descriptor over
 * host memory, decoded by spe_desc_decode(), read in place through the
 * zero-copy map hook of struct spe_mem; HOST_BENCH_NO_MAP=1 turns it off);
 * operands are uniform random int16 in [-2, 2] with 12 fractional bits
 * (packed planes: random bytes).
 */
#include <endian.h>
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "spatten_hw.h"
#include "spe.h"
#include "baseline.h"
#include "bench-util.h"

#define FRAC		12
#define AMP		(2 << FRAC)
#define THRESHOLD	3277	/* the paper's 0.1 */

struct shape {
	const char *name;
	int heads, d, q_rows, kv_rows, q_start, causal, generation;
};

static const struct shape engine_shapes[] = {
	{ "BERT-base L=128 summarization", 12, 64, 128, 128, 0, 0, 0 },
	{ "BERT-base L=384 summarization", 12, 64, 384, 384, 0, 0, 0 },
	{ "GPT-2-small gen step L=1024", 12, 64, 1, 1024, 1023, 1, 1 },
	{ "GPT-2-medium gen step L=1024", 16, 64, 1, 1024, 1023, 1, 1 },
};

static const struct shape engine_quick[] = {
	{ "BERT-base L=32 summarization", 12, 64, 32, 32, 0, 0, 0 },
	{ "BERT-base L=64 summarization", 12, 64, 64, 64, 0, 0, 0 },
	{ "GPT-2-small gen step L=128", 12, 64, 1, 128, 127, 1, 1 },
	{ "GPT-2-medium gen step L=128", 16, 64, 1, 128, 127, 1, 1 },
};

#define N_SHAPES 4

/* ---- helpers ---------------------------------------------------------- */

static void *xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);

	if (!p) {
		fprintf(stderr, "host-bench: out of memory\n");
		exit(2);
	}
	return p;
}

static FILE *xopen(const char *dir, const char *name)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	if (!f) {
		fprintf(stderr, "host-bench: %s: %s\n", path, strerror(errno));
		exit(2);
	}
	return f;
}

static int fmt_of_bits(int bits)
{
	switch (bits) {
	case 4: return SPATTEN_FMT_S4;
	case 6: return SPATTEN_FMT_S6;
	case 8: return SPATTEN_FMT_S8;
	case 10: return SPATTEN_FMT_S10;
	case 12: return SPATTEN_FMT_S12;
	default: return SPATTEN_FMT_S16;
	}
}

/* ---- one shape: operands in every form the jobs need ------------------ */

struct bcase {
	const struct shape *sh;
	size_t nq, nkv;
	int16_t *q16, *k16, *v16, *out16;
	uint8_t *kpacked, *klsb;	/* random packed planes (12 bits max) */
	float *qf, *kf, *vf, *outf, *s;
	uint64_t *tok_imp0, *tok_imp;
	uint16_t *tok_kept;
	struct hmem mem;
	struct spe_caps caps;
};

static void case_init(struct bcase *c, const struct shape *sh, int floats)
{
	uint64_t seed = 0x5eed0000u + (uint64_t)sh->kv_rows * 31 + sh->heads;
	size_t i;

	memset(c, 0, sizeof(*c));
	c->sh = sh;
	c->nq = (size_t)sh->heads * sh->q_rows * sh->d;
	c->nkv = (size_t)sh->heads * sh->kv_rows * sh->d;
	c->q16 = xcalloc(c->nq, 2);
	c->k16 = xcalloc(c->nkv, 2);
	c->v16 = xcalloc(c->nkv, 2);
	c->out16 = xcalloc(c->nq, 2);
	c->kpacked = xcalloc(c->nkv * 12 / 8, 1);
	c->klsb = xcalloc(c->nkv / 2, 1);
	c->tok_imp0 = xcalloc((size_t)sh->kv_rows, 8);
	c->tok_imp = xcalloc((size_t)sh->kv_rows, 8);
	c->tok_kept = xcalloc((size_t)sh->kv_rows, 2);
	if (floats) {
		c->qf = xcalloc(c->nq, sizeof(float));
		c->kf = xcalloc(c->nkv, sizeof(float));
		c->vf = xcalloc(c->nkv, sizeof(float));
		c->outf = xcalloc(c->nq, sizeof(float));
		c->s = xcalloc((size_t)sh->q_rows * sh->kv_rows, sizeof(float));
	}
#define FILL(dst16, dstf, n)						\
	for (i = 0; i < (n); i++) {					\
		int32_t r = (int32_t)(bench_prng(&seed) %		\
				    (2 * AMP + 1)) - AMP;		\
		dst16[i] = (int16_t)(r > 32767 ? 32767 : r);		\
		if (dstf)						\
			dstf[i] = (float)dst16[i] / (float)(1 << FRAC);	\
	}
	FILL(c->q16, c->qf, c->nq);
	FILL(c->k16, c->kf, c->nkv);
	FILL(c->v16, c->vf, c->nkv);
#undef FILL
	for (i = 0; i < c->nkv * 12 / 8; i++)
		c->kpacked[i] = (uint8_t)bench_prng(&seed);
	for (i = 0; i < c->nkv / 2; i++)
		c->klsb[i] = (uint8_t)bench_prng(&seed);
	for (i = 0; i < (size_t)sh->kv_rows; i++)
		c->tok_imp0[i] = bench_prng(&seed) % 1000000;
	bench_caps(&c->caps);
}

static void case_free(struct bcase *c)
{
	free(c->q16);
	free(c->k16);
	free(c->v16);
	free(c->out16);
	free(c->kpacked);
	free(c->klsb);
	free(c->qf);
	free(c->kf);
	free(c->vf);
	free(c->outf);
	free(c->s);
	free(c->tok_imp0);
	free(c->tok_imp);
	free(c->tok_kept);
}

static void set_buf(struct spatten_hw_buf *b, enum spe_plane plane,
		    size_t len)
{
	b->addr = htole64(0x100000000ull * (1 + (uint64_t)plane));
	b->len = htole32((uint32_t)len);
	b->offset = 0;
	b->flags = 0;
}

/* What a job does: keep counts (0: none) and K bits (16: static S16). */
struct jcfg {
	uint32_t token_keep, value_keep;
	int k_bits;			/* 16, or progressive MSB bits 4..12 */
	int static_bits;		/* k_bits < 16 without the LSB plane */
	int no_refetch;			/* progressive with lsb_threshold 0 */
};

static int case_job(struct bcase *c, const struct jcfg *j, struct spe_job *job)
{
	const struct shape *sh = c->sh;
	struct spatten_hw_desc desc;
	int prog = j->k_bits < 16 && !j->static_bits;
	size_t kbytes;

	memset(&desc, 0, sizeof(desc));
	desc.opcode = htole16(SPATTEN_OP_ATTENTION);
	desc.desc_size = htole16(SPATTEN_DESC_SIZE);
	desc.version = SPATTEN_DESC_VERSION;
	desc.stage = sh->generation ? SPATTEN_STAGE_GENERATION :
		     SPATTEN_STAGE_SUMMARIZATION;
	desc.flags = htole16((sh->causal ? SPATTEN_DESC_F_CAUSAL : 0) |
			     (prog ? SPATTEN_DESC_F_PROGRESSIVE : 0));
	desc.n_heads = htole16((uint16_t)sh->heads);
	desc.head_dim = htole16((uint16_t)sh->d);
	desc.q_rows = htole16((uint16_t)sh->q_rows);
	desc.kv_rows = htole16((uint16_t)sh->kv_rows);
	desc.q_start = htole16((uint16_t)sh->q_start);
	desc.q_fmt = desc.v_fmt = desc.out_fmt = SPATTEN_FMT_S16;
	desc.k_fmt = (uint8_t)fmt_of_bits(j->k_bits);
	desc.q_frac = desc.v_frac = desc.out_frac = FRAC;
	/* |K| <= 2 in every format: n-bit keys get n - 2 fractional bits */
	desc.k_frac = j->k_bits < 16 ? (uint8_t)(prog ? j->k_bits + 2 :
						   j->k_bits - 2) : FRAC;
	kbytes = c->nkv * (size_t)j->k_bits / 8;
	set_buf(&desc.q, SPE_PLANE_Q, c->nq * 2);
	set_buf(&desc.k, SPE_PLANE_K_MSB, kbytes);
	set_buf(&desc.v, SPE_PLANE_V, c->nkv * 2);
	set_buf(&desc.out, SPE_PLANE_OUT, c->nq * 2);
	c->mem.plane[SPE_PLANE_Q] = (uint8_t *)c->q16;
	c->mem.len[SPE_PLANE_Q] = c->nq * 2;
	c->mem.plane[SPE_PLANE_K_MSB] = j->k_bits < 16 ? c->kpacked :
					(uint8_t *)c->k16;
	c->mem.len[SPE_PLANE_K_MSB] = kbytes;
	c->mem.plane[SPE_PLANE_V] = (uint8_t *)c->v16;
	c->mem.len[SPE_PLANE_V] = c->nkv * 2;
	c->mem.plane[SPE_PLANE_OUT] = (uint8_t *)c->out16;
	c->mem.len[SPE_PLANE_OUT] = c->nq * 2;
	c->mem.plane[SPE_PLANE_TOK_IMP] = (uint8_t *)c->tok_imp;
	c->mem.len[SPE_PLANE_TOK_IMP] = (size_t)sh->kv_rows * 8;
	c->mem.plane[SPE_PLANE_TOK_KEPT] = (uint8_t *)c->tok_kept;
	c->mem.len[SPE_PLANE_TOK_KEPT] = (size_t)sh->kv_rows * 2;
	c->mem.plane[SPE_PLANE_K_LSB] = c->klsb;
	c->mem.len[SPE_PLANE_K_LSB] = c->nkv / 2;
	if (prog) {
		set_buf(&desc.k_lsb, SPE_PLANE_K_LSB, c->nkv / 2);
		desc.lsb_threshold = htole16(j->no_refetch ? 0 : THRESHOLD);
	}
	if (j->token_keep) {
		set_buf(&desc.tok_imp, SPE_PLANE_TOK_IMP,
			(size_t)sh->kv_rows * 8);
		set_buf(&desc.tok_kept, SPE_PLANE_TOK_KEPT,
			(size_t)j->token_keep * 2);
		desc.token_keep = htole16((uint16_t)j->token_keep);
	}
	if (j->value_keep)
		desc.value_keep = htole16((uint16_t)j->value_keep);
	desc.topk_seed = htole32(0x5ba77e4);
	return spe_desc_decode(&desc, sizeof(desc), &c->caps, job);
}

static double run_engine(struct bcase *c, const struct spe_job *job,
			 struct spe_result *res)
{
	struct spe_mem mem = { .read = hmem_read, .write = hmem_write,
			       .opaque = &c->mem,
			       .map = getenv("HOST_BENCH_NO_MAP") ? NULL :
				      hmem_map,
			       .map_gather = getenv("HOST_BENCH_NO_MAP") ?
					     NULL : hmem_map_gather };
	struct spe_result r;
	double t0, t1;
	int rc;

	/* K: S16 rows or a packed plane, as this job names it */
	c->mem.plane[SPE_PLANE_K_MSB] = job->k_fmt == SPATTEN_FMT_S16 ?
					(uint8_t *)c->k16 : c->kpacked;
	c->mem.len[SPE_PLANE_K_MSB] = job->buf[SPE_PLANE_K_MSB].len;
	memcpy(c->tok_imp, c->tok_imp0, (size_t)c->sh->kv_rows * 8);
	t0 = bench_now_ms();
	rc = spe_run(job, &c->caps, &mem, res ? res : &r);
	t1 = bench_now_ms();
	if (rc) {
		fprintf(stderr, "host-bench: %s: job failed, status %d\n",
			c->sh->name, rc);
		exit(1);
	}
	return t1 - t0;
}

static double run_base(struct bcase *c)
{
	const struct shape *sh = c->sh;
	struct base_shape bs = { sh->heads, sh->d, sh->q_rows, sh->kv_rows,
				 sh->q_start, sh->causal };
	double t0 = bench_now_ms();

	base_attention(&bs, c->qf, c->kf, c->vf, c->outf, c->s);
	return bench_now_ms() - t0;
}

static double shape_gflop(const struct shape *sh)
{
	return 2.0 * 2.0 * sh->q_rows * sh->kv_rows * sh->d * sh->heads / 1e9;
}

/* ---- 1. engine vs baseline --------------------------------------------- */

static int cmd_engine(const struct shape *shapes, int reps, const char *out)
{
	FILE *md = xopen(out, "engine.md"), *dat = xopen(out, "engine.dat");
	int s, i;

	base_threads(1);
	fprintf(md, "| shape | GFLOP | baseline ms (spread) | baseline GFLOP/s "
		"| engine ms (spread) | engine GFLOP/s | ratio (spread) | "
		"target >= 1.5 |\n|---|---|---|---|---|---|---|---|\n");
	fprintf(dat, "# shape baseline_gflops engine_gflops ratio ratio_lo "
		"ratio_hi\n");
	for (s = 0; s < N_SHAPES; s++) {
		const struct shape *sh = &shapes[s];
		double *tb = xcalloc((size_t)reps, sizeof(double));
		double *te = xcalloc((size_t)reps, sizeof(double));
		double *tr = xcalloc((size_t)reps, sizeof(double));
		struct jcfg dense = { 0, 0, 16, 0, 0 };
		struct spe_job job;
		struct bench_stat sb, se, sr;
		double gf = shape_gflop(sh);
		struct bcase c;

		case_init(&c, sh, 1);
		if (case_job(&c, &dense, &job)) {
			fprintf(stderr, "host-bench: %s refused\n", sh->name);
			return 1;
		}
		run_base(&c);
		run_engine(&c, &job, NULL);
		for (i = 0; i < reps; i++) {
			tb[i] = run_base(&c);
			te[i] = run_engine(&c, &job, NULL);
			tr[i] = tb[i] / te[i];
		}
		sb = bench_stats(tb, reps);
		se = bench_stats(te, reps);
		sr = bench_stats(tr, reps);
		fprintf(md, "| %s | %.3f | %.3f (%.0f%%) | %.2f | %.3f (%.0f%%) "
			"| %.2f | **%.2f** (%.2f..%.2f) | %s |\n", sh->name, gf,
			sb.med, bench_spread_pct(sb), gf / sb.med * 1e3,
			se.med, bench_spread_pct(se), gf / se.med * 1e3,
			sr.med, sr.lo, sr.hi,
			sr.med >= 1.5 ? "met" : "**missed**");
		fprintf(dat, "\"%s\" %.3f %.3f %.4f %.4f %.4f\n", sh->name,
			gf / sb.med * 1e3, gf / se.med * 1e3, sr.med, sr.lo,
			sr.hi);
		printf("engine: %-32s base %8.3f ms engine %8.3f ms ratio %.2f\n",
		       sh->name, sb.med, se.med, sr.med);
		fflush(stdout);
		case_free(&c);
		free(tb);
		free(te);
		free(tr);
	}
	fclose(md);
	fclose(dat);
	return 0;
}

/* ---- 2. pruning and bit split vs dense ---------------------------------- */

#define N_KEEP 7
static const double keep_ratio[N_KEEP] = { 1.0, 0.75, 0.5, 0.25, 0.1, 0.05,
					   0.02 };
/* progressive splits with the paper's threshold 0.1, then with none */
#define N_SPLIT 11
static const int split_bits[N_SPLIT] = { 16, 12, 10, 8, 6, 4,
					 12, 10, 8, 6, 4 };
#define SPLIT_NOREF 6		/* first entry without refetches */

static int cmd_prune(const struct shape *shapes, int reps, const char *out)
{
	FILE *md = xopen(out, "prune.md"), *dat = xopen(out, "prune.dat");
	FILE *smd = xopen(out, "split.md"), *sdat = xopen(out, "split.dat");
	/* BERT-base L=384 and GPT-2-small L=1024 */
	const struct shape *ps[2] = { &shapes[1], &shapes[2] };
	int s, k, i, v;

	fprintf(md, "| shape | keep ratio r | kept tokens | engine ms "
		"(spread) | time / dense | + value pruning 0.2: time / dense "
		"| target 1.25 r | met? |\n|---|---|---|---|---|---|---|---|\n");
	fprintf(dat, "# block per shape: r rel rel_lo rel_hi rel_value target\n");
	fprintf(smd, "| shape | K bits | LSB threshold | refetch rate | engine "
		"ms (spread) | time / S16 dense | K MSB bytes / S16 |\n"
		"|---|---|---|---|---|---|---|\n");
	fprintf(sdat, "# blocks per shape: threshold 0.1, then 0; bits rel "
		"rel_lo rel_hi refetch_rate\n");
	for (s = 0; s < 2; s++) {
		const struct shape *sh = ps[s];
		struct spe_job jobs[N_KEEP][2], sjobs[N_SPLIT];
		struct jcfg cfg;
		double *t = xcalloc((size_t)reps * (2 * N_KEEP + N_SPLIT + 1),
				    sizeof(double));
		double *rel = xcalloc((size_t)reps, sizeof(double));
		double *td = t + (size_t)reps * (2 * N_KEEP + N_SPLIT);
		struct spe_result res;
		double refetch[N_SPLIT];
		struct bench_stat s16 = { 1, 1, 1 };
		uint32_t keep[N_KEEP];
		struct bcase c;

		case_init(&c, sh, 0);
		for (k = 0; k < N_KEEP; k++) {
			keep[k] = bench_keep_count((uint32_t)sh->kv_rows, sh->generation, keep_ratio[k]);
			for (v = 0; v < 2; v++) {
				memset(&cfg, 0, sizeof(cfg));
				cfg.k_bits = 16;
				cfg.token_keep = keep_ratio[k] < 1.0 ? keep[k] : 0;
				if (v)
					cfg.value_keep = (uint32_t)ceil(0.2 *
								       keep[k]);
				if (cfg.value_keep < 1 && v)
					cfg.value_keep = 1;
				if (case_job(&c, &cfg, &jobs[k][v])) {
					fprintf(stderr, "host-bench: %s keep %u "
						"refused\n", sh->name, keep[k]);
					return 1;
				}
			}
		}
		for (k = 0; k < N_SPLIT; k++) {
			memset(&cfg, 0, sizeof(cfg));
			cfg.k_bits = split_bits[k];
			cfg.no_refetch = k >= SPLIT_NOREF;
			if (case_job(&c, &cfg, &sjobs[k])) {
				fprintf(stderr, "host-bench: %s split %d refused\n",
					sh->name, split_bits[k]);
				return 1;
			}
			run_engine(&c, &sjobs[k], &res);
			refetch[k] = res.stats.query_rows ?
				(double)res.stats.refetch_rows /
				(double)res.stats.query_rows : 0.0;
		}
		/* warm-up */
		run_engine(&c, &jobs[0][0], NULL);
		for (i = 0; i < reps; i++) {
			td[i] = run_engine(&c, &jobs[0][0], NULL);
			for (k = 0; k < N_KEEP; k++)
				for (v = 0; v < 2; v++)
					t[(size_t)(k * 2 + v) * reps + i] =
						run_engine(&c, &jobs[k][v], NULL);
			for (k = 0; k < N_SPLIT; k++)
				t[(size_t)(2 * N_KEEP + k) * reps + i] =
					run_engine(&c, &sjobs[k], NULL);
			/*
			 * The round's dense time: the r = 1 run, which comes
			 * right before the pruned runs (the first dense run
			 * follows the split jobs' other operands: colder).
			 */
			td[i] = t[i];
		}
		fprintf(dat, "# %s\n", sh->name);
		for (k = 0; k < N_KEEP; k++) {
			struct bench_stat st, sr = { 0, 0, 0 }, sv = { 0, 0, 0 };
			double target = 1.25 * keep_ratio[k];
			const char *met;

			for (v = 0; v < 2; v++) {
				for (i = 0; i < reps; i++)
					rel[i] = t[(size_t)(k * 2 + v) * reps + i] /
						 td[i];
				if (!v)
					sr = bench_stats(rel, reps);
				else
					sv = bench_stats(rel, reps);
			}
			st = bench_stats(t + (size_t)(k * 2) * reps, reps);
			met = keep_ratio[k] < 0.1 ? (sr.med <= target ?
				"yes (r < 0.1: no target)" :
				"no (r < 0.1: no target)") :
				sr.med <= target ? "yes" : "**NO**";
			fprintf(md, "| %s | %.2f | %u | %.3f (%.0f%%) | **%.3f** "
				"(%.3f..%.3f) | %.3f | %.3f | %s |\n", sh->name,
				keep_ratio[k], keep[k], st.med,
				bench_spread_pct(st), sr.med, sr.lo, sr.hi, sv.med, target, met);
			fprintf(dat, "%.3f %.4f %.4f %.4f %.4f %.4f\n",
				keep_ratio[k], sr.med, sr.lo, sr.hi, sv.med,
				target);
		}
		fprintf(dat, "\n\n");
		fprintf(sdat, "# %s, threshold 0.1\n", sh->name);
		for (k = 0; k < N_SPLIT; k++) {
			struct bench_stat st, sr;
			int b = split_bits[k];

			for (i = 0; i < reps; i++)
				rel[i] = t[(size_t)(2 * N_KEEP + k) * reps + i] /
					 td[i];
			sr = bench_stats(rel, reps);
			st = bench_stats(t + (size_t)(2 * N_KEEP + k) * reps, reps);
			if (b == 16) {
				s16 = sr;
				fprintf(smd, "| %s | 16 (static S16) | - | - | %.3f "
					"(%.0f%%) | **%.3f** (%.3f..%.3f) | 1.000 |\n",
					sh->name, st.med, bench_spread_pct(st),
					sr.med, sr.lo, sr.hi);
			} else {
				fprintf(smd, "| %s | %d+4 | %s | %.1f%% | %.3f "
					"(%.0f%%) | **%.3f** (%.3f..%.3f) | %.3f |\n",
					sh->name, b, k >= SPLIT_NOREF ? "0 (never)" :
					"0.1", 100.0 * refetch[k], st.med,
					bench_spread_pct(st), sr.med, sr.lo, sr.hi,
					b / 16.0);
			}
			if (k == SPLIT_NOREF)	/* the S16 point starts it too */
				fprintf(sdat, "\n\n# %s, threshold 0\n16 %.4f %.4f "
					"%.4f 0\n", sh->name, s16.med, s16.lo,
					s16.hi);
			fprintf(sdat, "%d %.4f %.4f %.4f %.4f\n", b, sr.med,
				sr.lo, sr.hi, refetch[k]);
		}
		fprintf(sdat, "\n\n");
		printf("prune: %s done\n", sh->name);
		fflush(stdout);
		case_free(&c);
		free(t);
		free(rel);
	}
	fclose(md);
	fclose(dat);
	fclose(smd);
	fclose(sdat);
	return 0;
}

/* ---- 5. modeled throughput ---------------------------------------------- */

static const struct shape tflops_shapes[] = {
	{ "BERT-base L=128", 12, 64, 128, 128, 0, 0, 0 },
	{ "BERT-base L=384", 12, 64, 384, 384, 0, 0, 0 },
	{ "BERT-large L=384", 16, 64, 384, 384, 0, 0, 0 },
	{ "GPT-2-small gen L=1024", 12, 64, 1, 1024, 1023, 1, 1 },
	{ "GPT-2-medium gen L=1024", 16, 64, 1, 1024, 1023, 1, 1 },
};

static const struct shape tflops_quick[] = {
	{ "BERT-base L=64", 12, 64, 64, 64, 0, 0, 0 },
	{ "BERT-base L=64", 12, 64, 64, 64, 0, 0, 0 },
	{ "BERT-large L=64", 16, 64, 64, 64, 0, 0, 0 },
	{ "GPT-2-small gen L=128", 12, 64, 1, 128, 127, 1, 1 },
	{ "GPT-2-medium gen L=128", 16, 64, 1, 128, 127, 1, 1 },
};

static int cmd_tflops(const struct shape *shapes, const char *out)
{
	FILE *md = xopen(out, "tflops.md"), *dat = xopen(out, "tflops.dat");
	struct spe_model full = spe_model_full(), eighth = spe_model_eighth();
	int s, p;

	fprintf(md, "| shape | job | executed GFLOP | cycles full | TFLOPS "
		"full | dense-equiv. TFLOPS full | cycles 1/8 | TFLOPS 1/8 | "
		"dense-equiv. TFLOPS 1/8 |\n|---|---|---|---|---|---|---|---|---|\n");
	fprintf(dat, "# label tflops_full tflops_eighth (executed)\n");
	for (s = 0; s < 5; s++) {
		const struct shape *sh = &shapes[s];
		struct bcase c;

		case_init(&c, sh, 0);
		for (p = 0; p < 2; p++) {
			/* p 0: dense S16; p 1: the paper's mechanisms on one
			 * layer: tokens 50%, 6+4-bit progressive keys, values
			 * 20% of kept (GPT-2 only, as in the paper) */
			struct jcfg cfg = { 0, 0, 16, 0, 0 };
			struct spe_result res;
			struct spe_job job;
			uint64_t cf, ce;
			double fl, dense_fl = shape_gflop(sh) * 1e9;

			if (p) {
				cfg.token_keep = bench_keep_count((uint32_t)sh->kv_rows, sh->generation, 0.5);
				cfg.k_bits = 6;
				if (sh->generation)
					cfg.value_keep = (cfg.token_keep + 4) / 5;
			}
			if (case_job(&c, &cfg, &job)) {
				fprintf(stderr, "host-bench: tflops %s refused\n",
					sh->name);
				return 1;
			}
			run_engine(&c, &job, &res);
			cf = spe_cycles(&job, &res.stats, &full);
			ce = spe_cycles(&job, &res.stats, &eighth);
			fl = 2.0 * sh->d * (double)(res.stats.qk_scores +
						    res.stats.pv_rows);
			fprintf(md, "| %s | %s | %.4f | %llu | **%.3f** | %.3f | "
				"%llu | **%.3f** | %.3f |\n", sh->name,
				p ? "tokens 50%, 6+4-bit K" : "dense S16",
				fl / 1e9, (unsigned long long)cf,
				fl / (double)cf / 1e3, dense_fl / (double)cf / 1e3,
				(unsigned long long)ce, fl / (double)ce / 1e3,
				dense_fl / (double)ce / 1e3);
			fprintf(dat, "\"%s%s\" %.4f %.4f\n", sh->name,
				p ? " pruned" : " dense", fl / (double)cf / 1e3,
				fl / (double)ce / 1e3);
		}
		case_free(&c);
	}
	fclose(md);
	fclose(dat);
	return 0;
}

static void usage(void)
{
	fprintf(stderr, "usage: host-bench engine|prune|tflops [--quick] "
		"[--reps N] OUTDIR\n");
	exit(2);
}

int main(int argc, char **argv)
{
	const char *cmd, *out = NULL;
	int quick = 0, reps = 21, i;

	if (argc < 3)
		usage();
	cmd = argv[1];
	for (i = 2; i < argc; i++) {
		if (!strcmp(argv[i], "--quick"))
			quick = 1;
		else if (!strcmp(argv[i], "--reps") && i + 1 < argc)
			reps = atoi(argv[++i]);
		else if (argv[i][0] != '-' && !out)
			out = argv[i];
		else
			usage();
	}
	if (!out || reps < 1)
		usage();
	if (quick)
		reps = 3;
	if (!strcmp(cmd, "engine"))
		return cmd_engine(quick ? engine_quick : engine_shapes, reps, out);
	if (!strcmp(cmd, "prune"))
		return cmd_prune(quick ? engine_quick : engine_shapes, reps, out);
	if (!strcmp(cmd, "tflops"))
		return cmd_tflops(quick ? tflops_quick : tflops_shapes, out);
	usage();
	return 2;
}
