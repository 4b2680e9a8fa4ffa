// SPDX-License-Identifier: MIT
/*
 * spatten-run: run a model-shaped attention workload through a libspatten
 * session (device or simulation) and print per-layer pruning, traffic,
 * cycles and the error against a float reference; or replay a workload
 * trace through the cycle and traffic model.
 *
 * Exit status: 0 success, 1 failure (device, job, or an error beyond the
 * tolerance), 2 usage.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "spatten-report.h"
#include "spatten-trace.h"
#include "spatten-workload.h"

static const char *prog = "spatten-run";

static void usage(FILE *f)
{
	fprintf(f,
"Usage: %s [OPTIONS]\n"
"       %s --trace FILE [--json]\n"
"Run a model-shaped attention workload (synthetic inputs, fixed seed)\n"
"through a session with cascade token/head pruning, local value pruning\n"
"and progressive quantization, or replay a workload trace.\n"
"\n"
"Workload:\n"
"  -m, --model NAME      built-in shape (default gpt2-small), one of:\n",
		prog, prog);
	wl_model_list(f);
	fprintf(f,
"      --layers N        override the layer count\n"
"      --heads N         override the (query) head count\n"
"      --kv-heads N      key/value heads, dividing the heads (grouped-query\n"
"                        attention; default: the model's, or as many as\n"
"                        --heads for a model without GQA)\n"
"      --head-dim N      override D\n"
"      --rope BASE       rotary positions of this base (0: off; default\n"
"                        the model's), applied by the board at each slot\n"
"  -p, --prompt N        prompt (or sequence) length\n"
"  -g, --steps N         generation steps (decoders)\n"
"  -s, --seed N          input seed (default 0x5ba77e4)\n"
"      --dtype T         inputs as f32 (default), f16 or bf16, given to the\n"
"                        session as [tokens][heads][dim] arrays\n"
"\n"
"KV cache (decoders):\n"
"      --kv-budget S:I:R a bounded cache: the first S tokens, the I most\n"
"                        important of the middle and the R most recent stay,\n"
"                        the others are evicted for good\n"
"      --kv-capacity N   slots of the bounded cache (default S+I+R+1: evict\n"
"                        at every step; more: evict every N-S-I-R steps)\n"
"      --kv-per-head     each layer's KV head keeps its own important tokens\n"
"                        (the authors' LLM code; no --token-keep)\n"
"      --fill N          start from a cache of N synthetic tokens, imported\n"
"                        without attention (no prefill), then --steps; with\n"
"                        -p the prompt is a chunk after them\n"
"\n"
"Pruning and quantization:\n"
"      --dense           the dense baseline: no pruning, static S16 keys,\n"
"                        S16 values (not with the options below)\n"
"      --token-keep A:B  token keep ratio from A (first pruned layer) to B\n"
"      --head-keep A:B   head keep ratio from A to B\n"
"      --value-keep R    V rows kept per query, ratio of the kept tokens\n"
"      --k-bits N        key MSB bits: 4, 6, 8, 10, 12 (default 8); 16\n"
"                        with --no-progressive\n"
"      --v-bits N        value bits: 4, 6, 8, 10, 12 or 16 (default 12)\n"
"      --no-progressive  static keys of --k-bits bits, no LSB plane\n"
"      --threshold T     LSB refetch when max prob < T (default 0.1; not\n"
"                        with --no-progressive)\n"
"\n"
"Device and output:\n"
"  -b, --backend B       device, sim or default ($SPATTEN_BACKEND, else\n"
"                        device)\n"
"  -d, --device PATH     device node (/dev/accel/accelN, /dev/dri/renderDN)\n"
"                        or spatten:N, the N-th board (default: the first)\n"
"      --check-rows N    reference rows per layer and head of the prompt\n"
"                        (default 4; every generation row is checked)\n"
"      --no-check        skip the float reference\n"
"      --rss-at N,N,...  report the resident set (VmRSS) when the sequence\n"
"                        reaches these token counts (at most 16, ascending)\n"
"      --trace FILE      replay a workload trace (authors' CSV) through\n"
"                        the traffic and cycle model instead ('-': stdin;\n"
"                        lines of 4096 bytes at most, docs/tools.md)\n"
"  -j, --json            JSON on stdout instead of the table (schema\n"
"                        spatten-report/1, docs/tools.md)\n"
"  -q, --quiet           no progress line\n"
"  -h, --help            this text\n"
"\n"
"Exit status: 0 success, 1 failure (no device, a job error, an error\n"
"beyond the tolerance), 2 bad arguments.\n");
}

static int parse_u32(const char *s, uint32_t min, uint32_t max, uint32_t *v)
{
	char *end;
	unsigned long x;

	errno = 0;
	x = strtoul(s, &end, 10);	/* "010" is ten, not octal eight */
	if (errno || !*s || *end || x < min || x > max)
		return -1;
	*v = (uint32_t)x;
	return 0;
}

