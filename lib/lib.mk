# SPDX-License-Identifier: MIT
#
# libspatten, its tests and examples, and the tools (tools/tools.mk).
# Included from the top-level Makefile (`include lib/lib.mk`); every path is
# relative to the repository top, where make runs.
#
# Targets
#   lib          build/lib/libspatten.a and build/lib/libspatten.so.1.4.0
#                (host): -fPIC -fvisibility=hidden, the engine compiled in
#                with its symbols hidden (localized in the archive too),
#                only the public API exported, versioned by
#                lib/libspatten.map; soname libspatten.so.1; plus
#                build/lib/libspatten.pc
#   lib-check    host tests on the simulation backend (TAP): the whole API
#                with its error returns, the fp16/bf16 conversions
#                (test_dtype), the fixed-point conversions against scalar
#                references (test_fixed), the example, the check that the
#                shared library exports exactly the documented symbols,
#                make install + pkg-config, and the tools' exit codes
#   lib-check-valgrind  the unit tests and a short workload under valgrind
#   lib-check-asan      the same built with ASan + UBSan
#   tools        build/bin/spatten-demo, spatten-run, spatten-info,
#                spatten-replay (host)
#   guest-bins   static guest binaries in build/guest/bin: spatten-demo,
#                spatten-run, spatten-info (sysfs enumeration), spatten_test
#                (kselftest), spatten_lib_test (the library tests incl. the
#                device-vs-sim byte comparison) and gpt2_session
#   install      PREFIX (default /usr/local) and DESTDIR: library, headers,
#                pkg-config file, CMake package (LIBDIR/cmake/libspatten),
#                every tool, the Python module (python/python.mk), the man
#                pages (man/man.mk)
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
#   PREFIX, DESTDIR, LIBDIR, INCLUDEDIR, BINDIR   install locations
#   DRM_CFLAGS     where drm.h is, for the driver's UAPI header
#                  (default: -I/usr/include/libdrm, Debian's libdrm-dev;
#                  only the header: no libdrm library is linked)

# Including this file must not change the including Makefile's default goal.
LIB_SAVED_GOAL := $(.DEFAULT_GOAL)

SPATTEN_OUT ?= build
GUEST_CC ?= gcc
GUEST_CFLAGS ?= -O2 -static -march=x86-64 -mtune=generic
KSFT_DIR ?= /var/cache/spatten/ksrc/x/linux-source-6.1/tools/testing/selftests
LIB_WARN ?= -Wall -Wextra -Wshadow -Wstrict-prototypes -Wformat=2 \
	    -Wno-unused-parameter
PREFIX ?= /usr/local
LIBDIR ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
BINDIR ?= $(PREFIX)/bin

LIB_VERSION := 1.4.0
LIB_SRCS := lib/device.c lib/bo.c lib/fixed.c lib/job.c lib/submit.c \
	lib/sim.c lib/error.c lib/sim_job.c lib/session.c lib/session_layer.c \
	lib/session_kv.c lib/session_scale.c lib/session_view.c lib/dtype.c
