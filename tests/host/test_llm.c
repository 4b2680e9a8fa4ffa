// SPDX-License-Identifier: MIT
/*
 * Descriptor version 3 against an independent double-precision reference
 * (llm_ref.c): grouped-query attention on the shapes of today's LLMs,
 * GQA with head, token and value pruning, long contexts (> 65535 slots)
 * with 32-bit lists, the scratch cap, and score_scale. Every job is a
 * 512-byte descriptor built here, decoded by spe_desc_decode() and run
 * by spe_run() over plain process memory whose callbacks count and log
 * every access (llm_job.c). KV layouts: test_llm_layout.c; RoPE:
 * test_llm_rope.c.
 *
 * Outputs are checked against spe_out_tolerance() (the documented bound)
 * and against the reference's per-element bound (llm_ref.c), which is
 * what still means something at 70000+ keys, where the documented bound
 * exceeds max|V|.
 */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "llm_job.h"
#include "llm_ref.h"
#include "tap.h"

/* 12 fractional bits everywhere: |Q|, |K| <= 2, |V| <= 4 with these amps */
#define FRAC12	.q_frac = 12, .k_frac = 12, .v_frac = 12, .out_frac = 12
#define AMP_Q	8192
#define AMP_K	8192
#define AMP_V	16384

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static uint32_t k_row_bytes(const struct llm_spec *s)
{
	return llm_row_bytes(s->d, spatten_hw_fmt_bits(s->k_fmt));
}

static uint32_t v_row_bytes(const struct llm_spec *s)
{
	return llm_row_bytes(s->d, spatten_hw_fmt_bits(s->v_fmt));
}

/* Raw amplitude of a K or V format: S16 as above, Sn its full range. */
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

/*
 * The job again with struct spe_mem's map and map_gather, in place and
 * with map_gather's spans at odd addresses, from the same operands: the
 * same bytes in every plane, the same results and traffic. Pruned
 * generation steps read their kept K and V rows through index lists
 * there, progressive ones score from the packed plane (docs/engine.md
 * section 1). Jobs past 20000 slots are left out (time).
 */
static void check_map_modes(const char *name, struct llm_test *t,
			    uint8_t *const *before)
{
	uint8_t *after[SPE_PLANE_COUNT];
	struct spe_result first = t->res, res;
	uint64_t rbytes[SPE_PLANE_COUNT];
	unsigned int gathers = 0, bad = 0;
	int mode, p;

	for (p = 0; p < SPE_PLANE_COUNT; p++) {
		after[p] = t->m.size[p] ? malloc(t->m.size[p]) : NULL;
		if (after[p])
			memcpy(after[p], t->m.data[p], t->m.size[p]);
		rbytes[p] = t->m.rbytes[p];
	}
	for (mode = LLM_MAP_IN_PLACE; mode <= LLM_MAP_ODD; mode++) {
		for (p = 0; p < SPE_PLANE_COUNT; p++)
			if (before[p])
				memcpy(t->m.data[p], before[p], t->m.size[p]);
		llm_mem_set_map(&t->m, mode);
		if (llm_run(&t->m, &t->job, &t->caps, &res) ||
		    res.cycles != first.cycles ||
		    res.lsb_refetches != first.lsb_refetches ||
		    memcmp(&res.stats, &first.stats, sizeof(res.stats)))
			bad++;
		for (p = 0; p < SPE_PLANE_COUNT; p++)
			if ((after[p] && memcmp(after[p], t->m.data[p],
						t->m.size[p])) ||
			    t->m.rbytes[p] != rbytes[p])
				bad++;
		gathers += t->m.gathers;
		llm_mem_set_map(&t->m, LLM_MAP_NONE);
	}
	ok(!bad, "%s: with map and map_gather (in place, at odd addresses): "
	   "the same planes, results and traffic (%u index-list spans)",
	   name, gathers);
	for (p = 0; p < SPE_PLANE_COUNT; p++)
		free(after[p]);
	t->res = first;
}

/* Decode and run; one ok() that both passed; then the map modes. */
static int run_ok(struct llm_test *t, const char *name)
{
	uint8_t *before[SPE_PLANE_COUNT];
	int rc, p, ret;

	for (p = 0; p < SPE_PLANE_COUNT; p++) {
		before[p] = t->m.size[p] ? malloc(t->m.size[p]) : NULL;
		if (before[p])
			memcpy(before[p], t->m.data[p], t->m.size[p]);
	}
	rc = llm_test_run(t);
	ret = ok(t->decode_rc == 0 && rc == 0,
		 "%s: decodes (%d) and runs (%d)", name, t->decode_rc, rc);
	if (ret && t->job.kv_rows <= 20000)
		check_map_modes(name, t, before);
	for (p = 0; p < SPE_PLANE_COUNT; p++)
		free(before[p]);
	return ret;
}

/* The output check every reference comparison makes. */
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

/* No stray access, nothing twice, our counts == the engine's. */
static int traffic_clean(const struct llm_test *t)
{
	return !t->m.stray && llm_mem_once(&t->m) &&
	       llm_mem_counts_match(&t->m, &t->res.stats);
}

