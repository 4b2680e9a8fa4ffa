// SPDX-License-Identifier: MIT
/*
 * libspatten: version-3 jobs (spatten_attn_prep3(), spatten_run3()) on
 * the default backend: the simulation on the host (make lib-check), the
 * board in the guest (every boot), where each job also runs on the
 * simulation and the two must agree byte for byte.
 *
 * Outputs are checked against a double-precision reference written here
 * (repeat-KV attention for grouped-query heads, RoPE from cos/sin of the
 * exact angles), and the KV layouts against the packed one bit for bit.
 */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "libspatten.h"
#include "lib_tap.h"

enum layout { PACKED, HEAD_CAPACITY, TOKEN_MAJOR, PAGED };

struct j3case {
	uint32_t H, Hkv, D, q_rows, kv_rows, q_start;
	int generation, causal;
	enum layout layout;
	uint32_t rope_base;
	int positions;		/* a position list: slot + pos_shift */
	uint32_t pos_shift;
	float score_scale;
	uint8_t kv_fmt;		/* S16 or S8 */
	uint32_t value_keep;
	uint64_t seed;
	int head_fracs;		/* a table of fractions per head: 1 a
				 * pattern, 2 the constants */
};

struct j3run {
	struct spatten_bo *q, *k, *v, *out, *table, *pos, *fracs;
	int16_t *qd, *kd, *vd;	/* logical [H][q][D], [Hkv][kv][D] */
	int16_t *outd;
	uint32_t *tbl, n_blocks, *posd;
	struct spatten_attn_desc d;
	struct spatten_attn_ext e;
	struct spatten_result res;
	int ret;
};

#define QF	10
#define KF	10
#define VF	10
#define OF	10

/*
 * Fractional bits of head h (query) or g (KV head): the constants, or
 * with a table of fractions per head a different pattern per head.
 */
static int qf_of(const struct j3case *c, uint32_t h)
{
	return c->head_fracs == 1 ? 8 + (int)(h % 3) : QF;
}

static int of_of(const struct j3case *c, uint32_t h)
{
	return c->head_fracs == 1 ? 9 + (int)(h % 2) : OF;
}

static int kf_of(const struct j3case *c, uint32_t g)
{
	return c->head_fracs == 1 ? 11 - (int)(g % 2) : KF;
}

static int vf_of(const struct j3case *c, uint32_t g)
{
	return c->head_fracs == 1 ? 8 + (int)(g % 3) : VF;
}
#define PAGE_ROWS	16

