/*
 * SpAtten sparse-attention accelerator: virtual PCIe device (QEMU 7.2).
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * What the device does
 * --------------------
 * A PCIe endpoint ("-device spatten", vendor/device/class from
 * spatten_hw.h, revision 1) that implements hardware interface 1.1 as
 * defined in spatten_hw.h and docs/hardware.md:
 *
 * - BAR0 (SPATTEN_BAR0_SIZE bytes, little-endian MMIO): identity, version
 *   (1.1) and capability words, CTRL/STATUS/INTX_STATUS, 64-bit counters
 *   (one 8-byte or two 4-byte reads), per-queue-pair configuration
 *   registers and NVMe-style doorbells.  Other registers are 4-byte; 8-byte
 *   accesses are accepted for the counters and for the SQ/CQ base register
 *   pairs only.  Unknown offsets read 0 and ignore writes (logged as
 *   LOG_GUEST_ERROR).
 * - Capabilities: every element format (S16, S4..S12), every progressive
 *   split (4, 6, 8, 10 and 12 MSBs + 4 LSBs), features causal, generation,
 *   page lists, INTx, token/head/value pruning and progressive
 *   quantization.  Shape limits come from the properties.
 * - BAR1: MSI-X table and PBA (exclusive BAR), one vector per queue pair.
 *   With MSI-X disabled by the guest the device uses MSI (one vector) if
 *   enabled, else INTx, level = (INTX_STATUS != 0).  INTX_STATUS bit q is
 *   set whenever CQ q receives an entry (in every interrupt mode) and is
 *   cleared by writing 1 to it.  "msix=off" removes the MSI-X capability.
 * - Queue pairs: the host programs SQ/CQ base and size and enables the
 *   pair; enabling validates the configuration (alignment, sizes, range
 *   within dma-bits) and on failure sets QSTS.ERROR and leaves the pair
 *   disabled.  The configuration of an enabled pair is read-only.
 *   Disabling a pair drops its outstanding jobs and resets its ring
 *   indices; its configuration registers keep their values.
 * - Doorbells: SQ tail (value < SQ size) and CQ head (value < CQ size and
 *   not beyond the entries the device has posted); a bad value sets
 *   QSTS.ERROR and is ignored.  Doorbells of an enabled pair are recorded
 *   while CTRL.ENABLE is clear and acted upon once it is set.
 * - Jobs: on an SQ doorbell (vCPU thread, BQL held) each new 256-byte
 *   submission entry is copied out of guest memory exactly once into a job
 *   and queued on its queue pair's work list.  A new entry is only taken if
 *   the CQ has room for its completion, counting jobs in flight, so a
 *   completion never overwrites an entry the host has not released.
 * - Engines: `engines` worker threads (default 2) serve all queue pairs.
 *   An idle engine takes the next job round-robin across the queue pairs
 *   that have work (one job per queue per turn), so a queue with a long
 *   backlog cannot starve another queue.  A worker decodes and validates
 *   the copy (spe_desc_decode: every field, limits from the properties)
 *   and runs it (spe_run).  Operand reads go straight to guest memory with
 *   pci_dma_read and are counted per plane.
 * - Writes are staged: workers never write guest memory.  Every write the
 *   engine makes (output rows, importance arrays, kept lists) is appended
 *   to a per-job host buffer (plane, offset, bytes; contiguous writes to
 *   one plane are merged), bounded by `max-job-bytes` and allocated with
 *   g_try_realloc; exceeding the bound or failing to allocate fails the
 *   job with ERR_NO_MEMORY.  The bottom half on the main loop replays the
 *   staged writes in order (spe_buf_write over the job's buffer reference,
 *   page lists walked there) only if the job succeeded: a job that fails
 *   anywhere (validation, list or keep checks, page list, DMA read, no
 *   memory) writes nothing to its operands, only its completion entry.  A
 *   DMA write that fails during the replay stops it there (what was
 *   written stays written, as on real hardware) and the job completes with
 *   ERR_DMA_WRITE (or ERR_PAGE_LIST for a bad output page-list entry).
 *   Then the completion entry (bytes 0x00..0x3b first, the status/phase
 *   dword last), the counters and the interrupt.  Completions of different
 *   jobs may be posted out of submission order; the CQE carries the tag.
 * - Traffic: bytes_q / bytes_k_msb / bytes_k_lsb / bytes_v of the CQE and
 *   counters 2-5 are the bytes read from those planes; counter BYTES_META
 *   counts the cascade state read (token/head importance, alive and pinned
 *   lists); bytes_written and counter 6 count every byte written to the
 *   operands (output, importance write-back, kept lists) during the
 *   replay.  lsb_refetches (CQE and counter 7) and cycles (CQE and counter
 *   8) come from the engine's result; its cycle model is the property
 *   `model`: "full" (the paper's chip) or "eighth" (SpAtten_1/8).
 * - Timing: `timing=fast` (default) posts a completion as soon as the job
 *   is computed.  `timing=modeled` posts it no earlier than its modeled
 *   finish time on QEMU_CLOCK_VIRTUAL, at 1 GHz (1 cycle = 1 ns).  The
 *   device models `engines` engines, each a pipeline that runs one job at
 *   a time: jobs are scheduled in the order the engines took them off the
 *   queues (the round-robin order above), each on the modeled engine that
 *   is free first (lowest index on a tie), starting at max(submission
 *   time, that engine's previous finish) and finishing `cycles` later.  So
 *   jobs on one engine serialize in modeled time, up to `engines` jobs
 *   overlap, and the schedule does not depend on which host thread
 *   computed a job.  Computed jobs wait for their turn in sequence order,
 *   then on a list sorted by finish time served by one QEMUTimer.  A reset
 *   forgets the modeled backlog; a disabled queue's jobs keep the time
 *   they were given.  The engines stop taking new jobs while 2 x engines
 *   computed jobs wait for their time, which bounds the host memory held
 *   by staged writes.  Under qtest the virtual clock only moves with
 *   clock_step.
 * - Errors: every guest-controlled value is validated; a malformed
 *   descriptor or a failed DMA (e.g. bus mastering disabled) completes the
 *   job with its specific error status, never aborts QEMU.
 * - Reset: CTRL.RESET, FLR (PCIe capability) and system reset disable and
 *   forget every queue, zero CTRL, INTX_STATUS and the counters, and drop
 *   queued, running and waiting jobs without posting their completions or
 *   writing their outputs.  Reset does not wait for the workers (one may be
 *   waiting for the BQL inside a DMA): it cancels running jobs and bumps
 *   the queue generation, and the bottom half discards any job that
 *   finishes under an older generation.
 * - Migration is blocked (.unmigratable): jobs in flight on host threads,
 *   their staged writes and the modeled-time backlog are not migratable.
 * - Trace events: trace-events / spatten-trace.h (-trace 'spatten_*'),
 *   including every validation or run-time error with its status code.
 * - Properties: -device spatten,help.  Tests: tests/spatten-test.c (qtest).
 */

#include "qemu/osdep.h"
#include "qemu/log.h"
#include "qemu/main-loop.h"
#include "qemu/module.h"
#include "qemu/thread.h"
#include "qemu/atomic.h"
#include "qemu/queue.h"
#include "qemu/rcu.h"
#include "qemu/timer.h"
#include "qapi/error.h"
#include "hw/pci/pci.h"
#include "hw/pci/pcie.h"
#include "hw/pci/msi.h"
#include "hw/pci/msix.h"
#include "hw/qdev-properties.h"
#include "migration/vmstate.h"
#include "qom/object.h"

#include "spatten_hw.h"
#include "spe.h"
#include "spatten-trace.h"

#define TYPE_SPATTEN "spatten"
OBJECT_DECLARE_SIMPLE_TYPE(SpattenState, SPATTEN)

#define SPATTEN_REVISION        1
#define SPATTEN_PCIE_CAP_OFFSET 0x80

#define SPATTEN_MAX_ENGINES     16
#define SPATTEN_MAX_DEPTH       65536
#define SPATTEN_MAX_CONTEXT     32768
#define SPATTEN_MAX_HEADS       256

/* head_dim 16, 32, 64, 128 and 256 */
#define SPATTEN_HEAD_DIMS \
    ((1u << 4) | (1u << 5) | (1u << 6) | (1u << 7) | (1u << 8))
