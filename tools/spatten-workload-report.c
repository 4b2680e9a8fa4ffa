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

/* Per layer: per-pass averages (_avg) and sums over the passes (_sum). */
static void json_layer(FILE *f, const struct wl_opts *o,
		       const struct wl_result *r, uint32_t l)
{
	const struct spatten_layer_stats *s = &r->layer[l];
	double passes = 1.0 + o->steps;

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
		PRIu64 ", \"max_err\": ", bytes_read(s), s->bytes_dense,
		s->cycles);
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
	uint32_t l;

	memset(&t, 0, sizeof(t));
	for (l = 0; l < o->m.layers; l++)
		layer_stats_add(&t, &r->layer[l]);
	fprintf(f, "  \"totals\": {\"query_rows\": %" PRIu64 ", "
		"\"lsb_refetches\": %u, \"lsb_refetch_rate\": %.4f, "
		"\"bytes\": ", t.query_rows, t.lsb_refetches, t.query_rows ?
		(double)t.lsb_refetches / t.query_rows : 0.0);
	json_bytes(f, &t);
	fprintf(f, ",\n    \"bytes_read\": %" PRIu64 ", \"bytes_dense_s16\": %"
		PRIu64 ", \"reduction_s16\": %.3f, \"cycles\": %" PRIu64
		"},\n", bytes_read(&t), t.bytes_dense, bytes_read(&t) ?
		(double)t.bytes_dense / bytes_read(&t) : 0.0, t.cycles);
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
		1 + o->steps, o->seed, r->backend == SPATTEN_BACKEND_SIM ?
		"sim" : "device", o->dense ? "true" : "false",
		o->progressive ? "true" : "false", o->k_bits,
		o->progressive ? 4 : 0, o->v_bits);
	if (o->progressive)
		fprintf(f, "%g,\n", o->threshold);
	else
		fprintf(f, "null,\n");
	fprintf(f, "  \"per_layer\": [\n");
	for (l = 0; l < m->layers; l++)
		json_layer(f, o, r, l);
	fprintf(f, "  ],\n");
	json_totals(f, o, r);
	fprintf(f, "  \"check\": {\"status\": \"%s\", \"rows\": %" PRIu64,
		!o->check ? "skipped" : r->worst_ratio <= 1.0 ? "pass" :
		"fail", r->rows_checked);
	if (o->check)
		fprintf(f, ", \"max_err\": %.3e, \"worst_err_over_tolerance\": "
			"%.3f},\n", r->max_err_all, r->worst_ratio);
	else
		fprintf(f, ", \"max_err\": null, "
			"\"worst_err_over_tolerance\": null},\n");
	fprintf(f, "  \"seconds\": %.3f\n}\n", r->seconds);
}

void wl_report(FILE *f, const struct wl_opts *o, const struct wl_result *r)
{
	const struct wl_model *m = &o->m;
	struct spatten_layer_stats t;
	char a[16], b[16], c[16], vk[16], e[16];
	uint32_t l;

	if (o->json) {
		report_json(f, o, r);
		return;
	}
	memset(&t, 0, sizeof(t));
	fprintf(f, "%s: %u layers x %u heads, D=%u, %u-token %s", m->name,
		m->layers, m->heads, m->head_dim, o->prompt,
		m->causal ? "prompt" : "sequence");
	if (m->causal)
		fprintf(f, " + %u generated", o->steps);
	fprintf(f, "; %s backend\n", r->backend == SPATTEN_BACKEND_SIM ?
		"simulation" : "device");
	fprintf(f, "%spruning %s; keys ", o->dense ? "dense baseline: " : "",
		o->dense ? "off" : "tokens + heads + values (paper schedule)");
	if (o->progressive)
		fprintf(f, "progressive (S%u MSB + 4 LSB)", o->k_bits);
	else
		fprintf(f, "static S%u", o->k_bits);
	fprintf(f, "; V S%u; sums over %u pass%s\n\n", o->v_bits,
		1 + o->steps, o->steps ? "es" : "");
	fprintf(f, "layer  tokens kept/context   heads  V rows  LSB refetch   "
		"bytes read / dense        cycles  max err\n");
	for (l = 0; l < m->layers; l++) {
		const struct spatten_layer_stats *s = &r->layer[l];
		double passes = 1.0 + o->steps;

		human(a, sizeof(a), (double)bytes_read(s));
		human(b, sizeof(b), (double)s->bytes_dense);
		human(c, sizeof(c), (double)s->cycles);
		if (s->value_keep)
			snprintf(vk, sizeof(vk), "%6.1f",
				 s->value_keep / passes);
		else
			snprintf(vk, sizeof(vk), "%6s", "all");
		if (o->check)
			snprintf(e, sizeof(e), "%.1e", r->max_err[l]);
		else
			snprintf(e, sizeof(e), "-");
		fprintf(f, "%5u  %7u/%-7u %4.0f%%  %5.1f  %s  %5u %5.1f%%  "
			"%8s / %-8s %5.2fx  %8s  %s\n", l, s->tokens_kept,
			s->kv_rows, s->kv_rows ? 100.0 *
			s->tokens_kept / s->kv_rows : 0.0,
			s->heads_alive / passes, vk,
			s->lsb_refetches, s->query_rows ? 100.0 *
			s->lsb_refetches / s->query_rows : 0.0, a, b,
			bytes_read(s) ? (double)s->bytes_dense /
			bytes_read(s) : 0.0, c, e);
		layer_stats_add(&t, s);
	}
	human(a, sizeof(a), (double)bytes_read(&t));
	human(b, sizeof(b), (double)t.bytes_dense);
	human(c, sizeof(c), (double)t.cycles);
	if (o->check)
		snprintf(e, sizeof(e), "%.1e", r->max_err_all);
	else
		snprintf(e, sizeof(e), "-");
	fprintf(f, "total  %7u/%-7u %4.0f%%                 %5u %5.1f%%  "
		"%8s / %-8s %5.2fx  %8s  %s\n\n", t.tokens_kept,
		t.kv_rows, t.kv_rows ? 100.0 * t.tokens_kept /
		t.kv_rows : 0.0, t.lsb_refetches, t.query_rows ? 100.0 *
		t.lsb_refetches / t.query_rows : 0.0, a, b,
		bytes_read(&t) ? (double)t.bytes_dense / bytes_read(&t) : 0.0,
		c, e);
	fprintf(f, "traffic: Q %s, K MSB ", (human(a, sizeof(a),
		(double)t.bytes_q), a));
	human(a, sizeof(a), (double)t.bytes_k_msb);
	fprintf(f, "%s, K LSB ", a);
	human(a, sizeof(a), (double)t.bytes_k_lsb);
	fprintf(f, "%s, V ", a);
	human(a, sizeof(a), (double)t.bytes_v);
	fprintf(f, "%s; %.1f ms modeled at 1 GHz; run took %.2f s\n", a,
		(double)t.cycles / 1e6, r->seconds);
	if (o->check)
		fprintf(f, "check: %" PRIu64 " output rows against the float "
			"reference, max |err| %.2e, worst %.2f of the engine's "
			"tolerance: %s\n", r->rows_checked, r->max_err_all,
			r->worst_ratio, r->worst_ratio <= 1.0 ? "PASS" :
			"FAIL");
}
