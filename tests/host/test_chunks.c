// SPDX-License-Identifier: MIT
/*
 * Chunked generation (descriptor version 3, SPATTEN_FEAT_CHUNKS): a
 * generation job of q_rows >= 1 new tokens at slots q_start..kv_rows-1,
 * q_start + q_rows == kv_rows (docs/hardware.md, "Descriptor version 3").
 *
 *  1. A chunk against the independent double reference of llm_ref.c:
 *     causal attention of each new token over the slots up to itself,
 *     GQA, RoPE, value pruning, token importance.
 *  2. The key cross-check: a chunk of n new tokens with no token pruning
 *     is a causal summarization of the same kv_rows with q_start =
 *     kv_rows - n, bit for bit (output, tok_imp, head_imp, statistics,
 *     cycles), whatever else the job does (progressive keys, value
 *     pruning, RoPE, head pruning).
 *  3. A prompt in chunks, each chunk's tok_imp handed to the next: every
 *     row and the final importance equal one causal summarization of the
 *     whole prompt, bit for bit.
 *  4. Token pruning in a chunk: candidates are the listed old tokens and
 *     every new slot, listed or not; pinned and new tokens are kept
 *     unconditionally, top-k of the input importance picks the rest (the
 *     reference's selection is by qsort, llm_ref_tokens()); outputs and
 *     importance against the reference over the kept set.
 *  5. Run-time ERR_KEEP when token_keep is below the forced count
 *     (pinned + new), nothing written; ERR_SHAPE / ERR_POSITION from
 *     spe_run() for hand-built jobs that break the rules.
 *
 * q_rows == 1 generation is today's step: the golden hashes
 * (test_golden.c) and every earlier generation test pin it.
 */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "llm_job.h"
#include "llm_ref.h"
#include "tap.h"

#define FRAC12	.q_frac = 12, .k_frac = 12, .v_frac = 12, .out_frac = 12
#define AMP_Q	8192
#define AMP_K	8192
#define AMP_V	16384

static uint32_t k_row_bytes(const struct llm_spec *s)
{
	return llm_row_bytes(s->d, spatten_hw_fmt_bits(s->k_fmt));
}

static uint32_t v_row_bytes(const struct llm_spec *s)
{
	return llm_row_bytes(s->d, spatten_hw_fmt_bits(s->v_fmt));
}

static int32_t fmt_amp(uint8_t fmt, int32_t s16_amp)
{
	return fmt == SPATTEN_FMT_S16 ? s16_amp :
	       (1 << (spatten_hw_fmt_bits(fmt) - 1)) - 1;
}

static void init_job(struct llm_test *t, const struct llm_spec *s,
		     uint64_t seed)
{
	llm_test_init(t, s, AMP_Q, fmt_amp(s->k_fmt, AMP_K),
		      fmt_amp(s->v_fmt, AMP_V), seed, NULL, 0);
}

static int run_ok(struct llm_test *t, const char *name)
{
	int rc = llm_test_run(t);

	return ok(t->decode_rc == 0 && rc == 0,
		  "%s: decodes (%d) and runs (%d)", name, t->decode_rc, rc);
}

static void report_outputs(const char *name, const struct llm_ref *r,
			   const struct llm_test *t)
{
	struct llm_cmp c;

	llm_compare(r, &t->m, &t->job, &c);
	ok(llm_cmp_ok(&c), "%s: outputs within spe_out_tolerance %.3g (max "
	   "error %.3g, %.1f%% of it) and the per-element bound (%.0f%%), "
	   "others unwritten", name, c.doc_tol, c.max_err, 100 * c.worst_doc,
	   100 * c.worst_bound);
	if (!llm_cmp_ok(&c))
		diag("%s: %" PRIu64 " beyond the tolerance, %" PRIu64
		     " beyond the bound, %" PRIu64 " stray", name, c.over_doc,
		     c.over_bound, c.stray_out);
}

static int traffic_clean(const struct llm_test *t)
{
	return !t->m.stray && llm_mem_once(&t->m) &&
	       llm_mem_counts_match(&t->m, &t->res.stats);
}

