# SPDX-License-Identifier: MIT
#
# spatten-replay (workload-trace replay) and its tests, as a make fragment.
# Paths are relative to the repository top; run from there:
#
#   make -f tools/replay.mk replay-check     # standalone
#   -include tools/replay.mk                 # from the top Makefile
#
# Targets:
#   replay         build/bin/spatten-replay
#   replay-check   build it, tests/replay/test_replay (parser, traffic, the
#                  command, the shipped traces), test_trace_input (bad and
#                  endless input: messages, exit codes, peak memory) and
#                  test_replay_engine (the replay's jobs through spe_run():
#                  links the whole engine), run all three (TAP on stdout;
#                  fails if any test fails)
#   replay-clean   remove what the two above built
#
# Variables:
#   REPLAY_CC          compiler (default gcc)
#   REPLAY_WORKLOADS   directory of the shipped traces, for the tests
#                      (default ../shared/workloads; tests skip if absent)
#
# Every variable and rule is prefixed REPLAY_/replay- so that including
# this file cannot collide with the includer's names.

REPLAY_SAVED_DEFAULT_GOAL := $(.DEFAULT_GOAL)

REPLAY_CC ?= gcc
REPLAY_OUT ?= build/replay
REPLAY_BIN_DIR ?= build/bin
REPLAY_WORKLOADS ?= ../shared/workloads
REPLAY_OPT ?= -O2 -g

REPLAY_CFLAGS := $(REPLAY_OPT) -std=gnu11 -Wall -Wextra -Werror \
	-ffp-contract=off -Iinclude -Iengine -MMD -MP
# The warnings QEMU builds the engine with.
REPLAY_ENGINE_WARN := -Wstrict-prototypes -Wmissing-prototypes \
	-Wold-style-definition -Wundef -Wwrite-strings -Wredundant-decls \
	-Wnested-externs -Wtype-limits -Wshadow

# The engine files the replay needs: the parser, the cycle model and the
# top-k engine's pivot generator. Nothing else of the engine is linked.
REPLAY_ENGINE_SRCS := engine/spe_trace.c engine/spe_cycles.c \
	engine/spe_topk.c
REPLAY_ENGINE_OBJS := $(REPLAY_ENGINE_SRCS:engine/%.c=$(REPLAY_OUT)/engine/%.o)

# test_replay_engine runs the replay's jobs through spe_run(): whole engine.
REPLAY_ENGINE_ALL_OBJS := $(patsubst engine/%.c,$(REPLAY_OUT)/engine/%.o,\
	$(wildcard engine/*.c))

REPLAY_BIN := $(REPLAY_BIN_DIR)/spatten-replay
REPLAY_TEST := $(REPLAY_OUT)/test_replay
REPLAY_TEST_ENGINE := $(REPLAY_OUT)/test_replay_engine
REPLAY_TEST_INPUT := $(REPLAY_OUT)/test_trace_input

.PHONY: replay replay-check replay-clean

replay: $(REPLAY_BIN)

$(REPLAY_OUT)/engine/%.o: engine/%.c
	@mkdir -p $(@D)
	$(REPLAY_CC) $(REPLAY_CFLAGS) $(REPLAY_ENGINE_WARN) -c $< -o $@

# The command: its main, the streaming reader and the JSON report (shared
# with spatten-run).
REPLAY_TOOL_OBJS := $(REPLAY_OUT)/spatten-replay.o \
	$(REPLAY_OUT)/spatten-trace.o $(REPLAY_OUT)/spatten-report.o

$(REPLAY_OUT)/spatten-%.o: tools/spatten-%.c
	@mkdir -p $(@D)
	$(REPLAY_CC) $(REPLAY_CFLAGS) $(REPLAY_ENGINE_WARN) -Itools -c $< -o $@

$(REPLAY_BIN): $(REPLAY_TOOL_OBJS) $(REPLAY_ENGINE_OBJS)
	@mkdir -p $(@D)
	$(REPLAY_CC) $(REPLAY_OPT) $^ -o $@

$(REPLAY_OUT)/test_replay.o: tests/replay/test_replay.c
	@mkdir -p $(@D)
	$(REPLAY_CC) $(REPLAY_CFLAGS) -Itests/host -c $< -o $@

$(REPLAY_TEST): $(REPLAY_OUT)/test_replay.o $(REPLAY_ENGINE_OBJS)
	$(REPLAY_CC) $(REPLAY_OPT) $^ -o $@

$(REPLAY_OUT)/test_replay_engine.o: tests/replay/test_replay_engine.c
	@mkdir -p $(@D)
	$(REPLAY_CC) $(REPLAY_CFLAGS) -Itests/host -c $< -o $@

$(REPLAY_TEST_ENGINE): $(REPLAY_OUT)/test_replay_engine.o \
		$(REPLAY_ENGINE_ALL_OBJS)
	$(REPLAY_CC) $(REPLAY_OPT) $^ -lm -o $@

$(REPLAY_OUT)/test_trace_input.o: tests/replay/test_trace_input.c
	@mkdir -p $(@D)
	$(REPLAY_CC) $(REPLAY_CFLAGS) -Itests/host -Itools -c $< -o $@

$(REPLAY_TEST_INPUT): $(REPLAY_OUT)/test_trace_input.o \
		$(REPLAY_OUT)/spatten-trace.o $(REPLAY_ENGINE_OBJS)
	$(REPLAY_CC) $(REPLAY_OPT) $^ -o $@

# Runs every test program even if one fails.
replay-check: $(REPLAY_BIN) $(REPLAY_TEST) $(REPLAY_TEST_ENGINE) \
		$(REPLAY_TEST_INPUT)
	@bad=0; \
	echo "# $(REPLAY_TEST)"; \
	$(REPLAY_TEST) $(REPLAY_BIN) $(REPLAY_WORKLOADS) $(REPLAY_OUT)/tmp || \
		bad=$$((bad + 1)); \
	echo "# $(REPLAY_TEST_INPUT)"; \
	$(REPLAY_TEST_INPUT) $(REPLAY_BIN) $(REPLAY_OUT)/tmp-input || \
		bad=$$((bad + 1)); \
	echo "# $(REPLAY_TEST_ENGINE)"; \
	$(REPLAY_TEST_ENGINE) || bad=$$((bad + 1)); \
	echo "# replay-check: $$bad test program(s) failed"; \
	[ $$bad -eq 0 ]

replay-clean:
	rm -rf $(REPLAY_OUT) $(REPLAY_BIN)

-include $(REPLAY_ENGINE_ALL_OBJS:.o=.d) $(REPLAY_TOOL_OBJS:.o=.d) \
	$(REPLAY_OUT)/test_replay.d $(REPLAY_OUT)/test_replay_engine.d \
	$(REPLAY_OUT)/test_trace_input.d

# Standalone, replay-check is the default; included, leave the includer's.
ifeq ($(notdir $(firstword $(MAKEFILE_LIST))),replay.mk)
.DEFAULT_GOAL := replay-check
else
.DEFAULT_GOAL := $(REPLAY_SAVED_DEFAULT_GOAL)
endif