static int parse_ratio(const char *s, float *v)
{
	char *end;
	float x = strtof(s, &end);

	if (!*s || *end || !(x > 0.0f && x <= 1.0f))
		return -1;
	*v = x;
	return 0;
}

static int parse_pair(const char *s, float *a, float *b)
{
	char buf[64], *colon;

	if (strlen(s) >= sizeof(buf))
		return -1;
	strcpy(buf, s);
	colon = strchr(buf, ':');
	if (!colon)
		return -1;
	*colon = 0;
	return parse_ratio(buf, a) || parse_ratio(colon + 1, b) ? -1 : 0;
}

/* "S:I:R": three counts of the bounded cache, their sum below 2^30. */
static int parse_budget(const char *s, uint32_t *v)
{
	char buf[64], *p = buf, *colon;
	uint64_t sum = 0;
	int i;

	if (strlen(s) >= sizeof(buf))
		return -1;
	strcpy(buf, s);
	for (i = 0; i < 3; i++) {
		colon = strchr(p, ':');
		if ((i < 2) != !!colon)
			return -1;
		if (colon)
			*colon = 0;
		if (parse_u32(p, 0, 1u << 30, &v[i]))
			return -1;
		sum += v[i];
		p = colon + 1;
	}
	return sum && sum < (1u << 30) ? 0 : -1;
}

/* "N,N,...": at most WL_MAX_RSS ascending token counts. */
static int parse_rss(const char *s, struct wl_opts *o)
{
	const char *p = s;
	char *end;
	uint64_t x;

	o->n_rss = 0;
	for (;;) {
		if (*p < '0' || *p > '9' || o->n_rss == WL_MAX_RSS)
			return -1;
		errno = 0;
		x = strtoull(p, &end, 10);
		if (errno || !x || x > UINT32_MAX ||
		    (o->n_rss && x <= o->rss_at[o->n_rss - 1]))
			return -1;
		o->rss_at[o->n_rss++] = x;
		if (!*end)
			return 0;
		if (*end != ',')
			return -1;
		p = end + 1;
	}
}

static int parse_dtype(const char *s, int *t)
{
	if (!strcmp(s, "f32"))
		*t = SPATTEN_DTYPE_F32;
	else if (!strcmp(s, "f16"))
		*t = SPATTEN_DTYPE_F16;
	else if (!strcmp(s, "bf16"))
		*t = SPATTEN_DTYPE_BF16;
	else
		return -1;
	return 0;
}

static const char *opt_name(const struct option *opts, int c)
{
	static char buf[40];

	for (; opts->name; opts++)
		if (opts->val == c) {
			snprintf(buf, sizeof(buf), "--%s", opts->name);
			return buf;
		}
	snprintf(buf, sizeof(buf), "-%c", c);
	return buf;
}

/* ---- --trace ------------------------------------------------------------- */

struct trace_ctx {
	int json;
	int first;
	uint32_t last_iter;
};

static void trace_job_json(struct trace_ctx *c,
			   const struct spe_trace_replay *r,
			   const struct spe_job *job,
			   const struct spe_stats *st, uint64_t read,
			   uint64_t dense_fp32, uint64_t cf, uint64_t ce)
{
	if (c->first) {
		rep_begin(stdout, prog, "trace");
		printf(",\"per_job\":[");
	}
	printf("%s{\"iteration\":%u,\"layer\":%u,\"heads\":%u,"
	       "\"kv_rows\":%u,\"tokens_kept\":%" PRIu64 ","
	       "\"lsb_refetches\":%" PRIu64 ",\"bytes_read\":%" PRIu64 ","
	       "\"dram_bytes_dense_fp32\":%" PRIu64 ",\"cycles_full\":%"
	       PRIu64 ",\"cycles_eighth\":%" PRIu64 "}", c->first ? "" : ",",
	       r->iteration, r->layer, job->n_heads, job->kv_rows,
	       st->tokens_kept, st->refetch_rows, read, dense_fp32, cf, ce);
}

