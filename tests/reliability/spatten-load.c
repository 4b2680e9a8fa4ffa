// SPDX-License-Identifier: MIT
/*
 * Campaign 4 (issue #7): load. P processes (-p, 8) each run J verified
 * jobs (-j, 1000) of mixed shapes through the board's node, several in flight
 * per process, most with pruning on: token pruning (kept lists, pinned
 * tokens, alive lists, importance write-back), head pruning, value
 * pruning, progressive quantization, packed K/V formats, summarization and
 * generation. On boards with DRM_SPATTEN_FEAT_DESC_V3 a third of the jobs
 * are version 3: grouped-query heads, strided and paged KV caches, RoPE,
 * score scales, u32 lists, now and then a paged context above 65535 rows
 * (load_jobs.c makes the jobs).
 *
 * Every job is checked against the engine run in-process on the same
 * inputs (the descriptor the driver builds, spe_desc_decode + spe_run over
 * this process's memory: the device model runs that very code, so status
 * and every written byte must be bit-exact), and the dense S16 jobs
 * without RoPE also against a double-precision attention within the
 * engine's documented bound (spe_out_tolerance).
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

#include "load_jobs.h"

static int nprocs = 8, njobs = 1000;
static uint64_t seed0 = 1;
struct drm_spatten_info info;
struct spe_caps caps;
static size_t entry_size;	/* the board's SQ entries: 256 or 512 */

