/*
 * QTest fuzz campaign against the SpAtten device model (qemu-device/):
 * malformed descriptors, rings and doorbells written into the real device,
 * the way a hostile or buggy guest driver would (issue #7, campaign 2).
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * Batches of descriptors go through a queue pair whose SQ entries are
 * 256 or 512 bytes (SQ_ENTRY_SIZE, drawn at every queue restart). In a
 * 512-byte queue half the descriptors are version 3 (the other half are
 * version 2 with random bytes in the entry's upper half, which the device
 * must ignore); in a 256-byte queue a version-3 descriptor (its first 256
 * bytes) is one of the defects. Each descriptor is either
 *  - valid (a dense S16 job, contiguous or page-listed): must complete OK;
 *    version 3 has 32-bit rows and counts, and some of its valid jobs use
 *    grouped-query heads, strided or paged KV, RoPE (with a position
 *    list) and a score scale: those must complete OK only with
 *    SPATTEN_FUZZ_V3_EXT=strict (the engine's version-3 execution),
 *    otherwise with any status (so must a paged job whose K or V buffer
 *    is too short for its block table: ERR_BLOCK when strict);
 *  - valid with one targeted defect whose status the hardware spec fixes
 *    (docs/hardware.md, "Status codes"), the run-time ERR_LIST of a
 *    token list out of order included: must complete with that status;
 *  - a valid job with random byte flips, or random bytes: must complete
 *    with some status in 0..SPATTEN_HW_STATUS_MAX other than ABORTED.
 * Every descriptor must complete exactly once (its tag seen once), and the
 * device's counters must account for every job. Between batches, ring and
 * doorbell abuse: SQ tails and CQ heads out of range, queue enables with a
 * bad configuration (a bad SQ entry size included), rings in unbacked
 * memory (SQE read / CQE write failures), resets with jobs in flight
 * (nothing written afterwards), and random register writes; after each
 * the queue is re-programmed and a plain NOP must still work.
 *
 * Environment: SPATTEN_FUZZ_DESCS descriptors (default 20000, the short
 * form of `make check`; the long form uses 100000+), SPATTEN_FUZZ_SEED,
 * SPATTEN_FUZZ_V3_EXT (strict: see above). Prints "# fuzz:" lines of
 * figures.
 */

#include "qemu/osdep.h"
#include "qemu/bswap.h"
#include "libqtest.h"
#include "libqos/libqos-pc.h"
#include "libqos/pci.h"
#include "standard-headers/linux/pci_regs.h"

#include "spatten_hw.h"

#define SLOT            4
#define RING            256             /* SQ and CQ entries */
#define BATCH           (RING - 1)
#define DATA_SIZE       (512 * 1024)    /* operand memory */
#define PL_PAGES        (DATA_SIZE / 4096)
#define UNBACKED        0x0000700000000000ull   /* below 2^48, no memory */
#define POLL_US         (30 * 1000 * 1000)
#define MAX_CTX         64
#define MAX_HEADS       4
/* In the metadata region: a block table and a position list, u32 each. */
#define META_SIZE       16384
#define META_TABLE      8192
#define META_POS        12288
#define TABLE_BLOCKS    4       /* every table entry is below this */
#define NSTATUS         (SPATTEN_HW_STATUS_MAX + 1)

enum kind { K_VALID, K_DEFECT, K_FLIPS, K_RANDOM, K_NKINDS };

typedef struct Fz {
    QOSState *qs;
    QTestState *qts;
    QPCIDevice *dev;
    QPCIBar bar;
    uint64_t sq, cq, data, pl, meta;
    uint32_t sq_tail, cq_head;
    uint32_t esize;         /* SQ entry bytes: 256 or 512 */
    bool phase;
    bool v3_ext_strict;     /* extended v3 valid jobs must complete OK */
    uint64_t rng;
    /* figures */
    uint64_t descs, by_kind[K_NKINDS], by_status[NSTATUS];
    uint64_t ring_abuse, resets, reg_writes, sqe_fail, cqe_fail;
    uint64_t dropped_by_reset;
    uint64_t descs_512, descs_v3, descs_v3_ext;
} Fz;

#define SPATTEN_QTEST_STATE Fz
#include "spatten-qtest.h"

static uint64_t rnd(Fz *f)
{
    f->rng ^= f->rng << 13;
    f->rng ^= f->rng >> 7;
    f->rng ^= f->rng << 17;
    return f->rng;
}

static uint32_t rn(Fz *f, uint32_t n)
{
    return n ? (uint32_t)(rnd(f) % n) : 0;
}

static void queue_program(Fz *f, uint64_t sq, uint64_t cq)
{
    wr(f, SPATTEN_REG_Q(0, SPATTEN_QREG_CTRL), 0);
    queue_write_rings(f, 0, sq, cq, RING, RING);
    wr(f, SPATTEN_REG_Q(0, SPATTEN_QREG_SQ_ENTRY_SIZE), f->esize);
    wr(f, SPATTEN_REG_Q(0, SPATTEN_QREG_IRQ_VECTOR), 0);
    wr(f, SPATTEN_REG_Q(0, SPATTEN_QREG_CTRL), SPATTEN_QCTRL_ENABLE);
}

/*
 * (Re-)start queue 0 on the real rings, with entries of 256 or 512 bytes
 * (drawn anew), device enabled, CQ cleared.
 */
static void queue_restart(Fz *f)
{
    f->esize = rn(f, 2) ? SPATTEN_SQE_SIZE_MAX : SPATTEN_DESC_SIZE;
    qtest_memset(f->qts, f->cq, 0, RING * SPATTEN_CQE_SIZE);
    f->sq_tail = f->cq_head = 0;
    f->phase = true;
    queue_program(f, f->sq, f->cq);
    g_assert_cmphex(rd(f, SPATTEN_REG_Q(0, SPATTEN_QREG_STATUS)), ==,
                    SPATTEN_QSTS_ENABLED);
    wr(f, SPATTEN_REG_CTRL, SPATTEN_CTRL_ENABLE);
    g_assert_cmphex(rd(f, SPATTEN_REG_STATUS) & SPATTEN_STS_READY, ==,
                    SPATTEN_STS_READY);
}

static void device_reset(Fz *f)
{
    wr(f, SPATTEN_REG_CTRL, SPATTEN_CTRL_RESET);
    f->resets++;
    queue_restart(f);
}

static void set_buf_at(struct spatten_hw_buf *b, uint64_t addr,
                       uint32_t len, uint16_t off, uint16_t flags)
{
    b->addr = cpu_to_le64(addr);
    b->len = cpu_to_le32(len);
    b->offset = cpu_to_le16(off);
    b->flags = cpu_to_le16(flags);
}

