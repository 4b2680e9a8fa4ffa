# SPDX-License-Identifier: MIT
#
# The tools, included from lib/lib.mk. Paths relative to the repository top.
#
#   tools        build/bin/spatten-demo, spatten-run, spatten-info (host;
#                spatten-info uses libpci when libpci-dev is installed,
#                sysfs otherwise) and spatten-replay (tools/replay.mk)
#   guest-bins   (lib/lib.mk) adds the static guest builds of spatten-demo,
#                spatten-run and spatten-info (sysfs enumeration: Debian
#                has no static libpci)
#   tools-clean  remove them

TOOLS_HOST_BINS := $(SPATTEN_OUT)/bin/spatten-demo \
		   $(SPATTEN_OUT)/bin/spatten-run \
		   $(SPATTEN_OUT)/bin/spatten-info
TOOLS_GUEST_BINS := $(GUEST_OUT)/bin/spatten-demo $(GUEST_OUT)/bin/spatten-run \
		    $(GUEST_OUT)/bin/spatten-info
TOOLS_COMMON := tools/spatten-workload.c tools/spatten-workload.h \
		tools/spatten-workload-ref.c tools/spatten-workload-priv.h \
		tools/spatten-workload-board.c \
		tools/spatten-workload-report.c \
		tools/spatten-trace.c tools/spatten-trace.h \
		tools/spatten-report.c tools/spatten-report.h
# What spatten-demo and spatten-run link besides their main file.
TOOLS_RUN_SRCS := tools/spatten-workload.c tools/spatten-workload-ref.c \
		  tools/spatten-workload-board.c \
		  tools/spatten-workload-report.c \
		  tools/spatten-trace.c tools/spatten-report.c
# The tools call the engine directly (tolerance bound, trace replay): the
# library's objects of it, linked next to libspatten.a (whose own copy is
# local to the archive).
TOOLS_HOST_ENGINE := $(patsubst engine/%.c,$(LIB_OUT)/obj/engine/%.o,$(LIB_ENGINE_SRCS))
TOOLS_GUEST_ENGINE := $(patsubst engine/%.c,$(GUEST_OUT)/obj/lib/engine/%.o,$(LIB_ENGINE_SRCS))
# libpci when its development files are installed (libpci-dev), else the
# sysfs enumeration the guest build uses.
TOOLS_HAVE_LIBPCI := $(shell pkg-config --exists libpci 2>/dev/null && echo 1)
ifeq ($(TOOLS_HAVE_LIBPCI),1)
PCI_CFLAGS := $(shell pkg-config --cflags libpci)
PCI_LIBS := $(shell pkg-config --libs libpci)
else
PCI_CFLAGS := -DSPATTEN_INFO_SYSFS
PCI_LIBS :=
endif

.PHONY: tools host-demo tools-clean

# Every tool: spatten-replay's rules are in tools/replay.mk.
tools: $(TOOLS_HOST_BINS) replay
host-demo: $(SPATTEN_OUT)/bin/spatten-demo

$(SPATTEN_OUT)/bin/spatten-demo $(SPATTEN_OUT)/bin/spatten-run: \
		$(SPATTEN_OUT)/bin/%: tools/%.c $(TOOLS_COMMON) $(LIB_A) $(LIB_HDRS) \
		$(TOOLS_HOST_ENGINE)
	@mkdir -p $(@D)
	$(CC) $(LIB_HOST_CFLAGS) -Itools -o $@ $< $(TOOLS_RUN_SRCS) \
		$(TOOLS_HOST_ENGINE) $(LIB_A) -lpthread -lm

$(SPATTEN_OUT)/bin/spatten-info: tools/spatten-info.c $(LIB_A) $(LIB_HDRS)
	@mkdir -p $(@D)
	$(CC) $(LIB_HOST_CFLAGS) $(PCI_CFLAGS) -o $@ $< $(LIB_A) $(PCI_LIBS) -lm \
		-lpthread

$(GUEST_OUT)/bin/spatten-demo $(GUEST_OUT)/bin/spatten-run: \
		$(GUEST_OUT)/bin/%: tools/%.c $(TOOLS_COMMON) \
		$(GUEST_LIB_A) $(LIB_HDRS) $(TOOLS_GUEST_ENGINE)
	@mkdir -p $(@D)
	$(GUEST_CC) $(GUEST_ALL_CFLAGS) -Itools -o $@ $< \
		$(TOOLS_RUN_SRCS) $(TOOLS_GUEST_ENGINE) $(GUEST_LIB_A) \
		-lpthread -lm

# No static libpci in Debian: the guest build enumerates through sysfs.
$(GUEST_OUT)/bin/spatten-info: tools/spatten-info.c $(GUEST_LIB_A) $(LIB_HDRS)
	@mkdir -p $(@D)
	$(GUEST_CC) $(GUEST_ALL_CFLAGS) -DSPATTEN_INFO_SYSFS -o $@ $< \
		$(GUEST_LIB_A) -lpthread -lm

tools-clean:
	rm -f $(TOOLS_HOST_BINS) $(TOOLS_GUEST_BINS)
