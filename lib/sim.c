// SPDX-License-Identifier: MIT
/*
 * libspatten: the in-process simulation backend.
 *
 * Emulates what spatten.ko plus the device do, with the same engine as the
 * QEMU device: buffers are page-aligned process memory named by handles;
 * SUBMIT applies the driver's checks (same errno values, all or nothing),
 * builds the hardware descriptor with contiguous buffer references whose
 * addresses are process pointers, decodes it with spe_desc_decode() and
 * runs it with spe_run(); writes are staged and applied only when the job
 * succeeds, as the device does. Completions wait, in completion order, to
 * be reaped by WAIT (one, by seqno) or REAP (the oldest ones); an eventfd
 * is readable exactly while one waits, like poll() on the device node.
 *
 * Jobs run synchronously inside spatten_submit(), so a wait never times
 * out and completions come in submission order.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "spatten_private.h"
#include "spe.h"

#define SIM_MAX_UNREAPED	4096
/* the device's counters, then the driver's resets, timeouts, dropped IRQs */
#define SIM_CNT_NUM		(SPATTEN_CNT_IRQS_DROPPED + 1)
#define SIM_MAX_BO_SIZE		(256ull << 20)
#define SIM_MAX_CONTEXT		1024
#define SIM_MAX_HEADS		64
#define SIM_HEAD_DIMS	((1u << 4) | (1u << 5) | (1u << 6) | (1u << 7) | \
			 (1u << 8))
#define SIM_SPLITS	((1u << 4) | (1u << 6) | (1u << 8) | (1u << 10) | \
			 (1u << 12))
#define SIM_FEATURES	(SPATTEN_FEAT_CAUSAL | SPATTEN_FEAT_GENERATION | \
			 SPATTEN_FEAT_PAGE_LIST | SPATTEN_FEAT_TOKEN_PRUNE | \
			 SPATTEN_FEAT_HEAD_PRUNE | SPATTEN_FEAT_VALUE_PRUNE | \
			 SPATTEN_FEAT_PROGRESSIVE)

struct sim_bo {
	unsigned char *ptr;
	size_t size;
};

struct spatten_sim {
	pthread_mutex_t lock;
	struct spe_caps caps;
	struct sim_bo *bos;		/* index = handle - 1; ptr NULL = free */
	uint32_t n_bos;
	uint64_t next_seqno;
	struct spatten_wait *done;	/* completed, not yet reaped: */
	size_t head_done, n_done, cap_done; /* done[head .. head + n) */
	uint64_t cnt[SIM_CNT_NUM];
};

int spatten__sim_open(struct spatten_dev *dev)
{
	struct spatten_sim *sim = calloc(1, sizeof(*sim));
	int fd;

	if (!sim)
		return -ENOMEM;
	fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (fd < 0) {
		int ret = -errno;

		free(sim);
		return ret;
	}
	pthread_mutex_init(&sim->lock, NULL);
	sim->caps = (struct spe_caps){
		.max_context = SIM_MAX_CONTEXT,
		.max_heads = SIM_MAX_HEADS,
		.head_dims = SIM_HEAD_DIMS,
		.formats = (1u << SPATTEN_FMT_NUM) - 1,
		.splits = SIM_SPLITS,
		.features = SIM_FEATURES,
		.dma_bits = 64,
		.model = spe_model_full(),
	};
	sim->next_seqno = 1;
	dev->sim = sim;
	dev->fd = fd;
	return 0;
}

void spatten__sim_close(struct spatten_dev *dev)
{
	struct spatten_sim *sim = dev->sim;

	close(dev->fd);
	pthread_mutex_destroy(&sim->lock);
	free(sim->bos);
	free(sim->done);
	free(sim);
}

