// SPDX-License-Identifier: MIT
/*
 * Version-3 jobs on the host; see llm_job.h. Aborts on a test bug (out of
 * memory, a layout that does not fit its buffer), never on what the
 * engine does.
 */
#include <endian.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "llm_job.h"

static void llm_die(const char *what)
{
	fprintf(stderr, "llm_job: %s\n", what);
	abort();
}

static void *llm_calloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);

	if (!p)
		llm_die("out of memory");
	return p;
}

/* ---- The memory callbacks ---------------------------------------------- */

static void llm_log_add(struct llm_log *l, uint64_t off, uint64_t len)
{
	if (l->n == l->cap) {
		l->cap = l->cap ? 2 * l->cap : 64;
		l->io = realloc(l->io, l->cap * sizeof(*l->io));
		if (!l->io)
			llm_die("out of memory");
	}
	l->io[l->n].off = off;
	l->io[l->n].len = len;
	l->n++;
}

/*
 * Host pointer of bytes [off, off + len) of @plane, following the job's
 * reference like a device: NULL (and @m->stray) unless the reference is
 * our buffer and the range lies inside both.
 */
static uint8_t *llm_locate(struct llm_mem *m, enum spe_plane plane,
			   uint64_t off, size_t len)
{
	const struct spe_buf *b = &m->job->buf[plane];
	uint8_t *base = (uint8_t *)(uintptr_t)b->addr;

	if (plane >= SPE_PLANE_COUNT || !m->data[plane] ||
	    base != m->data[plane] || b->flags || b->offset ||
	    b->len > m->size[plane] || off > b->len || len > b->len - off) {
		m->stray = 1;
		return NULL;
	}
	return base + off;
}

static int llm_read(void *opaque, enum spe_plane plane, uint64_t off,
		    void *dst, size_t len)
{
	struct llm_mem *m = opaque;
	const uint8_t *p = llm_locate(m, plane, off, len);

	if (!p)
		return -1;		/* the engine makes it ERR_DMA_READ */
	memcpy(dst, p, len);
	m->rbytes[plane] += len;
	llm_log_add(&m->rlog[plane], off, len);
	return SPATTEN_HW_OK;
}

static int llm_write(void *opaque, enum spe_plane plane, uint64_t off,
		     const void *src, size_t len)
{
	struct llm_mem *m = opaque;
	uint8_t *p = llm_locate(m, plane, off, len);

	if (!p)
		return -1;
	memcpy(p, src, len);
	m->wbytes[plane] += len;
	llm_log_add(&m->wlog[plane], off, len);
	return SPATTEN_HW_OK;
}

/* map: the bytes in place, counted and logged as a read. */
static const void *llm_map(void *opaque, enum spe_plane plane, uint64_t off,
			   size_t len)
{
	struct llm_mem *m = opaque;
	const uint8_t *p = llm_locate(m, plane, off, len);

	if (!p)
		return NULL;
	m->rbytes[plane] += len;
	llm_log_add(&m->rlog[plane], off, len);
	return p;
}

/*
 * map_gather: the span in place, its @used bytes counted; with
 * LLM_MAP_ODD a copy at an odd address (the engine must copy int16 rows
 * out of it), kept until the next reset.
 */
static const void *llm_map_gather(void *opaque, enum spe_plane plane,
				  uint64_t off, size_t len, size_t used)
{
	struct llm_mem *m = opaque;
	const uint8_t *p = llm_locate(m, plane, off, len);
	uint8_t *odd;

	if (!p)
		return NULL;
	m->rbytes[plane] += used;
	m->gathers++;
	if (m->map_mode != LLM_MAP_ODD)
		return p;
	odd = malloc(len + 1);
	if (!odd)
		llm_die("out of memory");
	memcpy(odd + 1, p, len);
	if (m->n_odd == LLM_MAX_ODD)
		llm_die("more map_gather spans than one job has");
	m->odd[m->n_odd++] = odd;
	return odd + 1;
}

