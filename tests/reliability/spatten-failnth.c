// SPDX-License-Identifier: MIT
/*
 * Allocation-failure sweep (issue #13), for the debug guest kernel: every
 * allocation that the module makes, or causes, while serving one syscall is
 * failed in turn. The kernel's per-task /proc/thread-self/fail-nth fails
 * the n-th allocation of the next calls; failslab and fail_page_alloc are
 * aimed at the module by their stack-trace filter (require-start/end = the
 * module's memory), so only allocations with a spatten.ko frame on the
 * stack count: those of the driver itself and those it causes in drm.ko,
 * drm_shmem_helper.ko and gpu-sched.ko (GEM objects and handles, shmem
 * files, mmap offsets, scheduler fences) when called from it; not those
 * the DRM core makes on its own before or after calling the driver (the
 * ioctl argument copy, the struct drm_file of an open). For n = 1, 2, ...
 * until the syscall no longer reaches an n-th allocation, each operation
 * must:
 *
 *   - fail with an errno its documentation lists for running out of
 *     memory (ENOMEM; EFAULT where a partial pin is reported as such), or
 *     succeed where the driver has a fallback, and then work correctly;
 *   - leave nothing behind: the driver's live objects (debugfs
 *     spatten/objects) return to their level after each attempt;
 *   - leave the device working: a job afterwards gives the fault-free
 *     output.
 *
 * Then the probe path the same way: the board is unbound, and each bind
 * (which probes in the writing task) runs with its n-th allocation
 * failed (within a few frames of the module: see probe_depth); it must
 * fail and leave nothing, or bind a board that works.
 *
 * The operations: open of the node, BO_CREATE, BO_USERPTR, mmap, SUBMIT
 * of 1 and of 4 jobs, INFO, COUNTERS, REAP, close with a job in flight.
 *
 * Leaks outside the driver's own counters are kmemleak's part: guest-init
 * scans after this campaign. Needs CONFIG_FAULT_INJECTION_DEBUG_FS and
 * CONFIG_FAULT_INJECTION_STACKTRACE_FILTER; elsewhere it skips.
 *
 * Usage: spatten-failnth [-m max_n] [-d probe_depth]
 */
#include "rel_common.h"

#define HEADS		2
#define ROWS		16
#define DIM		32
#define TB		(HEADS * ROWS * DIM * 2)	/* one S16 tensor */
#define NJOBS		4
#define BO_SIZE		(64 * 1024)
#define USERPTR_SIZE	(64 * 1024)
#define BIG_BO_SIZE	(64 * 1024)	/* 16 pages, allocated when used */
#define WAIT_NS		(60 * NSEC_PER_SEC)

static const char *const fault_dirs[] = {
	"/sys/kernel/debug/failslab",
	"/sys/kernel/debug/fail_page_alloc",
};

/* State shared by the operations: one file with a filled buffer. */
struct sweep {
	int fd;			/* the prepared file */
	uint32_t handle;	/* its buffer: K, V, then per-job Q and output */
	uint8_t *map;
	uint8_t golden[NJOBS][TB];
	int tmp_fd;		/* what an operation made, undone after it */
	uint32_t tmp_handle;
	void *tmp_map;
	void *userptr_mem;
	char node[PATH_MAX];	/* the node, found before the injection */
	uint64_t seqno;
	uint64_t mmap_off;
};

static int max_nth = 400;
/*
 * Stack frames searched for the module in the probe sweep: for slab
 * allocations 7 (the module's own and those of the helpers it calls:
 * devres, request_irq, the DRM device, its minor and the schedulers), for
 * pages 3 more (the DMA
 * layer's frames under dmam_alloc_coherent: the rings); not the ACPI
 * interpreter's or procfs's deep inside the PCI and IRQ cores, whose
 * unwinding under allocation failure is theirs (docs/reliability.md,
 * campaign 6).
 */
static int probe_depth = 7;

/* ---- fault-injection set-up --------------------------------------------- */

static int fault_knob(const char *dir, const char *name, const char *val)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return write_file(path, val);
}

