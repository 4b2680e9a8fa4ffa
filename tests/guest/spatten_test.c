// SPDX-License-Identifier: GPL-2.0
/*
 * In-guest tests of /dev/spatten<N>: the success and error path of every
 * ioctl, mmap, poll(), isolation between open files and jobs that outlive
 * their buffers or their file.
 *
 * Built with the kernel's kselftest harness (GPL-2.0). The ioctl under test
 * is always issued raw, so each check pins the UAPI contract itself; the
 * library is used only for fixed-point conversion.
 *
 * Environment: SPATTEN_DEV overrides the device node (default
 * /dev/spatten0).
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

#include "kselftest_harness.h"

#include "libspatten.h"

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

static const char *dev_path(void)
{
	const char *p = getenv("SPATTEN_DEV");

	return p && *p ? p : "/dev/spatten0";
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
	struct spatten_bo_create c = { .size = size };
	int ret = xioctl(fd, SPATTEN_IOCTL_BO_CREATE, &c);

	if (!ret) {
		if (handle)
			*handle = c.handle;
		if (off)
			*off = c.mmap_offset;
	}
	return ret;
}

static int bo_destroy(int fd, uint32_t handle)
{
	struct spatten_bo_destroy d = { .handle = handle };

	return xioctl(fd, SPATTEN_IOCTL_BO_DESTROY, &d);
}

static int submit(int fd, const struct spatten_job *jobs, uint32_t n,
		  uint64_t *seqno)
{
	struct spatten_submit s = {
		.jobs_ptr = (uintptr_t)jobs,
		.count = n,
	};
	int ret = xioctl(fd, SPATTEN_IOCTL_SUBMIT, &s);

	if (!ret && seqno)
		*seqno = s.seqno;
	return ret;
}

/* WAIT with a timeout relative to now (the ioctl takes a deadline). */
static int wait_job(int fd, uint64_t seqno, int64_t rel_ns,
		    struct spatten_wait *out)
{
	struct spatten_wait w = {
		.seqno = seqno,
		.timeout_ns = now_ns() + rel_ns,
	};
	int ret = xioctl(fd, SPATTEN_IOCTL_WAIT, &w);

	if (out)
		*out = w;
	return ret;
}

static int get_counters(int fd, struct spatten_counters *c)
{
	memset(c, 0, sizeof(*c));
	return xioctl(fd, SPATTEN_IOCTL_COUNTERS, c);
}

static void nop_job(struct spatten_job *j, uint64_t user_data)
{
	memset(j, 0, sizeof(*j));
	j->opcode = SPATTEN_OP_NOP;
	j->version = SPATTEN_DESC_VERSION;
	j->user_data = user_data;
}

static void tensor(struct spatten_tensor *t, uint32_t handle, uint64_t off)
{
	t->handle = handle;
	t->flags = 0;
	t->offset = off;
}