/*
 * A valid dense job over the operand memory: shape within the caps, S16,
 * each operand contiguous or through the page list (which maps page i of
 * the list region to page i of the data region).
 */
static void valid_job(Fz *f, struct spatten_hw_desc *d)
{
    unsigned heads = 1 + rn(f, MAX_HEADS);
    unsigned dim = 16u << rn(f, 3);
    unsigned kv = 1 + rn(f, MAX_CTX);
    unsigned qr = 1 + rn(f, kv);
    bool gen = rn(f, 4) == 0, causal = gen || rn(f, 2);
    uint32_t tq, tkv, slice = DATA_SIZE / 4;
    unsigned i;

    if (gen) {
        qr = 1;
    }
    tq = heads * qr * dim * 2;
    tkv = heads * kv * dim * 2;
    g_assert(tq <= slice && tkv <= slice);
    memset(d, 0, sizeof(*d));
    d->opcode = cpu_to_le16(SPATTEN_OP_ATTENTION);
    d->desc_size = cpu_to_le16(SPATTEN_DESC_SIZE);
    d->version = SPATTEN_DESC_VERSION;
    d->stage = gen ? SPATTEN_STAGE_GENERATION : SPATTEN_STAGE_SUMMARIZATION;
    d->flags = cpu_to_le16(causal ? SPATTEN_DESC_F_CAUSAL : 0);
    d->n_heads = cpu_to_le16(heads);
    d->head_dim = cpu_to_le16(dim);
    d->q_rows = cpu_to_le16(qr);
    d->kv_rows = cpu_to_le16(kv);
    d->q_start = cpu_to_le16(gen ? kv - 1 : causal ? rn(f, kv - qr + 1) : 0);
    d->q_frac = d->k_frac = d->v_frac = d->out_frac = rn(f, 16);
    d->topk_seed = cpu_to_le32(rnd(f));
    for (i = 0; i < 4; i++) {
        struct spatten_hw_buf *b = &d->q + i;
        uint32_t len = i == 0 || i == 3 ? tq : tkv;
        uint64_t base = (uint64_t)i * slice;

        if (rn(f, 2)) {
            uint16_t off = rn(f, 2048) & ~1u;
            set_buf_at(b, f->pl + (base / 4096) * 8, len, off,
                       SPATTEN_BUF_PAGE_LIST);
        } else {
            set_buf_at(b, f->data + base, len, 0, 0);
        }
    }
    /* The output lands in the data region; keep Q/K/V away from it. */
    if (le32_to_cpu(d->out.len) + le16_to_cpu(d->out.offset) > slice) {
        d->out.offset = 0;
    }
}

/* One defect with the status the spec gives it; returns that status. */
static unsigned defect(Fz *f, struct spatten_hw_desc *d)
{
    struct spatten_hw_buf *b = &d->q + rn(f, 4);

    switch (rn(f, 17)) {
    case 16:
        /*
         * Token pruning with an alive list that is not ascending: checked
         * at run time, ERR_LIST. Summarization with a list needs query
         * row i = token i.
         */
        if (le16_to_cpu(d->kv_rows) < 2 ||
            le16_to_cpu(d->q_rows) != le16_to_cpu(d->kv_rows)) {
            d->version = 0;
            return SPATTEN_HW_ERR_VERSION;
        }
        d->stage = SPATTEN_STAGE_SUMMARIZATION;
        d->q_start = 0;
        d->n_tok_alive = cpu_to_le16(2 + rn(f, le16_to_cpu(d->kv_rows) - 1));
        d->token_keep = cpu_to_le16(1);
        set_buf_at(&d->tok_imp, f->meta, 8 * le16_to_cpu(d->kv_rows), 0, 0);
        set_buf_at(&d->tok_alive, f->meta + 2048,
                2 * le16_to_cpu(d->n_tok_alive), 0, 0);
        set_buf_at(&d->tok_kept, f->meta + 4096, 2, 0, 0);
        return SPATTEN_HW_ERR_LIST;
    case 0:
        d->version = 3 + rn(f, 250);
        return SPATTEN_HW_ERR_VERSION;
    case 1:
        d->desc_size = cpu_to_le16(rn(f, 2) ? 128 : 512);
        return SPATTEN_HW_ERR_VERSION;
    case 2:
        d->opcode = cpu_to_le16(2 + rn(f, 1000));
        return SPATTEN_HW_ERR_OPCODE;
    case 3:
        d->flags |= cpu_to_le16(4u << rn(f, 14));
        return SPATTEN_HW_ERR_FLAGS;
    case 4:
        d->stage = 2 + rn(f, 200);
        return SPATTEN_HW_ERR_FLAGS;
    case 5:
        switch (rn(f, 5)) {
        case 0: d->rsvd0 = cpu_to_le32(1 + rn(f, 1000)); break;
        case 1: d->rsvd1 = cpu_to_le16(1 + rn(f, 1000)); break;
        case 2: d->rsvd2 = cpu_to_le32(1 + rn(f, 1000)); break;
        case 3: d->rsvd3 = cpu_to_le16(1 + rn(f, 1000)); break;
        default: d->rsvd4 = cpu_to_le32(1 + rn(f, 1000)); break;
        }
        return SPATTEN_HW_ERR_RESERVED;
    case 6:
        d->n_heads = cpu_to_le16(rn(f, 2) ? 0 : MAX_HEADS + 1 + rn(f, 100));
        return SPATTEN_HW_ERR_SHAPE;
    case 7:
        d->head_dim = cpu_to_le16(rn(f, 2) ? 8 : 17 + 2 * rn(f, 100));
        return SPATTEN_HW_ERR_SHAPE;
    case 8:
        d->kv_rows = cpu_to_le16(rn(f, 2) ? 0 : MAX_CTX + 1 + rn(f, 1000));
        return SPATTEN_HW_ERR_SHAPE;
    case 9:
        d->flags = 0;
        d->stage = SPATTEN_STAGE_SUMMARIZATION;
        d->q_start = cpu_to_le16(1 + rn(f, 100));
        return SPATTEN_HW_ERR_POSITION;
    case 10:
        if (rn(f, 2)) {
            d->q_fmt = SPATTEN_FMT_NUM + rn(f, 200);
        } else {
            d->v_frac = 16 + rn(f, 200);
        }
        return SPATTEN_HW_ERR_FORMAT;
    case 11:
        b->len = cpu_to_le32(le32_to_cpu(b->len) - 1 - rn(f, 16));
        return SPATTEN_HW_ERR_BUFFER;
    case 12:
        b->flags = cpu_to_le16(le16_to_cpu(b->flags) | (2u << rn(f, 15)));
        return SPATTEN_HW_ERR_BUFFER;
    case 13:
        b->addr = cpu_to_le64(1ull << (48 + rn(f, 16)));
        return SPATTEN_HW_ERR_BUFFER;
    case 14:
        /* An operand in memory nobody answers to. */
        if (b == &d->out) {
            set_buf_at(b, UNBACKED, le32_to_cpu(b->len), 0, 0);
            return SPATTEN_HW_ERR_DMA_WRITE;
        }
        set_buf_at(b, UNBACKED, le32_to_cpu(b->len), 0, 0);
        return SPATTEN_HW_ERR_DMA_READ;
    default:
        /* A page list whose entries are not page-aligned (entry 1 of the
         * misaligned list region: data + 8). */
        if (b == &d->out) {
            b = &d->q;
        }
        set_buf_at(b, f->pl + PL_PAGES * 8, le32_to_cpu(b->len), 0,
                SPATTEN_BUF_PAGE_LIST);
        return SPATTEN_HW_ERR_PAGE_LIST;
    }
}

