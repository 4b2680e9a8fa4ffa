# SPDX-License-Identifier: MIT
#
# Reliability campaigns of issue #7 (docs/reliability.md). Included from
# the top Makefile after the other fragments (uses GUEST_CC, GUEST_CFLAGS,
# SPATTEN_OUT and guest-bins of lib/lib.mk, FUZZ_* of fuzz/fuzz.mk).
#
#   guest-bins        + spatten-ioctl-fuzz, spatten-faults, spatten-load
#                       (static, baseline x86-64, raw UAPI: the driver's
#                       include/uapi/drm/spatten_accel.h and the DRM core
#                       ioctls of Debian libdrm-dev's drm.h, no libdrm;
#                       the load test links the engine for its bit-exact
#                       reference)
#   make reliability  every campaign's long form, figures in
#                     $(BUILD)/reliability/
#
# Short forms run in `make check`: the guest ones from scripts/guest-init.sh
# (check mode), fuzz-quick, the device fuzz qtest, the sanitizer and
# valgrind runs from scripts/check.sh.

REL_OUT := $(SPATTEN_OUT)/guest/bin
REL_CFLAGS = $(GUEST_CFLAGS) -std=gnu11 -D_GNU_SOURCE -Wall -Wextra \
	-Wno-unused-parameter -Wno-sign-compare -Iinclude -Iengine \
	-I/usr/include/libdrm -ffp-contract=off -pthread
REL_HDRS := tests/reliability/rel_common.h \
	include/uapi/drm/spatten_accel.h include/spatten_hw.h
REL_BINS := $(REL_OUT)/spatten-ioctl-fuzz $(REL_OUT)/spatten-faults \
	$(REL_OUT)/spatten-load $(REL_OUT)/spatten-failnth

$(REL_OUT)/spatten-ioctl-fuzz: tests/reliability/spatten-ioctl-fuzz.c $(REL_HDRS)
	@mkdir -p $(@D)
	$(GUEST_CC) $(REL_CFLAGS) -o $@ $< -lpthread

$(REL_OUT)/spatten-faults: tests/reliability/spatten-faults.c $(REL_HDRS)
	@mkdir -p $(@D)
	$(GUEST_CC) $(REL_CFLAGS) -o $@ $< -lpthread

# The allocation-failure sweep: run on the debug kernel only (fail-nth).
$(REL_OUT)/spatten-failnth: tests/reliability/spatten-failnth.c $(REL_HDRS)
	@mkdir -p $(@D)
	$(GUEST_CC) $(REL_CFLAGS) -o $@ $<

REL_LOAD_SRCS := tests/reliability/spatten-load.c \
	tests/reliability/load_jobs.c tests/reliability/load_desc.c
$(REL_OUT)/spatten-load: $(REL_LOAD_SRCS) tests/reliability/load_jobs.h \
		$(REL_HDRS) $(wildcard engine/*.c engine/*.h)
	@mkdir -p $(@D)
	$(GUEST_CC) $(REL_CFLAGS) -o $@ $(REL_LOAD_SRCS) $(wildcard engine/*.c) -lm

guest-bins: $(REL_BINS)

.PHONY: reliability reliability-guest reliability-qtest
REL_LOGS := $(BUILD)/reliability
REL_QTEST_DESCS ?= 1000000
# Extra kernel command-line words for the guest long forms, e.g.
# REL_GUEST_ARGS="rel_calls=2000000 rel_rounds=100 rel_jobs=2000".
REL_GUEST_ARGS ?=

# Device descriptors through the real QEMU device (qtest, no guest).
reliability-qtest: qemu
	@mkdir -p $(REL_LOGS)
	@SPATTEN_FUZZ_DESCS=$(REL_QTEST_DESCS) scripts/qtest-run.sh fuzz \
		>$(REL_LOGS)/qtest-fuzz.log 2>&1; st=$$?; \
		grep -v '^# starting QEMU' $(REL_LOGS)/qtest-fuzz.log; exit $$st

# The guest campaigns' long forms in one boot (6.1, MSI-X): ioctl fuzz
# (1,000,000 calls), fault matrix (50 rounds per fault), load (8 x 1000),
# rmmod; then the kernel log scan.
reliability-guest: initramfs
	@mkdir -p $(REL_LOGS)
	@SPATTEN_VM_TAG=reliability SPATTEN_VM_TIMEOUT=$${SPATTEN_VM_TIMEOUT:-14400} \
		SPATTEN_VM_APPEND="$(REL_GUEST_ARGS)" scripts/vm-run.sh reliability \
		$(SPATTEN_CACHE)/kernel/$(KABI)/vmlinuz $(INITRAMFS) \
		>$(REL_LOGS)/guest.log 2>&1; st=$$?; cat $(REL_LOGS)/guest.log; \
		scripts/scan-klog.sh \
		$(SPATTEN_CACHE)/logs/guest-console-reliability.log || st=1; \
		exit $$st

# Everything: host libFuzzer (FUZZ_RUNS, 10M), sanitizers and valgrind,
# device qtest fuzz, guest campaigns. Logs in $(REL_LOGS) and build/fuzz/.
reliability:
	@mkdir -p $(REL_LOGS)
	@echo "# campaign 2: libFuzzer, $(FUZZ_RUNS) executions"
	@$(MAKE) -s fuzz
	@echo "# campaign 5: ASan + UBSan, valgrind"
	@$(MAKE) -s host-check-asan lib-check-asan lib-check-valgrind \
		reliability-valgrind-tools \
		>$(REL_LOGS)/sanitizers.log 2>&1 && \
		echo "ok - host and library tests under ASan + UBSan and valgrind" || \
		{ echo "not ok - sanitizers (see $(REL_LOGS)/sanitizers.log)"; exit 1; }
	@echo "# campaign 2: device descriptors through QEMU (qtest)"
	@$(MAKE) -s reliability-qtest
	@echo "# campaigns 1, 3, 4 in the guest"
	@$(MAKE) -s reliability-guest
	@echo "# campaigns 1, 3, 4 and the allocation-failure sweep on the debug kernel"
	@$(MAKE) -s debug-check DEBUG_CHECK_MODE=long

# Campaign 5: valgrind memcheck on the tools that lib-check-valgrind does
# not cover (spatten-run is there): spatten-demo on the simulation backend,
# spatten-info (no board on the host: exit 1 is expected, 99 = a report).
REL_VALGRIND = valgrind -q --error-exitcode=99 --leak-check=full \
	--errors-for-leak-kinds=definite,indirect
.PHONY: reliability-valgrind-tools
reliability-valgrind-tools: $(SPATTEN_OUT)/bin/spatten-demo $(SPATTEN_OUT)/bin/spatten-info
	@SPATTEN_BACKEND=sim $(REL_VALGRIND) $(SPATTEN_OUT)/bin/spatten-demo >/dev/null
	@SPATTEN_BACKEND=sim $(REL_VALGRIND) $(SPATTEN_OUT)/bin/spatten-info \
		>/dev/null 2>&1; st=$$?; [ $$st != 99 ] || \
		{ echo "valgrind: spatten-info" >&2; exit 1; }
