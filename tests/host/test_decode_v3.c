// SPDX-License-Identifier: MIT
/*
 * spe_desc_decode() on descriptor version 3 (hardware 1.2): a valid
 * descriptor with every field distinct lands field by field in struct
 * spe_job; every status the decoder can give, each from that descriptor
 * with exactly one thing broken; the order of the checks when two things
 * are broken; versions 1 and 2 unchanged in 512-byte SQ entries; the tag
 * of a rejected descriptor.
 *
 * The expected outcomes follow include/spatten_hw.h (the comment above
 * struct spatten_hw_desc_v3 and the field comments): the sizes below are
 * computed here from that text, not taken from the engine.
 */
#include <endian.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "spe.h"
#include "testutil.h"
#include "tap.h"

static struct spe_caps caps;

/* ---- The valid version-3 descriptors ---------------------------------- */

#define V3_H		8		/* query heads */
#define V3_G		2		/* KV heads */
#define V3_D		64
#define V3_Q		70000u		/* q_rows, above 16 bits */
#define V3_KV		140000u		/* kv_rows */
#define V3_QSTART	66000u		/* 66000 + 70000 <= 140000 */
#define V3_TAG		0xc0ffee03u
#define V3_BLK		256u		/* kv_block_rows */
#define V3_HS		2u		/* kv_head_stride */
#define V3_RS		3u		/* kv_row_stride */
#define V3_BS		800u		/* kv_block_stride */
#define V3_SCALE	0x3e800000u	/* 0.25f (the default would be 1/8) */
#define V3_ROPE_BASE	500000u
#define V3_K_OFFSET	0x123		/* K is a page list starting here */
#define V3_FLAGS	(SPATTEN_DESC_F_CAUSAL | SPATTEN_DESC_F_PROGRESSIVE | \
			 SPATTEN_DESC_F_ROPE | SPATTEN_DESC_F_ROPE_POSITIONS)

static struct spatten_hw_buf *ref(struct spatten_hw_desc_v3 *d, int p)
{
	struct spatten_hw_buf *r[SPE_PLANE_COUNT] = {
		[SPE_PLANE_Q] = &d->q,
		[SPE_PLANE_K_MSB] = &d->k,
		[SPE_PLANE_K_LSB] = &d->k_lsb,
		[SPE_PLANE_V] = &d->v,
		[SPE_PLANE_OUT] = &d->out,
		[SPE_PLANE_TOK_IMP] = &d->tok_imp,
		[SPE_PLANE_TOK_ALIVE] = &d->tok_alive,
		[SPE_PLANE_TOK_KEPT] = &d->tok_kept,
		[SPE_PLANE_PINNED] = &d->pinned,
		[SPE_PLANE_HEAD_IMP] = &d->head_imp,
		[SPE_PLANE_HEAD_ALIVE] = &d->head_alive,
		[SPE_PLANE_HEAD_KEPT] = &d->head_kept,
		[SPE_PLANE_BLOCK_TABLE] = &d->block_table,
		[SPE_PLANE_POSITIONS] = &d->positions,
		[SPE_PLANE_HEAD_FRACS] = &d->head_fracs,
	};

	return r[p];
}

static const char *const plane_name[SPE_PLANE_COUNT] = {
	[SPE_PLANE_Q] = "q", [SPE_PLANE_K_MSB] = "k",
	[SPE_PLANE_K_LSB] = "k_lsb", [SPE_PLANE_V] = "v",
	[SPE_PLANE_OUT] = "out", [SPE_PLANE_TOK_IMP] = "tok_imp",
	[SPE_PLANE_TOK_ALIVE] = "tok_alive", [SPE_PLANE_TOK_KEPT] = "tok_kept",
	[SPE_PLANE_PINNED] = "pinned", [SPE_PLANE_HEAD_IMP] = "head_imp",
	[SPE_PLANE_HEAD_ALIVE] = "head_alive",
	[SPE_PLANE_HEAD_KEPT] = "head_kept",
	[SPE_PLANE_BLOCK_TABLE] = "block_table",
	[SPE_PLANE_POSITIONS] = "positions",
	[SPE_PLANE_HEAD_FRACS] = "head_fracs",
};

/* Distinct, 8-aligned, below 1 << dma_bits whatever the length. */
static uint64_t plane_addr(int p)
{
	return 0x100000000ull * (p + 1) + 0x1000ull * p + 8;
}

/*
 * Rows of a K, K-LSB or V plane the KV layout reaches (the header's
 * formula for the largest row index, plus one). All four layout fields 0
 * is packed [n_kv_heads][kv_rows]. Paged: the block numbers are only
 * known from the table, so block number 0 (the least any table needs).
 */
static uint64_t kv_plane_rows(const struct spatten_hw_desc_v3 *d)
{
	uint64_t g = le16toh(d->n_kv_heads), kv = le32toh(d->kv_rows);
	uint64_t hs = le32toh(d->kv_head_stride);
	uint64_t rs = le32toh(d->kv_row_stride);
	uint64_t bs = le32toh(d->kv_block_stride);
	uint64_t br = le32toh(d->kv_block_rows);
	/* paged: a whole block, even when the slots end inside it */
	uint64_t rows = br ? br : kv;

	if (!hs && !rs && !bs && !br)
		return g * kv;
	return (g - 1) * hs + (rows - 1) * rs + 1;
}

/* Bytes operand @p of @d needs, from the header's field comments. */
static uint64_t need(const struct spatten_hw_desc_v3 *d, int p)
{
	uint64_t h = le16toh(d->n_heads), dim = le16toh(d->head_dim);
	uint64_t q = le32toh(d->q_rows), kv = le32toh(d->kv_rows);
	uint64_t br = le32toh(d->kv_block_rows);
	uint64_t lb = SPATTEN_LIST_BYTES_V3;

	switch (p) {
	case SPE_PLANE_Q:
		return h * q * dim * spatten_hw_fmt_bits(d->q_fmt) / 8;
	case SPE_PLANE_OUT:
		return h * q * dim * spatten_hw_fmt_bits(d->out_fmt) / 8;
	case SPE_PLANE_K_MSB:
		return kv_plane_rows(d) *
		       (dim * spatten_hw_fmt_bits(d->k_fmt) / 8);
	case SPE_PLANE_K_LSB:
		return kv_plane_rows(d) * (dim * SPATTEN_LSB_BITS / 8);
	case SPE_PLANE_V:
		return kv_plane_rows(d) *
		       (dim * spatten_hw_fmt_bits(d->v_fmt) / 8);
	case SPE_PLANE_TOK_IMP:
		return kv * SPATTEN_IMP_BYTES;
	case SPE_PLANE_TOK_ALIVE:
		return le32toh(d->n_tok_alive) * lb;
	case SPE_PLANE_TOK_KEPT:
		return le32toh(d->token_keep) * lb;
	case SPE_PLANE_PINNED:
		return le32toh(d->n_pinned) * lb;
	case SPE_PLANE_HEAD_IMP:
		return h * SPATTEN_IMP_BYTES;
	case SPE_PLANE_HEAD_ALIVE:
		return le16toh(d->n_head_alive) * lb;
	case SPE_PLANE_HEAD_KEPT:
		return le16toh(d->head_keep) * lb;
	case SPE_PLANE_BLOCK_TABLE:
		return br ? (kv + br - 1) / br * SPATTEN_BLOCK_ENTRY_BYTES : 0;
	case SPE_PLANE_POSITIONS:
		return kv * SPATTEN_POSITION_BYTES;
	}
	return 0;
}

/*
 * As a 32-bit length; a broken count can ask for more, which then
 * saturates (its own check fails before the buffers are looked at).
 */
static uint32_t need32(const struct spatten_hw_desc_v3 *d, int p)
{
	uint64_t n = need(d, p);

	return n > UINT32_MAX ? UINT32_MAX : (uint32_t)n;
}

/* Make operand @p present with exactly the bytes it needs. */
static void present(struct spatten_hw_desc_v3 *d, int p)
{
	struct spe_buf b = { plane_addr(p), need32(d, p), 0, 0 };

	if (p == SPE_PLANE_K_MSB) {
		b.offset = V3_K_OFFSET;
		b.flags = SPATTEN_BUF_PAGE_LIST;
	}
	desc_set_buf(ref(d, p), &b);
}

static void absent(struct spatten_hw_desc_v3 *d, int p)
{
	memset(ref(d, p), 0, sizeof(struct spatten_hw_buf));
}

/* Every present operand resized to exactly what it needs. */
static void fit(struct spatten_hw_desc_v3 *d)
{
	int p;

	for (p = 0; p < SPE_PLANE_COUNT; p++)
		if (ref(d, p)->len)
			ref(d, p)->len = htole32(need32(d, p));
}

/*
 * A valid causal summarization job using every version-3 feature: GQA
 * (8 query heads on 2 KV heads), a paged KV layout with strides, RoPE
 * with a position list, a score scale, progressive K, head and value
 * pruning, 32-bit rows above 65535. Eleven references (not the token
 * lists: those would force q_start 0 here; v3_full() has them).
 */
static void v3_desc(struct spatten_hw_desc_v3 *d)
{
	static const int planes[] = {
		SPE_PLANE_Q, SPE_PLANE_K_MSB, SPE_PLANE_K_LSB, SPE_PLANE_V,
		SPE_PLANE_OUT, SPE_PLANE_TOK_IMP, SPE_PLANE_HEAD_IMP,
		SPE_PLANE_HEAD_ALIVE, SPE_PLANE_HEAD_KEPT,
		SPE_PLANE_BLOCK_TABLE, SPE_PLANE_POSITIONS,
	};
	size_t i;

	memset(d, 0, sizeof(*d));
	d->opcode = htole16(SPATTEN_OP_ATTENTION);
	d->desc_size = htole16(SPATTEN_DESC_V3_SIZE);
	d->version = SPATTEN_DESC_VERSION_V3;
	d->stage = SPATTEN_STAGE_SUMMARIZATION;
	d->flags = htole16(V3_FLAGS);
	d->tag = htole32(V3_TAG);
	d->n_heads = htole16(V3_H);
	d->n_kv_heads = htole16(V3_G);
	d->head_dim = htole16(V3_D);
	d->q_rows = htole32(V3_Q);
	d->kv_rows = htole32(V3_KV);
	d->q_start = htole32(V3_QSTART);
	d->q_fmt = SPATTEN_FMT_S16;
	d->q_frac = 12;
	d->k_fmt = SPATTEN_FMT_S8;
	d->k_frac = 11;
	d->v_fmt = SPATTEN_FMT_S12;
	d->v_frac = 10;
	d->out_fmt = SPATTEN_FMT_S16;
	d->out_frac = 9;
	d->value_keep = htole32(100000);
	d->n_head_alive = htole16(6);
	d->head_keep = htole16(5);
	d->lsb_threshold = htole16(1234);
	d->topk_seed = htole32(0x5eed1234);
	d->score_scale = htole32(V3_SCALE);
	d->rope_base = htole32(V3_ROPE_BASE);
	d->kv_block_rows = htole32(V3_BLK);
	d->kv_head_stride = htole32(V3_HS);
	d->kv_row_stride = htole32(V3_RS);
	d->kv_block_stride = htole32(V3_BS);
	for (i = 0; i < sizeof(planes) / sizeof(planes[0]); i++)
		present(d, planes[i]);
}

/* lsb_threshold is in units of 2^-15 of a probability: at most 1. */
#define PROB_ONE	(1u << 15)

#define V3F_TOK_ALIVE	70001u
#define V3F_TOKEN_KEEP	70002u		/* n_tok_alive + 1 */
#define V3F_PINNED	7u

/*
 * The same as a generation step with token pruning: all fourteen
 * references, 32-bit token counts above 65535.
 */
static void v3_full(struct spatten_hw_desc_v3 *d)
{
	v3_desc(d);
	d->stage = SPATTEN_STAGE_GENERATION;
	d->q_rows = htole32(1);
	d->q_start = htole32(V3_KV - 1);
	d->n_tok_alive = htole32(V3F_TOK_ALIVE);
	d->token_keep = htole32(V3F_TOKEN_KEEP);
	d->n_pinned = htole32(V3F_PINNED);
	present(d, SPE_PLANE_TOK_ALIVE);
	present(d, SPE_PLANE_TOK_KEPT);
	present(d, SPE_PLANE_PINNED);
	fit(d);
}

static void clear_flags(struct spatten_hw_desc_v3 *d, uint16_t f)
{
	d->flags = htole16(le16toh(d->flags) & ~f);
}

