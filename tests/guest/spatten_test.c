// SPDX-License-Identifier: GPL-2.0
/*
 * In-guest tests of the board's DRM node (/dev/accel/accel<N>, or a render
 * node on 6.1): the success and error path of every driver ioctl and of
 * the DRM core ioctls the driver relies on (GEM_CLOSE, PRIME, SYNCOBJ),
 * mmap, poll(), isolation between open files and jobs that outlive their
 * buffers or their file.
 *
 * Built with the kernel's kselftest harness (GPL-2.0). The ioctl under test
 * is always issued raw, so each check pins the UAPI contract itself; the
 * library is used only for fixed-point conversion.
 *
 * Environment: SPATTEN_DEV overrides the device node (default: the first
 * accel node, else render node, whose device is bound to spatten).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <dirent.h>
#include <limits.h>

#include "kselftest_harness.h"

#include "libspatten.h"
#include "uapi/drm/spatten_accel.h"

#define NSEC_PER_SEC		1000000000LL
#define PAGE			4096u

/* The small job of most tests: 4 heads x 16 rows x D = 64. */
#define SMALL_HEADS		4
#define SMALL_ROWS		16
#define SMALL_DIM		64
#define SMALL_BYTES		(SMALL_HEADS * SMALL_ROWS * SMALL_DIM * 2)
#define OFF_Q			0
#define OFF_K			(1 * SMALL_BYTES)
#define OFF_V			(2 * SMALL_BYTES)
#define OFF_OUT			(3 * SMALL_BYTES)
#define BO_SIZE			(16 * PAGE)	/* page multiple on purpose */
#define SMALL_FRAC		12

/* Generous: the guest runs under TCG. */
#define T_SHORT			60
#define T_LONG			180
#define WAIT_NS			(30 * NSEC_PER_SEC)

/* ---- raw UAPI helpers: -errno returns ------------------------------------ */

/* "<dir>/<name>/device/driver" is the driver spatten. */
static int bound_to_spatten(const char *dir, const char *name)
{
	char path[PATH_MAX], link[PATH_MAX];
	const char *base;
	ssize_t n;

	snprintf(path, sizeof(path), "%s/%s/device/driver", dir, name);
	n = readlink(path, link, sizeof(link) - 1);
	if (n < 0)
		return 0;
	link[n] = 0;
	base = strrchr(link, '/');
	return !strcmp(base ? base + 1 : link, "spatten");
}

static int accel_filter(const struct dirent *d)
{
	return !strncmp(d->d_name, "accel", 5);
}

static int render_filter(const struct dirent *d)
{
	return !strncmp(d->d_name, "renderD", 7);
}

/* The first accel node, else render node, of a board bound to spatten. */
static const char *dev_path(void)
{
	static char buf[PATH_MAX];
	const char *p = getenv("SPATTEN_DEV");
	struct dirent **e;
	int k, i, n;

	if (p && *p)
		return p;
	if (buf[0])
		return buf;
	for (k = 0; k < 2 && !buf[0]; k++) {
		const char *dir = k ? "/sys/class/drm" : "/sys/class/accel";

		n = scandir(dir, &e, k ? render_filter : accel_filter,
			    alphasort);
		for (i = 0; i < n; i++) {
			if (!buf[0] && bound_to_spatten(dir, e[i]->d_name))
				snprintf(buf, sizeof(buf), "/dev/%s/%s",
					 k ? "dri" : "accel", e[i]->d_name);
			free(e[i]);
		}
		if (n >= 0)
			free(e);
	}
	return buf[0] ? buf : "/dev/accel/accel0";
}

static int open_dev(void)
{
	return open(dev_path(), O_RDWR | O_CLOEXEC);
}

static int xioctl(int fd, unsigned long req, void *arg)
{
	int ret;

	do {
		ret = ioctl(fd, req, arg);
	} while (ret < 0 && errno == EINTR);
	return ret < 0 ? -errno : ret;
}

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * NSEC_PER_SEC + ts.tv_nsec;
}

static int bo_create(int fd, uint64_t size, uint32_t *handle, uint64_t *off)
{
	struct drm_spatten_bo_create c = { .size = size };
	int ret = xioctl(fd, DRM_IOCTL_SPATTEN_BO_CREATE, &c);

	if (!ret) {
		if (handle)
			*handle = c.handle;
		if (off)
			*off = c.mmap_offset;
	}
	return ret;
}

/* Drop a GEM handle: DRM_IOCTL_GEM_CLOSE. */
static int bo_destroy(int fd, uint32_t handle)
{
	struct drm_gem_close c = { .handle = handle };

	return xioctl(fd, DRM_IOCTL_GEM_CLOSE, &c);
}

static int bo_info(int fd, uint32_t handle, struct drm_spatten_bo_info *bi)
{
	memset(bi, 0, sizeof(*bi));
	bi->handle = handle;
	return xioctl(fd, DRM_IOCTL_SPATTEN_BO_INFO, bi);
}

static int submit_syncs(int fd, const struct drm_spatten_job *jobs,
			uint32_t n, const struct drm_spatten_sync *in,
			uint32_t n_in, const struct drm_spatten_sync *out,
			uint32_t n_out, uint64_t *seqno)
{
	struct drm_spatten_submit s = {
		.jobs_ptr = (uintptr_t)jobs,
		.job_size = sizeof(struct drm_spatten_job),
		.count = n,
		.in_syncs_ptr = (uintptr_t)in,
		.out_syncs_ptr = (uintptr_t)out,
		.in_sync_count = n_in,
		.out_sync_count = n_out,
	};
	int ret = xioctl(fd, DRM_IOCTL_SPATTEN_SUBMIT, &s);

	if (!ret && seqno)
		*seqno = s.seqno;
	return ret;
}

static int submit(int fd, const struct drm_spatten_job *jobs, uint32_t n,
		  uint64_t *seqno)
{
	return submit_syncs(fd, jobs, n, NULL, 0, NULL, 0, seqno);
}

/* WAIT with a timeout relative to now (the ioctl takes a deadline). */
static int wait_job(int fd, uint64_t seqno, int64_t rel_ns,
		    struct drm_spatten_result *out)
{
	struct drm_spatten_wait w = {
		.seqno = seqno,
		.timeout_ns = now_ns() + rel_ns,
	};
	int ret = xioctl(fd, DRM_IOCTL_SPATTEN_WAIT, &w);

	if (out)
		*out = w.result;
	return ret;
}

/* REAP, timeout relative to now; returns the number reaped or -errno. */
static int reap(int fd, struct drm_spatten_result *res, uint32_t count,
		uint32_t min_count, int64_t rel_ns, uint32_t *pending)
{
	struct drm_spatten_reap r = {
		.results_ptr = (uintptr_t)res,
		.count = count,
		.min_count = min_count,
		.timeout_ns = now_ns() + rel_ns,
	};
	int ret = xioctl(fd, DRM_IOCTL_SPATTEN_REAP, &r);

	if (pending)
		*pending = r.pending;
	return ret ? ret : (int)r.reaped;
}

static int syncobj_create(int fd, uint32_t flags, uint32_t *handle)
{
	struct drm_syncobj_create c = { .flags = flags };
	int ret = xioctl(fd, DRM_IOCTL_SYNCOBJ_CREATE, &c);

	if (!ret)
		*handle = c.handle;
	return ret;
}

static int syncobj_destroy(int fd, uint32_t handle)
{
	struct drm_syncobj_destroy d = { .handle = handle };

	return xioctl(fd, DRM_IOCTL_SYNCOBJ_DESTROY, &d);
}

/* Wait for a binary syncobj's fence, @rel_ns from now. */
static int syncobj_wait(int fd, uint32_t handle, uint32_t flags,
			int64_t rel_ns)
{
	struct drm_syncobj_wait w = {
		.handles = (uintptr_t)&handle,
		.count_handles = 1,
		.flags = flags,
		.timeout_nsec = now_ns() + rel_ns,
	};

	return xioctl(fd, DRM_IOCTL_SYNCOBJ_WAIT, &w);
}

static int get_counters(int fd, struct drm_spatten_counters *c)
{
	memset(c, 0, sizeof(*c));
	return xioctl(fd, DRM_IOCTL_SPATTEN_COUNTERS, c);
}

static void nop_job(struct drm_spatten_job *j, uint64_t user_data)
{
	memset(j, 0, sizeof(*j));
	j->opcode = DRM_SPATTEN_OP_NOP;
	j->version = DRM_SPATTEN_DESC_V2;
	j->user_data = user_data;
}

static void tensor(struct drm_spatten_tensor *t, uint32_t handle, uint64_t off)
{
	t->handle = handle;
	t->flags = 0;
	t->offset = off;
}

/* A valid non-causal summarization job over the small layout of @handle. */
static void small_job(struct drm_spatten_job *j, uint32_t handle)
{
	memset(j, 0, sizeof(*j));
	j->opcode = DRM_SPATTEN_OP_ATTENTION;
	j->stage = DRM_SPATTEN_STAGE_SUMMARIZATION;
	j->version = DRM_SPATTEN_DESC_V2;
	j->n_heads = SMALL_HEADS;
	j->head_dim = SMALL_DIM;
	j->q_rows = SMALL_ROWS;
	j->kv_rows = SMALL_ROWS;
	j->q_fmt = j->k_fmt = j->v_fmt = j->out_fmt = DRM_SPATTEN_FMT_S16;
	j->q_frac = j->k_frac = j->v_frac = j->out_frac = SMALL_FRAC;
	tensor(&j->q, handle, OFF_Q);
	tensor(&j->k, handle, OFF_K);
	tensor(&j->v, handle, OFF_V);
	tensor(&j->out, handle, OFF_OUT);
	j->user_data = 0x5a5a0000u;
}

/* Deterministic int16 inputs, |x| < 2^13 (|value| < 2 at frac 12). */
static void fill_s16(void *dst, size_t n, uint32_t seed)
{
	uint16_t *d = dst;
	size_t i;

	for (i = 0; i < n; i++) {
		seed = seed * 1664525u + 1013904223u;
		d[i] = htole16((uint16_t)((int32_t)(seed >> 16) % 8192));
	}
}

static double s16_at(const void *base, uint64_t off, size_t i, unsigned frac)
{
	uint16_t le;

	memcpy(&le, (const char *)base + off + 2 * i, 2);
	return ldexp((int16_t)le16toh(le), -(int)frac);
}

/*
 * Compare the output of @j (all tensors in the mapping @base) with a double
 * reference of softmax(QK^T / sqrt(D)) V. Returns max |err| and the
 * documented tolerance (docs/engine.md, spe_out_tolerance()).
 */
static void check_attention(const struct drm_spatten_job *j, const void *base,
			    double *max_err, double *tol)
{
	unsigned int D = j->head_dim, h, i, n, d;
	double *p = calloc(j->kv_rows, sizeof(double));
	double max_v = 0, err = 0;

	for (i = 0; i < (unsigned int)j->n_heads * j->kv_rows * D; i++)
		max_v = fmax(max_v, fabs(s16_at(base, j->v.offset, i,
						j->v_frac)));
	for (h = 0; h < j->n_heads; h++) {
		for (i = 0; i < j->q_rows; i++) {
			size_t qrow = ((size_t)h * j->q_rows + i) * D;
			size_t kv0 = (size_t)h * j->kv_rows * D;
			unsigned int keys = j->kv_rows;
			double m = -INFINITY, sum = 0;

			if (j->flags & DRM_SPATTEN_JOB_CAUSAL &&
			    j->q_start + i + 1u < keys)
				keys = j->q_start + i + 1;
			for (n = 0; n < keys; n++) {
				double s = 0;

				for (d = 0; d < D; d++)
					s += s16_at(base, j->q.offset,
						    qrow + d, j->q_frac) *
					     s16_at(base, j->k.offset,
						    kv0 + n * D + d, j->k_frac);
				p[n] = s / sqrt(D);
				m = fmax(m, p[n]);
			}
			for (n = 0; n < keys; n++) {
				p[n] = exp(p[n] - m);
				sum += p[n];
			}
			for (d = 0; d < D; d++) {
				double o = 0, got;

				for (n = 0; n < keys; n++)
					o += p[n] / sum *
					     s16_at(base, j->v.offset,
						    kv0 + n * D + d, j->v_frac);
				got = s16_at(base, j->out.offset, qrow + d,
					     j->out_frac);
				err = fmax(err, fabs(got - o));
			}
		}
	}
	free(p);
	*max_err = err;
	*tol = (j->kv_rows * (ldexp(1, -16) + 4e-7) + 1e-6) * max_v +
	       ldexp(1, -(j->out_frac + 1));
}

/*
 * The fields check_attention() reads, from a job of the library's own type
 * (whatever its UAPI: the names are the same).
 */
#define job_shape(dst, src) do {					\
	memset((dst), 0, sizeof(*(dst)));				\
	(dst)->n_heads = (src)->n_heads;				\
	(dst)->head_dim = (src)->head_dim;				\
	(dst)->q_rows = (src)->q_rows;					\
	(dst)->kv_rows = (src)->kv_rows;				\
	(dst)->q_start = (src)->q_start;				\
	(dst)->flags = (src)->flags;					\
	(dst)->q_frac = (src)->q_frac;					\
	(dst)->k_frac = (src)->k_frac;					\
	(dst)->v_frac = (src)->v_frac;					\
	(dst)->out_frac = (src)->out_frac;				\
	(dst)->q.offset = (src)->q.offset;				\
	(dst)->k.offset = (src)->k.offset;				\
	(dst)->v.offset = (src)->v.offset;				\
	(dst)->out.offset = (src)->out.offset;				\
} while (0)

/* ---- fixture: an open device with one mapped buffer ---------------------- */

FIXTURE(spatten) {
	int fd;
	struct drm_spatten_info info;
	uint32_t handle;
	uint64_t mmap_off;
	void *map;
};

FIXTURE_SETUP(spatten)
{
	self->map = MAP_FAILED;
	self->fd = open_dev();
	ASSERT_LE(0, self->fd) {
		TH_LOG("open %s: %s (is spatten.ko loaded?)", dev_path(),
		       strerror(errno));
	}
	ASSERT_EQ(0, xioctl(self->fd, DRM_IOCTL_SPATTEN_INFO, &self->info));
	ASSERT_EQ(0, bo_create(self->fd, BO_SIZE, &self->handle,
			       &self->mmap_off));
	self->map = mmap(NULL, BO_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED,
			 self->fd, (off_t)self->mmap_off);
	ASSERT_NE(MAP_FAILED, self->map);
}

