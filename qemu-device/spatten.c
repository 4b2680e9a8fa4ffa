/*
 * SpAtten sparse-attention accelerator: virtual PCIe device (QEMU 7.2).
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * This file: the PCI/QOM glue (realize, unrealize, finalize, properties),
 * device reset and the VM run-state handler; BQL held throughout.  The
 * hardware interface (1.2) is include/spatten_hw.h and docs/hardware.md;
 * spatten.h says which file owns which part of the device and its
 * locking.
 *
 * - A PCIe endpoint, vendor/device/class from spatten_hw.h, revision 1.
 *   BAR0: registers and doorbells (spatten-regs.c).  BAR1: MSI-X table and
 *   PBA, one vector per queue pair; without MSI-X the device uses MSI (one
 *   vector) if enabled, else INTx with level = (INTX_STATUS != 0).
 *   INTX_STATUS collects completions in INTx mode only and is cleared
 *   when the guest switches interrupt mode.
 * - Reset (CTRL.RESET, FLR, system reset) disables and forgets every
 *   queue, zeroes CTRL, INTX_STATUS and the counters, and drops queued,
 *   running and waiting jobs without posting them.  It does not wait for
 *   the engines: running jobs are cancelled and the queue generation
 *   bumped, so the bottom half discards whatever they still produce.
 *   FLR and system reset also clear the FAULT register and a reset stuck
 *   under FAULT.RESET_STUCK (spatten-regs.c); CTRL.RESET does neither.
 * - While the VM is stopped the device writes no guest memory and raises
 *   no interrupt: no SQ fetch, engines take no new job, the bottom half
 *   posts nothing.  A job already on an engine finishes computing: it
 *   still reads its operands from guest RAM, its writes are staged in
 *   host memory.  Everything resumes with the VM.
 * - Unplug can happen inside the device's own bottom half (see
 *   spatten-cq.c): unrealize only stops what makes DMA or interrupts
 *   (the engines, the timer, MSI/MSI-X), and frees nothing the bottom
 *   half may still touch; instance_finalize frees the rest.
 * - No vIOMMU: the engines translate DMA addresses without the BQL, so
 *   realize (and queue enable) refuse a device behind one.
 * - Not migratable (.unmigratable in the VMState description, no blocker
 *   object): jobs in flight on host threads, their staged writes and the
 *   modeled-time backlog are not migrated.
 * - Host memory is bounded by the properties; docs/hardware.md gives the
 *   formula.
 */

#include "qemu/osdep.h"
#include "qemu/log.h"
#include "qemu/main-loop.h"
#include "qemu/module.h"
#include "qemu/units.h"
#include "qapi/error.h"
#include "qapi/visitor.h"
#include "hw/pci/pci.h"
#include "hw/pci/pcie.h"
#include "hw/pci/msi.h"
#include "hw/pci/msix.h"
#include "hw/qdev-properties.h"
#include "hw/core/qdev-prop-internal.h"
#include "exec/address-spaces.h"
#include "migration/vmstate.h"
#include "sysemu/runstate.h"

#include "spatten.h"
#include "trace.h"

#define SPATTEN_REVISION        1
#define SPATTEN_PCIE_CAP_OFFSET 0x80

/* head_dim 16, 32, 64, 128 and 256 */
#define SPATTEN_HEAD_DIMS \
    ((1u << 4) | (1u << 5) | (1u << 6) | (1u << 7) | (1u << 8))
/* S16, S4, S6, S8, S10, S12 */
#define SPATTEN_FORMATS         ((1u << SPATTEN_FMT_NUM) - 1)
/* progressive K: 4, 6, 8, 10 or 12 MSBs (+ 4 LSBs) */
#define SPATTEN_SPLITS \
    ((1u << 4) | (1u << 6) | (1u << 8) | (1u << 10) | (1u << 12))
/* 1.2: descriptor version 3 and what it brings */
#define SPATTEN_FEATURES \
    (SPATTEN_FEAT_CAUSAL | SPATTEN_FEAT_GENERATION | \
     SPATTEN_FEAT_PAGE_LIST | SPATTEN_FEAT_INTX | \
     SPATTEN_FEAT_TOKEN_PRUNE | SPATTEN_FEAT_HEAD_PRUNE | \
     SPATTEN_FEAT_VALUE_PRUNE | SPATTEN_FEAT_PROGRESSIVE | \
     SPATTEN_FEAT_DESC_V3 | SPATTEN_FEAT_GQA | SPATTEN_FEAT_KV_LAYOUT | \
     SPATTEN_FEAT_ROPE | SPATTEN_FEAT_CHUNKS | \
     SPATTEN_FEAT_IMP_PER_KV_HEAD)

