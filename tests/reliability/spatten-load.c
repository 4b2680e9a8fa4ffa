// SPDX-License-Identifier: MIT
/*
 * Campaign 4 (issue #7): load. P processes (-p, 8) each run J verified
 * jobs (-j, 1000) of mixed shapes through the board's node, several in flight
 * per process, most with pruning on: token pruning (kept lists, pinned
 * tokens, alive lists, importance write-back), head pruning, value
 * pruning, progressive quantization, packed K/V formats, summarization and
 * generation.
 *
 * Every job is checked against the engine run in-process on the same
 * inputs (spe_desc_decode + spe_run over this process's memory: the device
 * model runs that very code, so status and every written byte must be
 * bit-exact), and the dense S16 jobs also against a double-precision
 * attention within the engine's documented bound (spe_out_tolerance).
 *
 * Jobs go in batches of the slots REAP freed (no back-pressure: SUBMIT
 * queues up to max_jobs unreaped jobs per file), and REAP returns them in
 * completion order.
 *
 * Pass: zero mismatches, zero lost jobs (REAP returns each once, a WAIT
 * after it is -ENOENT, the user_data matches), all processes exit cleanly,
 * objects back to level.
 *
 * Usage: spatten-load [-p procs] [-j jobs] [-s seed]
 */
#include <math.h>

#include "rel_common.h"
#include "spe.h"

#define SLOTS		8		/* jobs in flight per process */
#define PLANE_SZ	(32 * 1024)
#define SLOT_SZ		(SPE_PLANE_COUNT * PLANE_SZ)
#define MAX_KV		48
#define MAX_H		4

static int nprocs = 8, njobs = 1000;
static uint64_t seed0 = 1;
static struct drm_spatten_info info;
static struct spe_caps caps;

struct result {			/* per process, shared */
	long jobs, mismatches, lost, dense_checked, pruned, progressive;
	long status_err;
	double max_err_ratio;
	char first[256];
};

struct slot {
	struct drm_spatten_job j;
	uint8_t *dev;		/* the slot's region in the mapped BO */
	uint8_t *sim;		/* same layout, for the engine */
	uint64_t seqno;
	int dense;		/* double reference applies */
};

static int sim_dma_read(void *opaque, uint64_t addr, void *dst, size_t len)
{
	memcpy(dst, (void *)(uintptr_t)addr, len);
	return 0;
}

static int sim_dma_write(void *opaque, uint64_t addr, const void *src,
			 size_t len)
{
	memcpy((void *)(uintptr_t)addr, src, len);
	return 0;
}

static int sim_read(void *opaque, enum spe_plane plane, uint64_t off,
		    void *dst, size_t len)
{
	struct spe_job *job = opaque;

	return spe_buf_read(&job->buf[plane], off, dst, len, sim_dma_read,
			    NULL);
}

static int sim_write(void *opaque, enum spe_plane plane, uint64_t off,
		     const void *src, size_t len)
{
	struct spe_job *job = opaque;

	return spe_buf_write(&job->buf[plane], off, src, len, sim_dma_read,
			     sim_dma_write, NULL);
}

/* Plane p of the job <-> tensor field of struct drm_spatten_job. */
static struct drm_spatten_tensor *jt(struct drm_spatten_job *j, int p)
{
	switch (p) {
	case SPE_PLANE_Q: return &j->q;
	case SPE_PLANE_K_MSB: return &j->k;
	case SPE_PLANE_K_LSB: return &j->k_lsb;
	case SPE_PLANE_V: return &j->v;
	case SPE_PLANE_OUT: return &j->out;
	case SPE_PLANE_TOK_IMP: return &j->tok_imp;
	case SPE_PLANE_TOK_ALIVE: return &j->tok_alive;
	case SPE_PLANE_TOK_KEPT: return &j->tok_kept;
	case SPE_PLANE_PINNED: return &j->pinned;
	case SPE_PLANE_HEAD_IMP: return &j->head_imp;
	case SPE_PLANE_HEAD_ALIVE: return &j->head_alive;
	default: return &j->head_kept;
	}
}

