/* SPDX-License-Identifier: MIT */
/*
 * The jobs of the load campaign (spatten-load.c): random version 2 and
 * version 3 jobs in a slot of the process's buffer object (load_jobs.c),
 * and the hardware descriptor the driver builds for each
 * (driver/spatten_desc.c), addressed to the process's own copy of the slot
 * for the in-process engine (load_desc.c).
 *
 * A slot is SPE_PLANE_COUNT regions of PLANE_SZ bytes, one per operand
 * (plane p at byte p * PLANE_SZ of the slot); an operand starts at its
 * region (K, V and K's LSB plane of a version 3 job at a small offset in
 * it), and a paged KV cache's blocks all lie in the plane's region.
 */
#ifndef LOAD_JOBS_H
#define LOAD_JOBS_H

#include "rel_common.h"
#include "spe.h"

#define SLOTS		8		/* jobs in flight per process */
#define PLANE_SZ	(32 * 1024)
#define SLOT_SZ		(SPE_PLANE_COUNT * PLANE_SZ)
#define BO_SZ		((uint64_t)SLOTS * SLOT_SZ)	/* page multiple */
#define MAX_KV		48		/* rows of the small jobs */
#define MAX_H		4		/* heads of version 2 jobs */

/* What a job exercises (struct slot @kind), counted in the summary. */
enum {
	LOAD_DENSE	= 1 << 0,	/* no pruning, S16: double reference */
	LOAD_V3		= 1 << 1,
	LOAD_GQA	= 1 << 2,	/* n_kv_heads < n_heads */
	LOAD_STRIDED	= 1 << 3,	/* head-major or token-major cache */
	LOAD_PAGED	= 1 << 4,
	LOAD_ROPE	= 1 << 5,
	LOAD_POSITIONS	= 1 << 6,	/* RoPE with a position list */
	LOAD_SCALE	= 1 << 7,	/* score_scale set */
	LOAD_LONG	= 1 << 8,	/* kv_rows above 65535 */
	LOAD_BAD_BLOCK	= 1 << 9,	/* a block outside the buffer */
};

struct slot {
	struct drm_spatten_job j;
	uint8_t *dev;		/* the slot's region in the mapped BO */
	uint8_t *sim;		/* same layout, for the engine */
	uint64_t base;		/* byte offset of the slot in the BO */
	uint64_t seqno;
	unsigned int kind;	/* LOAD_* */
};

/* Rows and counts of a job whatever its version (driver's job dims). */
struct load_dims {
	uint32_t q_rows, kv_rows, q_start;
	uint32_t n_tok_alive, token_keep, n_pinned, value_keep;
	uint32_t n_kv_heads;
};

/* The board (spatten-load.c fills them before the processes start). */
extern struct drm_spatten_info info;
extern struct spe_caps caps;

/* load_desc.c: the driver's view of a job. */
bool is_v3(const struct drm_spatten_job *j);
void load_dims(const struct drm_spatten_job *j, struct load_dims *dm);
struct drm_spatten_tensor *jt(struct drm_spatten_job *j, int p);
bool kv_plane(int p);				/* K, V or K-LSB */
uint32_t kv_row_bytes(const struct drm_spatten_job *j, int p);
bool plane_present(const struct drm_spatten_job *j, int p);

/* load_jobs.c: a random job in @s (handle @h, slot region at @base). */
void make_job(uint64_t *r, struct slot *s, uint32_t h, uint64_t base);

/*
 * The descriptor the driver builds for @s, its buffer references pointing
 * into s->sim with the lengths the driver gives them; returns its size.
 */
size_t sim_desc(const struct slot *s, union spatten_hw_sqe *e);

/* Row of token slot @slot of KV head @g in a K, K-LSB or V plane. */
uint64_t kv_row(const struct drm_spatten_job *j, const uint32_t *table,
		uint32_t g, uint32_t slot);

/* One line describing the job for a failure report. */
void job_str(const struct slot *s, char *buf, size_t len);

#endif /* LOAD_JOBS_H */
