/* SPDX-License-Identifier: MIT */
/*
 * Streaming trace reader for spatten-replay and spatten-run --trace: feeds
 * the engine's line parser (engine/spe_trace.h) from a file descriptor or
 * from chunks, in bounded memory, and rejects what the engine's parser lets
 * through: NUL bytes, over-long lines, rows with more fields than the
 * header, a head repeated within a layer, layers or iterations out of
 * order, a header without rows. docs/tools.md section 1, "Limits", lists
 * the bounds.
 */
#ifndef SPATTEN_TRACE_H
#define SPATTEN_TRACE_H

#include <stddef.h>
#include <stdint.h>

#include "spe_trace.h"

/* Bytes of one line, its "\r\n" excluded. */
#define TR_LINE_MAX		4096
/* Lines of one trace (rows, blank and skipped lines together). */
#define TR_LINES_MAX		16777216ul
/* Distinct iterations of one trace (the context is 16-bit). */
#define TR_ITERATIONS_MAX	65536u
/* Largest layer_id; largest head_id (at most 65535 heads per job). */
#define TR_LAYER_ID_MAX		65535u
#define TR_HEAD_ID_MAX		65534u

#define TR_ERR_LEN		256

/**
 * struct tr_reader - a trace being read
 * @r: the engine's replay (set r.on_job / r.opaque before feeding)
 * @max_lines: TR_LINES_MAX unless lowered (tests)
 * @header_fields: fields of the header line (0 before it)
 * @iterations: distinct iterations seen
 * @err_line: line of the error (0: not tied to a line)
 * @err: the error, without file or line; empty if none
 *
 * The rest is private: the line being assembled, the previous row's
 * position and the heads of the current layer.
 */
struct tr_reader {
	struct spe_trace_replay r;
	unsigned long max_lines;
	size_t header_fields;
	uint64_t iterations;
	unsigned long err_line;
	char err[TR_ERR_LEN];
	/* private */
	int failed;
	size_t len;
	char line[TR_LINE_MAX + 2];
	int have_prev;
	uint32_t prev_iteration, prev_layer;
	uint32_t n_heads;
	uint16_t heads[TR_HEAD_ID_MAX + 1];
	uint8_t seen[(TR_HEAD_ID_MAX + 8) / 8];
};

/* Zeroes @t and starts an engine replay (full and 1/8 models). */
void tr_init(struct tr_reader *t);

/*
 * Feed @len bytes (any chunking). Return: 0, or -1 with t->err set; after
 * an error every further call returns -1.
 */
int tr_feed(struct tr_reader *t, const char *buf, size_t len);

/*
 * End of input: the last line without a newline, then the checks that need
 * the whole trace (a header; at least one row) and the last job. Return: 0
 * or -1 with t->err set.
 */
int tr_finish(struct tr_reader *t);

/*
 * Read @fd to its end through tr_feed() and tr_finish(). A read error is
 * reported as strerror() (e.g. "Is a directory"). Return: 0 or -1.
 */
int tr_read_fd(struct tr_reader *t, int fd);

/*
 * Open @path ("-": standard input) and tr_read_fd() it. Return: 0 or -1
 * (t->err holds the open error too).
 */
int tr_read_path(struct tr_reader *t, const char *path);

/*
 * "prog: name:line: err" or "prog: name: err" on stderr; control bytes and
 * bytes that are not UTF-8 in @name or the message as \xNN (a file name
 * cannot drive the terminal either).
 */
void tr_perror(const struct tr_reader *t, const char *prog,
	       const char *name);

#endif /* SPATTEN_TRACE_H */