/*
 * The module's memory as /proc/modules gives it: the text base and the
 * total size of all its parts, so the range may run past its text; it
 * must not hold another module's text (which would then count too), and
 * a hidden address (kptr_restrict) would match nothing.
 */
static int module_range(unsigned long *start, unsigned long *end)
{
	char line[512], name[64];
	unsigned long size, base, other[64];
	FILE *f = fopen("/proc/modules", "re");
	int i, n_other = 0, ret = -ENOENT;

	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%63s %lu %*d %*s %*s %lx", name, &size,
			   &base) != 3)
			continue;
		if (strcmp(name, "spatten")) {
			if (n_other < 64)
				other[n_other++] = base;
			continue;
		}
		*start = base;
		*end = base + size;
		ret = base ? 0 : -EPERM;
	}
	fclose(f);
	for (i = 0; !ret && i < n_other; i++)
		if (other[i] >= *start && other[i] < *end)
			ret = -EEXIST;
	return ret;
}

/*
 * The text of kernel function @name: its address and the next text
 * symbol's, from /proc/kallsyms (KASLR-proof).
 */
static int symbol_range(const char *name, unsigned long *start,
			unsigned long *end)
{
	char line[512], sym[256], type;
	unsigned long addr, next = ~0UL;
	FILE *f = fopen("/proc/kallsyms", "re");

	if (!f)
		return -errno;
	*start = 0;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%lx %c %255s", &addr, &type, sym) != 3)
			continue;
		if (!strcmp(sym, name) && (type == 'T' || type == 't'))
			*start = addr;
	}
	rewind(f);
	while (*start && fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%lx %c %255s", &addr, &type, sym) == 3 &&
		    addr > *start && addr < next && strchr("Tt", type))
			next = addr;
	}
	fclose(f);
	*end = next;
	return *start && next != ~0UL ? 0 : -ENOENT;
}

/*
 * Aim failslab and fail_page_alloc at the module, fail-nth only. The
 * DMA-API checker's own bookkeeping (its radix tree of mapped cachelines,
 * filled under our dma_map_page()) is left alone: failing it only switches
 * the checker off ("cacheline tracking ENOMEM, dma-debug disabled"), and
 * its leak checks at unbind are part of what this sweep relies on.
 */
static int faults_aim(int slab_depth, int page_depth)
{
	unsigned long start = 0, end = 0, rstart = 0, rend = 0;
	char s[32], e[32], rs[32], re[32], d[16];
	size_t i;

	if (module_range(&start, &end) ||
	    symbol_range("radix_tree_insert", &rstart, &rend))
		return -ENOENT;
	snprintf(s, sizeof(s), "%lu", start);
	snprintf(e, sizeof(e), "%lu", end);
	snprintf(rs, sizeof(rs), "%lu", rstart);
	snprintf(re, sizeof(re), "%lu", rend);
	for (i = 0; i < sizeof(fault_dirs) / sizeof(fault_dirs[0]); i++) {
		const char *dir = fault_dirs[i];

		snprintf(d, sizeof(d), "%d", i ? page_depth : slab_depth);

		/* Order matters: start first would be rejected as > end. */
		if (fault_knob(dir, "require-end", e) ||
		    fault_knob(dir, "require-start", s) ||
		    fault_knob(dir, "reject-end", re) ||
		    fault_knob(dir, "reject-start", rs) ||
		    fault_knob(dir, "stacktrace-depth", d) ||
		    fault_knob(dir, "ignore-gfp-wait", "N") ||
		    fault_knob(dir, "probability", "0") ||
		    fault_knob(dir, "verbose", "0"))
			return -EIO;
	}
	if (fault_knob(fault_dirs[1], "min-order", "0"))
		return -EIO;
	diag("failslab and fail_page_alloc aimed at spatten.ko [%#lx, %#lx) within %d and %d frames, not at radix_tree_insert [%#lx, %#lx)",
	     start, end, slab_depth, page_depth, rstart, rend);
	return 0;
}

