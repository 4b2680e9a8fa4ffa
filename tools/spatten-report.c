// SPDX-License-Identifier: MIT
/*
 * The tools' JSON report: envelope and trace document. See
 * spatten-report.h; docs/tools.md describes every member.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "spatten-report.h"

static const char *const rep_planes[SPE_PLANE_COUNT] = {
	[SPE_PLANE_Q] = "q",
	[SPE_PLANE_K_MSB] = "k_msb",
	[SPE_PLANE_K_LSB] = "k_lsb",
	[SPE_PLANE_V] = "v",
	[SPE_PLANE_OUT] = "out",
	[SPE_PLANE_TOK_IMP] = "tok_imp",
	[SPE_PLANE_TOK_ALIVE] = "tok_alive",
	[SPE_PLANE_TOK_KEPT] = "tok_kept",
	[SPE_PLANE_PINNED] = "pinned",
	[SPE_PLANE_HEAD_IMP] = "head_imp",
	[SPE_PLANE_HEAD_ALIVE] = "head_alive",
	[SPE_PLANE_HEAD_KEPT] = "head_kept",
	[SPE_PLANE_BLOCK_TABLE] = "block_table",
	[SPE_PLANE_POSITIONS] = "positions",
	[SPE_PLANE_HEAD_FRACS] = "head_fracs",
};

void rep_json_string(FILE *f, const char *s)
{
	size_t n = strlen(s), k;

	fputc('"', f);
	while (n) {
		unsigned char c = (unsigned char)*s;

		k = spe_trace_utf8_char(s, n);
		if (!k) {
			/* not UTF-8: one U+FFFD per byte */
			fputs("\\ufffd", f);
			k = 1;
		} else if (c == '"' || c == '\\') {
			fprintf(f, "\\%c", c);
		} else if (c < 0x20 || c == 0x7f) {
			fprintf(f, "\\u%04x", c);
		} else {
			fwrite(s, 1, k, f);
		}
		s += k;
		n -= k;
	}
	fputc('"', f);
}

void rep_begin(FILE *f, const char *tool, const char *kind)
{
	fprintf(f, "{\"schema\":\"%s\",\"tool\":", SPATTEN_REPORT_SCHEMA);
	rep_json_string(f, tool);
	fprintf(f, ",\"kind\":");
	rep_json_string(f, kind);
}

static double rep_ratio(uint64_t a, uint64_t b)
{
	return b ? (double)a / (double)b : 0.0;
}

static unsigned long long rep_ull(uint64_t v)
{
	return (unsigned long long)v;
}

void rep_trace_totals(FILE *f, const char *name, const struct tr_reader *t,
		      int eighth)
{
	const struct spe_trace_totals *s = &t->r.totals;
	uint64_t cycles = eighth ? s->cycles_eighth : s->cycles_full;
	int p;

	fprintf(f, ",\"file\":");
	rep_json_string(f, name);
	fprintf(f, ",\"lines\":%lu,\"rows\":%llu,\"skipped_lines\":%lu,"
		"\"jobs\":%llu,\"iterations\":%llu", t->r.parser.line,
		rep_ull(s->rows), t->r.parser.skipped, rep_ull(s->jobs),
		rep_ull(s->iterations));
	fprintf(f, ",\"dram_bytes_total\":%llu,\"dram_bytes_kv\":%llu,"
		"\"dram_bytes_dense_fp32\":%llu,\"reduction\":%.4f,"
		"\"reduction_total\":%.4f", rep_ull(s->bytes_total),
		rep_ull(s->bytes_kv), rep_ull(s->dense_fp32),
		rep_ratio(s->dense_fp32, s->bytes_kv),
		rep_ratio(s->dense_fp32, s->bytes_total));
	fprintf(f, ",\"bytes\":{");
	for (p = 0; p < SPE_PLANE_COUNT; p++)
		fprintf(f, "%s\"%s\":%llu", p ? "," : "", rep_planes[p],
			rep_ull(s->bytes[p]));
	fprintf(f, "}");
	fprintf(f, ",\"lsb_refetches\":%llu,\"lsb_refetch_rate\":%.6f,"
		"\"keys_fetched\":%llu,\"values_fetched\":%llu,"
		"\"keys_dense\":%llu,\"token_topk_runs\":%llu,"
		"\"qk_scores\":%llu,\"pv_rows\":%llu,\"topk_cycles\":%llu,"
		"\"topk_cycles_value\":%llu", rep_ull(s->refetch_rows),
		rep_ratio(s->refetch_rows, s->rows), rep_ull(s->keys_fetched),
		rep_ull(s->values_fetched), rep_ull(s->keys_dense),
		rep_ull(s->token_topk_runs), rep_ull(s->qk_scores),
		rep_ull(s->pv_rows), rep_ull(s->topk_cycles),
		rep_ull(s->topk_cycles_value));
	fprintf(f, ",\"model\":\"%s\",\"cycles\":%llu,\"cycles_full\":%llu,"
		"\"cycles_eighth\":%llu,\"time_us\":%.3f",
		eighth ? "eighth" : "full", rep_ull(cycles),
		rep_ull(s->cycles_full), rep_ull(s->cycles_eighth),
		(double)cycles / 1000.0);
}

/* The first write error of stdout, kept across flushes (0: none). */
static int rep_out_errno;

int rep_flush_stdout(void)
{
	if (fflush(stdout) && !rep_out_errno)
		rep_out_errno = errno ? errno : EIO;
	if (ferror(stdout) && !rep_out_errno)
		rep_out_errno = EIO;
	return rep_out_errno ? -1 : 0;
}

int rep_stdout_done(const char *prog, int status)
{
	if (!rep_flush_stdout())
		return status;
	fprintf(stderr, "%s: stdout: %s\n", prog, strerror(rep_out_errno));
	return status ? status : 1;
}
