/*
 * SpAtten virtual PCIe device: private state shared by the device's files.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * The device is split by locking domain, so that each file can be checked
 * against one set of rules:
 *
 *   spatten.c         PCI/QOM glue, properties, reset, run state (BQL)
 *   spatten-regs.c    BAR0 register decode and doorbells (vCPU, BQL)
 *   spatten-queue.c   queue rings: SQ fetch, enable/disable, job lists
 *                     (BQL; the work lists under SpattenState.lock)
 *   spatten-engine.c  the engine worker threads: the only code that runs
 *                     without the BQL; it reads guest RAM only
 *   spatten-cq.c      completion bottom half: staged writes, CQEs and
 *                     interrupts (main loop, BQL)
 *   spatten-timing.c  timing=modeled: the modeled schedule and its timer
 *                     (main loop, BQL)
 *
 * Locking: SpattenState.lock protects the job lists and counters named
 * "lock" below and is never held across DMA or while taking the BQL.
 * Everything else is BQL-only, except what is constant after realize.
 *
 * DMA: the engine threads read guest RAM through the device's bus-master
 * address space without the BQL, which is only sound if no IOMMU
 * translates it: a vIOMMU's translate callback (intel-iommu's
 * vtd_iommu_translate) reads its tables by DMA, may raise a fault MSI and
 * keeps unlocked state, all of which need the BQL.  So the device refuses
 * to realize behind a vIOMMU (SPATTEN_VIOMMU_ERR), and refuses to enable a
 * queue if one was created after it.
 *
 * Lifetime: the device can be unplugged from inside its own bottom half
 * (a guest-directed DMA write can reach a hotplug port's slot control).
 * The bottom half holds a reference on the device, re-checks
 * SpattenState.gone after every DMA and interrupt, and everything it can
 * touch is torn down in instance_finalize, not in unrealize.
 */
#ifndef HW_MISC_SPATTEN_H
#define HW_MISC_SPATTEN_H

#include "qemu/bswap.h"
#include "qemu/queue.h"
#include "qemu/thread.h"
#include "qemu/timer.h"
#include "qemu/units.h"
#include "hw/pci/pci.h"
#include "sysemu/runstate.h"
#include "qom/object.h"

#include "spatten_hw.h"
#include "spe.h"

#define TYPE_SPATTEN "spatten"
OBJECT_DECLARE_SIMPLE_TYPE(SpattenState, SPATTEN)

#define SPATTEN_MAX_ENGINES     16
#define SPATTEN_MAX_DEPTH       65536
/*
 * max-context: at most 256 Ki rows, so that one query row's scores stay
 * within the engine's block of SPE_BLOCK_SCORES (256 Ki): the bound on
 * the compute between two cancellation polls (spatten-engine.c) holds.
 */
#define SPATTEN_MAX_CONTEXT     (256 * 1024)
#define SPATTEN_DEFAULT_CONTEXT (128 * 1024)
#define SPATTEN_MAX_HEADS       256
#define SPATTEN_MAX_HEAD_DIM    256

/* Realize / queue enable behind an IOMMU (see the comment at the top). */
#define SPATTEN_VIOMMU_ERR  "a vIOMMU in front of the device is not supported"

/* A job no engine took (its SQE could not be read). */
#define SPATTEN_SEQ_NONE        UINT64_MAX

/*
 * Computed jobs (and their staged writes) that may wait for the bottom
 * half or for their modeled time, per engine; engines stop taking jobs
 * beyond that.  Bounds host memory whatever the timing mode.
 */
#define SPATTEN_STAGED_PER_ENGINE   2

/*
 * Work of one bottom-half run: at most this many completions and this
 * many bytes of staged writes; the rest waits for the next run, so the
 * main loop keeps serving vCPUs and other devices.
 */
#define SPATTEN_BH_MAX_JOBS     32
#define SPATTEN_BH_MAX_BYTES    (1 * MiB)

