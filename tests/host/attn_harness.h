/* SPDX-License-Identifier: MIT */
/*
 * Running an attention job end to end on the host: random fixed-point
 * operands in a fake guest memory, descriptor, decode, spe_run through a
 * reader that walks the buffer references, output written back with
 * spe_buf_write(). Shared by test_attention.c and test_golden.c.
 */
#ifndef SPATTEN_ATTN_HARNESS_H
#define SPATTEN_ATTN_HARNESS_H

#include <stdint.h>

#include "spe.h"
#include "testutil.h"

/* A job shape plus how to fill its operands. */
struct att_case {
	const char *name;
	uint32_t heads, d, q_rows, kv_rows, q_start;
	int causal, generation, page_list;
	uint8_t q_frac, k_frac, v_frac, out_frac;
	int32_t q_amp, k_amp, v_amp;	/* raw elements in [-amp, amp] */
	int32_t fill;	/* non-zero: every element is this value instead */
	uint64_t seed;
};

/*
 * struct att_reader - the struct spe_mem the tests hand the engine
 * @fail_at: make the n-th read call (1-based) return @fail_rc; 0: never
 * @seen: per plane, how many times each byte was read
 */
struct att_reader {
	const struct spe_job *job;
	struct fake_mem *mem;
	unsigned int calls;
	unsigned int fail_at;
	int fail_rc;
	uint64_t bytes[SPE_PLANE_COUNT];
	uint8_t *seen[SPE_PLANE_COUNT];
	int reread;		/* some byte was read twice */
};

struct att_run {
	struct att_case c;
	struct fake_mem mem;
	struct tbuf q, k, v, out;
	int16_t *qd, *kd, *vd;	/* operands, host-endian */
	int16_t *outd;		/* output read back from guest memory */
	uint8_t *out_raw;	/* spe_run()'s output buffer */
	struct spe_job job;
	struct att_reader rd;
	struct spe_result res;
	int decode_rc;
	int write_rc;
};

/* Build operands and descriptor; decode. Check @run->decode_rc. */
void att_setup(struct att_run *run, const struct att_case *c);
/* spe_run() + write-back. Returns the run status. */
int att_execute(struct att_run *run);
void att_teardown(struct att_run *run);
/* Elements of the output. */
size_t att_out_elems(const struct att_case *c);
/* FNV-1a 64 of the output bytes (the written-back int16, little-endian). */
uint64_t att_out_hash(const struct att_run *run);

#endif /* SPATTEN_ATTN_HARNESS_H */
