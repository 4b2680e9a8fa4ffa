/* SPDX-License-Identifier: MIT */
/*
 * libspatten: userspace library for SpAtten sparse-attention accelerators.
 *
 * Conventions (the same as liburing's):
 *  - every name starts with spatten_ / SPATTEN_;
 *  - devices, buffers and sessions are opaque handles;
 *  - every function that can fail returns 0 (or a non-negative count) on
 *    success and a negative errno value on failure; errno is never the
 *    channel for an error;
 *  - file descriptors are opened O_CLOEXEC and every ioctl is retried on
 *    EINTR.
 *
 * Two backends behind one API, chosen at open time: the kernel device
 * (driver spatten.ko, a DRM accel device: /dev/accel/accel<N>, or a DRM
 * render node /dev/dri/renderD<N> on kernels without the accel subsystem)
 * and an in-process simulation that
 * runs the same engine as the device, with the driver's validation, so an
 * application and most tests run without a board and get bit-identical
 * results. SPATTEN_BACKEND=sim|device picks it for SPATTEN_BACKEND_DEFAULT.
 *
 * Layers of the API, lowest first:
 *  - devices and buffer objects;
 *  - tensor packing: float <-> fixed point, Sn bit-packed rows, MSB/LSB
 *    planes of progressive keys;
 *  - jobs: struct spatten_attn_desc covers every knob of the hardware
 *    (stage, causal, formats, progressive keys, token/head/value keep
 *    counts, pinned tokens, LSB threshold, top-k seed); spatten_attn_prep()
 *    encodes it, spatten_submit() queues, spatten_wait() (one job) and
 *    spatten_reap() (whichever are done) reap, spatten_run() does both;
 *  - sessions: the cascade state of one sequence across layers and
 *    generation steps, one call per layer.
 *
 * Thread safety: a struct spatten_dev may be used from several threads at
 * once (submit, wait, buffer allocation). A struct spatten_bo must not be
 * freed while another thread still uses it. A session is used by one
 * thread at a time.
 */
#ifndef LIBSPATTEN_H
#define LIBSPATTEN_H

#include <stddef.h>
#include <stdint.h>

#include "spatten_types.h"
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
#define SPATTEN_LIB_VERSION_MINOR	4

/*
 * Device "paths" that name a board by its number instead of its node:
 * "spatten:<N>" is the N-th SpAtten board in discovery order (see
 * spatten_list_boards()), whatever its node is called on this kernel.
 * SPATTEN_DEFAULT_PATH, the first board, is what a NULL @path means.
 */
#define SPATTEN_BOARD_PREFIX		"spatten:"
#define SPATTEN_DEFAULT_PATH		"spatten:0"

/* Timeout of spatten_wait() that never expires. */
#define SPATTEN_WAIT_FOREVER		(-1)

/* Environment variable read by SPATTEN_BACKEND_DEFAULT: "sim" or "device". */
#define SPATTEN_BACKEND_ENV		"SPATTEN_BACKEND"

/*
 * Environment variable for tests: a directory that stands in for /sys in
 * board discovery (its class/accel and class/drm). Ignored in setuid and
 * setgid programs.
 */
#define SPATTEN_SYSFS_ENV		"SPATTEN_SYSFS_ROOT"

struct spatten_dev;
struct spatten_bo;
struct spatten_session;

/* ---- Devices ------------------------------------------------------------ */

/**
 * enum spatten_backend - what executes the jobs of a device handle
 * @SPATTEN_BACKEND_DEFAULT: $SPATTEN_BACKEND ("sim" or "device"), else the
 *	kernel device
 * @SPATTEN_BACKEND_DEVICE: the kernel driver's DRM node of a board
 * @SPATTEN_BACKEND_SIM: in-process simulation: the device's engine and the
 *	driver's checks, buffers in ordinary page-aligned memory
 */
enum spatten_backend {
	SPATTEN_BACKEND_DEFAULT = 0,
	SPATTEN_BACKEND_DEVICE = 1,
	SPATTEN_BACKEND_SIM = 2,
};

/**
 * spatten_open() - open an accelerator with the default backend
 * @path: device node (/dev/accel/accel<N>, /dev/dri/renderD<N>),
 *	"spatten:<N>" for the N-th board, or NULL for the first board
 *	(SPATTEN_DEFAULT_PATH); ignored by the simulation backend
 * @devp: receives the device handle on success
 *
 * Same as spatten_open_backend(@path, SPATTEN_BACKEND_DEFAULT, @devp).
 *
 * Return: as spatten_open_backend().
 */
SPATTEN_API int spatten_open(const char *path, struct spatten_dev **devp);

/**
 * spatten_open_backend() - open an accelerator with a chosen backend
 * @path: device node (/dev/accel/accel<N>, /dev/dri/renderD<N>),
 *	"spatten:<N>" for the N-th board, or NULL for the first board
 *	(SPATTEN_DEFAULT_PATH); ignored by the simulation backend
 * @backend: enum spatten_backend
 * @devp: receives the device handle on success
 *
 * A board named by number is found as spatten_list_boards() finds it. The
 * node is opened read-write with O_CLOEXEC; it must be a DRM device of
 * the driver "spatten" (DRM_IOCTL_VERSION) whose interface version
 * (struct spatten_info @api_version) is 4 or later (version 3 jobs and
 * sessions need 5, chunks and importance per KV head 6; the library speaks
 * up to SPATTEN_API_VERSION). The
 * simulation backend models a board with the QEMU device's default
 * capabilities, every feature and every format.
 *
 * Return: 0, or -errno: -EINVAL (NULL @devp, unknown @backend,
 * $SPATTEN_BACKEND neither "sim" nor "device", or a malformed
 * "spatten:<N>"), -ENOMEM, -ENOENT (no such node, or no N-th board: no
 * board or no driver), another open() error (-EACCES: permission),
 * -ENOTTY (not a SpAtten device: not a DRM node, or the node of another
 * DRM driver), -EPROTO (the driver's interface version is older than 4),
 * or the error of the driver's INFO ioctl (-ENODEV:
 * the board went away).
 */
SPATTEN_API int spatten_open_backend(const char *path,
				     enum spatten_backend backend,
				     struct spatten_dev **devp);

/**
 * spatten_open_index() - open the @index-th board with the default backend
 * @index: board number: its position in discovery order
 *	(spatten_list_boards()), 0 for the first
 * @devp: receives the device handle on success
 *
 * With the simulation backend @index is ignored, as a path is.
 *
 * Return: as spatten_open(); -ENOENT when there are not @index + 1 boards.
 */
SPATTEN_API int spatten_open_index(unsigned int index,
				   struct spatten_dev **devp);

/**
 * spatten_backend() - backend of a device handle
 * @dev: device handle
 *
 * Return: SPATTEN_BACKEND_DEVICE or SPATTEN_BACKEND_SIM, -EINVAL for NULL.
 */
SPATTEN_API int spatten_backend(const struct spatten_dev *dev);

/**
 * struct spatten_board - one board found by spatten_list_boards()
 * @index: board number: position in discovery order (what
 *	spatten_open_index() and "spatten:<N>" take)
 * @path: device node: /dev/accel/accel<M> or /dev/dri/renderD<M>
 * @pci_addr: PCI address (domain:bus:dev.fn) from sysfs, "" if unknown
 */
struct spatten_board {
	unsigned int index;
	char path[32];
	char pci_addr[32];
};

/**
 * spatten_list_boards() - enumerate the boards the driver exposes
 * @boards: receives up to @max entries, in discovery order (may be NULL
 *	if @max is 0)
 * @max: capacity of @boards
 *
 * Discovery: the entries accel<M> of /sys/class/accel, in numeric order of
 * M, whose device/driver link names the driver "spatten"; if there is none,
 * the render nodes renderD<M> of /sys/class/drm likewise (kernels without
 * the accel subsystem). The n-th board found has index n. The node is
 * /dev/accel/accel<M> or /dev/dri/renderD<M>, the PCI address the name of
 * the device link. Boards without the driver are found by
 * tools/spatten-info through libpci.
 *
 * Return: the number of boards found (may exceed @max: only @max are
 * stored; 0 when neither sysfs directory exists), -EINVAL for a NULL
 * @boards with @max > 0, or -ENOMEM.
 */
SPATTEN_API int spatten_list_boards(struct spatten_board *boards,
				    unsigned int max);

/**
 * spatten_close() - release a device handle
 * @dev: handle from spatten_open(), or NULL (no-op)
 *
 * Buffers still allocated keep the device open until they are freed with
 * spatten_bo_free(). Jobs still in flight are abandoned (the driver
 * completes and discards them).
 */