/* ---- 1. Grouped-query attention ------------------------------------------ */

/*
 * A dense job against repeat-KV attention: query head h uses KV head
 * h / (heads / kv_heads). K and V of each KV head are read once, in one
 * read each (packed layout), whatever the number of its query heads.
 */
static void check_gqa(const char *name, struct llm_spec s, uint64_t seed)
{
	uint32_t vis = s.flags & SPATTEN_DESC_F_CAUSAL ? s.q_start + s.q_rows :
							 s.kv_rows;
	uint64_t k_want = (uint64_t)s.kv_heads * vis * k_row_bytes(&s);
	uint64_t v_want = (uint64_t)s.kv_heads * vis * v_row_bytes(&s);
	uint64_t q_want = (uint64_t)s.heads * s.q_rows * s.d * 2;
	const uint64_t *b;
	struct llm_ref r = { .s = NULL };
	struct llm_test t;

	init_job(&t, &s, seed);
	if (run_ok(&t, name)) {
		r.s = &t.s;
		r.dt = &t.dt;
		llm_ref_run(&r);
		report_outputs(name, &r, &t);
		llm_ref_free(&r);
		b = t.res.stats.bytes;
		ok(b[SPE_PLANE_K_MSB] == k_want && b[SPE_PLANE_V] == v_want &&
		   b[SPE_PLANE_Q] == q_want && b[SPE_PLANE_OUT] == q_want &&
		   t.m.rlog[SPE_PLANE_K_MSB].n == s.kv_heads &&
		   t.m.rlog[SPE_PLANE_V].n == s.kv_heads && traffic_clean(&t),
		   "%s: K %" PRIu64 " = %u KV heads x %u rows x %u bytes, V %"
		   PRIu64 ", one read each per KV head (%zu, %zu), Q and out %"
		   PRIu64 "; no byte twice", name, b[SPE_PLANE_K_MSB],
		   s.kv_heads, vis, k_row_bytes(&s), b[SPE_PLANE_V],
		   t.m.rlog[SPE_PLANE_K_MSB].n, t.m.rlog[SPE_PLANE_V].n,
		   b[SPE_PLANE_Q]);
	}
	llm_test_free(&t);
}

static void test_gqa(void)
{
	const struct llm_spec base = {
		.k_fmt = SPATTEN_FMT_S16, .v_fmt = SPATTEN_FMT_S16, FRAC12,
	};
	struct llm_spec s;

	s = base;	/* Llama-style groups of 4 */
	s.heads = 8, s.kv_heads = 2, s.d = 64, s.q_rows = s.kv_rows = 80;
	s.flags = SPATTEN_DESC_F_CAUSAL;
	check_gqa("GQA 8/2 D64 causal prefill 80", s, 1);
	s.flags = 0, s.q_rows = 40, s.kv_rows = 100;
	check_gqa("GQA 8/2 D64 non-causal 40x100", s, 2);
	s.generation = 1, s.flags = SPATTEN_DESC_F_CAUSAL;
	s.q_rows = 1, s.kv_rows = 300, s.q_start = 299;
	check_gqa("GQA 8/2 D64 generation at 300", s, 3);

	s = base;	/* Llama-3-8B's heads */
	s.heads = 32, s.kv_heads = 8, s.d = 128;
	s.generation = 1, s.flags = SPATTEN_DESC_F_CAUSAL;
	s.q_rows = 1, s.kv_rows = 1000, s.q_start = 999;
	check_gqa("GQA 32/8 D128 generation at 1000", s, 4);
	s.generation = 0, s.q_rows = 48, s.kv_rows = 96, s.q_start = 48;
	check_gqa("GQA 32/8 D128 causal chunk 48 at 48", s, 5);

	s = base;	/* multi-query */
	s.heads = 8, s.kv_heads = 1, s.d = 64, s.q_rows = s.kv_rows = 64;
	s.flags = SPATTEN_DESC_F_CAUSAL;
	check_gqa("MQA 8/1 D64 causal prefill 64", s, 6);
	s.heads = 16, s.d = 128, s.generation = 1;
	s.q_rows = 1, s.kv_rows = 500, s.q_start = 499;
	check_gqa("MQA 16/1 D128 generation at 500", s, 7);

	s = base;	/* plain multi-head in version 3 */
	s.heads = s.kv_heads = 4, s.d = 32, s.q_rows = 30, s.kv_rows = 70;
	check_gqa("MHA 4/4 D32 non-causal 30x70", s, 8);

	s = base;	/* packed K and V */
	s.heads = 8, s.kv_heads = 2, s.d = 64, s.generation = 1;
	s.flags = SPATTEN_DESC_F_CAUSAL;
	s.q_rows = 1, s.kv_rows = 333, s.q_start = 332;
	s.k_fmt = SPATTEN_FMT_S8, s.k_frac = 5;
	s.v_fmt = SPATTEN_FMT_S4, s.v_frac = 1;
	check_gqa("GQA 8/2 D64 S8 K S4 V generation at 333", s, 9);
}

/* ---- 2. GQA with pruning ------------------------------------------------- */

