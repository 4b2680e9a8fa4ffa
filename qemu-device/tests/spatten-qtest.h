/*
 * Fixture helpers shared by the SpAtten qtests (spatten-test.c,
 * spatten-robust-test.c, spatten-fuzz-test.c).
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * Before including this header, a test defines SPATTEN_QTEST_STATE as the
 * type of its fixture, a struct with at least these members:
 *
 *     QOSState *qs;
 *     QTestState *qts;
 *     QPCIDevice *dev;
 *     QPCIBar bar;             (BAR0, the registers)
 *
 * Build: scripts/build-qemu.sh copies this file next to the tests in
 * tests/qtest/ of the QEMU tree.
 */

#ifndef SPATTEN_QTEST_H
#define SPATTEN_QTEST_H

#include "qemu/bswap.h"
#include "libqtest.h"
#include "libqos/libqos-pc.h"
#include "libqos/pci.h"
#include "qapi/qmp/qdict.h"

#include "spatten_hw.h"

#ifndef SPATTEN_QTEST_STATE
#error "define SPATTEN_QTEST_STATE before including spatten-qtest.h"
#endif

typedef SPATTEN_QTEST_STATE SpattenQTestState;

static inline uint32_t rd(SpattenQTestState *s, uint64_t off)
{
    return qpci_io_readl(s->dev, s->bar, off);
}

static inline void wr(SpattenQTestState *s, uint64_t off, uint32_t val)
{
    qpci_io_writel(s->dev, s->bar, off, val);
}

static inline uint64_t cnt(SpattenQTestState *s, unsigned n)
{
    return qpci_io_readq(s->dev, s->bar, SPATTEN_REG_CNT(n));
}

/* Guest memory of @size bytes, aligned as the device wants its rings. */
static inline uint64_t alloc_aligned(SpattenQTestState *s, size_t size)
{
    uint64_t a = guest_alloc(&s->qs->alloc, size + SPATTEN_RING_ALIGN);

    return QEMU_ALIGN_UP(a, SPATTEN_RING_ALIGN);
}

/*
 * Zeroed rings: an SQ of @sq_size entries of @esize bytes (256 or 512,
 * SPATTEN_QREG_SQ_ENTRY_SIZE) and a CQ of @cq_size.
 */
static inline void rings_alloc_esize(SpattenQTestState *s, uint64_t *sq,
                                     uint64_t *cq, uint32_t sq_size,
                                     uint32_t cq_size, uint32_t esize)
{
    *sq = alloc_aligned(s, sq_size * esize);
    *cq = alloc_aligned(s, cq_size * SPATTEN_CQE_SIZE);
    qtest_memset(s->qts, *sq, 0, sq_size * esize);
    qtest_memset(s->qts, *cq, 0, cq_size * SPATTEN_CQE_SIZE);
}

/* The same with 256-byte SQ entries (the reset value). */
static inline void rings_alloc(SpattenQTestState *s, uint64_t *sq,
                               uint64_t *cq, uint32_t sq_size,
                               uint32_t cq_size)
{
    rings_alloc_esize(s, sq, cq, sq_size, cq_size, SPATTEN_DESC_SIZE);
}

/* Queue @q's ring bases and sizes (not its vector, not its CTRL). */
static inline void queue_write_rings(SpattenQTestState *s, unsigned q,
                                     uint64_t sq, uint64_t cq,
                                     uint32_t sq_size, uint32_t cq_size)
{
    wr(s, SPATTEN_REG_Q(q, SPATTEN_QREG_SQ_BASE_LO), (uint32_t)sq);
    wr(s, SPATTEN_REG_Q(q, SPATTEN_QREG_SQ_BASE_HI), sq >> 32);
    wr(s, SPATTEN_REG_Q(q, SPATTEN_QREG_CQ_BASE_LO), (uint32_t)cq);
    wr(s, SPATTEN_REG_Q(q, SPATTEN_QREG_CQ_BASE_HI), cq >> 32);
    wr(s, SPATTEN_REG_Q(q, SPATTEN_QREG_SQ_SIZE), sq_size);
    wr(s, SPATTEN_REG_Q(q, SPATTEN_QREG_CQ_SIZE), cq_size);
}

/* An integer QOM property of the device sp0. */
static inline uint32_t sp_prop(SpattenQTestState *s, const char *name)
{
    QDict *r = qtest_qmp(s->qts, "{'execute': 'qom-get', 'arguments': "
                         "{'path': '/machine/peripheral/sp0', "
                         "'property': %s}}", name);
    uint32_t v;

    g_assert(qdict_haskey(r, "return"));
    v = qdict_get_int(r, "return");
    qobject_unref(r);
    return v;
}

