/*
 * QTest for the SpAtten device: lifetime, DMA targets, run state and
 * host-memory bounds (issue 13, section 2).
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * - DMA aimed at the device's own BAR0 and at its own config space through
 *   MMCONFIG: engine reads fail with ERR_DMA_READ (workers read RAM only),
 *   completion-side writes fail or land without harming QEMU.
 * - Unplug behind a pcie-root-port with jobs in flight, by a slot power-
 *   off from the CPU (also in the middle of one long head or of a value-
 *   pruning pass: the engine's cancellation poll bounds the join), and by
 *   the device's own output DMA landing on the root port's slot control
 *   through MMCONFIG (unplug inside its own bottom half; the order of
 *   unrealize, bottom-half return, deferred put and finalize is checked
 *   in a trace).
 * - A stopped VM: no fetch, no completion, no interrupt until "cont".
 * - Staged jobs stay within 2 x engines in timing=fast.
 * - max-scratch-bytes: a job that needs more fails with ERR_NO_MEMORY.
 * - model/timing are enum properties: a bad value is refused; the device
 *   is not migratable.
 * - A vIOMMU in front of the device is refused (device_add, queue enable).
 *
 * Build: scripts/build-qemu.sh copies this file into tests/qtest/ of the
 * QEMU tree; run with scripts/qtest-run.sh.
 */

#include "qemu/osdep.h"
#include "qemu/bswap.h"
#include "libqtest.h"
#include "libqos/libqos-pc.h"
#include "libqos/pci.h"
#include "qapi/qmp/qdict.h"
#include "standard-headers/linux/pci_regs.h"

#define RING            16
#define POLL_US         (20 * 1000 * 1000)

/* q35: MCH PCIEXBAR, and where libqos maps memory BARs (pci-pc.c). */
#define MCH_PCIEXBAR    0x60
#define MMCFG_BASE      0xb0000000ull
#define MMIO_WINDOW     0xe0000000ull

/* The root port at 00:05.0 and the device on its secondary bus 1. */
#define RP_DEVFN        QPCI_DEVFN(5, 0)
#define SP_BUS          1
#define SP_DEVFN_ROOT   QPCI_DEVFN(4, 0)

typedef struct Sp {
    QOSState *qs;
    QTestState *qts;
    QPCIDevice *dev;
    QPCIDevice *rp;         /* NULL: on the root bus */
    QPCIBar bar;
    uint64_t sq, cq;
    uint32_t sq_tail, cq_head;
    bool phase;
} Sp;

#define SPATTEN_QTEST_STATE Sp
#include "spatten-qtest.h"

static uint64_t mmcfg(unsigned bus, unsigned devfn, unsigned off)
{
    return MMCFG_BASE + ((uint64_t)bus << 20) + ((uint64_t)devfn << 12) +
           off;
}

/* Turn on MMCONFIG (no firmware runs under qtest). */
static void mmcfg_enable(Sp *s)
{
    QPCIDevice *mch = qpci_device_find(s->qs->pcibus, 0);

    g_assert(mch);
    qpci_config_writel(mch, MCH_PCIEXBAR + 4, 0);
    qpci_config_writel(mch, MCH_PCIEXBAR, (uint32_t)MMCFG_BASE | 1);
    g_free(mch);
}

/*
 * Start q35 with the device at 00:04.0, or behind a hotplug-capable
 * pcie-root-port at 00:05.0 (bus 1), which the test programs as firmware
 * would: bus numbers, a memory window over libqos' BAR range, decoding
 * and bus mastering.
 */