int spatten__sim_info(struct spatten_dev *dev, struct spatten_info *info)
{
	const struct spe_caps *c = &dev->sim->caps;

	info->api_version = SPATTEN_API_VERSION;
	info->hw_version = SPATTEN_HW_VERSION;
	info->vendor_id = SPATTEN_PCI_VENDOR_ID;
	info->device_id = SPATTEN_PCI_DEVICE_ID;
	info->num_engines = 1;
	info->num_queues = 1;
	info->queue_depth = 1024;
	info->max_context = c->max_context;
	info->max_heads = c->max_heads;
	info->head_dims = c->head_dims;
	info->formats = c->formats;
	info->splits = c->splits;
	info->features = c->features;
	info->dma_bits = c->dma_bits;
	info->max_bo_size = SIM_MAX_BO_SIZE;
	return 0;
}

int spatten__sim_counters(struct spatten_dev *dev,
			  struct spatten_counters *cnt)
{
	struct spatten_sim *sim = dev->sim;

	if (cnt->flags)
		return -EINVAL;
	pthread_mutex_lock(&sim->lock);
	cnt->num = SIM_CNT_NUM;
	memcpy(cnt->value, sim->cnt, sizeof(sim->cnt));
	pthread_mutex_unlock(&sim->lock);
	return 0;
}

int spatten__sim_bo_size_ok(size_t size)
{
	return size <= SIM_MAX_BO_SIZE;
}

int spatten__sim_bo_add(struct spatten_dev *dev, void *ptr, size_t size,
			uint32_t *handle)
{
	struct spatten_sim *sim = dev->sim;
	uint32_t i;
	int ret = 0;

	if (size > SIM_MAX_BO_SIZE)
		return -EINVAL;
	pthread_mutex_lock(&sim->lock);
	for (i = 0; i < sim->n_bos && sim->bos[i].ptr; i++)
		;
	if (i == sim->n_bos) {
		struct sim_bo *nb = realloc(sim->bos,
					    (sim->n_bos + 16) * sizeof(*nb));

		if (!nb) {
			ret = -ENOMEM;
			goto out;
		}
		memset(nb + sim->n_bos, 0, 16 * sizeof(*nb));
		sim->bos = nb;
		sim->n_bos += 16;
	}
	sim->bos[i].ptr = ptr;
	sim->bos[i].size = size;
	*handle = i + 1;
out:
	pthread_mutex_unlock(&sim->lock);
	return ret;
}

void spatten__sim_bo_del(struct spatten_dev *dev, uint32_t handle)
{
	struct spatten_sim *sim = dev->sim;

	pthread_mutex_lock(&sim->lock);
	if (handle && handle <= sim->n_bos)
		sim->bos[handle - 1].ptr = NULL;
	pthread_mutex_unlock(&sim->lock);
}

/* ---- The driver's checks ------------------------------------------------- */

static const struct sim_bo *sim_lookup(const struct spatten_sim *sim,
				       uint32_t handle)
{
	if (!handle || handle > sim->n_bos || !sim->bos[handle - 1].ptr)
		return NULL;
	return &sim->bos[handle - 1];
}

/* Operands in descriptor order, with their plane. */
static const struct spatten_tensor *job_tensor(const struct spatten_job *j,
					       enum spe_plane p)
{
	switch (p) {
	case SPE_PLANE_Q: return &j->q;
	case SPE_PLANE_K_MSB: return &j->k;
	case SPE_PLANE_V: return &j->v;
	case SPE_PLANE_OUT: return &j->out;
	case SPE_PLANE_K_LSB: return &j->k_lsb;
	case SPE_PLANE_TOK_IMP: return &j->tok_imp;
	case SPE_PLANE_TOK_ALIVE: return &j->tok_alive;
	case SPE_PLANE_TOK_KEPT: return &j->tok_kept;
	case SPE_PLANE_PINNED: return &j->pinned;
	case SPE_PLANE_HEAD_IMP: return &j->head_imp;
	case SPE_PLANE_HEAD_ALIVE: return &j->head_alive;
	case SPE_PLANE_HEAD_KEPT: return &j->head_kept;
	default: return NULL;
	}
}

