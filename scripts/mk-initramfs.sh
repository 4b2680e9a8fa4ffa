#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Pack the guest initramfs: busybox-static, spatten.ko, the guest binaries.
# Usage: mk-initramfs.sh MODULE BINDIR OUTPUT (test programs: BINDIR/*_test)
# SPATTEN_EXTRA_MODULES="a.ko b.ko.xz ...": the kernel's own modules the
# guest loads before spatten.ko, in that order (the DRM stack, listed by
# scripts/kmod-deps.sh). Compressed ones (.ko.xz, .ko.zst, .ko.gz: Debian
# ships .xz from 6.12 on) are packed decompressed: busybox insmod reads
# plain ELF only.
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
	name=$(basename "$m")
	case $name in
	*.ko.xz) name=${name%.xz}; xz -dc "$m" >"$root/lib/modules/$name" ;;
	*.ko.zst) name=${name%.zst}; zstd -qdc "$m" >"$root/lib/modules/$name" ;;
	*.ko.gz) name=${name%.gz}; gzip -dc "$m" >"$root/lib/modules/$name" ;;
	*.ko) cp "$m" "$root/lib/modules/$name" ;;
	*) echo "$0: $m: not a kernel module file" >&2; exit 1 ;;
	esac
	[ "$name" != spatten.ko ] && ! grep -qx "$name" "$root/lib/modules/load-order" 2>/dev/null ||
		{ echo "$0: $name packed twice" >&2; exit 1; }
	echo "$name" >>"$root/lib/modules/load-order"
done
for f in "$bindir"/*; do
	[ -f "$f" ] && cp "$f" "$root/bin/"
done
(cd "$root" && find . | LC_ALL=C sort | cpio -o -H newc --quiet) |
	gzip -1 >"$output.tmp"
mv "$output.tmp" "$output"
