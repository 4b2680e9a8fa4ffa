#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Pack the guest initramfs: busybox-static, spatten.ko, the guest binaries.
# Usage: mk-initramfs.sh MODULE BINDIR OUTPUT (test programs: BINDIR/*_test)
# SPATTEN_EXTRA_MODULES="a.ko b.ko ...": the kernel's own modules the guest
# loads before spatten.ko, in that order (the debug kernel's DRM stack).
set -euo pipefail
. "$(dirname "$0")/common.sh"

module=$1 bindir=$2 output=$3
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT

# mktemp -d is 0700: the guest's / must be searchable by unprivileged users.
chmod 755 "$root"
mkdir -p "$root"/{bin,dev,proc,sys,tmp,lib/modules}
chmod 1777 "$root/tmp"
cp /bin/busybox "$root/bin/busybox"
ln -s busybox "$root/bin/sh"
cp "$SPATTEN_TOP/scripts/guest-init.sh" "$root/init"
chmod 755 "$root/init"
cp "$module" "$root/lib/modules/spatten.ko"
for m in ${SPATTEN_EXTRA_MODULES:-}; do
	cp "$m" "$root/lib/modules/"
	basename "$m" >>"$root/lib/modules/load-order"
done
for f in "$bindir"/*; do
	[ -f "$f" ] && cp "$f" "$root/bin/"
done
(cd "$root" && find . | LC_ALL=C sort | cpio -o -H newc --quiet) |
	gzip -1 >"$output.tmp"
mv "$output.tmp" "$output"
