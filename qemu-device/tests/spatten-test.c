/*
 * QTest for the SpAtten virtual PCIe device (qemu-device/spatten*.c),
 * hardware interface 1.2.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * Registers and 1.2 capability words, queue configuration checks, NOP jobs
 * through a queue pair with SQ/CQ wrap-around and an MSI-X interrupt,
 * every error status the device posts (one case each, and that a failed
 * job writes nothing), ERR_NO_MEMORY through a small max-job-bytes, a
 * tiny attention job, page lists, token pruning (kept list, importance
 * write-back, pruned K/V rows not read), head pruning, progressive
 * quantization (LSB refetch always / never) and value pruning, CQ flow
 * control, round-robin fairness between queues, doorbells while disabled,
 * bus mastering off (DMA errors, no crash), CTRL.RESET and FLR, the
 * FAULT.RESET_STUCK test hook (cleared by FLR and by system reset),
 * timing=modeled on the virtual clock (and a reset while jobs wait for
 * it), model=eighth vs full, hot-unplug with jobs in flight.
 *
 * Hardware 1.2: the SQ_ENTRY_SIZE register (reset value, 0 as 256, checked
 * and latched by the enable, the ring's size in bytes), NOPs in 512-byte
 * entries, version-3 descriptors in 256-byte entries (ERR_VERSION, the
 * next entry at the right stride), and jobs checked against the engine
 * run in this process on the same entry bytes and memory (run_vs_engine:
 * status, every byte written, traffic, cycles, BYTES_META): a version-2
 * job in both entry sizes, version-3 jobs (packed, 32-bit rows, the
 * default max-context), the version-3 decode statuses, a paged KV cache
 * with a bad block-table entry (ERR_BLOCK), grouped-query heads with RoPE
 * and 32-bit lists.
 *
 * The engine's sources are linked in (spatten_engine_files in
 * tests/qtest/meson.build, see scripts/build-qemu.sh).
 *
 * Build: scripts/build-qemu.sh copies this file, spatten-qtest.h (the
 * fixture helpers the qtests share) and spatten_hw.h into tests/qtest/ of
 * the QEMU tree and adds 'spatten-test' to qtests_x86_64; run with
 * scripts/qtest-run.sh.
 */

#include "qemu/osdep.h"
#include "qemu/bswap.h"
#include "libqtest.h"
#include "libqos/libqos-pc.h"
#include "libqos/pci.h"
#include "qapi/qmp/qdict.h"
#include "standard-headers/linux/pci_regs.h"

#define SLOT            4
#define RING_ENTRIES    8
#define MSI_DATA        0x5a5a0000u
#define POLL_US         (20 * 1000 * 1000)
#define NQ              4

typedef struct SpQueue {
    uint64_t sq, cq;
    uint32_t sq_size, cq_size;
    uint32_t esize;         /* bytes per SQ entry: 256 or 512 */
    uint32_t sq_tail, cq_head;
    bool phase;
} SpQueue;

typedef struct Spatten {
    QOSState *qs;
    QTestState *qts;
    QPCIDevice *dev;
    QPCIBar bar;
    uint64_t msi_addr;
    SpQueue qp[NQ];
} Spatten;

#define SPATTEN_QTEST_STATE Spatten
#include "spatten-qtest.h"
#include "spe.h"

static void spatten_map(Spatten *s)
{
    qpci_device_enable(s->dev);
    s->bar = qpci_iomap(s->dev, SPATTEN_BAR_REGS, NULL);
}

static Spatten *spatten_start_on(const char *machine, const char *extra)
{
    Spatten *s = g_new0(Spatten, 1);

    s->qs = qtest_pc_boot("-M %s -device spatten,id=sp0,addr=%02x.0%s",
                          machine, SLOT, extra ? extra : "");
    s->qts = s->qs->qts;
    s->dev = qpci_device_find(s->qs->pcibus, QPCI_DEVFN(SLOT, 0));
    g_assert(s->dev);
    spatten_map(s);
    return s;
}

static Spatten *spatten_start(const char *extra)
{
    return spatten_start_on("q35", extra);
}

static void spatten_stop(Spatten *s)
{
    g_free(s->dev);
    qtest_shutdown(s->qs);
    g_free(s);
}

/*
 * Program and enable queue pair @q with @sq_size / @cq_size entries of
 * @esize bytes in the SQ; 0 leaves SQ_ENTRY_SIZE alone (256 after reset).
 */
static void queue_setup_esize(Spatten *s, unsigned q, uint32_t sq_size,
                              uint32_t cq_size, uint32_t esize)
{
    SpQueue *p = &s->qp[q];

    p->sq_size = sq_size;
    p->cq_size = cq_size;
    p->esize = esize ? esize : SPATTEN_DESC_SIZE;
    rings_alloc_esize(s, &p->sq, &p->cq, sq_size, cq_size, p->esize);
    p->sq_tail = p->cq_head = 0;
    p->phase = true;

    queue_write_rings(s, q, p->sq, p->cq, sq_size, cq_size);
    if (esize) {
        wr(s, SPATTEN_REG_Q(q, SPATTEN_QREG_SQ_ENTRY_SIZE), esize);
    }
    wr(s, SPATTEN_REG_Q(q, SPATTEN_QREG_IRQ_VECTOR), q);
    wr(s, SPATTEN_REG_Q(q, SPATTEN_QREG_CTRL), SPATTEN_QCTRL_ENABLE);
    g_assert_cmphex(rd(s, SPATTEN_REG_Q(q, SPATTEN_QREG_STATUS)), ==,
                    SPATTEN_QSTS_ENABLED);
}

static void queue_setup(Spatten *s, unsigned q, uint32_t sq_size,
                        uint32_t cq_size)
{
    queue_setup_esize(s, q, sq_size, cq_size, 0);
}

static void msix_setup(Spatten *s, unsigned vector)
{
    uint64_t e;

    qpci_msix_enable(s->dev);
    s->msi_addr = guest_alloc(&s->qs->alloc, 64);
    qtest_writel(s->qts, s->msi_addr, 0);
    e = s->dev->msix_table_off + vector * PCI_MSIX_ENTRY_SIZE;
    qpci_io_writel(s->dev, s->dev->msix_table_bar,
                   e + PCI_MSIX_ENTRY_LOWER_ADDR, (uint32_t)s->msi_addr);
    qpci_io_writel(s->dev, s->dev->msix_table_bar,
                   e + PCI_MSIX_ENTRY_UPPER_ADDR, s->msi_addr >> 32);
    qpci_io_writel(s->dev, s->dev->msix_table_bar,
                   e + PCI_MSIX_ENTRY_DATA, MSI_DATA + vector);
    qpci_io_writel(s->dev, s->dev->msix_table_bar,
                   e + PCI_MSIX_ENTRY_VECTOR_CTRL, 0);
}

/*
 * Write the @len bytes at @e into the SQ entry at the tail of queue @q
 * (the rest of the entry keeps what it had) and advance the tail by one
 * entry; does not ring the doorbell.
 */
static void sq_put_raw(Spatten *s, unsigned q, const void *e, size_t len)
{
    SpQueue *p = &s->qp[q];

    g_assert_cmpuint(len, <=, p->esize);
    qtest_memwrite(s->qts, p->sq + (uint64_t)p->sq_tail * p->esize, e, len);
    p->sq_tail = (p->sq_tail + 1) % p->sq_size;
}

/* Write @d at the SQ tail of queue @q (does not ring the doorbell). */
static void sq_put_q(Spatten *s, unsigned q, const struct spatten_hw_desc *d)
{
    sq_put_raw(s, q, d, sizeof(*d));
}

static void sq_ring(Spatten *s, unsigned q)
{
    wr(s, SPATTEN_REG_SQ_TAIL_DB(q), s->qp[q].sq_tail);
}

static bool cq_peek_q(Spatten *s, unsigned q, struct spatten_hw_cqe *e)
{
    SpQueue *p = &s->qp[q];

    qtest_memread(s->qts, p->cq + p->cq_head * SPATTEN_CQE_SIZE, e,
                  sizeof(*e));
    return !!(le16_to_cpu(e->flags) & SPATTEN_CQE_F_PHASE) == p->phase;
}

/* Wait for the next CQE of queue @q (workers are host threads: poll). */
static void cq_wait_q(Spatten *s, unsigned q, struct spatten_hw_cqe *e)
{
    gint64 end = g_get_monotonic_time() + POLL_US;

    while (!cq_peek_q(s, q, e)) {
        g_assert_cmpint(g_get_monotonic_time(), <, end);
        g_usleep(1000);
    }
}

/* Consume the CQE at the head of queue @q and ring its CQ head doorbell. */
static void cq_pop(Spatten *s, unsigned q)
{
    SpQueue *p = &s->qp[q];

    if (++p->cq_head == p->cq_size) {
        p->cq_head = 0;
        p->phase = !p->phase;
    }
    wr(s, SPATTEN_REG_CQ_HEAD_DB(q), p->cq_head);
}

/* Nothing new for @ms milliseconds in the CQ of queue @q. */
static void cq_expect_empty_q(Spatten *s, unsigned q, unsigned ms)
{
    struct spatten_hw_cqe e;
    unsigned i;

    for (i = 0; i < ms; i++) {
        g_assert_false(cq_peek_q(s, q, &e));
        g_usleep(1000);
    }
}

/* Queue 0 shorthands. */
static void sq_put(Spatten *s, const struct spatten_hw_desc *d)
{
    sq_put_q(s, 0, d);
}

static void cq_wait(Spatten *s, struct spatten_hw_cqe *e)
{
    cq_wait_q(s, 0, e);
}

static void cq_expect_empty(Spatten *s)
{
    cq_expect_empty_q(s, 0, 50);
}

/* Run @d on queue 0; check status and tag; the CQE in *@out if given. */
static void run_job(Spatten *s, const struct spatten_hw_desc *d,
                    unsigned status, struct spatten_hw_cqe *out)
{
    struct spatten_hw_cqe e;

    sq_put(s, d);
    sq_ring(s, 0);
    cq_wait(s, &e);
    g_assert_cmpuint(le16_to_cpu(e.status), ==, status);
    g_assert_cmphex(le32_to_cpu(e.tag), ==, le32_to_cpu(d->tag));
    g_assert_cmpuint(le16_to_cpu(e.sq_id), ==, 0);
    cq_pop(s, 0);
    if (out) {
        *out = e;
    }
}

static void expect_error(Spatten *s, struct spatten_hw_desc *d,
                         unsigned status)
{
    run_job(s, d, status, NULL);
}

static void test_registers(void)
{
    Spatten *s = spatten_start(NULL);
    unsigned q;

    g_assert_cmphex(qpci_config_readw(s->dev, PCI_VENDOR_ID), ==,
                    SPATTEN_PCI_VENDOR_ID);
    g_assert_cmphex(qpci_config_readw(s->dev, PCI_DEVICE_ID), ==,
                    SPATTEN_PCI_DEVICE_ID);
    g_assert_cmphex(qpci_config_readb(s->dev, PCI_REVISION_ID), ==, 1);
    g_assert_cmphex(qpci_config_readl(s->dev, PCI_CLASS_REVISION) >> 8, ==,
                    SPATTEN_PCI_CLASS);
    g_assert_cmpint(qpci_find_capability(s->dev, PCI_CAP_ID_EXP, 0), !=, 0);
    g_assert_cmpint(qpci_find_capability(s->dev, PCI_CAP_ID_MSI, 0), !=, 0);
    g_assert_cmpint(qpci_find_capability(s->dev, PCI_CAP_ID_MSIX, 0), !=, 0);
    g_assert_cmpint(qpci_msix_table_size(s->dev), ==, 4);

    g_assert_cmphex(rd(s, SPATTEN_REG_ID), ==, SPATTEN_HW_ID);
    g_assert_cmphex(rd(s, SPATTEN_REG_VERSION), ==, SPATTEN_HW_VERSION);
    g_assert_cmpuint(rd(s, SPATTEN_REG_CAP_ENGINES), ==, 2);
    g_assert_cmpuint(rd(s, SPATTEN_REG_CAP_QUEUES), ==, 4);
    g_assert_cmpuint(rd(s, SPATTEN_REG_CAP_QUEUE_DEPTH), ==, 1024);
    /* 128 Ki keys by default (descriptor version 3 has 32-bit rows) */
    g_assert_cmpuint(rd(s, SPATTEN_REG_CAP_MAX_CONTEXT), ==, 131072);
    g_assert_cmpuint(rd(s, SPATTEN_REG_CAP_MAX_HEADS), ==, 64);
    /* head_dim 16..256, 128 included */
    g_assert_cmphex(rd(s, SPATTEN_REG_CAP_HEAD_DIMS), ==, 0x1f0);
    /*
     * 1.2: every format, every split, pruning and progressive; descriptor
     * version 3 with grouped-query heads, KV layouts and RoPE
     */
    g_assert_cmphex(SPATTEN_HW_VERSION, ==, 0x00010002);
    g_assert_cmphex(rd(s, SPATTEN_REG_CAP_FORMATS), ==,
                    (1u << SPATTEN_FMT_S16) | (1u << SPATTEN_FMT_S4) |
                    (1u << SPATTEN_FMT_S6) | (1u << SPATTEN_FMT_S8) |
                    (1u << SPATTEN_FMT_S10) | (1u << SPATTEN_FMT_S12));
    g_assert_cmphex(rd(s, SPATTEN_REG_CAP_SPLITS), ==,
                    (1u << 4) | (1u << 6) | (1u << 8) | (1u << 10) |
                    (1u << 12));
    g_assert_cmphex(rd(s, SPATTEN_REG_CAP_FEATURES), ==,
                    SPATTEN_FEAT_CAUSAL | SPATTEN_FEAT_GENERATION |
                    SPATTEN_FEAT_PAGE_LIST | SPATTEN_FEAT_INTX |
                    SPATTEN_FEAT_TOKEN_PRUNE | SPATTEN_FEAT_HEAD_PRUNE |
                    SPATTEN_FEAT_VALUE_PRUNE | SPATTEN_FEAT_PROGRESSIVE |
                    SPATTEN_FEAT_DESC_V3 | SPATTEN_FEAT_GQA |
                    SPATTEN_FEAT_KV_LAYOUT | SPATTEN_FEAT_ROPE |
                    SPATTEN_FEAT_CHUNKS | SPATTEN_FEAT_IMP_PER_KV_HEAD);
    g_assert_cmpuint(rd(s, SPATTEN_REG_CAP_DMA_BITS), ==, 48);
    /* entries are 256 bytes at reset (old drivers), up to 512 */
    g_assert_cmpuint(rd(s, SPATTEN_REG_CAP_DESC_SIZE), ==, 256);
    g_assert_cmpuint(rd(s, SPATTEN_REG_CAP_DESC_SIZE_MAX), ==, 512);
    wr(s, SPATTEN_REG_CAP_DESC_SIZE_MAX, 256);
    g_assert_cmpuint(rd(s, SPATTEN_REG_CAP_DESC_SIZE_MAX), ==, 512);

    /* read-only registers ignore writes; unknown offsets read 0 */
    wr(s, SPATTEN_REG_ID, 0);
    wr(s, SPATTEN_REG_CAP_QUEUES, 99);
    g_assert_cmphex(rd(s, SPATTEN_REG_ID), ==, SPATTEN_HW_ID);
    g_assert_cmpuint(rd(s, SPATTEN_REG_CAP_QUEUES), ==, 4);
    g_assert_cmphex(rd(s, 0x3c), ==, 0);
    wr(s, 0x3c, 0xffffffff);
    g_assert_cmphex(rd(s, 0x3c), ==, 0);
    g_assert_cmphex(rd(s, SPATTEN_REG_Q(4, 0)), ==, 0);   /* queue 4 absent */
    g_assert_cmphex(rd(s, SPATTEN_BAR0_SIZE - 4), ==, 0);

    for (q = 0; q < SPATTEN_CNT_NUM; q++) {
        g_assert_cmpuint(cnt(s, q), ==, 0);
    }

    g_assert_cmphex(rd(s, SPATTEN_REG_STATUS), ==, 0);
    wr(s, SPATTEN_REG_CTRL, SPATTEN_CTRL_ENABLE);
    g_assert_cmphex(rd(s, SPATTEN_REG_CTRL), ==, SPATTEN_CTRL_ENABLE);
    g_assert_cmphex(rd(s, SPATTEN_REG_STATUS), ==, SPATTEN_STS_READY);

    /* queue registers: defaults and readback */
    for (q = 0; q < 4; q++) {
        g_assert_cmpuint(rd(s, SPATTEN_REG_Q(q, SPATTEN_QREG_IRQ_VECTOR)), ==,
                         q);
        g_assert_cmphex(rd(s, SPATTEN_REG_Q(q, SPATTEN_QREG_STATUS)), ==, 0);
        g_assert_cmpuint(rd(s, SPATTEN_REG_Q(q, SPATTEN_QREG_SQ_ENTRY_SIZE)),
                         ==, 256);
    }
    qpci_io_writeq(s->dev, s->bar, SPATTEN_REG_Q(1, SPATTEN_QREG_SQ_BASE_LO),
                   0x123456789000ull);
    g_assert_cmphex(rd(s, SPATTEN_REG_Q(1, SPATTEN_QREG_SQ_BASE_LO)), ==,
                    0x56789000);
    g_assert_cmphex(rd(s, SPATTEN_REG_Q(1, SPATTEN_QREG_SQ_BASE_HI)), ==,
                    0x1234);
    wr(s, SPATTEN_REG_Q(1, SPATTEN_QREG_CQ_BASE_LO), 0x2000);
    wr(s, SPATTEN_REG_Q(1, SPATTEN_QREG_SQ_SIZE), 16);
    wr(s, SPATTEN_REG_Q(1, SPATTEN_QREG_CQ_SIZE), 16);
    g_assert_cmpuint(rd(s, SPATTEN_REG_Q(1, SPATTEN_QREG_SQ_SIZE)), ==, 16);

    /* bad vector: refused, error flagged */
    wr(s, SPATTEN_REG_Q(1, SPATTEN_QREG_IRQ_VECTOR), 4);
    g_assert_cmpuint(rd(s, SPATTEN_REG_Q(1, SPATTEN_QREG_IRQ_VECTOR)), ==, 1);
    g_assert_cmphex(rd(s, SPATTEN_REG_Q(1, SPATTEN_QREG_STATUS)), ==,
                    SPATTEN_QSTS_ERROR);
    wr(s, SPATTEN_REG_Q(1, SPATTEN_QREG_CTRL), 0);     /* acknowledge */
    g_assert_cmphex(rd(s, SPATTEN_REG_Q(1, SPATTEN_QREG_STATUS)), ==, 0);

    /* misaligned base */
    wr(s, SPATTEN_REG_Q(1, SPATTEN_QREG_CQ_BASE_LO), 0x2040);
    wr(s, SPATTEN_REG_Q(1, SPATTEN_QREG_CTRL), SPATTEN_QCTRL_ENABLE);
    g_assert_cmphex(rd(s, SPATTEN_REG_Q(1, SPATTEN_QREG_STATUS)), ==,
                    SPATTEN_QSTS_ERROR);
    /* size out of range */
    wr(s, SPATTEN_REG_Q(1, SPATTEN_QREG_CQ_BASE_LO), 0x2000);
    wr(s, SPATTEN_REG_Q(1, SPATTEN_QREG_SQ_SIZE), 1025);
    wr(s, SPATTEN_REG_Q(1, SPATTEN_QREG_CTRL), SPATTEN_QCTRL_ENABLE);
    g_assert_cmphex(rd(s, SPATTEN_REG_Q(1, SPATTEN_QREG_STATUS)), ==,
                    SPATTEN_QSTS_ERROR);
    wr(s, SPATTEN_REG_Q(1, SPATTEN_QREG_SQ_SIZE), 1);
    wr(s, SPATTEN_REG_Q(1, SPATTEN_QREG_CTRL), SPATTEN_QCTRL_ENABLE);
    g_assert_cmphex(rd(s, SPATTEN_REG_Q(1, SPATTEN_QREG_STATUS)), ==,
                    SPATTEN_QSTS_ERROR);
    /* beyond 48 DMA bits */
    wr(s, SPATTEN_REG_Q(1, SPATTEN_QREG_SQ_SIZE), 16);
    wr(s, SPATTEN_REG_Q(1, SPATTEN_QREG_SQ_BASE_HI), 0x10000);
    wr(s, SPATTEN_REG_Q(1, SPATTEN_QREG_CTRL), SPATTEN_QCTRL_ENABLE);
    g_assert_cmphex(rd(s, SPATTEN_REG_Q(1, SPATTEN_QREG_STATUS)), ==,
                    SPATTEN_QSTS_ERROR);
    /* ring straddling the 48-bit limit */
    qpci_io_writeq(s->dev, s->bar, SPATTEN_REG_Q(1, SPATTEN_QREG_SQ_BASE_LO),
                   (1ull << 48) - 0x1000);
    wr(s, SPATTEN_REG_Q(1, SPATTEN_QREG_SQ_SIZE), 17);
    wr(s, SPATTEN_REG_Q(1, SPATTEN_QREG_CTRL), SPATTEN_QCTRL_ENABLE);
    g_assert_cmphex(rd(s, SPATTEN_REG_Q(1, SPATTEN_QREG_STATUS)), ==,
                    SPATTEN_QSTS_ERROR);
    wr(s, SPATTEN_REG_Q(1, SPATTEN_QREG_SQ_SIZE), 16);   /* ends at 2^48 */
    wr(s, SPATTEN_REG_Q(1, SPATTEN_QREG_CQ_BASE_LO), 0x10000);
    wr(s, SPATTEN_REG_Q(1, SPATTEN_QREG_CTRL), SPATTEN_QCTRL_ENABLE);
    g_assert_cmphex(rd(s, SPATTEN_REG_Q(1, SPATTEN_QREG_STATUS)), ==,
                    SPATTEN_QSTS_ENABLED);
    wr(s, SPATTEN_REG_Q(1, SPATTEN_QREG_CTRL), 0);
    wr(s, SPATTEN_REG_Q(1, SPATTEN_QREG_SQ_SIZE), 16);
    wr(s, SPATTEN_REG_Q(1, SPATTEN_QREG_CQ_SIZE), 16);
    wr(s, SPATTEN_REG_Q(1, SPATTEN_QREG_CQ_BASE_LO), 0x2000);
    wr(s, SPATTEN_REG_Q(1, SPATTEN_QREG_SQ_BASE_HI), 0);
    wr(s, SPATTEN_REG_Q(1, SPATTEN_QREG_SQ_BASE_LO), 0x56789000);
    /* valid: enables, clears the error, config becomes read-only */
    wr(s, SPATTEN_REG_Q(1, SPATTEN_QREG_SQ_BASE_HI), 0);
    wr(s, SPATTEN_REG_Q(1, SPATTEN_QREG_CTRL), SPATTEN_QCTRL_ENABLE);
    g_assert_cmphex(rd(s, SPATTEN_REG_Q(1, SPATTEN_QREG_STATUS)), ==,
                    SPATTEN_QSTS_ENABLED);
    g_assert_cmphex(rd(s, SPATTEN_REG_Q(1, SPATTEN_QREG_CTRL)), ==,
                    SPATTEN_QCTRL_ENABLE);
    wr(s, SPATTEN_REG_Q(1, SPATTEN_QREG_SQ_SIZE), 8);
    g_assert_cmpuint(rd(s, SPATTEN_REG_Q(1, SPATTEN_QREG_SQ_SIZE)), ==, 16);
    /* bad doorbells flag an error but keep the queue */
    wr(s, SPATTEN_REG_SQ_TAIL_DB(1), 16);
    g_assert_cmphex(rd(s, SPATTEN_REG_Q(1, SPATTEN_QREG_STATUS)), ==,
                    SPATTEN_QSTS_ENABLED | SPATTEN_QSTS_ERROR);
    wr(s, SPATTEN_REG_CQ_HEAD_DB(1), 3);   /* beyond what was posted */
    g_assert_cmphex(rd(s, SPATTEN_REG_Q(1, SPATTEN_QREG_STATUS)), ==,
                    SPATTEN_QSTS_ENABLED | SPATTEN_QSTS_ERROR);
    /* doorbells of absent queues are ignored */
    wr(s, SPATTEN_REG_SQ_TAIL_DB(15), 1);

    /* CTRL.RESET forgets everything */
    wr(s, SPATTEN_REG_CTRL, SPATTEN_CTRL_RESET);
    g_assert_cmphex(rd(s, SPATTEN_REG_CTRL), ==, 0);
    g_assert_cmphex(rd(s, SPATTEN_REG_STATUS), ==, 0);
    g_assert_cmphex(rd(s, SPATTEN_REG_Q(1, SPATTEN_QREG_STATUS)), ==, 0);
    g_assert_cmphex(rd(s, SPATTEN_REG_Q(1, SPATTEN_QREG_SQ_SIZE)), ==, 0);
    g_assert_cmphex(rd(s, SPATTEN_REG_Q(1, SPATTEN_QREG_SQ_BASE_LO)), ==, 0);

    spatten_stop(s);
}

