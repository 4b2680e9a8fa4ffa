// SPDX-License-Identifier: GPL-2.0
/*
 * In-guest tests of the driver's own behaviour (driver/) through the DRM
 * accel UAPI (include/uapi/drm/spatten_accel.h): the version 2 job checks,
 * BO_USERPTR (which memory it takes), PRIME sharing between open files, sync
 * objects, SUBMIT/WAIT/REAP and poll(), the job_size and ioctl size rules,
 * fdinfo and memory-cgroup accounting, isolation between processes, the
 * per-file job limit, sysfs, and the fault paths driven through the debugfs
 * knobs: a hung job bans its file and resets the device (devcoredump), a
 * device that stays in reset takes the board out of service until a PCI reset,
 * lost interrupts, DMA errors, PCI function reset, a process killed with
 * jobs in flight, unbind with jobs in flight or with a submitter blocked in
 * a userfaultfd page.
 *
 * Built with the kernel's kselftest harness (GPL-2.0). Every ioctl is issued
 * raw; neither libspatten nor libdrm is used. The board is the first
 * /sys/class/accel/accel* (or /sys/class/drm/renderD*) whose device is bound
 * to "spatten"; SPATTEN_DEV=/dev/accel/accelN (or /dev/dri/renderDN)
 * overrides it. spatten_expect_irq=msix|msi|intx (from the kernel command
 * line) pins the interrupt mode the driver must report.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <linux/magic.h>
#include <linux/sync_file.h>
#include <linux/userfaultfd.h>

#include "kselftest_harness.h"

#include "uapi/drm/spatten_accel.h"

#define NSEC_PER_SEC		1000000000LL
#define NSEC_PER_MSEC		1000000LL
#define PAGE			4096u
#define MIB			(1024u * 1024u)
#define N_ELEM(a)		(sizeof(a) / sizeof((a)[0]))

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
#define T_HUGE			900
#define WAIT_NS			(30 * NSEC_PER_SEC)

#define OBJECTS_FILE		"/sys/kernel/debug/spatten/objects"
#define DEVCD_DIR		"/sys/class/devcoredump"
#define PCI_DRV_DIR		"/sys/bus/pci/drivers/spatten"
#define FALLBACK_TIMEOUT_MS	10000

#define JOB_SIZE		((uint32_t)sizeof(struct drm_spatten_job))

/* ---- the board: its node, sysfs and debugfs directories ----------------- */

/*
 * node: /dev/accel/accelN (6.12) or /dev/dri/renderDN (6.1); sys: its class
 * directory (device/ is the PCI function, with the driver's attributes);
 * dbg: the DRM minor's debugfs directory with the driver's knobs.
 */
struct board {
	char name[32];
	char node[64];
	char sys[96];
	char dbg[96];
};

static struct board g_board;
static bool g_board_known;

/* The debugfs timeout_ms before any test ran (main() reads it). */
static long g_default_timeout_ms = FALLBACK_TIMEOUT_MS;

static bool sysdir_is_spatten(const char *sysdir)
{
	char path[PATH_MAX], link[512];
	const char *base;
	ssize_t n;

	snprintf(path, sizeof(path), "%s/device/driver", sysdir);
	n = readlink(path, link, sizeof(link) - 1);
	if (n < 0)
		return false;
	link[n] = 0;
	base = strrchr(link, '/');
	return !strcmp(base ? base + 1 : link, "spatten");
}

/*
 * accelN -> /dev/accel, /sys/class/accel; renderDN alike. The knobs are in
 * debugfs spatten/<PCI address>, the same on every kernel.
 */
static void board_paths(const char *name, struct board *b)
{
	bool accel = !strncmp(name, "accel", 5);
	char path[160], link[256];
	const char *pci;
	ssize_t n;

	snprintf(b->name, sizeof(b->name), "%s", name);
	snprintf(b->node, sizeof(b->node), "/dev/%s/%s",
		 accel ? "accel" : "dri", name);
	snprintf(b->sys, sizeof(b->sys), "/sys/class/%s/%s",
		 accel ? "accel" : "drm", name);
	snprintf(path, sizeof(path), "%s/device", b->sys);
	n = readlink(path, link, sizeof(link) - 1);
	link[n > 0 ? n : 0] = 0;
	pci = strrchr(link, '/');
	snprintf(b->dbg, sizeof(b->dbg), "/sys/kernel/debug/spatten/%.32s",
		 pci ? pci + 1 : link);
}

static int prefix_filter_accel(const struct dirent *d)
{
	return !strncmp(d->d_name, "accel", 5) &&
	       d->d_name[5] >= '0' && d->d_name[5] <= '9';
}

static int prefix_filter_render(const struct dirent *d)
{
	return !strncmp(d->d_name, "renderD", 7) &&
	       d->d_name[7] >= '0' && d->d_name[7] <= '9';
}

/* The first node of @cls (name order) bound to spatten, into @b. */
static bool scan_class(const char *cls,
		       int (*filter)(const struct dirent *), struct board *b)
{
	struct dirent **ents;
	bool found = false;
	int n, i;

	n = scandir(cls, &ents, filter, alphasort);
	if (n < 0)
		return false;
	for (i = 0; i < n; i++) {
		char sysdir[320];

		snprintf(sysdir, sizeof(sysdir), "%s/%s", cls, ents[i]->d_name);
		if (!found && sysdir_is_spatten(sysdir)) {
			board_paths(ents[i]->d_name, b);
			found = true;
		}
		free(ents[i]);
	}
	free(ents);
	return found;
}

/* Find board 0 again (after a rebind its minor may have changed). */
static bool board_find(void)
{
	const char *env = getenv("SPATTEN_DEV");

	g_board_known = true;
	if (env && *env) {
		const char *base = strrchr(env, '/');

		board_paths(base ? base + 1 : env, &g_board);
		snprintf(g_board.node, sizeof(g_board.node), "%s", env);
		return true;
	}
	if (scan_class("/sys/class/accel", prefix_filter_accel, &g_board) ||
	    scan_class("/sys/class/drm", prefix_filter_render, &g_board))
		return true;
	board_paths("accel0", &g_board);	/* for the messages */
	return false;
}

static const struct board *bd(void)
{
	if (!g_board_known)
		board_find();
	return &g_board;
}

static const char *dev_path(void)
{
	return bd()->node;
}

/* <node>/device/<attr>: the driver's sysfs attributes on the PCI device. */
static void sys_attr(char *buf, size_t len, const char *attr)
{
	snprintf(buf, len, "%s/device/%s", bd()->sys, attr);
}

static void dbg_file(char *buf, size_t len, const char *name)
{
	snprintf(buf, len, "%s/%s", bd()->dbg, name);
}

/* ---- raw UAPI helpers: -errno returns ------------------------------------ */

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

