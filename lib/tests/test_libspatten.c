// SPDX-License-Identifier: MIT
/*
 * Host unit tests of libspatten that need no device: fixed point, the job
 * builder and argument checking. Prints TAP; exits 1 if any check failed.
 *
 * White box where it must be: the builder needs buffer objects, so the
 * tests fabricate them from the private layouts (spatten_private.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "spatten_private.h"

static int n_tests, n_failed;
static int cur_failed;

static void check_(int ok, const char *expr, const char *file, int line)
{
	if (ok)
		return;
	cur_failed = 1;
	printf("# %s:%d: check failed: %s\n", file, line, expr);
}

#define CHECK(expr) check_(!!(expr), #expr, __FILE__, __LINE__)
#define CHECK_EQ(a, b) do { \
	long long a_ = (long long)(a), b_ = (long long)(b); \
	if (a_ != b_) \
		printf("#   %s = %lld, %s = %lld\n", #a, a_, #b, b_); \
	check_(a_ == b_, #a " == " #b, __FILE__, __LINE__); \
} while (0)

static void run_test(void (*fn)(void), const char *name)
{
	cur_failed = 0;
	fn();
	n_tests++;
	if (cur_failed)
		n_failed++;
	printf("%sok %d - %s\n", cur_failed ? "not " : "", n_tests, name);
}

#define RUN(fn) run_test(fn, #fn)

/* ---- fixed point -------------------------------------------------------- */

static void float_to_s16_rounds_to_nearest(void)
{
	CHECK_EQ(spatten_float_to_s16(1.0f, 8), 256);
	CHECK_EQ(spatten_float_to_s16(-1.0f, 8), -256);
	CHECK_EQ(spatten_float_to_s16(0.0f, 15), 0);
	CHECK_EQ(spatten_float_to_s16(2.4999f, 0), 2);
	CHECK_EQ(spatten_float_to_s16(2.5f, 0), 3);
	CHECK_EQ(spatten_float_to_s16(-2.5f, 0), -3);
	CHECK_EQ(spatten_float_to_s16(-2.4999f, 0), -2);
	CHECK_EQ(spatten_float_to_s16(0.49999997f, 0), 0);
	CHECK_EQ(spatten_float_to_s16(1.0f / 512, 8), 1);	/* half an LSB */
	CHECK_EQ(spatten_float_to_s16(-1.0f / 512, 8), -1);
	CHECK_EQ(spatten_float_to_s16(1e-30f, 15), 0);
}

static void float_to_s16_saturates(void)
{
	CHECK_EQ(spatten_float_to_s16(1000.0f, 8), 32767);
	CHECK_EQ(spatten_float_to_s16(-1000.0f, 8), -32768);
	CHECK_EQ(spatten_float_to_s16(1.0f, 15), 32767);
	CHECK_EQ(spatten_float_to_s16(-1.0f, 15), -32768);
	CHECK_EQ(spatten_float_to_s16(32767.4f, 0), 32767);
	CHECK_EQ(spatten_float_to_s16(32767.5f, 0), 32767);
	CHECK_EQ(spatten_float_to_s16(-32768.0f, 0), -32768);
	CHECK_EQ(spatten_float_to_s16(-32768.4f, 0), -32768);
	CHECK_EQ(spatten_float_to_s16(-32768.5f, 0), -32768);
	CHECK_EQ(spatten_float_to_s16(-32769.0f, 0), -32768);
	CHECK_EQ(spatten_float_to_s16(INFINITY, 4), 32767);
	CHECK_EQ(spatten_float_to_s16(-INFINITY, 4), -32768);
	CHECK_EQ(spatten_float_to_s16(NAN, 4), 0);
}

static void frac_above_15_is_clamped(void)
{
	CHECK_EQ(spatten_float_to_s16(0.5f, 20), 16384);
	CHECK(spatten_s16_to_float(16384, 99) == 0.5f);
}

