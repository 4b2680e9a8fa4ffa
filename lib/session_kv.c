// SPDX-License-Identifier: MIT
/*
 * libspatten: a session's bounded KV cache (the authors' SpAttenKVCache
 * policy, struct spatten_session_opts @kv_start, @kv_important,
 * @kv_recent).
 *
 * The cache holds up to max_context slots. When a pass would not fit, the
 * session keeps start + important + recent of the tokens (the first
 * @kv_start, the @kv_recent newest, and the @kv_important of the rest with
 * the largest importance, ties to the older token) and removes the others
 * for good: their K, V and K-LSB rows, importance and alive entries. The
 * kept tokens move down to slots 0..budget-1 in their original order, so
 * a slot-ordered cache stays time-ordered (causal masks and RoPE by slot
 * hold) and the next max_context - budget tokens append without moving
 * anything: each eviction moves at most budget rows per head and layer,
 * once every max_context - budget tokens, so memory is flat and the cost
 * per token bounded whatever the length of the sequence.
 *
 * Importance is the session's token importance: the quantised softmax
 * probabilities each token received, summed over every head, layer and
 * step (the paper's), one array shared by every head and layer, so the
 * selection is too.
 *
 * With SPATTEN_SESSION_KV_PER_HEAD each layer's KV head selects for
 * itself (as the authors' LLM code does), by its own importance: the
 * probabilities its query heads gave each token at that layer, summed over
 * the steps (the board's per-KV-head importance). Each KV head's rows then
 * hold its own tokens, so a slot is a different token in different heads:
 * there is no shared cascade token pruning (every cached slot takes part),
 * and RoPE by slot (the "position shift") is what keeps positions
 * consistent. Every head keeps the same count, so the slots in use are
 * the same for all.
 */
#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "session.h"

uint32_t spatten__kv_budget(const struct spatten_session_opts *c)
{
	return c->kv_start + c->kv_important + c->kv_recent;
}

/* The budget fits the cache with room for a token; pinned below start. */
int spatten__kv_check(const struct spatten_session_opts *c)
{
	uint64_t b = (uint64_t)c->kv_start + c->kv_important + c->kv_recent;
	uint32_t i;

	if (!b)
		return c->flags & SPATTEN_SESSION_KV_PER_HEAD ?
		       spatten__err(-EINVAL, "SPATTEN_SESSION_KV_PER_HEAD "
				    "needs a bounded cache (kv_start, "
				    "kv_important, kv_recent)") : 0;
	if (b >= c->max_context)
		return spatten__err(-EINVAL, "the cache budget kv_start + "
				    "kv_important + kv_recent = %llu must be "
				    "below max_context %u", (unsigned long long)b,
				    c->max_context);
	/* per-head caches share no slot selection: no cascade token pruning */
	for (i = 0; (c->flags & SPATTEN_SESSION_KV_PER_HEAD) &&
	     i < c->n_layers; i++)
		if (c->schedule.tok_keep[i] < 1.0f)
			return spatten__err(-EINVAL, "a per-head cache takes no "
					    "cascade token pruning: "
					    "schedule.tok_keep[%u] = %g", i,
					    (double)c->schedule.tok_keep[i]);
	for (i = 0; i < c->n_pinned; i++)
		if (c->pinned[i] >= c->kv_start)
			return spatten__err(-EINVAL, "pinned token %u is not "
					    "among the kv_start %u a bounded "
					    "cache keeps", c->pinned[i],
					    c->kv_start);
	return 0;
}

/*
 * Pack the @n new rows of every KV head of @src into slots len..len+n-1
 * of a plane of capacity max_context, head g with @frac[g]: nothing else
 * in the cache moves. A head's slots are contiguous, so rows the view
 * has contiguous too are packed in one call. Returns the saturated
 * elements or -errno.
 */
