// SPDX-License-Identifier: MIT
/*
 * libspatten: submitting jobs, waiting for them and reaping them (both
 * backends), and why the board refused a batch. The jobs themselves are
 * described and checked in job.c.
 */
#include <errno.h>
#include <string.h>

#include "spatten_private.h"
#include "spatten_drm.h"

SPATTEN_API int spatten_submit(struct spatten_dev *dev,
			       const struct spatten_job *jobs, unsigned int n,
			       uint64_t *seqno)
{
	struct drm_spatten_submit req;
	int ret;

	spatten__enter();
	if (!dev || !jobs || !n)
		return -EINVAL;

	if (dev->backend == SPATTEN_BACKEND_SIM)
		return spatten__sim_submit(dev, jobs, n, seqno);

	/* the jobs as they are: struct drm_spatten_job (spatten_drm.h) */
	memset(&req, 0, sizeof(req));
	req.jobs_ptr = (uint64_t)(uintptr_t)jobs;
	req.job_size = sizeof(struct spatten_job);	/* API 4's */
	req.count = n;
	ret = spatten__ioctl(dev->fd, DRM_IOCTL_SPATTEN_SUBMIT, &req);
	if (ret < 0)
		return ret;
	if (seqno)
		*seqno = req.seqno;
	return 0;
}

static void fill_result(struct spatten_result *res,
			const struct spatten_wait *w)
{
	memset(res, 0, sizeof(*res));
	res->status = w->status;
	res->lsb_refetches = w->lsb_refetches;
	res->user_data = w->user_data;
	res->bytes_q = w->bytes_q;
	res->bytes_k_msb = w->bytes_k_msb;
	res->bytes_k_lsb = w->bytes_k_lsb;
	res->bytes_v = w->bytes_v;
	res->bytes_written = w->bytes_written;
	res->cycles = w->cycles;
}

static int device_wait(struct spatten_dev *dev, struct spatten_wait *w)
{
	struct drm_spatten_wait req;
	int ret;

	memset(&req, 0, sizeof(req));
	req.seqno = w->seqno;
	req.timeout_ns = w->timeout_ns;
	ret = spatten__ioctl(dev->fd, DRM_IOCTL_SPATTEN_WAIT, &req);
	if (ret < 0)
		return ret;
	spatten__result_to_wait(w, &req.result);
	return 0;
}

SPATTEN_API int spatten_wait_deadline(struct spatten_dev *dev, uint64_t seqno,
				      int64_t deadline_ns,
				      struct spatten_result *res)
{
	struct spatten_wait req;
	int ret;

	spatten__enter();
	if (!dev)
		return -EINVAL;

	/* An absolute deadline: retrying after EINTR does not extend it. */
	memset(&req, 0, sizeof(req));
	req.seqno = seqno;
	req.timeout_ns = deadline_ns;
	if (dev->backend == SPATTEN_BACKEND_SIM)
		ret = spatten__sim_wait(dev, &req);
	else
		ret = device_wait(dev, &req);
	if (ret == -ENOENT)
		return spatten__err(ret, "job %llu: never submitted on this "
				    "handle, or reaped already (a job is "
				    "reaped once: spatten_wait() or "
				    "spatten_reap())", (unsigned long long)seqno);
	if (ret < 0)
		return ret;
	if (res)
		fill_result(res, &req);
	return 0;
}

SPATTEN_API int spatten_reap(struct spatten_dev *dev, struct spatten_wait *res,
			     unsigned int max, unsigned int min,
			     int64_t deadline_ns)
{
	struct drm_spatten_reap req;
	unsigned int i;
	int ret;

	spatten__enter();
	if (!dev || !res || !max || max > SPATTEN_REAP_MAX || min > max)
		return -EINVAL;
	if (dev->backend == SPATTEN_BACKEND_SIM)
		return spatten__sim_reap(dev, res, max, min);

	/*
	 * The driver writes struct drm_spatten_result into @res (the same
	 * size); an absolute deadline, so EINTR retries do not extend it.
	 */
	memset(&req, 0, sizeof(req));
	req.results_ptr = (uint64_t)(uintptr_t)res;
	req.count = max;
	req.min_count = min;
	req.timeout_ns = deadline_ns;
	req.result_size = sizeof(struct drm_spatten_result);
	ret = spatten__ioctl(dev->fd, DRM_IOCTL_SPATTEN_REAP, &req);
	if (ret < 0)
		return ret;
	if (req.reaped > max)
		return -EPROTO;
	for (i = 0; i < req.reaped; i++)
		spatten__result_to_wait(&res[i],
					(const struct drm_spatten_result *)
					(const void *)&res[i]);
	return (int)req.reaped;
}

SPATTEN_API int spatten_wait(struct spatten_dev *dev, uint64_t seqno,
			     int64_t timeout_ns, struct spatten_result *res)
{
	int64_t deadline = INT64_MAX;

	spatten__enter();
	if (timeout_ns >= 0) {
		int64_t now = spatten_now_ns();

		deadline = timeout_ns > INT64_MAX - now ?
			   INT64_MAX : now + timeout_ns;
	}
	return spatten_wait_deadline(dev, seqno, deadline, res);
}

SPATTEN_API int spatten_run(struct spatten_dev *dev,
			    const struct spatten_job *job,
			    struct spatten_result *res)
{
	struct spatten_result r;
	uint64_t seqno;
	int ret;

