// SPDX-License-Identifier: MIT
/*
 * spe_buf_read() / spe_buf_write() over a fake guest memory: contiguous and
 * scattered page-list operands, transfers crossing pages, list batching,
 * misaligned entries and failing DMA.
 */
#include <endian.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "spe.h"
#include "testutil.h"
#include "tap.h"

#define MEM_SIZE	(4u << 20)

static uint8_t pattern_byte(uint64_t i)
{
	return (uint8_t)(i * 131 + (i >> 8) * 7 + 1);
}

static void fill_pattern(uint8_t *p, size_t len, uint64_t start)
{
	size_t i;

	for (i = 0; i < len; i++)
		p[i] = pattern_byte(start + i);
}

/* A page-list operand whose bytes are pattern_byte(0..len-1). */
static void paged_with_pattern(struct tbuf *b, struct fake_mem *m,
			       uint32_t len, uint16_t offset)
{
	uint8_t *tmp = malloc(len);

	tbuf_paged(b, m, len, offset);
	fill_pattern(tmp, len, 0);
	tbuf_poke(m, b, 0, tmp, len);
	free(tmp);
}

static int read_matches(struct fake_mem *m, const struct spe_buf *ref,
			uint64_t off, size_t len, int *rc)
{
	uint8_t *got = malloc(len), *want = malloc(len);
	int same;

	fill_pattern(want, len, off);
	*rc = spe_buf_read(ref, off, got, len, fake_dma_read, m);
	same = *rc == SPATTEN_HW_OK && !memcmp(got, want, len);
	free(got);
	free(want);
	return same;
}

static int guards_intact(struct fake_mem *m, const struct tbuf *b)
{
	size_t i, j;

	for (i = 0; i < b->n_pages; i++) {
		const uint8_t *g = fake_ptr(m, b->pages[i] +
					    SPATTEN_HW_PAGE_SIZE,
					    SPATTEN_HW_PAGE_SIZE);

		for (j = 0; j < SPATTEN_HW_PAGE_SIZE; j++)
			if (g[j] != FAKE_GUARD_BYTE)
				return 0;
	}
	return 1;
}

static void test_contiguous(void)
{
	struct fake_mem m;
	struct tbuf b;
	uint8_t data[1000], back[1000];
	int rc, same;

	fake_mem_init(&m, MEM_SIZE);
	tbuf_contig(&b, &m, sizeof(data));
	fill_pattern(data, sizeof(data), 0);
	tbuf_poke(&m, &b, 0, data, sizeof(data));

	same = read_matches(&m, &b.ref, 10, 900, &rc);
	ok(same && m.reads == 1, "contiguous read: right bytes, one DMA");

	fill_pattern(data, 100, 5000);
	rc = spe_buf_write(&b.ref, 900, data, 100, fake_dma_read,
			   fake_dma_write, &m);
	tbuf_peek(&m, &b, 0, back, sizeof(back));
	fill_pattern(data, 900, 0);
	fill_pattern(data + 900, 100, 5000);
	ok(rc == SPATTEN_HW_OK && m.writes == 1 &&
	   !memcmp(back, data, sizeof(back)),
	   "contiguous write: right place, one DMA, nothing else touched");
	tbuf_free(&b);
	fake_mem_destroy(&m);
}

static void test_page_list_read(void)
{
	struct fake_mem m;
	struct tbuf b;
	uint32_t len = 4 * SPATTEN_HW_PAGE_SIZE + 1000;
	int rc, same;

	fake_mem_init(&m, MEM_SIZE);
	paged_with_pattern(&b, &m, len, 100);	/* 5 scattered pages */

	same = read_matches(&m, &b.ref, 0, len, &rc);
	ok(same && m.reads == 1 + 5,
	   "page list, offset 100: whole operand over 5 pages, 1 list + 5 "
	   "data DMAs (rc %d, reads %u)", rc, m.reads);

	m.reads = 0;
	same = read_matches(&m, &b.ref, 4000, 2 * SPATTEN_HW_PAGE_SIZE + 10,
			    &rc);
	ok(same && m.reads == 1 + 3,
	   "page list: mid-operand read crossing two page boundaries");

	m.reads = 0;
	same = read_matches(&m, &b.ref, len - 1, 1, &rc);
	ok(same && m.reads == 2, "page list: last byte alone");
	tbuf_free(&b);
	fake_mem_destroy(&m);
}

