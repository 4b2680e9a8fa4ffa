# SPDX-License-Identifier: MIT
#
# Host unit tests of the engine (and the shared headers' layout), as a make
# fragment. Paths are relative to the repository top; run from there:
#
#   make -f tests/host/host.mk host-check     # standalone
#   include tests/host/host.mk                # from the top Makefile
#
# Targets:
#   host-tests            build every test binary into $(HOST_BUILD)
#   host-check            build and run them all; TAP on stdout; fails if
#                         any test fails
#   host-check-asan       the same with ASan + UBSan, in build/host-asan
#   host-check-valgrind   the same binaries under valgrind (leaks = failure)
#   host-bench            build and run the engine benchmark (not a test)
#   host-clean            remove $(HOST_BUILD)
#
# Every variable and rule is prefixed HOST_/host- so that including this
# file cannot collide with the includer's names.

HOST_SAVED_DEFAULT_GOAL := $(.DEFAULT_GOAL)

HOST_CC ?= gcc
HOST_BUILD ?= build/host
HOST_OPT ?= -O2 -g
HOST_LDFLAGS ?=
HOST_VALGRIND ?= valgrind
HOST_RUNNER ?=

HOST_CFLAGS := $(HOST_OPT) -Wall -Wextra -Werror -std=gnu11 \
	-ffp-contract=off -Iinclude -Iengine -MMD -MP
# drm.h, which the driver's UAPI header includes (Debian's libdrm-dev)
HOST_DRM_CFLAGS ?= -I/usr/include/libdrm
# The warnings QEMU builds the engine with, so a host build catches them.
HOST_ENGINE_WARN := -Wstrict-prototypes -Wmissing-prototypes \
	-Wold-style-definition -Wundef -Wwrite-strings -Wredundant-decls \
	-Wnested-externs -Wtype-limits
# gcc spells this one with a level; clang does not know the level.
HOST_ENGINE_WARN += $(shell $(HOST_CC) -Werror -Wimplicit-fallthrough=2 \
	-x c -fsyntax-only /dev/null 2>/dev/null && \
	echo -Wimplicit-fallthrough=2)

