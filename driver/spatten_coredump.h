/* SPDX-License-Identifier: GPL-2.0 */
/*
 * SpAtten driver: devcoredump of a hang.
 */
#ifndef SPATTEN_COREDUMP_H
#define SPATTEN_COREDUMP_H

struct spatten_device;
struct spatten_job;

void spatten_coredump_init(struct spatten_device *sdev);
void spatten_coredump(struct spatten_device *sdev, struct spatten_job *job);
void spatten_coredump_fini(struct spatten_device *sdev);

#endif /* SPATTEN_COREDUMP_H */
