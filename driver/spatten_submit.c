// SPDX-License-Identifier: GPL-2.0
/*
 * SpAtten driver: SUBMIT.
 *
 * SUBMIT copies and validates everything first, takes references on the
 * buffers and sync objects, and only then pushes the jobs to the file's
 * scheduler entity, in order. docs/driver.md has the steps.
 */
#include <linux/dma-fence-array.h>
#include <linux/dma-fence-chain.h>
#include <linux/dma-resv.h>
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

/* Largest struct drm_spatten_job a caller may pass (job_size). */
#define SPATTEN_MAX_JOB_SIZE	4096

/**
 * struct spatten_submit - the state of one SUBMIT
 * @args: the ioctl argument
 * @ujobs: the jobs as copied in, zero-extended
 * @jobs: the kernel jobs
 * @in: in-fence syncs
 * @out: out-fence syncs
 * @out_obj: the out-fence sync objects (references)
 * @chains: preallocated timeline points of the out-fences
 * @out_array: the out-fence of a batch with out-syncs and more than one
 *	job, made ahead with stub fences (replaced once the jobs are armed)
 * @objs: distinct buffers of the batch, for reservation locking
 * @nr_objs: entries of @objs
 */
struct spatten_submit {
	struct drm_spatten_submit *args;
	struct drm_spatten_job *ujobs;
	struct spatten_job **jobs;
	struct drm_spatten_sync in[DRM_SPATTEN_MAX_SYNCS];
	struct drm_spatten_sync out[DRM_SPATTEN_MAX_SYNCS];
	struct drm_syncobj *out_obj[DRM_SPATTEN_MAX_SYNCS];
	struct dma_fence_chain *chains[DRM_SPATTEN_MAX_SYNCS];
	struct dma_fence_array *out_array;
	struct drm_gem_object **objs;
	unsigned int nr_objs;
};

static int spatten_submit_check_args(const struct drm_spatten_submit *args)
{
	if (args->flags & ~DRM_SPATTEN_SUBMIT_NO_IMPLICIT || args->rsvd0 ||
	    args->rsvd)
		return -EINVAL;
	if (!args->count || args->count > DRM_SPATTEN_MAX_SUBMIT)
		return -EINVAL;
	if (args->in_sync_count > DRM_SPATTEN_MAX_SYNCS ||
	    args->out_sync_count > DRM_SPATTEN_MAX_SYNCS)
		return -EINVAL;
	if (!args->job_size || args->job_size > SPATTEN_MAX_JOB_SIZE ||
	    !IS_ALIGNED(args->job_size, 8))
		return -EINVAL;
	return 0;
}

static int spatten_sync_check(const struct drm_spatten_sync *s)
{
	if (s->flags & ~DRM_SPATTEN_SYNC_TIMELINE)
		return -EINVAL;
	if (!!(s->flags & DRM_SPATTEN_SYNC_TIMELINE) != !!s->point)
		return -EINVAL;
	return 0;
}

/* Copy the jobs and the syncs in; nothing is looked up yet. */
static int spatten_submit_copy_in(struct spatten_submit *sub)
{
	const struct drm_spatten_submit *args = sub->args;
	u8 __user *ujob = u64_to_user_ptr(args->jobs_ptr);
	unsigned int i;
	int ret;

	sub->ujobs = kvmalloc_array(args->count, sizeof(*sub->ujobs),
				    GFP_KERNEL_ACCOUNT);
	if (!sub->ujobs)
		return -ENOMEM;
	for (i = 0; i < args->count; i++) {
		ret = copy_struct_from_user(&sub->ujobs[i], sizeof(*sub->ujobs),
					    ujob + (size_t)i * args->job_size,
					    args->job_size);
		if (ret)
			return ret;
	}
	if (copy_from_user(sub->in, u64_to_user_ptr(args->in_syncs_ptr),
			   args->in_sync_count * sizeof(sub->in[0])) ||
	    copy_from_user(sub->out, u64_to_user_ptr(args->out_syncs_ptr),
			   args->out_sync_count * sizeof(sub->out[0])))
		return -EFAULT;
	for (i = 0; i < args->in_sync_count; i++) {
		ret = spatten_sync_check(&sub->in[i]);
		if (ret)
			return ret;
	}
	for (i = 0; i < args->out_sync_count; i++) {
		ret = spatten_sync_check(&sub->out[i]);
		if (ret)
			return ret;
	}
	return 0;
}