static long put_rows(struct spatten_session *s, unsigned char *base,
		     unsigned char *lsb, const struct spatten_view *src,
		     uint8_t fmt, uint32_t row, const int8_t *frac,
		     uint32_t len, uint32_t n)
{
	const struct spatten_session_opts *c = &s->cfg;
	uint32_t G = c->n_kv_heads, D = c->head_dim, g, t, rows;
	uint64_t C = c->max_context, at;
	const float *x;
	long r, sat = 0;
	size_t cnt;

	for (g = 0; g < G; g++)
		for (t = 0; t < n; t += rows) {
			rows = spatten__view_rows(src, g, t, n, D, s->row, &x);
			at = (uint64_t)g * C + len + t;
			cnt = (size_t)rows * D;
			if (lsb)
				r = spatten_pack_split(base + at * row,
						       lsb + at * s->lsb_row,
						       spatten_fmt_bits(fmt),
						       x, cnt,
						       (unsigned int)frac[g]);
			else
				r = spatten_pack(base + at * row, fmt, x, cnt,
						 (unsigned int)frac[g]);
			if (r < 0)
				return r;
			sat += r;
		}
	return sat;
}

/* Append @n rows of K and V to @layer's cache at slot @len. */
int spatten__kv_append(struct spatten_session *s, unsigned int layer,
		       const struct spatten_view *k,
		       const struct spatten_view *v, uint32_t len, uint32_t n)
{
	const struct spatten_session_opts *c = &s->cfg;
	unsigned char *b = spatten__kv_map(s, layer, KV_K);
	unsigned char *lsb = spatten__kv_map(s, layer, KV_K_LSB);
	const int8_t *kf = s->kfrac + (size_t)layer * c->n_kv_heads;
	const int8_t *vf = s->vfrac + (size_t)layer * c->n_kv_heads;
	long r;

	r = put_rows(s, b, lsb, k, s->k_fmt, s->k_row, kf, len, n);
	if (r < 0)
		return (int)r;
	s->sat[(size_t)layer * 3 + 1] += (uint64_t)r;
	r = put_rows(s, spatten__kv_map(s, layer, KV_V), NULL, v, s->v_fmt,
		     s->v_row, vf, len, n);
	if (r < 0)
		return (int)r;
	s->sat[(size_t)layer * 3 + 2] += (uint64_t)r;
	return 0;
}

/*
 * Would @n more tokens fit, after making room if need be? 1: they fit
 * as the cache is; 0: after an eviction; -ENOSPC: not even then.
 */
static int kv_fits(const struct spatten_session *s, uint32_t n)
{
	const struct spatten_session_opts *c = &s->cfg;
	uint32_t budget = spatten__kv_budget(c);

	if ((uint64_t)s->len + n <= c->max_context)
		return 1;
	if (budget && s->len > budget && (uint64_t)budget + n <= c->max_context)
		return 0;
	return -ENOSPC;
}

/*
 * Room for @n more tokens: a bounded cache evicts down to its budget
 * (between passes, never within one) when they would not fit, and only
 * if they fit then: a call that fails evicts nothing.
 */
int spatten__kv_room(struct spatten_session *s, uint32_t n)
{
	int fits = kv_fits(s, n);

	if (!fits)
		spatten__kv_evict(s);
	return fits < 0 ? fits : 0;
}

static uint64_t imp_at(const unsigned char *timp, uint32_t slot)
{
	uint64_t le;

	memcpy(&le, timp + (size_t)slot * SPATTEN_IMP_BYTES, sizeof(le));
	return le64toh(le);
}

/*
 * The importance array the comparator ranks by: qsort() passes it no
 * context, and sessions on other threads evict at the same time, so each
 * thread has its own.
 */
static _Thread_local const unsigned char *sort_timp;

/* Larger importance first, then the older slot. */
static int by_importance(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	uint64_t ix = imp_at(sort_timp, x), iy = imp_at(sort_timp, y);

	if (ix != iy)
		return ix > iy ? -1 : 1;
	return x < y ? -1 : x > y;
}

/*
 * Which slots stay: s->order[0..n) ascending; returns n. The middle
 * [start, len - recent) is ranked by importance; its first @kv_important
 * stay.
 */
