/* SPDX-License-Identifier: MIT */
/*
 * SpAtten engine: what the accelerator computes, in plain C.
 *
 * No QEMU or kernel types: the QEMU device, libspatten's simulation
 * backend, host tests and benchmarks all run this same code. The engine
 * never touches host memory directly: it reads and writes operands through
 * struct spe_mem, so the caller does (and counts) the DMA. The QEMU device
 * stages the writes and performs them from its main loop.
 */
#ifndef SPE_H
#define SPE_H

#include <stddef.h>
#include <stdint.h>

#include "spatten_hw.h"

/*
 * Operands of a job, one per buffer reference of the descriptor; indexes
 * job->buf[] and the traffic counters. The first five are the data planes
 * of the completion entry; the rest are cascade state ("meta" traffic).
 */
enum spe_plane {
	SPE_PLANE_Q,
	SPE_PLANE_K_MSB,
	SPE_PLANE_K_LSB,
	SPE_PLANE_V,
	SPE_PLANE_OUT,		/* written */
	SPE_PLANE_TOK_IMP,	/* read and written */
	SPE_PLANE_TOK_ALIVE,
	SPE_PLANE_TOK_KEPT,	/* written */
	SPE_PLANE_PINNED,
	SPE_PLANE_HEAD_IMP,	/* read and written */
	SPE_PLANE_HEAD_ALIVE,
	SPE_PLANE_HEAD_KEPT,	/* written */
	SPE_PLANE_BLOCK_TABLE,	/* v3: paged KV cache */
	SPE_PLANE_POSITIONS,	/* v3: key positions for RoPE */
	SPE_PLANE_HEAD_FRACS,	/* v3: fractional bits per head */
	SPE_PLANE_COUNT,
	SPE_PLANE_COUNT_V2 = SPE_PLANE_BLOCK_TABLE,	/* planes of v1 and v2 */
};

/*
 * Hardware figures of the cycle model (docs/engine.md). The full chip and
 * SpAtten_1/8 of the paper are spe_model_full() and spe_model_eighth().
 */
struct spe_model {
	uint32_t dram_bytes_per_cycle;	/* 512 full, 64 for 1/8 */
	uint32_t multipliers;		/* per stage (QxK, prob x V): 512, 128 */
	uint32_t topk_comparators;	/* quick-select comparators: 16 */
	uint32_t topk_rate;		/* scores per cycle into top-k: 8 */
};

/* What a device instance supports; validation checks against it. */
struct spe_caps {
	uint32_t max_context;	/* largest kv_rows (and q_rows) */
	uint32_t max_heads;
	uint32_t head_dims;	/* bit n: head_dim 1 << n */
	uint32_t formats;	/* bit n: enum spatten_format n */
	uint32_t splits;	/* bit n: progressive K with n MSBs */
	uint32_t features;	/* SPATTEN_FEAT_* */
	uint32_t dma_bits;	/* addresses at or above 1 << dma_bits fail */
	struct spe_model model;	/* for the cycles of spe_run() */
	/*
	 * Largest scratch allocation of one spe_run(), in bytes; a job that
	 * needs more fails with SPATTEN_HW_ERR_NO_MEMORY. 0: no limit. The
	 * scratch grows with q_rows x value_keep (value pruning), so without
	 * a cap it is quadratic in the context length.
	 */
	uint64_t max_scratch;
};

/*
 * Host-endian, validated copy of a descriptor of any version. Versions 1
 * and 2 decode to n_kv_heads == n_heads, the packed KV layout (strides
 * 0), list_bytes 2 and no RoPE. A job built by hand for spe_run() may
 * leave n_kv_heads and list_bytes 0 for those same meanings.
 */
struct spe_job {
	uint16_t opcode;
	uint8_t stage;
	uint16_t flags;
	uint32_t tag;
	uint32_t n_heads;
	uint32_t n_kv_heads;
	uint32_t head_dim;
	uint32_t q_rows;
	uint32_t kv_rows;
	uint32_t q_start;
	uint8_t q_frac, k_frac, v_frac, out_frac;
	uint8_t q_fmt, k_fmt, v_fmt, out_fmt;	/* enum spatten_format */
	uint8_t version;
	uint32_t n_tok_alive;
	uint32_t token_keep;
	uint32_t n_pinned;
	uint32_t n_head_alive;
	uint32_t head_keep;
	uint32_t value_keep;
	uint32_t lsb_threshold;
	uint32_t topk_seed;
	uint32_t score_scale;	/* binary32 bits, 0: 1 / sqrt(head_dim) */
	uint32_t rope_base;
	/* KV layout in rows (spatten_hw.h); all 0: packed */
	uint32_t kv_head_stride, kv_row_stride, kv_block_stride;
	uint32_t kv_block_rows;	/* 0: not paged */
	uint32_t list_bytes;	/* bytes per list entry: 2 or 4 */
	/* Buffer references, host-endian, by plane; len 0 = absent. */
	struct spe_buf {
		uint64_t addr;
		uint32_t len;
		uint16_t offset;
		uint16_t flags;
	} buf[SPE_PLANE_COUNT];
};

