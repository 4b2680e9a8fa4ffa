// SPDX-License-Identifier: MIT
/*
 * SpAtten engine: moving bytes to and from a buffer reference.
 *
 * A contiguous operand is one DMA. A page-list operand is walked page by
 * page: its __le64 entries are fetched SPE_PAGE_LIST_BATCH at a time (one
 * DMA per batch), every entry of a batch is checked for page alignment
 * before any data of that batch moves, and each transfer is split at page
 * boundaries.
 */
#include <endian.h>

#include "spe.h"
#include "spatten_hw.h"

typedef int (*spe_dma_read_fn)(void *opaque, uint64_t addr, void *dst,
			       size_t len);
typedef int (*spe_dma_write_fn)(void *opaque, uint64_t addr,
				const void *src, size_t len);

/* One transfer: direction, host side and the callbacks. */
struct spe_xfer {
	spe_dma_read_fn dma_read;
	spe_dma_write_fn dma_write;	/* NULL: this is a read */
	void *opaque;
	uint8_t *dst;			/* read: host destination */
	const uint8_t *src;		/* write: host source */
};

/* Move @len bytes at device address @addr; advances the host pointer. */
static int spe_xfer_chunk(struct spe_xfer *x, uint64_t addr, size_t len)
{
	if (x->dma_write) {
		if (x->dma_write(x->opaque, addr, x->src, len))
			return SPATTEN_HW_ERR_DMA_WRITE;
		x->src += len;
	} else {
		if (x->dma_read(x->opaque, addr, x->dst, len))
			return SPATTEN_HW_ERR_DMA_READ;
		x->dst += len;
	}
	return SPATTEN_HW_OK;
}

/* Page-list entries [first, first + count), host-endian, all checked. */
static int spe_fetch_entries(const struct spe_buf *buf, struct spe_xfer *x,
			     uint64_t first, uint32_t count, uint64_t *ent)
{
	__le64 raw[SPE_PAGE_LIST_BATCH];
	uint64_t off = first * sizeof(__le64);
	uint32_t i;

	if (!x->dma_read || buf->addr > UINT64_MAX - off)
		return SPATTEN_HW_ERR_DMA_READ;
	if (x->dma_read(x->opaque, buf->addr + off, raw,
			count * sizeof(__le64)))
		return SPATTEN_HW_ERR_DMA_READ;

	for (i = 0; i < count; i++) {
		ent[i] = le64toh(raw[i]);
		if (ent[i] & (SPATTEN_HW_PAGE_SIZE - 1))
			return SPATTEN_HW_ERR_PAGE_LIST;
	}
	return SPATTEN_HW_OK;
}

static int spe_xfer_page_list(const struct spe_buf *buf, uint64_t off,
			      size_t len, struct spe_xfer *x)
{
	uint64_t ent[SPE_PAGE_LIST_BATCH];
	uint64_t pos = buf->offset + off;	/* < 2^33: no overflow */
	uint64_t page = pos >> SPATTEN_HW_PAGE_SHIFT;
	uint64_t last = (pos + len - 1) >> SPATTEN_HW_PAGE_SHIFT;
	uint64_t first = 0;			/* page of ent[0] */
	uint32_t n_ent = 0;
	uint32_t in_page = pos & (SPATTEN_HW_PAGE_SIZE - 1);
	int rc;

	while (len) {
		size_t chunk = SPATTEN_HW_PAGE_SIZE - in_page;

		if (page >= first + n_ent) {
			uint64_t left = last - page + 1;

			n_ent = left < SPE_PAGE_LIST_BATCH ?
				(uint32_t)left : SPE_PAGE_LIST_BATCH;
			first = page;
			rc = spe_fetch_entries(buf, x, first, n_ent, ent);
			if (rc)
				return rc;
		}
		if (chunk > len)
			chunk = len;
		/* Entries are page-aligned, so entry + in_page cannot wrap. */
		rc = spe_xfer_chunk(x, ent[page - first] + in_page, chunk);
		if (rc)
			return rc;
		len -= chunk;
		in_page = 0;
		page++;
	}
	return SPATTEN_HW_OK;
}

static int spe_xfer(const struct spe_buf *buf, uint64_t off, size_t len,
		    struct spe_xfer *x)
{
	if (len == 0)
		return SPATTEN_HW_OK;
	if (off > buf->len || len > buf->len - off)
		return SPATTEN_HW_ERR_BUFFER;

	if (buf->flags & SPATTEN_BUF_PAGE_LIST) {
		if (buf->offset >= SPATTEN_HW_PAGE_SIZE)
			return SPATTEN_HW_ERR_BUFFER;
		return spe_xfer_page_list(buf, off, len, x);
	}
	if (buf->addr > UINT64_MAX - off)
		return SPATTEN_HW_ERR_BUFFER;
	return spe_xfer_chunk(x, buf->addr + off, len);
}

int spe_buf_read(const struct spe_buf *buf, uint64_t off, void *dst,
		 size_t len,
		 int (*dma_read)(void *opaque, uint64_t addr, void *dst,
				 size_t len),
		 void *opaque)
{
	struct spe_xfer x = {
		.dma_read = dma_read,
		.opaque = opaque,
		.dst = dst,
	};

	if (!dma_read)
		return SPATTEN_HW_ERR_DMA_READ;
	return spe_xfer(buf, off, len, &x);
}

int spe_buf_write(const struct spe_buf *buf, uint64_t off, const void *src,
		  size_t len,
		  int (*dma_read)(void *opaque, uint64_t addr, void *dst,
				  size_t len),
		  int (*dma_write)(void *opaque, uint64_t addr,
				   const void *src, size_t len),
		  void *opaque)
{
	struct spe_xfer x = {
		.dma_read = dma_read,
		.dma_write = dma_write,
		.opaque = opaque,
		.src = src,
	};

	if (!dma_write)
		return SPATTEN_HW_ERR_DMA_WRITE;
	return spe_xfer(buf, off, len, &x);
}
