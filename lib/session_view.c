// SPDX-License-Identifier: MIT
/*
 * libspatten: a session's inputs and outputs as views (struct
 * spatten_view): float32, fp16 or bf16, [tokens][heads][dim] or
 * [heads][tokens][dim] or any other strides, one row of head_dim
 * contiguous elements at a time. Rows are widened to float exactly (or
 * narrowed from float as spatten_convert() does) through the session's
 * row buffer, so no copy of a whole tensor is ever made.
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>

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

/* Largest |x| of head @h's @n rows (as spatten_max_abs() of them all). */
float spatten__view_head_max(const struct spatten_view *v, uint32_t h,
			     uint32_t n, uint32_t d, float *buf)
{
	float m = 0.0f, x;
	uint32_t t;

	for (t = 0; t < n; t++) {
		x = spatten_max_abs(spatten__view_row(v, h, t, d, buf), d);
		if (x > m)
			m = x;
	}
	return m;
}
