// SPDX-License-Identifier: GPL-2.0
/*
 * In-guest tests of the driver's own behaviour (driver/): the UAPI v2 job
 * checks, BO_IMPORT, WAIT deadlines, poll/epoll, isolation between
 * processes, back-pressure (O_NONBLOCK), sysfs, and the fault paths driven
 * through the debugfs knobs: job timeout -> device reset, lost interrupts,
 * DMA errors, PCI function reset, a process killed with jobs in flight.
 *
 * Built with the kernel's kselftest harness (GPL-2.0). Every ioctl is issued
 * raw; no library is used. Environment: SPATTEN_DEV overrides the node
 * (default /dev/spatten0); spatten_expect_irq=msix|msi|intx (from the
 * kernel command line) pins the interrupt mode the driver must report.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "kselftest_harness.h"

#include "spatten_hw.h"
#include "uapi/spatten.h"

#define NSEC_PER_SEC		1000000000LL
#define PAGE			4096u
#define MIB			(1024u * 1024u)

/* The small job: 4 heads x 16 rows x D = 64, S16, in one 64 KiB buffer. */
#define SM_HEADS		4
#define SM_ROWS			16
#define SM_DIM			64
#define SM_BYTES		(SM_HEADS * SM_ROWS * SM_DIM * 2)
#define OFF_Q			0
#define OFF_K			(1 * SM_BYTES)
#define OFF_V			(2 * SM_BYTES)
#define OFF_OUT			(3 * SM_BYTES)
#define OFF_TOK_IMP		(32 * 1024)
#define OFF_TOK_ALIVE		(33 * 1024)
#define OFF_TOK_KEPT		(34 * 1024)
#define OFF_PINNED		(35 * 1024)
#define OFF_HEAD_IMP		(36 * 1024)
#define OFF_HEAD_ALIVE		(37 * 1024)
#define OFF_HEAD_KEPT		(38 * 1024)
#define OFF_K_LSB		(40 * 1024)
#define BO_SIZE			(64 * 1024)
#define SM_FRAC			12

#define T_SHORT			60
#define T_LONG			240
#define WAIT_NS			(30 * NSEC_PER_SEC)

#define SYSFS_DIR		"/sys/class/misc/spatten0"
#define DEBUGFS_DIR		"/sys/kernel/debug/spatten/spatten0"
#define DEFAULT_TIMEOUT_MS	10000

/* ---- raw UAPI helpers: -errno returns ------------------------------------ */

static const char *dev_path(void)
{
	const char *p = getenv("SPATTEN_DEV");

	return p && *p ? p : "/dev/spatten0";
}

static int open_dev_flags(int flags)
{
	return open(dev_path(), O_RDWR | O_CLOEXEC | flags);
}

