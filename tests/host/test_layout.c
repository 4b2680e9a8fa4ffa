// SPDX-License-Identifier: MIT
/*
 * Pins the binary layout of the hardware interface (include/spatten_hw.h)
 * and of the UAPI (include/uapi/spatten.h): every size and every field
 * offset against hard-coded numbers, and the ioctl numbers.
 *
 * Built twice by host.mk: as a TAP test (64-bit), and with
 * -DLAYOUT_STATIC_ONLY -m32 -fsyntax-only, where the same table becomes
 * _Static_asserts checked under the i386 ABI (u64 aligned to 4 in
 * structs), which is what a 32-bit process hands a 64-bit kernel. That
 * build needs no 32-bit libc, only the compiler.
 */
#include <stddef.h>
#include <linux/ioctl.h>

#include "spatten_hw.h"
#include "uapi/spatten.h"

/* X(type, field, offset) for every field; S(type, size) for every struct */
#define LAYOUT(X, S)							\
	S(struct spatten_hw_buf, 16)					\
	X(struct spatten_hw_buf, addr, 0x00)				\
	X(struct spatten_hw_buf, len, 0x08)				\
	X(struct spatten_hw_buf, offset, 0x0c)				\
	X(struct spatten_hw_buf, flags, 0x0e)				\
	S(struct spatten_hw_desc, SPATTEN_DESC_SIZE)			\
	S(struct spatten_hw_desc, 256)					\
	X(struct spatten_hw_desc, opcode, 0x00)				\
	X(struct spatten_hw_desc, desc_size, 0x02)			\
	X(struct spatten_hw_desc, version, 0x04)			\
	X(struct spatten_hw_desc, stage, 0x05)				\
	X(struct spatten_hw_desc, flags, 0x06)				\
	X(struct spatten_hw_desc, tag, 0x08)				\
	X(struct spatten_hw_desc, rsvd0, 0x0c)				\
	X(struct spatten_hw_desc, n_heads, 0x10)			\
	X(struct spatten_hw_desc, head_dim, 0x12)			\
	X(struct spatten_hw_desc, q_rows, 0x14)				\
	X(struct spatten_hw_desc, kv_rows, 0x16)			\
	X(struct spatten_hw_desc, q_start, 0x18)			\
	X(struct spatten_hw_desc, rsvd1, 0x1a)				\
	X(struct spatten_hw_desc, q_fmt, 0x1c)				\
	X(struct spatten_hw_desc, q_frac, 0x1d)				\
	X(struct spatten_hw_desc, k_fmt, 0x1e)				\
	X(struct spatten_hw_desc, k_frac, 0x1f)				\
	X(struct spatten_hw_desc, v_fmt, 0x20)				\
	X(struct spatten_hw_desc, v_frac, 0x21)				\
	X(struct spatten_hw_desc, out_fmt, 0x22)			\
	X(struct spatten_hw_desc, out_frac, 0x23)			\
	X(struct spatten_hw_desc, rsvd2, 0x24)				\
	X(struct spatten_hw_desc, q, 0x28)				\
	X(struct spatten_hw_desc, k, 0x38)				\
	X(struct spatten_hw_desc, v, 0x48)				\
	X(struct spatten_hw_desc, out, 0x58)				\
	X(struct spatten_hw_desc, k_lsb, 0x68)				\
	X(struct spatten_hw_desc, tok_imp, 0x78)			\
	X(struct spatten_hw_desc, tok_alive, 0x88)			\
	X(struct spatten_hw_desc, tok_kept, 0x98)			\
	X(struct spatten_hw_desc, pinned, 0xa8)				\
	X(struct spatten_hw_desc, head_imp, 0xb8)			\
	X(struct spatten_hw_desc, head_alive, 0xc8)			\
	X(struct spatten_hw_desc, head_kept, 0xd8)			\
	X(struct spatten_hw_desc, n_tok_alive, 0xe8)			\
	X(struct spatten_hw_desc, token_keep, 0xea)			\
	X(struct spatten_hw_desc, n_pinned, 0xec)			\
	X(struct spatten_hw_desc, n_head_alive, 0xee)			\
	X(struct spatten_hw_desc, head_keep, 0xf0)			\
	X(struct spatten_hw_desc, value_keep, 0xf2)			\
	X(struct spatten_hw_desc, lsb_threshold, 0xf4)			\
	X(struct spatten_hw_desc, rsvd3, 0xf6)				\
	X(struct spatten_hw_desc, topk_seed, 0xf8)			\
	X(struct spatten_hw_desc, rsvd4, 0xfc)				\
	S(struct spatten_hw_cqe, SPATTEN_CQE_SIZE)			\
	S(struct spatten_hw_cqe, 64)					\
	X(struct spatten_hw_cqe, bytes_q, 0x00)				\
	X(struct spatten_hw_cqe, bytes_k_msb, 0x08)			\
	X(struct spatten_hw_cqe, bytes_k_lsb, 0x10)			\
	X(struct spatten_hw_cqe, bytes_v, 0x18)				\
	X(struct spatten_hw_cqe, bytes_written, 0x20)			\
	X(struct spatten_hw_cqe, cycles, 0x28)				\
	X(struct spatten_hw_cqe, lsb_refetches, 0x30)			\
	X(struct spatten_hw_cqe, tag, 0x34)				\
	X(struct spatten_hw_cqe, sq_head, 0x38)				\
	X(struct spatten_hw_cqe, sq_id, 0x3a)				\
	X(struct spatten_hw_cqe, status, 0x3c)				\
	X(struct spatten_hw_cqe, flags, 0x3e)				\
	S(struct spatten_info, 96)					\
	X(struct spatten_info, api_version, 0)				\
	X(struct spatten_info, hw_version, 4)				\
	X(struct spatten_info, vendor_id, 8)				\
	X(struct spatten_info, device_id, 10)				\
	X(struct spatten_info, num_engines, 12)				\
	X(struct spatten_info, num_queues, 16)				\
	X(struct spatten_info, queue_depth, 20)				\
	X(struct spatten_info, max_context, 24)				\
	X(struct spatten_info, max_heads, 28)				\
	X(struct spatten_info, head_dims, 32)				\
	X(struct spatten_info, formats, 36)				\
	X(struct spatten_info, splits, 40)				\
	X(struct spatten_info, features, 44)				\
	X(struct spatten_info, dma_bits, 48)				\
	X(struct spatten_info, rsvd0, 52)				\
	X(struct spatten_info, max_bo_size, 56)				\
	X(struct spatten_info, rsvd, 64)				\
	S(struct spatten_bo_create, 32)					\
	X(struct spatten_bo_create, size, 0)				\
	X(struct spatten_bo_create, flags, 8)				\
	X(struct spatten_bo_create, handle, 12)				\
	X(struct spatten_bo_create, mmap_offset, 16)			\
	X(struct spatten_bo_create, rsvd, 24)				\
	S(struct spatten_bo_destroy, 8)					\
	X(struct spatten_bo_destroy, handle, 0)				\
	X(struct spatten_bo_destroy, flags, 4)				\
	S(struct spatten_tensor, 16)					\
	X(struct spatten_tensor, handle, 0)				\
	X(struct spatten_tensor, flags, 4)				\
	X(struct spatten_tensor, offset, 8)				\
	S(struct spatten_bo_import, 32)					\
	X(struct spatten_bo_import, user_ptr, 0)			\
	X(struct spatten_bo_import, size, 8)				\
	X(struct spatten_bo_import, flags, 16)				\
	X(struct spatten_bo_import, handle, 20)				\
	X(struct spatten_bo_import, rsvd, 24)				\
	S(struct spatten_job, 288)					\
	X(struct spatten_job, opcode, 0)				\
	X(struct spatten_job, stage, 2)					\
	X(struct spatten_job, version, 3)				\
	X(struct spatten_job, flags, 4)					\
	X(struct spatten_job, n_heads, 8)				\
	X(struct spatten_job, head_dim, 10)				\
	X(struct spatten_job, q_rows, 12)				\
	X(struct spatten_job, kv_rows, 14)				\
	X(struct spatten_job, q_start, 16)				\
	X(struct spatten_job, rsvd0, 18)				\
	X(struct spatten_job, q_fmt, 20)				\
	X(struct spatten_job, q_frac, 21)				\
	X(struct spatten_job, k_fmt, 22)				\
	X(struct spatten_job, k_frac, 23)				\
	X(struct spatten_job, v_fmt, 24)				\
	X(struct spatten_job, v_frac, 25)				\
	X(struct spatten_job, out_fmt, 26)				\
	X(struct spatten_job, out_frac, 27)				\
	X(struct spatten_job, rsvd1, 28)				\
	X(struct spatten_job, q, 32)					\
	X(struct spatten_job, k, 48)					\
	X(struct spatten_job, v, 64)					\
	X(struct spatten_job, out, 80)					\
	X(struct spatten_job, k_lsb, 96)				\
	X(struct spatten_job, tok_imp, 112)				\
	X(struct spatten_job, tok_alive, 128)				\
	X(struct spatten_job, tok_kept, 144)				\
	X(struct spatten_job, pinned, 160)				\
	X(struct spatten_job, head_imp, 176)				\
	X(struct spatten_job, head_alive, 192)				\
	X(struct spatten_job, head_kept, 208)				\
	X(struct spatten_job, n_tok_alive, 224)				\
	X(struct spatten_job, token_keep, 226)				\
	X(struct spatten_job, n_pinned, 228)				\
	X(struct spatten_job, n_head_alive, 230)			\
	X(struct spatten_job, head_keep, 232)				\
	X(struct spatten_job, value_keep, 234)				\
	X(struct spatten_job, lsb_threshold, 236)			\
	X(struct spatten_job, rsvd2, 238)				\
	X(struct spatten_job, topk_seed, 240)				\
	X(struct spatten_job, rsvd3, 244)				\
	X(struct spatten_job, user_data, 248)				\
	X(struct spatten_job, rsvd, 256)				\
	S(struct spatten_submit, 32)					\
	X(struct spatten_submit, jobs_ptr, 0)				\
	X(struct spatten_submit, count, 8)				\
	X(struct spatten_submit, flags, 12)				\
	X(struct spatten_submit, seqno, 16)				\
	X(struct spatten_submit, submitted, 24)				\
	X(struct spatten_submit, rsvd, 28)				\
	S(struct spatten_wait, 96)					\
	X(struct spatten_wait, seqno, 0)				\
	X(struct spatten_wait, timeout_ns, 8)				\
	X(struct spatten_wait, flags, 16)				\
	X(struct spatten_wait, status, 20)				\
	X(struct spatten_wait, user_data, 24)				\
	X(struct spatten_wait, bytes_q, 32)				\
	X(struct spatten_wait, bytes_k_msb, 40)				\
	X(struct spatten_wait, bytes_k_lsb, 48)				\
	X(struct spatten_wait, bytes_v, 56)				\
	X(struct spatten_wait, bytes_written, 64)			\
	X(struct spatten_wait, cycles, 72)				\
	X(struct spatten_wait, lsb_refetches, 80)			\
	X(struct spatten_wait, rsvd0, 84)				\
	X(struct spatten_wait, rsvd, 88)				\
	S(struct spatten_counters, 128)					\
	X(struct spatten_counters, flags, 0)				\
	X(struct spatten_counters, num, 4)				\
	X(struct spatten_counters, value, 8)