FIXTURE_TEARDOWN(spatten)
{
	if (self->map != MAP_FAILED)
		munmap(self->map, BO_SIZE);
	if (self->fd >= 0)
		close(self->fd);
}

/* Fill the small job's inputs and clear its output. */
static void small_inputs(FIXTURE_DATA(spatten) *self, uint32_t seed)
{
	char *b = self->map;

	fill_s16(b + OFF_Q, SMALL_BYTES / 2, seed);
	fill_s16(b + OFF_K, SMALL_BYTES / 2, seed * 7 + 1);
	fill_s16(b + OFF_V, SMALL_BYTES / 2, seed * 13 + 2);
	memset(b + OFF_OUT, 0, SMALL_BYTES);
}

/* Submit one job that must be rejected with @err; reap it if accepted. */
static int submit_err(int fd, const struct drm_spatten_job *j)
{
	uint64_t seqno;
	int ret = submit(fd, j, 1, &seqno);

	if (!ret)
		wait_job(fd, seqno, WAIT_NS, NULL);
	return ret;
}

/*
 * A bigger job for in-flight tests: up to 12 heads x 512 x 512 x D=64,
 * in its own buffer (zero inputs are fine: the output is zero).
 */
struct big {
	uint32_t handle;
	uint64_t size;
	struct drm_spatten_job job;
};

static int big_job(int fd, const struct drm_spatten_info *info, struct big *b)
{
	uint32_t heads = info->max_heads < 12 ? info->max_heads : 12;
	uint32_t rows = info->max_context < 512 ? info->max_context : 512;
	uint64_t t;
	int ret;

	while (heads > 1 && 4 * spatten_tensor_bytes(heads, rows, 64) >
			    info->max_bo_size)
		heads /= 2;
	t = spatten_tensor_bytes(heads, rows, 64);
	b->size = (4 * t + PAGE - 1) / PAGE * PAGE;
	ret = bo_create(fd, b->size, &b->handle, NULL);
	if (ret)
		return ret;
	memset(&b->job, 0, sizeof(b->job));
	b->job.opcode = DRM_SPATTEN_OP_ATTENTION;
	b->job.version = DRM_SPATTEN_DESC_V2;
	b->job.n_heads = (uint16_t)heads;
	b->job.head_dim = 64;
	b->job.q_rows = (uint16_t)rows;
	b->job.kv_rows = (uint16_t)rows;
	tensor(&b->job.q, b->handle, 0);
	tensor(&b->job.k, b->handle, t);
	tensor(&b->job.v, b->handle, 2 * t);
	tensor(&b->job.out, b->handle, 3 * t);
	b->job.user_data = 0xb16;
	return 0;
}

/* ---- INFO ------------------------------------------------------------------ */

TEST_F(spatten, info_reports_sane_capabilities)
{
	struct drm_spatten_info *in = &self->info;
	unsigned int i;

	EXPECT_EQ(DRM_SPATTEN_API_VERSION, in->api_version);
	EXPECT_EQ(SPATTEN_HW_VERSION_MAJOR, in->hw_version >> 16);
	EXPECT_EQ(SPATTEN_PCI_VENDOR_ID, in->vendor_id);
	EXPECT_EQ(SPATTEN_PCI_DEVICE_ID, in->device_id);
	EXPECT_LE(1, in->num_engines);
	EXPECT_LE(1, in->num_queues);
	EXPECT_GE(SPATTEN_MAX_QUEUES, in->num_queues);
	EXPECT_LE(2, in->queue_depth);
	EXPECT_LE(128, in->max_context);
	EXPECT_LE(SMALL_HEADS, in->max_heads);
	EXPECT_TRUE(in->head_dims & SMALL_DIM);
	EXPECT_TRUE(in->formats & (1u << DRM_SPATTEN_FMT_S16));
	/* progressive splits: n MSBs + 4 LSBs, n in {4, 6, 8, 10, 12} */
	EXPECT_EQ(0, in->splits & ~0x1550u);
	EXPECT_EQ(!!in->splits, !!(in->features & DRM_SPATTEN_FEAT_PROGRESSIVE));
	EXPECT_EQ(0, in->formats & ~((1u << SPATTEN_FMT_NUM) - 1));
	EXPECT_TRUE(in->features & DRM_SPATTEN_FEAT_CAUSAL);
	EXPECT_TRUE(in->features & DRM_SPATTEN_FEAT_GENERATION);
	EXPECT_LE(32, in->dma_bits);
	EXPECT_GE(64, in->dma_bits);
	EXPECT_LE(1u << 20, in->max_bo_size);
	EXPECT_EQ(DRM_SPATTEN_MAX_SUBMIT, in->max_submit);
	EXPECT_EQ(4096, in->max_jobs);
	EXPECT_LT(0, in->job_timeout_ms);
	EXPECT_EQ(0, in->flags);
	EXPECT_EQ(0, in->rsvd0);
	for (i = 0; i < 3; i++)
		EXPECT_EQ(0, in->rsvd[i]);
}

TEST_F(spatten, info_flags_einval)
{
	struct drm_spatten_info in;

	memset(&in, 0, sizeof(in));
	in.flags = 1;
	EXPECT_EQ(-EINVAL, xioctl(self->fd, DRM_IOCTL_SPATTEN_INFO, &in));
	in.flags = 0x80000000u;
	EXPECT_EQ(-EINVAL, xioctl(self->fd, DRM_IOCTL_SPATTEN_INFO, &in));
}

TEST_F(spatten, drm_version_names_the_driver)
{
	char name[32] = { 0 };
	struct drm_version v = { .name = name, .name_len = sizeof(name) - 1 };

	ASSERT_EQ(0, xioctl(self->fd, DRM_IOCTL_VERSION, &v));
	EXPECT_STREQ("spatten", name);
}

TEST_F(spatten, info_bad_pointer_efault)
{
	EXPECT_EQ(-EFAULT, xioctl(self->fd, DRM_IOCTL_SPATTEN_INFO, NULL));
	EXPECT_EQ(-EFAULT, xioctl(self->fd, DRM_IOCTL_SPATTEN_INFO,
				  (void *)16));
}

/* ---- BO_CREATE / mmap / BO_DESTROY ---------------------------------------- */

TEST_F(spatten, bo_create_returns_distinct_handles)
{
	uint32_t h1, h2;
	uint64_t o1, o2;

	ASSERT_EQ(0, bo_create(self->fd, PAGE, &h1, &o1));
	ASSERT_EQ(0, bo_create(self->fd, 3 * PAGE + 1, &h2, &o2));
	EXPECT_NE(0, h1);
	EXPECT_NE(0, h2);
	EXPECT_NE(h1, h2);
	EXPECT_NE(self->handle, h1);
	EXPECT_NE(o1, o2);
	EXPECT_EQ(0, o1 % PAGE);
	EXPECT_EQ(0, o2 % PAGE);
	EXPECT_EQ(0, bo_destroy(self->fd, h1));
	EXPECT_EQ(0, bo_destroy(self->fd, h2));
}

TEST_F(spatten, bo_create_size_zero_einval)
{
	EXPECT_EQ(-EINVAL, bo_create(self->fd, 0, NULL, NULL));
}

TEST_F(spatten, bo_create_flags_einval)
{
	struct drm_spatten_bo_create c = { .size = PAGE, .flags = 1 };

	EXPECT_EQ(-EINVAL, xioctl(self->fd, DRM_IOCTL_SPATTEN_BO_CREATE, &c));
	c.flags = 0x80000000u;
	EXPECT_EQ(-EINVAL, xioctl(self->fd, DRM_IOCTL_SPATTEN_BO_CREATE, &c));
}

TEST_F(spatten, bo_create_over_max_bo_size_einval)
{
	EXPECT_EQ(-EINVAL, bo_create(self->fd, self->info.max_bo_size + 1,
				     NULL, NULL));
}

TEST_F(spatten, bo_info_describes_created_buffer)
{
	struct drm_spatten_bo_info bi;

	ASSERT_EQ(0, bo_info(self->fd, self->handle, &bi));
	EXPECT_EQ(BO_SIZE, bi.size);
	EXPECT_EQ(self->mmap_off, bi.mmap_offset);
	EXPECT_EQ(DRM_SPATTEN_BO_SHMEM, bi.kind);
	EXPECT_EQ(0, bi.rsvd);
}

TEST_F(spatten, bo_info_errors)
{
	struct drm_spatten_bo_info bi;

	EXPECT_EQ(-ENOENT, bo_info(self->fd, 0, &bi));
	EXPECT_EQ(-ENOENT, bo_info(self->fd, self->handle + 1000, &bi));
	memset(&bi, 0, sizeof(bi));
	bi.handle = self->handle;
	bi.flags = 1;
	EXPECT_EQ(-EINVAL, xioctl(self->fd, DRM_IOCTL_SPATTEN_BO_INFO, &bi));
}

/* ---- BO_USERPTR -------------------------------------------------------------- */

static int userptr(int fd, void *p, uint64_t size, uint32_t *handle)
{
	struct drm_spatten_bo_userptr u = {
		.user_ptr = (uintptr_t)p, .size = size,
	};
	int ret = xioctl(fd, DRM_IOCTL_SPATTEN_BO_USERPTR, &u);

	if (!ret && handle)
		*handle = u.handle;
	return ret;
}

TEST_F_TIMEOUT(spatten, userptr_runs_jobs_in_place, T_SHORT)
{
	struct drm_prime_handle p = { .flags = DRM_CLOEXEC };
	struct drm_spatten_bo_info bi;
	struct drm_spatten_result w;
	struct drm_spatten_job j;
	uint64_t seqno;
	uint32_t h;
	double err, tol;
	void *m;

	m = mmap(NULL, BO_SIZE, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, m);
	fill_s16((char *)m + OFF_Q, SMALL_BYTES / 2, 11);
	fill_s16((char *)m + OFF_K, SMALL_BYTES / 2, 12);
	fill_s16((char *)m + OFF_V, SMALL_BYTES / 2, 13);
	ASSERT_EQ(0, userptr(self->fd, m, BO_SIZE, &h));
	ASSERT_EQ(0, bo_info(self->fd, h, &bi));
	EXPECT_EQ(DRM_SPATTEN_BO_USER, bi.kind);
	EXPECT_EQ(BO_SIZE, bi.size);
	EXPECT_EQ(0, bi.mmap_offset);
	small_job(&j, h);
	ASSERT_EQ(0, submit(self->fd, &j, 1, &seqno));
	ASSERT_EQ(0, wait_job(self->fd, seqno, WAIT_NS, &w));
	ASSERT_EQ(DRM_SPATTEN_STATUS_OK, w.status);
	check_attention(&j, m, &err, &tol);
	EXPECT_LE(err, tol) {
		TH_LOG("max |err| %g > tolerance %g", err, tol);
	}
	/* Not exportable: the memory is the caller's already. */
	p.handle = h;
	EXPECT_GT(0, xioctl(self->fd, DRM_IOCTL_PRIME_HANDLE_TO_FD, &p));
	EXPECT_EQ(0, bo_destroy(self->fd, h));
	munmap(m, BO_SIZE);
}

TEST_F(spatten, userptr_errors)
{
	char *m = mmap(NULL, 4 * PAGE, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	struct drm_spatten_bo_userptr u;
	uint32_t h;
	void *ro;

	ASSERT_NE(MAP_FAILED, m);
	EXPECT_EQ(-EINVAL, userptr(self->fd, m + 1, PAGE, NULL));
	EXPECT_EQ(-EINVAL, userptr(self->fd, m, PAGE + 1, NULL));
	EXPECT_EQ(-EINVAL, userptr(self->fd, m, 0, NULL));
	EXPECT_EQ(-EINVAL, userptr(self->fd, m,
				   (self->info.max_bo_size + 2 * PAGE) &
				   ~(uint64_t)(PAGE - 1), NULL));
	memset(&u, 0, sizeof(u));
	u.user_ptr = (uintptr_t)m;
	u.size = PAGE;
	u.flags = 1;
	EXPECT_EQ(-EINVAL, xioctl(self->fd, DRM_IOCTL_SPATTEN_BO_USERPTR, &u));
	/* Not fully mapped. */
	ASSERT_EQ(0, munmap(m + 3 * PAGE, PAGE));
	EXPECT_EQ(-EFAULT, userptr(self->fd, m, 4 * PAGE, NULL));
	/* Read-only. */
	ro = mmap(NULL, PAGE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, ro);
	EXPECT_EQ(-EFAULT, userptr(self->fd, ro, PAGE, NULL));
	munmap(ro, PAGE);
	/* A page already in a user BO of the board: -EBUSY. */
	ASSERT_EQ(0, userptr(self->fd, m, 2 * PAGE, &h));
	EXPECT_EQ(-EBUSY, userptr(self->fd, m + PAGE, 2 * PAGE, NULL));
	EXPECT_EQ(0, bo_destroy(self->fd, h));
	/* Freed: its pages may be used again. */
	ASSERT_EQ(0, userptr(self->fd, m + PAGE, 2 * PAGE, &h));
	EXPECT_EQ(0, bo_destroy(self->fd, h));
	munmap(m, 3 * PAGE);
}

TEST_F(spatten, userptr_shmem_ok)
{
	int mfd = memfd_create("spatten-test", MFD_CLOEXEC);
	uint32_t h = 0;
	void *m;

	ASSERT_LE(0, mfd);
	ASSERT_EQ(0, ftruncate(mfd, 2 * PAGE));
	m = mmap(NULL, 2 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, mfd, 0);
	ASSERT_NE(MAP_FAILED, m);
	EXPECT_EQ(0, userptr(self->fd, m, 2 * PAGE, &h));
	EXPECT_EQ(0, bo_destroy(self->fd, h));
	munmap(m, 2 * PAGE);
	close(mfd);
}

/* ---- PRIME ------------------------------------------------------------------- */

TEST_F_TIMEOUT(spatten, prime_export_and_import_in_another_file, T_SHORT)
{
	struct drm_prime_handle p = { .handle = 0,
				      .flags = DRM_CLOEXEC | DRM_RDWR };
	struct drm_prime_handle q = { 0 };
	struct drm_spatten_bo_info bi;
	struct drm_spatten_result w;
	struct drm_spatten_job j;
	uint64_t seqno;
	double err, tol;
	int fd2;

	p.handle = self->handle;
	ASSERT_EQ(0, xioctl(self->fd, DRM_IOCTL_PRIME_HANDLE_TO_FD, &p));
	ASSERT_LE(0, p.fd);
	/* Back into the same file: the same handle. */
	q.fd = p.fd;
	ASSERT_EQ(0, xioctl(self->fd, DRM_IOCTL_PRIME_FD_TO_HANDLE, &q));
	EXPECT_EQ(self->handle, q.handle);
	/* Into another file: a handle there that runs jobs on our memory. */
	fd2 = open_dev();
	ASSERT_LE(0, fd2);
	q.handle = 0;
	ASSERT_EQ(0, xioctl(fd2, DRM_IOCTL_PRIME_FD_TO_HANDLE, &q));
	close(p.fd);
	ASSERT_EQ(0, bo_info(fd2, q.handle, &bi));
	EXPECT_EQ(BO_SIZE, bi.size);
	small_inputs(self, 21);
	small_job(&j, q.handle);
	ASSERT_EQ(0, submit(fd2, &j, 1, &seqno));
	ASSERT_EQ(0, wait_job(fd2, seqno, WAIT_NS, &w));
	ASSERT_EQ(DRM_SPATTEN_STATUS_OK, w.status);
	check_attention(&j, self->map, &err, &tol);
	EXPECT_LE(err, tol);
	EXPECT_EQ(0, bo_destroy(fd2, q.handle));
	close(fd2);
}

TEST_F(spatten, prime_errors)
{
	struct drm_prime_handle p = { .flags = DRM_CLOEXEC };

	p.handle = self->handle + 1000;
	EXPECT_EQ(-ENOENT, xioctl(self->fd, DRM_IOCTL_PRIME_HANDLE_TO_FD, &p));
	p.handle = self->handle;
	p.flags = 1u << 30;
	EXPECT_EQ(-EINVAL, xioctl(self->fd, DRM_IOCTL_PRIME_HANDLE_TO_FD, &p));
	/* Not a dma-buf. */
	memset(&p, 0, sizeof(p));
	p.fd = self->fd;
	EXPECT_EQ(-EINVAL, xioctl(self->fd, DRM_IOCTL_PRIME_FD_TO_HANDLE, &p));
	p.fd = -1;
	EXPECT_EQ(-EBADF, xioctl(self->fd, DRM_IOCTL_PRIME_FD_TO_HANDLE, &p));
}

TEST_F(spatten, bo_create_huge_size_fails)
{
	uint64_t sizes[] = {
		self->info.max_bo_size + PAGE, 1ull << 48, UINT64_MAX,
		UINT64_MAX - PAGE + 2,
	};
	unsigned int i;

	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		int ret = bo_create(self->fd, sizes[i], NULL, NULL);

		EXPECT_TRUE(ret == -EINVAL || ret == -ENOMEM) {
			TH_LOG("size %#llx: %d", (unsigned long long)sizes[i],
			       ret);
		}
	}
}