/* The UAPI's operand order: q, k, v, out, then the v2 operands. */
static const enum spe_plane uapi_order[SPE_PLANE_COUNT_V2] = {
	SPE_PLANE_Q, SPE_PLANE_K_MSB, SPE_PLANE_V, SPE_PLANE_OUT,
	SPE_PLANE_K_LSB, SPE_PLANE_TOK_IMP, SPE_PLANE_TOK_ALIVE,
	SPE_PLANE_TOK_KEPT, SPE_PLANE_PINNED, SPE_PLANE_HEAD_IMP,
	SPE_PLANE_HEAD_ALIVE, SPE_PLANE_HEAD_KEPT,
};

/* Bytes and alignment an operand needs. */
static void operand_need(const struct spatten_job *j, enum spe_plane p,
			 uint64_t *bytes, unsigned int *align)
{
	uint32_t H = j->n_heads, D = j->head_dim;

	*align = 2;
	switch (p) {
	case SPE_PLANE_Q:
	case SPE_PLANE_OUT:
		*bytes = spatten_hw_tensor_bytes(H, j->q_rows, D,
						 p == SPE_PLANE_Q ? j->q_fmt :
						 j->out_fmt);
		*align = (p == SPE_PLANE_Q ? j->q_fmt : j->out_fmt) ==
			 SPATTEN_FMT_S16 ? 2 : 1;
		break;
	case SPE_PLANE_K_MSB:
	case SPE_PLANE_V: {
		uint8_t f = p == SPE_PLANE_V ? j->v_fmt : j->k_fmt;

		*bytes = spatten_hw_tensor_bytes(H, j->kv_rows, D, f);
		*align = f == SPATTEN_FMT_S16 ? 2 : 1;
		break;
	}
	case SPE_PLANE_K_LSB:
		*bytes = spatten_hw_plane_bytes(H, j->kv_rows, D,
						SPATTEN_LSB_BITS);
		*align = 1;
		break;
	case SPE_PLANE_TOK_IMP:
		*bytes = (uint64_t)j->kv_rows * SPATTEN_IMP_BYTES;
		*align = 8;
		break;
	case SPE_PLANE_HEAD_IMP:
		*bytes = (uint64_t)H * SPATTEN_IMP_BYTES;
		*align = 8;
		break;
	case SPE_PLANE_TOK_ALIVE:
		*bytes = (uint64_t)j->n_tok_alive * SPATTEN_LIST_BYTES;
		break;
	case SPE_PLANE_TOK_KEPT:
		*bytes = (uint64_t)j->token_keep * SPATTEN_LIST_BYTES;
		break;
	case SPE_PLANE_PINNED:
		*bytes = (uint64_t)j->n_pinned * SPATTEN_LIST_BYTES;
		break;
	case SPE_PLANE_HEAD_ALIVE:
		*bytes = (uint64_t)j->n_head_alive * SPATTEN_LIST_BYTES;
		break;
	case SPE_PLANE_HEAD_KEPT:
		*bytes = (uint64_t)j->head_keep * SPATTEN_LIST_BYTES;
		break;
	default:
		*bytes = 0;
	}
}

static int v2_fields_zero(const struct spatten_job *j)
{
	int p;

	for (p = SPE_PLANE_K_LSB; p < SPE_PLANE_COUNT_V2; p++) {
		const struct spatten_tensor *t = job_tensor(j, p);

		if (p == SPE_PLANE_V || p == SPE_PLANE_OUT)
			continue;
		if (t->handle || t->offset)
			return 0;
	}
	return !(j->n_tok_alive || j->token_keep || j->n_pinned ||
		 j->n_head_alive || j->head_keep || j->value_keep ||
		 j->lsb_threshold || j->topk_seed ||
		 (j->flags & SPATTEN_DESC_F_PROGRESSIVE));
}

/* A NOP carries nothing but its opcode, version and user data. */
static int check_nop(const struct spatten_job *j)
{
	static const struct spatten_job zero;
	struct spatten_job rest = *j;

	rest.opcode = 0;
	rest.version = 0;
	rest.user_data = 0;
	return memcmp(&rest, &zero, sizeof(rest)) ? -EINVAL : 0;
}

/* An optional operand is present exactly when its count or flag says. */
static int presence_ok(const struct spatten_tensor *t, int required)
{
	return !!t->handle == !!required;
}