static uint64_t rng(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static int16_t rnd16(uint64_t *s, int amp)
{
	return (int16_t)((int)(rng(s) % (2 * (uint64_t)amp + 1)) - amp);
}

static struct spatten_dev *dev_main;

/* A buffer of @bytes (at least a page), zeroed. */
static struct spatten_bo *bo_new(struct spatten_dev *dev, size_t bytes)
{
	struct spatten_bo *bo = NULL;

	if (spatten_bo_alloc(dev, bytes ? bytes : 1, &bo))
		return NULL;
	memset(spatten_bo_map(bo), 0, spatten_bo_size(bo));
	return bo;
}

/* Row index of (KV head g, slot r) in the buffer, and the layout fields. */
static uint64_t kv_row(const struct j3case *c, const struct j3run *r,
		       uint32_t g, uint32_t slot)
{
	switch (c->layout) {
	case HEAD_CAPACITY:
		return (uint64_t)g * (c->kv_rows + 37) + slot;
	case TOKEN_MAJOR:
		return (uint64_t)slot * c->Hkv + g;
	case PAGED:
		return ((uint64_t)r->tbl[slot / PAGE_ROWS] * PAGE_ROWS +
			slot % PAGE_ROWS) * c->Hkv + g;
	default:
		return (uint64_t)g * c->kv_rows + slot;
	}
}

static uint64_t kv_buffer_rows(const struct j3case *c, const struct j3run *r)
{
	switch (c->layout) {
	case HEAD_CAPACITY:
		return (uint64_t)c->Hkv * (c->kv_rows + 37);
	case TOKEN_MAJOR:
		return (uint64_t)(c->kv_rows + 5) * c->Hkv;
	case PAGED:
		return (uint64_t)(r->n_blocks + 3) * PAGE_ROWS * c->Hkv;
	default:
		return (uint64_t)c->Hkv * c->kv_rows;
	}
}

static void set_layout(const struct j3case *c, struct j3run *r)
{
	struct spatten_attn_ext *e = &r->e;

	switch (c->layout) {
	case HEAD_CAPACITY:
		e->kv_head_stride = c->kv_rows + 37;
		e->kv_row_stride = 1;
		break;
	case TOKEN_MAJOR:
		e->kv_head_stride = 1;
		e->kv_row_stride = c->Hkv;
		break;
	case PAGED:
		e->kv_head_stride = 1;
		e->kv_row_stride = c->Hkv;
		e->kv_block_stride = PAGE_ROWS * c->Hkv;
		e->kv_block_rows = PAGE_ROWS;
		e->block_table = (struct spatten_tensor_ref){ r->table, 0 };
		break;
	default:
		break;
	}
}

/* The logical operands, the same for every layout of one seed. */
static int make_data(const struct j3case *c, struct j3run *r)
{
	size_t nq = (size_t)c->H * c->q_rows * c->D;
	size_t nkv = (size_t)c->Hkv * c->kv_rows * c->D, i;
	uint64_t s = c->seed | 1;
	int kv_amp = c->kv_fmt == SPATTEN_FMT_S8 ? 127 : 1500;

	r->qd = malloc(nq * 2);
	r->kd = malloc(nkv * 2);
	r->vd = malloc(nkv * 2);
	r->outd = malloc(nq * 2);
	if (!r->qd || !r->kd || !r->vd || !r->outd)
		return -ENOMEM;
	for (i = 0; i < nq; i++)
		r->qd[i] = rnd16(&s, 1500);
	for (i = 0; i < nkv; i++)
		r->kd[i] = rnd16(&s, kv_amp);
	for (i = 0; i < nkv; i++)
		r->vd[i] = rnd16(&s, kv_amp);
	return 0;
}

/* A random block table: distinct blocks of a pool 3 blocks larger. */
static int make_table(const struct j3case *c, struct j3run *r)
{
	uint32_t pool, i, j, t;
	uint64_t s = c->seed * 7 + 3;

	r->n_blocks = (c->kv_rows + PAGE_ROWS - 1) / PAGE_ROWS;
	pool = r->n_blocks + 3;
	r->tbl = malloc(pool * sizeof(*r->tbl));
	if (!r->tbl)
		return -ENOMEM;
	for (i = 0; i < pool; i++)
		r->tbl[i] = i;
	for (i = pool - 1; i > 0; i--) {
		j = (uint32_t)(rng(&s) % (i + 1));
		t = r->tbl[i];
		r->tbl[i] = r->tbl[j];
		r->tbl[j] = t;
	}
	return 0;
}

/* Store a row of D elements in the format of the K/V planes. */
static void put_row(uint8_t *base, uint64_t row, uint32_t D, uint8_t fmt,
		    const int16_t *src)
{
	uint32_t x;

	if (fmt == SPATTEN_FMT_S8) {
		for (x = 0; x < D; x++)
			base[row * D + x] = (uint8_t)(int8_t)src[x];
		return;
	}
	for (x = 0; x < D; x++) {
		base[(row * D + x) * 2] = (uint8_t)src[x];
		base[(row * D + x) * 2 + 1] = (uint8_t)((uint16_t)src[x] >> 8);
	}
}

static int fill_buffers(struct spatten_dev *dev, const struct j3case *c,
			struct j3run *r)
{
	uint32_t eb = c->kv_fmt == SPATTEN_FMT_S8 ? 1 : 2, g, slot, i;
	size_t nq = (size_t)c->H * c->q_rows * c->D;
	uint64_t kvb = kv_buffer_rows(c, r) * c->D * eb;
	uint8_t *kb, *vb;

	r->q = bo_new(dev, nq * 2);
	r->out = bo_new(dev, nq * 2);
	r->k = bo_new(dev, kvb);
	r->v = bo_new(dev, kvb);
	if (!r->q || !r->out || !r->k || !r->v)
		return -ENOMEM;
	memcpy(spatten_bo_map(r->q), r->qd, nq * 2);	/* x86: LE */
	kb = spatten_bo_map(r->k);
	vb = spatten_bo_map(r->v);
	for (g = 0; g < c->Hkv; g++)
		for (slot = 0; slot < c->kv_rows; slot++) {
			size_t at = ((size_t)g * c->kv_rows + slot) * c->D;
			uint64_t row = kv_row(c, r, g, slot);

			put_row(kb, row, c->D, c->kv_fmt, r->kd + at);
			put_row(vb, row, c->D, c->kv_fmt, r->vd + at);
		}
	if (c->layout == PAGED) {
		r->table = bo_new(dev, r->n_blocks * 4);
		if (!r->table)
			return -ENOMEM;
		memcpy(spatten_bo_map(r->table), r->tbl, r->n_blocks * 4);
	}
	if (c->head_fracs) {
		uint8_t *f;
		uint32_t qh, kvh;

		r->fracs = bo_new(dev, 2 * (c->H + c->Hkv));
		if (!r->fracs)
			return -ENOMEM;
		f = spatten_bo_map(r->fracs);
		for (qh = 0; qh < c->H; qh++) {
			f[qh] = (uint8_t)qf_of(c, qh);
			f[c->H + qh] = (uint8_t)of_of(c, qh);
		}
		for (kvh = 0; kvh < c->Hkv; kvh++) {
			f[2 * c->H + kvh] = (uint8_t)kf_of(c, kvh);
			f[2 * c->H + c->Hkv + kvh] = (uint8_t)vf_of(c, kvh);
		}
	}
	if (c->positions) {
		r->posd = malloc(c->kv_rows * sizeof(*r->posd));
		r->pos = bo_new(dev, c->kv_rows * 4);
		if (!r->posd || !r->pos)
			return -ENOMEM;
		for (i = 0; i < c->kv_rows; i++)
			r->posd[i] = i + c->pos_shift;
		memcpy(spatten_bo_map(r->pos), r->posd, c->kv_rows * 4);
	}
	return 0;
}

static void make_desc(const struct j3case *c, struct j3run *r)
{
	struct spatten_attn_desc *d = &r->d;

	memset(d, 0, sizeof(*d));
	memset(&r->e, 0, sizeof(r->e));
	d->n_heads = c->H;
	d->head_dim = c->D;
	d->q_rows = c->q_rows;
	d->kv_rows = c->kv_rows;
	d->q_start = c->q_start;
	d->stage = c->generation ? SPATTEN_STAGE_GENERATION :
				   SPATTEN_STAGE_SUMMARIZATION;
	d->flags = (c->causal ? SPATTEN_ATTN_CAUSAL : 0) |
		   (c->rope_base ? SPATTEN_ATTN_ROPE : 0) |
		   (c->positions ? SPATTEN_ATTN_ROPE_POSITIONS : 0);
	d->q_frac = c->head_fracs ? 0 : QF;
	d->k_frac = c->head_fracs ? 0 : KF;
	d->v_frac = c->head_fracs ? 0 : VF;
	d->out_frac = c->head_fracs ? 0 : OF;
	if (c->head_fracs) {
		d->flags |= SPATTEN_ATTN_HEAD_FRACS;
		r->e.head_fracs = (struct spatten_tensor_ref){ r->fracs, 0 };
	}
	d->k_fmt = c->kv_fmt;
	d->v_fmt = c->kv_fmt;
	d->value_keep = c->value_keep;
	d->q = (struct spatten_tensor_ref){ r->q, 0 };
	d->k = (struct spatten_tensor_ref){ r->k, 0 };
	d->v = (struct spatten_tensor_ref){ r->v, 0 };
	d->out = (struct spatten_tensor_ref){ r->out, 0 };
	r->e.n_kv_heads = c->Hkv;
	r->e.rope_base = c->rope_base;
	r->e.score_scale = c->score_scale;
	if (c->positions)
		r->e.positions = (struct spatten_tensor_ref){ r->pos, 0 };
	set_layout(c, r);
}

static void run_free(struct j3run *r)
{
	spatten_bo_free(r->q);
	spatten_bo_free(r->k);
	spatten_bo_free(r->v);
	spatten_bo_free(r->out);
	spatten_bo_free(r->table);
	spatten_bo_free(r->pos);
	spatten_bo_free(r->fracs);
	free(r->qd);
	free(r->kd);
	free(r->vd);
	free(r->outd);
	free(r->tbl);
	free(r->posd);
	memset(r, 0, sizeof(*r));
}

/* Build and run case @c on @dev; r->ret is spatten_run3()'s return. */
static int run_case(struct spatten_dev *dev, const struct j3case *c,
		    struct j3run *r)
{
	struct spatten_job3 job;
	int ret;

	memset(r, 0, sizeof(*r));
	ret = make_data(c, r);
	if (!ret && c->layout == PAGED)
		ret = make_table(c, r);
	if (!ret)
		ret = fill_buffers(dev, c, r);
	if (ret)
		return ret;
	make_desc(c, r);
	ret = spatten_attn_prep3(&job, &r->d, &r->e);
	if (ret)
		return ret;
	r->ret = spatten_run3(dev, &job, &r->res);
	memcpy(r->outd, spatten_bo_map(r->out),
	       (size_t)c->H * c->q_rows * c->D * 2);
	return 0;
}

/* ---- The reference ------------------------------------------------------ */

static void rope_double(double *x, uint32_t D, uint32_t base, double pos)
{
	uint32_t i, half = D / 2;

	for (i = 0; i < half; i++) {
		double a = pos * pow((double)base, -2.0 * i / D);
		double x0 = x[i], x1 = x[i + half];

		x[i] = x0 * cos(a) - x1 * sin(a);
		x[i + half] = x1 * cos(a) + x0 * sin(a);
	}
}

/*
 * Largest |engine - reference| over the output, in real units, of repeat-
 * KV attention in double; *@max_v receives max |V| (real).
 */
static double ref_error(const struct j3case *c, const struct j3run *r,
			double *max_v)
{
	uint32_t D = c->D, group = c->H / c->Hkv, h, i, j, x;
	double scale = c->score_scale ? c->score_scale : 1.0 / sqrt(D);
	double *q = malloc(D * sizeof(double)), *k = malloc(D * sizeof(double));
	double *p = malloc(c->kv_rows * sizeof(double)), worst = 0;
	double *acc = malloc(D * sizeof(double));
	size_t n;

	*max_v = 0;
	for (n = 0; n < (size_t)c->Hkv * c->kv_rows * D; n++) {
		double a = fabs(ldexp(r->vd[n], -vf_of(c, (uint32_t)(n /
				((size_t)c->kv_rows * D)))));

		if (a > *max_v)
			*max_v = a;
	}
	for (h = 0; h < c->H; h++) {
		uint32_t g = h / group;

		for (i = 0; i < c->q_rows; i++) {
			uint32_t slot = c->q_start + i;
			uint32_t vis = c->causal ? slot + 1 : c->kv_rows;
			double m = -INFINITY, sum = 0;

			for (x = 0; x < D; x++)
				q[x] = ldexp(r->qd[((size_t)h * c->q_rows + i) *
						    D + x], -qf_of(c, h));
			if (c->rope_base)
				rope_double(q, D, c->rope_base,
					    (double)slot + (c->positions ?
							    c->pos_shift : 0));
			for (j = 0; j < vis; j++) {
				const int16_t *kr = r->kd +
					((size_t)g * c->kv_rows + j) * D;
				double s = 0;

				for (x = 0; x < D; x++)
					k[x] = ldexp(kr[x], -kf_of(c, g));
				if (c->rope_base)
					rope_double(k, D, c->rope_base,
						    (double)j + (c->positions ?
								 c->pos_shift : 0));
				for (x = 0; x < D; x++)
					s += q[x] * k[x];
				p[j] = s * scale;
				if (p[j] > m)
					m = p[j];
			}
			for (j = 0; j < vis; j++)
				sum += (p[j] = exp(p[j] - m));
			memset(acc, 0, D * sizeof(double));
			for (j = 0; j < vis; j++) {
				const int16_t *vr = r->vd +
					((size_t)g * c->kv_rows + j) * D;

				for (x = 0; x < D; x++)
					acc[x] += p[j] / sum *
						  ldexp(vr[x], -vf_of(c, g));
			}
			for (x = 0; x < D; x++) {
				double got = ldexp(r->outd[((size_t)h *
							    c->q_rows + i) * D +
							   x], -of_of(c, h));

				if (fabs(got - acc[x]) > worst)
					worst = fabs(got - acc[x]);
			}
		}
	}
	free(q);
	free(k);
	free(p);
	free(acc);
	return worst;
}

/*
 * The engine's bound (docs/engine.md: probability quantisation and float
 * softmax per visible key, half an output LSB), plus, with RoPE, the
 * rotation's rounding: each rotated element within 1.5 LSB, so a score
 * moves by at most @dscore and each probability by a factor e^(2 dscore).
 */
static double bound(const struct j3case *c, double max_v)
{
	double b = (c->kv_rows * (1.0 / 65536 + 4e-7) + 1e-6) * max_v +
		   0.5 / (1 << (c->head_fracs == 1 ? 9 : OF));

	if (c->rope_base) {
		double scale = c->score_scale ? c->score_scale :
			       1.0 / sqrt(c->D);
		double dscore = scale * c->D * 1.5 *
				(1500.0 / (1 << QF) / (1 << KF) +
				 1500.0 / (1 << KF) / (1 << QF));

		b += max_v * (exp(2 * dscore) - 1);
	}
	return b;
}

/* ---- Tests ----------------------------------------------------------------- */

static struct spatten_dev *sim_dev;

/* On the board: the same case on the simulation gives the same bytes. */
static void check_sim_agrees(const struct j3case *c, const struct j3run *r)
{
	struct j3run s;

	if (spatten_backend(dev_main) == SPATTEN_BACKEND_SIM || !sim_dev)
		return;
	CHECK_EQ(run_case(sim_dev, c, &s), 0);
	CHECK_EQ(s.ret, r->ret);
	CHECK_EQ(s.res.status, r->res.status);
	CHECK_EQ(s.res.cycles, r->res.cycles);
	CHECK_EQ(s.res.bytes_k_msb, r->res.bytes_k_msb);
	CHECK_EQ(s.res.bytes_v, r->res.bytes_v);
	CHECK(!memcmp(s.outd, r->outd, (size_t)c->H * c->q_rows * c->D * 2));
	run_free(&s);
}

/* Run @c, check it against the reference and (on a board) the sim. */
static void check_case(const struct j3case *c, const char *what)
{
	struct j3run r;
	double err, max_v;

	CHECK_EQ(run_case(dev_main, c, &r), 0);
	CHECK_EQ(r.ret, 0);
	CHECK_EQ(r.res.status, SPATTEN_HW_OK);
	if (!r.ret) {
		err = ref_error(c, &r, &max_v);
		printf("# %s: max error %.3g of bound %.3g\n", what, err,
		       bound(c, max_v));
		CHECK(err <= bound(c, max_v));
		/* K and V of each KV head once, whatever its query heads */
		if (!c->value_keep && c->kv_fmt == SPATTEN_FMT_S16)
			CHECK_EQ(r.res.bytes_k_msb,
				 (uint64_t)c->Hkv * c->kv_rows * c->D * 2);
	}
	check_sim_agrees(c, &r);
	run_free(&r);
}

static void gqa_matches_repeat_kv_reference(void)
{
	struct j3case c = { .H = 8, .Hkv = 2, .D = 128, .q_rows = 40,
			    .kv_rows = 40, .causal = 1, .seed = 11 };

	check_case(&c, "GQA 8/2 causal summarization");
	c = (struct j3case){ .H = 32, .Hkv = 8, .D = 128, .q_rows = 1,
			     .kv_rows = 300, .q_start = 299, .generation = 1,
			     .causal = 1, .seed = 12 };
	check_case(&c, "GQA 32/8 generation step");
	c = (struct j3case){ .H = 4, .Hkv = 1, .D = 64, .q_rows = 24,
			     .kv_rows = 50, .seed = 13 };
	check_case(&c, "MQA 4/1 encoder");
	c.score_scale = 0.05f;
	check_case(&c, "MQA 4/1 encoder, score scale 0.05");
}

/* Every layout gives the packed layout's bytes, statistics and cycles. */
static void layouts_give_the_packed_bits(void)
{
	static const enum layout lay[] = { HEAD_CAPACITY, TOKEN_MAJOR, PAGED };
	static const uint8_t fmts[] = { SPATTEN_FMT_S16, SPATTEN_FMT_S8 };
	struct j3case c = { .H = 8, .Hkv = 4, .D = 64, .q_rows = 1,
			    .kv_rows = 77, .q_start = 76, .generation = 1,
			    .causal = 1, .seed = 21 };
	struct j3run ref, r;
	unsigned int i, f;

	for (f = 0; f < 2; f++) {
		c.kv_fmt = fmts[f];
		c.layout = PACKED;
		CHECK_EQ(run_case(dev_main, &c, &ref), 0);
		CHECK_EQ(ref.ret, 0);
		for (i = 0; i < 3; i++) {
			c.layout = lay[i];
			CHECK_EQ(run_case(dev_main, &c, &r), 0);
			CHECK_EQ(r.ret, 0);
			CHECK(!memcmp(r.outd, ref.outd,
				      (size_t)c.H * c.D * 2));
			/* the block table is read too: its bytes, no more */
			if (c.layout == PAGED)
				CHECK(r.res.cycles >= ref.res.cycles &&
				      r.res.cycles <= ref.res.cycles + 1 +
				      r.n_blocks * 4 / 512);
			else
				CHECK_EQ(r.res.cycles, ref.res.cycles);
			CHECK_EQ(r.res.bytes_k_msb, ref.res.bytes_k_msb);
			check_sim_agrees(&c, &r);
			run_free(&r);
		}
		run_free(&ref);
	}
}

static void rope_matches_float_reference(void)
{
	struct j3case c = { .H = 4, .Hkv = 2, .D = 64, .q_rows = 32,
			    .kv_rows = 32, .causal = 1, .rope_base = 10000,
			    .seed = 31 };
	struct j3run a, b;

	check_case(&c, "RoPE base 10000, slot positions");
	c.rope_base = 500000;
	c.layout = PAGED;
	check_case(&c, "RoPE base 500000, paged");
	/* A position list equal to the slots is the slots, bit for bit. */
	c.layout = PACKED;
	CHECK_EQ(run_case(dev_main, &c, &a), 0);
	c.positions = 1;
	CHECK_EQ(run_case(dev_main, &c, &b), 0);
	CHECK(a.ret == 0 && b.ret == 0 &&
	      !memcmp(a.outd, b.outd, (size_t)c.H * c.q_rows * c.D * 2));
	run_free(&a);
	run_free(&b);
	/* Shifted positions (a cache that evicted 1000 tokens before). */
	c.pos_shift = 1000;
	check_case(&c, "RoPE with a position list (shift 1000)");
}

static void value_pruning_with_groups_runs(void)
{
	struct j3case c = { .H = 8, .Hkv = 2, .D = 64, .q_rows = 1,
			    .kv_rows = 200, .q_start = 199, .generation = 1,
			    .causal = 1, .value_keep = 200, .seed = 41 };
	struct j3run r;

	/* value_keep = every row: the dense result through the V engine */
	check_case(&c, "value pruning keeping every row");
	c.value_keep = 20;
	CHECK_EQ(run_case(dev_main, &c, &r), 0);
	CHECK_EQ(r.ret, 0);
	CHECK(r.res.bytes_v < (uint64_t)c.Hkv * c.kv_rows * c.D * 2);
	check_sim_agrees(&c, &r);
	run_free(&r);
}

/* A decode step at the longest context the board takes (128K on the sim). */
static void long_context_decode_step(void)
{
	struct spatten_info info;
	struct j3case c = { .H = 32, .Hkv = 8, .D = 128, .q_rows = 1,
			    .generation = 1, .causal = 1,
			    .kv_fmt = SPATTEN_FMT_S8, .seed = 51 };

	CHECK_EQ(spatten_get_info(dev_main, &info), 0);
	if (spatten_backend(dev_main) == SPATTEN_BACKEND_SIM) {
		c.kv_rows = 131072;
	} else if (getenv("spatten_demo") &&
		   !strcmp(getenv("spatten_demo"), "skip")) {
		/* minutes of TCG: make check's first boot runs it (as the demo) */
		cur_skip = "the first boot of make check runs it";
		return;
	} else {
		/* the guest's memory and TCG's speed: 32K, 8 query heads */
		c.kv_rows = 32768;
		c.H = 8;
		c.Hkv = 2;
	}
	if (info.max_context < c.kv_rows) {
		cur_skip = "the board's context is shorter";
		return;
	}
	c.q_start = c.kv_rows - 1;
	check_case(&c, c.kv_rows == 131072 ? "decode at 131072 tokens" :
					     "decode at 32768 tokens");
}

static void prep3_rejects_bad_fields(void)
{
	struct j3case c = { .H = 8, .Hkv = 2, .D = 64, .q_rows = 1,
			    .kv_rows = 33, .q_start = 32, .generation = 1,
			    .causal = 1, .layout = PAGED, .seed = 61 };
	struct spatten_job3 job;
	struct j3run r;

#define BAD(err, stmt) do { \
	struct spatten_attn_desc d_ = r.d; \
	struct spatten_attn_ext e_ = r.e; \
	(void)d_; \
	stmt; \
	CHECK_EQ(spatten_attn_prep3(&job, &d_, &e_), err); \
} while (0)

	CHECK_EQ(run_case(dev_main, &c, &r), 0);
	CHECK_EQ(r.ret, 0);
	CHECK_EQ(spatten_attn_prep3(&job, &r.d, &r.e), 0);
	CHECK_EQ(job.job.version, SPATTEN_DESC_VERSION_V3);
	CHECK_EQ(job.kv_rows32, 33);
	CHECK_EQ(job.job.kv_rows, 0);
	BAD(-EINVAL, e_.n_kv_heads = 3);
	BAD(-EINVAL, e_.n_kv_heads = 16);
	BAD(-EINVAL, e_.kv_row_stride = 0);
	BAD(-EINVAL, e_.kv_block_rows = 12);
	BAD(-EINVAL, e_.kv_block_stride = 0);
	BAD(-EINVAL, e_.block_table.bo = NULL);
	BAD(-EINVAL, e_.rope_base = 10000);		/* without ROPE */
	BAD(-EINVAL, d_.flags |= SPATTEN_ATTN_ROPE);	/* base 0 */
	BAD(-EINVAL, d_.flags |= SPATTEN_ATTN_ROPE_POSITIONS);
	BAD(-EINVAL, e_.score_scale = -1.0f);
	BAD(-EINVAL, e_.score_scale = INFINITY);
	BAD(-EINVAL, e_.score_scale = 1e-40f);	/* subnormal */
	BAD(-EINVAL, e_.rsvd0 = 1);
	BAD(-EINVAL, e_.rsvd[1] = 1);
	BAD(-EINVAL, d_.flags = 1u << 7);
	BAD(-EINVAL, d_.q_start = 31);		/* generation: the last slot */
	BAD(-ERANGE, e_.kv_head_stride = 1u << 20);	/* K too short */
	BAD(-EINVAL, d_.n_head_alive = 70000);
	CHECK_EQ(spatten_attn_prep3(NULL, &r.d, &r.e), -EINVAL);
	CHECK_EQ(spatten_attn_prep3(&job, NULL, &r.e), -EINVAL);
	CHECK_EQ(spatten_attn_prep3(&job, &r.d, NULL), -ERANGE);	/* packed K */
	run_free(&r);
#undef BAD
}