/*
 * tok_imp written against input + the reference's sums: tokens the
 * reference gave nothing (not kept) must come back as read. Returns the
 * number of tokens outside their tolerance; *@worst the largest error
 * as a fraction of it.
 */
static uint32_t imp_bad(const struct llm_test *t, const struct llm_ref *r,
			const uint64_t *imp_in, uint32_t n_keys, double *worst)
{
	uint32_t i, bad = 0;

	*worst = 0;
	for (i = 0; i < t->s.kv_rows; i++) {
		double got = (double)llm_get_u64(&t->m, SPE_PLANE_TOK_IMP, i);
		double want = (double)imp_in[i] + r->imp[i];
		double tol = llm_imp_tolerance(r->contrib, n_keys, r->imp[i]);

		if (!r->imp[i]) {
			bad += got != (double)imp_in[i];
			continue;
		}
		if (fabs(got - want) / tol > *worst)
			*worst = fabs(got - want) / tol;
		bad += fabs(got - want) > tol;
	}
	return bad;
}

static uint64_t *random_imp(uint32_t kv, uint64_t seed)
{
	uint64_t *imp = calloc(kv, sizeof(*imp)), rs = seed;
	uint32_t i;

	if (!imp)
		abort();
	for (i = 0; i < kv; i++)
		imp[i] = llm_rand(&rs) % 100000;
	return imp;
}

/* ---- 1. Against the reference ---------------------------------------------- */

/*
 * A dense chunk (no token pruning) with tok_imp: every new row computed,
 * causal; importance = input + every (query head, row)'s probabilities.
 * K of every slot read once per KV head.
 */
static void check_chunk_ref(const char *name, struct llm_spec s,
			    uint64_t seed)
{
	uint64_t *imp_in = random_imp(s.kv_rows, seed);
	struct llm_ref r = { .s = NULL };
	struct llm_test t;
	double worst;
	uint32_t bad;

	init_job(&t, &s, seed);
	llm_put_u64s(&t.m, SPE_PLANE_TOK_IMP, imp_in, s.kv_rows);
	if (!run_ok(&t, name))
		goto out;
	r.s = &t.s;
	r.dt = &t.dt;
	llm_ref_run(&r);
	if (s.value_keep)
		ok(r.fragile == 0, "%s: no row's value selection depends on "
		   "float rounding (%u rows do)", name, r.fragile);
	report_outputs(name, &r, &t);
	bad = imp_bad(&t, &r, imp_in, s.kv_rows, &worst);
	ok(!bad && r.contrib == (uint64_t)s.heads * s.q_rows &&
	   t.res.stats.query_rows == (uint64_t)s.heads * s.q_rows,
	   "%s: tok_imp = input + sum over the %u x %u (head, new row) pairs "
	   "(worst %.0f%% of the bound)", name, s.heads, s.q_rows,
	   100 * worst);
	ok(t.res.stats.bytes[SPE_PLANE_K_MSB] ==
	   (uint64_t)s.kv_heads * s.kv_rows * k_row_bytes(&s) &&
	   t.res.stats.bytes[SPE_PLANE_Q] ==
	   (uint64_t)s.heads * s.q_rows * s.d * 2 && traffic_clean(&t),
	   "%s: K of every slot once per KV head, every Q row once; no byte "
	   "twice", name);
	llm_ref_free(&r);
out:
	llm_test_free(&t);
	free(imp_in);
}