/* The pruning and progressive fields, as the driver checks them. */
static int check_v2(const struct spe_caps *c, const struct spatten_job *j)
{
	int prog = !!(j->flags & SPATTEN_DESC_F_PROGRESSIVE);
	uint32_t tok_limit, head_limit;

	if (prog) {
		uint32_t bits = spatten_hw_fmt_bits(j->k_fmt);

		if (!(c->features & SPATTEN_FEAT_PROGRESSIVE) ||
		    j->k_fmt == SPATTEN_FMT_S16 || !bits ||
		    !(c->splits & (1u << bits)))
			return -EINVAL;
	}
	if ((j->token_keep && !(c->features & SPATTEN_FEAT_TOKEN_PRUNE)) ||
	    (j->head_keep && !(c->features & SPATTEN_FEAT_HEAD_PRUNE)) ||
	    (j->value_keep && !(c->features & SPATTEN_FEAT_VALUE_PRUNE)))
		return -EINVAL;
	if (j->stage == SPATTEN_STAGE_SUMMARIZATION &&
	    (j->n_tok_alive || j->token_keep) &&
	    (j->q_rows != j->kv_rows || j->q_start))
		return -EINVAL;
	if (j->n_tok_alive > j->kv_rows || j->n_pinned > j->kv_rows ||
	    j->n_head_alive > j->n_heads || j->value_keep > j->kv_rows ||
	    j->lsb_threshold > 32768)
		return -EINVAL;
	head_limit = j->n_head_alive ? j->n_head_alive : j->n_heads;
	tok_limit = j->n_tok_alive ? j->n_tok_alive + 1u : j->kv_rows;
	if (j->head_keep > head_limit || j->token_keep > tok_limit)
		return -EINVAL;
	if (j->n_pinned && !j->token_keep)
		return -EINVAL;
	if (!presence_ok(&j->k_lsb, prog) ||
	    !presence_ok(&j->tok_alive, j->n_tok_alive) ||
	    !presence_ok(&j->tok_kept, j->token_keep) ||
	    !presence_ok(&j->pinned, j->n_pinned) ||
	    !presence_ok(&j->head_alive, j->n_head_alive) ||
	    !presence_ok(&j->head_kept, j->head_keep))
		return -EINVAL;
	if ((j->token_keep && !j->tok_imp.handle) ||
	    (j->head_keep && !j->head_imp.handle))
		return -EINVAL;
	return 0;
}

static int check_fields(const struct spe_caps *c, const struct spatten_job *j)
{
	unsigned int i;
	int p;

	if (j->version < SPATTEN_DESC_VERSION_MIN ||
	    j->version > SPATTEN_DESC_VERSION)
		return -EINVAL;
	if (j->opcode != SPATTEN_OP_NOP && j->opcode != SPATTEN_OP_ATTENTION)
		return -EINVAL;
	if (j->flags & ~SPATTEN_DESC_F_ALL)
		return -EINVAL;
	if (j->stage > SPATTEN_STAGE_GENERATION)
		return -EINVAL;
	if (j->version < 2 && !v2_fields_zero(j))
		return -EINVAL;
	if (j->rsvd0 || j->rsvd1 || j->rsvd2 || j->rsvd3)
		return -EINVAL;
	for (i = 0; i < sizeof(j->rsvd) / sizeof(j->rsvd[0]); i++)
		if (j->rsvd[i])
			return -EINVAL;
	for (p = 0; p < SPE_PLANE_COUNT_V2; p++)
		if (job_tensor(j, p)->flags)
			return -EINVAL;
	if (j->opcode == SPATTEN_OP_NOP)
		return check_nop(j);

	if ((j->flags & SPATTEN_DESC_F_CAUSAL) &&
	    !(c->features & SPATTEN_FEAT_CAUSAL))
		return -EINVAL;
	if (j->stage == SPATTEN_STAGE_GENERATION &&
	    !(c->features & SPATTEN_FEAT_GENERATION))
		return -EINVAL;
	if (!j->n_heads || j->n_heads > c->max_heads)
		return -EINVAL;
	if (!j->head_dim || (j->head_dim & (j->head_dim - 1)) ||
	    !(c->head_dims & j->head_dim))
		return -EINVAL;
	if (!j->q_rows || j->q_rows > c->max_context || !j->kv_rows ||
	    j->kv_rows > c->max_context)
		return -EINVAL;
	if (j->flags & SPATTEN_DESC_F_CAUSAL) {
		if ((uint32_t)j->q_start + j->q_rows > j->kv_rows)
			return -EINVAL;
	} else if (j->q_start) {
		return -EINVAL;
	}
	if (j->stage == SPATTEN_STAGE_GENERATION &&
	    (j->q_rows != 1 || j->q_start != j->kv_rows - 1))
		return -EINVAL;
	if (j->q_fmt >= 32 || j->k_fmt >= 32 || j->v_fmt >= 32 ||
	    j->out_fmt >= 32 || !(c->formats & (1u << j->q_fmt)) ||
	    !(c->formats & (1u << j->k_fmt)) ||
	    !(c->formats & (1u << j->v_fmt)) ||
	    !(c->formats & (1u << j->out_fmt)))
		return -EINVAL;
	if (j->q_frac > 15 || j->k_frac > 15 || j->v_frac > 15 ||
	    j->out_frac > 15)
		return -EINVAL;
	return check_v2(c, j);
}

