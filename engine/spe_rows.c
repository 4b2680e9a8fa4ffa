// SPDX-License-Identifier: MIT
/*
 * SpAtten engine: a job's operands through struct spe_mem: lists,
 * importance arrays, and the rows of Q, K, K-LSB, V and the output, with
 * the KV layouts of descriptor version 3 (strided and paged caches).
 *
 * Every read is counted in the job's statistics exactly once, whether it
 * went through mem->read or mem->map. A run of rows that are consecutive
 * both as token slots and in memory is one read (or one map): a packed
 * or head-major cache gives runs as long as the kept tokens allow, a
 * token-major cache (row stride > 1) one row per read, a paged cache at
 * most one block per read.
 */
#include <endian.h>
#include <string.h>

#include "spe_run.h"

/* A status from struct spe_mem, made a valid completion status. */
static int spe_mem_status(int rc, int fallback)
{
	if (rc > 0 && rc <= SPATTEN_HW_STATUS_MAX)
		return rc;
	return fallback;
}

int spe_read(struct spe_ctx *c, enum spe_plane plane, uint64_t off,
	     void *dst, size_t len)
{
	int rc;

	if (!len)
		return SPATTEN_HW_OK;
	rc = c->mem->read(c->mem->opaque, plane, off, dst, len);
	if (rc)
		return spe_mem_status(rc, SPATTEN_HW_ERR_DMA_READ);
	c->st->bytes[plane] += len;
	return SPATTEN_HW_OK;
}

/*
 * Operand bytes [off, off + len) in place through mem->map, counted as
 * read; NULL when there is no map or it declined (then read them).
 */
static const uint8_t *spe_map(struct spe_ctx *c, enum spe_plane plane,
			      uint64_t off, size_t len)
{
	const uint8_t *p;

	if (!c->mem->map || !len)
		return NULL;
	p = c->mem->map(c->mem->opaque, plane, off, len);
	if (p)
		c->st->bytes[plane] += len;
	return p;
}

int spe_write(struct spe_ctx *c, enum spe_plane plane, uint64_t off,
	      const void *src, size_t len)
{
	int rc;

	if (!len)
		return SPATTEN_HW_OK;
	if (!c->mem->write)
		return SPATTEN_HW_ERR_DMA_WRITE;
	rc = c->mem->write(c->mem->opaque, plane, off, src, len);
	if (rc)
		return spe_mem_status(rc, SPATTEN_HW_ERR_DMA_WRITE);
	c->st->bytes[plane] += len;
	return SPATTEN_HW_OK;
}

/* Little-endian list entry @i of @width bytes. */
static uint32_t spe_get_le(const uint8_t *p, uint32_t i, uint32_t width)
{
	const uint8_t *e = p + (size_t)i * width;
	uint32_t v = e[0] | (uint32_t)e[1] << 8;

	if (width == 4)
		v |= (uint32_t)e[2] << 16 | (uint32_t)e[3] << 24;
	return v;
}

/*
 * Read a list of @n entries (c->job->list_bytes each); each < @limit and
 * strictly ascending.
 */
int spe_read_list(struct spe_ctx *c, enum spe_plane plane, uint32_t n,
		  uint32_t limit, uint32_t *dst)
{
	uint32_t w = c->job->list_bytes, i;
	int rc;

	rc = spe_read(c, plane, 0, c->raw, (size_t)n * w);
	if (rc)
		return rc;
	for (i = 0; i < n; i++) {
		dst[i] = spe_get_le(c->raw, i, w);
		if (dst[i] >= limit || (i && dst[i] <= dst[i - 1]))
			return SPATTEN_HW_ERR_LIST;
	}
	return SPATTEN_HW_OK;
}

