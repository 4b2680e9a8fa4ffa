// SPDX-License-Identifier: MIT
/*
 * End-to-end attention job on the host; see attn_harness.h.
 */
#include <endian.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attn_harness.h"

#define HARNESS_MEM	(96u << 20)

static void *xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size);

	if (!p) {
		fprintf(stderr, "attn_harness: out of memory\n");
		abort();
	}
	return p;
}

size_t att_out_elems(const struct att_case *c)
{
	return (size_t)c->heads * c->q_rows * c->d;
}

int32_t att_fmt_max(uint8_t fmt)
{
	return (1 << (spatten_hw_fmt_bits(fmt) - 1)) - 1;
}

static int att_fail_now(struct att_reader *rd)
{
	rd->calls++;
	return rd->fail_at && rd->calls == rd->fail_at;
}

static int att_read(void *opaque, enum spe_plane plane, uint64_t off,
		    void *dst, size_t len)
{
	struct att_reader *rd = opaque;
	size_t i;
	int rc;

	rd->reads++;
	if (att_fail_now(rd))
		return rd->fail_rc;
	rc = spe_buf_read(&rd->job->buf[plane], off, dst, len, fake_dma_read,
			  rd->mem);
	if (rc)
		return rc;
	rd->bytes[plane] += len;
	if (rd->seen[plane]) {
		for (i = 0; i < len; i++)
			if (rd->seen[plane][off + i]++)
				rd->reread = 1;
	}
	return SPATTEN_HW_OK;
}

static int att_write(void *opaque, enum spe_plane plane, uint64_t off,
		     const void *src, size_t len)
{
	struct att_reader *rd = opaque;
	size_t i;
	int rc;

	rd->writes++;
	if (att_fail_now(rd))
		return rd->fail_rc;
	rc = spe_buf_write(&rd->job->buf[plane], off, src, len, fake_dma_read,
			   fake_dma_write, rd->mem);
	if (rc)
		return rc;
	rd->wbytes[plane] += len;
	if (rd->wseen[plane]) {
		for (i = 0; i < len; i++)
			if (rd->wseen[plane][off + i]++)
				rd->rewrite = 1;
	}
	return SPATTEN_HW_OK;
}

static int16_t *random_tensor(uint64_t *seed, size_t n, int32_t amp,
			      int32_t fill)
{
	int16_t *t = xcalloc(n, sizeof(*t));
	size_t i;

	for (i = 0; i < n; i++)
		t[i] = (int16_t)(fill ? fill : prng_range(seed, amp));
	return t;
}

/* Packs rows of @d elements, @bits each, as a little-endian bit stream. */
static uint8_t *pack_tensor(const int16_t *data, size_t n, uint32_t bits,
			    size_t *bytes)
{
	uint8_t *p;
	size_t e, b;

	*bytes = n * bits / 8;
	p = xcalloc(*bytes + 1, 1);
	for (e = 0; e < n; e++) {
		uint32_t u = (uint16_t)data[e];

		for (b = 0; b < bits; b++)
			if (u >> b & 1) {
				size_t bit = e * bits + b;

				p[bit / 8] |= (uint8_t)(1u << (bit % 8));
			}
	}
	return p;
}

static void place_bytes(struct att_run *run, enum spe_plane plane,
			const void *data, size_t len)
{
	struct tbuf *b = &run->buf[plane];

	if (run->c.page_list)
		tbuf_paged(b, &run->mem, (uint32_t)len,
			   (uint16_t)((len * 8 + 8 * plane) % 4096));
	else
		tbuf_contig(b, &run->mem, (uint32_t)len);
	if (data)
		tbuf_poke(&run->mem, b, 0, data, len);
}

static void place_tensor(struct att_run *run, enum spe_plane plane,
			 const int16_t *data, size_t n, uint32_t bits)
{
	size_t bytes;
	uint8_t *p = pack_tensor(data, n, bits, &bytes);

	place_bytes(run, plane, p, bytes);
	free(p);
}

static void place_list(struct att_run *run, enum spe_plane plane,
		       const uint16_t *list, size_t n)
{
	uint8_t *p = xcalloc(n, 2);
	size_t i;

	for (i = 0; list && i < n; i++) {
		p[2 * i] = (uint8_t)list[i];
		p[2 * i + 1] = (uint8_t)(list[i] >> 8);
	}
	place_bytes(run, plane, list ? p : NULL, n * 2);
	free(p);
}

static void place_u64(struct att_run *run, enum spe_plane plane,
		      const uint64_t *v, size_t n)
{
	uint64_t *le = xcalloc(n, 8);
	size_t i;

	for (i = 0; v && i < n; i++)
		le[i] = htole64(v[i]);
	place_bytes(run, plane, le, n * 8);
	free(le);
}

