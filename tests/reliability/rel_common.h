/* SPDX-License-Identifier: MIT */
/*
 * Shared helpers of the in-guest reliability campaigns (issue #7): the raw
 * UAPI (include/uapi/drm/spatten_accel.h plus the DRM core ioctls of
 * drm.h, no library), node discovery, sysfs/debugfs access, the driver's
 * live-object counters (debugfs spatten/objects) and TAP output.
 *
 * The board: SPATTEN_DEV names its node; otherwise the first of
 * /sys/class/accel/accel* (6.2+) then /sys/class/drm/renderD* (6.1), in
 * name order, whose device is bound to the driver "spatten". Its sysfs
 * attributes are those of the PCI device (<class dir>/device/), its
 * debugfs knobs in /sys/kernel/debug/spatten/<PCI address>/.
 */
#ifndef REL_COMMON_H
#define REL_COMMON_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "spatten_hw.h"
#include "uapi/drm/spatten_accel.h"

#define NSEC_PER_SEC	1000000000LL
#define DEBUGFS_ROOT	"/sys/kernel/debug/spatten"	/* module-wide */
#define DRV_DIR		"/sys/bus/pci/drivers/spatten"
#define JOB_SIZE	((uint32_t)sizeof(struct drm_spatten_job))

/* ---- the board's node ---------------------------------------------------- */

/* "<dir>/<name>/device/driver" links to a driver called spatten. */
static inline bool bound_to_spatten(const char *dir, const char *name)
{
	char path[PATH_MAX], link[PATH_MAX];
	ssize_t n;
	const char *base;

	snprintf(path, sizeof(path), "%s/%s/device/driver", dir, name);
	n = readlink(path, link, sizeof(link) - 1);
	if (n < 0)
		return false;
	link[n] = 0;
	base = strrchr(link, '/');
	return !strcmp(base ? base + 1 : link, "spatten");
}

static inline int node_filter_accel(const struct dirent *d)
{
	return !strncmp(d->d_name, "accel", 5);
}

static inline int node_filter_render(const struct dirent *d)
{
	return !strncmp(d->d_name, "renderD", 7);
}

/*
 * The class directory name (accelN, renderDN) of board @board, or -ENODEV.
 * @cls gets "accel" or "drm".
 */
static inline int node_find(int board, char *name, size_t len,
			    const char **cls)
{
	static const char *const dirs[] = { "/sys/class/accel",
					    "/sys/class/drm" };
	int k, i, n, found = 0, ret = -ENODEV;

	for (k = 0; k < 2 && ret; k++) {
		struct dirent **ents;

		n = scandir(dirs[k], &ents, k ? node_filter_render :
			    node_filter_accel, alphasort);
		for (i = 0; i < n; i++) {
			if (ret && bound_to_spatten(dirs[k], ents[i]->d_name) &&
			    found++ == board) {
				snprintf(name, len, "%s", ents[i]->d_name);
				*cls = k ? "drm" : "accel";
				ret = 0;
			}
			free(ents[i]);
		}
		if (n >= 0)
			free(ents);
	}
	return ret;
}

/*
 * The node of board 0 (SPATTEN_DEV overrides), found again on each call:
 * an unbind and bind may give the board another minor.
 */
static inline const char *dev_path(void)
{
	static __thread char buf[PATH_MAX];
	const char *p = getenv("SPATTEN_DEV"), *cls;
	char name[256];

	if (p && *p)
		return p;
	if (node_find(0, name, sizeof(name), &cls))
		return "/dev/accel/accel0";	/* absent: open() says so */
	snprintf(buf, sizeof(buf), "/dev/%s/%s", strcmp(cls, "drm") ? "accel" :
		 "dri", name);
	return buf;
}

/* The node's sysfs class directory (/sys/class/accel/accel0, ...). */
static inline int node_sysdir(char *buf, size_t len)
{
	char path[64], real[PATH_MAX];
	struct stat st;

	if (stat(dev_path(), &st))
		return -errno;
	if (!S_ISCHR(st.st_mode))
		return -ENOTTY;
	snprintf(path, sizeof(path), "/sys/dev/char/%u:%u", major(st.st_rdev),
		 minor(st.st_rdev));
	if (!realpath(path, real))
		return -errno;
	if (strlen(real) >= len)
		return -ENAMETOOLONG;
	memcpy(buf, real, strlen(real) + 1);
	return 0;
}