/*
 * Default engine scratch cap per job.  The scratch grows with the context
 * (one head's K and V rows and a block of scores at a time): a generation
 * step over the default max-context of 128 Ki keys at head_dim 128 fits
 * (about 100 MiB).  The cap bounds host memory per engine whatever the
 * guest asks for; jobs beyond it fail with ERR_NO_MEMORY (raise
 * max-scratch-bytes for them).
 */
#define SPATTEN_DEFAULT_MAX_SCRATCH     (256 * MiB)

/*
 * Ceiling of the derived default of max-job-bytes.  At the default
 * max-context and max-heads the largest job writes 4 GiB (64 heads x
 * 128 Ki rows x 512 bytes); 2 x engines jobs may hold staged writes at a
 * time, so a guest could make the device hold 16 GiB.  Jobs that write
 * more than this fail with ERR_NO_MEMORY unless max-job-bytes is set.
 */
#define SPATTEN_DEFAULT_MAX_JOB_BYTES   (256 * MiB)

QEMU_BUILD_BUG_ON(sizeof(struct spatten_hw_desc) != SPATTEN_DESC_SIZE);
QEMU_BUILD_BUG_ON(sizeof(struct spatten_hw_desc_v3) != SPATTEN_DESC_V3_SIZE);
QEMU_BUILD_BUG_ON(sizeof_field(SpattenJob, sqe) != SPATTEN_SQE_SIZE_MAX);
QEMU_BUILD_BUG_ON(offsetof(struct spatten_hw_desc, tag) !=
                  offsetof(struct spatten_hw_desc_v3, tag));
QEMU_BUILD_BUG_ON(SPATTEN_REG_CAP_DESC_SIZE_MAX >= SPATTEN_REG_CTRL);
QEMU_BUILD_BUG_ON(SPATTEN_QREG_SQ_ENTRY_SIZE >= SPATTEN_REG_QUEUE_STRIDE);
QEMU_BUILD_BUG_ON(sizeof(struct spatten_hw_cqe) != SPATTEN_CQE_SIZE);
QEMU_BUILD_BUG_ON(offsetof(struct spatten_hw_cqe, lsb_refetches) != 0x30);
QEMU_BUILD_BUG_ON(SPATTEN_REG_Q(SPATTEN_MAX_QUEUES, 0) > SPATTEN_REG_DB_BASE);
QEMU_BUILD_BUG_ON(SPATTEN_REG_DB_BASE +
                  SPATTEN_REG_DB_STRIDE * SPATTEN_MAX_QUEUES >
                  SPATTEN_BAR0_SIZE);
QEMU_BUILD_BUG_ON(SPATTEN_REG_CNT(SPATTEN_CNT_NUM) > SPATTEN_REG_QUEUE_BASE);
/* Q, K_MSB, K_LSB, V are consecutive in both enums. */
QEMU_BUILD_BUG_ON(SPE_PLANE_K_MSB != SPE_PLANE_Q + 1 ||
                  SPE_PLANE_K_LSB != SPE_PLANE_Q + 2 ||
                  SPE_PLANE_V != SPE_PLANE_Q + 3);
QEMU_BUILD_BUG_ON(SPATTEN_CNT_BYTES_K_MSB != SPATTEN_CNT_BYTES_Q + 1 ||
                  SPATTEN_CNT_BYTES_K_LSB != SPATTEN_CNT_BYTES_Q + 2 ||
                  SPATTEN_CNT_BYTES_V != SPATTEN_CNT_BYTES_Q + 3);

