// SPDX-License-Identifier: GPL-2.0
/*
 * SpAtten driver: buffer objects.
 *
 * Three kinds, one device view (struct spatten_devmap): shmem GEM objects
 * from BO_CREATE, PRIME imports of other devices' buffers, and pinned user
 * memory from BO_USERPTR. The device reads a page list of bus addresses;
 * only that list is physically contiguous.
 */
#include <linux/dma-buf.h>
#include <linux/dma-mapping.h>
#include <linux/hugetlb.h>
#include <linux/magic.h>
#include <linux/mm.h>
#include <linux/sched/mm.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include <drm/drm_drv.h>
#include <drm/drm_prime.h>

#include "spatten_compat.h"
#include "spatten_drv.h"
#include "spatten_gem.h"

static void spatten_devmap_unmap_locked(struct spatten_device *sdev,
					struct spatten_devmap *map)
{
	struct device *dev = sdev->drm.dev;

	lockdep_assert_held(&sdev->bo_lock);
	if (!map->mapped)
		return;
	list_del(&map->node);
	if (map->own_sgt) {
		dma_unmap_sgtable(dev, map->sgt, DMA_BIDIRECTIONAL, 0);
		sg_free_table(map->sgt);
		kfree(map->sgt);
	}
	map->sgt = NULL;
	dma_free_coherent(dev, map->npages * sizeof(__le64), map->list,
			  map->list_dma);
	map->list = NULL;
	map->mapped = false;
	atomic_long_sub(map->npages, &spatten_live.bo_pages);
}

static void spatten_devmap_unmap(struct spatten_device *sdev,
				 struct spatten_devmap *map)
{
	mutex_lock(&sdev->bo_lock);
	spatten_devmap_unmap_locked(sdev, map);
	mutex_unlock(&sdev->bo_lock);
}

/* Whether any page of a mapped table needs explicit syncs. */
static bool spatten_sgt_need_sync(struct spatten_device *sdev,
				  struct sg_table *sgt)
{
	struct scatterlist *sg;
	unsigned int i;

	for_each_sgtable_dma_sg(sgt, sg, i)
		if (dma_need_sync(sdev->drm.dev, sg_dma_address(sg)))
			return true;
	return false;
}

/*
 * Build the page list of @sgt (already DMA-mapped) and publish the map.
 * Called with the board's @bo_lock held.
 */
static int spatten_devmap_publish(struct spatten_device *sdev,
				  struct spatten_devmap *map,
				  struct sg_table *sgt, bool own_sgt,
				  size_t size)
{
	struct sg_dma_page_iter iter;
	unsigned long i = 0;

	lockdep_assert_held(&sdev->bo_lock);
	/* The device walks the list in 4 KiB pages: one entry per page. */
	BUILD_BUG_ON(PAGE_SIZE != SPATTEN_HW_PAGE_SIZE);

	if (sdev->unplugged)
		return -ENODEV;
	map->npages = size >> PAGE_SHIFT;
	map->list = dma_alloc_coherent(sdev->drm.dev,
				       map->npages * sizeof(__le64),
				       &map->list_dma, GFP_KERNEL);
	if (!map->list)
		return -ENOMEM;
	for_each_sgtable_dma_page(sgt, &iter, 0) {
		if (i == map->npages)
			break;
		map->list[i++] = cpu_to_le64(sg_page_iter_dma_address(&iter));
	}
	if (i != map->npages) {
		dma_free_coherent(sdev->drm.dev, map->npages * sizeof(__le64),
				  map->list, map->list_dma);
		map->list = NULL;
		return -EINVAL;
	}
	map->sgt = sgt;
	map->own_sgt = own_sgt;
	map->need_sync = own_sgt && spatten_sgt_need_sync(sdev, sgt);
	map->mapped = true;
	list_add_tail(&map->node, &sdev->bo_list);
	atomic_long_add(map->npages, &spatten_live.bo_pages);
	return 0;
}

/* Map an sg table of our own pages for the device and publish it. */
static int spatten_devmap_map(struct spatten_device *sdev,
			      struct spatten_devmap *map,
			      struct sg_table *sgt, size_t size)
{
	int ret;