void llm_mem_set_map(struct llm_mem *m, int mode)
{
	m->map_mode = mode;
	m->ops.map = mode ? llm_map : NULL;
	m->ops.map_gather = mode ? llm_map_gather : NULL;
}

static int llm_cancelled(void *opaque)
{
	struct llm_mem *m = opaque;

	m->polls++;
	return m->cancel_at && m->polls >= m->cancel_at;
}

void llm_mem_init(struct llm_mem *m)
{
	memset(m, 0, sizeof(*m));
	m->ops.read = llm_read;
	m->ops.write = llm_write;
	m->ops.opaque = m;
	m->ops.cancelled = llm_cancelled;
}

void llm_mem_reset(struct llm_mem *m)
{
	int p;

	for (p = 0; p < SPE_PLANE_COUNT; p++) {
		m->rbytes[p] = m->wbytes[p] = 0;
		m->rlog[p].n = m->wlog[p].n = 0;
	}
	m->stray = 0;
	m->polls = 0;
	m->gathers = 0;
	while (m->n_odd)
		free(m->odd[--m->n_odd]);
}

void llm_mem_free(struct llm_mem *m)
{
	int p;

	llm_mem_reset(m);
	for (p = 0; p < SPE_PLANE_COUNT; p++) {
		free(m->data[p]);
		free(m->rlog[p].io);
		free(m->wlog[p].io);
	}
	memset(m, 0, sizeof(*m));
}

uint8_t *llm_mem_alloc(struct llm_mem *m, enum spe_plane plane, size_t len)
{
	free(m->data[plane]);
	m->data[plane] = llm_calloc(len, 1);
	m->size[plane] = len;
	return m->data[plane];
}

static int llm_io_cmp(const void *a, const void *b)
{
	const struct llm_io *x = a, *y = b;

	return x->off < y->off ? -1 : x->off > y->off;
}

/* No two accesses of @l overlap. */
static int llm_log_disjoint(const struct llm_log *l)
{
	struct llm_io *io;
	size_t i;
	int ok = 1;

	if (l->n < 2)
		return 1;
	io = llm_calloc(l->n, sizeof(*io));
	memcpy(io, l->io, l->n * sizeof(*io));
	qsort(io, l->n, sizeof(*io), llm_io_cmp);
	for (i = 1; i < l->n; i++)
		if (io[i - 1].off + io[i - 1].len > io[i].off)
			ok = 0;
	free(io);
	return ok;
}

int llm_mem_once(const struct llm_mem *m)
{
	int p, ok = 1;

	for (p = 0; p < SPE_PLANE_COUNT; p++)
		ok &= llm_log_disjoint(&m->rlog[p]) &&
		      llm_log_disjoint(&m->wlog[p]);
	return ok;
}

int llm_mem_counts_match(const struct llm_mem *m, const struct spe_stats *st)
{
	int p, ok = 1;

	for (p = 0; p < SPE_PLANE_COUNT; p++)
		ok &= m->rbytes[p] + m->wbytes[p] == st->bytes[p];
	return ok;
}

uint64_t llm_mem_written(const struct llm_mem *m)
{
	uint64_t w = 0;
	int p;

	for (p = 0; p < SPE_PLANE_COUNT; p++)
		w += m->wbytes[p];
	return w;
}

uint64_t llm_mem_max_read(const struct llm_mem *m, enum spe_plane plane)
{
	uint64_t mx = 0;
	size_t i;

	for (i = 0; i < m->rlog[plane].n; i++)
		if (m->rlog[plane].io[i].len > mx)
			mx = m->rlog[plane].io[i].len;
	return mx;
}

uint32_t llm_mem_reads_in(const struct llm_mem *m, enum spe_plane plane,
			  uint64_t a, uint64_t b)
{
	const struct llm_log *l = &m->rlog[plane];
	uint32_t n = 0;
	size_t i;

	for (i = 0; i < l->n; i++)
		n += l->io[i].off < b && l->io[i].off + l->io[i].len > a;
	return n;
}

