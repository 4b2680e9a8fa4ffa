/* SPDX-License-Identifier: (GPL-2.0 OR MIT) */
/*
 * SpAtten accelerator: hardware interface, version 1.2.
 *
 * The one definition of the register map, the submission-queue entry (job
 * descriptor) and the completion-queue entry. Shared by the Linux driver
 * (driver/), the QEMU device model (qemu-device/) and the engine (engine/).
 * docs/hardware.md is the prose form of this file; tests/host pin the layout.
 *
 * Everything the device reads or writes in host memory is little-endian.
 */
#ifndef SPATTEN_HW_H
#define SPATTEN_HW_H

#include <linux/types.h>

/* ---- PCI identity ---------------------------------------------------- */

/*
 * 1af4:10f0..10ff is the range QEMU's docs/specs/pci-ids documents as free
 * for experimental use without registration (1b36 IDs are assigned one by
 * one by QEMU's maintainers). A real board carries its maker's own
 * PCI-SIG vendor ID; see docs/hardware.md.
 */
#define SPATTEN_PCI_VENDOR_ID		0x1af4	/* Red Hat (Qumranet) */
#define SPATTEN_PCI_DEVICE_ID		0x10f3	/* experimental range */
#define SPATTEN_PCI_CLASS		0x120000 /* processing accelerator */

#define SPATTEN_HW_ID			0x53504154u /* "SPAT" */
#define SPATTEN_HW_VERSION_MAJOR	1
#define SPATTEN_HW_VERSION_MINOR	2
#define SPATTEN_HW_VERSION \
	((SPATTEN_HW_VERSION_MAJOR << 16) | SPATTEN_HW_VERSION_MINOR)

/* BAR0: registers and doorbells. BAR1: MSI-X table and PBA. */
#define SPATTEN_BAR_REGS		0
#define SPATTEN_BAR_MSIX		1
#define SPATTEN_BAR0_SIZE		0x4000

/* ---- Global registers (32-bit unless noted) --------------------------- */

#define SPATTEN_REG_ID			0x000	/* RO SPATTEN_HW_ID */
#define SPATTEN_REG_VERSION		0x004	/* RO major << 16 | minor */
#define SPATTEN_REG_CAP_ENGINES		0x008	/* RO compute engines */
#define SPATTEN_REG_CAP_QUEUES		0x00c	/* RO queue pairs */
#define SPATTEN_REG_CAP_QUEUE_DEPTH	0x010	/* RO max entries per queue */
#define SPATTEN_REG_CAP_MAX_CONTEXT	0x014	/* RO max kv_rows */
#define SPATTEN_REG_CAP_MAX_HEADS	0x018	/* RO max n_heads */
#define SPATTEN_REG_CAP_HEAD_DIMS	0x01c	/* RO bit n: head_dim 1 << n */
#define SPATTEN_REG_CAP_FORMATS		0x020	/* RO bit n: element format n */
#define SPATTEN_REG_CAP_SPLITS		0x024	/* RO bit n: K split n+4 */
#define SPATTEN_REG_CAP_FEATURES	0x028	/* RO SPATTEN_FEAT_* */
#define SPATTEN_REG_CAP_DMA_BITS	0x02c	/* RO DMA address width */
#define SPATTEN_REG_CAP_DESC_SIZE	0x030	/* RO SQ entry bytes at reset: 256 */
#define SPATTEN_REG_CAP_DESC_SIZE_MAX	0x034	/* RO largest SQ entry: 512 (1.2) */
#define SPATTEN_REG_CTRL		0x040	/* RW SPATTEN_CTRL_* */
#define SPATTEN_REG_STATUS		0x044	/* RO SPATTEN_STATUS_* */
#define SPATTEN_REG_INTX_STATUS		0x048	/* RW1C bit q: CQ q posted */
#define SPATTEN_REG_FAULT		0x080	/* RW SPATTEN_FAULT_*: test hooks */

