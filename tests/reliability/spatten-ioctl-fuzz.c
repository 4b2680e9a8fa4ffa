// SPDX-License-Identifier: MIT
/*
 * Campaign 1 (issue #7): syzkaller-style ioctl fuzzing of the board's DRM
 * node in the guest. Random sequences of valid and invalid calls - every
 * ioctl of the driver (INFO, BO_CREATE, BO_USERPTR, BO_INFO, SUBMIT with
 * random job sizes and in/out sync objects, WAIT, REAP, COUNTERS) and the
 * DRM core ioctls it relies on (GEM_CLOSE, PRIME handle <-> fd with
 * imports into another file, SYNCOBJ create/destroy/wait/timeline wait/
 * signal/reset), with random sizes, flags, handles, offsets and counts,
 * unknown command numbers, mmap/munmap at random offsets, BO_USERPTR of
 * unmapped, read-only, partial, shared and not-user ([vvar]) ranges, poll -
 * from several processes with several threads each sharing a file, while
 * other threads close and reopen the file (also during a WAIT), and
 * processes fork with open handles, submit, and exit or get killed with
 * jobs in flight.
 *
 * Every call runs on its own dup() of the shared file, so a result always
 * belongs to the file it was asked of, even when another thread swaps the
 * file meanwhile. Each file keeps the state of every sequence number: the
 * SUBMITs record theirs, WAIT and REAP results tick them off.
 *
 * Pass: every call returns 0 or an errno of its documented set; no job is
 * reaped twice (a second WAIT is -ENOENT); when a file is drained with
 * nothing else using it (half the swaps, and each process's last file),
 * REAP returns every job its SUBMITs recorded; the driver's live objects
 * (debugfs spatten/objects) return to their starting level. The guest
 * script then scans the kernel log and unloads the module.
 *
 * Usage: spatten-ioctl-fuzz [-n calls] [-p procs] [-t threads] [-s seed]
 */
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/syscall.h>

#include "rel_common.h"

#define MAX_HANDLES	32
#define MAX_SYNCOBJS	16
#define PAGE		4096u
#define MAX_JOBS	70
#define MAX_JOB_SIZE	(4096 + 64)
#define SEQNO_LIMIT	(1u << 26)
#define DRAIN_NS	(60 * NSEC_PER_SEC)

static long total_calls = 20000;
static int nprocs = 2, nthreads = 3;
static uint64_t seed0 = 1;

struct shared {			/* per process, in shared memory */
	atomic_long calls;
	atomic_long bad;	/* unexpected results */
	atomic_long jobs;	/* jobs reaped that a SUBMIT of ours recorded */
	atomic_long foreign;	/* reaped, submitted by a forked child */
	atomic_long lost;	/* recorded, not returned by a drain */
	atomic_long lossy;	/* ... by files that saw a REAP -EFAULT */
	atomic_long drains;	/* files drained and checked */
	atomic_long forks;
	atomic_long reopens;
	atomic_long exports;	/* PRIME exports */
	atomic_long imports;	/* PRIME imports into another file */
	atomic_long synced;	/* SUBMITs with in or out syncs accepted */
	atomic_long canceled;	/* SUBMIT -ECANCELED (banned file) */
	atomic_long errs[140];	/* -errno histogram */
	char first_bad[256];
	atomic_int op[8];	/* what each thread is doing (case of
				 * one_call, -1 idle), for the stall report */
};

static struct shared *sh;
static int stalled;
static pid_t pids[64];
static long calls_per_proc;

/* Sequence number states of a file. */
enum { SEQ_UNKNOWN, SEQ_PENDING, SEQ_REAPED, SEQ_REAPED_FIRST };

/* One open file of the device, shared by a process's threads. */
struct fobj {
	int fd;			/* closed by the thread that swaps it out */
	int refs;		/* fs's (while current) + one per call */
	uint32_t handles[MAX_HANDLES];
	uint64_t mmap_off[MAX_HANDLES];
	uint64_t sizes[MAX_HANDLES];
	int nh;
	uint32_t syncobjs[MAX_SYNCOBJS];
	uint64_t points[MAX_SYNCOBJS];	/* last timeline point added */
	int ns;
	uint8_t *st;		/* SEQ_* by sequence number */
	size_t st_len;
	uint64_t max_seqno;	/* highest recorded */
	bool lossy;		/* a REAP returned -EFAULT */
};

static struct {
	pthread_mutex_t lock;	/* everything in every fobj, and cur */
	struct fobj *cur;
} fs;

static struct drm_spatten_info info;

static void bad(const char *what, int ret)
{
	long n = atomic_fetch_add(&sh->bad, 1);

	if (n == 0)
		snprintf(sh->first_bad, sizeof(sh->first_bad), "%s: %d (%s)",
			 what, ret, ret < 0 ? strerror(-ret) : "-");
}

static void count(int ret)
{
	atomic_fetch_add(&sh->calls, 1);
	if (ret < 0 && -ret < 140)
		atomic_fetch_add(&sh->errs[-ret], 1);
}

/* ret must be 0 or one of the listed errnos (0-terminated). */
static void expect(const char *what, int ret, ...)
{
	va_list ap;
	int e;

	count(ret);
	if (ret >= 0)
		return;
	va_start(ap, ret);
	while ((e = va_arg(ap, int))) {
		if (-ret == e) {
			va_end(ap);
			return;
		}
	}
	va_end(ap);
	bad(what, ret);
}

/* ---- files ---------------------------------------------------------------- */

static struct fobj *fobj_new(int fd)
{
	struct fobj *f = calloc(1, sizeof(*f));

	f->fd = fd;
	f->refs = 1;
	return f;
}

/* The current file and a dup of it for one call (-1 if dup failed). */
static struct fobj *file_get(int *fd)
{
	struct fobj *f;

	pthread_mutex_lock(&fs.lock);
	f = fs.cur;
	f->refs++;
	*fd = fcntl(f->fd, F_DUPFD_CLOEXEC, 0);
	pthread_mutex_unlock(&fs.lock);
	return f;
}

static void file_put(struct fobj *f, int fd)
{
	bool last;

	if (fd >= 0)
		close(fd);
	pthread_mutex_lock(&fs.lock);
	last = --f->refs == 0;
	pthread_mutex_unlock(&fs.lock);
	if (last) {
		free(f->st);
		free(f);
	}
}

/* Record @n sequence numbers from @seqno as submitted. Under fs.lock. */
static void seq_submitted(struct fobj *f, uint64_t seqno, uint32_t n)
{
	uint64_t s;

	if (seqno == 0 || seqno + n > SEQNO_LIMIT) {
		bad("SUBMIT seqno out of range", (int)seqno);
		return;
	}
	if (seqno + n > f->st_len) {
		size_t len = (seqno + n) * 2;

		f->st = realloc(f->st, len);
		memset(f->st + f->st_len, 0, len - f->st_len);
		f->st_len = len;
	}
	for (s = seqno; s < seqno + n; s++) {
		if (f->st[s] == SEQ_UNKNOWN)
			f->st[s] = SEQ_PENDING;
		else if (f->st[s] == SEQ_REAPED_FIRST) {	/* reaped already */
			f->st[s] = SEQ_REAPED;
			atomic_fetch_add(&sh->jobs, 1);
		} else
			bad("SUBMIT returned a sequence number twice", (int)s);
	}
	if (seqno + n - 1 > f->max_seqno)
		f->max_seqno = seqno + n - 1;
}