/* I(name, full ioctl number, argument size) */
#define IOCTLS(I)							\
	I(SPATTEN_IOCTL_INFO, 0x8060b500u, 96)				\
	I(SPATTEN_IOCTL_BO_CREATE, 0xc020b501u, 32)			\
	I(SPATTEN_IOCTL_BO_DESTROY, 0x4008b502u, 8)			\
	I(SPATTEN_IOCTL_SUBMIT, 0xc020b503u, 32)			\
	I(SPATTEN_IOCTL_WAIT, 0xc060b504u, 96)				\
	I(SPATTEN_IOCTL_COUNTERS, 0xc080b505u, 128)			\
	I(SPATTEN_IOCTL_BO_IMPORT, 0xc020b506u, 32)

#ifdef LAYOUT_STATIC_ONLY

#define STATIC_FIELD(t, f, o) \
	_Static_assert(offsetof(t, f) == (o), #t "." #f " offset");
#define STATIC_SIZE(t, s) _Static_assert(sizeof(t) == (s), #t " size");
#define STATIC_IOCTL(n, v, s)						\
	_Static_assert(_IOC_SIZE(n) == (s), #n " size");		\
	_Static_assert((n) == (v), #n " number");

LAYOUT(STATIC_FIELD, STATIC_SIZE)
IOCTLS(STATIC_IOCTL)

#else /* TAP test */

#include "tap.h"

#define CHECK_FIELD(t, f, o)						\
	ok(offsetof(t, f) == (o), "offsetof(%s, %s) == %d (got %zu)",	\
	   #t, #f, (int)(o), offsetof(t, f));
#define CHECK_SIZE(t, s)						\
	ok(sizeof(t) == (s), "sizeof(%s) == %d (got %zu)", #t, (int)(s), \
	   sizeof(t));
#define CHECK_IOCTL(n, v, s)						\
	ok(_IOC_SIZE(n) == (s) && (unsigned int)(n) == (v),		\
	   "%s: _IOC_SIZE %d, number 0x%08x (got %u, 0x%08x)", #n,	\
	   (int)(s), (unsigned int)(v), (unsigned int)_IOC_SIZE(n),	\
	   (unsigned int)(n));

static void test_struct_layouts(void)
{
	LAYOUT(CHECK_FIELD, CHECK_SIZE)
}

static void test_ioctl_numbers(void)
{
	IOCTLS(CHECK_IOCTL)
}

static void test_array_lengths(void)
{
	struct spatten_counters c;
	struct spatten_job j;

	ok(sizeof(j.rsvd) / sizeof(j.rsvd[0]) == 4,
	   "spatten_job.rsvd has 4 words");
	ok(sizeof(c.value) / sizeof(c.value[0]) >= SPATTEN_CNT_NUM,
	   "spatten_counters.value holds all SPATTEN_CNT_NUM counters");
}

int main(void)
{
	test_struct_layouts();
	test_ioctl_numbers();
	test_array_lengths();
	return done_testing();
}

#endif /* LAYOUT_STATIC_ONLY */