	spatten__enter();
	ret = spatten_submit(dev, job, 1, &seqno);
	if (ret < 0)
		return ret;
	ret = spatten_wait(dev, seqno, SPATTEN_WAIT_FOREVER, &r);
	if (ret < 0)
		return ret;
	if (res)
		*res = r;
	return r.status == SPATTEN_HW_OK ? 0 : -EIO;
}

/*
 * Why the board refused job @i of a batch with -EINVAL: the limit of the
 * board it breaks, when it is one of those the board reports (the driver
 * cannot say which check failed). 0 when none of them explains it.
 */
static int explain_limits(struct spatten_dev *dev,
			  const struct spatten_job3 *j3, unsigned int i)
{
	const struct spatten_job *j = &j3->job;
	uint32_t need = 0, kv_rows = j3->kv_rows32;
	struct spatten_info info;

	if (j->version < 3 || spatten_get_info(dev, &info) < 0)
		return 0;
	if (j->n_heads > info.max_heads)
		return spatten__err(-EINVAL, "job %u: %u heads, the board has at "
				    "most %u", i, j->n_heads, info.max_heads);
	if (!(info.head_dims & j->head_dim))
		return spatten__err(-EINVAL, "job %u: head_dim %u is not a size "
				    "the board supports (head_dims mask %#x: "
				    "spatten-info lists them)", i, j->head_dim,
				    info.head_dims);
	if (kv_rows > info.max_context)
		return spatten__err(-EINVAL, "job %u: %u KV rows, the board's "
				    "context is at most %u", i, kv_rows,
				    info.max_context);
	if (j3->n_kv_heads && j3->n_kv_heads != j->n_heads)
		need |= SPATTEN_FEAT_GQA;
	if (j3->rope_base)
		need |= SPATTEN_FEAT_ROPE;
	if (j3->kv_head_stride || j3->kv_row_stride || j3->kv_block_rows)
		need |= SPATTEN_FEAT_KV_LAYOUT;
	if (j->token_keep || j3->token_keep32)
		need |= SPATTEN_FEAT_TOKEN_PRUNE;
	if (j->head_keep)
		need |= SPATTEN_FEAT_HEAD_PRUNE;
	if (j3->value_keep32)
		need |= SPATTEN_FEAT_VALUE_PRUNE;
	need |= SPATTEN_FEAT_DESC_V3;
	if (need & ~info.features)
		return spatten__err(-EINVAL, "job %u needs features %#x the "
				    "board lacks (SPATTEN_FEAT_* of "
				    "spatten_hw.h)", i, need & ~info.features);
	return 0;
}

/* A refused batch: the first job a board limit explains, if any. */
static int submit_refused(struct spatten_dev *dev,
			  const struct spatten_job3 *jobs, unsigned int n,
			  int err)
{
	unsigned int i;

	switch (err) {
	case -EINVAL:
		for (i = 0; i < n; i++)
			if (explain_limits(dev, &jobs[i], i))
				break;
		return err;
	case -EBUSY:
		return spatten__err(err, "4096 jobs of this handle are not "
				    "reaped yet: reap them (spatten_reap(), "
				    "spatten_wait()) before submitting more");
	case -ECANCELED:
		return spatten__err(err, "a job of this handle hung and the "
				    "handle is banned: open the device again");
	case -EIO:
		return spatten__err(err, "the board is out of service (it did "
				    "not come out of a reset): reset it "
				    "(docs/driver.md)");
	case -ENODEV:
		return spatten__err(err, "the board went away");
	}
	return err;
}

SPATTEN_API int spatten_submit3(struct spatten_dev *dev,
				const struct spatten_job3 *jobs,
				unsigned int n, uint64_t *seqno)
{
	struct drm_spatten_submit req;
	int ret;

	spatten__enter();
	if (!dev || !jobs || !n || n > SPATTEN_MAX_SUBMIT)
		return spatten__err(-EINVAL, "%u jobs: 1..%d per submit", n,
				    SPATTEN_MAX_SUBMIT);
	/* an API 4 driver knows no version-3 job (nor its 392 bytes) */
	if (dev->api_version < 5)
		return spatten__err(-EOPNOTSUPP, "version 3 jobs need the "
				    "driver's interface 5 (this one has %u)",
				    dev->api_version);

	if (dev->backend == SPATTEN_BACKEND_SIM) {
		ret = spatten__sim_submit3(dev, jobs, n, seqno);
		return ret < 0 ? submit_refused(dev, jobs, n, ret) : ret;
	}

	memset(&req, 0, sizeof(req));
	req.jobs_ptr = (uint64_t)(uintptr_t)jobs;
	req.job_size = sizeof(struct spatten_job3);
	req.count = n;
	ret = spatten__ioctl(dev->fd, DRM_IOCTL_SPATTEN_SUBMIT, &req);
	if (ret < 0)
		return submit_refused(dev, jobs, n, ret);
	if (seqno)
		*seqno = req.seqno;
	return 0;
}

SPATTEN_API int spatten_run3(struct spatten_dev *dev,
			     const struct spatten_job3 *job,
			     struct spatten_result *res)
{
	struct spatten_result r;
	uint64_t seqno;
	int ret;

	spatten__enter();
	ret = spatten_submit3(dev, job, 1, &seqno);
	if (ret < 0)
		return ret;
	ret = spatten_wait(dev, seqno, SPATTEN_WAIT_FOREVER, &r);
	if (ret < 0)
		return ret;
	if (res)
		*res = r;
	return r.status == SPATTEN_HW_OK ? 0 : -EIO;
}
