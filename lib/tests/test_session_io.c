// SPDX-License-Identifier: MIT
/*
 * libspatten: what a session takes and gives: views of any element type
 * and layout (spatten_session_attend()), a KV cache imported without
 * attention (spatten_session_import()), chunked steps after the prompt,
 * the work buffer bounded by max_step, and the bounded cache selected per
 * KV head. Runs on the default backend:
 * the simulation on the host, the board in the guest.
 *
 * The references are other ways of computing the same thing that share
 * none of the code under test: the float API on the same values (a view
 * only changes where the values come from), a prompt run as a pass
 * against the same tokens imported, a prompt whole against the same
 * prompt in chunks.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "libspatten.h"
#include "lib_tap.h"

static struct spatten_dev *dev_main;

static uint64_t rng(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* Values in [-2, 2], most of them not representable in fp16. */
static void fill(float *x, size_t n, uint64_t seed)
{
	uint64_t st = seed | 1;
	size_t i;

	for (i = 0; i < n; i++)
		x[i] = (float)((int64_t)(rng(&st) % 400001) - 200000) / 1e5f;
}

static int board_takes_chunks(void)
{
	struct spatten_info info;

	return !spatten_get_info(dev_main, &info) &&
	       (info.features & SPATTEN_FEAT_CHUNKS);
}

/* One layer's inputs for T tokens, [heads][T][D] floats. */
struct seq {
	uint32_t H, G, D, T;
	float *q, *k, *v;
};

static int seq_init(struct seq *x, uint32_t H, uint32_t G, uint32_t D,
		    uint32_t T, uint64_t seed)
{
	x->H = H;
	x->G = G;
	x->D = D;
	x->T = T;
	x->q = malloc((size_t)H * T * D * sizeof(float));
	x->k = malloc((size_t)G * T * D * sizeof(float));
	x->v = malloc((size_t)G * T * D * sizeof(float));
	if (!x->q || !x->k || !x->v) {
		CHECK(0);
		free(x->q);
		free(x->k);
		free(x->v);
		return -ENOMEM;
	}
	fill(x->q, (size_t)H * T * D, seed);
	fill(x->k, (size_t)G * T * D, seed + 1);
	fill(x->v, (size_t)G * T * D, seed + 2);
	return 0;
}

static void seq_free(struct seq *x)
{
	free(x->q);
	free(x->k);
	free(x->v);
}

/* Tokens t0..t0+n-1 of @heads heads of @src ([heads][T][D]) packed. */
static void slice(float *dst, const float *src, uint32_t heads, uint32_t T,
		  uint32_t D, uint32_t t0, uint32_t n)
{
	uint32_t h;

	for (h = 0; h < heads; h++)
		memcpy(dst + (size_t)h * n * D, src + ((size_t)h * T + t0) * D,
		       (size_t)n * D * sizeof(float));
}

/*
 * Run @x through one-layer-per-pass @layers of @s with the float API:
 * passes of @steps[i] tokens, outputs appended to @out ([pass][H][n][D]).
 */
static int run_float(struct spatten_session *s, unsigned int layers,
		     const struct seq *x, const uint32_t *steps,
		     unsigned int n_steps, float *out)
{
	uint32_t H = x->H, G = x->G, D = x->D, t0 = 0, i, l, n;
	size_t big = (size_t)H * x->T * D;
	float *q = malloc(big * 4), *k = malloc(big * 4), *v = malloc(big * 4);
	int ret = -ENOMEM;

	if (!q || !k || !v)
		goto out;
	for (i = 0; i < n_steps; t0 += n, i++) {
		n = steps[i];
		slice(q, x->q, H, x->T, D, t0, n);
		slice(k, x->k, G, x->T, D, t0, n);
		slice(v, x->v, G, x->T, D, t0, n);
		for (l = 0; l < layers; l++) {
			ret = spatten_session_layer(s, l, n, q, k, v, out);
			if (ret)
				goto out;
		}
		out += (size_t)H * n * D;
	}
	ret = 0;
out:
	free(q);
	free(k);
	free(v);
	return ret;
}

static struct spatten_session *open_opts(struct spatten_session_opts *o)
{
	struct spatten_session *s = NULL;

	CHECK_EQ(spatten_session_open(dev_main, o, &s), 0);
	return s;
}

/* A decoder with every pruning mechanism on, GQA 8/2, D 64. */
static void pruned_opts(struct spatten_session_opts *o, uint32_t layers,
			uint32_t ctx)
{
	spatten_session_opts_init(o, SPATTEN_SESSION_DECODER, layers, 8, 2,
				  64, ctx);
	spatten_schedule_paper(&o->schedule, layers, 0.7f, 0.5f, 0.75f, 0.75f,
			       0.5f);
	o->flags |= SPATTEN_SESSION_PROGRESSIVE;
	o->k_bits = 8;
	o->v_bits = 12;
}

/*
 * The element of (token t, head h, dim i) of a [tokens][heads][dim] array
 * with rows padded to @tpad elements, heads in reverse order (a negative
 * head stride), as a view: strides the library must follow.
 */
static size_t odd_index(uint32_t heads, uint32_t tpad, uint32_t D,
			uint32_t t, uint32_t h, uint32_t i)
{
	(void)D;
	return (size_t)t * tpad + (size_t)(heads - 1 - h) * D + i;
}

