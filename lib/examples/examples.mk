# SPDX-License-Identifier: MIT
#
# The example programs of lib/examples (lib/examples/README.md). Included
# from lib/lib.mk, after its variables (`include lib/examples/examples.mk`);
# every path is relative to the repository top, where make runs. Each
# example links the shared library, as an installed application would
# (as gpt2_session does), and is a test too: it exits 0 only when what it
# checks holds.
#
# Targets
#   examples        build/lib/examples/<name> for each of EXAMPLES
#   examples-check  runs each with SPATTEN_BACKEND=sim, one TAP line per
#                   example ("ok N - example <name>"), then "1..N"; an
#                   example's output is in build/lib/examples/<name>.log,
#                   and is printed as TAP comments when it fails
#   examples-guest  static guest binaries build/guest/bin/example-<name>
#                   (against the guest libspatten.a), for the guest suite
#
# Uses LIB_OUT, LIB_SO, LIB_HOST_CFLAGS, GUEST_OUT, GUEST_LIB_A and
# GUEST_ALL_CFLAGS of lib/lib.mk.

# Including this file must not change the including Makefile's default goal.
EXAMPLES_SAVED_GOAL := $(.DEFAULT_GOAL)

EXAMPLES := encoder decoder_kv_cache bounded_cache jobs_user_memory \
	    batched_submit
EXAMPLES_BINS := $(patsubst %,$(LIB_OUT)/examples/%,$(EXAMPLES))
EXAMPLES_GUEST_BINS := $(patsubst %,$(GUEST_OUT)/bin/example-%,$(EXAMPLES))

.PHONY: examples examples-check examples-guest

examples: $(EXAMPLES_BINS)

$(EXAMPLES_BINS): $(LIB_OUT)/examples/%: lib/examples/%.c $(LIB_SO) \
		  lib/libspatten.h lib/spatten_types.h
	@mkdir -p $(@D)
	$(CC) $(LIB_HOST_CFLAGS) -o $@ $< -L$(LIB_OUT) -lspatten \
		-Wl,-rpath,'$$ORIGIN/..' -lm

examples-check: $(EXAMPLES_BINS)
	@n=0; bad=0; \
	for e in $(EXAMPLES); do \
		n=$$((n + 1)); \
		log=$(LIB_OUT)/examples/$$e.log; \
		if SPATTEN_BACKEND=sim $(LIB_OUT)/examples/$$e >$$log 2>&1; \
		then echo "ok $$n - example $$e"; \
		else echo "not ok $$n - example $$e"; \
			sed 's/^/# /' $$log; bad=$$((bad + 1)); fi; \
	done; \
	echo "1..$$n"; \
	[ $$bad -eq 0 ]

$(EXAMPLES_GUEST_BINS): $(GUEST_OUT)/bin/example-%: lib/examples/%.c \
			$(GUEST_LIB_A) lib/libspatten.h lib/spatten_types.h
	@mkdir -p $(@D)
	$(GUEST_CC) $(GUEST_ALL_CFLAGS) -o $@ $< $(GUEST_LIB_A) -lpthread -lm

examples-guest: $(EXAMPLES_GUEST_BINS)

.DEFAULT_GOAL := $(EXAMPLES_SAVED_GOAL)
