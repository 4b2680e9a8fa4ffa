// SPDX-License-Identifier: GPL-2.0
/*
 * SpAtten driver: a devcoredump when a job hangs the device: the registers,
 * the state of every ring and the offending descriptor, as text, in
 * /sys/class/devcoredump/devcd<N>/data until read and dismissed (or five
 * minutes pass). docs/driver.md shows the format.
 */
#include <linux/devcoredump.h>
#include <linux/fs.h>
#include <linux/module.h>
#include <linux/ktime.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/workqueue.h>

#include "spatten_coredump.h"
#include "spatten_drv.h"
#include "spatten_job.h"

#define SPATTEN_COREDUMP_SIZE		(32 * 1024)

/*
 * What devcoredump holds: the text and its length, one allocation of
 * SPATTEN_COREDUMP_SIZE (an order-3 block, not order 4).
 */
struct spatten_dump {
	size_t len;
	char text[SPATTEN_COREDUMP_SIZE - sizeof(size_t)];
};

static __printf(2, 3) void spatten_dump_printf(struct spatten_dump *d,
					       const char *fmt, ...)
{
	va_list args;

	if (d->len >= sizeof(d->text))
		return;
	va_start(args, fmt);
	d->len += vscnprintf(d->text + d->len, sizeof(d->text) - d->len,
			     fmt, args);
	va_end(args);
}

static void spatten_dump_hex(struct spatten_dump *d, const void *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i += 16)
		spatten_dump_printf(d, "  %04zx: %*ph\n", i,
				    (int)min_t(size_t, 16, n - i), (u8 *)p + i);
}

static void spatten_dump_regs(struct spatten_dump *d,
			      struct spatten_device *sdev)
{
	u32 i;

	spatten_dump_printf(d, "registers:\n");
	spatten_dump_printf(d, "  ID %#010x VERSION %#010x CTRL %#010x\n",
			    spatten_rd(sdev, SPATTEN_REG_ID),
			    spatten_rd(sdev, SPATTEN_REG_VERSION),
			    spatten_rd(sdev, SPATTEN_REG_CTRL));
	spatten_dump_printf(d, "  STATUS %#010x INTX_STATUS %#010x\n",
			    spatten_rd(sdev, SPATTEN_REG_STATUS),
			    spatten_rd(sdev, SPATTEN_REG_INTX_STATUS));
	for (i = 0; i < sdev->nr_queues; i++) {
		spatten_dump_printf(d, "  queue %u: CTRL %#x STATUS %#x", i,
				    spatten_rd(sdev, SPATTEN_REG_Q(i, SPATTEN_QREG_CTRL)),
				    spatten_rd(sdev, SPATTEN_REG_Q(i, SPATTEN_QREG_STATUS)));
		spatten_dump_printf(d, " SQ_SIZE %u CQ_SIZE %u VECTOR %u\n",
				    spatten_rd(sdev, SPATTEN_REG_Q(i, SPATTEN_QREG_SQ_SIZE)),
				    spatten_rd(sdev, SPATTEN_REG_Q(i, SPATTEN_QREG_CQ_SIZE)),
				    spatten_rd(sdev, SPATTEN_REG_Q(i, SPATTEN_QREG_IRQ_VECTOR)));
	}
	for (i = 0; i < SPATTEN_CNT_NUM; i++)
		spatten_dump_printf(d, "  counter %u: %llu\n", i,
				    spatten_read_counter(sdev, i));
}

static void spatten_dump_rings(struct spatten_dump *d,
			       struct spatten_device *sdev)
{
	u32 i, slot;