/* A WAIT or REAP result of file @f. Under fs.lock. */
static void seq_reaped(struct fobj *f, const struct drm_spatten_result *r)
{
	uint64_t s = r->seqno;

	if (r->status > 15 && r->status != DRM_SPATTEN_STATUS_TIMEOUT &&
	    r->status != DRM_SPATTEN_STATUS_CANCELED)
		bad("job status", -(int)r->status);
	if (s == 0 || s >= SEQNO_LIMIT) {
		bad("result seqno out of range", (int)s);
		return;
	}
	if (s >= f->st_len) {
		size_t len = (s + 1) * 2;

		f->st = realloc(f->st, len);
		memset(f->st + f->st_len, 0, len - f->st_len);
		f->st_len = len;
	}
	switch (f->st[s]) {
	case SEQ_PENDING:
		f->st[s] = SEQ_REAPED;
		atomic_fetch_add(&sh->jobs, 1);
		break;
	case SEQ_UNKNOWN:	/* its SUBMIT not recorded yet, or a child's */
		f->st[s] = SEQ_REAPED_FIRST;
		break;
	default:
		bad("job reaped twice", (int)s);
	}
}

/*
 * Reap everything of @f through @fd (nothing else uses the file), then
 * check that each job a SUBMIT recorded was returned.
 */
static void drain(struct fobj *f, int fd)
{
	static __thread struct drm_spatten_result res[DRM_SPATTEN_REAP_MAX];
	uint32_t pending = 0, min;
	long lost = 0, foreign = 0;
	size_t s;
	int i, n;

	n = reap(fd, res, DRM_SPATTEN_REAP_MAX, 0, 0, &pending);
	for (;;) {
		count(n);
		if (n < 0) {
			bad("drain REAP", n);
			return;
		}
		pthread_mutex_lock(&fs.lock);
		for (i = 0; i < n; i++)
			seq_reaped(f, &res[i]);
		pthread_mutex_unlock(&fs.lock);
		if (!pending)
			break;
		min = pending < DRM_SPATTEN_REAP_MAX ? pending :
						       DRM_SPATTEN_REAP_MAX;
		n = reap(fd, res, DRM_SPATTEN_REAP_MAX, min, DRAIN_NS,
			 &pending);
	}
	for (s = 1; s < f->st_len; s++) {
		lost += f->st[s] == SEQ_PENDING;
		foreign += f->st[s] == SEQ_REAPED_FIRST;
	}
	atomic_fetch_add(&sh->foreign, foreign);
	atomic_fetch_add(&sh->drains, 1);
	if (lost && f->lossy) {
		atomic_fetch_add(&sh->lossy, lost);
	} else if (lost) {
		atomic_fetch_add(&sh->lost, lost);
		bad("drain: jobs recorded but never returned", (int)lost);
	}
}

/* ---- random arguments ------------------------------------------------------ */

static uint32_t pick_handle(uint64_t *r, struct fobj *f)
{
	uint32_t h = 0;

	switch (rndn(r, 8)) {
	case 0:
		return 0;
	case 1:
		return (uint32_t)rnd64(r);
	case 2:
		return 1 + rndn(r, 64);
	default:
		pthread_mutex_lock(&fs.lock);
		if (f->nh)
			h = f->handles[rndn(r, f->nh)];
		pthread_mutex_unlock(&fs.lock);
		return h;
	}
}

static uint32_t pick_syncobj(uint64_t *r, struct fobj *f, int *idx)
{
	uint32_t h = 0;

	*idx = -1;
	switch (rndn(r, 10)) {
	case 0:
		return (uint32_t)rnd64(r);
	case 1:
		return rndn(r, 64);
	default:
		pthread_mutex_lock(&fs.lock);
		if (f->ns) {
			*idx = rndn(r, f->ns);
			h = f->syncobjs[*idx];
		}
		pthread_mutex_unlock(&fs.lock);
		return h;
	}
}

static uint64_t pick_size(uint64_t *r)
{
	switch (rndn(r, 8)) {
	case 0:
		return 0;
	case 1:
		return rnd64(r);
	case 2:
		return (256ull << 20) + PAGE;	/* above max_bo_size */
	default:
		return 1 + rndn(r, 64 * 1024);
	}
}

static void add_handle(struct fobj *f, uint32_t h, uint64_t off, uint64_t size)
{
	pthread_mutex_lock(&fs.lock);
	if (f->nh < MAX_HANDLES) {
		f->handles[f->nh] = h;
		f->mmap_off[f->nh] = off;
		f->sizes[f->nh++] = size;
	}
	pthread_mutex_unlock(&fs.lock);
}

static void drop_handle(struct fobj *f, uint32_t h)
{
	int i;

	pthread_mutex_lock(&fs.lock);
	for (i = 0; i < f->nh; i++) {
		if (f->handles[i] == h) {
			f->handles[i] = f->handles[--f->nh];
			f->mmap_off[i] = f->mmap_off[f->nh];
			f->sizes[i] = f->sizes[f->nh];
			break;
		}
	}
	pthread_mutex_unlock(&fs.lock);
}

/* A job: mostly a valid small one, then a few fields mangled. */
static void random_job(uint64_t *r, struct fobj *f, struct drm_spatten_job *j)
{
	unsigned int heads = 1 + rndn(r, 2), dim = 16, rows = 1 + rndn(r, 8);
	uint32_t h = pick_handle(r, f);
	uint64_t t = (uint64_t)heads * rows * dim * 2;
	int i, n;

	if (rndn(r, 3) == 0) {
		nop_job(j, rnd64(r));
	} else {
		memset(j, 0, sizeof(*j));
		j->opcode = DRM_SPATTEN_OP_ATTENTION;
		j->version = DRM_SPATTEN_DESC_V2;
		j->n_heads = heads;
		j->head_dim = dim;
		j->q_rows = rows;
		j->kv_rows = rows;
		j->q_frac = j->k_frac = j->v_frac = j->out_frac = 8;
		tensor(&j->q, h, 0);
		tensor(&j->k, h, t);
		tensor(&j->v, h, 2 * t);
		tensor(&j->out, h, 3 * t);
	}
	n = rndn(r, 4);
	for (i = 0; i < n; i++) {
		uint8_t *b = (uint8_t *)j;

		switch (rndn(r, 4)) {
		case 0:
			b[rndn(r, sizeof(*j))] ^= 1u << rndn(r, 8);
			break;
		case 1:
			b[rndn(r, sizeof(*j))] = (uint8_t)rnd64(r);
			break;
		case 2: {	/* a random operand gets a random handle/offset */
			struct drm_spatten_tensor *tt = &j->q + rndn(r, 12);

			tt->handle = pick_handle(r, f);
			tt->offset = rndn(r, 2) ? rnd64(r) : rndn(r, 70000);
			break;
		}
		default:
			j->n_tok_alive = rndn(r, 3) ? 0 : rndn(r, 20);
			j->token_keep = rndn(r, 3) ? 0 : rndn(r, 20);
			break;
		}
	}
}