SPATTEN_API void spatten_close(struct spatten_dev *dev);

/**
 * spatten_fd() - pollable file descriptor of a device
 * @dev: device handle
 *
 * For poll()/epoll: readable (POLLIN) while a completed job of this handle
 * is waiting to be reaped with spatten_wait() or spatten_reap(). The DRM
 * node for the device backend (POLLERR | POLLHUP once the board is gone),
 * an eventfd kept in step with the completions for the simulation
 * backend. Do not close it, read it or write it.
 *
 * Return: the descriptor, or -EINVAL for a NULL @dev.
 */
SPATTEN_API int spatten_fd(const struct spatten_dev *dev);

/**
 * spatten_get_info() - what the board is and can do
 * @dev: device handle
 * @info: receives the capabilities
 *
 * Return: 0, or -errno from the driver's INFO ioctl (-EINVAL for NULL
 * args, -ENODEV once the board is gone).
 */
SPATTEN_API int spatten_get_info(struct spatten_dev *dev,
				 struct spatten_info *info);

/* Feature bits of spatten_probe(): SPATTEN_FEAT_* of spatten_hw.h. */

/**
 * spatten_probe() - does the board support a feature set
 * @dev: device handle
 * @features: SPATTEN_FEAT_* bits, all of which must be present
 *
 * Reads the capability registers (through spatten_get_info()).
 *
 * Return: 1 if every bit of @features is supported, 0 if one is not,
 * -errno from spatten_get_info().
 */
SPATTEN_API int spatten_probe(struct spatten_dev *dev, uint32_t features);

/**
 * spatten_get_counters() - read the device-wide counters
 * @dev: device handle
 * @cnt: receives the counters; @cnt->value[SPATTEN_CNT_*] for the first
 *	@cnt->num entries (the device's, then the driver's)
 *
 * Return: 0, or -errno from the driver's COUNTERS ioctl (-EINVAL for NULL
 * args).
 */
SPATTEN_API int spatten_get_counters(struct spatten_dev *dev,
				     struct spatten_counters *cnt);

/* ---- Buffer objects ----------------------------------------------------- */

/**
 * spatten_bo_alloc() - allocate a device buffer and map it
 * @dev: device handle
 * @size: bytes, > 0 (rounded up to the page size)
 * @bop: receives the buffer on success
 *
 * The buffer is zero-filled, mapped read-write into the process and can be
 * named by jobs through a struct spatten_tensor_ref.
 *
 * Return: 0, or -errno: -EINVAL (zero size, NULL args, above
 * max_bo_size), -ENOMEM, or the error of the driver's BO_CREATE ioctl or
 * of mmap().
 */
SPATTEN_API int spatten_bo_alloc(struct spatten_dev *dev, size_t size,
				 struct spatten_bo **bop);

/**
 * spatten_bo_import() - make user memory a buffer without copying
 * @dev: device handle
 * @ptr: page-aligned start of the memory
 * @size: bytes, > 0, a multiple of the page size
 * @bop: receives the buffer on success
 *
 * The memory stays the caller's: it must be writable (the device writes
 * outputs into it) and outlive the buffer, and spatten_bo_free() does not
 * free it. spatten_bo_map() returns @ptr. On the device backend the driver
 * pins the pages (its BO_USERPTR ioctl) until the buffer is freed and the
 * last job using them is done, charged to RLIMIT_MEMLOCK. The memory must
 * be anonymous, shmem (memfd, /dev/shm) or hugetlb, or a private file
 * mapping.
 *
 * Return: 0, or -errno: -EINVAL (NULL args, zero size, misaligned @ptr or
 * @size, above max_bo_size), -ENOMEM (also RLIMIT_MEMLOCK), -EFAULT
 * (memory not mapped or read-only), -EOPNOTSUPP (a shared mapping of a
 * regular file, or a driver without user-pointer buffers), -EBUSY (a page
 * is already in another imported buffer of the board), or another error
 * of the driver's BO_USERPTR ioctl.
 */
SPATTEN_API int spatten_bo_import(struct spatten_dev *dev, void *ptr,
				  size_t size, struct spatten_bo **bop);

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

/* ---- Fixed point and tensor packing -------------------------------------- */

/*
 * Layouts (docs/hardware.md): a tensor is [n_heads][rows][head_dim], packed
 * row-major. SPATTEN_FMT_S16 is one little-endian int16 per element.
 * SPATTEN_FMT_S4..S12 store each element as an n-bit two's complement
 * field of a little-endian bit stream: element e of a row in bits
 * [e*n, e*n + n) of the row, a row being head_dim * n / 8 bytes. Because
 * head_dim is a multiple of 8, a whole tensor is one such bit stream, so
 * the packers below take element counts, not shapes.
 *
 * Progressive keys: a key is a signed (m + 4)-bit fixed-point value x
 * (raw = round(key * 2^frac)); the MSB plane holds raw >> 4 (arithmetic
 * shift, format S<m>), the LSB plane raw & 15 (4-bit unsigned, packed
 * like S4). The device rebuilds raw = msb * 16 + lsb.
 */

/* Largest number of fractional bits of every format. */
#define SPATTEN_S16_MAX_FRAC		15
#define SPATTEN_MAX_FRAC		15

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
 * spatten_frac_for_range() - fractional bits of S16 for values up to a
 * magnitude
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
 * spatten_frac_for_bits() - fractional bits of an n-bit format for a range
 * @max_abs: largest |x| the format must hold (>= 0)
 * @bits: total bits of the value, 4..16 (m + 4 for progressive keys)
 *
 * Return: the most fractional bits (0..15) with which every |x| <=
 * @max_abs fits in @bits signed bits, -ERANGE if none does, -EINVAL for a
 * bad @bits or a negative or NaN @max_abs.
 */
SPATTEN_API int spatten_frac_for_bits(float max_abs, unsigned int bits);

/**
 * spatten_max_abs() - largest magnitude of an array
 * @x: @n floats
 * @n: elements
 *
 * Return: max |x[i]| (0 for an empty array); NaN elements are ignored.
 */
SPATTEN_API float spatten_max_abs(const float *x, size_t n);

/**
 * spatten_fmt_bits() - bits per element of a format
 * @fmt: enum spatten_format
 *
 * Return: 16, 4, 6, 8, 10 or 12; 0 for an unknown format.
 */
SPATTEN_API unsigned int spatten_fmt_bits(unsigned int fmt);

/**
 * spatten_fmt_of_bits() - the format with @bits bits per element
 * @bits: 4, 6, 8, 10, 12 or 16
 *
 * Return: the enum spatten_format, -EINVAL for other values.
 */
SPATTEN_API int spatten_fmt_of_bits(unsigned int bits);

/**
 * spatten_packed_bytes() - bytes of @n elements of format @fmt
 * @fmt: enum spatten_format
 * @n: elements
 *
 * Return: n * bits / 8 rounded up; 0 for an unknown format.
 */
SPATTEN_API uint64_t spatten_packed_bytes(unsigned int fmt, uint64_t n);

/**
 * spatten_pack() - quantize floats into a packed format
 * @dst: spatten_packed_bytes(@fmt, @n) bytes
 * @fmt: enum spatten_format
 * @src: @n floats
 * @n: elements; @n * bits must be a multiple of 8
 * @frac: fractional bits, 0..15
 *
 * Rounds as spatten_float_to_s16() and saturates to the format's range.
 *
 * Return: the number of saturated elements, or -EINVAL (unknown format,
 * @frac > 15, @n not whole bytes, NULL arrays with @n > 0).
 */
SPATTEN_API long spatten_pack(void *dst, unsigned int fmt, const float *src,
			      size_t n, unsigned int frac);

/**
 * spatten_unpack() - dequantize a packed format into floats
 * @dst: @n floats
 * @fmt: enum spatten_format
 * @src: packed elements
 * @n: elements; @n * bits must be a multiple of 8
 * @frac: fractional bits, 0..15
 *
 * Return: 0 or -EINVAL (as spatten_pack()).
 */
SPATTEN_API int spatten_unpack(float *dst, unsigned int fmt, const void *src,
			       size_t n, unsigned int frac);

/**
 * spatten_pack_split() - quantize keys into MSB and LSB planes
 * @msb: spatten_packed_bytes(S<@msb_bits>, @n) bytes
 * @lsb: @n / 2 bytes of 4-bit LSBs
 * @msb_bits: 4, 6, 8, 10 or 12 (the board's CAP_SPLITS)
 * @src: @n floats
 * @n: elements, even
 * @frac: fractional bits of the full (@msb_bits + 4)-bit value, 0..15
 *
 * Return: the number of saturated elements, or -EINVAL.
 */
