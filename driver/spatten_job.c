// SPDX-License-Identifier: GPL-2.0
/*
 * SpAtten driver: SUBMIT and WAIT.
 *
 * SUBMIT validates every job of a batch, resolves its buffer handles in the
 * submitting file only, builds the device descriptors and then accepts the
 * whole batch or none of it. Accepted jobs get consecutive sequence numbers
 * and stay in the file's job table until WAIT reaps them.
 */
#include <linux/dma-mapping.h>
#include <linux/hrtimer.h>
#include <linux/ktime.h>
#include <linux/log2.h>
#include <linux/slab.h>
#include <linux/smp.h>
#include <linux/string.h>
#include <linux/uaccess.h>
#include <linux/wait.h>

#include "spatten_drv.h"

/* Largest fractional bit count of a 16-bit fixed-point element. */
#define SPATTEN_MAX_FRAC	15

/* Largest lsb_threshold: a probability of 1.0 in units of 2^-15. */
#define SPATTEN_MAX_LSB_THRESHOLD	BIT(15)

static bool spatten_fmt_ok(const struct spatten_caps *caps, u8 fmt, u8 frac)
{
	return fmt < 32 && (caps->formats & BIT(fmt)) &&
	       spatten_hw_fmt_bits(fmt) && frac <= SPATTEN_MAX_FRAC;
}

/* The operands of a job in enum spatten_tensor_idx order. */
static const struct spatten_tensor *spatten_job_tensor(const struct spatten_job *uj,
						       unsigned int idx)
{
	const struct spatten_tensor *t[SPATTEN_T_NUM] = {
		&uj->q, &uj->k, &uj->v, &uj->out, &uj->k_lsb, &uj->tok_imp,
		&uj->tok_alive, &uj->tok_kept, &uj->pinned, &uj->head_imp,
		&uj->head_alive, &uj->head_kept,
	};

	return t[idx];
}

/* Does the job name any version 2 operand, count or field? */
static bool spatten_job_has_v2(const struct spatten_job *uj)
{
	unsigned int i;

	for (i = SPATTEN_T_K_LSB; i < SPATTEN_T_NUM; i++) {
		const struct spatten_tensor *t = spatten_job_tensor(uj, i);

		if (t->handle || t->flags || t->offset)
			return true;
	}
	return uj->n_tok_alive || uj->token_keep || uj->n_pinned ||
	       uj->n_head_alive || uj->head_keep || uj->value_keep ||
	       uj->lsb_threshold || uj->rsvd2 || uj->topk_seed || uj->rsvd3 ||
	       (uj->flags & SPATTEN_DESC_F_PROGRESSIVE);
}

/* An optional operand is present exactly when @required says so. */
static bool spatten_presence_ok(const struct spatten_tensor *t, bool required)
{
	return !!t->handle == required;
}

/**
 * spatten_job_check_v2() - static checks of the pruning and progressive
 * fields: features, presence of the optional operands, keep counts
 * @caps: capabilities
 * @uj: an attention job whose version 1 fields passed
 *
 * The same checks the device makes at decode (docs/hardware.md, "Checks at
 * run time"); the lists themselves are checked by the device.
 *
 * Return: 0 or -EINVAL.
 */
