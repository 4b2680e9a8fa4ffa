/* SPDX-License-Identifier: MIT */
/*
 * Version-3 jobs for the host tests (test_llm*.c): operands in plain
 * process memory, a struct spe_mem over them that checks every access
 * against its buffer and logs it, a 512-byte descriptor builder, and the
 * placement of logical K/V tensors into any KV layout (strided, paged),
 * packed by this file's own bit-stream code. No engine code is used here
 * but the API of spe.h.
 *
 * A buffer reference is contiguous: addr is the host pointer of the
 * buffer, len its size. The memory callbacks turn addr back into a
 * pointer, as a device turns it into a bus address, and refuse anything
 * outside the buffer the test allocated for that plane.
 */
#ifndef SPATTEN_LLM_JOB_H
#define SPATTEN_LLM_JOB_H

#include <stddef.h>
#include <stdint.h>

#include "spatten_hw.h"
#include "spe.h"

#define LLM_OUT_SENTINEL	0x5a5a	/* output elements never written */

/* One access through struct spe_mem: bytes [off, off + len) of a plane. */
struct llm_io {
	uint64_t off, len;
};

struct llm_log {
	struct llm_io *io;
	size_t n, cap;
};

/**
 * struct llm_mem - the operands of one job and their traffic
 * @job: the decoded job whose references the callbacks follow
 * @data, @size: the buffer of each plane (NULL, 0: absent)
 * @rbytes, @wbytes: bytes read / written per plane by the callbacks
 * @rlog, @wlog: every read / write, in order
 * @stray: an access outside its plane's buffer was refused
 * @polls: calls of the cancellation poll
 * @cancel_at: the poll returns "cancelled" from this call on (1-based; 0:
 *	never)
 * @ops: the struct spe_mem to hand spe_run()
 * @map_mode: LLM_MAP_* (llm_mem_set_map())
 * @gathers: spans handed out by map_gather since the last reset
 * @odd, @n_odd: LLM_MAP_ODD's copies, freed at the next reset
 */
#define LLM_MAP_NONE	0	/* read only */
#define LLM_MAP_IN_PLACE 1	/* map and map_gather, in place */
#define LLM_MAP_ODD	2	/* map_gather's spans at odd addresses */
#define LLM_MAX_ODD	1024

struct llm_mem {
	const struct spe_job *job;
	uint8_t *data[SPE_PLANE_COUNT];
	size_t size[SPE_PLANE_COUNT];
	uint64_t rbytes[SPE_PLANE_COUNT], wbytes[SPE_PLANE_COUNT];
	struct llm_log rlog[SPE_PLANE_COUNT], wlog[SPE_PLANE_COUNT];
	int stray;
	unsigned int polls, cancel_at;
	struct spe_mem ops;
	int map_mode;
	unsigned int gathers;
	uint8_t *odd[LLM_MAX_ODD];
	unsigned int n_odd;
};

void llm_mem_init(struct llm_mem *m);
void llm_mem_free(struct llm_mem *m);
/* A fresh zeroed buffer of @len bytes for @plane (replacing any). */
uint8_t *llm_mem_alloc(struct llm_mem *m, enum spe_plane plane, size_t len);
/* Forget the traffic of earlier runs. */
void llm_mem_reset(struct llm_mem *m);
/* Give the engine map and map_gather (LLM_MAP_*), or not. */
void llm_mem_set_map(struct llm_mem *m, int mode);
/* No byte of any plane read twice, none written twice. */
int llm_mem_once(const struct llm_mem *m);
/* Our count of each plane's traffic equals the engine's statistics. */
int llm_mem_counts_match(const struct llm_mem *m, const struct spe_stats *st);
uint64_t llm_mem_written(const struct llm_mem *m);	/* all planes */
/* Largest single read of @plane; reads that overlap byte range [a, b). */
uint64_t llm_mem_max_read(const struct llm_mem *m, enum spe_plane plane);
uint32_t llm_mem_reads_in(const struct llm_mem *m, enum spe_plane plane,
			  uint64_t a, uint64_t b);

/* Little-endian arrays in and out of a plane (allocating on put). */
void llm_put_u32s(struct llm_mem *m, enum spe_plane plane,
		  const uint32_t *v, size_t n);
void llm_put_u64s(struct llm_mem *m, enum spe_plane plane,
		  const uint64_t *v, size_t n);
uint32_t llm_get_u32(const struct llm_mem *m, enum spe_plane plane, size_t i);
uint64_t llm_get_u64(const struct llm_mem *m, enum spe_plane plane, size_t i);

/* ---- Job shape and descriptor ------------------------------------------ */