/* The two of @n >= 2 alive heads with the largest @imp, ascending. */
static void top2_alive(const uint64_t *imp, const uint32_t *alive, uint32_t n,
		       uint32_t out[2])
{
	uint32_t a = alive[0], b = alive[1], i;

	if (imp[b] > imp[a]) {
		a = alive[1];
		b = alive[0];
	}
	for (i = 2; i < n; i++) {
		if (imp[alive[i]] > imp[a]) {
			b = a;
			a = alive[i];
		} else if (imp[alive[i]] > imp[b]) {
			b = alive[i];
		}
	}
	out[0] = a < b ? a : b;
	out[1] = a < b ? b : a;
}

/*
 * head_alive: the query heads of a group all dead means its KV head is
 * never read (no read touches its rows). head_keep: head importance
 * spaced 2^40 apart, so the kept heads are the top by the input whatever
 * the job adds, and each alive head adds exactly sum |raw out| <<
 * (16 - out_frac) of its own written output.
 */
static void check_head_alive(const char *name, uint32_t heads,
			     uint32_t kv_heads, const uint32_t *alive,
			     uint32_t n_alive, uint64_t seed)
{
	struct llm_spec s = {
		.heads = heads, .kv_heads = kv_heads, .d = 64,
		.q_rows = 48, .kv_rows = 48, .flags = SPATTEN_DESC_F_CAUSAL,
		.k_fmt = SPATTEN_FMT_S16, .v_fmt = SPATTEN_FMT_S16, FRAC12,
		.n_head_alive = (uint16_t)n_alive, .head_keep = 2,
	};
	uint32_t group = heads / kv_heads, kb = k_row_bytes(&s), g, h, i, x;
	uint64_t head_in[64], kv_bytes = (uint64_t)s.kv_rows * kb;
	uint32_t dead_reads = 0, groups_alive = 0, top[2];
	int imp_ok = 1, kept_ok;
	struct llm_ref r = { .s = NULL };
	struct llm_test t;

	/* Distinct importances in a shuffled order of the heads. */
	for (h = 0; h < heads; h++)
		head_in[h] = (uint64_t)((h * 5 + 3) % heads + 1) << 40;
	top2_alive(head_in, alive, n_alive, top);
	init_job(&t, &s, seed);
	llm_put_u32s(&t.m, SPE_PLANE_HEAD_ALIVE, alive, n_alive);
	llm_put_u64s(&t.m, SPE_PLANE_HEAD_IMP, head_in, heads);
	llm_mem_alloc(&t.m, SPE_PLANE_HEAD_KEPT, 2 * 4);
	if (!run_ok(&t, name))
		goto out;
	r.s = &t.s;
	r.dt = &t.dt;
	r.heads = alive;
	r.n_heads = n_alive;
	llm_ref_run(&r);
	report_outputs(name, &r, &t);

	for (g = 0; g < kv_heads; g++) {
		int any = 0;

		for (i = 0; i < n_alive; i++)
			any |= alive[i] / group == g;
		groups_alive += any;
		if (!any)
			dead_reads += llm_mem_reads_in(&t.m, SPE_PLANE_K_MSB,
						       g * kv_bytes,
						       (g + 1) * kv_bytes) +
				      llm_mem_reads_in(&t.m, SPE_PLANE_V,
						       g * kv_bytes,
						       (g + 1) * kv_bytes);
	}
	ok(t.res.stats.bytes[SPE_PLANE_K_MSB] == groups_alive * kv_bytes &&
	   t.res.stats.bytes[SPE_PLANE_V] == groups_alive * kv_bytes &&
	   !dead_reads && t.res.stats.bytes[SPE_PLANE_Q] ==
	   (uint64_t)n_alive * s.q_rows * s.d * 2 && traffic_clean(&t),
	   "%s: K and V of the %u KV heads with an alive query head only (%"
	   PRIu64 " bytes each), no read of a dead group", name, groups_alive,
	   t.res.stats.bytes[SPE_PLANE_K_MSB]);

	for (h = 0; h < heads; h++) {
		uint64_t want = head_in[h];

		for (i = 0; r.computed[h * s.q_rows] && i < s.q_rows; i++)
			for (x = 0; x < s.d; x++) {
				int16_t y = llm_out(&t.m, &s, h, i, x);

				want += (uint64_t)(y < 0 ? -y : y)
					<< (16 - s.out_frac);
			}
		imp_ok &= llm_get_u64(&t.m, SPE_PLANE_HEAD_IMP, h) == want;
	}
	kept_ok = llm_get_u32(&t.m, SPE_PLANE_HEAD_KEPT, 0) == top[0] &&
		  llm_get_u32(&t.m, SPE_PLANE_HEAD_KEPT, 1) == top[1];
	ok(imp_ok && kept_ok, "%s: head_imp += sum |out| of each alive query "
	   "head, exactly; head_kept the top 2 of the alive heads (%u, %u)",
	   name, llm_get_u32(&t.m, SPE_PLANE_HEAD_KEPT, 0),
	   llm_get_u32(&t.m, SPE_PLANE_HEAD_KEPT, 1));
	llm_ref_free(&r);
out:
	llm_test_free(&t);
}

