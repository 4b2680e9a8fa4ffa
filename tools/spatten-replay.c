// SPDX-License-Identifier: MIT
/*
 * spatten-replay: replay SpAtten workload traces (the CSV format of the
 * authors' simulator) through the engine's traffic and cycle model.
 *
 *   spatten-replay [--json] [--model full|eighth] [--per-iteration] FILE...
 *
 * docs/replay.md describes the columns, the formulas and the output.
 * Exit status: 0 success, 1 a trace could not be read or is malformed,
 * 2 usage error.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "spatten-report.h"
#include "spatten-trace.h"
#include "spe.h"

#define EXIT_BAD_INPUT	1
#define EXIT_USAGE	2

static const char *const plane_labels[SPE_PLANE_COUNT] = {
	[SPE_PLANE_Q] = "Q (read)",
	[SPE_PLANE_K_MSB] = "K MSB (read)",
	[SPE_PLANE_K_LSB] = "K LSB refetch (read)",
	[SPE_PLANE_V] = "V (read)",
	[SPE_PLANE_OUT] = "output (written)",
	[SPE_PLANE_TOK_IMP] = "token importance (r+w)",
	[SPE_PLANE_TOK_ALIVE] = "token alive list (read)",
	[SPE_PLANE_TOK_KEPT] = "token kept list (written)",
	[SPE_PLANE_PINNED] = "pinned list (read)",
	[SPE_PLANE_HEAD_IMP] = "head importance (r+w)",
	[SPE_PLANE_HEAD_ALIVE] = "head alive list (read)",
	[SPE_PLANE_HEAD_KEPT] = "head kept list (written)",
	[SPE_PLANE_BLOCK_TABLE] = "KV block table (read)",
	[SPE_PLANE_POSITIONS] = "key positions (read)",
	[SPE_PLANE_HEAD_FRACS] = "fractions per head (read)",
};

struct iter_sum {
	uint32_t iteration;
	uint64_t rows, jobs, bytes_total, bytes_kv, dense_fp32, refetch_rows;
	uint64_t cycles_full, cycles_eighth;
};

struct per_iter {
	struct iter_sum *v;
	size_t n, cap;
	int want;	/* --per-iteration: at most TR_ITERATIONS_MAX entries */
	int oom;
};

struct opts {
	int json;
	int eighth;
	int per_iteration;
};

static void usage(FILE *f, const char *argv0)
{
	fprintf(f,
		"usage: %s [--json] [--model full|eighth] [--per-iteration] FILE...\n"
		"\n"
		"Replays SpAtten workload traces (CSV, one row per generation\n"
		"iteration, layer and head; '-' reads standard input) through the\n"
		"engine's DRAM traffic and cycle model (docs/replay.md).\n"
		"\n"
		"  --json            one JSON object per file, one per line\n"
		"  --model M         which model \"cycles\" reports: full (the\n"
		"                    paper's chip, default) or eighth (SpAtten_1/8);\n"
		"                    both are always computed\n"
		"  --per-iteration   also a table (JSON: an array) per iteration\n"
		"  -h, --help        this text\n"
		"\n"
		"Input is read as a stream: at most 4096 bytes a line, 16777216\n"
		"lines, 65536 iterations (docs/tools.md). JSON: schema\n"
		"spatten-report/1, kind \"trace\".\n"
		"\n"
		"Exit status: 0 ok, 1 unreadable or malformed trace, 2 usage.\n",
		argv0);
}

static void on_job(void *opaque, const struct spe_trace_replay *r,
		   const struct spe_job *job, const struct spe_stats *st,
		   uint64_t dense_fp32, uint64_t cycles_full,
		   uint64_t cycles_eighth)
{
	struct per_iter *pi = opaque;
	struct iter_sum *s;
	int p;

	if (!pi->want || pi->oom)
		return;
	if (!pi->n || pi->v[pi->n - 1].iteration != r->iteration) {
		if (pi->n == pi->cap) {
			size_t cap = pi->cap ? 2 * pi->cap : 64;
			struct iter_sum *v = realloc(pi->v, cap * sizeof(*v));

			if (!v) {
				pi->oom = 1;
				return;
			}
			pi->v = v;
			pi->cap = cap;
		}
		memset(&pi->v[pi->n], 0, sizeof(pi->v[0]));
		pi->v[pi->n++].iteration = r->iteration;
	}
	s = &pi->v[pi->n - 1];
	s->rows += job->n_heads;
	s->jobs++;
	for (p = 0; p < SPE_PLANE_COUNT; p++)
		s->bytes_total += st->bytes[p];
	s->bytes_kv += st->bytes[SPE_PLANE_K_MSB] +
		       st->bytes[SPE_PLANE_K_LSB] + st->bytes[SPE_PLANE_V];
	s->dense_fp32 += dense_fp32;
	s->refetch_rows += st->refetch_rows;
	s->cycles_full += cycles_full;
	s->cycles_eighth += cycles_eighth;
}

