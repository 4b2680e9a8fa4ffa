// SPDX-License-Identifier: MIT
/*
 * SpAtten engine: workload-trace replay (parser, per-row traffic, per-layer
 * jobs, cycle sums). docs/replay.md is the prose form of this file.
 *
 * No stdio streams and no allocation; snprintf() only formats messages.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "spe.h"
#include "spe_internal.h"
#include "spe_trace.h"
#include "spatten_hw.h"

static const char *const spe_trace_names[SPE_TRACE_NCOLS] = {
	[SPE_TRACE_ITERATION] = "iteration_id",
	[SPE_TRACE_LAYER] = "layer_id",
	[SPE_TRACE_HEAD] = "head_id",
	[SPE_TRACE_D] = "embedding_length_D",
	[SPE_TRACE_L] = "sentence_length_L",
	[SPE_TRACE_KEY_FETCH] = "key_fetch_num",
	[SPE_TRACE_KEY_BITS] = "quant_key_bit",
	[SPE_TRACE_QUERY_BITS] = "quant_query_bit",
	[SPE_TRACE_REQUANT_THRES] = "auto_requant_thres",
	[SPE_TRACE_IF_REQUANT] = "if_requant",
	[SPE_TRACE_REQUANT_INCRE] = "auto_requant_incre",
	[SPE_TRACE_VALUE_FETCH] = "value_fetch_num",
	[SPE_TRACE_VALUE_BITS] = "quant_value_bit",
	[SPE_TRACE_ACC_IMPORTANCE] = "if_accumulate_importance",
	[SPE_TRACE_RESCALE_IMPORTANCE] = "if_rescale_previous_importance",
	[SPE_TRACE_IF_TOPK] = "if_topk",
	[SPE_TRACE_TOPK] = "topk",
};

/* Fields looked at per line; further fields are ignored. */
#define SPE_TRACE_MAX_FIELDS	64
/* Longest numeric field accepted. */
#define SPE_TRACE_NUM_MAX	63
/* Largest n_heads, head_dim, kv_rows of a descriptor (16-bit fields). */
#define SPE_TRACE_U16_MAX	65535u

const char *spe_trace_col_name(enum spe_trace_col col)
{
	if ((unsigned int)col >= SPE_TRACE_NCOLS)
		return NULL;
	return spe_trace_names[col];
}

int spe_trace_format(uint32_t bits)
{
	switch (bits) {
	case 4:
		return SPATTEN_FMT_S4;
	case 6:
		return SPATTEN_FMT_S6;
	case 8:
		return SPATTEN_FMT_S8;
	case 10:
		return SPATTEN_FMT_S10;
	case 12:
		return SPATTEN_FMT_S12;
	case 16:
		return SPATTEN_FMT_S16;
	default:
		return -1;
	}
}

/* ---- parsing ------------------------------------------------------------ */

struct spe_trace_field {
	const char *s;
	size_t n;
};

void spe_trace_parser_init(struct spe_trace_parser *p)
{
	int i;

	memset(p, 0, sizeof(*p));
	for (i = 0; i < SPE_TRACE_NCOLS; i++)
		p->col[i] = -1;
}

static int spe_trace_fail(struct spe_trace_parser *p, const char *msg)
{
	p->err_line = p->line;
	snprintf(p->err, sizeof(p->err), "%s", msg);
	return SPE_TRACE_ERROR;
}

/* Trim blanks and one pair of surrounding double quotes. */
static struct spe_trace_field spe_trace_trim(const char *s, size_t n)
{
	struct spe_trace_field f;

	while (n && (*s == ' ' || *s == '\t')) {
		s++;
		n--;
	}
	while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		n--;
	if (n >= 2 && s[0] == '"' && s[n - 1] == '"') {
		s++;
		n -= 2;
	}
	f.s = s;
	f.n = n;
	return f;
}

static size_t spe_trace_split(const char *s, size_t n,
			      struct spe_trace_field *f, size_t max)
{
	size_t nf = 0, start = 0, i;

	for (i = 0; i <= n; i++) {
		if (i == n || s[i] == ',') {
			if (nf < max)
				f[nf] = spe_trace_trim(s + start, i - start);
			nf++;
			start = i + 1;
		}
	}
	return nf;
}