/*
 * Chunked generation (SPATTEN_FEAT_CHUNKS): several new tokens at the
 * last slots, causal, against the reference; with no token pruning the
 * chunk is the causal summarization of the same rows, bit for bit.
 * prep3 refuses a chunk that does not end the slots or is not causal.
 */
static void chunks_match_reference_and_summarization(void)
{
	struct j3case c = { .H = 8, .Hkv = 2, .D = 64, .q_rows = 24,
			    .kv_rows = 200, .q_start = 176, .generation = 1,
			    .causal = 1, .layout = PAGED, .rope_base = 10000,
			    .seed = 91 };
	struct spatten_info info;
	struct spatten_job3 job;
	struct j3run r, sum;

	CHECK_EQ(spatten_get_info(dev_main, &info), 0);
	if (!(info.features & SPATTEN_FEAT_CHUNKS)) {
		printf("# no CHUNKS: chunked generation not run\n");
		return;
	}
	check_case(&c, "GQA 8/2 chunk of 24 at 176, paged, RoPE");
	c.generation = 0;
	CHECK_EQ(run_case(dev_main, &c, &sum), 0);
	c.generation = 1;
	CHECK_EQ(run_case(dev_main, &c, &r), 0);
	CHECK_EQ(r.ret, 0);
	CHECK_EQ(sum.ret, 0);
	CHECK(!memcmp(r.outd, sum.outd, (size_t)c.H * c.q_rows * c.D * 2));
	CHECK_EQ(r.res.cycles, sum.res.cycles);

#define BAD(stmt) do { \
	struct spatten_attn_desc d_ = r.d; \
	stmt; \
	CHECK_EQ(spatten_attn_prep3(&job, &d_, &r.e), -EINVAL); \
} while (0)
	CHECK_EQ(spatten_attn_prep3(&job, &r.d, &r.e), 0);
	CHECK_EQ(job.q_rows32, 24);
	BAD(d_.q_start = 175);			/* ends at slot 198 */
	BAD(d_.kv_rows = 199);			/* ends past the slots */
	run_free(&r);
	run_free(&sum);

	c = (struct j3case){ .H = 4, .Hkv = 4, .D = 32, .q_rows = 16,
			     .kv_rows = 16, .generation = 1, .causal = 1,
			     .seed = 92 };
	check_case(&c, "first chunk: 16 of 16, MHA");
	CHECK_EQ(run_case(dev_main, &c, &r), 0);
	BAD(d_.flags &= ~SPATTEN_ATTN_CAUSAL);	/* a chunk is causal */
	run_free(&r);