/* A sysfs attribute of the board (of its PCI device): <class>/device/@attr. */
static inline int dev_attr(char *buf, size_t len, const char *attr)
{
	char dir[PATH_MAX];
	int ret = node_sysdir(dir, sizeof(dir));

	if (ret)
		return ret;
	snprintf(buf, len, "%s/device/%s", dir, attr);
	return 0;
}

/* The board's debugfs directory: spatten/<PCI address>. */
static inline int dev_debugfs(char *buf, size_t len)
{
	char dir[PATH_MAX], link[PATH_MAX];
	const char *pci;
	ssize_t n;
	int ret = node_sysdir(dir, sizeof(dir));

	if (ret)
		return ret;
	strncat(dir, "/device", sizeof(dir) - strlen(dir) - 1);
	n = readlink(dir, link, sizeof(link) - 1);
	if (n <= 0)
		return -ENODEV;
	link[n] = 0;
	pci = strrchr(link, '/');
	pci = pci ? pci + 1 : link;
	if (strlen(pci) + 27 > len)
		return -ENAMETOOLONG;
	snprintf(buf, len, "/sys/kernel/debug/spatten/%.32s", pci);
	return 0;
}

static inline int open_dev_flags(int flags)
{
	return open(dev_path(), O_RDWR | O_CLOEXEC | flags);
}

static inline int xioctl(int fd, unsigned long req, void *arg)
{
	int ret;

	do {
		ret = ioctl(fd, req, arg);
	} while (ret < 0 && errno == EINTR);
	return ret < 0 ? -errno : ret;
}

static inline int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * NSEC_PER_SEC + ts.tv_nsec;
}

static inline void sleep_ms(unsigned int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

static inline int bo_create(int fd, uint64_t size, uint32_t *handle,
			    uint64_t *off)
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

/* Drop a GEM handle (DRM_IOCTL_GEM_CLOSE): what BO_DESTROY was. */
static inline int bo_destroy(int fd, uint32_t handle)
{
	struct drm_gem_close c = { .handle = handle };

	return xioctl(fd, DRM_IOCTL_GEM_CLOSE, &c);
}

static inline int bo_userptr(int fd, void *p, uint64_t size, uint32_t *handle)
{
	struct drm_spatten_bo_userptr u = {
		.user_ptr = (uintptr_t)p, .size = size,
	};
	int ret = xioctl(fd, DRM_IOCTL_SPATTEN_BO_USERPTR, &u);

	if (!ret && handle)
		*handle = u.handle;
	return ret;
}

static inline int submit_syncs(int fd, const struct drm_spatten_job *jobs,
			       uint32_t n, const struct drm_spatten_sync *in,
			       uint32_t n_in, const struct drm_spatten_sync *out,
			       uint32_t n_out, uint64_t *seqno)
{
	struct drm_spatten_submit s = {
		.jobs_ptr = (uintptr_t)jobs, .job_size = JOB_SIZE, .count = n,
		.in_syncs_ptr = (uintptr_t)in, .in_sync_count = n_in,
		.out_syncs_ptr = (uintptr_t)out, .out_sync_count = n_out,
	};
	int ret = xioctl(fd, DRM_IOCTL_SPATTEN_SUBMIT, &s);

	if (!ret && seqno)
		*seqno = s.seqno;
	return ret;
}

static inline int submit(int fd, const struct drm_spatten_job *jobs,
			 uint32_t n, uint64_t *seqno)
{
	return submit_syncs(fd, jobs, n, NULL, 0, NULL, 0, seqno);
}

/* WAIT for one job, @rel_ns from now (INT64_MAX: no deadline). */
static inline int wait_job(int fd, uint64_t seqno, int64_t rel_ns,
			   struct drm_spatten_result *out)
{
	struct drm_spatten_wait w = {
		.seqno = seqno,
		.timeout_ns = rel_ns == INT64_MAX ? INT64_MAX : now_ns() + rel_ns,
	};
	int ret = xioctl(fd, DRM_IOCTL_SPATTEN_WAIT, &w);

	if (out)
		*out = w.result;
	return ret;
}

/*
 * REAP up to @count results (at most DRM_SPATTEN_REAP_MAX), waiting up to
 * @rel_ns for @min_count of them. Returns the number reaped or -errno;
 * @pending (if not NULL) gets the jobs of the file still unreaped.
 */
static inline int reap(int fd, struct drm_spatten_result *res, uint32_t count,
		       uint32_t min_count, int64_t rel_ns, uint32_t *pending)
{
	struct drm_spatten_reap r = {
		.results_ptr = (uintptr_t)res, .count = count,
		.min_count = min_count,
		.timeout_ns = rel_ns == INT64_MAX ? INT64_MAX : now_ns() + rel_ns,
	};
	int ret = xioctl(fd, DRM_IOCTL_SPATTEN_REAP, &r);

	if (pending)
		*pending = r.pending;
	return ret ? ret : (int)r.reaped;
}

static inline int syncobj_create(int fd, uint32_t flags, uint32_t *handle)
{
	struct drm_syncobj_create c = { .flags = flags };
	int ret = xioctl(fd, DRM_IOCTL_SYNCOBJ_CREATE, &c);

	if (!ret && handle)
		*handle = c.handle;
	return ret;
}

static inline int syncobj_destroy(int fd, uint32_t handle)
{
	struct drm_syncobj_destroy d = { .handle = handle };

	return xioctl(fd, DRM_IOCTL_SYNCOBJ_DESTROY, &d);
}

static inline void nop_job(struct drm_spatten_job *j, uint64_t user_data)
{
	memset(j, 0, sizeof(*j));
	j->opcode = DRM_SPATTEN_OP_NOP;
	j->version = DRM_SPATTEN_DESC_V2;
	j->user_data = user_data;
}

static inline void tensor(struct drm_spatten_tensor *t, uint32_t handle,
			  uint64_t off)
{
	t->handle = handle;
	t->flags = 0;
	t->offset = off;
}

/*
 * A small dense S16 attention job (@heads x @rows x @dim, Q10 fixed point)
 * in one buffer: K at 0, V at @tb, Q at @q_off, the output at @out_off
 * (@tb = bytes of one tensor).
 */
static inline void small_attn_job(struct drm_spatten_job *j, uint32_t handle,
				  int heads, int rows, int dim, uint64_t tb,
				  uint64_t q_off, uint64_t out_off)
{
	memset(j, 0, sizeof(*j));
	j->opcode = DRM_SPATTEN_OP_ATTENTION;
	j->version = DRM_SPATTEN_DESC_V2;
	j->n_heads = heads;
	j->head_dim = dim;
	j->q_rows = rows;
	j->kv_rows = rows;
	j->q_frac = j->k_frac = j->v_frac = j->out_frac = 10;
	tensor(&j->k, handle, 0);
	tensor(&j->v, handle, tb);
	tensor(&j->q, handle, q_off);
	tensor(&j->out, handle, out_off);
}

/* ---- files ------------------------------------------------------------- */

static inline int read_file(const char *path, char *buf, size_t len)
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

static inline int write_file(const char *path, const char *val)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = write(fd, val, strlen(val));
	close(fd);
	return n < 0 ? -errno : 0;
}

