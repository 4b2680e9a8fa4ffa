// SPDX-License-Identifier: GPL-2.0
/*
 * SpAtten driver: device reset, queue pairs, doorbells, interrupts and
 * completion processing.
 *
 * Each queue pair has a software list of accepted jobs (@pending) in front
 * of its ring: the submit path and the completion path both move jobs from
 * @pending onto the ring while at most depth - 1 jobs are on it. The list is
 * bounded (SPATTEN_BACKLOG_MAX jobs per queue, ring included): beyond it
 * SUBMIT fails with -EAGAIN (O_NONBLOCK) or sleeps interruptibly. Every job
 * on the ring has a tag slot; the tag is slot | queue << 16 and comes back
 * in the job's completion entry.
 *
 * Faults: a watchdog runs while jobs are on a ring. It first consumes the
 * completion queues (so a lost interrupt only delays a completion), then
 * expires jobs that have been on the ring longer than the job timeout: the
 * device is reset (CTRL.RESET), every job that was on a ring completes with
 * SPATTEN_STATUS_TIMEOUT (the expired ones) or SPATTEN_HW_ERR_ABORTED (the
 * others), the queues are programmed again and the jobs still on the
 * software lists, which the device never saw, run afterwards.
 */
#include <linux/dma-mapping.h>
#include <linux/interrupt.h>
#include <linux/jiffies.h>
#include <linux/iopoll.h>
#include <linux/list.h>
#include <linux/nospec.h>
#include <linux/string.h>

#include "spatten_compat.h"
#include "spatten_drv.h"

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
int spatten_hw_reset(struct spatten_dev *sdev)
{
	struct device *dev = &sdev->pdev->dev;
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
		dev_err(dev, "device reset timed out\n");
		return ret;
	}

	spatten_wr(sdev, SPATTEN_REG_CTRL, SPATTEN_CTRL_ENABLE);
	ret = readl_poll_timeout(sdev->regs + SPATTEN_REG_STATUS, val,
				 val & SPATTEN_STS_READY, 10,
				 SPATTEN_READY_TIMEOUT_US);
	if (ret)
		dev_err(dev, "device did not become ready (status %#x)\n", val);
	return ret;
}

/**
 * spatten_hw_disable() - stop the device: no more DMA, no more interrupts
 * @sdev: the board
 *
 * Resets the device, which also disables it and all its queues. A device
 * that no longer answers (surprise removal) is left alone.
 */
void spatten_hw_disable(struct spatten_dev *sdev)
{
	u32 val;

	if (spatten_rd(sdev, SPATTEN_REG_ID) != SPATTEN_HW_ID)
		return;
	spatten_wr(sdev, SPATTEN_REG_CTRL, SPATTEN_CTRL_RESET);
	if (readl_poll_timeout(sdev->regs + SPATTEN_REG_CTRL, val,
			       !(val & SPATTEN_CTRL_RESET), 10,
			       SPATTEN_READY_TIMEOUT_US))
		dev_warn(&sdev->pdev->dev, "device reset timed out\n");
}

/**
 * spatten_queue_hw_init() - program one queue pair and enable it
 * @q: the queue, its rings allocated
 * @vector: MSI-X vector of its completion queue (0 with a single vector)
 *
 * Return: 0, or -EIO if the device refuses the configuration.
 */
static int spatten_queue_hw_init(struct spatten_queue *q, u32 vector)
{
	struct spatten_dev *sdev = q->sdev;
	u32 sts;

	q->sq_tail = 0;
	q->cq_head = 0;
	q->cq_phase = SPATTEN_CQE_F_PHASE;
	q->inflight = 0;
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
	spatten_wr(sdev, SPATTEN_REG_Q(q->id, SPATTEN_QREG_CTRL),
		   SPATTEN_QCTRL_ENABLE);

	sts = spatten_rd(sdev, SPATTEN_REG_Q(q->id, SPATTEN_QREG_STATUS));
	if (!(sts & SPATTEN_QSTS_ENABLED) || (sts & SPATTEN_QSTS_ERROR)) {
		dev_err(&sdev->pdev->dev, "queue %u not enabled (status %#x)\n",
			q->id, sts);
		return -EIO;
	}
	return 0;
}

/*
 * An address inside the device's DMA width that no memory answers to: a
 * page list there makes the device fail the job with DMA_READ.
 */