const char *spatten_status_name(unsigned st)
{
    static const char *const names[] = {
        [SPATTEN_HW_OK] = "OK",
        [SPATTEN_HW_ERR_OPCODE] = "ERR_OPCODE",
        [SPATTEN_HW_ERR_VERSION] = "ERR_VERSION",
        [SPATTEN_HW_ERR_FLAGS] = "ERR_FLAGS",
        [SPATTEN_HW_ERR_RESERVED] = "ERR_RESERVED",
        [SPATTEN_HW_ERR_SHAPE] = "ERR_SHAPE",
        [SPATTEN_HW_ERR_POSITION] = "ERR_POSITION",
        [SPATTEN_HW_ERR_FORMAT] = "ERR_FORMAT",
        [SPATTEN_HW_ERR_BUFFER] = "ERR_BUFFER",
        [SPATTEN_HW_ERR_PAGE_LIST] = "ERR_PAGE_LIST",
        [SPATTEN_HW_ERR_DMA_READ] = "ERR_DMA_READ",
        [SPATTEN_HW_ERR_DMA_WRITE] = "ERR_DMA_WRITE",
        [SPATTEN_HW_ERR_NO_MEMORY] = "ERR_NO_MEMORY",
        [SPATTEN_HW_ERR_ABORTED] = "ERR_ABORTED",
        [SPATTEN_HW_ERR_KEEP] = "ERR_KEEP",
        [SPATTEN_HW_ERR_LIST] = "ERR_LIST",
        [SPATTEN_HW_ERR_LAYOUT] = "ERR_LAYOUT",
        [SPATTEN_HW_ERR_BLOCK] = "ERR_BLOCK",
        [SPATTEN_HW_ERR_PARAM] = "ERR_PARAM",
    };

    QEMU_BUILD_BUG_ON(ARRAY_SIZE(names) != SPATTEN_HW_STATUS_MAX + 1);

    return st < ARRAY_SIZE(names) && names[st] ? names[st] : "?";
}

/* Is [addr, addr + len) reachable with the advertised DMA width? */
bool spatten_dma_range_ok(uint32_t dma_bits, uint64_t addr, uint64_t len)
{
    uint64_t end;

    if (len == 0) {
        return true;
    }
    if (addr + len < addr) {
        return false;
    }
    end = addr + len - 1;
    return dma_bits >= 64 || (end >> dma_bits) == 0;
}

/*
 * Does the device's DMA reach guest memory untranslated?  The engine
 * threads translate bus addresses without the BQL (spatten-engine.c); a
 * vIOMMU's translate callback needs it (it reads its tables by DMA, which
 * may hit MMIO, and reports faults with an MSI) and its state is not
 * thread-safe.  So a vIOMMU in front of the device is refused: at realize,
 * and again when a queue is enabled, for a vIOMMU created after the device
 * (-device spatten before -device intel-iommu: the bus-master address
 * space is set up at machine-done).
 */
bool spatten_dma_untranslated(SpattenState *s)
{
    return pci_device_iommu_address_space(PCI_DEVICE(s)) ==
           &address_space_memory;
}

/* Device reset as seen by the guest. */
void spatten_reset_state(SpattenState *s)
{
    unsigned i;

    trace_spatten_reset();
    spatten_drop_jobs(s, -1);
    for (i = 0; i < SPATTEN_MAX_QUEUES; i++) {
        spatten_queue_clear(s, i);
    }
    s->ctrl = 0;
    s->intx_status = 0;
    memset(s->cnt, 0, sizeof(s->cnt));
    spatten_update_intx(s);
}

static void spatten_write_config(PCIDevice *pdev, uint32_t addr, uint32_t val,
                                 int len)
{
    SpattenState *s = SPATTEN(pdev);
    bool intx = spatten_intx_mode(pdev);

    pci_default_write_config(pdev, addr, val, len);
    pcie_cap_flr_write_config(pdev, addr, val, len);
    /*
     * INTX_STATUS only means something in INTx mode: forget it when the
     * guest switches between INTx and MSI/MSI-X, so a stale bit cannot
     * assert INTx later.
     */
    if (spatten_intx_mode(pdev) != intx) {
        s->intx_status = 0;
    }
    spatten_update_intx(s);
}

static void spatten_vm_state_change(void *opaque, bool running,
                                    RunState state)
{
    SpattenState *s = opaque;

    s->vm_running = running;
    qemu_mutex_lock(&s->lock);
    s->paused = !running;
    qemu_cond_broadcast(&s->cond);
    qemu_mutex_unlock(&s->lock);
    if (running) {
        /*
         * Doorbells rung while stopped, completions computed meanwhile.
         * The SQ fetch is guest-directed DMA: keep the device alive
         * across it (spatten-cq.c explains the deferred unref).
         */
        object_ref(OBJECT(s));
        qemu_bh_schedule(s->bh);
        spatten_process_all(s);
        spatten_put(s);
    }
}