static int open_dev(void)
{
	return open_dev_flags(0);
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

static void sleep_ms(unsigned int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
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

static int bo_import(int fd, void *ptr, uint64_t size, uint32_t *handle)
{
	struct spatten_bo_import im = {
		.user_ptr = (uintptr_t)ptr,
		.size = size,
	};
	int ret = xioctl(fd, SPATTEN_IOCTL_BO_IMPORT, &im);

	if (!ret && handle)
		*handle = im.handle;
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

/* SUBMIT without the EINTR retry: the blocking tests want to see EINTR. */
static int submit_once(int fd, const struct spatten_job *jobs, uint32_t n)
{
	struct spatten_submit s = {
		.jobs_ptr = (uintptr_t)jobs,
		.count = n,
	};

	return ioctl(fd, SPATTEN_IOCTL_SUBMIT, &s) < 0 ? -errno : 0;
}

static int wait_abs(int fd, uint64_t seqno, int64_t deadline,
		    struct spatten_wait *out)
{
	struct spatten_wait w = { .seqno = seqno, .timeout_ns = deadline };
	int ret = xioctl(fd, SPATTEN_IOCTL_WAIT, &w);

	if (out)
		*out = w;
	return ret;
}

static int wait_job(int fd, uint64_t seqno, int64_t rel_ns,
		    struct spatten_wait *out)
{
	return wait_abs(fd, seqno, now_ns() + rel_ns, out);
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

/* A valid version 2 summarization job over the small layout. */
static void small_job(struct spatten_job *j, uint32_t handle)
{
	memset(j, 0, sizeof(*j));
	j->opcode = SPATTEN_OP_ATTENTION;
	j->stage = SPATTEN_STAGE_SUMMARIZATION;
	j->version = SPATTEN_DESC_VERSION;
	j->n_heads = SM_HEADS;
	j->head_dim = SM_DIM;
	j->q_rows = SM_ROWS;
	j->kv_rows = SM_ROWS;
	j->q_fmt = j->k_fmt = j->v_fmt = j->out_fmt = SPATTEN_FMT_S16;
	j->q_frac = j->k_frac = j->v_frac = j->out_frac = SM_FRAC;
	tensor(&j->q, handle, OFF_Q);
	tensor(&j->k, handle, OFF_K);
	tensor(&j->v, handle, OFF_V);
	tensor(&j->out, handle, OFF_OUT);
	j->user_data = 0xd00d;
}

/* Deterministic small int16 inputs. */
static void fill_s16(void *dst, size_t n, uint32_t seed)
{
	uint16_t *d = dst;
	size_t i;

	for (i = 0; i < n; i++) {
		seed = seed * 1664525u + 1013904223u;
		d[i] = (uint16_t)((int32_t)(seed >> 16) % 4096);
	}
}

static void small_inputs(void *base, uint32_t seed)
{
	char *b = base;

	fill_s16(b + OFF_Q, SM_BYTES / 2, seed);
	fill_s16(b + OFF_K, SM_BYTES / 2, seed * 7 + 1);
	fill_s16(b + OFF_V, SM_BYTES / 2, seed * 13 + 2);
	memset(b + OFF_OUT, 0, SM_BYTES);
}

/* ---- sysfs / debugfs ------------------------------------------------------ */

static int read_file(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n < 0)
		return -errno;
	buf[n] = 0;
	return (int)n;
}

static int write_file(const char *path, const char *val)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = write(fd, val, strlen(val));
	close(fd);
	return n < 0 ? -errno : 0;
}

static int knob_set(const char *name, long val)
{
	char path[256], v[32];

	snprintf(path, sizeof(path), DEBUGFS_DIR "/%s", name);
	snprintf(v, sizeof(v), "%ld", val);
	return write_file(path, v);
}

static long knob_get(const char *name)
{
	char path[256], buf[64];

	snprintf(path, sizeof(path), DEBUGFS_DIR "/%s", name);
	if (read_file(path, buf, sizeof(buf)) < 0)
		return -1;
	return strtol(buf, NULL, 0);
}

static bool have_debugfs(void)
{
	return access(DEBUGFS_DIR "/force_timeout", W_OK) == 0;
}

/* A "key value" line of a sysfs file; -1 if absent. */
static long long sysfs_key(const char *file, const char *key)
{
	char path[256], buf[4096], *p;
	size_t klen = strlen(key);

	snprintf(path, sizeof(path), SYSFS_DIR "/%s", file);
	if (read_file(path, buf, sizeof(buf)) < 0)
		return -1;
	for (p = buf; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
		if (!strncmp(p, key, klen) && p[klen] == ' ')
			return strtoll(p + klen + 1, NULL, 0);
	}
	return -1;
}

/* A "key value" line of a debugfs file; -1 if absent. */
static long long objects_key(const char *path, const char *key)
{
	char buf[512], *p;
	size_t klen = strlen(key);

	if (read_file(path, buf, sizeof(buf)) < 0)
		return -1;
	for (p = buf; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
		if (!strncmp(p, key, klen) && p[klen] == ' ')
			return strtoll(p + klen + 1, NULL, 0);
	}
	return -1;
}

/* Jobs queued on all queues (sysfs "queues": id inflight queued depth). */
static long queued_jobs(void)
{
	char buf[4096], *p = buf;
	unsigned int id, inflight, queued, depth;
	long total = 0;
	int n;

	if (read_file(SYSFS_DIR "/queues", buf, sizeof(buf)) < 0)
		return -1;
	while (sscanf(p, "%u %u %u %u%n", &id, &inflight, &queued, &depth,
		      &n) == 4) {
		total += queued;
		p += n;
	}
	return total;
}

/* Wait until no job is queued anywhere on the board. */
static bool wait_idle(int64_t rel_ns)
{
	int64_t end = now_ns() + rel_ns;

	while (now_ns() < end) {
		if (queued_jobs() == 0)
			return true;
		sleep_ms(50);
	}
	return queued_jobs() == 0;
}

static void knobs_default(void)
{
	if (!have_debugfs())
		return;
	knob_set("force_timeout", 0);
	knob_set("drop_irq", 0);
	knob_set("inject_dma_error", 0);
	knob_set("timeout_ms", DEFAULT_TIMEOUT_MS);
}

/* Run on CPU 0 only, so every submit goes to the same queue. */
static void pin_cpu0(void)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(0, &set);
	sched_setaffinity(0, sizeof(set), &set);
}

/* ---- fixtures: an open device with one mapped 64 KiB buffer -------------- */

struct dev_ctx {
	int fd;
	struct spatten_info info;
	uint32_t handle;
	uint64_t mmap_off;
	void *map;
};

static int ctx_open(struct dev_ctx *c)
{
	c->map = MAP_FAILED;
	knobs_default();
	c->fd = open_dev();
	if (c->fd < 0)
		return -errno;
	if (xioctl(c->fd, SPATTEN_IOCTL_INFO, &c->info) ||
	    bo_create(c->fd, BO_SIZE, &c->handle, &c->mmap_off))
		return -EIO;
	c->map = mmap(NULL, BO_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED,
		      c->fd, (off_t)c->mmap_off);
	return c->map == MAP_FAILED ? -errno : 0;
}

static void ctx_close(struct dev_ctx *c)
{
	knobs_default();
	if (c->map != MAP_FAILED)
		munmap(c->map, BO_SIZE);
	if (c->fd >= 0)
		close(c->fd);
}

FIXTURE(drv) {
	struct dev_ctx c;
	int fd;
	struct spatten_info info;
	uint32_t handle;
	void *map;
};

FIXTURE_SETUP(drv)
{
	ASSERT_EQ(0, ctx_open(&self->c)) {
		TH_LOG("open %s: %s", dev_path(), strerror(errno));
	}
	self->fd = self->c.fd;
	self->info = self->c.info;
	self->handle = self->c.handle;
	self->map = self->c.map;
}

FIXTURE_TEARDOWN(drv)
{
	ctx_close(&self->c);
}

FIXTURE(v2) {
	struct dev_ctx c;
	int fd;
	struct spatten_info info;
	uint32_t handle;
	void *map;
};

FIXTURE_SETUP(v2)
{
	ASSERT_EQ(0, ctx_open(&self->c)) {
		TH_LOG("open %s: %s", dev_path(), strerror(errno));
	}
	self->fd = self->c.fd;
	self->info = self->c.info;
	self->handle = self->c.handle;
	self->map = self->c.map;
}

FIXTURE_TEARDOWN(v2)
{
	ctx_close(&self->c);
}

static bool hw_is_1_1(const struct spatten_info *in)
{
	return (in->hw_version >> 16) == 1 && (in->hw_version & 0xffff) >= 1;
}

/* ---- SUBMIT: the version 2 fields ----------------------------------------- */

/*
 * Each variant starts from a job that SUBMIT accepts (the small job plus
 * the operands the variant's feature needs), changes one thing, and
 * expects @err.
 */
enum v2_base {
	BASE_PLAIN,		/* small job, version 2 */
	BASE_TOKEN,		/* + token_keep 8, tok_imp, tok_kept */
	BASE_PINNED,		/* + pinned[1] on BASE_TOKEN */
	BASE_TOK_ALIVE,		/* + n_tok_alive 16, tok_alive */
	BASE_HEAD,		/* + head_keep 2, head_imp, head_kept */
	BASE_HEAD_ALIVE,	/* + n_head_alive 4, head_alive */
	BASE_VALUE,		/* + value_keep 4 */
	BASE_PROGRESSIVE,	/* K as S8 MSBs + k_lsb, lsb_threshold */
};

static uint32_t base_features(enum v2_base b)
{
	switch (b) {
	case BASE_TOKEN:
	case BASE_PINNED:
		return SPATTEN_FEAT_TOKEN_PRUNE;
	case BASE_HEAD:
		return SPATTEN_FEAT_HEAD_PRUNE;
	case BASE_VALUE:
		return SPATTEN_FEAT_VALUE_PRUNE;
	case BASE_PROGRESSIVE:
		return SPATTEN_FEAT_PROGRESSIVE;
	default:
		return 0;
	}
}

static void v2_base_job(struct spatten_job *j, uint32_t h, enum v2_base b)
{
	small_job(j, h);
	switch (b) {
	case BASE_PINNED:
		j->n_pinned = 1;
		tensor(&j->pinned, h, OFF_PINNED);
		/* fall through */
	case BASE_TOKEN:
		j->token_keep = 8;
		tensor(&j->tok_imp, h, OFF_TOK_IMP);
		tensor(&j->tok_kept, h, OFF_TOK_KEPT);
		break;
	case BASE_TOK_ALIVE:
		j->n_tok_alive = SM_ROWS;
		tensor(&j->tok_alive, h, OFF_TOK_ALIVE);
		break;
	case BASE_HEAD:
		j->head_keep = 2;
		tensor(&j->head_imp, h, OFF_HEAD_IMP);
		tensor(&j->head_kept, h, OFF_HEAD_KEPT);
		break;
	case BASE_HEAD_ALIVE:
		j->n_head_alive = SM_HEADS;
		tensor(&j->head_alive, h, OFF_HEAD_ALIVE);
		break;
	case BASE_VALUE:
		j->value_keep = 4;
		break;
	case BASE_PROGRESSIVE:
		j->flags |= SPATTEN_DESC_F_PROGRESSIVE;
		j->k_fmt = SPATTEN_FMT_S8;
		j->k_frac = 8;
		tensor(&j->k_lsb, h, OFF_K_LSB);
		j->lsb_threshold = 1u << 14;
		break;
	default:
		break;
	}
}

/* Lists of the bases: ascending, in range. */
static void v2_lists(void *map)
{
	uint16_t *l;
	int i;

	l = (uint16_t *)((char *)map + OFF_TOK_ALIVE);
	for (i = 0; i < SM_ROWS; i++)
		l[i] = (uint16_t)i;
	l = (uint16_t *)((char *)map + OFF_HEAD_ALIVE);
	for (i = 0; i < SM_HEADS; i++)
		l[i] = (uint16_t)i;
	l = (uint16_t *)((char *)map + OFF_PINNED);
	l[0] = 3;
	/* The same list where the range tests put it: the buffer's end. */
	memcpy((char *)map + BO_SIZE - 2 * SM_ROWS,
	       (char *)map + OFF_TOK_ALIVE, 2 * SM_ROWS);
	memset((char *)map + OFF_TOK_IMP, 0, SM_ROWS * 8);
	memset((char *)map + OFF_HEAD_IMP, 0, SM_HEADS * 8);
}

typedef void (*mutate_fn)(struct spatten_job *j, uint32_t h);

FIXTURE_VARIANT(v2) {
	enum v2_base base;
	mutate_fn mutate;
	int err;
};

#define MUT(name, body) \
	static void mut_##name(struct spatten_job *j, uint32_t h) { body; }

MUT(none, (void)h)
MUT(version0, j->version = 0)
MUT(version3, j->version = 3)
MUT(v1_topk_seed, j->version = 1; j->topk_seed = 1)
MUT(v1_value_keep, j->version = 1; j->value_keep = 1)
MUT(v1_lsb_threshold, j->version = 1; j->lsb_threshold = 1)
MUT(v1_tok_imp, j->version = 1; tensor(&j->tok_imp, h, OFF_TOK_IMP))
MUT(v1_head_imp_offset, j->version = 1; j->head_imp.offset = 8)
MUT(v1_plain, j->version = 1)
MUT(rsvd2, j->rsvd2 = 1)
MUT(rsvd3, j->rsvd3 = 1)
MUT(k_lsb_flags, tensor(&j->k_lsb, h, OFF_K_LSB); j->k_lsb.flags = 1)
MUT(head_kept_flags, j->head_kept.flags = 2)
MUT(k_lsb_without_progressive, tensor(&j->k_lsb, h, OFF_K_LSB))
MUT(progressive_without_k_lsb, j->k_lsb.handle = 0)
MUT(progressive_s16_key, j->k_fmt = SPATTEN_FMT_S16)
MUT(lsb_threshold_over_one, j->lsb_threshold = (1u << 15) + 1)
MUT(lsb_threshold_one, j->lsb_threshold = 1u << 15)
MUT(k_lsb_odd_offset_ok, j->k_lsb.offset = OFF_K_LSB + 1)
MUT(k_lsb_past_end, j->k_lsb.offset = BO_SIZE - 2047)
MUT(k_lsb_exact_end, j->k_lsb.offset = BO_SIZE - 2048)
MUT(k_lsb_unknown_handle, j->k_lsb.handle = h + 100)
MUT(tok_alive_without_count, tensor(&j->tok_alive, h, OFF_TOK_ALIVE))
MUT(tok_alive_count_without_list, j->n_tok_alive = 4)
MUT(tok_alive_over_kv_rows, j->n_tok_alive = SM_ROWS + 1)
MUT(tok_alive_odd_offset, j->tok_alive.offset = OFF_TOK_ALIVE + 1)
MUT(tok_alive_past_end, j->tok_alive.offset = BO_SIZE - 30)
MUT(tok_alive_exact_end, j->tok_alive.offset = BO_SIZE - 32)
MUT(tok_kept_without_keep, tensor(&j->tok_kept, h, OFF_TOK_KEPT))
MUT(token_keep_without_tok_kept, j->tok_kept.handle = 0)
MUT(token_keep_without_tok_imp, j->tok_imp.handle = 0)
MUT(token_keep_over_kv_rows, j->token_keep = SM_ROWS + 1)
MUT(token_keep_all_ok, j->token_keep = SM_ROWS)
MUT(token_keep_over_alive, j->n_tok_alive = 4;
    tensor(&j->tok_alive, h, OFF_TOK_ALIVE); j->token_keep = 6)
MUT(token_keep_short_rows, j->q_rows = 8)
MUT(tok_imp_misaligned, j->tok_imp.offset = OFF_TOK_IMP + 4)
MUT(tok_imp_past_end, j->tok_imp.offset = BO_SIZE - 120)
MUT(tok_imp_exact_end, j->tok_imp.offset = BO_SIZE - 128)
MUT(tok_kept_past_end, j->tok_kept.offset = BO_SIZE - 14)
MUT(tok_imp_alone_ok, j->token_keep = 0; j->tok_kept.handle = 0)
MUT(pinned_without_count, tensor(&j->pinned, h, OFF_PINNED))
MUT(pinned_count_without_list, j->pinned.handle = 0)
MUT(pinned_without_token_keep, j->token_keep = 0; j->tok_kept.handle = 0)
MUT(pinned_over_kv_rows, j->n_pinned = SM_ROWS + 1)
MUT(pinned_odd_offset, j->pinned.offset = OFF_PINNED + 1)
MUT(head_alive_without_count, tensor(&j->head_alive, h, OFF_HEAD_ALIVE))
MUT(head_alive_count_without_list, j->n_head_alive = 2)
MUT(head_alive_over_heads, j->n_head_alive = SM_HEADS + 1)
MUT(head_alive_odd_offset, j->head_alive.offset = OFF_HEAD_ALIVE + 1)
MUT(head_kept_without_keep, tensor(&j->head_kept, h, OFF_HEAD_KEPT))
MUT(head_keep_without_head_kept, j->head_kept.handle = 0)
MUT(head_keep_without_head_imp, j->head_imp.handle = 0)
MUT(head_keep_over_heads, j->head_keep = SM_HEADS + 1)
MUT(head_keep_over_alive, j->n_head_alive = 1;
    tensor(&j->head_alive, h, OFF_HEAD_ALIVE))
MUT(head_imp_misaligned, j->head_imp.offset = OFF_HEAD_IMP + 2)
MUT(head_imp_past_end, j->head_imp.offset = BO_SIZE - 24)
MUT(head_imp_unknown_handle, j->head_imp.handle = 0xfffff)
MUT(value_keep_over_kv_rows, j->value_keep = SM_ROWS + 1)
MUT(value_keep_all_ok, j->value_keep = SM_ROWS)
MUT(packed_k_odd_offset_ok, j->k_fmt = SPATTEN_FMT_S4; j->k_frac = 3;
    j->k.offset = BO_SIZE - SM_BYTES / 4 - 1)
MUT(packed_k_short_by_one, j->k_fmt = SPATTEN_FMT_S4; j->k_frac = 3;
    j->k.offset = BO_SIZE - SM_BYTES / 4 + 1)
MUT(packed_v_s12_exact, j->v_fmt = SPATTEN_FMT_S12; j->v_frac = 8;
    j->v.offset = BO_SIZE - SM_BYTES * 3 / 4)
MUT(packed_v_s12_short, j->v_fmt = SPATTEN_FMT_S12; j->v_frac = 8;
    j->v.offset = BO_SIZE - SM_BYTES * 3 / 4 + 1)
MUT(s16_q_odd_offset, j->q.offset = 1)
MUT(packed_q, j->q_fmt = SPATTEN_FMT_S8)
MUT(packed_out, j->out_fmt = SPATTEN_FMT_S8)
MUT(nop_with_count, j->opcode = SPATTEN_OP_NOP; memset(j, 0, sizeof(*j));
    j->version = 2; j->token_keep = 1)
MUT(nop_with_seed, memset(j, 0, sizeof(*j)); j->version = 2;
    j->topk_seed = 5)

#define V(name, b, e) \
	FIXTURE_VARIANT_ADD(v2, name) { .base = b, .mutate = mut_##name, \
					 .err = e }

V(none, BASE_PLAIN, 0);
V(version0, BASE_PLAIN, -EINVAL);
V(version3, BASE_PLAIN, -EINVAL);
V(v1_plain, BASE_PLAIN, 0);
V(v1_topk_seed, BASE_PLAIN, -EINVAL);
V(v1_value_keep, BASE_PLAIN, -EINVAL);
V(v1_lsb_threshold, BASE_PLAIN, -EINVAL);
V(v1_tok_imp, BASE_PLAIN, -EINVAL);
V(v1_head_imp_offset, BASE_PLAIN, -EINVAL);
V(rsvd2, BASE_PLAIN, -EINVAL);
V(rsvd3, BASE_PLAIN, -EINVAL);
V(k_lsb_flags, BASE_PLAIN, -EINVAL);
V(head_kept_flags, BASE_PLAIN, -EINVAL);
V(k_lsb_without_progressive, BASE_PLAIN, -EINVAL);
V(progressive_without_k_lsb, BASE_PROGRESSIVE, -EINVAL);
V(progressive_s16_key, BASE_PROGRESSIVE, -EINVAL);
V(lsb_threshold_over_one, BASE_PROGRESSIVE, -EINVAL);
V(lsb_threshold_one, BASE_PROGRESSIVE, 0);
V(k_lsb_odd_offset_ok, BASE_PROGRESSIVE, 0);
V(k_lsb_past_end, BASE_PROGRESSIVE, -ERANGE);
V(k_lsb_exact_end, BASE_PROGRESSIVE, 0);
V(k_lsb_unknown_handle, BASE_PROGRESSIVE, -ENOENT);
V(tok_alive_without_count, BASE_PLAIN, -EINVAL);
V(tok_alive_count_without_list, BASE_PLAIN, -EINVAL);
V(tok_alive_over_kv_rows, BASE_TOK_ALIVE, -EINVAL);
V(tok_alive_odd_offset, BASE_TOK_ALIVE, -EINVAL);
V(tok_alive_past_end, BASE_TOK_ALIVE, -ERANGE);
V(tok_alive_exact_end, BASE_TOK_ALIVE, 0);
V(tok_kept_without_keep, BASE_PLAIN, -EINVAL);
V(token_keep_without_tok_kept, BASE_TOKEN, -EINVAL);
V(token_keep_without_tok_imp, BASE_TOKEN, -EINVAL);
V(token_keep_over_kv_rows, BASE_TOKEN, -EINVAL);
V(token_keep_all_ok, BASE_TOKEN, 0);
V(token_keep_over_alive, BASE_TOKEN, -EINVAL);
V(token_keep_short_rows, BASE_TOKEN, -EINVAL);
V(tok_imp_misaligned, BASE_TOKEN, -EINVAL);
V(tok_imp_past_end, BASE_TOKEN, -ERANGE);
V(tok_imp_exact_end, BASE_TOKEN, 0);
V(tok_kept_past_end, BASE_TOKEN, -ERANGE);
V(tok_imp_alone_ok, BASE_TOKEN, 0);
V(pinned_without_count, BASE_TOKEN, -EINVAL);
V(pinned_count_without_list, BASE_PINNED, -EINVAL);
V(pinned_without_token_keep, BASE_PINNED, -EINVAL);
V(pinned_over_kv_rows, BASE_PINNED, -EINVAL);
V(pinned_odd_offset, BASE_PINNED, -EINVAL);
V(head_alive_without_count, BASE_PLAIN, -EINVAL);
V(head_alive_count_without_list, BASE_PLAIN, -EINVAL);
V(head_alive_over_heads, BASE_HEAD_ALIVE, -EINVAL);
V(head_alive_odd_offset, BASE_HEAD_ALIVE, -EINVAL);
V(head_kept_without_keep, BASE_PLAIN, -EINVAL);
V(head_keep_without_head_kept, BASE_HEAD, -EINVAL);
V(head_keep_without_head_imp, BASE_HEAD, -EINVAL);
V(head_keep_over_heads, BASE_HEAD, -EINVAL);
V(head_keep_over_alive, BASE_HEAD, -EINVAL);
V(head_imp_misaligned, BASE_HEAD, -EINVAL);
V(head_imp_past_end, BASE_HEAD, -ERANGE);
V(head_imp_unknown_handle, BASE_HEAD, -ENOENT);
V(value_keep_over_kv_rows, BASE_VALUE, -EINVAL);
V(value_keep_all_ok, BASE_VALUE, 0);
V(packed_k_odd_offset_ok, BASE_PLAIN, 0);
V(packed_k_short_by_one, BASE_PLAIN, -ERANGE);
V(packed_v_s12_exact, BASE_PLAIN, 0);
V(packed_v_s12_short, BASE_PLAIN, -ERANGE);
V(s16_q_odd_offset, BASE_PLAIN, -EINVAL);
V(packed_q, BASE_PLAIN, -EINVAL);
V(packed_out, BASE_PLAIN, -EINVAL);
V(nop_with_count, BASE_PLAIN, -EINVAL);
V(nop_with_seed, BASE_PLAIN, -EINVAL);

/*
 * The variant's job: SUBMIT returns the expected errno. An accepted job
 * runs; on a 1.1 device it completes OK (version 2 on a 1.0 device: the
 * device's ERR_VERSION).
 */
TEST_F_TIMEOUT(v2, submit, T_SHORT)
{
	uint32_t need = base_features(variant->base);
	struct spatten_job j;
	struct spatten_wait w;
	uint64_t seqno;
	int ret;

	if (need && (self->info.features & need) != need)
		SKIP(return, "device lacks feature %#x", need);
	if (variant->base == BASE_PROGRESSIVE &&
	    !(self->info.splits & (1u << 8)))
		SKIP(return, "device lacks the 8+4 split");
	if (variant->mutate == mut_packed_k_odd_offset_ok ||
	    variant->mutate == mut_packed_k_short_by_one) {
		if (!(self->info.formats & (1u << SPATTEN_FMT_S4)))
			SKIP(return, "device lacks S4");
	}
	if (variant->mutate == mut_packed_v_s12_exact ||
	    variant->mutate == mut_packed_v_s12_short) {
		if (!(self->info.formats & (1u << SPATTEN_FMT_S12)))
			SKIP(return, "device lacks S12");
	}

	small_inputs(self->map, 7);
	v2_lists(self->map);
	v2_base_job(&j, self->handle, variant->base);
	/* The base itself is accepted. */
	ret = submit(self->fd, &j, 1, &seqno);
	ASSERT_EQ(0, ret);
	ASSERT_EQ(0, wait_job(self->fd, seqno, WAIT_NS, &w));

	variant->mutate(&j, self->handle);
	ret = submit(self->fd, &j, 1, &seqno);
	ASSERT_EQ(variant->err, ret);
	if (ret)
		return;
	ASSERT_EQ(0, wait_job(self->fd, seqno, WAIT_NS, &w));
	if (j.opcode != SPATTEN_OP_ATTENTION)
		return;
	if (hw_is_1_1(&self->info) || j.version == 1) {
		EXPECT_EQ(SPATTEN_HW_OK, w.status);
	} else {
		EXPECT_EQ(SPATTEN_HW_ERR_VERSION, w.status);
	}
	EXPECT_EQ(0xd00d, w.user_data);
}

/* WAIT reports lsb_refetches (zero unless progressive refetched) */
TEST_F_TIMEOUT(drv, wait_reports_lsb_refetches, T_SHORT)
{
	struct spatten_job j;
	struct spatten_wait w;
	uint64_t seqno;

	if (!(self->info.features & SPATTEN_FEAT_PROGRESSIVE) ||
	    !(self->info.splits & (1u << 8)))
		SKIP(return, "device lacks progressive quantization");
	small_inputs(self->map, 3);
	v2_base_job(&j, self->handle, BASE_PROGRESSIVE);
	j.lsb_threshold = 1u << 15;	/* every row refetches */
	ASSERT_EQ(0, submit(self->fd, &j, 1, &seqno));
	ASSERT_EQ(0, wait_job(self->fd, seqno, WAIT_NS, &w));
	EXPECT_EQ(SPATTEN_HW_OK, w.status);
	EXPECT_EQ(SM_HEADS * SM_ROWS, w.lsb_refetches);
	EXPECT_LT(0, w.bytes_k_lsb);
}

TEST_F_TIMEOUT(drv, wait_rsvd0_einval, T_SHORT)
{
	struct spatten_job j;
	struct spatten_wait w;
	uint64_t seqno;

	nop_job(&j, 0);
	ASSERT_EQ(0, submit(self->fd, &j, 1, &seqno));
	memset(&w, 0, sizeof(w));
	w.seqno = seqno;
	w.timeout_ns = now_ns() + WAIT_NS;
	w.rsvd0 = 1;
	EXPECT_EQ(-EINVAL, xioctl(self->fd, SPATTEN_IOCTL_WAIT, &w));
	ASSERT_EQ(0, wait_job(self->fd, seqno, WAIT_NS, &w));
	EXPECT_EQ(0, w.lsb_refetches);
	EXPECT_EQ(0, w.rsvd0);
}

/* ---- BO_IMPORT ------------------------------------------------------------ */

static long vm_locked_kb(void)
{
	char buf[8192], *p;

	if (read_file("/proc/self/status", buf, sizeof(buf)) < 0)
		return -1;
	p = strstr(buf, "VmLck:");
	return p ? strtol(p + 6, NULL, 10) : -1;
}

static void *anon(size_t size)
{
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

TEST_F_TIMEOUT(drv, import_runs_a_job_in_user_memory, T_SHORT)
{
	struct spatten_job j;
	struct spatten_wait w;
	uint32_t h;
	uint64_t seqno;
	char *mem = anon(BO_SIZE);

	ASSERT_NE(NULL, mem);
	small_inputs(mem, 11);
	small_inputs(self->map, 11);
	ASSERT_EQ(0, bo_import(self->fd, mem, BO_SIZE, &h));
	EXPECT_NE(0, h);
	EXPECT_NE(self->handle, h);

	/* The same job in driver memory and in imported user memory. */
	small_job(&j, self->handle);
	ASSERT_EQ(0, submit(self->fd, &j, 1, &seqno));
	ASSERT_EQ(0, wait_job(self->fd, seqno, WAIT_NS, &w));
	ASSERT_EQ(SPATTEN_HW_OK, w.status);
	small_job(&j, h);
	ASSERT_EQ(0, submit(self->fd, &j, 1, &seqno));
	ASSERT_EQ(0, wait_job(self->fd, seqno, WAIT_NS, &w));
	ASSERT_EQ(SPATTEN_HW_OK, w.status);
	EXPECT_EQ(0, memcmp((char *)self->map + OFF_OUT, mem + OFF_OUT,
			    SM_BYTES));
	/* The device wrote the output into user memory: not all zero. */
	{
		int i, nz = 0;

		for (i = 0; i < SM_BYTES; i++)
			nz |= mem[OFF_OUT + i];
		EXPECT_NE(0, nz);
	}
	EXPECT_EQ(0, bo_destroy(self->fd, h));
	munmap(mem, BO_SIZE);
}

TEST_F_TIMEOUT(drv, import_64mib_buffer_used_by_a_job, T_LONG)
{
	const size_t size = 64 * MIB;
	struct spatten_job j;
	struct spatten_wait w;
	long lck0, lck1;
	uint32_t h;
	uint64_t seqno;
	char *mem = anon(size);

	ASSERT_NE(NULL, mem);
	ASSERT_LE((uint64_t)size, self->info.max_bo_size);
	lck0 = vm_locked_kb();
	ASSERT_EQ(0, bo_import(self->fd, mem, size, &h));
	lck1 = vm_locked_kb();
	EXPECT_EQ(lck0 + (long)(size / 1024), lck1);

	/* Q at the start, K and V in the middle, the output at the very end. */
	small_inputs(self->map, 5);
	memcpy(mem, (char *)self->map + OFF_Q, SM_BYTES);
	memcpy(mem + 32 * MIB + 100, (char *)self->map + OFF_K, SM_BYTES);
	memcpy(mem + 48 * MIB + 4094, (char *)self->map + OFF_V, SM_BYTES);
	memset(mem + size - SM_BYTES, 0, SM_BYTES);
	small_job(&j, h);
	j.q.offset = 0;
	j.k.offset = 32 * MIB + 100;
	j.v.offset = 48 * MIB + 4094;
	j.out.offset = size - SM_BYTES;
	ASSERT_EQ(0, submit(self->fd, &j, 1, &seqno));
	ASSERT_EQ(0, wait_job(self->fd, seqno, WAIT_NS, &w));
	ASSERT_EQ(SPATTEN_HW_OK, w.status);

	small_job(&j, self->handle);
	ASSERT_EQ(0, submit(self->fd, &j, 1, &seqno));
	ASSERT_EQ(0, wait_job(self->fd, seqno, WAIT_NS, &w));
	ASSERT_EQ(SPATTEN_HW_OK, w.status);
	EXPECT_EQ(0, memcmp((char *)self->map + OFF_OUT, mem + size - SM_BYTES,
			    SM_BYTES));

	/* One byte past the end: -ERANGE. */
	small_job(&j, h);
	j.out.offset = size - SM_BYTES + 2;
	EXPECT_EQ(-ERANGE, submit(self->fd, &j, 1, &seqno));

	EXPECT_EQ(0, bo_destroy(self->fd, h));
	EXPECT_EQ(lck0, vm_locked_kb());
	munmap(mem, size);
}

TEST_F(drv, import_bad_arguments_einval)
{
	struct spatten_bo_import im;
	char *mem = anon(4 * PAGE);

	ASSERT_NE(NULL, mem);
	memset(&im, 0, sizeof(im));
	im.user_ptr = (uintptr_t)mem + 8;	/* unaligned pointer */
	im.size = PAGE;
	EXPECT_EQ(-EINVAL, xioctl(self->fd, SPATTEN_IOCTL_BO_IMPORT, &im));
	im.user_ptr = (uintptr_t)mem;
	im.size = PAGE + 1;			/* unaligned size */
	EXPECT_EQ(-EINVAL, xioctl(self->fd, SPATTEN_IOCTL_BO_IMPORT, &im));
	im.size = 0;
	EXPECT_EQ(-EINVAL, xioctl(self->fd, SPATTEN_IOCTL_BO_IMPORT, &im));
	im.size = self->info.max_bo_size + PAGE;
	EXPECT_EQ(-EINVAL, xioctl(self->fd, SPATTEN_IOCTL_BO_IMPORT, &im));
	im.size = PAGE;
	im.flags = 1;
	EXPECT_EQ(-EINVAL, xioctl(self->fd, SPATTEN_IOCTL_BO_IMPORT, &im));
	im.flags = 0;
	im.rsvd = 1;
	EXPECT_EQ(-EINVAL, xioctl(self->fd, SPATTEN_IOCTL_BO_IMPORT, &im));
	im.rsvd = 0;
	EXPECT_EQ(0, xioctl(self->fd, SPATTEN_IOCTL_BO_IMPORT, &im));
	EXPECT_NE(0, im.handle);
	EXPECT_EQ(-EFAULT, xioctl(self->fd, SPATTEN_IOCTL_BO_IMPORT,
				  (void *)16));
	munmap(mem, 4 * PAGE);
}

TEST_F(drv, import_unmapped_memory_efault)
{
	long lck0 = vm_locked_kb();
	char *mem = anon(4 * PAGE);

	ASSERT_NE(NULL, mem);
	munmap(mem, 4 * PAGE);
	EXPECT_EQ(-EFAULT, bo_import(self->fd, mem, 4 * PAGE, NULL));
	/* A kernel address is never user memory. */
	EXPECT_EQ(-EFAULT, bo_import(self->fd, (void *)0xffff888000000000ull,
				     PAGE, NULL));
	EXPECT_EQ(lck0, vm_locked_kb());
}

TEST_F(drv, import_partially_mapped_range_unwinds)
{
	long lck0 = vm_locked_kb();
	char *mem = anon(8 * PAGE);
	uint32_t h;

	ASSERT_NE(NULL, mem);
	memset(mem, 1, 8 * PAGE);
	munmap(mem + 4 * PAGE, 4 * PAGE);	/* a hole in the second half */
	EXPECT_EQ(-EFAULT, bo_import(self->fd, mem, 8 * PAGE, NULL));
	/* Nothing stays charged or pinned: the first half imports fine. */
	EXPECT_EQ(lck0, vm_locked_kb());
	ASSERT_EQ(0, bo_import(self->fd, mem, 4 * PAGE, &h));
	EXPECT_EQ(lck0 + 16, vm_locked_kb());
	EXPECT_EQ(0, bo_destroy(self->fd, h));
	EXPECT_EQ(lck0, vm_locked_kb());
	munmap(mem, 4 * PAGE);
}

TEST_F(drv, import_read_only_mapping_efault)
{
	char *mem = mmap(NULL, 4 * PAGE, PROT_READ,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	long lck0 = vm_locked_kb();

	ASSERT_NE(MAP_FAILED, mem);
	EXPECT_EQ(-EFAULT, bo_import(self->fd, mem, 4 * PAGE, NULL));
	EXPECT_EQ(lck0, vm_locked_kb());
	munmap(mem, 4 * PAGE);
}

TEST_F(drv, import_handle_cannot_be_mmapped)
{
	char *mem = anon(4 * PAGE);
	uint32_t h;
	void *m;

	ASSERT_NE(NULL, mem);
	ASSERT_EQ(0, bo_import(self->fd, mem, 4 * PAGE, &h));
	m = mmap(NULL, PAGE, PROT_READ, MAP_SHARED, self->fd,
		 (off_t)((uint64_t)h << 32));
	EXPECT_EQ(MAP_FAILED, m);
	EXPECT_EQ(EINVAL, errno);
	munmap(mem, 4 * PAGE);
}

/*
 * A page is a buffer of the board once at most (two device-writable DMA
 * mappings of one page are undefined; the debug kernel's DMA-API checker
 * reported them): the same memory again, an overlapping range, or the same
 * range from another file is -EBUSY, and nothing stays pinned or charged;
 * once the first buffer is gone the memory imports again.
 */
TEST_F(drv, import_same_memory_twice_ebusy)
{
	long lck0 = vm_locked_kb();
	char *mem = anon(8 * PAGE);
	uint32_t h, h2;
	int fd2;

	ASSERT_NE(NULL, mem);
	memset(mem, 3, 8 * PAGE);
	ASSERT_EQ(0, bo_import(self->fd, mem, 4 * PAGE, &h));
	EXPECT_EQ(-EBUSY, bo_import(self->fd, mem, 4 * PAGE, NULL));
	EXPECT_EQ(-EBUSY, bo_import(self->fd, mem + 2 * PAGE, 4 * PAGE, NULL));
	EXPECT_EQ(-EBUSY, bo_import(self->fd, mem + 3 * PAGE, PAGE, NULL));
	fd2 = open_dev();
	ASSERT_LE(0, fd2);
	EXPECT_EQ(-EBUSY, bo_import(fd2, mem, PAGE, NULL));
	EXPECT_EQ(lck0 + 16, vm_locked_kb());
	/* The pages next to it are free. */
	ASSERT_EQ(0, bo_import(fd2, mem + 4 * PAGE, 4 * PAGE, &h2));
	EXPECT_EQ(0, bo_destroy(self->fd, h));
	ASSERT_EQ(0, bo_import(self->fd, mem, 4 * PAGE, &h));
	EXPECT_EQ(0, bo_destroy(self->fd, h));
	close(fd2);
	EXPECT_EQ(lck0, vm_locked_kb());
	munmap(mem, 8 * PAGE);
}

/* The mmap of a created buffer is that buffer's pages: -EBUSY too. */
TEST_F(drv, import_mapping_of_created_buffer_ebusy)
{
	long lck0 = vm_locked_kb();
	uint64_t off;
	uint32_t h;
	char *m;

	ASSERT_EQ(0, bo_create(self->fd, 4 * PAGE, &h, &off));
	m = mmap(NULL, 4 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED,
		 self->fd, (off_t)off);
	ASSERT_NE(MAP_FAILED, m);
	EXPECT_EQ(-EBUSY, bo_import(self->fd, m, 4 * PAGE, NULL));
	EXPECT_EQ(-EBUSY, bo_import(self->fd, m + PAGE, PAGE, NULL));
	EXPECT_EQ(lck0, vm_locked_kb());
	munmap(m, 4 * PAGE);
	EXPECT_EQ(0, bo_destroy(self->fd, h));
}

/* Over RLIMIT_MEMLOCK without CAP_IPC_LOCK: -ENOMEM (or -EPERM). */
TEST_F(drv, import_over_rlimit_memlock_fails)
{
	pid_t pid = fork();
	int status;

	ASSERT_LE(0, pid);
	if (pid == 0) {
		struct rlimit rl = { 64 * 1024, 64 * 1024 };
		char *mem = anon(MIB);
		uint32_t h;
		int ret;

		if (!mem || setrlimit(RLIMIT_MEMLOCK, &rl))
			_exit(10);
		/* An unprivileged user has no CAP_IPC_LOCK. */
		if (getuid() == 0 && (setgid(65534) || setuid(65534)))
			_exit(11);
		ret = bo_import(self->fd, mem, MIB, NULL);
		if (ret != -ENOMEM && ret != -EPERM)
			_exit(12);
		if (bo_import(self->fd, mem, 8 * PAGE, &h))
			_exit(13);
		/* The limit counts what is pinned already. */
		ret = bo_import(self->fd, mem + 8 * PAGE, 16 * PAGE, NULL);
		if (ret != -ENOMEM && ret != -EPERM)
			_exit(14);
		if (bo_destroy(self->fd, h))
			_exit(15);
		if (bo_import(self->fd, mem + 8 * PAGE, 16 * PAGE, NULL))
			_exit(16);
		_exit(0);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status));
}

/* The buffer outlives its handle and the munmap of its memory. */
TEST_F_TIMEOUT(drv, import_destroyed_while_job_in_flight, T_SHORT)
{
	struct spatten_job j;
	struct spatten_wait w;
	uint64_t seqno;
	uint32_t h;
	char *mem = anon(BO_SIZE);

	ASSERT_NE(NULL, mem);
	small_inputs(mem, 1);
	ASSERT_EQ(0, bo_import(self->fd, mem, BO_SIZE, &h));
	small_job(&j, h);
	ASSERT_EQ(0, submit(self->fd, &j, 1, &seqno));
	EXPECT_EQ(0, bo_destroy(self->fd, h));
	munmap(mem, BO_SIZE);
	ASSERT_EQ(0, wait_job(self->fd, seqno, WAIT_NS, &w));
	EXPECT_EQ(SPATTEN_HW_OK, w.status);
}

/* ---- WAIT deadlines, poll, epoll ------------------------------------------ */

TEST_F_TIMEOUT(drv, wait_already_completed_with_past_deadline, T_SHORT)
{
	struct pollfd p = { .fd = self->fd, .events = POLLIN };
	struct spatten_job j;
	struct spatten_wait w;
	uint64_t seqno;

	nop_job(&j, 77);
	ASSERT_EQ(0, submit(self->fd, &j, 1, &seqno));
	ASSERT_EQ(1, poll(&p, 1, 30000));
	/* Done already: a deadline in the past still reaps it. */
	ASSERT_EQ(0, wait_abs(self->fd, seqno, 0, &w));
	EXPECT_EQ(SPATTEN_HW_OK, w.status);
	EXPECT_EQ(77, w.user_data);
	EXPECT_EQ(-ENOENT, wait_abs(self->fd, seqno, 0, NULL));
}

TEST_F_TIMEOUT(drv, wait_succeeds_before_deadline, T_SHORT)
{
	struct spatten_job j;
	struct spatten_wait w;
	uint64_t seqno;

	small_inputs(self->map, 2);
	small_job(&j, self->handle);
	ASSERT_EQ(0, submit(self->fd, &j, 1, &seqno));
	ASSERT_EQ(0, wait_abs(self->fd, seqno, INT64_MAX, &w));
	EXPECT_EQ(SPATTEN_HW_OK, w.status);
	EXPECT_LT(0, w.cycles);
}

TEST_F_TIMEOUT(drv, wait_times_out_and_job_stays, T_SHORT)
{
	struct spatten_job j;
	struct spatten_wait w;
	uint64_t seqno;
	int64_t t0;

	if (!have_debugfs())
		SKIP(return, "no debugfs");
	/* Hold the job back from the device: it cannot complete. */
	ASSERT_EQ(0, knob_set("timeout_ms", 3000));
	ASSERT_EQ(0, knob_set("force_timeout", 1));
	nop_job(&j, 1);
	ASSERT_EQ(0, submit(self->fd, &j, 1, &seqno));
	t0 = now_ns();
	EXPECT_EQ(-ETIME, wait_job(self->fd, seqno, 200000000LL, NULL));
	EXPECT_LE(200000000LL, now_ns() - t0);
	EXPECT_EQ(-ETIME, wait_abs(self->fd, seqno, 0, NULL));
	/* Still there: the timeout fails it, exactly once. */
	ASSERT_EQ(0, wait_job(self->fd, seqno, WAIT_NS, &w));
	EXPECT_TRUE(w.status == SPATTEN_STATUS_TIMEOUT ||
		    w.status == SPATTEN_HW_ERR_ABORTED);
	EXPECT_EQ(-ENOENT, wait_job(self->fd, seqno, 0, NULL));
}

TEST_F_TIMEOUT(drv, epoll_reports_completion, T_SHORT)
{
	struct epoll_event ev = { .events = EPOLLIN }, out;
	struct spatten_job j;
	uint64_t seqno;
	int ep = epoll_create1(EPOLL_CLOEXEC);

	ASSERT_LE(0, ep);
	ASSERT_EQ(0, epoll_ctl(ep, EPOLL_CTL_ADD, self->fd, &ev));
	EXPECT_EQ(0, epoll_wait(ep, &out, 1, 0));
	nop_job(&j, 0);
	ASSERT_EQ(0, submit(self->fd, &j, 1, &seqno));
	ASSERT_EQ(1, epoll_wait(ep, &out, 1, 30000));
	EXPECT_TRUE(out.events & EPOLLIN);
	ASSERT_EQ(0, wait_job(self->fd, seqno, 0, NULL));
	EXPECT_EQ(0, epoll_wait(ep, &out, 1, 0));
	close(ep);
}

/* ---- isolation between processes ------------------------------------------ */

TEST_F_TIMEOUT(drv, two_processes_cannot_see_each_others_buffers, T_SHORT)
{
	int to_child[2], to_parent[2], status;
	uint32_t theirs;
	uint64_t their_off;
	pid_t pid;

	ASSERT_EQ(0, pipe(to_child));
	ASSERT_EQ(0, pipe(to_parent));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		/* The child opens the device on its own. */
		int fd = open_dev();
		uint32_t h;
		uint64_t off;
		char c;

		close(self->fd);
		if (fd < 0 || bo_create(fd, BO_SIZE, &h, &off))
			_exit(1);
		if (write(to_parent[1], &h, sizeof(h)) != sizeof(h) ||
		    write(to_parent[1], &off, sizeof(off)) != sizeof(off))
			_exit(2);
		/* Keep the buffer alive until the parent is done. */
		if (read(to_child[0], &c, 1) != 1)
			_exit(3);
		_exit(0);
	}
	ASSERT_EQ(sizeof(theirs), read(to_parent[0], &theirs, sizeof(theirs)));
	ASSERT_EQ(sizeof(their_off),
		  read(to_parent[0], &their_off, sizeof(their_off)));

	/* Their handle is nothing here, even if ours has the same number. */
	{
		struct spatten_job j;
		uint32_t bogus = theirs == self->handle ? theirs + 1 : theirs;
		void *m;

		small_job(&j, self->handle);
		j.out.handle = bogus;
		EXPECT_EQ(-ENOENT, submit(self->fd, &j, 1, NULL));
		EXPECT_EQ(-ENOENT, bo_destroy(self->fd, bogus));
		m = mmap(NULL, PAGE, PROT_READ, MAP_SHARED, self->fd,
			 (off_t)((uint64_t)bogus << 32));
		EXPECT_EQ(MAP_FAILED, m);
	}
	ASSERT_EQ(1, write(to_child[1], "x", 1));
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	close(to_child[0]);
	close(to_child[1]);
	close(to_parent[0]);
	close(to_parent[1]);
}

/* ---- back-pressure -------------------------------------------------------- */

static void on_signal(int sig)
{
	(void)sig;
}

static int nops(struct spatten_job *j, int n)
{
	int i;

	for (i = 0; i < n; i++)
		nop_job(&j[i], (uint64_t)i);
	return n;
}

TEST_F_TIMEOUT(drv, queue_full_nonblock_eagain_blocking_waits, T_LONG)
{
	struct spatten_job j[SPATTEN_MAX_SUBMIT];
	int nb, i, ret = 0, status;
	long submitted = 0;
	pid_t pid;

	if (!have_debugfs())
		SKIP(return, "no debugfs");
	pin_cpu0();
	nops(j, SPATTEN_MAX_SUBMIT);
	/* Long enough to fill the queue before the held jobs time out. */
	ASSERT_EQ(0, knob_set("timeout_ms", 6000));
	ASSERT_EQ(0, knob_set("force_timeout", 1));
	nb = open_dev_flags(O_NONBLOCK);
	ASSERT_LE(0, nb);
	for (i = 0; i < 64; i++) {
		ret = submit(nb, j, SPATTEN_MAX_SUBMIT, NULL);
		if (ret)
			break;
		submitted += SPATTEN_MAX_SUBMIT;
	}
	EXPECT_EQ(-EAGAIN, ret);
	TH_LOG("queue full after %ld jobs", submitted);
	EXPECT_LE(256, submitted);

	/* A blocking submitter sleeps, interruptibly... */
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		struct sigaction sa = { .sa_handler = on_signal };
		int fd = open_dev();

		/* No SA_RESTART: the interrupted SUBMIT returns EINTR. */
		sigaction(SIGUSR1, &sa, NULL);
		pin_cpu0();
		if (fd < 0)
			_exit(1);
		/* A signal with a handler interrupts the wait. */
		if (submit_once(fd, j, 1) != -EINTR)
			_exit(2);
		/* Then it waits until the reset frees room. */
		if (submit(fd, j, 1, NULL))
			_exit(3);
		_exit(0);
	}
	sleep_ms(500);
	EXPECT_EQ(0, waitpid(pid, &status, WNOHANG));	/* still blocked */
	kill(pid, SIGUSR1);
	/* The timeout resets the device; the backlog drains. */
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status));
	close(nb);
	EXPECT_TRUE(wait_idle(60 * NSEC_PER_SEC));
}

