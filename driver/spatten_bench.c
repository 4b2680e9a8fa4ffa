// SPDX-License-Identifier: GPL-2.0
/*
 * SpAtten driver: debugfs nop_bench, the minimal device round trip that
 * bench/stack-bench.c compares the library and the ioctls with.
 *
 * /sys/kernel/debug/spatten/spattenN/nop_bench (root only):
 *  - write "N [DEPTH]": run N NOP jobs from the kernel on the queue of the
 *    writing CPU, DEPTH (1..64, default 1) of them in flight at a time.
 *    No file, ioctl, copy or buffer is involved: each NOP is a kernel job
 *    handed straight to the queue (descriptor onto the ring, SQ doorbell),
 *    and completes through the interrupt, the IRQ thread and the
 *    completion path of every job. Each is timed with ktime from just
 *    before the doorbell write to the moment the writer, woken by the
 *    completion, sees it done. The write returns when all N completed.
 *  - read: the last run, one line: "n N depth D min_ns P p10_ns P p50_ns P
 *    p90_ns P p99_ns P max_ns P jobs_per_s R".
 */
#include <linux/debugfs.h>
#include <linux/delay.h>
#include <linux/fs.h>
#include <linux/ktime.h>
#include <linux/mm.h>
#include <linux/mutex.h>
#include <linux/slab.h>
#include <linux/smp.h>
#include <linux/sort.h>
#include <linux/uaccess.h>

#include "spatten_drv.h"

#define SPATTEN_NOP_BENCH_MAX		1000000
#define SPATTEN_NOP_BENCH_DEPTH		64

static DEFINE_MUTEX(spatten_nop_lock);	/* one run at a time, the report */
static char spatten_nop_report[256];

static int spatten_nop_cmp(const void *a, const void *b)
{
	u64 x = *(const u64 *)a, y = *(const u64 *)b;

	return x < y ? -1 : x > y;
}

/* Hand one NOP to @q; the caller holds the board's rwsem for reading. */
static int spatten_nop_submit(struct spatten_queue *q, struct spatten_ctx *ctx,
			      struct spatten_kjob *job, ktime_t *t0)
{
	LIST_HEAD(list);
	int ret;

	ret = spatten_queue_reserve(q, 1, false);
	if (ret)
		return ret;
	memset(job, 0, sizeof(*job));
	job->ctx = ctx;
	job->q = q;
	job->desc.opcode = cpu_to_le16(SPATTEN_OP_NOP);
	job->desc.desc_size = cpu_to_le16(SPATTEN_DESC_SIZE);
	job->desc.version = SPATTEN_DESC_VERSION;
	list_add_tail(&job->node, &list);
	*t0 = ktime_get();
	spatten_queue_submit(q, &list);
	return 0;
}

/* Was @job completed? Takes the completion back from the context. */
static bool spatten_nop_reap(struct spatten_ctx *ctx, struct spatten_kjob *job)
{
	bool done;

	xa_lock(&ctx->jobs);
	done = job->done;
	if (done) {
		job->done = false;
		ctx->nr_done--;
	}
	xa_unlock(&ctx->jobs);
	return done;
}

static bool spatten_nop_any_done(struct spatten_ctx *ctx)
{
	bool any;

	xa_lock(&ctx->jobs);
	any = ctx->nr_done;
	xa_unlock(&ctx->jobs);
	return any;
}

