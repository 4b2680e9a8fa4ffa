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

#include "spatten_coredump.h"
#include "spatten_drv.h"
#include "spatten_job.h"

#define SPATTEN_COREDUMP_SIZE		(32 * 1024)

struct spatten_dump {
	char *buf;
	size_t len;
};

static __printf(2, 3) void spatten_dump_printf(struct spatten_dump *d,
					       const char *fmt, ...)
{
	va_list args;

	if (d->len >= SPATTEN_COREDUMP_SIZE)
		return;
	va_start(args, fmt);
	d->len += vscnprintf(d->buf + d->len, SPATTEN_COREDUMP_SIZE - d->len,
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
	return memory_read_from_buffer(buffer, count, &offset, data, datalen);
}

static void spatten_dump_free(void *data)
{
	kfree(data);
}

/**
 * spatten_coredump() - write a devcoredump for a hung job
 * @sdev: the board, its schedulers stopped, before the reset
 * @job: the job that timed out
 *
 * Allocation failures are not errors: the reset goes on without a dump.
 */
void spatten_coredump(struct spatten_device *sdev, struct spatten_job *job)
{
	struct spatten_dump d = { };

	/* In the timeout path: no reclaim that could wait for our fences. */
	d.buf = kzalloc(SPATTEN_COREDUMP_SIZE, GFP_NOWAIT | __GFP_NOWARN);
	if (!d.buf)
		return;

	spatten_dump_printf(&d, "SpAtten devcoredump\ndriver: %s\ndevice: %s\n",
			    SPATTEN_DRV_NAME, pci_name(sdev->pdev));
	spatten_dump_printf(&d, "reason: job timeout (%u ms)\n",
			    READ_ONCE(sdev->timeout_ms));
	spatten_dump_printf(&d, "time_ns: %lld\n", ktime_get_ns());
	spatten_dump_printf(&d, "guilty: client %llu seqno %llu queue %u\n",
			    job->sfile->client_id, job->seqno,
			    job->q ? job->q->id : 0);
	spatten_dump_regs(&d, sdev);
	spatten_dump_rings(&d, sdev);
	spatten_dump_printf(&d, "descriptor (%zu bytes):\n", sizeof(job->desc));
	spatten_dump_hex(&d, &job->desc, sizeof(job->desc));

	/* The devcoredump owns the buffer from here on. */
	dev_coredumpm(sdev->drm.dev, THIS_MODULE, d.buf, d.len, GFP_NOWAIT,
		      spatten_dump_read, spatten_dump_free);
}