static int spatten_job_check_v2(const struct spatten_caps *caps,
				const struct spatten_job *uj)
{
	bool progressive = uj->flags & SPATTEN_DESC_F_PROGRESSIVE;
	u32 tok_limit, head_limit;

	if (uj->rsvd2 || uj->rsvd3)
		return -EINVAL;

	/* Features. */
	if (progressive) {
		u32 bits = spatten_hw_fmt_bits(uj->k_fmt);

		if (!(caps->features & SPATTEN_FEAT_PROGRESSIVE) ||
		    uj->k_fmt == SPATTEN_FMT_S16 || bits >= 32 ||
		    !(caps->splits & BIT(bits)))
			return -EINVAL;
	}
	if (uj->token_keep && !(caps->features & SPATTEN_FEAT_TOKEN_PRUNE))
		return -EINVAL;
	if (uj->head_keep && !(caps->features & SPATTEN_FEAT_HEAD_PRUNE))
		return -EINVAL;
	if (uj->value_keep && !(caps->features & SPATTEN_FEAT_VALUE_PRUNE))
		return -EINVAL;

	/* Summarization with a token list or pruning: query row i is token i. */
	if (uj->stage == SPATTEN_STAGE_SUMMARIZATION &&
	    (uj->n_tok_alive || uj->token_keep) &&
	    (uj->q_rows != uj->kv_rows || uj->q_start))
		return -EINVAL;

	/* Keep counts, as the device checks them at decode. */
	if (uj->n_tok_alive > uj->kv_rows || uj->n_pinned > uj->kv_rows ||
	    uj->n_head_alive > uj->n_heads || uj->value_keep > uj->kv_rows ||
	    uj->lsb_threshold > SPATTEN_MAX_LSB_THRESHOLD)
		return -EINVAL;
	head_limit = uj->n_head_alive ? uj->n_head_alive : uj->n_heads;
	tok_limit = uj->n_tok_alive ? uj->n_tok_alive + 1u : uj->kv_rows;
	if (uj->head_keep > head_limit || uj->token_keep > tok_limit)
		return -EINVAL;
	if (uj->n_pinned && !uj->token_keep)
		return -EINVAL;

	/* Presence: required exactly when a count or flag asks for it. */
	if (!spatten_presence_ok(&uj->k_lsb, progressive) ||
	    !spatten_presence_ok(&uj->tok_alive, uj->n_tok_alive) ||
	    !spatten_presence_ok(&uj->tok_kept, uj->token_keep) ||
	    !spatten_presence_ok(&uj->pinned, uj->n_pinned) ||
	    !spatten_presence_ok(&uj->head_alive, uj->n_head_alive) ||
	    !spatten_presence_ok(&uj->head_kept, uj->head_keep))
		return -EINVAL;
	if ((uj->token_keep && !uj->tok_imp.handle) ||
	    (uj->head_keep && !uj->head_imp.handle))
		return -EINVAL;
	return 0;
}

/**
 * spatten_job_check() - validate the fields of a job that need no handle
 * @sdev: the board (capabilities)
 * @uj: the job as copied from userspace
 *
 * Return: 0 or -EINVAL.
 */
