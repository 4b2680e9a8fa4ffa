// SPDX-License-Identifier: GPL-2.0
/*
 * SpAtten driver: the drm_sched backend (run, free, timeout) and device
 * recovery after a hang.
 *
 * One scheduler per hardware queue, all sharing one ordered timeout
 * workqueue, so that a reset, which touches every queue, never runs twice
 * at once. The scheduler's job timeout restarts at every completion on the
 * ring, so it measures a job's time on the engine, not its wait behind
 * others. docs/driver.md describes the recovery policy.
 */
#include <linux/dma-fence.h>
#include <linux/ktime.h>
#include <linux/pci.h>
#include <linux/workqueue.h>

#include <drm/drm_drv.h>
#include <drm/drm_managed.h>

#include "spatten_compat.h"
#include "spatten_coredump.h"
#include "spatten_drv.h"
#include "spatten_job.h"
#include "spatten_pm.h"
#include "spatten_queue.h"
#include "spatten_trace.h"

static struct dma_fence *spatten_run_job(struct drm_sched_job *sched_job)
{
	struct spatten_job *job = to_spatten_job(sched_job);
	struct spatten_queue *q = container_of(sched_job->sched,
					       struct spatten_queue, sched);
	struct spatten_device *sdev = q->sdev;
	struct dma_fence *fence;
	int idx;

	/* Behind a failed dependency. */
	if (unlikely(sched_job->s_fence->finished.error))
		return spatten_queue_refuse(q, job,
					    sched_job->s_fence->finished.error);
	if (READ_ONCE(job->sfile->banned))
		return spatten_queue_refuse(q, job, -ECANCELED);
	if (!drm_dev_enter(&sdev->drm, &idx))
		return spatten_queue_refuse(q, job, -ENODEV);
	if (READ_ONCE(sdev->broken)) {
		drm_dev_exit(idx);
		return spatten_queue_refuse(q, job, -EIO);
	}
	spatten_job_sync_for_device(job);
	fence = spatten_queue_push(q, job);
	drm_dev_exit(idx);
	return fence;
}

static void spatten_free_job(struct drm_sched_job *sched_job)
{
	struct spatten_job *job = to_spatten_job(sched_job);
	struct spatten_device *sdev = job->sfile->sdev;

	atomic_dec(&job->sched_q->queued);
	drm_sched_job_cleanup(sched_job);
	/*
	 * drm_sched_stop() frees finished jobs in the reset path: their
	 * buffers (reservation locks, page unpinning) go after it.
	 */
	if (READ_ONCE(sdev->reset_owner) == current) {
		lockdep_assert_held(&sdev->reset_lock);
		list_add_tail(&job->reset_node, &sdev->reset_freed);
		return;
	}
	/* The runtime PM reference SUBMIT took for the job. */
	spatten_pm_put(sdev);
	/*
	 * Last: this may drop the file's last reference, and with it the
	 * board (free_job also runs from drm_sched's entity-kill work).
	 */
	spatten_job_put(job);
}

/**
 * spatten_reset_lock() - take @reset_lock to stop schedulers
 * @sdev: the board
 *
 * The jobs drm_sched_stop() frees meanwhile are released by
 * spatten_reset_unlock(), outside the lock and the reset.
 */
void spatten_reset_lock(struct spatten_device *sdev)
{
	mutex_lock(&sdev->reset_lock);
	WRITE_ONCE(sdev->reset_owner, current);
}

/**
 * spatten_reset_unlock() - release @reset_lock, then the jobs freed under it
 * @sdev: the board, locked by spatten_reset_lock()
 */
void spatten_reset_unlock(struct spatten_device *sdev)
{
	struct spatten_job *job, *next;
	LIST_HEAD(freed);

	list_splice_init(&sdev->reset_freed, &freed);
	WRITE_ONCE(sdev->reset_owner, NULL);
	mutex_unlock(&sdev->reset_lock);

	/* Callers hold the board (a scheduler's timeout work, remove()...). */
	list_for_each_entry_safe(job, next, &freed, reset_node) {
		spatten_pm_put(sdev);
		spatten_job_put(job);
	}
}

/**
 * spatten_scheds_stop() - park every scheduler of the board
 * @sdev: the board; the caller holds @reset_lock
 * @bad: the job whose timeout triggered this, or NULL
 */
void spatten_scheds_stop(struct spatten_device *sdev, struct drm_sched_job *bad)
{
	u32 i;

	lockdep_assert_held(&sdev->reset_lock);
	for (i = 0; i < sdev->nr_queues; i++) {
		struct drm_gpu_scheduler *sched = &sdev->queues[i].sched;

		drm_sched_stop(sched, bad && bad->sched == sched ? bad : NULL);
	}
}

/*
 * drm_sched_stop() detaches every running job from its hardware fence and
 * drm_sched_start() completes the detached ones at once, with -ECANCELED
 * on 6.12 whatever happened to them. Give every job that went on a ring
 * its hardware fence back first: drm_sched_start() then waits for it, or,
 * if it signalled (finished, or failed by a reset), completes the job
 * with its error. Only jobs that never reached a ring stay detached.
 */
