// SPDX-License-Identifier: GPL-2.0
/*
 * SpAtten driver: module, PCI binding, the DRM driver and its files.
 *
 * The board is a compute accelerator (/dev/accel/accelN) on kernels with
 * the accel subsystem and a render node with the same ioctls elsewhere.
 */
#include <linux/module.h>
#include <linux/pci.h>
#include <linux/poll.h>
#include <linux/slab.h>
#include <linux/wait_bit.h>
#include <linux/workqueue.h>

#include <drm/drm_drv.h>
#include <drm/drm_file.h>
#include <drm/drm_gem.h>
#include <drm/drm_ioctl.h>
#include <drm/drm_managed.h>
#include <drm/drm_prime.h>

#include "spatten_compat.h"
#include "spatten_coredump.h"
#ifdef SPATTEN_HAVE_DRM_ACCEL
#include <drm/drm_accel.h>
#endif
#include "spatten_drv.h"
#include "spatten_gem.h"
#include "spatten_job.h"
#include "spatten_pm.h"
#include "spatten_queue.h"
#include "spatten_trace.h"

static unsigned int job_timeout_ms = 5000;
module_param(job_timeout_ms, uint, 0444);
MODULE_PARM_DESC(job_timeout_ms, "time a job may run on an engine before the device is reset (100..3600000, default 5000)");

unsigned int spatten_debug;
module_param_named(debug, spatten_debug, uint, 0644);
MODULE_PARM_DESC(debug, "debug messages (with drm.debug bit 1, DRIVER): bit 0 jobs, bit 1 buffers");

bool spatten_unsafe_fault_injection;
module_param_named(unsafe_fault_injection, spatten_unsafe_fault_injection,
		   bool, 0444);
MODULE_PARM_DESC(unsafe_fault_injection, "debugfs knobs that make the device DMA to an unbacked address (on a board without an IOMMU that address may be RAM: test machines only)");

#ifndef SPATTEN_HAVE_DRM_CLIENT_ID
static atomic64_t spatten_next_client_id = ATOMIC64_INIT(0);
#endif

struct spatten_live spatten_live;

static struct lock_class_key spatten_jobs_lock_key;

/* ---- files ------------------------------------------------------------ */

/*
 * Files closed with jobs still queued or running are freed by their last
 * job's free_job, in the scheduler's work; the file's DRM device reference
 * may be the last one there, whose release (drm_sched_fini()) waits for
 * that very work. So files are freed here, in a work item of their own,
 * which module exit flushes once no file is left.
 */
static LLIST_HEAD(spatten_files_to_free);

static void spatten_files_free_work(struct work_struct *work)
{
	struct llist_node *list = llist_del_all(&spatten_files_to_free);
	struct spatten_file *sfile, *next;

	llist_for_each_entry_safe(sfile, next, list, free_node) {
		struct spatten_device *sdev = sfile->sdev;

		xa_destroy(&sfile->jobs);
		mutex_destroy(&sfile->submit_lock);
		kfree(sfile);
		drm_dev_put(&sdev->drm);
		if (atomic_dec_and_test(&spatten_live.ctxs))
			wake_up_var(&spatten_live.ctxs);
	}
}

static DECLARE_WORK(spatten_files_free_worker, spatten_files_free_work);

static void spatten_file_release(struct kref *ref)
{
	struct spatten_file *sfile = container_of(ref, struct spatten_file,
						  ref);

	llist_add(&sfile->free_node, &spatten_files_to_free);
	schedule_work(&spatten_files_free_worker);
}

/**
 * spatten_file_put() - drop a reference to a file context
 * @sfile: the context
 */
void spatten_file_put(struct spatten_file *sfile)
{
	kref_put(&sfile->ref, spatten_file_release);
}

