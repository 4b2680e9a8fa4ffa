# SPDX-License-Identifier: MIT
#
# libspatten, spatten-demo and the in-guest tests. Included from the top-level
# Makefile (`include lib/lib.mk`); every path is relative to the repository
# top, where make runs.
#
# Targets
#   lib          build/lib/libspatten.a and build/lib/libspatten.so (host):
#                -fPIC -fvisibility=hidden, symbols versioned by
#                lib/libspatten.map (node SPATTEN_1), soname libspatten.so.1
#   lib-check    build and run the host unit tests (TAP) of the library;
#                need no device
#   host-demo    build/bin/spatten-demo for the host (links libspatten.a)
#   guest-bins   static binaries for the guest: build/guest/bin/spatten-demo
#                and build/guest/bin/spatten_test (kselftest harness)
#   lib-clean    remove everything above
#
# Variables (override on the command line or before the include)
#   SPATTEN_OUT    output directory (default: build)
#   CC, CFLAGS     host compiler and extra host flags (appended)
#   LIB_WARN       warning flags used for every build of these parts
#   GUEST_CC       guest compiler (default: gcc)
#   GUEST_CFLAGS   guest flags (default: -O2 -static -march=x86-64
#                  -mtune=generic: the guest CPU has no AVX and has no
#                  shared libraries)
#   KSFT_DIR       kernel tools/testing/selftests directory holding
#                  kselftest_harness.h (GPL-2.0, never committed)
#   SPATTEN_DEMO_ENGINE  1 (default when engine/*.c exists) links the
#                  engine into spatten-demo for spe_out_tolerance(); 0
#                  uses the demo's built-in copy of the bound

# Including this file must not change the including Makefile's default goal.
LIB_SAVED_GOAL := $(.DEFAULT_GOAL)

SPATTEN_OUT ?= build
GUEST_CC ?= gcc
GUEST_CFLAGS ?= -O2 -static -march=x86-64 -mtune=generic
KSFT_DIR ?= /var/cache/spatten/ksrc/x/linux-source-6.1/tools/testing/selftests
LIB_WARN ?= -Wall -Wextra -Wshadow -Wstrict-prototypes -Wformat=2 \
	    -Wno-unused-parameter

LIB_SRCS := lib/device.c lib/bo.c lib/fixed.c lib/job.c
LIB_HDRS := lib/libspatten.h lib/spatten_private.h include/uapi/spatten.h \
	    include/spatten_hw.h
LIB_INC := -Iinclude -Ilib -Iengine
LIB_STD := -std=gnu11 -D_GNU_SOURCE

