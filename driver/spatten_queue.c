// SPDX-License-Identifier: GPL-2.0
/*
 * SpAtten driver: device reset, queue pairs, doorbells, interrupts and
 * completion processing.
 *
 * Each queue pair has a software list of accepted jobs (@pending) in front
 * of its ring, so SUBMIT never waits for ring space: the submit path and the
 * completion path both move jobs from @pending onto the ring while at most
 * depth - 1 jobs are on it. Every job on the ring has a tag slot; the tag is
 * slot | queue << 16 and comes back in the job's completion entry.
 */
#include <linux/dma-mapping.h>
#include <linux/interrupt.h>
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
	struct spatten_kjob *job;
	u32 slot, n = 0;

	lockdep_assert_held(&q->lock);

	while (q->inflight < q->depth - 1 && !list_empty(&q->pending)) {
		job = list_first_entry(&q->pending, struct spatten_kjob, node);
		list_del_init(&job->node);

		slot = spatten_queue_get_slot(q);
		q->slots[slot] = job;
		q->inflight++;
		job->desc.tag = cpu_to_le32(slot |
					    (u32)q->id << SPATTEN_TAG_QUEUE_SHIFT);
		memcpy(&q->sq[q->sq_tail], &job->desc, sizeof(job->desc));
		if (++q->sq_tail == q->depth)
			q->sq_tail = 0;
		n++;
	}

	if (n) {
		/* The new entries must be visible before the doorbell. */
		dma_wmb();
		spatten_wr(q->sdev, SPATTEN_REG_SQ_TAIL_DB(q->id), q->sq_tail);
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

		job->status = le16_to_cpu(cqe->status);
		job->bytes_q = le64_to_cpu(cqe->bytes_q);
		job->bytes_k_msb = le64_to_cpu(cqe->bytes_k_msb);
		job->bytes_k_lsb = le64_to_cpu(cqe->bytes_k_lsb);
		job->bytes_v = le64_to_cpu(cqe->bytes_v);
		job->bytes_written = le64_to_cpu(cqe->bytes_written);
		job->cycles = le64_to_cpu(cqe->cycles);
		list_add_tail(&job->node, &done);
	}

	if (consumed)
		spatten_wr(q->sdev, SPATTEN_REG_CQ_HEAD_DB(q->id), q->cq_head);
	spatten_queue_kick(q);
	spin_unlock(&q->lock);

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
		list_splice_tail_init(&q->pending, &aborted);
		spin_unlock(&q->lock);

		list_for_each_entry_safe(job, tmp, &aborted, node) {
			list_del_init(&job->node);
			job->status = SPATTEN_HW_ERR_ABORTED;
			spatten_job_complete(job);
		}
	}
}

static irqreturn_t spatten_irq_queue(int irq, void *data)
{
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
		return IRQ_WAKE_THREAD;

	pending = spatten_rd(sdev, SPATTEN_REG_INTX_STATUS);
	if (!pending || pending == U32_MAX)
		return IRQ_NONE;
	spatten_wr(sdev, SPATTEN_REG_INTX_STATUS, pending);
	/* Flush the posted write so the line drops before we return. */
	spatten_rd(sdev, SPATTEN_REG_INTX_STATUS);
	return IRQ_WAKE_THREAD;
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
