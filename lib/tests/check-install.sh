#!/bin/sh
# SPDX-License-Identifier: MIT
#
# `make install` with PREFIX and DESTDIR gives a usable library: install
# into a scratch DESTDIR, build the README example with the flags of the
# installed pkg-config file, run it on the simulation backend. Prints TAP.
#
# Usage: check-install.sh MAKE
set -u
make=${1:-make}
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
n=0 bad=0
t() {
	n=$((n + 1))
	if [ "$1" = 0 ]; then echo "ok $n - $2"; else
		echo "not ok $n - $2"; bad=$((bad + 1)); fi
}

$make -s install DESTDIR="$tmp/root" PREFIX=/opt/spatten >"$tmp/log" 2>&1
r=$?
[ $r = 0 ] || sed 's/^/# /' "$tmp/log"
t $r "make install DESTDIR=... PREFIX=/opt/spatten"
lib=$tmp/root/opt/spatten/lib
for f in include/libspatten.h include/spatten_types.h include/spatten_hw.h \
	lib/libspatten.a lib/libspatten.so.1 lib/pkgconfig/libspatten.pc \
	lib/cmake/libspatten/libspatten-config.cmake \
	lib/cmake/libspatten/libspatten-config-version.cmake \
	bin/spatten-run bin/spatten-demo bin/spatten-info bin/spatten-replay \
	share/man/man1/spatten-run.1 share/man/man3/libspatten.3 \
	share/man/man3/spatten_wait.3 share/man/man4/spatten.4; do
	[ -e "$tmp/root/opt/spatten/$f" ]
	t $? "installed $f"
done
! grep -E '^#[[:space:]]*include.*(uapi/|drm)' \
	"$tmp/root/opt/spatten/include/libspatten.h" \
	"$tmp/root/opt/spatten/include/spatten_types.h"
t $? "the library's headers include no driver UAPI (nor drm.h)"
[ ! -e "$tmp/root/opt/spatten/include/uapi" ]
t $? "no uapi/ directory is installed"
grep -q '^prefix=/opt/spatten$' "$lib/pkgconfig/libspatten.pc"
t $? "pkg-config file names the prefix"
flags=$(PKG_CONFIG_SYSROOT_DIR="$tmp/root" \
	PKG_CONFIG_LIBDIR="$lib/pkgconfig" \
	pkg-config --cflags --libs libspatten 2>&1)
t $? "pkg-config --cflags --libs libspatten: $flags"
# shellcheck disable=SC2086
${CC:-cc} -o "$tmp/example" lib/examples/gpt2_session.c $flags \
	>"$tmp/log" 2>&1
r=$?
[ $r = 0 ] || sed 's/^/# /' "$tmp/log"
t $r "the example builds against the installed library"
SPATTEN_BACKEND=sim LD_LIBRARY_PATH="$lib" "$tmp/example" >"$tmp/log" 2>&1
r=$?
[ $r = 0 ] || sed 's/^/# /' "$tmp/log"
t $r "and runs (simulation backend)"
# The CMake package: find_package() with a version, the imported target,
# the example built and run against it (the staged tree: the package finds
# its paths from its own place).
if command -v cmake >/dev/null 2>&1; then
	mkdir -p "$tmp/cm"
	cp lib/examples/gpt2_session.c "$tmp/cm/"
	cat >"$tmp/cm/CMakeLists.txt" <<'CMAKE'
cmake_minimum_required(VERSION 3.13)
project(spatten_cmake_check C)
find_package(libspatten 1.4 CONFIG REQUIRED)
add_executable(gpt2_session gpt2_session.c)
target_link_libraries(gpt2_session PRIVATE libspatten::libspatten)
CMAKE
	{ cmake -S "$tmp/cm" -B "$tmp/cm/b" \
		-DCMAKE_PREFIX_PATH="$tmp/root/opt/spatten" &&
	  cmake --build "$tmp/cm/b"; } >"$tmp/log" 2>&1
	r=$?
	[ $r = 0 ] || sed 's/^/# /' "$tmp/log"
	t $r "find_package(libspatten 1.4 CONFIG) builds the example"
	SPATTEN_BACKEND=sim LD_LIBRARY_PATH="$lib" "$tmp/cm/b/gpt2_session" \
		>"$tmp/log" 2>&1
	r=$?
	[ $r = 0 ] || sed 's/^/# /' "$tmp/log"
	t $r "and it runs (simulation backend)"
	mkdir -p "$tmp/cm2"
	sed 's/libspatten 1.4/libspatten 2.0/' "$tmp/cm/CMakeLists.txt" \
		>"$tmp/cm2/CMakeLists.txt"
	cp lib/examples/gpt2_session.c "$tmp/cm2/"
	! cmake -S "$tmp/cm2" -B "$tmp/cm2/b" \
		-DCMAKE_PREFIX_PATH="$tmp/root/opt/spatten" >"$tmp/log" 2>&1
	t $? "find_package(libspatten 2.0) is refused (another major version)"
else
	echo "ok $((n + 1)) - # SKIP no cmake: the CMake package is not checked"
	n=$((n + 1))
fi
echo "1..$n"
[ $bad = 0 ]
