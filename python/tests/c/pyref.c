// SPDX-License-Identifier: MIT
/*
 * pyref: the C reference of python/tests/test_bitexact.py. It computes,
 * through libspatten's C API on the simulation backend, what the Python
 * package computes through ctypes, so that the test can compare the two
 * byte for byte. It is written from libspatten.h, not from the Python
 * code: each operand in a buffer of its own, the fixed point chosen and
 * packed by the library's functions.
 *
 * Usage: pyref MODE key=value ... in=FILE out=FILE
 * Exit status: 0 done, 1 a library call or file operation failed (a
 * message on stderr), 2 bad arguments.
 *
 * Integers are decimal; flags are 0 or 1; lists are comma-separated.
 * dtype is f32, f16 or bf16: the type of the output written (the inputs
 * are always float32; fp16/bf16 inputs are widened exactly by the caller).
 * Every number in the files is little-endian (the host's order: x86-64).
 *
 * ---- pyref job: one batch item of spatten.attention() ----
 *
 * Keys: n_heads=H n_kv_heads=G (default H) q_rows=L kv_rows=S head_dim=E
 * causal q_start (default S - L if causal, else 0) scale (float, 0: the
 * default 1/sqrt(E)) token_keep head_keep value_keep (counts, 0: none)
 * pinned (list) progressive k_bits (default 8 if progressive, else 16)
 * v_bits (default 16) lsb_threshold (1/2^15 units, default 3277) rope_base
 * tok_imp head_imp (1: importance arrays in the input, updated in the
 * output) tok_alive head_alive (lists: the candidate tokens, the heads
 * computed) positions (1: RoPE key positions in the input) topk_seed
 * stage (0 summarization, 1 generation; default: generation when
 * causal and L < S) dtype.
 *
 * Each head's fixed point comes from its own data (rows the board rotates,
 * Q and 16-bit K with rope_base: from their largest pair norm): frac = max(0,
 * spatten_frac_for_bits(spatten_max_abs(head), bits)) with 16 bits for Q,
 * k_bits (+ 4 if progressive) for K, v_bits for V; query head h's output
 * is in the V frac of its KV head h / (H / G). One version-3 job with
 * SPATTEN_ATTN_HEAD_FRACS. A job with token_keep has a token importance
 * array (zeros unless tok_imp=1), one with head_keep a head importance
 * array (likewise). Every buffer starts zeroed, so the output rows the
 * device does not write (heads not alive; in summarization, tokens not
 * kept or not alive: docs/hardware.md) are 0.
 *
 * Input file:
 *	float32 q [H][L][E], k [G][S][E], v [G][S][E],
 *	u64 tok_imp [S] (if tok_imp=1), u64 head_imp [H] (if head_imp=1),
 *	u32 positions [S] (if positions=1)
 * Output file:
 *	out [H][L][E] in dtype,
 *	u32 tok_kept [token_keep], u32 head_kept [head_keep],
 *	u64 tok_imp [S] (if tok_imp=1), u64 head_imp [H] (if head_imp=1),
 *	u8 fracs [2H + 2G] (the job's head_fracs table: Q [H], out [H],
 *	K [G], V [G]),
 *	u64 status, lsb_refetches, bytes_q, bytes_k_msb, bytes_k_lsb,
 *	bytes_v, bytes_written, cycles, saturations (of Q, K and V)
 *
 * ---- pyref session: a spatten_session over passes ----
 *
 * Keys: kind=encoder|decoder layers heads kv_heads (default heads)
 * head_dim max_context prompt=P steps=N (decoder: N generation steps of
 * one token after the prompt; encoder: 0) tok_start tok_end head_start
 * head_end value_keep (floats: any given uses spatten_schedule_paper(),
 * the others default to 1) progressive k_bits (default 8 if progressive,
 * else 16) v_bits lsb_threshold scale rope_base pinned (list) kv_start
 * kv_important kv_recent kv_per_head max_step topk_seed q_frac k_frac
 * v_frac out_frac (any given: SPATTEN_SESSION_FIXED_SCALES, the others 11)
 * dtype.
 *
 * Input file, float32: per pass (the prompt, then each step) and per
 * layer, with n the pass's tokens: q [H][n][D], k [G][n][D], v [G][n][D]
 * (spatten_session_layer()'s layout).
 * Output file:
 *	per pass and layer: out [H][n][D] in dtype (spatten_session_layer()'s
 *	float output, narrowed by spatten_convert() for f16 and bf16);
 *	u64 context;
 *	the cache: without kv_per_head one list, with it one per layer and
 *	KV head (layer-major), each u64 n, u32 ids [n], u64 imp [n];
 *	per layer: 18 u64, spatten_session_layer_stats()'s totals in the
 *	struct's field order (status, stage, kv_rows, q_rows, tokens_alive,
 *	tokens_kept, heads_alive, heads_kept, value_keep, lsb_refetches,
 *	query_rows, bytes_q, bytes_k_msb, bytes_k_lsb, bytes_v,
 *	bytes_written, bytes_dense, cycles), then u64 n + u32 alive [n]
 *	(spatten_session_alive()), u64 n + u32 heads [n]
 *	(spatten_session_heads()), u64 q, k, v saturations.
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "libspatten.h"

#define MAX_LIST	64

static const char *prog = "pyref";

static void __attribute__((noreturn, format(printf, 1, 2)))
die(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

static void __attribute__((noreturn, format(printf, 1, 2)))
usage(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nusage: %s job|session key=value ... in=FILE "
		"out=FILE (see pyref.c)\n", prog);
	exit(2);
}

/* A failing library call: its name and error, exit 1. */
static long check(long ret, const char *what)
{
	if (ret < 0)
		die("%s: %s (%ld)", what, strerror((int)-ret), ret);
	return ret;
}

