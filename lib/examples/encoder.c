// SPDX-License-Identifier: MIT
/*
 * encoder: a BERT-base-shaped encoder (12 layers x 12 heads, D = 64, a
 * 128-token sequence) through a libspatten session, with the paper's
 * cascade token and head pruning schedule, local value pruning, and the
 * [CLS] token (token 0) pinned so that no layer prunes it.
 *
 * What it shows:
 *  - spatten_session_opts_init() with SPATTEN_SESSION_ENCODER (every token
 *    sees every token: no causal mask) and spatten_session_open();
 *  - spatten_schedule_paper(): tokens and heads unpruned in the first
 *    layers, then fewer and fewer; value pruning where tokens are pruned;
 *  - a pinned token (o.pinned[], o.n_pinned);
 *  - one spatten_session_layer() call per layer, and per layer what the
 *    board kept and read (spatten_session_layer_stats()).
 *
 * What it checks (exit 1 if any fails):
 *  - the pinned [CLS] token is alive at every layer
 *    (spatten_session_alive()), and the same sequence without the pin
 *    loses it at some layer (so the pin is what keeps it);
 *  - the cascade: each layer keeps no more tokens than it was given, and
 *    is given exactly what the layer before it kept;
 *  - layer 0, which the schedule leaves dense, against attention computed
 *    here in double precision, within a bound derived from the board's
 *    documented error (docs/engine.md) and the 16-bit quantization of
 *    the inputs.
 *
 * The inputs are synthetic, the same for every run: each layer gets its
 * own Q, K and V (in a real model they come from the previous layer's
 * output). Every eighth token is a "heavy hitter" whose keys line up with
 * the queries, and [CLS] is made the least attended token, so that token
 * pruning has something to find and would drop [CLS] without the pin.
 *
 * Run it with SPATTEN_BACKEND=sim on any machine, or on a board as is.
 */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libspatten.h>

#define PROG	"encoder"

enum { LAYERS = 12, HEADS = 12, D = 64, TOKENS = 128, CLS = 0 };

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

enum { IN_Q, IN_K, IN_V };

/*
 * Element @e of token @t's row of head @h at @layer, of Q, K or V. Each
 * head has a direction (elements +-0.75); queries point along it, the keys
 * of every eighth token too (scores about +3 after 1/sqrt(D)), the key of
 * [CLS] against it (about -3).
 */
static float input(unsigned int which, unsigned int layer, unsigned int h,
		   unsigned int t, unsigned int e)
{
	uint64_t key = ((((uint64_t)which * LAYERS + layer) * HEADS + h) *
			TOKENS + t) * D + e;
	float dir = noise(0x100000000ull + (uint64_t)h * D + e) < 0 ?
		    -0.75f : 0.75f;

	switch (which) {
	case IN_Q:
		return dir + 0.25f * noise(key);
	case IN_K:
		if (t == CLS)
			return -0.667f * dir + 0.25f * noise(key);
		return (t % 8 == 3 ? 0.667f * dir : 0) + 0.25f * noise(key);
	default:
		return noise(key);
	}
}

/* Q, K and V of one layer, [HEADS][TOKENS][D], spatten_session_layer()'s. */
static void make_inputs(unsigned int layer, float *q, float *k, float *v)
{
	unsigned int h, t, e;
	size_t i = 0;

	for (h = 0; h < HEADS; h++)
		for (t = 0; t < TOKENS; t++)
			for (e = 0; e < D; e++, i++) {
				q[i] = input(IN_Q, layer, h, t, e);
				k[i] = input(IN_K, layer, h, t, e);
				v[i] = input(IN_V, layer, h, t, e);
			}
}

/*
 * Largest |out - exact attention| over a dense layer, in double, and the
 * bound it must stay within (*@bound):
 *  - the board's own error on the fixed-point operands it was given
 *    (docs/engine.md: per visible key 2^-16 + 4e-7 of max |V|, plus 1e-6
 *    of it, plus half an output LSB);
 *  - the inputs' quantization: the session stores each head's Q, K and V
 *    in 16 bits with the most fractional bits that hold the head's
 *    largest magnitude m, so an element is off by at most m / 32767; a
 *    score then moves by at most ds, a probability by a factor e^(2 ds),
 *    and the output by max |V| (e^(2 ds) - 1), plus V's own error.
 * The output is in V's units: its LSB is at most 2 max |V| / 32767.
 */
