/* SPDX-License-Identifier: MIT */
/*
 * libspatten: userspace library for SpAtten sparse-attention accelerators.
 *
 * Conventions (the same as liburing's):
 *  - every name starts with spatten_ / SPATTEN_;
 *  - devices and buffers are opaque handles;
 *  - every function that can fail returns 0 (or a non-negative count) on
 *    success and a negative errno value on failure; errno is never the
 *    channel for an error;
 *  - file descriptors are opened O_CLOEXEC and every ioctl is retried on
 *    EINTR.
 *
 * A job is described by the UAPI struct spatten_job (include/uapi/spatten.h);
 * spatten_attn_prep() and spatten_nop_prep() fill one from a friendlier
 * description, spatten_submit()/spatten_wait() queue and reap jobs
 * asynchronously, spatten_run() does both.
 *
 * Thread safety: a struct spatten_dev may be used from several threads at
 * once (submit, wait, buffer allocation). A struct spatten_bo must not be
 * freed while another thread still uses it.
 */
#ifndef LIBSPATTEN_H
#define LIBSPATTEN_H

#include <stddef.h>
#include <stdint.h>

#include "uapi/spatten.h"
#include "spatten_hw.h"

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define SPATTEN_API __attribute__((visibility("default")))
#else
#define SPATTEN_API
#endif

#define SPATTEN_LIB_VERSION_MAJOR	1
#define SPATTEN_LIB_VERSION_MINOR	0

/* Default device node of spatten_open() when @path is NULL. */
#define SPATTEN_DEFAULT_PATH		"/dev/spatten0"

/* Timeout of spatten_wait() that never expires. */
#define SPATTEN_WAIT_FOREVER		(-1)

struct spatten_dev;
struct spatten_bo;

/* ---- Devices ------------------------------------------------------------ */

/**
 * spatten_open() - open an accelerator
 * @path: device node, or NULL for SPATTEN_DEFAULT_PATH
 * @devp: receives the device handle on success
 *
 * The node is opened read-write with O_CLOEXEC and its UAPI version is
 * checked against SPATTEN_API_VERSION.
 *
 * Return: 0, or -errno: the open() error, -EINVAL for a NULL @devp,
 * -ENOMEM, -EPROTO if the driver speaks another API version, or the
 * SPATTEN_IOCTL_INFO error (-ENOTTY: not a SpAtten device).
 */
SPATTEN_API int spatten_open(const char *path, struct spatten_dev **devp);

/**
 * spatten_open_index() - open /dev/spatten<@index>
 * @index: board number
 * @devp: receives the device handle on success
 *
 * Return: as spatten_open().
 */
SPATTEN_API int spatten_open_index(unsigned int index,
				   struct spatten_dev **devp);

/**
 * spatten_close() - release a device handle
 * @dev: handle from spatten_open(), or NULL (no-op)
 *
 * Buffers still allocated keep the file open until they are freed with
 * spatten_bo_free(); the descriptor is closed when the last one goes.
 * Jobs still in flight are abandoned (the driver completes and discards
 * them).
 */
SPATTEN_API void spatten_close(struct spatten_dev *dev);

/**
 * spatten_fd() - file descriptor of a device
 * @dev: device handle
 *
 * For poll()/epoll: the descriptor is readable (POLLIN) while a completed
 * job is waiting to be reaped with spatten_wait(). Do not close it.
 *
 * Return: the descriptor, or -EINVAL for a NULL @dev.
 */
SPATTEN_API int spatten_fd(const struct spatten_dev *dev);

/**
 * spatten_get_info() - what the board is and can do
 * @dev: device handle
 * @info: receives the driver's struct spatten_info
 *
 * Return: 0, or -errno from SPATTEN_IOCTL_INFO (-EINVAL for NULL args).
 */
SPATTEN_API int spatten_get_info(struct spatten_dev *dev,
				 struct spatten_info *info);

/**
 * spatten_get_counters() - read the device-wide counters
 * @dev: device handle
 * @cnt: receives the counters; @cnt->value[SPATTEN_CNT_*] for the first
 *	@cnt->num entries
 *
 * Return: 0, or -errno from SPATTEN_IOCTL_COUNTERS (-EINVAL for NULL args).
 */
SPATTEN_API int spatten_get_counters(struct spatten_dev *dev,
				     struct spatten_counters *cnt);

/* ---- Buffer objects ----------------------------------------------------- */

/**
 * spatten_bo_alloc() - allocate a device buffer and map it
 * @dev: device handle
 * @size: bytes, > 0 (the driver rounds up to the page size)
 * @bop: receives the buffer on success
 *
 * The buffer is zero-filled, mapped read-write into the process and can be
 * named by jobs through spatten_bo_handle() (or a struct spatten_tensor_ref).
 *
 * Return: 0, or -errno: -EINVAL (zero size, NULL args), -ENOMEM, or the
 * SPATTEN_IOCTL_BO_CREATE or mmap() error.
 */
