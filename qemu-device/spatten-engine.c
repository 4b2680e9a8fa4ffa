/*
 * SpAtten virtual PCIe device: the engine worker threads.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * The only code of the device that runs without the BQL.  `engines`
 * threads serve all queue pairs: an idle engine takes the next job
 * round-robin across the queues that have work (one job per queue per
 * turn), decodes and validates its copy of the SQE (spe_desc_decode, with
 * the entry size of its queue) and runs it (spe_run).
 *
 * Workers never need the BQL, so unrealize can join them with the BQL
 * held: they read guest memory only where it is plain RAM (translated and
 * copied under RCU, never dispatched to an MMIO handler; anything else
 * fails the job with ERR_DMA_READ; no IOMMU translates it, which realize
 * and queue enable make sure of), and they never write guest memory:
 * every write the engine makes is staged in a per-job host buffer,
 * bounded by max-job-bytes, that the bottom half replays once the job has
 * succeeded.  Cancellation (reset, queue disable, unplug) is checked
 * before and after every read, between RAM chunks, on every write and by
 * the engine (struct spe_mem.cancelled) before every head and every block
 * of query rows.  So a join waits for at most one 1 MiB copy or one
 * stretch of compute between two polls: a block's scores (at most 256 Ki,
 * i.e. 64 M multiply-adds at head_dim 256), their softmax, top-k and
 * products (as many again, value pruning's included); plus, at a job's
 * start, its scratch allocation (max-scratch-bytes).  That is some 10^8
 * operations: milliseconds to tens of milliseconds on a current core,
 * more on a slow or overloaded host.  One stretch grows with the job:
 * with RoPE a KV head's keys are rotated between two polls (about a
 * quarter of a second at 131072 keys of head_dim 128; docs/engine.md).
 */

#include "qemu/osdep.h"
#include "qemu/atomic.h"
#include "qemu/log.h"
#include "qemu/main-loop.h"
#include "qemu/rcu.h"
#include "exec/memory.h"

#include "spatten.h"
#include "trace.h"

/* RAM copied per RCU critical section (and between cancel checks). */
#define SPATTEN_RAM_CHUNK       (1 * MiB)

/* Staging buffer: first allocation. */
#define SPATTEN_STAGE_MIN       4096

/*
 * Copy guest RAM at bus address @addr without the BQL.  MMIO, the
 * device's own BARs, MMCONFIG or a disabled bus master all fail here
 * instead of being dispatched from this thread.
 */
static bool spatten_ram_read(SpattenJob *job, uint64_t addr, void *dst,
                             size_t len)
{
    AddressSpace *as = pci_get_address_space(&job->s->parent_obj);
    uint8_t *p = dst;

    while (len) {
        hwaddr l = MIN(len, SPATTEN_RAM_CHUNK), xlat;
        MemoryRegion *mr;
        bool ok;

        if (qatomic_read(&job->cancel)) {
            return false;
        }
        WITH_RCU_READ_LOCK_GUARD() {
            mr = address_space_translate(as, addr, &xlat, &l, false,
                                         MEMTXATTRS_UNSPECIFIED);
            ok = l && memory_access_is_direct(mr, false);
            if (ok) {
                memcpy(p, qemu_map_ram_ptr(mr->ram_block, xlat), l);
            }
        }
        if (!ok) {
            return false;
        }
        addr += l;
        p += l;
        len -= l;
    }
    return true;
}

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
    if (!spatten_ram_read(job, addr, dst, len)) {
        if (!qatomic_read(&job->cancel)) {
            qemu_log_mask(LOG_GUEST_ERROR,
                          "spatten: DMA read 0x%" PRIx64 "+%zu: not RAM "
                          "(or bus mastering off)\n", addr, len);
        }
        return -1;
    }
    /* a reset that came during the copy: do not go on with its data */
    if (qatomic_read(&job->cancel)) {
        return -1;
    }
    return 0;
}

