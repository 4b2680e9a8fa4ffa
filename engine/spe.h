/* SPDX-License-Identifier: MIT */
/*
 * SpAtten engine: what the accelerator computes, in plain C.
 *
 * No QEMU or kernel types: the QEMU device, libspatten's simulation
 * backend, host tests and benchmarks all run this same code. The engine
 * never touches host memory directly; it reads operands through struct
 * spe_mem so the caller does (and counts) the DMA, and it returns the output
 * in a host buffer that the caller writes back.
 */
#ifndef SPE_H
#define SPE_H

#include <stddef.h>
#include <stdint.h>

#include "spatten_hw.h"

/* Planes the engine reads or writes; indexes traffic counters. */
enum spe_plane {
	SPE_PLANE_Q,
	SPE_PLANE_K_MSB,
	SPE_PLANE_K_LSB,
	SPE_PLANE_V,
	SPE_PLANE_OUT,
	SPE_PLANE_COUNT,
};

/* What a device instance supports; validation checks against it. */
struct spe_caps {
	uint32_t max_context;	/* largest kv_rows (and q_rows) */
	uint32_t max_heads;
	uint32_t head_dims;	/* bit n: head_dim 1 << n */
	uint32_t formats;	/* bit n: enum spatten_format n */
	uint32_t features;	/* SPATTEN_FEAT_* */
	uint32_t dma_bits;	/* addresses at or above 1 << dma_bits fail */
};

/* Host-endian, validated copy of a descriptor. */
struct spe_job {
	uint16_t opcode;
	uint8_t stage;
	uint16_t flags;
	uint32_t tag;
	uint32_t n_heads;
	uint32_t head_dim;
	uint32_t q_rows;
	uint32_t kv_rows;
	uint32_t q_start;
	uint8_t q_frac, k_frac, v_frac, out_frac;
	uint8_t q_fmt, k_fmt, v_fmt, out_fmt;	/* enum spatten_format */
	/* Buffer references, host-endian; indexed by plane (K uses K_MSB). */
	struct spe_buf {
		uint64_t addr;
		uint32_t len;
		uint16_t offset;
		uint16_t flags;
	} buf[SPE_PLANE_COUNT];
};

/**
 * struct spe_mem - how the engine reads its operands
 * @read: copy @len bytes at byte @off of operand @plane into @dst; returns
 *	SPATTEN_HW_OK or an error status (DMA read error, page list error)
 * @opaque: passed to @read
 */
struct spe_mem {
	int (*read)(void *opaque, enum spe_plane plane, uint64_t off,
		    void *dst, size_t len);
	void *opaque;
};

/**
 * struct spe_result - what one job did
 * @status: enum spatten_hw_status
 * @cycles: modeled cycles at 1 GHz
 * @lsb_refetches: query rows whose K LSBs were fetched (0 in v1)
 */
struct spe_result {
	uint16_t status;
	uint64_t cycles;
	uint64_t lsb_refetches;
};

/**
 * spe_desc_decode() - copy out, byte-swap and validate a descriptor
 * @desc: descriptor exactly as read from the submission queue
 * @caps: what the device supports
 * @job: receives every decoded field, host-endian, even on failure
 *	(@job->tag is needed for the completion); run it only on success
 *
 * Checks every field: opcode, version and size, flags and stage, reserved
 * fields, shape against @caps, positions, formats, and every buffer
 * reference (flags, page-list offset, length against the tensor size,
 * address range against @caps->dma_bits).
 *
 * Return: SPATTEN_HW_OK or the specific SPATTEN_HW_ERR_* of the first
 * failing check.
 */
int spe_desc_decode(const struct spatten_hw_desc *desc,
		    const struct spe_caps *caps, struct spe_job *job);

/* Bytes of output a decoded job produces (0 for NOP). */
size_t spe_job_out_bytes(const struct spe_job *job);

/**
 * spe_run() - execute a decoded job
 * @job: from spe_desc_decode()
 * @mem: operand reader
 * @out: spe_job_out_bytes(@job) bytes, receives the output, little-endian
 * @res: status, cycles and refetches
 *
 * Reads each operand row at most once, in the order Q, K, V per head. A
 * @mem->read error status in 1..SPATTEN_HW_STATUS_MAX ends the job with
 * that status; any other non-zero value becomes SPATTEN_HW_ERR_DMA_READ.
 * On error @out is partly written and @res->cycles is 0.
 *
 * Return: @res->status.
 */
int spe_run(const struct spe_job *job, const struct spe_mem *mem, void *out,
	    struct spe_result *res);

/**
 * spe_out_tolerance() - worst-case error of an output element
 * @job: a decoded ATTENTION job
 * @max_abs_v: largest |V| element of the job, in real units (i.e. the raw
 *	int16 divided by 2^v_frac)
 *
 * Bound on |engine output - exact real-number attention computed from the
 * same fixed-point Q, K and V|, in real units (already divided by
 * 2^out_frac), for every output element that does not saturate (compare a
 * saturated element with the clamped exact value). docs/engine.md derives it.
 *
 * Return: the bound; 0 for a NOP.
 */
double spe_out_tolerance(const struct spe_job *job, double max_abs_v);

/* Page-list entries fetched per DMA by spe_buf_read()/spe_buf_write(). */
#define SPE_PAGE_LIST_BATCH	32

/**
 * spe_buf_read() - read from a buffer reference, walking its page list
 * @buf: contiguous or page-list reference (validated by spe_desc_decode)
 * @off: byte offset within the operand
 * @dst: destination
 * @len: bytes; @off + @len must be within @buf->len
 * @dma_read: raw device read of guest memory; returns 0 on success
 * @opaque: for @dma_read
 *
 * Page-list entries are read in batches of up to SPE_PAGE_LIST_BATCH and
 * each batch is checked before any data moves.
 *
 * Return: SPATTEN_HW_OK, SPATTEN_HW_ERR_DMA_READ,
 * SPATTEN_HW_ERR_PAGE_LIST (a listed page address not page-aligned) or
 * SPATTEN_HW_ERR_BUFFER (@off + @len beyond @buf->len: a caller bug).
 */
int spe_buf_read(const struct spe_buf *buf, uint64_t off, void *dst,
		 size_t len,
		 int (*dma_read)(void *opaque, uint64_t addr, void *dst,
				 size_t len),
		 void *opaque);

/*
 * Same for writing @len bytes of @src at @off; @dma_read reads the page
 * list. Status as spe_buf_read(), plus SPATTEN_HW_ERR_DMA_WRITE (a failed
 * page-list read is still SPATTEN_HW_ERR_DMA_READ).
 */
int spe_buf_write(const struct spe_buf *buf, uint64_t off, const void *src,
		  size_t len,
		  int (*dma_read)(void *opaque, uint64_t addr, void *dst,
				  size_t len),
		  int (*dma_write)(void *opaque, uint64_t addr,
				   const void *src, size_t len),
		  void *opaque);

#endif /* SPE_H */