static int spatten_job_check(const struct spatten_dev *sdev,
			     const struct spatten_job *uj)
{
	const struct spatten_caps *caps = &sdev->caps;
	bool causal = uj->flags & SPATTEN_DESC_F_CAUSAL;
	unsigned int i;

	if (uj->version < SPATTEN_DESC_VERSION_MIN ||
	    uj->version > SPATTEN_DESC_VERSION)
		return -EINVAL;
	if (uj->opcode != SPATTEN_OP_NOP && uj->opcode != SPATTEN_OP_ATTENTION)
		return -EINVAL;
	if (uj->flags & ~SPATTEN_DESC_F_ALL)
		return -EINVAL;
	if (uj->stage != SPATTEN_STAGE_SUMMARIZATION &&
	    uj->stage != SPATTEN_STAGE_GENERATION)
		return -EINVAL;
	if (uj->rsvd0 || uj->rsvd1 ||
	    memchr_inv(uj->rsvd, 0, sizeof(uj->rsvd)))
		return -EINVAL;
	for (i = 0; i < SPATTEN_T_NUM; i++)
		if (spatten_job_tensor(uj, i)->flags)
			return -EINVAL;
	/* Version 1: every version 2 field is zero. */
	if (uj->version == 1 && spatten_job_has_v2(uj))
		return -EINVAL;

	if (uj->opcode == SPATTEN_OP_NOP) {
		struct spatten_job rest = *uj;

		/* A NOP carries nothing but its opcode and user data. */
		rest.opcode = 0;
		rest.version = 0;
		rest.user_data = 0;
		return memchr_inv(&rest, 0, sizeof(rest)) ? -EINVAL : 0;
	}

	if (causal && !(caps->features & SPATTEN_FEAT_CAUSAL))
		return -EINVAL;
	if (uj->stage == SPATTEN_STAGE_GENERATION &&
	    !(caps->features & SPATTEN_FEAT_GENERATION))
		return -EINVAL;

	if (!uj->n_heads || uj->n_heads > caps->max_heads)
		return -EINVAL;
	if (!is_power_of_2(uj->head_dim) ||
	    !(caps->head_dims & BIT(ilog2(uj->head_dim))))
		return -EINVAL;
	if (!uj->q_rows || uj->q_rows > caps->max_context ||
	    !uj->kv_rows || uj->kv_rows > caps->max_context)
		return -EINVAL;

	/* The same position rules as the device (engine/spe_desc.c). */
	if (causal) {
		if ((u32)uj->q_start + uj->q_rows > uj->kv_rows)
			return -EINVAL;
	} else if (uj->q_start) {
		return -EINVAL;
	}
	if (uj->stage == SPATTEN_STAGE_GENERATION &&
	    (uj->q_rows != 1 || uj->q_start != uj->kv_rows - 1))
		return -EINVAL;

	if (!spatten_fmt_ok(caps, uj->q_fmt, uj->q_frac) ||
	    !spatten_fmt_ok(caps, uj->k_fmt, uj->k_frac) ||
	    !spatten_fmt_ok(caps, uj->v_fmt, uj->v_frac) ||
	    !spatten_fmt_ok(caps, uj->out_fmt, uj->out_frac))
		return -EINVAL;
	/* Q and the output are S16; K and V may be packed. */
	if (uj->q_fmt != SPATTEN_FMT_S16 || uj->out_fmt != SPATTEN_FMT_S16)
		return -EINVAL;

	return spatten_job_check_v2(caps, uj);
}

/**
 * spatten_job_bind() - resolve one operand and build its buffer reference
 * @ctx: the submitting file
 * @job: the job; receives a reference on the buffer
 * @idx: which operand
 * @t: the operand as userspace named it
 * @bytes: size of the operand
 * @align: required alignment of @t->offset in bytes
 * @hb: the descriptor's buffer reference to fill
 *
 * Return: 0; -ENOENT for a handle this file does not have; -EINVAL for an
 * offset that is not aligned; -ERANGE if the operand does not fit in the
 * buffer.
 */
static int spatten_job_bind(struct spatten_ctx *ctx, struct spatten_kjob *job,
			    enum spatten_tensor_idx idx,
			    const struct spatten_tensor *t, u64 bytes,
			    u32 align, struct spatten_hw_buf *hb)
{
	struct spatten_bo *bo;

	bo = spatten_bo_lookup(ctx, t->handle);
	if (!bo)
		return -ENOENT;
	job->bo[idx] = bo;

	if (!IS_ALIGNED(t->offset, align))
		return -EINVAL;
	if (t->offset > bo->size || bytes > bo->size - t->offset ||
	    bytes > U32_MAX)
		return -ERANGE;

	job->off[idx] = t->offset;
	job->len[idx] = bytes;
	hb->addr = cpu_to_le64(bo->list_dma +
			       (t->offset >> PAGE_SHIFT) * sizeof(__le64));
	hb->len = cpu_to_le32(bytes);
	hb->offset = cpu_to_le16(t->offset & ~PAGE_MASK);
	hb->flags = cpu_to_le16(SPATTEN_BUF_PAGE_LIST);
	return 0;
}

/* Offset alignment of a tensor of format @fmt: whole elements for S16. */
static u32 spatten_fmt_align(u8 fmt)
{
	return fmt == SPATTEN_FMT_S16 ? 2 : 1;
}