static u64 spatten_bad_dma_addr(struct spatten_dev *sdev)
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
int spatten_queues_init(struct spatten_dev *sdev)
{
	struct device *dev = &sdev->pdev->dev;
	u32 i;
	int ret;

	for (i = 0; i < sdev->nr_queues; i++) {
		struct spatten_queue *q = &sdev->queues[i];

		q->sdev = sdev;
		q->id = i;
		q->depth = sdev->queue_depth;
		spin_lock_init(&q->lock);
		INIT_LIST_HEAD(&q->pending);
		init_waitqueue_head(&q->space_wq);
		snprintf(q->irq_name, sizeof(q->irq_name), "%s-q%u",
			 sdev->name, i);

		/* Coherent allocations are page aligned (SPATTEN_RING_ALIGN). */
		q->sq = dmam_alloc_coherent(dev, q->depth * sizeof(*q->sq),
					    &q->sq_dma, GFP_KERNEL);
		q->cq = dmam_alloc_coherent(dev, q->depth * sizeof(*q->cq),
					    &q->cq_dma, GFP_KERNEL);
		q->slots = devm_kcalloc(dev, q->depth, sizeof(*q->slots),
					GFP_KERNEL);
		if (!q->sq || !q->cq || !q->slots)
			return -ENOMEM;
		if (!IS_ALIGNED(q->sq_dma, SPATTEN_RING_ALIGN) ||
		    !IS_ALIGNED(q->cq_dma, SPATTEN_RING_ALIGN)) {
			dev_err(dev, "queue %u: ring not aligned\n", i);
			return -ENOMEM;
		}

		ret = spatten_queue_hw_init(q, sdev->msix ? i : 0);
		if (ret)
			return ret;
	}

	/* For inject_dma_write_error: a page list of unbacked pages. */
	sdev->bad_list = dmam_alloc_coherent(dev, SPATTEN_HW_PAGE_SIZE,
					     &sdev->bad_list_dma, GFP_KERNEL);
	if (sdev->bad_list) {
		for (i = 0; i < SPATTEN_HW_PAGE_SIZE / sizeof(__le64); i++)
			sdev->bad_list[i] =
				cpu_to_le64(spatten_bad_dma_addr(sdev));
	}
	return 0;
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

/*
 * Move pending jobs onto the ring while it has room, then ring the SQ tail
 * doorbell once.
 */
static void spatten_queue_kick(struct spatten_queue *q)
{
	struct spatten_dev *sdev = q->sdev;
	struct spatten_kjob *job;
	unsigned long timeout;
	u32 slot, n = 0;

	lockdep_assert_held(&q->lock);

	if (q->stopped)
		return;
	timeout = msecs_to_jiffies(READ_ONCE(sdev->timeout_ms));
	while (q->inflight < q->depth - 1 && !list_empty(&q->pending)) {
		job = list_first_entry(&q->pending, struct spatten_kjob, node);
		list_del_init(&job->node);

		slot = spatten_queue_get_slot(q);
		q->slots[slot] = job;
		q->inflight++;
		job->desc.tag = cpu_to_le32(slot |
					    (u32)q->id << SPATTEN_TAG_QUEUE_SHIFT);
		job->deadline = jiffies + timeout;
		memcpy(&q->sq[q->sq_tail], &job->desc, sizeof(job->desc));
		if (job->desc.opcode == cpu_to_le16(SPATTEN_OP_ATTENTION) &&
		    atomic_add_unless(&sdev->inject_dma, -1, 0))
			q->sq[q->sq_tail].q.addr =
				cpu_to_le64(spatten_bad_dma_addr(sdev));
		if (job->desc.opcode == cpu_to_le16(SPATTEN_OP_ATTENTION) &&
		    sdev->bad_list &&
		    atomic_add_unless(&sdev->inject_dma_write, -1, 0))
			q->sq[q->sq_tail].out.addr =
				cpu_to_le64(sdev->bad_list_dma);
		if (++q->sq_tail == q->depth)
			q->sq_tail = 0;
		n++;
	}

	if (n) {
		/* The new entries must be visible before the doorbell. */
		dma_wmb();
		/* Fault injection: the device never hears of these jobs. */
		if (!atomic_read(&sdev->force_timeout))
			spatten_wr(sdev, SPATTEN_REG_SQ_TAIL_DB(q->id),
				   q->sq_tail);
		queue_delayed_work(system_wq, &sdev->watchdog,
				   msecs_to_jiffies(SPATTEN_WATCHDOG_MS));
	}
}

/**
 * spatten_queue_submit() - hand accepted jobs to a queue pair
 * @q: the queue
 * @jobs: list of struct spatten_kjob (through @node), emptied
 *
 * The jobs run in list order. Never fails and never sleeps.
 */
void spatten_queue_submit(struct spatten_queue *q, struct list_head *jobs)
{
	spin_lock(&q->lock);
	list_splice_tail_init(jobs, &q->pending);
	spatten_queue_kick(q);
	spin_unlock(&q->lock);
}

static bool spatten_queue_has_room(struct spatten_queue *q, u32 count)
{
	bool room;

	spin_lock(&q->lock);
	room = q->queued + count <= SPATTEN_BACKLOG_MAX;
	spin_unlock(&q->lock);
	return room;
}

/**
 * spatten_queue_reserve() - reserve room for jobs on a queue
 * @q: the queue
 * @count: jobs, at most SPATTEN_MAX_SUBMIT
 * @nonblock: fail with -EAGAIN instead of sleeping when the queue is full
 *
 * Called with the board's rwsem held for reading; it is dropped while
 * sleeping, so an unbind never waits for a blocked submitter.
 *
 * Return: 0 (spatten_queue_submit() or spatten_queue_unreserve() must
 * follow), -EAGAIN, -ERESTARTSYS on a signal, -ENODEV if the board went
 * away meanwhile, -EIO if a reset failed meanwhile.
 */
int spatten_queue_reserve(struct spatten_queue *q, u32 count, bool nonblock)
{
	struct spatten_dev *sdev = q->sdev;
	int ret;

	for (;;) {
		if (READ_ONCE(sdev->broken))
			return -EIO;
		spin_lock(&q->lock);
		if (q->queued + count <= SPATTEN_BACKLOG_MAX) {
			q->queued += count;
			spin_unlock(&q->lock);
			return 0;
		}
		spin_unlock(&q->lock);
		if (nonblock)
			return -EAGAIN;

		up_read(&sdev->rwsem);
		ret = wait_event_interruptible(q->space_wq,
					       spatten_queue_has_room(q, count) ||
					       READ_ONCE(sdev->dead));
		down_read(&sdev->rwsem);
		if (ret)
			return ret;
		if (sdev->dead)
			return -ENODEV;
	}
}

/**
 * spatten_queue_unreserve() - give back room taken by spatten_queue_reserve()
 * @q: the queue
 * @count: jobs that will not be submitted after all
 */
void spatten_queue_unreserve(struct spatten_queue *q, u32 count)
{
	spin_lock(&q->lock);
	q->queued -= count;
	spin_unlock(&q->lock);
	wake_up_interruptible_all(&q->space_wq);
}

/**
 * spatten_queue_process() - consume the completion queue of one queue pair
 * @q: the queue
 *
 * Walks the entries the device posted (phase bit), matches each to its job
 * by tag, releases the CQ entries with the head doorbell, refills the ring
 * from the pending list and completes the jobs outside the queue lock.
 * A tag that names no job on this queue is logged and ignored.
 */
static void spatten_queue_process(struct spatten_queue *q)
{
	struct device *dev = &q->sdev->pdev->dev;
	struct spatten_kjob *job, *tmp;
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
		u32 tag, slot;

		if ((flags & SPATTEN_CQE_F_PHASE) != q->cq_phase)
			break;
		/* Read the rest of the entry only after its phase bit. */
		dma_rmb();

		if (++q->cq_head == q->depth) {
			q->cq_head = 0;
			q->cq_phase ^= SPATTEN_CQE_F_PHASE;
		}
		consumed = true;

		tag = le32_to_cpu(cqe->tag);
		slot = tag & SPATTEN_TAG_SLOT_MASK;
		if (tag >> SPATTEN_TAG_QUEUE_SHIFT != q->id ||
		    slot >= q->depth) {
			dev_err_ratelimited(dev, "queue %u: completion with bad tag %#x ignored\n",
					    q->id, tag);
			continue;
		}
		slot = array_index_nospec(slot, q->depth);
		job = q->slots[slot];
		if (!job) {
			dev_err_ratelimited(dev, "queue %u: completion for idle tag %#x ignored\n",
					    q->id, tag);
			continue;
		}
		q->slots[slot] = NULL;
		q->inflight--;
		q->queued--;

		job->status = le16_to_cpu(cqe->status);
		job->bytes_q = le64_to_cpu(cqe->bytes_q);
		job->bytes_k_msb = le64_to_cpu(cqe->bytes_k_msb);
		job->bytes_k_lsb = le64_to_cpu(cqe->bytes_k_lsb);
		job->bytes_v = le64_to_cpu(cqe->bytes_v);
		job->bytes_written = le64_to_cpu(cqe->bytes_written);
		job->cycles = le64_to_cpu(cqe->cycles);
		job->lsb_refetches = le32_to_cpu(cqe->lsb_refetches);
		list_add_tail(&job->node, &done);
	}

	if (consumed)
		spatten_wr(q->sdev, SPATTEN_REG_CQ_HEAD_DB(q->id), q->cq_head);
	spatten_queue_kick(q);
	spin_unlock(&q->lock);

	if (!list_empty(&done))
		wake_up_interruptible_all(&q->space_wq);
	list_for_each_entry_safe(job, tmp, &done, node) {
		list_del_init(&job->node);
		spatten_job_complete(job);
	}
}