#define SPATTEN_FEAT_CAUSAL		(1u << 0)
#define SPATTEN_FEAT_GENERATION		(1u << 1)
#define SPATTEN_FEAT_PAGE_LIST		(1u << 2)
#define SPATTEN_FEAT_INTX		(1u << 3)
#define SPATTEN_FEAT_TOKEN_PRUNE	(1u << 4)	/* cascade token pruning */
#define SPATTEN_FEAT_HEAD_PRUNE		(1u << 5)	/* cascade head pruning */
#define SPATTEN_FEAT_VALUE_PRUNE	(1u << 6)	/* local value pruning */
#define SPATTEN_FEAT_PROGRESSIVE	(1u << 7)	/* MSB/LSB key refetch */
/* 1.2: descriptor version 3 in 512-byte SQ entries (QREG_SQ_ENTRY_SIZE) */
#define SPATTEN_FEAT_DESC_V3		(1u << 8)
#define SPATTEN_FEAT_GQA		(1u << 9)	/* n_kv_heads < n_heads */
#define SPATTEN_FEAT_KV_LAYOUT		(1u << 10)	/* strided, paged KV */
#define SPATTEN_FEAT_ROPE		(1u << 11)	/* rotary positions */
/*
 * v3 generation with q_rows > 1 (chunked prefill): new tokens at slots
 * q_start..kv_rows-1, every one a forced candidate; causal
 */
#define SPATTEN_FEAT_CHUNKS		(1u << 12)
/* v3: token importance per KV head (SPATTEN_DESC_F_IMP_PER_KV_HEAD) */
#define SPATTEN_FEAT_IMP_PER_KV_HEAD	(1u << 13)
/* Every feature this header defines (a driver reports no other bit). */
#define SPATTEN_FEAT_ALL		((SPATTEN_FEAT_IMP_PER_KV_HEAD << 1) - 1)

#define SPATTEN_CTRL_ENABLE		(1u << 0)	/* process doorbells */
#define SPATTEN_CTRL_RESET		(1u << 1)	/* write 1: reset, self-clears */

#define SPATTEN_STS_READY		(1u << 0)	/* enabled and idle-capable */

/*
 * FAULT: fault injection for tests of the host's recovery paths. Only FLR
 * or a PCI (system) reset clears it; CTRL.RESET does not.
 * RESET_STUCK: the next CTRL.RESET never completes: CTRL.RESET stays set,
 * STATUS.READY stays clear and every register write is ignored.
 */
#define SPATTEN_FAULT_RESET_STUCK	(1u << 0)
#define SPATTEN_FAULT_ALL		SPATTEN_FAULT_RESET_STUCK

/* 64-bit counters, readable as one 8-byte or two 4-byte accesses. */
#define SPATTEN_REG_CNT_BASE		0x100
#define SPATTEN_CNT_JOBS_OK		0
#define SPATTEN_CNT_JOBS_ERR		1
#define SPATTEN_CNT_BYTES_Q		2
#define SPATTEN_CNT_BYTES_K_MSB		3
#define SPATTEN_CNT_BYTES_K_LSB		4
#define SPATTEN_CNT_BYTES_V		5
#define SPATTEN_CNT_BYTES_WRITTEN	6
#define SPATTEN_CNT_LSB_REFETCHES	7
#define SPATTEN_CNT_CYCLES		8
#define SPATTEN_CNT_BYTES_META		9	/* importance, lists */
#define SPATTEN_CNT_NUM			10
#define SPATTEN_REG_CNT(n)		(SPATTEN_REG_CNT_BASE + 8 * (n))

/* ---- Per-queue-pair registers ----------------------------------------- */

#define SPATTEN_MAX_QUEUES		16
#define SPATTEN_REG_QUEUE_BASE		0x1000
#define SPATTEN_REG_QUEUE_STRIDE	0x40
#define SPATTEN_REG_Q(q, r) \
	(SPATTEN_REG_QUEUE_BASE + SPATTEN_REG_QUEUE_STRIDE * (q) + (r))
#define SPATTEN_QREG_SQ_BASE_LO		0x00
#define SPATTEN_QREG_SQ_BASE_HI		0x04
#define SPATTEN_QREG_CQ_BASE_LO		0x08
#define SPATTEN_QREG_CQ_BASE_HI		0x0c
#define SPATTEN_QREG_SQ_SIZE		0x10	/* entries, 2..QUEUE_DEPTH */
#define SPATTEN_QREG_CQ_SIZE		0x14	/* entries, 2..QUEUE_DEPTH */
#define SPATTEN_QREG_CTRL		0x18	/* SPATTEN_QCTRL_* */
#define SPATTEN_QREG_STATUS		0x1c	/* SPATTEN_QSTS_* */
#define SPATTEN_QREG_IRQ_VECTOR		0x20	/* MSI-X vector of the CQ */
/*
 * 1.2: bytes per SQ entry: 256 (the reset value; a write of 0 is stored,
 * and reads back, as 256) or 512 (needed by descriptor version 3).
 * Latched when QCTRL.ENABLE is set; any other value fails the enable
 * (QSTS.ERROR). A descriptor whose desc_size exceeds the entry size
 * completes with ERR_VERSION.
 */
