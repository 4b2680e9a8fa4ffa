// SPDX-License-Identifier: MIT
/*
 * Campaign 3 (issue #7): the fault-injection matrix. Each fault runs R
 * rounds (-r; 50 in the long form) with several jobs in flight:
 *
 *   dma-read    debugfs inject_dma_error: DMA_READ for the injected jobs
 *   dma-write   debugfs inject_dma_write_error: DMA_WRITE for them
 *   drop-irq    debugfs drop_irq: the watchdog finds the completions
 *   hang        debugfs force_timeout: a TIMEOUT, the rest ABORTED or
 *               CANCELED, device reset; the guilty file is banned (SUBMIT
 *               -ECANCELED: the campaign reopens the device), another
 *               open file keeps working
 *   flr         PCI function reset (sysfs reset) with jobs on the device
 *   unbind      driver unbind with jobs in flight, then bind again
 *   kill9       a process with jobs in flight is killed with SIGKILL
 *   close-wait  a thread waits for a job while another closes the fd
 *   queue-full  jobs held off the device: SUBMIT queues up to max_jobs
 *               (4096) unreaped jobs of a file, then -EBUSY; another file
 *               still submits; a reset frees the ring; REAP takes them all
 *
 * Pass, per round: every job of a file we hold completes exactly once
 * (WAIT or REAP returns it once with an allowed status, then WAIT is
 * -ENOENT), the device then runs a job correctly (output compared with a
 * fault-free run), and at the end the driver's live objects are back to
 * their starting level.
 *
 * Usage: spatten-faults [-r rounds] [-f fault[,fault...]]
 */
#include <pthread.h>
#include <signal.h>

#include "rel_common.h"

#define K		8		/* jobs in flight per round */
#define HEADS		2
#define ROWS		16
#define DIM		32
#define TB		(HEADS * ROWS * DIM * 2)
#define BO_SIZE		(64 * 1024)
#define WAIT_NS		(60 * NSEC_PER_SEC)

static int rounds = 3;
static int fd = -1;
static uint32_t handle;
static uint8_t *map;
static uint8_t golden[K][TB];	/* outputs of a fault-free run */
static struct drm_spatten_info info;
static long long jobs_total, jobs_ok, jobs_err;

/* Job i: its own Q and output, shared K and V. */
static void job_i(struct drm_spatten_job *j, int i)
{
	small_attn_job(j, handle, HEADS, ROWS, DIM, TB, (2 + i) * TB,
		       (2 + K + i) * TB);
	j->user_data = 0x1000 + i;
}

static int dev_open(void)
{
	uint64_t off;
	uint32_t seed = 12345;
	int i;

	fd = open_dev_flags(0);
	if (fd < 0 || bo_create(fd, BO_SIZE, &handle, &off))
		return -1;
	map = mmap(NULL, BO_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
		   (off_t)off);
	if (map == MAP_FAILED)
		return -1;
	for (i = 0; i < (2 + K) * TB / 2; i++) {
		seed = seed * 1664525u + 1013904223u;
		((int16_t *)map)[i] = (int16_t)((int32_t)(seed >> 16) % 2048);
	}
	return 0;
}

static void dev_close(void)
{
	if (map && map != MAP_FAILED)
		munmap(map, BO_SIZE);
	map = NULL;
	if (fd >= 0)
		close(fd);
	fd = -1;
}

/* Status -> index of the by_status counts: 16 TIMEOUT, 17 CANCELED. */
static int st_idx(uint32_t status)
{
	return status == DRM_SPATTEN_STATUS_TIMEOUT ? 16 :
	       status == DRM_SPATTEN_STATUS_CANCELED ? 17 :
	       status <= 15 ? (int)status : -1;
}

/*
 * Reap @n jobs from @seqno (WAIT each); status must be in @allowed (bit
 * mask of st_idx()). Returns the number of bad results.
 */
static int reap_k(uint64_t seqno, int n, uint32_t allowed, int *by_status,
		  const char *what)
{
	struct drm_spatten_result w;
	int i, ret, badn = 0;

	for (i = 0; i < n; i++) {
		ret = wait_job(fd, seqno + i, WAIT_NS, &w);
		if (ret) {
			diag("%s: WAIT job %d: %d", what, i, ret);
			badn++;
			continue;
		}
		jobs_total++;
		if (w.status == 0)
			jobs_ok++;
		else
			jobs_err++;
		if (st_idx(w.status) >= 0 &&
		    (allowed & (1u << st_idx(w.status))))
			by_status[st_idx(w.status)]++;
		else {
			diag("%s: job %d: status %u", what, i, w.status);
			badn++;
		}
		if (w.status == 0 && w.user_data == 0x1000u + i &&
		    memcmp(map + (2 + K + i) * TB, golden[i], TB)) {
			diag("%s: job %d: output differs from the fault-free run",
			     what, i);
			badn++;
		}
		if (wait_job(fd, seqno + i, 0, NULL) != -ENOENT) {
			diag("%s: job %d reaped twice", what, i);
			badn++;
		}
	}
	return badn;
}