#define SPATTEN_MAX_HEAD_DIM    256
/* S16, S4, S6, S8, S10, S12 */
#define SPATTEN_FORMATS         ((1u << SPATTEN_FMT_NUM) - 1)
/* progressive K: 4, 6, 8, 10 or 12 MSBs (+ 4 LSBs) */
#define SPATTEN_SPLITS \
    ((1u << 4) | (1u << 6) | (1u << 8) | (1u << 10) | (1u << 12))
#define SPATTEN_FEATURES \
    (SPATTEN_FEAT_CAUSAL | SPATTEN_FEAT_GENERATION | \
     SPATTEN_FEAT_PAGE_LIST | SPATTEN_FEAT_INTX | \
     SPATTEN_FEAT_TOKEN_PRUNE | SPATTEN_FEAT_HEAD_PRUNE | \
     SPATTEN_FEAT_VALUE_PRUNE | SPATTEN_FEAT_PROGRESSIVE)

/* Offset of the status/phase dword, written last. */
#define SPATTEN_CQE_LAST_DW     offsetof(struct spatten_hw_cqe, status)

/* A job no engine took (its SQE could not be read). */
#define SPATTEN_SEQ_NONE        UINT64_MAX

/* Staging buffer: first allocation, and the header of one record. */
#define SPATTEN_STAGE_MIN       4096
typedef struct SpattenStageHdr {
    uint64_t off;           /* byte offset within the operand */
    uint32_t plane;         /* enum spe_plane */
    uint32_t len;           /* bytes of data following the header */
} SpattenStageHdr;

QEMU_BUILD_BUG_ON(sizeof(struct spatten_hw_desc) != SPATTEN_DESC_SIZE);
QEMU_BUILD_BUG_ON(sizeof(struct spatten_hw_cqe) != SPATTEN_CQE_SIZE);
QEMU_BUILD_BUG_ON(SPATTEN_CQE_LAST_DW != 0x3c);
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

typedef struct SpattenState SpattenState;

typedef struct SpattenJob {
    QTAILQ_ENTRY(SpattenJob) next;
    SpattenState *s;
    uint32_t qid;
    uint32_t gen;           /* queue generation at submission */
    uint16_t sq_head;       /* SQ head after consuming this entry */
    bool cancel;            /* atomic: reset or disable, stop early */
    uint16_t status;        /* enum spatten_hw_status */
    int64_t submit_ns;      /* QEMU_CLOCK_VIRTUAL at submission */
    int64_t due_ns;         /* timing=modeled: modeled finish */
    uint64_t seq;           /* order engines took it; SPATTEN_SEQ_NONE */
    bool waiting;           /* counted in SpattenState.nwaiting */
    struct spatten_hw_desc desc;    /* the one copy of the SQE */
    struct spe_job job;
    /* staged writes: SpattenStageHdr + data, repeated */
    uint8_t *stage;
    size_t stage_len;
    size_t stage_cap;
    size_t stage_last;      /* offset of the last header; valid if len */
    uint64_t bytes[SPE_PLANE_COUNT];    /* read per plane */
    uint64_t bytes_written; /* written during the replay */
    uint64_t cycles;
    uint64_t lsb_refetches;
} SpattenJob;

typedef QTAILQ_HEAD(, SpattenJob) SpattenJobList;

typedef struct SpattenQueue {
    /* configuration (guest registers) */
    uint64_t sq_base;
    uint64_t cq_base;
    uint32_t sq_size;
    uint32_t cq_size;
    uint32_t ctrl;
    uint32_t status;
    uint32_t vector;
    /* ring state */
    uint32_t sq_head;
    uint32_t sq_tail;
    uint32_t cq_head;
    uint32_t cq_tail;
    bool cq_phase;
    uint32_t inflight;      /* taken from the SQ, not posted to the CQ */
    uint32_t gen;           /* bumped on reset / disable, under lock */
} SpattenQueue;

typedef struct SpattenEngine {
    SpattenState *s;
    unsigned idx;
    QemuThread thread;
} SpattenEngine;

typedef enum SpattenTiming {
    SPATTEN_TIMING_FAST,
    SPATTEN_TIMING_MODELED,
} SpattenTiming;

struct SpattenState {
    PCIDevice parent_obj;

    MemoryRegion mmio;

    /* properties */
    uint32_t engines;
    uint32_t queues;
    uint32_t queue_depth;
    uint32_t max_context;
    uint32_t max_heads;
    uint32_t dma_bits;
    uint64_t max_job_bytes;     /* 0: derived from the other limits */
    bool msix;
    char *model_name;           /* "full" | "eighth" */
    char *timing_name;          /* "fast" | "modeled" */

    struct spe_caps caps;       /* constant after realize */
    SpattenTiming timing;
    uint64_t stage_limit;       /* effective max-job-bytes */

    /* guest-visible state, BQL */
    uint32_t ctrl;
    uint32_t intx_status;
    uint64_t cnt[SPATTEN_CNT_NUM];
    SpattenQueue q[SPATTEN_MAX_QUEUES];

    /* job lists, protected by lock */
    QemuMutex lock;
    QemuCond cond;
    SpattenJobList work[SPATTEN_MAX_QUEUES];  /* waiting for an engine */
    uint32_t nwork;             /* jobs on the work lists */
    uint32_t rr;                /* next queue an engine looks at */
    SpattenJobList running;     /* on an engine */
    SpattenJobList done;        /* waiting for the bottom half */
    bool stopping;

    uint64_t pick_seq;          /* next SpattenJob.seq, under lock */
    uint32_t nwaiting;          /* modeled: computed, not posted; lock */

    /*
     * timing=modeled, BQL: computed jobs waiting for their turn to be
     * scheduled (by seq), then waiting for their finish time (by due_ns);
     * the modeled engines' finish times.
     */
    SpattenJobList ordered;
    uint64_t model_seq;         /* seq of the next job to schedule */
    SpattenJobList pending;
    QEMUTimer *timer;
    int64_t busy_until[SPATTEN_MAX_ENGINES];

    SpattenEngine *eng;
    uint32_t nthreads;
    QEMUBH *bh;
};

/* ---- Helpers ------------------------------------------------------------ */

static const char *spatten_status_name(unsigned st)
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
    };

    return st < ARRAY_SIZE(names) && names[st] ? names[st] : "?";
}

static void spatten_job_free(SpattenJob *job)
{
    g_free(job->stage);
    g_free(job);
}

/*
 * timing=modeled: engines stop taking jobs while this many computed jobs
 * (and their staged writes) wait for their modeled time, so a guest
 * cannot make the device buffer without bound ahead of the clock.
 */
static bool spatten_throttled(SpattenState *s)
{
    return s->timing == SPATTEN_TIMING_MODELED &&
           s->nwaiting >= 2 * s->engines;
}

/* Free a computed job; give its waiting slot back to the engines. */
static void spatten_job_release(SpattenState *s, SpattenJob *job)
{
    if (job->waiting) {
        qemu_mutex_lock(&s->lock);
        s->nwaiting--;
        qemu_cond_broadcast(&s->cond);
        qemu_mutex_unlock(&s->lock);
    }
    spatten_job_free(job);
}

/* Is [addr, addr + len) reachable with the advertised DMA width? */
static bool spatten_dma_range_ok(uint32_t dma_bits, uint64_t addr,
                                 uint64_t len)
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

static void spatten_update_intx(SpattenState *s)
{
    PCIDevice *pdev = PCI_DEVICE(s);
    bool level = !msix_enabled(pdev) && !msi_enabled(pdev) &&
                 s->intx_status != 0;

    pci_set_irq(pdev, level);
}

static void spatten_raise_irq(SpattenState *s, unsigned qid)
{
    PCIDevice *pdev = PCI_DEVICE(s);

    s->intx_status |= 1u << qid;
    if (msix_enabled(pdev)) {
        trace_spatten_irq(qid, "msix", s->q[qid].vector);
        msix_notify(pdev, s->q[qid].vector);
    } else if (msi_enabled(pdev)) {
        trace_spatten_irq(qid, "msi", 0);
        msi_notify(pdev, 0);
    } else {
        trace_spatten_irq(qid, "intx", 0);
    }
    spatten_update_intx(s);
}

static void spatten_timer_update(SpattenState *s)
{
    SpattenJob *first = QTAILQ_FIRST(&s->pending);

    if (first) {
        timer_mod(s->timer, first->due_ns);
    } else {
        timer_del(s->timer);
    }
}