/*
 * @n sync entries: mostly syncobjs of the file, binary (point 0) or
 * timeline (@out: the next point; in: one already added, or a later one),
 * sometimes malformed.
 */
static void random_syncs(uint64_t *r, struct fobj *f,
			 struct drm_spatten_sync *sy, uint32_t n, bool out)
{
	uint32_t i;
	int idx;

	for (i = 0; i < n; i++) {
		sy[i].handle = pick_syncobj(r, f, &idx);
		sy[i].flags = 0;
		sy[i].point = 0;
		if (rndn(r, 2)) {
			sy[i].flags = DRM_SPATTEN_SYNC_TIMELINE;
			pthread_mutex_lock(&fs.lock);
			if (idx >= 0 && idx < f->ns && out)
				sy[i].point = ++f->points[idx];
			else if (idx >= 0 && idx < f->ns)
				sy[i].point = 1 + rndn(r, f->points[idx] + 2);
			else
				sy[i].point = 1 + rndn(r, 4);
			pthread_mutex_unlock(&fs.lock);
		}
		switch (rndn(r, 24)) {
		case 0:
			sy[i].flags = 1u << rndn(r, 32);
			break;
		case 1:
			sy[i].point = sy[i].flags ? 0 : 1 + rndn(r, 4);
			break;
		default:
			break;
		}
	}
}

/* The page-aligned [vvar] mapping: special pages, not user memory. */
static int vvar_range(uint64_t *start, uint64_t *len)
{
	char line[256];
	unsigned long a, b;
	FILE *fp = fopen("/proc/self/maps", "re");
	int ret = -ENOENT;

	if (!fp)
		return -errno;
	while (fgets(line, sizeof(line), fp)) {
		if (strstr(line, "[vvar]") &&
		    sscanf(line, "%lx-%lx", &a, &b) == 2) {
			*start = a;
			*len = b - a;
			ret = 0;
			break;
		}
	}
	fclose(fp);
	return ret;
}

/* ---- one call ---------------------------------------------------------------- */

struct tstate {
	uint64_t rng;
	int idx;
	uint8_t *jobs;		/* MAX_JOBS * MAX_JOB_SIZE */
	struct drm_spatten_result *res;	/* DRM_SPATTEN_REAP_MAX */
	uint8_t *raw;		/* 16 KiB: any _IOC_SIZE a random cmd names */
};

static __thread int my_tid;

static void op_submit(uint64_t *r, struct tstate *t, struct fobj *f, int fd)
{
	struct drm_spatten_sync in[20], out[20];
	struct drm_spatten_submit s = { 0 };
	struct drm_spatten_job j;
	uint32_t n = rndn(r, 10) ? 1 + rndn(r, 8) : rndn(r, MAX_JOBS);
	uint32_t size = JOB_SIZE, i;
	bool tail = false;
	int ret;

	switch (rndn(r, 24)) {
	case 0:		/* an older, shorter job: zero-extended */
		size = 8 * rndn(r, JOB_SIZE / 8);
		break;
	case 1:		/* a newer, longer one: zeros beyond, or not */
		size = JOB_SIZE + 8 * (1 + rndn(r, 8));
		tail = rndn(r, 3) == 0;
		break;
	case 2:
		size = rndn(r, 2) ? JOB_SIZE + 1 + rndn(r, 7) :
				    4096 + 8 * (1 + rndn(r, 8));
		break;
	default:
		break;
	}
	for (i = 0; i < n && i < MAX_JOBS; i++) {
		uint8_t *p = t->jobs + (size_t)i * (size ? size : 1);

		random_job(r, f, &j);
		if (size <= JOB_SIZE) {
			memcpy(p, &j, size);
		} else {
			memcpy(p, &j, JOB_SIZE);
			memset(p + JOB_SIZE, 0, size - JOB_SIZE);
			if (tail)
				p[JOB_SIZE + rndn(r, size - JOB_SIZE)] = 1;
		}
	}
	s.jobs_ptr = (uintptr_t)t->jobs;
	s.job_size = size;
	s.count = n;
	if (rndn(r, 4) == 0) {
		s.in_sync_count = rndn(r, 4);
		s.out_sync_count = rndn(r, 4);
		if (rndn(r, 16) == 0)
			s.in_sync_count = 17 + rndn(r, 3);
		random_syncs(r, f, in, s.in_sync_count < 20 ?
			     s.in_sync_count : 0, false);
		random_syncs(r, f, out, s.out_sync_count < 20 ?
			     s.out_sync_count : 0, true);
		s.in_syncs_ptr = (uintptr_t)in;
		s.out_syncs_ptr = (uintptr_t)out;
		if (rndn(r, 16) == 0)
			s.out_syncs_ptr = rndn(r, 2) ? 0 : rnd64(r);
	}
	if (rndn(r, 2))
		s.flags = DRM_SPATTEN_SUBMIT_NO_IMPLICIT;
	if (rndn(r, 16) == 0)
		s.jobs_ptr = rndn(r, 2) ? 0 : rnd64(r);
	if (rndn(r, 16) == 0)
		s.flags |= 1u << rndn(r, 32);
	if (rndn(r, 32) == 0)
		s.rsvd0 = 1;
	if (rndn(r, 32) == 0)
		s.rsvd = 1;
	ret = xioctl(fd, DRM_IOCTL_SPATTEN_SUBMIT, &s);
	expect("SUBMIT", ret, EINVAL, EFAULT, ENOENT, ERANGE, E2BIG, EBUSY,
	       ENOMEM, ECANCELED, EBADF, 0);
	if (ret == -ECANCELED)
		atomic_fetch_add(&sh->canceled, 1);
	if (ret)
		return;
	if (s.submitted != n)
		bad("SUBMIT submitted != count", (int)s.submitted);
	if (s.in_sync_count || s.out_sync_count)
		atomic_fetch_add(&sh->synced, 1);
	pthread_mutex_lock(&fs.lock);
	seq_submitted(f, s.seqno, n);
	pthread_mutex_unlock(&fs.lock);
}

