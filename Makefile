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
KABI612_FILE := $(BUILD)/kernel-abi-6.12
KABI612 = $(shell cat $(KABI612_FILE) 2>/dev/null)
KDIR612 = /usr/src/linux-headers-$(KABI612)
KMOD61 := $(BUILD)/kmod-6.1
KMOD612 := $(BUILD)/kmod-6.12
INITRAMFS612 := $(BUILD)/initramfs-6.12.cpio.gz

.PHONY: all setup deps qemu kernel ktools module host guest initramfs \
	demo check guest-check driver-lint clean distclean kernel-6.12 \
	module-6.12 debug-kernel module-debug debug-check

all: qemu module host guest initramfs

include tests/host/host.mk
include lib/lib.mk
include python/python.mk
include man/man.mk
include tests/guest/driver.mk
-include bench/bench.mk
-include tools/replay.mk
include fuzz/fuzz.mk
include tests/reliability/reliability.mk

# ---- set-up: packages, QEMU, guest kernel, kernel-source extracts --------

deps:
	@scripts/setup-deps.sh

qemu: deps
	@scripts/build-qemu.sh

kernel: deps
	@mkdir -p $(BUILD)
	@scripts/fetch-kernel.sh >$(KABI_FILE).tmp && mv $(KABI_FILE).tmp $(KABI_FILE)
	@$(MAKE) -s kernel-6.12

# The second guest kernel: Debian 12's 6.12 (image unpacked, headers
# installed); the module is built and the guest suite booted on both.
kernel-6.12: deps
	@mkdir -p $(BUILD)
	@scripts/fetch-kernel.sh linux-image-6.12-amd64 >$(KABI612_FILE).tmp && \
		mv $(KABI612_FILE).tmp $(KABI612_FILE)

ktools: deps
	@mkdir -p $(BUILD)
	@scripts/fetch-kernel-tools.sh >$(KSFT_FILE).tmp && \
		mv $(KSFT_FILE).tmp $(KSFT_FILE)

# The debug guest kernel (KASAN, lockdep, kmemleak, DMA-API debugging,
# fault injection), built from Debian's linux-source-6.12 into the cache:
# about 16 minutes the first time, nothing after unless an input changed.
DKTREE_FILE := $(BUILD)/debug-kernel-tree
DKTREE = $(shell cat $(DKTREE_FILE) 2>/dev/null)
DKMODS = $(SPATTEN_CACHE)/debug-kernel/modroot
KMODDBG := $(BUILD)/kmod-debug
INITRAMFSDBG := $(BUILD)/initramfs-debug.cpio.gz

debug-kernel: deps
	@mkdir -p $(BUILD)
	@scripts/build-debug-kernel.sh >$(DKTREE_FILE).tmp && \
		mv $(DKTREE_FILE).tmp $(DKTREE_FILE)

setup: qemu kernel ktools debug-kernel

# ---- builds ------------------------------------------------------------