static void test_reference(void)
{
	struct llm_spec s = {
		.heads = 8, .kv_heads = 2, .d = 64, .generation = 1,
		.flags = SPATTEN_DESC_F_CAUSAL, FRAC12,
		.k_fmt = SPATTEN_FMT_S16, .v_fmt = SPATTEN_FMT_S16,
		.q_rows = 17, .kv_rows = 300, .q_start = 283,
	};

	check_chunk_ref("chunk 17 at 283, 8/2 D64", s, 1);
	s.q_rows = 100, s.kv_rows = 400, s.q_start = 300;
	check_chunk_ref("chunk 100 at 300 (two causal blocks), 8/2 D64", s, 2);
	s.q_rows = s.kv_rows = 96, s.q_start = 0;
	check_chunk_ref("first chunk: 96 new tokens, no cache, 8/2 D64", s, 3);
	s.heads = 32, s.kv_heads = 8, s.d = 128;
	s.q_rows = 2, s.kv_rows = 1000, s.q_start = 998;
	s.flags |= SPATTEN_DESC_F_ROPE, s.rope_base = 500000;
	check_chunk_ref("RoPE chunk 2 at 998, 32/8 D128", s, 4);
	s.heads = 4, s.kv_heads = 1, s.d = 64, s.rope_base = 10000;
	s.q_rows = 40, s.kv_rows = 240, s.q_start = 200, s.value_keep = 24;
	check_chunk_ref("RoPE + value_keep 24, chunk 40 at 200, MQA 4/1", s,
			5);
}

/* ---- 2. A chunk is the causal summarization of its rows --------------------- */

/* Both runs: the same operands (same seed), output and cascade state. */
static int same_bits(const struct llm_test *a, const struct llm_test *b)
{
	static const enum spe_plane planes[] = {
		SPE_PLANE_OUT, SPE_PLANE_TOK_IMP, SPE_PLANE_HEAD_IMP,
		SPE_PLANE_HEAD_KEPT,
	};
	size_t i;

	for (i = 0; i < sizeof(planes) / sizeof(planes[0]); i++) {
		enum spe_plane p = planes[i];

		if (a->m.size[p] != b->m.size[p] ||
		    (a->m.size[p] &&
		     memcmp(a->m.data[p], b->m.data[p], a->m.size[p])))
			return 0;
	}
	return !memcmp(&a->res.stats, &b->res.stats, sizeof(a->res.stats)) &&
	       a->res.cycles == b->res.cycles &&
	       a->res.lsb_refetches == b->res.lsb_refetches;
}

/*
 * @s as a chunk (generation) and as a causal summarization of the same
 * kv_rows and q_start: every output bit, the importance written, the
 * statistics and the cycles agree. @alive: head_alive (n_head_alive).
 */
static void check_vs_prefill(const char *name, struct llm_spec s,
			     const uint32_t *alive, uint64_t seed)
{
	uint64_t *imp_in = random_imp(s.kv_rows, seed), *himp;
	struct llm_test t[2];
	int rc[2], dec[2], i, same;

	himp = random_imp(s.heads, seed + 1);
	for (i = 0; i < 2; i++) {
		s.generation = !i;
		init_job(&t[i], &s, seed);
		llm_put_u64s(&t[i].m, SPE_PLANE_TOK_IMP, imp_in, s.kv_rows);
		llm_put_u64s(&t[i].m, SPE_PLANE_HEAD_IMP, himp, s.heads);
		if (s.n_head_alive)
			llm_put_u32s(&t[i].m, SPE_PLANE_HEAD_ALIVE, alive,
				     s.n_head_alive);
		if (s.head_keep)
			llm_mem_alloc(&t[i].m, SPE_PLANE_HEAD_KEPT,
				      (size_t)s.head_keep * 4);
		rc[i] = llm_test_run(&t[i]);
		dec[i] = t[i].decode_rc;
	}
	same = !rc[0] && !rc[1] && same_bits(&t[0], &t[1]);
	ok(same && t[0].job.stage == SPATTEN_STAGE_GENERATION &&
	   t[0].res.stats.query_rows ==
	   (uint64_t)(s.n_head_alive ? s.n_head_alive : s.heads) * s.q_rows,
	   "%s: chunk (decode %d, run %d) == causal summarization (decode "
	   "%d, run %d) bit for bit: output, tok_imp, head_imp, statistics, "
	   "%" PRIu64 " cycles", name, dec[0], rc[0], dec[1], rc[1],
	   t[0].res.cycles);
	for (i = 0; i < 2; i++)
		llm_test_free(&t[i]);
	free(imp_in);
	free(himp);
}

