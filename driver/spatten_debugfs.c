// SPDX-License-Identifier: GPL-2.0
/*
 * SpAtten driver: debugfs. /sys/kernel/debug/spatten/objects counts the
 * module's live objects (the reliability tests check they return to their
 * level); /sys/kernel/debug/spatten/<pci-name>/ holds a board's test knobs.
 */
#include <linux/debugfs.h>
#include <linux/fs.h>
#include <linux/kstrtox.h>
#include <linux/seq_file.h>

#include <drm/drm_drv.h>

#include "spatten_drv.h"
#include "spatten_pm.h"
#include "spatten_queue.h"

static struct dentry *spatten_debugfs_root;

static int spatten_objects_show(struct seq_file *m, void *unused)
{
	seq_printf(m, "devs %d\nctxs %d\nbos %d\nbo_pages %ld\njobs %d\nfences %d\n",
		   atomic_read(&spatten_live.devs),
		   atomic_read(&spatten_live.ctxs),
		   atomic_read(&spatten_live.bos),
		   atomic_long_read(&spatten_live.bo_pages),
		   atomic_read(&spatten_live.jobs),
		   atomic_read(&spatten_live.fences));
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(spatten_objects);

/** spatten_debugfs_root_init() - create /sys/kernel/debug/spatten */
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

static int spatten_timeout_get(void *data, u64 *val)
{
	struct spatten_device *sdev = data;

	*val = READ_ONCE(sdev->timeout_ms);
	return 0;
}

static int spatten_timeout_set(void *data, u64 val)
{
	if (val < 100 || val > 3600 * MSEC_PER_SEC)
		return -EINVAL;
	spatten_scheds_set_timeout(data, val);
	return 0;
}
DEFINE_DEBUGFS_ATTRIBUTE(spatten_timeout_fops, spatten_timeout_get,
			 spatten_timeout_set, "%llu\n");

/*
 * inject_reset_stuck: the device's FAULT register. Non-zero arms
 * RESET_STUCK: the next device reset (hang recovery, PCI function reset,
 * suspend, unbind) never completes, until an FLR clears it.
 */
static int spatten_reset_stuck_get(void *data, u64 *val)
{
	struct spatten_device *sdev = data;
	int idx;

	if (!drm_dev_enter(&sdev->drm, &idx))
		return -ENODEV;
	mutex_lock(&sdev->reset_lock);
	*val = sdev->hw_off ? 0 : spatten_rd(sdev, SPATTEN_REG_FAULT) &
				   SPATTEN_FAULT_RESET_STUCK;
	mutex_unlock(&sdev->reset_lock);
	drm_dev_exit(idx);
	return 0;
}

static int spatten_reset_stuck_set(void *data, u64 val)
{
	struct spatten_device *sdev = data;
	int idx, ret;

	if (!drm_dev_enter(&sdev->drm, &idx))
		return -ENODEV;
	/* Armed on a running device: the resume's reset is not the next. */
	ret = spatten_pm_get(sdev);
	if (!ret) {
		mutex_lock(&sdev->reset_lock);
		if (sdev->hw_off || READ_ONCE(sdev->broken))
			ret = -EIO;
		else
			spatten_wr(sdev, SPATTEN_REG_FAULT,
				   val ? SPATTEN_FAULT_RESET_STUCK : 0);
		mutex_unlock(&sdev->reset_lock);
		spatten_pm_put(sdev);
	}
	drm_dev_exit(idx);
	return ret;
}
DEFINE_DEBUGFS_ATTRIBUTE(spatten_reset_stuck_fops, spatten_reset_stuck_get,
			 spatten_reset_stuck_set, "%llu\n");

/**
 * spatten_debugfs_init() - create the knobs of a board
 * @sdev: the board
 *
 * timeout_ms (job timeout), force_timeout (jobs go on the ring without a
 * doorbell), drop_irq (interrupts to ignore), nop_bench (the minimal
 * device round trip, spatten_bench.c); with the module parameter
 * unsafe_fault_injection also inject_dma_error and inject_dma_write_error,
 * which make the device DMA to an address no memory should answer to, and
 * inject_reset_stuck, which arms the device's FAULT.RESET_STUCK.
 * debugfs failures are not errors: the knobs are for tests only.
 */
void spatten_debugfs_init(struct spatten_device *sdev)
{
	struct dentry *dir;

	dir = debugfs_create_dir(pci_name(sdev->pdev), spatten_debugfs_root);
	sdev->debugfs = dir;
	debugfs_create_file_unsafe("timeout_ms", 0600, dir, sdev,
				   &spatten_timeout_fops);
	debugfs_create_atomic_t("force_timeout", 0600, dir,
				&sdev->force_timeout);
	debugfs_create_atomic_t("drop_irq", 0600, dir, &sdev->drop_irq);
	spatten_nop_bench_init(sdev);
	if (!spatten_unsafe_fault_injection)
		return;
	debugfs_create_atomic_t("inject_dma_error", 0600, dir,
				&sdev->inject_dma);
	debugfs_create_atomic_t("inject_dma_write_error", 0600, dir,
				&sdev->inject_dma_write);
	debugfs_create_file_unsafe("inject_reset_stuck", 0600, dir, sdev,
				   &spatten_reset_stuck_fops);
}

/**
 * spatten_debugfs_fini() - remove the knobs of a board
 * @sdev: the board
 */
void spatten_debugfs_fini(struct spatten_device *sdev)
{
	debugfs_remove_recursive(sdev->debugfs);
	sdev->debugfs = NULL;
}
