// SPDX-License-Identifier: MIT
/*
 * The report of a workload run (spatten-run, spatten-demo): the per-layer
 * table and totals, or the JSON document of schema spatten-report/1, kind
 * "workload" (docs/tools.md). See wl_report() in spatten-workload.h.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "spatten-report.h"
#include "spatten-workload.h"

/* ---- report ------------------------------------------------------------------ */

static uint64_t bytes_read(const struct spatten_layer_stats *s)
{
	return s->bytes_q + s->bytes_k_msb + s->bytes_k_lsb + s->bytes_v;
}

/* @t += @s, for the counters the reports total over layers. */
static void layer_stats_add(struct spatten_layer_stats *t,
			    const struct spatten_layer_stats *s)
{
	t->kv_rows += s->kv_rows;
	t->tokens_kept += s->tokens_kept;
	t->query_rows += s->query_rows;
	t->lsb_refetches += s->lsb_refetches;
	t->bytes_q += s->bytes_q;
	t->bytes_k_msb += s->bytes_k_msb;
	t->bytes_k_lsb += s->bytes_k_lsb;
	t->bytes_v += s->bytes_v;
	t->bytes_dense += s->bytes_dense;
	t->cycles += s->cycles;
}

static void human(char *b, size_t n, double x)
{
	if (x >= 1e9)
		snprintf(b, n, "%.2fG", x / 1e9);
	else if (x >= 1e6)
		snprintf(b, n, "%.2fM", x / 1e6);
	else if (x >= 1e3)
		snprintf(b, n, "%.1fK", x / 1e3);
	else
		snprintf(b, n, "%.0f", x);
}

static void json_bytes(FILE *f, const struct spatten_layer_stats *s)
{
	fprintf(f, "{\"q\": %" PRIu64 ", \"k_msb\": %" PRIu64 ", \"k_lsb\": %"
		PRIu64 ", \"v\": %" PRIu64 "}", s->bytes_q, s->bytes_k_msb,
		s->bytes_k_lsb, s->bytes_v);
}

static const char *dtype_name(int t)
{
	return t == SPATTEN_DTYPE_F16 ? "f16" : t == SPATTEN_DTYPE_BF16 ?
	       "bf16" : "f32";
}

static void json_sat(FILE *f, const uint64_t *sat)
{
	fprintf(f, "{\"q\": %" PRIu64 ", \"k\": %" PRIu64 ", \"v\": %"
		PRIu64 "}", sat[0], sat[1], sat[2]);
}

/*
 * Per layer: per-pass averages (_avg), sums over the passes (_sum), the
 * largest pass (_max) and the last (_last).
 */
static void json_layer(FILE *f, const struct wl_opts *o,
		       const struct wl_result *r, uint32_t l)
{
	const struct spatten_layer_stats *s = &r->layer[l];
	double passes = wl_passes(o);

	fprintf(f, "    {\"layer\": %u, \"context_avg\": %.2f, "
		"\"tokens_alive_avg\": %.2f, \"tokens_kept_avg\": %.2f, "
		"\"heads_avg\": %.2f, \"value_keep_avg\": %.2f,\n"
		"     \"query_rows_sum\": %" PRIu64 ", \"lsb_refetches_sum\": %u, "
		"\"bytes_sum\": ", l, s->kv_rows / passes,
		s->tokens_alive / passes, s->tokens_kept / passes,
		s->heads_alive / passes, s->value_keep / passes, s->query_rows,
		s->lsb_refetches);
	json_bytes(f, s);
	fprintf(f, ",\n     \"bytes_read_sum\": %" PRIu64 ", "
		"\"bytes_dense_s16_sum\": %" PRIu64 ", \"cycles_sum\": %"
		PRIu64 ",\n     \"context_max\": %u, \"tokens_kept_max\": %u, "
		"\"tokens_kept_last\": %u, \"heads_last\": %u, "
		"\"kv_cache_peak_bytes\": %" PRIu64 ", \"saturations\": ",
		bytes_read(s), s->bytes_dense, s->cycles, r->ctx_max[l],
		r->kept_max[l], r->kept_last[l], r->heads_last[l],
		r->ctx_max[l] * wl_slot_bytes(o));
	json_sat(f, r->sat[l]);
	fprintf(f, ", \"max_err\": ");
	if (o->check)
		fprintf(f, "%.3e}", r->max_err[l]);
	else
		fprintf(f, "null}");
	fprintf(f, "%s\n", l + 1 < o->m.layers ? "," : "");
}