static void test_vs_prefill(void)
{
	static const uint32_t alive[] = { 0, 1, 2, 5, 6 };
	struct llm_spec s = {
		.heads = 8, .kv_heads = 2, .d = 64,
		.flags = SPATTEN_DESC_F_CAUSAL, FRAC12,
		.k_fmt = SPATTEN_FMT_S16, .v_fmt = SPATTEN_FMT_S16,
		.q_rows = 33, .kv_rows = 500, .q_start = 467,
	};

	check_vs_prefill("chunk 33 at 467, 8/2 D64", s, NULL, 11);
	s.q_rows = 130, s.kv_rows = 700, s.q_start = 570;
	check_vs_prefill("chunk 130 at 570 (three causal blocks)", s, NULL,
			 12);
	s.flags |= SPATTEN_DESC_F_PROGRESSIVE;
	s.k_fmt = SPATTEN_FMT_S8, s.lsb_threshold = 9000;
	s.v_fmt = SPATTEN_FMT_S12, s.value_keep = 50;
	check_vs_prefill("progressive S8+4 K, S12 V, value_keep 50, chunk "
			 "130 at 570", s, NULL, 13);
	s.flags |= SPATTEN_DESC_F_ROPE, s.rope_base = 10000;
	s.n_head_alive = 5, s.head_keep = 3;
	check_vs_prefill("+ RoPE, 5 alive heads, head_keep 3", s, alive, 14);
	s.q_rows = s.kv_rows = 64, s.q_start = 0;
	check_vs_prefill("+ first chunk, 64 of 64", s, alive, 15);
}

/* ---- 3. A prompt in chunks ------------------------------------------------- */

/*
 * The logical operands of rows [from, to) of @full (Q) over slots
 * [0, to) (K, V) as a job of its own, placed packed.
 */
static void slice_job(struct llm_test *t, const struct llm_spec *s,
		      const struct llm_data *full, uint32_t full_kv,
		      uint64_t seed)
{
	uint32_t h, g, d = s->d;

	memset(t, 0, sizeof(*t));
	t->s = *s;
	llm_caps(&t->caps);
	llm_mem_init(&t->m);
	t->dt.nq = s->heads * s->q_rows * d;
	t->dt.nkv = s->kv_heads * s->kv_rows * d;
	t->dt.q = calloc(t->dt.nq, sizeof(int16_t));
	t->dt.k = calloc(t->dt.nkv, sizeof(int16_t));
	t->dt.v = calloc(t->dt.nkv, sizeof(int16_t));
	if (!t->dt.q || !t->dt.k || !t->dt.v)
		abort();
	for (h = 0; h < s->heads; h++)
		memcpy(t->dt.q + (size_t)h * s->q_rows * d,
		       full->q + ((size_t)h * full_kv + s->q_start) * d,
		       (size_t)s->q_rows * d * sizeof(int16_t));
	for (g = 0; g < s->kv_heads; g++) {
		memcpy(t->dt.k + (size_t)g * s->kv_rows * d,
		       full->k + (size_t)g * full_kv * d,
		       (size_t)s->kv_rows * d * sizeof(int16_t));
		memcpy(t->dt.v + (size_t)g * s->kv_rows * d,
		       full->v + (size_t)g * full_kv * d,
		       (size_t)s->kv_rows * d * sizeof(int16_t));
	}
	llm_place(&t->m, s, &t->dt, NULL, 0, seed);
}

/*
 * A prompt of @n_chunks x @chunk tokens (after a first summarization of
 * @chunk rows) against one causal summarization of the whole prompt:
 * every output row and the final tok_imp, bit for bit; each chunk's
 * importance is passed on as the next one's input (a cache that grows).
 */
