/* SPDX-License-Identifier: GPL-2.0 */
/*
 * SpAtten driver: private structures shared by the driver's files.
 *
 * Object lifetimes (all kref counted):
 *  - struct spatten_dev: one per board. Held by the PCI binding (dropped at
 *    the end of remove()), by every open file context and by every buffer
 *    object, so none of them ever points at freed memory after an unbind.
 *  - struct spatten_ctx: one per open file. Held by the file and by every
 *    job of the file that the device may still run.
 *  - struct spatten_bo: held by its handle in the file's table, by every
 *    job that uses it (until the job completes) and by every VMA mapping it.
 *  - struct spatten_kjob: not counted; owned by the submitting file's job
 *    table until WAIT reaps it, or freed by the completion path when the
 *    file was closed while the job was in flight (an "orphan").
 */
#ifndef SPATTEN_DRV_H
#define SPATTEN_DRV_H

#include <linux/atomic.h>
#include <linux/kref.h>
#include <linux/list.h>
#include <linux/miscdevice.h>
#include <linux/mutex.h>
#include <linux/pci.h>
#include <linux/rwsem.h>
#include <linux/spinlock.h>
#include <linux/types.h>
#include <linux/wait.h>
#include <linux/workqueue.h>
#include <linux/xarray.h>

#include "spatten_hw.h"
#include "uapi/spatten.h"

#define SPATTEN_DRV_NAME		"spatten"

/* Driver limits. */
#define SPATTEN_MAX_DEPTH		256		/* entries per queue */
#define SPATTEN_MAX_BO_SIZE		(256ULL << 20)	/* bytes */
#define SPATTEN_MAX_HANDLES		((1U << 20) - 1) /* per open file */
#define SPATTEN_MAX_JOBS		4096		/* unreaped, per file */
#define SPATTEN_READY_TIMEOUT_US	(500 * USEC_PER_MSEC)
#define SPATTEN_BACKLOG_MAX		1024		/* queued jobs per queue */
#define SPATTEN_WATCHDOG_MS		250		/* CQ poll + timeouts */

/*
 * mmap offset of a buffer object: handle << SPATTEN_MMAP_SHIFT. Each buffer
 * gets a 4 GiB window of the file's offset space, so a mapping may start at
 * any page of the buffer.
 */
#define SPATTEN_MMAP_SHIFT		32
#define SPATTEN_MMAP_PGSHIFT		(SPATTEN_MMAP_SHIFT - PAGE_SHIFT)

/* Operands of a job, in descriptor order. */
enum spatten_tensor_idx {
	SPATTEN_T_Q,
	SPATTEN_T_K,
	SPATTEN_T_V,
	SPATTEN_T_OUT,
	SPATTEN_T_K_LSB,
	SPATTEN_T_TOK_IMP,
	SPATTEN_T_TOK_ALIVE,
	SPATTEN_T_TOK_KEPT,
	SPATTEN_T_PINNED,
	SPATTEN_T_HEAD_IMP,
	SPATTEN_T_HEAD_ALIVE,
	SPATTEN_T_HEAD_KEPT,
	SPATTEN_T_NUM,
};

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
};

struct spatten_dev;
struct spatten_kjob;

/**
 * struct spatten_queue - one submission/completion queue pair
 * @sdev: owning board
 * @id: queue index, also the upper half of every tag on this queue
 * @depth: entries of the SQ and of the CQ
 * @irq: Linux IRQ of this queue's MSI-X vector once requested, else 0
 * @irq_name: name of that interrupt
 * @lock: protects everything below; taken by SUBMIT and the IRQ thread
 * @sq: submission ring (coherent DMA)
 * @cq: completion ring (coherent DMA)
 * @sq_dma: bus address of @sq
 * @cq_dma: bus address of @cq
 * @sq_tail: next SQ entry the driver writes
 * @cq_head: next CQ entry the driver reads
 * @cq_phase: phase bit the entry at @cq_head has once the device posts it
 * @inflight: jobs on the ring (at most @depth - 1)
 * @queued: jobs on the ring plus jobs on @pending (at most
 *	SPATTEN_BACKLOG_MAX: SUBMIT waits or fails with -EAGAIN beyond)
 * @stopped: the device is being reset: jobs stay on @pending
 * @slot_hint: where the search for a free tag slot starts
 * @slots: job of each tag slot, NULL when free
 * @pending: accepted jobs waiting for room on the ring, in order
 * @space_wq: woken when @queued drops or the device goes away
 */
