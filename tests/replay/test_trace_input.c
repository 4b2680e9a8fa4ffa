// SPDX-License-Identifier: MIT
/*
 * Bad input to the trace readers: the streaming reader of the tools
 * (tools/spatten-trace.c) and spatten-replay itself, with the exact
 * message a user sees, the exit status, and the memory an endless or
 * binary input costs (measured with wait4()'s ru_maxrss under an address
 * space limit).
 *
 *   test_trace_input SPATTEN_REPLAY_BIN TMP_DIR
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "spatten-trace.h"
#include "tap.h"

#define HEADER "iteration_id,layer_id,head_id,embedding_length_D," \
	"sentence_length_L,key_fetch_num,quant_key_bit,quant_query_bit," \
	"auto_requant_thres,if_requant,auto_requant_incre,value_fetch_num," \
	"quant_value_bit,if_accumulate_importance," \
	"if_rescale_previous_importance,if_topk,topk"
/* A row of (iteration, layer, head) = (%u, %u, %u). */
#define ROW "%u,%u,%u,64.0,100,80,6,16,0.05,True,4,20,6,True,False,False,-1\n"

/* Address space the tool may use in the memory tests. */
#define AS_LIMIT	(64ul << 20)

static const char *tool, *tmpdir;
static struct tr_reader rd;

/* ---- the reader ----------------------------------------------------------- */

/* Feeds @text in chunks of @chunk bytes; returns tr_finish()'s result. */
static int read_str(const char *text, size_t chunk)
{
	size_t len = strlen(text), n;

	tr_init(&rd);
	while (len) {
		n = len < chunk ? len : chunk;
		if (tr_feed(&rd, text, n))
			return -1;
		text += n;
		len -= n;
	}
	return tr_finish(&rd);
}

static int err_is(unsigned long line, const char *msg)
{
	return rd.err_line == line && !strcmp(rd.err, msg);
}

static void test_rejects(void)
{
	static const struct {
		const char *text;
		unsigned long line;
		const char *msg;
	} bad[] = {
		{ "", 0, "empty: no header line (expected a header line "
		  "iteration_id,layer_id,head_id,...)" },
		{ "\n\n", 0, "no header line (expected a header line "
		  "iteration_id,layer_id,head_id,...)" },
		{ HEADER "\n", 0, "no rows (a header but no data lines)" },
		{ HEADER "\r\nconfigs/x.yml,,,,,,,,,,,,,,,,\n", 0,
		  "no rows (a header and 1 skipped line: a repeated header "
		  "or a config path line)" },
		{ HEADER "\n" HEADER "\nconfigs/x.yml,,,,,,,,,,,,,,,,\n", 0,
		  "no rows (a header and 2 skipped lines: a repeated header "
		  "or a config path line)" },
		{ HEADER "\n0,0,0,64,993,993,-1,-1,-1,False,-1,993,-1,True,"
		  "False,False,-1\n1O,0,0,64,993,993,-1,-1,-1,False,-1,993,"
		  "-1,True,False,False,-1\n", 3,
		  "column iteration_id: '1O' is not a number" },
		{ HEADER "\n,0,1,64,993,993,-1,-1,-1,False,-1,993,-1,True,"
		  "False,False,-1\n", 2,
		  "column iteration_id: '' is empty, expected a number" },
		{ HEADER "\n0,0,0,64.0,100,80,6,16,0.05,True,4,20,6,True,"
		  "False,False,-1,7\n", 2,
		  "18 fields, expected 17 (as many as the header)" },
		{ HEADER "\n0,0,0,64.0,100,80,6,16,0.05,True,4,20,6,True,"
		  "False,False,-1,\n", 2,
		  "18 fields, expected 17 (as many as the header)" },
		{ HEADER "\n0,0,0,64.0,100,80,6,16,0.05,True,4,20,6,True,"
		  "False,False,-1\n0,0,1,64.0,100,80,6,16,0.05,True,4,20,6,"
		  "True,False,False,-1\n0,0,0,64.0,100,80,6,16,0.05,True,4,20,"
		  "6,True,False,False,-1\n", 4,
		  "iteration 0 layer 0: head 0 appears twice" },
		{ HEADER "\n0,1,0,64.0,100,80,6,16,0.05,True,4,20,6,True,"
		  "False,False,-1\n0,0,0,64.0,100,80,6,16,0.05,True,4,20,6,"
		  "True,False,False,-1\n", 3,
		  "iteration 0: layer 0 after layer 1: layers out of order" },
		{ HEADER "\n0,0,0,64.0,100,80,6,16,0.05,True,4,20,6,True,"
		  "False,False,-1\n0,1,0,64.0,100,80,6,16,0.05,True,4,20,6,"
		  "True,False,False,-1\n0,0,1,64.0,100,80,6,16,0.05,True,4,20,"
		  "6,True,False,False,-1\n", 4,
		  "iteration 0: layer 0 after layer 1: layers out of order" },
		{ HEADER "\n5,0,0,64.0,100,80,6,16,0.05,True,4,20,6,True,"
		  "False,False,-1\n4,0,0,64.0,100,80,6,16,0.05,True,4,20,6,"
		  "True,False,False,-1\n", 3,
		  "iteration 4 after iteration 5: iterations out of order" },
		{ HEADER "\n0,0,65535,64.0,100,80,6,16,0.05,True,4,20,6,True,"
		  "False,False,-1\n", 2,
		  "column head_id: 65535 is out of range (0..65534)" },
		{ HEADER "\n0,65536,0,64.0,100,80,6,16,0.05,True,4,20,6,True,"
		  "False,False,-1\n", 2,
		  "column layer_id: 65536 is out of range (0..65535)" },
	};
	size_t i, chunk;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		for (chunk = 1; chunk <= 4096; chunk *= 64) {
			int ret = read_str(bad[i].text, chunk);

			ok(ret == -1 && err_is(bad[i].line, bad[i].msg),
			   "bad trace %zu, chunks of %zu: line %lu '%s' "
			   "(got %lu '%s')", i, chunk, bad[i].line,
			   bad[i].msg, rd.err_line, rd.err);
		}
	}
}