void llm_put_u32s(struct llm_mem *m, enum spe_plane plane,
		  const uint32_t *v, size_t n)
{
	uint8_t *p = llm_mem_alloc(m, plane, n * 4);
	size_t i;

	for (i = 0; i < n; i++) {
		uint32_t le = htole32(v[i]);

		memcpy(p + 4 * i, &le, 4);
	}
}

void llm_put_u64s(struct llm_mem *m, enum spe_plane plane,
		  const uint64_t *v, size_t n)
{
	uint8_t *p = llm_mem_alloc(m, plane, n * 8);
	size_t i;

	for (i = 0; i < n; i++) {
		uint64_t le = htole64(v[i]);

		memcpy(p + 8 * i, &le, 8);
	}
}

uint32_t llm_get_u32(const struct llm_mem *m, enum spe_plane plane, size_t i)
{
	uint32_t le;

	if ((i + 1) * 4 > m->size[plane])
		llm_die("u32 beyond its buffer");
	memcpy(&le, m->data[plane] + 4 * i, 4);
	return le32toh(le);
}

uint64_t llm_get_u64(const struct llm_mem *m, enum spe_plane plane, size_t i)
{
	uint64_t le;

	if ((i + 1) * 8 > m->size[plane])
		llm_die("u64 beyond its buffer");
	memcpy(&le, m->data[plane] + 8 * i, 8);
	return le64toh(le);
}

/* ---- Descriptor -------------------------------------------------------- */

void llm_caps(struct spe_caps *caps)
{
	memset(caps, 0, sizeof(*caps));
	caps->max_context = 131072;
	caps->max_heads = 64;
	caps->head_dims = (1u << 4) | (1u << 5) | (1u << 6) | (1u << 7) |
			  (1u << 8);
	caps->formats = (1u << SPATTEN_FMT_NUM) - 1;
	caps->splits = (1u << 4) | (1u << 6) | (1u << 8) | (1u << 10) |
		       (1u << 12);
	caps->features = SPATTEN_FEAT_CAUSAL | SPATTEN_FEAT_GENERATION |
			 SPATTEN_FEAT_PAGE_LIST | SPATTEN_FEAT_TOKEN_PRUNE |
			 SPATTEN_FEAT_HEAD_PRUNE | SPATTEN_FEAT_VALUE_PRUNE |
			 SPATTEN_FEAT_PROGRESSIVE | SPATTEN_FEAT_DESC_V3 |
			 SPATTEN_FEAT_GQA | SPATTEN_FEAT_KV_LAYOUT |
			 SPATTEN_FEAT_ROPE | SPATTEN_FEAT_CHUNKS |
			 SPATTEN_FEAT_IMP_PER_KV_HEAD;
	caps->dma_bits = 64;	/* host pointers are the addresses */
	caps->model = spe_model_full();
}

static void llm_set_buf(struct spatten_hw_buf *dst, const struct llm_mem *m,
			enum spe_plane plane)
{
	if (!m->data[plane])
		return;		/* absent: all zero */
	dst->addr = htole64((uint64_t)(uintptr_t)m->data[plane]);
	dst->len = htole32((uint32_t)m->size[plane]);
}