static double ratio(uint64_t a, uint64_t b)
{
	return b ? (double)a / (double)b : 0.0;
}

static void print_json(const char *name, const struct tr_reader *t,
		       const struct per_iter *pi, const struct opts *o)
{
	size_t i;

	rep_begin(stdout, "spatten-replay", "trace");
	rep_trace_totals(stdout, name, t, o->eighth);
	if (o->per_iteration) {
		printf(",\"per_iteration\":[");
		for (i = 0; i < pi->n; i++) {
			const struct iter_sum *s = &pi->v[i];

			printf("%s{\"iteration\":%u,\"rows\":%llu,"
			       "\"dram_bytes_total\":%llu,"
			       "\"dram_bytes_kv\":%llu,"
			       "\"dram_bytes_dense_fp32\":%llu,"
			       "\"lsb_refetches\":%llu,\"cycles_full\":%llu,"
			       "\"cycles_eighth\":%llu}",
			       i ? "," : "", s->iteration,
			       (unsigned long long)s->rows,
			       (unsigned long long)s->bytes_total,
			       (unsigned long long)s->bytes_kv,
			       (unsigned long long)s->dense_fp32,
			       (unsigned long long)s->refetch_rows,
			       (unsigned long long)s->cycles_full,
			       (unsigned long long)s->cycles_eighth);
		}
		printf("]");
	}
	printf("}\n");
}

static void print_human(const char *name, const struct tr_reader *tr,
			const struct per_iter *pi, const struct opts *o)
{
	const struct spe_trace_replay *r = &tr->r;
	const struct spe_trace_totals *t = &r->totals;
	size_t i;
	int p;

	printf("trace %s\n", name);
	printf("  %lu lines: %llu rows, %lu skipped (not rows); "
	       "%llu iterations, %llu jobs (iteration x layer)\n",
	       r->parser.line, (unsigned long long)t->rows, r->parser.skipped,
	       (unsigned long long)t->iterations,
	       (unsigned long long)t->jobs);
	printf("  keys fetched %llu of %llu (%.1f%%), values fetched %llu, "
	       "token top-k runs %llu\n",
	       (unsigned long long)t->keys_fetched,
	       (unsigned long long)t->keys_dense,
	       100.0 * ratio(t->keys_fetched, t->keys_dense),
	       (unsigned long long)t->values_fetched,
	       (unsigned long long)t->token_topk_runs);
	printf("  DRAM bytes by plane\n");
	for (p = 0; p < SPE_PLANE_COUNT; p++) {
		if (!t->bytes[p])
			continue;
		printf("    %-26s %14llu  %5.1f%%\n", plane_labels[p],
		       (unsigned long long)t->bytes[p],
		       100.0 * ratio(t->bytes[p], t->bytes_total));
	}
	printf("    %-26s %14llu\n", "total", (unsigned long long)t->bytes_total);
	printf("    %-26s %14llu\n", "K + V (MSB, LSB, V)",
	       (unsigned long long)t->bytes_kv);
	printf("  dense fp32 K + V          %14llu\n",
	       (unsigned long long)t->dense_fp32);
	printf("  reduction vs dense fp32   %11.2fx  K + V   "
	       "%6.2fx  all traffic\n",
	       ratio(t->dense_fp32, t->bytes_kv),
	       ratio(t->dense_fp32, t->bytes_total));
	printf("  LSB refetches             %14llu  of %llu rows (%.1f%%)\n",
	       (unsigned long long)t->refetch_rows,
	       (unsigned long long)t->rows,
	       100.0 * ratio(t->refetch_rows, t->rows));
	printf("  cycles, full chip         %14llu  %10.3f ms at 1 GHz%s\n",
	       (unsigned long long)t->cycles_full, t->cycles_full / 1e6,
	       o->eighth ? "" : "  <- cycles");
	printf("  cycles, SpAtten_1/8       %14llu  %10.3f ms at 1 GHz%s\n",
	       (unsigned long long)t->cycles_eighth, t->cycles_eighth / 1e6,
	       o->eighth ? "  <- cycles" : "");
	printf("  top-k engine cycles       %14llu  (token pruning, in both)\n",
	       (unsigned long long)t->topk_cycles);
	printf("  value top-k cycles        %14llu  (hidden behind the scores)\n",
	       (unsigned long long)t->topk_cycles_value);
	if (!o->per_iteration)
		return;
	printf("  %9s %5s %12s %12s %12s %7s %8s %10s %10s\n", "iteration",
	       "rows", "DRAM bytes", "K+V bytes", "dense fp32", "reduct",
	       "refetch", "cyc full", "cyc 1/8");
	for (i = 0; i < pi->n; i++) {
		const struct iter_sum *s = &pi->v[i];

		printf("  %9u %5llu %12llu %12llu %12llu %6.2fx %8llu "
		       "%10llu %10llu\n", s->iteration,
		       (unsigned long long)s->rows,
		       (unsigned long long)s->bytes_total,
		       (unsigned long long)s->bytes_kv,
		       (unsigned long long)s->dense_fp32,
		       ratio(s->dense_fp32, s->bytes_kv),
		       (unsigned long long)s->refetch_rows,
		       (unsigned long long)s->cycles_full,
		       (unsigned long long)s->cycles_eighth);
	}
}

