// SPDX-License-Identifier: MIT
/*
 * spe_desc_decode(): every status it can give, each from a valid
 * descriptor with exactly one field broken, plus the order of the checks
 * when two fields are broken at once.
 */
#include <endian.h>
#include <stdint.h>
#include <string.h>

#include "spe.h"
#include "testutil.h"
#include "tap.h"

#define Q_BYTES		(4u * 32 * 64 * 2)
#define KV_BYTES	(4u * 48 * 64 * 2)

static struct spe_caps caps;

/* A valid causal summarization job with every field distinct. */
static void base_desc(struct spatten_hw_desc *d)
{
	struct spe_buf q = { 0x10000000, Q_BYTES, 0, 0 };
	struct spe_buf k = { 0x20000008, KV_BYTES, 0x123,
			     SPATTEN_BUF_PAGE_LIST };
	struct spe_buf v = { 0x30000000, KV_BYTES + 100, 0, 0 };
	struct spe_buf out = { 0x40000000, Q_BYTES, 0, 0 };

	memset(d, 0, sizeof(*d));
	d->opcode = htole16(SPATTEN_OP_ATTENTION);
	d->desc_size = htole16(SPATTEN_DESC_SIZE);
	d->version = SPATTEN_DESC_VERSION;
	d->stage = SPATTEN_STAGE_SUMMARIZATION;
	d->flags = htole16(SPATTEN_DESC_F_CAUSAL);
	d->tag = htole32(0xa1b2c3d4);
	d->n_heads = htole16(4);
	d->head_dim = htole16(64);
	d->q_rows = htole16(32);
	d->kv_rows = htole16(48);
	d->q_start = htole16(16);
	d->q_frac = 12;
	d->k_frac = 11;
	d->v_frac = 10;
	d->out_frac = 9;
	desc_set_buf(&d->q, &q);
	desc_set_buf(&d->k, &k);
	desc_set_buf(&d->v, &v);
	desc_set_buf(&d->out, &out);
}

static void nop_desc(struct spatten_hw_desc *d)
{
	memset(d, 0, sizeof(*d));
	d->opcode = htole16(SPATTEN_OP_NOP);
	d->desc_size = htole16(SPATTEN_DESC_SIZE);
	d->version = SPATTEN_DESC_VERSION;
	d->tag = htole32(77);
}

static int decode(const struct spatten_hw_desc *d)
{
	struct spe_job job;

	return spe_desc_decode(d, sizeof(*d), &caps, &job);
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

static void test_valid_decodes_host_endian(void)
{
	struct spatten_hw_desc d;
	struct spe_job job;
	int rc;

	base_desc(&d);
	memset(&job, 0xa5, sizeof(job));
	rc = spe_desc_decode(&d, sizeof(d), &caps, &job);
	ok(rc == SPATTEN_HW_OK, "valid descriptor decodes (status %d)", rc);
	ok(job.opcode == SPATTEN_OP_ATTENTION &&
	   job.stage == SPATTEN_STAGE_SUMMARIZATION &&
	   job.flags == SPATTEN_DESC_F_CAUSAL && job.tag == 0xa1b2c3d4 &&
	   job.n_heads == 4 && job.head_dim == 64 && job.q_rows == 32 &&
	   job.kv_rows == 48 && job.q_start == 16 &&
	   job.q_frac == 12 && job.k_frac == 11 && job.v_frac == 10 &&
	   job.out_frac == 9 && job.q_fmt == 0 && job.k_fmt == 0 &&
	   job.v_fmt == 0 && job.out_fmt == 0,
	   "decoded scalar fields are host-endian values");
	ok(buf_eq(&job.buf[SPE_PLANE_Q], 0x10000000, Q_BYTES, 0, 0) &&
	   buf_eq(&job.buf[SPE_PLANE_K_MSB], 0x20000008, KV_BYTES, 0x123,
		  SPATTEN_BUF_PAGE_LIST) &&
	   buf_eq(&job.buf[SPE_PLANE_V], 0x30000000, KV_BYTES + 100, 0, 0) &&
	   buf_eq(&job.buf[SPE_PLANE_OUT], 0x40000000, Q_BYTES, 0, 0) &&
	   buf_eq(&job.buf[SPE_PLANE_K_LSB], 0, 0, 0, 0),
	   "buffer refs land in their planes, K_LSB zero");
}

static void test_err_version(void)
{
	static const uint16_t sizes[] = { 0, 64, 255, 257, 512, 0x0001 };
	static const uint8_t versions[] = { 0, 3, 0xff };
	struct spatten_hw_desc d;
	int good = 1;
	size_t i;

	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		base_desc(&d);
		d.desc_size = htole16(sizes[i]);
		good &= expect(decode(&d), SPATTEN_HW_ERR_VERSION, "desc_size");
	}
	for (i = 0; i < sizeof(versions); i++) {
		base_desc(&d);
		d.version = versions[i];
		good &= expect(decode(&d), SPATTEN_HW_ERR_VERSION, "version");
	}
	ok(good, "bad desc_size or version gives ERR_VERSION");
}