static struct spatten_job *spatten_job_alloc(struct spatten_file *sfile)
{
	struct spatten_job *job = spatten_job_new();

	if (!job)
		return NULL;
	kref_get(&sfile->ref);
	job->sfile = sfile;
	atomic_inc(&spatten_live.jobs);
	return job;
}

/* Validate every job and resolve its buffers; then init the sched jobs. */
static int spatten_submit_prepare(struct spatten_submit *sub,
				  struct drm_file *file)
{
	struct spatten_file *sfile = file->driver_priv;
	struct spatten_device *sdev = sfile->sdev;
	unsigned int i, n = sub->args->count;
	int ret;

	sub->jobs = kcalloc(n, sizeof(*sub->jobs), GFP_KERNEL_ACCOUNT);
	if (!sub->jobs)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		sub->jobs[i] = spatten_job_alloc(sfile);
		if (!sub->jobs[i])
			return -ENOMEM;
		ret = spatten_job_prepare(sdev, file, &sub->ujobs[i],
					  sub->jobs[i]);
		if (ret)
			return ret;
	}
	for (i = 0; i < n; i++) {
		ret = spatten_sched_job_init(&sub->jobs[i]->base,
					     &sfile->entity, sfile,
					     sfile->client_id);
		if (ret) {
			while (i--)
				drm_sched_job_cleanup(&sub->jobs[i]->base);
			return ret;
		}
	}
	return 0;
}

/*
 * drm_sched ignores a dependency on a fence of the job's own entity, and
 * waits for another entity's job on the same ring only until it was put on
 * the ring: both assume a ring runs its jobs one after the other. This
 * device's engines run the jobs of a ring side by side, so a dependency on
 * the file's own earlier job is handed over wrapped in a fence of another
 * context (and every finished fence is marked DONT_PIPELINE at push).
 */
static struct dma_fence *spatten_fence_unpipeline(struct spatten_file *sfile,
						  struct dma_fence *fence)
{
	struct dma_fence_array *array;
	struct dma_fence **fences;
	u64 ctx = sfile->entity.fence_context;

	if (fence->context != ctx && fence->context != ctx + 1)
		return fence;
	fences = kmalloc_array(1, sizeof(*fences), GFP_KERNEL);
	if (!fences)
		goto err;
	fences[0] = fence;
	array = dma_fence_array_create(1, fences, dma_fence_context_alloc(1), 1,
				       false);
	if (array)
		return &array->base;
	kfree(fences);
err:
	dma_fence_put(fence);
	return ERR_PTR(-ENOMEM);
}

/* Add a dependency (the reference is consumed, on error too). */
static int spatten_job_add_dep(struct spatten_job *job, struct dma_fence *fence)
{
	fence = spatten_fence_unpipeline(job->sfile, fence);
	if (IS_ERR(fence))
		return PTR_ERR(fence);
	return drm_sched_job_add_dependency(&job->base, fence);
}

/* Implicit sync: the fences of earlier work on @obj that @job must await. */
static int spatten_job_add_implicit(struct spatten_job *job,
				    struct drm_gem_object *obj, bool write)
{
	struct dma_resv_iter cursor;
	struct dma_fence *fence;
	int ret;

	dma_resv_assert_held(obj->resv);
	dma_resv_for_each_fence(&cursor, obj->resv, dma_resv_usage_rw(write),
				fence) {
		ret = spatten_job_add_dep(job, dma_fence_get(fence));
		if (ret)
			return ret;
	}
	return 0;
}

/*
 * The out-fence of a batch is an array of its jobs' fences. It is made
 * here, while SUBMIT can still fail, with stub fences in its slots; they
 * are replaced by the jobs' fences once armed, before anyone sees the
 * array (it enables signalling on its fences only when first waited on).
 */
static int spatten_submit_alloc_out(struct spatten_submit *sub)
{
	unsigned int i, n = sub->args->count;
	struct dma_fence **fences;

	if (!sub->args->out_sync_count || n == 1)
		return 0;
	fences = kmalloc_array(n, sizeof(*fences), GFP_KERNEL_ACCOUNT);
	if (!fences)
		return -ENOMEM;
	for (i = 0; i < n; i++)
		fences[i] = dma_fence_get_stub();
	sub->out_array = dma_fence_array_create(n, fences,
						dma_fence_context_alloc(1), 1,
						false);
	if (!sub->out_array) {
		for (i = 0; i < n; i++)
			dma_fence_put(fences[i]);
		kfree(fences);
		return -ENOMEM;
	}
	return 0;
}