static void faults_reset(void)
{
	size_t i;

	for (i = 0; i < sizeof(fault_dirs) / sizeof(fault_dirs[0]); i++) {
		fault_knob(fault_dirs[i], "require-start", "0");
		fault_knob(fault_dirs[i], "require-end", "18446744073709551615");
		fault_knob(fault_dirs[i], "reject-start", "0");
		fault_knob(fault_dirs[i], "reject-end", "0");
		fault_knob(fault_dirs[i], "stacktrace-depth", "32");
		fault_knob(fault_dirs[i], "verbose", "2");
		fault_knob(fault_dirs[i], "ignore-gfp-wait", "Y");
	}
	fault_knob(fault_dirs[1], "min-order", "1");
}

static int failnth_fd = -1;

static int fail_nth_set(unsigned int n)
{
	char v[16];
	int len = snprintf(v, sizeof(v), "%u", n);

	if (pwrite(failnth_fd, v, len, 0) != len)
		return -errno;
	return 0;
}

/* What is left of the count: 0 once the n-th allocation was failed. */
static long fail_nth_get(void)
{
	char v[16] = { 0 };

	if (pread(failnth_fd, v, sizeof(v) - 1, 0) < 0)
		return -errno;
	return strtol(v, NULL, 10);
}

/* ---- the prepared file and its jobs ------------------------------------- */

static void job_i(struct sweep *s, struct drm_spatten_job *j, int i)
{
	small_attn_job(j, s->handle, HEADS, ROWS, DIM, TB, (2 + i) * TB,
		       (2 + NJOBS + i) * TB);
	j->user_data = 0x2000 + i;
}

static uint8_t *out_of(struct sweep *s, int i)
{
	return s->map + (2 + NJOBS + i) * TB;
}

/* Wait for @n jobs from @seqno; outputs must equal the fault-free ones. */
static int reap_check(struct sweep *s, uint64_t seqno, int n, bool golden)
{
	struct drm_spatten_result w;
	int i, bad = 0;

	for (i = 0; i < n; i++) {
		if (wait_job(s->fd, seqno + i, WAIT_NS, &w) || w.status) {
			diag("job %d: WAIT or status %u", i, w.status);
			bad++;
			continue;
		}
		if (golden && memcmp(out_of(s, i), s->golden[i], TB)) {
			diag("job %d: output differs from the fault-free run", i);
			bad++;
		}
	}
	return bad;
}

static int submit_n(struct sweep *s, int n, uint64_t *seqno)
{
	struct drm_spatten_job j[NJOBS];
	int i;

	for (i = 0; i < n; i++) {
		job_i(s, &j[i], i);
		memset(out_of(s, i), 0, TB);
	}
	return submit(s->fd, j, n, seqno);
}

static int sweep_prepare(struct sweep *s)
{
	uint32_t seed = 4242;
	uint64_t seqno;
	int i;

	snprintf(s->node, sizeof(s->node), "%s", dev_path());
	s->fd = open_dev_flags(0);
	if (s->fd < 0 || bo_create(s->fd, BO_SIZE, &s->handle, &s->mmap_off))
		return -1;
	s->map = mmap(NULL, BO_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED,
		      s->fd, (off_t)s->mmap_off);
	if (s->map == MAP_FAILED)
		return -1;
	for (i = 0; i < (2 + NJOBS) * TB / 2; i++) {
		seed = seed * 1664525u + 1013904223u;
		((int16_t *)s->map)[i] = (int16_t)((int32_t)(seed >> 16) % 2048);
	}
	if (submit_n(s, NJOBS, &seqno) || reap_check(s, seqno, NJOBS, false))
		return -1;
	for (i = 0; i < NJOBS; i++)
		memcpy(s->golden[i], out_of(s, i), TB);
	return 0;
}

/* ---- the operations: act is the one syscall under injection ------------- */

struct op {
	const char *name;
	int (*prep)(struct sweep *s);		/* before, not injected */
	int (*act)(struct sweep *s);		/* 0 or -errno */
	int (*done)(struct sweep *s, int ret);	/* check a success, undo */
	int errno_ok;		/* another errno for running out (0: none) */
	unsigned int min_points;	/* fewer: the filter missed the module */
};