TEST_F(spatten, bo_mmap_is_zeroed_and_writable)
{
	unsigned char *m = self->map;
	size_t i, nonzero = 0;
	void *m2;

	for (i = 0; i < BO_SIZE; i++)
		nonzero += m[i] != 0;
	EXPECT_EQ(0, nonzero);
	memset(m, 0xa5, BO_SIZE);
	EXPECT_EQ(0xa5, m[BO_SIZE - 1]);

	/* A second mapping of the same buffer sees the same memory. */
	m2 = mmap(NULL, BO_SIZE, PROT_READ, MAP_SHARED, self->fd,
			(off_t)self->mmap_off);
	ASSERT_NE(MAP_FAILED, m2);
	EXPECT_EQ(0, memcmp(m, m2, BO_SIZE));
	munmap(m2, BO_SIZE);
}

TEST_F(spatten, bo_mmap_beyond_buffer_fails)
{
	void *m;

	/* One page longer than the buffer. */
	m = mmap(NULL, BO_SIZE + PAGE, PROT_READ | PROT_WRITE, MAP_SHARED,
		 self->fd, (off_t)self->mmap_off);
	EXPECT_EQ(MAP_FAILED, m);
	if (m != MAP_FAILED)
		munmap(m, BO_SIZE + PAGE);

	/* Starting at the page just past the end. */
	m = mmap(NULL, PAGE, PROT_READ, MAP_SHARED, self->fd,
		 (off_t)(self->mmap_off + BO_SIZE));
	EXPECT_EQ(MAP_FAILED, m);
	if (m != MAP_FAILED)
		munmap(m, PAGE);
}

TEST_F(spatten, bo_mmap_unknown_offset_fails)
{
	uint64_t offs[] = { 0, self->mmap_off + (1ull << 40),
			    (uint64_t)0x7ff00000ull << 12 };
	unsigned int i;

	for (i = 0; i < sizeof(offs) / sizeof(offs[0]); i++) {
		void *m;

		if (offs[i] == self->mmap_off)
			continue;
		m = mmap(NULL, PAGE, PROT_READ, MAP_SHARED, self->fd,
			 (off_t)offs[i]);
		EXPECT_EQ(MAP_FAILED, m) {
			TH_LOG("offset %#llx mapped",
			       (unsigned long long)offs[i]);
		}
		if (m != MAP_FAILED)
			munmap(m, PAGE);
	}
}

TEST_F(spatten, bo_mmap_offset_of_other_file_fails)
{
	int fd2 = open_dev();
	void *m;

	ASSERT_LE(0, fd2);
	m = mmap(NULL, PAGE, PROT_READ, MAP_SHARED, fd2,
		 (off_t)self->mmap_off);
	EXPECT_EQ(MAP_FAILED, m);
	if (m != MAP_FAILED)
		munmap(m, PAGE);
	close(fd2);
}

TEST_F(spatten, bo_destroy_ok_then_twice_einval)
{
	uint32_t h;

	ASSERT_EQ(0, bo_create(self->fd, PAGE, &h, NULL));
	EXPECT_EQ(0, bo_destroy(self->fd, h));
	EXPECT_EQ(-EINVAL, bo_destroy(self->fd, h));
}

TEST_F(spatten, bo_destroy_handle_zero_einval)
{
	EXPECT_EQ(-EINVAL, bo_destroy(self->fd, 0));
	EXPECT_EQ(-EINVAL, bo_destroy(self->fd, 0xfffffff0u));
}

TEST_F(spatten, bo_destroy_other_files_handle_einval)
{
	int fd2 = open_dev();
	uint32_t h2;

	ASSERT_LE(0, fd2);
	ASSERT_EQ(0, bo_create(fd2, PAGE, &h2, NULL));
	/* Whatever the numbers, fd2's handle is not ours to destroy... */
	if (h2 != self->handle)
		EXPECT_EQ(-EINVAL, bo_destroy(self->fd, h2));
	/* ...and ours is not fd2's. */
	if (self->handle != h2)
		EXPECT_EQ(-EINVAL, bo_destroy(fd2, self->handle));
	EXPECT_EQ(0, bo_destroy(fd2, h2));
	close(fd2);
}

TEST_F(spatten, bo_mapping_survives_destroy)
{
	unsigned char *m = self->map;

	ASSERT_EQ(0, bo_destroy(self->fd, self->handle));
	m[0] = 1;		/* must not fault: the VMA holds the pages */
	m[BO_SIZE - 1] = 2;
	EXPECT_EQ(1, m[0]);
	EXPECT_EQ(2, m[BO_SIZE - 1]);
}

/* ---- SUBMIT + WAIT: success ----------------------------------------------- */

TEST_F_TIMEOUT(spatten, nop_completes_and_echoes_user_data, T_SHORT)
{
	struct drm_spatten_job j;
	struct drm_spatten_result w;
	uint64_t seqno;

	nop_job(&j, 0xfeedfacecafebeefull);
	ASSERT_EQ(0, submit(self->fd, &j, 1, &seqno));
	EXPECT_NE(0, seqno);
	ASSERT_EQ(0, wait_job(self->fd, seqno, WAIT_NS, &w));
	EXPECT_EQ(DRM_SPATTEN_STATUS_OK, w.status);
	EXPECT_EQ(0xfeedfacecafebeefull, w.user_data);
	EXPECT_EQ(0, w.bytes_q + w.bytes_k_msb + w.bytes_k_lsb + w.bytes_v +
		     w.bytes_written);
	EXPECT_EQ(0, w.lsb_refetches);
	EXPECT_EQ(seqno, w.seqno);
	EXPECT_EQ(0, w.rsvd[0]);
	EXPECT_EQ(0, w.rsvd[1]);
}

TEST_F_TIMEOUT(spatten, attention_small_matches_reference, T_SHORT)
{
	struct drm_spatten_job j;
	struct drm_spatten_result w;
	uint64_t seqno;
	double err, tol;

	small_inputs(self, 1);
	small_job(&j, self->handle);
	ASSERT_EQ(0, submit(self->fd, &j, 1, &seqno));
	ASSERT_EQ(0, wait_job(self->fd, seqno, WAIT_NS, &w));
	ASSERT_EQ(DRM_SPATTEN_STATUS_OK, w.status);
	EXPECT_EQ(j.user_data, w.user_data);
	check_attention(&j, self->map, &err, &tol);
	EXPECT_LE(err, tol) {
		TH_LOG("max |err| %g > tolerance %g", err, tol);
	}
}

TEST_F_TIMEOUT(spatten, attention_reports_traffic_and_cycles, T_SHORT)
{
	struct drm_spatten_job j;
	struct drm_spatten_result w;
	uint64_t seqno;

	small_inputs(self, 2);
	small_job(&j, self->handle);
	ASSERT_EQ(0, submit(self->fd, &j, 1, &seqno));
	ASSERT_EQ(0, wait_job(self->fd, seqno, WAIT_NS, &w));
	ASSERT_EQ(DRM_SPATTEN_STATUS_OK, w.status);
	/* Dense v1: every operand read once, the output written once. */
	EXPECT_EQ(SMALL_BYTES, w.bytes_q);
	EXPECT_EQ(SMALL_BYTES, w.bytes_k_msb);
	EXPECT_EQ(0, w.bytes_k_lsb);
	EXPECT_EQ(SMALL_BYTES, w.bytes_v);
	EXPECT_EQ(SMALL_BYTES, w.bytes_written);
	EXPECT_LT(0, w.cycles);
}

TEST_F_TIMEOUT(spatten, attention_causal_offset_matches_reference, T_SHORT)
{
	struct drm_spatten_job j;
	struct drm_spatten_result w;
	uint64_t seqno;
	double err, tol;

	small_inputs(self, 3);
	small_job(&j, self->handle);
	/* 8 queries at positions 8..15 of 16 keys. */
	j.flags = DRM_SPATTEN_JOB_CAUSAL;
	j.q_rows = 8;
	j.q_start = 8;
	j.out_frac = 11;
	ASSERT_EQ(0, submit(self->fd, &j, 1, &seqno));
	ASSERT_EQ(0, wait_job(self->fd, seqno, WAIT_NS, &w));
	ASSERT_EQ(DRM_SPATTEN_STATUS_OK, w.status);
	check_attention(&j, self->map, &err, &tol);
	EXPECT_LE(err, tol) {
		TH_LOG("max |err| %g > tolerance %g", err, tol);
	}
}

TEST_F_TIMEOUT(spatten, attention_generation_matches_reference, T_SHORT)
{
	struct drm_spatten_job j;
	struct drm_spatten_result w;
	uint64_t seqno;
	double err, tol;

	small_inputs(self, 4);
	small_job(&j, self->handle);
	j.stage = DRM_SPATTEN_STAGE_GENERATION;
	j.flags = DRM_SPATTEN_JOB_CAUSAL;
	j.q_rows = 1;
	j.q_start = SMALL_ROWS - 1;
	ASSERT_EQ(0, submit(self->fd, &j, 1, &seqno));
	ASSERT_EQ(0, wait_job(self->fd, seqno, WAIT_NS, &w));
	ASSERT_EQ(DRM_SPATTEN_STATUS_OK, w.status);
	check_attention(&j, self->map, &err, &tol);
	EXPECT_LE(err, tol) {
		TH_LOG("max |err| %g > tolerance %g", err, tol);
	}
}

TEST_F_TIMEOUT(spatten, library_run_matches_reference, T_SHORT)
{
	struct spatten_attn_desc d;
	struct spatten_result res;
	struct spatten_job j;
	struct drm_spatten_job dj;
	struct spatten_dev *dev;
	struct spatten_bo *bo;
	float x[SMALL_BYTES / 2];
	double err, tol;
	unsigned int i;

	ASSERT_EQ(0, spatten_open(dev_path(), &dev));
	ASSERT_EQ(0, spatten_bo_alloc(dev, spatten_attn_desc_bytes(
		SMALL_HEADS, SMALL_DIM, SMALL_ROWS, SMALL_ROWS), &bo));
	spatten_attn_desc_init(&d, bo, SMALL_HEADS, SMALL_DIM, SMALL_ROWS,
			       SMALL_ROWS);
	d.q_frac = d.k_frac = d.v_frac = d.out_frac = 13;
	for (i = 0; i < SMALL_BYTES / 2; i++)
		x[i] = (float)sin(i * 0.37) * 0.9f;
	ASSERT_EQ(0, spatten_quantize_s16((char *)spatten_bo_map(bo) +
					  d.q.offset, x, SMALL_BYTES / 2, 13));
	for (i = 0; i < SMALL_BYTES / 2; i++)
		x[i] = (float)cos(i * 0.11) * 0.9f;
	ASSERT_EQ(0, spatten_quantize_s16((char *)spatten_bo_map(bo) +
					  d.k.offset, x, SMALL_BYTES / 2, 13));
	ASSERT_EQ(0, spatten_quantize_s16((char *)spatten_bo_map(bo) +
					  d.v.offset, x, SMALL_BYTES / 2, 13));
	ASSERT_EQ(0, spatten_attn_prep(&j, &d));
	ASSERT_EQ(0, spatten_run(dev, &j, &res));
	EXPECT_EQ(SPATTEN_HW_OK, res.status);
	job_shape(&dj, &j);
	check_attention(&dj, spatten_bo_map(bo), &err, &tol);
	EXPECT_LE(err, tol) {
		TH_LOG("max |err| %g > tolerance %g", err, tol);
	}
	spatten_bo_free(bo);
	spatten_close(dev);
}