struct result {			/* per process, shared */
	long jobs, mismatches, lost, dense_checked, pruned, progressive;
	long status_err;
	long v3, gqa, strided, paged, rope, positions, scaled, long_ctx;
	long bad_block;
	double max_err_ratio;
	char first[256];
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

/*
 * The engine on the job, over s->sim: the descriptor the driver builds
 * (load_jobs.c), decoded as the device decodes an entry of its queue.
 * Returns the status.
 */
static int sim_run(struct slot *s, struct spe_job *sj)
{
	union spatten_hw_sqe e;
	struct spe_result res;
	struct spe_mem mem = { .read = sim_read, .write = sim_write, .opaque = sj };
	int st;

	sim_desc(s, &e);
	st = spe_desc_decode(&e, entry_size, &caps, sj);
	if (st)
		return st;
	memset(&res, 0, sizeof(res));
	return spe_run(sj, &caps, &mem, &res);
}

/* Pointer to token slot @slot of KV head @g of a dense (S16) KV plane. */
static const int16_t *kv_ptr(const struct slot *s,
			     const struct drm_spatten_tensor *t,
			     const uint32_t *table, uint32_t g, uint32_t slot)
{
	return (const int16_t *)(s->dev + (t->offset - s->base)) +
	       kv_row(&s->j, table, g, slot) * s->j.head_dim;
}

/*
 * Dense S16 job without RoPE: double attention vs the device, within the
 * bound; query head m reads KV head m / (n_heads / n_kv_heads) where the
 * KV layout puts its rows.
 */
static double dense_check(struct slot *s, const struct spe_job *sj)
{
	struct drm_spatten_job *j = &s->j;
	struct load_dims dm;
	const uint32_t *table = j->kv_block_rows ?
		(const uint32_t *)(s->dev + (j->block_table.offset - s->base)) :
		NULL;
	const int16_t *q = (int16_t *)(s->dev + SPE_PLANE_Q * PLANE_SZ);
	const int16_t *o = (int16_t *)(s->dev + SPE_PLANE_OUT * PLANE_SZ);
	const int16_t *kr, *vr;
	unsigned H = j->n_heads, D = j->head_dim, L0, L1, Hk, m, i, jj, e;
	double scale = 1.0 / sqrt(D), vs = 1.0 / (1u << j->v_frac),
	       os = 1.0 / (1u << j->out_frac), maxv = 0, tol, worst = 0, sq;
	double sc[MAX_KV], acc[256];

	load_dims(j, &dm);
	L0 = dm.q_rows;
	L1 = dm.kv_rows;
	Hk = dm.n_kv_heads;
	if (j->score_scale) {
		float f;

		memcpy(&f, &j->score_scale, 4);
		scale = f;
	}
	sq = scale / ((double)(1u << j->q_frac) * (1u << j->k_frac));
	for (m = 0; m < Hk; m++)
		for (jj = 0; jj < L1; jj++)
			for (vr = kv_ptr(s, &j->v, table, m, jj), e = 0; e < D; e++)
				maxv = fmax(maxv, fabs(vr[e] * vs));
	tol = spe_out_tolerance(sj, maxv);
	for (m = 0; m < H; m++) {
		unsigned g = m / (H / Hk);

		for (i = 0; i < L0; i++) {
			unsigned vis = (j->flags & DRM_SPATTEN_JOB_CAUSAL) ?
				       dm.q_start + i + 1 : L1;
			double mx = -INFINITY, sum = 0;

			for (jj = 0; jj < vis; jj++) {
				double dot = 0;

				kr = kv_ptr(s, &j->k, table, g, jj);
				for (e = 0; e < D; e++)
					dot += (double)q[(m * L0 + i) * D + e] *
					       kr[e];
				sc[jj] = dot * sq;
				mx = fmax(mx, sc[jj]);
			}
			for (jj = 0; jj < vis; jj++) {
				sc[jj] = exp(sc[jj] - mx);
				sum += sc[jj];
			}
			for (e = 0; e < D; e++)
				acc[e] = 0;
			for (jj = 0; jj < vis; jj++) {
				vr = kv_ptr(s, &j->v, table, g, jj);
				for (e = 0; e < D; e++)
					acc[e] += sc[jj] / sum * vr[e] * vs;
			}
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

/* Count what the job exercised. */
static void count_kind(const struct slot *s, struct result *res)
{
	struct load_dims dm;

	load_dims(&s->j, &dm);
	if (dm.token_keep || s->j.head_keep || dm.value_keep)
		res->pruned++;
	if (s->j.flags & DRM_SPATTEN_JOB_PROGRESSIVE)
		res->progressive++;
	res->v3 += !!(s->kind & LOAD_V3);
	res->gqa += !!(s->kind & LOAD_GQA);
	res->strided += !!(s->kind & LOAD_STRIDED);
	res->paged += !!(s->kind & LOAD_PAGED);
	res->rope += !!(s->kind & LOAD_ROPE);
	res->positions += !!(s->kind & LOAD_POSITIONS);
	res->scaled += !!(s->kind & LOAD_SCALE);
	res->long_ctx += !!(s->kind & LOAD_LONG);
	res->bad_block += !!(s->kind & LOAD_BAD_BLOCK);
}

/* Check one result against the engine. */
static void check_result(struct slot *s, const struct drm_spatten_result *w,
			 struct result *res)
{
	struct spe_job sj;
	char what[200];
	int st;

	res->jobs++;
	if (w->user_data != s->j.user_data)
		fail(res, "user_data %llu, expected %llu",
		     (unsigned long long)w->user_data,
		     (unsigned long long)s->j.user_data);
	st = sim_run(s, &sj);
	job_str(s, what, sizeof(what));
	if (st != (int)w->status)
		fail(res, "status %u, engine %d (%s)", w->status, st, what);
	else if (memcmp(s->dev, s->sim, SLOT_SZ))
		fail(res, "written bytes differ from the engine (%s)", what);
	if (w->status)
		res->status_err++;
	count_kind(s, res);
	if ((s->kind & LOAD_DENSE) && !(s->kind & (LOAD_ROPE | LOAD_LONG)) &&
	    !w->status) {
		double e = dense_check(s, &sj);

		res->dense_checked++;
		if (e > res->max_err_ratio)
			res->max_err_ratio = e;
		if (e > 1)
			fail(res, "dense job beyond the tolerance (%.2f x; %s)",
			     e, what);
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

	if (fd < 0 || bo_create(fd, BO_SZ, &h, &off))
		return 1;
	map = mmap(NULL, BO_SZ, PROT_READ | PROT_WRITE, MAP_SHARED,
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
	munmap(map, BO_SZ);
	close(fd);
	return 0;
}

/* Add @r's counts to @t. */
static void add_result(struct result *t, const struct result *r)
{
	t->jobs += r->jobs;
	t->mismatches += r->mismatches;
	t->lost += r->lost;
	t->dense_checked += r->dense_checked;
	t->pruned += r->pruned;
	t->progressive += r->progressive;
	t->status_err += r->status_err;
	t->v3 += r->v3;
	t->gqa += r->gqa;
	t->strided += r->strided;
	t->paged += r->paged;
	t->rope += r->rope;
	t->positions += r->positions;
	t->scaled += r->scaled;
	t->long_ctx += r->long_ctx;
	t->bad_block += r->bad_block;
	t->max_err_ratio = fmax(t->max_err_ratio, r->max_err_ratio);
}

int main(int argc, char **argv)
{
	struct result *res, t;
	struct objects base, now;
	char b1[160], b2[160];
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
	/* A version 3 board's queues take 512-byte entries (hardware 1.2). */
	entry_size = info.features & DRM_SPATTEN_FEAT_DESC_V3 ?
		     SPATTEN_SQE_SIZE_MAX : SPATTEN_DESC_SIZE;
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
	memset(&t, 0, sizeof(t));
	for (i = 0; i < nprocs; i++) {
		add_result(&t, &res[i]);
		if (res[i].first[0])
			diag("process %d: %s", i, res[i].first);
	}
	diag("load: %d processes x %d jobs in %.1f s: %ld jobs verified "
	     "(%ld with pruning, %ld progressive, %ld dense also against "
	     "double precision: worst error %.3f of the bound; %ld "
	     "completed with an error status, same as the engine)", nprocs,
	     njobs, (now_ns() - t0) / 1e9, t.jobs, t.pruned, t.progressive,
	     t.dense_checked, t.max_err_ratio, t.status_err);
	diag("load: %ld version 3 jobs%s (%ld grouped-query, %ld strided and "
	     "%ld paged KV caches, %ld with RoPE of which %ld by position "
	     "list, %ld with a score scale, %ld above 65535 rows, %ld with a "
	     "block outside the buffer)", t.v3,
	     info.features & DRM_SPATTEN_FEAT_DESC_V3 ? "" :
	     " (the board has no DRM_SPATTEN_FEAT_DESC_V3)",
	     t.gqa, t.strided, t.paged, t.rope, t.positions, t.scaled,
	     t.long_ctx, t.bad_block);
	tap(st == 0 && t.jobs == (long)nprocs * njobs && !t.lost,
	    "load: %d x %d jobs, none lost (%ld reaped, %ld version 3)",
	    nprocs, njobs, t.jobs, t.v3);
	tap(t.mismatches == 0, "load: every job bit-exact with the engine, "
	    "dense ones within the tolerance of the double reference (%ld "
	    "mismatches)", t.mismatches);
	{
		bool ok = objects_back_to(&base, &now, 60 * NSEC_PER_SEC);

		objects_str(&base, b1, sizeof(b1));
		objects_str(&now, b2, sizeof(b2));
		tap(ok, "load: driver objects back to their level (before: %s; "
		    "after: %s)", b1, b2);
	}
	return tap_failed;
}
