// SPDX-License-Identifier: MIT
/*
 * Campaign 3 (issue #7): the fault-injection matrix. Each fault runs R
 * rounds (-r; 50 in the long form) with several jobs in flight:
 *
 *   dma-read    debugfs inject_dma_error: DMA_READ for the injected jobs
 *   dma-write   debugfs inject_dma_write_error: DMA_WRITE for them
 *   drop-irq    debugfs drop_irq: the watchdog finds the completions
 *   hang        debugfs force_timeout: TIMEOUT or ABORTED, device reset
 *   flr         PCI function reset (sysfs reset) with jobs on the device
 *   unbind      driver unbind with jobs in flight, then bind again
 *   kill9       a process with jobs in flight is killed with SIGKILL
 *   close-wait  a thread waits for a job while another closes the fd
 *   queue-full  O_NONBLOCK submit until EAGAIN, a blocking submit sleeps,
 *               a reset frees the queue
 *
 * Pass, per round: every job of a file we hold completes exactly once
 * (WAIT succeeds once with an allowed status, then -ENOENT), the device
 * then runs a job correctly (output compared with a fault-free run), and
 * at the end the driver's live objects are back to their starting level.
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
static long long jobs_total, jobs_ok, jobs_err;

/* Job i: its own Q and output, shared K and V. */
static void job_i(struct spatten_job *j, int i)
{
	memset(j, 0, sizeof(*j));
	j->opcode = SPATTEN_OP_ATTENTION;
	j->version = SPATTEN_DESC_VERSION;
	j->n_heads = HEADS;
	j->head_dim = DIM;
	j->q_rows = ROWS;
	j->kv_rows = ROWS;
	j->q_frac = j->k_frac = j->v_frac = j->out_frac = 10;
	tensor(&j->k, handle, 0);
	tensor(&j->v, handle, TB);
	tensor(&j->q, handle, (2 + i) * TB);
	tensor(&j->out, handle, (2 + K + i) * TB);
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

/*
 * Submit K jobs; reap each once; status must be in @allowed (bit mask of
 * statuses 0..15, bit 16 = TIMEOUT). Returns the number of bad results.
 */
static int reap(uint64_t seqno, int n, uint32_t allowed, int *by_status,
		const char *what)
{
	struct spatten_wait w;
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
		if (w.status <= 15 && (allowed & (1u << w.status)))
			by_status[w.status]++;
		else if (w.status == SPATTEN_STATUS_TIMEOUT &&
			 (allowed & (1u << 16)))
			by_status[16]++;
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

static int submit_k(struct spatten_job *j, int n, uint64_t *seqno)
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
	struct spatten_job j[K];
	int st[18] = { 0 };
	uint64_t s;

	if (submit_k(j, K, &s))
		return 1;
	return reap(s, K, 1u << 0, st, "works");
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
	struct spatten_wait w;

	c->entering = 1;
	c->ret = wait_job(c->fd, c->seqno, WAIT_NS, &w);
	c->status = w.status;
	return NULL;
}

struct bsub {
	struct spatten_job *j;
	int n;
	uint64_t seqno;
	int ret;
	volatile int done;
};

static void *blocking_submit(void *arg)
{
	struct bsub *b = arg;
	int bfd = fd;

	b->ret = submit(bfd, b->j, b->n, &b->seqno);
	b->done = 1;
	return NULL;
}

/* One round of @fault; returns the number of bad results. */
static int round_of(const char *fault, int r, int *st)
{
	struct spatten_job j[K];
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
		bad += reap(s, K, S(0) | S(rd ? 10 : 11), st, fault);
		if (st[rd ? 10 : 11] != injected[rd]) {
			diag("%s: %d injected, %d failed so far", fault,
			     injected[rd], st[rd ? 10 : 11]);
			bad++;
		}
	} else if (!strcmp(fault, "drop-irq")) {
		knob_set("drop_irq", 1 + r % 3);
		if (submit_k(j, K, &s))
			return 1;
		bad += reap(s, K, S(0), st, fault);
		knob_set("drop_irq", 0);
	} else if (!strcmp(fault, "hang")) {
		knob_set("timeout_ms", 300);
		knob_set("force_timeout", 1);
		if (submit_k(j, K, &s))
			return 1;
		bad += reap(s, K, S(13) | S(16), st, fault);
		knob_set("timeout_ms", 10000);
	} else if (!strcmp(fault, "flr")) {
		/* Half the rounds: jobs held off the device; the others:
		 * really running. Both end aborted or done. */
		if (r % 2) {
			knob_set("timeout_ms", 60000);
			knob_set("force_timeout", 1);
		}
		if (submit_k(j, K, &s))
			return 1;
		if (write_file(SYSFS_DIR "/device/reset", "1")) {
			diag("flr: reset failed");
			bad++;
		}
		bad += reap(s, K, S(0) | S(13), st, fault);
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
		if (write_file("/sys/bus/pci/drivers/spatten/unbind", addr))
			return 1;
		/* Each job once (done or aborted), then -ENODEV. */
		for (i = 0; i < K; i++) {
			struct spatten_wait w;
			int ret = wait_job(fd, s + i, WAIT_NS, &w);

			if (ret || (w.status != 0 && w.status != 13)) {
				diag("unbind: job %d: ret %d status %u", i,
				     ret, w.status);
				bad++;
			} else {
				st[w.status]++;
				jobs_total++;
			}
		}
		if (wait_job(fd, s, 0, NULL) != -ENODEV)
			bad++;
		dev_close();
		if (write_file("/sys/bus/pci/drivers/spatten/bind", addr))
			return bad + 1;
		for (i = 0; i < 200 && access(dev_path(), F_OK); i++)
			sleep_ms(20);
		if (dev_open())
			return bad + 1;
	} else if (!strcmp(fault, "kill9")) {
		int p[2], status;
		long long c0 = sysfs_key("counters", "jobs_ok") +
			       sysfs_key("counters", "jobs_err");
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
		/* The device completed each of the orphans once. */
		if (c0 >= 0 && sysfs_key("counters", "jobs_ok") +
		    sysfs_key("counters", "jobs_err") != c0 + k) {
			diag("kill9: device completed %lld jobs, %d submitted",
			     sysfs_key("counters", "jobs_ok") +
			     sysfs_key("counters", "jobs_err") - c0, k);
			bad++;
		}
		st[0] += k;
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
			st[17]++;
		} else if (c.ret || (c.status != 0 && c.status != 13 &&
				     c.status != SPATTEN_STATUS_TIMEOUT)) {
			diag("close-wait: WAIT after close: ret %d status %u",
			     c.ret, c.status);
			bad++;
		} else {
			st[c.status == SPATTEN_STATUS_TIMEOUT ? 16 :
			   c.status]++;
		}
		jobs_total += K;
		knob_set("timeout_ms", 10000);
		if (!wait_idle(WAIT_NS))
			bad++;
	} else if (!strcmp(fault, "queue-full")) {
		static struct spatten_job big[SPATTEN_MAX_SUBMIT];
		struct bsub b;
		pthread_t t;
		uint64_t first = 0, last = 0;
		int nfd, ret, n = 0;

		pin_cpu(0);
		knob_set("timeout_ms", 60000);
		knob_set("force_timeout", 1);
		nfd = open_dev_flags(O_NONBLOCK);
		for (i = 0; i < SPATTEN_MAX_SUBMIT; i++)
			nop_job(&big[i], i);
		for (;;) {
			ret = submit(nfd, big, SPATTEN_MAX_SUBMIT, &s);
			if (ret)
				break;
			if (!first)
				first = s;
			last = s + SPATTEN_MAX_SUBMIT - 1;
			n += SPATTEN_MAX_SUBMIT;
		}
		if (ret != -EAGAIN) {
			diag("queue-full: non-blocking submit: %d", ret);
			bad++;
		}
		/* A blocking submit on a second file sleeps. */
		b.j = big;
		b.n = 1;
		b.done = 0;
		{
			int sfd = fd;

			fd = open_dev_flags(0);
			pthread_create(&t, NULL, blocking_submit, &b);
			sleep_ms(200);
			if (b.done) {
				diag("queue-full: blocking submit did not block");
				bad++;
			}
			/* A reset frees the ring; the pending jobs run. */
			write_file(SYSFS_DIR "/device/reset", "1");
			pthread_join(t, NULL);
			if (b.ret) {
				bad++;
			} else {
				struct spatten_wait w;

				if (wait_job(fd, b.seqno, WAIT_NS, &w) ||
				    (w.status && w.status != 13))
					bad++;
				jobs_total++;
			}
			close(fd);
			fd = sfd;
		}
		for (s = first; first && s <= last; s++) {
			struct spatten_wait w;

			ret = wait_job(nfd, s, WAIT_NS, &w);
			if (ret || (w.status && w.status != 13)) {
				diag("queue-full: job %llu: ret %d status %u",
				     (unsigned long long)s, ret, w.status);
				bad++;
				break;
			}
			st[w.status]++;
			jobs_total++;
		}
		close(nfd);
		knob_set("timeout_ms", 10000);
		pin_cpu(r % 2);
		if (r == 0 || n != 1024)
			diag("queue-full round %d: %d jobs accepted before "
			     "EAGAIN", r, n);
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
	if (dev_open()) {
		tap(false, "faults: open %s", dev_path());
		return 1;
	}
	/* The fault-free outputs. */
	{
		struct spatten_job j[K];
		struct spatten_wait w;
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
		int st[18] = { 0 }, bad = 0, notwork = 0;
		int64_t t0 = now_ns();
		char line[256];
		int m = 0;

		if (!strcmp(list[f], "dma-write") &&
		    !have_knob("inject_dma_write_error")) {
			printf("ok - faults: dma-write # SKIP no knob\n");
			continue;
		}
		for (r = 0; r < rounds; r++) {
			bad += round_of(list[f], r, st);
			knobs_default();
			notwork += works();
		}
		for (i = 0; i <= 16; i++)
			if (st[i])
				m += snprintf(line + m, sizeof(line) - m,
					      " %s:%d", i == 16 ? "TIMEOUT" :
					      i == 13 ? "ABORTED" : i == 10 ?
					      "DMA_READ" : i == 11 ?
					      "DMA_WRITE" : i == 0 ? "OK" : "?",
					      st[i]);
		if (st[17])
			m += snprintf(line + m, sizeof(line) - m,
				      " closed-before-WAIT:%d", st[17]);
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