/* Variants that stay valid. */
static void set_layout(struct spatten_hw_desc_v3 *d, uint32_t hs,
		       uint32_t rs, uint32_t bs, uint32_t br)
{
	d->kv_head_stride = htole32(hs);
	d->kv_row_stride = htole32(rs);
	d->kv_block_stride = htole32(bs);
	d->kv_block_rows = htole32(br);
	if (br)
		present(d, SPE_PLANE_BLOCK_TABLE);
	else
		absent(d, SPE_PLANE_BLOCK_TABLE);
	fit(d);
}

/* RoPE with key positions = slots: no position list. */
static void rope_slots(struct spatten_hw_desc_v3 *d)
{
	clear_flags(d, SPATTEN_DESC_F_ROPE_POSITIONS);
	absent(d, SPE_PLANE_POSITIONS);
}

static void no_rope(struct spatten_hw_desc_v3 *d)
{
	rope_slots(d);
	clear_flags(d, SPATTEN_DESC_F_ROPE);
	d->rope_base = 0;
}

/* Non-causal (q_start 0), key positions = slots: q_rows may exceed kv. */
static void non_causal(struct spatten_hw_desc_v3 *d)
{
	rope_slots(d);
	clear_flags(d, SPATTEN_DESC_F_CAUSAL);
	d->q_start = 0;
}

static void nop_v3(struct spatten_hw_desc_v3 *d)
{
	memset(d, 0, sizeof(*d));
	d->opcode = htole16(SPATTEN_OP_NOP);
	d->desc_size = htole16(SPATTEN_DESC_V3_SIZE);
	d->version = SPATTEN_DESC_VERSION_V3;
	d->tag = htole32(0x30077);
}

/* ---- Decoding helpers ------------------------------------------------- */

static int decode_in(const void *d, size_t entry_size)
{
	struct spe_job job;

	return spe_desc_decode(d, entry_size, &caps, &job);
}

/*
 * The first @entry_size bytes of @d in a buffer of exactly that size, so
 * that a read past the entry is an error under ASan/valgrind.
 */
static int decode_exact(const void *d, size_t entry_size, struct spe_job *job)
{
	void *entry = malloc(entry_size ? entry_size : 1);
	int rc;

	if (!entry)
		abort();
	memcpy(entry, d, entry_size);
	rc = spe_desc_decode(entry, entry_size, &caps, job);
	free(entry);
	return rc;
}

static int decode(const struct spatten_hw_desc_v3 *d)
{
	return decode_in(d, SPATTEN_DESC_V3_SIZE);
}

/* Report which of several broken variants did not give @want. */
static int expect(int got, int want, const char *what)
{
	if (got != want)
		diag("%s: got status %d, want %d", what, got, want);
	return got == want;
}

static int buf_eq(const struct spe_buf *b, uint64_t addr, uint32_t len,
		  uint16_t offset, uint16_t flags)
{
	return b->addr == addr && b->len == len && b->offset == offset &&
	       b->flags == flags;
}

/* Every field of two decoded jobs. */
static int job_eq(const struct spe_job *a, const struct spe_job *b)
{
	int p;

	for (p = 0; p < SPE_PLANE_COUNT; p++)
		if (!buf_eq(&a->buf[p], b->buf[p].addr, b->buf[p].len,
			    b->buf[p].offset, b->buf[p].flags))
			return 0;
	return a->opcode == b->opcode && a->stage == b->stage &&
	       a->flags == b->flags && a->tag == b->tag &&
	       a->n_heads == b->n_heads && a->n_kv_heads == b->n_kv_heads &&
	       a->head_dim == b->head_dim && a->q_rows == b->q_rows &&
	       a->kv_rows == b->kv_rows && a->q_start == b->q_start &&
	       a->q_frac == b->q_frac && a->k_frac == b->k_frac &&
	       a->v_frac == b->v_frac && a->out_frac == b->out_frac &&
	       a->q_fmt == b->q_fmt && a->k_fmt == b->k_fmt &&
	       a->v_fmt == b->v_fmt && a->out_fmt == b->out_fmt &&
	       a->version == b->version && a->n_tok_alive == b->n_tok_alive &&
	       a->token_keep == b->token_keep && a->n_pinned == b->n_pinned &&
	       a->n_head_alive == b->n_head_alive &&
	       a->head_keep == b->head_keep && a->value_keep == b->value_keep &&
	       a->lsb_threshold == b->lsb_threshold &&
	       a->topk_seed == b->topk_seed &&
	       a->score_scale == b->score_scale &&
	       a->rope_base == b->rope_base &&
	       a->kv_head_stride == b->kv_head_stride &&
	       a->kv_row_stride == b->kv_row_stride &&
	       a->kv_block_stride == b->kv_block_stride &&
	       a->kv_block_rows == b->kv_block_rows &&
	       a->list_bytes == b->list_bytes;
}

/* ---- 1. The valid descriptors ------------------------------------------ */

static int plane_decoded(const struct spe_job *job,
			 const struct spatten_hw_desc_v3 *d, int p)
{
	uint16_t off = p == SPE_PLANE_K_MSB ? V3_K_OFFSET : 0;
	uint16_t fl = p == SPE_PLANE_K_MSB ? SPATTEN_BUF_PAGE_LIST : 0;

	return buf_eq(&job->buf[p], plane_addr(p), need32(d, p), off, fl);
}

static void test_valid(void)
{
	struct spatten_hw_desc_v3 d;
	struct spe_job job;
	int rc, p, good = 1;

	v3_desc(&d);
	memset(&job, 0xa5, sizeof(job));
	rc = spe_desc_decode(&d, sizeof(d), &caps, &job);
	ok(rc == SPATTEN_HW_OK, "valid v3 descriptor (GQA, paged strided KV, "
	   "RoPE positions, score scale) decodes (status %d)", rc);
	ok(job.opcode == SPATTEN_OP_ATTENTION &&
	   job.stage == SPATTEN_STAGE_SUMMARIZATION && job.flags == V3_FLAGS &&
	   job.tag == V3_TAG && job.version == 3 && job.n_heads == V3_H &&
	   job.n_kv_heads == V3_G && job.head_dim == V3_D &&
	   job.q_rows == V3_Q && job.kv_rows == V3_KV &&
	   job.q_start == V3_QSTART && job.q_fmt == SPATTEN_FMT_S16 &&
	   job.q_frac == 12 && job.k_fmt == SPATTEN_FMT_S8 &&
	   job.k_frac == 11 && job.v_fmt == SPATTEN_FMT_S12 &&
	   job.v_frac == 10 && job.out_fmt == SPATTEN_FMT_S16 &&
	   job.out_frac == 9,
	   "v3 header, n_kv_heads, 32-bit q_rows/kv_rows/q_start above 65535 "
	   "and formats land in the job");
	ok(job.value_keep == 100000 && job.n_head_alive == 6 &&
	   job.head_keep == 5 && job.lsb_threshold == 1234 &&
	   job.topk_seed == 0x5eed1234 && job.n_tok_alive == 0 &&
	   job.token_keep == 0 && job.n_pinned == 0,
	   "v3 counts (value_keep 100000), threshold and seed land in the job");
	ok(job.score_scale == V3_SCALE && job.rope_base == V3_ROPE_BASE &&
	   job.kv_block_rows == V3_BLK && job.kv_head_stride == V3_HS &&
	   job.kv_row_stride == V3_RS && job.kv_block_stride == V3_BS &&
	   job.list_bytes == SPATTEN_LIST_BYTES_V3,
	   "score_scale, rope_base, block rows, the three strides and "
	   "list_bytes == 4 land in the job");
	for (p = 0; p < SPE_PLANE_COUNT; p++) {
		if (p == SPE_PLANE_TOK_ALIVE || p == SPE_PLANE_TOK_KEPT ||
		    p == SPE_PLANE_PINNED || p == SPE_PLANE_HEAD_FRACS)
			good &= buf_eq(&job.buf[p], 0, 0, 0, 0);
		else
			good &= plane_decoded(&job, &d, p);
		if (!good) {
			diag("plane %s decoded wrong", plane_name[p]);
			break;
		}
	}
	ok(good, "eleven references land in their planes, the token lists "
	   "zero");

	v3_full(&d);
	memset(&job, 0x5a, sizeof(job));
	rc = spe_desc_decode(&d, sizeof(d), &caps, &job);
	ok(rc == SPATTEN_HW_OK, "valid v3 generation step with token pruning "
	   "and all fourteen references decodes (status %d)", rc);
	good = job.stage == SPATTEN_STAGE_GENERATION && job.q_rows == 1 &&
	       job.q_start == V3_KV - 1 && job.n_tok_alive == V3F_TOK_ALIVE &&
	       job.token_keep == V3F_TOKEN_KEEP &&
	       job.n_pinned == V3F_PINNED && job.list_bytes == 4;
	for (p = 0; p < SPE_PLANE_COUNT && good; p++) {
		good &= p == SPE_PLANE_HEAD_FRACS ?
			buf_eq(&job.buf[p], 0, 0, 0, 0) :
			plane_decoded(&job, &d, p);
		if (!good)
			diag("plane %s decoded wrong", plane_name[p]);
	}
	ok(good, "32-bit n_tok_alive/token_keep above 65535 and all fourteen "
	   "references (block_table, positions included) land in the job");
}

/* ---- 2. Every status, one thing broken -------------------------------- */

static void test_err_version(void)
{
	static const uint16_t sizes[] = { 0, 255, 257, 511, 513, 1024, 0xffff };
	static const uint8_t versions[] = { 0, 4, 0x83, 0xff };
	static const size_t small[] = { 0, 12, 128, 255 };
	struct spatten_hw_desc_v3 d;
	struct spatten_hw_desc d2;
	struct spe_caps saved = caps;
	uint8_t entry[SPATTEN_SQE_SIZE_MAX];
	struct spe_job job;
	int good;
	size_t i;

	v3_desc(&d);
	good = expect(decode_exact(&d, SPATTEN_DESC_SIZE, &job),
		      SPATTEN_HW_ERR_VERSION, "v3 in 256");
	good &= expect(decode_exact(&d, 511, &job), SPATTEN_HW_ERR_VERSION,
		       "v3 in 511");
	good &= expect(decode_in(&d, SPATTEN_SQE_SIZE_MAX), SPATTEN_HW_OK,
		       "v3 in 512");
	ok(good, "ERR_VERSION: v3 in a 256-byte (or 511-byte) entry; the same "
	   "bytes decode in a 512-byte entry");

	v3_desc(&d);
	d.desc_size = htole16(SPATTEN_DESC_SIZE);
	ok(decode(&d) == SPATTEN_HW_ERR_VERSION,
	   "ERR_VERSION: version 3 with desc_size 256");

	good = 1;
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		v3_desc(&d);
		d.desc_size = htole16(sizes[i]);
		good &= expect(decode(&d), SPATTEN_HW_ERR_VERSION, "desc_size");
	}
	ok(good, "ERR_VERSION: version 3 with desc_size 0, 255, 257, 511, "
	   "513, 1024 or 0xffff");

	/* A valid v2 descriptor, then desc_size 512 in a 512-byte entry. */
	memset(entry, 0, sizeof(entry));
	memset(&d2, 0, sizeof(d2));
	d2.opcode = htole16(SPATTEN_OP_NOP);
	d2.desc_size = htole16(SPATTEN_DESC_SIZE);
	d2.version = 2;
	memcpy(entry, &d2, sizeof(d2));
	good = expect(decode_in(entry, sizeof(entry)), SPATTEN_HW_OK, "v2");
	d2.desc_size = htole16(SPATTEN_DESC_V3_SIZE);
	memcpy(entry, &d2, sizeof(d2));
	good &= expect(decode_in(entry, sizeof(entry)), SPATTEN_HW_ERR_VERSION,
		       "v2 512");
	d2.version = 1;
	memcpy(entry, &d2, sizeof(d2));
	good &= expect(decode_in(entry, sizeof(entry)), SPATTEN_HW_ERR_VERSION,
		       "v1 512");
	d2.version = 2;
	d2.desc_size = htole16(SPATTEN_DESC_SIZE);
	ok(good, "ERR_VERSION: version 2 (or 1) with desc_size 512 in a "
	   "512-byte entry");

	v3_desc(&d);
	caps.features &= ~SPATTEN_FEAT_DESC_V3;
	good = expect(decode(&d), SPATTEN_HW_ERR_VERSION, "no DESC_V3");
	nop_v3(&d);
	good &= expect(decode(&d), SPATTEN_HW_ERR_VERSION, "NOP no DESC_V3");
	caps = saved;
	ok(good, "ERR_VERSION: v3 (ATTENTION or NOP) on a device without "
	   "FEAT_DESC_V3");

	good = 1;
	for (i = 0; i < sizeof(small) / sizeof(small[0]); i++) {
		v3_desc(&d);
		good &= expect(decode_exact(&d, small[i], &job),
			       SPATTEN_HW_ERR_VERSION, "small entry v3");
		good &= expect(decode_exact(&d2, small[i], &job),
			       SPATTEN_HW_ERR_VERSION, "small entry v2");
	}
	ok(good, "ERR_VERSION: entry_size 0, 12, 128 or 255 (below 256), v3 "
	   "or v2");

	good = 1;
	for (i = 0; i < sizeof(versions); i++) {
		v3_desc(&d);
		d.version = versions[i];
		good &= expect(decode(&d), SPATTEN_HW_ERR_VERSION, "version");
	}
	ok(good, "ERR_VERSION: version 0, 4, 0x83 or 0xff with desc_size 512");
}

