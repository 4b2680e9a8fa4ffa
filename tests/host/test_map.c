// SPDX-License-Identifier: MIT
/*
 * struct spe_mem's optional map: random jobs (shapes, causal, generation,
 * token, head and value pruning, alive and pinned lists, packed and
 * progressive formats, contiguous and page-list operands) run four ways
 * on identical fake memories: read only (map NULL), map wherever the
 * bytes are contiguous, map declining every other call, map always
 * declining. Everything must be the same bit for bit: status, cycles,
 * statistics (traffic included), every byte of guest memory afterwards.
 * With map, the bytes mapped plus the bytes read per plane must equal the
 * bytes read without it, no byte may be read or mapped twice, and
 * contiguous Q, K and V rows must all come through map.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "attn_harness.h"
#include "spatten_hw.h"
#include "tap.h"

#define N_JOBS		400
#define N_MODES		4

enum { MODE_READ, MODE_MAP, MODE_MAP_HALF, MODE_MAP_NONE };

struct map_io {
	struct att_run *run;
	int mode;
	unsigned int map_calls;
	unsigned int gathers;			/* spans given to gathers */
	uint64_t rbytes[SPE_PLANE_COUNT];	/* through read */
	uint64_t mbytes[SPE_PLANE_COUNT];	/* through map */
	uint8_t *seen[SPE_PLANE_COUNT];
	int twice;				/* a byte moved twice */
	int bad;				/* out of range request */
};

static void mark(struct map_io *io, enum spe_plane plane, uint64_t off,
		 size_t len)
{
	const struct spe_buf *b = &io->run->job.buf[plane];
	size_t i;

	if (!io->seen[plane] || off > b->len || len > b->len - off) {
		io->bad = 1;
		return;
	}
	for (i = 0; i < len; i++)
		if (io->seen[plane][off + i]++)
			io->twice = 1;
}

static int io_read(void *opaque, enum spe_plane plane, uint64_t off,
		   void *dst, size_t len)
{
	struct map_io *io = opaque;
	int rc;

	rc = spe_buf_read(&io->run->job.buf[plane], off, dst, len,
			  fake_dma_read, &io->run->mem);
	if (!rc) {
		io->rbytes[plane] += len;
		mark(io, plane, off, len);
	}
	return rc;
}

static int io_write(void *opaque, enum spe_plane plane, uint64_t off,
		    const void *src, size_t len)
{
	struct map_io *io = opaque;

	return spe_buf_write(&io->run->job.buf[plane], off, src, len,
			     fake_dma_read, fake_dma_write, &io->run->mem);
}

static const void *io_map(void *opaque, enum spe_plane plane, uint64_t off,
			  size_t len)
{
	struct map_io *io = opaque;
	const void *p;

	io->map_calls++;
	if (io->mode == MODE_MAP_NONE ||
	    (io->mode == MODE_MAP_HALF && (io->map_calls & 1)))
		return NULL;
	p = fake_buf_map(&io->run->mem, &io->run->job.buf[plane], off, len);
	if (p) {
		io->mbytes[plane] += len;
		mark(io, plane, off, len);
	}
	return p;
}

/*
 * A gather's span: the provider counts the @used bytes the engine reads
 * (the rows), and every byte of the span is marked once (spans of one
 * plane never overlap, nor do they overlap its other reads).
 */
static const void *io_map_gather(void *opaque, enum spe_plane plane,
				 uint64_t off, size_t len, size_t used)
{
	struct map_io *io = opaque;
	const void *p = io_map(opaque, plane, off, len);

	if (p) {
		io->mbytes[plane] -= len - used;
		io->gathers++;
	}
	return p;
}

struct job_lists {
	uint16_t tok_alive[256], pinned[256], head_alive[16];
	uint64_t tok_imp[256], head_imp[16];
};

static uint32_t pick(uint64_t *s, uint32_t lo, uint32_t hi)
{
	return lo + prng_next(s) % (hi - lo + 1);
}

/* A random ascending subset of [0, n) of @k elements. */
static uint16_t subset(uint64_t *s, uint32_t n, uint32_t k, uint16_t *dst)
{
	uint32_t i, got = 0;

	for (i = 0; i < n && got < k; i++)
		if (prng_next(s) % (n - i) < k - got)
			dst[got++] = (uint16_t)i;
	return (uint16_t)got;
}

