# SPDX-License-Identifier: MIT
#
# The engine's inner loops and the host benchmark, as a make fragment.
# Paths are relative to the repository top; run from there:
#
#   make -f bench/bench.mk kernels-check     # standalone
#   include bench/bench.mk                   # from the top Makefile
#
# Targets:
#   kernels-check   build and run tests/kernels (every SIMD table this CPU
#                   runs == generic, bit for bit; dispatch); TAP on stdout;
#                   fails if any test fails
#   engine-bench    build $(BENCH_BUILD)/engine-bench (engine vs an OpenBLAS
#                   float baseline, single-threaded; see bench/engine-bench.c)
#   bench-quick     build it and run it in --quick mode (small shapes, a few
#                   seconds): checks that it works, prints the table
#   bench-clean     remove $(BENCH_BUILD) and $(KERNELS_BUILD)
#   llm-bench       build $(BENCH_BUILD)/llm-bench (section 7 of the report:
#                   the Llama-3-8B decode step; links libspatten, so from
#                   the top Makefile only); llm-bench-quick runs it --quick
#                   into $(BENCH_BUILD)/llm-quick/ (4K only, about 1 s)
#
# Every variable and rule is prefixed BENCH_/KERNELS_/bench- so that
# including this file cannot collide with the includer's names.

BENCH_SAVED_DEFAULT_GOAL := $(.DEFAULT_GOAL)

BENCH_CC ?= gcc
BENCH_BUILD ?= build/bench
KERNELS_BUILD ?= build/kernels

# The engine as QEMU builds it (-O2), with QEMU's warnings, -Werror.
BENCH_WARN := -Wall -Wextra -Werror -Wstrict-prototypes -Wmissing-prototypes \
	-Wold-style-definition -Wundef -Wwrite-strings -Wredundant-decls \
	-Wnested-externs -Wtype-limits
BENCH_WARN += $(shell $(BENCH_CC) -Werror -Wimplicit-fallthrough=2 \
	-x c -fsyntax-only /dev/null 2>/dev/null && \
	echo -Wimplicit-fallthrough=2)
BENCH_CFLAGS := -O2 -g -std=gnu11 -ffp-contract=off -Iinclude -Iengine \
	-MMD -MP $(BENCH_WARN)

# The float baseline: what a performance engineer would write for this CPU.
BENCH_BLAS_CFLAGS := $(shell pkg-config --cflags openblas 2>/dev/null)
BENCH_BLAS_LIBS := $(or $(shell pkg-config --libs openblas 2>/dev/null),-lopenblas)
BENCH_BASE_CFLAGS := -O3 -march=native -ffast-math -fopenmp-simd -g \
	-std=gnu11 -MMD -MP $(BENCH_BLAS_CFLAGS) -Wall -Wextra -Werror

KERNELS_SRCS := engine/spe_kernels.c engine/spe_kernels_generic.c \
	engine/spe_kernels_sse41.c engine/spe_kernels_avx2.c \
	engine/spe_kernels_avx512.c engine/spe_kernels_avx512_rows.c \
	engine/spe_kernels_avx512vbmi.c \
	engine/spe_kernels_avx512_gather.c
KERNELS_OBJS := $(KERNELS_SRCS:engine/%.c=$(KERNELS_BUILD)/%.o)
KERNELS_TEST := $(KERNELS_BUILD)/test_kernels