	ret = dma_map_sgtable(sdev->drm.dev, sgt, DMA_BIDIRECTIONAL, 0);
	if (ret)
		return ret == -ENOMEM ? -ENOMEM : -EIO;
	mutex_lock(&sdev->bo_lock);
	ret = spatten_devmap_publish(sdev, map, sgt, true, size);
	mutex_unlock(&sdev->bo_lock);
	if (ret)
		dma_unmap_sgtable(sdev->drm.dev, sgt, DMA_BIDIRECTIONAL, 0);
	return ret;
}

/* ---- shmem objects and PRIME imports ---------------------------------- */

static void spatten_bo_free(struct drm_gem_object *obj)
{
	struct spatten_bo *bo = container_of(to_drm_gem_shmem_obj(obj),
					     struct spatten_bo, shmem);
	struct spatten_device *sdev = to_spatten_device(obj->dev);

	spatten_devmap_unmap(sdev, &bo->map);
	if (bo->pinned)
		drm_gem_shmem_unpin(&bo->shmem);
	atomic_dec(&spatten_live.bos);
	drm_gem_shmem_free(&bo->shmem);
}

static const struct drm_gem_object_funcs spatten_bo_funcs = {
	.free = spatten_bo_free,
	.print_info = drm_gem_shmem_object_print_info,
	.pin = drm_gem_shmem_object_pin,
	.unpin = drm_gem_shmem_object_unpin,
	.get_sg_table = drm_gem_shmem_object_get_sg_table,
	.vmap = drm_gem_shmem_object_vmap,
	.vunmap = drm_gem_shmem_object_vunmap,
	.mmap = drm_gem_shmem_object_mmap,
	.vm_ops = &drm_gem_shmem_vm_ops,
};

/**
 * spatten_gem_create_object() - drm_driver.gem_create_object: allocate
 * the driver's shmem object (BO_CREATE and PRIME imports)
 * @drm: the DRM device
 * @size: bytes
 *
 * Return: the embedded GEM object, or an ERR_PTR().
 */
struct drm_gem_object *spatten_gem_create_object(struct drm_device *drm,
						 size_t size)
{
	struct spatten_bo *bo;

	/* Charged to the caller's memory cgroup, like the pages. */
	bo = kzalloc(sizeof(*bo), GFP_KERNEL_ACCOUNT);
	if (!bo)
		return ERR_PTR(-ENOMEM);
	bo->shmem.base.funcs = &spatten_bo_funcs;
	INIT_LIST_HEAD(&bo->map.node);
	return &bo->shmem.base;
}

/* Pin a created buffer's pages (zeroed by shmem) and map them. */
static int spatten_bo_map_shmem(struct spatten_device *sdev,
				struct spatten_bo *bo)
{
	struct drm_gem_shmem_object *shmem = &bo->shmem;
	struct sg_table *sgt;
	int ret;

	ret = drm_gem_shmem_pin(shmem);
	if (ret)
		return ret;
	sgt = drm_gem_shmem_get_sg_table(shmem);
	if (IS_ERR(sgt)) {
		ret = PTR_ERR(sgt);
		goto err_unpin;
	}
	ret = spatten_devmap_map(sdev, &bo->map, sgt, shmem->base.size);
	if (ret)
		goto err_free_sgt;
	bo->pinned = true;
	return 0;

err_free_sgt:
	sg_free_table(sgt);
	kfree(sgt);
err_unpin:
	drm_gem_shmem_unpin(shmem);
	return ret;
}

/**
 * spatten_gem_prime_import_sg_table() - drm_driver.gem_prime_import_sg_table
 * @drm: the DRM device
 * @attach: the attachment to another device's dma-buf
 * @sgt: its DMA mapping for this device
 *
 * Return: a shmem GEM object over the import, or an ERR_PTR().
 */
struct drm_gem_object *
spatten_gem_prime_import_sg_table(struct drm_device *drm,
				  struct dma_buf_attachment *attach,
				  struct sg_table *sgt)
{
	struct drm_gem_object *obj;

	obj = drm_gem_shmem_prime_import_sg_table(drm, attach, sgt);
	if (!IS_ERR(obj))
		atomic_inc(&spatten_live.bos);
	return obj;
}

/* ---- user pointers ---------------------------------------------------- */

