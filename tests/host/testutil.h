/* SPDX-License-Identifier: MIT */
/*
 * Host test helpers: a fake guest memory with DMA callbacks and fault
 * injection, operand buffers (contiguous or scattered page lists) placed in
 * it by the tests' own code, descriptor building, a PRNG.
 */
#ifndef SPATTEN_TESTUTIL_H
#define SPATTEN_TESTUTIL_H

#include <stddef.h>
#include <stdint.h>

#include "spatten_hw.h"
#include "spe.h"

/* ---- Fake guest memory ------------------------------------------------ */

/**
 * struct fake_mem - guest memory [base, base + size) backed by a host array
 * @fail_read_at: fail the n-th DMA read (1-based); 0: never
 * @fail_write_at: same for writes
 * @reads: DMA read calls so far (failed ones included)
 * @writes: DMA write calls so far
 * @maps: fake_buf_map() calls that returned a pointer
 */
struct fake_mem {
	uint8_t *ram;
	uint64_t base;
	size_t size;
	size_t brk;		/* bump allocator, offset into ram */
	unsigned int fail_read_at;
	unsigned int fail_write_at;
	unsigned int reads;
	unsigned int writes;
	unsigned int maps;	/* fake_buf_map() calls that gave a pointer */
};

#define FAKE_MEM_BASE	0x10000000ull
#define FAKE_GUARD_BYTE	0xee	/* fills the gaps between listed pages */

void fake_mem_init(struct fake_mem *m, size_t size);
void fake_mem_destroy(struct fake_mem *m);
/* Guest address of @len fresh bytes, @align-aligned; aborts when full. */
uint64_t fake_alloc(struct fake_mem *m, size_t len, size_t align);
uint8_t *fake_ptr(struct fake_mem *m, uint64_t addr, size_t len);
int fake_dma_read(void *opaque, uint64_t addr, void *dst, size_t len);
int fake_dma_write(void *opaque, uint64_t addr, const void *src, size_t len);
/*
 * struct spe_mem's map over fake memory: host pointer of bytes [off, off +
 * len) of the operand @buf references when they are contiguous there (a
 * contiguous reference, or a range within one listed page), else NULL
 * (the engine then reads them). Counts @m->maps; no fault injection.
 */
const void *fake_buf_map(struct fake_mem *m, const struct spe_buf *buf,
			 uint64_t off, size_t len);

/* ---- Operand buffers -------------------------------------------------- */

/**
 * struct tbuf - an operand as the device sees it, plus where its bytes are
 * @ref: the reference (host-endian) to put in a descriptor
 * @pages: page-list operands: guest address of each listed page
 * @n_pages: entries in @pages (0: contiguous)
 */
struct tbuf {
	struct spe_buf ref;
	uint64_t *pages;
	size_t n_pages;
};

/* Contiguous operand of @len bytes. */
void tbuf_contig(struct tbuf *b, struct fake_mem *m, uint32_t len);
/*
 * Page-list operand of @len bytes starting @offset into its first page;
 * the pages are allocated out of order so they are not contiguous.
 */
void tbuf_paged(struct tbuf *b, struct fake_mem *m, uint32_t len,
		uint16_t offset);
void tbuf_free(struct tbuf *b);
/* Copy into / out of the operand's bytes, independently of the engine. */
void tbuf_poke(struct fake_mem *m, const struct tbuf *b, uint64_t off,
	       const void *src, size_t len);
void tbuf_peek(struct fake_mem *m, const struct tbuf *b, uint64_t off,
	       void *dst, size_t len);

/* ---- Descriptors ------------------------------------------------------ */

void desc_set_buf(struct spatten_hw_buf *dst, const struct spe_buf *src);

/* Capabilities of the test device: generous, all features and formats. */
void test_caps(struct spe_caps *caps);

/* ---- Randomness ------------------------------------------------------- */

uint32_t prng_next(uint64_t *state);
/* Uniform integer in [-amp, amp]. */
int32_t prng_range(uint64_t *state, int32_t amp);

#endif /* SPATTEN_TESTUTIL_H */
