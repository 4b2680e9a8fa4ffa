/* SPDX-License-Identifier: MIT */
/*
 * The library tests' TAP harness: each test is a function, RUN() prints
 * "ok N - name" or "not ok N - name" (or a SKIP), CHECK()/CHECK_EQ()
 * report the failing expression as a TAP comment and fail the test.
 */
#ifndef SPATTEN_LIB_TAP_H
#define SPATTEN_LIB_TAP_H

#include <stdio.h>

static int n_tests, n_failed;
static int cur_failed;
static const char *cur_skip;

static inline void check_(int ok, const char *expr, const char *file,
			  int line)
{
	if (ok)
		return;
	cur_failed = 1;
	printf("# %s:%d: check failed: %s\n", file, line, expr);
}

#define CHECK(expr) check_(!!(expr), #expr, __FILE__, __LINE__)
#define CHECK_EQ(a, b) do { \
	long long a_ = (long long)(a), b_ = (long long)(b); \
	if (a_ != b_) \
		printf("#   %s = %lld, %s = %lld\n", #a, a_, #b, b_); \
	check_(a_ == b_, #a " == " #b, __FILE__, __LINE__); \
} while (0)

static inline void run_test(void (*fn)(void), const char *name)
{
	cur_failed = 0;
	cur_skip = NULL;
	fn();
	n_tests++;
	if (cur_failed)
		n_failed++;
	if (cur_skip && !cur_failed)
		printf("ok %d - %s # SKIP %s\n", n_tests, name, cur_skip);
	else
		printf("%sok %d - %s\n", cur_failed ? "not " : "", n_tests,
		       name);
	fflush(stdout);
}

#define RUN(fn) run_test(fn, #fn)

/* The plan line and the exit status: 0 if every test passed. */
static inline int tap_done(void)
{
	printf("1..%d\n", n_tests);
	if (n_failed)
		printf("# failed %d of %d tests\n", n_failed, n_tests);
	return n_failed ? 1 : 0;
}

#endif /* SPATTEN_LIB_TAP_H */