/* @src [heads][n][D] floats into the odd layout of @dtype at @dst. */
static void to_odd(void *dst, enum spatten_dtype dtype, const float *src,
		   uint32_t heads, uint32_t n, uint32_t D, uint32_t tpad)
{
	uint32_t t, h;

	for (t = 0; t < n; t++)
		for (h = 0; h < heads; h++)
			spatten_convert((char *)dst + odd_index(heads, tpad, D,
								 t, h, 0) *
					spatten_dtype_size(dtype), dtype,
					src + ((size_t)h * n + t) * D,
					SPATTEN_DTYPE_F32, D);
}

static struct spatten_view odd_view(void *data, enum spatten_dtype dtype,
				    uint32_t heads, uint32_t D, uint32_t tpad)
{
	struct spatten_view v = {
		.data = (char *)data + (size_t)(heads - 1) * D *
			spatten_dtype_size(dtype),
		.dtype = dtype,
		.token_stride = tpad,
		.head_stride = -(int64_t)D,
	};

	return v;
}

/* @x's values as @dtype rounds them (the values a caller of @dtype has). */
static void round_to(struct seq *x, enum spatten_dtype dtype)
{
	size_t nq = (size_t)x->H * x->T * x->D, nk = (size_t)x->G * x->T * x->D;
	uint16_t *tmp;

	if (dtype == SPATTEN_DTYPE_F32)
		return;
	tmp = malloc(nq * 2);
	CHECK(tmp);
	if (!tmp)
		return;
	spatten_convert(tmp, dtype, x->q, SPATTEN_DTYPE_F32, nq);
	spatten_convert(x->q, SPATTEN_DTYPE_F32, tmp, dtype, nq);
	spatten_convert(tmp, dtype, x->k, SPATTEN_DTYPE_F32, nk);
	spatten_convert(x->k, SPATTEN_DTYPE_F32, tmp, dtype, nk);
	spatten_convert(tmp, dtype, x->v, SPATTEN_DTYPE_F32, nk);
	spatten_convert(x->v, SPATTEN_DTYPE_F32, tmp, dtype, nk);
	free(tmp);
}

/*
 * Views of every type and an odd layout (padded token rows, heads in
 * reverse) give, pass for pass, what the float API gives on the values
 * the type holds; an fp16 or bf16 output is the float output rounded
 * once. Pruning on (token, head, value, progressive keys), GQA 8/2.
 */
static void views_are_the_float_api(void)
{
	const uint32_t H = 8, G = 2, D = 64, P = 24, T = P + 3, L = 2;
	const uint32_t steps[] = { P, 1, 1, 1 }, tpad = H * D + 40;
	enum spatten_dtype dt;
	struct spatten_session_opts o;
	size_t per = (size_t)tpad * P * 4, outs = (size_t)H * T * D;
	void *qb = malloc(per), *kb = malloc(per), *vb = malloc(per);
	void *ob = malloc(per);
	float *ref = malloc(outs * 4), *got = malloc(outs * 4);
	float *rowf = malloc(outs * 4);
	struct seq x = { 0 };

	CHECK(qb && kb && vb && ob && ref && got && rowf);
	if (!qb || !kb || !vb || !ob || !ref || !got || !rowf ||
	    seq_init(&x, H, G, D, T, 11))
		goto out;
	for (dt = SPATTEN_DTYPE_F32; dt <= SPATTEN_DTYPE_BF16; dt++) {
		struct spatten_session *a, *b;
		uint32_t t0 = 0, i, l, n;
		float *r = ref, *g = got;

		round_to(&x, dt);
		pruned_opts(&o, L, 64);
		a = open_opts(&o);
		b = open_opts(&o);
		if (!a || !b) {
			spatten_session_destroy(a);
			spatten_session_destroy(b);
			goto out;
		}
		CHECK_EQ(run_float(a, L, &x, steps, 4, ref), 0);
		for (i = 0; i < 4; t0 += n, i++) {
			struct spatten_view qv, kv, vv, ov;
			float *tmp = rowf;

			n = steps[i];
			slice(tmp, x.q, H, T, D, t0, n);
			to_odd(qb, dt, tmp, H, n, D, tpad);
			slice(tmp, x.k, G, T, D, t0, n);
			to_odd(kb, dt, tmp, G, n, D, tpad);
			slice(tmp, x.v, G, T, D, t0, n);
			to_odd(vb, dt, tmp, G, n, D, tpad);
			qv = odd_view(qb, dt, H, D, tpad);
			kv = odd_view(kb, dt, G, D, tpad);
			vv = odd_view(vb, dt, G, D, tpad);
			ov = odd_view(ob, dt, H, D, tpad);
			for (l = 0; l < L; l++)
				CHECK_EQ(spatten_session_attend(b, l, n, &qv,
								&kv, &vv, &ov),
					 0);
			/* the last layer's output, back to [H][n][D] floats */
			for (l = 0; l < H * n; l++) {
				uint32_t h = l / n, t = l % n;

				spatten_convert(g + (size_t)l * D, SPATTEN_DTYPE_F32,
						(char *)ob + odd_index(H, tpad, D, t,
								       h, 0) *
						spatten_dtype_size(dt), dt, D);
			}
			/* what the float output becomes in the type */
			spatten_convert(tmp, dt, r, SPATTEN_DTYPE_F32,
					(size_t)H * n * D);
			spatten_convert(r, SPATTEN_DTYPE_F32, tmp, dt,
					(size_t)H * n * D);
			r += (size_t)H * n * D;
			g += (size_t)H * n * D;
		}
		CHECK(!memcmp(ref, got, outs * sizeof(float)));
		spatten_session_destroy(a);
		spatten_session_destroy(b);
	}
out:
	seq_free(&x);
	free(qb);
	free(kb);
	free(vb);
	free(ob);
	free(ref);
	free(got);
	free(rowf);
}