/* ---- sysfs ---------------------------------------------------------------- */

TEST_F(drv, sysfs_attributes_match_info_and_are_world_readable)
{
	char buf[4096];
	struct stat st;
	static const char *const names[] = {
		"hw_version", "num_engines", "num_queues", "queue_depth",
		"max_context", "max_heads", "head_dims", "formats", "splits",
		"features", "dma_bits", "job_timeout_ms", "irq_mode",
		"counters", "queues", "faults",
	};
	const char *expect = getenv("spatten_expect_irq");
	unsigned int i;
	int status;
	pid_t pid;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		char path[256];

		snprintf(path, sizeof(path), SYSFS_DIR "/%s", names[i]);
		ASSERT_EQ(0, stat(path, &st)) TH_LOG("%s", path);
		EXPECT_EQ(0444, st.st_mode & 0777) TH_LOG("%s", path);
		EXPECT_LT(0, read_file(path, buf, sizeof(buf)));
	}
	ASSERT_LT(0, read_file(SYSFS_DIR "/num_queues", buf, sizeof(buf)));
	EXPECT_EQ(self->info.num_queues, strtoul(buf, NULL, 0));
	ASSERT_LT(0, read_file(SYSFS_DIR "/features", buf, sizeof(buf)));
	EXPECT_EQ(self->info.features, strtoul(buf, NULL, 0));
	ASSERT_LT(0, read_file(SYSFS_DIR "/splits", buf, sizeof(buf)));
	EXPECT_EQ(self->info.splits, strtoul(buf, NULL, 0));
	EXPECT_LE(0, sysfs_key("counters", "jobs_ok"));
	EXPECT_LE(0, sysfs_key("counters", "bytes_meta"));
	EXPECT_LE(0, sysfs_key("faults", "resets"));
	ASSERT_LT(0, read_file(SYSFS_DIR "/irq_mode", buf, sizeof(buf)));
	TH_LOG("interrupt mode: %s", buf);
	if (expect && *expect)
		EXPECT_EQ(0, strncmp(buf, expect, strlen(expect)));
	EXPECT_EQ(0, queued_jobs()) {
		TH_LOG("jobs queued while idle");
	}

	/* Readable by an unprivileged user too. */
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		char b[4096];
		int r;

		if (setgid(65534) || setuid(65534))
			_exit(1);
		r = read_file(SYSFS_DIR "/counters", b, sizeof(b));
		_exit(r < 0 ? 100 - r : 0);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_EQ(0, WEXITSTATUS(status)) {
		TH_LOG("unprivileged read: exit %d (100 + errno)",
		       WEXITSTATUS(status));
	}
}