TEST_F_TIMEOUT(spatten, library_wait_polls_reaps_once_and_keeps_freed_bo,
	       T_SHORT)
{
	struct spatten_attn_desc d;
	struct spatten_result res;
	struct spatten_job j[2];
	struct spatten_dev *dev;
	struct spatten_bo *bo;
	uint64_t seqno;
	int ret;

	ASSERT_EQ(0, spatten_open(dev_path(), &dev));
	EXPECT_LE(0, spatten_fd(dev));
	ASSERT_EQ(0, spatten_bo_alloc(dev, spatten_attn_desc_bytes(
		SMALL_HEADS, SMALL_DIM, SMALL_ROWS, SMALL_ROWS), &bo));
	spatten_attn_desc_init(&d, bo, SMALL_HEADS, SMALL_DIM, SMALL_ROWS,
			       SMALL_ROWS);
	d.user_data = 99;
	ASSERT_EQ(0, spatten_attn_prep(&j[0], &d));
	spatten_nop_prep(&j[1], 100);
	ASSERT_EQ(0, spatten_submit(dev, j, 2, &seqno));
	/* Free the buffer (and drop the device handle) with jobs queued. */
	spatten_bo_free(bo);
	/* A zero timeout polls: done or -ETIME, never blocks. */
	ret = spatten_wait(dev, seqno, 0, &res);
	EXPECT_TRUE(ret == 0 || ret == -ETIME);
	if (ret == -ETIME)
		ret = spatten_wait(dev, seqno, SPATTEN_WAIT_FOREVER, &res);
	ASSERT_EQ(0, ret);
	EXPECT_EQ(SPATTEN_HW_OK, res.status);
	EXPECT_EQ(99, res.user_data);
	EXPECT_EQ(-ENOENT, spatten_wait(dev, seqno, 0, &res));
	ASSERT_EQ(0, spatten_wait(dev, seqno + 1, 30 * NSEC_PER_SEC, &res));
	EXPECT_EQ(100, res.user_data);
	/* Never issued: not a pending job of this file. */
	EXPECT_EQ(-ENOENT, spatten_wait(dev, seqno + 2, 0, &res));
	spatten_close(dev);
}

TEST_F_TIMEOUT(spatten, batch_gets_consecutive_seqnos_and_completes, T_SHORT)
{
	struct drm_spatten_job j[8];
	struct drm_spatten_result w;
	uint64_t seqno, seqno2;
	unsigned int i;

	small_inputs(self, 5);
	for (i = 0; i < 8; i++) {
		if (i % 2)
			nop_job(&j[i], 100 + i);
		else
			small_job(&j[i], self->handle);
		j[i].user_data = 100 + i;
	}
	ASSERT_EQ(0, submit(self->fd, j, 8, &seqno));
	ASSERT_EQ(0, submit(self->fd, j, 1, &seqno2));
	EXPECT_EQ(seqno + 8, seqno2);
	/* Reap out of order. */
	for (i = 8; i-- > 0;) {
		ASSERT_EQ(0, wait_job(self->fd, seqno + i, WAIT_NS, &w));
		EXPECT_EQ(DRM_SPATTEN_STATUS_OK, w.status);
		EXPECT_EQ(100 + i, w.user_data);
	}
	ASSERT_EQ(0, wait_job(self->fd, seqno2, WAIT_NS, &w));
}

TEST_F_TIMEOUT(spatten, batch_of_max_submit_completes, T_SHORT)
{
	struct drm_spatten_job j[DRM_SPATTEN_MAX_SUBMIT];
	uint64_t seqno;
	unsigned int i;

	for (i = 0; i < DRM_SPATTEN_MAX_SUBMIT; i++)
		nop_job(&j[i], i);
	ASSERT_EQ(0, submit(self->fd, j, DRM_SPATTEN_MAX_SUBMIT, &seqno));
	for (i = 0; i < DRM_SPATTEN_MAX_SUBMIT; i++)
		EXPECT_EQ(0, wait_job(self->fd, seqno + i, WAIT_NS, NULL));
}

TEST_F_TIMEOUT(spatten, batch_with_one_bad_job_queues_nothing, T_SHORT)
{
	struct drm_spatten_job j[3];
	struct drm_spatten_result w;
	uint64_t seqno, after;

	nop_job(&j[0], 1);
	ASSERT_EQ(0, submit(self->fd, j, 1, &seqno));
	ASSERT_EQ(0, wait_job(self->fd, seqno, WAIT_NS, NULL));

	nop_job(&j[0], 2);
	small_job(&j[1], self->handle);
	nop_job(&j[2], 3);
	j[2].version = 0;		/* the last job is bad */
	EXPECT_EQ(-EINVAL, submit(self->fd, j, 3, NULL));
	/* Nothing got seqno + 1... */
	EXPECT_EQ(-ENOENT, wait_job(self->fd, seqno + 1, 0, &w));
	/* ...so the next accepted job does. */
	ASSERT_EQ(0, submit(self->fd, j, 1, &after));
	EXPECT_EQ(seqno + 1, after);
	EXPECT_EQ(0, wait_job(self->fd, after, WAIT_NS, NULL));
}

/* ---- SUBMIT: struct spatten_submit errors ---------------------------------- */

TEST_F(spatten, submit_count_zero_einval)
{
	struct drm_spatten_job j;

	nop_job(&j, 0);
	EXPECT_EQ(-EINVAL, submit(self->fd, &j, 0, NULL));
}

TEST_F(spatten, submit_count_over_max_einval)
{
	struct drm_spatten_job j[DRM_SPATTEN_MAX_SUBMIT + 1];
	unsigned int i;

	for (i = 0; i <= DRM_SPATTEN_MAX_SUBMIT; i++)
		nop_job(&j[i], i);
	EXPECT_EQ(-EINVAL, submit(self->fd, j, DRM_SPATTEN_MAX_SUBMIT + 1, NULL));
	EXPECT_EQ(-EINVAL, submit(self->fd, j, UINT32_MAX, NULL));
}

static void one_nop_submit(struct drm_spatten_submit *s,
			   struct drm_spatten_job *j)
{
	nop_job(j, 0);
	memset(s, 0, sizeof(*s));
	s->jobs_ptr = (uintptr_t)j;
	s->job_size = sizeof(*j);
	s->count = 1;
}

TEST_F(spatten, submit_flags_einval)
{
	struct drm_spatten_submit s;
	struct drm_spatten_job j;
	unsigned int b;

	for (b = 1; b < 32; b++) {
		one_nop_submit(&s, &j);
		s.flags = 1u << b;
		EXPECT_EQ(-EINVAL, xioctl(self->fd, DRM_IOCTL_SPATTEN_SUBMIT,
					  &s)) {
			TH_LOG("SUBMIT flag bit %u accepted", b);
		}
	}
}

TEST_F_TIMEOUT(spatten, submit_no_implicit_accepted, T_SHORT)
{
	struct drm_spatten_submit s;
	struct drm_spatten_job j;

	one_nop_submit(&s, &j);
	s.flags = DRM_SPATTEN_SUBMIT_NO_IMPLICIT;
	ASSERT_EQ(0, xioctl(self->fd, DRM_IOCTL_SPATTEN_SUBMIT, &s));
	EXPECT_EQ(1, s.submitted);
	EXPECT_EQ(0, wait_job(self->fd, s.seqno, WAIT_NS, NULL));
}

TEST_F(spatten, submit_rsvd_einval)
{
	struct drm_spatten_submit s;
	struct drm_spatten_job j;

	one_nop_submit(&s, &j);
	s.rsvd = 1;
	EXPECT_EQ(-EINVAL, xioctl(self->fd, DRM_IOCTL_SPATTEN_SUBMIT, &s));
	one_nop_submit(&s, &j);
	s.rsvd0 = 0x80000000u;
	EXPECT_EQ(-EINVAL, xioctl(self->fd, DRM_IOCTL_SPATTEN_SUBMIT, &s));
}

TEST_F(spatten, submit_job_size_einval)
{
	struct drm_spatten_submit s;
	struct drm_spatten_job j[2];
	uint32_t sizes[] = { 0, 4, sizeof(j[0]) - 4, sizeof(j[0]) + 1,
			     4096 + 8, UINT32_MAX - 7 };
	unsigned int i;

	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		one_nop_submit(&s, j);
		s.job_size = sizes[i];
		EXPECT_EQ(-EINVAL, xioctl(self->fd, DRM_IOCTL_SPATTEN_SUBMIT,
					  &s)) {
			TH_LOG("job_size %u accepted", sizes[i]);
		}
	}
}

/* An older caller's shorter job is zero-extended. */
TEST_F_TIMEOUT(spatten, submit_shorter_job_size_zero_extended, T_SHORT)
{
	struct drm_spatten_result w;
	struct drm_spatten_submit s;
	struct drm_spatten_job j[2];
	uint32_t size = offsetof(struct drm_spatten_job, rsvd);
	char *buf = calloc(2, size);

	ASSERT_NE(NULL, buf);
	nop_job(&j[0], 0x1111);
	nop_job(&j[1], 0x2222);
	memcpy(buf, &j[0], size);
	memcpy(buf + size, &j[1], size);
	one_nop_submit(&s, j);
	s.jobs_ptr = (uintptr_t)buf;
	s.job_size = size;
	s.count = 2;
	ASSERT_EQ(0, xioctl(self->fd, DRM_IOCTL_SPATTEN_SUBMIT, &s));
	ASSERT_EQ(0, wait_job(self->fd, s.seqno + 1, WAIT_NS, &w));
	EXPECT_EQ(0x2222, w.user_data);
	ASSERT_EQ(0, wait_job(self->fd, s.seqno, WAIT_NS, &w));
	EXPECT_EQ(0x1111, w.user_data);
	free(buf);
}

/* A newer caller's longer job: zeros beyond are fine, anything else E2BIG. */
TEST_F_TIMEOUT(spatten, submit_longer_job_size_tail, T_SHORT)
{
	uint32_t size = sizeof(struct drm_spatten_job) + 16;
	struct drm_spatten_result w;
	struct drm_spatten_submit s;
	struct drm_spatten_job j;
	char *buf = calloc(2, size);

	ASSERT_NE(NULL, buf);
	nop_job(&j, 0x3333);
	memcpy(buf, &j, sizeof(j));
	memcpy(buf + size, &j, sizeof(j));
	one_nop_submit(&s, &j);
	s.jobs_ptr = (uintptr_t)buf;
	s.job_size = size;
	s.count = 2;
	ASSERT_EQ(0, xioctl(self->fd, DRM_IOCTL_SPATTEN_SUBMIT, &s));
	EXPECT_EQ(0, wait_job(self->fd, s.seqno, WAIT_NS, &w));
	EXPECT_EQ(0x3333, w.user_data);
	EXPECT_EQ(0, wait_job(self->fd, s.seqno + 1, WAIT_NS, NULL));
	buf[size + sizeof(j) + 15] = 1;		/* the second job's tail */
	EXPECT_EQ(-E2BIG, xioctl(self->fd, DRM_IOCTL_SPATTEN_SUBMIT, &s));
	free(buf);
}

/* ---- SUBMIT: sync objects ---------------------------------------------------- */

TEST_F_TIMEOUT(spatten, submit_out_sync_signals_when_done, T_SHORT)
{
	struct drm_spatten_sync out = { 0 };
	struct drm_spatten_job j;
	uint64_t seqno;
	uint32_t so;

	ASSERT_EQ(0, syncobj_create(self->fd, 0, &so));
	out.handle = so;
	small_inputs(self, 31);
	small_job(&j, self->handle);
	ASSERT_EQ(0, submit_syncs(self->fd, &j, 1, NULL, 0, &out, 1, &seqno));
	EXPECT_EQ(0, syncobj_wait(self->fd, so, 0, WAIT_NS));
	/* The fence signals when the job is done: WAIT does not block. */
	EXPECT_EQ(0, wait_job(self->fd, seqno, 0, NULL));
	EXPECT_EQ(0, syncobj_destroy(self->fd, so));
}

TEST_F_TIMEOUT(spatten, submit_in_sync_orders_jobs_across_files, T_SHORT)
{
	struct drm_spatten_sync sy = { 0 };
	struct drm_spatten_job j;
	uint64_t s1, s2;
	uint32_t so, h2;
	int fd2 = open_dev(), sfd;
	struct drm_syncobj_handle x = { 0 };

	ASSERT_LE(0, fd2);
	/* Job 1 on our file signals a syncobj... */
	ASSERT_EQ(0, syncobj_create(self->fd, 0, &so));
	sy.handle = so;
	small_inputs(self, 32);
	small_job(&j, self->handle);
	ASSERT_EQ(0, submit_syncs(self->fd, &j, 1, NULL, 0, &sy, 1, &s1));
	/* ...shared with fd2 as an fd, whose job waits for it. */
	x.handle = so;
	ASSERT_EQ(0, xioctl(self->fd, DRM_IOCTL_SYNCOBJ_HANDLE_TO_FD, &x));
	sfd = x.fd;
	memset(&x, 0, sizeof(x));
	x.fd = sfd;
	ASSERT_EQ(0, xioctl(fd2, DRM_IOCTL_SYNCOBJ_FD_TO_HANDLE, &x));
	close(sfd);
	h2 = x.handle;
	sy.handle = h2;
	nop_job(&j, 2);
	ASSERT_EQ(0, submit_syncs(fd2, &j, 1, &sy, 1, NULL, 0, &s2));
	ASSERT_EQ(0, wait_job(fd2, s2, WAIT_NS, NULL));
	/* It ran after job 1: job 1 is done now. */
	EXPECT_EQ(0, wait_job(self->fd, s1, 0, NULL));
	close(fd2);
	EXPECT_EQ(0, syncobj_destroy(self->fd, so));
}

TEST_F_TIMEOUT(spatten, submit_timeline_out_sync_adds_the_point, T_SHORT)
{
	struct drm_spatten_sync out = { .flags = DRM_SPATTEN_SYNC_TIMELINE,
					.point = 5 };
	struct drm_syncobj_timeline_wait tw = { 0 };
	struct drm_spatten_job j;
	uint64_t seqno, point = 5;
	uint32_t so;

	ASSERT_EQ(0, syncobj_create(self->fd, 0, &so));
	out.handle = so;
	nop_job(&j, 0);
	ASSERT_EQ(0, submit_syncs(self->fd, &j, 1, NULL, 0, &out, 1, &seqno));
	tw.handles = (uintptr_t)&so;
	tw.points = (uintptr_t)&point;
	tw.count_handles = 1;
	tw.timeout_nsec = now_ns() + WAIT_NS;
	tw.flags = DRM_SYNCOBJ_WAIT_FLAGS_WAIT_FOR_SUBMIT;
	EXPECT_EQ(0, xioctl(self->fd, DRM_IOCTL_SYNCOBJ_TIMELINE_WAIT, &tw));
	EXPECT_EQ(0, wait_job(self->fd, seqno, WAIT_NS, NULL));
	EXPECT_EQ(0, syncobj_destroy(self->fd, so));
}

