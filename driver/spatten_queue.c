// SPDX-License-Identifier: GPL-2.0
/*
 * SpAtten driver: device reset, queue pairs, doorbells, interrupts and
 * completion processing.
 *
 * Each queue pair is fed by its own drm_sched scheduler, whose credit limit
 * is what the ring holds (depth - 1 entries), so run_job always finds a
 * free tag slot. The tag is slot | queue << 16 and comes back in the job's
 * completion entry; the IRQ thread matches it, records the result and
 * signals the job's hardware fence.
 */
#include <linux/dma-mapping.h>
#include <linux/interrupt.h>
#include <linux/iopoll.h>
#include <linux/ktime.h>
#include <linux/list.h>
#include <linux/nospec.h>
#include <linux/slab.h>
#include <linux/string.h>

#include "spatten_compat.h"
#include "spatten_drv.h"
#include "spatten_fence.h"
#include "spatten_job.h"
#include "spatten_queue.h"
#include "spatten_trace.h"

#define SPATTEN_TAG_QUEUE_SHIFT		16
#define SPATTEN_TAG_SLOT_MASK		0xffffu

/**
 * spatten_hw_reset() - reset the device and enable it
 * @sdev: the board
 *
 * Writes CTRL.RESET, waits for the reset to self-clear and READY to drop,
 * then sets CTRL.ENABLE and waits for READY. Queues must be programmed
 * again afterwards.
 *
 * Return: 0, or -ETIMEDOUT if the device does not respond.
 */
int spatten_hw_reset(struct spatten_device *sdev)
{
	u32 val;
	int ret;

	spatten_wr(sdev, SPATTEN_REG_CTRL, SPATTEN_CTRL_RESET);
	ret = readl_poll_timeout(sdev->regs + SPATTEN_REG_CTRL, val,
				 !(val & SPATTEN_CTRL_RESET), 10,
				 SPATTEN_READY_TIMEOUT_US);
	if (!ret)
		ret = readl_poll_timeout(sdev->regs + SPATTEN_REG_STATUS, val,
					 !(val & SPATTEN_STS_READY), 10,
					 SPATTEN_READY_TIMEOUT_US);
	if (ret) {
		drm_err(&sdev->drm, "device reset timed out\n");
		return ret;
	}

	spatten_wr(sdev, SPATTEN_REG_CTRL, SPATTEN_CTRL_ENABLE);
	ret = readl_poll_timeout(sdev->regs + SPATTEN_REG_STATUS, val,
				 val & SPATTEN_STS_READY, 10,
				 SPATTEN_READY_TIMEOUT_US);
	if (ret)
		drm_err(&sdev->drm, "device did not become ready (status %#x)\n",
			val);
	return ret;
}

/**
 * spatten_hw_disable() - stop the device: no more DMA, no more interrupts
 * @sdev: the board
 *
 * Resets the device, which also disables it and all its queues. A device
 * never mapped or that no longer answers (surprise removal) is left alone.
 *
 * Return: 0, or -ETIMEDOUT if the reset does not complete (the device may
 * still be doing DMA).
 */
int spatten_hw_disable(struct spatten_device *sdev)
{
	u32 val;

	/* Not mapped (a probe that failed early) or gone (surprise removal). */
	if (!sdev->regs || spatten_rd(sdev, SPATTEN_REG_ID) != SPATTEN_HW_ID)
		return 0;
	spatten_wr(sdev, SPATTEN_REG_CTRL, SPATTEN_CTRL_RESET);
	if (readl_poll_timeout(sdev->regs + SPATTEN_REG_CTRL, val,
			       !(val & SPATTEN_CTRL_RESET), 10,
			       SPATTEN_READY_TIMEOUT_US)) {
		drm_warn(&sdev->drm, "device reset timed out\n");
		return -ETIMEDOUT;
	}
	return 0;
}