void llm_desc_build(const struct llm_spec *s, const struct llm_mem *m,
		    struct spatten_hw_desc_v3 *d)
{
	memset(d, 0, sizeof(*d));
	d->opcode = htole16(SPATTEN_OP_ATTENTION);
	d->desc_size = htole16(SPATTEN_DESC_V3_SIZE);
	d->version = SPATTEN_DESC_VERSION_V3;
	d->stage = s->generation ? SPATTEN_STAGE_GENERATION :
				   SPATTEN_STAGE_SUMMARIZATION;
	d->flags = htole16(s->flags);
	d->tag = htole32(0x11a3);
	d->n_heads = htole16((uint16_t)s->heads);
	d->n_kv_heads = htole16((uint16_t)s->kv_heads);
	d->head_dim = htole16((uint16_t)s->d);
	d->q_rows = htole32(s->q_rows);
	d->kv_rows = htole32(s->kv_rows);
	d->q_start = htole32(s->q_start);
	d->q_fmt = SPATTEN_FMT_S16;
	d->q_frac = s->q_frac;
	d->k_fmt = s->k_fmt;
	d->k_frac = s->k_frac;
	d->v_fmt = s->v_fmt;
	d->v_frac = s->v_frac;
	d->out_fmt = SPATTEN_FMT_S16;
	d->out_frac = s->out_frac;
	d->n_tok_alive = htole32(s->n_tok_alive);
	d->token_keep = htole32(s->token_keep);
	d->n_pinned = htole32(s->n_pinned);
	d->value_keep = htole32(s->value_keep);
	d->n_head_alive = htole16(s->n_head_alive);
	d->head_keep = htole16(s->head_keep);
	d->lsb_threshold = htole16(s->lsb_threshold);
	d->topk_seed = htole32(s->topk_seed);
	d->score_scale = htole32(s->score_scale);
	d->rope_base = htole32(s->rope_base);
	d->kv_block_rows = htole32(s->block_rows);
	d->kv_head_stride = htole32(s->head_stride);
	d->kv_row_stride = htole32(s->row_stride);
	d->kv_block_stride = htole32(s->block_stride);
	llm_set_buf(&d->q, m, SPE_PLANE_Q);
	llm_set_buf(&d->k, m, SPE_PLANE_K_MSB);
	llm_set_buf(&d->v, m, SPE_PLANE_V);
	llm_set_buf(&d->out, m, SPE_PLANE_OUT);
	llm_set_buf(&d->k_lsb, m, SPE_PLANE_K_LSB);
	llm_set_buf(&d->tok_imp, m, SPE_PLANE_TOK_IMP);
	llm_set_buf(&d->tok_alive, m, SPE_PLANE_TOK_ALIVE);
	llm_set_buf(&d->tok_kept, m, SPE_PLANE_TOK_KEPT);
	llm_set_buf(&d->pinned, m, SPE_PLANE_PINNED);
	llm_set_buf(&d->head_imp, m, SPE_PLANE_HEAD_IMP);
	llm_set_buf(&d->head_alive, m, SPE_PLANE_HEAD_ALIVE);
	llm_set_buf(&d->head_kept, m, SPE_PLANE_HEAD_KEPT);
	llm_set_buf(&d->block_table, m, SPE_PLANE_BLOCK_TABLE);
	llm_set_buf(&d->positions, m, SPE_PLANE_POSITIONS);
}

int llm_decode(const struct llm_spec *s, struct llm_mem *m,
	       const struct spe_caps *caps, struct spe_job *job)
{
	struct spatten_hw_desc_v3 d;

	llm_desc_build(s, m, &d);
	m->job = job;
	return spe_desc_decode(&d, sizeof(d), caps, job);
}

int llm_run(struct llm_mem *m, const struct spe_job *job,
	    const struct spe_caps *caps, struct spe_result *res)
{
	llm_mem_reset(m);
	m->job = job;
	return spe_run(job, caps, &m->ops, res);
}

/* ---- Operands ---------------------------------------------------------- */

/* xorshift64*: reproducible everywhere. */
uint64_t llm_rand(uint64_t *state)
{
	uint64_t x = *state;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*state = x;
	return x * 0x2545F4914F6CDD1Dull;
}

int32_t llm_rand_range(uint64_t *state, int32_t amp)
{
	uint64_t span = 2 * (uint64_t)amp + 1;

	return (int32_t)((llm_rand(state) >> 16) % span) - amp;
}

static void llm_fill(int16_t *t, size_t n, int32_t amp, uint64_t *seed)
{
	size_t i;

	for (i = 0; i < n; i++)
		t[i] = (int16_t)llm_rand_range(seed, amp);
}

