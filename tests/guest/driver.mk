# SPDX-License-Identifier: MIT
#
# The driver's in-guest test binaries and the UAPI header check. Included
# from the top-level Makefile right after lib/lib.mk (which defines
# SPATTEN_OUT, GUEST_CC, GUEST_CFLAGS and the guest-bins target this adds
# prerequisites to).
#
#   $(SPATTEN_OUT)/guest/bin/spatten_driver_test   static, baseline x86-64,
#       the kselftest of the DRM accel UAPI (include/uapi/drm/spatten_accel.h),
#       built against include/ and the kselftest harness in KSFT_DIR
#       (GPL-2.0, never committed). No library.
#   $(SPATTEN_OUT)/guest/bin/spatten_uapi32        static i386 (-m32): the
#       same ioctls through the kernel's 32-bit compat path, TAP output.
#       Needs gcc-multilib and libc6-dev-i386 (scripts/setup-deps.sh).
#
#   uapi-header-check   host: include/uapi/drm/spatten_accel.h compiles on
#       its own for x86-64 and i386 (-fsyntax-only, -Wall -Wextra -Werror);
#       TAP on stdout. Part of `make check`'s host tests (scripts/check.sh).
#
# drm.h comes from Debian's libdrm-dev (/usr/include/libdrm); no libdrm
# library is linked.

SPATTEN_OUT ?= build
GUEST_CC ?= gcc
GUEST_CFLAGS ?= -O2 -static -march=x86-64 -mtune=generic
DRM_INC ?= /usr/include/libdrm
UAPI_DRM_H := include/uapi/drm/spatten_accel.h

DRV_GUEST_TEST := $(SPATTEN_OUT)/guest/bin/spatten_driver_test
DRV_GUEST_UAPI32 := $(SPATTEN_OUT)/guest/bin/spatten_uapi32
DRV_GUEST_WARN := -Wall -Wextra -Wshadow -Wformat=2 -Wno-unused-parameter \
	-Wno-sign-compare
DRV_GUEST_CFLAGS = $(GUEST_CFLAGS) -std=gnu11 -D_GNU_SOURCE $(DRV_GUEST_WARN) \
	-pthread -Iinclude -I$(DRM_INC) -I$(KSFT_DIR)
DRV_GUEST32_CFLAGS = $(GUEST_CFLAGS) -m32 -std=gnu11 -D_GNU_SOURCE \
	-D_FILE_OFFSET_BITS=64 $(DRV_GUEST_WARN) -Iinclude -I$(DRM_INC)

$(DRV_GUEST_TEST): tests/guest/spatten_driver_test.c $(UAPI_DRM_H)
	@test -f $(KSFT_DIR)/kselftest_harness.h || \
		{ echo "kselftest_harness.h not found in KSFT_DIR=$(KSFT_DIR)" >&2; exit 1; }
	@test -f $(DRM_INC)/drm.h || \
		{ echo "$(DRM_INC)/drm.h not found: install libdrm-dev (scripts/setup-deps.sh)" >&2; exit 1; }
	@mkdir -p $(@D)
	$(GUEST_CC) $(DRV_GUEST_CFLAGS) -o $@ $<

$(DRV_GUEST_UAPI32): tests/guest/spatten_uapi32.c $(UAPI_DRM_H)
	@printf 'int main(void) { return 0; }\n' | \
		$(GUEST_CC) -m32 -static -x c -o /dev/null - 2>/dev/null || \
		{ echo "$(GUEST_CC) cannot link static i386 programs: install gcc-multilib libc6-dev-i386 (scripts/setup-deps.sh)" >&2; exit 1; }
	@mkdir -p $(@D)
	$(GUEST_CC) $(DRV_GUEST32_CFLAGS) -o $@ $<

guest-bins: $(DRV_GUEST_TEST) $(DRV_GUEST_UAPI32)

# The header alone, as a userspace program includes it first: both ABIs.
UAPI_HDR_CC ?= gcc
UAPI_HDR_FLAGS := -fsyntax-only -std=gnu11 -Wall -Wextra -Werror \
	-I$(DRM_INC) -x c

.PHONY: uapi-header-check
uapi-header-check:
	@n=0; bad=0; \
	for m in 64 32; do \
		n=$$((n + 1)); \
		if out=$$($(UAPI_HDR_CC) -m$$m $(UAPI_HDR_FLAGS) $(UAPI_DRM_H) 2>&1); then \
			echo "ok $$n - $(UAPI_DRM_H) compiles alone (-m$$m)"; \
		else \
			echo "not ok $$n - $(UAPI_DRM_H) compiles alone (-m$$m)"; \
			printf '%s\n' "$$out" | sed 's/^/# /' | head -n 20; \
			bad=1; \
		fi; \
	done; \
	echo "1..$$n"; exit $$bad