#undef BAD
}

/* Token importance per KV head: the flag until libspatten.h names it. */
#ifdef SPATTEN_ATTN_IMP_PER_KV_HEAD
#define ATTN_IMP_KV	SPATTEN_ATTN_IMP_PER_KV_HEAD
#else
#define ATTN_IMP_KV	(1u << 5)
#endif

/*
 * Reference token importance of KV head @g: sum over its query heads and
 * every row of p * 2^15 (no RoPE, the job's fractions); @imp [kv_rows].
 */
static void imp_ref(const struct j3case *c, const struct j3run *r,
		    uint32_t g, double *imp)
{
	uint32_t D = c->D, group = c->H / c->Hkv, h, i, j, x;
	double scale = 1.0 / sqrt(D), *p = malloc(c->kv_rows * sizeof(*p));

	memset(imp, 0, c->kv_rows * sizeof(*imp));
	for (h = g * group; p && h < (g + 1) * group; h++)
		for (i = 0; i < c->q_rows; i++) {
			uint32_t vis = c->causal ? c->q_start + i + 1 :
						   c->kv_rows;
			const int16_t *q = r->qd + ((size_t)h * c->q_rows + i) *
						   D;
			double m = -INFINITY, sum = 0;

			for (j = 0; j < vis; j++) {
				const int16_t *k = r->kd +
					((size_t)g * c->kv_rows + j) * D;
				double sc = 0;

				for (x = 0; x < D; x++)
					sc += ldexp(q[x], -QF) * ldexp(k[x], -KF);
				p[j] = sc * scale;
				if (p[j] > m)
					m = p[j];
			}
			for (j = 0; j < vis; j++)
				sum += (p[j] = exp(p[j] - m));
			for (j = 0; j < vis; j++)
				imp[j] += p[j] / sum * 32768;
		}
	free(p);
}

/*
 * Build @c with a tok_imp of @imp_bo at @off and @flags added, prep3 and
 * (if that passed) run; prep3's return.
 */
static int run_with_imp(const struct j3case *c, struct j3run *r,
			struct spatten_bo *imp_bo, uint64_t off,
			uint32_t flags, uint32_t token_keep)
{
	struct spatten_job3 job;
	int ret;

	make_desc(c, r);
	r->d.flags |= flags;
	r->d.tok_imp = (struct spatten_tensor_ref){ imp_bo, off };
	r->d.token_keep = token_keep;
	ret = spatten_attn_prep3(&job, &r->d, &r->e);
	if (ret)
		return ret;
	r->ret = spatten_run3(dev_main, &job, &r->res);
	memcpy(r->outd, spatten_bo_map(r->out),
	       (size_t)c->H * c->q_rows * c->D * 2);
	return 0;
}

/*
 * Token importance per KV head (SPATTEN_FEAT_IMP_PER_KV_HEAD): each KV
 * head's row is its group's sum against the reference; the rows add up
 * to the shared array of the same job bit for bit, with the same output.
 * prep3 refuses the flag with token_keep, without tok_imp (-EINVAL) and
 * with a tok_imp of kv_rows x 8 bytes (-ERANGE).
 */