int spe_write_list(struct spe_ctx *c, enum spe_plane plane,
		   const uint32_t *src, uint32_t n)
{
	uint32_t w = c->job->list_bytes, i, b;

	for (i = 0; i < n; i++)
		for (b = 0; b < w; b++)
			c->raw[(size_t)i * w + b] = (uint8_t)(src[i] >> 8 * b);
	return spe_write(c, plane, 0, c->raw, (size_t)n * w);
}

/* Little-endian u32 array (block table, positions), whole. */
int spe_read_u32s(struct spe_ctx *c, enum spe_plane plane, uint32_t n,
		  uint32_t *dst)
{
	uint32_t i;
	int rc;

	if (SPE_HOST_LE)
		return spe_read(c, plane, 0, dst, (size_t)n * 4);
	rc = spe_read(c, plane, 0, c->raw, (size_t)n * 4);
	if (rc)
		return rc;
	for (i = 0; i < n; i++)
		dst[i] = spe_get_le(c->raw, i, 4);
	return SPATTEN_HW_OK;
}

/* Little-endian u64 array: on little-endian hosts, straight into @dst. */
int spe_read_u64s(struct spe_ctx *c, enum spe_plane plane, uint32_t n,
		  uint64_t *dst)
{
	uint32_t i;
	int rc;

	if (SPE_HOST_LE)
		return spe_read(c, plane, 0, dst, (size_t)n * 8);
	rc = spe_read(c, plane, 0, c->raw, (size_t)n * 8);
	if (rc)
		return rc;
	for (i = 0; i < n; i++) {
		uint64_t le;

		memcpy(&le, c->raw + 8 * (size_t)i, 8);
		dst[i] = le64toh(le);
	}
	return SPATTEN_HW_OK;
}

int spe_write_u64s(struct spe_ctx *c, enum spe_plane plane,
		   const uint64_t *src, uint32_t n)
{
	uint32_t i;

	if (SPE_HOST_LE)
		return spe_write(c, plane, 0, src, (size_t)n * 8);
	for (i = 0; i < n; i++) {
		uint64_t le = htole64(src[i]);

		memcpy(c->raw + 8 * (size_t)i, &le, 8);
	}
	return spe_write(c, plane, 0, c->raw, (size_t)n * 8);
}

/*
 * Length of the run of consecutive row numbers at @idx[i], i < n: one
 * comparison when everything left is one run (dense jobs), else a scan.
 */
uint32_t spe_run_len(const uint32_t *idx, uint32_t i, uint32_t n)
{
	uint32_t run = 1;

	/* Strictly ascending: the rest is one run iff its span matches. */
	if (idx[n - 1] - idx[i] == n - 1 - i)
		return n - i;
	while (i + run < n && idx[i + run] == idx[i] + run)
		run++;
	return run;
}

/* The runs of @idx[0..n) into @sp; returns their count. */
uint32_t spe_spans(const uint32_t *idx, uint32_t n, struct spe_span *sp)
{
	uint32_t i = 0, k = 0;

	while (i < n) {
		sp[k].at = i;
		sp[k].len = spe_run_len(idx, i, n);
		i += sp[k++].len;
	}
	return k;
}

/* ---- KV layout ------------------------------------------------------- */

void spe_kv_layout_init(struct spe_ctx *c)
{
	const struct spe_job *job = c->job;
	struct spe_kv_layout *kv = &c->kv;

	if (!job->kv_row_stride) {		/* packed */
		kv->head_stride = job->kv_rows;
		kv->row_stride = 1;
		kv->block_rows = 0;
		return;
	}
	kv->head_stride = job->kv_head_stride;
	kv->row_stride = job->kv_row_stride;
	kv->block_stride = job->kv_block_stride;
	kv->block_rows = job->kv_block_rows;
	if (kv->block_rows) {
		kv->n_blocks = (uint32_t)(((uint64_t)job->kv_rows +
					   kv->block_rows - 1) / kv->block_rows);
		for (kv->block_shift = 0;
		     (1u << kv->block_shift) < kv->block_rows;
		     kv->block_shift++)
			;
	}
}