static double dense_error(const float *q, const float *k, const float *v,
			  const float *out, double *bound)
{
	double scale = 1.0 / sqrt(D), worst = 0, p[TOKENS], acc[D];
	double mq, mk, mv, eq, ek, ev, ds, b;
	unsigned int h, i, j, e;
	size_t n = (size_t)TOKENS * D;

	*bound = 0;
	for (h = 0; h < HEADS; h++) {
		const float *qh = q + h * n, *kh = k + h * n, *vh = v + h * n;

		mq = spatten_max_abs(qh, n);
		mk = spatten_max_abs(kh, n);
		mv = spatten_max_abs(vh, n);
		eq = mq / 32767;
		ek = mk / 32767;
		ev = mv / 32767;
		ds = scale * D * (mq * ek + mk * eq + eq * ek);
		b = (TOKENS * (1.0 / 65536 + 4e-7) + 1e-6) * mv + mv / 32767 +
		    mv * (exp(2 * ds) - 1) + ev;
		if (b > *bound)
			*bound = b;
		for (i = 0; i < TOKENS; i++) {
			double m = -INFINITY, sum = 0;

			for (j = 0; j < TOKENS; j++) {
				double s = 0;

				for (e = 0; e < D; e++)
					s += (double)qh[i * D + e] *
					     kh[j * D + e];
				p[j] = s * scale;
				if (p[j] > m)
					m = p[j];
			}
			for (j = 0; j < TOKENS; j++)
				sum += (p[j] = exp(p[j] - m));
			memset(acc, 0, sizeof(acc));
			for (j = 0; j < TOKENS; j++)
				for (e = 0; e < D; e++)
					acc[e] += p[j] / sum * vh[j * D + e];
			for (e = 0; e < D; e++) {
				double d = fabs(out[h * n + i * D + e] -
						acc[e]);

				if (d > worst)
					worst = d;
			}
		}
	}
	return worst;
}

/* Is @token in the alive list of @layer? -errno on error. */
static int is_alive(const struct spatten_session *s, unsigned int layer,
		    uint32_t token)
{
	uint32_t list[TOKENS];
	int n, i;

	n = spatten_session_alive(s, layer, list, TOKENS);
	if (n < 0)
		return n;
	for (i = 0; i < n && i < TOKENS; i++)
		if (list[i] == token)
			return 1;
	return 0;
}

/*
 * One pass of the encoder over the sequence. With @check, also compares
 * layer 0 with the reference (*@bad set on failure). Returns 0 or -errno.
 */
static int run(struct spatten_session *s, float *buf, int check, int *bad)
{
	size_t n = (size_t)HEADS * TOKENS * D;
	float *q = buf, *k = buf + n, *v = buf + 2 * n, *out = buf + 3 * n;
	double err, bound;
	unsigned int l;
	int ret;

	for (l = 0; l < LAYERS; l++) {
		make_inputs(l, q, k, v);
		ret = spatten_session_layer(s, l, TOKENS, q, k, v, out);
		if (ret < 0) {
			fail("spatten_session_layer", ret);
			return ret;
		}
		if (check && l == 0) {
			err = dense_error(q, k, v, out, &bound);
			printf("layer 0 (dense) vs double precision: max "
			       "error %.2e, bound %.2e\n\n", err, bound);
			if (!(err <= bound)) {
				fprintf(stderr, "%s: layer 0 is %.3g off, "
					"beyond %.3g\n", PROG, err, bound);
				*bad = 1;
			}
		}
	}
	return 0;
}

/* Per layer: what was kept and read. Checks the cascade and the pin. */
static int report(const struct spatten_session *s, int *bad)
{
	struct spatten_layer_stats st;
	uint64_t read, all_read = 0, all_dense = 0;
	uint32_t prev_kept = TOKENS;
	unsigned int l;
	int ret;

	printf("layer  tokens kept/given  heads  V rows/query  "
	       "bytes read / dense\n");
	for (l = 0; l < LAYERS; l++) {
		ret = spatten_session_layer_stats(s, l, &st, NULL);
		if (ret < 0) {
			fail("spatten_session_layer_stats", ret);
			return ret;
		}
		read = st.bytes_q + st.bytes_k_msb + st.bytes_k_lsb +
		       st.bytes_v;
		all_read += read;
		all_dense += st.bytes_dense;
		if (st.value_keep)
			printf("%5u  %10u/%-6u  %5u  %12u  ", l,
			       st.tokens_kept, st.tokens_alive,
			       st.heads_alive, st.value_keep);
		else
			printf("%5u  %10u/%-6u  %5u  %12s  ", l,
			       st.tokens_kept, st.tokens_alive,
			       st.heads_alive, "all");
		printf("%10llu / %llu (%.0f%%)\n", (unsigned long long)read,
		       (unsigned long long)st.bytes_dense,
		       100.0 * (double)read / (double)st.bytes_dense);

		if (st.tokens_alive != prev_kept ||
		    st.tokens_kept > st.tokens_alive) {
			fprintf(stderr, "%s: layer %u was given %u tokens and "
				"kept %u; the layer before kept %u\n", PROG,
				l, st.tokens_alive, st.tokens_kept,
				prev_kept);
			*bad = 1;
		}
		prev_kept = st.tokens_kept;
		ret = is_alive(s, l, CLS);
		if (ret < 0) {
			fail("spatten_session_alive", ret);
			return ret;
		}
		if (!ret) {
			fprintf(stderr, "%s: the pinned [CLS] token was "
				"pruned at layer %u\n", PROG, l);
			*bad = 1;
		}
	}
	printf("all layers: %llu of %llu bytes (%.0f%%); [CLS] alive at "
	       "every layer\n", (unsigned long long)all_read,
	       (unsigned long long)all_dense,
	       100.0 * (double)all_read / (double)all_dense);
	return 0;
}