void llm_data_random(struct llm_data *dt, const struct llm_spec *s,
		     int32_t q_amp, int32_t k_amp, int32_t v_amp,
		     uint64_t seed)
{
	dt->nq = s->heads * s->q_rows * s->d;
	dt->nkv = s->kv_heads * s->kv_rows * s->d;
	dt->q = llm_calloc(dt->nq, sizeof(int16_t));
	dt->k = llm_calloc(dt->nkv, sizeof(int16_t));
	dt->v = llm_calloc(dt->nkv, sizeof(int16_t));
	seed |= 1;
	llm_fill(dt->q, dt->nq, q_amp, &seed);
	llm_fill(dt->k, dt->nkv, k_amp, &seed);
	llm_fill(dt->v, dt->nkv, v_amp, &seed);
}

void llm_data_free(struct llm_data *dt)
{
	free(dt->q);
	free(dt->k);
	free(dt->v);
	memset(dt, 0, sizeof(*dt));
}

double llm_max_abs_v(const struct llm_data *dt, const struct llm_spec *s)
{
	int32_t mx = 0;
	uint32_t i;

	for (i = 0; i < dt->nkv; i++) {
		int32_t a = dt->v[i] < 0 ? -dt->v[i] : dt->v[i];

		if (a > mx)
			mx = a;
	}
	return ldexp((double)mx, -(int)s->v_frac);
}

uint64_t llm_kv_row(const struct llm_spec *s, const uint32_t *table,
		    uint32_t g, uint32_t r)
{
	if (!s->row_stride)	/* packed [kv_heads][kv_rows] */
		return (uint64_t)g * s->kv_rows + r;
	if (!s->block_rows)
		return (uint64_t)g * s->head_stride +
		       (uint64_t)r * s->row_stride;
	return (uint64_t)table[r / s->block_rows] * s->block_stride +
	       (uint64_t)g * s->head_stride +
	       (uint64_t)(r % s->block_rows) * s->row_stride;
}

/* Low @bits bits of each element, as a little-endian bit stream. */
static void llm_pack_row(const int16_t *src, uint32_t d, uint32_t bits,
			 uint8_t *dst)
{
	uint32_t e, b;

	if (bits == 16 || bits == 8) {	/* whole bytes: the common case */
		for (e = 0; e < d; e++) {
			dst[e * bits / 8] = (uint8_t)src[e];
			if (bits == 16)
				dst[2 * e + 1] = (uint8_t)((uint16_t)src[e] >> 8);
		}
		return;
	}
	memset(dst, 0, llm_row_bytes(d, bits));
	for (e = 0; e < d; e++) {
		uint32_t u = (uint16_t)src[e];

		for (b = 0; b < bits; b++)
			if (u >> b & 1)
				dst[(e * bits + b) / 8] |=
					(uint8_t)(1u << ((e * bits + b) % 8));
	}
}

static void llm_fill_bytes(uint8_t *p, size_t n, uint64_t *seed)
{
	size_t i;

	for (i = 0; i + 8 <= n; i += 8) {
		uint64_t r = llm_rand(seed);

		memcpy(p + i, &r, 8);
	}
	for (; i < n; i++)
		p[i] = (uint8_t)(llm_rand(seed) >> 56);
}

/* One KV plane: rows of @src ([kv_heads][kv_rows][d]) placed by layout. */
static void llm_place_plane(struct llm_mem *m, enum spe_plane plane,
			    const struct llm_spec *s, const int16_t *src,
			    uint32_t bits, const uint32_t *table,
			    uint64_t buf_rows, uint64_t *seed)
{
	uint32_t rb = llm_row_bytes(s->d, bits), g, r;
	uint8_t *p = llm_mem_alloc(m, plane, buf_rows * rb);

	llm_fill_bytes(p, buf_rows * rb, seed);
	for (g = 0; g < s->kv_heads; g++)
		for (r = 0; r < s->kv_rows; r++) {
			uint64_t row = llm_kv_row(s, table, g, r);

			if (row >= buf_rows)
				llm_die("layout beyond its buffer");
			llm_pack_row(src + ((size_t)g * s->kv_rows + r) * s->d,
				     s->d, bits, p + row * rb);
		}
}

