// SPDX-License-Identifier: GPL-2.0
/*
 * SpAtten driver: PCI probe and remove, the /dev/spattenN character device
 * and ioctl dispatch.
 *
 * Hot-unplug: open files hold a reference on the board structure. remove()
 * marks the board dead under its rwsem (which every device-touching ioctl
 * holds for reading), stops the device, frees the interrupts, completes
 * every job with SPATTEN_HW_ERR_ABORTED and unmaps every buffer; later
 * ioctls on the open files fail with -ENODEV.
 *
 * PCI resets (reset_prepare/reset_done, e.g. a function-level reset through
 * sysfs) and AER recovery (pci_error_handlers) quiesce the queues, fail
 * the jobs on the device with SPATTEN_HW_ERR_ABORTED and program the
 * device again afterwards; jobs not yet given to the device run then.
 */
#include <linux/compat.h>
#include <linux/dma-mapping.h>
#include <linux/fs.h>
#include <linux/idr.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/pci.h>
#include <linux/poll.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include "spatten_compat.h"
#include "spatten_drv.h"

static DEFINE_IDA(spatten_ida);

static unsigned int job_timeout_ms = 10000;
module_param(job_timeout_ms, uint, 0444);
MODULE_PARM_DESC(job_timeout_ms,
		 "Per-job timeout in ms before the device is reset (default 10000)");

static void spatten_dev_release(struct kref *ref)
{
	struct spatten_dev *sdev = container_of(ref, struct spatten_dev, ref);

	WARN_ON(!xa_empty(&sdev->mapped_pages));
	xa_destroy(&sdev->mapped_pages);
	mutex_destroy(&sdev->bo_lock);
	mutex_destroy(&sdev->ctx_lock);
	mutex_destroy(&sdev->reset_lock);
	pci_dev_put(sdev->pdev);
	kfree(sdev);
	atomic_dec(&spatten_live.devs);
}

/**
 * spatten_dev_put() - drop a reference to a board
 * @sdev: the board
 */
void spatten_dev_put(struct spatten_dev *sdev)
{
	kref_put(&sdev->ref, spatten_dev_release);
}

static void spatten_ctx_free(struct kref *ref)
{
	struct spatten_ctx *ctx = container_of(ref, struct spatten_ctx, ref);

	WARN_ON(!xa_empty(&ctx->jobs));
	xa_destroy(&ctx->jobs);
	xa_destroy(&ctx->bos);
	mutex_destroy(&ctx->submit_lock);
	spatten_dev_put(ctx->sdev);
	kfree(ctx);
	atomic_dec(&spatten_live.ctxs);
}

/**
 * spatten_ctx_put() - drop a reference to a file context
 * @ctx: the context
 */
void spatten_ctx_put(struct spatten_ctx *ctx)
{
	kref_put(&ctx->ref, spatten_ctx_free);
}

static int spatten_open(struct inode *inode, struct file *file)
{
	struct spatten_dev *sdev = container_of(file->private_data,
						struct spatten_dev, misc);
	struct spatten_ctx *ctx;

	ctx = kzalloc(sizeof(*ctx), GFP_KERNEL);
	if (!ctx)
		return -ENOMEM;
	atomic_inc(&spatten_live.ctxs);
	kref_init(&ctx->ref);
	xa_init_flags(&ctx->bos, XA_FLAGS_ALLOC1);
	xa_init(&ctx->jobs);
	mutex_init(&ctx->submit_lock);
	init_waitqueue_head(&ctx->wq);
	ctx->next_seqno = 1;

	/* misc_open() holds misc_mtx: remove() cannot have freed @sdev. */
	down_read(&sdev->rwsem);
	if (sdev->dead) {
		up_read(&sdev->rwsem);
		mutex_destroy(&ctx->submit_lock);
		kfree(ctx);
		atomic_dec(&spatten_live.ctxs);
		return -ENODEV;
	}
	kref_get(&sdev->ref);
	ctx->sdev = sdev;
	mutex_lock(&sdev->ctx_lock);
	list_add_tail(&ctx->node, &sdev->ctx_list);
	mutex_unlock(&sdev->ctx_lock);
	up_read(&sdev->rwsem);

	file->private_data = ctx;
	return nonseekable_open(inode, file);
}

static int spatten_release(struct inode *inode, struct file *file)
{
	struct spatten_ctx *ctx = file->private_data;
	struct spatten_dev *sdev = ctx->sdev;

	mutex_lock(&sdev->ctx_lock);
	list_del(&ctx->node);
	mutex_unlock(&sdev->ctx_lock);

	spatten_ctx_destroy_bos(ctx);
	spatten_ctx_release_jobs(ctx);
	spatten_ctx_put(ctx);
	return 0;
}