/**
 * spatten_queues_abort() - complete every job of the board with
 * SPATTEN_HW_ERR_ABORTED
 * @sdev: the board; the device is stopped and its interrupts are freed
 */
void spatten_queues_abort(struct spatten_dev *sdev)
{
	struct spatten_kjob *job, *tmp;
	u32 i, slot;

	for (i = 0; i < sdev->nr_queues; i++) {
		struct spatten_queue *q = &sdev->queues[i];
		LIST_HEAD(aborted);

		if (!q->slots)
			continue;
		spin_lock(&q->lock);
		for (slot = 0; slot < q->depth; slot++) {
			job = q->slots[slot];
			if (job) {
				q->slots[slot] = NULL;
				list_add_tail(&job->node, &aborted);
			}
		}
		q->inflight = 0;
		q->queued = 0;
		list_splice_tail_init(&q->pending, &aborted);
		spin_unlock(&q->lock);
		wake_up_interruptible_all(&q->space_wq);

		list_for_each_entry_safe(job, tmp, &aborted, node) {
			list_del_init(&job->node);
			job->status = SPATTEN_HW_ERR_ABORTED;
			spatten_job_complete(job);
		}
	}
}

/* Wait for running interrupt handlers (hard and threaded) to finish. */
static void spatten_irqs_sync(struct spatten_dev *sdev)
{
	u32 i;

	for (i = 0; i < sdev->nr_queues; i++)
		if (sdev->queues[i].irq)
			synchronize_irq(sdev->queues[i].irq);
	if (sdev->irq_single)
		synchronize_irq(sdev->irq_single);
}