/*
 * Drop the outstanding work of queue @qid (all queues if @qid < 0): queued,
 * finished-but-unposted and waiting (timing=modeled) jobs are freed,
 * running jobs are cancelled and will be discarded by the bottom half
 * because the generation moved on.  BQL held.
 */
static void spatten_drop_jobs(SpattenState *s, int qid)
{
    SpattenJob *job, *tmp;
    unsigned i;

    qemu_mutex_lock(&s->lock);
    for (i = 0; i < SPATTEN_MAX_QUEUES; i++) {
        if (qid >= 0 && i != (unsigned)qid) {
            continue;
        }
        QTAILQ_FOREACH_SAFE(job, &s->work[i], next, tmp) {
            QTAILQ_REMOVE(&s->work[i], job, next);
            s->nwork--;
            spatten_job_free(job);
        }
    }
    /*
     * Finished jobs (done, ordered) stay where they are: the bottom half
     * discards them by their generation, and they keep the modeled
     * schedule's sequence without gaps.
     */
    QTAILQ_FOREACH(job, &s->running, next) {
        if (qid < 0 || job->qid == (unsigned)qid) {
            qatomic_set(&job->cancel, true);
        }
    }
    for (i = 0; i < s->queues; i++) {
        if (qid < 0 || i == (unsigned)qid) {
            s->q[i].gen++;
        }
    }
    qemu_mutex_unlock(&s->lock);

    if (qid < 0) {
        /* a reset also forgets the engines' modeled backlog */
        memset(s->busy_until, 0, sizeof(s->busy_until));
    }

    QTAILQ_FOREACH_SAFE(job, &s->pending, next, tmp) {
        if (qid < 0 || job->qid == (unsigned)qid) {
            QTAILQ_REMOVE(&s->pending, job, next);
            spatten_job_release(s, job);
        }
    }
    if (s->timer) {
        spatten_timer_update(s);
    }
}

/* Forget queue @qid's configuration and ring state (keeps gen). */
static void spatten_queue_clear(SpattenState *s, unsigned qid)
{
    SpattenQueue *q = &s->q[qid];
    uint32_t gen = q->gen;

    memset(q, 0, sizeof(*q));
    q->gen = gen;
    q->vector = qid;
}

/*
 * Disable queue @qid: its outstanding jobs are dropped and its ring state
 * forgotten; the configuration registers keep their values so the host
 * may re-enable the pair as it is.
 */
static void spatten_queue_disable(SpattenState *s, unsigned qid)
{
    SpattenQueue *q = &s->q[qid];

    trace_spatten_queue_disable(qid);
    spatten_drop_jobs(s, qid);
    q->ctrl = 0;
    q->status = 0;
    q->sq_head = q->sq_tail = 0;
    q->cq_head = q->cq_tail = 0;
    q->cq_phase = true;
    q->inflight = 0;
}

/* Device reset as seen by the guest; BQL held. */
static void spatten_reset_state(SpattenState *s)
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

/* ---- Engine side (worker threads, no BQL) -------------------------------- */

static int spatten_dma_read_raw(void *opaque, uint64_t addr, void *dst,
                                size_t len)
{
    SpattenJob *job = opaque;
    SpattenState *s = job->s;

    if (qatomic_read(&job->cancel)) {
        return -1;
    }
    if (!spatten_dma_range_ok(s->dma_bits, addr, len)) {
        qemu_log_mask(LOG_GUEST_ERROR,
                      "spatten: DMA read 0x%" PRIx64 "+%zu beyond %u bits\n",
                      addr, len, s->dma_bits);
        return -1;
    }
    if (pci_dma_read(&s->parent_obj, addr, dst, len) != MEMTX_OK) {
        qemu_log_mask(LOG_GUEST_ERROR,
                      "spatten: DMA read 0x%" PRIx64 "+%zu failed\n",
                      addr, len);
        return -1;
    }
    return 0;
}

static bool spatten_plane_readable(unsigned plane)
{
    switch (plane) {
    case SPE_PLANE_Q:
    case SPE_PLANE_K_MSB:
    case SPE_PLANE_K_LSB:
    case SPE_PLANE_V:
    case SPE_PLANE_TOK_IMP:
    case SPE_PLANE_TOK_ALIVE:
    case SPE_PLANE_PINNED:
    case SPE_PLANE_HEAD_IMP:
    case SPE_PLANE_HEAD_ALIVE:
        return true;
    }
    return false;
}

static bool spatten_plane_writable(unsigned plane)
{
    switch (plane) {
    case SPE_PLANE_OUT:
    case SPE_PLANE_TOK_IMP:
    case SPE_PLANE_TOK_KEPT:
    case SPE_PLANE_HEAD_IMP:
    case SPE_PLANE_HEAD_KEPT:
        return true;
    }
    return false;
}

/* Bytes of cascade state read: counter BYTES_META. */
static uint64_t spatten_job_meta_bytes(const SpattenJob *job)
{
    return job->bytes[SPE_PLANE_TOK_IMP] + job->bytes[SPE_PLANE_TOK_ALIVE] +
           job->bytes[SPE_PLANE_PINNED] + job->bytes[SPE_PLANE_HEAD_IMP] +
           job->bytes[SPE_PLANE_HEAD_ALIVE];
}

/* Is [off, off + len) inside operand @buf (present)? */
static bool spatten_in_buf(const struct spe_buf *buf, uint64_t off,
                           size_t len)
{
    return buf->len != 0 && off <= buf->len && len <= buf->len - off;
}

static int spatten_engine_read(void *opaque, enum spe_plane plane,
                               uint64_t off, void *dst, size_t len)
{
    SpattenJob *job = opaque;
    const struct spe_buf *buf;
    int st;

    if (qatomic_read(&job->cancel)) {
        return SPATTEN_HW_ERR_ABORTED;
    }
    if (!spatten_plane_readable(plane)) {
        return SPATTEN_HW_ERR_BUFFER;
    }
    if (len == 0) {
        return SPATTEN_HW_OK;
    }
    buf = &job->job.buf[plane];
    if (!spatten_in_buf(buf, off, len)) {
        return SPATTEN_HW_ERR_BUFFER;
    }
    st = spe_buf_read(buf, off, dst, len, spatten_dma_read_raw, job);
    if (st == SPATTEN_HW_OK) {
        job->bytes[plane] += len;
    } else if (qatomic_read(&job->cancel)) {
        st = SPATTEN_HW_ERR_ABORTED;
    }
    return st;
}

/* Make room for @more bytes in the staging buffer, within the limit. */
static bool spatten_stage_reserve(SpattenJob *job, size_t more)
{
    uint64_t limit = job->s->stage_limit;
    size_t need, cap;
    uint8_t *p;

    if (more > limit || job->stage_len > limit - more) {
        return false;
    }
    need = job->stage_len + more;
    if (need <= job->stage_cap) {
        return true;
    }
    cap = MAX(job->stage_cap, SPATTEN_STAGE_MIN);
    while (cap < need) {
        cap = cap > SIZE_MAX / 2 ? SIZE_MAX : cap * 2;
    }
    if (cap > limit) {
        cap = limit;
    }
    p = g_try_realloc(job->stage, cap);
    if (!p) {
        return false;
    }
    job->stage = p;
    job->stage_cap = cap;
    return true;
}

/*
 * The engine's write callback: stage @len bytes for operand @plane at
 * @off.  Nothing reaches guest memory here; the bottom half replays the
 * staged writes once the job has succeeded.
 */