#define SPATTEN_QREG_SQ_ENTRY_SIZE	0x24

#define SPATTEN_QCTRL_ENABLE		(1u << 0)
#define SPATTEN_QSTS_ENABLED		(1u << 0)
#define SPATTEN_QSTS_ERROR		(1u << 1)	/* bad config or doorbell */

/* Doorbells: written by the host, never read back meaningfully. */
#define SPATTEN_REG_DB_BASE		0x2000
#define SPATTEN_REG_DB_STRIDE		8
#define SPATTEN_REG_SQ_TAIL_DB(q) \
	(SPATTEN_REG_DB_BASE + SPATTEN_REG_DB_STRIDE * (q))
#define SPATTEN_REG_CQ_HEAD_DB(q) \
	(SPATTEN_REG_DB_BASE + SPATTEN_REG_DB_STRIDE * (q) + 4)

/* Rings are physically contiguous and aligned to this. */
#define SPATTEN_RING_ALIGN		4096

/* ---- Buffer references ------------------------------------------------ */

/*
 * A tensor operand: either contiguous (flags == 0, offset == 0: @addr is
 * the first byte) or described by a page list (SPATTEN_BUF_PAGE_LIST:
 * @addr is the 8-byte-aligned address of an array of __le64 page addresses,
 * each SPATTEN_HW_PAGE_SIZE-aligned; the operand starts @offset bytes into
 * the first listed page). @len is the byte length available to the operand.
 */
#define SPATTEN_HW_PAGE_SHIFT		12
#define SPATTEN_HW_PAGE_SIZE		(1u << SPATTEN_HW_PAGE_SHIFT)
#define SPATTEN_BUF_PAGE_LIST		(1u << 0)

struct spatten_hw_buf {
	__le64 addr;
	__le32 len;
	__le16 offset;
	__le16 flags;
};

/* ---- Submission-queue entry: the job descriptor ----------------------- */

#define SPATTEN_DESC_VERSION		2	/* 1 is accepted: v2 fields 0 */
#define SPATTEN_DESC_VERSION_MIN	1
#define SPATTEN_DESC_SIZE		256

enum spatten_opcode {
	SPATTEN_OP_NOP = 0,		/* completes at once, touches no memory */
	SPATTEN_OP_ATTENTION = 1,	/* dense multi-head attention */
};

enum spatten_stage {
	SPATTEN_STAGE_SUMMARIZATION = 0,	/* all queries at once */
	SPATTEN_STAGE_GENERATION = 1,		/* new tokens, KV cache */
};

#define SPATTEN_DESC_F_CAUSAL		(1u << 0)
#define SPATTEN_DESC_F_PROGRESSIVE	(1u << 1)	/* K has an LSB plane */
#define SPATTEN_DESC_F_ALL \
	(SPATTEN_DESC_F_CAUSAL | SPATTEN_DESC_F_PROGRESSIVE)

/*
 * Element formats: signed two's complement fixed point with @frac
 * fractional bits. S16 is one little-endian int16 per element. Sn (n < 16)
 * packs each row as a little-endian bit stream, element e in bits
 * [e*n, e*n + n) of the row; a row is head_dim * n / 8 bytes. Q and the
 * output are S16; K and V may be any; K's LSB plane is implied U4.
 */
enum spatten_format {
	SPATTEN_FMT_S16 = 0,
	SPATTEN_FMT_S4 = 1,
	SPATTEN_FMT_S6 = 2,
	SPATTEN_FMT_S8 = 3,
	SPATTEN_FMT_S10 = 4,
	SPATTEN_FMT_S12 = 5,
	SPATTEN_FMT_NUM = 6,
};