static void test_err_opcode(void)
{
	static const uint16_t ops[] = { 2, 3, 0x0100, 0xffff };
	struct spatten_hw_desc d;
	int good = 1;
	size_t i;

	for (i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
		base_desc(&d);
		d.opcode = htole16(ops[i]);
		good &= expect(decode(&d), SPATTEN_HW_ERR_OPCODE, "opcode");
	}
	ok(good, "unknown opcode gives ERR_OPCODE");
}

static void test_err_flags(void)
{
	struct spatten_hw_desc d;
	int good = 1, bit;

	for (bit = 2; bit < 16; bit++) {
		base_desc(&d);
		d.flags = htole16(SPATTEN_DESC_F_CAUSAL | 1u << bit);
		good &= expect(decode(&d), SPATTEN_HW_ERR_FLAGS, "flag bit");
	}
	ok(good, "each unknown flag bit gives ERR_FLAGS");

	good = 1;
	base_desc(&d);
	d.stage = 2;
	good &= expect(decode(&d), SPATTEN_HW_ERR_FLAGS, "stage 2");
	d.stage = 0xff;
	good &= expect(decode(&d), SPATTEN_HW_ERR_FLAGS, "stage 255");
	ok(good, "unknown stage gives ERR_FLAGS");
}

static void test_err_flags_vs_features(void)
{
	struct spatten_hw_desc d;
	struct spe_caps saved = caps;
	int good = 1;

	base_desc(&d);
	caps.features &= ~SPATTEN_FEAT_CAUSAL;
	good &= expect(decode(&d), SPATTEN_HW_ERR_FLAGS, "causal");
	caps = saved;

	/* A valid generation step: one query at the last position. */
	d.stage = SPATTEN_STAGE_GENERATION;
	d.q_rows = htole16(1);
	d.q_start = htole16(47);
	good &= expect(decode(&d), SPATTEN_HW_OK, "generation allowed");
	caps.features &= ~SPATTEN_FEAT_GENERATION;
	good &= expect(decode(&d), SPATTEN_HW_ERR_FLAGS, "generation");
	caps = saved;
	ok(good, "CAUSAL / GENERATION without the device feature: ERR_FLAGS");
}

static void test_err_reserved(void)
{
	struct spatten_hw_desc d;
	int good;
	size_t i;

	base_desc(&d);
	d.rsvd0 = htole32(1);
	ok(decode(&d) == SPATTEN_HW_ERR_RESERVED, "rsvd0 != 0: ERR_RESERVED");
	base_desc(&d);
	d.rsvd1 = htole16(0x8000);
	ok(decode(&d) == SPATTEN_HW_ERR_RESERVED, "rsvd1 != 0: ERR_RESERVED");
	base_desc(&d);
	d.rsvd2 = htole32(0x80000000u);
	ok(decode(&d) == SPATTEN_HW_ERR_RESERVED, "rsvd2 != 0: ERR_RESERVED");
	base_desc(&d);
	d.rsvd3 = htole16(0x100);
	ok(decode(&d) == SPATTEN_HW_ERR_RESERVED, "rsvd3 != 0: ERR_RESERVED");
	base_desc(&d);
	d.rsvd4 = htole32(0x80000000u);
	ok(decode(&d) == SPATTEN_HW_ERR_RESERVED, "rsvd4 != 0: ERR_RESERVED");

	/* Version 1: every byte from 0x68 must be zero. */
	good = 1;
	for (i = 0x68; i < sizeof(d); i++) {
		base_desc(&d);
		d.version = 1;
		good &= expect(decode(&d), SPATTEN_HW_OK, "clean v1");
		((uint8_t *)&d)[i] = 0x80;
		good &= expect(decode(&d), SPATTEN_HW_ERR_RESERVED, "v1 byte");
		if (!good) {
			diag("v1 byte 0x%zx not rejected", i);
			break;
		}
	}
	ok(good, "version 1 with any byte of a v2 field (0x68..0xff) set: "
	   "ERR_RESERVED");
	base_desc(&d);
	d.version = 1;
	d.flags = htole16(SPATTEN_DESC_F_CAUSAL | SPATTEN_DESC_F_PROGRESSIVE);
	ok(decode(&d) == SPATTEN_HW_ERR_FLAGS,
	   "version 1 with the v2 flag PROGRESSIVE: ERR_FLAGS");
}