/* A valid non-causal summarization job over the small layout of @handle. */
static void small_job(struct spatten_job *j, uint32_t handle)
{
	memset(j, 0, sizeof(*j));
	j->opcode = SPATTEN_OP_ATTENTION;
	j->stage = SPATTEN_STAGE_SUMMARIZATION;
	j->version = SPATTEN_DESC_VERSION;
	j->n_heads = SMALL_HEADS;
	j->head_dim = SMALL_DIM;
	j->q_rows = SMALL_ROWS;
	j->kv_rows = SMALL_ROWS;
	j->q_fmt = j->k_fmt = j->v_fmt = j->out_fmt = SPATTEN_FMT_S16;
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
static void check_attention(const struct spatten_job *j, const void *base,
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

			if (j->flags & SPATTEN_DESC_F_CAUSAL &&
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

/* ---- fixture: an open device with one mapped buffer ---------------------- */

FIXTURE(spatten) {
	int fd;
	struct spatten_info info;
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
	ASSERT_EQ(0, xioctl(self->fd, SPATTEN_IOCTL_INFO, &self->info));
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
static int submit_err(int fd, const struct spatten_job *j)
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
	struct spatten_job job;
};

static int big_job(int fd, const struct spatten_info *info, struct big *b)
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
	b->job.opcode = SPATTEN_OP_ATTENTION;
	b->job.version = SPATTEN_DESC_VERSION;
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
	struct spatten_info *in = &self->info;
	unsigned int i;

	EXPECT_EQ(SPATTEN_API_VERSION, in->api_version);
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
	EXPECT_TRUE(in->formats & (1u << SPATTEN_FMT_S16));
	/* progressive splits: n MSBs + 4 LSBs, n in {4, 6, 8, 10, 12} */
	EXPECT_EQ(0, in->splits & ~0x1550u);
	EXPECT_EQ(!!in->splits, !!(in->features & SPATTEN_FEAT_PROGRESSIVE));
	EXPECT_EQ(0, in->formats & ~((1u << SPATTEN_FMT_NUM) - 1));
	EXPECT_TRUE(in->features & SPATTEN_FEAT_CAUSAL);
	EXPECT_TRUE(in->features & SPATTEN_FEAT_GENERATION);
	EXPECT_LE(32, in->dma_bits);
	EXPECT_GE(64, in->dma_bits);
	EXPECT_LE(1u << 20, in->max_bo_size);
	EXPECT_EQ(0, in->rsvd0);
	for (i = 0; i < 4; i++)
		EXPECT_EQ(0, in->rsvd[i]);
}

TEST_F(spatten, info_bad_pointer_efault)
{
	EXPECT_EQ(-EFAULT, xioctl(self->fd, SPATTEN_IOCTL_INFO, NULL));
	EXPECT_EQ(-EFAULT, xioctl(self->fd, SPATTEN_IOCTL_INFO,
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
	struct spatten_bo_create c = { .size = PAGE, .flags = 1 };

	EXPECT_EQ(-EINVAL, xioctl(self->fd, SPATTEN_IOCTL_BO_CREATE, &c));
	c.flags = 0x80000000u;
	EXPECT_EQ(-EINVAL, xioctl(self->fd, SPATTEN_IOCTL_BO_CREATE, &c));
}

TEST_F(spatten, bo_create_rsvd_einval)
{
	struct spatten_bo_create c = { .size = PAGE, .rsvd = 1 };

	EXPECT_EQ(-EINVAL, xioctl(self->fd, SPATTEN_IOCTL_BO_CREATE, &c));
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

TEST_F(spatten, bo_destroy_ok_then_twice_enoent)
{
	uint32_t h;

	ASSERT_EQ(0, bo_create(self->fd, PAGE, &h, NULL));
	EXPECT_EQ(0, bo_destroy(self->fd, h));
	EXPECT_EQ(-ENOENT, bo_destroy(self->fd, h));
}

TEST_F(spatten, bo_destroy_handle_zero_enoent)
{
	EXPECT_EQ(-ENOENT, bo_destroy(self->fd, 0));
	EXPECT_EQ(-ENOENT, bo_destroy(self->fd, 0xfffffff0u));
}

TEST_F(spatten, bo_destroy_flags_einval)
{
	struct spatten_bo_destroy d = { .handle = self->handle, .flags = 1 };

	EXPECT_EQ(-EINVAL, xioctl(self->fd, SPATTEN_IOCTL_BO_DESTROY, &d));
	/* The handle survived the bad call. */
	EXPECT_EQ(0, bo_destroy(self->fd, self->handle));
}

TEST_F(spatten, bo_destroy_other_files_handle_enoent)
{
	int fd2 = open_dev();
	uint32_t h2;

	ASSERT_LE(0, fd2);
	ASSERT_EQ(0, bo_create(fd2, PAGE, &h2, NULL));
	/* Whatever the numbers, fd2's handle is not ours to destroy... */
	if (h2 != self->handle)
		EXPECT_EQ(-ENOENT, bo_destroy(self->fd, h2));
	/* ...and ours is not fd2's. */
	if (self->handle != h2)
		EXPECT_EQ(-ENOENT, bo_destroy(fd2, self->handle));
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
	struct spatten_job j;
	struct spatten_wait w;
	uint64_t seqno;

	nop_job(&j, 0xfeedfacecafebeefull);
	ASSERT_EQ(0, submit(self->fd, &j, 1, &seqno));
	EXPECT_NE(0, seqno);
	ASSERT_EQ(0, wait_job(self->fd, seqno, WAIT_NS, &w));
	EXPECT_EQ(SPATTEN_HW_OK, w.status);
	EXPECT_EQ(0xfeedfacecafebeefull, w.user_data);
	EXPECT_EQ(0, w.bytes_q + w.bytes_k_msb + w.bytes_k_lsb + w.bytes_v +
		     w.bytes_written);
	EXPECT_EQ(0, w.lsb_refetches);
	EXPECT_EQ(0, w.rsvd0);
	EXPECT_EQ(0, w.rsvd[0]);
}

TEST_F_TIMEOUT(spatten, attention_small_matches_reference, T_SHORT)
{
	struct spatten_job j;
	struct spatten_wait w;
	uint64_t seqno;
	double err, tol;

	small_inputs(self, 1);
	small_job(&j, self->handle);
	ASSERT_EQ(0, submit(self->fd, &j, 1, &seqno));
	ASSERT_EQ(0, wait_job(self->fd, seqno, WAIT_NS, &w));
	ASSERT_EQ(SPATTEN_HW_OK, w.status);
	EXPECT_EQ(j.user_data, w.user_data);
	check_attention(&j, self->map, &err, &tol);
	EXPECT_LE(err, tol) {
		TH_LOG("max |err| %g > tolerance %g", err, tol);
	}
}

TEST_F_TIMEOUT(spatten, attention_reports_traffic_and_cycles, T_SHORT)
{
	struct spatten_job j;
	struct spatten_wait w;
	uint64_t seqno;

	small_inputs(self, 2);
	small_job(&j, self->handle);
	ASSERT_EQ(0, submit(self->fd, &j, 1, &seqno));
	ASSERT_EQ(0, wait_job(self->fd, seqno, WAIT_NS, &w));
	ASSERT_EQ(SPATTEN_HW_OK, w.status);
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
	struct spatten_job j;
	struct spatten_wait w;
	uint64_t seqno;
	double err, tol;

	small_inputs(self, 3);
	small_job(&j, self->handle);
	/* 8 queries at positions 8..15 of 16 keys. */
	j.flags = SPATTEN_DESC_F_CAUSAL;
	j.q_rows = 8;
	j.q_start = 8;
	j.out_frac = 11;
	ASSERT_EQ(0, submit(self->fd, &j, 1, &seqno));
	ASSERT_EQ(0, wait_job(self->fd, seqno, WAIT_NS, &w));
	ASSERT_EQ(SPATTEN_HW_OK, w.status);
	check_attention(&j, self->map, &err, &tol);
	EXPECT_LE(err, tol) {
		TH_LOG("max |err| %g > tolerance %g", err, tol);
	}
}

TEST_F_TIMEOUT(spatten, attention_generation_matches_reference, T_SHORT)
{
	struct spatten_job j;
	struct spatten_wait w;
	uint64_t seqno;
	double err, tol;

	small_inputs(self, 4);
	small_job(&j, self->handle);
	j.stage = SPATTEN_STAGE_GENERATION;
	j.flags = SPATTEN_DESC_F_CAUSAL;
	j.q_rows = 1;
	j.q_start = SMALL_ROWS - 1;
	ASSERT_EQ(0, submit(self->fd, &j, 1, &seqno));
	ASSERT_EQ(0, wait_job(self->fd, seqno, WAIT_NS, &w));
	ASSERT_EQ(SPATTEN_HW_OK, w.status);
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
	check_attention(&j, spatten_bo_map(bo), &err, &tol);
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
	EXPECT_EQ(-EINVAL, spatten_wait(dev, seqno + 2, 0, &res));
	spatten_close(dev);
}

TEST_F_TIMEOUT(spatten, batch_gets_consecutive_seqnos_and_completes, T_SHORT)
{
	struct spatten_job j[8];
	struct spatten_wait w;
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
		EXPECT_EQ(SPATTEN_HW_OK, w.status);
		EXPECT_EQ(100 + i, w.user_data);
	}
	ASSERT_EQ(0, wait_job(self->fd, seqno2, WAIT_NS, &w));
}

TEST_F_TIMEOUT(spatten, batch_of_max_submit_completes, T_SHORT)
{
	struct spatten_job j[SPATTEN_MAX_SUBMIT];
	uint64_t seqno;
	unsigned int i;

	for (i = 0; i < SPATTEN_MAX_SUBMIT; i++)
		nop_job(&j[i], i);
	ASSERT_EQ(0, submit(self->fd, j, SPATTEN_MAX_SUBMIT, &seqno));
	for (i = 0; i < SPATTEN_MAX_SUBMIT; i++)
		EXPECT_EQ(0, wait_job(self->fd, seqno + i, WAIT_NS, NULL));
}

TEST_F_TIMEOUT(spatten, batch_with_one_bad_job_queues_nothing, T_SHORT)
{
	struct spatten_job j[3];
	struct spatten_wait w;
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
	EXPECT_EQ(-EINVAL, wait_job(self->fd, seqno + 1, 0, &w));
	/* ...so the next accepted job does. */
	ASSERT_EQ(0, submit(self->fd, j, 1, &after));
	EXPECT_EQ(seqno + 1, after);
	EXPECT_EQ(0, wait_job(self->fd, after, WAIT_NS, NULL));
}

/* ---- SUBMIT: struct spatten_submit errors ---------------------------------- */

TEST_F(spatten, submit_count_zero_einval)
{
	struct spatten_job j;

	nop_job(&j, 0);
	EXPECT_EQ(-EINVAL, submit(self->fd, &j, 0, NULL));
}

TEST_F(spatten, submit_count_over_max_einval)
{
	struct spatten_job j[SPATTEN_MAX_SUBMIT + 1];
	unsigned int i;

	for (i = 0; i <= SPATTEN_MAX_SUBMIT; i++)
		nop_job(&j[i], i);
	EXPECT_EQ(-EINVAL, submit(self->fd, j, SPATTEN_MAX_SUBMIT + 1, NULL));
	EXPECT_EQ(-EINVAL, submit(self->fd, j, UINT32_MAX, NULL));
}

TEST_F(spatten, submit_flags_einval)
{
	struct spatten_job j;
	struct spatten_submit s = { .count = 1, .flags = 1 };

	nop_job(&j, 0);
	s.jobs_ptr = (uintptr_t)&j;
	EXPECT_EQ(-EINVAL, xioctl(self->fd, SPATTEN_IOCTL_SUBMIT, &s));
}

TEST_F(spatten, submit_rsvd_einval)
{
	struct spatten_job j;
	struct spatten_submit s = { .count = 1, .rsvd = 1 };

	nop_job(&j, 0);
	s.jobs_ptr = (uintptr_t)&j;
	EXPECT_EQ(-EINVAL, xioctl(self->fd, SPATTEN_IOCTL_SUBMIT, &s));
}

TEST_F(spatten, submit_bad_jobs_ptr_efault)
{
	struct spatten_job *j;
	char *two;

	EXPECT_EQ(-EFAULT, submit(self->fd, NULL, 1, NULL));
	EXPECT_EQ(-EFAULT, submit(self->fd, (void *)8, 1, NULL));
	EXPECT_EQ(-EFAULT, submit(self->fd, (void *)-4096L, 1, NULL));

	/* Two jobs whose second one runs into an unmapped page. */
	two = mmap(NULL, 2 * PAGE, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, two);
	ASSERT_EQ(0, munmap(two + PAGE, PAGE));
	j = (struct spatten_job *)(two + PAGE) - 1;
	nop_job(j, 0);
	EXPECT_EQ(-EFAULT, submit(self->fd, j, 2, NULL));
	/* The first job alone is fine, and nothing else was queued. */
	EXPECT_EQ(0, submit_err(self->fd, j));
	munmap(two, PAGE);
}

TEST_F(spatten, submit_bad_arg_pointer_efault)
{
	EXPECT_EQ(-EFAULT, xioctl(self->fd, SPATTEN_IOCTL_SUBMIT, NULL));
	EXPECT_EQ(-EFAULT, xioctl(self->fd, SPATTEN_IOCTL_WAIT, NULL));
	EXPECT_EQ(-EFAULT, xioctl(self->fd, SPATTEN_IOCTL_BO_CREATE, NULL));
	EXPECT_EQ(-EFAULT, xioctl(self->fd, SPATTEN_IOCTL_BO_DESTROY, NULL));
	EXPECT_EQ(-EFAULT, xioctl(self->fd, SPATTEN_IOCTL_COUNTERS, NULL));
}

/* ---- SUBMIT: job header errors --------------------------------------------- */

TEST_F(spatten, job_bad_version_einval)
{
	struct spatten_job j;

	small_job(&j, self->handle);
	j.version = 0;
	EXPECT_EQ(-EINVAL, submit_err(self->fd, &j));
	j.version = SPATTEN_DESC_VERSION + 1;
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
	struct spatten_job j;

	small_job(&j, self->handle);
	j.opcode = 2;
	EXPECT_EQ(-EINVAL, submit_err(self->fd, &j));
	j.opcode = 0xffff;
	EXPECT_EQ(-EINVAL, submit_err(self->fd, &j));
}

TEST_F(spatten, job_bad_stage_einval)
{
	struct spatten_job j;

	small_job(&j, self->handle);
	j.stage = 2;
	EXPECT_EQ(-EINVAL, submit_err(self->fd, &j));
	j.stage = 0xff;
	EXPECT_EQ(-EINVAL, submit_err(self->fd, &j));
}

TEST_F(spatten, job_unknown_flags_einval)
{
	struct spatten_job j;
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
	struct spatten_job j;

	small_job(&j, self->handle);
	j.rsvd0 = 1;
	EXPECT_EQ(-EINVAL, submit_err(self->fd, &j));
}

TEST_F(spatten, job_rsvd1_einval)
{
	struct spatten_job j;

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
	struct spatten_job j;
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
	struct spatten_job j;
	unsigned int i;

	for (i = 0; i < 12; i++) {
		struct spatten_tensor *t[12] = {
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
	struct spatten_job j;
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
	struct spatten_job j;

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
	struct spatten_job j;
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
	struct spatten_job j;

	small_job(&j, self->handle);
	j.q_rows = 0;
	EXPECT_EQ(-EINVAL, submit_err(self->fd, &j));
}

TEST_F(spatten, job_kv_rows_zero_or_over_max_context_einval)
{
	uint64_t kv_bytes, size;
	struct spatten_job j;
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
	j.opcode = SPATTEN_OP_ATTENTION;
	j.version = SPATTEN_DESC_VERSION;
	j.stage = SPATTEN_STAGE_GENERATION;
	j.flags = SPATTEN_DESC_F_CAUSAL;
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
	struct spatten_job j;

	small_job(&j, self->handle);
	j.flags = SPATTEN_DESC_F_CAUSAL;
	j.q_rows = 8;
	j.q_start = 9;			/* 9 + 8 > 16 */
	EXPECT_EQ(-EINVAL, submit_err(self->fd, &j));
	j.q_start = 8;			/* boundary: accepted */
	EXPECT_EQ(0, submit_err(self->fd, &j));
}

TEST_F(spatten, job_noncausal_q_start_nonzero_einval)
{
	struct spatten_job j;

	small_job(&j, self->handle);
	j.q_rows = 8;
	j.q_start = 1;
	EXPECT_EQ(-EINVAL, submit_err(self->fd, &j));
}

TEST_F(spatten, job_generation_q_rows_not_one_einval)
{
	struct spatten_job j;

	small_job(&j, self->handle);
	j.stage = SPATTEN_STAGE_GENERATION;
	j.flags = SPATTEN_DESC_F_CAUSAL;
	j.q_rows = 2;
	j.q_start = SMALL_ROWS - 2;
	EXPECT_EQ(-EINVAL, submit_err(self->fd, &j));
}

TEST_F(spatten, job_generation_not_at_last_position_einval)
{
	struct spatten_job j;

	small_job(&j, self->handle);
	j.stage = SPATTEN_STAGE_GENERATION;
	j.flags = SPATTEN_DESC_F_CAUSAL;
	j.q_rows = 1;
	j.q_start = SMALL_ROWS - 2;
	EXPECT_EQ(-EINVAL, submit_err(self->fd, &j));
}

TEST_F(spatten, job_bad_format_einval)
{
	struct spatten_job j;
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
	struct spatten_job j;
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
	struct spatten_job j;

	small_job(&j, self->handle);
	j.v.handle = self->handle + 1000;
	EXPECT_EQ(-ENOENT, submit_err(self->fd, &j));
	small_job(&j, self->handle);
	j.q.handle = 0;
	EXPECT_EQ(-ENOENT, submit_err(self->fd, &j));
}

TEST_F(spatten, job_destroyed_handle_enoent)
{
	struct spatten_job j;
	uint32_t h;

	ASSERT_EQ(0, bo_create(self->fd, BO_SIZE, &h, NULL));
	ASSERT_EQ(0, bo_destroy(self->fd, h));
	small_job(&j, h);
	EXPECT_EQ(-ENOENT, submit_err(self->fd, &j));
}

TEST_F(spatten, job_handle_of_other_file_enoent)
{
	struct spatten_job j;
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
	struct spatten_job j;

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
	struct spatten_job j;

	small_job(&j, self->handle);
	j.v.offset = BO_SIZE - SMALL_BYTES + 2;
	EXPECT_EQ(-ERANGE, submit_err(self->fd, &j));
	j.v.offset = BO_SIZE - SMALL_BYTES;	/* exactly fits: accepted */
	EXPECT_EQ(0, submit_err(self->fd, &j));
}

TEST_F(spatten, job_misaligned_offset_einval)
{
	struct spatten_job j;

	small_job(&j, self->handle);
	j.k.offset = OFF_K + 1;
	EXPECT_EQ(-EINVAL, submit_err(self->fd, &j));
}

/* ---- WAIT ----------------------------------------------------------------- */

TEST_F(spatten, wait_seqno_zero_einval)
{
	EXPECT_EQ(-EINVAL, wait_job(self->fd, 0, 0, NULL));
}

TEST_F_TIMEOUT(spatten, wait_future_seqno_einval, T_SHORT)
{
	struct spatten_job j;
	uint64_t seqno;

	EXPECT_EQ(-EINVAL, wait_job(self->fd, 1, 0, NULL));
	nop_job(&j, 0);
	ASSERT_EQ(0, submit(self->fd, &j, 1, &seqno));
	EXPECT_EQ(-EINVAL, wait_job(self->fd, seqno + 1, 0, NULL));
	EXPECT_EQ(-EINVAL, wait_job(self->fd, UINT64_MAX, 0, NULL));
	EXPECT_EQ(0, wait_job(self->fd, seqno, WAIT_NS, NULL));
}

TEST_F_TIMEOUT(spatten, wait_reaped_twice_enoent, T_SHORT)
{
	struct spatten_job j;
	uint64_t seqno;

	nop_job(&j, 0);
	ASSERT_EQ(0, submit(self->fd, &j, 1, &seqno));
	ASSERT_EQ(0, wait_job(self->fd, seqno, WAIT_NS, NULL));
	EXPECT_EQ(-ENOENT, wait_job(self->fd, seqno, 0, NULL));
	EXPECT_EQ(-ENOENT, wait_job(self->fd, seqno, WAIT_NS, NULL));
}

TEST_F_TIMEOUT(spatten, wait_flags_einval, T_SHORT)
{
	struct spatten_job j;
	struct spatten_wait w = { .flags = 1 };
	uint64_t seqno;

	nop_job(&j, 0);
	ASSERT_EQ(0, submit(self->fd, &j, 1, &seqno));
	w.seqno = seqno;
	w.timeout_ns = now_ns() + WAIT_NS;
	EXPECT_EQ(-EINVAL, xioctl(self->fd, SPATTEN_IOCTL_WAIT, &w));
	/* The bad call did not reap it. */
	EXPECT_EQ(0, wait_job(self->fd, seqno, WAIT_NS, NULL));
}

TEST_F_TIMEOUT(spatten, wait_rsvd_einval, T_SHORT)
{
	struct spatten_job j;
	struct spatten_wait w;
	uint64_t seqno;
	unsigned int i;

	nop_job(&j, 0);
	ASSERT_EQ(0, submit(self->fd, &j, 1, &seqno));
	for (i = 0; i < 2; i++) {
		memset(&w, 0, sizeof(w));
		w.seqno = seqno;
		w.timeout_ns = now_ns() + WAIT_NS;
		if (i)
			w.rsvd[0] = 1;
		else
			w.rsvd0 = 1;
		EXPECT_EQ(-EINVAL, xioctl(self->fd, SPATTEN_IOCTL_WAIT, &w));
	}
	EXPECT_EQ(0, wait_job(self->fd, seqno, WAIT_NS, NULL));
}

TEST_F_TIMEOUT(spatten, wait_past_deadline_polls_long_job, T_LONG)
{
	struct spatten_wait w;
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
	ret = xioctl(self->fd, SPATTEN_IOCTL_WAIT, &w);
	EXPECT_TRUE(ret == -ETIME || ret == 0) {
		TH_LOG("past deadline: %d", ret);
	}
	/* A poll returns at once, whatever the job does. */
	EXPECT_GT(2 * NSEC_PER_SEC, now_ns() - t0);
	if (ret == -ETIME) {
		ASSERT_EQ(0, wait_job(self->fd, seqno, 120 * NSEC_PER_SEC,
				      &w));
	}
	EXPECT_EQ(SPATTEN_HW_OK, w.status);
	EXPECT_EQ(0xb16, w.user_data);
	EXPECT_EQ(0, bo_destroy(self->fd, b.handle));
}

TEST_F_TIMEOUT(spatten, wait_other_files_seqno_fails, T_SHORT)
{
	struct spatten_job j;
	uint64_t seqno;
	int fd2 = open_dev(), ret;

	ASSERT_LE(0, fd2);
	nop_job(&j, 0);
	ASSERT_EQ(0, submit(self->fd, &j, 1, &seqno));
	/* fd2 never issued a seqno: whatever ours is, it cannot reap it. */
	ret = wait_job(fd2, seqno, 0, NULL);
	EXPECT_TRUE(ret == -EINVAL || ret == -ENOENT) {
		TH_LOG("wait on another file's seqno: %d", ret);
	}
	EXPECT_EQ(0, wait_job(self->fd, seqno, WAIT_NS, NULL));
	close(fd2);
}

/* ---- poll() -------------------------------------------------------------- */

TEST_F_TIMEOUT(spatten, poll_reports_completed_jobs, T_SHORT)
{
	struct pollfd p = { .fd = self->fd, .events = POLLIN };
	struct spatten_job j;
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
	struct spatten_counters a, b;
	struct spatten_job j[3];
	uint64_t seqno;
	unsigned int i;

	small_inputs(self, 6);
	small_job(&j[0], self->handle);
	small_job(&j[1], self->handle);
	nop_job(&j[2], 0);
	ASSERT_EQ(0, get_counters(self->fd, &a));
	ASSERT_LE(SPATTEN_CNT_NUM, a.num);
	ASSERT_EQ(0, submit(self->fd, j, 3, &seqno));
	for (i = 0; i < 3; i++)
		ASSERT_EQ(0, wait_job(self->fd, seqno + i, WAIT_NS, NULL));
	ASSERT_EQ(0, get_counters(self->fd, &b));
	EXPECT_EQ(3, b.value[SPATTEN_CNT_JOBS_OK] -
		     a.value[SPATTEN_CNT_JOBS_OK]);
	EXPECT_EQ(0, b.value[SPATTEN_CNT_JOBS_ERR] -
		     a.value[SPATTEN_CNT_JOBS_ERR]);
	EXPECT_EQ(2 * SMALL_BYTES, b.value[SPATTEN_CNT_BYTES_Q] -
				   a.value[SPATTEN_CNT_BYTES_Q]);
	EXPECT_EQ(2 * SMALL_BYTES, b.value[SPATTEN_CNT_BYTES_WRITTEN] -
				   a.value[SPATTEN_CNT_BYTES_WRITTEN]);
	EXPECT_LT(a.value[SPATTEN_CNT_CYCLES], b.value[SPATTEN_CNT_CYCLES]);
}

TEST_F(spatten, counters_flags_einval)
{
	struct spatten_counters c = { .flags = 1 };

	EXPECT_EQ(-EINVAL, xioctl(self->fd, SPATTEN_IOCTL_COUNTERS, &c));
}

/* ---- ioctl numbers -------------------------------------------------------- */

TEST_F(spatten, unknown_ioctl_enotty)
{
	char buf[256] = { 0 };

	EXPECT_EQ(-ENOTTY, xioctl(self->fd, _IO(SPATTEN_IOCTL_MAGIC, 0x3f),
				  NULL));
	EXPECT_EQ(-ENOTTY, xioctl(self->fd,
				  _IOWR(SPATTEN_IOCTL_MAGIC, 0x06, buf), buf));
	EXPECT_EQ(-ENOTTY, xioctl(self->fd, _IOR('X', 0x00,
						 struct spatten_info), buf));
}

TEST_F(spatten, wrong_size_ioctl_enotty)
{
	char buf[512] = { 0 };

	/* Same type and number, different size or direction. */
	EXPECT_EQ(-ENOTTY, xioctl(self->fd,
		_IOC(_IOC_READ, SPATTEN_IOCTL_MAGIC, 0x00,
		     sizeof(struct spatten_info) - 8), buf));
	EXPECT_EQ(-ENOTTY, xioctl(self->fd,
		_IOC(_IOC_READ, SPATTEN_IOCTL_MAGIC, 0x00,
		     sizeof(struct spatten_info) + 8), buf));
	EXPECT_EQ(-ENOTTY, xioctl(self->fd,
		_IOC(_IOC_READ | _IOC_WRITE, SPATTEN_IOCTL_MAGIC, 0x04,
		     sizeof(struct spatten_wait) + 8), buf));
	EXPECT_EQ(-ENOTTY, xioctl(self->fd,
		_IOC(_IOC_READ | _IOC_WRITE, SPATTEN_IOCTL_MAGIC, 0x03,
		     sizeof(struct spatten_submit) - 8), buf));
	EXPECT_EQ(-ENOTTY, xioctl(self->fd,
		_IOC(_IOC_WRITE, SPATTEN_IOCTL_MAGIC, 0x01,
		     sizeof(struct spatten_bo_create)), buf));
}

/* ---- lifetimes --------------------------------------------------------------- */

TEST_F_TIMEOUT(spatten, buffer_freed_while_job_in_flight_still_completes,
	       T_LONG)
{
	struct spatten_wait w;
	struct big b;
	uint64_t seqno;

	ASSERT_EQ(0, big_job(self->fd, &self->info, &b));
	ASSERT_EQ(0, submit(self->fd, &b.job, 1, &seqno));
	ASSERT_EQ(0, bo_destroy(self->fd, b.handle));
	/* The handle is gone for new jobs at once... */
	EXPECT_EQ(-ENOENT, submit_err(self->fd, &b.job));
	/* ...but the job that holds it finishes normally. */
	ASSERT_EQ(0, wait_job(self->fd, seqno, 120 * NSEC_PER_SEC, &w));
	EXPECT_EQ(SPATTEN_HW_OK, w.status);
	EXPECT_EQ(0xb16, w.user_data);
}

TEST_F_TIMEOUT(spatten, close_with_jobs_in_flight_does_not_hang, T_LONG)
{
	struct spatten_job nop;
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
	struct spatten_job j[4];
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

TEST_HARNESS_MAIN