static void on_job(void *opaque, const struct spe_trace_replay *r,
		   const struct spe_job *job, const struct spe_stats *st,
		   uint64_t dense_fp32, uint64_t cf, uint64_t ce)
{
	struct trace_ctx *c = opaque;
	uint64_t b = st->bytes[SPE_PLANE_Q] + st->bytes[SPE_PLANE_K_MSB] +
		     st->bytes[SPE_PLANE_K_LSB] + st->bytes[SPE_PLANE_V];
	char it[16] = "";

	if (c->json) {
		trace_job_json(c, r, job, st, b, dense_fp32, cf, ce);
		c->first = 0;
		return;
	}
	if (c->first)
		printf("iteration layer heads kv_rows    kept refetch "
		       "     bytes dense_fp32    cycles\n");
	if (c->first || r->iteration != c->last_iter)
		snprintf(it, sizeof(it), "%u", r->iteration);
	printf("%9s %5u %5u %7u %7" PRIu64 " %7" PRIu64 " %10" PRIu64
	       " %10" PRIu64 " %9" PRIu64 "\n", it, r->layer, job->n_heads,
	       job->kv_rows, st->tokens_kept, st->refetch_rows, b, dense_fp32,
	       cf);
	c->first = 0;
	c->last_iter = r->iteration;
}

static void trace_totals(const struct tr_reader *tr)
{
	const struct spe_trace_totals *t = &tr->r.totals;

	printf("\n%lu lines: %" PRIu64 " rows, %lu skipped (not rows)\n",
	       tr->r.parser.line, t->rows, tr->r.parser.skipped);
	printf("total: %" PRIu64 " rows in %" PRIu64 " jobs; keys "
	       "fetched %" PRIu64 " of %" PRIu64 " (%.1f%%); LSB "
	       "refetch %" PRIu64 " rows (%.1f%%)\n", t->rows, t->jobs,
	       t->keys_fetched, t->keys_dense, t->keys_dense ? 100.0 *
	       t->keys_fetched / t->keys_dense : 0.0, t->refetch_rows,
	       t->rows ? 100.0 * t->refetch_rows / t->rows : 0.0);
	printf("DRAM bytes %" PRIu64 " vs %" PRIu64 " dense fp32 "
	       "(%.2fx less); cycles %" PRIu64 " (full chip), %" PRIu64
	       " (SpAtten_1/8)\n", t->bytes_total, t->dense_fp32,
	       t->bytes_total ? (double)t->dense_fp32 / t->bytes_total :
	       0.0, t->cycles_full, t->cycles_eighth);
}

/*
 * Streams the trace (tools/spatten-trace.c): jobs are printed as they
 * finish. On an error the JSON document ends after the jobs printed so far
 * with "file" and "error" members (no totals); the exit status is 1.
 */
static int run_trace(const char *path, int json)
{
	const char *name = strcmp(path, "-") ? path : "<stdin>";
	struct tr_reader *t = malloc(sizeof(*t));
	struct trace_ctx c = { .json = json, .first = 1 };

	if (!t) {
		fprintf(stderr, "%s: out of memory\n", prog);
		return 1;
	}
	tr_init(t);
	t->r.on_job = on_job;
	t->r.opaque = &c;
	if (tr_read_path(t, path)) {
		if (json) {
			if (c.first) {
				rep_begin(stdout, prog, "trace");
				printf(",\"per_job\":[");
			}
			printf("],\"file\":");
			rep_json_string(stdout, name);
			printf(",\"error\":");
			rep_json_string(stdout, t->err);
			printf("}\n");
		}
		rep_flush_stdout();
		tr_perror(t, prog, name);
		free(t);
		return 1;
	}
	if (json) {
		printf("]");
		rep_trace_totals(stdout, name, t, 0);
		printf("}\n");
	} else {
		trace_totals(t);
	}
	free(t);
	return 0;
}

