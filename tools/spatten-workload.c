// SPDX-License-Identifier: MIT
/*
 * Model-shaped workloads through a libspatten session, with a float
 * reference of the same pruned computation. See spatten-workload.h.
 *
 * Inputs (fixed seed, any element regenerated on demand from a hash, so
 * the reference needs no copy of the KV cache): per (layer, head) a
 * direction u (entries +-1); every token j has a salience s_j (heavy
 * tailed, shared by all layers, varied per head). Then
 *   q = 0.6 g + u,   k = 0.6 g + s_j u,   v uniform in [-1, 1]
 * (g standard normal-ish), so a few tokens draw most of the attention, as
 * in trained models, and cascade pruning has something to find.
 *
 * The reference recomputes selected output rows in double from the same
 * quantized inputs the device reads, over the tokens the layer kept
 * (spatten_session_tokens()) and the heads it computed, taking the LSB
 * refetch decision from the MSB-only probabilities and keeping the
 * value_keep largest probabilities without renormalising, as docs/
 * hardware.md specifies. The remaining difference is the device's
 * arithmetic, bounded by spe_out_tolerance().
 */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "spatten-workload.h"
#include "spe.h"

const char *wl_prog = "spatten";
const char *wl_sim_flag = "--backend sim";

static const struct wl_model models[] = {
	{ "gpt2-small", 12, 12, 64, 1, 192, 8, 0.9f, 0.2f, 1.0f, 0.75f, 0.2f },
	{ "gpt2-medium", 24, 16, 64, 1, 192, 8, 0.9f, 0.2f, 1.0f, 0.625f, 0.3f },
	{ "bert-base", 12, 12, 64, 0, 128, 0, 0.9f, 0.4f, 1.0f, 0.75f, 1.0f },
	{ "bert-large", 24, 16, 64, 0, 128, 0, 0.9f, 0.4f, 1.0f, 0.75f, 1.0f },
};

const struct wl_model *wl_model_find(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof(models) / sizeof(models[0]); i++)
		if (!strcmp(models[i].name, name))
			return &models[i];
	return NULL;
}

void wl_model_list(FILE *f)
{
	size_t i;

	for (i = 0; i < sizeof(models) / sizeof(models[0]); i++) {
		const struct wl_model *m = &models[i];

		fprintf(f, "  %-12s %2u layers x %2u heads, D=%u, %s, %u tokens%s",
			m->name, m->layers, m->heads, m->head_dim,
			m->causal ? "decoder" : "encoder", m->prompt,
			m->causal ? "" : "\n");
		if (m->causal)
			fprintf(f, " + %u generated\n", m->steps);
	}
}

void wl_opts_default(struct wl_opts *o, const struct wl_model *m)
{
	memset(o, 0, sizeof(*o));
	o->m = *m;
	o->prompt = m->prompt;
	o->steps = m->steps;
	o->seed = 0x5ba77e4;
	o->backend = SPATTEN_BACKEND_DEFAULT;
	o->progressive = 1;
	o->k_bits = 8;
	o->v_bits = 12;
	o->threshold = 0.1f;
	o->check_rows = 4;
	o->check = 1;
}

/* ---- inputs ------------------------------------------------------------- */

enum { KIND_Q = 1, KIND_K, KIND_V, KIND_U, KIND_S, KIND_SH };

