// SPDX-License-Identifier: MIT
/*
 * SpAtten engine: choice of the inner-loop implementation.
 */
#include "spe_kernels.h"

const struct spe_kernels *spe_kernels_get(void)
{
	return &spe_kernels_generic;
}
