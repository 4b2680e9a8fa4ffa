/* SPDX-License-Identifier: MIT */
/*
 * libspatten internals of the device backend: the driver's DRM UAPI
 * (include/uapi/drm/spatten_accel.h, which needs drm.h: build with
 * -I/usr/include/libdrm; no libdrm library is linked) and what ties the
 * library's types to it. Included by device.c, bo.c and job.c only; not
 * installed.
 */
#ifndef SPATTEN_DRM_H
#define SPATTEN_DRM_H

#include <stddef.h>
#include <string.h>

#include "uapi/drm/spatten_accel.h"
#include "spatten_private.h"

/* DRM_IOCTL_VERSION name of the driver. */
#define SPATTEN_DRM_NAME	"spatten"

/*
 * struct spatten_job and struct spatten_tensor are the driver's
 * struct drm_spatten_job and struct drm_spatten_tensor byte for byte: jobs
 * are handed to DRM_IOCTL_SPATTEN_SUBMIT as they are.
 */
#define SPATTEN_SAME_FIELD(lib, drm, f)					\
	_Static_assert(offsetof(struct lib, f) == offsetof(struct drm, f) && \
		       sizeof(((struct lib *)0)->f) ==			\
		       sizeof(((struct drm *)0)->f),			\
		       #lib "." #f " is " #drm "." #f)

_Static_assert(sizeof(struct spatten_tensor) ==
	       sizeof(struct drm_spatten_tensor), "tensor size");
SPATTEN_SAME_FIELD(spatten_tensor, drm_spatten_tensor, handle);
SPATTEN_SAME_FIELD(spatten_tensor, drm_spatten_tensor, flags);
SPATTEN_SAME_FIELD(spatten_tensor, drm_spatten_tensor, offset);

/* struct spatten_job is the API 4 job: the first part of API 5's. */
_Static_assert(sizeof(struct spatten_job) ==
	       offsetof(struct drm_spatten_job, q_rows32), "job size");
SPATTEN_SAME_FIELD(spatten_job, drm_spatten_job, opcode);
SPATTEN_SAME_FIELD(spatten_job, drm_spatten_job, stage);
SPATTEN_SAME_FIELD(spatten_job, drm_spatten_job, version);
SPATTEN_SAME_FIELD(spatten_job, drm_spatten_job, flags);
SPATTEN_SAME_FIELD(spatten_job, drm_spatten_job, n_heads);
SPATTEN_SAME_FIELD(spatten_job, drm_spatten_job, head_dim);
SPATTEN_SAME_FIELD(spatten_job, drm_spatten_job, q_rows);
SPATTEN_SAME_FIELD(spatten_job, drm_spatten_job, kv_rows);
SPATTEN_SAME_FIELD(spatten_job, drm_spatten_job, q_start);
SPATTEN_SAME_FIELD(spatten_job, drm_spatten_job, rsvd0);
SPATTEN_SAME_FIELD(spatten_job, drm_spatten_job, q_fmt);
SPATTEN_SAME_FIELD(spatten_job, drm_spatten_job, q_frac);
SPATTEN_SAME_FIELD(spatten_job, drm_spatten_job, k_fmt);
SPATTEN_SAME_FIELD(spatten_job, drm_spatten_job, k_frac);
SPATTEN_SAME_FIELD(spatten_job, drm_spatten_job, v_fmt);
SPATTEN_SAME_FIELD(spatten_job, drm_spatten_job, v_frac);
SPATTEN_SAME_FIELD(spatten_job, drm_spatten_job, out_fmt);
SPATTEN_SAME_FIELD(spatten_job, drm_spatten_job, out_frac);
SPATTEN_SAME_FIELD(spatten_job, drm_spatten_job, rsvd1);
SPATTEN_SAME_FIELD(spatten_job, drm_spatten_job, q);
SPATTEN_SAME_FIELD(spatten_job, drm_spatten_job, k);
SPATTEN_SAME_FIELD(spatten_job, drm_spatten_job, v);
SPATTEN_SAME_FIELD(spatten_job, drm_spatten_job, out);
SPATTEN_SAME_FIELD(spatten_job, drm_spatten_job, k_lsb);
SPATTEN_SAME_FIELD(spatten_job, drm_spatten_job, tok_imp);
SPATTEN_SAME_FIELD(spatten_job, drm_spatten_job, tok_alive);
SPATTEN_SAME_FIELD(spatten_job, drm_spatten_job, tok_kept);
SPATTEN_SAME_FIELD(spatten_job, drm_spatten_job, pinned);
SPATTEN_SAME_FIELD(spatten_job, drm_spatten_job, head_imp);
SPATTEN_SAME_FIELD(spatten_job, drm_spatten_job, head_alive);
SPATTEN_SAME_FIELD(spatten_job, drm_spatten_job, head_kept);
SPATTEN_SAME_FIELD(spatten_job, drm_spatten_job, n_tok_alive);
SPATTEN_SAME_FIELD(spatten_job, drm_spatten_job, token_keep);
SPATTEN_SAME_FIELD(spatten_job, drm_spatten_job, n_pinned);
SPATTEN_SAME_FIELD(spatten_job, drm_spatten_job, n_head_alive);
SPATTEN_SAME_FIELD(spatten_job, drm_spatten_job, head_keep);
SPATTEN_SAME_FIELD(spatten_job, drm_spatten_job, value_keep);
SPATTEN_SAME_FIELD(spatten_job, drm_spatten_job, lsb_threshold);
SPATTEN_SAME_FIELD(spatten_job, drm_spatten_job, rsvd2);
SPATTEN_SAME_FIELD(spatten_job, drm_spatten_job, topk_seed);
SPATTEN_SAME_FIELD(spatten_job, drm_spatten_job, rsvd3);
SPATTEN_SAME_FIELD(spatten_job, drm_spatten_job, user_data);
SPATTEN_SAME_FIELD(spatten_job, drm_spatten_job, rsvd);

/* The library's constants are the driver's. */
/* struct spatten_job3 is the API 5 job: struct spatten_job, then the tail. */
_Static_assert(sizeof(struct spatten_job3) == sizeof(struct drm_spatten_job),
	       "job3 size");
_Static_assert(offsetof(struct drm_spatten_job, q_rows32) ==
	       sizeof(struct spatten_job), "job3 tail");
SPATTEN_SAME_FIELD(spatten_job3, drm_spatten_job, q_rows32);
SPATTEN_SAME_FIELD(spatten_job3, drm_spatten_job, kv_rows32);
SPATTEN_SAME_FIELD(spatten_job3, drm_spatten_job, q_start32);
SPATTEN_SAME_FIELD(spatten_job3, drm_spatten_job, n_tok_alive32);
SPATTEN_SAME_FIELD(spatten_job3, drm_spatten_job, token_keep32);
SPATTEN_SAME_FIELD(spatten_job3, drm_spatten_job, n_pinned32);
SPATTEN_SAME_FIELD(spatten_job3, drm_spatten_job, value_keep32);
SPATTEN_SAME_FIELD(spatten_job3, drm_spatten_job, n_kv_heads);
SPATTEN_SAME_FIELD(spatten_job3, drm_spatten_job, rsvd4);
SPATTEN_SAME_FIELD(spatten_job3, drm_spatten_job, score_scale);
SPATTEN_SAME_FIELD(spatten_job3, drm_spatten_job, rope_base);
SPATTEN_SAME_FIELD(spatten_job3, drm_spatten_job, kv_head_stride);
SPATTEN_SAME_FIELD(spatten_job3, drm_spatten_job, kv_row_stride);
SPATTEN_SAME_FIELD(spatten_job3, drm_spatten_job, kv_block_stride);
SPATTEN_SAME_FIELD(spatten_job3, drm_spatten_job, kv_block_rows);
SPATTEN_SAME_FIELD(spatten_job3, drm_spatten_job, block_table);
SPATTEN_SAME_FIELD(spatten_job3, drm_spatten_job, positions);
SPATTEN_SAME_FIELD(spatten_job3, drm_spatten_job, head_fracs);

_Static_assert(SPATTEN_API_VERSION == DRM_SPATTEN_API_VERSION, "api");
_Static_assert(SPATTEN_MAX_SUBMIT == DRM_SPATTEN_MAX_SUBMIT, "max submit");
_Static_assert(SPATTEN_REAP_MAX == DRM_SPATTEN_REAP_MAX, "reap max");
_Static_assert(SPATTEN_STATUS_TIMEOUT == DRM_SPATTEN_STATUS_TIMEOUT &&
	       SPATTEN_STATUS_CANCELED == DRM_SPATTEN_STATUS_CANCELED,
	       "driver statuses");
_Static_assert(SPATTEN_CNT_RESETS == DRM_SPATTEN_CNT_RESETS &&
	       SPATTEN_CNT_TIMEOUTS == DRM_SPATTEN_CNT_TIMEOUTS &&
	       SPATTEN_CNT_IRQS_DROPPED == DRM_SPATTEN_CNT_IRQS_DROPPED &&
	       SPATTEN_CNT_NUM == DRM_SPATTEN_CNT_HW_NUM &&
	       DRM_SPATTEN_CNT_NUM <= SPATTEN_CNT_MAX, "driver counters");

/*
 * Reaping: struct drm_spatten_result and struct spatten_wait have the same
 * size, so REAP writes the driver's results into the caller's array and
 * each is converted in place.
 */
_Static_assert(sizeof(struct drm_spatten_result) ==
	       sizeof(struct spatten_wait), "result size");

static inline void spatten__result_to_wait(struct spatten_wait *w,
					   const struct drm_spatten_result *r)
{
	struct drm_spatten_result c;

	memcpy(&c, r, sizeof(c));	/* @r may be @w itself */
	memset(w, 0, sizeof(*w));
	w->seqno = c.seqno;
	w->status = c.status;
	w->user_data = c.user_data;
	w->bytes_q = c.bytes_q;
	w->bytes_k_msb = c.bytes_k_msb;
	w->bytes_k_lsb = c.bytes_k_lsb;
	w->bytes_v = c.bytes_v;
	w->bytes_written = c.bytes_written;
	w->cycles = c.cycles;
	w->lsb_refetches = c.lsb_refetches;
}

#endif /* SPATTEN_DRM_H */