static int spatten_engine_write(void *opaque, enum spe_plane plane,
                                uint64_t off, const void *src, size_t len)
{
    SpattenJob *job = opaque;
    SpattenStageHdr h;

    if (qatomic_read(&job->cancel)) {
        return SPATTEN_HW_ERR_ABORTED;
    }
    if (!spatten_plane_writable(plane)) {
        return SPATTEN_HW_ERR_BUFFER;
    }
    if (len == 0) {
        return SPATTEN_HW_OK;
    }
    if (!spatten_in_buf(&job->job.buf[plane], off, len)) {
        return SPATTEN_HW_ERR_BUFFER;
    }
    /* buffers are below 4 GiB: len fits the header's 32 bits */
    if (job->stage_len) {
        memcpy(&h, job->stage + job->stage_last, sizeof(h));
        if (h.plane == plane && h.off + h.len == off &&
            (uint64_t)h.len + len <= UINT32_MAX) {
            /* continues the last record: merge */
            if (!spatten_stage_reserve(job, len)) {
                return SPATTEN_HW_ERR_NO_MEMORY;
            }
            memcpy(job->stage + job->stage_len, src, len);
            job->stage_len += len;
            h.len += len;
            memcpy(job->stage + job->stage_last, &h, sizeof(h));
            return SPATTEN_HW_OK;
        }
    }
    if (!spatten_stage_reserve(job, sizeof(h) + len)) {
        return SPATTEN_HW_ERR_NO_MEMORY;
    }
    h.off = off;
    h.plane = plane;
    h.len = len;
    job->stage_last = job->stage_len;
    memcpy(job->stage + job->stage_len, &h, sizeof(h));
    memcpy(job->stage + job->stage_len + sizeof(h), src, len);
    job->stage_len += sizeof(h) + len;
    return SPATTEN_HW_OK;
}

static void spatten_job_execute(SpattenState *s, SpattenJob *job)
{
    struct spe_mem mem = {
        .read = spatten_engine_read,
        .write = spatten_engine_write,
        .opaque = job,
    };
    struct spe_result res;
    int st;

    if (qatomic_read(&job->cancel)) {
        job->status = SPATTEN_HW_ERR_ABORTED;
        return;
    }
    st = spe_desc_decode(&job->desc, &s->caps, &job->job);
    if (st != SPATTEN_HW_OK) {
        if (st < 0 || st > SPATTEN_HW_STATUS_MAX) {
            st = SPATTEN_HW_ERR_RESERVED;   /* engine contract broken */
        }
        trace_spatten_desc_invalid(job->qid, le32_to_cpu(job->desc.tag), st,
                                   spatten_status_name(st));
        job->status = st;
        return;
    }
    memset(&res, 0, sizeof(res));
    st = spe_run(&job->job, &s->caps, &mem, &res);
    if (st < 0 || st > SPATTEN_HW_STATUS_MAX) {
        st = SPATTEN_HW_ERR_NO_MEMORY;  /* engine contract broken */
    }
    job->status = st;
    job->cycles = st == SPATTEN_HW_OK ? res.cycles : 0;
    job->lsb_refetches = res.lsb_refetches;
    if (st != SPATTEN_HW_OK) {
        /* a failed job writes nothing: drop what was staged */
        g_free(job->stage);
        job->stage = NULL;
        job->stage_len = job->stage_cap = 0;
        if (st != SPATTEN_HW_ERR_ABORTED) {
            trace_spatten_job_failed(job->qid, le32_to_cpu(job->desc.tag),
                                     st, spatten_status_name(st));
        }
    }
}

/* Next job, round-robin over the queues with work; lock held. */
static SpattenJob *spatten_pick(SpattenState *s)
{
    unsigned i;

    for (i = 0; i < s->queues; i++) {
        unsigned qid = (s->rr + i) % s->queues;
        SpattenJob *job = QTAILQ_FIRST(&s->work[qid]);

        if (job) {
            QTAILQ_REMOVE(&s->work[qid], job, next);
            s->nwork--;
            s->rr = (qid + 1) % s->queues;
            return job;
        }
    }
    return NULL;
}

static void *spatten_worker(void *opaque)
{
    SpattenEngine *eng = opaque;
    SpattenState *s = eng->s;
    SpattenJob *job;

    rcu_register_thread();
    qemu_mutex_lock(&s->lock);
    for (;;) {
        while (!s->stopping && (s->nwork == 0 || spatten_throttled(s))) {
            qemu_cond_wait(&s->cond, &s->lock);
        }
        if (s->stopping) {
            break;
        }
        job = spatten_pick(s);
        if (!job) {
            continue;
        }
        job->seq = s->pick_seq++;
        QTAILQ_INSERT_TAIL(&s->running, job, next);
        qemu_mutex_unlock(&s->lock);

        trace_spatten_job_start(eng->idx, job->qid,
                                le32_to_cpu(job->desc.tag));
        spatten_job_execute(s, job);
        trace_spatten_job_done(job->qid, le32_to_cpu(job->desc.tag),
                               job->status, job->cycles);

        qemu_mutex_lock(&s->lock);
        QTAILQ_REMOVE(&s->running, job, next);
        if (s->timing == SPATTEN_TIMING_MODELED) {
            job->waiting = true;
            s->nwaiting++;
        }
        QTAILQ_INSERT_TAIL(&s->done, job, next);
        qemu_bh_schedule(s->bh);
    }
    qemu_mutex_unlock(&s->lock);
    rcu_unregister_thread();
    return NULL;
}

/* ---- Completion side (bottom half, BQL) ---------------------------------- */

static int spatten_bh_dma_read(void *opaque, uint64_t addr, void *dst,
                               size_t len)
{
    SpattenJob *job = opaque;
    SpattenState *s = job->s;

    if (!spatten_dma_range_ok(s->dma_bits, addr, len) ||
        pci_dma_read(&s->parent_obj, addr, dst, len) != MEMTX_OK) {
        qemu_log_mask(LOG_GUEST_ERROR,
                      "spatten: DMA read 0x%" PRIx64 "+%zu failed\n",
                      addr, len);
        return -1;
    }
    return 0;
}

static int spatten_bh_dma_write(void *opaque, uint64_t addr, const void *src,
                                size_t len)
{
    SpattenJob *job = opaque;
    SpattenState *s = job->s;

    if (!spatten_dma_range_ok(s->dma_bits, addr, len) ||
        pci_dma_write(&s->parent_obj, addr, src, len) != MEMTX_OK) {
        qemu_log_mask(LOG_GUEST_ERROR,
                      "spatten: DMA write 0x%" PRIx64 "+%zu failed\n",
                      addr, len);
        return -1;
    }
    job->bytes_written += len;
    return 0;
}

/*
 * Replay the staged writes of a successful job, in the order the engine
 * made them.  Returns the status; *@gone is set if the queue was reset or
 * disabled meanwhile (the job must then be discarded).
 */
static int spatten_replay(SpattenState *s, SpattenJob *job, bool *gone)
{
    SpattenQueue *q = &s->q[job->qid];
    size_t pos = 0;

    *gone = false;
    while (pos < job->stage_len) {
        SpattenStageHdr h;
        int st;

        memcpy(&h, job->stage + pos, sizeof(h));
        pos += sizeof(h);
        st = spe_buf_write(&job->job.buf[h.plane], h.off, job->stage + pos,
                           h.len, spatten_bh_dma_read, spatten_bh_dma_write,
                           job);
        if (job->gen != q->gen) {
            *gone = true;
            return SPATTEN_HW_ERR_ABORTED;
        }
        if (st != SPATTEN_HW_OK) {
            if (st < 0 || st > SPATTEN_HW_STATUS_MAX) {
                st = SPATTEN_HW_ERR_DMA_WRITE;
            }
            trace_spatten_job_failed(job->qid, le32_to_cpu(job->desc.tag),
                                     st, spatten_status_name(st));
            return st;
        }
        pos += h.len;
    }
    return SPATTEN_HW_OK;
}