static uint32_t select_kept(struct spatten_session *s,
			    const unsigned char *timp)
{
	const struct spatten_session_opts *c = &s->cfg;
	uint32_t len = s->len, start = c->kv_start, n = 0, i, mid_n, keep;
	uint32_t mid_end = len > c->kv_recent ? len - c->kv_recent : 0;
	uint32_t *mid = s->kept;	/* scratch: the pass has not begun */
	uint8_t *keep_mask = (uint8_t *)s->cand;

	if (start > mid_end)
		start = mid_end;
	memset(keep_mask, 0, len);
	for (i = 0; i < start; i++)
		keep_mask[i] = 1;
	for (i = mid_end; i < len; i++)
		keep_mask[i] = 1;
	mid_n = mid_end - start;
	for (i = 0; i < mid_n; i++)
		mid[i] = start + i;
	/* qsort is not stable; the comparator breaks ties by slot */
	sort_timp = timp;
	qsort(mid, mid_n, sizeof(*mid), by_importance);
	keep = c->kv_important < mid_n ? c->kv_important : mid_n;
	for (i = 0; i < keep; i++)
		keep_mask[mid[i]] = 1;
	for (i = 0; i < len; i++)
		if (keep_mask[i])
			s->order[n++] = i;
	return n;
}

/* Rows @order[i] -> i of one head's rows of @row bytes at @base. */
static void compact_rows(unsigned char *base, uint32_t row,
			 const uint32_t *order, uint32_t n)
{
	uint32_t i;

	for (i = 0; row && i < n; i++)
		if (order[i] != i)
			memmove(base + (uint64_t)i * row,
				base + (uint64_t)order[i] * row, row);
}

/* Rows @order[i] -> i of a [heads][max_context][row] plane. */
static void compact_plane(unsigned char *base, uint32_t heads, uint64_t cap,
			  uint32_t row, const uint32_t *order, uint32_t n)
{
	uint32_t g;

	for (g = 0; g < heads; g++)
		compact_rows(base + (uint64_t)g * cap * row, row, order, n);
}

/* Slots @order[i] -> i of an importance array and its token ids. */
static void compact_imp(unsigned char *timp, uint32_t *ids, uint32_t len,
			const uint32_t *order, uint32_t n)
{
	uint32_t i;

	compact_rows(timp, SPATTEN_IMP_BYTES, order, n);
	for (i = 0; i < n; i++)
		ids[i] = ids[order[i]];
	memset(timp + (size_t)n * SPATTEN_IMP_BYTES, 0,
	       (size_t)(len - n) * SPATTEN_IMP_BYTES);
}

/* Layer @l's KV head @g's importance ([C] LE u64) and token ids. */
static unsigned char *head_imp(const struct spatten_session *s,
			       unsigned int l, uint32_t g)
{
	const struct spatten_session_opts *c = &s->cfg;

	return s->himp + (((size_t)l * c->n_kv_heads + g) * c->max_context) *
	       SPATTEN_IMP_BYTES;
}

static uint32_t *head_ids(const struct spatten_session *s, unsigned int l,
			  uint32_t g)
{
	const struct spatten_session_opts *c = &s->cfg;

	return s->hids + ((size_t)l * c->n_kv_heads + g) * c->max_context;
}

/* Each layer's KV head keeps its own tokens; every slot stays alive. */
static uint32_t evict_per_head(struct spatten_session *s)
{
	const struct spatten_session_opts *c = &s->cfg;
	uint64_t C = c->max_context;
	uint32_t n = 0, l, g, i;

	int p;

	for (l = 0; l < c->n_layers; l++) {
		for (g = 0; g < c->n_kv_heads; g++) {
			n = select_kept(s, head_imp(s, l, g));
			for (p = 0; p < KV_PLANES; p++) {
				uint32_t row = spatten__kv_row(s, p);

				if (row)
					compact_rows(spatten__kv_map(s, l, p) +
						     g * C * row, row,
						     s->order, n);
			}
			compact_imp(head_imp(s, l, g), head_ids(s, l, g),
				    s->len, s->order, n);
		}
		for (i = 0; i < n; i++)
			s->alive[l * C + i] = i;
		s->n_alive[l] = n;
	}
	return n;
}

/* A layer's alive slots, renumbered; the evicted ones dropped. */
static uint32_t remap_list(uint32_t *list, uint32_t n, const uint32_t *map)
{
	uint32_t i, m = 0;

	for (i = 0; i < n; i++)
		if (map[list[i]] != UINT32_MAX)
			list[m++] = map[list[i]];
	return m;
}

