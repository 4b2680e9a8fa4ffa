// SPDX-License-Identifier: MIT
/*
 * SpAtten engine: choice of the inner-loop implementation.
 *
 * Chosen once per process, on the first spe_kernels_get(): the environment
 * variable SPATTEN_KERNELS (or SPE_KERNELS) may name one of "generic",
 * "sse4.1", "avx2", "avx512"; a name this build or CPU cannot run falls back
 * to generic. Otherwise the most capable implementation the CPU supports
 * (__builtin_cpu_supports, which also checks that the OS saves the AVX
 * state): "avx512" needs AVX-512 F, BW, DQ, VL and VNNI; "avx2" AVX2;
 * "sse4.1" SSE4.1. All implementations give identical bits, so the choice
 * only changes speed.
 */
#include <stdlib.h>
#include <string.h>

#include "spe_kernels.h"
#include "spe_kernels_impl.h"

/*
 * An implementation with the CPU features it needs, best first. Feature
 * tests are constant strings, as __builtin_cpu_supports() requires.
 */
static int spe_kernels_supported(const struct spe_kernels *k)
{
#ifdef SPE_KERNELS_X86
	__builtin_cpu_init();	/* idempotent; needed before constructors */
	if (k == &spe_kernels_avx512)
		return __builtin_cpu_supports("avx512f") &&
		       __builtin_cpu_supports("avx512bw") &&
		       __builtin_cpu_supports("avx512dq") &&
		       __builtin_cpu_supports("avx512vl") &&
		       __builtin_cpu_supports("avx512vnni") &&
		       __builtin_cpu_supports("avx2") &&
		       __builtin_cpu_supports("bmi2") &&
		       __builtin_cpu_supports("popcnt");
	if (k == &spe_kernels_avx2)
		return __builtin_cpu_supports("avx2");
	if (k == &spe_kernels_sse41)
		return __builtin_cpu_supports("sse4.1");
#endif
	return k == &spe_kernels_generic;
}

#if defined(__x86_64__)
/* The CPU runs spe_kernels_avx512vbmi.c (checked once). */
int spe_kernels_have_vbmi(void)
{
	static int vbmi = -1;
	int v = __atomic_load_n(&vbmi, __ATOMIC_RELAXED);

	if (v < 0) {
		__builtin_cpu_init();
		v = __builtin_cpu_supports("avx512vbmi") &&
		    __builtin_cpu_supports("avx512f") &&
		    __builtin_cpu_supports("avx512bw") &&
		    __builtin_cpu_supports("avx512dq") &&
		    __builtin_cpu_supports("avx512vl") &&
		    __builtin_cpu_supports("avx512vnni") &&
		    __builtin_cpu_supports("avx2") &&
		    __builtin_cpu_supports("bmi2");
		__atomic_store_n(&vbmi, v, __ATOMIC_RELAXED);
	}
	return v;
}

/*
 * unpack and qk_packed of the x86 tables: VBMI where the CPU has it (Ice
 * Lake and later, Zen 4), else the portable loops. The tables' other
 * kernels need less (AVX-512 F/BW/DQ/VL/VNNI, AVX2, SSE4.1), so the choice
 * is made here, compiled for the baseline, whichever table runs (a table
 * forced by SPATTEN_KERNELS too: the bits are the same either way).
 */
void spe_unpack_x86(const uint8_t *src, uint32_t bits, int is_unsigned,
		    size_t n, unsigned int shift, int16_t add,
		    const int16_t *base, int16_t *dst)
{
	if (spe_kernels_have_vbmi())
		spe_unpack_avx512vbmi(src, bits, is_unsigned, n, shift, add,
				      base, dst);
	else
		spe_unpack_generic(src, bits, is_unsigned, n, shift, add,
				   base, dst);
}

void spe_qk_packed_x86(const int16_t *q, const uint8_t *k,
		       const uint32_t *idx, uint32_t n, uint32_t bits,
		       uint32_t d, int64_t *acc)
{
	if (spe_kernels_have_vbmi())
		spe_qk_packed_avx512vbmi(q, k, idx, n, bits, d, acc);
	else
		spe_qk_packed_generic(q, k, idx, n, bits, d, acc);
}
#endif

static const struct spe_kernels *const spe_kernels_all[] = {
#ifdef SPE_KERNELS_X86
	&spe_kernels_avx512,
	&spe_kernels_avx2,
	&spe_kernels_sse41,
#endif
	&spe_kernels_generic,
};

#define SPE_KERNELS_N	(sizeof(spe_kernels_all) / sizeof(spe_kernels_all[0]))

unsigned int spe_kernels_available(const struct spe_kernels **list,
				   unsigned int max)
{
	unsigned int n = 0, i;

	/* Generic first, then the SIMD ones from the least capable up. */
	for (i = SPE_KERNELS_N; i-- > 0;)
		if (n < max && spe_kernels_supported(spe_kernels_all[i]))
			list[n++] = spe_kernels_all[i];
	return n;
}

const struct spe_kernels *spe_kernels_by_name(const char *name)
{
	unsigned int i;

	for (i = 0; i < SPE_KERNELS_N; i++)
		if (!strcmp(spe_kernels_all[i]->name, name))
			return spe_kernels_supported(spe_kernels_all[i]) ?
			       spe_kernels_all[i] : NULL;
	return NULL;
}

static const struct spe_kernels *spe_kernels_choose(void)
{
	const char *want = getenv("SPATTEN_KERNELS");
	unsigned int i;

	if (!want || !*want)
		want = getenv("SPE_KERNELS");
	if (want && *want) {
		const struct spe_kernels *k = spe_kernels_by_name(want);

		return k ? k : &spe_kernels_generic;
	}

	for (i = 0; i < SPE_KERNELS_N; i++)
		if (spe_kernels_supported(spe_kernels_all[i]))
			return spe_kernels_all[i];
	return &spe_kernels_generic;
}

/*
 * Lock-free once: every racing first caller computes the same answer (the
 * environment and the CPU do not change), so whichever store lands first
 * is as good as any; no pthread dependency for the QEMU or kernel-free
 * builds.
 */
const struct spe_kernels *spe_kernels_get(void)
{
	static const struct spe_kernels *chosen;
	const struct spe_kernels *k;

	k = __atomic_load_n(&chosen, __ATOMIC_ACQUIRE);
	if (k)
		return k;
	k = spe_kernels_choose();
	__atomic_store_n(&chosen, k, __ATOMIC_RELEASE);
	return k;
}