SPATTEN_API long spatten_pack_split(void *msb, void *lsb,
				    unsigned int msb_bits, const float *src,
				    size_t n, unsigned int frac);

/**
 * spatten_unpack_split() - rebuild floats from MSB and LSB planes
 * @dst: @n floats
 * @msb_bits: 4, 6, 8, 10 or 12
 * @msb: MSB plane
 * @lsb: LSB plane, or NULL: use the middle of the LSB range (8), which is
 *	what the device computes with before an LSB refetch
 * @n: elements, even
 * @frac: fractional bits of the full value
 *
 * Return: 0 or -EINVAL.
 */
SPATTEN_API int spatten_unpack_split(float *dst, unsigned int msb_bits,
				     const void *msb, const void *lsb,
				     size_t n, unsigned int frac);

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
 * @bo: buffer object of the device the job is submitted to; NULL = absent
 * @offset: byte offset: 2-aligned for S16 tensors and u16 lists, 8-aligned
 *	for importance arrays, any for packed formats
 */
struct spatten_tensor_ref {
	struct spatten_bo *bo;
	uint64_t offset;
};

/* Flags of struct spatten_attn_desc. */
#define SPATTEN_ATTN_CAUSAL		(1u << 0)
#define SPATTEN_ATTN_PROGRESSIVE	(1u << 1)	/* K as MSB + LSB planes */
#define SPATTEN_ATTN_FLAGS_ALL \
	(SPATTEN_ATTN_CAUSAL | SPATTEN_ATTN_PROGRESSIVE)
/* spatten_attn_prep3() only (descriptor version 3) */
#define SPATTEN_ATTN_ROPE		(1u << 2)	/* rotate Q and K */
#define SPATTEN_ATTN_ROPE_POSITIONS	(1u << 3)	/* key position list */
#define SPATTEN_ATTN_HEAD_FRACS		(1u << 4)	/* fractions per head */
#define SPATTEN_ATTN_IMP_PER_KV_HEAD	(1u << 5)	/* tok_imp [G][kv_rows] */
#define SPATTEN_ATTN_FLAGS_ALL_V3 \
	(SPATTEN_ATTN_FLAGS_ALL | SPATTEN_ATTN_ROPE | \
	 SPATTEN_ATTN_ROPE_POSITIONS | SPATTEN_ATTN_HEAD_FRACS | \
	 SPATTEN_ATTN_IMP_PER_KV_HEAD)

/**
 * struct spatten_attn_desc - one attention job: every knob of the hardware
 * @n_heads: heads (1..info.max_heads)
 * @head_dim: D, a power of two the board supports (info.head_dims)
 * @q_rows: query rows per head
 * @kv_rows: key/value rows per head (1..info.max_context)
 * @q_start: absolute position of query row 0 (causal jobs; 0 otherwise)
 * @stage: SPATTEN_STAGE_SUMMARIZATION or SPATTEN_STAGE_GENERATION
 *	(generation: the new tokens are the last @q_rows slots, @q_start ==
 *	@kv_rows - @q_rows, each always a candidate and always kept; @q_rows
 *	1 and, since a non-causal job starts at position 0,
 *	SPATTEN_ATTN_CAUSAL unless @kv_rows == 1; more than one new token
 *	(a chunk) in version 3 only, causal, on boards with
 *	SPATTEN_FEAT_CHUNKS)
 * @flags: SPATTEN_ATTN_* (CAUSAL: row i sees keys j <= @q_start + i, and
 *	@q_start + @q_rows <= @kv_rows; PROGRESSIVE: @k is the MSB plane in
 *	@k_fmt S4..S12 and @k_lsb the 4-bit LSB plane)
 * @q_frac: fractional bits of Q (0..15)
 * @k_frac: fractional bits of K (MSBs and LSBs together when progressive)
 * @v_frac: fractional bits of V
 * @out_frac: fractional bits of the output
 * @k_fmt: enum spatten_format of K (0 = S16)
 * @v_fmt: enum spatten_format of V (0 = S16)
 * @q: Q, [n_heads][q_rows][head_dim], S16
 * @k: K, [n_heads][kv_rows][head_dim]
 * @v: V, [n_heads][kv_rows][head_dim]
 * @out: output, [n_heads][q_rows][head_dim], S16, written by the device
 * @k_lsb: PROGRESSIVE only: LSB plane of K
 * @tok_imp: u64[kv_rows] cumulative token importance (read and written);
 *	required by @token_keep, optional otherwise (present: accumulates);
 *	with SPATTEN_ATTN_IMP_PER_KV_HEAD (version 3) u64[n_kv_heads][kv_rows],
 *	each KV head's row summing its own query heads, required, and
 *	@token_keep must be 0
 * @tok_alive: u16[@n_tok_alive] candidate tokens, strictly ascending
 * @tok_kept: u16[@token_keep] kept tokens, written, ascending
 * @pinned: u16[@n_pinned] tokens never pruned, strictly ascending
 * @head_imp: u64[n_heads] cumulative head importance (read and written);
 *	required by @head_keep, optional otherwise
 * @head_alive: u16[@n_head_alive] heads computed, strictly ascending
 * @head_kept: u16[@head_keep] heads kept for later layers, written
 * @n_tok_alive: entries of @tok_alive; 0 = every token alive
 * @token_keep: tokens to keep (cascade token pruning); 0 = no pruning
 * @n_pinned: entries of @pinned (needs @token_keep)
 * @n_head_alive: entries of @head_alive; 0 = every head alive
 * @head_keep: heads to keep after this layer; 0 = no head pruning
 * @value_keep: V rows kept per head and query (local value pruning);
 *	0 = no value pruning
 * @lsb_threshold: PROGRESSIVE: refetch the LSBs of a row whose largest
 *	probability is below @lsb_threshold / 2^15 (0..32768)
 * @topk_seed: seed of the top-k engine's pivots (modeled cycles only)
 * @user_data: opaque, returned in struct spatten_result
 *
 * Every optional operand is present exactly when its count or flag asks
 * for it (docs/hardware.md). Zero the struct (spatten_attn_desc_init()
 * does) before filling it: zero means "dense, S16, as in v1". With
 * spatten_attn_prep3() the lists hold uint32_t entries, rows and counts
 * may exceed 65535, and K, V and the K LSB plane hold n_kv_heads heads in
 * the layout of struct spatten_attn_ext.
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
	/* v2: formats, pruning, progressive quantization */
	uint8_t k_fmt;
	uint8_t v_fmt;
	uint16_t lsb_threshold;
	uint32_t topk_seed;
	struct spatten_tensor_ref k_lsb;
	struct spatten_tensor_ref tok_imp;
	struct spatten_tensor_ref tok_alive;
	struct spatten_tensor_ref tok_kept;
	struct spatten_tensor_ref pinned;
	struct spatten_tensor_ref head_imp;
	struct spatten_tensor_ref head_alive;
	struct spatten_tensor_ref head_kept;
	uint32_t n_tok_alive;
	uint32_t token_keep;
	uint32_t n_pinned;
	uint32_t n_head_alive;
	uint32_t head_keep;
	uint32_t value_keep;
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
 * A dense, non-causal S16 summarization job with q_start 0 and 0
 * fractional bits; with @bo, Q sits at offset 0 and K, V and the output
 * follow, each at a 64-byte aligned offset (spatten_attn_desc_bytes() says
 * how large @bo must be). Adjust the fields afterwards as needed.
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
 * position rules, keep counts, that every operand the counts require is
 * present (and no other), that it lies inside its buffer at an aligned
 * offset, and that all buffers belong to one device. Board limits (heads,
 * head_dim, context, formats, features) are the driver's to check at
 * submit time. The job is encoded as descriptor version 2, with every v2
 * field zero when unused.
 *
 * Return: 0, -EINVAL for a malformed description, -ERANGE for an operand
 * that does not fit its buffer.
 */
SPATTEN_API int spatten_attn_prep(struct spatten_job *job,
				  const struct spatten_attn_desc *desc);