/* A bad view is refused before anything happens: the session goes on. */
static void bad_views_are_refused(void)
{
	const uint32_t H = 4, D = 16;
	float q[4 * 16], k[4 * 16], v[4 * 16], out[4 * 16];
	struct spatten_session_opts o;
	struct spatten_session *s;
	struct spatten_view qv, kv, vv, ov, bad;

	spatten_session_opts_init(&o, SPATTEN_SESSION_DECODER, 1, H, H, D, 8);
	s = open_opts(&o);
	if (!s)
		return;
	fill(q, H * D, 1);
	fill(k, H * D, 2);
	fill(v, H * D, 3);
	qv = spatten_view_thd(q, SPATTEN_DTYPE_F32, H, D);
	kv = spatten_view_thd(k, SPATTEN_DTYPE_F32, H, D);
	vv = spatten_view_thd(v, SPATTEN_DTYPE_F32, H, D);
	ov = spatten_view_thd(out, SPATTEN_DTYPE_F32, H, D);
#define BAD(field_stmt) do { \
	bad = qv; \
	field_stmt; \
	CHECK_EQ(spatten_session_attend(s, 0, 1, &bad, &kv, &vv, &ov), \
		 -EINVAL); \
	CHECK_EQ(spatten_session_attend(s, 0, 1, &qv, &kv, &vv, &bad), \
		 -EINVAL); \
} while (0)
	BAD(bad.data = NULL);
	BAD(bad.dtype = 3);
	BAD(bad.rsvd = 1);
	BAD(bad.data = (char *)q + 2);		/* misaligned float */
#undef BAD
	CHECK_EQ(spatten_session_attend(s, 0, 1, NULL, &kv, &vv, &ov), -EINVAL);
	CHECK_EQ(spatten_session_attend(s, 0, 1, &qv, NULL, &vv, &ov), -EINVAL);
	CHECK_EQ(spatten_session_attend(s, 0, 1, &qv, &kv, NULL, &ov), -EINVAL);
	CHECK_EQ(spatten_session_attend(NULL, 0, 1, &qv, &kv, &vv, &ov),
		 -EINVAL);
	/* bf16 at a 2-byte boundary is aligned */
	bad = spatten_view_thd((char *)q + 2, SPATTEN_DTYPE_BF16, H, D);
	CHECK_EQ(spatten_session_attend(s, 0, 1, &bad, &kv, &vv, NULL), 0);
	CHECK_EQ(spatten_session_context(s), 1);
	CHECK_EQ(spatten_session_attend(s, 0, 1, &qv, &kv, &vv, &ov), 0);
	CHECK_EQ(spatten_session_context(s), 2);
	spatten_session_destroy(s);
}

/* [G][n][D] float views of @x's tokens t0.., one per layer (all alike). */
static void layer_views(struct spatten_view *kv, struct spatten_view *vv,
			unsigned int layers, const struct seq *x)
{
	unsigned int l;

	for (l = 0; l < layers; l++) {
		kv[l] = spatten_view_htd(x->k, SPATTEN_DTYPE_F32, x->T, x->D);
		vv[l] = spatten_view_htd(x->v, SPATTEN_DTYPE_F32, x->T, x->D);
	}
}

/*
 * Without pruning, a cache imported is the cache a prompt pass leaves:
 * the generation steps after it give the same outputs bit for bit (the
 * scales come from the same rows), and the cache holds the same tokens.
 */