static int submit_k(struct drm_spatten_job *j, int n, uint64_t *seqno)
{
	int i;

	for (i = 0; i < n; i++) {
		job_i(&j[i], i % K);
		memset(map + (2 + K + i % K) * TB, 0, TB);
	}
	return submit(fd, j, n, seqno);
}

/* The device works: one job, output equal to the fault-free run. */
static int works(void)
{
	struct drm_spatten_job j[K];
	int st[19] = { 0 };
	uint64_t s;

	if (submit_k(j, K, &s))
		return 1;
	return reap_k(s, K, 1u << 0, st, "works");
}

#define S(x)	(1u << (x))

struct cw {
	int fd;
	uint64_t seqno;
	int ret;
	uint32_t status;
	volatile int entering;
};

static void *close_wait_thread(void *arg)
{
	struct cw *c = arg;
	struct drm_spatten_result w;

	c->entering = 1;
	c->ret = wait_job(c->fd, c->seqno, WAIT_NS, &w);
	c->status = w.status;
	return NULL;
}

/* The board is back (after a bind): its node, then our file and buffer. */
static int reopen_after_bind(void)
{
	if (wait_node(10 * NSEC_PER_SEC))
		return -1;
	return dev_open();
}

/*
 * Jobs held off the device (force_timeout, 60 s timeout): SUBMIT of 64 at
 * a time queues until the file has max_jobs unreaped, then -EBUSY (never
 * -EAGAIN, never blocks); another file still submits; a PCI reset frees
 * the ring and everything runs (OK, or ABORTED for what was on the device
 * at the reset). REAP takes the lot, each job once.
 */
static int queue_full(int r, int *st)
{
	static struct drm_spatten_job big[DRM_SPATTEN_MAX_SUBMIT];
	static struct drm_spatten_result res[DRM_SPATTEN_REAP_MAX];
	static uint8_t seen[8192];
	uint64_t s, first = 0, other = 0;
	uint32_t pending = 0;
	int nfd, ofd, ret, n = 0, i, got = 0, bad = 0;
	int64_t t0;

	knob_set("timeout_ms", 60000);
	knob_set("force_timeout", 1);
	nfd = open_dev_flags(0);
	ofd = open_dev_flags(0);
	if (nfd < 0 || ofd < 0)
		return 1;
	for (i = 0; i < DRM_SPATTEN_MAX_SUBMIT; i++)
		nop_job(&big[i], i);
	t0 = now_ns();
	for (;;) {
		ret = submit(nfd, big, DRM_SPATTEN_MAX_SUBMIT, &s);
		if (ret)
			break;
		if (!first)
			first = s;
		n += DRM_SPATTEN_MAX_SUBMIT;
		if (n > 2 * (int)info.max_jobs)
			break;
	}
	if (ret != -EBUSY || n != (int)info.max_jobs) {
		diag("queue-full: %d jobs accepted, then %d (expected %u, then -EBUSY)",
		     n, ret, info.max_jobs);
		bad++;
	}
	if (now_ns() - t0 > 20 * NSEC_PER_SEC) {
		diag("queue-full: %d SUBMITs took %.1f s (blocking?)",
		     n / DRM_SPATTEN_MAX_SUBMIT, (now_ns() - t0) / 1e9);
		bad++;
	}
	/* A single job more is refused too; another file is not full. */
	if (submit(nfd, big, 1, &s) != -EBUSY) {
		diag("queue-full: one more job was not -EBUSY");
		bad++;
	}
	t0 = now_ns();
	if (submit(ofd, big, 1, &other)) {
		diag("queue-full: another file could not submit");
		bad++;
		other = 0;
	}
	if (now_ns() - t0 > 2 * NSEC_PER_SEC) {
		diag("queue-full: the other file's SUBMIT blocked");
		bad++;
	}
	/* Free the ring: the held jobs are aborted, the queued ones run. */
	knob_set("force_timeout", 0);
	if (sysfs_write("reset", "1")) {
		diag("queue-full: reset failed");
		bad++;
	}
	memset(seen, 0, sizeof(seen));
	while (got < n) {
		int k = reap(nfd, res, DRM_SPATTEN_REAP_MAX,
			     DRM_SPATTEN_REAP_MAX, WAIT_NS, &pending);

		if (k <= 0) {
			diag("queue-full: REAP %d after %d of %d", k, got, n);
			bad++;
			break;
		}
		for (i = 0; i < k; i++) {
			uint64_t q = res[i].seqno - first;

			if (res[i].seqno < first || q >= (uint64_t)n ||
			    seen[q]++) {
				diag("queue-full: REAP returned seqno %llu (first %llu, %d jobs) %s",
				     (unsigned long long)res[i].seqno,
				     (unsigned long long)first, n,
				     q < (uint64_t)n ? "twice" : "");
				bad++;
				continue;
			}
			if (res[i].status && res[i].status != 13) {
				if (bad++ < 3)
					diag("queue-full: job %llu: status %u",
					     (unsigned long long)res[i].seqno,
					     res[i].status);
				continue;
			}
			st[res[i].status]++;
			jobs_total++;
		}
		got += k;
	}
	if (!bad && pending) {
		diag("queue-full: %u jobs still pending after all were reaped",
		     pending);
		bad++;
	}
	/* Below the limit again: it submits. */
	if (submit(nfd, big, 1, &s) || wait_job(nfd, s, WAIT_NS, NULL)) {
		diag("queue-full: no SUBMIT after the queue was reaped");
		bad++;
	}
	if (other) {
		struct drm_spatten_result w;

		if (wait_job(ofd, other, WAIT_NS, &w) ||
		    (w.status && w.status != 13))
			bad++;
		jobs_total++;
	}
	close(nfd);
	close(ofd);
	knob_set("timeout_ms", 10000);
	if (r == 0)
		diag("queue-full round %d: %d jobs accepted before -EBUSY", r,
		     n);
	return bad;
}