/**
 * spatten_queue_hw_init() - program one queue pair and enable it
 * @q: the queue, its rings allocated and empty
 * @vector: MSI-X vector of its completion queue (0 with a single vector)
 *
 * Return: 0, or -EIO if the device refuses the configuration.
 */
static int spatten_queue_hw_init(struct spatten_queue *q, u32 vector)
{
	struct spatten_device *sdev = q->sdev;
	u32 sts;

	q->sq_tail = 0;
	q->cq_head = 0;
	q->cq_phase = SPATTEN_CQE_F_PHASE;
	q->slot_hint = 0;
	memset(q->cq, 0, q->depth * sizeof(*q->cq));

	spatten_wr(sdev, SPATTEN_REG_Q(q->id, SPATTEN_QREG_SQ_BASE_LO),
		   lower_32_bits(q->sq_dma));
	spatten_wr(sdev, SPATTEN_REG_Q(q->id, SPATTEN_QREG_SQ_BASE_HI),
		   upper_32_bits(q->sq_dma));
	spatten_wr(sdev, SPATTEN_REG_Q(q->id, SPATTEN_QREG_CQ_BASE_LO),
		   lower_32_bits(q->cq_dma));
	spatten_wr(sdev, SPATTEN_REG_Q(q->id, SPATTEN_QREG_CQ_BASE_HI),
		   upper_32_bits(q->cq_dma));
	spatten_wr(sdev, SPATTEN_REG_Q(q->id, SPATTEN_QREG_SQ_SIZE), q->depth);
	spatten_wr(sdev, SPATTEN_REG_Q(q->id, SPATTEN_QREG_CQ_SIZE), q->depth);
	spatten_wr(sdev, SPATTEN_REG_Q(q->id, SPATTEN_QREG_IRQ_VECTOR), vector);
	/* 1.2 boards: not left to the reset value, whatever ran before */
	if ((sdev->caps.version & 0xffff) >= 2)
		spatten_wr(sdev, SPATTEN_REG_Q(q->id, SPATTEN_QREG_SQ_ENTRY_SIZE),
			   sdev->caps.sqe_size);
	spatten_wr(sdev, SPATTEN_REG_Q(q->id, SPATTEN_QREG_CTRL),
		   SPATTEN_QCTRL_ENABLE);

	sts = spatten_rd(sdev, SPATTEN_REG_Q(q->id, SPATTEN_QREG_STATUS));
	if (!(sts & SPATTEN_QSTS_ENABLED) || (sts & SPATTEN_QSTS_ERROR)) {
		drm_err(&sdev->drm, "queue %u not enabled (status %#x)\n",
			q->id, sts);
		return -EIO;
	}
	return 0;
}

/**
 * spatten_queues_hw_init() - program every queue pair (after a reset)
 * @sdev: the board, reset and enabled; every ring empty
 *
 * Return: 0 or -EIO.
 */
int spatten_queues_hw_init(struct spatten_device *sdev)
{
	u32 i;
	int ret;

	for (i = 0; i < sdev->nr_queues; i++) {
		struct spatten_queue *q = &sdev->queues[i];

		spin_lock(&q->lock);
		ret = spatten_queue_hw_init(q, sdev->msix ? i : 0);
		spin_unlock(&q->lock);
		if (ret)
			return ret;
	}
	return 0;
}

/*
 * An address inside the device's DMA width that no memory answers to: a
 * page list there makes the device fail the job with DMA_READ. On a board
 * without an IOMMU it may be RAM: unsafe_fault_injection only.
 */
u64 spatten_bad_dma_addr(struct spatten_device *sdev)
{
	u32 bits = min_t(u32, sdev->caps.dma_bits, 48);

	return BIT_ULL(bits - 1);
}

/**
 * spatten_queues_init() - allocate the rings of every queue pair and
 * program them into the device
 * @sdev: the board, reset and enabled, interrupt vectors allocated
 *
 * Rings and slot tables are device-managed: they go away after remove().
 *
 * Return: 0 or a negative errno.
 */