/*
 * Token pruning: the kept set is the reference's top-k of the input
 * importance; each kept token's written importance is the input plus
 * the sum of its probabilities over every computed query head and row
 * (not per KV head); others are written back unchanged. K and V rows
 * are read for the kept tokens only, once per KV head.
 */
static void check_tok_imp(const char *name, struct llm_spec s,
			  const uint32_t *alive, const uint32_t *pinned,
			  uint64_t seed)
{
	uint32_t kv = s.kv_rows, n_t, i, bad = 0, group = s.heads / s.kv_heads;
	uint32_t *tok = calloc(kv + 1, sizeof(*tok)), groups = 0, g;
	uint64_t *imp_in = calloc(kv, sizeof(*imp_in)), rs = seed;
	double worst = 0;
	struct llm_ref r = { .s = NULL };
	struct llm_test t;
	int kept_ok;

	for (i = 0; i < kv; i++)
		imp_in[i] = llm_rand(&rs) % 100000;
	n_t = llm_ref_tokens(&s, NULL, pinned, imp_in, tok);
	init_job(&t, &s, seed);
	llm_put_u64s(&t.m, SPE_PLANE_TOK_IMP, imp_in, kv);
	llm_mem_alloc(&t.m, SPE_PLANE_TOK_KEPT, (size_t)s.token_keep * 4);
	if (s.n_pinned)
		llm_put_u32s(&t.m, SPE_PLANE_PINNED, pinned, s.n_pinned);
	if (s.n_head_alive)
		llm_put_u32s(&t.m, SPE_PLANE_HEAD_ALIVE, alive, s.n_head_alive);
	if (!run_ok(&t, name))
		goto out;

	kept_ok = n_t == s.token_keep && t.res.stats.tokens_kept == n_t;
	for (i = 0; kept_ok && i < n_t; i++)
		kept_ok &= llm_get_u32(&t.m, SPE_PLANE_TOK_KEPT, i) == tok[i];
	ok(kept_ok, "%s: tok_kept is the reference's %u tokens", name, n_t);

	r.s = &t.s;
	r.dt = &t.dt;
	r.tok = tok;
	r.n_tok = n_t;
	if (!s.generation) {	/* summarising a subset: rows are T */
		r.rows = tok;
		r.n_rows = n_t;
	}
	r.heads = s.n_head_alive ? alive : NULL;
	r.n_heads = s.n_head_alive;
	llm_ref_run(&r);
	report_outputs(name, &r, &t);

	for (i = 0; i < kv; i++) {
		double got = (double)llm_get_u64(&t.m, SPE_PLANE_TOK_IMP, i);
		double want = (double)imp_in[i] + r.imp[i];
		double tol = llm_imp_tolerance(r.contrib, n_t, r.imp[i]);

		if (!r.imp[i]) {	/* not kept: written back as read */
			bad += got != (double)imp_in[i];
			continue;
		}
		if (fabs(got - want) / tol > worst)
			worst = fabs(got - want) / tol;
		bad += fabs(got - want) > tol;
	}
	for (g = 0; g < s.kv_heads; g++)
		for (i = 0; i < (s.n_head_alive ? s.n_head_alive : s.heads); i++)
			if ((s.n_head_alive ? alive[i] : i) / group == g) {
				groups++;
				break;
			}
	ok(!bad, "%s: tok_imp = input + sum over %" PRIu64 " (query head, "
	   "row) pairs of p * 2^15 (worst %.0f%% of the bound), the others "
	   "unchanged", name, r.contrib, 100 * worst);
	ok(t.res.stats.bytes[SPE_PLANE_K_MSB] ==
	   (uint64_t)groups * n_t * k_row_bytes(&s) &&
	   t.res.stats.bytes[SPE_PLANE_V] ==
	   (uint64_t)groups * n_t * v_row_bytes(&s) &&
	   t.res.stats.bytes[SPE_PLANE_TOK_KEPT] == (uint64_t)n_t * 4 &&
	   traffic_clean(&t), "%s: K and V of the %u kept tokens once per "
	   "KV head in use (%u), u32 tok_kept", name, n_t, groups);
	llm_ref_free(&r);
out:
	llm_test_free(&t);
	free(tok);
	free(imp_in);
}

/*
 * Value pruning: each row keeps its value_keep largest probabilities
 * (not renormalised); a V row is read once per KV head if any row of
 * any of its query heads keeps it. The reference ranks by the quantised
 * probability, as the engine does; a row whose set float rounding could
 * change would make the comparison meaningless, so the seeds have none.
 */