static int spatten_open(struct drm_device *drm, struct drm_file *file)
{
	struct spatten_device *sdev = to_spatten_device(drm);
	struct spatten_file *sfile;
	int ret, idx;

	if (!drm_dev_enter(drm, &idx))
		return -ENODEV;
	sfile = kzalloc(sizeof(*sfile), GFP_KERNEL_ACCOUNT);
	if (!sfile) {
		ret = -ENOMEM;
		goto out_exit;
	}
	ret = drm_sched_entity_init(&sfile->entity, DRM_SCHED_PRIORITY_NORMAL,
				    sdev->scheds, sdev->nr_queues, NULL);
	if (ret) {
		kfree(sfile);
		goto out_exit;
	}
	kref_init(&sfile->ref);
	drm_dev_get(drm);
	sfile->sdev = sdev;
	mutex_init(&sfile->submit_lock);
	sfile->next_seqno = 1;
	xa_init_flags(&sfile->jobs, XA_FLAGS_ACCOUNT | XA_FLAGS_LOCK_IRQ);
	/*
	 * Its own lockdep class: it is taken in fence callbacks (IRQ-safe),
	 * the board's user_pages xarray, initialized by the same inline, is
	 * not.
	 */
	lockdep_set_class(&sfile->jobs.xa_lock, &spatten_jobs_lock_key);
	INIT_LIST_HEAD(&sfile->done);
	init_waitqueue_head(&sfile->wq);
#ifdef SPATTEN_HAVE_DRM_CLIENT_ID
	sfile->client_id = file->client_id;
#else
	sfile->client_id = atomic64_inc_return(&spatten_next_client_id);
#endif
	file->driver_priv = sfile;
	atomic_inc(&spatten_live.ctxs);
out_exit:
	drm_dev_exit(idx);
	return ret;
}

static void spatten_postclose(struct drm_device *drm, struct drm_file *file)
{
	struct spatten_file *sfile = file->driver_priv;

	/* Queued jobs still run (or are killed on a fatal signal). */
	drm_sched_entity_destroy(&sfile->entity);
	spatten_file_release_jobs(sfile);
	spatten_file_put(sfile);
}

static __poll_t spatten_poll(struct file *filp, poll_table *wait)
{
	struct drm_file *file = filp->private_data;
	struct spatten_file *sfile = file->driver_priv;
	__poll_t mask = 0;

	poll_wait(filp, &sfile->wq, wait);
	xa_lock_irq(&sfile->jobs);
	if (sfile->nr_done)
		mask |= EPOLLIN | EPOLLRDNORM;
	xa_unlock_irq(&sfile->jobs);
	if (drm_dev_is_unplugged(&sfile->sdev->drm))
		mask |= EPOLLERR | EPOLLHUP;
	return mask;
}

/* Wake every file's waiters: the board went away. */
static void spatten_wake_files(struct spatten_device *sdev)
{
	struct drm_file *file;

	mutex_lock(&sdev->drm.filelist_mutex);
	list_for_each_entry(file, &sdev->drm.filelist, lhead)
		if (file->driver_priv)
			wake_up_all(&((struct spatten_file *)file->driver_priv)->wq);
	mutex_unlock(&sdev->drm.filelist_mutex);
}

/* ---- fdinfo (Documentation/gpu/drm-usage-stats.rst) --------------------- */

static void spatten_show_fdinfo_engine(struct drm_printer *p,
				       struct drm_file *file)
{
	struct spatten_file *sfile = file->driver_priv;

	drm_printf(p, "drm-engine-attention:\t%llu ns\n",
		   (u64)atomic64_read(&sfile->engine_ns));
	drm_printf(p, "drm-cycles-attention:\t%llu\n",
		   (u64)atomic64_read(&sfile->cycles));
	/* The engines run jobs side by side: utilisation is out of this. */
	drm_printf(p, "drm-engine-capacity-attention:\t%u\n",
		   sfile->sdev->caps.engines);
}