int spatten_queues_init(struct spatten_device *sdev)
{
	struct device *dev = sdev->drm.dev;
	u32 i;

	for (i = 0; i < sdev->nr_queues; i++) {
		struct spatten_queue *q = &sdev->queues[i];

		q->sdev = sdev;
		q->id = i;
		q->depth = sdev->queue_depth;
		spin_lock_init(&q->lock);
		spin_lock_init(&q->fence_lock);
		INIT_LIST_HEAD(&q->order);
		q->fence_ctx = dma_fence_context_alloc(1);
		snprintf(q->irq_name, sizeof(q->irq_name), "spatten-%s-q%u",
			 pci_name(sdev->pdev), i);

		/* Coherent allocations are page aligned (SPATTEN_RING_ALIGN). */
		q->sq = dmam_alloc_coherent(dev, q->depth * sdev->caps.sqe_size,
					    &q->sq_dma, GFP_KERNEL);
		q->cq = dmam_alloc_coherent(dev, q->depth * sizeof(*q->cq),
					    &q->cq_dma, GFP_KERNEL);
		q->slots = devm_kcalloc(dev, q->depth, sizeof(*q->slots),
					GFP_KERNEL);
		if (!q->sq || !q->cq || !q->slots)
			return -ENOMEM;
		if (!IS_ALIGNED(q->sq_dma, SPATTEN_RING_ALIGN) ||
		    !IS_ALIGNED(q->cq_dma, SPATTEN_RING_ALIGN)) {
			drm_err(&sdev->drm, "queue %u: ring not aligned\n", i);
			return -ENOMEM;
		}
	}

	/* For inject_dma_write_error: a page list of unbacked pages. */
	sdev->bad_list = dmam_alloc_coherent(dev, SPATTEN_HW_PAGE_SIZE,
					     &sdev->bad_list_dma, GFP_KERNEL);
	if (sdev->bad_list) {
		for (i = 0; i < SPATTEN_HW_PAGE_SIZE / sizeof(__le64); i++)
			sdev->bad_list[i] =
				cpu_to_le64(spatten_bad_dma_addr(sdev));
	}
	return spatten_queues_hw_init(sdev);
}

/* Find a free tag slot; the caller made sure one exists. */
static u32 spatten_queue_get_slot(struct spatten_queue *q)
{
	u32 i, slot;

	for (i = 0; i < q->depth; i++) {
		slot = q->slot_hint + i;
		if (slot >= q->depth)
			slot -= q->depth;
		if (!q->slots[slot]) {
			q->slot_hint = slot + 1 == q->depth ? 0 : slot + 1;
			return slot;
		}
	}
	return 0;	/* not reached: inflight < depth */
}

/* Record a completion entry in its job. */
static void spatten_job_set_result(struct spatten_job *job,
				   const struct spatten_hw_cqe *cqe)
{
	struct drm_spatten_result *r = &job->result;

	r->status = le16_to_cpu(cqe->status);
	r->bytes_q = le64_to_cpu(cqe->bytes_q);
	r->bytes_k_msb = le64_to_cpu(cqe->bytes_k_msb);
	r->bytes_k_lsb = le64_to_cpu(cqe->bytes_k_lsb);
	r->bytes_v = le64_to_cpu(cqe->bytes_v);
	r->bytes_written = le64_to_cpu(cqe->bytes_written);
	r->cycles = le64_to_cpu(cqe->cycles);
	r->lsb_refetches = le32_to_cpu(cqe->lsb_refetches);
	r->engine_ns = ktime_to_ns(ktime_sub(ktime_get(), job->start));
}

/* Take the job of @tag off the ring; NULL (logged) for a bad tag. */
static struct spatten_job *spatten_queue_take(struct spatten_queue *q, u32 tag)
{
	struct spatten_job *job;
	u32 slot = tag & SPATTEN_TAG_SLOT_MASK;

