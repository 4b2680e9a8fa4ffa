// SPDX-License-Identifier: MIT
/*
 * Host test helpers; see testutil.h. Aborts on misuse (a test bug), never
 * on what the engine does.
 */
#include <endian.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

static void die(const char *what)
{
	fprintf(stderr, "testutil: %s\n", what);
	abort();
}

void fake_mem_init(struct fake_mem *m, size_t size)
{
	memset(m, 0, sizeof(*m));
	m->ram = calloc(1, size);
	if (!m->ram)
		die("out of memory");
	m->base = FAKE_MEM_BASE;
	m->size = size;
}

void fake_mem_destroy(struct fake_mem *m)
{
	free(m->ram);
	m->ram = NULL;
}

uint64_t fake_alloc(struct fake_mem *m, size_t len, size_t align)
{
	size_t start = (m->brk + align - 1) / align * align;

	if (start > m->size || len > m->size - start)
		die("fake memory full");
	m->brk = start + len;
	return m->base + start;
}

uint8_t *fake_ptr(struct fake_mem *m, uint64_t addr, size_t len)
{
	if (addr < m->base || addr - m->base > m->size ||
	    len > m->size - (addr - m->base))
		return NULL;
	return m->ram + (addr - m->base);
}

int fake_dma_read(void *opaque, uint64_t addr, void *dst, size_t len)
{
	struct fake_mem *m = opaque;
	uint8_t *p;

	m->reads++;
	if (m->fail_read_at && m->reads == m->fail_read_at)
		return -1;
	p = fake_ptr(m, addr, len);
	if (!p)
		return -1;
	memcpy(dst, p, len);
	return 0;
}

int fake_dma_write(void *opaque, uint64_t addr, const void *src, size_t len)
{
	struct fake_mem *m = opaque;
	uint8_t *p;

	m->writes++;
	if (m->fail_write_at && m->writes == m->fail_write_at)
		return -1;
	p = fake_ptr(m, addr, len);
	if (!p)
		return -1;
	memcpy(p, src, len);
	return 0;
}

const void *fake_buf_map(struct fake_mem *m, const struct spe_buf *buf,
			 uint64_t off, size_t len)
{
	uint64_t pos, page;
	uint8_t *p;
	__le64 e;

	if (off > buf->len || len > buf->len - off || !len)
		return NULL;
	if (!(buf->flags & SPATTEN_BUF_PAGE_LIST)) {
		p = fake_ptr(m, buf->addr + off, len);
	} else {
		pos = buf->offset + off;
		if (pos % SPATTEN_HW_PAGE_SIZE + len > SPATTEN_HW_PAGE_SIZE)
			return NULL;	/* spans pages: let the engine read */
		p = fake_ptr(m, buf->addr + pos / SPATTEN_HW_PAGE_SIZE * 8, 8);
		if (!p)
			return NULL;
		memcpy(&e, p, 8);
		page = le64toh(e);
		if (page % SPATTEN_HW_PAGE_SIZE)
			return NULL;
		p = fake_ptr(m, page + pos % SPATTEN_HW_PAGE_SIZE, len);
	}
	if (p)
		m->maps++;
	return p;
}

void tbuf_contig(struct tbuf *b, struct fake_mem *m, uint32_t len)
{
	memset(b, 0, sizeof(*b));
	b->ref.addr = fake_alloc(m, len ? len : 1, 64);
	b->ref.len = len;
}

void tbuf_paged(struct tbuf *b, struct fake_mem *m, uint32_t len,
		uint16_t offset)
{
	size_t n = ((size_t)offset + len + SPATTEN_HW_PAGE_SIZE - 1) /
		   SPATTEN_HW_PAGE_SIZE;
	uint64_t list;
	size_t i;

	memset(b, 0, sizeof(*b));
	if (n == 0)
		n = 1;
	b->pages = calloc(n, sizeof(*b->pages));
	if (!b->pages)
		die("out of memory");
	/*
	 * Each listed page is followed by a guard page (filled with
	 * FAKE_GUARD_BYTE so stray writes show) and the list runs backwards
	 * through memory: nothing about it is contiguous.
	 */
	for (i = 0; i < n; i++) {
		uint64_t page = fake_alloc(m, 2 * SPATTEN_HW_PAGE_SIZE,
					   SPATTEN_HW_PAGE_SIZE);

		memset(fake_ptr(m, page + SPATTEN_HW_PAGE_SIZE,
				SPATTEN_HW_PAGE_SIZE),
		       FAKE_GUARD_BYTE, SPATTEN_HW_PAGE_SIZE);
		b->pages[n - 1 - i] = page;
	}
	b->n_pages = n;

	list = fake_alloc(m, n * sizeof(__le64), 8);
	for (i = 0; i < n; i++) {
		__le64 e = htole64(b->pages[i]);

		memcpy(fake_ptr(m, list + i * 8, 8), &e, 8);
	}
	b->ref.addr = list;
	b->ref.len = len;
	b->ref.offset = offset;
	b->ref.flags = SPATTEN_BUF_PAGE_LIST;
}

