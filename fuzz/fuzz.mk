# SPDX-License-Identifier: MIT
# libFuzzer targets (clang, ASan + UBSan), included from the top Makefile.
#   make fuzz-quick   the short form the test command runs
#   make fuzz         the long form (FUZZ_RUNS executions per target)
# Targets: fuzz_engine (descriptor validation and the engine), fuzz_trace
# (the tools' trace reader and the engine's trace parser and replay).

FUZZ_CC ?= clang
FUZZ_OUT := $(BUILD)/fuzz
# -O0: clang with ASan and UBSan takes minutes at -O1 over the unrolled
# AVX-512 kernels (seconds at -O0), and the fuzzed jobs are small.
FUZZ_CFLAGS := -g -O0 -std=gnu11 -ffp-contract=off -Iinclude -Iengine \
	-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
FUZZ_ENGINE_SRCS := $(wildcard engine/*.c)
FUZZ_RUNS ?= 10000000
FUZZ_QUICK_RUNS ?= 20000
# fuzz_trace runs about 20 times faster per input than fuzz_engine.
FUZZ_TRACE_QUICK_RUNS ?= 200000
# Inputs up to 9000 bytes: past the reader's 4096-byte line limit.
FUZZ_TRACE_MAX_LEN ?= 9000

.PHONY: fuzz-build fuzz-quick fuzz

$(FUZZ_OUT)/fuzz_engine: fuzz/fuzz_engine.c $(FUZZ_ENGINE_SRCS) \
		$(wildcard engine/*.h) include/spatten_hw.h
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -o $@ fuzz/fuzz_engine.c $(FUZZ_ENGINE_SRCS)

# The tools' trace reader and the engine's trace parser and replay.
FUZZ_TRACE_SRCS := tools/spatten-trace.c engine/spe_trace.c \
	engine/spe_cycles.c engine/spe_topk.c

$(FUZZ_OUT)/fuzz_trace: fuzz/fuzz_trace.c $(FUZZ_TRACE_SRCS) \
		tools/spatten-trace.h $(wildcard engine/*.h) include/spatten_hw.h
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -Itools -o $@ fuzz/fuzz_trace.c \
		$(FUZZ_TRACE_SRCS)

$(FUZZ_OUT)/gen_corpus: fuzz/gen_corpus.c include/spatten_hw.h
	@mkdir -p $(dir $@)
	$(FUZZ_CC) -O1 -g -Wall -Wextra -Werror -Iinclude -o $@ $<

# Valid jobs to start from: dense, token pruning, progressive + heads.
$(FUZZ_OUT)/seeds/.done: $(FUZZ_OUT)/gen_corpus
	@rm -rf $(FUZZ_OUT)/seeds && mkdir -p $(FUZZ_OUT)/seeds
	$(FUZZ_OUT)/gen_corpus $(FUZZ_OUT)/seeds
	@touch $@

fuzz-build: $(FUZZ_OUT)/fuzz_engine $(FUZZ_OUT)/seeds/.done \
	$(FUZZ_OUT)/fuzz_trace

# fuzz_trace's seeds are small traces, checked in (fuzz/trace-seeds/).
FUZZ_TRACE_SEEDS := fuzz/trace-seeds

# One TAP line per target: the run must end without a crash or a report.
fuzz-quick: fuzz-build
	@mkdir -p $(FUZZ_OUT)/corpus $(FUZZ_OUT)/corpus-trace
	@if $(FUZZ_OUT)/fuzz_engine -runs=$(FUZZ_QUICK_RUNS) -seed=1 \
		$(FUZZ_OUT)/corpus $(FUZZ_OUT)/seeds >$(FUZZ_OUT)/quick.log 2>&1; then \
		echo "ok - fuzz_engine: $(FUZZ_QUICK_RUNS) inputs, no crash or sanitizer report"; \
	else \
		echo "not ok - fuzz_engine: $(FUZZ_QUICK_RUNS) inputs, no crash or sanitizer report"; \
		tail -n 30 $(FUZZ_OUT)/quick.log | sed 's/^/# /'; \
	fi
	@if $(FUZZ_OUT)/fuzz_trace -runs=$(FUZZ_TRACE_QUICK_RUNS) -seed=1 \
		-max_len=$(FUZZ_TRACE_MAX_LEN) \
		$(FUZZ_OUT)/corpus-trace $(FUZZ_TRACE_SEEDS) \
		>$(FUZZ_OUT)/quick-trace.log 2>&1; then \
		echo "ok - fuzz_trace: $(FUZZ_TRACE_QUICK_RUNS) inputs, no crash or sanitizer report"; \
	else \
		echo "not ok - fuzz_trace: $(FUZZ_TRACE_QUICK_RUNS) inputs, no crash or sanitizer report"; \
		tail -n 30 $(FUZZ_OUT)/quick-trace.log | sed 's/^/# /'; \
	fi

# The long form (issue #7, docs/reliability.md): FUZZ_RUNS executions,
# final statistics, the log in $(FUZZ_OUT)/long.log; the corpus grows in
# $(FUZZ_OUT)/corpus across runs.
fuzz: fuzz-build
	@mkdir -p $(FUZZ_OUT)/corpus $(FUZZ_OUT)/corpus-trace
	@$(FUZZ_OUT)/fuzz_engine -runs=$(FUZZ_RUNS) -print_final_stats=1 \
		$(FUZZ_OUT)/corpus $(FUZZ_OUT)/seeds >$(FUZZ_OUT)/long.log 2>&1; \
		st=$$?; grep -E '^#[0-9]+.*(pulse|DONE)|^Done|^stat::|ERROR|SUMMARY' \
		$(FUZZ_OUT)/long.log; \
	$(FUZZ_OUT)/fuzz_trace -runs=$(FUZZ_RUNS) -print_final_stats=1 \
		-max_len=$(FUZZ_TRACE_MAX_LEN) \
		$(FUZZ_OUT)/corpus-trace $(FUZZ_TRACE_SEEDS) \
		>$(FUZZ_OUT)/long-trace.log 2>&1; \
		st2=$$?; grep -E '^#[0-9]+.*(pulse|DONE)|^Done|^stat::|ERROR|SUMMARY' \
		$(FUZZ_OUT)/long-trace.log; [ $$st = 0 ] && [ $$st2 = 0 ]