LIB_ENGINE_SRCS := $(wildcard engine/*.c)
ifeq ($(LIB_ENGINE_SRCS),)
SPATTEN_DEMO_ENGINE ?= 0
else
SPATTEN_DEMO_ENGINE ?= 1
endif
ifeq ($(SPATTEN_DEMO_ENGINE),1)
DEMO_EXTRA_SRCS := $(LIB_ENGINE_SRCS)
DEMO_DEFS := -DSPATTEN_DEMO_ENGINE=1
else
DEMO_EXTRA_SRCS :=
DEMO_DEFS := -DSPATTEN_DEMO_ENGINE=0
endif

LIB_OUT := $(SPATTEN_OUT)/lib
LIB_HOST_OBJS := $(patsubst lib/%.c,$(LIB_OUT)/obj/%.o,$(LIB_SRCS))
LIB_A := $(LIB_OUT)/libspatten.a
LIB_SO_NAME := libspatten.so.1
LIB_SO_REAL := $(LIB_OUT)/libspatten.so.1.0.0
LIB_SO := $(LIB_OUT)/libspatten.so
LIB_HOST_CFLAGS = -O2 -g $(LIB_STD) $(LIB_WARN) $(LIB_INC) $(CFLAGS)

GUEST_OUT := $(SPATTEN_OUT)/guest
GUEST_LIB_OBJS := $(patsubst lib/%.c,$(GUEST_OUT)/obj/lib/%.o,$(LIB_SRCS))
GUEST_LIB_A := $(GUEST_OUT)/lib/libspatten.a
GUEST_ALL_CFLAGS = $(GUEST_CFLAGS) $(LIB_STD) $(LIB_WARN) $(LIB_INC)

.PHONY: lib lib-check host-demo guest-bins lib-clean

lib: $(LIB_A) $(LIB_SO)

# ---- host library --------------------------------------------------------

$(LIB_OUT)/obj/%.o: lib/%.c $(LIB_HDRS)
	@mkdir -p $(@D)
	$(CC) $(LIB_HOST_CFLAGS) -fPIC -fvisibility=hidden -c -o $@ $<

$(LIB_A): $(LIB_HOST_OBJS)
	@mkdir -p $(@D)
	rm -f $@
	$(AR) rcs $@ $^

$(LIB_SO_REAL): $(LIB_HOST_OBJS) lib/libspatten.map
	$(CC) -shared -Wl,-soname,$(LIB_SO_NAME) \
		-Wl,--version-script=lib/libspatten.map -Wl,-z,defs \
		-o $@ $(LIB_HOST_OBJS)

$(LIB_SO): $(LIB_SO_REAL)
	ln -sf $(notdir $<) $(LIB_OUT)/$(LIB_SO_NAME)
	ln -sf $(notdir $<) $@

# ---- host unit tests -------------------------------------------------------

LIB_TEST_BIN := $(LIB_OUT)/tests/test_libspatten

$(LIB_TEST_BIN): lib/tests/test_libspatten.c $(LIB_A) $(LIB_HDRS)
	@mkdir -p $(@D)
	$(CC) $(LIB_HOST_CFLAGS) -o $@ $< $(LIB_A) -lm

lib-check: $(LIB_TEST_BIN)
	$(LIB_TEST_BIN)

# ---- host demo -------------------------------------------------------------

$(SPATTEN_OUT)/bin/spatten-demo: tools/spatten-demo.c $(DEMO_EXTRA_SRCS) \
				 $(LIB_A) $(LIB_HDRS)
	@mkdir -p $(@D)
	$(CC) $(LIB_HOST_CFLAGS) $(DEMO_DEFS) -o $@ tools/spatten-demo.c \
		$(DEMO_EXTRA_SRCS) $(LIB_A) -lm

host-demo: $(SPATTEN_OUT)/bin/spatten-demo

# ---- guest (static) --------------------------------------------------------

$(GUEST_OUT)/obj/lib/%.o: lib/%.c $(LIB_HDRS)
	@mkdir -p $(@D)
	$(GUEST_CC) $(GUEST_ALL_CFLAGS) -c -o $@ $<

$(GUEST_LIB_A): $(GUEST_LIB_OBJS)
	@mkdir -p $(@D)
	rm -f $@
	$(AR) rcs $@ $^

$(GUEST_OUT)/bin/spatten-demo: tools/spatten-demo.c $(DEMO_EXTRA_SRCS) \
			       $(GUEST_LIB_A) $(LIB_HDRS)
	@mkdir -p $(@D)
	$(GUEST_CC) $(GUEST_ALL_CFLAGS) $(DEMO_DEFS) -o $@ \
		tools/spatten-demo.c $(DEMO_EXTRA_SRCS) $(GUEST_LIB_A) -lm

$(GUEST_OUT)/bin/spatten_test: tests/guest/spatten_test.c $(GUEST_LIB_A) \
			       $(LIB_HDRS)
	@test -f $(KSFT_DIR)/kselftest_harness.h || \
		{ echo "kselftest_harness.h not found in KSFT_DIR=$(KSFT_DIR)" >&2; exit 1; }
	@mkdir -p $(@D)
	$(GUEST_CC) $(GUEST_ALL_CFLAGS) -Wno-sign-compare -I$(KSFT_DIR) \
		-o $@ $< \
		$(GUEST_LIB_A) -lm

guest-bins: $(GUEST_OUT)/bin/spatten-demo $(GUEST_OUT)/bin/spatten_test

lib-clean:
	rm -rf $(LIB_OUT) $(GUEST_OUT)/obj/lib $(GUEST_LIB_A) \
		$(GUEST_OUT)/bin/spatten-demo $(GUEST_OUT)/bin/spatten_test \
		$(SPATTEN_OUT)/bin/spatten-demo

.DEFAULT_GOAL := $(LIB_SAVED_GOAL)