static void test_nul_and_long_lines(void)
{
	static const char nul[] = HEADER "\n0,0,0,64\0.0,100";
	size_t hl, i;
	char *big;
	int ret;

	tr_init(&rd);
	ret = tr_feed(&rd, nul, sizeof(nul) - 1);
	ok(ret == -1 && err_is(2, "NUL byte at byte 9 of the line: not a "
			       "text trace"),
	   "a NUL inside a number is a NUL byte, not a bad number (%s)",
	   rd.err);
	ok(tr_feed(&rd, "x\n", 2) == -1 && tr_finish(&rd) == -1,
	   "after an error, feed and finish keep failing");

	big = malloc(TR_LINE_MAX + 2);
	if (!big)
		return;
	memset(big, 'a', TR_LINE_MAX + 1);
	big[TR_LINE_MAX + 1] = '\0';
	tr_init(&rd);
	ret = tr_feed(&rd, big, TR_LINE_MAX);
	ok(ret == 0, "a first line of 4096 bytes is still being read");
	ret = tr_feed(&rd, "aa", 2);
	ok(ret == -1 && err_is(1, "line longer than 4096 bytes (expected a "
			       "header line iteration_id,layer_id,"
			       "head_id,...)"),
	   "4098 bytes without a newline: rejected at once (%s)", rd.err);

	free(big);

	/*
	 * A NUL after 4097 bytes of a row: too long, in one piece or byte
	 * by byte (fuzz_trace compares the two readings).
	 */
	hl = strlen(HEADER) + 1;
	big = malloc(hl + TR_LINE_MAX + 2);
	if (!big)
		return;
	memcpy(big, HEADER "\n", hl);
	memset(big + hl, '1', TR_LINE_MAX + 1);
	big[hl + TR_LINE_MAX + 1] = '\0';
	tr_init(&rd);
	tr_feed(&rd, big, hl + TR_LINE_MAX + 2);
	ok(err_is(2, "line longer than 4096 bytes"),
	   "a NUL after 4097 bytes of a line, in one piece: too long (%s)",
	   rd.err);
	tr_init(&rd);
	for (i = 0; i < hl + TR_LINE_MAX + 2 && !rd.err[0]; i++)
		tr_feed(&rd, big + i, 1);
	ok(err_is(2, "line longer than 4096 bytes"),
	   "... and byte by byte (%s)", rd.err);
	free(big);
}

/*
 * @text is HEADER "\n" then a valid row padded with blanks to @body bytes,
 * then @end. Returns 0 if the reader accepts it in chunks of @chunk.
 */