static void import_is_a_prompt_pass(void)
{
	const uint32_t H = 8, G = 2, D = 64, P = 40, L = 2, n_steps = 4;
	const uint32_t steps[] = { P, 1, 1, 1, 1 };
	const uint32_t T = P + n_steps;
	struct spatten_view kv[2], vv[2];
	struct spatten_session_opts o;
	struct spatten_session *a, *b;
	size_t outs = (size_t)H * T * D, gen = (size_t)H * n_steps * D;
	float *oa = malloc(outs * 4), *ob = malloc(outs * 4);
	struct seq x, prompt;
	uint32_t ids[64];

	CHECK(oa && ob);
	if (!oa || !ob || seq_init(&x, H, G, D, T, 21))
		goto out;
	spatten_session_opts_init(&o, SPATTEN_SESSION_DECODER, L, H, G, D, 64);
	o.rope_base = 10000;
	a = open_opts(&o);
	b = open_opts(&o);
	if (a && b) {
		CHECK_EQ(run_float(a, L, &x, steps, 5, oa), 0);
		/* the prompt's K and V alone: [G][P][D] */
		prompt = x;
		prompt.T = P;
		prompt.k = malloc((size_t)G * P * D * 4);
		prompt.v = malloc((size_t)G * P * D * 4);
		CHECK(prompt.k && prompt.v);
		if (prompt.k && prompt.v) {
			slice(prompt.k, x.k, G, T, D, 0, P);
			slice(prompt.v, x.v, G, T, D, 0, P);
			layer_views(kv, vv, L, &prompt);
			CHECK_EQ(spatten_session_import(b, P, kv, vv), 0);
			CHECK_EQ(spatten_session_context(b), P);
			CHECK_EQ(spatten_session_tokens(b, 1, NULL, 0), P);
			CHECK_EQ(spatten_session_cache(b, ids, NULL, 64), P);
			CHECK_EQ(ids[P - 1], P - 1);
		}
		free(prompt.k);
		free(prompt.v);
		/* the steps, after the prompt */
		{
			struct seq tail = x;
			float *q = malloc((size_t)H * n_steps * D * 4);
			float *k = malloc((size_t)G * n_steps * D * 4);
			float *v = malloc((size_t)G * n_steps * D * 4);
			const uint32_t ones[] = { 1, 1, 1, 1 };

			CHECK(q && k && v);
			if (q && k && v) {
				slice(q, x.q, H, T, D, P, n_steps);
				slice(k, x.k, G, T, D, P, n_steps);
				slice(v, x.v, G, T, D, P, n_steps);
				tail.q = q;
				tail.k = k;
				tail.v = v;
				tail.T = n_steps;
				CHECK_EQ(run_float(b, L, &tail, ones, 4, ob), 0);
				CHECK(!memcmp(oa + (size_t)H * P * D, ob,
					      gen * sizeof(float)));
			}
			free(q);
			free(k);
			free(v);
		}
		CHECK_EQ(spatten_session_context(b), T);
	}
	spatten_session_destroy(a);
	spatten_session_destroy(b);
	seq_free(&x);
out:
	free(oa);
	free(ob);
}

/*
 * Past 65535 slots the 16-bit list overflows; the 32-bit one holds them:
 * 70000 tokens imported are alive at every layer, slot i token i.
 */
static void alive_past_65535(void)
{
	enum { N = 70000, D = 16 };
	float *k = calloc((size_t)N * D, sizeof(float));
	uint32_t *list = malloc(N * sizeof(uint32_t));
	struct spatten_session_opts o;
	struct spatten_session *s;
	struct spatten_view kv[2], vv[2];
	uint16_t l16[4];
	unsigned int i, bad = 0;

	CHECK(k && list);
	if (!k || !list)
		goto out;
	spatten_session_opts_init(&o, SPATTEN_SESSION_DECODER, 2, 1, 1, D,
				  N + 8);
	s = open_opts(&o);
	if (!s)
		goto out;
	kv[0] = kv[1] = spatten_view_htd(k, SPATTEN_DTYPE_F32, N, D);
	vv[0] = vv[1] = kv[0];
	CHECK_EQ(spatten_session_import(s, N, kv, vv), 0);
	CHECK_EQ(spatten_session_tokens(s, 1, l16, 4), N);
	CHECK_EQ(spatten_session_tokens(s, 1, (uint16_t *)list, N),
		 -EOVERFLOW);
	CHECK_EQ(spatten_session_alive(s, 1, list, 4), N);
	CHECK_EQ(spatten_session_alive(s, 1, list, N), N);
	for (i = 0; i < N; i++)
		bad += list[i] != i;
	CHECK_EQ(bad, 0);
	CHECK_EQ(spatten_session_alive(s, 2, list, N), -EINVAL);
	CHECK_EQ(spatten_session_alive(s, 0, NULL, 1), -EINVAL);
	CHECK_EQ(spatten_session_alive(s, 0, NULL, 0), N);
	spatten_session_destroy(s);
out:
	free(k);
	free(list);
}

