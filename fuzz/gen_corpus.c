// SPDX-License-Identifier: MIT
/*
 * Seeds for fuzz_engine: valid jobs that reach deep into the engine (dense,
 * causal generation with token pruning and importance, progressive keys
 * with value and head pruning, operands behind page lists; summarization
 * token pruning with packed formats, a NOP, a version 1 job; a version 3
 * job with token importance per KV head). The fuzzer
 * mutates from these instead of searching for a valid descriptor.
 *
 * Usage: gen_corpus DIR
 */
#include <endian.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "spatten_hw.h"

#define FUZZ_MEM_BASE	0x100000ull
#define SEED_MEM	(64u << 10)

struct seed {
	uint8_t control;
	struct spatten_hw_desc desc;
	uint8_t mem[SEED_MEM];
	size_t used;
};

/* Reserve @len bytes of the image, filled with a pattern; returns its offset. */
static size_t seed_alloc(struct seed *s, size_t len, unsigned int fill)
{
	size_t off = (s->used + 4095) & ~(size_t)4095;
	size_t i;

	if (off + len > SEED_MEM) {
		fprintf(stderr, "gen_corpus: seed image too small\n");
		exit(1);
	}
	for (i = 0; i < len; i++)
		s->mem[off + i] = (uint8_t)(fill * 131 + i * 7);
	s->used = off + len;
	return off;
}

static void seed_buf(struct spatten_hw_buf *b, uint64_t off, uint32_t len)
{
	b->addr = htole64(FUZZ_MEM_BASE + off);
	b->len = htole32(len);
	b->offset = 0;
	b->flags = 0;
}

/* A page list of the pages holding [off, off + len), in reverse order. */
static void seed_paged_buf(struct seed *s, struct spatten_hw_buf *b,
			   size_t off, uint32_t len)
{
	size_t pages = (len + 4095) / 4096, i;
	size_t list = seed_alloc(s, pages * 8, 0);

	for (i = 0; i < pages; i++) {
		uint64_t addr = htole64(FUZZ_MEM_BASE + off + i * 4096);

		memcpy(s->mem + list + i * 8, &addr, 8);
	}
	b->addr = htole64(FUZZ_MEM_BASE + list);
	b->len = htole32(len);
	b->offset = 0;
	b->flags = htole16(SPATTEN_BUF_PAGE_LIST);
}

static void seed_shape(struct seed *s, unsigned int heads, unsigned int dim,
		       unsigned int q_rows, unsigned int kv_rows,
		       unsigned int stage, unsigned int flags)
{
	struct spatten_hw_desc *d = &s->desc;

	memset(s, 0, sizeof(*s));
	s->control = 7;
	d->opcode = htole16(SPATTEN_OP_ATTENTION);
	d->desc_size = htole16(SPATTEN_DESC_SIZE);
	d->version = SPATTEN_DESC_VERSION;
	d->stage = (uint8_t)stage;
	d->flags = htole16((uint16_t)flags);
	d->n_heads = htole16((uint16_t)heads);
	d->head_dim = htole16((uint16_t)dim);
	d->q_rows = htole16((uint16_t)q_rows);
	d->kv_rows = htole16((uint16_t)kv_rows);
	d->q_start = htole16((uint16_t)(stage ? kv_rows - 1 : 0));
	d->q_frac = d->k_frac = d->v_frac = d->out_frac = 12;
}

static void seed_tensor(struct seed *s, struct spatten_hw_buf *b,
			unsigned int rows, unsigned int fmt, unsigned int fill)
{
	const struct spatten_hw_desc *d = &s->desc;
	uint64_t len = spatten_hw_tensor_bytes(le16toh(d->n_heads), rows,
					       le16toh(d->head_dim), (__u8)fmt);

	seed_buf(b, seed_alloc(s, len, fill), (uint32_t)len);
}

static void seed_array(struct seed *s, struct spatten_hw_buf *b,
		       const void *src, size_t len)
{
	size_t off = seed_alloc(s, len, 0);

	memcpy(s->mem + off, src, len);
	seed_buf(b, off, (uint32_t)len);
}

static void seed_write(const struct seed *s, const char *dir,
		       const char *name)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "wb");
	if (!f || fwrite(&s->control, 1, 1, f) != 1 ||
	    fwrite(&s->desc, sizeof(s->desc), 1, f) != 1 ||
	    (s->used && fwrite(s->mem, s->used, 1, f) != 1) || fclose(f)) {
		perror(path);
		exit(1);
	}
}

/*
 * A version-3 seed (control bit 4: a 512-byte entry): generation over 12
 * slots, 4 query heads on 2 KV heads, token importance per KV head
 * (tok_imp u64[2][12]), operands at page offsets of a small image.
 */