static void s16_round_trip_is_exact(void)
{
	unsigned int frac;
	int v, bad = 0;

	for (frac = 0; frac <= 15; frac++) {
		for (v = -32768; v <= 32767; v++) {
			float f = spatten_s16_to_float((int16_t)v, frac);

			if (spatten_float_to_s16(f, frac) != v ||
			    f != (float)ldexp(v, -(int)frac))
				bad++;
		}
	}
	CHECK_EQ(bad, 0);
}

static void quantize_array_is_little_endian(void)
{
	const float src[4] = { 1.0f, -1.0f, 0.25f, 3.0f };
	unsigned char dst[8];

	memset(dst, 0xaa, sizeof(dst));
	CHECK_EQ(spatten_quantize_s16(dst, src, 4, 12), 0);
	CHECK_EQ(dst[0], 0x00);		/* 4096 = 0x1000 */
	CHECK_EQ(dst[1], 0x10);
	CHECK_EQ(dst[2], 0x00);		/* -4096 = 0xf000 */
	CHECK_EQ(dst[3], 0xf0);
	CHECK_EQ(dst[4], 0x00);		/* 1024 = 0x0400 */
	CHECK_EQ(dst[5], 0x04);
	CHECK_EQ(dst[6], 0x00);		/* 12288 = 0x3000 */
	CHECK_EQ(dst[7], 0x30);
}

static void quantize_array_counts_saturation(void)
{
	const float src[5] = { 0.0f, 8.0f, -8.0f, 7.9f, -9.0f };
	int16_t dst[5];

	/* frac 12: 8.0 and -9.0 saturate; -8.0 is exactly -32768. */
	CHECK_EQ(spatten_quantize_s16(dst, src, 5, 12), 2);
	CHECK_EQ(dst[1], 32767);
	CHECK_EQ(dst[2], -32768);
	CHECK_EQ(dst[4], -32768);
	CHECK_EQ(spatten_quantize_s16(dst, src, 5, 13), 4);
	CHECK_EQ(spatten_quantize_s16(dst, src, 5, 11), 0);
}

static void quantize_array_rejects_bad_args(void)
{
	float f = 1.0f;
	int16_t d;

	CHECK_EQ(spatten_quantize_s16(&d, &f, 1, 16), -EINVAL);
	CHECK_EQ(spatten_quantize_s16(NULL, &f, 1, 4), -EINVAL);
	CHECK_EQ(spatten_quantize_s16(&d, NULL, 1, 4), -EINVAL);
	CHECK_EQ(spatten_quantize_s16(NULL, NULL, 0, 4), 0);
	CHECK_EQ(spatten_dequantize_s16(&f, &d, 1, 16), -EINVAL);
	CHECK_EQ(spatten_dequantize_s16(NULL, &d, 1, 4), -EINVAL);
	CHECK_EQ(spatten_dequantize_s16(&f, NULL, 1, 4), -EINVAL);
	CHECK_EQ(spatten_dequantize_s16(NULL, NULL, 0, 4), 0);
}

static void dequantize_array_inverts_quantize(void)
{
	float src[64], back[64];
	int16_t q[64];
	int i;

	for (i = 0; i < 64; i++)
		src[i] = (float)(i - 32) / 7.0f;
	CHECK_EQ(spatten_quantize_s16(q, src, 64, 10), 0);
	CHECK_EQ(spatten_dequantize_s16(back, q, 64, 10), 0);
	for (i = 0; i < 64; i++)
		CHECK(fabsf(back[i] - src[i]) <= 0.5f / 1024 + 1e-7f);
}