static void check_value(const char *name, struct llm_spec s, uint64_t seed)
{
	uint32_t vis = s.flags & SPATTEN_DESC_F_CAUSAL ? s.q_start + s.q_rows :
							 s.kv_rows, g;
	uint64_t v_want = 0;
	struct llm_ref r = { .s = NULL };
	struct llm_test t;

	init_job(&t, &s, seed);
	if (!run_ok(&t, name))
		goto out;
	r.s = &t.s;
	r.dt = &t.dt;
	llm_ref_run(&r);
	ok(r.fragile == 0, "%s: no row's kept set depends on float rounding "
	   "(%u rows do)", name, r.fragile);
	report_outputs(name, &r, &t);
	for (g = 0; g < s.kv_heads; g++)
		v_want += r.v_rows[g] * v_row_bytes(&s);
	ok(t.res.stats.bytes[SPE_PLANE_V] == v_want &&
	   t.res.stats.bytes[SPE_PLANE_K_MSB] ==
	   (uint64_t)s.kv_heads * vis * k_row_bytes(&s) && traffic_clean(&t),
	   "%s: V %" PRIu64 " bytes: the union of the kept rows of each "
	   "group's query heads, once (reference %" PRIu64 ")", name,
	   t.res.stats.bytes[SPE_PLANE_V], v_want);
	llm_ref_free(&r);
out:
	llm_test_free(&t);
}

static void test_gqa_pruning(void)
{
	static const uint32_t a0[] = { 4, 5, 6, 7 }, a1[] = { 0, 2 };
	static const uint32_t a2[] = { 3, 4 }, a3[] = { 0, 1, 2, 5 };
	static const uint32_t pinned[] = { 3, 7 };
	uint32_t a4[24], n4 = 0, h;
	struct llm_spec s = {
		.heads = 8, .kv_heads = 2, .d = 64, .k_fmt = SPATTEN_FMT_S16,
		.v_fmt = SPATTEN_FMT_S16, FRAC12,
	};

	check_head_alive("heads 4-7 of 8/2 (group 0 dead)", 8, 2, a0, 4, 11);
	check_head_alive("heads 0,2 of 8/2 (group 1 dead)", 8, 2, a1, 2, 12);
	check_head_alive("heads 3,4 of 8/2 (both groups)", 8, 2, a2, 2, 13);
	for (h = 0; h < 32; h++)	/* groups 2 and 7 dead */
		if (h / 4 != 2 && h / 4 != 7)
			a4[n4++] = h;
	check_head_alive("24 heads of 32/8 (groups 2, 7 dead)", 32, 8, a4, n4,
			 14);

	s.q_rows = s.kv_rows = 64, s.flags = SPATTEN_DESC_F_CAUSAL;
	s.token_keep = 40, s.n_head_alive = 4;
	check_tok_imp("token_keep 40 of 64, heads 0,1,2,5 of 8/2", s, a3,
		      NULL, 21);
	s.n_head_alive = 0, s.token_keep = 100, s.generation = 1;
	s.q_rows = 1, s.kv_rows = 300, s.q_start = 299;
	check_tok_imp("token_keep 100 of 300, generation 8/2", s, NULL, NULL,
		      22);
	s.heads = 4, s.kv_heads = 1, s.token_keep = 50, s.n_pinned = 2;
	s.kv_rows = 200, s.q_start = 199;
	check_tok_imp("token_keep 50 of 200, 2 pinned, MQA 4/1", s, NULL,
		      pinned, 23);
	/* progressive keys scored from the packed plane (map modes) */
	s.heads = 8, s.kv_heads = 2, s.token_keep = 100, s.n_pinned = 0;
	s.kv_rows = 300, s.q_start = 299, s.k_fmt = SPATTEN_FMT_S8;
	s.flags |= SPATTEN_DESC_F_PROGRESSIVE, s.lsb_threshold = 32768;
	check_tok_imp("progressive S8+4 K, every row refetched, token_keep "
		      "100 of 300, generation 8/2", s, NULL, NULL, 24);
	s.lsb_threshold = 0, s.k_fmt = SPATTEN_FMT_S12;
	check_tok_imp("progressive S12+4 K, no refetch, token_keep 100 of "
		      "300, generation 8/2", s, NULL, NULL, 25);

	s = (struct llm_spec){
		.heads = 8, .kv_heads = 2, .d = 64, .k_fmt = SPATTEN_FMT_S16,
		.v_fmt = SPATTEN_FMT_S16, FRAC12,
		.generation = 1, .flags = SPATTEN_DESC_F_CAUSAL,
		.q_rows = 1, .kv_rows = 400, .q_start = 399, .value_keep = 24,
	};
	check_value("value_keep 24 of 400, generation 8/2", s, 31);
	s.generation = 0, s.q_rows = s.kv_rows = 96, s.q_start = 0;
	s.value_keep = 16;
	check_value("value_keep 16, causal prefill 96, 8/2", s, 37);
	s.heads = 4, s.kv_heads = 1, s.flags = 0, s.q_rows = 32;
	s.kv_rows = 128, s.value_keep = 8;
	check_value("value_keep 8, non-causal 32x128, MQA 4/1", s, 33);
}

/* ---- 6. Long contexts ------------------------------------------------- */

/*
 * A generation step over @kv slots, 32/8 heads, D128. At 70000+ keys the
 * documented bound exceeds max|V| (it assumes every key's 2^-16 error has
 * the same sign), so the data make the per-element bound small: each
 * query head's row gets three "needle" keys, 4 x its query saturated,
 * whose scores (about 60) drown the random background (log-sum about
 * 13): one past 65535, one anywhere, one at the current token or low.
 * Reading a wrong slot, or a slot number cut to 16 bits, moves an output
 * by about max|V|; the bound is a few 1e-3.
 */
