// SPDX-License-Identifier: MIT
/*
 * libspatten: opening devices, board information and counters.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "spatten_private.h"

/* ioctl() with the library's conventions: retried on EINTR, -errno back. */
int spatten__ioctl(int fd, unsigned long request, void *arg)
{
	int ret;

	do {
		ret = ioctl(fd, request, arg);
	} while (ret < 0 && errno == EINTR);

	return ret < 0 ? -errno : ret;
}

void spatten__dev_get(struct spatten_dev *dev)
{
	__atomic_add_fetch(&dev->refs, 1, __ATOMIC_RELAXED);
}

void spatten__dev_put(struct spatten_dev *dev)
{
	if (__atomic_sub_fetch(&dev->refs, 1, __ATOMIC_ACQ_REL))
		return;
	close(dev->fd);
	free(dev);
}

static int check_api(int fd)
{
	struct spatten_info info;
	int ret;

	memset(&info, 0, sizeof(info));
	ret = spatten__ioctl(fd, SPATTEN_IOCTL_INFO, &info);
	if (ret < 0)
		return ret;
	return info.api_version == SPATTEN_API_VERSION ? 0 : -EPROTO;
}

SPATTEN_API int spatten_open(const char *path, struct spatten_dev **devp)
{
	struct spatten_dev *dev;
	int fd, ret;

	if (!devp)
		return -EINVAL;
	*devp = NULL;
	if (!path)
		path = SPATTEN_DEFAULT_PATH;

	dev = calloc(1, sizeof(*dev));
	if (!dev)
		return -ENOMEM;

	fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		ret = -errno;
		free(dev);
		return ret;
	}

	ret = check_api(fd);
	if (ret < 0) {
		close(fd);
		free(dev);
		return ret;
	}

	dev->fd = fd;
	dev->refs = 1;
	*devp = dev;
	return 0;
}

SPATTEN_API int spatten_open_index(unsigned int index,
				   struct spatten_dev **devp)
{
	char path[32];

	snprintf(path, sizeof(path), "/dev/spatten%u", index);
	return spatten_open(path, devp);
}

SPATTEN_API void spatten_close(struct spatten_dev *dev)
{
	if (dev)
		spatten__dev_put(dev);
}

SPATTEN_API int spatten_fd(const struct spatten_dev *dev)
{
	return dev ? dev->fd : -EINVAL;
}

SPATTEN_API int spatten_get_info(struct spatten_dev *dev,
				 struct spatten_info *info)
{
	if (!dev || !info)
		return -EINVAL;
	memset(info, 0, sizeof(*info));
	return spatten__ioctl(dev->fd, SPATTEN_IOCTL_INFO, info);
}

SPATTEN_API int spatten_get_counters(struct spatten_dev *dev,
				     struct spatten_counters *cnt)
{
	if (!dev || !cnt)
		return -EINVAL;
	memset(cnt, 0, sizeof(*cnt));
	return spatten__ioctl(dev->fd, SPATTEN_IOCTL_COUNTERS, cnt);
}

SPATTEN_API int64_t spatten_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static const char *const status_names[] = {
	[SPATTEN_HW_OK] = "ok",
	[SPATTEN_HW_ERR_OPCODE] = "unknown opcode",
	[SPATTEN_HW_ERR_VERSION] = "bad descriptor version",
	[SPATTEN_HW_ERR_FLAGS] = "unknown flag or stage",
	[SPATTEN_HW_ERR_RESERVED] = "reserved field not zero",
	[SPATTEN_HW_ERR_SHAPE] = "bad shape",
	[SPATTEN_HW_ERR_POSITION] = "bad query position",
	[SPATTEN_HW_ERR_FORMAT] = "bad element format",
	[SPATTEN_HW_ERR_BUFFER] = "bad buffer reference",
	[SPATTEN_HW_ERR_PAGE_LIST] = "bad page list",
	[SPATTEN_HW_ERR_DMA_READ] = "DMA read error",
	[SPATTEN_HW_ERR_DMA_WRITE] = "DMA write error",
	[SPATTEN_HW_ERR_NO_MEMORY] = "device out of memory",
	[SPATTEN_HW_ERR_ABORTED] = "aborted by reset",
};

SPATTEN_API const char *spatten_status_str(unsigned int status)
{
	if (status < sizeof(status_names) / sizeof(status_names[0]) &&
	    status_names[status])
		return status_names[status];
	return "unknown status";
}