typedef enum SpattenTiming {
    SPATTEN_TIMING_FAST,
    SPATTEN_TIMING_MODELED,
    SPATTEN_TIMING__MAX,
} SpattenTiming;

typedef enum SpattenModel {
    SPATTEN_MODEL_FULL,
    SPATTEN_MODEL_EIGHTH,
    SPATTEN_MODEL__MAX,
} SpattenModel;

/* One record of staged writes: header, then @len bytes of data. */
typedef struct SpattenStageHdr {
    uint64_t off;           /* byte offset within the operand */
    uint32_t plane;         /* enum spe_plane */
    uint32_t len;           /* bytes of data following the header */
} SpattenStageHdr;

typedef struct SpattenState SpattenState;

typedef struct SpattenJob {
    QTAILQ_ENTRY(SpattenJob) next;
    SpattenState *s;
    uint32_t qid;
    uint64_t gen;           /* queue generation at submission */
    uint16_t sq_head;       /* SQ head after consuming this entry */
    bool cancel;            /* atomic: reset or disable, stop early */
    uint16_t status;        /* enum spatten_hw_status */
    int64_t submit_ns;      /* QEMU_CLOCK_VIRTUAL at submission */
    int64_t due_ns;         /* timing=modeled: modeled finish */
    uint64_t seq;           /* order engines took it; SPATTEN_SEQ_NONE */
    bool staged;            /* counted in SpattenState.nstaged */
    /*
     * The one copy of the SQE: sqe_size bytes (the queue's entry size
     * when it was fetched, 256 or 512), the rest zero.  The tag is at
     * the same offset in every descriptor version.
     */
    union {
        struct spatten_hw_desc v2;
        struct spatten_hw_desc_v3 v3;
        uint8_t raw[SPATTEN_SQE_SIZE_MAX];
    } sqe;
    uint32_t sqe_size;
    struct spe_job job;
    /* staged writes: SpattenStageHdr + data, repeated */
    uint8_t *stage;
    size_t stage_len;
    size_t stage_cap;
    size_t stage_last;      /* offset of the last header; valid if len */
    /*
     * Page-list entries of the operands the replay writes (raw, as in
     * guest memory), copied and checked by the engine once the job has
     * been computed: entries [plist_first, plist_first + plist_n).
     */
    uint64_t *plist[SPE_PLANE_COUNT];
    uint64_t plist_first[SPE_PLANE_COUNT];
    uint32_t plist_n[SPE_PLANE_COUNT];
    /* replay progress (bottom half): record at replay_pos, bytes done */
    size_t replay_pos;
    uint32_t replay_done;
    unsigned replay_plane;  /* plane of the record being replayed */
    uint64_t bytes[SPE_PLANE_COUNT];    /* read per plane */
    uint64_t bytes_written; /* written during the replay */
    uint64_t cycles;
    uint64_t lsb_refetches;
} SpattenJob;

typedef QTAILQ_HEAD(, SpattenJob) SpattenJobList;

/* The descriptor's tag, host-endian (offset 0x08 in every version). */
static inline uint32_t spatten_job_tag(const SpattenJob *job)
{
    return le32_to_cpu(job->sqe.v2.tag);
}

typedef struct SpattenQueue {
    /* configuration (guest registers) */
    uint64_t sq_base;
    uint64_t cq_base;
    uint32_t sq_size;
    uint32_t cq_size;
    uint32_t ctrl;
    uint32_t status;
    uint32_t vector;
    uint32_t sq_entry_size; /* SQ_ENTRY_SIZE as written (0 stored as 256) */
    uint32_t sq_esize;      /* SQ entry bytes latched by the enable */
    /* ring state */
    uint32_t sq_head;
    uint32_t sq_tail;
    uint32_t cq_head;
    uint32_t cq_tail;
    bool cq_phase;
    uint32_t inflight;      /* taken from the SQ, not posted to the CQ */
    uint64_t gen;           /* bumped on reset / disable, under lock */
} SpattenQueue;

