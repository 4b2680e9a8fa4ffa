/*
 * SpAtten virtual PCIe device: queue rings and the job lists.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * BQL held throughout (vCPU register writes, reset, the bottom half); the
 * job lists shared with the engines are changed under SpattenState.lock.
 *
 * On an SQ doorbell each new submission entry (SQ_ENTRY_SIZE bytes, 256 or
 * 512, latched when the pair was enabled) is copied out of guest memory
 * exactly once into a job and queued on its queue pair's work list.  An
 * entry is only taken if the CQ has room for its completion, counting
 * jobs in flight, so a completion never overwrites an entry the host has
 * not released.  Disabling a pair or resetting the device bumps the queue
 * generation: jobs of an older generation are dropped where they are
 * found and never posted.
 */

#include "qemu/osdep.h"
#include "qemu/atomic.h"
#include "qemu/log.h"
#include "qemu/main-loop.h"

#include "spatten.h"
#include "trace.h"

/* The staged writes and page-list copies of @job. */
void spatten_job_free_stage(SpattenJob *job)
{
    unsigned p;

    g_free(job->stage);
    job->stage = NULL;
    job->stage_len = job->stage_cap = 0;
    for (p = 0; p < SPE_PLANE_COUNT; p++) {
        g_free(job->plist[p]);
        job->plist[p] = NULL;
    }
}

void spatten_job_free(SpattenJob *job)
{
    spatten_job_free_stage(job);
    g_free(job);
}

/* Free a computed job; give its staging slot back to the engines. */
void spatten_job_release(SpattenState *s, SpattenJob *job)
{
    if (job->staged) {
        qemu_mutex_lock(&s->lock);
        s->nstaged--;
        qemu_cond_broadcast(&s->cond);
        qemu_mutex_unlock(&s->lock);
    }
    spatten_job_free(job);
}

void spatten_free_list(SpattenJobList *list)
{
    SpattenJob *job, *tmp;

    QTAILQ_FOREACH_SAFE(job, list, next, tmp) {
        QTAILQ_REMOVE(list, job, next);
        spatten_job_free(job);
    }
}

/*
 * Drop the outstanding work of queue @qid (all queues if @qid < 0): queued
 * and waiting (timing=modeled) jobs are freed, running jobs are cancelled;
 * running and computed jobs are discarded by the bottom half because the
 * generation moved on.
 */
void spatten_drop_jobs(SpattenState *s, int qid)
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

    spatten_timing_drop(s, qid);
}

/* Forget queue @qid's configuration and ring state (keeps gen). */
void spatten_queue_clear(SpattenState *s, unsigned qid)
{
    SpattenQueue *q = &s->q[qid];
    uint64_t gen = q->gen;

    memset(q, 0, sizeof(*q));
    q->gen = gen;
    q->vector = qid;
    q->sq_entry_size = SPATTEN_DESC_SIZE;
    q->sq_esize = SPATTEN_DESC_SIZE;
}

/* SQ_ENTRY_SIZE values an enable accepts: 256 and 512 bytes. */
static bool spatten_sq_entry_size_ok(uint32_t size)
{
    return size == SPATTEN_DESC_SIZE || size == SPATTEN_SQE_SIZE_MAX;
}

void spatten_queue_enable(SpattenState *s, unsigned qid)
{
    SpattenQueue *q = &s->q[qid];
    const char *why = NULL;

    if (q->sq_base % SPATTEN_RING_ALIGN || q->cq_base % SPATTEN_RING_ALIGN) {
        why = "ring base not aligned";
    } else if (q->sq_size < 2 || q->sq_size > s->queue_depth ||
               q->cq_size < 2 || q->cq_size > s->queue_depth) {
        why = "ring size out of range";
    } else if (!spatten_sq_entry_size_ok(q->sq_entry_size)) {
        why = "SQ entry size not 256 or 512";
    } else if (!spatten_dma_range_ok(s->dma_bits, q->sq_base,
                                     (uint64_t)q->sq_size *
                                     q->sq_entry_size) ||
               !spatten_dma_range_ok(s->dma_bits, q->cq_base,
                                     (uint64_t)q->cq_size *
                                     SPATTEN_CQE_SIZE)) {
        why = "ring beyond the DMA address width";
    } else if (q->vector >= s->queues) {
        why = "bad interrupt vector";
    } else if (!spatten_dma_untranslated(s)) {
        why = SPATTEN_VIOMMU_ERR;
    }
    if (why) {
        qemu_log_mask(LOG_GUEST_ERROR, "spatten: queue %u: %s\n", qid, why);
        trace_spatten_queue_error(qid, why);
        q->status = SPATTEN_QSTS_ERROR;
        return;
    }
    trace_spatten_queue_enable(qid, q->sq_base, q->sq_size,
                               q->sq_entry_size, q->cq_base, q->cq_size);
    q->sq_esize = q->sq_entry_size;
    q->sq_head = q->sq_tail = 0;
    q->cq_head = q->cq_tail = 0;
    q->cq_phase = true;
    q->inflight = 0;
    q->ctrl = SPATTEN_QCTRL_ENABLE;
    q->status = SPATTEN_QSTS_ENABLED;
}