	lockdep_assert_held(&q->lock);
	if (tag >> SPATTEN_TAG_QUEUE_SHIFT != q->id || slot >= q->depth) {
		drm_err_ratelimited(&q->sdev->drm,
				    "queue %u: completion with bad tag %#x ignored\n",
				    q->id, tag);
		return NULL;
	}
	slot = array_index_nospec(slot, q->depth);
	job = q->slots[slot];
	if (!job) {
		drm_err_ratelimited(&q->sdev->drm,
				    "queue %u: completion for idle tag %#x ignored\n",
				    q->id, tag);
		return NULL;
	}
	q->slots[slot] = NULL;
	q->inflight--;
	job->on_ring = false;
	return job;
}

/*
 * Move the jobs at the head of the ring's push order that the device
 * finished onto @done, stopping at the first one still running: fences of
 * one ring signal in the order the jobs went on it (the dma_fence rule for
 * one context, which drm_sched and dma_resv rely on), although the device's
 * engines finish them in any order.
 */
static void spatten_queue_retire(struct spatten_queue *q,
				 struct list_head *done)
{
	struct spatten_job *job, *tmp;

	lockdep_assert_held(&q->lock);
	list_for_each_entry_safe(job, tmp, &q->order, order_node) {
		if (job->on_ring)
			break;
		list_del_init(&job->order_node);
		list_add_tail(&job->ring_node, done);
		q->last_retire = ktime_get();
	}
}

/* The error a job's fences carry: what sync file users see of its end. */
static int spatten_job_fence_error(const struct spatten_job *job)
{
	switch (job->result.status) {
	case DRM_SPATTEN_STATUS_OK:
		return 0;
	case DRM_SPATTEN_STATUS_TIMEOUT:
		return -ETIMEDOUT;
	case DRM_SPATTEN_STATUS_ABORTED:
		return -ECANCELED;
	default:
		return -EIO;
	}
}

/*
 * Complete jobs taken off a ring: results are set, fences signal. The
 * error goes on the scheduler's fence too: some kernels (6.1) do not
 * pass it on from the hardware fence, others (6.12) do, with this value.
 */
static void spatten_jobs_signal(struct list_head *done)
{
	struct spatten_job *job, *tmp;
	int err;

	list_for_each_entry_safe(job, tmp, done, ring_node) {
		list_del_init(&job->ring_node);
		trace_spatten_job_complete(job->q->id, le32_to_cpu(job->desc.v2.tag),
					   job->seqno, job->result.status,
					   job->result.engine_ns);
		spatten_job_sync_for_cpu(job);
		err = spatten_job_fence_error(job);
		if (err) {
			dma_fence_set_error(job->hw_fence, err);
			/* Kernel NOPs (nop_bench) have no scheduler fence. */
			if (job->base.s_fence)
				dma_fence_set_error(&job->base.s_fence->finished,
						    err);
		}
		/* The job may be freed as soon as this returns. */
		dma_fence_signal(job->hw_fence);
	}
}

/**
 * spatten_queue_process() - consume the completion queue of one queue pair
 * @q: the queue
 *
 * Walks the entries the device posted (phase bit), matches each to its job
 * by tag and records its result, releases the CQ entries with the head
 * doorbell, and signals, outside the queue lock, the fences of the jobs
 * that spatten_queue_retire() releases in ring order.
 */
void spatten_queue_process(struct spatten_queue *q)
{
	u32 budget = q->depth;
	bool consumed = false;
	LIST_HEAD(done);

	spin_lock(&q->lock);
	/*
	 * At most depth - 1 entries can be pending: the budget stops a
	 * device that keeps flipping phase bits from holding the CPU.
	 */
	while (budget--) {
		struct spatten_hw_cqe *cqe = &q->cq[q->cq_head];
		u16 flags = le16_to_cpu(READ_ONCE(cqe->flags));
		struct spatten_job *job;

		if ((flags & SPATTEN_CQE_F_PHASE) != q->cq_phase)
			break;
		/* Read the rest of the entry only after its phase bit. */
		dma_rmb();

		if (++q->cq_head == q->depth) {
			q->cq_head = 0;
			q->cq_phase ^= SPATTEN_CQE_F_PHASE;
		}
		consumed = true;

		job = spatten_queue_take(q, le32_to_cpu(cqe->tag));
		if (!job)
			continue;
		spatten_job_set_result(job, cqe);
	}
	if (consumed)
		spatten_wr(q->sdev, SPATTEN_REG_CQ_HEAD_DB(q->id), q->cq_head);
	spatten_queue_retire(q, &done);
	spin_unlock(&q->lock);

	spatten_jobs_signal(&done);
}

