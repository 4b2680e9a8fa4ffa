// SPDX-License-Identifier: MIT
/*
 * Token importance per KV head (descriptor version 3,
 * SPATTEN_DESC_F_IMP_PER_KV_HEAD, SPATTEN_FEAT_IMP_PER_KV_HEAD): tok_imp
 * is u64[n_kv_heads][kv_rows] and kept token j of KV head g gains the
 * probabilities of the computed query heads of group g only
 * (docs/hardware.md, "Descriptor version 3").
 *
 *  1. Against the independent double reference of llm_ref.c, run once
 *     per KV head over that group's computed query heads: row g of
 *     tok_imp = its input + the group's sums, within
 *     llm_imp_tolerance(); a group whose heads are all pruned keeps its
 *     row as read. GQA 8/2 and 32/8, MQA, MHA, prefill (causal or not),
 *     generation, value pruning, pruned heads.
 *  2. The cross-check: the same job without the flag, whose shared
 *     tok_imp starts at the sum over g of the per-head inputs, gives
 *     the sum over g of the per-head arrays, bit for bit, and the same
 *     output bytes and head importance (progressive keys, RoPE, value
 *     and head pruning included). Both arrays are read once and written
 *     once, whole.
 *  3. Errors: the flag with token_keep and the flag without the feature
 *     (ERR_FLAGS), the flag in versions 1 and 2 (an unknown flag there,
 *     ERR_FLAGS), tok_imp absent or short of n_kv_heads x kv_rows x 8
 *     bytes (ERR_BUFFER); spe_run()'s ERR_FLAGS for hand-built jobs of
 *     version 2 or with token_keep, ERR_SHAPE for more than 2^31 - 1
 *     importance entries; nothing written.
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
#define IMP_KV	SPATTEN_DESC_F_IMP_PER_KV_HEAD

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

static uint64_t *random_imp(size_t n, uint64_t seed)
{
	uint64_t *imp = calloc(n, sizeof(*imp)), rs = seed;
	size_t i;

	if (!imp)
		abort();
	for (i = 0; i < n; i++)
		imp[i] = llm_rand(&rs) % 100000;
	return imp;
}

/* Head lists of @s: alive (or every head), as the job's plane. */
static void put_heads(struct llm_test *t, const uint32_t *alive)
{
	if (t->s.n_head_alive)
		llm_put_u32s(&t->m, SPE_PLANE_HEAD_ALIVE, alive,
			     t->s.n_head_alive);
	if (t->s.head_keep)
		llm_mem_alloc(&t->m, SPE_PLANE_HEAD_KEPT,
			      (size_t)t->s.head_keep * 4);
}

static int head_alive(const struct llm_spec *s, const uint32_t *alive,
		      uint32_t h)
{
	uint32_t i;

	if (!s->n_head_alive)
		return 1;
	for (i = 0; i < s->n_head_alive; i++)
		if (alive[i] == h)
			return 1;
	return 0;
}

/* ---- 1. Against the reference, per KV head ------------------------------- */

static void check_ref(const char *name, struct llm_spec s,
		      const uint32_t *alive, uint64_t seed)
{
	uint32_t G = s.kv_heads, group = s.heads / s.kv_heads, g, j, m;
	uint32_t L = s.kv_rows, bad = 0, dead = 0, heads[64];
	uint64_t *imp_in = random_imp((size_t)G * L, seed), contrib = 0;
	struct llm_test t;
	double worst = 0;
	int rc;

	s.flags |= IMP_KV;
	init_job(&t, &s, seed);
	llm_put_u64s(&t.m, SPE_PLANE_TOK_IMP, imp_in, (size_t)G * L);
	put_heads(&t, alive);
	rc = llm_test_run(&t);
	if (!ok(t.decode_rc == 0 && rc == 0, "%s: decodes (%d) and runs (%d)",
		name, t.decode_rc, rc))
		goto out;

	for (g = 0; g < G; g++) {
		struct llm_ref r = { .s = &t.s, .dt = &t.dt };
		uint32_t n = 0;

		for (m = 0; m < group; m++)
			if (head_alive(&s, alive, g * group + m))
				heads[n++] = g * group + m;
		if (!n) {
			/* a dead group gains nothing: its row as read */
			for (j = 0; j < L; j++)
				bad += llm_get_u64(&t.m, SPE_PLANE_TOK_IMP,
						   (size_t)g * L + j) !=
				       imp_in[(size_t)g * L + j];
			dead++;
			continue;
		}
		r.heads = heads;
		r.n_heads = n;
		llm_ref_run(&r);
		contrib += r.contrib;
		for (j = 0; j < L; j++) {
			size_t at = (size_t)g * L + j;
			double got = (double)llm_get_u64(&t.m,
							 SPE_PLANE_TOK_IMP, at);
			double want = (double)imp_in[at] + r.imp[j];
			double tol = llm_imp_tolerance(r.contrib, L, r.imp[j]);

			if (!r.imp[j]) {
				bad += got != (double)imp_in[at];
				continue;
			}
			if (fabs(got - want) / tol > worst)
				worst = fabs(got - want) / tol;
			bad += fabs(got - want) > tol;
		}
		llm_ref_free(&r);
	}
	ok(!bad && contrib == t.res.stats.query_rows,
	   "%s: each KV head's row = input + the sums of its own group's "
	   "query heads (reference per group; %u dead groups unchanged; "
	   "worst %.0f%% of the bound)", name, dead, 100 * worst);
	ok(t.m.rbytes[SPE_PLANE_TOK_IMP] == (uint64_t)G * L * 8 &&
	   t.m.wbytes[SPE_PLANE_TOK_IMP] == (uint64_t)G * L * 8 &&
	   llm_mem_once(&t.m) && !t.m.stray &&
	   llm_mem_counts_match(&t.m, &t.res.stats),
	   "%s: the %u x %u array read once and written once, whole; "
	   "counts match", name, G, L);
out:
	llm_test_free(&t);
	free(imp_in);
}