struct spatten_queue {
	struct spatten_dev *sdev;
	u16 id;
	u32 depth;
	int irq;
	char irq_name[40];

	spinlock_t lock;	/* ring state, see above */
	struct spatten_hw_desc *sq;
	struct spatten_hw_cqe *cq;
	dma_addr_t sq_dma;
	dma_addr_t cq_dma;
	u32 sq_tail;
	u32 cq_head;
	u16 cq_phase;
	u32 inflight;
	u32 queued;
	bool stopped;
	u32 slot_hint;
	struct spatten_kjob **slots;
	struct list_head pending;
	wait_queue_head_t space_wq;
};

/**
 * struct spatten_dev - one board
 * @ref: see the top of this file
 * @pdev: the PCI device (a reference is held)
 * @regs: BAR0; only touched while bound (see @dead)
 * @index: N of /dev/spattenN
 * @name: "spattenN"
 * @misc: the character device
 * @rwsem: ioctls and mmap() that touch the device hold it for reading;
 *	remove() takes it for writing to set @dead
 * @dead: the device is gone: every later ioctl fails with -ENODEV
 * @torn_down: spatten_dev_teardown() already ran
 * @caps: capability registers
 * @nr_queues: queue pairs in use
 * @queue_depth: entries per queue in use
 * @nr_vectors: interrupt vectors allocated
 * @msix: one MSI-X vector per queue
 * @intx: one shared legacy interrupt
 * @irq_single: Linux IRQ of the single vector when !@msix and requested
 * @queues: the queue pairs
 * @bo_lock: protects @bo_list and every buffer's DMA mapping state
 * @bo_list: buffer objects of this board
 * @mapped_pages: page frame number -> buffer, for every page mapped for
 *	the device: a page is mapped once at most (two device-writable
 *	mappings of one page are undefined under the DMA API)
 * @ctx_lock: protects @ctx_list
 * @ctx_list: open file contexts, woken when the device goes away
 * @reset_lock: serializes device resets (timeout recovery, PCI resets)
 * @broken: a reset failed: SUBMIT fails with -EIO
 * @watchdog: polls the completion queues (lost interrupts) and expires
 *	jobs older than @timeout_ms while jobs are on a ring
 * @timeout_ms: per-job timeout, from the job_timeout_ms module parameter;
 *	debugfs may change it
 * @force_timeout: debugfs knob: while non-zero, jobs are put on the rings
 *	without ringing the doorbell, so they time out; a reset clears it
 * @drop_irq: debugfs knob: number of interrupts still to ignore
 * @inject_dma: debugfs knob: number of attention jobs still to give an
 *	unbacked page-list address (the device fails them with DMA_READ)
 * @inject_dma_write: debugfs knob: number of attention jobs still to give
 *	an output page list whose pages no memory answers to (the device fails
 *	them with DMA_WRITE)
 * @bad_list: page list of unbacked page addresses for @inject_dma_write
 * @bad_list_dma: bus address of @bad_list
 * @nr_resets: device resets done by the driver
 * @nr_timeouts: jobs that timed out
 * @nr_irqs_dropped: interrupts ignored through @drop_irq
 * @debugfs: debugfs directory of the board
 */
struct spatten_dev {
	struct kref ref;
	struct pci_dev *pdev;
	void __iomem *regs;
	int index;
	char name[24];
	struct miscdevice misc;

	struct rw_semaphore rwsem;
	bool dead;
	bool torn_down;

	struct spatten_caps caps;
	u32 nr_queues;
	u32 queue_depth;
	int nr_vectors;
	bool msix;
	bool intx;
	int irq_single;
	struct spatten_queue queues[SPATTEN_MAX_QUEUES];