static void frac_for_range_picks_most_bits(void)
{
	CHECK_EQ(spatten_frac_for_range(0.0f), 15);
	CHECK_EQ(spatten_frac_for_range(0.99f), 15);
	CHECK_EQ(spatten_frac_for_range(1.0f), 14);
	CHECK_EQ(spatten_frac_for_range(3.9f), 13);
	CHECK_EQ(spatten_frac_for_range(4.0f), 12);
	CHECK_EQ(spatten_frac_for_range(32767.0f), 0);
	CHECK_EQ(spatten_frac_for_range(32767.4f), 0);
}

static void frac_for_range_errors(void)
{
	CHECK_EQ(spatten_frac_for_range(32767.5f), -ERANGE);
	CHECK_EQ(spatten_frac_for_range(INFINITY), -ERANGE);
	CHECK_EQ(spatten_frac_for_range(-1.0f), -EINVAL);
	CHECK_EQ(spatten_frac_for_range(NAN), -EINVAL);
}

static void frac_for_range_never_saturates(void)
{
	unsigned int seed = 12345;
	int i, bad = 0;

	for (i = 0; i < 20000; i++) {
		float m, x[2];
		int16_t d[2];
		int f;

		seed = seed * 1103515245u + 12345u;
		m = ldexpf((float)(seed >> 8) / (float)(1u << 24),
			   (int)(seed % 20) - 4);
		f = spatten_frac_for_range(m);
		if (f < 0) {
			if (m < 32767.5f)
				bad++;
			continue;
		}
		x[0] = m;
		x[1] = -m;
		if (spatten_quantize_s16(d, x, 2, (unsigned int)f) != 0)
			bad++;
		/* One more bit must saturate (unless already at 15). */
		if (f < 15 && spatten_quantize_s16(d, x, 1, (unsigned int)f + 1)
			      != 1)
			bad++;
	}
	CHECK_EQ(bad, 0);
}

static void max_abs_finds_magnitude(void)
{
	const float x[5] = { 1.0f, -7.5f, NAN, 3.0f, 0.0f };

	CHECK(spatten_max_abs(x, 5) == 7.5f);
	CHECK(spatten_max_abs(x, 0) == 0.0f);
	CHECK(spatten_max_abs(NULL, 5) == 0.0f);
}

/* ---- job builder --------------------------------------------------------- */

static struct spatten_dev fake_dev = { .fd = -1, .refs = 1 };
static struct spatten_dev other_dev = { .fd = -1, .refs = 1 };
static struct spatten_bo fake_bo = {
	.dev = &fake_dev, .size = 1 << 20, .map_size = 1 << 20, .handle = 7,
};
static struct spatten_bo foreign_bo = {
	.dev = &other_dev, .size = 1 << 20, .map_size = 1 << 20, .handle = 9,
};

static void valid_desc(struct spatten_attn_desc *d)
{
	spatten_attn_desc_init(d, &fake_bo, 4, 64, 16, 16);
	d->q_frac = 12;
	d->k_frac = 11;
	d->v_frac = 10;
	d->out_frac = 9;
	d->user_data = 0x1122334455667788ull;
}

static int rsvd_all_zero(const struct spatten_job *j)
{
	size_t i;

	if (j->rsvd0 || j->rsvd1 || j->q.flags || j->k.flags || j->v.flags ||
	    j->out.flags)
		return 0;
	for (i = 0; i < sizeof(j->rsvd) / sizeof(j->rsvd[0]); i++)
		if (j->rsvd[i])
			return 0;
	return 1;
}

static void tensor_bytes_matches_hw_formula(void)
{
	CHECK_EQ(spatten_tensor_bytes(12, 128, 64), 196608);
	CHECK_EQ(spatten_tensor_bytes(1, 1, 1), 2);
	CHECK_EQ(spatten_tensor_bytes(65535, 65535, 65535),
		 2ull * 65535 * 65535 * 65535);
}

