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
 * the limits the reader promises, and the engine's spe_trace_replay_buffer()
 * must accept the same bytes with the same totals; on failure the message
 * must be set, printable UTF-8, at a line read.
 */
#include <stdint.h>
#include <string.h>

#include "spatten-trace.h"

static struct tr_reader whole, chunked;
static struct spe_trace_replay buffer;

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

/*
 * What the streaming reader accepts, the engine's whole-buffer replay
 * accepts too, with the same totals and counts.
 */
static void fuzz_check_buffer(const struct tr_reader *t, const uint8_t *data,
			      size_t size)
{
	if (spe_trace_replay_buffer(&buffer, (const char *)data, size) ||
	    memcmp(&buffer.totals, &t->r.totals, sizeof(buffer.totals)) ||
	    buffer.parser.rows != t->r.parser.rows ||
	    buffer.parser.skipped != t->r.parser.skipped ||
	    buffer.parser.line != t->r.parser.line)
		__builtin_trap();
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
	    t->iterations != s->iterations ||
	    t->iterations > TR_ITERATIONS_MAX || sum != s->bytes_total ||
	    s->keys_fetched > s->keys_dense ||
	    s->values_fetched > s->keys_fetched ||
	    s->refetch_rows > s->rows || t->r.parser.line > t->max_lines ||
	    s->rows + t->r.parser.skipped > t->r.parser.line)
		__builtin_trap();
}

/*
 * A failure: a message, printable UTF-8 (no control byte, nothing cut
 * inside a character: the fields it quotes are escaped), at the line being
 * read or before it.
 */
static void fuzz_check_err(const struct tr_reader *t)
{
	size_t n = strlen(t->err), i = 0, k;

	if (!n || n >= sizeof(t->err) ||
	    t->err_line > t->r.parser.line + 1)
		__builtin_trap();
	while (i < n) {
		k = spe_trace_utf8_char(t->err + i, n - i);
		if (!k || (unsigned char)t->err[i] < 0x20 ||
		    t->err[i] == 0x7f)
			__builtin_trap();
		i += k;
	}
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
	    whole.iterations != chunked.iterations ||
	    memcmp(&whole.r.totals, &chunked.r.totals,
		   sizeof(whole.r.totals)))
		__builtin_trap();
	if (a) {
		fuzz_check_err(&whole);
		return 0;
	}
	fuzz_check_ok(&whole);
	spe_trace_replay_init(&buffer);
	fuzz_check_buffer(&whole, data, size);
	return 0;
}
