// SPDX-License-Identifier: MIT
/*
 * Pins the binary layout of the hardware interface (include/spatten_hw.h)
 * and of the driver's DRM UAPI (include/uapi/drm/spatten_accel.h): every
 * size and every field offset against hard-coded numbers, the ioctl
 * numbers, the UAPI's constants that must equal the hardware's (opcodes,
 * stages, job flags, descriptor versions, formats, statuses 0..18,
 * features, counters 0..9) and the driver's own constants.
 *
 * Built twice by host.mk: as a TAP test (64-bit), and with
 * -DLAYOUT_STATIC_ONLY -m32 -fsyntax-only, where the same table becomes
 * _Static_asserts checked under the i386 ABI (u64 aligned to 4 in
 * structs), which is what a 32-bit process hands a 64-bit kernel: the
 * UAPI has fixed-width types only and every 64-bit field 8-aligned, so the
 * numbers are the same. That build needs no 32-bit libc, only the
 * compiler. Both need drm.h (-I/usr/include/libdrm).
 */
#include <stddef.h>
#include <linux/ioctl.h>

#include "spatten_hw.h"
#include "uapi/drm/spatten_accel.h"

/* X(type, field, offset) for every field; S(type, size) for every struct */
#define LAYOUT(X, S)							\
	S(struct spatten_hw_buf, 16)					\
	X(struct spatten_hw_buf, addr, 0x00)				\
	X(struct spatten_hw_buf, len, 0x08)				\
	X(struct spatten_hw_buf, offset, 0x0c)				\
	X(struct spatten_hw_buf, flags, 0x0e)				\
	S(struct spatten_hw_desc, SPATTEN_DESC_SIZE)			\
	S(struct spatten_hw_desc, 256)					\
	X(struct spatten_hw_desc, opcode, 0x00)				\
	X(struct spatten_hw_desc, desc_size, 0x02)			\
	X(struct spatten_hw_desc, version, 0x04)			\
	X(struct spatten_hw_desc, stage, 0x05)				\
	X(struct spatten_hw_desc, flags, 0x06)				\
	X(struct spatten_hw_desc, tag, 0x08)				\
	X(struct spatten_hw_desc, rsvd0, 0x0c)				\
	X(struct spatten_hw_desc, n_heads, 0x10)			\
	X(struct spatten_hw_desc, head_dim, 0x12)			\
	X(struct spatten_hw_desc, q_rows, 0x14)				\
	X(struct spatten_hw_desc, kv_rows, 0x16)			\
	X(struct spatten_hw_desc, q_start, 0x18)			\
	X(struct spatten_hw_desc, rsvd1, 0x1a)				\
	X(struct spatten_hw_desc, q_fmt, 0x1c)				\
	X(struct spatten_hw_desc, q_frac, 0x1d)				\
	X(struct spatten_hw_desc, k_fmt, 0x1e)				\
	X(struct spatten_hw_desc, k_frac, 0x1f)				\
	X(struct spatten_hw_desc, v_fmt, 0x20)				\
	X(struct spatten_hw_desc, v_frac, 0x21)				\
	X(struct spatten_hw_desc, out_fmt, 0x22)			\
	X(struct spatten_hw_desc, out_frac, 0x23)			\
	X(struct spatten_hw_desc, rsvd2, 0x24)				\
	X(struct spatten_hw_desc, q, 0x28)				\
	X(struct spatten_hw_desc, k, 0x38)				\
	X(struct spatten_hw_desc, v, 0x48)				\
	X(struct spatten_hw_desc, out, 0x58)				\
	X(struct spatten_hw_desc, k_lsb, 0x68)				\
	X(struct spatten_hw_desc, tok_imp, 0x78)			\
	X(struct spatten_hw_desc, tok_alive, 0x88)			\
	X(struct spatten_hw_desc, tok_kept, 0x98)			\
	X(struct spatten_hw_desc, pinned, 0xa8)				\
	X(struct spatten_hw_desc, head_imp, 0xb8)			\
	X(struct spatten_hw_desc, head_alive, 0xc8)			\
	X(struct spatten_hw_desc, head_kept, 0xd8)			\
	X(struct spatten_hw_desc, n_tok_alive, 0xe8)			\
	X(struct spatten_hw_desc, token_keep, 0xea)			\
	X(struct spatten_hw_desc, n_pinned, 0xec)			\
	X(struct spatten_hw_desc, n_head_alive, 0xee)			\
	X(struct spatten_hw_desc, head_keep, 0xf0)			\
	X(struct spatten_hw_desc, value_keep, 0xf2)			\
	X(struct spatten_hw_desc, lsb_threshold, 0xf4)			\
	X(struct spatten_hw_desc, rsvd3, 0xf6)				\
	X(struct spatten_hw_desc, topk_seed, 0xf8)			\
	X(struct spatten_hw_desc, rsvd4, 0xfc)				\
	S(struct spatten_hw_desc_v3, SPATTEN_DESC_V3_SIZE)		\
	S(struct spatten_hw_desc_v3, 512)				\
	S(union spatten_hw_sqe, SPATTEN_SQE_SIZE_MAX)			\
	X(struct spatten_hw_desc_v3, opcode, 0x000)			\
	X(struct spatten_hw_desc_v3, desc_size, 0x002)			\
	X(struct spatten_hw_desc_v3, version, 0x004)			\
	X(struct spatten_hw_desc_v3, stage, 0x005)			\
	X(struct spatten_hw_desc_v3, flags, 0x006)			\
	X(struct spatten_hw_desc_v3, tag, 0x008)			\
	X(struct spatten_hw_desc_v3, rsvd0, 0x00c)			\
	X(struct spatten_hw_desc_v3, n_heads, 0x010)			\
	X(struct spatten_hw_desc_v3, n_kv_heads, 0x012)			\
	X(struct spatten_hw_desc_v3, head_dim, 0x014)			\
	X(struct spatten_hw_desc_v3, rsvd1, 0x016)			\
	X(struct spatten_hw_desc_v3, q_rows, 0x018)			\
	X(struct spatten_hw_desc_v3, kv_rows, 0x01c)			\
	X(struct spatten_hw_desc_v3, q_start, 0x020)			\
	X(struct spatten_hw_desc_v3, rsvd2, 0x024)			\
	X(struct spatten_hw_desc_v3, q_fmt, 0x028)			\
	X(struct spatten_hw_desc_v3, q_frac, 0x029)			\
	X(struct spatten_hw_desc_v3, k_fmt, 0x02a)			\
	X(struct spatten_hw_desc_v3, k_frac, 0x02b)			\
	X(struct spatten_hw_desc_v3, v_fmt, 0x02c)			\
	X(struct spatten_hw_desc_v3, v_frac, 0x02d)			\
	X(struct spatten_hw_desc_v3, out_fmt, 0x02e)			\
	X(struct spatten_hw_desc_v3, out_frac, 0x02f)			\
	X(struct spatten_hw_desc_v3, n_tok_alive, 0x030)		\
	X(struct spatten_hw_desc_v3, token_keep, 0x034)			\
	X(struct spatten_hw_desc_v3, n_pinned, 0x038)			\
	X(struct spatten_hw_desc_v3, value_keep, 0x03c)			\
	X(struct spatten_hw_desc_v3, n_head_alive, 0x040)		\
	X(struct spatten_hw_desc_v3, head_keep, 0x042)			\
	X(struct spatten_hw_desc_v3, lsb_threshold, 0x044)		\
	X(struct spatten_hw_desc_v3, rsvd3, 0x046)			\
	X(struct spatten_hw_desc_v3, topk_seed, 0x048)			\
	X(struct spatten_hw_desc_v3, score_scale, 0x04c)		\
	X(struct spatten_hw_desc_v3, rope_base, 0x050)			\
	X(struct spatten_hw_desc_v3, kv_block_rows, 0x054)		\
	X(struct spatten_hw_desc_v3, kv_head_stride, 0x058)		\
	X(struct spatten_hw_desc_v3, kv_row_stride, 0x05c)		\
	X(struct spatten_hw_desc_v3, kv_block_stride, 0x060)		\
	X(struct spatten_hw_desc_v3, rsvd4, 0x064)			\
	X(struct spatten_hw_desc_v3, q, 0x080)				\
	X(struct spatten_hw_desc_v3, k, 0x090)				\
	X(struct spatten_hw_desc_v3, v, 0x0a0)				\
	X(struct spatten_hw_desc_v3, out, 0x0b0)			\
	X(struct spatten_hw_desc_v3, k_lsb, 0x0c0)			\
	X(struct spatten_hw_desc_v3, tok_imp, 0x0d0)			\
	X(struct spatten_hw_desc_v3, tok_alive, 0x0e0)			\
	X(struct spatten_hw_desc_v3, tok_kept, 0x0f0)			\
	X(struct spatten_hw_desc_v3, pinned, 0x100)			\
	X(struct spatten_hw_desc_v3, head_imp, 0x110)			\
	X(struct spatten_hw_desc_v3, head_alive, 0x120)			\
	X(struct spatten_hw_desc_v3, head_kept, 0x130)			\
	X(struct spatten_hw_desc_v3, block_table, 0x140)		\
	X(struct spatten_hw_desc_v3, positions, 0x150)			\
	X(struct spatten_hw_desc_v3, head_fracs, 0x160)			\
	X(struct spatten_hw_desc_v3, rsvd5, 0x170)			\
	S(struct spatten_hw_cqe, SPATTEN_CQE_SIZE)			\
	S(struct spatten_hw_cqe, 64)					\
	X(struct spatten_hw_cqe, bytes_q, 0x00)				\
	X(struct spatten_hw_cqe, bytes_k_msb, 0x08)			\
	X(struct spatten_hw_cqe, bytes_k_lsb, 0x10)			\
	X(struct spatten_hw_cqe, bytes_v, 0x18)				\
	X(struct spatten_hw_cqe, bytes_written, 0x20)			\
	X(struct spatten_hw_cqe, cycles, 0x28)				\
	X(struct spatten_hw_cqe, lsb_refetches, 0x30)			\
	X(struct spatten_hw_cqe, tag, 0x34)				\
	X(struct spatten_hw_cqe, sq_head, 0x38)				\
	X(struct spatten_hw_cqe, sq_id, 0x3a)				\
	X(struct spatten_hw_cqe, status, 0x3c)				\
	X(struct spatten_hw_cqe, flags, 0x3e)				\
	S(struct drm_spatten_info, 104)					\
	X(struct drm_spatten_info, api_version, 0)			\
	X(struct drm_spatten_info, hw_version, 4)			\
	X(struct drm_spatten_info, vendor_id, 8)			\
	X(struct drm_spatten_info, device_id, 10)			\
	X(struct drm_spatten_info, num_engines, 12)			\
	X(struct drm_spatten_info, num_queues, 16)			\
	X(struct drm_spatten_info, queue_depth, 20)			\
	X(struct drm_spatten_info, max_context, 24)			\
	X(struct drm_spatten_info, max_heads, 28)			\
	X(struct drm_spatten_info, head_dims, 32)			\
	X(struct drm_spatten_info, formats, 36)				\
	X(struct drm_spatten_info, splits, 40)				\
	X(struct drm_spatten_info, features, 44)			\
	X(struct drm_spatten_info, dma_bits, 48)			\
	X(struct drm_spatten_info, max_submit, 52)			\
	X(struct drm_spatten_info, max_bo_size, 56)			\
	X(struct drm_spatten_info, max_jobs, 64)			\
	X(struct drm_spatten_info, job_timeout_ms, 68)			\
	X(struct drm_spatten_info, flags, 72)				\
	X(struct drm_spatten_info, rsvd0, 76)				\
	X(struct drm_spatten_info, rsvd, 80)				\
	S(struct drm_spatten_bo_create, 24)				\
	X(struct drm_spatten_bo_create, size, 0)			\
	X(struct drm_spatten_bo_create, flags, 8)			\
	X(struct drm_spatten_bo_create, handle, 12)			\
	X(struct drm_spatten_bo_create, mmap_offset, 16)		\
	S(struct drm_spatten_bo_userptr, 24)				\
	X(struct drm_spatten_bo_userptr, user_ptr, 0)			\
	X(struct drm_spatten_bo_userptr, size, 8)			\
	X(struct drm_spatten_bo_userptr, flags, 16)			\
	X(struct drm_spatten_bo_userptr, handle, 20)			\
	S(struct drm_spatten_bo_info, 32)				\
	X(struct drm_spatten_bo_info, handle, 0)			\
	X(struct drm_spatten_bo_info, flags, 4)				\
	X(struct drm_spatten_bo_info, size, 8)				\
	X(struct drm_spatten_bo_info, mmap_offset, 16)			\
	X(struct drm_spatten_bo_info, kind, 24)				\
	X(struct drm_spatten_bo_info, rsvd, 28)				\
	S(struct drm_spatten_tensor, 16)				\
	X(struct drm_spatten_tensor, handle, 0)				\
	X(struct drm_spatten_tensor, flags, 4)				\
	X(struct drm_spatten_tensor, offset, 8)				\
	S(struct drm_spatten_job, 392)					\
	X(struct drm_spatten_job, opcode, 0)				\
	X(struct drm_spatten_job, stage, 2)				\
	X(struct drm_spatten_job, version, 3)				\
	X(struct drm_spatten_job, flags, 4)				\
	X(struct drm_spatten_job, n_heads, 8)				\
	X(struct drm_spatten_job, head_dim, 10)				\
	X(struct drm_spatten_job, q_rows, 12)				\
	X(struct drm_spatten_job, kv_rows, 14)				\
	X(struct drm_spatten_job, q_start, 16)				\
	X(struct drm_spatten_job, rsvd0, 18)				\
	X(struct drm_spatten_job, q_fmt, 20)				\
	X(struct drm_spatten_job, q_frac, 21)				\
	X(struct drm_spatten_job, k_fmt, 22)				\
	X(struct drm_spatten_job, k_frac, 23)				\
	X(struct drm_spatten_job, v_fmt, 24)				\
	X(struct drm_spatten_job, v_frac, 25)				\
	X(struct drm_spatten_job, out_fmt, 26)				\
	X(struct drm_spatten_job, out_frac, 27)				\
	X(struct drm_spatten_job, rsvd1, 28)				\
	X(struct drm_spatten_job, q, 32)				\
	X(struct drm_spatten_job, k, 48)				\
	X(struct drm_spatten_job, v, 64)				\
	X(struct drm_spatten_job, out, 80)				\
	X(struct drm_spatten_job, k_lsb, 96)				\
	X(struct drm_spatten_job, tok_imp, 112)				\
	X(struct drm_spatten_job, tok_alive, 128)			\
	X(struct drm_spatten_job, tok_kept, 144)			\
	X(struct drm_spatten_job, pinned, 160)				\
	X(struct drm_spatten_job, head_imp, 176)			\
	X(struct drm_spatten_job, head_alive, 192)			\
	X(struct drm_spatten_job, head_kept, 208)			\
	X(struct drm_spatten_job, n_tok_alive, 224)			\
	X(struct drm_spatten_job, token_keep, 226)			\
	X(struct drm_spatten_job, n_pinned, 228)			\
	X(struct drm_spatten_job, n_head_alive, 230)			\
	X(struct drm_spatten_job, head_keep, 232)			\
	X(struct drm_spatten_job, value_keep, 234)			\
	X(struct drm_spatten_job, lsb_threshold, 236)			\
	X(struct drm_spatten_job, rsvd2, 238)				\
	X(struct drm_spatten_job, topk_seed, 240)			\
	X(struct drm_spatten_job, rsvd3, 244)				\
	X(struct drm_spatten_job, user_data, 248)			\
	X(struct drm_spatten_job, rsvd, 256)				\
	X(struct drm_spatten_job, q_rows32, 288)			\
	X(struct drm_spatten_job, kv_rows32, 292)			\
	X(struct drm_spatten_job, q_start32, 296)			\
	X(struct drm_spatten_job, n_tok_alive32, 300)			\
	X(struct drm_spatten_job, token_keep32, 304)			\
	X(struct drm_spatten_job, n_pinned32, 308)			\
	X(struct drm_spatten_job, value_keep32, 312)			\
	X(struct drm_spatten_job, n_kv_heads, 316)			\
	X(struct drm_spatten_job, rsvd4, 318)				\
	X(struct drm_spatten_job, score_scale, 320)			\
	X(struct drm_spatten_job, rope_base, 324)			\
	X(struct drm_spatten_job, kv_head_stride, 328)			\
	X(struct drm_spatten_job, kv_row_stride, 332)			\
	X(struct drm_spatten_job, kv_block_stride, 336)			\
	X(struct drm_spatten_job, kv_block_rows, 340)			\
	X(struct drm_spatten_job, block_table, 344)			\
	X(struct drm_spatten_job, positions, 360)			\
	X(struct drm_spatten_job, head_fracs, 376)			\
	S(struct drm_spatten_sync, 16)					\
	X(struct drm_spatten_sync, handle, 0)				\
	X(struct drm_spatten_sync, flags, 4)				\
	X(struct drm_spatten_sync, point, 8)				\
	S(struct drm_spatten_submit, 64)				\
	X(struct drm_spatten_submit, jobs_ptr, 0)			\
	X(struct drm_spatten_submit, job_size, 8)			\
	X(struct drm_spatten_submit, count, 12)				\
	X(struct drm_spatten_submit, flags, 16)				\
	X(struct drm_spatten_submit, rsvd0, 20)				\
	X(struct drm_spatten_submit, in_syncs_ptr, 24)			\
	X(struct drm_spatten_submit, out_syncs_ptr, 32)			\
	X(struct drm_spatten_submit, in_sync_count, 40)			\
	X(struct drm_spatten_submit, out_sync_count, 44)		\
	X(struct drm_spatten_submit, seqno, 48)				\
	X(struct drm_spatten_submit, submitted, 56)			\
	X(struct drm_spatten_submit, rsvd, 60)				\
	S(struct drm_spatten_result, 96)				\
	X(struct drm_spatten_result, seqno, 0)				\
	X(struct drm_spatten_result, user_data, 8)			\
	X(struct drm_spatten_result, status, 16)			\
	X(struct drm_spatten_result, lsb_refetches, 20)			\
	X(struct drm_spatten_result, bytes_q, 24)			\
	X(struct drm_spatten_result, bytes_k_msb, 32)			\
	X(struct drm_spatten_result, bytes_k_lsb, 40)			\
	X(struct drm_spatten_result, bytes_v, 48)			\
	X(struct drm_spatten_result, bytes_written, 56)			\
	X(struct drm_spatten_result, cycles, 64)			\
	X(struct drm_spatten_result, engine_ns, 72)			\
	X(struct drm_spatten_result, rsvd, 80)				\
	S(struct drm_spatten_wait, 120)					\
	X(struct drm_spatten_wait, seqno, 0)				\
	X(struct drm_spatten_wait, timeout_ns, 8)			\
	X(struct drm_spatten_wait, flags, 16)				\
	X(struct drm_spatten_wait, rsvd, 20)				\
	X(struct drm_spatten_wait, result, 24)				\
	S(struct drm_spatten_reap, 40)					\
	X(struct drm_spatten_reap, results_ptr, 0)			\
	X(struct drm_spatten_reap, count, 8)				\
	X(struct drm_spatten_reap, min_count, 12)			\
	X(struct drm_spatten_reap, timeout_ns, 16)			\
	X(struct drm_spatten_reap, flags, 24)				\
	X(struct drm_spatten_reap, reaped, 28)				\
	X(struct drm_spatten_reap, pending, 32)				\
	X(struct drm_spatten_reap, result_size, 36)				\
	S(struct drm_spatten_counters, 136)				\
	X(struct drm_spatten_counters, flags, 0)			\
	X(struct drm_spatten_counters, num, 4)				\
	X(struct drm_spatten_counters, value, 8)