static int spatten_ioctl_info(struct spatten_dev *sdev, void __user *arg)
{
	const struct spatten_caps *caps = &sdev->caps;
	struct spatten_info info;

	memset(&info, 0, sizeof(info));
	info.api_version = SPATTEN_API_VERSION;
	info.hw_version = caps->version;
	info.vendor_id = sdev->pdev->vendor;
	info.device_id = sdev->pdev->device;
	info.num_engines = caps->engines;
	info.num_queues = sdev->nr_queues;
	info.queue_depth = sdev->queue_depth;
	info.max_context = caps->max_context;
	info.max_heads = caps->max_heads;
	info.head_dims = caps->head_dims;
	info.formats = caps->formats;
	info.splits = caps->splits;
	info.features = caps->features;
	info.dma_bits = caps->dma_bits;
	info.max_bo_size = SPATTEN_MAX_BO_SIZE;

	return copy_to_user(arg, &info, sizeof(info)) ? -EFAULT : 0;
}

static int spatten_ioctl_counters(struct spatten_dev *sdev, void __user *arg)
{
	struct spatten_counters cnt;
	unsigned int i;

	BUILD_BUG_ON(ARRAY_SIZE(cnt.value) < SPATTEN_CNT_NUM);

	if (copy_from_user(&cnt, arg, sizeof(cnt)))
		return -EFAULT;
	if (cnt.flags)
		return -EINVAL;

	memset(&cnt, 0, sizeof(cnt));
	cnt.num = SPATTEN_CNT_NUM;
	for (i = 0; i < SPATTEN_CNT_NUM; i++)
		cnt.value[i] = spatten_read_counter(sdev, i);

	return copy_to_user(arg, &cnt, sizeof(cnt)) ? -EFAULT : 0;
}

static long spatten_ioctl(struct file *file, unsigned int cmd,
			  unsigned long arg)
{
	struct spatten_ctx *ctx = file->private_data;
	struct spatten_dev *sdev = ctx->sdev;
	void __user *uarg = (void __user *)arg;
	long ret;

	switch (cmd) {
	case SPATTEN_IOCTL_WAIT:
		/* Sleeps without the rwsem: remove() completes every job. */
		return spatten_ioctl_wait(ctx, uarg);
	case SPATTEN_IOCTL_INFO:
	case SPATTEN_IOCTL_BO_CREATE:
	case SPATTEN_IOCTL_BO_DESTROY:
	case SPATTEN_IOCTL_SUBMIT:
	case SPATTEN_IOCTL_COUNTERS:
	case SPATTEN_IOCTL_BO_IMPORT:
		break;
	default:
		return -ENOTTY;
	}

	down_read(&sdev->rwsem);
	if (sdev->dead) {
		ret = -ENODEV;
		goto out;
	}

	switch (cmd) {
	case SPATTEN_IOCTL_INFO:
		ret = spatten_ioctl_info(sdev, uarg);
		break;
	case SPATTEN_IOCTL_BO_CREATE:
		ret = spatten_ioctl_bo_create(ctx, uarg);
		break;
	case SPATTEN_IOCTL_BO_DESTROY:
		ret = spatten_ioctl_bo_destroy(ctx, uarg);
		break;
	case SPATTEN_IOCTL_BO_IMPORT:
		ret = spatten_ioctl_bo_import(ctx, uarg);
		break;
	case SPATTEN_IOCTL_SUBMIT:
		if (READ_ONCE(sdev->broken))
			ret = -EIO;
		else
			ret = spatten_ioctl_submit(ctx, uarg,
						   file->f_flags & O_NONBLOCK);
		break;
	case SPATTEN_IOCTL_COUNTERS:
		ret = spatten_ioctl_counters(sdev, uarg);
		break;
	default:
		ret = -ENOTTY;
		break;
	}
out:
	up_read(&sdev->rwsem);
	return ret;
}

static __poll_t spatten_poll(struct file *file, poll_table *wait)
{
	struct spatten_ctx *ctx = file->private_data;
	__poll_t mask = 0;

	poll_wait(file, &ctx->wq, wait);
	if (READ_ONCE(ctx->nr_done))
		mask |= EPOLLIN | EPOLLRDNORM;
	if (READ_ONCE(ctx->sdev->dead))
		mask |= EPOLLERR | EPOLLHUP;
	return mask;
}