/**
 * spatten_job_prepare() - validate a job and build its descriptor
 * @ctx: the submitting file
 * @uj: the job as copied from userspace
 * @job: zeroed kernel job to fill; on error it may hold buffer references
 *	that spatten_job_free() drops
 *
 * A version 1 job becomes a version 1 descriptor (its version 2 fields are
 * zero), so it also runs on a 1.0 device; a version 2 job a version 2 one.
 * Absent operands (handle 0) stay zero references.
 *
 * Return: 0, -EINVAL, -ENOENT or -ERANGE (see spatten_job_check() and
 * spatten_job_bind()).
 */
static int spatten_job_prepare(struct spatten_ctx *ctx,
			       const struct spatten_job *uj,
			       struct spatten_kjob *job)
{
	struct spatten_hw_desc *d = &job->desc;
	struct {
		u64 bytes;
		u32 align;
		struct spatten_hw_buf *hb;
	} op[SPATTEN_T_NUM];
	u32 nh = uj->n_heads, dim = uj->head_dim;
	unsigned int i;
	int ret;

	ret = spatten_job_check(ctx->sdev, uj);
	if (ret)
		return ret;

	job->user_data = uj->user_data;
	d->opcode = cpu_to_le16(uj->opcode);
	d->desc_size = cpu_to_le16(SPATTEN_DESC_SIZE);
	d->version = uj->version;
	d->stage = uj->stage;
	d->flags = cpu_to_le16(uj->flags);
	if (uj->opcode == SPATTEN_OP_NOP)
		return 0;

	d->n_heads = cpu_to_le16(uj->n_heads);
	d->head_dim = cpu_to_le16(uj->head_dim);
	d->q_rows = cpu_to_le16(uj->q_rows);
	d->kv_rows = cpu_to_le16(uj->kv_rows);
	d->q_start = cpu_to_le16(uj->q_start);
	d->q_fmt = uj->q_fmt;
	d->q_frac = uj->q_frac;
	d->k_fmt = uj->k_fmt;
	d->k_frac = uj->k_frac;
	d->v_fmt = uj->v_fmt;
	d->v_frac = uj->v_frac;
	d->out_fmt = uj->out_fmt;
	d->out_frac = uj->out_frac;
	d->n_tok_alive = cpu_to_le16(uj->n_tok_alive);
	d->token_keep = cpu_to_le16(uj->token_keep);
	d->n_pinned = cpu_to_le16(uj->n_pinned);
	d->n_head_alive = cpu_to_le16(uj->n_head_alive);
	d->head_keep = cpu_to_le16(uj->head_keep);
	d->value_keep = cpu_to_le16(uj->value_keep);
	d->lsb_threshold = cpu_to_le16(uj->lsb_threshold);
	d->topk_seed = cpu_to_le32(uj->topk_seed);