/* One round of @fault; returns the number of bad results. */
static int round_of(const char *fault, int r, int *st)
{
	struct drm_spatten_job j[K];
	uint64_t s;
	int bad = 0, i, k;

	if (!strcmp(fault, "dma-read") || !strcmp(fault, "dma-write")) {
		static int injected[2];
		bool rd = fault[4] == 'r';
		int inj = 1 + r % 3;

		injected[rd] += inj;
		knob_set(rd ? "inject_dma_error" : "inject_dma_write_error",
			 inj);
		if (submit_k(j, K, &s))
			return 1;
		bad += reap_k(s, K, S(0) | S(rd ? 10 : 11), st, fault);
		if (st[rd ? 10 : 11] != injected[rd]) {
			diag("%s: %d injected, %d failed so far", fault,
			     injected[rd], st[rd ? 10 : 11]);
			bad++;
		}
	} else if (!strcmp(fault, "drop-irq")) {
		knob_set("drop_irq", 1 + r % 3);
		if (submit_k(j, K, &s))
			return 1;
		bad += reap_k(s, K, S(0), st, fault);
		knob_set("drop_irq", 0);
	} else if (!strcmp(fault, "hang")) {
		int before = st[16], ofd = open_dev_flags(0), ret;
		struct drm_spatten_job nop;
		uint64_t os;

		/* @ofd: another file, open across the hang, not guilty. */
		knob_set("timeout_ms", 300);
		knob_set("force_timeout", 1);
		if (submit_k(j, K, &s))
			return 1;
		/* The guilty job TIMEOUT; the others on the device ABORTED,
		 * those that never ran CANCELED (the file is banned). */
		bad += reap_k(s, K, S(13) | S(16) | S(17), st, fault);
		knob_set("force_timeout", 0);
		knob_set("timeout_ms", 10000);
		if (st[16] == before) {
			diag("hang: no job of the round timed out");
			bad++;
		}
		/* Banned: the file must be opened again. */
		ret = submit_k(j, 1, &s);
		if (ret != -ECANCELED) {
			diag("hang: SUBMIT on the guilty file: %d, expected -ECANCELED",
			     ret);
			bad++;
			if (!ret)
				reap_k(s, 1, S(0), st, "hang (not banned)");
		}
		nop_job(&nop, 1);
		if (ofd < 0 || submit(ofd, &nop, 1, &os) ||
		    wait_job(ofd, os, WAIT_NS, NULL)) {
			diag("hang: another file does not work after the reset");
			bad++;
		}
		if (ofd >= 0)
			close(ofd);
		dev_close();
		if (dev_open())
			return bad + 1;
	} else if (!strcmp(fault, "flr")) {
		/* Half the rounds: jobs held off the device; the others:
		 * really running. Both end aborted or done. */
		if (r % 2) {
			knob_set("timeout_ms", 60000);
			knob_set("force_timeout", 1);
		}
		if (submit_k(j, K, &s))
			return 1;
		if (sysfs_write("reset", "1")) {
			diag("flr: reset failed");
			bad++;
		}
		bad += reap_k(s, K, S(0) | S(13), st, fault);
		knob_set("timeout_ms", 10000);
	} else if (!strcmp(fault, "unbind")) {
		char addr[512];

		if (pci_addr(addr, sizeof(addr)))
			return 1;
		if (r % 2) {
			knob_set("timeout_ms", 60000);
			knob_set("force_timeout", 1);
		}
		if (submit_k(j, K, &s))
			return 1;
		if (write_file(DRV_DIR "/unbind", addr))
			return 1;
		/*
		 * The DRM core refuses every ioctl of an unplugged device: the
		 * jobs in flight were completed by the driver, unseen.
		 */
		for (i = 0; i < K; i++) {
			int ret = wait_job(fd, s + i, WAIT_NS, NULL);

			if (ret != -ENODEV) {
				diag("unbind: job %d: ret %d", i, ret);
				bad++;
			}
		}
		if (wait_job(fd, s, 0, NULL) != -ENODEV)
			bad++;
		/* Not submit_k(): the mapping may be gone with the board. */
		nop_job(&j[0], 0);
		if (submit(fd, j, 1, &s) != -ENODEV)
			bad++;
		dev_close();
		if (write_file(DRV_DIR "/bind", addr))
			return bad + 1;
		if (reopen_after_bind())
			return bad + 1;
	} else if (!strcmp(fault, "kill9")) {
		int p[2], status;
		long long c0 = sysfs_key("counters", "jobs_ok") +
			       sysfs_key("counters", "jobs_err"), c1;
		pid_t pid;
		char c;

		if (pipe(p))
			return 1;
		k = 4 + r % (K - 3);
		pid = fork();
		if (pid == 0) {
			/* Its own file and buffer: killing it orphans them. */
			close(fd);
			if (dev_open() || submit_k(j, k, &s))
				_exit(1);
			if (write(p[1], "x", 1) != 1)
				_exit(1);
			for (;;)
				pause();
		}
		if (read(p[0], &c, 1) != 1)
			bad++;
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
		close(p[0]);
		close(p[1]);
		if (!wait_idle(WAIT_NS))
			bad++;
		/*
		 * The orphans ran at most once each: the scheduler may drop
		 * those of a killed process that had not reached the device
		 * (drm_sched_entity_kill).
		 */
		c1 = sysfs_key("counters", "jobs_ok") +
		     sysfs_key("counters", "jobs_err");
		if (c0 >= 0 && (c1 < c0 || c1 > c0 + k)) {
			diag("kill9: device completed %lld jobs, %d submitted",
			     c1 - c0, k);
			bad++;
		}
		if (c0 >= 0) {
			st[0] += c1 - c0;
			st[17] += k - (c1 - c0);
		}
		jobs_total += k;
	} else if (!strcmp(fault, "close-wait")) {
		pthread_t t;
		struct cw c;
		int nfd = open_dev_flags(0);

		if (nfd < 0)
			return 1;
		/* The job names buffers of the main file: use a NOP batch
		 * on the new file, and an attention batch held by a short
		 * forced timeout every other round. */
		for (i = 0; i < K; i++)
			nop_job(&j[i], i);
		if (r % 2) {
			knob_set("timeout_ms", 300);
			knob_set("force_timeout", 1);
		}
		if (submit(nfd, j, K, &s)) {
			close(nfd);
			return 1;
		}
		c.fd = nfd;
		c.seqno = s + K - 1;
		c.entering = 0;
		pthread_create(&t, NULL, close_wait_thread, &c);
		while (!c.entering)
			sched_yield();
		sleep_ms(5 + r % 5);	/* let it get into the WAIT */
		close(nfd);	/* the waiter holds the file */
		pthread_join(t, NULL);
		if (c.ret == -EBADF) {
			/* Closed before the WAIT began: not this case (the
			 * jobs are orphans; the object level checks them). */
			st[18]++;
		} else if (c.ret || st_idx(c.status) < 0 ||
			   !((S(0) | S(13) | S(16) | S(17)) &
			     S(st_idx(c.status)))) {
			diag("close-wait: WAIT after close: ret %d status %u",
			     c.ret, c.status);
			bad++;
		} else {
			st[st_idx(c.status)]++;
		}
		jobs_total += K;
		knob_set("force_timeout", 0);
		knob_set("timeout_ms", 10000);
		if (!wait_idle(WAIT_NS))
			bad++;
	} else if (!strcmp(fault, "queue-full")) {
		pin_cpu(0);
		bad += queue_full(r, st);
		pin_cpu(r % 2);
	} else {
		diag("unknown fault %s", fault);
		return 1;
	}
	knob_set("force_timeout", 0);
	return bad;
}

