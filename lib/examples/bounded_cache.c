// SPDX-License-Identifier: MIT
/*
 * bounded_cache: a decoder whose KV cache never holds more than 40 tokens
 * however long the sequence gets: the bounded KV cache of a session
 * (struct spatten_session_opts @kv_start, @kv_important, @kv_recent: the
 * authors' SpAttenKVCache policy). A 24-token prompt, then 120 generated
 * tokens; 4 layers x 4 heads, D = 64.
 *
 * When a step would not fit the cache (max_context = 40 slots), the
 * session keeps the first kv_start = 4 tokens (attention sinks), the
 * kv_recent = 8 newest and the kv_important = 12 of the rest with the
 * largest cumulative importance (the probabilities every head of every
 * layer gave them, summed over the steps; ties to the older token), in
 * their original order, and evicts the others for good. The next
 * 40 - 24 tokens then append without moving anything.
 *
 * What it shows:
 *  - a bounded cache, and spatten_session_cache(): which token sits in
 *    each slot, and its importance;
 *  - spatten_session_layer() on float [heads][tokens][D] arrays.
 *
 * What it checks after every step (exit 1 if any fails):
 *  - the cache never holds more than max_context tokens, and
 *    spatten_session_context() agrees with it;
 *  - its tokens are in time order, the first kv_start tokens and the
 *    kv_recent newest are always there;
 *  - the eviction is the policy: from the cache and importances read
 *    before the step, this program predicts the cache after it (start,
 *    the most important of the middle, recent, the new token) and it
 *    must be exactly that;
 *  - the step's output at layer 0 against attention over the tokens the
 *    cache now holds, computed here in double from their inputs, within
 *    the bound of the board's documented error and the 16-bit
 *    quantization: evictions move K and V rows inside the cache, and the
 *    right rows must have moved.
 *
 * Every eighth token (3, 11, 19, ...) is a "heavy hitter" whose keys line
 * up with the queries: those are the important tokens the policy keeps.
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

#define PROG	"bounded_cache"

enum {
	LAYERS = 4, HEADS = 4, D = 64, PROMPT = 24, STEPS = 120,
	MAX_CONTEXT = 40, KV_START = 4, KV_IMPORTANT = 12, KV_RECENT = 8,
	SEQUENCE = PROMPT + STEPS
};

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

static unsigned int heavy(unsigned int t)
{
	return t % 8 == 3;
}

/* Element @e of token @t's row of head @h at @layer, of Q, K or V. */
static float input(unsigned int which, unsigned int layer, unsigned int h,
		   unsigned int t, unsigned int e)
{
	uint64_t key = ((((uint64_t)which * LAYERS + layer) * HEADS + h) *
			SEQUENCE + t) * D + e;
	float dir = noise(0x100000000ull + (uint64_t)h * D + e) < 0 ?
		    -0.75f : 0.75f;

	switch (which) {
	case IN_Q:
		return dir + 0.25f * noise(key);
	case IN_K:
		return (heavy(t) ? 0.667f * dir : 0) + 0.25f * noise(key);
	default:
		return 0.9f * noise(key);
	}
}

/* Q, K and V of tokens @first..@first+@n-1 at @layer, [HEADS][n][D]. */
static void make_inputs(unsigned int layer, unsigned int first,
			unsigned int n, float *q, float *k, float *v)
{
	unsigned int h, t, e;
	size_t i = 0;

	for (h = 0; h < HEADS; h++)
		for (t = 0; t < n; t++)
			for (e = 0; e < D; e++, i++) {
				q[i] = input(IN_Q, layer, h, first + t, e);
				k[i] = input(IN_K, layer, h, first + t, e);
				v[i] = input(IN_V, layer, h, first + t, e);
			}
}

/* What the cache holds: token ids and importance per slot. */
struct cache {
	int n;
	uint32_t ids[MAX_CONTEXT];
	uint64_t imp[MAX_CONTEXT];
};

static int read_cache(const struct spatten_session *s, struct cache *c)
{
	c->n = spatten_session_cache(s, c->ids, c->imp, MAX_CONTEXT);
	if (c->n < 0)
		fail("spatten_session_cache", c->n);
	return c->n < 0 ? c->n : 0;
}

/*
 * The cache the policy gives after token @t is appended to @before: if
 * it does not fit, the first KV_START, the KV_IMPORTANT of the middle with
 * the largest importance (the older on a tie), the KV_RECENT newest, in
 * their order; then @t.
 */
static void predict(const struct cache *before, uint32_t t,
		    struct cache *after)
{
	int keep[MAX_CONTEXT] = { 0 }, n = before->n, i, j, best, taken;

	if (n + 1 > MAX_CONTEXT) {
		for (i = 0; i < n; i++)
			keep[i] = i < KV_START || i >= n - KV_RECENT;
		for (taken = 0; taken < KV_IMPORTANT; taken++) {
			best = -1;
			for (j = KV_START; j < n - KV_RECENT; j++)
				if (!keep[j] && (best < 0 ||
				    before->imp[j] > before->imp[best]))
					best = j;
			if (best < 0)
				break;
			keep[best] = 1;
		}
	} else {
		for (i = 0; i < n; i++)
			keep[i] = 1;
	}
	after->n = 0;
	for (i = 0; i < n; i++)
		if (keep[i])
			after->ids[after->n++] = before->ids[i];
	after->ids[after->n++] = t;
}