/**
 * spatten_queues_fail_ring() - complete every job still on a ring
 * @sdev: the board, stopped (no DMA, interrupts synced) and its
 *	schedulers stopped
 * @guilty: the job that hung, or NULL
 *
 * Completions the device posted before it stopped are reported as usual;
 * @guilty ends with DRM_SPATTEN_STATUS_TIMEOUT, every other job on a ring
 * with DRM_SPATTEN_STATUS_ABORTED (not resubmitted: docs/driver.md).
 */
void spatten_queues_fail_ring(struct spatten_device *sdev,
			      struct spatten_job *guilty)
{
	struct spatten_job *job;
	u32 i, slot;

	for (i = 0; i < sdev->nr_queues; i++) {
		struct spatten_queue *q = &sdev->queues[i];
		LIST_HEAD(failed);

		spatten_queue_process(q);
		spin_lock(&q->lock);
		for (slot = 0; slot < q->depth; slot++) {
			job = q->slots[slot];
			if (!job)
				continue;
			q->slots[slot] = NULL;
			job->on_ring = false;
			job->result.status = job == guilty ?
					     DRM_SPATTEN_STATUS_TIMEOUT :
					     DRM_SPATTEN_STATUS_ABORTED;
			job->result.engine_ns =
				ktime_to_ns(ktime_sub(ktime_get(), job->start));
		}
		q->inflight = 0;
		spatten_queue_retire(q, &failed);
		spin_unlock(&q->lock);
		spatten_jobs_signal(&failed);
	}
}

/*
 * drm_sched re-arms a scheduler's timeout at every run_job on some kernels
 * (6.12), so a job stuck at the head of a ring while others keep coming
 * would never time out: when the ring has made no progress for the
 * timeout, fire the handler now. Progress is what the timer measures on
 * 6.1: the oldest job (they retire in order) went on the ring, or a job
 * retired; so a long backlog of jobs that all finish never fires it.
 */
static void spatten_queue_check_head(struct spatten_queue *q)
{
	struct spatten_job *head;
	ktime_t since;

	lockdep_assert_held(&q->lock);
	head = list_first_entry_or_null(&q->order, struct spatten_job,
					order_node);
	if (!head)
		return;
	since = ktime_after(head->start, q->last_retire) ? head->start :
							     q->last_retire;
	if (ktime_ms_delta(ktime_get(), since) > READ_ONCE(q->sdev->timeout_ms))
		drm_sched_fault(&q->sched);
}

/**
 * spatten_queue_push() - put a job on its queue's ring and ring the
 * doorbell (the scheduler's run_job)
 * @q: the queue
 * @job: the job; the scheduler guarantees a free ring entry
 *
 * Return: a reference to the job's hardware fence, for the scheduler.
 */
struct dma_fence *spatten_queue_push(struct spatten_queue *q,
				     struct spatten_job *job)
{
	struct spatten_device *sdev = q->sdev;
	union spatten_hw_sqe *d;
	bool attention;
	u32 slot;