	op[SPATTEN_T_Q].bytes = spatten_hw_tensor_bytes(nh, uj->q_rows, dim,
							uj->q_fmt);
	op[SPATTEN_T_Q].align = spatten_fmt_align(uj->q_fmt);
	op[SPATTEN_T_Q].hb = &d->q;
	op[SPATTEN_T_K].bytes = spatten_hw_tensor_bytes(nh, uj->kv_rows, dim,
							uj->k_fmt);
	op[SPATTEN_T_K].align = spatten_fmt_align(uj->k_fmt);
	op[SPATTEN_T_K].hb = &d->k;
	op[SPATTEN_T_V].bytes = spatten_hw_tensor_bytes(nh, uj->kv_rows, dim,
							uj->v_fmt);
	op[SPATTEN_T_V].align = spatten_fmt_align(uj->v_fmt);
	op[SPATTEN_T_V].hb = &d->v;
	op[SPATTEN_T_OUT].bytes = spatten_hw_tensor_bytes(nh, uj->q_rows, dim,
							  uj->out_fmt);
	op[SPATTEN_T_OUT].align = spatten_fmt_align(uj->out_fmt);
	op[SPATTEN_T_OUT].hb = &d->out;
	op[SPATTEN_T_K_LSB].bytes = spatten_hw_plane_bytes(nh, uj->kv_rows, dim,
							   SPATTEN_LSB_BITS);
	op[SPATTEN_T_K_LSB].align = 1;
	op[SPATTEN_T_K_LSB].hb = &d->k_lsb;
	op[SPATTEN_T_TOK_IMP].bytes = (u64)uj->kv_rows * SPATTEN_IMP_BYTES;
	op[SPATTEN_T_TOK_IMP].align = SPATTEN_IMP_BYTES;
	op[SPATTEN_T_TOK_IMP].hb = &d->tok_imp;
	op[SPATTEN_T_TOK_ALIVE].bytes = (u64)uj->n_tok_alive *
					SPATTEN_LIST_BYTES;
	op[SPATTEN_T_TOK_ALIVE].align = SPATTEN_LIST_BYTES;
	op[SPATTEN_T_TOK_ALIVE].hb = &d->tok_alive;
	op[SPATTEN_T_TOK_KEPT].bytes = (u64)uj->token_keep * SPATTEN_LIST_BYTES;
	op[SPATTEN_T_TOK_KEPT].align = SPATTEN_LIST_BYTES;
	op[SPATTEN_T_TOK_KEPT].hb = &d->tok_kept;
	op[SPATTEN_T_PINNED].bytes = (u64)uj->n_pinned * SPATTEN_LIST_BYTES;
	op[SPATTEN_T_PINNED].align = SPATTEN_LIST_BYTES;
	op[SPATTEN_T_PINNED].hb = &d->pinned;
	op[SPATTEN_T_HEAD_IMP].bytes = (u64)nh * SPATTEN_IMP_BYTES;
	op[SPATTEN_T_HEAD_IMP].align = SPATTEN_IMP_BYTES;
	op[SPATTEN_T_HEAD_IMP].hb = &d->head_imp;
	op[SPATTEN_T_HEAD_ALIVE].bytes = (u64)uj->n_head_alive *
					 SPATTEN_LIST_BYTES;
	op[SPATTEN_T_HEAD_ALIVE].align = SPATTEN_LIST_BYTES;
	op[SPATTEN_T_HEAD_ALIVE].hb = &d->head_alive;
	op[SPATTEN_T_HEAD_KEPT].bytes = (u64)uj->head_keep * SPATTEN_LIST_BYTES;
	op[SPATTEN_T_HEAD_KEPT].align = SPATTEN_LIST_BYTES;
	op[SPATTEN_T_HEAD_KEPT].hb = &d->head_kept;

	/* q, k, v, out are always present; the others when named. */
	for (i = 0; i < SPATTEN_T_NUM; i++) {
		const struct spatten_tensor *t = spatten_job_tensor(uj, i);

		if (i > SPATTEN_T_OUT && !t->handle)
			continue;
		ret = spatten_job_bind(ctx, job, i, t, op[i].bytes,
				       op[i].align, op[i].hb);
		if (ret)
			return ret;
	}
	return 0;
}

/* How the device uses an operand. */
static enum dma_data_direction spatten_tensor_dir(unsigned int idx)
{
	switch (idx) {
	case SPATTEN_T_OUT:
	case SPATTEN_T_TOK_KEPT:
	case SPATTEN_T_HEAD_KEPT:
		return DMA_FROM_DEVICE;
	case SPATTEN_T_TOK_IMP:
	case SPATTEN_T_HEAD_IMP:
		return DMA_BIDIRECTIONAL;
	default:
		return DMA_TO_DEVICE;
	}
}

static void spatten_job_put_bos(struct spatten_kjob *job)
{
	int i;

	for (i = 0; i < SPATTEN_T_NUM; i++) {
		if (job->bo[i]) {
			spatten_bo_put(job->bo[i]);
			job->bo[i] = NULL;
		}
	}
}

/* Free a job that is in no queue; may sleep. */
static void spatten_job_free(struct spatten_kjob *job)
{
	spatten_job_put_bos(job);
	spatten_ctx_put(job->ctx);
	kfree(job);
	atomic_dec(&spatten_live.jobs);
}

