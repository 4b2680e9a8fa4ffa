// SPDX-License-Identifier: GPL-2.0
/*
 * SpAtten driver: sysfs attributes of the board's PCI device (what
 * /sys/class/accel/accelN/device/ shows): capabilities, counters, queues
 * and fault statistics.
 */
#include <linux/device.h>
#include <linux/pci.h>
#include <linux/sysfs.h>

#include <drm/drm_drv.h>

#include "spatten_drv.h"

static struct spatten_device *spatten_attr_dev(struct device *dev)
{
	return pci_get_drvdata(to_pci_dev(dev));
}

/* A read-only attribute printing @expr, in which sdev is the board. */
#define SPATTEN_CAP_ATTR(name, expr, fmt)				\
static ssize_t name##_show(struct device *dev,				\
			   struct device_attribute *attr, char *buf)	\
{									\
	struct spatten_device *sdev = spatten_attr_dev(dev);		\
									\
	return sysfs_emit(buf, fmt "\n", (expr));			\
}									\
static DEVICE_ATTR_RO(name)

SPATTEN_CAP_ATTR(hw_version, sdev->caps.version, "%#010x");
SPATTEN_CAP_ATTR(num_engines, sdev->caps.engines, "%u");
SPATTEN_CAP_ATTR(num_queues, sdev->nr_queues, "%u");
SPATTEN_CAP_ATTR(queue_depth, sdev->queue_depth, "%u");
SPATTEN_CAP_ATTR(max_context, sdev->caps.max_context, "%u");
SPATTEN_CAP_ATTR(max_heads, sdev->caps.max_heads, "%u");
SPATTEN_CAP_ATTR(head_dims, sdev->caps.head_dims, "%#x");
SPATTEN_CAP_ATTR(formats, sdev->caps.formats, "%#x");
SPATTEN_CAP_ATTR(splits, sdev->caps.splits, "%#x");
SPATTEN_CAP_ATTR(features, sdev->caps.features, "%#x");
SPATTEN_CAP_ATTR(dma_bits, sdev->caps.dma_bits, "%u");
SPATTEN_CAP_ATTR(job_timeout_ms, READ_ONCE(sdev->timeout_ms), "%u");

static ssize_t irq_mode_show(struct device *dev, struct device_attribute *attr,
			     char *buf)
{
	struct spatten_device *sdev = spatten_attr_dev(dev);

	return sysfs_emit(buf, "%s\n", sdev->msix ? "msix" :
				       sdev->intx ? "intx" : "msi");
}
static DEVICE_ATTR_RO(irq_mode);

static const char *const spatten_cnt_names[SPATTEN_CNT_NUM] = {
	"jobs_ok", "jobs_err", "bytes_q", "bytes_k_msb", "bytes_k_lsb",
	"bytes_v", "bytes_written", "lsb_refetches", "cycles", "bytes_meta",
};

static ssize_t counters_show(struct device *dev, struct device_attribute *attr,
			     char *buf)
{
	struct spatten_device *sdev = spatten_attr_dev(dev);
	ssize_t len = 0;
	unsigned int i;

	int idx;

	if (!drm_dev_enter(&sdev->drm, &idx))
		return -ENODEV;
	for (i = 0; i < SPATTEN_CNT_NUM; i++)
		len += sysfs_emit_at(buf, len, "%s %llu\n",
				     spatten_cnt_names[i],
				     spatten_read_counter(sdev, i));
	drm_dev_exit(idx);
	return len;
}
static DEVICE_ATTR_RO(counters);

/*
 * One line per queue: "<id> <on the ring> <queued> <depth>", queued being
 * the jobs given to the queue's scheduler and not finished (ring included).
 */
static ssize_t queues_show(struct device *dev, struct device_attribute *attr,
			   char *buf)
{
	struct spatten_device *sdev = spatten_attr_dev(dev);
	ssize_t len = 0;
	u32 i;

	for (i = 0; i < sdev->nr_queues; i++) {
		struct spatten_queue *q = &sdev->queues[i];
		u32 inflight, queued;

		spin_lock(&q->lock);
		inflight = q->inflight;
		spin_unlock(&q->lock);
		queued = atomic_read(&q->queued);
		len += sysfs_emit_at(buf, len, "%u %u %u %u\n", i, inflight,
				     queued, q->depth);
	}
	return len;
}
static DEVICE_ATTR_RO(queues);

static ssize_t faults_show(struct device *dev, struct device_attribute *attr,
			   char *buf)
{
	struct spatten_device *sdev = spatten_attr_dev(dev);

	return sysfs_emit(buf,
			  "resets %d\ntimeouts %d\nirqs_dropped %d\nbroken %d\n"
			  "suspends %d\nresumes %d\n"
			  "runtime_suspends %d\nruntime_resumes %d\n",
			  atomic_read(&sdev->nr_resets),
			  atomic_read(&sdev->nr_timeouts),
			  atomic_read(&sdev->nr_irqs_dropped),
			  READ_ONCE(sdev->broken),
			  atomic_read(&sdev->nr_suspends),
			  atomic_read(&sdev->nr_resumes),
			  atomic_read(&sdev->nr_rt_suspends),
			  atomic_read(&sdev->nr_rt_resumes));
}
static DEVICE_ATTR_RO(faults);

static struct attribute *spatten_attrs[] = {
	&dev_attr_hw_version.attr,
	&dev_attr_num_engines.attr,
	&dev_attr_num_queues.attr,
	&dev_attr_queue_depth.attr,
	&dev_attr_max_context.attr,
	&dev_attr_max_heads.attr,
	&dev_attr_head_dims.attr,
	&dev_attr_formats.attr,
	&dev_attr_splits.attr,
	&dev_attr_features.attr,
	&dev_attr_dma_bits.attr,
	&dev_attr_job_timeout_ms.attr,
	&dev_attr_irq_mode.attr,
	&dev_attr_counters.attr,
	&dev_attr_queues.attr,
	&dev_attr_faults.attr,
	NULL,
};

static const struct attribute_group spatten_attr_group = {
	.attrs = spatten_attrs,
};

const struct attribute_group *spatten_dev_groups[] = {
	&spatten_attr_group,
	NULL,
};

/**
 * spatten_read_counter_hw() - read one 64-bit counter register
 * @sdev: the board, running
 * @idx: SPATTEN_CNT_*
 *
 * Two 32-bit reads, high half read again to catch a carry in between.
 *
 * Return: the register's value.
 */
u64 spatten_read_counter_hw(struct spatten_device *sdev, unsigned int idx)
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

/**
 * spatten_read_counter() - one device counter since probe
 * @sdev: the board
 * @idx: SPATTEN_CNT_*
 *
 * What the device counted before its suspends, plus the register unless
 * the device is stopped by a suspend now.
 *
 * Return: the counter.
 */
u64 spatten_read_counter(struct spatten_device *sdev, unsigned int idx)
{
	u64 val;

	spin_lock(&sdev->cnt_lock);
	val = sdev->cnt_base[idx];
	if (!sdev->hw_off)
		val += spatten_read_counter_hw(sdev, idx);
	spin_unlock(&sdev->cnt_lock);
	return val;
}