static void test_nop_msix(void)
{
    Spatten *s = spatten_start(NULL);
    struct spatten_hw_desc d;
    struct spatten_hw_cqe e;
    unsigned i;

    queue_setup(s, 2, RING_ENTRIES, RING_ENTRIES);
    msix_setup(s, 2);
    wr(s, SPATTEN_REG_CTRL, SPATTEN_CTRL_ENABLE);

    /* more than one lap of the CQ: checks the phase flip */
    for (i = 0; i < RING_ENTRIES + 3; i++) {
        desc_nop(&d, 0xabc0 + i);
        sq_put_q(s, 2, &d);
        sq_ring(s, 2);
        cq_wait_q(s, 2, &e);
        g_assert_cmpuint(le16_to_cpu(e.status), ==, SPATTEN_HW_OK);
        g_assert_cmphex(le32_to_cpu(e.tag), ==, 0xabc0 + i);
        g_assert_cmpuint(le16_to_cpu(e.sq_id), ==, 2);
        g_assert_cmpuint(le16_to_cpu(e.sq_head), ==, s->qp[2].sq_tail);
        g_assert_cmpuint(le64_to_cpu(e.bytes_written), ==, 0);
        g_assert_cmphex(qtest_readl(s->qts, s->msi_addr), ==, MSI_DATA + 2);
        qtest_writel(s->qts, s->msi_addr, 0);
        /* INTX_STATUS is the INTx source: it stays clear under MSI-X */
        g_assert_cmphex(rd(s, SPATTEN_REG_INTX_STATUS), ==, 0);
        cq_pop(s, 2);
    }
    g_assert_cmpuint(cnt(s, SPATTEN_CNT_JOBS_OK), ==, RING_ENTRIES + 3);
    g_assert_cmpuint(cnt(s, SPATTEN_CNT_JOBS_ERR), ==, 0);
    g_assert_cmphex(rd(s, SPATTEN_REG_Q(2, SPATTEN_QREG_STATUS)), ==,
                    SPATTEN_QSTS_ENABLED);

    /* a batch in one doorbell */
    for (i = 0; i < 5; i++) {
        desc_nop(&d, 0x100 + i);
        sq_put_q(s, 2, &d);
    }
    sq_ring(s, 2);
    for (i = 0; i < 5; i++) {
        cq_wait_q(s, 2, &e);
        g_assert_cmpuint(le16_to_cpu(e.status), ==, SPATTEN_HW_OK);
        cq_pop(s, 2);
    }
    g_assert_cmpuint(cnt(s, SPATTEN_CNT_JOBS_OK), ==, RING_ENTRIES + 8);

    spatten_stop(s);
}

/*
 * Guest memory of one small job: one 4 KiB slot per operand, page
 * aligned, filled with a 0x55 sentinel (so "not written" is visible).
 */
typedef struct JobMem {
    uint64_t q, k, k_lsb, v, out;
    uint64_t tok_imp, tok_alive, tok_kept, pinned;
    uint64_t head_imp, head_alive, head_kept;
    uint64_t spare;
} JobMem;

static void jobmem_init(Spatten *s, JobMem *m)
{
    uint64_t base = alloc_aligned(s, 13 * 4096);

    qtest_memset(s->qts, base, 0x55, 13 * 4096);
    m->q = base;
    m->k = base + 1 * 4096;
    m->k_lsb = base + 2 * 4096;
    m->v = base + 3 * 4096;
    m->out = base + 4 * 4096;
    m->tok_imp = base + 5 * 4096;
    m->tok_alive = base + 6 * 4096;
    m->tok_kept = base + 7 * 4096;
    m->pinned = base + 8 * 4096;
    m->head_imp = base + 9 * 4096;
    m->head_alive = base + 10 * 4096;
    m->head_kept = base + 11 * 4096;
    m->spare = base + 12 * 4096;
}

/* Fill @n int16 elements at @addr with @val. */
static void fill16(Spatten *s, uint64_t addr, unsigned n, int16_t val)
{
    unsigned i;

    for (i = 0; i < n; i++) {
        qtest_writew(s->qts, addr + 2 * i, (uint16_t)val);
    }
}

static void write_list(Spatten *s, uint64_t addr, const uint16_t *l,
                       unsigned n)
{
    unsigned i;

    for (i = 0; i < n; i++) {
        qtest_writew(s->qts, addr + 2 * i, l[i]);
    }
}

/* Is [addr, addr + len) still the 0x55 sentinel? */
static bool untouched(Spatten *s, uint64_t addr, size_t len)
{
    g_autofree uint8_t *buf = g_malloc(len);
    size_t i;

    qtest_memread(s->qts, addr, buf, len);
    for (i = 0; i < len; i++) {
        if (buf[i] != 0x55) {
            return false;
        }
    }
    return true;
}

/*
 * A valid dense generation job on @m: 1 head, head_dim 16, 4 keys;
 * Q = 0 (uniform attention), V rows 100, 200, 300, 400.
 */
static void small_job(Spatten *s, JobMem *m, struct spatten_hw_desc *d,
                      uint32_t tag)
{
    unsigned j;

    fill16(s, m->q, 16, 0);
    for (j = 0; j < 4; j++) {
        fill16(s, m->k + 32 * j, 16, 64 * j);
        fill16(s, m->v + 32 * j, 16, 100 * (j + 1));
    }
    desc_attn(d, tag, 1, 16, 1, 4, true);
    set_buf(&d->q, m->q, 32);
    set_buf(&d->k, m->k, 4 * 32);
    set_buf(&d->v, m->v, 4 * 32);
    set_buf(&d->out, m->out, 32);
}

/*
 * Every error status the device posts, one case each, in the order of
 * the status codes; each failed job leaves its output untouched.
 */
static void test_errors(void)
{
    Spatten *s = spatten_start(NULL);
    struct spatten_hw_desc d;
    struct spatten_hw_cqe e;
    JobMem m;
    uint64_t list;
    unsigned n_err = 0;

    jobmem_init(s, &m);
    queue_setup(s, 0, RING_ENTRIES, RING_ENTRIES);
    wr(s, SPATTEN_REG_CTRL, SPATTEN_CTRL_ENABLE);

    /* the base job is valid: out = mean of V = 250 */
    small_job(s, &m, &d, 0x10);
    run_job(s, &d, SPATTEN_HW_OK, &e);
    g_assert_cmpint(abs((int16_t)qtest_readw(s->qts, m.out) - 250), <=, 1);
    g_assert_cmpuint(le64_to_cpu(e.bytes_written), ==, 32);
    qtest_memset(s->qts, m.out, 0x55, 4096);

#define EXPECT_FAIL(status) do {                        \
        expect_error(s, &d, (status));                  \
        n_err++;                                        \
        g_assert_true(untouched(s, m.out, 64));         \
    } while (0)

    small_job(s, &m, &d, 0x11);
    d.opcode = cpu_to_le16(77);
    EXPECT_FAIL(SPATTEN_HW_ERR_OPCODE);

    small_job(s, &m, &d, 0x12);
    d.version = 9;
    EXPECT_FAIL(SPATTEN_HW_ERR_VERSION);
    small_job(s, &m, &d, 0x13);
    d.desc_size = cpu_to_le16(128);
    EXPECT_FAIL(SPATTEN_HW_ERR_VERSION);

    small_job(s, &m, &d, 0x14);
    d.flags |= cpu_to_le16(0x8000);
    EXPECT_FAIL(SPATTEN_HW_ERR_FLAGS);
    small_job(s, &m, &d, 0x15);
    d.stage = 7;
    EXPECT_FAIL(SPATTEN_HW_ERR_FLAGS);

    small_job(s, &m, &d, 0x16);
    d.rsvd0 = cpu_to_le32(1);
    EXPECT_FAIL(SPATTEN_HW_ERR_RESERVED);
    small_job(s, &m, &d, 0x17);
    d.rsvd4 = cpu_to_le32(1);
    EXPECT_FAIL(SPATTEN_HW_ERR_RESERVED);

    small_job(s, &m, &d, 0x18);
    d.n_heads = cpu_to_le16(65);          /* max-heads is 64 */
    EXPECT_FAIL(SPATTEN_HW_ERR_SHAPE);
    small_job(s, &m, &d, 0x19);
    d.head_dim = cpu_to_le16(24);
    EXPECT_FAIL(SPATTEN_HW_ERR_SHAPE);

    small_job(s, &m, &d, 0x1a);
    d.q_start = cpu_to_le16(2);           /* generation: must be 3 */
    EXPECT_FAIL(SPATTEN_HW_ERR_POSITION);

    small_job(s, &m, &d, 0x1b);
    d.q_fmt = SPATTEN_FMT_S8;             /* Q must be S16 */
    EXPECT_FAIL(SPATTEN_HW_ERR_FORMAT);
    small_job(s, &m, &d, 0x1c);
    d.k_frac = 16;
    EXPECT_FAIL(SPATTEN_HW_ERR_FORMAT);

    small_job(s, &m, &d, 0x1d);
    d.out.len = cpu_to_le32(30);          /* too short */
    EXPECT_FAIL(SPATTEN_HW_ERR_BUFFER);
    small_job(s, &m, &d, 0x1e);
    set_buf(&d.tok_kept, m.tok_kept, 8);  /* present without token_keep */
    EXPECT_FAIL(SPATTEN_HW_ERR_BUFFER);

    /* V through a page list whose entry is not page-aligned */
    small_job(s, &m, &d, 0x1f);
    list = m.spare;
    qtest_writeq(s->qts, list, m.v + 8);
    d.v.addr = cpu_to_le64(list);
    d.v.flags = cpu_to_le16(SPATTEN_BUF_PAGE_LIST);
    EXPECT_FAIL(SPATTEN_HW_ERR_PAGE_LIST);

    /* an operand where there is no memory */
    small_job(s, &m, &d, 0x20);
    d.v.addr = cpu_to_le64(0xfff000000000ull);
    EXPECT_FAIL(SPATTEN_HW_ERR_DMA_READ);

    /* the output where there is no memory: reads done, nothing written */
    small_job(s, &m, &d, 0x21);
    d.out.addr = cpu_to_le64(0xfff000000000ull);
    sq_put(s, &d);
    sq_ring(s, 0);
    cq_wait(s, &e);
    cq_pop(s, 0);
    n_err++;
    g_assert_cmpuint(le16_to_cpu(e.status), ==, SPATTEN_HW_ERR_DMA_WRITE);
    g_assert_cmpuint(le64_to_cpu(e.bytes_q), ==, 32);
    g_assert_cmpuint(le64_to_cpu(e.bytes_v), ==, 4 * 32);
    g_assert_cmpuint(le64_to_cpu(e.bytes_written), ==, 0);

    /* keep counts: more tokens kept than there are */
    small_job(s, &m, &d, 0x22);
    d.token_keep = cpu_to_le16(5);
    set_buf(&d.tok_imp, m.tok_imp, 4 * 8);
    set_buf(&d.tok_kept, m.tok_kept, 5 * 2);
    EXPECT_FAIL(SPATTEN_HW_ERR_KEEP);
    /* pinned without token pruning */
    small_job(s, &m, &d, 0x23);
    d.n_pinned = cpu_to_le16(1);
    set_buf(&d.pinned, m.pinned, 2);
    EXPECT_FAIL(SPATTEN_HW_ERR_KEEP);
    /* at run time: two pinned tokens + the current one > token_keep 2 */
    small_job(s, &m, &d, 0x24);
    d.token_keep = cpu_to_le16(2);
    d.n_pinned = cpu_to_le16(2);
    set_buf(&d.tok_imp, m.tok_imp, 4 * 8);
    set_buf(&d.tok_kept, m.tok_kept, 2 * 2);
    set_buf(&d.pinned, m.pinned, 2 * 2);
    write_list(s, m.pinned, (const uint16_t[]){ 0, 1 }, 2);
    qtest_memset(s->qts, m.tok_imp, 0, 4 * 8);
    EXPECT_FAIL(SPATTEN_HW_ERR_KEEP);
    g_assert_true(untouched(s, m.tok_kept, 8));

    /* an alive list that is not ascending */
    small_job(s, &m, &d, 0x25);
    d.n_tok_alive = cpu_to_le16(2);
    set_buf(&d.tok_alive, m.tok_alive, 2 * 2);
    write_list(s, m.tok_alive, (const uint16_t[]){ 2, 1 }, 2);
    EXPECT_FAIL(SPATTEN_HW_ERR_LIST);
    /* a head that does not exist */
    small_job(s, &m, &d, 0x26);
    d.n_head_alive = cpu_to_le16(1);
    set_buf(&d.head_alive, m.head_alive, 2);
    write_list(s, m.head_alive, (const uint16_t[]){ 1 }, 1);
    EXPECT_FAIL(SPATTEN_HW_ERR_LIST);
#undef EXPECT_FAIL

    g_assert_cmpuint(cnt(s, SPATTEN_CNT_JOBS_ERR), ==, n_err);
    g_assert_cmpuint(cnt(s, SPATTEN_CNT_JOBS_OK), ==, 1);

    /* a NOP with a stray field */
    desc_nop(&d, 0x27);
    d.kv_rows = cpu_to_le16(1);
    expect_error(s, &d, SPATTEN_HW_ERR_RESERVED);

    /* the device keeps working */
    small_job(s, &m, &d, 0x28);
    run_job(s, &d, SPATTEN_HW_OK, NULL);
    g_assert_cmpint(abs((int16_t)qtest_readw(s->qts, m.out) - 250), <=, 1);
    spatten_stop(s);
}

/* max-job-bytes too small for the job's writes: ERR_NO_MEMORY. */
static void test_no_memory(void)
{
    Spatten *s = spatten_start(",max-job-bytes=64");
    struct spatten_hw_desc d;
    JobMem m;
    unsigned j;

    jobmem_init(s, &m);
    queue_setup(s, 0, RING_ENTRIES, RING_ENTRIES);
    wr(s, SPATTEN_REG_CTRL, SPATTEN_CTRL_ENABLE);

    /* 32 bytes of output fit */
    small_job(s, &m, &d, 0x30);
    run_job(s, &d, SPATTEN_HW_OK, NULL);
    qtest_memset(s->qts, m.out, 0x55, 4096);

    /* 4 heads x 32 bytes do not: nothing written */
    small_job(s, &m, &d, 0x31);
    for (j = 0; j < 4 * 4; j++) {
        fill16(s, m.k + 32 * j, 16, 0);
        fill16(s, m.v + 32 * j, 16, 100);
    }
    d.n_heads = cpu_to_le16(4);
    set_buf(&d.q, m.q, 4 * 32);
    set_buf(&d.k, m.k, 4 * 4 * 32);
    set_buf(&d.v, m.v, 4 * 4 * 32);
    set_buf(&d.out, m.out, 4 * 32);
    expect_error(s, &d, SPATTEN_HW_ERR_NO_MEMORY);
    g_assert_true(untouched(s, m.out, 4 * 32));
    g_assert_cmpuint(cnt(s, SPATTEN_CNT_BYTES_WRITTEN), ==, 32);
    spatten_stop(s);
}

/*
 * Token pruning in generation: 8 keys, keep 4.  The current token (7) is
 * always kept; the other places go to the largest importance.  Q = 0, so
 * attention is uniform over the kept keys: each gains 2^15 / 4.  The V
 * rows of pruned tokens are huge, so the output shows they took no part;
 * the byte counters show their K and V rows were not read.
 */
