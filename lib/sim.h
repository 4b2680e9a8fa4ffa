/* SPDX-License-Identifier: MIT */
/*
 * libspatten: the simulation backend's state, shared by sim.c (buffers,
 * submission, completion) and sim_job.c (the driver's checks of a job and
 * the descriptor built from it). Not installed.
 */
#ifndef SPATTEN_SIM_H
#define SPATTEN_SIM_H

#include <pthread.h>

#include "spatten_private.h"
#include "spe.h"

/* the device's counters, then the driver's resets, timeouts, dropped IRQs */
#define SIM_CNT_NUM		(SPATTEN_CNT_IRQS_DROPPED + 1)

struct sim_bo {
	unsigned char *ptr;
	size_t size;
};

struct spatten_sim {
	pthread_mutex_t lock;
	struct spe_caps caps;
	struct sim_bo *bos;		/* index = handle - 1; ptr NULL = free */
	uint32_t n_bos;
	uint64_t next_seqno;
	struct spatten_wait *done;	/* completed, not yet reaped: */
	size_t head_done, n_done, cap_done; /* done[head .. head + n) */
	uint64_t cnt[SIM_CNT_NUM];
};

static inline const struct sim_bo *sim_lookup(const struct spatten_sim *sim,
					      uint32_t handle)
{
	if (!handle || handle > sim->n_bos || !sim->bos[handle - 1].ptr)
		return NULL;
	return &sim->bos[handle - 1];
}

/* sim_job.c */
int spatten__sim_check_job(const struct spatten_sim *sim,
			   const struct spatten_job3 *j);
void spatten__sim_build_desc(const struct spatten_sim *sim,
			     const struct spatten_job3 *j, uint32_t tag,
			     union spatten_hw_sqe *d);

#endif /* SPATTEN_SIM_H */
