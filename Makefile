# SPDX-License-Identifier: MIT
#
# SpAtten stack: one command builds everything, one tests it end to end.
#
#   make demo    set up (first run: packages, QEMU build, guest kernel), boot
#                the guest with the device and run the built-in workload
#   make check   set up, then every test: host, driver checks, guest suite
#
# Downloads, the QEMU tree and build, and guest kernels live in
# $(SPATTEN_CACHE) (default /var/cache/spatten); build outputs in build/.

SPATTEN_CACHE ?= /var/cache/spatten
export SPATTEN_CACHE

BUILD := build
KABI_FILE := $(BUILD)/kernel-abi
KSFT_FILE := $(BUILD)/ksrc-dir
INITRAMFS := $(BUILD)/initramfs.cpio.gz

# Resolved at set-up time (they change with Debian updates), read here.
KABI = $(shell cat $(KABI_FILE) 2>/dev/null)
KSRC = $(shell cat $(KSFT_FILE) 2>/dev/null)
KDIR = /usr/src/linux-headers-$(KABI)
KSFT_DIR = $(KSRC)/tools/testing/selftests
export KSFT_DIR

.PHONY: all setup deps qemu kernel ktools module host guest initramfs \
	demo check guest-check driver-lint clean distclean

all: qemu module host guest initramfs

include tests/host/host.mk
include lib/lib.mk

# ---- set-up: packages, QEMU, guest kernel, kernel-source extracts --------

deps:
	@scripts/setup-deps.sh

qemu: deps
	@scripts/build-qemu.sh

kernel: deps
	@mkdir -p $(BUILD)
	@scripts/fetch-kernel.sh >$(KABI_FILE).tmp && mv $(KABI_FILE).tmp $(KABI_FILE)

ktools: deps
	@mkdir -p $(BUILD)
	@scripts/fetch-kernel-tools.sh >$(KSFT_FILE).tmp && \
		mv $(KSFT_FILE).tmp $(KSFT_FILE)

setup: qemu kernel ktools

# ---- builds ------------------------------------------------------------

module: kernel
	@echo "==> Building spatten.ko against $(KDIR)"
	@$(MAKE) -s -C $(KDIR) M=$(CURDIR) W=1 modules

host: deps host-tests lib

guest: ktools
	@$(MAKE) -s guest-bins

initramfs: module guest
	@echo "==> Packing the guest initramfs"
	@scripts/mk-initramfs.sh spatten.ko $(BUILD)/guest/bin $(INITRAMFS)

# ---- the two commands of README.md ---------------------------------------

demo: all
	@scripts/vm-run.sh demo $(SPATTEN_CACHE)/kernel/$(KABI)/vmlinuz $(INITRAMFS)

check: all
	@scripts/check.sh

# ---- pieces of `make check` ------------------------------------------------

guest-check:
	@scripts/vm-run.sh check $(SPATTEN_CACHE)/kernel/$(KABI)/vmlinuz $(INITRAMFS)

CHECKPATCH = perl $(KSRC)/scripts/checkpatch.pl --strict --no-tree \
	--ignore FILE_PATH_CHANGES,SPDX_LICENSE_TAG

driver-lint:
	@if $(CHECKPATCH) -q -f driver/*.[ch] >$(BUILD)/checkpatch.log 2>&1; then \
		echo "ok - checkpatch --strict is clean on driver/"; \
	else \
		echo "not ok - checkpatch --strict is clean on driver/"; \
		sed 's/^/# /' $(BUILD)/checkpatch.log | head -n 40; \
	fi
	@$(MAKE) -s -C $(KDIR) M=$(CURDIR) C=2 modules >$(BUILD)/sparse.log 2>&1; \
	if grep -E 'warning|error' $(BUILD)/sparse.log | grep -v '^make' \
		>$(BUILD)/sparse.hits; [ -s $(BUILD)/sparse.hits ]; then \
		echo "not ok - sparse (C=2) is clean on the driver"; \
		sed 's/^/# /' $(BUILD)/sparse.hits | head -n 40; \
	else \
		echo "ok - sparse (C=2) is clean on the driver"; \
	fi

clean: host-clean lib-clean
	-@[ -d "$(KDIR)" ] && $(MAKE) -s -C $(KDIR) M=$(CURDIR) clean
	rm -rf $(BUILD)

distclean: clean
	rm -rf $(SPATTEN_CACHE)
