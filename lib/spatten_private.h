/* SPDX-License-Identifier: MIT */
/*
 * libspatten internals: object layouts, the ioctl wrapper and the
 * simulation backend. Not installed. The device backend's view of the
 * driver's UAPI is in spatten_drm.h.
 */
#ifndef SPATTEN_PRIVATE_H
#define SPATTEN_PRIVATE_H

#include "libspatten.h"

struct spatten_sim;

/**
 * struct spatten_dev - an open accelerator
 * @backend: SPATTEN_BACKEND_DEVICE or SPATTEN_BACKEND_SIM
 * @fd: the DRM node, O_CLOEXEC (device backend), or the sim's eventfd
 * @refs: one for the caller's handle plus one per live buffer or session
 * @sim: simulation state (sim backend only)
 */
struct spatten_dev {
	int backend;
	int fd;
	unsigned int refs;
	struct spatten_sim *sim;
	uint32_t api_version;	/* the driver's (the sim's: the library's) */
};

/* Oldest driver interface the library works with (version 1/2 jobs). */
#define SPATTEN_API_VERSION_MIN	4

/**
 * struct spatten_bo - a buffer object, mapped
 * @dev: owning device (holds a reference on it)
 * @map: start of the mapping
 * @size: bytes asked for
 * @map_size: bytes mapped (@size rounded up to the page size)
 * @handle: the driver's (or sim's) handle
 * @imported: memory is the caller's (spatten_bo_import())
 */
struct spatten_bo {
	struct spatten_dev *dev;
	void *map;
	size_t size;
	size_t map_size;
	uint32_t handle;
	int imported;
};

/*
 * Why a call failed (error.c): spatten__enter() opens a public call;
 * spatten__err() sets the message spatten_last_error() returns for it
 * (printf format) and gives back @err, so a check reads
 * "return spatten__err(-EINVAL, "head_dim %u ...", d);".
 */
void spatten__enter(void);
int spatten__err(int err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/*
 * A failure path that calls public functions (cleanup, statistics) after
 * the message is set keeps it: held = spatten__err_held(), the calls,
 * spatten__err_hold(held).
 */
int spatten__err_held(void);
void spatten__err_hold(int held);

int spatten__ioctl(int fd, unsigned long request, void *arg);
void spatten__dev_get(struct spatten_dev *dev);
void spatten__dev_put(struct spatten_dev *dev);
size_t spatten__page_round(size_t size);

/* Simulation backend (sim.c). */
int spatten__sim_open(struct spatten_dev *dev);
void spatten__sim_close(struct spatten_dev *dev);
int spatten__sim_info(struct spatten_dev *dev, struct spatten_info *info);
int spatten__sim_counters(struct spatten_dev *dev,
			  struct spatten_counters *cnt);
int spatten__sim_bo_size_ok(size_t size);
int spatten__sim_bo_add(struct spatten_dev *dev, void *ptr, size_t size,
			uint32_t *handle);
void spatten__sim_bo_del(struct spatten_dev *dev, uint32_t handle);
int spatten__sim_submit(struct spatten_dev *dev,
			const struct spatten_job *jobs, unsigned int n,
			uint64_t *seqno);
int spatten__sim_submit3(struct spatten_dev *dev,
			 const struct spatten_job3 *jobs, unsigned int n,
			 uint64_t *seqno);
int spatten__sim_wait(struct spatten_dev *dev, struct spatten_wait *w);
int spatten__sim_reap(struct spatten_dev *dev, struct spatten_wait *res,
		      unsigned int max, unsigned int min);

/*
 * Element types (dtype.c): @n elements of type @t at @src (any alignment)
 * as floats at @dst (must not overlap @src). 0, or -EINVAL as
 * spatten_convert().
 */
int spatten__load_f32(float *dst, const void *src, enum spatten_dtype t,
		      size_t n);

/*
 * spatten_max_abs() of @n elements of type @t at @src (fixed.c), found
 * without converting them.
 */
float spatten__max_abs(const void *src, enum spatten_dtype t, size_t n);

#endif /* SPATTEN_PRIVATE_H */