/*
 * In-fences gate the first job: the entity runs the others after it. The
 * out-fence sync objects and their timeline points are taken now, so that
 * nothing can fail once the jobs are armed.
 */
static int spatten_submit_syncs(struct spatten_submit *sub,
				struct drm_file *file)
{
	const struct drm_spatten_submit *args = sub->args;
	struct dma_fence *fence;
	unsigned int i;
	int ret;

	for (i = 0; i < args->in_sync_count; i++) {
		ret = drm_syncobj_find_fence(file, sub->in[i].handle,
					     sub->in[i].point, 0, &fence);
		if (ret)
			return ret;
		ret = spatten_job_add_dep(sub->jobs[0], fence);
		if (ret)
			return ret;
	}
	for (i = 0; i < args->out_sync_count; i++) {
		sub->out_obj[i] = drm_syncobj_find(file, sub->out[i].handle);
		if (!sub->out_obj[i])
			return -ENOENT;
		if (sub->out[i].flags & DRM_SPATTEN_SYNC_TIMELINE) {
			sub->chains[i] = dma_fence_chain_alloc();
			if (!sub->chains[i])
				return -ENOMEM;
		}
	}
	return spatten_submit_alloc_out(sub);
}

static bool spatten_tensor_written(unsigned int idx)
{
	return idx == SPATTEN_T_OUT || idx == SPATTEN_T_TOK_KEPT ||
	       idx == SPATTEN_T_HEAD_KEPT || idx == SPATTEN_T_TOK_IMP ||
	       idx == SPATTEN_T_HEAD_IMP;
}

/* Is operand @idx the job's first use of its buffer? */
static bool spatten_job_first_use(const struct spatten_job *job,
				  unsigned int idx)
{
	unsigned int k;

	if (!job->bo[idx])
		return false;
	for (k = 0; k < idx; k++)
		if (job->bo[k] == job->bo[idx])
			return false;
	return true;
}

/* Does the job write the buffer of operand @idx through any operand? */
static bool spatten_job_writes(const struct spatten_job *job,
			       unsigned int idx)
{
	unsigned int k;

	for (k = 0; k < SPATTEN_T_NUM; k++)
		if (job->bo[k] == job->bo[idx] && spatten_tensor_written(k))
			return true;
	return false;
}

/*
 * The distinct buffers of the batch, for dma_resv locking. Each job adds
 * one fence per distinct buffer (spatten_submit_push()), so a buffer needs
 * at most one fence slot per job of the batch.
 */
static int spatten_submit_collect_objs(struct spatten_submit *sub)
{
	unsigned int i, j, k, n = sub->args->count;

	sub->objs = kcalloc(n * SPATTEN_T_NUM, sizeof(*sub->objs),
			    GFP_KERNEL_ACCOUNT);
	if (!sub->objs)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		for (j = 0; j < SPATTEN_T_NUM; j++) {
			struct drm_gem_object *obj = sub->jobs[i]->bo[j];

			if (!obj)
				continue;
			for (k = 0; k < sub->nr_objs; k++)
				if (sub->objs[k] == obj)
					break;
			if (k == sub->nr_objs)
				sub->objs[sub->nr_objs++] = obj;
		}
	}
	return 0;
}

/* Lock the buffers' reservations, reserve fence slots, add dependencies. */
static int spatten_submit_lock_resv(struct spatten_submit *sub,
				    struct ww_acquire_ctx *ctx, bool implicit)
{
	unsigned int i, j, n = sub->args->count;
	int ret;

	ret = drm_gem_lock_reservations(sub->objs, sub->nr_objs, ctx);
	if (ret)
		return ret;
	for (i = 0; i < sub->nr_objs; i++) {
		ret = dma_resv_reserve_fences(sub->objs[i]->resv, n);
		if (ret)
			goto err_unlock;
	}
	for (i = 0; implicit && i < n; i++) {
		for (j = 0; j < SPATTEN_T_NUM; j++) {
			struct spatten_job *job = sub->jobs[i];

			if (!spatten_job_first_use(job, j))
				continue;
			ret = spatten_job_add_implicit(job, job->bo[j],
						       spatten_job_writes(job, j));
			if (ret)
				goto err_unlock;
		}
	}
	return 0;

err_unlock:
	drm_gem_unlock_reservations(sub->objs, sub->nr_objs, ctx);
	return ret;
}

/* The fence the out-syncs get: every job of the batch done. */
static struct dma_fence *spatten_submit_out_fence(struct spatten_submit *sub)
{
	struct dma_fence_array *array = sub->out_array;
	unsigned int i;