static void check_chain(const char *name, struct llm_spec s, uint32_t chunk,
			uint32_t n_chunks, uint64_t seed)
{
	uint32_t total = chunk * n_chunks, c, h, row, x, bad_rows = 0;
	uint64_t *imp = calloc(total, sizeof(*imp));
	struct llm_test whole, part;
	int bad_rc = 0, bad_imp = 0;

	if (!imp)
		abort();
	s.q_rows = s.kv_rows = total, s.q_start = 0, s.generation = 0;
	init_job(&whole, &s, seed);
	llm_put_u64s(&whole.m, SPE_PLANE_TOK_IMP, imp, total);
	bad_rc |= llm_test_run(&whole) != 0;

	for (c = 0; c < n_chunks; c++) {
		struct llm_spec cs = s;

		cs.q_rows = chunk, cs.kv_rows = chunk * (c + 1);
		cs.q_start = chunk * c, cs.generation = c > 0;
		slice_job(&part, &cs, &whole.dt, total, seed + c);
		llm_put_u64s(&part.m, SPE_PLANE_TOK_IMP, imp, cs.kv_rows);
		bad_rc |= llm_test_run(&part) != 0;
		bad_rc |= part.job.stage != cs.generation;
		for (h = 0; h < s.heads; h++)
			for (row = 0; row < chunk; row++)
				for (x = 0; x < s.d; x++)
					if (llm_out(&part.m, &cs, h, row, x) !=
					    llm_out(&whole.m, &s, h,
						    cs.q_start + row, x)) {
						bad_rows++;
						x = s.d;
					}
		for (x = 0; x < cs.kv_rows; x++)
			imp[x] = llm_get_u64(&part.m, SPE_PLANE_TOK_IMP, x);
		llm_test_free(&part);
	}
	for (x = 0; x < total; x++)
		bad_imp += imp[x] != llm_get_u64(&whole.m, SPE_PLANE_TOK_IMP, x);
	ok(!bad_rc && !bad_rows && !bad_imp,
	   "%s: %u tokens as a summarization of %u then %u chunks of %u == "
	   "one causal summarization: every (head, row) bit for bit (%u "
	   "differ), tok_imp summed over the chunks equal (%d differ)",
	   name, total, chunk, n_chunks - 1, chunk, bad_rows, bad_imp);
	llm_test_free(&whole);
	free(imp);
}

static void test_chain(void)
{
	struct llm_spec s = {
		.heads = 8, .kv_heads = 2, .d = 64,
		.flags = SPATTEN_DESC_F_CAUSAL, FRAC12,
		.k_fmt = SPATTEN_FMT_S16, .v_fmt = SPATTEN_FMT_S16,
	};

	check_chain("GQA 8/2 D64", s, 40, 3, 21);
	s.flags |= SPATTEN_DESC_F_ROPE | SPATTEN_DESC_F_PROGRESSIVE;
	s.rope_base = 10000, s.lsb_threshold = 12000;
	s.k_fmt = SPATTEN_FMT_S10, s.v_fmt = SPATTEN_FMT_S8, s.value_keep = 30;
	check_chain("RoPE, progressive S10+4, S8 V, value_keep 30", s, 72, 4,
		    22);
}

/* ---- 4. Token pruning in a chunk ------------------------------------------- */

/*
 * Token pruning of a chunk with a tok_alive list (@alive; it may name
 * some of the new slots) and pinned tokens: the kept set is the
 * reference's (forced: pinned and new; the rest by importance), the
 * outputs and importance match the reference over that set, and K/V
 * are read for the kept tokens only.
 */
