// SPDX-License-Identifier: MIT
/*
 * Streaming trace reader: bytes in, lines to the engine's parser, rows to
 * its replay, in memory bounded by struct tr_reader. See spatten-trace.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "spatten-trace.h"

#define TR_HEADER_HINT	"expected a header line iteration_id,layer_id,head_id,..."

void tr_init(struct tr_reader *t)
{
	memset(t, 0, sizeof(*t));
	spe_trace_replay_init(&t->r);
	t->max_lines = TR_LINES_MAX;
}

__attribute__((format(printf, 3, 4)))
static int tr_fail(struct tr_reader *t, unsigned long line,
		   const char *fmt, ...)
{
	va_list ap;

	t->failed = 1;
	t->err_line = line;
	va_start(ap, fmt);
	vsnprintf(t->err, sizeof(t->err), fmt, ap);
	va_end(ap);
	return -1;
}

/* The engine's parser or replay failed: take its message. */
static int tr_engine_fail(struct tr_reader *t)
{
	return tr_fail(t, t->r.parser.err_line, "%s", t->r.parser.err);
}

static size_t tr_fields(const char *s, size_t n)
{
	size_t nf = 1;

	while (n--)
		nf += *s++ == ',';
	return nf;
}

static void tr_new_job(struct tr_reader *t)
{
	uint32_t i;

	for (i = 0; i < t->n_heads; i++)
		t->seen[t->heads[i] / 8] = 0;
	t->n_heads = 0;
}

/*
 * Order within the trace: iterations increase, layers increase within an
 * iteration, a head appears once per layer. Rows of one (iteration, layer)
 * are consecutive, so a layer seen again later is out of order too.
 */
static int tr_check_order(struct tr_reader *t, const struct spe_trace_row *w)
{
	unsigned long ln = w->line;

	if (w->layer > TR_LAYER_ID_MAX)
		return tr_fail(t, ln, "column layer_id: %u is out of range "
			       "(0..%u)", w->layer, TR_LAYER_ID_MAX);
	if (w->head > TR_HEAD_ID_MAX)
		return tr_fail(t, ln, "column head_id: %u is out of range "
			       "(0..%u)", w->head, TR_HEAD_ID_MAX);
	if (!t->have_prev || w->iteration != t->prev_iteration) {
		if (t->have_prev && w->iteration < t->prev_iteration)
			return tr_fail(t, ln, "iteration %u after iteration "
				       "%u: iterations out of order",
				       w->iteration, t->prev_iteration);
		if (t->iterations == TR_ITERATIONS_MAX)
			return tr_fail(t, ln, "more than %u iterations",
				       TR_ITERATIONS_MAX);
		t->iterations++;
		tr_new_job(t);
	} else if (w->layer < t->prev_layer) {
		return tr_fail(t, ln, "iteration %u: layer %u after layer %u: "
			       "layers out of order", w->iteration, w->layer,
			       t->prev_layer);
	} else if (w->layer > t->prev_layer) {
		tr_new_job(t);
	} else if (t->seen[w->head / 8] & (1u << (w->head % 8))) {
		return tr_fail(t, ln, "iteration %u layer %u: head %u "
			       "appears twice", w->iteration, w->layer,
			       w->head);
	}
	t->seen[w->head / 8] |= (uint8_t)(1u << (w->head % 8));
	t->heads[t->n_heads++] = (uint16_t)w->head;
	t->have_prev = 1;
	t->prev_iteration = w->iteration;
	t->prev_layer = w->layer;
	return 0;
}

/* One whole line, its "\n" removed. */
static int tr_line(struct tr_reader *t, const char *s, size_t n)
{
	struct spe_trace_row row;
	unsigned long ln = t->r.parser.line + 1;
	size_t nf, body = n;
	int ret;

	while (body && s[body - 1] == '\r')
		body--;
	if (body > TR_LINE_MAX)
		return tr_fail(t, ln, "line longer than %d bytes%s",
			       TR_LINE_MAX, t->r.parser.have_header ? "" :
			       " (" TR_HEADER_HINT ")");
	if (t->r.parser.line >= t->max_lines)
		return tr_fail(t, ln, "more than %lu lines", t->max_lines);
	ret = spe_trace_parse_line(&t->r.parser, s, body, &row);
	if (ret == SPE_TRACE_ERROR)
		return tr_engine_fail(t);
	if (ret == SPE_TRACE_NONE) {
		if (!t->header_fields && t->r.parser.have_header)
			t->header_fields = tr_fields(s, body);
		return 0;
	}
	nf = tr_fields(s, body);
	if (nf != t->header_fields)
		return tr_fail(t, ln, "%zu fields, expected %zu (as many as "
			       "the header)", nf, t->header_fields);
	if (tr_check_order(t, &row))
		return -1;
	if (spe_trace_replay_row(&t->r, &row) == SPE_TRACE_ERROR)
		return tr_engine_fail(t);
	return 0;
}