/* Import's refusals: each leaves the cache as it was. */
static void import_refusals(void)
{
	const uint32_t H = 4, G = 2, D = 16, L = 2;
	struct spatten_view kv[2], vv[2], bad[2];
	struct spatten_session_opts o;
	struct spatten_session *s;
	float *v1;
	struct seq x = { 0 };

	if (seq_init(&x, H, G, D, 40, 31))
		goto out;
	layer_views(kv, vv, L, &x);
	spatten_session_opts_init(&o, SPATTEN_SESSION_ENCODER, L, H, G, D, 32);
	s = open_opts(&o);
	CHECK_EQ(spatten_session_import(s, 4, kv, vv), -EINVAL);
	spatten_session_destroy(s);

	spatten_session_opts_init(&o, SPATTEN_SESSION_DECODER, L, H, G, D, 32);
	o.flags |= SPATTEN_SESSION_SATURATION_ERROR |
		   SPATTEN_SESSION_FIXED_SCALES;
	o.k_frac = o.v_frac = 11;	/* |x| < 16 in S16 */
	s = open_opts(&o);
	if (!s)
		goto out;
	CHECK_EQ(spatten_session_import(NULL, 4, kv, vv), -EINVAL);
	CHECK_EQ(spatten_session_import(s, 0, kv, vv), -EINVAL);
	CHECK_EQ(spatten_session_import(s, 4, NULL, vv), -EINVAL);
	CHECK_EQ(spatten_session_import(s, 33, kv, vv), -ENOSPC);
	memcpy(bad, kv, sizeof(bad));
	bad[1].dtype = 7;
	CHECK_EQ(spatten_session_import(s, 4, bad, vv), -EINVAL);
	CHECK_EQ(spatten_session_context(s), 0);
	/* a value that saturates at layer 1 only: nothing appended at 0 */
	v1 = malloc((size_t)G * x.T * D * sizeof(float));
	CHECK(v1);
	if (v1) {
		memcpy(v1, x.v, (size_t)G * x.T * D * sizeof(float));
		v1[3] = 100.0f;
		bad[0] = vv[0];
		bad[1] = spatten_view_htd(v1, SPATTEN_DTYPE_F32, x.T, D);
		CHECK_EQ(spatten_session_import(s, 4, kv, bad), -ERANGE);
		CHECK_EQ(spatten_session_context(s), 0);
		CHECK_EQ(spatten_session_tokens(s, 0, NULL, 0), 0);
		free(v1);
	}
	CHECK_EQ(spatten_session_import(s, 30, kv, vv), 0);
	CHECK_EQ(spatten_session_import(s, 3, kv, vv), -ENOSPC);
	CHECK_EQ(spatten_session_import(s, 2, kv, vv), 0);
	CHECK_EQ(spatten_session_context(s), 32);
	spatten_session_destroy(s);
	seq_free(&x);
out:
	return;
}

/*
 * A bounded cache filled by import: it evicts as after a prompt, and the
 * steps go on with a flat cache.
 */
static void import_into_a_bounded_cache(void)
{
	const uint32_t H = 4, G = 2, D = 16, L = 1, P = 100;
	struct spatten_view kv[1], vv[1];
	struct spatten_session_opts o;
	struct spatten_session *s;
	float q[4 * 16], k[2 * 16], v[2 * 16];
	uint32_t ids[128], i;
	struct seq x = { 0 };

	if (seq_init(&x, H, G, D, P, 41))
		return;
	layer_views(kv, vv, L, &x);
	spatten_session_opts_init(&o, SPATTEN_SESSION_DECODER, L, H, G, D, 128);
	o.kv_start = 2;
	o.kv_important = 10;
	o.kv_recent = 20;
	s = open_opts(&o);
	if (s) {
		CHECK_EQ(spatten_session_import(s, P, kv, vv), 0);
		for (i = 0; i < 40; i++) {
			fill(q, H * D, 100 + i);
			fill(k, G * D, 200 + i);
			fill(v, G * D, 300 + i);
			CHECK_EQ(spatten_session_layer(s, 0, 1, q, k, v, NULL), 0);
		}
		/* 28 steps fill it; the 29th evicts to 32; 12 appended */
		CHECK_EQ(spatten_session_context(s), 32 + 12);
		CHECK_EQ(spatten_session_cache(s, ids, NULL, 128), 44);
		CHECK_EQ(ids[0], 0);
		CHECK_EQ(ids[1], 1);
		CHECK_EQ(ids[43], P + 39);
		/* larger than the room an eviction would make: nothing evicted */
		CHECK_EQ(spatten_session_import(s, P, kv, vv), -ENOSPC);
		CHECK_EQ(spatten_session_context(s), 44);
		CHECK_EQ(spatten_session_layer(s, 0, 97, x.q, x.k, x.v, NULL),
			 board_takes_chunks() ? -ENOSPC : -EOPNOTSUPP);
		CHECK_EQ(spatten_session_context(s), 44);
		/* 96 fits once the cache is down to its budget of 32 */
		CHECK_EQ(spatten_session_import(s, 96, kv, vv), 0);
		CHECK_EQ(spatten_session_context(s), 128);
		spatten_session_destroy(s);
	}
	seq_free(&x);
}

/*
 * max_step bounds a pass: the work buffer holds that many tokens. A
 * prompt longer than it is refused (or taken in chunks on a board that
 * takes them).
 */
static void max_step_bounds_a_pass(void)
{
	const uint32_t H = 4, D = 16;
	struct spatten_session_opts o;
	struct spatten_session *s;
	struct seq x = { 0 };

	if (seq_init(&x, H, H, D, 40, 51))
		return;
	spatten_session_opts_init(&o, SPATTEN_SESSION_DECODER, 1, H, H, D, 64);
	o.max_step = 65;
	CHECK_EQ(spatten_session_open(dev_main, &o, &s), -EINVAL);
	o.max_step = 16;
	s = open_opts(&o);
	if (s) {
		CHECK_EQ(spatten_session_layer(s, 0, 17, x.q, x.k, x.v, NULL),
			 -EINVAL);
		CHECK_EQ(spatten_session_layer(s, 0, 16, x.q, x.k, x.v, NULL),
			 0);
		CHECK_EQ(spatten_session_layer(s, 0, 16, x.q, x.k, x.v, NULL),
			 board_takes_chunks() ? 0 : -EOPNOTSUPP);
		spatten_session_destroy(s);
	}
	seq_free(&x);
}

/*
 * A prompt in chunks is the prompt whole: with fixed scales and no
 * pruning, every output row of every layer is the same bit for bit; with
 * pruning, every chunk's tokens are kept at every layer.
 */
