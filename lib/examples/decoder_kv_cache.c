// SPDX-License-Identifier: MIT
/*
 * decoder_kv_cache: a GPT-2-small-shaped decoder (12 layers x 12 heads,
 * D = 64) with a KV cache: a 64-token prompt, then 16 generation steps of
 * one token each, through spatten_session_attend() on fp16 tensors in the
 * layout a PyTorch projection gives ([tokens][heads][D], viewed with
 * spatten_view_thd()), with progressive keys: 8 MSBs + 4 LSBs per key
 * element, the LSBs fetched only for the rows whose attention is too flat
 * to trust the MSBs (largest probability below 0.1).
 *
 * What it shows:
 *  - SPATTEN_SESSION_DECODER: the prompt in one pass (summarization,
 *    causal), then one token per pass (generation) over the session's KV
 *    cache, which keeps every layer's K and V on the board: a step sends
 *    only the new token's Q, K and V;
 *  - inputs of any element type and layout (struct spatten_view): here
 *    fp16, converted from float with spatten_convert(), output fp16 too;
 *  - SPATTEN_SESSION_PROGRESSIVE with k_bits = 8;
 *  - per step: the context, the tokens the layers kept, the LSB refetches
 *    and the modeled cycles (spatten_session_layer_stats()).
 *
 * What it checks (exit 1 if any fails):
 *  - the context grows by one token per step (spatten_session_context())
 *    and the new token is alive at every layer (a generation step always
 *    keeps it);
 *  - each layer keeps no more tokens than it was given;
 *  - no input saturated its fixed-point format
 *    (spatten_session_saturations());
 *  - layer 0, which the schedule leaves dense, against causal attention
 *    over the whole cache computed here in double precision from the same
 *    fp16 values, within a bound that covers the board's documented error
 *    (docs/engine.md), the 16-bit Q and V, and the 12-bit keys scored with
 *    their MSBs only (the worst case: before any LSB refetch).
 *
 * The inputs are synthetic and fixed; every eighth token is a "heavy
 * hitter" whose keys line up with the queries.
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

#define PROG	"decoder_kv_cache"

enum {
	LAYERS = 12, HEADS = 12, D = 64, PROMPT = 64, STEPS = 16,
	CONTEXT = PROMPT + STEPS
};

/* Row elements of one token: [HEADS][D]. */
#define ROW	((size_t)HEADS * D)

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
 * Element @e of token @t's row of head @h at @layer. Queries point along
 * a per-head direction, so do the keys of every eighth token; |V| < 0.9
 * leaves the 16-bit V of later tokens headroom over the prompt's range.
 */
static float input(unsigned int which, unsigned int layer, unsigned int h,
		   unsigned int t, unsigned int e)
{
	uint64_t key = ((((uint64_t)which * LAYERS + layer) * HEADS + h) *
			CONTEXT + t) * D + e;
	float dir = noise(0x100000000ull + (uint64_t)h * D + e) < 0 ?
		    -0.75f : 0.75f;

	switch (which) {
	case IN_Q:
		return dir + 0.25f * noise(key);
	case IN_K:
		return (t % 8 == 3 ? 0.667f * dir : 0) + 0.25f * noise(key);
	default:
		return 0.9f * noise(key);
	}
}

/*
 * The inputs of tokens @first..@first+@n-1 at @layer as fp16
 * [n][HEADS][D], converted from float rows in @tmp (ROW floats).
 */
static int make_inputs(unsigned int layer, unsigned int first,
		       unsigned int n, uint16_t *q, uint16_t *k, uint16_t *v,
		       float *tmp)
{
	uint16_t *dst[3] = { q, k, v };
	unsigned int which, t, h, e;
	int ret;

	for (which = IN_Q; which <= IN_V; which++)
		for (t = 0; t < n; t++) {
			for (h = 0; h < HEADS; h++)
				for (e = 0; e < D; e++)
					tmp[h * D + e] = input(which, layer,
							       h, first + t,
							       e);
			ret = spatten_convert(dst[which] + t * ROW,
					      SPATTEN_DTYPE_F16, tmp,
					      SPATTEN_DTYPE_F32, ROW);
			if (ret < 0)
				return ret;
		}
	return 0;
}

/*
 * What the reference keeps of layer 0: every token's K and V as the
 * session saw them (fp16 values, widened exactly), [CONTEXT][HEADS][D].
 */