/* The checks that hold after every step; 0 if they do. */
static int check_cache(const struct cache *c, uint32_t t, int context)
{
	int i, bad = 0;

	if (c->n > MAX_CONTEXT || c->n != context) {
		fprintf(stderr, "%s: %d tokens cached, context %d, %d slots\n",
			PROG, c->n, context, MAX_CONTEXT);
		bad = 1;
	}
	for (i = 1; i < c->n; i++)
		if (c->ids[i] <= c->ids[i - 1])
			bad = 1;
	for (i = 0; i < KV_START && i < c->n; i++)
		if (c->ids[i] != (uint32_t)i)
			bad = 1;
	for (i = 0; i < KV_RECENT && i < c->n; i++)
		if (c->ids[c->n - 1 - i] != t - (uint32_t)i)
			bad = 1;
	if (bad)
		fprintf(stderr, "%s: after token %u the cache lost a start or "
			"recent token, or its order\n", PROG, t);
	return bad;
}

/*
 * The cache's tokens: start | important | the rest (recent and the new
 * token), runs of consecutive tokens in the rest as first..last.
 */
static void print_cache(FILE *f, const struct cache *c)
{
	int i, run;

	fprintf(f, " ");
	for (i = 0; i < c->n && i < KV_START + KV_IMPORTANT; i++)
		fprintf(f, "%s%u", i == KV_START ? " | " : " ", c->ids[i]);
	if (i < c->n)
		fprintf(f, " |");
	for (; i < c->n; i += run) {
		for (run = 1; i + run < c->n &&
		     c->ids[i + run] == c->ids[i] + (uint32_t)run; run++)
			;
		if (run > 2)
			fprintf(f, " %u..%u", c->ids[i], c->ids[i + run - 1]);
		else
			fprintf(f, " %u", c->ids[i]);
		run = run > 2 ? run : 1;
	}
	fprintf(f, "\n");
}

/*
 * Layer 0's output for token @t (@out: [HEADS][D]) against attention over
 * the cached tokens in double: the largest error in units of the bound
 * (<= 1 passes; the bound as in encoder.c: the board's documented error,
 * the 16-bit Q, K and V with each head's scale, K's and V's from the
 * prompt, where the session chose them). *@err: the largest error.
 */
static double layer0_error(const struct cache *c, uint32_t t,
			   const float *out, const float *mk0,
			   const float *mv0, double *err)
{
	double scale = 1.0 / sqrt(D), p[MAX_CONTEXT], acc[D], worst = 0;
	float q[D], k[D];
	unsigned int h, e;
	int j;

	*err = 0;
	for (h = 0; h < HEADS; h++) {
		double m = -INFINITY, sum = 0, mq, mk = 0, eq, ek, ev, ds, b;

		for (e = 0; e < D; e++)
			q[e] = input(IN_Q, 0, h, t, e);
		mq = spatten_max_abs(q, D);
		for (j = 0; j < c->n; j++) {
			double s = 0;

			for (e = 0; e < D; e++) {
				k[e] = input(IN_K, 0, h, c->ids[j], e);
				s += (double)q[e] * k[e];
			}
			mk = fmax(mk, spatten_max_abs(k, D));
			p[j] = s * scale;
			m = p[j] > m ? p[j] : m;
		}
		for (j = 0; j < c->n; j++)
			sum += (p[j] = exp(p[j] - m));
		memset(acc, 0, sizeof(acc));
		for (j = 0; j < c->n; j++)
			for (e = 0; e < D; e++)
				acc[e] += p[j] / sum *
					  input(IN_V, 0, h, c->ids[j], e);
		eq = mq / 32767;
		ek = mk0[h] / 32767;
		ev = mv0[h] / 32767;
		ds = scale * D * (mq * ek + mk * eq + eq * ek);
		b = (c->n * (1.0 / 65536 + 4e-7) + 1e-6) * mv0[h] + ev +
		    mv0[h] * (exp(2 * ds) - 1) + ev;
		for (e = 0; e < D; e++) {
			double d = fabs(out[h * D + e] - acc[e]);

			*err = fmax(*err, d);
			worst = fmax(worst, d / b);
		}
	}
	return worst;
}

/* One pass of @n tokens from @first through every layer. */
static int pass(struct spatten_session *s, unsigned int first,
		unsigned int n, float *buf)
{
	size_t sz = (size_t)HEADS * n * D;
	float *q = buf, *k = buf + sz, *v = buf + 2 * sz, *out = buf + 3 * sz;
	unsigned int l;
	int ret;

	for (l = 0; l < LAYERS; l++) {
		make_inputs(l, first, n, q, k, v);
		ret = spatten_session_layer(s, l, n, q, k, v, out);
		if (ret < 0) {
			fail("spatten_session_layer", ret);
			return ret;
		}
		/* keep layer 0's output for the check: layers reuse @buf */
		if (l == 0)
			memcpy(buf + 4 * sz, out, sz * sizeof(*out));
	}
	return 0;
}