int tr_feed(struct tr_reader *t, const char *buf, size_t len)
{
	while (!t->failed && len) {
		const char *nl = memchr(buf, '\n', len);
		size_t n = nl ? (size_t)(nl - buf) : len;
		/* room for TR_LINE_MAX bytes and a "\r" */
		size_t room = TR_LINE_MAX + 1 - t->len;
		const char *z = memchr(buf, '\0', n < room ? n : room);
		unsigned long ln = t->r.parser.line + 1;

		/* the same error whatever the chunking: NUL, then length */
		if (z)
			return tr_fail(t, ln, "NUL byte at byte %zu of the "
				       "line: not a text trace",
				       t->len + (size_t)(z - buf) + 1);
		if (n > room)
			return tr_fail(t, ln, "line longer than %d bytes%s",
				       TR_LINE_MAX, t->r.parser.have_header ?
				       "" : " (" TR_HEADER_HINT ")");
		if (!nl) {
			memcpy(t->line + t->len, buf, n);
			t->len += n;
			return 0;
		}
		if (t->len) {
			memcpy(t->line + t->len, buf, n);
			tr_line(t, t->line, t->len + n);
			t->len = 0;
		} else {
			tr_line(t, buf, n);
		}
		buf += n + 1;
		len -= n + 1;
	}
	return t->failed ? -1 : 0;
}

int tr_finish(struct tr_reader *t)
{
	if (!t->failed && t->len) {
		tr_line(t, t->line, t->len);
		t->len = 0;
	}
	if (t->failed)
		return -1;
	if (!t->r.parser.have_header)
		return tr_fail(t, 0, "%s (" TR_HEADER_HINT ")",
			       t->r.parser.line ? "no header line" :
			       "empty: no header line");
	if (!t->r.parser.rows && t->r.parser.skipped)
		return tr_fail(t, 0, "no rows (a header and %lu skipped line%s: "
			       "a repeated header or a config path line)",
			       t->r.parser.skipped,
			       t->r.parser.skipped == 1 ? "" : "s");
	if (!t->r.parser.rows)
		return tr_fail(t, 0, "no rows (a header but no data lines)");
	spe_trace_replay_finish(&t->r);
	return 0;
}

int tr_read_fd(struct tr_reader *t, int fd)
{
	char buf[65536];
	ssize_t got;

	for (;;) {
		got = read(fd, buf, sizeof(buf));
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0)
			return tr_fail(t, 0, "%s", strerror(errno));
		if (!got)
			break;
		if (tr_feed(t, buf, (size_t)got))
			return -1;
	}
	return tr_finish(t);
}

int tr_read_path(struct tr_reader *t, const char *path)
{
	int fd, ret;

	if (!strcmp(path, "-"))
		return tr_read_fd(t, STDIN_FILENO);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return tr_fail(t, 0, "%s", strerror(errno));
	ret = tr_read_fd(t, fd);
	close(fd);
	return ret;
}

/* @s with control bytes and bytes that are not UTF-8 as \\xNN. */
static void tr_put_escaped(FILE *f, const char *s)
{
	size_t n = strlen(s), k;

	while (n) {
		unsigned char c = (unsigned char)*s;

		k = spe_trace_utf8_char(s, n);
		if (!k || c < 0x20 || c == 0x7f) {
			fprintf(f, "\\x%02x", c);
			k = 1;
		} else {
			fwrite(s, 1, k, f);
		}
		s += k;
		n -= k;
	}
}

void tr_perror(const struct tr_reader *t, const char *prog,
	       const char *name)
{
	fprintf(stderr, "%s: ", prog);
	tr_put_escaped(stderr, name);
	if (t->err_line)
		fprintf(stderr, ":%lu", t->err_line);
	fprintf(stderr, ": ");
	tr_put_escaped(stderr, t->err);
	fputc('\n', stderr);
}