/*
 * Long-term pins are charged to the owner's pinned_vm (VmPin), against
 * RLIMIT_MEMLOCK, as RDMA and io_uring do: an atomic counter, so the charge
 * can be given back from any path that drops the last reference (a job's
 * free_job, a file close) without the owner's mmap lock, which
 * account_locked_vm() would take.
 */
static int spatten_pin_charge(struct mm_struct *mm, unsigned long npages)
{
	unsigned long limit = rlimit(RLIMIT_MEMLOCK) >> PAGE_SHIFT;

	if ((u64)atomic64_add_return(npages, &mm->pinned_vm) > limit &&
	    !capable(CAP_IPC_LOCK)) {
		atomic64_sub(npages, &mm->pinned_vm);
		return -ENOMEM;
	}
	return 0;
}

static void spatten_pin_uncharge(struct mm_struct *mm, unsigned long npages)
{
	atomic64_sub(npages, &mm->pinned_vm);
}

static void spatten_userptr_forget_pages(struct spatten_device *sdev,
					 struct spatten_userptr *ubo,
					 unsigned long n)
{
	unsigned long i;

	for (i = 0; i < n; i++)
		xa_cmpxchg(&sdev->user_pages, page_to_pfn(ubo->pages[i]), ubo,
			   NULL, 0);
}

static void spatten_userptr_free(struct drm_gem_object *obj)
{
	struct spatten_userptr *ubo = container_of(obj, struct spatten_userptr,
						   base);
	struct spatten_device *sdev = to_spatten_device(obj->dev);

	unsigned long npages = obj->size >> PAGE_SHIFT;

	spatten_devmap_unmap(sdev, &ubo->map);
	spatten_userptr_forget_pages(sdev, ubo, npages);
	drm_gem_object_release(obj);
	/* The device may have written any page. */
	unpin_user_pages_dirty_lock(ubo->pages, npages, true);
	spatten_pin_uncharge(ubo->mm, npages);
	mmdrop(ubo->mm);
	kvfree(ubo->pages);
	atomic_dec(&spatten_live.bos);
	kfree(ubo);
}

/* The memory is the caller's already: share it with the other device directly. */
static struct dma_buf *spatten_userptr_export(struct drm_gem_object *obj,
					      int flags)
{
	return ERR_PTR(-EOPNOTSUPP);
}

static const struct drm_gem_object_funcs spatten_userptr_funcs = {
	.free = spatten_userptr_free,
	.export = spatten_userptr_export,
};

/*
 * Only memory without writeback may be pinned for device writes: anonymous,
 * shmem (tmpfs, memfd, SysV shm) and hugetlb. A shared mapping of any other
 * file is refused; a private one is copied on write by the pin.
 */
static int spatten_userptr_check_vmas(struct mm_struct *mm, u64 start,
				      u64 size)
{
	u64 end = start + size, addr = start;
	struct vm_area_struct *vma;

	while (addr < end) {
		vma = vma_lookup(mm, addr);
		if (!vma)
			return -EFAULT;
		if (!(vma->vm_flags & VM_WRITE) ||
		    (vma->vm_flags & (VM_IO | VM_PFNMAP)))
			return -EFAULT;
		if ((vma->vm_flags & VM_SHARED) && !is_vm_hugetlb_page(vma) &&
		    !vma_is_anonymous(vma) &&
		    (!vma->vm_file ||
		     file_inode(vma->vm_file)->i_sb->s_magic != TMPFS_MAGIC))
			return -EOPNOTSUPP;
		addr = vma->vm_end;
	}
	return 0;
}

/* Check the VMAs and pin, under one hold of the mmap lock. */
static int spatten_userptr_pin(struct spatten_userptr *ubo, u64 start,
			       unsigned long npages)
{
	struct mm_struct *mm = current->mm;
	long pinned;
	int ret;

	if (mmap_read_lock_killable(mm))
		return -EINTR;
	ret = spatten_userptr_check_vmas(mm, start, (u64)npages << PAGE_SHIFT);
	if (ret) {
		mmap_read_unlock(mm);
		return ret;
	}
	pinned = spatten_pin_user_pages(start, npages,
					FOLL_WRITE | FOLL_LONGTERM,
					ubo->pages);
	mmap_read_unlock(mm);
	if (pinned == npages)
		return 0;
	if (pinned > 0)
		unpin_user_pages(ubo->pages, pinned);
	return pinned < 0 ? pinned : -EFAULT;
}