/* A debugfs knob of the board: <debugfs dir>/@name. */
static inline int knob_path(char *path, size_t len, const char *name)
{
	char dir[256];
	int ret = dev_debugfs(dir, sizeof(dir));

	if (ret)
		return ret;
	snprintf(path, len, "%s/%s", dir, name);
	return 0;
}

static inline int knob_set(const char *name, long val)
{
	char path[PATH_MAX], v[32];
	int ret = knob_path(path, sizeof(path), name);

	if (ret)
		return ret;
	snprintf(v, sizeof(v), "%ld", val);
	return write_file(path, v);
}

static inline bool have_knob(const char *name)
{
	char path[PATH_MAX];

	return !knob_path(path, sizeof(path), name) &&
	       access(path, W_OK) == 0;
}

static inline void knobs_default(void)
{
	knob_set("force_timeout", 0);
	knob_set("drop_irq", 0);
	if (have_knob("inject_dma_error"))
		knob_set("inject_dma_error", 0);
	if (have_knob("inject_dma_write_error"))
		knob_set("inject_dma_write_error", 0);
	knob_set("timeout_ms", 10000);
}

/* "key value" line of a file; -1 if absent. */
static inline long long file_key(const char *path, const char *key)
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

/* "key value" of a sysfs attribute of the board; -1 if absent. */
static inline long long sysfs_key(const char *file, const char *key)
{
	char path[PATH_MAX];

	if (dev_attr(path, sizeof(path), file))
		return -1;
	return file_key(path, key);
}

/* Read a sysfs attribute of the board into @buf. */
static inline int sysfs_read(const char *file, char *buf, size_t len)
{
	char path[PATH_MAX];
	int ret = dev_attr(path, sizeof(path), file);

	return ret ? ret : read_file(path, buf, len);
}

static inline int sysfs_write(const char *file, const char *val)
{
	char path[PATH_MAX];
	int ret = dev_attr(path, sizeof(path), file);

	return ret ? ret : write_file(path, val);
}