static void test_page_list_write(void)
{
	struct fake_mem m;
	struct tbuf b;
	uint32_t len = 3 * SPATTEN_HW_PAGE_SIZE;
	uint8_t *src = malloc(len), *back = malloc(len), *want = calloc(1, len);
	uint64_t off = SPATTEN_HW_PAGE_SIZE;	/* 4000 into page 1 */
	size_t n = SPATTEN_HW_PAGE_SIZE + 200;	/* 96 + 4096 + 8 bytes */
	int rc;

	fake_mem_init(&m, MEM_SIZE);
	tbuf_paged(&b, &m, len, 4000);		/* 4 pages */
	fill_pattern(src, n, 0);
	rc = spe_buf_write(&b.ref, off, src, n, fake_dma_read,
			   fake_dma_write, &m);
	tbuf_peek(&m, &b, 0, back, len);
	memcpy(want + off, src, n);
	ok(rc == SPATTEN_HW_OK && !memcmp(back, want, len) &&
	   m.writes == 3 && guards_intact(&m, &b),
	   "page list write across two boundaries: right bytes, 3 DMAs, "
	   "no stray writes");
	tbuf_free(&b);
	fake_mem_destroy(&m);
	free(src);
	free(back);
	free(want);
}

static void test_page_list_batches(void)
{
	struct fake_mem m;
	struct tbuf b;
	uint32_t len = 40 * SPATTEN_HW_PAGE_SIZE;
	int rc, same;

	fake_mem_init(&m, MEM_SIZE);
	paged_with_pattern(&b, &m, len, 0);
	same = read_matches(&m, &b.ref, 0, len, &rc);
	ok(same && m.reads == 2 + 40,
	   "40-page list read in batches of %d: 2 list + 40 data DMAs "
	   "(reads %u)", SPE_PAGE_LIST_BATCH, m.reads);

	m.reads = 0;
	same = read_matches(&m, &b.ref, 31 * SPATTEN_HW_PAGE_SIZE + 7,
			    3 * SPATTEN_HW_PAGE_SIZE, &rc);
	ok(same && m.reads == 1 + 4,
	   "read starting at page 31 fetches only the entries it needs");
	tbuf_free(&b);
	fake_mem_destroy(&m);
}

/* Overwrite list entry @i with a raw value. */
static void set_entry(struct fake_mem *m, const struct tbuf *b, size_t i,
		      uint64_t val)
{
	__le64 e = htole64(val);

	memcpy(fake_ptr(m, b->ref.addr + i * 8, 8), &e, 8);
}

static void test_misaligned_entry(void)
{
	struct fake_mem m;
	struct tbuf b;
	uint32_t len = 4 * SPATTEN_HW_PAGE_SIZE;
	uint8_t *back = malloc(len), *before = malloc(len);
	int rc, same;

	fake_mem_init(&m, MEM_SIZE);
	paged_with_pattern(&b, &m, len, 0);
	set_entry(&m, &b, 2, b.pages[2] + 8);

	rc = spe_buf_read(&b.ref, 0, back, len, fake_dma_read, &m);
	ok(rc == SPATTEN_HW_ERR_PAGE_LIST, "read over a misaligned entry: "
	   "ERR_PAGE_LIST (rc %d)", rc);

	tbuf_peek(&m, &b, 0, before, len);
	m.writes = 0;
	rc = spe_buf_write(&b.ref, 0, back, len, fake_dma_read,
			   fake_dma_write, &m);
	tbuf_peek(&m, &b, 0, back, len);
	ok(rc == SPATTEN_HW_ERR_PAGE_LIST && m.writes == 0 &&
	   !memcmp(back, before, len),
	   "write over a misaligned entry: ERR_PAGE_LIST before any data "
	   "moves");

	m.reads = 0;
	same = read_matches(&m, &b.ref, 0, 2 * SPATTEN_HW_PAGE_SIZE + 1, &rc);
	ok(!same && rc == SPATTEN_HW_ERR_PAGE_LIST && m.reads == 1,
	   "a batch's entries are all checked before its first data DMA");
	same = read_matches(&m, &b.ref, 3 * SPATTEN_HW_PAGE_SIZE, 64, &rc);
	ok(same, "a misaligned entry outside the transfer is not fetched");
	tbuf_free(&b);
	fake_mem_destroy(&m);
	free(back);
	free(before);
}