static void test_nop(void)
{
	struct spatten_hw_desc d;
	struct spe_job job;
	int good = 1;
	size_t off;

	nop_desc(&d);
	ok(spe_desc_decode(&d, sizeof(d), &caps, &job) == SPATTEN_HW_OK &&
	   job.opcode == SPATTEN_OP_NOP && job.tag == 77,
	   "clean NOP decodes and keeps its tag");

	/* Every byte from n_heads (0x10) to the end (0x100), alone. */
	for (off = 0x10; off < 0x100; off++) {
		if (off >= 0x1a && off < 0x1c)
			continue;	/* rsvd1 */
		if (off >= 0x24 && off < 0x28)
			continue;	/* rsvd2 */
		nop_desc(&d);
		((uint8_t *)&d)[off] = 0x01;
		if (decode(&d) != SPATTEN_HW_ERR_RESERVED) {
			diag("NOP with byte 0x%zx set accepted", off);
			good = 0;
		}
	}
	ok(good, "NOP with any stray shape/format/buffer byte: ERR_RESERVED");

	nop_desc(&d);
	d.rsvd4 = htole32(4);
	ok(decode(&d) == SPATTEN_HW_ERR_RESERVED,
	   "NOP with a reserved word set: ERR_RESERVED");
}

static void test_err_shape(void)
{
	struct spatten_hw_desc d;
	static const uint16_t bad_dims[] = { 0, 8, 48, 96, 512, 0x8000, 0xffff };
	int good = 1;
	size_t i;

	base_desc(&d);
	d.n_heads = 0;
	good &= expect(decode(&d), SPATTEN_HW_ERR_SHAPE, "n_heads 0");
	d.n_heads = htole16(caps.max_heads + 1);
	good &= expect(decode(&d), SPATTEN_HW_ERR_SHAPE, "n_heads max+1");
	d.n_heads = htole16(caps.max_heads);
	good &= expect(decode(&d), SPATTEN_HW_ERR_BUFFER, "n_heads max");
	ok(good, "n_heads 0 or above max_heads: ERR_SHAPE");

	good = 1;
	for (i = 0; i < sizeof(bad_dims) / sizeof(bad_dims[0]); i++) {
		base_desc(&d);
		d.head_dim = htole16(bad_dims[i]);
		good &= expect(decode(&d), SPATTEN_HW_ERR_SHAPE, "head_dim");
	}
	ok(good, "head_dim 0, not a power of two or not in caps: ERR_SHAPE");

	good = 1;
	base_desc(&d);
	d.q_rows = 0;
	good &= expect(decode(&d), SPATTEN_HW_ERR_SHAPE, "q_rows 0");
	base_desc(&d);
	d.kv_rows = 0;
	good &= expect(decode(&d), SPATTEN_HW_ERR_SHAPE, "kv_rows 0");
	base_desc(&d);
	d.kv_rows = htole16(caps.max_context + 1);
	good &= expect(decode(&d), SPATTEN_HW_ERR_SHAPE, "kv_rows max+1");
	base_desc(&d);
	d.flags = 0;
	d.q_start = 0;
	d.q_rows = htole16(caps.max_context + 1);
	good &= expect(decode(&d), SPATTEN_HW_ERR_SHAPE, "q_rows max+1");
	ok(good, "q_rows/kv_rows 0 or above max_context: ERR_SHAPE");

	base_desc(&d);
	d.stage = SPATTEN_STAGE_GENERATION;
	d.q_rows = htole16(2);
	d.q_start = htole16(46);
	ok(decode(&d) == SPATTEN_HW_ERR_SHAPE,
	   "generation with q_rows 2: ERR_SHAPE");

	/* chunks are version 3's, whatever the device offers */
	caps.features |= SPATTEN_FEAT_DESC_V3 | SPATTEN_FEAT_CHUNKS;
	d.q_start = htole16(46);
	good = expect(decode(&d), SPATTEN_HW_ERR_SHAPE, "v2 chunk");
	d.version = 1;
	good &= expect(decode(&d), SPATTEN_HW_ERR_SHAPE, "v1 chunk");
	caps.features &= ~(SPATTEN_FEAT_DESC_V3 | SPATTEN_FEAT_CHUNKS);
	ok(good, "generation with q_rows 2 in versions 1 and 2: ERR_SHAPE "
	   "on a device with CHUNKS too");
}

static void test_err_position(void)
{
	struct spatten_hw_desc d;
	int good = 1;

	base_desc(&d);
	d.q_start = htole16(17);	/* 17 + 32 > 48 */
	good &= expect(decode(&d), SPATTEN_HW_ERR_POSITION, "causal +1");
	d.q_start = htole16(0xffff);
	good &= expect(decode(&d), SPATTEN_HW_ERR_POSITION, "causal 0xffff");
	ok(good, "causal q_start + q_rows > kv_rows: ERR_POSITION");

	base_desc(&d);
	d.flags = 0;
	d.q_start = htole16(1);
	ok(decode(&d) == SPATTEN_HW_ERR_POSITION,
	   "non-causal q_start != 0: ERR_POSITION");

	good = 1;
	base_desc(&d);
	d.stage = SPATTEN_STAGE_GENERATION;
	d.q_rows = htole16(1);
	d.q_start = htole16(46);
	good &= expect(decode(&d), SPATTEN_HW_ERR_POSITION, "gen kv-2");
	d.q_start = htole16(47);
	good &= expect(decode(&d), SPATTEN_HW_OK, "gen kv-1");
	ok(good, "generation q_start != kv_rows - 1: ERR_POSITION");
}

