// SPDX-License-Identifier: MIT
/*
 * The DRM accel UAPI of the SpAtten driver from a 32-bit (i386) process:
 * the kernel's compat ioctl path. Built -m32 -static (tests/guest/driver.mk)
 * and run by scripts/guest-init.sh next to the kselftests; prints TAP.
 *
 * The structs of include/uapi/drm/spatten_accel.h have the same layout on
 * both ABIs (pinned below), so the driver needs no compat_ioctl of its own;
 * DRM_IOCTL_VERSION exercises the DRM core's translation of a struct that
 * does differ. mmap offsets of buffer objects lie above 4 GiB: this program
 * is built with _FILE_OFFSET_BITS=64 (mmap2).
 *
 * The board is the first /sys/class/accel/accel* or /sys/class/drm/renderD*
 * bound to "spatten"; SPATTEN_DEV overrides it.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "uapi/drm/spatten_accel.h"

/* The x86-64 layout: the same structs, the same ioctl numbers. */
_Static_assert(sizeof(void *) == 4 || sizeof(void *) == 8, "ABI");
_Static_assert(sizeof(struct drm_spatten_info) == 104, "info");
_Static_assert(sizeof(struct drm_spatten_bo_create) == 24, "bo_create");
_Static_assert(sizeof(struct drm_spatten_bo_userptr) == 24, "bo_userptr");
_Static_assert(sizeof(struct drm_spatten_bo_info) == 32, "bo_info");
_Static_assert(sizeof(struct drm_spatten_job) == 392, "job");
_Static_assert(offsetof(struct drm_spatten_job, q_rows32) == 288, "job");
_Static_assert(offsetof(struct drm_spatten_job, block_table) == 344, "job");
_Static_assert(offsetof(struct drm_spatten_job, user_data) == 248, "job");
_Static_assert(sizeof(struct drm_spatten_sync) == 16, "sync");
_Static_assert(sizeof(struct drm_spatten_submit) == 64, "submit");
_Static_assert(offsetof(struct drm_spatten_submit, seqno) == 48, "submit");
_Static_assert(sizeof(struct drm_spatten_result) == 96, "result");
_Static_assert(sizeof(struct drm_spatten_wait) == 120, "wait");
_Static_assert(offsetof(struct drm_spatten_wait, result) == 24, "wait");
_Static_assert(sizeof(struct drm_spatten_reap) == 40, "reap");
_Static_assert(sizeof(struct drm_spatten_counters) == 136, "counters");

#define NSEC_PER_SEC	1000000000LL
#define BO_SIZE		(64 * 1024)
/* The small job: 4 heads x 16 rows x D = 64, S16, Q K V out back to back. */
#define SM_HEADS	4
#define SM_ROWS		16
#define SM_BYTES	(SM_HEADS * SM_ROWS * 64 * 2)

static int n_test, n_fail;

static void tap(bool ok, const char *fmt, ...)
{
	va_list ap;

	n_test++;
	if (!ok)
		n_fail++;
	printf("%sok %d - ", ok ? "" : "not ", n_test);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
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
	return (int64_t)ts.tv_sec * NSEC_PER_SEC + ts.tv_nsec;
}

static bool bound_to_spatten(const char *cls, const char *name)
{
	char path[512], link[512];
	const char *base;
	ssize_t n;

	snprintf(path, sizeof(path), "%s/%s/device/driver", cls, name);
	n = readlink(path, link, sizeof(link) - 1);
	if (n < 0)
		return false;
	link[n] = 0;
	base = strrchr(link, '/');
	return !strcmp(base ? base + 1 : link, "spatten");
}

/* The node of board 0 into @node; false if none is found. */
static bool find_node(char *node, size_t len)
{
	static const struct {
		const char *cls, *prefix, *dev;
	} where[] = {
		{ "/sys/class/accel", "accel", "/dev/accel" },
		{ "/sys/class/drm", "renderD", "/dev/dri" },
	};
	const char *env = getenv("SPATTEN_DEV");
	unsigned int w;

	if (env && *env) {
		snprintf(node, len, "%s", env);
		return true;
	}
	for (w = 0; w < sizeof(where) / sizeof(where[0]); w++) {
		struct dirent **ents;
		bool found = false;
		size_t plen = strlen(where[w].prefix);
		int n, i;

		n = scandir(where[w].cls, &ents, NULL, alphasort);
		if (n < 0)
			continue;
		for (i = 0; i < n; i++) {
			const char *d = ents[i]->d_name;

			if (!found && !strncmp(d, where[w].prefix, plen) &&
			    d[plen] >= '0' && d[plen] <= '9' &&
			    bound_to_spatten(where[w].cls, d)) {
				snprintf(node, len, "%s/%s", where[w].dev, d);
				found = true;
			}
			free(ents[i]);
		}
		free(ents);
		if (found)
			return true;
	}
	return false;
}

