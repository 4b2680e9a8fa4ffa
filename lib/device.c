// SPDX-License-Identifier: MIT
/*
 * libspatten: opening devices (either backend), board discovery, board
 * information and counters.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "spatten_private.h"
#include "spatten_drm.h"

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

/* ---- the DRM device ------------------------------------------------------ */

/*
 * INFO of the first driver, a misc device (/dev/spatten<N>, API version
 * 1): its struct spatten_info had the library's layout.
 */
#define SPATTEN_MISC_IOCTL_INFO	_IOR(0xB5, 0x00, struct spatten_info)

/*
 * A SpAtten node: a DRM device of the driver "spatten" (anything else is
 * -ENOTTY, -ENODEV being the driver's word for a board that went away)
 * whose INFO reports an interface version this library speaks (else
 * -EPROTO, also for a node of the first, misc-device driver). Returns
 * that version.
 */
static int check_device(int fd)
{
	struct drm_spatten_info info;
	struct spatten_info old;
	struct drm_version v;
	char name[32];
	int ret;

	memset(&v, 0, sizeof(v));
	memset(name, 0, sizeof(name));
	v.name = name;
	v.name_len = sizeof(name) - 1;
	ret = spatten__ioctl(fd, DRM_IOCTL_VERSION, &v);
	if (ret == -ENOTTY) {
		memset(&old, 0, sizeof(old));
		if (!spatten__ioctl(fd, SPATTEN_MISC_IOCTL_INFO, &old) &&
		    old.vendor_id == SPATTEN_PCI_VENDOR_ID &&
		    old.device_id == SPATTEN_PCI_DEVICE_ID)
			return -EPROTO;
	}
	if (ret < 0)
		return ret == -EINVAL || ret == -EFAULT ? -ENOTTY : ret;
	if (v.name_len != strlen(SPATTEN_DRM_NAME) ||
	    memcmp(name, SPATTEN_DRM_NAME, v.name_len))
		return -ENOTTY;

	memset(&info, 0, sizeof(info));
	ret = spatten__ioctl(fd, DRM_IOCTL_SPATTEN_INFO, &info);
	if (ret < 0)
		return ret;
	/*
	 * Newer drivers keep what this version uses (structs only grow);
	 * an API 4 driver runs every version 1/2 job (version-3 jobs and
	 * sessions are -EOPNOTSUPP there).
	 */
	if (info.api_version < SPATTEN_API_VERSION_MIN)
		return -EPROTO;
	return (int)info.api_version;
}

/* "spatten:<N>": 1 and the board number, 0 for a node path, -EINVAL. */
static int board_path_index(const char *path, unsigned int *index)
{
	size_t plen = strlen(SPATTEN_BOARD_PREFIX);
	unsigned long v;
	char *end;

	if (strncmp(path, SPATTEN_BOARD_PREFIX, plen))
		return 0;
	path += plen;
	if (*path < '0' || *path > '9')
		return -EINVAL;
	errno = 0;
	v = strtoul(path, &end, 10);
	if (*end || errno || v > UINT32_MAX)
		return -EINVAL;
	*index = (unsigned int)v;
	return 1;
}

static int find_board(unsigned int index, struct spatten_board *b);

static int open_device(const char *path, int *fdp)
{
	struct spatten_board b;
	unsigned int index = 0;
	int fd, ret;

	ret = path ? board_path_index(path, &index) : 1;
	if (ret < 0)
		return spatten__err(ret, "\"%s\" is not a board name: "
				    SPATTEN_BOARD_PREFIX "<N>", path);
	if (ret) {
		ret = find_board(index, &b);
		if (ret == -ENOENT)
			return spatten__err(ret, "no SpAtten board %u found "
					    "(spatten-info lists them; is "
					    "spatten.ko loaded?); without a "
					    "board, select the simulation: "
					    SPATTEN_BACKEND_ENV "=sim, or "
					    "spatten_open_backend(path, "
					    "SPATTEN_BACKEND_SIM, &dev)", index);
		if (ret < 0)
			return ret;
		path = b.path;
	}
	fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		ret = -errno;
		return spatten__err(ret, "cannot open %.160s: %s%s", path,
				    strerror(-ret), ret == -EACCES ?
				    " (root, or the group of the udev rule, "
				    "driver/99-spatten.rules)" : "");
	}
	ret = check_device(fd);
	if (ret < 0) {
		close(fd);
		if (ret == -ENOTTY)
			return spatten__err(ret, "%.160s is not a SpAtten "
					    "node (not a DRM node of the spatten "
					    "driver)", path);
		if (ret == -EPROTO)
			return spatten__err(ret, "%.160s: the driver is too old "
					    "for libspatten %d.%d (interface "
					    "%d or later needed)", path,
					    SPATTEN_LIB_VERSION_MAJOR,
					    SPATTEN_LIB_VERSION_MINOR,
					    SPATTEN_API_VERSION_MIN);
		return ret;
	}
	*fdp = fd;
	return ret;	/* the driver's API version */
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
		return spatten__err(-EINVAL, SPATTEN_BACKEND_ENV "=%s: "
				    "\"sim\" or \"device\"", env);
	}
	return spatten__err(-EINVAL, "backend %d: SPATTEN_BACKEND_DEFAULT, "
			    "_DEVICE or _SIM", (int)backend);
}

