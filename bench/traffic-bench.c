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
 */
#include <errno.h>
#include <inttypes.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

static int run_one(const struct wl_model *m, int mech, uint32_t prompt,
		   uint32_t steps, struct sums *s)
{
	struct wl_opts o;
	struct wl_result *r = calloc(1, sizeof(*r));
	int ret;

	if (!r)
		return -ENOMEM;
	wl_opts_default(&o, m);
	o.backend = SPATTEN_BACKEND_SIM;
	o.prompt = prompt;
	o.steps = steps;
	o.check = 0;
	o.quiet = 1;
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
	int i, mech, g;

	wl_prog = "traffic-bench";
	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--quick"))
			runs = quick;
		else if (argv[i][0] != '-' && !out)
			out = argv[i];
		else
			return fprintf(stderr, "usage: traffic-bench [--quick] "
				       "OUTDIR\n"), 2;
	}
	if (!out)
		return fprintf(stderr, "usage: traffic-bench [--quick] OUTDIR\n"), 2;
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