/*
 * I(name, full ioctl number, argument size): DRM_IOWR('d', 0x40 + nr),
 * read-write (3 << 30), the size in bits 16..29.
 */
#define IOCTLS(I)							\
	I(DRM_IOCTL_SPATTEN_INFO, 0xc0686440u, 104)			\
	I(DRM_IOCTL_SPATTEN_BO_CREATE, 0xc0186441u, 24)			\
	I(DRM_IOCTL_SPATTEN_BO_USERPTR, 0xc0186442u, 24)		\
	I(DRM_IOCTL_SPATTEN_BO_INFO, 0xc0206443u, 32)			\
	I(DRM_IOCTL_SPATTEN_SUBMIT, 0xc0406444u, 64)			\
	I(DRM_IOCTL_SPATTEN_WAIT, 0xc0786445u, 120)			\
	I(DRM_IOCTL_SPATTEN_REAP, 0xc0286446u, 40)			\
	I(DRM_IOCTL_SPATTEN_COUNTERS, 0xc0886447u, 136)

/*
 * E(UAPI constant, hardware constant): the driver passes these to and
 * from the device unchanged, so they must be the same numbers.
 */
#define SAME_AS_HW(E)							\
	E(DRM_SPATTEN_OP_NOP, SPATTEN_OP_NOP)				\
	E(DRM_SPATTEN_OP_ATTENTION, SPATTEN_OP_ATTENTION)		\
	E(DRM_SPATTEN_STAGE_SUMMARIZATION, SPATTEN_STAGE_SUMMARIZATION)	\
	E(DRM_SPATTEN_STAGE_GENERATION, SPATTEN_STAGE_GENERATION)	\
	E(DRM_SPATTEN_JOB_CAUSAL, SPATTEN_DESC_F_CAUSAL)		\
	E(DRM_SPATTEN_JOB_PROGRESSIVE, SPATTEN_DESC_F_PROGRESSIVE)	\
	E(DRM_SPATTEN_DESC_V1, SPATTEN_DESC_VERSION_MIN)		\
	E(DRM_SPATTEN_DESC_V2, SPATTEN_DESC_VERSION)			\
	E(DRM_SPATTEN_DESC_V3, SPATTEN_DESC_VERSION_V3)			\
	E(DRM_SPATTEN_JOB_ROPE, SPATTEN_DESC_F_ROPE)			\
	E(DRM_SPATTEN_JOB_ROPE_POSITIONS, SPATTEN_DESC_F_ROPE_POSITIONS)	\
	E(DRM_SPATTEN_FMT_S16, SPATTEN_FMT_S16)				\
	E(DRM_SPATTEN_FMT_S4, SPATTEN_FMT_S4)				\
	E(DRM_SPATTEN_FMT_S6, SPATTEN_FMT_S6)				\
	E(DRM_SPATTEN_FMT_S8, SPATTEN_FMT_S8)				\
	E(DRM_SPATTEN_FMT_S10, SPATTEN_FMT_S10)				\
	E(DRM_SPATTEN_FMT_S12, SPATTEN_FMT_S12)				\
	E(DRM_SPATTEN_STATUS_OK, SPATTEN_HW_OK)				\
	E(DRM_SPATTEN_STATUS_ERR_OPCODE, SPATTEN_HW_ERR_OPCODE)		\
	E(DRM_SPATTEN_STATUS_ERR_VERSION, SPATTEN_HW_ERR_VERSION)	\
	E(DRM_SPATTEN_STATUS_ERR_FLAGS, SPATTEN_HW_ERR_FLAGS)		\
	E(DRM_SPATTEN_STATUS_ERR_RESERVED, SPATTEN_HW_ERR_RESERVED)	\
	E(DRM_SPATTEN_STATUS_ERR_SHAPE, SPATTEN_HW_ERR_SHAPE)		\
	E(DRM_SPATTEN_STATUS_ERR_POSITION, SPATTEN_HW_ERR_POSITION)	\
	E(DRM_SPATTEN_STATUS_ERR_FORMAT, SPATTEN_HW_ERR_FORMAT)		\
	E(DRM_SPATTEN_STATUS_ERR_BUFFER, SPATTEN_HW_ERR_BUFFER)		\
	E(DRM_SPATTEN_STATUS_ERR_PAGE_LIST, SPATTEN_HW_ERR_PAGE_LIST)	\
	E(DRM_SPATTEN_STATUS_ERR_DMA_READ, SPATTEN_HW_ERR_DMA_READ)	\
	E(DRM_SPATTEN_STATUS_ERR_DMA_WRITE, SPATTEN_HW_ERR_DMA_WRITE)	\
	E(DRM_SPATTEN_STATUS_ERR_NO_MEMORY, SPATTEN_HW_ERR_NO_MEMORY)	\
	E(DRM_SPATTEN_STATUS_ABORTED, SPATTEN_HW_ERR_ABORTED)		\
	E(DRM_SPATTEN_STATUS_ERR_KEEP, SPATTEN_HW_ERR_KEEP)		\
	E(DRM_SPATTEN_STATUS_ERR_LIST, SPATTEN_HW_ERR_LIST)		\
	E(DRM_SPATTEN_STATUS_ERR_LAYOUT, SPATTEN_HW_ERR_LAYOUT)		\
	E(DRM_SPATTEN_STATUS_ERR_BLOCK, SPATTEN_HW_ERR_BLOCK)		\
	E(DRM_SPATTEN_STATUS_ERR_PARAM, SPATTEN_HW_ERR_PARAM)		\
	E(DRM_SPATTEN_FEAT_CAUSAL, SPATTEN_FEAT_CAUSAL)			\
	E(DRM_SPATTEN_FEAT_GENERATION, SPATTEN_FEAT_GENERATION)		\
	E(DRM_SPATTEN_FEAT_PAGE_LIST, SPATTEN_FEAT_PAGE_LIST)		\
	E(DRM_SPATTEN_FEAT_INTX, SPATTEN_FEAT_INTX)			\
	E(DRM_SPATTEN_FEAT_TOKEN_PRUNE, SPATTEN_FEAT_TOKEN_PRUNE)	\
	E(DRM_SPATTEN_FEAT_HEAD_PRUNE, SPATTEN_FEAT_HEAD_PRUNE)		\
	E(DRM_SPATTEN_FEAT_VALUE_PRUNE, SPATTEN_FEAT_VALUE_PRUNE)	\
	E(DRM_SPATTEN_FEAT_PROGRESSIVE, SPATTEN_FEAT_PROGRESSIVE)	\
	E(DRM_SPATTEN_FEAT_DESC_V3, SPATTEN_FEAT_DESC_V3)		\
	E(DRM_SPATTEN_FEAT_GQA, SPATTEN_FEAT_GQA)			\
	E(DRM_SPATTEN_FEAT_KV_LAYOUT, SPATTEN_FEAT_KV_LAYOUT)		\
	E(DRM_SPATTEN_FEAT_ROPE, SPATTEN_FEAT_ROPE)			\
	E(DRM_SPATTEN_FEAT_CHUNKS, SPATTEN_FEAT_CHUNKS)			\
	E(DRM_SPATTEN_FEAT_IMP_PER_KV_HEAD, SPATTEN_FEAT_IMP_PER_KV_HEAD) \
	E(DRM_SPATTEN_JOB_IMP_PER_KV_HEAD, SPATTEN_DESC_F_IMP_PER_KV_HEAD) \
	E(DRM_SPATTEN_CNT_JOBS_OK, SPATTEN_CNT_JOBS_OK)			\
	E(DRM_SPATTEN_CNT_JOBS_ERR, SPATTEN_CNT_JOBS_ERR)		\
	E(DRM_SPATTEN_CNT_BYTES_Q, SPATTEN_CNT_BYTES_Q)			\
	E(DRM_SPATTEN_CNT_BYTES_K_MSB, SPATTEN_CNT_BYTES_K_MSB)		\
	E(DRM_SPATTEN_CNT_BYTES_K_LSB, SPATTEN_CNT_BYTES_K_LSB)		\
	E(DRM_SPATTEN_CNT_BYTES_V, SPATTEN_CNT_BYTES_V)			\
	E(DRM_SPATTEN_CNT_BYTES_WRITTEN, SPATTEN_CNT_BYTES_WRITTEN)	\
	E(DRM_SPATTEN_CNT_LSB_REFETCHES, SPATTEN_CNT_LSB_REFETCHES)	\
	E(DRM_SPATTEN_CNT_CYCLES, SPATTEN_CNT_CYCLES)			\
	E(DRM_SPATTEN_CNT_BYTES_META, SPATTEN_CNT_BYTES_META)		\
	E(DRM_SPATTEN_CNT_HW_NUM, SPATTEN_CNT_NUM)