static void test_token_prune(void)
{
    static const uint64_t imp0[8] = { 100, 5000, 10, 3000, 20, 4000, 1, 0 };
    static const uint16_t kept[4] = { 1, 3, 5, 7 };
    Spatten *s = spatten_start(NULL);
    struct spatten_hw_desc d;
    struct spatten_hw_cqe e;
    uint64_t imp[8], meta0;
    JobMem m;
    unsigned i, j;

    jobmem_init(s, &m);
    queue_setup(s, 0, RING_ENTRIES, RING_ENTRIES);
    wr(s, SPATTEN_REG_CTRL, SPATTEN_CTRL_ENABLE);

    fill16(s, m.q, 16, 0);
    for (j = 0; j < 8; j++) {
        fill16(s, m.k + 32 * j, 16, 37 * j - 100);
        fill16(s, m.v + 32 * j, 16, j & 1 ? 100 * (j + 1) : 30000);
        qtest_writeq(s->qts, m.tok_imp + 8 * j, imp0[j]);
    }
    desc_attn(&d, 0x40, 1, 16, 1, 8, true);
    set_buf(&d.q, m.q, 32);
    set_buf(&d.k, m.k, 8 * 32);
    set_buf(&d.v, m.v, 8 * 32);
    set_buf(&d.out, m.out, 32);
    d.token_keep = cpu_to_le16(4);
    set_buf(&d.tok_imp, m.tok_imp, 8 * 8);
    set_buf(&d.tok_kept, m.tok_kept, 4 * 2);
    d.topk_seed = cpu_to_le32(12345);
    run_job(s, &d, SPATTEN_HW_OK, &e);

    for (i = 0; i < 4; i++) {
        g_assert_cmpuint(qtest_readw(s->qts, m.tok_kept + 2 * i), ==,
                         kept[i]);
    }
    for (j = 0; j < 8; j++) {
        imp[j] = qtest_readq(s->qts, m.tok_imp + 8 * j);
        g_assert_cmpuint(imp[j], ==, imp0[j] + (j & 1 ? 8192 : 0));
    }
    /* out = mean of V rows 1, 3, 5, 7 = (200 + 400 + 600 + 800) / 4 */
    for (i = 0; i < 16; i++) {
        g_assert_cmpint(abs((int16_t)qtest_readw(s->qts, m.out + 2 * i) -
                            500), <=, 1);
    }
    /* only the 4 kept K and V rows were read; tok_imp read once */
    g_assert_cmpuint(le64_to_cpu(e.bytes_q), ==, 32);
    g_assert_cmpuint(le64_to_cpu(e.bytes_k_msb), ==, 4 * 32);
    g_assert_cmpuint(le64_to_cpu(e.bytes_k_lsb), ==, 0);
    g_assert_cmpuint(le64_to_cpu(e.bytes_v), ==, 4 * 32);
    g_assert_cmpuint(le64_to_cpu(e.bytes_written), ==, 32 + 8 * 8 + 4 * 2);
    g_assert_cmpuint(le32_to_cpu(e.lsb_refetches), ==, 0);
    g_assert_cmpuint(le64_to_cpu(e.cycles), >, 0);
    g_assert_cmpuint(cnt(s, SPATTEN_CNT_BYTES_META), ==, 8 * 8);
    g_assert_cmpuint(cnt(s, SPATTEN_CNT_BYTES_K_MSB), ==, 4 * 32);
    g_assert_cmpuint(cnt(s, SPATTEN_CNT_BYTES_V), ==, 4 * 32);
    meta0 = cnt(s, SPATTEN_CNT_BYTES_META);

    /*
     * The next layer: alive = the kept list, token 3 pinned, keep 2: the
     * pinned token and the current one fill the budget.
     */
    write_list(s, m.tok_alive, kept, 4);
    write_list(s, m.pinned, (const uint16_t[]){ 3 }, 1);
    qtest_memset(s->qts, m.tok_kept, 0x55, 16);
    d.tag = cpu_to_le32(0x41);
    d.n_tok_alive = cpu_to_le16(4);
    set_buf(&d.tok_alive, m.tok_alive, 4 * 2);
    d.n_pinned = cpu_to_le16(1);
    set_buf(&d.pinned, m.pinned, 2);
    d.token_keep = cpu_to_le16(2);
    set_buf(&d.tok_kept, m.tok_kept, 2 * 2);
    run_job(s, &d, SPATTEN_HW_OK, &e);
    g_assert_cmpuint(qtest_readw(s->qts, m.tok_kept), ==, 3);
    g_assert_cmpuint(qtest_readw(s->qts, m.tok_kept + 2), ==, 7);
    g_assert_true(untouched(s, m.tok_kept + 4, 12));
    for (j = 0; j < 8; j++) {
        g_assert_cmpuint(qtest_readq(s->qts, m.tok_imp + 8 * j), ==,
                         imp[j] + (j == 3 || j == 7 ? 16384 : 0));
    }
    /* (400 + 800) / 2 */
    g_assert_cmpint(abs((int16_t)qtest_readw(s->qts, m.out) - 600), <=, 1);
    g_assert_cmpuint(le64_to_cpu(e.bytes_k_msb), ==, 2 * 32);
    g_assert_cmpuint(le64_to_cpu(e.bytes_v), ==, 2 * 32);
    /* importance, alive list and pinned list */
    g_assert_cmpuint(cnt(s, SPATTEN_CNT_BYTES_META) - meta0, ==,
                     8 * 8 + 4 * 2 + 2);
    g_assert_cmpuint(cnt(s, SPATTEN_CNT_JOBS_OK), ==, 2);
    spatten_stop(s);
}

/*
 * Head pruning: 4 heads, heads 0, 1 and 3 alive, keep 2.  Each head's V
 * rows are one constant, so its output is that constant and its
 * importance grows by 16 * c << 8.  Head 2 is not computed: its output
 * rows stay untouched and its importance keeps its value.
 */
static void test_head_prune(void)
{
    static const int16_t c[4] = { 100, 400, 50, 300 };
    Spatten *s = spatten_start(NULL);
    struct spatten_hw_desc d;
    struct spatten_hw_cqe e;
    JobMem m;
    unsigned h, j, i;

    jobmem_init(s, &m);
    queue_setup(s, 0, RING_ENTRIES, RING_ENTRIES);
    wr(s, SPATTEN_REG_CTRL, SPATTEN_CTRL_ENABLE);

    fill16(s, m.q, 4 * 16, 0);
    for (h = 0; h < 4; h++) {
        for (j = 0; j < 2; j++) {
            fill16(s, m.k + 32 * (2 * h + j), 16, 10 * j);
            fill16(s, m.v + 32 * (2 * h + j), 16, c[h]);
        }
        qtest_writeq(s->qts, m.head_imp + 8 * h, h == 2 ? 7 : 0);
    }
    write_list(s, m.head_alive, (const uint16_t[]){ 0, 1, 3 }, 3);
    desc_attn(&d, 0x50, 4, 16, 1, 2, true);
    set_buf(&d.q, m.q, 4 * 32);
    set_buf(&d.k, m.k, 4 * 2 * 32);
    set_buf(&d.v, m.v, 4 * 2 * 32);
    set_buf(&d.out, m.out, 4 * 32);
    d.n_head_alive = cpu_to_le16(3);
    set_buf(&d.head_alive, m.head_alive, 3 * 2);
    d.head_keep = cpu_to_le16(2);
    set_buf(&d.head_imp, m.head_imp, 4 * 8);
    set_buf(&d.head_kept, m.head_kept, 2 * 2);
    run_job(s, &d, SPATTEN_HW_OK, &e);

    g_assert_cmpuint(qtest_readw(s->qts, m.head_kept), ==, 1);
    g_assert_cmpuint(qtest_readw(s->qts, m.head_kept + 2), ==, 3);
    for (h = 0; h < 4; h++) {
        uint64_t imp = qtest_readq(s->qts, m.head_imp + 8 * h);

        if (h == 2) {
            g_assert_cmpuint(imp, ==, 7);
            g_assert_true(untouched(s, m.out + 32 * h, 32));
            continue;
        }
        for (i = 0; i < 16; i++) {
            g_assert_cmpint(abs((int16_t)qtest_readw(s->qts, m.out +
                                                     32 * h + 2 * i) -
                                c[h]), <=, 1);
        }
        g_assert_cmpint(llabs((long long)imp - 16LL * c[h] * 256), <=,
                        16 * 256);
    }
    /* the head that is not alive is not read */
    g_assert_cmpuint(le64_to_cpu(e.bytes_q), ==, 3 * 32);
    g_assert_cmpuint(le64_to_cpu(e.bytes_k_msb), ==, 3 * 2 * 32);
    g_assert_cmpuint(le64_to_cpu(e.bytes_v), ==, 3 * 2 * 32);
    g_assert_cmpuint(cnt(s, SPATTEN_CNT_BYTES_META), ==, 4 * 8 + 3 * 2);
    spatten_stop(s);
}

/*
 * Progressive quantization: 2 heads, 8 keys, K as a 4-bit MSB plane plus
 * the 4-bit LSB plane.  Q = 0 gives a flat distribution (largest
 * probability 1/8): threshold 2^15 refetches every (head, query) row,
 * threshold 0 none.  Then value pruning keeps 3 of 8 V rows per head.
 */
static void test_progressive(void)
{
    Spatten *s = spatten_start(NULL);
    struct spatten_hw_desc d;
    struct spatten_hw_cqe e;
    const unsigned row4 = 16 * 4 / 8;  /* bytes of a 4-bit row */
    JobMem m;
    unsigned j;

    jobmem_init(s, &m);
    queue_setup(s, 0, RING_ENTRIES, RING_ENTRIES);
    wr(s, SPATTEN_REG_CTRL, SPATTEN_CTRL_ENABLE);

    fill16(s, m.q, 2 * 16, 0);
    for (j = 0; j < 2 * 8; j++) {
        qtest_memset(s->qts, m.k + row4 * j, (j * 0x13) & 0xff, row4);
        qtest_memset(s->qts, m.k_lsb + row4 * j, 0xa5, row4);
        fill16(s, m.v + 32 * j, 16, 10 * (j % 8) + 10);
    }
    desc_attn(&d, 0x60, 2, 16, 1, 8, true);
    d.flags |= cpu_to_le16(SPATTEN_DESC_F_PROGRESSIVE);
    d.k_fmt = SPATTEN_FMT_S4;
    d.k_frac = 2;
    set_buf(&d.q, m.q, 2 * 32);
    set_buf(&d.k, m.k, 2 * 8 * row4);
    set_buf(&d.k_lsb, m.k_lsb, 2 * 8 * row4);
    set_buf(&d.v, m.v, 2 * 8 * 32);
    set_buf(&d.out, m.out, 2 * 32);

    d.lsb_threshold = cpu_to_le16(1u << 15);    /* always refetch */
    run_job(s, &d, SPATTEN_HW_OK, &e);
    g_assert_cmpuint(le32_to_cpu(e.lsb_refetches), ==, 2);
    g_assert_cmpuint(le64_to_cpu(e.bytes_k_msb), ==, 2 * 8 * row4);
    g_assert_cmpuint(le64_to_cpu(e.bytes_k_lsb), ==, 2 * 8 * row4);
    g_assert_cmpuint(le64_to_cpu(e.bytes_v), ==, 2 * 8 * 32);
    g_assert_cmpuint(cnt(s, SPATTEN_CNT_LSB_REFETCHES), ==, 2);
    /* mean of 10, 20, ..., 80 */
    g_assert_cmpint(abs((int16_t)qtest_readw(s->qts, m.out) - 45), <=, 1);

    d.tag = cpu_to_le32(0x61);
    d.lsb_threshold = 0;                        /* never */
    run_job(s, &d, SPATTEN_HW_OK, &e);
    g_assert_cmpuint(le32_to_cpu(e.lsb_refetches), ==, 0);
    g_assert_cmpuint(le64_to_cpu(e.bytes_k_msb), ==, 2 * 8 * row4);
    g_assert_cmpuint(le64_to_cpu(e.bytes_k_lsb), ==, 0);
    g_assert_cmpuint(cnt(s, SPATTEN_CNT_LSB_REFETCHES), ==, 2);
    g_assert_cmpuint(cnt(s, SPATTEN_CNT_BYTES_K_LSB), ==, 2 * 8 * row4);

    /* threshold above 2^15 is a keep-count error */
    d.tag = cpu_to_le32(0x62);
    d.lsb_threshold = cpu_to_le16((1u << 15) + 1);
    expect_error(s, &d, SPATTEN_HW_ERR_KEEP);
    /* a split the device does not offer: 16-bit MSBs */
    d.tag = cpu_to_le32(0x63);
    d.lsb_threshold = 0;
    d.k_fmt = SPATTEN_FMT_S16;
    expect_error(s, &d, SPATTEN_HW_ERR_FORMAT);

    /* value pruning: ties go to the lower index: V rows 0..2 per head */
    d.tag = cpu_to_le32(0x64);
    d.k_fmt = SPATTEN_FMT_S4;
    d.value_keep = cpu_to_le16(3);
    run_job(s, &d, SPATTEN_HW_OK, &e);
    g_assert_cmpuint(le64_to_cpu(e.bytes_v), ==, 2 * 3 * 32);
    g_assert_cmpuint(le64_to_cpu(e.bytes_k_lsb), ==, 0);
    spatten_stop(s);
}

/* desc_heavy() with the 0x55 sentinel in its output. */
static uint64_t desc_heavy_marked(Spatten *s, struct spatten_hw_desc *d,
                                  uint32_t tag)
{
    uint64_t out = desc_heavy(s, d, tag);

    qtest_memset(s->qts, out, 0x55, HEAVY_OUT);
    return out;
}

/*
 * One engine, queue 0 with a backlog of heavy jobs, then one NOP on queue
 * 1: round-robin serves queue 1 after at most the jobs already running or
 * next in line, not after the whole backlog.
 */
static void test_fairness(void)
{
    Spatten *s = spatten_start(",engines=1");
    struct spatten_hw_desc d;
    struct spatten_hw_cqe e;
    unsigned i, before;

    queue_setup(s, 0, RING_ENTRIES, RING_ENTRIES);
    queue_setup(s, 1, RING_ENTRIES, RING_ENTRIES);
    wr(s, SPATTEN_REG_CTRL, SPATTEN_CTRL_ENABLE);
    for (i = 0; i < 6; i++) {
        desc_heavy_marked(s, &d, 0x700 + i);
        sq_put_q(s, 0, &d);
    }
    sq_ring(s, 0);
    desc_nop(&d, 0x7ff);
    sq_put_q(s, 1, &d);
    sq_ring(s, 1);
    cq_wait_q(s, 1, &e);
    g_assert_cmphex(le32_to_cpu(e.tag), ==, 0x7ff);
    before = cnt(s, SPATTEN_CNT_JOBS_OK) - 1;    /* not the NOP */
    g_test_message("queue 0 jobs done before queue 1's NOP: %u", before);
    g_assert_cmpuint(before, <=, 3);      /* first-come order: 6 */
    cq_pop(s, 1);
    for (i = 0; i < 6; i++) {
        cq_wait_q(s, 0, &e);
        g_assert_cmpuint(le16_to_cpu(e.status), ==, SPATTEN_HW_OK);
        cq_pop(s, 0);
    }
    g_assert_cmpuint(cnt(s, SPATTEN_CNT_JOBS_OK), ==, 7);
    spatten_stop(s);
}

/*
 * timing=modeled: a completion is posted when the virtual clock reaches
 * submission + cycles (1 GHz), not before; one engine runs its jobs one
 * after the other in modeled time; a reset drops jobs waiting for their
 * time.  Under qtest the virtual clock only moves with clock_step.
 */
static void test_modeled(void)
{
    Spatten *s = spatten_start(",timing=modeled,engines=1");
    struct spatten_hw_desc d;
    struct spatten_hw_cqe e;
    uint64_t cycles;
    JobMem m;
    unsigned i;

    jobmem_init(s, &m);
    queue_setup(s, 0, RING_ENTRIES, RING_ENTRIES);
    wr(s, SPATTEN_REG_CTRL, SPATTEN_CTRL_ENABLE);

    /* first run: learn the cycles of the job */
    small_job(s, &m, &d, 0x80);
    sq_put(s, &d);
    sq_ring(s, 0);
    cq_expect_empty_q(s, 0, 300);
    qtest_clock_step(s->qts, 1000 * 1000 * 1000);
    cq_wait(s, &e);
    cq_pop(s, 0);
    g_assert_cmpuint(le16_to_cpu(e.status), ==, SPATTEN_HW_OK);
    cycles = le64_to_cpu(e.cycles);
    g_test_message("small job: %" PRIu64 " cycles", cycles);
    g_assert_cmpuint(cycles, >, 1);

    /* the same job: not a nanosecond early */
    d.tag = cpu_to_le32(0x81);
    sq_put(s, &d);
    sq_ring(s, 0);
    cq_expect_empty_q(s, 0, 200);
    qtest_clock_step(s->qts, cycles - 1);
    cq_expect_empty_q(s, 0, 200);
    qtest_clock_step(s->qts, 1);
    cq_wait(s, &e);
    g_assert_cmphex(le32_to_cpu(e.tag), ==, 0x81);
    g_assert_cmpuint(le64_to_cpu(e.cycles), ==, cycles);
    cq_pop(s, 0);

    /* two at once on one engine: the second finishes at 2 * cycles */
    d.tag = cpu_to_le32(0x82);
    sq_put(s, &d);
    d.tag = cpu_to_le32(0x83);
    sq_put(s, &d);
    sq_ring(s, 0);
    cq_expect_empty_q(s, 0, 200);
    qtest_clock_step(s->qts, cycles);
    cq_wait(s, &e);
    g_assert_cmphex(le32_to_cpu(e.tag), ==, 0x82);
    cq_pop(s, 0);
    qtest_clock_step(s->qts, cycles - 1);
    cq_expect_empty_q(s, 0, 200);
    qtest_clock_step(s->qts, 1);
    cq_wait(s, &e);
    g_assert_cmphex(le32_to_cpu(e.tag), ==, 0x83);
    cq_pop(s, 0);
    g_assert_cmpuint(cnt(s, SPATTEN_CNT_JOBS_OK), ==, 4);
    g_assert_cmpuint(cnt(s, SPATTEN_CNT_CYCLES), ==, 4 * cycles);

    /*
     * More jobs than the engine may hold computed ahead of the clock
     * (2 x engines): still one completion per `cycles`, none lost.
     */
    for (i = 0; i < 6; i++) {
        d.tag = cpu_to_le32(0x90 + i);
        sq_put(s, &d);
    }
    sq_ring(s, 0);
    for (i = 0; i < 6; i++) {
        cq_expect_empty_q(s, 0, 50);
        qtest_clock_step(s->qts, cycles);
        cq_wait(s, &e);
        g_assert_cmphex(le32_to_cpu(e.tag), ==, 0x90 + i);
        cq_pop(s, 0);
    }
    g_assert_cmpuint(cnt(s, SPATTEN_CNT_JOBS_OK), ==, 10);

    /* a reset while a job waits for its time: never posted, no write */
    qtest_memset(s->qts, m.out, 0x55, 64);
    d.tag = cpu_to_le32(0x84);
    sq_put(s, &d);
    sq_ring(s, 0);
    g_usleep(300 * 1000);     /* computed, waiting for the clock */
    wr(s, SPATTEN_REG_CTRL, SPATTEN_CTRL_RESET);
    qtest_clock_step(s->qts, 1000 * 1000 * 1000);
    g_usleep(100 * 1000);
    g_assert_cmpuint(cnt(s, SPATTEN_CNT_JOBS_OK), ==, 0);
    g_assert_true(untouched(s, m.out, 32));
    g_assert_cmphex(rd(s, SPATTEN_REG_INTX_STATUS), ==, 0);

    /* and the device works again from a fresh set-up */
    queue_setup(s, 0, RING_ENTRIES, RING_ENTRIES);
    wr(s, SPATTEN_REG_CTRL, SPATTEN_CTRL_ENABLE);
    d.tag = cpu_to_le32(0x85);
    sq_put(s, &d);
    sq_ring(s, 0);
    cq_expect_empty_q(s, 0, 100);
    qtest_clock_step(s->qts, cycles);
    cq_wait(s, &e);
    g_assert_cmphex(le32_to_cpu(e.tag), ==, 0x85);
    spatten_stop(s);
}

/*
 * timing=modeled with two engines: three identical jobs submitted at once
 * finish at T + cycles (two, in parallel) and T + 2 * cycles (the third,
 * after the first engine frees), whichever host thread computed them.
 */