static void test_err_format(void)
{
	static const uint8_t bad_fmts[] = { 6, 31, 32, 200, 255 };
	struct spatten_hw_desc d;
	struct spe_caps saved = caps;
	uint8_t *fmt[] = { &d.q_fmt, &d.k_fmt, &d.v_fmt, &d.out_fmt };
	uint8_t *frac[] = { &d.q_frac, &d.k_frac, &d.v_frac, &d.out_frac };
	int good = 1;
	size_t i, j;

	for (i = 0; i < 4; i++) {
		for (j = 0; j < sizeof(bad_fmts); j++) {
			base_desc(&d);
			*fmt[i] = bad_fmts[j];
			good &= expect(decode(&d), SPATTEN_HW_ERR_FORMAT, "fmt");
		}
	}
	/* Advertised by the device but unknown to the engine. */
	caps.formats = 0xffffffffu;
	base_desc(&d);
	d.v_fmt = SPATTEN_FMT_NUM;
	good &= expect(decode(&d), SPATTEN_HW_ERR_FORMAT, "fmt unknown");
	caps = saved;
	ok(good, "each unknown format (incl. >= 32): ERR_FORMAT");

	good = 1;
	for (i = 0; i < 4; i++) {
		base_desc(&d);
		*frac[i] = 15;
		good &= expect(decode(&d), SPATTEN_HW_OK, "frac 15");
		*frac[i] = 16;
		good &= expect(decode(&d), SPATTEN_HW_ERR_FORMAT, "frac 16");
		*frac[i] = 255;
		good &= expect(decode(&d), SPATTEN_HW_ERR_FORMAT, "frac 255");
	}
	ok(good, "each frac 15 accepted, 16 and 255: ERR_FORMAT");
}

/* The descriptor's buffer refs in plane order q, k, v, out. */
static struct spatten_hw_buf *desc_buf(struct spatten_hw_desc *d, int i)
{
	struct spatten_hw_buf *b[] = { &d->q, &d->k, &d->v, &d->out };

	return b[i];
}

static uint32_t need_bytes(int i)
{
	return (i == 0 || i == 3) ? Q_BYTES : KV_BYTES;
}

static void test_err_buffer_fields(void)
{
	static const char *const name[] = { "q", "k", "v", "out" };
	struct spatten_hw_desc d;
	struct spatten_hw_buf *b;
	int i, good;

	for (i = 0; i < 4; i++) {
		good = 1;
		base_desc(&d);
		b = desc_buf(&d, i);
		b->flags = htole16(le16toh(b->flags) | 2);
		good &= expect(decode(&d), SPATTEN_HW_ERR_BUFFER, "flag bit 1");
		b->flags = htole16(le16toh(b->flags) | 0x8000);
		good &= expect(decode(&d), SPATTEN_HW_ERR_BUFFER, "flag 15");

		base_desc(&d);
		b = desc_buf(&d, i);
		b->flags = 0;
		b->addr = htole64(0x50000000);
		b->offset = htole16(1);
		good &= expect(decode(&d), SPATTEN_HW_ERR_BUFFER, "contig off");

		b->flags = htole16(SPATTEN_BUF_PAGE_LIST);
		b->offset = htole16(SPATTEN_HW_PAGE_SIZE - 1);
		good &= expect(decode(&d), SPATTEN_HW_OK, "list off 4095");
		b->offset = htole16(SPATTEN_HW_PAGE_SIZE);
		good &= expect(decode(&d), SPATTEN_HW_ERR_BUFFER, "list off");
		b->offset = 0;
		b->addr = htole64(0x50000004);
		good &= expect(decode(&d), SPATTEN_HW_ERR_BUFFER, "list align");
		b->addr = htole64(0x50000008);
		good &= expect(decode(&d), SPATTEN_HW_OK, "list 8-aligned");

		base_desc(&d);
		b = desc_buf(&d, i);
		b->len = htole32(need_bytes(i));
		good &= expect(decode(&d), SPATTEN_HW_OK, "len exact");
		b->len = htole32(need_bytes(i) - 1);
		good &= expect(decode(&d), SPATTEN_HW_ERR_BUFFER, "len - 1");
		b->len = 0;
		good &= expect(decode(&d), SPATTEN_HW_ERR_BUFFER, "len 0");
		ok(good, "%s: bad flags, offsets, list alignment, len one byte "
		   "short: ERR_BUFFER", name[i]);
	}
}