/* V(constant, value): the driver's own numbers, pinned. */
#define VALUES(V)							\
	V(DRM_SPATTEN_API_VERSION, 6)					\
	V(DRM_SPATTEN_RESULT_SIZE_V3, 96)				\
	V(DRM_SPATTEN_MAX_SUBMIT, 64)					\
	V(DRM_SPATTEN_MAX_SYNCS, 16)					\
	V(DRM_SPATTEN_REAP_MAX, 256)					\
	V(DRM_SPATTEN_STATUS_TIMEOUT, 256)				\
	V(DRM_SPATTEN_STATUS_CANCELED, 257)				\
	V(DRM_SPATTEN_CNT_RESETS, 10)					\
	V(DRM_SPATTEN_CNT_TIMEOUTS, 11)					\
	V(DRM_SPATTEN_CNT_IRQS_DROPPED, 12)				\
	V(DRM_SPATTEN_CNT_NUM, 13)					\
	V(DRM_SPATTEN_CNT_MAX, 16)					\
	V(DRM_SPATTEN_BO_SHMEM, 1)					\
	V(DRM_SPATTEN_BO_USER, 2)					\
	V(DRM_SPATTEN_BO_IMPORTED, 3)					\
	V(DRM_SPATTEN_SYNC_TIMELINE, 1)					\
	V(DRM_SPATTEN_SUBMIT_NO_IMPLICIT, 1)