/**
 * struct spatten_attn_ext - what descriptor version 3 adds to a job
 * (docs/hardware.md, "Descriptor version 3")
 * @n_kv_heads: K/V heads (0: as many as query heads); must divide n_heads.
 *	Query head h reads KV head h / (n_heads / n_kv_heads) (GQA; MQA with
 *	1). K, V and K's LSB plane hold @n_kv_heads heads
 * @kv_head_stride: rows between KV heads in K, V and the K LSB plane
 * @kv_row_stride: rows between token slots; all four layout fields 0 is
 *	the packed [n_kv_heads][kv_rows][head_dim] layout. A cache allocated
 *	at capacity C, [n_kv_heads][C][head_dim], is head stride C, row
 *	stride 1; [C][n_kv_heads][head_dim] (token-major) is head stride 1,
 *	row stride n_kv_heads
 * @kv_block_stride: paged: rows of the buffer per block number
 * @kv_block_rows: paged: token slots per block, a power of two; slot r is
 *	in block @block_table[r / kv_block_rows]; 0: not paged
 * @rope_base: with SPATTEN_ATTN_ROPE: the RoPE base (10000, 500000, ...)
 * @score_scale: softmax scale of the real-valued scores; 0: 1/sqrt(D)
 * @rsvd0: must be zero
 * @block_table: paged: uint32_t block numbers, one per @kv_block_rows slots
 * @positions: with SPATTEN_ATTN_ROPE_POSITIONS: uint32_t[kv_rows] key
 *	positions (query row i has the position of slot q_start + i);
 *	without, a key's position is its slot
 * @head_fracs: with SPATTEN_ATTN_HEAD_FRACS: uint8_t fractional bits per
 *	head, [n_heads] of Q, [n_heads] of the output, [n_kv_heads] of K,
 *	[n_kv_heads] of V (each 0..15; the desc's *_frac are then 0)
 * @rsvd: must be zero
 *
 * Zero it before filling it in: zero means
 * "as many KV heads as query heads, packed, no RoPE, 1/sqrt(D)".
 */
struct spatten_attn_ext {
	uint32_t n_kv_heads;
	uint32_t kv_head_stride;
	uint32_t kv_row_stride;
	uint32_t kv_block_stride;
	uint32_t kv_block_rows;
	uint32_t rope_base;
	float score_scale;
	uint32_t rsvd0;
	struct spatten_tensor_ref block_table;
	struct spatten_tensor_ref positions;
	struct spatten_tensor_ref head_fracs;
	uint64_t rsvd[2];
};

/**
 * spatten_attn_prep3() - encode an attention job as descriptor version 3
 * @job: receives the job (fully overwritten)
 * @desc: what to compute; rows and counts up to 2^32 - 1; @desc->flags
 *	may add SPATTEN_ATTN_ROPE, SPATTEN_ATTN_ROPE_POSITIONS,
 *	SPATTEN_ATTN_HEAD_FRACS and SPATTEN_ATTN_IMP_PER_KV_HEAD; every list
 *	(tok_alive, tok_kept, pinned, head_alive, head_kept) holds uint32_t
 *	entries; K, V and K's LSB plane follow the KV layout of @ext
 * @ext: the version-3 fields, or NULL for all zero
 *
 * Needs a board with SPATTEN_FEAT_DESC_V3 (and SPATTEN_FEAT_GQA,
 * SPATTEN_FEAT_KV_LAYOUT, SPATTEN_FEAT_ROPE, SPATTEN_FEAT_CHUNKS,
 * SPATTEN_FEAT_IMP_PER_KV_HEAD for what it uses): spatten_submit3() fails
 * with -EINVAL otherwise.
 *
 * Return: 0, -EINVAL (a malformed field, the same rules as the device's),
 * -ERANGE (an operand outside its buffer).
 */
SPATTEN_API int spatten_attn_prep3(struct spatten_job3 *job,
				   const struct spatten_attn_desc *desc,
				   const struct spatten_attn_ext *ext);

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
 * @status: enum spatten_hw_status, SPATTEN_HW_OK on success, or
 *	SPATTEN_STATUS_TIMEOUT / SPATTEN_STATUS_CANCELED from the driver
 * @lsb_refetches: (head, query) rows recomputed with the K LSBs
 * @user_data: the job's user_data
 * @bytes_q: bytes the device read from Q
 * @bytes_k_msb: bytes read from the K MSB plane (all of K if not
 *	progressive)
 * @bytes_k_lsb: bytes read from the K LSB plane
 * @bytes_v: bytes read from V
 * @bytes_written: bytes written
 * @cycles: modeled device cycles (1 GHz)
 */
struct spatten_result {
	uint32_t status;
	uint32_t lsb_refetches;
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
 * All or nothing: on error no job is queued. The first job of a handle
 * has sequence number 1. The driver queues the jobs without blocking; they
 * run in submission order and may complete out of order. The simulation
 * backend runs the jobs before returning; their results wait to be reaped
 * as on the device.
 *
 * Return: 0, or -errno from the driver's SUBMIT ioctl (-EINVAL: a
 * malformed job or count, -ENOENT: unknown buffer handle, -ERANGE: tensor
 * outside its buffer, -EBUSY: 4096 jobs of this handle not reaped yet,
 * -ECANCELED: a job of this handle hung and the handle is banned (open
 * the device again), -EIO: the board is out of service, -ENODEV: the
 * board went away, ...).
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
 * reaped exactly once, by spatten_wait() or spatten_reap(): a second wait
 * on it fails with -ENOENT. (The simulation backend completes jobs inside
 * spatten_submit(), so its waits never time out.)
 *
 * Return: 0 when the job completed (check @res->status: the job itself may
 * have failed, been canceled or timed out), -ETIME if it did not complete
 * in time (it stays queued), -ENOENT for a seqno never issued on this
 * handle or already reaped, -ENODEV once the board is gone and every job
 * in flight has been reported.
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

/* Most results one spatten_reap() returns. */
#define SPATTEN_REAP_MAX		256

/**
 * spatten_reap() - reap whichever jobs are done
 * @dev: device handle
 * @res: receives up to @max completions (struct spatten_wait: @seqno,
 *	@status, @user_data and the figures; @timeout_ns, @flags and the
 *	reserved fields zero), in completion order
 * @max: room at @res, 1..SPATTEN_REAP_MAX
 * @min: wait until this many jobs of the handle are done (at most @max and
 *	the jobs pending: submitted, not yet reaped); 0 never waits
 * @deadline_ns: absolute CLOCK_MONOTONIC time of the wait (see
 *	spatten_now_ns()); a passed deadline polls; INT64_MAX never expires
 *
 * The completion-queue counterpart of spatten_wait(): reaps any completed
 * jobs of this handle, whichever they are, each exactly once, without
 * naming them. Combined with spatten_fd() under poll() it serves an event
 * loop: when the descriptor is readable, spatten_reap(dev, res, max, 0, 0)
 * takes what is there. With no job pending it returns 0 at once. Jobs not
 * reaped stay pending; a job reaped here is gone for spatten_wait()
 * (-ENOENT) and the other way round. The simulation backend completes
 * jobs in submission order inside spatten_submit(), so its reaps never
 * wait.
 *
 * Return: the number of completions stored (0..@max), or -errno: -EINVAL
 * (NULL @dev, NULL @res, @max 0 or above SPATTEN_REAP_MAX, @min above
 * @max), -ETIME (@min > 0, jobs pending, and none done by the deadline),
 * -ENODEV once the board is gone and every job in flight has been
 * reported, or another error of the driver's REAP ioctl.
 */
SPATTEN_API int spatten_reap(struct spatten_dev *dev, struct spatten_wait *res,
			     unsigned int max, unsigned int min,
			     int64_t deadline_ns);

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

/**
 * spatten_submit3() - queue version-3 jobs: spatten_submit() for struct
 * spatten_job3
 * @dev: device handle
 * @jobs: @n jobs from spatten_attn_prep3() (or a version 1/2 job in
 *	@jobs[i].job with the rest zero)
 * @n: 1..SPATTEN_MAX_SUBMIT
 * @seqno: as spatten_submit()
 *
 * Return: as spatten_submit(), and -EOPNOTSUPP on a driver of API 4
 * (library 1.3 opens those for version 1/2 jobs).
 */
SPATTEN_API int spatten_submit3(struct spatten_dev *dev,
				const struct spatten_job3 *jobs,
				unsigned int n, uint64_t *seqno);

/**
 * spatten_run3() - submit one version-3 job and wait for it
 * @dev: device handle
 * @job: from spatten_attn_prep3()
 * @res: receives what the job did (may be NULL)
 *
 * Return: as spatten_run().
 */
SPATTEN_API int spatten_run3(struct spatten_dev *dev,
			     const struct spatten_job3 *job,
			     struct spatten_result *res);

/* ---- Sessions: cascade pruning across layers and steps --------------------- */

/* Largest number of layers of a session. */
#define SPATTEN_MAX_LAYERS		128

