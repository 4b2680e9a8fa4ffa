// SPDX-License-Identifier: MIT
/*
 * libFuzzer target: the device's descriptor validation and the engine, fed
 * with whatever a guest could put in a submission entry and in memory.
 *
 * Input: a 256-byte descriptor (512 bytes, a version-3 SQ entry, when bit
 * 4 of the control byte is set; zero-padded if shorter) followed by a
 * guest memory image mapped at FUZZ_MEM_BASE. A control byte in front of
 * the descriptor can repair the fields that gate everything else (size,
 * version, opcode) so the search spends its time past the first checks;
 * its bit 3 runs the engine without struct spe_mem's map (read only).
 * Every read and write the engine asks for is bounds-checked against the
 * image exactly like the device's DMA is, and the invariants the device
 * relies on are asserted: a known status, and traffic that never exceeds
 * the operands.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "spe.h"

#define FUZZ_MEM_BASE	0x100000ull
#define FUZZ_MEM_MAX	(256u << 10)

struct fuzz_mem {
	uint8_t *bytes;
	size_t size;
	struct spe_job *job;
};

static int fuzz_dma_read(void *opaque, uint64_t addr, void *dst, size_t len)
{
	struct fuzz_mem *m = opaque;

	if (addr < FUZZ_MEM_BASE || addr - FUZZ_MEM_BASE > m->size ||
	    len > m->size - (addr - FUZZ_MEM_BASE))
		return -1;
	memcpy(dst, m->bytes + (addr - FUZZ_MEM_BASE), len);
	return 0;
}

static int fuzz_dma_write(void *opaque, uint64_t addr, const void *src,
			  size_t len)
{
	struct fuzz_mem *m = opaque;

	if (addr < FUZZ_MEM_BASE || addr - FUZZ_MEM_BASE > m->size ||
	    len > m->size - (addr - FUZZ_MEM_BASE))
		return -1;
	memcpy(m->bytes + (addr - FUZZ_MEM_BASE), src, len);
	return 0;
}

static int fuzz_read(void *opaque, enum spe_plane plane, uint64_t off,
		     void *dst, size_t len)
{
	struct fuzz_mem *m = opaque;

	if ((unsigned int)plane >= SPE_PLANE_COUNT)
		__builtin_trap();
	return spe_buf_read(&m->job->buf[plane], off, dst, len,
			    fuzz_dma_read, m);
}

/*
 * Bytes [off, off + len) of an operand in place, when the buffer reference
 * puts them contiguously inside the image: a contiguous reference, or a
 * range within one listed page (control bit 3 turns map off so the read
 * path stays fuzzed too). NULL otherwise: the engine then reads them, and
 * the read fails or succeeds exactly as without map.
 */
static const void *fuzz_map(void *opaque, enum spe_plane plane, uint64_t off,
			    size_t len)
{
	struct fuzz_mem *m = opaque;
	const struct spe_buf *b;
	uint64_t addr, pos;
	uint8_t e[8];
	int i;

	if ((unsigned int)plane >= SPE_PLANE_COUNT)
		__builtin_trap();
	b = &m->job->buf[plane];
	if (off > b->len || len > b->len - off || !len)
		return NULL;
	if (!(b->flags & SPATTEN_BUF_PAGE_LIST)) {
		if (b->addr > UINT64_MAX - off)
			return NULL;
		addr = b->addr + off;
	} else {
		pos = b->offset + off;
		if (pos % SPATTEN_HW_PAGE_SIZE + len > SPATTEN_HW_PAGE_SIZE)
			return NULL;
		if (fuzz_dma_read(m, b->addr + pos / SPATTEN_HW_PAGE_SIZE * 8,
				  e, 8))
			return NULL;
		for (addr = 0, i = 7; i >= 0; i--)
			addr = addr << 8 | e[i];
		if (addr % SPATTEN_HW_PAGE_SIZE)
			return NULL;
		addr += pos % SPATTEN_HW_PAGE_SIZE;
	}
	if (addr < FUZZ_MEM_BASE || addr - FUZZ_MEM_BASE > m->size ||
	    len > m->size - (addr - FUZZ_MEM_BASE))
		return NULL;
	return m->bytes + (addr - FUZZ_MEM_BASE);
}

static int fuzz_write(void *opaque, enum spe_plane plane, uint64_t off,
		      const void *src, size_t len)
{
	struct fuzz_mem *m = opaque;

	if ((unsigned int)plane >= SPE_PLANE_COUNT)
		__builtin_trap();
	return spe_buf_write(&m->job->buf[plane], off, src, len,
			     fuzz_dma_read, fuzz_dma_write, m);
}

static void fuzz_caps(struct spe_caps *caps)
{
	memset(caps, 0, sizeof(*caps));
	caps->max_context = 64;	/* small shapes keep each run fast */
	caps->max_heads = 4;
	caps->head_dims = (1u << 4) | (1u << 5) | (1u << 6);
	caps->formats = (1u << SPATTEN_FMT_NUM) - 1;
	caps->splits = (1u << 4) | (1u << 6) | (1u << 8) | (1u << 10) |
		       (1u << 12);
	caps->features = SPATTEN_FEAT_CAUSAL | SPATTEN_FEAT_GENERATION |
			 SPATTEN_FEAT_PAGE_LIST | SPATTEN_FEAT_TOKEN_PRUNE |
			 SPATTEN_FEAT_HEAD_PRUNE | SPATTEN_FEAT_VALUE_PRUNE |
			 SPATTEN_FEAT_PROGRESSIVE | SPATTEN_FEAT_DESC_V3 |
			 SPATTEN_FEAT_GQA | SPATTEN_FEAT_KV_LAYOUT |
			 SPATTEN_FEAT_ROPE | SPATTEN_FEAT_CHUNKS |
			 SPATTEN_FEAT_IMP_PER_KV_HEAD;
	caps->dma_bits = 48;
	caps->model = spe_model_full();
}