static Sp *sp_start(bool behind_rp, const char *extra)
{
    Sp *s = g_new0(Sp, 1);
    int devfn;

    if (behind_rp) {
        /* native PCIe hotplug on the port (q35 defaults to ACPI's) */
        s->qs = qtest_pc_boot("-M q35 -global ICH9-LPC.acpi-pci-hotplug-"
                              "with-bridge-support=off "
                              "-device pcie-root-port,id=rp0,"
                              "bus=pcie.0,chassis=1,addr=05.0 "
                              "-device spatten,id=sp0,bus=rp0%s",
                              extra ? extra : "");
    } else {
        s->qs = qtest_pc_boot("-M q35 -device spatten,id=sp0,addr=04.0%s",
                              extra ? extra : "");
    }
    s->qts = s->qs->qts;
    mmcfg_enable(s);
    if (behind_rp) {
        s->rp = qpci_device_find(s->qs->pcibus, RP_DEVFN);
        g_assert(s->rp);
        qpci_config_writeb(s->rp, PCI_PRIMARY_BUS, 0);
        qpci_config_writeb(s->rp, PCI_SECONDARY_BUS, SP_BUS);
        qpci_config_writeb(s->rp, PCI_SUBORDINATE_BUS, SP_BUS);
        qpci_config_writew(s->rp, PCI_MEMORY_BASE, MMIO_WINDOW >> 16);
        qpci_config_writew(s->rp, PCI_MEMORY_LIMIT, 0xeff0);
        qpci_config_writew(s->rp, PCI_PREF_MEMORY_BASE, 0xfff0);
        qpci_config_writew(s->rp, PCI_PREF_MEMORY_LIMIT, 0);
        qpci_config_writew(s->rp, PCI_COMMAND,
                           PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
        /* the pc config accessors put devfn in CF8 bits 8..: bus too */
        devfn = (SP_BUS << 8) | QPCI_DEVFN(0, 0);
    } else {
        devfn = SP_DEVFN_ROOT;
    }
    s->dev = qpci_device_find(s->qs->pcibus, devfn);
    g_assert(s->dev);
    g_assert_cmphex(qpci_config_readw(s->dev, PCI_VENDOR_ID), ==,
                    SPATTEN_PCI_VENDOR_ID);
    qpci_device_enable(s->dev);
    s->bar = qpci_iomap(s->dev, SPATTEN_BAR_REGS, NULL);
    return s;
}

static void sp_stop(Sp *s)
{
    g_free(s->dev);
    g_free(s->rp);
    qtest_shutdown(s->qs);
    g_free(s);
}

/* Program queue 0 on the rings at s->sq / s->cq and enable it. */
static void queue_program(Sp *s, uint32_t entries)
{
    queue_write_rings(s, 0, s->sq, s->cq, entries, entries);
    wr(s, SPATTEN_REG_Q(0, SPATTEN_QREG_CTRL), SPATTEN_QCTRL_ENABLE);
}

static void queue_setup(Sp *s, uint32_t entries)
{
    rings_alloc(s, &s->sq, &s->cq, entries, entries);
    s->sq_tail = s->cq_head = 0;
    s->phase = true;
    queue_program(s, entries);
    g_assert_cmphex(rd(s, SPATTEN_REG_Q(0, SPATTEN_QREG_STATUS)), ==,
                    SPATTEN_QSTS_ENABLED);
    wr(s, SPATTEN_REG_CTRL, SPATTEN_CTRL_ENABLE);
}

static void sq_put(Sp *s, const struct spatten_hw_desc *d, uint32_t entries)
{
    qtest_memwrite(s->qts, s->sq + s->sq_tail * SPATTEN_DESC_SIZE, d,
                   sizeof(*d));
    s->sq_tail = (s->sq_tail + 1) % entries;
}

static void sq_ring(Sp *s)
{
    wr(s, SPATTEN_REG_SQ_TAIL_DB(0), s->sq_tail);
}

static bool cq_peek(Sp *s, struct spatten_hw_cqe *e)
{
    qtest_memread(s->qts, s->cq + s->cq_head * SPATTEN_CQE_SIZE, e,
                  sizeof(*e));
    return !!(le16_to_cpu(e->flags) & SPATTEN_CQE_F_PHASE) == s->phase;
}

static void cq_wait(Sp *s, struct spatten_hw_cqe *e)
{
    gint64 end = g_get_monotonic_time() + POLL_US;

    while (!cq_peek(s, e)) {
        g_assert_cmpint(g_get_monotonic_time(), <, end);
        g_usleep(1000);
    }
}

static void cq_pop(Sp *s, uint32_t entries)
{
    if (++s->cq_head == entries) {
        s->cq_head = 0;
        s->phase = !s->phase;
    }
    wr(s, SPATTEN_REG_CQ_HEAD_DB(0), s->cq_head);
}

/*
 * 1 head, head_dim 16, one query, one key: the output row is V.  Q and K
 * are zero; V row @v (16 int16, host-endian) goes to guest memory.
 * Returns the scratch area; the caller may redirect any operand.
 */
static uint64_t desc_small(Sp *s, struct spatten_hw_desc *d, uint32_t tag,
                           const int16_t *v)
{
    uint64_t buf = alloc_aligned(s, 4096);
    int16_t le[16];
    unsigned i;

    for (i = 0; i < 16; i++) {
        le[i] = cpu_to_le16(v[i]);
    }
    qtest_memset(s->qts, buf, 0, 4096);
    qtest_memwrite(s->qts, buf + 1024, le, sizeof(le));
    desc_attn(d, tag, 1, 16, 1, 1, false);
    set_buf(&d->q, buf, 32);
    set_buf(&d->k, buf + 512, 32);
    set_buf(&d->v, buf + 1024, 32);
    set_buf(&d->out, buf + 1536, 32);
    return buf;
}

static unsigned run(Sp *s, const struct spatten_hw_desc *d)
{
    struct spatten_hw_cqe e;

    sq_put(s, d, RING);
    sq_ring(s);
    cq_wait(s, &e);
    g_assert_cmphex(le32_to_cpu(e.tag), ==, le32_to_cpu(d->tag));
    cq_pop(s, RING);
    return le16_to_cpu(e.status);
}

static bool qom_exists(Sp *s, const char *path)
{
    QDict *r = qtest_qmp(s->qts, "{'execute': 'qom-list', 'arguments': "
                         "{'path': %s}}", path);
    bool ok = qdict_haskey(r, "return");

    qobject_unref(r);
    return ok;
}

static uint32_t running_jobs(Sp *s)
{
    return sp_prop(s, "x-running-jobs");
}

/*
 * Wait until an engine is computing a job, or until the next CQE is
 * posted (the job was too quick to be seen running).  Returns true in
 * the first case.
 */
static bool wait_running(Sp *s)
{
    gint64 end = g_get_monotonic_time() + POLL_US;
    struct spatten_hw_cqe e;

    for (;;) {
        if (running_jobs(s)) {
            return true;
        }
        if (cq_peek(s, &e)) {
            return false;
        }
        g_assert_cmpint(g_get_monotonic_time(), <, end);
        g_usleep(100);
    }
}

/* Wait until no engine computes anything. */
static void wait_idle(Sp *s)
{
    gint64 end = g_get_monotonic_time() + POLL_US;

    while (running_jobs(s)) {
        g_assert_cmpint(g_get_monotonic_time(), <, end);
        g_usleep(1000);
    }
}

/*
 * Engine reads aimed at the device's own BAR0 and at its own config space
 * (MMCONFIG) fail: workers read RAM only, they never dispatch MMIO (which
 * needs the BQL).  Writes from the bottom half to the same places do not
 * harm QEMU: a write to its own BAR0 is refused, one to its own config
 * space lands (here: clears decoding and bus mastering) and the CQE write
 * then fails.
 */
static void test_dma_self(void)
{
    Sp *s = sp_start(false, NULL);
    const int16_t v[16] = { 0x100, 0x200 };
    struct spatten_hw_desc d;
    uint64_t cfg = mmcfg(0, SP_DEVFN_ROOT, 0);
    uint32_t bar0 = qpci_config_readl(s->dev, PCI_BASE_ADDRESS_0);
    uint32_t bar1 = qpci_config_readl(s->dev, PCI_BASE_ADDRESS_1);
    uint16_t cmd = qpci_config_readw(s->dev, PCI_COMMAND);
    gint64 end;

    /* MMCONFIG works: the vendor ID through it */
    g_assert_cmphex(qtest_readw(s->qts, cfg), ==, SPATTEN_PCI_VENDOR_ID);
    queue_setup(s, RING);

    desc_small(s, &d, 1, v);
    g_assert_cmpuint(run(s, &d), ==, SPATTEN_HW_OK);

    /* V read from the device's own registers */
    desc_small(s, &d, 2, v);
    set_buf(&d.v, s->bar.addr + SPATTEN_REG_ID, 32);
    g_assert_cmpuint(run(s, &d), ==, SPATTEN_HW_ERR_DMA_READ);
    /* ... and from its own config space */
    desc_small(s, &d, 3, v);
    set_buf(&d.v, cfg, 32);
    g_assert_cmpuint(run(s, &d), ==, SPATTEN_HW_ERR_DMA_READ);
    /* a page list in MMIO */
    desc_small(s, &d, 4, v);
    d.k.addr = cpu_to_le64(s->bar.addr);
    d.k.flags = cpu_to_le16(SPATTEN_BUF_PAGE_LIST);
    g_assert_cmpuint(run(s, &d), ==, SPATTEN_HW_ERR_DMA_READ);

    /* output written onto the device's own doorbells: refused */
    desc_small(s, &d, 5, v);
    set_buf(&d.out, s->bar.addr + SPATTEN_REG_DB_BASE, 32);
    g_assert_cmpuint(run(s, &d), ==, SPATTEN_HW_ERR_DMA_WRITE);
    g_assert_cmpuint(cnt(s, SPATTEN_CNT_JOBS_OK), ==, 1);

    /*
     * Output over its own command register and BARs (V is all zero): the
     * device turns off its own decoding and bus mastering mid-replay; the
     * CQE write then fails.
     */
    memset(&d, 0, sizeof(d));
    {
        const int16_t zero[16] = { 0 };

        desc_small(s, &d, 6, zero);
    }
    set_buf(&d.out, cfg + PCI_COMMAND, 32);
    sq_put(s, &d, RING);
    sq_ring(s);
    end = g_get_monotonic_time() + POLL_US;
    while (!(qpci_config_readw(s->dev, PCI_COMMAND) == 0)) {
        g_assert_cmpint(g_get_monotonic_time(), <, end);
        g_usleep(1000);
    }
    g_usleep(100 * 1000);
    qpci_config_writel(s->dev, PCI_BASE_ADDRESS_0, bar0);
    qpci_config_writel(s->dev, PCI_BASE_ADDRESS_1, bar1);
    qpci_config_writew(s->dev, PCI_COMMAND, cmd);
    g_assert_cmphex(rd(s, SPATTEN_REG_ID), ==, SPATTEN_HW_ID);
    g_assert_cmphex(rd(s, SPATTEN_REG_Q(0, SPATTEN_QREG_STATUS)), ==,
                    SPATTEN_QSTS_ENABLED | SPATTEN_QSTS_ERROR);
    g_assert_cmpuint(cnt(s, SPATTEN_CNT_JOBS_ERR), ==, 5);

    /* still works: acknowledge the lost CQE slot and run one more */
    s->cq_head++;
    wr(s, SPATTEN_REG_CQ_HEAD_DB(0), s->cq_head);
    desc_nop(&d, 7);
    g_assert_cmpuint(run(s, &d), ==, SPATTEN_HW_OK);
    sp_stop(s);
}

/* Slot power off, as a guest's pciehp does it (PCC off, indicator off). */
static void rp_power_off(Sp *s)
{
    uint8_t exp = qpci_find_capability(s->rp, PCI_CAP_ID_EXP, 0);
    uint16_t ctl = qpci_config_readw(s->rp, exp + PCI_EXP_SLTCTL);

    g_assert(qpci_config_readw(s->rp, exp + PCI_EXP_SLTSTA) &
             PCI_EXP_SLTSTA_PDS);
    ctl &= ~PCI_EXP_SLTCTL_PIC;
    ctl |= PCI_EXP_SLTCTL_PWR_IND_OFF | PCI_EXP_SLTCTL_PCC;
    qpci_config_writew(s->rp, exp + PCI_EXP_SLTCTL, ctl);
}

/*
 * One long head: 1 head, head_dim 256, 8192 queries x 8192 keys.  The
 * engine reads and writes only around the head; cancellation between
 * its blocks of query rows is what bounds the unplug.
 */
#define LONG_CTX        8192
static void desc_long(Sp *s, struct spatten_hw_desc *d, uint32_t tag)
{
    const uint32_t b = LONG_CTX * 256 * 2;
    uint64_t buf = alloc_aligned(s, 4 * b);

    desc_attn(d, tag, 1, 256, LONG_CTX, LONG_CTX, false);
    set_buf(&d->q, buf, b);
    set_buf(&d->k, buf + b, b);
    set_buf(&d->v, buf + 2 * b, b);
    set_buf(&d->out, buf + 3 * b, b);
}

/*
 * Unplug behind a pcie-root-port with heavy jobs queued and running: the
 * engines stop within a bounded time (unrealize joins them with the BQL
 * held), nothing is left behind, QEMU carries on.
 */
static void test_unplug_rp_inflight(void)
{
    Sp *s = sp_start(true, ",engines=3,max-context=8192");
    struct spatten_hw_desc d;
    gint64 t0;
    unsigned i, running, posted = 0;

    queue_setup(s, RING);
    /* one job of seconds: some work is left whatever the host's speed */
    desc_long(s, &d, 0x300);
    sq_put(s, &d, RING);
    for (i = 1; i < 8; i++) {
        desc_heavy(s, &d, 0x300 + i);
        sq_put(s, &d, RING);
    }
    sq_ring(s);
    /* the engines have started: the unplug has jobs to stop */
    g_assert_true(wait_running(s));
    running = running_jobs(s);
    t0 = g_get_monotonic_time();
    rp_power_off(s);
    qtest_qmp_eventwait(s->qts, "DEVICE_DELETED");
    g_test_message("unplug with %u jobs running: %" PRId64 " us", running,
                   g_get_monotonic_time() - t0);
    g_assert_cmpuint(running, >=, 1);
    /* and some were still outstanding: not all 8 were posted */
    for (i = 0; i < RING; i++) {
        struct spatten_hw_cqe e;

        qtest_memread(s->qts, s->cq + i * SPATTEN_CQE_SIZE, &e, sizeof(e));
        posted += !!(le16_to_cpu(e.flags) & SPATTEN_CQE_F_PHASE);
    }
    g_test_message("posted before the unplug: %u of 8", posted);
    g_assert_cmpuint(posted, <, 8);
    g_assert_cmpint(g_get_monotonic_time() - t0, <, 2 * 1000 * 1000);
    g_assert_false(qom_exists(s, "/machine/peripheral/sp0"));
    g_assert_cmphex(qpci_config_readw(s->dev, PCI_VENDOR_ID), ==, 0xffff);
    g_assert_true(qom_exists(s, "/machine/peripheral/rp0"));
    sp_stop(s);
}

static void test_unplug_long_job(void)
{
    Sp *s = sp_start(true, ",engines=1,max-context=8192");
    struct spatten_hw_desc d;
    gint64 t0, job_us, unplug_us;

    queue_setup(s, RING);
    desc_long(s, &d, 0x800);
    t0 = g_get_monotonic_time();
    g_assert_cmpuint(run(s, &d), ==, SPATTEN_HW_OK);
    job_us = g_get_monotonic_time() - t0;

    desc_long(s, &d, 0x801);
    sq_put(s, &d, RING);
    sq_ring(s);
    g_assert_true(wait_running(s));
    g_usleep(job_us / 10);  /* well inside the head's compute */
    /* still on the engine (a 3 s job): the unplug has to cancel it */
    g_assert_cmpuint(running_jobs(s), ==, 1);
    t0 = g_get_monotonic_time();
    rp_power_off(s);
    qtest_qmp_eventwait(s->qts, "DEVICE_DELETED");
    unplug_us = g_get_monotonic_time() - t0;
    g_test_message("one long head: %" PRId64 " us; unplug during it: %"
                   PRId64 " us", job_us, unplug_us);
    g_assert_cmpint(unplug_us, <, MAX(job_us / 2, 200 * 1000));
    sp_stop(s);
}

/* Lines of the trace file @path containing @what. */
static unsigned trace_lines(const char *path, const char *what)
{
    g_autofree char *log = NULL;
    g_auto(GStrv) lines = NULL;
    unsigned n = 0;
    int i;

    if (!g_file_get_contents(path, &log, NULL, NULL)) {
        return 0;
    }
    lines = g_strsplit(log, "\n", -1);
    for (i = 0; lines[i]; i++) {
        n += !!strstr(lines[i], what);
    }
    return n;
}

/* Wait until the trace file has more than @n lines containing @what. */
static void trace_wait(const char *path, const char *what, unsigned n)
{
    gint64 end = g_get_monotonic_time() + POLL_US;

    while (trace_lines(path, what) <= n) {
        g_assert_cmpint(g_get_monotonic_time(), <, end);
        g_usleep(1000);
    }
}

/*
 * Value pruning: one head ends with a pass over its rows (prob x the
 * kept V rows) that is not split into blocks, and it can be as long as
 * the head's scores.  The engine polls the cancellation during it too,
 * so an unplug in the middle of it does not wait for the whole pass
 * with the BQL held.  V is read (trace spatten_engine_read) only when
 * that pass starts, which is how the test finds it.
 */
#define VP_CTX          8192
#define VP_KEEP         8000
static void desc_value_pass(Sp *s, struct spatten_hw_desc *d, uint32_t tag,
                            uint64_t buf)
{
    const uint32_t b = VP_CTX * 256 * 2;

    desc_attn(d, tag, 1, 256, VP_CTX, VP_CTX, false);
    d->value_keep = cpu_to_le16(VP_KEEP);
    set_buf(&d->q, buf, b);
    set_buf(&d->k, buf + b, b);
    set_buf(&d->v, buf + 2 * b, b);
    set_buf(&d->out, buf + 3 * b, b);
}

static void test_unplug_value_pass(void)
{
    g_autofree char *trace = g_strdup_printf("/tmp/spatten-vpass-%d.trace",
                                             getpid());
    g_autofree char *extra = g_strdup_printf(
        ",engines=1,max-context=%u,max-scratch-bytes=1G -trace "
        "'enable=spatten_engine_read,file=%s'", VP_CTX, trace);
    Sp *s = sp_start(true, extra);
    const char *vread = "plane V ";
    struct spatten_hw_desc d;
    uint64_t buf = alloc_aligned(s, 4 * VP_CTX * 256 * 2);
    gint64 t0, pass_us, unplug_us;
    unsigned nv;

    queue_setup(s, RING);
    /* a full run: how long the value pass takes on this host */
    desc_value_pass(s, &d, 0x810, buf);
    sq_put(s, &d, RING);
    sq_ring(s);
    trace_wait(trace, vread, 0);
    t0 = g_get_monotonic_time();
    {
        struct spatten_hw_cqe e;

        cq_wait(s, &e);
        g_assert_cmpuint(le16_to_cpu(e.status), ==, SPATTEN_HW_OK);
        cq_pop(s, RING);
    }
    pass_us = g_get_monotonic_time() - t0;
    nv = trace_lines(trace, vread);

    /* the same job, unplugged right after its value pass started */
    desc_value_pass(s, &d, 0x811, buf);
    sq_put(s, &d, RING);
    sq_ring(s);
    trace_wait(trace, vread, nv);
    g_assert_cmpuint(running_jobs(s), ==, 1);
    t0 = g_get_monotonic_time();
    rp_power_off(s);
    qtest_qmp_eventwait(s->qts, "DEVICE_DELETED");
    unplug_us = g_get_monotonic_time() - t0;
    g_test_message("value pass: %" PRId64 " us; unplug during it: %" PRId64
                   " us", pass_us, unplug_us);
    sp_stop(s);
    unlink(trace);
    /* the pass must be long enough for the check to mean something */
    g_assert_cmpint(pass_us, >=, 300 * 1000);
    g_assert_cmpint(unplug_us, <, pass_us / 2);
}

/*
 * The device unplugs itself: a job's output lands on the root port's slot
 * control through MMCONFIG and powers the slot off, inside the device's
 * own bottom half, with more jobs queued behind it.  The bottom half
 * must stop touching the device there; finalize runs after it.  Its
 * reference goes to a deferred put (finalize must not run inside the
 * guarded bottom half); in QEMU 7.2 the last reference is usually the
 * bus-master address space's, dropped by an RCU callback, so a crash is
 * not what the test can wait for: it checks the order of trace events.
 */
/* Index of the first line at or after @from containing @ev, or -1. */
static int trace_find(char **lines, int from, const char *ev)
{
    int i;

    for (i = MAX(from, 0); lines[i]; i++) {
        if (strstr(lines[i], ev)) {
            return i;
        }
    }
    return -1;
}

static unsigned trace_count(char **lines, const char *ev)
{
    unsigned n = 0;
    int i;

    for (i = 0; lines[i]; i++) {
        n += !!strstr(lines[i], ev);
    }
    return n;
}

static void test_unplug_self_dma(void)
{
    g_autofree char *trace = g_strdup_printf("/tmp/spatten-unplug-%d.trace",
                                             getpid());
    g_autofree char *extra = g_strdup_printf(",engines=2 -trace "
                                             "'enable=spatten_*,file=%s'",
                                             trace);
    Sp *s = sp_start(true, extra);
    uint8_t exp = qpci_find_capability(s->rp, PCI_CAP_ID_EXP, 0);
    int16_t v[16] = { 0 };
    struct spatten_hw_desc d;
    g_autofree char *log = NULL;
    g_auto(GStrv) lines = NULL;
    int unrealize, put, bh_exit, put_run, fin;
    unsigned i;

    g_assert_cmpint(exp, !=, 0);
    queue_setup(s, RING);
    /* check the data path first: this output is exactly V */
    v[0] = PCI_EXP_SLTCTL_PCC | PCI_EXP_SLTCTL_PWR_IND_OFF;
    {
        uint64_t buf = desc_small(s, &d, 0x10, v);

        g_assert_cmpuint(run(s, &d), ==, SPATTEN_HW_OK);
        g_assert_cmphex(qtest_readw(s->qts, buf + 1536), ==, v[0]);
        g_assert_cmphex(qtest_readw(s->qts, buf + 1538), ==, 0);
    }

    for (i = 0; i < 4; i++) {
        desc_heavy(s, &d, 0x400 + i);
        sq_put(s, &d, RING);
    }
    desc_small(s, &d, 0x11, v);
    set_buf(&d.out, mmcfg(0, RP_DEVFN, exp + PCI_EXP_SLTCTL), 32);
    sq_put(s, &d, RING);
    for (i = 0; i < 4; i++) {
        desc_heavy(s, &d, 0x500 + i);
        sq_put(s, &d, RING);
    }
    sq_ring(s);
    qtest_qmp_eventwait(s->qts, "DEVICE_DELETED");
    g_assert_false(qom_exists(s, "/machine/peripheral/sp0"));
    g_assert_true(qom_exists(s, "/machine/peripheral/rp0"));
    /* QEMU is alive and well */
    g_assert_cmphex(qpci_config_readw(s->rp, PCI_VENDOR_ID), !=, 0xffff);
    sp_stop(s);

    /*
     * No sanitizer here: check the order of events instead.  The unplug
     * happened inside the bottom half; its reference was handed to the
     * deferred put, which ran after the bottom half returned; finalize
     * ran once, after the bottom half returned (DEVICE_DELETED comes
     * from finalize, so it is in the file by now).
     */
    g_assert_true(g_file_get_contents(trace, &log, NULL, NULL));
    unlink(trace);
    lines = g_strsplit(log, "\n", -1);
    g_assert_cmpuint(trace_count(lines, "spatten_unrealize "), ==, 1);
    g_assert_cmpuint(trace_count(lines, "spatten_finalize "), ==, 1);
    unrealize = trace_find(lines, 0, "spatten_unrealize ");
    g_test_message("%s", lines[unrealize]);
    g_assert_nonnull(strstr(lines[unrealize], "in_bh 1"));
    put = trace_find(lines, unrealize, "spatten_put_deferred ");
    bh_exit = trace_find(lines, unrealize, "spatten_bh_exit ");
    put_run = trace_find(lines, unrealize, "spatten_put_deferred_run ");
    fin = trace_find(lines, 0, "spatten_finalize ");
    g_test_message("trace lines: unrealize %d, deferred put %d, bottom "
                   "half returned %d, deferred put ran %d (%s), finalize "
                   "%d", unrealize, put, bh_exit, put_run,
                   put_run >= 0 ? lines[put_run] : "-", fin);
    g_assert_cmpint(put, >, unrealize);
    g_assert_cmpint(bh_exit, >, put);
    g_assert_cmpint(put_run, >, bh_exit);
    g_assert_cmpint(fin, >, bh_exit);
}

static void qmp_ok(Sp *s, const char *cmd)
{
    QDict *r = qtest_qmp(s->qts, "{'execute': %s}", cmd);

    g_assert(qdict_haskey(r, "return"));
    qobject_unref(r);
}

/*
 * A stopped VM sees no DMA write and no interrupt from the device (a job
 * already on an engine still reads its operands): a doorbell rung while
 * stopped fetches nothing, a job computed while stopped is not posted;
 * both complete after "cont", the computed job first.  The VM is stopped
 * while the heavy job is on an engine (x-running-jobs), retried if the
 * job was done before "stop" took effect.
 */
static void test_pause(void)
{
    Sp *s = sp_start(false, NULL);
    struct spatten_hw_desc d;
    struct spatten_hw_cqe e;
    unsigned i, attempt, seen = 0;
    uint64_t ok = 0;

    queue_setup(s, RING);
    for (attempt = 0;; attempt++) {
        g_assert_cmpuint(attempt, <, 8);
        desc_heavy(s, &d, 0x600);
        sq_put(s, &d, RING);
        sq_ring(s);
        if (wait_running(s)) {
            qmp_ok(s, "stop");
            if (running_jobs(s) == 1) {
                break;      /* still computing with the VM stopped */
            }
            qmp_ok(s, "cont");
        }
        g_test_message("attempt %u: the job was done before the stop",
                       attempt);
        cq_wait(s, &e);
        g_assert_cmphex(le32_to_cpu(e.tag), ==, 0x600);
        cq_pop(s, RING);
        ok++;
        wr(s, SPATTEN_REG_INTX_STATUS, ~0u);
    }

    for (i = 0; i < 3; i++) {
        desc_nop(&d, 0x601 + i);
        sq_put(s, &d, RING);
    }
    sq_ring(s);
    wait_idle(s);           /* the heavy job is computed, VM stopped */
    g_usleep(100 * 1000);   /* time for a (wrong) completion to show */
    g_assert_false(cq_peek(s, &e));
    g_assert_cmpuint(cnt(s, SPATTEN_CNT_JOBS_OK), ==, ok);
    g_assert_cmphex(rd(s, SPATTEN_REG_INTX_STATUS), ==, 0);

    qmp_ok(s, "cont");
    /* the job computed while stopped first, the NOPs in any order */
    cq_wait(s, &e);
    g_assert_cmpuint(le16_to_cpu(e.status), ==, SPATTEN_HW_OK);
    g_assert_cmphex(le32_to_cpu(e.tag), ==, 0x600);
    g_assert_cmpuint(le64_to_cpu(e.bytes_written), ==, HEAVY_OUT);
    cq_pop(s, RING);
    for (i = 0; i < 3; i++) {
        cq_wait(s, &e);
        g_assert_cmpuint(le16_to_cpu(e.status), ==, SPATTEN_HW_OK);
        g_assert_cmphex(le32_to_cpu(e.tag), >=, 0x601);
        g_assert_cmphex(le32_to_cpu(e.tag), <=, 0x603);
        seen |= 1u << (le32_to_cpu(e.tag) - 0x601);
        cq_pop(s, RING);
    }
    g_assert_cmphex(seen, ==, 7);
    g_assert_cmpuint(cnt(s, SPATTEN_CNT_JOBS_OK), ==, ok + 4);
    sp_stop(s);
}

static uint32_t staged_max(Sp *s)
{
    return sp_prop(s, "x-staged-jobs-max");
}

/*
 * timing=fast: computed jobs waiting for the bottom half (and their staged
 * writes) stay within 2 x engines however many the guest queues.
 */
static void test_throttle_fast(void)
{
    const uint32_t n = 1024;
    Sp *s = sp_start(false, ",engines=4");
    struct spatten_hw_desc d;
    struct spatten_hw_cqe e;
    unsigned i, round;

    queue_setup(s, n);
    for (round = 0; round < 3; round++) {
        for (i = 0; i < n - 1; i++) {
            desc_nop(&d, i);
            sq_put(s, &d, n);
        }
        sq_ring(s);
        for (i = 0; i < n - 1; i++) {
            cq_wait(s, &e);
            g_assert_cmpuint(le16_to_cpu(e.status), ==, SPATTEN_HW_OK);
            s->cq_head = (s->cq_head + 1) % n;
            if (!s->cq_head) {
                s->phase = !s->phase;
            }
        }
        wr(s, SPATTEN_REG_CQ_HEAD_DB(0), s->cq_head);
    }
    g_test_message("staged high-water mark: %u", staged_max(s));
    g_assert_cmpuint(staged_max(s), >=, 1);
    g_assert_cmpuint(staged_max(s), <=, 2 * 4);
    sp_stop(s);
}

/* max-scratch-bytes: a job whose engine scratch exceeds it fails. */
static void test_scratch_cap(void)
{
    Sp *s = sp_start(false, ",max-scratch-bytes=1M");
    const int16_t v[16] = { 1 };
    struct spatten_hw_desc d;

    queue_setup(s, RING);
    desc_small(s, &d, 1, v);
    g_assert_cmpuint(run(s, &d), ==, SPATTEN_HW_OK);
    desc_heavy(s, &d, 2);   /* about 4 MB of scratch */
    g_assert_cmpuint(run(s, &d), ==, SPATTEN_HW_ERR_NO_MEMORY);
    g_assert_cmpuint(cnt(s, SPATTEN_CNT_JOBS_ERR), ==, 1);
    sp_stop(s);
}

/*
 * model and timing are enum properties: bad values are refused.  And the
 * device is not migratable.
 */
static void test_enum_props(void)
{
    Sp *s = sp_start(false, ",timing=modeled,model=eighth "
                      "-device pcie-root-port,id=rp9,chassis=9,addr=06.0");
    QDict *r;

    r = qtest_qmp(s->qts, "{'execute': 'device_add', 'arguments': "
                  "{'driver': 'spatten', 'id': 'x1', 'bus': 'rp9', "
                  "'timing': 'slow'}}");
    g_assert(qdict_haskey(r, "error"));
    g_assert(strstr(qdict_get_str(qdict_get_qdict(r, "error"), "desc"),
                    "timing"));
    qobject_unref(r);
    r = qtest_qmp(s->qts, "{'execute': 'qom-get', 'arguments': "
                  "{'path': '/machine/peripheral/sp0', "
                  "'property': 'timing'}}");
    g_assert_cmpstr(qdict_get_str(r, "return"), ==, "modeled");
    qobject_unref(r);
    r = qtest_qmp(s->qts, "{'execute': 'qom-get', 'arguments': "
                  "{'path': '/machine/peripheral/sp0', "
                  "'property': 'model'}}");
    g_assert_cmpstr(qdict_get_str(r, "return"), ==, "eighth");
    qobject_unref(r);

    /* not migratable (docs/hardware.md, "Migration") */
    r = qtest_qmp(s->qts, "{'execute': 'migrate', 'arguments': "
                  "{'uri': 'exec:cat >/dev/null'}}");
    g_assert(qdict_haskey(r, "error"));
    g_test_message("migrate: %s",
                   qdict_get_str(qdict_get_qdict(r, "error"), "desc"));
    g_assert(strstr(qdict_get_str(qdict_get_qdict(r, "error"), "desc"),
                    "non-migratable device"));
    g_assert(strstr(qdict_get_str(qdict_get_qdict(r, "error"), "desc"),
                    "spatten"));
    qobject_unref(r);
    sp_stop(s);
}

/* device_add of spatten on root port rp9; returns the error text or NULL. */
static char *device_add_err(QTestState *qts, const char *id)
{
    QDict *r = qtest_qmp(qts, "{'execute': 'device_add', 'arguments': "
                         "{'driver': 'spatten', 'id': %s, 'bus': 'rp9'}}",
                         id);
    char *err = NULL;

    if (qdict_haskey(r, "error")) {
        err = g_strdup(qdict_get_str(qdict_get_qdict(r, "error"), "desc"));
    } else {
        g_assert(qdict_haskey(r, "return"));
    }
    qobject_unref(r);
    return err;
}

/*
 * The engines translate DMA addresses without the BQL, which a vIOMMU's
 * translate callback needs: the device refuses to be created behind one
 * (device_add fails with a clear error, and the same device_add works
 * without the vIOMMU), and when the vIOMMU was created after it on the
 * command line (the bus-master address space is set up at machine-done),
 * it refuses to enable a queue.
 */
static void test_viommu_refused(void)
{
    const char *rp = "-device pcie-root-port,id=rp9,chassis=9,addr=06.0";
    QTestState *qts;
    char *err;
    Sp *s;

    qts = qtest_initf("-M q35 %s", rp);
    err = device_add_err(qts, "ok0");
    g_assert_null(err);
    qtest_quit(qts);

    qts = qtest_initf("-M q35 -device intel-iommu %s", rp);
    err = device_add_err(qts, "sp9");
    g_assert_nonnull(err);
    g_test_message("device_add behind intel-iommu: %s", err);
    g_assert_nonnull(strstr(err, "spatten: a vIOMMU in front of the "
                            "device is not supported"));
    g_free(err);
    qtest_quit(qts);

    /* created before the vIOMMU: no queue can be enabled */
    s = sp_start(false, " -device intel-iommu");
    s->sq = alloc_aligned(s, RING * SPATTEN_DESC_SIZE);
    s->cq = alloc_aligned(s, RING * SPATTEN_CQE_SIZE);
    queue_program(s, RING);
    g_assert_cmphex(rd(s, SPATTEN_REG_Q(0, SPATTEN_QREG_STATUS)), ==,
                    SPATTEN_QSTS_ERROR);
    sp_stop(s);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);

    qtest_add_func("/spatten/robust/dma-self", test_dma_self);
    qtest_add_func("/spatten/robust/unplug-rp-inflight",
                   test_unplug_rp_inflight);
    qtest_add_func("/spatten/robust/unplug-long-job", test_unplug_long_job);
    qtest_add_func("/spatten/robust/unplug-value-pass",
                   test_unplug_value_pass);
    qtest_add_func("/spatten/robust/unplug-self-dma", test_unplug_self_dma);
    qtest_add_func("/spatten/robust/pause", test_pause);
    qtest_add_func("/spatten/robust/throttle-fast", test_throttle_fast);
    qtest_add_func("/spatten/robust/scratch-cap", test_scratch_cap);
    qtest_add_func("/spatten/robust/enum-props", test_enum_props);
    qtest_add_func("/spatten/robust/viommu-refused", test_viommu_refused);
    return g_test_run();
}