void spatten__kv_evict(struct spatten_session *s)
{
	const struct spatten_session_opts *c = &s->cfg;
	unsigned char *w = spatten_bo_map(s->work);
	unsigned char *timp = w + s->off_timp;
	uint32_t *map = s->cand;	/* after select_kept: old -> new slot */
	uint32_t n, i, l;
	int p;

	if (s->per_head) {
		s->len = evict_per_head(s);
		return;
	}
	n = select_kept(s, timp);
	for (i = 0; i < s->len; i++)
		map[i] = UINT32_MAX;
	for (i = 0; i < n; i++)
		map[s->order[i]] = i;
	for (l = 0; l < c->n_layers; l++) {
		for (p = 0; p < KV_PLANES; p++)
			if (spatten__kv_row(s, p))
				compact_plane(spatten__kv_map(s, l, p),
					      c->n_kv_heads, c->max_context,
					      spatten__kv_row(s, p), s->order,
					      n);
		s->n_alive[l] = remap_list(s->alive + (size_t)l * c->max_context,
					   s->n_alive[l], map);
	}
	compact_imp(timp, s->ids, s->len, s->order, n);
	s->len = n;
}

/* Slots of one importance array and its ids into the caller's arrays. */
static int copy_cache(const struct spatten_session *s,
		      const unsigned char *timp, const uint32_t *sids,
		      uint32_t *ids, uint64_t *imp, unsigned int max)
{
	uint32_t i;

	for (i = 0; i < s->len && i < max; i++) {
		if (ids)
			ids[i] = sids[i];
		if (imp)
			imp[i] = imp_at(timp, i);
	}
	return (int)s->len;
}

SPATTEN_API int spatten_session_cache(const struct spatten_session *s,
				      uint32_t *ids, uint64_t *imp,
				      unsigned int max)
{
	spatten__enter();
	if (!s || (max && !ids && !imp) || s->per_head)
		return -EINVAL;
	return copy_cache(s, (const unsigned char *)spatten_bo_map(s->work) +
			  s->off_timp, s->ids, ids, imp, max);
}

SPATTEN_API int spatten_session_cache_head(const struct spatten_session *s,
					   unsigned int layer,
					   unsigned int kv_head, uint32_t *ids,
					   uint64_t *imp, unsigned int max)
{
	spatten__enter();
	if (!s || (max && !ids && !imp) || layer >= s->cfg.n_layers ||
	    kv_head >= s->cfg.n_kv_heads)
		return -EINVAL;
	if (!s->per_head)
		return spatten_session_cache(s, ids, imp, max);
	return copy_cache(s, head_imp(s, layer, kv_head),
			  head_ids(s, layer, kv_head), ids, imp, max);
}

/* The per-KV-head arrays, when the session selects per head. */
int spatten__kv_alloc(struct spatten_session *s)
{
	const struct spatten_session_opts *c = &s->cfg;
	size_t n = (size_t)c->n_layers * c->n_kv_heads * c->max_context;

	s->per_head = !!(c->flags & SPATTEN_SESSION_KV_PER_HEAD);
	if (!s->per_head)
		return 0;
	s->himp = calloc(n, SPATTEN_IMP_BYTES);
	s->hids = calloc(n, sizeof(uint32_t));
	return s->himp && s->hids ? 0 : -ENOMEM;
}

void spatten__kv_reset(struct spatten_session *s)
{
	const struct spatten_session_opts *c = &s->cfg;

	if (s->per_head)
		memset(s->himp, 0, (size_t)c->n_layers * c->n_kv_heads *
		       c->max_context * SPATTEN_IMP_BYTES);
}

/* The token ids of the @n slots a pass or an import appends to @layer. */
void spatten__kv_new_tokens(struct spatten_session *s, unsigned int layer,
			    uint32_t n)
{
	uint32_t g, i;

	for (i = 0; i < n; i++)
		s->ids[s->len + i] = (uint32_t)(s->seen + i);
	for (g = 0; s->per_head && g < s->cfg.n_kv_heads; g++)
		for (i = 0; i < n; i++)
			head_ids(s, layer, g)[s->len + i] =
				(uint32_t)(s->seen + i);
}

/* Bytes of the jobs' token importance: per KV head, or one array. */
uint64_t spatten__kv_imp_bytes(const struct spatten_session *s)
{
	uint64_t n = s->cfg.max_context;

	return n * SPATTEN_IMP_BYTES * (s->per_head ? s->cfg.n_kv_heads : 1);
}