static void test_err_opcode(void)
{
	static const uint16_t ops[] = { 2, 3, 0x0100, 0x8001, 0xffff };
	struct spatten_hw_desc_v3 d;
	int good = 1;
	size_t i;

	for (i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
		v3_desc(&d);
		d.opcode = htole16(ops[i]);
		good &= expect(decode(&d), SPATTEN_HW_ERR_OPCODE, "opcode");
	}
	ok(good, "ERR_OPCODE: v3 with opcode 2, 3, 0x100, 0x8001 or 0xffff");
}

static void test_err_flags(void)
{
	struct spatten_hw_desc_v3 d;
	struct spatten_hw_desc d2;
	struct spe_caps saved = caps;
	int good = 1, bit;

	for (bit = 5; bit < 16; bit++) {
		v3_desc(&d);
		d.flags |= htole16(1u << bit);
		good &= expect(decode(&d), SPATTEN_HW_ERR_FLAGS, "flag bit");
	}
	ok(good, "ERR_FLAGS: each unknown v3 flag bit (5..15)");

	good = 1;
	v3_desc(&d);
	d.stage = 2;
	good &= expect(decode(&d), SPATTEN_HW_ERR_FLAGS, "stage 2");
	d.stage = 0xff;
	good &= expect(decode(&d), SPATTEN_HW_ERR_FLAGS, "stage 255");
	ok(good, "ERR_FLAGS: v3 with stage 2 or 255");

	v3_desc(&d);
	caps.features &= ~SPATTEN_FEAT_ROPE;
	good = expect(decode(&d), SPATTEN_HW_ERR_FLAGS, "ROPE+POS, no feature");
	rope_slots(&d);
	good &= expect(decode(&d), SPATTEN_HW_ERR_FLAGS, "ROPE, no feature");
	no_rope(&d);
	good &= expect(decode(&d), SPATTEN_HW_OK, "no RoPE, no feature");
	caps = saved;
	ok(good, "ERR_FLAGS: ROPE on a device without FEAT_ROPE");

	v3_desc(&d);
	clear_flags(&d, SPATTEN_DESC_F_ROPE);
	d.rope_base = 0;	/* what a job without ROPE has */
	good = expect(decode(&d), SPATTEN_HW_ERR_FLAGS, "POSITIONS w/o ROPE");
	nop_v3(&d);
	d.flags = htole16(SPATTEN_DESC_F_ROPE_POSITIONS);
	good &= expect(decode(&d), SPATTEN_HW_OK, "NOP flags");
	ok(good, "ERR_FLAGS: ROPE_POSITIONS without ROPE (a NOP's flags are "
	   "not judged)");

	v3_desc(&d);
	caps.features &= ~SPATTEN_FEAT_GQA;
	good = expect(decode(&d), SPATTEN_HW_ERR_FLAGS, "GQA no feature");
	d.n_kv_heads = htole16(V3_H);
	fit(&d);
	good &= expect(decode(&d), SPATTEN_HW_OK, "n_kv_heads == n_heads");
	caps = saved;
	ok(good, "ERR_FLAGS: n_kv_heads < n_heads without FEAT_GQA "
	   "(n_kv_heads == n_heads needs no feature)");

	good = 1;
	caps.features &= ~SPATTEN_FEAT_KV_LAYOUT;
	v3_desc(&d);
	good &= expect(decode(&d), SPATTEN_HW_ERR_FLAGS, "paged");
	set_layout(&d, 0, 0, 0, 0);
	good &= expect(decode(&d), SPATTEN_HW_OK, "packed, no feature");
	set_layout(&d, 0, 0, 0, 0);
	d.kv_head_stride = htole32(1);
	good &= expect(decode(&d), SPATTEN_HW_ERR_FLAGS, "head stride");
	set_layout(&d, 0, 0, 0, 0);
	d.kv_row_stride = htole32(1);
	good &= expect(decode(&d), SPATTEN_HW_ERR_FLAGS, "row stride");
	set_layout(&d, 0, 0, 0, 0);
	d.kv_block_stride = htole32(1);
	good &= expect(decode(&d), SPATTEN_HW_ERR_FLAGS, "block stride");
	set_layout(&d, 0, 0, 0, 0);
	d.kv_block_rows = htole32(1);
	good &= expect(decode(&d), SPATTEN_HW_ERR_FLAGS, "block rows");
	caps = saved;
	ok(good, "ERR_FLAGS: a KV layout (any one of the four fields non-zero) "
	   "without FEAT_KV_LAYOUT; packed needs no feature");

	good = 1;
	memset(&d2, 0, sizeof(d2));
	d2.opcode = htole16(SPATTEN_OP_NOP);
	d2.desc_size = htole16(SPATTEN_DESC_SIZE);
	d2.version = 2;
	d2.flags = htole16(SPATTEN_DESC_F_ROPE);
	good &= expect(decode_in(&d2, sizeof(d2)), SPATTEN_HW_ERR_FLAGS,
		       "v2 ROPE");
	d2.flags = htole16(SPATTEN_DESC_F_ROPE_POSITIONS);
	good &= expect(decode_in(&d2, sizeof(d2)), SPATTEN_HW_ERR_FLAGS,
		       "v2 ROPE_POSITIONS");
	ok(good, "ERR_FLAGS: the v3 flags ROPE, ROPE_POSITIONS in a version-2 "
	   "descriptor");

	good = 1;
	v3_desc(&d);
	caps.features &= ~SPATTEN_FEAT_CAUSAL;
	good &= expect(decode(&d), SPATTEN_HW_ERR_FLAGS, "causal");
	caps = saved;
	caps.features &= ~SPATTEN_FEAT_PROGRESSIVE;
	good &= expect(decode(&d), SPATTEN_HW_ERR_FLAGS, "progressive");
	caps = saved;
	caps.features &= ~SPATTEN_FEAT_HEAD_PRUNE;
	good &= expect(decode(&d), SPATTEN_HW_ERR_FLAGS, "head prune");
	caps = saved;
	caps.features &= ~SPATTEN_FEAT_VALUE_PRUNE;
	good &= expect(decode(&d), SPATTEN_HW_ERR_FLAGS, "value prune");
	caps = saved;
	caps.features &= ~SPATTEN_FEAT_TOKEN_PRUNE;
	good &= expect(decode(&d), SPATTEN_HW_ERR_FLAGS, "tok_imp");
	caps = saved;
	v3_full(&d);
	caps.features &= ~SPATTEN_FEAT_GENERATION;
	good &= expect(decode(&d), SPATTEN_HW_ERR_FLAGS, "generation");
	caps = saved;
	ok(good, "ERR_FLAGS: v3 causal, progressive, head/value/token pruning "
	   "or generation on a device without the feature");
}

static void test_err_reserved(void)
{
	struct spatten_hw_desc_v3 d;
	struct spe_job job;
	int good;
	size_t i, off;

	v3_desc(&d);
	d.rsvd0 = htole32(0x80000000u);
	ok(decode(&d) == SPATTEN_HW_ERR_RESERVED, "ERR_RESERVED: v3 rsvd0");
	v3_desc(&d);
	d.rsvd1 = htole16(0x0100);
	ok(decode(&d) == SPATTEN_HW_ERR_RESERVED, "ERR_RESERVED: v3 rsvd1");
	v3_desc(&d);
	d.rsvd2 = htole32(1);
	ok(decode(&d) == SPATTEN_HW_ERR_RESERVED, "ERR_RESERVED: v3 rsvd2");
	v3_desc(&d);
	d.rsvd3 = htole16(0x8000);
	ok(decode(&d) == SPATTEN_HW_ERR_RESERVED, "ERR_RESERVED: v3 rsvd3");

	good = 1;
	for (i = 0; i < sizeof(d.rsvd4) && good; i++) {
		v3_desc(&d);
		((uint8_t *)d.rsvd4)[i] = 0x01;
		good &= expect(decode(&d), SPATTEN_HW_ERR_RESERVED,
			       "rsvd4 0x01");
		((uint8_t *)d.rsvd4)[i] = 0x80;
		good &= expect(decode(&d), SPATTEN_HW_ERR_RESERVED,
			       "rsvd4 0x80");
		if (!good)
			diag("rsvd4 byte %zu not rejected", i);
	}
	ok(good, "ERR_RESERVED: each of the 28 bytes of rsvd4 (0x064..0x07f) "
	   "alone");

	good = 1;
	for (i = 0; i < sizeof(d.rsvd5) && good; i++) {
		v3_desc(&d);
		d.rsvd5[i] = 0x01;
		good &= expect(decode(&d), SPATTEN_HW_ERR_RESERVED,
			       "rsvd5 0x01");
		d.rsvd5[i] = 0xff;
		good &= expect(decode(&d), SPATTEN_HW_ERR_RESERVED,
			       "rsvd5 0xff");
		if (!good)
			diag("rsvd5 byte %zu not rejected", i);
	}
	ok(good, "ERR_RESERVED: each of the 160 bytes of rsvd5 (0x160..0x1ff) "
	   "alone");

	nop_v3(&d);
	d.flags = htole16(SPATTEN_DESC_F_ALL_V3);
	d.stage = SPATTEN_STAGE_GENERATION;
	memset(&job, 0xa5, sizeof(job));
	ok(spe_desc_decode(&d, sizeof(d), &caps, &job) == SPATTEN_HW_OK &&
	   job.opcode == SPATTEN_OP_NOP && job.tag == 0x30077 &&
	   job.version == 3,
	   "clean v3 NOP (flags and stage set) decodes and keeps its tag");

	good = 1;
	for (off = 0x10; off < sizeof(d); off++) {
		nop_v3(&d);
		((uint8_t *)&d)[off] = 0x01;
		if (decode(&d) != SPATTEN_HW_ERR_RESERVED) {
			diag("v3 NOP with byte 0x%zx set accepted", off);
			good = 0;
		}
	}
	ok(good, "ERR_RESERVED: v3 NOP with any one byte of 0x010..0x1ff set");
}