	if (!array)
		return dma_fence_get(sub->jobs[0]->done_fence);
	for (i = 0; i < array->num_fences; i++) {
		dma_fence_put(array->fences[i]);
		array->fences[i] = dma_fence_get(sub->jobs[i]->done_fence);
	}
	sub->out_array = NULL;
	return &array->base;
}

static void spatten_submit_signal_out(struct spatten_submit *sub)
{
	struct dma_fence *fence;
	unsigned int i;

	if (!sub->args->out_sync_count)
		return;
	fence = spatten_submit_out_fence(sub);
	for (i = 0; i < sub->args->out_sync_count; i++) {
		if (sub->chains[i]) {
			drm_syncobj_add_point(sub->out_obj[i], sub->chains[i],
					      fence, sub->out[i].point);
			sub->chains[i] = NULL;
		} else {
			drm_syncobj_replace_fence(sub->out_obj[i], fence);
		}
	}
	dma_fence_put(fence);
}

/*
 * Past the point of no return: sequence numbers, arming, fences on the
 * buffers, table entries (reserved beforehand) and the push, in order.
 */
static void spatten_submit_push(struct spatten_submit *sub, u64 seqno)
{
	struct spatten_file *sfile = sub->jobs[0]->sfile;
	unsigned int i, j, n = sub->args->count;

	for (i = 0; i < n; i++) {
		struct spatten_job *job = sub->jobs[i];

		job->seqno = seqno + i;
		job->result.seqno = job->seqno;
		drm_sched_job_arm(&job->base);
		job->done_fence = dma_fence_get(&job->base.s_fence->finished);
		/* Another job waits for this one's end, not its start. */
		set_bit(DRM_SCHED_FENCE_DONT_PIPELINE, &job->done_fence->flags);
		job->sched_q = container_of(job->base.sched,
					    struct spatten_queue, sched);
		atomic_inc(&job->sched_q->queued);
		trace_spatten_job_submit(sfile->client_id, job->seqno,
					 le16_to_cpu(job->desc.v2.opcode),
					 job->sched_q->id);
		for (j = 0; j < SPATTEN_T_NUM; j++)
			if (spatten_job_first_use(job, j))
				dma_resv_add_fence(job->bo[j]->resv,
						   job->done_fence,
						   spatten_job_writes(job, j) ?
						   DMA_RESV_USAGE_WRITE :
						   DMA_RESV_USAGE_READ);
		/* The table's reference. */
		kref_get(&job->ref);
		xa_store_irq(&sfile->jobs, job->seqno, job, GFP_NOWAIT);
		if (dma_fence_add_callback(job->done_fence, &job->done_cb,
					   spatten_job_done_cb))
			spatten_job_done_cb(job->done_fence, &job->done_cb);
		/* The scheduler's references, dropped by free_job. */
		kref_get(&job->ref);
		spatten_pm_get_noresume(sfile->sdev);
		drm_sched_entity_push_job(&job->base);
	}
}

/*
 * Give back a reserved, unused table entry. The table's lock is taken with
 * interrupts off (completions use it): the _irq forms of every call.
 */
static void spatten_table_release(struct spatten_file *sfile, u64 seqno)
{
	xa_cmpxchg_irq(&sfile->jobs, seqno, XA_ZERO_ENTRY, NULL, 0);
}

/* Reserve @n table entries from @seqno; the push fills them. */
static int spatten_submit_reserve(struct spatten_file *sfile, u64 seqno,
				  unsigned int n)
{
	unsigned int i;
	int ret = 0;

	xa_lock_irq(&sfile->jobs);
	if (sfile->nr_jobs + n > SPATTEN_MAX_JOBS)
		ret = -EBUSY;
	else
		sfile->nr_jobs += n;
	xa_unlock_irq(&sfile->jobs);
	if (ret)
		return ret;

	for (i = 0; i < n; i++) {
		ret = xa_reserve_irq(&sfile->jobs, seqno + i,
				     GFP_KERNEL_ACCOUNT);
		if (ret)
			break;
	}
	if (!ret)
		return 0;
	while (i--)
		spatten_table_release(sfile, seqno + i);
	xa_lock_irq(&sfile->jobs);
	sfile->nr_jobs -= n;
	xa_unlock_irq(&sfile->jobs);
	return ret;
}

