// SPDX-License-Identifier: MIT
/*
 * The replay's analytic traffic against the engine: every job the replay
 * builds from a trace is run for real by spe_run() on random operands, and
 * the bytes per plane, the work counts and the cycles must agree.
 *
 * (Separate from test_replay because it links the whole engine.)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "spe.h"
#include "spe_trace.h"
#include "tap.h"

#define HEADER "iteration_id,layer_id,head_id,embedding_length_D," \
	"sentence_length_L,key_fetch_num,quant_key_bit,quant_query_bit," \
	"auto_requant_thres,if_requant,auto_requant_incre,value_fetch_num," \
	"quant_value_bit,if_accumulate_importance," \
	"if_rescale_previous_importance,if_topk,topk"

/*
 * Three layers of one step, then a second step: token top-k before layer 0
 * (48 of 64), before layer 1 (24 of 48), none before layer 2 (24 alive);
 * value pruning in layers 0 and 2; LSB refetch in every head of layers 0
 * and 2 (the test forces the engine's decision to match); dense V in
 * layer 1; no importance accumulation in step 1 layer 2.
 */
static const char trace[] = HEADER "\n"
	"0,0,0,64.0,64,48,6,16,0.05,True,4,12,6,True,False,True,24\n"
	"0,0,1,64.0,64,48,6,16,0.05,True,4,12,6,True,False,False,-1\n"
	"0,0,2,64.0,64,48,6,16,0.05,True,4,12,6,True,False,False,-1\n"
	"0,1,0,64.0,64,24,8,16,0.05,False,4,24,-1,True,False,False,-1\n"
	"0,1,1,64.0,64,24,8,16,0.05,False,4,24,-1,True,False,False,-1\n"
	"0,1,2,64.0,64,24,8,16,0.05,False,4,24,-1,True,False,False,-1\n"
	"0,2,0,64.0,64,24,4,16,0.05,True,4,6,4,True,False,False,-1\n"
	"0,2,1,64.0,64,24,4,16,0.05,True,4,6,4,True,False,True,48\n"
	"1,0,0,64.0,65,48,6,-1,0.05,False,4,10,6,True,False,False,-1\n"
	"1,0,1,64.0,65,48,6,-1,0.05,False,4,10,6,True,False,False,-1\n"
	"1,1,0,64.0,65,24,6,16,-1,False,-1,5,12,False,False,False,-1\n";

struct plane_mem {
	uint8_t *p[SPE_PLANE_COUNT];
	uint32_t len[SPE_PLANE_COUNT];
	int bad;	/* an access out of bounds */
};

static int mem_read(void *opaque, enum spe_plane plane, uint64_t off,
		    void *dst, size_t len)
{
	struct plane_mem *m = opaque;

	if (!m->p[plane] || off + len > m->len[plane]) {
		m->bad = 1;
		return SPATTEN_HW_ERR_DMA_READ;
	}
	memcpy(dst, m->p[plane] + off, len);
	return 0;
}

static int mem_write(void *opaque, enum spe_plane plane, uint64_t off,
		     const void *src, size_t len)
{
	struct plane_mem *m = opaque;

	if (!m->p[plane] || off + len > m->len[plane]) {
		m->bad = 1;
		return SPATTEN_HW_ERR_DMA_WRITE;
	}
	memcpy(m->p[plane] + off, src, len);
	return 0;
}

static uint32_t fmt_bits(uint8_t fmt)
{
	static const uint32_t bits[] = { 16, 4, 6, 8, 10, 12 };

	return fmt < 6 ? bits[fmt] : 16;
}

static uint32_t rng = 12345;

static uint32_t next_rand(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 17;
	rng ^= rng << 5;
	return rng;
}

static const char *plane_name[SPE_PLANE_COUNT] = {
	"Q", "K_MSB", "K_LSB", "V", "OUT", "TOK_IMP", "TOK_ALIVE",
	"TOK_KEPT", "PINNED", "HEAD_IMP", "HEAD_ALIVE", "HEAD_KEPT",
};

struct ctx {
	int jobs;
};