/* Bits of the K LSB plane (unsigned, packed like Sn) in progressive mode. */
#define SPATTEN_LSB_BITS		4

/*
 * Tensor layouts (v1): Q [n_heads][q_rows][head_dim], K and V
 * [n_heads][kv_rows][head_dim], output [n_heads][q_rows][head_dim], packed,
 * row-major. Query row i sits at absolute position q_start + i; with
 * SPATTEN_DESC_F_CAUSAL it sees keys j <= q_start + i.
 */
struct spatten_hw_desc {
	__le16 opcode;			/* 0x00 enum spatten_opcode */
	__le16 desc_size;		/* 0x02 SPATTEN_DESC_SIZE */
	__u8 version;			/* 0x04 SPATTEN_DESC_VERSION */
	__u8 stage;			/* 0x05 enum spatten_stage */
	__le16 flags;			/* 0x06 SPATTEN_DESC_F_* */
	__le32 tag;			/* 0x08 echoed in the completion */
	__le32 rsvd0;			/* 0x0c must be zero */
	__le16 n_heads;			/* 0x10 */
	__le16 head_dim;		/* 0x12 */
	__le16 q_rows;			/* 0x14 L0 */
	__le16 kv_rows;			/* 0x16 L1 */
	__le16 q_start;			/* 0x18 position of query row 0 */
	__le16 rsvd1;			/* 0x1a must be zero */
	__u8 q_fmt;			/* 0x1c enum spatten_format */
	__u8 q_frac;			/* 0x1d */
	__u8 k_fmt;			/* 0x1e */
	__u8 k_frac;			/* 0x1f */
	__u8 v_fmt;			/* 0x20 */
	__u8 v_frac;			/* 0x21 */
	__u8 out_fmt;			/* 0x22 */
	__u8 out_frac;			/* 0x23 */
	__le32 rsvd2;			/* 0x24 must be zero */
	struct spatten_hw_buf q;	/* 0x28 */
	struct spatten_hw_buf k;	/* 0x38 */
	struct spatten_hw_buf v;	/* 0x48 */
	struct spatten_hw_buf out;	/* 0x58 */
	/* v2: pruning and progressive quantization; see docs/hardware.md */
	struct spatten_hw_buf k_lsb;	/* 0x68 U4 LSB plane of K */
	struct spatten_hw_buf tok_imp;	/* 0x78 u64[kv_rows], read + written */
	struct spatten_hw_buf tok_alive; /* 0x88 u16[n_tok_alive], ascending */
	struct spatten_hw_buf tok_kept;	/* 0x98 u16[token_keep], written */
	struct spatten_hw_buf pinned;	/* 0xa8 u16[n_pinned] */
	struct spatten_hw_buf head_imp;	/* 0xb8 u64[n_heads], read + written */
	struct spatten_hw_buf head_alive; /* 0xc8 u16[n_head_alive], ascending */
	struct spatten_hw_buf head_kept; /* 0xd8 u16[head_keep], written */
	__le16 n_tok_alive;		/* 0xe8 0: every token is alive */
	__le16 token_keep;		/* 0xea 0: no token pruning */
	__le16 n_pinned;		/* 0xec */
	__le16 n_head_alive;		/* 0xee 0: every head is alive */
	__le16 head_keep;		/* 0xf0 0: no head pruning */
	__le16 value_keep;		/* 0xf2 0: no value pruning */
	__le16 lsb_threshold;		/* 0xf4 refetch if max prob < thr/2^15 */
	__le16 rsvd3;			/* 0xf6 must be zero */
	__le32 topk_seed;		/* 0xf8 seed of the pivot sequence */
	__le32 rsvd4;			/* 0xfc must be zero */
};

