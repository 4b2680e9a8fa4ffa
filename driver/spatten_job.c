// SPDX-License-Identifier: GPL-2.0
/*
 * SpAtten driver: jobs (allocation, lifetime, completion), WAIT and REAP.
 *
 * A job's finished fence moves it to its file's done list, from which WAIT
 * (one job by seqno) and REAP (any, many) take it. SUBMIT is in
 * spatten_submit.c. docs/driver.md has the lifetimes.
 */
#include <linux/dma-fence-array.h>
#include <linux/dma-fence-chain.h>
#include <linux/dma-resv.h>
#include <linux/hrtimer.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/ww_mutex.h>

#include <drm/drm_drv.h>
#include <drm/drm_gem.h>
#include <drm/drm_syncobj.h>

#include "spatten_compat.h"
#include "spatten_drv.h"
#include "spatten_gem.h"
#include "spatten_job.h"
#include "spatten_pm.h"
#include "spatten_queue.h"
#include "spatten_trace.h"

/**
 * spatten_job_new() - allocate a job and its hardware fence
 *
 * For SUBMIT and for the kernel's own NOPs (nop_bench): one reference,
 * list heads ready, no file.
 *
 * Return: the job, or NULL.
 */
struct spatten_job *spatten_job_new(void)
{
	struct spatten_job *job;

	job = kzalloc(sizeof(*job), GFP_KERNEL_ACCOUNT);
	if (!job)
		return NULL;
	job->hw_fence = spatten_fence_alloc();
	if (!job->hw_fence) {
		kfree(job);
		return NULL;
	}
	kref_init(&job->ref);
	INIT_LIST_HEAD(&job->done_node);
	INIT_LIST_HEAD(&job->ring_node);
	INIT_LIST_HEAD(&job->order_node);
	INIT_LIST_HEAD(&job->reset_node);
	return job;
}

static void spatten_job_release(struct kref *ref)
{
	struct spatten_job *job = container_of(ref, struct spatten_job, ref);
	unsigned int i;

	for (i = 0; i < SPATTEN_T_NUM; i++)
		if (job->bo[i])
			drm_gem_object_put(job->bo[i]);
	if (job->done_fence)
		dma_fence_put(job->done_fence);
	spatten_fence_free(job->hw_fence);
	spatten_file_put(job->sfile);
	atomic_dec(&spatten_live.jobs);
	kfree(job);
}

/**
 * spatten_job_put() - drop a reference to a job
 * @job: the job
 *
 * May sleep (buffer release).
 */
void spatten_job_put(struct spatten_job *job)
{
	kref_put(&job->ref, spatten_job_release);
}

/**
 * spatten_job_sync_for_cpu() - give the job's buffers back to the CPU
 * @job: a job the device finished with
 */
void spatten_job_sync_for_cpu(struct spatten_job *job)
{
	unsigned int i;

	for (i = 0; i < SPATTEN_T_NUM; i++)
		if (job->bo[i])
			spatten_gem_sync(job->bo[i], true);
}

/**
 * spatten_job_sync_for_device() - hand the job's buffers to the device
 * @job: a job about to go on a ring: its dependencies (in-fences, implicit
 *	sync) have signalled, so what they wrote is in the buffers
 */
void spatten_job_sync_for_device(struct spatten_job *job)
{
	unsigned int i;

	for (i = 0; i < SPATTEN_T_NUM; i++)
		if (job->bo[i])
			spatten_gem_sync(job->bo[i], false);
}

/* The finished fence signalled: the job is done, successfully or not. */
void spatten_job_done_cb(struct dma_fence *fence, struct dma_fence_cb *cb)
{
	struct spatten_job *job = container_of(cb, struct spatten_job, done_cb);
	struct spatten_file *sfile = job->sfile;
	unsigned long flags;

	/* Never ran: canceled by a ban, an unplug or a killed entity. */
	if (!job->q && job->result.status == DRM_SPATTEN_STATUS_OK)
		job->result.status = DRM_SPATTEN_STATUS_CANCELED;

	atomic64_add(job->result.engine_ns, &sfile->engine_ns);
	atomic64_add(job->result.cycles, &sfile->cycles);
	xa_lock_irqsave(&sfile->jobs, flags);
	if (!sfile->closed) {
		list_add_tail(&job->done_node, &sfile->done);
		sfile->nr_done++;
	}
	/*
	 * Under the lock: once it is released a REAP may take the job and
	 * its free path drop the last reference to @sfile.
	 */
	wake_up_all(&sfile->wq);
	xa_unlock_irqrestore(&sfile->jobs, flags);
}