	for (i = 0; i < sdev->nr_queues; i++) {
		struct spatten_queue *q = &sdev->queues[i];

		spin_lock(&q->lock);
		spatten_dump_printf(d, "ring %u: depth %u sq_tail %u cq_head %u",
				    i, q->depth, q->sq_tail, q->cq_head);
		spatten_dump_printf(d, " cq_phase %u inflight %u\n",
				    q->cq_phase, q->inflight);
		for (slot = 0; slot < q->depth; slot++) {
			struct spatten_job *job = q->slots[slot];

			if (!job)
				continue;
			spatten_dump_printf(d, "  tag %#x: client %llu seqno %llu",
					    slot | (u32)i << 16,
					    job->sfile ? job->sfile->client_id : 0,
					    job->seqno);
			spatten_dump_printf(d, " on the engine %lld us\n",
					    ktime_us_delta(ktime_get(),
							   job->start));
		}
		spin_unlock(&q->lock);
	}
}

static ssize_t spatten_dump_read(char *buffer, loff_t offset, size_t count,
				 void *data, size_t datalen)
{
	struct spatten_dump *d = data;

	return memory_read_from_buffer(buffer, count, &offset, d->text, d->len);
}

static void spatten_dump_free(void *data)
{
	kfree(data);
}

/*
 * devcoredump registers a device (allocations that may enter reclaim):
 * not in the timeout handler, which is in the fence signalling path.
 */
static void spatten_coredump_work(struct work_struct *work)
{
	struct spatten_device *sdev = container_of(work, struct spatten_device,
						   coredump_work);
	struct spatten_dump *d = xchg(&sdev->coredump, NULL);

	/* The devcoredump owns the dump from here on. */
	if (d)
		dev_coredumpm(sdev->drm.dev, THIS_MODULE, d, d->len, GFP_KERNEL,
			      spatten_dump_read, spatten_dump_free);
}

/**
 * spatten_coredump_init() - set up the board's dump hand-off
 * @sdev: the board, at probe
 */
void spatten_coredump_init(struct spatten_device *sdev)
{
	INIT_WORK(&sdev->coredump_work, spatten_coredump_work);
}

/**
 * spatten_coredump_fini() - drop a dump not handed over yet
 * @sdev: the board, unplugged (no timeout handler can capture any more)
 */
void spatten_coredump_fini(struct spatten_device *sdev)
{
	cancel_work_sync(&sdev->coredump_work);
	kfree(xchg(&sdev->coredump, NULL));
}

/**
 * spatten_coredump() - capture a devcoredump of a hung job
 * @sdev: the board, its schedulers stopped, before the reset
 * @job: the job that timed out
 *
 * Captures into a buffer taken without reclaim, then a work item hands it
 * to devcoredump. Allocation failures are not errors, and a dump still
 * waiting for its hand-off is kept: the reset goes on without a new one.
 */
void spatten_coredump(struct spatten_device *sdev, struct spatten_job *job)
{
	struct spatten_dump *d;

	if (READ_ONCE(sdev->coredump))
		return;
	/* In the timeout path: no reclaim that could wait for our fences. */
	d = kzalloc(sizeof(*d), GFP_NOWAIT | __GFP_NOWARN);
	if (!d)
		return;

	spatten_dump_printf(d, "SpAtten devcoredump\ndriver: %s\ndevice: %s\n",
			    SPATTEN_DRV_NAME, pci_name(sdev->pdev));
	spatten_dump_printf(d, "reason: job timeout (%u ms)\n",
			    READ_ONCE(sdev->timeout_ms));
	spatten_dump_printf(d, "time_ns: %lld\n", ktime_get_ns());
	spatten_dump_printf(d, "guilty: client %llu seqno %llu queue %u\n",
			    job->sfile->client_id, job->seqno,
			    job->q ? job->q->id : 0);
	spatten_dump_regs(d, sdev);
	spatten_dump_rings(d, sdev);
	spatten_dump_printf(d, "descriptor (%u bytes):\n",
			    le16_to_cpu(job->desc.v2.desc_size));
	spatten_dump_hex(d, &job->desc, le16_to_cpu(job->desc.v2.desc_size));

	if (cmpxchg(&sdev->coredump, NULL, d)) {
		kfree(d);
		return;
	}
	schedule_work(&sdev->coredump_work);
}