static void spatten_post(SpattenState *s, SpattenJob *job)
{
    PCIDevice *pdev = PCI_DEVICE(s);
    SpattenQueue *q = &s->q[job->qid];
    struct spatten_hw_cqe cqe;
    uint16_t status = job->status;
    uint64_t addr;
    MemTxResult r;
    unsigned i;

    if (job->gen != q->gen) {
        /* reset or disabled since submission: discard */
        trace_spatten_discard(job->qid, le32_to_cpu(job->desc.tag));
        return;
    }
    if (status == SPATTEN_HW_OK && job->stage_len) {
        bool gone;

        status = spatten_replay(s, job, &gone);
        if (gone) {
            trace_spatten_discard(job->qid, le32_to_cpu(job->desc.tag));
            return;
        }
    }

    memset(&cqe, 0, sizeof(cqe));
    cqe.bytes_q = cpu_to_le64(job->bytes[SPE_PLANE_Q]);
    cqe.bytes_k_msb = cpu_to_le64(job->bytes[SPE_PLANE_K_MSB]);
    cqe.bytes_k_lsb = cpu_to_le64(job->bytes[SPE_PLANE_K_LSB]);
    cqe.bytes_v = cpu_to_le64(job->bytes[SPE_PLANE_V]);
    cqe.bytes_written = cpu_to_le64(job->bytes_written);
    cqe.cycles = cpu_to_le64(job->cycles);
    cqe.lsb_refetches = cpu_to_le32(MIN(job->lsb_refetches, UINT32_MAX));
    cqe.tag = job->desc.tag;    /* already little-endian */
    cqe.sq_head = cpu_to_le16(job->sq_head);
    cqe.sq_id = cpu_to_le16(job->qid);
    cqe.status = cpu_to_le16(status);
    cqe.flags = cpu_to_le16(q->cq_phase ? SPATTEN_CQE_F_PHASE : 0);

    addr = q->cq_base + (uint64_t)q->cq_tail * SPATTEN_CQE_SIZE;
    trace_spatten_complete(job->qid, le32_to_cpu(job->desc.tag), status,
                           q->cq_tail, q->cq_phase);
    r = pci_dma_write(pdev, addr, &cqe, SPATTEN_CQE_LAST_DW);
    if (r == MEMTX_OK) {
        r = pci_dma_write(pdev, addr + SPATTEN_CQE_LAST_DW,
                          (uint8_t *)&cqe + SPATTEN_CQE_LAST_DW,
                          SPATTEN_CQE_SIZE - SPATTEN_CQE_LAST_DW);
    }
    if (job->gen != q->gen) {
        return;
    }
    if (r != MEMTX_OK) {
        qemu_log_mask(LOG_GUEST_ERROR,
                      "spatten: queue %u: CQE write at 0x%" PRIx64
                      " failed\n", job->qid, addr);
        q->status |= SPATTEN_QSTS_ERROR;
        if (status == SPATTEN_HW_OK) {
            status = SPATTEN_HW_ERR_DMA_WRITE;  /* counted as an error */
        }
    }

    if (++q->cq_tail == q->cq_size) {
        q->cq_tail = 0;
        q->cq_phase = !q->cq_phase;
    }
    q->inflight--;

    s->cnt[status == SPATTEN_HW_OK ? SPATTEN_CNT_JOBS_OK :
           SPATTEN_CNT_JOBS_ERR]++;
    for (i = 0; i < 4; i++) {
        s->cnt[SPATTEN_CNT_BYTES_Q + i] += job->bytes[SPE_PLANE_Q + i];
    }
    s->cnt[SPATTEN_CNT_BYTES_META] += spatten_job_meta_bytes(job);
    s->cnt[SPATTEN_CNT_BYTES_WRITTEN] += job->bytes_written;
    s->cnt[SPATTEN_CNT_LSB_REFETCHES] += job->lsb_refetches;
    s->cnt[SPATTEN_CNT_CYCLES] += job->cycles;

    spatten_raise_irq(s, job->qid);
}

/* timing=modeled: keep @job until its modeled finish; sorted, stable. */
static void spatten_pending_insert(SpattenState *s, SpattenJob *job)
{
    SpattenJob *it;

    QTAILQ_FOREACH(it, &s->pending, next) {
        if (it->due_ns > job->due_ns) {
            QTAILQ_INSERT_BEFORE(it, job, next);
            return;
        }
    }
    QTAILQ_INSERT_TAIL(&s->pending, job, next);
}

/*
 * timing=modeled: give @job its modeled finish.  Jobs are scheduled in the
 * order the engines took them (seq); each goes to the modeled engine that
 * is free first (the lowest-numbered on a tie) and starts at its
 * submission time or when that engine finishes its previous job,
 * whichever is later: an engine is a pipeline that runs one job at a time.
 */
static void spatten_model_schedule(SpattenState *s, SpattenJob *job)
{
    unsigned i, e = 0;
    int64_t start;

    for (i = 1; i < s->engines; i++) {
        if (s->busy_until[i] < s->busy_until[e]) {
            e = i;
        }
    }
    start = MAX(job->submit_ns, s->busy_until[e]);
    job->due_ns = job->cycles > (uint64_t)(INT64_MAX - start) ?
                  INT64_MAX : start + (int64_t)job->cycles;
    s->busy_until[e] = job->due_ns;
}

/* A computed job, in seq order (timing=modeled) or as it comes (fast). */
static void spatten_finish(SpattenState *s, SpattenJob *job)
{
    int64_t now;

    if (s->timing == SPATTEN_TIMING_MODELED &&
        job->gen == s->q[job->qid].gen) {
        spatten_model_schedule(s, job);
        now = qemu_clock_get_ns(QEMU_CLOCK_VIRTUAL);
        if (job->due_ns > now) {
            trace_spatten_job_wait(job->qid, le32_to_cpu(job->desc.tag),
                                   job->due_ns, now);
            spatten_pending_insert(s, job);
            return;
        }
    }
    spatten_post(s, job);
    spatten_job_release(s, job);
}

static void spatten_bh(void *opaque)
{
    SpattenState *s = opaque;
    SpattenJob *job, *it;
    int64_t now;

    for (;;) {
        qemu_mutex_lock(&s->lock);
        job = QTAILQ_FIRST(&s->done);
        if (job) {
            QTAILQ_REMOVE(&s->done, job, next);
        }
        qemu_mutex_unlock(&s->lock);
        if (!job) {
            break;
        }
        if (s->timing != SPATTEN_TIMING_MODELED ||
            job->seq == SPATTEN_SEQ_NONE) {
            spatten_finish(s, job);
            continue;
        }
        /* modeled: hold it until every job taken before it is computed */
        QTAILQ_FOREACH(it, &s->ordered, next) {
            if (it->seq > job->seq) {
                QTAILQ_INSERT_BEFORE(it, job, next);
                break;
            }
        }
        if (!it) {
            QTAILQ_INSERT_TAIL(&s->ordered, job, next);
        }
        while ((job = QTAILQ_FIRST(&s->ordered)) &&
               job->seq == s->model_seq) {
            QTAILQ_REMOVE(&s->ordered, job, next);
            s->model_seq++;
            spatten_finish(s, job);
        }
    }

    /* timing=modeled: post what is due, wake up for the rest */
    now = qemu_clock_get_ns(QEMU_CLOCK_VIRTUAL);
    while ((job = QTAILQ_FIRST(&s->pending)) && job->due_ns <= now) {
        QTAILQ_REMOVE(&s->pending, job, next);
        spatten_post(s, job);
        spatten_job_release(s, job);
    }
    spatten_timer_update(s);
}

/* The modeled finish of the first waiting job: post from the bottom half. */
static void spatten_timer_cb(void *opaque)
{
    SpattenState *s = opaque;

    qemu_bh_schedule(s->bh);
}

/* ---- Submission side (vCPU thread, BQL) ---------------------------------- */

static uint32_t spatten_ring_used(uint32_t head, uint32_t tail, uint32_t size)
{
    return (tail + size - head) % size;
}

static void spatten_process_sq(SpattenState *s, unsigned qid)
{
    PCIDevice *pdev = PCI_DEVICE(s);
    SpattenQueue *q = &s->q[qid];

    if (!(s->ctrl & SPATTEN_CTRL_ENABLE) ||
        !(q->status & SPATTEN_QSTS_ENABLED)) {
        return;
    }
    while (q->sq_head != q->sq_tail) {
        uint32_t used = spatten_ring_used(q->cq_head, q->cq_tail, q->cq_size);
        SpattenJob *job;
        MemTxResult r;

        if (used + q->inflight >= q->cq_size - 1) {
            break;      /* no room for the completion yet */
        }
        job = g_new0(SpattenJob, 1);
        job->s = s;
        job->qid = qid;
        job->gen = q->gen;
        job->submit_ns = qemu_clock_get_ns(QEMU_CLOCK_VIRTUAL);
        job->seq = SPATTEN_SEQ_NONE;
        r = pci_dma_read(pdev, q->sq_base +
                         (uint64_t)q->sq_head * SPATTEN_DESC_SIZE,
                         &job->desc, SPATTEN_DESC_SIZE);
        q->sq_head = (q->sq_head + 1) % q->sq_size;
        job->sq_head = q->sq_head;
        q->inflight++;

        qemu_mutex_lock(&s->lock);
        if (r != MEMTX_OK) {
            qemu_log_mask(LOG_GUEST_ERROR,
                          "spatten: queue %u: SQE read failed\n", qid);
            memset(&job->desc, 0, sizeof(job->desc));
            job->status = SPATTEN_HW_ERR_DMA_READ;
            trace_spatten_job_failed(qid, 0, job->status,
                                     spatten_status_name(job->status));
            QTAILQ_INSERT_TAIL(&s->done, job, next);
            qemu_bh_schedule(s->bh);
        } else {
            trace_spatten_submit(qid, job->sq_head,
                                 le32_to_cpu(job->desc.tag));
            QTAILQ_INSERT_TAIL(&s->work[qid], job, next);
            s->nwork++;
            qemu_cond_signal(&s->cond);
        }
        qemu_mutex_unlock(&s->lock);
    }
}