static int get_info(int fd, struct drm_spatten_info *info)
{
	memset(info, 0, sizeof(*info));
	return xioctl(fd, DRM_IOCTL_SPATTEN_INFO, info);
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

static int bo_userptr(int fd, void *ptr, uint64_t size, uint32_t *handle)
{
	struct drm_spatten_bo_userptr u = {
		.user_ptr = (uintptr_t)ptr,
		.size = size,
	};
	int ret = xioctl(fd, DRM_IOCTL_SPATTEN_BO_USERPTR, &u);

	if (!ret && handle)
		*handle = u.handle;
	return ret;
}

static int bo_info(int fd, uint32_t handle, struct drm_spatten_bo_info *out)
{
	struct drm_spatten_bo_info i = { .handle = handle };
	int ret = xioctl(fd, DRM_IOCTL_SPATTEN_BO_INFO, &i);

	if (out)
		*out = i;
	return ret;
}

static int gem_close(int fd, uint32_t handle)
{
	struct drm_gem_close c = { .handle = handle };

	return xioctl(fd, DRM_IOCTL_GEM_CLOSE, &c);
}

static int prime_export(int fd, uint32_t handle, int *dmabuf)
{
	struct drm_prime_handle p = {
		.handle = handle,
		.flags = DRM_CLOEXEC | DRM_RDWR,
		.fd = -1,
	};
	int ret = xioctl(fd, DRM_IOCTL_PRIME_HANDLE_TO_FD, &p);

	if (!ret)
		*dmabuf = p.fd;
	return ret;
}

static int prime_import(int fd, int dmabuf, uint32_t *handle)
{
	struct drm_prime_handle p = { .fd = dmabuf };
	int ret = xioctl(fd, DRM_IOCTL_PRIME_FD_TO_HANDLE, &p);

	if (!ret)
		*handle = p.handle;
	return ret;
}

static int submit_full(int fd, const void *jobs, uint32_t job_size,
		       uint32_t n, uint32_t flags,
		       const struct drm_spatten_sync *in, uint32_t n_in,
		       const struct drm_spatten_sync *out, uint32_t n_out,
		       uint64_t *seqno)
{
	struct drm_spatten_submit s = {
		.jobs_ptr = (uintptr_t)jobs,
		.job_size = job_size,
		.count = n,
		.flags = flags,
		.in_syncs_ptr = (uintptr_t)in,
		.out_syncs_ptr = (uintptr_t)out,
		.in_sync_count = n_in,
		.out_sync_count = n_out,
	};
	int ret = xioctl(fd, DRM_IOCTL_SPATTEN_SUBMIT, &s);

	if (!ret && s.submitted != n)
		return -EPROTO;		/* all or nothing */
	if (!ret && seqno)
		*seqno = s.seqno;
	return ret;
}

static int submit(int fd, const struct drm_spatten_job *jobs, uint32_t n,
		  uint64_t *seqno)
{
	return submit_full(fd, jobs, JOB_SIZE, n, 0, NULL, 0, NULL, 0, seqno);
}

static int wait_abs(int fd, uint64_t seqno, int64_t deadline,
		    struct drm_spatten_result *out)
{
	struct drm_spatten_wait w = { .seqno = seqno, .timeout_ns = deadline };
	int ret = xioctl(fd, DRM_IOCTL_SPATTEN_WAIT, &w);

	if (out)
		*out = w.result;
	return ret;
}

static int wait_job(int fd, uint64_t seqno, int64_t rel_ns,
		    struct drm_spatten_result *out)
{
	return wait_abs(fd, seqno, now_ns() + rel_ns, out);
}

static int reap(int fd, struct drm_spatten_result *res, uint32_t count,
		uint32_t min_count, int64_t deadline, uint32_t *reaped,
		uint32_t *pending)
{
	struct drm_spatten_reap r = {
		.results_ptr = (uintptr_t)res,
		.count = count,
		.min_count = min_count,
		.timeout_ns = deadline,
	};
	int ret = xioctl(fd, DRM_IOCTL_SPATTEN_REAP, &r);

	if (reaped)
		*reaped = r.reaped;
	if (pending)
		*pending = r.pending;
	return ret;
}

static int get_counters(int fd, struct drm_spatten_counters *c)
{
	memset(c, 0, sizeof(*c));
	return xioctl(fd, DRM_IOCTL_SPATTEN_COUNTERS, c);
}

/* ---- sync objects (core DRM ioctls) ------------------------------------- */

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

static int syncobj_wait(int fd, uint32_t *handles, uint32_t n,
			int64_t deadline, uint32_t flags)
{
	struct drm_syncobj_wait w = {
		.handles = (uintptr_t)handles,
		.timeout_nsec = deadline,
		.count_handles = n,
		.flags = flags,
	};

	return xioctl(fd, DRM_IOCTL_SYNCOBJ_WAIT, &w);
}

static int syncobj_timeline_wait(int fd, uint32_t *handles, uint64_t *points,
				 uint32_t n, int64_t deadline, uint32_t flags)
{
	struct drm_syncobj_timeline_wait w = {
		.handles = (uintptr_t)handles,
		.points = (uintptr_t)points,
		.timeout_nsec = deadline,
		.count_handles = n,
		.flags = flags,
	};

	return xioctl(fd, DRM_IOCTL_SYNCOBJ_TIMELINE_WAIT, &w);
}

static int syncobj_query(int fd, uint32_t handle, uint64_t *point)
{
	struct drm_syncobj_timeline_array a = {
		.handles = (uintptr_t)&handle,
		.points = (uintptr_t)point,
		.count_handles = 1,
	};

	return xioctl(fd, DRM_IOCTL_SYNCOBJ_QUERY, &a);
}

static int syncobj_to_fd(int fd, uint32_t handle, int *out)
{
	struct drm_syncobj_handle h = { .handle = handle, .fd = -1 };
	int ret = xioctl(fd, DRM_IOCTL_SYNCOBJ_HANDLE_TO_FD, &h);

	if (!ret)
		*out = h.fd;
	return ret;
}

static int syncobj_from_fd(int fd, int sfd, uint32_t *handle)
{
	struct drm_syncobj_handle h = { .fd = sfd };
	int ret = xioctl(fd, DRM_IOCTL_SYNCOBJ_FD_TO_HANDLE, &h);

	if (!ret)
		*handle = h.handle;
	return ret;
}

static struct drm_spatten_sync sync_bin(uint32_t handle)
{
	struct drm_spatten_sync s = { .handle = handle };

	return s;
}

static struct drm_spatten_sync sync_tl(uint32_t handle, uint64_t point)
{
	struct drm_spatten_sync s = {
		.handle = handle,
		.flags = DRM_SPATTEN_SYNC_TIMELINE,
		.point = point,
	};

	return s;
}

/* ---- jobs ----------------------------------------------------------------- */

static void nop_job(struct drm_spatten_job *j, uint64_t user_data)
{
	memset(j, 0, sizeof(*j));
	j->opcode = DRM_SPATTEN_OP_NOP;
	j->version = DRM_SPATTEN_DESC_V2;
	j->user_data = user_data;
}

static int nops(struct drm_spatten_job *j, int n)
{
	int i;

	for (i = 0; i < n; i++)
		nop_job(&j[i], (uint64_t)i);
	return n;
}

static void tensor(struct drm_spatten_tensor *t, uint32_t handle,
		   uint64_t off)
{
	t->handle = handle;
	t->flags = 0;
	t->offset = off;
}

/* An attention job of @heads x @rows x D = 64, S16, Q K V out at 0..3 t. */
static void attn_job(struct drm_spatten_job *j, uint32_t h, uint32_t heads,
		     uint32_t rows)
{
	uint64_t t = (uint64_t)heads * rows * 64 * 2;

	memset(j, 0, sizeof(*j));
	j->opcode = DRM_SPATTEN_OP_ATTENTION;
	j->stage = DRM_SPATTEN_STAGE_SUMMARIZATION;
	j->version = DRM_SPATTEN_DESC_V2;
	j->n_heads = (uint16_t)heads;
	j->head_dim = 64;
	j->q_rows = (uint16_t)rows;
	j->kv_rows = (uint16_t)rows;
	j->q_fmt = j->k_fmt = j->v_fmt = j->out_fmt = DRM_SPATTEN_FMT_S16;
	j->q_frac = j->k_frac = j->v_frac = j->out_frac = SM_FRAC;
	tensor(&j->q, h, 0);
	tensor(&j->k, h, t);
	tensor(&j->v, h, 2 * t);
	tensor(&j->out, h, 3 * t);
}

/* A valid version 2 summarization job over the small layout. */
static void small_job(struct drm_spatten_job *j, uint32_t handle)
{
	attn_job(j, handle, SM_HEADS, SM_ROWS);
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

static bool any_nonzero(const void *p, size_t n)
{
	const unsigned char *c = p;
	size_t i;

	for (i = 0; i < n; i++)
		if (c[i])
			return true;
	return false;
}

/*
 * The small job with every operand in @h, whose memory is @mem (BO_SIZE
 * bytes): 0 if it completes OK and its output landed in @mem; else -errno
 * of SUBMIT/WAIT, 1000 + the job's status, or 999 for an all-zero output.
 */
static int small_job_in(int fd, uint32_t h, char *mem)
{
	struct drm_spatten_result r;
	struct drm_spatten_job j;
	uint64_t seqno;
	int ret;

	small_inputs(mem, 17);
	small_job(&j, h);
	ret = submit(fd, &j, 1, &seqno);
	if (ret)
		return ret;
	ret = wait_job(fd, seqno, WAIT_NS, &r);
	if (ret)
		return ret;
	if (r.status != DRM_SPATTEN_STATUS_OK)
		return 1000 + (int)r.status;
	return any_nonzero(mem + OFF_OUT, SM_BYTES) ? 0 : 999;
}

/*
 * Reap every pending job of @fd, expecting @n with seqnos @first.. each
 * exactly once, every one with status @want.
 */
struct reap_stats {
	uint32_t seen;		/* distinct expected seqnos */
	uint32_t dup;		/* seen twice */
	uint32_t stray;		/* not in first..first + n - 1 */
	uint32_t other;		/* status != want */
	uint32_t timeouts;	/* status TIMEOUT */
	uint32_t last_other;	/* the last unexpected status */
	int err;		/* REAP's -errno */
};

static void reap_all(int fd, uint64_t first, uint32_t n, uint32_t want,
		     int64_t rel_ns, struct reap_stats *st)
{
	static struct drm_spatten_result res[DRM_SPATTEN_REAP_MAX];
	unsigned char *seen = calloc(n ? n : 1, 1);
	int64_t end = now_ns() + rel_ns;

	memset(st, 0, sizeof(*st));
	for (;;) {
		uint32_t got = 0, pending = 0, i;
		int ret = reap(fd, res, DRM_SPATTEN_REAP_MAX, 1, end, &got,
			       &pending);

		if (ret) {
			st->err = ret;
			break;
		}
		for (i = 0; i < got; i++) {
			uint64_t k = res[i].seqno - first;

			if (res[i].seqno < first || k >= n)
				st->stray++;
			else if (seen[k]++)
				st->dup++;
			else
				st->seen++;
			if (res[i].status == DRM_SPATTEN_STATUS_TIMEOUT)
				st->timeouts++;
			if (res[i].status != want) {
				st->other++;
				st->last_other = res[i].status;
			}
		}
		if (!pending)
			break;
	}
	free(seen);
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

	dbg_file(path, sizeof(path), name);
	snprintf(v, sizeof(v), "%ld", val);
	return write_file(path, v);
}

static long knob_get(const char *name)
{
	char path[256], buf[64];

	dbg_file(path, sizeof(path), name);
	if (read_file(path, buf, sizeof(buf)) < 0)
		return -1;
	return strtol(buf, NULL, 0);
}

static bool have_debugfs(void)
{
	char path[256];

	dbg_file(path, sizeof(path), "force_timeout");
	return access(path, W_OK) == 0;
}

/* A "key value" line of a file; -1 if absent. */
static long long file_key(const char *path, const char *key)
{
	char buf[4096], *p;
	size_t klen = strlen(key);

	if (read_file(path, buf, sizeof(buf)) < 0)
		return -1;
	for (p = buf; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
		if (!strncmp(p, key, klen) && p[klen] == ' ')
			return strtoll(p + klen + 1, NULL, 0);
	}
	return -1;
}

/* A "key value" line of a sysfs attribute of the board; -1 if absent. */
static long long sysfs_key(const char *attr, const char *key)
{
	char path[256];

	sys_attr(path, sizeof(path), attr);
	return file_key(path, key);
}

static long long objects_key(const char *key)
{
	return file_key(OBJECTS_FILE, key);
}

/* Poll @key of the objects file until it is at most @level; its value. */
static long long objects_settle(const char *key, long long level,
				unsigned int ms)
{
	long long v = objects_key(key);
	unsigned int waited = 0;

	while (v > level && waited < ms) {
		sleep_ms(50);
		waited += 50;
		v = objects_key(key);
	}
	return v;
}

/*
 * The objects' level at the start of a test: a file an earlier test
 * closed may still be being released (its jobs end first), so wait until
 * the only file left is this test's fixture (one context), at most 10 s.
 * False if it never comes: the levels would not be this test's own.
 */
static bool objects_quiet(void)
{
	return objects_settle("ctxs", 1, 10000) <= 1;
}

/* Jobs queued on all queues (sysfs "queues": id inflight queued depth). */
static long queued_jobs(void)
{
	char path[256], buf[4096], *p = buf;
	unsigned int id, inflight, queued, depth;
	long total = 0;
	int n;

	sys_attr(path, sizeof(path), "queues");
	if (read_file(path, buf, sizeof(buf)) < 0)
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

/* Dismiss every pending devcoredump (one pending dump blocks the next). */
static void devcd_dismiss_all(void)
{
	struct dirent **ents;
	int n, i;

	n = scandir(DEVCD_DIR, &ents, NULL, alphasort);
	if (n < 0)
		return;
	for (i = 0; i < n; i++) {
		char path[300];

		if (!strncmp(ents[i]->d_name, "devcd", 5)) {
			snprintf(path, sizeof(path), DEVCD_DIR "/%s/data",
				 ents[i]->d_name);
			write_file(path, "1");
		}
		free(ents[i]);
	}
	free(ents);
}

static bool board_reset_pci(void);

static void knobs_default(void)
{
	char path[256];

	if (!have_debugfs())
		return;
	/* A test that failed half-way left the board out of service. */
	if (sysfs_key("faults", "broken") == 1)
		board_reset_pci();
	dbg_file(path, sizeof(path), "inject_reset_stuck");
	if (!access(path, W_OK))
		knob_set("inject_reset_stuck", 0);
	knob_set("force_timeout", 0);
	knob_set("drop_irq", 0);
	dbg_file(path, sizeof(path), "inject_dma_error");
	if (!access(path, W_OK))
		knob_set("inject_dma_error", 0);
	dbg_file(path, sizeof(path), "inject_dma_write_error");
	if (!access(path, W_OK))
		knob_set("inject_dma_write_error", 0);
	knob_set("timeout_ms", g_default_timeout_ms);
	devcd_dismiss_all();
}

/* VmLck + VmPin of this process in KiB: pinned user memory, either way. */
static long pinned_kb(void)
{
	char buf[8192], *p;
	long kb = 0;

	if (read_file("/proc/self/status", buf, sizeof(buf)) < 0)
		return -1;
	p = strstr(buf, "VmLck:");
	if (p)
		kb += strtol(p + 6, NULL, 10);
	p = strstr(buf, "VmPin:");
	if (p)
		kb += strtol(p + 6, NULL, 10);
	return kb;
}

/*
 * Pinned memory once released buffers are gone: a job's reference on its
 * buffers goes when the scheduler frees the job, shortly after WAIT
 * returned, so allow two seconds to get back to @want.
 */
static long pinned_kb_after_release(long want)
{
	long kb = pinned_kb();
	int i;

	for (i = 0; kb != want && i < 200; i++) {
		usleep(10000);
		kb = pinned_kb();
	}
	return kb;
}

static void *anon(size_t size)
{
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

/* The PCI address of the board, e.g. "0000:00:01.0". */
static int pci_addr(char *buf, size_t len)
{
	char path[256], link[256];
	const char *base;
	ssize_t n;

	snprintf(path, sizeof(path), "%s/device", bd()->sys);
	n = readlink(path, link, sizeof(link) - 1);
	if (n < 0)
		return -errno;
	link[n] = 0;
	base = strrchr(link, '/');
	snprintf(buf, len, "%s", base ? base + 1 : link);
	return 0;
}

/* The bus-master bit of the board's PCI command register; -errno. */
static int pci_bus_master(const char *addr)
{
	char path[256];
	uint8_t cmd[2];
	int fd, n;

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/config", addr);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = pread(fd, cmd, sizeof(cmd), 4);	/* PCI_COMMAND */
	close(fd);
	if (n != sizeof(cmd))
		return -EIO;
	return !!(cmd[0] & 0x4);		/* PCI_COMMAND_MASTER */
}

/* The documented way back for a board out of service: a PCI reset. */
static bool board_reset_pci(void)
{
	char path[256];

	sys_attr(path, sizeof(path), "reset");
	return !write_file(path, "1") && sysfs_key("faults", "broken") == 0;
}

/* After a bind: wait until the board's node is back; false after @ms. */
static bool board_back(unsigned int ms)
{
	unsigned int waited = 0;

	for (;;) {
		if (board_find() && !access(dev_path(), R_OK | W_OK))
			return true;
		if (waited >= ms)
			return false;
		sleep_ms(50);
		waited += 50;
	}
}

/* ---- fixtures: an open device with one mapped 64 KiB buffer -------------- */

struct dev_ctx {
	int fd;
	struct drm_spatten_info info;
	uint32_t handle;
	uint64_t mmap_off;
	void *map;
};

static int ctx_open(struct dev_ctx *c)
{
	c->map = MAP_FAILED;
	board_find();
	knobs_default();
	c->fd = open_dev();
	if (c->fd < 0)
		return -errno;
	if (get_info(c->fd, &c->info) ||
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

#define DEV_FIXTURE(name)						\
	FIXTURE(name) {							\
		struct dev_ctx c;					\
		int fd;							\
		struct drm_spatten_info info;				\
		uint32_t handle;					\
		void *map;						\
	};								\
	FIXTURE_SETUP(name)						\
	{								\
		ASSERT_EQ(0, ctx_open(&self->c)) {			\
			TH_LOG("open %s: %s", dev_path(),		\
			       strerror(errno));			\
		}							\
		self->fd = self->c.fd;					\
		self->info = self->c.info;				\
		self->handle = self->c.handle;				\
		self->map = self->c.map;				\
	}								\
	FIXTURE_TEARDOWN(name)						\
	{								\
		ctx_close(&self->c);					\
	}

DEV_FIXTURE(drv)
DEV_FIXTURE(v2)

static bool hw_is_1_1(const struct drm_spatten_info *in)
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
		return DRM_SPATTEN_FEAT_TOKEN_PRUNE;
	case BASE_HEAD:
		return DRM_SPATTEN_FEAT_HEAD_PRUNE;
	case BASE_VALUE:
		return DRM_SPATTEN_FEAT_VALUE_PRUNE;
	case BASE_PROGRESSIVE:
		return DRM_SPATTEN_FEAT_PROGRESSIVE;
	default:
		return 0;
	}
}

static void v2_base_job(struct drm_spatten_job *j, uint32_t h, enum v2_base b)
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
		j->flags |= DRM_SPATTEN_JOB_PROGRESSIVE;
		j->k_fmt = DRM_SPATTEN_FMT_S8;
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

typedef void (*mutate_fn)(struct drm_spatten_job *j, uint32_t h);

FIXTURE_VARIANT(v2) {
	enum v2_base base;
	mutate_fn mutate;
	int err;
};

#define MUT(name, body) \
	static void mut_##name(struct drm_spatten_job *j, uint32_t h) { body; }

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
MUT(progressive_s16_key, j->k_fmt = DRM_SPATTEN_FMT_S16)
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
MUT(packed_k_odd_offset_ok, j->k_fmt = DRM_SPATTEN_FMT_S4; j->k_frac = 3;
    j->k.offset = BO_SIZE - SM_BYTES / 4 - 1)
MUT(packed_k_short_by_one, j->k_fmt = DRM_SPATTEN_FMT_S4; j->k_frac = 3;
    j->k.offset = BO_SIZE - SM_BYTES / 4 + 1)
MUT(packed_v_s12_exact, j->v_fmt = DRM_SPATTEN_FMT_S12; j->v_frac = 8;
    j->v.offset = BO_SIZE - SM_BYTES * 3 / 4)
MUT(packed_v_s12_short, j->v_fmt = DRM_SPATTEN_FMT_S12; j->v_frac = 8;
    j->v.offset = BO_SIZE - SM_BYTES * 3 / 4 + 1)
MUT(s16_q_odd_offset, j->q.offset = 1)
MUT(packed_q, j->q_fmt = DRM_SPATTEN_FMT_S8)
MUT(packed_out, j->out_fmt = DRM_SPATTEN_FMT_S8)
MUT(nop_with_count, j->opcode = DRM_SPATTEN_OP_NOP; memset(j, 0, sizeof(*j));
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
	struct drm_spatten_job j;
	struct drm_spatten_result w;
	uint64_t seqno;
	int ret;

	if (need && (self->info.features & need) != need)
		SKIP(return, "device lacks feature %#x", need);
	if (variant->base == BASE_PROGRESSIVE &&
	    !(self->info.splits & (1u << 8)))
		SKIP(return, "device lacks the 8+4 split");
	if (variant->mutate == mut_packed_k_odd_offset_ok ||
	    variant->mutate == mut_packed_k_short_by_one) {
		if (!(self->info.formats & (1u << DRM_SPATTEN_FMT_S4)))
			SKIP(return, "device lacks S4");
	}
	if (variant->mutate == mut_packed_v_s12_exact ||
	    variant->mutate == mut_packed_v_s12_short) {
		if (!(self->info.formats & (1u << DRM_SPATTEN_FMT_S12)))
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
	if (j.opcode != DRM_SPATTEN_OP_ATTENTION)
		return;
	if (hw_is_1_1(&self->info) || j.version == 1) {
		EXPECT_EQ(DRM_SPATTEN_STATUS_OK, w.status);
	} else {
		EXPECT_EQ(DRM_SPATTEN_STATUS_ERR_VERSION, w.status);
	}
	EXPECT_EQ(0xd00d, w.user_data);
}

/* WAIT reports lsb_refetches (zero unless progressive refetched) */
TEST_F_TIMEOUT(drv, wait_reports_lsb_refetches, T_SHORT)
{
	struct drm_spatten_result w;
	struct drm_spatten_job j;
	uint64_t seqno;

	if (!(self->info.features & DRM_SPATTEN_FEAT_PROGRESSIVE) ||
	    !(self->info.splits & (1u << 8)))
		SKIP(return, "device lacks progressive quantization");
	small_inputs(self->map, 3);
	v2_base_job(&j, self->handle, BASE_PROGRESSIVE);
	j.lsb_threshold = 1u << 15;	/* every row refetches */
	ASSERT_EQ(0, submit(self->fd, &j, 1, &seqno));
	ASSERT_EQ(0, wait_job(self->fd, seqno, WAIT_NS, &w));
	EXPECT_EQ(DRM_SPATTEN_STATUS_OK, w.status);
	EXPECT_EQ(SM_HEADS * SM_ROWS, w.lsb_refetches);
	EXPECT_LT(0, w.bytes_k_lsb);
}

/* ---- INFO, VERSION, the ioctl numbers and sizes ------------------------- */

TEST_F(drv, info_reports_the_drm_uapi_limits)
{
	struct drm_spatten_info info;
	char name[64] = "";
	struct drm_version v = {
		.name_len = sizeof(name) - 1,
		.name = name,
	};

	EXPECT_EQ(DRM_SPATTEN_API_VERSION, self->info.api_version);
	EXPECT_EQ(6, self->info.api_version);
	EXPECT_EQ(DRM_SPATTEN_MAX_SUBMIT, self->info.max_submit);
	EXPECT_EQ(4096, self->info.max_jobs);
	EXPECT_EQ(256ull * MIB, self->info.max_bo_size);
	EXPECT_LT(0, self->info.job_timeout_ms);
	EXPECT_LT(0, self->info.num_queues);
	EXPECT_LT(0, self->info.num_engines);
	EXPECT_EQ(0, self->info.rsvd0);
	EXPECT_EQ(0, self->info.rsvd[0] | self->info.rsvd[1] |
		     self->info.rsvd[2]);
	TH_LOG("%s: hw %#x, %u engines, %u queues x %u, timeout %u ms",
	       bd()->name, self->info.hw_version, self->info.num_engines,
	       self->info.num_queues, self->info.queue_depth,
	       self->info.job_timeout_ms);

	memset(&info, 0, sizeof(info));
	info.flags = 1;
	EXPECT_EQ(-EINVAL, xioctl(self->fd, DRM_IOCTL_SPATTEN_INFO, &info));
	EXPECT_EQ(-EFAULT, xioctl(self->fd, DRM_IOCTL_SPATTEN_INFO, NULL));

	ASSERT_EQ(0, xioctl(self->fd, DRM_IOCTL_VERSION, &v));
	EXPECT_STREQ("spatten", name);
}

/*
 * The DRM core zero-extends a struct shorter than the kernel's (an older
 * userspace) and copies back only as many bytes as the ioctl number says:
 * INFO with a short struct works and writes nothing beyond it.
 */
TEST_F(drv, info_with_a_shorter_struct_works)
{
	const size_t short_size = offsetof(struct drm_spatten_info, max_bo_size);
	const unsigned long req =
		_IOC(_IOC_READ | _IOC_WRITE, DRM_IOCTL_BASE,
		     DRM_COMMAND_BASE + DRM_SPATTEN_INFO, short_size);
	union {
		struct drm_spatten_info info;
		unsigned char raw[sizeof(struct drm_spatten_info) + 16];
	} u;
	size_t i, bad = 0;

	memset(&u, 0xa5, sizeof(u));
	memset(&u, 0, short_size);
	ASSERT_EQ(0, xioctl(self->fd, req, &u));
	EXPECT_EQ(DRM_SPATTEN_API_VERSION, u.info.api_version);
	EXPECT_EQ(self->info.hw_version, u.info.hw_version);
	EXPECT_EQ(self->info.features, u.info.features);
	EXPECT_EQ(self->info.max_submit, u.info.max_submit);
	for (i = short_size; i < sizeof(u.raw); i++)
		bad += u.raw[i] != 0xa5;
	EXPECT_EQ(0, bad) TH_LOG("bytes written beyond the short struct");
}

/* A longer struct (a newer userspace) with a zero tail works too. */
TEST_F(drv, info_with_a_longer_struct_works)
{
	const unsigned long req =
		_IOC(_IOC_READ | _IOC_WRITE, DRM_IOCTL_BASE,
		     DRM_COMMAND_BASE + DRM_SPATTEN_INFO,
		     sizeof(struct drm_spatten_info) + 16);
	union {
		struct drm_spatten_info info;
		unsigned char raw[sizeof(struct drm_spatten_info) + 16];
	} u;

	memset(&u, 0, sizeof(u));
	ASSERT_EQ(0, xioctl(self->fd, req, &u));
	EXPECT_EQ(DRM_SPATTEN_API_VERSION, u.info.api_version);
	EXPECT_EQ(self->info.max_bo_size, u.info.max_bo_size);
}

/* A driver ioctl number the driver does not have: -EINVAL (DRM core). */
TEST_F(drv, unknown_driver_ioctl_einval)
{
	struct drm_spatten_info info;

	memset(&info, 0, sizeof(info));
	EXPECT_EQ(-EINVAL, xioctl(self->fd,
				  DRM_IOWR(DRM_COMMAND_BASE + 0x08,
					   struct drm_spatten_info), &info));
	EXPECT_EQ(-EINVAL, xioctl(self->fd,
				  DRM_IOWR(DRM_COMMAND_BASE + 0x3f,
					   struct drm_spatten_info), &info));
	EXPECT_EQ(-EINVAL, xioctl(self->fd,
				  DRM_IO(DRM_COMMAND_BASE + 0x20), NULL));
}

/* ---- COUNTERS --------------------------------------------------------- */

TEST_F_TIMEOUT(drv, counters_num_13_and_flags_einval, T_SHORT)
{
	struct drm_spatten_counters c0, c1;
	struct drm_spatten_result w;
	struct drm_spatten_job j;
	uint64_t seqno;

	ASSERT_EQ(0, get_counters(self->fd, &c0));
	EXPECT_EQ(DRM_SPATTEN_CNT_NUM, c0.num);
	EXPECT_EQ(13, c0.num);
	EXPECT_EQ(sysfs_key("faults", "resets"),
		  (long long)c0.value[DRM_SPATTEN_CNT_RESETS]);
	EXPECT_EQ(sysfs_key("faults", "timeouts"),
		  (long long)c0.value[DRM_SPATTEN_CNT_TIMEOUTS]);
	EXPECT_EQ(sysfs_key("faults", "irqs_dropped"),
		  (long long)c0.value[DRM_SPATTEN_CNT_IRQS_DROPPED]);
	EXPECT_EQ(0, c0.value[13] | c0.value[14] | c0.value[15]);

	small_inputs(self->map, 6);
	small_job(&j, self->handle);
	ASSERT_EQ(0, submit(self->fd, &j, 1, &seqno));
	ASSERT_EQ(0, wait_job(self->fd, seqno, WAIT_NS, &w));
	ASSERT_EQ(DRM_SPATTEN_STATUS_OK, w.status);
	ASSERT_EQ(0, get_counters(self->fd, &c1));
	EXPECT_LE(c0.value[DRM_SPATTEN_CNT_JOBS_OK] + 1,
		  c1.value[DRM_SPATTEN_CNT_JOBS_OK]);
	EXPECT_LE(c0.value[DRM_SPATTEN_CNT_BYTES_Q] + SM_BYTES,
		  c1.value[DRM_SPATTEN_CNT_BYTES_Q]);

	memset(&c1, 0, sizeof(c1));
	c1.flags = 1;
	EXPECT_EQ(-EINVAL, xioctl(self->fd, DRM_IOCTL_SPATTEN_COUNTERS, &c1));
}

/* ---- BO_CREATE, BO_INFO, GEM_CLOSE ------------------------------------ */

TEST_F(drv, bo_create_and_bo_info)
{
	struct drm_spatten_bo_create c;
	struct drm_spatten_bo_info bi;
	uint64_t off;
	uint32_t h;
	char *m;

	memset(&c, 0, sizeof(c));
	c.size = PAGE;
	c.flags = 1;
	EXPECT_EQ(-EINVAL, xioctl(self->fd, DRM_IOCTL_SPATTEN_BO_CREATE, &c));
	EXPECT_EQ(-EINVAL, bo_create(self->fd, 0, NULL, NULL));
	EXPECT_EQ(-EINVAL, bo_create(self->fd, self->info.max_bo_size + PAGE,
				     NULL, NULL));

	ASSERT_EQ(0, bo_create(self->fd, 3 * PAGE + 5, &h, &off));
	EXPECT_NE(0, h);
	EXPECT_NE(0, off);
	ASSERT_EQ(0, bo_info(self->fd, h, &bi));
	EXPECT_EQ(4 * PAGE, bi.size);
	EXPECT_EQ(off, bi.mmap_offset);
	EXPECT_EQ(DRM_SPATTEN_BO_SHMEM, bi.kind);
	EXPECT_EQ(0, bi.rsvd);
	m = mmap(NULL, 4 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED,
		 self->fd, (off_t)off);
	ASSERT_NE(MAP_FAILED, m);
	EXPECT_FALSE(any_nonzero(m, 4 * PAGE));
	memset(m, 0x11, 4 * PAGE);
	munmap(m, 4 * PAGE);

	memset(&bi, 0, sizeof(bi));
	bi.handle = h;
	bi.flags = 1;
	EXPECT_EQ(-EINVAL, xioctl(self->fd, DRM_IOCTL_SPATTEN_BO_INFO, &bi));
	EXPECT_EQ(-ENOENT, bo_info(self->fd, h + 1000, NULL));
	EXPECT_EQ(-ENOENT, bo_info(self->fd, 0, NULL));

	EXPECT_EQ(0, gem_close(self->fd, h));
	EXPECT_EQ(-EINVAL, gem_close(self->fd, h));
	EXPECT_EQ(-ENOENT, bo_info(self->fd, h, NULL));
	EXPECT_EQ(-EINVAL, gem_close(self->fd, 0xfffff));
}

/* ---- SUBMIT: the header, job_size, seqnos ------------------------------ */

TEST_F_TIMEOUT(drv, submit_header_errors_queue_nothing, T_SHORT)
{
	struct drm_spatten_job j[DRM_SPATTEN_MAX_SUBMIT + 1];
	struct drm_spatten_sync syncs[DRM_SPATTEN_MAX_SYNCS + 1];
	struct drm_spatten_submit s;
	struct drm_spatten_result w;
	struct reap_stats st;
	uint64_t seqno, s2;
	uint32_t so;
	char *m;
	int ret, fd = open_dev();

	ASSERT_LE(0, fd);
	nops(j, DRM_SPATTEN_MAX_SUBMIT + 1);
	/* The first job of a file is seqno 1. */
	ASSERT_EQ(0, submit(fd, j, 1, &seqno));
	EXPECT_EQ(1, seqno);
	ASSERT_EQ(0, wait_job(fd, seqno, WAIT_NS, &w));
	ASSERT_EQ(0, syncobj_create(fd, DRM_SYNCOBJ_CREATE_SIGNALED, &so));
	memset(syncs, 0, sizeof(syncs));
	syncs[0] = sync_bin(so);

#define BAD_SUBMIT(err, field, val) do {				\
		memset(&s, 0, sizeof(s));				\
		s.jobs_ptr = (uintptr_t)j;				\
		s.job_size = JOB_SIZE;					\
		s.count = 1;						\
		s.in_syncs_ptr = (uintptr_t)syncs;			\
		s.out_syncs_ptr = (uintptr_t)syncs;			\
		s.field = val;						\
		ret = xioctl(fd, DRM_IOCTL_SPATTEN_SUBMIT, &s);		\
		EXPECT_EQ(err, ret);					\
		if (ret != err)						\
			TH_LOG("%s = %#llx", #field,			\
			       (unsigned long long)(val));		\
		EXPECT_EQ(0, s.submitted);				\
	} while (0)

	BAD_SUBMIT(-EINVAL, flags, 1u << 1);
	BAD_SUBMIT(-EINVAL, flags, 1u << 31);
	BAD_SUBMIT(-EINVAL, rsvd0, 1);
	BAD_SUBMIT(-EINVAL, rsvd, 1);
	BAD_SUBMIT(-EINVAL, count, 0);
	BAD_SUBMIT(-EINVAL, count, DRM_SPATTEN_MAX_SUBMIT + 1);
	BAD_SUBMIT(-EINVAL, in_sync_count, DRM_SPATTEN_MAX_SYNCS + 1);
	BAD_SUBMIT(-EINVAL, out_sync_count, DRM_SPATTEN_MAX_SYNCS + 1);
	BAD_SUBMIT(-EINVAL, job_size, 0);
	BAD_SUBMIT(-EINVAL, job_size, 4096 + 8);
	BAD_SUBMIT(-EINVAL, job_size, JOB_SIZE - 4);
	BAD_SUBMIT(-EFAULT, jobs_ptr, 16);
	BAD_SUBMIT(-EFAULT, jobs_ptr, 0);
	memset(&s, 0, sizeof(s));
	s.jobs_ptr = (uintptr_t)j;
	s.job_size = JOB_SIZE;
	s.count = 1;
	s.in_sync_count = 1;
	s.in_syncs_ptr = 16;
	EXPECT_EQ(-EFAULT, xioctl(fd, DRM_IOCTL_SPATTEN_SUBMIT, &s));
	s.in_sync_count = 0;
	s.out_sync_count = 1;
	s.out_syncs_ptr = 16;
	EXPECT_EQ(-EFAULT, xioctl(fd, DRM_IOCTL_SPATTEN_SUBMIT, &s));
	/* The jobs array ends in unmapped memory: -EFAULT, nothing queued. */
	m = anon(2 * PAGE);
	ASSERT_NE(NULL, m);
	munmap(m + PAGE, PAGE);
	memcpy(m + PAGE - JOB_SIZE, &j[0], JOB_SIZE);
	EXPECT_EQ(-EFAULT, submit_full(fd, m + PAGE - JOB_SIZE, JOB_SIZE, 2, 0,
				       NULL, 0, NULL, 0, NULL));
	munmap(m, PAGE);
	EXPECT_EQ(-EFAULT, xioctl(fd, DRM_IOCTL_SPATTEN_SUBMIT, NULL));
#undef BAD_SUBMIT

	/* Nothing was queued: the next job is seqno 2, and it is alone. */
	ASSERT_EQ(0, submit(fd, j, DRM_SPATTEN_MAX_SUBMIT, &s2));
	EXPECT_EQ(seqno + 1, s2);
	reap_all(fd, s2, DRM_SPATTEN_MAX_SUBMIT, DRM_SPATTEN_STATUS_OK, WAIT_NS,
		 &st);
	EXPECT_EQ(0, st.err);
	EXPECT_EQ(DRM_SPATTEN_MAX_SUBMIT, st.seen);
	EXPECT_EQ(0, st.dup + st.stray + st.other);
	syncobj_destroy(fd, so);
	close(fd);
}

/*
 * job_size: a shorter job (an older userspace) is zero-extended, a longer
 * one must have zeros beyond the kernel's struct; 8-byte multiples only.
 */
TEST_F_TIMEOUT(drv, submit_job_size_shorter_longer_and_odd, T_SHORT)
{
	const uint32_t shorter = offsetof(struct drm_spatten_job, user_data);
	const uint32_t longer = JOB_SIZE + 32;
	unsigned char buf[2 * (sizeof(struct drm_spatten_job) + 32)];
	uint32_t got = 1, pending = 1;
	struct drm_spatten_result w;
	struct drm_spatten_job j;
	uint64_t seqno;
	int i;

	ASSERT_EQ(0, shorter % 8);
	/* Two NOP jobs packed @shorter bytes apart: both run, user_data 0. */
	memset(buf, 0, sizeof(buf));
	for (i = 0; i < 2; i++) {
		nop_job(&j, 0);
		memcpy(buf + i * shorter, &j, shorter);
	}
	ASSERT_EQ(0, submit_full(self->fd, buf, shorter, 2, 0, NULL, 0, NULL,
				 0, &seqno));
	for (i = 0; i < 2; i++) {
		ASSERT_EQ(0, wait_job(self->fd, seqno + i, WAIT_NS, &w));
		EXPECT_EQ(DRM_SPATTEN_STATUS_OK, w.status);
		EXPECT_EQ(0, w.user_data);
	}

	/* Two attention jobs @longer bytes apart, zero tails: both run. */
	small_inputs(self->map, 12);
	memset(buf, 0, sizeof(buf));
	for (i = 0; i < 2; i++) {
		small_job(&j, self->handle);
		j.user_data = 500 + i;
		memcpy(buf + i * longer, &j, JOB_SIZE);
	}
	ASSERT_EQ(0, submit_full(self->fd, buf, longer, 2, 0, NULL, 0, NULL,
				 0, &seqno));
	for (i = 0; i < 2; i++) {
		ASSERT_EQ(0, wait_job(self->fd, seqno + i, WAIT_NS, &w));
		EXPECT_EQ(DRM_SPATTEN_STATUS_OK, w.status);
		EXPECT_EQ(500 + i, w.user_data);
	}

	/* A non-zero byte beyond the kernel's struct (second job): -E2BIG. */
	buf[longer + JOB_SIZE + 31] = 1;
	EXPECT_EQ(-E2BIG, submit_full(self->fd, buf, longer, 2, 0, NULL, 0,
				      NULL, 0, NULL));
	buf[longer + JOB_SIZE + 31] = 0;
	buf[JOB_SIZE] = 0x80;
	EXPECT_EQ(-E2BIG, submit_full(self->fd, buf, longer, 2, 0, NULL, 0,
				      NULL, 0, NULL));
	buf[JOB_SIZE] = 0;

	/* Not a multiple of 8: -EINVAL, shorter or longer. */
	EXPECT_EQ(-EINVAL, submit_full(self->fd, buf, shorter + 4, 1, 0, NULL,
				       0, NULL, 0, NULL));
	EXPECT_EQ(-EINVAL, submit_full(self->fd, buf, JOB_SIZE + 4, 1, 0,
				       NULL, 0, NULL, 0, NULL));
	EXPECT_EQ(-EINVAL, submit_full(self->fd, buf, 12, 1, 0, NULL, 0, NULL,
				       0, NULL));
	/* Nothing of those is pending. */
	EXPECT_EQ(0, reap(self->fd, &w, 1, 0, 0, &got, &pending));
	EXPECT_EQ(0, got);
	EXPECT_EQ(0, pending);
}

/* ---- WAIT ----------------------------------------------------------------- */

TEST_F_TIMEOUT(drv, wait_flags_rsvd_and_unknown_seqno, T_SHORT)
{
	struct drm_spatten_job j;
	struct drm_spatten_wait w;
	struct drm_spatten_result r;
	uint64_t seqno;

	nop_job(&j, 0);
	ASSERT_EQ(0, submit(self->fd, &j, 1, &seqno));
	memset(&w, 0, sizeof(w));
	w.seqno = seqno;
	w.timeout_ns = now_ns() + WAIT_NS;
	w.flags = 1;
	EXPECT_EQ(-EINVAL, xioctl(self->fd, DRM_IOCTL_SPATTEN_WAIT, &w));
	w.flags = 0;
	w.rsvd = 1;
	EXPECT_EQ(-EINVAL, xioctl(self->fd, DRM_IOCTL_SPATTEN_WAIT, &w));
	/* Never issued: -ENOENT. */
	EXPECT_EQ(-ENOENT, wait_job(self->fd, seqno + 1000, 0, NULL));
	EXPECT_EQ(-ENOENT, wait_job(self->fd, 0, 0, NULL));
	ASSERT_EQ(0, wait_job(self->fd, seqno, WAIT_NS, &r));
	EXPECT_EQ(DRM_SPATTEN_STATUS_OK, r.status);
	EXPECT_EQ(0, r.lsb_refetches);
	EXPECT_EQ(seqno, r.seqno);
	EXPECT_EQ(0, r.rsvd[0] | r.rsvd[1]);
	/* Reaped: -ENOENT. */
	EXPECT_EQ(-ENOENT, wait_job(self->fd, seqno, 0, NULL));
}
/* ---- REAP and poll() ------------------------------------------------------ */

TEST_F_TIMEOUT(drv, reap_returns_every_job_exactly_once, T_LONG)
{
	enum { N = 64, C = 16 };
	struct drm_spatten_job j[N];
	struct drm_spatten_result res[C];
	unsigned char seen[N];
	uint32_t got, pending, total = 0, last_pending = N;
	uint64_t seqno;
	int i, rounds = 0;

	for (i = 0; i < N; i++)
		nop_job(&j[i], 7000 + i);
	ASSERT_EQ(0, submit(self->fd, j, N, &seqno));
	memset(seen, 0, sizeof(seen));
	while (total < N && rounds++ < 4 * N) {
		ASSERT_EQ(0, reap(self->fd, res, C, C, now_ns() + WAIT_NS,
				  &got, &pending));
		ASSERT_LE(1, got);
		ASSERT_GE(C, got);
		for (i = 0; i < (int)got; i++) {
			uint64_t k = res[i].seqno - seqno;

			ASSERT_GT(N, k) TH_LOG("stray seqno %llu",
					       (unsigned long long)res[i].seqno);
			EXPECT_EQ(0, seen[k]) TH_LOG("seqno %llu twice",
					      (unsigned long long)res[i].seqno);
			seen[k] = 1;
			EXPECT_EQ(7000 + k, res[i].user_data);
			EXPECT_EQ(DRM_SPATTEN_STATUS_OK, res[i].status);
		}
		total += got;
		EXPECT_EQ(N - total, pending);
		EXPECT_GT(last_pending, pending);
		last_pending = pending;
	}
	EXPECT_EQ(N, total);
	EXPECT_EQ(0, last_pending);
	/* Reaped jobs are gone for WAIT too. */
	EXPECT_EQ(-ENOENT, wait_job(self->fd, seqno, 0, NULL));
	EXPECT_EQ(-ENOENT, wait_job(self->fd, seqno + N - 1, 0, NULL));
}

/*
 * result_size is the stride: a smaller struct gets its prefix (here only
 * seqno), a larger one the whole result and zeros after it.
 */
TEST_F_TIMEOUT(drv, reap_result_size_sets_the_stride, T_SHORT)
{
	enum { N = 3, BIG = sizeof(struct drm_spatten_result) + 32 };
	unsigned char big[N][BIG];
	struct drm_spatten_job j[N];
	struct drm_spatten_reap r;
	uint64_t small[N + 1], seqno;
	int i, k;

	for (i = 0; i < N; i++)
		nop_job(&j[i], 500 + i);
	ASSERT_EQ(0, submit(self->fd, j, N, &seqno));
	memset(small, 0xa5, sizeof(small));
	memset(&r, 0, sizeof(r));
	r.results_ptr = (uintptr_t)small;
	r.count = N;
	r.min_count = N;
	r.timeout_ns = now_ns() + WAIT_NS;
	r.result_size = sizeof(uint64_t);
	ASSERT_EQ(0, xioctl(self->fd, DRM_IOCTL_SPATTEN_REAP, &r));
	ASSERT_EQ(N, r.reaped);
	/* Completion order: the seqnos of the batch, each once. */
	EXPECT_EQ(3 * seqno + 3, small[0] + small[1] + small[2]);
	for (i = 0; i < N; i++) {
		EXPECT_LE(seqno, small[i]);
		EXPECT_GT(seqno + N, small[i]);
	}
	EXPECT_EQ(0xa5a5a5a5a5a5a5a5ull, small[N]);

	ASSERT_EQ(0, submit(self->fd, j, N, &seqno));
	memset(big, 0xa5, sizeof(big));
	r.results_ptr = (uintptr_t)big;
	r.timeout_ns = now_ns() + WAIT_NS;
	r.result_size = BIG;
	ASSERT_EQ(0, xioctl(self->fd, DRM_IOCTL_SPATTEN_REAP, &r));
	ASSERT_EQ(N, r.reaped);
	for (i = 0; i < N; i++) {
		struct drm_spatten_result res;

		memcpy(&res, big[i], sizeof(res));
		EXPECT_LE(seqno, res.seqno);
		EXPECT_EQ(500 + res.seqno - seqno, res.user_data);
		EXPECT_EQ(DRM_SPATTEN_STATUS_OK, res.status);
		for (k = sizeof(res); k < BIG; k++)
			EXPECT_EQ(0, big[i][k]) TH_LOG("result %d byte %d", i, k);
	}
}

TEST_F_TIMEOUT(drv, reap_argument_errors, T_SHORT)
{
	struct drm_spatten_result res[4];
	struct drm_spatten_reap r;
	struct drm_spatten_job j;
	uint32_t got = 7, pending = 7;
	uint64_t seqno;
	int64_t t0;
	int ret;

#define BAD_REAP(field, val) do {					\
		memset(&r, 0, sizeof(r));				\
		r.results_ptr = (uintptr_t)res;				\
		r.count = 4;						\
		r.min_count = 1;					\
		r.timeout_ns = 0;					\
		r.field = val;						\
		ret = xioctl(self->fd, DRM_IOCTL_SPATTEN_REAP, &r);	\
		EXPECT_EQ(-EINVAL, ret);				\
		if (ret != -EINVAL)					\
			TH_LOG("%s = %lld", #field, (long long)(val));	\
	} while (0)

	BAD_REAP(min_count, 5);
	BAD_REAP(count, 0);
	BAD_REAP(count, DRM_SPATTEN_REAP_MAX + 1);
	BAD_REAP(flags, 1);
	BAD_REAP(result_size, 4);
	BAD_REAP(result_size, 100);
	BAD_REAP(result_size, DRM_SPATTEN_RESULT_SIZE_MAX + 8);
#undef BAD_REAP

	/*
	 * Nothing pending: min_count is capped at the jobs pending, so even
	 * min 1 returns at once with nothing, whatever the deadline.
	 */
	t0 = now_ns();
	EXPECT_EQ(0, reap(self->fd, res, 4, 1, t0 + 10 * NSEC_PER_SEC, &got,
			  &pending));
	EXPECT_EQ(0, got);
	EXPECT_GT(2 * NSEC_PER_SEC, now_ns() - t0);
	/* min 0 never waits and is no error. */
	EXPECT_EQ(0, reap(self->fd, res, 4, 0, 0, &got, &pending));
	EXPECT_EQ(0, got);
	EXPECT_EQ(0, pending);

	/* An unwritable results array: -EFAULT. */
	nop_job(&j, 1);
	ASSERT_EQ(0, submit(self->fd, &j, 1, &seqno));
	sleep_ms(100);
	memset(&r, 0, sizeof(r));
	r.results_ptr = 16;
	r.count = 1;
	r.min_count = 1;
	r.timeout_ns = now_ns() + WAIT_NS;
	EXPECT_EQ(-EFAULT, xioctl(self->fd, DRM_IOCTL_SPATTEN_REAP, &r));
	EXPECT_EQ(-EFAULT, xioctl(self->fd, DRM_IOCTL_SPATTEN_REAP, NULL));
}

TEST_F_TIMEOUT(drv, poll_readable_while_a_done_job_is_unreaped, T_SHORT)
{
	struct pollfd p = { .fd = self->fd, .events = POLLIN | POLLRDNORM };
	struct drm_spatten_result res[4];
	struct drm_spatten_job j[2];
	uint32_t got, pending;
	uint64_t seqno;

	EXPECT_EQ(0, poll(&p, 1, 0));
	nops(j, 2);
	ASSERT_EQ(0, submit(self->fd, j, 2, &seqno));
	ASSERT_EQ(1, poll(&p, 1, 30000));
	EXPECT_TRUE(p.revents & POLLIN);
	EXPECT_TRUE(p.revents & POLLRDNORM);
	EXPECT_FALSE(p.revents & (POLLERR | POLLHUP));
	/* Reap both: not readable any more. */
	ASSERT_EQ(0, reap(self->fd, res, 4, 2, now_ns() + WAIT_NS, &got,
			  &pending));
	EXPECT_EQ(2, got);
	EXPECT_EQ(0, pending);
	p.revents = 0;
	EXPECT_EQ(0, poll(&p, 1, 0));
	/* And readable again after the next one, until WAIT reaps it. */
	ASSERT_EQ(0, submit(self->fd, j, 1, &seqno));
	ASSERT_EQ(1, poll(&p, 1, 30000));
	ASSERT_EQ(0, wait_job(self->fd, seqno, 0, NULL));
	EXPECT_EQ(0, poll(&p, 1, 0));
}

TEST_F_TIMEOUT(drv, epoll_reports_completion, T_SHORT)
{
	struct epoll_event ev = { .events = EPOLLIN }, out;
	struct drm_spatten_job j;
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

TEST_F_TIMEOUT(drv, wait_already_completed_with_past_deadline, T_SHORT)
{
	struct pollfd p = { .fd = self->fd, .events = POLLIN };
	struct drm_spatten_result w;
	struct drm_spatten_job j;
	uint64_t seqno;

	nop_job(&j, 77);
	ASSERT_EQ(0, submit(self->fd, &j, 1, &seqno));
	ASSERT_EQ(1, poll(&p, 1, 30000));
	/* Done already: a deadline in the past still reaps it. */
	ASSERT_EQ(0, wait_abs(self->fd, seqno, 0, &w));
	EXPECT_EQ(DRM_SPATTEN_STATUS_OK, w.status);
	EXPECT_EQ(77, w.user_data);
	EXPECT_EQ(-ENOENT, wait_abs(self->fd, seqno, 0, NULL));
}

TEST_F_TIMEOUT(drv, wait_succeeds_before_deadline, T_SHORT)
{
	struct drm_spatten_result w;
	struct drm_spatten_job j;
	uint64_t seqno;

	small_inputs(self->map, 2);
	small_job(&j, self->handle);
	ASSERT_EQ(0, submit(self->fd, &j, 1, &seqno));
	ASSERT_EQ(0, wait_abs(self->fd, seqno, INT64_MAX, &w));
	EXPECT_EQ(DRM_SPATTEN_STATUS_OK, w.status);
	EXPECT_LT(0, w.cycles);
	EXPECT_LT(0, w.engine_ns);
}

/* Held back by force_timeout: WAIT's deadline passes, the job stays. */
TEST_F_TIMEOUT(drv, wait_times_out_and_job_stays, T_SHORT)
{
	struct drm_spatten_result w;
	struct drm_spatten_job j;
	uint64_t seqno;
	int64_t t0;

	if (!have_debugfs())
		SKIP(return, "no debugfs");
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
	EXPECT_EQ(DRM_SPATTEN_STATUS_TIMEOUT, w.status);
	EXPECT_EQ(-ENOENT, wait_job(self->fd, seqno, 0, NULL));
}

/* ---- the per-file job limit (no back-pressure any more) -------------- */

/* 1000 jobs in batches of 64, none reaped until all are queued. */
TEST_F_TIMEOUT(drv, thousand_unreaped_jobs_all_complete, T_LONG)
{
	enum { N = 1000 };
	struct drm_spatten_job j[DRM_SPATTEN_MAX_SUBMIT];
	struct reap_stats st;
	uint64_t first = 0, seqno;
	uint32_t done = 0;

	nops(j, DRM_SPATTEN_MAX_SUBMIT);
	while (done < N) {
		uint32_t n = N - done < DRM_SPATTEN_MAX_SUBMIT ?
			     N - done : DRM_SPATTEN_MAX_SUBMIT;

		ASSERT_EQ(0, submit(self->fd, j, n, &seqno)) {
			TH_LOG("after %u jobs", done);
		}
		if (!done)
			first = seqno;
		ASSERT_EQ(first + done, seqno);
		done += n;
	}
	reap_all(self->fd, first, N, DRM_SPATTEN_STATUS_OK, 120 * NSEC_PER_SEC,
		 &st);
	EXPECT_EQ(0, st.err);
	EXPECT_EQ(N, st.seen);
	EXPECT_EQ(0, st.dup);
	EXPECT_EQ(0, st.stray);
	EXPECT_EQ(0, st.other) TH_LOG("last status %u", st.last_other);
}

/* More than max_jobs (4096) unreaped jobs in one file: -EBUSY. */
TEST_F_TIMEOUT(drv, over_max_jobs_unreaped_ebusy, T_LONG)
{
	struct drm_spatten_job j[DRM_SPATTEN_MAX_SUBMIT];
	struct drm_spatten_result res[DRM_SPATTEN_MAX_SUBMIT];
	struct reap_stats st;
	uint32_t max = self->info.max_jobs, done = 0, got, pending;
	uint64_t first = 0, seqno;
	int fd2;

	ASSERT_EQ(4096, max);
	nops(j, DRM_SPATTEN_MAX_SUBMIT);
	while (done < max) {
		ASSERT_EQ(0, submit(self->fd, j, DRM_SPATTEN_MAX_SUBMIT,
				    &seqno)) {
			TH_LOG("after %u jobs", done);
		}
		if (!done)
			first = seqno;
		done += DRM_SPATTEN_MAX_SUBMIT;
	}
	EXPECT_EQ(-EBUSY, submit(self->fd, j, 1, NULL));
	/* The limit is per file: another one submits. */
	fd2 = open_dev();
	ASSERT_LE(0, fd2);
	ASSERT_EQ(0, submit(fd2, j, 1, &seqno));
	ASSERT_EQ(0, wait_job(fd2, seqno, WAIT_NS, NULL));
	close(fd2);
	/* Room for 63 after reaping 63: 64 is still all or nothing. */
	ASSERT_EQ(0, reap(self->fd, res, 63, 63, now_ns() + 60 * NSEC_PER_SEC,
			  &got, &pending));
	EXPECT_EQ(63, got);
	EXPECT_EQ(max - 63, pending);
	EXPECT_EQ(-EBUSY, submit(self->fd, j, DRM_SPATTEN_MAX_SUBMIT, NULL));
	ASSERT_EQ(0, submit(self->fd, j, 63, NULL));
	EXPECT_EQ(-EBUSY, submit(self->fd, j, 1, NULL));
	reap_all(self->fd, first, max + 63, DRM_SPATTEN_STATUS_OK,
		 120 * NSEC_PER_SEC, &st);
	EXPECT_EQ(0, st.err);
	EXPECT_EQ(max, st.seen);	/* + the 63 reaped before */
	EXPECT_EQ(0, st.dup + st.stray + st.other);
	ASSERT_EQ(0, submit(self->fd, j, DRM_SPATTEN_MAX_SUBMIT, &seqno));
	reap_all(self->fd, seqno, DRM_SPATTEN_MAX_SUBMIT,
		 DRM_SPATTEN_STATUS_OK, WAIT_NS, &st);
	EXPECT_EQ(DRM_SPATTEN_MAX_SUBMIT, st.seen);
}
/* ---- BO_USERPTR ----------------------------------------------------------- */

TEST_F_TIMEOUT(drv, userptr_runs_a_job_in_user_memory, T_SHORT)
{
	struct drm_spatten_result w;
	struct drm_spatten_bo_info bi;
	struct drm_spatten_job j;
	uint32_t h;
	uint64_t seqno;
	char *mem = anon(BO_SIZE);

	ASSERT_NE(NULL, mem);
	small_inputs(mem, 11);
	small_inputs(self->map, 11);
	ASSERT_EQ(0, bo_userptr(self->fd, mem, BO_SIZE, &h));
	EXPECT_NE(0, h);
	EXPECT_NE(self->handle, h);
	ASSERT_EQ(0, bo_info(self->fd, h, &bi));
	EXPECT_EQ(DRM_SPATTEN_BO_USER, bi.kind);
	EXPECT_EQ(BO_SIZE, bi.size);
	EXPECT_EQ(0, bi.mmap_offset);

	/* The same job in driver memory and in user memory. */
	small_job(&j, self->handle);
	ASSERT_EQ(0, submit(self->fd, &j, 1, &seqno));
	ASSERT_EQ(0, wait_job(self->fd, seqno, WAIT_NS, &w));
	ASSERT_EQ(DRM_SPATTEN_STATUS_OK, w.status);
	small_job(&j, h);
	ASSERT_EQ(0, submit(self->fd, &j, 1, &seqno));
	ASSERT_EQ(0, wait_job(self->fd, seqno, WAIT_NS, &w));
	ASSERT_EQ(DRM_SPATTEN_STATUS_OK, w.status);
	EXPECT_EQ(0, memcmp((char *)self->map + OFF_OUT, mem + OFF_OUT,
			    SM_BYTES));
	/* The device wrote the output into user memory: not all zero. */
	EXPECT_TRUE(any_nonzero(mem + OFF_OUT, SM_BYTES));
	EXPECT_EQ(0, gem_close(self->fd, h));
	munmap(mem, BO_SIZE);
}

TEST_F_TIMEOUT(drv, userptr_64mib_buffer_used_by_a_job, T_LONG)
{
	const size_t size = 64 * MIB;
	struct drm_spatten_result w;
	struct drm_spatten_job j;
	long lck0, lck1;
	uint32_t h;
	uint64_t seqno;
	char *mem = anon(size);

	ASSERT_NE(NULL, mem);
	ASSERT_LE((uint64_t)size, self->info.max_bo_size);
	lck0 = pinned_kb();
	ASSERT_EQ(0, bo_userptr(self->fd, mem, size, &h));
	lck1 = pinned_kb();
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
	ASSERT_EQ(DRM_SPATTEN_STATUS_OK, w.status);

	small_job(&j, self->handle);
	ASSERT_EQ(0, submit(self->fd, &j, 1, &seqno));
	ASSERT_EQ(0, wait_job(self->fd, seqno, WAIT_NS, &w));
	ASSERT_EQ(DRM_SPATTEN_STATUS_OK, w.status);
	EXPECT_EQ(0, memcmp((char *)self->map + OFF_OUT, mem + size - SM_BYTES,
			    SM_BYTES));

	/* One byte past the end: -ERANGE. */
	small_job(&j, h);
	j.out.offset = size - SM_BYTES + 2;
	EXPECT_EQ(-ERANGE, submit(self->fd, &j, 1, &seqno));

	EXPECT_EQ(0, gem_close(self->fd, h));
	EXPECT_EQ(lck0, pinned_kb_after_release(lck0));
	munmap(mem, size);
}

TEST_F(drv, userptr_bad_arguments_einval)
{
	struct drm_spatten_bo_userptr u;
	char *mem = anon(4 * PAGE);

	ASSERT_NE(NULL, mem);
	memset(&u, 0, sizeof(u));
	u.user_ptr = (uintptr_t)mem + 8;	/* unaligned pointer */
	u.size = PAGE;
	EXPECT_EQ(-EINVAL, xioctl(self->fd, DRM_IOCTL_SPATTEN_BO_USERPTR, &u));
	u.user_ptr = (uintptr_t)mem;
	u.size = PAGE + 1;			/* unaligned size */
	EXPECT_EQ(-EINVAL, xioctl(self->fd, DRM_IOCTL_SPATTEN_BO_USERPTR, &u));
	u.size = 0;
	EXPECT_EQ(-EINVAL, xioctl(self->fd, DRM_IOCTL_SPATTEN_BO_USERPTR, &u));
	u.size = self->info.max_bo_size + PAGE;
	EXPECT_EQ(-EINVAL, xioctl(self->fd, DRM_IOCTL_SPATTEN_BO_USERPTR, &u));
	u.size = PAGE;
	u.flags = 1;
	EXPECT_EQ(-EINVAL, xioctl(self->fd, DRM_IOCTL_SPATTEN_BO_USERPTR, &u));
	u.flags = 0;
	EXPECT_EQ(0, xioctl(self->fd, DRM_IOCTL_SPATTEN_BO_USERPTR, &u));
	EXPECT_NE(0, u.handle);
	EXPECT_EQ(-EFAULT, xioctl(self->fd, DRM_IOCTL_SPATTEN_BO_USERPTR,
				  (void *)16));
	munmap(mem, 4 * PAGE);
}

TEST_F(drv, userptr_unmapped_memory_efault)
{
	long lck0 = pinned_kb();
	char *mem = anon(4 * PAGE);

	ASSERT_NE(NULL, mem);
	munmap(mem, 4 * PAGE);
	EXPECT_EQ(-EFAULT, bo_userptr(self->fd, mem, 4 * PAGE, NULL));
	/* A kernel address is never user memory. */
	EXPECT_EQ(-EFAULT, bo_userptr(self->fd, (void *)0xffff888000000000ull,
				      PAGE, NULL));
	EXPECT_EQ(lck0, pinned_kb_after_release(lck0));
}

TEST_F(drv, userptr_partially_mapped_range_unwinds)
{
	long lck0 = pinned_kb();
	char *mem = anon(8 * PAGE);
	uint32_t h;

	ASSERT_NE(NULL, mem);
	memset(mem, 1, 8 * PAGE);
	munmap(mem + 4 * PAGE, 4 * PAGE);	/* a hole in the second half */
	EXPECT_EQ(-EFAULT, bo_userptr(self->fd, mem, 8 * PAGE, NULL));
	/* Nothing stays charged or pinned: the first half works. */
	EXPECT_EQ(lck0, pinned_kb_after_release(lck0));
	ASSERT_EQ(0, bo_userptr(self->fd, mem, 4 * PAGE, &h));
	EXPECT_EQ(lck0 + 16, pinned_kb());
	EXPECT_EQ(0, gem_close(self->fd, h));
	EXPECT_EQ(lck0, pinned_kb_after_release(lck0));
	munmap(mem, 4 * PAGE);
}

TEST_F(drv, userptr_read_only_mapping_efault)
{
	char *mem = mmap(NULL, 4 * PAGE, PROT_READ,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	long lck0 = pinned_kb();

	ASSERT_NE(MAP_FAILED, mem);
	EXPECT_EQ(-EFAULT, bo_userptr(self->fd, mem, 4 * PAGE, NULL));
	EXPECT_EQ(lck0, pinned_kb_after_release(lck0));
	munmap(mem, 4 * PAGE);
}

/* Not mappable through the device (offset 0), not exportable. */
TEST_F(drv, userptr_handle_cannot_be_mmapped_or_exported)
{
	struct drm_spatten_bo_info bi;
	char *mem = anon(4 * PAGE);
	int dmabuf = -1;
	uint32_t h;
	void *m;

	ASSERT_NE(NULL, mem);
	ASSERT_EQ(0, bo_userptr(self->fd, mem, 4 * PAGE, &h));
	ASSERT_EQ(0, bo_info(self->fd, h, &bi));
	EXPECT_EQ(0, bi.mmap_offset);
	m = mmap(NULL, PAGE, PROT_READ, MAP_SHARED, self->fd, 0);
	EXPECT_EQ(MAP_FAILED, m);
	EXPECT_NE(0, prime_export(self->fd, h, &dmabuf));
	if (dmabuf >= 0)
		close(dmabuf);
	munmap(mem, 4 * PAGE);
}

/*
 * A page is in one user-pointer buffer of the board at most: the same
 * memory again, an overlapping range, or the same range from another file
 * is -EBUSY, and nothing stays pinned or charged; once the first buffer is
 * gone the memory works again.
 */
TEST_F(drv, userptr_same_memory_twice_ebusy)
{
	long lck0 = pinned_kb();
	char *mem = anon(8 * PAGE);
	uint32_t h, h2;
	int fd2;

	ASSERT_NE(NULL, mem);
	memset(mem, 3, 8 * PAGE);
	ASSERT_EQ(0, bo_userptr(self->fd, mem, 4 * PAGE, &h));
	EXPECT_EQ(-EBUSY, bo_userptr(self->fd, mem, 4 * PAGE, NULL));
	EXPECT_EQ(-EBUSY, bo_userptr(self->fd, mem + 2 * PAGE, 4 * PAGE, NULL));
	EXPECT_EQ(-EBUSY, bo_userptr(self->fd, mem + 3 * PAGE, PAGE, NULL));
	fd2 = open_dev();
	ASSERT_LE(0, fd2);
	EXPECT_EQ(-EBUSY, bo_userptr(fd2, mem, PAGE, NULL));
	EXPECT_EQ(lck0 + 16, pinned_kb());
	/* The pages next to it are free. */
	ASSERT_EQ(0, bo_userptr(fd2, mem + 4 * PAGE, 4 * PAGE, &h2));
	EXPECT_EQ(0, gem_close(self->fd, h));
	ASSERT_EQ(0, bo_userptr(self->fd, mem, 4 * PAGE, &h));
	EXPECT_EQ(0, gem_close(self->fd, h));
	close(fd2);
	EXPECT_EQ(lck0, pinned_kb_after_release(lck0));
	munmap(mem, 8 * PAGE);
}

/*
 * The mmap of a created buffer is no user memory (device pages, a shared
 * mapping of the device file): refused, -EFAULT or -EOPNOTSUPP, and
 * nothing pinned.
 */
TEST_F(drv, userptr_of_a_bo_mapping_refused)
{
	long lck0 = pinned_kb();
	uint64_t off;
	uint32_t h;
	char *m;
	int ret;

	ASSERT_EQ(0, bo_create(self->fd, 4 * PAGE, &h, &off));
	m = mmap(NULL, 4 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED,
		 self->fd, (off_t)off);
	ASSERT_NE(MAP_FAILED, m);
	memset(m, 1, 4 * PAGE);
	ret = bo_userptr(self->fd, m, 4 * PAGE, NULL);
	EXPECT_TRUE(ret == -EFAULT || ret == -EOPNOTSUPP) {
		TH_LOG("BO_USERPTR of a BO's mapping: %d (%s)", ret,
		       strerror(-ret));
	}
	EXPECT_EQ(lck0, pinned_kb_after_release(lck0));
	munmap(m, 4 * PAGE);
	EXPECT_EQ(0, gem_close(self->fd, h));
}

/* Over RLIMIT_MEMLOCK without CAP_IPC_LOCK: -ENOMEM. */
TEST_F(drv, userptr_over_rlimit_memlock_enomem)
{
	pid_t pid = fork();
	int status;

	ASSERT_LE(0, pid);
	if (pid == 0) {
		struct rlimit rl = { 64 * 1024, 64 * 1024 };
		char *mem = anon(MIB);
		uint32_t h;

		if (!mem || setrlimit(RLIMIT_MEMLOCK, &rl))
			_exit(10);
		/* An unprivileged user has no CAP_IPC_LOCK. */
		if (getuid() == 0 && (setgid(65534) || setuid(65534)))
			_exit(11);
		if (bo_userptr(self->fd, mem, MIB, NULL) != -ENOMEM)
			_exit(12);
		if (bo_userptr(self->fd, mem, 8 * PAGE, &h))
			_exit(13);
		/* The limit counts what is pinned already. */
		if (bo_userptr(self->fd, mem + 8 * PAGE, 16 * PAGE, NULL) !=
		    -ENOMEM)
			_exit(14);
		if (gem_close(self->fd, h))
			_exit(15);
		if (bo_userptr(self->fd, mem + 8 * PAGE, 16 * PAGE, NULL))
			_exit(16);
		_exit(0);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status));
}

/* The buffer outlives its handle and the munmap of its memory. */
TEST_F_TIMEOUT(drv, userptr_closed_while_job_in_flight, T_SHORT)
{
	struct drm_spatten_result w;
	struct drm_spatten_job j;
	uint64_t seqno;
	uint32_t h;
	char *mem = anon(BO_SIZE);

	ASSERT_NE(NULL, mem);
	small_inputs(mem, 1);
	ASSERT_EQ(0, bo_userptr(self->fd, mem, BO_SIZE, &h));
	small_job(&j, h);
	ASSERT_EQ(0, submit(self->fd, &j, 1, &seqno));
	EXPECT_EQ(0, gem_close(self->fd, h));
	munmap(mem, BO_SIZE);
	ASSERT_EQ(0, wait_job(self->fd, seqno, WAIT_NS, &w));
	EXPECT_EQ(DRM_SPATTEN_STATUS_OK, w.status);
}

/* ---- BO_USERPTR: which memory it takes -------------------------------- */

/*
 * A writable directory whose files are not shmem (tmpfs) nor hugetlbfs:
 * SPATTEN_TEST_FILE_DIR, else the first of a few usual places, else a
 * ramfs mounted for the test (*mounted: unmount and remove it after).
 */
static bool nonshmem_dir(char *dir, size_t len, bool *mounted)
{
	static const char *const cands[] = {
		NULL, "/var/tmp", "/tmp", "/root", "/mnt", "/",
	};
	char tmpl[] = "/tmp/spatten-ramfs-XXXXXX";
	unsigned int i;

	*mounted = false;
	for (i = 0; i < N_ELEM(cands); i++) {
		const char *d = i ? cands[i] : getenv("SPATTEN_TEST_FILE_DIR");
		char probe[PATH_MAX];
		struct statfs sf;
		int fd;

		if (!d || !*d || statfs(d, &sf))
			continue;
		if (sf.f_type == TMPFS_MAGIC || sf.f_type == HUGETLBFS_MAGIC ||
		    sf.f_type == PROC_SUPER_MAGIC || sf.f_type == SYSFS_MAGIC)
			continue;
		snprintf(probe, sizeof(probe), "%s/.spatten-probe-XXXXXX", d);
		fd = mkstemp(probe);
		if (fd < 0)
			continue;
		close(fd);
		unlink(probe);
		snprintf(dir, len, "%s", d);
		return true;
	}
	/* ramfs keeps its pages in the page cache, not in shmem. */
	if (!mkdtemp(tmpl))
		return false;
	if (mount("ramfs", tmpl, "ramfs", 0, NULL)) {
		rmdir(tmpl);
		return false;
	}
	*mounted = true;
	snprintf(dir, len, "%s", tmpl);
	return true;
}

static void nonshmem_dir_done(const char *dir, bool mounted)
{
	if (mounted) {
		umount2(dir, MNT_DETACH);
		rmdir(dir);
	}
}

/* A BO_SIZE file in @dir filled with a pattern; unlinked; -1 on error. */
static int pattern_file(const char *dir)
{
	char path[PATH_MAX], buf[PAGE];
	int fd, i;

	snprintf(path, sizeof(path), "%s/spatten-userptr-XXXXXX", dir);
	fd = mkstemp(path);
	if (fd < 0)
		return -1;
	unlink(path);
	memset(buf, 0x3c, sizeof(buf));
	for (i = 0; i < BO_SIZE / PAGE; i++)
		if (write(fd, buf, sizeof(buf)) != sizeof(buf)) {
			close(fd);
			return -1;
		}
	return fd;
}

TEST_F(drv, userptr_shared_file_mapping_eopnotsupp)
{
	char dir[PATH_MAX];
	struct statfs sf;
	bool mounted;
	long lck0 = pinned_kb();
	char *m;
	int fd, ret;

	if (!nonshmem_dir(dir, sizeof(dir), &mounted))
		SKIP(return, "no writable non-shmem filesystem (and no ramfs)");
	statfs(dir, &sf);
	TH_LOG("file on %s (f_type %#lx%s)", dir, (unsigned long)sf.f_type,
	       mounted ? ", ramfs mounted for the test" : "");
	fd = pattern_file(dir);
	ASSERT_LE(0, fd);
	m = mmap(NULL, BO_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	ASSERT_NE(MAP_FAILED, m);
	m[0] = 1;
	ret = bo_userptr(self->fd, m, BO_SIZE, NULL);
	EXPECT_EQ(-EOPNOTSUPP, ret) TH_LOG("got %d (%s)", ret, strerror(-ret));
	EXPECT_EQ(lck0, pinned_kb_after_release(lck0));
	munmap(m, BO_SIZE);
	close(fd);
	nonshmem_dir_done(dir, mounted);
}

/* A private file mapping: pinned for write it becomes anonymous COW pages. */
TEST_F_TIMEOUT(drv, userptr_private_file_mapping_ok, T_SHORT)
{
	char dir[PATH_MAX], buf[PAGE];
	bool mounted = false;
	uint32_t h;
	char *m;
	int fd, i, changed = 0;

	if (!nonshmem_dir(dir, sizeof(dir), &mounted))
		snprintf(dir, sizeof(dir), "/tmp");
	fd = pattern_file(dir);
	ASSERT_LE(0, fd);
	m = mmap(NULL, BO_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	ASSERT_NE(MAP_FAILED, m);
	ASSERT_EQ(0, bo_userptr(self->fd, m, BO_SIZE, &h));
	EXPECT_EQ(0, small_job_in(self->fd, h, m));
	/* The file itself is untouched. */
	for (i = 0; i < BO_SIZE / PAGE; i++) {
		ASSERT_EQ(PAGE, pread(fd, buf, PAGE, (off_t)i * PAGE));
		changed += buf[0] != 0x3c || buf[PAGE - 1] != 0x3c;
	}
	EXPECT_EQ(0, changed);
	EXPECT_EQ(0, gem_close(self->fd, h));
	munmap(m, BO_SIZE);
	close(fd);
	nonshmem_dir_done(dir, mounted);
}

/* memfd is shmem: a shared mapping of it is fine, and shared. */
TEST_F_TIMEOUT(drv, userptr_memfd_shared_mapping_ok, T_SHORT)
{
	char *out = malloc(SM_BYTES);
	uint32_t h;
	char *m;
	int fd = memfd_create("spatten-userptr", MFD_CLOEXEC);

	ASSERT_NE(NULL, out);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, ftruncate(fd, BO_SIZE));
	m = mmap(NULL, BO_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	ASSERT_NE(MAP_FAILED, m);
	ASSERT_EQ(0, bo_userptr(self->fd, m, BO_SIZE, &h));
	EXPECT_EQ(0, small_job_in(self->fd, h, m));
	/* The output is in the file. */
	ASSERT_EQ(SM_BYTES, pread(fd, out, SM_BYTES, OFF_OUT));
	EXPECT_EQ(0, memcmp(out, m + OFF_OUT, SM_BYTES));
	EXPECT_EQ(0, gem_close(self->fd, h));
	munmap(m, BO_SIZE);
	close(fd);
	free(out);
}

TEST_F_TIMEOUT(drv, userptr_anonymous_mapping_ok, T_SHORT)
{
	char *m = mmap(NULL, BO_SIZE, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	uint32_t h;

	ASSERT_NE(MAP_FAILED, m);
	/* Never touched before: the pin faults the pages in. */
	ASSERT_EQ(0, bo_userptr(self->fd, m, BO_SIZE, &h));
	EXPECT_EQ(0, small_job_in(self->fd, h, m));
	EXPECT_EQ(0, gem_close(self->fd, h));
	munmap(m, BO_SIZE);
}

/* hugetlb memory (a 2 MiB page, reserved for the test if need be). */
TEST_F_TIMEOUT(drv, userptr_hugetlb_mapping_ok, T_SHORT)
{
	const size_t huge = 2 * MIB;
	const char *nr = "/proc/sys/vm/nr_hugepages";
	struct drm_spatten_result w;
	struct drm_spatten_job j;
	char buf[32] = "";
	long before = -1;
	uint64_t seqno;
	uint32_t h;
	char *m;

	m = mmap(NULL, huge, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB, -1, 0);
	if (m == MAP_FAILED && read_file(nr, buf, sizeof(buf)) > 0) {
		char v[32];

		before = strtol(buf, NULL, 10);
		snprintf(v, sizeof(v), "%ld", before + 1);
		if (!write_file(nr, v))
			m = mmap(NULL, huge, PROT_READ | PROT_WRITE,
				 MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB,
				 -1, 0);
	}
	if (m == MAP_FAILED) {
		if (before >= 0) {
			snprintf(buf, sizeof(buf), "%ld", before);
			write_file(nr, buf);
		}
		SKIP(return, "no huge page available (%s)", strerror(errno));
	}
	ASSERT_EQ(0, bo_userptr(self->fd, m, huge, &h));
	EXPECT_EQ(0, small_job_in(self->fd, h, m));
	/* Operands in the second half of the huge page. */
	small_inputs(m + MIB, 19);
	small_job(&j, h);
	j.q.offset += MIB;
	j.k.offset += MIB;
	j.v.offset += MIB;
	j.out.offset += MIB;
	ASSERT_EQ(0, submit(self->fd, &j, 1, &seqno));
	ASSERT_EQ(0, wait_job(self->fd, seqno, WAIT_NS, &w));
	EXPECT_EQ(DRM_SPATTEN_STATUS_OK, w.status);
	EXPECT_TRUE(any_nonzero(m + MIB + OFF_OUT, SM_BYTES));
	EXPECT_EQ(0, gem_close(self->fd, h));
	munmap(m, huge);
	if (before >= 0) {
		snprintf(buf, sizeof(buf), "%ld", before);
		write_file(nr, buf);
	}
}
/* ---- PRIME between open files ------------------------------------------- */

/*
 * Export a buffer from file A, import it into file B, write it through A's
 * mapping, run a job in B with it, read the result through A's mapping;
 * then export B's handle and import it into A: A's own handle comes back.
 */
TEST_F_TIMEOUT(drv, prime_share_between_files_runs_a_job, T_SHORT)
{
	struct drm_spatten_result w;
	struct drm_spatten_bo_info bi;
	struct drm_spatten_job j;
	char *out_b = malloc(SM_BYTES);
	int fdb, dmabuf, dmabuf2;
	uint32_t hb, ha2;
	uint64_t seqno;

	ASSERT_NE(NULL, out_b);
	fdb = open_dev();
	ASSERT_LE(0, fdb);
	ASSERT_EQ(0, prime_export(self->fd, self->handle, &dmabuf));
	ASSERT_EQ(0, prime_import(fdb, dmabuf, &hb));
	ASSERT_EQ(0, bo_info(fdb, hb, &bi));
	EXPECT_EQ(BO_SIZE, bi.size);
	/* The same device's own buffer: the same object, not a foreign one. */
	EXPECT_EQ(DRM_SPATTEN_BO_SHMEM, bi.kind);
	EXPECT_NE(0, bi.mmap_offset);

	small_inputs(self->map, 21);
	small_job(&j, hb);
	j.user_data = 0xb0b;
	ASSERT_EQ(0, submit(fdb, &j, 1, &seqno));
	ASSERT_EQ(0, wait_job(fdb, seqno, WAIT_NS, &w));
	ASSERT_EQ(DRM_SPATTEN_STATUS_OK, w.status);
	EXPECT_EQ(0xb0b, w.user_data);
	memcpy(out_b, (char *)self->map + OFF_OUT, SM_BYTES);
	EXPECT_TRUE(any_nonzero(out_b, SM_BYTES));

	/* The same job in A gives the same bytes. */
	memset((char *)self->map + OFF_OUT, 0, SM_BYTES);
	small_job(&j, self->handle);
	ASSERT_EQ(0, submit(self->fd, &j, 1, &seqno));
	ASSERT_EQ(0, wait_job(self->fd, seqno, WAIT_NS, &w));
	ASSERT_EQ(DRM_SPATTEN_STATUS_OK, w.status);
	EXPECT_EQ(0, memcmp(out_b, (char *)self->map + OFF_OUT, SM_BYTES));

	/* And back: B's export imported into A is A's handle. */
	ASSERT_EQ(0, prime_export(fdb, hb, &dmabuf2));
	ASSERT_EQ(0, prime_import(self->fd, dmabuf2, &ha2));
	EXPECT_EQ(self->handle, ha2);
	/* Importing again into B gives B's handle again. */
	ASSERT_EQ(0, prime_import(fdb, dmabuf2, &ha2));
	EXPECT_EQ(hb, ha2);

	EXPECT_EQ(0, gem_close(fdb, hb));
	EXPECT_EQ(-ENOENT, bo_info(fdb, hb, NULL));
	/* A's buffer and mapping are unaffected. */
	EXPECT_EQ(0, memcmp(out_b, (char *)self->map + OFF_OUT, SM_BYTES));
	EXPECT_EQ(0, bo_info(self->fd, self->handle, NULL));
	close(dmabuf);
	close(dmabuf2);
	close(fdb);
	free(out_b);
}

/*
 * mmap of a PRIME-imported handle racing its GEM_CLOSE from another
 * thread, 10000 rounds: no hang, nothing leaks (debugfs objects counts
 * back to where they were).
 */
struct mmap_race {
	pthread_barrier_t start, end;
	int fdb;
	uint32_t handle;
	uint64_t off;
	bool stop;
	unsigned long mapped, refused, bad_data, close_err;
};

#define RACE_MAGIC	0x5eed1234u

static void *race_mapper(void *arg)
{
	struct mmap_race *r = arg;

	for (;;) {
		volatile uint32_t *p;

		pthread_barrier_wait(&r->start);
		if (r->stop)
			break;
		p = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED,
			 r->fdb, (off_t)r->off);
		if (p == MAP_FAILED) {
			r->refused++;
		} else {
			/* The mapping holds the object: the page stays. */
			if (p[0] != RACE_MAGIC)
				r->bad_data++;
			munmap((void *)p, PAGE);
			r->mapped++;
		}
		pthread_barrier_wait(&r->end);
	}
	return NULL;
}

static void *race_closer(void *arg)
{
	struct mmap_race *r = arg;

	for (;;) {
		pthread_barrier_wait(&r->start);
		if (r->stop)
			break;
		if (gem_close(r->fdb, r->handle))
			r->close_err++;
		pthread_barrier_wait(&r->end);
	}
	return NULL;
}

TEST_F_TIMEOUT(drv, prime_import_mmap_races_gem_close, T_HUGE)
{
	enum { ROUNDS = 10000 };
	long long bos0, ctxs0;
	struct mmap_race r;
	pthread_t t1, t2;
	int fda, dmabuf, i, errs = 0;
	uint32_t ha;
	uint64_t offa;
	uint32_t *ma;
	int64_t t0;

	ASSERT_TRUE(objects_quiet());
	bos0 = objects_key("bos");
	ctxs0 = objects_key("ctxs");
	t0 = now_ns();
	memset(&r, 0, sizeof(r));
	fda = open_dev();
	ASSERT_LE(0, fda);
	r.fdb = open_dev();
	ASSERT_LE(0, r.fdb);
	ASSERT_EQ(0, bo_create(fda, 2 * PAGE, &ha, &offa));
	ma = mmap(NULL, 2 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fda,
		  (off_t)offa);
	ASSERT_NE(MAP_FAILED, ma);
	ma[0] = RACE_MAGIC;
	ASSERT_EQ(0, prime_export(fda, ha, &dmabuf));
	ASSERT_EQ(0, pthread_barrier_init(&r.start, NULL, 3));
	ASSERT_EQ(0, pthread_barrier_init(&r.end, NULL, 3));
	ASSERT_EQ(0, pthread_create(&t1, NULL, race_mapper, &r));
	ASSERT_EQ(0, pthread_create(&t2, NULL, race_closer, &r));
	for (i = 0; i < ROUNDS; i++) {
		struct drm_spatten_bo_info bi;

		if (prime_import(r.fdb, dmabuf, &r.handle) ||
		    bo_info(r.fdb, r.handle, &bi)) {
			errs++;
			break;
		}
		r.off = bi.mmap_offset;
		pthread_barrier_wait(&r.start);
		pthread_barrier_wait(&r.end);
	}
	r.stop = true;
	pthread_barrier_wait(&r.start);
	pthread_join(t1, NULL);
	pthread_join(t2, NULL);
	TH_LOG("%d rounds in %.1f s: %lu mapped, %lu refused", i,
	       (now_ns() - t0) / 1e9, r.mapped, r.refused);
	EXPECT_EQ(0, errs) TH_LOG("import or BO_INFO failed in round %d", i);
	EXPECT_EQ(ROUNDS, i);
	EXPECT_EQ(0, r.close_err);
	EXPECT_EQ(0, r.bad_data);
	EXPECT_EQ(ROUNDS, r.mapped + r.refused);
	/* B holds no handle of it any more. */
	EXPECT_EQ(-ENOENT, bo_info(r.fdb, r.handle, NULL));
	EXPECT_EQ(RACE_MAGIC, ma[0]);

	munmap(ma, 2 * PAGE);
	close(dmabuf);
	close(r.fdb);
	close(fda);
	pthread_barrier_destroy(&r.start);
	pthread_barrier_destroy(&r.end);
	if (bos0 < 0) {
		TH_LOG("no %s: leak check skipped", OBJECTS_FILE);
		return;
	}
	/* Freed objects may go a little later (deferred work). */
	EXPECT_GE(bos0, objects_settle("bos", bos0, 10000));
	EXPECT_GE(ctxs0, objects_settle("ctxs", ctxs0, 10000));
}

/* ---- sync objects ----------------------------------------------------- */

/*
 * A job that reads another's output waits for that job's end, not its
 * start: the device's engines run the jobs of one ring side by side. Job 2
 * takes job 1's output as its Q, in the same file, ordered once through a
 * syncobj and once through the buffer's implicit fences only; its output
 * must equal that of the same job run alone afterwards. (Before the fix,
 * drm_sched ignored the file's own fence and job 2 read a stale Q.)
 */
TEST_F_TIMEOUT(drv, dependent_jobs_see_the_finished_output, T_LONG)
{
	uint32_t heads = self->info.max_heads < 8 ? self->info.max_heads : 8;
	uint32_t rows = self->info.max_context < 512 ?
			self->info.max_context : 512;
	uint64_t t = (uint64_t)heads * rows * 64 * 2, off, s1, s2;
	struct drm_spatten_job a, b;
	struct drm_spatten_result w;
	struct drm_spatten_sync out = { 0 }, in = { 0 };
	unsigned char *m, *y1;
	uint32_t h, sync;
	int mode;

	ASSERT_EQ(0, bo_create(self->fd, 5 * t, &h, &off));
	m = mmap(NULL, 5 * t, PROT_READ | PROT_WRITE, MAP_SHARED, self->fd,
		 (off_t)off);
	ASSERT_NE(MAP_FAILED, m);
	y1 = malloc(t);
	ASSERT_NE(NULL, y1);
	fill_s16(m, 3 * t / 2, 77);
	attn_job(&a, h, heads, rows);
	attn_job(&b, h, heads, rows);
	tensor(&b.q, h, 3 * t);
	tensor(&b.out, h, 4 * t);
	ASSERT_EQ(0, syncobj_create(self->fd, 0, &sync));
	out.handle = sync;
	in.handle = sync;
	for (mode = 0; mode < 2; mode++) {
		memset(m + 3 * t, 0, 2 * t);
		ASSERT_EQ(0, submit_full(self->fd, &a, JOB_SIZE, 1, 0, NULL, 0,
					 &out, 1, &s1));
		ASSERT_EQ(0, submit_full(self->fd, &b, JOB_SIZE, 1, 0,
					 mode ? NULL : &in, mode ? 0 : 1,
					 NULL, 0, &s2));
		ASSERT_EQ(0, wait_job(self->fd, s1, WAIT_NS, &w));
		ASSERT_EQ(DRM_SPATTEN_STATUS_OK, w.status);
		ASSERT_EQ(0, wait_job(self->fd, s2, WAIT_NS, &w));
		ASSERT_EQ(DRM_SPATTEN_STATUS_OK, w.status);
		memcpy(y1, m + 4 * t, t);
		/* The reference: job 2 alone, job 1's output long written. */
		memset(m + 4 * t, 0, t);
		ASSERT_EQ(0, submit(self->fd, &b, 1, &s2));
		ASSERT_EQ(0, wait_job(self->fd, s2, WAIT_NS, &w));
		EXPECT_EQ(0, memcmp(y1, m + 4 * t, t)) {
			TH_LOG("%s: job 2 did not see job 1's output",
			       mode ? "implicit fences" : "syncobj");
		}
	}
	free(y1);
	munmap(m, 5 * t);
	EXPECT_EQ(0, gem_close(self->fd, h));
}

/* Job 2 waits for job 1 (S1) and signals S2; SYNCOBJ_WAIT on S2. */
TEST_F_TIMEOUT(drv, syncobj_binary_in_and_out_fences, T_SHORT)
{
	struct drm_spatten_sync out1, in2, out2;
	struct drm_spatten_result w;
	struct drm_spatten_job j;
	uint64_t seq1, seq2;
	uint32_t s1, s2;

	ASSERT_EQ(0, syncobj_create(self->fd, 0, &s1));
	ASSERT_EQ(0, syncobj_create(self->fd, 0, &s2));
	out1 = sync_bin(s1);
	in2 = sync_bin(s1);
	out2 = sync_bin(s2);
	small_inputs(self->map, 31);
	small_job(&j, self->handle);
	j.user_data = 1;
	ASSERT_EQ(0, submit_full(self->fd, &j, JOB_SIZE, 1, 0, NULL, 0,
				 &out1, 1, &seq1));
	j.user_data = 2;
	ASSERT_EQ(0, submit_full(self->fd, &j, JOB_SIZE, 1, 0, &in2, 1,
				 &out2, 1, &seq2));
	EXPECT_EQ(seq1 + 1, seq2);
	EXPECT_EQ(0, syncobj_wait(self->fd, &s2, 1, now_ns() + WAIT_NS,
				  DRM_SYNCOBJ_WAIT_FLAGS_WAIT_ALL));
	EXPECT_EQ(0, syncobj_wait(self->fd, &s1, 1, now_ns() + WAIT_NS,
				  DRM_SYNCOBJ_WAIT_FLAGS_WAIT_ALL));
	ASSERT_EQ(0, wait_job(self->fd, seq1, WAIT_NS, &w));
	EXPECT_EQ(DRM_SPATTEN_STATUS_OK, w.status);
	EXPECT_EQ(1, w.user_data);
	ASSERT_EQ(0, wait_job(self->fd, seq2, WAIT_NS, &w));
	EXPECT_EQ(DRM_SPATTEN_STATUS_OK, w.status);
	EXPECT_EQ(2, w.user_data);
	EXPECT_EQ(0, syncobj_destroy(self->fd, s1));
	EXPECT_EQ(0, syncobj_destroy(self->fd, s2));
}

/* Points 1 and 2 of one timeline syncobj; TIMELINE_WAIT on point 2. */
TEST_F_TIMEOUT(drv, syncobj_timeline_points, T_SHORT)
{
	struct drm_spatten_sync out1, in2, out2;
	struct drm_spatten_result w;
	struct drm_spatten_job j;
	uint64_t seq1, seq2, point = 2, signalled = 0;
	uint32_t tl;

	ASSERT_EQ(0, syncobj_create(self->fd, 0, &tl));
	out1 = sync_tl(tl, 1);
	in2 = sync_tl(tl, 1);
	out2 = sync_tl(tl, 2);
	small_inputs(self->map, 32);
	small_job(&j, self->handle);
	ASSERT_EQ(0, submit_full(self->fd, &j, JOB_SIZE, 1, 0, NULL, 0,
				 &out1, 1, &seq1));
	ASSERT_EQ(0, submit_full(self->fd, &j, JOB_SIZE, 1, 0, &in2, 1,
				 &out2, 1, &seq2));
	EXPECT_EQ(0, syncobj_timeline_wait(self->fd, &tl, &point, 1,
					   now_ns() + WAIT_NS,
					   DRM_SYNCOBJ_WAIT_FLAGS_WAIT_ALL));
	ASSERT_EQ(0, syncobj_query(self->fd, tl, &signalled));
	EXPECT_LE(2, signalled);
	ASSERT_EQ(0, wait_job(self->fd, seq1, WAIT_NS, &w));
	EXPECT_EQ(DRM_SPATTEN_STATUS_OK, w.status);
	ASSERT_EQ(0, wait_job(self->fd, seq2, WAIT_NS, &w));
	EXPECT_EQ(DRM_SPATTEN_STATUS_OK, w.status);
	EXPECT_EQ(0, syncobj_destroy(self->fd, tl));
}

/*
 * S2 exported as a file descriptor before the jobs exist; a child process
 * imports it into its own open file and waits (WAIT_FOR_SUBMIT) while the
 * parent submits.
 */
TEST_F_TIMEOUT(drv, syncobj_fd_waited_in_another_process, T_SHORT)
{
	struct drm_spatten_sync out1, in2, out2;
	struct drm_spatten_result w;
	struct drm_spatten_job j;
	uint64_t seq1, seq2;
	uint32_t s1, s2;
	int sfd, status;
	pid_t pid;

	ASSERT_EQ(0, syncobj_create(self->fd, 0, &s1));
	ASSERT_EQ(0, syncobj_create(self->fd, 0, &s2));
	ASSERT_EQ(0, syncobj_to_fd(self->fd, s2, &sfd));
	ASSERT_LE(0, sfd);
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		int fd = open_dev();
		uint32_t h;

		close(self->fd);
		if (fd < 0)
			_exit(10);
		if (syncobj_from_fd(fd, sfd, &h))
			_exit(11);
		if (syncobj_wait(fd, &h, 1, now_ns() + WAIT_NS,
				 DRM_SYNCOBJ_WAIT_FLAGS_WAIT_ALL |
				 DRM_SYNCOBJ_WAIT_FLAGS_WAIT_FOR_SUBMIT))
			_exit(12);
		_exit(0);
	}
	close(sfd);
	sleep_ms(100);
	out1 = sync_bin(s1);
	in2 = sync_bin(s1);
	out2 = sync_bin(s2);
	small_inputs(self->map, 33);
	small_job(&j, self->handle);
	ASSERT_EQ(0, submit_full(self->fd, &j, JOB_SIZE, 1, 0, NULL, 0,
				 &out1, 1, &seq1));
	ASSERT_EQ(0, submit_full(self->fd, &j, JOB_SIZE, 1, 0, &in2, 1,
				 &out2, 1, &seq2));
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status));
	ASSERT_EQ(0, wait_job(self->fd, seq1, WAIT_NS, &w));
	EXPECT_EQ(DRM_SPATTEN_STATUS_OK, w.status);
	ASSERT_EQ(0, wait_job(self->fd, seq2, WAIT_NS, &w));
	EXPECT_EQ(DRM_SPATTEN_STATUS_OK, w.status);
}

TEST_F_TIMEOUT(drv, syncobj_bad_syncs_rejected, T_SHORT)
{
	struct drm_spatten_sync s[DRM_SPATTEN_MAX_SYNCS + 1];
	struct drm_spatten_result w;
	struct drm_spatten_job j;
	uint32_t sig, empty, tl;
	uint64_t seqno, s2;
	unsigned int i;

	ASSERT_EQ(0, syncobj_create(self->fd, DRM_SYNCOBJ_CREATE_SIGNALED,
				    &sig));
	ASSERT_EQ(0, syncobj_create(self->fd, 0, &empty));
	ASSERT_EQ(0, syncobj_create(self->fd, 0, &tl));
	nop_job(&j, 3);
	/* A signalled binary in-fence is fine. */
	s[0] = sync_bin(sig);
	ASSERT_EQ(0, submit_full(self->fd, &j, JOB_SIZE, 1, 0, s, 1, NULL, 0,
				 &seqno));
	ASSERT_EQ(0, wait_job(self->fd, seqno, WAIT_NS, &w));
	EXPECT_EQ(DRM_SPATTEN_STATUS_OK, w.status);

	/* Unknown handle: -ENOENT, in or out. */
	s[0] = sync_bin(sig + 1000);
	EXPECT_EQ(-ENOENT, submit_full(self->fd, &j, JOB_SIZE, 1, 0, s, 1,
				       NULL, 0, NULL));
	EXPECT_EQ(-ENOENT, submit_full(self->fd, &j, JOB_SIZE, 1, 0, NULL, 0,
				       s, 1, NULL));
	/* Binary with a point: -EINVAL. */
	s[0] = sync_bin(sig);
	s[0].point = 5;
	EXPECT_EQ(-EINVAL, submit_full(self->fd, &j, JOB_SIZE, 1, 0, s, 1,
				       NULL, 0, NULL));
	EXPECT_EQ(-EINVAL, submit_full(self->fd, &j, JOB_SIZE, 1, 0, NULL, 0,
				       s, 1, NULL));
	/* Timeline with point 0: -EINVAL. */
	s[0] = sync_tl(tl, 0);
	EXPECT_EQ(-EINVAL, submit_full(self->fd, &j, JOB_SIZE, 1, 0, s, 1,
				       NULL, 0, NULL));
	EXPECT_EQ(-EINVAL, submit_full(self->fd, &j, JOB_SIZE, 1, 0, NULL, 0,
				       s, 1, NULL));
	/* Unknown sync flags: -EINVAL. */
	s[0] = sync_bin(sig);
	s[0].flags = 1u << 1;
	EXPECT_EQ(-EINVAL, submit_full(self->fd, &j, JOB_SIZE, 1, 0, s, 1,
				       NULL, 0, NULL));
	/* A binary in-fence with no fence: -EINVAL. */
	s[0] = sync_bin(empty);
	EXPECT_EQ(-EINVAL, submit_full(self->fd, &j, JOB_SIZE, 1, 0, s, 1,
				       NULL, 0, NULL));
	/* Too many: -EINVAL. */
	for (i = 0; i < N_ELEM(s); i++)
		s[i] = sync_bin(sig);
	EXPECT_EQ(-EINVAL, submit_full(self->fd, &j, JOB_SIZE, 1, 0, s,
				       DRM_SPATTEN_MAX_SYNCS + 1, NULL, 0,
				       NULL));
	EXPECT_EQ(-EINVAL, submit_full(self->fd, &j, JOB_SIZE, 1, 0, NULL, 0,
				       s, DRM_SPATTEN_MAX_SYNCS + 1, NULL));
	/* The maximum is fine. */
	ASSERT_EQ(0, submit_full(self->fd, &j, JOB_SIZE, 1, 0, s,
				 DRM_SPATTEN_MAX_SYNCS, NULL, 0, &s2));
	/* None of the failures was queued. */
	EXPECT_EQ(seqno + 1, s2);
	ASSERT_EQ(0, wait_job(self->fd, s2, WAIT_NS, &w));
	EXPECT_EQ(DRM_SPATTEN_STATUS_OK, w.status);
	syncobj_destroy(self->fd, sig);
	syncobj_destroy(self->fd, empty);
	syncobj_destroy(self->fd, tl);
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
		struct drm_spatten_job j;
		uint32_t bogus = theirs == self->handle ? theirs + 1 : theirs;
		void *m;

		small_job(&j, self->handle);
		j.out.handle = bogus;
		EXPECT_EQ(-ENOENT, submit(self->fd, &j, 1, NULL));
		EXPECT_EQ(-ENOENT, bo_info(self->fd, bogus, NULL));
		EXPECT_EQ(-EINVAL, gem_close(self->fd, bogus));
		/* Their buffer's mmap offset is not ours to map. */
		m = mmap(NULL, PAGE, PROT_READ, MAP_SHARED, self->fd,
			 (off_t)their_off);
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

/* ---- sysfs ---------------------------------------------------------------- */

TEST_F(drv, sysfs_attributes_match_info_and_are_world_readable)
{
	char buf[4096], path[256];
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

	TH_LOG("board %s: node %s, attributes in %s/device/, debugfs %s",
	       bd()->name, bd()->node, bd()->sys, bd()->dbg);
	for (i = 0; i < N_ELEM(names); i++) {
		sys_attr(path, sizeof(path), names[i]);
		ASSERT_EQ(0, stat(path, &st)) TH_LOG("%s", path);
		EXPECT_EQ(0444, st.st_mode & 0777) TH_LOG("%s", path);
		EXPECT_LT(0, read_file(path, buf, sizeof(buf)));
	}
	sys_attr(path, sizeof(path), "num_queues");
	ASSERT_LT(0, read_file(path, buf, sizeof(buf)));
	EXPECT_EQ(self->info.num_queues, strtoul(buf, NULL, 0));
	sys_attr(path, sizeof(path), "features");
	ASSERT_LT(0, read_file(path, buf, sizeof(buf)));
	EXPECT_EQ(self->info.features, strtoul(buf, NULL, 0));
	sys_attr(path, sizeof(path), "splits");
	ASSERT_LT(0, read_file(path, buf, sizeof(buf)));
	EXPECT_EQ(self->info.splits, strtoul(buf, NULL, 0));
	EXPECT_LE(0, sysfs_key("counters", "jobs_ok"));
	EXPECT_LE(0, sysfs_key("counters", "bytes_meta"));
	EXPECT_LE(0, sysfs_key("faults", "resets"));
	sys_attr(path, sizeof(path), "irq_mode");
	ASSERT_LT(0, read_file(path, buf, sizeof(buf)));
	TH_LOG("interrupt mode: %s", buf);
	if (expect && *expect)
		EXPECT_EQ(0, strncmp(buf, expect, strlen(expect)));
	EXPECT_TRUE(wait_idle(10 * NSEC_PER_SEC)) {
		TH_LOG("jobs queued while idle");
	}
	/* The debugfs knobs of the board are where the contract says. */
	if (!access("/sys/kernel/debug", R_OK) &&
	    !access("/sys/kernel/debug/spatten", F_OK)) {
		static const char *const knobs[] = {
			"timeout_ms", "force_timeout", "drop_irq", "nop_bench",
		};

		for (i = 0; i < N_ELEM(knobs); i++) {
			dbg_file(path, sizeof(path), knobs[i]);
			EXPECT_EQ(0, access(path, F_OK)) TH_LOG("%s", path);
		}
		EXPECT_EQ(0, access(OBJECTS_FILE, R_OK));
	}

	/* Readable by an unprivileged user too. */
	sys_attr(path, sizeof(path), "counters");
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		char b[4096];
		int r;

		if (setgid(65534) || setuid(65534))
			_exit(1);
		r = read_file(path, b, sizeof(b));
		_exit(r < 0 ? 100 - r : 0);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_EQ(0, WEXITSTATUS(status)) {
		TH_LOG("unprivileged read: exit %d (100 + errno)",
		       WEXITSTATUS(status));
	}
}

/* ---- fdinfo --------------------------------------------------------------- */

/* The value of "key:" in an fdinfo text, into @val; false if absent. */
static bool fdinfo_get(const char *text, const char *key, char *val,
		       size_t len)
{
	size_t klen = strlen(key);
	const char *p;

	for (p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
		if (!strncmp(p, key, klen) && p[klen] == ':') {
			const char *v = p + klen + 1;
			size_t n;

			while (*v == ' ' || *v == '\t')
				v++;
			n = strcspn(v, "\n");
			if (n >= len)
				n = len - 1;
			memcpy(val, v, n);
			val[n] = 0;
			return true;
		}
	}
	return false;
}

/* Sum of the drm-engine-<name>: <n> ns lines; -1 if there is none. */
static long long fdinfo_engine_ns(const char *text, char *names, size_t len)
{
	long long total = -1;
	const char *p;

	if (names && len)
		names[0] = 0;
	for (p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
		const char *colon = strchr(p, ':');
		unsigned long long v;
		char unit[8];

		if (strncmp(p, "drm-engine-", 11) ||
		    !strncmp(p, "drm-engine-capacity-", 20) || !colon)
			continue;
		if (sscanf(colon + 1, "%llu %7s", &v, unit) != 2 ||
		    strcmp(unit, "ns"))
			continue;
		total = (total < 0 ? 0 : total) + (long long)v;
		if (names && strlen(names) + (size_t)(colon - p) + 2 < len)
			strncat(names, p, (size_t)(colon - p)),
			strcat(names, " ");
	}
	return total;
}

static int read_fdinfo(int fd, char *buf, size_t len)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	return read_file(path, buf, len);
}

TEST_F_TIMEOUT(drv, fdinfo_reports_driver_client_engine_time_and_memory,
	       T_SHORT)
{
	static char text[16384], text2[16384];
	char val[128], id2[128], names[256];
	struct drm_spatten_result w;
	struct drm_spatten_job j;
	long long e0, e1 = -1;
	uint64_t seqno;
	int64_t end;
	int fd2, i;
	const char *p;

	ASSERT_LT(0, read_fdinfo(self->fd, text, sizeof(text)));
	ASSERT_TRUE(fdinfo_get(text, "drm-driver", val, sizeof(val))) {
		TH_LOG("no drm-driver key in:\n%s", text);
	}
	EXPECT_STREQ("spatten", val);
	ASSERT_TRUE(fdinfo_get(text, "drm-client-id", val, sizeof(val)));
	/* Each open file is its own client. */
	fd2 = open_dev();
	ASSERT_LE(0, fd2);
	ASSERT_LT(0, read_fdinfo(fd2, text2, sizeof(text2)));
	ASSERT_TRUE(fdinfo_get(text2, "drm-client-id", id2, sizeof(id2)));
	EXPECT_STRNE(val, id2);
	close(fd2);

	e0 = fdinfo_engine_ns(text, names, sizeof(names));
	ASSERT_LE(0, e0) TH_LOG("no drm-engine-<name>: <n> ns line in:\n%s",
				text);
	TH_LOG("engines: %s(%lld ns)", names, e0);
	/* Its capacity: the board's engines, which run side by side. */
	ASSERT_TRUE(fdinfo_get(text, "drm-engine-capacity-attention", val,
			       sizeof(val)));
	EXPECT_EQ(self->info.num_engines, strtoul(val, NULL, 10));
	/* Memory: drm-total-memory (DRM core's helper) or drm-memory-*. */
	p = strstr(text, "drm-total-memory:");
	if (!p)
		p = strstr(text, "drm-memory-");
	EXPECT_NE(NULL, p) TH_LOG("no memory line in:\n%s", text);

	small_inputs(self->map, 41);
	small_job(&j, self->handle);
	for (i = 0; i < 4; i++) {
		ASSERT_EQ(0, submit(self->fd, &j, 1, &seqno));
		ASSERT_EQ(0, wait_job(self->fd, seqno, WAIT_NS, &w));
		ASSERT_EQ(DRM_SPATTEN_STATUS_OK, w.status);
	}
	/* Accounted at completion; allow the driver a moment. */
	end = now_ns() + 3 * NSEC_PER_SEC;
	do {
		ASSERT_LT(0, read_fdinfo(self->fd, text, sizeof(text)));
		e1 = fdinfo_engine_ns(text, NULL, 0);
		if (e1 > e0)
			break;
		sleep_ms(50);
	} while (now_ns() < end);
	EXPECT_LT(e0, e1) TH_LOG("engine time did not grow:\n%s", text);
}

/* ---- memory accounting (cgroup v2) -------------------------------------- */

#define CG_ROOT		"/sys/fs/cgroup"

static long long cg_read_ll(const char *dir, const char *file)
{
	char path[PATH_MAX], buf[64];

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	if (read_file(path, buf, sizeof(buf)) < 0)
		return -1;
	return strtoll(buf, NULL, 10);
}

/*
 * 64 MiB of buffers created and touched through their mappings by a process
 * in a child memory cgroup are charged to it (>= 48 MiB of memory.current).
 */
TEST_F_TIMEOUT(drv, bo_memory_is_charged_to_the_memory_cgroup, T_LONG)
{
	char buf[512], cg[128], path[PATH_MAX];
	long long vals[2] = { -1, -1 };
	bool mounted = false;
	struct statfs sf;
	int pfd[2], status, i;
	pid_t pid;

	if (statfs(CG_ROOT, &sf))
		SKIP(return, "no %s", CG_ROOT);
	if (sf.f_type != CGROUP2_SUPER_MAGIC) {
		if (mount("cgroup2", CG_ROOT, "cgroup2", 0, NULL))
			SKIP(return, "cannot mount cgroup2 on %s: %s", CG_ROOT,
			     strerror(errno));
		mounted = true;
	}
	if (read_file(CG_ROOT "/cgroup.controllers", buf, sizeof(buf)) < 0 ||
	    !strstr(buf, "memory") ||
	    (write_file(CG_ROOT "/cgroup.subtree_control", "+memory") &&
	     (read_file(CG_ROOT "/cgroup.subtree_control", buf,
			sizeof(buf)) < 0 || !strstr(buf, "memory")))) {
		if (mounted)
			umount2(CG_ROOT, MNT_DETACH);
		SKIP(return, "no memory controller in cgroup2");
	}
	snprintf(cg, sizeof(cg), CG_ROOT "/spatten-test-%d", (int)getpid());
	ASSERT_EQ(0, mkdir(cg, 0755));
	ASSERT_LE(0, cg_read_ll(cg, "memory.current"));
	ASSERT_EQ(0, pipe(pfd));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		long long v[2];
		uint32_t h;
		uint64_t off;
		char *m;
		int fd;

		close(self->fd);
		snprintf(path, sizeof(path), "%s/cgroup.procs", cg);
		if (write_file(path, "0"))
			_exit(10);
		fd = open_dev();
		if (fd < 0)
			_exit(11);
		v[0] = cg_read_ll(cg, "memory.current");
		for (i = 0; i < 4; i++) {
			if (bo_create(fd, 16 * MIB, &h, &off))
				_exit(12);
			m = mmap(NULL, 16 * MIB, PROT_READ | PROT_WRITE,
				 MAP_SHARED, fd, (off_t)off);
			if (m == MAP_FAILED)
				_exit(13);
			memset(m, 0x42, 16 * MIB);
		}
		v[1] = cg_read_ll(cg, "memory.current");
		if (write(pfd[1], v, sizeof(v)) != sizeof(v))
			_exit(14);
		_exit(0);
	}
	close(pfd[1]);
	EXPECT_EQ(sizeof(vals), read(pfd[0], vals, sizeof(vals)));
	close(pfd[0]);
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status));
	TH_LOG("memory.current of the cgroup: %lld -> %lld (+%lld KiB)",
	       vals[0], vals[1], (vals[1] - vals[0]) / 1024);
	EXPECT_LE(48ll * MIB, vals[1] - vals[0]);
	for (i = 0; i < 50 && rmdir(cg); i++)
		sleep_ms(100);
	if (mounted)
		umount2(CG_ROOT, MNT_DETACH);
}

/* ---- faults --------------------------------------------------------------- */

/* Forced timeout with several jobs on the device: each fails exactly once. */
TEST_F_TIMEOUT(drv, forced_timeout_resets_and_fails_every_job_once, T_LONG)
{
	enum { N = 12 };
	struct drm_spatten_job j[N];
	struct drm_spatten_result w;
	long long resets0, timeouts0;
	uint64_t seqno, s2;
	int i, n_timeout = 0, n_abort = 0, n_cancel = 0, fd2;

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
		if (w.status == DRM_SPATTEN_STATUS_TIMEOUT)
			n_timeout++;
		else if (w.status == DRM_SPATTEN_STATUS_ABORTED)
			n_abort++;
		else if (w.status == DRM_SPATTEN_STATUS_CANCELED)
			n_cancel++;
		else
			TH_LOG("job %d: status %u", i, w.status);
	}
	for (i = 0; i < N; i++)
		EXPECT_EQ(-ENOENT, wait_job(self->fd, seqno + i, 0, NULL));
	TH_LOG("%d timed out, %d aborted, %d canceled", n_timeout, n_abort,
	       n_cancel);
	EXPECT_EQ(N, n_timeout + n_abort + n_cancel);
	EXPECT_LE(1, n_timeout);
	EXPECT_EQ(resets0 + 1, sysfs_key("faults", "resets"));
	EXPECT_EQ(timeouts0 + n_timeout, sysfs_key("faults", "timeouts"));
	EXPECT_EQ(0, knob_get("force_timeout"));

	/* This file is banned; a new one works. */
	EXPECT_EQ(-ECANCELED, submit(self->fd, j, 1, NULL));
	fd2 = open_dev();
	ASSERT_LE(0, fd2);
	nop_job(&j[0], 1);
	ASSERT_EQ(0, submit(fd2, j, 1, &s2));
	ASSERT_EQ(0, wait_job(fd2, s2, WAIT_NS, &w));
	EXPECT_EQ(DRM_SPATTEN_STATUS_OK, w.status);
	close(fd2);
	/* The scheduler frees a job just after WAIT saw it complete. */
	EXPECT_TRUE(wait_idle(10 * NSEC_PER_SEC));
}