	spin_lock(&q->lock);
	spatten_queue_check_head(q);
	if (job->base.s_fence)
		spatten_fence_init(q, job->hw_fence, q->fence_ctx,
				   ++q->fence_seqno);
	else
		spatten_fence_init_nop(q, job->hw_fence, ++q->fence_seqno);
	dma_fence_get(job->hw_fence);
	slot = spatten_queue_get_slot(q);
	q->slots[slot] = job;
	q->inflight++;
	list_add_tail(&job->order_node, &q->order);
	job->q = q;
	job->on_ring = true;
	job->desc.v2.tag = cpu_to_le32(slot |
				       (u32)q->id << SPATTEN_TAG_QUEUE_SHIFT);
	trace_spatten_job_run(q->id, le32_to_cpu(job->desc.v2.tag), job->seqno);
	d = (union spatten_hw_sqe *)(q->sq +
				     (size_t)q->sq_tail * sdev->caps.sqe_size);
	memcpy(d, &job->desc, sdev->caps.sqe_size);
	attention = job->desc.v2.opcode == cpu_to_le16(SPATTEN_OP_ATTENTION);
	if (attention && atomic_add_unless(&sdev->inject_dma, -1, 0))
		spatten_desc_q(d)->addr = cpu_to_le64(spatten_bad_dma_addr(sdev));
	if (attention && sdev->bad_list &&
	    atomic_add_unless(&sdev->inject_dma_write, -1, 0))
		spatten_desc_out(d)->addr = cpu_to_le64(sdev->bad_list_dma);
	if (++q->sq_tail == q->depth)
		q->sq_tail = 0;
	job->start = ktime_get();
	/* The new entry must be visible before the doorbell. */
	dma_wmb();
	/* Fault injection: the device never hears of this job. */
	if (!atomic_read(&sdev->force_timeout))
		spatten_wr(sdev, SPATTEN_REG_SQ_TAIL_DB(q->id), q->sq_tail);
	spin_unlock(&q->lock);
	return job->hw_fence;
}

/**
 * spatten_irqs_sync() - wait for running interrupt handlers to finish
 * @sdev: the board
 */
void spatten_irqs_sync(struct spatten_device *sdev)
{
	u32 i;

	for (i = 0; i < sdev->nr_queues; i++)
		if (sdev->queues[i].irq)
			synchronize_irq(sdev->queues[i].irq);
	if (sdev->irq_single)
		synchronize_irq(sdev->irq_single);
}

/* Fault injection: ignore this interrupt (the timeout handler sees it). */
static bool spatten_irq_drop(struct spatten_device *sdev)
{
	if (!atomic_add_unless(&sdev->drop_irq, -1, 0))
		return false;
	atomic_inc(&sdev->nr_irqs_dropped);
	return true;
}

static irqreturn_t spatten_irq_queue(int irq, void *data)
{
	struct spatten_queue *q = data;

	if (spatten_irq_drop(q->sdev))
		return IRQ_HANDLED;
	return IRQ_WAKE_THREAD;
}

static irqreturn_t spatten_irq_queue_thread(int irq, void *data)
{
	spatten_queue_process(data);
	return IRQ_HANDLED;
}

/*
 * The single vector of MSI or INTx mode. For INTx (possibly shared) the
 * pending bits tell whether the interrupt is ours; they are acknowledged
 * before the thread scans the queues, so a completion posted meanwhile
 * raises the line again instead of being missed.
 */
static irqreturn_t spatten_irq_single(int irq, void *data)
{
	struct spatten_device *sdev = data;
	u32 pending;

	if (!sdev->intx)
		return spatten_irq_drop(sdev) ? IRQ_HANDLED : IRQ_WAKE_THREAD;

	pending = spatten_rd(sdev, SPATTEN_REG_INTX_STATUS);
	if (!pending || pending == U32_MAX)
		return IRQ_NONE;
	spatten_wr(sdev, SPATTEN_REG_INTX_STATUS, pending);
	/* Flush the posted write so the line drops before we return. */
	spatten_rd(sdev, SPATTEN_REG_INTX_STATUS);
	return spatten_irq_drop(sdev) ? IRQ_HANDLED : IRQ_WAKE_THREAD;
}

static irqreturn_t spatten_irq_single_thread(int irq, void *data)
{
	struct spatten_device *sdev = data;
	u32 i;

	for (i = 0; i < sdev->nr_queues; i++)
		spatten_queue_process(&sdev->queues[i]);
	return IRQ_HANDLED;
}

