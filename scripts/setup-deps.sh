#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Install the Debian packages the build and tests need, only those missing,
# and the deb-src entry that `apt-get source qemu` needs.
set -euo pipefail
. "$(dirname "$0")/common.sh"

packages=(
	build-essential dpkg-dev meson ninja-build pkg-config python3
	libglib2.0-dev libpixman-1-dev libfdt-dev flex bison	# QEMU build
	qemu-system-data seabios				# QEMU firmware
	busybox-static cpio gzip xz-utils			# guest image
	sparse perl						# driver checks
	clang libclang-rt-14-dev valgrind			# fuzzing, sanitizers
	libpci-dev pciutils					# spatten-info
	libdrm-dev						# drm.h for the UAPI header
	groff-base man-db					# man pages (man-check)
	gcc-multilib libc6-dev-i386			# i386 UAPI test (spatten_uapi32)
	libopenblas-dev gnuplot-nox				# benchmarks
	bc libssl-dev libelf-dev kmod			# debug guest kernel
	python3-numpy python3-torch python3-pytest python3-flake8	# Python package
	python3-setuptools python3-pip python3-venv		# its install test
)

src_list=/etc/apt/sources.list.d/spatten-deb-src.sources
need_update=
if ! grep -rqs '^Types:.*deb-src' /etc/apt/sources.list.d/ &&
   ! grep -qs '^deb-src' /etc/apt/sources.list; then
	step "Adding a deb-src entry for Debian's sources ($src_list)"
	cat >"$src_list" <<'SRC'
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
	need_update=1
fi

missing=()
for p in "${packages[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
		grep -q 'install ok installed' || missing+=("$p")
done

stamp=$SPATTEN_CACHE/apt-updated
if [ -n "$need_update" ] || { [ ${#missing[@]} -gt 0 ] && [ ! -e "$stamp" ]; }; then
	step "apt-get update"
	run_logged apt-update apt-get update
	touch "$stamp"
fi
if [ ${#missing[@]} -gt 0 ]; then
	step "Installing ${#missing[@]} Debian packages: ${missing[*]}"
	DEBIAN_FRONTEND=noninteractive run_logged apt-install \
		apt-get install -y --no-install-recommends "${missing[@]}"
fi