static void test_reference(void)
{
	static const uint32_t alive[] = { 0, 1, 2, 5, 6 };
	static const uint32_t alive2[] = { 1, 9, 10, 30 };
	struct llm_spec s = {
		.heads = 8, .kv_heads = 2, .d = 64,
		.flags = 0, FRAC12,
		.k_fmt = SPATTEN_FMT_S16, .v_fmt = SPATTEN_FMT_S16,
		.q_rows = 40, .kv_rows = 200,
	};

	check_ref("prefill 40 x 200, GQA 8/2 D64", s, NULL, 1);
	s.flags = SPATTEN_DESC_F_CAUSAL;
	s.q_rows = s.kv_rows = 150;
	check_ref("causal prefill 150, GQA 8/2", s, NULL, 2);
	s.n_head_alive = 5;
	check_ref("causal prefill 150, GQA 8/2, heads 0 1 2 5 6 alive", s,
		  alive, 3);
	s.n_head_alive = 0;
	s.heads = 32, s.kv_heads = 8, s.d = 128;
	s.generation = 1, s.q_rows = 1, s.kv_rows = 700, s.q_start = 699;
	check_ref("generation at 700, GQA 32/8 D128", s, NULL, 4);
	s.n_head_alive = 4;
	check_ref("generation at 700, GQA 32/8, heads 1 9 10 30 alive (5 "
		  "groups dead)", s, alive2, 5);
	s.n_head_alive = 0, s.value_keep = 40;
	check_ref("generation at 700, GQA 32/8, value_keep 40", s, NULL, 6);
	s.heads = 4, s.kv_heads = 1, s.d = 64, s.value_keep = 0;
	check_ref("generation at 700, MQA 4/1", s, NULL, 7);
	s.heads = s.kv_heads = 6;
	s.generation = 0, s.q_rows = s.kv_rows = 90, s.q_start = 0;
	check_ref("causal prefill 90, MHA 6/6", s, NULL, 8);
}

/* ---- 2. Against the shared array of the same job ------------------------- */

