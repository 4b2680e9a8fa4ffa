/* SPDX-License-Identifier: ((GPL-2.0 WITH Linux-syscall-note) OR MIT) */
/*
 * SpAtten accelerator: userspace API of /dev/spatten<N>.
 *
 * Shared by the driver and libspatten; docs/uapi.md describes it and
 * tests/host/test_layout.c pins every size and offset.
 *
 * Rules (Documentation/process/botching-up-ioctls.rst): fixed-width types,
 * explicit padding, 64-bit alignment of every 64-bit field, pointers as
 * __u64, every flags/reserved field must be zero on input (-EINVAL
 * otherwise), output structs are zeroed before being filled.
 */
#ifndef _UAPI_SPATTEN_H
#define _UAPI_SPATTEN_H

#include <linux/ioctl.h>
#include <linux/types.h>

#define SPATTEN_API_VERSION		1

/**
 * struct spatten_info - SPATTEN_IOCTL_INFO: what the board is and can do
 * @api_version: SPATTEN_API_VERSION of the driver
 * @hw_version: device VERSION register (major << 16 | minor)
 * @vendor_id: PCI vendor ID
 * @device_id: PCI device ID
 * @num_engines: compute engines
 * @num_queues: queue pairs the driver uses
 * @queue_depth: entries per submission queue
 * @max_context: largest kv_rows
 * @max_heads: largest n_heads
 * @head_dims: bit n set: head_dim 1 << n is supported
 * @formats: bit n set: element format n (enum spatten_format) is supported
 * @splits: bit n set: keys of n MSBs + 4 LSBs are supported (progressive)
 * @features: SPATTEN_FEAT_* of the hardware
 * @dma_bits: DMA address width of the device
 * @max_bo_size: largest buffer object in bytes
 * @rsvd: zero
 */
struct spatten_info {
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
	__u32 rsvd0;
	__u64 max_bo_size;
	__u64 rsvd[4];
};

/**
 * struct spatten_bo_create - SPATTEN_IOCTL_BO_CREATE: allocate a buffer
 * @size: in: bytes, rounded up to the page size; 0 is -EINVAL
 * @flags: in: must be zero
 * @handle: out: buffer handle, valid in this open file only
 * @mmap_offset: out: pass to mmap() on the same fd to map the buffer
 * @rsvd: must be zero
 */
struct spatten_bo_create {
	__u64 size;
	__u32 flags;
	__u32 handle;
	__u64 mmap_offset;
	__u64 rsvd;
};

/**
 * struct spatten_bo_destroy - SPATTEN_IOCTL_BO_DESTROY: drop a buffer handle
 * @handle: buffer to release; jobs in flight keep the memory alive
 * @flags: must be zero
 */
struct spatten_bo_destroy {
	__u32 handle;
	__u32 flags;
};

/**
 * struct spatten_bo_import - SPATTEN_IOCTL_BO_IMPORT: use user memory as a
 * buffer object
 * @user_ptr: in: start of the memory, page aligned; it must be writable
 *	(the device writes outputs) and stays pinned until the last job using
 *	it completes after BO_DESTROY or close; counted against
 *	RLIMIT_MEMLOCK
 * @size: in: bytes, a non-zero multiple of the page size, at most
 *	max_bo_size; no page of the range may already be a buffer of this
 *	board (imported, or a mapping of a created buffer): -EBUSY
 * @flags: in: must be zero
 * @handle: out: buffer handle, valid in this open file only (not mmap-able:
 *	the memory is already the caller's)
 * @rsvd: must be zero
 */
struct spatten_bo_import {
	__u64 user_ptr;
	__u64 size;
	__u32 flags;
	__u32 handle;
	__u64 rsvd;
};

/**
 * struct spatten_tensor - an operand: buffer handle plus byte offset
 * @handle: buffer object of this open file; 0 = operand absent
 * @flags: must be zero
 * @offset: byte offset in the buffer: 8-aligned for importance arrays,
 *	2-aligned for S16 tensors and u16 lists, any for packed formats
 */
struct spatten_tensor {
	__u32 handle;
	__u32 flags;
	__u64 offset;
};

/**
 * struct spatten_job - one job: one layer of attention of one sequence.
 * Mirrors struct spatten_hw_desc (docs/hardware.md) with operands named by
 * handle instead of device address. An operand is present when its handle
 * is not 0; each optional operand is required exactly when its count or
 * flag says so (docs/uapi.md).
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
 * @user_data: opaque, returned by SPATTEN_IOCTL_WAIT
 * @rsvd: must be zero
 */