/*
 * Default of max-job-bytes: everything the largest valid job can write
 * (output, token and head importance, kept lists of 32-bit entries) plus
 * a header for every output row (rows of pruned queries or heads are not
 * contiguous) and slack, but at most SPATTEN_DEFAULT_MAX_JOB_BYTES.  Only
 * a bound: a job's staging buffer grows with what it really writes, and
 * nothing is allocated at realize.
 */
static uint64_t spatten_default_stage_limit(const SpattenState *s)
{
    uint64_t rows = (uint64_t)s->max_heads * s->max_context;
    uint64_t data = rows * SPATTEN_MAX_HEAD_DIM * 2 +
                    (uint64_t)s->max_context *
                    (SPATTEN_IMP_BYTES + SPATTEN_LIST_BYTES_V3) +
                    (uint64_t)s->max_heads *
                    (SPATTEN_IMP_BYTES + SPATTEN_LIST_BYTES_V3);
    uint64_t need = data + (rows + 16) * sizeof(SpattenStageHdr) + 65536;

    return MIN(need, SPATTEN_DEFAULT_MAX_JOB_BYTES);
}

static bool spatten_check_props(SpattenState *s, Error **errp)
{
    if (s->engines < 1 || s->engines > SPATTEN_MAX_ENGINES) {
        error_setg(errp, "spatten: engines=%u out of range 1..%u",
                   s->engines, SPATTEN_MAX_ENGINES);
        return false;
    }
    if (s->queues < 1 || s->queues > SPATTEN_MAX_QUEUES) {
        error_setg(errp, "spatten: queues=%u out of range 1..%u",
                   s->queues, SPATTEN_MAX_QUEUES);
        return false;
    }
    if (s->queue_depth < 2 || s->queue_depth > SPATTEN_MAX_DEPTH) {
        error_setg(errp, "spatten: queue-depth=%u out of range 2..%u",
                   s->queue_depth, SPATTEN_MAX_DEPTH);
        return false;
    }
    if (s->max_context < 1 || s->max_context > SPATTEN_MAX_CONTEXT) {
        error_setg(errp, "spatten: max-context=%u out of range 1..%u",
                   s->max_context, SPATTEN_MAX_CONTEXT);
        return false;
    }
    if (s->max_heads < 1 || s->max_heads > SPATTEN_MAX_HEADS) {
        error_setg(errp, "spatten: max-heads=%u out of range 1..%u",
                   s->max_heads, SPATTEN_MAX_HEADS);
        return false;
    }
    if (s->dma_bits < 32 || s->dma_bits > 64) {
        error_setg(errp, "spatten: dma-bits=%u out of range 32..64",
                   s->dma_bits);
        return false;
    }
    if (s->max_scratch < 1 * MiB) {
        error_setg(errp, "spatten: max-scratch-bytes=%" PRIu64
                   " below 1 MiB", s->max_scratch);
        return false;
    }
    s->stage_limit = s->max_job_bytes ? s->max_job_bytes :
                     spatten_default_stage_limit(s);
    if (s->stage_limit > SIZE_MAX) {
        s->stage_limit = SIZE_MAX;
    }
    return true;
}

static void spatten_get_staged_max(Object *obj, Visitor *v, const char *name,
                                   void *opaque, Error **errp)
{
    SpattenState *s = SPATTEN(obj);
    uint32_t val;

    qemu_mutex_lock(&s->lock);
    val = s->nstaged_max;
    qemu_mutex_unlock(&s->lock);
    visit_type_uint32(v, name, &val, errp);
}

static void spatten_get_staged(Object *obj, Visitor *v, const char *name,
                               void *opaque, Error **errp)
{
    SpattenState *s = SPATTEN(obj);
    uint32_t val;

    qemu_mutex_lock(&s->lock);
    val = s->nstaged;
    qemu_mutex_unlock(&s->lock);
    visit_type_uint32(v, name, &val, errp);
}