/**
 * spatten_dev_quiesce() - stop the queues and fail the jobs on the rings
 * @sdev: the board; the caller holds @reset_lock
 * @touch_hw: reset the device first (false when it is being reset or its
 *	link is down anyway)
 *
 * Completions the device posted before it stopped are reported as usual;
 * every other job on a ring completes with SPATTEN_STATUS_TIMEOUT if the
 * watchdog expired it, else SPATTEN_HW_ERR_ABORTED. Jobs on the software
 * lists stay there for spatten_dev_restart().
 */
void spatten_dev_quiesce(struct spatten_dev *sdev, bool touch_hw)
{
	struct spatten_kjob *job, *tmp;
	u32 i, slot;

	lockdep_assert_held(&sdev->reset_lock);

	for (i = 0; i < sdev->nr_queues; i++) {
		spin_lock(&sdev->queues[i].lock);
		sdev->queues[i].stopped = true;
		spin_unlock(&sdev->queues[i].lock);
	}
	if (touch_hw)
		spatten_hw_disable(sdev);
	spatten_irqs_sync(sdev);

	for (i = 0; i < sdev->nr_queues; i++) {
		struct spatten_queue *q = &sdev->queues[i];
		LIST_HEAD(aborted);

		if (touch_hw)
			spatten_queue_process(q);

		spin_lock(&q->lock);
		for (slot = 0; slot < q->depth; slot++) {
			job = q->slots[slot];
			if (job) {
				q->slots[slot] = NULL;
				list_add_tail(&job->node, &aborted);
				q->queued--;
			}
		}
		q->inflight = 0;
		spin_unlock(&q->lock);
		wake_up_interruptible_all(&q->space_wq);

		list_for_each_entry_safe(job, tmp, &aborted, node) {
			list_del_init(&job->node);
			if (job->timed_out) {
				job->status = SPATTEN_STATUS_TIMEOUT;
				atomic_inc(&sdev->nr_timeouts);
			} else {
				job->status = SPATTEN_HW_ERR_ABORTED;
			}
			spatten_job_complete(job);
		}
	}
}