static void spatten_sched_reattach(struct drm_gpu_scheduler *sched)
{
	struct drm_sched_job *s_job;

	spin_lock(&sched->job_list_lock);
	list_for_each_entry(s_job, &sched->pending_list, list) {
		struct spatten_job *job = to_spatten_job(s_job);

		/* run_job put it on a ring: its hardware fence is set up. */
		if (job->q && !s_job->s_fence->parent)
			s_job->s_fence->parent = dma_fence_get(job->hw_fence);
	}
	spin_unlock(&sched->job_list_lock);
}

static void spatten_queue_sched_start(struct spatten_queue *q)
{
	spatten_sched_reattach(&q->sched);
	spatten_sched_start(&q->sched);
}

/**
 * spatten_scheds_start() - restart every scheduler of the board
 * @sdev: the board; the caller holds @reset_lock
 *
 * Jobs still on a ring keep running; the ones that completed or were
 * failed (spatten_queues_fail_ring()) are retired now; queued jobs run.
 */
void spatten_scheds_start(struct spatten_device *sdev)
{
	u32 i;

	lockdep_assert_held(&sdev->reset_lock);
	for (i = 0; i < sdev->nr_queues; i++)
		spatten_queue_sched_start(&sdev->queues[i]);
}

/*
 * Stop the device and take it off the bus if it does not stop: from then
 * on it cannot touch a buffer, so the jobs' buffers may be released.
 */
static void spatten_dev_stop(struct spatten_device *sdev)
{
	if (spatten_hw_disable(sdev)) {
		drm_err(&sdev->drm, "device does not reset: bus mastering off\n");
		WRITE_ONCE(sdev->broken, true);
		pci_clear_master(sdev->pdev);
	}
	spatten_irqs_sync(sdev);
}

/**
 * spatten_dev_recover() - reset the device and program its queues again
 * @sdev: the board, stopped; the caller holds @reset_lock
 *
 * If the device does not come back it is taken off the bus (bus mastering
 * off) and marked broken: jobs fail, SUBMIT returns -EIO. A board already
 * broken (its device did not stop) stays so, off the bus, until a PCI
 * function reset (spatten_reset_done()) or a new probe.
 *
 * Return: 0 or a negative errno.
 */
int spatten_dev_recover(struct spatten_device *sdev)
{
	int ret = -EIO;

	lockdep_assert_held(&sdev->reset_lock);
	atomic_set(&sdev->force_timeout, 0);
	if (!READ_ONCE(sdev->broken)) {
		ret = spatten_hw_reset(sdev);
		if (!ret)
			ret = spatten_queues_hw_init(sdev);
		if (ret) {
			drm_err(&sdev->drm, "device did not come back after a reset (%d)\n",
				ret);
			WRITE_ONCE(sdev->broken, true);
			spatten_hw_disable(sdev);
			pci_clear_master(sdev->pdev);
		}
	}
	/* The device runs (or is off the bus): its registers may be read. */
	spin_lock(&sdev->cnt_lock);
	sdev->hw_off = false;
	spin_unlock(&sdev->cnt_lock);
	return ret;
}

/*
 * The job finished after all (a lost interrupt), or was failed by a reset
 * that ran first: give it back to its scheduler, which retires it; the
 * other jobs on the ring keep running.
 */
static void spatten_timeout_spurious(struct spatten_device *sdev,
				     struct drm_sched_job *sched_job)
{
	struct spatten_queue *q = container_of(sched_job->sched,
					       struct spatten_queue, sched);

	drm_sched_stop(sched_job->sched, sched_job);
	spatten_queue_sched_start(q);
}

/**
 * spatten_dev_reset_locked() - reset a board whose device stopped
 *	answering: stop the schedulers, dump, stop the device, fail the jobs
 *	on the rings, bring the device back (or take it off the bus), restart
 * @sdev: the board; the caller holds @reset_lock and is inside
 *	drm_dev_enter(); no scheduler of the board is paused
 * @job: the job that hung (it gets TIMEOUT, its file is banned), or NULL
 *	(every job on a ring gets ABORTED)
 */
void spatten_dev_reset_locked(struct spatten_device *sdev,
			      struct spatten_job *job)
{
	lockdep_assert_held(&sdev->reset_lock);
	atomic_inc(&sdev->nr_resets);
	spatten_scheds_stop(sdev, job ? &job->base : NULL);
	if (job) {
		atomic_inc(&sdev->nr_timeouts);
		WRITE_ONCE(job->sfile->banned, true);
		spatten_coredump(sdev, job);
	}
	spatten_dev_stop(sdev);
	spatten_queues_fail_ring(sdev, job);
	trace_spatten_reset(job ? SPATTEN_RESET_TIMEOUT : SPATTEN_RESET_HANG,
			    spatten_dev_recover(sdev));
	spatten_scheds_start(sdev);
}