static const struct file_operations spatten_fops = {
	.owner = THIS_MODULE,
	.open = spatten_open,
	.release = spatten_release,
	.unlocked_ioctl = spatten_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
	.mmap = spatten_mmap,
	.poll = spatten_poll,
};

/* Read and check the identity and capability registers. */
static int spatten_read_caps(struct spatten_dev *sdev)
{
	struct device *dev = &sdev->pdev->dev;
	struct spatten_caps *c = &sdev->caps;
	u32 id;

	id = spatten_rd(sdev, SPATTEN_REG_ID);
	if (id != SPATTEN_HW_ID) {
		dev_err(dev, "unexpected ID register %#x\n", id);
		return -ENODEV;
	}
	c->version = spatten_rd(sdev, SPATTEN_REG_VERSION);
	if (c->version >> 16 != SPATTEN_HW_VERSION_MAJOR) {
		dev_err(dev, "unsupported hardware version %u.%u\n",
			c->version >> 16, c->version & 0xffff);
		return -ENODEV;
	}

	c->engines = spatten_rd(sdev, SPATTEN_REG_CAP_ENGINES);
	c->queues = spatten_rd(sdev, SPATTEN_REG_CAP_QUEUES);
	c->queue_depth = spatten_rd(sdev, SPATTEN_REG_CAP_QUEUE_DEPTH);
	c->max_context = spatten_rd(sdev, SPATTEN_REG_CAP_MAX_CONTEXT);
	c->max_heads = spatten_rd(sdev, SPATTEN_REG_CAP_MAX_HEADS);
	c->head_dims = spatten_rd(sdev, SPATTEN_REG_CAP_HEAD_DIMS);
	c->formats = spatten_rd(sdev, SPATTEN_REG_CAP_FORMATS);
	c->splits = spatten_rd(sdev, SPATTEN_REG_CAP_SPLITS);
	c->features = spatten_rd(sdev, SPATTEN_REG_CAP_FEATURES);
	c->dma_bits = spatten_rd(sdev, SPATTEN_REG_CAP_DMA_BITS);
	c->desc_size = spatten_rd(sdev, SPATTEN_REG_CAP_DESC_SIZE);

	if (c->desc_size != SPATTEN_DESC_SIZE) {
		dev_err(dev, "unsupported descriptor size %u\n", c->desc_size);
		return -ENODEV;
	}
	if (!c->queues || c->queue_depth < 2) {
		dev_err(dev, "no usable queues (%u x %u)\n", c->queues,
			c->queue_depth);
		return -ENODEV;
	}
	if (c->dma_bits < 24 || c->dma_bits > 64) {
		dev_err(dev, "unsupported DMA width %u\n", c->dma_bits);
		return -ENODEV;
	}
	if (!(c->features & SPATTEN_FEAT_PAGE_LIST)) {
		dev_err(dev, "device lacks page-list buffers\n");
		return -ENODEV;
	}

	sdev->queue_depth = min_t(u32, c->queue_depth, SPATTEN_MAX_DEPTH);
	return 0;
}

