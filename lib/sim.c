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

#include "sim.h"

#define SIM_MAX_UNREAPED	4096
#define SIM_MAX_BO_SIZE		(256ull << 20)
/* The device's default (qemu-device/): a 128K-token context. */
#define SIM_MAX_CONTEXT		131072
#define SIM_MAX_HEADS		64
#define SIM_HEAD_DIMS	((1u << 4) | (1u << 5) | (1u << 6) | (1u << 7) | \
			 (1u << 8))
#define SIM_SPLITS	((1u << 4) | (1u << 6) | (1u << 8) | (1u << 10) | \
			 (1u << 12))
#define SIM_FEATURES	(SPATTEN_FEAT_CAUSAL | SPATTEN_FEAT_GENERATION | \
			 SPATTEN_FEAT_PAGE_LIST | SPATTEN_FEAT_TOKEN_PRUNE | \
			 SPATTEN_FEAT_HEAD_PRUNE | SPATTEN_FEAT_VALUE_PRUNE | \
			 SPATTEN_FEAT_PROGRESSIVE | SPATTEN_FEAT_DESC_V3 | \
			 SPATTEN_FEAT_GQA | SPATTEN_FEAT_KV_LAYOUT | \
			 SPATTEN_FEAT_ROPE | SPATTEN_FEAT_CHUNKS | \
			 SPATTEN_FEAT_IMP_PER_KV_HEAD)

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

/* ---- Execution ---------------------------------------------------------- */

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

/* A span of which the engine reads @used bytes (spe.h): those count. */
static const void *sim_map_gather(void *opaque, enum spe_plane plane,
				  uint64_t off, size_t len, size_t used)
{
	struct sim_run *r = opaque;
	const void *p = sim_map(opaque, plane, off, len);

	if (p)
		r->bytes[plane] -= len - used;
	return p;
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

static void sim_execute(struct spatten_sim *sim, const struct spatten_job3 *j3,
			uint64_t seqno, struct spatten_wait *w)
{
	const struct spatten_job *j = &j3->job;
	union spatten_hw_sqe desc;
	struct spe_result res;
	struct spe_job sj;
	struct sim_run r;
	struct spe_mem mem = {
		.read = sim_read,
		.write = sim_write,
		.opaque = &r,
		.map = sim_map,
		.map_gather = sim_map_gather,
	};
	uint64_t written = 0;
	size_t i;
	int st;

	memset(w, 0, sizeof(*w));
	memset(&r, 0, sizeof(r));
	memset(&res, 0, sizeof(res));
	w->seqno = seqno;
	w->user_data = j->user_data;

	spatten__sim_build_desc(sim, j3, (uint32_t)seqno, &desc);
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
		r.bytes[SPE_PLANE_HEAD_IMP] + r.bytes[SPE_PLANE_HEAD_ALIVE] +
		r.bytes[SPE_PLANE_BLOCK_TABLE] + r.bytes[SPE_PLANE_POSITIONS] +
		r.bytes[SPE_PLANE_HEAD_FRACS];
}

/* Room for @n more completions; -EBUSY past SIM_MAX_UNREAPED. Locked. */
static int sim_reserve_done(struct spatten_sim *sim, unsigned int n)
{
	size_t cap = sim->cap_done ? sim->cap_done : 64;
	struct spatten_wait *d;

	if (sim->n_done + n > SIM_MAX_UNREAPED)
		return -EBUSY;
	if (sim->head_done + sim->n_done + n <= sim->cap_done)
		return 0;
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
		return -ENOMEM;
	sim->done = d;
	sim->cap_done = cap;
	return 0;
}

int spatten__sim_submit3(struct spatten_dev *dev,
			 const struct spatten_job3 *jobs, unsigned int n,
			 uint64_t *seqno)
{
	struct spatten_sim *sim = dev->sim;
	uint64_t one = 1;
	unsigned int i;
	int ret = 0;

	if (n > SPATTEN_MAX_SUBMIT)
		return -EINVAL;
	pthread_mutex_lock(&sim->lock);
	for (i = 0; i < n && !ret; i++)
		ret = spatten__sim_check_job(sim, &jobs[i]);
	if (!ret)
		ret = sim_reserve_done(sim, n);
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

/* API 4 jobs: the driver zero-extends them (job_size); so does the sim. */
int spatten__sim_submit(struct spatten_dev *dev,
			const struct spatten_job *jobs, unsigned int n,
			uint64_t *seqno)
{
	struct spatten_job3 wide[SPATTEN_MAX_SUBMIT];
	unsigned int i;

	if (n > SPATTEN_MAX_SUBMIT)
		return -EINVAL;
	memset(wide, 0, n * sizeof(wide[0]));
	for (i = 0; i < n; i++)
		wide[i].job = jobs[i];
	return spatten__sim_submit3(dev, wide, n, seqno);
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
