/*
 * QTest for the SpAtten virtual PCIe device (qemu-device/spatten.c).
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * Registers and capability words, queue configuration checks, a NOP job
 * through a queue pair with an MSI-X interrupt, descriptor errors, CQ flow
 * control, a tiny attention job, doorbells while disabled, bus mastering
 * off (DMA errors, no crash), CTRL.RESET and FLR.
 *
 * Build: copy this file and spatten_hw.h into tests/qtest/ of the QEMU
 * tree and add 'spatten-test' to qtests_x86_64 in tests/qtest/meson.build.
 */

#include "qemu/osdep.h"
#include "qemu/bswap.h"
#include "libqtest.h"
#include "libqos/libqos-pc.h"
#include "libqos/pci.h"
#include "standard-headers/linux/pci_regs.h"

#include "spatten_hw.h"

#define SLOT            4
#define RING_ENTRIES    8
#define MSI_DATA        0x5a5a0000u
#define POLL_US         (10 * 1000 * 1000)

typedef struct Spatten {
    QOSState *qs;
    QTestState *qts;
    QPCIDevice *dev;
    QPCIBar bar;
    uint64_t sq, cq, msi_addr;
    uint32_t sq_size, cq_size;
    uint32_t sq_tail, cq_head;
    bool phase;
} Spatten;

static uint32_t rd(Spatten *s, uint64_t off)
{
    return qpci_io_readl(s->dev, s->bar, off);
}

static void wr(Spatten *s, uint64_t off, uint32_t val)
{
    qpci_io_writel(s->dev, s->bar, off, val);
}

static uint64_t cnt(Spatten *s, unsigned n)
{
    return qpci_io_readq(s->dev, s->bar, SPATTEN_REG_CNT(n));
}

static uint64_t alloc_aligned(Spatten *s, size_t size)
{
    uint64_t a = guest_alloc(&s->qs->alloc, size + SPATTEN_RING_ALIGN);

    return QEMU_ALIGN_UP(a, SPATTEN_RING_ALIGN);
}

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