static void test_err_buffer_range(void)
{
	struct spatten_hw_desc d;
	struct spe_caps saved = caps;
	uint64_t limit = (uint64_t)1 << caps.dma_bits;
	uint64_t list_bytes;
	int good = 1;

	/* Contiguous q: ending exactly at 2^dma_bits is fine, one more not. */
	base_desc(&d);
	d.q.addr = htole64(limit - Q_BYTES);
	good &= expect(decode(&d), SPATTEN_HW_OK, "q at the limit");
	d.q.addr = htole64(limit - Q_BYTES + 1);
	good &= expect(decode(&d), SPATTEN_HW_ERR_BUFFER, "q past limit");
	d.q.addr = htole64(limit);
	good &= expect(decode(&d), SPATTEN_HW_ERR_BUFFER, "q at 2^bits");
	ok(good, "contiguous range reaching past 1 << dma_bits: ERR_BUFFER");

	/* 64-bit device: only a wrap-around fails. */
	good = 1;
	caps.dma_bits = 64;
	d.q.addr = htole64(UINT64_MAX - Q_BYTES);
	good &= expect(decode(&d), SPATTEN_HW_OK, "q below 2^64");
	d.q.addr = htole64(UINT64_MAX - Q_BYTES + 1);	/* ends at 2^64 */
	good &= expect(decode(&d), SPATTEN_HW_ERR_BUFFER, "q ends at 2^64");
	d.q.addr = htole64(UINT64_MAX - Q_BYTES + 2);
	good &= expect(decode(&d), SPATTEN_HW_ERR_BUFFER, "q wraps");
	d.q.addr = htole64(UINT64_MAX);
	good &= expect(decode(&d), SPATTEN_HW_ERR_BUFFER, "q at ~0");
	base_desc(&d);
	d.k.addr = htole64(UINT64_MAX & ~7ull);
	good &= expect(decode(&d), SPATTEN_HW_ERR_BUFFER, "k list wraps");
	caps = saved;
	ok(good, "addr + len overflowing 64 bits: ERR_BUFFER");

	/* The page list of k: 0x123 + KV_BYTES bytes of pages, 8 B each. */
	good = 1;
	list_bytes = (0x123 + KV_BYTES + SPATTEN_HW_PAGE_SIZE - 1) /
		     SPATTEN_HW_PAGE_SIZE * 8;
	base_desc(&d);
	d.k.addr = htole64(limit - list_bytes);
	good &= expect(decode(&d), SPATTEN_HW_OK, "k list at limit");
	d.k.addr = htole64(limit - list_bytes + 8);
	good &= expect(decode(&d), SPATTEN_HW_ERR_BUFFER, "k list past");
	ok(good, "page list itself past 1 << dma_bits: ERR_BUFFER");

	base_desc(&d);
	caps.features &= ~SPATTEN_FEAT_PAGE_LIST;
	ok(decode(&d) == SPATTEN_HW_ERR_BUFFER,
	   "page list on a device without FEAT_PAGE_LIST: ERR_BUFFER");
	caps = saved;
}

/* Two fields broken at once: the earlier check in the order wins. */
static void test_check_order(void)
{
	struct spatten_hw_desc d;
	int good = 1;

	base_desc(&d);
	d.version = 9;
	d.opcode = htole16(9);
	good &= expect(decode(&d), SPATTEN_HW_ERR_VERSION, "version>opcode");
	base_desc(&d);
	d.opcode = htole16(9);
	d.stage = 9;
	good &= expect(decode(&d), SPATTEN_HW_ERR_OPCODE, "opcode>flags");
	base_desc(&d);
	d.flags = htole16(0x10);
	d.rsvd0 = 1;
	good &= expect(decode(&d), SPATTEN_HW_ERR_FLAGS, "flags>reserved");
	base_desc(&d);
	d.rsvd3 = 1;
	d.n_heads = 0;
	good &= expect(decode(&d), SPATTEN_HW_ERR_RESERVED, "reserved>shape");
	base_desc(&d);
	d.head_dim = htole16(3);
	d.q_start = htole16(40);
	good &= expect(decode(&d), SPATTEN_HW_ERR_SHAPE, "shape>position");
	base_desc(&d);
	d.q_start = htole16(40);
	d.k_frac = 20;
	good &= expect(decode(&d), SPATTEN_HW_ERR_POSITION, "position>format");
	base_desc(&d);
	d.out_frac = 20;
	d.q.len = 0;
	good &= expect(decode(&d), SPATTEN_HW_ERR_FORMAT, "format>buffer");
	base_desc(&d);
	d.n_heads = 0;
	d.flags = 0;		/* causal feature missing comes after shape */
	caps.features &= ~SPATTEN_FEAT_CAUSAL;
	good &= expect(decode(&d), SPATTEN_HW_ERR_SHAPE, "shape>feature");
	test_caps(&caps);
	ok(good, "checks run in the documented order; the first failure wins");
}