/*
 * A hang bans the guilty file only: its job TIMEOUT, later SUBMITs
 * -ECANCELED; a job of another file that was on the device at the reset is
 * ABORTED (or had completed OK before), and that file keeps working.
 */
TEST_F_TIMEOUT(drv, hang_bans_the_guilty_file_only, T_LONG)
{
	struct drm_spatten_result w;
	struct drm_spatten_job j;
	long long resets0;
	uint64_t sa, sb, off_b;
	uint32_t hb;
	char *map_b;
	int fdb;

	if (!have_debugfs())
		SKIP(return, "no debugfs");
	resets0 = sysfs_key("faults", "resets");
	fdb = open_dev();
	ASSERT_LE(0, fdb);
	ASSERT_EQ(0, bo_create(fdb, BO_SIZE, &hb, &off_b));
	map_b = mmap(NULL, BO_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fdb,
		     (off_t)off_b);
	ASSERT_NE(MAP_FAILED, map_b);
	small_inputs(map_b, 51);

	ASSERT_EQ(0, knob_set("timeout_ms", 2000));
	ASSERT_EQ(0, knob_set("force_timeout", 1));
	/* A's job hangs... */
	nop_job(&j, 0xa);
	ASSERT_EQ(0, submit(self->fd, &j, 1, &sa));
	/* ...B's is on the device 1 s later, well before its own timeout. */
	sleep_ms(1000);
	small_job(&j, hb);
	j.user_data = 0xb;
	ASSERT_EQ(0, submit(fdb, &j, 1, &sb));

	ASSERT_EQ(0, wait_job(self->fd, sa, WAIT_NS, &w));
	EXPECT_EQ(DRM_SPATTEN_STATUS_TIMEOUT, w.status);
	EXPECT_EQ(0xa, w.user_data);
	ASSERT_EQ(0, wait_job(fdb, sb, WAIT_NS, &w));
	EXPECT_TRUE(w.status == DRM_SPATTEN_STATUS_ABORTED ||
		    w.status == DRM_SPATTEN_STATUS_OK) {
		TH_LOG("innocent job: status %u", w.status);
	}
	TH_LOG("innocent job: status %u", w.status);
	EXPECT_EQ(resets0 + 1, sysfs_key("faults", "resets"));

	/* A is banned for good; B is not. */
	nop_job(&j, 1);
	EXPECT_EQ(-ECANCELED, submit(self->fd, &j, 1, NULL));
	EXPECT_EQ(-ECANCELED, submit(self->fd, &j, 1, NULL));
	small_job(&j, hb);
	ASSERT_EQ(0, submit(fdb, &j, 1, &sb));
	ASSERT_EQ(0, wait_job(fdb, sb, WAIT_NS, &w));
	EXPECT_EQ(DRM_SPATTEN_STATUS_OK, w.status);
	EXPECT_TRUE(any_nonzero(map_b + OFF_OUT, SM_BYTES));
	munmap(map_b, BO_SIZE);
	close(fdb);
}