static void *xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);

	if (!p)
		die("out of memory");
	return p;
}

/* ---- arguments ----------------------------------------------------------- */

struct arg {
	const char *key;
	const char *val;
	int used;
};

static struct arg args[64];
static int n_args;

static void parse_args(int argc, char **argv)
{
	int i;

	for (i = 0; i < argc; i++) {
		char *eq = strchr(argv[i], '=');

		if (!eq || eq == argv[i])
			usage("argument '%s' is not key=value", argv[i]);
		if (n_args == (int)(sizeof(args) / sizeof(args[0])))
			usage("too many arguments");
		*eq = '\0';
		args[n_args].key = argv[i];
		args[n_args].val = eq + 1;
		n_args++;
	}
}

static const char *arg_str(const char *key)
{
	int i;

	for (i = n_args - 1; i >= 0; i--) {
		if (!strcmp(args[i].key, key)) {
			args[i].used = 1;
			return args[i].val;
		}
	}
	return NULL;
}

static void args_all_used(void)
{
	int i;

	for (i = 0; i < n_args; i++)
		if (!args[i].used)
			usage("unknown argument '%s'", args[i].key);
}

static int has_arg(const char *key)
{
	int i;

	for (i = 0; i < n_args; i++)
		if (!strcmp(args[i].key, key))
			return 1;
	return 0;
}

static uint32_t arg_u32(const char *key, uint32_t def)
{
	const char *s = arg_str(key);
	unsigned long long v;
	char *end;

	if (!s)
		return def;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s || *end || *s == '-' || v > UINT32_MAX)
		usage("%s=%s: not an unsigned 32-bit integer", key, s);
	return (uint32_t)v;
}

static uint32_t arg_req(const char *key)
{
	if (!has_arg(key))
		usage("%s= is required", key);
	return arg_u32(key, 0);
}

static int arg_flag(const char *key)
{
	uint32_t v = arg_u32(key, 0);

	if (v > 1)
		usage("%s=%u: 0 or 1", key, v);
	return (int)v;
}

/* A float as Python's ctypes.c_float(float(text)) makes it: via double. */
static float arg_float(const char *key, float def)
{
	const char *s = arg_str(key);
	double v;
	char *end;

	if (!s)
		return def;
	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || *end)
		usage("%s=%s: not a number", key, s);
	return (float)v;
}

static uint32_t arg_list(const char *key, uint32_t *list)
{
	const char *s = arg_str(key);
	uint32_t n = 0;
	char *end;

	if (!s || !*s)
		return 0;
	for (;;) {
		unsigned long long v;

		if (n == MAX_LIST)
			usage("%s: more than %d entries", key, MAX_LIST);
		errno = 0;
		v = strtoull(s, &end, 10);
		if (errno || end == s || *s == '-' || v > UINT32_MAX)
			usage("%s: bad list", key);
		list[n++] = (uint32_t)v;
		if (!*end)
			return n;
		if (*end != ',')
			usage("%s: bad list", key);
		s = end + 1;
	}
}

static enum spatten_dtype arg_dtype(void)
{
	const char *s = arg_str("dtype");