static struct spatten_hw_buf *hb(struct spatten_hw_desc *d, int p)
{
	switch (p) {
	case SPE_PLANE_Q: return &d->q;
	case SPE_PLANE_K_MSB: return &d->k;
	case SPE_PLANE_K_LSB: return &d->k_lsb;
	case SPE_PLANE_V: return &d->v;
	case SPE_PLANE_OUT: return &d->out;
	case SPE_PLANE_TOK_IMP: return &d->tok_imp;
	case SPE_PLANE_TOK_ALIVE: return &d->tok_alive;
	case SPE_PLANE_TOK_KEPT: return &d->tok_kept;
	case SPE_PLANE_PINNED: return &d->pinned;
	case SPE_PLANE_HEAD_IMP: return &d->head_imp;
	case SPE_PLANE_HEAD_ALIVE: return &d->head_alive;
	default: return &d->head_kept;
	}
}

/* A random ascending subset of 0..n-1 of size k into @out. */
static void subset(uint64_t *r, uint16_t *out, unsigned n, unsigned k)
{
	unsigned i, m = 0;

	for (i = 0; i < n && m < k; i++)
		if (rndn(r, n - i) < k - m)
			out[m++] = (uint16_t)i;
}

static void fill_rand(uint64_t *r, uint8_t *p, size_t n, int bits)
{
	size_t i;

	if (bits == 16) {
		for (i = 0; i + 1 < n; i += 2) {
			int16_t v = (int16_t)((int)rndn(r, 8192) - 4096);

			memcpy(p + i, &v, 2);
		}
	} else {
		for (i = 0; i < n; i++)
			p[i] = (uint8_t)rnd64(r);
	}
}