static void seed_v3_imp_per_kv_head(const char *dir)
{
	static uint8_t mem[5 * 4096];
	struct spatten_hw_desc_v3 d;
	const uint8_t control = 0x10 | 7;
	char path[4096];
	unsigned int i;
	FILE *f;

	memset(&d, 0, sizeof(d));
	d.opcode = htole16(SPATTEN_OP_ATTENTION);
	d.desc_size = htole16(SPATTEN_DESC_V3_SIZE);
	d.version = SPATTEN_DESC_VERSION_V3;
	d.stage = SPATTEN_STAGE_GENERATION;
	d.flags = htole16(SPATTEN_DESC_F_CAUSAL |
			  SPATTEN_DESC_F_IMP_PER_KV_HEAD);
	d.n_heads = htole16(4);
	d.n_kv_heads = htole16(2);
	d.head_dim = htole16(16);
	d.q_rows = htole32(1);
	d.kv_rows = htole32(12);
	d.q_start = htole32(11);
	d.q_frac = d.k_frac = d.v_frac = d.out_frac = 12;
	d.value_keep = htole32(5);
	for (i = 0; i < sizeof(mem); i++)
		mem[i] = (uint8_t)(i * 7 + i / 4096 * 131);
	seed_buf(&d.q, 0, 4 * 16 * 2);
	seed_buf(&d.k, 4096, 2 * 12 * 16 * 2);
	seed_buf(&d.v, 2 * 4096, 2 * 12 * 16 * 2);
	seed_buf(&d.out, 3 * 4096, 4 * 16 * 2);
	seed_buf(&d.tok_imp, 4 * 4096, 2 * 12 * 8);
	memset(mem + 4 * 4096, 0, 2 * 12 * 8);

	snprintf(path, sizeof(path), "%s/v3-imp-per-kv-head", dir);
	f = fopen(path, "wb");
	if (!f || fwrite(&control, 1, 1, f) != 1 ||
	    fwrite(&d, sizeof(d), 1, f) != 1 ||
	    fwrite(mem, sizeof(mem), 1, f) != 1 || fclose(f)) {
		perror(path);
		exit(1);
	}
}