static void op_wait(uint64_t *r, struct fobj *f, int fd)
{
	struct drm_spatten_wait w = { 0 };
	uint64_t max;
	int ret;

	pthread_mutex_lock(&fs.lock);
	max = f->max_seqno;
	pthread_mutex_unlock(&fs.lock);
	if (max && rndn(r, 4))
		w.seqno = 1 + rndn(r, max);
	else
		w.seqno = rndn(r, 2) ? rndn(r, 100) : rnd64(r);
	w.timeout_ns = rndn(r, 2) ? 0 : now_ns() + rndn(r, 20000000);
	if (rndn(r, 16) == 0)
		w.flags = 1;
	if (rndn(r, 16) == 0)
		w.rsvd = 1;
	ret = xioctl(fd, DRM_IOCTL_SPATTEN_WAIT, &w);
	expect("WAIT", ret, EINVAL, ENOENT, ETIME, EBADF, 0);
	if (ret)
		return;
	if (w.result.seqno != w.seqno)
		bad("WAIT result of another seqno", (int)w.result.seqno);
	pthread_mutex_lock(&fs.lock);
	seq_reaped(f, &w.result);
	pthread_mutex_unlock(&fs.lock);
	/* Reaped: a second WAIT does not find it. */
	ret = wait_job(fd, w.seqno, 0, NULL);
	count(ret);
	if (ret != -ENOENT)
		bad("second WAIT of a reaped job", ret);
}

static void op_reap(uint64_t *r, struct tstate *t, struct fobj *f, int fd)
{
	struct drm_spatten_reap rp = { 0 };
	int ret, i;

	rp.results_ptr = (uintptr_t)t->res;
	rp.count = rndn(r, 4) ? 1 + rndn(r, 16) : 1 + rndn(r, 256);
	rp.min_count = rndn(r, 2) ? 0 : rndn(r, rp.count + 1);
	rp.timeout_ns = rndn(r, 2) ? 0 : now_ns() + rndn(r, 20000000);
	switch (rndn(r, 24)) {
	case 0:
		rp.count = rndn(r, 2) ? 0 : 257 + rndn(r, 1000);
		break;
	case 1:
		rp.min_count = rp.count + 1 + rndn(r, 4);
		break;
	case 2:
		rp.flags = 1u << rndn(r, 32);
		break;
	case 3:
		rp.result_size = rndn(r, 2) ? 1 + 8 * rndn(r, 8) : 4104;
		break;
	case 4:		/* results nowhere: -EFAULT if any is reaped */
		rp.results_ptr = rndn(r, 2) ? 0 : 0x10;
		break;
	default:
		break;
	}
	ret = xioctl(fd, DRM_IOCTL_SPATTEN_REAP, &rp);
	expect("REAP", ret, EINVAL, EFAULT, ETIME, EBADF, 0);
	if (ret == -EFAULT) {
		pthread_mutex_lock(&fs.lock);
		f->lossy = true;
		pthread_mutex_unlock(&fs.lock);
	}
	if (ret)
		return;
	if (rp.reaped > rp.count) {
		bad("REAP reaped > count", (int)rp.reaped);
		return;
	}
	pthread_mutex_lock(&fs.lock);
	for (i = 0; i < (int)rp.reaped; i++)
		seq_reaped(f, &t->res[i]);
	pthread_mutex_unlock(&fs.lock);
	if (rp.reaped) {
		ret = wait_job(fd, t->res[rndn(r, rp.reaped)].seqno, 0, NULL);
		count(ret);
		if (ret != -ENOENT)
			bad("WAIT of a job REAP returned", ret);
	}
}