/* ---- faults --------------------------------------------------------------- */

/* Forced timeout with several jobs on the device: each fails exactly once. */
TEST_F_TIMEOUT(drv, forced_timeout_resets_and_fails_every_job_once, T_LONG)
{
	enum { N = 12 };
	struct spatten_job j[N];
	struct spatten_wait w;
	long long resets0, timeouts0;
	uint64_t seqno, s2;
	int i, n_timeout = 0, n_abort = 0;

	if (!have_debugfs())
		SKIP(return, "no debugfs");
	resets0 = sysfs_key("faults", "resets");
	timeouts0 = sysfs_key("faults", "timeouts");
	small_inputs(self->map, 9);
	ASSERT_EQ(0, knob_set("timeout_ms", 2000));
	ASSERT_EQ(0, knob_set("force_timeout", 1));
	for (i = 0; i < N; i++) {
		if (i % 3 == 0)
			small_job(&j[i], self->handle);
		else
			nop_job(&j[i], 0);
		j[i].user_data = 1000 + i;
	}
	/* Half now, half 1 s later: those have not expired at the reset. */
	ASSERT_EQ(0, submit(self->fd, j, N / 2, &seqno));
	sleep_ms(1000);
	ASSERT_EQ(0, submit(self->fd, j + N / 2, N / 2, &s2));
	ASSERT_EQ(seqno + N / 2, s2);
	/* Every job completes once, with an error, none is lost. */
	for (i = 0; i < N; i++) {
		ASSERT_EQ(0, wait_job(self->fd, seqno + i, WAIT_NS, &w));
		EXPECT_EQ(1000 + i, w.user_data);
		if (w.status == SPATTEN_STATUS_TIMEOUT)
			n_timeout++;
		else if (w.status == SPATTEN_HW_ERR_ABORTED)
			n_abort++;
		else
			TH_LOG("job %d: status %u", i, w.status);
	}
	for (i = 0; i < N; i++)
		EXPECT_EQ(-ENOENT, wait_job(self->fd, seqno + i, 0, NULL));
	TH_LOG("%d timed out, %d aborted", n_timeout, n_abort);
	EXPECT_EQ(N, n_timeout + n_abort);
	EXPECT_LE(1, n_timeout);
	EXPECT_LE(1, n_abort);
	EXPECT_EQ(resets0 + 1, sysfs_key("faults", "resets"));
	EXPECT_EQ(timeouts0 + n_timeout, sysfs_key("faults", "timeouts"));
	EXPECT_EQ(0, knob_get("force_timeout"));

	/* The device works again. */
	small_job(&j[0], self->handle);
	ASSERT_EQ(0, submit(self->fd, j, 1, &s2));
	ASSERT_EQ(0, wait_job(self->fd, s2, WAIT_NS, &w));
	EXPECT_EQ(SPATTEN_HW_OK, w.status);
	EXPECT_EQ(0, queued_jobs());
}