/*
 * Other jobs keep reaching the rings while one hangs: the hang is still
 * found one timeout after it went on the ring. (drm_sched on 6.12 restarts
 * a scheduler's timer at every job it runs; before the driver checked the
 * head of the ring at each push, a stream of jobs kept the hang alive
 * until the stream stopped.) Each job of the stream comes from a new file,
 * so drm_sched spreads them over the rings by load (a file whose last job
 * has not finished stays on its ring). They get no doorbell either, so
 * whichever job is found first is the guilty one: the hung job ends with
 * TIMEOUT or ABORTED.
 */
TEST_F_TIMEOUT(drv, hang_times_out_under_steady_traffic, T_LONG)
{
	enum { TIMEOUT_MS = 1000, STREAM_MS = 5000, EVERY_MS = 200 };
	struct drm_spatten_result w;
	struct drm_spatten_job j;
	int64_t t0, t_done = 0;
	uint64_t sa;
	int fdb, ret;

	if (!have_debugfs())
		SKIP(return, "no debugfs");
	ASSERT_EQ(0, knob_set("timeout_ms", TIMEOUT_MS));
	ASSERT_EQ(0, knob_set("force_timeout", 1));
	nop_job(&j, 0xa);
	t0 = now_ns();
	ASSERT_EQ(0, submit(self->fd, &j, 1, &sa));
	while (now_ns() - t0 < STREAM_MS * NSEC_PER_MSEC) {
		fdb = open_dev();
		ASSERT_LE(0, fdb);
		nop_job(&j, 0xb);
		ret = submit(fdb, &j, 1, NULL);
		close(fdb);
		ASSERT_EQ(0, ret);
		sleep_ms(EVERY_MS);
		if (!wait_abs(self->fd, sa, 0, &w)) {
			t_done = now_ns();
			break;
		}
	}
	if (!t_done) {
		ret = wait_job(self->fd, sa, WAIT_NS, &w);
		ASSERT_EQ(0, ret);
		t_done = now_ns();
	}
	EXPECT_TRUE(w.status == DRM_SPATTEN_STATUS_TIMEOUT ||
		    w.status == DRM_SPATTEN_STATUS_ABORTED) {
		TH_LOG("status %u", w.status);
	}
	TH_LOG("hung job done after %lld ms (timeout %d ms, jobs every %d ms)",
	       (long long)((t_done - t0) / NSEC_PER_MSEC), TIMEOUT_MS,
	       EVERY_MS);
	EXPECT_GT(3 * TIMEOUT_MS * NSEC_PER_MSEC, t_done - t0);
}