/*
 * Keep a mangled job's writes out of the rings and the page lists: any
 * reference that reaches below the data region or into the lists is moved
 * to unbacked memory (writes there fail; the status stays free). Memory
 * above the data region is unused, so writes there are harmless.
 */
static void fence(Fz *f, struct spatten_hw_buf *bufs, unsigned n)
{
    unsigned i;

    for (i = 0; i < n; i++) {
        struct spatten_hw_buf *b = &bufs[i];
        uint64_t a = le64_to_cpu(b->addr);

        if (a < f->data &&
            (!(le16_to_cpu(b->flags) & SPATTEN_BUF_PAGE_LIST) ||
             a < f->pl || a >= f->pl + 2 * PL_PAGES * 8)) {
            b->addr = cpu_to_le64(UNBACKED + a % 0x100000);
        }
    }
}

/* Make version-2 descriptor @d of kind @k; the expected status or -1. */
static int make_desc_v2(Fz *f, struct spatten_hw_desc *d, enum kind k,
                        uint32_t tag)
{
    int expect = -1;
    unsigned i, n;

    switch (k) {
    case K_VALID:
        valid_job(f, d);
        expect = SPATTEN_HW_OK;
        break;
    case K_DEFECT:
        valid_job(f, d);
        expect = defect(f, d);
        break;
    case K_FLIPS:
        valid_job(f, d);
        n = 1 + rn(f, 8);
        for (i = 0; i < n; i++) {
            ((uint8_t *)d)[rn(f, sizeof(*d))] ^= 1u << rn(f, 8);
        }
        fence(f, &d->q, 12);
        break;
    default:
        for (i = 0; i < sizeof(*d); i += 8) {
            uint64_t r = rnd(f);
            memcpy((uint8_t *)d + i, &r, 8);
        }
        if (rn(f, 2)) {     /* get past the first checks half the time */
            d->desc_size = cpu_to_le16(SPATTEN_DESC_SIZE);
            d->version = SPATTEN_DESC_VERSION;
            d->opcode = cpu_to_le16(rn(f, 2));
        }
        fence(f, &d->q, 12);
        break;
    }
    d->tag = cpu_to_le32(tag);
    return expect;
}

/* A random positive normal binary32. */
static uint32_t rnd_scale(Fz *f)
{
    return (1 + rn(f, 254)) << 23 | rn(f, 1u << 23);
}

/*
 * A valid version-3 job over the operand memory, like valid_job() but
 * with 32-bit fields and lists. @ext: also grouped-query heads, a strided
 * or paged KV layout (block table in the metadata region, entries below
 * TABLE_BLOCKS), RoPE with or without the position list (0, 2, 4, ...)
 * and a score scale, each at random; @paged: the paged layout if it fits.
 */
static void valid_job_v3(Fz *f, struct spatten_hw_desc_v3 *d, bool ext,
                         bool paged)
{
    unsigned heads = 1 + rn(f, MAX_HEADS);
    unsigned dim = 16u << rn(f, 3);
    unsigned kv = 1 + rn(f, MAX_CTX);
    unsigned qr = 1 + rn(f, kv);
    unsigned kvh = heads, row = dim * 2;
    bool gen = rn(f, 4) == 0, causal = gen || rn(f, 2);
    uint32_t tq, tkv, slice = DATA_SIZE / 4;
    uint64_t rows = 0;
    unsigned i;

    if (gen) {
        /* one new token, or a chunk of them (SPATTEN_FEAT_CHUNKS) */
        qr = rn(f, 2) ? 1 : 1 + rn(f, kv);
    }
    memset(d, 0, sizeof(*d));
    if (ext) {
        /* a divisor of heads: heads / 1, 2 or 4 where it divides */
        unsigned g = 1u << rn(f, 3);

        kvh = heads % g ? heads : heads / g;
        switch (paged ? 2 : rn(f, 3)) {
        case 1:     /* strided: token slots apart, heads further apart */
            d->kv_row_stride = cpu_to_le32(1 + rn(f, 3));
            d->kv_head_stride = cpu_to_le32(kv * (1 + rn(f, 3)) + rn(f, 5));
            rows = (uint64_t)(kvh - 1) * le32_to_cpu(d->kv_head_stride) +
                   (uint64_t)(kv - 1) * le32_to_cpu(d->kv_row_stride) + 1;
            break;
        case 2: {   /* paged: blocks of 1..8 slots, every head in a block */
            uint32_t br = 1u << rn(f, 4);
            uint32_t blocks = (kv + br - 1) / br;

            d->kv_block_rows = cpu_to_le32(br);
            d->kv_row_stride = cpu_to_le32(1);
            d->kv_head_stride = cpu_to_le32(br);
            d->kv_block_stride = cpu_to_le32(kvh * br);
            rows = (uint64_t)TABLE_BLOCKS * kvh * br;
            set_buf_at(&d->block_table,
                       f->meta + META_TABLE, blocks * 4, 0, 0);
            break;
        }
        default:
            break;
        }
        if (rows * row > slice) {       /* too big for a slice: packed */
            memset(d, 0, sizeof(*d));
            rows = 0;
        }
        if (rn(f, 2)) {
            d->flags |= cpu_to_le16(SPATTEN_DESC_F_ROPE);
            d->rope_base = cpu_to_le32(rn(f, 2) ? 10000 :
                                       2 + rn(f, 0x7fffffff));
            if (rn(f, 2)) {
                d->flags |= cpu_to_le16(SPATTEN_DESC_F_ROPE_POSITIONS);
                set_buf_at(&d->positions, f->meta + META_POS, kv * 4, 0, 0);
            }
        }
        if (rn(f, 2)) {
            d->score_scale = cpu_to_le32(rnd_scale(f));
        }
    }
    if (!rows) {
        rows = (uint64_t)kvh * kv;
    }
    tq = heads * qr * row;
    tkv = rows * row;
    g_assert(tq <= slice && tkv <= slice);
    d->opcode = cpu_to_le16(SPATTEN_OP_ATTENTION);
    d->desc_size = cpu_to_le16(SPATTEN_DESC_V3_SIZE);
    d->version = SPATTEN_DESC_VERSION_V3;
    d->stage = gen ? SPATTEN_STAGE_GENERATION : SPATTEN_STAGE_SUMMARIZATION;
    d->flags |= cpu_to_le16(causal ? SPATTEN_DESC_F_CAUSAL : 0);
    d->n_heads = cpu_to_le16(heads);
    d->n_kv_heads = cpu_to_le16(kvh);
    d->head_dim = cpu_to_le16(dim);
    d->q_rows = cpu_to_le32(qr);
    d->kv_rows = cpu_to_le32(kv);
    d->q_start = cpu_to_le32(gen ? kv - qr : causal ? rn(f, kv - qr + 1) : 0);
    d->q_frac = d->k_frac = d->v_frac = d->out_frac = rn(f, 16);
    d->topk_seed = cpu_to_le32(rnd(f));
    for (i = 0; i < 4; i++) {
        struct spatten_hw_buf *b = &d->q + i;
        uint32_t len = i == 0 || i == 3 ? tq : tkv;
        uint64_t base = (uint64_t)i * slice;

        if (rn(f, 2)) {
            uint16_t off = rn(f, 2048) & ~1u;
            set_buf_at(b, f->pl + (base / 4096) * 8, len, off,
                       SPATTEN_BUF_PAGE_LIST);
        } else {
            set_buf_at(b, f->data + base, len, 0, 0);
        }
    }
    if (le32_to_cpu(d->out.len) + le16_to_cpu(d->out.offset) > slice) {
        d->out.offset = 0;
    }
}