static void imp_per_kv_head_matches_reference(void)
{
	struct j3case c = { .H = 8, .Hkv = 2, .D = 32, .q_rows = 48,
			    .kv_rows = 48, .causal = 1, .seed = 95 };
	uint32_t L = c.kv_rows, g, j, bad = 0;
	struct spatten_bo *kv_bo, *sh_bo;
	struct spatten_job3 job, bad_job;
	struct spatten_info info;
	struct j3run r;
	uint64_t *kv_imp, *sh_imp;
	double ref[48];
	int16_t *out0;

	CHECK_EQ(spatten_get_info(dev_main, &info), 0);
	memset(&r, 0, sizeof(r));
	CHECK_EQ(make_data(&c, &r), 0);
	CHECK_EQ(fill_buffers(dev_main, &c, &r), 0);
	kv_bo = bo_new(dev_main, 8192);
	sh_bo = bo_new(dev_main, 8192);
	out0 = malloc((size_t)c.H * c.q_rows * c.D * 2);
	CHECK(kv_bo && sh_bo && out0);
	if (!kv_bo || !sh_bo || !out0)
		goto out;

	/* prep3's checks, whatever the board */
	CHECK_EQ(run_with_imp(&c, &r, kv_bo, 0, ATTN_IMP_KV, 8), -EINVAL);
	CHECK_EQ(run_with_imp(&c, &r, NULL, 0, ATTN_IMP_KV, 0), -EINVAL);
	CHECK_EQ(run_with_imp(&c, &r, kv_bo, 8192 - L * 8, ATTN_IMP_KV, 0),
		 -ERANGE);
	if (!(info.features & SPATTEN_FEAT_IMP_PER_KV_HEAD)) {
		printf("# no IMP_PER_KV_HEAD: per-KV-head importance not "
		       "run\n");
		goto out;
	}

	CHECK_EQ(run_with_imp(&c, &r, kv_bo, 0, ATTN_IMP_KV, 0), 0);
	CHECK_EQ(r.ret, 0);
	memcpy(out0, r.outd, (size_t)c.H * c.q_rows * c.D * 2);
	CHECK_EQ(run_with_imp(&c, &r, sh_bo, 0, 0, 0), 0);
	CHECK_EQ(r.ret, 0);
	CHECK(!memcmp(out0, r.outd, (size_t)c.H * c.q_rows * c.D * 2));
	kv_imp = spatten_bo_map(kv_bo);
	sh_imp = spatten_bo_map(sh_bo);
	for (j = 0; j < L; j++)
		bad += kv_imp[j] + kv_imp[L + j] != sh_imp[j];
	CHECK_EQ(bad, 0);
	for (g = 0; g < c.Hkv; g++) {
		imp_ref(&c, &r, g, ref);
		for (j = 0; j < L; j++) {
			/* each pq within 1/2 of p 2^15, plus float error */
			double tol = 4 * c.q_rows * 0.5 + ref[j] * 1e-5 + 1;

			bad += fabs((double)kv_imp[(size_t)g * L + j] -
				    ref[j]) > tol;
		}
	}
	CHECK_EQ(bad, 0);
	CHECK_EQ(kv_imp[2 * L], 0);	/* nothing past the two rows */

	/* the backend's own checks (driver or simulation): raw jobs */
	make_desc(&c, &r);
	r.d.flags |= ATTN_IMP_KV;
	r.d.tok_imp = (struct spatten_tensor_ref){ kv_bo, 0 };
	CHECK_EQ(spatten_attn_prep3(&job, &r.d, &r.e), 0);
	bad_job = job;
	bad_job.token_keep32 = 8;
	bad_job.job.tok_kept = bad_job.job.tok_imp;
	bad_job.job.tok_kept.offset = 4096;
	CHECK_EQ(spatten_run3(dev_main, &bad_job, NULL), -EINVAL);
	bad_job = job;
	memset(&bad_job.job.tok_imp, 0, sizeof(bad_job.job.tok_imp));
	CHECK_EQ(spatten_run3(dev_main, &bad_job, NULL), -EINVAL);
	bad_job = job;
	bad_job.job.tok_imp.offset = 8192 - L * 8;
	CHECK_EQ(spatten_run3(dev_main, &bad_job, NULL), -ERANGE);
	CHECK_EQ(spatten_run3(dev_main, &job, NULL), 0);
out:
	spatten_bo_free(kv_bo);
	spatten_bo_free(sh_bo);
	free(out0);
	run_free(&r);
}

/* A block number whose block lies outside K: the device says ERR_BLOCK. */
static void block_outside_the_cache_fails_the_job(void)
{
	struct j3case c = { .H = 2, .Hkv = 1, .D = 64, .q_rows = 1,
			    .kv_rows = 40, .q_start = 39, .generation = 1,
			    .causal = 1, .layout = PAGED, .seed = 71 };
	struct spatten_job3 job;
	struct j3run r;
	uint32_t *t;

	CHECK_EQ(run_case(dev_main, &c, &r), 0);
	CHECK_EQ(r.ret, 0);
	t = spatten_bo_map(r.table);
	t[1] = r.n_blocks + 3;		/* one past the pool */
	memset(spatten_bo_map(r.out), 0x5a, spatten_bo_size(r.out));
	CHECK_EQ(spatten_attn_prep3(&job, &r.d, &r.e), 0);
	CHECK_EQ(spatten_run3(dev_main, &job, &r.res), -EIO);
	CHECK_EQ(r.res.status, SPATTEN_HW_ERR_BLOCK);
	CHECK_EQ(((uint8_t *)spatten_bo_map(r.out))[0], 0x5a);	/* untouched */
	run_free(&r);
}

/*
 * Fractional bits per head (SPATTEN_ATTN_HEAD_FRACS): a table holding the
 * job's own fractions gives the job's bits; a different scale per head
 * (Q, output per query head, K, V per KV head) matches the reference that
 * reads every head in its own units.
 */
static void head_fracs_per_head(void)
{
	struct j3case c = { .H = 8, .Hkv = 4, .D = 64, .q_rows = 24,
			    .kv_rows = 24, .causal = 1, .seed = 111 };
	struct j3run a, b;

	CHECK_EQ(run_case(dev_main, &c, &a), 0);
	c.head_fracs = 2;
	CHECK_EQ(run_case(dev_main, &c, &b), 0);
	CHECK(a.ret == 0 && b.ret == 0 &&
	      !memcmp(a.outd, b.outd, (size_t)c.H * c.q_rows * c.D * 2));
	/* the table's bytes are read too */
	CHECK(b.res.cycles >= a.res.cycles && b.res.cycles <= a.res.cycles + 1);
	check_sim_agrees(&c, &b);
	run_free(&a);
	run_free(&b);
	c.head_fracs = 1;
	check_case(&c, "GQA 8/4 with fractional bits per head");
	c.generation = 1;
	c.q_rows = 1;
	c.kv_rows = 90;
	c.q_start = 89;
	check_case(&c, "generation step, fractions per head");
	/* a fraction above 15 in the table: ERR_FORMAT, nothing written */
	CHECK_EQ(run_case(dev_main, &c, &a), 0);
	CHECK_EQ(a.ret, 0);
	{
		struct spatten_job3 job;
		uint8_t *f = spatten_bo_map(a.fracs);

		f[2 * c.H] = 16;
		memset(spatten_bo_map(a.out), 0x5a, spatten_bo_size(a.out));
		CHECK_EQ(spatten_attn_prep3(&job, &a.d, &a.e), 0);
		CHECK_EQ(spatten_run3(dev_main, &job, &a.res), -EIO);
		CHECK_EQ(a.res.status, SPATTEN_HW_ERR_FORMAT);
		CHECK_EQ(((uint8_t *)spatten_bo_map(a.out))[0], 0x5a);
		/* a table for which the score scale underflows: ERR_PARAM */
		f[2 * c.H] = 15;
		f[0] = 15;
		a.e.score_scale = 1e-30f;	/* 2^-100 x 2^-30 */
		CHECK_EQ(spatten_attn_prep3(&job, &a.d, &a.e), 0);
		CHECK_EQ(spatten_run3(dev_main, &job, &a.res), -EIO);
		CHECK_EQ(a.res.status, SPATTEN_HW_ERR_PARAM);
	}
	run_free(&a);
}

/* ---- Sessions with options (LLM shapes) ----------------------------------- */

static void fill_floats(float *x, size_t n, uint64_t seed)
{
	uint64_t st = seed | 1;
	size_t i;

	for (i = 0; i < n; i++)
		x[i] = (float)((int)(rng(&st) % 4001) - 2000) / 1000.0f;
}

static void session_opts_refused(void)
{
	struct spatten_session_opts o, bad;
	struct spatten_session *s = NULL;
	unsigned char big[sizeof(o) + 16];

#define OPT_ERR(err, stmt) do { \
	bad = o; \
	stmt; \
	CHECK_EQ(spatten_session_open(dev_main, &bad, &s), err); \
	CHECK(s == NULL); \
} while (0)
	spatten_session_opts_init(&o, SPATTEN_SESSION_DECODER, 2, 8, 2, 64,
				  256);
	CHECK_EQ(o.size, sizeof(o));
	CHECK_EQ(spatten_session_open(dev_main, &o, &s), 0);
	spatten_session_destroy(s);
	s = NULL;
	OPT_ERR(-EINVAL, bad.kind = 0);
	OPT_ERR(-EINVAL, bad.kind = 3);
	OPT_ERR(-EINVAL, bad.n_kv_heads = 3);
	OPT_ERR(-EINVAL, bad.n_kv_heads = 0);
	OPT_ERR(-EINVAL, bad.n_kv_heads = 16);
	OPT_ERR(-EINVAL, bad.flags = 1u << 0);	/* the kind says causal */
	OPT_ERR(-EINVAL, bad.score_scale = -1.0f);
	OPT_ERR(-EINVAL, bad.score_scale = INFINITY);
	OPT_ERR(-EINVAL, bad.score_scale = NAN);
	OPT_ERR(-EINVAL, bad.score_scale = 1e-40f);
	OPT_ERR(-EINVAL, bad.score_scale = 1e-35f);	/* 0 in score units */
	OPT_ERR(-EINVAL, bad.rope_base = 1);
	OPT_ERR(-EINVAL, bad.size = 8);
	OPT_ERR(-EINVAL, bad.size = sizeof(o) - 4);	/* 1.3's size is frozen */
	OPT_ERR(-EINVAL, bad.size = 8192);		/* at most 4096 */
	OPT_ERR(-EINVAL, bad.n_pinned = 65);
	OPT_ERR(-EOPNOTSUPP, bad.max_context = 1u << 29);
	/* a longer struct (a newer caller): zeros beyond are fine */
	memset(big, 0, sizeof(big));
	memcpy(big, &o, sizeof(o));
	((struct spatten_session_opts *)(void *)big)->size = sizeof(big);
	CHECK_EQ(spatten_session_open(dev_main, (void *)big, &s), 0);
	spatten_session_destroy(s);
	s = NULL;
	big[sizeof(o) + 3] = 1;
	CHECK_EQ(spatten_session_open(dev_main, (void *)big, &s), -E2BIG);
	CHECK_EQ(spatten_session_open(NULL, &o, &s), -EINVAL);
	CHECK_EQ(spatten_session_open(dev_main, NULL, &s), -EINVAL);
	CHECK_EQ(spatten_session_open(dev_main, &o, NULL), -EINVAL);
