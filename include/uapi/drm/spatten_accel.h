/* SPDX-License-Identifier: ((GPL-2.0 WITH Linux-syscall-note) OR MIT) */
/*
 * Copyright (C) 2026 The SpAtten stack authors
 *
 * Userspace API of the SpAtten sparse-attention accelerator driver: the
 * ioctls of /dev/accel/accel<N> (or of a DRM render node on kernels without
 * the accel subsystem). docs/uapi.md describes each call and its errors;
 * tests/host/test_layout.c pins every size and offset.
 */
#ifndef __UAPI_SPATTEN_ACCEL_H__
#define __UAPI_SPATTEN_ACCEL_H__

#include "drm.h"

#if defined(__cplusplus)
extern "C" {
#endif

#define DRM_SPATTEN_API_VERSION		6

#define DRM_SPATTEN_INFO		0x00
#define DRM_SPATTEN_BO_CREATE		0x01
#define DRM_SPATTEN_BO_USERPTR		0x02
#define DRM_SPATTEN_BO_INFO		0x03
#define DRM_SPATTEN_SUBMIT		0x04
#define DRM_SPATTEN_WAIT		0x05
#define DRM_SPATTEN_REAP		0x06
#define DRM_SPATTEN_COUNTERS		0x07

#define DRM_IOCTL_SPATTEN_INFO \
	DRM_IOWR(DRM_COMMAND_BASE + DRM_SPATTEN_INFO, struct drm_spatten_info)
#define DRM_IOCTL_SPATTEN_BO_CREATE \
	DRM_IOWR(DRM_COMMAND_BASE + DRM_SPATTEN_BO_CREATE, \
		 struct drm_spatten_bo_create)
#define DRM_IOCTL_SPATTEN_BO_USERPTR \
	DRM_IOWR(DRM_COMMAND_BASE + DRM_SPATTEN_BO_USERPTR, \
		 struct drm_spatten_bo_userptr)
#define DRM_IOCTL_SPATTEN_BO_INFO \
	DRM_IOWR(DRM_COMMAND_BASE + DRM_SPATTEN_BO_INFO, \
		 struct drm_spatten_bo_info)
#define DRM_IOCTL_SPATTEN_SUBMIT \
	DRM_IOWR(DRM_COMMAND_BASE + DRM_SPATTEN_SUBMIT, \
		 struct drm_spatten_submit)
#define DRM_IOCTL_SPATTEN_WAIT \
	DRM_IOWR(DRM_COMMAND_BASE + DRM_SPATTEN_WAIT, struct drm_spatten_wait)
#define DRM_IOCTL_SPATTEN_REAP \
	DRM_IOWR(DRM_COMMAND_BASE + DRM_SPATTEN_REAP, struct drm_spatten_reap)
#define DRM_IOCTL_SPATTEN_COUNTERS \
	DRM_IOWR(DRM_COMMAND_BASE + DRM_SPATTEN_COUNTERS, \
		 struct drm_spatten_counters)

/* Hardware features (struct drm_spatten_info @features). */
#define DRM_SPATTEN_FEAT_CAUSAL		(1u << 0)
#define DRM_SPATTEN_FEAT_GENERATION	(1u << 1)
#define DRM_SPATTEN_FEAT_PAGE_LIST	(1u << 2)
#define DRM_SPATTEN_FEAT_INTX		(1u << 3)
#define DRM_SPATTEN_FEAT_TOKEN_PRUNE	(1u << 4)
#define DRM_SPATTEN_FEAT_HEAD_PRUNE	(1u << 5)
#define DRM_SPATTEN_FEAT_VALUE_PRUNE	(1u << 6)
#define DRM_SPATTEN_FEAT_PROGRESSIVE	(1u << 7)
/* API 5, hardware 1.2: descriptor version 3 and what it carries */
#define DRM_SPATTEN_FEAT_DESC_V3	(1u << 8)
#define DRM_SPATTEN_FEAT_GQA		(1u << 9)	/* n_kv_heads */
#define DRM_SPATTEN_FEAT_KV_LAYOUT	(1u << 10)	/* strided, paged */
#define DRM_SPATTEN_FEAT_ROPE		(1u << 11)	/* rotary positions */
/* API 6: version 3 generation with q_rows > 1 (chunked prefill) */
#define DRM_SPATTEN_FEAT_CHUNKS		(1u << 12)
/* API 6, v3: token importance per KV head (DRM_SPATTEN_JOB_IMP_PER_KV_HEAD) */
#define DRM_SPATTEN_FEAT_IMP_PER_KV_HEAD	(1u << 13)

/**
 * struct drm_spatten_info - DRM_IOCTL_SPATTEN_INFO: what the board can do
 * @api_version: out: DRM_SPATTEN_API_VERSION of the driver
 * @hw_version: out: device VERSION register (major << 16 | minor)
 * @vendor_id: out: PCI vendor ID
 * @device_id: out: PCI device ID
 * @num_engines: out: compute engines
 * @num_queues: out: hardware queues the driver uses (one scheduler each)
 * @queue_depth: out: ring entries per queue
 * @max_context: out: largest @kv_rows of a job
 * @max_heads: out: largest @n_heads of a job
 * @head_dims: out: bit n set: head_dim 1 << n is supported
 * @formats: out: bit n set: element format n (DRM_SPATTEN_FMT_*) is
 *	supported
 * @splits: out: bit n set: progressive keys of n + 4 MSBs are supported
 * @features: out: DRM_SPATTEN_FEAT_*
 * @dma_bits: out: DMA address width of the device
 * @max_submit: out: most jobs one SUBMIT takes
 * @max_bo_size: out: largest buffer object in bytes
 * @max_jobs: out: most unreaped jobs per open file
 * @job_timeout_ms: out: how long a job may run on an engine
 * @flags: in: must be zero
 * @rsvd0: out: zero
 * @rsvd: out: zero
 */
struct drm_spatten_info {
	__u32 api_version;
	__u32 hw_version;
	__u16 vendor_id;
	__u16 device_id;
	__u32 num_engines;
	__u32 num_queues;
	__u32 queue_depth;
	__u32 max_context;
	__u32 max_heads;
	__u32 head_dims;
	__u32 formats;
	__u32 splits;
	__u32 features;
	__u32 dma_bits;
	__u32 max_submit;
	__u64 max_bo_size;
	__u32 max_jobs;
	__u32 job_timeout_ms;
	__u32 flags;
	__u32 rsvd0;
	__u64 rsvd[3];
};

/**
 * struct drm_spatten_bo_create - DRM_IOCTL_SPATTEN_BO_CREATE: allocate a
 * zeroed buffer object
 * @size: in: bytes, rounded up to the page size; 0 or above @max_bo_size of
 *	struct drm_spatten_info is -EINVAL
 * @flags: in: must be zero
 * @handle: out: GEM handle, valid in this open file; DRM_IOCTL_GEM_CLOSE
 *	drops it, DRM_IOCTL_PRIME_HANDLE_TO_FD exports it
 * @mmap_offset: out: pass to mmap() on the same file to map the buffer
 */
struct drm_spatten_bo_create {
	__u64 size;
	__u32 flags;
	__u32 handle;
	__u64 mmap_offset;
};

/**
 * struct drm_spatten_bo_userptr - DRM_IOCTL_SPATTEN_BO_USERPTR: use user
 * memory in place as a buffer object
 * @user_ptr: in: start, page aligned. Anonymous, shmem (memfd, MAP_SHARED
 *	of /dev/shm) or hugetlb memory only, writable: a shared mapping of a
 *	regular file is -EOPNOTSUPP. The pages stay pinned, charged to
 *	RLIMIT_MEMLOCK of the calling process, until the object is freed (its
 *	last handle closed and its last job done).
 * @size: in: bytes, a non-zero multiple of the page size, at most
 *	@max_bo_size; no page may already be in another user-pointer object
 *	of this board (-EBUSY)
 * @flags: in: must be zero
 * @handle: out: GEM handle (not mmap-able through the device, not
 *	exportable: the memory is the caller's already)
 */
struct drm_spatten_bo_userptr {
	__u64 user_ptr;
	__u64 size;
	__u32 flags;
	__u32 handle;
};

/* Buffer kinds (struct drm_spatten_bo_info @kind). */
#define DRM_SPATTEN_BO_SHMEM		1	/* BO_CREATE */
#define DRM_SPATTEN_BO_USER		2	/* BO_USERPTR */
#define DRM_SPATTEN_BO_IMPORTED		3	/* PRIME import of another device */

/**
 * struct drm_spatten_bo_info - DRM_IOCTL_SPATTEN_BO_INFO: describe a handle
 * (one made by BO_CREATE, BO_USERPTR or a PRIME import)
 * @handle: in: GEM handle of this file
 * @flags: in: must be zero
 * @size: out: bytes
 * @mmap_offset: out: mmap() offset, 0 for user-pointer objects
 * @kind: out: DRM_SPATTEN_BO_*
 * @rsvd: out: zero
 */
struct drm_spatten_bo_info {
	__u32 handle;
	__u32 flags;
	__u64 size;
	__u64 mmap_offset;
	__u32 kind;
	__u32 rsvd;
};

/* Opcodes (struct drm_spatten_job @opcode). */
#define DRM_SPATTEN_OP_NOP		0	/* completes at once */
#define DRM_SPATTEN_OP_ATTENTION	1	/* one layer of attention */

/* Stages (struct drm_spatten_job @stage). */
#define DRM_SPATTEN_STAGE_SUMMARIZATION	0	/* every query at once */
#define DRM_SPATTEN_STAGE_GENERATION	1	/* new queries, KV cache */

/* Job flags (struct drm_spatten_job @flags). */
#define DRM_SPATTEN_JOB_CAUSAL		(1u << 0)
#define DRM_SPATTEN_JOB_PROGRESSIVE	(1u << 1)	/* K has an LSB plane */
#define DRM_SPATTEN_JOB_ROPE		(1u << 2)	/* v3: rotate Q and K */
#define DRM_SPATTEN_JOB_ROPE_POSITIONS	(1u << 3)	/* v3: @positions */
#define DRM_SPATTEN_JOB_HEAD_FRACS	(1u << 4)	/* v3: @head_fracs */
/* API 6, v3: @tok_imp __u64[n_kv_heads][kv_rows32], required; no token_keep */
#define DRM_SPATTEN_JOB_IMP_PER_KV_HEAD	(1u << 5)

/*
 * Element formats: signed fixed point with @*_frac fractional bits. S16 is
 * one little-endian int16 per element; Sn (n < 16) packs each row as a
 * little-endian bit stream, head_dim * n / 8 bytes. docs/hardware.md.
 */
#define DRM_SPATTEN_FMT_S16		0
#define DRM_SPATTEN_FMT_S4		1
#define DRM_SPATTEN_FMT_S6		2
#define DRM_SPATTEN_FMT_S8		3
#define DRM_SPATTEN_FMT_S10		4
#define DRM_SPATTEN_FMT_S12		5

/* Descriptor versions (struct drm_spatten_job @version). */
#define DRM_SPATTEN_DESC_V1		1	/* no pruning fields */
#define DRM_SPATTEN_DESC_V2		2	/* pruning, progressive keys */
#define DRM_SPATTEN_DESC_V3		3	/* LLM shapes: 32-bit rows, GQA,
						 * KV layouts, RoPE (API 5) */

/**
 * struct drm_spatten_tensor - an operand: buffer plus byte offset
 * @handle: GEM handle of this file; 0 = operand absent
 * @flags: must be zero
 * @offset: byte offset in the buffer: 8-aligned for importance arrays,
 *	2-aligned for S16 tensors and u16 lists, 4-aligned for version 3's
 *	u32 lists, block tables and position lists, any for packed formats
 */
struct drm_spatten_tensor {
	__u32 handle;
	__u32 flags;
	__u64 offset;
};

/**
 * struct drm_spatten_job - one job: one layer of attention of a sequence
 * @opcode: DRM_SPATTEN_OP_*
 * @stage: DRM_SPATTEN_STAGE_*
 * @version: DRM_SPATTEN_DESC_V2 (V1 with every V2 field zero), or
 *	DRM_SPATTEN_DESC_V3 on boards with DRM_SPATTEN_FEAT_DESC_V3
 * @flags: DRM_SPATTEN_JOB_*
 * @n_heads: heads
 * @head_dim: D
 * @q_rows: query rows
 * @kv_rows: key and value rows
 * @q_start: absolute position of query row 0
 * @rsvd0: must be zero
 * @q_fmt: format of Q (S16)
 * @q_frac: fractional bits of Q
 * @k_fmt: format of K (of its MSB plane when progressive)
 * @k_frac: fractional bits of K (MSBs and LSBs together when progressive)
 * @v_fmt: format of V
 * @v_frac: fractional bits of V
 * @out_fmt: format of the output (S16)
 * @out_frac: fractional bits of the output
 * @rsvd1: must be zero
 * @q: Q, [n_heads][q_rows][head_dim]
 * @k: K (MSB plane), [n_heads][kv_rows][head_dim] (version 3: n_kv_heads
 *	heads in the KV layout)
 * @v: V, [n_heads][kv_rows][head_dim] (version 3: n_kv_heads heads in the
 *	KV layout)
 * @out: output, [n_heads][q_rows][head_dim], written
 * @k_lsb: 4-bit LSB plane of K, with DRM_SPATTEN_JOB_PROGRESSIVE only,
 *	[n_heads][kv_rows][head_dim] (version 3: n_kv_heads heads in the KV
 *	layout)
 * @tok_imp: u64[kv_rows] cumulative token importance, read and written
 *	(version 3 with DRM_SPATTEN_JOB_IMP_PER_KV_HEAD: u64[n_kv_heads]
 *	[kv_rows32], KV head g's row at g * kv_rows32, each summing only the
 *	query heads of its group; required, and @token_keep32 must be 0)
 * @tok_alive: u16[n_tok_alive] tokens alive before this layer, ascending
 *	(version 3: a list of __u32)
 * @tok_kept: u16[token_keep] tokens kept, written (version 3: a list of
 *	__u32)
 * @pinned: u16[n_pinned] tokens never pruned (version 3: a list of __u32)
 * @head_imp: u64[n_heads] cumulative head importance, read and written
 * @head_alive: u16[n_head_alive] heads alive before this layer, ascending
 *	(version 3: a list of __u32)
 * @head_kept: u16[head_keep] heads kept for later layers, written
 *	(version 3: a list of __u32)
 * @n_tok_alive: entries of @tok_alive; 0 = every token alive
 * @token_keep: tokens to keep; 0 = no token pruning
 * @n_pinned: entries of @pinned
 * @n_head_alive: entries of @head_alive; 0 = every head alive
 * @head_keep: heads to keep; 0 = no head pruning
 * @value_keep: V rows kept per head and query; 0 = no value pruning
 * @lsb_threshold: progressive: refetch the LSBs when the largest
 *	probability is below @lsb_threshold / 2^15
 * @rsvd2: must be zero
 * @topk_seed: seed of the top-k engine's pivot sequence
 * @rsvd3: must be zero
 * @user_data: opaque, returned in struct drm_spatten_result
 * @rsvd: must be zero, and stays reserved in every version (the version-3
 *	fields follow it)
 * @q_rows32: query rows
 * @kv_rows32: key/value rows (token slots)
 * @q_start32: slot of query row 0
 * @n_tok_alive32: entries of @tok_alive
 * @token_keep32: tokens to keep
 * @n_pinned32: entries of @pinned
 * @value_keep32: V rows kept per head and query
 * @n_kv_heads: K/V heads, dividing @n_heads (query head h reads KV head
 *	h / (@n_heads / @n_kv_heads)); DRM_SPATTEN_FEAT_GQA when smaller
 * @rsvd4: must be zero
 * @score_scale: IEEE binary32 bits of the softmax scale, 0 = 1/sqrt(D)
 * @rope_base: with DRM_SPATTEN_JOB_ROPE: the RoPE base (2..2^31), else 0
 * @kv_head_stride: rows between KV heads in K, K-LSB and V
 * @kv_row_stride: rows between token slots; 0 with every other layout
 *	field 0: packed [n_kv_heads][kv_rows][head_dim]
 * @kv_block_stride: paged: rows per block number
 * @kv_block_rows: paged: token slots per block, a power of two; 0: not
 *	paged
 * @block_table: paged: __u32 block numbers, one per @kv_block_rows slots
 * @positions: with DRM_SPATTEN_JOB_ROPE_POSITIONS: __u32[kv_rows32] key
 *	positions (query row i: the position of slot @q_start32 + i)
 * @head_fracs: with DRM_SPATTEN_JOB_HEAD_FRACS: __u8 fractional bits per
 *	head, [n_heads] of Q, [n_heads] of the output, [n_kv_heads] of K,
 *	[n_kv_heads] of V, each 0..15 (docs/hardware.md); the job's
 *	@q_frac, @k_frac, @v_frac and @out_frac are then 0
 *
 * The hardware descriptor (docs/hardware.md) with operands named by handle
 * instead of device address. An optional operand is present when its
 * handle is not 0, and required exactly when its count or flag says so.
 *
 * Version 3 (DRM_SPATTEN_DESC_V3, boards with DRM_SPATTEN_FEAT_DESC_V3;
 * docs/uapi.md, docs/hardware.md): rows, positions and token counts are
 * 32-bit and live in the fields from @q_rows32 on, after @rsvd (the
 * 16-bit @q_rows, @kv_rows, @q_start, @n_tok_alive, @token_keep,
 * @n_pinned and @value_keep must be zero), lists hold __u32 entries, and
 * K, K-LSB and V have @n_kv_heads heads in the KV layout. Versions 1 and 2
 * leave every field from @q_rows32 on zero (and callers that know only
 * the API 4 struct pass a shorter struct drm_spatten_submit job_size).
 *
 * Generation: the new tokens are the last @q_rows32 slots (@q_start32 +
 * @q_rows32 == @kv_rows32), each always a candidate and always kept.
 * More than one (a chunk, chunked prefill) needs version 3, CAUSAL and a
 * board with DRM_SPATTEN_FEAT_CHUNKS (API 6); versions 1 and 2 take one.
 */
struct drm_spatten_job {
	__u16 opcode;
	__u8 stage;
	__u8 version;
	__u32 flags;
	__u16 n_heads;
	__u16 head_dim;
	__u16 q_rows;
	__u16 kv_rows;
	__u16 q_start;
	__u16 rsvd0;
	__u8 q_fmt;
	__u8 q_frac;
	__u8 k_fmt;
	__u8 k_frac;
	__u8 v_fmt;
	__u8 v_frac;
	__u8 out_fmt;
	__u8 out_frac;
	__u32 rsvd1;
	struct drm_spatten_tensor q;
	struct drm_spatten_tensor k;
	struct drm_spatten_tensor v;
	struct drm_spatten_tensor out;
	struct drm_spatten_tensor k_lsb;
	struct drm_spatten_tensor tok_imp;
	struct drm_spatten_tensor tok_alive;
	struct drm_spatten_tensor tok_kept;
	struct drm_spatten_tensor pinned;
	struct drm_spatten_tensor head_imp;
	struct drm_spatten_tensor head_alive;
	struct drm_spatten_tensor head_kept;
	__u16 n_tok_alive;
	__u16 token_keep;
	__u16 n_pinned;
	__u16 n_head_alive;
	__u16 head_keep;
	__u16 value_keep;
	__u16 lsb_threshold;
	__u16 rsvd2;
	__u32 topk_seed;
	__u32 rsvd3;
	__u64 user_data;
	__u64 rsvd[4];
	/* API 5: descriptor version 3 */
	__u32 q_rows32;
	__u32 kv_rows32;
	__u32 q_start32;
	__u32 n_tok_alive32;
	__u32 token_keep32;
	__u32 n_pinned32;
	__u32 value_keep32;
	__u16 n_kv_heads;
	__u16 rsvd4;
	__u32 score_scale;
	__u32 rope_base;
	__u32 kv_head_stride;
	__u32 kv_row_stride;
	__u32 kv_block_stride;
	__u32 kv_block_rows;
	struct drm_spatten_tensor block_table;
	struct drm_spatten_tensor positions;
	struct drm_spatten_tensor head_fracs;
};

/* Sync object flags (struct drm_spatten_sync @flags). */
#define DRM_SPATTEN_SYNC_TIMELINE	(1u << 0)	/* use @point */

/**
 * struct drm_spatten_sync - a DRM sync object to wait on or to signal
 * @handle: syncobj handle of this file (DRM_IOCTL_SYNCOBJ_CREATE)
 * @flags: DRM_SPATTEN_SYNC_TIMELINE, else a binary syncobj (@point 0)
 * @point: timeline point: an in-fence waits for it, an out-fence adds it
 */
struct drm_spatten_sync {
	__u32 handle;
	__u32 flags;
	__u64 point;
};

/* SUBMIT flags (struct drm_spatten_submit @flags). */
#define DRM_SPATTEN_SUBMIT_NO_IMPLICIT	(1u << 0)	/* skip dma_resv sync */

#define DRM_SPATTEN_MAX_SUBMIT		64
#define DRM_SPATTEN_MAX_SYNCS		16

/**
 * struct drm_spatten_submit - DRM_IOCTL_SPATTEN_SUBMIT: queue jobs
 * @jobs_ptr: in: user pointer to @count jobs, @job_size bytes apart
 * @job_size: in: sizeof(struct drm_spatten_job) as the caller knows it:
 *	shorter is zero-extended, longer must have zeros beyond
 * @count: in: jobs, 1..DRM_SPATTEN_MAX_SUBMIT
 * @flags: in: DRM_SPATTEN_SUBMIT_*
 * @in_syncs_ptr: in: user pointer to @in_sync_count struct drm_spatten_sync
 * @out_syncs_ptr: in: user pointer to @out_sync_count struct drm_spatten_sync
 * @in_sync_count: in: 0..DRM_SPATTEN_MAX_SYNCS
 * @out_sync_count: in: 0..DRM_SPATTEN_MAX_SYNCS
 * @seqno: out: sequence number of the first job; job i has @seqno + i
 * @submitted: out: jobs accepted: all, or none on error
 * @rsvd0: in: must be zero
 * @rsvd: in: must be zero
 *
 * The jobs run in submission order after every in-fence has signalled (and,
 * unless DRM_SPATTEN_SUBMIT_NO_IMPLICIT, after the fences of earlier work
 * on the buffers they use); they may complete out of order. Each out-fence
 * signals when every job of this call has completed.
 */
struct drm_spatten_submit {
	__u64 jobs_ptr;
	__u32 job_size;
	__u32 count;
	__u32 flags;
	__u32 rsvd0;
	__u64 in_syncs_ptr;
	__u64 out_syncs_ptr;
	__u32 in_sync_count;
	__u32 out_sync_count;
	__u64 seqno;
	__u32 submitted;
	__u32 rsvd;
};

/*
 * Job status (struct drm_spatten_result @status): 0..18 are the device's
 * completion codes (docs/hardware.md), the rest the driver's.
 */
#define DRM_SPATTEN_STATUS_OK		0
#define DRM_SPATTEN_STATUS_ERR_OPCODE	1	/* unknown opcode */
#define DRM_SPATTEN_STATUS_ERR_VERSION	2	/* descriptor version */
#define DRM_SPATTEN_STATUS_ERR_FLAGS	3	/* unknown flag or stage */
#define DRM_SPATTEN_STATUS_ERR_RESERVED	4	/* reserved field not zero */
#define DRM_SPATTEN_STATUS_ERR_SHAPE	5	/* heads, dims or rows */
#define DRM_SPATTEN_STATUS_ERR_POSITION	6	/* q_start / q_rows */
#define DRM_SPATTEN_STATUS_ERR_FORMAT	7	/* format or fraction bits */
#define DRM_SPATTEN_STATUS_ERR_BUFFER	8	/* operand malformed or short */
#define DRM_SPATTEN_STATUS_ERR_PAGE_LIST	9	/* bad page list entry */
#define DRM_SPATTEN_STATUS_ERR_DMA_READ	10	/* a read was not accepted */
#define DRM_SPATTEN_STATUS_ERR_DMA_WRITE	11	/* a write was not accepted */
#define DRM_SPATTEN_STATUS_ERR_NO_MEMORY	12	/* device-side resources */
#define DRM_SPATTEN_STATUS_ABORTED	13	/* on the device during a reset */
#define DRM_SPATTEN_STATUS_ERR_KEEP	14	/* keep counts inconsistent */
#define DRM_SPATTEN_STATUS_ERR_LIST	15	/* list not ascending */
#define DRM_SPATTEN_STATUS_ERR_LAYOUT	16	/* v3: KV layout fields */
#define DRM_SPATTEN_STATUS_ERR_BLOCK	17	/* v3: block outside a buffer */
#define DRM_SPATTEN_STATUS_ERR_PARAM	18	/* v3: rope_base, score_scale */
#define DRM_SPATTEN_STATUS_TIMEOUT	256	/* ran too long: device reset */
#define DRM_SPATTEN_STATUS_CANCELED	257	/* never ran: context banned or
						 * device gone */

/**
 * struct drm_spatten_result - how a job ended
 * @seqno: sequence number from SUBMIT
 * @user_data: from the job
 * @status: DRM_SPATTEN_STATUS_*
 * @lsb_refetches: (head, query) rows recomputed with the K LSBs
 * @bytes_q: bytes the device read from Q
 * @bytes_k_msb: bytes read from the K MSB plane
 * @bytes_k_lsb: bytes read from the K LSB plane
 * @bytes_v: bytes read from V
 * @bytes_written: bytes written
 * @cycles: modeled device cycles
 * @engine_ns: time between the driver giving the job to the device and
 *	seeing it complete
 * @rsvd: zero
 */
struct drm_spatten_result {
	__u64 seqno;
	__u64 user_data;
	__u32 status;
	__u32 lsb_refetches;
	__u64 bytes_q;
	__u64 bytes_k_msb;
	__u64 bytes_k_lsb;
	__u64 bytes_v;
	__u64 bytes_written;
	__u64 cycles;
	__u64 engine_ns;
	__u64 rsvd[2];
};

/**
 * struct drm_spatten_wait - DRM_IOCTL_SPATTEN_WAIT: wait for one job and
 * reap it
 * @seqno: in: from SUBMIT, of this file, not reaped yet
 * @timeout_ns: in: absolute CLOCK_MONOTONIC deadline; one in the past
 *	polls. -ETIME if the job is not done by then (it stays pending).
 * @flags: in: must be zero
 * @rsvd: in: must be zero
 * @result: out: the job's result
 */
struct drm_spatten_wait {
	__u64 seqno;
	__s64 timeout_ns;
	__u32 flags;
	__u32 rsvd;
	struct drm_spatten_result result;
};

/**
 * struct drm_spatten_reap - DRM_IOCTL_SPATTEN_REAP: wait for completed jobs
 * of this file, any of them, and reap up to @count in completion order
 * @results_ptr: in: user pointer to @count struct drm_spatten_result
 * @count: in: room at @results_ptr, 1..DRM_SPATTEN_REAP_MAX
 * @min_count: in: wait until this many are done (at most @count and the
 *	jobs pending); 0 never waits
 * @timeout_ns: in: absolute CLOCK_MONOTONIC deadline of the wait; when it
 *	passes, whatever is done is reaped (-ETIME if that is nothing and
 *	@min_count > 0)
 * @flags: in: must be zero
 * @reaped: out: results written
 * @pending: out: jobs of this file submitted and not reaped after this call
 * @result_size: in: bytes of one element at @results_ptr (the stride):
 *	sizeof(struct drm_spatten_result) of the caller's header, or 0 for
 *	DRM_SPATTEN_RESULT_SIZE_V3 (API version 3); a multiple of 8, at most
 *	DRM_SPATTEN_RESULT_SIZE_MAX. Fields past the driver's struct are
 *	zeroed, fields past @result_size are not written (API version 4)
 */
struct drm_spatten_reap {
	__u64 results_ptr;
	__u32 count;
	__u32 min_count;
	__s64 timeout_ns;
	__u32 flags;
	__u32 reaped;
	__u32 pending;
	__u32 result_size;
};

#define DRM_SPATTEN_REAP_MAX		256
#define DRM_SPATTEN_RESULT_SIZE_MAX	4096
#define DRM_SPATTEN_RESULT_SIZE_V3	96	/* what result_size 0 means */

/* Device-wide counters (struct drm_spatten_counters @value). */
#define DRM_SPATTEN_CNT_JOBS_OK		0
#define DRM_SPATTEN_CNT_JOBS_ERR	1
#define DRM_SPATTEN_CNT_BYTES_Q		2
#define DRM_SPATTEN_CNT_BYTES_K_MSB	3
#define DRM_SPATTEN_CNT_BYTES_K_LSB	4
#define DRM_SPATTEN_CNT_BYTES_V		5
#define DRM_SPATTEN_CNT_BYTES_WRITTEN	6
#define DRM_SPATTEN_CNT_LSB_REFETCHES	7
#define DRM_SPATTEN_CNT_CYCLES		8
#define DRM_SPATTEN_CNT_BYTES_META	9
#define DRM_SPATTEN_CNT_HW_NUM		10	/* read from the device */
#define DRM_SPATTEN_CNT_RESETS		10	/* device resets by the driver */
#define DRM_SPATTEN_CNT_TIMEOUTS	11	/* jobs that timed out */
#define DRM_SPATTEN_CNT_IRQS_DROPPED	12	/* debugfs fault injection */
#define DRM_SPATTEN_CNT_NUM		13
#define DRM_SPATTEN_CNT_MAX		16

/**
 * struct drm_spatten_counters - DRM_IOCTL_SPATTEN_COUNTERS: device-wide
 * counters
 * @flags: in: must be zero
 * @num: out: valid entries of @value (DRM_SPATTEN_CNT_NUM)
 * @value: out: counters, indexed by DRM_SPATTEN_CNT_*
 */
struct drm_spatten_counters {
	__u32 flags;
	__u32 num;
	__u64 value[DRM_SPATTEN_CNT_MAX];
};

#if defined(__cplusplus)
}
#endif

#endif /* __UAPI_SPATTEN_ACCEL_H__ */