/*
 * Disable queue @qid: its outstanding jobs are dropped and its ring state
 * forgotten; the configuration registers keep their values so the host
 * may re-enable the pair as it is.
 */
void spatten_queue_disable(SpattenState *s, unsigned qid)
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

uint32_t spatten_ring_used(uint32_t head, uint32_t tail, uint32_t size)
{
    return (tail + size - head) % size;
}

/*
 * Take the new entries of SQ @qid.  Nothing is fetched while the VM is
 * stopped; the run-state handler calls this again on resume.  Callers
 * keep @s alive across the SQE reads (an MMIO access through the flatview
 * that maps BAR0, the run-state handler with a reference of its own);
 * after each read, @s may have been unrealized or reset.
 */
void spatten_process_sq(SpattenState *s, unsigned qid)
{
    PCIDevice *pdev = PCI_DEVICE(s);
    SpattenQueue *q = &s->q[qid];

    if (s->gone || !s->vm_running || !(s->ctrl & SPATTEN_CTRL_ENABLE) ||
        !(q->status & SPATTEN_QSTS_ENABLED)) {
        return;
    }
    while (q->sq_head != q->sq_tail) {
        uint32_t used = spatten_ring_used(q->cq_head, q->cq_tail, q->cq_size);
        uint64_t gen = q->gen;
        SpattenJob *job;
        MemTxResult r;

        if (used + q->inflight >= q->cq_size - 1) {
            break;      /* no room for the completion yet */
        }
        job = g_try_new0(SpattenJob, 1);
        if (!job) {
            /* leave the entry in the ring: retried at the next doorbell */
            qemu_log_mask(LOG_UNIMP, "spatten: queue %u: out of host memory "
                          "for a job\n", qid);
            break;
        }
        job->s = s;
        job->qid = qid;
        job->gen = gen;
        job->submit_ns = qemu_clock_get_ns(QEMU_CLOCK_VIRTUAL);
        job->seq = SPATTEN_SEQ_NONE;
        job->sqe_size = q->sq_esize;
        r = pci_dma_read(pdev, q->sq_base +
                         (uint64_t)q->sq_head * q->sq_esize,
                         job->sqe.raw, q->sq_esize);
        if (s->gone || q->gen != gen ||
            !(q->status & SPATTEN_QSTS_ENABLED)) {
            /* the read reached something that unplugged or reset us */
            spatten_job_free(job);
            return;
        }
        q->sq_head = (q->sq_head + 1) % q->sq_size;
        job->sq_head = q->sq_head;
        q->inflight++;

        qemu_mutex_lock(&s->lock);
        if (r != MEMTX_OK) {
            qemu_log_mask(LOG_GUEST_ERROR,
                          "spatten: queue %u: SQE read failed\n", qid);
            memset(&job->sqe, 0, sizeof(job->sqe));
            job->status = SPATTEN_HW_ERR_DMA_READ;
            trace_spatten_job_failed(qid, 0, job->status,
                                     spatten_status_name(job->status));
            QTAILQ_INSERT_TAIL(&s->done, job, next);
            qemu_bh_schedule(s->bh);
        } else {
            trace_spatten_submit(qid, job->sq_head,
                                 spatten_job_tag(job));
            QTAILQ_INSERT_TAIL(&s->work[qid], job, next);
            s->nwork++;
            qemu_cond_signal(&s->cond);
        }
        qemu_mutex_unlock(&s->lock);
    }
}

void spatten_process_all(SpattenState *s)
{
    unsigned i;

    for (i = 0; i < s->queues; i++) {
        spatten_process_sq(s, i);
    }
}