#ifdef SPATTEN_HAVE_DRM_SHOW_FDINFO
static void spatten_show_fdinfo(struct drm_printer *p, struct drm_file *file)
{
	spatten_show_fdinfo_engine(p, file);
	drm_show_memory_stats(p, file);
}
#else
/* Before the DRM core printed fdinfo: the same keys, printed here. */
static void spatten_fops_show_fdinfo(struct seq_file *m, struct file *filp)
{
	struct drm_file *file = filp->private_data;
	struct spatten_file *sfile = file->driver_priv;
	struct drm_printer p = drm_seq_file_printer(m);
	struct drm_gem_object *obj;
	u64 total = 0;
	int id;

	drm_printf(&p, "drm-driver:\t%s\n", SPATTEN_DRV_NAME);
	drm_printf(&p, "drm-pdev:\t%s\n", pci_name(sfile->sdev->pdev));
	drm_printf(&p, "drm-client-id:\t%llu\n", sfile->client_id);
	spatten_show_fdinfo_engine(&p, file);
	spin_lock(&file->table_lock);
	idr_for_each_entry(&file->object_idr, obj, id)
		total += obj->size;
	spin_unlock(&file->table_lock);
	drm_printf(&p, "drm-total-memory:\t%llu KiB\n", total >> 10);
}
#endif

/* ---- INFO and COUNTERS ------------------------------------------------- */

static int spatten_ioctl_info(struct drm_device *drm, void *data,
			      struct drm_file *file)
{
	struct spatten_device *sdev = to_spatten_device(drm);
	const struct spatten_caps *caps = &sdev->caps;
	struct drm_spatten_info *info = data;

	if (info->flags)
		return -EINVAL;
	memset(info, 0, sizeof(*info));
	info->api_version = DRM_SPATTEN_API_VERSION;
	info->hw_version = caps->version;
	info->vendor_id = sdev->pdev->vendor;
	info->device_id = sdev->pdev->device;
	info->num_engines = caps->engines;
	info->num_queues = sdev->nr_queues;
	info->queue_depth = sdev->queue_depth;
	info->max_context = caps->max_context;
	info->max_heads = caps->max_heads;
	info->head_dims = caps->head_dims;
	info->formats = caps->formats;
	info->splits = caps->splits;
	info->features = caps->features;
	info->dma_bits = caps->dma_bits;
	info->max_submit = DRM_SPATTEN_MAX_SUBMIT;
	info->max_bo_size = SPATTEN_MAX_BO_SIZE;
	info->max_jobs = SPATTEN_MAX_JOBS;
	info->job_timeout_ms = READ_ONCE(sdev->timeout_ms);
	return 0;
}

static int spatten_ioctl_counters(struct drm_device *drm, void *data,
				  struct drm_file *file)
{
	struct spatten_device *sdev = to_spatten_device(drm);
	struct drm_spatten_counters *cnt = data;
	unsigned int i;
	int idx;

	if (cnt->flags)
		return -EINVAL;
	if (!drm_dev_enter(drm, &idx))
		return -ENODEV;
	memset(cnt, 0, sizeof(*cnt));
	cnt->num = DRM_SPATTEN_CNT_NUM;
	for (i = 0; i < SPATTEN_CNT_NUM; i++)
		cnt->value[i] = spatten_read_counter(sdev, i);
	drm_dev_exit(idx);
	cnt->value[DRM_SPATTEN_CNT_RESETS] = atomic_read(&sdev->nr_resets);
	cnt->value[DRM_SPATTEN_CNT_TIMEOUTS] = atomic_read(&sdev->nr_timeouts);
	cnt->value[DRM_SPATTEN_CNT_IRQS_DROPPED] =
		atomic_read(&sdev->nr_irqs_dropped);
	return 0;
}

/*
 * INFO, BO_CREATE and BO_INFO run inside drm_dev_enter(). SUBMIT and
 * BO_USERPTR enter only once they are done with user memory (a page fault
 * may never resolve); WAIT and REAP read the file's own state only (the
 * DRM core refuses every ioctl once the device is unplugged).
 */
#define SPATTEN_IOCTL_ENTERED(name)					\
static int spatten_ioctl_##name##_entered(struct drm_device *drm,	\
					  void *data,			\
					  struct drm_file *file)	\
{									\
	int ret, idx;							\
									\
	if (!drm_dev_enter(drm, &idx))					\
		return -ENODEV;						\
	ret = spatten_ioctl_##name(drm, data, file);			\
	drm_dev_exit(idx);						\
	return ret;							\
}

SPATTEN_IOCTL_ENTERED(info)
SPATTEN_IOCTL_ENTERED(bo_create)
SPATTEN_IOCTL_ENTERED(bo_info)