TEST_F_TIMEOUT(spatten, submit_sync_errors, T_SHORT)
{
	struct drm_spatten_sync sy[DRM_SPATTEN_MAX_SYNCS + 1];
	struct drm_spatten_job j;
	uint32_t so, sig;
	uint64_t seqno;
	unsigned int i;

	memset(sy, 0, sizeof(sy));
	ASSERT_EQ(0, syncobj_create(self->fd, 0, &so));
	ASSERT_EQ(0, syncobj_create(self->fd, DRM_SYNCOBJ_CREATE_SIGNALED,
				    &sig));
	nop_job(&j, 0);
	/* A binary in-fence with no fence yet. */
	sy[0].handle = so;
	EXPECT_EQ(-EINVAL, submit_syncs(self->fd, &j, 1, sy, 1, NULL, 0,
					NULL));
	/* An unknown syncobj, in and out. */
	sy[0].handle = sig + so + 100;
	EXPECT_EQ(-ENOENT, submit_syncs(self->fd, &j, 1, sy, 1, NULL, 0,
					NULL));
	EXPECT_EQ(-ENOENT, submit_syncs(self->fd, &j, 1, NULL, 0, sy, 1,
					NULL));
	/* Unknown flags; binary with a point; timeline at point 0. */
	sy[0].handle = sig;
	sy[0].flags = 2;
	EXPECT_EQ(-EINVAL, submit_syncs(self->fd, &j, 1, sy, 1, NULL, 0,
					NULL));
	sy[0].flags = 0;
	sy[0].point = 1;
	EXPECT_EQ(-EINVAL, submit_syncs(self->fd, &j, 1, sy, 1, NULL, 0,
					NULL));
	sy[0].flags = DRM_SPATTEN_SYNC_TIMELINE;
	sy[0].point = 0;
	EXPECT_EQ(-EINVAL, submit_syncs(self->fd, &j, 1, NULL, 0, sy, 1,
					NULL));
	/* Too many. */
	for (i = 0; i <= DRM_SPATTEN_MAX_SYNCS; i++) {
		sy[i].handle = sig;
		sy[i].flags = 0;
		sy[i].point = 0;
	}
	EXPECT_EQ(-EINVAL, submit_syncs(self->fd, &j, 1, sy,
					DRM_SPATTEN_MAX_SYNCS + 1, NULL, 0,
					NULL));
	EXPECT_EQ(-EINVAL, submit_syncs(self->fd, &j, 1, NULL, 0, sy,
					DRM_SPATTEN_MAX_SYNCS + 1, NULL));
	/* Unreadable arrays. */
	EXPECT_EQ(-EFAULT, submit_syncs(self->fd, &j, 1, (void *)8, 1, NULL,
					0, NULL));
	/* The signalled one is a fine in-fence; nothing else was queued. */
	ASSERT_EQ(0, submit_syncs(self->fd, &j, 1, sy, DRM_SPATTEN_MAX_SYNCS,
				  NULL, 0, &seqno));
	EXPECT_EQ(0, wait_job(self->fd, seqno, WAIT_NS, NULL));
	EXPECT_EQ(-ENOENT, wait_job(self->fd, seqno + 1, 0, NULL));
	EXPECT_EQ(0, syncobj_destroy(self->fd, so));
	EXPECT_EQ(0, syncobj_destroy(self->fd, sig));
}

TEST_F(spatten, submit_bad_jobs_ptr_efault)
{
	struct drm_spatten_job *j;
	char *two;

	EXPECT_EQ(-EFAULT, submit(self->fd, NULL, 1, NULL));
	EXPECT_EQ(-EFAULT, submit(self->fd, (void *)8, 1, NULL));
	EXPECT_EQ(-EFAULT, submit(self->fd, (void *)-4096L, 1, NULL));

	/* Two jobs whose second one runs into an unmapped page. */
	two = mmap(NULL, 2 * PAGE, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, two);
	ASSERT_EQ(0, munmap(two + PAGE, PAGE));
	j = (struct drm_spatten_job *)(two + PAGE) - 1;
	nop_job(j, 0);
	EXPECT_EQ(-EFAULT, submit(self->fd, j, 2, NULL));
	/* The first job alone is fine, and nothing else was queued. */
	EXPECT_EQ(0, submit_err(self->fd, j));
	munmap(two, PAGE);
}

TEST_F(spatten, submit_bad_arg_pointer_efault)
{
	EXPECT_EQ(-EFAULT, xioctl(self->fd, DRM_IOCTL_SPATTEN_SUBMIT, NULL));
	EXPECT_EQ(-EFAULT, xioctl(self->fd, DRM_IOCTL_SPATTEN_WAIT, NULL));
	EXPECT_EQ(-EFAULT, xioctl(self->fd, DRM_IOCTL_SPATTEN_BO_CREATE, NULL));
	EXPECT_EQ(-EFAULT, xioctl(self->fd, DRM_IOCTL_GEM_CLOSE, NULL));
	EXPECT_EQ(-EFAULT, xioctl(self->fd, DRM_IOCTL_SPATTEN_COUNTERS, NULL));
	EXPECT_EQ(-EFAULT, xioctl(self->fd, DRM_IOCTL_SPATTEN_REAP, NULL));
	EXPECT_EQ(-EFAULT, xioctl(self->fd, DRM_IOCTL_SPATTEN_BO_INFO, NULL));
	EXPECT_EQ(-EFAULT, xioctl(self->fd, DRM_IOCTL_SPATTEN_BO_USERPTR,
				  NULL));
}

/* ---- SUBMIT: job header errors --------------------------------------------- */

TEST_F(spatten, job_bad_version_einval)
{
	struct drm_spatten_job j;

	small_job(&j, self->handle);
	j.version = 0;
	EXPECT_EQ(-EINVAL, submit_err(self->fd, &j));
	j.version = DRM_SPATTEN_DESC_V3 + 1;
	EXPECT_EQ(-EINVAL, submit_err(self->fd, &j));
	nop_job(&j, 0);
	j.version = 0xff;
	EXPECT_EQ(-EINVAL, submit_err(self->fd, &j));
	/* version 1 is accepted only with every v2 field zero */
	small_job(&j, self->handle);
	j.version = 1;
	j.value_keep = 1;
	EXPECT_EQ(-EINVAL, submit_err(self->fd, &j));
	small_job(&j, self->handle);
	j.version = 1;
	tensor(&j.tok_imp, self->handle, OFF_OUT);
	EXPECT_EQ(-EINVAL, submit_err(self->fd, &j));
}

TEST_F(spatten, job_bad_opcode_einval)
{
	struct drm_spatten_job j;

	small_job(&j, self->handle);
	j.opcode = 2;
	EXPECT_EQ(-EINVAL, submit_err(self->fd, &j));
	j.opcode = 0xffff;
	EXPECT_EQ(-EINVAL, submit_err(self->fd, &j));
}

TEST_F(spatten, job_bad_stage_einval)
{
	struct drm_spatten_job j;

	small_job(&j, self->handle);
	j.stage = 2;
	EXPECT_EQ(-EINVAL, submit_err(self->fd, &j));
	j.stage = 0xff;
	EXPECT_EQ(-EINVAL, submit_err(self->fd, &j));
}

TEST_F(spatten, job_unknown_flags_einval)
{
	struct drm_spatten_job j;
	unsigned int b;

	for (b = 1; b < 32; b++) {
		small_job(&j, self->handle);
		j.flags = 1u << b;
		EXPECT_EQ(-EINVAL, submit_err(self->fd, &j)) {
			TH_LOG("flag bit %u accepted", b);
		}
	}
}

TEST_F(spatten, job_rsvd0_einval)
{
	struct drm_spatten_job j;

	small_job(&j, self->handle);
	j.rsvd0 = 1;
	EXPECT_EQ(-EINVAL, submit_err(self->fd, &j));
}

TEST_F(spatten, job_rsvd1_einval)
{
	struct drm_spatten_job j;

	small_job(&j, self->handle);
	j.rsvd1 = 0x80000000u;
	EXPECT_EQ(-EINVAL, submit_err(self->fd, &j));
	/* and the v2 padding */
	small_job(&j, self->handle);
	j.rsvd2 = 1;
	EXPECT_EQ(-EINVAL, submit_err(self->fd, &j));
	small_job(&j, self->handle);
	j.rsvd3 = 0x80000000u;
	EXPECT_EQ(-EINVAL, submit_err(self->fd, &j));
}

TEST_F(spatten, job_each_tail_rsvd_word_einval)
{
	struct drm_spatten_job j;
	unsigned int i;

	for (i = 0; i < sizeof(j.rsvd) / sizeof(j.rsvd[0]); i++) {
		small_job(&j, self->handle);
		j.rsvd[i] = 1ull << (i * 5);
		EXPECT_EQ(-EINVAL, submit_err(self->fd, &j)) {
			TH_LOG("rsvd[%u] accepted", i);
		}
	}
}

TEST_F(spatten, job_each_tensor_flags_einval)
{
	struct drm_spatten_job j;
	unsigned int i;

	for (i = 0; i < 12; i++) {
		struct drm_spatten_tensor *t[12] = {
			&j.q, &j.k, &j.v, &j.out, &j.k_lsb, &j.tok_imp,
			&j.tok_alive, &j.tok_kept, &j.pinned, &j.head_imp,
			&j.head_alive, &j.head_kept,
		};

		small_job(&j, self->handle);
		t[i]->flags = 1;
		EXPECT_EQ(-EINVAL, submit_err(self->fd, &j)) {
			TH_LOG("tensor %u flags accepted", i);
		}
	}
}

TEST_F(spatten, nop_with_stray_field_einval)
{
	struct drm_spatten_job j;
	unsigned int i;

	for (i = 0; i < 14; i++) {
		nop_job(&j, 0);
		switch (i) {
		case 10: j.token_keep = 1; break;
		case 11: j.topk_seed = 1; break;
		case 12: j.head_kept.handle = self->handle; break;
		case 13: j.lsb_threshold = 1; break;
		case 0: j.n_heads = 1; break;
		case 1: j.head_dim = 64; break;
		case 2: j.q_rows = 1; break;
		case 3: j.kv_rows = 1; break;
		case 4: j.q_start = 1; break;
		case 5: j.q_frac = 1; break;
		case 6: j.out_fmt = 1; break;
		case 7: j.q.handle = self->handle; break;
		case 8: j.out.offset = 64; break;
		case 9: j.v.offset = 2; break;
		}
		EXPECT_EQ(-EINVAL, submit_err(self->fd, &j)) {
			TH_LOG("NOP stray field case %u accepted", i);
		}
	}
}

/* ---- SUBMIT: shape and position errors ------------------------------------- */

TEST_F(spatten, job_n_heads_zero_or_over_max_einval)
{
	struct drm_spatten_job j;

	small_job(&j, self->handle);
	j.n_heads = 0;
	EXPECT_EQ(-EINVAL, submit_err(self->fd, &j));
	if (self->info.max_heads < 256) {
		/* One row per head keeps every tensor inside the buffer:
		 * only the head count is wrong. */
		j.n_heads = (uint16_t)(self->info.max_heads + 1);
		j.q_rows = j.kv_rows = 1;
		EXPECT_EQ(-EINVAL, submit_err(self->fd, &j));
	}
}

TEST_F(spatten, job_head_dim_unsupported_einval)
{
	struct drm_spatten_job j;
	unsigned int b;

	small_job(&j, self->handle);
	j.head_dim = 48;		/* not a power of two */
	EXPECT_EQ(-EINVAL, submit_err(self->fd, &j));
	j.head_dim = 0;
	EXPECT_EQ(-EINVAL, submit_err(self->fd, &j));
	/* A power of two the board does not list; all tensors at offset 0
	 * so even 1 x 1 x 32768 fits the buffer. */
	for (b = 0; b < 16; b++) {
		if (self->info.head_dims & (1u << b))
			continue;
		j.head_dim = (uint16_t)(1u << b);
		j.n_heads = 1;
		j.q_rows = j.kv_rows = 1;
		j.q.offset = j.k.offset = j.v.offset = j.out.offset = 0;
		EXPECT_EQ(-EINVAL, submit_err(self->fd, &j)) {
			TH_LOG("head_dim %u accepted", 1u << b);
		}
		break;
	}
}

TEST_F(spatten, job_q_rows_zero_einval)
{
	struct drm_spatten_job j;

	small_job(&j, self->handle);
	j.q_rows = 0;
	EXPECT_EQ(-EINVAL, submit_err(self->fd, &j));
}

TEST_F(spatten, job_kv_rows_zero_or_over_max_context_einval)
{
	uint64_t kv_bytes, size;
	struct drm_spatten_job j;
	uint32_t h;

	small_job(&j, self->handle);
	j.kv_rows = 0;
	EXPECT_EQ(-EINVAL, submit_err(self->fd, &j));
	if (self->info.max_context >= UINT16_MAX)
		return;

	/* A generation step one past the context, in a buffer large enough
	 * for it: only the context length is wrong. */
	kv_bytes = spatten_tensor_bytes(1, self->info.max_context + 1, 64);
	size = (2 * kv_bytes + 2 * PAGE + PAGE - 1) / PAGE * PAGE;
	ASSERT_EQ(0, bo_create(self->fd, size, &h, NULL));
	memset(&j, 0, sizeof(j));
	j.opcode = DRM_SPATTEN_OP_ATTENTION;
	j.version = DRM_SPATTEN_DESC_V2;
	j.stage = DRM_SPATTEN_STAGE_GENERATION;
	j.flags = DRM_SPATTEN_JOB_CAUSAL;
	j.n_heads = 1;
	j.head_dim = 64;
	j.q_rows = 1;
	j.kv_rows = (uint16_t)(self->info.max_context + 1);
	j.q_start = j.kv_rows - 1;
	tensor(&j.q, h, 0);
	tensor(&j.out, h, PAGE);
	tensor(&j.k, h, 2 * PAGE);
	tensor(&j.v, h, 2 * PAGE + kv_bytes);
	EXPECT_EQ(-EINVAL, submit_err(self->fd, &j));
	/* The same job at max_context is fine. */
	j.kv_rows--;
	j.q_start--;
	EXPECT_EQ(0, submit_err(self->fd, &j));
	EXPECT_EQ(0, bo_destroy(self->fd, h));
}