SPATTEN_API int spatten_open_backend(const char *path,
				     enum spatten_backend backend,
				     struct spatten_dev **devp)
{
	struct spatten_dev *dev;
	int be, ret;

	spatten__enter();
	if (!devp)
		return spatten__err(-EINVAL, "devp is NULL");
	*devp = NULL;
	be = resolve_backend(backend);
	if (be < 0)
		return be;

	dev = calloc(1, sizeof(*dev));
	if (!dev)
		return -ENOMEM;
	dev->backend = be;
	dev->refs = 1;
	dev->fd = -1;

	if (be == SPATTEN_BACKEND_SIM) {
		ret = spatten__sim_open(dev);
		dev->api_version = SPATTEN_API_VERSION;
	} else {
		ret = open_device(path, &dev->fd);
		dev->api_version = (uint32_t)ret;
	}
	if (ret < 0) {
		free(dev);
		return ret;
	}
	*devp = dev;
	return 0;
}

SPATTEN_API int spatten_open(const char *path, struct spatten_dev **devp)
{
	spatten__enter();
	return spatten_open_backend(path, SPATTEN_BACKEND_DEFAULT, devp);
}

SPATTEN_API int spatten_open_index(unsigned int index,
				   struct spatten_dev **devp)
{
	char path[32];

	spatten__enter();
	snprintf(path, sizeof(path), SPATTEN_BOARD_PREFIX "%u", index);
	return spatten_open(path, devp);
}

SPATTEN_API int spatten_backend(const struct spatten_dev *dev)
{
	spatten__enter();
	return dev ? dev->backend : -EINVAL;
}

/* ---- discovery -------------------------------------------------------------- */

/*
 * The two places a board's DRM node shows in sysfs: accel<M> (kernels with
 * the accel subsystem, /dev/accel/accel<M>) and, else, renderD<M> of the
 * drm class (/dev/dri/renderD<M>).
 */
static const struct node_class {
	const char *class_dir;	/* under the sysfs root */
	const char *prefix;	/* of the entries that are nodes */
	const char *dev_dir;
} node_classes[] = {
	{ "class/accel", "accel", "/dev/accel/" },
	{ "class/drm", "renderD", "/dev/dri/" },
};

static const char *sysfs_root(void)
{
	const char *r = secure_getenv(SPATTEN_SYSFS_ENV);

	return r && *r ? r : "/sys";
}

/* <prefix><digits>, nothing else (not renderD128-1, not card0). */
static int is_node(const char *name, const char *prefix)
{
	size_t n = strlen(prefix);

	if (strncmp(name, prefix, n) || !name[n])
		return 0;
	for (name += n; *name; name++)
		if (*name < '0' || *name > '9')
			return 0;
	return 1;
}

/* Last component of the target of the link <dir>/<name>/<rel>, or NULL. */
static const char *link_base(const char *dir, const char *name,
			     const char *rel, char *buf, size_t len)
{
	char link[PATH_MAX];
	const char *base;
	int l;
	ssize_t n;

	l = snprintf(link, sizeof(link), "%s/%s/%s", dir, name, rel);
	if (l < 0 || (size_t)l >= sizeof(link))
		return NULL;
	n = readlink(link, buf, len - 1);
	if (n <= 0)
		return NULL;
	buf[n] = 0;
	base = strrchr(buf, '/');
	return base ? base + 1 : buf;
}

/*
 * Walk the boards in discovery order. @want: stop after the board of that
 * index (UINT_MAX: all), storing boards[0..max) as found. Return: the
 * number found, or -ENOMEM.
 */
static int scan_boards(struct spatten_board *boards, unsigned int max,
		       unsigned int skip, unsigned int want)
{
	const char *root = sysfs_root();
	unsigned int found = 0;
	size_t c;

	for (c = 0; c < sizeof(node_classes) / sizeof(node_classes[0]) &&
	     !found; c++) {
		const struct node_class *nc = &node_classes[c];
		struct dirent **names;
		char dir[PATH_MAX];
		int n, i;

		n = snprintf(dir, sizeof(dir), "%s/%s", root, nc->class_dir);
		if (n < 0 || (size_t)n >= sizeof(dir))
			continue;
		n = scandir(dir, &names, NULL, versionsort);
		if (n < 0) {
			if (errno == ENOMEM)
				return -ENOMEM;
			continue;	/* no such class on this kernel */
		}
		for (i = 0; i < n; i++) {
			const char *drv, *addr, *name = names[i]->d_name;
			char target[PATH_MAX];
			struct spatten_board *b;

			if (found > want || !is_node(name, nc->prefix) ||
			    strlen(name) > 16)
				goto next;
			drv = link_base(dir, name, "device/driver", target,
					sizeof(target));
			if (!drv || strcmp(drv, SPATTEN_DRM_NAME))
				goto next;
			if (found >= skip && found - skip < max) {
				b = &boards[found - skip];
				memset(b, 0, sizeof(*b));
				b->index = found;
				snprintf(b->path, sizeof(b->path), "%s%s",
					 nc->dev_dir, name);
				addr = link_base(dir, name, "device", target,
						 sizeof(target));
				if (addr && strlen(addr) < sizeof(b->pci_addr))
					strcpy(b->pci_addr, addr);
			}
			found++;
next:
			free(names[i]);
		}
		free(names);
	}
	return found > INT32_MAX ? INT32_MAX : (int)found;
}

