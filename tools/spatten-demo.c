// SPDX-License-Identifier: MIT
/*
 * spatten-demo: run a built-in attention workload on a SpAtten board and
 * check it against a double-precision reference.
 *
 * Workloads (GPT-2-small / BERT-base shapes: 12 heads, D = 64), with inputs
 * from a fixed-seed generator:
 *   1. BERT-base encoder layer, summarization, L = 128, non-causal
 *   2. GPT-2-small prompt, summarization, L = 128, causal
 *   3. GPT-2-small generation step, one query over a 256-token KV cache
 * Each is quantized to SPATTEN_FMT_S16, run on the device, and compared
 * with softmax(QK^T / sqrt(D)) V computed in double on the same (dequantized)
 * inputs. Exit status: 0 when every error is within the tolerance, 1
 * otherwise (or on a device error), 2 on a usage error.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "libspatten.h"

#if SPATTEN_DEMO_ENGINE
#include "spe.h"
#endif

#define DEFAULT_SEED	0x5ba77e4ull

struct workload {
	const char *name;
	uint32_t n_heads;
	uint32_t head_dim;
	uint32_t q_rows;
	uint32_t kv_rows;
	uint32_t q_start;
	uint32_t stage;
	uint32_t flags;
	float q_scale;		/* std of Q: sharpens the softmax */
};

static const struct workload workloads[] = {
	{ "BERT-base encoder layer (summarization, L=128)",
	  12, 64, 128, 128, 0, SPATTEN_STAGE_SUMMARIZATION, 0, 1.5f },
	{ "GPT-2-small prompt (summarization, L=128, causal)",
	  12, 64, 128, 128, 0, SPATTEN_STAGE_SUMMARIZATION,
	  SPATTEN_ATTN_CAUSAL, 2.0f },
	{ "GPT-2-small generation step (1 query, KV cache 256)",
	  12, 64, 1, 256, 255, SPATTEN_STAGE_GENERATION,
	  SPATTEN_ATTN_CAUSAL, 2.0f },
};

#define N_WORKLOADS (sizeof(workloads) / sizeof(workloads[0]))

/* Host copies of one workload's operands, dequantized. */
struct operands {
	size_t nq, nkv;		/* elements of Q (= out) and of K (= V) */
	float *q, *k, *v;	/* dequantized inputs */
	float *out;		/* device output, dequantized */
	double *ref;		/* reference output */
};

/* ---- deterministic inputs ----------------------------------------------- */

static uint64_t rng_state;

static uint64_t rng_next(void)
{
	/* xorshift64* */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dull;
}

static double rng_uniform(void)
{
	return ((double)(rng_next() >> 11) + 0.5) / 9007199254740992.0;
}

static float rng_normal(void)
{
	double u = rng_uniform(), v = rng_uniform();

	return (float)(sqrt(-2.0 * log(u)) * cos(2.0 * M_PI * v));
}

static void fill_normal(float *x, size_t n, float scale)
{
	size_t i;

	for (i = 0; i < n; i++)
		x[i] = scale * rng_normal();
}

/* ---- reference ---------------------------------------------------------- */

static uint32_t visible_keys(const struct workload *w, uint32_t row)
{
	uint32_t n;

	if (!(w->flags & SPATTEN_ATTN_CAUSAL))
		return w->kv_rows;
	n = w->q_start + row + 1;
	return n < w->kv_rows ? n : w->kv_rows;
}

static void reference_row(const struct workload *w, const float *q,
			  const float *k, const float *v, double *out,
			  uint32_t n_keys, double *score)
{
	double scale = 1.0 / sqrt((double)w->head_dim), max = -INFINITY;
	double sum = 0;
	uint32_t j, d;

	for (j = 0; j < n_keys; j++) {
		double s = 0;

		for (d = 0; d < w->head_dim; d++)
			s += (double)q[d] * k[(size_t)j * w->head_dim + d];
		score[j] = s * scale;
		if (score[j] > max)
			max = score[j];
	}
	for (j = 0; j < n_keys; j++) {
		score[j] = exp(score[j] - max);
		sum += score[j];
	}
	for (d = 0; d < w->head_dim; d++)
		out[d] = 0;
	for (j = 0; j < n_keys; j++) {
		double p = score[j] / sum;

		for (d = 0; d < w->head_dim; d++)
			out[d] += p * v[(size_t)j * w->head_dim + d];
	}
}