/* Row index of token slot @slot of KV head @g, in rows of any KV plane. */
static uint64_t spe_kv_row(const struct spe_kv_layout *kv, uint32_t g,
			   uint32_t slot)
{
	uint64_t row = (uint64_t)g * kv->head_stride;

	if (!kv->block_rows)
		return row + slot * kv->row_stride;
	return row + kv->table[slot >> kv->block_shift] * kv->block_stride +
	       (slot & (kv->block_rows - 1)) * kv->row_stride;
}

/* Of @n consecutive slots from @slot, how many lie back to back. */
static uint32_t spe_kv_contig(const struct spe_kv_layout *kv, uint32_t slot,
			      uint32_t n)
{
	uint32_t left;

	if (kv->row_stride != 1)
		return 1;
	if (!kv->block_rows)
		return n;
	left = kv->block_rows - (slot & (kv->block_rows - 1));
	return n < left ? n : left;
}

/*
 * The block table, read whole, every entry checked: a whole block of
 * every KV head must lie inside each KV plane's buffer (ERR_BLOCK).
 */
int spe_kv_read_table(struct spe_ctx *c)
{
	static const enum spe_plane planes[] = {
		SPE_PLANE_K_MSB, SPE_PLANE_K_LSB, SPE_PLANE_V,
	};
	const struct spe_job *job = c->job;
	struct spe_kv_layout *kv = &c->kv;
	/* rows of one whole block of every KV head (saturating) */
	uint64_t last = spatten_hw_kv_plane_rows(job->n_kv_heads,
						 kv->block_rows,
						 job->kv_head_stride,
						 job->kv_row_stride,
						 kv->block_rows);
	uint64_t rows[3];
	uint32_t i, p;
	int rc;

	rc = spe_read_u32s(c, SPE_PLANE_BLOCK_TABLE, kv->n_blocks, kv->table);
	if (rc)
		return rc;
	rows[0] = job->buf[SPE_PLANE_K_MSB].len / spe_row_bytes(c->d, c->k_bits);
	rows[1] = job->buf[SPE_PLANE_K_LSB].len /
		  spe_row_bytes(c->d, SPATTEN_LSB_BITS);
	rows[2] = job->buf[SPE_PLANE_V].len / spe_row_bytes(c->d, c->v_bits);
	for (i = 0; i < kv->n_blocks; i++) {
		uint64_t start = kv->table[i] * kv->block_stride;
		/* saturating: spe_run() may get jobs that were not decoded */
		uint64_t end = start > UINT64_MAX - last ? UINT64_MAX :
			       start + last;

		for (p = 0; p < 3; p++)
			if (job->buf[planes[p]].len && end > rows[p])
				return SPATTEN_HW_ERR_BLOCK;
	}
	return SPATTEN_HW_OK;
}

/* ---- Rows ------------------------------------------------------------- */

/* Little-endian int16 row data to int16 (big-endian hosts). */
static void spe_unpack_s16(const uint8_t *raw, size_t n, int16_t *dst)
{
	size_t x;

	for (x = 0; x < n; x++) {
		uint32_t u = raw[2 * x] | (uint32_t)raw[2 * x + 1] << 8;

		dst[x] = (int16_t)((int32_t)(u ^ 0x8000) - 0x8000);
	}
}

/* What packed rows become: x * 2^shift + add (+ base[] if not NULL). */
struct spe_piece_form {
	unsigned int shift;
	int16_t add;
	const int16_t *base;
};

/*
 * @n rows of @bits-bit elements (unsigned with @is_unsigned) at byte @off
 * of @plane, back to back in the operand, into @dst as int16: one map or
 * one read. Packed rows take @form (NULL: as they are; a base has rows
 * as @dst's); int16 rows are taken as they are. With
 * @direct, host int16 rows that map int16-aligned are not copied:
 * *@direct receives the operand's own bytes.
 */