typedef struct SpattenEngine {
    SpattenState *s;
    unsigned idx;
    QemuThread thread;
} SpattenEngine;

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
    uint64_t max_scratch;       /* engine scratch per job */
    bool msix;
    SpattenModel model;
    SpattenTiming timing;

    struct spe_caps caps;       /* constant after realize */
    uint64_t stage_limit;       /* effective max-job-bytes */

    /* guest-visible state, BQL */
    uint32_t ctrl;
    uint32_t fault;             /* FAULT register: SPATTEN_FAULT_* armed */
    bool reset_stuck;           /* a CTRL.RESET under RESET_STUCK: wedged */
    uint32_t intx_status;
    uint64_t cnt[SPATTEN_CNT_NUM];
    SpattenQueue q[SPATTEN_MAX_QUEUES];

    /* lifetime and run state, BQL */
    bool gone;                  /* unrealized: no more DMA or interrupts */
    bool vm_running;
    VMChangeStateEntry *vmstate_entry;
    SpattenJob *posting;        /* replay cut short by the BH budget */
    bool in_bh;                 /* spatten_bh() is running (tracing) */

    /* job lists, protected by lock */
    QemuMutex lock;
    QemuCond cond;
    SpattenJobList work[SPATTEN_MAX_QUEUES];  /* waiting for an engine */
    uint32_t nwork;             /* jobs on the work lists */
    uint32_t rr;                /* next queue an engine looks at */
    SpattenJobList running;     /* on an engine */
    SpattenJobList done;        /* waiting for the bottom half */
    bool stopping;              /* engines exit */
    bool paused;                /* VM stopped: engines take no new job */
    uint64_t pick_seq;          /* next SpattenJob.seq */
    uint32_t nstaged;           /* computed, not yet posted or dropped */
    uint32_t nstaged_max;       /* high-water mark of nstaged */

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

/* spatten.c */
const char *spatten_status_name(unsigned st);
bool spatten_dma_range_ok(uint32_t dma_bits, uint64_t addr, uint64_t len);
bool spatten_dma_untranslated(SpattenState *s);
void spatten_reset_state(SpattenState *s);

/* spatten-regs.c */
extern const MemoryRegionOps spatten_mmio_ops;

/* spatten-queue.c */
void spatten_job_free_stage(SpattenJob *job);
void spatten_job_free(SpattenJob *job);
void spatten_job_release(SpattenState *s, SpattenJob *job);
void spatten_free_list(SpattenJobList *list);
void spatten_drop_jobs(SpattenState *s, int qid);
void spatten_queue_clear(SpattenState *s, unsigned qid);
void spatten_queue_enable(SpattenState *s, unsigned qid);
void spatten_queue_disable(SpattenState *s, unsigned qid);
uint32_t spatten_ring_used(uint32_t head, uint32_t tail, uint32_t size);
void spatten_process_sq(SpattenState *s, unsigned qid);
void spatten_process_all(SpattenState *s);

/* spatten-engine.c */
void spatten_engines_start(SpattenState *s);
void spatten_engines_stop(SpattenState *s);

/* spatten-cq.c */
void spatten_bh(void *opaque);
void spatten_put(SpattenState *s);
void spatten_update_intx(SpattenState *s);
bool spatten_intx_mode(PCIDevice *pdev);

/* spatten-timing.c */
void spatten_timing_reset(SpattenState *s);
void spatten_timing_drop(SpattenState *s, int qid);
bool spatten_timing_hold(SpattenState *s, SpattenJob *job);
void spatten_timing_order(SpattenState *s, SpattenJob *job);
SpattenJob *spatten_timing_next_ordered(SpattenState *s);
SpattenJob *spatten_timing_next_due(SpattenState *s);
void spatten_timing_rearm(SpattenState *s);
void spatten_timer_cb(void *opaque);

#endif /* HW_MISC_SPATTEN_H */