/* One defect of a version-3 job, with its status; returns that status. */
static unsigned defect_v3(Fz *f, struct spatten_hw_desc_v3 *d)
{
    struct spatten_hw_buf *b = &d->q + rn(f, 4);
    unsigned heads = le16_to_cpu(d->n_heads);

    switch (rn(f, 23)) {
    case 0:
        d->version = rn(f, 2) ? 0 : 4 + rn(f, 250);
        return SPATTEN_HW_ERR_VERSION;
    case 1:
        d->desc_size = cpu_to_le16(rn(f, 2) ? SPATTEN_DESC_SIZE :
                                   SPATTEN_DESC_V3_SIZE + 1 + rn(f, 1000));
        return SPATTEN_HW_ERR_VERSION;
    case 2:
        d->opcode = cpu_to_le16(2 + rn(f, 1000));
        return SPATTEN_HW_ERR_OPCODE;
    case 3:
        /* bits version 3 does not define (5 is IMP_PER_KV_HEAD) */
        d->flags |= cpu_to_le16(0x40u << rn(f, 10));
        return SPATTEN_HW_ERR_FLAGS;
    case 4:
        d->stage = 2 + rn(f, 200);
        return SPATTEN_HW_ERR_FLAGS;
    case 5:
        switch (rn(f, 6)) {
        case 0:
            d->rsvd0 = cpu_to_le32(1 + rn(f, 1000));
            break;
        case 1:
            d->rsvd1 = cpu_to_le16(1 + rn(f, 1000));
            break;
        case 2:
            d->rsvd2 = cpu_to_le32(1 + rn(f, 1000));
            break;
        case 3:
            d->rsvd3 = cpu_to_le16(1 + rn(f, 1000));
            break;
        case 4:
            d->rsvd4[rn(f, 7)] = cpu_to_le32(1 + rn(f, 1000));
            break;
        default:
            d->rsvd5[rn(f, sizeof(d->rsvd5))] = 1 + rn(f, 255);
            break;
        }
        return SPATTEN_HW_ERR_RESERVED;
    case 6:
        d->n_heads = cpu_to_le16(rn(f, 2) ? 0 : MAX_HEADS + 1 + rn(f, 100));
        return SPATTEN_HW_ERR_SHAPE;
    case 7:     /* K/V heads: none, more than the query heads, no divisor */
        switch (rn(f, 3)) {
        case 0:
            d->n_kv_heads = 0;
            break;
        case 1:
            d->n_kv_heads = cpu_to_le16(heads + 1 + rn(f, 100));
            break;
        default:
            d->n_kv_heads = cpu_to_le16(heads == 3 ? 2 : heads == 4 ? 3 : 0);
            break;
        }
        return SPATTEN_HW_ERR_SHAPE;
    case 8:
        d->head_dim = cpu_to_le16(rn(f, 2) ? 8 : 17 + 2 * rn(f, 100));
        return SPATTEN_HW_ERR_SHAPE;
    case 9:     /* 32-bit rows beyond max-context */
        d->kv_rows = cpu_to_le32(rn(f, 2) ? 0 : MAX_CTX + 1 +
                                 rn(f, 0xfffffff0u));
        return SPATTEN_HW_ERR_SHAPE;
    case 10:
        d->q_rows = cpu_to_le32(rn(f, 2) ? 0 : MAX_CTX + 1 +
                                rn(f, 0xfffffff0u));
        return SPATTEN_HW_ERR_SHAPE;
    case 11:
        d->flags = 0;
        d->stage = SPATTEN_STAGE_SUMMARIZATION;
        d->q_start = cpu_to_le32(1 + rn(f, 0xfffffff0u));
        return SPATTEN_HW_ERR_POSITION;
    case 12:
        if (rn(f, 2)) {
            d->q_fmt = SPATTEN_FMT_NUM + rn(f, 200);
        } else {
            d->v_frac = 16 + rn(f, 200);
        }
        return SPATTEN_HW_ERR_FORMAT;
    case 13:    /* keep counts */
        if (rn(f, 2)) {
            d->lsb_threshold = cpu_to_le16(32769 + rn(f, 30000));
        } else {
            d->n_pinned = cpu_to_le32(1);
        }
        return SPATTEN_HW_ERR_KEEP;
    case 14:    /* KV layout: no row stride, a block stride alone, odd blocks */
        switch (rn(f, 3)) {
        case 0:
            d->kv_head_stride = cpu_to_le32(1 + rn(f, 100));
            break;
        case 1:
            d->kv_row_stride = cpu_to_le32(1);
            d->kv_head_stride = cpu_to_le32(MAX_CTX);
            d->kv_block_stride = cpu_to_le32(1 + rn(f, 100));
            break;
        default:
            d->kv_row_stride = cpu_to_le32(1);
            d->kv_head_stride = cpu_to_le32(8);
            d->kv_block_stride = cpu_to_le32(8 * MAX_HEADS);
            d->kv_block_rows = cpu_to_le32(3 + 2 * rn(f, 1000));
            break;
        }
        return SPATTEN_HW_ERR_LAYOUT;
    case 15:    /* rope_base without RoPE or out of range; a bad scale */
        switch (rn(f, 3)) {
        case 0:
            d->rope_base = cpu_to_le32(1 + rn(f, 100000));
            break;
        case 1:
            d->flags |= cpu_to_le16(SPATTEN_DESC_F_ROPE);
            d->rope_base = cpu_to_le32(rn(f, 2) ? rn(f, 2) :
                                       0x80000001u + rn(f, 0x7ffffffe));
            break;
        default:    /* negative, zero exponent, infinity or NaN */
            d->score_scale = cpu_to_le32(rn(f, 2) ? rnd_scale(f) | 1u << 31 :
                                         rn(f, 2) ? 1 + rn(f, 0x7fffff) :
                                         0x7f800000u | rn(f, 0x800000));
            break;
        }
        return SPATTEN_HW_ERR_PARAM;
    case 16:
        d->flags |= cpu_to_le16(SPATTEN_DESC_F_ROPE_POSITIONS);
        return SPATTEN_HW_ERR_FLAGS;
    case 17:    /* a block table without paging, positions without the flag */
        if (rn(f, 2)) {
            set_buf_at(&d->block_table, f->meta + META_TABLE, 4, 0, 0);
        } else {
            set_buf_at(&d->positions, f->meta + META_POS, 4 * MAX_CTX, 0, 0);
        }
        return SPATTEN_HW_ERR_BUFFER;
    case 18:
        b->len = cpu_to_le32(le32_to_cpu(b->len) - 1 - rn(f, 16));
        return SPATTEN_HW_ERR_BUFFER;
    case 19:
        b->flags = cpu_to_le16(le16_to_cpu(b->flags) | (2u << rn(f, 15)));
        return SPATTEN_HW_ERR_BUFFER;
    case 20:
        b->addr = cpu_to_le64(1ull << (48 + rn(f, 16)));
        return SPATTEN_HW_ERR_BUFFER;
    case 21:
        set_buf_at(b, UNBACKED, le32_to_cpu(b->len), 0, 0);
        return b == &d->out ? SPATTEN_HW_ERR_DMA_WRITE :
                              SPATTEN_HW_ERR_DMA_READ;
    default:
        if (b == &d->out) {
            b = &d->q;
        }
        set_buf_at(b, f->pl + PL_PAGES * 8, le32_to_cpu(b->len), 0,
                   SPATTEN_BUF_PAGE_LIST);
        return SPATTEN_HW_ERR_PAGE_LIST;
    }
}

