// SPDX-License-Identifier: MIT
/*
 * jobs_user_memory: attention jobs at the job level, on the caller's own
 * memory, with completions collected by an event loop.
 *
 * What it shows:
 *  - spatten_bo_import(): page-aligned memory the program allocated made
 *    a buffer without a copy: the inputs in memory from aligned_alloc(),
 *    the outputs in an anonymous mmap(); the board reads and writes them
 *    in place (the driver pins the pages; the simulation uses them as
 *    they are);
 *  - spatten_frac_for_range() and spatten_quantize_s16(): float Q, K and
 *    V into the board's 16-bit fixed point, each tensor with the most
 *    fractional bits that hold it;
 *  - descriptor version 3 (spatten_attn_prep3()): six jobs of different
 *    shapes, grouped-query attention among them (8 query heads over 8, 4,
 *    2 or 1 KV heads), causal ones ending a sequence (a prefill chunk:
 *    q_start > 0);
 *  - spatten_submit3() of three jobs, then the other three after the
 *    first completions: the completions are collected with poll() on
 *    spatten_fd() and spatten_reap(), which reaps whichever jobs are done
 *    without naming them (user_data says which job each is).
 *
 * What it checks (exit 1 if any fails):
 *  - every job completes with SPATTEN_HW_OK, exactly once;
 *  - every output, read where the board wrote it (the mmap()ed memory),
 *    against attention computed here in double precision from the same
 *    fixed-point values, within the board's documented bound
 *    (docs/engine.md: per key 2^-16 + 4e-7 of max |V|, plus 1e-6 of it,
 *    plus half an output LSB);
 *  - spatten_fd() is not readable once every completion is reaped.
 *
 * Run it with SPATTEN_BACKEND=sim on any machine, or on a board as is.
 */
#define _DEFAULT_SOURCE		/* MAP_ANONYMOUS */
#include <errno.h>
#include <math.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <libspatten.h>

#define PROG	"jobs_user_memory"

enum { JOBS = 6, FIRST_BATCH = 3, HEADS = 8, D = 64, Q_ROWS = 16 };

/* A failed library call: what, the errno and the library's reason. */
static void fail(const char *what, int err)
{
	const char *why = spatten_last_error();

	fprintf(stderr, "%s: %s: %s%s%s\n", PROG, what, strerror(-err),
		why ? ": " : "", why ? why : "");
}

static void sys_fail(const char *what, int err)
{
	fprintf(stderr, "%s: %s: %s\n", PROG, what, strerror(-err));
}

/* A fixed pseudo-random value in [-1, 1) for a key (splitmix64). */
static float noise(uint64_t key)
{
	key += 0x9e3779b97f4a7c15ull;
	key = (key ^ (key >> 30)) * 0xbf58476d1ce4e5b9ull;
	key = (key ^ (key >> 27)) * 0x94d049bb133111ebull;
	key ^= key >> 31;
	return (float)(key >> 40) / (float)(1u << 23) - 1.0f;
}

/* One job: its shape and where its tensors are. */
struct job {
	uint32_t kv_heads, kv_rows, q_start;
	int causal;
	size_t q, k, v;		/* byte offsets in the input memory */
	size_t out;		/* byte offset in the output memory */
	uint8_t q_frac, k_frac, v_frac, out_frac;
	int done;
};

static size_t align64(size_t x)
{
	return (x + 63) & ~(size_t)63;
}

static size_t round_up(size_t x, size_t to)
{
	return (x + to - 1) / to * to;
}

/* The shapes, and the tensors' places in the two memories. */
static void plan(struct job *jobs, size_t *in_bytes, size_t *out_bytes)
{
	static const uint32_t kv_heads[JOBS] = { 8, 4, 2, 1, 8, 2 };
	size_t in = 0, out = 0;
	unsigned int i;

	for (i = 0; i < JOBS; i++) {
		struct job *j = &jobs[i];

		j->kv_heads = kv_heads[i];
		j->kv_rows = 64 + 32 * i;
		j->causal = i % 2;
		/* causal: the last Q_ROWS tokens of the sequence */
		j->q_start = j->causal ? j->kv_rows - Q_ROWS : 0;
		j->q = in;
		in = align64(in + (size_t)HEADS * Q_ROWS * D * 2);
		j->k = in;
		in = align64(in + (size_t)j->kv_heads * j->kv_rows * D * 2);
		j->v = in;
		in = align64(in + (size_t)j->kv_heads * j->kv_rows * D * 2);
		j->out = out;
		out = align64(out + (size_t)HEADS * Q_ROWS * D * 2);
	}
	*in_bytes = in;
	*out_bytes = out;
}