static void test_err_shape(void)
{
	static const uint16_t kv_big[] = { V3_H + 1, 16, 0xffff };
	static const uint16_t kv_nondiv[] = { 3, 5, 6, 7 };
	static const uint16_t kv_div[] = { 1, 4, V3_H };
	static const uint16_t bad_dims[] = { 0, 8, 48, 512, 0xffff };
	struct spatten_hw_desc_v3 d;
	int good;
	size_t i;

	v3_desc(&d);
	d.n_kv_heads = 0;
	ok(decode(&d) == SPATTEN_HW_ERR_SHAPE, "ERR_SHAPE: n_kv_heads 0");

	good = 1;
	for (i = 0; i < sizeof(kv_big) / sizeof(kv_big[0]); i++) {
		v3_desc(&d);
		d.n_kv_heads = htole16(kv_big[i]);
		fit(&d);
		good &= expect(decode(&d), SPATTEN_HW_ERR_SHAPE, "kv > heads");
	}
	ok(good, "ERR_SHAPE: n_kv_heads 9, 16 or 0xffff > n_heads 8");

	good = 1;
	for (i = 0; i < sizeof(kv_nondiv) / sizeof(kv_nondiv[0]); i++) {
		v3_desc(&d);
		d.n_kv_heads = htole16(kv_nondiv[i]);
		fit(&d);
		good &= expect(decode(&d), SPATTEN_HW_ERR_SHAPE, "not divisor");
	}
	for (i = 0; i < sizeof(kv_div) / sizeof(kv_div[0]); i++) {
		v3_desc(&d);
		d.n_kv_heads = htole16(kv_div[i]);
		fit(&d);
		good &= expect(decode(&d), SPATTEN_HW_OK, "divisor");
	}
	ok(good, "ERR_SHAPE: n_kv_heads 3, 5, 6 or 7 not dividing n_heads 8 "
	   "(1, 4 and 8 decode)");

	good = 1;
	v3_desc(&d);
	d.n_heads = 0;
	good &= expect(decode(&d), SPATTEN_HW_ERR_SHAPE, "n_heads 0");
	v3_desc(&d);
	d.n_heads = htole16(caps.max_heads + 2);	/* 2 KV heads divide */
	fit(&d);
	good &= expect(decode(&d), SPATTEN_HW_ERR_SHAPE, "n_heads max+2");
	for (i = 0; i < sizeof(bad_dims) / sizeof(bad_dims[0]); i++) {
		v3_desc(&d);
		d.head_dim = htole16(bad_dims[i]);
		good &= expect(decode(&d), SPATTEN_HW_ERR_SHAPE, "head_dim");
	}
	ok(good, "ERR_SHAPE: v3 n_heads 0 or above max_heads, head_dim not in "
	   "caps");

	v3_desc(&d);
	d.q_rows = 0;
	ok(decode(&d) == SPATTEN_HW_ERR_SHAPE, "ERR_SHAPE: q_rows 0");

	/* Non-causal, RoPE on slots: q_rows may exceed kv_rows. */
	v3_desc(&d);
	non_causal(&d);
	d.q_rows = htole32(caps.max_context);
	fit(&d);
	good = expect(decode(&d), SPATTEN_HW_OK, "q_rows max");
	d.q_rows = htole32(caps.max_context + 1);
	fit(&d);
	good &= expect(decode(&d), SPATTEN_HW_ERR_SHAPE, "q_rows max+1");
	d.q_rows = htole32(0xffffffffu);
	good &= expect(decode(&d), SPATTEN_HW_ERR_SHAPE, "q_rows ~0");
	ok(good, "ERR_SHAPE: q_rows max_context + 1 or 0xffffffff "
	   "(max_context 2^20 decodes)");

	v3_desc(&d);
	d.kv_rows = 0;
	ok(decode(&d) == SPATTEN_HW_ERR_SHAPE, "ERR_SHAPE: kv_rows 0");

	v3_desc(&d);
	d.kv_rows = htole32(caps.max_context);
	fit(&d);
	good = expect(decode(&d), SPATTEN_HW_OK, "kv_rows max");
	d.kv_rows = htole32(caps.max_context + 1);
	fit(&d);
	good &= expect(decode(&d), SPATTEN_HW_ERR_SHAPE, "kv_rows max+1");
	d.kv_rows = htole32(0xffffffffu);
	good &= expect(decode(&d), SPATTEN_HW_ERR_SHAPE, "kv_rows ~0");
	ok(good, "ERR_SHAPE: kv_rows max_context + 1 or 0xffffffff "
	   "(max_context decodes)");

}

/* v3_full() as a chunk of @n new tokens: slots kv_rows - n.. */
static void v3_chunk(struct spatten_hw_desc_v3 *d, uint32_t n)
{
	v3_full(d);
	d->q_rows = htole32(n);
	d->q_start = htole32(V3_KV - n);
	fit(d);
}

/*
 * Chunked generation (SPATTEN_FEAT_CHUNKS): a version-3 generation job
 * of q_rows > 1 new tokens ending the slots, causal; the candidates may
 * number n_tok_alive + q_rows. Without the feature (or in version 2,
 * test_decode.c) q_rows > 1 is ERR_SHAPE, before any position check.
 */
static void test_chunks(void)
{
	struct spatten_hw_desc_v3 d;
	struct spe_job job;
	uint32_t saved = caps.features;
	int good = 1;

	v3_chunk(&d, 2);
	good &= expect(spe_desc_decode(&d, SPATTEN_DESC_V3_SIZE, &caps, &job),
		       SPATTEN_HW_OK, "chunk of 2");
	good &= job.q_rows == 2 && job.q_start == V3_KV - 2 &&
		job.stage == SPATTEN_STAGE_GENERATION;
	v3_chunk(&d, V3_Q);
	good &= expect(decode(&d), SPATTEN_HW_OK, "chunk of 70000");
	v3_chunk(&d, V3_KV);
	d.n_tok_alive = 0;
	d.token_keep = htole32(V3_KV);
	absent(&d, SPE_PLANE_TOK_ALIVE);
	fit(&d);
	good &= expect(decode(&d), SPATTEN_HW_OK, "first chunk, every slot");
	ok(good, "chunks: v3 generation with q_rows 2, 70000 and kv_rows "
	   "(q_start 0) decode on a CHUNKS device");

	good = 1;
	caps.features &= ~SPATTEN_FEAT_CHUNKS;
	v3_chunk(&d, 2);
	good &= expect(decode(&d), SPATTEN_HW_ERR_SHAPE, "no CHUNKS");
	d.q_start = htole32(V3_KV - 3);	/* also a bad position: shape first */
	good &= expect(decode(&d), SPATTEN_HW_ERR_SHAPE, "no CHUNKS, pos");
	v3_full(&d);
	good &= expect(decode(&d), SPATTEN_HW_OK, "no CHUNKS, q_rows 1");
	caps.features = saved;
	ok(good, "ERR_SHAPE: a chunk on a device without CHUNKS (even with "
	   "a bad position); q_rows 1 generation still decodes");

	good = 1;
	v3_chunk(&d, 2);
	d.q_start = htole32(V3_KV - 3);
	good &= expect(decode(&d), SPATTEN_HW_ERR_POSITION, "ends at kv-1");
	d.q_start = htole32(V3_KV - 1);
	good &= expect(decode(&d), SPATTEN_HW_ERR_POSITION, "ends at kv+1");
	d.q_start = htole32(0xffffffffu);
	good &= expect(decode(&d), SPATTEN_HW_ERR_POSITION, "q_start ~0");
	v3_chunk(&d, 3);
	d.kv_rows = htole32(V3_KV + 1);
	fit(&d);
	good &= expect(decode(&d), SPATTEN_HW_ERR_POSITION, "kv_rows + 1");
	ok(good, "ERR_POSITION: a chunk whose q_start + q_rows != kv_rows");

	good = 1;
	v3_chunk(&d, V3_KV);
	d.n_tok_alive = 0;
	d.token_keep = htole32(V3_KV);
	absent(&d, SPE_PLANE_TOK_ALIVE);
	clear_flags(&d, SPATTEN_DESC_F_CAUSAL);
	fit(&d);
	good &= expect(decode(&d), SPATTEN_HW_ERR_POSITION, "not causal");
	v3_full(&d);
	d.kv_rows = htole32(1);
	d.q_start = 0;
	d.n_tok_alive = 0;
	d.token_keep = htole32(1);
	d.n_pinned = 0;
	d.value_keep = 0;
	absent(&d, SPE_PLANE_TOK_ALIVE);
	absent(&d, SPE_PLANE_PINNED);
	clear_flags(&d, SPATTEN_DESC_F_CAUSAL);
	fit(&d);
	good &= expect(decode(&d), SPATTEN_HW_OK, "q_rows 1, kv 1, not causal");
	ok(good, "ERR_POSITION: a chunk without CAUSAL (q_start 0, q_rows == "
	   "kv_rows); one new token over one slot needs no CAUSAL");

	good = 1;
	v3_chunk(&d, 5);
	d.token_keep = htole32(V3F_TOK_ALIVE + 5);
	fit(&d);
	good &= expect(decode(&d), SPATTEN_HW_OK, "keep alive + 5");
	d.token_keep = htole32(V3F_TOK_ALIVE + 6);
	fit(&d);
	good &= expect(decode(&d), SPATTEN_HW_ERR_KEEP, "keep alive + 6");
	v3_full(&d);
	d.token_keep = htole32(V3F_TOK_ALIVE + 2);
	fit(&d);
	good &= expect(decode(&d), SPATTEN_HW_ERR_KEEP, "q_rows 1: alive + 2");
	ok(good, "ERR_KEEP: a chunk's token_keep above n_tok_alive + q_rows "
	   "(n_tok_alive + 1 with one new token)");
}

static void test_err_position(void)
{
	struct spatten_hw_desc_v3 d;
	int good;

	v3_desc(&d);
	d.q_start = htole32(V3_KV - V3_Q);
	good = expect(decode(&d), SPATTEN_HW_OK, "q_end == kv_rows");
	d.q_start = htole32(V3_KV - V3_Q + 1);
	good &= expect(decode(&d), SPATTEN_HW_ERR_POSITION, "q_end kv+1");
	ok(good, "ERR_POSITION: causal q_start + q_rows == kv_rows + 1 "
	   "(== kv_rows decodes)");

	good = 1;
	v3_desc(&d);
	d.q_start = htole32(0xffffffffu);
	good &= expect(decode(&d), SPATTEN_HW_ERR_POSITION, "q_start ~0");
	/* 32-bit sums: q_start + q_rows == 2^32 (0) and 2^32 + 1000. */
	d.q_start = htole32((uint32_t)(0x100000000ull - V3_Q));
	good &= expect(decode(&d), SPATTEN_HW_ERR_POSITION, "sum 2^32");
	d.q_start = htole32((uint32_t)(0x100000000ull - V3_Q + 1000));
	good &= expect(decode(&d), SPATTEN_HW_ERR_POSITION, "sum 2^32+1000");
	/* Its low 16 bits alone (1) would be fine. */
	d.q_start = htole32(0x10000u * 0x100 + 1);
	good &= expect(decode(&d), SPATTEN_HW_ERR_POSITION, "q_start 2^24+1");
	ok(good, "ERR_POSITION: causal q_start 0xffffffff, or q_start + q_rows "
	   "wrapping 32 bits (to 0, to 1000)");

	good = 1;
	v3_desc(&d);
	non_causal(&d);
	d.q_start = htole32(1);
	good &= expect(decode(&d), SPATTEN_HW_ERR_POSITION, "non-causal 1");
	d.q_start = htole32(0xffffffffu);
	good &= expect(decode(&d), SPATTEN_HW_ERR_POSITION, "non-causal ~0");
	ok(good, "ERR_POSITION: non-causal q_start 1 or 0xffffffff");

	/* Non-causal: query row i is slot i, so it needs q_rows <= kv_rows. */
	v3_desc(&d);
	non_causal(&d);
	d.flags |= htole16(SPATTEN_DESC_F_ROPE_POSITIONS);
	present(&d, SPE_PLANE_POSITIONS);
	d.q_rows = htole32(V3_KV);
	fit(&d);
	good = expect(decode(&d), SPATTEN_HW_OK, "positions q_rows == kv");
	d.q_rows = htole32(V3_KV + 1);
	fit(&d);
	good &= expect(decode(&d), SPATTEN_HW_ERR_POSITION, "positions kv+1");
	rope_slots(&d);
	good &= expect(decode(&d), SPATTEN_HW_OK, "no positions kv+1");
	ok(good, "ERR_POSITION: ROPE_POSITIONS, non-causal, q_rows > kv_rows "
	   "(== kv_rows, or without the position list, decodes)");

	good = 1;
	v3_full(&d);
	d.q_start = htole32(V3_KV - 2);
	good &= expect(decode(&d), SPATTEN_HW_ERR_POSITION, "gen kv-2");
	d.q_start = htole32(V3_KV - 1 - 0x10000);
	good &= expect(decode(&d), SPATTEN_HW_ERR_POSITION, "gen kv-1-2^16");
	ok(good, "ERR_POSITION: v3 generation with q_start != kv_rows - 1");

	/* Summarization over a token subset: query row i is token i. */
	v3_full(&d);
	d.stage = SPATTEN_STAGE_SUMMARIZATION;
	d.q_start = 0;
	d.q_rows = htole32(V3_KV);
	fit(&d);
	good = expect(decode(&d), SPATTEN_HW_OK, "token subset");
	d.q_rows = htole32(V3_KV - 1);
	fit(&d);
	good &= expect(decode(&d), SPATTEN_HW_ERR_POSITION, "q_rows kv-1");
	d.q_start = htole32(1);
	good &= expect(decode(&d), SPATTEN_HW_ERR_POSITION, "q_start 1");
	ok(good, "ERR_POSITION: v3 summarization with token pruning and "
	   "q_rows != kv_rows or q_start != 0");
}