	struct mutex bo_lock;	/* @bo_list, DMA mapping state */
	struct list_head bo_list;
	struct xarray mapped_pages;
	struct mutex ctx_lock;	/* @ctx_list */
	struct list_head ctx_list;

	struct mutex reset_lock;	/* device resets */
	bool broken;
	struct delayed_work watchdog;
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
	struct dentry *debugfs;
};

/**
 * struct spatten_ctx - one open file
 * @ref: held by the file and by each job the device may still run
 * @sdev: the board (a reference is held)
 * @node: entry in the board's @ctx_list
 * @bos: handle -> struct spatten_bo, handles from 1
 * @jobs: seqno -> struct spatten_kjob; the xarray's own lock also protects
 *	the completion state of every job and @nr_jobs / @nr_done
 * @submit_lock: serializes seqno assignment in SUBMIT
 * @next_seqno: seqno of the next job; 1 for the first
 * @nr_jobs: jobs in @jobs (accepted, not reaped)
 * @nr_done: jobs in @jobs that completed (what poll() reports)
 * @wq: woken when a job of this file completes or the device goes away
 */
struct spatten_ctx {
	struct kref ref;
	struct spatten_dev *sdev;
	struct list_head node;
	struct xarray bos;
	struct xarray jobs;
	struct mutex submit_lock;	/* seqno assignment */
	u64 next_seqno;
	u32 nr_jobs;
	u32 nr_done;
	wait_queue_head_t wq;
};

/**
 * struct spatten_bo - buffer object: pages mapped for the device, listed in
 * a page list the device walks
 * @ref: see the top of this file
 * @sdev: the board (a reference is held)
 * @node: entry in the board's @bo_list
 * @size: bytes, a multiple of PAGE_SIZE
 * @npages: pages
 * @pages: the pages
 * @dma: bus address of each page
 * @list: page list for the device (coherent DMA): @dma as __le64
 * @list_dma: bus address of @list
 * @mapped: @dma and @list are valid (false once the device went away);
 *	protected by the board's @bo_lock
 * @mm: imported buffers: the address space whose pages are pinned and
 *	whose locked_vm was charged (a reference is held); NULL otherwise
 */
struct spatten_bo {
	struct kref ref;
	struct spatten_dev *sdev;
	struct list_head node;
	u64 size;
	unsigned long npages;
	struct page **pages;
	dma_addr_t *dma;
	__le64 *list;
	dma_addr_t list_dma;
	bool mapped;
	struct mm_struct *mm;
};

/**
 * struct spatten_kjob - a job accepted by SUBMIT
 * @node: on the queue's pending list, or a local list while completing
 * @ctx: submitting file (a reference is held until the job is freed)
 * @q: queue the job was given to
 * @seqno: sequence number
 * @user_data: returned by WAIT
 * @bo: buffers used (references held until completion), NULL if unused
 * @off: byte offset of each operand in its buffer
 * @len: byte length of each operand
 * @desc: the descriptor as the device gets it (tag filled on the ring)
 * @status: enum spatten_hw_status
 * @bytes_q: completion counters from the CQE
 * @bytes_k_msb: see @bytes_q
 * @bytes_k_lsb: see @bytes_q
 * @bytes_v: see @bytes_q
 * @bytes_written: see @bytes_q
 * @cycles: see @bytes_q
 * @lsb_refetches: see @bytes_q
 * @deadline: jiffies by which the job must complete once on the ring
 * @timed_out: the watchdog expired the job
 * @done: completed (under the file's @jobs lock)
 * @orphan: the file was closed: the completion path frees the job
 * @claimed: a WAIT is copying the result out
 */
struct spatten_kjob {
	struct list_head node;
	struct spatten_ctx *ctx;
	struct spatten_queue *q;
	u64 seqno;
	u64 user_data;
	struct spatten_bo *bo[SPATTEN_T_NUM];
	u64 off[SPATTEN_T_NUM];
	u64 len[SPATTEN_T_NUM];
	struct spatten_hw_desc desc;