static void desc_init_packs_tensors_aligned(void)
{
	struct spatten_attn_desc d;
	uint64_t qb = spatten_tensor_bytes(3, 5, 8);	/* 240 */
	uint64_t kb = spatten_tensor_bytes(3, 7, 8);	/* 336 */

	spatten_attn_desc_init(&d, &fake_bo, 3, 8, 5, 7);
	CHECK_EQ(d.n_heads, 3);
	CHECK_EQ(d.head_dim, 8);
	CHECK_EQ(d.q_rows, 5);
	CHECK_EQ(d.kv_rows, 7);
	CHECK_EQ(d.stage, SPATTEN_STAGE_SUMMARIZATION);
	CHECK_EQ(d.flags, 0);
	CHECK(d.q.bo == &fake_bo && d.k.bo == &fake_bo &&
	      d.v.bo == &fake_bo && d.out.bo == &fake_bo);
	CHECK_EQ(d.q.offset, 0);
	CHECK(d.k.offset >= qb && d.k.offset % 64 == 0);
	CHECK(d.v.offset >= d.k.offset + kb && d.v.offset % 64 == 0);
	CHECK(d.out.offset >= d.v.offset + kb && d.out.offset % 64 == 0);
	CHECK(spatten_attn_desc_bytes(3, 8, 5, 7) >= d.out.offset + qb);

	spatten_attn_desc_init(&d, NULL, 3, 8, 5, 7);
	CHECK(!d.q.bo && !d.out.bo && d.out.offset == 0);
}

static void attn_prep_fills_every_field(void)
{
	struct spatten_attn_desc d;
	struct spatten_job j;

	valid_desc(&d);
	memset(&j, 0x5a, sizeof(j));
	CHECK_EQ(spatten_attn_prep(&j, &d), 0);
	CHECK_EQ(j.opcode, SPATTEN_OP_ATTENTION);
	CHECK_EQ(j.stage, SPATTEN_STAGE_SUMMARIZATION);
	CHECK_EQ(j.version, SPATTEN_DESC_VERSION);
	CHECK_EQ(j.flags, 0);
	CHECK_EQ(j.n_heads, 4);
	CHECK_EQ(j.head_dim, 64);
	CHECK_EQ(j.q_rows, 16);
	CHECK_EQ(j.kv_rows, 16);
	CHECK_EQ(j.q_start, 0);
	CHECK_EQ(j.q_fmt, SPATTEN_FMT_S16);
	CHECK_EQ(j.k_fmt, SPATTEN_FMT_S16);
	CHECK_EQ(j.v_fmt, SPATTEN_FMT_S16);
	CHECK_EQ(j.out_fmt, SPATTEN_FMT_S16);
	CHECK_EQ(j.q_frac, 12);
	CHECK_EQ(j.k_frac, 11);
	CHECK_EQ(j.v_frac, 10);
	CHECK_EQ(j.out_frac, 9);
	CHECK_EQ(j.q.handle, 7);
	CHECK_EQ(j.k.handle, 7);
	CHECK_EQ(j.v.handle, 7);
	CHECK_EQ(j.out.handle, 7);
	CHECK_EQ(j.q.offset, d.q.offset);
	CHECK_EQ(j.k.offset, d.k.offset);
	CHECK_EQ(j.v.offset, d.v.offset);
	CHECK_EQ(j.out.offset, d.out.offset);
	CHECK(j.user_data == 0x1122334455667788ull);
	CHECK(rsvd_all_zero(&j));
}