static void test_dma_failures(void)
{
	struct fake_mem m;
	struct tbuf paged, contig;
	uint8_t tmp[3 * 4096];
	int rc, good = 1;

	fake_mem_init(&m, MEM_SIZE);
	paged_with_pattern(&paged, &m, sizeof(tmp), 8);
	tbuf_contig(&contig, &m, sizeof(tmp));

	m.reads = 0;
	m.fail_read_at = 1;	/* the page list itself */
	rc = spe_buf_read(&paged.ref, 0, tmp, sizeof(tmp), fake_dma_read, &m);
	good &= rc == SPATTEN_HW_ERR_DMA_READ;
	m.reads = 0;
	m.fail_read_at = 3;	/* second data page */
	rc = spe_buf_read(&paged.ref, 0, tmp, sizeof(tmp), fake_dma_read, &m);
	good &= rc == SPATTEN_HW_ERR_DMA_READ;
	m.reads = 0;
	m.fail_read_at = 1;
	rc = spe_buf_read(&contig.ref, 0, tmp, sizeof(tmp), fake_dma_read, &m);
	good &= rc == SPATTEN_HW_ERR_DMA_READ;
	ok(good, "failing DMA read (list or data): ERR_DMA_READ");

	good = 1;
	m.fail_read_at = 0;
	m.writes = 0;
	m.fail_write_at = 2;
	rc = spe_buf_write(&paged.ref, 0, tmp, sizeof(tmp), fake_dma_read,
			   fake_dma_write, &m);
	good &= rc == SPATTEN_HW_ERR_DMA_WRITE;
	m.writes = 0;
	m.fail_write_at = 1;
	rc = spe_buf_write(&contig.ref, 0, tmp, sizeof(tmp), fake_dma_read,
			   fake_dma_write, &m);
	good &= rc == SPATTEN_HW_ERR_DMA_WRITE;
	ok(good, "failing DMA write: ERR_DMA_WRITE");

	m.fail_write_at = 0;
	m.reads = 0;
	m.fail_read_at = 1;
	rc = spe_buf_write(&paged.ref, 0, tmp, sizeof(tmp), fake_dma_read,
			   fake_dma_write, &m);
	ok(rc == SPATTEN_HW_ERR_DMA_READ,
	   "write whose page-list read fails: ERR_DMA_READ");
	m.fail_read_at = 0;

	/* An entry pointing outside guest memory fails in the DMA layer. */
	set_entry(&m, &paged, 1, 0x7fff0000000ull);
	rc = spe_buf_read(&paged.ref, 0, tmp, sizeof(tmp), fake_dma_read, &m);
	ok(rc == SPATTEN_HW_ERR_DMA_READ,
	   "aligned entry outside guest memory: ERR_DMA_READ");

	tbuf_free(&paged);
	tbuf_free(&contig);
	fake_mem_destroy(&m);
}

static void test_bounds(void)
{
	struct fake_mem m;
	struct tbuf b;
	uint8_t tmp[16];
	int good = 1;

	fake_mem_init(&m, MEM_SIZE);
	paged_with_pattern(&b, &m, 100, 0);
	good &= spe_buf_read(&b.ref, 90, tmp, 11, fake_dma_read, &m) ==
		SPATTEN_HW_ERR_BUFFER;
	good &= spe_buf_read(&b.ref, 101, tmp, 0, fake_dma_read, &m) ==
		SPATTEN_HW_OK;
	good &= spe_buf_read(&b.ref, UINT64_MAX, tmp, 1, fake_dma_read, &m) ==
		SPATTEN_HW_ERR_BUFFER;
	good &= spe_buf_write(&b.ref, 100, tmp, 1, fake_dma_read,
			      fake_dma_write, &m) == SPATTEN_HW_ERR_BUFFER;
	good &= m.reads == 0 && m.writes == 0;
	ok(good, "transfers beyond buf->len: ERR_BUFFER, no DMA; len 0: OK");
	tbuf_free(&b);
	fake_mem_destroy(&m);
}

int main(void)
{
	test_contiguous();
	test_page_list_read();
	test_page_list_write();
	test_page_list_batches();
	test_misaligned_entry();
	test_dma_failures();
	test_bounds();
	return done_testing();
}