/*
 * @n floats of a tensor of job @i (@which: 0 Q, 1 K, 2 V) quantized to
 * @dst with the most fractional bits that hold them (*@frac).
 */
static int quantize(void *dst, unsigned int i, unsigned int which, size_t n,
		    float *tmp, uint8_t *frac)
{
	size_t e;
	long sat;
	int f;

	for (e = 0; e < n; e++)
		tmp[e] = (which == 2 ? 0.9f : 1.0f) *
			 noise(((uint64_t)i * 3 + which) << 32 | e);
	f = spatten_frac_for_range(spatten_max_abs(tmp, n));
	if (f < 0) {
		fail("spatten_frac_for_range", f);
		return f;
	}
	sat = spatten_quantize_s16(dst, tmp, n, (unsigned int)f);
	if (sat < 0) {
		fail("spatten_quantize_s16", (int)sat);
		return (int)sat;
	}
	if (sat) {
		fprintf(stderr, "%s: %ld values saturated\n", PROG, sat);
		return -ERANGE;
	}
	*frac = (uint8_t)f;
	return 0;
}

static int fill_inputs(struct job *jobs, unsigned char *in)
{
	size_t most = (size_t)HEADS * 256 * D, n;
	float *tmp = malloc(most * sizeof(*tmp));
	unsigned int i;
	int ret = 0;

	if (!tmp) {
		sys_fail("malloc", -ENOMEM);
		return -ENOMEM;
	}
	for (i = 0; i < JOBS && !ret; i++) {
		struct job *j = &jobs[i];

		n = (size_t)j->kv_heads * j->kv_rows * D;
		ret = quantize(in + j->q, i, 0, (size_t)HEADS * Q_ROWS * D,
			       tmp, &j->q_frac);
		if (!ret)
			ret = quantize(in + j->k, i, 1, n, tmp, &j->k_frac);
		if (!ret)
			ret = quantize(in + j->v, i, 2, n, tmp, &j->v_frac);
		/* the output is a weighted mean of V rows: V's range */
		j->out_frac = j->v_frac;
	}
	free(tmp);
	return ret;
}

/* What the jobs need: the two imported buffers. */
struct job3_ctx {
	struct job jobs[JOBS];
	struct spatten_bo *in, *out;
	struct spatten_job3 job3[JOBS];
};

/* Job @i as a version-3 job. */
static int prep(struct job3_ctx *ctx, unsigned int i)
{
	const struct job *j = &ctx->jobs[i];
	struct spatten_attn_desc d;
	struct spatten_attn_ext e;

	memset(&d, 0, sizeof(d));
	memset(&e, 0, sizeof(e));
	d.n_heads = HEADS;
	d.head_dim = D;
	d.q_rows = Q_ROWS;
	d.kv_rows = j->kv_rows;
	d.q_start = j->q_start;
	d.stage = SPATTEN_STAGE_SUMMARIZATION;
	d.flags = j->causal ? SPATTEN_ATTN_CAUSAL : 0;
	d.q_frac = j->q_frac;
	d.k_frac = j->k_frac;
	d.v_frac = j->v_frac;
	d.out_frac = j->out_frac;
	d.q = (struct spatten_tensor_ref){ ctx->in, j->q };
	d.k = (struct spatten_tensor_ref){ ctx->in, j->k };
	d.v = (struct spatten_tensor_ref){ ctx->in, j->v };
	d.out = (struct spatten_tensor_ref){ ctx->out, j->out };
	d.user_data = i;
	e.n_kv_heads = j->kv_heads;	/* packed [kv_heads][kv_rows][D] */
	return spatten_attn_prep3(&ctx->job3[i], &d, &e);
}

/*
 * Job @i's output (in @out_mem, where the board wrote it) against
 * attention in double from the fixed-point inputs; the largest error
 * and the bound.
 */