/* A sync file's status of a job's out-fence: 1, or the job's error. */
static int out_fence_status(int fd, uint32_t syncobj)
{
	struct drm_syncobj_handle h = {
		.handle = syncobj,
		.flags = DRM_SYNCOBJ_HANDLE_TO_FD_FLAGS_EXPORT_SYNC_FILE,
		.fd = -1,
	};
	struct sync_fence_info fi = { 0 };
	struct sync_file_info info = { 0 };
	int ret;

	if (xioctl(fd, DRM_IOCTL_SYNCOBJ_HANDLE_TO_FD, &h))
		return INT_MIN;
	info.num_fences = 1;
	info.sync_fence_info = (uintptr_t)&fi;
	ret = ioctl(h.fd, SYNC_IOC_FILE_INFO, &info);
	close(h.fd);
	return ret ? INT_MIN : fi.status;
}

/*
 * What other drivers and processes see of a job's end through its
 * out-fence: signalled with no error, or -ETIMEDOUT for the job that hung
 * (-ECANCELED for innocent jobs aborted by a reset, -EIO for device
 * errors). Before, the hardware fence said -EIO for all, which 6.12
 * copied over the scheduler's fence.
 */
TEST_F_TIMEOUT(drv, out_fences_carry_how_the_job_ended, T_LONG)
{
	struct drm_spatten_result w;
	struct drm_spatten_sync out;
	struct drm_spatten_job j;
	uint32_t ok_so, hung_so;
	uint64_t s_ok, s_hung;

	if (!have_debugfs())
		SKIP(return, "no debugfs");
	ASSERT_EQ(0, syncobj_create(self->fd, 0, &ok_so));
	ASSERT_EQ(0, syncobj_create(self->fd, 0, &hung_so));
	nop_job(&j, 1);
	out = sync_bin(ok_so);
	ASSERT_EQ(0, submit_full(self->fd, &j, JOB_SIZE, 1, 0, NULL, 0, &out,
				 1, &s_ok));
	ASSERT_EQ(0, wait_job(self->fd, s_ok, WAIT_NS, &w));
	EXPECT_EQ(1, out_fence_status(self->fd, ok_so));

	ASSERT_EQ(0, knob_set("timeout_ms", 1000));
	ASSERT_EQ(0, knob_set("force_timeout", 1));
	out = sync_bin(hung_so);
	ASSERT_EQ(0, submit_full(self->fd, &j, JOB_SIZE, 1, 0, NULL, 0, &out,
				 1, &s_hung));
	ASSERT_EQ(0, wait_job(self->fd, s_hung, WAIT_NS, &w));
	EXPECT_EQ(DRM_SPATTEN_STATUS_TIMEOUT, w.status);
	EXPECT_EQ(-ETIMEDOUT, out_fence_status(self->fd, hung_so));
}