static void check_prune(const char *name, struct llm_spec s,
			const uint32_t *alive, const uint32_t *pinned,
			uint64_t seed)
{
	uint32_t kv = s.kv_rows, n_t, i, newk = 0;
	uint32_t *tok = calloc(kv + 1, sizeof(*tok));
	uint64_t *imp_in = random_imp(kv, seed);
	struct llm_ref r = { .s = NULL };
	struct llm_test t;
	double worst;
	uint32_t bad;
	int kept_ok;

	n_t = llm_ref_tokens(&s, alive, pinned, imp_in, tok);
	init_job(&t, &s, seed);
	llm_put_u64s(&t.m, SPE_PLANE_TOK_IMP, imp_in, kv);
	llm_mem_alloc(&t.m, SPE_PLANE_TOK_KEPT, (size_t)s.token_keep * 4);
	if (s.n_tok_alive)
		llm_put_u32s(&t.m, SPE_PLANE_TOK_ALIVE, alive, s.n_tok_alive);
	if (s.n_pinned)
		llm_put_u32s(&t.m, SPE_PLANE_PINNED, pinned, s.n_pinned);
	if (!run_ok(&t, name))
		goto out;

	kept_ok = n_t == s.token_keep && t.res.stats.tokens_kept == n_t;
	for (i = 0; kept_ok && i < n_t; i++)
		kept_ok &= llm_get_u32(&t.m, SPE_PLANE_TOK_KEPT, i) == tok[i];
	for (i = 0; i < n_t; i++)
		newk += tok[i] >= s.q_start;
	ok(kept_ok && newk == s.q_rows, "%s: tok_kept is the reference's %u "
	   "tokens, all %u new ones among them", name, n_t, s.q_rows);

	r.s = &t.s;
	r.dt = &t.dt;
	r.tok = tok;
	r.n_tok = n_t;
	llm_ref_run(&r);
	report_outputs(name, &r, &t);
	bad = imp_bad(&t, &r, imp_in, n_t, &worst);
	ok(!bad && t.res.stats.query_rows == (uint64_t)s.heads * s.q_rows,
	   "%s: tok_imp = input + the kept tokens' sums (worst %.0f%% of the "
	   "bound), the others unchanged; every new row computed", name,
	   100 * worst);
	ok(t.res.stats.bytes[SPE_PLANE_K_MSB] ==
	   (uint64_t)s.kv_heads * n_t * k_row_bytes(&s) &&
	   t.res.stats.bytes[SPE_PLANE_V] ==
	   (uint64_t)s.kv_heads * n_t * v_row_bytes(&s) && traffic_clean(&t),
	   "%s: K and V of the %u kept tokens only, once per KV head", name,
	   n_t);
	llm_ref_free(&r);
out:
	llm_test_free(&t);
	free(tok);
	free(imp_in);
}

static void test_prune(void)
{
	/* old tokens alive; new slots 290..299: 291 and 297 listed */
	static uint32_t alive[200];
	/* listed: 0, 2, 3, 5, 6, ... (not 1 mod 3) */
	static const uint32_t pinned[] = { 0, 2, 3, 150, 295 };
	struct llm_spec s = {
		.heads = 8, .kv_heads = 2, .d = 64, .generation = 1,
		.flags = SPATTEN_DESC_F_CAUSAL, FRAC12,
		.k_fmt = SPATTEN_FMT_S16, .v_fmt = SPATTEN_FMT_S16,
		.q_rows = 10, .kv_rows = 300, .q_start = 290,
	};
	uint32_t i, n = 0;

	for (i = 0; i < 290; i += 1 + (i % 3 == 0))
		alive[n++] = i;
	alive[n++] = 291;
	alive[n++] = 297;

	s.token_keep = 100;
	check_prune("chunk 10 at 290, keep 100 of 300, no list", s, NULL,
		    NULL, 31);
	s.n_tok_alive = n, s.token_keep = 120;
	check_prune("chunk 10 at 290, keep 120 of a list naming 2 new slots",
		    s, alive, NULL, 32);
	s.n_pinned = 5;
	check_prune("+ 5 pinned (one of them new)", s, alive, pinned, 33);
	/* exactly the forced tokens: 4 old pinned + 10 new */
	s.token_keep = 14;
	check_prune("token_keep == forced (4 pinned + 10 new)", s, alive,
		    pinned, 34);
	s.flags |= SPATTEN_DESC_F_ROPE, s.rope_base = 10000;
	s.n_pinned = 0, s.token_keep = 100, s.n_tok_alive = 0;
	s.q_rows = 70, s.kv_rows = 200, s.q_start = 130;
	check_prune("RoPE chunk 70 at 130, keep 100 of 200", s, NULL, NULL,
		    35);
}

/* ---- 5. Errors ------------------------------------------------------------- */

/*
 * token_keep below the forced count (pinned + every new token) is found
 * when the lists are read: ERR_KEEP, and nothing is written (output
 * sentinels, tok_imp and tok_kept untouched).
 */