static int reference(const struct workload *w, struct operands *op)
{
	size_t qh = (size_t)w->q_rows * w->head_dim;
	size_t kh = (size_t)w->kv_rows * w->head_dim;
	double *score = malloc(sizeof(*score) * w->kv_rows);
	uint32_t h, i;

	if (!score)
		return -ENOMEM;
	for (h = 0; h < w->n_heads; h++) {
		for (i = 0; i < w->q_rows; i++) {
			size_t row = h * qh + (size_t)i * w->head_dim;

			reference_row(w, op->q + row, op->k + h * kh,
				      op->v + h * kh, op->ref + row,
				      visible_keys(w, i), score);
		}
	}
	free(score);
	return 0;
}

/* ---- tolerance ---------------------------------------------------------- */

#if SPATTEN_DEMO_ENGINE
static double tolerance(const struct workload *w, const struct spatten_job *j,
			double max_abs_v)
{
	struct spe_job sj;

	memset(&sj, 0, sizeof(sj));
	sj.opcode = j->opcode;
	sj.stage = j->stage;
	sj.flags = (uint16_t)j->flags;
	sj.n_heads = w->n_heads;
	sj.head_dim = w->head_dim;
	sj.q_rows = w->q_rows;
	sj.kv_rows = w->kv_rows;
	sj.q_start = w->q_start;
	sj.q_frac = j->q_frac;
	sj.k_frac = j->k_frac;
	sj.v_frac = j->v_frac;
	sj.out_frac = j->out_frac;
	return spe_out_tolerance(&sj, max_abs_v);
}
#else
/*
 * Built without the engine: the same bound as spe_out_tolerance()
 * (docs/engine.md): probability rounding accumulated over kv_rows terms,
 * plus half an output LSB.
 */
static double tolerance(const struct workload *w, const struct spatten_job *j,
			double max_abs_v)
{
	return (w->kv_rows * (ldexp(1.0, -16) + 4e-7) + 1e-6) * max_abs_v +
	       ldexp(1.0, -(j->out_frac + 1));
}
#endif

/* ---- one workload -------------------------------------------------------- */

static void operands_free(struct operands *op)
{
	free(op->q);
	free(op->k);
	free(op->v);
	free(op->out);
	free(op->ref);
}

static int operands_alloc(const struct workload *w, struct operands *op)
{
	memset(op, 0, sizeof(*op));
	op->nq = (size_t)w->n_heads * w->q_rows * w->head_dim;
	op->nkv = (size_t)w->n_heads * w->kv_rows * w->head_dim;
	op->q = malloc(op->nq * sizeof(float));
	op->k = malloc(op->nkv * sizeof(float));
	op->v = malloc(op->nkv * sizeof(float));
	op->out = malloc(op->nq * sizeof(float));
	op->ref = malloc(op->nq * sizeof(double));
	if (op->q && op->k && op->v && op->out && op->ref)
		return 0;
	operands_free(op);
	return -ENOMEM;
}

/*
 * Quantize @x (n floats) into the buffer at @off; @x becomes what the
 * device sees. Returns the fractional bits used.
 */
static int load_tensor(struct spatten_bo *bo, uint64_t off, float *x, size_t n)
{
	char *dst = (char *)spatten_bo_map(bo) + off;
	int frac = spatten_frac_for_range(spatten_max_abs(x, n));

	if (frac < 0)
		return frac;
	spatten_quantize_s16(dst, x, n, (unsigned int)frac);
	spatten_dequantize_s16(x, dst, n, (unsigned int)frac);
	return frac;
}

static int load_inputs(const struct workload *w, struct spatten_attn_desc *d,
		       struct operands *op)
{
	int qf, kf, vf;