	u16 status;
	u64 bytes_q;
	u64 bytes_k_msb;
	u64 bytes_k_lsb;
	u64 bytes_v;
	u64 bytes_written;
	u64 cycles;
	u32 lsb_refetches;
	unsigned long deadline;
	bool timed_out;

	bool done;
	bool orphan;
	bool claimed;
};

/**
 * struct spatten_live - objects of the module alive now, for the
 * reliability tests (debugfs spatten/objects): they return to their level
 * once every file is closed and every job has completed
 * @devs: struct spatten_dev
 * @ctxs: struct spatten_ctx
 * @bos: struct spatten_bo
 * @bo_pages: pages of those buffers
 * @jobs: struct spatten_kjob
 */
struct spatten_live {
	atomic_t devs;
	atomic_t ctxs;
	atomic_t bos;
	atomic_long_t bo_pages;
	atomic_t jobs;
};

extern struct spatten_live spatten_live;

static inline u32 spatten_rd(struct spatten_dev *sdev, u32 reg)
{
	return readl(sdev->regs + reg);
}

static inline void spatten_wr(struct spatten_dev *sdev, u32 reg, u32 val)
{
	writel(val, sdev->regs + reg);
}

/* spatten_main.c, spatten_sysfs.c */
void spatten_dev_put(struct spatten_dev *sdev);
void spatten_ctx_put(struct spatten_ctx *ctx);
extern const struct attribute_group *spatten_attr_groups[];
void spatten_debugfs_init(struct spatten_dev *sdev);
void spatten_debugfs_fini(struct spatten_dev *sdev);
void spatten_debugfs_root_init(void);
void spatten_debugfs_root_fini(void);

/* spatten_bench.c */
void spatten_nop_bench_init(struct spatten_dev *sdev);

/* spatten_queue.c */
int spatten_hw_reset(struct spatten_dev *sdev);
void spatten_hw_disable(struct spatten_dev *sdev);
int spatten_queues_init(struct spatten_dev *sdev);
int spatten_vectors_init(struct spatten_dev *sdev);
int spatten_irqs_init(struct spatten_dev *sdev);
void spatten_irqs_fini(struct spatten_dev *sdev);
void spatten_queue_submit(struct spatten_queue *q, struct list_head *jobs);
void spatten_queues_abort(struct spatten_dev *sdev);
u64 spatten_read_counter(struct spatten_dev *sdev, unsigned int idx);
int spatten_queue_reserve(struct spatten_queue *q, u32 count, bool nonblock);
void spatten_queue_unreserve(struct spatten_queue *q, u32 count);
void spatten_dev_quiesce(struct spatten_dev *sdev, bool touch_hw);
int spatten_dev_restart(struct spatten_dev *sdev);
void spatten_watchdog_fn(struct work_struct *work);

/* spatten_bo.c */
int spatten_ioctl_bo_create(struct spatten_ctx *ctx, void __user *arg);
int spatten_ioctl_bo_destroy(struct spatten_ctx *ctx, void __user *arg);
int spatten_ioctl_bo_import(struct spatten_ctx *ctx, void __user *arg);
struct spatten_bo *spatten_bo_lookup(struct spatten_ctx *ctx, u32 handle);
void spatten_bo_put(struct spatten_bo *bo);
void spatten_bo_sync(struct spatten_bo *bo, u64 off, u64 len, bool for_cpu,
		     enum dma_data_direction dir);
void spatten_bos_unmap_all(struct spatten_dev *sdev);
void spatten_ctx_destroy_bos(struct spatten_ctx *ctx);
int spatten_mmap(struct file *file, struct vm_area_struct *vma);

/* spatten_job.c */
int spatten_ioctl_submit(struct spatten_ctx *ctx, void __user *arg,
			 bool nonblock);
int spatten_ioctl_wait(struct spatten_ctx *ctx, void __user *arg);
void spatten_job_complete(struct spatten_kjob *job);
void spatten_ctx_release_jobs(struct spatten_ctx *ctx);

#endif /* SPATTEN_DRV_H */