SPATTEN_API int spatten_bo_alloc(struct spatten_dev *dev, size_t size,
				 struct spatten_bo **bop);

/**
 * spatten_bo_free() - unmap and release a buffer
 * @bo: buffer, or NULL (no-op)
 *
 * Jobs already submitted that use the buffer still complete normally: the
 * driver keeps the memory alive until they are done.
 */
SPATTEN_API void spatten_bo_free(struct spatten_bo *bo);

/**
 * spatten_bo_map() - CPU address of a buffer
 * @bo: buffer
 *
 * Return: the start of the mapping (page aligned), NULL for a NULL @bo.
 */
SPATTEN_API void *spatten_bo_map(const struct spatten_bo *bo);

/**
 * spatten_bo_size() - size of a buffer
 * @bo: buffer
 *
 * Return: the size given to spatten_bo_alloc(), 0 for a NULL @bo.
 */
SPATTEN_API size_t spatten_bo_size(const struct spatten_bo *bo);

/**
 * spatten_bo_handle() - the driver's handle of a buffer
 * @bo: buffer
 *
 * Return: the handle to put in struct spatten_tensor, 0 for a NULL @bo.
 */
SPATTEN_API uint32_t spatten_bo_handle(const struct spatten_bo *bo);

/* ---- Fixed point (SPATTEN_FMT_S16) -------------------------------------- */

/* Largest number of fractional bits of SPATTEN_FMT_S16. */
#define SPATTEN_S16_MAX_FRAC		15

/**
 * spatten_float_to_s16() - quantize one value
 * @x: value
 * @frac: fractional bits, 0..15 (larger values are treated as 15)
 *
 * Rounds @x * 2^@frac to the nearest integer (halfway cases away from zero)
 * and saturates to [-32768, 32767]. NaN becomes 0.
 *
 * Return: the fixed-point value.
 */
SPATTEN_API int16_t spatten_float_to_s16(float x, unsigned int frac);

/**
 * spatten_s16_to_float() - dequantize one value
 * @v: fixed-point value
 * @frac: fractional bits, 0..15 (larger values are treated as 15)
 *
 * Return: @v / 2^@frac, exact.
 */
SPATTEN_API float spatten_s16_to_float(int16_t v, unsigned int frac);

/**
 * spatten_quantize_s16() - quantize an array into device layout
 * @dst: @n little-endian int16 elements (e.g. inside a buffer object)
 * @src: @n floats
 * @n: elements
 * @frac: fractional bits, 0..15
 *
 * Each element as spatten_float_to_s16(), stored little-endian.
 *
 * Return: the number of elements that saturated (>= 0), or -EINVAL for
 * @frac > 15 or NULL arrays with @n > 0.
 */
SPATTEN_API long spatten_quantize_s16(void *dst, const float *src, size_t n,
				      unsigned int frac);

/**
 * spatten_dequantize_s16() - dequantize an array in device layout
 * @dst: @n floats
 * @src: @n little-endian int16 elements
 * @n: elements
 * @frac: fractional bits, 0..15
 *
 * Return: 0, or -EINVAL for @frac > 15 or NULL arrays with @n > 0.
 */
SPATTEN_API int spatten_dequantize_s16(float *dst, const void *src, size_t n,
				       unsigned int frac);

/**
 * spatten_frac_for_range() - fractional bits for values up to a magnitude
 * @max_abs: largest |x| the format must hold (>= 0)
 *
 * Picks the most fractional bits (0..15) with which every |x| <= @max_abs
 * quantizes without saturating.
 *
 * Return: the number of fractional bits, -ERANGE if even 0 fractional bits
 * saturate (@max_abs >= 32767.5), -EINVAL for a negative or NaN @max_abs.
 */
SPATTEN_API int spatten_frac_for_range(float max_abs);

/**
 * spatten_max_abs() - largest magnitude of an array
 * @x: @n floats
 * @n: elements
 *
 * Return: max |x[i]| (0 for an empty array); NaN elements are ignored.
 */
SPATTEN_API float spatten_max_abs(const float *x, size_t n);

/* ---- Jobs ---------------------------------------------------------------- */

/**
 * spatten_tensor_bytes() - bytes of a [n_heads][rows][head_dim] S16 tensor
 * @n_heads: heads
 * @rows: rows per head
 * @head_dim: elements per row
 *
 * Return: the size, as the driver and device compute it.
 */
SPATTEN_API uint64_t spatten_tensor_bytes(uint32_t n_heads, uint32_t rows,
					  uint32_t head_dim);

/**
 * struct spatten_tensor_ref - an operand: a buffer and a byte offset in it
 * @bo: buffer object of the device the job is submitted to
 * @offset: byte offset, element (2-byte) aligned
 */