/* The layer at which [CLS] leaves without the pin, LAYERS if none. */
static int unpinned_cls_layer(struct spatten_dev *dev,
			      const struct spatten_session_opts *pinned,
			      float *buf)
{
	struct spatten_session_opts o = *pinned;
	struct spatten_session *s = NULL;
	int ret, alive, bad = 0;
	unsigned int l;

	o.n_pinned = 0;
	ret = spatten_session_open(dev, &o, &s);
	if (ret < 0) {
		fail("spatten_session_open (unpinned)", ret);
		return ret;
	}
	ret = run(s, buf, 0, &bad);
	for (l = 0; !ret && l < LAYERS; l++) {
		alive = is_alive(s, l, CLS);
		if (alive < 0) {
			fail("spatten_session_alive", alive);
			ret = alive;
		} else if (!alive) {
			break;
		}
	}
	spatten_session_destroy(s);
	return ret < 0 ? ret : (int)l;
}

int main(void)
{
	struct spatten_session_opts o;
	struct spatten_session *s = NULL;
	struct spatten_dev *dev = NULL;
	float *buf;
	int ret, bad = 0, gone;

	/* Q, K, V and the output of one layer, [HEADS][TOKENS][D] each */
	buf = malloc(4 * sizeof(*buf) * HEADS * TOKENS * D);
	if (!buf) {
		fprintf(stderr, "%s: out of memory\n", PROG);
		return 1;
	}
	ret = spatten_open(NULL, &dev);
	if (ret < 0) {
		fail("spatten_open", ret);
		goto out;
	}

	spatten_session_opts_init(&o, SPATTEN_SESSION_ENCODER, LAYERS, HEADS,
				  HEADS, D, TOKENS);
	/*
	 * The paper's schedule: layers 0-1 keep every token, 0-3 every head;
	 * then tokens go linearly from 90% to 20% of the sequence at the last
	 * layer, heads from 100% to 75%; where tokens are pruned, each query
	 * also keeps only the V rows of its 50% largest probabilities.
	 */
	ret = spatten_schedule_paper(&o.schedule, LAYERS, 0.9f, 0.2f, 1.0f,
				     0.75f, 0.5f);
	if (ret < 0) {
		fail("spatten_schedule_paper", ret);
		goto out;
	}
	o.pinned[0] = CLS;		/* [CLS] is never pruned */
	o.n_pinned = 1;

	ret = spatten_session_open(dev, &o, &s);
	if (ret < 0) {
		fail("spatten_session_open", ret);
		goto out;
	}
	printf("BERT-base-shaped encoder: %u layers x %u heads, D = %u, "
	       "%u tokens, [CLS] pinned\n", LAYERS, HEADS, D, TOKENS);
	ret = run(s, buf, 1, &bad);
	if (!ret)
		ret = report(s, &bad);
	if (ret < 0)
		goto out;

	gone = unpinned_cls_layer(dev, &o, buf);
	if (gone < 0) {
		ret = gone;
		goto out;
	}
	if (gone < LAYERS) {
		printf("without the pin, [CLS] is pruned at layer %d\n", gone);
	} else {
		fprintf(stderr, "%s: [CLS] survives without the pin too: "
			"the data does not test the pin\n", PROG);
		bad = 1;
	}
out:
	spatten_session_destroy(s);
	spatten_close(dev);
	free(buf);
	if (!ret && !bad)
		printf("PASS\n");
	return ret || bad ? 1 : 0;
}