static int spe_load_piece(struct spe_ctx *c, enum spe_plane plane,
			  uint64_t off, uint32_t n, uint32_t bits,
			  int is_unsigned, const struct spe_piece_form *form,
			  int16_t *dst, const int16_t **direct)
{
	uint32_t d = c->d, row_bytes = spe_row_bytes(d, bits);
	size_t len = (size_t)n * row_bytes;
	const uint8_t *src = spe_map(c, plane, off, len);
	int rc;

	if (!src) {
		if (bits == 16 && SPE_HOST_LE)	/* the host's int16 */
			return spe_read(c, plane, off, dst, len);
		rc = spe_read(c, plane, off, c->raw, len);
		if (rc)
			return rc;
		src = c->raw;
	} else if (bits == 16 && SPE_HOST_LE) {
		if (direct && !((uintptr_t)src & 1))
			*direct = (const int16_t *)(const void *)src;
		else
			memcpy(dst, src, len);
		return SPATTEN_HW_OK;
	}
	if (bits == 16)
		spe_unpack_s16(src, (size_t)n * d, dst);
	else if (form)
		c->kern->unpack(src, bits, is_unsigned, (size_t)n * d,
				form->shift, form->add, form->base, dst);
	else
		c->kern->unpack(src, bits, is_unsigned, (size_t)n * d, 0, 0,
				NULL, dst);
	return SPATTEN_HW_OK;
}

/*
 * Q rows c->rows[] of query head @head into c->q16; c->qp says where the
 * kernels find them (in place when @in_place allows and they map).
 */
int spe_load_q(struct spe_ctx *c, uint32_t head, int in_place)
{
	const struct spe_job *job = c->job;
	size_t row_bytes = (size_t)c->d * 2;
	uint32_t k;
	int rc;

	c->qp = c->q16;
	for (k = 0; k < c->n_q_span; k++) {
		const struct spe_span *sp = &c->q_span[k];
		uint64_t off = ((uint64_t)head * job->q_rows +
				c->rows[sp->at]) * row_bytes;

		rc = spe_load_piece(c, SPE_PLANE_Q, off, sp->len, 16, 0, NULL,
				    c->q16 + (size_t)sp->at * c->d,
				    in_place && c->n_q_span == 1 ? &c->qp :
								   NULL);
		if (rc)
			return rc;
	}
	return SPATTEN_HW_OK;
}

/*
 * What a packed KV plane's rows become (docs/engine.md, progressive
 * keys): MSBs are first-pass keys msb * 16 + 8 (the middle of the missing
 * LSBs); LSBs are merged into them, full = (msb * 16 + 8) - 8 + lsb, with
 * @base the first-pass keys of the rows loaded (NULL otherwise).
 */
static const struct spe_piece_form *
spe_kv_form(const struct spe_ctx *c, enum spe_plane plane,
	    const int16_t *base, struct spe_piece_form *form)
{
	if (plane == SPE_PLANE_K_MSB && c->progressive) {
		form->shift = 4;
		form->add = 8;
		form->base = NULL;
		return form;
	}
	if (plane == SPE_PLANE_K_LSB && base) {
		form->shift = 0;
		form->add = -8;
		form->base = base;
		return form;
	}
	return NULL;
}

/*
 * Gathered rows j0 <= j < j1 (token slots c->tok[j]) of KV head @kv_head
 * of @plane (K_MSB, K_LSB or V) into @dst, row j at dst + (j - j0) * d;
 * K_LSB rows are merged into the first-pass keys at @base (rows as
 * @dst's). With @direct (*@direct preset to @dst by the caller), rows
 * that are one piece of host int16 may be used in place instead.
 */