struct layer0 {
	float k[CONTEXT * ROW];
	float v[CONTEXT * ROW];
	float mk[HEADS], mv[HEADS];	/* largest |K|, |V| of the prompt */
};

static int keep_layer0(struct layer0 *r, unsigned int first, unsigned int n,
		       const uint16_t *k, const uint16_t *v)
{
	int ret;

	ret = spatten_convert(r->k + first * ROW, SPATTEN_DTYPE_F32, k,
			      SPATTEN_DTYPE_F16, n * ROW);
	if (!ret)
		ret = spatten_convert(r->v + first * ROW, SPATTEN_DTYPE_F32,
				      v, SPATTEN_DTYPE_F16, n * ROW);
	return ret;
}

/* The prompt's largest magnitudes per head: what its scales hold. */
static void prompt_ranges(struct layer0 *r)
{
	unsigned int h, t, e;
	float a;

	for (h = 0; h < HEADS; h++) {
		r->mk[h] = r->mv[h] = 0;
		for (t = 0; t < PROMPT; t++)
			for (e = 0; e < D; e++) {
				a = fabsf(r->k[t * ROW + h * D + e]);
				r->mk[h] = a > r->mk[h] ? a : r->mk[h];
				a = fabsf(r->v[t * ROW + h * D + e]);
				r->mv[h] = a > r->mv[h] ? a : r->mv[h];
			}
	}
}

/*
 * Layer 0's output for the new token @t (@out, from fp16) against causal
 * attention over tokens 0..@t in double, from its query @q (from fp16);
 * returns the largest error in units of its bound (<= 1 passes), and
 * the largest error in *@worst_err. The bound, per head:
 *  - the board's error on its fixed-point operands (docs/engine.md):
 *    (t + 1) (2^-16 + 4e-7) + 1e-6 of max |V|, half an output LSB;
 *  - Q in 16 bits with the most fractional bits that hold its largest
 *    element, so off by at most mq / 32767; K in 12 bits (8 MSBs + 4
 *    LSBs) with the scale of the prompt's keys (quantum below
 *    2 mk / 2047.5): half a quantum off once its row refetched the LSBs
 *    (@refetched: every head's row did), else scored with the MSBs and
 *    the middle of the LSB range, up to 8.5 quanta off; a score then
 *    moves by ds, a probability by a factor e^(2 ds);
 *  - V in 16 bits (mv / 32767), the output in V's units, then rounded
 *    to fp16 (2^-11 of its magnitude).
 */
static double layer0_error(const struct layer0 *r, unsigned int t,
			   const float *q, const float *out, int refetched,
			   double *worst_err)
{
	double scale = 1.0 / sqrt(D), p[CONTEXT], acc[D], worst = 0;
	unsigned int h, j, e;

	*worst_err = 0;
	for (h = 0; h < HEADS; h++) {
		const float *qh = q + h * D;
		double mq = spatten_max_abs(qh, D), sq = 0, m = -INFINITY;
		double eq = mq / 32767;
		double ek = (refetched ? 0.5 : 8.5) * 2 * r->mk[h] / 2047.5;
		double mv = r->mv[h], ds, b, sum = 0;

		for (e = 0; e < D; e++)
			sq += fabs(qh[e]);
		ds = scale * (sq * ek + D * r->mk[h] * eq + D * eq * ek);
		b = ((t + 1) * (1.0 / 65536 + 4e-7) + 1e-6) * mv +
		    mv / 32767 + mv * (exp(2 * ds) - 1) + mv / 32767;
		for (j = 0; j <= t; j++) {
			double s = 0;

			for (e = 0; e < D; e++)
				s += (double)qh[e] * r->k[j * ROW + h * D + e];
			p[j] = s * scale;
			m = p[j] > m ? p[j] : m;
		}
		for (j = 0; j <= t; j++)
			sum += (p[j] = exp(p[j] - m));
		memset(acc, 0, sizeof(acc));
		for (j = 0; j <= t; j++)
			for (e = 0; e < D; e++)
				acc[e] += p[j] / sum *
					  r->v[j * ROW + h * D + e];
		for (e = 0; e < D; e++) {
			double d = fabs(out[h * D + e] - acc[e]);

			*worst_err = d > *worst_err ? d : *worst_err;
			d /= b + fabs(acc[e]) / 2048;
			worst = d > worst ? d : worst;
		}
	}
	return worst;
}

