// SPDX-License-Identifier: MIT
/*
 * SpAtten engine: packed element formats (S4..S12, and the U4 LSB plane of
 * progressive keys) and the MSB/LSB split of a key.
 *
 * A packed row is a little-endian bit stream: element e occupies bits
 * [e*n, e*n + n) of the row, bit b of the stream being bit (b % 8) of byte
 * b / 8. head_dim is a multiple of 8, so every row is whole bytes.
 */
#include <string.h>

#include "spe.h"
#include "spatten_hw.h"
#include "spe_internal.h"

/* Sign-extend the low @bits bits of @u. */
static int16_t spe_sext(uint32_t u, uint32_t bits)
{
	uint32_t m = 1u << (bits - 1);

	return (int16_t)((int32_t)((u & ((m << 1) - 1)) ^ m) - (int32_t)m);
}

void spe_unpack_row(const uint8_t *src, uint32_t bits, int is_unsigned,
		    uint32_t d, int16_t *dst)
{
	uint32_t mask = (1u << bits) - 1, e;
	uint64_t acc = 0;	/* bit reservoir, LSB first */
	uint32_t have = 0;	/* valid bits in acc */
	size_t pos = 0;

	if (bits == 8) {
		for (e = 0; e < d; e++)
			dst[e] = is_unsigned ? (int16_t)src[e] :
					       spe_sext(src[e], 8);
		return;
	}
	for (e = 0; e < d; e++) {
		uint32_t u;

		while (have < bits) {
			acc |= (uint64_t)src[pos++] << have;
			have += 8;
		}
		u = (uint32_t)acc & mask;
		acc >>= bits;
		have -= bits;
		dst[e] = is_unsigned ? (int16_t)u : spe_sext(u, bits);
	}
}

void spe_pack_row(const int16_t *src, uint32_t bits, uint32_t d,
		  uint8_t *dst)
{
	uint32_t mask = (1u << bits) - 1, e;
	uint64_t acc = 0;
	uint32_t have = 0;
	size_t pos = 0;

	for (e = 0; e < d; e++) {
		acc |= (uint64_t)((uint32_t)(uint16_t)src[e] & mask) << have;
		have += bits;
		while (have >= 8) {
			dst[pos++] = (uint8_t)acc;
			acc >>= 8;
			have -= 8;
		}
	}
	if (have)	/* d * bits is a multiple of 8 for valid shapes */
		dst[pos] = (uint8_t)acc;
}

/* full = msb * 16 + lsb, lsb in 0..15: msb = floor(full / 16). */
void spe_split_key(int32_t full, int16_t *msb, uint8_t *lsb)
{
	int32_t m = full >= 0 ? full / 16 : -((15 - full) / 16);

	*msb = (int16_t)m;
	*lsb = (uint8_t)(full - m * 16);
}

int16_t spe_merge_key(int16_t msb, uint8_t lsb)
{
	return (int16_t)(msb * 16 + (lsb & 15));
}
