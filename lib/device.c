// SPDX-License-Identifier: MIT
/*
 * libspatten: opening devices (either backend), enumeration, board
 * information and counters.
 */
#include <dirent.h>
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

size_t spatten__page_round(size_t size)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);

	return (size + page - 1) & ~(page - 1);
}

void spatten__dev_get(struct spatten_dev *dev)
{
	__atomic_add_fetch(&dev->refs, 1, __ATOMIC_RELAXED);
}

void spatten__dev_put(struct spatten_dev *dev)
{
	if (__atomic_sub_fetch(&dev->refs, 1, __ATOMIC_ACQ_REL))
		return;
	if (dev->backend == SPATTEN_BACKEND_SIM)
		spatten__sim_close(dev);
	else
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

static int resolve_backend(enum spatten_backend backend)
{
	const char *env;

	switch (backend) {
	case SPATTEN_BACKEND_DEVICE:
	case SPATTEN_BACKEND_SIM:
		return backend;
	case SPATTEN_BACKEND_DEFAULT:
		env = getenv(SPATTEN_BACKEND_ENV);
		if (!env || !*env || !strcmp(env, "device"))
			return SPATTEN_BACKEND_DEVICE;
		if (!strcmp(env, "sim"))
			return SPATTEN_BACKEND_SIM;
		return -EINVAL;
	}
	return -EINVAL;
}

SPATTEN_API int spatten_open_backend(const char *path,
				     enum spatten_backend backend,
				     struct spatten_dev **devp)
{
	struct spatten_dev *dev;
	int be, fd, ret;

	if (!devp)
		return -EINVAL;
	*devp = NULL;
	be = resolve_backend(backend);
	if (be < 0)
		return be;
	if (!path)
		path = SPATTEN_DEFAULT_PATH;

	dev = calloc(1, sizeof(*dev));
	if (!dev)
		return -ENOMEM;
	dev->backend = be;
	dev->refs = 1;
	dev->fd = -1;

	if (be == SPATTEN_BACKEND_SIM) {
		ret = spatten__sim_open(dev);
		if (ret < 0) {
			free(dev);
			return ret;
		}
		*devp = dev;
		return 0;
	}

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
	*devp = dev;
	return 0;
}

SPATTEN_API int spatten_open(const char *path, struct spatten_dev **devp)
{
	return spatten_open_backend(path, SPATTEN_BACKEND_DEFAULT, devp);
}

SPATTEN_API int spatten_open_index(unsigned int index,
				   struct spatten_dev **devp)
{
	char path[32];

	snprintf(path, sizeof(path), "/dev/spatten%u", index);
	return spatten_open(path, devp);
}

SPATTEN_API int spatten_backend(const struct spatten_dev *dev)
{
	return dev ? dev->backend : -EINVAL;
}

static int board_cmp(const void *a, const void *b)
{
	const struct spatten_board *x = a, *y = b;

	return x->index < y->index ? -1 : x->index > y->index;
}

/* PCI address of /dev/spatten<N> from sysfs (misc class). */
static void board_pci_addr(struct spatten_board *b)
{
	char link[256], target[256];
	const char *base;
	ssize_t n;

	b->pci_addr[0] = 0;
	snprintf(link, sizeof(link), "/sys/class/misc/spatten%u/device",
		 b->index);
	n = readlink(link, target, sizeof(target) - 1);
	if (n <= 0)
		return;
	target[n] = 0;
	base = strrchr(target, '/');
	base = base ? base + 1 : target;
	if (strlen(base) < sizeof(b->pci_addr))
		memcpy(b->pci_addr, base, strlen(base) + 1);
}

SPATTEN_API int spatten_list_boards(struct spatten_board *boards,
				    unsigned int max)
{
	struct dirent *de;
	unsigned int n = 0;
	DIR *d;

	if (max && !boards)
		return -EINVAL;
	d = opendir("/dev");
	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		unsigned int idx;
		char tail;

		if (sscanf(de->d_name, "spatten%u%c", &idx, &tail) != 1)
			continue;
		if (n < max) {
			boards[n].index = idx;
			snprintf(boards[n].path, sizeof(boards[n].path),
				 "/dev/spatten%u", idx);
			board_pci_addr(&boards[n]);
		}
		n++;
	}
	closedir(d);
	if (n && max)
		qsort(boards, n < max ? n : max, sizeof(*boards), board_cmp);
	return n > INT32_MAX ? INT32_MAX : (int)n;
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
	if (dev->backend == SPATTEN_BACKEND_SIM)
		return spatten__sim_info(dev, info);
	return spatten__ioctl(dev->fd, SPATTEN_IOCTL_INFO, info);
}

SPATTEN_API int spatten_probe(struct spatten_dev *dev, uint32_t features)
{
	struct spatten_info info;
	int ret;

	ret = spatten_get_info(dev, &info);
	if (ret < 0)
		return ret;
	return (info.features & features) == features;
}

SPATTEN_API int spatten_get_counters(struct spatten_dev *dev,
				     struct spatten_counters *cnt)
{
	if (!dev || !cnt)
		return -EINVAL;
	memset(cnt, 0, sizeof(*cnt));
	if (dev->backend == SPATTEN_BACKEND_SIM)
		return spatten__sim_counters(dev, cnt);
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
	[SPATTEN_HW_ERR_KEEP] = "inconsistent keep counts",
	[SPATTEN_HW_ERR_LIST] = "bad alive or pinned list",
};

SPATTEN_API const char *spatten_status_str(unsigned int status)
{
	if (status < sizeof(status_names) / sizeof(status_names[0]) &&
	    status_names[status])
		return status_names[status];
	return "unknown status";
}