static void check_vs_shared(const char *name, struct llm_spec s,
			    const uint32_t *alive, uint64_t seed)
{
	uint32_t G = s.kv_heads, L = s.kv_rows, g, j, bad = 0;
	uint64_t *per = random_imp((size_t)G * L, seed), *shared;
	uint64_t *himp = random_imp(s.heads, seed + 1);
	struct llm_test t[2];
	int rc[2], i, same;
	size_t ob;

	shared = calloc(L, sizeof(*shared));
	if (!shared)
		abort();
	/* near the top of u64 too: the sums wrap as the device's adds do */
	per[0] = UINT64_MAX - 5;
	for (g = 0; g < G; g++)
		for (j = 0; j < L; j++)
			shared[j] += per[(size_t)g * L + j];
	for (i = 0; i < 2; i++) {
		struct llm_spec si = s;

		si.flags |= i ? 0 : IMP_KV;
		init_job(&t[i], &si, seed);
		if (i)
			llm_put_u64s(&t[i].m, SPE_PLANE_TOK_IMP, shared, L);
		else
			llm_put_u64s(&t[i].m, SPE_PLANE_TOK_IMP, per,
				     (size_t)G * L);
		llm_put_u64s(&t[i].m, SPE_PLANE_HEAD_IMP, himp, s.heads);
		put_heads(&t[i], alive);
		rc[i] = llm_test_run(&t[i]);
	}
	same = !rc[0] && !rc[1];
	for (j = 0; same && j < L; j++) {
		uint64_t sum = 0;

		for (g = 0; g < G; g++)
			sum += llm_get_u64(&t[0].m, SPE_PLANE_TOK_IMP,
					   (size_t)g * L + j);
		bad += sum != llm_get_u64(&t[1].m, SPE_PLANE_TOK_IMP, j);
	}
	ob = t[0].m.size[SPE_PLANE_OUT];
	ok(same && !bad && ob == t[1].m.size[SPE_PLANE_OUT] &&
	   !memcmp(t[0].m.data[SPE_PLANE_OUT], t[1].m.data[SPE_PLANE_OUT],
		   ob) &&
	   !memcmp(t[0].m.data[SPE_PLANE_HEAD_IMP],
		   t[1].m.data[SPE_PLANE_HEAD_IMP], (size_t)s.heads * 8) &&
	   t[0].res.stats.query_rows == t[1].res.stats.query_rows &&
	   t[0].res.stats.pv_rows == t[1].res.stats.pv_rows &&
	   t[0].res.lsb_refetches == t[1].res.lsb_refetches &&
	   t[0].res.stats.bytes[SPE_PLANE_K_MSB] ==
	   t[1].res.stats.bytes[SPE_PLANE_K_MSB] &&
	   t[0].res.stats.bytes[SPE_PLANE_TOK_IMP] ==
	   (uint64_t)G * t[1].res.stats.bytes[SPE_PLANE_TOK_IMP],
	   "%s: sum over the %u KV heads' rows == the shared tok_imp bit for "
	   "bit (%u tokens differ; runs %d %d), same output, head_imp, "
	   "rows, refetches, K bytes; importance bytes x %u", name, G, bad,
	   rc[0], rc[1], G);
	for (i = 0; i < 2; i++)
		llm_test_free(&t[i]);
	free(per);
	free(shared);
	free(himp);
}

static void test_vs_shared(void)
{
	static const uint32_t alive[] = { 0, 1, 2, 5, 6, 13, 20, 31 };
	struct llm_spec s = {
		.heads = 32, .kv_heads = 8, .d = 64,
		.flags = SPATTEN_DESC_F_CAUSAL, FRAC12,
		.k_fmt = SPATTEN_FMT_S16, .v_fmt = SPATTEN_FMT_S16,
		.q_rows = 100, .kv_rows = 100,
	};

	check_vs_shared("causal prefill 100, GQA 32/8", s, NULL, 11);
	s.n_head_alive = 8, s.head_keep = 5;
	check_vs_shared("GQA 32/8, 8 alive heads (3 groups dead), head_keep "
			"5", s, alive, 12);
	s.n_head_alive = 0, s.head_keep = 0;
	s.flags |= SPATTEN_DESC_F_PROGRESSIVE;
	s.k_fmt = SPATTEN_FMT_S8, s.lsb_threshold = 9000;
	s.v_fmt = SPATTEN_FMT_S12, s.value_keep = 30;
	check_vs_shared("GQA 32/8, progressive S8+4 K, S12 V, value_keep 30",
			s, NULL, 13);
	s.flags |= SPATTEN_DESC_F_ROPE, s.rope_base = 10000;
	s.generation = 1, s.q_rows = 1, s.kv_rows = 600, s.q_start = 599;
	check_vs_shared("+ RoPE, generation at 600", s, NULL, 14);
	s.q_rows = 16, s.q_start = 584;
	check_vs_shared("+ a chunk of 16 at 584", s, NULL, 15);
	s.heads = 4, s.kv_heads = 1;
	check_vs_shared("MQA 4/1 chunk (one row: the shared array itself)",
			s, NULL, 16);
	s.heads = s.kv_heads = 8, s.n_head_alive = 5, s.head_keep = 2;
	check_vs_shared("MHA 8/8 chunk, heads 0 1 2 5 6 alive", s, alive, 17);
}

/* ---- 3. Errors ---------------------------------------------------------- */

/* Decode @s (flag set) with tok_imp of @imp_bytes (0: absent). */
static int decode_with(struct llm_spec s, size_t imp_bytes, uint32_t feat_off,
		       int *written)
{
	struct llm_test t;
	int rc;

	s.flags |= IMP_KV;
	init_job(&t, &s, 31);
	t.caps.features &= ~feat_off;
	if (imp_bytes)
		llm_mem_alloc(&t.m, SPE_PLANE_TOK_IMP, imp_bytes);
	if (s.token_keep)
		llm_mem_alloc(&t.m, SPE_PLANE_TOK_KEPT,
			      (size_t)s.token_keep * 4);
	rc = llm_test_run(&t);
	*written = llm_mem_written(&t.m) != 0;
	llm_test_free(&t);
	return rc;
}

