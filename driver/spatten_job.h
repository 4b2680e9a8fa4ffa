/* SPDX-License-Identifier: GPL-2.0 */
/*
 * SpAtten driver: jobs.
 */
#ifndef SPATTEN_JOB_H
#define SPATTEN_JOB_H

#include <linux/dma-fence.h>
#include <linux/kref.h>
#include <linux/ktime.h>
#include <linux/list.h>

#include <drm/gpu_scheduler.h>

#include "spatten_drv.h"

/* Operands of a job, in descriptor order. */
enum spatten_tensor_idx {
	SPATTEN_T_Q,
	SPATTEN_T_K,
	SPATTEN_T_V,
	SPATTEN_T_OUT,
	SPATTEN_T_K_LSB,
	SPATTEN_T_TOK_IMP,
	SPATTEN_T_TOK_ALIVE,
	SPATTEN_T_TOK_KEPT,
	SPATTEN_T_PINNED,
	SPATTEN_T_HEAD_IMP,
	SPATTEN_T_HEAD_ALIVE,
	SPATTEN_T_HEAD_KEPT,
	SPATTEN_T_BLOCK_TABLE,		/* version 3 */
	SPATTEN_T_POSITIONS,		/* version 3 */
	SPATTEN_T_HEAD_FRACS,		/* version 3 */
	SPATTEN_T_NUM,
	SPATTEN_T_NUM_V2 = SPATTEN_T_BLOCK_TABLE,
};

/**
 * struct spatten_job - a job accepted by SUBMIT
 * @base: the scheduler's job
 * @ref: held by the file's job table until reaped and by the scheduler
 *	until free_job
 * @sfile: the submitting file (a reference is held)
 * @q: the queue that ran it, once run_job put it on the ring
 * @sched_q: the queue whose scheduler took it (at SUBMIT)
 * @seqno: sequence number in the file
 * @bo: buffers used (references held until free_job), NULL if absent
 * @desc: the descriptor as the device gets it (tag filled on the ring)
 * @hw_fence: signalled when the device completes the job; allocated at
 *	SUBMIT (no allocation in run_job), initialized by run_job
 * @done_fence: the scheduler's finished fence (a reference is held)
 * @done_cb: moves the job to the file's done list
 * @done_node: on the file's done list
 * @order_node: on its queue's @order list from run_job until its fence
 *	signals
 * @ring_node: on a local list while the completion path finishes it
 * @reset_node: on the board's @reset_freed list (spatten_free_job())
 * @start: when run_job rang the doorbell
 * @on_ring: run_job put it on a ring and the device has not finished it
 * @result: what WAIT and REAP report
 */
struct spatten_job {
	struct drm_sched_job base;
	struct kref ref;
	struct spatten_file *sfile;
	struct spatten_queue *q;
	struct spatten_queue *sched_q;
	u64 seqno;
	struct drm_gem_object *bo[SPATTEN_T_NUM];
	union spatten_hw_sqe desc;
	struct dma_fence *hw_fence;
	struct dma_fence *done_fence;
	struct dma_fence_cb done_cb;
	struct list_head done_node;
	struct list_head order_node;
	struct list_head ring_node;
	struct list_head reset_node;
	ktime_t start;
	bool on_ring;
	struct drm_spatten_result result;
};

static inline struct spatten_job *to_spatten_job(struct drm_sched_job *sched_job)
{
	return container_of(sched_job, struct spatten_job, base);
}

struct spatten_job *spatten_job_new(void);
void spatten_job_done_cb(struct dma_fence *fence, struct dma_fence_cb *cb);
struct spatten_hw_buf *spatten_desc_q(union spatten_hw_sqe *d);
struct spatten_hw_buf *spatten_desc_out(union spatten_hw_sqe *d);
int spatten_job_prepare(struct spatten_device *sdev, struct drm_file *file,
			const struct drm_spatten_job *uj,
			struct spatten_job *job);
void spatten_job_put(struct spatten_job *job);
void spatten_job_sync_for_cpu(struct spatten_job *job);
void spatten_job_sync_for_device(struct spatten_job *job);
void spatten_file_release_jobs(struct spatten_file *sfile);

int spatten_ioctl_submit(struct drm_device *drm, void *data,
			 struct drm_file *file);
int spatten_ioctl_wait(struct drm_device *drm, void *data,
		       struct drm_file *file);
int spatten_ioctl_reap(struct drm_device *drm, void *data,
		       struct drm_file *file);

#endif /* SPATTEN_JOB_H */