static int spatten_nop_run(struct spatten_dev *sdev, u32 n, u32 depth)
{
	struct spatten_kjob *jobs;
	struct spatten_queue *q;
	struct spatten_ctx *ctx;
	u32 sent = 0, done = 0, busy = 0, i;
	ktime_t *t0, start;
	u64 *lat, total;
	int ret = 0;

	ctx = kzalloc(sizeof(*ctx), GFP_KERNEL);
	jobs = kcalloc(depth, sizeof(*jobs), GFP_KERNEL);
	t0 = kcalloc(depth, sizeof(*t0), GFP_KERNEL);
	lat = kvmalloc_array(n, sizeof(*lat), GFP_KERNEL);
	if (!ctx || !jobs || !t0 || !lat) {
		ret = -ENOMEM;
		goto out_free;
	}
	/* Never released through spatten_ctx_put(): this function owns it. */
	kref_init(&ctx->ref);
	xa_init(&ctx->jobs);
	init_waitqueue_head(&ctx->wq);
	ctx->sdev = sdev;

	down_read(&sdev->rwsem);
	if (sdev->dead || READ_ONCE(sdev->broken)) {
		ret = -ENODEV;
		goto out_unlock;
	}
	q = &sdev->queues[raw_smp_processor_id() % sdev->nr_queues];
	start = ktime_get();
	for (i = 0; i < depth && sent < n && !ret; i++) {
		ret = spatten_nop_submit(q, ctx, &jobs[i], &t0[i]);
		if (!ret) {
			jobs[i].seqno = 1;	/* in flight */
			sent++;
			busy++;
		}
	}
	while (busy) {
		/* After an error or a signal: drain what is in flight. */
		if (ret)
			usleep_range(1000, 2000);
		else if (wait_event_interruptible(ctx->wq,
						  spatten_nop_any_done(ctx)))
			ret = -EINTR;
		for (i = 0; i < depth; i++) {
			if (!jobs[i].seqno || !spatten_nop_reap(ctx, &jobs[i]))
				continue;
			lat[done++] = ktime_to_ns(ktime_sub(ktime_get(), t0[i]));
			jobs[i].seqno = 0;
			busy--;
			if (ret || sent == n)
				continue;
			ret = spatten_nop_submit(q, ctx, &jobs[i], &t0[i]);
			if (!ret) {
				jobs[i].seqno = 1;
				sent++;
				busy++;
			}
		}
	}
	total = ktime_to_ns(ktime_sub(ktime_get(), start));
out_unlock:
	up_read(&sdev->rwsem);
	/* spatten_job_complete() drops its context reference last. */
	while (kref_read(&ctx->ref) > 1)
		usleep_range(10, 50);
	if (!ret && done) {
		sort(lat, done, sizeof(*lat), spatten_nop_cmp, NULL);
		snprintf(spatten_nop_report, sizeof(spatten_nop_report),
			 "n %u depth %u min_ns %llu p10_ns %llu p50_ns %llu p90_ns %llu p99_ns %llu max_ns %llu jobs_per_s %llu\n",
			 done, depth, lat[0], lat[done / 10], lat[done / 2],
			 lat[done * 9ULL / 10], lat[done * 99ULL / 100],
			 lat[done - 1],
			 div64_u64((u64)done * NSEC_PER_SEC, total ? total : 1));
	}
	xa_destroy(&ctx->jobs);
out_free:
	kvfree(lat);
	kfree(t0);
	kfree(jobs);
	kfree(ctx);
	return ret;
}

static ssize_t spatten_nop_write(struct file *file, const char __user *ubuf,
				 size_t len, loff_t *ppos)
{
	struct spatten_dev *sdev = file_inode(file)->i_private;
	u32 n = 0, depth = 1;
	char buf[32];
	int ret;

	if (len >= sizeof(buf))
		return -EINVAL;
	if (copy_from_user(buf, ubuf, len))
		return -EFAULT;
	buf[len] = '\0';
	if (sscanf(buf, "%u %u", &n, &depth) < 1 || !n ||
	    n > SPATTEN_NOP_BENCH_MAX || !depth ||
	    depth > SPATTEN_NOP_BENCH_DEPTH || depth >= sdev->queue_depth)
		return -EINVAL;

	mutex_lock(&spatten_nop_lock);
	ret = spatten_nop_run(sdev, n, depth);
	mutex_unlock(&spatten_nop_lock);
	return ret ? ret : len;
}

static ssize_t spatten_nop_read(struct file *file, char __user *ubuf,
				size_t len, loff_t *ppos)
{
	char buf[sizeof(spatten_nop_report)];

	mutex_lock(&spatten_nop_lock);
	memcpy(buf, spatten_nop_report, sizeof(buf));
	mutex_unlock(&spatten_nop_lock);
	return simple_read_from_buffer(ubuf, len, ppos, buf, strlen(buf));
}

static const struct file_operations spatten_nop_fops = {
	.owner = THIS_MODULE,
	.open = simple_open,
	.read = spatten_nop_read,
	.write = spatten_nop_write,
	.llseek = default_llseek,
};

/**
 * spatten_nop_bench_init() - create the board's debugfs nop_bench file
 * @sdev: the board, its debugfs directory created
 */
void spatten_nop_bench_init(struct spatten_dev *sdev)
{
	debugfs_create_file("nop_bench", 0600, sdev->debugfs, sdev,
			    &spatten_nop_fops);
}
