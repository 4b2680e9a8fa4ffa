/* SPDX-License-Identifier: GPL-2.0 */
/*
 * SpAtten driver: buffer objects (GEM).
 */
#ifndef SPATTEN_GEM_H
#define SPATTEN_GEM_H

#include <linux/dma-direction.h>
#include <linux/mm_types.h>
#include <linux/scatterlist.h>

#include <drm/drm_gem.h>
#include <drm/drm_gem_shmem_helper.h>

struct spatten_device;

/**
 * struct spatten_devmap - what the device sees of a buffer: its pages'
 * bus addresses and the page list the device walks
 * @node: on the board's @bo_list while @mapped
 * @sgt: the DMA-mapped pages (owned unless the buffer is a PRIME import)
 * @own_sgt: @sgt was mapped by this driver and is unmapped by it
 * @need_sync: @own_sgt and the DMA layer needs syncs for some page of it
 *	(bounce buffers, a non-coherent device); else jobs skip them
 * @list: page list, one __le64 bus address per page (coherent DMA)
 * @list_dma: bus address of @list
 * @npages: pages of the buffer
 * @mapped: @list and @sgt are valid; protected by the board's @bo_lock
 */
struct spatten_devmap {
	struct list_head node;
	struct sg_table *sgt;
	bool own_sgt;
	bool need_sync;
	__le64 *list;
	dma_addr_t list_dma;
	unsigned long npages;
	bool mapped;
};

/**
 * struct spatten_bo - a buffer from BO_CREATE, or a PRIME import
 * @shmem: the shmem GEM object
 * @map: its device mapping
 * @pinned: its pages are pinned for the device (created buffers), until
 *	it is freed, even when an unplug unmapped them
 */
struct spatten_bo {
	struct drm_gem_shmem_object shmem;
	struct spatten_devmap map;
	bool pinned;
};

/**
 * struct spatten_userptr - a buffer made of pinned user memory
 * @base: the GEM object (no backing store of its own)
 * @map: its device mapping
 * @pages: the pinned pages
 * @mm: the address space whose pinned_vm was charged (a reference is held)
 */
struct spatten_userptr {
	struct drm_gem_object base;
	struct spatten_devmap map;
	struct page **pages;
	struct mm_struct *mm;
};

struct drm_gem_object *spatten_gem_create_object(struct drm_device *drm,
						 size_t size);
struct drm_gem_object *
spatten_gem_prime_import_sg_table(struct drm_device *drm,
				  struct dma_buf_attachment *attach,
				  struct sg_table *sgt);
struct spatten_devmap *spatten_gem_devmap(struct drm_gem_object *obj);
int spatten_gem_map_for_device(struct drm_gem_object *obj);
void spatten_gem_sync(struct drm_gem_object *obj, bool for_cpu);
void spatten_gem_unmap_all(struct spatten_device *sdev);

int spatten_ioctl_bo_create(struct drm_device *drm, void *data,
			    struct drm_file *file);
int spatten_ioctl_bo_userptr(struct drm_device *drm, void *data,
			     struct drm_file *file);
int spatten_ioctl_bo_info(struct drm_device *drm, void *data,
			  struct drm_file *file);

#endif /* SPATTEN_GEM_H */