static void check_long(const char *name, uint32_t kv, uint64_t seed)
{
	struct llm_spec s = {
		.heads = 32, .kv_heads = 8, .d = 128, .generation = 1,
		.flags = SPATTEN_DESC_F_CAUSAL, .q_rows = 1, .kv_rows = kv,
		.q_start = kv - 1, .k_fmt = SPATTEN_FMT_S16,
		.v_fmt = SPATTEN_FMT_S16, FRAC12,
	};
	uint32_t group = s.heads / s.kv_heads, h, n, x;
	uint64_t k_want = (uint64_t)s.kv_heads * kv * k_row_bytes(&s);
	struct llm_ref r = { .s = NULL };
	struct llm_test t;
	struct llm_cmp c;
	double t0, t_run, t_ref;
	int rc;

	memset(&t, 0, sizeof(t));
	t.s = s;
	llm_caps(&t.caps);
	llm_mem_init(&t.m);
	llm_data_random(&t.dt, &s, AMP_Q, AMP_K, AMP_V, seed);
	for (h = 0; h < s.heads; h++) {
		uint32_t slot[3] = {
			65536 + (uint32_t)((h * 2654435761u) % (kv - 65537)),
			(h * 40503u + 7) % kv,
			h % group ? (h * 7919u) % 1000 : kv - 1,
		};
		const int16_t *q = t.dt.q + (size_t)h * s.d;

		for (n = 0; n < 3; n++) {
			int16_t *k = t.dt.k + ((size_t)(h / group) * kv +
					       slot[n]) * s.d;

			for (x = 0; x < s.d; x++)
				k[x] = (int16_t)(q[x] >= 8192 ? 32767 :
						 q[x] <= -8192 ? -32768 :
						 4 * q[x]);
		}
	}
	llm_place(&t.m, &s, &t.dt, NULL, 0, seed);

	t0 = now();
	rc = llm_test_run(&t);
	t_run = now() - t0;
	if (!ok(t.decode_rc == 0 && rc == 0, "%s: decodes (%d) and runs (%d) "
		"in %.2f s", name, t.decode_rc, rc, t_run))
		goto out;
	t0 = now();
	r.s = &t.s;
	r.dt = &t.dt;
	llm_ref_run(&r);
	t_ref = now() - t0;
	llm_compare(&r, &t.m, &t.job, &c);
	ok(llm_cmp_ok(&c) && c.max_bound < 0.05 * r.max_abs_v,
	   "%s: outputs within the per-element bound (max error %.3g, %.0f%% "
	   "of a bound <= %.3g) and spe_out_tolerance %.3g; reference %.2f s",
	   name, c.max_err, 100 * c.worst_bound, c.max_bound, c.doc_tol,
	   t_ref);
	ok(t.res.stats.bytes[SPE_PLANE_K_MSB] == k_want &&
	   t.res.stats.bytes[SPE_PLANE_V] == k_want &&
	   t.m.rlog[SPE_PLANE_K_MSB].n == s.kv_heads && traffic_clean(&t),
	   "%s: K and V %" PRIu64 " bytes each, one read per KV head", name,
	   k_want);
	llm_ref_free(&r);
out:
	llm_test_free(&t);
}

/*
 * 32-bit token lists in a generation step over 70000 slots: tok_alive
 * entries past 65535, pinned ones there too, token_keep; tok_kept is
 * written as u32.
 */
