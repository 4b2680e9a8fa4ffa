// SPDX-License-Identifier: GPL-2.0
/*
 * SpAtten driver: buffer objects.
 *
 * A buffer object is a set of individually allocated pages, each mapped for
 * the device, plus a page list (one __le64 bus address per page) that the
 * device walks. Only the page list itself is physically contiguous.
 * Userspace maps a buffer with mmap() at the offset BO_CREATE returned and
 * names it in jobs by handle; it never sees a bus address.
 *
 * BO_IMPORT builds the same structure from user memory instead: the pages
 * are pinned with FOLL_WRITE | FOLL_LONGTERM and charged to the caller's
 * locked_vm (RLIMIT_MEMLOCK) until the last reference goes, when they are
 * unpinned (marked dirty: the device may have written them).
 */
#include <linux/dma-mapping.h>
#include <linux/gfp.h>
#include <linux/mm.h>
#include <linux/sched.h>
#include <linux/sched/mm.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include "spatten_compat.h"
#include "spatten_drv.h"

/* Undo the device mapping of page @i of @bo. */
static void spatten_bo_unmap_page(struct spatten_bo *bo, unsigned long i)
{
	struct spatten_dev *sdev = bo->sdev;

	/*
	 * Callers synced what the CPU needs; a bounce must not clobber the
	 * pages that userspace may still have mapped.
	 */
	dma_unmap_page_attrs(&sdev->pdev->dev, bo->dma[i], PAGE_SIZE,
			     DMA_BIDIRECTIONAL, DMA_ATTR_SKIP_CPU_SYNC);
	xa_erase(&sdev->mapped_pages, page_to_pfn(bo->pages[i]));
}

/* Undo the device mappings of @bo; the pages stay (user mappings). */
static void spatten_bo_unmap_locked(struct spatten_bo *bo)
{
	struct device *dev = &bo->sdev->pdev->dev;
	unsigned long i;

	lockdep_assert_held(&bo->sdev->bo_lock);
	if (!bo->mapped)
		return;

	for (i = 0; i < bo->npages; i++) {
		spatten_bo_unmap_page(bo, i);
		cond_resched();
	}
	dma_free_coherent(dev, bo->npages * sizeof(*bo->list), bo->list,
			  bo->list_dma);
	bo->list = NULL;
	bo->mapped = false;
}

static void spatten_bo_release(struct kref *ref)
{
	struct spatten_bo *bo = container_of(ref, struct spatten_bo, ref);
	struct spatten_dev *sdev = bo->sdev;
	unsigned long i;

	mutex_lock(&sdev->bo_lock);
	list_del(&bo->node);
	spatten_bo_unmap_locked(bo);
	mutex_unlock(&sdev->bo_lock);

	if (bo->mm) {
		unpin_user_pages_dirty_lock(bo->pages, bo->npages, true);
		account_locked_vm(bo->mm, bo->npages, false);
		mmdrop(bo->mm);
	} else {
		for (i = 0; i < bo->npages; i++)
			__free_page(bo->pages[i]);
	}
	atomic_dec(&spatten_live.bos);
	atomic_long_sub(bo->npages, &spatten_live.bo_pages);
	kvfree(bo->dma);
	kvfree(bo->pages);
	kfree(bo);
	spatten_dev_put(sdev);
}

/**
 * spatten_bo_put() - drop a reference to a buffer object
 * @bo: the buffer
 *
 * The last reference frees the buffer. May sleep: never call it under a
 * spinlock.
 */
void spatten_bo_put(struct spatten_bo *bo)
{
	kref_put(&bo->ref, spatten_bo_release);
}

/*
 * A buffer object of @npages pages with its page arrays and the device's
 * page list allocated, no page yet.
 */