static void test_err_format(void)
{
	static const uint8_t bad_fmts[] = { SPATTEN_FMT_NUM, 31, 255 };
	struct spatten_hw_desc_v3 d;
	struct spe_caps saved = caps;
	size_t fmt_off[] = {
		offsetof(struct spatten_hw_desc_v3, q_fmt),
		offsetof(struct spatten_hw_desc_v3, k_fmt),
		offsetof(struct spatten_hw_desc_v3, v_fmt),
		offsetof(struct spatten_hw_desc_v3, out_fmt),
	};
	int good = 1;
	size_t i, j;

	for (i = 0; i < 4; i++) {
		for (j = 0; j < sizeof(bad_fmts); j++) {
			v3_desc(&d);
			((uint8_t *)&d)[fmt_off[i]] = bad_fmts[j];
			good &= expect(decode(&d), SPATTEN_HW_ERR_FORMAT,
				       "fmt");
		}
		v3_desc(&d);
		((uint8_t *)&d)[fmt_off[i] + 1] = 15;
		good &= expect(decode(&d), SPATTEN_HW_OK, "frac 15");
		((uint8_t *)&d)[fmt_off[i] + 1] = 16;
		good &= expect(decode(&d), SPATTEN_HW_ERR_FORMAT, "frac 16");
	}
	ok(good, "ERR_FORMAT: v3 unknown q/k/v/out format or frac 16 "
	   "(frac 15 decodes)");

	good = 1;
	v3_desc(&d);
	d.q_fmt = SPATTEN_FMT_S8;
	fit(&d);
	good &= expect(decode(&d), SPATTEN_HW_ERR_FORMAT, "Q S8");
	v3_desc(&d);
	d.out_fmt = SPATTEN_FMT_S12;
	fit(&d);
	good &= expect(decode(&d), SPATTEN_HW_ERR_FORMAT, "out S12");
	v3_desc(&d);
	d.k_fmt = SPATTEN_FMT_S16;
	fit(&d);
	good &= expect(decode(&d), SPATTEN_HW_ERR_FORMAT, "PROG S16 K");
	v3_desc(&d);
	caps.splits &= ~(1u << 8);
	good &= expect(decode(&d), SPATTEN_HW_ERR_FORMAT, "split 8");
	caps = saved;
	ok(good, "ERR_FORMAT: v3 Q or out not S16, PROGRESSIVE with S16 K or "
	   "a split not in caps");
}

/* The generation job of v3_full() with @kv rows (32-bit count tests). */
static void v3_full_kv(struct spatten_hw_desc_v3 *d, uint32_t kv)
{
	v3_full(d);
	d->kv_rows = htole32(kv);
	d->q_start = htole32(kv - 1);
	d->value_keep = htole32(kv / 2);
	d->n_tok_alive = htole32(kv / 2);
	d->token_keep = htole32(kv / 4);
	fit(d);
}

static void test_err_keep(void)
{
	struct spatten_hw_desc_v3 d;
	int good;

#define KEEP_W(w, mk, field, value, want, what) do {			\
		mk;							\
		d.field = htole##w(value);				\
		fit(&d);						\
		good &= expect(decode(&d), want, what);			\
	} while (0)
#define KEEP(mk, field, value, want, what)				\
	KEEP_W(32, mk, field, value, want, what)
#define KEEP16(mk, field, value, want, what)				\
	KEEP_W(16, mk, field, value, want, what)
	good = 1;
	KEEP(v3_full(&d), n_tok_alive, V3_KV, SPATTEN_HW_OK, "tok_alive kv");
	KEEP(v3_full(&d), n_tok_alive, V3_KV + 1, SPATTEN_HW_ERR_KEEP, "kv+1");
	KEEP(v3_full(&d), n_tok_alive, 0xffffffffu, SPATTEN_HW_ERR_KEEP, "~0");
	KEEP(v3_full_kv(&d, 1000), n_tok_alive, 0x10000 + 500,
	     SPATTEN_HW_ERR_KEEP, "tok_alive 2^16 + 500 of 1000");
	ok(good, "ERR_KEEP: n_tok_alive kv_rows + 1, 0xffffffff, 65536 + 500 "
	   "of 1000 rows (kv_rows decodes)");

	good = 1;
	KEEP(v3_full(&d), n_pinned, V3_KV, SPATTEN_HW_OK, "pinned kv");
	KEEP(v3_full(&d), n_pinned, V3_KV + 1, SPATTEN_HW_ERR_KEEP, "kv+1");
	KEEP(v3_full(&d), n_pinned, 0xffffffffu, SPATTEN_HW_ERR_KEEP, "~0");
	KEEP(v3_full_kv(&d, 1000), n_pinned, 0x10000 + 3, SPATTEN_HW_ERR_KEEP,
	     "pinned 2^16 + 3 of 1000");
	ok(good, "ERR_KEEP: n_pinned kv_rows + 1, 0xffffffff, 65536 + 3 of "
	   "1000 rows (kv_rows decodes)");

	good = 1;
	KEEP(v3_full(&d), token_keep, V3F_TOK_ALIVE + 1, SPATTEN_HW_OK,
	     "token_keep alive+1");
	KEEP(v3_full(&d), token_keep, V3F_TOK_ALIVE + 2, SPATTEN_HW_ERR_KEEP,
	     "token_keep alive+2");
	KEEP(v3_full(&d), token_keep, 0xffffffffu, SPATTEN_HW_ERR_KEEP, "~0");
	KEEP(v3_full_kv(&d, 1000), token_keep, 0x10000 + 5,
	     SPATTEN_HW_ERR_KEEP, "token_keep 2^16 + 5");
	v3_full(&d);
	d.n_tok_alive = 0;
	absent(&d, SPE_PLANE_TOK_ALIVE);
	KEEP((void)0, token_keep, V3_KV, SPATTEN_HW_OK, "token_keep kv");
	KEEP((void)0, token_keep, V3_KV + 1, SPATTEN_HW_ERR_KEEP, "kv+1");
	ok(good, "ERR_KEEP: token_keep above n_tok_alive + 1 (or kv_rows "
	   "without a list), 0xffffffff, 65536 + 5 (the limits decode)");

	good = 1;
	KEEP(v3_full(&d), value_keep, V3_KV, SPATTEN_HW_OK, "value_keep kv");
	KEEP(v3_full(&d), value_keep, V3_KV + 1, SPATTEN_HW_ERR_KEEP, "kv+1");
	KEEP(v3_full(&d), value_keep, 0xffffffffu, SPATTEN_HW_ERR_KEEP, "~0");
	KEEP(v3_full_kv(&d, 1000), value_keep, 0x10000 + 10,
	     SPATTEN_HW_ERR_KEEP, "value_keep 2^16 + 10");
	ok(good, "ERR_KEEP: value_keep kv_rows + 1, 0xffffffff, 65536 + 10 of "
	   "1000 rows (kv_rows decodes)");

	good = 1;
	KEEP16(v3_full(&d), n_head_alive, V3_H, SPATTEN_HW_OK, "alive 8");
	KEEP16(v3_full(&d), n_head_alive, V3_H + 1, SPATTEN_HW_ERR_KEEP,
	     "alive 9");
	KEEP16(v3_full(&d), head_keep, 6, SPATTEN_HW_OK, "head_keep alive");
	KEEP16(v3_full(&d), head_keep, 7, SPATTEN_HW_ERR_KEEP, "head_keep 7");
	KEEP16(v3_full(&d), head_keep, 0xffff, SPATTEN_HW_ERR_KEEP, "0xffff");
	ok(good, "ERR_KEEP: n_head_alive above n_heads (query heads), "
	   "head_keep above n_head_alive");

	good = 1;
	KEEP16(v3_full(&d), lsb_threshold, PROB_ONE, SPATTEN_HW_OK,
	     "threshold 2^15");
	KEEP16(v3_full(&d), lsb_threshold, PROB_ONE + 1,
	     SPATTEN_HW_ERR_KEEP, "threshold 2^15 + 1");
	v3_full(&d);
	d.token_keep = 0;
	absent(&d, SPE_PLANE_TOK_KEPT);
	good &= expect(decode(&d), SPATTEN_HW_ERR_KEEP, "pinned, no keep");
	ok(good, "ERR_KEEP: v3 lsb_threshold above 2^15; pinned without "
	   "token_keep");
#undef KEEP16
#undef KEEP
#undef KEEP_W
}

static void test_err_layout(void)
{
	static const uint32_t bad_rows[] = { 3, 100, 257, 0x80000001u,
					     0xffffffffu };
	/* 2^31 is a power of two too, but a whole block of 2^31 rows does
	 * not fit a 32-bit buffer length: ERR_BUFFER, not ERR_LAYOUT */
	static const uint32_t good_rows[] = { 1, 2, 4096 };
	struct spatten_hw_desc_v3 d;
	int good;
	size_t i;

	v3_desc(&d);
	set_layout(&d, V3_HS, 0, 0, 0);
	ok(decode(&d) == SPATTEN_HW_ERR_LAYOUT,
	   "ERR_LAYOUT: row stride 0 with the head stride set (not paged)");

	v3_desc(&d);
	d.kv_row_stride = 0;
	good = expect(decode(&d), SPATTEN_HW_ERR_LAYOUT, "paged rs 0");
	v3_desc(&d);
	set_layout(&d, 0, 0, 0, V3_BLK);
	good &= expect(decode(&d), SPATTEN_HW_ERR_LAYOUT, "block rows only");
	v3_desc(&d);
	set_layout(&d, 0, 0, V3_BS, V3_BLK);
	good &= expect(decode(&d), SPATTEN_HW_ERR_LAYOUT, "blocks, no strides");
	ok(good, "ERR_LAYOUT: paged with row stride 0, or with all strides 0");

	good = 1;
	v3_desc(&d);
	d.kv_head_stride = 0;
	good &= expect(decode(&d), SPATTEN_HW_ERR_LAYOUT, "paged hs 0");
	set_layout(&d, 0, 1, 0, 0);
	good &= expect(decode(&d), SPATTEN_HW_ERR_LAYOUT, "not paged hs 0");
	d.n_kv_heads = htole16(1);
	fit(&d);
	good &= expect(decode(&d), SPATTEN_HW_OK, "one KV head, hs 0");
	ok(good, "ERR_LAYOUT: head stride 0 with n_kv_heads 2 (paged or not; "
	   "one KV head decodes)");

	v3_desc(&d);
	set_layout(&d, V3_HS, V3_RS, V3_BS, 0);
	ok(decode(&d) == SPATTEN_HW_ERR_LAYOUT,
	   "ERR_LAYOUT: block stride without block rows");

	good = 1;
	for (i = 0; i < sizeof(bad_rows) / sizeof(bad_rows[0]); i++) {
		v3_desc(&d);
		set_layout(&d, V3_HS, V3_RS, V3_BS, bad_rows[i]);
		good &= expect(decode(&d), SPATTEN_HW_ERR_LAYOUT, "block rows");
	}
	for (i = 0; i < sizeof(good_rows) / sizeof(good_rows[0]); i++) {
		v3_desc(&d);
		set_layout(&d, V3_HS, V3_RS, V3_BS, good_rows[i]);
		good &= expect(decode(&d), SPATTEN_HW_OK, "block rows pow2");
	}
	ok(good, "ERR_LAYOUT: block rows 3, 100, 257, 2^31 + 1, 0xffffffff "
	   "(not powers of two; 1, 2, 4096 decode)");

	v3_desc(&d);
	d.kv_block_stride = 0;
	ok(decode(&d) == SPATTEN_HW_ERR_LAYOUT,
	   "ERR_LAYOUT: paged without a block stride");
}