static void check_u32_generation(uint64_t seed)
{
	const char *name = "u32 lists, generation at 70000";
	struct llm_spec s = {
		.heads = 8, .kv_heads = 2, .d = 64, .generation = 1,
		.flags = SPATTEN_DESC_F_CAUSAL, .q_rows = 1, .kv_rows = 70000,
		.q_start = 69999, .k_fmt = SPATTEN_FMT_S16,
		.v_fmt = SPATTEN_FMT_S16, FRAC12, .n_tok_alive = 3000,
		.token_keep = 1000, .n_pinned = 2,
	};
	uint32_t alive[3000], pinned[2], *tok = calloc(70001, sizeof(*tok));
	uint64_t *imp_in = calloc(70000, sizeof(*imp_in)), rs = seed;
	uint32_t i, n_t, bad = 0;
	struct llm_ref r = { .s = NULL };
	struct llm_test t;
	int kept_ok;

	for (i = 0; i < 3000; i++)
		alive[i] = i * 23 + i % 3;	/* up to 68999 */
	pinned[0] = alive[5];
	pinned[1] = alive[2900];		/* 66702 */
	for (i = 0; i < 70000; i++)
		imp_in[i] = llm_rand(&rs) % 1000000;
	n_t = llm_ref_tokens(&s, alive, pinned, imp_in, tok);

	init_job(&t, &s, seed);
	llm_put_u32s(&t.m, SPE_PLANE_TOK_ALIVE, alive, 3000);
	llm_put_u32s(&t.m, SPE_PLANE_PINNED, pinned, 2);
	llm_put_u64s(&t.m, SPE_PLANE_TOK_IMP, imp_in, 70000);
	llm_mem_alloc(&t.m, SPE_PLANE_TOK_KEPT, 1000 * 4);
	if (!run_ok(&t, name))
		goto out;
	kept_ok = n_t == 1000 && tok[n_t - 1] == 69999;
	for (i = 0; kept_ok && i < n_t; i++)
		kept_ok &= llm_get_u32(&t.m, SPE_PLANE_TOK_KEPT, i) == tok[i];
	r.s = &t.s;
	r.dt = &t.dt;
	r.tok = tok;
	r.n_tok = n_t;
	llm_ref_run(&r);
	for (i = 0; i < 70000; i++) {
		double d = (double)llm_get_u64(&t.m, SPE_PLANE_TOK_IMP, i) -
			   (double)imp_in[i] - r.imp[i];

		bad += fabs(d) > llm_imp_tolerance(r.contrib, n_t, r.imp[i]);
	}
	ok(kept_ok && !bad, "%s: tok_kept (u32) is the reference's 1000 "
	   "tokens, pinned %u kept, current token kept; tok_imp updated "
	   "(%u off)", name, pinned[1], bad);
	report_outputs(name, &r, &t);
	ok(t.res.stats.bytes[SPE_PLANE_K_MSB] ==
	   2ull * n_t * k_row_bytes(&s) &&
	   t.res.stats.bytes[SPE_PLANE_TOK_ALIVE] == 3000 * 4 &&
	   t.res.stats.bytes[SPE_PLANE_PINNED] == 2 * 4 &&
	   t.res.stats.bytes[SPE_PLANE_TOK_KEPT] == 1000 * 4 &&
	   traffic_clean(&t), "%s: K of the kept tokens only, lists 4 bytes "
	   "an entry", name);
	llm_ref_free(&r);
out:
	llm_test_free(&t);
	free(tok);
	free(imp_in);
}

/*
 * Summarising a 1500-token subset of 70000 slots: query row i is token
 * i, so Q rows and output rows past 65535 are read and written by their
 * 32-bit numbers, and no other row is touched.
 */
static void check_u32_summarization(uint64_t seed)
{
	const char *name = "u32 tok_alive, summarising 1500 of 70000";
	struct llm_spec s = {
		.heads = 4, .kv_heads = 2, .d = 64,
		.flags = SPATTEN_DESC_F_CAUSAL, .q_rows = 70000,
		.kv_rows = 70000, .k_fmt = SPATTEN_FMT_S16,
		.v_fmt = SPATTEN_FMT_S16, FRAC12, .n_tok_alive = 1500,
	};
	uint32_t alive[1500], i;
	struct llm_ref r = { .s = NULL };
	struct llm_test t;

	for (i = 0; i < 1500; i++)
		alive[i] = i * 46 + 7;		/* up to 68961 */
	init_job(&t, &s, seed);
	llm_put_u32s(&t.m, SPE_PLANE_TOK_ALIVE, alive, 1500);
	if (!run_ok(&t, name))
		goto out;
	r.s = &t.s;
	r.dt = &t.dt;
	r.tok = r.rows = alive;
	r.n_tok = r.n_rows = 1500;
	llm_ref_run(&r);
	report_outputs(name, &r, &t);
	ok(t.res.stats.bytes[SPE_PLANE_Q] == 4ull * 1500 * 64 * 2 &&
	   t.res.stats.bytes[SPE_PLANE_OUT] == 4ull * 1500 * 64 * 2 &&
	   traffic_clean(&t), "%s: Q read and out written for the listed "
	   "rows only", name);
	llm_ref_free(&r);
out:
	llm_test_free(&t);
}

/*
 * A list ascending as u16 but not as u32 fails (ERR_LIST, nothing
 * written); one ascending as u32 but not as u16 runs.
 */
static void check_u32_list_order(void)
{
	static const uint32_t down[] = { 65546, 20 }, up[] = { 20, 65546 };
	struct llm_spec s = {
		.heads = 2, .kv_heads = 1, .d = 32, .generation = 1,
		.flags = SPATTEN_DESC_F_CAUSAL, .q_rows = 1, .kv_rows = 70000,
		.q_start = 69999, .k_fmt = SPATTEN_FMT_S8,
		.v_fmt = SPATTEN_FMT_S8, .q_frac = 12, .k_frac = 5,
		.v_frac = 5, .out_frac = 12, .n_tok_alive = 2,
	};
	uint64_t *imp = calloc(70000, sizeof(*imp));
	struct llm_test t;
	int rc_down, rc_up, untouched = 1;
	uint32_t x;

	init_job(&t, &s, 41);
	llm_put_u64s(&t.m, SPE_PLANE_TOK_IMP, imp, 70000);
	llm_put_u32s(&t.m, SPE_PLANE_TOK_ALIVE, down, 2);
	rc_down = llm_test_run(&t);
	for (x = 0; x < 2 * 32; x++)
		untouched &= (uint16_t)llm_out(&t.m, &s, x / 32, 0, x % 32) ==
			     LLM_OUT_SENTINEL;
	ok(t.decode_rc == 0 && rc_down == SPATTEN_HW_ERR_LIST &&
	   !llm_mem_written(&t.m) && untouched,
	   "tok_alive {65546, 20}: ERR_LIST (%d), nothing written", rc_down);
	llm_put_u32s(&t.m, SPE_PLANE_TOK_ALIVE, up, 2);
	rc_up = llm_test_run(&t);
	ok(t.decode_rc == 0 && rc_up == 0 &&
	   t.res.stats.tokens_kept == 3 && t.res.stats.bytes[SPE_PLANE_K_MSB] ==
	   3 * 32, "tok_alive {20, 65546}: runs (%d) over 3 tokens", rc_up);
	llm_test_free(&t);
	free(imp);
}