/**
 * spatten_vectors_init() - allocate interrupt vectors, choose queue count
 * @sdev: the board
 *
 * MSI-X first, one vector per queue pair: min(CAP_QUEUES, online CPUs,
 * vectors granted) pairs. Otherwise one MSI or INTx vector that serves
 * min(CAP_QUEUES, online CPUs) pairs.
 *
 * Return: 0 or a negative errno.
 */
int spatten_vectors_init(struct spatten_device *sdev)
{
	struct pci_dev *pdev = sdev->pdev;
	unsigned int flags = PCI_IRQ_MSI;
	u32 want;
	int nvec;

	want = min_t(u32, sdev->caps.queues, num_online_cpus());
	want = min_t(u32, want, SPATTEN_MAX_QUEUES);

	nvec = pci_alloc_irq_vectors(pdev, 1, want, PCI_IRQ_MSIX);
	if (nvec > 0) {
		sdev->nr_vectors = nvec;
		sdev->nr_queues = nvec;
		sdev->msix = true;
		return 0;
	}

	if (sdev->caps.features & SPATTEN_FEAT_INTX)
		flags |= SPATTEN_PCI_IRQ_INTX;
	nvec = pci_alloc_irq_vectors(pdev, 1, 1, flags);
	if (nvec < 0) {
		dev_err(&pdev->dev, "no usable interrupt (%d)\n", nvec);
		return nvec;
	}
	sdev->nr_vectors = nvec;
	sdev->nr_queues = want;
	sdev->msix = false;
	sdev->intx = !pdev->msi_enabled;
	return 0;
}

/**
 * spatten_irqs_init() - request the interrupt handlers
 * @sdev: the board, vectors allocated and queues initialized
 *
 * Return: 0 or a negative errno; spatten_irqs_fini() undoes a partial
 * setup.
 */
int spatten_irqs_init(struct spatten_device *sdev)
{
	struct pci_dev *pdev = sdev->pdev;
	int irq, ret;
	u32 i;

	if (!sdev->msix) {
		irq = pci_irq_vector(pdev, 0);
		if (irq < 0)
			return irq;
		ret = request_threaded_irq(irq, spatten_irq_single,
					   spatten_irq_single_thread,
					   sdev->intx ? IRQF_SHARED : 0,
					   "spatten", sdev);
		if (ret) {
			dev_err(&pdev->dev, "cannot request IRQ %d (%d)\n",
				irq, ret);
			return ret;
		}
		sdev->irq_single = irq;
		return 0;
	}

	for (i = 0; i < sdev->nr_queues; i++) {
		struct spatten_queue *q = &sdev->queues[i];

		irq = pci_irq_vector(pdev, i);
		if (irq < 0)
			return irq;
		ret = request_threaded_irq(irq, spatten_irq_queue,
					   spatten_irq_queue_thread, 0,
					   q->irq_name, q);
		if (ret) {
			dev_err(&pdev->dev, "cannot request IRQ %d (%d)\n",
				irq, ret);
			return ret;
		}
		q->irq = irq;
	}
	return 0;
}

/**
 * spatten_irqs_fini() - free the handlers and the vectors
 * @sdev: the board
 *
 * Returns once no handler runs any more. Safe on a partial setup.
 */
void spatten_irqs_fini(struct spatten_device *sdev)
{
	u32 i;

	for (i = 0; i < sdev->nr_queues; i++) {
		struct spatten_queue *q = &sdev->queues[i];

		if (q->irq) {
			free_irq(q->irq, q);
			q->irq = 0;
		}
	}
	if (sdev->irq_single) {
		free_irq(sdev->irq_single, sdev);
		sdev->irq_single = 0;
	}
	if (sdev->nr_vectors) {
		pci_free_irq_vectors(sdev->pdev);
		sdev->nr_vectors = 0;
	}
}