TEST_F_TIMEOUT(drv, dropped_interrupt_is_recovered_by_the_watchdog, T_SHORT)
{
	struct spatten_job j;
	struct spatten_wait w;
	long long dropped0;
	uint64_t seqno;

	if (!have_debugfs())
		SKIP(return, "no debugfs");
	dropped0 = sysfs_key("faults", "irqs_dropped");
	ASSERT_EQ(0, knob_set("drop_irq", 1));
	nop_job(&j, 5);
	ASSERT_EQ(0, submit(self->fd, &j, 1, &seqno));
	ASSERT_EQ(0, wait_job(self->fd, seqno, WAIT_NS, &w));
	EXPECT_EQ(SPATTEN_HW_OK, w.status);
	EXPECT_EQ(dropped0 + 1, sysfs_key("faults", "irqs_dropped"));
	EXPECT_EQ(0, knob_get("drop_irq"));
}

TEST_F_TIMEOUT(drv, injected_dma_error_fails_one_job, T_SHORT)
{
	struct spatten_job j;
	struct spatten_wait w;
	uint64_t seqno;

	if (!have_debugfs())
		SKIP(return, "no debugfs");
	small_inputs(self->map, 4);
	ASSERT_EQ(0, knob_set("inject_dma_error", 1));
	small_job(&j, self->handle);
	ASSERT_EQ(0, submit(self->fd, &j, 1, &seqno));
	ASSERT_EQ(0, wait_job(self->fd, seqno, WAIT_NS, &w));
	TH_LOG("injected DMA error: status %u", w.status);
	EXPECT_EQ(SPATTEN_HW_ERR_DMA_READ, w.status);
	EXPECT_EQ(0, knob_get("inject_dma_error"));
	/* The next one is fine. */
	ASSERT_EQ(0, submit(self->fd, &j, 1, &seqno));
	ASSERT_EQ(0, wait_job(self->fd, seqno, WAIT_NS, &w));
	EXPECT_EQ(SPATTEN_HW_OK, w.status);
}