static void test_long_contexts(void)
{
	check_long("generation at 70000, 32/8 D128", 70000, 51);
	check_long("generation at 131072, 32/8 D128", 131072, 52);
	check_u32_generation(53);
	check_u32_summarization(54);
	check_u32_list_order();
}

/* ---- 7. Scratch within caps.max_scratch --------------------------------- */

/*
 * A 32768-token causal prefill with value pruning (4096 kept per row)
 * once needed gigabytes of scratch (q_rows x value_keep). Under a 64 MiB
 * cap it must start: the cancellation poll stops it at its third call
 * (the first head, then the first blocks), so ERR_ABORTED proves the
 * scratch was allocated within the cap. Under 1 MiB: ERR_NO_MEMORY
 * before anything is read. The smallest cap that lets it start is found
 * by bisection and reported.
 */
static int scratch_try(struct llm_test *t, uint64_t cap, unsigned int at)
{
	t->caps.max_scratch = cap;
	t->m.cancel_at = at;
	return llm_test_run(t);
}

static void test_scratch_cap(void)
{
	struct llm_spec s = {
		.heads = 8, .kv_heads = 2, .d = 64,
		.flags = SPATTEN_DESC_F_CAUSAL, .q_rows = 32768,
		.kv_rows = 32768, .k_fmt = SPATTEN_FMT_S16,
		.v_fmt = SPATTEN_FMT_S16, FRAC12, .value_keep = 4096,
	};
	uint64_t lo = 1 << 20, hi = 64ull << 20;
	struct llm_test t;
	double t0, el;
	int rc;

	init_job(&t, &s, 61);
	t0 = now();
	rc = scratch_try(&t, 64ull << 20, 3);
	el = now() - t0;
	ok(t.decode_rc == 0 && rc == SPATTEN_HW_ERR_ABORTED &&
	   t.m.polls == 3 && !llm_mem_written(&t.m),
	   "32768 causal rows, value_keep 4096, max_scratch 64 MiB: started, "
	   "ERR_ABORTED (%d) at poll %u after %.3f s, nothing written", rc,
	   t.m.polls, el);
	rc = scratch_try(&t, 1 << 20, 0);
	ok(rc == SPATTEN_HW_ERR_NO_MEMORY && t.m.polls == 0 &&
	   !llm_mem_written(&t.m) && !t.res.stats.bytes[SPE_PLANE_Q] &&
	   !t.res.stats.bytes[SPE_PLANE_K_MSB],
	   "the same job with max_scratch 1 MiB: ERR_NO_MEMORY (%d) before "
	   "any read", rc);
	while (hi - lo > 4096) {	/* lo fails, hi starts */
		uint64_t mid = lo + (hi - lo) / 2;

		if (scratch_try(&t, mid, 1) == SPATTEN_HW_ERR_ABORTED)
			hi = mid;
		else
			lo = mid;
	}
	/* One KV head's K and V rows, one head's Q and output: 16 MiB. */
	ok(hi > (16ull << 20) && hi <= (64ull << 20),
	   "the job starts from max_scratch %.1f MiB: above its linear arrays "
	   "(16 MiB), within 64 MiB", hi / 1048576.0);
	llm_test_free(&t);
}

/* ---- 8. score_scale --------------------------------------------------- */

/* The scores scaled by score_scale instead of 1/sqrt(D). */
static void test_score_scale(void)
{
	const float half = 0.5f, small = 0.03125f;
	struct llm_spec s = {
		.heads = 8, .kv_heads = 2, .d = 64,
		.flags = SPATTEN_DESC_F_CAUSAL, .q_rows = 64, .kv_rows = 64,
		.k_fmt = SPATTEN_FMT_S16, .v_fmt = SPATTEN_FMT_S16, FRAC12,
	};

	memcpy(&s.score_scale, &half, 4);
	check_gqa("score_scale 0.5, causal prefill 64, 8/2", s, 71);
	s.generation = 1, s.q_rows = 1, s.kv_rows = 256, s.q_start = 255;
	memcpy(&s.score_scale, &small, 4);
	check_gqa("score_scale 1/32, generation at 256, 8/2", s, 72);
}

int main(void)
{
	test_gqa();
	test_gqa_pruning();
	test_long_contexts();
	test_scratch_cap();
	test_score_scale();
	return done_testing();
}
