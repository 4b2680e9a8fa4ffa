// SPDX-License-Identifier: MIT
/*
 * traffic-bench: DRAM traffic of whole-model attention through libspatten
 * sessions (simulation backend: the device's engine, bit for bit), with
 * the paper's schedules, one mechanism at a time, against dense fp32.
 *
 *   traffic-bench [--quick] OUTDIR    writes OUTDIR/traffic.md, traffic.dat
 *
 * Per model (tools/spatten-workload.c shapes and schedules: GPT-2-small
 * and -medium with a 992-token prompt and 32 generated tokens, as the
 * paper; BERT-base and -large at 384 tokens) the same synthetic inputs
 * run through six sessions:
 *   dense      no pruning, static S16 keys and values (the device's full
 *              precision); dense fp32 = twice its K+V bytes
 *   tokens     cascade token pruning only (S16)
 *   tok+val    token pruning and local value pruning (S16)
 *   heads      cascade head pruning only (S16)
 *   quant      no pruning, progressive keys 6+4 bits and 6-bit values
 *              (the precision of the authors' GPT-2 trace)
 *   all        every mechanism at once
 * Bytes are the K (MSB and LSB planes) and V bytes the device reads, like
 * for like with the fp32 baseline; Q reads are reported in the total.
 * For GPT-2 the prompt-only run is subtracted to give the generation
 * steps alone (what the authors' traces cover).
 *
 *   traffic-bench --time [--quick] [--reps N] OUTDIR   writes walltime.md
 *
 * Wall time instead of bytes: GPT-2-small, 992-token prompt and 32
 * generated tokens, every mechanism at once as spatten-run runs it by
 * default (the paper's schedule, progressive 8+4-bit keys, 12-bit
 * values) against the dense run (`--dense`: static S16 keys and values),
 * on the simulation backend, timing the session's calls alone (the
 * synthetic inputs are made outside the timed region), the prompt pass
 * and the steps apart. The two alternate, N times (7; 1 with --quick, on
 * a 60 + 4 token run) after a warm-up round.
 */
#include <errno.h>
#include <inttypes.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench-util.h"
#include "libspatten.h"
#include "spatten-workload.h"

enum { M_DENSE, M_TOK, M_TOKVAL, M_HEAD, M_QUANT, M_ALL, M_NUM };

static const char *const mech_name[M_NUM] = {
	"dense S16", "tokens", "tokens + values", "heads",
	"progressive quant. (K 6+4, V 6)", "all",
};

struct sums {
	uint64_t kv, q, cycles, refetch, rows;
};

static void sum_result(const struct wl_opts *o, const struct wl_result *r,
		       struct sums *s)
{
	uint32_t l;

	memset(s, 0, sizeof(*s));
	for (l = 0; l < o->m.layers; l++) {
		const struct spatten_layer_stats *t = &r->layer[l];

		s->kv += t->bytes_k_msb + t->bytes_k_lsb + t->bytes_v;
		s->q += t->bytes_q;
		s->cycles += t->cycles;
		s->refetch += t->lsb_refetches;
		s->rows += t->query_rows;
	}
}

/* A quiet, unchecked run of @m on the simulation backend. */
static void sim_opts(const struct wl_model *m, uint32_t prompt,
		     uint32_t steps, struct wl_opts *o)
{
	wl_opts_default(o, m);
	o->backend = SPATTEN_BACKEND_SIM;
	o->prompt = prompt;
	o->steps = steps;
	o->check = 0;
	o->quiet = 1;
}

static int run_one(const struct wl_model *m, int mech, uint32_t prompt,
		   uint32_t steps, struct sums *s)
{
	struct wl_opts o;
	struct wl_result *r = calloc(1, sizeof(*r));
	int ret;

	if (!r)
		return -ENOMEM;
	sim_opts(m, prompt, steps, &o);
	o.progressive = 0;
	o.k_bits = 16;
	o.v_bits = 16;
	switch (mech) {
	case M_DENSE:
		o.dense = 1;
		break;
	case M_TOK:
		o.m.head_start = o.m.head_end = 1.0f;
		o.m.value_keep = 1.0f;
		break;
	case M_TOKVAL:
		o.m.head_start = o.m.head_end = 1.0f;
		break;
	case M_HEAD:
		o.m.tok_start = o.m.tok_end = 1.0f;
		o.m.value_keep = 1.0f;
		break;
	case M_QUANT:
		o.dense = 1;
		/* fall through */
	case M_ALL:
		o.progressive = 1;
		o.k_bits = 6;
		o.v_bits = 6;
		break;
	}
	ret = wl_run(&o, r);
	if (!ret)
		sum_result(&o, r, s);
	free(r);
	return ret;
}

struct model_run {
	const char *name;
	uint32_t prompt, steps;
};