static struct spatten_bo *spatten_bo_new(struct spatten_dev *sdev,
					 unsigned long npages)
{
	struct device *dev = &sdev->pdev->dev;
	struct spatten_bo *bo;

	/* The device walks the list in 4 KiB pages: one entry per page. */
	BUILD_BUG_ON(PAGE_SIZE != SPATTEN_HW_PAGE_SIZE);

	/* Charged to the caller's memory cgroup, like the pages. */
	bo = kzalloc(sizeof(*bo), GFP_KERNEL_ACCOUNT);
	if (!bo)
		return NULL;
	kref_init(&bo->ref);
	bo->sdev = sdev;
	bo->size = (u64)npages << PAGE_SHIFT;
	bo->npages = npages;

	bo->pages = kvcalloc(npages, sizeof(*bo->pages), GFP_KERNEL_ACCOUNT);
	bo->dma = kvcalloc(npages, sizeof(*bo->dma), GFP_KERNEL_ACCOUNT);
	if (!bo->pages || !bo->dma)
		goto err;
	bo->list = dma_alloc_coherent(dev, npages * sizeof(*bo->list),
				      &bo->list_dma,
				      GFP_KERNEL | __GFP_NOWARN);
	if (!bo->list)
		goto err;
	atomic_inc(&spatten_live.bos);
	atomic_long_add(npages, &spatten_live.bo_pages);
	return bo;
err:
	kvfree(bo->dma);
	kvfree(bo->pages);
	kfree(bo);
	return NULL;
}

/* Undo spatten_bo_new() (the pages are the caller's business). */
static void spatten_bo_free_arrays(struct spatten_bo *bo)
{
	dma_free_coherent(&bo->sdev->pdev->dev,
			  bo->npages * sizeof(*bo->list), bo->list,
			  bo->list_dma);
	atomic_dec(&spatten_live.bos);
	atomic_long_sub(bo->npages, &spatten_live.bo_pages);
	kvfree(bo->dma);
	kvfree(bo->pages);
	kfree(bo);
}

/*
 * Map page @i of @bo for the device and enter it in the page list.
 * A page already mapped for this board (the same user memory imported
 * twice, or a buffer's own mmap imported) is refused with -EBUSY: two
 * device-writable mappings of one page are undefined under the DMA API,
 * and jobs on the two buffers would race through the caches.
 */
static int spatten_bo_map_page(struct spatten_bo *bo, unsigned long i)
{
	struct spatten_dev *sdev = bo->sdev;
	struct device *dev = &sdev->pdev->dev;
	unsigned long pfn = page_to_pfn(bo->pages[i]);
	dma_addr_t addr;
	int ret;

	ret = xa_insert(&sdev->mapped_pages, pfn, bo, GFP_KERNEL_ACCOUNT);
	if (ret)
		return ret;
	addr = dma_map_page(dev, bo->pages[i], 0, PAGE_SIZE, DMA_BIDIRECTIONAL);
	if (dma_mapping_error(dev, addr)) {
		ret = -ENOMEM;
		goto err_erase;
	}
	if (!IS_ALIGNED(addr, SPATTEN_HW_PAGE_SIZE)) {
		dev_err_ratelimited(dev, "unaligned page mapping %pad\n",
				    &addr);
		dma_unmap_page(dev, addr, PAGE_SIZE, DMA_BIDIRECTIONAL);
		ret = -EIO;
		goto err_erase;
	}
	bo->dma[i] = addr;
	bo->list[i] = cpu_to_le64(addr);
	return 0;

err_erase:
	xa_erase(&sdev->mapped_pages, pfn);
	return ret;
}

static void spatten_bo_unmap_pages(struct spatten_bo *bo, unsigned long n)
{
	while (n--)
		spatten_bo_unmap_page(bo, n);
}

/* Make a fully mapped buffer known to the board. */
static void spatten_bo_publish(struct spatten_bo *bo)
{
	struct spatten_dev *sdev = bo->sdev;

	bo->mapped = true;
	kref_get(&sdev->ref);
	mutex_lock(&sdev->bo_lock);
	list_add_tail(&bo->node, &sdev->bo_list);
	mutex_unlock(&sdev->bo_lock);
}

/**
 * spatten_bo_alloc() - allocate and map a buffer object
 * @sdev: the board, bound and alive
 * @size: bytes, a non-zero multiple of PAGE_SIZE
 *
 * Return: the buffer with one reference, or ERR_PTR(-ENOMEM), -EINTR (fatal
 * signal while allocating) or -EIO (a page mapping the device cannot use).
 */
static struct spatten_bo *spatten_bo_alloc(struct spatten_dev *sdev, u64 size)
{
	gfp_t gfp = GFP_KERNEL_ACCOUNT | __GFP_ZERO;
	struct spatten_bo *bo;
	unsigned long i;
	int ret;

