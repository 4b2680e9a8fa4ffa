// SPDX-License-Identifier: MIT
/*
 * Tests of the trace replay: the parser (engine/spe_trace.c), the traffic
 * and job building against hand computations, and spatten-replay itself.
 *
 *   test_replay SPATTEN_REPLAY_BIN WORKLOADS_DIR TMP_DIR
 *
 * WORKLOADS_DIR holds the shipped traces (tests on them skip if absent);
 * TMP_DIR receives the small traces the tests write for the tool.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "spe.h"
#include "spe_trace.h"
#include "tap.h"

#define HEADER "iteration_id,layer_id,head_id,embedding_length_D," \
	"sentence_length_L,key_fetch_num,quant_key_bit,quant_query_bit," \
	"auto_requant_thres,if_requant,auto_requant_incre,value_fetch_num," \
	"quant_value_bit,if_accumulate_importance," \
	"if_rescale_previous_importance,if_topk,topk"

static const char *tool, *workloads, *tmpdir;

/* ---- helpers ------------------------------------------------------------ */

static int parse1(struct spe_trace_parser *p, const char *line,
		  struct spe_trace_row *row)
{
	return spe_trace_parse_line(p, line, strlen(line), row);
}

/* A fresh parser that has seen the standard header. */
static void parser_with_header(struct spe_trace_parser *p)
{
	struct spe_trace_row row;

	spe_trace_parser_init(p);
	parse1(p, HEADER "\n", &row);
}

/* Parses @line after the header; returns the result, row in @row. */
static int one_row(const char *line, struct spe_trace_row *row,
		   struct spe_trace_parser *p)
{
	parser_with_header(p);
	return parse1(p, line, row);
}

static int replay_str(const char *text, struct spe_trace_replay *r)
{
	spe_trace_replay_init(r);
	return spe_trace_replay_buffer(r, text, strlen(text));
}

static char *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long n;

	if (!f)
		return NULL;
	if (fseek(f, 0, SEEK_END) || (n = ftell(f)) < 0 ||
	    fseek(f, 0, SEEK_SET)) {
		fclose(f);
		return NULL;
	}
	buf = malloc((size_t)n + 1);
	if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
		free(buf);
		buf = NULL;
	}
	fclose(f);
	if (buf) {
		buf[n] = '\0';
		*len = (size_t)n;
	}
	return buf;
}

static int write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "wb");
	int ok;

	if (!f)
		return 0;
	ok = fputs(text, f) >= 0;
	return !fclose(f) && ok;
}

/* Runs the tool through the shell; returns its exit status or -1. */
static int run(const char *args, const char *out, const char *err)
{
	char cmd[4096];
	int st;

	snprintf(cmd, sizeof(cmd), "'%s' %s >'%s' 2>'%s'", tool, args, out,
		 err);
	st = system(cmd);
	if (st == -1 || !WIFEXITED(st))
		return -1;
	return WEXITSTATUS(st);
}

/*
 * @path holds JSON Lines that python3 decodes as strict UTF-8 and parses.
 * Return: 1 valid, 0 not, -1 no python3.
 */