static void op_userptr(uint64_t *r, struct fobj *f, int fd)
{
	struct drm_spatten_bo_userptr u = { 0 };
	size_t len = PAGE * (1 + rndn(r, 4));
	int prot = rndn(r, 4) ? PROT_READ | PROT_WRITE : PROT_READ;
	int kind = rndn(r, 8), mfd = -1, ret;
	void *m;

	if (kind == 0) {	/* shmem: a memfd, shared */
		mfd = memfd_create("fuzz", MFD_CLOEXEC);
		if (mfd < 0 || ftruncate(mfd, len)) {
			if (mfd >= 0)
				close(mfd);
			return;
		}
		m = mmap(NULL, len, prot, MAP_SHARED, mfd, 0);
	} else if (kind == 1) {	/* shared anonymous: shmem too */
		m = mmap(NULL, len, prot, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	} else {
		m = mmap(NULL, len, prot, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	}
	if (m == MAP_FAILED) {
		if (mfd >= 0)
			close(mfd);
		return;
	}
	u.user_ptr = (uintptr_t)m;
	u.size = len;
	switch (rndn(r, 7)) {
	case 0:
		u.user_ptr += 1 + rndn(r, PAGE - 1);
		break;
	case 1:
		u.size += PAGE * (1 + rndn(r, 4));	/* past the end */
		break;
	case 2:
		u.user_ptr = rnd64(r) & ~(uint64_t)(PAGE - 1);
		break;
	case 3:
		u.flags = rndn(r, 2);
		u.size = rndn(r, 2) ? u.size : rndn(r, 3) * PAGE + rndn(r, 2);
		break;
	case 4: {	/* not user memory */
		uint64_t a = 0, l = 0;

		if (!vvar_range(&a, &l)) {
			u.user_ptr = a;
			u.size = l;
		}
		break;
	}
	default:
		break;
	}
	ret = xioctl(fd, DRM_IOCTL_SPATTEN_BO_USERPTR, &u);
	/* EBUSY: "past the end" reached another user BO's pages. */
	expect("BO_USERPTR", ret, EINVAL, EFAULT, EBUSY, ENOMEM, EOPNOTSUPP,
	       EBADF, 0);
	if (!ret) {
		struct drm_spatten_bo_info bi = { .handle = u.handle };

		ret = xioctl(fd, DRM_IOCTL_SPATTEN_BO_INFO, &bi);
		count(ret);
		if (ret || bi.kind != DRM_SPATTEN_BO_USER ||
		    bi.size != u.size || bi.mmap_offset)
			bad("BO_INFO of a user BO", ret ? ret : (int)bi.kind);
		/* Unmap at once: the pins keep the pages. */
		munmap(m, len);
		m = MAP_FAILED;
		if (rndn(r, 2)) {
			ret = bo_destroy(fd, u.handle);
			expect("GEM_CLOSE user BO", ret, EINVAL, EBADF, 0);
		} else {
			add_handle(f, u.handle, 0, u.size);
		}
	}
	if (m != MAP_FAILED)
		munmap(m, len);
	if (mfd >= 0)
		close(mfd);
}

/*
 * Whether @handle of @fd still names the buffer of dma-buf @dmabuf (a
 * sibling thread may have closed the handle and another buffer got its
 * number); if so, @bi is read again for it.
 */
static bool same_dmabuf(int fd, uint32_t handle, int dmabuf,
			struct drm_spatten_bo_info *bi)
{
	struct drm_prime_handle e = { .handle = handle, .flags = DRM_CLOEXEC };
	struct stat a, b;
	bool same;

	if (xioctl(fd, DRM_IOCTL_PRIME_HANDLE_TO_FD, &e))
		return false;
	same = !fstat(dmabuf, &a) && !fstat(e.fd, &b) && a.st_ino == b.st_ino;
	close(e.fd);
	bi->handle = handle;
	return same && !xioctl(fd, DRM_IOCTL_SPATTEN_BO_INFO, bi);
}

/* PRIME: export a handle, import it back and into another file. */
static void op_prime(uint64_t *r, struct fobj *f, int fd)
{
	struct drm_prime_handle p = { 0 };
	struct drm_spatten_bo_info bi = { 0 }, bi2 = { 0 };
	int ret, ofd;

	if (rndn(r, 4) == 0) {	/* import what is not a dma-buf */
		int mfd = rndn(r, 2) ? memfd_create("x", MFD_CLOEXEC) : -1;

		p.fd = mfd >= 0 ? mfd : rndn(r, 2) ? fd : -1 - rndn(r, 5);
		ret = xioctl(fd, DRM_IOCTL_PRIME_FD_TO_HANDLE, &p);
		expect("PRIME_FD_TO_HANDLE of a non-dma-buf", ret, EINVAL,
		       EBADF, 0);
		if (!ret)
			bad("PRIME_FD_TO_HANDLE of a non-dma-buf succeeded", 0);
		if (mfd >= 0)
			close(mfd);
		return;
	}
	p.handle = pick_handle(r, f);
	p.flags = DRM_CLOEXEC | (rndn(r, 2) ? DRM_RDWR : 0);
	if (rndn(r, 16) == 0)
		p.flags = 1u << rndn(r, 32);
	ret = xioctl(fd, DRM_IOCTL_PRIME_HANDLE_TO_FD, &p);
	/* A user BO is not exportable: which errno is the driver's. */
	expect("PRIME_HANDLE_TO_FD", ret, ENOENT, EINVAL, EOPNOTSUPP, EPERM,
	       ENODEV, ENOMEM, EMFILE, EBADF, 0);
	if (ret)
		return;
	atomic_fetch_add(&sh->exports, 1);
	bi.handle = p.handle;
	ret = xioctl(fd, DRM_IOCTL_SPATTEN_BO_INFO, &bi);
	count(ret);
	/*
	 * Another thread on the same file may have closed the handle
	 * meanwhile (the dma-buf keeps the object); then its size is unknown
	 * and the checks below cannot be made.
	 */
	if (ret && ret != -ENOENT)
		bad("BO_INFO of an exported handle", ret);
	if (ret) {
		close(p.fd);
		return;
	}
	/*
	 * The handle may even name another buffer by now (closed and reused
	 * by a sibling thread): the dma-buf's own size is the reference.
	 */
	bi.size = (uint64_t)lseek(p.fd, 0, SEEK_END);
	/* Back into the same file: the same object. */
	if (rndn(r, 2)) {
		struct drm_prime_handle q = { .fd = p.fd };

		ret = xioctl(fd, DRM_IOCTL_PRIME_FD_TO_HANDLE, &q);
		expect("PRIME_FD_TO_HANDLE (self)", ret, ENOMEM, 0);
		if (!ret) {
			bi2.handle = q.handle;
			ret = xioctl(fd, DRM_IOCTL_SPATTEN_BO_INFO, &bi2);
			count(ret);
			/* The handle is shared with the file's other threads. */
			if ((ret && ret != -ENOENT) ||
			    (!ret && bi2.size != bi.size &&
			     same_dmabuf(fd, q.handle, p.fd, &bi2) &&
			     bi2.size != bi.size))
				bad("BO_INFO of a self-import", ret);
		}
	}
	/* Into another file of the board: a handle there, dropped or not. */
	if (rndn(r, 2)) {
		ofd = open_dev_flags(0);
		if (ofd >= 0) {
			struct drm_prime_handle q = { .fd = p.fd };

			ret = xioctl(ofd, DRM_IOCTL_PRIME_FD_TO_HANDLE, &q);
			expect("PRIME_FD_TO_HANDLE (other file)", ret, ENOMEM,
			       0);
			if (!ret) {
				atomic_fetch_add(&sh->imports, 1);
				bi2.handle = q.handle;
				ret = xioctl(ofd, DRM_IOCTL_SPATTEN_BO_INFO,
					     &bi2);
				count(ret);
				/* A user-pointer buffer is never exported. */
				if (ret || bi2.size != bi.size ||
				    bi2.kind == DRM_SPATTEN_BO_USER)
					bad("BO_INFO of an import", ret);
				if (rndn(r, 2)) {
					struct drm_spatten_job j;
					uint64_t s;

					small_attn_job(&j, q.handle, 1, 1, 16,
						       32, 64, 96);
					ret = submit(ofd, &j, 1, &s);
					expect("SUBMIT on an import", ret,
					       ERANGE, EBUSY, ENOMEM, 0);
					if (!ret && rndn(r, 2)) {
						ret = wait_job(ofd, s,
							       DRAIN_NS, NULL);
						expect("WAIT on an import", ret,
						       0);
					}
				}
				if (rndn(r, 2))
					bo_destroy(ofd, q.handle);
			}
			close(ofd);	/* jobs in flight, perhaps */
		}
	}
	close(p.fd);
}

static void op_syncobj(uint64_t *r, struct fobj *f, int fd)
{
	uint32_t hs[8];
	uint64_t pts[8];
	int ret, i, n, idx;

	switch (rndn(r, 6)) {
	case 0:
	case 1: {	/* create */
		struct drm_syncobj_create c = { 0 };

		c.flags = rndn(r, 2) ? DRM_SYNCOBJ_CREATE_SIGNALED : 0;
		if (rndn(r, 16) == 0)
			c.flags = 1u << rndn(r, 32);
		ret = xioctl(fd, DRM_IOCTL_SYNCOBJ_CREATE, &c);
		expect("SYNCOBJ_CREATE", ret, EINVAL, ENOMEM, EBADF, 0);
		if (ret)
			break;
		pthread_mutex_lock(&fs.lock);
		if (f->ns < MAX_SYNCOBJS) {
			f->points[f->ns] = 0;
			f->syncobjs[f->ns++] = c.handle;
			c.handle = 0;
		}
		pthread_mutex_unlock(&fs.lock);
		if (c.handle) {
			ret = syncobj_destroy(fd, c.handle);
			expect("SYNCOBJ_DESTROY", ret, 0);
		}
		break;
	}
	case 2: {	/* destroy */
		struct drm_syncobj_destroy d = { 0 };

		d.handle = pick_syncobj(r, f, &idx);
		if (rndn(r, 16) == 0)
			d.pad = 1;
		ret = xioctl(fd, DRM_IOCTL_SYNCOBJ_DESTROY, &d);
		expect("SYNCOBJ_DESTROY", ret, EINVAL, ENOENT, EBADF, 0);
		if (ret)
			break;
		pthread_mutex_lock(&fs.lock);
		for (i = 0; i < f->ns; i++) {
			if (f->syncobjs[i] == d.handle) {
				f->syncobjs[i] = f->syncobjs[--f->ns];
				f->points[i] = f->points[f->ns];
				break;
			}
		}
		pthread_mutex_unlock(&fs.lock);
		break;
	}
	case 3: {	/* wait, binary */
		struct drm_syncobj_wait w = { 0 };

		n = 1 + rndn(r, 4);
		for (i = 0; i < n; i++)
			hs[i] = pick_syncobj(r, f, &idx);
		w.handles = (uintptr_t)hs;
		w.count_handles = rndn(r, 16) ? n : 0;
		w.flags = rndn(r, 4);	/* WAIT_ALL, WAIT_FOR_SUBMIT */
		if (rndn(r, 16) == 0)
			w.flags = 1u << rndn(r, 32);
		w.timeout_nsec = rndn(r, 2) ? 0 : now_ns() + rndn(r, 20000000);
		ret = xioctl(fd, DRM_IOCTL_SYNCOBJ_WAIT, &w);
		expect("SYNCOBJ_WAIT", ret, EINVAL, ENOENT, ETIME, EFAULT,
		       ENOMEM, EBADF, 0);
		break;
	}
	case 4: {	/* wait, timeline */
		struct drm_syncobj_timeline_wait w = { 0 };

		n = 1 + rndn(r, 4);
		for (i = 0; i < n; i++) {
			hs[i] = pick_syncobj(r, f, &idx);
			pts[i] = rndn(r, 4);
		}
		w.handles = (uintptr_t)hs;
		w.points = (uintptr_t)pts;
		w.count_handles = rndn(r, 16) ? n : 0;
		w.flags = rndn(r, 8);	/* ALL, FOR_SUBMIT, AVAILABLE */
		if (rndn(r, 16) == 0)
			w.flags = 1u << rndn(r, 32);
		w.timeout_nsec = rndn(r, 2) ? 0 : now_ns() + rndn(r, 20000000);
		ret = xioctl(fd, DRM_IOCTL_SYNCOBJ_TIMELINE_WAIT, &w);
		expect("SYNCOBJ_TIMELINE_WAIT", ret, EINVAL, ENOENT, ETIME,
		       EFAULT, ENOMEM, EBADF, 0);
		break;
	}
	default: {	/* signal or reset: a binary fence, or none */
		struct drm_syncobj_array a = { 0 };

		n = 1 + rndn(r, 3);
		for (i = 0; i < n; i++)
			hs[i] = pick_syncobj(r, f, &idx);
		a.handles = (uintptr_t)hs;
		a.count_handles = n;
		if (rndn(r, 16) == 0)
			a.pad = 1;
		ret = xioctl(fd, rndn(r, 2) ? DRM_IOCTL_SYNCOBJ_SIGNAL :
					      DRM_IOCTL_SYNCOBJ_RESET, &a);
		expect("SYNCOBJ_SIGNAL/RESET", ret, EINVAL, ENOENT, ENOMEM,
		       EBADF, 0);
		break;
	}
	}
}

/* Swap the file: close it now (possibly during others' calls), or drain. */
static void op_swap(uint64_t *r, struct fobj *f, int fd)
{
	struct fobj *nf;
	bool quiesce = rndn(r, 2), ours;
	int nfd, refs, i;

	nfd = open_dev_flags(rndn(r, 4) ? 0 : O_NONBLOCK);
	count(nfd < 0 ? -errno : 0);
	if (nfd < 0) {
		bad("reopen", -errno);
		return;
	}
	nf = fobj_new(nfd);
	pthread_mutex_lock(&fs.lock);
	ours = fs.cur == f;
	if (ours) {
		fs.cur = nf;
		f->refs--;	/* fs's; this call's is left */
	}
	pthread_mutex_unlock(&fs.lock);
	if (!ours) {	/* another thread swapped it meanwhile */
		close(nfd);
		free(nf);
		return;
	}
	atomic_fetch_add(&sh->reopens, 1);
	if (quiesce) {
		/* The calls of the others on it end (within their
		 * deadlines): then it is ours alone. */
		for (i = 0; i < 120000; i++) {
			pthread_mutex_lock(&fs.lock);
			refs = f->refs;
			pthread_mutex_unlock(&fs.lock);
			if (refs == 1)
				break;
			sleep_ms(1);
		}
		if (refs == 1)
			drain(f, fd);
		else
			bad("swap: a call on the old file did not return", refs);
	}
	close(f->fd);	/* the others may still be in a call on it */
	f->fd = -1;
}

static void op_raw(uint64_t *r, struct tstate *t, int fd)
{
	unsigned long cmd;
	int ret;

	memset(t->raw, 0, 16384);
	switch (rndn(r, 3)) {
	case 0:		/* driver range, any direction and size */
		cmd = _IOC(rndn(r, 4), DRM_IOCTL_BASE,
			   DRM_COMMAND_BASE + rndn(r, 16), rndn(r, 512));
		break;
	case 1:
		cmd = (unsigned long)(uint32_t)rnd64(r);
		break;
	default:	/* a known driver command with a wrong size */
		cmd = _IOC(_IOC_READ | _IOC_WRITE, DRM_IOCTL_BASE,
			   DRM_COMMAND_BASE + rndn(r, 8), 8 * rndn(r, 40));
		break;
	}
	ret = xioctl(fd, cmd, t->raw);
	/* Zeroed arguments to any driver or DRM core ioctl. */
	expect("raw ioctl", ret, ENOTTY, EINVAL, EBADF, ENOENT, EFAULT,
	       ENOMEM, ENOSPC, ERANGE, ETIME, EBUSY, EACCES, EPERM,
	       EOPNOTSUPP, ENOSYS, ENODEV, E2BIG, EOVERFLOW, 0);
}

static void one_call(struct tstate *t)
{
	uint64_t *r = &t->rng;
	int fd, ret, i, op = rndn(r, 22);
	struct fobj *f = file_get(&fd);

	if (fd < 0) {	/* out of descriptors: nothing to call on */
		count(-EBADF);
		file_put(f, fd);
		return;
	}
	atomic_store(&sh->op[my_tid], op);
	switch (op) {
	case 0: {	/* INFO */
		struct drm_spatten_info in;

		memset(&in, 0, sizeof(in));
		if (rndn(r, 8) == 0)
			in.flags = 1u << rndn(r, 32);
		ret = xioctl(fd, DRM_IOCTL_SPATTEN_INFO, &in);
		expect("INFO", ret, EINVAL, EBADF, 0);
		if (!ret && in.api_version != DRM_SPATTEN_API_VERSION)
			bad("INFO api_version", (int)in.api_version);
		break;
	}
	case 1:
		op_raw(r, t, fd);
		break;
	case 2:
	case 3: {	/* BO_CREATE */
		struct drm_spatten_bo_create c = { .size = pick_size(r) };

		if (rndn(r, 8) == 0)
			c.flags = 1u << rndn(r, 32);
		ret = xioctl(fd, DRM_IOCTL_SPATTEN_BO_CREATE, &c);
		expect("BO_CREATE", ret, EINVAL, ENOMEM, ENOSPC, EBADF, 0);
		if (!ret)
			add_handle(f, c.handle, c.mmap_offset, c.size);
		break;
	}
	case 4: {	/* GEM_CLOSE */
		struct drm_gem_close c = { .handle = pick_handle(r, f) };

		ret = xioctl(fd, DRM_IOCTL_GEM_CLOSE, &c);
		expect("GEM_CLOSE", ret, EINVAL, EBADF, 0);
		if (!ret)
			drop_handle(f, c.handle);
		break;
	}
	case 5:
		op_userptr(r, f, fd);
		break;
	case 6:
	case 7:
	case 8:
		op_submit(r, t, f, fd);
		break;
	case 9:
	case 10:
		op_wait(r, f, fd);
		break;
	case 11: {	/* COUNTERS */
		struct drm_spatten_counters c = { 0 };

		if (rndn(r, 8) == 0)
			c.flags = 1;
		ret = xioctl(fd, DRM_IOCTL_SPATTEN_COUNTERS, &c);
		expect("COUNTERS", ret, EINVAL, EBADF, 0);
		if (!ret && c.num != DRM_SPATTEN_CNT_NUM)
			bad("COUNTERS num", (int)c.num);
		break;
	}
	case 12: {	/* mmap at a random place, touch, unmap */
		uint64_t off = 0, size = PAGE;
		size_t len;
		void *m;

		pthread_mutex_lock(&fs.lock);
		if (f->nh && rndn(r, 4)) {
			i = rndn(r, f->nh);
			off = f->mmap_off[i];
			size = f->sizes[i];
		}
		pthread_mutex_unlock(&fs.lock);
		if (rndn(r, 3) == 0)
			off += (uint64_t)PAGE * rndn(r, 32);
		if (rndn(r, 8) == 0)
			off = rnd64(r) & ~(uint64_t)(PAGE - 1) & INT64_MAX;
		len = rndn(r, 4) ? (size_t)((size + PAGE - 1) & ~(PAGE - 1)) :
				   PAGE * (1 + rndn(r, 40));
		m = mmap(NULL, len, PROT_READ | PROT_WRITE,
			 rndn(r, 10) ? MAP_SHARED : MAP_PRIVATE, fd,
			 (off_t)off);
		ret = m == MAP_FAILED ? -errno : 0;
		expect("mmap", ret, EINVAL, EBADF, ENODEV, ENOMEM, EOVERFLOW,
		       EACCES, EPERM, 0);
		if (!ret) {
			((volatile char *)m)[0] = 1;
			((volatile char *)m)[len - 1] = 2;
			munmap(m, len);
		}
		break;
	}
	case 13: {	/* poll */
		struct pollfd pf = { .fd = fd, .events = POLLIN };

		ret = poll(&pf, 1, 0);
		count(ret < 0 ? -errno : 0);
		if (ret > 0 && (pf.revents & (POLLERR | POLLHUP | POLLNVAL)))
			bad("poll: error or hang-up on a bound board",
			    pf.revents);
		break;
	}
	case 14:
		if (rndn(r, 8) == 0)
			op_swap(r, f, fd);
		break;
	case 15:
	case 16:
		op_reap(r, t, f, fd);
		break;
	case 17: {	/* BO_INFO */
		struct drm_spatten_bo_info bi = { .handle = pick_handle(r, f) };

		if (rndn(r, 16) == 0)
			bi.flags = 1u << rndn(r, 32);
		ret = xioctl(fd, DRM_IOCTL_SPATTEN_BO_INFO, &bi);
		expect("BO_INFO", ret, EINVAL, ENOENT, EBADF, 0);
		if (!ret && (bi.kind < DRM_SPATTEN_BO_SHMEM ||
			     bi.kind > DRM_SPATTEN_BO_IMPORTED || bi.rsvd ||
			     !bi.size || (bi.kind == DRM_SPATTEN_BO_USER &&
					  bi.mmap_offset)))
			bad("BO_INFO result", (int)bi.kind);
		break;
	}
	case 18:
		op_prime(r, f, fd);
		break;
	case 19:
	case 20:
		op_syncobj(r, f, fd);
		break;
	default: {	/* fork with open handles */
		pid_t pid;
		int st;

		if (rndn(r, 16))
			break;
		pid = fork();
		if (pid < 0)
			break;
		if (pid == 0) {
			struct drm_spatten_job j[8];
			uint32_t h;
			uint64_t s = 0;

			/*
			 * Only this thread lives on in the child: another
			 * one may have held the lock at fork() time.
			 */
			pthread_mutex_init(&fs.lock, NULL);

			/* The child uses the inherited file, then dies. */
			for (i = 0; i < 8; i++)
				random_job(r, f, &j[i]);
			if (!bo_create(fd, PAGE * 4, &h, NULL)) {
				for (i = 0; i < 8; i++)
					tensor(&j[i].q, h, 0);
			}
			submit(fd, j, 1 + rndn(r, 8), &s);
			if (rndn(r, 2))
				wait_job(fd, s, rndn(r, 5000000), NULL);
			if (rndn(r, 2))
				raise(SIGKILL);
			_exit(0);
		}
		if (rndn(r, 2))
			kill(pid, SIGKILL);
		waitpid(pid, &st, 0);
		atomic_fetch_add(&sh->forks, 1);
		count(0);
		break;
	}
	}
	file_put(f, fd);
}

static void *thread_main(void *arg)
{
	struct tstate *t = arg;

	my_tid = t->idx;
	t->jobs = calloc(MAX_JOBS, MAX_JOB_SIZE);
	t->res = calloc(DRM_SPATTEN_REAP_MAX, sizeof(*t->res));
	t->raw = calloc(1, 16384);
	while (atomic_load(&sh->calls) < calls_per_proc)
		one_call(t);
	atomic_store(&sh->op[my_tid], -1);
	free(t->jobs);
	free(t->res);
	free(t->raw);
	return NULL;
}

static int proc_main(int idx)
{
	struct tstate *t = calloc(nthreads, sizeof(*t));
	int fd, i;

	pthread_mutex_init(&fs.lock, NULL);
	fd = open_dev_flags(idx % 2 ? O_NONBLOCK : 0);
	if (fd < 0)
		return 1;
	fs.cur = fobj_new(fd);
	for (i = 0; i < nthreads; i++) {
		t[i].rng = seed0 * 1000003u + idx * 7919u + i * 104729u + 1;
		t[i].idx = i;
	}
	{
		pthread_t tid[8];

		for (i = 0; i < nthreads; i++)
			pthread_create(&tid[i], NULL, thread_main, &t[i]);
		for (i = 0; i < nthreads; i++)
			pthread_join(tid[i], NULL);
	}
	/* The last file: nothing else uses it; every job comes back. */
	atomic_store(&sh->op[0], 100);
	drain(fs.cur, fs.cur->fd);
	atomic_store(&sh->op[0], -1);
	close(fs.cur->fd);
	return 0;
}

static void stall_report(void)
{
	char buf[2048];
	int i, t;

	diag("STALL: no call completed for 30 s");
	/* Blocked tasks' stacks to the kernel log. */
	write_file("/proc/sysrq-trigger", "w");
	for (i = 0; i < nprocs; i++)
		for (t = 0; t < nthreads; t++)
			diag("process %d thread %d: op %d", i, t, sh[i].op[t]);
	if (sysfs_read("queues", buf, sizeof(buf)) > 0)
		diag("queues: %s", buf);
	if (sysfs_read("faults", buf, sizeof(buf)) > 0)
		diag("faults: %s", buf);
	if (read_file(DEBUGFS_ROOT "/objects", buf, sizeof(buf)) > 0)
		diag("objects: %s", buf);
}

int main(int argc, char **argv)
{
	struct objects base, now;
	char b1[160], b2[160], name[32] = { 0 };
	struct drm_version v = { .name = name, .name_len = sizeof(name) - 1 };
	long calls = 0, badn = 0, jobs = 0, forks = 0, reopens = 0;
	long foreign = 0, lost = 0, lossy = 0, drains = 0, exports = 0;
	long imports = 0, synced = 0, canceled = 0;
	int64_t t0;
	int c, i, st;

	while ((c = getopt(argc, argv, "n:p:t:s:")) != -1) {
		switch (c) {
		case 'n': total_calls = atol(optarg); break;
		case 'p': nprocs = atoi(optarg) < 64 ? atoi(optarg) : 64; break;
		case 't': nthreads = atoi(optarg) < 8 ? atoi(optarg) : 8; break;
		case 's': seed0 = strtoull(optarg, NULL, 0); break;
		default: return 2;
		}
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	signal(SIGPIPE, SIG_IGN);
	i = open_dev_flags(0);
	if (i < 0 || xioctl(i, DRM_IOCTL_SPATTEN_INFO, &info)) {
		tap(false, "ioctl fuzz: open %s", dev_path());
		return 1;
	}
	tap(!xioctl(i, DRM_IOCTL_VERSION, &v) && !strcmp(name, "spatten"),
	    "ioctl fuzz: %s is the DRM driver \"spatten\" (\"%s\")", dev_path(),
	    name);
	close(i);
	knobs_default();
	if (objects_read(&base)) {
		tap(false, "ioctl fuzz: debugfs spatten/objects readable");
		return 1;
	}
	sh = mmap(NULL, sizeof(*sh) * nprocs, PROT_READ | PROT_WRITE,
		  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	calls_per_proc = total_calls / nprocs;
	t0 = now_ns();
	for (i = 0; i < nprocs && i < 64; i++) {
		pids[i] = fork();
		if (pids[i] == 0) {
			sh += i;
			_exit(proc_main(i));
		}
	}
	/*
	 * Collect the workers; a stall (no call completes for 30 s) is a
	 * failure: report what every thread was doing and the driver's
	 * state, then kill the workers (their jobs become orphans).
	 */
	st = 0;
	{
		int left = nprocs, quiet = 0;
		long last = -1;

		while (left) {
			long sum = 0;
			int s;
			pid_t pid = waitpid(-1, &s, WNOHANG);

			if (pid > 0) {
				left--;
				if (!WIFEXITED(s) || WEXITSTATUS(s))
					st = 1;
				continue;
			}
			sleep_ms(1000);
			for (i = 0; i < nprocs; i++)
				sum += sh[i].calls;
			quiet = sum == last ? quiet + 1 : 0;
			last = sum;
			if (quiet == 30 && !stalled) {
				stalled = 1;
				stall_report();
				for (i = 0; i < nprocs; i++)
					kill(pids[i], SIGKILL);
			}
		}
	}
	for (i = 0; i < nprocs; i++) {
		calls += sh[i].calls;
		badn += sh[i].bad;
		jobs += sh[i].jobs;
		foreign += sh[i].foreign;
		lost += sh[i].lost;
		lossy += sh[i].lossy;
		drains += sh[i].drains;
		forks += sh[i].forks;
		reopens += sh[i].reopens;
		exports += sh[i].exports;
		imports += sh[i].imports;
		synced += sh[i].synced;
		canceled += sh[i].canceled;
		if (sh[i].bad)
			diag("process %d: first unexpected result: %s", i,
			     sh[i].first_bad);
	}
	diag("ioctl fuzz: %ld calls in %.1f s (%.0f/s), %d processes x %d "
	     "threads, seed %llu: %ld jobs reaped (+%ld of forked children), "
	     "%ld files drained and checked, %ld forks, %ld file swaps, "
	     "%ld PRIME exports, %ld imports into another file, %ld SUBMITs "
	     "with syncs, %ld SUBMITs -ECANCELED",
	     calls, (now_ns() - t0) / 1e9,
	     calls / ((now_ns() - t0) / 1e9), nprocs, nthreads,
	     (unsigned long long)seed0, jobs, foreign, drains, forks, reopens,
	     exports, imports, synced, canceled);
	if (lossy)
		diag("ioctl fuzz: %ld jobs not returned by a drain of files on "
		     "which a REAP had failed with EFAULT (results lost to the "
		     "faulting REAP: not counted as lost)", lossy);
	{
		char line[1024];
		int n = 0, e;

		n += snprintf(line + n, sizeof(line) - n, "errno histogram:");
		for (e = 1; e < 140; e++) {
			long val = 0;

			for (i = 0; i < nprocs; i++)
				val += sh[i].errs[e];
			if (val)
				n += snprintf(line + n, sizeof(line) - n,
					      " %s:%ld", strerrorname_np(e) ?
					      strerrorname_np(e) : "?", val);
		}
		diag("%s", line);
	}
	tap(!stalled, "ioctl fuzz: no stall (every call returned)");
	tap(st == 0, "ioctl fuzz: worker processes exited cleanly");
	tap(badn == 0, "ioctl fuzz: %ld calls, every result 0 or a documented "
	    "errno, no job reaped twice, every recorded job returned by the "
	    "drains (%ld unexpected, %ld lost)", calls, badn, lost);
	tap(wait_idle(120 * NSEC_PER_SEC), "ioctl fuzz: device idle afterwards");
	{
		bool ok = objects_back_to(&base, &now, 120 * NSEC_PER_SEC);

		objects_str(&base, b1, sizeof(b1));
		objects_str(&now, b2, sizeof(b2));
		tap(ok, "ioctl fuzz: driver objects back to their level "
		    "(before: %s; after: %s)", b1, b2);
	}
	return tap_failed;
}
