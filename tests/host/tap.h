/* SPDX-License-Identifier: MIT */
/*
 * Minimal TAP producer for the host tests: one header, no library.
 *
 *	ok(cond, "name %d", x);	prints "ok N - name" or "not ok N - name"
 *	diag("...");		prints "# ..." (informational)
 *	return done_testing();	prints "1..N"; exit status 1 on any failure
 */
#ifndef SPATTEN_TAP_H
#define SPATTEN_TAP_H

#include <stdarg.h>
#include <stdio.h>

static int tap_run;	/* tests so far */
static int tap_failed;	/* of which failed */
static int tap_planned;	/* from plan(), 0: print the plan at the end */

static inline void plan(int n)
{
	tap_planned = n;
	printf("1..%d\n", n);
}

static inline void tap_vline(const char *prefix, const char *fmt, va_list ap)
{
	fputs(prefix, stdout);
	vprintf(fmt, ap);
	putchar('\n');
}

__attribute__((format(printf, 1, 2)))
static inline void diag(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	tap_vline("# ", fmt, ap);
	va_end(ap);
	fflush(stdout);
}

/* Returns @cond so a test can stop early when a precondition fails. */
__attribute__((format(printf, 2, 3)))
static inline int ok(int cond, const char *fmt, ...)
{
	va_list ap;

	tap_run++;
	if (!cond)
		tap_failed++;
	printf("%sok %d - ", cond ? "" : "not ", tap_run);
	va_start(ap, fmt);
	tap_vline("", fmt, ap);
	va_end(ap);
	fflush(stdout);
	return cond;
}

/* Prints the plan if plan() was not called; returns the exit status. */
static inline int done_testing(void)
{
	if (!tap_planned) {
		printf("1..%d\n", tap_run);
	} else if (tap_planned != tap_run) {
		diag("planned %d tests but ran %d", tap_planned, tap_run);
		return 1;
	}
	if (tap_failed)
		diag("failed %d of %d tests", tap_failed, tap_run);
	fflush(stdout);
	return tap_failed ? 1 : 0;
}

#endif /* SPATTEN_TAP_H */
