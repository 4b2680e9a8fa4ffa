/*
 * SpAtten virtual PCIe device: the completion bottom half.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * Main loop, BQL held.  For each computed job, in the order the engines
 * finish them (timing=fast) or at its modeled time (spatten-timing.c):
 * replay its staged writes (only if the job succeeded), write its
 * completion entry (bytes 0x00..0x3b first, the status/phase dword last),
 * update the counters and raise the interrupt.
 *
 * Every one of those writes is guest-directed DMA and may land anywhere:
 * on the device's own BARs (refused by the reentrancy guard), on a
 * hotplug port's slot control through MMCONFIG (which unplugs the device
 * under our feet), or on a register that resets us.  So the bottom half
 * holds a reference on the device, and after every DMA or interrupt it
 * checks SpattenState.gone (unrealized) and the job's queue generation
 * (reset or disabled) before touching anything else.
 *
 * One run does a bounded amount of work (SPATTEN_BH_MAX_JOBS completions,
 * SPATTEN_BH_MAX_BYTES of replay) and reschedules itself for the rest.
 */

#include "qemu/osdep.h"
#include "qemu/log.h"
#include "qemu/main-loop.h"
#include "block/aio.h"
#include "hw/pci/msi.h"
#include "hw/pci/msix.h"

#include "spatten.h"
#include "trace.h"

/* Offset of the status/phase dword, written last. */
#define SPATTEN_CQE_LAST_DW     offsetof(struct spatten_hw_cqe, status)

QEMU_BUILD_BUG_ON(SPATTEN_CQE_LAST_DW != 0x3c);

typedef struct SpattenBudget {
    unsigned jobs;
    uint64_t bytes;
} SpattenBudget;

static bool spatten_budget_left(const SpattenBudget *b)
{
    return b->jobs < SPATTEN_BH_MAX_JOBS && b->bytes < SPATTEN_BH_MAX_BYTES;
}

bool spatten_intx_mode(PCIDevice *pdev)
{
    return !msix_enabled(pdev) && !msi_enabled(pdev);
}

void spatten_update_intx(SpattenState *s)
{
    PCIDevice *pdev = PCI_DEVICE(s);

    pci_set_irq(pdev, spatten_intx_mode(pdev) && s->intx_status != 0);
}

static void spatten_raise_irq(SpattenState *s, unsigned qid)
{
    PCIDevice *pdev = PCI_DEVICE(s);

    if (msix_enabled(pdev)) {
        trace_spatten_irq(qid, "msix", s->q[qid].vector);
        msix_notify(pdev, s->q[qid].vector);
    } else if (msi_enabled(pdev)) {
        trace_spatten_irq(qid, "msi", 0);
        msi_notify(pdev, 0);
    } else {
        /* INTX_STATUS is the INTx source: it only collects in INTx mode */
        trace_spatten_irq(qid, "intx", 0);
        s->intx_status |= 1u << qid;
        spatten_update_intx(s);
    }
}

/*
 * Bytes read that are not tensor data: counter BYTES_META.  The cascade
 * state (importance arrays, alive and pinned lists) and, in descriptor
 * version 3, the KV block table and the key position list.  Page-list
 * entries are not counted anywhere.
 */
static uint64_t spatten_job_meta_bytes(const SpattenJob *job)
{
    return job->bytes[SPE_PLANE_TOK_IMP] + job->bytes[SPE_PLANE_TOK_ALIVE] +
           job->bytes[SPE_PLANE_PINNED] + job->bytes[SPE_PLANE_HEAD_IMP] +
           job->bytes[SPE_PLANE_HEAD_ALIVE] +
           job->bytes[SPE_PLANE_BLOCK_TABLE] +
           job->bytes[SPE_PLANE_POSITIONS] +
           job->bytes[SPE_PLANE_HEAD_FRACS];
}

/* Is @job still wanted: device present, queue not reset or disabled? */
static bool spatten_job_live(SpattenState *s, SpattenJob *job)
{
    return !s->gone && job->gen == s->q[job->qid].gen;
}

/*
 * Page-list entries for the replay: the copy the engine made and checked
 * (spatten_copy_page_lists), never guest memory read again here.
 */
