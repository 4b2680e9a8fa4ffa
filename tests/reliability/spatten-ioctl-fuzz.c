// SPDX-License-Identifier: MIT
/*
 * Campaign 1 (issue #7): syzkaller-style ioctl fuzzing of /dev/spatten0 in
 * the guest. Random sequences of valid and invalid calls - every ioctl of
 * the UAPI with random sizes, flags, handles, offsets and counts, unknown
 * command numbers, mmap/munmap at random offsets, BO_IMPORT of unmapped,
 * read-only and partial ranges, poll - from several processes with several
 * threads each sharing a file, while other threads close and reopen the
 * file (also during a WAIT), and processes fork with open handles, submit,
 * and exit or get killed with jobs in flight.
 *
 * Pass: every call returns 0 or an errno of its documented set; every job
 * a thread submitted on a file it still holds completes exactly once (a
 * second WAIT is -ENOENT); the driver's live objects (debugfs
 * spatten/objects) return to their starting level. The guest script then
 * scans the kernel log and unloads the module.
 *
 * Usage: spatten-ioctl-fuzz [-n calls] [-p procs] [-t threads] [-s seed]
 */
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>

#include "rel_common.h"

#define MAX_HANDLES	32
#define MAX_PENDING	256
#define PAGE		4096u

static long total_calls = 20000;
static int nprocs = 2, nthreads = 3;
static uint64_t seed0 = 1;

struct shared {			/* per process, in shared memory */
	atomic_long calls;
	atomic_long bad;	/* unexpected results */
	atomic_long jobs;	/* jobs submitted and reaped */
	atomic_long forks;
	atomic_long reopens;
	atomic_long errs[140];	/* -errno histogram */
	char first_bad[256];
	atomic_int op[8];	/* what each thread is doing (case of
				 * one_call, -1 idle), for the stall report */
};

static struct shared *sh;
static int stalled;
static pid_t pids[64];
static long calls_per_proc;

struct fstate {			/* one open file shared by a process's threads */
	pthread_mutex_t lock;
	int fd;
	uint32_t handles[MAX_HANDLES];
	uint64_t mmap_off[MAX_HANDLES];
	uint64_t sizes[MAX_HANDLES];
	int nh;
	unsigned int gen;	/* bumped when the file is swapped */
};

static struct fstate fs;
static struct spatten_info info;