/**
 * struct spatten_schedule - per-layer keep ratios of a session
 * @tok_keep: layer l keeps floor(L * @tok_keep[l]) tokens of a context of
 *	L (never more than are alive, never fewer than pinned + current);
 *	1 = no token pruning at l
 * @head_keep: layer l computes ceil(n_heads * @head_keep[l]) heads (at
 *	least 1); 1 = all heads
 * @value_keep: layer l keeps, per head and query, the V rows of the
 *	ceil(kept * @value_keep[l]) largest probabilities; 1 = no value
 *	pruning
 *
 * Ratios are in (0, 1]. spatten_schedule_paper() fills one with the
 * paper's rule; any per-layer values may be written directly.
 *
 * A ratio stands for a decimal (0.2f is 0.200000003, a ramp's 0.7 may be
 * 0.700000048f), and the counts are those of the decimal: a product n * r
 * (n = L, n_heads or kept; exact in double) within n * r * 2^-23 of an
 * integer counts as that integer, otherwise it is floored or ceiled. So 0.2
 * of 10 tokens is 2 and 0.7 of 10 heads is 7. The slack covers a float's
 * own rounding (2^-24, relative) and a ramp's (2^-23). For a decimal ratio
 * p / q the counts are exactly floor(n p / q) (tokens) and ceil(n p / q)
 * (heads, V rows) whenever n * p < 2^22: any ratio of three decimals for
 * n < 4194, a ramp between ratios of two decimals over m + 1 layers for
 * n * m < 41943. Both rules are monotone in n and in r.
 */
struct spatten_schedule {
	float tok_keep[SPATTEN_MAX_LAYERS];
	float head_keep[SPATTEN_MAX_LAYERS];
	float value_keep[SPATTEN_MAX_LAYERS];
};

/**
 * spatten_schedule_dense() - a schedule that prunes nothing
 * @s: schedule to fill (every ratio 1)
 */
SPATTEN_API void spatten_schedule_dense(struct spatten_schedule *s);

/**
 * spatten_schedule_paper() - the paper's pruning schedule
 * @s: schedule to fill
 * @n_layers: layers, 1..SPATTEN_MAX_LAYERS
 * @tok_start: token keep ratio of the first pruned layer
 * @tok_end: token keep ratio of the last layer
 * @head_start: head keep ratio of the first pruned layer
 * @head_end: head keep ratio of the last layer
 * @value_keep: value keep ratio of every pruned layer (1 = none)
 *
 * Tokens: layers l < ceil(0.15 * @n_layers) are not pruned; from there to
 * the last layer the ratio goes linearly from @tok_start to @tok_end.
 * Heads likewise with the first ceil(0.30 * @n_layers) layers unpruned.
 * Value pruning applies where token pruning does. The ramp is computed in
 * double and rounded once to float: its ends are the given ratios, its
 * values lie between them, and the counts follow the exact ramp of the
 * decimals (struct spatten_schedule): 3 layers, tokens 0.9 to 0.2, keep 2
 * of 10 tokens at the last layer; 6 layers, 0.6 to 0.2, keep 20 of 100;
 * 5 layers, heads 0.8 to 0.6, compute 7 of 10 heads at layer 3.
 *
 * Return: 0, -EINVAL (NULL @s, @n_layers out of range, a ratio outside
 * (0, 1]).
 */
SPATTEN_API int spatten_schedule_paper(struct spatten_schedule *s,
				       unsigned int n_layers,
				       float tok_start, float tok_end,
				       float head_start, float head_end,
				       float value_keep);

/* Flags of struct spatten_session_config. */
#define SPATTEN_SESSION_CAUSAL		(1u << 0)	/* decoder (GPT-2) */
#define SPATTEN_SESSION_PROGRESSIVE	(1u << 1)	/* K as MSB + LSB */
#define SPATTEN_SESSION_FLAGS_ALL \
	(SPATTEN_SESSION_CAUSAL | SPATTEN_SESSION_PROGRESSIVE)

/**
 * struct spatten_session_config - shape, precision and schedule of a session
 * @n_layers: layers, 1..SPATTEN_MAX_LAYERS
 * @n_heads: heads per layer
 * @head_dim: D
 * @max_context: largest sequence length (prompt + generated tokens): the
 *	KV cache's capacity, allocated at creation (up to the board's
 *	max_context); each step writes only its new tokens' rows
 * @flags: SPATTEN_SESSION_*
 * @k_bits: bits of K in memory: 16 (S16), 4..12 static Sn, or with
 *	SPATTEN_SESSION_PROGRESSIVE the MSB bits (4..12; keys are k_bits + 4
 *	bits in all)
 * @v_bits: bits of V: 16 or 4..12
 * @q_frac: fractional bits of Q (S16)
 * @k_frac: fractional bits of K (of the full k_bits (+4) bit value)
 * @v_frac: fractional bits of V
 * @out_frac: fractional bits of the output (S16)
 * @lsb_threshold: PROGRESSIVE: refetch when the largest probability is
 *	below @lsb_threshold / 2^15 (the paper's 0.1 is 3277)
 * @topk_seed: seed of the top-k pivots
 * @n_pinned: entries of @pinned
 * @pinned: tokens never pruned (e.g. BERT's [CLS]), strictly ascending
 * @schedule: per-layer keep ratios
 *
 * spatten_session_config_init() fills sensible defaults.
 */
struct spatten_session_config {
	uint32_t n_layers;
	uint32_t n_heads;
	uint32_t head_dim;
	uint32_t max_context;
	uint32_t flags;
	uint8_t k_bits;
	uint8_t v_bits;
	uint8_t q_frac;
	uint8_t k_frac;
	uint8_t v_frac;
	uint8_t out_frac;
	uint16_t lsb_threshold;
	uint32_t topk_seed;
	uint32_t n_pinned;
	uint16_t pinned[64];
	struct spatten_schedule schedule;
};

/**
 * spatten_session_config_init() - defaults for a model shape
 * @cfg: configuration to fill (fully overwritten)
 * @n_layers: layers
 * @n_heads: heads
 * @head_dim: D
 * @max_context: largest sequence length
 *
 * Causal, dense schedule, S16 everywhere with 11 fractional bits for Q,
 * K, V and the output (inputs up to |16|), progressive off, threshold
 * 3277 (0.1), no pinned tokens. Switch on pruning with
 * spatten_schedule_paper(&cfg->schedule, ...) and progressive keys with
 * cfg->flags |= SPATTEN_SESSION_PROGRESSIVE, cfg->k_bits = 8 (and a k_frac
 * for 12-bit keys).
 */
SPATTEN_API void spatten_session_config_init(
	struct spatten_session_config *cfg, uint32_t n_layers,
	uint32_t n_heads, uint32_t head_dim, uint32_t max_context);

/**
 * spatten_session_create() - a session on a device
 * @dev: device handle (the session holds a reference until destroyed)
 * @cfg: configuration (copied)
 * @sp: receives the session
 *
 * Allocates the KV cache (per layer K, its LSB plane, V) and the cascade
 * state (token and head importance, alive lists) in device buffers.
 *
 * Return: 0, or -errno: -EINVAL (bad config), -EOPNOTSUPP (a feature,
 * format, split, shape or context the board lacks), -EFBIG (a plane of a
 * layer's KV cache, n_kv_heads x max_context rows of K or V, larger than
 * the board's largest buffer), -ENOMEM, or the buffer allocation error.
 */
SPATTEN_API int spatten_session_create(struct spatten_dev *dev,
				       const struct spatten_session_config *cfg,
				       struct spatten_session **sp);

/* Flags of struct spatten_session_opts (with SPATTEN_SESSION_PROGRESSIVE). */
#define SPATTEN_SESSION_FIXED_SCALES	(1u << 2)	/* the *_frac as given */
#define SPATTEN_SESSION_SATURATION_ERROR (1u << 3)	/* saturating: -ERANGE */
#define SPATTEN_SESSION_KV_PER_HEAD	(1u << 4)	/* bounded cache per head */

/* Kinds of attention (struct spatten_session_opts @kind): no default. */
#define SPATTEN_SESSION_ENCODER		1	/* every token sees all (BERT) */
#define SPATTEN_SESSION_DECODER		2	/* causal, then generation */