static int check_operands(const struct spatten_sim *sim,
			  const struct spatten_job *j)
{
	unsigned int i;

	if (j->opcode == SPATTEN_OP_NOP)
		return 0;
	for (i = 0; i < SPE_PLANE_COUNT_V2; i++) {
		enum spe_plane p = uapi_order[i];
		const struct spatten_tensor *t = job_tensor(j, p);
		const struct sim_bo *bo;
		unsigned int align;
		uint64_t need;

		if (!t->handle && i >= 4)
			continue;	/* absent: its offset is ignored */
		bo = sim_lookup(sim, t->handle);
		if (!bo)
			return -ENOENT;
		operand_need(j, p, &need, &align);
		if (t->offset % align)
			return -EINVAL;
		if (t->offset > bo->size || need > bo->size - t->offset ||
		    need > UINT32_MAX)
			return -ERANGE;
	}
	return 0;
}

/* ---- Descriptor and execution --------------------------------------------- */

static void put_buf(struct spatten_hw_buf *b, const struct sim_bo *bo,
		    uint64_t offset, uint64_t need)
{
	b->addr = htole64((uint64_t)(uintptr_t)(bo->ptr + offset));
	b->len = htole32((uint32_t)need);
	b->offset = 0;
	b->flags = 0;
}

/*
 * The library's one builder of a hardware descriptor from a UAPI job:
 * every field copied, every present operand a contiguous reference to
 * process memory (the driver builds page-list references instead).
 */
static void build_desc(const struct spatten_sim *sim,
		       const struct spatten_job *j, uint32_t tag,
		       struct spatten_hw_desc *d)
{
	struct spatten_hw_buf *bufs[SPE_PLANE_COUNT] = {
		[SPE_PLANE_Q] = &d->q, [SPE_PLANE_K_MSB] = &d->k,
		[SPE_PLANE_K_LSB] = &d->k_lsb, [SPE_PLANE_V] = &d->v,
		[SPE_PLANE_OUT] = &d->out, [SPE_PLANE_TOK_IMP] = &d->tok_imp,
		[SPE_PLANE_TOK_ALIVE] = &d->tok_alive,
		[SPE_PLANE_TOK_KEPT] = &d->tok_kept,
		[SPE_PLANE_PINNED] = &d->pinned,
		[SPE_PLANE_HEAD_IMP] = &d->head_imp,
		[SPE_PLANE_HEAD_ALIVE] = &d->head_alive,
		[SPE_PLANE_HEAD_KEPT] = &d->head_kept,
	};
	int p;