static const struct drm_ioctl_desc spatten_ioctls[] = {
	DRM_IOCTL_DEF_DRV(SPATTEN_INFO, spatten_ioctl_info_entered,
			  DRM_RENDER_ALLOW),
	DRM_IOCTL_DEF_DRV(SPATTEN_BO_CREATE, spatten_ioctl_bo_create_entered,
			  DRM_RENDER_ALLOW),
	DRM_IOCTL_DEF_DRV(SPATTEN_BO_USERPTR, spatten_ioctl_bo_userptr,
			  DRM_RENDER_ALLOW),
	DRM_IOCTL_DEF_DRV(SPATTEN_BO_INFO, spatten_ioctl_bo_info_entered,
			  DRM_RENDER_ALLOW),
	DRM_IOCTL_DEF_DRV(SPATTEN_SUBMIT, spatten_ioctl_submit,
			  DRM_RENDER_ALLOW),
	DRM_IOCTL_DEF_DRV(SPATTEN_WAIT, spatten_ioctl_wait, DRM_RENDER_ALLOW),
	DRM_IOCTL_DEF_DRV(SPATTEN_REAP, spatten_ioctl_reap, DRM_RENDER_ALLOW),
	DRM_IOCTL_DEF_DRV(SPATTEN_COUNTERS, spatten_ioctl_counters,
			  DRM_RENDER_ALLOW),
};

static const struct file_operations spatten_fops = {
	.owner = THIS_MODULE,
#ifdef SPATTEN_HAVE_DRM_ACCEL
	.open = accel_open,
#else
	.open = drm_open,
#endif
	.release = drm_release,
	.unlocked_ioctl = drm_ioctl,
	.compat_ioctl = drm_compat_ioctl,
	.poll = spatten_poll,
	.read = drm_read,
	.llseek = noop_llseek,
	.mmap = drm_gem_mmap,
#ifdef FOP_UNSIGNED_OFFSET
	/* GEM mmap offsets do not fit a signed 32-bit off_t. */
	.fop_flags = FOP_UNSIGNED_OFFSET,
#endif
#ifdef SPATTEN_HAVE_DRM_SHOW_FDINFO
	.show_fdinfo = drm_show_fdinfo,
#else
	.show_fdinfo = spatten_fops_show_fdinfo,
#endif
};

static const struct drm_driver spatten_drm_driver = {
#ifdef SPATTEN_HAVE_DRM_ACCEL
	.driver_features = DRIVER_GEM | DRIVER_COMPUTE_ACCEL |
			   DRIVER_SYNCOBJ | DRIVER_SYNCOBJ_TIMELINE,
#else
	.driver_features = DRIVER_GEM | DRIVER_RENDER |
			   DRIVER_SYNCOBJ | DRIVER_SYNCOBJ_TIMELINE,
#endif
	.open = spatten_open,
	.postclose = spatten_postclose,
	.gem_create_object = spatten_gem_create_object,
	.gem_prime_import_sg_table = spatten_gem_prime_import_sg_table,
#ifdef SPATTEN_HAVE_DRM_DRIVER_PRIME_CALLBACKS
	.prime_handle_to_fd = drm_gem_prime_handle_to_fd,
	.prime_fd_to_handle = drm_gem_prime_fd_to_handle,
	.gem_prime_mmap = drm_gem_prime_mmap,
#endif
#ifdef SPATTEN_HAVE_DRM_SHOW_FDINFO
	.show_fdinfo = spatten_show_fdinfo,
#endif
	.ioctls = spatten_ioctls,
	.num_ioctls = ARRAY_SIZE(spatten_ioctls),
	.fops = &spatten_fops,
	.name = SPATTEN_DRV_NAME,
	.desc = SPATTEN_DRV_DESC,
	.date = "20261203",
	.major = 1,
	.minor = 0,
};

/* ---- PCI -------------------------------------------------------------- */

/*
 * Descriptor version 3 needs 512-byte SQ entries, which 1.2 boards offer
 * (CAP_DESC_SIZE_MAX); without them the features that need version 3 are
 * not offered to userspace.
 */
