// SPDX-License-Identifier: GPL-2.0
/* struct drm_driver still has the PRIME ioctl callbacks (removed in 6.6) */
#include <drm/drm_drv.h>
#include <drm/drm_prime.h>

const struct drm_driver spatten_conftest = {
	.prime_handle_to_fd = drm_gem_prime_handle_to_fd,
	.prime_fd_to_handle = drm_gem_prime_fd_to_handle,
	.gem_prime_mmap = drm_gem_prime_mmap,
};