/**
 * struct spatten_session_opts - a session's shape, precision and schedule,
 * extensible: @size says how much of it the caller knows (as openat2()'s
 * struct open_how), so fields added later at the end keep older callers
 * working
 * @size: sizeof(struct spatten_session_opts) as the caller was built;
 *	spatten_session_opts_init() sets it
 * @kind: SPATTEN_SESSION_ENCODER or SPATTEN_SESSION_DECODER (required:
 *	there is no default, so an encoder never runs masked by accident)
 * @n_layers: layers, 1..SPATTEN_MAX_LAYERS
 * @n_heads: query heads per layer
 * @n_kv_heads: key/value heads, dividing @n_heads (grouped-query
 *	attention; 1 is multi-query): query head h reads KV head
 *	h / (n_heads / n_kv_heads), and spatten_session_layer()'s @k and @v
 *	hold @n_kv_heads heads
 * @head_dim: D
 * @max_context: tokens the KV cache holds (its capacity, allocated once)
 * @flags: SPATTEN_SESSION_PROGRESSIVE; SPATTEN_SESSION_FIXED_SCALES: the
 *	fractional bits below as given, one each for Q, K, V and the output;
 *	without it they come from the data, per head: K and V per KV head
 *	at a layer's first pass, Q per query head at every pass (needs
 *	version 3's fractions per head); SPATTEN_SESSION_SATURATION_ERROR: a
 *	pass in which a value would saturate fails with -ERANGE before
 *	anything is written (without it saturations are counted:
 *	spatten_session_saturations()); SPATTEN_SESSION_KV_PER_HEAD: a
 *	bounded cache selects per layer and KV head (below)
 * @k_bits: as struct spatten_session_config
 * @v_bits: as struct spatten_session_config
 * @q_frac: fractional bits of Q (with SPATTEN_SESSION_FIXED_SCALES)
 * @k_frac: fractional bits of K (likewise)
 * @v_frac: fractional bits of V (likewise)
 * @out_frac: fractional bits of the output (likewise)
 * @lsb_threshold: as struct spatten_session_config
 * @topk_seed: seed of the top-k pivots
 * @score_scale: the softmax scale of the real-valued scores; 0 is
 *	1/sqrt(head_dim)
 * @rope_base: 0: queries and keys are used as given (already rotated);
 *	else the board rotates them at attention time (RoPE, this base) by
 *	their slot in the cache (the authors' "position shift")
 * @n_pinned: entries of @pinned
 * @pinned: tokens never pruned, strictly ascending (with a KV budget:
 *	below @kv_start)
 * @schedule: per-layer keep ratios
 * @kv_start: bounded KV cache (the authors' SpAttenKVCache policy; all
 *	three 0: unbounded): the first @kv_start tokens (attention sinks)
 *	stay, ...
 * @kv_important: ... the @kv_important tokens of the middle with the
 *	largest importance (the paper's: probabilities accumulated over
 *	every head, layer and step; ties to the older token) stay, ...
 * @kv_recent: ... and the @kv_recent newest stay, in their original
 *	order; the rest are removed for good when a step would not fit
 *	@max_context, which must exceed the budget. The selection is shared
 *	by every head and layer; with SPATTEN_SESSION_KV_PER_HEAD each
 *	layer's KV head selects for itself by its own importance (the
 *	probabilities its query heads gave, summed over the steps; the
 *	authors' LLM code selects per head too): a slot then holds different
 *	tokens in different heads, so there is no cascade token pruning
 *	(every tok_keep must be 1), a budget is required (-EINVAL without
 *	one) and the board needs SPATTEN_FEAT_IMP_PER_KV_HEAD
 * @max_step: tokens a pass takes at most (the prompt, or a chunk of it),
 *	up to @max_context; 0 is @max_context. The session's work buffer
 *	holds the queries and outputs of this many tokens: a long-context
 *	decoder that takes its prompt in chunks sets it to the chunk size.
 */
struct spatten_session_opts {
	uint32_t size;
	uint32_t kind;
	uint32_t n_layers;
	uint32_t n_heads;
	uint32_t n_kv_heads;
	uint32_t head_dim;
	uint32_t max_context;
	uint32_t flags;
	uint8_t k_bits;
	uint8_t v_bits;
	uint8_t q_frac;
	uint8_t k_frac;
	uint8_t v_frac;
	uint8_t out_frac;
	uint16_t lsb_threshold;
	uint32_t topk_seed;
	float score_scale;
	uint32_t rope_base;
	uint32_t n_pinned;
	uint32_t pinned[64];
	struct spatten_schedule schedule;
	uint32_t kv_start;
	uint32_t kv_important;
	uint32_t kv_recent;
	uint32_t max_step;
};

/**
 * spatten_session_opts_init() - defaults for a model shape and kind
 * @o: options to fill (fully overwritten; @o->size set)
 * @kind: SPATTEN_SESSION_ENCODER or SPATTEN_SESSION_DECODER
 * @n_layers: layers
 * @n_heads: query heads
 * @n_kv_heads: key/value heads (@n_heads without grouped-query attention)
 * @head_dim: D
 * @max_context: KV cache capacity in tokens
 *
 * The defaults of spatten_session_config_init() (dense schedule, S16,
 * 11 fractional bits, threshold 3277), the softmax scale 1/sqrt(D), no
 * RoPE. Nothing is checked here: spatten_session_open() does.
 */
SPATTEN_API void spatten_session_opts_init(struct spatten_session_opts *o,
					   uint32_t kind, uint32_t n_layers,
					   uint32_t n_heads,
					   uint32_t n_kv_heads,
					   uint32_t head_dim,
					   uint32_t max_context);

/**
 * spatten_session_open() - a session on a device, from options
 * @dev: device handle (the session holds a reference until destroyed)
 * @o: options (copied); @o->size at least the size of this version's
 *	first release of the struct and at most 4096 (-EINVAL otherwise),
 *	and any bytes past what this library knows must be zero (-E2BIG
 *	otherwise)
 * @sp: receives the session
 *
 * Return: as spatten_session_create(), and -E2BIG.
 */
SPATTEN_API int spatten_session_open(struct spatten_dev *dev,
				     const struct spatten_session_opts *o,
				     struct spatten_session **sp);

/**
 * spatten_session_saturations() - values of a layer that saturated
 * @s: session
 * @layer: 0..n_layers-1
 * @q: receives the Q elements that saturated since create or reset (may
 *	be NULL)
 * @k: likewise K
 * @v: likewise V
 *
 * Return: 0, -EINVAL.
 */
SPATTEN_API int spatten_session_saturations(const struct spatten_session *s,
					    unsigned int layer,
					    uint64_t *q, uint64_t *k,
					    uint64_t *v);

/**
 * spatten_session_cache() - what the KV cache holds now
 * @s: session
 * @ids: receives, per cache slot, the token's index in the sequence (0
 *	for the first prompt token), up to @max (may be NULL)
 * @imp: receives each slot's token importance (may be NULL)
 * @max: capacity of @ids and @imp
 *
 * With a KV budget, tokens leave the cache: slot i no longer holds token i.
 *
 * Return: the number of slots in use (may exceed @max), -EINVAL (also
 * with SPATTEN_SESSION_KV_PER_HEAD: see spatten_session_cache_head()).
 */
SPATTEN_API int spatten_session_cache(const struct spatten_session *s,
				      uint32_t *ids, uint64_t *imp,
				      unsigned int max);

/**
 * spatten_session_cache_head() - what one KV head's cache holds now
 * @s: session
 * @layer: 0..n_layers-1
 * @kv_head: 0..n_kv_heads-1
 * @ids: as spatten_session_cache()
 * @imp: as spatten_session_cache(); with SPATTEN_SESSION_KV_PER_HEAD the
 *	head's own importance
 * @max: capacity of @ids and @imp
 *
 * With SPATTEN_SESSION_KV_PER_HEAD each layer's KV head keeps its own
 * tokens (spatten_session_cache() has no single answer and fails);
 * otherwise every head holds what spatten_session_cache() says.
 *
 * Return: the number of slots in use (may exceed @max), -EINVAL.
 */
SPATTEN_API int spatten_session_cache_head(const struct spatten_session *s,
					   unsigned int layer,
					   unsigned int kv_head, uint32_t *ids,
					   uint64_t *imp, unsigned int max);

/**
 * spatten_session_destroy() - free a session and its buffers
 * @s: session, or NULL (no-op)
 */
SPATTEN_API void spatten_session_destroy(struct spatten_session *s);

/**
 * spatten_session_reset() - start a new sequence
 * @s: session
 *
 * Empties the KV cache and clears importance and alive lists.
 *
 * Return: 0, -EINVAL for NULL.
 */
SPATTEN_API int spatten_session_reset(struct spatten_session *s);

