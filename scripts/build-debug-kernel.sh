#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Build the debug guest kernel: Debian's linux-source-6.12 with
# x86_64_defconfig + kvm_guest.config + scripts/debug-kernel.config (KASAN,
# lockdep, kmemleak, DMA-API debugging, KFENCE, fault injection; DRM,
# drm_sched and the GEM shmem helpers as modules). The tree stays in
# $SPATTEN_CACHE/debug-kernel so out-of-tree modules build against it
# (make -C <tree> M=...) and a rebuild happens only when an input changes:
# the source package version, the fragment or this script.
# Prints the tree's path on stdout.
set -euo pipefail
shopt -s nullglob
. "$(dirname "$0")/common.sh"

base=$SPATTEN_CACHE/debug-kernel
fragment=$SPATTEN_TOP/scripts/debug-kernel.config
mkdir -p "$base"

# The source package: downloaded once per Debian version.
deb=$(ls "$base"/linux-source-6.12_*.deb 2>/dev/null | tail -n 1 || true)
want=$(apt-cache policy linux-source-6.12 2>/dev/null |
	awk '/Candidate:/ { print $2; exit }')
if [ -z "$deb" ] || { [ -n "$want" ] && [ "$want" != "(none)" ] &&
	[[ "$deb" != *"_${want//:/%3a}_"* ]]; }; then
	step "Fetching Debian's linux-source-6.12 ${want:-}"
	rm -f "$base"/linux-source-6.12_*.deb
	(cd "$base" && run_logged dkernel-download apt-get download linux-source-6.12)
	deb=$(ls "$base"/linux-source-6.12_*.deb | tail -n 1)
fi
version=$(basename "$deb" .deb)
tree=$base/$version/linux-source-6.12
if [ ! -f "$tree/.spatten-unpacked" ]; then
	step "Unpacking $version (about 1.7 GB)"
	rm -rf "${base:?}/$version" && mkdir -p "$base/$version"
	dpkg-deb --fsys-tarfile "$deb" |
		tar -xO ./usr/src/linux-source-6.12.tar.xz |
		tar -xJ -C "$base/$version" ||
		{ echo 'FAILED: step "dkernel-unpack"' >&2; exit 1; }
	touch "$tree/.spatten-unpacked"
fi

inputs=$( { echo "$version"; cat "$fragment" "$0"; } | sha256sum | cut -c1-16)
stamp=$tree/.spatten-built
if [ "$(cat "$stamp" 2>/dev/null)" = "$inputs" ] &&
   [ -f "$tree/arch/x86/boot/bzImage" ]; then
	echo "$tree"
	exit 0
fi

step "Configuring the debug kernel ($version + scripts/debug-kernel.config)"
rm -f "$stamp"
(cd "$tree" &&
	run_logged dkernel-defconfig make x86_64_defconfig &&
	run_logged dkernel-merge scripts/kconfig/merge_config.sh -m .config \
		kernel/configs/kvm_guest.config "$fragment" &&
	run_logged dkernel-olddefconfig make olddefconfig)
# merge_config.sh only warns when a symbol does not survive olddefconfig
# (a dependency is missing): that would be a silently weaker kernel.
missing=
while IFS= read -r line; do
	case "$line" in
	CONFIG_*=n) sym=${line%%=*}
		grep -q "^$sym=" "$tree/.config" && missing+=" $line" ;;
	CONFIG_*=*) grep -Fqx "$line" "$tree/.config" || missing+=" $line" ;;
	"# CONFIG_"*" is not set") sym=${line#\# }; sym=${sym%% *}
		grep -q "^$sym=" "$tree/.config" && missing+=" $line" ;;
	esac
done < "$fragment"
if [ -n "$missing" ]; then
	printf 'FAILED: step "dkernel-config": not in the final .config:%s\n' \
		"$missing" >&2
	exit 1
fi

step "Building the debug kernel (first build: about 16 minutes on 2 cores)"
log=$SPATTEN_LOGS/dkernel-build.log
set +e
make -C "$tree" -j"$(nproc)" bzImage modules 2>&1 | tee "$log" |
	awk '/^  (CC|AS|LD)/ { n++; if (n % 250 == 0)
		printf "    debug kernel: %d objects\n", n > "/dev/stderr" }'
rc=${PIPESTATUS[0]}
set -e
if [ "$rc" != 0 ]; then
	printf 'FAILED: step "dkernel-build"; full log: %s\n' "$log" >&2
	grep -B 2 -A 10 -E 'error|Error' "$log" | head -n 40 >&2
	exit 1
fi
# The framework modules the guest loads: installed, stripped, beside the tree.
rm -rf "$base/modroot"
run_logged dkernel-modules make -C "$tree" modules_install \
	INSTALL_MOD_PATH="$base/modroot" INSTALL_MOD_STRIP=1
echo "$inputs" >"$stamp"
ln -sfn "$tree" "$base/tree"
# Older unpacked versions are dead weight (gigabytes each); only once the
# new one is built, so a failed upgrade keeps the old tree usable.
for d in "$base"/linux-source-6.12_*/; do
	[ "${d%/}" = "$base/$version" ] || rm -rf "$d"
done
echo "$tree"