static void fill_s16(void *dst, size_t n, uint32_t seed)
{
	uint16_t *d = dst;
	size_t i;

	for (i = 0; i < n; i++) {
		seed = seed * 1664525u + 1013904223u;
		d[i] = (uint16_t)((int32_t)(seed >> 16) % 4096);
	}
}

static void tensor(struct drm_spatten_tensor *t, uint32_t h, uint64_t off)
{
	t->handle = h;
	t->flags = 0;
	t->offset = off;
}

int main(void)
{
	struct drm_spatten_job jobs[2];
	struct drm_spatten_info info;
	struct drm_spatten_bo_create bc;
	struct drm_spatten_bo_info bi;
	struct drm_spatten_submit sub;
	struct drm_spatten_wait wt;
	struct drm_spatten_result res[4];
	struct drm_spatten_reap rp;
	struct drm_spatten_counters cnt;
	struct drm_gem_close gc;
	char node[300], name[32] = "";
	struct drm_version ver;
	unsigned char *map = MAP_FAILED;
	bool zero = true, nz = false;
	int fd, ret, i;

	printf("TAP version 13\n");
	printf("# i386 process (sizeof(long) %zu): DRM accel UAPI through the compat path\n",
	       sizeof(long));
	if (!find_node(node, sizeof(node))) {
		tap(false, "uapi32: a node bound to spatten exists");
		printf("1..%d\n", n_test);
		return 1;
	}
	fd = open(node, O_RDWR | O_CLOEXEC);
	tap(fd >= 0, "uapi32: open %s%s%s", node, fd < 0 ? ": " : "",
	    fd < 0 ? strerror(errno) : "");
	if (fd < 0) {
		printf("1..%d\n", n_test);
		return 1;
	}

	/* A struct with pointers and size_t: translated by the DRM core. */
	memset(&ver, 0, sizeof(ver));
	ver.name = name;
	ver.name_len = sizeof(name) - 1;
	ret = xioctl(fd, DRM_IOCTL_VERSION, &ver);
	tap(!ret && !strcmp(name, "spatten"), "uapi32: DRM_IOCTL_VERSION name \"%s\" (%d)",
	    name, ret);

	memset(&info, 0, sizeof(info));
	ret = xioctl(fd, DRM_IOCTL_SPATTEN_INFO, &info);
	tap(!ret && info.api_version == DRM_SPATTEN_API_VERSION &&
	    info.max_submit == DRM_SPATTEN_MAX_SUBMIT &&
	    info.max_bo_size == 256ull << 20,
	    "uapi32: INFO api_version %u, max_submit %u, max_bo_size %llu (%d)",
	    info.api_version, info.max_submit,
	    (unsigned long long)info.max_bo_size, ret);

	memset(&bc, 0, sizeof(bc));
	bc.size = BO_SIZE;
	ret = xioctl(fd, DRM_IOCTL_SPATTEN_BO_CREATE, &bc);
	if (!ret)
		map = mmap(NULL, BO_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED,
			   fd, (off_t)bc.mmap_offset);
	if (map != MAP_FAILED) {
		for (i = 0; i < BO_SIZE; i++)
			zero &= !map[i];
		memset(map, 0, BO_SIZE);
	}
	tap(!ret && bc.handle && map != MAP_FAILED && zero,
	    "uapi32: BO_CREATE handle %u, mmap at offset %#llx, zeroed (%d%s%s)",
	    bc.handle, (unsigned long long)bc.mmap_offset, ret,
	    map == MAP_FAILED ? ", mmap: " : "",
	    map == MAP_FAILED ? strerror(errno) : "");
	if (map == MAP_FAILED) {
		printf("1..%d\n", n_test);
		return 1;
	}

	memset(&bi, 0, sizeof(bi));
	bi.handle = bc.handle;
	ret = xioctl(fd, DRM_IOCTL_SPATTEN_BO_INFO, &bi);
	tap(!ret && bi.size == BO_SIZE && bi.mmap_offset == bc.mmap_offset &&
	    bi.kind == DRM_SPATTEN_BO_SHMEM, "uapi32: BO_INFO size %llu kind %u (%d)",
	    (unsigned long long)bi.size, bi.kind, ret);

	/* An attention job over the mapping and a NOP. */
	fill_s16(map, 3 * SM_BYTES / 2, 5);
	memset(jobs, 0, sizeof(jobs));
	jobs[0].opcode = DRM_SPATTEN_OP_ATTENTION;
	jobs[0].stage = DRM_SPATTEN_STAGE_SUMMARIZATION;
	jobs[0].version = DRM_SPATTEN_DESC_V2;
	jobs[0].n_heads = SM_HEADS;
	jobs[0].head_dim = 64;
	jobs[0].q_rows = SM_ROWS;
	jobs[0].kv_rows = SM_ROWS;
	jobs[0].q_fmt = jobs[0].k_fmt = DRM_SPATTEN_FMT_S16;
	jobs[0].v_fmt = jobs[0].out_fmt = DRM_SPATTEN_FMT_S16;
	jobs[0].q_frac = jobs[0].k_frac = jobs[0].v_frac = 12;
	jobs[0].out_frac = 12;
	tensor(&jobs[0].q, bc.handle, 0);
	tensor(&jobs[0].k, bc.handle, SM_BYTES);
	tensor(&jobs[0].v, bc.handle, 2 * SM_BYTES);
	tensor(&jobs[0].out, bc.handle, 3 * SM_BYTES);
	jobs[0].user_data = 0x1234567890abcdefull;
	jobs[1].opcode = DRM_SPATTEN_OP_NOP;
	jobs[1].version = DRM_SPATTEN_DESC_V2;
	jobs[1].user_data = 0xfedcba0987654321ull;
	memset(&sub, 0, sizeof(sub));
	sub.jobs_ptr = (uintptr_t)jobs;
	sub.job_size = sizeof(jobs[0]);
	sub.count = 2;
	ret = xioctl(fd, DRM_IOCTL_SPATTEN_SUBMIT, &sub);
	tap(!ret && sub.submitted == 2 && sub.seqno,
	    "uapi32: SUBMIT an attention job and a NOP: seqno %llu (%d)",
	    (unsigned long long)sub.seqno, ret);

	memset(&wt, 0, sizeof(wt));
	wt.seqno = sub.seqno;
	wt.timeout_ns = now_ns() + 30 * NSEC_PER_SEC;
	ret = ret ? ret : xioctl(fd, DRM_IOCTL_SPATTEN_WAIT, &wt);
	for (i = 0; i < SM_BYTES; i++)
		nz |= map[3 * SM_BYTES + i] != 0;
	tap(!ret && wt.result.status == DRM_SPATTEN_STATUS_OK &&
	    wt.result.seqno == sub.seqno &&
	    wt.result.user_data == jobs[0].user_data && wt.result.cycles && nz,
	    "uapi32: WAIT attention job: status %u, user_data %#llx, %llu cycles, output %s (%d)",
	    wt.result.status, (unsigned long long)wt.result.user_data,
	    (unsigned long long)wt.result.cycles, nz ? "written" : "zero", ret);

	memset(&rp, 0, sizeof(rp));
	memset(res, 0, sizeof(res));
	rp.results_ptr = (uintptr_t)res;
	rp.count = 4;
	rp.min_count = 1;
	rp.timeout_ns = now_ns() + 30 * NSEC_PER_SEC;
	ret = xioctl(fd, DRM_IOCTL_SPATTEN_REAP, &rp);
	tap(!ret && rp.reaped == 1 && rp.pending == 0 &&
	    res[0].seqno == sub.seqno + 1 &&
	    res[0].status == DRM_SPATTEN_STATUS_OK &&
	    res[0].user_data == jobs[1].user_data,
	    "uapi32: REAP the NOP: reaped %u, pending %u, status %u (%d)",
	    rp.reaped, rp.pending, res[0].status, ret);

	ret = xioctl(fd, DRM_IOCTL_SPATTEN_COUNTERS, memset(&cnt, 0, sizeof(cnt)));
	tap(!ret && cnt.num == DRM_SPATTEN_CNT_NUM && cnt.value[0],
	    "uapi32: COUNTERS num %u, jobs_ok %llu (%d)", cnt.num,
	    (unsigned long long)cnt.value[DRM_SPATTEN_CNT_JOBS_OK], ret);

	munmap(map, BO_SIZE);
	memset(&gc, 0, sizeof(gc));
	gc.handle = bc.handle;
	ret = xioctl(fd, DRM_IOCTL_GEM_CLOSE, &gc);
	tap(!ret, "uapi32: GEM_CLOSE (%d)", ret);
	close(fd);
	printf("1..%d\n", n_test);
	printf("# uapi32: %d passed, %d failed\n", n_test - n_fail, n_fail);
	return n_fail ? 1 : 0;
}