# Kbuild builds in a copy of the sources per kernel, after the compile
# probes (scripts/kconftest.sh) wrote that kernel's spatten_conftest.h:
# $(BUILD)/kmod-<series>/, the module ending up in
# $(BUILD)/module-<series>/spatten.ko. cp -u keeps unchanged files' times,
# so Kbuild rebuilds only what changed.
KMOD_COPY = mkdir -p $(1)/driver $(1)/include/uapi/drm && \
	cp -u Kbuild $(1)/ && cp -u driver/*.[ch] $(1)/driver/ && \
	cp -u include/*.h $(1)/include/ && \
	cp -u include/uapi/drm/*.h $(1)/include/uapi/drm/ && \
	scripts/kconftest.sh $(2) $(1)/driver/spatten_conftest.h

module: kernel
	@echo "==> Building spatten.ko against $(KDIR)"
	@$(call KMOD_COPY,$(KMOD61),$(KDIR))
	@$(MAKE) -s -C $(KDIR) M=$(CURDIR)/$(KMOD61) W=1 modules
	@mkdir -p $(BUILD)/module-6.1 && cp $(KMOD61)/spatten.ko $(BUILD)/module-6.1/
	@$(MAKE) -s module-6.12

module-6.12: kernel-6.12
	@echo "==> Building spatten.ko against $(KDIR612)"
	@$(call KMOD_COPY,$(KMOD612),$(KDIR612))
	@$(MAKE) -s -C $(KDIR612) M=$(CURDIR)/$(KMOD612) W=1 modules
	@mkdir -p $(BUILD)/module-6.12 && \
		cp $(KMOD612)/spatten.ko $(BUILD)/module-6.12/

# spatten.ko for the debug kernel, built against its tree.
module-debug: debug-kernel
	@echo "==> Building spatten.ko against the debug kernel"
	@$(call KMOD_COPY,$(KMODDBG),$(DKTREE))
	@$(MAKE) -s -C $(DKTREE) M=$(CURDIR)/$(KMODDBG) W=1 modules
	@mkdir -p $(BUILD)/module-debug && \
		cp $(KMODDBG)/spatten.ko $(BUILD)/module-debug/

host: deps host-tests lib

guest: ktools
	@$(MAKE) -s guest-bins

# Every guest image carries the DRM stack spatten.ko builds on (drm, the
# GEM shmem helpers, gpu-sched), taken from the guest kernel's own module
# tree with what they depend on, and loads it first, in dependency order
# (scripts/kmod-deps.sh reads the tree's modules.dep, or depmod -n).
DRM_MODULES := drm drm_shmem_helper gpu-sched
KMODDIR61 = $(SPATTEN_CACHE)/kernel/$(KABI)/root/lib/modules/$(KABI)
KMODDIR612 = $(SPATTEN_CACHE)/kernel/$(KABI612)/root/lib/modules/$(KABI612)
DKMODDIR = $(firstword $(wildcard $(DKMODS)/lib/modules/*))
# $(call PACK_INITRAMFS,spatten.ko,module tree,output)
PACK_INITRAMFS = mods=$$(scripts/kmod-deps.sh $(2) $(DRM_MODULES)) && \
	SPATTEN_EXTRA_MODULES="$$mods" scripts/mk-initramfs.sh $(1) \
	$(BUILD)/guest/bin $(3)

initramfs: module guest
	@echo "==> Packing the guest initramfs"
	@$(call PACK_INITRAMFS,$(BUILD)/module-6.1/spatten.ko,$(KMODDIR61),$(INITRAMFS))

# ---- the two commands of README.md ---------------------------------------

demo: all
	@scripts/vm-run.sh demo $(SPATTEN_CACHE)/kernel/$(KABI)/vmlinuz $(INITRAMFS)

check: all module-debug
	@scripts/check.sh

# ---- pieces of `make check` ------------------------------------------------

# Four boots, each followed by a scan of its kernel log: 6.1 with MSI-X,
# 6.1 with the device's MSI-X off (MSI), 6.12 with MSI-X, 6.12 with
# pci=nomsi (INTx). spatten_expect_irq tells the driver test which mode the
# driver must report. The demo (half a minute of TCG) runs on the first
# boot only; the library's suites (the device against the simulation) on
# the two MSI-X boots, one per kernel: the MSI and INTx boots run the
# suites of the kernel interface (spatten_suites=driver), as the debug
# kernel does (with the session I/O suite); the reliability short forms
# run on every boot but the MSI one (MSI-X's message-signalled path).
GUEST_BOOTS := 6.1:$(KABI):$(INITRAMFS)::msix \
	6.1-msix-off:$(KABI):$(INITRAMFS):msix=off:msi \
	6.12:$(KABI612):$(INITRAMFS612)::msix \
	6.12-intx:$(KABI612):$(INITRAMFS612)::intx

guest-check: module-6.12
	@$(call PACK_INITRAMFS,$(BUILD)/module-6.12/spatten.ko,$(KMODDIR612),$(INITRAMFS612))
	@rc=0; for b in $(GUEST_BOOTS); do \
		IFS=:; set -- $$b; unset IFS; \
		tag=$$1 abi=$$2 initrd=$$3 devopts=$$4 irq=$$5; \
		echo "# guest boot $$tag: kernel $$abi, -device spatten$${devopts:+,$$devopts}"; \
		append="spatten_expect_irq=$$irq"; \
		[ "$$tag" = 6.1 ] || append="$$append spatten_demo=skip"; \
		[ "$$devopts$$irq" = msix ] || append="$$append spatten_suites=driver"; \
		[ "$$irq" = msi ] && append="$$append spatten_rel=skip"; \
		[ "$$irq" = intx ] && append="$$append pci=nomsi"; \
		SPATTEN_VM_TAG=$$tag SPATTEN_VM_APPEND="$$append" \
			scripts/vm-run.sh check $(SPATTEN_CACHE)/kernel/$$abi/vmlinuz \
			$$initrd "$$devopts" || rc=1; \
		out=$$(scripts/scan-klog.sh $(SPATTEN_CACHE)/logs/guest-console-$$tag.log) || rc=1; \
		printf '%s\n' "$$out" | sed "s/ - guest kernel log/ - boot $$tag: guest kernel log/"; \
	done; exit $$rc

# The fifth boot: the debug kernel with the DRM stack it carries (drm,
# drm_shmem_helper, gpu-sched and what they depend on) loaded first; the
# suites, the short forms of the campaigns, the allocation-failure sweep,
# kmemleak; then the scan of its log for KASAN, lockdep, kmemleak, DMA-API
# and WARNING reports.
# DEBUG_CHECK_MODE=long runs the campaigns' long forms (make reliability);
# DEBUG_CHECK_RUN=failnth the allocation-failure sweep alone.
DEBUG_CHECK_MODE ?= short
DEBUG_CHECK_RUN ?= debugcheck

debug-check: module-debug guest
	@$(call PACK_INITRAMFS,$(BUILD)/module-debug/spatten.ko,$(DKMODDIR),$(INITRAMFSDBG))
	@echo "# guest boot debug: the debug kernel (KASAN, lockdep, kmemleak, DMA-API, fault injection)"
	@scripts/debug-boot.sh $(DEBUG_CHECK_RUN) $(DKTREE)/arch/x86/boot/bzImage \
		$(INITRAMFSDBG) \
		"spatten_expect_irq=msix spatten_demo=skip spatten_suites=driver spatten_suites_v3=1 spatten_rel=$(DEBUG_CHECK_MODE) no5lvl $(REL_GUEST_ARGS)"

CHECKPATCH = perl $(KSRC)/scripts/checkpatch.pl --strict --no-tree \
	--ignore FILE_PATH_CHANGES,SPDX_LICENSE_TAG

# checkpatch --strict; then a W=1 C=1 (sparse) build from scratch against
# each kernel's headers, in copies of the sources: any warning is a failure.
driver-lint:
	@if $(CHECKPATCH) -q -f driver/*.[ch] >$(BUILD)/checkpatch.log 2>&1; then \
		echo "ok - checkpatch --strict is clean on driver/"; \
	else \
		echo "not ok - checkpatch --strict is clean on driver/"; \
		sed 's/^/# /' $(BUILD)/checkpatch.log | head -n 40; \
	fi
	@for k in 6.1:$(KDIR) 6.12:$(KDIR612); do \
		v=$${k%%:*} kd=$${k#*:} d=$(BUILD)/lint-$${k%%:*}; \
		rm -rf $$d; $(call KMOD_COPY,$$d,$$kd); \
		log=$(BUILD)/lint-$$v.log; \
		$(MAKE) -s -C $$kd M=$(CURDIR)/$$d W=1 C=1 modules >$$log 2>&1; \
		st=$$?; \
		grep -E 'warning|error' $$log | grep -v '^make' >$$log.hits; \
		if [ $$st = 0 ] && [ ! -s $$log.hits ]; then \
			echo "ok - driver builds with W=1 and sparse (C=1) clean against $$v headers"; \
		else \
			echo "not ok - driver builds with W=1 and sparse (C=1) clean against $$v headers"; \
			sed 's/^/# /' $$log.hits | head -n 40; \
		fi; \
	done

clean: host-clean lib-clean
	rm -rf $(BUILD)

distclean: clean
	rm -rf $(SPATTEN_CACHE)