static int json_valid(const char *path)
{
	char cmd[1280];
	int st;

	if (system("command -v python3 >/dev/null 2>&1"))
		return -1;
	snprintf(cmd, sizeof(cmd), "python3 -c 'import json,sys\n"
		 "for l in open(sys.argv[1], \"rb\").read().splitlines():\n"
		 "    json.loads(l.decode(\"utf-8\"))' '%s' 2>/dev/null", path);
	st = system(cmd);
	return st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

/* The unsigned number after "\"key\":" in @json, or -1. */
static double json_num(const char *json, const char *key)
{
	char pat[128];
	const char *s;

	snprintf(pat, sizeof(pat), "\"%s\":", key);
	s = strstr(json, pat);
	if (!s)
		return -1;
	return strtod(s + strlen(pat), NULL);
}

/*
 * Bytes that are not UTF-8 in the file name: valid JSON (U+FFFD). Output
 * that cannot be written: exit 1 and say so, not 0.
 */
static void test_command_bytes(const char *good, const char *out,
			       const char *err)
{
	char weird[1100], args[2200];
	char *o, *text;
	size_t len;
	int st, v;

	snprintf(weird, sizeof(weird), "%s/weird\xffname.csv", tmpdir);
	text = read_file(good, &len);
	if (!ok(text && write_file(weird, text), "copy to %s", weird)) {
		free(text);
		return;
	}
	free(text);
	snprintf(args, sizeof(args), "--json '%s' '%s'", weird, good);
	st = run(args, out, err);
	o = read_file(out, &len);
	ok(st == 0 && o && strstr(o, "/weird\\ufffdname.csv\",") &&
	   !strchr(o, '\xff'), "a \\xff byte in the file name: \\ufffd in JSON");
	free(o);
	v = json_valid(out);
	ok(v != 0, "... both lines parse as strict UTF-8 JSON%s",
	   v < 0 ? " # SKIP no python3" : "");

	snprintf(args, sizeof(args), "'%s'", good);
	st = run(args, "/dev/full", err);
	o = read_file(err, &len);
	ok(st == 1 && o && !strcmp(o, "spatten-replay: stdout: No space left "
				   "on device\n"),
	   "stdout to /dev/full: exit 1, says so (%d, %s)", st, o);
	free(o);
	snprintf(args, sizeof(args), "--json '%s'", good);
	st = run(args, "/dev/full", err);
	ok(st == 1, "--json to /dev/full: exit 1 (%d)", st);
}

/* ---- parser ------------------------------------------------------------- */

static void test_parser_basic(void)
{
	struct spe_trace_parser p;
	struct spe_trace_row row;
	int ret;

	spe_trace_parser_init(&p);
	ret = parse1(&p, "0,0,0,64.0,993,993,6,16,0.05,True,4,204,6,True,"
		     "False,False,-1", &row);
	ok(ret == SPE_TRACE_ERROR && p.err_line == 1 &&
	   strstr(p.err, "header"),
	   "a row before any header is an error at line 1 (%s)", p.err);

	ret = one_row("3,7,11,64.0,993,921,6,16,0.05,True,4,184,6,True,"
		      "False,True,716\n", &row, &p);
	ok(ret == SPE_TRACE_ROW, "a valid row parses");
	ok(row.line == 2 && row.iteration == 3 && row.layer == 7 &&
	   row.head == 11 && row.d == 64 && row.l == 993 &&
	   row.key_fetch == 921 && row.key_bits == 6 &&
	   row.query_bits == 16 && row.if_requant == 1 &&
	   row.lsb_bits == 4 && row.value_fetch == 184 &&
	   row.value_bits == 6 && row.acc_importance == 1 &&
	   row.rescale_importance == 0 && row.if_topk == 1 &&
	   row.topk == 716 && !row.key_dense && !row.value_dense,
	   "every field of the row as written (D \"64.0\" is 64)");
	ok(row.requant_thres > 0.0499 && row.requant_thres < 0.0501,
	   "auto_requant_thres 0.05");

	ret = one_row("0,0,0,64.0,993,993,-1,-1,-1,False,-1,993,-1,False,"
		      "False,False,-1", &row, &p);
	ok(ret == SPE_TRACE_ROW && row.key_dense && row.query_dense &&
	   row.value_dense && row.key_bits == SPE_TRACE_DENSE_BITS &&
	   row.query_bits == 16 && row.value_bits == 16 &&
	   row.requant_thres == 0 && row.lsb_bits == 0 && row.topk == 0 &&
	   !row.if_topk,
	   "-1 fields: dense, 16-bit (S16) on the device, no threshold");

	ret = one_row("0,0,0,64,10,10,8,16,0.1,true,4,10,8,1,0,FALSE,-1\r\n",
		      &row, &p);
	ok(ret == SPE_TRACE_ROW && row.if_requant && row.acc_importance &&
	   !row.rescale_importance && !row.if_topk,
	   "true/1/0/FALSE accepted, CRLF stripped");

	ret = one_row(" 1 , 2 , 3 ,\"64\",10,10,8,16,0.1,True,4,5,8,True,"
		      "False,False,-1", &row, &p);
	ok(ret == SPE_TRACE_ROW && row.iteration == 1 && row.head == 3 &&
	   row.d == 64 && row.value_fetch == 5,
	   "blanks around fields and quoted numbers accepted");
}

static void test_parser_header(void)
{
	struct spe_trace_parser p;
	struct spe_trace_row row;
	int ret;

	spe_trace_parser_init(&p);
	ret = parse1(&p, "\xef\xbb\xbf" "extra,topk,if_topk,"
		     "if_rescale_previous_importance,if_accumulate_importance,"
		     "quant_value_bit,value_fetch_num,auto_requant_incre,"
		     "if_requant,auto_requant_thres,quant_query_bit,"
		     "quant_key_bit,key_fetch_num,sentence_length_L,"
		     "embedding_length_D,head_id,layer_id,iteration_id", &row);
	ok(ret == SPE_TRACE_NONE && p.have_header,
	   "header in reverse order, extra column, BOM: accepted");
	ret = parse1(&p, "zz,-1,False,False,True,6,20,4,False,0.05,16,6,"
		     "100,120,64.0,5,4,9", &row);
	ok(ret == SPE_TRACE_ROW && p.skipped == 0 && row.iteration == 9 &&
	   row.layer == 4 && row.head == 5,
	   "a row whose first column is a string is a row, not skipped");
	ret = parse1(&p, "0,-1,False,False,True,6,20,4,False,0.05,16,6,"
		     "100,120,64.0,5,4,9", &row);
	ok(ret == SPE_TRACE_ROW && row.iteration == 9 && row.layer == 4 &&
	   row.head == 5 && row.l == 120 && row.key_fetch == 100 &&
	   row.value_fetch == 20,
	   "columns are matched by name, not position");

	spe_trace_parser_init(&p);
	ret = parse1(&p, "iteration_id,layer_id,head_id", &row);
	ok(ret == SPE_TRACE_ERROR && p.err_line == 1 &&
	   strstr(p.err, "embedding_length_D"),
	   "a header missing columns names the first missing one (%s)",
	   p.err);

	spe_trace_parser_init(&p);
	ret = parse1(&p, HEADER ",topk", &row);
	ok(ret == SPE_TRACE_ERROR && strstr(p.err, "twice"),
	   "a duplicated column is an error (%s)", p.err);
}

static void test_parser_skip_and_errors(void)
{
	static const struct {
		const char *line, *want;
	} bad[] = {
		{ "0,0,0,64.0,993,99x,6,16,0.05,True,4,204,6,True,False,"
		  "False,-1", "key_fetch_num" },
		{ "0,0,0,64.5,993,993,6,16,0.05,True,4,204,6,True,False,"
		  "False,-1", "not an integer" },
		{ "0,0,0,64.0,993,,6,16,0.05,True,4,204,6,True,False,False,-1",
		  "empty" },
		{ "0,0,0,64.0,993,993,6,16,0.05,Maybe,4,204,6,True,False,"
		  "False,-1", "if_requant" },
		{ "0,0,0,64.0,993,994,6,16,0.05,True,4,204,6,True,False,"
		  "False,-1", "out of range" },
		{ "0,0,0,64.0,993,100,6,16,0.05,True,4,204,6,True,False,"
		  "False,-1", "value_fetch_num" },
		{ "0,0,0,64.0,993,993,6,16,0.05,True,-1,204,6,True,False,"
		  "False,-1", "auto_requant_incre" },
		{ "0,0,0,64.0,993,993,6,16,0.05,True,4,204,6,True,False,"
		  "True,-1", "topk" },
		{ "0,0,0,64.0,993,993,-2,16,0.05,True,4,204,6,True,False,"
		  "False,-1", "quant_key_bit" },
		{ "0,0,0,64.0,993,993,6,16,1.5,True,4,204,6,True,False,"
		  "False,-1", "auto_requant_thres" },
		{ "0,0,0,64.0,993,993,6,16,nan,True,4,204,6,True,False,"
		  "False,-1", "not a number" },
		{ "0,0,0,64.0,993,993,6,16,0.05,True", "fields" },
		{ "-3,0,0,64.0,993,993,6,16,0.05,True,4,204,6,True,False,"
		  "False,-1", "iteration_id" },
		{ "0,0,0,0,993,993,6,16,0.05,True,4,204,6,True,False,"
		  "False,-1", "embedding_length_D" },
	};
	struct spe_trace_parser p;
	struct spe_trace_row row;
	size_t i;
	int ret;

	parser_with_header(&p);
	ret = parse1(&p, "configs/gpt2/ptb/medium_baseline_train+eval.yml,,,"
		     ",,,,,,,,,,,,,", &row);
	ok(ret == SPE_TRACE_NONE && p.skipped == 1,
	   "the config path line of small.csv is skipped and counted");
	ret = parse1(&p, HEADER, &row);
	ok(ret == SPE_TRACE_NONE && p.skipped == 2,
	   "a repeated header is skipped and counted");
	ret = parse1(&p, "   \r\n", &row);
	ok(ret == SPE_TRACE_NONE && p.skipped == 2,
	   "a blank line is ignored, not counted");

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		parser_with_header(&p);
		parse1(&p, "", &row);	/* line 2: blank */
		ret = parse1(&p, bad[i].line, &row);
		ok(ret == SPE_TRACE_ERROR && p.err_line == 3 &&
		   strstr(p.err, bad[i].want),
		   "malformed row %zu: error at line 3 mentioning '%s' (%s)",
		   i, bad[i].want, p.err);
	}
}