/* Make version-3 descriptor @d of kind @k; the expected status or -1. */
static int make_desc_v3(Fz *f, struct spatten_hw_desc_v3 *d, enum kind k,
                        uint32_t tag)
{
    int expect = -1;
    unsigned i, n;
    bool ext;

    switch (k) {
    case K_VALID:
        ext = rn(f, 2);
        valid_job_v3(f, d, ext, false);
        if (rn(f, 4) == 0) {
            /* token importance per KV head: u64[n_kv_heads][kv_rows] */
            d->flags |= cpu_to_le16(SPATTEN_DESC_F_IMP_PER_KV_HEAD);
            set_buf_at(&d->tok_imp, f->meta,
                       8 * le16_to_cpu(d->n_kv_heads) *
                       le32_to_cpu(d->kv_rows), 0, 0);
        }
        f->descs_v3_ext += ext;
        expect = !ext || f->v3_ext_strict ? SPATTEN_HW_OK : -1;
        break;
    case K_DEFECT:
        if (rn(f, 16) == 0) {
            /*
             * A paged job whose K or V buffer holds block 0 only (all the
             * decode asks for): table entry 0 is block 1, ERR_BLOCK when
             * the engine reads the table.
             */
            valid_job_v3(f, d, true, true);
            if (d->kv_block_rows) {
                struct spatten_hw_buf *b = rn(f, 2) ? &d->k : &d->v;

                b->len = cpu_to_le32(le32_to_cpu(d->kv_block_stride) *
                                     le16_to_cpu(d->head_dim) * 2);
                f->descs_v3_ext++;
                expect = f->v3_ext_strict ? SPATTEN_HW_ERR_BLOCK : -1;
                break;
            }
        }
        valid_job_v3(f, d, false, false);
        expect = defect_v3(f, d);
        break;
    case K_FLIPS:
        valid_job_v3(f, d, rn(f, 2), false);
        n = 1 + rn(f, 8);
        for (i = 0; i < n; i++) {
            /* mostly where the fields are, not the reserved tail */
            unsigned at = rn(f, 4) ? rn(f, 0x160) : rn(f, sizeof(*d));

            ((uint8_t *)d)[at] ^= 1u << rn(f, 8);
        }
        fence(f, &d->q, 14);
        break;
    default:
        for (i = 0; i < sizeof(*d); i += 8) {
            uint64_t r = rnd(f);
            memcpy((uint8_t *)d + i, &r, 8);
        }
        if (rn(f, 2)) {
            d->desc_size = cpu_to_le16(SPATTEN_DESC_V3_SIZE);
            d->version = SPATTEN_DESC_VERSION_V3;
            d->opcode = cpu_to_le16(rn(f, 2));
            if (rn(f, 2)) {     /* and past the reserved fields */
                d->rsvd0 = d->rsvd1 = d->rsvd2 = d->rsvd3 = 0;
                memset(d->rsvd4, 0, sizeof(d->rsvd4));
                memset(d->rsvd5, 0, sizeof(d->rsvd5));
            }
        }
        fence(f, &d->q, 14);
        break;
    }
    d->tag = cpu_to_le32(tag);
    return expect;
}