#undef OPT_ERR
}

/*
 * Run a prompt of @n tokens then @steps generation steps through every
 * layer of @s, K and V of @kvh heads taken from @k / @v (laid out for 8
 * query heads: KV head g of @kvh uses the rows of query head g * 8 / kvh),
 * outputs appended to @out.
 */
static int run_session(struct spatten_session *s, unsigned int layers,
		       unsigned int n, unsigned int steps, unsigned int kvh,
		       const float *q, const float *k, const float *v,
		       float *out)
{
	const unsigned int H = 8, D = 64, T = n + steps;
	unsigned int t0, len, l, h, g;
	float *qb = malloc((size_t)H * n * D * sizeof(float));
	float *kb = malloc((size_t)H * n * D * sizeof(float));
	float *vb = malloc((size_t)H * n * D * sizeof(float));
	float *ob = malloc((size_t)H * n * D * sizeof(float));
	int ret = -ENOMEM;

	if (!qb || !kb || !vb || !ob)
		goto out;
	for (t0 = 0; t0 < T; t0 += len) {
		len = t0 ? 1 : n;
		for (l = 0; l < layers; l++) {
			for (h = 0; h < H; h++) {
				size_t src = ((size_t)(l * H + h) * T + t0) * D;

				memcpy(qb + (size_t)h * len * D, q + src,
				       (size_t)len * D * sizeof(float));
			}
			for (g = 0; g < kvh; g++) {
				size_t src = ((size_t)(l * H + g * H / kvh) * T +
					      t0) * D;

				memcpy(kb + (size_t)g * len * D, k + src,
				       (size_t)len * D * sizeof(float));
				memcpy(vb + (size_t)g * len * D, v + src,
				       (size_t)len * D * sizeof(float));
			}
			ret = spatten_session_layer(s, l, len, qb, kb, vb, ob);
			if (ret)
				goto out;
			memcpy(out, ob, (size_t)H * len * D * sizeof(float));
			out += (size_t)H * len * D;
		}
	}
	ret = 0;
out:
	free(qb);
	free(kb);
	free(vb);
	free(ob);
	return ret;
}

/*
 * A grouped-query session is repeat-KV: its outputs equal, bit for bit,
 * those of a session with 8 KV heads holding copies of the 2 (pruning on:
 * token importance, head and value pruning all see the same
 * probabilities), and it reads a quarter of the K bytes.
 */
static void gqa_session_is_repeat_kv(void)
{
	const unsigned int L = 2, H = 8, D = 64, n = 24, steps = 3;
	const unsigned int T = n + steps;
	size_t all = (size_t)L * H * T * D, outs = (size_t)L * H * T * D;
	float *q = malloc(all * 4), *k = malloc(all * 4), *v = malloc(all * 4);
	float *oa = calloc(outs, 4), *ob = calloc(outs, 4);
	struct spatten_layer_stats ta, tb;
	struct spatten_session *sa = NULL, *sb = NULL;
	struct spatten_session_opts o;
	unsigned int l, h, t;

	CHECK(q && k && v && oa && ob);
	if (!q || !k || !v || !oa || !ob)
		goto out;
	fill_floats(q, all, 71);
	fill_floats(k, all, 72);
	fill_floats(v, all, 73);
	/* the MHA session sees query head h's group's K and V */
	for (l = 0; l < L; l++)
		for (h = 0; h < H; h++)
			for (t = 0; t < T; t++) {
				size_t dst = ((size_t)(l * H + h) * T + t) * D;
				size_t src = ((size_t)(l * H + h / 4 * 4) * T +
					      t) * D;

				memcpy(k + dst, k + src, D * sizeof(float));
				memcpy(v + dst, v + src, D * sizeof(float));
			}
	spatten_session_opts_init(&o, SPATTEN_SESSION_DECODER, L, H, 2, D, 64);
	spatten_schedule_paper(&o.schedule, L, 0.6f, 0.6f, 0.75f, 0.75f,
			       0.5f);
	CHECK_EQ(spatten_session_open(dev_main, &o, &sa), 0);
	o.n_kv_heads = H;
	CHECK_EQ(spatten_session_open(dev_main, &o, &sb), 0);
	if (!sa || !sb)
		goto out;
	CHECK_EQ(run_session(sa, L, n, steps, 2, q, k, v, oa), 0);
	CHECK_EQ(run_session(sb, L, n, steps, H, q, k, v, ob), 0);
	CHECK(!memcmp(oa, ob, outs * sizeof(float)));
	for (l = 0; l < L; l++) {
		CHECK_EQ(spatten_session_layer_stats(sa, l, NULL, &ta), 0);
		CHECK_EQ(spatten_session_layer_stats(sb, l, NULL, &tb), 0);
		CHECK_EQ(ta.tokens_kept, tb.tokens_kept);
		CHECK_EQ(ta.heads_kept, tb.heads_kept);
		CHECK(ta.bytes_k_msb * 2 < tb.bytes_k_msb);
		printf("# layer %u: K bytes %llu (GQA 8/2) vs %llu (8/8)\n", l,
		       (unsigned long long)ta.bytes_k_msb,
		       (unsigned long long)tb.bytes_k_msb);
	}
out:
	spatten_session_destroy(sa);
	spatten_session_destroy(sb);
	free(q);
	free(k);
	free(v);
	free(oa);
	free(ob);
}

/*
 * The kind and the scale are explicit now: an ENCODER session is the
 * version-1.1 configuration without SPATTEN_SESSION_CAUSAL, a DECODER one
 * the default configuration, and the score scale 1/sqrt(D) written out is
 * the default, bit for bit; a different scale changes the output.
 */
static void session_kind_and_scale(void)
{
	const unsigned int H = 8, D = 64, n = 20;
	size_t all = (size_t)H * n * D;
	float *q = malloc(all * 4), *k = malloc(all * 4), *v = malloc(all * 4);
	float *o1 = malloc(all * 4), *o2 = malloc(all * 4);
	struct spatten_session_config cfg;
	struct spatten_session_opts o;
	struct spatten_session *s;
	unsigned int kind;

	CHECK(q && k && v && o1 && o2);
	if (!q || !k || !v || !o1 || !o2)
		goto out;
	fill_floats(q, all, 81);
	fill_floats(k, all, 82);
	fill_floats(v, all, 83);
	for (kind = SPATTEN_SESSION_ENCODER; kind <= SPATTEN_SESSION_DECODER;
	     kind++) {
		spatten_session_config_init(&cfg, 1, H, D, 32);
		if (kind == SPATTEN_SESSION_ENCODER)
			cfg.flags = 0;
		CHECK_EQ(spatten_session_create(dev_main, &cfg, &s), 0);
		CHECK_EQ(spatten_session_layer(s, 0, n, q, k, v, o1), 0);
		spatten_session_destroy(s);
		spatten_session_opts_init(&o, kind, 1, H, H, D, 32);
		o.flags = SPATTEN_SESSION_FIXED_SCALES;	/* as the config's */
		o.score_scale = 0.125f;		/* 1/sqrt(64) */
		CHECK_EQ(spatten_session_open(dev_main, &o, &s), 0);
		CHECK_EQ(spatten_session_layer(s, 0, n, q, k, v, o2), 0);
		spatten_session_destroy(s);
		CHECK(!memcmp(o1, o2, all * sizeof(float)));
		o.score_scale = 0.5f;
		CHECK_EQ(spatten_session_open(dev_main, &o, &s), 0);
		CHECK_EQ(spatten_session_layer(s, 0, n, q, k, v, o2), 0);
		spatten_session_destroy(s);
		CHECK(memcmp(o1, o2, all * sizeof(float)));
	}
out:
	free(q);
	free(k);
	free(v);
	free(o1);
	free(o2);
}