	if (!s || !strcmp(s, "f32"))
		return SPATTEN_DTYPE_F32;
	if (!strcmp(s, "f16"))
		return SPATTEN_DTYPE_F16;
	if (!strcmp(s, "bf16"))
		return SPATTEN_DTYPE_BF16;
	usage("dtype=%s: f32, f16 or bf16", s);
}

/* ---- files --------------------------------------------------------------- */

struct input {
	unsigned char *data;
	size_t size;
	size_t at;
	const char *path;
};

static void input_open(struct input *in, const char *path)
{
	FILE *f = fopen(path, "rb");
	long size;

	if (!f)
		die("%s: %s", path, strerror(errno));
	if (fseek(f, 0, SEEK_END) || (size = ftell(f)) < 0 ||
	    fseek(f, 0, SEEK_SET))
		die("%s: cannot seek", path);
	in->data = xcalloc((size_t)size, 1);
	in->size = (size_t)size;
	in->at = 0;
	in->path = path;
	if (size && fread(in->data, 1, (size_t)size, f) != (size_t)size)
		die("%s: short read", path);
	fclose(f);
}

/* The next @bytes of the input, copied to @dst. */
static void input_take(struct input *in, void *dst, size_t bytes)
{
	if (bytes > in->size - in->at)
		die("%s: %zu bytes, more expected", in->path, in->size);
	memcpy(dst, in->data + in->at, bytes);
	in->at += bytes;
}

static void input_done(struct input *in)
{
	if (in->at != in->size)
		die("%s: %zu bytes, %zu expected", in->path, in->size, in->at);
	free(in->data);
}

static FILE *output_open(const char *path)
{
	FILE *f = fopen(path, "wb");

	if (!f)
		die("%s: %s", path, strerror(errno));
	return f;
}

static void put(FILE *f, const void *p, size_t bytes)
{
	if (bytes && fwrite(p, 1, bytes, f) != bytes)
		die("write: %s", strerror(errno));
}

static void put_u64(FILE *f, uint64_t v)
{
	put(f, &v, sizeof(v));
}

static void output_close(FILE *f, const char *path)
{
	if (fclose(f))
		die("%s: %s", path, strerror(errno));
}

/* @n floats as @dtype into @f (spatten_convert() narrows). */
static void put_floats(FILE *f, const float *x, size_t n,
		       enum spatten_dtype dtype)
{
	void *tmp;

	if (dtype == SPATTEN_DTYPE_F32) {
		put(f, x, n * sizeof(float));
		return;
	}
	tmp = xcalloc(n, 2);
	check(spatten_convert(tmp, dtype, x, SPATTEN_DTYPE_F32, n),
	      "spatten_convert");
	put(f, tmp, n * 2);
	free(tmp);
}

/* ---- pyref job ----------------------------------------------------------- */

static struct spatten_dev *open_sim(void)
{
	struct spatten_dev *dev = NULL;

	check(spatten_open_backend(NULL, SPATTEN_BACKEND_SIM, &dev),
	      "spatten_open_backend(sim)");
	return dev;
}

/* A zeroed buffer of @bytes (at least one page), its map in *@map. */
static struct spatten_bo *bo_new(struct spatten_dev *dev, size_t bytes,
				 void **map)
{
	struct spatten_bo *bo = NULL;

	check(spatten_bo_alloc(dev, bytes ? bytes : 1, &bo),
	      "spatten_bo_alloc");
	*map = spatten_bo_map(bo);
	if (!*map)
		die("spatten_bo_map: NULL");
	memset(*map, 0, bytes);
	return bo;
}

static struct spatten_tensor_ref ref(struct spatten_bo *bo)
{
	struct spatten_tensor_ref r = { .bo = bo, .offset = 0 };

	return r;
}

/*
 * Largest value rows of @d elements can reach once rotated (RoPE pairs i
 * and i + d/2): the largest pair norm, plus 2^-13 of it for the
 * rotation's rounding (docs/python.md).
 */
static float rotated_max(const float *x, size_t n, uint32_t d)
{
	double m = 0.0;
	size_t r, i;

	for (r = 0; r < n / d; r++)
		for (i = 0; i < d / 2; i++) {
			double a = x[r * d + i], b = x[r * d + i + d / 2];

			if (a * a + b * b > m)
				m = a * a + b * b;
		}
	return (float)(sqrt(m) * (1.0 + 0x1p-13));
}

/*
 * Fractional bits for @n values of @x in @bits bits: max(0, ...); @rot_d
 * (the row length) when the board rotates these rows, else 0.
 */