/* Program and enable queue pair @q with @sq_size / @cq_size entries. */
static void queue_setup(Spatten *s, unsigned q, uint32_t sq_size,
                        uint32_t cq_size)
{
    s->sq_size = sq_size;
    s->cq_size = cq_size;
    s->sq = alloc_aligned(s, sq_size * SPATTEN_DESC_SIZE);
    s->cq = alloc_aligned(s, cq_size * SPATTEN_CQE_SIZE);
    qtest_memset(s->qts, s->sq, 0, sq_size * SPATTEN_DESC_SIZE);
    qtest_memset(s->qts, s->cq, 0, cq_size * SPATTEN_CQE_SIZE);
    s->sq_tail = s->cq_head = 0;
    s->phase = true;

    wr(s, SPATTEN_REG_Q(q, SPATTEN_QREG_SQ_BASE_LO), (uint32_t)s->sq);
    wr(s, SPATTEN_REG_Q(q, SPATTEN_QREG_SQ_BASE_HI), s->sq >> 32);
    wr(s, SPATTEN_REG_Q(q, SPATTEN_QREG_CQ_BASE_LO), (uint32_t)s->cq);
    wr(s, SPATTEN_REG_Q(q, SPATTEN_QREG_CQ_BASE_HI), s->cq >> 32);
    wr(s, SPATTEN_REG_Q(q, SPATTEN_QREG_SQ_SIZE), sq_size);
    wr(s, SPATTEN_REG_Q(q, SPATTEN_QREG_CQ_SIZE), cq_size);
    wr(s, SPATTEN_REG_Q(q, SPATTEN_QREG_IRQ_VECTOR), q);
    wr(s, SPATTEN_REG_Q(q, SPATTEN_QREG_CTRL), SPATTEN_QCTRL_ENABLE);
    g_assert_cmphex(rd(s, SPATTEN_REG_Q(q, SPATTEN_QREG_STATUS)), ==,
                    SPATTEN_QSTS_ENABLED);
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

static void desc_nop(struct spatten_hw_desc *d, uint32_t tag)
{
    memset(d, 0, sizeof(*d));
    d->opcode = cpu_to_le16(SPATTEN_OP_NOP);
    d->desc_size = cpu_to_le16(SPATTEN_DESC_SIZE);
    d->version = SPATTEN_DESC_VERSION;
    d->tag = cpu_to_le32(tag);
}

/* Write @d at the SQ tail (does not ring the doorbell). */
static void sq_put(Spatten *s, const struct spatten_hw_desc *d)
{
    qtest_memwrite(s->qts, s->sq + s->sq_tail * SPATTEN_DESC_SIZE, d,
                   sizeof(*d));
    s->sq_tail = (s->sq_tail + 1) % s->sq_size;
}

static void sq_ring(Spatten *s, unsigned q)
{
    wr(s, SPATTEN_REG_SQ_TAIL_DB(q), s->sq_tail);
}

static bool cq_peek(Spatten *s, struct spatten_hw_cqe *e)
{
    qtest_memread(s->qts, s->cq + s->cq_head * SPATTEN_CQE_SIZE, e,
                  sizeof(*e));
    return !!(le16_to_cpu(e->flags) & SPATTEN_CQE_F_PHASE) == s->phase;
}

/* Wait for the next CQE (workers are host threads: poll). */
static void cq_wait(Spatten *s, struct spatten_hw_cqe *e)
{
    gint64 end = g_get_monotonic_time() + POLL_US;

    while (!cq_peek(s, e)) {
        g_assert_cmpint(g_get_monotonic_time(), <, end);
        g_usleep(1000);
    }
}

/* Consume the CQE at the head and ring the CQ head doorbell. */
static void cq_pop(Spatten *s, unsigned q)
{
    if (++s->cq_head == s->cq_size) {
        s->cq_head = 0;
        s->phase = !s->phase;
    }
    wr(s, SPATTEN_REG_CQ_HEAD_DB(q), s->cq_head);
}

/* Nothing new for a while in the CQ. */
static void cq_expect_empty(Spatten *s)
{
    struct spatten_hw_cqe e;
    int i;

    for (i = 0; i < 50; i++) {
        g_assert_false(cq_peek(s, &e));
        g_usleep(1000);
    }
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
    g_assert_cmpuint(rd(s, SPATTEN_REG_CAP_MAX_CONTEXT), ==, 1024);
    g_assert_cmpuint(rd(s, SPATTEN_REG_CAP_MAX_HEADS), ==, 64);
    g_assert_cmphex(rd(s, SPATTEN_REG_CAP_HEAD_DIMS), ==, 0x1f0);
    g_assert_cmphex(rd(s, SPATTEN_REG_CAP_FORMATS), ==,
                    1u << SPATTEN_FMT_S16);
    g_assert_cmphex(rd(s, SPATTEN_REG_CAP_SPLITS), ==, 0);
    g_assert_cmphex(rd(s, SPATTEN_REG_CAP_FEATURES), ==,
                    SPATTEN_FEAT_CAUSAL | SPATTEN_FEAT_GENERATION |
                    SPATTEN_FEAT_PAGE_LIST | SPATTEN_FEAT_INTX);
    g_assert_cmpuint(rd(s, SPATTEN_REG_CAP_DMA_BITS), ==, 48);
    g_assert_cmpuint(rd(s, SPATTEN_REG_CAP_DESC_SIZE), ==, SPATTEN_DESC_SIZE);

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
        sq_put(s, &d);
        sq_ring(s, 2);
        cq_wait(s, &e);
        g_assert_cmpuint(le16_to_cpu(e.status), ==, SPATTEN_HW_OK);
        g_assert_cmphex(le32_to_cpu(e.tag), ==, 0xabc0 + i);
        g_assert_cmpuint(le16_to_cpu(e.sq_id), ==, 2);
        g_assert_cmpuint(le16_to_cpu(e.sq_head), ==, s->sq_tail);
        g_assert_cmpuint(le64_to_cpu(e.bytes_written), ==, 0);
        g_assert_cmphex(qtest_readl(s->qts, s->msi_addr), ==, MSI_DATA + 2);
        qtest_writel(s->qts, s->msi_addr, 0);
        g_assert_cmphex(rd(s, SPATTEN_REG_INTX_STATUS), ==, 1u << 2);
        wr(s, SPATTEN_REG_INTX_STATUS, 1u << 2);
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
        sq_put(s, &d);
    }
    sq_ring(s, 2);
    for (i = 0; i < 5; i++) {
        cq_wait(s, &e);
        g_assert_cmpuint(le16_to_cpu(e.status), ==, SPATTEN_HW_OK);
        cq_pop(s, 2);
    }
    g_assert_cmpuint(cnt(s, SPATTEN_CNT_JOBS_OK), ==, RING_ENTRIES + 8);

    spatten_stop(s);
}