static int replay_file(const char *path, const struct opts *o)
{
	const char *name = strcmp(path, "-") ? path : "<stdin>";
	struct per_iter pi = { .want = o->per_iteration };
	struct tr_reader *t = malloc(sizeof(*t));
	int ret = EXIT_BAD_INPUT;

	if (!t) {
		fprintf(stderr, "spatten-replay: %s: out of memory\n", name);
		return EXIT_BAD_INPUT;
	}
	tr_init(t);
	t->r.on_job = on_job;
	t->r.opaque = &pi;
	if (tr_read_path(t, path)) {
		tr_perror(t, "spatten-replay", name);
	} else if (pi.oom) {
		fprintf(stderr, "spatten-replay: %s: out of memory\n", name);
	} else {
		if (o->json)
			print_json(name, t, &pi, o);
		else
			print_human(name, t, &pi, o);
		rep_flush_stdout();
		ret = 0;
	}
	free(pi.v);
	free(t);
	return ret;
}

int main(int argc, char **argv)
{
	struct opts o = { 0 };
	int i, n_files = 0, status = 0, ret, no_more_opts = 0;

	for (i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (no_more_opts || a[0] != '-' || !strcmp(a, "-")) {
			n_files++;
			continue;
		}
		if (!strcmp(a, "--")) {
			no_more_opts = 1;
		} else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			usage(stdout, argv[0]);
			return rep_stdout_done("spatten-replay", 0);
		} else if (!strcmp(a, "--json")) {
			o.json = 1;
		} else if (!strcmp(a, "--per-iteration")) {
			o.per_iteration = 1;
		} else if (!strcmp(a, "--model") ||
			   !strncmp(a, "--model=", 8)) {
			const char *m = a[7] == '=' ? a + 8 :
					(i + 1 < argc ? argv[++i] : NULL);

			if (m && !strcmp(m, "full")) {
				o.eighth = 0;
			} else if (m && !strcmp(m, "eighth")) {
				o.eighth = 1;
			} else {
				fprintf(stderr, "spatten-replay: --model takes "
					"full or eighth\n");
				usage(stderr, argv[0]);
				return EXIT_USAGE;
			}
		} else {
			fprintf(stderr, "spatten-replay: unknown option %s\n",
				a);
			usage(stderr, argv[0]);
			return EXIT_USAGE;
		}
	}
	if (!n_files) {
		fprintf(stderr, "spatten-replay: no trace file given\n");
		usage(stderr, argv[0]);
		return EXIT_USAGE;
	}

	no_more_opts = 0;
	for (i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (!no_more_opts && a[0] == '-' && strcmp(a, "-")) {
			if (!strcmp(a, "--"))
				no_more_opts = 1;
			else if (!strcmp(a, "--model"))
				i++;
			continue;
		}
		ret = replay_file(a, &o);
		if (ret)
			status = ret;
		else if (!o.json && i + 1 < argc)
			putchar('\n');
	}
	return rep_stdout_done("spatten-replay", status);
}
