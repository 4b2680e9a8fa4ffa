# SPDX-License-Identifier: MIT
#
# The driver's in-guest kselftest binary. Included from the top-level
# Makefile right after lib/lib.mk (which defines SPATTEN_OUT, GUEST_CC,
# GUEST_CFLAGS and the guest-bins target this adds a prerequisite to).
#
#   $(SPATTEN_OUT)/guest/bin/spatten_driver_test   static, baseline x86-64,
#   built against include/ (UAPI and hardware headers) and the kselftest
#   harness in KSFT_DIR (GPL-2.0, never committed). No library.

SPATTEN_OUT ?= build
GUEST_CC ?= gcc
GUEST_CFLAGS ?= -O2 -static -march=x86-64 -mtune=generic

DRV_GUEST_TEST := $(SPATTEN_OUT)/guest/bin/spatten_driver_test
DRV_GUEST_CFLAGS = $(GUEST_CFLAGS) -std=gnu11 -D_GNU_SOURCE -Wall -Wextra \
	-Wshadow -Wformat=2 -Wno-unused-parameter -Wno-sign-compare \
	-Iinclude -I$(KSFT_DIR)

$(DRV_GUEST_TEST): tests/guest/spatten_driver_test.c include/uapi/spatten.h \
		   include/spatten_hw.h
	@test -f $(KSFT_DIR)/kselftest_harness.h || \
		{ echo "kselftest_harness.h not found in KSFT_DIR=$(KSFT_DIR)" >&2; exit 1; }
	@mkdir -p $(@D)
	$(GUEST_CC) $(DRV_GUEST_CFLAGS) -o $@ $<

guest-bins: $(DRV_GUEST_TEST)