/* The jobs of a banned file still queued when it was banned: CANCELED. */
TEST_F_TIMEOUT(drv, hang_cancels_the_guilty_files_queued_jobs, T_LONG)
{
	enum { N = 8 };
	struct drm_spatten_job j[N];
	struct drm_spatten_result w;
	uint64_t seqno;
	int i, n_timeout = 0, n_other = 0;

	if (!have_debugfs())
		SKIP(return, "no debugfs");
	ASSERT_EQ(0, knob_set("timeout_ms", 1000));
	ASSERT_EQ(0, knob_set("force_timeout", 1));
	nops(j, N);
	ASSERT_EQ(0, submit(self->fd, j, N, &seqno));
	for (i = 0; i < N; i++) {
		ASSERT_EQ(0, wait_job(self->fd, seqno + i, WAIT_NS, &w));
		if (w.status == DRM_SPATTEN_STATUS_TIMEOUT)
			n_timeout++;
		else if (w.status != DRM_SPATTEN_STATUS_CANCELED &&
			 w.status != DRM_SPATTEN_STATUS_ABORTED)
			n_other++;
	}
	EXPECT_LE(1, n_timeout);
	EXPECT_EQ(0, n_other);
	EXPECT_EQ(-ECANCELED, submit(self->fd, j, 1, NULL));
}

/* A hang leaves a devcoredump; writing to its data dismisses it. */
TEST_F_TIMEOUT(drv, hang_writes_a_devcoredump, T_LONG)
{
	static char chunk[65536];
	char buf[256], path[PATH_MAX], found[300] = "";
	struct drm_spatten_result w;
	struct drm_spatten_job j;
	struct dirent **ents;
	long long total = 0;
	uint64_t seqno;
	int64_t end;
	int n, i, fd;
	ssize_t r;

	if (!have_debugfs())
		SKIP(return, "no debugfs");
	if (access(DEVCD_DIR, F_OK))
		SKIP(return, "%s does not exist (no CONFIG_DEV_COREDUMP)",
		     DEVCD_DIR);
	if (read_file(DEVCD_DIR "/disabled", buf, sizeof(buf)) > 0 &&
	    buf[0] == '1')
		SKIP(return, "devcoredumps are disabled");
	devcd_dismiss_all();
	sleep_ms(200);
	ASSERT_EQ(0, knob_set("timeout_ms", 1000));
	ASSERT_EQ(0, knob_set("force_timeout", 1));
	nop_job(&j, 0);
	ASSERT_EQ(0, submit(self->fd, &j, 1, &seqno));
	ASSERT_EQ(0, wait_job(self->fd, seqno, WAIT_NS, &w));
	EXPECT_EQ(DRM_SPATTEN_STATUS_TIMEOUT, w.status);

	end = now_ns() + 10 * NSEC_PER_SEC;
	while (!found[0] && now_ns() < end) {
		n = scandir(DEVCD_DIR, &ents, NULL, alphasort);
		for (i = 0; i < n; i++) {
			if (!found[0] && !strncmp(ents[i]->d_name, "devcd", 5))
				snprintf(found, sizeof(found), "%s",
					 ents[i]->d_name);
			free(ents[i]);
		}
		if (n >= 0)
			free(ents);
		if (!found[0])
			sleep_ms(100);
	}
	ASSERT_NE(0, found[0]) TH_LOG("no devcd* under %s", DEVCD_DIR);
	snprintf(path, sizeof(path), DEVCD_DIR "/%s/failing_device", found);
	r = readlink(path, buf, sizeof(buf) - 1);
	if (r > 0) {
		buf[r] = 0;
		TH_LOG("%s: failing device %s", found, buf);
	}
	snprintf(path, sizeof(path), DEVCD_DIR "/%s/data", found);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	ASSERT_LE(0, fd);
	while ((r = read(fd, chunk, sizeof(chunk))) > 0 && total < 256ll * MIB)
		total += r;
	EXPECT_LE(0, r);
	close(fd);
	TH_LOG("%s: %lld bytes", found, total);
	EXPECT_LT(0, total);
	/* spatten-info shows it with the board (when the image has it). */
	if (!access("/bin/spatten-info", X_OK)) {
		char out[16384];
		FILE *pf = popen("/bin/spatten-info 2>&1", "r");
		size_t got = 0;

		ASSERT_NE(NULL, pf);
		while (got < sizeof(out) - 1 &&
		       (r = fread(out + got, 1, sizeof(out) - 1 - got, pf)) > 0)
			got += r;
		out[got] = 0;
		pclose(pf);
		EXPECT_NE(NULL, strstr(out, path)) TH_LOG("spatten-info:\n%s", out);
		EXPECT_NE(NULL, strstr(out, "reason: job timeout"));
	}
	/* Writing anything dismisses it. */
	ASSERT_EQ(0, write_file(path, "1"));
	snprintf(path, sizeof(path), DEVCD_DIR "/%s", found);
	end = now_ns() + 5 * NSEC_PER_SEC;
	while (!access(path, F_OK) && now_ns() < end)
		sleep_ms(50);
	EXPECT_NE(0, access(path, F_OK)) TH_LOG("%s still there", path);
}

/*
 * debugfs inject_reset_stuck exists (unsafe_fault_injection=1) and the
 * device has the FAULT register (arming it reads back; disarmed again).
 */
static bool have_reset_stuck(void)
{
	char path[256];
	bool ok;

	dbg_file(path, sizeof(path), "inject_reset_stuck");
	if (access(path, W_OK) || knob_set("inject_reset_stuck", 1))
		return false;
	ok = knob_get("inject_reset_stuck") == 1;
	knob_set("inject_reset_stuck", 0);
	return ok;
}

/* A thread blocked in WAIT (no deadline) or poll() (no timeout). */
struct blocked_call {
	int fd;
	uint64_t seqno;		/* WAIT; 0: poll() */
	struct drm_spatten_result res;
	short revents;
	int ret;
	int done;
};

static void *blocked_caller(void *arg)
{
	struct blocked_call *c = arg;
	struct pollfd p = { .fd = c->fd, .events = POLLIN };

	if (c->seqno) {
		c->ret = wait_abs(c->fd, c->seqno, INT64_MAX, &c->res);
	} else {
		c->ret = poll(&p, 1, -1);
		c->revents = p.revents;
	}
	__atomic_store_n(&c->done, 1, __ATOMIC_RELEASE);
	return NULL;
}

static bool wait_flag(int *flag, int64_t rel_ns);

/*
 * A hang whose recovery fails: the device stays in reset (the device's
 * FAULT.RESET_STUCK, debugfs inject_reset_stuck). Two files hold buffers
 * (a shmem BO in A, a user-pointer BO in B) with jobs in flight, and
 * waiters: a thread in WAIT without a deadline, one in poll() without a
 * timeout, sync-object waits on the out-fences. The board goes out of
 * service: bus mastering off, every job completes once with an error,
 * every waiter returns, the buffers keep their data, SUBMIT fails -EIO.
 * A PCI function reset brings the board back (docs/driver.md).
 */