static void test_modeled_engines(void)
{
    Spatten *s = spatten_start(",timing=modeled,engines=2");
    struct spatten_hw_desc d;
    struct spatten_hw_cqe e;
    uint64_t cycles;
    JobMem m;
    unsigned i, round;

    jobmem_init(s, &m);
    queue_setup(s, 0, RING_ENTRIES, RING_ENTRIES);
    wr(s, SPATTEN_REG_CTRL, SPATTEN_CTRL_ENABLE);
    small_job(s, &m, &d, 0xa0);
    sq_put(s, &d);
    sq_ring(s, 0);
    g_usleep(100 * 1000);
    qtest_clock_step(s->qts, 1000 * 1000 * 1000);
    cq_wait(s, &e);
    cq_pop(s, 0);
    cycles = le64_to_cpu(e.cycles);
    g_assert_cmpuint(cycles, >, 1);

    for (round = 0; round < 2; round++) {
        for (i = 0; i < 3; i++) {
            d.tag = cpu_to_le32(0xa1 + i);
            sq_put(s, &d);
        }
        sq_ring(s, 0);
        cq_expect_empty_q(s, 0, 200);
        qtest_clock_step(s->qts, cycles - 1);
        cq_expect_empty_q(s, 0, 100);
        qtest_clock_step(s->qts, 1);
        for (i = 0; i < 2; i++) {
            cq_wait(s, &e);
            g_assert_cmpuint(le16_to_cpu(e.status), ==, SPATTEN_HW_OK);
            cq_pop(s, 0);
        }
        cq_expect_empty_q(s, 0, 100);
        qtest_clock_step(s->qts, cycles - 1);
        cq_expect_empty_q(s, 0, 100);
        qtest_clock_step(s->qts, 1);
        cq_wait(s, &e);
        g_assert_cmphex(le32_to_cpu(e.tag), ==, 0xa3);
        cq_pop(s, 0);
        /* let the engines go idle in modeled time */
        qtest_clock_step(s->qts, 1000 * 1000);
    }
    g_assert_cmpuint(cnt(s, SPATTEN_CNT_JOBS_OK), ==, 7);
    spatten_stop(s);
}

/* A uint32 QOM property of the device (the x- ones are for tests). */
/*
 * timing=modeled, a job whose replay outlasts one bottom-half run (its
 * output is over SPATTEN_BH_MAX_BYTES) and a NOP taken after it.  The
 * NOP is computed first and waits for its turn; the big job is computed
 * after its modeled finish has passed, is posted at once and its replay
 * is cut short by the budget.  The NOP must still be posted when the
 * replay completes, with no further doorbell or clock step (it once
 * stayed on the modeled-order list until the guest submitted more).
 */
#define PARK_HEADS      16
#define PARK_ROWS       1024
#define PARK_DIM        64
#define PARK_BYTES      (PARK_HEADS * PARK_ROWS * PARK_DIM * 2)
static void test_modeled_park(void)
{
    Spatten *s = spatten_start(",timing=modeled,engines=2");
    uint64_t buf = alloc_aligned(s, 4 * PARK_BYTES);
    struct spatten_hw_desc big, nop;
    struct spatten_hw_cqe e;
    unsigned round, ok = 0;
    bool hit = false;

    G_STATIC_ASSERT(PARK_BYTES > 1024 * 1024);
    qtest_memset(s->qts, buf, 0, 4 * PARK_BYTES);
    desc_attn(&big, 0, PARK_HEADS, PARK_DIM, PARK_ROWS, PARK_ROWS, false);
    set_buf(&big.q, buf, PARK_BYTES);
    set_buf(&big.k, buf + PARK_BYTES, PARK_BYTES);
    set_buf(&big.v, buf + 2 * PARK_BYTES, PARK_BYTES);
    set_buf(&big.out, buf + 3 * PARK_BYTES, PARK_BYTES);
    queue_setup(s, 0, RING_ENTRIES, RING_ENTRIES);
    wr(s, SPATTEN_REG_CTRL, SPATTEN_CTRL_ENABLE);

    /*
     * The scenario needs the big job still computing when the clock
     * passes its modeled finish: checked after the step (nothing else
     * can be running then), retried if the host was too slow to get
     * there in time.
     */
    for (round = 0; round < 4 && !hit; round++) {
        big.tag = cpu_to_le32(0xc0 + 2 * round);
        desc_nop(&nop, 0xc1 + 2 * round);
        sq_put(s, &big);
        sq_put(s, &nop);
        sq_ring(s, 0);
        qtest_clock_step(s->qts, 10ll * 1000 * 1000 * 1000);
        hit = sp_prop(s, "x-running-jobs") == 1;
        g_test_message("round %u: big job still computing after the "
                       "clock step: %s", round, hit ? "yes" : "no");

        /* both posted, in order, without any further nudge */
        cq_wait(s, &e);
        g_assert_cmphex(le32_to_cpu(e.tag), ==, 0xc0 + 2 * round);
        g_assert_cmpuint(le16_to_cpu(e.status), ==, SPATTEN_HW_OK);
        g_assert_cmpuint(le64_to_cpu(e.bytes_written), ==, PARK_BYTES);
        cq_pop(s, 0);
        cq_wait(s, &e);
        g_assert_cmphex(le32_to_cpu(e.tag), ==, 0xc1 + 2 * round);
        g_assert_cmpuint(le16_to_cpu(e.status), ==, SPATTEN_HW_OK);
        cq_pop(s, 0);
        ok += 2;
        g_assert_cmpuint(cnt(s, SPATTEN_CNT_JOBS_OK), ==, ok);
    }
    g_assert_true(hit);
    spatten_stop(s);
}

/*
 * Wait until one job is computed and staged (off the engine), waiting for
 * the virtual clock.
 */
static void wait_staged(Spatten *s)
{
    gint64 end = g_get_monotonic_time() + POLL_US;

    while (sp_prop(s, "x-staged-jobs") != 1 ||
           sp_prop(s, "x-running-jobs") != 0) {
        g_assert_cmpint(g_get_monotonic_time(), <, end);
        g_usleep(1000);
    }
}

/*
 * timing=modeled, one engine: an entry the device could not read (its SQ
 * is where nothing answers: ERR_DMA_READ) never reached an engine, so it
 * completes at once, even while a computed job waits for its modeled
 * finish, and leaves that job's finish where it was.  It used to take a
 * modeled engine slot: completed only when the engine was free in modeled
 * time.
 */
static void test_modeled_sqe_fault(void)
{
    Spatten *s = spatten_start(",timing=modeled,engines=1");
    const uint64_t nowhere = 0x4000000000ull;   /* 256 GiB: no RAM */
    struct spatten_hw_desc d;
    struct spatten_hw_cqe e;
    uint64_t cycles, half;
    JobMem m;

    jobmem_init(s, &m);
    queue_setup(s, 0, RING_ENTRIES, RING_ENTRIES);
    queue_setup(s, 1, RING_ENTRIES, RING_ENTRIES);
    wr(s, SPATTEN_REG_Q(1, SPATTEN_QREG_CTRL), 0);
    wr(s, SPATTEN_REG_Q(1, SPATTEN_QREG_SQ_BASE_LO), (uint32_t)nowhere);
    wr(s, SPATTEN_REG_Q(1, SPATTEN_QREG_SQ_BASE_HI), nowhere >> 32);
    wr(s, SPATTEN_REG_Q(1, SPATTEN_QREG_CTRL), SPATTEN_QCTRL_ENABLE);
    g_assert_cmphex(rd(s, SPATTEN_REG_Q(1, SPATTEN_QREG_STATUS)), ==,
                    SPATTEN_QSTS_ENABLED);
    wr(s, SPATTEN_REG_CTRL, SPATTEN_CTRL_ENABLE);

    /* the cycles of the job */
    small_job(s, &m, &d, 0xd0);
    sq_put(s, &d);
    sq_ring(s, 0);
    qtest_clock_step(s->qts, 1000 * 1000 * 1000);
    cq_wait(s, &e);
    cq_pop(s, 0);
    cycles = le64_to_cpu(e.cycles);
    g_assert_cmpuint(cycles, >, 2);
    half = cycles / 2;

    /* T: the job, computed, waits for T + cycles */
    d.tag = cpu_to_le32(0xd1);
    sq_put(s, &d);
    sq_ring(s, 0);
    wait_staged(s);
    qtest_clock_step(s->qts, half);

    /* T + half: an unreadable entry on queue 1 completes at once */
    s->qp[1].sq_tail = 1;
    sq_ring(s, 1);
    cq_wait_q(s, 1, &e);
    g_assert_cmpuint(le16_to_cpu(e.status), ==, SPATTEN_HW_ERR_DMA_READ);
    cq_pop(s, 1);
    g_assert_cmpuint(cnt(s, SPATTEN_CNT_JOBS_ERR), ==, 1);

    /* the job still finishes at T + cycles, not later */
    cq_expect_empty(s);
    qtest_clock_step(s->qts, cycles - half - 1);
    cq_expect_empty_q(s, 0, 100);
    qtest_clock_step(s->qts, 1);
    cq_wait(s, &e);
    g_assert_cmphex(le32_to_cpu(e.tag), ==, 0xd1);
    g_assert_cmpuint(le16_to_cpu(e.status), ==, SPATTEN_HW_OK);
    spatten_stop(s);
}

/* Cycles of a memory-bound generation job on a device with @extra. */
static uint64_t gen_job_cycles(const char *extra)
{
    Spatten *s = spatten_start(extra);
    const uint32_t kb = 2 * 256 * 64 * 2;
    uint64_t buf = alloc_aligned(s, 2 * kb + 2 * 4096);
    struct spatten_hw_desc d;
    struct spatten_hw_cqe e;

    queue_setup(s, 0, RING_ENTRIES, RING_ENTRIES);
    wr(s, SPATTEN_REG_CTRL, SPATTEN_CTRL_ENABLE);
    qtest_memset(s->qts, buf, 0, 2 * kb + 2 * 4096);
    desc_attn(&d, 0x90, 2, 64, 1, 256, true);
    set_buf(&d.q, buf, 2 * 128);
    set_buf(&d.out, buf + 4096, 2 * 128);
    set_buf(&d.k, buf + 2 * 4096, kb);
    set_buf(&d.v, buf + 2 * 4096 + kb, kb);
    run_job(s, &d, SPATTEN_HW_OK, &e);
    g_assert_cmpuint(le64_to_cpu(e.bytes_k_msb), ==, kb);
    spatten_stop(s);
    return le64_to_cpu(e.cycles);
}

/* SpAtten_1/8 (64 B/cycle, 128 multipliers) takes longer than the chip. */
static void test_model_eighth(void)
{
    uint64_t full = gen_job_cycles(NULL);
    uint64_t full2 = gen_job_cycles(",model=full");
    uint64_t eighth = gen_job_cycles(",model=eighth");

    g_test_message("cycles: full %" PRIu64 ", eighth %" PRIu64,
                   full, eighth);
    g_assert_cmpuint(full, >, 0);
    g_assert_cmpuint(full2, ==, full);
    g_assert_cmpuint(eighth, >, full);
}

/* 1 head, head_dim 16, 1 query row, 1 key row: the output is V. */
static void test_attention(void)
{
    Spatten *s = spatten_start(NULL);
    struct spatten_hw_desc d;
    struct spatten_hw_cqe e;
    int16_t q[16], k[16], v[16], out[16];
    uint64_t buf = alloc_aligned(s, 4096);
    unsigned i;

    for (i = 0; i < 16; i++) {
        q[i] = cpu_to_le16(256);
        k[i] = cpu_to_le16(256 - 16 * i);
        v[i] = cpu_to_le16(100 * i - 700);
    }
    qtest_memwrite(s->qts, buf, q, sizeof(q));
    qtest_memwrite(s->qts, buf + 512, k, sizeof(k));
    qtest_memwrite(s->qts, buf + 1024, v, sizeof(v));
    qtest_memset(s->qts, buf + 1536, 0x55, sizeof(out));

    queue_setup(s, 0, RING_ENTRIES, RING_ENTRIES);
    wr(s, SPATTEN_REG_CTRL, SPATTEN_CTRL_ENABLE);

    memset(&d, 0, sizeof(d));
    d.opcode = cpu_to_le16(SPATTEN_OP_ATTENTION);
    d.desc_size = cpu_to_le16(SPATTEN_DESC_SIZE);
    d.version = SPATTEN_DESC_VERSION;
    d.stage = SPATTEN_STAGE_SUMMARIZATION;
    d.tag = cpu_to_le32(0x77);
    d.n_heads = cpu_to_le16(1);
    d.head_dim = cpu_to_le16(16);
    d.q_rows = cpu_to_le16(1);
    d.kv_rows = cpu_to_le16(1);
    d.q_frac = d.k_frac = d.v_frac = d.out_frac = 8;
    d.q.addr = cpu_to_le64(buf);
    d.q.len = cpu_to_le32(sizeof(q));
    d.k.addr = cpu_to_le64(buf + 512);
    d.k.len = cpu_to_le32(sizeof(k));
    d.v.addr = cpu_to_le64(buf + 1024);
    d.v.len = cpu_to_le32(sizeof(v));
    d.out.addr = cpu_to_le64(buf + 1536);
    d.out.len = cpu_to_le32(sizeof(out));
    sq_put(s, &d);
    sq_ring(s, 0);
    cq_wait(s, &e);
    g_assert_cmpuint(le16_to_cpu(e.status), ==, SPATTEN_HW_OK);
    g_assert_cmphex(le32_to_cpu(e.tag), ==, 0x77);
    g_assert_cmpuint(le64_to_cpu(e.bytes_written), ==, sizeof(out));
    g_assert_cmpuint(le64_to_cpu(e.bytes_q), ==, sizeof(q));
    qtest_memread(s->qts, buf + 1536, out, sizeof(out));
    for (i = 0; i < 16; i++) {
        g_assert_cmpint(abs((int16_t)le16_to_cpu(out[i]) -
                            (int16_t)le16_to_cpu(v[i])), <=, 1);
    }
    cq_pop(s, 0);
    g_assert_cmpuint(cnt(s, SPATTEN_CNT_JOBS_OK), ==, 1);
    g_assert_cmpuint(cnt(s, SPATTEN_CNT_BYTES_WRITTEN), ==, sizeof(out));
    g_assert_cmpuint(cnt(s, SPATTEN_CNT_BYTES_Q), ==, sizeof(q));

    /* output buffer too short: a descriptor error, nothing written */
    d.tag = cpu_to_le32(0x78);
    d.out.len = cpu_to_le32(sizeof(out) - 2);
    qtest_memset(s->qts, buf + 1536, 0x55, sizeof(out));
    expect_error(s, &d, SPATTEN_HW_ERR_BUFFER);
    g_assert_cmphex(qtest_readw(s->qts, buf + 1536), ==, 0x5555);

    /* operand outside guest memory: DMA read error, no crash */
    d.tag = cpu_to_le32(0x79);
    d.out.len = cpu_to_le32(sizeof(out));
    d.v.addr = cpu_to_le64(0xfff000000000ull);
    expect_error(s, &d, SPATTEN_HW_ERR_DMA_READ);

    spatten_stop(s);
}

/* Write a page list for @npages pages starting at page-aligned @first. */
static uint64_t page_list(Spatten *s, uint64_t first, unsigned npages)
{
    uint64_t list = alloc_aligned(s, npages * 8);
    unsigned i;

    for (i = 0; i < npages; i++) {
        qtest_writeq(s->qts, list + 8 * i, first + (uint64_t)i * 4096 * 2);
    }
    return list;
}

/*
 * Operands through page lists (every other page used, so a contiguous
 * read would get it wrong): 1 head, head_dim 16, 1 query, 300 keys whose
 * V rows are all equal, so the output is that row.
 */
static void test_page_list(void)
{
    Spatten *s = spatten_start(NULL);
    const unsigned kv = 300, kb = kv * 16 * 2, off = 4000;
    const unsigned npages = (off + kb + 4095) / 4096;
    struct spatten_hw_desc d;
    struct spatten_hw_cqe e;
    int16_t q[16], v[16], out[16];
    uint64_t qa = alloc_aligned(s, 4096);
    uint64_t ka = alloc_aligned(s, npages * 2 * 4096);
    uint64_t va = alloc_aligned(s, npages * 2 * 4096);
    uint64_t oa = alloc_aligned(s, 4 * 4096);
    uint64_t vl, ol;
    unsigned i, j, pos;

    for (i = 0; i < 16; i++) {
        q[i] = cpu_to_le16(64 * i);
        v[i] = cpu_to_le16(37 * i - 300);
    }
    qtest_memwrite(s->qts, qa, q, sizeof(q));
    /* V row r at byte off + 32 r of the paged view */
    for (j = 0; j < kv; j++) {
        for (i = 0; i < 16; i++) {
            pos = off + 32 * j + 2 * i;
            qtest_writew(s->qts, va + (pos / 4096) * 8192 + pos % 4096,
                         le16_to_cpu(v[i]));
            qtest_writew(s->qts, ka + (pos / 4096) * 8192 + pos % 4096,
                         (j * 7 + i) & 0xff);
        }
    }
    vl = page_list(s, va, npages);
    ol = page_list(s, oa, 2);

    queue_setup(s, 0, RING_ENTRIES, RING_ENTRIES);
    wr(s, SPATTEN_REG_CTRL, SPATTEN_CTRL_ENABLE);

    memset(&d, 0, sizeof(d));
    d.opcode = cpu_to_le16(SPATTEN_OP_ATTENTION);
    d.desc_size = cpu_to_le16(SPATTEN_DESC_SIZE);
    d.version = SPATTEN_DESC_VERSION;
    d.tag = cpu_to_le32(0x91);
    d.n_heads = cpu_to_le16(1);
    d.head_dim = cpu_to_le16(16);
    d.q_rows = cpu_to_le16(1);
    d.kv_rows = cpu_to_le16(kv);
    d.q_start = cpu_to_le16(kv - 1);
    d.flags = cpu_to_le16(SPATTEN_DESC_F_CAUSAL);
    d.q_frac = d.k_frac = d.v_frac = d.out_frac = 8;
    d.q.addr = cpu_to_le64(qa);
    d.q.len = cpu_to_le32(sizeof(q));
    d.k.addr = cpu_to_le64(page_list(s, ka, npages));
    d.k.len = cpu_to_le32(kb);
    d.k.offset = cpu_to_le16(off);
    d.k.flags = cpu_to_le16(SPATTEN_BUF_PAGE_LIST);
    d.v.addr = cpu_to_le64(vl);
    d.v.len = cpu_to_le32(kb);
    d.v.offset = cpu_to_le16(off);
    d.v.flags = cpu_to_le16(SPATTEN_BUF_PAGE_LIST);
    d.out.addr = cpu_to_le64(ol);
    d.out.len = cpu_to_le32(sizeof(out));
    d.out.offset = cpu_to_le16(4080);   /* straddles two listed pages */
    d.out.flags = cpu_to_le16(SPATTEN_BUF_PAGE_LIST);
    sq_put(s, &d);
    sq_ring(s, 0);
    cq_wait(s, &e);
    g_assert_cmpuint(le16_to_cpu(e.status), ==, SPATTEN_HW_OK);
    g_assert_cmpuint(le64_to_cpu(e.bytes_v), ==, kb);
    g_assert_cmpuint(le64_to_cpu(e.bytes_k_msb) + le64_to_cpu(e.bytes_k_lsb),
                     ==, kb);
    g_assert_cmpuint(le64_to_cpu(e.bytes_written), ==, sizeof(out));
    cq_pop(s, 0);
    for (i = 0; i < 16; i++) {
        pos = 4080 + 2 * i;
        out[i] = qtest_readw(s->qts, oa + (pos / 4096) * 8192 + pos % 4096);
        g_assert_cmpint(abs((int16_t)out[i] - (int16_t)le16_to_cpu(v[i])),
                        <=, 1);
    }

    /* a listed page that is not page-aligned */
    qtest_writeq(s->qts, vl + 8, va + 8192 + 8);
    d.tag = cpu_to_le32(0x92);
    expect_error(s, &d, SPATTEN_HW_ERR_PAGE_LIST);
    /* a listed page beyond the 48-bit DMA width */
    qtest_writeq(s->qts, vl + 8, 1ull << 48);
    d.tag = cpu_to_le32(0x93);
    expect_error(s, &d, SPATTEN_HW_ERR_DMA_READ);
    /* an output page beyond it: DMA write error */
    qtest_writeq(s->qts, vl + 8, va + 8192);
    qtest_writeq(s->qts, ol + 8, 1ull << 48);
    d.tag = cpu_to_le32(0x94);
    expect_error(s, &d, SPATTEN_HW_ERR_DMA_WRITE);
    g_assert_cmpuint(cnt(s, SPATTEN_CNT_JOBS_OK), ==, 1);
    g_assert_cmpuint(cnt(s, SPATTEN_CNT_JOBS_ERR), ==, 3);
    spatten_stop(s);
}

/*
 * A job whose output goes through a page list of PL_PAGES entries (pages
 * PL_PAGES apart from @oa on), 2 heads x 640 rows x head_dim 64, one key:
 * every output row is V's, 1.0 everywhere.  Q/K/V at @in (contiguous).
 */