void att_build_desc(const struct att_run *run, struct spatten_hw_desc *d)
{
	const struct att_case *c = &run->c;
	struct spatten_hw_buf *ref[SPE_PLANE_COUNT] = {
		&d->q, &d->k, &d->k_lsb, &d->v, &d->out, &d->tok_imp,
		&d->tok_alive, &d->tok_kept, &d->pinned, &d->head_imp,
		&d->head_alive, &d->head_kept,
	};
	int p;

	memset(d, 0, sizeof(*d));
	d->opcode = htole16(SPATTEN_OP_ATTENTION);
	d->desc_size = htole16(SPATTEN_DESC_SIZE);
	d->version = c->version ? (uint8_t)c->version : SPATTEN_DESC_VERSION;
	d->stage = c->generation ? SPATTEN_STAGE_GENERATION :
				   SPATTEN_STAGE_SUMMARIZATION;
	d->flags = htole16((c->causal ? SPATTEN_DESC_F_CAUSAL : 0) |
			   (c->progressive ? SPATTEN_DESC_F_PROGRESSIVE : 0));
	d->tag = htole32(0x600d);
	d->n_heads = htole16(c->heads);
	d->head_dim = htole16(c->d);
	d->q_rows = htole16(c->q_rows);
	d->kv_rows = htole16(c->kv_rows);
	d->q_start = htole16(c->q_start);
	d->q_frac = c->q_frac;
	d->k_fmt = c->k_fmt;
	d->k_frac = c->k_frac;
	d->v_fmt = c->v_fmt;
	d->v_frac = c->v_frac;
	d->out_frac = c->out_frac;
	for (p = 0; p < SPE_PLANE_COUNT; p++)
		if (run->buf[p].ref.len)
			desc_set_buf(ref[p], &run->buf[p].ref);
	d->n_tok_alive = htole16(c->n_tok_alive);
	d->token_keep = htole16(c->token_keep);
	d->n_pinned = htole16(c->n_pinned);
	d->n_head_alive = htole16(c->n_head_alive);
	d->head_keep = htole16(c->head_keep);
	d->value_keep = htole16(c->value_keep);
	d->lsb_threshold = htole16(c->lsb_threshold);
	d->topk_seed = htole32(c->topk_seed);
}

void att_setup(struct att_run *run, const struct att_case *c)
{
	size_t nq = (size_t)c->heads * c->q_rows * c->d;
	size_t nkv = (size_t)c->heads * c->kv_rows * c->d, i;
	uint64_t seed = c->seed ? c->seed : 0x9e3779b97f4a7c15ull;
	uint32_t kbits = spatten_hw_fmt_bits(c->k_fmt);
	uint32_t vbits = spatten_hw_fmt_bits(c->v_fmt);
	struct spatten_hw_desc desc;
	uint16_t *sentinel;
	int p;

	memset(run, 0, sizeof(*run));
	run->c = *c;
	fake_mem_init(&run->mem, HARNESS_MEM);
	run->qd = random_tensor(&seed, nq, c->q_amp, c->fill);
	run->kd = random_tensor(&seed, nkv, c->k_amp, c->fill);
	run->vd = random_tensor(&seed, nkv, c->v_amp, c->fill);
	if (c->q_data)
		memcpy(run->qd, c->q_data, nq * 2);
	if (c->k_data)
		memcpy(run->kd, c->k_data, nkv * 2);
	if (c->v_data)
		memcpy(run->vd, c->v_data, nkv * 2);

	place_tensor(run, SPE_PLANE_Q, run->qd, nq, 16);
	if (c->progressive) {
		int16_t *msb = xcalloc(nkv, 2), *lsb = xcalloc(nkv, 2);

		for (i = 0; i < nkv; i++) {
			int32_t full = run->kd[i];

			/* floor division by 16, written out */
			lsb[i] = (int16_t)(((full % 16) + 16) % 16);
			msb[i] = (int16_t)((full - lsb[i]) / 16);
		}
		place_tensor(run, SPE_PLANE_K_MSB, msb, nkv, kbits);
		place_tensor(run, SPE_PLANE_K_LSB, lsb, nkv, 4);
		free(msb);
		free(lsb);
	} else {
		place_tensor(run, SPE_PLANE_K_MSB, run->kd, nkv, kbits);
	}
	place_tensor(run, SPE_PLANE_V, run->vd, nkv, vbits);
	sentinel = xcalloc(nq, 2);
	for (i = 0; i < nq; i++)
		sentinel[i] = htole16(ATT_OUT_SENTINEL);
	place_bytes(run, SPE_PLANE_OUT, sentinel, nq * 2);
	free(sentinel);
	if (c->with_tok_imp || c->token_keep)
		place_u64(run, SPE_PLANE_TOK_IMP, c->tok_imp_init, c->kv_rows);
	if (c->n_tok_alive)
		place_list(run, SPE_PLANE_TOK_ALIVE, c->tok_alive,
			   c->n_tok_alive);
	if (c->token_keep)
		place_list(run, SPE_PLANE_TOK_KEPT, NULL, c->token_keep);
	if (c->n_pinned)
		place_list(run, SPE_PLANE_PINNED, c->pinned, c->n_pinned);
	if (c->with_head_imp || c->head_keep)
		place_u64(run, SPE_PLANE_HEAD_IMP, c->head_imp_init, c->heads);
	if (c->n_head_alive)
		place_list(run, SPE_PLANE_HEAD_ALIVE, c->head_alive,
			   c->n_head_alive);
	if (c->head_keep)
		place_list(run, SPE_PLANE_HEAD_KEPT, NULL, c->head_keep);

	run->outd = xcalloc(nq, sizeof(*run->outd));
	run->tok_imp = xcalloc(c->kv_rows, sizeof(uint64_t));
	run->head_imp = xcalloc(c->heads, sizeof(uint64_t));
	run->tok_kept = xcalloc(c->kv_rows + 1, sizeof(uint16_t));
	run->head_kept = xcalloc(c->heads, sizeof(uint16_t));

	att_build_desc(run, &desc);
	test_caps(&run->caps);
	run->decode_rc = spe_desc_decode(&desc, sizeof(desc), &run->caps, &run->job);

	run->rd.job = &run->job;
	run->rd.mem = &run->mem;
	for (p = 0; p < SPE_PLANE_COUNT; p++)
		if (run->job.buf[p].len) {
			run->rd.seen[p] = xcalloc(run->job.buf[p].len, 1);
			run->rd.wseen[p] = xcalloc(run->job.buf[p].len, 1);
		}
}