/* Build a random job in @s (handle @h, slot region at byte @base of it). */
static void make_job(uint64_t *r, struct slot *s, uint32_t h, uint64_t base)
{
	struct drm_spatten_job *j = &s->j;
	uint8_t *d = s->dev;
	unsigned heads = 1 + rndn(r, MAX_H), dim = 16u << rndn(r, 3);
	unsigned kv = 1 + rndn(r, MAX_KV), qr;
	bool gen = rndn(r, 3) == 0;
	bool prune = rndn(r, 10) < 7;
	unsigned kbits, vbits, p;
	static const int fbits[] = { 16, 4, 6, 8, 10, 12 };

	if (heads > info.max_heads)
		heads = info.max_heads;
	memset(j, 0, sizeof(*j));
	memset(d, 0, SLOT_SZ);
	j->opcode = DRM_SPATTEN_OP_ATTENTION;
	j->version = DRM_SPATTEN_DESC_V2;
	j->n_heads = heads;
	j->head_dim = dim;
	j->kv_rows = kv;
	if (gen) {
		j->stage = DRM_SPATTEN_STAGE_GENERATION;
		qr = 1;
		j->q_start = kv - 1;
		j->flags = DRM_SPATTEN_JOB_CAUSAL;
	} else {
		qr = kv;
		if (!prune && rndn(r, 2)) {
			qr = 1 + rndn(r, kv);
			j->flags = DRM_SPATTEN_JOB_CAUSAL;
			j->q_start = rndn(r, kv - qr + 1);
		} else if (rndn(r, 2)) {
			j->flags = DRM_SPATTEN_JOB_CAUSAL;
		}
	}
	j->q_rows = qr;
	j->q_fmt = j->out_fmt = DRM_SPATTEN_FMT_S16;
	j->q_frac = 10 + rndn(r, 4);
	j->k_frac = 10 + rndn(r, 4);
	j->v_frac = 10 + rndn(r, 4);
	j->out_frac = 10 + rndn(r, 4);
	j->k_fmt = j->v_fmt = DRM_SPATTEN_FMT_S16;
	s->dense = !prune;
	if (prune) {
		if (rndn(r, 2))
			j->k_fmt = 1 + rndn(r, 5);
		if (rndn(r, 2))
			j->v_fmt = 1 + rndn(r, 5);
		if (j->k_fmt != DRM_SPATTEN_FMT_S16 && rndn(r, 2) &&
		    (info.features & DRM_SPATTEN_FEAT_PROGRESSIVE)) {
			j->flags |= DRM_SPATTEN_JOB_PROGRESSIVE;
			j->lsb_threshold = rndn(r, 32769);
		}
	}
	kbits = fbits[j->k_fmt];
	vbits = fbits[j->v_fmt];
	fill_rand(r, d + SPE_PLANE_Q * PLANE_SZ, heads * qr * dim * 2, 16);
	fill_rand(r, d + SPE_PLANE_K_MSB * PLANE_SZ, heads * kv * dim * kbits / 8,
		  kbits);
	fill_rand(r, d + SPE_PLANE_V * PLANE_SZ, heads * kv * dim * vbits / 8,
		  vbits);
	if (j->flags & DRM_SPATTEN_JOB_PROGRESSIVE)
		fill_rand(r, d + SPE_PLANE_K_LSB * PLANE_SZ,
			  heads * kv * dim / 2, 8);
	if (prune) {
		uint64_t *ti = (uint64_t *)(d + SPE_PLANE_TOK_IMP * PLANE_SZ);
		uint64_t *hi = (uint64_t *)(d + SPE_PLANE_HEAD_IMP * PLANE_SZ);
		uint16_t *alive = (uint16_t *)(d + SPE_PLANE_TOK_ALIVE * PLANE_SZ);
		uint16_t *pin = (uint16_t *)(d + SPE_PLANE_PINNED * PLANE_SZ);
		uint16_t *ha = (uint16_t *)(d + SPE_PLANE_HEAD_ALIVE * PLANE_SZ);
		unsigned cand = kv, i;

		for (i = 0; i < kv; i++)
			ti[i] = rndn(r, 1u << 20);
		for (i = 0; i < heads; i++)
			hi[i] = rndn(r, 1u << 24);
		if (rndn(r, 4)) {
			tensor(&j->tok_imp, h, 0);	/* offsets set below */
			if (kv > 2 && rndn(r, 3) == 0) {
				j->n_tok_alive = 1 + rndn(r, kv - 1);
				subset(r, alive, kv - gen, j->n_tok_alive);
				cand = j->n_tok_alive + gen;
			}
			if (rndn(r, 3)) {
				unsigned lo = gen;

				if (!j->n_tok_alive && rndn(r, 2) && kv > 1) {
					j->n_pinned = 1 + rndn(r, kv / 2);
					subset(r, pin, kv - gen, j->n_pinned);
					lo += j->n_pinned;
				}
				if (lo < 1)
					lo = 1;
				j->token_keep = lo + rndn(r, cand - lo + 1);
			}
		}
		if (heads > 1 && rndn(r, 2) &&
		    (info.features & DRM_SPATTEN_FEAT_HEAD_PRUNE)) {
			unsigned n = heads;

			tensor(&j->head_imp, h, 0);
			if (rndn(r, 3) == 0) {
				j->n_head_alive = n = 1 + rndn(r, heads);
				subset(r, ha, heads, n);
			}
			if (rndn(r, 3))
				j->head_keep = 1 + rndn(r, n);
		}
		if (rndn(r, 2))
			j->value_keep = 1 + rndn(r, kv);
		j->topk_seed = (uint32_t)rnd64(r);
	}
	for (p = 0; p < SPE_PLANE_COUNT_V2; p++) {
		bool present;

		switch (p) {
		case SPE_PLANE_K_LSB:
			present = j->flags & DRM_SPATTEN_JOB_PROGRESSIVE;
			break;
		case SPE_PLANE_TOK_IMP:
			present = j->tok_imp.handle;
			break;
		case SPE_PLANE_TOK_ALIVE:
			present = j->n_tok_alive;
			break;
		case SPE_PLANE_TOK_KEPT:
			present = j->token_keep;
			break;
		case SPE_PLANE_PINNED:
			present = j->n_pinned;
			break;
		case SPE_PLANE_HEAD_IMP:
			present = j->head_imp.handle;
			break;
		case SPE_PLANE_HEAD_ALIVE:
			present = j->n_head_alive;
			break;
		case SPE_PLANE_HEAD_KEPT:
			present = j->head_keep;
			break;
		default:
			present = true;
		}
		if (present)
			tensor(jt(j, p), h, base + p * PLANE_SZ);
	}
	memcpy(s->sim, s->dev, SLOT_SZ);
}

