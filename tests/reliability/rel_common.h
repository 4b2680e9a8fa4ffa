/* SPDX-License-Identifier: MIT */
/*
 * Shared helpers of the in-guest reliability campaigns (issue #7): the raw
 * UAPI (include/uapi/spatten.h, no library), sysfs/debugfs access, the
 * driver's live-object counters (debugfs spatten/objects) and TAP output.
 */
#ifndef REL_COMMON_H
#define REL_COMMON_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdarg.h>
#include <stdbool.h>
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

#include "spatten_hw.h"
#include "uapi/spatten.h"

#define NSEC_PER_SEC	1000000000LL
#define SYSFS_DIR	"/sys/class/misc/spatten0"
#define DEBUGFS_ROOT	"/sys/kernel/debug/spatten"
#define DEBUGFS_DIR	DEBUGFS_ROOT "/spatten0"

static inline const char *dev_path(void)
{
	const char *p = getenv("SPATTEN_DEV");

	return p && *p ? p : "/dev/spatten0";
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

static inline int bo_destroy(int fd, uint32_t handle)
{
	struct spatten_bo_destroy d = { .handle = handle };

	return xioctl(fd, SPATTEN_IOCTL_BO_DESTROY, &d);
}

static inline int submit(int fd, const struct spatten_job *jobs, uint32_t n,
			 uint64_t *seqno)
{
	struct spatten_submit s = { .jobs_ptr = (uintptr_t)jobs, .count = n };
	int ret = xioctl(fd, SPATTEN_IOCTL_SUBMIT, &s);

	if (!ret && seqno)
		*seqno = s.seqno;
	return ret;
}

static inline int wait_job(int fd, uint64_t seqno, int64_t rel_ns,
			   struct spatten_wait *out)
{
	struct spatten_wait w = {
		.seqno = seqno,
		.timeout_ns = rel_ns == INT64_MAX ? INT64_MAX : now_ns() + rel_ns,
	};
	int ret = xioctl(fd, SPATTEN_IOCTL_WAIT, &w);

	if (out)
		*out = w;
	return ret;
}

static inline void nop_job(struct spatten_job *j, uint64_t user_data)
{
	memset(j, 0, sizeof(*j));
	j->opcode = SPATTEN_OP_NOP;
	j->version = SPATTEN_DESC_VERSION;
	j->user_data = user_data;
}

static inline void tensor(struct spatten_tensor *t, uint32_t handle,
			  uint64_t off)
{
	t->handle = handle;
	t->flags = 0;
	t->offset = off;
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

static inline int knob_set(const char *name, long val)
{
	char path[256], v[32];

	snprintf(path, sizeof(path), DEBUGFS_DIR "/%s", name);
	snprintf(v, sizeof(v), "%ld", val);
	return write_file(path, v);
}

static inline bool have_knob(const char *name)
{
	char path[256];

	snprintf(path, sizeof(path), DEBUGFS_DIR "/%s", name);
	return access(path, W_OK) == 0;
}

static inline void knobs_default(void)
{
	knob_set("force_timeout", 0);
	knob_set("drop_irq", 0);
	knob_set("inject_dma_error", 0);
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

static inline long long sysfs_key(const char *file, const char *key)
{
	char path[256];

	snprintf(path, sizeof(path), SYSFS_DIR "/%s", file);
	return file_key(path, key);
}

/* The board's PCI address (for bind/unbind), from its misc device. */
static inline int pci_addr(char *buf, size_t len)
{
	char link[512];
	ssize_t n = readlink(SYSFS_DIR "/device", link, sizeof(link) - 1);
	char *base;

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

/* Jobs queued on all queues (sysfs "queues": id inflight queued depth). */
static inline long queued_jobs(void)
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
	long long devs, ctxs, bos, bo_pages, jobs;
};

static inline int objects_read(struct objects *o)
{
	const char *f = DEBUGFS_ROOT "/objects";

	o->devs = file_key(f, "devs");
	o->ctxs = file_key(f, "ctxs");
	o->bos = file_key(f, "bos");
	o->bo_pages = file_key(f, "bo_pages");
	o->jobs = file_key(f, "jobs");
	return o->devs < 0 ? -1 : 0;
}

static inline bool objects_equal(const struct objects *a,
				 const struct objects *b)
{
	return a->devs == b->devs && a->ctxs == b->ctxs && a->bos == b->bos &&
	       a->bo_pages == b->bo_pages && a->jobs == b->jobs;
}

static inline void objects_str(const struct objects *o, char *buf, size_t n)
{
	snprintf(buf, n, "devs %lld ctxs %lld bos %lld bo_pages %lld jobs %lld",
		 o->devs, o->ctxs, o->bos, o->bo_pages, o->jobs);
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
		if (objects_read(now) == 0 && objects_equal(base, now))
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