int main(int argc, char **argv)
{
	static struct seed s;
	uint64_t imp[16];
	uint16_t list[16];
	unsigned int i;

	if (argc != 2) {
		fprintf(stderr, "usage: gen_corpus DIR\n");
		return 2;
	}

	/* Dense causal summarization. */
	seed_shape(&s, 2, 16, 8, 8, SPATTEN_STAGE_SUMMARIZATION,
		   SPATTEN_DESC_F_CAUSAL);
	seed_tensor(&s, &s.desc.q, 8, SPATTEN_FMT_S16, 1);
	seed_tensor(&s, &s.desc.k, 8, SPATTEN_FMT_S16, 2);
	seed_tensor(&s, &s.desc.v, 8, SPATTEN_FMT_S16, 3);
	seed_tensor(&s, &s.desc.out, 8, SPATTEN_FMT_S16, 0);
	seed_write(&s, argv[1], "dense-causal");

	/* Generation with token pruning, importance, an alive list, a pin. */
	seed_shape(&s, 2, 16, 1, 12, SPATTEN_STAGE_GENERATION,
		   SPATTEN_DESC_F_CAUSAL);
	s.desc.k_fmt = SPATTEN_FMT_S8;
	s.desc.v_fmt = SPATTEN_FMT_S6;
	s.desc.k_frac = 6;
	s.desc.v_frac = 4;
	seed_tensor(&s, &s.desc.q, 1, SPATTEN_FMT_S16, 4);
	seed_tensor(&s, &s.desc.k, 12, SPATTEN_FMT_S8, 5);
	seed_tensor(&s, &s.desc.v, 12, SPATTEN_FMT_S6, 6);
	seed_tensor(&s, &s.desc.out, 1, SPATTEN_FMT_S16, 0);
	for (i = 0; i < 12; i++)
		imp[i] = htole64((uint64_t)(i * 7919 % 13) << 15);
	seed_array(&s, &s.desc.tok_imp, imp, 12 * 8);
	for (i = 0; i < 10; i++)
		list[i] = htole16((uint16_t)i);
	seed_array(&s, &s.desc.tok_alive, list, 10 * 2);
	s.desc.n_tok_alive = htole16(10);
	list[0] = htole16(0);
	seed_array(&s, &s.desc.pinned, list, 2);
	s.desc.n_pinned = htole16(1);
	seed_buf(&s.desc.tok_kept, seed_alloc(&s, 6 * 2, 0), 6 * 2);
	s.desc.token_keep = htole16(6);
	s.desc.topk_seed = htole32(12345);
	seed_write(&s, argv[1], "gen-token-prune");

	/* Progressive keys, value pruning, head pruning, page lists. */
	seed_shape(&s, 4, 32, 1, 16, SPATTEN_STAGE_GENERATION,
		   SPATTEN_DESC_F_CAUSAL | SPATTEN_DESC_F_PROGRESSIVE);
	s.desc.k_fmt = SPATTEN_FMT_S6;
	s.desc.k_frac = 8;
	seed_tensor(&s, &s.desc.q, 1, SPATTEN_FMT_S16, 7);
	seed_tensor(&s, &s.desc.k, 16, SPATTEN_FMT_S6, 8);
	seed_tensor(&s, &s.desc.v, 16, SPATTEN_FMT_S16, 9);
	{
		uint64_t len = spatten_hw_plane_bytes(4, 16, 32,
						      SPATTEN_LSB_BITS);
		size_t off = seed_alloc(&s, len, 10);

		seed_paged_buf(&s, &s.desc.k_lsb, off, (uint32_t)len);
	}
	seed_tensor(&s, &s.desc.out, 1, SPATTEN_FMT_S16, 0);
	s.desc.lsb_threshold = htole16(16384);
	s.desc.value_keep = htole16(4);
	for (i = 0; i < 4; i++)
		imp[i] = htole64((uint64_t)(4 - i) << 16);
	seed_array(&s, &s.desc.head_imp, imp, 4 * 8);
	for (i = 0; i < 3; i++)
		list[i] = htole16((uint16_t)i);
	seed_array(&s, &s.desc.head_alive, list, 3 * 2);
	s.desc.n_head_alive = htole16(3);
	seed_buf(&s.desc.head_kept, seed_alloc(&s, 2 * 2, 0), 2 * 2);
	s.desc.head_keep = htole16(2);
	seed_write(&s, argv[1], "progressive-value-head");

	/*
	 * Added for issue #7 (docs/reliability.md): summarization with token
	 * pruning, pins and importance (query row i is token i), packed S4 /
	 * S12 operands, Q and the output behind page lists.
	 */
	seed_shape(&s, 2, 16, 10, 10, SPATTEN_STAGE_SUMMARIZATION,
		   SPATTEN_DESC_F_CAUSAL);
	s.desc.k_fmt = SPATTEN_FMT_S12;
	s.desc.v_fmt = SPATTEN_FMT_S4;
	s.desc.k_frac = 8;
	s.desc.v_frac = 2;
	{
		uint64_t len = spatten_hw_tensor_bytes(2, 10, 16,
						       SPATTEN_FMT_S16);
		size_t off = seed_alloc(&s, len, 11);

		seed_paged_buf(&s, &s.desc.q, off, (uint32_t)len);
		off = seed_alloc(&s, len, 0);
		seed_paged_buf(&s, &s.desc.out, off, (uint32_t)len);
	}
	seed_tensor(&s, &s.desc.k, 10, SPATTEN_FMT_S12, 12);
	seed_tensor(&s, &s.desc.v, 10, SPATTEN_FMT_S4, 13);
	for (i = 0; i < 10; i++)
		imp[i] = htole64((uint64_t)(i * 31 % 7) << 14);
	seed_array(&s, &s.desc.tok_imp, imp, 10 * 8);
	list[0] = htole16(0);
	list[1] = htole16(9);
	seed_array(&s, &s.desc.pinned, list, 2 * 2);
	s.desc.n_pinned = htole16(2);
	seed_buf(&s.desc.tok_kept, seed_alloc(&s, 5 * 2, 0), 5 * 2);
	s.desc.token_keep = htole16(5);
	s.desc.value_keep = htole16(3);
	s.desc.topk_seed = htole32(777);
	seed_write(&s, argv[1], "summ-token-prune-packed");

	/* A NOP, and a version 1 (v1 fields only) dense job. */
	memset(&s, 0, sizeof(s));
	s.control = 1;
	s.desc.opcode = htole16(SPATTEN_OP_NOP);
	s.desc.desc_size = htole16(SPATTEN_DESC_SIZE);
	s.desc.version = SPATTEN_DESC_VERSION;
	seed_write(&s, argv[1], "nop");
	seed_shape(&s, 1, 64, 4, 4, SPATTEN_STAGE_SUMMARIZATION, 0);
	s.desc.version = 1;
	seed_tensor(&s, &s.desc.q, 4, SPATTEN_FMT_S16, 14);
	seed_tensor(&s, &s.desc.k, 4, SPATTEN_FMT_S16, 15);
	seed_tensor(&s, &s.desc.v, 4, SPATTEN_FMT_S16, 16);
	seed_tensor(&s, &s.desc.out, 4, SPATTEN_FMT_S16, 0);
	seed_write(&s, argv[1], "v1-dense");
	seed_v3_imp_per_kv_head(argv[1]);
	return 0;
}