static void attn_prep_causal_and_generation(void)
{
	struct spatten_attn_desc d;
	struct spatten_job j;

	valid_desc(&d);
	d.flags = SPATTEN_ATTN_CAUSAL;
	d.q_rows = 8;
	d.q_start = 8;
	CHECK_EQ(spatten_attn_prep(&j, &d), 0);
	CHECK_EQ(j.flags, SPATTEN_DESC_F_CAUSAL);
	CHECK_EQ(j.q_start, 8);
	CHECK_EQ(j.q_rows, 8);

	valid_desc(&d);
	d.stage = SPATTEN_STAGE_GENERATION;
	d.flags = SPATTEN_ATTN_CAUSAL;
	d.q_rows = 1;
	d.q_start = 15;
	CHECK_EQ(spatten_attn_prep(&j, &d), 0);
	CHECK_EQ(j.stage, SPATTEN_STAGE_GENERATION);
	CHECK_EQ(j.q_rows, 1);
	CHECK_EQ(j.q_start, 15);

	/* A one-key generation job is at position 0: causal or not. */
	valid_desc(&d);
	d.stage = SPATTEN_STAGE_GENERATION;
	d.q_rows = 1;
	d.kv_rows = 1;
	CHECK_EQ(spatten_attn_prep(&j, &d), 0);
	CHECK_EQ(j.flags, 0);
}

#define PREP_ERR(err, stmt) do { \
	struct spatten_attn_desc d_; \
	struct spatten_job j_; \
	valid_desc(&d_); \
	{ struct spatten_attn_desc *d = &d_; stmt; } \
	memset(&j_, 0x5a, sizeof(j_)); \
	CHECK_EQ(spatten_attn_prep(&j_, &d_), err); \
	CHECK_EQ(j_.opcode, 0); \
	CHECK_EQ(j_.version, 0); \
} while (0)

static void attn_prep_rejects_bad_shape(void)
{
	PREP_ERR(-EINVAL, d->n_heads = 0);
	PREP_ERR(-EINVAL, d->n_heads = 65536);
	PREP_ERR(-EINVAL, d->head_dim = 0);
	PREP_ERR(-EINVAL, d->head_dim = 48);
	PREP_ERR(-EINVAL, d->q_rows = 0);
	PREP_ERR(-EINVAL, d->kv_rows = 0);
	PREP_ERR(-EINVAL, d->kv_rows = 70000);
	PREP_ERR(-EINVAL, d->q_start = 70000);
}

static void attn_prep_rejects_bad_position(void)
{
	PREP_ERR(-EINVAL, d->flags = 2);
	PREP_ERR(-EINVAL, d->stage = 2);
	PREP_ERR(-EINVAL, d->q_start = 1);	/* non-causal, q_start != 0 */
	PREP_ERR(-EINVAL, (d->flags = SPATTEN_ATTN_CAUSAL, d->q_start = 1));
	PREP_ERR(-EINVAL, (d->stage = SPATTEN_STAGE_GENERATION,
			   d->q_start = 15));	/* q_rows 16 */
	PREP_ERR(-EINVAL, (d->stage = SPATTEN_STAGE_GENERATION,
			   d->q_rows = 1, d->q_start = 14,
			   d->flags = SPATTEN_ATTN_CAUSAL));
	/* Generation at position kv_rows - 1 needs the causal flag. */
	PREP_ERR(-EINVAL, (d->stage = SPATTEN_STAGE_GENERATION,
			   d->q_rows = 1, d->q_start = 15));
	PREP_ERR(-EINVAL, (d->flags = SPATTEN_ATTN_CAUSAL, d->q_rows = 16,
			   d->q_start = 1));
}

static void attn_prep_rejects_bad_frac(void)
{
	PREP_ERR(-EINVAL, d->q_frac = 16);
	PREP_ERR(-EINVAL, d->k_frac = 16);
	PREP_ERR(-EINVAL, d->v_frac = 16);
	PREP_ERR(-EINVAL, d->out_frac = 255);
}

static void attn_prep_rejects_bad_tensors(void)
{
	PREP_ERR(-EINVAL, d->q.bo = NULL);
	PREP_ERR(-EINVAL, d->out.bo = NULL);
	PREP_ERR(-EINVAL, d->k.offset += 1);
	PREP_ERR(-EINVAL, d->v.bo = &foreign_bo);
	PREP_ERR(-ERANGE, d->out.offset = fake_bo.size);
	PREP_ERR(-ERANGE, d->out.offset = fake_bo.size + 2);
	PREP_ERR(-ERANGE, d->v.offset = fake_bo.size - 2048 + 2);
	PREP_ERR(-ERANGE, d->q.offset = UINT64_MAX - 1);
}