static void test_err_param(void)
{
	static const uint32_t negative[] = { 0xbe800000u, 0x80000000u,
					     0xff7fffffu, 0x80000001u };
	static const uint32_t denormal[] = { 0x00000001u, 0x00400000u,
					     0x007fffffu };
	static const uint32_t inf[] = { 0x7f800000u, 0xff800000u };
	static const uint32_t nan[] = { 0x7fc00000u, 0x7f800001u, 0x7fffffffu,
					0xffc00000u };
	/* q_frac + k_frac = 23: the smallest scale that stays normal in
	 * score units is 2^-103 (biased exponent 24) */
	static const uint32_t fine[] = { 0, 0x0c000000u, 0x3f800000u,
					 0x7f7fffffu };
	static const uint32_t underflow[] = { 0x00800000u, 0x0b800000u,
					      0x0bffffffu };
	static const uint32_t bad_base[] = { 0, 1, 0x80000001u, 0xffffffffu };
	static const uint32_t stray_base[] = { 1, 2, 10000, 0xffffffffu };
	struct spatten_hw_desc_v3 d;
	int good;
	size_t i;

#define SCALES(list, want, what) do {					\
		for (i = 0; i < sizeof(list) / sizeof(list[0]); i++) {	\
			v3_desc(&d);					\
			d.score_scale = htole32(list[i]);		\
			good &= expect(decode(&d), want, what);		\
		}							\
	} while (0)
	good = 1;
	SCALES(negative, SPATTEN_HW_ERR_PARAM, "negative");
	ok(good, "ERR_PARAM: score_scale negative (-0.25, -0, -FLT_MAX, "
	   "negative denormal)");
	good = 1;
	SCALES(denormal, SPATTEN_HW_ERR_PARAM, "denormal");
	ok(good, "ERR_PARAM: score_scale with a zero exponent (denormals)");
	good = 1;
	SCALES(inf, SPATTEN_HW_ERR_PARAM, "inf");
	ok(good, "ERR_PARAM: score_scale +inf or -inf");
	good = 1;
	SCALES(nan, SPATTEN_HW_ERR_PARAM, "NaN");
	ok(good, "ERR_PARAM: score_scale NaN (quiet, signalling, negative)");
	good = 1;
	SCALES(fine, SPATTEN_HW_OK, "fine");
	ok(good, "score_scale 0 (default), 2^-103, 1.0, FLT_MAX decode");
	good = 1;
	SCALES(underflow, SPATTEN_HW_ERR_PARAM, "underflow");
	ok(good, "ERR_PARAM: score_scale x 2^-(q_frac + k_frac) below FLT_MIN "
	   "(FLT_MIN, 2^-104, just under 2^-103)");
#undef SCALES

	good = 1;
	for (i = 0; i < sizeof(bad_base) / sizeof(bad_base[0]); i++) {
		v3_desc(&d);
		d.rope_base = htole32(bad_base[i]);
		good &= expect(decode(&d), SPATTEN_HW_ERR_PARAM, "rope_base");
		rope_slots(&d);
		good &= expect(decode(&d), SPATTEN_HW_ERR_PARAM, "rope_base");
	}
	v3_desc(&d);
	d.rope_base = htole32(2);
	good &= expect(decode(&d), SPATTEN_HW_OK, "rope_base 2");
	d.rope_base = htole32(0x80000000u);
	good &= expect(decode(&d), SPATTEN_HW_OK, "rope_base 2^31");
	ok(good, "ERR_PARAM: rope_base 0, 1, 2^31 + 1, 0xffffffff with ROPE "
	   "(2 and 2^31 decode)");

	good = 1;
	for (i = 0; i < sizeof(stray_base) / sizeof(stray_base[0]); i++) {
		v3_desc(&d);
		no_rope(&d);
		good &= expect(decode(&d), SPATTEN_HW_OK, "no rope, base 0");
		d.rope_base = htole32(stray_base[i]);
		good &= expect(decode(&d), SPATTEN_HW_ERR_PARAM, "stray base");
	}
	ok(good, "ERR_PARAM: rope_base 1, 2, 10000, 0xffffffff without ROPE "
	   "(0 decodes)");
}

/* K, K-LSB and V against the rows of one KV layout. */
static void kv_planes_short(const char *layout, uint32_t hs, uint32_t rs,
			    uint32_t bs, uint32_t br, uint32_t kv,
			    uint64_t want_rows)
{
	static const int planes[] = {
		SPE_PLANE_K_MSB, SPE_PLANE_K_LSB, SPE_PLANE_V,
	};
	struct spatten_hw_desc_v3 d;
	uint32_t row_bytes;
	size_t i;
	int good;

	for (i = 0; i < 3; i++) {
		int p = planes[i];

		v3_desc(&d);
		d.kv_rows = htole32(kv);
		d.q_start = htole32(kv - V3_Q);
		set_layout(&d, hs, rs, bs, br);
		good = kv_plane_rows(&d) == want_rows;
		if (!good)
			diag("%s: the test's own rows %llu != %llu", layout,
			     (unsigned long long)kv_plane_rows(&d),
			     (unsigned long long)want_rows);
		row_bytes = V3_D * (p == SPE_PLANE_K_MSB ? 8 :
				    p == SPE_PLANE_K_LSB ? 4 : 12) / 8;
		good &= le32toh(ref(&d, p)->len) == want_rows * row_bytes;
		good &= expect(decode(&d), SPATTEN_HW_OK, "exact");
		ref(&d, p)->len = htole32(want_rows * row_bytes - 1);
		good &= expect(decode(&d), SPATTEN_HW_ERR_BUFFER, "one short");
		ok(good, "ERR_BUFFER: %s one byte short of %llu rows x %u "
		   "bytes (%s)", plane_name[p], (unsigned long long)want_rows,
		   row_bytes, layout);
	}
}

static void test_err_buffer_kv(void)
{
	const uint32_t cap = V3_KV + 1000;	/* slots per head */

	kv_planes_short("packed", 0, 0, 0, 0, V3_KV, (uint64_t)V3_G * V3_KV);
	kv_planes_short("head-major with capacity", cap, 1, 0, 0, V3_KV,
			(uint64_t)(V3_G - 1) * cap + V3_KV);
	kv_planes_short("token-major", 1, V3_G, 0, 0, V3_KV,
			(uint64_t)V3_G * V3_KV);
	kv_planes_short("paged: block 0", V3_HS, V3_RS, V3_BS, V3_BLK, V3_KV,
			(V3_G - 1) * V3_HS + (V3_BLK - 1) * V3_RS + 1);
	/*
	 * Every listed block must hold a whole block (ERR_BLOCK at run
	 * time), so decode asks for a whole block 0 even when the job's
	 * slots end inside it.
	 */
	kv_planes_short("paged, kv_rows < block rows",
			V3_HS, V3_RS, V3_BS, 0x40000, V3_KV,
			(V3_G - 1) * V3_HS + (uint64_t)(0x40000 - 1) * V3_RS + 1);
}

/*
 * A layout whose buffer size does not fit in 64 bits must not wrap to a
 * small need (which a 32-bit length would then pass): the shared helper
 * saturates, in its sum and in its product.
 */
static void test_kv_size_saturates(void)
{
	const uint64_t max = ~(uint64_t)0;

	ok(spatten_hw_kv_plane_bytes(2, 0x80000000u, 0x80000000u,
				     0x80000000u, 0, 256) == max &&
	   spatten_hw_kv_plane_bytes(65535, 0xffffffffu, 0xffffffffu,
				     0xffffffffu, 0, 1) == max &&
	   spatten_hw_kv_plane_rows(65535, 0xffffffffu, 0xffffffffu,
				    0xffffffffu, 0) == max &&
	   spatten_hw_kv_plane_bytes(2, 1u << 25, 1, 1u << 31, 0, 64) ==
	   (((uint64_t)(1u << 25) - 1) * (1u << 31) + 2) * 64,
	   "KV buffer sizes saturate at 2^64 - 1 instead of wrapping "
	   "(and are exact below)");
}

/*
 * SPATTEN_DESC_F_HEAD_FRACS: a u8 table of 2 * (n_heads + n_kv_heads)
 * fractions, present exactly with the flag; the job's own fractions are
 * then 0 (ERR_FORMAT).
 */
static void test_head_fracs(void)
{
	struct spatten_hw_desc_v3 d;
	struct spe_job job;
	uint32_t need = 2 * (8 + V3_G);
	int good = 1;

	v3_desc(&d);
	d.flags |= htole16(SPATTEN_DESC_F_HEAD_FRACS);
	d.q_frac = d.k_frac = d.v_frac = d.out_frac = 0;
	ref(&d, SPE_PLANE_HEAD_FRACS)->addr = htole64(0x7000000);
	ref(&d, SPE_PLANE_HEAD_FRACS)->len = htole32(need);
	good &= expect(decode_exact(&d, sizeof(d), &job), SPATTEN_HW_OK,
		       "table");
	good &= job.buf[SPE_PLANE_HEAD_FRACS].len == need;
	ref(&d, SPE_PLANE_HEAD_FRACS)->len = htole32(need - 1);
	good &= expect(decode(&d), SPATTEN_HW_ERR_BUFFER, "one short");
	ref(&d, SPE_PLANE_HEAD_FRACS)->len = htole32(need);
	d.out_frac = 3;
	good &= expect(decode(&d), SPATTEN_HW_ERR_FORMAT, "out_frac set");
	d.out_frac = 0;
	absent(&d, SPE_PLANE_HEAD_FRACS);
	good &= expect(decode(&d), SPATTEN_HW_ERR_BUFFER, "flag, no table");
	v3_desc(&d);
	ref(&d, SPE_PLANE_HEAD_FRACS)->addr = htole64(0x7000000);
	ref(&d, SPE_PLANE_HEAD_FRACS)->len = htole32(need);
	good &= expect(decode(&d), SPATTEN_HW_ERR_BUFFER, "table, no flag");
	ok(good, "F_HEAD_FRACS: a table of 2 * (n_heads + n_kv_heads) bytes "
	   "exactly with the flag, the job's fractions 0 (ERR_FORMAT)");
}

static void test_err_buffer_block_table(void)
{
	struct spatten_hw_desc_v3 d;
	int good;

	/* 140000 / 256: 547 entries, the last one partial. */
	v3_desc(&d);
	good = le32toh(d.block_table.len) == 547 * 4;
	d.block_table.len = htole32(547 * 4 - 1);
	good &= expect(decode(&d), SPATTEN_HW_ERR_BUFFER, "547 - 1 byte");
	d.block_table.len = htole32(546 * 4);
	good &= expect(decode(&d), SPATTEN_HW_ERR_BUFFER, "546 entries");
	d.kv_rows = htole32(546 * V3_BLK);
	d.q_start = htole32(546 * V3_BLK - V3_Q);
	fit(&d);
	good &= expect(decode(&d), SPATTEN_HW_OK, "546 whole blocks");
	d.block_table.len = htole32(546 * 4 - 1);
	good &= expect(decode(&d), SPATTEN_HW_ERR_BUFFER, "546 - 1 byte");
	ok(good, "ERR_BUFFER: block table one byte short of ceil(kv_rows / "
	   "kv_block_rows) u32 entries");

	v3_desc(&d);
	absent(&d, SPE_PLANE_BLOCK_TABLE);
	ok(decode(&d) == SPATTEN_HW_ERR_BUFFER,
	   "ERR_BUFFER: block table absent when paged");

	v3_desc(&d);
	set_layout(&d, V3_HS, V3_RS, 0, 0);
	good = expect(decode(&d), SPATTEN_HW_OK, "strided");
	present(&d, SPE_PLANE_BLOCK_TABLE);
	d.block_table.len = htole32(64);
	good &= expect(decode(&d), SPATTEN_HW_ERR_BUFFER, "table, not paged");
	ok(good, "ERR_BUFFER: block table present when not paged");
}

static void test_err_buffer_positions(void)
{
	struct spatten_hw_desc_v3 d;
	int good;

	v3_desc(&d);
	good = le32toh(d.positions.len) == V3_KV * 4;
	d.positions.len = htole32(V3_KV * 4 - 1);
	good &= expect(decode(&d), SPATTEN_HW_ERR_BUFFER, "short");
	d.positions.len = htole32(V3_KV * 2);		/* u16 entries */
	good &= expect(decode(&d), SPATTEN_HW_ERR_BUFFER, "u16-sized");
	ok(good, "ERR_BUFFER: positions one byte short of kv_rows u32 entries");

	v3_desc(&d);
	absent(&d, SPE_PLANE_POSITIONS);
	ok(decode(&d) == SPATTEN_HW_ERR_BUFFER,
	   "ERR_BUFFER: positions absent with ROPE_POSITIONS");

	good = 1;
	v3_desc(&d);
	clear_flags(&d, SPATTEN_DESC_F_ROPE_POSITIONS);
	good &= expect(decode(&d), SPATTEN_HW_ERR_BUFFER, "ROPE only");
	no_rope(&d);
	present(&d, SPE_PLANE_POSITIONS);
	good &= expect(decode(&d), SPATTEN_HW_ERR_BUFFER, "no ROPE");
	ok(good, "ERR_BUFFER: positions present without ROPE_POSITIONS "
	   "(with ROPE alone, or without ROPE)");
}