static void spatten_process_all(SpattenState *s)
{
    unsigned i;

    for (i = 0; i < s->queues; i++) {
        spatten_process_sq(s, i);
    }
}

/* ---- Registers ----------------------------------------------------------- */

static void spatten_queue_enable(SpattenState *s, unsigned qid)
{
    SpattenQueue *q = &s->q[qid];
    const char *why = NULL;

    if (q->sq_base % SPATTEN_RING_ALIGN || q->cq_base % SPATTEN_RING_ALIGN) {
        why = "ring base not aligned";
    } else if (q->sq_size < 2 || q->sq_size > s->queue_depth ||
               q->cq_size < 2 || q->cq_size > s->queue_depth) {
        why = "ring size out of range";
    } else if (!spatten_dma_range_ok(s->dma_bits, q->sq_base,
                                     (uint64_t)q->sq_size *
                                     SPATTEN_DESC_SIZE) ||
               !spatten_dma_range_ok(s->dma_bits, q->cq_base,
                                     (uint64_t)q->cq_size *
                                     SPATTEN_CQE_SIZE)) {
        why = "ring beyond the DMA address width";
    } else if (q->vector >= s->queues) {
        why = "bad interrupt vector";
    }
    if (why) {
        qemu_log_mask(LOG_GUEST_ERROR, "spatten: queue %u: %s\n", qid, why);
        trace_spatten_queue_error(qid, why);
        q->status = SPATTEN_QSTS_ERROR;
        return;
    }
    trace_spatten_queue_enable(qid, q->sq_base, q->sq_size, q->cq_base,
                               q->cq_size);
    q->sq_head = q->sq_tail = 0;
    q->cq_head = q->cq_tail = 0;
    q->cq_phase = true;
    q->inflight = 0;
    q->ctrl = SPATTEN_QCTRL_ENABLE;
    q->status = SPATTEN_QSTS_ENABLED;
}

static bool spatten_queue_read(SpattenState *s, unsigned qid, hwaddr reg,
                               uint64_t *val)
{
    SpattenQueue *q = &s->q[qid];

    switch (reg) {
    case SPATTEN_QREG_SQ_BASE_LO:
        *val = (uint32_t)q->sq_base;
        break;
    case SPATTEN_QREG_SQ_BASE_HI:
        *val = q->sq_base >> 32;
        break;
    case SPATTEN_QREG_CQ_BASE_LO:
        *val = (uint32_t)q->cq_base;
        break;
    case SPATTEN_QREG_CQ_BASE_HI:
        *val = q->cq_base >> 32;
        break;
    case SPATTEN_QREG_SQ_SIZE:
        *val = q->sq_size;
        break;
    case SPATTEN_QREG_CQ_SIZE:
        *val = q->cq_size;
        break;
    case SPATTEN_QREG_CTRL:
        *val = q->ctrl;
        break;
    case SPATTEN_QREG_STATUS:
        *val = q->status;
        break;
    case SPATTEN_QREG_IRQ_VECTOR:
        *val = q->vector;
        break;
    default:
        return false;
    }
    return true;
}

static bool spatten_queue_write(SpattenState *s, unsigned qid, hwaddr reg,
                                uint32_t val)
{
    SpattenQueue *q = &s->q[qid];
    bool enabled = q->status & SPATTEN_QSTS_ENABLED;

    switch (reg) {
    case SPATTEN_QREG_SQ_BASE_LO:
    case SPATTEN_QREG_SQ_BASE_HI:
    case SPATTEN_QREG_CQ_BASE_LO:
    case SPATTEN_QREG_CQ_BASE_HI:
    case SPATTEN_QREG_SQ_SIZE:
    case SPATTEN_QREG_CQ_SIZE:
    case SPATTEN_QREG_IRQ_VECTOR:
        if (enabled) {
            qemu_log_mask(LOG_GUEST_ERROR,
                          "spatten: queue %u: config register 0x%02x "
                          "written while enabled, ignored\n",
                          qid, (unsigned)reg);
            return true;
        }
        break;
    case SPATTEN_QREG_CTRL:
    case SPATTEN_QREG_STATUS:
        break;
    default:
        return false;
    }

    switch (reg) {
    case SPATTEN_QREG_SQ_BASE_LO:
        q->sq_base = deposit64(q->sq_base, 0, 32, val);
        break;
    case SPATTEN_QREG_SQ_BASE_HI:
        q->sq_base = deposit64(q->sq_base, 32, 32, val);
        break;
    case SPATTEN_QREG_CQ_BASE_LO:
        q->cq_base = deposit64(q->cq_base, 0, 32, val);
        break;
    case SPATTEN_QREG_CQ_BASE_HI:
        q->cq_base = deposit64(q->cq_base, 32, 32, val);
        break;
    case SPATTEN_QREG_SQ_SIZE:
        q->sq_size = val;
        break;
    case SPATTEN_QREG_CQ_SIZE:
        q->cq_size = val;
        break;
    case SPATTEN_QREG_IRQ_VECTOR:
        if (val >= s->queues) {
            qemu_log_mask(LOG_GUEST_ERROR,
                          "spatten: queue %u: vector %u out of range\n",
                          qid, val);
            q->status |= SPATTEN_QSTS_ERROR;
            break;
        }
        q->vector = val;
        break;
    case SPATTEN_QREG_CTRL:
        if (val & ~SPATTEN_QCTRL_ENABLE) {
            qemu_log_mask(LOG_GUEST_ERROR,
                          "spatten: queue %u: unknown QCTRL bits 0x%x\n",
                          qid, val & ~SPATTEN_QCTRL_ENABLE);
        }
        if ((val & SPATTEN_QCTRL_ENABLE) && !enabled) {
            spatten_queue_enable(s, qid);
        } else if (!(val & SPATTEN_QCTRL_ENABLE) && enabled) {
            spatten_queue_disable(s, qid);
        } else if (!(val & SPATTEN_QCTRL_ENABLE)) {
            q->status &= ~SPATTEN_QSTS_ERROR;   /* acknowledge an error */
        }
        break;
    case SPATTEN_QREG_STATUS:
        qemu_log_mask(LOG_GUEST_ERROR,
                      "spatten: queue %u: write to read-only STATUS\n", qid);
        break;
    }
    return true;
}

static void spatten_doorbell(SpattenState *s, unsigned qid, bool cq,
                             uint32_t val)
{
    SpattenQueue *q = &s->q[qid];

    if (!(q->status & SPATTEN_QSTS_ENABLED)) {
        qemu_log_mask(LOG_GUEST_ERROR,
                      "spatten: queue %u: doorbell while disabled\n", qid);
        return;
    }
    if (!cq) {
        if (val >= q->sq_size) {
            qemu_log_mask(LOG_GUEST_ERROR,
                          "spatten: queue %u: SQ tail %u >= size %u\n",
                          qid, val, q->sq_size);
            q->status |= SPATTEN_QSTS_ERROR;
            return;
        }
        q->sq_tail = val;
    } else {
        if (val >= q->cq_size ||
            spatten_ring_used(q->cq_head, val, q->cq_size) >
            spatten_ring_used(q->cq_head, q->cq_tail, q->cq_size)) {
            qemu_log_mask(LOG_GUEST_ERROR,
                          "spatten: queue %u: bad CQ head %u "
                          "(head %u tail %u size %u)\n",
                          qid, val, q->cq_head, q->cq_tail, q->cq_size);
            q->status |= SPATTEN_QSTS_ERROR;
            return;
        }
        q->cq_head = val;
    }
    spatten_process_sq(s, qid);
}

