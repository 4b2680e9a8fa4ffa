/* SPDX-License-Identifier: GPL-2.0 */
/*
 * SpAtten driver: hardware queues, their schedulers and interrupts.
 */
#ifndef SPATTEN_QUEUE_H
#define SPATTEN_QUEUE_H

#include <linux/dma-fence.h>

#include "spatten_drv.h"

struct spatten_job;

#include "spatten_fence.h"

int spatten_hw_reset(struct spatten_device *sdev);
int spatten_hw_disable(struct spatten_device *sdev);
int spatten_vectors_init(struct spatten_device *sdev);
int spatten_queues_init(struct spatten_device *sdev);
int spatten_queues_hw_init(struct spatten_device *sdev);
int spatten_scheds_init(struct spatten_device *sdev);
int spatten_irqs_init(struct spatten_device *sdev);
void spatten_irqs_fini(struct spatten_device *sdev);
void spatten_irqs_sync(struct spatten_device *sdev);
void spatten_queue_process(struct spatten_queue *q);
struct dma_fence *spatten_queue_push(struct spatten_queue *q,
				     struct spatten_job *job);
u64 spatten_bad_dma_addr(struct spatten_device *sdev);
void spatten_queues_fail_ring(struct spatten_device *sdev,
			      struct spatten_job *guilty);

/* spatten_sched.c */
extern const struct drm_sched_backend_ops spatten_sched_ops;
void spatten_reset_lock(struct spatten_device *sdev);
void spatten_reset_unlock(struct spatten_device *sdev);
void spatten_scheds_stop(struct spatten_device *sdev,
			 struct drm_sched_job *bad);
void spatten_scheds_start(struct spatten_device *sdev);
int spatten_dev_recover(struct spatten_device *sdev);
void spatten_dev_reset_locked(struct spatten_device *sdev,
			      struct spatten_job *job);
void spatten_scheds_set_timeout(struct spatten_device *sdev, u32 ms);

#endif /* SPATTEN_QUEUE_H */