/**
 * spatten_session_layer() - run one layer's attention with pruning
 * @s: session
 * @layer: 0..n_layers-1, in order; layer 0 begins a pass
 * @n_new: tokens of this pass, at most max_step: the prompt length for
 *	the first pass (summarization, empty context); once the cache holds
 *	tokens (causal sessions only), 1 for each generation step, or more
 *	for a chunk of a prompt (boards with SPATTEN_FEAT_CHUNKS); the same
 *	for every layer of a pass
 * @q: floats [n_heads][@n_new][head_dim]: the queries of the new tokens
 * @k: floats [n_kv_heads][@n_new][head_dim]: their keys, appended to this
 *	layer's KV cache (n_kv_heads: n_heads unless the session was opened
 *	with fewer)
 * @v: floats [n_kv_heads][@n_new][head_dim]: their values, likewise
 * @out: floats [n_heads][@n_new][head_dim], or NULL: the attention output;
 *	rows of pruned heads and (summarization) pruned tokens are 0
 *
 * Builds the job from the session's state (the tokens and heads still
 * alive at this layer, the schedule's keep counts), submits it, waits, and
 * takes the kept tokens and heads as the alive sets of the next layer
 * (tokens: also of this layer in the next step).
 *
 * Cascade rules: the candidates of layer l are the tokens l kept in the
 * previous pass (every token in the first pass), restricted to those layer
 * l - 1 kept in this pass, plus the new tokens in generation; the job
 * keeps floor(L * tok_keep[l]) of them (never fewer than the pinned ones
 * and the new tokens). Every pass starts with all heads at layer 0; layer l
 * computes the heads layer l - 1 kept and keeps ceil(n_heads *
 * head_keep[l + 1]) of them for layer l + 1. Token and head importance
 * accumulate over every layer and pass until spatten_session_reset().
 *
 * Return: 0; -EINVAL (NULL session or arrays, layer out of order, @n_new
 * wrong for the pass or above max_step); -EOPNOTSUPP (a chunk on a board
 * without SPATTEN_FEAT_CHUNKS); -ENOSPC (the cache cannot hold @n_new
 * more, even after a bounded cache makes room); -ERANGE (a value would
 * saturate, with SPATTEN_SESSION_SATURATION_ERROR); -EIO (the job failed:
 * spatten_session_layer_stats() has its status); or the submit/wait error.
 * -EINVAL, -EOPNOTSUPP, -ENOSPC and -ERANGE change nothing (but a bounded
 * cache may have made room, as the next pass would), and the call may be
 * repeated with other arguments; after any other error the session must
 * be reset.
 */
SPATTEN_API int spatten_session_layer(struct spatten_session *s,
				      unsigned int layer, unsigned int n_new,
				      const float *q, const float *k,
				      const float *v, float *out);

/**
 * enum spatten_dtype - element type of a host array
 * @SPATTEN_DTYPE_F32: IEEE 754 binary32, 4 bytes
 * @SPATTEN_DTYPE_F16: IEEE 754 binary16, 2 bytes
 * @SPATTEN_DTYPE_BF16: bfloat16 (the top 16 bits of a binary32), 2 bytes
 */
enum spatten_dtype {
	SPATTEN_DTYPE_F32 = 0,
	SPATTEN_DTYPE_F16 = 1,
	SPATTEN_DTYPE_BF16 = 2,
};

/**
 * struct spatten_view - a [tokens x heads x head_dim] array in host memory,
 * any element type and layout (PyTorch's view of a tensor: a pointer and
 * strides in elements)
 * @data: element (token 0, head 0, 0); aligned to its element size
 * @dtype: enum spatten_dtype
 * @rsvd: 0
 * @token_stride: elements from a token's row to the next token's (same
 *	head); may be negative
 * @head_stride: elements from a head's row to the next head's (same
 *	token); may be negative
 *
 * A row's head_dim elements are contiguous (PyTorch: stride(-1) == 1).
 * spatten_view_thd() and spatten_view_htd() make the two packed layouts.
 */
struct spatten_view {
	void *data;
	uint32_t dtype;
	uint32_t rsvd;
	int64_t token_stride;
	int64_t head_stride;
};

/**
 * spatten_view_thd() - a packed [tokens][heads][head_dim] array
 * @data: the array
 * @dtype: enum spatten_dtype
 * @n_heads: heads of the array
 * @head_dim: D
 *
 * What a PyTorch or Hugging Face projection produces (a contiguous
 * q.view(tokens, heads, D)).
 *
 * Return: the view.
 */
static inline struct spatten_view spatten_view_thd(void *data,
						   enum spatten_dtype dtype,
						   uint32_t n_heads,
						   uint32_t head_dim)
{
	struct spatten_view v = {
		.data = data,
		.dtype = (uint32_t)dtype,
		.token_stride = (int64_t)n_heads * head_dim,
		.head_stride = head_dim,
	};

	return v;
}

/**
 * spatten_view_htd() - a packed [heads][tokens][head_dim] array
 * @data: the array
 * @dtype: enum spatten_dtype
 * @n_tokens: tokens of the array
 * @head_dim: D
 *
 * The layout of spatten_session_layer()'s float arrays.
 *
 * Return: the view.
 */
static inline struct spatten_view spatten_view_htd(void *data,
						   enum spatten_dtype dtype,
						   uint32_t n_tokens,
						   uint32_t head_dim)
{
	struct spatten_view v = {
		.data = data,
		.dtype = (uint32_t)dtype,
		.token_stride = head_dim,
		.head_stride = (int64_t)n_tokens * head_dim,
	};

	return v;
}

/**
 * spatten_session_attend() - spatten_session_layer() on views
 * @s: session
 * @layer: as spatten_session_layer()
 * @n_new: as spatten_session_layer(); in a decoder whose cache holds
 *	tokens, more than one new token is a chunk (chunked prefill): each
 *	new token attends to the cache's alive tokens and to the new tokens
 *	up to itself, and every new token is kept (needs a board with
 *	SPATTEN_FEAT_CHUNKS; -EOPNOTSUPP otherwise)
 * @q: n_heads heads of @n_new tokens
 * @k: n_kv_heads heads of @n_new tokens
 * @v: likewise
 * @out: n_heads heads of @n_new tokens, written (any element type; may
 *	overlap @q, @k or @v: it is written after they are read), or NULL
 *
 * The inputs are converted to float exactly (fp16 and bf16 widen without
 * rounding), then handled as spatten_session_layer()'s; the output is
 * rounded to its type as spatten_convert() does.
 *
 * Return: as spatten_session_layer(); -EINVAL also for a view with an
 * unknown type, a NULL or misaligned @data, or @rsvd set.
 */
SPATTEN_API int spatten_session_attend(struct spatten_session *s,
				       unsigned int layer, unsigned int n_new,
				       const struct spatten_view *q,
				       const struct spatten_view *k,
				       const struct spatten_view *v,
				       const struct spatten_view *out);

/**
 * spatten_session_import() - fill a decoder's KV cache without attention
 * @s: session (a decoder, between passes)
 * @n: tokens to append to every layer's cache
 * @k: n_layers views (one per layer, in order) of n_kv_heads heads of @n
 *	tokens: the keys, as spatten_session_attend() takes them (not
 *	rotated when the session applies RoPE)
 * @v: likewise the values
 *
 * Starts generation from a cache computed elsewhere (a prompt run by
 * another engine, a saved conversation, or synthetic data for a long
 * context): the tokens are appended after those already cached, as if a
 * pass had run, with importance 0 and alive at every layer. Scales from
 * the data are chosen here for a layer that has none yet.
 *
 * Return: 0; -EINVAL (NULL or bad views, an encoder, inside a pass, @n 0);
 * -ENOSPC (more than the cache holds even after a bounded cache makes
 * room: nothing evicted); -ERANGE (saturation with
 * SPATTEN_SESSION_SATURATION_ERROR: nothing appended or evicted, no scale
 * chosen). A bounded cache makes room first, as before a pass.
 */
SPATTEN_API int spatten_session_import(struct spatten_session *s,
				       unsigned int n,
				       const struct spatten_view *k,
				       const struct spatten_view *v);

/**
 * struct spatten_layer_stats - what the last pass did at one layer
 * @status: enum spatten_hw_status of the job
 * @stage: enum spatten_stage
 * @kv_rows: context length of the job
 * @q_rows: query rows of the job
 * @tokens_alive: candidate tokens (alive before the layer)
 * @tokens_kept: tokens kept (took part)
 * @heads_alive: heads computed
 * @heads_kept: heads alive for the next layer
 * @value_keep: V rows kept per head and query (0: no value pruning)
 * @lsb_refetches: (head, query) rows recomputed with the K LSBs
 * @query_rows: (head, query) rows computed
 * @bytes_q: bytes read from Q
 * @bytes_k_msb: bytes read from K (MSB plane)
 * @bytes_k_lsb: bytes read from the K LSB plane
 * @bytes_v: bytes read from V
 * @bytes_written: bytes written
 * @bytes_dense: bytes a dense S16 job of the same shape reads (Q, K, V)
 * @cycles: modeled cycles
 */
