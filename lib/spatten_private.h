/* SPDX-License-Identifier: MIT */
/*
 * libspatten internals: object layouts and the ioctl wrapper. Not installed.
 */
#ifndef SPATTEN_PRIVATE_H
#define SPATTEN_PRIVATE_H

#include "libspatten.h"

/**
 * struct spatten_dev - an open accelerator
 * @fd: the device node, O_CLOEXEC
 * @refs: one for the caller's handle plus one per live buffer object
 */
struct spatten_dev {
	int fd;
	unsigned int refs;
};

/**
 * struct spatten_bo - a buffer object, mapped
 * @dev: owning device (holds a reference on it)
 * @map: start of the mapping
 * @size: bytes asked for
 * @map_size: bytes mapped (@size rounded up to the page size)
 * @handle: the driver's handle
 */
struct spatten_bo {
	struct spatten_dev *dev;
	void *map;
	size_t size;
	size_t map_size;
	uint32_t handle;
};

int spatten__ioctl(int fd, unsigned long request, void *arg);
void spatten__dev_get(struct spatten_dev *dev);
void spatten__dev_put(struct spatten_dev *dev);

#endif /* SPATTEN_PRIVATE_H */