/**
 * spatten_file_release_jobs() - drop the job table of a closing file
 * @sfile: the file; its entity is destroyed, so no job runs for it any more
 *	except the ones already on a ring, which hold their own references
 */
void spatten_file_release_jobs(struct spatten_file *sfile)
{
	struct spatten_job *job;
	unsigned long seqno;

	xa_lock_irq(&sfile->jobs);
	sfile->closed = true;
	xa_unlock_irq(&sfile->jobs);

	xa_for_each(&sfile->jobs, seqno, job) {
		xa_erase_irq(&sfile->jobs, seqno);
		dma_fence_remove_callback(job->done_fence, &job->done_cb);
		spatten_job_put(job);
	}
	sfile->nr_jobs = 0;
	sfile->nr_done = 0;
	INIT_LIST_HEAD(&sfile->done);
}

/* ---- WAIT and REAP ---------------------------------------------------- */

/* Take a done job off the file; the caller holds the job table lock. */
static void spatten_job_unlink(struct spatten_file *sfile,
			       struct spatten_job *job)
{
	list_del_init(&job->done_node);
	sfile->nr_done--;
	sfile->nr_jobs--;
	__xa_erase(&sfile->jobs, job->seqno);
}

/* Is job @seqno done, or not a pending job of the file at all? */
static bool spatten_job_settled(struct spatten_file *sfile, u64 seqno)
{
	struct spatten_job *job;
	bool settled;

	xa_lock_irq(&sfile->jobs);
	job = xa_load(&sfile->jobs, seqno);
	settled = !job || !list_empty(&job->done_node);
	xa_unlock_irq(&sfile->jobs);
	return settled;
}

/* Are @min jobs done, or every pending one? */
static bool spatten_reap_ready(struct spatten_file *sfile, u64 min)
{
	bool ready;

	xa_lock_irq(&sfile->jobs);
	ready = sfile->nr_done >= min || sfile->nr_done == sfile->nr_jobs;
	xa_unlock_irq(&sfile->jobs);
	return ready;
}

/*
 * Sleep until @ready(@sfile, @arg) or the absolute CLOCK_MONOTONIC
 * @deadline_ns. Every job completes, even after an unplug (the ring is
 * failed, queued jobs are canceled), so this needs no unplug case.
 * Return: 0 when ready, -ETIME, -ERESTARTSYS.
 */
static int spatten_file_wait(struct spatten_file *sfile,
			     bool (*ready)(struct spatten_file *, u64), u64 arg,
			     s64 deadline_ns)
{
	ktime_t left;

	if (ready(sfile, arg))
		return 0;
	/* A passed deadline polls (a negative relative hrtimer never fires). */
	left = ktime_sub(ns_to_ktime(deadline_ns), ktime_get());
	if (ktime_to_ns(left) <= 0)
		return -ETIME;
	return wait_event_interruptible_hrtimeout(sfile->wq, ready(sfile, arg),
						  left);
}

/**
 * spatten_ioctl_wait() - DRM_IOCTL_SPATTEN_WAIT
 * @drm: the DRM device
 * @data: struct drm_spatten_wait
 * @file: the caller's file
 *
 * Return: 0 with the result; -EINVAL; -ENOENT (not a pending job of this
 * file); -ETIME (not done by the deadline); -ERESTARTSYS.
 */
int spatten_ioctl_wait(struct drm_device *drm, void *data,
		       struct drm_file *file)
{
	struct spatten_file *sfile = file->driver_priv;
	struct drm_spatten_wait *args = data;
	struct spatten_job *job;
	int ret;

	if (args->flags || args->rsvd)
		return -EINVAL;
	ret = spatten_file_wait(sfile, spatten_job_settled, args->seqno,
				args->timeout_ns);
	if (ret)
		return ret;

	xa_lock_irq(&sfile->jobs);
	job = xa_load(&sfile->jobs, args->seqno);
	if (!job || list_empty(&job->done_node)) {
		/* Reaped meanwhile by another thread, or never submitted. */
		xa_unlock_irq(&sfile->jobs);
		return -ENOENT;
	}
	spatten_job_unlink(sfile, job);
	xa_unlock_irq(&sfile->jobs);