	fill_normal(op->q, op->nq, w->q_scale);
	fill_normal(op->k, op->nkv, 1.0f);
	fill_normal(op->v, op->nkv, 1.0f);
	qf = load_tensor(d->q.bo, d->q.offset, op->q, op->nq);
	kf = load_tensor(d->k.bo, d->k.offset, op->k, op->nkv);
	vf = load_tensor(d->v.bo, d->v.offset, op->v, op->nkv);
	if (qf < 0 || kf < 0 || vf < 0)
		return -ERANGE;
	d->q_frac = (uint8_t)qf;
	d->k_frac = (uint8_t)kf;
	d->v_frac = (uint8_t)vf;
	/* Each output is a convex combination of V rows: V's range fits. */
	d->out_frac = (uint8_t)vf;
	return 0;
}

static double max_error(const struct operands *op)
{
	double m = 0;
	size_t i;

	for (i = 0; i < op->nq; i++) {
		double e = fabs((double)op->out[i] - op->ref[i]);

		if (e > m)
			m = e;
	}
	return m;
}

static const char *stage_name(uint32_t stage)
{
	return stage == SPATTEN_STAGE_GENERATION ? "generation" :
	       "summarization";
}

static void print_job(const struct workload *w, const struct spatten_job *j)
{
	printf("      shape     %u heads x %u query x %u key rows x D=%u, "
	       "q_start %u, %s, %s\n", w->n_heads, w->q_rows, w->kv_rows,
	       w->head_dim, w->q_start, stage_name(w->stage),
	       w->flags & SPATTEN_ATTN_CAUSAL ? "causal" : "non-causal");
	printf("      formats   Q s16.%u  K s16.%u  V s16.%u  out s16.%u\n",
	       j->q_frac, j->k_frac, j->v_frac, j->out_frac);
}

static void print_result(const struct spatten_result *r, int64_t ns)
{
	printf("      time      %.1f us (submit + wait)\n",
	       ns / 1e3);
	printf("      traffic   Q %" PRIu64 " B, K msb %" PRIu64 " B, K lsb %"
	       PRIu64 " B, V %" PRIu64 " B, written %" PRIu64 " B\n",
	       r->bytes_q, r->bytes_k_msb, r->bytes_k_lsb, r->bytes_v,
	       r->bytes_written);
	printf("      cycles    %" PRIu64 " modeled (%.2f us at 1 GHz)\n",
	       r->cycles, r->cycles / 1e3);
}

static int check_caps(const struct workload *w, const struct spatten_info *in)
{
	if (w->n_heads > in->max_heads || w->kv_rows > in->max_context ||
	    w->head_dim >= 32768 || !(in->head_dims & w->head_dim)) {
		printf("      FAIL: the board does not support this shape\n");
		return -EOPNOTSUPP;
	}
	return 0;
}

/* Run workload @w on the device; 0 when within tolerance. */
static int run_on_device(struct spatten_dev *dev, const struct workload *w,
			 struct spatten_bo *bo, struct operands *op)
{
	struct spatten_attn_desc d;
	struct spatten_result res;
	struct spatten_job job;
	int64_t t0, t1;
	double err, tol;
	int ret;

	spatten_attn_desc_init(&d, bo, w->n_heads, w->head_dim, w->q_rows,
			       w->kv_rows);
	d.q_start = w->q_start;
	d.stage = w->stage;
	d.flags = w->flags;
	d.user_data = (uintptr_t)w;
	ret = load_inputs(w, &d, op);
	if (!ret)
		ret = spatten_attn_prep(&job, &d);
	if (ret) {
		printf("      FAIL: cannot build the job: %s\n", strerror(-ret));
		return ret;
	}
	print_job(w, &job);

	t0 = spatten_now_ns();
	ret = spatten_run(dev, &job, &res);
	t1 = spatten_now_ns();
	if (ret == -EIO) {
		printf("      FAIL: device status %u (%s)\n", res.status,
		       spatten_status_str(res.status));
		return ret;
	}
	if (ret) {
		printf("      FAIL: run: %s\n", strerror(-ret));
		return ret;
	}

