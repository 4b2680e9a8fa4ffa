// SPDX-License-Identifier: GPL-2.0
/*
 * SpAtten driver: debugfs nop_bench, the minimal device round trip that
 * bench/stack-bench.c compares the library and the ioctls with. Not a
 * production path: the queue's scheduler is paused while it runs.
 *
 * /sys/kernel/debug/spatten/<pci-name>/nop_bench (root only):
 *  - write "N [DEPTH]": run N NOP jobs from the kernel on one queue, DEPTH
 *    (1..64, default 1) in flight at a time. No file, ioctl, copy, buffer
 *    or scheduler is involved: each NOP goes straight onto the ring (SQ
 *    doorbell) and completes through the interrupt, the IRQ thread and the
 *    completion path of every job. Each is timed from just before the
 *    doorbell to the moment the writer, woken by its fence, sees it done.
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

#include <drm/drm_drv.h>

#include "spatten_compat.h"
#include "spatten_drv.h"
#include "spatten_job.h"
#include "spatten_pm.h"
#include "spatten_queue.h"

#define SPATTEN_NOP_BENCH_MAX		1000000
#define SPATTEN_NOP_BENCH_DEPTH		64

static DEFINE_MUTEX(spatten_nop_lock);	/* one run at a time, the report */
static char spatten_nop_report[256];

static int spatten_nop_cmp(const void *a, const void *b)
{
	u64 x = *(const u64 *)a, y = *(const u64 *)b;

	return x < y ? -1 : x > y;
}

/* One kernel NOP: a job without a file, scheduler or buffer. */
static struct spatten_job *spatten_nop_new(void)
{
	struct spatten_job *job = spatten_job_new();

	if (!job)
		return NULL;
	job->desc.v2.opcode = cpu_to_le16(SPATTEN_OP_NOP);
	job->desc.v2.desc_size = cpu_to_le16(SPATTEN_DESC_SIZE);
	job->desc.v2.version = SPATTEN_DESC_VERSION;
	return job;
}

static void spatten_nop_free(struct spatten_job *job)
{
	if (!job)
		return;
	spatten_fence_free(job->hw_fence);
	kfree(job);
}

/* Put @slot's NOP on the ring; its previous fence is dropped first. */
static int spatten_nop_send(struct spatten_queue *q, struct spatten_job **slot,
			    ktime_t *t0)
{
	struct spatten_job *job = spatten_nop_new();

	spatten_nop_free(*slot);
	*slot = job;
	if (!job)
		return -ENOMEM;
	*t0 = ktime_get();
	/* The returned reference is the scheduler's in run_job; drop it. */
	dma_fence_put(spatten_queue_push(q, job));
	return 0;
}

/* Wait until the ring of @q is empty (its scheduler paused). */
static int spatten_nop_drain(struct spatten_queue *q, u32 timeout_ms)
{
	unsigned long end = jiffies + msecs_to_jiffies(timeout_ms);
	u32 inflight;

	for (;;) {
		spin_lock(&q->lock);
		inflight = q->inflight;
		spin_unlock(&q->lock);
		if (!inflight)
			return 0;
		if (time_after(jiffies, end))
			return -EBUSY;
		usleep_range(1000, 2000);
	}
}

static void spatten_nop_report_set(u64 *lat, u32 done, u32 depth, u64 total)
{
	sort(lat, done, sizeof(*lat), spatten_nop_cmp, NULL);
	snprintf(spatten_nop_report, sizeof(spatten_nop_report),
		 "n %u depth %u min_ns %llu p10_ns %llu p50_ns %llu p90_ns %llu p99_ns %llu max_ns %llu jobs_per_s %llu\n",
		 done, depth, lat[0], lat[done / 10], lat[done / 2],
		 lat[done * 9ULL / 10], lat[done * 99ULL / 100], lat[done - 1],
		 div64_u64((u64)done * NSEC_PER_SEC, total ? total : 1));
}

static void spatten_nop_jobs_free(struct spatten_job **jobs, u32 depth)
{
	u32 i;

	for (i = 0; jobs && i < depth; i++)
		spatten_nop_free(jobs[i]);
	kfree(jobs);
}

