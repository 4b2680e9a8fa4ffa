// SPDX-License-Identifier: GPL-2.0
/* the DRM core prints fdinfo (drm_show_fdinfo, drm_driver.show_fdinfo) */
#include <linux/fs.h>
#include <drm/drm_drv.h>
#include <drm/drm_file.h>

const struct file_operations spatten_conftest = {
	.show_fdinfo = drm_show_fdinfo,
};