static void json_totals(FILE *f, const struct wl_opts *o,
			const struct wl_result *r)
{
	struct spatten_layer_stats t;
	uint64_t sat[3] = { 0, 0, 0 }, peak = 0;
	uint32_t l;

	memset(&t, 0, sizeof(t));
	for (l = 0; l < o->m.layers; l++) {
		layer_stats_add(&t, &r->layer[l]);
		sat[0] += r->sat[l][0];
		sat[1] += r->sat[l][1];
		sat[2] += r->sat[l][2];
		peak += r->ctx_max[l] * wl_slot_bytes(o);
	}
	fprintf(f, "  \"totals\": {\"query_rows\": %" PRIu64 ", "
		"\"lsb_refetches\": %u, \"lsb_refetch_rate\": %.4f, "
		"\"bytes\": ", t.query_rows, t.lsb_refetches, t.query_rows ?
		(double)t.lsb_refetches / t.query_rows : 0.0);
	json_bytes(f, &t);
	fprintf(f, ",\n    \"bytes_read\": %" PRIu64 ", \"bytes_dense_s16\": %"
		PRIu64 ", \"reduction_s16\": %.3f, \"cycles\": %" PRIu64
		",\n    \"kv_cache_peak_bytes\": %" PRIu64 ", \"saturations\": ",
		bytes_read(&t), t.bytes_dense, bytes_read(&t) ?
		(double)t.bytes_dense / bytes_read(&t) : 0.0, t.cycles, peak);
	json_sat(f, sat);
	fprintf(f, "},\n");
}

/* The LLM members: KV heads, positions, element type, the cache. */
static void json_llm(FILE *f, const struct wl_opts *o,
		     const struct wl_result *r)
{
	fprintf(f, "  \"kv_heads\": %u, \"rope_base\": %u, \"dtype\": \"%s\", "
		"\"fill\": %u, \"tokens\": %" PRIu64 ", \"kv_capacity\": %u, "
		"\"kv_slot_bytes\": %" PRIu64 ", \"kv_budget\": ", o->m.kv_heads,
		o->m.rope_base, dtype_name(o->dtype), o->fill, wl_tokens(o),
		r->capacity, wl_slot_bytes(o));
	if (wl_budget(o))
		fprintf(f, "{\"start\": %u, \"important\": %u, \"recent\": "
			"%u, \"tokens\": %u, \"per_kv_head\": %s},\n",
			o->kv_start, o->kv_important, o->kv_recent,
			wl_budget(o), o->kv_per_head ? "true" : "false");
	else
		fprintf(f, "null,\n");
}

/*
 * --rss-at: [{"at": N, "tokens": T, "vm_rss_kib": K}, ...] (T: the
 * sequence when it was read, N or more); where the time went.
 */
static void json_rss(FILE *f, const struct wl_opts *o,
		     const struct wl_result *r)
{
	uint32_t i;

	fprintf(f, "  \"rss\": [");
	for (i = 0; i < r->n_rss; i++)
		fprintf(f, "%s{\"at\": %" PRIu64 ", \"tokens\": %" PRIu64
			", \"vm_rss_kib\": %" PRIu64 "}", i ? ", " : "",
			o->rss_at[i], r->rss_tokens[i], r->rss_kib[i]);
	fprintf(f, "],\n  \"fill_seconds\": %.3f, \"attend_seconds\": %.3f, "
		"\"check_seconds\": %.3f,\n", r->fill_seconds,
		r->attend_seconds, r->check_seconds);
}

static void report_json(FILE *f, const struct wl_opts *o,
			const struct wl_result *r)
{
	const struct wl_model *m = &o->m;
	uint32_t l;

	rep_begin(f, wl_prog, "workload");
	fprintf(f, ",\n  \"model\": \"%s\", \"layers\": %u, \"heads\": %u, "
		"\"head_dim\": %u, \"causal\": %s,\n  \"prompt\": %u, "
		"\"steps\": %u, \"passes\": %u, \"seed\": %" PRIu64 ", "
		"\"backend\": \"%s\",\n  \"dense\": %s, \"progressive\": %s, "
		"\"k_bits\": %u, \"k_lsb_bits\": %u, \"v_bits\": %u, "
		"\"threshold\": ", m->name, m->layers, m->heads, m->head_dim,
		m->causal ? "true" : "false", o->prompt, o->steps,
		wl_passes(o), o->seed, r->backend == SPATTEN_BACKEND_SIM ?
		"sim" : "device", o->dense ? "true" : "false",
		o->progressive ? "true" : "false", o->k_bits,
		o->progressive ? 4 : 0, o->v_bits);
	if (o->progressive)
		fprintf(f, "%g,\n", o->threshold);
	else
		fprintf(f, "null,\n");
	json_llm(f, o, r);
	fprintf(f, "  \"per_layer\": [\n");
	for (l = 0; l < m->layers; l++)
		json_layer(f, o, r, l);
	fprintf(f, "  ],\n");
	json_totals(f, o, r);
	fprintf(f, "  \"check\": {\"status\": \"%s\", \"rows\": %" PRIu64
		", \"rows_unchecked\": %" PRIu64, !o->check ? "skipped" :
		r->worst_ratio <= 1.0 ? "pass" : "fail", r->rows_checked,
		r->rows_unchecked);
	if (o->check)
		fprintf(f, ", \"max_err\": %.3e, \"worst_err_over_tolerance\": "
			"%.3f},\n", r->max_err_all, r->worst_ratio);
	else
		fprintf(f, ", \"max_err\": null, "
			"\"worst_err_over_tolerance\": null},\n");
	json_rss(f, o, r);
	fprintf(f, "  \"seconds\": %.3f\n}\n", r->seconds);
}