/* Is slot @t alive at every layer? 1 yes, 0 no, -errno. */
static int alive_everywhere(const struct spatten_session *s, uint32_t t,
			    uint32_t *list)
{
	unsigned int l;
	int n, i;

	for (l = 0; l < LAYERS; l++) {
		n = spatten_session_alive(s, l, list, CONTEXT);
		if (n < 0)
			return n;
		for (i = 0; i < n && list[i] != t; i++)
			;
		if (i == n)
			return 0;
	}
	return 1;
}

/*
 * One pass of @n tokens from @first: every layer, then the figures. A
 * generation step is checked against the reference at layer 0.
 */
static int pass(struct spatten_session *s, struct layer0 *ref,
		unsigned int first, unsigned int n, uint16_t *io, float *tmp,
		uint32_t *list, int *bad)
{
	uint16_t *q = io, *k = io + PROMPT * ROW, *v = io + 2 * PROMPT * ROW;
	uint16_t *out = io + 3 * PROMPT * ROW;
	struct spatten_view qv, kv, vv, ov;
	struct spatten_layer_stats st;
	float q_row[ROW], out_row[ROW];
	uint64_t kept = 0, given = 0, refetches = 0, cycles = 0;
	uint64_t sq, sk, sv;
	double ratio = 0, err = 0;
	unsigned int l;
	int ret, ctx;

	qv = spatten_view_thd(q, SPATTEN_DTYPE_F16, HEADS, D);
	kv = spatten_view_thd(k, SPATTEN_DTYPE_F16, HEADS, D);
	vv = spatten_view_thd(v, SPATTEN_DTYPE_F16, HEADS, D);
	ov = spatten_view_thd(out, SPATTEN_DTYPE_F16, HEADS, D);
	for (l = 0; l < LAYERS; l++) {
		ret = make_inputs(l, first, n, q, k, v, tmp);
		if (ret < 0) {
			fail("spatten_convert", ret);
			return ret;
		}
		if (l == 0) {
			ret = keep_layer0(ref, first, n, k, v);
			if (ret < 0) {
				fail("spatten_convert", ret);
				return ret;
			}
		}
		ret = spatten_session_attend(s, l, n, &qv, &kv, &vv, &ov);
		if (ret < 0) {
			fail("spatten_session_attend", ret);
			return ret;
		}
		ret = spatten_session_layer_stats(s, l, &st, NULL);
		if (ret < 0) {
			fail("spatten_session_layer_stats", ret);
			return ret;
		}
		kept += st.tokens_kept;
		given += st.kv_rows;
		refetches += st.lsb_refetches;
		cycles += st.cycles;
		if (st.tokens_kept > st.tokens_alive ||
		    st.tokens_alive > st.kv_rows) {
			fprintf(stderr, "%s: layer %u kept %u of %u tokens "
				"given, context %u\n", PROG, l,
				st.tokens_kept, st.tokens_alive, st.kv_rows);
			*bad = 1;
		}
		if (l == 0 && first >= PROMPT) {
			if (st.tokens_kept != first + 1 ||
			    st.heads_alive != HEADS || st.value_keep) {
				fprintf(stderr, "%s: layer 0 pruned\n", PROG);
				*bad = 1;
			}
			ret = spatten_convert(q_row, SPATTEN_DTYPE_F32, q,
					      SPATTEN_DTYPE_F16, ROW);
			if (!ret)
				ret = spatten_convert(out_row,
						      SPATTEN_DTYPE_F32, out,
						      SPATTEN_DTYPE_F16, ROW);
			if (ret < 0) {
				fail("spatten_convert", ret);
				return ret;
			}
			ratio = layer0_error(ref, first, q_row, out_row,
					     st.lsb_refetches == HEADS, &err);
		}
	}
	if (first == 0)
		prompt_ranges(ref);

	ctx = spatten_session_context(s);
	if (ctx < 0) {
		fail("spatten_session_context", ctx);
		return ctx;
	}
	if ((unsigned int)ctx != first + n) {
		fprintf(stderr, "%s: context %d after %u tokens\n", PROG,
			ctx, first + n);
		*bad = 1;
	}
	/* a generation step keeps its token at every layer */
	ret = first ? alive_everywhere(s, first, list) : 1;
	if (ret < 0) {
		fail("spatten_session_alive", ret);
		return ret;
	}
	if (!ret) {
		fprintf(stderr, "%s: token %u is not alive at every layer\n",
			PROG, first);
		*bad = 1;
	}
	if (ratio > 1) {
		fprintf(stderr, "%s: step at %u: layer 0 beyond its bound "
			"(%.2f of it)\n", PROG, first, ratio);
		*bad = 1;
	}
	for (l = 0; l < LAYERS; l++) {
		ret = spatten_session_saturations(s, l, &sq, &sk, &sv);
		if (ret < 0) {
			fail("spatten_session_saturations", ret);
			return ret;
		}
		if (sq || sk || sv) {
			fprintf(stderr, "%s: layer %u saturated %llu Q, %llu "
				"K, %llu V values\n", PROG, l,
				(unsigned long long)sq, (unsigned long long)sk,
				(unsigned long long)sv);
			*bad = 1;
		}
	}
	if (first == 0)
		printf("prompt   %7d  %4llu of %-4llu  %9llu  %8llu\n", ctx,
		       (unsigned long long)kept, (unsigned long long)given,
		       (unsigned long long)refetches,
		       (unsigned long long)cycles);
	else
		printf("step %-3u %7d  %4llu of %-4llu  %9llu  %8llu  "
		       "%.1e (%.1f%%)\n", first - PROMPT + 1, ctx,
		       (unsigned long long)kept, (unsigned long long)given,
		       (unsigned long long)refetches,
		       (unsigned long long)cycles, err, 100 * ratio);
	return 0;
}

