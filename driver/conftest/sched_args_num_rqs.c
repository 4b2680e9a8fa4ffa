// SPDX-License-Identifier: GPL-2.0
/* struct drm_sched_init_args has num_rqs (and submit_wq) */
#include <drm/gpu_scheduler.h>

const struct drm_sched_init_args spatten_conftest = {
	.num_rqs = DRM_SCHED_PRIORITY_COUNT,
	.submit_wq = NULL,
};