	memset(d, 0, sizeof(*d));
	d->opcode = htole16(j->opcode);
	d->desc_size = htole16(SPATTEN_DESC_SIZE);
	d->version = j->version;
	d->stage = j->stage;
	d->flags = htole16((uint16_t)j->flags);
	d->tag = htole32(tag);
	if (j->opcode == SPATTEN_OP_NOP)
		return;
	d->n_heads = htole16(j->n_heads);
	d->head_dim = htole16(j->head_dim);
	d->q_rows = htole16(j->q_rows);
	d->kv_rows = htole16(j->kv_rows);
	d->q_start = htole16(j->q_start);
	d->q_fmt = j->q_fmt;
	d->q_frac = j->q_frac;
	d->k_fmt = j->k_fmt;
	d->k_frac = j->k_frac;
	d->v_fmt = j->v_fmt;
	d->v_frac = j->v_frac;
	d->out_fmt = j->out_fmt;
	d->out_frac = j->out_frac;
	for (p = 0; p < SPE_PLANE_COUNT_V2; p++) {
		const struct spatten_tensor *t = job_tensor(j, p);
		uint64_t need;
		unsigned int align;

		if (!t->handle)
			continue;
		operand_need(j, p, &need, &align);
		put_buf(bufs[p], sim_lookup(sim, t->handle), t->offset, need);
	}
	d->n_tok_alive = htole16(j->n_tok_alive);
	d->token_keep = htole16(j->token_keep);
	d->n_pinned = htole16(j->n_pinned);
	d->n_head_alive = htole16(j->n_head_alive);
	d->head_keep = htole16(j->head_keep);
	d->value_keep = htole16(j->value_keep);
	d->lsb_threshold = htole16(j->lsb_threshold);
	d->topk_seed = htole32(j->topk_seed);
}

struct staged {
	enum spe_plane plane;
	uint64_t off;
	size_t len;
	unsigned char *data;
};

struct sim_run {
	const struct spe_job *job;
	uint64_t bytes[SPE_PLANE_COUNT];
	struct staged *st;
	size_t n_st, cap_st;
	int nomem;
};

static int sim_read(void *opaque, enum spe_plane plane, uint64_t off,
		    void *dst, size_t len)
{
	struct sim_run *r = opaque;
	const struct spe_buf *b;

	if ((unsigned int)plane >= SPE_PLANE_COUNT)
		return SPATTEN_HW_ERR_BUFFER;
	b = &r->job->buf[plane];
	if (off > b->len || len > b->len - off)
		return SPATTEN_HW_ERR_BUFFER;
	memcpy(dst, (const unsigned char *)(uintptr_t)b->addr + off, len);
	r->bytes[plane] += len;
	return SPATTEN_HW_OK;
}

/* The buffers are host memory: map is a pointer, counted as a read. */
static const void *sim_map(void *opaque, enum spe_plane plane, uint64_t off,
			   size_t len)
{
	struct sim_run *r = opaque;
	const struct spe_buf *b;

	if ((unsigned int)plane >= SPE_PLANE_COUNT)
		return NULL;
	b = &r->job->buf[plane];
	if (off > b->len || len > b->len - off)
		return NULL;	/* sim_read reports the error */
	r->bytes[plane] += len;
	return (const unsigned char *)(uintptr_t)b->addr + off;
}

static int sim_write(void *opaque, enum spe_plane plane, uint64_t off,
		     const void *src, size_t len)
{
	struct sim_run *r = opaque;
	const struct spe_buf *b;
	struct staged *s;

	if ((unsigned int)plane >= SPE_PLANE_COUNT)
		return SPATTEN_HW_ERR_BUFFER;
	b = &r->job->buf[plane];
	if (off > b->len || len > b->len - off)
		return SPATTEN_HW_ERR_BUFFER;
	if (r->n_st == r->cap_st) {
		size_t cap = r->cap_st ? 2 * r->cap_st : 16;
		struct staged *n = realloc(r->st, cap * sizeof(*n));

		if (!n)
			return SPATTEN_HW_ERR_NO_MEMORY;
		r->st = n;
		r->cap_st = cap;
	}
	s = &r->st[r->n_st];
	s->data = malloc(len ? len : 1);
	if (!s->data)
		return SPATTEN_HW_ERR_NO_MEMORY;
	memcpy(s->data, src, len);
	s->plane = plane;
	s->off = off;
	s->len = len;
	r->n_st++;
	return SPATTEN_HW_OK;
}

