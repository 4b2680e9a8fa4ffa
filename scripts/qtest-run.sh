#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Run the device's qtest (qemu-device/tests/spatten-test.c, built inside the
# QEMU tree) against the grafted QEMU; prints TAP.
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
QTEST_QEMU_BINARY=$wrapper exec "$SPATTEN_CACHE/spatten-qtest" --tap -k