static unsigned int frac_of(const float *x, size_t n, unsigned int bits,
			    uint32_t rot_d)
{
	float m = rot_d ? rotated_max(x, n, rot_d) : spatten_max_abs(x, n);
	int f = spatten_frac_for_bits(m, bits);

	return f < 0 ? 0 : (unsigned int)f;
}

static int job_main(void)
{
	uint32_t H = arg_req("n_heads"), E = arg_req("head_dim");
	uint32_t L = arg_req("q_rows"), S = arg_req("kv_rows");
	uint32_t G = arg_u32("n_kv_heads", H);
	int causal = arg_flag("causal"), progressive = arg_flag("progressive");
	uint32_t q_start = arg_u32("q_start", causal && S >= L ? S - L : 0);
	float scale = arg_float("scale", 0.0f);
	uint32_t token_keep = arg_u32("token_keep", 0);
	uint32_t head_keep = arg_u32("head_keep", 0);
	uint32_t value_keep = arg_u32("value_keep", 0);
	uint32_t k_bits = arg_u32("k_bits", progressive ? 8 : 16);
	uint32_t v_bits = arg_u32("v_bits", 16);
	uint32_t threshold = arg_u32("lsb_threshold", 3277);
	uint32_t rope_base = arg_u32("rope_base", 0);
	int has_timp = arg_flag("tok_imp"), has_himp = arg_flag("head_imp");
	int has_pos = arg_flag("positions");
	uint32_t topk_seed = arg_u32("topk_seed", 0);
	uint32_t stage = arg_u32("stage", causal && L < S ?
				 SPATTEN_STAGE_GENERATION :
				 SPATTEN_STAGE_SUMMARIZATION);
	enum spatten_dtype dtype = arg_dtype();
	const char *in_path = arg_str("in"), *out_path = arg_str("out");
	uint32_t pinned[MAX_LIST], n_pinned = arg_list("pinned", pinned);
	uint32_t talive[MAX_LIST], n_talive = arg_list("tok_alive", talive);
	uint32_t halive[MAX_LIST], n_halive = arg_list("head_alive", halive);
	size_t nq, nkv, qper, kvper;
	unsigned int k_total = k_bits + (progressive ? SPATTEN_LSB_BITS : 0);
	int k_fmt = 0, v_fmt = 0;
	float *q, *k, *v, *outf;
	uint8_t *fracs;
	uint64_t sat = 0;
	struct spatten_attn_desc d;
	struct spatten_attn_ext x;
	struct spatten_result res;
	struct spatten_job3 job;
	struct spatten_dev *dev;
	struct spatten_bo *bq, *bk, *bkl = NULL, *bv, *bo, *bf;
	struct spatten_bo *bti = NULL, *btk = NULL, *bpin = NULL;
	struct spatten_bo *bhi = NULL, *bhk = NULL, *bta = NULL, *bha = NULL;
	struct spatten_bo *bpos = NULL;
	void *mpos = NULL;
	void *mq, *mk, *mkl = NULL, *mv, *mo, *mf, *mti = NULL, *mtk = NULL;
	void *mpin = NULL, *mhi = NULL, *mhk = NULL, *mta = NULL, *mha = NULL;
	struct input in;
	uint32_t h, g;
	FILE *out;

	if (!in_path || !out_path)
		usage("in= and out= are required");
	args_all_used();
	if (!H || !G || !L || !S || !E || H % G)
		usage("bad shape: %u heads, %u KV heads, %u x %u rows, dim %u",
		      H, G, L, S, E);
	if (has_pos && !rope_base)
		usage("positions=1 needs rope_base");
	if (k_bits != 16)
		k_fmt = (int)check(spatten_fmt_of_bits(k_bits),
				   "spatten_fmt_of_bits(k_bits)");
	if (v_bits != 16)
		v_fmt = (int)check(spatten_fmt_of_bits(v_bits),
				   "spatten_fmt_of_bits(v_bits)");

	qper = (size_t)L * E;
	kvper = (size_t)S * E;
	nq = (size_t)H * qper;
	nkv = (size_t)G * kvper;
	q = xcalloc(nq, sizeof(float));
	k = xcalloc(nkv, sizeof(float));
	v = xcalloc(nkv, sizeof(float));
	outf = xcalloc(nq, sizeof(float));
	fracs = xcalloc(2 * (size_t)H + 2 * (size_t)G, 1);

	dev = open_sim();
	bq = bo_new(dev, nq * 2, &mq);
	bk = bo_new(dev, nkv * k_bits / 8, &mk);
	if (progressive)
		bkl = bo_new(dev, nkv * SPATTEN_LSB_BITS / 8, &mkl);
	bv = bo_new(dev, nkv * v_bits / 8, &mv);
	bo = bo_new(dev, nq * 2, &mo);
	bf = bo_new(dev, 2 * (size_t)H + 2 * (size_t)G, &mf);
	if (token_keep || has_timp)
		bti = bo_new(dev, 8 * (size_t)S, &mti);
	if (token_keep)
		btk = bo_new(dev, 4 * (size_t)token_keep, &mtk);
	if (n_pinned)
		bpin = bo_new(dev, 4 * (size_t)n_pinned, &mpin);
	if (head_keep || has_himp)
		bhi = bo_new(dev, 8 * (size_t)H, &mhi);
	if (head_keep)
		bhk = bo_new(dev, 4 * (size_t)head_keep, &mhk);
	if (n_talive)
		bta = bo_new(dev, 4 * (size_t)n_talive, &mta);
	if (n_halive)
		bha = bo_new(dev, 4 * (size_t)n_halive, &mha);
	if (has_pos)
		bpos = bo_new(dev, 4 * (size_t)S, &mpos);

	input_open(&in, in_path);
	input_take(&in, q, nq * sizeof(float));
	input_take(&in, k, nkv * sizeof(float));
	input_take(&in, v, nkv * sizeof(float));
	if (has_timp)
		input_take(&in, mti, 8 * (size_t)S);
	if (has_himp)
		input_take(&in, mhi, 8 * (size_t)H);
	if (has_pos)
		input_take(&in, mpos, 4 * (size_t)S);
	input_done(&in);
	if (n_pinned)
		memcpy(mpin, pinned, 4 * (size_t)n_pinned);
	if (n_talive)
		memcpy(mta, talive, 4 * (size_t)n_talive);
	if (n_halive)
		memcpy(mha, halive, 4 * (size_t)n_halive);

	/* the fixed point of each head, from its own data */
	for (h = 0; h < H; h++) {
		const float *src = q + h * qper;
		unsigned int f = frac_of(src, qper, 16, rope_base ? E : 0);

		sat += (uint64_t)check(spatten_quantize_s16((char *)mq +
							    h * qper * 2, src,
							    qper, f),
				       "spatten_quantize_s16(q)");
		fracs[h] = (uint8_t)f;
	}
	for (g = 0; g < G; g++) {
		const float *src = k + g * kvper;
		unsigned int f = frac_of(src, kvper, k_total,
					 rope_base && k_total == 16 ? E : 0);
		void *dst = (char *)mk + g * kvper * k_bits / 8;
		long n;

		if (progressive)
			n = spatten_pack_split(dst, (char *)mkl + g * kvper *
					       SPATTEN_LSB_BITS / 8, k_bits,
					       src, kvper, f);
		else if (k_bits == 16)
			n = spatten_quantize_s16(dst, src, kvper, f);
		else
			n = spatten_pack(dst, (unsigned int)k_fmt, src, kvper,
					 f);
		sat += (uint64_t)check(n, "packing K");
		fracs[2 * H + g] = (uint8_t)f;
	}
	for (g = 0; g < G; g++) {
		const float *src = v + g * kvper;
		unsigned int f = frac_of(src, kvper, v_bits, 0);
		void *dst = (char *)mv + g * kvper * v_bits / 8;
		long n;

		if (v_bits == 16)
			n = spatten_quantize_s16(dst, src, kvper, f);
		else
			n = spatten_pack(dst, (unsigned int)v_fmt, src, kvper,
					 f);
		sat += (uint64_t)check(n, "packing V");
		fracs[2 * H + G + g] = (uint8_t)f;
	}
	/* each query head's output in its KV head's V units */
	for (h = 0; h < H; h++)
		fracs[H + h] = fracs[2 * H + G + h / (H / G)];
	memcpy(mf, fracs, 2 * (size_t)H + 2 * (size_t)G);

	memset(&d, 0, sizeof(d));
	memset(&x, 0, sizeof(x));
	d.n_heads = H;
	d.head_dim = E;
	d.q_rows = L;
	d.kv_rows = S;
	d.q_start = q_start;
	d.stage = stage;
	d.topk_seed = topk_seed;
	d.flags = SPATTEN_ATTN_HEAD_FRACS;
	if (causal)
		d.flags |= SPATTEN_ATTN_CAUSAL;
	if (progressive) {
		d.flags |= SPATTEN_ATTN_PROGRESSIVE;
		d.lsb_threshold = (uint16_t)threshold;
		d.k_lsb = ref(bkl);
	}
	if (rope_base) {
		d.flags |= SPATTEN_ATTN_ROPE;
		x.rope_base = rope_base;
		if (has_pos) {
			d.flags |= SPATTEN_ATTN_ROPE_POSITIONS;
			x.positions = ref(bpos);
		}
	}
	d.q = ref(bq);
	d.k = ref(bk);
	d.v = ref(bv);
	d.out = ref(bo);
	d.k_fmt = (uint8_t)k_fmt;
	d.v_fmt = (uint8_t)v_fmt;
	if (bti)
		d.tok_imp = ref(bti);
	if (btk)
		d.tok_kept = ref(btk);
	if (bpin)
		d.pinned = ref(bpin);
	if (bhi)
		d.head_imp = ref(bhi);
	if (bhk)
		d.head_kept = ref(bhk);
	if (bta)
		d.tok_alive = ref(bta);
	if (bha)
		d.head_alive = ref(bha);
	d.n_tok_alive = n_talive;
	d.n_head_alive = n_halive;
	d.token_keep = token_keep;
	d.n_pinned = n_pinned;
	d.head_keep = head_keep;
	d.value_keep = value_keep;
	x.n_kv_heads = G;
	x.score_scale = scale;
	x.head_fracs = ref(bf);

	check(spatten_attn_prep3(&job, &d, &x), "spatten_attn_prep3");
	memset(&res, 0, sizeof(res));
	check(spatten_run3(dev, &job, &res), "spatten_run3");
	if (res.status != SPATTEN_HW_OK)
		die("job status %u (%s)", res.status,
		    spatten_status_str(res.status));

	for (h = 0; h < H; h++)
		check(spatten_dequantize_s16(outf + h * qper,
					     (char *)mo + h * qper * 2, qper,
					     fracs[H + h]),
		      "spatten_dequantize_s16");

	out = output_open(out_path);
	put_floats(out, outf, nq, dtype);
	if (btk)
		put(out, mtk, 4 * (size_t)token_keep);
	if (bhk)
		put(out, mhk, 4 * (size_t)head_keep);
	if (has_timp)
		put(out, mti, 8 * (size_t)S);
	if (has_himp)
		put(out, mhi, 8 * (size_t)H);
	put(out, fracs, 2 * (size_t)H + 2 * (size_t)G);
	put_u64(out, res.status);
	put_u64(out, res.lsb_refetches);
	put_u64(out, res.bytes_q);
	put_u64(out, res.bytes_k_msb);
	put_u64(out, res.bytes_k_lsb);
	put_u64(out, res.bytes_v);
	put_u64(out, res.bytes_written);
	put_u64(out, res.cycles);
	put_u64(out, sat);
	output_close(out, out_path);

	spatten_bo_free(bpos);
	spatten_bo_free(bha);
	spatten_bo_free(bta);
	spatten_bo_free(bhk);
	spatten_bo_free(bhi);
	spatten_bo_free(bpin);
	spatten_bo_free(btk);
	spatten_bo_free(bti);
	spatten_bo_free(bf);
	spatten_bo_free(bo);
	spatten_bo_free(bv);
	spatten_bo_free(bkl);
	spatten_bo_free(bk);
	spatten_bo_free(bq);
	spatten_close(dev);
	free(fracs);
	free(outf);
	free(v);
	free(k);
	free(q);
	return 0;
}

