/* SPDX-License-Identifier: MIT */
/*
 * Running an attention job end to end on the host: random fixed-point
 * operands in a fake guest memory (packed by the harness's own code, not
 * the engine's), descriptor, decode, spe_run() through a reader and a
 * writer that walk the buffer references and count every byte.
 */
#ifndef SPATTEN_ATTN_HARNESS_H
#define SPATTEN_ATTN_HARNESS_H

#include <stdint.h>

#include "spe.h"
#include "testutil.h"

#define ATT_OUT_SENTINEL	0x5a5a	/* output elements never written */

/* A job shape plus how to fill its operands and its pruning fields. */
struct att_case {
	const char *name;
	uint32_t heads, d, q_rows, kv_rows, q_start;
	int causal, generation, page_list;
	uint8_t q_frac, k_frac, v_frac, out_frac;
	int32_t q_amp, k_amp, v_amp;	/* raw elements in [-amp, amp] */
	int32_t fill;	/* non-zero: every element is this value instead */
	uint64_t seed;
	/* v2 */
	int version;		/* 0: SPATTEN_DESC_VERSION */
	uint8_t k_fmt, v_fmt;	/* K amp is of the full key if progressive */
	int progressive;
	uint16_t lsb_threshold;
	uint16_t token_keep, head_keep, value_keep;
	const uint16_t *tok_alive;
	uint16_t n_tok_alive;
	const uint16_t *pinned;
	uint16_t n_pinned;
	const uint16_t *head_alive;
	uint16_t n_head_alive;
	int with_tok_imp, with_head_imp;
	const uint64_t *tok_imp_init;	/* NULL: zeros */
	const uint64_t *head_imp_init;
	uint32_t topk_seed;
	/* Operands from the caller instead of random (host-endian, full). */
	const int16_t *q_data, *k_data, *v_data;
};

/*
 * struct att_reader - the struct spe_mem the tests hand the engine
 * @fail_at: make the n-th call (read or write, 1-based) return @fail_rc
 * @polls: calls of the cancellation poll; @polls_after_v: those after the
 *	first read of V; @cancel_after_v: the poll says "cancelled" once V
 *	has been read
 * @seen: per plane, how many times each byte was read
 * @bytes / @wbytes: bytes read / written per plane
 */
struct att_reader {
	const struct spe_job *job;
	struct fake_mem *mem;
	unsigned int calls, reads, writes;
	unsigned int fail_at;
	int fail_rc;
	unsigned int polls, polls_after_v;
	int cancel_after_v;
	uint64_t bytes[SPE_PLANE_COUNT];
	uint64_t wbytes[SPE_PLANE_COUNT];
	uint8_t *seen[SPE_PLANE_COUNT];
	uint8_t *wseen[SPE_PLANE_COUNT];
	int reread;		/* some byte was read twice */
	int rewrite;		/* some byte was written twice */
};

struct att_run {
	struct att_case c;
	struct fake_mem mem;
	struct tbuf buf[SPE_PLANE_COUNT];
	int16_t *qd, *kd, *vd;	/* operands, host-endian (K: full key) */
	int16_t *outd;		/* output read back from guest memory */
	uint64_t *tok_imp, *head_imp;	/* read back after the run */
	uint16_t *tok_kept, *head_kept;
	struct spe_caps caps;
	struct spe_job job;
	struct att_reader rd;
	struct spe_result res;
	int decode_rc;
};

/* Build operands and descriptor; decode. Check @run->decode_rc. */
void att_setup(struct att_run *run, const struct att_case *c);
/* Build the descriptor only (for decode tests). */
void att_build_desc(const struct att_run *run, struct spatten_hw_desc *d);
/* spe_run(), then read every written operand back. Returns the status. */
int att_execute(struct att_run *run);
void att_teardown(struct att_run *run);
/* Elements of the output. */
size_t att_out_elems(const struct att_case *c);
/* FNV-1a 64 of the output bytes (the written-back int16, little-endian). */
uint64_t att_out_hash(const struct att_run *run);
/* Largest value of a signed @bits-bit element. */
int32_t att_fmt_max(uint8_t fmt);

#endif /* SPATTEN_ATTN_HARNESS_H */
