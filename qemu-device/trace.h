/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Trace events of the SpAtten device: generated from trace-events. */
#include "trace/trace-hw_misc_spatten.h"