static void read_back_list(struct att_run *run, enum spe_plane p,
			   uint16_t *dst, size_t n)
{
	size_t i;

	if (!run->buf[p].ref.len)
		return;
	tbuf_peek(&run->mem, &run->buf[p], 0, dst, n * 2);
	for (i = 0; i < n; i++)
		dst[i] = le16toh(dst[i]);
}

static void read_back_u64(struct att_run *run, enum spe_plane p,
			  uint64_t *dst, size_t n)
{
	size_t i;

	if (!run->buf[p].ref.len)
		return;
	tbuf_peek(&run->mem, &run->buf[p], 0, dst, n * 8);
	for (i = 0; i < n; i++)
		dst[i] = le64toh(dst[i]);
}

static int att_cancelled(void *opaque)
{
	struct att_reader *rd = opaque;
	int v_read = rd->bytes[SPE_PLANE_V] != 0;

	rd->polls++;
	rd->polls_after_v += v_read;
	return rd->cancel_after_v && v_read;
}

int att_execute(struct att_run *run)
{
	struct spe_mem mem = { .read = att_read, .write = att_write,
			       .opaque = &run->rd, .cancelled = att_cancelled };
	size_t n = att_out_elems(&run->c), i;
	uint16_t *le;

	spe_run(&run->job, &run->caps, &mem, &run->res);

	le = xcalloc(n, sizeof(*le));
	tbuf_peek(&run->mem, &run->buf[SPE_PLANE_OUT], 0, le, n * 2);
	for (i = 0; i < n; i++)
		run->outd[i] = (int16_t)le16toh(le[i]);
	free(le);
	read_back_u64(run, SPE_PLANE_TOK_IMP, run->tok_imp, run->c.kv_rows);
	read_back_u64(run, SPE_PLANE_HEAD_IMP, run->head_imp, run->c.heads);
	read_back_list(run, SPE_PLANE_TOK_KEPT, run->tok_kept,
		       run->c.token_keep);
	read_back_list(run, SPE_PLANE_HEAD_KEPT, run->head_kept,
		       run->c.head_keep);
	return run->res.status;
}

void att_teardown(struct att_run *run)
{
	int p;

	for (p = 0; p < SPE_PLANE_COUNT; p++) {
		free(run->rd.seen[p]);
		free(run->rd.wseen[p]);
		tbuf_free(&run->buf[p]);
	}
	free(run->qd);
	free(run->kd);
	free(run->vd);
	free(run->outd);
	free(run->tok_imp);
	free(run->head_imp);
	free(run->tok_kept);
	free(run->head_kept);
	fake_mem_destroy(&run->mem);
}

uint64_t att_out_hash(const struct att_run *run)
{
	size_t n = att_out_elems(&run->c), i;
	uint64_t h = 0xcbf29ce484222325ull;

	for (i = 0; i < n; i++) {
		uint16_t u = (uint16_t)run->outd[i];

		h = (h ^ (u & 0xff)) * 0x100000001b3ull;
		h = (h ^ (u >> 8)) * 0x100000001b3ull;
	}
	return h;
}
