// SPDX-License-Identifier: GPL-2.0
/*
 * SpAtten driver: the tracepoints' definitions (spatten_trace.h).
 */
#ifndef __CHECKER__
#define CREATE_TRACE_POINTS
#include "spatten_trace.h"
#endif
