/* SPDX-License-Identifier: GPL-2.0 */
/*
 * SpAtten driver: the device, the open file and the helpers every file of
 * the driver shares. Lifetimes and locks: docs/driver.md.
 */
#ifndef SPATTEN_DRV_H
#define SPATTEN_DRV_H

#include <linux/atomic.h>
#include <linux/kref.h>
#include <linux/ktime.h>
#include <linux/llist.h>
#include <linux/list.h>
#include <linux/mutex.h>
#include <linux/pci.h>
#include <linux/spinlock.h>
#include <linux/types.h>
#include <linux/wait.h>
#include <linux/workqueue.h>
#include <linux/xarray.h>

#include <drm/drm_device.h>
#include <drm/drm_file.h>
#include <drm/drm_print.h>
#include <drm/gpu_scheduler.h>

#include "spatten_hw.h"
#include "uapi/drm/spatten_accel.h"

#define SPATTEN_DRV_NAME		"spatten"
#define SPATTEN_DRV_DESC		"SpAtten sparse-attention accelerator"

/* Driver limits. */
#define SPATTEN_MAX_DEPTH		256		/* ring entries per queue */
#define SPATTEN_MAX_BO_SIZE		(256ULL << 20)	/* bytes */
#define SPATTEN_MAX_JOBS		4096		/* unreaped, per file */
#define SPATTEN_READY_TIMEOUT_US	(500 * USEC_PER_MSEC)

/* drm_dbg() categories are the DRM core's; this is the driver's own mask. */
#define SPATTEN_DBG_JOB			BIT(0)
#define SPATTEN_DBG_BO			BIT(1)
extern unsigned int spatten_debug;
extern bool spatten_unsafe_fault_injection;