	/* Pages the device can reach directly need no bounce buffers. */
	if (sdev->caps.dma_bits <= 32)
		gfp |= __GFP_DMA32;

	bo = spatten_bo_new(sdev, size >> PAGE_SHIFT);
	if (!bo)
		return ERR_PTR(-ENOMEM);

	for (i = 0; i < bo->npages; i++) {
		if (fatal_signal_pending(current)) {
			ret = -EINTR;
			goto err_pages;
		}
		bo->pages[i] = alloc_page(gfp);
		if (!bo->pages[i]) {
			ret = -ENOMEM;
			goto err_pages;
		}
		ret = spatten_bo_map_page(bo, i);
		if (ret) {
			__free_page(bo->pages[i]);
			goto err_pages;
		}
		cond_resched();
	}
	spatten_bo_publish(bo);
	return bo;

err_pages:
	spatten_bo_unmap_pages(bo, i);
	while (i--)
		__free_page(bo->pages[i]);
	spatten_bo_free_arrays(bo);
	return ERR_PTR(ret);
}

/* Give a new buffer a handle of @ctx; on failure the buffer is dropped. */
static int spatten_bo_add_handle(struct spatten_ctx *ctx, struct spatten_bo *bo,
				 u32 *handle)
{
	int ret;

	ret = xa_alloc(&ctx->bos, handle, bo,
		       XA_LIMIT(1, SPATTEN_MAX_HANDLES), GFP_KERNEL);
	if (ret) {
		spatten_bo_put(bo);
		return ret == -EBUSY ? -ENOSPC : ret;
	}
	return 0;
}

/* Undo spatten_bo_add_handle() after a failed copy_to_user(). */
static void spatten_bo_drop_handle(struct spatten_ctx *ctx, u32 handle)
{
	struct spatten_bo *bo;

	/* Another thread may have destroyed the handle already. */
	bo = xa_erase(&ctx->bos, handle);
	if (bo)
		spatten_bo_put(bo);
}

/**
 * spatten_ioctl_bo_import() - SPATTEN_IOCTL_BO_IMPORT
 * @ctx: the file
 * @arg: user pointer to struct spatten_bo_import
 *
 * Pins the pages (FOLL_WRITE | FOLL_LONGTERM) after charging them to the
 * caller's locked_vm; a partial pin is undone and fails.
 *
 * Return: 0; -EFAULT (struct unreadable, range not mapped, or mapped
 * read-only); -EINVAL for non-zero flags or rsvd, an unaligned pointer or
 * size, a zero size or one above SPATTEN_MAX_BO_SIZE; -EBUSY when a page
 * of the range is already a buffer of this board (imported before, or a
 * mapping of a buffer); -ENOMEM (out of memory, or RLIMIT_MEMLOCK
 * exceeded); -ENOSPC (no free handle); other errors of
 * pin_user_pages_fast().
 */
int spatten_ioctl_bo_import(struct spatten_ctx *ctx, void __user *arg)
{
	struct spatten_bo_import args;
	struct mm_struct *mm = current->mm;
	struct spatten_bo *bo;
	unsigned long npages, i;
	long pinned = 0;
	int ret;

	if (copy_from_user(&args, arg, sizeof(args)))
		return -EFAULT;
	if (args.flags || args.rsvd)
		return -EINVAL;
	if (!args.size || args.size > SPATTEN_MAX_BO_SIZE ||
	    !PAGE_ALIGNED(args.size) || !PAGE_ALIGNED(args.user_ptr))
		return -EINVAL;
	if (!mm)
		return -EFAULT;
	if (!access_ok(u64_to_user_ptr(args.user_ptr), args.size))
		return -EFAULT;
	npages = args.size >> PAGE_SHIFT;

	bo = spatten_bo_new(ctx->sdev, npages);
	if (!bo)
		return -ENOMEM;

	ret = account_locked_vm(mm, npages, true);
	if (ret)
		goto err_free;
	mmgrab(mm);
	bo->mm = mm;

	pinned = pin_user_pages_fast(args.user_ptr, npages,
				     FOLL_WRITE | FOLL_LONGTERM, bo->pages);
	if (pinned < 0) {
		ret = pinned;
		pinned = 0;
		goto err_unpin;
	}
	if (pinned != npages) {
		ret = -EFAULT;
		goto err_unpin;
	}

	for (i = 0; i < npages; i++) {
		ret = spatten_bo_map_page(bo, i);
		if (ret) {
			spatten_bo_unmap_pages(bo, i);
			goto err_unpin;
		}
		cond_resched();
	}
	spatten_bo_publish(bo);

	ret = spatten_bo_add_handle(ctx, bo, &args.handle);
	if (ret)
		return ret;
	if (copy_to_user(arg, &args, sizeof(args))) {
		spatten_bo_drop_handle(ctx, args.handle);
		return -EFAULT;
	}
	return 0;

err_unpin:
	unpin_user_pages(bo->pages, pinned);
	account_locked_vm(mm, npages, false);
	mmdrop(mm);
err_free:
	spatten_bo_free_arrays(bo);
	return ret;
}