#define PL_PAGES        40
#define PL_OUT          (2 * 640 * 64 * 2)
static uint64_t desc_paged_out(Spatten *s, struct spatten_hw_desc *d,
                               uint32_t tag, uint64_t in, uint64_t oa)
{
    uint64_t list = alloc_aligned(s, PL_PAGES * 8);
    unsigned i;

    G_STATIC_ASSERT(PL_OUT == PL_PAGES * 4096);
    qtest_memset(s->qts, in, 0, 2 * 640 * 128 + 2 * 128);
    fill16(s, in + 2 * 640 * 128 + 2 * 128, 2 * 64, 0x100);
    for (i = 0; i < PL_PAGES; i++) {
        qtest_writeq(s->qts, list + 8 * i, oa + (uint64_t)i * 4096);
    }
    qtest_memset(s->qts, oa, 0x55, PL_OUT);
    desc_attn(d, tag, 2, 64, 640, 1, false);
    set_buf(&d->q, in, 2 * 640 * 128);
    set_buf(&d->k, in + 2 * 640 * 128, 2 * 128);
    set_buf(&d->v, in + 2 * 640 * 128 + 2 * 128, 2 * 128);
    set_buf(&d->out, list, PL_OUT);
    d->out.flags = cpu_to_le16(SPATTEN_BUF_PAGE_LIST);
    return list;
}

/*
 * Output page lists are read and checked once, when the job has been
 * computed, before anything is written: an entry that is not page-aligned
 * beyond the first batch of entries (32) fails the job with nothing
 * written (it used to leave the first 32 pages written); and changing the
 * list while the job waits for its completion (timing=modeled) does not
 * change where it writes.
 */
static void test_page_list_out(void)
{
    Spatten *s = spatten_start(",timing=modeled,engines=1");
    struct spatten_hw_desc d;
    struct spatten_hw_cqe e;
    uint64_t in = alloc_aligned(s, 2 * 640 * 128 + 4 * 128);
    uint64_t oa = alloc_aligned(s, PL_OUT), ob = alloc_aligned(s, PL_OUT);
    uint64_t list;
    unsigned i;

    queue_setup(s, 0, RING_ENTRIES, RING_ENTRIES);
    wr(s, SPATTEN_REG_CTRL, SPATTEN_CTRL_ENABLE);

    /* the job as it is: every page written */
    desc_paged_out(s, &d, 0xb0, in, oa);
    sq_put(s, &d);
    sq_ring(s, 0);
    qtest_clock_step(s->qts, 1000 * 1000 * 1000);
    cq_wait(s, &e);
    g_assert_cmpuint(le16_to_cpu(e.status), ==, SPATTEN_HW_OK);
    g_assert_cmpuint(le64_to_cpu(e.bytes_written), ==, PL_OUT);
    cq_pop(s, 0);
    for (i = 0; i < PL_PAGES; i++) {
        g_assert_cmphex(qtest_readw(s->qts, oa + i * 4096 + 4094), ==,
                        0x100);
    }

    /* entry 35 misaligned: ERR_PAGE_LIST, not a byte written */
    list = desc_paged_out(s, &d, 0xb1, in, oa);
    qtest_writeq(s->qts, list + 8 * 35, oa + 35 * 4096 + 512);
    sq_put(s, &d);
    sq_ring(s, 0);
    qtest_clock_step(s->qts, 1000 * 1000 * 1000);
    cq_wait(s, &e);
    g_assert_cmpuint(le16_to_cpu(e.status), ==, SPATTEN_HW_ERR_PAGE_LIST);
    g_assert_cmpuint(le64_to_cpu(e.bytes_written), ==, 0);
    cq_pop(s, 0);
    g_assert_true(untouched(s, oa, PL_OUT));

    /*
     * Computed (staged, off the engine), waiting for the clock: the guest
     * points the list elsewhere; the job still writes where the list
     * pointed when it was computed.
     */
    list = desc_paged_out(s, &d, 0xb2, in, oa);
    qtest_memset(s->qts, ob, 0x55, PL_OUT);
    sq_put(s, &d);
    sq_ring(s, 0);
    wait_staged(s);
    g_usleep(100 * 1000);   /* and through the bottom half */
    cq_expect_empty(s);
    for (i = 0; i < PL_PAGES; i++) {
        qtest_writeq(s->qts, list + 8 * i, ob + (uint64_t)i * 4096);
    }
    qtest_clock_step(s->qts, 1000 * 1000 * 1000);
    cq_wait(s, &e);
    g_assert_cmpuint(le16_to_cpu(e.status), ==, SPATTEN_HW_OK);
    cq_pop(s, 0);
    g_assert_true(untouched(s, ob, PL_OUT));
    for (i = 0; i < PL_PAGES; i++) {
        g_assert_cmphex(qtest_readw(s->qts, oa + i * 4096 + 4094), ==,
                        0x100);
    }
    spatten_stop(s);
}

/* The device never takes an SQE whose completion would not fit. */
static void test_flow_control(void)
{
    Spatten *s = spatten_start(NULL);
    struct spatten_hw_desc d;
    struct spatten_hw_cqe e;
    unsigned i;

    queue_setup(s, 1, RING_ENTRIES, 2);     /* CQ holds one entry */
    wr(s, SPATTEN_REG_CTRL, SPATTEN_CTRL_ENABLE);
    for (i = 0; i < 3; i++) {
        desc_nop(&d, 10 + i);
        sq_put_q(s, 1, &d);
    }
    sq_ring(s, 1);
    for (i = 0; i < 3; i++) {
        cq_wait_q(s, 1, &e);
        g_assert_cmphex(le32_to_cpu(e.tag), ==, 10 + i);
        g_assert_cmpuint(le16_to_cpu(e.sq_head), ==, i + 1);
        /* the next job is not even taken before the head moves */
        g_usleep(50 * 1000);
        g_assert_cmpuint(cnt(s, SPATTEN_CNT_JOBS_OK), ==, i + 1);
        cq_pop(s, 1);
    }
    g_assert_cmpuint(cnt(s, SPATTEN_CNT_JOBS_OK), ==, 3);
    spatten_stop(s);
}

/* Doorbells are recorded while CTRL.ENABLE is clear, acted upon later. */
static void test_enable_gate(void)
{
    Spatten *s = spatten_start(NULL);
    struct spatten_hw_desc d;
    struct spatten_hw_cqe e;

    queue_setup(s, 0, RING_ENTRIES, RING_ENTRIES);
    desc_nop(&d, 5);
    sq_put(s, &d);
    sq_ring(s, 0);
    cq_expect_empty(s);
    wr(s, SPATTEN_REG_CTRL, SPATTEN_CTRL_ENABLE);
    cq_wait(s, &e);
    g_assert_cmphex(le32_to_cpu(e.tag), ==, 5);
    spatten_stop(s);
}

/* Bus mastering off: every DMA fails, QEMU survives, errors are counted. */
static void test_no_bus_master(void)
{
    Spatten *s = spatten_start(NULL);
    struct spatten_hw_desc d;
    uint16_t cmd;
    gint64 end;

    queue_setup(s, 0, RING_ENTRIES, RING_ENTRIES);
    wr(s, SPATTEN_REG_CTRL, SPATTEN_CTRL_ENABLE);
    cmd = qpci_config_readw(s->dev, PCI_COMMAND);
    qpci_config_writew(s->dev, PCI_COMMAND, cmd & ~PCI_COMMAND_MASTER);

    desc_nop(&d, 6);
    sq_put(s, &d);
    sq_ring(s, 0);
    end = g_get_monotonic_time() + POLL_US;
    while (cnt(s, SPATTEN_CNT_JOBS_ERR) == 0) {
        g_assert_cmpint(g_get_monotonic_time(), <, end);
        g_usleep(1000);
    }
    /* the CQE could not be written either */
    g_assert_cmphex(rd(s, SPATTEN_REG_Q(0, SPATTEN_QREG_STATUS)), ==,
                    SPATTEN_QSTS_ENABLED | SPATTEN_QSTS_ERROR);
    g_assert_cmphex(qtest_readw(s->qts, s->qp[0].cq + 0x3e), ==, 0);

    /* back on: works again */
    qpci_config_writew(s->dev, PCI_COMMAND, cmd);
    wr(s, SPATTEN_REG_CQ_HEAD_DB(0), 1);
    s->qp[0].cq_head = 1;
    desc_nop(&d, 7);
    expect_error(s, &d, SPATTEN_HW_OK);
    spatten_stop(s);
}

/* FLR resets the device like CTRL.RESET. */
static void test_flr(void)
{
    Spatten *s = spatten_start(NULL);
    uint8_t exp = qpci_find_capability(s->dev, PCI_CAP_ID_EXP, 0);
    struct spatten_hw_desc d;
    struct spatten_hw_cqe e;

    g_assert_cmphex(qpci_config_readl(s->dev, exp + PCI_EXP_DEVCAP) &
                    PCI_EXP_DEVCAP_FLR, !=, 0);
    queue_setup(s, 0, RING_ENTRIES, RING_ENTRIES);
    wr(s, SPATTEN_REG_CTRL, SPATTEN_CTRL_ENABLE);
    desc_nop(&d, 8);
    expect_error(s, &d, SPATTEN_HW_OK);
    g_assert_cmpuint(cnt(s, SPATTEN_CNT_JOBS_OK), ==, 1);

    qpci_config_writew(s->dev, exp + PCI_EXP_DEVCTL,
                       qpci_config_readw(s->dev, exp + PCI_EXP_DEVCTL) |
                       PCI_EXP_DEVCTL_BCR_FLR);
    spatten_map(s);
    g_assert_cmphex(rd(s, SPATTEN_REG_ID), ==, SPATTEN_HW_ID);
    g_assert_cmphex(rd(s, SPATTEN_REG_CTRL), ==, 0);
    g_assert_cmphex(rd(s, SPATTEN_REG_Q(0, SPATTEN_QREG_STATUS)), ==, 0);
    g_assert_cmpuint(cnt(s, SPATTEN_CNT_JOBS_OK), ==, 0);

    /* usable again after a fresh set-up */
    queue_setup(s, 0, RING_ENTRIES, RING_ENTRIES);
    wr(s, SPATTEN_REG_CTRL, SPATTEN_CTRL_ENABLE);
    desc_nop(&d, 9);
    sq_put(s, &d);
    sq_ring(s, 0);
    cq_wait(s, &e);
    g_assert_cmphex(le32_to_cpu(e.tag), ==, 9);
    spatten_stop(s);
}

/* The device stays in reset: CTRL.RESET set, READY clear, writes ignored. */
static void assert_reset_stuck(Spatten *s)
{
    int i;

    for (i = 0; i < 20; i++) {
        g_assert_cmphex(rd(s, SPATTEN_REG_CTRL), ==, SPATTEN_CTRL_RESET);
        g_assert_cmphex(rd(s, SPATTEN_REG_STATUS), ==, 0);
        g_usleep(1000);
    }
    g_assert_cmphex(rd(s, SPATTEN_REG_ID), ==, SPATTEN_HW_ID);
    g_assert_cmphex(rd(s, SPATTEN_REG_FAULT), ==, SPATTEN_FAULT_RESET_STUCK);
    g_assert_cmphex(rd(s, SPATTEN_REG_Q(0, SPATTEN_QREG_STATUS)), ==, 0);
    g_assert_cmpuint(cnt(s, SPATTEN_CNT_JOBS_OK), ==, 0);
    /* neither enable, another reset, disarming nor queue set-up helps */
    wr(s, SPATTEN_REG_CTRL, SPATTEN_CTRL_ENABLE);
    wr(s, SPATTEN_REG_CTRL, SPATTEN_CTRL_RESET);
    wr(s, SPATTEN_REG_CTRL, 0);
    wr(s, SPATTEN_REG_FAULT, 0);
    wr(s, SPATTEN_REG_Q(0, SPATTEN_QREG_SQ_SIZE), RING_ENTRIES);
    g_assert_cmphex(rd(s, SPATTEN_REG_CTRL), ==, SPATTEN_CTRL_RESET);
    g_assert_cmphex(rd(s, SPATTEN_REG_STATUS), ==, 0);
    g_assert_cmphex(rd(s, SPATTEN_REG_FAULT), ==, SPATTEN_FAULT_RESET_STUCK);
    g_assert_cmpuint(rd(s, SPATTEN_REG_Q(0, SPATTEN_QREG_SQ_SIZE)), ==, 0);
}

/* Out of reset, FAULT clear: a reset completes and a NOP runs. */
static void assert_usable(Spatten *s, uint32_t tag)
{
    struct spatten_hw_desc d;

    g_assert_cmphex(rd(s, SPATTEN_REG_FAULT), ==, 0);
    g_assert_cmphex(rd(s, SPATTEN_REG_CTRL), ==, 0);
    wr(s, SPATTEN_REG_CTRL, SPATTEN_CTRL_RESET);
    g_assert_cmphex(rd(s, SPATTEN_REG_CTRL), ==, 0);
    queue_setup(s, 0, RING_ENTRIES, RING_ENTRIES);
    wr(s, SPATTEN_REG_CTRL, SPATTEN_CTRL_ENABLE);
    g_assert_cmphex(rd(s, SPATTEN_REG_STATUS), ==, SPATTEN_STS_READY);
    desc_nop(&d, tag);
    run_job(s, &d, SPATTEN_HW_OK, NULL);
}

/*
 * FAULT.RESET_STUCK: the device works while it is armed; the next
 * CTRL.RESET never completes; FLR clears it, and so does a system reset.
 */
static void test_reset_stuck(void)
{
    Spatten *s = spatten_start(NULL);
    uint8_t exp = qpci_find_capability(s->dev, PCI_CAP_ID_EXP, 0);
    struct spatten_hw_desc d;

    /* unknown bits dropped; disarmed by writing 0 before it fires */
    g_assert_cmphex(rd(s, SPATTEN_REG_FAULT), ==, 0);
    wr(s, SPATTEN_REG_FAULT, 0xffffffff);
    g_assert_cmphex(rd(s, SPATTEN_REG_FAULT), ==, SPATTEN_FAULT_RESET_STUCK);
    wr(s, SPATTEN_REG_FAULT, 0);
    assert_usable(s, 1);

    wr(s, SPATTEN_REG_FAULT, SPATTEN_FAULT_RESET_STUCK);
    desc_nop(&d, 2);
    expect_error(s, &d, SPATTEN_HW_OK);
    g_assert_cmpuint(cnt(s, SPATTEN_CNT_JOBS_OK), ==, 2);
    wr(s, SPATTEN_REG_CTRL, SPATTEN_CTRL_RESET);
    assert_reset_stuck(s);

    /* FLR */
    qpci_config_writew(s->dev, exp + PCI_EXP_DEVCTL,
                       qpci_config_readw(s->dev, exp + PCI_EXP_DEVCTL) |
                       PCI_EXP_DEVCTL_BCR_FLR);
    spatten_map(s);
    assert_usable(s, 3);

    /* system reset */
    wr(s, SPATTEN_REG_FAULT, SPATTEN_FAULT_RESET_STUCK);
    wr(s, SPATTEN_REG_CTRL, SPATTEN_CTRL_RESET);
    assert_reset_stuck(s);
    qtest_qmp_assert_success(s->qts, "{'execute': 'system_reset'}");
    qtest_qmp_eventwait(s->qts, "RESET");
    spatten_map(s);
    assert_usable(s, 4);
    spatten_stop(s);
}

/*
 * msix=off: no MSI-X capability; INTX_STATUS reports completions in INTx
 * mode, is cleared when the guest enables MSI and stays clear under MSI.
 */
static void test_no_msix(void)
{
    Spatten *s = spatten_start(",msix=off,queues=2,engines=1");
    struct spatten_hw_desc d;
    struct spatten_hw_cqe e;
    uint8_t msi;
    uint16_t flags;

    g_assert_cmpint(qpci_find_capability(s->dev, PCI_CAP_ID_MSIX, 0), ==, 0);
    g_assert_cmpuint(rd(s, SPATTEN_REG_CAP_QUEUES), ==, 2);
    g_assert_cmpuint(rd(s, SPATTEN_REG_CAP_ENGINES), ==, 1);
    queue_setup(s, 1, RING_ENTRIES, RING_ENTRIES);
    wr(s, SPATTEN_REG_CTRL, SPATTEN_CTRL_ENABLE);
    desc_nop(&d, 10);
    sq_put_q(s, 1, &d);
    sq_ring(s, 1);
    cq_wait_q(s, 1, &e);
    cq_pop(s, 1);
    g_assert_cmphex(rd(s, SPATTEN_REG_INTX_STATUS), ==, 1u << 1);
    wr(s, SPATTEN_REG_INTX_STATUS, 1u << 1);
    g_assert_cmphex(rd(s, SPATTEN_REG_INTX_STATUS), ==, 0);
    /* left pending: switching to MSI below must clear it */
    desc_nop(&d, 12);
    sq_put_q(s, 1, &d);
    sq_ring(s, 1);
    cq_wait_q(s, 1, &e);
    cq_pop(s, 1);
    g_assert_cmphex(rd(s, SPATTEN_REG_INTX_STATUS), ==, 1u << 1);

    /* MSI: one message for every queue */
    msi = qpci_find_capability(s->dev, PCI_CAP_ID_MSI, 0);
    g_assert_cmpint(msi, !=, 0);
    flags = qpci_config_readw(s->dev, msi + PCI_MSI_FLAGS);
    g_assert(flags & PCI_MSI_FLAGS_64BIT);
    s->msi_addr = guest_alloc(&s->qs->alloc, 64);
    qtest_writel(s->qts, s->msi_addr, 0);
    qpci_config_writel(s->dev, msi + PCI_MSI_ADDRESS_LO, (uint32_t)s->msi_addr);
    qpci_config_writel(s->dev, msi + PCI_MSI_ADDRESS_HI, s->msi_addr >> 32);
    qpci_config_writew(s->dev, msi + PCI_MSI_DATA_64, 0x4321);
    qpci_config_writew(s->dev, msi + PCI_MSI_FLAGS,
                       flags | PCI_MSI_FLAGS_ENABLE);
    desc_nop(&d, 11);
    sq_put_q(s, 1, &d);
    sq_ring(s, 1);
    cq_wait_q(s, 1, &e);
    g_assert_cmphex(le32_to_cpu(e.tag), ==, 11);
    g_assert_cmphex(qtest_readl(s->qts, s->msi_addr), ==, 0x4321);
    /* cleared on the switch to MSI, and nothing collects under MSI */
    g_assert_cmphex(rd(s, SPATTEN_REG_INTX_STATUS), ==, 0);
    spatten_stop(s);
}

/*
 * A job of about 50 ms on this host, with Q, K and V at @qkv (shared,
 * read-only) and its own output @out (filled with the sentinel).
 */
#define BIG_HEADS       16
#define BIG_QB          (BIG_HEADS * HEAVY_Q * 64 * 2)
#define BIG_KB          (BIG_HEADS * 1024 * 64 * 2)
static void desc_big(Spatten *s, struct spatten_hw_desc *d, uint32_t tag,
                     uint64_t qkv, uint64_t out)
{
    desc_attn(d, tag, BIG_HEADS, 64, HEAVY_Q, 1024, false);
    set_buf(&d->q, qkv, BIG_QB);
    set_buf(&d->k, qkv + BIG_QB, BIG_KB);
    set_buf(&d->v, qkv + BIG_QB + BIG_KB, BIG_KB);
    set_buf(&d->out, out, BIG_QB);
    qtest_memset(s->qts, out, 0x55, BIG_QB);
}

/*
 * Reset and queue disable with jobs queued and running: nothing posted
 * after it, nothing written by a job not posted; jobs posted before it
 * (a slow host) are counted exactly.
 */