/* One timed run: the session's seconds (all, steps) and modeled cycles. */
static int time_one(const struct wl_model *m, int dense, uint32_t prompt,
		    uint32_t steps, double *secs, double *step_secs,
		    uint64_t *cycles)
{
	struct wl_opts o;
	struct wl_result *r = calloc(1, sizeof(*r));
	struct sums sm;
	int ret;

	if (!r)
		return -ENOMEM;
	sim_opts(m, prompt, steps, &o);
	if (dense) {		/* as spatten-run --dense */
		o.dense = 1;
		o.progressive = 0;
		o.k_bits = 16;
		o.v_bits = 16;
	}
	ret = wl_run(&o, r);
	if (!ret) {
		sum_result(&o, r, &sm);
		*secs = r->attend_seconds;
		*step_secs = r->step_seconds;
		*cycles = sm.cycles;
	}
	free(r);
	return ret;
}

/* One part's row: each one's time, the ratio's median and spread. */
static void time_row(FILE *md, const char *part, double *all, double *dense,
		     int reps, double cyc_ratio)
{
	double *ratio = calloc((size_t)reps, sizeof(double));
	struct bench_stat a = bench_stats(all, reps);
	struct bench_stat d = bench_stats(dense, reps);
	struct bench_stat r;
	int i;

	for (i = 0; ratio && i < reps; i++)
		ratio[i] = all[i] / dense[i];
	r = ratio ? bench_stats(ratio, reps) : (struct bench_stat){ 0, 0, 0 };
	fprintf(md, "| %s | %.1f (%.0f%%) | %.1f (%.0f%%) | **%.2f** "
		"(%.2f..%.2f) | %.2f | %s |\n", part, 1e3 * d.med,
		bench_spread_pct(d), 1e3 * a.med, bench_spread_pct(a), r.med,
		r.lo, r.hi, cyc_ratio, r.med <= 0.5 ? "met" : "**missed**");
	free(ratio);
}

/*
 * Per repetition, all mechanisms then dense: the whole run, its prompt
 * pass and its steps (t[part][mech][rep]).
 */