/**
 * spatten_ioctl_bo_create() - SPATTEN_IOCTL_BO_CREATE
 * @ctx: the file
 * @arg: user pointer to struct spatten_bo_create
 *
 * Return: 0; -EFAULT; -EINVAL for non-zero flags or rsvd, a zero size or
 * one above SPATTEN_MAX_BO_SIZE; -ENOMEM; -EINTR on a fatal signal; -ENOSPC
 * when the file has no free handle.
 */
int spatten_ioctl_bo_create(struct spatten_ctx *ctx, void __user *arg)
{
	struct spatten_bo_create args;
	struct spatten_bo *bo;
	u32 handle;
	int ret;

	if (copy_from_user(&args, arg, sizeof(args)))
		return -EFAULT;
	if (args.flags || args.rsvd)
		return -EINVAL;
	if (!args.size || args.size > SPATTEN_MAX_BO_SIZE)
		return -EINVAL;

	bo = spatten_bo_alloc(ctx->sdev, PAGE_ALIGN(args.size));
	if (IS_ERR(bo))
		return PTR_ERR(bo);

	ret = spatten_bo_add_handle(ctx, bo, &handle);
	if (ret)
		return ret;

	args.handle = handle;
	args.mmap_offset = (u64)handle << SPATTEN_MMAP_SHIFT;
	if (copy_to_user(arg, &args, sizeof(args))) {
		spatten_bo_drop_handle(ctx, handle);
		return -EFAULT;
	}
	return 0;
}

/**
 * spatten_ioctl_bo_destroy() - SPATTEN_IOCTL_BO_DESTROY
 * @ctx: the file
 * @arg: user pointer to struct spatten_bo_destroy
 *
 * Drops the handle. Jobs in flight and mappings keep the memory alive.
 *
 * Return: 0; -EFAULT; -EINVAL for non-zero flags; -ENOENT for a handle
 * that this file does not have.
 */
int spatten_ioctl_bo_destroy(struct spatten_ctx *ctx, void __user *arg)
{
	struct spatten_bo_destroy args;
	struct spatten_bo *bo;

	if (copy_from_user(&args, arg, sizeof(args)))
		return -EFAULT;
	if (args.flags)
		return -EINVAL;

	bo = xa_erase(&ctx->bos, args.handle);
	if (!bo)
		return -ENOENT;
	spatten_bo_put(bo);
	return 0;
}

/**
 * spatten_bo_lookup() - find a buffer of this file by handle
 * @ctx: the file
 * @handle: user-supplied handle
 *
 * Return: the buffer with a new reference, or NULL.
 */
struct spatten_bo *spatten_bo_lookup(struct spatten_ctx *ctx, u32 handle)
{
	struct spatten_bo *bo;

	xa_lock(&ctx->bos);
	bo = xa_load(&ctx->bos, handle);
	if (bo)
		kref_get(&bo->ref);
	xa_unlock(&ctx->bos);
	return bo;
}

/**
 * spatten_ctx_destroy_bos() - drop every handle of a file being closed
 * @ctx: the file
 */
void spatten_ctx_destroy_bos(struct spatten_ctx *ctx)
{
	struct spatten_bo *bo;
	unsigned long handle;

	xa_for_each(&ctx->bos, handle, bo) {
		xa_erase(&ctx->bos, handle);
		spatten_bo_put(bo);
	}
}