static void chunks_are_the_prompt_whole(void)
{
	const uint32_t H = 8, G = 2, D = 64, T = 48, L = 2;
	const uint32_t whole[] = { T }, chunked[] = { 16, 12, 1, 19 };
	struct spatten_session_opts o;
	struct spatten_session *a, *b;
	size_t outs = (size_t)H * T * D;
	float *oa = malloc(outs * 4), *ob = malloc(outs * 4);
	float *ra = malloc(outs * 4);
	uint16_t alive[64];
	uint32_t h, t0, i;
	struct seq x = { 0 };

	if (!board_takes_chunks()) {
		cur_skip = "the board takes no chunks";
		goto out;
	}
	CHECK(oa && ob && ra);
	if (!oa || !ob || !ra || seq_init(&x, H, G, D, T, 61))
		goto out;
	spatten_session_opts_init(&o, SPATTEN_SESSION_DECODER, L, H, G, D, 64);
	o.flags |= SPATTEN_SESSION_FIXED_SCALES;
	o.rope_base = 500000;
	a = open_opts(&o);
	b = open_opts(&o);
	if (a && b) {
		CHECK_EQ(run_float(a, L, &x, whole, 1, oa), 0);
		CHECK_EQ(run_float(b, L, &x, chunked, 4, ob), 0);
		/* ob is [chunk][H][n][D]: to [H][T][D] */
		for (i = 0, t0 = 0; i < 4; t0 += chunked[i++])
			for (h = 0; h < H; h++)
				memcpy(ra + ((size_t)h * T + t0) * D,
				       ob + (size_t)t0 * H * D +
				       (size_t)h * chunked[i] * D,
				       (size_t)chunked[i] * D * sizeof(float));
		CHECK(!memcmp(oa, ra, outs * sizeof(float)));
	}
	spatten_session_destroy(a);
	spatten_session_destroy(b);

	/* pruning: a chunk's tokens are all alive after it */
	pruned_opts(&o, L, 64);
	a = open_opts(&o);
	if (a) {
		CHECK_EQ(run_float(a, L, &x, chunked, 2, ob), 0);
		CHECK(spatten_session_tokens(a, 1, alive, 64) >= 12);
		i = (uint32_t)spatten_session_tokens(a, 1, alive, 64);
		CHECK(i <= 64);
		for (h = 0; h < 12 && i >= 12; h++)
			CHECK_EQ(alive[i - 12 + h], 16 + h);
	}
	spatten_session_destroy(a);
	seq_free(&x);
out:
	free(oa);
	free(ob);
	free(ra);
}

/*
 * A refused import chooses no scale: after an import that fails with
 * -ERANGE at its last layer (its first layer's rows 8 times larger), the
 * session gives, step for step, what a session that never saw it gives.
 */
static void refused_import_chooses_no_scale(void)
{
	enum { H = 4, G = 2, D = 16, L = 2, P = 12 };
	struct spatten_view kv[L], vv[L], bk[L], bv[L];
	struct spatten_session_opts o;
	struct spatten_session *a, *b;
	float big_k[G * P * D], big_v[G * P * D];
	float q[H * D], k1[G * D], v1[G * D], oa[H * D], ob[H * D];
	unsigned int i, l;
	struct seq x = { 0 };

	if (seq_init(&x, H, G, D, P, 71))
		return;
	layer_views(kv, vv, L, &x);
	for (i = 0; i < G * P * D; i++) {
		big_k[i] = x.k[i] * 8.0f;
		big_v[i] = x.v[i] * 1e6f;	/* beyond S16 at any scale */
	}
	bk[0] = spatten_view_htd(big_k, SPATTEN_DTYPE_F32, P, D);
	bk[1] = kv[1];
	bv[0] = vv[0];
	bv[1] = spatten_view_htd(big_v, SPATTEN_DTYPE_F32, P, D);
	spatten_session_opts_init(&o, SPATTEN_SESSION_DECODER, L, H, G, D, 64);
	o.flags |= SPATTEN_SESSION_SATURATION_ERROR;
	o.v_bits = 16;
	a = open_opts(&o);
	b = open_opts(&o);
	if (a && b) {
		CHECK_EQ(spatten_session_import(a, P, bk, bv), -ERANGE);
		CHECK_EQ(spatten_session_import(a, P, kv, vv), 0);
		CHECK_EQ(spatten_session_import(b, P, kv, vv), 0);
		for (i = 0; i < 3; i++) {
			fill(q, H * D, 500 + i);
			fill(k1, G * D, 600 + i);
			fill(v1, G * D, 700 + i);
			for (l = 0; l < L; l++) {
				CHECK_EQ(spatten_session_layer(a, l, 1, q, k1, v1,
							       oa), 0);
				CHECK_EQ(spatten_session_layer(b, l, 1, q, k1, v1,
							       ob), 0);
				CHECK(!memcmp(oa, ob, sizeof(oa)));
			}
		}
	}
	spatten_session_destroy(a);
	spatten_session_destroy(b);
	seq_free(&x);
}