/* Claim every page for @ubo: a page is in one user-pointer buffer at most. */
static int spatten_userptr_claim_pages(struct spatten_device *sdev,
				       struct spatten_userptr *ubo,
				       unsigned long npages)
{
	unsigned long i;
	int ret;

	for (i = 0; i < npages; i++) {
		ret = xa_insert(&sdev->user_pages, page_to_pfn(ubo->pages[i]),
				ubo, GFP_KERNEL_ACCOUNT);
		if (ret) {
			spatten_userptr_forget_pages(sdev, ubo, i);
			return ret;
		}
	}
	return 0;
}

static int spatten_userptr_map(struct spatten_device *sdev,
			       struct spatten_userptr *ubo,
			       unsigned long npages)
{
	struct sg_table *sgt;
	int ret;

	sgt = kzalloc(sizeof(*sgt), GFP_KERNEL_ACCOUNT);
	if (!sgt)
		return -ENOMEM;
	ret = sg_alloc_table_from_pages(sgt, ubo->pages, npages, 0,
					(u64)npages << PAGE_SHIFT,
					GFP_KERNEL_ACCOUNT);
	if (ret)
		goto err_free;
	ret = spatten_devmap_map(sdev, &ubo->map, sgt,
				 (size_t)npages << PAGE_SHIFT);
	if (ret)
		goto err_table;
	return 0;

err_table:
	sg_free_table(sgt);
err_free:
	kfree(sgt);
	return ret;
}

/*
 * Pin the caller's pages, charged to its locked memory. No device lock is
 * held: a page fault here may wait forever (userfaultfd) without blocking
 * an unbind or other clients.
 */
static struct spatten_userptr *spatten_userptr_pin_range(u64 start, u64 size)
{
	unsigned long npages = size >> PAGE_SHIFT;
	struct mm_struct *mm = current->mm;
	struct spatten_userptr *ubo;
	int ret;

	ubo = kzalloc(sizeof(*ubo), GFP_KERNEL_ACCOUNT);
	if (!ubo)
		return ERR_PTR(-ENOMEM);
	INIT_LIST_HEAD(&ubo->map.node);
	ubo->pages = kvcalloc(npages, sizeof(*ubo->pages), GFP_KERNEL_ACCOUNT);
	if (!ubo->pages) {
		ret = -ENOMEM;
		goto err_free;
	}
	ret = spatten_pin_charge(mm, npages);
	if (ret)
		goto err_free;
	ret = spatten_userptr_pin(ubo, start, npages);
	if (ret)
		goto err_uncharge;
	mmgrab(mm);
	ubo->mm = mm;
	return ubo;

err_uncharge:
	spatten_pin_uncharge(mm, npages);
err_free:
	kvfree(ubo->pages);
	kfree(ubo);
	return ERR_PTR(ret);
}

/* Undo spatten_userptr_pin_range() of a buffer that never became a GEM object. */
static void spatten_userptr_unpin_range(struct spatten_userptr *ubo,
					unsigned long npages)
{
	unpin_user_pages(ubo->pages, npages);
	spatten_pin_uncharge(ubo->mm, npages);
	mmdrop(ubo->mm);
	kvfree(ubo->pages);
	kfree(ubo);
}

/* Make pinned pages a buffer of the board; called inside drm_dev_enter(). */
static int spatten_userptr_attach(struct spatten_device *sdev,
				  struct spatten_userptr *ubo, u64 size)
{
	unsigned long npages = size >> PAGE_SHIFT;
	int ret;

	ret = spatten_userptr_claim_pages(sdev, ubo, npages);
	if (ret)
		return ret;
	ret = spatten_userptr_map(sdev, ubo, npages);
	if (ret) {
		spatten_userptr_forget_pages(sdev, ubo, npages);
		return ret;
	}
	ubo->base.funcs = &spatten_userptr_funcs;
	drm_gem_private_object_init(&sdev->drm, &ubo->base, size);
	atomic_inc(&spatten_live.bos);
	return 0;
}