static int spatten_probe(struct pci_dev *pdev, const struct pci_device_id *id)
{
	struct device *dev = &pdev->dev;
	struct spatten_dev *sdev;
	int ret;

	BUILD_BUG_ON(sizeof(struct spatten_hw_desc) != SPATTEN_DESC_SIZE);
	BUILD_BUG_ON(sizeof(struct spatten_hw_cqe) != SPATTEN_CQE_SIZE);
	BUILD_BUG_ON(SPATTEN_MAX_DEPTH - 1 > 0xffff);

	sdev = kzalloc(sizeof(*sdev), GFP_KERNEL);
	if (!sdev)
		return -ENOMEM;
	atomic_inc(&spatten_live.devs);
	kref_init(&sdev->ref);
	sdev->pdev = pci_dev_get(pdev);
	sdev->index = -1;
	init_rwsem(&sdev->rwsem);
	mutex_init(&sdev->bo_lock);
	INIT_LIST_HEAD(&sdev->bo_list);
	xa_init(&sdev->mapped_pages);
	mutex_init(&sdev->ctx_lock);
	INIT_LIST_HEAD(&sdev->ctx_list);
	mutex_init(&sdev->reset_lock);
	INIT_DELAYED_WORK(&sdev->watchdog, spatten_watchdog_fn);
	sdev->timeout_ms = clamp_val(job_timeout_ms, 100, 3600 * MSEC_PER_SEC);

	ret = pcim_enable_device(pdev);
	if (ret) {
		dev_err(dev, "cannot enable device (%d)\n", ret);
		goto err_put;
	}
	if (pci_resource_len(pdev, SPATTEN_BAR_REGS) < SPATTEN_BAR0_SIZE) {
		dev_err(dev, "BAR%d too small\n", SPATTEN_BAR_REGS);
		ret = -ENODEV;
		goto err_put;
	}
	sdev->regs = spatten_pcim_iomap_bar(pdev, SPATTEN_BAR_REGS,
					    SPATTEN_DRV_NAME);
	if (IS_ERR(sdev->regs)) {
		ret = PTR_ERR(sdev->regs);
		dev_err(dev, "cannot map BAR%d (%d)\n", SPATTEN_BAR_REGS, ret);
		goto err_put;
	}

	ret = spatten_read_caps(sdev);
	if (ret)
		goto err_put;

	ret = dma_set_mask_and_coherent(dev, DMA_BIT_MASK(sdev->caps.dma_bits));
	if (ret) {
		dev_err(dev, "cannot set %u-bit DMA mask (%d)\n",
			sdev->caps.dma_bits, ret);
		goto err_put;
	}
	pci_set_master(pdev);

	ret = ida_alloc(&spatten_ida, GFP_KERNEL);
	if (ret < 0)
		goto err_put;
	sdev->index = ret;
	snprintf(sdev->name, sizeof(sdev->name), SPATTEN_DRV_NAME "%d",
		 sdev->index);

	ret = spatten_hw_reset(sdev);
	if (ret)
		goto err_ida;
	ret = spatten_vectors_init(sdev);
	if (ret)
		goto err_hw;
	ret = spatten_queues_init(sdev);
	if (ret)
		goto err_hw;
	ret = spatten_irqs_init(sdev);
	if (ret)
		goto err_hw;

	sdev->misc.minor = MISC_DYNAMIC_MINOR;
	sdev->misc.name = sdev->name;
	sdev->misc.fops = &spatten_fops;
	sdev->misc.parent = dev;
	sdev->misc.mode = 0660;
	sdev->misc.groups = spatten_attr_groups;
	pci_set_drvdata(pdev, sdev);
	pci_save_state(pdev);
	ret = misc_register(&sdev->misc);
	if (ret) {
		dev_err(dev, "cannot register %s (%d)\n", sdev->name, ret);
		goto err_hw;
	}
	spatten_debugfs_init(sdev);
	spatten_nop_bench_init(sdev);

	dev_info(dev, "%s: hw %u.%u, %u engines, %u queues x %u, %s\n",
		 sdev->name, sdev->caps.version >> 16,
		 sdev->caps.version & 0xffff, sdev->caps.engines,
		 sdev->nr_queues, sdev->queue_depth,
		 sdev->msix ? "MSI-X" : sdev->intx ? "INTx" : "MSI");
	return 0;

err_hw:
	spatten_hw_disable(sdev);
	spatten_irqs_fini(sdev);
	cancel_delayed_work_sync(&sdev->watchdog);
err_ida:
	ida_free(&spatten_ida, sdev->index);
err_put:
	spatten_dev_put(sdev);
	return ret;
}

/*
 * Stop using the device for good: fail later ioctls, stop the hardware,
 * complete every job with an error, undo every DMA mapping, wake pollers.
 */
static void spatten_dev_teardown(struct spatten_dev *sdev)
{
	struct spatten_ctx *ctx;

	if (sdev->torn_down)
		return;
	sdev->torn_down = true;

	down_write(&sdev->rwsem);
	WRITE_ONCE(sdev->dead, true);
	up_write(&sdev->rwsem);

	/* A reset in progress finishes first; later ones see @dead. */
	mutex_lock(&sdev->reset_lock);
	spatten_hw_disable(sdev);
	spatten_irqs_fini(sdev);
	mutex_unlock(&sdev->reset_lock);
	cancel_delayed_work_sync(&sdev->watchdog);
	spatten_queues_abort(sdev);
	spatten_bos_unmap_all(sdev);

	mutex_lock(&sdev->ctx_lock);
	list_for_each_entry(ctx, &sdev->ctx_list, node)
		wake_up_interruptible_all(&ctx->wq);
	mutex_unlock(&sdev->ctx_lock);
}