void llm_place(struct llm_mem *m, const struct llm_spec *s,
	       const struct llm_data *dt, const uint32_t *table,
	       uint64_t buf_rows, uint64_t seed)
{
	uint32_t kbits = spatten_hw_fmt_bits(s->k_fmt);
	uint32_t vbits = spatten_hw_fmt_bits(s->v_fmt), i;
	uint8_t *q = llm_mem_alloc(m, SPE_PLANE_Q, (size_t)dt->nq * 2);
	uint8_t *out = llm_mem_alloc(m, SPE_PLANE_OUT, (size_t)dt->nq * 2);

	seed |= 1;
	for (i = 0; i < dt->nq; i++) {
		q[2 * i] = (uint8_t)dt->q[i];
		q[2 * i + 1] = (uint8_t)((uint16_t)dt->q[i] >> 8);
		out[2 * i] = (uint8_t)LLM_OUT_SENTINEL;
		out[2 * i + 1] = (uint8_t)(LLM_OUT_SENTINEL >> 8);
	}
	if (!buf_rows)
		buf_rows = spatten_hw_kv_plane_rows(s->kv_heads, s->kv_rows,
						    s->head_stride,
						    s->row_stride,
						    s->block_rows);
	if (s->block_rows)
		llm_put_u32s(m, SPE_PLANE_BLOCK_TABLE, table,
			     spatten_hw_kv_blocks(s->kv_rows, s->block_rows));

	if (s->flags & SPATTEN_DESC_F_PROGRESSIVE) {
		int16_t *msb = llm_calloc(dt->nkv, 2), *lsb = llm_calloc(dt->nkv, 2);

		for (i = 0; i < dt->nkv; i++) {
			int32_t full = dt->k[i];

			/* full = msb * 16 + lsb, 0 <= lsb < 16 */
			lsb[i] = (int16_t)(((full % 16) + 16) % 16);
			msb[i] = (int16_t)((full - lsb[i]) / 16);
		}
		llm_place_plane(m, SPE_PLANE_K_MSB, s, msb, kbits, table,
				buf_rows, &seed);
		llm_place_plane(m, SPE_PLANE_K_LSB, s, lsb, SPATTEN_LSB_BITS,
				table, buf_rows, &seed);
		free(msb);
		free(lsb);
	} else {
		llm_place_plane(m, SPE_PLANE_K_MSB, s, dt->k, kbits, table,
				buf_rows, &seed);
	}
	llm_place_plane(m, SPE_PLANE_V, s, dt->v, vbits, table, buf_rows,
			&seed);
}

int16_t llm_out(const struct llm_mem *m, const struct llm_spec *s,
		uint32_t h, uint32_t row, uint32_t x)
{
	const uint8_t *p = m->data[SPE_PLANE_OUT] +
			   (((size_t)h * s->q_rows + row) * s->d + x) * 2;

	return (int16_t)(uint16_t)(p[0] | p[1] << 8);
}

/* ---- One job end to end ------------------------------------------------ */

void llm_test_init(struct llm_test *t, const struct llm_spec *s,
		   int32_t q_amp, int32_t k_amp, int32_t v_amp, uint64_t seed,
		   const uint32_t *table, uint64_t buf_rows)
{
	memset(t, 0, sizeof(*t));
	t->s = *s;
	llm_caps(&t->caps);
	llm_mem_init(&t->m);
	llm_data_random(&t->dt, s, q_amp, k_amp, v_amp, seed);
	llm_place(&t->m, s, &t->dt, table, buf_rows, seed ^ 0x5bd1e995);
}

int llm_test_run(struct llm_test *t)
{
	t->decode_rc = llm_decode(&t->s, &t->m, &t->caps, &t->job);
	if (t->decode_rc)
		return t->decode_rc;
	return llm_run(&t->m, &t->job, &t->caps, &t->res);
}

void llm_test_free(struct llm_test *t)
{
	llm_mem_free(&t->m);
	llm_data_free(&t->dt);
}