/*
 * Descriptor version 3 (hardware 1.2): long contexts, grouped-query heads,
 * caller-owned and paged KV caches, rotary positions. 512 bytes, so it
 * needs 512-byte SQ entries (SPATTEN_QREG_SQ_ENTRY_SIZE). Versions 1 and 2
 * keep their 256-byte layout above and work in either entry size.
 *
 * Rows, positions and token counts are 32-bit; every list (tok_alive,
 * tok_kept, pinned, head_alive, head_kept) has __le32 entries.
 *
 * Grouped-query attention: @n_kv_heads divides @n_heads; query head h
 * reads KV head h / (n_heads / n_kv_heads). Importance, keep counts and
 * head lists are per query head; K and V rows of a KV head are fetched
 * once for all of its alive query heads (docs/hardware.md).
 *
 * KV layout: row r (a token slot, 0..kv_rows-1) of KV head g of the K,
 * K-LSB and V planes starts at row index
 *	g * kv_head_stride + r * kv_row_stride		(not paged)
 *	table[r / kv_block_rows] * kv_block_stride + g * kv_head_stride +
 *	(r % kv_block_rows) * kv_row_stride		(paged)
 * of its buffer, in rows of that plane (head_dim * bits / 8 bytes). All
 * of kv_head_stride, kv_row_stride, kv_block_stride and kv_block_rows 0
 * is the packed [n_kv_heads][kv_rows][head_dim] layout. Paged:
 * kv_block_rows a power of two, @block_table __le32[ceil(kv_rows /
 * kv_block_rows)] block numbers.
 *
 * Rotary positions (SPATTEN_DESC_F_ROPE): Q and K rows are rotated by
 * their position before the scores (rotate-half pairing: element i with
 * i + head_dim / 2), with base @rope_base. A key's position is its slot r,
 * or @positions[r] (__le32[kv_rows]) with SPATTEN_DESC_F_ROPE_POSITIONS; a
 * query row i has the position of slot q_start + i.
 *
 * @score_scale: IEEE binary32 bits of the softmax scale applied to the
 * real-valued scores, 0 = 1 / sqrt(head_dim).
 *
 * Generation with SPATTEN_FEAT_CHUNKS: q_rows >= 1 new tokens at slots
 * q_start..kv_rows-1 (q_start + q_rows == kv_rows; more than one needs
 * SPATTEN_DESC_F_CAUSAL). Each is a candidate whether tok_alive lists it
 * or not and is kept by token pruning unconditionally, like a pinned
 * token; query row i sees the kept tokens at slots <= q_start + i.
 */
#define SPATTEN_DESC_VERSION_V3		3
#define SPATTEN_DESC_V3_SIZE		512
#define SPATTEN_SQE_SIZE_MAX		512

#define SPATTEN_DESC_F_ROPE		(1u << 2)	/* v3: rotate Q and K */
#define SPATTEN_DESC_F_ROPE_POSITIONS	(1u << 3)	/* v3: key position list */
/*
 * v3: fractional bits per head from @head_fracs, u8 entries: q_frac and
 * out_frac of each query head, then k_frac and v_frac of each KV head
 * ([n_heads] q, [n_heads] out, [n_kv_heads] k, [n_kv_heads] v; each
 * 0..15, else ERR_FORMAT at run time). The descriptor's q_frac, k_frac,
 * v_frac and out_frac must then be 0. Query head h's scores are in units
 * of 2^-(q_frac[h] + k_frac[g]), g its KV head; its output has
 * out_frac[h] and its head importance is in 2^-16 units as always.
 */
#define SPATTEN_DESC_F_HEAD_FRACS	(1u << 4)
/*
 * v3, boards with SPATTEN_FEAT_IMP_PER_KV_HEAD: @tok_imp is
 * u64[n_kv_heads][kv_rows] (KV head g's row at g * kv_rows), required,
 * and kept token j of KV head g gains the pq of the computed query heads
 * of group g only (g * H/G .. (g + 1) * H/G - 1), every computed row.
 * Not with token_keep (ERR_FLAGS): each KV head's cache holds its own
 * tokens, so one slot selection for all of them means nothing.
 */
#define SPATTEN_DESC_F_IMP_PER_KV_HEAD	(1u << 5)
#define SPATTEN_DESC_F_ALL_V3 \
	(SPATTEN_DESC_F_ALL | SPATTEN_DESC_F_ROPE | \
	 SPATTEN_DESC_F_ROPE_POSITIONS | SPATTEN_DESC_F_HEAD_FRACS | \
	 SPATTEN_DESC_F_IMP_PER_KV_HEAD)