/*
 * Make the SQ entry at @e (f->esize bytes) of kind @k: in a 512-byte
 * queue, version 3 half the time, else version 2 with random bytes in the
 * upper half (not part of its descriptor: they change nothing); in a
 * 256-byte queue version 2, or as a defect now and then the first half of
 * a valid version-3 descriptor (ERR_VERSION). Returns the expected status
 * or -1.
 */
static int make_desc(Fz *f, uint8_t *e, enum kind k, uint32_t tag)
{
    int expect;
    unsigned i;

    if (f->esize == SPATTEN_SQE_SIZE_MAX) {
        f->descs_512++;
        if (rn(f, 2)) {
            f->descs_v3++;
            return make_desc_v3(f, (struct spatten_hw_desc_v3 *)e, k, tag);
        }
        for (i = SPATTEN_DESC_SIZE; i < SPATTEN_SQE_SIZE_MAX; i += 8) {
            uint64_t r = rnd(f);
            memcpy(e + i, &r, 8);
        }
    } else if (k == K_DEFECT && rn(f, 16) == 0) {
        struct spatten_hw_desc_v3 d3;

        f->descs_v3++;
        valid_job_v3(f, &d3, rn(f, 2), false);
        d3.tag = cpu_to_le32(tag);
        memcpy(e, &d3, SPATTEN_DESC_SIZE);
        return SPATTEN_HW_ERR_VERSION;
    }
    expect = make_desc_v2(f, (struct spatten_hw_desc *)e, k, tag);
    return expect;
}

static bool cq_peek(Fz *f, struct spatten_hw_cqe *e)
{
    qtest_memread(f->qts, f->cq + f->cq_head * SPATTEN_CQE_SIZE, e,
                  sizeof(*e));
    return !!(le16_to_cpu(e->flags) & SPATTEN_CQE_F_PHASE) == f->phase;
}

static void cq_pop(Fz *f)
{
    if (++f->cq_head == RING) {
        f->cq_head = 0;
        f->phase = !f->phase;
    }
    wr(f, SPATTEN_REG_CQ_HEAD_DB(0), f->cq_head);
}

/* Post @n descriptors at once, ring, collect and check every completion. */
static void run_batch(Fz *f, unsigned n, uint32_t tag0)
{
    const uint32_t es = f->esize;
    g_autofree uint8_t *d = g_malloc0(BATCH * es);
    int expect[BATCH];
    uint8_t seen[BATCH] = { 0 };
    uint64_t ok0 = cnt(f, 0), err0 = cnt(f, 1);
    unsigned i, got = 0;
    gint64 end;

    g_assert(n <= BATCH);
    for (i = 0; i < n; i++) {
        enum kind k = rn(f, 10) < 2 ? K_VALID : (enum kind)(1 + rn(f, 3));

        expect[i] = make_desc(f, d + i * es, k, tag0 + i);
        f->by_kind[k]++;
    }
    /* Write the entries, in at most two pieces around the wrap. */
    for (i = 0; i < n;) {
        unsigned room = RING - f->sq_tail, m = MIN(room, n - i);

        qtest_memwrite(f->qts, f->sq + f->sq_tail * es, d + i * es, m * es);
        f->sq_tail = (f->sq_tail + m) % RING;
        i += m;
    }
    wr(f, SPATTEN_REG_SQ_TAIL_DB(0), f->sq_tail);
    end = g_get_monotonic_time() + POLL_US;
    while (got < n) {
        struct spatten_hw_cqe e;
        uint32_t tag;
        unsigned st;

        if (!cq_peek(f, &e)) {
            g_assert_cmpint(g_get_monotonic_time(), <, end);
            g_usleep(200);
            continue;
        }
        tag = le32_to_cpu(e.tag);
        st = le16_to_cpu(e.status);
        g_assert_cmpuint(tag - tag0, <, n);
        i = tag - tag0;
        g_assert_cmpuint(seen[i], ==, 0);       /* exactly once */
        seen[i] = 1;
        g_assert_cmpuint(st, <=, SPATTEN_HW_STATUS_MAX);
        g_assert_cmpuint(st, !=, SPATTEN_HW_ERR_ABORTED);
        if (expect[i] >= 0 && (unsigned)expect[i] != st) {
            g_autofree char *hex = g_strnfill(0, 0);
            unsigned b;

            for (b = 0; b < es; b += 4) {
                uint32_t w;
                char *t;

                memcpy(&w, d + i * es + b, 4);
                t = g_strdup_printf("%s %08x", hex, w);
                g_free(hex);
                hex = t;
            }
            printf("# tag %u: status %u, expected %d; %u-byte entry:%s\n",
                   tag, st, expect[i], es, hex);
            g_assert_cmpuint(st, ==, expect[i]);
        }
        f->by_status[st]++;
        got++;
        cq_pop(f);
    }
    f->descs += n;
    /* The counters account for every job. */
    g_assert_cmpuint(cnt(f, 0) + cnt(f, 1), ==, ok0 + err0 + n);
    g_assert_cmphex(rd(f, SPATTEN_REG_Q(0, SPATTEN_QREG_STATUS)), ==,
                    SPATTEN_QSTS_ENABLED);
}

/* A plain NOP goes through: the device still works. */
static void nop_check(Fz *f)
{
    struct spatten_hw_desc_v3 d;
    struct spatten_hw_cqe e;
    gint64 end = g_get_monotonic_time() + POLL_US;

    if (f->esize == SPATTEN_SQE_SIZE_MAX && rn(f, 2)) {
        desc_nop_v3(&d, 0xfeed);
    } else {
        memset(&d, 0, sizeof(d));
        desc_nop((struct spatten_hw_desc *)&d, 0xfeed);
    }
    qtest_memwrite(f->qts, f->sq + f->sq_tail * f->esize, &d, f->esize);
    f->sq_tail = (f->sq_tail + 1) % RING;
    wr(f, SPATTEN_REG_SQ_TAIL_DB(0), f->sq_tail);
    while (!cq_peek(f, &e)) {
        g_assert_cmpint(g_get_monotonic_time(), <, end);
        g_usleep(200);
    }
    g_assert_cmphex(le32_to_cpu(e.tag), ==, 0xfeed);
    g_assert_cmpuint(le16_to_cpu(e.status), ==, SPATTEN_HW_OK);
    cq_pop(f);
    f->descs++;
}

static void wait_posted(Fz *f, unsigned n)
{
    gint64 end = g_get_monotonic_time() + POLL_US;

    while (cnt(f, 0) + cnt(f, 1) < n) {
        g_assert_cmpint(g_get_monotonic_time(), <, end);
        g_usleep(200);
    }
}