TEST_F_TIMEOUT(drv, hang_with_reset_stuck_goes_out_of_service_then_pci_reset,
	       T_LONG)
{
	enum { N = 3 };
	struct blocked_call wt = { 0 }, pt = { 0 };
	struct drm_spatten_result w;
	struct drm_spatten_job ja[N], jb[N];
	struct drm_spatten_sync oa, ob;
	struct reap_stats st;
	char addr[64], path[256];
	char *ub, *copy_a, *copy_b;
	uint32_t hub, sa, sb, both[2];
	uint64_t seq_a, seq_b, s2;
	long long resets0;
	pthread_t tw, tp;
	int i, fdb, fd2;

	if (!have_debugfs())
		SKIP(return, "no debugfs");
	if (!have_reset_stuck())
		SKIP(return, "no inject_reset_stuck, or a device without FAULT");
	sys_attr(path, sizeof(path), "reset");
	if (access(path, W_OK))
		SKIP(return, "no PCI reset method");
	ASSERT_EQ(0, pci_addr(addr, sizeof(addr)));
	ASSERT_EQ(1, pci_bus_master(addr));
	resets0 = sysfs_key("faults", "resets");

	/* A: the fixture's shmem BO. B: a user-pointer BO. */
	fdb = open_dev();
	ASSERT_LE(0, fdb);
	ub = anon(BO_SIZE);
	ASSERT_NE(NULL, ub);
	small_inputs(self->map, 61);
	small_inputs(ub, 62);
	ASSERT_EQ(0, bo_userptr(fdb, ub, BO_SIZE, &hub));
	copy_a = malloc(BO_SIZE);
	copy_b = malloc(BO_SIZE);
	ASSERT_NE(NULL, copy_a);
	ASSERT_NE(NULL, copy_b);
	memcpy(copy_a, self->map, BO_SIZE);
	memcpy(copy_b, ub, BO_SIZE);
	ASSERT_EQ(0, syncobj_create(self->fd, 0, &sa));
	ASSERT_EQ(0, syncobj_create(fdb, 0, &sb));
	oa = sync_bin(sa);
	ob = sync_bin(sb);

	ASSERT_EQ(0, knob_set("timeout_ms", 3000));
	ASSERT_EQ(0, knob_set("force_timeout", 1));
	for (i = 0; i < N; i++) {
		small_job(&ja[i], self->handle);
		ja[i].user_data = 0xa0 + i;
		small_job(&jb[i], hub);
		jb[i].user_data = 0xb0 + i;
	}
	ASSERT_EQ(0, submit_full(self->fd, ja, JOB_SIZE, N, 0, NULL, 0, &oa, 1,
				 &seq_a));
	/* Armed with jobs in flight (the device cannot autosuspend). */
	ASSERT_EQ(0, knob_set("inject_reset_stuck", 1));
	EXPECT_EQ(1, knob_get("inject_reset_stuck"));
	/* A's jobs hang first: A is the guilty file. */
	sleep_ms(1000);
	ASSERT_EQ(0, submit_full(fdb, jb, JOB_SIZE, N, 0, NULL, 0, &ob, 1,
				 &seq_b));

	wt.fd = self->fd;
	wt.seqno = seq_a + N - 1;
	pt.fd = fdb;
	ASSERT_EQ(0, pthread_create(&tw, NULL, blocked_caller, &wt));
	ASSERT_EQ(0, pthread_create(&tp, NULL, blocked_caller, &pt));

	/* A: WAIT (the thread has the last job); B: REAP. */
	for (i = 0; i < N - 1; i++) {
		ASSERT_EQ(0, wait_job(self->fd, seq_a + i, WAIT_NS, &w));
		EXPECT_EQ(0xa0 + i, w.user_data);
		EXPECT_NE(DRM_SPATTEN_STATUS_OK, w.status);
		TH_LOG("A job %d: status %u", i, w.status);
	}
	ASSERT_TRUE(wait_flag(&wt.done, WAIT_NS)) TH_LOG("WAIT still blocked");
	ASSERT_EQ(0, pthread_join(tw, NULL));
	EXPECT_EQ(0, wt.ret);
	EXPECT_EQ(0xa0 + N - 1, wt.res.user_data);
	EXPECT_NE(DRM_SPATTEN_STATUS_OK, wt.res.status);
	ASSERT_TRUE(wait_flag(&pt.done, WAIT_NS)) TH_LOG("poll still blocked");
	ASSERT_EQ(0, pthread_join(tp, NULL));
	EXPECT_EQ(1, pt.ret);
	EXPECT_TRUE(pt.revents & POLLIN);
	reap_all(fdb, seq_b, N, DRM_SPATTEN_STATUS_OK, WAIT_NS, &st);
	EXPECT_EQ(0, st.err);
	EXPECT_EQ(N, st.seen);
	EXPECT_EQ(0, st.dup);
	EXPECT_EQ(0, st.stray);
	EXPECT_EQ(N, st.other) TH_LOG("B: a job completed OK");
	/* Exactly once. */
	for (i = 0; i < N; i++) {
		EXPECT_EQ(-ENOENT, wait_job(self->fd, seq_a + i, 0, NULL));
		EXPECT_EQ(-ENOENT, wait_job(fdb, seq_b + i, 0, NULL));
	}
	/* The out-fences signalled (with an error). */
	both[0] = sa;
	EXPECT_EQ(0, syncobj_wait(self->fd, both, 1, now_ns() + WAIT_NS, 0));
	both[0] = sb;
	EXPECT_EQ(0, syncobj_wait(fdb, both, 1, now_ns() + WAIT_NS, 0));

	/* Out of service, off the bus; the buffers kept their data. */
	EXPECT_EQ(1, sysfs_key("faults", "broken"));
	EXPECT_EQ(resets0 + 1, sysfs_key("faults", "resets"));
	EXPECT_EQ(0, pci_bus_master(addr));
	EXPECT_EQ(0, memcmp(copy_a, self->map, BO_SIZE));
	EXPECT_EQ(0, memcmp(copy_b, ub, BO_SIZE));
	nop_job(&jb[0], 1);
	EXPECT_EQ(-EIO, submit(fdb, jb, 1, NULL));
	fd2 = open_dev();
	ASSERT_LE(0, fd2);
	EXPECT_EQ(-EIO, submit(fd2, jb, 1, NULL));
	/* Closing a file with a pinned user-pointer BO works. */
	EXPECT_EQ(0, gem_close(fdb, hub));
	close(fdb);
	EXPECT_EQ(0, munmap(ub, BO_SIZE));

	/* The way back: a PCI function reset. */
	ASSERT_EQ(0, write_file(path, "1"));
	EXPECT_EQ(0, sysfs_key("faults", "broken"));
	EXPECT_EQ(1, pci_bus_master(addr));
	EXPECT_EQ(0, knob_get("inject_reset_stuck"));
	nop_job(&jb[0], 2);
	ASSERT_EQ(0, submit(fd2, jb, 1, &s2));
	ASSERT_EQ(0, wait_job(fd2, s2, WAIT_NS, &w));
	EXPECT_EQ(DRM_SPATTEN_STATUS_OK, w.status);
	close(fd2);
	/* A hung: it stays banned. */
	EXPECT_EQ(-ECANCELED, submit(self->fd, jb, 1, NULL));
	syncobj_destroy(self->fd, sa);
	free(copy_a);
	free(copy_b);
	EXPECT_TRUE(wait_idle(10 * NSEC_PER_SEC));
}

TEST_F_TIMEOUT(drv, dropped_interrupt_is_recovered_by_the_watchdog, T_SHORT)
{
	struct drm_spatten_result w;
	struct drm_spatten_job j;
	long long dropped0;
	uint64_t seqno;

	if (!have_debugfs())
		SKIP(return, "no debugfs");
	dropped0 = sysfs_key("faults", "irqs_dropped");
	ASSERT_EQ(0, knob_set("drop_irq", 1));
	nop_job(&j, 5);
	ASSERT_EQ(0, submit(self->fd, &j, 1, &seqno));
	ASSERT_EQ(0, wait_job(self->fd, seqno, WAIT_NS, &w));
	EXPECT_EQ(DRM_SPATTEN_STATUS_OK, w.status);
	EXPECT_EQ(dropped0 + 1, sysfs_key("faults", "irqs_dropped"));
	EXPECT_EQ(0, knob_get("drop_irq"));
}

TEST_F_TIMEOUT(drv, injected_dma_error_fails_one_job, T_SHORT)
{
	struct drm_spatten_result w;
	struct drm_spatten_job j;
	char path[256];
	uint64_t seqno;

	dbg_file(path, sizeof(path), "inject_dma_error");
	if (access(path, W_OK))
		SKIP(return, "no inject_dma_error knob");
	small_inputs(self->map, 4);
	ASSERT_EQ(0, knob_set("inject_dma_error", 1));
	small_job(&j, self->handle);
	ASSERT_EQ(0, submit(self->fd, &j, 1, &seqno));
	ASSERT_EQ(0, wait_job(self->fd, seqno, WAIT_NS, &w));
	TH_LOG("injected DMA error: status %u", w.status);
	EXPECT_EQ(DRM_SPATTEN_STATUS_ERR_DMA_READ, w.status);
	EXPECT_EQ(0, knob_get("inject_dma_error"));
	/* The next one is fine. */
	ASSERT_EQ(0, submit(self->fd, &j, 1, &seqno));
	ASSERT_EQ(0, wait_job(self->fd, seqno, WAIT_NS, &w));
	EXPECT_EQ(DRM_SPATTEN_STATUS_OK, w.status);
}

/*
 * inject_dma_write_error: the job reads every input, then its output write
 * fails: DMA_WRITE, and the next job is fine.
 */
TEST_F_TIMEOUT(drv, injected_dma_write_error_fails_one_job, T_SHORT)
{
	struct drm_spatten_result w;
	struct drm_spatten_job j;
	char path[256];
	uint64_t seqno;

	dbg_file(path, sizeof(path), "inject_dma_write_error");
	if (access(path, W_OK))
		SKIP(return, "no inject_dma_write_error knob");
	small_inputs(self->map, 5);
	ASSERT_EQ(0, knob_set("inject_dma_write_error", 1));
	small_job(&j, self->handle);
	ASSERT_EQ(0, submit(self->fd, &j, 1, &seqno));
	ASSERT_EQ(0, wait_job(self->fd, seqno, WAIT_NS, &w));
	EXPECT_EQ(DRM_SPATTEN_STATUS_ERR_DMA_WRITE, w.status);
	EXPECT_EQ(SM_BYTES, w.bytes_q);
	EXPECT_EQ(0, knob_get("inject_dma_write_error"));
	ASSERT_EQ(0, submit(self->fd, &j, 1, &seqno));
	ASSERT_EQ(0, wait_job(self->fd, seqno, WAIT_NS, &w));
	EXPECT_EQ(DRM_SPATTEN_STATUS_OK, w.status);
}

/*
 * debugfs spatten/objects counts the module's live objects: a buffer and
 * a job show up while they exist and go when they are freed.
 */
TEST_F_TIMEOUT(drv, debugfs_objects_count_live_objects, T_SHORT)
{
	char buf[512], path[256];
	long long bos0, jobs0, ctxs0;
	struct drm_spatten_job j;
	uint64_t seqno;
	int64_t end;
	uint32_t h;
	int fd2;

	if (read_file(OBJECTS_FILE, buf, sizeof(buf)) < 0 || !have_debugfs())
		SKIP(return, "no debugfs objects file");
	ASSERT_EQ(0, knob_set("timeout_ms", 2000));
	ASSERT_TRUE(objects_quiet());
	ctxs0 = objects_key("ctxs");
	bos0 = objects_key("bos");
	jobs0 = objects_key("jobs");
	fd2 = open_dev();
	ASSERT_LE(0, fd2);
	EXPECT_EQ(ctxs0 + 1, objects_key("ctxs"));
	ASSERT_EQ(0, bo_create(fd2, 3 * PAGE, &h, NULL));
	EXPECT_EQ(bos0 + 1, objects_key("bos"));
	ASSERT_EQ(0, knob_set("force_timeout", 1));
	nop_job(&j, 1);
	ASSERT_EQ(0, submit(fd2, &j, 1, &seqno));
	EXPECT_EQ(jobs0 + 1, objects_key("jobs"));
	/* Closed with the job held on the ring: the job keeps the file's
	 * context; a reset (or its 2 s timeout) ends it and everything goes. */
	close(fd2);
	EXPECT_EQ(jobs0 + 1, objects_key("jobs"));
	sys_attr(path, sizeof(path), "reset");
	if (!access(path, W_OK))
		EXPECT_EQ(0, write_file(path, "1"));
	EXPECT_TRUE(wait_idle(30 * NSEC_PER_SEC));
	end = now_ns() + 10 * NSEC_PER_SEC;
	while (objects_key("jobs") != jobs0 && now_ns() < end)
		sleep_ms(50);
	EXPECT_EQ(jobs0, objects_key("jobs"));
	EXPECT_EQ(bos0, objects_key("bos"));
	EXPECT_EQ(ctxs0, objects_key("ctxs"));
}

/* A PCI function reset through sysfs: reset_prepare / reset_done. */
TEST_F_TIMEOUT(drv, pci_function_reset_aborts_jobs_then_works, T_LONG)
{
	struct drm_spatten_job j[4];
	struct drm_spatten_result w;
	char path[256];
	uint64_t seqno;
	int i;

	if (!have_debugfs())
		SKIP(return, "no debugfs");
	sys_attr(path, sizeof(path), "reset");
	if (access(path, W_OK))
		SKIP(return, "no PCI reset method");
	ASSERT_EQ(0, knob_set("timeout_ms", 60000));
	ASSERT_EQ(0, knob_set("force_timeout", 1));
	nops(j, 4);
	ASSERT_EQ(0, submit(self->fd, j, 4, &seqno));
	/* On the device (the scheduler pushes them asynchronously). */
	sleep_ms(500);
	ASSERT_EQ(0, write_file(path, "1"));
	for (i = 0; i < 4; i++) {
		ASSERT_EQ(0, wait_job(self->fd, seqno + i, WAIT_NS, &w));
		EXPECT_EQ(DRM_SPATTEN_STATUS_ABORTED, w.status);
	}
	EXPECT_EQ(0, knob_get("force_timeout"));
	/* Nobody hung: this file is not banned. */
	small_inputs(self->map, 8);
	small_job(&j[0], self->handle);
	ASSERT_EQ(0, submit(self->fd, j, 1, &seqno));
	ASSERT_EQ(0, wait_job(self->fd, seqno, WAIT_NS, &w));
	EXPECT_EQ(DRM_SPATTEN_STATUS_OK, w.status);
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
		struct drm_spatten_job j[4];
		int fd = open_dev(), i;
		uint32_t h;

		close(self->fd);
		if (fd < 0 || bo_create(fd, 4 * t, &h, NULL))
			_exit(1);
		for (i = 0; i < 4; i++)
			attn_job(&j[i], h, heads, rows);
		if (submit(fd, j, 4, NULL))
			_exit(2);
		/* The handle goes: only the jobs hold the buffer now. */
		gem_close(fd, h);
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
			struct drm_spatten_job j[8];
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
/* ---- a backlog of long jobs must not time out ----------------------------- */

/* Wall time of one job alone (the longer of two runs); -1 on an error. */
static int64_t time_one_job(int fd, const struct drm_spatten_job *j,
			    uint64_t *engine_ns)
{
	struct drm_spatten_result w;
	int64_t best = 0, t0, t;
	uint64_t seqno;
	int k;

	*engine_ns = 0;
	for (k = 0; k < 2; k++) {
		t0 = now_ns();
		if (submit(fd, j, 1, &seqno) ||
		    wait_job(fd, seqno, WAIT_NS, &w) ||
		    w.status != DRM_SPATTEN_STATUS_OK)
			return -1;
		t = now_ns() - t0;
		if (t > best)
			best = t;
		if (w.engine_ns > *engine_ns)
			*engine_ns = w.engine_ns;
	}
	return best;
}

/*
 * The job timeout is per job on the engine, not per job since it was
 * queued: with the timeout lowered to 500 ms, queue jobs that each take
 * well under it (a tenth to a quarter, measured first) but together
 * several timeouts per engine; all complete OK, no reset.
 */
TEST_F_TIMEOUT(drv, backlog_of_long_jobs_does_not_time_out, T_HUGE)
{
	const int64_t t_ns = 500 * NSEC_PER_MSEC;
	uint32_t max_heads = self->info.max_heads < 16 ? self->info.max_heads : 16;
	uint32_t max_rows = self->info.max_context < 1024 ?
			    self->info.max_context : 1024;
	uint64_t bo_bytes = 4ull * max_heads * max_rows * 64 * 2;
	struct drm_spatten_job j[DRM_SPATTEN_MAX_SUBMIT];
	struct drm_spatten_counters c0, c1;
	struct drm_spatten_info info;
	uint32_t heads = 1, rows = 64, best_heads = 0, best_rows = 0;
	uint32_t n, done = 0, engines, i;
	int64_t t1 = 0, best_t = 0, t0, wall;
	uint64_t off, first = 0, seqno, eng_ns = 0;
	struct reap_stats st;
	uint32_t h;
	char *m;

	if (!have_debugfs())
		SKIP(return, "no debugfs (timeout_ms)");
	ASSERT_EQ(0, knob_set("timeout_ms", t_ns / NSEC_PER_MSEC));
	ASSERT_EQ(0, get_info(self->fd, &info));
	TH_LOG("job timeout: debugfs %ld ms, INFO %u ms (default %ld ms)",
	       knob_get("timeout_ms"), info.job_timeout_ms,
	       g_default_timeout_ms);
	ASSERT_EQ(0, bo_create(self->fd, bo_bytes, &h, &off));
	m = mmap(NULL, bo_bytes, PROT_READ | PROT_WRITE, MAP_SHARED, self->fd,
		 (off_t)off);
	ASSERT_NE(MAP_FAILED, m);
	fill_s16(m, bo_bytes / 2, 77);
	ASSERT_EQ(0, get_counters(self->fd, &c0));

	/* The largest shape up to T/10 whose job stays under T/4. */
	if (rows > max_rows)
		rows = max_rows;
	for (;;) {
		attn_job(&j[0], h, heads, rows);
		t1 = time_one_job(self->fd, &j[0], &eng_ns);
		ASSERT_LT(0, t1) TH_LOG("%u x %u job failed", heads, rows);
		if (t1 > t_ns / 4)
			break;
		best_heads = heads;
		best_rows = rows;
		best_t = t1;
		if (t1 >= t_ns / 10)
			break;
		if (rows * 2 <= max_rows)
			rows *= 2;
		else if (heads * 2 <= max_heads)
			heads *= 2;
		else
			break;
	}
	if (!best_heads)
		SKIP(return, "the smallest job (%u x %u) takes %lld ms alone",
		     heads, rows, (long long)(t1 / NSEC_PER_MSEC));
	engines = self->info.num_engines ? self->info.num_engines : 1;
	n = (uint32_t)((6 * t_ns) / best_t + 1) * engines;
	if (n < 8)
		n = 8;
	if (n > 2048)
		n = 2048;
	TH_LOG("%u jobs of %u heads x %u rows, %.1f ms each alone (engine %.1f ms), %u engines",
	       n, best_heads, best_rows, best_t / 1e6, eng_ns / 1e6, engines);

	for (i = 0; i < DRM_SPATTEN_MAX_SUBMIT; i++)
		attn_job(&j[i], h, best_heads, best_rows);
	t0 = now_ns();
	while (done < n) {
		uint32_t k = n - done < DRM_SPATTEN_MAX_SUBMIT ?
			     n - done : DRM_SPATTEN_MAX_SUBMIT;

		/* No implicit sync: the jobs reach the rings back to back. */
		ASSERT_EQ(0, submit_full(self->fd, j, JOB_SIZE, k,
					 DRM_SPATTEN_SUBMIT_NO_IMPLICIT, NULL, 0,
					 NULL, 0, &seqno));
		if (!done)
			first = seqno;
		done += k;
	}
	reap_all(self->fd, first, n, DRM_SPATTEN_STATUS_OK, 600 * NSEC_PER_SEC,
		 &st);
	wall = now_ns() - t0;
	TH_LOG("backlog done in %.2f s (%.1f timeouts)", wall / 1e9,
	       (double)wall / (double)t_ns);
	if (wall < 2 * t_ns)
		TH_LOG("warning: the backlog took under two timeouts");
	EXPECT_EQ(0, st.err);
	EXPECT_EQ(n, st.seen);
	EXPECT_EQ(0, st.timeouts);
	EXPECT_EQ(0, st.other) TH_LOG("last status %u", st.last_other);
	ASSERT_EQ(0, get_counters(self->fd, &c1));
	EXPECT_EQ(c0.value[DRM_SPATTEN_CNT_RESETS],
		  c1.value[DRM_SPATTEN_CNT_RESETS]);
	EXPECT_EQ(c0.value[DRM_SPATTEN_CNT_TIMEOUTS],
		  c1.value[DRM_SPATTEN_CNT_TIMEOUTS]);
	munmap(m, bo_bytes);
	gem_close(self->fd, h);
}

/* ---- power management ---------------------------------------------------- */

#define PM_TEST_FILE		"/sys/power/pm_test"
#define PM_STATE_FILE		"/sys/power/state"

/* The PCI function's runtime PM status ("active", "suspended"...). */
static int runtime_status(char *buf, size_t len)
{
	char path[256];
	int n;

	sys_attr(path, sizeof(path), "power/runtime_status");
	n = read_file(path, buf, len);
	if (n < 0)
		return n;
	buf[strcspn(buf, "\n")] = 0;
	return 0;
}

/* Wait until the runtime PM status is @want; false after @ms. */
static bool runtime_status_becomes(const char *want, unsigned int ms)
{
	unsigned int waited = 0;
	char st[32];

	for (;;) {
		if (!runtime_status(st, sizeof(st)) && !strcmp(st, want))
			return true;
		if (waited >= ms)
			return false;
		sleep_ms(50);
		waited += 50;
	}
}

/*
 * System sleep at the PM core's "devices" test level: every driver's
 * suspend and resume callbacks run, the machine does not sleep. A job runs
 * before; NOPs submitted right before the suspend all complete OK (drained
 * from the rings or run after the resume); jobs run after it.
 */
TEST_F_TIMEOUT(drv, system_suspend_resume_with_jobs_before_and_after, T_LONG)
{
	enum { N = 32 };
	struct drm_spatten_job j[N];
	struct drm_spatten_result w;
	long long sus0, res0;
	uint64_t seqno;
	int i, ret;

	if (access(PM_TEST_FILE, W_OK) || access(PM_STATE_FILE, W_OK))
		SKIP(return, "no %s (CONFIG_PM_DEBUG)", PM_TEST_FILE);
	sus0 = sysfs_key("faults", "suspends");
	res0 = sysfs_key("faults", "resumes");
	ASSERT_LE(0, sus0);
	ASSERT_LE(0, res0);
	ASSERT_EQ(0, small_job_in(self->fd, self->handle, self->map));

	ret = write_file(PM_TEST_FILE, "devices");
	if (ret)
		SKIP(return, "%s: %s", PM_TEST_FILE, strerror(-ret));
	nops(j, N);
	ASSERT_EQ(0, submit(self->fd, j, N, &seqno));
	ret = write_file(PM_STATE_FILE, "mem");
	write_file(PM_TEST_FILE, "none");
	if (ret == -EINVAL || ret == -ENOSYS || ret == -EPERM ||
	    ret == -ENODEV) {
		for (i = 0; i < N; i++)
			wait_job(self->fd, seqno + i, WAIT_NS, NULL);
		SKIP(return, "suspend to RAM refused: %s", strerror(-ret));
	}
	ASSERT_EQ(0, ret) TH_LOG("echo mem > %s: %s", PM_STATE_FILE,
				 strerror(-ret));
	EXPECT_EQ(sus0 + 1, sysfs_key("faults", "suspends"));
	EXPECT_EQ(res0 + 1, sysfs_key("faults", "resumes"));
	for (i = 0; i < N; i++) {
		ASSERT_EQ(0, wait_job(self->fd, seqno + i, WAIT_NS, &w));
		EXPECT_EQ(DRM_SPATTEN_STATUS_OK, w.status);
		EXPECT_EQ((uint64_t)i, w.user_data);
	}
	/* After the resume: buffers, queues and interrupts work. */
	memset((char *)self->map + OFF_OUT, 0, SM_BYTES);
	EXPECT_EQ(0, small_job_in(self->fd, self->handle, self->map));
	nops(j, N);
	ASSERT_EQ(0, submit(self->fd, j, N, &seqno));
	for (i = 0; i < N; i++) {
		ASSERT_EQ(0, wait_job(self->fd, seqno + i, WAIT_NS, &w));
		EXPECT_EQ(DRM_SPATTEN_STATUS_OK, w.status);
	}
	EXPECT_EQ(0, sysfs_key("faults", "broken"));
	EXPECT_TRUE(wait_idle(30 * NSEC_PER_SEC));
}

/*
 * Runtime PM: idle, the board stops itself after its autosuspend delay
 * (1 s); a SUBMIT resumes it and the job completes OK; idle again, it
 * suspends again. The device counters survive the suspends.
 */
TEST_F_TIMEOUT(drv, runtime_pm_autosuspends_when_idle, T_SHORT)
{
	struct drm_spatten_counters c0, c1;
	struct drm_spatten_job j[2];
	struct drm_spatten_result w;
	long long rs0, rr0;
	uint64_t seqno;
	char st[32];
	int i;

	if (runtime_status(st, sizeof(st)))
		SKIP(return, "no power/runtime_status (CONFIG_PM)");
	ASSERT_TRUE(wait_idle(30 * NSEC_PER_SEC));
	sleep_ms(2000);
	ASSERT_TRUE(runtime_status_becomes("suspended", 5000)) {
		runtime_status(st, sizeof(st));
		TH_LOG("runtime_status %s after 7 s idle", st);
	}
	rs0 = sysfs_key("faults", "runtime_suspends");
	rr0 = sysfs_key("faults", "runtime_resumes");
	EXPECT_LT(0, rs0);
	ASSERT_EQ(0, get_counters(self->fd, &c0));

	nop_job(&j[0], 7);
	small_inputs(self->map, 4);
	small_job(&j[1], self->handle);
	ASSERT_EQ(0, submit(self->fd, j, 2, &seqno));
	for (i = 0; i < 2; i++) {
		ASSERT_EQ(0, wait_job(self->fd, seqno + i, WAIT_NS, &w));
		EXPECT_EQ(DRM_SPATTEN_STATUS_OK, w.status);
	}
	ASSERT_EQ(0, runtime_status(st, sizeof(st)));
	TH_LOG("runtime_status right after the jobs: %s", st);
	EXPECT_TRUE(!strcmp(st, "active") || !strcmp(st, "suspended"));
	EXPECT_EQ(rr0 + 1, sysfs_key("faults", "runtime_resumes"));
	EXPECT_TRUE(runtime_status_becomes("suspended", 5000));
	EXPECT_EQ(rs0 + 1, sysfs_key("faults", "runtime_suspends"));
	ASSERT_EQ(0, get_counters(self->fd, &c1));
	EXPECT_EQ(c0.value[DRM_SPATTEN_CNT_JOBS_OK] + 2,
		  c1.value[DRM_SPATTEN_CNT_JOBS_OK]);
	EXPECT_LT(c0.value[DRM_SPATTEN_CNT_CYCLES],
		  c1.value[DRM_SPATTEN_CNT_CYCLES]);
}

/* ---- tracepoints --------------------------------------------------------- */

#define TRACEFS			"/sys/kernel/tracing"

/*
 * events/spatten: a job leaves submit, run and complete events with its
 * seqno and the client id fdinfo reports.
 */
TEST_F_TIMEOUT(drv, tracepoints_record_submit_run_complete, T_SHORT)
{
	static char buf[1 << 16];
	char fdi[4096], want[64], client[32] = "";
	struct drm_spatten_result w;
	struct drm_spatten_job j;
	uint64_t seqno;
	int n;

	if (access(TRACEFS "/trace", W_OK))
		mount("tracefs", TRACEFS, "tracefs", 0, NULL);
	if (access(TRACEFS "/events/spatten/enable", W_OK))
		SKIP(return, "no %s/events/spatten", TRACEFS);
	ASSERT_EQ(0, write_file(TRACEFS "/trace", ""));
	ASSERT_EQ(0, write_file(TRACEFS "/events/spatten/enable", "1"));
	nop_job(&j, 5);
	ASSERT_EQ(0, submit(self->fd, &j, 1, &seqno));
	ASSERT_EQ(0, wait_job(self->fd, seqno, WAIT_NS, &w));
	EXPECT_EQ(DRM_SPATTEN_STATUS_OK, w.status);
	write_file(TRACEFS "/events/spatten/enable", "0");
	n = read_file(TRACEFS "/trace", buf, sizeof(buf));
	ASSERT_LT(0, n);
	if (read_fdinfo(self->fd, fdi, sizeof(fdi)) > 0)
		fdinfo_get(fdi, "drm-client-id", client, sizeof(client));
	snprintf(want, sizeof(want), "client=%s seqno=%llu", client,
		 (unsigned long long)seqno);
	EXPECT_NE(NULL, strstr(buf, "spatten_job_submit:"));
	if (client[0])
		EXPECT_NE(NULL, strstr(buf, want)) TH_LOG("no \"%s\"", want);
	snprintf(want, sizeof(want), "seqno=%llu", (unsigned long long)seqno);
	EXPECT_NE(NULL, strstr(buf, "spatten_job_run:"));
	EXPECT_NE(NULL, strstr(buf, "spatten_job_complete:"));
	EXPECT_NE(NULL, strstr(buf, "status=0"));
	EXPECT_NE(NULL, strstr(buf, want));
	write_file(TRACEFS "/trace", "");
}

/* ---- unbind: runs last, then binds the board again ------------------------ */

DEV_FIXTURE(zz_unbind)

static sigjmp_buf g_sigbus_env;

static void on_sigbus(int sig)
{
	(void)sig;
	siglongjmp(g_sigbus_env, 1);
}

/* Bind the board again unless it is bound; wait for its node. */
static bool rebind(const char *addr)
{
	char path[256];

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/driver", addr);
	if (access(path, F_OK) && write_file(PCI_DRV_DIR "/bind", addr))
		return false;
	return board_back(10000);
}

/*
 * Unbind with jobs in flight, a mapping and an open file; then bind again
 * so that the board is there for the other suites.
 */
TEST_F_TIMEOUT(zz_unbind, zz_unbind_with_jobs_in_flight_then_rebind, T_LONG)
{
	struct pollfd p = { .fd = self->fd, .events = POLLIN };
	struct sigaction sa = { .sa_handler = on_sigbus }, old;
	struct drm_spatten_result w;
	struct drm_spatten_info info;
	struct drm_spatten_job j[4];
	char addr[256];
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
	sleep_ms(300);

	ASSERT_EQ(0, write_file(PCI_DRV_DIR "/unbind", addr));
	/*
	 * The DRM core fails every ioctl of an unplugged device with -ENODEV
	 * (the jobs in flight were completed by the driver: objects go).
	 */
	for (i = 0; i < 4; i++)
		EXPECT_EQ(-ENODEV, wait_job(self->fd, seqno + i, WAIT_NS, &w));
	EXPECT_EQ(-ENODEV, get_info(self->fd, &info));
	EXPECT_EQ(-ENODEV, submit(self->fd, j, 1, NULL));
	EXPECT_EQ(-ENODEV, bo_create(self->fd, PAGE, NULL, NULL));
	EXPECT_EQ(1, poll(&p, 1, 0));
	EXPECT_TRUE(p.revents & (POLLERR | POLLHUP));
	/* The mapping still works: the pages belong to the buffer. */
	sigaction(SIGBUS, &sa, &old);
	if (!sigsetjmp(g_sigbus_env, 1)) {
		EXPECT_EQ(0x5a, ((volatile unsigned char *)self->map)[PAGE - 1]);
	} else {
		EXPECT_TRUE(false) TH_LOG("SIGBUS reading the mapping after unbind");
	}
	sigaction(SIGBUS, &old, NULL);

	ASSERT_TRUE(rebind(addr)) TH_LOG("bind %s", addr);
	fd2 = open_dev();
	ASSERT_LE(0, fd2);
	nop_job(&j[0], 9);
	ASSERT_EQ(0, submit(fd2, j, 1, &seqno));
	ASSERT_EQ(0, wait_job(fd2, seqno, WAIT_NS, &w));
	EXPECT_EQ(DRM_SPATTEN_STATUS_OK, w.status);
	close(fd2);
}

/*
 * A file closed with jobs on the ring, then the board unbound at once: the
 * jobs are freed by the scheduler after the unbind, when no file holds the
 * DRM device any more. They must still be freed, each once, from memory
 * that is still there (the debug kernel's KASAN watches), and every object
 * must go. Before the fix, the device was released at the unbind with the
 * jobs on its schedulers' lists: they leaked (or were freed after it).
 */
TEST_F_TIMEOUT(zz_unbind, zz_jobs_of_a_closed_file_freed_after_unbind, T_LONG)
{
	enum { ROUNDS = 4, N = 16 };
	struct drm_spatten_job j[N];
	struct drm_spatten_result w;
	long long jobs0, ctxs0;
	uint64_t seqno;
	char addr[256];
	int r, fd;

	if (!have_debugfs() || access(OBJECTS_FILE, R_OK))
		SKIP(return, "no debugfs objects file");
	ASSERT_EQ(0, pci_addr(addr, sizeof(addr)));
	munmap(self->map, BO_SIZE);
	self->c.map = MAP_FAILED;
	close(self->c.fd);
	self->c.fd = -1;
	jobs0 = objects_settle("jobs", 0, 10000);
	ctxs0 = objects_settle("ctxs", 0, 10000);
	nops(j, N);
	for (r = 0; r < ROUNDS; r++) {
		fd = open_dev();
		ASSERT_LE(0, fd);
		ASSERT_EQ(0, knob_set("timeout_ms", 60000));
		/* On the ring without a doorbell: still there at the unbind. */
		ASSERT_EQ(0, knob_set("force_timeout", 1));
		ASSERT_EQ(0, submit(fd, j, N, NULL));
		sleep_ms(50);
		close(fd);
		ASSERT_EQ(0, write_file(PCI_DRV_DIR "/unbind", addr));
		ASSERT_TRUE(rebind(addr)) TH_LOG("bind %s", addr);
	}
	EXPECT_EQ(jobs0, objects_settle("jobs", jobs0, 10000));
	EXPECT_EQ(ctxs0, objects_settle("ctxs", ctxs0, 10000));
	fd = open_dev();
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, submit(fd, j, 1, &seqno));
	EXPECT_EQ(0, wait_job(fd, seqno, WAIT_NS, &w));
	EXPECT_EQ(DRM_SPATTEN_STATUS_OK, w.status);
	close(fd);
}