/* For the trace: the planes an engine reads. */
static const char *spatten_plane_name(unsigned plane)
{
    static const char *const names[SPE_PLANE_COUNT] = {
        [SPE_PLANE_Q] = "Q",
        [SPE_PLANE_K_MSB] = "K_MSB",
        [SPE_PLANE_K_LSB] = "K_LSB",
        [SPE_PLANE_V] = "V",
        [SPE_PLANE_TOK_IMP] = "TOK_IMP",
        [SPE_PLANE_TOK_ALIVE] = "TOK_ALIVE",
        [SPE_PLANE_PINNED] = "PINNED",
        [SPE_PLANE_HEAD_IMP] = "HEAD_IMP",
        [SPE_PLANE_HEAD_ALIVE] = "HEAD_ALIVE",
        [SPE_PLANE_BLOCK_TABLE] = "BLOCK_TABLE",
        [SPE_PLANE_POSITIONS] = "POSITIONS",
        [SPE_PLANE_HEAD_FRACS] = "HEAD_FRACS",
    };

    return plane < SPE_PLANE_COUNT && names[plane] ? names[plane] : "?";
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
    case SPE_PLANE_BLOCK_TABLE:     /* v3: read-only */
    case SPE_PLANE_POSITIONS:       /* v3: read-only */
    case SPE_PLANE_HEAD_FRACS:      /* v3: read-only */
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
    trace_spatten_engine_read(job->qid, spatten_plane_name(plane), off, len);
    st = spe_buf_read(buf, off, dst, len, spatten_dma_read_raw, job);
    if (qatomic_read(&job->cancel)) {
        st = SPATTEN_HW_ERR_ABORTED;
    } else if (st == SPATTEN_HW_OK) {
        job->bytes[plane] += len;
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
 * @off.  Nothing reaches guest memory here.
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

/*
 * Copy and check the page-list entries the replay of a computed job will
 * write through: for each page-list operand it wrote, the entries of the
 * pages between its first and last staged byte.  The bottom half then
 * uses this copy, so a misaligned entry fails the job before anything is
 * written, and the guest changing the list after the job was computed
 * does not change where it writes.  At most 8 bytes per page of the
 * written range, which the job's shape bounds.
 */
static int spatten_copy_page_lists(SpattenJob *job)
{
    uint64_t lo[SPE_PLANE_COUNT], hi[SPE_PLANE_COUNT];
    size_t pos;
    unsigned p;

    for (p = 0; p < SPE_PLANE_COUNT; p++) {
        lo[p] = UINT64_MAX;
        hi[p] = 0;
    }
    for (pos = 0; pos < job->stage_len;) {
        SpattenStageHdr h;

        memcpy(&h, job->stage + pos, sizeof(h));
        lo[h.plane] = MIN(lo[h.plane], h.off);
        hi[h.plane] = MAX(hi[h.plane], h.off + h.len);
        pos += sizeof(h) + h.len;
    }
    for (p = 0; p < SPE_PLANE_COUNT; p++) {
        const struct spe_buf *buf = &job->job.buf[p];
        uint64_t first, last;
        uint32_t i, n;

        if (lo[p] >= hi[p] || !(buf->flags & SPATTEN_BUF_PAGE_LIST)) {
            continue;
        }
        /* spe_desc_decode: offset < 4096, len < 4 GiB: no overflow */
        first = (buf->offset + lo[p]) >> SPATTEN_HW_PAGE_SHIFT;
        last = (buf->offset + hi[p] - 1) >> SPATTEN_HW_PAGE_SHIFT;
        n = last - first + 1;
        job->plist[p] = g_try_new(uint64_t, n);
        if (!job->plist[p]) {
            return SPATTEN_HW_ERR_NO_MEMORY;
        }
        job->plist_first[p] = first;
        job->plist_n[p] = n;
        if (buf->addr > UINT64_MAX - first * sizeof(uint64_t) ||
            spatten_dma_read_raw(job, buf->addr + first * sizeof(uint64_t),
                                 job->plist[p], n * sizeof(uint64_t))) {
            return qatomic_read(&job->cancel) ? SPATTEN_HW_ERR_ABORTED :
                                                SPATTEN_HW_ERR_DMA_READ;
        }
        for (i = 0; i < n; i++) {
            if (le64_to_cpu(job->plist[p][i]) & (SPATTEN_HW_PAGE_SIZE - 1)) {
                return SPATTEN_HW_ERR_PAGE_LIST;
            }
        }
    }
    return SPATTEN_HW_OK;
}

/* Polled by the engine between blocks of compute. */
static int spatten_engine_cancelled(void *opaque)
{
    SpattenJob *job = opaque;

    return qatomic_read(&job->cancel);
}

static void spatten_job_execute(SpattenState *s, SpattenJob *job)
{
    struct spe_mem mem = {
        .read = spatten_engine_read,
        .write = spatten_engine_write,
        .opaque = job,
        .cancelled = spatten_engine_cancelled,
    };
    struct spe_result res;
    int st;

    if (qatomic_read(&job->cancel)) {
        job->status = SPATTEN_HW_ERR_ABORTED;
        return;
    }
    /* entry size 256: a version-3 descriptor completes ERR_VERSION */
    st = spe_desc_decode(job->sqe.raw, job->sqe_size, &s->caps, &job->job);
    if (st != SPATTEN_HW_OK) {
        if (st < 0 || st > SPATTEN_HW_STATUS_MAX) {
            st = SPATTEN_HW_ERR_RESERVED;   /* engine contract broken */
        }
        trace_spatten_desc_invalid(job->qid, spatten_job_tag(job), st,
                                   spatten_status_name(st));
        job->status = st;
        return;
    }
    memset(&res, 0, sizeof(res));
    st = spe_run(&job->job, &s->caps, &mem, &res);
    if (st < 0 || st > SPATTEN_HW_STATUS_MAX) {
        st = SPATTEN_HW_ERR_NO_MEMORY;  /* engine contract broken */
    }
    if (st == SPATTEN_HW_OK && job->stage_len) {
        st = spatten_copy_page_lists(job);
    }
    job->status = st;
    job->cycles = st == SPATTEN_HW_OK ? res.cycles : 0;
    job->lsb_refetches = res.lsb_refetches;
    if (st != SPATTEN_HW_OK) {
        /* a failed job writes nothing: drop what was staged */
        spatten_job_free_stage(job);
        if (st != SPATTEN_HW_ERR_ABORTED) {
            trace_spatten_job_failed(job->qid, spatten_job_tag(job),
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

/*
 * Engines stop taking jobs while the VM is stopped, and while
 * SPATTEN_STAGED_PER_ENGINE x engines computed jobs (and their staged
 * writes) wait for the bottom half or their modeled time.  Lock held.
 */
static bool spatten_may_pick(SpattenState *s)
{
    return s->nwork && !s->paused &&
           s->nstaged < SPATTEN_STAGED_PER_ENGINE * s->engines;
}

static void *spatten_worker(void *opaque)
{
    SpattenEngine *eng = opaque;
    SpattenState *s = eng->s;
    SpattenJob *job;

    rcu_register_thread();
    qemu_mutex_lock(&s->lock);
    for (;;) {
        while (!s->stopping && !spatten_may_pick(s)) {
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
        /* its staging slot: reserved before it can stage anything */
        job->staged = true;
        s->nstaged++;
        s->nstaged_max = MAX(s->nstaged_max, s->nstaged);
        QTAILQ_INSERT_TAIL(&s->running, job, next);
        qemu_mutex_unlock(&s->lock);

        trace_spatten_job_start(eng->idx, job->qid,
                                spatten_job_tag(job));
        spatten_job_execute(s, job);
        trace_spatten_job_done(job->qid, spatten_job_tag(job),
                               job->status, job->cycles);

        qemu_mutex_lock(&s->lock);
        QTAILQ_REMOVE(&s->running, job, next);
        QTAILQ_INSERT_TAIL(&s->done, job, next);
        qemu_bh_schedule(s->bh);
    }
    qemu_mutex_unlock(&s->lock);
    rcu_unregister_thread();
    return NULL;
}

void spatten_engines_start(SpattenState *s)
{
    unsigned i;

    s->eng = g_new0(SpattenEngine, s->engines);
    for (i = 0; i < s->engines; i++) {
        s->eng[i].s = s;
        s->eng[i].idx = i;
        qemu_thread_create(&s->eng[i].thread, "spatten-engine",
                           spatten_worker, &s->eng[i], QEMU_THREAD_JOINABLE);
    }
    s->nthreads = s->engines;
}

/*
 * Cancel running jobs and join the workers.  Called with the BQL held:
 * workers never take it, and they see the cancellation at their next
 * read chunk, write or block of compute.
 */
void spatten_engines_stop(SpattenState *s)
{
    SpattenJob *job;
    unsigned i;

    qemu_mutex_lock(&s->lock);
    s->stopping = true;
    QTAILQ_FOREACH(job, &s->running, next) {
        qatomic_set(&job->cancel, true);
    }
    qemu_cond_broadcast(&s->cond);
    qemu_mutex_unlock(&s->lock);

    for (i = 0; i < s->nthreads; i++) {
        qemu_thread_join(&s->eng[i].thread);
    }
    s->nthreads = 0;
}