#define FUZZ_CTL_V3	0x10	/* a 512-byte entry, repaired as version 3 */

static void fuzz_repair_v3(struct spatten_hw_desc_v3 *desc, uint8_t control)
{
	if (control & 1) {
		desc->desc_size = htole16(SPATTEN_DESC_V3_SIZE);
		desc->version = SPATTEN_DESC_VERSION_V3;
	}
	if (control & 2)
		desc->opcode = htole16(SPATTEN_OP_ATTENTION);
	if (control & 4) {
		desc->rsvd0 = 0;
		desc->rsvd1 = 0;
		desc->rsvd2 = 0;
		desc->rsvd3 = 0;
		memset(desc->rsvd4, 0, sizeof(desc->rsvd4));
		memset(desc->rsvd5, 0, sizeof(desc->rsvd5));
	}
}

static void fuzz_repair(struct spatten_hw_desc *desc, uint8_t control)
{
	if (control & 1) {
		desc->desc_size = htole16(SPATTEN_DESC_SIZE);
		desc->version = SPATTEN_DESC_VERSION;
	}
	if (control & 2)
		desc->opcode = htole16(SPATTEN_OP_ATTENTION);
	if (control & 4) {
		desc->rsvd0 = 0;
		desc->rsvd1 = 0;
		desc->rsvd2 = 0;
		desc->rsvd3 = 0;
		desc->rsvd4 = 0;
	}
}

/* Decode and run one input; the statuses for the standalone replayer. */
static void fuzz_one(const uint8_t *data, size_t size, int *decoded,
		     int *ran)
{
	union spatten_hw_sqe desc;
	size_t entry;
	struct spe_caps caps;
	struct spe_job job;
	struct spe_result res;
	struct fuzz_mem m;
	struct spe_mem mem;
	size_t n;
	int status;
	uint8_t control = 0;

	if (size > 0) {
		control = data[0];
		data++;
		size--;
	}
	memset(&desc, 0, sizeof(desc));
	entry = control & FUZZ_CTL_V3 ? sizeof(desc.v3) : sizeof(desc.v2);
	n = size < entry ? size : entry;
	memcpy(&desc, data, n);
	data += n;
	size -= n;
	if (control & FUZZ_CTL_V3)
		fuzz_repair_v3(&desc.v3, control);
	else
		fuzz_repair(&desc.v2, control);

	fuzz_caps(&caps);
	status = spe_desc_decode(&desc, entry, &caps, &job);
	*decoded = status;
	*ran = -1;
	if (status < 0 || status > SPATTEN_HW_STATUS_MAX)
		__builtin_trap();
	if (status != SPATTEN_HW_OK)
		return;

	m.size = size < FUZZ_MEM_MAX ? size : FUZZ_MEM_MAX;
	m.bytes = malloc(m.size ? m.size : 1);
	if (!m.bytes)
		return;
	memcpy(m.bytes, data, m.size);
	m.job = &job;
	/* Designated: members added to struct spe_mem later stay NULL. */
	mem = (struct spe_mem){
		.read = fuzz_read,
		.write = fuzz_write,
		.map = (control & 8) ? NULL : fuzz_map,
		.opaque = &m,
	};

	memset(&res, 0, sizeof(res));
	status = spe_run(&job, &caps, &mem, &res);
	*ran = status;
	if (status != res.status || status < 0 ||
	    status > SPATTEN_HW_STATUS_MAX)
		__builtin_trap();
	/*
	 * Each byte moves at most once (importance: read, then written); a
	 * version-3 KV layout may alias rows (a guest's choice), so there
	 * each logical row at most once.
	 */
	for (n = 0; n < SPE_PLANE_COUNT; n++) {
		uint64_t limit = job.buf[n].len;

		if (n == SPE_PLANE_TOK_IMP || n == SPE_PLANE_HEAD_IMP)
			limit *= 2;
		if (job.kv_row_stride && (n == SPE_PLANE_K_MSB ||
					  n == SPE_PLANE_K_LSB ||
					  n == SPE_PLANE_V))
			limit += (uint64_t)job.n_kv_heads * job.kv_rows *
				 job.head_dim * 2;
		if (res.stats.bytes[n] > limit)
			__builtin_trap();
	}
	free(m.bytes);
}

#ifdef FUZZ_STANDALONE
#include <stdio.h>

/* Replays inputs without libFuzzer: prints each one's statuses. */
int main(int argc, char **argv)
{
	static uint8_t buf[1 << 20];
	int i, decoded, ran;

	for (i = 1; i < argc; i++) {
		FILE *f = fopen(argv[i], "rb");
		size_t n;

		if (!f) {
			perror(argv[i]);
			return 1;
		}
		n = fread(buf, 1, sizeof(buf), f);
		fclose(f);
		fuzz_one(buf, n, &decoded, &ran);
		printf("%s: decode %d run %d\n", argv[i], decoded, ran);
	}
	return 0;
}
#else
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int decoded, ran;

	fuzz_one(data, size, &decoded, &ran);
	return 0;
}
#endif