/* ---- Version 2: pruning and progressive fields ------------------------ */

#define V2_H		4
#define V2_L		48
#define V2_D		64

struct v2_sizes {
	uint32_t len[SPE_PLANE_COUNT];
};

static struct spatten_hw_buf *v2_ref(struct spatten_hw_desc *d, int plane)
{
	struct spatten_hw_buf *r[SPE_PLANE_COUNT] = {
		&d->q, &d->k, &d->k_lsb, &d->v, &d->out, &d->tok_imp,
		&d->tok_alive, &d->tok_kept, &d->pinned, &d->head_imp,
		&d->head_alive, &d->head_kept,
	};

	return r[plane];
}

/* Exact sizes of the v2 base job's operands, by plane. */
static const uint32_t v2_len[SPE_PLANE_COUNT] = {
	[SPE_PLANE_Q] = V2_H * V2_L * V2_D * 2,
	[SPE_PLANE_K_MSB] = V2_H * V2_L * V2_D * 8 / 8,		/* S8 */
	[SPE_PLANE_K_LSB] = V2_H * V2_L * V2_D * 4 / 8,
	[SPE_PLANE_V] = V2_H * V2_L * V2_D * 12 / 8,		/* S12 */
	[SPE_PLANE_OUT] = V2_H * V2_L * V2_D * 2,
	[SPE_PLANE_TOK_IMP] = V2_L * 8,
	[SPE_PLANE_TOK_ALIVE] = 40 * 2,
	[SPE_PLANE_TOK_KEPT] = 20 * 2,
	[SPE_PLANE_PINNED] = 2 * 2,
	[SPE_PLANE_HEAD_IMP] = V2_H * 8,
	[SPE_PLANE_HEAD_ALIVE] = 3 * 2,
	[SPE_PLANE_HEAD_KEPT] = 2 * 2,
};

/* A valid v2 summarization job using every field. */
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

static void test_v2_valid(void)
{
	struct spatten_hw_desc d;
	struct spe_job job;
	int rc, p, good = 1;

	v2_desc(&d);
	rc = spe_desc_decode(&d, sizeof(d), &caps, &job);
	ok(rc == SPATTEN_HW_OK, "valid v2 descriptor using every field "
	   "decodes (status %d)", rc);
	for (p = 0; p < SPE_PLANE_COUNT_V2; p++)
		good &= buf_eq(&job.buf[p], 0x1000000ull * (p + 1), v2_len[p],
			       0, 0);
	ok(good && job.version == 2 && job.n_tok_alive == 40 &&
	   job.token_keep == 20 && job.n_pinned == 2 &&
	   job.n_head_alive == 3 && job.head_keep == 2 &&
	   job.value_keep == 10 && job.lsb_threshold == 1638 &&
	   job.topk_seed == 0xabcdef01 && job.k_fmt == SPATTEN_FMT_S8 &&
	   job.v_fmt == SPATTEN_FMT_S12,
	   "v2 counts, seed and all twelve references decode host-endian");
}

static void test_v2_keep(void)
{
	struct spatten_hw_desc d;
	int good = 1;

#define KEEP_CASE(field, value, want, what) do {			\
		v2_desc(&d);						\
		d.field = htole16(value);				\
		good &= expect(decode(&d), want, what);			\
	} while (0)
	KEEP_CASE(n_tok_alive, V2_L + 1, SPATTEN_HW_ERR_KEEP, "tok_alive");
	KEEP_CASE(n_pinned, V2_L + 1, SPATTEN_HW_ERR_KEEP, "pinned");
	KEEP_CASE(n_head_alive, V2_H + 1, SPATTEN_HW_ERR_KEEP, "head_alive");
	KEEP_CASE(head_keep, 4, SPATTEN_HW_ERR_KEEP, "head_keep > alive");
	KEEP_CASE(token_keep, 42, SPATTEN_HW_ERR_KEEP, "token_keep > +1");
	KEEP_CASE(value_keep, V2_L + 1, SPATTEN_HW_ERR_KEEP, "value_keep");
	KEEP_CASE(lsb_threshold, 32769, SPATTEN_HW_ERR_KEEP, "threshold");
	ok(good, "counts beyond kv_rows/n_heads, head_keep > n_head_alive, "
	   "token_keep > n_tok_alive + 1, value_keep > kv_rows, "
	   "lsb_threshold > 2^15: ERR_KEEP");

	good = 1;
	v2_desc(&d);
	d.lsb_threshold = htole16(32768);
	good &= expect(decode(&d), SPATTEN_HW_OK, "threshold 2^15");
	v2_desc(&d);
	d.n_head_alive = 0;
	d.head_alive = (struct spatten_hw_buf){ 0 };
	d.head_keep = htole16(V2_H);
	d.head_kept.len = htole32(V2_H * 2);
	good &= expect(decode(&d), SPATTEN_HW_OK, "head_keep = n_heads");
	d.head_keep = htole16(V2_H + 1);
	good &= expect(decode(&d), SPATTEN_HW_ERR_KEEP, "head_keep > heads");
	v2_desc(&d);
	d.n_tok_alive = 0;
	d.tok_alive = (struct spatten_hw_buf){ 0 };
	d.token_keep = htole16(V2_L);
	d.tok_kept.len = htole32(V2_L * 2);
	good &= expect(decode(&d), SPATTEN_HW_OK, "token_keep = kv_rows");
	d.token_keep = htole16(V2_L + 1);
	good &= expect(decode(&d), SPATTEN_HW_ERR_KEEP, "token_keep > kv");
	v2_desc(&d);
	d.token_keep = 0;
	d.tok_kept = (struct spatten_hw_buf){ 0 };
	good &= expect(decode(&d), SPATTEN_HW_ERR_KEEP, "pinned, no keep");
	ok(good, "the limits themselves are accepted; pinned without "
	   "token_keep: ERR_KEEP");