struct spatten_hw_desc_v3 {
	__le16 opcode;			/* 0x000 enum spatten_opcode */
	__le16 desc_size;		/* 0x002 SPATTEN_DESC_V3_SIZE */
	__u8 version;			/* 0x004 SPATTEN_DESC_VERSION_V3 */
	__u8 stage;			/* 0x005 enum spatten_stage */
	__le16 flags;			/* 0x006 SPATTEN_DESC_F_* */
	__le32 tag;			/* 0x008 echoed in the completion */
	__le32 rsvd0;			/* 0x00c must be zero */
	__le16 n_heads;			/* 0x010 query heads */
	__le16 n_kv_heads;		/* 0x012 K/V heads, divides n_heads */
	__le16 head_dim;		/* 0x014 */
	__le16 rsvd1;			/* 0x016 must be zero */
	__le32 q_rows;			/* 0x018 */
	__le32 kv_rows;			/* 0x01c */
	__le32 q_start;			/* 0x020 slot of query row 0 */
	__le32 rsvd2;			/* 0x024 must be zero */
	__u8 q_fmt;			/* 0x028 enum spatten_format */
	__u8 q_frac;			/* 0x029 */
	__u8 k_fmt;			/* 0x02a */
	__u8 k_frac;			/* 0x02b */
	__u8 v_fmt;			/* 0x02c */
	__u8 v_frac;			/* 0x02d */
	__u8 out_fmt;			/* 0x02e */
	__u8 out_frac;			/* 0x02f */
	__le32 n_tok_alive;		/* 0x030 0: every token is alive */
	__le32 token_keep;		/* 0x034 0: no token pruning */
	__le32 n_pinned;		/* 0x038 */
	__le32 value_keep;		/* 0x03c 0: no value pruning */
	__le16 n_head_alive;		/* 0x040 0: every head is alive */
	__le16 head_keep;		/* 0x042 0: no head pruning */
	__le16 lsb_threshold;		/* 0x044 refetch if max prob < thr/2^15 */
	__le16 rsvd3;			/* 0x046 must be zero */
	__le32 topk_seed;		/* 0x048 seed of the pivot sequence */
	__le32 score_scale;		/* 0x04c binary32 bits, 0: 1/sqrt(D);
					 * normal x 2^-(q_frac + k_frac) */
	__le32 rope_base;		/* 0x050 with F_ROPE: 2..2^31, else 0 */
	__le32 kv_block_rows;		/* 0x054 tokens per block, 0: not paged */
	__le32 kv_head_stride;		/* 0x058 rows between KV heads */
	__le32 kv_row_stride;		/* 0x05c rows between token slots */
	__le32 kv_block_stride;		/* 0x060 rows per block number */
	__le32 rsvd4[7];		/* 0x064 must be zero */
	struct spatten_hw_buf q;	/* 0x080 [n_heads][q_rows][head_dim] */
	struct spatten_hw_buf k;	/* 0x090 KV layout above */
	struct spatten_hw_buf v;	/* 0x0a0 KV layout above */
	struct spatten_hw_buf out;	/* 0x0b0 [n_heads][q_rows][head_dim] */
	struct spatten_hw_buf k_lsb;	/* 0x0c0 KV layout above */
	struct spatten_hw_buf tok_imp;	/* 0x0d0 u64[kv_rows], with
					 * F_IMP_PER_KV_HEAD [n_kv_heads][kv_rows] */
	struct spatten_hw_buf tok_alive; /* 0x0e0 u32[n_tok_alive] */
	struct spatten_hw_buf tok_kept;	/* 0x0f0 u32[token_keep], written */
	struct spatten_hw_buf pinned;	/* 0x100 u32[n_pinned] */
	struct spatten_hw_buf head_imp;	/* 0x110 u64[n_heads] */
	struct spatten_hw_buf head_alive; /* 0x120 u32[n_head_alive] */
	struct spatten_hw_buf head_kept; /* 0x130 u32[head_keep], written */
	struct spatten_hw_buf block_table; /* 0x140 u32 block numbers */
	struct spatten_hw_buf positions; /* 0x150 u32[kv_rows] */
	struct spatten_hw_buf head_fracs; /* 0x160 F_HEAD_FRACS: u8 table */
	__u8 rsvd5[0x200 - 0x170];	/* 0x170 must be zero */
};

/* A submission-queue entry of either size; the common header is v2's. */
union spatten_hw_sqe {
	struct spatten_hw_desc v2;
	struct spatten_hw_desc_v3 v3;
	__u8 bytes[SPATTEN_SQE_SIZE_MAX];
};