static int read_padded_row(size_t body, const char *end, size_t chunk)
{
	static const char row[] = "0,0,0,64.0,100,80,6,16,0.05,True,4,20,6,"
		"True,False,False,-1";
	size_t hl = strlen(HEADER) + 1, n = hl + body + strlen(end);
	char *text = malloc(n + 1);
	int ret;

	if (!text)
		return -2;
	memcpy(text, HEADER "\n", hl);
	memcpy(text + hl, row, sizeof(row) - 1);
	memset(text + hl + sizeof(row) - 1, ' ', body - (sizeof(row) - 1));
	strcpy(text + hl + body, end);
	ret = read_str(text, chunk);
	free(text);
	return ret;
}

/* Lines that are rows whatever their first column holds. */
static void test_string_first_column(void)
{
	/* fuzz/trace-seeds/reordered-crlf-bom.csv */
	static const char seed[] = "\xef\xbb\xbf" "extra,topk,if_topk,"
		"if_rescale_previous_importance,if_accumulate_importance,"
		"quant_value_bit,value_fetch_num,auto_requant_incre,"
		"if_requant,auto_requant_thres,quant_query_bit,quant_key_bit,"
		"key_fetch_num,sentence_length_L,embedding_length_D,head_id,"
		"layer_id,iteration_id\r\n"
		"zz,-1,False,False,True,6,20,4,False,0.05,16,6,100,120,64.0,5,"
		"4,0\r\n\r\n"
		"\"7\", 40 ,True,false,1,8,20,4,TRUE,1e-1,-1,12,\"100\",120,64,"
		"0,0,1\r\n";
	static const char model[] = "model," HEADER "\n"
		"gpt2,0,0,0,64,993,993,-1,-1,-1,False,-1,993,-1,True,False,"
		"False,-1\n"
		"gpt2,0,0,1,64,993,993,-1,-1,-1,False,-1,993,-1,True,False,"
		"False,-1\n";

	ok(read_str(seed, 7) == 0 && rd.r.totals.rows == 2 &&
	   rd.r.parser.skipped == 0 && rd.r.totals.iterations == 2,
	   "the reordered seed: its 'zz' row is read, 2 rows, 2 iterations "
	   "(%s)", rd.err);
	ok(read_str(model, 64) == 0 && rd.r.totals.rows == 2 &&
	   rd.r.parser.skipped == 0 && rd.r.totals.jobs == 1,
	   "a 'model' first column: 2 rows, none skipped (%s)", rd.err);
}

/* The line-length bound exactly: 4096 bytes in, 4097 out, any chunking. */
static void test_line_length_boundary(void)
{
	static const char *const ends[] = { "\n", "\r\n", "" };
	static const size_t chunks[] = { 1, 64, 4096 };
	size_t c, e;
	int ret;

	for (c = 0; c < 3; c++) {
		for (e = 0; e < 3; e++) {
			ret = read_padded_row(TR_LINE_MAX, ends[e], chunks[c]);
			ok(ret == 0 && rd.r.totals.rows == 1,
			   "a %d-byte row ending '%s', chunks of %zu: "
			   "accepted (%s)", TR_LINE_MAX, e == 0 ? "\\n" :
			   e == 1 ? "\\r\\n" : "", chunks[c], rd.err);
			ret = read_padded_row(TR_LINE_MAX + 1, ends[e],
					      chunks[c]);
			ok(ret == -1 &&
			   err_is(2, "line longer than 4096 bytes"),
			   "a %d-byte row ending '%s', chunks of %zu: "
			   "rejected at line 2 (%lu: %s)", TR_LINE_MAX + 1,
			   e == 0 ? "\\n" : e == 1 ? "\\r\\n" : "",
			   chunks[c], rd.err_line, rd.err);
		}
	}
}

/* Rows of one layer of one iteration, heads 0..n-1. */
static int feed_rows(uint32_t it, uint32_t layer, uint32_t n)
{
	char line[160];
	uint32_t h;

	for (h = 0; h < n; h++) {
		snprintf(line, sizeof(line), ROW, it, layer, h);
		if (tr_feed(&rd, line, strlen(line)))
			return -1;
	}
	return 0;
}

