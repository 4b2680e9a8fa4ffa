// SPDX-License-Identifier: GPL-2.0
/* drm_sched_job_init(job, entity, credits, owner, client_id) */
#include <drm/gpu_scheduler.h>

int spatten_conftest(struct drm_sched_job *job, struct drm_sched_entity *e);
int spatten_conftest(struct drm_sched_job *job, struct drm_sched_entity *e)
{
	return drm_sched_job_init(job, e, 1, NULL, 0);
}