/*
 * Lines after the header that are not rows: the header again and the
 * config path line only. A typo in iteration_id is an error naming it.
 */
static void test_parser_not_rows(void)
{
	static const struct {
		const char *line, *err;
	} bad[] = {
		{ "1O,0,0,64,993,993,-1,-1,-1,False,-1,993,-1,True,False,"
		  "False,-1", "column iteration_id: '1O' is not a number" },
		{ ",0,1,64,993,993,-1,-1,-1,False,-1,993,-1,True,False,"
		  "False,-1", "column iteration_id: '' is empty, expected a "
		  "number" },
		{ "-,0,1,64,993,993,-1,-1,-1,False,-1,993,-1,True,False,"
		  "False,-1", "column iteration_id: '-' is not a number" },
		{ "0x1,0,1,64,993,993,-1,-1,-1,False,-1,993,-1,True,False,"
		  "False,-1", "column iteration_id: '0x1' is not a number" },
		{ "# a comment", "1 fields, expected 17" },
		{ "configs/x.yml,,,,,,,,,,,,,,,,1", "column iteration_id: "
		  "'configs/x.yml' is not a number" },
		{ "iteration_id,layer_id,head_id,embedding_length_D,0,0",
		  "6 fields, expected 17" },
	};
	struct spe_trace_parser p;
	struct spe_trace_row row;
	size_t i;
	int ret;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		parser_with_header(&p);
		ret = parse1(&p, bad[i].line, &row);
		ok(ret == SPE_TRACE_ERROR && p.err_line == 2 &&
		   p.skipped == 0 && !strcmp(p.err, bad[i].err),
		   "not skipped, line 2: '%s' (got '%s')", bad[i].err, p.err);
	}
	parser_with_header(&p);
	ret = parse1(&p, "configs/x.yml,,,,,,,,,,,,,,,,", &row);
	ok(ret == SPE_TRACE_NONE && p.skipped == 1,
	   "a first field and 16 empty ones: the config path line, skipped");
	ret = parse1(&p, " \"configs/y.yml\" , , ,", &row);
	ok(ret == SPE_TRACE_NONE && p.skipped == 2,
	   "a config path line with fewer, blank fields: skipped");
	spe_trace_parser_init(&p);
	parse1(&p, "model," HEADER, &row);
	ret = parse1(&p, "model," HEADER, &row);
	ok(ret == SPE_TRACE_NONE && p.skipped == 1,
	   "the header repeated, a string column first: skipped");
	ret = parse1(&p, "gpt2,7,0,0,64,993,993,-1,-1,-1,False,-1,993,-1,True,"
		     "False,False,-1", &row);
	ok(ret == SPE_TRACE_ROW && row.iteration == 7 && p.rows == 1,
	   "a string first column (model): the row is read");
}

