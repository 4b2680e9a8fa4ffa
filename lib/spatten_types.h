/* SPDX-License-Identifier: MIT */
/*
 * libspatten: the job, result, capability and counter structures of the
 * API, installed next to libspatten.h (which includes this file).
 *
 * They were the ioctl structures of the first driver (include/uapi/spatten.h
 * of /dev/spatten<N>) and keep their names, fields and layouts, so programs
 * written against them build unchanged. The library converts them to and
 * from the driver's UAPI (include/uapi/drm/spatten_accel.h); struct
 * spatten_job and struct spatten_tensor have exactly the layout of struct
 * drm_spatten_job and struct drm_spatten_tensor (lib/job.c asserts it), so
 * jobs reach the driver without a copy. No kernel header is needed here.
 *
 * Every 64-bit field is 8-aligned and every struct is padded explicitly:
 * the layouts are the same for 32- and 64-bit programs.
 */
#ifndef SPATTEN_TYPES_H
#define SPATTEN_TYPES_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Version of the driver interface the library speaks: struct spatten_info
 * @api_version of the device (the driver's DRM_SPATTEN_API_VERSION) and of
 * the simulation. spatten_open() takes a driver of interface 4 or later
 * (version 1 and 2 jobs); version-3 jobs and sessions need 5 (-EOPNOTSUPP
 * otherwise); chunks and importance per KV head need 6, whose driver
 * checks them: an older driver's features lose those two bits.
 */
#define SPATTEN_API_VERSION		6

/**
 * struct spatten_info - what the board is and can do (spatten_get_info())
 * @api_version: SPATTEN_API_VERSION of the driver
 * @hw_version: device VERSION register (major << 16 | minor)
 * @vendor_id: PCI vendor ID
 * @device_id: PCI device ID
 * @num_engines: compute engines
 * @num_queues: hardware queues the driver uses
 * @queue_depth: entries per submission queue
 * @max_context: largest kv_rows
 * @max_heads: largest n_heads
 * @head_dims: bit n set: head_dim 1 << n is supported
 * @formats: bit n set: element format n (enum spatten_format) is supported
 * @splits: bit n set: keys of n MSBs + 4 LSBs are supported (progressive)
 * @features: SPATTEN_FEAT_* of the hardware
 * @dma_bits: DMA address width of the device
 * @rsvd0: zero
 * @max_bo_size: largest buffer object in bytes
 * @rsvd: zero
 */
struct spatten_info {
	uint32_t api_version;
	uint32_t hw_version;
	uint16_t vendor_id;
	uint16_t device_id;
	uint32_t num_engines;
	uint32_t num_queues;
	uint32_t queue_depth;
	uint32_t max_context;
	uint32_t max_heads;
	uint32_t head_dims;
	uint32_t formats;
	uint32_t splits;
	uint32_t features;
	uint32_t dma_bits;
	uint32_t rsvd0;
	uint64_t max_bo_size;
	uint64_t rsvd[4];
};

/**
 * struct spatten_tensor - an operand of a job: buffer handle plus offset
 * @handle: spatten_bo_handle() of a buffer of the device; 0 = absent
 * @flags: must be zero
 * @offset: byte offset in the buffer: 8-aligned for importance arrays,
 *	2-aligned for S16 tensors and u16 lists, any for packed formats
 */
struct spatten_tensor {
	uint32_t handle;
	uint32_t flags;
	uint64_t offset;
};

/**
 * struct spatten_job - one job: one layer of attention of one sequence.
 * spatten_attn_prep() and spatten_nop_prep() fill it. It mirrors struct
 * spatten_hw_desc (docs/hardware.md) with operands named by buffer handle
 * instead of device address. An operand is present when its handle is not
 * 0; each optional operand is required exactly when its count or flag
 * says so (docs/uapi.md).
 * @opcode: enum spatten_opcode
 * @stage: enum spatten_stage
 * @version: SPATTEN_DESC_VERSION (1 is accepted with every v2 field zero)
 * @flags: SPATTEN_DESC_F_*
 * @n_heads: heads
 * @head_dim: D
 * @q_rows: L0
 * @kv_rows: L1
 * @q_start: absolute position of query row 0
 * @rsvd0: must be zero
 * @q_fmt: enum spatten_format of Q (S16)
 * @q_frac: fractional bits of Q
 * @k_fmt: format of K (of its MSB plane with SPATTEN_DESC_F_PROGRESSIVE)
 * @k_frac: fractional bits of K (of MSBs and LSBs together when progressive)
 * @v_fmt: format of V
 * @v_frac: fractional bits of V
 * @out_fmt: format of the output (S16)
 * @out_frac: fractional bits of the output
 * @rsvd1: must be zero
 * @q: query tensor
 * @k: key tensor (MSB plane)
 * @v: value tensor
 * @out: output tensor, written by the device
 * @k_lsb: K LSB plane, with SPATTEN_DESC_F_PROGRESSIVE only
 * @tok_imp: u64[kv_rows] cumulative token importance, read and written
 * @tok_alive: u16[n_tok_alive] tokens alive before this layer, ascending
 * @tok_kept: u16[token_keep] tokens kept, written
 * @pinned: u16[n_pinned] tokens never pruned
 * @head_imp: u64[n_heads] cumulative head importance, read and written
 * @head_alive: u16[n_head_alive] heads alive before this layer, ascending
 * @head_kept: u16[head_keep] heads kept for later layers, written
 * @n_tok_alive: entries of @tok_alive; 0 = every token alive
 * @token_keep: tokens to keep; 0 = no token pruning
 * @n_pinned: entries of @pinned
 * @n_head_alive: entries of @head_alive; 0 = every head alive
 * @head_keep: heads to keep; 0 = no head pruning
 * @value_keep: V rows kept per head and query; 0 = no value pruning
 * @lsb_threshold: progressive: refetch LSBs when max prob < this / 2^15
 * @rsvd2: must be zero
 * @topk_seed: seed of the top-k engine's pivot sequence
 * @rsvd3: must be zero
 * @user_data: opaque, returned in the job's result
 * @rsvd: must be zero
 */
struct spatten_job {
	uint16_t opcode;
	uint8_t stage;
	uint8_t version;
	uint32_t flags;
	uint16_t n_heads;
	uint16_t head_dim;
	uint16_t q_rows;
	uint16_t kv_rows;
	uint16_t q_start;
	uint16_t rsvd0;
	uint8_t q_fmt;
	uint8_t q_frac;
	uint8_t k_fmt;
	uint8_t k_frac;
	uint8_t v_fmt;
	uint8_t v_frac;
	uint8_t out_fmt;
	uint8_t out_frac;
	uint32_t rsvd1;
	struct spatten_tensor q;
	struct spatten_tensor k;
	struct spatten_tensor v;
	struct spatten_tensor out;
	struct spatten_tensor k_lsb;
	struct spatten_tensor tok_imp;
	struct spatten_tensor tok_alive;
	struct spatten_tensor tok_kept;
	struct spatten_tensor pinned;
	struct spatten_tensor head_imp;
	struct spatten_tensor head_alive;
	struct spatten_tensor head_kept;
	uint16_t n_tok_alive;
	uint16_t token_keep;
	uint16_t n_pinned;
	uint16_t n_head_alive;
	uint16_t head_keep;
	uint16_t value_keep;
	uint16_t lsb_threshold;
	uint16_t rsvd2;
	uint32_t topk_seed;
	uint32_t rsvd3;
	uint64_t user_data;
	uint64_t rsvd[4];
};

/**
 * struct spatten_job3 - a job of descriptor version 3 (API 5: LLM shapes):
 * struct spatten_job followed by the fields version 3 adds, exactly the
 * layout of struct drm_spatten_job of API 5. spatten_attn_prep3() fills it.
 *
 * In @job, @version is SPATTEN_DESC_VERSION_V3 and the 16-bit q_rows,
 * kv_rows, q_start, n_tok_alive, token_keep, n_pinned and value_keep are
 * zero: the 32-bit fields below replace them; every list holds uint32_t
 * entries.
 * @job: the version 1/2 part
 * @q_rows32: query rows
 * @kv_rows32: key/value rows (token slots)
 * @q_start32: slot of query row 0
 * @n_tok_alive32: entries of @job.tok_alive
 * @token_keep32: tokens to keep
 * @n_pinned32: entries of @job.pinned
 * @value_keep32: V rows kept per head and query
 * @n_kv_heads: K/V heads, dividing @job.n_heads
 * @rsvd4: must be zero
 * @score_scale: IEEE binary32 bits of the softmax scale, 0 = 1/sqrt(D)
 * @rope_base: with SPATTEN_DESC_F_ROPE, the RoPE base; else 0
 * @kv_head_stride: rows between KV heads in K, K-LSB and V
 * @kv_row_stride: rows between token slots (all four layout fields 0:
 *	packed)
 * @kv_block_stride: paged: rows per block number
 * @kv_block_rows: paged: slots per block (a power of two); 0: not paged
 * @block_table: paged: uint32_t block numbers
 * @positions: with SPATTEN_DESC_F_ROPE_POSITIONS: uint32_t[kv_rows32]
 * @head_fracs: with SPATTEN_DESC_F_HEAD_FRACS: uint8_t fractional bits
 *	per head ([n_heads] Q, [n_heads] output, [n_kv_heads] K,
 *	[n_kv_heads] V)
 */
struct spatten_job3 {
	struct spatten_job job;
	uint32_t q_rows32;
	uint32_t kv_rows32;
	uint32_t q_start32;
	uint32_t n_tok_alive32;
	uint32_t token_keep32;
	uint32_t n_pinned32;
	uint32_t value_keep32;
	uint16_t n_kv_heads;
	uint16_t rsvd4;
	uint32_t score_scale;
	uint32_t rope_base;
	uint32_t kv_head_stride;
	uint32_t kv_row_stride;
	uint32_t kv_block_stride;
	uint32_t kv_block_rows;
	struct spatten_tensor block_table;
	struct spatten_tensor positions;
	struct spatten_tensor head_fracs;
};

/* Most jobs one spatten_submit() takes. */
#define SPATTEN_MAX_SUBMIT		64

/*
 * Job statuses reported by the driver only (@status of struct spatten_wait
 * and struct spatten_result), in addition to enum spatten_hw_status:
 *  - SPATTEN_STATUS_TIMEOUT: the job ran longer than the driver's job
 *    timeout; the device was reset (jobs of other contexts that were on the
 *    device then end with SPATTEN_HW_ERR_ABORTED) and this context is
 *    banned: its later submits fail with -ECANCELED;
 *  - SPATTEN_STATUS_CANCELED: the job never ran: its context was banned
 *    after a hang, or the device went away (unbind, removal).
 */
#define SPATTEN_STATUS_TIMEOUT		256
#define SPATTEN_STATUS_CANCELED		257

/**
 * struct spatten_wait - a job's completion, as spatten_reap() returns it
 * @seqno: sequence number from spatten_submit()
 * @timeout_ns: zero (the deadline of the first driver's WAIT ioctl)
 * @flags: zero
 * @status: enum spatten_hw_status of the job, or SPATTEN_STATUS_*
 * @user_data: from the job
 * @bytes_q: bytes the device read from Q
 * @bytes_k_msb: bytes read from the K MSB plane
 * @bytes_k_lsb: bytes read from the K LSB plane
 * @bytes_v: bytes read from V
 * @bytes_written: bytes written
 * @cycles: modeled device cycles
 * @lsb_refetches: (head, query) rows recomputed with the K LSBs
 * @rsvd0: zero
 * @rsvd: zero
 */
struct spatten_wait {
	uint64_t seqno;
	int64_t timeout_ns;
	uint32_t flags;
	uint32_t status;
	uint64_t user_data;
	uint64_t bytes_q;
	uint64_t bytes_k_msb;
	uint64_t bytes_k_lsb;
	uint64_t bytes_v;
	uint64_t bytes_written;
	uint64_t cycles;
	uint32_t lsb_refetches;
	uint32_t rsvd0;
	uint64_t rsvd[1];
};

/*
 * Counters of the driver, after the device's SPATTEN_CNT_* (0 ..
 * SPATTEN_CNT_NUM - 1, spatten_hw.h) in struct spatten_counters @value.
 */
#define SPATTEN_CNT_RESETS		10	/* device resets */
#define SPATTEN_CNT_TIMEOUTS		11	/* jobs that timed out */
#define SPATTEN_CNT_IRQS_DROPPED	12	/* fault injection (debugfs) */
#define SPATTEN_CNT_MAX			15	/* entries of @value */

/**
 * struct spatten_counters - device-wide counters (spatten_get_counters())
 * @flags: in: must be zero
 * @num: valid entries of @value: 13 from the driver and the simulation
 *	(the device's SPATTEN_CNT_NUM, then SPATTEN_CNT_RESETS,
 *	SPATTEN_CNT_TIMEOUTS and SPATTEN_CNT_IRQS_DROPPED)
 * @value: counters, indexed by SPATTEN_CNT_*
 */
struct spatten_counters {
	uint32_t flags;
	uint32_t num;
	uint64_t value[SPATTEN_CNT_MAX];
};

#ifdef __cplusplus
}
#endif

#endif /* SPATTEN_TYPES_H */
