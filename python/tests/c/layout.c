// SPDX-License-Identifier: MIT
/*
 * Prints, as JSON, the size of every struct the Python package mirrors, the
 * offset and size of each of their fields, and the constants it copies, as
 * the C compiler sees them in libspatten.h. tests/test_layout.py compares
 * them with spatten._ffi, field by field.
 */
#include <stddef.h>
#include <stdio.h>

#include "libspatten.h"

static int first_struct = 1, first_field;

static void begin(const char *name, size_t size)
{
	printf("%s\n  \"%s\": {\"size\": %zu, \"fields\": {", first_struct ?
	       "" : ",", name, size);
	first_struct = 0;
	first_field = 1;
}

static void field(const char *name, size_t off, size_t size)
{
	printf("%s\"%s\": [%zu, %zu]", first_field ? "" : ", ", name, off,
	       size);
	first_field = 0;
}

static void end(void)
{
	printf("}}");
}

#define S(t)	begin(#t, sizeof(struct t))
#define F(t, f)	field(#f, offsetof(struct t, f), sizeof(((struct t *)0)->f))

static void structs(void)
{
	S(spatten_info);
	F(spatten_info, api_version); F(spatten_info, hw_version);
	F(spatten_info, vendor_id); F(spatten_info, device_id);
	F(spatten_info, num_engines); F(spatten_info, num_queues);
	F(spatten_info, queue_depth); F(spatten_info, max_context);
	F(spatten_info, max_heads); F(spatten_info, head_dims);
	F(spatten_info, formats); F(spatten_info, splits);
	F(spatten_info, features); F(spatten_info, dma_bits);
	F(spatten_info, rsvd0); F(spatten_info, max_bo_size);
	F(spatten_info, rsvd);
	end();
	S(spatten_counters);
	F(spatten_counters, flags); F(spatten_counters, num);
	F(spatten_counters, value);
	end();
	S(spatten_board);
	F(spatten_board, index); F(spatten_board, path);
	F(spatten_board, pci_addr);
	end();
	S(spatten_tensor_ref);
	F(spatten_tensor_ref, bo); F(spatten_tensor_ref, offset);
	end();
	S(spatten_attn_desc);
	F(spatten_attn_desc, n_heads); F(spatten_attn_desc, head_dim);
	F(spatten_attn_desc, q_rows); F(spatten_attn_desc, kv_rows);
	F(spatten_attn_desc, q_start); F(spatten_attn_desc, stage);
	F(spatten_attn_desc, flags); F(spatten_attn_desc, q_frac);
	F(spatten_attn_desc, k_frac); F(spatten_attn_desc, v_frac);
	F(spatten_attn_desc, out_frac); F(spatten_attn_desc, q);
	F(spatten_attn_desc, k); F(spatten_attn_desc, v);
	F(spatten_attn_desc, out); F(spatten_attn_desc, user_data);
	F(spatten_attn_desc, k_fmt); F(spatten_attn_desc, v_fmt);
	F(spatten_attn_desc, lsb_threshold); F(spatten_attn_desc, topk_seed);
	F(spatten_attn_desc, k_lsb); F(spatten_attn_desc, tok_imp);
	F(spatten_attn_desc, tok_alive); F(spatten_attn_desc, tok_kept);
	F(spatten_attn_desc, pinned); F(spatten_attn_desc, head_imp);
	F(spatten_attn_desc, head_alive); F(spatten_attn_desc, head_kept);
	F(spatten_attn_desc, n_tok_alive); F(spatten_attn_desc, token_keep);
	F(spatten_attn_desc, n_pinned); F(spatten_attn_desc, n_head_alive);
	F(spatten_attn_desc, head_keep); F(spatten_attn_desc, value_keep);
	end();
	S(spatten_attn_ext);
	F(spatten_attn_ext, n_kv_heads); F(spatten_attn_ext, kv_head_stride);
	F(spatten_attn_ext, kv_row_stride);
	F(spatten_attn_ext, kv_block_stride);
	F(spatten_attn_ext, kv_block_rows); F(spatten_attn_ext, rope_base);
	F(spatten_attn_ext, score_scale); F(spatten_attn_ext, rsvd0);
	F(spatten_attn_ext, block_table); F(spatten_attn_ext, positions);
	F(spatten_attn_ext, head_fracs); F(spatten_attn_ext, rsvd);
	end();
	S(spatten_job);
	end();
	S(spatten_job3);
	end();
	S(spatten_result);
	F(spatten_result, status); F(spatten_result, lsb_refetches);
	F(spatten_result, user_data); F(spatten_result, bytes_q);
	F(spatten_result, bytes_k_msb); F(spatten_result, bytes_k_lsb);
	F(spatten_result, bytes_v); F(spatten_result, bytes_written);
	F(spatten_result, cycles);
	end();
	S(spatten_wait);
	F(spatten_wait, seqno); F(spatten_wait, timeout_ns);
	F(spatten_wait, flags); F(spatten_wait, status);
	F(spatten_wait, user_data); F(spatten_wait, bytes_q);
	F(spatten_wait, bytes_k_msb); F(spatten_wait, bytes_k_lsb);
	F(spatten_wait, bytes_v); F(spatten_wait, bytes_written);
	F(spatten_wait, cycles); F(spatten_wait, lsb_refetches);
	F(spatten_wait, rsvd0); F(spatten_wait, rsvd);
	end();
	S(spatten_schedule);
	F(spatten_schedule, tok_keep); F(spatten_schedule, head_keep);
	F(spatten_schedule, value_keep);
	end();
	S(spatten_session_opts);
	F(spatten_session_opts, size); F(spatten_session_opts, kind);
	F(spatten_session_opts, n_layers); F(spatten_session_opts, n_heads);
	F(spatten_session_opts, n_kv_heads);
	F(spatten_session_opts, head_dim);
	F(spatten_session_opts, max_context);
	F(spatten_session_opts, flags); F(spatten_session_opts, k_bits);
	F(spatten_session_opts, v_bits); F(spatten_session_opts, q_frac);
	F(spatten_session_opts, k_frac); F(spatten_session_opts, v_frac);
	F(spatten_session_opts, out_frac);
	F(spatten_session_opts, lsb_threshold);
	F(spatten_session_opts, topk_seed);
	F(spatten_session_opts, score_scale);
	F(spatten_session_opts, rope_base);
	F(spatten_session_opts, n_pinned); F(spatten_session_opts, pinned);
	F(spatten_session_opts, schedule); F(spatten_session_opts, kv_start);
	F(spatten_session_opts, kv_important);
	F(spatten_session_opts, kv_recent);
	F(spatten_session_opts, max_step);
	end();
	S(spatten_view);
	F(spatten_view, data); F(spatten_view, dtype); F(spatten_view, rsvd);
	F(spatten_view, token_stride); F(spatten_view, head_stride);
	end();
	S(spatten_layer_stats);
	F(spatten_layer_stats, status); F(spatten_layer_stats, stage);
	F(spatten_layer_stats, kv_rows); F(spatten_layer_stats, q_rows);
	F(spatten_layer_stats, tokens_alive);
	F(spatten_layer_stats, tokens_kept);
	F(spatten_layer_stats, heads_alive);
	F(spatten_layer_stats, heads_kept);
	F(spatten_layer_stats, value_keep);
	F(spatten_layer_stats, lsb_refetches);
	F(spatten_layer_stats, query_rows); F(spatten_layer_stats, bytes_q);
	F(spatten_layer_stats, bytes_k_msb);
	F(spatten_layer_stats, bytes_k_lsb);
	F(spatten_layer_stats, bytes_v);
	F(spatten_layer_stats, bytes_written);
	F(spatten_layer_stats, bytes_dense); F(spatten_layer_stats, cycles);
	end();
}

