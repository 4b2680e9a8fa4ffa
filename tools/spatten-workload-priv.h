/* SPDX-License-Identifier: MIT */
/*
 * Inside the workloads (spatten-workload.c, spatten-workload-ref.c): the
 * synthetic inputs and the float reference. Not used by the tools' main
 * files.
 */
#ifndef SPATTEN_WORKLOAD_PRIV_H
#define SPATTEN_WORKLOAD_PRIV_H

#include "spatten-workload.h"

enum { WL_Q = 1, WL_K, WL_V };

/*
 * The input generator: per (layer, KV head) a direction u of +-1 entries
 * (computed once: regenerating it per element was most of the cost of a
 * long context).
 */
struct wl_gen {
	const struct wl_opts *o;
	int8_t *u;		/* [layers][kv_heads][head_dim] */
};

int wl_gen_init(struct wl_gen *g, const struct wl_opts *o);
void wl_gen_free(struct wl_gen *g);

/*
 * Row of token @j of Q (@h a query head) or K, V (@h a KV head) at layer
 * @l, head_dim floats into @dst.
 */
void wl_gen_row(const struct wl_gen *g, int kind, uint32_t l, uint32_t h,
		uint64_t j, float *dst);

/*
 * The session needs more than the board has: say which limit, and what it
 * is (spatten-workload-board.c).
 */
void wl_explain_caps(struct spatten_dev *dev, const struct wl_opts *o,
		     const struct spatten_session_opts *c);

/*
 * A layer's cache larger than the board's largest buffer: say so.
 * Return: 1 after a message, else 0 (spatten-workload-board.c).
 */
int wl_explain_bo_size(struct spatten_dev *dev, const struct wl_opts *o,
		       const struct spatten_session_opts *c);

/* The float reference (spatten-workload-ref.c). */
struct wl_ref {
	const struct wl_opts *o;
	const struct spatten_session_opts *c;
	const struct wl_gen *g;
	uint32_t cap;			/* cache slots */
	double *kf, *km, *vv;		/* [cap][D]: keys full, MSB-only, V */
	double *p, *sc;			/* [cap]: probabilities, scratch */
	double *inv_freq;		/* [D / 2] RoPE */
	int32_t *rot;			/* [slot][D / 2][2]: RoPE cos, sin */
	uint32_t *ids;			/* [cap] token of each slot */
	uint32_t *slots;		/* [cap] alive slots of the layer */
	float *row;			/* [D] */
};

int wl_ref_init(struct wl_ref *x, const struct wl_opts *o,
		const struct spatten_session_opts *c, const struct wl_gen *g,
		uint32_t cap);
void wl_ref_free(struct wl_ref *x);

/*
 * Check the output rows of @layer's last pass: its @n new tokens (the
 * prompt, a chunk or a generation step's one) are tokens @pos0.. of the
 * sequence, @out their output [n_heads][@n][D]. Updates @r.
 * Return: 0, or an error of the session's queries.
 */
int wl_ref_check_layer(struct wl_ref *x, struct spatten_session *s,
		       uint32_t layer, uint64_t pos0, uint32_t n,
		       const float *out, struct wl_result *r);

#endif /* SPATTEN_WORKLOAD_PRIV_H */