/* Make a job's inputs visible to the device and claim its output range. */
static void spatten_job_sync_for_device(struct spatten_kjob *job)
{
	int i;

	for (i = 0; i < SPATTEN_T_NUM; i++) {
		if (!job->bo[i])
			continue;
		spatten_bo_sync(job->bo[i], job->off[i], job->len[i], false,
				spatten_tensor_dir(i));
	}
}

/**
 * spatten_job_complete() - record that a job finished (or was aborted)
 * @job: the job, taken off its queue, @status and counters filled
 *
 * Hands the output range to the CPU, drops the buffer references and wakes
 * the file's waiters. A job whose file was closed is freed here. Runs in
 * the IRQ thread or in remove(); may sleep, never under a spinlock.
 */
void spatten_job_complete(struct spatten_kjob *job)
{
	struct spatten_ctx *ctx = job->ctx;
	unsigned int i;
	bool orphan;

	for (i = 0; i < SPATTEN_T_NUM; i++) {
		enum dma_data_direction dir = spatten_tensor_dir(i);

		if (job->bo[i] && dir != DMA_TO_DEVICE)
			spatten_bo_sync(job->bo[i], job->off[i], job->len[i],
					true, dir);
	}
	spatten_job_put_bos(job);

	/* A reaper may free the job as soon as it is marked done. */
	kref_get(&ctx->ref);

	xa_lock(&ctx->jobs);
	job->done = true;
	orphan = job->orphan;
	if (orphan) {
		__xa_erase(&ctx->jobs, job->seqno);
		ctx->nr_jobs--;
	} else {
		ctx->nr_done++;
	}
	xa_unlock(&ctx->jobs);

	if (orphan)
		spatten_job_free(job);
	else
		wake_up_interruptible(&ctx->wq);
	spatten_ctx_put(ctx);
}

/**
 * spatten_ctx_release_jobs() - detach the jobs of a file being closed
 * @ctx: the file; no ioctl can run on it any more
 *
 * Completed jobs are freed; jobs still queued or running become orphans
 * that the completion path frees (they keep @ctx alive meanwhile).
 */
void spatten_ctx_release_jobs(struct spatten_ctx *ctx)
{
	struct spatten_kjob *job;
	unsigned long seqno;
	bool done;

	xa_for_each(&ctx->jobs, seqno, job) {
		xa_lock(&ctx->jobs);
		done = job->done;
		if (done) {
			__xa_erase(&ctx->jobs, seqno);
			ctx->nr_jobs--;
			ctx->nr_done--;
		} else {
			job->orphan = true;
		}
		xa_unlock(&ctx->jobs);
		if (done)
			spatten_job_free(job);
	}
}

/*
 * Accept prepared jobs: assign seqnos, publish them in the file's table,
 * report to userspace and queue them, all or nothing.
 */
static int spatten_jobs_commit(struct spatten_ctx *ctx,
			       struct spatten_kjob **jobs, u32 count,
			       struct spatten_submit *args, void __user *arg,
			       bool nonblock)
{
	struct spatten_dev *sdev = ctx->sdev;
	struct spatten_queue *q;
	LIST_HEAD(list);
	u64 seqno;
	u32 i;
	int ret;

	/* Room on the queue first: this may sleep (without any lock). */
	q = &sdev->queues[raw_smp_processor_id() % sdev->nr_queues];
	ret = spatten_queue_reserve(q, count, nonblock);
	if (ret)
		return ret;

	mutex_lock(&ctx->submit_lock);

	xa_lock(&ctx->jobs);
	if (ctx->nr_jobs + count > SPATTEN_MAX_JOBS) {
		xa_unlock(&ctx->jobs);
		ret = -EBUSY;
		goto out_unlock;
	}
	ctx->nr_jobs += count;
	xa_unlock(&ctx->jobs);

	/* Index seqnos directly: unsigned long is 64-bit where this runs. */
	seqno = ctx->next_seqno;
	for (i = 0; i < count; i++) {
		jobs[i]->seqno = seqno + i;
		ret = xa_insert(&ctx->jobs, seqno + i, jobs[i], GFP_KERNEL);
		if (ret)
			goto err_erase;
	}

	args->seqno = seqno;
	args->submitted = count;
	if (copy_to_user(arg, args, sizeof(*args))) {
		ret = -EFAULT;
		goto err_erase;
	}
	WRITE_ONCE(ctx->next_seqno, seqno + count);

	for (i = 0; i < count; i++) {
		jobs[i]->q = q;
		list_add_tail(&jobs[i]->node, &list);
	}
	spatten_queue_submit(q, &list);
	mutex_unlock(&ctx->submit_lock);
	return 0;

err_erase:
	while (i--)
		xa_erase(&ctx->jobs, seqno + i);
	xa_lock(&ctx->jobs);
	ctx->nr_jobs -= count;
	xa_unlock(&ctx->jobs);
out_unlock:
	mutex_unlock(&ctx->submit_lock);
	spatten_queue_unreserve(q, count);
	return ret;
}