static void spatten_caps_sqe(struct spatten_device *sdev)
{
	struct spatten_caps *c = &sdev->caps;
	u32 max = 0;

	c->sqe_size = SPATTEN_DESC_SIZE;
	if ((c->version & 0xffff) >= 2)
		max = spatten_rd(sdev, SPATTEN_REG_CAP_DESC_SIZE_MAX);
	if (max >= SPATTEN_DESC_V3_SIZE && (c->features & SPATTEN_FEAT_DESC_V3))
		c->sqe_size = SPATTEN_DESC_V3_SIZE;
	else
		c->features &= ~(SPATTEN_FEAT_DESC_V3 | SPATTEN_FEAT_GQA |
				 SPATTEN_FEAT_KV_LAYOUT | SPATTEN_FEAT_ROPE |
				 SPATTEN_FEAT_CHUNKS |
				 SPATTEN_FEAT_IMP_PER_KV_HEAD);
}

/* Read and check the identity and capability registers. */
static int spatten_read_caps(struct spatten_device *sdev)
{
	struct spatten_caps *c = &sdev->caps;
	u32 id;

	id = spatten_rd(sdev, SPATTEN_REG_ID);
	if (id != SPATTEN_HW_ID) {
		drm_err(&sdev->drm, "unexpected ID register %#x\n", id);
		return -ENODEV;
	}
	c->version = spatten_rd(sdev, SPATTEN_REG_VERSION);
	if (c->version >> 16 != SPATTEN_HW_VERSION_MAJOR) {
		drm_err(&sdev->drm, "unsupported hardware version %u.%u\n",
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
	/* a bit this driver does not know is a feature it does not check */
	c->features = spatten_rd(sdev, SPATTEN_REG_CAP_FEATURES) &
		      SPATTEN_FEAT_ALL;
	c->dma_bits = spatten_rd(sdev, SPATTEN_REG_CAP_DMA_BITS);
	c->desc_size = spatten_rd(sdev, SPATTEN_REG_CAP_DESC_SIZE);

	if (c->desc_size != SPATTEN_DESC_SIZE || !c->queues ||
	    c->queue_depth < 2 || c->dma_bits < 24 || c->dma_bits > 64 ||
	    !(c->features & SPATTEN_FEAT_PAGE_LIST)) {
		drm_err(&sdev->drm, "unusable capabilities (desc %u, %u x %u queues, %u-bit DMA, features %#x)\n",
			c->desc_size, c->queues, c->queue_depth, c->dma_bits,
			c->features);
		return -ENODEV;
	}
	spatten_caps_sqe(sdev);
	sdev->queue_depth = min_t(u32, c->queue_depth, SPATTEN_MAX_DEPTH);
	return 0;
}

static void spatten_irqs_release(void *data)
{
	spatten_irqs_fini(data);
}

/*
 * Reset the device at probe. One that does not come out of reset (a board
 * left out of service by a failed recovery, then unbound) gets a
 * function-level reset, if it has one, and a second chance.
 */
static int spatten_hw_reset_probe(struct spatten_device *sdev)
{
	struct pci_dev *pdev = sdev->pdev;
	int ret;

	ret = spatten_hw_reset(sdev);
	if (ret != -ETIMEDOUT || pcie_reset_flr(pdev, PCI_RESET_PROBE))
		return ret;
	dev_warn(&pdev->dev, "device stuck in reset: function-level reset\n");
	pci_save_state(pdev);
	ret = pcie_flr(pdev);
	pci_restore_state(pdev);
	return ret ? ret : spatten_hw_reset(sdev);
}

/* The BAR, the capabilities and a reset device with its queues and IRQs. */
static int spatten_hw_init(struct spatten_device *sdev)
{
	struct pci_dev *pdev = sdev->pdev;
	int ret;

	ret = pcim_enable_device(pdev);
	if (ret)
		return ret;
	if (pci_resource_len(pdev, SPATTEN_BAR_REGS) < SPATTEN_BAR0_SIZE)
		return -ENODEV;
	sdev->regs = spatten_pcim_iomap_bar(pdev, SPATTEN_BAR_REGS,
					    SPATTEN_DRV_NAME);
	if (IS_ERR(sdev->regs)) {
		ret = PTR_ERR(sdev->regs);
		sdev->regs = NULL;
		return ret;
	}
	ret = spatten_read_caps(sdev);
	if (ret)
		return ret;
	ret = dma_set_mask_and_coherent(&pdev->dev,
					DMA_BIT_MASK(sdev->caps.dma_bits));
	if (ret)
		return ret;
	/*
	 * The device walks page lists: a mapped segment may be any length.
	 * (PCI devices have the dma_parms this needs; 6.12 returns void.)
	 */
	dma_set_max_seg_size(&pdev->dev, UINT_MAX);
	pci_set_master(pdev);

	ret = spatten_hw_reset_probe(sdev);
	if (ret)
		return ret;
	ret = spatten_vectors_init(sdev);
	if (ret)
		return ret;
	ret = devm_add_action_or_reset(&pdev->dev, spatten_irqs_release, sdev);
	if (ret)
		return ret;
	ret = spatten_queues_init(sdev);
	if (ret)
		return ret;
	ret = spatten_scheds_init(sdev);
	if (ret)
		return ret;
	return spatten_irqs_init(sdev);
}

static int spatten_probe(struct pci_dev *pdev, const struct pci_device_id *id)
{
	struct spatten_device *sdev;
	int ret;

	BUILD_BUG_ON(sizeof(struct spatten_hw_desc) != SPATTEN_DESC_SIZE);
	BUILD_BUG_ON(sizeof(struct spatten_hw_desc_v3) != SPATTEN_DESC_V3_SIZE);
	BUILD_BUG_ON(sizeof(struct spatten_hw_cqe) != SPATTEN_CQE_SIZE);
	BUILD_BUG_ON(SPATTEN_MAX_DEPTH - 1 > 0xffff);

	sdev = devm_drm_dev_alloc(&pdev->dev, &spatten_drm_driver,
				  struct spatten_device, drm);
	if (IS_ERR(sdev))
		return PTR_ERR(sdev);
	sdev->pdev = pdev;
	pci_set_drvdata(pdev, sdev);
	ret = drmm_mutex_init(&sdev->drm, &sdev->bo_lock);
	if (!ret)
		ret = drmm_mutex_init(&sdev->drm, &sdev->reset_lock);
	if (ret)
		return ret;
	INIT_LIST_HEAD(&sdev->bo_list);
	spin_lock_init(&sdev->cnt_lock);
	INIT_LIST_HEAD(&sdev->reset_freed);
	spatten_coredump_init(sdev);
	xa_init_flags(&sdev->user_pages, XA_FLAGS_ACCOUNT);
	sdev->timeout_ms = clamp_val(job_timeout_ms, 100, 3600 * MSEC_PER_SEC);

	ret = spatten_hw_init(sdev);
	if (ret) {
		dev_err(&pdev->dev, "cannot bring the device up (%d)\n", ret);
		spatten_hw_disable(sdev);
		return ret;
	}
	pci_save_state(pdev);

	ret = drm_dev_register(&sdev->drm, 0);
	if (ret) {
		spatten_hw_disable(sdev);
		return ret;
	}
	spatten_debugfs_init(sdev);
	atomic_inc(&spatten_live.devs);
	spatten_pm_init(sdev);
	drm_info(&sdev->drm, "hw %u.%u, %u engines, %u queues x %u, %s\n",
		 sdev->caps.version >> 16, sdev->caps.version & 0xffff,
		 sdev->caps.engines, sdev->nr_queues, sdev->queue_depth,
		 sdev->msix ? "MSI-X" : sdev->intx ? "INTx" : "MSI");
	return 0;
}

/*
 * Stop using the device for good: no more ioctls on it, the hardware off,
 * every job completed, every DMA mapping undone, every waiter woken.
 * Files stay open; their buffers stay usable from the CPU.
 */
static void spatten_unplug(struct spatten_device *sdev)
{
	drm_dev_unplug(&sdev->drm);

	spatten_reset_lock(sdev);
	sdev->unplugged = true;
	spatten_pm_unpause(sdev);
	spatten_scheds_stop(sdev, NULL);
	/* A broken board is off the bus already: its reset would time out. */
	if (READ_ONCE(sdev->broken) || spatten_hw_disable(sdev))
		pci_clear_master(sdev->pdev);
	spatten_irqs_fini(sdev);
	spatten_queues_fail_ring(sdev, NULL);
	spatten_scheds_start(sdev);
	spatten_reset_unlock(sdev);

	spatten_gem_unmap_all(sdev);
	xa_destroy(&sdev->user_pages);
	spatten_wake_files(sdev);
}

static void spatten_remove(struct pci_dev *pdev)
{
	struct spatten_device *sdev = pci_get_drvdata(pdev);

	spatten_pm_fini(sdev);
	spatten_debugfs_fini(sdev);
	spatten_unplug(sdev);
	spatten_coredump_fini(sdev);
	atomic_dec(&spatten_live.devs);
}

static void spatten_shutdown(struct pci_dev *pdev)
{
	struct spatten_device *sdev = pci_get_drvdata(pdev);

	if (sdev)
		spatten_hw_disable(sdev);
}

/*
 * Around a PCI function reset: stop, fail the jobs on the device, restart.
 * It is also the way back for a board out of service (a device that did
 * not come out of reset): reset_done puts it back in service. The PCI
 * core calls both from one task; @reset_lock is held from one to
 * the other so that no timeout handler restarts a scheduler in between.
 */
static void spatten_reset_prepare(struct pci_dev *pdev)
{
	struct spatten_device *sdev = pci_get_drvdata(pdev);

	spatten_reset_lock(sdev);
	/* Suspended for system sleep: its resume resets the device. */
	if (sdev->unplugged || sdev->pm_paused)
		return;
	spatten_scheds_stop(sdev, NULL);
	if (!READ_ONCE(sdev->broken))
		spatten_hw_disable(sdev);
	spatten_irqs_sync(sdev);
	spatten_queues_fail_ring(sdev, NULL);
}

static void spatten_reset_done(struct pci_dev *pdev)
{
	struct spatten_device *sdev = pci_get_drvdata(pdev);

	lockdep_assert_held(&sdev->reset_lock);
	if (!sdev->unplugged && !sdev->pm_paused) {
		/*
		 * The function was reset: a device that did not stop before
		 * may work again. The PCI core restored the command register
		 * as it was at reset_prepare (bus mastering off if broken).
		 */
		if (READ_ONCE(sdev->broken)) {
			drm_info(&sdev->drm, "PCI function reset: bringing the device back into service\n");
			WRITE_ONCE(sdev->broken, false);
			pci_set_master(pdev);
		}
		atomic_inc(&sdev->nr_resets);
		trace_spatten_reset(SPATTEN_RESET_PCI,
				    spatten_dev_recover(sdev));
		spatten_scheds_start(sdev);
	}
	spatten_reset_unlock(sdev);
}

static const struct pci_error_handlers spatten_err_handlers = {
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
	.dev_groups = spatten_dev_groups,
	.driver.pm = pm_ptr(&spatten_pm_ops),
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

static void __exit spatten_exit_wait(atomic_t *live)
{
	while (!wait_var_event_timeout(live, !atomic_read(live), 10 * HZ))
		pr_warn("spatten: unloading: waiting for %d file contexts, %d jobs, %d fences (a sync file or sync object still holds them)\n",
			atomic_read(&spatten_live.ctxs),
			atomic_read(&spatten_live.jobs),
			atomic_read(&spatten_live.fences));
}

static void __exit spatten_exit(void)
{
	pci_unregister_driver(&spatten_pci_driver);
	/*
	 * Jobs of closed files finish after their board's unbind (which
	 * failed the rings), in the schedulers' work; their fences go when
	 * the last holder lets go, which may be another process (a sync
	 * file). Wait for both, then for the work that frees them.
	 */
	spatten_exit_wait(&spatten_live.ctxs);
	spatten_exit_wait(&spatten_live.fences);
	flush_work(&spatten_files_free_worker);
	spatten_fences_flush();
	spatten_debugfs_root_fini();
}
module_exit(spatten_exit);

MODULE_DESCRIPTION(SPATTEN_DRV_DESC);
MODULE_LICENSE("GPL");