static int spatten_bh_plist_read(void *opaque, uint64_t addr, void *dst,
                                 size_t len)
{
    SpattenJob *job = opaque;
    unsigned p = job->replay_plane;
    const struct spe_buf *buf = &job->job.buf[p];
    uint64_t idx;

    if (!job->plist[p] || addr < buf->addr ||
        (addr - buf->addr) % sizeof(uint64_t) || len % sizeof(uint64_t)) {
        return -1;
    }
    idx = (addr - buf->addr) / sizeof(uint64_t);
    if (idx < job->plist_first[p] ||
        idx - job->plist_first[p] + len / sizeof(uint64_t) >
        job->plist_n[p]) {
        return -1;
    }
    memcpy(dst, job->plist[p] + (idx - job->plist_first[p]), len);
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
    return spatten_job_live(s, job) ? 0 : -1;
}

/*
 * Replay the staged writes of a successful job, in the order the engine
 * made them, resuming where the last run stopped.  Returns the status;
 * *@more is set if the budget ran out first.  The caller checks
 * spatten_job_live() afterwards.
 */
static int spatten_replay(SpattenState *s, SpattenJob *job,
                          SpattenBudget *b, bool *more)
{
    *more = false;
    while (job->replay_pos < job->stage_len) {
        SpattenStageHdr h;
        uint32_t n;
        int st;

        if (!spatten_budget_left(b)) {
            *more = true;
            return SPATTEN_HW_OK;
        }
        memcpy(&h, job->stage + job->replay_pos, sizeof(h));
        n = MIN(h.len - job->replay_done, SPATTEN_BH_MAX_BYTES);
        job->replay_plane = h.plane;
        st = spe_buf_write(&job->job.buf[h.plane], h.off + job->replay_done,
                           job->stage + job->replay_pos + sizeof(h) +
                           job->replay_done, n,
                           spatten_bh_plist_read, spatten_bh_dma_write, job);
        b->bytes += n;
        if (!spatten_job_live(s, job)) {
            return SPATTEN_HW_ERR_ABORTED;
        }
        if (st != SPATTEN_HW_OK) {
            if (st < 0 || st > SPATTEN_HW_STATUS_MAX) {
                st = SPATTEN_HW_ERR_DMA_WRITE;
            }
            trace_spatten_job_failed(job->qid, spatten_job_tag(job),
                                     st, spatten_status_name(st));
            return st;
        }
        job->replay_done += n;
        if (job->replay_done == h.len) {
            job->replay_pos += sizeof(h) + h.len;
            job->replay_done = 0;
        }
    }
    return SPATTEN_HW_OK;
}

/*
 * Post @job: replay, completion entry, counters, interrupt.  Returns false
 * if the budget ran out during the replay: the caller keeps the job in
 * SpattenState.posting and calls again from the next run.
 */