	spatten_dequantize_s16(op->out, (char *)spatten_bo_map(bo) +
			       d.out.offset, op->nq, d.out_frac);
	ret = reference(w, op);
	if (ret)
		return ret;
	err = max_error(op);
	tol = tolerance(w, &job, spatten_max_abs(op->v, op->nkv));
	printf("      accuracy  max |err| %.3e, tolerance %.3e: %s\n", err,
	       tol, err <= tol ? "PASS" : "FAIL");
	print_result(&res, t1 - t0);
	return err <= tol ? 0 : -EDOM;
}

static int run_workload(struct spatten_dev *dev, const struct workload *w,
			const struct spatten_info *info)
{
	struct spatten_bo *bo;
	struct operands op;
	uint64_t size;
	int ret;

	ret = check_caps(w, info);
	if (ret)
		return ret;
	ret = operands_alloc(w, &op);
	if (ret) {
		printf("      FAIL: out of memory\n");
		return ret;
	}
	size = spatten_attn_desc_bytes(w->n_heads, w->head_dim, w->q_rows,
				       w->kv_rows);
	ret = spatten_bo_alloc(dev, size, &bo);
	if (ret) {
		printf("      FAIL: buffer allocation: %s\n", strerror(-ret));
		operands_free(&op);
		return ret;
	}
	ret = run_on_device(dev, w, bo, &op);
	spatten_bo_free(bo);
	operands_free(&op);
	return ret;
}

/* ---- report -------------------------------------------------------------- */

static const char *format_name(int fmt)
{
	return fmt == SPATTEN_FMT_S16 ? "s16" : "?";
}

/* Bits of @mask as head dims (1 << bit) or element format names. */
static void print_list(uint32_t mask, int dims)
{
	const char *sep = "";
	int b;

	for (b = 0; b < 32; b++) {
		if (!(mask & (1u << b)))
			continue;
		if (dims)
			printf("%s%u", sep, 1u << b);
		else
			printf("%s%s", sep, format_name(b));
		sep = ",";
	}
	if (!*sep)
		printf("none");
}

static void print_info(const char *path, const struct spatten_info *in)
{
	printf("device    %s: PCI %04x:%04x, hardware %u.%u, API %u\n", path,
	       in->vendor_id, in->device_id, in->hw_version >> 16,
	       in->hw_version & 0xffff, in->api_version);
	printf("          %u engine(s), %u queue(s) x %u entries, DMA %u bits\n",
	       in->num_engines, in->num_queues, in->queue_depth, in->dma_bits);
	printf("          max context %u, max heads %u, head dims ",
	       in->max_context, in->max_heads);
	print_list(in->head_dims, 1);
	printf(", formats ");
	print_list(in->formats, 0);
	printf("\n          features%s%s%s%s, max buffer %" PRIu64 " KiB\n",
	       in->features & SPATTEN_FEAT_CAUSAL ? " causal" : "",
	       in->features & SPATTEN_FEAT_GENERATION ? " generation" : "",
	       in->features & SPATTEN_FEAT_PAGE_LIST ? " page-list" : "",
	       in->features & SPATTEN_FEAT_INTX ? " intx" : "",
	       (uint64_t)in->max_bo_size >> 10);
}

static const char *const counter_names[SPATTEN_CNT_NUM] = {
	[SPATTEN_CNT_JOBS_OK] = "jobs ok",
	[SPATTEN_CNT_JOBS_ERR] = "jobs failed",
	[SPATTEN_CNT_BYTES_Q] = "bytes Q",
	[SPATTEN_CNT_BYTES_K_MSB] = "bytes K msb",
	[SPATTEN_CNT_BYTES_K_LSB] = "bytes K lsb",
	[SPATTEN_CNT_BYTES_V] = "bytes V",
	[SPATTEN_CNT_BYTES_WRITTEN] = "bytes written",
	[SPATTEN_CNT_LSB_REFETCHES] = "LSB refetches",
	[SPATTEN_CNT_CYCLES] = "cycles",
};

