/* SPDX-License-Identifier: MIT */
/*
 * pyref: the C reference of the Python package's tests (pyref.c: the
 * command line, arguments and files; pyref_job.c: one job as
 * spatten.attention() builds it; pyref_session.c: a session's passes).
 */
#ifndef PYREF_H
#define PYREF_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "libspatten.h"

#define MAX_LIST	64

extern const char *prog;

struct input {
	unsigned char *data;
	size_t size;
	size_t at;
	const char *path;
};

void __attribute__((noreturn, format(printf, 1, 2)))
die(const char *fmt, ...);
void __attribute__((noreturn, format(printf, 1, 2)))
usage(const char *fmt, ...);
long check(long ret, const char *what);
void *xcalloc(size_t n, size_t size);
void parse_args(int argc, char **argv);
const char *arg_str(const char *key);
void args_all_used(void);
int has_arg(const char *key);
uint32_t arg_u32(const char *key, uint32_t def);
uint32_t arg_req(const char *key);
int arg_flag(const char *key);
float arg_float(const char *key, float def);
uint32_t arg_list(const char *key, uint32_t *list);
enum spatten_dtype arg_dtype(void);
void input_open(struct input *in, const char *path);
void input_take(struct input *in, void *dst, size_t bytes);
void input_done(struct input *in);
FILE *output_open(const char *path);
void put(FILE *f, const void *p, size_t bytes);
void put_u64(FILE *f, uint64_t v);
void output_close(FILE *f, const char *path);
void put_floats(FILE *f, const float *x, size_t n,
		enum spatten_dtype dtype);
struct spatten_dev *open_sim(void);
struct spatten_bo *bo_new(struct spatten_dev *dev, size_t bytes,
			  void **map);
struct spatten_tensor_ref ref(struct spatten_bo *bo);

int job_main(void);
int session_main(void);

#endif /* PYREF_H */