struct spatten_layer_stats {
	uint32_t status;
	uint32_t stage;
	uint32_t kv_rows;
	uint32_t q_rows;
	uint32_t tokens_alive;
	uint32_t tokens_kept;
	uint32_t heads_alive;
	uint32_t heads_kept;
	uint32_t value_keep;
	uint32_t lsb_refetches;
	uint64_t query_rows;
	uint64_t bytes_q;
	uint64_t bytes_k_msb;
	uint64_t bytes_k_lsb;
	uint64_t bytes_v;
	uint64_t bytes_written;
	uint64_t bytes_dense;
	uint64_t cycles;
};

/**
 * spatten_session_layer_stats() - statistics of a layer
 * @s: session
 * @layer: 0..n_layers-1
 * @last: receives the figures of the layer's last job (may be NULL)
 * @total: receives the sums over every pass since create/reset, the
 *	counts being sums too (may be NULL)
 *
 * Return: 0, -EINVAL (NULL @s, @layer out of range).
 */
SPATTEN_API int spatten_session_layer_stats(const struct spatten_session *s,
					    unsigned int layer,
					    struct spatten_layer_stats *last,
					    struct spatten_layer_stats *total);

/**
 * spatten_session_tokens() - the tokens alive at a layer
 * @s: session
 * @layer: 0..n_layers-1
 * @list: receives up to @max cache slots, ascending (may be NULL if @max
 *	is 0)
 * @max: capacity of @list
 *
 * After a pass: the tokens @layer kept (those deeper layers and the next
 * step may still use).
 *
 * Return: the number of alive tokens (may exceed @max), -EINVAL, or
 * -EOVERFLOW if a position to copy is above 65535 (a context longer than
 * the 16-bit list holds).
 */
SPATTEN_API int spatten_session_tokens(const struct spatten_session *s,
				       unsigned int layer, uint16_t *list,
				       unsigned int max);

/**
 * spatten_session_alive() - the tokens alive at a layer, 32-bit
 * @s: session
 * @layer: 0..n_layers-1
 * @list: receives up to @max cache slots, ascending (may be NULL if @max
 *	is 0)
 * @max: capacity of @list
 *
 * As spatten_session_tokens(), for contexts past 65535 slots.
 *
 * Return: the number of alive tokens (may exceed @max), -EINVAL.
 */
SPATTEN_API int spatten_session_alive(const struct spatten_session *s,
				      unsigned int layer, uint32_t *list,
				      unsigned int max);

/**
 * spatten_session_heads() - the heads computed at a layer in the last pass
 * @s: session
 * @layer: 0..n_layers-1
 * @list: receives up to @max heads, ascending (may be NULL if @max is 0)
 * @max: capacity of @list
 *
 * Return: the number of heads (may exceed @max), -EINVAL.
 */
SPATTEN_API int spatten_session_heads(const struct spatten_session *s,
				      unsigned int layer, uint16_t *list,
				      unsigned int max);

/**
 * spatten_session_context() - tokens in the session's KV cache
 * @s: session
 *
 * Return: the cache slots in use after the last complete pass (the
 * sequence length, until a bounded cache evicts), -EINVAL.
 */
SPATTEN_API int spatten_session_context(const struct spatten_session *s);

/* ---- Miscellaneous ------------------------------------------------------- */

/**
 * spatten_now_ns() - current CLOCK_MONOTONIC time
 *
 * Return: nanoseconds, the clock of spatten_wait_deadline().
 */
SPATTEN_API int64_t spatten_now_ns(void);

/**
 * spatten_last_error() - why the calling thread's last call failed
 *
 * After a libspatten call returns an error, a sentence saying why, naming
 * the argument and the limit it broke: "head_dim 512 is not a size this
 * board supports (16, 32, 64, 128, 256)", "no SpAtten board 0 found
 * (...); without a board, select the simulation: SPATTEN_BACKEND=sim, or
 * SPATTEN_BACKEND_SIM".
 * Each thread has its own. Read it right after the failing call: the
 * thread's next libspatten call replaces or clears it. With the
 * environment variable SPATTEN_DEBUG set (not "0") the library also
 * prints each message to stderr as "libspatten: <message> (<errno
 * text>)". (libspatten 1.4)
 *
 * Return: the message, or NULL when the last call succeeded or its error
 * code says all there is to say (print strerror() of it then).
 */
SPATTEN_API const char *spatten_last_error(void);

/**
 * spatten_status_str() - name of a job status
 * @status: enum spatten_hw_status
 *
 * Return: a static string such as "ok" or "bad shape"; "unknown status"
 * for values the library does not know.
 */
SPATTEN_API const char *spatten_status_str(unsigned int status);

/* ---- Element types: float32, fp16, bfloat16 (1.3) ----------------------- */

/*
 * Host arrays of float32, IEEE 754 binary16 (fp16: 1 sign, 5 exponent, 10
 * mantissa bits) or bfloat16 (bf16: the top half of a float32: 1, 8, 7),
 * one element after another in host byte order, as the compilers' float,
 * _Float16 and __bf16 arrays; fp16 and bf16 values are uint16_t bit
 * patterns. Arrays need no alignment.
 *
 * Widening (fp16 or bf16 to float) is exact. Narrowing (float to fp16 or
 * bf16) follows IEEE 754 roundTiesToEven whatever the CPU's rounding mode:
 *  - the nearest representable value, the one with an even mantissa on a
 *    tie, into the target's subnormals included (float subnormals too);
 *  - overflow to infinity: fp16 from 65520 up (65504, the largest fp16,
 *    plus half its ulp), bf16 from 0x1.ffp127 up (likewise);
 *  - infinities and zeros keep their sign (-0 stays -0), as does
 *    everything that rounds to 0.
 * NaN stays NaN, made quiet, with its sign: widening keeps the whole
 * payload (fp16's 9 bits below the quiet bit become the top of float's 22,
 * bf16's 6 likewise); narrowing keeps the leading 9 (fp16) or 6 (bf16) of
 * float's 22 payload bits and drops the rest. A NaN never becomes an
 * infinity. No floating-point exception flags are raised.
 */

/**
 * spatten_dtype_size() - bytes of one element
 * @t: enum spatten_dtype
 *
 * Return: 4, 2 or 2; 0 for a value that is not an enum spatten_dtype.
 */
SPATTEN_API size_t spatten_dtype_size(enum spatten_dtype t);

/**
 * spatten_f16_to_float() - widen an fp16 value
 * @h: binary16 bit pattern
 *
 * Return: the same value as a float, exactly (NaN: quiet, sign and payload
 * kept).
 */
SPATTEN_API float spatten_f16_to_float(uint16_t h);

/**
 * spatten_float_to_f16() - narrow a float to fp16
 * @x: value
 *
 * Rounds to nearest, ties to even; |@x| >= 65520 gives infinity; NaN a
 * quiet NaN with @x's sign and the leading 9 payload bits.
 *
 * Return: the binary16 bit pattern.
 */
SPATTEN_API uint16_t spatten_float_to_f16(float x);

/**
 * spatten_bf16_to_float() - widen a bf16 value
 * @b: bfloat16 bit pattern
 *
 * Return: the same value as a float, exactly (NaN: quiet, sign and payload
 * kept).
 */
SPATTEN_API float spatten_bf16_to_float(uint16_t b);

/**
 * spatten_float_to_bf16() - narrow a float to bf16
 * @x: value
 *
 * Rounds to nearest, ties to even (float subnormals included); |@x| >=
 * 0x1.ffp127 gives infinity; NaN a quiet NaN with @x's sign and the
 * leading 6 payload bits.
 *
 * Return: the bfloat16 bit pattern.
 */
SPATTEN_API uint16_t spatten_float_to_bf16(float x);

/**
 * spatten_convert() - convert an array between element types
 * @dst: @n elements of @dst_type
 * @dst_type: enum spatten_dtype
 * @src: @n elements of @src_type
 * @src_type: enum spatten_dtype
 * @n: elements
 *
 * Each element as the scalar conversions above; fp16 <-> bf16 goes through
 * float (exact, then one rounding); equal types copy the bits. The arrays
 * must not overlap, except that @dst may equal @src when the two element
 * sizes are equal (fp16 <-> bf16 in place, or a copy onto itself).
 *
 * Return: 0, or -EINVAL for an unknown type or a NULL array with @n > 0.
 */
SPATTEN_API int spatten_convert(void *dst, enum spatten_dtype dst_type,
				const void *src, enum spatten_dtype src_type,
				size_t n);

#ifdef __cplusplus
}
#endif

#endif /* LIBSPATTEN_H */