LIB_ENGINE_SRCS := $(wildcard engine/*.c)
LIB_HDRS := lib/libspatten.h lib/spatten_types.h lib/spatten_private.h \
	    lib/sim.h lib/session.h lib/tests/lib_tap.h \
	    lib/spatten_drm.h include/uapi/drm/spatten_accel.h \
	    include/spatten_hw.h $(wildcard engine/*.h)
DRM_CFLAGS ?= -I/usr/include/libdrm
LIB_INC := -Iinclude -Ilib -Iengine $(DRM_CFLAGS)
LIB_STD := -std=gnu11 -D_GNU_SOURCE
# The engine is built as the device builds it: no contraction of float ops.
LIB_FP := -ffp-contract=off

LIB_OUT := $(SPATTEN_OUT)/lib
LIB_HOST_OBJS := $(patsubst lib/%.c,$(LIB_OUT)/obj/%.o,$(LIB_SRCS)) \
		 $(patsubst engine/%.c,$(LIB_OUT)/obj/engine/%.o,$(LIB_ENGINE_SRCS))
LIB_A := $(LIB_OUT)/libspatten.a
LIB_SO_NAME := libspatten.so.1
LIB_SO_REAL := $(LIB_OUT)/libspatten.so.$(LIB_VERSION)
LIB_SO := $(LIB_OUT)/libspatten.so
LIB_PC := $(LIB_OUT)/libspatten.pc
LIB_HOST_CFLAGS = -O2 -g $(LIB_STD) $(LIB_WARN) $(LIB_FP) $(LIB_INC) $(CFLAGS)

GUEST_OUT := $(SPATTEN_OUT)/guest
GUEST_LIB_OBJS := $(patsubst lib/%.c,$(GUEST_OUT)/obj/lib/%.o,$(LIB_SRCS)) \
		  $(patsubst engine/%.c,$(GUEST_OUT)/obj/lib/engine/%.o,$(LIB_ENGINE_SRCS))
GUEST_LIB_A := $(GUEST_OUT)/lib/libspatten.a
GUEST_ALL_CFLAGS = $(GUEST_CFLAGS) $(LIB_STD) $(LIB_WARN) $(LIB_FP) $(LIB_INC)

.PHONY: lib lib-check lib-check-valgrind lib-check-asan dtype-check-full \
	guest-bins install lib-clean

# The tools (their variables are used in prerequisites below).
include tools/tools.mk
# The example programs (lib/examples/README.md).
include lib/examples/examples.mk

lib: $(LIB_A) $(LIB_SO) $(LIB_PC)

# ---- host library --------------------------------------------------------

$(LIB_OUT)/obj/%.o: lib/%.c $(LIB_HDRS)
	@mkdir -p $(@D)
	$(CC) $(LIB_HOST_CFLAGS) -fPIC -fvisibility=hidden -c -o $@ $<

$(LIB_OUT)/obj/engine/%.o: engine/%.c $(LIB_HDRS)
	@mkdir -p $(@D)
	$(CC) $(LIB_HOST_CFLAGS) -fPIC -fvisibility=hidden -c -o $@ $<

# One relocatable object with every hidden symbol made local: the archive
# exports the public API only, so an application may link its own copy of
# the engine next to libspatten.a.
define LIB_MK_ARCHIVE
	@mkdir -p $(@D)
	rm -f $@ $@.o
	$(LD) -r -o $@.o $^
	objcopy --localize-hidden $@.o
	$(AR) rcs $@ $@.o
	rm -f $@.o
endef

$(LIB_A): $(LIB_HOST_OBJS)
	$(LIB_MK_ARCHIVE)

$(LIB_SO_REAL): $(LIB_HOST_OBJS) lib/libspatten.map
	$(CC) -shared -Wl,-soname,$(LIB_SO_NAME) \
		-Wl,--version-script=lib/libspatten.map -Wl,-z,defs \
		-o $@ $(LIB_HOST_OBJS) -lpthread -lm

$(LIB_SO): $(LIB_SO_REAL)
	ln -sf $(notdir $<) $(LIB_OUT)/$(LIB_SO_NAME)
	ln -sf $(notdir $<) $@

$(LIB_PC): lib/libspatten.pc.in lib/lib.mk
	@mkdir -p $(@D)
	sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@LIBDIR@|$(LIBDIR)|g' \
	    -e 's|@INCLUDEDIR@|$(INCLUDEDIR)|g' \
	    -e 's|@VERSION@|$(LIB_VERSION)|g' $< >$@

# ---- host tests ------------------------------------------------------------

LIB_TEST_BIN := $(LIB_OUT)/tests/test_libspatten
LIB_TEST3_BIN := $(LIB_OUT)/tests/test_jobs3
LIB_IO_TEST_BIN := $(LIB_OUT)/tests/test_session_io
LIB_FIXED_TEST_BIN := $(LIB_OUT)/tests/test_fixed
LIB_EXAMPLE_BIN := $(LIB_OUT)/examples/gpt2_session

$(LIB_TEST_BIN): lib/tests/test_libspatten.c $(LIB_A) $(LIB_HDRS)
	@mkdir -p $(@D)
	$(CC) $(LIB_HOST_CFLAGS) -o $@ $< $(LIB_A) -lpthread -lm

$(LIB_TEST3_BIN): lib/tests/test_jobs3.c $(LIB_A) $(LIB_HDRS)
	@mkdir -p $(@D)
	$(CC) $(LIB_HOST_CFLAGS) -o $@ $< $(LIB_A) -lpthread -lm

$(LIB_IO_TEST_BIN): lib/tests/test_session_io.c $(LIB_A) $(LIB_HDRS)
	@mkdir -p $(@D)
	$(CC) $(LIB_HOST_CFLAGS) -o $@ $< $(LIB_A) -lpthread -lm

$(LIB_FIXED_TEST_BIN): lib/tests/test_fixed.c $(LIB_A) $(LIB_HDRS)
	@mkdir -p $(@D)
	$(CC) $(LIB_HOST_CFLAGS) -o $@ $< $(LIB_A) -lpthread -lm

# The element-type tests link the library's object (they test an internal
# function too); --quick for the sanitizer build.
LIB_DTYPE_TEST_BIN := $(LIB_OUT)/tests/test_dtype

$(LIB_DTYPE_TEST_BIN): lib/tests/test_dtype.c $(LIB_OUT)/obj/dtype.o \
		      $(LIB_OUT)/obj/error.o $(LIB_HDRS)
	@mkdir -p $(@D)
	$(CC) $(LIB_HOST_CFLAGS) -o $@ $< $(LIB_OUT)/obj/dtype.o \
		$(LIB_OUT)/obj/error.o -lm

# The example links the shared library, as an installed application would.
$(LIB_EXAMPLE_BIN): lib/examples/gpt2_session.c $(LIB_SO) lib/libspatten.h \
		    lib/spatten_types.h
	@mkdir -p $(@D)
	$(CC) $(LIB_HOST_CFLAGS) -o $@ $< -L$(LIB_OUT) -lspatten \
		-Wl,-rpath,'$$ORIGIN/..' -lm

lib-check: $(LIB_TEST_BIN) $(LIB_TEST3_BIN) $(LIB_IO_TEST_BIN) \
	   $(LIB_DTYPE_TEST_BIN) $(LIB_FIXED_TEST_BIN) \
	   $(LIB_EXAMPLE_BIN) $(EXAMPLES_BINS) $(LIB_SO) $(TOOLS_HOST_BINS)
	@pass=0; bad=0; \
	echo "# $(LIB_TEST_BIN) (SPATTEN_BACKEND=sim)"; \
	if SPATTEN_BACKEND=sim $(LIB_TEST_BIN); then pass=$$((pass+1)); \
	else bad=$$((bad+1)); fi; \
	echo "# $(LIB_TEST3_BIN) (SPATTEN_BACKEND=sim)"; \
	if SPATTEN_BACKEND=sim $(LIB_TEST3_BIN); then pass=$$((pass+1)); \
	else bad=$$((bad+1)); fi; \
	echo "# $(LIB_IO_TEST_BIN) (SPATTEN_BACKEND=sim)"; \
	if SPATTEN_BACKEND=sim $(LIB_IO_TEST_BIN); then pass=$$((pass+1)); \
	else bad=$$((bad+1)); fi; \
	echo "# $(LIB_DTYPE_TEST_BIN) --quick"; \
	if $(LIB_DTYPE_TEST_BIN) --quick; then pass=$$((pass+1)); \
	else bad=$$((bad+1)); fi; \
	echo "# $(LIB_FIXED_TEST_BIN) (SPATTEN_BACKEND=sim)"; \
	if SPATTEN_BACKEND=sim $(LIB_FIXED_TEST_BIN); then pass=$$((pass+1)); \
	else bad=$$((bad+1)); fi; \
	echo "# $(LIB_EXAMPLE_BIN) (SPATTEN_BACKEND=sim)"; \
	if SPATTEN_BACKEND=sim $(LIB_EXAMPLE_BIN); then pass=$$((pass+1)); \
	else bad=$$((bad+1)); fi; \
	echo "# lib/examples (SPATTEN_BACKEND=sim)"; \
	if $(MAKE) -s --no-print-directory examples-check; then \
		pass=$$((pass+1)); else bad=$$((bad+1)); fi; \
	echo "# lib/tests/check-exports.sh"; \
	if lib/tests/check-exports.sh $(LIB_SO_REAL) lib/libspatten.map \
	    lib/libspatten.h README.md lib/examples/gpt2_session.c; \
	then pass=$$((pass+1)); \
	else bad=$$((bad+1)); fi; \
	echo "# lib/tests/check-install.sh"; \
	if lib/tests/check-install.sh "$(MAKE) SPATTEN_OUT=$(SPATTEN_OUT)"; then pass=$$((pass+1)); \
	else bad=$$((bad+1)); fi; \
	echo "# lib/tests/check-tools.sh"; \
	if lib/tests/check-tools.sh $(SPATTEN_OUT)/bin; then \
		pass=$$((pass+1)); else bad=$$((bad+1)); fi; \
	echo "# lib-check: $$pass passed, $$bad failed (test programs)"; \
	[ $$bad -eq 0 ]

# The fp16/bf16 conversions with their exhaustive ranges (lib-check runs
# --quick: every representable value widened, narrowing strided; this
# narrows 258 million floats, about 12 s).
dtype-check-full: $(LIB_DTYPE_TEST_BIN)
	$(LIB_DTYPE_TEST_BIN)

# The unit tests and a short workload under valgrind (leaks = failure).
lib-check-valgrind: $(LIB_TEST_BIN) $(SPATTEN_OUT)/bin/spatten-run
	valgrind -q --error-exitcode=99 --leak-check=full \
		--errors-for-leak-kinds=definite,indirect $(LIB_TEST_BIN)
	valgrind -q --error-exitcode=99 --leak-check=full \
		--errors-for-leak-kinds=definite,indirect \
		$(SPATTEN_OUT)/bin/spatten-run -b sim -p 32 -g 2 -q

# The unit tests and a short workload with ASan + UBSan (sources compiled
# together, the engine included).
LIB_ASAN := -O1 -g -fsanitize=address,undefined -fno-sanitize-recover=all \
	    -fno-omit-frame-pointer
# The library, the engine and the tools' sources compiled once, linked
# into each program.
LIB_ASAN_OBJ := $(LIB_OUT)/asan/obj
LIB_ASAN_LIB := $(patsubst %.c,$(LIB_ASAN_OBJ)/%.o,$(LIB_SRCS) $(LIB_ENGINE_SRCS))
LIB_ASAN_RUN := $(patsubst %.c,$(LIB_ASAN_OBJ)/%.o,$(TOOLS_RUN_SRCS))

$(LIB_ASAN_OBJ)/%.o: %.c $(LIB_HDRS) $(TOOLS_COMMON)
	@mkdir -p $(@D)
	$(CC) $(LIB_ASAN) $(LIB_STD) $(LIB_FP) $(LIB_INC) -Itools -c $< -o $@

lib-check-asan: lib/tests/test_libspatten.c lib/tests/test_dtype.c \
		lib/tests/test_session_io.c lib/tests/test_fixed.c \
		tools/spatten-run.c \
		$(LIB_ASAN_LIB) $(LIB_ASAN_RUN)
	@mkdir -p $(LIB_OUT)/asan
	$(CC) $(LIB_ASAN) $(LIB_STD) $(LIB_FP) $(LIB_INC) \
		-o $(LIB_OUT)/asan/test_libspatten lib/tests/test_libspatten.c \
		$(LIB_ASAN_LIB) -lpthread -lm
	$(CC) $(LIB_ASAN) $(LIB_STD) $(LIB_FP) $(LIB_INC) \
		-o $(LIB_OUT)/asan/test_session_io \
		lib/tests/test_session_io.c $(LIB_ASAN_LIB) -lpthread -lm
	$(CC) $(LIB_ASAN) $(LIB_STD) $(LIB_FP) $(LIB_INC) \
		-o $(LIB_OUT)/asan/test_dtype lib/tests/test_dtype.c \
		$(LIB_ASAN_OBJ)/lib/dtype.o $(LIB_ASAN_OBJ)/lib/error.o -lm
	$(CC) $(LIB_ASAN) $(LIB_STD) $(LIB_FP) $(LIB_INC) \
		-o $(LIB_OUT)/asan/test_fixed lib/tests/test_fixed.c \
		$(LIB_ASAN_LIB) -lpthread -lm
	$(CC) $(LIB_ASAN) $(LIB_STD) $(LIB_FP) $(LIB_INC) -Itools \
		-o $(LIB_OUT)/asan/spatten-run tools/spatten-run.c \
		$(LIB_ASAN_RUN) $(LIB_ASAN_LIB) -lpthread -lm
	$(LIB_OUT)/asan/test_libspatten
	SPATTEN_BACKEND=sim $(LIB_OUT)/asan/test_session_io
	$(LIB_OUT)/asan/test_dtype --quick
	SPATTEN_BACKEND=sim $(LIB_OUT)/asan/test_fixed --quick
	$(LIB_OUT)/asan/spatten-run -b sim -p 48 -g 2 -q

# ---- guest (static) --------------------------------------------------------

$(GUEST_OUT)/obj/lib/%.o: lib/%.c $(LIB_HDRS)
	@mkdir -p $(@D)
	$(GUEST_CC) $(GUEST_ALL_CFLAGS) -fvisibility=hidden -c -o $@ $<

$(GUEST_OUT)/obj/lib/engine/%.o: engine/%.c $(LIB_HDRS)
	@mkdir -p $(@D)
	$(GUEST_CC) $(GUEST_ALL_CFLAGS) -fvisibility=hidden -c -o $@ $<

$(GUEST_LIB_A): $(GUEST_LIB_OBJS)
	$(LIB_MK_ARCHIVE)

# spatten_test issues the driver's DRM ioctls raw (include/uapi/drm/,
# drm.h of Debian libdrm-dev).
$(GUEST_OUT)/bin/spatten_test: tests/guest/spatten_test.c $(GUEST_LIB_A) \
			       $(LIB_HDRS) include/uapi/drm/spatten_accel.h
	@test -f $(KSFT_DIR)/kselftest_harness.h || \
		{ echo "kselftest_harness.h not found in KSFT_DIR=$(KSFT_DIR)" >&2; exit 1; }
	@mkdir -p $(@D)
	$(GUEST_CC) $(GUEST_ALL_CFLAGS) -Wno-sign-compare -I$(KSFT_DIR) \
		-I/usr/include/libdrm \
		-o $@ $< $(GUEST_LIB_A) -lpthread -lm

$(GUEST_OUT)/bin/spatten_lib_test: lib/tests/test_libspatten.c \
				   $(GUEST_LIB_A) $(LIB_HDRS)
	@mkdir -p $(@D)
	$(GUEST_CC) $(GUEST_ALL_CFLAGS) -o $@ $< $(GUEST_LIB_A) -lpthread -lm

$(GUEST_OUT)/bin/spatten_jobs3_test: lib/tests/test_jobs3.c \
				     $(GUEST_LIB_A) $(LIB_HDRS)
	@mkdir -p $(@D)
	$(GUEST_CC) $(GUEST_ALL_CFLAGS) -o $@ $< $(GUEST_LIB_A) -lpthread -lm

$(GUEST_OUT)/bin/spatten_session_io_test: lib/tests/test_session_io.c \
					  $(GUEST_LIB_A) $(LIB_HDRS)
	@mkdir -p $(@D)
	$(GUEST_CC) $(GUEST_ALL_CFLAGS) -o $@ $< $(GUEST_LIB_A) -lpthread -lm

$(GUEST_OUT)/bin/gpt2_session: lib/examples/gpt2_session.c $(GUEST_LIB_A) \
			       lib/libspatten.h lib/spatten_types.h
	@mkdir -p $(@D)
	$(GUEST_CC) $(GUEST_ALL_CFLAGS) -o $@ $< $(GUEST_LIB_A) -lpthread -lm

guest-bins: $(GUEST_OUT)/bin/spatten_test $(GUEST_OUT)/bin/spatten_lib_test \
	    $(GUEST_OUT)/bin/spatten_jobs3_test \
	    $(GUEST_OUT)/bin/spatten_session_io_test \
	    $(GUEST_OUT)/bin/gpt2_session $(TOOLS_GUEST_BINS)

# ---- install ---------------------------------------------------------------

install: lib tools python-install man-install
	install -d $(DESTDIR)$(LIBDIR) $(DESTDIR)$(LIBDIR)/pkgconfig \
		$(DESTDIR)$(LIBDIR)/cmake/libspatten \
		$(DESTDIR)$(INCLUDEDIR) $(DESTDIR)$(BINDIR)
	install -m 644 $(LIB_A) $(DESTDIR)$(LIBDIR)/
	install -m 755 $(LIB_SO_REAL) $(DESTDIR)$(LIBDIR)/
	ln -sf libspatten.so.$(LIB_VERSION) $(DESTDIR)$(LIBDIR)/$(LIB_SO_NAME)
	ln -sf libspatten.so.$(LIB_VERSION) $(DESTDIR)$(LIBDIR)/libspatten.so
	sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@LIBDIR@|$(LIBDIR)|g' \
	    -e 's|@INCLUDEDIR@|$(INCLUDEDIR)|g' \
	    -e 's|@VERSION@|$(LIB_VERSION)|g' lib/libspatten.pc.in \
	    >$(DESTDIR)$(LIBDIR)/pkgconfig/libspatten.pc
	rel=$$(realpath -ms --relative-to=$(LIBDIR) $(INCLUDEDIR)) && \
	for f in libspatten-config libspatten-config-version; do \
		sed -e "s|@VERSION@|$(LIB_VERSION)|g" \
		    -e "s|@INCLUDEDIR_FROM_LIBDIR@|$$rel|g" lib/$$f.cmake.in \
		    >$(DESTDIR)$(LIBDIR)/cmake/libspatten/$$f.cmake; \
	done
	install -m 644 lib/libspatten.h lib/spatten_types.h \
		include/spatten_hw.h $(DESTDIR)$(INCLUDEDIR)/
	install -m 755 $(TOOLS_HOST_BINS) $(REPLAY_BIN) $(DESTDIR)$(BINDIR)/

lib-clean: tools-clean
	rm -rf $(LIB_OUT) $(GUEST_OUT)/obj/lib $(GUEST_LIB_A) \
		$(GUEST_OUT)/bin/spatten_test $(GUEST_OUT)/bin/spatten_lib_test \
		$(GUEST_OUT)/bin/spatten_jobs3_test \
		$(GUEST_OUT)/bin/spatten_session_io_test \
		$(GUEST_OUT)/bin/gpt2_session

.DEFAULT_GOAL := $(LIB_SAVED_GOAL)