/*
 * inject_dma_write_error (added for the reliability campaigns, issue #7):
 * the job reads every input, then its output write fails: DMA_WRITE, and
 * the next job is fine.
 */
TEST_F_TIMEOUT(drv, injected_dma_write_error_fails_one_job, T_SHORT)
{
	struct spatten_job j;
	struct spatten_wait w;
	uint64_t seqno;

	if (access(DEBUGFS_DIR "/inject_dma_write_error", W_OK))
		SKIP(return, "no inject_dma_write_error knob");
	small_inputs(self->map, 5);
	ASSERT_EQ(0, knob_set("inject_dma_write_error", 1));
	small_job(&j, self->handle);
	ASSERT_EQ(0, submit(self->fd, &j, 1, &seqno));
	ASSERT_EQ(0, wait_job(self->fd, seqno, WAIT_NS, &w));
	EXPECT_EQ(SPATTEN_HW_ERR_DMA_WRITE, w.status);
	EXPECT_EQ(SM_BYTES, w.bytes_q);
	EXPECT_EQ(0, knob_get("inject_dma_write_error"));
	ASSERT_EQ(0, submit(self->fd, &j, 1, &seqno));
	ASSERT_EQ(0, wait_job(self->fd, seqno, WAIT_NS, &w));
	EXPECT_EQ(SPATTEN_HW_OK, w.status);
}