static int act_open(struct sweep *s)
{
	s->tmp_fd = open(s->node, O_RDWR | O_CLOEXEC);
	return s->tmp_fd < 0 ? -errno : 0;
}

static int done_close_tmp(struct sweep *s, int ret)
{
	if (s->tmp_fd >= 0)
		close(s->tmp_fd);
	s->tmp_fd = -1;
	return 0;
}

static int act_bo_create(struct sweep *s)
{
	return bo_create(s->fd, 4096, &s->tmp_handle, NULL);
}

static int act_bo_create_big(struct sweep *s)
{
	return bo_create(s->fd, BIG_BO_SIZE, &s->tmp_handle, NULL);
}

static int done_bo_destroy(struct sweep *s, int ret)
{
	if (ret)
		return 0;
	ret = bo_destroy(s->fd, s->tmp_handle);
	if (ret)
		diag("BO_DESTROY of handle %u: %d (%s)", s->tmp_handle, ret,
		     strerror(-ret));
	return ret ? 1 : 0;
}

static int act_bo_userptr(struct sweep *s)
{
	struct drm_spatten_bo_userptr u = {
		.user_ptr = (uintptr_t)s->userptr_mem, .size = USERPTR_SIZE,
	};
	int ret = xioctl(s->fd, DRM_IOCTL_SPATTEN_BO_USERPTR, &u);

	s->tmp_handle = u.handle;
	return ret;
}

static int act_mmap(struct sweep *s)
{
	s->tmp_map = mmap(NULL, BO_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED,
			  s->fd, (off_t)s->mmap_off);
	return s->tmp_map == MAP_FAILED ? -errno : 0;
}

static int done_munmap(struct sweep *s, int ret)
{
	int bad = 0;

	if (ret)
		return 0;
	/* The second mapping sees the buffer's contents. */
	if (memcmp(s->tmp_map, s->map, 2 * TB))
		bad = 1;
	munmap(s->tmp_map, BO_SIZE);
	return bad;
}

static int act_submit_one(struct sweep *s)
{
	return submit_n(s, 1, &s->seqno);
}

static int act_submit_batch(struct sweep *s)
{
	return submit_n(s, NJOBS, &s->seqno);
}

static int done_reap_one(struct sweep *s, int ret)
{
	return ret ? 0 : reap_check(s, s->seqno, 1, true);
}

static int done_reap_batch(struct sweep *s, int ret)
{
	return ret ? 0 : reap_check(s, s->seqno, NJOBS, true);
}

static int act_info(struct sweep *s)
{
	struct drm_spatten_info info;

	memset(&info, 0, sizeof(info));
	return xioctl(s->fd, DRM_IOCTL_SPATTEN_INFO, &info);
}

static int act_counters(struct sweep *s)
{
	struct drm_spatten_counters c;

	memset(&c, 0, sizeof(c));
	return xioctl(s->fd, DRM_IOCTL_SPATTEN_COUNTERS, &c);
}

/* NJOBS jobs done on the device, not reaped yet. */
static int prep_reap(struct sweep *s)
{
	if (submit_n(s, NJOBS, &s->seqno))
		return -1;
	return wait_idle(WAIT_NS) ? 0 : -1;
}

static struct drm_spatten_result reap_res[DRM_SPATTEN_REAP_MAX];
static int reap_n;

static int act_reap(struct sweep *s)
{
	reap_n = reap(s->fd, reap_res, DRM_SPATTEN_REAP_MAX, NJOBS, WAIT_NS,
		      NULL);
	return reap_n < 0 ? reap_n : 0;
}

/*
 * The REAP returned the NJOBS jobs, with the fault-free outputs; or, if
 * it failed, a REAP now does (a failed REAP loses no result).
 */