/**
 * spatten_dev_restart() - bring the device back after spatten_dev_quiesce()
 * @sdev: the board; the caller holds @reset_lock
 *
 * Resets and enables the device, programs every queue again and starts the
 * jobs waiting on the software lists. If the device does not come back,
 * the board is marked broken: those jobs complete with
 * SPATTEN_HW_ERR_ABORTED and SUBMIT fails with -EIO from then on.
 *
 * Return: 0 or a negative errno.
 */
int spatten_dev_restart(struct spatten_dev *sdev)
{
	int ret;
	u32 i;

	lockdep_assert_held(&sdev->reset_lock);

	atomic_set(&sdev->force_timeout, 0);
	ret = spatten_hw_reset(sdev);
	for (i = 0; !ret && i < sdev->nr_queues; i++) {
		struct spatten_queue *q = &sdev->queues[i];

		spin_lock(&q->lock);
		ret = spatten_queue_hw_init(q, sdev->msix ? i : 0);
		spin_unlock(&q->lock);
	}
	if (ret) {
		dev_err(&sdev->pdev->dev, "device did not come back after a reset (%d)\n",
			ret);
		WRITE_ONCE(sdev->broken, true);
		spatten_hw_disable(sdev);
		spatten_queues_abort(sdev);
		return ret;
	}

	for (i = 0; i < sdev->nr_queues; i++) {
		struct spatten_queue *q = &sdev->queues[i];

		spin_lock(&q->lock);
		q->stopped = false;
		spatten_queue_kick(q);
		spin_unlock(&q->lock);
	}
	return 0;
}

/**
 * spatten_watchdog_fn() - the watchdog (see the top of this file)
 * @work: &spatten_dev.watchdog
 */
void spatten_watchdog_fn(struct work_struct *work)
{
	struct spatten_dev *sdev = container_of(to_delayed_work(work),
						struct spatten_dev, watchdog);
	bool expired = false, busy = false;
	u32 i, slot;

	if (READ_ONCE(sdev->dead))
		return;

	for (i = 0; i < sdev->nr_queues; i++) {
		struct spatten_queue *q = &sdev->queues[i];

		spatten_queue_process(q);
		spin_lock(&q->lock);
		if (!q->stopped && q->inflight) {
			busy = true;
			for (slot = 0; slot < q->depth; slot++) {
				struct spatten_kjob *job = q->slots[slot];

				if (job && time_after_eq(jiffies, job->deadline)) {
					job->timed_out = true;
					expired = true;
				}
			}
		}
		spin_unlock(&q->lock);
	}

	if (expired) {
		mutex_lock(&sdev->reset_lock);
		if (!READ_ONCE(sdev->dead) && !READ_ONCE(sdev->broken)) {
			dev_warn(&sdev->pdev->dev,
				 "job timeout (%u ms): resetting the device\n",
				 READ_ONCE(sdev->timeout_ms));
			atomic_inc(&sdev->nr_resets);
			spatten_dev_quiesce(sdev, true);
			spatten_dev_restart(sdev);
		}
		mutex_unlock(&sdev->reset_lock);
		return;
	}
	if (busy)
		queue_delayed_work(system_wq, &sdev->watchdog,
				   msecs_to_jiffies(SPATTEN_WATCHDOG_MS));
}

/* Fault injection: ignore this interrupt (the watchdog picks it up). */
static bool spatten_irq_drop(struct spatten_dev *sdev)
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
	struct spatten_dev *sdev = data;
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
	struct spatten_dev *sdev = data;
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
int spatten_vectors_init(struct spatten_dev *sdev)
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
int spatten_irqs_init(struct spatten_dev *sdev)
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
					   sdev->name, sdev);
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
void spatten_irqs_fini(struct spatten_dev *sdev)
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

/**
 * spatten_read_counter() - read one 64-bit device counter
 * @sdev: the board
 * @idx: SPATTEN_CNT_*
 *
 * Two 32-bit reads, high half read again to catch a carry in between.
 *
 * Return: the counter.
 */
u64 spatten_read_counter(struct spatten_dev *sdev, unsigned int idx)
{
	u32 reg = SPATTEN_REG_CNT(idx);
	u32 hi, lo, hi2;
	int tries = 3;

	hi = spatten_rd(sdev, reg + 4);
	do {
		hi2 = hi;
		lo = spatten_rd(sdev, reg);
		hi = spatten_rd(sdev, reg + 4);
	} while (hi != hi2 && --tries);
	return (u64)hi << 32 | lo;
}
