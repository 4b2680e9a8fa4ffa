// SPDX-License-Identifier: MIT
/*
 * pyref session: a session's prompt and generation passes through
 * spatten_session_layer() (the formats are in pyref.c's head comment).
 */
#include <stdlib.h>
#include <string.h>

#include "pyref.h"

/* ---- pyref session ------------------------------------------------------- */

static void put_cache(FILE *f, const struct spatten_session *s, int per_head,
		      unsigned int layer, unsigned int kv_head)
{
	uint32_t *ids;
	uint64_t *imp;
	int n, got;

	n = (int)check(per_head ?
		       spatten_session_cache_head(s, layer, kv_head, NULL,
						  NULL, 0) :
		       spatten_session_cache(s, NULL, NULL, 0),
		       "spatten_session_cache");
	ids = xcalloc((size_t)n, sizeof(*ids));
	imp = xcalloc((size_t)n, sizeof(*imp));
	got = (int)check(per_head ?
			 spatten_session_cache_head(s, layer, kv_head, ids,
						    imp, (unsigned int)n) :
			 spatten_session_cache(s, ids, imp, (unsigned int)n),
			 "spatten_session_cache");
	if (got != n)
		die("spatten_session_cache: %d slots, then %d", n, got);
	put_u64(f, (uint64_t)n);
	put(f, ids, (size_t)n * sizeof(*ids));
	put(f, imp, (size_t)n * sizeof(*imp));
	free(imp);
	free(ids);
}

static void put_stats(FILE *f, const struct spatten_layer_stats *t)
{
	put_u64(f, t->status);
	put_u64(f, t->stage);
	put_u64(f, t->kv_rows);
	put_u64(f, t->q_rows);
	put_u64(f, t->tokens_alive);
	put_u64(f, t->tokens_kept);
	put_u64(f, t->heads_alive);
	put_u64(f, t->heads_kept);
	put_u64(f, t->value_keep);
	put_u64(f, t->lsb_refetches);
	put_u64(f, t->query_rows);
	put_u64(f, t->bytes_q);
	put_u64(f, t->bytes_k_msb);
	put_u64(f, t->bytes_k_lsb);
	put_u64(f, t->bytes_v);
	put_u64(f, t->bytes_written);
	put_u64(f, t->bytes_dense);
	put_u64(f, t->cycles);
}

static void put_layer_lists(FILE *f, const struct spatten_session *s,
			    unsigned int layer)
{
	uint32_t *alive, *heads32;
	uint16_t *heads;
	int n, i;

	n = (int)check(spatten_session_alive(s, layer, NULL, 0),
		       "spatten_session_alive");
	alive = xcalloc((size_t)n, sizeof(*alive));
	if (check(spatten_session_alive(s, layer, alive, (unsigned int)n),
		  "spatten_session_alive") != n)
		die("spatten_session_alive: the count changed");
	put_u64(f, (uint64_t)n);
	put(f, alive, (size_t)n * sizeof(*alive));
	free(alive);

	n = (int)check(spatten_session_heads(s, layer, NULL, 0),
		       "spatten_session_heads");
	heads = xcalloc((size_t)n, sizeof(*heads));
	heads32 = xcalloc((size_t)n, sizeof(*heads32));
	if (check(spatten_session_heads(s, layer, heads, (unsigned int)n),
		  "spatten_session_heads") != n)
		die("spatten_session_heads: the count changed");
	for (i = 0; i < n; i++)
		heads32[i] = heads[i];
	put_u64(f, (uint64_t)n);
	put(f, heads32, (size_t)n * sizeof(*heads32));
	free(heads32);
	free(heads);
}