void tbuf_free(struct tbuf *b)
{
	free(b->pages);
	b->pages = NULL;
}

/* Host pointer of operand byte @off (which stays within one page). */
static uint8_t *tbuf_byte(struct fake_mem *m, const struct tbuf *b,
			  uint64_t off, size_t *contig)
{
	uint64_t pos;
	uint8_t *p;

	if (!b->n_pages) {
		*contig = b->ref.len - off;
		p = fake_ptr(m, b->ref.addr + off, *contig);
	} else {
		pos = b->ref.offset + off;
		if (pos / SPATTEN_HW_PAGE_SIZE >= b->n_pages)
			die("tbuf offset beyond its pages");
		*contig = SPATTEN_HW_PAGE_SIZE - pos % SPATTEN_HW_PAGE_SIZE;
		p = fake_ptr(m, b->pages[pos / SPATTEN_HW_PAGE_SIZE] +
				pos % SPATTEN_HW_PAGE_SIZE, *contig);
	}
	if (!p)
		die("tbuf outside fake memory");
	return p;
}

static void tbuf_copy(struct fake_mem *m, const struct tbuf *b, uint64_t off,
		      uint8_t *host, size_t len, int to_guest)
{
	if (off > b->ref.len || len > b->ref.len - off)
		die("tbuf access beyond its length");
	while (len) {
		size_t n;
		uint8_t *p = tbuf_byte(m, b, off, &n);

		if (n > len)
			n = len;
		if (to_guest)
			memcpy(p, host, n);
		else
			memcpy(host, p, n);
		host += n;
		off += n;
		len -= n;
	}
}

void tbuf_poke(struct fake_mem *m, const struct tbuf *b, uint64_t off,
	       const void *src, size_t len)
{
	tbuf_copy(m, b, off, (uint8_t *)src, len, 1);
}

void tbuf_peek(struct fake_mem *m, const struct tbuf *b, uint64_t off,
	       void *dst, size_t len)
{
	tbuf_copy(m, b, off, dst, len, 0);
}

void desc_set_buf(struct spatten_hw_buf *dst, const struct spe_buf *src)
{
	dst->addr = htole64(src->addr);
	dst->len = htole32(src->len);
	dst->offset = htole16(src->offset);
	dst->flags = htole16(src->flags);
}

void test_caps(struct spe_caps *caps)
{
	memset(caps, 0, sizeof(*caps));
	caps->max_context = 1024;
	caps->max_heads = 16;
	caps->head_dims = (1u << 4) | (1u << 5) | (1u << 6) | (1u << 7) |
			  (1u << 8);
	caps->formats = (1u << SPATTEN_FMT_NUM) - 1;
	caps->splits = (1u << 4) | (1u << 6) | (1u << 8) | (1u << 10) |
		       (1u << 12);
	caps->features = SPATTEN_FEAT_CAUSAL | SPATTEN_FEAT_GENERATION |
			 SPATTEN_FEAT_PAGE_LIST | SPATTEN_FEAT_TOKEN_PRUNE |
			 SPATTEN_FEAT_HEAD_PRUNE | SPATTEN_FEAT_VALUE_PRUNE |
			 SPATTEN_FEAT_PROGRESSIVE;
	caps->dma_bits = 48;
	caps->model = spe_model_full();
}

/* xorshift64*: small, fast, reproducible everywhere. */
uint32_t prng_next(uint64_t *state)
{
	uint64_t x = *state;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*state = x;
	return (uint32_t)((x * 0x2545F4914F6CDD1Dull) >> 32);
}

int32_t prng_range(uint64_t *state, int32_t amp)
{
	uint64_t span = 2 * (uint64_t)amp + 1;

	return (int32_t)(prng_next(state) % span) - amp;
}
