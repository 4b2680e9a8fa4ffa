/* SPDX-License-Identifier: MIT */
/*
 * The C side of bench_python.py: decode steps of a GPT-2-small-shaped
 * model's attention (12 layers x 12 heads x 64) through
 * spatten_session_attend(), timed per step (every layer, one token).
 *
 * The inputs are synthetic and defined by a formula that bench_python.py
 * evaluates too (synth() below), so both sides attend to the same values
 * in the same session and, with --dump, the last step's outputs can be
 * compared bit for bit.
 *
 *   c_decode [--layers N] [--heads N] [--head-dim N] [--prompt N]
 *            [--steps N] [--warmup N] [--prune] [--dump FILE]
 *
 * Prints one JSON line: the shape, the per-step times in microseconds,
 * their median. The backend is the simulation (SPATTEN_BACKEND_SIM).
 * Exit 0, 1 on a library error, 2 on bad arguments.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libspatten.h>

/*
 * Element i of the tensor salted @salt: a 32-bit integer hash of i (the
 * finalizer of "lowbias32"), its top 24 bits scaled to [-1, 1). Every
 * step is exact in float, so numpy computes the same values.
 */
static float synth(uint32_t i, uint32_t salt)
{
	uint32_t x = i * 0x9e3779b9u + salt * 0x85ebca6bu + 1u;

	x ^= x >> 16;
	x *= 0x7feb352du;
	x ^= x >> 15;
	x *= 0x846ca68bu;
	x ^= x >> 16;
	return (float)(x >> 8) * (1.0f / 8388608.0f) - 1.0f;
}

static void fill(float *x, size_t n, uint32_t salt)
{
	for (size_t i = 0; i < n; i++)
		x[i] = synth((uint32_t)i, salt);
}

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static int arg_uint(const char *s, unsigned int *v)
{
	char *end;
	unsigned long x;

	errno = 0;
	x = strtoul(s, &end, 10);
	if (errno || end == s || *end || x > 1000000ul)
		return -1;
	*v = (unsigned int)x;
	return 0;
}