/* The output may be the queries' own array: it is written after. */
static void output_over_the_queries(void)
{
	enum { H = 8, G = 2, D = 64, P = 20 };
	struct spatten_session_opts o;
	struct spatten_session *a, *b;
	struct spatten_view qv, kv, vv, ov;
	float *qa = malloc(H * P * D * sizeof(float));
	float *ob = malloc(H * P * D * sizeof(float));
	struct seq x = { 0 };

	CHECK(qa && ob);
	if (!qa || !ob || seq_init(&x, H, G, D, P, 81))
		goto out;
	memcpy(qa, x.q, H * P * D * sizeof(float));
	pruned_opts(&o, 1, 64);
	a = open_opts(&o);
	b = open_opts(&o);
	if (a && b) {
		kv = spatten_view_htd(x.k, SPATTEN_DTYPE_F32, P, D);
		vv = spatten_view_htd(x.v, SPATTEN_DTYPE_F32, P, D);
		qv = spatten_view_htd(qa, SPATTEN_DTYPE_F32, P, D);
		ov = qv;
		CHECK_EQ(spatten_session_attend(a, 0, P, &qv, &kv, &vv, &ov), 0);
		CHECK_EQ(spatten_session_layer(b, 0, P, x.q, x.k, x.v, ob), 0);
		CHECK(!memcmp(qa, ob, H * P * D * sizeof(float)));
	}
	spatten_session_destroy(a);
	spatten_session_destroy(b);
out:
	seq_free(&x);
	free(qa);
	free(ob);
}

static int board_has(uint32_t feature)
{
	struct spatten_info info;

	return !spatten_get_info(dev_main, &info) &&
	       (info.features & feature) == feature;
}

/* The policy, written out: the slots of @ids/@imp a head keeps, in order. */
static unsigned int policy_keep(const uint32_t *ids, const uint64_t *imp,
				unsigned int len, unsigned int start,
				unsigned int important, unsigned int recent,
				uint32_t *want)
{
	unsigned int mid_end = len - recent, mn = 0, nw = 0, i, j;
	uint32_t mid[64];

	for (i = 0; i < start; i++)
		want[nw++] = ids[i];
	for (i = start; i < mid_end; i++)
		mid[mn++] = i;
	for (i = 0; i < mn; i++)	/* selection sort, ties to the older */
		for (j = i + 1; j < mn; j++)
			if (imp[mid[j]] > imp[mid[i]] ||
			    (imp[mid[j]] == imp[mid[i]] && mid[j] < mid[i])) {
				uint32_t x = mid[i];

				mid[i] = mid[j];
				mid[j] = x;
			}
	for (i = start; i < mid_end; i++)
		for (j = 0; j < important && j < mn; j++)
			if (mid[j] == i)
				want[nw++] = ids[i];
	for (i = mid_end; i < len; i++)
		want[nw++] = ids[i];
	return nw;
}

/*
 * Before any eviction every head's slot i is token i, and the importance
 * per layer and KV head summed over both is the shared importance of the
 * same steps, bit for bit (an independent check of the [G][L] arrays).
 */
static void imp_sums_agree(const struct spatten_session *shared,
			   uint64_t (*imp)[2][24], int len)
{
	uint64_t want[24];
	int i;

	CHECK_EQ(spatten_session_cache(shared, NULL, want, 24), len);
	for (i = 0; i < len && i < 24; i++)
		CHECK_EQ(imp[0][0][i] + imp[0][1][i] + imp[1][0][i] +
			 imp[1][1][i], want[i]);
}

/*
 * Per-KV-head selection against the policy written out, head by head:
 * before each step that needs room, each layer's KV head keeps its first
 * kv_start tokens, the kv_important of its middle with the largest
 * importance of its own, and its kv_recent newest. GQA 8/2, head and
 * value pruning and progressive keys on, 2 layers, 60 steps over a
 * 24-slot cache; the heads must come to hold different tokens.
 */