BENCH_ENGINE_SRCS := $(wildcard engine/*.c)
BENCH_ENGINE_OBJS := $(BENCH_ENGINE_SRCS:engine/%.c=$(BENCH_BUILD)/engine/%.o)
BENCH_BIN := $(BENCH_BUILD)/engine-bench

.PHONY: kernels-check engine-bench bench-quick bench-clean

$(KERNELS_BUILD)/%.o: engine/%.c
	@mkdir -p $(@D)
	$(BENCH_CC) $(BENCH_CFLAGS) -c $< -o $@

$(KERNELS_BUILD)/test_kernels.o: tests/kernels/test_kernels.c
	@mkdir -p $(@D)
	$(BENCH_CC) $(BENCH_CFLAGS) -Itests/host -c $< -o $@

$(KERNELS_TEST): $(KERNELS_BUILD)/test_kernels.o $(KERNELS_OBJS)
	$(BENCH_CC) -o $@ $^ -lm

# Default choice, then each forced name (an unknown or unsupported one
# falls back to generic).
kernels-check: $(KERNELS_TEST)
	@rc=0; \
	echo "# kernels: default dispatch"; \
	$(KERNELS_TEST) || rc=1; \
	echo "# kernels: SPATTEN_KERNELS=generic"; \
	SPATTEN_KERNELS=generic EXPECT_KERNELS=generic $(KERNELS_TEST) || rc=1; \
	echo "# kernels: SPATTEN_KERNELS=no-such"; \
	SPATTEN_KERNELS=no-such EXPECT_KERNELS=generic $(KERNELS_TEST) || rc=1; \
	exit $$rc

$(BENCH_BUILD)/engine/%.o: engine/%.c
	@mkdir -p $(@D)
	$(BENCH_CC) $(BENCH_CFLAGS) -c $< -o $@

$(BENCH_BUILD)/engine-bench.o: bench/engine-bench.c
	@mkdir -p $(@D)
	$(BENCH_CC) $(BENCH_CFLAGS) -c $< -o $@

$(BENCH_BUILD)/bench-util.o: bench/bench-util.c
	@mkdir -p $(@D)
	$(BENCH_CC) $(BENCH_CFLAGS) -c $< -o $@

$(BENCH_BUILD)/baseline.o: bench/baseline.c
	@mkdir -p $(@D)
	$(BENCH_CC) $(BENCH_BASE_CFLAGS) -c $< -o $@

$(BENCH_BIN): $(BENCH_BUILD)/engine-bench.o $(BENCH_BUILD)/bench-util.o \
		$(BENCH_BUILD)/baseline.o $(BENCH_ENGINE_OBJS)
	$(BENCH_CC) -o $@ $^ $(BENCH_BLAS_LIBS) -lmvec -lm

engine-bench: $(BENCH_BIN)

bench-quick: $(BENCH_BIN)
	OPENBLAS_NUM_THREADS=1 $(BENCH_BIN) --quick

bench-clean:
	rm -rf $(BENCH_BUILD) $(KERNELS_BUILD)

-include $(KERNELS_OBJS:.o=.d) $(KERNELS_BUILD)/test_kernels.d
-include $(BENCH_ENGINE_OBJS:.o=.d) $(BENCH_BUILD)/engine-bench.d \
	$(BENCH_BUILD)/baseline.d $(BENCH_BUILD)/host-bench.d \
	$(BENCH_BUILD)/bench-util.d $(BENCH_BUILD)/llm-bench.d \
	$(BENCH_BUILD)/llm-baseline.d

# ---- the whole-stack report: docs/benchmarks.md and docs/plots/*.png ------
#
#   bench               every measurement at full size (host and a guest
#                       boot), writes docs/benchmarks.md + docs/plots/*.png
#   bench-report-quick  the same pipeline with tiny sizes, one repetition,
#                       into $(BENCH_BUILD)/report-quick/ (never docs/):
#                       checks that the benchmark works, not how fast
#   bench-host-bins     the host programs; bench-guest-bin the guest one
#
# Host programs: host-bench (engine vs baseline, pruning, bit split, the
# cycle model's TFLOPS), traffic-bench (sessions on the simulation
# backend, bytes per mechanism). Guest: spatten-stack-bench (static, with
# libspatten's guest build), run by scripts/guest-init.sh mode `bench` in
# an initramfs of its own ($(BENCH_BUILD)/initramfs.cpio.gz).

BENCH_HOST_BIN := $(BENCH_BUILD)/host-bench
BENCH_TRAFFIC_BIN := $(BENCH_BUILD)/traffic-bench
BENCH_LLM_BIN := $(BENCH_BUILD)/llm-bench
BENCH_GUEST_DIR := $(BENCH_BUILD)/guest-bin
BENCH_GUEST_BIN := $(BENCH_GUEST_DIR)/spatten-stack-bench
BENCH_INITRAMFS := $(BENCH_BUILD)/initramfs.cpio.gz

.PHONY: bench bench-report-quick bench-host-bins bench-guest-bin \
	llm-bench llm-bench-quick

$(BENCH_BUILD)/host-bench.o: bench/host-bench.c
	@mkdir -p $(@D)
	$(BENCH_CC) $(BENCH_CFLAGS) -c $< -o $@

$(BENCH_HOST_BIN): $(BENCH_BUILD)/host-bench.o $(BENCH_BUILD)/bench-util.o \
		$(BENCH_BUILD)/baseline.o $(BENCH_ENGINE_OBJS)
	$(BENCH_CC) -o $@ $^ $(BENCH_BLAS_LIBS) -lmvec -lm

# Section 7: the Llama-3-8B decode step (version-3 jobs of the engine
# objects, the fp32 GQA baseline of llm-baseline.c, libspatten's packing
# and schedule from the host library).
$(BENCH_BUILD)/llm-bench.o: bench/llm-bench.c
	@mkdir -p $(@D)
	$(BENCH_CC) $(BENCH_CFLAGS) -Ilib -c $< -o $@

$(BENCH_BUILD)/llm-baseline.o: bench/llm-baseline.c
	@mkdir -p $(@D)
	$(BENCH_CC) $(BENCH_BASE_CFLAGS) -c $< -o $@

$(BENCH_LLM_BIN): $(BENCH_BUILD)/llm-bench.o $(BENCH_BUILD)/bench-util.o \
		$(BENCH_BUILD)/llm-baseline.o $(BENCH_BUILD)/baseline.o \
		$(BENCH_ENGINE_OBJS) $(LIB_A)
	$(BENCH_CC) -o $@ $^ $(BENCH_BLAS_LIBS) -lpthread -lmvec -lm

llm-bench: $(BENCH_LLM_BIN)

llm-bench-quick: $(BENCH_LLM_BIN)
	@mkdir -p $(BENCH_BUILD)/llm-quick
	OPENBLAS_NUM_THREADS=1 $(BENCH_LLM_BIN) --quick $(BENCH_BUILD)/llm-quick
	@cat $(BENCH_BUILD)/llm-quick/llm-model.md

# Links the workload generator of the tools and the host library.
$(BENCH_TRAFFIC_BIN): bench/traffic-bench.c bench/bench-util.c $(TOOLS_COMMON) $(LIB_A) \
		$(LIB_HDRS) $(TOOLS_HOST_ENGINE)
	@mkdir -p $(@D)
	$(CC) $(LIB_HOST_CFLAGS) -Itools -o $@ $< bench/bench-util.c \
		$(TOOLS_RUN_SRCS) \
		$(TOOLS_HOST_ENGINE) $(LIB_A) -lpthread -lm

$(BENCH_GUEST_BIN): bench/stack-bench.c $(GUEST_LIB_A) $(LIB_HDRS)
	@mkdir -p $(@D)
	$(GUEST_CC) $(GUEST_ALL_CFLAGS) -o $@ $< $(GUEST_LIB_A) -lpthread -lm

bench-host-bins: $(BENCH_HOST_BIN) $(BENCH_TRAFFIC_BIN) $(BENCH_LLM_BIN) replay

bench-guest-bin: $(BENCH_GUEST_BIN)

# These two need the top Makefile (qemu, module: set-up, QEMU, guest kernel
# and the 6.1 module, which the initramfs of this boot packs with the guest
# program).
# The guest image carries the 6.1 module and the DRM stack it loads first.
BENCH_PACK = mods=$$(scripts/kmod-deps.sh $(KMODDIR61) $(DRM_MODULES)) && \
	SPATTEN_EXTRA_MODULES="$$mods" scripts/mk-initramfs.sh \
	$(BUILD)/module-6.1/spatten.ko $(BENCH_GUEST_DIR) $(BENCH_INITRAMFS)

bench: qemu module lib bench-host-bins bench-guest-bin
	@$(BENCH_PACK)
	bench/report.sh --out docs

bench-report-quick: qemu module lib bench-host-bins bench-guest-bin
	@$(BENCH_PACK)
	bench/report.sh --quick --out $(BENCH_BUILD)/report-quick

# Including this file must not change the includer's default goal.
.DEFAULT_GOAL := $(BENCH_SAVED_DEFAULT_GOAL)