/* The field in a message: control bytes and non-UTF-8 as \\xNN, whole chars. */
static void test_parser_quote(void)
{
	static const struct {
		const char *d, *err;
	} bad[] = {
		{ "\x1b[2J\x1b]0;t\x07" "a\rb", "column embedding_length_D: "
		  "'\\x1b[2J\\x1b]0;t\\x07a\\x0db' is not a number" },
		{ "\xff\xfe\x7f", "column embedding_length_D: "
		  "'\\xff\\xfe\\x7f' is not a number" },
		/* 1 + 15 x 2 bytes: cut after 23, not inside the 12th char */
		{ "x\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
		  "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
		  "\xc3\xa9", "column embedding_length_D: 'x\xc3\xa9\xc3\xa9"
		  "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
		  "\xc3\xa9\xc3\xa9'... is not a number" },
		/* an overlong '/' and a lone continuation byte */
		{ "\xc0\xaf\x80", "column embedding_length_D: "
		  "'\\xc0\\xaf\\x80' is not a number" },
	};
	struct spe_trace_parser p;
	struct spe_trace_row row;
	char line[256];
	size_t i;
	int ret;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		parser_with_header(&p);
		snprintf(line, sizeof(line), "0,0,0,%s,993,993,6,16,0.05,True,"
			 "4,204,6,True,False,False,-1", bad[i].d);
		ret = parse1(&p, line, &row);
		ok(ret == SPE_TRACE_ERROR && !strcmp(p.err, bad[i].err),
		   "field quoted safely %zu: %s (got %s)", i, bad[i].err,
		   p.err);
	}
}

static void test_replay_buffer_errors(void)
{
	struct spe_trace_replay r;
	int ret;

	ret = replay_str("", &r);
	ok(ret == SPE_TRACE_ERROR && r.parser.err_line == 0 &&
	   strstr(r.parser.err, "header"),
	   "an empty trace has no header: error");
	ret = replay_str(HEADER "\n", &r);
	ok(ret == 0 && r.totals.rows == 0 && r.totals.bytes_total == 0 &&
	   r.totals.jobs == 0, "a header alone: no rows, all totals 0");
	ret = replay_str(HEADER "\n"
		"0,0,0,64.0,10,10,6,16,0.05,False,4,5,6,True,False,False,-1\n"
		"0,0,1,64.0,10,10,6,16,0.05,False,4,5,6,True,False,False,-1\n"
		"0,0,2,64.0,11,10,6,16,0.05,False,4,5,6,True,False,False,-1\n",
		&r);
	ok(ret == SPE_TRACE_ERROR && r.parser.err_line == 4 &&
	   strstr(r.parser.err, "differ"),
	   "heads of one layer with different L: error at line 4 (%s)",
	   r.parser.err);
	ret = replay_str(HEADER "\n"
		"0,0,0,64.0,10,10,7,16,0.05,False,4,5,6,True,False,False,-1\n",
		&r);
	ok(ret == SPE_TRACE_ERROR && r.parser.err_line == 2 &&
	   strstr(r.parser.err, "device format"),
	   "7-bit keys are not a device format (%s)", r.parser.err);
	ret = replay_str(HEADER "\n"
		"0,0,0,64.0,10,10,6,16,0.05,False,4,5,6,True,False,False,-1",
		&r);
	ok(ret == 0 && r.totals.rows == 1,
	   "a last line without a newline is read");
}

/* ---- traffic and jobs: a 3-row trace computed by hand --------------------- */

struct seen_jobs {
	int n;
	struct spe_job job[4];
	struct spe_stats st[4];
	uint64_t cf[4], ce[4], dense[4];
};

static void collect(void *opaque, const struct spe_trace_replay *r,
		    const struct spe_job *job, const struct spe_stats *st,
		    uint64_t dense_fp32, uint64_t cycles_full,
		    uint64_t cycles_eighth)
{
	struct seen_jobs *s = opaque;

	(void)r;
	if (s->n < 4) {
		s->job[s->n] = *job;
		s->st[s->n] = *st;
		s->cf[s->n] = cycles_full;
		s->ce[s->n] = cycles_eighth;
		s->dense[s->n] = dense_fp32;
	}
	s->n++;
}

static const char three_rows[] = HEADER "\n"
	/* job (0,0): two heads, 6-bit K and V, 80 of 100 keys, 20 values */
	"0,0,0,64.0,100,80,6,16,0.05,True,4,20,6,True,False,False,-1\n"
	"0,0,1,64.0,100,80,6,16,0.05,False,4,20,6,True,False,True,40\n"
	"configs/some/config.yml,,,,,,,,,,,,,,,,\n"
	/* job (0,1): one head, 8-bit K, dense (16-bit) Q and V, 40 keys */
	"0,1,0,64.0,100,40,8,-1,-1,False,-1,10,-1,False,False,False,-1\n";