static void spatten_ctrl_write(SpattenState *s, uint32_t val)
{
    if (val & ~(SPATTEN_CTRL_ENABLE | SPATTEN_CTRL_RESET)) {
        qemu_log_mask(LOG_GUEST_ERROR, "spatten: unknown CTRL bits 0x%x\n",
                      val & ~(SPATTEN_CTRL_ENABLE | SPATTEN_CTRL_RESET));
    }
    if (val & SPATTEN_CTRL_RESET) {
        spatten_reset_state(s);
        return;
    }
    if ((val & SPATTEN_CTRL_ENABLE) && !(s->ctrl & SPATTEN_CTRL_ENABLE)) {
        s->ctrl = SPATTEN_CTRL_ENABLE;
        spatten_process_all(s);
    } else if (!(val & SPATTEN_CTRL_ENABLE)) {
        /* stop taking new entries; jobs in flight still complete */
        s->ctrl = 0;
    }
}

static bool spatten_reg_read(SpattenState *s, hwaddr addr, uint64_t *val)
{
    switch (addr) {
    case SPATTEN_REG_ID:
        *val = SPATTEN_HW_ID;
        return true;
    case SPATTEN_REG_VERSION:
        *val = SPATTEN_HW_VERSION;
        return true;
    case SPATTEN_REG_CAP_ENGINES:
        *val = s->engines;
        return true;
    case SPATTEN_REG_CAP_QUEUES:
        *val = s->queues;
        return true;
    case SPATTEN_REG_CAP_QUEUE_DEPTH:
        *val = s->queue_depth;
        return true;
    case SPATTEN_REG_CAP_MAX_CONTEXT:
        *val = s->caps.max_context;
        return true;
    case SPATTEN_REG_CAP_MAX_HEADS:
        *val = s->caps.max_heads;
        return true;
    case SPATTEN_REG_CAP_HEAD_DIMS:
        *val = s->caps.head_dims;
        return true;
    case SPATTEN_REG_CAP_FORMATS:
        *val = s->caps.formats;
        return true;
    case SPATTEN_REG_CAP_SPLITS:
        *val = s->caps.splits;
        return true;
    case SPATTEN_REG_CAP_FEATURES:
        *val = s->caps.features;
        return true;
    case SPATTEN_REG_CAP_DMA_BITS:
        *val = s->dma_bits;
        return true;
    case SPATTEN_REG_CAP_DESC_SIZE:
        *val = SPATTEN_DESC_SIZE;
        return true;
    case SPATTEN_REG_CTRL:
        *val = s->ctrl;
        return true;
    case SPATTEN_REG_STATUS:
        *val = (s->ctrl & SPATTEN_CTRL_ENABLE) ? SPATTEN_STS_READY : 0;
        return true;
    case SPATTEN_REG_INTX_STATUS:
        *val = s->intx_status;
        return true;
    }

    if (addr >= SPATTEN_REG_CNT_BASE &&
        addr < SPATTEN_REG_CNT(SPATTEN_CNT_NUM)) {
        unsigned n = (addr - SPATTEN_REG_CNT_BASE) / 8;

        *val = (addr & 4) ? s->cnt[n] >> 32 : (uint32_t)s->cnt[n];
        return true;
    }
    if (addr >= SPATTEN_REG_QUEUE_BASE &&
        addr < SPATTEN_REG_Q(s->queues, 0)) {
        unsigned qid = (addr - SPATTEN_REG_QUEUE_BASE) /
                       SPATTEN_REG_QUEUE_STRIDE;

        return spatten_queue_read(s, qid, (addr - SPATTEN_REG_QUEUE_BASE) %
                                  SPATTEN_REG_QUEUE_STRIDE, val);
    }
    if (addr >= SPATTEN_REG_DB_BASE &&
        addr < SPATTEN_REG_SQ_TAIL_DB(s->queues)) {
        *val = 0;   /* doorbells read as zero */
        return true;
    }
    return false;
}

static bool spatten_is_64bit_reg(SpattenState *s, hwaddr addr)
{
    if (addr >= SPATTEN_REG_CNT_BASE &&
        addr < SPATTEN_REG_CNT(SPATTEN_CNT_NUM)) {
        return (addr & 7) == 0;
    }
    if (addr >= SPATTEN_REG_QUEUE_BASE &&
        addr < SPATTEN_REG_Q(s->queues, 0)) {
        hwaddr reg = (addr - SPATTEN_REG_QUEUE_BASE) %
                     SPATTEN_REG_QUEUE_STRIDE;

        return reg == SPATTEN_QREG_SQ_BASE_LO ||
               reg == SPATTEN_QREG_CQ_BASE_LO;
    }
    return false;
}

static uint64_t spatten_mmio_read_reg(void *opaque, hwaddr addr,
                                      unsigned size)
{
    SpattenState *s = opaque;
    uint64_t lo = 0, hi = 0;

    if (size == 8) {
        if (!spatten_is_64bit_reg(s, addr)) {
            qemu_log_mask(LOG_GUEST_ERROR,
                          "spatten: 8-byte read of 32-bit register 0x%"
                          HWADDR_PRIx "\n", addr);
            return 0;
        }
        spatten_reg_read(s, addr, &lo);
        spatten_reg_read(s, addr + 4, &hi);
        return (hi << 32) | (uint32_t)lo;
    }
    if (size != 4 || !spatten_reg_read(s, addr, &lo)) {
        qemu_log_mask(LOG_GUEST_ERROR,
                      "spatten: read of unknown register 0x%" HWADDR_PRIx
                      " size %u\n", addr, size);
        return 0;
    }
    return (uint32_t)lo;
}

static void spatten_reg_write(SpattenState *s, hwaddr addr, uint32_t val)
{
    switch (addr) {
    case SPATTEN_REG_CTRL:
        spatten_ctrl_write(s, val);
        return;
    case SPATTEN_REG_INTX_STATUS:
        s->intx_status &= ~val;
        spatten_update_intx(s);
        return;
    case SPATTEN_REG_ID ... SPATTEN_REG_CAP_DESC_SIZE:
    case SPATTEN_REG_STATUS:
        qemu_log_mask(LOG_GUEST_ERROR,
                      "spatten: write to read-only register 0x%"
                      HWADDR_PRIx "\n", addr);
        return;
    }

    if (addr >= SPATTEN_REG_CNT_BASE &&
        addr < SPATTEN_REG_CNT(SPATTEN_CNT_NUM)) {
        qemu_log_mask(LOG_GUEST_ERROR,
                      "spatten: write to read-only counter 0x%"
                      HWADDR_PRIx "\n", addr);
        return;
    }
    if (addr >= SPATTEN_REG_QUEUE_BASE &&
        addr < SPATTEN_REG_Q(s->queues, 0)) {
        unsigned qid = (addr - SPATTEN_REG_QUEUE_BASE) /
                       SPATTEN_REG_QUEUE_STRIDE;

        if (spatten_queue_write(s, qid, (addr - SPATTEN_REG_QUEUE_BASE) %
                                SPATTEN_REG_QUEUE_STRIDE, val)) {
            return;
        }
    } else if (addr >= SPATTEN_REG_DB_BASE &&
               addr < SPATTEN_REG_SQ_TAIL_DB(s->queues)) {
        unsigned qid = (addr - SPATTEN_REG_DB_BASE) / SPATTEN_REG_DB_STRIDE;

        spatten_doorbell(s, qid, addr & 4, val);
        return;
    }
    qemu_log_mask(LOG_GUEST_ERROR,
                  "spatten: write to unknown register 0x%" HWADDR_PRIx
                  " value 0x%x, ignored\n", addr, val);
}

static void spatten_mmio_write(void *opaque, hwaddr addr, uint64_t val,
                               unsigned size)
{
    SpattenState *s = opaque;

    trace_spatten_mmio_write(addr, size, val);
    if (size == 8) {
        if (!spatten_is_64bit_reg(s, addr) ||
            addr < SPATTEN_REG_QUEUE_BASE) {
            qemu_log_mask(LOG_GUEST_ERROR,
                          "spatten: 8-byte write to 0x%" HWADDR_PRIx
                          " ignored\n", addr);
            return;
        }
        spatten_reg_write(s, addr, (uint32_t)val);
        spatten_reg_write(s, addr + 4, val >> 32);
        return;
    }
    if (size != 4) {
        qemu_log_mask(LOG_GUEST_ERROR,
                      "spatten: %u-byte write to 0x%" HWADDR_PRIx
                      " ignored\n", size, addr);
        return;
    }
    spatten_reg_write(s, addr, val);
}