/* ---- the device view of any buffer ------------------------------------ */

/**
 * spatten_gem_devmap() - the device mapping of a buffer of this driver
 * @obj: a GEM object of the board
 *
 * Return: its struct spatten_devmap, or NULL for a foreign object.
 */
struct spatten_devmap *spatten_gem_devmap(struct drm_gem_object *obj)
{
	if (obj->funcs == &spatten_bo_funcs)
		return &container_of(to_drm_gem_shmem_obj(obj),
				     struct spatten_bo, shmem)->map;
	if (obj->funcs == &spatten_userptr_funcs)
		return &container_of(obj, struct spatten_userptr, base)->map;
	return NULL;
}

/**
 * spatten_gem_map_for_device() - make sure the device can reach a buffer
 * @obj: a GEM object of the board
 *
 * Created and user-pointer buffers are mapped when they are made; a PRIME
 * import of another device's buffer gets its page list on first use, from
 * the import's own DMA mapping.
 *
 * Return: 0, -ENODEV after an unplug, -ENOMEM, -EINVAL.
 */
int spatten_gem_map_for_device(struct drm_gem_object *obj)
{
	struct spatten_device *sdev = to_spatten_device(obj->dev);
	struct spatten_devmap *map = spatten_gem_devmap(obj);
	int ret = 0;

	if (!map)
		return -EINVAL;
	if (READ_ONCE(map->mapped))
		return 0;

	mutex_lock(&sdev->bo_lock);
	if (!map->mapped) {
		struct drm_gem_shmem_object *shmem = to_drm_gem_shmem_obj(obj);

		if (obj->import_attach && shmem->sgt)
			ret = spatten_devmap_publish(sdev, map, shmem->sgt,
						     false, obj->size);
		else
			ret = -ENODEV;	/* unmapped by an unplug */
	}
	mutex_unlock(&sdev->bo_lock);
	return ret;
}

/**
 * spatten_gem_sync() - hand a buffer's pages to the device or back
 * @obj: a GEM object of the board, mapped
 * @for_cpu: after the device used it (else before)
 *
 * PRIME imports are left to their exporter. Safe in any context.
 */
void spatten_gem_sync(struct drm_gem_object *obj, bool for_cpu)
{
	struct spatten_devmap *map = spatten_gem_devmap(obj);
	struct device *dev = obj->dev->dev;

	if (!map || !map->need_sync || !READ_ONCE(map->mapped))
		return;
	if (for_cpu)
		dma_sync_sgtable_for_cpu(dev, map->sgt, DMA_BIDIRECTIONAL);
	else
		dma_sync_sgtable_for_device(dev, map->sgt, DMA_BIDIRECTIONAL);
}

/**
 * spatten_gem_unmap_all() - undo every device mapping of a board
 * @sdev: the board, stopped: no DMA any more
 *
 * The buffers stay usable from the CPU; later submits fail with -ENODEV.
 */
void spatten_gem_unmap_all(struct spatten_device *sdev)
{
	struct spatten_devmap *map, *tmp;

	mutex_lock(&sdev->bo_lock);
	list_for_each_entry_safe(map, tmp, &sdev->bo_list, node)
		spatten_devmap_unmap_locked(sdev, map);
	mutex_unlock(&sdev->bo_lock);
}

/* ---- ioctls ----------------------------------------------------------- */

/**
 * spatten_ioctl_bo_create() - DRM_IOCTL_SPATTEN_BO_CREATE
 * @drm: the DRM device
 * @data: struct drm_spatten_bo_create
 * @file: the caller's file
 *
 * Return: 0, -EINVAL, -ENOMEM, -ENODEV or another error of the DRM core.
 */
int spatten_ioctl_bo_create(struct drm_device *drm, void *data,
			    struct drm_file *file)
{
	struct spatten_device *sdev = to_spatten_device(drm);
	struct drm_spatten_bo_create *args = data;
	struct drm_gem_shmem_object *shmem;
	struct spatten_bo *bo;
	int ret;

	if (args->flags || !args->size || args->size > SPATTEN_MAX_BO_SIZE)
		return -EINVAL;

