// SPDX-License-Identifier: MIT
/*
 * libspatten: why the calling thread's last call failed.
 *
 * A failure that has a reason to give sets a message with spatten__err();
 * spatten_last_error() returns it while it belongs to the thread's most
 * recent call into the library. Each public entry point that can fail
 * opens a new call with spatten__enter(), so a message never outlives the
 * call it explains: after a failure without a reason, or any success, the
 * answer is NULL. With SPATTEN_DEBUG set (and not "0"), every message is
 * also printed to stderr as it is set, so a program that only prints
 * strerror() still shows each rejected argument.
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "spatten_private.h"

#define SPATTEN_ERR_LEN	256

static _Thread_local uint64_t call_gen;	/* calls opened by this thread */
static _Thread_local uint64_t msg_gen;	/* the call the message explains */
static _Thread_local char msg[SPATTEN_ERR_LEN];

void spatten__enter(void)
{
	call_gen++;
}

static int debug_enabled(void)
{
	const char *e = getenv("SPATTEN_DEBUG");

	return e && *e && strcmp(e, "0");
}

int spatten__err(int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	msg_gen = call_gen;
	if (debug_enabled())
		fprintf(stderr, "libspatten: %s (%s)\n", msg, strerror(-err));
	return err;
}

int spatten__err_held(void)
{
	return call_gen && msg_gen == call_gen;
}

void spatten__err_hold(int held)
{
	if (held)
		msg_gen = call_gen;
}

SPATTEN_API const char *spatten_last_error(void)
{
	return call_gen && msg_gen == call_gen ? msg : NULL;
}
