// SPDX-License-Identifier: GPL-2.0
/*
 * SpAtten driver: sysfs attributes of /dev/spattenN and debugfs knobs.
 *
 * sysfs (/sys/class/misc/spattenN/, mode 0444: whoever may see the node may
 * read them): the capability registers, the interrupt mode, the device
 * counters, the per-queue depths and the driver's fault counters.
 *
 * debugfs (/sys/kernel/debug/spatten/spattenN/, root only), fault
 * injection for the tests:
 *  - timeout_ms: the per-job timeout (read/write)
 *  - force_timeout: write non-zero: jobs are put on the rings without the
 *    doorbell, so they time out and the device is reset (which clears it)
 *  - drop_irq: write N: the next N interrupts are ignored; the watchdog
 *    finds the completions within SPATTEN_WATCHDOG_MS
 *  - inject_dma_write_error: write N: the next N attention jobs get an
 *    output page list of unbacked pages: the device fails them with
 *    DMA_WRITE (after reading every input).
 *  - objects (in spatten/, not per board): live objects of the module.
 *  - inject_dma_error: write N: the next N attention jobs get a Q page-list
 *    address no memory answers to; the device fails them with DMA_READ
 */
#include <linux/debugfs.h>
#include <linux/seq_file.h>
#include <linux/device.h>
#include <linux/sysfs.h>

#include "spatten_drv.h"

static struct spatten_dev *spatten_attr_dev(struct device *dev)
{
	struct miscdevice *misc = dev_get_drvdata(dev);

	return container_of(misc, struct spatten_dev, misc);
}

/* A read-only attribute printing @expr, in which sdev is the board. */
#define SPATTEN_CAP_ATTR(name, expr, fmt)				\
static ssize_t name##_show(struct device *dev,				\
			   struct device_attribute *attr, char *buf)	\
{									\
	struct spatten_dev *sdev = spatten_attr_dev(dev);		\
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
	struct spatten_dev *sdev = spatten_attr_dev(dev);

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
	struct spatten_dev *sdev = spatten_attr_dev(dev);
	ssize_t len = 0;
	unsigned int i;

	down_read(&sdev->rwsem);
	for (i = 0; i < SPATTEN_CNT_NUM && !sdev->dead; i++)
		len += sysfs_emit_at(buf, len, "%s %llu\n",
				     spatten_cnt_names[i],
				     spatten_read_counter(sdev, i));
	up_read(&sdev->rwsem);
	return len;
}
static DEVICE_ATTR_RO(counters);

/* One line per queue: "<id> <on the ring> <queued in all> <depth>". */
static ssize_t queues_show(struct device *dev, struct device_attribute *attr,
			   char *buf)
{
	struct spatten_dev *sdev = spatten_attr_dev(dev);
	ssize_t len = 0;
	u32 i;

	for (i = 0; i < sdev->nr_queues; i++) {
		struct spatten_queue *q = &sdev->queues[i];
		u32 inflight, queued;

		spin_lock(&q->lock);
		inflight = q->inflight;
		queued = q->queued;
		spin_unlock(&q->lock);
		len += sysfs_emit_at(buf, len, "%u %u %u %u\n", i, inflight,
				     queued, q->depth);
	}
	return len;
}
static DEVICE_ATTR_RO(queues);

static ssize_t faults_show(struct device *dev, struct device_attribute *attr,
			   char *buf)
{
	struct spatten_dev *sdev = spatten_attr_dev(dev);

	return sysfs_emit(buf, "resets %d\ntimeouts %d\nirqs_dropped %d\nbroken %d\n",
			  atomic_read(&sdev->nr_resets),
			  atomic_read(&sdev->nr_timeouts),
			  atomic_read(&sdev->nr_irqs_dropped),
			  READ_ONCE(sdev->broken));
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

const struct attribute_group *spatten_attr_groups[] = {
	&spatten_attr_group,
	NULL,
};

static struct dentry *spatten_debugfs_root;

struct spatten_live spatten_live;

static int spatten_objects_show(struct seq_file *m, void *unused)
{
	seq_printf(m, "devs %d\nctxs %d\nbos %d\nbo_pages %ld\njobs %d\n",
		   atomic_read(&spatten_live.devs),
		   atomic_read(&spatten_live.ctxs),
		   atomic_read(&spatten_live.bos),
		   atomic_long_read(&spatten_live.bo_pages),
		   atomic_read(&spatten_live.jobs));
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(spatten_objects);

/**
 * spatten_debugfs_root_init() - create /sys/kernel/debug/spatten and its
 * "objects" file (live objects of the module, see struct spatten_live)
 */
void spatten_debugfs_root_init(void)
{
	spatten_debugfs_root = debugfs_create_dir(SPATTEN_DRV_NAME, NULL);
	debugfs_create_file("objects", 0400, spatten_debugfs_root, NULL,
			    &spatten_objects_fops);
}

/** spatten_debugfs_root_fini() - remove /sys/kernel/debug/spatten */
void spatten_debugfs_root_fini(void)
{
	debugfs_remove_recursive(spatten_debugfs_root);
	spatten_debugfs_root = NULL;
}

/**
 * spatten_debugfs_init() - create the fault-injection knobs of a board
 * @sdev: the board
 *
 * debugfs failures are not errors: the knobs are for tests only.
 */
void spatten_debugfs_init(struct spatten_dev *sdev)
{
	struct dentry *dir;

	dir = debugfs_create_dir(sdev->name, spatten_debugfs_root);
	sdev->debugfs = dir;
	debugfs_create_u32("timeout_ms", 0600, dir, &sdev->timeout_ms);
	debugfs_create_atomic_t("force_timeout", 0600, dir,
				&sdev->force_timeout);
	debugfs_create_atomic_t("drop_irq", 0600, dir, &sdev->drop_irq);
	debugfs_create_atomic_t("inject_dma_error", 0600, dir,
				&sdev->inject_dma);
	debugfs_create_atomic_t("inject_dma_write_error", 0600, dir,
				&sdev->inject_dma_write);
}

/**
 * spatten_debugfs_fini() - remove the knobs of a board
 * @sdev: the board
 */
void spatten_debugfs_fini(struct spatten_dev *sdev)
{
	debugfs_remove_recursive(sdev->debugfs);
	sdev->debugfs = NULL;
}