static void spatten_get_running(Object *obj, Visitor *v, const char *name,
                                void *opaque, Error **errp)
{
    SpattenState *s = SPATTEN(obj);
    SpattenJob *job;
    uint32_t val = 0;

    qemu_mutex_lock(&s->lock);
    QTAILQ_FOREACH(job, &s->running, next) {
        val++;
    }
    qemu_mutex_unlock(&s->lock);
    visit_type_uint32(v, name, &val, errp);
}

static void spatten_instance_init(Object *obj)
{
    SpattenState *s = SPATTEN(obj);
    unsigned i;

    qemu_mutex_init(&s->lock);
    qemu_cond_init(&s->cond);
    for (i = 0; i < SPATTEN_MAX_QUEUES; i++) {
        QTAILQ_INIT(&s->work[i]);
    }
    QTAILQ_INIT(&s->running);
    QTAILQ_INIT(&s->done);
    QTAILQ_INIT(&s->pending);
    QTAILQ_INIT(&s->ordered);

    object_property_add(obj, "x-staged-jobs-max", "uint32",
                        spatten_get_staged_max, NULL, NULL, NULL);
    object_property_set_description(obj, "x-staged-jobs-max",
        "high-water mark of computed jobs holding staged writes (tests)");
    object_property_add(obj, "x-staged-jobs", "uint32",
                        spatten_get_staged, NULL, NULL, NULL);
    object_property_set_description(obj, "x-staged-jobs",
        "jobs holding a staging slot now: running, or computed and not "
        "yet posted (tests)");
    object_property_add(obj, "x-running-jobs", "uint32",
                        spatten_get_running, NULL, NULL, NULL);
    object_property_set_description(obj, "x-running-jobs",
        "jobs an engine is computing right now (tests)");
}

static void spatten_realize(PCIDevice *pdev, Error **errp)
{
    SpattenState *s = SPATTEN(pdev);
    uint8_t *conf = pdev->config;
    unsigned i;
    int ret;

    if (!spatten_check_props(s, errp)) {
        return;
    }
    if (!spatten_dma_untranslated(s)) {
        error_setg(errp, "spatten: " SPATTEN_VIOMMU_ERR);
        return;
    }
    s->caps.max_context = s->max_context;
    s->caps.max_heads = s->max_heads;
    s->caps.head_dims = SPATTEN_HEAD_DIMS;
    s->caps.formats = SPATTEN_FORMATS;
    s->caps.splits = SPATTEN_SPLITS;
    s->caps.features = SPATTEN_FEATURES;
    s->caps.dma_bits = s->dma_bits;
    s->caps.model = s->model == SPATTEN_MODEL_EIGHTH ? spe_model_eighth() :
                                                       spe_model_full();
    s->caps.max_scratch = s->max_scratch;

    pci_config_set_interrupt_pin(conf, 1);

    memory_region_init_io(&s->mmio, OBJECT(s), &spatten_mmio_ops, s,
                          "spatten-regs", SPATTEN_BAR0_SIZE);
    /*
     * 32-bit BAR: a 64-bit BAR0 would also take BAR1, which spatten_hw.h
     * assigns to MSI-X.
     */
    pci_register_bar(pdev, SPATTEN_BAR_REGS, PCI_BASE_ADDRESS_SPACE_MEMORY,
                     &s->mmio);

    ret = pcie_endpoint_cap_init(pdev, SPATTEN_PCIE_CAP_OFFSET);
    if (ret < 0) {
        error_setg(errp, "spatten: PCIe capability init failed");
        return;
    }
    pcie_cap_flr_init(pdev);

    ret = msi_init(pdev, 0, 1, true, false, errp);
    if (ret < 0) {
        goto fail_pcie;
    }
    if (s->msix) {
        ret = msix_init_exclusive_bar(pdev, s->queues, SPATTEN_BAR_MSIX,
                                      errp);
        if (ret < 0) {
            goto fail_msi;
        }
        for (i = 0; i < s->queues; i++) {
            msix_vector_use(pdev, i);
        }
    }

    s->gone = false;
    s->stopping = false;
    s->vm_running = runstate_is_running();
    s->paused = !s->vm_running;
    s->bh = qemu_bh_new_guarded(spatten_bh, s,
                                &DEVICE(pdev)->mem_reentrancy_guard);
    s->timer = timer_new_ns(QEMU_CLOCK_VIRTUAL, spatten_timer_cb, s);
    for (i = 0; i < SPATTEN_MAX_QUEUES; i++) {
        spatten_queue_clear(s, i);
    }
    s->vmstate_entry = qdev_add_vm_change_state_handler(DEVICE(pdev),
                                                        spatten_vm_state_change,
                                                        s);
    spatten_engines_start(s);
    return;

fail_msi:
    msi_uninit(pdev);
fail_pcie:
    pcie_cap_exit(pdev);
}