/*
 * @depth NOPs in flight on @q until @n completed; latencies into @lat.
 * The NOPs are left in *@jobs_out for the caller to free once none can be
 * on the ring any more (after a reset if one did not complete).
 */
static int spatten_nop_loop(struct spatten_queue *q, u32 n, u32 depth,
			    u64 *lat, u32 *done_out,
			    struct spatten_job ***jobs_out)
{
	struct spatten_job **jobs;
	u32 sent = 0, done = 0, i;
	ktime_t *t0;
	int ret = 0;

	jobs = kcalloc(depth, sizeof(*jobs), GFP_KERNEL);
	*jobs_out = jobs;
	t0 = kcalloc(depth, sizeof(*t0), GFP_KERNEL);
	if (!jobs || !t0) {
		ret = -ENOMEM;
		goto out;
	}
	for (i = 0; i < depth && sent < n; i++) {
		ret = spatten_nop_send(q, &jobs[i], &t0[i]);
		if (ret)
			break;
		sent++;
	}
	/* In submission order: the oldest NOP is the next to wait for. */
	for (i = 0; done < sent; i = (i + 1) % depth) {
		if (!jobs[i] || !jobs[i]->hw_fence->ops)
			continue;
		if (dma_fence_wait_timeout(jobs[i]->hw_fence, false,
					   msecs_to_jiffies(q->sdev->timeout_ms)) <= 0) {
			ret = -ETIMEDOUT;
			break;
		}
		lat[done++] = ktime_to_ns(ktime_sub(ktime_get(), t0[i]));
		if (!ret && sent < n) {
			ret = spatten_nop_send(q, &jobs[i], &t0[i]);
			sent += !ret;
		} else {
			spatten_nop_free(jobs[i]);
			jobs[i] = NULL;
		}
	}
	*done_out = done;
out:
	kfree(t0);
	return ret;
}

static int spatten_nop_run(struct spatten_device *sdev, u32 n, u32 depth)
{
	struct spatten_job **jobs = NULL;
	struct spatten_queue *q;
	u64 *lat, total;
	u32 done = 0;
	ktime_t start;
	int ret, idx;

	lat = kvmalloc_array(n, sizeof(*lat), GFP_KERNEL);
	if (!lat)
		return -ENOMEM;
	if (!drm_dev_enter(&sdev->drm, &idx)) {
		kvfree(lat);
		return -ENODEV;
	}
	/* The device running throughout, as for the jobs of a SUBMIT. */
	ret = spatten_pm_get(sdev);
	if (ret) {
		drm_dev_exit(idx);
		kvfree(lat);
		return ret;
	}
	/* No reset, suspend or unplug while the scheduler is paused. */
	spatten_reset_lock(sdev);
	if (sdev->pm_paused) {
		ret = -EBUSY;
		goto out_unlock;
	}
	q = &sdev->queues[raw_smp_processor_id() % sdev->nr_queues];
	spatten_sched_pause(&q->sched);
	ret = READ_ONCE(sdev->broken) ? -EIO :
	      spatten_nop_drain(q, READ_ONCE(sdev->timeout_ms));
	if (!ret) {
		start = ktime_get();
		ret = spatten_nop_loop(q, n, depth, lat, &done, &jobs);
		total = ktime_to_ns(ktime_sub(ktime_get(), start));
	}
	spatten_sched_resume(&q->sched);
	/* A NOP did not complete: reset, which fails what is on the ring. */
	if (ret == -ETIMEDOUT)
		spatten_dev_reset_locked(sdev, NULL);
	spatten_nop_jobs_free(jobs, depth);
out_unlock:
	spatten_reset_unlock(sdev);
	spatten_pm_put(sdev);
	drm_dev_exit(idx);

	if (!ret && done)
		spatten_nop_report_set(lat, done, depth, total);
	kvfree(lat);
	return ret;
}

static ssize_t spatten_nop_write(struct file *file, const char __user *ubuf,
				 size_t len, loff_t *ppos)
{
	struct spatten_device *sdev = file_inode(file)->i_private;
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
void spatten_nop_bench_init(struct spatten_device *sdev)
{
	debugfs_create_file("nop_bench", 0600, sdev->debugfs, sdev,
			    &spatten_nop_fops);
}