static inline void desc_nop(struct spatten_hw_desc *d, uint32_t tag)
{
    memset(d, 0, sizeof(*d));
    d->opcode = cpu_to_le16(SPATTEN_OP_NOP);
    d->desc_size = cpu_to_le16(SPATTEN_DESC_SIZE);
    d->version = SPATTEN_DESC_VERSION;
    d->tag = cpu_to_le32(tag);
}

/*
 * An ATTENTION descriptor without buffers: S16 everywhere, 8 fractional
 * bits.  @gen: generation stage (q_rows 1, q_start kv_rows - 1, causal).
 */
static inline void desc_attn(struct spatten_hw_desc *d, uint32_t tag,
                             unsigned heads, unsigned dim, unsigned q_rows,
                             unsigned kv_rows, bool gen)
{
    memset(d, 0, sizeof(*d));
    d->opcode = cpu_to_le16(SPATTEN_OP_ATTENTION);
    d->desc_size = cpu_to_le16(SPATTEN_DESC_SIZE);
    d->version = SPATTEN_DESC_VERSION;
    d->tag = cpu_to_le32(tag);
    d->n_heads = cpu_to_le16(heads);
    d->head_dim = cpu_to_le16(dim);
    d->q_rows = cpu_to_le16(q_rows);
    d->kv_rows = cpu_to_le16(kv_rows);
    if (gen) {
        d->stage = SPATTEN_STAGE_GENERATION;
        d->q_start = cpu_to_le16(kv_rows - 1);
        d->flags = cpu_to_le16(SPATTEN_DESC_F_CAUSAL);
    }
    d->q_frac = d->k_frac = d->v_frac = d->out_frac = 8;
}

/* A contiguous buffer: offset 0, no flags. */
static inline void set_buf(struct spatten_hw_buf *b, uint64_t addr,
                           uint32_t len)
{
    b->addr = cpu_to_le64(addr);
    b->len = cpu_to_le32(len);
    b->offset = 0;
    b->flags = 0;
}

static inline void desc_nop_v3(struct spatten_hw_desc_v3 *d, uint32_t tag)
{
    memset(d, 0, sizeof(*d));
    d->opcode = cpu_to_le16(SPATTEN_OP_NOP);
    d->desc_size = cpu_to_le16(SPATTEN_DESC_V3_SIZE);
    d->version = SPATTEN_DESC_VERSION_V3;
    d->tag = cpu_to_le32(tag);
}

/*
 * A version-3 ATTENTION descriptor without buffers: @heads query heads,
 * @kv_heads K/V heads, packed KV layout, S16 everywhere, 8 fractional
 * bits.  @gen: generation stage (q_rows 1, q_start kv_rows - 1, causal).
 */
static inline void desc_attn_v3(struct spatten_hw_desc_v3 *d, uint32_t tag,
                                unsigned heads, unsigned kv_heads,
                                unsigned dim, uint32_t q_rows,
                                uint32_t kv_rows, bool gen)
{
    memset(d, 0, sizeof(*d));
    d->opcode = cpu_to_le16(SPATTEN_OP_ATTENTION);
    d->desc_size = cpu_to_le16(SPATTEN_DESC_V3_SIZE);
    d->version = SPATTEN_DESC_VERSION_V3;
    d->tag = cpu_to_le32(tag);
    d->n_heads = cpu_to_le16(heads);
    d->n_kv_heads = cpu_to_le16(kv_heads);
    d->head_dim = cpu_to_le16(dim);
    d->q_rows = cpu_to_le32(q_rows);
    d->kv_rows = cpu_to_le32(kv_rows);
    if (gen) {
        d->stage = SPATTEN_STAGE_GENERATION;
        d->q_start = cpu_to_le32(kv_rows - 1);
        d->flags = cpu_to_le16(SPATTEN_DESC_F_CAUSAL);
    }
    d->q_frac = d->k_frac = d->v_frac = d->out_frac = 8;
}

/*
 * A job that keeps an engine busy for tens of milliseconds: 8 heads,
 * HEAVY_Q query rows, 1024 keys, head_dim 64 (operands are whatever is in
 * guest memory).  Returns the output's address.
 */
#define HEAVY_Q         512
#define HEAVY_OUT       (8 * HEAVY_Q * 64 * 2)
static inline uint64_t desc_heavy(SpattenQTestState *s,
                                  struct spatten_hw_desc *d, uint32_t tag)
{
    const uint32_t qb = HEAVY_OUT, kb = 8 * 1024 * 64 * 2;
    uint64_t buf = alloc_aligned(s, 2 * qb + 2 * kb);

    desc_attn(d, tag, 8, 64, HEAVY_Q, 1024, false);
    set_buf(&d->q, buf, qb);
    set_buf(&d->k, buf + qb, kb);
    set_buf(&d->v, buf + qb + kb, kb);
    set_buf(&d->out, buf + qb + 2 * kb, qb);
    return buf + qb + 2 * kb;
}

#endif
