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

#include "pyref.h"


const char *prog = "pyref";

void __attribute__((noreturn, format(printf, 1, 2)))
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

void __attribute__((noreturn, format(printf, 1, 2)))
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
long check(long ret, const char *what)
{
	if (ret < 0)
		die("%s: %s (%ld)", what, strerror((int)-ret), ret);
	return ret;
}

void *xcalloc(size_t n, size_t size)
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

void parse_args(int argc, char **argv)
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

const char *arg_str(const char *key)
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

void args_all_used(void)
{
	int i;

	for (i = 0; i < n_args; i++)
		if (!args[i].used)
			usage("unknown argument '%s'", args[i].key);
}

int has_arg(const char *key)
{
	int i;

	for (i = 0; i < n_args; i++)
		if (!strcmp(args[i].key, key))
			return 1;
	return 0;
}

uint32_t arg_u32(const char *key, uint32_t def)
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

uint32_t arg_req(const char *key)
{
	if (!has_arg(key))
		usage("%s= is required", key);
	return arg_u32(key, 0);
}

int arg_flag(const char *key)
{
	uint32_t v = arg_u32(key, 0);

	if (v > 1)
		usage("%s=%u: 0 or 1", key, v);
	return (int)v;
}

/* A float as Python's ctypes.c_float(float(text)) makes it: via double. */
float arg_float(const char *key, float def)
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

uint32_t arg_list(const char *key, uint32_t *list)
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

enum spatten_dtype arg_dtype(void)
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


void input_open(struct input *in, const char *path)
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
void input_take(struct input *in, void *dst, size_t bytes)
{
	if (bytes > in->size - in->at)
		die("%s: %zu bytes, more expected", in->path, in->size);
	memcpy(dst, in->data + in->at, bytes);
	in->at += bytes;
}

void input_done(struct input *in)
{
	if (in->at != in->size)
		die("%s: %zu bytes, %zu expected", in->path, in->size, in->at);
	free(in->data);
}

FILE *output_open(const char *path)
{
	FILE *f = fopen(path, "wb");

	if (!f)
		die("%s: %s", path, strerror(errno));
	return f;
}

void put(FILE *f, const void *p, size_t bytes)
{
	if (bytes && fwrite(p, 1, bytes, f) != bytes)
		die("write: %s", strerror(errno));
}

void put_u64(FILE *f, uint64_t v)
{
	put(f, &v, sizeof(v));
}

void output_close(FILE *f, const char *path)
{
	if (fclose(f))
		die("%s: %s", path, strerror(errno));
}

/* @n floats as @dtype into @f (spatten_convert() narrows). */
void put_floats(FILE *f, const float *x, size_t n,
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

struct spatten_dev *open_sim(void)
{
	struct spatten_dev *dev = NULL;

	check(spatten_open_backend(NULL, SPATTEN_BACKEND_SIM, &dev),
	      "spatten_open_backend(sim)");
	return dev;
}

/* A zeroed buffer of @bytes (at least one page), its map in *@map. */
struct spatten_bo *bo_new(struct spatten_dev *dev, size_t bytes,
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

struct spatten_tensor_ref ref(struct spatten_bo *bo)
{
	struct spatten_tensor_ref r = { .bo = bo, .offset = 0 };

	return r;
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
