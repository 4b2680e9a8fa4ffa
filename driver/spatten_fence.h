/* SPDX-License-Identifier: GPL-2.0 */
/*
 * SpAtten driver: hardware fences of jobs.
 */
#ifndef SPATTEN_FENCE_H
#define SPATTEN_FENCE_H

#include <linux/dma-fence.h>
#include <linux/types.h>

struct spatten_job;
struct spatten_queue;

struct dma_fence *spatten_fence_alloc(void);
void spatten_fence_free(struct dma_fence *fence);
void spatten_fence_init(struct spatten_queue *q, struct dma_fence *fence,
			u64 context, u64 seqno);
void spatten_fence_init_nop(struct spatten_queue *q, struct dma_fence *fence,
			    u64 seqno);
void spatten_fences_flush(void);
struct dma_fence *spatten_queue_refuse(struct spatten_queue *q,
				       struct spatten_job *job, int err);

#endif /* SPATTEN_FENCE_H */