/*
 * A RoPE session (the board rotates by slot) against a double-precision
 * reference that rotates the quantised Q and K by their positions: prompt
 * then generation steps, every output within the bound of a RoPE job.
 */
static void rope_session_matches_reference(void)
{
	const unsigned int H = 4, G = 2, D = 64, n = 12, steps = 4;
	const unsigned int T = n + steps;
	size_t all = (size_t)H * T * D, i;
	float *q = malloc(all * 4), *k = malloc(all * 4), *v = malloc(all * 4);
	float *out = malloc(all * 4), *qb = malloc(all * 4), *kb = malloc(all * 4);
	float *vb = malloc(all * 4);
	struct spatten_session_opts o;
	struct spatten_session *s = NULL;
	double worst = 0, max_v = 0, tol;
	unsigned int t0, len, h, g, t, j, x;

	CHECK(q && k && v && out && qb && kb && vb);
	if (!q || !k || !v || !out || !qb || !kb || !vb)
		goto out;
	fill_floats(q, all, 91);
	fill_floats(k, all, 92);
	fill_floats(v, all, 93);
	spatten_session_opts_init(&o, SPATTEN_SESSION_DECODER, 1, H, G, D, 32);
	o.flags = SPATTEN_SESSION_FIXED_SCALES;	/* the reference's 2^11 */
	o.rope_base = 10000;
	CHECK_EQ(spatten_session_open(dev_main, &o, &s), 0);
	if (!s)
		goto out;
	/* inputs [head][token][D]; K and V for G heads */
	for (t0 = 0; t0 < T; t0 += len) {
		len = t0 ? 1 : n;
		for (h = 0; h < H; h++)
			memcpy(qb + (size_t)h * len * D,
			       q + ((size_t)h * T + t0) * D, len * D * 4);
		for (g = 0; g < G; g++) {
			memcpy(kb + (size_t)g * len * D,
			       k + ((size_t)g * T + t0) * D, len * D * 4);
			memcpy(vb + (size_t)g * len * D,
			       v + ((size_t)g * T + t0) * D, len * D * 4);
		}
		CHECK_EQ(spatten_session_layer(s, 0, len, qb, kb, vb, qb), 0);
		for (h = 0; h < H; h++)
			memcpy(out + ((size_t)h * T + t0) * D,
			       qb + (size_t)h * len * D, len * D * 4);
	}
	/* the reference, from the values quantised to 11 fractional bits */
	for (i = 0; i < all; i++)
		if (fabs(nearbyint(v[i] * 2048.0) / 2048.0) > max_v)
			max_v = fabs(nearbyint(v[i] * 2048.0) / 2048.0);
	for (h = 0; h < H; h++) {
		g = h / (H / G);
		for (t = 0; t < T; t++) {
			double qr[64], kr[64], p[32], acc[64], m = -INFINITY;
			double sum = 0;

			for (x = 0; x < D; x++)
				qr[x] = nearbyint(q[((size_t)h * T + t) * D + x] *
						  2048.0) / 2048.0;
			rope_double(qr, D, 10000, t);
			for (j = 0; j <= t; j++) {
				double sc = 0;

				for (x = 0; x < D; x++)
					kr[x] = nearbyint(k[((size_t)g * T + j) *
							    D + x] * 2048.0) /
						2048.0;
				rope_double(kr, D, 10000, j);
				for (x = 0; x < D; x++)
					sc += qr[x] * kr[x];
				p[j] = sc / 8.0;
				if (p[j] > m)
					m = p[j];
			}
			for (j = 0; j <= t; j++)
				sum += (p[j] = exp(p[j] - m));
			memset(acc, 0, sizeof(acc));
			for (j = 0; j <= t; j++)
				for (x = 0; x < D; x++)
					acc[x] += p[j] / sum *
						  nearbyint(v[((size_t)g * T + j) *
							      D + x] * 2048.0) /
						  2048.0;
			for (x = 0; x < D; x++) {
				double e = fabs(out[((size_t)h * T + t) * D + x] -
						acc[x]);

				if (e > worst)
					worst = e;
			}
		}
	}
	/* bound(): T keys, 11 fractional bits, |q|, |k| <= 2, RoPE term */
	tol = (T * (1.0 / 65536 + 4e-7) + 1e-6) * max_v + 0.5 / 2048 +
	      max_v * (exp(2 * 0.125 * D * 1.5 * (2.0 / 2048) * 2) - 1);
	printf("# RoPE session: max error %.3g of bound %.3g\n", worst, tol);
	CHECK(worst <= tol);
out:
	spatten_session_destroy(s);
	free(q);
	free(k);
	free(v);
	free(out);
	free(qb);
	free(kb);
	free(vb);
}

/*
 * The bounded cache against the policy written out here: before each step
 * that needs room, the cache must become the first kv_start tokens, the
 * kv_important of the middle with the largest importance (ties: the
 * older), the kv_recent newest, in order; then the new token. With token
 * and head pruning and progressive keys on, 2 layers, 60 steps over a
 * 24-slot cache.
 */
static void policy_run(int prune, int equal_prompt_keys)
{
	const unsigned int L = 2, H = 4, D = 64, C = 24, n = 10, steps = 60;
	uint32_t ids[24], want[24], mid[24];
	uint64_t imp[24];
	float q[4 * 10 * 64], k[4 * 10 * 64], v[4 * 10 * 64], o[4 * 10 * 64];
	struct spatten_session_opts op;
	struct spatten_session *s = NULL;
	unsigned int t, l, i, j, evictions = 0;
	int len, m = 0, nw;

	spatten_session_opts_init(&op, SPATTEN_SESSION_DECODER, L, H, H, D, C);
	op.kv_start = 2;
	op.kv_important = 6;
	op.kv_recent = 4;
	/* progressive keys in the pruned run; S16 keys hold the sink's 4.0 */
	op.flags = prune ? SPATTEN_SESSION_PROGRESSIVE : 0;
	op.k_bits = prune ? 8 : 16;
	if (prune)
		spatten_schedule_paper(&op.schedule, L, 0.7f, 0.7f, 0.75f,
				       0.75f, 1.0f);
	CHECK_EQ(spatten_session_open(dev_main, &op, &s), 0);
	if (!s)
		return;
	for (t = 0; t <= steps; t++) {
		unsigned int nn = t ? 1 : n;

		len = spatten_session_cache(s, ids, imp, C);
		CHECK(len >= 0 && len <= (int)C);
		if (len < 0)
			break;
		nw = len;
		if (t && (unsigned int)len + 1 > C) {
			/* the policy, independently */
			unsigned int mid_end = len - op.kv_recent, mn = 0;

			nw = 0;
			for (i = 0; i < op.kv_start; i++)
				want[nw++] = ids[i];
			for (i = op.kv_start; i < mid_end; i++)
				mid[mn++] = i;
			for (i = 0; i < mn; i++)	/* selection sort */
				for (j = i + 1; j < mn; j++)
					if (imp[mid[j]] > imp[mid[i]] ||
					    (imp[mid[j]] == imp[mid[i]] &&
					     mid[j] < mid[i])) {
						uint32_t x = mid[i];

						mid[i] = mid[j];
						mid[j] = x;
					}
			for (i = op.kv_start; i < mid_end; i++)
				for (j = 0; j < op.kv_important; j++)
					if (mid[j] == i)
						want[nw++] = ids[i];
			for (i = mid_end; i < (unsigned int)len; i++)
				want[nw++] = ids[i];
			evictions++;
		} else {
			memcpy(want, ids, (size_t)len * sizeof(*ids));
		}
		for (i = 0; i < nn; i++)
			want[nw + i] = (t ? n + t - 1 : 0) + i;
		fill_floats(q, (size_t)H * nn * D, 1000 + t);
		fill_floats(k, (size_t)H * nn * D, 2000 + t);
		/*
		 * A sink: every query attends to token 0 only, so every
		 * other token's importance is 0 and the tie rule decides.
		 */
		for (i = 0; equal_prompt_keys && i < H * nn * D; i++) {
			q[i] = 1.0f;
			k[i] = !t && i % (nn * D) < D ? 4.0f : 0.0f;
		}
		fill_floats(v, (size_t)H * nn * D, 3000 + t);
		for (l = 0; l < L; l++)
			CHECK_EQ(spatten_session_layer(s, l, nn, q, k, v, o), 0);
		m = spatten_session_cache(s, ids, NULL, C);
		CHECK_EQ(m, nw + (int)nn);
		CHECK(m == nw + (int)nn &&
		      !memcmp(ids, want, (size_t)m * sizeof(*ids)));
		if (cur_failed) {
			printf("# step %u: cache differs from the policy\n", t);
			break;
		}
	}
	printf("# %s%s: %u evictions over %u steps; cache of %d tokens at "
	       "the end (token %u newest)\n", prune ? "pruned" : "dense",
	       equal_prompt_keys ? ", a sink (ties)" : "", evictions,
	       steps, m, m > 0 ? ids[m - 1] : 0);
	CHECK(evictions >= 4);
	spatten_session_destroy(s);
}