#undef KEEP_CASE
}

static void test_v2_references(void)
{
	static const char *const name[SPE_PLANE_COUNT] = {
		"q", "k", "k_lsb", "v", "out", "tok_imp", "tok_alive",
		"tok_kept", "pinned", "head_imp", "head_alive", "head_kept",
	};
	struct spatten_hw_desc d;
	int p, good;

	for (p = 0; p < SPE_PLANE_COUNT_V2; p++) {
		good = 1;
		v2_desc(&d);
		v2_ref(&d, p)->len = htole32(v2_len[p] - 1);
		good &= expect(decode(&d), SPATTEN_HW_ERR_BUFFER, "short");
		v2_desc(&d);
		*v2_ref(&d, p) = (struct spatten_hw_buf){ 0 };
		good &= expect(decode(&d), SPATTEN_HW_ERR_BUFFER, "absent");
		v2_desc(&d);
		v2_ref(&d, p)->len = htole32(v2_len[p] + 5);
		good &= expect(decode(&d), SPATTEN_HW_OK, "longer");
		ok(good, "%s: one byte short or absent when required: "
		   "ERR_BUFFER; longer is fine", name[p]);
	}

	/* Forbidden: present without the count or flag that asks for it. */
	good = 1;
	v2_desc(&d);
	d.flags = 0;
	d.k_fmt = SPATTEN_FMT_S8;
	good &= expect(decode(&d), SPATTEN_HW_ERR_BUFFER, "k_lsb w/o PROG");
	d.k_lsb = (struct spatten_hw_buf){ 0 };
	good &= expect(decode(&d), SPATTEN_HW_OK, "static S8 K");
	v2_desc(&d);
	d.n_tok_alive = 0;
	good &= expect(decode(&d), SPATTEN_HW_ERR_BUFFER, "tok_alive");
	v2_desc(&d);
	d.n_pinned = 0;
	good &= expect(decode(&d), SPATTEN_HW_ERR_BUFFER, "pinned");
	v2_desc(&d);
	d.n_head_alive = 0;
	good &= expect(decode(&d), SPATTEN_HW_ERR_BUFFER, "head_alive");
	v2_desc(&d);
	d.head_keep = 0;
	good &= expect(decode(&d), SPATTEN_HW_ERR_BUFFER, "head_kept");
	d.head_kept = (struct spatten_hw_buf){ 0 };
	good &= expect(decode(&d), SPATTEN_HW_OK, "head_imp optional");
	d.head_imp = (struct spatten_hw_buf){ 0 };
	good &= expect(decode(&d), SPATTEN_HW_OK, "head_imp absent");
	v2_desc(&d);
	d.n_pinned = 0;
	d.pinned = (struct spatten_hw_buf){ 0 };
	d.token_keep = 0;
	good &= expect(decode(&d), SPATTEN_HW_ERR_BUFFER, "tok_kept");
	d.tok_kept = (struct spatten_hw_buf){ 0 };
	good &= expect(decode(&d), SPATTEN_HW_OK, "tok_imp optional");
	v2_desc(&d);
	d.n_pinned = 0;
	d.pinned = (struct spatten_hw_buf){ 0 };
	d.pinned.addr = htole64(0x1000);	/* len 0 but not all zero */
	good &= expect(decode(&d), SPATTEN_HW_ERR_BUFFER, "stray absent");
	ok(good, "references present without their count/flag, or absent "
	   "but not all zero: ERR_BUFFER; tok_imp/head_imp optional");
}