static bool spatten_post(SpattenState *s, SpattenJob *job, SpattenBudget *b)
{
    PCIDevice *pdev = PCI_DEVICE(s);
    SpattenQueue *q = &s->q[job->qid];
    struct spatten_hw_cqe cqe;
    uint16_t status = job->status;
    uint64_t addr;
    MemTxResult r;
    unsigned i;

    if (!spatten_job_live(s, job)) {
        /* reset, disabled or unplugged since submission: discard */
        trace_spatten_discard(job->qid, spatten_job_tag(job));
        return true;
    }
    if (status == SPATTEN_HW_OK && job->stage_len) {
        bool more;

        status = spatten_replay(s, job, b, &more);
        if (!spatten_job_live(s, job)) {
            trace_spatten_discard(job->qid, spatten_job_tag(job));
            return true;
        }
        if (more) {
            return false;
        }
        /* a write failed: the job ends there, with that status */
        job->status = status;
    }
    b->jobs++;

    memset(&cqe, 0, sizeof(cqe));
    cqe.bytes_q = cpu_to_le64(job->bytes[SPE_PLANE_Q]);
    cqe.bytes_k_msb = cpu_to_le64(job->bytes[SPE_PLANE_K_MSB]);
    cqe.bytes_k_lsb = cpu_to_le64(job->bytes[SPE_PLANE_K_LSB]);
    cqe.bytes_v = cpu_to_le64(job->bytes[SPE_PLANE_V]);
    cqe.bytes_written = cpu_to_le64(job->bytes_written);
    cqe.cycles = cpu_to_le64(job->cycles);
    cqe.lsb_refetches = cpu_to_le32(MIN(job->lsb_refetches, UINT32_MAX));
    cqe.tag = job->sqe.v2.tag;  /* already little-endian */
    cqe.sq_head = cpu_to_le16(job->sq_head);
    cqe.sq_id = cpu_to_le16(job->qid);
    cqe.status = cpu_to_le16(status);
    cqe.flags = cpu_to_le16(q->cq_phase ? SPATTEN_CQE_F_PHASE : 0);

    addr = q->cq_base + (uint64_t)q->cq_tail * SPATTEN_CQE_SIZE;
    trace_spatten_complete(job->qid, spatten_job_tag(job), status,
                           q->cq_tail, q->cq_phase);
    r = pci_dma_write(pdev, addr, &cqe, SPATTEN_CQE_LAST_DW);
    if (!spatten_job_live(s, job)) {
        return true;
    }
    if (r == MEMTX_OK) {
        r = pci_dma_write(pdev, addr + SPATTEN_CQE_LAST_DW,
                          (uint8_t *)&cqe + SPATTEN_CQE_LAST_DW,
                          SPATTEN_CQE_SIZE - SPATTEN_CQE_LAST_DW);
        if (!spatten_job_live(s, job)) {
            return true;
        }
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

    /* the MSI write is DMA too: nothing of @s may be used after it */
    spatten_raise_irq(s, job->qid);
    return true;
}

/*
 * Post @job now, or park it in SpattenState.posting when the budget runs
 * out mid-replay.  Returns false in that case.
 */
static bool spatten_post_or_park(SpattenState *s, SpattenJob *job,
                                 SpattenBudget *b)
{
    if (!spatten_post(s, job, b)) {
        s->posting = job;
        return false;
    }
    spatten_job_release(s, job);
    return true;
}

/* A computed job in seq order (modeled) or as it comes (fast). */
static bool spatten_finish(SpattenState *s, SpattenJob *job, SpattenBudget *b)
{
    if (spatten_timing_hold(s, job)) {
        return true;
    }
    return spatten_post_or_park(s, job, b);
}

static void spatten_put_cb(void *opaque)
{
    trace_spatten_put_deferred_run(opaque, OBJECT(opaque)->ref);
    object_unref(OBJECT(opaque));
}

/*
 * Drop a reference taken around guest-directed DMA.  If the device was
 * unplugged under us this may be the last one, and finalize must not run
 * inside the bottom half: aio_bh_call() still writes the device's
 * reentrancy guard after we return.  Hand it to a plain one-shot bottom
 * half.
 */
void spatten_put(SpattenState *s)
{
    if (s->gone) {
        trace_spatten_put_deferred(s);
        aio_bh_schedule_oneshot(qemu_get_aio_context(), spatten_put_cb, s);
    } else {
        object_unref(OBJECT(s));
    }
}

/*
 * timing=modeled: schedule the computed jobs on SpattenState.ordered whose
 * turn has come.  Returns false if one was parked (budget); the caller
 * stops there.  A job parked here, or in an earlier run, leaves the ones
 * behind it on the list: every run drains them once the parked job is
 * out of the way, whether or not a new job comes off `done`.
 */
static bool spatten_drain_ordered(SpattenState *s, SpattenBudget *b)
{
    SpattenJob *job;

    while (!s->gone && spatten_budget_left(b) &&
           (job = spatten_timing_next_ordered(s))) {
        if (!spatten_finish(s, job, b)) {
            return false;
        }
    }
    return true;
}

void spatten_bh(void *opaque)
{
    SpattenState *s = opaque;
    SpattenBudget b = { 0 };
    SpattenJob *job;
    bool done = false;

    if (s->gone || !s->vm_running) {
        return;     /* the run-state handler reschedules us on resume */
    }
    object_ref(OBJECT(s));
    s->in_bh = true;

    /* a replay the budget cut short last time comes first */
    if (s->posting) {
        job = s->posting;
        s->posting = NULL;
        if (!spatten_post_or_park(s, job, &b)) {
            goto out;
        }
    }
    /* ... then the jobs it held back in modeled order */
    if (!spatten_drain_ordered(s, &b)) {
        goto out;
    }

    while (!s->gone && spatten_budget_left(&b)) {
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
            if (!spatten_finish(s, job, &b)) {
                goto out;
            }
            continue;
        }
        /* modeled: hold it until every job taken before it is computed */
        spatten_timing_order(s, job);
        if (!spatten_drain_ordered(s, &b)) {
            goto out;
        }
    }

    /* timing=modeled: post what is due */
    while (!s->gone && spatten_budget_left(&b) &&
           (job = spatten_timing_next_due(s))) {
        if (!spatten_post_or_park(s, job, &b)) {
            goto out;
        }
    }
    done = spatten_budget_left(&b);

out:
    s->in_bh = false;
    if (!s->gone) {
        spatten_timing_rearm(s);
        if (!done) {
            qemu_bh_schedule(s->bh);
        }
    }
    spatten_put(s);
    /*
     * @s may be freed by now (not with the deferred put): the pointer is
     * only printed, so that a test can check that finalize came later.
     */
    trace_spatten_bh_exit(s);
}