int spe_load_kv(struct spe_ctx *c, enum spe_plane plane, uint32_t kv_head,
		uint32_t j0, uint32_t j1, const int16_t *base, int16_t *dst,
		const int16_t **direct)
{
	uint32_t bits = plane == SPE_PLANE_K_LSB ? SPATTEN_LSB_BITS :
			plane == SPE_PLANE_V ? c->v_bits : c->k_bits;
	uint32_t row_bytes = spe_row_bytes(c->d, bits), j = j0, run, piece;
	struct spe_piece_form form;
	const struct spe_piece_form *f = spe_kv_form(c, plane, base, &form);
	int rc;

	while (j < j1) {
		size_t at = (size_t)(j - j0) * c->d;

		run = spe_run_len(c->tok, j, j1);
		piece = spe_kv_contig(&c->kv, c->tok[j], run);
		if (base)
			form.base = base + at;
		rc = spe_load_piece(c, plane,
				    spe_kv_row(&c->kv, kv_head, c->tok[j]) *
				    row_bytes, piece, bits,
				    plane == SPE_PLANE_K_LSB, f, dst + at,
				    direct && piece == j1 - j0 ? direct : NULL);
		if (rc)
			return rc;
		j += piece;
	}
	return SPATTEN_HW_OK;
}

/*
 * Host int16 rows through mem->map, gathered run by run into @dst (the
 * runs of c->kv_span, @base the KV head's first row): the tight loop of a
 * pruned generation step, everything loop-invariant hoisted out. A run
 * the map declines is read instead.
 */
static int spe_map_kv_runs(struct spe_ctx *c, enum spe_plane plane,
			   uint64_t base, int16_t *dst)
{
	const void *(*map)(void *, enum spe_plane, uint64_t, size_t) =
		c->mem->map;
	void *opaque = c->mem->opaque;
	size_t row_bytes = (size_t)c->d * 2, moved = 0;
	uint32_t k;
	int rc;

	for (k = 0; k < c->n_kv_span; k++) {
		const struct spe_span *sp = &c->kv_span[k];
		size_t len = (size_t)sp->len * row_bytes;
		uint64_t off = (base + c->tok[sp->at]) * row_bytes;
		int16_t *to = dst + (size_t)sp->at * c->d;
		const void *p = map(opaque, plane, off, len);

		if (!p) {
			rc = spe_read(c, plane, off, to, len);
			if (rc) {
				c->st->bytes[plane] += moved;
				return rc;
			}
			continue;
		}
		moved += len;
		memcpy(to, p, len);
	}
	c->st->bytes[plane] += moved;
	return SPATTEN_HW_OK;
}

/*
 * All gathered rows [0, n_kvis) of KV head @kv_head of @plane (K_MSB or
 * V) into @dst:
 * spe_load_kv() with the runs of the kept tokens found once per job
 * (c->kv_span), which a layout with unit row stride and no blocks reads
 * as they are: the loop a pruned generation step spends its time in, per
 * plane and KV head.
 */
int spe_load_kv_all(struct spe_ctx *c, enum spe_plane plane,
		    uint32_t kv_head, int16_t *dst, const int16_t **direct)
{
	uint32_t bits = plane == SPE_PLANE_V ? c->v_bits : c->k_bits;
	uint64_t base = (uint64_t)kv_head * c->kv.head_stride;
	uint32_t row_bytes = spe_row_bytes(c->d, bits), k;
	struct spe_piece_form form;
	const struct spe_piece_form *f = spe_kv_form(c, plane, NULL, &form);
	int rc;

	if (c->kv.row_stride != 1 || c->kv.block_rows)
		return spe_load_kv(c, plane, kv_head, 0, c->n_kvis, NULL, dst,
				   direct);
	if (bits == 16 && SPE_HOST_LE && c->mem->map && c->n_kv_span > 1)
		return spe_map_kv_runs(c, plane, base, dst);
	for (k = 0; k < c->n_kv_span; k++) {
		const struct spe_span *sp = &c->kv_span[k];

		rc = spe_load_piece(c, plane,
				    (base + c->tok[sp->at]) * row_bytes,
				    sp->len, bits, 0, f,
				    dst + (size_t)sp->at * c->d,
				    direct && c->n_kv_span == 1 ? direct : NULL);
		if (rc)
			return rc;
	}
	return SPATTEN_HW_OK;
}