static void random_case(uint64_t *s, struct att_case *c, struct job_lists *l,
			uint32_t n)
{
	static const uint32_t dims[] = { 16, 32, 64 };
	uint32_t stage = pick(s, 0, 2), kv, i, kb;
	int token_sub;

	memset(c, 0, sizeof(*c));
	c->name = "random";
	c->heads = pick(s, 1, 4);
	c->d = dims[pick(s, 0, 2)];
	kv = pick(s, 1, 160);
	c->kv_rows = kv;
	c->seed = 1000 + n;
	c->topk_seed = prng_next(s);
	c->page_list = prng_next(s) & 1;
	c->q_frac = 12;
	c->k_frac = (uint8_t)pick(s, 2, 12);
	c->v_frac = (uint8_t)pick(s, 2, 12);
	c->out_frac = (uint8_t)pick(s, 6, 12);
	c->q_amp = 8192;
	c->k_fmt = (uint8_t)pick(s, 0, SPATTEN_FMT_NUM - 1);
	c->v_fmt = (uint8_t)pick(s, 0, SPATTEN_FMT_NUM - 1);
	if (c->k_fmt != SPATTEN_FMT_S16 && pick(s, 0, 2) == 0) {
		kb = spatten_hw_fmt_bits(c->k_fmt);
		c->progressive = 1;
		c->k_amp = (1 << (kb + 3)) - 1;
		c->lsb_threshold = (uint16_t)pick(s, 0, 32768);
	} else {
		c->k_amp = c->k_fmt == SPATTEN_FMT_S16 ? 8192 :
						       att_fmt_max(c->k_fmt);
	}
	c->v_amp = c->v_fmt == SPATTEN_FMT_S16 ? 16384 : att_fmt_max(c->v_fmt);

	token_sub = stage != 1 && pick(s, 0, 1);
	if (token_sub && pick(s, 0, 2) == 0) {
		c->n_tok_alive = subset(s, kv, pick(s, 1, kv), l->tok_alive);
		c->tok_alive = l->tok_alive;
	}
	if (token_sub && pick(s, 0, 2)) {
		uint32_t cand = c->n_tok_alive ? c->n_tok_alive : kv;

		if (pick(s, 0, 3) == 0 && kv > 2) {
			c->n_pinned = subset(s, kv, pick(s, 1, 3), l->pinned);
			c->pinned = l->pinned;
		}
		c->token_keep = (uint16_t)pick(s, 1, cand);
		if (c->token_keep < c->n_pinned + 1u)
			c->token_keep = (uint16_t)(c->n_pinned + 1u);
	}
	if (stage == 2) {
		c->generation = 1;
		c->causal = 1;
		c->q_rows = 1;
		c->q_start = kv - 1;
	} else {
		c->causal = stage == 1;
		if (token_sub) {
			c->q_rows = kv;
		} else {
			c->q_rows = pick(s, 1, kv);
			if (c->causal)
				c->q_start = pick(s, 0, kv - c->q_rows);
		}
	}
	if (pick(s, 0, 3) == 0) {
		c->n_head_alive = subset(s, c->heads, pick(s, 1, c->heads),
					 l->head_alive);
		c->head_alive = l->head_alive;
	}
	if (pick(s, 0, 2) == 0)
		c->head_keep = (uint16_t)pick(s, 1, c->n_head_alive ?
						   c->n_head_alive : c->heads);
	if (pick(s, 0, 2) == 0)
		c->value_keep = (uint16_t)pick(s, 1, kv);
	c->with_tok_imp = pick(s, 0, 1);
	c->with_head_imp = pick(s, 0, 1);
	for (i = 0; i < kv; i++)
		l->tok_imp[i] = prng_next(s) % 5000;
	for (i = 0; i < c->heads; i++)
		l->head_imp[i] = prng_next(s) % 50000;
	c->tok_imp_init = l->tok_imp;
	c->head_imp_init = l->head_imp;
}

static void run_mode(struct att_run *run, struct map_io *io, int mode)
{
	struct spe_mem mem = { .read = io_read, .write = io_write,
			       .opaque = io };
	int p;

	memset(io, 0, sizeof(*io));
	io->run = run;
	io->mode = mode;
	for (p = 0; p < SPE_PLANE_COUNT; p++)
		if (run->job.buf[p].len)
			io->seen[p] = calloc(run->job.buf[p].len, 1);
	if (mode != MODE_READ) {
		mem.map = io_map;
		mem.map_gather = io_map_gather;
	}
	spe_run(&run->job, &run->caps, &mem, &run->res);
}