static void bounded_cache_follows_the_policy(void)
{
	struct spatten_session_opts op;
	struct spatten_session *s = NULL;
	uint32_t ids[1];

	policy_run(1, 0);
	policy_run(0, 1);
	spatten_session_opts_init(&op, SPATTEN_SESSION_DECODER, 2, 4, 4, 64,
				  24);
	op.kv_start = 2;
	op.kv_important = 6;
	/* the budget is checked: it must leave room, pinned below start */
	op.kv_recent = 20;
	CHECK_EQ(spatten_session_open(dev_main, &op, &s), -EINVAL);
	op.kv_recent = 4;
	op.n_pinned = 1;
	op.pinned[0] = 2;
	CHECK_EQ(spatten_session_open(dev_main, &op, &s), -EINVAL);
	op.pinned[0] = 1;
	CHECK_EQ(spatten_session_open(dev_main, &op, &s), 0);
	spatten_session_destroy(s);
	CHECK_EQ(spatten_session_cache(NULL, ids, NULL, 1), -EINVAL);
}

/* Largest |out - float attention| of an encoder layer, [heads][n][D]. */
static double encoder_error(unsigned int H, unsigned int G, unsigned int D,
			    unsigned int n, const float *q, const float *k,
			    const float *v, const float *out)
{
	double worst = 0;
	unsigned int h, t, j, x;

	for (h = 0; h < H; h++) {
		unsigned int g = h / (H / G);

		for (t = 0; t < n; t++) {
			double p[64], m = -INFINITY, sum = 0, acc;

			for (j = 0; j < n; j++) {
				double sc = 0;

				for (x = 0; x < D; x++)
					sc += (double)q[((size_t)h * n + t) * D +
							x] *
					      k[((size_t)g * n + j) * D + x];
				p[j] = sc / sqrt(D);
				if (p[j] > m)
					m = p[j];
			}
			for (j = 0; j < n; j++)
				sum += (p[j] = exp(p[j] - m));
			for (x = 0; x < D; x++) {
				acc = 0;
				for (j = 0; j < n; j++)
					acc += p[j] / sum *
					       v[((size_t)g * n + j) * D + x];
				acc = fabs(acc - out[((size_t)h * n + t) * D +
						     x]);
				if (acc > worst)
					worst = acc;
			}
		}
	}
	return worst;
}

/*
 * Saturation is never silent: a head whose Q and K are 100 times larger
 * (an outlier head, as LLM projections have) saturates the session's
 * scale (2^11: values up to 16): counted per layer, or -ERANGE with the
 * flag, with nothing written (the pass can be retried).
 */
static void saturation_is_counted_or_an_error(void)
{
	const unsigned int H = 4, G = 2, D = 64, n = 16;
	size_t all = (size_t)H * n * D, kvn = (size_t)G * n * D, i;
	float *q = malloc(all * 4), *k = malloc(kvn * 4), *v = malloc(kvn * 4);
	float *out = malloc(all * 4);
	struct spatten_session_opts o;
	struct spatten_session *s = NULL;
	uint64_t sq, sk, sv, want_q = 0, want_k = 0;
	double worst;

	CHECK(q && k && v && out);
	if (!q || !k || !v || !out)
		goto out;
	fill_floats(q, all, 101);
	fill_floats(k, kvn, 102);
	fill_floats(v, kvn, 103);
	for (i = 0; i < (size_t)n * D; i++) {
		q[3 * n * D + i] *= 100.0f;	/* query head 3 ... */
		k[1 * n * D + i] *= 100.0f;	/* ... and its KV head 1 */
		/* |x| >= 32767.5 / 2048 saturates */
		want_q += fabsf(q[3 * n * D + i]) >= 32767.5f / 2048;
		want_k += fabsf(k[1 * n * D + i]) >= 32767.5f / 2048;
	}
	spatten_session_opts_init(&o, SPATTEN_SESSION_ENCODER, 1, H, G, D, n);
	o.flags = SPATTEN_SESSION_FIXED_SCALES;
	CHECK_EQ(spatten_session_open(dev_main, &o, &s), 0);
	CHECK_EQ(spatten_session_layer(s, 0, n, q, k, v, out), 0);
	CHECK_EQ(spatten_session_saturations(s, 0, &sq, &sk, &sv), 0);
	printf("# fixed: %llu Q and %llu K values saturated (of %llu, %llu)\n",
	       (unsigned long long)sq, (unsigned long long)sk,
	       (unsigned long long)want_q, (unsigned long long)want_k);
	CHECK(sq == want_q && sk == want_k && sv == 0 && sq > 0);
	CHECK_EQ(spatten_session_saturations(s, 1, &sq, NULL, NULL), -EINVAL);
	CHECK_EQ(spatten_session_saturations(NULL, 0, &sq, NULL, NULL),
		 -EINVAL);
	spatten_session_destroy(s);
	o.flags = SPATTEN_SESSION_FIXED_SCALES |
		  SPATTEN_SESSION_SATURATION_ERROR;
	CHECK_EQ(spatten_session_open(dev_main, &o, &s), 0);
	CHECK_EQ(spatten_session_layer(s, 0, n, q, k, v, out), -ERANGE);
	CHECK_EQ(spatten_session_context(s), 0);
	CHECK_EQ(spatten_session_saturations(s, 0, &sq, &sk, &sv), 0);
	CHECK(sq == 0 && sk == 0 && sv == 0);
	/* the same pass within range runs: nothing was left half done */
	for (i = 0; i < (size_t)n * D; i++) {
		q[3 * n * D + i] /= 100.0f;
		k[1 * n * D + i] /= 100.0f;
	}
	CHECK_EQ(spatten_session_layer(s, 0, n, q, k, v, out), 0);
	CHECK_EQ(spatten_session_context(s), (int)n);
	spatten_session_destroy(s);
	s = NULL;
	/* scales from the data, per head: the outlier saturates nothing */
	for (i = 0; i < (size_t)n * D; i++) {
		q[3 * n * D + i] *= 100.0f;
		k[1 * n * D + i] *= 100.0f;
	}
	o.flags = SPATTEN_SESSION_SATURATION_ERROR;
	CHECK_EQ(spatten_session_open(dev_main, &o, &s), 0);
	CHECK_EQ(spatten_session_layer(s, 0, n, q, k, v, out), 0);
	CHECK_EQ(spatten_session_saturations(s, 0, &sq, &sk, &sv), 0);
	CHECK(sq == 0 && sk == 0 && sv == 0);
	worst = encoder_error(H, G, D, n, q, k, v, out);
	printf("# per-head scales: max error %.3g (max |V| 2)\n", worst);
	/* quantisation of each head at its own scale: well under 1% */
	CHECK(worst <= 0.01 * 2.0);
out:
	spatten_session_destroy(s);
	free(q);
	free(k);
	free(v);
	free(out);
}

int main(void)
{
	struct spatten_info info;
	int ret;

	ret = spatten_open(NULL, &dev_main);
	if (ret) {
		printf("1..0 # SKIP cannot open the default backend (%d)\n",
		       ret);
		return 0;
	}
	if (spatten_get_info(dev_main, &info) ||
	    !(info.features & SPATTEN_FEAT_DESC_V3)) {
		printf("1..0 # SKIP the board has no descriptor version 3\n");
		spatten_close(dev_main);
		return 0;
	}
	if (spatten_backend(dev_main) != SPATTEN_BACKEND_SIM &&
	    spatten_open_backend(NULL, SPATTEN_BACKEND_SIM, &sim_dev))
		sim_dev = NULL;
	RUN(prep3_rejects_bad_fields);
	RUN(gqa_matches_repeat_kv_reference);
	RUN(layouts_give_the_packed_bits);
	RUN(rope_matches_float_reference);
	RUN(value_pruning_with_groups_runs);
	RUN(block_outside_the_cache_fails_the_job);
	RUN(chunks_match_reference_and_summarization);
	RUN(imp_per_kv_head_matches_reference);
	RUN(long_context_decode_step);
	RUN(head_fracs_per_head);
	RUN(session_opts_refused);
	RUN(gqa_session_is_repeat_kv);
	RUN(session_kind_and_scale);
	RUN(rope_session_matches_reference);
	RUN(bounded_cache_follows_the_policy);
	RUN(saturation_is_counted_or_an_error);
	spatten_close(sim_dev);
	spatten_close(dev_main);
	return tap_done();
}