static void check_keep_below_forced(const char *name, struct llm_spec s,
				    const uint32_t *pinned, uint64_t seed)
{
	uint64_t *imp_in = random_imp(s.kv_rows, seed);
	struct llm_test t;
	int rc;

	init_job(&t, &s, seed);
	llm_put_u64s(&t.m, SPE_PLANE_TOK_IMP, imp_in, s.kv_rows);
	llm_mem_alloc(&t.m, SPE_PLANE_TOK_KEPT, (size_t)s.token_keep * 4);
	if (s.n_pinned)
		llm_put_u32s(&t.m, SPE_PLANE_PINNED, pinned, s.n_pinned);
	rc = llm_test_run(&t);
	ok(t.decode_rc == 0 && rc == SPATTEN_HW_ERR_KEEP &&
	   llm_mem_written(&t.m) == 0 && !t.m.stray,
	   "%s: decodes (%d), runs to ERR_KEEP (%d), writes nothing", name,
	   t.decode_rc, rc);
	llm_test_free(&t);
	free(imp_in);
}

/*
 * spe_run() of a decoded chunk changed by hand (spe_run() checks the
 * jobs it is handed): its status; -1 if a failed run wrote anything.
 */
static int run_broken(const struct llm_spec *s, void (*brk)(struct spe_job *),
		      uint64_t seed)
{
	struct llm_test t;
	int rc;

	init_job(&t, s, seed);
	rc = llm_decode(&t.s, &t.m, &t.caps, &t.job);
	if (!rc) {
		brk(&t.job);
		rc = llm_run(&t.m, &t.job, &t.caps, &t.res);
		if ((rc && llm_mem_written(&t.m)) || t.m.stray)
			rc = -1;
	}
	llm_test_free(&t);
	return rc;
}

static void brk_none(struct spe_job *j)
{
	(void)j;
}

static void brk_v2(struct spe_job *j)
{
	j->version = SPATTEN_DESC_VERSION;
}

static void brk_v1(struct spe_job *j)
{
	j->version = 1;
	j->list_bytes = 0;
}

static void brk_end_early(struct spe_job *j)
{
	j->q_start--;
}

static void brk_end_late(struct spe_job *j)
{
	j->kv_rows--;
}

static void brk_not_causal(struct spe_job *j)
{
	j->flags &= ~SPATTEN_DESC_F_CAUSAL;
	j->q_start = 0;
	j->kv_rows = j->q_rows;
}

static void test_errors(void)
{
	static const uint32_t pinned[] = { 1, 7, 20 };
	struct llm_spec s = {
		.heads = 4, .kv_heads = 2, .d = 32, .generation = 1,
		.flags = SPATTEN_DESC_F_CAUSAL, FRAC12,
		.k_fmt = SPATTEN_FMT_S16, .v_fmt = SPATTEN_FMT_S16,
		.q_rows = 8, .kv_rows = 64, .q_start = 56,
	};
	int good = 1;

	s.token_keep = 7;
	check_keep_below_forced("chunk 8, token_keep 7 (< 8 new)", s, NULL,
				41);
	s.token_keep = 10, s.n_pinned = 3;
	check_keep_below_forced("chunk 8 + 3 pinned, token_keep 10 (< 11)",
				s, pinned, 42);

	s.token_keep = 0, s.n_pinned = 0;
	good &= run_broken(&s, brk_none, 43) == SPATTEN_HW_OK;
	good &= run_broken(&s, brk_v2, 43) == SPATTEN_HW_ERR_SHAPE;
	good &= run_broken(&s, brk_v1, 43) == SPATTEN_HW_ERR_SHAPE;
	ok(good, "spe_run(): a chunk of version 1 or 2 is ERR_SHAPE (version "
	   "3 runs), nothing written");
	good = 1;
	good &= run_broken(&s, brk_end_early, 44) == SPATTEN_HW_ERR_POSITION;
	good &= run_broken(&s, brk_end_late, 44) == SPATTEN_HW_ERR_POSITION;
	good &= run_broken(&s, brk_not_causal, 44) == SPATTEN_HW_ERR_POSITION;
	ok(good, "spe_run(): a chunk ending before kv_rows or after it, or "
	   "without CAUSAL, is ERR_POSITION, nothing written");
}

int main(void)
{
	test_reference();
	test_vs_prefill();
	test_chain();
	test_prune();
	test_errors();
	return done_testing();
}
