// SPDX-License-Identifier: MIT
/*
 * batched_submit: a batch of 64 independent decode steps (64 sequences,
 * one layer each: 8 heads, D = 64, one new token over its own context of
 * 64 to 316 tokens, every other one with local value pruning) queued in
 * one spatten_submit3() call, then waited for one by one with
 * spatten_wait(); the same jobs then run one at a time with
 * spatten_run3().
 *
 * What it shows:
 *  - spatten_submit3() of SPATTEN_MAX_SUBMIT jobs at once: one call (one
 *    ioctl on a board) for the whole batch, all or nothing; job i has
 *    sequence number seqno + i, and spatten_wait() reaps each by it;
 *  - what batching saves per job, against spatten_run3() (a submit and a
 *    wait per job), timed with spatten_now_ns(), best of 3. On a board a
 *    batch is one ioctl instead of 64 and the jobs queue on the device;
 *    the simulation runs the jobs inside the submit call, so there the
 *    two cost about the same.
 *
 * What it checks (exit 1 if any fails):
 *  - every job completes with SPATTEN_HW_OK and its own user_data;
 *  - batched and one at a time give identical bytes of every output and
 *    identical results (cycles, bytes read per plane, LSB refetches): the
 *    jobs are independent, and the board is deterministic. The two output
 *    buffers start with different byte patterns, so equal bytes also
 *    mean every byte was written.
 *
 * Run it with SPATTEN_BACKEND=sim on any machine, or on a board as is.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libspatten.h>

#define PROG	"batched_submit"

enum { JOBS = SPATTEN_MAX_SUBMIT, HEADS = 8, D = 64, REPS = 3, FRAC = 12 };

/* A failed library call: what, the errno and the library's reason. */
static void fail(const char *what, int err)
{
	const char *why = spatten_last_error();

	fprintf(stderr, "%s: %s: %s%s%s\n", PROG, what, strerror(-err),
		why ? ": " : "", why ? why : "");
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

/* Sequence @i's context: the new token is its last. */
static uint32_t context(unsigned int i)
{
	return 64 + 4 * i;
}

struct place {
	uint64_t q, k, v, out;	/* byte offsets: inputs, outputs */
};

/* Where each job's tensors go; the bytes of inputs and of outputs. */
static void plan(struct place *pl, uint64_t *in, uint64_t *out)
{
	unsigned int i;

	*in = *out = 0;
	for (i = 0; i < JOBS; i++) {
		pl[i].q = *in;
		*in += spatten_tensor_bytes(HEADS, 1, D);
		pl[i].k = *in;
		*in += spatten_tensor_bytes(HEADS, context(i), D);
		pl[i].v = *in;
		*in += spatten_tensor_bytes(HEADS, context(i), D);
		pl[i].out = *out;
		*out += spatten_tensor_bytes(HEADS, 1, D);
	}
}

/* Random Q, K and V of every job, quantized with FRAC fractional bits. */
static int fill(unsigned char *in, uint64_t bytes)
{
	uint64_t n = bytes / 2, i, chunk = 4096;
	float x[4096];
	long sat;

	for (i = 0; i < n; i += chunk) {
		uint64_t m = n - i < chunk ? n - i : chunk, e;

		for (e = 0; e < m; e++)
			x[e] = noise(i + e);
		sat = spatten_quantize_s16(in + 2 * i, x, m, FRAC);
		if (sat < 0) {
			fail("spatten_quantize_s16", (int)sat);
			return (int)sat;
		}
	}
	return 0;
}

/* The 64 decode steps, writing their outputs into @out. */
static int prep_all(struct spatten_job3 *jobs, const struct place *pl,
		    struct spatten_bo *in, struct spatten_bo *out)
{
	struct spatten_attn_desc d;
	unsigned int i;
	int ret;

	for (i = 0; i < JOBS; i++) {
		uint32_t L = context(i);

		memset(&d, 0, sizeof(d));
		d.n_heads = HEADS;
		d.head_dim = D;
		d.q_rows = 1;
		d.kv_rows = L;
		d.q_start = L - 1;
		d.stage = SPATTEN_STAGE_GENERATION;
		d.flags = SPATTEN_ATTN_CAUSAL;
		d.q_frac = d.k_frac = d.v_frac = d.out_frac = FRAC;
		d.q = (struct spatten_tensor_ref){ in, pl[i].q };
		d.k = (struct spatten_tensor_ref){ in, pl[i].k };
		d.v = (struct spatten_tensor_ref){ in, pl[i].v };
		d.out = (struct spatten_tensor_ref){ out, pl[i].out };
		/* odd jobs: the V rows of the 25% largest probabilities */
		d.value_keep = i % 2 ? L / 4 : 0;
		d.user_data = i;
		ret = spatten_attn_prep3(&jobs[i], &d, NULL);
		if (ret < 0) {
			fail("spatten_attn_prep3", ret);
			return ret;
		}
	}
	return 0;
}

/* Every job in one submit, then a wait for each; nanoseconds in *@ns. */
static int run_batched(struct spatten_dev *dev,
		       const struct spatten_job3 *jobs,
		       struct spatten_result *res, int64_t *ns)
{
	int64_t t0 = spatten_now_ns();
	uint64_t seqno;
	unsigned int i;
	int ret;

	ret = spatten_submit3(dev, jobs, JOBS, &seqno);
	if (ret < 0) {
		fail("spatten_submit3", ret);
		return ret;
	}
	for (i = 0; i < JOBS; i++) {
		ret = spatten_wait(dev, seqno + i, SPATTEN_WAIT_FOREVER,
				   &res[i]);
		if (ret < 0) {
			fail("spatten_wait", ret);
			return ret;
		}
	}
	*ns = spatten_now_ns() - t0;
	return 0;
}

/* One job at a time: submit, wait, next. */
static int run_single(struct spatten_dev *dev,
		      const struct spatten_job3 *jobs,
		      struct spatten_result *res, int64_t *ns)
{
	int64_t t0 = spatten_now_ns();
	unsigned int i;
	int ret;

	for (i = 0; i < JOBS; i++) {
		ret = spatten_run3(dev, &jobs[i], &res[i]);
		if (ret < 0) {
			fail("spatten_run3", ret);
			if (ret == -EIO)
				fprintf(stderr, "%s: job %u: %s\n", PROG, i,
					spatten_status_str(res[i].status));
			return ret;
		}
	}
	*ns = spatten_now_ns() - t0;
	return 0;
}

/* The two runs agree, job by job? 0 if they do. */
static int compare(const struct spatten_result *a,
		   const struct spatten_result *b, const unsigned char *oa,
		   const unsigned char *ob, const struct place *pl,
		   uint64_t *cycles)
{
	size_t row = (size_t)spatten_tensor_bytes(HEADS, 1, D);
	unsigned int i;
	int bad = 0;

	*cycles = 0;
	for (i = 0; i < JOBS; i++) {
		*cycles += a[i].cycles;
		if (a[i].status != SPATTEN_HW_OK || a[i].user_data != i) {
			fprintf(stderr, "%s: batched job %u: %s, user_data "
				"%llu\n", PROG, i,
				spatten_status_str(a[i].status),
				(unsigned long long)a[i].user_data);
			bad = 1;
		}
		if (a[i].status != b[i].status || a[i].cycles != b[i].cycles ||
		    a[i].bytes_q != b[i].bytes_q ||
		    a[i].bytes_k_msb != b[i].bytes_k_msb ||
		    a[i].bytes_k_lsb != b[i].bytes_k_lsb ||
		    a[i].bytes_v != b[i].bytes_v ||
		    a[i].bytes_written != b[i].bytes_written ||
		    a[i].lsb_refetches != b[i].lsb_refetches) {
			fprintf(stderr, "%s: job %u: the results differ\n",
				PROG, i);
			bad = 1;
		}
		if (memcmp(oa + pl[i].out, ob + pl[i].out, row)) {
			fprintf(stderr, "%s: job %u: the outputs differ\n",
				PROG, i);
			bad = 1;
		}
	}
	return bad;
}

int main(void)
{
	static struct spatten_job3 batch_jobs[JOBS], single_jobs[JOBS];
	static struct spatten_result rb[JOBS], rs[JOBS];
	static struct place pl[JOBS];
	struct spatten_bo *in = NULL, *out_b = NULL, *out_s = NULL;
	struct spatten_dev *dev = NULL;
	int64_t ns, best_b = INT64_MAX, best_s = INT64_MAX;
	uint64_t in_bytes, out_bytes, cycles = 0;
	unsigned int rep;
	int ret, bad = 0;

	ret = spatten_open(NULL, &dev);
	if (ret < 0) {
		fail("spatten_open", ret);
		goto out;
	}
	plan(pl, &in_bytes, &out_bytes);
	ret = spatten_bo_alloc(dev, in_bytes, &in);
	if (!ret)
		ret = spatten_bo_alloc(dev, out_bytes, &out_b);
	if (!ret)
		ret = spatten_bo_alloc(dev, out_bytes, &out_s);
	if (ret < 0) {
		fail("spatten_bo_alloc", ret);
		goto out;
	}
	ret = fill(spatten_bo_map(in), in_bytes);
	if (ret < 0)
		goto out;
	/* different garbage in each: equal bytes later mean written bytes */
	memset(spatten_bo_map(out_b), 0xaa, out_bytes);
	memset(spatten_bo_map(out_s), 0x55, out_bytes);
	ret = prep_all(batch_jobs, pl, in, out_b);
	if (!ret)
		ret = prep_all(single_jobs, pl, in, out_s);
	if (ret < 0)
		goto out;

	for (rep = 0; rep < REPS; rep++) {
		ret = run_batched(dev, batch_jobs, rb, &ns);
		if (ret < 0)
			goto out;
		best_b = ns < best_b ? ns : best_b;
		ret = run_single(dev, single_jobs, rs, &ns);
		if (ret < 0)
			goto out;
		best_s = ns < best_s ? ns : best_s;
		bad |= compare(rb, rs, spatten_bo_map(out_b),
			       spatten_bo_map(out_s), pl, &cycles);
	}

	printf("%u decode steps: %u heads, D = %u, contexts %u..%u, %llu "
	       "bytes\nof Q, K and V; on the %s backend, best of %u:\n",
	       JOBS, HEADS, D, context(0), context(JOBS - 1),
	       (unsigned long long)in_bytes,
	       spatten_backend(dev) == SPATTEN_BACKEND_SIM ? "simulation" :
	       "device", REPS);
	printf("  one spatten_submit3() + %u spatten_wait(): %8.1f us "
	       "(%.2f us per job)\n", JOBS, (double)best_b / 1e3,
	       (double)best_b / 1e3 / JOBS);
	printf("  %u spatten_run3(), one at a time:        %8.1f us "
	       "(%.2f us per job)\n", JOBS, (double)best_s / 1e3,
	       (double)best_s / 1e3 / JOBS);
	printf("  modeled device time of the batch: %llu cycles (%.1f us at "
	       "1 GHz)\n", (unsigned long long)cycles, (double)cycles / 1e3);
	if (spatten_backend(dev) == SPATTEN_BACKEND_SIM)
		printf("  (the simulation runs each job inside the submit "
		       "call, so a batch saves\n  only library calls; on a "
		       "board it is one ioctl instead of %u, and the\n  "
		       "jobs queue on the device)\n", JOBS);
	printf("outputs and results of the two runs: %s\n",
	       bad ? "DIFFERENT" : "identical, byte for byte");
out:
	spatten_bo_free(in);
	spatten_bo_free(out_b);
	spatten_bo_free(out_s);
	spatten_close(dev);
	if (!ret && !bad)
		printf("PASS\n");
	return ret || bad ? 1 : 0;
}