/* Does the schedule prune anything? */
static int prunes(const struct wl_opts *o)
{
	const struct wl_model *m = &o->m;

	return !o->dense && (m->tok_start < 1.0f || m->tok_end < 1.0f ||
			     m->head_start < 1.0f || m->head_end < 1.0f ||
			     m->value_keep < 1.0f);
}

static void table_header(FILE *f, const struct wl_opts *o,
			 const struct wl_result *r)
{
	const struct wl_model *m = &o->m;
	uint32_t passes = wl_passes(o);

	fprintf(f, "%s: %u layers x %u heads", m->name, m->layers, m->heads);
	if (m->kv_heads != m->heads)
		fprintf(f, " (%u KV)", m->kv_heads);
	fprintf(f, ", D=%u", m->head_dim);
	if (m->rope_base)
		fprintf(f, ", RoPE %u", m->rope_base);
	if (o->dtype != SPATTEN_DTYPE_F32)
		fprintf(f, ", %s inputs", dtype_name(o->dtype));
	if (o->fill)
		fprintf(f, ", %u-token filled cache", o->fill);
	if (o->prompt)
		fprintf(f, ", %u-token %s", o->prompt,
			m->causal ? "prompt" : "sequence");
	if (m->causal)
		fprintf(f, " + %u generated", o->steps);
	fprintf(f, "; %s backend\n", r->backend == SPATTEN_BACKEND_SIM ?
		"simulation" : "device");
	fprintf(f, "%spruning %s; keys ", o->dense ? "dense baseline: " : "",
		o->dense ? "off" : prunes(o) ?
		"tokens + heads + values (paper schedule)" :
		"off (dense schedule)");
	if (o->progressive)
		fprintf(f, "progressive (S%u MSB + 4 LSB)", o->k_bits);
	else
		fprintf(f, "static S%u", o->k_bits);
	fprintf(f, "; V S%u; sums over %u pass%s\n\n", o->v_bits, passes,
		passes == 1 ? "" : "es");
}

static void table_layer(FILE *f, const struct wl_opts *o,
			const struct wl_result *r, uint32_t l)
{
	const struct spatten_layer_stats *s = &r->layer[l];
	double passes = wl_passes(o);
	char a[16], b[16], c[16], vk[16], e[16];

	human(a, sizeof(a), (double)bytes_read(s));
	human(b, sizeof(b), (double)s->bytes_dense);
	human(c, sizeof(c), (double)s->cycles);
	if (s->value_keep)
		snprintf(vk, sizeof(vk), "%6.1f", s->value_keep / passes);
	else
		snprintf(vk, sizeof(vk), "%6s", "all");
	if (o->check)
		snprintf(e, sizeof(e), "%.1e", r->max_err[l]);
	else
		snprintf(e, sizeof(e), "-");
	fprintf(f, "%5u  %7u/%-7u %4.0f%%  %5.1f  %s  %5u %5.1f%%  "
		"%8s / %-8s %5.2fx  %8s  %s\n", l, s->tokens_kept,
		s->kv_rows, s->kv_rows ? 100.0 * s->tokens_kept / s->kv_rows :
		0.0, s->heads_alive / passes, vk, s->lsb_refetches,
		s->query_rows ? 100.0 * s->lsb_refetches / s->query_rows : 0.0,
		a, b, bytes_read(s) ? (double)s->bytes_dense / bytes_read(s) :
		0.0, c, e);
}