static void bad(const char *what, int ret)
{
	long n = atomic_fetch_add(&sh->bad, 1);

	if (n == 0)
		snprintf(sh->first_bad, sizeof(sh->first_bad), "%s: %d (%s)",
			 what, ret, strerror(-ret));
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

static int cur_fd_gen(unsigned int *gen)
{
	int fd;

	pthread_mutex_lock(&fs.lock);
	fd = fs.fd;
	if (gen)
		*gen = fs.gen;
	pthread_mutex_unlock(&fs.lock);
	return fd;
}

static uint32_t pick_handle(uint64_t *r)
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
		if (fs.nh)
			h = fs.handles[rndn(r, fs.nh)];
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

/* A job: mostly a valid small one, then a few fields mangled. */
static void random_job(uint64_t *r, struct spatten_job *j)
{
	unsigned int heads = 1 + rndn(r, 2), dim = 16, rows = 1 + rndn(r, 8);
	uint32_t h = pick_handle(r);
	uint64_t t = (uint64_t)heads * rows * dim * 2;
	int i, n;

	if (rndn(r, 3) == 0) {
		nop_job(j, rnd64(r));
	} else {
		memset(j, 0, sizeof(*j));
		j->opcode = SPATTEN_OP_ATTENTION;
		j->version = SPATTEN_DESC_VERSION;
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
			struct spatten_tensor *tt = &j->q + rndn(r, 12);

			tt->handle = pick_handle(r);
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

struct pending {
	uint64_t seqno[MAX_PENDING];
	unsigned int gen[MAX_PENDING];
	int n;
};

/*
 * Reap every job this thread submitted on the file it still holds (jobs of
 * a file swapped out since are orphans: the object level checks them).
 */
static void reap_all(struct pending *p)
{
	struct spatten_wait w;
	unsigned int gen, g2;
	int i, ret, fd = cur_fd_gen(&gen);

	for (i = 0; i < p->n; i++) {
		if (p->gen[i] != gen)
			continue;
		ret = wait_job(fd, p->seqno[i], 60 * NSEC_PER_SEC, &w);
		count(ret);
		/*
		 * Another thread may swap the file (and a later open reuse
		 * the number) while we wait: a result only counts if the
		 * file was still ours when the call returned.
		 */
		cur_fd_gen(&g2);
		if (g2 != gen)
			break;
		if (ret == -ENOENT)
			continue;	/* this thread's WAIT case reaped it */
		if (ret) {
			bad("reap WAIT", ret);
			continue;
		}
		atomic_fetch_add(&sh->jobs, 1);
		if (w.status > 15 && w.status != SPATTEN_STATUS_TIMEOUT)
			bad("job status", -(int)w.status);
		ret = wait_job(fd, p->seqno[i], 0, NULL);
		count(ret);
		cur_fd_gen(&g2);
		if (g2 != gen)
			break;
		if (ret != -ENOENT)
			bad("second WAIT of a reaped job", ret);
	}
	p->n = 0;
}

static __thread int my_tid;

static void one_call(uint64_t *r, struct pending *p)
{
	unsigned int gen;
	int fd = cur_fd_gen(&gen), ret, i, op = rndn(r, 16);

	atomic_store(&sh->op[my_tid], op);
	switch (op) {
	case 0: {	/* INFO */
		struct spatten_info in;

		ret = xioctl(fd, SPATTEN_IOCTL_INFO, &in);
		expect("INFO", ret, EBADF, ENOTTY, 0);
		break;
	}
	case 1: {	/* unknown or mis-sized commands */
		unsigned long cmd;
		char buf[512];

		memset(buf, 0, sizeof(buf));
		switch (rndn(r, 3)) {
		case 0:
			cmd = _IOC(rndn(r, 4), SPATTEN_IOCTL_MAGIC, rndn(r, 16),
				   rndn(r, 512));
			break;
		case 1:
			cmd = (unsigned long)(uint32_t)rnd64(r);
			break;
		default:
			cmd = _IOC(_IOC_READ | _IOC_WRITE, SPATTEN_IOCTL_MAGIC,
				   rndn(r, 8), 8 * rndn(r, 40));
			break;
		}
		ret = xioctl(fd, cmd, buf);
		expect("raw ioctl", ret, ENOTTY, EINVAL, EBADF, ENOENT, EFAULT,
		       ENOMEM, ENOSPC, ERANGE, ETIME, EAGAIN, EBUSY, 0);
		break;
	}
	case 2:
	case 3: {	/* BO_CREATE */
		struct spatten_bo_create c = { .size = pick_size(r) };

		if (rndn(r, 8) == 0)
			c.flags = 1u << rndn(r, 32);
		if (rndn(r, 8) == 0)
			c.rsvd = rnd64(r);
		ret = xioctl(fd, SPATTEN_IOCTL_BO_CREATE, &c);
		expect("BO_CREATE", ret, EINVAL, ENOMEM, ENOSPC, EBADF, ENOTTY,
		       0);
		if (!ret) {
			pthread_mutex_lock(&fs.lock);
			if (fd == fs.fd && fs.nh < MAX_HANDLES) {
				fs.handles[fs.nh] = c.handle;
				fs.mmap_off[fs.nh] = c.mmap_offset;
				fs.sizes[fs.nh++] = c.size;
			}
			pthread_mutex_unlock(&fs.lock);
		}
		break;
	}
	case 4: {	/* BO_DESTROY */
		struct spatten_bo_destroy d = { .handle = pick_handle(r) };

		if (rndn(r, 8) == 0)
			d.flags = 1;
		ret = xioctl(fd, SPATTEN_IOCTL_BO_DESTROY, &d);
		expect("BO_DESTROY", ret, EINVAL, ENOENT, EBADF, ENOTTY, 0);
		if (!ret) {
			pthread_mutex_lock(&fs.lock);
			for (i = 0; i < fs.nh; i++) {
				if (fs.handles[i] == d.handle) {
					fs.handles[i] = fs.handles[--fs.nh];
					fs.mmap_off[i] = fs.mmap_off[fs.nh];
					fs.sizes[i] = fs.sizes[fs.nh];
					break;
				}
			}
			pthread_mutex_unlock(&fs.lock);
		}
		break;
	}
	case 5: {	/* BO_IMPORT: good, unaligned, unmapped, read-only */
		struct spatten_bo_import im = { 0 };
		size_t len = PAGE * (1 + rndn(r, 4));
		int prot = rndn(r, 4) ? PROT_READ | PROT_WRITE : PROT_READ;
		void *m = mmap(NULL, len, prot, MAP_PRIVATE | MAP_ANONYMOUS,
			       -1, 0);

		if (m == MAP_FAILED)
			break;
		im.user_ptr = (uintptr_t)m;
		im.size = len;
		switch (rndn(r, 5)) {
		case 0:
			im.user_ptr += 1 + rndn(r, PAGE - 1);
			break;
		case 1:
			im.size += PAGE * (1 + rndn(r, 4));	/* past the end */
			break;
		case 2:
			im.user_ptr = rnd64(r) & ~(uint64_t)(PAGE - 1);
			break;
		case 3:
			im.flags = rndn(r, 2);
			im.rsvd = rndn(r, 2);
			break;
		default:
			break;
		}
		ret = xioctl(fd, SPATTEN_IOCTL_BO_IMPORT, &im);
		/* EBUSY: "past the end" reached another import's pages. */
		expect("BO_IMPORT", ret, EINVAL, EFAULT, EBUSY, ENOMEM, ENOSPC,
		       EBADF, ENOTTY, 0);
		if (!ret) {
			/* Unmap at once: the pins keep the pages; destroy. */
			munmap(m, len);
			m = MAP_FAILED;
			if (rndn(r, 2)) {
				ret = bo_destroy(fd, im.handle);
				expect("BO_DESTROY import", ret, ENOENT, EBADF,
				       0);
			}
		}
		if (m != MAP_FAILED)
			munmap(m, len);
		break;
	}
	case 6:
	case 7:
	case 8: {	/* SUBMIT */
		struct spatten_job j[70];
		struct spatten_submit s = { 0 };
		uint32_t n = rndn(r, 10) ? 1 + rndn(r, 8) : rndn(r, 70);

		for (i = 0; i < (int)n && i < 70; i++)
			random_job(r, &j[i]);
		s.jobs_ptr = (uintptr_t)j;
		s.count = n;
		if (rndn(r, 16) == 0)
			s.jobs_ptr = rndn(r, 2) ? 0 : rnd64(r);
		if (rndn(r, 16) == 0)
			s.flags = 1;
		ret = xioctl(fd, SPATTEN_IOCTL_SUBMIT, &s);
		expect("SUBMIT", ret, EINVAL, EFAULT, ENOENT, ERANGE, EAGAIN,
		       EBUSY, ENOMEM, EBADF, ENOTTY, 0);
		if (!ret) {
			unsigned int g2;

			if (s.submitted != n)
				bad("SUBMIT submitted != count", -1);
			cur_fd_gen(&g2);
			if (g2 != gen)	/* went to a file swapped out since */
				break;
			for (i = 0; i < (int)n; i++) {
				if (p->n == MAX_PENDING)
					reap_all(p);
				p->seqno[p->n] = s.seqno + i;
				p->gen[p->n++] = gen;
			}
		}
		break;
	}
	case 9:
	case 10: {	/* WAIT: issued, random, past/short deadlines, bad */
		struct spatten_wait w = { 0 };

		if (p->n && rndn(r, 2))
			w.seqno = p->seqno[rndn(r, p->n)];
		else
			w.seqno = rndn(r, 2) ? rndn(r, 100) : rnd64(r);
		w.timeout_ns = rndn(r, 2) ? 0 : now_ns() + rndn(r, 20000000);
		if (rndn(r, 16) == 0)
			w.flags = 1;
		if (rndn(r, 16) == 0)
			w.rsvd[0] = 1;
		ret = xioctl(fd, SPATTEN_IOCTL_WAIT, &w);
		expect("WAIT", ret, EINVAL, ENOENT, ETIME, EBADF, ENOTTY, 0);
		if (!ret)
			atomic_fetch_add(&sh->jobs, 1);
		break;
	}
	case 11: {	/* COUNTERS */
		struct spatten_counters c = { 0 };

		if (rndn(r, 8) == 0)
			c.flags = 1;
		ret = xioctl(fd, SPATTEN_IOCTL_COUNTERS, &c);
		expect("COUNTERS", ret, EINVAL, EBADF, ENOTTY, 0);
		break;
	}
	case 12: {	/* mmap at a random place, touch, unmap */
		uint64_t off = 0, size = PAGE;
		size_t len;
		void *m;

		pthread_mutex_lock(&fs.lock);
		if (fs.nh && rndn(r, 4)) {
			i = rndn(r, fs.nh);
			off = fs.mmap_off[i];
			size = fs.sizes[i];
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
		       EACCES, 0);
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
		break;
	}
	case 14: {	/* swap the file: close it, possibly during a WAIT */
		int nfd;

		if (rndn(r, 8))
			break;
		reap_all(p);
		nfd = open_dev_flags(rndn(r, 4) ? 0 : O_NONBLOCK);
		count(nfd < 0 ? -errno : 0);
		if (nfd < 0) {
			bad("reopen", -errno);
			break;
		}
		pthread_mutex_lock(&fs.lock);
		if (fs.fd == fd) {
			fs.fd = nfd;
			fs.nh = 0;
			fs.gen++;
			nfd = fd;	/* close the old one */
		}
		pthread_mutex_unlock(&fs.lock);
		close(nfd);
		atomic_fetch_add(&sh->reopens, 1);
		break;
	}
	default: {	/* fork with open handles */
		pid_t pid;
		int st;

		if (rndn(r, 16))
			break;
		pid = fork();
		if (pid < 0)
			break;
		if (pid == 0) {
			struct spatten_job j[8];
			uint32_t h;
			uint64_t s = 0;

			/*
			 * Only this thread lives on in the child: another
			 * one may have held the lock at fork() time.
			 */
			pthread_mutex_init(&fs.lock, NULL);

			/* The child uses the inherited file, then dies. */
			for (i = 0; i < 8; i++)
				random_job(r, &j[i]);
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
}

struct thr {
	pthread_t t;
	uint64_t rng;
	int idx;
};

static void *thread_main(void *arg)
{
	struct thr *t = arg;
	struct pending *p = calloc(1, sizeof(*p));

	my_tid = t->idx;
	while (atomic_load(&sh->calls) < calls_per_proc)
		one_call(&t->rng, p);
	atomic_store(&sh->op[my_tid], 100);
	reap_all(p);
	atomic_store(&sh->op[my_tid], -1);
	free(p);
	return NULL;
}

static int proc_main(int idx)
{
	struct thr *t = calloc(nthreads, sizeof(*t));
	int i;

	pthread_mutex_init(&fs.lock, NULL);
	fs.fd = open_dev_flags(idx % 2 ? O_NONBLOCK : 0);
	if (fs.fd < 0)
		return 1;
	for (i = 0; i < nthreads; i++) {
		t[i].rng = seed0 * 1000003u + idx * 7919u + i * 104729u + 1;
		t[i].idx = i;
		pthread_create(&t[i].t, NULL, thread_main, &t[i]);
	}
	for (i = 0; i < nthreads; i++)
		pthread_join(t[i].t, NULL);
	close(fs.fd);
	return 0;
}

int main(int argc, char **argv)
{
	struct objects base, now;
	char b1[160], b2[160];
	long calls = 0, badn = 0, jobs = 0, forks = 0, reopens = 0;
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
	if (i < 0 || xioctl(i, SPATTEN_IOCTL_INFO, &info)) {
		tap(false, "ioctl fuzz: open %s", dev_path());
		return 1;
	}
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
				char buf[2048];
				int t;

				stalled = 1;
				diag("STALL: no call completed for 30 s");
				/* Blocked tasks' stacks to the kernel log. */
				write_file("/proc/sysrq-trigger", "w");
				for (i = 0; i < nprocs; i++)
					for (t = 0; t < nthreads; t++)
						diag("process %d thread %d: op %d",
						     i, t, sh[i].op[t]);
				if (read_file(SYSFS_DIR "/queues", buf,
					      sizeof(buf)) > 0)
					diag("queues: %s", buf);
				if (read_file(SYSFS_DIR "/faults", buf,
					      sizeof(buf)) > 0)
					diag("faults: %s", buf);
				if (read_file(DEBUGFS_ROOT "/objects", buf,
					      sizeof(buf)) > 0)
					diag("objects: %s", buf);
				for (i = 0; i < nprocs; i++)
					kill(pids[i], SIGKILL);
			}
		}
	}
	for (i = 0; i < nprocs; i++) {
		calls += sh[i].calls;
		badn += sh[i].bad;
		jobs += sh[i].jobs;
		forks += sh[i].forks;
		reopens += sh[i].reopens;
		if (sh[i].bad)
			diag("process %d: first unexpected result: %s", i,
			     sh[i].first_bad);
	}
	diag("ioctl fuzz: %ld calls in %.1f s (%.0f/s), %d processes x %d "
	     "threads, seed %llu: %ld jobs reaped, %ld forks, %ld file swaps",
	     calls, (now_ns() - t0) / 1e9,
	     calls / ((now_ns() - t0) / 1e9), nprocs, nthreads,
	     (unsigned long long)seed0, jobs, forks, reopens);
	{
		char line[1024];
		int n = 0, e;

		n += snprintf(line + n, sizeof(line) - n, "errno histogram:");
		for (e = 1; e < 140; e++) {
			long v = 0;

			for (i = 0; i < nprocs; i++)
				v += sh[i].errs[e];
			if (v)
				n += snprintf(line + n, sizeof(line) - n,
					      " %s:%ld", strerrorname_np(e) ?
					      strerrorname_np(e) : "?", v);
		}
		diag("%s", line);
	}
	tap(!stalled, "ioctl fuzz: no stall (every call returned)");
	tap(st == 0, "ioctl fuzz: worker processes exited cleanly");
	tap(badn == 0, "ioctl fuzz: %ld calls, every result 0 or a documented "
	    "errno, every job reaped once (%ld unexpected)", calls, badn);
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