static void test_limits(void)
{
	uint32_t i;
	int ret = 0;

	tr_init(&rd);
	tr_feed(&rd, HEADER "\n", strlen(HEADER) + 1);
	for (i = 0; i < TR_ITERATIONS_MAX && !ret; i++)
		ret = feed_rows(i * 3, 0, 1);
	ok(!ret && tr_feed(&rd, "", 0) == 0, "65536 iterations are accepted");
	ret = feed_rows(TR_ITERATIONS_MAX * 3, 0, 1);
	ok(ret == -1 && err_is(TR_ITERATIONS_MAX + 2,
			       "more than 65536 iterations"),
	   "the 65537th iteration is not (%lu: %s)", rd.err_line, rd.err);

	tr_init(&rd);
	tr_feed(&rd, HEADER "\n", strlen(HEADER) + 1);
	ret = feed_rows(0, 0, TR_HEAD_ID_MAX + 1);
	ok(!ret && !tr_finish(&rd) && rd.r.totals.jobs == 1 &&
	   rd.r.totals.rows == 65535, "65535 heads in one layer: one job");

	tr_init(&rd);
	rd.max_lines = 5;
	tr_feed(&rd, HEADER "\n\n", strlen(HEADER) + 2);
	ret = feed_rows(0, 0, 3);
	ok(!ret && feed_rows(0, 1, 1) == -1 &&
	   err_is(6, "more than 5 lines"),
	   "the line limit counts every line (%s)", rd.err);
}

/* Whole buffer through the engine vs any chunking through the reader. */
static void test_chunking(void)
{
	static const char text[] = "\xef\xbb\xbf" HEADER "\r\n"
		"0,0,0,64.0,100,80,6,16,0.05,True,4,20,6,True,False,False,-1\r\n"
		"0,0,1,64.0,100,80,6,16,0.05,False,4,20,6,True,False,True,40\n"
		"\n"
		"configs/some/config.yml,,,,,,,,,,,,,,,,\n"
		"0,1,0,64.0,100,40,8,-1,-1,False,-1,10,-1,False,False,False,-1";
	struct spe_trace_replay whole;
	size_t chunk;
	int same = 1;

	spe_trace_replay_init(&whole);
	if (!ok(!spe_trace_replay_buffer(&whole, text, strlen(text)),
		"the engine replays the reference trace"))
		return;
	for (chunk = 1; chunk < sizeof(text); chunk++) {
		if (read_str(text, chunk) ||
		    memcmp(&rd.r.totals, &whole.totals, sizeof(whole.totals)) ||
		    rd.r.parser.line != 6 || rd.r.parser.skipped != 1)
			same = 0;
	}
	ok(same, "every chunk size gives the engine's totals, 6 lines, "
	   "1 skipped (last: %s)", rd.err);
}

/* ---- the command on endless and binary input ------------------------------ */

struct child {
	int status;		/* exit status, or 128 + signal */
	long maxrss_kb;
	char err[512];
};

typedef int (*gen_fn)(int fd, void *arg);

/*
 * Runs "tool @file" with RLIMIT_AS = AS_LIMIT, @gen writing its standard
 * input (if @gen), stderr captured. Returns 0, or -1 if it could not run.
 */