static void test_three_rows(void)
{
	struct spe_trace_replay r;
	struct seen_jobs s = { 0 };
	struct spe_model full = spe_model_full(), eighth = spe_model_eighth();
	const struct spe_trace_totals *t = &r.totals;
	struct spe_trace_parser p;
	struct spe_trace_row row;
	struct spe_stats hs;
	uint64_t sum_cf, sum_ce;
	int ret;

	spe_trace_replay_init(&r);
	r.on_job = collect;
	r.opaque = &s;
	ret = spe_trace_replay_buffer(&r, three_rows, strlen(three_rows));
	ok(ret == 0, "3-row trace replays (%s)", ret ? r.parser.err : "ok");
	ok(t->rows == 3 && t->jobs == 2 && t->iterations == 1 &&
	   r.parser.skipped == 1 && s.n == 2,
	   "3 rows, 2 jobs (iteration x layer), 1 iteration, 1 skipped line");

	/*
	 * By hand, D = 64:
	 *  Q: every row one query at 16 bits: 3 * 128 = 384
	 *  K MSB: 80 * 64 * 6/8 = 3840 (x2 heads); 40 * 64 * 8/8 = 2560
	 *  K LSB: head (0,0,0) only: 80 * 64 * 4/8 = 2560
	 *  V: 20 * 48 = 960 (x2); 10 * 64 * 16/8 = 1280
	 *  out: 3 * 128 = 384
	 *  tok_imp: job 0 accumulates, job 1 runs a top-k: 2 * 16 * 100
	 *  tok_alive: job 1's 80 candidates (u16): 160
	 *  tok_kept: 80 and 40 (u16): 240
	 */
	ok(t->bytes[SPE_PLANE_Q] == 384, "Q bytes 384 (got %llu)",
	   (unsigned long long)t->bytes[SPE_PLANE_Q]);
	ok(t->bytes[SPE_PLANE_K_MSB] == 3840 + 3840 + 2560,
	   "K MSB bytes 10240 (got %llu)",
	   (unsigned long long)t->bytes[SPE_PLANE_K_MSB]);
	ok(t->bytes[SPE_PLANE_K_LSB] == 2560, "K LSB bytes 2560 (got %llu)",
	   (unsigned long long)t->bytes[SPE_PLANE_K_LSB]);
	ok(t->bytes[SPE_PLANE_V] == 960 + 960 + 1280,
	   "V bytes 3200 (got %llu)",
	   (unsigned long long)t->bytes[SPE_PLANE_V]);
	ok(t->bytes[SPE_PLANE_OUT] == 384, "output bytes 384");
	ok(t->bytes[SPE_PLANE_TOK_IMP] == 3200 &&
	   t->bytes[SPE_PLANE_TOK_ALIVE] == 160 &&
	   t->bytes[SPE_PLANE_TOK_KEPT] == 240 &&
	   t->bytes[SPE_PLANE_PINNED] == 0 &&
	   t->bytes[SPE_PLANE_HEAD_IMP] == 0 &&
	   t->bytes[SPE_PLANE_HEAD_ALIVE] == 0 &&
	   t->bytes[SPE_PLANE_HEAD_KEPT] == 0,
	   "cascade state bytes 3200 + 160 + 240, no head planes");
	ok(t->bytes_total == 384 + 10240 + 2560 + 3200 + 384 + 3200 + 160 +
	   240, "total 20368 bytes (got %llu)",
	   (unsigned long long)t->bytes_total);
	ok(t->bytes_kv == 16000, "K + V bytes 16000");
	ok(t->dense_fp32 == 3 * 2 * 100 * 64 * 4,
	   "dense fp32 = 3 rows * 2 * L * D * 4 = 153600 (got %llu)",
	   (unsigned long long)t->dense_fp32);
	ok(t->refetch_rows == 1 && t->keys_fetched == 200 &&
	   t->values_fetched == 50 && t->keys_dense == 300 &&
	   t->token_topk_runs == 2,
	   "1 refetch, 200 keys and 50 values fetched, 2 token top-k runs");
	ok(t->qk_scores == 160 + 80 + 40 && t->pv_rows == 50,
	   "QxK scores count the refetched head twice: 280; 50 V rows");

	ok(s.job[0].n_heads == 2 && s.job[0].head_dim == 64 &&
	   s.job[0].q_rows == 1 && s.job[0].kv_rows == 100 &&
	   s.job[0].q_start == 99 &&
	   s.job[0].stage == SPATTEN_STAGE_GENERATION &&
	   s.job[0].opcode == SPATTEN_OP_ATTENTION,
	   "job 0: generation, 2 heads, 1 query at position 99 of 100");
	ok(s.job[0].flags == (SPATTEN_DESC_F_CAUSAL |
			      SPATTEN_DESC_F_PROGRESSIVE) &&
	   s.job[0].lsb_threshold == 1638 &&
	   s.job[0].k_fmt == SPATTEN_FMT_S6 &&
	   s.job[0].v_fmt == SPATTEN_FMT_S6 &&
	   s.job[0].q_fmt == SPATTEN_FMT_S16,
	   "job 0: progressive, threshold 0.05 * 2^15 = 1638, S6 K and V");
	ok(s.job[0].n_tok_alive == 0 && s.job[0].token_keep == 80 &&
	   s.job[0].value_keep == 20 && s.st[0].tokens_kept == 80,
	   "job 0: all 100 tokens candidates, keeps 80, 20 values");
	ok(s.job[1].n_tok_alive == 80 && s.job[1].token_keep == 40 &&
	   s.job[1].value_keep == 10 && s.job[1].flags ==
	   SPATTEN_DESC_F_CAUSAL && s.job[1].k_fmt == SPATTEN_FMT_S8 &&
	   s.job[1].v_fmt == SPATTEN_FMT_S16,
	   "job 1: the 80 tokens of layer 0 are its candidates, keeps 40");
	ok(s.st[0].refetch_rows == 1 && s.st[0].heads == 2 &&
	   s.st[1].refetch_rows == 0 && s.st[1].heads == 1,
	   "per-job refetches and heads");
	ok(s.job[0].buf[SPE_PLANE_K_MSB].len == 7680 &&
	   s.job[1].buf[SPE_PLANE_V].len == 1280,
	   "buffer lengths are the plane bytes");
	ok(s.dense[0] == 102400 && s.dense[1] == 51200,
	   "per-job dense fp32 bytes");

	sum_cf = s.cf[0] + s.cf[1];
	sum_ce = s.ce[0] + s.ce[1];
	ok(t->cycles_full == sum_cf && t->cycles_eighth == sum_ce,
	   "cycle totals are the sums over jobs");
	ok(s.cf[0] == spe_cycles(&s.job[0], &s.st[0], &full) &&
	   s.ce[1] == spe_cycles(&s.job[1], &s.st[1], &eighth),
	   "per-job cycles are spe_cycles() of the job for each model");
	ok(s.cf[0] > 0 && s.ce[0] >= s.cf[0] && s.ce[1] >= s.cf[1],
	   "SpAtten_1/8 takes at least as long as the full chip");
	ok(s.st[0].topk_cycles > 0 && t->topk_cycles ==
	   s.st[0].topk_cycles + s.st[1].topk_cycles,
	   "token top-k cycles are counted in the jobs' cycles");
	ok(t->topk_cycles_value > 0,
	   "value-pruning top-k cycles are reported apart (%llu; token %llu)",
	   (unsigned long long)t->topk_cycles_value,
	   (unsigned long long)t->topk_cycles);

	/* The same head alone, through spe_trace_row_stats(). */
	one_row("0,0,0,64.0,100,80,6,16,0.05,True,4,20,6,True,False,False,-1",
		&row, &p);
	spe_trace_row_stats(&row, &hs);
	ok(hs.bytes[SPE_PLANE_K_MSB] == 3840 &&
	   hs.bytes[SPE_PLANE_K_LSB] == 2560 &&
	   hs.bytes[SPE_PLANE_V] == 960 && hs.bytes[SPE_PLANE_Q] == 128 &&
	   hs.qk_scores == 160 && hs.pv_rows == 20 && hs.refetch_rows == 1 &&
	   hs.heads == 1 && hs.query_rows == 1 &&
	   spe_trace_row_dense_fp32(&row) == 51200,
	   "spe_trace_row_stats() of one head");
}