	args->result = job->result;
	spatten_job_put(job);
	return 0;
}

/*
 * Take up to @max done jobs off the done list, in completion order. They
 * stay in the job table until their results reached userspace.
 */
static u32 spatten_reap_take(struct spatten_file *sfile,
			     struct spatten_job **jobs, u32 max)
{
	struct spatten_job *job, *tmp;
	u32 n = 0;

	xa_lock_irq(&sfile->jobs);
	list_for_each_entry_safe(job, tmp, &sfile->done, done_node) {
		if (n == max)
			break;
		list_del_init(&job->done_node);
		sfile->nr_done--;
		jobs[n++] = job;
	}
	xa_unlock_irq(&sfile->jobs);
	return n;
}

/* Retire reaped jobs, or give them back (in order) if the copy failed. */
static void spatten_reap_finish(struct spatten_file *sfile,
				struct spatten_job **jobs, u32 n, bool copied)
{
	u32 i;

	xa_lock_irq(&sfile->jobs);
	for (i = n; i--; ) {
		if (copied) {
			sfile->nr_jobs--;
			__xa_erase(&sfile->jobs, jobs[i]->seqno);
		} else {
			list_add(&jobs[i]->done_node, &sfile->done);
			sfile->nr_done++;
		}
	}
	xa_unlock_irq(&sfile->jobs);
	for (i = 0; copied && i < n; i++)
		spatten_job_put(jobs[i]);
	wake_up_all(&sfile->wq);
}

/* One result, @size bytes at @dst: cut, or zero-extended past ours. */
static int spatten_put_result(void __user *dst, size_t size,
			      const struct drm_spatten_result *res)
{
	size_t n = min(size, sizeof(*res));

	if (copy_to_user(dst, res, n) ||
	    (size > n && clear_user(dst + n, size - n)))
		return -EFAULT;
	return 0;
}

/**
 * spatten_ioctl_reap() - DRM_IOCTL_SPATTEN_REAP
 * @drm: the DRM device
 * @data: struct drm_spatten_reap
 * @file: the caller's file
 *
 * A fault on the result array gives the jobs back: nothing is reaped.
 * Results are written @result_size apart, each cut to @result_size or
 * zero-extended to it, so that the struct can grow.
 *
 * Return: 0; -EINVAL (flags, counts, @result_size); -EFAULT; -ETIME
 * (nothing done by the deadline);
 * -ERESTARTSYS.
 */
int spatten_ioctl_reap(struct drm_device *drm, void *data,
		       struct drm_file *file)
{
	struct spatten_file *sfile = file->driver_priv;
	struct drm_spatten_result __user *out;
	struct drm_spatten_reap *args = data;
	struct spatten_job **jobs;
	size_t stride;
	u32 i, n;
	int ret;

	stride = args->result_size ?: DRM_SPATTEN_RESULT_SIZE_V3;
	if (args->flags || !args->count || args->count > DRM_SPATTEN_REAP_MAX ||
	    args->min_count > args->count || stride % 8 ||
	    stride > DRM_SPATTEN_RESULT_SIZE_MAX)
		return -EINVAL;
	out = u64_to_user_ptr(args->results_ptr);
	if (!access_ok(out, (size_t)args->count * stride))
		return -EFAULT;
	jobs = kmalloc_array(args->count, sizeof(*jobs), GFP_KERNEL);
	if (!jobs)
		return -ENOMEM;

	ret = spatten_file_wait(sfile, spatten_reap_ready, args->min_count,
				args->timeout_ns);
	if (ret && ret != -ETIME)
		goto out_free;
	n = spatten_reap_take(sfile, jobs, args->count);
	if (!n && ret == -ETIME && args->min_count)
		goto out_free;
	ret = 0;
	for (i = 0; i < n && !ret; i++)
		ret = spatten_put_result((void __user *)out + i * stride, stride,
					 &jobs[i]->result);
	spatten_reap_finish(sfile, jobs, n, !ret);
	args->reaped = ret ? 0 : n;
	xa_lock_irq(&sfile->jobs);
	args->pending = sfile->nr_jobs;
	xa_unlock_irq(&sfile->jobs);
out_free:
	kfree(jobs);
	return ret;
}