static void free_io(struct map_io *io)
{
	int p;

	for (p = 0; p < SPE_PLANE_COUNT; p++)
		free(io->seen[p]);
}

static const enum spe_plane row_planes[] = {
	SPE_PLANE_Q, SPE_PLANE_K_MSB, SPE_PLANE_K_LSB, SPE_PLANE_V,
};

int main(void)
{
	uint64_t s = 0x6d61702d74657374ull;
	unsigned int bad[N_MODES] = { 0 }, ran_ok = 0, decoded = 0, n;
	unsigned int mapped_jobs = 0, inplace_fail = 0, traffic_bad = 0;
	unsigned int twice = 0, gather_jobs = 0;

	for (n = 0; n < N_JOBS; n++) {
		struct att_case c;
		struct job_lists l;
		struct att_run ref, run;
		struct map_io rio, mio;
		int mode, p;

		random_case(&s, &c, &l, n);
		att_setup(&ref, &c);
		if (ref.decode_rc) {
			att_teardown(&ref);
			continue;
		}
		decoded++;
		run_mode(&ref, &rio, MODE_READ);
		if (!ref.res.status)
			ran_ok++;
		twice += rio.twice || rio.bad;
		for (mode = MODE_MAP; mode < N_MODES; mode++) {
			int same;

			att_setup(&run, &c);
			run_mode(&run, &mio, mode);
			same = run.res.status == ref.res.status &&
			       run.res.cycles == ref.res.cycles &&
			       run.res.lsb_refetches == ref.res.lsb_refetches &&
			       !memcmp(&run.res.stats, &ref.res.stats,
				       sizeof(ref.res.stats)) &&
			       run.mem.brk == ref.mem.brk &&
			       !memcmp(run.mem.ram, ref.mem.ram, ref.mem.brk);
			if (!same) {
				if (!bad[mode])
					diag("job %u mode %d differs: status "
					     "%u/%u", n, mode, run.res.status,
					     ref.res.status);
				bad[mode]++;
			}
			twice += mio.twice || mio.bad;
			for (p = 0; p < SPE_PLANE_COUNT; p++)
				if (mio.rbytes[p] + mio.mbytes[p] !=
				    rio.rbytes[p] ||
				    (!ref.res.status &&
				     run.res.stats.bytes[p] !=
				     ref.res.stats.bytes[p]))
					traffic_bad++;
			gather_jobs += mode == MODE_MAP && mio.gathers;
			if (mode == MODE_MAP && !c.page_list) {
				if (run.mem.maps)
					mapped_jobs++;
				for (p = 0; p < 4; p++)
					if (mio.rbytes[row_planes[p]])
						inplace_fail++;
			}
			free_io(&mio);
			att_teardown(&run);
		}
		free_io(&rio);
		att_teardown(&ref);
	}
	diag("%u jobs, %u decoded, %u ran to success, %u mapped "
	     "(contiguous operands)", N_JOBS, decoded, ran_ok, mapped_jobs);
	ok(decoded > N_JOBS / 2 && ran_ok > N_JOBS / 3,
	   "most random jobs decode and run (%u, %u of %u)", decoded, ran_ok,
	   N_JOBS);
	ok(!bad[MODE_MAP], "map where contiguous: identical results, stats "
	   "and memory (%u differ)", bad[MODE_MAP]);
	ok(!bad[MODE_MAP_HALF], "map declining every other call: identical "
	   "(%u differ)", bad[MODE_MAP_HALF]);
	ok(!bad[MODE_MAP_NONE], "map always declining: identical (%u differ)",
	   bad[MODE_MAP_NONE]);
	ok(!traffic_bad, "bytes mapped + bytes read = bytes read without map, "
	   "per plane; stats.bytes unchanged (%u mismatches)", traffic_bad);
	ok(gather_jobs >= N_JOBS / 50, "%u jobs read kept rows in place "
	   "through map_gather (pruned generation steps)", gather_jobs);
	ok(!twice, "no byte read or mapped twice, none out of range (%u jobs)",
	   twice);
	ok(!inplace_fail && mapped_jobs > 0, "contiguous operands: every Q, K "
	   "and V row through map, none read (%u jobs read some)",
	   inplace_fail);
	return done_testing();
}