/* Ring, doorbell and register abuse; the queue works again afterwards. */
static void abuse(Fz *f)
{
    uint8_t d[SPATTEN_SQE_SIZE_MAX];
    uint32_t st, i, n;
    uint64_t a;

    f->ring_abuse++;
    switch (rn(f, 8)) {
    case 0:     /* SQ tail out of range: ERROR, ignored */
        wr(f, SPATTEN_REG_SQ_TAIL_DB(0), RING + rn(f, 100000));
        st = rd(f, SPATTEN_REG_Q(0, SPATTEN_QREG_STATUS));
        g_assert_cmphex(st, ==, SPATTEN_QSTS_ENABLED | SPATTEN_QSTS_ERROR);
        break;
    case 1:     /* CQ head past what was posted: ERROR, ignored */
        wr(f, SPATTEN_REG_CQ_HEAD_DB(0), (f->cq_head + 1 + rn(f, 200)) %
                                         (RING + rn(f, 2) * 1000));
        st = rd(f, SPATTEN_REG_Q(0, SPATTEN_QREG_STATUS));
        g_assert_cmphex(st, ==, SPATTEN_QSTS_ENABLED | SPATTEN_QSTS_ERROR);
        break;
    case 2:     /* enable with a bad configuration: stays disabled */
        wr(f, SPATTEN_REG_Q(0, SPATTEN_QREG_CTRL), 0);
        switch (rn(f, 6)) {
        case 0:
            wr(f, SPATTEN_REG_Q(0, SPATTEN_QREG_SQ_BASE_LO),
               (uint32_t)f->sq + 8 * (1 + rn(f, 500)));
            break;
        case 5:     /* SQ entries neither 256 nor 512 bytes (0 is 256) */
            do {
                n = rn(f, 2) ? rn(f, 2048) : (uint32_t)rnd(f);
            } while (n == 0 || n == SPATTEN_DESC_SIZE ||
                     n == SPATTEN_SQE_SIZE_MAX);
            wr(f, SPATTEN_REG_Q(0, SPATTEN_QREG_SQ_ENTRY_SIZE), n);
            break;
        case 1:
            wr(f, SPATTEN_REG_Q(0, SPATTEN_QREG_SQ_SIZE), rn(f, 2));
            break;
        case 2:
            wr(f, SPATTEN_REG_Q(0, SPATTEN_QREG_CQ_SIZE),
               1025 + rn(f, 1u << 30));
            break;
        case 3:
            wr(f, SPATTEN_REG_Q(0, SPATTEN_QREG_CQ_BASE_HI),
               1u << (16 + rn(f, 16)));
            break;
        default:    /* rejected at once; the vector stays valid */
            wr(f, SPATTEN_REG_Q(0, SPATTEN_QREG_IRQ_VECTOR), 4 + rnd(f) % 100);
            st = rd(f, SPATTEN_REG_Q(0, SPATTEN_QREG_STATUS));
            g_assert_cmphex(st, ==, SPATTEN_QSTS_ERROR);
            wr(f, SPATTEN_REG_Q(0, SPATTEN_QREG_SQ_SIZE), 1);
            break;
        }
        wr(f, SPATTEN_REG_Q(0, SPATTEN_QREG_CTRL), SPATTEN_QCTRL_ENABLE);
        st = rd(f, SPATTEN_REG_Q(0, SPATTEN_QREG_STATUS));
        g_assert_cmphex(st, ==, SPATTEN_QSTS_ERROR);
        break;
    case 3:     /* SQ in unbacked memory: every SQE read fails */
        n = 1 + rn(f, 20);
        wr(f, SPATTEN_REG_CTRL, SPATTEN_CTRL_RESET);
        wr(f, SPATTEN_REG_CTRL, SPATTEN_CTRL_ENABLE);
        queue_program(f, UNBACKED, f->cq);
        qtest_memset(f->qts, f->cq, 0, RING * SPATTEN_CQE_SIZE);
        wr(f, SPATTEN_REG_SQ_TAIL_DB(0), n);
        wait_posted(f, n);
        for (i = 0; i < n; i++) {
            struct spatten_hw_cqe e;

            qtest_memread(f->qts, f->cq + i * SPATTEN_CQE_SIZE, &e,
                          sizeof(e));
            g_assert_cmpuint(le16_to_cpu(e.status), ==,
                             SPATTEN_HW_ERR_DMA_READ);
        }
        g_assert_cmpuint(cnt(f, 1), ==, n);
        f->sqe_fail += n;
        f->descs += n;
        break;
    case 4:     /* CQ in unbacked memory: posting fails, ERROR, counted */
        n = 1 + rn(f, 20);
        wr(f, SPATTEN_REG_CTRL, SPATTEN_CTRL_RESET);
        wr(f, SPATTEN_REG_CTRL, SPATTEN_CTRL_ENABLE);
        queue_program(f, f->sq, UNBACKED);
        for (i = 0; i < n; i++) {
            make_desc(f, d, K_VALID, i);
            qtest_memwrite(f->qts, f->sq + i * f->esize, d, f->esize);
        }
        wr(f, SPATTEN_REG_SQ_TAIL_DB(0), n);
        wait_posted(f, n);
        g_assert_cmpuint(cnt(f, 1), ==, n);
        st = rd(f, SPATTEN_REG_Q(0, SPATTEN_QREG_STATUS));
        g_assert_cmphex(st & SPATTEN_QSTS_ERROR, ==, SPATTEN_QSTS_ERROR);
        f->cqe_fail += n;
        f->descs += n;
        break;
    case 5:     /* reset with jobs in flight: nothing posted afterwards */
        n = 1 + rn(f, BATCH);
        for (i = 0; i < n; i++) {
            make_desc(f, d, (enum kind)rn(f, K_NKINDS), 0x8000 + i);
            qtest_memwrite(f->qts, f->sq + ((f->sq_tail + i) % RING) *
                           f->esize, d, f->esize);
        }
        f->sq_tail = (f->sq_tail + n) % RING;
        wr(f, SPATTEN_REG_SQ_TAIL_DB(0), f->sq_tail);
        wr(f, SPATTEN_REG_CTRL, SPATTEN_CTRL_RESET);
        qtest_memset(f->qts, f->cq, 0, RING * SPATTEN_CQE_SIZE);
        g_usleep(20 * 1000);
        for (i = 0; i < RING; i++) {
            struct spatten_hw_cqe e;

            qtest_memread(f->qts, f->cq + i * SPATTEN_CQE_SIZE, &e,
                          sizeof(e));
            g_assert_cmphex(le16_to_cpu(e.flags), ==, 0);
        }
        g_assert_cmpuint(cnt(f, 0) + cnt(f, 1), ==, 0);
        f->dropped_by_reset += n;
        f->descs += n;
        break;
    case 6:     /* random writes anywhere in BAR0 (CTRL, FAULT excluded) */
        n = 1 + rn(f, 64);
        for (i = 0; i < n; i++) {
            a = rn(f, 0x3000) & ~3u;
            if (a == SPATTEN_REG_CTRL || a == SPATTEN_REG_FAULT) {
                continue;
            }
            wr(f, a, rn(f, 3) ? rn(f, 1024) : (uint32_t)rnd(f));
            f->reg_writes++;
        }
        /* Jobs the writes started may still run: let them finish. */
        g_usleep(5 * 1000);
        break;
    default:    /* device disabled mid-way, then enabled again */
        wr(f, SPATTEN_REG_CTRL, 0);
        g_assert_cmphex(rd(f, SPATTEN_REG_STATUS) & SPATTEN_STS_READY, ==, 0);
        wr(f, SPATTEN_REG_CTRL, SPATTEN_CTRL_ENABLE);
        break;
    }
    device_reset(f);
    nop_check(f);
}