TEST_F(spatten, job_causal_window_past_last_key_einval)
{
	struct drm_spatten_job j;

	small_job(&j, self->handle);
	j.flags = DRM_SPATTEN_JOB_CAUSAL;
	j.q_rows = 8;
	j.q_start = 9;			/* 9 + 8 > 16 */
	EXPECT_EQ(-EINVAL, submit_err(self->fd, &j));
	j.q_start = 8;			/* boundary: accepted */
	EXPECT_EQ(0, submit_err(self->fd, &j));
}

TEST_F(spatten, job_noncausal_q_start_nonzero_einval)
{
	struct drm_spatten_job j;

	small_job(&j, self->handle);
	j.q_rows = 8;
	j.q_start = 1;
	EXPECT_EQ(-EINVAL, submit_err(self->fd, &j));
}

TEST_F(spatten, job_generation_q_rows_not_one_einval)
{
	struct drm_spatten_job j;

	small_job(&j, self->handle);
	j.stage = DRM_SPATTEN_STAGE_GENERATION;
	j.flags = DRM_SPATTEN_JOB_CAUSAL;
	j.q_rows = 2;
	j.q_start = SMALL_ROWS - 2;
	EXPECT_EQ(-EINVAL, submit_err(self->fd, &j));
}

TEST_F(spatten, job_generation_not_at_last_position_einval)
{
	struct drm_spatten_job j;

	small_job(&j, self->handle);
	j.stage = DRM_SPATTEN_STAGE_GENERATION;
	j.flags = DRM_SPATTEN_JOB_CAUSAL;
	j.q_rows = 1;
	j.q_start = SMALL_ROWS - 2;
	EXPECT_EQ(-EINVAL, submit_err(self->fd, &j));
}

TEST_F(spatten, job_bad_format_einval)
{
	struct drm_spatten_job j;
	unsigned int i;

	for (i = 0; i < 4; i++) {
		small_job(&j, self->handle);
		switch (i) {
		case 0: j.q_fmt = SPATTEN_FMT_NUM; break;
		case 1: j.k_fmt = 31; break;
		case 2: j.v_fmt = 32; break;
		case 3: j.out_fmt = 0xff; break;
		}
		EXPECT_EQ(-EINVAL, submit_err(self->fd, &j)) {
			TH_LOG("format case %u accepted", i);
		}
	}
}

TEST_F(spatten, job_frac_over_15_einval)
{
	struct drm_spatten_job j;
	unsigned int i;

	for (i = 0; i < 4; i++) {
		small_job(&j, self->handle);
		switch (i) {
		case 0: j.q_frac = 16; break;
		case 1: j.k_frac = 16; break;
		case 2: j.v_frac = 16; break;
		case 3: j.out_frac = 0xff; break;
		}
		EXPECT_EQ(-EINVAL, submit_err(self->fd, &j)) {
			TH_LOG("frac case %u accepted", i);
		}
	}
}

/* ---- SUBMIT: buffer errors --------------------------------------------------- */

TEST_F(spatten, job_unknown_handle_enoent)
{
	struct drm_spatten_job j;

	small_job(&j, self->handle);
	j.v.handle = self->handle + 1000;
	EXPECT_EQ(-ENOENT, submit_err(self->fd, &j));
	small_job(&j, self->handle);
	j.q.handle = 0;
	EXPECT_EQ(-ENOENT, submit_err(self->fd, &j));
}

TEST_F(spatten, job_destroyed_handle_enoent)
{
	struct drm_spatten_job j;
	uint32_t h;

	ASSERT_EQ(0, bo_create(self->fd, BO_SIZE, &h, NULL));
	ASSERT_EQ(0, bo_destroy(self->fd, h));
	small_job(&j, h);
	EXPECT_EQ(-ENOENT, submit_err(self->fd, &j));
}

TEST_F(spatten, job_handle_of_other_file_enoent)
{
	struct drm_spatten_job j;
	uint32_t h2 = 0, extra[4];
	unsigned int i;
	int fd2 = open_dev();

	ASSERT_LE(0, fd2);
	/* Give fd2 more handles than we have, so its last is not ours. */
	for (i = 0; i < 4; i++)
		ASSERT_EQ(0, bo_create(fd2, BO_SIZE, &extra[i], NULL));
	h2 = extra[3];
	ASSERT_NE(self->handle, h2);
	small_job(&j, self->handle);
	j.k.handle = h2;
	EXPECT_EQ(-ENOENT, submit_err(self->fd, &j));
	/* And fd2 cannot name our buffer (unless the numbers collide). */
	small_job(&j, extra[0]);
	j.out.handle = self->handle;
	for (i = 0; i < 4; i++)
		if (extra[i] == self->handle)
			j.out.handle = 0xfffff;
	EXPECT_EQ(-ENOENT, submit_err(fd2, &j));
	close(fd2);
}

TEST_F(spatten, job_offset_beyond_buffer_erange)
{
	struct drm_spatten_job j;

	small_job(&j, self->handle);
	j.out.offset = BO_SIZE;
	EXPECT_EQ(-ERANGE, submit_err(self->fd, &j));
	j.out.offset = 1ull << 40;
	EXPECT_EQ(-ERANGE, submit_err(self->fd, &j));
	/* offset + size overflows 64 bits */
	j.out.offset = UINT64_MAX - 1;
	EXPECT_EQ(-ERANGE, submit_err(self->fd, &j));
}

TEST_F(spatten, job_tensor_short_by_one_element_erange)
{
	struct drm_spatten_job j;

	small_job(&j, self->handle);
	j.v.offset = BO_SIZE - SMALL_BYTES + 2;
	EXPECT_EQ(-ERANGE, submit_err(self->fd, &j));
	j.v.offset = BO_SIZE - SMALL_BYTES;	/* exactly fits: accepted */
	EXPECT_EQ(0, submit_err(self->fd, &j));
}

TEST_F(spatten, job_misaligned_offset_einval)
{
	struct drm_spatten_job j;

	small_job(&j, self->handle);
	j.k.offset = OFF_K + 1;
	EXPECT_EQ(-EINVAL, submit_err(self->fd, &j));
}

/* ---- WAIT ----------------------------------------------------------------- */

TEST_F(spatten, wait_seqno_zero_enoent)
{
	EXPECT_EQ(-ENOENT, wait_job(self->fd, 0, 0, NULL));
}

TEST_F_TIMEOUT(spatten, wait_never_issued_seqno_enoent, T_SHORT)
{
	struct drm_spatten_job j;
	uint64_t seqno;

	EXPECT_EQ(-ENOENT, wait_job(self->fd, 1, 0, NULL));
	nop_job(&j, 0);
	ASSERT_EQ(0, submit(self->fd, &j, 1, &seqno));
	EXPECT_EQ(1, seqno);		/* a file's first job */
	EXPECT_EQ(-ENOENT, wait_job(self->fd, seqno + 1, 0, NULL));
	EXPECT_EQ(-ENOENT, wait_job(self->fd, UINT64_MAX, 0, NULL));
	EXPECT_EQ(0, wait_job(self->fd, seqno, WAIT_NS, NULL));
}

TEST_F_TIMEOUT(spatten, wait_reaped_twice_enoent, T_SHORT)
{
	struct drm_spatten_job j;
	uint64_t seqno;

	nop_job(&j, 0);
	ASSERT_EQ(0, submit(self->fd, &j, 1, &seqno));
	ASSERT_EQ(0, wait_job(self->fd, seqno, WAIT_NS, NULL));
	EXPECT_EQ(-ENOENT, wait_job(self->fd, seqno, 0, NULL));
	EXPECT_EQ(-ENOENT, wait_job(self->fd, seqno, WAIT_NS, NULL));
}

TEST_F_TIMEOUT(spatten, wait_flags_einval, T_SHORT)
{
	struct drm_spatten_job j;
	struct drm_spatten_wait w = { .flags = 1 };
	uint64_t seqno;

	nop_job(&j, 0);
	ASSERT_EQ(0, submit(self->fd, &j, 1, &seqno));
	w.seqno = seqno;
	w.timeout_ns = now_ns() + WAIT_NS;
	EXPECT_EQ(-EINVAL, xioctl(self->fd, DRM_IOCTL_SPATTEN_WAIT, &w));
	/* The bad call did not reap it. */
	EXPECT_EQ(0, wait_job(self->fd, seqno, WAIT_NS, NULL));
}

TEST_F_TIMEOUT(spatten, wait_rsvd_einval, T_SHORT)
{
	struct drm_spatten_job j;
	struct drm_spatten_wait w;
	uint64_t seqno;

	nop_job(&j, 0);
	ASSERT_EQ(0, submit(self->fd, &j, 1, &seqno));
	memset(&w, 0, sizeof(w));
	w.seqno = seqno;
	w.timeout_ns = now_ns() + WAIT_NS;
	w.rsvd = 1;
	EXPECT_EQ(-EINVAL, xioctl(self->fd, DRM_IOCTL_SPATTEN_WAIT, &w));
	EXPECT_EQ(0, wait_job(self->fd, seqno, WAIT_NS, NULL));
}

TEST_F_TIMEOUT(spatten, wait_past_deadline_polls_long_job, T_LONG)
{
	struct drm_spatten_wait w;
	struct drm_spatten_result res;
	struct big b;
	uint64_t seqno;
	int64_t t0;
	int ret;

	ASSERT_EQ(0, big_job(self->fd, &self->info, &b));
	ASSERT_EQ(0, submit(self->fd, &b.job, 1, &seqno));
	t0 = now_ns();
	memset(&w, 0, sizeof(w));
	w.seqno = seqno;
	w.timeout_ns = 1;		/* long past */
	ret = xioctl(self->fd, DRM_IOCTL_SPATTEN_WAIT, &w);
	EXPECT_TRUE(ret == -ETIME || ret == 0) {
		TH_LOG("past deadline: %d", ret);
	}
	/* A poll returns at once, whatever the job does. */
	EXPECT_GT(2 * NSEC_PER_SEC, now_ns() - t0);
	res = w.result;
	if (ret == -ETIME) {
		ASSERT_EQ(0, wait_job(self->fd, seqno, 120 * NSEC_PER_SEC,
				      &res));
	}
	EXPECT_EQ(DRM_SPATTEN_STATUS_OK, res.status);
	EXPECT_EQ(0xb16, res.user_data);
	EXPECT_EQ(0, bo_destroy(self->fd, b.handle));
}

TEST_F_TIMEOUT(spatten, wait_other_files_seqno_fails, T_SHORT)
{
	struct drm_spatten_job j;
	uint64_t seqno;
	int fd2 = open_dev(), ret;

	ASSERT_LE(0, fd2);
	nop_job(&j, 0);
	ASSERT_EQ(0, submit(self->fd, &j, 1, &seqno));
	/* fd2 never issued a seqno: whatever ours is, it cannot reap it. */
	ret = wait_job(fd2, seqno, 0, NULL);
	EXPECT_EQ(-ENOENT, ret) {
		TH_LOG("wait on another file's seqno: %d", ret);
	}
	EXPECT_EQ(0, wait_job(self->fd, seqno, WAIT_NS, NULL));
	close(fd2);
}

/* ---- REAP ------------------------------------------------------------------ */

TEST_F_TIMEOUT(spatten, reap_returns_each_job_once, T_SHORT)
{
	struct drm_spatten_result res[16];
	struct drm_spatten_job j[12];
	unsigned int seen = 0, i;
	uint32_t pending = 99;
	uint64_t seqno;
	int n, got = 0;

	for (i = 0; i < 12; i++)
		nop_job(&j[i], 500 + i);
	ASSERT_EQ(0, submit(self->fd, j, 12, &seqno));
	/* 5 at most per call; wait for at least 3 each time. */
	while (got < 12) {
		n = reap(self->fd, res, 5, 3, WAIT_NS, &pending);
		ASSERT_LT(0, n);
		ASSERT_GE(5, n);
		for (i = 0; i < (unsigned int)n; i++) {
			uint64_t k = res[i].seqno - seqno;

			ASSERT_GT(12, k);
			EXPECT_FALSE(seen & (1u << k));
			seen |= 1u << k;
			EXPECT_EQ(500 + k, res[i].user_data);
			EXPECT_EQ(DRM_SPATTEN_STATUS_OK, res[i].status);
		}
		got += n;
		EXPECT_EQ(12 - got, pending);
	}
	EXPECT_EQ(0xfff, seen);
	/* Reaped: WAIT does not find them, REAP has nothing. */
	EXPECT_EQ(-ENOENT, wait_job(self->fd, seqno + 4, 0, NULL));
	EXPECT_EQ(0, reap(self->fd, res, 16, 0, 0, &pending));
	EXPECT_EQ(0, pending);
}

TEST_F_TIMEOUT(spatten, reap_min_count_zero_never_waits, T_LONG)
{
	struct drm_spatten_result res[4];
	uint32_t pending = 0;
	struct big b;
	uint64_t seqno;
	int64_t t0;
	int n;

	ASSERT_EQ(0, big_job(self->fd, &self->info, &b));
	ASSERT_EQ(0, submit(self->fd, &b.job, 1, &seqno));
	t0 = now_ns();
	n = reap(self->fd, res, 4, 0, 60 * NSEC_PER_SEC, &pending);
	EXPECT_GT(2 * NSEC_PER_SEC, now_ns() - t0);
	EXPECT_LE(0, n);
	if (n == 0) {
		EXPECT_EQ(1, pending);
		n = reap(self->fd, res, 4, 1, 120 * NSEC_PER_SEC, &pending);
	}
	ASSERT_EQ(1, n);
	EXPECT_EQ(seqno, res[0].seqno);
	EXPECT_EQ(0xb16, res[0].user_data);
	EXPECT_EQ(0, pending);
	EXPECT_EQ(0, bo_destroy(self->fd, b.handle));
}