static int done_reaped(struct sweep *s, int ret)
{
	int n = reap_n, i, got = 0, bad = 0;

	if (!ret && n != NJOBS) {
		diag("REAP: %d of %d jobs", n, NJOBS);
		return 1;
	}
	if (ret) {
		n = reap(s->fd, reap_res, DRM_SPATTEN_REAP_MAX, NJOBS, WAIT_NS,
			 NULL);
		if (n != NJOBS) {
			diag("REAP after a failed REAP: %d of %d jobs", n,
			     NJOBS);
			return 1;
		}
	}
	for (i = 0; i < DRM_SPATTEN_REAP_MAX && got < n; i++, got++) {
		uint64_t k = reap_res[i].seqno - s->seqno;

		if (k >= NJOBS || reap_res[i].status) {
			diag("REAP: seqno %llu status %u",
			     (unsigned long long)reap_res[i].seqno,
			     reap_res[i].status);
			bad++;
		} else if (memcmp(out_of(s, k), s->golden[k], TB)) {
			diag("REAP: job %llu: output differs from the fault-free run",
			     (unsigned long long)k);
			bad++;
		}
	}
	return bad;
}

static int done_nothing(struct sweep *s, int ret)
{
	return 0;
}

/* A second file with a buffer and a job in flight, closed under faults. */
static int act_close_busy(struct sweep *s)
{
	return close(s->tmp_fd) ? -errno : 0;
}

static int prep_close_busy(struct sweep *s)
{
	struct drm_spatten_job j;
	uint32_t h;
	uint64_t seqno;

	s->tmp_fd = open(s->node, O_RDWR | O_CLOEXEC);
	if (s->tmp_fd < 0 || bo_create(s->tmp_fd, BO_SIZE, &h, NULL))
		return -1;
	nop_job(&j, 7);
	return submit(s->tmp_fd, &j, 1, &seqno);
}

static int done_closed(struct sweep *s, int ret)
{
	s->tmp_fd = -1;
	return 0;
}

/*
 * Minimum points: allocations each call must reach with spatten.ko on the
 * stack, so that the sweep cannot pass vacuously. The DRM driver makes
 * fewer allocations itself than the misc one did: GEM objects, handles,
 * shmem files and mmap offsets are allocated by drm.ko and
 * drm_shmem_helper.ko, scheduler fences by gpu-sched.ko (counted when the
 * driver calls them), and shmem pages only when the buffer is first used.
 * 1 until the sweep has run on the driver and the real counts are known
 * (the TAP line prints them); 0 where the call need not allocate.
 */
static const struct op ops[] = {
	{ "open", NULL, act_open, done_close_tmp, 0, 1 },
	{ "BO_CREATE 4 KiB", NULL, act_bo_create, done_bo_destroy, ENOSPC, 1 },
	{ "BO_CREATE 64 KiB", NULL, act_bo_create_big, done_bo_destroy,
	  ENOSPC, 1 },
	/* a partial pin is reported as EFAULT */
	{ "BO_USERPTR 64 KiB", NULL, act_bo_userptr, done_bo_destroy, EFAULT,
	  1 },
	{ "mmap", NULL, act_mmap, done_munmap, 0, 0 },
	{ "SUBMIT one job", NULL, act_submit_one, done_reap_one, 0, 1 },
	{ "SUBMIT four jobs", NULL, act_submit_batch, done_reap_batch, 0, 1 },
	{ "INFO", NULL, act_info, done_nothing, 0, 0 },
	{ "COUNTERS", NULL, act_counters, done_nothing, 0, 0 },
	{ "REAP four jobs", prep_reap, act_reap, done_reaped, 0, 0 },
	{ "close with a job in flight", prep_close_busy, act_close_busy,
	  done_closed, 0, 0 },
};

/* ---- probe: bind with the n-th allocation failed ------------------------ */

/* A freshly bound board: its node opens and runs a NOP job. */
static bool board_works(void)
{
	struct drm_spatten_job j;
	struct drm_spatten_result w;
	uint64_t seqno;
	int fd, ok;

	if (wait_node(NSEC_PER_SEC))
		return false;
	fd = open_dev_flags(0);
	if (fd < 0)
		return false;
	nop_job(&j, 99);
	ok = !submit(fd, &j, 1, &seqno) && !wait_job(fd, seqno, WAIT_NS, &w) &&
	     w.status == 0 && w.user_data == 99;
	close(fd);
	return ok;
}