enum { O_LAYERS = 256, O_HEADS, O_HDIM, O_DENSE, O_TOK, O_HEAD, O_VAL,
       O_KBITS, O_VBITS, O_NOPROG, O_THR, O_ROWS, O_NOCHECK, O_TRACE,
       O_KVHEADS, O_ROPE, O_DTYPE, O_BUDGET, O_CAP, O_RSS, O_FILL,
       O_PERHEAD };

static const struct option lo[] = {
	{ "model", required_argument, NULL, 'm' },
	{ "layers", required_argument, NULL, O_LAYERS },
	{ "heads", required_argument, NULL, O_HEADS },
	{ "kv-heads", required_argument, NULL, O_KVHEADS },
	{ "head-dim", required_argument, NULL, O_HDIM },
	{ "rope", required_argument, NULL, O_ROPE },
	{ "prompt", required_argument, NULL, 'p' },
	{ "steps", required_argument, NULL, 'g' },
	{ "seed", required_argument, NULL, 's' },
	{ "dtype", required_argument, NULL, O_DTYPE },
	{ "kv-budget", required_argument, NULL, O_BUDGET },
	{ "kv-capacity", required_argument, NULL, O_CAP },
	{ "kv-per-head", no_argument, NULL, O_PERHEAD },
	{ "fill", required_argument, NULL, O_FILL },
	{ "dense", no_argument, NULL, O_DENSE },
	{ "token-keep", required_argument, NULL, O_TOK },
	{ "head-keep", required_argument, NULL, O_HEAD },
	{ "value-keep", required_argument, NULL, O_VAL },
	{ "k-bits", required_argument, NULL, O_KBITS },
	{ "v-bits", required_argument, NULL, O_VBITS },
	{ "no-progressive", no_argument, NULL, O_NOPROG },
	{ "threshold", required_argument, NULL, O_THR },
	{ "backend", required_argument, NULL, 'b' },
	{ "device", required_argument, NULL, 'd' },
	{ "check-rows", required_argument, NULL, O_ROWS },
	{ "no-check", no_argument, NULL, O_NOCHECK },
	{ "rss-at", required_argument, NULL, O_RSS },
	{ "trace", required_argument, NULL, O_TRACE },
	{ "json", no_argument, NULL, 'j' },
	{ "quiet", no_argument, NULL, 'q' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

/*
 * The command line: the workload options (in @o) and what is applied
 * after all of them are read. @tuned: the first pruning or quantization
 * option (for --dense); @other: the first option --trace ignores;
 * @bad_model: a -m NAME that is not a built-in model (reported after the
 * --trace check); @threshold: --threshold was given; @heads, @kv_heads:
 * --heads and --kv-heads were given.
 */
struct cli {
	struct wl_opts o;
	const char *trace;
	uint32_t prompt, steps;
	uint64_t seed;
	const char *bad_model;
	int have_seed, quiet, tuned, other, threshold, heads, kv_heads;
};

/* Shape and pruning options. Return: 0, -1 bad value, 1 not one of them. */
static int opt_workload(struct cli *cl, int c, const char *arg)
{
	struct wl_opts *o = &cl->o;
	uint32_t v;

	switch (c) {
	case O_LAYERS:
		if (parse_u32(arg, 1, SPATTEN_MAX_LAYERS, &v))
			return -1;
		o->m.layers = v;
		return 0;
	case O_HEADS:
		if (parse_u32(arg, 1, WL_MAX_HEADS, &v))
			return -1;
		o->m.heads = v;
		cl->heads = 1;
		return 0;
	case O_KVHEADS:
		if (parse_u32(arg, 1, WL_MAX_HEADS, &v))
			return -1;
		o->m.kv_heads = v;
		cl->kv_heads = 1;
		return 0;
	case O_HDIM:
		if (parse_u32(arg, 8, WL_MAX_D, &v) || (v & (v - 1)))
			return -1;
		o->m.head_dim = v;
		return 0;
	case 'p':
		return parse_u32(arg, 1, 1u << 30, &cl->prompt);
	case 'g':
		return parse_u32(arg, 0, UINT32_MAX - 1, &cl->steps);
	case O_DENSE:
		o->dense = 1;
		return 0;
	case O_TOK:
		return parse_pair(arg, &o->m.tok_start, &o->m.tok_end);
	case O_HEAD:
		return parse_pair(arg, &o->m.head_start, &o->m.head_end);
	case O_VAL:
		return parse_ratio(arg, &o->m.value_keep);
	case O_KBITS:
	case O_VBITS:
		if (parse_u32(arg, 4, 16, &v) || (v & 1) || v == 14)
			return -1;
		*(c == O_KBITS ? &o->k_bits : &o->v_bits) = v;
		return 0;
	case O_NOPROG:
		o->progressive = 0;
		return 0;
	default:
		return 1;
	}
}

/* Positions, element type, the bounded cache, RSS. Return: as opt_workload(). */
static int opt_llm(struct cli *cl, int c, const char *arg)
{
	struct wl_opts *o = &cl->o;
	uint32_t b[3];

	switch (c) {
	case O_ROPE:
		if (parse_u32(arg, 0, 1u << 31, &o->m.rope_base) ||
		    o->m.rope_base == 1)
			return -1;
		return 0;
	case O_DTYPE:
		return parse_dtype(arg, &o->dtype);
	case O_BUDGET:
		if (parse_budget(arg, b))
			return -1;
		o->kv_start = b[0];
		o->kv_important = b[1];
		o->kv_recent = b[2];
		return 0;
	case O_CAP:
		return parse_u32(arg, 2, 1u << 30, &o->kv_capacity);
	case O_FILL:
		return parse_u32(arg, 1, 1u << 30, &o->fill);
	case O_PERHEAD:
		o->kv_per_head = 1;
		return 0;
	case O_RSS:
		return parse_rss(arg, o);
	default:
		return 1;
	}
}

/* Seed, threshold, device and output options. Return: as opt_workload(). */
static int opt_run(struct cli *cl, int c, const char *arg)
{
	struct wl_opts *o = &cl->o;
	char *end;
	float t;

	switch (c) {
	case 's':
		errno = 0;
		cl->seed = strtoull(arg, &end, 0);
		if (errno || !*arg || *end)
			return -1;
		cl->have_seed = 1;
		return 0;
	case O_THR:
		t = strtof(arg, &end);
		if (!*arg || *end || !(t >= 0.0f && t <= 1.0f))
			return -1;
		o->threshold = t;
		return 0;
	case 'b':
		if (!strcmp(arg, "sim"))
			o->backend = SPATTEN_BACKEND_SIM;
		else if (!strcmp(arg, "device"))
			o->backend = SPATTEN_BACKEND_DEVICE;
		else if (!strcmp(arg, "default"))
			o->backend = SPATTEN_BACKEND_DEFAULT;
		else
			return -1;
		return 0;
	case 'd':
		o->path = arg;
		return 0;
	case O_ROWS:
		return parse_u32(arg, 1, 65535, &o->check_rows);
	case O_NOCHECK:
		o->check = 0;
		return 0;
	case O_TRACE:
		cl->trace = arg;
		return 0;
	case 'j':
		o->json = 1;
		return 0;
	case 'q':
		cl->quiet = 1;
		return 0;
	default:
		return 1;
	}
}

#define OPTSTRING "m:p:g:s:b:d:jqh"

/*
 * The model first: the other options edit its defaults. getopt itself finds
 * it (a silent first pass), so every spelling it accepts counts: -mNAME,
 * --model=NAME, abbreviations such as --mod NAME. The last -m wins; the
 * first unknown name goes to @bad.
 */
static const struct wl_model *find_model(int argc, char **argv,
					 const char **bad)
{
	const struct wl_model *m = wl_model_find("gpt2-small");
	int c, saved = opterr;

	*bad = NULL;
	opterr = 0;
	while ((c = getopt_long(argc, argv, OPTSTRING, lo, NULL)) != -1) {
		if (c != 'm')
			continue;
		if (wl_model_find(optarg))
			m = wl_model_find(optarg);
		else if (!*bad)
			*bad = optarg;
	}
	opterr = saved;
	optind = 0;	/* glibc: start again from scratch */
	return m;
}

/* Reads every option into @cl. Return: -1 to go on, or an exit status. */
static int parse_args(int argc, char **argv, struct cli *cl)
{
	int c, ret;

	memset(cl, 0, sizeof(*cl));
	cl->steps = UINT32_MAX;
	wl_opts_default(&cl->o, find_model(argc, argv, &cl->bad_model));
	while ((c = getopt_long(argc, argv, OPTSTRING, lo, NULL)) != -1) {
		/* pruning and quantization: the first one given, for --dense */
		if (!cl->tuned && (c == O_TOK || c == O_HEAD || c == O_VAL ||
				   c == O_KBITS || c == O_VBITS || c == O_THR))
			cl->tuned = c;
		/* workload options, for --trace */
		if (!cl->other && c != O_TRACE && c != 'j' && c != 'q' &&
		    c != 'h' && c != '?')
			cl->other = c;
		if (c == 'h') {
			usage(stdout);
			return 0;
		}
		if (c == 'm')
			continue;	/* find_model() read it */
		if (c == O_THR)
			cl->threshold = 1;
		ret = opt_workload(cl, c, optarg);
		if (ret > 0)
			ret = opt_llm(cl, c, optarg);
		if (ret > 0)
			ret = opt_run(cl, c, optarg);
		if (ret > 0) {
			fprintf(stderr, "Try '%s --help'.\n", prog);
			return 2;
		}
		if (ret < 0) {
			fprintf(stderr, "%s: bad value '%s' for %s\n", prog,
				optarg, opt_name(lo, c));
			fprintf(stderr, "Try '%s --help'.\n", prog);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "%s: unexpected argument '%s'\nTry '%s "
			"--help'.\n", prog, argv[optind], prog);
		return 2;
	}
	return -1;
}

/*
 * Checks that need every option: --dense and what it excludes, the shape.
 * Return: 0, or -1 after a message (usage error).
 */
static int finish_opts(struct wl_opts *o, int tuned,
		       const struct option *opts)
{
	if (o->dense && tuned) {
		fprintf(stderr, "%s: --dense is the dense baseline (no pruning, "
			"S16 keys and values): %s cannot be combined with it\n"
			"Try '%s --help'.\n", prog, opt_name(opts, tuned), prog);
		return -1;
	}
	if (o->dense) {
		o->progressive = 0;
		o->k_bits = 16;
		o->v_bits = 16;
	}
	if (!o->m.causal && o->steps) {
		fprintf(stderr, "%s: %s is an encoder: no generation steps "
			"(--steps 0)\n", prog, o->m.name);
		return -1;
	}
	if (o->progressive && o->k_bits > 12) {
		fprintf(stderr, "%s: progressive keys need --k-bits 4..12\n",
			prog);
		return -1;
	}
	return 0;
}

/*
 * Query and KV heads: without --kv-heads a model without grouped-query
 * attention follows --heads, a GQA model keeps its KV heads.
 * Return: 0, or -1 after a message.
 */
static int finish_heads(struct cli *cl)
{
	struct wl_model *m = &cl->o.m;
	const struct wl_model *base = wl_model_find(m->name);

	if (!cl->kv_heads && base && base->kv_heads == base->heads)
		m->kv_heads = m->heads;
	if (m->kv_heads > m->heads || m->heads % m->kv_heads) {
		fprintf(stderr, "%s: %u KV heads do not divide the %u heads "
			"(--kv-heads)\n", prog, m->kv_heads, m->heads);
		return -1;
	}
	return 0;
}

/* The whole sequence and the cache that holds it; --rss-at within it. */
static int finish_cache(struct wl_opts *o)
{
	uint64_t t = wl_tokens(o), b = wl_budget(o);

	if ((b || o->fill) && !o->m.causal) {
		fprintf(stderr, "%s: %s is an encoder: %s a decoder's cache\n",
			prog, o->m.name, b ? "--kv-budget bounds" :
			"--fill fills");
		return -1;
	}
	if (o->fill && !o->prompt && !o->steps) {
		fprintf(stderr, "%s: --fill without --steps (or a prompt): "
			"nothing would attend to the cache\n", prog);
		return -1;
	}
	if (o->kv_per_head && (!b || o->m.tok_start < 1.0f ||
				o->m.tok_end < 1.0f)) {
		fprintf(stderr, "%s: --kv-per-head: each KV head selects its "
			"own tokens in a bounded cache: it needs --kv-budget, "
			"and allows no cascade token pruning (--token-keep)\n",
			prog);
		return -1;
	}
	if (o->kv_capacity && !b) {
		fprintf(stderr, "%s: --kv-capacity is the size of a bounded "
			"cache: it needs --kv-budget\n", prog);
		return -1;
	}
	if (o->kv_capacity && o->kv_capacity <= b) {
		fprintf(stderr, "%s: --kv-capacity %u: not above the budget "
			"of %llu tokens (S+I+R)\n", prog, o->kv_capacity,
			(unsigned long long)b);
		return -1;
	}
	if (o->kv_capacity && o->kv_capacity < o->prompt) {
		fprintf(stderr, "%s: --kv-capacity %u: the %u-token prompt "
			"does not fit (it is one pass)\n", prog, o->kv_capacity,
			o->prompt);
		return -1;
	}
	if (t > UINT32_MAX) {
		fprintf(stderr, "%s: %llu tokens: more than %u (the session's "
			"32-bit token numbers)\n", prog, (unsigned long long)t,
			UINT32_MAX);
		return -1;
	}
	if (!b && t > (1u << 30)) {
		fprintf(stderr, "%s: %sprompt + steps = %llu tokens: more "
			"than %u (the largest KV cache of a session; "
			"--kv-budget bounds it)\n", prog, o->fill ? "fill + " :
			"", (unsigned long long)t, 1u << 30);
		return -1;
	}
	if (o->n_rss && o->rss_at[o->n_rss - 1] > t) {
		fprintf(stderr, "%s: --rss-at %llu: beyond the run's %llu "
			"tokens\n", prog,
			(unsigned long long)o->rss_at[o->n_rss - 1],
			(unsigned long long)t);
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	static char outbuf[1u << 16];
	struct cli cl;
	struct wl_opts *o = &cl.o;
	struct wl_result *r;
	int ret;

	/*
	 * The help is over 4 KiB: in stdio's default buffer it would be
	 * written in two pieces, and the errno of a failed first write (a
	 * full disk) is gone by the time rep_stdout_done() looks. (glibc
	 * takes the size only with a buffer.)
	 */
	setvbuf(stdout, outbuf, _IOFBF, sizeof(outbuf));
	ret = parse_args(argc, argv, &cl);
	if (ret >= 0)
		return rep_stdout_done(prog, ret);
	if (cl.trace && cl.other) {
		fprintf(stderr, "%s: --trace replays a trace: %s does not "
			"apply to it\nTry '%s --help'.\n", prog,
			opt_name(lo, cl.other), prog);
		return 2;
	}
	if (cl.bad_model) {
		fprintf(stderr, "%s: unknown model '%s'; known:\n", prog,
			cl.bad_model);
		wl_model_list(stderr);
		return 2;
	}
	if (cl.trace)
		return rep_stdout_done(prog, run_trace(cl.trace, o->json));
	if (cl.prompt)
		o->prompt = cl.prompt;
	else if (o->fill)	/* the filled cache replaces the prompt */
		o->prompt = 0;
	if (cl.steps != UINT32_MAX)
		o->steps = cl.steps;
	if (cl.have_seed)
		o->seed = cl.seed;
	if (finish_opts(o, cl.tuned, lo) || finish_heads(&cl) ||
	    finish_cache(o))
		return 2;
	if (cl.threshold && !o->progressive) {
		fprintf(stderr, "%s: --threshold is the LSB refetch threshold of "
			"progressive keys: it cannot be combined with "
			"--no-progressive\nTry '%s --help'.\n", prog, prog);
		return 2;
	}
	o->progress = !cl.quiet && !o->json && isatty(2);
	wl_prog = prog;
	r = calloc(1, sizeof(*r));
	if (!r)
		return 1;
	ret = wl_run(o, r);
	if (ret < 0) {
		free(r);
		return 1;
	}
	wl_report(stdout, o, r);
	ret = o->check && r->worst_ratio > 1.0 ? 1 : 0;
	free(r);
	return rep_stdout_done(prog, ret);
}