/*
 * Gathered int16 rows [0, n_kvis) of KV head @kv_head of @plane where
 * they are: the span from the first to the last through
 * mem->map_gather (a packed layout, unit row stride); row j is at
 * c->gidx[j] of it. Counted as the gathered rows alone, as reading them
 * would be. Returns 1 with *@rows the span's start; 2 if the span is at
 * an odd address (not int16_t rows): they are copied to @dst, *@rows =
 * @dst; 0 if the provider declines (then read the rows).
 */
int spe_map_kv_span(struct spe_ctx *c, enum spe_plane plane,
		    uint32_t kv_head, int16_t *dst, const int16_t **rows)
{
	size_t row_bytes = (size_t)c->d * 2, used = c->n_kvis * row_bytes;
	uint64_t first = c->tok[0], last = c->tok[c->n_kvis - 1];
	uint64_t off = ((uint64_t)kv_head * c->kv.head_stride + first) *
		       row_bytes;
	const uint8_t *p;
	uint32_t j;

	p = c->mem->map_gather(c->mem->opaque, plane, off,
			       (size_t)(last - first + 1) * row_bytes, used);
	if (!p)
		return 0;
	c->st->bytes[plane] += used;
	if (!((uintptr_t)p & 1)) {
		*rows = (const int16_t *)(const void *)p;
		return 1;
	}
	for (j = 0; j < c->n_kvis; j++)
		memcpy(dst + (size_t)j * c->d, p + c->gidx[j] * row_bytes,
		       row_bytes);
	*rows = dst;
	return 2;
}

/*
 * The packed MSB rows [0, n_kvis) of KV head @kv_head where they are:
 * one run, mapped (counted as read), or the span of the gathered rows
 * through mem->map_gather (c->gidx). Sets c->kpk and c->kidx; returns 0
 * if the rows do not map so (then read them).
 */
int spe_map_kv_packed(struct spe_ctx *c, uint32_t kv_head)
{
	size_t row_bytes = spe_row_bytes(c->d, c->k_bits);
	uint64_t first = c->tok[0], last = c->tok[c->n_kvis - 1];
	uint64_t off = ((uint64_t)kv_head * c->kv.head_stride + first) *
		       row_bytes;
	size_t used = c->n_kvis * row_bytes;

	if (c->kv.row_stride != 1 || c->kv.block_rows)
		return 0;
	if (c->n_kv_span == 1) {
		c->kpk = spe_map(c, SPE_PLANE_K_MSB, off, used);
		c->kidx = NULL;
		return c->kpk != NULL;
	}
	if (!c->gidx)
		return 0;
	c->kpk = c->mem->map_gather(c->mem->opaque, SPE_PLANE_K_MSB, off,
				    (size_t)(last - first + 1) * row_bytes,
				    used);
	if (!c->kpk)
		return 0;
	c->st->bytes[SPE_PLANE_K_MSB] += used;
	c->kidx = c->gidx;
	return 1;
}

/* The output rows of query head @head: one write per run (as Q's). */
int spe_write_out(struct spe_ctx *c, uint32_t head)
{
	size_t row_bytes = (size_t)c->d * 2;
	uint32_t k;
	int rc;

	for (k = 0; k < c->n_q_span; k++) {
		const struct spe_span *sp = &c->q_span[k];
		uint64_t off = ((uint64_t)head * c->job->q_rows +
				c->rows[sp->at]) * row_bytes;

		rc = spe_write(c, SPE_PLANE_OUT, off,
			       c->out + (size_t)sp->at * row_bytes,
			       (size_t)sp->len * row_bytes);
		if (rc)
			return rc;
	}
	return SPATTEN_HW_OK;
}