/* The engine on the job, over s->sim; returns the status. */
static int sim_run(struct slot *s, struct spe_job *sj)
{
	struct spatten_hw_desc d;
	struct drm_spatten_job *j = &s->j;
	struct spe_result res;
	struct spe_mem mem = { .read = sim_read, .write = sim_write, .opaque = sj };
	int p, st;

	memset(&d, 0, sizeof(d));
	d.opcode = j->opcode;
	d.desc_size = SPATTEN_DESC_SIZE;
	d.version = j->version;
	d.stage = j->stage;
	d.flags = (uint16_t)j->flags;
	d.n_heads = j->n_heads;
	d.head_dim = j->head_dim;
	d.q_rows = j->q_rows;
	d.kv_rows = j->kv_rows;
	d.q_start = j->q_start;
	d.q_fmt = j->q_fmt;
	d.q_frac = j->q_frac;
	d.k_fmt = j->k_fmt;
	d.k_frac = j->k_frac;
	d.v_fmt = j->v_fmt;
	d.v_frac = j->v_frac;
	d.out_fmt = j->out_fmt;
	d.out_frac = j->out_frac;
	d.n_tok_alive = j->n_tok_alive;
	d.token_keep = j->token_keep;
	d.n_pinned = j->n_pinned;
	d.n_head_alive = j->n_head_alive;
	d.head_keep = j->head_keep;
	d.value_keep = j->value_keep;
	d.lsb_threshold = j->lsb_threshold;
	d.topk_seed = j->topk_seed;
	for (p = 0; p < SPE_PLANE_COUNT_V2; p++) {
		if (!jt(j, p)->handle)
			continue;
		hb(&d, p)->addr = (uintptr_t)(s->sim + p * PLANE_SZ);
		hb(&d, p)->len = PLANE_SZ;
	}
	st = spe_desc_decode(&d, sizeof(d), &caps, sj);
	if (st)
		return st;
	memset(&res, 0, sizeof(res));
	return spe_run(sj, &caps, &mem, &res);
}

/* Dense S16 job: double attention vs the device, within the bound. */
static double dense_check(struct slot *s, const struct spe_job *sj)
{
	struct drm_spatten_job *j = &s->j;
	const int16_t *q = (int16_t *)(s->dev + SPE_PLANE_Q * PLANE_SZ);
	const int16_t *k = (int16_t *)(s->dev + SPE_PLANE_K_MSB * PLANE_SZ);
	const int16_t *v = (int16_t *)(s->dev + SPE_PLANE_V * PLANE_SZ);
	const int16_t *o = (int16_t *)(s->dev + SPE_PLANE_OUT * PLANE_SZ);
	unsigned H = j->n_heads, D = j->head_dim, L0 = j->q_rows,
		 L1 = j->kv_rows, m, i, jj, e;
	double sq = 1.0 / ((double)(1u << j->q_frac) * (1u << j->k_frac)) /
		    sqrt(D), vs = 1.0 / (1u << j->v_frac),
		    os = 1.0 / (1u << j->out_frac), maxv = 0, tol, worst = 0;
	double sc[MAX_KV], acc[256];

	for (i = 0; i < H * L1 * D; i++)
		maxv = fmax(maxv, fabs(v[i] * vs));
	tol = spe_out_tolerance(sj, maxv);
	for (m = 0; m < H; m++) {
		for (i = 0; i < L0; i++) {
			unsigned vis = (j->flags & DRM_SPATTEN_JOB_CAUSAL) ?
				       j->q_start + i + 1 : L1;
			double mx = -INFINITY, sum = 0;

			for (jj = 0; jj < vis; jj++) {
				double dot = 0;

				for (e = 0; e < D; e++)
					dot += (double)q[(m * L0 + i) * D + e] *
					       k[(m * L1 + jj) * D + e];
				sc[jj] = dot * sq;
				mx = fmax(mx, sc[jj]);
			}
			for (jj = 0; jj < vis; jj++) {
				sc[jj] = exp(sc[jj] - mx);
				sum += sc[jj];
			}
			for (e = 0; e < D; e++)
				acc[e] = 0;
			for (jj = 0; jj < vis; jj++)
				for (e = 0; e < D; e++)
					acc[e] += sc[jj] / sum *
						  v[(m * L1 + jj) * D + e] * vs;
			for (e = 0; e < D; e++) {
				double ref = fmin(fmax(acc[e], -32768 * os),
						  32767 * os);
				double got = o[(m * L0 + i) * D + e] * os;
				double err = fabs(got - ref) / (tol > 0 ? tol : 1);

				if (err > worst)
					worst = err;
			}
		}
	}
	return worst;	/* > 1: outside the bound */
}