#define spatten_dbg(sdev, cat, fmt, ...)				\
	do {								\
		if (spatten_debug & SPATTEN_DBG_##cat)			\
			drm_dbg_driver(&(sdev)->drm, fmt, ##__VA_ARGS__); \
	} while (0)

/**
 * struct spatten_caps - capability registers, read once at probe
 * @version: VERSION register
 * @engines: CAP_ENGINES
 * @queues: CAP_QUEUES
 * @queue_depth: CAP_QUEUE_DEPTH
 * @max_context: CAP_MAX_CONTEXT
 * @max_heads: CAP_MAX_HEADS
 * @head_dims: CAP_HEAD_DIMS
 * @formats: CAP_FORMATS
 * @splits: CAP_SPLITS
 * @features: CAP_FEATURES
 * @dma_bits: CAP_DMA_BITS
 * @desc_size: CAP_DESC_SIZE
 * @sqe_size: bytes per SQ entry the driver uses: 512 on a board with
 *	descriptor version 3 (QREG_SQ_ENTRY_SIZE), else SPATTEN_DESC_SIZE
 */
struct spatten_caps {
	u32 version;
	u32 engines;
	u32 queues;
	u32 queue_depth;
	u32 max_context;
	u32 max_heads;
	u32 head_dims;
	u32 formats;
	u32 splits;
	u32 features;
	u32 dma_bits;
	u32 desc_size;
	u32 sqe_size;
};

struct spatten_device;
struct spatten_job;

/**
 * struct spatten_queue - one hardware queue pair and its scheduler
 * @sdev: owning board
 * @id: queue index, also the upper half of every tag on this queue
 * @depth: entries of the SQ and of the CQ
 * @irq: Linux IRQ of this queue's MSI-X vector once requested, else 0
 * @irq_name: name of that interrupt
 * @sched: the DRM scheduler feeding this ring (credits: @depth - 1)
 * @tdr_left: what was left of @sched's job timeout when a system suspend
 *	paused it (under the board's @reset_lock)
 * @queued: jobs given to @sched and not freed by it yet, ring included
 * @fence_ctx: dma_fence context of the ring's hardware fences
 * @fence_seqno: last hardware fence sequence number
 * @fence_lock: lock of the ring's hardware fences
 * @lock: protects the ring state below; taken by run_job, the IRQ thread
 *	and the reset path
 * @sq: submission ring (coherent DMA)
 * @cq: completion ring (coherent DMA)
 * @sq_dma: bus address of @sq
 * @cq_dma: bus address of @cq
 * @sq_tail: next SQ entry the driver writes
 * @cq_head: next CQ entry the driver reads
 * @cq_phase: phase bit the entry at @cq_head has once the device posts it
 * @inflight: jobs on the ring
 * @slot_hint: where the search for a free tag slot starts
 * @slots: job of each tag slot, NULL when free
 * @order: jobs given to the ring whose fence has not signalled, in the
 *	order they went on it (fences signal in that order)
 * @last_retire: when a job of @order last retired
 */
struct spatten_queue {
	struct spatten_device *sdev;
	u16 id;
	u32 depth;
	int irq;
	char irq_name[40];

	struct drm_gpu_scheduler sched;
	unsigned long tdr_left;
	atomic_t queued;
	u64 fence_ctx;
	u64 fence_seqno;
	spinlock_t fence_lock;	/* hardware fences of this ring */

	spinlock_t lock;	/* ring state, see above */
	u8 *sq;			/* depth entries of caps.sqe_size */
	struct spatten_hw_cqe *cq;
	dma_addr_t sq_dma;
	dma_addr_t cq_dma;
	u32 sq_tail;
	u32 cq_head;
	u16 cq_phase;
	u32 inflight;
	u32 slot_hint;
	struct spatten_job **slots;
	struct list_head order;
	ktime_t last_retire;
};

struct spatten_dump;

/**
 * struct spatten_device - one board
 * @drm: the DRM device (accel or render node)
 * @pdev: the PCI device
 * @regs: BAR0; touched only inside drm_dev_enter() or before registration
 * @caps: capability registers
 * @nr_queues: queue pairs in use
 * @queue_depth: entries per queue in use
 * @nr_vectors: interrupt vectors allocated
 * @msix: one MSI-X vector per queue
 * @intx: one shared legacy interrupt
 * @irq_single: Linux IRQ of the single vector when !@msix and requested
 * @queues: the queue pairs
 * @scheds: &queues[i].sched, for entities
 * @bo_lock: protects @bo_list and every buffer's device mapping
 * @bo_list: buffer objects with a device mapping
 * @user_pages: pfn -> user-pointer buffer, for every pinned user page: a
 *	page is in one user-pointer buffer of the board at most
 * @reset_lock: serializes resets, unplug and nop_bench against each other
 * @broken: a reset failed: the device is off the bus, SUBMIT fails -EIO
 * @unplugged: remove() ran: the queues are stopped for good
 * @hw_off: the device is stopped by a suspend (runtime or system): its
 *	registers are not read; written under @reset_lock and @cnt_lock
 * @pm_paused: system sleep: the schedulers are paused (@reset_lock)
 * @pm_sys_off: system sleep stopped the device; its resume restarts it
 * @cnt_lock: protects @cnt_base and @hw_off for counter readers
 * @cnt_base: device counters accumulated before each suspend (a suspend
 *	resets the device, which zeroes its counters)
 * @timeout_ms: job timeout on an engine (module parameter, debugfs)
 * @force_timeout: debugfs: while set, jobs go on the ring without a
 *	doorbell, so they time out; a reset clears it
 * @drop_irq: debugfs: interrupts still to ignore
 * @inject_dma: debugfs, unsafe: attention jobs still to give an unbacked
 *	page-list address
 * @inject_dma_write: debugfs, unsafe: attention jobs still to give an
 *	output page list of unbacked pages
 * @bad_list: page list of unbacked page addresses for @inject_dma_write
 * @bad_list_dma: bus address of @bad_list
 * @nr_resets: device resets by the driver
 * @nr_timeouts: jobs that timed out
 * @nr_irqs_dropped: interrupts ignored through @drop_irq
 * @nr_suspends: system suspends (and hibernation freezes)
 * @nr_resumes: system resumes
 * @nr_rt_suspends: runtime suspends (the device idle)
 * @nr_rt_resumes: runtime resumes
 * @debugfs: the board's knob directory
 * @reset_owner: the task holding @reset_lock for a scheduler stop
 *	(spatten_reset_lock()), whose free_job calls are deferred
 * @reset_freed: jobs drm_sched_stop() freed under @reset_lock, put by
 *	spatten_reset_unlock()
 * @coredump: a hang's dump captured by the timeout handler, not yet handed
 *	to devcoredump (taken with xchg())
 * @coredump_work: hands @coredump to devcoredump, out of the timeout path
 */
struct spatten_device {
	struct drm_device drm;
	struct pci_dev *pdev;
	void __iomem *regs;

	struct spatten_caps caps;
	u32 nr_queues;
	u32 queue_depth;
	int nr_vectors;
	bool msix;
	bool intx;
	int irq_single;
	struct spatten_queue queues[SPATTEN_MAX_QUEUES];
	struct drm_gpu_scheduler *scheds[SPATTEN_MAX_QUEUES];

	struct mutex bo_lock;	/* @bo_list, device mappings */
	struct list_head bo_list;
	struct xarray user_pages;

	struct mutex reset_lock;	/* resets, unplug, nop_bench */
	struct task_struct *reset_owner;
	struct list_head reset_freed;	/* under @reset_lock */
	bool broken;
	bool unplugged;
	bool hw_off;
	bool pm_paused;
	bool pm_sys_off;
	spinlock_t cnt_lock;	/* @cnt_base, @hw_off */
	u64 cnt_base[SPATTEN_CNT_NUM];
	u32 timeout_ms;
	atomic_t force_timeout;
	atomic_t drop_irq;
	atomic_t inject_dma;
	atomic_t inject_dma_write;
	__le64 *bad_list;
	dma_addr_t bad_list_dma;
	atomic_t nr_resets;
	atomic_t nr_timeouts;
	atomic_t nr_irqs_dropped;
	atomic_t nr_suspends;
	atomic_t nr_resumes;
	atomic_t nr_rt_suspends;
	atomic_t nr_rt_resumes;
	struct dentry *debugfs;
	struct spatten_dump *coredump;
	struct work_struct coredump_work;
};

/**
 * struct spatten_file - one open file (drm_file.driver_priv)
 * @ref: held by the file and by each of its jobs until freed
 * @sdev: the board (a reference to its DRM device is held until freed)
 * @free_node: on the list of files to free (spatten_file_release())
 * @entity: the file's scheduler entity (every queue of the board)
 * @client_id: fdinfo drm-client-id
 * @submit_lock: serializes SUBMIT (sequence numbers, entity pushes)
 * @next_seqno: seqno of the next job; 1 for the first
 * @jobs: seqno -> struct spatten_job, submitted and not reaped; its lock
 *	(xa_lock_irq) also protects @done, @nr_jobs, @nr_done and @closed
 * @done: completed jobs not reaped, in completion order
 * @nr_jobs: entries of @jobs
 * @nr_done: entries of @done
 * @closed: postclose ran: completions no longer go to @done
 * @banned: one of the file's jobs hung the device: SUBMIT fails
 * @wq: woken when a job completes or the board goes away
 * @engine_ns: engine time of the file's completed jobs (fdinfo)
 * @cycles: modeled device cycles of the file's completed jobs (fdinfo)
 */
struct spatten_file {
	struct kref ref;
	struct spatten_device *sdev;
	struct llist_node free_node;
	struct drm_sched_entity entity;
	u64 client_id;
	struct mutex submit_lock;	/* seqno order of pushes */
	u64 next_seqno;
	struct xarray jobs;
	struct list_head done;
	u32 nr_jobs;
	u32 nr_done;
	bool closed;
	bool banned;
	wait_queue_head_t wq;
	atomic64_t engine_ns;
	atomic64_t cycles;
};

/**
 * struct spatten_live - objects of the module alive now, for the
 * reliability tests (debugfs spatten/objects): they return to their level
 * once every file is closed and every job has completed
 * @devs: struct spatten_device
 * @ctxs: struct spatten_file
 * @bos: struct spatten_bo
 * @bo_pages: pages of those buffers
 * @jobs: struct spatten_job
 * @fences: hardware fences of jobs that went on a ring, not freed yet (they
 *	may be kept anywhere: module exit waits for them)
 */
struct spatten_live {
	atomic_t devs;
	atomic_t ctxs;
	atomic_t bos;
	atomic_long_t bo_pages;
	atomic_t jobs;
	atomic_t fences;
};

extern struct spatten_live spatten_live;

static inline struct spatten_device *to_spatten_device(struct drm_device *drm)
{
	return container_of(drm, struct spatten_device, drm);
}

static inline u32 spatten_rd(struct spatten_device *sdev, u32 reg)
{
	return readl(sdev->regs + reg);
}

static inline void spatten_wr(struct spatten_device *sdev, u32 reg, u32 val)
{
	writel(val, sdev->regs + reg);
}

/* spatten_drv.c */
void spatten_file_put(struct spatten_file *sfile);

/* spatten_sysfs.c */
extern const struct attribute_group *spatten_dev_groups[];
u64 spatten_read_counter(struct spatten_device *sdev, unsigned int idx);
u64 spatten_read_counter_hw(struct spatten_device *sdev, unsigned int idx);

/* spatten_debugfs.c */
void spatten_debugfs_init(struct spatten_device *sdev);
void spatten_debugfs_fini(struct spatten_device *sdev);
void spatten_debugfs_root_init(void);
void spatten_debugfs_root_fini(void);

/* spatten_bench.c */
void spatten_nop_bench_init(struct spatten_device *sdev);

#endif /* SPATTEN_DRV_H */