static int first_const = 1;

static void constant(const char *name, long long v)
{
	printf("%s\n  \"%s\": %lld", first_const ? "" : ",", name, v);
	first_const = 0;
}

#define C(name, v)	constant(name, (long long)(v))

static void constants(void)
{
	C("BACKEND_DEFAULT", SPATTEN_BACKEND_DEFAULT);
	C("BACKEND_DEVICE", SPATTEN_BACKEND_DEVICE);
	C("BACKEND_SIM", SPATTEN_BACKEND_SIM);
	C("ATTN_CAUSAL", SPATTEN_ATTN_CAUSAL);
	C("ATTN_PROGRESSIVE", SPATTEN_ATTN_PROGRESSIVE);
	C("ATTN_ROPE", SPATTEN_ATTN_ROPE);
	C("ATTN_ROPE_POSITIONS", SPATTEN_ATTN_ROPE_POSITIONS);
	C("ATTN_HEAD_FRACS", SPATTEN_ATTN_HEAD_FRACS);
	C("ATTN_IMP_PER_KV_HEAD", SPATTEN_ATTN_IMP_PER_KV_HEAD);
	C("STAGE_SUMMARIZATION", SPATTEN_STAGE_SUMMARIZATION);
	C("STAGE_GENERATION", SPATTEN_STAGE_GENERATION);
	C("FMT_S16", SPATTEN_FMT_S16);
	C("FMT_S4", SPATTEN_FMT_S4);
	C("FMT_S6", SPATTEN_FMT_S6);
	C("FMT_S8", SPATTEN_FMT_S8);
	C("FMT_S10", SPATTEN_FMT_S10);
	C("FMT_S12", SPATTEN_FMT_S12);
	C("LSB_BITS", SPATTEN_LSB_BITS);
	C("SESSION_PROGRESSIVE", SPATTEN_SESSION_PROGRESSIVE);
	C("SESSION_FIXED_SCALES", SPATTEN_SESSION_FIXED_SCALES);
	C("SESSION_SATURATION_ERROR", SPATTEN_SESSION_SATURATION_ERROR);
	C("SESSION_KV_PER_HEAD", SPATTEN_SESSION_KV_PER_HEAD);
	C("SESSION_ENCODER", SPATTEN_SESSION_ENCODER);
	C("SESSION_DECODER", SPATTEN_SESSION_DECODER);
	C("DTYPE_F32", SPATTEN_DTYPE_F32);
	C("DTYPE_F16", SPATTEN_DTYPE_F16);
	C("DTYPE_BF16", SPATTEN_DTYPE_BF16);
	C("MAX_LAYERS", SPATTEN_MAX_LAYERS);
	C("MAX_PINNED", sizeof(((struct spatten_session_opts *)0)->pinned) /
			sizeof(uint32_t));
	C("MAX_SUBMIT", SPATTEN_MAX_SUBMIT);
	C("REAP_MAX", SPATTEN_REAP_MAX);
	C("CNT_MAX", SPATTEN_CNT_MAX);
	C("MAX_FRAC", SPATTEN_MAX_FRAC);
	C("WAIT_FOREVER", SPATTEN_WAIT_FOREVER);
	C("STATUS_TIMEOUT", SPATTEN_STATUS_TIMEOUT);
	C("STATUS_CANCELED", SPATTEN_STATUS_CANCELED);
	C("JOB_SIZE", sizeof(struct spatten_job));
	C("JOB3_SIZE", sizeof(struct spatten_job3));
	C("FEAT_CAUSAL", SPATTEN_FEAT_CAUSAL);
	C("FEAT_GENERATION", SPATTEN_FEAT_GENERATION);
	C("FEAT_PAGE_LIST", SPATTEN_FEAT_PAGE_LIST);
	C("FEAT_INTX", SPATTEN_FEAT_INTX);
	C("FEAT_TOKEN_PRUNE", SPATTEN_FEAT_TOKEN_PRUNE);
	C("FEAT_HEAD_PRUNE", SPATTEN_FEAT_HEAD_PRUNE);
	C("FEAT_VALUE_PRUNE", SPATTEN_FEAT_VALUE_PRUNE);
	C("FEAT_PROGRESSIVE", SPATTEN_FEAT_PROGRESSIVE);
	C("FEAT_DESC_V3", SPATTEN_FEAT_DESC_V3);
	C("FEAT_GQA", SPATTEN_FEAT_GQA);
	C("FEAT_KV_LAYOUT", SPATTEN_FEAT_KV_LAYOUT);
	C("FEAT_ROPE", SPATTEN_FEAT_ROPE);
	C("FEAT_CHUNKS", SPATTEN_FEAT_CHUNKS);
	C("FEAT_IMP_PER_KV_HEAD", SPATTEN_FEAT_IMP_PER_KV_HEAD);
	C("FEAT_ALL", SPATTEN_FEAT_ALL);
	C("CNT_JOBS_OK", SPATTEN_CNT_JOBS_OK);
	C("CNT_BYTES_META", SPATTEN_CNT_BYTES_META);
	C("CNT_RESETS", SPATTEN_CNT_RESETS);
	C("CNT_TIMEOUTS", SPATTEN_CNT_TIMEOUTS);
	C("CNT_IRQS_DROPPED", SPATTEN_CNT_IRQS_DROPPED);
}

int main(void)
{
	printf("{\"structs\": {");
	structs();
	printf("},\n\"constants\": {");
	constants();
	printf("}}\n");
	return 0;
}