static void fail(struct result *res, const char *fmt, ...)
{
	va_list ap;

	if (!res->mismatches++ && !res->lost) {
		va_start(ap, fmt);
		vsnprintf(res->first, sizeof(res->first), fmt, ap);
		va_end(ap);
	}
}

/* Submit the slots listed in @idx (n of them) in one SUBMIT. */
static int submit_slots(int fd, struct slot *sl, const int *idx, int n)
{
	struct drm_spatten_job j[SLOTS];
	uint64_t seqno;
	int i, ret;

	for (i = 0; i < n; i++)
		j[i] = sl[idx[i]].j;
	ret = submit(fd, j, n, &seqno);
	if (ret)
		return ret;
	for (i = 0; i < n; i++)
		sl[idx[i]].seqno = seqno + i;
	return 0;
}

/* Check one result against the engine; refill its slot if jobs are left. */
static void check_result(struct slot *s, const struct drm_spatten_result *w,
			 struct result *res)
{
	struct spe_job sj;
	int st;

	res->jobs++;
	if (w->user_data != s->j.user_data)
		fail(res, "user_data %llu, expected %llu",
		     (unsigned long long)w->user_data,
		     (unsigned long long)s->j.user_data);
	st = sim_run(s, &sj);
	if (st != (int)w->status)
		fail(res, "status %u, engine %d (heads %u dim %u kv %u "
		     "tk %u hk %u vk %u prog %u)", w->status, st,
		     s->j.n_heads, s->j.head_dim, s->j.kv_rows,
		     s->j.token_keep, s->j.head_keep, s->j.value_keep,
		     !!(s->j.flags & DRM_SPATTEN_JOB_PROGRESSIVE));
	else if (memcmp(s->dev, s->sim, SLOT_SZ))
		fail(res, "written bytes differ from the engine "
		     "(heads %u dim %u kv %u tk %u hk %u vk %u)",
		     s->j.n_heads, s->j.head_dim, s->j.kv_rows,
		     s->j.token_keep, s->j.head_keep, s->j.value_keep);
	if (w->status)
		res->status_err++;
	if (s->j.token_keep || s->j.head_keep || s->j.value_keep)
		res->pruned++;
	if (s->j.flags & DRM_SPATTEN_JOB_PROGRESSIVE)
		res->progressive++;
	if (s->dense && !w->status) {
		double e = dense_check(s, &sj);

		res->dense_checked++;
		if (e > res->max_err_ratio)
			res->max_err_ratio = e;
		if (e > 1)
			fail(res, "dense job beyond the tolerance (%.2f x)", e);
	}
}

/*
 * SLOTS jobs in flight, submitted together when several slots are free;
 * REAP takes whatever completed (in completion order), each result is
 * matched to its slot by seqno and checked, the slot refilled.
 */
static int proc_main(int idx, struct result *res)
{
	uint64_t r = seed0 * 0x9e3779b97f4a7c15ull + idx * 7919u + 1;
	struct drm_spatten_result rr[SLOTS];
	struct slot sl[SLOTS];
	uint64_t off;
	uint32_t h, pending = 0;
	uint8_t *map;
	long done = 0, issued = 0;
	int fd = open_dev_flags(0), i, k, n, fill[SLOTS], nfill = 0;

	if (fd < 0 || bo_create(fd, SLOTS * SLOT_SZ, &h, &off))
		return 1;
	map = mmap(NULL, SLOTS * SLOT_SZ, PROT_READ | PROT_WRITE, MAP_SHARED,
		   fd, (off_t)off);
	if (map == MAP_FAILED)
		return 1;
	for (i = 0; i < SLOTS; i++) {
		sl[i].dev = map + (size_t)i * SLOT_SZ;
		sl[i].sim = malloc(SLOT_SZ);
		sl[i].seqno = 0;
		if (issued < njobs) {
			make_job(&r, &sl[i], h, (uint64_t)i * SLOT_SZ);
			sl[i].j.user_data = issued++;
			fill[nfill++] = i;
		}
	}
	while (done < njobs) {
		if (nfill) {
			int ret = submit_slots(fd, sl, fill, nfill);

			if (ret) {
				res->lost++;
				snprintf(res->first, sizeof(res->first),
					 "SUBMIT of %d jobs: %d", nfill, ret);
				return 1;
			}
			nfill = 0;
		}
		n = reap(fd, rr, SLOTS, 1, 120 * NSEC_PER_SEC, &pending);
		if (n <= 0) {
			res->lost++;
			snprintf(res->first, sizeof(res->first),
				 "REAP: %d after %ld jobs", n, done);
			return 1;
		}
		for (i = 0; i < n; i++) {
			for (k = 0; k < SLOTS; k++)
				if (sl[k].seqno && sl[k].seqno == rr[i].seqno)
					break;
			if (k == SLOTS) {
				fail(res, "REAP returned seqno %llu: none in "
				     "flight", (unsigned long long)rr[i].seqno);
				continue;
			}
			done++;
			check_result(&sl[k], &rr[i], res);
			if (wait_job(fd, sl[k].seqno, 0, NULL) != -ENOENT)
				fail(res, "job reaped twice");
			sl[k].seqno = 0;
			if (issued < njobs) {
				make_job(&r, &sl[k], h, (uint64_t)k * SLOT_SZ);
				sl[k].j.user_data = issued++;
				fill[nfill++] = k;
			}
		}
	}
	if (pending)
		fail(res, "%u jobs pending after the last one", pending);
	munmap(map, SLOTS * SLOT_SZ);
	close(fd);
	return 0;
}