static void check_job(void *opaque, const struct spe_trace_replay *r,
		      const struct spe_job *rjob, const struct spe_stats *st,
		      uint64_t dense_fp32, uint64_t cycles_full,
		      uint64_t cycles_eighth)
{
	struct ctx *cx = opaque;
	struct spe_job job = *rjob;
	struct plane_mem m = { 0 };
	struct spe_mem mem = { .read = mem_read, .write = mem_write, .opaque = &m };
	struct spe_caps caps;
	struct spe_result res;
	uint32_t h = job.n_heads, d = job.head_dim, l = job.kv_rows, i;
	int p, rc, same = 1;

	(void)dense_fp32;
	(void)cycles_eighth;
	cx->jobs++;

	memset(&caps, 0, sizeof(caps));
	caps.max_context = 1024;
	caps.max_heads = 64;
	caps.head_dims = 0xffffffffu;
	caps.formats = 0xffffffffu;
	caps.splits = 0xffffffffu;
	caps.features = 0xffffffffu;
	caps.dma_bits = 64;
	caps.model = spe_model_full();

	/* Full operands; the engine reads only what the job needs. */
	m.len[SPE_PLANE_Q] = h * d * 2;
	m.len[SPE_PLANE_K_MSB] = h * l * d * fmt_bits(job.k_fmt) / 8;
	if (job.flags & SPATTEN_DESC_F_PROGRESSIVE)
		m.len[SPE_PLANE_K_LSB] = h * l * d * 4 / 8;
	m.len[SPE_PLANE_V] = h * l * d * fmt_bits(job.v_fmt) / 8;
	m.len[SPE_PLANE_OUT] = h * d * 2;
	if (st->bytes[SPE_PLANE_TOK_IMP])
		m.len[SPE_PLANE_TOK_IMP] = l * 8;
	m.len[SPE_PLANE_TOK_ALIVE] = job.n_tok_alive * 2;
	m.len[SPE_PLANE_TOK_KEPT] = job.token_keep * 2;
	for (p = 0; p < SPE_PLANE_COUNT; p++) {
		job.buf[p].len = m.len[p];
		job.buf[p].addr = m.len[p] ? 0x100000ull * (p + 1) : 0;
		if (!m.len[p])
			continue;
		m.p[p] = calloc(1, m.len[p]);
		for (i = 0; i < m.len[p] && p != SPE_PLANE_TOK_IMP &&
			    p != SPE_PLANE_TOK_ALIVE; i++)
			m.p[p][i] = (uint8_t)next_rand();
	}
	/* Small queries: flat softmax, so every row can refetch. */
	for (i = 0; i < h * d; i++) {
		int16_t q = (int16_t)(next_rand() % 9) - 4;

		m.p[SPE_PLANE_Q][2 * i] = (uint8_t)q;
		m.p[SPE_PLANE_Q][2 * i + 1] = (uint8_t)((uint16_t)q >> 8);
	}
	job.q_frac = 12;
	job.k_frac = 8;
	job.v_frac = 8;
	job.out_frac = 8;
	/* Alive: the last n tokens, ascending (the current one included). */
	for (i = 0; i < job.n_tok_alive; i++) {
		uint16_t t = (uint16_t)(l - job.n_tok_alive + i);

		m.p[SPE_PLANE_TOK_ALIVE][2 * i] = (uint8_t)t;
		m.p[SPE_PLANE_TOK_ALIVE][2 * i + 1] = (uint8_t)(t >> 8);
	}
	/* The trace decided the refetch; make the engine decide alike. */
	if (job.flags & SPATTEN_DESC_F_PROGRESSIVE)
		job.lsb_threshold = st->refetch_rows ? 32768 : 0;

	memset(&res, 0, sizeof(res));
	rc = spe_run(&job, &caps, &mem, &res);
	ok(rc == SPATTEN_HW_OK && !m.bad,
	   "iteration %u layer %u: spe_run() accepts the replay's job "
	   "(status %d)", r->iteration, r->layer, rc);
	for (p = 0; p < SPE_PLANE_COUNT; p++) {
		if (res.stats.bytes[p] != st->bytes[p]) {
			diag("  plane %s: engine %llu, replay %llu",
			     plane_name[p],
			     (unsigned long long)res.stats.bytes[p],
			     (unsigned long long)st->bytes[p]);
			same = 0;
		}
	}
	ok(same, "iteration %u layer %u: bytes per plane equal the engine's",
	   r->iteration, r->layer);
	ok(res.stats.qk_scores == st->qk_scores &&
	   res.stats.pv_rows == st->pv_rows &&
	   res.stats.refetch_rows == st->refetch_rows &&
	   res.stats.tokens_kept == st->tokens_kept &&
	   res.stats.heads == st->heads &&
	   res.stats.query_rows == st->query_rows,
	   "iteration %u layer %u: work counts equal the engine's "
	   "(qk %llu/%llu pv %llu/%llu refetch %llu/%llu kept %llu/%llu)",
	   r->iteration, r->layer,
	   (unsigned long long)res.stats.qk_scores,
	   (unsigned long long)st->qk_scores,
	   (unsigned long long)res.stats.pv_rows,
	   (unsigned long long)st->pv_rows,
	   (unsigned long long)res.stats.refetch_rows,
	   (unsigned long long)st->refetch_rows,
	   (unsigned long long)res.stats.tokens_kept,
	   (unsigned long long)st->tokens_kept);
	/*
	 * Cycles: equal once the top-k cycles (data-dependent pivots in the
	 * engine, modeled in the replay) are taken out of both.
	 */
	ok(res.cycles - res.stats.topk_cycles ==
	   cycles_full - st->topk_cycles,
	   "iteration %u layer %u: cycles equal the engine's apart from "
	   "top-k (engine %llu - %llu, replay %llu - %llu)",
	   r->iteration, r->layer, (unsigned long long)res.cycles,
	   (unsigned long long)res.stats.topk_cycles,
	   (unsigned long long)cycles_full,
	   (unsigned long long)st->topk_cycles);
	ok((res.stats.topk_cycles > 0) == !!job.token_keep &&
	   (st->topk_cycles > 0) == !!job.token_keep,
	   "iteration %u layer %u: top-k cycles exactly where a token top-k "
	   "runs (the value top-k is hidden behind the scores)",
	   r->iteration, r->layer);
	for (p = 0; p < SPE_PLANE_COUNT; p++)
		free(m.p[p]);
}

int main(void)
{
	struct spe_trace_replay r;
	struct ctx cx = { 0 };
	int ret;

	spe_trace_replay_init(&r);
	r.on_job = check_job;
	r.opaque = &cx;
	ret = spe_trace_replay_buffer(&r, trace, strlen(trace));
	ok(ret == 0 && cx.jobs == 5, "the trace replays as 5 jobs (%s)",
	   ret ? r.parser.err : "ok");
	return done_testing();
}