static void per_head_cache_follows_the_policy(void)
{
	enum { L = 2, H = 8, G = 2, D = 64, C = 24, P = 10, STEPS = 60 };
	uint32_t ids[L][G][C], want[L][G][C + P];
	uint64_t imp[L][G][C];
	static float q[H * P * D], k[G * P * D], v[G * P * D];
	struct spatten_session_opts o;
	struct spatten_session *s = NULL, *shared = NULL;
	unsigned int t, l, g, i, evictions = 0, differ = 0;
	int len = 0, nw[L][G];

	if (!board_has(SPATTEN_FEAT_IMP_PER_KV_HEAD)) {
		cur_skip = "the board has no importance per KV head";
		return;
	}
	spatten_session_opts_init(&o, SPATTEN_SESSION_DECODER, L, H, G, D, C);
	o.kv_start = 2;
	o.kv_important = 6;
	o.kv_recent = 4;
	o.flags |= SPATTEN_SESSION_KV_PER_HEAD | SPATTEN_SESSION_PROGRESSIVE;
	o.k_bits = 8;
	o.rope_base = 10000;
	spatten_schedule_paper(&o.schedule, L, 1.0f, 1.0f, 0.75f, 0.75f,
			       0.5f);
	s = open_opts(&o);
	/* the same session selecting for all heads, until it first evicts */
	o.flags &= ~SPATTEN_SESSION_KV_PER_HEAD;
	shared = open_opts(&o);
	if (!s || !shared)
		goto out;
	CHECK_EQ(spatten_session_cache(s, NULL, NULL, 0), -EINVAL);
	CHECK_EQ(spatten_session_cache_head(s, L, 0, NULL, NULL, 0), -EINVAL);
	CHECK_EQ(spatten_session_cache_head(s, 0, G, NULL, NULL, 0), -EINVAL);
	for (t = 0; t <= STEPS && !cur_failed; t++) {
		unsigned int nn = t ? 1 : P;

		for (l = 0; l < L; l++)
			for (g = 0; g < G; g++) {
				len = spatten_session_cache_head(s, l, g,
								 ids[l][g],
								 imp[l][g], C);
				CHECK(len >= 0 && len <= C);
				if (len < 0 || len > C)
					goto out;
				if (t && len + 1 > C) {
					nw[l][g] = (int)policy_keep(
						ids[l][g], imp[l][g], len,
						o.kv_start, o.kv_important,
						o.kv_recent, want[l][g]);
				} else {
					nw[l][g] = len;
					memcpy(want[l][g], ids[l][g],
					       (size_t)len * sizeof(uint32_t));
				}
				for (i = 0; i < nn; i++)
					want[l][g][nw[l][g] + i] =
						(t ? P + t - 1 : 0) + i;
			}
		if (t && len + 1 > C)
			evictions++;
		if (!evictions)
			imp_sums_agree(shared, imp, len);
		fill(q, (size_t)H * nn * D, 1000 + t);
		fill(k, (size_t)G * nn * D, 2000 + t);
		fill(v, (size_t)G * nn * D, 3000 + t);
		for (l = 0; l < L; l++) {
			CHECK_EQ(spatten_session_layer(s, l, nn, q, k, v, NULL),
				 0);
			if (!evictions)
				CHECK_EQ(spatten_session_layer(shared, l, nn, q,
							       k, v, NULL), 0);
		}
		for (l = 0; l < L; l++)
			for (g = 0; g < G; g++) {
				int m = spatten_session_cache_head(s, l, g,
								   ids[l][g],
								   NULL, C);

				CHECK_EQ(m, nw[l][g] + (int)nn);
				CHECK(m == nw[l][g] + (int)nn &&
				      !memcmp(ids[l][g], want[l][g],
					      (size_t)m * sizeof(uint32_t)));
			}
		len = nw[0][0] + (int)nn;
		if (memcmp(ids[0][0], ids[0][1], (size_t)len * sizeof(uint32_t)) ||
		    memcmp(ids[0][0], ids[1][0], (size_t)len * sizeof(uint32_t)))
			differ++;
		if (cur_failed)
			printf("# step %u: a head's cache differs from the "
			       "policy\n", t);
	}
	printf("# %u evictions over %u steps; heads held different tokens "
	       "after %u steps; importance sums checked until the first\n",
	       evictions, STEPS, differ);
	CHECK(evictions >= 4);
	CHECK(differ > 0);
out:
	spatten_session_destroy(s);
	spatten_session_destroy(shared);
}

/* Per-KV-head selection's rules: a budget, no token pruning. */
static void per_head_needs_a_budget_and_no_token_pruning(void)
{
	struct spatten_session_opts o;
	struct spatten_session *s = NULL;
	uint32_t ids[8];

	spatten_session_opts_init(&o, SPATTEN_SESSION_DECODER, 2, 8, 2, 64,
				  32);
	o.flags |= SPATTEN_SESSION_KV_PER_HEAD;
	CHECK_EQ(spatten_session_open(dev_main, &o, &s), -EINVAL);
	o.kv_start = 2;
	o.kv_recent = 8;
	spatten_schedule_paper(&o.schedule, 2, 0.5f, 0.5f, 1.0f, 1.0f, 1.0f);
	CHECK_EQ(spatten_session_open(dev_main, &o, &s), -EINVAL);
	spatten_schedule_dense(&o.schedule);
	CHECK_EQ(spatten_session_open(dev_main, &o, &s),
		 board_has(SPATTEN_FEAT_IMP_PER_KV_HEAD) ? 0 : -EOPNOTSUPP);
	spatten_session_destroy(s);
	/* shared selection: every head holds what the cache holds */
	o.flags &= ~SPATTEN_SESSION_KV_PER_HEAD;
	s = open_opts(&o);
	if (!s)
		return;
	CHECK_EQ(spatten_session_cache_head(s, 1, 1, ids, NULL, 8), 0);
	spatten_session_destroy(s);
}

int main(void)
{
	int ret;

	ret = spatten_open(NULL, &dev_main);
	if (ret) {
		printf("1..0 # SKIP cannot open the default backend (%d)\n",
		       ret);
		return 0;
	}
	RUN(views_are_the_float_api);
	RUN(bad_views_are_refused);
	RUN(import_is_a_prompt_pass);
	RUN(import_refusals);
	RUN(alive_past_65535);
	RUN(import_into_a_bounded_cache);
	RUN(refused_import_chooses_no_scale);
	RUN(output_over_the_queries);
	RUN(max_step_bounds_a_pass);
	RUN(chunks_are_the_prompt_whole);
	RUN(per_head_cache_follows_the_policy);
	RUN(per_head_needs_a_budget_and_no_token_pruning);
	spatten_close(dev_main);
	return tap_done();
}