	shmem = drm_gem_shmem_create(drm, PAGE_ALIGN(args->size));
	if (IS_ERR(shmem))
		return PTR_ERR(shmem);
	/* Counted once created: a failed create frees it without .free. */
	atomic_inc(&spatten_live.bos);
	bo = container_of(shmem, struct spatten_bo, shmem);

	ret = spatten_bo_map_shmem(sdev, bo);
	if (!ret)
		ret = drm_gem_create_mmap_offset(&shmem->base);
	if (!ret)
		ret = drm_gem_handle_create(file, &shmem->base, &args->handle);
	if (!ret)
		args->mmap_offset = drm_vma_node_offset_addr(&shmem->base.vma_node);
	/* The handle, if any, holds the object now. */
	drm_gem_object_put(&shmem->base);
	spatten_dbg(sdev, BO, "bo create %llu bytes: %d\n", args->size, ret);
	return ret;
}

/**
 * spatten_ioctl_bo_userptr() - DRM_IOCTL_SPATTEN_BO_USERPTR
 * @drm: the DRM device
 * @data: struct drm_spatten_bo_userptr
 * @file: the caller's file
 *
 * Return: 0; -EINVAL (flags, alignment, size); -EFAULT (not mapped,
 * read-only, not user memory); -EOPNOTSUPP (a shared file mapping);
 * -EBUSY (a page already in a user-pointer buffer of the board); -ENOMEM
 * (RLIMIT_MEMLOCK or memory); -EINTR.
 */
int spatten_ioctl_bo_userptr(struct drm_device *drm, void *data,
			     struct drm_file *file)
{
	struct spatten_device *sdev = to_spatten_device(drm);
	struct drm_spatten_bo_userptr *args = data;
	struct spatten_userptr *ubo;
	int ret, idx;

	if (args->flags || !args->size || args->size > SPATTEN_MAX_BO_SIZE ||
	    !PAGE_ALIGNED(args->size) || !PAGE_ALIGNED(args->user_ptr))
		return -EINVAL;
	if (!current->mm ||
	    !access_ok(u64_to_user_ptr(args->user_ptr), args->size))
		return -EFAULT;

	ubo = spatten_userptr_pin_range(args->user_ptr, args->size);
	if (IS_ERR(ubo))
		return PTR_ERR(ubo);
	if (!drm_dev_enter(drm, &idx)) {
		spatten_userptr_unpin_range(ubo, args->size >> PAGE_SHIFT);
		return -ENODEV;
	}
	ret = spatten_userptr_attach(sdev, ubo, args->size);
	drm_dev_exit(idx);
	if (ret) {
		spatten_userptr_unpin_range(ubo, args->size >> PAGE_SHIFT);
		return ret;
	}
	ret = drm_gem_handle_create(file, &ubo->base, &args->handle);
	drm_gem_object_put(&ubo->base);
	spatten_dbg(sdev, BO, "bo userptr %llu bytes: %d\n", args->size, ret);
	return ret;
}

/**
 * spatten_ioctl_bo_info() - DRM_IOCTL_SPATTEN_BO_INFO
 * @drm: the DRM device
 * @data: struct drm_spatten_bo_info
 * @file: the caller's file
 *
 * Return: 0, -EINVAL (flags), -ENOENT (no such handle), -ENOMEM.
 */
int spatten_ioctl_bo_info(struct drm_device *drm, void *data,
			  struct drm_file *file)
{
	struct drm_spatten_bo_info *args = data;
	struct drm_gem_object *obj;
	int ret = 0;

	if (args->flags)
		return -EINVAL;
	obj = drm_gem_object_lookup(file, args->handle);
	if (!obj)
		return -ENOENT;

	args->size = obj->size;
	args->rsvd = 0;
	args->mmap_offset = 0;
	if (obj->funcs == &spatten_userptr_funcs) {
		args->kind = DRM_SPATTEN_BO_USER;
	} else {
		args->kind = obj->import_attach ? DRM_SPATTEN_BO_IMPORTED :
						  DRM_SPATTEN_BO_SHMEM;
		ret = drm_gem_create_mmap_offset(obj);
		if (!ret)
			args->mmap_offset =
				drm_vma_node_offset_addr(&obj->vma_node);
	}
	drm_gem_object_put(obj);
	return ret;
}