/*
 * May run inside spatten_bh(), from a DMA write of the device itself
 * that powered off its hotplug slot.  Stop everything that makes DMA or
 * interrupts, free nothing the bottom half can still reach: that is
 * instance_finalize's job.
 */
static void spatten_exit(PCIDevice *pdev)
{
    SpattenState *s = SPATTEN(pdev);

    trace_spatten_unrealize(s, s->in_bh);
    s->gone = true;
    qemu_del_vm_change_state_handler(s->vmstate_entry);
    s->vmstate_entry = NULL;
    spatten_engines_stop(s);
    timer_del(s->timer);

    if (msix_present(pdev)) {
        msix_uninit_exclusive_bar(pdev);
    }
    msi_uninit(pdev);
    pcie_cap_exit(pdev);
}

static void spatten_instance_finalize(Object *obj)
{
    SpattenState *s = SPATTEN(obj);
    unsigned i;

    trace_spatten_finalize(s);
    g_free(s->eng);
    s->eng = NULL;
    if (s->bh) {
        qemu_bh_delete(s->bh);
        s->bh = NULL;
    }
    if (s->timer) {
        timer_free(s->timer);
        s->timer = NULL;
    }
    if (s->posting) {
        spatten_job_free(s->posting);
        s->posting = NULL;
    }
    for (i = 0; i < SPATTEN_MAX_QUEUES; i++) {
        spatten_free_list(&s->work[i]);
    }
    spatten_free_list(&s->running);     /* empty once the engines joined */
    spatten_free_list(&s->done);
    spatten_free_list(&s->pending);
    spatten_free_list(&s->ordered);
    qemu_cond_destroy(&s->cond);
    qemu_mutex_destroy(&s->lock);
}

/* FLR (pci_device_reset()) and system reset. */
static void spatten_reset(DeviceState *dev)
{
    SpattenState *s = SPATTEN(dev);

    s->fault = 0;
    s->reset_stuck = false;
    spatten_reset_state(s);
}

static const VMStateDescription vmstate_spatten = {
    .name = TYPE_SPATTEN,
    /*
     * Jobs in flight run on host threads and hold host buffers (their
     * staged writes), and timing=modeled keeps computed jobs waiting on a
     * timer; none of it is migrated, so the device blocks migration.
     */
    .unmigratable = 1,
};

/* QAPI-style enum properties ("-device spatten,timing=help" lists them). */
static const char *const spatten_timing_names[SPATTEN_TIMING__MAX] = {
    [SPATTEN_TIMING_FAST] = "fast",
    [SPATTEN_TIMING_MODELED] = "modeled",
};

static const QEnumLookup spatten_timing_lookup = {
    .array = spatten_timing_names,
    .size = SPATTEN_TIMING__MAX,
};

static const PropertyInfo spatten_prop_timing = {
    .name = "SpattenTiming",
    .description = "fast/modeled",
    .enum_table = &spatten_timing_lookup,
    .get = qdev_propinfo_get_enum,
    .set = qdev_propinfo_set_enum,
    .set_default_value = qdev_propinfo_set_default_value_enum,
};

static const char *const spatten_model_names[SPATTEN_MODEL__MAX] = {
    [SPATTEN_MODEL_FULL] = "full",
    [SPATTEN_MODEL_EIGHTH] = "eighth",
};

static const QEnumLookup spatten_model_lookup = {
    .array = spatten_model_names,
    .size = SPATTEN_MODEL__MAX,
};

static const PropertyInfo spatten_prop_model = {
    .name = "SpattenModel",
    .description = "full/eighth",
    .enum_table = &spatten_model_lookup,
    .get = qdev_propinfo_get_enum,
    .set = qdev_propinfo_set_enum,
    .set_default_value = qdev_propinfo_set_default_value_enum,
};