static void print_counters(const struct spatten_counters *a,
			   const struct spatten_counters *b)
{
	unsigned int i, n = b->num < SPATTEN_CNT_NUM ? b->num : SPATTEN_CNT_NUM;

	printf("counters  %-14s %16s %16s %14s\n", "", "before", "after",
	       "delta");
	for (i = 0; i < n; i++)
		printf("          %-14s %16" PRIu64 " %16" PRIu64 " %14" PRIu64
		       "\n", counter_names[i], (uint64_t)a->value[i],
		       (uint64_t)b->value[i],
		       (uint64_t)(b->value[i] - a->value[i]));
}

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: spatten-demo [-d DEVICE] [-s SEED]\n"
		"Run a built-in GPT-2-small / BERT-base attention workload on a\n"
		"SpAtten board and check it against a double-precision reference.\n"
		"\n"
		"  -d, --device PATH  device node (default %s)\n"
		"  -s, --seed N       input generator seed (default %#llx)\n"
		"  -h, --help         show this help\n"
		"\n"
		"Exit status: 0 all results within tolerance, 1 an error or a\n"
		"result outside tolerance, 2 usage error.\n",
		SPATTEN_DEFAULT_PATH, (unsigned long long)DEFAULT_SEED);
}

static int parse_args(int argc, char **argv, const char **path,
		      uint64_t *seed)
{
	static const struct option opts[] = {
		{ "device", required_argument, NULL, 'd' },
		{ "seed", required_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	char *end;
	int c;

	while ((c = getopt_long(argc, argv, "d:s:h", opts, NULL)) != -1) {
		switch (c) {
		case 'd':
			*path = optarg;
			break;
		case 's':
			errno = 0;
			*seed = strtoull(optarg, &end, 0);
			if (errno || *end || end == optarg) {
				fprintf(stderr, "spatten-demo: bad seed '%s'\n",
					optarg);
				return 2;
			}
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "spatten-demo: unexpected argument '%s'\n",
			argv[optind]);
		usage(stderr);
		return 2;
	}
	return -1;
}

static int run_all(struct spatten_dev *dev, const struct spatten_info *info)
{
	unsigned int i, passed = 0;

	for (i = 0; i < N_WORKLOADS; i++) {
		printf("[%u/%zu] %s\n", i + 1, N_WORKLOADS, workloads[i].name);
		if (!run_workload(dev, &workloads[i], info))
			passed++;
	}
	printf("result    %u of %zu workloads within tolerance\n", passed,
	       N_WORKLOADS);
	return passed == N_WORKLOADS ? 0 : 1;
}

int main(int argc, char **argv)
{
	const char *path = SPATTEN_DEFAULT_PATH;
	struct spatten_counters before, after;
	struct spatten_info info;
	struct spatten_dev *dev;
	uint64_t seed = DEFAULT_SEED;
	int ret;

	ret = parse_args(argc, argv, &path, &seed);
	if (ret >= 0)
		return ret;
	rng_state = seed ? seed : DEFAULT_SEED;
	setvbuf(stdout, NULL, _IOLBF, 0);

	ret = spatten_open(path, &dev);
	if (ret) {
		fprintf(stderr, "spatten-demo: %s: %s\n", path, strerror(-ret));
		return 1;
	}
	ret = spatten_get_info(dev, &info);
	if (!ret)
		ret = spatten_get_counters(dev, &before);
	if (ret) {
		fprintf(stderr, "spatten-demo: %s: %s\n", path, strerror(-ret));
		spatten_close(dev);
		return 1;
	}
	print_info(path, &info);
	printf("inputs    seed %#" PRIx64 ", N(0,1) K and V, tolerance per "
	       "docs/engine.md%s\n", rng_state,
	       SPATTEN_DEMO_ENGINE ? " (spe_out_tolerance)" : "");

	ret = run_all(dev, &info);
	if (spatten_get_counters(dev, &after) == 0)
		print_counters(&before, &after);
	spatten_close(dev);
	return ret;
}