int session_main(void)
{
	const char *kind_s = arg_str("kind");
	uint32_t layers = arg_req("layers"), H = arg_req("heads");
	uint32_t G = arg_u32("kv_heads", H), D = arg_req("head_dim");
	uint32_t max_context = arg_req("max_context");
	uint32_t prompt = arg_req("prompt"), steps = arg_u32("steps", 0);
	int sched = has_arg("tok_start") || has_arg("tok_end") ||
		    has_arg("head_start") || has_arg("head_end") ||
		    has_arg("value_keep");
	float tok_start = arg_float("tok_start", 1.0f);
	float tok_end = arg_float("tok_end", 1.0f);
	float head_start = arg_float("head_start", 1.0f);
	float head_end = arg_float("head_end", 1.0f);
	float value_keep = arg_float("value_keep", 1.0f);
	int progressive = arg_flag("progressive");
	uint32_t k_bits = arg_u32("k_bits", progressive ? 8 : 16);
	uint32_t v_bits = arg_u32("v_bits", 16);
	uint32_t threshold = arg_u32("lsb_threshold", 3277);
	float scale = arg_float("scale", 0.0f);
	uint32_t rope_base = arg_u32("rope_base", 0);
	uint32_t kv_start = arg_u32("kv_start", 0);
	uint32_t kv_important = arg_u32("kv_important", 0);
	uint32_t kv_recent = arg_u32("kv_recent", 0);
	int kv_per_head = arg_flag("kv_per_head");
	uint32_t max_step = arg_u32("max_step", 0);
	uint32_t topk_seed = arg_u32("topk_seed", 0);
	int fixed = has_arg("q_frac") || has_arg("k_frac") ||
		    has_arg("v_frac") || has_arg("out_frac");
	uint32_t q_frac = arg_u32("q_frac", 11), k_frac = arg_u32("k_frac", 11);
	uint32_t v_frac = arg_u32("v_frac", 11);
	uint32_t out_frac = arg_u32("out_frac", 11);
	enum spatten_dtype dtype = arg_dtype();
	const char *in_path = arg_str("in"), *out_path = arg_str("out");
	uint32_t pinned[MAX_LIST], n_pinned = arg_list("pinned", pinned);
	struct spatten_session_opts o;
	struct spatten_layer_stats tot;
	struct spatten_session *s = NULL;
	struct spatten_dev *dev;
	uint32_t kind, pass, l, g;
	float *q, *k, *v, *outf;
	struct input in;
	FILE *out;

	if (!kind_s || (strcmp(kind_s, "encoder") && strcmp(kind_s, "decoder")))
		usage("kind=encoder or kind=decoder is required");
	kind = strcmp(kind_s, "encoder") ? SPATTEN_SESSION_DECODER :
	       SPATTEN_SESSION_ENCODER;
	if (!in_path || !out_path)
		usage("in= and out= are required");
	args_all_used();
	if (!layers || !H || !G || !D || !prompt)
		usage("bad shape");
	if (kind == SPATTEN_SESSION_ENCODER && steps)
		usage("an encoder runs one pass: steps=0");

	spatten_session_opts_init(&o, kind, layers, H, G, D, max_context);
	if (sched)
		check(spatten_schedule_paper(&o.schedule, layers, tok_start,
					     tok_end, head_start, head_end,
					     value_keep),
		      "spatten_schedule_paper");
	if (progressive)
		o.flags |= SPATTEN_SESSION_PROGRESSIVE;
	if (kv_per_head)
		o.flags |= SPATTEN_SESSION_KV_PER_HEAD;
	if (fixed) {
		o.flags |= SPATTEN_SESSION_FIXED_SCALES;
		o.q_frac = (uint8_t)q_frac;
		o.k_frac = (uint8_t)k_frac;
		o.v_frac = (uint8_t)v_frac;
		o.out_frac = (uint8_t)out_frac;
	}
	o.k_bits = (uint8_t)k_bits;
	o.v_bits = (uint8_t)v_bits;
	o.lsb_threshold = (uint16_t)threshold;
	o.topk_seed = topk_seed;
	o.score_scale = scale;
	o.rope_base = rope_base;
	o.n_pinned = n_pinned;
	memcpy(o.pinned, pinned, n_pinned * sizeof(pinned[0]));
	o.kv_start = kv_start;
	o.kv_important = kv_important;
	o.kv_recent = kv_recent;
	o.max_step = max_step;

	dev = open_sim();
	check(spatten_session_open(dev, &o, &s), "spatten_session_open");

	q = xcalloc((size_t)H * prompt * D, sizeof(float));
	k = xcalloc((size_t)G * prompt * D, sizeof(float));
	v = xcalloc((size_t)G * prompt * D, sizeof(float));
	outf = xcalloc((size_t)H * prompt * D, sizeof(float));
	input_open(&in, in_path);
	out = output_open(out_path);
	for (pass = 0; pass <= steps; pass++) {
		uint32_t n = pass ? 1 : prompt;

		for (l = 0; l < layers; l++) {
			char what[64];

			input_take(&in, q, (size_t)H * n * D * sizeof(float));
			input_take(&in, k, (size_t)G * n * D * sizeof(float));
			input_take(&in, v, (size_t)G * n * D * sizeof(float));
			snprintf(what, sizeof(what),
				 "spatten_session_layer(pass %u, layer %u)",
				 pass, l);
			check(spatten_session_layer(s, l, n, q, k, v, outf),
			      what);
			put_floats(out, outf, (size_t)H * n * D, dtype);
		}
	}
	input_done(&in);

	put_u64(out, (uint64_t)check(spatten_session_context(s),
				     "spatten_session_context"));
	if (kv_per_head) {
		for (l = 0; l < layers; l++)
			for (g = 0; g < G; g++)
				put_cache(out, s, 1, l, g);
	} else {
		put_cache(out, s, 0, 0, 0);
	}
	for (l = 0; l < layers; l++) {
		uint64_t sq, sk, sv;

		check(spatten_session_layer_stats(s, l, NULL, &tot),
		      "spatten_session_layer_stats");
		put_stats(out, &tot);
		put_layer_lists(out, s, l);
		check(spatten_session_saturations(s, l, &sq, &sk, &sv),
		      "spatten_session_saturations");
		put_u64(out, sq);
		put_u64(out, sk);
		put_u64(out, sv);
	}
	output_close(out, out_path);

	spatten_session_destroy(s);
	spatten_close(dev);
	free(outf);
	free(v);
	free(k);
	free(q);
	return 0;
}