static uint64_t spatten_mmio_read(void *opaque, hwaddr addr, unsigned size)
{
    uint64_t val = spatten_mmio_read_reg(opaque, addr, size);

    trace_spatten_mmio_read(addr, size, val);
    return val;
}

static const MemoryRegionOps spatten_mmio_ops = {
    .read = spatten_mmio_read,
    .write = spatten_mmio_write,
    .endianness = DEVICE_LITTLE_ENDIAN,
    .valid = {
        .min_access_size = 4,
        .max_access_size = 8,
    },
    .impl = {
        .min_access_size = 4,
        .max_access_size = 8,
    },
};

/* ---- PCI / QOM glue ---------------------------------------------------- */

static void spatten_write_config(PCIDevice *pdev, uint32_t addr, uint32_t val,
                                 int len)
{
    pci_default_write_config(pdev, addr, val, len);
    pcie_cap_flr_write_config(pdev, addr, val, len);
    /* MSI/MSI-X enable may have changed: recompute the INTx level. */
    spatten_update_intx(SPATTEN(pdev));
}

/*
 * Default of max-job-bytes: everything the largest valid job can write
 * (output, token and head importance, kept lists) plus a header for every
 * output row (rows of pruned queries or heads are not contiguous) and
 * slack.
 */
static uint64_t spatten_default_stage_limit(const SpattenState *s)
{
    uint64_t rows = (uint64_t)s->max_heads * s->max_context;
    uint64_t data = rows * SPATTEN_MAX_HEAD_DIM * 2 +
                    (uint64_t)s->max_context *
                    (SPATTEN_IMP_BYTES + SPATTEN_LIST_BYTES) +
                    (uint64_t)s->max_heads *
                    (SPATTEN_IMP_BYTES + SPATTEN_LIST_BYTES);

    return data + (rows + 16) * sizeof(SpattenStageHdr) + 65536;
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
    if (!s->model_name || !strcmp(s->model_name, "full")) {
        s->caps.model = spe_model_full();
    } else if (!strcmp(s->model_name, "eighth")) {
        s->caps.model = spe_model_eighth();
    } else {
        error_setg(errp, "spatten: model=%s: expected 'full' or 'eighth'",
                   s->model_name);
        return false;
    }
    if (!s->timing_name || !strcmp(s->timing_name, "fast")) {
        s->timing = SPATTEN_TIMING_FAST;
    } else if (!strcmp(s->timing_name, "modeled")) {
        s->timing = SPATTEN_TIMING_MODELED;
    } else {
        error_setg(errp, "spatten: timing=%s: expected 'fast' or 'modeled'",
                   s->timing_name);
        return false;
    }
    s->stage_limit = s->max_job_bytes ? s->max_job_bytes :
                     spatten_default_stage_limit(s);
    if (s->stage_limit > SIZE_MAX) {
        s->stage_limit = SIZE_MAX;
    }
    return true;
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
    s->caps.max_context = s->max_context;
    s->caps.max_heads = s->max_heads;
    s->caps.head_dims = SPATTEN_HEAD_DIMS;
    s->caps.formats = SPATTEN_FORMATS;
    s->caps.splits = SPATTEN_SPLITS;
    s->caps.features = SPATTEN_FEATURES;
    s->caps.dma_bits = s->dma_bits;

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

    qemu_mutex_init(&s->lock);
    qemu_cond_init(&s->cond);
    for (i = 0; i < SPATTEN_MAX_QUEUES; i++) {
        QTAILQ_INIT(&s->work[i]);
    }
    s->nwork = 0;
    s->rr = 0;
    QTAILQ_INIT(&s->running);
    QTAILQ_INIT(&s->done);
    QTAILQ_INIT(&s->pending);
    QTAILQ_INIT(&s->ordered);
    s->pick_seq = 0;
    s->nwaiting = 0;
    s->model_seq = 0;
    memset(s->busy_until, 0, sizeof(s->busy_until));
    s->stopping = false;
    s->bh = qemu_bh_new_guarded(spatten_bh, s,
                                &DEVICE(pdev)->mem_reentrancy_guard);
    s->timer = timer_new_ns(QEMU_CLOCK_VIRTUAL, spatten_timer_cb, s);
    for (i = 0; i < SPATTEN_MAX_QUEUES; i++) {
        spatten_queue_clear(s, i);
    }

    s->eng = g_new0(SpattenEngine, s->engines);
    for (i = 0; i < s->engines; i++) {
        s->eng[i].s = s;
        s->eng[i].idx = i;
        qemu_thread_create(&s->eng[i].thread, "spatten-engine",
                           spatten_worker, &s->eng[i], QEMU_THREAD_JOINABLE);
    }
    s->nthreads = s->engines;
    return;

fail_msi:
    msi_uninit(pdev);
fail_pcie:
    pcie_cap_exit(pdev);
}

static void spatten_free_list(SpattenJobList *list)
{
    SpattenJob *job, *tmp;

    QTAILQ_FOREACH_SAFE(job, list, next, tmp) {
        QTAILQ_REMOVE(list, job, next);
        spatten_job_free(job);
    }
}

static void spatten_exit(PCIDevice *pdev)
{
    SpattenState *s = SPATTEN(pdev);
    SpattenJob *job;
    bool bql = qemu_mutex_iothread_locked();
    unsigned i;

    qemu_mutex_lock(&s->lock);
    s->stopping = true;
    QTAILQ_FOREACH(job, &s->running, next) {
        qatomic_set(&job->cancel, true);
    }
    qemu_cond_broadcast(&s->cond);
    qemu_mutex_unlock(&s->lock);

    /*
     * A worker may be inside a DMA to an MMIO region, waiting for the BQL:
     * let it have the BQL while we wait for it to finish.
     */
    if (bql) {
        qemu_mutex_unlock_iothread();
    }
    for (i = 0; i < s->nthreads; i++) {
        qemu_thread_join(&s->eng[i].thread);
    }
    if (bql) {
        qemu_mutex_lock_iothread();
    }
    g_free(s->eng);
    s->eng = NULL;
    s->nthreads = 0;

    qemu_bh_delete(s->bh);
    s->bh = NULL;
    timer_free(s->timer);
    s->timer = NULL;
    for (i = 0; i < SPATTEN_MAX_QUEUES; i++) {
        spatten_free_list(&s->work[i]);
    }
    s->nwork = 0;
    spatten_free_list(&s->done);
    spatten_free_list(&s->pending);
    spatten_free_list(&s->ordered);
    qemu_cond_destroy(&s->cond);
    qemu_mutex_destroy(&s->lock);

    if (msix_present(pdev)) {
        msix_uninit_exclusive_bar(pdev);
    }
    msi_uninit(pdev);
    pcie_cap_exit(pdev);
}

static void spatten_reset(DeviceState *dev)
{
    spatten_reset_state(SPATTEN(dev));
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

static Property spatten_properties[] = {
    DEFINE_PROP_UINT32("engines", SpattenState, engines, 2),
    DEFINE_PROP_UINT32("queues", SpattenState, queues, 4),
    DEFINE_PROP_UINT32("queue-depth", SpattenState, queue_depth, 1024),
    DEFINE_PROP_UINT32("max-context", SpattenState, max_context, 1024),
    DEFINE_PROP_UINT32("max-heads", SpattenState, max_heads, 64),
    DEFINE_PROP_UINT32("dma-bits", SpattenState, dma_bits, 48),
    DEFINE_PROP_SIZE("max-job-bytes", SpattenState, max_job_bytes, 0),
    DEFINE_PROP_BOOL("msix", SpattenState, msix, true),
    DEFINE_PROP_STRING("model", SpattenState, model_name),
    DEFINE_PROP_STRING("timing", SpattenState, timing_name),
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
        "maximum kv_rows and q_rows per job, 1..32768");
    object_class_property_set_description(klass, "max-heads",
        "maximum attention heads per job, 1..256");
    object_class_property_set_description(klass, "dma-bits",
        "DMA address width in bits, 32..64");
    object_class_property_set_description(klass, "max-job-bytes",
        "bound on the host memory staging one job's writes; a job that "
        "needs more fails with ERR_NO_MEMORY; 0: enough for the largest "
        "job the other limits allow");
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