static void sim_execute(struct spatten_sim *sim, const struct spatten_job *j,
			uint64_t seqno, struct spatten_wait *w)
{
	struct spatten_hw_desc desc;
	struct spe_result res;
	struct spe_job sj;
	struct sim_run r;
	struct spe_mem mem = {
		.read = sim_read,
		.write = sim_write,
		.opaque = &r,
		.map = sim_map,
	};
	uint64_t written = 0;
	size_t i;
	int st;

	memset(w, 0, sizeof(*w));
	memset(&r, 0, sizeof(r));
	memset(&res, 0, sizeof(res));
	w->seqno = seqno;
	w->user_data = j->user_data;

	build_desc(sim, j, (uint32_t)seqno, &desc);
	st = spe_desc_decode(&desc, sizeof(desc), &sim->caps, &sj);
	if (st == SPATTEN_HW_OK && sj.opcode == SPATTEN_OP_ATTENTION) {
		r.job = &sj;
		st = spe_run(&sj, &sim->caps, &mem, &res);
		if (st < 0 || st > SPATTEN_HW_STATUS_MAX)
			st = SPATTEN_HW_ERR_NO_MEMORY;
	}
	for (i = 0; i < r.n_st; i++) {
		struct staged *s = &r.st[i];

		if (st == SPATTEN_HW_OK) {
			memcpy((unsigned char *)(uintptr_t)
			       sj.buf[s->plane].addr + s->off, s->data,
			       s->len);
			written += s->len;
		}
		free(s->data);
	}
	free(r.st);

	w->status = (uint32_t)st;
	w->bytes_q = r.bytes[SPE_PLANE_Q];
	w->bytes_k_msb = r.bytes[SPE_PLANE_K_MSB];
	w->bytes_k_lsb = r.bytes[SPE_PLANE_K_LSB];
	w->bytes_v = r.bytes[SPE_PLANE_V];
	w->bytes_written = written;
	if (st == SPATTEN_HW_OK) {
		w->cycles = res.cycles;
		w->lsb_refetches = (uint32_t)res.lsb_refetches;
	}

	sim->cnt[st == SPATTEN_HW_OK ? SPATTEN_CNT_JOBS_OK :
		 SPATTEN_CNT_JOBS_ERR]++;
	sim->cnt[SPATTEN_CNT_BYTES_Q] += w->bytes_q;
	sim->cnt[SPATTEN_CNT_BYTES_K_MSB] += w->bytes_k_msb;
	sim->cnt[SPATTEN_CNT_BYTES_K_LSB] += w->bytes_k_lsb;
	sim->cnt[SPATTEN_CNT_BYTES_V] += w->bytes_v;
	sim->cnt[SPATTEN_CNT_BYTES_WRITTEN] += w->bytes_written;
	sim->cnt[SPATTEN_CNT_LSB_REFETCHES] += w->lsb_refetches;
	sim->cnt[SPATTEN_CNT_CYCLES] += w->cycles;
	sim->cnt[SPATTEN_CNT_BYTES_META] += r.bytes[SPE_PLANE_TOK_IMP] +
		r.bytes[SPE_PLANE_TOK_ALIVE] + r.bytes[SPE_PLANE_PINNED] +
		r.bytes[SPE_PLANE_HEAD_IMP] + r.bytes[SPE_PLANE_HEAD_ALIVE];
}