/* The board of number @index, or -ENOENT. */
static int find_board(unsigned int index, struct spatten_board *b)
{
	int n = scan_boards(b, 1, index, index);

	if (n < 0)
		return n;
	return (unsigned int)n > index ? 0 : -ENOENT;
}

SPATTEN_API int spatten_list_boards(struct spatten_board *boards,
				    unsigned int max)
{
	spatten__enter();
	if (max && !boards)
		return -EINVAL;
	return scan_boards(boards, max, 0, UINT_MAX);
}

SPATTEN_API void spatten_close(struct spatten_dev *dev)
{
	spatten__enter();
	if (dev)
		spatten__dev_put(dev);
}

SPATTEN_API int spatten_fd(const struct spatten_dev *dev)
{
	spatten__enter();
	return dev ? dev->fd : -EINVAL;
}

SPATTEN_API int spatten_get_info(struct spatten_dev *dev,
				 struct spatten_info *info)
{
	struct drm_spatten_info d;
	int ret;

	spatten__enter();
	if (!dev || !info)
		return -EINVAL;
	memset(info, 0, sizeof(*info));
	if (dev->backend == SPATTEN_BACKEND_SIM)
		return spatten__sim_info(dev, info);

	memset(&d, 0, sizeof(d));
	ret = spatten__ioctl(dev->fd, DRM_IOCTL_SPATTEN_INFO, &d);
	if (ret < 0)
		return ret;
	info->api_version = d.api_version;
	info->hw_version = d.hw_version;
	info->vendor_id = d.vendor_id;
	info->device_id = d.device_id;
	info->num_engines = d.num_engines;
	info->num_queues = d.num_queues;
	info->queue_depth = d.queue_depth;
	info->max_context = d.max_context;
	info->max_heads = d.max_heads;
	info->head_dims = d.head_dims;
	info->formats = d.formats;
	info->splits = d.splits;
	info->features = d.features;
	/* an API-5 driver passes these bits on but refuses their jobs */
	if (d.api_version < 6)
		info->features &= ~(SPATTEN_FEAT_CHUNKS |
				    SPATTEN_FEAT_IMP_PER_KV_HEAD);
	info->dma_bits = d.dma_bits;
	info->max_bo_size = d.max_bo_size;
	return 0;
}

SPATTEN_API int spatten_probe(struct spatten_dev *dev, uint32_t features)
{
	struct spatten_info info;
	int ret;

	spatten__enter();
	ret = spatten_get_info(dev, &info);
	if (ret < 0)
		return ret;
	return (info.features & features) == features;
}

SPATTEN_API int spatten_get_counters(struct spatten_dev *dev,
				     struct spatten_counters *cnt)
{
	struct drm_spatten_counters d;
	unsigned int i;
	int ret;

	spatten__enter();
	if (!dev || !cnt)
		return -EINVAL;
	memset(cnt, 0, sizeof(*cnt));
	if (dev->backend == SPATTEN_BACKEND_SIM)
		return spatten__sim_counters(dev, cnt);

	memset(&d, 0, sizeof(d));
	ret = spatten__ioctl(dev->fd, DRM_IOCTL_SPATTEN_COUNTERS, &d);
	if (ret < 0)
		return ret;
	/* the driver's numbering is the library's */
	for (i = 0; i < d.num && i < SPATTEN_CNT_MAX &&
	     i < DRM_SPATTEN_CNT_MAX; i++)
		cnt->value[i] = d.value[i];
	cnt->num = i;
	return 0;
}

SPATTEN_API int64_t spatten_now_ns(void)
{
	struct timespec ts;

	spatten__enter();
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
	[SPATTEN_HW_ERR_LAYOUT] = "bad KV cache layout",
	[SPATTEN_HW_ERR_BLOCK] = "KV block outside its buffer",
	[SPATTEN_HW_ERR_PARAM] = "bad RoPE base or score scale",
};

SPATTEN_API const char *spatten_status_str(unsigned int status)
{
	spatten__enter();
	if (status < sizeof(status_names) / sizeof(status_names[0]) &&
	    status_names[status])
		return status_names[status];
	if (status == SPATTEN_STATUS_TIMEOUT)
		return "timed out (device reset)";
	if (status == SPATTEN_STATUS_CANCELED)
		return "canceled";
	return "unknown status";
}