static void test_refetch_counting(void)
{
	struct spe_trace_replay r;
	int ret;

	ret = replay_str(HEADER "\n"
		"0,0,0,64.0,50,50,4,16,0.05,True,4,50,4,True,False,False,-1\n"
		"0,0,1,64.0,50,50,4,16,0.05,False,4,50,4,True,False,False,-1\n"
		"0,1,0,64.0,50,30,4,16,0.05,True,4,10,4,True,False,False,-1\n"
		"1,0,0,64.0,51,51,4,16,0.05,False,4,51,4,True,False,False,-1\n"
		"1,1,0,64.0,51,31,4,16,0.05,True,4,11,4,True,False,False,-1\n",
		&r);
	ok(ret == 0 && r.totals.refetch_rows == 3 && r.totals.rows == 5,
	   "3 of 5 rows refetch LSBs");
	ok(r.totals.bytes[SPE_PLANE_K_LSB] == (50 + 30 + 31) * 32,
	   "LSB bytes are the refetching rows' keys at 4 bits: %d (got %llu)",
	   (50 + 30 + 31) * 32,
	   (unsigned long long)r.totals.bytes[SPE_PLANE_K_LSB]);
	ok(r.totals.bytes[SPE_PLANE_K_MSB] == (50 + 50 + 30 + 51 + 31) * 32,
	   "MSB bytes at 4 bits");
	ok(r.totals.iterations == 2 && r.totals.jobs == 4,
	   "2 iterations, 4 jobs");
}

static void test_topk_model(void)
{
	uint64_t c, lo;
	uint32_t n = 1000, k = 200, seed;
	int good = 1;

	ok(spe_trace_topk_cycles(100, 100, 1, 0) == 0 &&
	   spe_trace_topk_cycles(100, 0, 1, 0) == 0 &&
	   spe_trace_topk_cycles(100, 150, 1, 0) == 0,
	   "no top-k cycles when nothing is pruned");
	ok(spe_trace_topk_cycles(n, k, 7, 3) ==
	   spe_trace_topk_cycles(n, k, 7, 3), "top-k cycles deterministic");
	/* At least one quick-select pass and the filter pass. */
	lo = (n + 15) / 16 + 3 + (n + 7) / 8;
	for (seed = 1; seed < 200; seed++) {
		c = spe_trace_topk_cycles(n, k, seed, 0);
		if (c < lo || c > 40 * lo)
			good = 0;
	}
	ok(good, "top-k cycles within [one pass + filter, 40x that]");
	c = spe_trace_topk_cycles(2, 1, 5, 0);
	ok(c >= 1 + 3 + 1, "smallest top-k (1 of 2) costs >= 5 cycles");
}

/* ---- the shipped traces --------------------------------------------------- */