static void test_fuzz(void)
{
    const char *env = getenv("SPATTEN_FUZZ_DESCS");
    const char *seed = getenv("SPATTEN_FUZZ_SEED");
    const char *ext = getenv("SPATTEN_FUZZ_V3_EXT");
    uint64_t target = env ? strtoull(env, NULL, 0) : 20000;
    Fz *f = g_new0(Fz, 1);
    uint8_t *mem;
    uint64_t *pl;
    uint32_t tag = 1;
    gint64 t0 = g_get_monotonic_time();
    unsigned i;

    f->rng = seed ? strtoull(seed, NULL, 0) | 1 : 0x5eed5eedull;
    f->v3_ext_strict = ext && !strcmp(ext, "strict");
    f->qs = qtest_pc_boot("-M q35 -device spatten,id=sp0,addr=%02x.0,"
                          "max-context=%u,max-heads=%u,queue-depth=%u",
                          SLOT, MAX_CTX, MAX_HEADS, RING);
    f->qts = f->qs->qts;
    f->dev = qpci_device_find(f->qs->pcibus, QPCI_DEVFN(SLOT, 0));
    g_assert(f->dev);
    qpci_device_enable(f->dev);
    f->bar = qpci_iomap(f->dev, SPATTEN_BAR_REGS, NULL);

    f->sq = alloc_aligned(f, RING * SPATTEN_SQE_SIZE_MAX);
    f->cq = alloc_aligned(f, RING * SPATTEN_CQE_SIZE);
    f->pl = alloc_aligned(f, 2 * PL_PAGES * 8);
    f->meta = alloc_aligned(f, META_SIZE);
    f->data = alloc_aligned(f, DATA_SIZE);
    g_assert_cmphex(f->sq, <, f->data);
    g_assert_cmphex(f->cq, <, f->data);
    g_assert_cmphex(f->pl, <, f->data);
    /* Operands: small random S16 values; page lists: good, then shifted. */
    mem = g_malloc(DATA_SIZE);
    for (i = 0; i < DATA_SIZE; i += 2) {
        int16_t v = (int16_t)(rn(f, 4096) - 2048);
        memcpy(mem + i, &v, 2);
    }
    qtest_memwrite(f->qts, f->data, mem, DATA_SIZE);
    pl = g_new(uint64_t, 2 * PL_PAGES);
    for (i = 0; i < PL_PAGES; i++) {
        pl[i] = cpu_to_le64(f->data + i * 4096ull);
        pl[PL_PAGES + i] = cpu_to_le64(f->data + i * 4096ull + 8);
    }
    qtest_memwrite(f->qts, f->pl, pl, 2 * PL_PAGES * 8);
    g_free(pl);
    /* Token importance zero; an alive list 1, 0, 2, 3, ...: not ascending. */
    qtest_memset(f->qts, f->meta, 0, META_SIZE);
    for (i = 0; i < MAX_CTX; i++) {
        uint16_t t = cpu_to_le16(i == 0 ? 1 : i == 1 ? 0 : i);

        qtest_memwrite(f->qts, f->meta + 2048 + 2 * i, &t, 2);
    }
    /* v3: a block table (entries below TABLE_BLOCKS), key positions */
    for (i = 0; i < MAX_CTX; i++) {
        qtest_writel(f->qts, f->meta + META_TABLE + 4 * i,
                     (i * 3 + 1) % TABLE_BLOCKS);
        qtest_writel(f->qts, f->meta + META_POS + 4 * i, 2 * i);
    }
    g_free(mem);

    device_reset(f);
    f->resets = 0;
    while (f->descs < target) {
        unsigned n = 1 + rn(f, BATCH);

        run_batch(f, n, tag);
        tag += n;
        if (rn(f, 4) == 0) {
            abuse(f);
        }
    }
    nop_check(f);
    g_test_message("descriptors %" PRIu64, f->descs);
    printf("# fuzz: %" PRIu64 " descriptors in %.1f s (valid %" PRIu64
           ", one defect %" PRIu64 ", byte flips %" PRIu64 ", random %"
           PRIu64 "; SQE read failures %" PRIu64 ", CQE write failures %"
           PRIu64 ", dropped by reset %" PRIu64 "), %" PRIu64
           " ring/doorbell/register abuse rounds (%" PRIu64
           " random register writes), %" PRIu64 " resets\n",
           f->descs, (g_get_monotonic_time() - t0) / 1e6,
           f->by_kind[K_VALID], f->by_kind[K_DEFECT], f->by_kind[K_FLIPS],
           f->by_kind[K_RANDOM], f->sqe_fail, f->cqe_fail,
           f->dropped_by_reset, f->ring_abuse, f->reg_writes, f->resets);
    printf("# fuzz: %" PRIu64 " in 512-byte SQ entries; %" PRIu64
           " version 3 (%" PRIu64 " valid ones with GQA/KV layout/RoPE "
           "or paged with a short K/V buffer, expected %s)\n",
           f->descs_512, f->descs_v3, f->descs_v3_ext,
           f->v3_ext_strict ? "OK or ERR_BLOCK" : "to complete");
    printf("# fuzz: statuses");
    for (i = 0; i < NSTATUS; i++) {
        printf(" %u:%" PRIu64, i, f->by_status[i]);
    }
    printf("\n");
    fflush(stdout);
    g_free(f->dev);
    qtest_shutdown(f->qs);
    g_free(f);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    qtest_add_func("/spatten/fuzz", test_fuzz);
    return g_test_run();
}
