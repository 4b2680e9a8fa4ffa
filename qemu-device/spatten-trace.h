/*
 * SpAtten device: trace events (see trace-events in this directory).
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * QEMU generates trace/trace-hw_misc_spatten.h when hw/misc/spatten is
 * listed in trace_events_subdirs; until the build does that, the events
 * compile to nothing.
 */
#ifndef SPATTEN_TRACE_H
#define SPATTEN_TRACE_H

#if defined(__has_include) && __has_include("trace/trace-hw_misc_spatten.h")
#include "trace/trace-hw_misc_spatten.h"
#else
static inline void trace_spatten_mmio_read(uint64_t addr, unsigned size,
                                           uint64_t val) {}
static inline void trace_spatten_mmio_write(uint64_t addr, unsigned size,
                                            uint64_t val) {}
static inline void trace_spatten_reset(void) {}
static inline void trace_spatten_queue_enable(unsigned q, uint64_t sq,
                                              uint32_t sq_size, uint64_t cq,
                                              uint32_t cq_size) {}
static inline void trace_spatten_queue_disable(unsigned q) {}
static inline void trace_spatten_queue_error(unsigned q, const char *why) {}
static inline void trace_spatten_submit(unsigned q, unsigned sq_head,
                                        uint32_t tag) {}
static inline void trace_spatten_job_start(unsigned engine, unsigned q,
                                           uint32_t tag) {}
static inline void trace_spatten_job_done(unsigned q, uint32_t tag,
                                          unsigned status, uint64_t cycles) {}
static inline void trace_spatten_complete(unsigned q, uint32_t tag,
                                          unsigned status, unsigned cq_slot,
                                          unsigned phase) {}
static inline void trace_spatten_discard(unsigned q, uint32_t tag) {}
static inline void trace_spatten_desc_invalid(unsigned q, uint32_t tag,
                                              unsigned status,
                                              const char *name) {}
static inline void trace_spatten_job_failed(unsigned q, uint32_t tag,
                                            unsigned status,
                                            const char *name) {}
static inline void trace_spatten_job_wait(unsigned q, uint32_t tag,
                                          int64_t due_ns, int64_t now_ns) {}
static inline void trace_spatten_irq(unsigned q, const char *mode,
                                     unsigned vector) {}
#endif

#endif /* SPATTEN_TRACE_H */