int main(void)
{
	struct spatten_session_opts o;
	struct spatten_session *s = NULL;
	struct spatten_dev *dev = NULL;
	struct cache before, after, want;
	float mk0[HEADS], mv0[HEADS], in[D], *buf;
	unsigned int t, h, i, e, evictions = 0, heavy_kept = 0;
	double err, ratio, worst_err = 0, worst_ratio = 0;
	int ret, bad = 0, ctx;

	/* Q, K, V, the output and layer 0's output of the prompt */
	buf = malloc(5 * sizeof(*buf) * HEADS * PROMPT * D);
	if (!buf) {
		fprintf(stderr, "%s: out of memory\n", PROG);
		return 1;
	}
	ret = spatten_open(NULL, &dev);
	if (ret < 0) {
		fail("spatten_open", ret);
		goto out;
	}

	/* a dense schedule (the default): the cache policy is the subject */
	spatten_session_opts_init(&o, SPATTEN_SESSION_DECODER, LAYERS, HEADS,
				  HEADS, D, MAX_CONTEXT);
	o.kv_start = KV_START;
	o.kv_important = KV_IMPORTANT;
	o.kv_recent = KV_RECENT;
	ret = spatten_session_open(dev, &o, &s);
	if (ret < 0) {
		fail("spatten_session_open", ret);
		goto out;
	}
	printf("bounded KV cache: %u slots, keeping %u start + %u important "
	       "+ %u recent tokens;\n%u layers x %u heads, D = %u; a "
	       "%u-token prompt, %u generated tokens\n\n", MAX_CONTEXT,
	       KV_START, KV_IMPORTANT, KV_RECENT, LAYERS, HEADS, D, PROMPT,
	       STEPS);

	ret = pass(s, 0, PROMPT, buf);
	if (ret < 0)
		goto out;
	/* what the session's K and V scales hold: the prompt's range */
	for (h = 0; h < HEADS; h++) {
		mk0[h] = mv0[h] = 0;
		for (t = 0; t < PROMPT; t++) {
			for (e = 0; e < D; e++)
				in[e] = input(IN_K, 0, h, t, e);
			mk0[h] = fmaxf(mk0[h], spatten_max_abs(in, D));
			for (e = 0; e < D; e++)
				in[e] = input(IN_V, 0, h, t, e);
			mv0[h] = fmaxf(mv0[h], spatten_max_abs(in, D));
		}
	}

	for (t = PROMPT; t < SEQUENCE; t++) {
		ret = read_cache(s, &before);
		if (ret < 0)
			goto out;
		predict(&before, t, &want);
		ret = pass(s, t, 1, buf);
		if (ret < 0)
			goto out;
		ret = read_cache(s, &after);
		if (ret < 0)
			goto out;
		ctx = spatten_session_context(s);
		if (ctx < 0) {
			ret = ctx;
			fail("spatten_session_context", ret);
			goto out;
		}
		bad |= check_cache(&after, t, ctx);
		if (after.n != want.n ||
		    memcmp(after.ids, want.ids,
			   (size_t)want.n * sizeof(uint32_t))) {
			fprintf(stderr, "%s: after token %u the cache is not "
				"what the policy keeps:\n", PROG, t);
			print_cache(stderr, &after);
			fprintf(stderr, "expected:\n");
			print_cache(stderr, &want);
			bad = 1;
		}
		ratio = layer0_error(&after, t, buf + 4 * HEADS * D, mk0, mv0,
				     &err);
		worst_err = fmax(worst_err, err);
		worst_ratio = fmax(worst_ratio, ratio);
		if (ratio > 1) {
			fprintf(stderr, "%s: token %u: layer 0 is %.3g off, "
				"%.2f times its bound\n", PROG, t, err, ratio);
			bad = 1;
		}
		if (after.n <= before.n) {
			evictions++;
			printf("token %3u: evicted %d, cache (%d of %d slots; "
			       "start | important | recent):\n", t,
			       before.n + 1 - after.n, after.n, MAX_CONTEXT);
			print_cache(stdout, &after);
		}
	}
	for (i = KV_START; i < KV_START + KV_IMPORTANT; i++)
		heavy_kept += heavy(after.ids[i]);
	printf("\n%u evictions; the cache never exceeded %u slots\n"
	       "heavy hitters among the important tokens kept: %u of %u\n"
	       "layer 0 vs a double-precision reference over the cached "
	       "tokens:\n  max error %.2e (%.0f%% of its bound)\n", evictions,
	       MAX_CONTEXT, heavy_kept, KV_IMPORTANT, worst_err,
	       100 * worst_ratio);
	if (!evictions) {
		fprintf(stderr, "%s: nothing was evicted\n", PROG);
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