static void test_err_buffer_lists(void)
{
	static const int lists[] = {
		SPE_PLANE_TOK_ALIVE, SPE_PLANE_TOK_KEPT, SPE_PLANE_PINNED,
		SPE_PLANE_HEAD_ALIVE, SPE_PLANE_HEAD_KEPT,
	};
	static const int others[] = {
		SPE_PLANE_Q, SPE_PLANE_OUT, SPE_PLANE_TOK_IMP,
		SPE_PLANE_HEAD_IMP,
	};
	static const char *const what[] = {
		"[n_heads][q_rows][head_dim] S16",
		"[n_heads][q_rows][head_dim] S16",
		"u64[kv_rows]", "u64[n_heads] (query heads, not KV heads)",
	};
	struct spatten_hw_desc_v3 d;
	uint32_t n;
	size_t i;
	int good;

	for (i = 0; i < sizeof(lists) / sizeof(lists[0]); i++) {
		int p = lists[i];

		v3_full(&d);
		n = le32toh(ref(&d, p)->len);
		good = n == need(&d, p) && n % 4 == 0;
		good &= expect(decode(&d), SPATTEN_HW_OK, "exact");
		ref(&d, p)->len = htole32(n - 1);
		good &= expect(decode(&d), SPATTEN_HW_ERR_BUFFER, "one short");
		ref(&d, p)->len = htole32(n / 2);	/* v2's u16 entries */
		good &= expect(decode(&d), SPATTEN_HW_ERR_BUFFER, "u16-sized");
		absent(&d, p);
		good &= expect(decode(&d), SPATTEN_HW_ERR_BUFFER, "absent");
		ok(good, "ERR_BUFFER: u32 list %s one byte short (or sized for "
		   "u16 entries, or absent)", plane_name[p]);
	}

	for (i = 0; i < sizeof(others) / sizeof(others[0]); i++) {
		int p = others[i];

		v3_full(&d);
		n = le32toh(ref(&d, p)->len);
		good = n == need(&d, p);
		ref(&d, p)->len = htole32(n - 1);
		good &= expect(decode(&d), SPATTEN_HW_ERR_BUFFER, "one short");
		ok(good, "ERR_BUFFER: %s one byte short of %s (%u bytes)",
		   plane_name[p], what[i], n);
	}

	good = 1;
	v3_full(&d);
	d.n_head_alive = 0;
	good &= expect(decode(&d), SPATTEN_HW_ERR_BUFFER, "head_alive");
	v3_full(&d);
	d.n_pinned = 0;
	good &= expect(decode(&d), SPATTEN_HW_ERR_BUFFER, "pinned");
	v3_full(&d);
	clear_flags(&d, SPATTEN_DESC_F_PROGRESSIVE);
	good &= expect(decode(&d), SPATTEN_HW_ERR_BUFFER, "k_lsb");
	absent(&d, SPE_PLANE_K_LSB);
	good &= expect(decode(&d), SPATTEN_HW_OK, "no k_lsb");
	ok(good, "ERR_BUFFER: a v3 list or K-LSB present without its count "
	   "or flag");
}

/* ---- 3. Check order ----------------------------------------------------- */

enum brk {
	B_VERSION, B_OPCODE, B_FLAG_BIT, B_POS_NO_ROPE, B_RSVD5, B_RSVD4,
	B_N_KV, B_NO_GQA, B_NO_LAYOUT, B_NO_ROPE, B_Q_START, B_K_FRAC,
	B_VALUE_KEEP, B_BLOCK_ROWS, B_ROPE_BASE, B_SCALE, B_K_SHORT,
	B_POSITIONS,
};

static const char *const brk_name[] = {
	"caps without DESC_V3", "opcode 9", "flag bit 4",
	"ROPE_POSITIONS without ROPE", "rsvd5", "rsvd4", "n_kv_heads 3",
	"caps without GQA", "caps without KV_LAYOUT", "caps without ROPE",
	"q_start 0xffffffff", "k_frac 16", "value_keep kv+1",
	"block rows 3", "rope_base 1", "score_scale NaN", "K short",
	"positions absent",
};

static void brk_apply(struct spatten_hw_desc_v3 *d, enum brk b)
{
	switch (b) {
	case B_VERSION:
		caps.features &= ~SPATTEN_FEAT_DESC_V3;
		break;
	case B_OPCODE:
		d->opcode = htole16(9);
		break;
	case B_FLAG_BIT:	/* the lowest flag bit version 3 lacks */
		d->flags |= htole16((SPATTEN_DESC_F_ALL_V3 + 1) &
				    ~SPATTEN_DESC_F_ALL_V3);
		break;
	case B_POS_NO_ROPE:
		clear_flags(d, SPATTEN_DESC_F_ROPE);
		break;
	case B_RSVD5:
		d->rsvd5[sizeof(d->rsvd5) - 1] = 1;
		break;
	case B_RSVD4:
		d->rsvd4[6] = htole32(1);
		break;
	case B_N_KV:
		d->n_kv_heads = htole16(3);
		break;
	case B_NO_GQA:
		caps.features &= ~SPATTEN_FEAT_GQA;
		break;
	case B_NO_LAYOUT:
		caps.features &= ~SPATTEN_FEAT_KV_LAYOUT;
		break;
	case B_NO_ROPE:
		caps.features &= ~SPATTEN_FEAT_ROPE;
		break;
	case B_Q_START:
		d->q_start = htole32(0xffffffffu);
		break;
	case B_K_FRAC:
		d->k_frac = 16;
		break;
	case B_VALUE_KEEP:
		d->value_keep = htole32(V3_KV + 1);
		break;
	case B_BLOCK_ROWS:
		d->kv_block_rows = htole32(3);
		break;
	case B_ROPE_BASE:
		d->rope_base = htole32(1);
		break;
	case B_SCALE:
		d->score_scale = htole32(0x7fc00000u);
		break;
	case B_K_SHORT:
		d->k.len = htole32(le32toh(d->k.len) - 1);
		break;
	case B_POSITIONS:
		absent(d, SPE_PLANE_POSITIONS);
		break;
	}
}

static void test_check_order(void)
{
	static const struct {
		enum brk first, second;
		int want;
	} pairs[] = {
		{ B_VERSION, B_OPCODE, SPATTEN_HW_ERR_VERSION },
		{ B_VERSION, B_RSVD5, SPATTEN_HW_ERR_VERSION },
		{ B_OPCODE, B_FLAG_BIT, SPATTEN_HW_ERR_OPCODE },
		{ B_OPCODE, B_RSVD4, SPATTEN_HW_ERR_OPCODE },
		{ B_FLAG_BIT, B_RSVD5, SPATTEN_HW_ERR_FLAGS },
		{ B_RSVD5, B_N_KV, SPATTEN_HW_ERR_RESERVED },
		{ B_RSVD4, B_POS_NO_ROPE, SPATTEN_HW_ERR_RESERVED },
		{ B_RSVD4, B_NO_GQA, SPATTEN_HW_ERR_RESERVED },
		{ B_N_KV, B_NO_ROPE, SPATTEN_HW_ERR_SHAPE },
		{ B_N_KV, B_POS_NO_ROPE, SPATTEN_HW_ERR_SHAPE },
		{ B_N_KV, B_Q_START, SPATTEN_HW_ERR_SHAPE },
		{ B_NO_GQA, B_Q_START, SPATTEN_HW_ERR_FLAGS },
		{ B_POS_NO_ROPE, B_Q_START, SPATTEN_HW_ERR_FLAGS },
		{ B_NO_LAYOUT, B_BLOCK_ROWS, SPATTEN_HW_ERR_FLAGS },
		{ B_NO_ROPE, B_ROPE_BASE, SPATTEN_HW_ERR_FLAGS },
		{ B_Q_START, B_K_FRAC, SPATTEN_HW_ERR_POSITION },
		{ B_Q_START, B_BLOCK_ROWS, SPATTEN_HW_ERR_POSITION },
		{ B_K_FRAC, B_VALUE_KEEP, SPATTEN_HW_ERR_FORMAT },
		{ B_VALUE_KEEP, B_BLOCK_ROWS, SPATTEN_HW_ERR_KEEP },
		{ B_VALUE_KEEP, B_SCALE, SPATTEN_HW_ERR_KEEP },
		{ B_BLOCK_ROWS, B_ROPE_BASE, SPATTEN_HW_ERR_LAYOUT },
		{ B_BLOCK_ROWS, B_K_SHORT, SPATTEN_HW_ERR_LAYOUT },
		{ B_SCALE, B_K_SHORT, SPATTEN_HW_ERR_PARAM },
		{ B_ROPE_BASE, B_POSITIONS, SPATTEN_HW_ERR_PARAM },
	};
	struct spatten_hw_desc_v3 d;
	struct spe_caps saved = caps;
	int good = 1;
	size_t i;

	for (i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++) {
		int got;

		v3_desc(&d);
		brk_apply(&d, pairs[i].first);
		brk_apply(&d, pairs[i].second);
		got = decode(&d);
		caps = saved;
		if (got != pairs[i].want) {
			diag("%s + %s: got status %d, want %d",
			     brk_name[pairs[i].first],
			     brk_name[pairs[i].second], got, pairs[i].want);
			good = 0;
		}
	}
	ok(good, "v3 checks run in the documented order (%zu pairs): version, "
	   "opcode, flags, reserved, shape, features, position, format, keep, "
	   "layout, params, buffers", sizeof(pairs) / sizeof(pairs[0]));

	/* Each breakage alone gives its own status (the pairs mean it). */
	good = 1;
	for (i = 0; i <= B_POSITIONS; i++) {
		static const int alone[] = {
			[B_VERSION] = SPATTEN_HW_ERR_VERSION,
			[B_OPCODE] = SPATTEN_HW_ERR_OPCODE,
			[B_FLAG_BIT] = SPATTEN_HW_ERR_FLAGS,
			[B_POS_NO_ROPE] = SPATTEN_HW_ERR_FLAGS,
			[B_RSVD5] = SPATTEN_HW_ERR_RESERVED,
			[B_RSVD4] = SPATTEN_HW_ERR_RESERVED,
			[B_N_KV] = SPATTEN_HW_ERR_SHAPE,
			[B_NO_GQA] = SPATTEN_HW_ERR_FLAGS,
			[B_NO_LAYOUT] = SPATTEN_HW_ERR_FLAGS,
			[B_NO_ROPE] = SPATTEN_HW_ERR_FLAGS,
			[B_Q_START] = SPATTEN_HW_ERR_POSITION,
			[B_K_FRAC] = SPATTEN_HW_ERR_FORMAT,
			[B_VALUE_KEEP] = SPATTEN_HW_ERR_KEEP,
			[B_BLOCK_ROWS] = SPATTEN_HW_ERR_LAYOUT,
			[B_ROPE_BASE] = SPATTEN_HW_ERR_PARAM,
			[B_SCALE] = SPATTEN_HW_ERR_PARAM,
			[B_K_SHORT] = SPATTEN_HW_ERR_BUFFER,
			[B_POSITIONS] = SPATTEN_HW_ERR_BUFFER,
		};
		int got;

		v3_desc(&d);
		brk_apply(&d, i);
		got = decode(&d);
		caps = saved;
		if (got != alone[i]) {
			diag("%s alone: got status %d, want %d", brk_name[i],
			     got, alone[i]);
			good = 0;
		}
	}
	ok(good, "each breakage of the order table alone gives its own status");

	good = 1;
	nop_v3(&d);
	good &= expect(decode_in(&d, SPATTEN_DESC_SIZE), SPATTEN_HW_ERR_VERSION,
		       "NOP in 256");
	nop_v3(&d);
	d.opcode = htole16(7);
	d.rsvd5[0] = 1;
	good &= expect(decode(&d), SPATTEN_HW_ERR_OPCODE, "opcode>NOP bytes");
	ok(good, "v3 NOP: entry size before anything, opcode before its bytes");
}

/* ---- 4. Versions 1 and 2 in 512-byte entries ---------------------------- */

#define V2_H		4
#define V2_L		48
#define V2_D		64

static struct spatten_hw_buf *v2_ref(struct spatten_hw_desc *d, int plane)
{
	struct spatten_hw_buf *r[SPE_PLANE_COUNT_V2] = {
		&d->q, &d->k, &d->k_lsb, &d->v, &d->out, &d->tok_imp,
		&d->tok_alive, &d->tok_kept, &d->pinned, &d->head_imp,
		&d->head_alive, &d->head_kept,
	};