/*
 * A timeout that fired just before a system suspend suspended the timers
 * and ran once it released @reset_lock, with the board suspended: the
 * job has left the ring (completed, or failed by the suspend). drm_sched
 * took it off its pending list for this handler; put it back at the head,
 * as drm_sched_stop() does with the bad job, for the scheduler to retire
 * once the resume lets it run. drm_sched_stop() itself is not for a
 * paused scheduler.
 */
static void spatten_timeout_suspended(struct drm_sched_job *sched_job)
{
	struct drm_gpu_scheduler *sched = sched_job->sched;

	spin_lock(&sched->job_list_lock);
	list_add(&sched_job->list, &sched->pending_list);
	spin_unlock(&sched->job_list_lock);
}

static enum drm_gpu_sched_stat
spatten_timedout_job(struct drm_sched_job *sched_job)
{
	struct spatten_job *job = to_spatten_job(sched_job);
	struct spatten_queue *q = container_of(sched_job->sched,
					       struct spatten_queue, sched);
	struct spatten_device *sdev = q->sdev;
	int idx;

	spatten_reset_lock(sdev);
	if (sdev->pm_paused) {
		spatten_timeout_suspended(sched_job);
		spatten_reset_unlock(sdev);
		/* ENODEV: drm_sched must not re-arm the suspended timeout. */
		return DRM_GPU_SCHED_STAT_ENODEV;
	}
	if (!drm_dev_enter(&sdev->drm, &idx)) {
		spatten_timeout_spurious(sdev, sched_job);
		goto out_unlock;
	}
	spatten_queue_process(q);
	/* Never on a ring (canceled, banned), done after all, or no device. */
	if (!job->q || dma_fence_is_signaled(job->hw_fence) ||
	    READ_ONCE(sdev->broken)) {
		spatten_timeout_spurious(sdev, sched_job);
		goto out_exit;
	}

	drm_warn(&sdev->drm, "job %llu of client %llu timed out after %u ms: resetting the device\n",
		 job->seqno, job->sfile->client_id, READ_ONCE(sdev->timeout_ms));
	trace_spatten_job_timeout(job->sfile->client_id, job->seqno, q->id);
	spatten_dev_reset_locked(sdev, job);
out_exit:
	drm_dev_exit(idx);
out_unlock:
	spatten_reset_unlock(sdev);
	return DRM_GPU_SCHED_STAT_NOMINAL;
}

const struct drm_sched_backend_ops spatten_sched_ops = {
	.run_job = spatten_run_job,
	.timedout_job = spatten_timedout_job,
	.free_job = spatten_free_job,
};

static void spatten_scheds_release(struct drm_device *drm, void *res)
{
	struct spatten_device *sdev = to_spatten_device(drm);
	struct workqueue_struct *wq = res;
	u32 i;

	for (i = 0; i < sdev->nr_queues; i++)
		if (sdev->scheds[i])
			drm_sched_fini(sdev->scheds[i]);
	destroy_workqueue(wq);
}

/**
 * spatten_scheds_init() - one scheduler per queue
 * @sdev: the board, queues initialized
 *
 * The schedulers live as long as the DRM device (files may hold entities
 * on them after an unbind); drm_sched_fini() runs at its release.
 *
 * Return: 0 or a negative errno.
 */
int spatten_scheds_init(struct spatten_device *sdev)
{
	struct workqueue_struct *tdr_wq;
	u32 i;
	int ret;

	tdr_wq = alloc_ordered_workqueue("spatten-tdr-%s", 0,
					 pci_name(sdev->pdev));
	if (!tdr_wq)
		return -ENOMEM;
	ret = drmm_add_action_or_reset(&sdev->drm, spatten_scheds_release,
				       tdr_wq);
	if (ret)
		return ret;

	for (i = 0; i < sdev->nr_queues; i++) {
		struct spatten_queue *q = &sdev->queues[i];
		const struct drm_sched_init_args args = {
			.ops = &spatten_sched_ops,
#ifdef SPATTEN_HAVE_SCHED_ARGS_NUM_RQS
			.num_rqs = DRM_SCHED_PRIORITY_COUNT,
#endif
			.credit_limit = q->depth - 1,
			.timeout = msecs_to_jiffies(sdev->timeout_ms),
			.timeout_wq = tdr_wq,
			.name = q->irq_name,
			.dev = sdev->drm.dev,
		};

		ret = drm_sched_init(&q->sched, &args);
		if (ret) {
			drm_err(&sdev->drm, "queue %u: scheduler init failed (%d)\n",
				i, ret);
			return ret;
		}
		sdev->scheds[i] = &q->sched;
	}
	return 0;
}

/**
 * spatten_scheds_set_timeout() - change the job timeout (debugfs)
 * @sdev: the board
 * @ms: milliseconds, 100..3600000
 */
void spatten_scheds_set_timeout(struct spatten_device *sdev, u32 ms)
{
	u32 i;

	WRITE_ONCE(sdev->timeout_ms, ms);
	for (i = 0; i < sdev->nr_queues; i++)
		WRITE_ONCE(sdev->queues[i].sched.timeout, msecs_to_jiffies(ms));
}