/*
 * One bind with allocation @n failed: an error, or a board that works (and
 * is unbound again). Any errno passes: the PCI core reports a failed
 * allocation under pcim_iomap_regions() as EBUSY or EINVAL, and the driver
 * passes on what its helpers return. Returns as attempt() does.
 */
static int attempt_bind(const char *addr, unsigned int n,
			const struct objects *unbound, unsigned int *not_enomem)
{
	struct objects now;
	int ret, bad = 0;
	long left;

	if (fail_nth_set(n))
		return -1;
	ret = write_file(DRV_DIR "/bind", addr);
	left = fail_nth_get();
	fail_nth_set(0);
	if (ret && left != 0) {
		diag("probe: bind failed with %d (%s) without an injected failure",
		     ret, strerror(-ret));
		bad = 1;
	} else if (ret && ret != -ENOMEM) {
		diag("probe: allocation %u failed: bind returned %d (%s)", n,
		     ret, strerror(-ret));
		(*not_enomem)++;
	}
	if (!ret) {
		if (!board_works()) {
			diag("probe: allocation %u failed: bound, but the board does not run a job",
			     n);
			bad = 1;
		}
		write_file(DRV_DIR "/unbind", addr);
	}
	if (!objects_back_to(unbound, &now, 10 * NSEC_PER_SEC)) {
		diag("probe: allocation %u failed: objects not back to the unbound level",
		     n);
		bad = 1;
	}
	return bad ? -1 : left == 0;
}

/*
 * The probe path: every allocation of a bind (PCI set-up, queues and
 * their schedulers, vectors, the DRM device and its minor, sysfs,
 * debugfs) failed in turn. The bind runs
 * in the writing task, so fail-nth reaches it. The board is bound again
 * at the end.
 */
static void sweep_probe(void)
{
	struct objects unbound;
	char addr[64];
	unsigned int n, errs = 0, not_enomem = 0;
	int r = 1;

	if (pci_addr(addr, sizeof(addr)) ||
	    write_file(DRV_DIR "/unbind", addr)) {
		tap(false, "failnth: probe: unbind the board first");
		return;
	}
	objects_read(&unbound);
	for (n = 1; n <= (unsigned int)max_nth && r != 0 && errs < 5; n++) {
		r = attempt_bind(addr, n, &unbound, &not_enomem);
		if (r < 0)
			errs++;
	}
	if (write_file(DRV_DIR "/bind", addr) || !board_works())
		errs++;
	/*
	 * At least one: the DRM device, its minor, the queues and vectors
	 * are more, but how many the filter sees within probe_depth frames
	 * of the DRM driver is to be measured (the TAP line prints it).
	 */
	tap(!errs && r == 0 && n - 2 >= 1,
	    "failnth: probe (bind): each of its %u allocations failed in turn: an error (%u not ENOMEM), nothing left behind, the board binds and works after",
	    n - 2, not_enomem);
}

/* ---- the sweep ---------------------------------------------------------- */

/*
 * One attempt with the n-th allocation failed. Returns 1 when the n-th
 * allocation was reached (fired), 0 when the call needs fewer, -1 on a
 * defect (diagnosed).
 */
static int attempt(struct sweep *s, const struct op *op, unsigned int n,
		   const struct objects *base)
{
	struct objects now;
	long left;
	int ret, fired;

	if (op->prep && op->prep(s)) {
		diag("%s: set-up failed", op->name);
		return -1;
	}
	if (fail_nth_set(n))
		return -1;
	ret = op->act(s);
	left = fail_nth_get();
	fail_nth_set(0);
	fired = left == 0;
	if (ret && !(fired && (ret == -ENOMEM ||
			       (op->errno_ok && ret == -op->errno_ok)))) {
		diag("%s: allocation %u failed: returned %d (%s)%s", op->name,
		     n, ret, strerror(-ret), fired ? "" : " without a fault");
		op->done(s, ret);
		return -1;
	}
	if (op->done(s, ret)) {
		diag("%s: allocation %u failed: the call succeeded but its result is wrong",
		     op->name, n);
		return -1;
	}
	if (!objects_back_to(base, &now, 10 * NSEC_PER_SEC)) {
		char b[160], c[160];

		objects_str(base, b, sizeof(b));
		objects_str(&now, c, sizeof(c));
		diag("%s: allocation %u failed: objects %s, expected %s",
		     op->name, n, c, b);
		return -1;
	}
	return fired;
}