	return r[plane];
}

static const uint32_t v2_len[SPE_PLANE_COUNT_V2] = {
	[SPE_PLANE_Q] = V2_H * V2_L * V2_D * 2,
	[SPE_PLANE_K_MSB] = V2_H * V2_L * V2_D * 8 / 8,
	[SPE_PLANE_K_LSB] = V2_H * V2_L * V2_D * 4 / 8,
	[SPE_PLANE_V] = V2_H * V2_L * V2_D * 12 / 8,
	[SPE_PLANE_OUT] = V2_H * V2_L * V2_D * 2,
	[SPE_PLANE_TOK_IMP] = V2_L * 8,
	[SPE_PLANE_TOK_ALIVE] = 40 * 2,
	[SPE_PLANE_TOK_KEPT] = 20 * 2,
	[SPE_PLANE_PINNED] = 2 * 2,
	[SPE_PLANE_HEAD_IMP] = V2_H * 8,
	[SPE_PLANE_HEAD_ALIVE] = 3 * 2,
	[SPE_PLANE_HEAD_KEPT] = 2 * 2,
};

/* A valid version-2 job using every field (u16 lists). */
static void v2_desc(struct spatten_hw_desc *d)
{
	int p;

	memset(d, 0, sizeof(*d));
	d->opcode = htole16(SPATTEN_OP_ATTENTION);
	d->desc_size = htole16(SPATTEN_DESC_SIZE);
	d->version = 2;
	d->flags = htole16(SPATTEN_DESC_F_PROGRESSIVE);
	d->tag = htole32(0x2222);
	d->n_heads = htole16(V2_H);
	d->head_dim = htole16(V2_D);
	d->q_rows = htole16(V2_L);
	d->kv_rows = htole16(V2_L);
	d->k_fmt = SPATTEN_FMT_S8;
	d->v_fmt = SPATTEN_FMT_S12;
	d->q_frac = d->k_frac = d->v_frac = d->out_frac = 12;
	for (p = 0; p < SPE_PLANE_COUNT_V2; p++) {
		struct spe_buf b = { 0x1000000ull * (p + 1), v2_len[p], 0, 0 };

		desc_set_buf(v2_ref(d, p), &b);
	}
	d->n_tok_alive = htole16(40);
	d->token_keep = htole16(20);
	d->n_pinned = htole16(2);
	d->n_head_alive = htole16(3);
	d->head_keep = htole16(2);
	d->value_keep = htole16(10);
	d->lsb_threshold = htole16(1638);
	d->topk_seed = htole32(0xabcdef01);
}

/* A valid version-1 causal job: v2 fields (from 0x68) all zero. */
static void v1_desc(struct spatten_hw_desc *d)
{
	struct spe_buf q = { 0x10000000, 4 * 32 * 64 * 2, 0, 0 };
	struct spe_buf kv = { 0x20000000, 4 * 48 * 64 * 2, 0, 0 };
	struct spe_buf v = { 0x30000000, 4 * 48 * 64 * 2, 0, 0 };
	struct spe_buf out = { 0x40000000, 4 * 32 * 64 * 2, 0, 0 };

	memset(d, 0, sizeof(*d));
	d->opcode = htole16(SPATTEN_OP_ATTENTION);
	d->desc_size = htole16(SPATTEN_DESC_SIZE);
	d->version = 1;
	d->flags = htole16(SPATTEN_DESC_F_CAUSAL);
	d->tag = htole32(0x1111);
	d->n_heads = htole16(4);
	d->head_dim = htole16(64);
	d->q_rows = htole16(32);
	d->kv_rows = htole16(48);
	d->q_start = htole16(16);
	desc_set_buf(&d->q, &q);
	desc_set_buf(&d->k, &kv);
	desc_set_buf(&d->v, &v);
	desc_set_buf(&d->out, &out);
}

/* @d in a 512-byte entry whose bytes after 256 are @fill (or a pattern). */
static void in_entry(uint8_t *entry, const struct spatten_hw_desc *d,
		     int fill)
{
	size_t i;

	memcpy(entry, d, sizeof(*d));
	for (i = sizeof(*d); i < SPATTEN_SQE_SIZE_MAX; i++)
		entry[i] = fill >= 0 ? (uint8_t)fill : (uint8_t)(i * 37 + 11);
}

/* Decoded in 256 and in 512 (tail @fill): same status, same job. */
static int same_in_both(const struct spatten_hw_desc *d, int fill, int want,
			const char *what)
{
	uint8_t entry[SPATTEN_SQE_SIZE_MAX];
	struct spe_job a, b;
	int ra, rb;

	memset(&a, 0x11, sizeof(a));
	memset(&b, 0x77, sizeof(b));
	ra = spe_desc_decode(d, sizeof(*d), &caps, &a);
	in_entry(entry, d, fill);
	rb = spe_desc_decode(entry, sizeof(entry), &caps, &b);
	if (ra != want || rb != want || !job_eq(&a, &b)) {
		diag("%s (tail 0x%x): status %d in 256, %d in 512, want %d; "
		     "jobs %s", what, fill & 0xffff, ra, rb, want,
		     job_eq(&a, &b) ? "equal" : "differ");
		return 0;
	}
	return 1;
}

static void test_v1_v2_in_512(void)
{
	static const int fills[] = { 0, 0xff, 0xa5, -1 };
	struct spatten_hw_desc d;
	struct spe_job job;
	uint8_t entry[SPATTEN_SQE_SIZE_MAX];
	int good = 1, i;

	for (i = 0; i < 4; i++) {
		v2_desc(&d);
		good &= same_in_both(&d, fills[i], SPATTEN_HW_OK, "v2");
	}
	v2_desc(&d);
	in_entry(entry, &d, 0xff);
	good &= spe_desc_decode(entry, sizeof(entry), &caps, &job) ==
		SPATTEN_HW_OK && job.n_kv_heads == V2_H &&
		job.list_bytes == SPATTEN_LIST_BYTES && !job.kv_block_rows &&
		!job.kv_row_stride && !job.kv_head_stride &&
		!job.kv_block_stride && !job.rope_base && !job.score_scale &&
		!job.buf[SPE_PLANE_BLOCK_TABLE].len &&
		!job.buf[SPE_PLANE_POSITIONS].len;
	ok(good, "v2 in a 512-byte entry with a garbage tail decodes to the "
	   "same job as in 256 (n_kv_heads = n_heads, list_bytes 2, packed, "
	   "no RoPE)");

	good = 1;
	for (i = 0; i < 4; i++) {
		v1_desc(&d);
		good &= same_in_both(&d, fills[i], SPATTEN_HW_OK, "v1");
		d.opcode = htole16(SPATTEN_OP_NOP);
		memset((uint8_t *)&d + 0x10, 0, sizeof(d) - 0x10);
		good &= same_in_both(&d, fills[i], SPATTEN_HW_OK, "v1 NOP");
		d.version = 2;
		good &= same_in_both(&d, fills[i], SPATTEN_HW_OK, "v2 NOP");
	}
	ok(good, "v1 job, v1 and v2 NOPs in a 512-byte entry with a garbage "
	   "tail decode as in 256");

	/* Every v1/v2 status is the same in either entry size. */
	good = 1;
	for (i = 0; i < 4; i++) {
#define V2CASE(mutation, want) do {					\
		v2_desc(&d);						\
		mutation;						\
		good &= same_in_both(&d, fills[i], want, #mutation);	\
	} while (0)
		V2CASE(d.version = 9, SPATTEN_HW_ERR_VERSION);
		V2CASE(d.desc_size = htole16(257), SPATTEN_HW_ERR_VERSION);
		V2CASE(d.opcode = htole16(9), SPATTEN_HW_ERR_OPCODE);
		V2CASE(d.flags |= htole16(SPATTEN_DESC_F_ROPE),
		       SPATTEN_HW_ERR_FLAGS);
		V2CASE(d.rsvd4 = htole32(1), SPATTEN_HW_ERR_RESERVED);
		V2CASE(d.n_heads = 0, SPATTEN_HW_ERR_SHAPE);
		V2CASE(d.q_rows = htole16(V2_L - 1), SPATTEN_HW_ERR_POSITION);
		V2CASE(d.k_frac = 16, SPATTEN_HW_ERR_FORMAT);
		V2CASE(d.value_keep = htole16(V2_L + 1), SPATTEN_HW_ERR_KEEP);
		V2CASE(d.pinned.len = htole32(3), SPATTEN_HW_ERR_BUFFER);
		V2CASE(d.tok_alive.len = htole32(40 * 4 - 1), SPATTEN_HW_OK);
		V2CASE((d.version = 1, d.flags = 0), SPATTEN_HW_ERR_RESERVED);
#undef V2CASE
	}
	ok(good, "each v1/v2 status (version, opcode, flags, reserved, shape, "
	   "position, format, keep, buffer) is the same in a 512-byte entry "
	   "with a garbage tail");
}

/* ---- 5. The tag of a rejected descriptor -------------------------------- */

static void test_tag_on_failure(void)
{
	static const enum brk cases[] = {
		B_VERSION, B_OPCODE, B_FLAG_BIT, B_RSVD5, B_N_KV, B_NO_GQA,
		B_Q_START, B_K_FRAC, B_VALUE_KEEP, B_BLOCK_ROWS, B_SCALE,
		B_K_SHORT,
	};
	struct spatten_hw_desc_v3 d;
	struct spe_caps saved = caps;
	struct spe_job job;
	int good = 1, rc;
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		v3_desc(&d);
		brk_apply(&d, cases[i]);
		memset(&job, 0xa5, sizeof(job));
		rc = spe_desc_decode(&d, sizeof(d), &caps, &job);
		caps = saved;
		if (rc == SPATTEN_HW_OK || job.tag != V3_TAG ||
		    job.version != 3) {
			diag("%s: status %d, tag 0x%x", brk_name[cases[i]], rc,
			     job.tag);
			good = 0;
		}
	}
	ok(good, "a rejected v3 descriptor (a case of every status) still "
	   "yields its tag");

	/* Bytes 0x100.. hold head_imp..positions: not in a 256-byte entry. */
	v3_desc(&d);
	memset(&job, 0xa5, sizeof(job));
	rc = decode_exact(&d, SPATTEN_DESC_SIZE, &job);
	ok(rc == SPATTEN_HW_ERR_VERSION && job.tag == V3_TAG &&
	   job.kv_rows == V3_KV &&
	   buf_eq(&job.buf[SPE_PLANE_HEAD_IMP], 0, 0, 0, 0) &&
	   buf_eq(&job.buf[SPE_PLANE_BLOCK_TABLE], 0, 0, 0, 0) &&
	   buf_eq(&job.buf[SPE_PLANE_POSITIONS], 0, 0, 0, 0),
	   "v3 in a 256-byte entry: ERR_VERSION with its tag; nothing past "
	   "the entry is read");

	v3_desc(&d);
	d.rope_base = htole32(1);
	memset(&job, 0xa5, sizeof(job));
	rc = spe_desc_decode(&d, sizeof(d), &caps, &job);
	ok(rc == SPATTEN_HW_ERR_PARAM && job.n_kv_heads == V3_G &&
	   job.kv_rows == V3_KV && job.q_start == V3_QSTART &&
	   job.rope_base == 1 && job.list_bytes == 4,
	   "a rejected v3 descriptor decodes its 32-bit fields too");
}

int main(void)
{
	test_caps(&caps);
	caps.max_context = 1u << 20;	/* rows and counts above 16 bits */
	caps.features |= SPATTEN_FEAT_DESC_V3 | SPATTEN_FEAT_GQA |
			 SPATTEN_FEAT_KV_LAYOUT | SPATTEN_FEAT_ROPE |
			 SPATTEN_FEAT_CHUNKS;

	test_valid();
	test_err_version();
	test_err_opcode();
	test_err_flags();
	test_err_reserved();
	test_err_shape();
	test_err_position();
	test_chunks();
	test_err_format();
	test_err_keep();
	test_err_layout();
	test_err_param();
	test_err_buffer_kv();
	test_kv_size_saturates();
	test_head_fracs();
	test_err_buffer_block_table();
	test_err_buffer_positions();
	test_err_buffer_lists();
	test_check_order();
	test_v1_v2_in_512();
	test_tag_on_failure();
	return done_testing();
}
