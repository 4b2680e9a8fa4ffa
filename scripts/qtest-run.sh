#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Run the device's qtests (qemu-device/tests/spatten-*test.c, built inside
# the QEMU tree) against the grafted QEMU; prints TAP.
set -euo pipefail
. "$(dirname "$0")/common.sh"

# qtest starts QEMU itself: give it the firmware paths and no default NIC.
mkdir -p "$SPATTEN_CACHE/qtest-bin"
wrapper=$SPATTEN_CACHE/qtest-bin/qemu-system-x86_64
cat >"$wrapper" <<WRAP
#!/bin/sh
exec "$SPATTEN_CACHE/qemu-system-x86_64" -L /usr/share/qemu -L /usr/share/seabios -net none "\$@"
WRAP
chmod +x "$wrapper"
export QTEST_QEMU_BINARY=$wrapper
# The descriptor/ring/doorbell fuzz campaign (spatten-fuzz-test.c): its
# short form here (SPATTEN_FUZZ_DESCS, default 20000); `qtest-run.sh fuzz`
# runs only the campaign (the long form sets SPATTEN_FUZZ_DESCS).
if [ "${1:-}" = fuzz ]; then
	exec "$SPATTEN_CACHE/spatten-fuzz-qtest" --tap -k
fi
rc=0
"$SPATTEN_CACHE/spatten-qtest" --tap -k || rc=1
# Lifetime, DMA targets, run state and memory bounds (spatten-robust-test.c).
if [ -x "$SPATTEN_CACHE/spatten-robust-qtest" ]; then
	"$SPATTEN_CACHE/spatten-robust-qtest" --tap -k || rc=1
else
	echo "not ok - spatten-robust-qtest not built (scripts/build-qemu.sh)"
	rc=1
fi
if [ -x "$SPATTEN_CACHE/spatten-fuzz-qtest" ]; then
	"$SPATTEN_CACHE/spatten-fuzz-qtest" --tap -k || rc=1
else
	echo "not ok - spatten-fuzz-qtest not built (scripts/build-qemu.sh)"
	rc=1
fi
exit $rc