/* ---- pyref session ------------------------------------------------------- */

static void put_cache(FILE *f, const struct spatten_session *s, int per_head,
		      unsigned int layer, unsigned int kv_head)
{
	uint32_t *ids;
	uint64_t *imp;
	int n, got;

	n = (int)check(per_head ?
		       spatten_session_cache_head(s, layer, kv_head, NULL,
						  NULL, 0) :
		       spatten_session_cache(s, NULL, NULL, 0),
		       "spatten_session_cache");
	ids = xcalloc((size_t)n, sizeof(*ids));
	imp = xcalloc((size_t)n, sizeof(*imp));
	got = (int)check(per_head ?
			 spatten_session_cache_head(s, layer, kv_head, ids,
						    imp, (unsigned int)n) :
			 spatten_session_cache(s, ids, imp, (unsigned int)n),
			 "spatten_session_cache");
	if (got != n)
		die("spatten_session_cache: %d slots, then %d", n, got);
	put_u64(f, (uint64_t)n);
	put(f, ids, (size_t)n * sizeof(*ids));
	put(f, imp, (size_t)n * sizeof(*imp));
	free(imp);
	free(ids);
}

static void put_stats(FILE *f, const struct spatten_layer_stats *t)
{
	put_u64(f, t->status);
	put_u64(f, t->stage);
	put_u64(f, t->kv_rows);
	put_u64(f, t->q_rows);
	put_u64(f, t->tokens_alive);
	put_u64(f, t->tokens_kept);
	put_u64(f, t->heads_alive);
	put_u64(f, t->heads_kept);
	put_u64(f, t->value_keep);
	put_u64(f, t->lsb_refetches);
	put_u64(f, t->query_rows);
	put_u64(f, t->bytes_q);
	put_u64(f, t->bytes_k_msb);
	put_u64(f, t->bytes_k_lsb);
	put_u64(f, t->bytes_v);
	put_u64(f, t->bytes_written);
	put_u64(f, t->bytes_dense);
	put_u64(f, t->cycles);
}