/**
 * spatten_ioctl_submit() - SPATTEN_IOCTL_SUBMIT
 * @ctx: the file; the caller holds the board's rwsem and checked it is
 *	alive (the rwsem is dropped while waiting for room on the queue)
 * @arg: user pointer to struct spatten_submit
 * @nonblock: the file is O_NONBLOCK: a full queue is -EAGAIN
 *
 * Return: 0 with @seqno and @submitted filled; on error nothing is queued
 * and the struct is not written: -EFAULT, -EINVAL, -ENOENT, -ERANGE (the
 * first failing job in array order decides), -EAGAIN (queue full and
 * @nonblock), -ERESTARTSYS (signal while waiting for room), -ENODEV (the
 * board went away while waiting), -EBUSY (more than SPATTEN_MAX_JOBS
 * unreaped jobs would exist), -ENOMEM.
 */
int spatten_ioctl_submit(struct spatten_ctx *ctx, void __user *arg,
			 bool nonblock)
{
	struct spatten_submit args;
	struct spatten_kjob **jobs;
	struct spatten_job *ujobs;
	u32 i, count;
	int ret;

	if (copy_from_user(&args, arg, sizeof(args)))
		return -EFAULT;
	if (args.flags || args.rsvd)
		return -EINVAL;
	if (!args.count || args.count > SPATTEN_MAX_SUBMIT)
		return -EINVAL;
	count = args.count;

	ujobs = kmalloc_array(count, sizeof(*ujobs), GFP_KERNEL);
	jobs = kcalloc(count, sizeof(*jobs), GFP_KERNEL);
	if (!ujobs || !jobs) {
		ret = -ENOMEM;
		goto out_free;
	}
	if (copy_from_user(ujobs, u64_to_user_ptr(args.jobs_ptr),
			   count * sizeof(*ujobs))) {
		ret = -EFAULT;
		goto out_free;
	}

	for (i = 0; i < count; i++) {
		jobs[i] = kzalloc(sizeof(*jobs[i]), GFP_KERNEL);
		if (!jobs[i]) {
			ret = -ENOMEM;
			goto out_free;
		}
		atomic_inc(&spatten_live.jobs);
		INIT_LIST_HEAD(&jobs[i]->node);
		kref_get(&ctx->ref);
		jobs[i]->ctx = ctx;
		ret = spatten_job_prepare(ctx, &ujobs[i], jobs[i]);
		if (ret)
			goto out_free;
	}

	for (i = 0; i < count; i++)
		spatten_job_sync_for_device(jobs[i]);

	ret = spatten_jobs_commit(ctx, jobs, count, &args, arg, nonblock);
	if (!ret) {
		kfree(jobs);
		kfree(ujobs);
		return 0;
	}

out_free:
	if (jobs) {
		for (i = 0; i < count && jobs[i]; i++)
			spatten_job_free(jobs[i]);
	}
	kfree(jobs);
	kfree(ujobs);
	return ret;
}