/* Independent sums: fields by position, the authors' column order. */
struct indep {
	unsigned long rows, skipped, requant;
	unsigned long long sum_l_d, sum_kf, sum_vf, lsb_bits;
};

static void independent_sums(const char *text, struct indep *s)
{
	const char *line = text, *nl;
	int first = 1;

	memset(s, 0, sizeof(*s));
	for (; *line; line = nl ? nl + 1 : line + strlen(line)) {
		char buf[512], *f[20], *q;
		int n = 0;

		nl = strchr(line, '\n');
		snprintf(buf, sizeof(buf), "%.*s",
			 (int)(nl ? nl - line : (long)strlen(line)), line);
		if (first) {
			first = 0;
			continue;
		}
		if (!buf[0])
			continue;
		if (buf[0] < '0' || buf[0] > '9') {
			s->skipped++;
			continue;
		}
		for (q = buf; n < 20; ) {
			f[n++] = q;
			q = strchr(q, ',');
			if (!q)
				break;
			*q++ = '\0';
		}
		if (n < 17)
			continue;
		s->rows++;
		s->sum_l_d += (unsigned long long)atol(f[4]) * atol(f[3]);
		s->sum_kf += (unsigned long long)atol(f[5]);
		s->sum_vf += (unsigned long long)atol(f[11]);
		if (!strcmp(f[9], "True")) {
			s->requant++;
			s->lsb_bits += (unsigned long long)atol(f[5]) *
				       atol(f[3]) * atol(f[10]);
		}
	}
}

/*
 * The command (the tools' streaming reader, with its order and field
 * checks) accepts the shipped trace and counts @rows rows.
 */
static void shipped_tool(const char *path, const char *name,
			 unsigned long rows)
{
	char out[512], err[512], args[1536];
	size_t len;
	char *o;
	int st;

	snprintf(out, sizeof(out), "%s/out", tmpdir);
	snprintf(err, sizeof(err), "%s/err", tmpdir);
	snprintf(args, sizeof(args), "--json '%s'", path);
	st = run(args, out, err);
	o = read_file(out, &len);
	ok(st == 0 && o && json_num(o, "rows") == (double)rows,
	   "spatten-replay accepts %s: exit %d, %lu rows", name, st, rows);
	free(o);
}

static void test_shipped(void)
{
	static const struct {
		const char *name;
		unsigned long rows;
		int dense;
	} tr[] = {
		{ "small.csv", 1, 1 },
		{ "summary-gpt2-small-wikitext2-per8.csv", 4608, 0 },
		{ "summary-gpt2-small-wikitext2-per8-step1+dedic.csv", 4608, 1 },
	};
	size_t i;

	for (i = 0; i < sizeof(tr) / sizeof(tr[0]); i++) {
		struct spe_trace_replay r;
		const struct spe_trace_totals *t = &r.totals;
		struct indep s;
		char path[1024];
		size_t len;
		char *text;
		int ret;

		snprintf(path, sizeof(path), "%s/%s", workloads, tr[i].name);
		text = read_file(path, &len);
		if (!text) {
			int k;

			for (k = 0; k < 6; k++)
				ok(1, "# SKIP %s not readable", path);
			continue;
		}
		spe_trace_replay_init(&r);
		ret = spe_trace_replay_buffer(&r, text, len);
		ok(ret == 0, "%s parses with no error (%s)", tr[i].name,
		   ret ? r.parser.err : "ok");
		independent_sums(text, &s);
		ok(t->rows == tr[i].rows && t->rows == s.rows &&
		   r.parser.skipped == s.skipped && r.parser.skipped == 1,
		   "%s: %lu rows, 1 skipped config line", tr[i].name,
		   tr[i].rows);
		ok(t->dense_fp32 == 2 * 4 * s.sum_l_d &&
		   t->keys_fetched == s.sum_kf &&
		   t->values_fetched == s.sum_vf &&
		   t->refetch_rows == s.requant,
		   "%s: dense fp32 = sum 2 * L * D * 4 = %llu, fetched keys, "
		   "values, refetches match an independent count",
		   tr[i].name, 2 * 4 * s.sum_l_d);
		ok(t->bytes_kv > 0 && t->dense_fp32 > t->bytes_kv &&
		   t->dense_fp32 > t->bytes_total,
		   "%s: reduction > 1 (%.2fx K+V, %.2fx all)", tr[i].name,
		   (double)t->dense_fp32 / (double)t->bytes_kv,
		   (double)t->dense_fp32 / (double)t->bytes_total);
		if (tr[i].dense)
			ok(t->dense_fp32 == 2 * t->bytes_kv &&
			   t->bytes[SPE_PLANE_K_LSB] == 0,
			   "%s: dense trace at S16 is exactly 2x below fp32",
			   tr[i].name);
		else
			ok(t->refetch_rows > 0 &&
			   t->bytes[SPE_PLANE_K_LSB] == s.lsb_bits / 8 &&
			   t->token_topk_runs == 124 && t->iterations == 32 &&
			   t->jobs == 384 && t->cycles_full > 0 &&
			   t->cycles_eighth > t->cycles_full,
			   "%s: LSB bytes = sum kf * D * 4 / 8 over refetching "
			   "rows; 32 iterations, 384 jobs, 124 token top-k "
			   "runs (4 per pruned step); cycles 1/8 > full",
			   tr[i].name);
		shipped_tool(path, tr[i].name, s.rows);
		free(text);
	}
}