/* The aim holds: the first allocation of a BO_CREATE is failed. */
static bool positive_control(struct sweep *s)
{
	long left;
	int ret;

	if (fail_nth_set(1))
		return false;
	ret = act_bo_create(s);
	left = fail_nth_get();
	fail_nth_set(0);
	if (!ret)
		bo_destroy(s->fd, s->tmp_handle);
	return (ret == -ENOMEM || ret == -ENOSPC) && left == 0;
}

static void sweep_op(struct sweep *s, const struct op *op)
{
	struct objects base;
	unsigned int n, errs = 0;
	int r = 1;

	objects_read(&base);
	for (n = 1; n <= (unsigned int)max_nth && r != 0; n++) {
		r = attempt(s, op, n, &base);
		if (r < 0)
			errs++;
		if (errs >= 5)
			break;
	}
	if (errs || r != 0) {
		tap(false, "failnth: %s: every allocation failed in turn (%u points, %u defects%s)",
		    op->name, n - 1, errs, r != 0 && !errs ? ", no end" : "");
		return;
	}
	/* A sweep that reaches nothing proves nothing. */
	if (n - 2 < op->min_points) {
		tap(false, "failnth: %s: %u allocation points, at least %u expected (the stack filter misses the module?)",
		    op->name, n - 2, op->min_points);
		return;
	}
	tap(true, "failnth: %s: each of its %u allocations failed in turn: a clean error, nothing left behind",
	    op->name, n - 2);
}

int main(int argc, char **argv)
{
	struct sweep s = { .fd = -1, .tmp_fd = -1 };
	struct objects before, after;
	uint64_t seqno;
	size_t i;
	int opt;

	while ((opt = getopt(argc, argv, "m:d:")) != -1) {
		if (opt == 'm')
			max_nth = atoi(optarg);
		else if (opt == 'd')
			probe_depth = atoi(optarg);
		else
			return fprintf(stderr, "usage: %s [-m max_n] [-d probe_depth]\n",
				       argv[0]), 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	failnth_fd = open("/proc/thread-self/fail-nth", O_RDWR | O_CLOEXEC);
	if (failnth_fd < 0 || access("/sys/kernel/debug/failslab/require-start", W_OK)) {
		printf("ok - failnth # SKIP no fail-nth or failslab stack filter in this kernel\n");
		return 0;
	}
	if (objects_read(&before) || sweep_prepare(&s)) {
		tap(false, "failnth: set-up (device, buffer, fault-free jobs)");
		return 1;
	}
	s.userptr_mem = mmap(NULL, USERPTR_SIZE, PROT_READ | PROT_WRITE,
			     MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	if (s.userptr_mem == MAP_FAILED || faults_aim(32, 32)) {
		tap(false, "failnth: aim failslab and fail_page_alloc at spatten.ko");
		return 1;
	}
	tap(positive_control(&s),
	    "failnth: positive control: BO_CREATE with its first allocation failed returns ENOMEM");
	for (i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
		sweep_op(&s, &ops[i]);
	faults_reset();
	tap(!submit_n(&s, NJOBS, &seqno) && !reap_check(&s, seqno, NJOBS, true),
	    "failnth: the device runs jobs correctly after the sweep");
	munmap(s.map, BO_SIZE);
	close(s.fd);
	tap(objects_back_to(&before, &after, 10 * NSEC_PER_SEC),
	    "failnth: the driver's live objects are back to their level");
	if (faults_aim(probe_depth, probe_depth + 3) == 0)
		sweep_probe();
	faults_reset();
	return tap_failed;
}