/*
 * debugfs spatten/objects counts the module's live objects: a buffer and
 * a job show up while they exist and go when they are freed.
 */
TEST_F_TIMEOUT(drv, debugfs_objects_count_live_objects, T_SHORT)
{
	const char *f = "/sys/kernel/debug/spatten/objects";
	char buf[512];
	long long bos0, jobs0, ctxs0;
	struct spatten_job j;
	uint64_t seqno;
	uint32_t h;
	int fd2;

	if (read_file(f, buf, sizeof(buf)) < 0)
		SKIP(return, "no debugfs objects file");
	ASSERT_EQ(0, knob_set("timeout_ms", 2000));
	ctxs0 = objects_key(f, "ctxs");
	bos0 = objects_key(f, "bos");
	jobs0 = objects_key(f, "jobs");
	fd2 = open_dev();
	ASSERT_LE(0, fd2);
	EXPECT_EQ(ctxs0 + 1, objects_key(f, "ctxs"));
	ASSERT_EQ(0, bo_create(fd2, 3 * PAGE, &h, NULL));
	EXPECT_EQ(bos0 + 1, objects_key(f, "bos"));
	ASSERT_EQ(0, knob_set("force_timeout", 1));
	nop_job(&j, 1);
	ASSERT_EQ(0, submit(fd2, &j, 1, &seqno));
	EXPECT_EQ(jobs0 + 1, objects_key(f, "jobs"));
	/* Closed with the job held on the ring: the job keeps the file's
	 * context; a reset (or its 2 s timeout) ends it and everything goes. */
	close(fd2);
	EXPECT_EQ(jobs0 + 1, objects_key(f, "jobs"));
	if (!access(SYSFS_DIR "/device/reset", W_OK))
		EXPECT_EQ(0, write_file(SYSFS_DIR "/device/reset", "1"));
	EXPECT_TRUE(wait_idle(30 * NSEC_PER_SEC));
	EXPECT_EQ(jobs0, objects_key(f, "jobs"));
	EXPECT_EQ(bos0, objects_key(f, "bos"));
	EXPECT_EQ(ctxs0, objects_key(f, "ctxs"));
}

