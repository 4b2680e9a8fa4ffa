// SPDX-License-Identifier: MIT
/*
 * libspatten: a session's inputs and outputs as views (struct
 * spatten_view): float32, fp16 or bf16, [tokens][heads][dim] or
 * [heads][tokens][dim] or any other strides, one row of head_dim
 * contiguous elements at a time. Rows are widened to float exactly (or
 * narrowed from float as spatten_convert() does) through the session's
 * row buffer, so no copy of a whole tensor is ever made; the rows of a
 * float32 head that are contiguous are read in place, all at once.
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include <math.h>

#include "session.h"

int spatten__view_ok(const struct spatten_view *v)
{
	size_t es;

	if (!v || !v->data || v->rsvd)
		return 0;
	es = spatten_dtype_size((enum spatten_dtype)v->dtype);
	return es && !((uintptr_t)v->data % es);
}

/* Element (token @t, head @h, 0) of @v. */
static void *view_at(const struct spatten_view *v, uint32_t h, uint32_t t)
{
	size_t es = spatten_dtype_size((enum spatten_dtype)v->dtype);
	int64_t e = (int64_t)t * v->token_stride + (int64_t)h * v->head_stride;

	return (unsigned char *)v->data + e * (int64_t)es;
}

/*
 * Row (@h, @t) of @v as floats: a float32 row is used in place, any other
 * is widened (exactly) into @buf of head_dim floats.
 */
const float *spatten__view_row(const struct spatten_view *v, uint32_t h,
			       uint32_t t, uint32_t d, float *buf)
{
	const void *p = view_at(v, h, t);

	if (v->dtype == SPATTEN_DTYPE_F32)
		return p;
	spatten_convert(buf, SPATTEN_DTYPE_F32, p,
			(enum spatten_dtype)v->dtype, d);
	return buf;
}

/*
 * Where to compute row (@h, @t) of @v: in place when the view is float32,
 * else @buf, which spatten__view_put() then stores.
 */
float *spatten__view_out_row(const struct spatten_view *v, uint32_t h,
			     uint32_t t, float *buf)
{
	return v->dtype == SPATTEN_DTYPE_F32 ? view_at(v, h, t) : buf;
}

/* Write @d floats as row (@h, @t) of @v, rounded to its type. */
void spatten__view_put(const struct spatten_view *v, uint32_t h, uint32_t t,
		       uint32_t d, const float *row)
{
	spatten_convert(view_at(v, h, t), (enum spatten_dtype)v->dtype, row,
			SPATTEN_DTYPE_F32, d);
}

/* Zero row (@h, @t) of @v (+0 in every type). */
void spatten__view_zero(const struct spatten_view *v, uint32_t h, uint32_t t,
			uint32_t d)
{
	memset(view_at(v, h, t), 0,
	       d * spatten_dtype_size((enum spatten_dtype)v->dtype));
}

/*
 * Are a head's rows one after the other (token stride = head_dim, as in
 * [heads][tokens][dim])? Then they are one array, converted in one call.
 */
static int rows_contiguous(const struct spatten_view *v, uint32_t d)
{
	return v->token_stride == (int64_t)d;
}

/*
 * Head @h's rows @t..@n-1 of @v as floats, as many as can be taken in one
 * go: all of them in place when the view is float32 with contiguous rows
 * (a [heads][tokens][dim] array), else row @t as spatten__view_row()
 * gives it. Returns how many rows *@x holds.
 */
uint32_t spatten__view_rows(const struct spatten_view *v, uint32_t h,
			    uint32_t t, uint32_t n, uint32_t d, float *buf,
			    const float **x)
{
	if (v->dtype == SPATTEN_DTYPE_F32 && rows_contiguous(v, d)) {
		*x = view_at(v, h, t);
		return n - t;
	}
	*x = spatten__view_row(v, h, t, d, buf);
	return 1;
}

/*
 * Largest |x| of head @h's @n rows (as spatten_max_abs() of them all,
 * widened), on the view's own elements: one call over all of them when
 * the rows are contiguous.
 */
/*
 * Largest magnitude head @h's rows can take once the board rotates them
 * (RoPE pairs element i with i + d/2): the largest norm of a pair, with
 * room for the rounding of the board's fixed-point rotation (at most 1.5
 * LSB, docs/engine.md), so a scale chosen from it never saturates. @buf
 * holds head_dim floats.
 */
float spatten__view_head_max_rope(const struct spatten_view *v, uint32_t h,
				  uint32_t n, uint32_t d, float *buf)
{
	uint32_t half = d / 2, t, i;
	double m = 0.0;

	for (t = 0; t < n; t++) {
		const float *x = spatten__view_row(v, h, t, d, buf);

		for (i = 0; i < half; i++) {
			double a = x[i], b = x[i + half], r = a * a + b * b;

			if (r > m)	/* NaN compares false: ignored */
				m = r;
		}
	}
	return (float)(sqrt(m) * (1.0 + 0x1p-13));
}

float spatten__view_head_max(const struct spatten_view *v, uint32_t h,
			     uint32_t n, uint32_t d)
{
	enum spatten_dtype dt = (enum spatten_dtype)v->dtype;
	float m = 0.0f, x;
	uint32_t t;

	if (rows_contiguous(v, d))
		return spatten__max_abs(view_at(v, h, 0), dt, (size_t)n * d);
	for (t = 0; t < n; t++) {
		x = spatten__max_abs(view_at(v, h, t), dt, d);
		if (x > m)
			m = x;
	}
	return m;
}
