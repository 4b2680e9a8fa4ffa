// SPDX-License-Identifier: MIT
/*
 * Packed Sn rows and the progressive MSB/LSB split: the engine's unpacker
 * against a bit-by-bit packer written here, round trips for every format,
 * and split/merge exhaustively for every split.
 */
#include <string.h>

#include "spe_internal.h"
#include "testutil.h"
#include "tap.h"

/* Element e in bits [e*n, e*n + n), bit b of the stream in byte b / 8. */
static void ref_pack(const int16_t *v, uint32_t n, uint32_t d, uint8_t *out)
{
	uint32_t e, b;

	memset(out, 0, d * n / 8);
	for (e = 0; e < d; e++)
		for (b = 0; b < n; b++)
			if ((uint16_t)v[e] >> b & 1)
				out[(e * n + b) / 8] |= 1u << ((e * n + b) % 8);
}

static void test_formats(void)
{
	static const uint8_t fmts[] = {
		SPATTEN_FMT_S4, SPATTEN_FMT_S6, SPATTEN_FMT_S8,
		SPATTEN_FMT_S10, SPATTEN_FMT_S12,
	};
	static const uint32_t dims[] = { 16, 32, 64, 128, 256 };
	uint64_t s = 7;
	size_t f, di;

	for (f = 0; f < sizeof(fmts); f++) {
		uint32_t n = spatten_hw_fmt_bits(fmts[f]);
		int32_t max = (1 << (n - 1)) - 1;
		int good = 1;

		for (di = 0; di < 5; di++) {
			uint32_t d = dims[di], rep, e;

			for (rep = 0; rep < 20; rep++) {
				int16_t v[256], back[256];
				uint8_t mine[512], ref[512];

				for (e = 0; e < d; e++)
					v[e] = (int16_t)(rep == 0 ? -max - 1 :
							 rep == 1 ? max :
							 prng_range(&s, max));
				ref_pack(v, n, d, ref);
				spe_pack_row(v, n, d, mine);
				spe_unpack_row(ref, n, 0, d, back);
				good &= !memcmp(mine, ref, d * n / 8) &&
					!memcmp(back, v, d * 2);
			}
		}
		ok(good, "S%u: pack matches the bit-by-bit reference and "
		   "unpack round-trips (D 16..256, extremes included)", n);
	}
}

static void test_u4(void)
{
	int16_t v[64], back[64];
	uint8_t p[32];
	uint32_t e;
	int good = 1, rep;

	for (rep = 0; rep < 16; rep++) {
		for (e = 0; e < 64; e++)
			v[e] = (int16_t)((e + rep) & 15);
		ref_pack(v, 4, 64, p);
		spe_unpack_row(p, 4, 1, 64, back);
		good &= !memcmp(v, back, sizeof(v));
	}
	ok(good, "U4 LSB plane unpacks unsigned 0..15");
}

static void test_split_merge(void)
{
	static const uint32_t splits[] = { 4, 6, 8, 10, 12 };
	size_t i;

	for (i = 0; i < 5; i++) {
		uint32_t n = splits[i];
		int32_t lo = -(1 << (n + 3)), hi = (1 << (n + 3)) - 1, full;
		int good = 1;

		for (full = lo; full <= hi; full++) {
			int16_t msb;
			uint8_t lsb;

			spe_split_key(full, &msb, &lsb);
			good &= lsb < 16 && msb >= -(1 << (n - 1)) &&
				msb < (1 << (n - 1)) &&
				spe_merge_key(msb, lsb) == full &&
				msb * 16 + lsb == full;
		}
		ok(good, "split %u+4: every %u-bit key splits into an S%u MSB "
		   "and a U4 LSB and merges back exactly", n, n + 4, n);
	}
}

int main(void)
{
	test_formats();
	test_u4();
	test_split_merge();
	return done_testing();
}