/* ---- Completion-queue entry ------------------------------------------- */

enum spatten_hw_status {
	SPATTEN_HW_OK = 0,
	SPATTEN_HW_ERR_OPCODE = 1,	/* unknown opcode */
	SPATTEN_HW_ERR_VERSION = 2,	/* desc version or desc_size */
	SPATTEN_HW_ERR_FLAGS = 3,	/* unknown flag or stage */
	SPATTEN_HW_ERR_RESERVED = 4,	/* reserved field not zero */
	SPATTEN_HW_ERR_SHAPE = 5,	/* heads, dims or rows out of caps */
	SPATTEN_HW_ERR_POSITION = 6,	/* q_start/q_rows inconsistent */
	SPATTEN_HW_ERR_FORMAT = 7,	/* element format or frac bits */
	SPATTEN_HW_ERR_BUFFER = 8,	/* buffer ref malformed or short */
	SPATTEN_HW_ERR_PAGE_LIST = 9,	/* misaligned page list entry */
	SPATTEN_HW_ERR_DMA_READ = 10,	/* a read was not accepted */
	SPATTEN_HW_ERR_DMA_WRITE = 11,	/* a write was not accepted */
	SPATTEN_HW_ERR_NO_MEMORY = 12,	/* device-side resources */
	SPATTEN_HW_ERR_ABORTED = 13,	/* reset while queued */
	SPATTEN_HW_ERR_KEEP = 14,	/* keep counts inconsistent */
	SPATTEN_HW_ERR_LIST = 15,	/* alive/pinned list not ascending */
	/* 1.2 (descriptor version 3) */
	SPATTEN_HW_ERR_LAYOUT = 16,	/* KV strides or block size */
	SPATTEN_HW_ERR_BLOCK = 17,	/* block-table entry out of the buffer */
	SPATTEN_HW_ERR_PARAM = 18,	/* rope_base, score_scale */
	SPATTEN_HW_STATUS_MAX = 18,
};

#define SPATTEN_CQE_F_PHASE		(1u << 0)

/*
 * The device writes bytes 0x00..0x3b first and the final dword (status and
 * phase) last, so a consumer that sees the new phase sees the whole entry.
 */
struct spatten_hw_cqe {
	__le64 bytes_q;			/* 0x00 bytes read per plane */
	__le64 bytes_k_msb;		/* 0x08 */
	__le64 bytes_k_lsb;		/* 0x10 */
	__le64 bytes_v;			/* 0x18 */
	__le64 bytes_written;		/* 0x20 */
	__le64 cycles;			/* 0x28 modeled cycles at 1 GHz */
	__le32 lsb_refetches;		/* 0x30 (head, query) rows refetched */
	__le32 tag;			/* 0x34 from the descriptor */
	__le16 sq_head;			/* 0x38 SQ entries consumed so far */
	__le16 sq_id;			/* 0x3a */
	__le16 status;			/* 0x3c enum spatten_hw_status */
	__le16 flags;			/* 0x3e SPATTEN_CQE_F_PHASE */
};

#define SPATTEN_CQE_SIZE		64

/* ---- Operand sizes: one formula for driver, device and library -------- */

/* Bits per element of format @fmt; 0 if unknown. */
static inline __u32 spatten_hw_fmt_bits(__u8 fmt)
{
	static const __u8 bits[SPATTEN_FMT_NUM] = { 16, 4, 6, 8, 10, 12 };

	return fmt < SPATTEN_FMT_NUM ? bits[fmt] : 0;
}

/*
 * Bytes of a [n_heads][rows][head_dim] tensor with @bits per element
 * (head_dim is a multiple of 8, so rows are whole bytes).
 */
static inline __u64 spatten_hw_plane_bytes(__u32 n_heads, __u32 rows,
					   __u32 head_dim, __u32 bits)
{
	return (__u64)n_heads * rows * (head_dim * bits / 8);
}

static inline __u64 spatten_hw_tensor_bytes(__u32 n_heads, __u32 rows,
					    __u32 head_dim, __u8 fmt)
{
	return spatten_hw_plane_bytes(n_heads, rows, head_dim,
				      spatten_hw_fmt_bits(fmt));
}

