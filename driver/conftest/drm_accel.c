// SPDX-License-Identifier: GPL-2.0
/* the compute accelerator subsystem (/dev/accel) is built in */
#include <linux/fs.h>
#include <drm/drm_accel.h>

#if !IS_ENABLED(CONFIG_DRM_ACCEL)
#error "no DRM accel"
#endif

const struct file_operations spatten_conftest = {
	.open = accel_open,
};