static void test_reset_inflight(void)
{
    Spatten *s = spatten_start(NULL);
    struct spatten_hw_desc d;
    struct spatten_hw_cqe e;
    uint8_t before[RING_ENTRIES * SPATTEN_CQE_SIZE];
    uint8_t after[RING_ENTRIES * SPATTEN_CQE_SIZE];
    uint64_t out[6], qkv, counted = 0;
    unsigned i, j, round, attempt, nposted;
    gint64 t0, end;

    qkv = alloc_aligned(s, BIG_QB + 2 * BIG_KB);
    qtest_memset(s->qts, qkv, 0, BIG_QB + 2 * BIG_KB);
    for (i = 0; i < 6; i++) {
        out[i] = alloc_aligned(s, BIG_QB);
    }
    /* round 0: CTRL.RESET; round 1: queue disable */
    for (round = 0; round < 2; round++) {
        for (attempt = 0;; attempt++) {
            g_assert_cmpuint(attempt, <, 5);
            queue_setup(s, 0, RING_ENTRIES, RING_ENTRIES);
            wr(s, SPATTEN_REG_CTRL, SPATTEN_CTRL_ENABLE);
            for (i = 0; i < 6; i++) {
                desc_big(s, &d, 100 + i, qkv, out[i]);
                sq_put(s, &d);
            }
            sq_ring(s, 0);
            /* the engines have started: there are running jobs to drop */
            end = g_get_monotonic_time() + POLL_US;
            while (!sp_prop(s, "x-running-jobs")) {
                g_assert_cmpint(g_get_monotonic_time(), <, end);
                g_usleep(100);
            }
            if (round == 0) {
                wr(s, SPATTEN_REG_CTRL, SPATTEN_CTRL_RESET);
            } else {
                wr(s, SPATTEN_REG_Q(0, SPATTEN_QREG_CTRL), 0);
                /* disabling keeps the configuration */
                g_assert_cmpuint(rd(s, SPATTEN_REG_Q(0,
                                                     SPATTEN_QREG_SQ_SIZE)),
                                 ==, RING_ENTRIES);
            }
            g_assert_cmphex(rd(s, SPATTEN_REG_Q(0, SPATTEN_QREG_STATUS)),
                            ==, 0);
            /* completions posted before it raised INTx: acknowledge */
            wr(s, SPATTEN_REG_INTX_STATUS, ~0u);
            qtest_memread(s->qts, s->qp[0].cq, before, sizeof(before));
            g_usleep(500 * 1000);
            qtest_memread(s->qts, s->qp[0].cq, after, sizeof(after));
            /* nothing posted, no interrupt after the reset or disable */
            g_assert(memcmp(before, after, sizeof(before)) == 0);
            g_assert_cmphex(rd(s, SPATTEN_REG_INTX_STATUS), ==, 0);
            /*
             * A job posted before it (a slow host) is fine; one whose
             * completion was not posted wrote nothing.
             */
            nposted = 0;
            for (i = 0; i < 6; i++) {
                bool posted = false;

                for (j = 0; j < RING_ENTRIES; j++) {
                    memcpy(&e, after + j * SPATTEN_CQE_SIZE, sizeof(e));
                    posted |= (le16_to_cpu(e.flags) & SPATTEN_CQE_F_PHASE) &&
                              le32_to_cpu(e.tag) == 100 + i;
                }
                nposted += posted;
                g_assert_true(posted || untouched(s, out[i], BIG_QB));
            }
            g_test_message("%s, attempt %u: %u of 6 posted before it",
                           round ? "queue disable" : "reset", attempt,
                           nposted);
            /*
             * The reset cleared the counters; a disable does not: the
             * counter holds exactly the jobs whose CQE was posted.
             */
            counted = round ? counted + nposted : 0;
            g_assert_cmpuint(cnt(s, SPATTEN_CNT_JOBS_OK), ==, counted);
            if (nposted < 6) {
                break;      /* it had jobs to drop */
            }
        }
    }

    /* the device still works (and counts from zero again) */
    wr(s, SPATTEN_REG_CTRL, SPATTEN_CTRL_RESET);
    g_assert_cmpuint(cnt(s, SPATTEN_CNT_JOBS_OK), ==, 0);
    queue_setup(s, 0, RING_ENTRIES, RING_ENTRIES);
    wr(s, SPATTEN_REG_CTRL, SPATTEN_CTRL_ENABLE);
    desc_heavy_marked(s, &d, 200);
    sq_put(s, &d);
    t0 = g_get_monotonic_time();
    sq_ring(s, 0);
    cq_wait(s, &e);
    g_test_message("one heavy job: %" PRId64 " us",
                   g_get_monotonic_time() - t0);
    g_assert_cmpuint(le16_to_cpu(e.status), ==, SPATTEN_HW_OK);
    g_assert_cmphex(le32_to_cpu(e.tag), ==, 200);
    g_assert_cmpuint(cnt(s, SPATTEN_CNT_JOBS_OK), ==, 1);
    g_assert_cmpuint(cnt(s, SPATTEN_CNT_BYTES_K_MSB) +
                     cnt(s, SPATTEN_CNT_BYTES_K_LSB), ==, 8 * 1024 * 64 * 2);
    g_assert_cmpuint(cnt(s, SPATTEN_CNT_BYTES_V), ==, 8 * 1024 * 64 * 2);
    g_assert_cmpuint(cnt(s, SPATTEN_CNT_BYTES_WRITTEN), ==, HEAVY_OUT);
    g_assert_cmpuint(cnt(s, SPATTEN_CNT_CYCLES), >, 0);
    spatten_stop(s);
}

/* Hot-unplug (ACPI, i440fx) with jobs in flight: workers stop, no leak. */
static void test_unplug(void)
{
    Spatten *s = spatten_start_on("pc", ",engines=3");
    struct spatten_hw_desc d;
    unsigned i;

    queue_setup(s, 0, RING_ENTRIES, RING_ENTRIES);
    wr(s, SPATTEN_REG_CTRL, SPATTEN_CTRL_ENABLE);
    for (i = 0; i < 6; i++) {
        desc_heavy_marked(s, &d, 300 + i);
        sq_put(s, &d);
    }
    sq_ring(s, 0);
    g_usleep(2000);
    qpci_unplug_acpi_device_test(s->qts, "sp0", SLOT);
    g_assert_cmphex(qpci_config_readw(s->dev, PCI_VENDOR_ID), ==, 0xffff);
    spatten_stop(s);
}

/* ---- hardware 1.2: SQ entry size, descriptor version 3 ---------------- */

/*
 * SQ_ENTRY_SIZE: 256 at reset, reads back what was written (0 as 256),
 * checked and latched by QCTRL.ENABLE (256 or 512, else QSTS.ERROR),
 * read-only while enabled, kept across a disable, 256 again after
 * CTRL.RESET and FLR; the ring must fit the DMA width at that size.
 */
static void test_sq_entry_size(void)
{
    Spatten *s = spatten_start(NULL);
    const uint64_t esz = SPATTEN_REG_Q(1, SPATTEN_QREG_SQ_ENTRY_SIZE);
    const uint64_t sts = SPATTEN_REG_Q(1, SPATTEN_QREG_STATUS);
    const uint64_t ctl = SPATTEN_REG_Q(1, SPATTEN_QREG_CTRL);
    static const uint32_t bad[] = {
        1, 64, 128, 255, 257, 384, 511, 513, 768, 1024, 4096,
        0x10000100, 0x80000200, 0xffffffff,
    };
    static const uint32_t good[] = { 0, 256, 512 };
    uint8_t exp = qpci_find_capability(s->dev, PCI_CAP_ID_EXP, 0);
    uint64_t sq, cq;
    unsigned i;

    rings_alloc_esize(s, &sq, &cq, 16, 16, 512);
    queue_write_rings(s, 1, sq, cq, 16, 16);

    /* reset value 256; reads back what was written; 0 reads as 256 */
    g_assert_cmpuint(rd(s, esz), ==, 256);
    wr(s, esz, 512);
    g_assert_cmpuint(rd(s, esz), ==, 512);
    wr(s, esz, 0);
    g_assert_cmpuint(rd(s, esz), ==, 256);

    /* anything but 256 and 512 is kept, and fails the enable */
    for (i = 0; i < ARRAY_SIZE(bad); i++) {
        wr(s, esz, bad[i]);
        g_assert_cmphex(rd(s, esz), ==, bad[i]);
        wr(s, ctl, SPATTEN_QCTRL_ENABLE);
        g_assert_cmphex(rd(s, sts), ==, SPATTEN_QSTS_ERROR);
        g_assert_cmphex(rd(s, ctl), ==, 0);
        wr(s, ctl, 0);                          /* acknowledge */
        g_assert_cmphex(rd(s, sts), ==, 0);
    }
    /* 0 works as 256 */
    for (i = 0; i < ARRAY_SIZE(good); i++) {
        wr(s, esz, good[i]);
        wr(s, ctl, SPATTEN_QCTRL_ENABLE);
        g_assert_cmphex(rd(s, sts), ==, SPATTEN_QSTS_ENABLED);
        g_assert_cmpuint(rd(s, esz), ==, good[i] ? good[i] : 256);
        wr(s, ctl, 0);
        g_assert_cmphex(rd(s, sts), ==, 0);
    }

    /* latched: writes while enabled are ignored (no error); disable keeps */
    wr(s, esz, 512);
    wr(s, ctl, SPATTEN_QCTRL_ENABLE);
    g_assert_cmphex(rd(s, sts), ==, SPATTEN_QSTS_ENABLED);
    wr(s, esz, 256);
    wr(s, esz, 300);
    g_assert_cmpuint(rd(s, esz), ==, 512);
    g_assert_cmphex(rd(s, sts), ==, SPATTEN_QSTS_ENABLED);
    wr(s, ctl, 0);
    g_assert_cmpuint(rd(s, esz), ==, 512);

    /* the ring's bytes are entries x entry size: 16 x 256 fit below 2^48 */
    qpci_io_writeq(s->dev, s->bar, SPATTEN_REG_Q(1, SPATTEN_QREG_SQ_BASE_LO),
                   (1ull << 48) - 16 * 256);
    wr(s, esz, 256);
    wr(s, ctl, SPATTEN_QCTRL_ENABLE);
    g_assert_cmphex(rd(s, sts), ==, SPATTEN_QSTS_ENABLED);
    wr(s, ctl, 0);
    wr(s, esz, 512);                            /* 16 x 512 do not */
    wr(s, ctl, SPATTEN_QCTRL_ENABLE);
    g_assert_cmphex(rd(s, sts), ==, SPATTEN_QSTS_ERROR);
    wr(s, ctl, 0);
    qpci_io_writeq(s->dev, s->bar, SPATTEN_REG_Q(1, SPATTEN_QREG_SQ_BASE_LO),
                   (1ull << 48) - 16 * 512);
    wr(s, ctl, SPATTEN_QCTRL_ENABLE);
    g_assert_cmphex(rd(s, sts), ==, SPATTEN_QSTS_ENABLED);

    /* CTRL.RESET forgets it, like the rest of the configuration */
    wr(s, SPATTEN_REG_Q(2, SPATTEN_QREG_SQ_ENTRY_SIZE), 512);
    wr(s, SPATTEN_REG_CTRL, SPATTEN_CTRL_RESET);
    for (i = 0; i < 4; i++) {
        g_assert_cmpuint(rd(s, SPATTEN_REG_Q(i, SPATTEN_QREG_SQ_ENTRY_SIZE)),
                         ==, 256);
    }
    /* so does FLR */
    wr(s, esz, 512);
    qpci_config_writew(s->dev, exp + PCI_EXP_DEVCTL,
                       qpci_config_readw(s->dev, exp + PCI_EXP_DEVCTL) |
                       PCI_EXP_DEVCTL_BCR_FLR);
    spatten_map(s);
    g_assert_cmpuint(rd(s, esz), ==, 256);
    spatten_stop(s);
}

/* Wait for the next CQE of queue @q, check tag and status, consume it. */
static void cq_expect(Spatten *s, unsigned q, uint32_t tag, unsigned status,
                      uint32_t sq_head)
{
    struct spatten_hw_cqe e;

    cq_wait_q(s, q, &e);
    g_assert_cmphex(le32_to_cpu(e.tag), ==, tag);
    g_assert_cmpuint(le16_to_cpu(e.status), ==, status);
    g_assert_cmpuint(le16_to_cpu(e.sq_head), ==, sq_head);
    g_assert_cmpuint(le16_to_cpu(e.sq_id), ==, q);
    cq_pop(s, q);
}

/*
 * The @n completions of jobs @tag0..@tag0 + @n - 1, submitted together on
 * queue @q from SQ slot @slot0 on: in any order (jobs of a queue may
 * complete out of order), each once, job i with @status[i] and the SQ head
 * one past its own slot.
 */
static void cq_expect_set(Spatten *s, unsigned q, uint32_t tag0, unsigned n,
                          const unsigned *status, uint32_t slot0)
{
    g_autofree bool *seen = g_new0(bool, n);
    struct spatten_hw_cqe e;
    unsigned k, i;

    for (k = 0; k < n; k++) {
        cq_wait_q(s, q, &e);
        i = le32_to_cpu(e.tag) - tag0;
        g_assert_cmpuint(i, <, n);
        g_assert_false(seen[i]);
        seen[i] = true;
        g_assert_cmpuint(le16_to_cpu(e.status), ==, status[i]);
        g_assert_cmpuint(le16_to_cpu(e.sq_head), ==,
                         (slot0 + i + 1) % s->qp[q].sq_size);
        g_assert_cmpuint(le16_to_cpu(e.sq_id), ==, q);
        cq_pop(s, q);
    }
}

/*
 * 512-byte entries: version-3 and version-2 NOPs, over more than one lap
 * of the ring (the stride and the wrap).  A version-2 entry's upper 256
 * bytes are not part of its descriptor: garbage there is ignored.  The
 * whole 512 bytes of a version-3 entry are read: a stray byte at its end
 * is ERR_RESERVED.
 */
static void test_v3_nop(void)
{
    Spatten *s = spatten_start(NULL);
    struct spatten_hw_desc_v3 d3;
    uint8_t e2[SPATTEN_SQE_SIZE_MAX];
    unsigned i;

    queue_setup_esize(s, 1, RING_ENTRIES, RING_ENTRIES, 512);
    wr(s, SPATTEN_REG_CTRL, SPATTEN_CTRL_ENABLE);

    for (i = 0; i < 2 * RING_ENTRIES + 3; i++) {
        uint32_t tag = 0x3000 + i;

        if (i % 2) {
            memset(e2, 0xa5, sizeof(e2));
            desc_nop((struct spatten_hw_desc *)e2, tag);
            sq_put_raw(s, 1, e2, sizeof(e2));
        } else {
            desc_nop_v3(&d3, tag);
            sq_put_raw(s, 1, &d3, sizeof(d3));
        }
        sq_ring(s, 1);
        cq_expect(s, 1, tag, SPATTEN_HW_OK, (i + 1) % RING_ENTRIES);
    }

    /* the last byte of the entry, and the first reserved one */
    desc_nop_v3(&d3, 0x3100);
    d3.rsvd5[sizeof(d3.rsvd5) - 1] = 1;
    sq_put_raw(s, 1, &d3, sizeof(d3));
    desc_nop_v3(&d3, 0x3101);
    d3.rsvd5[0] = 0x80;
    sq_put_raw(s, 1, &d3, sizeof(d3));
    desc_nop_v3(&d3, 0x3102);
    d3.kv_block_rows = cpu_to_le32(16);     /* a NOP carries no field */
    sq_put_raw(s, 1, &d3, sizeof(d3));
    sq_ring(s, 1);
    cq_expect_set(s, 1, 0x3100, 3, (const unsigned[]){
                      SPATTEN_HW_ERR_RESERVED, SPATTEN_HW_ERR_RESERVED,
                      SPATTEN_HW_ERR_RESERVED }, 2 * RING_ENTRIES + 3);
    g_assert_cmpuint(cnt(s, SPATTEN_CNT_JOBS_OK), ==, 2 * RING_ENTRIES + 3);
    g_assert_cmpuint(cnt(s, SPATTEN_CNT_JOBS_ERR), ==, 3);
    spatten_stop(s);
}

/*
 * 256-byte entries: a version-3 descriptor (its first 256 bytes, all the
 * entry holds) completes ERR_VERSION with its tag, and the next entry is
 * read 256 bytes further on.
 */
static void test_v3_in_256(void)
{
    Spatten *s = spatten_start(NULL);
    struct spatten_hw_desc_v3 d3;
    struct spatten_hw_desc d;
    unsigned st[RING_ENTRIES - 1];
    unsigned i, lap;

    queue_setup(s, 0, RING_ENTRIES, RING_ENTRIES);
    wr(s, SPATTEN_REG_CTRL, SPATTEN_CTRL_ENABLE);
    /* two batches of RING_ENTRIES - 1 entries: every slot, and the wrap */
    for (lap = 0; lap < 2; lap++) {
        for (i = 0; i < RING_ENTRIES - 1; i++) {
            uint32_t tag = 0x3200 + 16 * lap + i;

            if (i % 3 == 2) {
                desc_nop(&d, tag);
                sq_put(s, &d);
                continue;
            }
            if (i % 3) {
                desc_nop_v3(&d3, tag);
            } else {
                desc_attn_v3(&d3, tag, 1, 1, 16, 1, 4, true);
            }
            sq_put_raw(s, 0, &d3, SPATTEN_DESC_SIZE);
        }
        sq_ring(s, 0);
        for (i = 0; i < RING_ENTRIES - 1; i++) {
            st[i] = i % 3 == 2 ? SPATTEN_HW_OK : SPATTEN_HW_ERR_VERSION;
        }
        cq_expect_set(s, 0, 0x3200 + 16 * lap, RING_ENTRIES - 1, st,
                      (RING_ENTRIES - 1) * lap);
    }
    spatten_stop(s);
}

/*
 * The engine in this process as the reference: the device must complete
 * a descriptor with the status the engine gives it, write exactly the
 * bytes the engine writes (nothing if it fails) and report the same
 * traffic and cycles.
 */
typedef struct RefMem {
    uint8_t *buf[SPE_PLANE_COUNT];      /* host copy of each operand */
    uint32_t len[SPE_PLANE_COUNT];
    uint64_t rd[SPE_PLANE_COUNT], wr[SPE_PLANE_COUNT];
} RefMem;

static bool plane_written(unsigned p)
{
    return p == SPE_PLANE_OUT || p == SPE_PLANE_TOK_IMP ||
           p == SPE_PLANE_TOK_KEPT || p == SPE_PLANE_HEAD_IMP ||
           p == SPE_PLANE_HEAD_KEPT;
}

/* What the device lets the engine read (spatten-engine.c). */
static bool plane_readable(unsigned p)
{
    return p != SPE_PLANE_OUT && p != SPE_PLANE_TOK_KEPT &&
           p != SPE_PLANE_HEAD_KEPT;
}

static int ref_read(void *opaque, enum spe_plane p, uint64_t off, void *dst,
                    size_t len)
{
    RefMem *m = opaque;

    if (p >= SPE_PLANE_COUNT || !plane_readable(p)) {
        return SPATTEN_HW_ERR_BUFFER;
    }
    if (!len) {
        return SPATTEN_HW_OK;
    }
    if (!m->buf[p] || off > m->len[p] || len > m->len[p] - off) {
        return SPATTEN_HW_ERR_BUFFER;
    }
    memcpy(dst, m->buf[p] + off, len);
    m->rd[p] += len;
    return SPATTEN_HW_OK;
}

static int ref_write(void *opaque, enum spe_plane p, uint64_t off,
                     const void *src, size_t len)
{
    RefMem *m = opaque;

    if (p >= SPE_PLANE_COUNT || !plane_written(p)) {
        return SPATTEN_HW_ERR_BUFFER;
    }
    if (!len) {
        return SPATTEN_HW_OK;
    }
    if (!m->buf[p] || off > m->len[p] || len > m->len[p] - off) {
        return SPATTEN_HW_ERR_BUFFER;
    }
    memcpy(m->buf[p] + off, src, len);
    m->wr[p] += len;
    return SPATTEN_HW_OK;
}

/*
 * Bulk guest memory access in pieces: libqtest and the qtest server look
 * for the end of a command line from its start every time more of it
 * arrives, so one multi-megabyte line takes quadratic time.
 */
#define BULK_CHUNK      (64 * 1024)

static void bulk_read(Spatten *s, uint64_t addr, void *dst, size_t len)
{
    size_t off, n;

    for (off = 0; off < len; off += n) {
        n = MIN(len - off, BULK_CHUNK);
        qtest_bufread(s->qts, addr + off, (uint8_t *)dst + off, n);
    }
}

static void bulk_write(Spatten *s, uint64_t addr, const void *src,
                       size_t len)
{
    size_t off, n;

    for (off = 0; off < len; off += n) {
        n = MIN(len - off, BULK_CHUNK);
        qtest_bufwrite(s->qts, addr + off, (const uint8_t *)src + off, n);
    }
}

/* The @b->len bytes of operand @b in guest memory (through its page list). */
static uint8_t *guest_operand(Spatten *s, const struct spe_buf *b)
{
    uint8_t *dst = g_malloc(b->len);
    uint64_t pos = b->offset;
    uint32_t done = 0;

    if (!(b->flags & SPATTEN_BUF_PAGE_LIST)) {
        bulk_read(s, b->addr, dst, b->len);
        return dst;
    }
    while (done < b->len) {
        uint64_t page = qtest_readq(s->qts, b->addr + 8 * (pos >> 12));
        uint32_t n = MIN(4096 - (pos & 4095), b->len - done);

        qtest_memread(s->qts, page + (pos & 4095), dst + done, n);
        done += n;
        pos += n;
    }
    return dst;
}

/* The device's capabilities, as the engine wants them. */
static struct spe_caps dev_caps(Spatten *s)
{
    struct spe_caps c;
    QDict *r;