int main(int argc, char **argv)
{
	static const char *all[] = { "dma-read", "dma-write", "drop-irq",
				     "hang", "flr", "unbind", "kill9",
				     "close-wait", "queue-full", NULL };
	const char *list[16];
	struct objects base, now;
	char b1[160], b2[160];
	int c, n = 0, f, r, i;

	while ((c = getopt(argc, argv, "r:f:")) != -1) {
		switch (c) {
		case 'r':
			rounds = atoi(optarg);
			break;
		case 'f': {
			char *p = strtok(optarg, ",");

			while (p && n < 15) {
				list[n++] = p;
				p = strtok(NULL, ",");
			}
			break;
		}
		default:
			return 2;
		}
	}
	if (!n)
		for (; all[n]; n++)
			list[n] = all[n];
	setvbuf(stdout, NULL, _IOLBF, 0);
	knobs_default();
	if (objects_read(&base) || !have_knob("force_timeout")) {
		tap(false, "faults: debugfs knobs and spatten/objects present");
		return 1;
	}
	if (dev_open() || xioctl(fd, DRM_IOCTL_SPATTEN_INFO, &info)) {
		tap(false, "faults: open %s", dev_path());
		return 1;
	}
	/* The fault-free outputs. */
	{
		struct drm_spatten_job j[K];
		struct drm_spatten_result w;
		uint64_t s;

		if (submit_k(j, K, &s)) {
			tap(false, "faults: fault-free run");
			return 1;
		}
		for (i = 0; i < K; i++) {
			if (wait_job(fd, s + i, WAIT_NS, &w) || w.status) {
				tap(false, "faults: fault-free run");
				return 1;
			}
			memcpy(golden[i], map + (2 + K + i) * TB, TB);
		}
	}
	for (f = 0; f < n; f++) {
		int st[19] = { 0 }, bad = 0, notwork = 0;
		int64_t t0 = now_ns();
		char line[256];
		int m = 0;

		if ((!strcmp(list[f], "dma-write") &&
		     !have_knob("inject_dma_write_error")) ||
		    (!strcmp(list[f], "dma-read") &&
		     !have_knob("inject_dma_error"))) {
			printf("ok - faults: %s # SKIP no knob (module "
			       "parameter unsafe_fault_injection=1)\n",
			       list[f]);
			continue;
		}
		for (r = 0; r < rounds; r++) {
			bad += round_of(list[f], r, st);
			knobs_default();
			notwork += works();
		}
		for (i = 0; i <= 17; i++)
			if (st[i])
				m += snprintf(line + m, sizeof(line) - m,
					      " %s:%d", i == 16 ? "TIMEOUT" :
					      i == 17 ? "CANCELED" :
					      i == 13 ? "ABORTED" : i == 10 ?
					      "DMA_READ" : i == 11 ?
					      "DMA_WRITE" : i == 0 ? "OK" : "?",
					      st[i]);
		if (st[18])
			m += snprintf(line + m, sizeof(line) - m,
				      " closed-before-WAIT:%d", st[18]);
		line[m] = 0;
		tap(!bad && !notwork, "faults: %s x %d rounds (%d jobs in "
		    "flight each): every job completed once, device works "
		    "after each (%.1f s;%s)", list[f], rounds, K,
		    (now_ns() - t0) / 1e9, line);
		if (bad || notwork)
			diag("%s: %d bad results, %d rounds after which the "
			     "device did not work", list[f], bad, notwork);
	}
	dev_close();
	knobs_default();
	tap(wait_idle(WAIT_NS), "faults: device idle at the end");
	{
		bool ok = objects_back_to(&base, &now, 120 * NSEC_PER_SEC);

		objects_str(&base, b1, sizeof(b1));
		objects_str(&now, b2, sizeof(b2));
		tap(ok, "faults: driver objects back to their level (before: "
		    "%s; after: %s)", b1, b2);
	}
	diag("faults: %lld jobs reaped in the fault rounds; resets %lld, "
	     "timeouts %lld, irqs dropped %lld", jobs_total,
	     sysfs_key("faults", "resets"), sysfs_key("faults", "timeouts"),
	     sysfs_key("faults", "irqs_dropped"));
	return tap_failed;
}