TEST_F(spatten, reap_errors)
{
	struct drm_spatten_result res[4];
	struct drm_spatten_reap r;

	EXPECT_EQ(-EINVAL, reap(self->fd, res, 0, 0, 0, NULL));
	EXPECT_EQ(-EINVAL, reap(self->fd, res, DRM_SPATTEN_REAP_MAX + 1, 0, 0,
				NULL));
	EXPECT_EQ(-EINVAL, reap(self->fd, res, 2, 3, 0, NULL));
	memset(&r, 0, sizeof(r));
	r.results_ptr = (uintptr_t)res;
	r.count = 4;
	r.flags = 1;
	EXPECT_EQ(-EINVAL, xioctl(self->fd, DRM_IOCTL_SPATTEN_REAP, &r));
	r.flags = 0;
	r.result_size = 12;
	EXPECT_EQ(-EINVAL, xioctl(self->fd, DRM_IOCTL_SPATTEN_REAP, &r));
}

TEST_F_TIMEOUT(spatten, reap_bad_results_pointer_efault, T_SHORT)
{
	struct drm_spatten_result res[1];
	struct drm_spatten_job j;
	uint64_t seqno;

	nop_job(&j, 0);
	ASSERT_EQ(0, submit(self->fd, &j, 1, &seqno));
	EXPECT_EQ(-EFAULT, reap(self->fd, (void *)8, 1, 1, WAIT_NS, NULL));
	/* The job is either still there or was reaped: not pending forever
	 * (whether a faulting REAP consumes results is not specified). */
	EXPECT_LE(0, reap(self->fd, res, 1, 0, 0, NULL));
	EXPECT_EQ(-ENOENT, wait_job(self->fd, seqno, 0, NULL));
}

/* ---- poll() -------------------------------------------------------------- */

TEST_F_TIMEOUT(spatten, poll_reports_completed_jobs, T_SHORT)
{
	struct pollfd p = { .fd = self->fd, .events = POLLIN };
	struct drm_spatten_job j;
	uint64_t seqno;

	EXPECT_EQ(0, poll(&p, 1, 0));		/* nothing to reap */
	nop_job(&j, 0);
	ASSERT_EQ(0, submit(self->fd, &j, 1, &seqno));
	p.revents = 0;
	ASSERT_EQ(1, poll(&p, 1, 30000));
	EXPECT_TRUE(p.revents & POLLIN);
	EXPECT_FALSE(p.revents & (POLLERR | POLLHUP | POLLNVAL));
	/* Still readable until reaped... */
	EXPECT_EQ(1, poll(&p, 1, 0));
	ASSERT_EQ(0, wait_job(self->fd, seqno, 0, NULL));
	/* ...and not after. */
	EXPECT_EQ(0, poll(&p, 1, 0));
}

/* ---- COUNTERS ------------------------------------------------------------ */

TEST_F_TIMEOUT(spatten, counters_count_exactly_the_jobs_run, T_SHORT)
{
	struct drm_spatten_counters a, b;
	struct drm_spatten_job j[3];
	uint64_t seqno;
	unsigned int i;

	small_inputs(self, 6);
	small_job(&j[0], self->handle);
	small_job(&j[1], self->handle);
	nop_job(&j[2], 0);
	ASSERT_EQ(0, get_counters(self->fd, &a));
	ASSERT_LE(DRM_SPATTEN_CNT_NUM, a.num);
	ASSERT_EQ(0, submit(self->fd, j, 3, &seqno));
	for (i = 0; i < 3; i++)
		ASSERT_EQ(0, wait_job(self->fd, seqno + i, WAIT_NS, NULL));
	ASSERT_EQ(0, get_counters(self->fd, &b));
	EXPECT_EQ(3, b.value[DRM_SPATTEN_CNT_JOBS_OK] -
		     a.value[DRM_SPATTEN_CNT_JOBS_OK]);
	EXPECT_EQ(0, b.value[DRM_SPATTEN_CNT_JOBS_ERR] -
		     a.value[DRM_SPATTEN_CNT_JOBS_ERR]);
	EXPECT_EQ(2 * SMALL_BYTES, b.value[DRM_SPATTEN_CNT_BYTES_Q] -
				   a.value[DRM_SPATTEN_CNT_BYTES_Q]);
	EXPECT_EQ(2 * SMALL_BYTES, b.value[DRM_SPATTEN_CNT_BYTES_WRITTEN] -
				   a.value[DRM_SPATTEN_CNT_BYTES_WRITTEN]);
	EXPECT_LT(a.value[DRM_SPATTEN_CNT_CYCLES], b.value[DRM_SPATTEN_CNT_CYCLES]);
}

TEST_F(spatten, counters_flags_einval)
{
	struct drm_spatten_counters c = { .flags = 1 };

	EXPECT_EQ(-EINVAL, xioctl(self->fd, DRM_IOCTL_SPATTEN_COUNTERS, &c));
}

/* ---- ioctl numbers -------------------------------------------------------- */

/* Unknown driver ioctl numbers: -EINVAL from the DRM core. */
TEST_F(spatten, unknown_driver_ioctl_einval)
{
	char buf[256] = { 0 };

	EXPECT_EQ(-EINVAL, xioctl(self->fd, DRM_IO(DRM_COMMAND_BASE + 0x3f),
				  NULL));
	EXPECT_EQ(-EINVAL, xioctl(self->fd,
				  DRM_IOWR(DRM_COMMAND_BASE +
					   DRM_SPATTEN_COUNTERS + 1, buf),
				  buf));
}

/*
 * A struct shorter or longer than the kernel's: the DRM core zero-extends
 * what comes in and copies out only what the caller's size says.
 */
TEST_F(spatten, ioctl_size_mismatch_extends_or_truncates)
{
	unsigned char buf[sizeof(struct drm_spatten_info) + 64];
	struct drm_spatten_info *in = (void *)buf;
	size_t i, k = sizeof(struct drm_spatten_info);

	/* Shorter, read only: 8 bytes come back, the rest is untouched. */
	memset(buf, 0xee, sizeof(buf));
	ASSERT_EQ(0, xioctl(self->fd, _IOC(_IOC_READ, DRM_IOCTL_BASE,
		DRM_COMMAND_BASE + DRM_SPATTEN_INFO, 8), buf));
	EXPECT_EQ(DRM_SPATTEN_API_VERSION, in->api_version);
	for (i = 8; i < sizeof(buf); i++)
		ASSERT_EQ(0xee, buf[i]);
	/* Longer, read only: the kernel's struct, then zeros. */
	memset(buf, 0xee, sizeof(buf));
	ASSERT_EQ(0, xioctl(self->fd, _IOC(_IOC_READ,
		DRM_IOCTL_BASE, DRM_COMMAND_BASE + DRM_SPATTEN_INFO, k + 64),
		buf));
	EXPECT_EQ(DRM_SPATTEN_API_VERSION, in->api_version);
	for (i = k; i < sizeof(buf); i++)
		ASSERT_EQ(0, buf[i]);
}

/* ---- lifetimes --------------------------------------------------------------- */

TEST_F_TIMEOUT(spatten, buffer_freed_while_job_in_flight_still_completes,
	       T_LONG)
{
	struct drm_spatten_result w;
	struct big b;
	uint64_t seqno;

	ASSERT_EQ(0, big_job(self->fd, &self->info, &b));
	ASSERT_EQ(0, submit(self->fd, &b.job, 1, &seqno));
	ASSERT_EQ(0, bo_destroy(self->fd, b.handle));
	/* The handle is gone for new jobs at once... */
	EXPECT_EQ(-ENOENT, submit_err(self->fd, &b.job));
	/* ...but the job that holds it finishes normally. */
	ASSERT_EQ(0, wait_job(self->fd, seqno, 120 * NSEC_PER_SEC, &w));
	EXPECT_EQ(DRM_SPATTEN_STATUS_OK, w.status);
	EXPECT_EQ(0xb16, w.user_data);
}

TEST_F_TIMEOUT(spatten, close_with_jobs_in_flight_does_not_hang, T_LONG)
{
	struct drm_spatten_job nop;
	int64_t deadline;
	int status = -1;
	uint64_t seqno;
	pid_t pid, r;

	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		struct big b;
		int fd = open_dev(), i;

		if (fd < 0 || big_job(fd, &self->info, &b))
			_exit(2);
		for (i = 0; i < 4; i++)
			if (submit(fd, &b.job, 1, NULL))
				_exit(3);
		_exit(0);		/* no WAIT, no close: exit does it */
	}

	deadline = now_ns() + 120 * NSEC_PER_SEC;
	do {
		r = waitpid(pid, &status, WNOHANG);
		if (r == 0)
			usleep(20000);
	} while (r == 0 && now_ns() < deadline);
	if (r == 0) {
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
	}
	ASSERT_EQ(pid, r) {
		TH_LOG("child with jobs in flight did not exit in 120 s");
	}
	ASSERT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status));

	/* The device still works for everybody else. */
	nop_job(&nop, 7);
	ASSERT_EQ(0, submit(self->fd, &nop, 1, &seqno));
	EXPECT_EQ(0, wait_job(self->fd, seqno, 120 * NSEC_PER_SEC, NULL));
}

TEST_F_TIMEOUT(spatten, close_fd_with_unreaped_jobs_then_reopen, T_SHORT)
{
	struct drm_spatten_job j[4];
	uint64_t seqno;
	unsigned int i;
	int fd2 = open_dev();

	ASSERT_LE(0, fd2);
	for (i = 0; i < 4; i++)
		nop_job(&j[i], i);
	ASSERT_EQ(0, submit(fd2, j, 4, &seqno));
	ASSERT_EQ(0, close(fd2));
	/* A fresh file starts its own seqnos and works. */
	fd2 = open_dev();
	ASSERT_LE(0, fd2);
	ASSERT_EQ(0, submit(fd2, j, 1, &seqno));
	EXPECT_EQ(0, wait_job(fd2, seqno, WAIT_NS, NULL));
	close(fd2);
}

/* ---- descriptor version 3 (API 5) ---------------------------------------- */

#define V3_FEATURES	(DRM_SPATTEN_FEAT_DESC_V3 | DRM_SPATTEN_FEAT_GQA | \
			 DRM_SPATTEN_FEAT_KV_LAYOUT | DRM_SPATTEN_FEAT_ROPE)

/*
 * The small job as version 3 with @kv_heads KV heads: K and V hold the
 * first @kv_heads heads of the small layout.
 */
static void small_job_v3(struct drm_spatten_job *j, uint32_t handle,
			 uint16_t kv_heads)
{
	small_job(j, handle);
	j->version = DRM_SPATTEN_DESC_V3;
	j->q_rows = 0;
	j->kv_rows = 0;
	j->q_rows32 = SMALL_ROWS;
	j->kv_rows32 = SMALL_ROWS;
	j->n_kv_heads = kv_heads;
}

TEST_F(spatten, v3_info_reports_api6_and_features)
{
	EXPECT_EQ(6, self->info.api_version);
	/* only the features this driver knows (bits 0..13) */
	EXPECT_EQ(0, self->info.features >> 14);
	if ((self->info.hw_version & 0xffff) < 2)
		SKIP(return, "hardware %#x has no descriptor version 3",
		     self->info.hw_version);
	EXPECT_EQ(V3_FEATURES, self->info.features & V3_FEATURES);
	EXPECT_LE(131072, self->info.max_context);
}

/*
 * Grouped-query attention is repeat-KV attention: a version 3 job with 2
 * KV heads gives the bytes of a version 2 job whose 4 heads of K and V are
 * copies of those 2 (head h of group h / 2).
 */
TEST_F(spatten, v3_gqa_is_repeat_kv_bit_for_bit)
{
	const size_t head = SMALL_ROWS * SMALL_DIM * 2;
	char *b = self->map, *gqa_out;
	struct drm_spatten_job j;
	uint64_t seqno;
	unsigned int h;

	if (!(self->info.features & DRM_SPATTEN_FEAT_GQA))
		SKIP(return, "no grouped-query attention on this board");
	small_inputs(self, 7);
	/* v3: K and V heads 0 and 1 of the small layout */
	small_job_v3(&j, self->handle, 2);
	ASSERT_EQ(0, submit(self->fd, &j, 1, &seqno));
	ASSERT_EQ(0, wait_job(self->fd, seqno, WAIT_NS, NULL));
	gqa_out = malloc(SMALL_BYTES);
	ASSERT_NE(NULL, gqa_out);
	memcpy(gqa_out, b + OFF_OUT, SMALL_BYTES);
	/* v2: heads 3, 2 copy heads 1, 1 and 1 copies 0 (back to front) */
	for (h = SMALL_HEADS; h-- > 0;) {
		memmove(b + OFF_K + h * head, b + OFF_K + h / 2 * head, head);
		memmove(b + OFF_V + h * head, b + OFF_V + h / 2 * head, head);
	}
	memset(b + OFF_OUT, 0, SMALL_BYTES);
	small_job(&j, self->handle);
	ASSERT_EQ(0, submit(self->fd, &j, 1, &seqno));
	ASSERT_EQ(0, wait_job(self->fd, seqno, WAIT_NS, NULL));
	EXPECT_EQ(0, memcmp(gqa_out, b + OFF_OUT, SMALL_BYTES));
	free(gqa_out);
}