/* A PCI function reset through sysfs: reset_prepare / reset_done. */
TEST_F_TIMEOUT(drv, pci_function_reset_aborts_jobs_then_works, T_LONG)
{
	struct spatten_job j[4];
	struct spatten_wait w;
	uint64_t seqno;
	int i;

	if (!have_debugfs())
		SKIP(return, "no debugfs");
	if (access(SYSFS_DIR "/device/reset", W_OK))
		SKIP(return, "no PCI reset method");
	ASSERT_EQ(0, knob_set("timeout_ms", 60000));
	ASSERT_EQ(0, knob_set("force_timeout", 1));
	nops(j, 4);
	ASSERT_EQ(0, submit(self->fd, j, 4, &seqno));
	ASSERT_EQ(0, write_file(SYSFS_DIR "/device/reset", "1"));
	for (i = 0; i < 4; i++) {
		ASSERT_EQ(0, wait_job(self->fd, seqno + i, WAIT_NS, &w));
		EXPECT_EQ(SPATTEN_HW_ERR_ABORTED, w.status);
	}
	EXPECT_EQ(0, knob_get("force_timeout"));
	small_inputs(self->map, 8);
	small_job(&j[0], self->handle);
	ASSERT_EQ(0, submit(self->fd, j, 1, &seqno));
	ASSERT_EQ(0, wait_job(self->fd, seqno, WAIT_NS, &w));
	EXPECT_EQ(SPATTEN_HW_OK, w.status);
}

/*
 * kill -9 of a process with long jobs in flight (and with held jobs that
 * can only end by timeout): the device goes idle, nothing leaks; the final
 * rmmod of the guest script unloads the module afterwards.
 */
TEST_F_TIMEOUT(drv, kill9_with_jobs_in_flight_then_device_goes_idle, T_LONG)
{
	int sync_pipe[2], status;
	int64_t t0;
	pid_t pid;
	char c;

	ASSERT_EQ(0, pipe(sync_pipe));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		uint32_t heads = self->info.max_heads < 16 ?
				 self->info.max_heads : 16;
		uint32_t rows = self->info.max_context < 1024 ?
				self->info.max_context : 1024;
		uint64_t t = (uint64_t)heads * rows * 64 * 2;
		struct spatten_job j[4];
		int fd = open_dev(), i;
		uint32_t h;

		close(self->fd);
		if (fd < 0 || bo_create(fd, 4 * t, &h, NULL))
			_exit(1);
		for (i = 0; i < 4; i++) {
			memset(&j[i], 0, sizeof(j[i]));
			j[i].opcode = SPATTEN_OP_ATTENTION;
			j[i].version = SPATTEN_DESC_VERSION;
			j[i].n_heads = (uint16_t)heads;
			j[i].head_dim = 64;
			j[i].q_rows = (uint16_t)rows;
			j[i].kv_rows = (uint16_t)rows;
			tensor(&j[i].q, h, 0);
			tensor(&j[i].k, h, t);
			tensor(&j[i].v, h, 2 * t);
			tensor(&j[i].out, h, 3 * t);
		}
		if (submit(fd, j, 4, NULL))
			_exit(2);
		/* The handle goes: only the jobs hold the buffer now. */
		bo_destroy(fd, h);
		if (write(sync_pipe[1], "x", 1) != 1)
			_exit(3);
		for (;;)
			pause();
	}
	ASSERT_EQ(1, read(sync_pipe[0], &c, 1));
	kill(pid, SIGKILL);
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_TRUE(WIFSIGNALED(status));
	t0 = now_ns();
	EXPECT_TRUE(wait_idle(120 * NSEC_PER_SEC));
	TH_LOG("idle %.2f s after the kill", (now_ns() - t0) / 1e9);

	/* Same with jobs the device never sees: the timeout frees them. */
	if (have_debugfs()) {
		ASSERT_EQ(0, knob_set("timeout_ms", 1000));
		ASSERT_EQ(0, knob_set("force_timeout", 1));
		pid = fork();
		ASSERT_LE(0, pid);
		if (pid == 0) {
			struct spatten_job j[8];
			int fd = open_dev();

			nops(j, 8);
			if (fd < 0 || submit(fd, j, 8, NULL))
				_exit(2);
			if (write(sync_pipe[1], "x", 1) != 1)
				_exit(3);
			for (;;)
				pause();
		}
		ASSERT_EQ(1, read(sync_pipe[0], &c, 1));
		kill(pid, SIGKILL);
		ASSERT_EQ(pid, waitpid(pid, &status, 0));
		EXPECT_TRUE(wait_idle(30 * NSEC_PER_SEC));
	}
	close(sync_pipe[0]);
	close(sync_pipe[1]);
}

/* The PCI address of spatten0, e.g. "0000:00:01.0". */
static int pci_addr(char *buf, size_t len)
{
	char link[512];
	ssize_t n = readlink(SYSFS_DIR "/device", link, sizeof(link) - 1);
	char *base;

	if (n < 0)
		return -errno;
	link[n] = 0;
	base = strrchr(link, '/');
	snprintf(buf, len, "%s", base ? base + 1 : link);
	return 0;
}

/*
 * Unbind with jobs in flight, a mapping and an open file; then bind again.
 * Runs last: the board comes back as spatten0 for the other suites.
 */
TEST_F_TIMEOUT(drv, zz_unbind_with_jobs_in_flight_then_rebind, T_LONG)
{
	struct pollfd p = { .fd = self->fd, .events = POLLIN };
	struct spatten_info info;
	struct spatten_job j[4];
	struct spatten_wait w;
	char addr[512];
	uint64_t seqno;
	int i, fd2;

	if (!have_debugfs())
		SKIP(return, "no debugfs");
	ASSERT_EQ(0, pci_addr(addr, sizeof(addr)));
	ASSERT_EQ(0, knob_set("timeout_ms", 60000));
	ASSERT_EQ(0, knob_set("force_timeout", 1));
	nops(j, 4);
	ASSERT_EQ(0, submit(self->fd, j, 4, &seqno));
	memset(self->map, 0x5a, PAGE);

	ASSERT_EQ(0, write_file("/sys/bus/pci/drivers/spatten/unbind", addr));
	/* Each job in flight is reported once, aborted; then -ENODEV. */
	for (i = 0; i < 4; i++) {
		ASSERT_EQ(0, wait_job(self->fd, seqno + i, WAIT_NS, &w));
		EXPECT_EQ(SPATTEN_HW_ERR_ABORTED, w.status);
	}
	EXPECT_EQ(-ENODEV, wait_job(self->fd, seqno, 0, NULL));
	EXPECT_EQ(-ENODEV, xioctl(self->fd, SPATTEN_IOCTL_INFO, &info));
	EXPECT_EQ(-ENODEV, submit(self->fd, j, 1, NULL));
	EXPECT_EQ(1, poll(&p, 1, 0));
	EXPECT_TRUE(p.revents & (POLLERR | POLLHUP));
	/* The mapping still works: the pages belong to the buffer. */
	EXPECT_EQ(0x5a, ((unsigned char *)self->map)[PAGE - 1]);

	ASSERT_EQ(0, write_file("/sys/bus/pci/drivers/spatten/bind", addr));
	for (i = 0; i < 100 && access(dev_path(), F_OK); i++)
		sleep_ms(50);
	fd2 = open_dev();
	ASSERT_LE(0, fd2);
	nop_job(&j[0], 9);
	ASSERT_EQ(0, submit(fd2, j, 1, &seqno));
	ASSERT_EQ(0, wait_job(fd2, seqno, WAIT_NS, &w));
	EXPECT_EQ(SPATTEN_HW_OK, w.status);
	close(fd2);
}

/*
 * --hold-jobs: for scripts/guest-init.sh. Put jobs on the device that only
 * a reset ends (a 60 s timeout), print "held" and sleep; the script kills
 * this process with SIGKILL and unloads the module with the jobs in flight.
 */
static int hold_jobs(void)
{
	struct spatten_job j[16];
	int fd = open_dev();

	if (fd < 0 || knob_set("timeout_ms", 60000) ||
	    knob_set("force_timeout", 1))
		return 1;
	nops(j, 16);
	if (submit(fd, j, 16, NULL))
		return 1;
	printf("held\n");
	fflush(stdout);
	for (;;)
		pause();
}

int main(int argc, char **argv)
{
	if (argc > 1 && !strcmp(argv[1], "--hold-jobs"))
		return hold_jobs();
	return test_harness_run(argc, argv);
}