static void table_totals(FILE *f, const struct wl_opts *o,
			 const struct wl_result *r,
			 const struct spatten_layer_stats *t)
{
	char a[16], b[16], c[16], e[16];

	human(a, sizeof(a), (double)bytes_read(t));
	human(b, sizeof(b), (double)t->bytes_dense);
	human(c, sizeof(c), (double)t->cycles);
	if (o->check)
		snprintf(e, sizeof(e), "%.1e", r->max_err_all);
	else
		snprintf(e, sizeof(e), "-");
	fprintf(f, "total  %7u/%-7u %4.0f%%                 %5u %5.1f%%  "
		"%8s / %-8s %5.2fx  %8s  %s\n\n", t->tokens_kept,
		t->kv_rows, t->kv_rows ? 100.0 * t->tokens_kept /
		t->kv_rows : 0.0, t->lsb_refetches, t->query_rows ? 100.0 *
		t->lsb_refetches / t->query_rows : 0.0, a, b,
		bytes_read(t) ? (double)t->bytes_dense / bytes_read(t) : 0.0,
		c, e);
	fprintf(f, "traffic: Q %s, K MSB ", (human(a, sizeof(a),
		(double)t->bytes_q), a));
	human(a, sizeof(a), (double)t->bytes_k_msb);
	fprintf(f, "%s, K LSB ", a);
	human(a, sizeof(a), (double)t->bytes_k_lsb);
	fprintf(f, "%s, V ", a);
	human(a, sizeof(a), (double)t->bytes_v);
	fprintf(f, "%s; %.1f ms modeled at 1 GHz; run took %.2f s\n", a,
		(double)t->cycles / 1e6, r->seconds);
}

/* The cache: budget, peak bytes, saturations, resident set. */
static void table_cache(FILE *f, const struct wl_opts *o,
			const struct wl_result *r)
{
	uint64_t sat[3] = { 0, 0, 0 }, peak = 0;
	uint32_t l, kept = 0, i;
	char a[16];

	for (l = 0; l < o->m.layers; l++) {
		for (i = 0; i < 3; i++)
			sat[i] += r->sat[l][i];
		peak += r->ctx_max[l] * wl_slot_bytes(o);
		if (r->kept_max[l] > kept)
			kept = r->kept_max[l];
	}
	human(a, sizeof(a), (double)peak);
	fprintf(f, "KV cache: ");
	if (wl_budget(o))
		fprintf(f, "budget %u+%u+%u = %u tokens%s in %u slots; ",
			o->kv_start, o->kv_important, o->kv_recent,
			wl_budget(o), o->kv_per_head ? " per KV head" : "",
			r->capacity);
	fprintf(f, "peak %sB (%u layers); at most %u tokens kept in a pass; "
		"saturated Q %" PRIu64 ", K %" PRIu64 ", V %" PRIu64 "\n", a,
		o->m.layers, kept, sat[0], sat[1], sat[2]);
	for (i = 0; i < r->n_rss; i++) {
		fprintf(f, "RSS at %" PRIu64 " tokens: %.1f MiB", o->rss_at[i],
			r->rss_kib[i] / 1024.0);
		if (r->rss_tokens[i] != o->rss_at[i])	/* within a pass */
			fprintf(f, " (read at %" PRIu64 ")", r->rss_tokens[i]);
		fprintf(f, "\n");
	}
	fprintf(f, "time: ");
	if (o->fill)
		fprintf(f, "fill %.2f s, ", r->fill_seconds);
	fprintf(f, "attention %.2f s (%.1f ms a pass), reference %.2f s\n",
		r->attend_seconds, wl_passes(o) ? 1e3 * r->attend_seconds /
		wl_passes(o) : 0.0, r->check_seconds);
}

void wl_report(FILE *f, const struct wl_opts *o, const struct wl_result *r)
{
	struct spatten_layer_stats t;
	uint32_t l;

	if (o->json) {
		report_json(f, o, r);
		return;
	}
	memset(&t, 0, sizeof(t));
	table_header(f, o, r);
	fprintf(f, "layer  tokens kept/context   heads  V rows  LSB refetch   "
		"bytes read / dense        cycles  max err\n");
	for (l = 0; l < o->m.layers; l++) {
		table_layer(f, o, r, l);
		layer_stats_add(&t, &r->layer[l]);
	}
	table_totals(f, o, r, &t);
	table_cache(f, o, r);
	if (o->check) {
		fprintf(f, "check: %" PRIu64 " output rows against the float "
			"reference, max |err| %.2e, worst %.2f of the engine's "
			"tolerance: %s\n", r->rows_checked, r->max_err_all,
			r->worst_ratio, r->worst_ratio <= 1.0 ? "PASS" :
			"FAIL");
		if (r->rows_unchecked)
			fprintf(f, "check: %" PRIu64 " rows not checked (kept "
				"slots above 65535 not listed by the library)\n",
				r->rows_unchecked);
	}
}