    memset(&c, 0, sizeof(c));
    c.max_context = rd(s, SPATTEN_REG_CAP_MAX_CONTEXT);
    c.max_heads = rd(s, SPATTEN_REG_CAP_MAX_HEADS);
    c.head_dims = rd(s, SPATTEN_REG_CAP_HEAD_DIMS);
    c.formats = rd(s, SPATTEN_REG_CAP_FORMATS);
    c.splits = rd(s, SPATTEN_REG_CAP_SPLITS);
    c.features = rd(s, SPATTEN_REG_CAP_FEATURES);
    c.dma_bits = rd(s, SPATTEN_REG_CAP_DMA_BITS);
    c.model = spe_model_full();         /* the default model=full */
    r = qtest_qmp(s->qts, "{'execute': 'qom-get', 'arguments': "
                  "{'path': '/machine/peripheral/sp0', "
                  "'property': 'max-scratch-bytes'}}");
    g_assert(qdict_haskey(r, "return"));
    c.max_scratch = qdict_get_int(r, "return");
    qobject_unref(r);
    return c;
}

static uint64_t meta_read(const RefMem *m)
{
    return m->rd[SPE_PLANE_TOK_IMP] + m->rd[SPE_PLANE_TOK_ALIVE] +
           m->rd[SPE_PLANE_PINNED] + m->rd[SPE_PLANE_HEAD_IMP] +
           m->rd[SPE_PLANE_HEAD_ALIVE] + m->rd[SPE_PLANE_BLOCK_TABLE] +
           m->rd[SPE_PLANE_POSITIONS];
}

/*
 * Put the @len bytes at @desc in the next SQ entry of queue @q (enabled,
 * nothing else in flight) and run it on the device and on the engine
 * here, from the same entry bytes and the same memory; check that they
 * agree.  Returns the status.
 */
static unsigned run_vs_engine(Spatten *s, unsigned q, const void *desc,
                              size_t len)
{
    SpQueue *p = &s->qp[q];
    struct spe_caps caps = dev_caps(s);
    uint8_t entry[SPATTEN_SQE_SIZE_MAX];
    uint8_t *pre[SPE_PLANE_COUNT] = { NULL };
    RefMem m;
    struct spe_mem mem = {
        .read = ref_read,
        .write = ref_write,
        .opaque = &m,
    };
    struct spe_job job;
    struct spe_result res;
    struct spatten_hw_cqe e;
    uint64_t meta0 = cnt(s, SPATTEN_CNT_BYTES_META);
    uint64_t slot = p->sq + (uint64_t)p->sq_tail * p->esize;
    uint64_t written = 0;
    unsigned i;
    int st;

    memset(&m, 0, sizeof(m));
    memset(&res, 0, sizeof(res));
    sq_put_raw(s, q, desc, len);
    /* the entry exactly as the device will read it */
    memset(entry, 0, sizeof(entry));
    qtest_memread(s->qts, slot, entry, p->esize);
    st = spe_desc_decode(entry, p->esize, &caps, &job);
    if (st == SPATTEN_HW_OK) {
        for (i = 0; i < SPE_PLANE_COUNT; i++) {
            if (!job.buf[i].len) {
                continue;
            }
            m.buf[i] = guest_operand(s, &job.buf[i]);
            m.len[i] = job.buf[i].len;
            if (plane_written(i)) {
                pre[i] = g_memdup2(m.buf[i], m.len[i]);
            }
        }
        st = spe_run(&job, &caps, &mem, &res);
    }

    sq_ring(s, q);
    cq_wait_q(s, q, &e);
    cq_pop(s, q);
    g_assert_cmphex(le32_to_cpu(e.tag), ==, ldl_le_p(entry + 8));
    g_assert_cmpuint(le16_to_cpu(e.status), ==, st);
    g_assert_cmpuint(le64_to_cpu(e.bytes_q), ==, m.rd[SPE_PLANE_Q]);
    g_assert_cmpuint(le64_to_cpu(e.bytes_k_msb), ==, m.rd[SPE_PLANE_K_MSB]);
    g_assert_cmpuint(le64_to_cpu(e.bytes_k_lsb), ==, m.rd[SPE_PLANE_K_LSB]);
    g_assert_cmpuint(le64_to_cpu(e.bytes_v), ==, m.rd[SPE_PLANE_V]);
    g_assert_cmpuint(le64_to_cpu(e.cycles), ==,
                     st == SPATTEN_HW_OK ? res.cycles : 0);
    g_assert_cmpuint(le32_to_cpu(e.lsb_refetches), ==, res.lsb_refetches);
    /* BYTES_META: cascade state, block table and positions read */
    g_assert_cmpuint(cnt(s, SPATTEN_CNT_BYTES_META) - meta0, ==,
                     meta_read(&m));
    for (i = 0; i < SPE_PLANE_COUNT; i++) {
        g_autofree uint8_t *now = NULL;

        if (!pre[i]) {
            continue;
        }
        now = guest_operand(s, &job.buf[i]);
        /* success: the engine's bytes; failure: nothing written */
        g_assert_cmpint(memcmp(now, st == SPATTEN_HW_OK ? m.buf[i] : pre[i],
                               m.len[i]), ==, 0);
        written += m.wr[i];
    }
    g_assert_cmpuint(le64_to_cpu(e.bytes_written), ==,
                     st == SPATTEN_HW_OK ? written : 0);
    for (i = 0; i < SPE_PLANE_COUNT; i++) {
        g_free(m.buf[i]);
        g_free(pre[i]);
    }
    return st;
}

/* Guest memory of @n int16 in -@range..@range - 1, from seed @seed. */
static void fill_random16(Spatten *s, uint64_t addr, size_t n, int range,
                          uint64_t seed)
{
    g_autofree int16_t *v = g_new(int16_t, n);
    size_t i;

    seed |= 1;
    for (i = 0; i < n; i++) {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        v[i] = cpu_to_le16((int16_t)((int)(seed % (2 * range)) - range));
    }
    bulk_write(s, addr, v, n * sizeof(*v));
}

/*
 * A version-2 ATTENTION job (4 heads, causal, random operands) gives the
 * same completion and output in a 512-byte-entry queue (with garbage in
 * the entry's upper half) as in a 256-byte one, and what the engine
 * computes.
 */
static void test_v2_in_512(void)
{
    Spatten *s = spatten_start(NULL);
    const unsigned h = 4, dim = 32, qr = 8, kv = 24;
    const uint32_t qb = h * qr * dim * 2, kb = h * kv * dim * 2;
    uint64_t buf = alloc_aligned(s, 2 * qb + 2 * kb + 2 * qb);
    uint64_t out0 = buf + qb + 2 * kb, out1 = out0 + qb;
    uint8_t e[SPATTEN_SQE_SIZE_MAX];
    struct spatten_hw_desc *d = (struct spatten_hw_desc *)e;
    g_autofree uint8_t *o0 = g_malloc(qb);
    g_autofree uint8_t *o1 = g_malloc(qb);
    unsigned i;

    fill_random16(s, buf, (qb + 2 * kb) / 2, 512, 0x1234);
    qtest_memset(s->qts, out0, 0x55, 2 * qb);
    queue_setup(s, 0, RING_ENTRIES, RING_ENTRIES);
    queue_setup_esize(s, 1, RING_ENTRIES, RING_ENTRIES, 512);
    wr(s, SPATTEN_REG_CTRL, SPATTEN_CTRL_ENABLE);

    for (i = 0; i < 2; i++) {
        memset(e, 0xa5, sizeof(e));
        desc_attn(d, 0x3300 + i, h, dim, qr, kv, false);
        d->flags = cpu_to_le16(SPATTEN_DESC_F_CAUSAL);
        d->q_start = cpu_to_le16(kv - qr);
        d->topk_seed = cpu_to_le32(7);
        set_buf(&d->q, buf, qb);
        set_buf(&d->k, buf + qb, kb);
        set_buf(&d->v, buf + qb + kb, kb);
        set_buf(&d->out, i ? out1 : out0, qb);
        g_assert_cmpuint(run_vs_engine(s, i, e, i ? sizeof(e) :
                                       SPATTEN_DESC_SIZE), ==,
                         SPATTEN_HW_OK);
    }
    qtest_memread(s->qts, out0, o0, qb);
    qtest_memread(s->qts, out1, o1, qb);
    g_assert_cmpint(memcmp(o0, o1, qb), ==, 0);
    g_assert_false(untouched(s, out0, qb));
    g_assert_cmpuint(cnt(s, SPATTEN_CNT_JOBS_OK), ==, 2);
    spatten_stop(s);
}

/*
 * The status the specification gives a job that needs the engine's
 * version-3 execution (grouped-query heads, KV layouts, paging, RoPE,
 * 32-bit lists); the device agrees with the engine in any case
 * (run_vs_engine).
 */
static bool engine_gives(unsigned got, unsigned want, const char *what)
{
    if (got != want) {
        g_test_message("%s: status %u, the specification says %u", what,
                       got, want);
    }
    g_assert_cmpuint(got, ==, want);
    return true;
}

/*
 * Version-3 ATTENTION jobs with n_kv_heads == n_heads and the packed KV
 * layout, against the engine: a causal summarization block; generation
 * over 70000 keys (more than version 2's 16-bit rows can say); and one
 * at the default max-context, 131072 keys of head_dim 128 (S8 K and V),
 * within the default scratch cap.  The first must complete OK; the two
 * long ones need the engine's 32-bit rows (engine_gives()).
 */
static void test_v3_attention(void)
{
    Spatten *s = spatten_start(NULL);
    struct spatten_hw_desc_v3 d;
    uint64_t q, k, v, out;
    uint32_t kv, qb, kb;

    queue_setup_esize(s, 0, RING_ENTRIES, RING_ENTRIES, 512);
    wr(s, SPATTEN_REG_CTRL, SPATTEN_CTRL_ENABLE);

    /* 4 heads, head_dim 64, query rows 60..99 of 100 keys, causal */
    qb = 4 * 40 * 64 * 2;
    kb = 4 * 100 * 64 * 2;
    q = alloc_aligned(s, 2 * qb + 2 * kb);
    k = q + qb;
    v = k + kb;
    out = v + kb;
    fill_random16(s, q, (qb + 2 * kb) / 2, 1024, 0x51);
    qtest_memset(s->qts, out, 0x55, qb);
    desc_attn_v3(&d, 0x3400, 4, 4, 64, 40, 100, false);
    d.flags = cpu_to_le16(SPATTEN_DESC_F_CAUSAL);
    d.q_start = cpu_to_le32(60);
    d.topk_seed = cpu_to_le32(99);
    set_buf(&d.q, q, qb);
    set_buf(&d.k, k, kb);
    set_buf(&d.v, v, kb);
    set_buf(&d.out, out, qb);
    g_assert_cmpuint(run_vs_engine(s, 0, &d, sizeof(d)), ==, SPATTEN_HW_OK);
    g_assert_false(untouched(s, out, qb));

    /* generation, 2 heads, head_dim 16, 70000 keys: 32-bit rows */
    kv = 70000;
    qb = 2 * 16 * 2;
    kb = 2 * kv * 16 * 2;
    q = alloc_aligned(s, 2 * qb + 2 * kb);
    k = q + qb;
    v = k + kb;
    out = v + kb;
    fill_random16(s, q, (qb + 2 * kb) / 2, 2048, 0x52);
    qtest_memset(s->qts, out, 0x55, qb);
    desc_attn_v3(&d, 0x3401, 2, 2, 16, 1, kv, true);
    set_buf(&d.q, q, qb);
    set_buf(&d.k, k, kb);
    set_buf(&d.v, v, kb);
    set_buf(&d.out, out, qb);
    if (engine_gives(run_vs_engine(s, 0, &d, sizeof(d)), SPATTEN_HW_OK,
                     "70000 keys")) {
        g_assert_false(untouched(s, out, qb));
    }

    /* beyond 16 bits and within max-context: generation at 131072 keys */
    kv = rd(s, SPATTEN_REG_CAP_MAX_CONTEXT);
    g_assert_cmpuint(kv, ==, 131072);
    qb = 128 * 2;
    kb = kv * 128;
    q = alloc_aligned(s, 2 * qb + 2 * kb);
    k = q + qb;
    v = k + kb;
    out = v + kb;
    fill_random16(s, q, (qb + 2 * kb) / 2, 32768, 0x53);
    qtest_memset(s->qts, out, 0x55, qb);
    desc_attn_v3(&d, 0x3402, 1, 1, 128, 1, kv, true);
    d.k_fmt = d.v_fmt = SPATTEN_FMT_S8;
    d.k_frac = d.v_frac = 4;
    set_buf(&d.q, q, qb);
    set_buf(&d.k, k, kb);
    set_buf(&d.v, v, kb);
    set_buf(&d.out, out, qb);
    if (engine_gives(run_vs_engine(s, 0, &d, sizeof(d)), SPATTEN_HW_OK,
                     "131072 keys")) {
        g_assert_false(untouched(s, out, qb));
    }

    /* one row more than max-context */
    d.tag = cpu_to_le32(0x3403);
    d.kv_rows = cpu_to_le32(kv + 1);
    d.q_start = cpu_to_le32(kv);
    g_assert_cmpuint(run_vs_engine(s, 0, &d, sizeof(d)), ==,
                     SPATTEN_HW_ERR_SHAPE);
    spatten_stop(s);
}

/* Write @n __le32 values at @addr. */
static void write_u32s(Spatten *s, uint64_t addr, const uint32_t *v,
                       unsigned n)
{
    unsigned i;

    for (i = 0; i < n; i++) {
        qtest_writel(s->qts, addr + 4 * i, v[i]);
    }
}

/*
 * A paged KV cache: 1 KV head, blocks of 16 token slots, 40 keys (3
 * blocks) in a K and a V buffer of 2 blocks, the block table through a
 * page list.  With table 1, 0, 1 the job is valid; an entry 7 is outside
 * the buffers: ERR_BLOCK, nothing written.
 */
static void test_v3_block(void)
{
    Spatten *s = spatten_start(NULL);
    struct spatten_hw_desc_v3 d;
    uint64_t base = alloc_aligned(s, 6 * 4096), pl = base + 5 * 4096;
    uint64_t q = base, k = base + 4096, v = base + 2 * 4096;
    uint64_t out = base + 3 * 4096, table = base + 4 * 4096 + 40;
    bool ok;

    fill_random16(s, base, 3 * 4096 / 2, 1024, 0x61);
    qtest_memset(s->qts, out, 0x55, 4096);
    qtest_writeq(s->qts, pl, base + 4 * 4096);
    queue_setup_esize(s, 0, RING_ENTRIES, RING_ENTRIES, 512);
    wr(s, SPATTEN_REG_CTRL, SPATTEN_CTRL_ENABLE);

    desc_attn_v3(&d, 0x3500, 2, 1, 16, 1, 40, true);
    d.kv_block_rows = cpu_to_le32(16);
    d.kv_block_stride = cpu_to_le32(16);
    d.kv_row_stride = cpu_to_le32(1);
    set_buf(&d.q, q, 2 * 32);
    set_buf(&d.k, k, 2 * 16 * 32);
    set_buf(&d.v, v, 2 * 16 * 32);
    set_buf(&d.out, out, 2 * 32);
    d.block_table.addr = cpu_to_le64(pl);
    d.block_table.len = cpu_to_le32(3 * 4);
    d.block_table.offset = cpu_to_le16(40);
    d.block_table.flags = cpu_to_le16(SPATTEN_BUF_PAGE_LIST);

    write_u32s(s, table, (const uint32_t[]){ 1, 0, 1 }, 3);
    ok = engine_gives(run_vs_engine(s, 0, &d, sizeof(d)), SPATTEN_HW_OK,
                      "paged KV, valid table");
    write_u32s(s, table, (const uint32_t[]){ 1, 0, 7 }, 3);
    d.tag = cpu_to_le32(0x3501);
    qtest_memset(s->qts, out, 0x55, 4096);
    /* run_vs_engine: a failed job writes nothing */
    ok &= engine_gives(run_vs_engine(s, 0, &d, sizeof(d)),
                       SPATTEN_HW_ERR_BLOCK, "paged KV, entry 7 of 2 blocks");
    if (ok) {
        /* the table was read: 12 bytes per job, counted as meta */
        g_assert_cmpuint(cnt(s, SPATTEN_CNT_BYTES_META), >=, 12);
    }
    spatten_stop(s);
}

/*
 * The rest of version 3 through the device, against the engine:
 * grouped-query heads (4 query heads on 2 KV heads) in a paged cache with
 * both heads in each block, RoPE with a key position list, token, value
 * and head pruning with 32-bit lists; every read-only plane (block table,
 * positions, alive list) through a page list.  The device must agree
 * with the engine whatever it does; the specification says OK.
 */
static void test_v3_features(void)
{
    Spatten *s = spatten_start(NULL);
    struct spatten_hw_desc_v3 d;
    const unsigned kv = 50, dim = 32;
    uint64_t base = alloc_aligned(s, 16 * 4096);
    uint64_t q = base, k = base + 4096, v = base + 4 * 4096;
    uint64_t out = base + 7 * 4096, meta = base + 8 * 4096;
    uint64_t pl = base + 12 * 4096;
    uint32_t pos[50];
    unsigned i;

    fill_random16(s, base, 7 * 4096 / 2, 2048, 0x71);
    qtest_memset(s->qts, out, 0x55, 4096);
    qtest_memset(s->qts, meta, 0, 4 * 4096);
    /* page list: meta page 0..3 in reverse order */
    for (i = 0; i < 4; i++) {
        qtest_writeq(s->qts, pl + 8 * i, meta + (3 - i) * 4096);
    }
    /* list page 0 (= meta + 3 pages): block table, then positions */
    write_u32s(s, meta + 3 * 4096, (const uint32_t[]){ 5, 0, 3, 1 }, 4);
    for (i = 0; i < kv; i++) {
        pos[i] = 2 * i + 1;
    }
    write_u32s(s, meta + 3 * 4096 + 64, pos, kv);
    /* list page 1: head_alive 0, 2, 3 */
    write_u32s(s, meta + 2 * 4096, (const uint32_t[]){ 0, 2, 3 }, 3);

    queue_setup_esize(s, 0, RING_ENTRIES, RING_ENTRIES, 512);
    wr(s, SPATTEN_REG_CTRL, SPATTEN_CTRL_ENABLE);

    desc_attn_v3(&d, 0x3600, 4, 2, dim, 1, kv, true);
    d.flags |= cpu_to_le16(SPATTEN_DESC_F_ROPE |
                           SPATTEN_DESC_F_ROPE_POSITIONS);
    d.rope_base = cpu_to_le32(10000);
    d.score_scale = cpu_to_le32(0x3e000000);     /* 0.125 */
    /* rows: block b at b * 32, KV head g at + 16 g, slot at + r % 16 */
    d.kv_block_rows = cpu_to_le32(16);
    d.kv_block_stride = cpu_to_le32(32);
    d.kv_head_stride = cpu_to_le32(16);
    d.kv_row_stride = cpu_to_le32(1);
    d.token_keep = cpu_to_le32(30);
    d.value_keep = cpu_to_le32(10);
    d.n_head_alive = cpu_to_le16(3);
    d.head_keep = cpu_to_le16(2);
    d.topk_seed = cpu_to_le32(3);
    set_buf(&d.q, q, 4 * dim * 2);
    set_buf(&d.k, k, 6 * 32 * dim * 2);
    set_buf(&d.v, v, 6 * 32 * dim * 2);
    set_buf(&d.out, out, 4 * dim * 2);
    set_buf(&d.tok_imp, meta + 1024, kv * 8);
    set_buf(&d.tok_kept, meta + 2048, 30 * 4);
    set_buf(&d.head_imp, meta + 4096 + 1024, 4 * 8);
    set_buf(&d.head_kept, meta + 4096 + 2048, 2 * 4);
    d.block_table.addr = cpu_to_le64(pl);
    d.block_table.len = cpu_to_le32(4 * 4);
    d.block_table.flags = cpu_to_le16(SPATTEN_BUF_PAGE_LIST);
    d.positions.addr = cpu_to_le64(pl);
    d.positions.len = cpu_to_le32(kv * 4);
    d.positions.offset = cpu_to_le16(64);
    d.positions.flags = cpu_to_le16(SPATTEN_BUF_PAGE_LIST);
    /* page-list offsets are below 4096: this list starts at entry 1 */
    d.head_alive.addr = cpu_to_le64(pl + 8);
    d.head_alive.len = cpu_to_le32(3 * 4);
    d.head_alive.flags = cpu_to_le16(SPATTEN_BUF_PAGE_LIST);
    engine_gives(run_vs_engine(s, 0, &d, sizeof(d)), SPATTEN_HW_OK,
                 "GQA, paged, RoPE, pruning with 32-bit lists");
    spatten_stop(s);
}