static int check_output(const struct job *j, const unsigned char *in_mem,
			const unsigned char *out_mem, double *err,
			double *bound)
{
	size_t nq = (size_t)HEADS * Q_ROWS * D;
	size_t nkv = (size_t)j->kv_heads * j->kv_rows * D;
	float *q = malloc(nq * sizeof(*q)), *out = malloc(nq * sizeof(*out));
	float *k = malloc(nkv * sizeof(*k)), *v = malloc(nkv * sizeof(*v));
	double *p = malloc(j->kv_rows * sizeof(*p)), acc[D];
	double scale = 1.0 / sqrt(D), mv;
	uint32_t h, g, r, t, e, seen;
	int ret = -ENOMEM;

	*err = 0;
	if (!q || !out || !k || !v || !p) {
		sys_fail("malloc", ret);
		goto done;
	}
	ret = spatten_dequantize_s16(q, in_mem + j->q, nq, j->q_frac);
	if (!ret)
		ret = spatten_dequantize_s16(k, in_mem + j->k, nkv, j->k_frac);
	if (!ret)
		ret = spatten_dequantize_s16(v, in_mem + j->v, nkv, j->v_frac);
	if (!ret)
		ret = spatten_dequantize_s16(out, out_mem + j->out, nq,
					     j->out_frac);
	if (ret) {
		fail("spatten_dequantize_s16", ret);
		goto done;
	}
	mv = spatten_max_abs(v, nkv);
	*bound = (j->kv_rows * (1.0 / 65536 + 4e-7) + 1e-6) * mv +
		 0.5 / (1u << j->out_frac);
	for (h = 0; h < HEADS; h++) {
		g = h / (HEADS / j->kv_heads);	/* its KV head */
		for (r = 0; r < Q_ROWS; r++) {
			const float *qr = q + ((size_t)h * Q_ROWS + r) * D;
			double m = -INFINITY, sum = 0;

			seen = j->causal ? j->q_start + r + 1 : j->kv_rows;
			for (t = 0; t < seen; t++) {
				const float *kr = k + ((size_t)g * j->kv_rows +
						       t) * D;
				double s = 0;

				for (e = 0; e < D; e++)
					s += (double)qr[e] * kr[e];
				p[t] = s * scale;
				m = fmax(m, p[t]);
			}
			for (t = 0; t < seen; t++)
				sum += (p[t] = exp(p[t] - m));
			memset(acc, 0, sizeof(acc));
			for (t = 0; t < seen; t++)
				for (e = 0; e < D; e++)
					acc[e] += p[t] / sum *
						  v[((size_t)g * j->kv_rows +
						     t) * D + e];
			for (e = 0; e < D; e++)
				*err = fmax(*err, fabs(out[((size_t)h *
							    Q_ROWS + r) * D +
							   e] - acc[e]));
		}
	}
done:
	free(q);
	free(out);
	free(k);
	free(v);
	free(p);
	return ret;
}

/* A completion: is it a job of ours, done once, right? 0 if so. */
static int completed(struct job3_ctx *ctx, const struct spatten_wait *w,
		     const unsigned char *in_mem,
		     const unsigned char *out_mem)
{
	struct job *j;
	double err, bound;
	int ret;

	if (w->user_data >= JOBS || ctx->jobs[w->user_data].done) {
		fprintf(stderr, "%s: unexpected completion (seqno %llu, "
			"user_data %llu)\n", PROG,
			(unsigned long long)w->seqno,
			(unsigned long long)w->user_data);
		return 1;
	}
	j = &ctx->jobs[w->user_data];
	j->done = 1;
	if (w->status != SPATTEN_HW_OK) {
		fprintf(stderr, "%s: job %llu failed: %s\n", PROG,
			(unsigned long long)w->user_data,
			spatten_status_str(w->status));
		return 1;
	}
	ret = check_output(j, in_mem, out_mem, &err, &bound);
	if (ret)
		return 1;
	printf("%3llu  %3u/%-2u  %2ux%-3u  %-6s  %7llu  %7llu  %6llu  "
	       "%.1e (%.1e)\n",
	       (unsigned long long)w->user_data, HEADS, j->kv_heads, Q_ROWS,
	       j->kv_rows, j->causal ? "causal" : "",
	       (unsigned long long)w->bytes_k_msb,
	       (unsigned long long)w->bytes_v, (unsigned long long)w->cycles,
	       err, bound);
	if (!(err <= bound)) {
		fprintf(stderr, "%s: job %llu is %.3g off, beyond %.3g\n",
			PROG, (unsigned long long)w->user_data, err, bound);
		return 1;
	}
	return 0;
}

