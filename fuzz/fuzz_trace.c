// SPDX-License-Identifier: MIT
/*
 * libFuzzer target: the tools' streaming trace reader (tools/spatten-
 * trace.c) and, through it, the engine's trace parser and replay
 * (engine/spe_trace.c), fed with any bytes as spatten-replay and
 * spatten-run --trace would read them.
 *
 * The input is a trace file. It is read twice: in one piece, and in
 * chunks of 1..61 bytes (the size derived from the input), as read(2) may
 * return them. Both readings must agree on the outcome, the error and its
 * line, and every total. On success the totals must be consistent with
 * the limits the reader promises; on failure the message must be set.
 */
#include <stdint.h>
#include <string.h>

#include "spatten-trace.h"

static struct tr_reader whole, chunked;

static int fuzz_read(struct tr_reader *t, const uint8_t *data, size_t size,
		     size_t chunk)
{
	size_t n;

	tr_init(t);
	while (size) {
		n = size < chunk ? size : chunk;
		if (tr_feed(t, (const char *)data, n))
			break;
		data += n;
		size -= n;
	}
	return tr_finish(t);
}

static void fuzz_check_ok(const struct tr_reader *t)
{
	const struct spe_trace_totals *s = &t->r.totals;
	uint64_t sum = 0;
	int p;

	for (p = 0; p < SPE_PLANE_COUNT; p++)
		sum += s->bytes[p];
	if (!s->rows || s->rows != t->r.parser.rows || s->jobs > s->rows ||
	    !s->jobs || s->iterations > s->jobs ||
	    t->iterations > TR_ITERATIONS_MAX || sum != s->bytes_total ||
	    s->keys_fetched > s->keys_dense ||
	    s->values_fetched > s->keys_fetched ||
	    s->refetch_rows > s->rows || t->r.parser.line > t->max_lines ||
	    s->rows + t->r.parser.skipped > t->r.parser.line)
		__builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t chunk = size % 61 + 1;
	int a, b;

	a = fuzz_read(&whole, data, size, size ? size : 1);
	b = fuzz_read(&chunked, data, size, chunk);
	if (a != b || whole.err_line != chunked.err_line ||
	    strcmp(whole.err, chunked.err) ||
	    memcmp(&whole.r.totals, &chunked.r.totals,
		   sizeof(whole.r.totals)))
		__builtin_trap();
	if (a) {
		if (!whole.err[0] || !memchr(whole.err, '\0', sizeof(whole.err)))
			__builtin_trap();
		return 0;
	}
	fuzz_check_ok(&whole);
	return 0;
}