#ifdef LAYOUT_STATIC_ONLY

#define STATIC_FIELD(t, f, o) \
	_Static_assert(offsetof(t, f) == (o), #t "." #f " offset");
#define STATIC_SIZE(t, s) _Static_assert(sizeof(t) == (s), #t " size");
#define STATIC_IOCTL(n, v, s)						\
	_Static_assert(_IOC_SIZE(n) == (s), #n " size");		\
	_Static_assert((n) == (v), #n " number");
#define STATIC_SAME(u, h) _Static_assert((u) == (h), #u " == " #h);
#define STATIC_VALUE(c, v) _Static_assert((c) == (v), #c " == " #v);

LAYOUT(STATIC_FIELD, STATIC_SIZE)
IOCTLS(STATIC_IOCTL)
SAME_AS_HW(STATIC_SAME)
VALUES(STATIC_VALUE)

#else /* TAP test */

#include "tap.h"

#define CHECK_FIELD(t, f, o)						\
	ok(offsetof(t, f) == (o), "offsetof(%s, %s) == %d (got %zu)",	\
	   #t, #f, (int)(o), offsetof(t, f));
#define CHECK_SIZE(t, s)						\
	ok(sizeof(t) == (s), "sizeof(%s) == %d (got %zu)", #t, (int)(s), \
	   sizeof(t));
#define CHECK_IOCTL(n, v, s)						\
	ok(_IOC_SIZE(n) == (s) && (unsigned int)(n) == (v),		\
	   "%s: _IOC_SIZE %d, number 0x%08x (got %u, 0x%08x)", #n,	\
	   (int)(s), (unsigned int)(v), (unsigned int)_IOC_SIZE(n),	\
	   (unsigned int)(n));
#define CHECK_SAME(u, h)						\
	ok((long long)(u) == (long long)(h), "%s == %s (%lld, %lld)",	\
	   #u, #h, (long long)(u), (long long)(h));
#define CHECK_VALUE(c, v)						\
	ok((long long)(c) == (long long)(v), "%s == %s (got %lld)", #c,	\
	   #v, (long long)(c));

static void test_struct_layouts(void)
{
	LAYOUT(CHECK_FIELD, CHECK_SIZE)
}

static void test_ioctl_numbers(void)
{
	IOCTLS(CHECK_IOCTL)
}

static void test_same_as_hardware(void)
{
	SAME_AS_HW(CHECK_SAME)
}

static void test_driver_constants(void)
{
	VALUES(CHECK_VALUE)
}

static void test_array_lengths(void)
{
	struct drm_spatten_counters c;
	struct drm_spatten_result r;
	struct drm_spatten_info in;
	struct drm_spatten_job j;

	ok(sizeof(j.rsvd) / sizeof(j.rsvd[0]) == 4,
	   "drm_spatten_job.rsvd has 4 words");
	ok(sizeof(in.rsvd) / sizeof(in.rsvd[0]) == 3,
	   "drm_spatten_info.rsvd has 3 words");
	ok(sizeof(r.rsvd) / sizeof(r.rsvd[0]) == 2,
	   "drm_spatten_result.rsvd has 2 words");
	ok(sizeof(c.value) / sizeof(c.value[0]) == DRM_SPATTEN_CNT_MAX &&
	   DRM_SPATTEN_CNT_MAX >= DRM_SPATTEN_CNT_NUM,
	   "drm_spatten_counters.value holds all DRM_SPATTEN_CNT_NUM counters");
	ok(sizeof(j) % 8 == 0 && sizeof(j) <= 4096,
	   "sizeof(struct drm_spatten_job) is a valid SUBMIT job_size");
}

int main(void)
{
	test_struct_layouts();
	test_ioctl_numbers();
	test_same_as_hardware();
	test_driver_constants();
	test_array_lengths();
	return done_testing();
}

#endif /* LAYOUT_STATIC_ONLY */
