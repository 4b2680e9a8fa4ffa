#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Extract from Debian's linux-source-6.1 only what the project uses and must
# not commit: the kselftest harness headers and checkpatch.pl. Prints the
# directory they are in.
set -euo pipefail
. "$(dirname "$0")/common.sh"

out=$SPATTEN_CACHE/ksrc/x/linux-source-6.1
if [ ! -e "$out/tools/testing/selftests/kselftest_harness.h" ] ||
   [ ! -e "$out/scripts/checkpatch.pl" ]; then
	step "Extracting kselftest headers and checkpatch.pl from linux-source-6.1"
	mkdir -p "$SPATTEN_CACHE/ksrc/x"
	cd "$SPATTEN_CACHE/ksrc"
	ls linux-source-6.1_*.deb >/dev/null 2>&1 ||
		run_logged ksrc-download apt-get download linux-source-6.1
	deb=$(ls linux-source-6.1_*.deb | tail -n 1)
	(cd x && dpkg-deb --fsys-tarfile "../$deb" |
		tar -xO ./usr/src/linux-source-6.1.tar.xz |
		tar -xJ --wildcards \
			'*/tools/testing/selftests/kselftest.h' \
			'*/tools/testing/selftests/kselftest_harness.h' \
			'*/scripts/checkpatch.pl' '*/scripts/spelling.txt' \
			'*/scripts/const_structs.checkpatch') ||
		{ echo 'FAILED: step "ksrc-extract"' >&2; exit 1; }
fi
echo "$out"
