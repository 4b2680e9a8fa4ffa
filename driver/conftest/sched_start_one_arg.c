// SPDX-License-Identifier: GPL-2.0
/* drm_sched_start(sched) without the full_recovery flag */
#include <drm/gpu_scheduler.h>

void spatten_conftest(struct drm_gpu_scheduler *sched);
void spatten_conftest(struct drm_gpu_scheduler *sched)
{
	drm_sched_start(sched);
}