/**
 * spatten_bo_sync() - hand a byte range of a buffer to the CPU or device
 * @bo: the buffer, mapped
 * @off: first byte
 * @len: bytes; @off + @len is within the buffer
 * @for_cpu: true: dma_sync_*_for_cpu, false: dma_sync_*_for_device
 * @dir: DMA_TO_DEVICE (device reads) or DMA_FROM_DEVICE (device writes)
 *
 * Exactly the range is synced, so bounce buffering never copies stale
 * bytes over neighbouring data.
 */
void spatten_bo_sync(struct spatten_bo *bo, u64 off, u64 len, bool for_cpu,
		     enum dma_data_direction dir)
{
	struct device *dev = &bo->sdev->pdev->dev;

	while (len) {
		unsigned long i = off >> PAGE_SHIFT;
		unsigned long in = off & ~PAGE_MASK;
		unsigned long chunk = min_t(u64, len, PAGE_SIZE - in);

		if (for_cpu)
			dma_sync_single_range_for_cpu(dev, bo->dma[i], in,
						      chunk, dir);
		else
			dma_sync_single_range_for_device(dev, bo->dma[i], in,
							 chunk, dir);
		off += chunk;
		len -= chunk;
	}
}

/**
 * spatten_bos_unmap_all() - undo the device mappings of every buffer
 * @sdev: the board, being removed: the device is stopped and no job runs
 *
 * Buffers still referenced by handles or mappings keep their pages; the
 * last reference frees them later.
 */
void spatten_bos_unmap_all(struct spatten_dev *sdev)
{
	struct spatten_bo *bo;

	mutex_lock(&sdev->bo_lock);
	list_for_each_entry(bo, &sdev->bo_list, node)
		spatten_bo_unmap_locked(bo);
	mutex_unlock(&sdev->bo_lock);
}

static void spatten_vm_open(struct vm_area_struct *vma)
{
	struct spatten_bo *bo = vma->vm_private_data;

	kref_get(&bo->ref);
}

static void spatten_vm_close(struct vm_area_struct *vma)
{
	spatten_bo_put(vma->vm_private_data);
}

static const struct vm_operations_struct spatten_vm_ops = {
	.open = spatten_vm_open,
	.close = spatten_vm_close,
};

/**
 * spatten_mmap() - map (part of) a buffer object
 * @file: the file that owns the buffer
 * @vma: offset handle << SPATTEN_MMAP_SHIFT plus a page offset into the
 *	buffer; length within the buffer
 *
 * Return: 0; -EINVAL for a private mapping, an unknown handle, an imported
 * buffer or a range outside the buffer; -ENODEV once the device is gone.
 */
int spatten_mmap(struct file *file, struct vm_area_struct *vma)
{
	struct spatten_ctx *ctx = file->private_data;
	unsigned long handle = vma->vm_pgoff >> SPATTEN_MMAP_PGSHIFT;
	unsigned long first = vma->vm_pgoff & (BIT(SPATTEN_MMAP_PGSHIFT) - 1);
	unsigned long count = vma_pages(vma);
	struct spatten_bo *bo;
	int ret;

	/*
	 * No rwsem here: mmap_lock is held, and ioctls fault on user memory
	 * while holding the rwsem. Mapping our own pages after an unplug
	 * would be harmless anyway.
	 */
	if (READ_ONCE(ctx->sdev->dead))
		return -ENODEV;
	if (!(vma->vm_flags & VM_SHARED))
		return -EINVAL;
	if (!handle || handle > SPATTEN_MAX_HANDLES)
		return -EINVAL;

	bo = spatten_bo_lookup(ctx, handle);
	if (!bo)
		return -EINVAL;
	/* Imported memory is mapped by its owner already. */
	if (bo->mm || first >= bo->npages || count > bo->npages - first) {
		ret = -EINVAL;
		goto err_put;
	}

	spatten_vm_flags_set(vma, VM_DONTEXPAND | VM_DONTDUMP);
	ret = vm_map_pages_zero(vma, bo->pages + first, count);
	if (ret)
		goto err_put;

	/* The lookup reference now belongs to the VMA. */
	vma->vm_private_data = bo;
	vma->vm_ops = &spatten_vm_ops;
	return 0;

err_put:
	spatten_bo_put(bo);
	return ret;
}
