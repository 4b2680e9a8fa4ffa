// SPDX-License-Identifier: MIT
/*
 * libspatten: buffer objects (GEM objects of the driver, mapped; or, on the
 * simulation backend, page-aligned process memory).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "spatten_private.h"
#include "spatten_drm.h"

static int bo_destroy(int fd, uint32_t handle)
{
	struct drm_gem_close req = { .handle = handle };

	return spatten__ioctl(fd, DRM_IOCTL_GEM_CLOSE, &req);
}

static int bo_create(int fd, size_t size, uint32_t *handle, uint64_t *offset)
{
	struct drm_spatten_bo_create req = { .size = size };
	int ret;

	ret = spatten__ioctl(fd, DRM_IOCTL_SPATTEN_BO_CREATE, &req);
	if (ret < 0)
		return ret;
	*handle = req.handle;
	*offset = req.mmap_offset;
	return 0;
}

static int sim_bo_alloc(struct spatten_dev *dev, struct spatten_bo *bo)
{
	void *p;
	int ret;

	/* as the driver: larger than max_bo_size is -EINVAL */
	if (!spatten__sim_bo_size_ok(bo->map_size))
		return spatten__err(-EINVAL, "a buffer of %zu bytes: larger "
				    "than the board's largest (max_bo_size in "
				    "spatten_get_info())", bo->size);
	p = mmap(NULL, bo->map_size, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return -ENOMEM;
	ret = spatten__sim_bo_add(dev, p, bo->map_size, &bo->handle);
	if (ret < 0) {
		munmap(p, bo->map_size);
		return ret;
	}
	bo->map = p;
	return 0;
}

SPATTEN_API int spatten_bo_alloc(struct spatten_dev *dev, size_t size,
				 struct spatten_bo **bop)
{
	struct spatten_bo *bo;
	uint64_t offset;
	int ret;

	spatten__enter();
	if (!bop)
		return -EINVAL;
	*bop = NULL;
	if (!dev || !size || size > SIZE_MAX / 2)
		return spatten__err(-EINVAL, "a buffer of %zu bytes on %s "
				    "device", size, dev ? "a" : "a NULL");

	bo = calloc(1, sizeof(*bo));
	if (!bo)
		return -ENOMEM;
	bo->size = size;
	bo->map_size = spatten__page_round(size);

	if (dev->backend == SPATTEN_BACKEND_SIM) {
		ret = sim_bo_alloc(dev, bo);
		if (ret < 0)
			goto err_free;
		goto done;
	}

	ret = bo_create(dev->fd, size, &bo->handle, &offset);
	if (ret < 0)
		goto err_free;

	bo->map = mmap(NULL, bo->map_size, PROT_READ | PROT_WRITE, MAP_SHARED,
		       dev->fd, (off_t)offset);
	if (bo->map == MAP_FAILED) {
		ret = -errno;
		goto err_destroy;
	}
done:
	bo->dev = dev;
	spatten__dev_get(dev);
	*bop = bo;
	return 0;

err_destroy:
	bo_destroy(dev->fd, bo->handle);
err_free:
	free(bo);
	return ret;
}

SPATTEN_API int spatten_bo_import(struct spatten_dev *dev, void *ptr,
				  size_t size, struct spatten_bo **bop)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	struct spatten_bo *bo;
	int ret;

	spatten__enter();
	if (!bop)
		return -EINVAL;
	*bop = NULL;
	if (!dev || !ptr || !size || size % page || (uintptr_t)ptr % page)
		return spatten__err(-EINVAL, "importing %zu bytes at %p: the "
				    "memory must start on a page and be whole "
				    "pages (%zu bytes each)", size, ptr, page);

	bo = calloc(1, sizeof(*bo));
	if (!bo)
		return -ENOMEM;
	if (dev->backend == SPATTEN_BACKEND_SIM) {
		ret = spatten__sim_bo_size_ok(size) ?
		      spatten__sim_bo_add(dev, ptr, size, &bo->handle) :
		      -EINVAL;
	} else {
		struct drm_spatten_bo_userptr req = {
			.user_ptr = (uint64_t)(uintptr_t)ptr,
			.size = size,
		};

		ret = spatten__ioctl(dev->fd, DRM_IOCTL_SPATTEN_BO_USERPTR,
				     &req);
		if (ret == -ENOTTY)
			ret = -EOPNOTSUPP;	/* no such ioctl here */
		bo->handle = req.handle;
	}
	if (ret < 0) {
		free(bo);
		return ret;
	}
	bo->map = ptr;
	bo->size = size;
	bo->map_size = size;
	bo->imported = 1;
	bo->dev = dev;
	spatten__dev_get(dev);
	*bop = bo;
	return 0;
}

SPATTEN_API void spatten_bo_free(struct spatten_bo *bo)
{
	spatten__enter();
	if (!bo)
		return;
	if (bo->dev->backend == SPATTEN_BACKEND_SIM) {
		spatten__sim_bo_del(bo->dev, bo->handle);
		if (!bo->imported)
			munmap(bo->map, bo->map_size);
	} else {
		if (!bo->imported)
			munmap(bo->map, bo->map_size);
		bo_destroy(bo->dev->fd, bo->handle);
	}
	spatten__dev_put(bo->dev);
	free(bo);
}

SPATTEN_API void *spatten_bo_map(const struct spatten_bo *bo)
{
	spatten__enter();
	return bo ? bo->map : NULL;
}

SPATTEN_API size_t spatten_bo_size(const struct spatten_bo *bo)
{
	spatten__enter();
	return bo ? bo->size : 0;
}

SPATTEN_API uint32_t spatten_bo_handle(const struct spatten_bo *bo)
{
	spatten__enter();
	return bo ? bo->handle : 0;
}