struct spatten_tensor_ref {
	struct spatten_bo *bo;
	uint64_t offset;
};

/* Flags of struct spatten_attn_desc. */
#define SPATTEN_ATTN_CAUSAL		(1u << 0)
#define SPATTEN_ATTN_FLAGS_ALL		SPATTEN_ATTN_CAUSAL

/**
 * struct spatten_attn_desc - a dense multi-head attention job
 * @n_heads: heads (1..info.max_heads)
 * @head_dim: D, a power of two the board supports (info.head_dims)
 * @q_rows: query rows per head
 * @kv_rows: key/value rows per head (1..info.max_context)
 * @q_start: absolute position of query row 0 (causal jobs; 0 otherwise)
 * @stage: SPATTEN_STAGE_SUMMARIZATION or SPATTEN_STAGE_GENERATION
 *	(generation: @q_rows == 1, @q_start == @kv_rows - 1 and, since a
 *	non-causal job starts at position 0, SPATTEN_ATTN_CAUSAL unless
 *	@kv_rows == 1)
 * @flags: SPATTEN_ATTN_* (SPATTEN_ATTN_CAUSAL: row i sees keys
 *	j <= @q_start + i, and @q_start + @q_rows <= @kv_rows)
 * @q_frac: fractional bits of Q (0..15)
 * @k_frac: fractional bits of K
 * @v_frac: fractional bits of V
 * @out_frac: fractional bits of the output
 * @q: Q, [n_heads][q_rows][head_dim]
 * @k: K, [n_heads][kv_rows][head_dim]
 * @v: V, [n_heads][kv_rows][head_dim]
 * @out: output, [n_heads][q_rows][head_dim], written by the device
 * @user_data: opaque, returned in struct spatten_result
 *
 * All tensors are SPATTEN_FMT_S16, packed row-major, little-endian. Zero
 * the struct (or use spatten_attn_desc_init()) before filling it: later
 * library versions add fields (pruning, quantization) whose zero value means
 * "dense, as in v1".
 */
struct spatten_attn_desc {
	uint32_t n_heads;
	uint32_t head_dim;
	uint32_t q_rows;
	uint32_t kv_rows;
	uint32_t q_start;
	uint32_t stage;
	uint32_t flags;
	uint8_t q_frac;
	uint8_t k_frac;
	uint8_t v_frac;
	uint8_t out_frac;
	struct spatten_tensor_ref q;
	struct spatten_tensor_ref k;
	struct spatten_tensor_ref v;
	struct spatten_tensor_ref out;
	uint64_t user_data;
};

/**
 * spatten_attn_desc_init() - fill a descriptor for a packed job in one buffer
 * @desc: descriptor to fill (fully overwritten)
 * @bo: buffer holding Q, K, V and the output back to back, or NULL to
 *	leave the tensor references empty
 * @n_heads: heads
 * @head_dim: D
 * @q_rows: query rows
 * @kv_rows: key/value rows
 *
 * A non-causal summarization job with q_start 0 and 0 fractional bits;
 * with @bo, Q sits at offset 0 and K, V and the output follow, each at a
 * 64-byte aligned offset (spatten_attn_desc_bytes() says how large @bo
 * must be). Adjust the fields afterwards as needed.
 */
SPATTEN_API void spatten_attn_desc_init(struct spatten_attn_desc *desc,
					struct spatten_bo *bo,
					uint32_t n_heads, uint32_t head_dim,
					uint32_t q_rows, uint32_t kv_rows);

/**
 * spatten_attn_desc_bytes() - buffer size spatten_attn_desc_init() lays out
 * @n_heads: heads
 * @head_dim: D
 * @q_rows: query rows
 * @kv_rows: key/value rows
 *
 * Return: bytes needed for Q, K, V and the output, packed as by
 * spatten_attn_desc_init().
 */
SPATTEN_API uint64_t spatten_attn_desc_bytes(uint32_t n_heads,
					     uint32_t head_dim,
					     uint32_t q_rows, uint32_t kv_rows);

/**
 * spatten_attn_prep() - encode an attention job
 * @job: receives the UAPI job (fully overwritten)
 * @desc: what to compute
 *
 * Checks what can be checked without the board: field ranges, stage and
 * position rules, that every tensor has a buffer and lies inside it at an
 * aligned offset. Board limits (heads, head_dim, context) are the driver's
 * to check at submit time.
 *
 * Return: 0, -EINVAL for a malformed description, -ERANGE for a tensor
 * that does not fit its buffer.
 */
SPATTEN_API int spatten_attn_prep(struct spatten_job *job,
				  const struct spatten_attn_desc *desc);