/* Everything of a version-3 descriptor but the buffer references. */
struct llm_spec {
	uint32_t heads, kv_heads, d;
	uint32_t q_rows, kv_rows, q_start;
	int generation;
	uint16_t flags;			/* SPATTEN_DESC_F_* */
	uint8_t k_fmt, v_fmt;		/* Q and out are S16 */
	uint8_t q_frac, k_frac, v_frac, out_frac;
	uint32_t n_tok_alive, token_keep, n_pinned, value_keep;
	uint16_t n_head_alive, head_keep, lsb_threshold;
	uint32_t topk_seed, score_scale, rope_base;
	/* KV layout, as in the descriptor (all 0: packed) */
	uint32_t block_rows, head_stride, row_stride, block_stride;
};

/* Test caps plus version 3: 128 Ki context, 64 heads, 64-bit addresses. */
void llm_caps(struct spe_caps *caps);
/* The 512-byte descriptor of @s with @m's buffers. */
void llm_desc_build(const struct llm_spec *s, const struct llm_mem *m,
		    struct spatten_hw_desc_v3 *d);
/* Build, spe_desc_decode() into @job (which @m then follows). */
int llm_decode(const struct llm_spec *s, struct llm_mem *m,
	       const struct spe_caps *caps, struct spe_job *job);
/* spe_run() through @m, after forgetting earlier traffic. */
int llm_run(struct llm_mem *m, const struct spe_job *job,
	    const struct spe_caps *caps, struct spe_result *res);

/* ---- Operands ---------------------------------------------------------- */

/*
 * Logical operands, host int16: Q [heads][q_rows][d], K (the full key
 * with PROGRESSIVE) and V [kv_heads][kv_rows][d].
 */
struct llm_data {
	int16_t *q, *k, *v;
	uint32_t nq, nkv;	/* elements */
};

uint64_t llm_rand(uint64_t *state);
/* Uniform in [-amp, amp]. */
int32_t llm_rand_range(uint64_t *state, int32_t amp);
void llm_data_random(struct llm_data *dt, const struct llm_spec *s,
		     int32_t q_amp, int32_t k_amp, int32_t v_amp,
		     uint64_t seed);
void llm_data_free(struct llm_data *dt);
/* Largest |V| in real units. */
double llm_max_abs_v(const struct llm_data *dt, const struct llm_spec *s);

/*
 * Row index of slot @r of KV head @g in a KV plane under @s's layout
 * (spatten_hw.h), @table the block table of a paged layout.
 */
uint64_t llm_kv_row(const struct llm_spec *s, const uint32_t *table,
		    uint32_t g, uint32_t r);

/*
 * Q into its plane; K (MSB and LSB planes with PROGRESSIVE) and V into
 * buffers of @buf_rows rows each (0: the rows the layout reaches, for a
 * layout that is not paged) laid out by @s and @table (whose copy goes
 * to the block-table plane when paged). Bytes no row of the job occupies
 * are random, so reading a wrong row shows. Output: S16 sentinels.
 */
void llm_place(struct llm_mem *m, const struct llm_spec *s,
	       const struct llm_data *dt, const uint32_t *table,
	       uint64_t buf_rows, uint64_t seed);
/* Output element (head, row, x) as written back, host int16. */
int16_t llm_out(const struct llm_mem *m, const struct llm_spec *s,
		uint32_t h, uint32_t row, uint32_t x);

/* ---- One job end to end ------------------------------------------------ */

/* A job, its operands and memory, its decode and its run. */
struct llm_test {
	struct llm_spec s;
	struct llm_data dt;
	struct llm_mem m;
	struct spe_caps caps;
	struct spe_job job;
	struct spe_result res;
	int decode_rc;
};

/*
 * Random operands (raw elements within +-amp) placed by @s's layout (for
 * a paged one, @table and @buf_rows as llm_place()), caps llm_caps().
 * Lists and importance arrays are the caller's to add (llm_put_*()).
 */
void llm_test_init(struct llm_test *t, const struct llm_spec *s,
		   int32_t q_amp, int32_t k_amp, int32_t v_amp, uint64_t seed,
		   const uint32_t *table, uint64_t buf_rows);
/* Decode (t->decode_rc) and, if that passed, run: the run's status. */
int llm_test_run(struct llm_test *t);
void llm_test_free(struct llm_test *t);

/* Bytes of a row of @d elements of format @fmt (bits 4 for the LSBs). */
static inline uint32_t llm_row_bytes(uint32_t d, uint32_t bits)
{
	return d * bits / 8;
}

#endif /* SPATTEN_LLM_JOB_H */