static int spe_trace_is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/*
 * A decimal number: [+-] digits [. digits] [e [+-] digits], at least one
 * digit in the mantissa. (No inf, nan, hex: what strtod would also take.)
 */
static int spe_trace_is_number(struct spe_trace_field f)
{
	size_t i = 0, mant = 0;

	if (i < f.n && (f.s[i] == '+' || f.s[i] == '-'))
		i++;
	while (i < f.n && spe_trace_is_digit(f.s[i])) {
		i++;
		mant++;
	}
	if (i < f.n && f.s[i] == '.') {
		i++;
		while (i < f.n && spe_trace_is_digit(f.s[i])) {
			i++;
			mant++;
		}
	}
	if (!mant)
		return 0;
	if (i < f.n && (f.s[i] == 'e' || f.s[i] == 'E')) {
		size_t exp = 0;

		i++;
		if (i < f.n && (f.s[i] == '+' || f.s[i] == '-'))
			i++;
		while (i < f.n && spe_trace_is_digit(f.s[i])) {
			i++;
			exp++;
		}
		if (!exp)
			return 0;
	}
	return i == f.n;
}

size_t spe_trace_utf8_char(const char *s, size_t n)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t len, i;
	uint32_t cp;

	if (!n)
		return 0;
	if (u[0] < 0x80)
		return 1;
	if (u[0] >= 0xc2 && u[0] <= 0xdf) {
		len = 2;
		cp = u[0] & 0x1f;
	} else if (u[0] >= 0xe0 && u[0] <= 0xef) {
		len = 3;
		cp = u[0] & 0x0f;
	} else if (u[0] >= 0xf0 && u[0] <= 0xf4) {
		len = 4;
		cp = u[0] & 0x07;
	} else {
		return 0;
	}
	if (n < len)
		return 0;
	for (i = 1; i < len; i++) {
		if ((u[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (u[i] & 0x3f);
	}
	/* overlong forms, surrogates, beyond U+10FFFF */
	if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
	    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
		return 0;
	return len;
}

/* Bytes of the field quoted in a message (whole characters only). */
#define SPE_TRACE_QUOTE_MAX	24

/*
 * @f as quoted in a message: at most SPE_TRACE_QUOTE_MAX bytes of it, cut
 * at a character boundary; control bytes and bytes that are not UTF-8 as
 * \xNN (no escape sequence or bare CR reaches a terminal, and the message
 * is valid UTF-8). Return: the field was cut.
 */
static int spe_trace_quote(char *out, size_t size, struct spe_trace_field f)
{
	size_t i = 0, o = 0, k;

	while (i < f.n && o + 8 < size) {
		unsigned char c = (unsigned char)f.s[i];

		k = spe_trace_utf8_char(f.s + i, f.n - i);
		if (i + (k ? k : 1) > SPE_TRACE_QUOTE_MAX)
			break;
		if (k == 1 && c >= 0x20 && c != 0x7f) {
			out[o++] = (char)c;
		} else if (k > 1) {
			memcpy(out + o, f.s + i, k);
			o += k;
		} else {
			k = 1;
			o += (size_t)snprintf(out + o, size - o, "\\x%02x", c);
		}
		i += k;
	}
	out[o] = '\0';
	return i < f.n;
}

static int spe_trace_colfail(struct spe_trace_parser *p, int col,
			     struct spe_trace_field f, const char *what)
{
	char msg[SPE_TRACE_ERR_LEN], q[4 * SPE_TRACE_QUOTE_MAX + 8];
	int cut = spe_trace_quote(q, sizeof(q), f);

	snprintf(msg, sizeof(msg), "column %s: '%s'%s %s",
		 spe_trace_names[col], q, cut ? "..." : "", what);
	return spe_trace_fail(p, msg);
}

static int spe_trace_number(struct spe_trace_parser *p, int col,
			    struct spe_trace_field f, double *out)
{
	char buf[SPE_TRACE_NUM_MAX + 1];
	char *end;
	double v;

	if (!f.n)
		return spe_trace_colfail(p, col, f, "is empty, expected a number");
	if (f.n > SPE_TRACE_NUM_MAX || !spe_trace_is_number(f))
		return spe_trace_colfail(p, col, f, "is not a number");
	memcpy(buf, f.s, f.n);
	buf[f.n] = '\0';
	v = strtod(buf, &end);
	if (*end != '\0' || !isfinite(v))
		return spe_trace_colfail(p, col, f, "is not a finite number");
	*out = v;
	return 0;
}

/*
 * An integer column ("64" or "64.0"), in [lo, hi]; -1 also accepted when
 * @dense_ok, reported through *@dense.
 */
static int spe_trace_int(struct spe_trace_parser *p, int col,
			 struct spe_trace_field f, double lo, double hi,
			 int dense_ok, uint32_t *out, int *dense)
{
	double v;

	if (spe_trace_number(p, col, f, &v))
		return SPE_TRACE_ERROR;
	/* Integral (|v| < 2^62 here, so the cast is exact when it is). */
	if (v < -4e18 || v > 4e18 || v != (double)(long long)v)
		return spe_trace_colfail(p, col, f, "is not an integer");
	if (dense)
		*dense = 0;
	if (dense_ok && v == -1) {
		*dense = 1;
		*out = 0;
		return 0;
	}
	if (v < lo || v > hi) {
		char what[80];

		snprintf(what, sizeof(what), "is out of range (%.0f..%.0f%s)",
			 lo, hi, dense_ok ? " or -1" : "");
		return spe_trace_colfail(p, col, f, what);
	}
	*out = (uint32_t)v;
	return 0;
}

static int spe_trace_bool(struct spe_trace_parser *p, int col,
			  struct spe_trace_field f, int *out)
{
	static const char *const t[] = { "True", "true", "TRUE", "1" };
	static const char *const fa[] = { "False", "false", "FALSE", "0" };
	size_t i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		if (f.n == strlen(t[i]) && !memcmp(f.s, t[i], f.n)) {
			*out = 1;
			return 0;
		}
		if (f.n == strlen(fa[i]) && !memcmp(f.s, fa[i], f.n)) {
			*out = 0;
			return 0;
		}
	}
	return spe_trace_colfail(p, col, f, "is not True or False");
}

static int spe_trace_header(struct spe_trace_parser *p,
			    const struct spe_trace_field *f, size_t nf)
{
	char msg[SPE_TRACE_ERR_LEN];
	size_t i;
	int c;

	if (nf > SPE_TRACE_MAX_FIELDS)
		nf = SPE_TRACE_MAX_FIELDS;
	for (i = 0; i < nf; i++) {
		for (c = 0; c < SPE_TRACE_NCOLS; c++) {
			if (f[i].n != strlen(spe_trace_names[c]) ||
			    memcmp(f[i].s, spe_trace_names[c], f[i].n))
				continue;
			if (p->col[c] >= 0) {
				snprintf(msg, sizeof(msg),
					 "header: column %s appears twice",
					 spe_trace_names[c]);
				return spe_trace_fail(p, msg);
			}
			p->col[c] = (int)i;
		}
	}
	for (c = 0; c < SPE_TRACE_NCOLS; c++) {
		if (p->col[c] < 0) {
			snprintf(msg, sizeof(msg),
				 "header: no column %s (expected a header line "
				 "iteration_id,layer_id,head_id,...)",
				 spe_trace_names[c]);
			return spe_trace_fail(p, msg);
		}
	}
	p->have_header = 1;
	return SPE_TRACE_NONE;
}

static int spe_trace_field_is(struct spe_trace_field f, const char *s)
{
	return f.n == strlen(s) && !memcmp(f.s, s, f.n);
}

/*
 * The lines after the header that are not rows: the header again (every
 * column's field is its name), and the authors' config path line (a first
 * field, every other field empty). Anything else is a row and must parse:
 * a bad iteration_id is an error, not a skipped line.
 */
static int spe_trace_not_a_row(const struct spe_trace_parser *p,
			       const struct spe_trace_field *f, size_t nf)
{
	size_t i;
	int c;

	if (nf > SPE_TRACE_MAX_FIELDS)
		nf = SPE_TRACE_MAX_FIELDS;
	for (c = 0; c < SPE_TRACE_NCOLS; c++)
		if ((size_t)p->col[c] >= nf ||
		    !spe_trace_field_is(f[p->col[c]], spe_trace_names[c]))
			break;
	if (c == SPE_TRACE_NCOLS)
		return 1;
	if (nf < 2 || !f[0].n)
		return 0;
	for (i = 1; i < nf; i++)
		if (f[i].n)
			return 0;
	return 1;
}

#define FIELD(c_) f[p->col[c_]]

/* Position, shape and fetched keys of a row; "-1" widths resolved. */
static int spe_trace_row_shape(struct spe_trace_parser *p,
			       const struct spe_trace_field *f,
			       struct spe_trace_row *r)
{
	if (spe_trace_int(p, SPE_TRACE_ITERATION, FIELD(SPE_TRACE_ITERATION),
			  0, 2147483647.0, 0, &r->iteration, NULL) ||
	    spe_trace_int(p, SPE_TRACE_LAYER, FIELD(SPE_TRACE_LAYER),
			  0, 2147483647.0, 0, &r->layer, NULL) ||
	    spe_trace_int(p, SPE_TRACE_HEAD, FIELD(SPE_TRACE_HEAD),
			  0, 2147483647.0, 0, &r->head, NULL) ||
	    spe_trace_int(p, SPE_TRACE_D, FIELD(SPE_TRACE_D),
			  1, SPE_TRACE_U16_MAX, 0, &r->d, NULL) ||
	    spe_trace_int(p, SPE_TRACE_L, FIELD(SPE_TRACE_L),
			  1, SPE_TRACE_U16_MAX, 0, &r->l, NULL))
		return SPE_TRACE_ERROR;
	if (spe_trace_int(p, SPE_TRACE_KEY_FETCH, FIELD(SPE_TRACE_KEY_FETCH),
			  1, r->l, 0, &r->key_fetch, NULL) ||
	    spe_trace_int(p, SPE_TRACE_KEY_BITS, FIELD(SPE_TRACE_KEY_BITS),
			  1, 32, 1, &r->key_bits, &r->key_dense) ||
	    spe_trace_int(p, SPE_TRACE_QUERY_BITS,
			  FIELD(SPE_TRACE_QUERY_BITS),
			  1, 32, 1, &r->query_bits, &r->query_dense))
		return SPE_TRACE_ERROR;
	if (r->key_dense)
		r->key_bits = SPE_TRACE_DENSE_BITS;
	if (r->query_dense)
		r->query_bits = SPE_TRACE_DENSE_BITS;
	return 0;
}

/* The LSB refetch, values, importance and top-k columns of a row. */
static int spe_trace_row_rest(struct spe_trace_parser *p,
			      const struct spe_trace_field *f,
			      struct spe_trace_row *r)
{
	struct spe_trace_field x;
	double thr;
	int dense;

	x = FIELD(SPE_TRACE_REQUANT_THRES);
	if (spe_trace_number(p, SPE_TRACE_REQUANT_THRES, x, &thr))
		return SPE_TRACE_ERROR;
	if (thr == -1)
		thr = 0;
	else if (thr < 0 || thr > 1)
		return spe_trace_colfail(p, SPE_TRACE_REQUANT_THRES, x,
					 "is out of range (0..1 or -1)");
	r->requant_thres = thr;

	if (spe_trace_bool(p, SPE_TRACE_IF_REQUANT,
			   FIELD(SPE_TRACE_IF_REQUANT), &r->if_requant) ||
	    spe_trace_int(p, SPE_TRACE_REQUANT_INCRE,
			  FIELD(SPE_TRACE_REQUANT_INCRE),
			  0, 32, 1, &r->lsb_bits, &dense) ||
	    spe_trace_int(p, SPE_TRACE_VALUE_FETCH,
			  FIELD(SPE_TRACE_VALUE_FETCH),
			  1, r->key_fetch, 0, &r->value_fetch, NULL) ||
	    spe_trace_int(p, SPE_TRACE_VALUE_BITS, FIELD(SPE_TRACE_VALUE_BITS),
			  1, 32, 1, &r->value_bits, &r->value_dense) ||
	    spe_trace_bool(p, SPE_TRACE_ACC_IMPORTANCE,
			   FIELD(SPE_TRACE_ACC_IMPORTANCE),
			   &r->acc_importance) ||
	    spe_trace_bool(p, SPE_TRACE_RESCALE_IMPORTANCE,
			   FIELD(SPE_TRACE_RESCALE_IMPORTANCE),
			   &r->rescale_importance) ||
	    spe_trace_bool(p, SPE_TRACE_IF_TOPK, FIELD(SPE_TRACE_IF_TOPK),
			   &r->if_topk))
		return SPE_TRACE_ERROR;
	if (r->value_dense)
		r->value_bits = SPE_TRACE_DENSE_BITS;
	if (r->if_requant && !r->lsb_bits)
		return spe_trace_colfail(p, SPE_TRACE_REQUANT_INCRE,
					 FIELD(SPE_TRACE_REQUANT_INCRE),
					 "gives no LSB bits but if_requant "
					 "is True");

	x = FIELD(SPE_TRACE_TOPK);
	if (spe_trace_int(p, SPE_TRACE_TOPK, x, 0, r->l, 1, &r->topk, &dense))
		return SPE_TRACE_ERROR;
	if (r->if_topk && dense)
		return spe_trace_colfail(p, SPE_TRACE_TOPK, x,
					 "is -1 but if_topk is True");
	if (!r->if_topk)
		r->topk = 0;
	return 0;
}

#undef FIELD

int spe_trace_parse_line(struct spe_trace_parser *p, const char *text,
			 size_t len, struct spe_trace_row *row)
{
	struct spe_trace_field f[SPE_TRACE_MAX_FIELDS];
	struct spe_trace_row r;
	size_t nf, need = 0, i;
	int c;

	p->line++;
	while (len && (text[len - 1] == '\n' || text[len - 1] == '\r'))
		len--;
	/* A UTF-8 byte-order mark before the header. */
	if (!p->have_header && len >= 3 && !memcmp(text, "\xef\xbb\xbf", 3)) {
		text += 3;
		len -= 3;
	}
	for (i = 0; i < len; i++)
		if (text[i] != ' ' && text[i] != '\t')
			break;
	if (i == len)
		return SPE_TRACE_NONE;

	nf = spe_trace_split(text, len, f, SPE_TRACE_MAX_FIELDS);
	if (!p->have_header)
		return spe_trace_header(p, f, nf);

	if (spe_trace_not_a_row(p, f, nf)) {
		p->skipped++;
		return SPE_TRACE_NONE;
	}

	for (c = 0; c < SPE_TRACE_NCOLS; c++)
		if ((size_t)p->col[c] + 1 > need)
			need = (size_t)p->col[c] + 1;
	if (nf < need) {
		char msg[SPE_TRACE_ERR_LEN];

		snprintf(msg, sizeof(msg), "%zu fields, expected %zu", nf,
			 need);
		return spe_trace_fail(p, msg);
	}

	memset(&r, 0, sizeof(r));
	r.line = p->line;
	if (spe_trace_row_shape(p, f, &r) || spe_trace_row_rest(p, f, &r))
		return SPE_TRACE_ERROR;

	p->rows++;
	*row = r;
	return SPE_TRACE_ROW;
}

/* ---- traffic ------------------------------------------------------------ */

/* Bytes of one packed row of @d elements of @bits each. */
static uint64_t spe_trace_row_bytes(uint32_t d, uint32_t bits)
{
	return ((uint64_t)d * bits + 7) / 8;
}

uint64_t spe_trace_row_dense_fp32(const struct spe_trace_row *row)
{
	return 2 * (uint64_t)row->l *
	       spe_trace_row_bytes(row->d, SPE_TRACE_FP32_BITS);
}

/* topk_seed of the job of (iteration, layer): FNV-1a over the two words. */
static uint32_t spe_trace_seed(uint32_t iteration, uint32_t layer)
{
	uint32_t h = 2166136261u;

	h = (h ^ iteration) * 16777619u;
	h = (h ^ layer) * 16777619u;
	return h;
}

static uint64_t spe_trace_div_up(uint64_t a, uint64_t b)
{
	return (a + b - 1) / b;
}

uint64_t spe_trace_topk_cycles(uint32_t n, uint32_t k, uint32_t seed,
			       uint32_t call)
{
	uint32_t state, n_cur = n, k_left = k, r;
	uint64_t cycles = 0;

	if (!k || k >= n)
		return 0;
	state = spe_topk_prng_init(seed, call);
	/*
	 * n distinct keys: the current set is a run of ranks (0 = largest)
	 * and a pivot drawn uniformly from it has r keys above it.
	 * Invariant: 0 < k_left < n_cur.
	 */
	for (;;) {
		cycles += spe_trace_div_up(n_cur, SPE_TOPK_COMPARATORS) +
			  SPE_TOPK_PASS_OVERHEAD;
		r = spe_topk_prng_next(&state) % n_cur;
		if (r + 1 < k_left) {		/* greater + pivot: all kept */
			k_left -= r + 1;
			n_cur -= r + 1;
		} else if (r > k_left) {	/* too many above the pivot */
			n_cur = r;
		} else {			/* theta = pivot */
			break;
		}
	}
	/* The filter pass over the input. */
	return cycles + spe_trace_div_up(n, SPE_TOPK_RATE);
}

void spe_trace_row_stats(const struct spe_trace_row *row,
			 struct spe_stats *st)
{
	memset(st, 0, sizeof(*st));
	st->bytes[SPE_PLANE_Q] = spe_trace_row_bytes(row->d, row->query_bits);
	st->bytes[SPE_PLANE_K_MSB] = (uint64_t)row->key_fetch *
		spe_trace_row_bytes(row->d, row->key_bits);
	if (row->if_requant)
		st->bytes[SPE_PLANE_K_LSB] = (uint64_t)row->key_fetch *
			spe_trace_row_bytes(row->d, row->lsb_bits);
	st->bytes[SPE_PLANE_V] = (uint64_t)row->value_fetch *
		spe_trace_row_bytes(row->d, row->value_bits);
	st->bytes[SPE_PLANE_OUT] = spe_trace_row_bytes(row->d, 16);
	st->heads = 1;
	st->query_rows = 1;
	st->qk_scores = (uint64_t)row->key_fetch * (row->if_requant ? 2 : 1);
	st->pv_rows = row->value_fetch;
	st->refetch_rows = row->if_requant ? 1 : 0;
	st->heads_kept = 1;
	st->tokens_kept = row->key_fetch;
	/* Local value pruning: run 1 + head of the job (0 is the tokens'). */
	if (row->value_fetch < row->key_fetch)
		st->topk_cycles = spe_trace_topk_cycles(row->key_fetch,
			row->value_fetch,
			spe_trace_seed(row->iteration, row->layer),
			row->head + 1);
}

/* ---- jobs --------------------------------------------------------------- */

void spe_trace_replay_init(struct spe_trace_replay *r)
{
	memset(r, 0, sizeof(*r));
	spe_trace_parser_init(&r->parser);
	r->model_full = spe_model_full();
	r->model_eighth = spe_model_eighth();
}

static uint32_t spe_trace_u32(uint64_t v)
{
	return v > UINT32_MAX ? UINT32_MAX : (uint32_t)v;
}

/* First row of a job: everything but what depends on all its rows. */
static void spe_trace_job_start(struct spe_trace_replay *r,
				const struct spe_trace_row *row)
{
	struct spe_job *job = &r->job;

	memset(job, 0, sizeof(*job));
	memset(&r->st, 0, sizeof(r->st));
	r->job_dense_fp32 = 0;
	r->acc_importance = 0;
	r->n_rows = 0;
	r->iteration = row->iteration;
	r->layer = row->layer;

	job->opcode = SPATTEN_OP_ATTENTION;
	job->stage = SPATTEN_STAGE_GENERATION;
	job->flags = SPATTEN_DESC_F_CAUSAL;
	job->version = SPATTEN_DESC_VERSION;
	job->tag = spe_trace_u32(r->totals.jobs);
	job->head_dim = row->d;
	job->q_rows = 1;
	job->kv_rows = row->l;
	job->q_start = row->l - 1;
	job->q_fmt = (uint8_t)spe_trace_format(row->query_bits);
	job->k_fmt = (uint8_t)spe_trace_format(row->key_bits);
	job->v_fmt = (uint8_t)spe_trace_format(row->value_bits);
	job->out_fmt = SPATTEN_FMT_S16;
	job->topk_seed = spe_trace_seed(row->iteration, row->layer);
}

static int spe_trace_job_fail(struct spe_trace_replay *r,
			      const struct spe_trace_row *row,
			      const char *what)
{
	r->parser.err_line = row->line;
	snprintf(r->parser.err, sizeof(r->parser.err),
		 "iteration %u layer %u head %u: %s", row->iteration,
		 row->layer, row->head, what);
	return SPE_TRACE_ERROR;
}

int spe_trace_replay_row(struct spe_trace_replay *r,
			 const struct spe_trace_row *row)
{
	struct spe_job *job = &r->job;
	struct spe_stats hs;
	int p;

	if (r->n_rows && (row->iteration != r->iteration ||
			  row->layer != r->layer))
		spe_trace_replay_finish(r);

	if (spe_trace_format(row->query_bits) != SPATTEN_FMT_S16)
		return spe_trace_job_fail(r, row,
			"quant_query_bit must be 16 or -1 (Q is S16)");
	if (spe_trace_format(row->key_bits) < 0 ||
	    spe_trace_format(row->value_bits) < 0)
		return spe_trace_job_fail(r, row,
			"a key or value bit width is not a device format "
			"(4, 6, 8, 10, 12, 16 or -1)");
	if (row->if_requant && row->key_bits >= 16)
		return spe_trace_job_fail(r, row,
			"LSB refetch of 16-bit keys (progressive keys "
			"are 4..12-bit MSBs)");

	if (!r->n_rows) {
		spe_trace_job_start(r, row);
	} else if (row->d != job->head_dim || row->l != job->kv_rows ||
		   spe_trace_format(row->key_bits) != job->k_fmt ||
		   spe_trace_format(row->value_bits) != job->v_fmt) {
		return spe_trace_job_fail(r, row,
			"heads of one layer differ in D, L or bit widths");
	} else if (r->n_rows >= SPE_TRACE_U16_MAX) {
		return spe_trace_job_fail(r, row, "more than 65535 heads");
	}

	spe_trace_row_stats(row, &hs);
	for (p = 0; p < SPE_PLANE_COUNT; p++)
		r->st.bytes[p] += hs.bytes[p];
	r->st.heads += hs.heads;
	r->st.query_rows += hs.query_rows;
	r->st.qk_scores += hs.qk_scores;
	r->st.pv_rows += hs.pv_rows;
	r->st.refetch_rows += hs.refetch_rows;
	r->st.heads_kept += hs.heads_kept;
	/*
	 * The value top-k keeps pace with the scores (docs/engine.md): its
	 * cycles are reported, not added to the job's, as spe_run() does.
	 */
	r->totals.topk_cycles_value += hs.topk_cycles;
	if (hs.tokens_kept > r->st.tokens_kept)
		r->st.tokens_kept = hs.tokens_kept;
	r->job_dense_fp32 += spe_trace_row_dense_fp32(row);
	r->totals.keys_fetched += row->key_fetch;
	r->totals.values_fetched += row->value_fetch;
	r->totals.keys_dense += row->l;

	job->n_heads = ++r->n_rows;
	if (row->value_fetch < row->key_fetch &&
	    row->value_fetch > job->value_keep)
		job->value_keep = row->value_fetch;
	if (row->if_requant) {
		job->flags |= SPATTEN_DESC_F_PROGRESSIVE;
		if (row->requant_thres > 0) {
			/* 0 < thres <= 1: round to nearest, 1..32768 */
			job->lsb_threshold = (uint32_t)(row->requant_thres *
							32768 + 0.5);
		}
	}
	if (row->acc_importance)
		r->acc_importance = 1;
	return 0;
}

void spe_trace_replay_finish(struct spe_trace_replay *r)
{
	struct spe_job *job = &r->job;
	struct spe_stats *st = &r->st;
	uint64_t kept = st->tokens_kept, cand, cf, ce;
	int p;

	if (!r->n_rows)
		return;

	/*
	 * Cascade token pruning as the device does it: before the layer,
	 * top-k over the candidates keeps token_keep of them (the current
	 * token always enters). Candidates: the tokens the previous layer of
	 * the same iteration kept, or all L for the first layer.
	 */
	cand = job->kv_rows;
	if (r->have_prev && r->prev_iteration == r->iteration &&
	    r->prev_layer + 1 == r->layer && r->prev_kept >= kept &&
	    r->prev_kv_rows == job->kv_rows)
		cand = r->prev_kept;
	if (cand < job->kv_rows)
		job->n_tok_alive = (uint32_t)cand;
	if (kept < cand && kept >= 1) {
		job->token_keep = (uint32_t)kept;
		st->topk_cycles += spe_trace_topk_cycles((uint32_t)cand - 1,
			(uint32_t)kept - 1, job->topk_seed, 0);
		r->totals.token_topk_runs++;
	}

	/*
	 * Cascade state, once per job, as the engine moves it: the whole
	 * token importance array (u64[kv_rows]) read and written back when
	 * importance accumulates or the top-k needs it; the alive list
	 * (u16[n_tok_alive]) read; the kept list (u16[token_keep]) written.
	 */
	if (r->acc_importance || job->token_keep)
		st->bytes[SPE_PLANE_TOK_IMP] += 2 * 8 * (uint64_t)job->kv_rows;
	st->bytes[SPE_PLANE_TOK_ALIVE] += 2 * (uint64_t)job->n_tok_alive;
	st->bytes[SPE_PLANE_TOK_KEPT] += 2 * (uint64_t)job->token_keep;

	/* Buffer lengths: what the operands would be (addresses stay 0). */
	for (p = 0; p < SPE_PLANE_COUNT; p++)
		job->buf[p].len = spe_trace_u32(st->bytes[p]);

	cf = spe_cycles(job, st, &r->model_full);
	ce = spe_cycles(job, st, &r->model_eighth);

	r->totals.jobs++;
	r->totals.rows += r->n_rows;
	for (p = 0; p < SPE_PLANE_COUNT; p++) {
		r->totals.bytes[p] += st->bytes[p];
		r->totals.bytes_total += st->bytes[p];
	}
	r->totals.bytes_kv += st->bytes[SPE_PLANE_K_MSB] +
			      st->bytes[SPE_PLANE_K_LSB] +
			      st->bytes[SPE_PLANE_V];
	r->totals.dense_fp32 += r->job_dense_fp32;
	r->totals.refetch_rows += st->refetch_rows;
	r->totals.qk_scores += st->qk_scores;
	r->totals.pv_rows += st->pv_rows;
	r->totals.topk_cycles += st->topk_cycles;
	r->totals.cycles_full += cf;
	r->totals.cycles_eighth += ce;
	if (!r->have_prev || r->iteration != r->prev_iteration)
		r->totals.iterations++;

	r->have_prev = 1;
	r->prev_iteration = r->iteration;
	r->prev_layer = r->layer;
	r->prev_kept = kept;
	r->prev_kv_rows = job->kv_rows;

	if (r->on_job)
		r->on_job(r->opaque, r, job, st, r->job_dense_fp32, cf, ce);
	r->n_rows = 0;
}

int spe_trace_replay_buffer(struct spe_trace_replay *r, const char *buf,
			    size_t len)
{
	struct spe_trace_row row;
	size_t start = 0, i;
	int ret;

	for (i = 0; i <= len; i++) {
		if (i < len && buf[i] != '\n')
			continue;
		if (i == len && i == start)
			break;		/* no unterminated last line */
		ret = spe_trace_parse_line(&r->parser, buf + start, i - start,
					   &row);
		start = i + 1;
		if (ret == SPE_TRACE_ERROR)
			return SPE_TRACE_ERROR;
		if (ret == SPE_TRACE_ROW &&
		    spe_trace_replay_row(r, &row) == SPE_TRACE_ERROR)
			return SPE_TRACE_ERROR;
	}
	if (!r->parser.have_header) {
		r->parser.err_line = 0;
		snprintf(r->parser.err, sizeof(r->parser.err),
			 "no header line (iteration_id,layer_id,head_id,...)");
		return SPE_TRACE_ERROR;
	}
	spe_trace_replay_finish(r);
	return 0;
}