static void attn_prep_accepts_tensor_ending_at_buffer_end(void)
{
	struct spatten_attn_desc d;
	struct spatten_job j;

	valid_desc(&d);
	d.out.offset = fake_bo.size - spatten_tensor_bytes(4, 16, 64);
	CHECK_EQ(spatten_attn_prep(&j, &d), 0);
}

static void prep_rejects_null(void)
{
	struct spatten_attn_desc d;
	struct spatten_job j;

	valid_desc(&d);
	CHECK_EQ(spatten_attn_prep(NULL, &d), -EINVAL);
	CHECK_EQ(spatten_attn_prep(&j, NULL), -EINVAL);
	spatten_nop_prep(NULL, 0);		/* must not crash */
	spatten_attn_desc_init(NULL, NULL, 1, 1, 1, 1);
}

static void nop_prep_is_minimal(void)
{
	struct spatten_job j;

	memset(&j, 0x5a, sizeof(j));
	spatten_nop_prep(&j, 42);
	CHECK_EQ(j.opcode, SPATTEN_OP_NOP);
	CHECK_EQ(j.version, SPATTEN_DESC_VERSION);
	CHECK_EQ(j.user_data, 42);
	CHECK_EQ(j.stage, 0);
	CHECK_EQ(j.flags, 0);
	CHECK_EQ(j.n_heads + j.head_dim + j.q_rows + j.kv_rows + j.q_start, 0);
	CHECK_EQ(j.q.handle + j.k.handle + j.v.handle + j.out.handle, 0);
	CHECK_EQ(j.q.offset + j.k.offset + j.v.offset + j.out.offset, 0);
	CHECK(rsvd_all_zero(&j));
}

/* ---- devices and argument checks ------------------------------------------ */

static void open_reports_errno(void)
{
	struct spatten_dev *dev = (struct spatten_dev *)&fake_dev;

	CHECK_EQ(spatten_open(NULL, NULL), -EINVAL);
	CHECK_EQ(spatten_open("/nonexistent/spatten", &dev), -ENOENT);
	CHECK(dev == NULL);
	dev = (struct spatten_dev *)&fake_dev;
	CHECK_EQ(spatten_open("/dev/null", &dev), -ENOTTY);
	CHECK(dev == NULL);
	CHECK_EQ(spatten_open_index(4000000000u, &dev), -ENOENT);
}

static void null_handles_are_rejected(void)
{
	struct spatten_info info;
	struct spatten_counters cnt;
	struct spatten_result res;
	struct spatten_bo *bo = &fake_bo;
	struct spatten_job j;

	spatten_nop_prep(&j, 0);
	CHECK_EQ(spatten_fd(NULL), -EINVAL);
	CHECK_EQ(spatten_get_info(NULL, &info), -EINVAL);
	CHECK_EQ(spatten_get_info(&fake_dev, NULL), -EINVAL);
	CHECK_EQ(spatten_get_counters(NULL, &cnt), -EINVAL);
	CHECK_EQ(spatten_get_counters(&fake_dev, NULL), -EINVAL);
	CHECK_EQ(spatten_bo_alloc(NULL, 4096, &bo), -EINVAL);
	CHECK(bo == NULL);
	CHECK_EQ(spatten_bo_alloc(&fake_dev, 4096, NULL), -EINVAL);
	CHECK_EQ(spatten_bo_alloc(&fake_dev, 0, &bo), -EINVAL);
	CHECK_EQ(spatten_submit(NULL, &j, 1, NULL), -EINVAL);
	CHECK_EQ(spatten_submit(&fake_dev, NULL, 1, NULL), -EINVAL);
	CHECK_EQ(spatten_submit(&fake_dev, &j, 0, NULL), -EINVAL);
	CHECK_EQ(spatten_wait(NULL, 1, 0, &res), -EINVAL);
	CHECK_EQ(spatten_wait_deadline(NULL, 1, 0, &res), -EINVAL);
	CHECK_EQ(spatten_run(NULL, &j, &res), -EINVAL);
	CHECK(spatten_bo_map(NULL) == NULL);
	CHECK_EQ(spatten_bo_size(NULL), 0);
	CHECK_EQ(spatten_bo_handle(NULL), 0);
	spatten_close(NULL);
	spatten_bo_free(NULL);
}