static void expect_error(Spatten *s, struct spatten_hw_desc *d,
                         unsigned status)
{
    struct spatten_hw_cqe e;

    sq_put(s, d);
    sq_ring(s, 0);
    cq_wait(s, &e);
    g_assert_cmpuint(le16_to_cpu(e.status), ==, status);
    g_assert_cmphex(le32_to_cpu(e.tag), ==, le32_to_cpu(d->tag));
    cq_pop(s, 0);
}

static void test_bad_desc(void)
{
    Spatten *s = spatten_start(NULL);
    struct spatten_hw_desc d;

    queue_setup(s, 0, RING_ENTRIES, RING_ENTRIES);
    wr(s, SPATTEN_REG_CTRL, SPATTEN_CTRL_ENABLE);

    desc_nop(&d, 1);
    d.opcode = cpu_to_le16(77);
    expect_error(s, &d, SPATTEN_HW_ERR_OPCODE);

    desc_nop(&d, 2);
    d.version = 9;
    expect_error(s, &d, SPATTEN_HW_ERR_VERSION);

    desc_nop(&d, 3);
    d.desc_size = cpu_to_le16(128);
    expect_error(s, &d, SPATTEN_HW_ERR_VERSION);

    g_assert_cmpuint(cnt(s, SPATTEN_CNT_JOBS_ERR), ==, 3);
    g_assert_cmpuint(cnt(s, SPATTEN_CNT_JOBS_OK), ==, 0);

    /* the device keeps working */
    desc_nop(&d, 4);
    expect_error(s, &d, SPATTEN_HW_OK);
    spatten_stop(s);
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
        sq_put(s, &d);
    }
    sq_ring(s, 1);
    for (i = 0; i < 3; i++) {
        cq_wait(s, &e);
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
    g_assert_cmphex(qtest_readw(s->qts, s->cq + 0x3e), ==, 0);

    /* back on: works again */
    qpci_config_writew(s->dev, PCI_COMMAND, cmd);
    wr(s, SPATTEN_REG_CQ_HEAD_DB(0), 1);
    s->cq_head = 1;
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

/* msix=off: no MSI-X capability; INTX_STATUS reports completions; MSI. */
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
    sq_put(s, &d);
    sq_ring(s, 1);
    cq_wait(s, &e);
    cq_pop(s, 1);
    g_assert_cmphex(rd(s, SPATTEN_REG_INTX_STATUS), ==, 1u << 1);
    wr(s, SPATTEN_REG_INTX_STATUS, 1u << 1);
    g_assert_cmphex(rd(s, SPATTEN_REG_INTX_STATUS), ==, 0);

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
    sq_put(s, &d);
    sq_ring(s, 1);
    cq_wait(s, &e);
    g_assert_cmphex(le32_to_cpu(e.tag), ==, 11);
    g_assert_cmphex(qtest_readl(s->qts, s->msi_addr), ==, 0x4321);
    spatten_stop(s);
}

/*
 * A job that keeps an engine busy for a while: 8 heads, 128 query rows,
 * 1024 keys, head_dim 64 (operands are whatever is in guest memory).
 */
static void desc_heavy(Spatten *s, struct spatten_hw_desc *d, uint32_t tag)
{
    const uint32_t qb = 8 * 128 * 64 * 2, kb = 8 * 1024 * 64 * 2;
    uint64_t buf = alloc_aligned(s, 2 * qb + 2 * kb);

    memset(d, 0, sizeof(*d));
    d->opcode = cpu_to_le16(SPATTEN_OP_ATTENTION);
    d->desc_size = cpu_to_le16(SPATTEN_DESC_SIZE);
    d->version = SPATTEN_DESC_VERSION;
    d->tag = cpu_to_le32(tag);
    d->n_heads = cpu_to_le16(8);
    d->head_dim = cpu_to_le16(64);
    d->q_rows = cpu_to_le16(128);
    d->kv_rows = cpu_to_le16(1024);
    d->q_frac = d->k_frac = d->v_frac = d->out_frac = 8;
    d->q.addr = cpu_to_le64(buf);
    d->q.len = cpu_to_le32(qb);
    d->k.addr = cpu_to_le64(buf + qb);
    d->k.len = cpu_to_le32(kb);
    d->v.addr = cpu_to_le64(buf + qb + kb);
    d->v.len = cpu_to_le32(kb);
    d->out.addr = cpu_to_le64(buf + qb + 2 * kb);
    d->out.len = cpu_to_le32(qb);
}