/* ---- the command ---------------------------------------------------------- */

static void test_tool(void)
{
	char out[1024], err[1024], good[1024], bad[1024], args[4096];
	char *o;
	size_t len;
	int st;

	snprintf(out, sizeof(out), "%s/out", tmpdir);
	snprintf(err, sizeof(err), "%s/err", tmpdir);
	snprintf(good, sizeof(good), "%s/good.csv", tmpdir);
	snprintf(bad, sizeof(bad), "%s/bad.csv", tmpdir);
	if (!write_file(good, three_rows) ||
	    !write_file(bad, HEADER "\n"
			"0,0,0,64.0,100,80,6,16,0.05,True,4,20,6,True,False,"
			"False,-1\n"
			"configs/skipped.yml,,,,,,,,,,,,,,,,\n"
			"0,0,1,64.0,100,8O,6,16,0.05,True,4,20,6,True,False,"
			"False,-1\n")) {
		ok(0, "write test traces into %s: %s", tmpdir,
		   strerror(errno));
		return;
	}

	ok(run("--help", out, err) == 0, "--help exits 0");
	o = read_file(out, &len);
	ok(o && strstr(o, "usage:") && strstr(o, "--json"),
	   "--help prints the usage");
	free(o);
	ok(run("", out, err) == 2, "no file: exit 2");
	ok(run("--bogus x.csv", out, err) == 2, "unknown option: exit 2");
	ok(run("--model half x.csv", out, err) == 2, "--model half: exit 2");

	snprintf(args, sizeof(args), "'%s'", bad);
	st = run(args, out, err);
	o = read_file(err, &len);
	ok(st == 1, "malformed trace: exit 1");
	snprintf(args, sizeof(args), "%s:4:", bad);
	ok(o && strstr(o, args) && strstr(o, "key_fetch_num"),
	   "the error names file:line and the column: %s",
	   o ? strtok(o, "\n") : "(none)");
	free(o);

	snprintf(args, sizeof(args), "'%s/does-not-exist.csv'", tmpdir);
	ok(run(args, out, err) == 1, "missing file: exit 1");

	snprintf(args, sizeof(args), "--json '%s' '%s'", good, good);
	st = run(args, out, err);
	o = read_file(out, &len);
	ok(st == 0 && o, "--json on two files: exit 0");
	if (o) {
		char *second = strchr(o, '\n');
		int lines = 0;
		char *c;

		for (c = o; *c; c++)
			lines += *c == '\n';
		ok(lines == 2 && o[0] == '{' && second && second[1] == '{',
		   "one JSON object per file, one per line");
		ok(!strncmp(o, "{\"schema\":\"spatten-report/1\","
			    "\"tool\":\"spatten-replay\",\"kind\":\"trace\",",
			    strlen("{\"schema\":\"spatten-report/1\","
				   "\"tool\":\"spatten-replay\","
				   "\"kind\":\"trace\",")),
		   "each object starts with the spatten-report/1 envelope");
		ok(json_num(o, "dram_bytes_total") == 20368 &&
		   json_num(o, "dram_bytes_dense_fp32") == 153600 &&
		   json_num(o, "lsb_refetches") == 1 &&
		   json_num(o, "rows") == 3 &&
		   json_num(o, "skipped_lines") == 1 &&
		   json_num(o, "cycles") > 0 &&
		   json_num(o, "cycles") == json_num(o, "cycles_full") &&
		   json_num(o, "cycles_eighth") > 0 &&
		   json_num(o, "k_lsb") == 2560 &&
		   json_num(o, "reduction") == 9.6,
		   "JSON fields: totals, planes, refetches, cycles, reduction");
		free(o);
	}

	snprintf(args, sizeof(args), "--model eighth --json '%s'", good);
	st = run(args, out, err);
	o = read_file(out, &len);
	ok(st == 0 && o && json_num(o, "cycles") ==
	   json_num(o, "cycles_eighth") && strstr(o, "\"model\":\"eighth\""),
	   "--model eighth: cycles is the 1/8 model's");
	free(o);

	snprintf(args, sizeof(args), "--per-iteration '%s'", good);
	st = run(args, out, err);
	o = read_file(out, &len);
	ok(st == 0 && o && strstr(o, "reduction vs dense fp32") &&
	   strstr(o, "LSB refetches") && strstr(o, "iteration"),
	   "human output: totals and the per-iteration table");
	free(o);

	snprintf(args, sizeof(args), "--json - <'%s'", good);
	st = run(args, out, err);
	o = read_file(out, &len);
	ok(st == 0 && o && json_num(o, "dram_bytes_total") == 20368,
	   "'-' reads standard input");
	free(o);
	test_command_bytes(good, out, err);
}

int main(int argc, char **argv)
{
	if (argc != 4) {
		fprintf(stderr, "usage: %s SPATTEN_REPLAY WORKLOADS_DIR "
			"TMP_DIR\n", argv[0]);
		return 2;
	}
	tool = argv[1];
	workloads = argv[2];
	tmpdir = argv[3];
	mkdir(tmpdir, 0777);

	test_parser_basic();
	test_parser_header();
	test_parser_skip_and_errors();
	test_parser_not_rows();
	test_parser_quote();
	test_replay_buffer_errors();
	test_three_rows();
	test_refetch_counting();
	test_topk_model();
	test_shipped();
	test_tool();
	return done_testing();
}