static int cmd_time(int quick, int reps, const char *out)
{
	const struct wl_model *m = wl_model_find("gpt2-small");
	uint32_t prompt = quick ? 60 : 992, steps = quick ? 4 : 32;
	double *t = calloc((size_t)reps * 6, sizeof(double));
	uint64_t cyc[2][2] = { { 0 } };	/* [mech][whole, steps] */
	char path[4096], part[64];
	FILE *md;
	int i, k, ret = 0;

	snprintf(path, sizeof(path), "%s/walltime.md", out);
	md = fopen(path, "w");
	if (!md || !t || !m)
		return perror(path), 2;
	/* a warm-up round (the first faults its memory in), not counted */
	for (i = -1; i < reps && !ret; i++)
		for (k = 0; k < 2 && !ret; k++) {
			size_t at = (size_t)k * reps + (i < 0 ? 0 : (size_t)i);
			double all, st;

			ret = time_one(m, k, prompt, steps, &all, &st,
				       &cyc[k][0]);
			t[at] = all;				/* whole */
			t[2 * (size_t)reps + at] = all - st;	/* prompt */
			t[4 * (size_t)reps + at] = st;		/* steps */
		}
	if (!ret)	/* the steps' cycles: a run of the prompt alone */
		for (k = 0; k < 2 && !ret; k++) {
			double a, b;

			ret = time_one(m, k, prompt, 0, &a, &b, &cyc[k][1]);
			cyc[k][1] = cyc[k][0] - cyc[k][1];
		}
	if (ret) {
		fprintf(stderr, "traffic-bench: --time: %s\n", strerror(-ret));
		return 1;
	}
	fprintf(md, "| part | dense S16 ms (spread) | all mechanisms ms "
		"(spread) | all / dense (p10..p90) | modeled cycles all / "
		"dense | target <= 0.5 |\n|---|---|---|---|---|---|\n");
	snprintf(part, sizeof(part), "prompt %u + %u steps", prompt, steps);
	time_row(md, part, t, t + reps, reps,
		 (double)cyc[0][0] / (double)cyc[1][0]);
	snprintf(part, sizeof(part), "prompt %u", prompt);
	time_row(md, part, t + 2 * reps, t + 3 * reps, reps,
		 (double)(cyc[0][0] - cyc[0][1]) /
		 (double)(cyc[1][0] - cyc[1][1]));
	snprintf(part, sizeof(part), "%u generation steps", steps);
	time_row(md, part, t + 4 * reps, t + 5 * reps, reps,
		 (double)cyc[0][1] / (double)cyc[1][1]);
	fclose(md);
	free(t);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct model_run full[] = {
		{ "gpt2-small", 992, 32 }, { "gpt2-medium", 992, 32 },
		{ "bert-base", 384, 0 }, { "bert-large", 384, 0 },
	};
	static const struct model_run quick[] = {
		{ "gpt2-small", 60, 4 }, { "gpt2-medium", 60, 4 },
		{ "bert-base", 64, 0 }, { "bert-large", 64, 0 },
	};
	const struct model_run *runs = full;
	const char *out = NULL;
	char path[4096];
	FILE *md, *dat;
	int i, mech, g, timing = 0, reps = 0;

	wl_prog = "traffic-bench";
	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--quick"))
			runs = quick;
		else if (!strcmp(argv[i], "--time"))
			timing = 1;
		else if (!strcmp(argv[i], "--reps") && i + 1 < argc)
			reps = atoi(argv[++i]);
		else if (argv[i][0] != '-' && !out)
			out = argv[i];
		else
			out = NULL, i = argc;
	}
	if (!out || reps < 0)
		return fprintf(stderr, "usage: traffic-bench [--quick] OUTDIR\n"
			       "       traffic-bench --time [--quick] [--reps N] "
			       "OUTDIR\n"), 2;
	if (timing)
		return cmd_time(runs == quick, reps ? reps :
				runs == quick ? 1 : 7, out);
	snprintf(path, sizeof(path), "%s/traffic.md", out);
	md = fopen(path, "w");
	snprintf(path, sizeof(path), "%s/traffic.dat", out);
	dat = fopen(path, "w");
	if (!md || !dat)
		return perror(path), 2;

	fprintf(md, "| model | part | mechanism | K+V bytes | reduction vs "
		"dense fp32 | reduction vs dense S16 (this mechanism alone) | "
		"LSB refetch rate | modeled cycles (full chip) |\n"
		"|---|---|---|---|---|---|---|---|\n");
	fprintf(dat, "# model part tokens+values heads quant all (reduction "
		"factors: mechanism alone; all vs fp32)\n");
	for (i = 0; i < 4; i++) {
		const struct wl_model *m = wl_model_find(runs[i].name);
		struct sums s[M_NUM], p[M_NUM];

		if (!m)
			return fprintf(stderr, "traffic-bench: no model %s\n",
				       runs[i].name), 1;
		for (mech = 0; mech < M_NUM; mech++) {
			int ret = run_one(m, mech, runs[i].prompt,
					  runs[i].steps, &s[mech]);

			if (!ret && runs[i].steps)
				ret = run_one(m, mech, runs[i].prompt, 0,
					      &p[mech]);
			if (ret) {
				fprintf(stderr, "traffic-bench: %s %s: %s\n",
					m->name, mech_name[mech], strerror(-ret));
				return 1;
			}
			printf("traffic: %s %s done\n", m->name, mech_name[mech]);
			fflush(stdout);
		}
		/* g 0: the whole run; g 1: generation steps only (GPT-2) */
		for (g = 0; g < (runs[i].steps ? 2 : 1); g++) {
			double red[M_NUM];
			uint64_t fp32;
			char part[64];

			if (g) {
				for (mech = 0; mech < M_NUM; mech++) {
					s[mech].kv -= p[mech].kv;
					s[mech].q -= p[mech].q;
					s[mech].cycles -= p[mech].cycles;
					s[mech].refetch -= p[mech].refetch;
					s[mech].rows -= p[mech].rows;
				}
				snprintf(part, sizeof(part), "%u generation steps",
					 runs[i].steps);
			} else if (runs[i].steps) {
				snprintf(part, sizeof(part), "prompt %u + %u steps",
					 runs[i].prompt, runs[i].steps);
			} else {
				snprintf(part, sizeof(part), "%u tokens",
					 runs[i].prompt);
			}
			fp32 = 2 * s[M_DENSE].kv;
			for (mech = 0; mech < M_NUM; mech++) {
				double vs16 = (double)s[M_DENSE].kv /
					      (double)s[mech].kv;

				red[mech] = mech == M_QUANT || mech == M_ALL ||
					    mech == M_DENSE ?
					    (double)fp32 / (double)s[mech].kv : vs16;
				fprintf(md, "| %s | %s | %s | %" PRIu64 " | %s%.2fx%s "
					"| %.2fx | %.1f%% | %" PRIu64 " |\n", m->name,
					part, mech_name[mech], s[mech].kv,
					mech == M_ALL ? "**" : "",
					(double)fp32 / (double)s[mech].kv,
					mech == M_ALL ? "**" : "", vs16,
					s[mech].rows ? 100.0 * (double)s[mech].refetch /
					(double)s[mech].rows : 0.0, s[mech].cycles);
			}
			fprintf(dat, "\"%s%s\" %.3f %.3f %.3f %.3f\n", m->name,
				g ? " gen" : "", red[M_TOKVAL], red[M_HEAD],
				red[M_QUANT], red[M_ALL]);
		}
	}
	fclose(md);
	fclose(dat);
	return 0;
}