static void spatten_remove(struct pci_dev *pdev)
{
	struct spatten_dev *sdev = pci_get_drvdata(pdev);

	spatten_debugfs_fini(sdev);
	misc_deregister(&sdev->misc);
	spatten_dev_teardown(sdev);
	ida_free(&spatten_ida, sdev->index);
	spatten_dev_put(sdev);
}

static void spatten_shutdown(struct pci_dev *pdev)
{
	struct spatten_dev *sdev = pci_get_drvdata(pdev);

	if (sdev)
		spatten_dev_teardown(sdev);
}

/* Before a PCI reset of the function: stop, fail the jobs on the device. */
static void spatten_reset_prepare(struct pci_dev *pdev)
{
	struct spatten_dev *sdev = pci_get_drvdata(pdev);

	if (!sdev)
		return;
	mutex_lock(&sdev->reset_lock);
	if (!sdev->dead)
		spatten_dev_quiesce(sdev, true);
	mutex_unlock(&sdev->reset_lock);
}

/* After the reset: program the device again, run the waiting jobs. */
static void spatten_reset_done(struct pci_dev *pdev)
{
	struct spatten_dev *sdev = pci_get_drvdata(pdev);

	if (!sdev)
		return;
	mutex_lock(&sdev->reset_lock);
	if (!sdev->dead && !sdev->broken) {
		atomic_inc(&sdev->nr_resets);
		spatten_dev_restart(sdev);
	}
	mutex_unlock(&sdev->reset_lock);
}

static pci_ers_result_t spatten_error_detected(struct pci_dev *pdev,
					       pci_channel_state_t state)
{
	struct spatten_dev *sdev = pci_get_drvdata(pdev);

	dev_warn(&pdev->dev, "PCI error detected (state %d)\n", state);
	if (!sdev)
		return PCI_ERS_RESULT_DISCONNECT;
	if (state == pci_channel_io_perm_failure)
		return PCI_ERS_RESULT_DISCONNECT;

	/* The link may be frozen: fail the jobs without touching the BAR. */
	mutex_lock(&sdev->reset_lock);
	if (!sdev->dead)
		spatten_dev_quiesce(sdev, state == pci_channel_io_normal);
	mutex_unlock(&sdev->reset_lock);
	return PCI_ERS_RESULT_NEED_RESET;
}

static pci_ers_result_t spatten_slot_reset(struct pci_dev *pdev)
{
	struct spatten_dev *sdev = pci_get_drvdata(pdev);
	int ret;

	if (!sdev)
		return PCI_ERS_RESULT_DISCONNECT;
	pci_restore_state(pdev);
	pci_save_state(pdev);		/* for the next recovery */
	pci_set_master(pdev);
	mutex_lock(&sdev->reset_lock);
	ret = sdev->dead ? -ENODEV : spatten_dev_restart(sdev);
	if (!ret)
		atomic_inc(&sdev->nr_resets);
	mutex_unlock(&sdev->reset_lock);
	return ret ? PCI_ERS_RESULT_DISCONNECT : PCI_ERS_RESULT_RECOVERED;
}

static void spatten_resume(struct pci_dev *pdev)
{
	dev_info(&pdev->dev, "recovered from a PCI error\n");
}

static const struct pci_error_handlers spatten_err_handlers = {
	.error_detected = spatten_error_detected,
	.slot_reset = spatten_slot_reset,
	.resume = spatten_resume,
	.reset_prepare = spatten_reset_prepare,
	.reset_done = spatten_reset_done,
};

static const struct pci_device_id spatten_pci_ids[] = {
	{ PCI_DEVICE(SPATTEN_PCI_VENDOR_ID, SPATTEN_PCI_DEVICE_ID) },
	{ }
};
MODULE_DEVICE_TABLE(pci, spatten_pci_ids);

static struct pci_driver spatten_pci_driver = {
	.name = SPATTEN_DRV_NAME,
	.id_table = spatten_pci_ids,
	.probe = spatten_probe,
	.remove = spatten_remove,
	.shutdown = spatten_shutdown,
	.err_handler = &spatten_err_handlers,
};

static int __init spatten_init(void)
{
	int ret;

	spatten_debugfs_root_init();
	ret = pci_register_driver(&spatten_pci_driver);
	if (ret)
		spatten_debugfs_root_fini();
	return ret;
}
module_init(spatten_init);

static void __exit spatten_exit(void)
{
	pci_unregister_driver(&spatten_pci_driver);
	spatten_debugfs_root_fini();
}
module_exit(spatten_exit);

MODULE_DESCRIPTION("SpAtten sparse-attention accelerator");
MODULE_LICENSE("GPL");