/**
 * struct spe_mem - how the engine reads and writes its operands
 * @read: copy @len bytes at byte @off of operand @plane into @dst; returns
 *	SPATTEN_HW_OK or an error status (DMA read error, page list error)
 * @write: copy @len bytes of @src to byte @off of operand @plane; same
 *	returns. The device only stages the bytes here (workers never write
 *	guest memory) and writes them once the job has succeeded.
 * @opaque: passed to @read, @write and @map
 * @map: optional (NULL: not provided; last member, so initialisers that
 *	name only the first three leave it NULL): a pointer to @len
 *	contiguous readable bytes of operand @plane at byte @off, or NULL,
 *	in which case the engine reads that range through @read instead
 *	(so NULL is a fallback, never an error). A mapped range is read
 *	traffic exactly like a read: the provider counts its bytes in @map,
 *	and the engine maps only ranges it would otherwise have read, each
 *	byte at most once, with the same granularity as its reads (one
 *	range per run of consecutive rows). The pointer must stay valid
 *	until spe_run() returns; the engine never writes through it and
 *	makes no assumption about its alignment. Outputs, statistics and
 *	the bytes counted are the same with or without @map.
 * @cancelled: optional (NULL: never): polled before each head and each
 *	block of query rows (at most 256 Ki scores; with value pruning the
 *	block's V rows and products follow in the same block); non-zero
 *	ends the job with SPATTEN_HW_ERR_ABORTED. Lets a caller stop a long
 *	job within a bounded time even between reads and writes (with RoPE,
 *	a KV head's keys are rotated between two polls: a stretch that
 *	grows with the context).
 * @map_gather: optional (NULL: @map's runs are used): @map for a pruned
 *	job's kept rows read where they are through their index list (a
 *	generation step's, see docs/engine.md): a pointer to the @len bytes
 *	of operand @plane at @off that span the rows, of which the engine
 *	reads only @used bytes, the traffic the provider counts (as many as
 *	reading the rows would); or NULL to decline, and the rows are read
 *	as usual. Each row is still read at most once.
 */
struct spe_mem {
	int (*read)(void *opaque, enum spe_plane plane, uint64_t off,
		    void *dst, size_t len);
	int (*write)(void *opaque, enum spe_plane plane, uint64_t off,
		     const void *src, size_t len);
	void *opaque;
	const void *(*map)(void *opaque, enum spe_plane plane, uint64_t off,
			   size_t len);
	int (*cancelled)(void *opaque);
	const void *(*map_gather)(void *opaque, enum spe_plane plane,
				  uint64_t off, size_t len, size_t used);
};

/**
 * struct spe_stats - what a job did: the input of the cycle model, and
 * the per-mechanism figures reports and tests need
 * @bytes: bytes requested per plane through struct spe_mem (read; for the
 *	written planes, written)
 * @heads: heads that went through the pipeline
 * @query_rows: (head, query) rows through softmax, first pass
 * @qk_scores: query-key scores computed, recomputations included
 * @pv_rows: prob x V row products (after value pruning)
 * @refetch_rows: (head, query) rows recomputed with the K LSBs
 * @tokens_kept: tokens alive after this job's token pruning
 * @heads_kept: heads alive after this job's head pruning
 * @topk_cycles: cycles of the top-k engine(s) (section 6 of the algorithm)
 */
struct spe_stats {
	uint64_t bytes[SPE_PLANE_COUNT];
	uint64_t heads;
	uint64_t query_rows;
	uint64_t qk_scores;
	uint64_t pv_rows;
	uint64_t refetch_rows;
	uint64_t tokens_kept;
	uint64_t heads_kept;
	uint64_t topk_cycles;
};

/**
 * struct spe_result - what one job did
 * @status: enum spatten_hw_status
 * @cycles: modeled cycles at 1 GHz (spe_cycles() of @stats)
 * @lsb_refetches: @stats.refetch_rows
 * @stats: the details
 */
struct spe_result {
	uint16_t status;
	uint64_t cycles;
	uint64_t lsb_refetches;
	struct spe_stats stats;
};

/* The paper's full chip and SpAtten_1/8 (section 7 of the algorithm). */
struct spe_model spe_model_full(void);
struct spe_model spe_model_eighth(void);

/**
 * spe_cycles() - modeled cycles of a job from what it did
 * @job: the decoded job (stage, shape, formats)
 * @st: what it did
 * @model: hardware figures
 *
 * The one cycle model: spe_run() and the trace replay both use it.
 * Return: cycles at 1 GHz.
 */
uint64_t spe_cycles(const struct spe_job *job, const struct spe_stats *st,
		    const struct spe_model *model);

/**
 * spe_desc_decode() - copy out, byte-swap and validate a descriptor
 * @desc: submission-queue entry exactly as read from the queue
 * @entry_size: bytes of @desc: the queue's entry size, 256 or 512; a
 *	descriptor whose desc_size is larger fails with ERR_VERSION
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
int spe_desc_decode(const void *desc, size_t entry_size,
		    const struct spe_caps *caps, struct spe_job *job);

/**
 * spe_run() - execute a decoded job
 * @job: from spe_desc_decode()
 * @caps: the device (its model gives the cycles)
 * @mem: operand reader and writer
 * @res: status, cycles, refetches and statistics
 *
 * Reads each operand byte at most once. Writes the output rows of the
 * computed (head, query) rows, and the cascade state the job names
 * (importance arrays, kept lists). A @mem error status in
 * 1..SPATTEN_HW_STATUS_MAX ends the job with that status; any other
 * non-zero value becomes SPATTEN_HW_ERR_DMA_READ (read) or
 * SPATTEN_HW_ERR_DMA_WRITE (write). On error, writes already made stand
 * (the device discards its staged writes) and @res->cycles is 0.
 *
 * Return: @res->status.
 */
int spe_run(const struct spe_job *job, const struct spe_caps *caps,
	    const struct spe_mem *mem, struct spe_result *res);

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