/*
 * A job's fence outlives its file and its device: exported as a sync file,
 * it is read after the unbind (its names come from the scheduler that ran
 * it, inside the device's memory, which it keeps), and the driver counts
 * it until the sync file is closed (module exit waits for that count).
 * Before, nothing kept the device's memory, and nothing kept rmmod from
 * unloading the fence's code.
 */
TEST_F_TIMEOUT(zz_unbind, zz_a_sync_file_outlives_its_device, T_LONG)
{
	struct drm_syncobj_handle h = { .fd = -1 };
	struct sync_fence_info fi;
	struct sync_file_info info;
	struct drm_spatten_sync out;
	struct drm_spatten_result w;
	struct drm_spatten_job j;
	long long fences0;
	uint32_t so;
	uint64_t seqno;
	char addr[256];

	if (!have_debugfs() || access(OBJECTS_FILE, R_OK))
		SKIP(return, "no debugfs objects file");
	ASSERT_EQ(0, pci_addr(addr, sizeof(addr)));
	fences0 = objects_settle("fences", 0, 5000);
	ASSERT_LE(0, fences0);
	ASSERT_EQ(0, syncobj_create(self->fd, 0, &so));
	out = sync_bin(so);
	nop_job(&j, 1);
	ASSERT_EQ(0, submit_full(self->fd, &j, JOB_SIZE, 1, 0, NULL, 0, &out,
				 1, &seqno));
	ASSERT_EQ(0, wait_job(self->fd, seqno, WAIT_NS, &w));
	EXPECT_EQ(DRM_SPATTEN_STATUS_OK, w.status);
	h.handle = so;
	h.flags = DRM_SYNCOBJ_HANDLE_TO_FD_FLAGS_EXPORT_SYNC_FILE;
	ASSERT_EQ(0, xioctl(self->fd, DRM_IOCTL_SYNCOBJ_HANDLE_TO_FD, &h));
	munmap(self->map, BO_SIZE);
	self->c.map = MAP_FAILED;
	close(self->c.fd);
	self->c.fd = -1;

	/* The file is gone, the job and its buffers too: not the fence. */
	EXPECT_EQ(fences0 + 1, objects_settle("fences", fences0 + 1, 5000));
	ASSERT_EQ(0, write_file(PCI_DRV_DIR "/unbind", addr));
	memset(&fi, 0, sizeof(fi));
	memset(&info, 0, sizeof(info));
	info.num_fences = 1;
	info.sync_fence_info = (uintptr_t)&fi;
	EXPECT_EQ(0, ioctl(h.fd, SYNC_IOC_FILE_INFO, &info));
	EXPECT_EQ(1, info.status);
	EXPECT_EQ(1, fi.status);
	EXPECT_NE(0, fi.obj_name[0]);
	TH_LOG("after unbind: %s / %s", fi.driver_name, fi.obj_name);
	EXPECT_EQ(fences0 + 1, objects_key("fences"));
	close(h.fd);
	EXPECT_EQ(fences0, objects_settle("fences", fences0, 5000));
	ASSERT_TRUE(rebind(addr)) TH_LOG("bind %s", addr);
}

/*
 * A board out of service because its device stays in reset
 * (inject_reset_stuck) unbinds (its jobs done, its mapping still readable),
 * and binds again: the probe resets the function (FLR) when the device
 * does not come out of reset, so the board works again.
 */
TEST_F_TIMEOUT(zz_unbind, zz_unbind_a_board_stuck_in_reset_then_bind, T_LONG)
{
	struct drm_spatten_result w;
	struct drm_spatten_job j[2];
	char addr[256];
	uint64_t seqno;
	int fd2;

	if (!have_debugfs())
		SKIP(return, "no debugfs");
	if (!have_reset_stuck())
		SKIP(return, "no inject_reset_stuck, or a device without FAULT");
	ASSERT_EQ(0, pci_addr(addr, sizeof(addr)));
	ASSERT_EQ(0, knob_set("timeout_ms", 1000));
	ASSERT_EQ(0, knob_set("force_timeout", 1));
	nops(j, 2);
	ASSERT_EQ(0, submit(self->fd, j, 2, &seqno));
	ASSERT_EQ(0, knob_set("inject_reset_stuck", 1));
	memset(self->map, 0x6b, PAGE);
	ASSERT_EQ(0, wait_job(self->fd, seqno, WAIT_NS, &w));
	EXPECT_EQ(DRM_SPATTEN_STATUS_TIMEOUT, w.status);
	ASSERT_EQ(0, wait_job(self->fd, seqno + 1, WAIT_NS, &w));
	EXPECT_NE(DRM_SPATTEN_STATUS_OK, w.status);
	ASSERT_EQ(1, sysfs_key("faults", "broken"));

	ASSERT_EQ(0, write_file(PCI_DRV_DIR "/unbind", addr));
	EXPECT_EQ(-ENODEV, submit(self->fd, j, 1, NULL));
	EXPECT_EQ(0x6b, ((volatile unsigned char *)self->map)[PAGE - 1]);

	ASSERT_TRUE(rebind(addr)) TH_LOG("bind %s", addr);
	EXPECT_EQ(0, sysfs_key("faults", "broken"));
	EXPECT_EQ(1, pci_bus_master(addr));
	fd2 = open_dev();
	ASSERT_LE(0, fd2);
	nop_job(&j[0], 9);
	ASSERT_EQ(0, submit(fd2, j, 1, &seqno));
	ASSERT_EQ(0, wait_job(fd2, seqno, WAIT_NS, &w));
	EXPECT_EQ(DRM_SPATTEN_STATUS_OK, w.status);
	close(fd2);
}

struct uffd_call {
	int fd;
	void *mem;
	bool userptr;
	int ret;
	int done;
};

static void *uffd_caller(void *arg)
{
	struct uffd_call *c = arg;

	if (c->userptr)
		c->ret = bo_userptr(c->fd, c->mem, 4 * PAGE, NULL);
	else
		c->ret = submit_full(c->fd, c->mem, JOB_SIZE, 1, 0, NULL, 0,
				     NULL, 0, NULL);
	__atomic_store_n(&c->done, 1, __ATOMIC_RELEASE);
	return NULL;
}

struct unbind_call {
	char addr[256];
	int ret;
	int done;
};

static void *unbinder(void *arg)
{
	struct unbind_call *u = arg;

	u->ret = write_file(PCI_DRV_DIR "/unbind", u->addr);
	__atomic_store_n(&u->done, 1, __ATOMIC_RELEASE);
	return NULL;
}

static bool wait_flag(int *flag, int64_t rel_ns)
{
	int64_t end = now_ns() + rel_ns;

	while (!__atomic_load_n(flag, __ATOMIC_ACQUIRE) && now_ns() < end)
		sleep_ms(10);
	return __atomic_load_n(flag, __ATOMIC_ACQUIRE);
}

static int join_within(pthread_t t, int seconds)
{
	struct timespec abs;

	clock_gettime(CLOCK_REALTIME, &abs);
	abs.tv_sec += seconds;
	return pthread_timedjoin_np(t, NULL, &abs);
}

/*
 * One thread SUBMITs a job array, another BO_USERPTRs memory, both in
 * pages registered with userfaultfd whose faults nobody serves: the
 * ioctls sleep in the fault. Unbinding the device meanwhile must not wait
 * for them (done within 5 s). Then the faults are released (the uffd
 * closed: the pages fill with zeros), the ioctls return, SUBMIT with an
 * error, and the board is bound again.
 */
TEST_F_TIMEOUT(zz_unbind, zz_unbind_while_an_ioctl_sleeps_in_userfaultfd, T_LONG)
{
	struct uffdio_api api = { .api = UFFD_API };
	struct uffdio_register reg;
	struct uffd_call sub, up;
	struct unbind_call ub;
	struct drm_spatten_info info;
	struct drm_spatten_result w;
	struct drm_spatten_job j;
	pthread_t ts, tu, tb;
	bool in_time, sub_blocked, up_blocked;
	int uffd, faults = 0, fd2;
	int64_t t0, took;
	uint64_t seqno;
	char *mem;

	uffd = (int)syscall(__NR_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	if (uffd < 0 && (errno == ENOSYS || errno == EPERM ||
			 errno == EACCES))
		SKIP(return, "userfaultfd: %s", strerror(errno));
	ASSERT_LE(0, uffd);
	if (ioctl(uffd, UFFDIO_API, &api)) {
		close(uffd);
		SKIP(return, "UFFDIO_API: %s", strerror(errno));
	}
	mem = mmap(NULL, 8 * PAGE, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, mem);
	memset(&reg, 0, sizeof(reg));
	reg.range.start = (uintptr_t)mem;
	reg.range.len = 8 * PAGE;
	reg.mode = UFFDIO_REGISTER_MODE_MISSING;
	ASSERT_EQ(0, ioctl(uffd, UFFDIO_REGISTER, &reg));
	memset(&ub, 0, sizeof(ub));
	ASSERT_EQ(0, pci_addr(ub.addr, sizeof(ub.addr)));

	memset(&sub, 0, sizeof(sub));
	memset(&up, 0, sizeof(up));
	sub.fd = up.fd = self->fd;
	sub.mem = mem;
	up.mem = mem + 4 * PAGE;
	up.userptr = true;
	ASSERT_EQ(0, pthread_create(&ts, NULL, uffd_caller, &sub));
	ASSERT_EQ(0, pthread_create(&tu, NULL, uffd_caller, &up));
	/* Wait for their faults (BO_USERPTR may fail at once instead). */
	t0 = now_ns();
	while (faults < 2 && now_ns() - t0 < 5 * NSEC_PER_SEC) {
		struct pollfd p = { .fd = uffd, .events = POLLIN };
		struct uffd_msg msg;

		if (poll(&p, 1, 100) == 1 &&
		    read(uffd, &msg, sizeof(msg)) == sizeof(msg) &&
		    msg.event == UFFD_EVENT_PAGEFAULT)
			faults++;
		if (faults >= 1 && __atomic_load_n(&up.done, __ATOMIC_ACQUIRE))
			break;
	}
	sub_blocked = !__atomic_load_n(&sub.done, __ATOMIC_ACQUIRE);
	up_blocked = !__atomic_load_n(&up.done, __ATOMIC_ACQUIRE);
	TH_LOG("%d faults pending; SUBMIT %s (%d), BO_USERPTR %s (%d)", faults,
	       sub_blocked ? "sleeping" : "returned", sub.ret,
	       up_blocked ? "sleeping" : "returned", up.ret);
	EXPECT_TRUE(sub_blocked) TH_LOG("SUBMIT did not sleep in the fault");

	t0 = now_ns();
	ASSERT_EQ(0, pthread_create(&tb, NULL, unbinder, &ub));
	in_time = wait_flag(&ub.done, 5 * NSEC_PER_SEC);
	took = now_ns() - t0;
	/* Release the faults: the pages fill with zeros, the ioctls go on. */
	close(uffd);
	EXPECT_EQ(0, join_within(ts, 30)) TH_LOG("SUBMIT did not return");
	EXPECT_EQ(0, join_within(tu, 30)) TH_LOG("BO_USERPTR did not return");
	if (!in_time)
		wait_flag(&ub.done, 60 * NSEC_PER_SEC);
	EXPECT_TRUE(in_time) {
		TH_LOG("unbind took over 5 s with an ioctl asleep in a userfaultfd page");
	}
	ASSERT_EQ(0, join_within(tb, 1));
	TH_LOG("unbind took %.2f s; then SUBMIT %d, BO_USERPTR %d",
	       took / 1e9, sub.ret, up.ret);
	EXPECT_EQ(0, ub.ret);
	EXPECT_NE(0, sub.ret);
	EXPECT_EQ(-ENODEV, get_info(self->fd, &info));
	munmap(mem, 8 * PAGE);

	ASSERT_TRUE(rebind(ub.addr)) TH_LOG("bind %s", ub.addr);
	fd2 = open_dev();
	ASSERT_LE(0, fd2);
	nop_job(&j, 9);
	ASSERT_EQ(0, submit(fd2, &j, 1, &seqno));
	ASSERT_EQ(0, wait_job(fd2, seqno, WAIT_NS, &w));
	EXPECT_EQ(DRM_SPATTEN_STATUS_OK, w.status);
	close(fd2);
}

/*
 * --hold-jobs: for scripts/guest-init.sh. Put jobs on the device that only
 * a reset ends (a 60 s timeout), print "held" and sleep; the script kills
 * this process with SIGKILL and unloads the module with the jobs in flight.
 */
static int hold_jobs(void)
{
	struct drm_spatten_job j[16];
	int fd;

	board_find();
	fd = open_dev();
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

/*
 * --only SUBSTR: run only the tests whose name contains SUBSTR (the 6.1
 * harness has no filter options), for single-test boots.
 */
static void only_tests(const char *sub)
{
	struct __fixture_metadata *f;
	struct __test_metadata *t, **link;

	for (f = __fixture_list; f; f = f->next) {
		link = &f->tests;
		for (t = f->tests; t; t = t->next) {
			if (strstr(t->name, sub)) {
				*link = t;
				link = &t->next;
			}
		}
		*link = NULL;
	}
}

int main(int argc, char **argv)
{
	if (argc > 1 && !strcmp(argv[1], "--hold-jobs"))
		return hold_jobs();
	if (argc > 2 && !strcmp(argv[1], "--only")) {
		only_tests(argv[2]);
		argc -= 2;
		argv += 2;
	}
	/* The job timeout the tests restore after changing it. */
	if (board_find()) {
		long v = knob_get("timeout_ms");

		if (v > 0)
			g_default_timeout_ms = v;
	} else {
		printf("# no accel or render node bound to spatten found\n");
	}
	g_board_known = false;	/* each test finds the board itself */
	return test_harness_run(argc, argv);
}
