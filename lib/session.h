/* SPDX-License-Identifier: MIT */
/*
 * libspatten: a session's state, shared by session.c (options, one layer)
 * and session_kv.c (the bounded KV cache). Not installed.
 */
#ifndef SPATTEN_SESSION_H
#define SPATTEN_SESSION_H

#include "spatten_private.h"

#define WORK_ALIGN	64u
/* Rows are 32-bit in version-3 jobs; the board's own limit is lower. */
#define SESSION_MAX_CONTEXT	(1u << 30)
#define SESSION_MAX_PINNED \
	(sizeof(((struct spatten_session_opts *)0)->pinned) / \
	 sizeof(((struct spatten_session_opts *)0)->pinned[0]))
/*
 * struct spatten_session_opts as library 1.3 first released it: frozen
 * (callers built then pass this size for ever); and the largest size a
 * caller may pass.
 */
#define SESSION_OPTS_SIZE0	1864u
#define SESSION_OPTS_SIZE_MAX	4096u

struct spatten_session {
	struct spatten_dev *dev;
	struct spatten_session_opts cfg;
	uint8_t k_fmt, v_fmt;
	int prog;
	uint32_t k_row, lsb_row, v_row;		/* bytes per row */
	struct spatten_bo **kv;			/* [layer][plane] */
	struct spatten_bo *work;
	uint64_t off_q, off_out, off_timp, off_himp, off_talive, off_tkept,
		 off_pinned, off_halive, off_hkept, off_fracs;
	uint32_t len;				/* cache slots in use */
	uint64_t seen;				/* tokens of the sequence */
	uint32_t *ids;				/* [max_context] token per slot */
	/* per-KV-head selection (SPATTEN_SESSION_KV_PER_HEAD) */
	int per_head;
	unsigned char *himp;			/* [layers][G][C] LE u64 */
	uint32_t *hids;				/* [layers][G][C] token per slot */
	uint32_t *order;			/* [max_context] eviction scratch */
	/* pass state */
	int in_pass, broken;
	uint32_t pass_L, pass_new, next_layer;
	uint32_t *alive;			/* [n_layers][max_context] */
	uint32_t *n_alive;
	uint32_t *cand, *kept;			/* [max_context] */
	uint32_t n_kept;
	uint32_t *pass_heads;			/* [n_heads] alive now */
	uint32_t n_pass_heads;
	uint32_t *layer_heads;			/* [n_layers][n_heads] */
	uint32_t *n_layer_heads;
	struct spatten_layer_stats *last, *total;
	/* scales (session_scale.c) */
	int8_t *kfrac;				/* [n_layers][n_kv_heads], -1 unset */
	int8_t *vfrac;				/* [n_layers][n_kv_heads] */
	uint64_t *sat;				/* [n_layers][3]: Q, K, V */
	int *qexp;				/* [n_heads] this pass */
	int8_t *frac_save;			/* [2][n_kv_heads] */
	float *row;				/* [head_dim] a view's row */
	int chunks;				/* board takes chunked steps */
	uint32_t max_pass;			/* tokens of a pass, at most */
};

/*
 * The cache's planes: one buffer each per layer, [n_kv_heads][max_context]
 * rows (the LSB plane with progressive keys only), so that each stays
 * within the board's largest buffer.
 */
enum { KV_K, KV_K_LSB, KV_V, KV_PLANES };

static inline struct spatten_bo *spatten__kv_bo(const struct spatten_session *s,
						unsigned int layer, int plane)
{
	return s->kv[(size_t)layer * KV_PLANES + plane];
}

static inline unsigned char *spatten__kv_map(const struct spatten_session *s,
					     unsigned int layer, int plane)
{
	struct spatten_bo *bo = spatten__kv_bo(s, layer, plane);

	return bo ? spatten_bo_map(bo) : NULL;
}

/* Bytes per row of a plane (0: the session has no such plane). */
static inline uint32_t spatten__kv_row(const struct spatten_session *s,
				       int plane)
{
	return plane == KV_K ? s->k_row :
	       plane == KV_K_LSB ? s->lsb_row : s->v_row;
}

/* A decoder: causal, then generation steps. */
static inline int spatten__causal(const struct spatten_session_opts *c)
{
	return c->kind == SPATTEN_SESSION_DECODER;
}

/* This pass's fixed-point scales (session_scale.c). */
struct spatten_pass_scales {
	int *qexp;		/* [n_heads]: fractional bits of each head's Q */
	const int8_t *kf, *vf;	/* [n_kv_heads]: the layer's K and V */
};

/* session_scale.c */
int spatten__scales_pass(struct spatten_session *s, unsigned int layer,
			 uint32_t n, const struct spatten_view *q,
			 const struct spatten_view *k,
			 const struct spatten_view *v,
			 struct spatten_pass_scales *ps);
int spatten__scales_kv(struct spatten_session *s, unsigned int layer,
		       uint32_t n, const struct spatten_view *k,
		       const struct spatten_view *v);
long spatten__scales_put_q(struct spatten_session *s, unsigned char *dst,
			   const struct spatten_view *q, uint32_t n,
			   const struct spatten_pass_scales *ps);
int spatten__scales_fixed(const struct spatten_session *s);
void spatten__scales_job(const struct spatten_session *s,
			 const struct spatten_pass_scales *ps,
			 unsigned char *table, struct spatten_attn_desc *d);
int spatten__scales_out(const struct spatten_session *s,
			const struct spatten_pass_scales *ps, uint32_t h);

/* session_view.c */
int spatten__view_ok(const struct spatten_view *v);
const float *spatten__view_row(const struct spatten_view *v, uint32_t h,
			       uint32_t t, uint32_t d, float *buf);
float *spatten__view_out_row(const struct spatten_view *v, uint32_t h,
			     uint32_t t, float *buf);
void spatten__view_put(const struct spatten_view *v, uint32_t h, uint32_t t,
		       uint32_t d, const float *row);
void spatten__view_zero(const struct spatten_view *v, uint32_t h, uint32_t t,
			uint32_t d);
uint32_t spatten__view_rows(const struct spatten_view *v, uint32_t h,
			    uint32_t t, uint32_t n, uint32_t d, float *buf,
			    const float **x);
float spatten__view_head_max(const struct spatten_view *v, uint32_t h,
			     uint32_t n, uint32_t d);
float spatten__view_head_max_rope(const struct spatten_view *v, uint32_t h,
				  uint32_t n, uint32_t d, float *buf);

/* session_kv.c */
uint32_t spatten__kv_budget(const struct spatten_session_opts *c);
int spatten__kv_check(const struct spatten_session_opts *c);
void spatten__kv_evict(struct spatten_session *s);
int spatten__kv_room(struct spatten_session *s, uint32_t n);
int spatten__kv_alloc(struct spatten_session *s);
void spatten__kv_reset(struct spatten_session *s);
void spatten__kv_new_tokens(struct spatten_session *s, unsigned int layer,
			    uint32_t n);
uint64_t spatten__kv_imp_bytes(const struct spatten_session *s);
void spatten__kv_imp_in(struct spatten_session *s, unsigned int layer,
			uint32_t L);
void spatten__kv_imp_out(struct spatten_session *s, unsigned int layer,
			 uint32_t L);
int spatten__kv_append(struct spatten_session *s, unsigned int layer,
		       const struct spatten_view *k,
		       const struct spatten_view *v, uint32_t len, uint32_t n);

#endif /* SPATTEN_SESSION_H */