static Property spatten_properties[] = {
    DEFINE_PROP_UINT32("engines", SpattenState, engines, 2),
    DEFINE_PROP_UINT32("queues", SpattenState, queues, 4),
    DEFINE_PROP_UINT32("queue-depth", SpattenState, queue_depth, 1024),
    DEFINE_PROP_UINT32("max-context", SpattenState, max_context,
                       SPATTEN_DEFAULT_CONTEXT),
    DEFINE_PROP_UINT32("max-heads", SpattenState, max_heads, 64),
    DEFINE_PROP_UINT32("dma-bits", SpattenState, dma_bits, 48),
    DEFINE_PROP_SIZE("max-job-bytes", SpattenState, max_job_bytes, 0),
    DEFINE_PROP_SIZE("max-scratch-bytes", SpattenState, max_scratch,
                     SPATTEN_DEFAULT_MAX_SCRATCH),
    DEFINE_PROP_BOOL("msix", SpattenState, msix, true),
    DEFINE_PROP_SIGNED("model", SpattenState, model, SPATTEN_MODEL_FULL,
                       spatten_prop_model, SpattenModel),
    DEFINE_PROP_SIGNED("timing", SpattenState, timing, SPATTEN_TIMING_FAST,
                       spatten_prop_timing, SpattenTiming),
    DEFINE_PROP_END_OF_LIST(),
};

static void spatten_class_init(ObjectClass *klass, void *data)
{
    DeviceClass *dc = DEVICE_CLASS(klass);
    PCIDeviceClass *k = PCI_DEVICE_CLASS(klass);

    k->realize = spatten_realize;
    k->exit = spatten_exit;
    k->config_write = spatten_write_config;
    k->vendor_id = SPATTEN_PCI_VENDOR_ID;
    k->device_id = SPATTEN_PCI_DEVICE_ID;
    k->class_id = SPATTEN_PCI_CLASS >> 8;   /* base class and subclass */
    k->revision = SPATTEN_REVISION;

    dc->desc = "SpAtten sparse-attention accelerator";
    dc->reset = spatten_reset;
    dc->vmsd = &vmstate_spatten;
    set_bit(DEVICE_CATEGORY_MISC, dc->categories);
    device_class_set_props(dc, spatten_properties);

    object_class_property_set_description(klass, "engines",
        "compute engines (worker threads), 1..16");
    object_class_property_set_description(klass, "queues",
        "submission/completion queue pairs (and MSI-X vectors), 1..16");
    object_class_property_set_description(klass, "queue-depth",
        "maximum entries per queue, 2..65536");
    object_class_property_set_description(klass, "max-context",
        "maximum kv_rows and q_rows per job, 1..262144 (descriptor "
        "versions 1 and 2 stop at 65535)");
    object_class_property_set_description(klass, "max-heads",
        "maximum attention heads per job, 1..256");
    object_class_property_set_description(klass, "dma-bits",
        "DMA address width in bits, 32..64");
    object_class_property_set_description(klass, "max-job-bytes",
        "bound on the host memory staging one job's writes; a job that "
        "needs more fails with ERR_NO_MEMORY; 0: enough for the largest "
        "job the other limits allow, at most 256 MiB");
    object_class_property_set_description(klass, "max-scratch-bytes",
        "bound on the engine scratch memory of one job (at least 1 MiB); "
        "a job that needs more fails with ERR_NO_MEMORY");
    object_class_property_set_description(klass, "msix",
        "offer MSI-X (off: MSI or INTx only)");
    object_class_property_set_description(klass, "model",
        "cycle model: 'full' (default, the paper's chip) or 'eighth' "
        "(SpAtten_1/8)");
    object_class_property_set_description(klass, "timing",
        "'fast' (default): complete when computed; 'modeled': complete at "
        "submission + modeled cycles (1 GHz) on the virtual clock, jobs of "
        "one engine in sequence");
}

static const TypeInfo spatten_info = {
    .name = TYPE_SPATTEN,
    .parent = TYPE_PCI_DEVICE,
    .instance_size = sizeof(SpattenState),
    .instance_init = spatten_instance_init,
    .instance_finalize = spatten_instance_finalize,
    .class_init = spatten_class_init,
    .interfaces = (InterfaceInfo[]) {
        { INTERFACE_PCIE_DEVICE },
        { },
    },
};

static void spatten_register_types(void)
{
    type_register_static(&spatten_info);
}

type_init(spatten_register_types)
