// SPDX-License-Identifier: MIT
/*
 * End-to-end attention job on the host; see attn_harness.h.
 */
#include <endian.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attn_harness.h"

#define HARNESS_MEM	(64u << 20)

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

static int att_read(void *opaque, enum spe_plane plane, uint64_t off,
		    void *dst, size_t len)
{
	struct att_reader *rd = opaque;
	size_t i;
	int rc;

	rd->calls++;
	if (rd->fail_at && rd->calls == rd->fail_at)
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

static int16_t *random_tensor(uint64_t *seed, size_t n, int32_t amp,
			      int32_t fill)
{
	int16_t *t = xcalloc(n, sizeof(*t));
	size_t i;

	for (i = 0; i < n; i++)
		t[i] = (int16_t)(fill ? fill : prng_range(seed, amp));
	return t;
}

static void place(struct att_run *run, struct tbuf *b, const int16_t *data,
		  size_t n)
{
	uint16_t *le = xcalloc(n, sizeof(*le));
	size_t i;

	for (i = 0; data && i < n; i++)
		le[i] = htole16((uint16_t)data[i]);
	if (run->c.page_list)
		tbuf_paged(b, &run->mem, n * 2, (uint16_t)(n * 8 % 4096));
	else
		tbuf_contig(b, &run->mem, n * 2);
	if (data)
		tbuf_poke(&run->mem, b, 0, le, n * 2);
	free(le);
}

static void build_desc(const struct att_run *run, struct spatten_hw_desc *d)
{
	const struct att_case *c = &run->c;

	memset(d, 0, sizeof(*d));
	d->opcode = htole16(SPATTEN_OP_ATTENTION);
	d->desc_size = htole16(SPATTEN_DESC_SIZE);
	d->version = SPATTEN_DESC_VERSION;
	d->stage = c->generation ? SPATTEN_STAGE_GENERATION :
				   SPATTEN_STAGE_SUMMARIZATION;
	d->flags = htole16(c->causal ? SPATTEN_DESC_F_CAUSAL : 0);
	d->tag = htole32(0x600d);
	d->n_heads = htole16(c->heads);
	d->head_dim = htole16(c->d);
	d->q_rows = htole16(c->q_rows);
	d->kv_rows = htole16(c->kv_rows);
	d->q_start = htole16(c->q_start);
	d->q_frac = c->q_frac;
	d->k_frac = c->k_frac;
	d->v_frac = c->v_frac;
	d->out_frac = c->out_frac;
	desc_set_buf(&d->q, &run->q.ref);
	desc_set_buf(&d->k, &run->k.ref);
	desc_set_buf(&d->v, &run->v.ref);
	desc_set_buf(&d->out, &run->out.ref);
}

void att_setup(struct att_run *run, const struct att_case *c)
{
	size_t nq = (size_t)c->heads * c->q_rows * c->d;
	size_t nkv = (size_t)c->heads * c->kv_rows * c->d;
	uint64_t seed = c->seed ? c->seed : 0x9e3779b97f4a7c15ull;
	struct spatten_hw_desc desc;
	struct spe_caps caps;
	int p;

	memset(run, 0, sizeof(*run));
	run->c = *c;
	fake_mem_init(&run->mem, HARNESS_MEM);
	run->qd = random_tensor(&seed, nq, c->q_amp, c->fill);
	run->kd = random_tensor(&seed, nkv, c->k_amp, c->fill);
	run->vd = random_tensor(&seed, nkv, c->v_amp, c->fill);
	place(run, &run->q, run->qd, nq);
	place(run, &run->k, run->kd, nkv);
	place(run, &run->v, run->vd, nkv);
	place(run, &run->out, NULL, nq);
	run->outd = xcalloc(nq, sizeof(*run->outd));
	run->out_raw = xcalloc(nq, 2);

	build_desc(run, &desc);
	test_caps(&caps);
	run->decode_rc = spe_desc_decode(&desc, &caps, &run->job);

	run->rd.job = &run->job;
	run->rd.mem = &run->mem;
	for (p = 0; p < SPE_PLANE_COUNT; p++)
		if (run->job.buf[p].len)
			run->rd.seen[p] = xcalloc(run->job.buf[p].len, 1);
}

int att_execute(struct att_run *run)
{
	struct spe_mem mem = { .read = att_read, .opaque = &run->rd };
	size_t n = att_out_elems(&run->c), i;
	uint16_t *le;

	spe_run(&run->job, &mem, run->out_raw, &run->res);
	if (run->res.status)
		return run->res.status;

	run->write_rc = spe_buf_write(&run->job.buf[SPE_PLANE_OUT], 0,
				      run->out_raw, n * 2, fake_dma_read,
				      fake_dma_write, &run->mem);
	le = xcalloc(n, sizeof(*le));
	tbuf_peek(&run->mem, &run->out, 0, le, n * 2);
	for (i = 0; i < n; i++)
		run->outd[i] = (int16_t)le16toh(le[i]);
	free(le);
	return run->write_rc;
}

void att_teardown(struct att_run *run)
{
	int p;

	for (p = 0; p < SPE_PLANE_COUNT; p++)
		free(run->rd.seen[p]);
	tbuf_free(&run->q);
	tbuf_free(&run->k);
	tbuf_free(&run->v);
	tbuf_free(&run->out);
	free(run->qd);
	free(run->kd);
	free(run->vd);
	free(run->outd);
	free(run->out_raw);
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