/* The board's PCI address (for bind/unbind): its node's device link. */
static inline int pci_addr(char *buf, size_t len)
{
	char link[PATH_MAX], path[PATH_MAX];
	ssize_t n;
	char *base;
	int ret = node_sysdir(path, sizeof(path) - 8);

	if (ret)
		return ret;
	strcat(path, "/device");
	n = readlink(path, link, sizeof(link) - 1);
	if (n < 0)
		return -errno;
	link[n] = 0;
	base = strrchr(link, '/');
	base = base ? base + 1 : link;
	if (strlen(base) >= len)
		return -ENAMETOOLONG;
	memcpy(buf, base, strlen(base) + 1);
	return 0;
}

/*
 * Wait up to @rel_ns for the board's node to appear (after a bind); 0 or
 * -ENODEV.
 */
static inline int wait_node(int64_t rel_ns)
{
	int64_t end = now_ns() + rel_ns;

	do {
		if (!access(dev_path(), F_OK))
			return 0;
		sleep_ms(20);
	} while (now_ns() < end);
	return access(dev_path(), F_OK) ? -ENODEV : 0;
}

/* Jobs queued on all queues (sysfs "queues": id inflight queued depth). */
static inline long queued_jobs(void)
{
	char buf[4096], *p = buf;
	unsigned int id, inflight, queued, depth;
	long total = 0;
	int n;

	if (sysfs_read("queues", buf, sizeof(buf)) < 0)
		return -1;
	while (sscanf(p, "%u %u %u %u%n", &id, &inflight, &queued, &depth,
		      &n) == 4) {
		total += queued;
		p += n;
	}
	return total;
}

static inline bool wait_idle(int64_t rel_ns)
{
	int64_t end = now_ns() + rel_ns;

	while (now_ns() < end) {
		if (queued_jobs() == 0)
			return true;
		sleep_ms(20);
	}
	return queued_jobs() == 0;
}

/* ---- live objects of the module ---------------------------------------- */

struct objects {
	long long devs, ctxs, bos, bo_pages, jobs, fences;
};

static inline int objects_read(struct objects *o)
{
	const char *f = DEBUGFS_ROOT "/objects";

	o->devs = file_key(f, "devs");
	o->ctxs = file_key(f, "ctxs");
	o->bos = file_key(f, "bos");
	o->bo_pages = file_key(f, "bo_pages");
	o->jobs = file_key(f, "jobs");
	o->fences = file_key(f, "fences");
	return o->devs < 0 ? -1 : 0;
}

static inline void objects_str(const struct objects *o, char *buf, size_t n)
{
	snprintf(buf, n,
		 "devs %lld ctxs %lld bos %lld bo_pages %lld jobs %lld fences %lld",
		 o->devs, o->ctxs, o->bos, o->bo_pages, o->jobs, o->fences);
}

/*
 * No more of any object than @base: an object of an earlier campaign
 * still being released when @base was read (its file's release is
 * deferred) may be gone by now; one more than before is a leak.
 */
static inline bool objects_at_most(const struct objects *base,
				   const struct objects *now)
{
	return now->devs == base->devs && now->ctxs <= base->ctxs &&
	       now->bos <= base->bos && now->bo_pages <= base->bo_pages &&
	       now->jobs <= base->jobs && now->fences <= base->fences;
}

/*
 * The level must come back (jobs of killed processes complete on the
 * device a little later): poll up to @rel_ns.
 */
static inline bool objects_back_to(const struct objects *base,
				   struct objects *now, int64_t rel_ns)
{
	int64_t end = now_ns() + rel_ns;

	do {
		if (objects_read(now) == 0 && objects_at_most(base, now))
			return true;
		sleep_ms(20);
	} while (now_ns() < end);
	return false;
}

/* ---- TAP ---------------------------------------------------------------- */

static int tap_failed;

static inline void tap(bool ok, const char *fmt, ...)
{
	va_list ap;

	printf("%s - ", ok ? "ok" : "not ok");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
	if (!ok)
		tap_failed = 1;
}

static inline void diag(const char *fmt, ...)
{
	va_list ap;

	printf("# ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
}

/* xorshift64 */
static inline uint64_t rnd64(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static inline uint32_t rndn(uint64_t *s, uint32_t n)
{
	return n ? (uint32_t)(rnd64(s) % n) : 0;
}

static inline void pin_cpu(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	sched_setaffinity(0, sizeof(set), &set);
}

#endif /* REL_COMMON_H */