int spatten__sim_submit(struct spatten_dev *dev,
			const struct spatten_job *jobs, unsigned int n,
			uint64_t *seqno)
{
	struct spatten_sim *sim = dev->sim;
	uint64_t one = 1;
	unsigned int i;
	int ret = 0;

	if (n > SPATTEN_MAX_SUBMIT)
		return -EINVAL;
	pthread_mutex_lock(&sim->lock);
	for (i = 0; i < n && !ret; i++) {
		ret = check_fields(&sim->caps, &jobs[i]);
		if (!ret)
			ret = check_operands(sim, &jobs[i]);
	}
	if (!ret && sim->n_done + n > SIM_MAX_UNREAPED)
		ret = -EBUSY;
	if (!ret && sim->head_done + sim->n_done + n > sim->cap_done) {
		size_t cap = sim->cap_done ? sim->cap_done : 64;
		struct spatten_wait *d;

		/* reaping from the front leaves room there: reuse it */
		if (sim->head_done)
			memmove(sim->done, sim->done + sim->head_done,
				sim->n_done * sizeof(*sim->done));
		sim->head_done = 0;
		while (cap < sim->n_done + n)
			cap *= 2;
		d = cap == sim->cap_done ? sim->done :
		    realloc(sim->done, cap * sizeof(*d));
		if (!d)
			ret = -ENOMEM;
		else {
			sim->done = d;
			sim->cap_done = cap;
		}
	}
	if (ret) {
		pthread_mutex_unlock(&sim->lock);
		return ret;
	}
	if (seqno)
		*seqno = sim->next_seqno;
	for (i = 0; i < n; i++)
		sim_execute(sim, &jobs[i], sim->next_seqno++,
			    &sim->done[sim->head_done + sim->n_done++]);
	/* under the lock: a concurrent reap drains it only when empty */
	if (write(dev->fd, &one, sizeof(one)) < 0) {
		/* counter saturated: already readable */
	}
	pthread_mutex_unlock(&sim->lock);
	return 0;
}

/* Called with the lock held after a reap: unreadable once none waits. */
static void sim_drain_if_empty(struct spatten_dev *dev)
{
	uint64_t v;

	if (dev->sim->n_done)
		return;
	if (read(dev->fd, &v, sizeof(v)) < 0) {
		/* already drained */
	}
}

int spatten__sim_wait(struct spatten_dev *dev, struct spatten_wait *w)
{
	struct spatten_sim *sim = dev->sim;
	unsigned int i;
	size_t k;
	int ret = -ENOENT;

	if (w->flags || w->rsvd0)
		return -EINVAL;
	for (i = 0; i < sizeof(w->rsvd) / sizeof(w->rsvd[0]); i++)
		if (w->rsvd[i])
			return -EINVAL;
	pthread_mutex_lock(&sim->lock);
	/* never issued or already reaped: -ENOENT, as the driver */
	for (k = 0; k < sim->n_done; k++) {
		struct spatten_wait *d = sim->done + sim->head_done;
		int64_t timeout = w->timeout_ns;

		if (d[k].seqno != w->seqno)
			continue;
		*w = d[k];
		w->timeout_ns = timeout;
		/* keep the rest in completion order for REAP */
		if (k)
			memmove(&d[k], &d[k + 1],
				(sim->n_done - k - 1) * sizeof(*d));
		else
			sim->head_done++;
		if (!--sim->n_done)
			sim->head_done = 0;
		ret = 0;
		break;
	}
	if (!ret)
		sim_drain_if_empty(dev);
	pthread_mutex_unlock(&sim->lock);
	return ret;
}

/*
 * REAP: every job is done once submitted, so @min (at most the jobs
 * pending) is always met at once: the oldest min(@max, pending)
 * completions, in completion order.
 */
int spatten__sim_reap(struct spatten_dev *dev, struct spatten_wait *res,
		      unsigned int max, unsigned int min)
{
	struct spatten_sim *sim = dev->sim;
	size_t k, n;

	(void)min;
	pthread_mutex_lock(&sim->lock);
	n = sim->n_done < max ? sim->n_done : max;
	for (k = 0; k < n; k++) {
		res[k] = sim->done[sim->head_done + k];
		res[k].timeout_ns = 0;
	}
	sim->head_done += n;
	sim->n_done -= n;
	if (!sim->n_done)
		sim->head_done = 0;
	sim_drain_if_empty(dev);
	pthread_mutex_unlock(&sim->lock);
	return (int)n;
}