static void put_layer_lists(FILE *f, const struct spatten_session *s,
			    unsigned int layer)
{
	uint32_t *alive, *heads32;
	uint16_t *heads;
	int n, i;

	n = (int)check(spatten_session_alive(s, layer, NULL, 0),
		       "spatten_session_alive");
	alive = xcalloc((size_t)n, sizeof(*alive));
	if (check(spatten_session_alive(s, layer, alive, (unsigned int)n),
		  "spatten_session_alive") != n)
		die("spatten_session_alive: the count changed");
	put_u64(f, (uint64_t)n);
	put(f, alive, (size_t)n * sizeof(*alive));
	free(alive);

	n = (int)check(spatten_session_heads(s, layer, NULL, 0),
		       "spatten_session_heads");
	heads = xcalloc((size_t)n, sizeof(*heads));
	heads32 = xcalloc((size_t)n, sizeof(*heads32));
	if (check(spatten_session_heads(s, layer, heads, (unsigned int)n),
		  "spatten_session_heads") != n)
		die("spatten_session_heads: the count changed");
	for (i = 0; i < n; i++)
		heads32[i] = heads[i];
	put_u64(f, (uint64_t)n);
	put(f, heads32, (size_t)n * sizeof(*heads32));
	free(heads32);
	free(heads);
}