/*
 * Importance arrays are u64 per token or head; lists are u16 per entry in
 * descriptor versions 1 and 2, u32 in version 3; block tables and
 * position lists u32.
 */
#define SPATTEN_IMP_BYTES		8
#define SPATTEN_LIST_BYTES		2
#define SPATTEN_LIST_BYTES_V3		4
#define SPATTEN_BLOCK_ENTRY_BYTES	4
#define SPATTEN_POSITION_BYTES		4

/* ---- Version 3 rules: one formula for driver, device and library ----- */

/*
 * Is a KV layout valid (else SPATTEN_HW_ERR_LAYOUT)? All zero is packed.
 * Otherwise a row stride of at least 1, a head stride of at least 1 when
 * there are several KV heads, and paging (@block_rows, a power of two)
 * with a block stride of at least 1 and none without paging.
 */
static inline int spatten_hw_kv_layout_ok(__u32 n_kv_heads, __u32 head_stride,
					  __u32 row_stride, __u32 block_stride,
					  __u32 block_rows)
{
	if (!head_stride && !row_stride && !block_stride && !block_rows)
		return 1;
	if (!row_stride || (n_kv_heads > 1 && !head_stride))
		return 0;
	if (!block_rows)
		return !block_stride;
	return !(block_rows & (block_rows - 1)) && block_stride;
}

/*
 * Are the numeric parameters valid (else SPATTEN_HW_ERR_PARAM)? The score
 * scale is 0 or the bits of a positive normal binary32 that stays normal
 * once scaled to the score's units, 2^-(q_frac + k_frac) (@score_frac):
 * its biased exponent above @score_frac, so the softmax never sees a
 * scale of 0; rope_base is 2..2^31 with SPATTEN_DESC_F_ROPE and 0
 * without.
 */
static inline int spatten_hw_params_ok(__u16 flags, __u32 score_scale,
				       __u32 rope_base, __u32 score_frac)
{
	__u32 exp = score_scale >> 23 & 0xff;

	if (score_scale && ((score_scale >> 31) || exp <= score_frac ||
			    exp == 0xff))
		return 0;
	if (flags & SPATTEN_DESC_F_ROPE)
		return rope_base >= 2 && rope_base <= 0x80000000u;
	return !rope_base;
}

/*
 * Rows a K, K-LSB or V buffer must hold (in rows of its plane, head_dim *
 * bits / 8 bytes) for a valid layout: the highest row the layout reaches
 * plus one, saturated at 2^64 - 1. Paged: a whole block number 0 (every
 * listed block must hold a whole block of every KV head; the device
 * checks each when it reads the table: SPATTEN_HW_ERR_BLOCK).
 */
static inline __u64 spatten_hw_kv_plane_rows(__u32 n_kv_heads, __u32 kv_rows,
					     __u32 head_stride,
					     __u32 row_stride,
					     __u32 block_rows)
{
	__u64 heads, rows = block_rows ? block_rows : kv_rows;

	if (!row_stride)	/* packed */
		return (__u64)n_kv_heads * kv_rows;
	/* < 2^48 and < 2^64 - 2^33 + 1: only their sum can overflow */
	heads = (__u64)(n_kv_heads - 1) * head_stride;
	rows = (rows - 1) * row_stride + 1;
	return heads > ~(__u64)0 - rows ? ~(__u64)0 : heads + rows;
}

/*
 * Bytes of such a buffer with rows of @row_bytes, saturated at 2^64 - 1
 * (a reference's length is 32-bit, so a saturated need always fails).
 */
static inline __u64 spatten_hw_kv_plane_bytes(__u32 n_kv_heads, __u32 kv_rows,
					      __u32 head_stride,
					      __u32 row_stride,
					      __u32 block_rows,
					      __u32 row_bytes)
{
	__u64 rows = spatten_hw_kv_plane_rows(n_kv_heads, kv_rows, head_stride,
					      row_stride, block_rows);

	if (row_bytes && rows > ~(__u64)0 / row_bytes)
		return ~(__u64)0;
	return rows * row_bytes;
}

/* Entries of a paged job's block table. */
static inline __u64 spatten_hw_kv_blocks(__u32 kv_rows, __u32 block_rows)
{
	return block_rows ? ((__u64)kv_rows + block_rows - 1) / block_rows : 0;
}

#endif /* SPATTEN_HW_H */