/*
 * Version-3 decode statuses through the device (the engine's decoder,
 * with the device's capabilities): each one completes with its status,
 * the same as the engine here, and writes nothing.
 */
static void test_v3_errors(void)
{
    Spatten *s = spatten_start(NULL);
    struct spatten_hw_desc_v3 d, base;
    uint64_t buf = alloc_aligned(s, 4096);
    unsigned tag = 0x3700;

    fill_random16(s, buf, 1024, 256, 0x81);
    qtest_memset(s->qts, buf + 2048, 0x55, 2048);
    queue_setup_esize(s, 0, RING_ENTRIES, RING_ENTRIES, 512);
    wr(s, SPATTEN_REG_CTRL, SPATTEN_CTRL_ENABLE);
    desc_attn_v3(&base, 0, 2, 2, 16, 1, 8, true);
    set_buf(&base.q, buf, 2 * 32);
    set_buf(&base.k, buf + 64, 2 * 8 * 32);
    set_buf(&base.v, buf + 1024, 2 * 8 * 32);
    set_buf(&base.out, buf + 2048, 2 * 32);

#define V3_EXPECT(status, stmt) do {                                    \
        d = base;                                                       \
        d.tag = cpu_to_le32(tag++);                                     \
        stmt;                                                           \
        g_assert_cmpuint(run_vs_engine(s, 0, &d, sizeof(d)), ==,        \
                         (status));                                     \
        g_assert_true(untouched(s, buf + 2048, 2048));                  \
    } while (0)

    V3_EXPECT(SPATTEN_HW_ERR_VERSION, d.desc_size = cpu_to_le16(256));
    V3_EXPECT(SPATTEN_HW_ERR_VERSION, d.version = 4);
    /* the lowest flag bit version 3 lacks */
    V3_EXPECT(SPATTEN_HW_ERR_FLAGS,
              d.flags |= cpu_to_le16((SPATTEN_DESC_F_ALL_V3 + 1) &
                                     ~SPATTEN_DESC_F_ALL_V3));
    /* a position list without RoPE */
    V3_EXPECT(SPATTEN_HW_ERR_FLAGS,
              d.flags |= cpu_to_le16(SPATTEN_DESC_F_ROPE_POSITIONS));
    V3_EXPECT(SPATTEN_HW_ERR_RESERVED, d.rsvd4[6] = cpu_to_le32(1));
    V3_EXPECT(SPATTEN_HW_ERR_RESERVED, d.rsvd5[sizeof(d.rsvd5) - 1] = 1);
    /* 2 query heads on 0 or 3 KV heads */
    V3_EXPECT(SPATTEN_HW_ERR_SHAPE, d.n_kv_heads = 0);
    V3_EXPECT(SPATTEN_HW_ERR_SHAPE, d.n_kv_heads = cpu_to_le16(3));
    V3_EXPECT(SPATTEN_HW_ERR_SHAPE, (d.kv_rows = cpu_to_le32(1u << 31),
                                     d.q_start = cpu_to_le32(0x7fffffff)));
    V3_EXPECT(SPATTEN_HW_ERR_POSITION, d.q_start = cpu_to_le32(3));
    /* paging without a block stride; a block of 3 slots; no row stride */
    V3_EXPECT(SPATTEN_HW_ERR_LAYOUT, (d.kv_block_rows = cpu_to_le32(4),
                                      d.kv_row_stride = cpu_to_le32(1),
                                      d.kv_head_stride = cpu_to_le32(4)));
    V3_EXPECT(SPATTEN_HW_ERR_LAYOUT, (d.kv_block_rows = cpu_to_le32(3),
                                      d.kv_block_stride = cpu_to_le32(8),
                                      d.kv_row_stride = cpu_to_le32(1),
                                      d.kv_head_stride = cpu_to_le32(4)));
    V3_EXPECT(SPATTEN_HW_ERR_LAYOUT, d.kv_head_stride = cpu_to_le32(8));
    /* rope_base without RoPE, a negative or infinite scale */
    V3_EXPECT(SPATTEN_HW_ERR_PARAM, d.rope_base = cpu_to_le32(10000));
    V3_EXPECT(SPATTEN_HW_ERR_PARAM, d.score_scale = cpu_to_le32(0xbf800000));
    V3_EXPECT(SPATTEN_HW_ERR_PARAM, d.score_scale = cpu_to_le32(0x7f800000));
    V3_EXPECT(SPATTEN_HW_ERR_PARAM, (d.flags |= cpu_to_le16(
                                         SPATTEN_DESC_F_ROPE),
                                     d.rope_base = cpu_to_le32(1)));
    /* a block table without paging, a position list without the flag */
    V3_EXPECT(SPATTEN_HW_ERR_BUFFER, set_buf(&d.block_table, buf, 4));
    V3_EXPECT(SPATTEN_HW_ERR_BUFFER, set_buf(&d.positions, buf, 32));
    /* K short of what the strided layout reaches (head 1 at row 8) */
    V3_EXPECT(SPATTEN_HW_ERR_BUFFER, (d.kv_head_stride = cpu_to_le32(9),
                                      d.kv_row_stride = cpu_to_le32(1)));
#undef V3_EXPECT

    /* the base job is fine */
    d = base;
    d.tag = cpu_to_le32(tag);
    g_assert_cmpuint(run_vs_engine(s, 0, &d, sizeof(d)), ==, SPATTEN_HW_OK);
    g_assert_cmpuint(cnt(s, SPATTEN_CNT_JOBS_OK), ==, 1);
    spatten_stop(s);
}

/*
 * Chunked generation (SPATTEN_FEAT_CHUNKS): a version-3 generation job
 * of 10 new tokens at slots 40..49 of 50, 4 query heads on 2 KV heads,
 * RoPE, token pruning with a 32-bit alive list that names two of the new
 * slots, pinned tokens, value and head importance; then the same chunk
 * dense.  The device agrees with the engine, which the host tests hold
 * to the reference (tests/host/test_chunks.c).  Errors: a chunk that
 * does not end the slots or is not causal (ERR_POSITION), a chunk in a
 * version-2 descriptor (ERR_SHAPE), token_keep below the pinned and new
 * tokens (ERR_KEEP at run time); each writes nothing.
 */
static void test_v3_chunks(void)
{
    Spatten *s = spatten_start(NULL);
    struct spatten_hw_desc_v3 d, base;
    struct spatten_hw_desc d2;
    const unsigned kv = 50, nq = 10, dim = 32;
    const uint32_t qb = 4 * nq * dim * 2, kb = 2 * kv * dim * 2;
    uint64_t buf = alloc_aligned(s, 8 * 4096);
    uint64_t q = buf, k = buf + 4096, v = buf + 3 * 4096;
    uint64_t out = buf + 5 * 4096, meta = buf + 6 * 4096;
    uint32_t alive[22];
    unsigned i, tag = 0x3800;

    fill_random16(s, buf, 5 * 4096 / 2, 2048, 0x91);
    qtest_memset(s->qts, out, 0x55, 4096);
    qtest_memset(s->qts, meta, 0, 2 * 4096);
    for (i = 0; i < kv; i++) {
        qtest_writeq(s->qts, meta + 8 * i, (i * 7919) % 1000);
    }
    for (i = 0; i < 20; i++) {
        alive[i] = 2 * i;
    }
    alive[20] = 42;
    alive[21] = 47;
    write_u32s(s, meta + 512, alive, 22);
    write_u32s(s, meta + 1536, (const uint32_t[]){ 0, 2 }, 2);

    queue_setup_esize(s, 0, RING_ENTRIES, RING_ENTRIES, 512);
    wr(s, SPATTEN_REG_CTRL, SPATTEN_CTRL_ENABLE);

    desc_attn_v3(&base, 0, 4, 2, dim, nq, kv, true);
    base.q_start = cpu_to_le32(kv - nq);
    set_buf(&base.q, q, qb);
    set_buf(&base.k, k, kb);
    set_buf(&base.v, v, kb);
    set_buf(&base.out, out, qb);

    /* 20 of the 20 old + 10 new candidates: 2 pinned + 10 new forced */
    d = base;
    d.tag = cpu_to_le32(tag++);
    d.flags |= cpu_to_le16(SPATTEN_DESC_F_ROPE);
    d.rope_base = cpu_to_le32(10000);
    d.n_tok_alive = cpu_to_le32(22);
    d.token_keep = cpu_to_le32(20);
    d.n_pinned = cpu_to_le32(2);
    d.value_keep = cpu_to_le32(8);
    d.topk_seed = cpu_to_le32(5);
    set_buf(&d.tok_imp, meta, kv * 8);
    set_buf(&d.tok_alive, meta + 512, 22 * 4);
    set_buf(&d.tok_kept, meta + 1024, 20 * 4);
    set_buf(&d.pinned, meta + 1536, 2 * 4);
    set_buf(&d.head_imp, meta + 2048, 4 * 8);
    if (engine_gives(run_vs_engine(s, 0, &d, sizeof(d)), SPATTEN_HW_OK,
                     "a pruned chunk of 10 at 40")) {
        g_assert_false(untouched(s, out, qb));
        /* every new slot kept, the last 10 of the ascending list */
        for (i = 0; i < nq; i++) {
            g_assert_cmpuint(qtest_readl(s->qts, meta + 1024 + 4 * (10 + i)),
                             ==, kv - nq + i);
        }
    }
    d = base;
    d.tag = cpu_to_le32(tag++);
    engine_gives(run_vs_engine(s, 0, &d, sizeof(d)), SPATTEN_HW_OK,
                 "a dense chunk of 10 at 40");
    qtest_memset(s->qts, out, 0x55, 4096);

#define CHUNK_EXPECT(status, stmt) do {                                 \
        d = base;                                                       \
        d.tag = cpu_to_le32(tag++);                                     \
        stmt;                                                           \
        g_assert_cmpuint(run_vs_engine(s, 0, &d, sizeof(d)), ==,        \
                         (status));                                     \
        g_assert_true(untouched(s, out, 4096));                         \
    } while (0)

    CHUNK_EXPECT(SPATTEN_HW_ERR_POSITION, d.q_start = cpu_to_le32(39));
    CHUNK_EXPECT(SPATTEN_HW_ERR_POSITION, d.kv_rows = cpu_to_le32(49));
    /* a first chunk (q_start 0, every slot new) without CAUSAL */
    CHUNK_EXPECT(SPATTEN_HW_ERR_POSITION, (d.kv_rows = cpu_to_le32(nq),
                                           d.q_start = 0,
                                           d.flags = 0));
    /* 10 new tokens do not fit in a token_keep of 9 */
    CHUNK_EXPECT(SPATTEN_HW_ERR_KEEP, (d.token_keep = cpu_to_le32(9),
                                       set_buf(&d.tok_imp, meta, kv * 8),
                                       set_buf(&d.tok_kept, meta + 1024,
                                               9 * 4)));
#undef CHUNK_EXPECT

    /* chunks are version 3's: a version-2 one is ERR_SHAPE */
    desc_attn(&d2, tag++, 4, dim, nq, kv, true);
    d2.q_start = cpu_to_le16(kv - nq);
    set_buf(&d2.q, q, qb);
    set_buf(&d2.k, k, 4 * kv * dim * 2);
    set_buf(&d2.v, v, 4 * kv * dim * 2);
    set_buf(&d2.out, out, qb);
    g_assert_cmpuint(run_vs_engine(s, 0, &d2, sizeof(d2)), ==,
                     SPATTEN_HW_ERR_SHAPE);
    g_assert_true(untouched(s, out, 4096));
    g_assert_cmpuint(cnt(s, SPATTEN_CNT_JOBS_OK), ==, 2);
    spatten_stop(s);
}

/*
 * Token importance per KV head (SPATTEN_FEAT_IMP_PER_KV_HEAD): a causal
 * prefill of 40 rows, 8 query heads on 2 KV heads, heads 0, 1, 2 and 5
 * alive, value pruning, with tok_imp u64[2][40] (random inputs near the
 * top of u64 in places): the device agrees with the engine byte for byte
 * (output, both rows, head importance, counters, BYTES_META with the
 * larger plane); the same job without the flag, its shared tok_imp
 * starting at the sum of the two rows, ends at the sum of the two rows
 * written, with the same output.  The host tests hold the engine to the
 * reference (tests/host/test_imp_kv.c).  Errors: the flag with
 * token_keep (ERR_FLAGS), tok_imp absent or of kv_rows x 8 bytes
 * (ERR_BUFFER), bit 5 in a version-2 descriptor (ERR_FLAGS); each writes
 * nothing.
 */
static void test_v3_imp_per_kv_head(void)
{
    Spatten *s = spatten_start(NULL);
    struct spatten_hw_desc_v3 d, base;
    struct spatten_hw_desc d2;
    const unsigned kv = 40, dim = 32, heads = 8, groups = 2;
    const uint32_t qb = heads * kv * dim * 2, kb = groups * kv * dim * 2;
    const uint32_t ib = groups * kv * 8;
    uint64_t buf = alloc_aligned(s, 16 * 4096);
    uint64_t q = buf, k = buf + 5 * 4096, v = buf + 7 * 4096;
    uint64_t out = buf + 9 * 4096, meta = buf + 15 * 4096;
    uint64_t in[2 * 40], sum;
    g_autofree uint8_t *out0 = g_malloc(qb);
    g_autofree uint8_t *out1 = g_malloc(qb);
    unsigned i, tag = 0x3900;

    g_assert_cmpuint(qb, <=, 6 * 4096);
    g_assert_cmpuint(kb, <=, 2 * 4096);
    fill_random16(s, buf, 9 * 4096 / 2, 2048, 0x93);
    qtest_memset(s->qts, out, 0x55, qb);
    qtest_memset(s->qts, meta, 0, 4096);
    for (i = 0; i < groups * kv; i++) {
        in[i] = i % 7 ? (i * 7919) % 100000 : UINT64_MAX - i;
        qtest_writeq(s->qts, meta + 8 * i, in[i]);
    }
    write_u32s(s, meta + 1024, (const uint32_t[]){ 0, 1, 2, 5 }, 4);

    queue_setup_esize(s, 0, RING_ENTRIES, RING_ENTRIES, 512);
    wr(s, SPATTEN_REG_CTRL, SPATTEN_CTRL_ENABLE);

    desc_attn_v3(&base, 0, heads, groups, dim, kv, kv, false);
    base.flags = cpu_to_le16(SPATTEN_DESC_F_CAUSAL |
                             SPATTEN_DESC_F_IMP_PER_KV_HEAD);
    base.n_head_alive = cpu_to_le16(4);
    base.value_keep = cpu_to_le32(6);
    set_buf(&base.q, q, qb);
    set_buf(&base.k, k, kb);
    set_buf(&base.v, v, kb);
    set_buf(&base.out, out, qb);
    set_buf(&base.tok_imp, meta, ib);
    set_buf(&base.head_imp, meta + 2048, heads * 8);
    set_buf(&base.head_alive, meta + 1024, 4 * 4);

    d = base;
    d.tag = cpu_to_le32(tag++);
    engine_gives(run_vs_engine(s, 0, &d, sizeof(d)), SPATTEN_HW_OK,
                 "importance per KV head, GQA 8/2");
    qtest_memread(s->qts, out, out0, qb);
    /* the same job, one shared row starting at the sum of the two */
    for (i = 0; i < kv; i++) {
        sum = qtest_readq(s->qts, meta + 8 * i) +
              qtest_readq(s->qts, meta + 8 * (kv + i));
        qtest_writeq(s->qts, meta + 4096 - 8 * (kv - i), sum);
        qtest_writeq(s->qts, meta + 8 * i, in[i] + in[kv + i]);
    }
    qtest_memset(s->qts, meta + 2048, 0, heads * 8);
    d = base;
    d.tag = cpu_to_le32(tag++);
    d.flags = cpu_to_le16(SPATTEN_DESC_F_CAUSAL);
    set_buf(&d.tok_imp, meta, kv * 8);
    g_assert_cmpuint(run_vs_engine(s, 0, &d, sizeof(d)), ==, SPATTEN_HW_OK);
    qtest_memread(s->qts, out, out1, qb);
    g_assert_cmpint(memcmp(out0, out1, qb), ==, 0);
    for (i = 0; i < kv; i++) {
        g_assert_cmphex(qtest_readq(s->qts, meta + 8 * i), ==,
                        qtest_readq(s->qts, meta + 4096 - 8 * (kv - i)));
    }
    qtest_memset(s->qts, out, 0x55, qb);

#define KVIMP_EXPECT(status, stmt) do {                                 \
        d = base;                                                       \
        d.tag = cpu_to_le32(tag++);                                     \
        stmt;                                                           \
        g_assert_cmpuint(run_vs_engine(s, 0, &d, sizeof(d)), ==,        \
                         (status));                                     \
        g_assert_true(untouched(s, out, qb));                     \
    } while (0)

    KVIMP_EXPECT(SPATTEN_HW_ERR_FLAGS, (d.token_keep = cpu_to_le32(20),
                                        set_buf(&d.tok_kept, meta + 3072,
                                                20 * 4)));
    KVIMP_EXPECT(SPATTEN_HW_ERR_BUFFER, set_buf(&d.tok_imp, 0, 0));
    KVIMP_EXPECT(SPATTEN_HW_ERR_BUFFER, set_buf(&d.tok_imp, meta, kv * 8));
    KVIMP_EXPECT(SPATTEN_HW_ERR_BUFFER, set_buf(&d.tok_imp, meta, ib - 8));
#undef KVIMP_EXPECT

    /* bit 5 is unknown to version 2 */
    desc_attn(&d2, tag++, heads, dim, kv, kv, false);
    d2.flags = cpu_to_le16(SPATTEN_DESC_F_IMP_PER_KV_HEAD);
    set_buf(&d2.q, q, qb);
    set_buf(&d2.k, k, qb);
    set_buf(&d2.v, v, qb);
    set_buf(&d2.out, out, qb);
    g_assert_cmpuint(run_vs_engine(s, 0, &d2, sizeof(d2)), ==,
                     SPATTEN_HW_ERR_FLAGS);
    g_assert_true(untouched(s, out, qb));
    g_assert_cmpuint(cnt(s, SPATTEN_CNT_JOBS_OK), ==, 2);
    spatten_stop(s);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);

    qtest_add_func("/spatten/registers", test_registers);
    qtest_add_func("/spatten/nop-msix", test_nop_msix);
    qtest_add_func("/spatten/errors", test_errors);
    qtest_add_func("/spatten/no-memory", test_no_memory);
    qtest_add_func("/spatten/attention", test_attention);
    qtest_add_func("/spatten/page-list", test_page_list);
    qtest_add_func("/spatten/page-list-out", test_page_list_out);
    qtest_add_func("/spatten/token-prune", test_token_prune);
    qtest_add_func("/spatten/head-prune", test_head_prune);
    qtest_add_func("/spatten/progressive", test_progressive);
    qtest_add_func("/spatten/flow-control", test_flow_control);
    qtest_add_func("/spatten/fairness", test_fairness);
    qtest_add_func("/spatten/enable-gate", test_enable_gate);
    qtest_add_func("/spatten/no-bus-master", test_no_bus_master);
    qtest_add_func("/spatten/flr", test_flr);
    qtest_add_func("/spatten/reset-stuck", test_reset_stuck);
    qtest_add_func("/spatten/no-msix", test_no_msix);
    qtest_add_func("/spatten/reset-inflight", test_reset_inflight);
    qtest_add_func("/spatten/modeled", test_modeled);
    qtest_add_func("/spatten/modeled-engines", test_modeled_engines);
    qtest_add_func("/spatten/modeled-park", test_modeled_park);
    qtest_add_func("/spatten/modeled-sqe-fault", test_modeled_sqe_fault);
    qtest_add_func("/spatten/model-eighth", test_model_eighth);
    qtest_add_func("/spatten/unplug", test_unplug);
    qtest_add_func("/spatten/sq-entry-size", test_sq_entry_size);
    qtest_add_func("/spatten/v3/nop", test_v3_nop);
    qtest_add_func("/spatten/v3/in-256", test_v3_in_256);
    qtest_add_func("/spatten/v3/v2-in-512", test_v2_in_512);
    qtest_add_func("/spatten/v3/attention", test_v3_attention);
    qtest_add_func("/spatten/v3/errors", test_v3_errors);
    qtest_add_func("/spatten/v3/block", test_v3_block);
    qtest_add_func("/spatten/v3/features", test_v3_features);
    qtest_add_func("/spatten/v3/chunks", test_v3_chunks);
    qtest_add_func("/spatten/v3/imp-per-kv-head", test_v3_imp_per_kv_head);
    return g_test_run();
}