static uint64_t mix(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ull;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

static uint64_t h5(uint64_t seed, uint64_t a, uint64_t b, uint64_t c,
		   uint64_t d)
{
	return mix(mix(mix(mix(seed ^ a) ^ b) ^ c) ^ d);
}

static double unit(uint64_t h)
{
	return (double)(h >> 11) / 9007199254740992.0;	/* [0, 1) */
}

static double gauss(uint64_t h)
{
	/* sum of four uniforms, scaled to unit variance */
	double s = unit(h) + unit(mix(h + 1)) + unit(mix(h + 2)) +
		   unit(mix(h + 3));

	return (s - 2.0) * 1.7320508075688772;
}

static double salience(const struct wl_opts *o, uint32_t l, uint32_t h,
		       uint32_t j)
{
	double r = unit(h5(o->seed, KIND_S, 0, 0, j));
	double v = unit(h5(o->seed, KIND_SH, l, h, j));

	return 0.7 * r * r * r * r * r * r * (0.5 + v);
}

/* Element e of row (layer l, head h, token j) of Q, K or V, in floats. */
static float gen(const struct wl_opts *o, int kind, uint32_t l, uint32_t h,
		 uint32_t j, uint32_t e)
{
	uint64_t base = h5(o->seed, kind, l, h, j);
	double u = (h5(o->seed, KIND_U, l, h, e) & 1) ? 1.0 : -1.0;

	switch (kind) {
	case KIND_Q:
		return (float)(0.6 * gauss(mix(base + e)) + u);
	case KIND_K:
		return (float)(0.6 * gauss(mix(base + e)) +
			       salience(o, l, h, j) * u);
	default:
		return (float)(2.0 * unit(mix(base + e)) - 1.0);
	}
}

static void gen_pass(const struct wl_opts *o, uint32_t l, uint32_t pos0,
		     uint32_t n, float *q, float *k, float *v)
{
	uint32_t H = o->m.heads, D = o->m.head_dim, h, i, e;

	for (h = 0; h < H; h++)
		for (i = 0; i < n; i++)
			for (e = 0; e < D; e++) {
				size_t at = ((size_t)h * n + i) * D + e;

				q[at] = gen(o, KIND_Q, l, h, pos0 + i, e);
				k[at] = gen(o, KIND_K, l, h, pos0 + i, e);
				v[at] = gen(o, KIND_V, l, h, pos0 + i, e);
			}
}

/* ---- reference ------------------------------------------------------------ */

struct ref_ctx {
	const struct wl_opts *o;
	const struct spatten_session_config *c;
	double *kf, *km, *vv, *p;	/* [L][D] keys full / MSB-only, V; [L] */
	float *row, *row2;
	unsigned char *pk, *pl;
};

/* The key and value rows of token j as the device reads them. */
static void ref_kv(struct ref_ctx *x, uint32_t l, uint32_t h, uint32_t j,
		   double *kf, double *km, double *vv)
{
	const struct spatten_session_config *c = x->c;
	uint32_t D = c->head_dim, e;
	int vf = spatten_fmt_of_bits(c->v_bits);

	for (e = 0; e < D; e++)
		x->row[e] = gen(x->o, KIND_K, l, h, j, e);
	if (c->flags & SPATTEN_SESSION_PROGRESSIVE) {
		spatten_pack_split(x->pk, x->pl, c->k_bits, x->row, D, c->k_frac);
		spatten_unpack_split(x->row2, c->k_bits, x->pk, x->pl, D,
				     c->k_frac);
		for (e = 0; e < D; e++)
			kf[e] = x->row2[e];
		spatten_unpack_split(x->row2, c->k_bits, x->pk, NULL, D,
				     c->k_frac);
		for (e = 0; e < D; e++)
			km[e] = x->row2[e];
	} else {
		int kfmt = spatten_fmt_of_bits(c->k_bits);

		spatten_pack(x->pk, (unsigned int)kfmt, x->row, D, c->k_frac);
		spatten_unpack(x->row2, (unsigned int)kfmt, x->pk, D, c->k_frac);
		for (e = 0; e < D; e++)
			kf[e] = km[e] = x->row2[e];
	}
	for (e = 0; e < D; e++)
		x->row[e] = gen(x->o, KIND_V, l, h, j, e);
	spatten_pack(x->pk, (unsigned int)vf, x->row, D, c->v_frac);
	spatten_unpack(x->row2, (unsigned int)vf, x->pk, D, c->v_frac);
	for (e = 0; e < D; e++)
		vv[e] = x->row2[e];
}

static void softmax(const double *q, const double *keys, uint32_t n,
		    uint32_t D, double *p)
{
	double m = -1e300, sum = 0;
	uint32_t j, e;

	for (j = 0; j < n; j++) {
		double dot = 0;

		for (e = 0; e < D; e++)
			dot += q[e] * keys[(size_t)j * D + e];
		p[j] = dot / sqrt((double)D);
		if (p[j] > m)
			m = p[j];
	}
	for (j = 0; j < n; j++) {
		p[j] = exp(p[j] - m);
		sum += p[j];
	}
	for (j = 0; j < n; j++)
		p[j] /= sum;
}

/*
 * Probability resolution of the device (units of 2^-15) plus its softmax
 * error: a selection within this distance of its threshold may go either
 * way on the device, so the reference treats it as ambiguous.
 */
#define PROB_EPS	(4.0 / 32768.0)

/*
 * Output of one row from probabilities @p over @n keys with value pruning
 * to @vk: @ref gets the output of the keys surely kept plus half of the
 * ambiguous ones, @slack half of the ambiguous ones' magnitude.
 */
static void ref_out(const struct ref_ctx *x, const double *p, uint32_t n,
		    uint32_t vk, double *ref, double *slack)
{
	uint32_t D = x->c->head_dim, j, e, i;
	double theta = -1.0;

	if (vk && vk < n) {
		/* the vk-th largest probability */
		double *s = x->kf;	/* scratch: keys no longer needed */

		memcpy(s, p, n * sizeof(double));
		for (i = 0; i < vk; i++) {
			uint32_t best = i;
			double t;

			for (j = i + 1; j < n; j++)
				if (s[j] > s[best])
					best = j;
			t = s[i];
			s[i] = s[best];
			s[best] = t;
		}
		theta = s[vk - 1];
	}
	for (e = 0; e < D; e++) {
		ref[e] = 0;
		slack[e] = 0;
	}
	for (j = 0; j < n; j++) {
		double w = 1.0, a = 0.0;

		if (theta >= 0) {
			if (p[j] < theta - PROB_EPS)
				continue;
			if (p[j] <= theta + PROB_EPS) {
				w = 0.5;
				a = 0.5;
			}
		}
		for (e = 0; e < D; e++) {
			double pv = p[j] * x->vv[(size_t)j * D + e];

			ref[e] += w * pv;
			slack[e] += a * fabs(pv);
		}
	}
}

static double row_err(const struct ref_ctx *x, const double *ref,
		      const double *slack, const float *dev)
{
	uint32_t D = x->c->head_dim, e;
	double err = 0;

	for (e = 0; e < D; e++) {
		double d = fabs(ref[e] - dev[e]) - slack[e];

		if (d < 0)
			d = 0;
		if (d > err)
			err = d;
	}
	return err;
}

/*
 * Reference output of query token @pos at (layer, head) over the @n
 * visible kept tokens @toks; returns max |device - reference| of the row
 * beyond what ambiguous selections (near-ties of the value top-k or of the
 * LSB refetch threshold) can explain.
 */
static double ref_row(struct ref_ctx *x, uint32_t l, uint32_t h,
		      uint32_t pos, const uint16_t *toks, uint32_t n,
		      uint32_t value_keep, const float *dev_row)
{
	const struct spatten_session_config *c = x->c;
	uint32_t D = c->head_dim, j, e;
	double q[256], ref[256], slack[256], maxp = 0, err, thr;
	int prog = !!(c->flags & SPATTEN_SESSION_PROGRESSIVE);

	for (e = 0; e < D; e++)
		q[e] = spatten_s16_to_float(spatten_float_to_s16(
			gen(x->o, KIND_Q, l, h, pos, e), c->q_frac), c->q_frac);
	for (j = 0; j < n; j++)
		ref_kv(x, l, h, toks[j], x->kf + (size_t)j * D,
		       x->km + (size_t)j * D, x->vv + (size_t)j * D);
	thr = c->lsb_threshold / 32768.0;
	if (!prog) {
		softmax(q, x->kf, n, D, x->p);
		ref_out(x, x->p, n, value_keep, ref, slack);
		return row_err(x, ref, slack, dev_row);
	}
	softmax(q, x->km, n, D, x->p);
	for (j = 0; j < n; j++)
		if (x->p[j] > maxp)
			maxp = x->p[j];
	if (maxp >= thr + PROB_EPS) {		/* surely no refetch */
		ref_out(x, x->p, n, value_keep, ref, slack);
		return row_err(x, ref, slack, dev_row);
	}
	if (maxp >= thr - PROB_EPS) {		/* either: take the closer */
		ref_out(x, x->p, n, value_keep, ref, slack);
		err = row_err(x, ref, slack, dev_row);
		/* ref_out used kf as scratch: rebuild the full keys */
		for (j = 0; j < n; j++)
			ref_kv(x, l, h, toks[j], x->kf + (size_t)j * D,
			       x->km + (size_t)j * D, x->vv + (size_t)j * D);
		softmax(q, x->kf, n, D, x->p);
		ref_out(x, x->p, n, value_keep, ref, slack);
		return fmin(err, row_err(x, ref, slack, dev_row));
	}
	softmax(q, x->kf, n, D, x->p);		/* surely refetched */
	ref_out(x, x->p, n, value_keep, ref, slack);
	return row_err(x, ref, slack, dev_row);
}

/* Engine bound for a dense job of the same shape (docs/engine.md). */
static double tolerance(const struct spatten_session_config *c, uint32_t L)
{
	struct spe_job j;

	memset(&j, 0, sizeof(j));
	j.opcode = SPATTEN_OP_ATTENTION;
	j.n_heads = c->n_heads;
	j.head_dim = c->head_dim;
	j.kv_rows = L;
	j.q_rows = 1;
	j.out_frac = c->out_frac;
	j.v_frac = c->v_frac;
	return spe_out_tolerance(&j, 1.0);
}

/* Check the layer's output rows; updates r. Returns 0 or -ENOMEM. */
static int check_layer(struct ref_ctx *x, struct spatten_session *s,
		       uint32_t l, int gen_pass_, uint32_t pos0, uint32_t n,
		       const float *out, struct wl_result *r)
{
	const struct spatten_session_config *c = x->c;
	uint32_t H = c->n_heads, D = c->head_dim, i, hi, h;
	uint16_t heads[256], *toks, *vis;
	struct spatten_layer_stats st;
	int nt, nh;
	double tol;

	spatten_session_layer_stats(s, l, &st, NULL);
	tol = tolerance(c, st.kv_rows);
	nh = spatten_session_heads(s, l, heads, 256);
	toks = malloc(c->max_context * sizeof(uint16_t));
	vis = malloc(c->max_context * sizeof(uint16_t));
	if (!toks || !vis) {
		free(toks);
		free(vis);
		return -ENOMEM;
	}
	nt = spatten_session_tokens(s, l, toks, c->max_context);
	for (hi = 0, h = 0; h < H; h++) {
		int computed = hi < (uint32_t)nh && heads[hi] == h;
		uint32_t rows = gen_pass_ ? 1 : x->o->check_rows;

		if (computed)
			hi++;
		for (i = 0; i < rows; i++) {
			uint32_t pos, nv = 0, t;
			const float *dev;
			double err;

			if (gen_pass_) {
				pos = pos0;
			} else {
				/* evenly spread over the kept tokens */
				if (!nt)
					break;
				pos = toks[(uint64_t)(nt - 1) * (i + 1) / rows];
			}
			dev = out + ((size_t)h * n + (pos - pos0)) * D;
			if (!computed) {
				for (t = 0; t < D; t++)
					if (dev[t] != 0.0f)
						r->max_err[l] = 1e9;
				continue;
			}
			for (t = 0; t < (uint32_t)nt; t++)
				if (!(c->flags & SPATTEN_SESSION_CAUSAL) ||
				    toks[t] <= pos)
					vis[nv++] = toks[t];
			err = ref_row(x, l, h, pos, vis, nv, st.value_keep,
				      dev);
			r->rows_checked++;
			if (err > r->max_err[l])
				r->max_err[l] = err;
			if (tol > r->tol[l])
				r->tol[l] = tol;
			if (err / tol > r->worst_ratio)
				r->worst_ratio = err / tol;
			if (err > r->max_err_all)
				r->max_err_all = err;
		}
	}
	free(toks);
	free(vis);
	return 0;
}

/* ---- the run ---------------------------------------------------------------- */

static int session_config(const struct wl_opts *o,
			  struct spatten_session_config *c)
{
	const struct wl_model *m = &o->m;
	int f;

	spatten_session_config_init(c, m->layers, m->heads, m->head_dim,
				    o->prompt + o->steps);
	if (!m->causal)
		c->flags &= ~SPATTEN_SESSION_CAUSAL;
	if (!o->dense) {
		int ret = spatten_schedule_paper(&c->schedule, m->layers,
						 m->tok_start, m->tok_end,
						 m->head_start, m->head_end,
						 m->value_keep);
		if (ret < 0)
			return ret;
	}
	if (o->progressive) {
		c->flags |= SPATTEN_SESSION_PROGRESSIVE;
		c->k_bits = (uint8_t)o->k_bits;
		f = spatten_frac_for_bits(4.0f, o->k_bits + 4);
	} else {
		c->k_bits = (uint8_t)o->k_bits;
		f = spatten_frac_for_bits(4.0f, o->k_bits);
	}
	if (f < 0)
		return f;
	c->k_frac = (uint8_t)f;
	c->v_bits = (uint8_t)o->v_bits;
	f = spatten_frac_for_bits(1.0f, o->v_bits);
	if (f < 0)
		return f;
	c->v_frac = (uint8_t)f;
	c->q_frac = 11;
	c->out_frac = 14;
	c->lsb_threshold = (uint16_t)lrintf(o->threshold * 32768.0f);
	c->topk_seed = (uint32_t)o->seed;
	if (!m->causal) {	/* BERT: [CLS] is never pruned */
		c->n_pinned = 1;
		c->pinned[0] = 0;
	}
	return 0;
}

static int pci_board_present(char *addr, size_t len)
{
	struct dirent *de;
	DIR *d = opendir("/sys/bus/pci/devices");
	int found = 0;

	if (!d)
		return 0;
	while (!found && (de = readdir(d))) {
		char p[512], buf[32];
		unsigned int ven = 0, dev = 0;
		FILE *f;

		if (de->d_name[0] == '.')
			continue;
		snprintf(p, sizeof(p), "/sys/bus/pci/devices/%s/vendor",
			 de->d_name);
		f = fopen(p, "r");
		if (!f)
			continue;
		if (fgets(buf, sizeof(buf), f))
			ven = (unsigned int)strtoul(buf, NULL, 16);
		fclose(f);
		snprintf(p, sizeof(p), "/sys/bus/pci/devices/%s/device",
			 de->d_name);
		f = fopen(p, "r");
		if (!f)
			continue;
		if (fgets(buf, sizeof(buf), f))
			dev = (unsigned int)strtoul(buf, NULL, 16);
		fclose(f);
		if (ven == SPATTEN_PCI_VENDOR_ID && dev == SPATTEN_PCI_DEVICE_ID) {
			snprintf(addr, len, "%.31s", de->d_name);
			found = 1;
		}
	}
	closedir(d);
	return found;
}

void wl_explain_open_error(const char *prog, const char *path, int err)
{
	char addr[64], where[4096];
	int boards = spatten_list_boards(NULL, 0);

	/* "PATH: " when one was given; the first board otherwise */
	snprintf(where, sizeof(where), "%s%s", path ? path : "",
		 path ? ": " : "");
	if (err == -ENOENT && boards > 0 && path &&
	    !strncmp(path, SPATTEN_BOARD_PREFIX, strlen(SPATTEN_BOARD_PREFIX))) {
		fprintf(stderr, "%s: %sno such board (%d SpAtten board%s, "
			"numbered from 0)\n", prog, where, boards,
			boards == 1 ? "" : "s");
	} else if (err == -ENOENT || err == -ENODEV || err == -ENXIO) {
		if (pci_board_present(addr, sizeof(addr)))
			fprintf(stderr, "%s: %sno SpAtten device node, but a "
				"SpAtten board is at PCI %s: is the driver "
				"loaded? (modprobe spatten / insmod "
				"spatten.ko)\n", prog, where, addr);
		else
			fprintf(stderr, "%s: %sno SpAtten device (no board "
				"found on the PCI bus either; "
				"%s runs the simulation)\n",
				prog, where, wl_sim_flag);
	} else if (err == -EACCES || err == -EPERM) {
		fprintf(stderr, "%s: %spermission denied (root, or the "
			"udev rule's group)\n", prog, where);
	} else if (err == -EPROTO) {
		fprintf(stderr, "%s: %sthe driver speaks another API "
			"version than this library (%d)\n", prog, where,
			SPATTEN_API_VERSION);
	} else if (err == -ENOTTY) {
		fprintf(stderr, "%s: %snot a SpAtten device\n", prog, where);
	} else if (err == -EINVAL && getenv(SPATTEN_BACKEND_ENV)) {
		fprintf(stderr, "%s: %s=%s: expected \"sim\" or \"device\"\n",
			prog, SPATTEN_BACKEND_ENV, getenv(SPATTEN_BACKEND_ENV));
	} else if (err == -EINVAL && path &&
		   !strncmp(path, SPATTEN_BOARD_PREFIX,
			    strlen(SPATTEN_BOARD_PREFIX))) {
		fprintf(stderr, "%s: %sexpected " SPATTEN_BOARD_PREFIX
			"N, N the board number (0 for the first)\n", prog,
			where);
	} else {
		fprintf(stderr, "%s: %s%s\n", prog, where, strerror(-err));
	}
}

/*
 * The session needs more than the board has: say which limit, and what it
 * is. Falls back to the generic hint when the capabilities cannot be read.
 */
static void explain_caps(struct spatten_dev *dev,
			 const struct spatten_session_config *c)
{
	struct spatten_info info;
	const char *p = wl_prog;

	if (spatten_get_info(dev, &info) < 0) {
		fprintf(stderr, "%s: cannot set up the session: the board "
			"lacks a feature, format or size this workload needs "
			"(see spatten-info)\n", p);
		return;
	}
	if (c->max_context > info.max_context)
		fprintf(stderr, "%s: prompt + steps = %u tokens: more than "
			"the board's max context of %u tokens\n", p,
			c->max_context, info.max_context);
	else if (c->n_heads > info.max_heads)
		fprintf(stderr, "%s: %u heads: more than the board's max of "
			"%u heads\n", p, c->n_heads, info.max_heads);
	else if (!(info.head_dims & c->head_dim))
		fprintf(stderr, "%s: head dimension %u: the board supports "
			"the dimensions of mask 0x%x\n", p, c->head_dim,
			info.head_dims);
	else
		fprintf(stderr, "%s: cannot set up the session: the board "
			"lacks a feature or format this workload needs (K %u "
			"bits%s, V %u bits; see spatten-info)\n", p,
			c->k_bits, c->flags & SPATTEN_SESSION_PROGRESSIVE ?
			" progressive" : "", c->v_bits);
}

int wl_run(const struct wl_opts *o, struct wl_result *r)
{
	const struct wl_model *m = &o->m;
	struct spatten_session_config cfg;
	struct spatten_session *s = NULL;
	struct spatten_dev *dev = NULL;
	struct ref_ctx x;
	size_t n = (size_t)m->heads * o->prompt * m->head_dim;
	float *q = NULL, *k = NULL, *v = NULL, *out = NULL;
	uint32_t t, l, passes = 1 + o->steps, done = 0, total;
	int64_t t0 = spatten_now_ns();
	int ret;

	memset(r, 0, sizeof(*r));
	memset(&x, 0, sizeof(x));
	ret = session_config(o, &cfg);
	if (ret < 0) {
		fprintf(stderr, "%s: bad workload parameters: %s\n", wl_prog,
			strerror(-ret));
		return ret;
	}
	ret = spatten_open_backend(o->path, o->backend, &dev);
	if (ret < 0) {
		wl_explain_open_error(wl_prog, o->path, ret);
		return ret;
	}
	r->backend = spatten_backend(dev);
	ret = spatten_session_create(dev, &cfg, &s);
	if (ret == -EOPNOTSUPP) {
		explain_caps(dev, &cfg);
		goto out;
	} else if (ret < 0) {
		fprintf(stderr, "%s: cannot set up the session: %s\n", wl_prog,
			strerror(-ret));
		goto out;
	}
	q = malloc(n * sizeof(float));
	k = malloc(n * sizeof(float));
	v = malloc(n * sizeof(float));
	out = malloc(n * sizeof(float));
	x.o = o;
	x.c = &cfg;
	x.kf = malloc((size_t)cfg.max_context * m->head_dim * sizeof(double));
	x.km = malloc((size_t)cfg.max_context * m->head_dim * sizeof(double));
	x.vv = malloc((size_t)cfg.max_context * m->head_dim * sizeof(double));
	x.p = malloc((size_t)cfg.max_context * sizeof(double));
	x.row = malloc(m->head_dim * sizeof(float));
	x.row2 = malloc(m->head_dim * sizeof(float));
	x.pk = malloc(m->head_dim * 2);
	x.pl = malloc(m->head_dim);
	if (!q || !k || !v || !out || !x.kf || !x.km || !x.vv || !x.p ||
	    !x.row || !x.row2 || !x.pk || !x.pl) {
		ret = -ENOMEM;
		fprintf(stderr, "%s: out of memory\n", wl_prog);
		goto out;
	}
	total = passes * m->layers;
	for (t = 0; t < passes; t++) {
		uint32_t nn = t ? 1 : o->prompt;
		uint32_t pos0 = t ? o->prompt + t - 1 : 0;

		for (l = 0; l < m->layers; l++) {
			gen_pass(o, l, pos0, nn, q, k, v);
			ret = spatten_session_layer(s, l, nn, q, k, v, out);
			if (ret < 0) {
				struct spatten_layer_stats st;

				spatten_session_layer_stats(s, l, &st, NULL);
				fprintf(stderr, "%s: layer %u of pass %u "
					"failed: %s", wl_prog, l, t, strerror(-ret));
				if (ret == -EIO)
					fprintf(stderr, " (job status %u: %s)",
						st.status,
						spatten_status_str(st.status));
				fprintf(stderr, "\n");
				goto out;
			}
			if (o->check) {
				ret = check_layer(&x, s, l, t > 0, pos0, nn,
						  out, r);
				if (ret < 0)
					goto out;
			}
			done++;
			if (o->progress)
				fprintf(stderr, "\r%s: pass %u/%u layer %2u/%u "
					"(%3u%%)", m->name, t + 1, passes,
					l + 1, m->layers, done * 100 / total);
		}
	}
	if (o->progress)
		fprintf(stderr, "\r%60s\r", "");
	for (l = 0; l < m->layers; l++)
		spatten_session_layer_stats(s, l, NULL, &r->layer[l]);
	ret = 0;
out:
	r->seconds = (double)(spatten_now_ns() - t0) / 1e9;
	free(q);
	free(k);
	free(v);
	free(out);
	free(x.kf);
	free(x.km);
	free(x.vv);
	free(x.p);
	free(x.row);
	free(x.row2);
	free(x.pk);
	free(x.pl);
	spatten_session_destroy(s);
	spatten_close(dev);
	return ret;
}