static int run_tool(const char *file, gen_fn gen, void *arg, struct child *c)
{
	char errpath[1024];
	struct rusage ru;
	int in[2], st, fd;
	pid_t pid;
	ssize_t n;

	snprintf(errpath, sizeof(errpath), "%s/stderr", tmpdir);
	if (pipe(in))
		return -1;
	pid = fork();
	if (pid < 0)
		return -1;
	if (!pid) {
		struct rlimit rl = { AS_LIMIT, AS_LIMIT };

		fd = open(errpath, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		dup2(in[0], 0);
		dup2(fd, 2);
		fd = open("/dev/null", O_WRONLY);
		dup2(fd, 1);
		close(in[1]);
		setrlimit(RLIMIT_AS, &rl);
		execl(tool, tool, file, (char *)NULL);
		_exit(127);
	}
	close(in[0]);
	if (gen)
		gen(in[1], arg);
	close(in[1]);
	if (wait4(pid, &st, 0, &ru) != pid)
		return -1;
	c->status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
	c->maxrss_kb = ru.ru_maxrss;
	c->err[0] = '\0';
	fd = open(errpath, O_RDONLY);
	if (fd >= 0) {
		n = read(fd, c->err, sizeof(c->err) - 1);
		c->err[n > 0 ? n : 0] = '\0';
		close(fd);
	}
	return 0;
}

/* Writes @len bytes of @buf again and again until the reader goes away. */
static int write_all(int fd, const char *buf, size_t len)
{
	while (len) {
		ssize_t n = write(fd, buf, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Endless: zeros, up to 300 MB. */
static int gen_zeros(int fd, void *arg)
{
	static char z[1 << 16];
	long i;

	(void)arg;
	for (i = 0; i < (300l << 20) / (long)sizeof(z); i++)
		if (write_all(fd, z, sizeof(z)))
			return -1;
	return 0;
}

/* Endless: the header, then rows advancing by @what (0 it, 1 layer, 2 head). */
static int gen_rows(int fd, void *arg)
{
	int what = *(int *)arg;
	char buf[1 << 16];
	uint32_t i = 0;
	size_t n;

	if (write_all(fd, HEADER "\n", strlen(HEADER) + 1))
		return -1;
	for (;;) {
		n = 0;
		while (n + 160 < sizeof(buf)) {
			n += (size_t)snprintf(buf + n, sizeof(buf) - n, ROW,
					      what == 0 ? i : 0,
					      what == 1 ? i : 0,
					      what == 2 ? i : 0);
			i++;
		}
		if (write_all(fd, buf, n))
			return -1;
	}
}

/* Endless: the header, then config path lines (skipped, not rows). */
static int gen_junk(int fd, void *arg)
{
	char buf[1 << 16];
	size_t i;

	(void)arg;
	if (write_all(fd, HEADER "\n", strlen(HEADER) + 1))
		return -1;
	for (i = 0; i + 18 <= sizeof(buf); i += 18)
		memcpy(buf + i, "j,,,,,,,,,,,,,,,,\n", 18);
	for (;;)
		if (write_all(fd, buf, i))
			return -1;
}

/* Endless: "yes garbage", no header at all. */
static int gen_garbage(int fd, void *arg)
{
	char buf[1 << 16];
	size_t i;

	(void)arg;
	for (i = 0; i + 8 <= sizeof(buf); i += 8)
		memcpy(buf + i, "garbage\n", 8);
	for (;;)
		if (write_all(fd, buf, i))
			return -1;
}

static void check_child(const char *what, const char *file, gen_fn gen,
			void *arg, const char *want)
{
	struct child c;

	if (!ok(run_tool(file, gen, arg, &c) == 0, "%s: run", what))
		return;
	ok(c.status == 1 && !strcmp(c.err, want),
	   "%s: exit 1 (got %d), stderr '%.*s' (got '%.*s')", what,
	   c.status, (int)strcspn(want, "\n"), want,
	   (int)strcspn(c.err, "\n"), c.err);
	ok(c.maxrss_kb > 0 && c.maxrss_kb < 8 * 1024,
	   "%s: peak RSS %ld KiB (< 8 MiB, address space limited to %lu "
	   "MiB)", what, c.maxrss_kb, AS_LIMIT >> 20);
	diag("peak memory, %s: %ld KiB", what, c.maxrss_kb);
}

static void test_tool_endless(void)
{
	char want[1200];
	int it = 0, layer = 1, head = 2;

	signal(SIGPIPE, SIG_IGN);
	check_child("/dev/zero", "/dev/zero", NULL, NULL,
		    "spatten-replay: /dev/zero:1: NUL byte at byte 1 of the "
		    "line: not a text trace\n");
	check_child("300 MB of zeros through a pipe", "-", gen_zeros, NULL,
		    "spatten-replay: <stdin>:1: NUL byte at byte 1 of the "
		    "line: not a text trace\n");
	check_child("endless lines without a header", "-", gen_garbage, NULL,
		    "spatten-replay: <stdin>:1: header: no column iteration_id "
		    "(expected a header line iteration_id,layer_id,head_id,"
		    "...)\n");
	check_child("endless rows, a new iteration each", "-", gen_rows, &it,
		    "spatten-replay: <stdin>:65538: more than 65536 "
		    "iterations\n");
	check_child("endless rows, a new layer each", "-", gen_rows, &layer,
		    "spatten-replay: <stdin>:65538: column layer_id: 65536 is "
		    "out of range (0..65535)\n");
	check_child("endless rows, a new head each", "-", gen_rows, &head,
		    "spatten-replay: <stdin>:65537: column head_id: 65535 is "
		    "out of range (0..65534)\n");
	check_child("endless config path lines (skipped)", "-", gen_junk, NULL,
		    "spatten-replay: <stdin>:16777217: more than 16777216 "
		    "lines\n");
	snprintf(want, sizeof(want), "spatten-replay: %s: Is a directory\n",
		 tmpdir);
	check_child("a directory", tmpdir, NULL, NULL, want);
}

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: %s SPATTEN_REPLAY TMP_DIR\n", argv[0]);
		return 2;
	}
	tool = argv[1];
	tmpdir = argv[2];
	mkdir(tmpdir, 0777);

	test_rejects();
	test_nul_and_long_lines();
	test_line_length_boundary();
	test_string_first_column();
	test_limits();
	test_chunking();
	test_tool_endless();
	return done_testing();
}
