#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Resolve the guest kernel Debian ships today (linux-image-amd64 by default,
# or the meta package given as $1), unpack its image into the cache (not
# installed on the host), install the matching headers, and print the ABI
# name (e.g. 6.1.0-56-amd64) on stdout.
set -euo pipefail
. "$(dirname "$0")/common.sh"

meta=${1:-linux-image-amd64}
image=$(apt-cache depends "$meta" 2>/dev/null |
	awk '/Depends: linux-image-[0-9]/ { print $2; exit }')
if [ -z "$image" ]; then
	printf 'FAILED: step "kernel-resolve": no linux-image-* behind %s (apt-get update?)\n' \
		"$meta" >&2
	exit 1
fi
abi=${image#linux-image-}
kdir=$SPATTEN_CACHE/kernel/$abi

if [ ! -e "$kdir/vmlinuz" ]; then
	step "Fetching guest kernel $image (unpacked into $kdir)"
	rm -rf "$kdir" && mkdir -p "$kdir/deb"
	(cd "$kdir/deb" && run_logged kernel-download apt-get download "$image")
	run_logged kernel-unpack dpkg-deb -x "$kdir"/deb/*.deb "$kdir/root"
	ln -sf "root/boot/vmlinuz-$abi" "$kdir/vmlinuz"
	rm -rf "$kdir/deb"
fi
if [ ! -d "/usr/src/linux-headers-$abi" ]; then
	step "Installing linux-headers-$abi"
	DEBIAN_FRONTEND=noninteractive run_logged kernel-headers \
		apt-get install -y --no-install-recommends "linux-headers-$abi"
fi
echo "$abi"