static int session_main(void)
{
	const char *kind_s = arg_str("kind");
	uint32_t layers = arg_req("layers"), H = arg_req("heads");
	uint32_t G = arg_u32("kv_heads", H), D = arg_req("head_dim");
	uint32_t max_context = arg_req("max_context");
	uint32_t prompt = arg_req("prompt"), steps = arg_u32("steps", 0);
	int sched = has_arg("tok_start") || has_arg("tok_end") ||
		    has_arg("head_start") || has_arg("head_end") ||
		    has_arg("value_keep");
	float tok_start = arg_float("tok_start", 1.0f);
	float tok_end = arg_float("tok_end", 1.0f);
	float head_start = arg_float("head_start", 1.0f);
	float head_end = arg_float("head_end", 1.0f);
	float value_keep = arg_float("value_keep", 1.0f);
	int progressive = arg_flag("progressive");
	uint32_t k_bits = arg_u32("k_bits", progressive ? 8 : 16);
	uint32_t v_bits = arg_u32("v_bits", 16);
	uint32_t threshold = arg_u32("lsb_threshold", 3277);
	float scale = arg_float("scale", 0.0f);
	uint32_t rope_base = arg_u32("rope_base", 0);
	uint32_t kv_start = arg_u32("kv_start", 0);
	uint32_t kv_important = arg_u32("kv_important", 0);
	uint32_t kv_recent = arg_u32("kv_recent", 0);
	int kv_per_head = arg_flag("kv_per_head");
	uint32_t max_step = arg_u32("max_step", 0);
	uint32_t topk_seed = arg_u32("topk_seed", 0);
	int fixed = has_arg("q_frac") || has_arg("k_frac") ||
		    has_arg("v_frac") || has_arg("out_frac");
	uint32_t q_frac = arg_u32("q_frac", 11), k_frac = arg_u32("k_frac", 11);
	uint32_t v_frac = arg_u32("v_frac", 11);
	uint32_t out_frac = arg_u32("out_frac", 11);
	enum spatten_dtype dtype = arg_dtype();
	const char *in_path = arg_str("in"), *out_path = arg_str("out");
	uint32_t pinned[MAX_LIST], n_pinned = arg_list("pinned", pinned);
	struct spatten_session_opts o;
	struct spatten_layer_stats tot;
	struct spatten_session *s = NULL;
	struct spatten_dev *dev;
	uint32_t kind, pass, l, g;
	float *q, *k, *v, *outf;
	struct input in;
	FILE *out;

	if (!kind_s || (strcmp(kind_s, "encoder") && strcmp(kind_s, "decoder")))
		usage("kind=encoder or kind=decoder is required");
	kind = strcmp(kind_s, "encoder") ? SPATTEN_SESSION_DECODER :
	       SPATTEN_SESSION_ENCODER;
	if (!in_path || !out_path)
		usage("in= and out= are required");
	args_all_used();
	if (!layers || !H || !G || !D || !prompt)
		usage("bad shape");
	if (kind == SPATTEN_SESSION_ENCODER && steps)
		usage("an encoder runs one pass: steps=0");

	spatten_session_opts_init(&o, kind, layers, H, G, D, max_context);
	if (sched)
		check(spatten_schedule_paper(&o.schedule, layers, tok_start,
					     tok_end, head_start, head_end,
					     value_keep),
		      "spatten_schedule_paper");
	if (progressive)
		o.flags |= SPATTEN_SESSION_PROGRESSIVE;
	if (kv_per_head)
		o.flags |= SPATTEN_SESSION_KV_PER_HEAD;
	if (fixed) {
		o.flags |= SPATTEN_SESSION_FIXED_SCALES;
		o.q_frac = (uint8_t)q_frac;
		o.k_frac = (uint8_t)k_frac;
		o.v_frac = (uint8_t)v_frac;
		o.out_frac = (uint8_t)out_frac;
	}
	o.k_bits = (uint8_t)k_bits;
	o.v_bits = (uint8_t)v_bits;
	o.lsb_threshold = (uint16_t)threshold;
	o.topk_seed = topk_seed;
	o.score_scale = scale;
	o.rope_base = rope_base;
	o.n_pinned = n_pinned;
	memcpy(o.pinned, pinned, n_pinned * sizeof(pinned[0]));
	o.kv_start = kv_start;
	o.kv_important = kv_important;
	o.kv_recent = kv_recent;
	o.max_step = max_step;

	dev = open_sim();
	check(spatten_session_open(dev, &o, &s), "spatten_session_open");

	q = xcalloc((size_t)H * prompt * D, sizeof(float));
	k = xcalloc((size_t)G * prompt * D, sizeof(float));
	v = xcalloc((size_t)G * prompt * D, sizeof(float));
	outf = xcalloc((size_t)H * prompt * D, sizeof(float));
	input_open(&in, in_path);
	out = output_open(out_path);
	for (pass = 0; pass <= steps; pass++) {
		uint32_t n = pass ? 1 : prompt;

		for (l = 0; l < layers; l++) {
			char what[64];

			input_take(&in, q, (size_t)H * n * D * sizeof(float));
			input_take(&in, k, (size_t)G * n * D * sizeof(float));
			input_take(&in, v, (size_t)G * n * D * sizeof(float));
			snprintf(what, sizeof(what),
				 "spatten_session_layer(pass %u, layer %u)",
				 pass, l);
			check(spatten_session_layer(s, l, n, q, k, v, outf),
			      what);
			put_floats(out, outf, (size_t)H * n * D, dtype);
		}
	}
	input_done(&in);

	put_u64(out, (uint64_t)check(spatten_session_context(s),
				     "spatten_session_context"));
	if (kv_per_head) {
		for (l = 0; l < layers; l++)
			for (g = 0; g < G; g++)
				put_cache(out, s, 1, l, g);
	} else {
		put_cache(out, s, 0, 0, 0);
	}
	for (l = 0; l < layers; l++) {
		uint64_t sq, sk, sv;

		check(spatten_session_layer_stats(s, l, NULL, &tot),
		      "spatten_session_layer_stats");
		put_stats(out, &tot);
		put_layer_lists(out, s, l);
		check(spatten_session_saturations(s, l, &sq, &sk, &sv),
		      "spatten_session_saturations");
		put_u64(out, sq);
		put_u64(out, sk);
		put_u64(out, sv);
	}
	output_close(out, out_path);

	spatten_session_destroy(s);
	spatten_close(dev);
	free(outf);
	free(v);
	free(k);
	free(q);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 2)
		usage("no mode");
	parse_args(argc - 2, argv + 2);
	if (!strcmp(argv[1], "job"))
		return job_main();
	if (!strcmp(argv[1], "session"))
		return session_main();
	usage("mode '%s': job or session", argv[1]);
}