int main(int argc, char **argv)
{
	struct result *res;
	struct objects base, now;
	char b1[160], b2[160];
	long jobs = 0, mism = 0, lost = 0, dense = 0, pruned = 0, prog = 0,
	     serr = 0;
	double worst = 0;
	int64_t t0;
	int c, i, st = 0;

	while ((c = getopt(argc, argv, "p:j:s:")) != -1) {
		switch (c) {
		case 'p': nprocs = atoi(optarg); break;
		case 'j': njobs = atoi(optarg); break;
		case 's': seed0 = strtoull(optarg, NULL, 0); break;
		default: return 2;
		}
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	i = open_dev_flags(0);
	if (i < 0 || xioctl(i, DRM_IOCTL_SPATTEN_INFO, &info)) {
		tap(false, "load: open %s", dev_path());
		return 1;
	}
	close(i);
	memset(&caps, 0, sizeof(caps));
	caps.max_context = info.max_context;
	caps.max_heads = info.max_heads;
	caps.head_dims = info.head_dims;
	caps.formats = info.formats;
	caps.splits = info.splits;
	caps.features = info.features;
	caps.dma_bits = 64;
	caps.model = spe_model_full();
	objects_read(&base);
	res = mmap(NULL, sizeof(*res) * nprocs, PROT_READ | PROT_WRITE,
		   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	t0 = now_ns();
	for (i = 0; i < nprocs; i++) {
		if (fork() == 0)
			_exit(proc_main(i, &res[i]));
	}
	for (i = 0; i < nprocs; i++) {
		int s;

		wait(&s);
		if (!WIFEXITED(s) || WEXITSTATUS(s))
			st = 1;
	}
	for (i = 0; i < nprocs; i++) {
		jobs += res[i].jobs;
		mism += res[i].mismatches;
		lost += res[i].lost;
		dense += res[i].dense_checked;
		pruned += res[i].pruned;
		prog += res[i].progressive;
		serr += res[i].status_err;
		worst = fmax(worst, res[i].max_err_ratio);
		if (res[i].first[0])
			diag("process %d: %s", i, res[i].first);
	}
	diag("load: %d processes x %d jobs in %.1f s: %ld jobs verified "
	     "(%ld with pruning, %ld progressive, %ld dense also against "
	     "double precision: worst error %.3f of the bound; %ld "
	     "completed with an error status, same as the engine)", nprocs,
	     njobs, (now_ns() - t0) / 1e9, jobs, pruned, prog, dense, worst,
	     serr);
	tap(st == 0 && jobs == (long)nprocs * njobs && !lost,
	    "load: %d x %d jobs, none lost (%ld reaped)", nprocs, njobs, jobs);
	tap(mism == 0, "load: every job bit-exact with the engine, dense "
	    "ones within the tolerance of the double reference (%ld "
	    "mismatches)", mism);
	{
		bool ok = objects_back_to(&base, &now, 60 * NSEC_PER_SEC);

		objects_str(&base, b1, sizeof(b1));
		objects_str(&now, b2, sizeof(b2));
		tap(ok, "load: driver objects back to their level (before: %s; "
		    "after: %s)", b1, b2);
	}
	return tap_failed;
}