/**
 * spatten_nop_prep() - encode a NOP job
 * @job: receives the UAPI job (fully overwritten)
 * @user_data: opaque, returned in struct spatten_result
 *
 * A NOP completes at once without touching memory: a cheap way to measure
 * submission latency or to fence a queue.
 */
SPATTEN_API void spatten_nop_prep(struct spatten_job *job, uint64_t user_data);

/**
 * struct spatten_result - what a completed job did
 * @status: enum spatten_hw_status, SPATTEN_HW_OK on success
 * @user_data: the job's user_data
 * @bytes_q: bytes the device read from Q
 * @bytes_k_msb: bytes read from the K MSB plane (all of K in v1)
 * @bytes_k_lsb: bytes read from the K LSB plane
 * @bytes_v: bytes read from V
 * @bytes_written: bytes written
 * @cycles: modeled device cycles (1 GHz)
 */
struct spatten_result {
	uint32_t status;
	uint64_t user_data;
	uint64_t bytes_q;
	uint64_t bytes_k_msb;
	uint64_t bytes_k_lsb;
	uint64_t bytes_v;
	uint64_t bytes_written;
	uint64_t cycles;
};

/**
 * spatten_submit() - queue jobs
 * @dev: device handle
 * @jobs: @n jobs from spatten_attn_prep()/spatten_nop_prep()
 * @n: 1..SPATTEN_MAX_SUBMIT
 * @seqno: receives the sequence number of @jobs[0]; job i is @seqno + i
 *	(may be NULL)
 *
 * All or nothing: on error no job is queued. The call may block while the
 * queue is full unless the descriptor was made non-blocking, in which
 * case it fails with -EAGAIN.
 *
 * Return: 0, or -errno from SPATTEN_IOCTL_SUBMIT (-EINVAL: a malformed job
 * or count, -ENOENT: unknown buffer handle, -ERANGE: tensor outside its
 * buffer, -EAGAIN, ...).
 */
SPATTEN_API int spatten_submit(struct spatten_dev *dev,
			       const struct spatten_job *jobs, unsigned int n,
			       uint64_t *seqno);

/**
 * spatten_wait() - wait for a job and reap it
 * @dev: device handle
 * @seqno: from spatten_submit()
 * @timeout_ns: RELATIVE timeout in nanoseconds: 0 polls,
 *	SPATTEN_WAIT_FOREVER (any negative value) waits until the job
 *	completes (the driver's hang detection still bounds it)
 * @res: receives the result (may be NULL)
 *
 * The relative timeout is turned into the absolute CLOCK_MONOTONIC deadline
 * the driver wants once, so retries after EINTR do not extend it. A job is
 * reaped exactly once: a second wait on it fails with -ENOENT.
 *
 * Return: 0 when the job completed (check @res->status: the job itself may
 * have failed), -ETIME if it did not complete in time (it stays queued),
 * -EINVAL for a seqno never issued, -ENOENT for one already reaped.
 */
SPATTEN_API int spatten_wait(struct spatten_dev *dev, uint64_t seqno,
			     int64_t timeout_ns, struct spatten_result *res);

/**
 * spatten_wait_deadline() - spatten_wait() with an absolute deadline
 * @dev: device handle
 * @seqno: from spatten_submit()
 * @deadline_ns: absolute CLOCK_MONOTONIC time in nanoseconds (see
 *	spatten_now_ns()); a passed deadline polls; INT64_MAX never expires
 * @res: receives the result (may be NULL)
 *
 * Return: as spatten_wait().
 */
SPATTEN_API int spatten_wait_deadline(struct spatten_dev *dev, uint64_t seqno,
				      int64_t deadline_ns,
				      struct spatten_result *res);

/**
 * spatten_run() - submit one job and wait for it
 * @dev: device handle
 * @job: the job
 * @res: receives the result (may be NULL)
 *
 * Waits without a library timeout (the driver's hang detection still
 * applies).
 *
 * Return: 0 if the job completed with SPATTEN_HW_OK; -EIO if it completed
 * with an error status (in @res->status); otherwise the spatten_submit() or
 * spatten_wait() error.
 */
SPATTEN_API int spatten_run(struct spatten_dev *dev,
			    const struct spatten_job *job,
			    struct spatten_result *res);

/* ---- Miscellaneous ------------------------------------------------------- */

/**
 * spatten_now_ns() - current CLOCK_MONOTONIC time
 *
 * Return: nanoseconds, the clock of spatten_wait_deadline().
 */
SPATTEN_API int64_t spatten_now_ns(void);

/**
 * spatten_status_str() - name of a job status
 * @status: enum spatten_hw_status
 *
 * Return: a static string such as "ok" or "bad shape"; "unknown status"
 * for values the library does not know.
 */
SPATTEN_API const char *spatten_status_str(unsigned int status);

#ifdef __cplusplus
}
#endif

#endif /* LIBSPATTEN_H */
