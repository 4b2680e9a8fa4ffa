/* SPDX-License-Identifier: MIT */
/*
 * The JSON report of the tools (schema "spatten-report/1", docs/tools.md):
 * the envelope every document starts with and the trace document that
 * spatten-replay --json and spatten-run --trace --json share.
 */
#ifndef SPATTEN_REPORT_H
#define SPATTEN_REPORT_H

#include <stdio.h>

#include "spatten-trace.h"

#define SPATTEN_REPORT_SCHEMA	"spatten-report/1"

/*
 * @s as a JSON string literal (quotes, escapes): '"', '\\' and control
 * bytes escaped; a byte that is not part of a valid UTF-8 character (a
 * file name in Latin-1, a field cut short) becomes \ufffd, so the output
 * is always valid JSON in UTF-8.
 */
void rep_json_string(FILE *f, const char *s);

/*
 * Opens a document: {"schema":"spatten-report/1","tool":@tool,
 * "kind":@kind (no closing brace; the caller adds members and "}").
 */
void rep_begin(FILE *f, const char *tool, const char *kind);

/*
 * The members of a trace document after the envelope: "file", the counts,
 * DRAM bytes, reduction, per-plane bytes, refetches, cycles (@eighth:
 * "cycles" is the SpAtten_1/8 model's). Each member starts with ",".
 */
void rep_trace_totals(FILE *f, const char *name, const struct tr_reader *t,
		      int eighth);

/*
 * fflush(stdout); remembers the first write error (ferror() included).
 * Return: 0, or -1 if anything written to stdout so far was lost.
 */
int rep_flush_stdout(void);

/*
 * At exit: if output was lost (a full disk, a closed pipe), prints
 * "prog: stdout: <strerror>" and returns 1 when @status is 0; else @status.
 */
int rep_stdout_done(const char *prog, int status);

#endif /* SPATTEN_REPORT_H */