static void ioctl_errors_come_back_as_negative_errno(void)
{
	struct spatten_dev dev = { .refs = 1 };
	struct spatten_result res;
	struct spatten_job j;
	uint64_t seqno = 77;

	dev.fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	CHECK(dev.fd >= 0);
	spatten_nop_prep(&j, 0);
	CHECK_EQ(spatten_submit(&dev, &j, 1, &seqno), -ENOTTY);
	CHECK_EQ(seqno, 77);
	CHECK_EQ(spatten_wait(&dev, 1, 0, &res), -ENOTTY);
	CHECK_EQ(spatten_wait(&dev, 1, SPATTEN_WAIT_FOREVER, &res), -ENOTTY);
	CHECK_EQ(spatten_run(&dev, &j, &res), -ENOTTY);
	CHECK_EQ(spatten_fd(&dev), dev.fd);
	close(dev.fd);
	dev.fd = -1;
	CHECK_EQ(spatten_submit(&dev, &j, 1, &seqno), -EBADF);
}

static void status_strings(void)
{
	CHECK(strcmp(spatten_status_str(SPATTEN_HW_OK), "ok") == 0);
	CHECK(strcmp(spatten_status_str(SPATTEN_HW_ERR_SHAPE), "bad shape") == 0);
	CHECK(strcmp(spatten_status_str(SPATTEN_HW_STATUS_MAX + 1),
		     "unknown status") == 0);
	CHECK(strcmp(spatten_status_str(~0u), "unknown status") == 0);
}

static void now_ns_is_monotonic(void)
{
	int64_t a = spatten_now_ns(), b = spatten_now_ns();

	CHECK(a > 0);
	CHECK(b >= a);
}

int main(void)
{
	RUN(float_to_s16_rounds_to_nearest);
	RUN(float_to_s16_saturates);
	RUN(frac_above_15_is_clamped);
	RUN(s16_round_trip_is_exact);
	RUN(quantize_array_is_little_endian);
	RUN(quantize_array_counts_saturation);
	RUN(quantize_array_rejects_bad_args);
	RUN(dequantize_array_inverts_quantize);
	RUN(frac_for_range_picks_most_bits);
	RUN(frac_for_range_errors);
	RUN(frac_for_range_never_saturates);
	RUN(max_abs_finds_magnitude);
	RUN(tensor_bytes_matches_hw_formula);
	RUN(desc_init_packs_tensors_aligned);
	RUN(attn_prep_fills_every_field);
	RUN(attn_prep_causal_and_generation);
	RUN(attn_prep_rejects_bad_shape);
	RUN(attn_prep_rejects_bad_position);
	RUN(attn_prep_rejects_bad_frac);
	RUN(attn_prep_rejects_bad_tensors);
	RUN(attn_prep_accepts_tensor_ending_at_buffer_end);
	RUN(prep_rejects_null);
	RUN(nop_prep_is_minimal);
	RUN(open_reports_errno);
	RUN(null_handles_are_rejected);
	RUN(ioctl_errors_come_back_as_negative_errno);
	RUN(status_strings);
	RUN(now_ns_is_monotonic);
	printf("1..%d\n", n_tests);
	if (n_failed)
		printf("# %d of %d failed\n", n_failed, n_tests);
	return n_failed ? 1 : 0;
}