struct spatten_job {
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
};

/**
 * struct spatten_submit - SPATTEN_IOCTL_SUBMIT: queue jobs asynchronously
 * @jobs_ptr: in: user pointer to an array of struct spatten_job
 * @count: in: jobs in the array, 1..SPATTEN_MAX_SUBMIT
 * @flags: in: must be zero
 * @seqno: out: sequence number of the first job; job i has seqno + i
 * @submitted: out: jobs accepted (all or, on error, none)
 * @rsvd: must be zero
 */
struct spatten_submit {
	__u64 jobs_ptr;
	__u32 count;
	__u32 flags;
	__u64 seqno;
	__u32 submitted;
	__u32 rsvd;
};

#define SPATTEN_MAX_SUBMIT		64

/*
 * Job status reported by the driver only (struct spatten_wait @status, in
 * addition to enum spatten_hw_status): the job did not complete within the
 * driver's job timeout; the device was reset and the other jobs that were
 * on the device completed with SPATTEN_HW_ERR_ABORTED.
 */
#define SPATTEN_STATUS_TIMEOUT		256

/**
 * struct spatten_wait - SPATTEN_IOCTL_WAIT: wait for one job and reap it
 * @seqno: in: sequence number returned by SUBMIT
 * @timeout_ns: in: absolute CLOCK_MONOTONIC deadline; a passed deadline
 *	polls. -ETIME if the job is not done by then (it stays queued).
 * @flags: in: must be zero
 * @status: out: enum spatten_hw_status of the job
 * @user_data: out: from the job
 * @bytes_q: out: bytes the device read from Q
 * @bytes_k_msb: out: bytes read from the K MSB plane
 * @bytes_k_lsb: out: bytes read from the K LSB plane
 * @bytes_v: out: bytes read from V
 * @bytes_written: out: bytes written
 * @cycles: out: modeled device cycles
 * @lsb_refetches: out: (head, query) rows recomputed with the K LSBs
 * @rsvd0: must be zero
 * @rsvd: must be zero
 */
struct spatten_wait {
	__u64 seqno;
	__s64 timeout_ns;
	__u32 flags;
	__u32 status;
	__u64 user_data;
	__u64 bytes_q;
	__u64 bytes_k_msb;
	__u64 bytes_k_lsb;
	__u64 bytes_v;
	__u64 bytes_written;
	__u64 cycles;
	__u32 lsb_refetches;
	__u32 rsvd0;
	__u64 rsvd[1];
};

/**
 * struct spatten_counters - SPATTEN_IOCTL_COUNTERS: device-wide counters
 * @flags: in: must be zero
 * @num: out: valid entries of @value (SPATTEN_CNT_NUM of spatten_hw.h)
 * @value: out: counters, indexed by SPATTEN_CNT_*
 */
struct spatten_counters {
	__u32 flags;
	__u32 num;
	__u64 value[15];
};

#define SPATTEN_IOCTL_MAGIC		0xB5
#define SPATTEN_IOCTL_INFO \
	_IOR(SPATTEN_IOCTL_MAGIC, 0x00, struct spatten_info)
#define SPATTEN_IOCTL_BO_CREATE \
	_IOWR(SPATTEN_IOCTL_MAGIC, 0x01, struct spatten_bo_create)
#define SPATTEN_IOCTL_BO_DESTROY \
	_IOW(SPATTEN_IOCTL_MAGIC, 0x02, struct spatten_bo_destroy)
#define SPATTEN_IOCTL_SUBMIT \
	_IOWR(SPATTEN_IOCTL_MAGIC, 0x03, struct spatten_submit)
#define SPATTEN_IOCTL_WAIT \
	_IOWR(SPATTEN_IOCTL_MAGIC, 0x04, struct spatten_wait)
#define SPATTEN_IOCTL_COUNTERS \
	_IOWR(SPATTEN_IOCTL_MAGIC, 0x05, struct spatten_counters)
#define SPATTEN_IOCTL_BO_IMPORT \
	_IOWR(SPATTEN_IOCTL_MAGIC, 0x06, struct spatten_bo_import)

#endif /* _UAPI_SPATTEN_H */
