/*
 * SpAtten virtual PCIe device: timing=modeled.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * Main loop, BQL held throughout.  With timing=modeled a computed job is
 * posted no earlier than its modeled finish on QEMU_CLOCK_VIRTUAL at 1 GHz
 * (1 cycle = 1 ns).  The device models `engines` engines, each a pipeline
 * that runs one job at a time: jobs are scheduled in the order the engines
 * took them off the queues (SpattenJob.seq), each on the modeled engine
 * that is free first (lowest index on a tie), starting at max(submission
 * time, that engine's previous finish) and finishing `cycles` later.  So
 * the schedule does not depend on which host thread computed a job.
 * Computed jobs wait on `ordered` for their turn in seq order, then on
 * `pending`, sorted by finish time and served by one QEMUTimer.
 */

#include "qemu/osdep.h"
#include "qemu/main-loop.h"
#include "qemu/timer.h"

#include "spatten.h"
#include "trace.h"

/* Forget the modeled backlog (device reset). */
void spatten_timing_reset(SpattenState *s)
{
    memset(s->busy_until, 0, sizeof(s->busy_until));
}

void spatten_timing_rearm(SpattenState *s)
{
    SpattenJob *first = QTAILQ_FIRST(&s->pending);

    if (first) {
        timer_mod(s->timer, first->due_ns);
    } else {
        timer_del(s->timer);
    }
}

/* Free the waiting jobs of queue @qid (all queues if @qid < 0). */
void spatten_timing_drop(SpattenState *s, int qid)
{
    SpattenJob *job, *tmp;

    if (qid < 0) {
        spatten_timing_reset(s);
    }
    QTAILQ_FOREACH_SAFE(job, &s->pending, next, tmp) {
        if (qid < 0 || job->qid == (unsigned)qid) {
            QTAILQ_REMOVE(&s->pending, job, next);
            spatten_job_release(s, job);
        }
    }
    spatten_timing_rearm(s);
}

/* Keep @job until every job the engines took before it is computed. */
void spatten_timing_order(SpattenState *s, SpattenJob *job)
{
    SpattenJob *it;

    QTAILQ_FOREACH(it, &s->ordered, next) {
        if (it->seq > job->seq) {
            QTAILQ_INSERT_BEFORE(it, job, next);
            return;
        }
    }
    QTAILQ_INSERT_TAIL(&s->ordered, job, next);
}

/* The next job whose turn it is, or NULL. */
SpattenJob *spatten_timing_next_ordered(SpattenState *s)
{
    SpattenJob *job = QTAILQ_FIRST(&s->ordered);

    if (!job || job->seq != s->model_seq) {
        return NULL;
    }
    QTAILQ_REMOVE(&s->ordered, job, next);
    s->model_seq++;
    return job;
}

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
 * Give @job its modeled finish.  Returns true if @job now waits for it
 * (the timer owns it), false if it can be posted at once.
 */
bool spatten_timing_hold(SpattenState *s, SpattenJob *job)
{
    unsigned i, e = 0;
    int64_t start, now;

    /*
     * An entry that could not be read (SPATTEN_SEQ_NONE) never reached an
     * engine: it takes no modeled engine time and completes at once.
     */
    if (s->timing != SPATTEN_TIMING_MODELED ||
        job->seq == SPATTEN_SEQ_NONE ||
        job->gen != s->q[job->qid].gen) {
        return false;
    }
    for (i = 1; i < s->engines; i++) {
        if (s->busy_until[i] < s->busy_until[e]) {
            e = i;
        }
    }
    start = MAX(job->submit_ns, s->busy_until[e]);
    job->due_ns = job->cycles > (uint64_t)(INT64_MAX - start) ?
                  INT64_MAX : start + (int64_t)job->cycles;
    s->busy_until[e] = job->due_ns;

    now = qemu_clock_get_ns(QEMU_CLOCK_VIRTUAL);
    if (job->due_ns <= now) {
        return false;
    }
    trace_spatten_job_wait(job->qid, spatten_job_tag(job),
                           job->due_ns, now);
    spatten_pending_insert(s, job);
    return true;
}

/* The first waiting job whose modeled finish has come, or NULL. */
SpattenJob *spatten_timing_next_due(SpattenState *s)
{
    SpattenJob *job = QTAILQ_FIRST(&s->pending);

    if (!job || job->due_ns > qemu_clock_get_ns(QEMU_CLOCK_VIRTUAL)) {
        return NULL;
    }
    QTAILQ_REMOVE(&s->pending, job, next);
    return job;
}

/* The modeled finish of the first waiting job: post from the bottom half. */
void spatten_timer_cb(void *opaque)
{
    SpattenState *s = opaque;

    qemu_bh_schedule(s->bh);
}