HOST_ENGINE_SRCS := $(wildcard engine/*.c)
HOST_ENGINE_OBJS := $(HOST_ENGINE_SRCS:engine/%.c=$(HOST_BUILD)/engine/%.o)
HOST_ENGINE_O0_OBJS := $(HOST_ENGINE_SRCS:engine/%.c=$(HOST_BUILD)/engine-O0/%.o)
HOST_ENGINE_LIB := $(HOST_BUILD)/libspe.a
HOST_ENGINE_O0_LIB := $(HOST_BUILD)/libspe-O0.a

# Helpers linked into every test binary.
HOST_UTIL_OBJS := $(HOST_BUILD)/tests/testutil.o \
	$(HOST_BUILD)/tests/attn_harness.o $(HOST_BUILD)/tests/prune_ref.o

# Helpers of the version-3 tests only (test_llm*).
HOST_LLM_OBJS := $(HOST_BUILD)/tests/llm_job.o $(HOST_BUILD)/tests/llm_ref.o
HOST_LLM_TESTS := test_llm test_llm_layout test_llm_rope test_chunks test_imp_kv

HOST_TEST_NAMES := test_layout test_expf test_decode test_decode_v3 test_buf \
	test_topk test_pack test_attention test_prune test_cycles test_golden \
	test_rows test_map $(HOST_LLM_TESTS)
HOST_TEST_BINS := $(HOST_TEST_NAMES:%=$(HOST_BUILD)/%) \
	$(HOST_BUILD)/test_golden_O0

# i386 layout check: only the compiler is needed (no 32-bit libc), plus the
# 64-bit asm/ headers, which are the same for both ABIs on x86.
HOST_MULTIARCH := $(shell $(HOST_CC) -print-multiarch 2>/dev/null)

# Keep the objects make would otherwise delete as intermediates.
.SECONDARY: $(HOST_TEST_NAMES:%=$(HOST_BUILD)/tests/%.o) \
	$(HOST_BUILD)/tests/bench_engine.o

.PHONY: host-tests host-check host-check-asan host-check-valgrind \
	host-clean host-layout-m32 host-bench

host-tests: $(HOST_TEST_BINS)

$(HOST_BUILD)/engine/%.o: engine/%.c
	@mkdir -p $(@D)
	$(HOST_CC) $(HOST_CFLAGS) $(HOST_ENGINE_WARN) -c $< -o $@

$(HOST_BUILD)/engine-O0/%.o: engine/%.c
	@mkdir -p $(@D)
	$(HOST_CC) $(HOST_CFLAGS) $(HOST_ENGINE_WARN) -O0 -c $< -o $@

$(HOST_ENGINE_LIB): $(HOST_ENGINE_OBJS)
	@rm -f $@
	ar rcs $@ $^

$(HOST_ENGINE_O0_LIB): $(HOST_ENGINE_O0_OBJS)
	@rm -f $@
	ar rcs $@ $^

$(HOST_BUILD)/tests/%.o: tests/host/%.c
	@mkdir -p $(@D)
	$(HOST_CC) $(HOST_CFLAGS) -c $< -o $@

$(HOST_BUILD)/tests/test_layout.o: HOST_CFLAGS += $(HOST_DRM_CFLAGS)

$(HOST_BUILD)/test_layout: $(HOST_BUILD)/tests/test_layout.o
	$(HOST_CC) $(HOST_OPT) $(HOST_LDFLAGS) $^ -o $@

$(HOST_BUILD)/test_golden_O0: $(HOST_BUILD)/tests/test_golden.o \
		$(HOST_UTIL_OBJS) $(HOST_ENGINE_O0_LIB)
	$(HOST_CC) $(HOST_OPT) $(HOST_LDFLAGS) $^ -lm -o $@

$(HOST_BUILD)/test_%: $(HOST_BUILD)/tests/test_%.o $(HOST_UTIL_OBJS) \
		$(HOST_ENGINE_LIB)
	$(HOST_CC) $(HOST_OPT) $(HOST_LDFLAGS) $^ -lm -o $@

# An extra prerequisite: in $^ of the pattern rule's link, before libspe.a.
$(HOST_LLM_TESTS:%=$(HOST_BUILD)/%): $(HOST_LLM_OBJS)

# The i386 layout check as one TAP stream; a skip if the compiler cannot
# target i386 at all.
HOST_M32_NAME := i386 ABI: every size, offset and ioctl number as pinned
define HOST_LAYOUT_M32_SH
echo "# $(HOST_BUILD)/layout-m32 (gcc -m32 -fsyntax-only)"; \
if [ -n "$(HOST_MULTIARCH)" ] && \
    $(HOST_CC) -m32 -fsyntax-only -x c /dev/null 2>/dev/null; then \
	if $(HOST_CC) -m32 -fsyntax-only -std=gnu11 -Wall -Werror \
	    -DLAYOUT_STATIC_ONLY -Iinclude $(HOST_DRM_CFLAGS) \
	    -idirafter /usr/include/$(HOST_MULTIARCH) \
	    tests/host/test_layout.c; then \
		echo "ok 1 - $(HOST_M32_NAME)"; echo 1..1; true; \
	else \
		echo "not ok 1 - $(HOST_M32_NAME)"; echo 1..1; false; \
	fi; \
else \
	echo "ok 1 # SKIP $(HOST_CC) cannot target i386"; echo 1..1; true; \
fi
endef

host-layout-m32:
	@$(HOST_LAYOUT_M32_SH)

# Runs every binary even after a failure; the exit status says if any failed.
host-check: $(HOST_TEST_BINS)
	@pass=0; bad=0; \
	if ( $(HOST_LAYOUT_M32_SH) ); then pass=$$((pass + 1)); \
	else bad=$$((bad + 1)); fi; \
	for t in $(HOST_TEST_BINS); do \
		echo "# $$t"; \
		if $(HOST_RUNNER) $$t; then pass=$$((pass + 1)); \
		else bad=$$((bad + 1)); fi; \
	done; \
	echo "# host-check: $$pass passed, $$bad failed (test programs)"; \
	[ $$bad -eq 0 ]

host-check-asan:
	@$(MAKE) --no-print-directory -f $(firstword $(MAKEFILE_LIST)) \
		host-check HOST_BUILD=build/host-asan HOST_CC="$(HOST_CC)" \
		HOST_OPT="-O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all" \
		HOST_LDFLAGS="-fsanitize=address,undefined"

host-check-valgrind:
	@$(MAKE) --no-print-directory -f $(firstword $(MAKEFILE_LIST)) \
		host-check HOST_CC="$(HOST_CC)" \
		HOST_RUNNER="$(HOST_VALGRIND) -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite,indirect"

$(HOST_BUILD)/bench_engine: $(HOST_BUILD)/tests/bench_engine.o \
		$(HOST_BUILD)/tests/testutil.o $(HOST_ENGINE_LIB)
	$(HOST_CC) $(HOST_OPT) $(HOST_LDFLAGS) $^ -lm -o $@

host-bench: $(HOST_BUILD)/bench_engine
	$(HOST_BUILD)/bench_engine

host-clean:
	rm -rf $(HOST_BUILD)

-include $(HOST_ENGINE_OBJS:.o=.d) $(HOST_ENGINE_O0_OBJS:.o=.d) \
	$(HOST_TEST_NAMES:%=$(HOST_BUILD)/tests/%.d) $(HOST_UTIL_OBJS:.o=.d) \
	$(HOST_LLM_OBJS:.o=.d)

# Standalone, host-check is the default; included, leave the includer's.
ifeq ($(notdir $(firstword $(MAKEFILE_LIST))),host.mk)
.DEFAULT_GOAL := host-check
else
.DEFAULT_GOAL := $(HOST_SAVED_DEFAULT_GOAL)
endif
