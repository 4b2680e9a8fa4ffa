// SPDX-License-Identifier: GPL-2.0
/* drm_sched runs on a workqueue: drm_sched_wqueue_stop()/start() */
#include <drm/gpu_scheduler.h>

void spatten_conftest(struct drm_gpu_scheduler *sched);
void spatten_conftest(struct drm_gpu_scheduler *sched)
{
	drm_sched_wqueue_stop(sched);
	drm_sched_wqueue_start(sched);
}