static void test_v2_formats_and_features(void)
{
	struct spatten_hw_desc d;
	struct spe_caps saved = caps;
	int good = 1;

	v2_desc(&d);
	d.k_fmt = SPATTEN_FMT_S16;
	good &= expect(decode(&d), SPATTEN_HW_ERR_FORMAT, "S16 K + PROG");
	v2_desc(&d);
	caps.splits &= ~(1u << 8);
	good &= expect(decode(&d), SPATTEN_HW_ERR_FORMAT, "split not in caps");
	caps = saved;
	v2_desc(&d);
	d.q_fmt = SPATTEN_FMT_S8;
	good &= expect(decode(&d), SPATTEN_HW_ERR_FORMAT, "Q S8");
	v2_desc(&d);
	d.out_fmt = SPATTEN_FMT_S12;
	good &= expect(decode(&d), SPATTEN_HW_ERR_FORMAT, "out S12");
	v2_desc(&d);
	caps.formats &= ~(1u << SPATTEN_FMT_S12);
	good &= expect(decode(&d), SPATTEN_HW_ERR_FORMAT, "V S12 not in caps");
	caps = saved;
	ok(good, "PROGRESSIVE with S16 K or a split not in caps, Q/out not "
	   "S16, a K/V format not in caps: ERR_FORMAT");

	good = 1;
	v2_desc(&d);
	caps.features &= ~SPATTEN_FEAT_PROGRESSIVE;
	good &= expect(decode(&d), SPATTEN_HW_ERR_FLAGS, "progressive");
	caps = saved;
	caps.features &= ~SPATTEN_FEAT_TOKEN_PRUNE;
	good &= expect(decode(&d), SPATTEN_HW_ERR_FLAGS, "token");
	caps = saved;
	caps.features &= ~SPATTEN_FEAT_HEAD_PRUNE;
	good &= expect(decode(&d), SPATTEN_HW_ERR_FLAGS, "head");
	caps = saved;
	caps.features &= ~SPATTEN_FEAT_VALUE_PRUNE;
	good &= expect(decode(&d), SPATTEN_HW_ERR_FLAGS, "value");
	caps = saved;
	ok(good, "PROGRESSIVE, token, head or value pruning on a device "
	   "without the feature: ERR_FLAGS");

	good = 1;
	v2_desc(&d);
	d.q_rows = htole16(V2_L - 1);
	good &= expect(decode(&d), SPATTEN_HW_ERR_POSITION, "q_rows != kv");
	v2_desc(&d);
	d.flags = htole16(SPATTEN_DESC_F_PROGRESSIVE | SPATTEN_DESC_F_CAUSAL);
	d.q_rows = htole16(V2_L - 1);
	d.q_start = htole16(1);
	good &= expect(decode(&d), SPATTEN_HW_ERR_POSITION, "q_start != 0");
	ok(good, "summarization over a token list with q_rows != kv_rows or "
	   "q_start != 0: ERR_POSITION");

	good = 1;
	v2_desc(&d);
	d.k_fmt = SPATTEN_FMT_S16;		/* format */
	d.value_keep = htole16(999);		/* keep */
	good &= expect(decode(&d), SPATTEN_HW_ERR_FORMAT, "format>keep");
	v2_desc(&d);
	d.value_keep = htole16(999);		/* keep */
	d.q.len = 0;				/* buffer */
	good &= expect(decode(&d), SPATTEN_HW_ERR_KEEP, "keep>buffer");
	v2_desc(&d);
	d.q_rows = htole16(V2_L - 1);		/* position */
	d.q_fmt = 9;				/* format */
	good &= expect(decode(&d), SPATTEN_HW_ERR_POSITION, "position>format");
	ok(good, "v2 check order: position, format, keep counts, buffers");
}

static void test_failed_decode_keeps_tag(void)
{
	struct spatten_hw_desc d;
	struct spe_job job;

	base_desc(&d);
	d.kv_rows = 0;
	ok(spe_desc_decode(&d, sizeof(d), &caps, &job) == SPATTEN_HW_ERR_SHAPE &&
	   job.tag == 0xa1b2c3d4,
	   "a rejected descriptor still yields its tag for the completion");
}

int main(void)
{
	test_caps(&caps);
	test_valid_decodes_host_endian();
	test_err_version();
	test_err_opcode();
	test_err_flags();
	test_err_flags_vs_features();
	test_err_reserved();
	test_nop();
	test_err_shape();
	test_err_position();
	test_err_format();
	test_err_buffer_fields();
	test_err_buffer_range();
	test_check_order();
	test_failed_decode_keeps_tag();
	test_v2_valid();
	test_v2_keep();
	test_v2_references();
	test_v2_formats_and_features();
	return done_testing();
}