/* A version 1 or 2 descriptor that is fine but for the flag bit 5. */
static int decode_v12(uint8_t version, uint16_t flags)
{
	struct spatten_hw_desc d;
	struct spe_caps caps;
	struct spe_job job;

	llm_caps(&caps);
	memset(&d, 0, sizeof(d));
	d.opcode = htole16(SPATTEN_OP_ATTENTION);
	d.desc_size = htole16(SPATTEN_DESC_SIZE);
	d.version = version;
	d.flags = htole16(flags);
	return spe_desc_decode(&d, sizeof(d), &caps, &job);
}

static int run_broken(const struct llm_spec *s, void (*brk)(struct spe_job *))
{
	struct llm_test t;
	struct llm_spec si = *s;
	int rc;

	si.flags |= IMP_KV;
	init_job(&t, &si, 33);
	llm_mem_alloc(&t.m, SPE_PLANE_TOK_IMP,
		      (size_t)si.kv_heads * si.kv_rows * 8);
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

static void brk_token_keep(struct spe_job *j)
{
	j->token_keep = 3;
}

/* 2 KV heads x 2^30 slots: 2^31 importance entries, beyond 32 bits */
static void brk_huge(struct spe_job *j)
{
	j->kv_rows = 0x40000000u;
	j->q_rows = 1;
}

static void test_errors(void)
{
	struct llm_spec s = {
		.heads = 8, .kv_heads = 2, .d = 32,
		.flags = SPATTEN_DESC_F_CAUSAL, FRAC12,
		.k_fmt = SPATTEN_FMT_S16, .v_fmt = SPATTEN_FMT_S16,
		.q_rows = 64, .kv_rows = 64,
	};
	size_t full = (size_t)s.kv_heads * s.kv_rows * 8;
	int w[6], good;

	good = decode_with(s, full, 0, &w[0]) == SPATTEN_HW_OK;
	s.token_keep = 10;
	good &= decode_with(s, full, 0, &w[1]) == SPATTEN_HW_ERR_FLAGS;
	s.token_keep = 0;
	ok(good && !w[1], "the flag with token_keep: ERR_FLAGS (the same job "
	   "without token_keep runs), nothing written");
	ok(decode_with(s, full, SPATTEN_FEAT_IMP_PER_KV_HEAD, &w[2]) ==
	   SPATTEN_HW_ERR_FLAGS && !w[2],
	   "the flag on a device without FEAT_IMP_PER_KV_HEAD: ERR_FLAGS");
	good = decode_with(s, 0, 0, &w[3]) == SPATTEN_HW_ERR_BUFFER;
	good &= decode_with(s, full - 8, 0, &w[4]) == SPATTEN_HW_ERR_BUFFER;
	good &= decode_with(s, full / s.kv_heads, 0, &w[5]) ==
		SPATTEN_HW_ERR_BUFFER;
	ok(good && !w[3] && !w[4] && !w[5],
	   "tok_imp absent, 8 bytes short of n_kv_heads x kv_rows x 8, or "
	   "kv_rows x 8 only: ERR_BUFFER");
	good = decode_v12(2, IMP_KV) == SPATTEN_HW_ERR_FLAGS;
	good &= decode_v12(1, IMP_KV) == SPATTEN_HW_ERR_FLAGS;
	good &= decode_v12(2, 0) != SPATTEN_HW_ERR_FLAGS;
	ok(good, "bit 5 in a version 1 or 2 descriptor: ERR_FLAGS (an "
	   "unknown flag there)");
	good = run_broken(&s, brk_none) == SPATTEN_HW_OK;
	good &= run_broken(&s, brk_v2) == SPATTEN_HW_ERR_FLAGS;
	good &= run_broken(&s, brk_token_keep) == SPATTEN_HW_ERR_FLAGS;
	ok(good, "spe_run(): the flag in a version 2 job or with token_keep "
	   "is ERR_FLAGS, nothing written");
	ok(run_broken(&s, brk_huge) == SPATTEN_HW_ERR_SHAPE,
	   "spe_run(): n_kv_heads x kv_rows importance entries beyond "
	   "2^31 - 1 is ERR_SHAPE, nothing written");
	ok((SPATTEN_DESC_F_ALL_V3 & IMP_KV) && !(SPATTEN_DESC_F_ALL & IMP_KV) &&
	   IMP_KV == 0x20 && SPATTEN_FEAT_IMP_PER_KV_HEAD == 1u << 13,
	   "flag bit 5 is version 3's only; feature bit 13");
}

int main(void)
{
	test_reference();
	test_vs_shared();
	test_errors();
	return done_testing();
}