int main(void)
{
	struct spatten_session_opts o;
	struct spatten_session *s = NULL;
	struct spatten_dev *dev = NULL;
	struct layer0 *ref;
	uint16_t *io;
	uint32_t *list;
	float *tmp;
	unsigned int t;
	int ret, bad = 0;

	/* Q, K, V and the output of up to PROMPT tokens, fp16 */
	io = malloc(4 * PROMPT * ROW * sizeof(*io));
	tmp = malloc(ROW * sizeof(*tmp));
	list = malloc(CONTEXT * sizeof(*list));
	ref = malloc(sizeof(*ref));
	if (!io || !tmp || !list || !ref) {
		fprintf(stderr, "%s: out of memory\n", PROG);
		ret = -ENOMEM;
		goto out;
	}
	ret = spatten_open(NULL, &dev);
	if (ret < 0) {
		fail("spatten_open", ret);
		goto out;
	}

	spatten_session_opts_init(&o, SPATTEN_SESSION_DECODER, LAYERS, HEADS,
				  HEADS, D, CONTEXT);
	/* tokens 0.9 -> 0.1 of the context, heads 1.0 -> 0.75, values 20% */
	ret = spatten_schedule_paper(&o.schedule, LAYERS, 0.9f, 0.1f, 1.0f,
				     0.75f, 0.2f);
	if (ret < 0) {
		fail("spatten_schedule_paper", ret);
		goto out;
	}
	o.flags |= SPATTEN_SESSION_PROGRESSIVE;	/* keys: 8 MSBs + 4 LSBs */
	o.k_bits = 8;
	o.lsb_threshold = 3277;		/* refetch below 0.1 (of 32768) */

	ret = spatten_session_open(dev, &o, &s);
	if (ret < 0) {
		fail("spatten_session_open", ret);
		goto out;
	}
	printf("GPT-2-small-shaped decoder: %u layers x %u heads, D = %u, "
	       "fp16 inputs\n([tokens][heads][D]), progressive keys (8 + 4 "
	       "bits), a %u-token prompt\nand %u generated tokens\n\n",
	       LAYERS, HEADS, D, PROMPT, STEPS);
	printf("         context  tokens kept        LSB  modeled   "
	       "layer 0 max error\n");
	printf("                  (%u layers)  refetches   cycles   "
	       "(of its bound)\n", LAYERS);
	ret = pass(s, ref, 0, PROMPT, io, tmp, list, &bad);
	for (t = PROMPT; !ret && t < CONTEXT; t++)
		ret = pass(s, ref, t, 1, io, tmp, list, &bad);
out:
	spatten_session_destroy(s);
	spatten_close(dev);
	free(io);
	free(tmp);
	free(list);
	free(ref);
	if (!ret && !bad)
		printf("PASS\n");
	return ret || bad ? 1 : 0;
}