int main(void)
{
	struct spatten_wait w[JOBS];
	struct spatten_dev *dev = NULL;
	struct job3_ctx *ctx;
	struct pollfd pfd;
	size_t in_bytes = 0, out_bytes = 0, page;
	unsigned char *in_mem = NULL, *out_mem = MAP_FAILED;
	unsigned int i, submitted = 0, reaped = 0;
	uint64_t seqno;
	int ret, n, bad = 0;

	ctx = calloc(1, sizeof(*ctx));
	if (!ctx) {
		sys_fail("calloc", -ENOMEM);
		return 1;
	}
	ret = spatten_open(NULL, &dev);
	if (ret < 0) {
		fail("spatten_open", ret);
		goto out;
	}
	ret = spatten_probe(dev, SPATTEN_FEAT_DESC_V3 | SPATTEN_FEAT_GQA |
			    SPATTEN_FEAT_CAUSAL);
	if (ret < 0) {
		fail("spatten_probe", ret);
		goto out;
	}
	if (!ret) {
		fprintf(stderr, "%s: the board lacks version 3 jobs with "
			"grouped-query attention\n", PROG);
		ret = -EOPNOTSUPP;
		goto out;
	}
	ret = 0;

	/* the caller's memory: page-aligned, whole pages */
	page = (size_t)sysconf(_SC_PAGESIZE);
	plan(ctx->jobs, &in_bytes, &out_bytes);
	in_bytes = round_up(in_bytes, page);
	out_bytes = round_up(out_bytes, page);
	in_mem = aligned_alloc(page, in_bytes);
	if (!in_mem) {
		ret = -errno;
		sys_fail("aligned_alloc", ret);
		goto out;
	}
	out_mem = mmap(NULL, out_bytes, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (out_mem == MAP_FAILED) {
		ret = -errno;
		sys_fail("mmap", ret);
		goto out;
	}
	memset(in_mem, 0, in_bytes);
	ret = fill_inputs(ctx->jobs, in_mem);
	if (ret < 0)
		goto out;
	/* made buffers in place: no copy, the board uses this memory */
	ret = spatten_bo_import(dev, in_mem, in_bytes, &ctx->in);
	if (ret < 0) {
		fail("spatten_bo_import (aligned_alloc memory)", ret);
		goto out;
	}
	ret = spatten_bo_import(dev, out_mem, out_bytes, &ctx->out);
	if (ret < 0) {
		fail("spatten_bo_import (mmap memory)", ret);
		goto out;
	}
	for (i = 0; i < JOBS; i++) {
		ret = prep(ctx, i);
		if (ret < 0) {
			fail("spatten_attn_prep3", ret);
			goto out;
		}
	}
	printf("%u version-3 jobs on imported memory (%zu + %zu bytes), "
	       "D = %u\n\n", JOBS, in_bytes, out_bytes, D);
	printf("job  heads   Q x KV  mask    K bytes  V bytes  cycles  "
	       "max error (bound)\n");

	ret = spatten_submit3(dev, ctx->job3, FIRST_BATCH, &seqno);
	if (ret < 0) {
		fail("spatten_submit3", ret);
		goto out;
	}
	submitted = FIRST_BATCH;

	/* the event loop: wait for the descriptor, reap what is done */
	pfd.fd = spatten_fd(dev);
	if (pfd.fd < 0) {
		ret = pfd.fd;
		fail("spatten_fd", ret);
		goto out;
	}
	pfd.events = POLLIN;
	while (reaped < JOBS) {
		n = poll(&pfd, 1, 10000);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			ret = n ? -errno : -ETIME;
			sys_fail(n ? "poll" : "poll: no completion in 10 s",
				 ret);
			goto out;
		}
		if (pfd.revents & (POLLERR | POLLHUP)) {
			ret = -ENODEV;
			sys_fail("poll: the board went away", ret);
			goto out;
		}
		n = spatten_reap(dev, w, JOBS, 0, 0);
		if (n < 0) {
			ret = n;
			fail("spatten_reap", ret);
			goto out;
		}
		printf("-- poll(): readable, spatten_reap(): %d done\n", n);
		for (i = 0; i < (unsigned int)n; i++)
			bad |= completed(ctx, &w[i], in_mem, out_mem);
		reaped += (unsigned int)n;
		/* the rest, once the first completions are in */
		if (submitted < JOBS) {
			ret = spatten_submit3(dev, ctx->job3 + submitted,
					      JOBS - submitted, &seqno);
			if (ret < 0) {
				fail("spatten_submit3", ret);
				goto out;
			}
			submitted = JOBS;
		}
	}

	/* every completion reaped: nothing left to read */
	n = poll(&pfd, 1, 0);
	if (n < 0) {
		ret = -errno;
		sys_fail("poll", ret);
		goto out;
	}
	if (n) {
		fprintf(stderr, "%s: spatten_fd() readable with nothing to "
			"reap\n", PROG);
		bad = 1;
	}
out:
	/* buffers first: the memory must outlive them */
	spatten_bo_free(ctx->in);
	spatten_bo_free(ctx->out);
	spatten_close(dev);
	if (out_mem != MAP_FAILED)
		munmap(out_mem, out_bytes);
	free(in_mem);
	free(ctx);
	if (!ret && !bad)
		printf("PASS\n");
	return ret || bad ? 1 : 0;
}