/* WAIT's condition: the job completed, or is gone. */
static bool spatten_job_settled(struct spatten_ctx *ctx, u64 seqno)
{
	struct spatten_kjob *job;
	bool settled;

	xa_lock(&ctx->jobs);
	job = xa_load(&ctx->jobs, seqno);
	settled = !job || job->done;
	xa_unlock(&ctx->jobs);
	return settled;
}

/**
 * spatten_ioctl_wait() - SPATTEN_IOCTL_WAIT
 * @ctx: the file
 * @arg: user pointer to struct spatten_wait
 *
 * Waits for one job until the absolute CLOCK_MONOTONIC deadline, then
 * reports and reaps it. A job that completed with a hardware error is
 * still a successful WAIT: @status carries the error.
 *
 * Return: 0; -EFAULT (the job is kept); -EINVAL for non-zero flags or
 * rsvd, seqno 0 or a seqno not yet assigned; -ENOENT for a job already
 * reaped; -ETIME if the job is not done by the deadline (it is kept);
 * -ERESTARTSYS on a signal; -ENODEV once the device is gone (after the
 * jobs it aborted were reported, with SPATTEN_HW_ERR_ABORTED).
 */
int spatten_ioctl_wait(struct spatten_ctx *ctx, void __user *arg)
{
	struct spatten_wait args, out;
	struct spatten_kjob *job;
	ktime_t deadline, timeout;
	int ret;

	if (copy_from_user(&args, arg, sizeof(args)))
		return -EFAULT;
	if (args.flags || args.rsvd0 ||
	    memchr_inv(args.rsvd, 0, sizeof(args.rsvd)))
		return -EINVAL;
	if (!args.seqno || args.seqno >= READ_ONCE(ctx->next_seqno))
		return READ_ONCE(ctx->sdev->dead) ? -ENODEV : -EINVAL;

	deadline = ns_to_ktime(args.timeout_ns);
	for (;;) {
		xa_lock(&ctx->jobs);
		job = xa_load(&ctx->jobs, args.seqno);
		if (!job || job->claimed) {
			xa_unlock(&ctx->jobs);
			/* After an unbind, every job was reported already. */
			return READ_ONCE(ctx->sdev->dead) ? -ENODEV : -ENOENT;
		}
		if (job->done) {
			/* Ours to report: a concurrent WAIT gets -ENOENT. */
			job->claimed = true;
			xa_unlock(&ctx->jobs);
			break;
		}
		xa_unlock(&ctx->jobs);
		if (READ_ONCE(ctx->sdev->dead))
			return -ENODEV;

		timeout = ktime_sub(deadline, ktime_get());
		if (timeout <= 0)
			return -ETIME;
		ret = wait_event_interruptible_hrtimeout(ctx->wq,
							 spatten_job_settled(ctx, args.seqno),
							 timeout);
		if (ret == -ERESTARTSYS)
			return ret;
	}

	memset(&out, 0, sizeof(out));
	out.seqno = args.seqno;
	out.timeout_ns = args.timeout_ns;
	out.status = job->status;
	out.user_data = job->user_data;
	out.bytes_q = job->bytes_q;
	out.bytes_k_msb = job->bytes_k_msb;
	out.bytes_k_lsb = job->bytes_k_lsb;
	out.bytes_v = job->bytes_v;
	out.bytes_written = job->bytes_written;
	out.cycles = job->cycles;
	out.lsb_refetches = job->lsb_refetches;
	if (copy_to_user(arg, &out, sizeof(out))) {
		xa_lock(&ctx->jobs);
		job->claimed = false;
		xa_unlock(&ctx->jobs);
		return -EFAULT;
	}

	xa_lock(&ctx->jobs);
	__xa_erase(&ctx->jobs, job->seqno);
	ctx->nr_jobs--;
	ctx->nr_done--;
	xa_unlock(&ctx->jobs);
	spatten_job_free(job);
	return 0;
}
