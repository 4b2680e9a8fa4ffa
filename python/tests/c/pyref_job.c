// SPDX-License-Identifier: MIT
/*
 * pyref job: one batch item of spatten.attention(), written from
 * libspatten.h (the formats are in pyref.c's head comment).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "pyref.h"

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

int job_main(void)
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

