// SPDX-License-Identifier: MIT
/*
 * libspatten: buffer objects (driver-allocated memory, mapped).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "spatten_private.h"

static size_t page_round(size_t size)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);

	return (size + page - 1) & ~(page - 1);
}

static int bo_destroy(int fd, uint32_t handle)
{
	struct spatten_bo_destroy req = { .handle = handle };

	return spatten__ioctl(fd, SPATTEN_IOCTL_BO_DESTROY, &req);
}

static int bo_create(int fd, size_t size, uint32_t *handle, uint64_t *offset)
{
	struct spatten_bo_create req = { .size = size };
	int ret;

	ret = spatten__ioctl(fd, SPATTEN_IOCTL_BO_CREATE, &req);
	if (ret < 0)
		return ret;
	*handle = req.handle;
	*offset = req.mmap_offset;
	return 0;
}

SPATTEN_API int spatten_bo_alloc(struct spatten_dev *dev, size_t size,
				 struct spatten_bo **bop)
{
	struct spatten_bo *bo;
	uint64_t offset;
	int ret;

	if (!bop)
		return -EINVAL;
	*bop = NULL;
	if (!dev || !size || size > SIZE_MAX / 2)
		return -EINVAL;

	bo = calloc(1, sizeof(*bo));
	if (!bo)
		return -ENOMEM;
	bo->size = size;
	bo->map_size = page_round(size);

	ret = bo_create(dev->fd, size, &bo->handle, &offset);
	if (ret < 0)
		goto err_free;

	bo->map = mmap(NULL, bo->map_size, PROT_READ | PROT_WRITE, MAP_SHARED,
		       dev->fd, (off_t)offset);
	if (bo->map == MAP_FAILED) {
		ret = -errno;
		goto err_destroy;
	}

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

SPATTEN_API void spatten_bo_free(struct spatten_bo *bo)
{
	if (!bo)
		return;
	munmap(bo->map, bo->map_size);
	bo_destroy(bo->dev->fd, bo->handle);
	spatten__dev_put(bo->dev);
	free(bo);
}

SPATTEN_API void *spatten_bo_map(const struct spatten_bo *bo)
{
	return bo ? bo->map : NULL;
}

SPATTEN_API size_t spatten_bo_size(const struct spatten_bo *bo)
{
	return bo ? bo->size : 0;
}

SPATTEN_API uint32_t spatten_bo_handle(const struct spatten_bo *bo)
{
	return bo ? bo->handle : 0;
}