static void usage(void)
{
	fprintf(stderr, "usage: c_decode [--layers N] [--heads N] "
		"[--head-dim N] [--prompt N] [--steps N] [--warmup N] "
		"[--prune] [--dump FILE]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	unsigned int L = 12, H = 12, D = 64, P = 128, steps = 64, warmup = 8;
	int prune = 0;
	const char *dump = NULL;
	struct spatten_session_opts o;
	struct spatten_session *s = NULL;
	struct spatten_dev *dev = NULL;
	float *qp, *kp, *vp, *q1, *k1, *v1, *outp, *out1;
	double *us;
	size_t np, n1;
	int ret = 0;

	for (int i = 1; i < argc; i++) {
		unsigned int *v = NULL;

		if (!strcmp(argv[i], "--prune")) {
			prune = 1;
			continue;
		}
		if (!strcmp(argv[i], "--dump") && i + 1 < argc) {
			dump = argv[++i];
			continue;
		}
		if (!strcmp(argv[i], "--layers"))
			v = &L;
		else if (!strcmp(argv[i], "--heads"))
			v = &H;
		else if (!strcmp(argv[i], "--head-dim"))
			v = &D;
		else if (!strcmp(argv[i], "--prompt"))
			v = &P;
		else if (!strcmp(argv[i], "--steps"))
			v = &steps;
		else if (!strcmp(argv[i], "--warmup"))
			v = &warmup;
		if (!v || i + 1 >= argc || arg_uint(argv[++i], v))
			usage();
	}
	if (!L || !H || !D || !P || !steps)
		usage();

	/* per layer: the prompt's [H][P][D], one token's [H][1][D] */
	np = (size_t)L * H * P * D;
	n1 = (size_t)L * H * D;
	qp = malloc(np * sizeof(float));
	kp = malloc(np * sizeof(float));
	vp = malloc(np * sizeof(float));
	outp = malloc(np * sizeof(float));
	q1 = malloc(n1 * sizeof(float));
	k1 = malloc(n1 * sizeof(float));
	v1 = malloc(n1 * sizeof(float));
	out1 = malloc(n1 * sizeof(float));
	us = malloc(steps * sizeof(double));
	if (!qp || !kp || !vp || !outp || !q1 || !k1 || !v1 || !out1 || !us) {
		fprintf(stderr, "c_decode: out of memory\n");
		return 1;
	}
	fill(qp, np, 1);
	fill(kp, np, 2);
	fill(vp, np, 3);
	fill(q1, n1, 4);
	fill(k1, n1, 5);
	fill(v1, n1, 6);

	spatten_session_opts_init(&o, SPATTEN_SESSION_DECODER, L, H, H, D,
				  P + warmup + steps);
	if (prune) {
		/* lib/README.md's GPT-2 session: tokens 0.9 -> 0.1, heads
		 * 1.0 -> 0.75, values 20%, keys 8 MSBs + 4 LSBs */
		ret = spatten_schedule_paper(&o.schedule, L, 0.9f, 0.1f, 1.0f,
					     0.75f, 0.2f);
		o.flags |= SPATTEN_SESSION_PROGRESSIVE;
		o.k_bits = 8;
	}
	if (!ret)
		ret = spatten_open_backend(NULL, SPATTEN_BACKEND_SIM, &dev);
	if (!ret)
		ret = spatten_session_open(dev, &o, &s);
	/* the prompt, then warm-up steps, untimed */
	for (unsigned int l = 0; !ret && l < L; l++) {
		size_t at = (size_t)l * H * P * D;
		struct spatten_view q = spatten_view_htd(qp + at,
							 SPATTEN_DTYPE_F32, P, D);
		struct spatten_view k = spatten_view_htd(kp + at,
							 SPATTEN_DTYPE_F32, P, D);
		struct spatten_view v = spatten_view_htd(vp + at,
							 SPATTEN_DTYPE_F32, P, D);
		struct spatten_view out = spatten_view_htd(outp + at,
							   SPATTEN_DTYPE_F32,
							   P, D);

		ret = spatten_session_attend(s, l, P, &q, &k, &v, &out);
	}
	for (unsigned int t = 0; !ret && t < warmup + steps; t++) {
		double t0 = now_us();

		for (unsigned int l = 0; !ret && l < L; l++) {
			size_t at = (size_t)l * H * D;
			struct spatten_view q = spatten_view_htd(
				q1 + at, SPATTEN_DTYPE_F32, 1, D);
			struct spatten_view k = spatten_view_htd(
				k1 + at, SPATTEN_DTYPE_F32, 1, D);
			struct spatten_view v = spatten_view_htd(
				v1 + at, SPATTEN_DTYPE_F32, 1, D);
			struct spatten_view out = spatten_view_htd(
				out1 + at, SPATTEN_DTYPE_F32, 1, D);

			ret = spatten_session_attend(s, l, 1, &q, &k, &v, &out);
		}
		if (t >= warmup)
			us[t - warmup] = now_us() - t0;
	}
	if (ret) {
		fprintf(stderr, "c_decode: %s\n", strerror(-ret));
	} else {
		double *sorted = malloc(steps * sizeof(double));
		double med;

		if (!sorted) {
			fprintf(stderr, "c_decode: out of memory\n");
			return 1;
		}
		memcpy(sorted, us, steps * sizeof(double));
		qsort(sorted, steps, sizeof(double), cmp_double);
		med = steps % 2 ? sorted[steps / 2]
				: (sorted[steps / 2 - 1] + sorted[steps / 2]) / 2;
		printf("{\"layers\": %u, \"heads\": %u, \"head_dim\": %u, "
		       "\"prompt\": %u, \"warmup\": %u, \"prune\": %s, "
		       "\"context\": %d, \"median_us\": %.3f, \"step_us\": [",
		       L, H, D, P, warmup, prune ? "true" : "false",
		       spatten_session_context(s), med);
		for (unsigned int t = 0; t < steps; t++)
			printf("%s%.3f", t ? ", " : "", us[t]);
		printf("]}\n");
		free(sorted);
		if (dump) {
			FILE *f = fopen(dump, "wb");

			if (!f || fwrite(out1, sizeof(float), n1, f) != n1 ||
			    fclose(f)) {
				fprintf(stderr, "c_decode: %s: %s\n", dump,
					strerror(errno));
				ret = -EIO;
			}
		}
	}
	spatten_session_destroy(s);
	spatten_close(dev);
	free(qp);
	free(kp);
	free(vp);
	free(outp);
	free(q1);
	free(k1);
	free(v1);
	free(out1);
	free(us);
	return ret ? 1 : 0;
}
