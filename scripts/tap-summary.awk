# SPDX-License-Identifier: MIT
# Pass TAP through and end with "N passed, N failed[, N skipped]". Only
# top-level result lines count ("ok"/"not ok" at the start of a line).
/^ok / {
	if ($0 ~ /# [Ss][Kk][Ii][Pp]/) skipped++; else passed++
}
/^not ok / {
	if ($0 ~ /# [Tt][Oo][Dd][Oo]/) passed++; else failed++
}
{ print; fflush() }
END {
	line = sprintf("%d passed, %d failed", passed, failed)
	if (skipped) line = line sprintf(", %d skipped", skipped)
	print line
	exit failed > 0 || passed == 0
}