/*
 * A per-head job's importance is [G][L] (the row of KV head g at g * L):
 * @layer's arrays in before the job, out after. The board reads and
 * writes all of it anyway, so this is the same order of work.
 */
void spatten__kv_imp_in(struct spatten_session *s, unsigned int layer,
			uint32_t L)
{
	unsigned char *t = (unsigned char *)spatten_bo_map(s->work) +
			   s->off_timp;
	uint32_t g;

	for (g = 0; s->per_head && g < s->cfg.n_kv_heads; g++)
		memcpy(t + (size_t)g * L * SPATTEN_IMP_BYTES,
		       head_imp(s, layer, g), (size_t)L * SPATTEN_IMP_BYTES);
}

void spatten__kv_imp_out(struct spatten_session *s, unsigned int layer,
			 uint32_t L)
{
	const unsigned char *t = (unsigned char *)spatten_bo_map(s->work) +
				 s->off_timp;
	uint32_t g;

	for (g = 0; s->per_head && g < s->cfg.n_kv_heads; g++)
		memcpy(head_imp(s, layer, g), t + (size_t)g * L *
		       SPATTEN_IMP_BYTES, (size_t)L * SPATTEN_IMP_BYTES);
}

/*
 * Every layer's scales for an import; on -ERANGE the layers' scales are
 * as they were (none chosen).
 */
static int import_scales(struct spatten_session *s, uint32_t n,
			 const struct spatten_view *k,
			 const struct spatten_view *v)
{
	size_t fr = (size_t)s->cfg.n_layers * s->cfg.n_kv_heads;
	int8_t *saved = malloc(2 * fr);
	uint32_t l;
	int ret = 0;

	if (!saved)
		return -ENOMEM;
	memcpy(saved, s->kfrac, fr);
	memcpy(saved + fr, s->vfrac, fr);
	for (l = 0; l < s->cfg.n_layers && !ret; l++)
		ret = spatten__scales_kv(s, l, n, &k[l], &v[l]);
	if (ret < 0) {
		memcpy(s->kfrac, saved, fr);
		memcpy(s->vfrac, saved + fr, fr);
	}
	free(saved);
	return ret;
}

SPATTEN_API int spatten_session_import(struct spatten_session *s,
				       unsigned int n,
				       const struct spatten_view *k,
				       const struct spatten_view *v)
{
	const struct spatten_session_opts *c;
	uint32_t l, i;
	int ret;

	spatten__enter();
	if (!s || !k || !v || !n)
		return spatten__err(-EINVAL, "a session, K and V views and n > "
				    "0 are needed");
	if (s->broken || s->in_pass)
		return spatten__err(-EINVAL, "import between passes only (%s)",
				    s->broken ? "the last pass failed: reset" :
				    "a pass is under way");
	c = &s->cfg;
	if (c->kind != SPATTEN_SESSION_DECODER)
		return spatten__err(-EINVAL, "an encoder's cache cannot be "
				    "imported: a decoder only");
	for (l = 0; l < c->n_layers; l++)
		if (!spatten__view_ok(&k[l]) || !spatten__view_ok(&v[l]))
			return -EINVAL;
	ret = kv_fits(s, n);
	if (ret < 0)
		return spatten__err(ret, "%u tokens do not fit: the cache holds "
				    "%u of max_context %u", n, s->len,
				    c->max_context);
	/* every layer's scales first: -ERANGE changes nothing */
	ret = import_scales(s, n, k, v);
	if (ret < 0)
		return ret;
	ret = spatten__kv_room(s, n);
	if (ret < 0)
		return ret;
	for (l = 0; l < c->n_layers; l++) {
		uint32_t *alive = s->alive + (size_t)l * c->max_context;

		ret = spatten__kv_append(s, l, &k[l], &v[l], s->len, n);
		if (ret < 0) {
			s->broken = 1;
			return ret;
		}
		for (i = 0; i < n; i++)
			alive[s->n_alive[l] + i] = s->len + i;
		s->n_alive[l] += n;
	}
	for (l = 0; l < c->n_layers; l++)
		spatten__kv_new_tokens(s, l, n);
	s->len += n;
	s->seen += n;
	return 0;
}