/* Every field of a version 3 job that the driver refuses: -EINVAL. */
TEST_F(spatten, v3_bad_fields_einval)
{
	struct drm_spatten_job j;

	if (!(self->info.features & DRM_SPATTEN_FEAT_DESC_V3))
		SKIP(return, "no descriptor version 3 on this board");
#define V3_BAD(stmt) do {						\
	small_job_v3(&j, self->handle, 2);				\
	stmt;								\
	EXPECT_EQ(-EINVAL, submit_err(self->fd, &j)) {			\
		TH_LOG("accepted: %s", #stmt);				\
	}								\
} while (0)
	small_job_v3(&j, self->handle, 2);
	EXPECT_EQ(0, submit_err(self->fd, &j));
	V3_BAD(j.n_kv_heads = 0);
	V3_BAD(j.n_kv_heads = 3);
	V3_BAD(j.n_kv_heads = SMALL_HEADS * 2);
	V3_BAD(j.q_rows = SMALL_ROWS);		/* the 16-bit fields */
	V3_BAD(j.kv_rows = 1);
	V3_BAD(j.value_keep = 1);
	V3_BAD(j.rsvd4 = 1);
	V3_BAD(j.flags = DRM_SPATTEN_JOB_HEAD_FRACS);	/* no table */
	V3_BAD(tensor(&j.head_fracs, self->handle, OFF_OUT));	/* no flag */
	V3_BAD((j.flags = DRM_SPATTEN_JOB_HEAD_FRACS,
		tensor(&j.head_fracs, self->handle, OFF_OUT)));	/* fracs set */
	V3_BAD(j.kv_rows32 = self->info.max_context + 1);
	V3_BAD((j.flags = DRM_SPATTEN_JOB_CAUSAL, j.q_start32 = 0xffffffff));
	V3_BAD(j.flags = 1u << 4);
	V3_BAD(j.kv_row_stride = 1);		/* head stride 0, 2 heads */
	V3_BAD(j.kv_block_stride = 64);		/* not paged */
	V3_BAD((j.kv_row_stride = 1, j.kv_head_stride = SMALL_ROWS,
		j.kv_block_rows = 12, j.kv_block_stride = 12));
	V3_BAD((j.kv_row_stride = 1, j.kv_head_stride = SMALL_ROWS,
		j.kv_block_rows = 8, j.kv_block_stride = 8));	/* no table */
	V3_BAD(j.rope_base = 10000);		/* without ROPE */
	V3_BAD(j.flags = DRM_SPATTEN_JOB_ROPE);	/* base 0 */
	V3_BAD((j.flags = DRM_SPATTEN_JOB_ROPE, j.rope_base = 1));
	V3_BAD((j.flags = DRM_SPATTEN_JOB_ROPE_POSITIONS,
		tensor(&j.positions, self->handle, OFF_OUT)));
	V3_BAD(tensor(&j.positions, self->handle, OFF_OUT));	/* no flag */
	V3_BAD(j.score_scale = 0x7fc00000);	/* NaN */
	V3_BAD(j.score_scale = 0xbf800000);	/* -1 */
	V3_BAD(j.score_scale = 0x00000001);	/* subnormal */
	/* a version 2 job leaves the version 3 fields zero */
	V3_BAD((small_job(&j, self->handle), j.n_kv_heads = SMALL_HEADS));
	V3_BAD((small_job(&j, self->handle), j.kv_rows32 = 1));
	V3_BAD((small_job(&j, self->handle), j.score_scale = 0x3f800000));
#undef V3_BAD
}

/*
 * Chunked generation (DRM_SPATTEN_FEAT_CHUNKS): a version 3 generation job
 * of 6 new tokens at slots 10..15 gives the bytes of the causal
 * summarization of those rows, and its importance; a chunk that does not
 * end at the last slot, is not causal, or has a token_keep above the
 * listed and new tokens is -EINVAL.
 */
TEST_F_TIMEOUT(spatten, v3_chunk_is_causal_summarization, T_SHORT)
{
	const size_t out_bytes = SMALL_HEADS * 6 * SMALL_DIM * 2;
	const size_t imp_off = OFF_OUT + SMALL_BYTES;
	const size_t imp_bytes = SMALL_ROWS * 8;
	char *b = self->map, *chunk_out, *chunk_imp;
	struct drm_spatten_job j;
	struct drm_spatten_result w;
	uint64_t seqno;
	unsigned int pass;

	if (!(self->info.features & DRM_SPATTEN_FEAT_CHUNKS))
		SKIP(return, "no chunked generation on this board");
	ASSERT_LE(imp_off + 2 * imp_bytes, BO_SIZE);
	small_inputs(self, 9);
	chunk_out = malloc(out_bytes);
	chunk_imp = malloc(imp_bytes);
	ASSERT_NE(NULL, chunk_out);
	ASSERT_NE(NULL, chunk_imp);
	for (pass = 0; pass < 2; pass++) {
		memset(b + OFF_OUT, 0, out_bytes);
		memset(b + imp_off, 0, imp_bytes);
		small_job_v3(&j, self->handle, SMALL_HEADS);
		j.stage = pass ? DRM_SPATTEN_STAGE_SUMMARIZATION :
				 DRM_SPATTEN_STAGE_GENERATION;
		j.flags = DRM_SPATTEN_JOB_CAUSAL;
		j.q_rows32 = 6;
		j.q_start32 = SMALL_ROWS - 6;
		tensor(&j.tok_imp, self->handle, imp_off);
		ASSERT_EQ(0, submit(self->fd, &j, 1, &seqno));
		ASSERT_EQ(0, wait_job(self->fd, seqno, WAIT_NS, &w));
		ASSERT_EQ(DRM_SPATTEN_STATUS_OK, w.status);
		if (!pass) {
			memcpy(chunk_out, b + OFF_OUT, out_bytes);
			memcpy(chunk_imp, b + imp_off, imp_bytes);
		}
	}
	EXPECT_EQ(0, memcmp(chunk_out, b + OFF_OUT, out_bytes));
	EXPECT_EQ(0, memcmp(chunk_imp, b + imp_off, imp_bytes));
	free(chunk_out);
	free(chunk_imp);

#define CHUNK(stmt) do {						\
	small_job_v3(&j, self->handle, SMALL_HEADS);			\
	j.stage = DRM_SPATTEN_STAGE_GENERATION;				\
	j.flags = DRM_SPATTEN_JOB_CAUSAL;				\
	j.q_rows32 = 6;							\
	j.q_start32 = SMALL_ROWS - 6;					\
	stmt;								\
} while (0)
	memcpy(b + imp_off + imp_bytes,
	       (const uint32_t[]){ 0, 3, 5 }, 3 * sizeof(uint32_t));
	CHUNK((void)0);
	EXPECT_EQ(0, submit_err(self->fd, &j));
	CHUNK(j.q_start32 = SMALL_ROWS - 7);	/* ends before the last slot */
	EXPECT_EQ(-EINVAL, submit_err(self->fd, &j));
	CHUNK((j.q_rows32 = SMALL_ROWS, j.q_start32 = 0, j.flags = 0));
	EXPECT_EQ(-EINVAL, submit_err(self->fd, &j));	/* not causal */
	/* 3 listed + 6 new candidates: token_keep 9 is fine, 10 is not */
	CHUNK((j.n_tok_alive32 = 3, j.token_keep32 = 9,
	       tensor(&j.tok_alive, self->handle, imp_off + imp_bytes),
	       tensor(&j.tok_kept, self->handle, imp_off + imp_bytes + 64),
	       tensor(&j.tok_imp, self->handle, imp_off)));
	EXPECT_EQ(0, submit_err(self->fd, &j));
	j.token_keep32 = 10;
	EXPECT_EQ(-EINVAL, submit_err(self->fd, &j));
#undef CHUNK
}

/*
 * Token importance per KV head (DRM_SPATTEN_FEAT_IMP_PER_KV_HEAD): a GQA
 * 4/2 job with the flag writes two rows of importance whose sum is the
 * shared array of the same job without it, with the same output bytes;
 * the flag with token_keep, without tok_imp or in a version 2 job is
 * -EINVAL, and a tok_imp of kv_rows x 8 bytes only is -ERANGE.
 */
TEST_F_TIMEOUT(spatten, v3_imp_per_kv_head_sums_to_shared, T_SHORT)
{
	const size_t out_bytes = SMALL_BYTES;
	const size_t imp_off = OFF_OUT + SMALL_BYTES;
	const size_t row = SMALL_ROWS * 8;
	char *b = self->map, *kv_out;
	uint64_t kv_imp[2][SMALL_ROWS], shared[SMALL_ROWS];
	struct drm_spatten_job j;
	struct drm_spatten_result w;
	uint64_t seqno;
	unsigned int pass, t;

	if (!(self->info.features & DRM_SPATTEN_FEAT_IMP_PER_KV_HEAD))
		SKIP(return, "no importance per KV head on this board");
	ASSERT_LE(imp_off + 2 * row, BO_SIZE);
	small_inputs(self, 11);
	kv_out = malloc(out_bytes);
	ASSERT_NE(NULL, kv_out);
	for (pass = 0; pass < 2; pass++) {
		memset(b + OFF_OUT, 0, out_bytes);
		memset(b + imp_off, 0, 2 * row);
		small_job_v3(&j, self->handle, 2);
		j.flags = DRM_SPATTEN_JOB_CAUSAL |
			  (pass ? 0 : DRM_SPATTEN_JOB_IMP_PER_KV_HEAD);
		tensor(&j.tok_imp, self->handle, imp_off);
		ASSERT_EQ(0, submit(self->fd, &j, 1, &seqno));
		ASSERT_EQ(0, wait_job(self->fd, seqno, WAIT_NS, &w));
		ASSERT_EQ(DRM_SPATTEN_STATUS_OK, w.status);
		if (!pass) {
			memcpy(kv_out, b + OFF_OUT, out_bytes);
			memcpy(kv_imp, b + imp_off, sizeof(kv_imp));
		}
	}
	memcpy(shared, b + imp_off, sizeof(shared));
	EXPECT_EQ(0, memcmp(kv_out, b + OFF_OUT, out_bytes));
	for (t = 0; t < SMALL_ROWS; t++) {
		EXPECT_NE(0, kv_imp[0][t]);
		EXPECT_NE(0, kv_imp[1][t]);
		EXPECT_EQ(shared[t], kv_imp[0][t] + kv_imp[1][t]);
	}
	free(kv_out);

#define KVIMP(stmt) do {						\
	small_job_v3(&j, self->handle, 2);				\
	j.flags = DRM_SPATTEN_JOB_CAUSAL |				\
		  DRM_SPATTEN_JOB_IMP_PER_KV_HEAD;			\
	tensor(&j.tok_imp, self->handle, imp_off);			\
	stmt;								\
} while (0)
	KVIMP((void)0);
	EXPECT_EQ(0, submit_err(self->fd, &j));
	KVIMP((j.token_keep32 = 8,
	       tensor(&j.tok_kept, self->handle, imp_off + 2 * row)));
	EXPECT_EQ(-EINVAL, submit_err(self->fd, &j));
	KVIMP(memset(&j.tok_imp, 0, sizeof(j.tok_imp)));
	EXPECT_EQ(-EINVAL, submit_err(self->fd, &j));
	KVIMP(tensor(&j.tok_imp, self->handle, BO_SIZE - row));
	EXPECT_EQ(-ERANGE, submit_err(self->fd, &j));
	small_job(&j, self->handle);
	j.flags = DRM_SPATTEN_JOB_IMP_PER_KV_HEAD;
	tensor(&j.tok_imp, self->handle, imp_off);
	EXPECT_EQ(-EINVAL, submit_err(self->fd, &j));
#undef KVIMP
}

/* The KV planes must hold every row the layout reaches: -ERANGE. */
TEST_F(spatten, v3_layout_beyond_the_buffer_erange)
{
	struct drm_spatten_job j;

	if (!(self->info.features & DRM_SPATTEN_FEAT_KV_LAYOUT))
		SKIP(return, "no KV layouts on this board");
	/* head-major with capacity: 2 KV heads of 40 rows from OFF_V */
	small_job_v3(&j, self->handle, 2);
	j.kv_head_stride = 40;
	j.kv_row_stride = 1;
	EXPECT_EQ(0, submit_err(self->fd, &j));
	tensor(&j.v, self->handle, BO_SIZE - (40 + SMALL_ROWS) * SMALL_DIM * 2);
	EXPECT_EQ(0, submit_err(self->fd, &j));
	j.v.offset += 2;
	EXPECT_EQ(-ERANGE, submit_err(self->fd, &j));
	/* a block table one entry short */
	small_job_v3(&j, self->handle, 2);
	j.kv_head_stride = 1;
	j.kv_row_stride = 2;
	j.kv_block_rows = 8;
	j.kv_block_stride = 16;
	tensor(&j.block_table, self->handle, BO_SIZE - 8);
	EXPECT_EQ(0, submit_err(self->fd, &j));
	j.block_table.offset += 4;
	EXPECT_EQ(-ERANGE, submit_err(self->fd, &j));
	j.block_table.offset -= 2;
	EXPECT_EQ(-EINVAL, submit_err(self->fd, &j));	/* misaligned */
}

/* A block number past the buffer: the device fails the job, ERR_BLOCK. */
TEST_F(spatten, v3_block_outside_the_buffer_err_block)
{
	struct drm_spatten_result res;
	struct drm_spatten_job j;
	char *b = self->map;
	uint32_t table[2] = { 1, 0 };
	uint64_t seqno;

	if (!(self->info.features & DRM_SPATTEN_FEAT_KV_LAYOUT))
		SKIP(return, "no KV layouts on this board");
	small_inputs(self, 9);
	small_job_v3(&j, self->handle, 2);
	j.kv_head_stride = 1;
	j.kv_row_stride = 2;
	j.kv_block_rows = 8;
	j.kv_block_stride = 16;
	memcpy(b + BO_SIZE - 8, table, sizeof(table));
	tensor(&j.block_table, self->handle, BO_SIZE - 8);
	ASSERT_EQ(0, submit(self->fd, &j, 1, &seqno));
	ASSERT_EQ(0, wait_job(self->fd, seqno, WAIT_NS, &res));
	EXPECT_EQ(DRM_SPATTEN_STATUS_OK, res.status);
	/* block 1000 of 16 rows is far past the 64 KiB buffer */
	table[1] = 1000;
	memcpy(b + BO_SIZE - 8, table, sizeof(table));
	memset(b + OFF_OUT, 0x5a, SMALL_BYTES);
	ASSERT_EQ(0, submit(self->fd, &j, 1, &seqno));
	ASSERT_EQ(0, wait_job(self->fd, seqno, WAIT_NS, &res));
	EXPECT_EQ(DRM_SPATTEN_STATUS_ERR_BLOCK, res.status);
	EXPECT_EQ(0x5a, (unsigned char)b[OFF_OUT]);
}

/* Callers built against API 4 pass the shorter job: still accepted. */
TEST_F(spatten, api4_job_size_still_accepted)
{
	struct drm_spatten_job j;
	struct drm_spatten_submit s = {
		.jobs_ptr = (uintptr_t)&j,
		.job_size = offsetof(struct drm_spatten_job, q_rows32),
		.count = 1,
	};

	small_job(&j, self->handle);
	ASSERT_EQ(0, xioctl(self->fd, DRM_IOCTL_SPATTEN_SUBMIT, &s));
	EXPECT_EQ(0, wait_job(self->fd, s.seqno, WAIT_NS, NULL));
	/* a version 3 job cut to API 4's size has no rows: -EINVAL */
	small_job_v3(&j, self->handle, 2);
	EXPECT_EQ(-EINVAL, xioctl(self->fd, DRM_IOCTL_SPATTEN_SUBMIT, &s));
}

TEST_HARNESS_MAIN