static void spatten_submit_unreserve(struct spatten_file *sfile, u64 seqno,
				     unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n; i++)
		spatten_table_release(sfile, seqno + i);
	xa_lock_irq(&sfile->jobs);
	sfile->nr_jobs -= n;
	xa_unlock_irq(&sfile->jobs);
}

static int spatten_submit_commit(struct spatten_submit *sub,
				 struct spatten_file *sfile)
{
	bool implicit = !(sub->args->flags & DRM_SPATTEN_SUBMIT_NO_IMPLICIT);
	unsigned int n = sub->args->count;
	struct ww_acquire_ctx ctx;
	u64 seqno;
	int ret;

	ret = spatten_submit_collect_objs(sub);
	if (ret)
		return ret;

	mutex_lock(&sfile->submit_lock);
	seqno = sfile->next_seqno;
	ret = spatten_submit_reserve(sfile, seqno, n);
	if (ret)
		goto out_unlock;
	ret = spatten_submit_lock_resv(sub, &ctx, implicit);
	if (ret) {
		spatten_submit_unreserve(sfile, seqno, n);
		goto out_unlock;
	}
	spatten_submit_push(sub, seqno);
	sfile->next_seqno += n;
	drm_gem_unlock_reservations(sub->objs, sub->nr_objs, &ctx);
	spatten_submit_signal_out(sub);
	sub->args->seqno = seqno;
	sub->args->submitted = n;
out_unlock:
	mutex_unlock(&sfile->submit_lock);
	return ret;
}

static void spatten_submit_cleanup(struct spatten_submit *sub, bool pushed)
{
	unsigned int i;

	for (i = 0; i < DRM_SPATTEN_MAX_SYNCS; i++) {
		if (sub->out_obj[i])
			drm_syncobj_put(sub->out_obj[i]);
		dma_fence_chain_free(sub->chains[i]);
	}
	if (sub->out_array)
		dma_fence_put(&sub->out_array->base);
	for (i = 0; sub->jobs && i < sub->args->count; i++) {
		struct spatten_job *job = sub->jobs[i];

		if (!job)
			continue;
		if (!pushed && job->base.s_fence)
			drm_sched_job_cleanup(&job->base);
		spatten_job_put(job);
	}
	kfree(sub->objs);
	kfree(sub->jobs);
	kvfree(sub->ujobs);
}

/**
 * spatten_ioctl_submit() - DRM_IOCTL_SPATTEN_SUBMIT
 * @drm: the DRM device
 * @data: struct drm_spatten_submit
 * @file: the caller's file
 *
 * Return: 0; -EINVAL, -E2BIG, -EFAULT, -ENOENT, -ERANGE for bad arguments
 * (docs/uapi.md); -EBUSY (too many unreaped jobs); -ECANCELED (the file
 * is banned); -EIO (the board is out of service); -ENODEV; -ENOMEM;
 * -EINTR.
 */
int spatten_ioctl_submit(struct drm_device *drm, void *data,
			 struct drm_file *file)
{
	struct spatten_file *sfile = file->driver_priv;
	struct spatten_device *sdev = to_spatten_device(drm);
	struct spatten_submit sub = { .args = data };
	int ret, idx;

	ret = spatten_submit_check_args(sub.args);
	if (ret)
		return ret;
	sub.args->seqno = 0;
	sub.args->submitted = 0;
	if (READ_ONCE(sfile->banned))
		return -ECANCELED;

	/* Everything from userspace first, outside any lock of the board. */
	ret = spatten_submit_copy_in(&sub);
	if (ret)
		goto out;

	if (!drm_dev_enter(drm, &idx)) {
		ret = -ENODEV;
		goto out;
	}
	/*
	 * The device is resumed here, in process context: each job pushed
	 * holds a reference of its own until free_job, so run_job (in the
	 * fence signalling path) always finds the device running.
	 */
	ret = spatten_pm_get(sdev);
	if (ret)
		goto out_exit;
	if (READ_ONCE(sdev->broken)) {
		ret = -EIO;
		goto out_put;
	}
	ret = spatten_submit_prepare(&sub, file);
	if (!ret)
		ret = spatten_submit_syncs(&sub, file);
	if (!ret)
		ret = spatten_submit_commit(&sub, sfile);
	spatten_dbg(sdev, JOB, "submit %u jobs: %d, seqno %llu\n",
		    sub.args->count, ret, sub.args->seqno);
out_put:
	spatten_pm_put(sdev);
out_exit:
	drm_dev_exit(idx);
out:
	spatten_submit_cleanup(&sub, !ret);
	return ret;
}