/* Reset and queue disable with jobs queued and running: nothing posted. */
static void test_reset_inflight(void)
{
    Spatten *s = spatten_start(NULL);
    struct spatten_hw_desc d;
    struct spatten_hw_cqe e;
    uint8_t before[RING_ENTRIES * SPATTEN_CQE_SIZE];
    uint8_t after[RING_ENTRIES * SPATTEN_CQE_SIZE];
    unsigned i, round;
    gint64 t0;

    for (round = 0; round < 2; round++) {
        queue_setup(s, 0, RING_ENTRIES, RING_ENTRIES);
        wr(s, SPATTEN_REG_CTRL, SPATTEN_CTRL_ENABLE);
        for (i = 0; i < 6; i++) {
            desc_heavy(s, &d, 100 + i);
            sq_put(s, &d);
        }
        sq_ring(s, 0);
        g_usleep(2000);     /* let the engines start */
        if (round == 0) {
            wr(s, SPATTEN_REG_CTRL, SPATTEN_CTRL_RESET);
        } else {
            wr(s, SPATTEN_REG_Q(0, SPATTEN_QREG_CTRL), 0);
            /* disabling keeps the configuration */
            g_assert_cmpuint(rd(s, SPATTEN_REG_Q(0, SPATTEN_QREG_SQ_SIZE)),
                             ==, RING_ENTRIES);
        }
        g_assert_cmphex(rd(s, SPATTEN_REG_Q(0, SPATTEN_QREG_STATUS)), ==, 0);
        qtest_memread(s->qts, s->cq, before, sizeof(before));
        g_usleep(500 * 1000);
        qtest_memread(s->qts, s->cq, after, sizeof(after));
        g_assert(memcmp(before, after, sizeof(before)) == 0);
        g_assert_cmphex(rd(s, SPATTEN_REG_INTX_STATUS), ==, 0);
    }
    g_assert_cmpuint(cnt(s, SPATTEN_CNT_JOBS_OK), ==, 0);

    /* the device still works */
    queue_setup(s, 0, RING_ENTRIES, RING_ENTRIES);
    wr(s, SPATTEN_REG_CTRL, SPATTEN_CTRL_ENABLE);
    desc_heavy(s, &d, 200);
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
    g_assert_cmpuint(cnt(s, SPATTEN_CNT_BYTES_WRITTEN), ==, 8 * 128 * 64 * 2);
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
        desc_heavy(s, &d, 300 + i);
        sq_put(s, &d);
    }
    sq_ring(s, 0);
    g_usleep(2000);
    qpci_unplug_acpi_device_test(s->qts, "sp0", SLOT);
    g_assert_cmphex(qpci_config_readw(s->dev, PCI_VENDOR_ID), ==, 0xffff);
    spatten_stop(s);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);

    qtest_add_func("/spatten/registers", test_registers);
    qtest_add_func("/spatten/nop-msix", test_nop_msix);
    qtest_add_func("/spatten/bad-desc", test_bad_desc);
    qtest_add_func("/spatten/attention", test_attention);
    qtest_add_func("/spatten/page-list", test_page_list);
    qtest_add_func("/spatten/flow-control", test_flow_control);
    qtest_add_func("/spatten/enable-gate", test_enable_gate);
    qtest_add_func("/spatten/no-bus-master", test_no_bus_master);
    qtest_add_func("/spatten/flr", test_flr);
    qtest_add_func("/spatten/no-msix", test_no_msix);
    qtest_add_func("/spatten/reset-inflight", test_reset_inflight);
    qtest_add_func("/spatten/unplug", test_unplug);
    return g_test_run();
}
