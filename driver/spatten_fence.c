// SPDX-License-Identifier: GPL-2.0
/*
 * SpAtten driver: the hardware fences of jobs, and what they keep alive.
 */
#include <linux/dma-fence.h>
#include <linux/llist.h>
#include <linux/slab.h>
#include <linux/wait_bit.h>
#include <linux/workqueue.h>

#include <drm/drm_drv.h>

#include "spatten_drv.h"
#include "spatten_fence.h"
#include "spatten_job.h"

/**
 * struct spatten_fence - the hardware fence of a job on a ring
 * @base: the fence
 * @sdev: the board, from dma_fence_init() to the fence's release: a
 *	reference to its DRM device (the fence's lock lives there, and the
 *	scheduler fences that point to it name their timeline after it)
 * @put_node: on spatten_fence_puts from its release to its freeing
 *
 * A fence can outlive its job, its file, the device's unbind and the last
 * close: it stays in sync objects, sync files and the reservation objects
 * of exported buffers, in any process. So it pins the DRM device, and
 * module exit waits for it (its ops are module code).
 */
struct spatten_fence {
	struct dma_fence base;
	struct spatten_device *sdev;
	struct llist_node put_node;
};

static LLIST_HEAD(spatten_fence_puts);

static void spatten_fence_put_work(struct work_struct *work)
{
	struct llist_node *list = llist_del_all(&spatten_fence_puts);
	struct spatten_fence *f, *next;

	llist_for_each_entry_safe(f, next, list, put_node) {
		struct spatten_device *sdev = f->sdev;

		dma_fence_free(&f->base);
		drm_dev_put(&sdev->drm);
		if (atomic_dec_and_test(&spatten_live.fences))
			wake_up_var(&spatten_live.fences);
	}
}

static DECLARE_WORK(spatten_fence_put_worker, spatten_fence_put_work);

static const char *spatten_fence_driver_name(struct dma_fence *fence)
{
	return SPATTEN_DRV_NAME;
}

static const char *spatten_fence_timeline_name(struct dma_fence *fence)
{
	return "spatten-ring";
}

/*
 * Any context, IRQ included. The DRM device reference may be the last one,
 * whose release (drm_sched_fini()) sleeps and waits for the scheduler's
 * own work, where fences are often released: it goes from a work item,
 * which module exit waits for; one run of it frees every fence released
 * meanwhile.
 */
static void spatten_fence_release(struct dma_fence *fence)
{
	struct spatten_fence *f = container_of(fence, struct spatten_fence,
					       base);

	if (llist_add(&f->put_node, &spatten_fence_puts))
		schedule_work(&spatten_fence_put_worker);
}

static const struct dma_fence_ops spatten_fence_ops = {
	.get_driver_name = spatten_fence_driver_name,
	.get_timeline_name = spatten_fence_timeline_name,
	.release = spatten_fence_release,
};

/*
 * The fences of the kernel's own NOPs (nop_bench): they never leave the
 * driver (no scheduler fence, no file), which frees them before it leaves
 * the device, so they pin nothing and free as plain dma_fences.
 */
static const struct dma_fence_ops spatten_nop_fence_ops = {
	.get_driver_name = spatten_fence_driver_name,
	.get_timeline_name = spatten_fence_timeline_name,
};

/**
 * spatten_fences_flush() - wait for the deferred fence releases (module
 * exit, once no fence is left: the last release may still be running)
 */
void spatten_fences_flush(void)
{
	flush_work(&spatten_fence_put_worker);
}

/**
 * spatten_fence_alloc() - allocate a job's hardware fence at SUBMIT, so
 * that run_job (in the fence signalling path) never allocates
 *
 * Return: the fence, not initialized, or NULL.
 */
struct dma_fence *spatten_fence_alloc(void)
{
	struct spatten_fence *f = kzalloc(sizeof(*f), GFP_KERNEL_ACCOUNT);

	return f ? &f->base : NULL;
}

/**
 * spatten_fence_free() - drop the job's reference to its hardware fence
 * @fence: from spatten_fence_alloc(), initialized by run_job or not; NULL
 *	is ignored
 */
void spatten_fence_free(struct dma_fence *fence)
{
	if (!fence)
		return;
	if (fence->ops)
		dma_fence_put(fence);
	else
		kfree(container_of(fence, struct spatten_fence, base));
}

/**
 * spatten_fence_init() - set up a job's hardware fence as it goes on a ring
 * @q: the ring
 * @fence: from spatten_fence_alloc()
 * @context: its fence context
 * @seqno: its sequence number in @context
 *
 * The fence pins the DRM device and is counted until released; module
 * exit waits for that (spatten_exit()).
 */
void spatten_fence_init(struct spatten_queue *q, struct dma_fence *fence,
			u64 context, u64 seqno)
{
	struct spatten_fence *f = container_of(fence, struct spatten_fence,
					       base);

	atomic_inc(&spatten_live.fences);
	drm_dev_get(&q->sdev->drm);
	f->sdev = q->sdev;
	dma_fence_init(fence, &spatten_fence_ops, &q->fence_lock, context,
		       seqno);
}

/**
 * spatten_queue_refuse() - end a job that will not go on the ring (banned
 *	file, failed dependency, board gone or out of service)
 * @q: the queue whose scheduler ran it
 * @job: the job
 * @err: its error
 *
 * The job's hardware fence is signalled at once with @err, in a fence
 * context of its own (the ring's fences signal in ring order), and
 * becomes the scheduler fence's parent, as for the jobs that ran: so
 * every finished fence keeps the board, whose scheduler names it.
 *
 * Return: a reference to the fence, for the scheduler.
 */
struct dma_fence *spatten_queue_refuse(struct spatten_queue *q,
				       struct spatten_job *job, int err)
{
	spatten_fence_init(q, job->hw_fence, dma_fence_context_alloc(1), 1);
	dma_fence_set_error(job->hw_fence, err);
	/* 6.1 does not pass the hardware fence's error on. */
	dma_fence_set_error(&job->base.s_fence->finished, err);
	dma_fence_signal(job->hw_fence);
	return dma_fence_get(job->hw_fence);
}

/**
 * spatten_fence_init_nop() - set up the hardware fence of a kernel NOP
 * @q: the ring
 * @fence: from spatten_fence_alloc()
 * @seqno: its sequence number on the ring
 */
void spatten_fence_init_nop(struct spatten_queue *q, struct dma_fence *fence,
			    u64 seqno)
{
	dma_fence_init(fence, &spatten_nop_fence_ops, &q->fence_lock,
		       q->fence_ctx, seqno);
}
