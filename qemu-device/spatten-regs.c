/*
 * SpAtten virtual PCIe device: BAR0 register decode and doorbells.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * vCPU threads (or qtest), BQL held.  BAR0 is little-endian MMIO:
 * identity, version (1.2) and capability words, CTRL/STATUS/INTX_STATUS,
 * 64-bit counters (one 8-byte or two 4-byte reads), per-queue-pair
 * configuration registers and NVMe-style doorbells.  Other registers are
 * 4-byte; 8-byte accesses are accepted for the counters and the SQ/CQ
 * base register pairs only.  Unknown offsets read 0 and ignore writes
 * (LOG_GUEST_ERROR).
 *
 * The configuration of an enabled pair is read-only.  SQ_ENTRY_SIZE (a
 * write of 0 is stored as 256) is checked and latched by the enable, like
 * the ring sizes: 256 or 512, else QSTS.ERROR.  Doorbells: SQ tail (value
 * < SQ size) and CQ head (value < CQ size and not beyond the entries the
 * device has posted); a bad value sets QSTS.ERROR and is ignored.
 * Doorbells of an enabled pair are recorded while CTRL.ENABLE is clear (or
 * the VM is stopped) and acted upon once it is set.
 *
 * FAULT (test hook): with RESET_STUCK armed, a CTRL.RESET resets the
 * device but never completes: CTRL reads RESET, STATUS.READY stays clear
 * and every BAR0 write is ignored until an FLR or a system reset
 * (spatten_reset() in spatten.c) clears the condition.
 */

#include "qemu/osdep.h"
#include "qemu/bitops.h"
#include "qemu/log.h"

#include "spatten.h"
#include "trace.h"

static bool spatten_queue_read(SpattenState *s, unsigned qid, hwaddr reg,
                               uint64_t *val)
{
    SpattenQueue *q = &s->q[qid];

    switch (reg) {
    case SPATTEN_QREG_SQ_BASE_LO:
        *val = (uint32_t)q->sq_base;
        break;
    case SPATTEN_QREG_SQ_BASE_HI:
        *val = q->sq_base >> 32;
        break;
    case SPATTEN_QREG_CQ_BASE_LO:
        *val = (uint32_t)q->cq_base;
        break;
    case SPATTEN_QREG_CQ_BASE_HI:
        *val = q->cq_base >> 32;
        break;
    case SPATTEN_QREG_SQ_SIZE:
        *val = q->sq_size;
        break;
    case SPATTEN_QREG_CQ_SIZE:
        *val = q->cq_size;
        break;
    case SPATTEN_QREG_CTRL:
        *val = q->ctrl;
        break;
    case SPATTEN_QREG_STATUS:
        *val = q->status;
        break;
    case SPATTEN_QREG_IRQ_VECTOR:
        *val = q->vector;
        break;
    case SPATTEN_QREG_SQ_ENTRY_SIZE:
        *val = q->sq_entry_size;
        break;
    default:
        return false;
    }
    return true;
}

static bool spatten_queue_write(SpattenState *s, unsigned qid, hwaddr reg,
                                uint32_t val)
{
    SpattenQueue *q = &s->q[qid];
    bool enabled = q->status & SPATTEN_QSTS_ENABLED;

    switch (reg) {
    case SPATTEN_QREG_SQ_BASE_LO:
    case SPATTEN_QREG_SQ_BASE_HI:
    case SPATTEN_QREG_CQ_BASE_LO:
    case SPATTEN_QREG_CQ_BASE_HI:
    case SPATTEN_QREG_SQ_SIZE:
    case SPATTEN_QREG_CQ_SIZE:
    case SPATTEN_QREG_IRQ_VECTOR:
    case SPATTEN_QREG_SQ_ENTRY_SIZE:
        if (enabled) {
            qemu_log_mask(LOG_GUEST_ERROR,
                          "spatten: queue %u: config register 0x%02x "
                          "written while enabled, ignored\n",
                          qid, (unsigned)reg);
            return true;
        }
        break;
    case SPATTEN_QREG_CTRL:
    case SPATTEN_QREG_STATUS:
        break;
    default:
        return false;
    }

    switch (reg) {
    case SPATTEN_QREG_SQ_BASE_LO:
        q->sq_base = deposit64(q->sq_base, 0, 32, val);
        break;
    case SPATTEN_QREG_SQ_BASE_HI:
        q->sq_base = deposit64(q->sq_base, 32, 32, val);
        break;
    case SPATTEN_QREG_CQ_BASE_LO:
        q->cq_base = deposit64(q->cq_base, 0, 32, val);
        break;
    case SPATTEN_QREG_CQ_BASE_HI:
        q->cq_base = deposit64(q->cq_base, 32, 32, val);
        break;
    case SPATTEN_QREG_SQ_SIZE:
        q->sq_size = val;
        break;
    case SPATTEN_QREG_CQ_SIZE:
        q->cq_size = val;
        break;
    case SPATTEN_QREG_SQ_ENTRY_SIZE:
        /* 0 means 256; other values are checked by the enable */
        q->sq_entry_size = val ? val : SPATTEN_DESC_SIZE;
        break;
    case SPATTEN_QREG_IRQ_VECTOR:
        if (val >= s->queues) {
            qemu_log_mask(LOG_GUEST_ERROR,
                          "spatten: queue %u: vector %u out of range\n",
                          qid, val);
            q->status |= SPATTEN_QSTS_ERROR;
            break;
        }
        q->vector = val;
        break;
    case SPATTEN_QREG_CTRL:
        if (val & ~SPATTEN_QCTRL_ENABLE) {
            qemu_log_mask(LOG_GUEST_ERROR,
                          "spatten: queue %u: unknown QCTRL bits 0x%x\n",
                          qid, val & ~SPATTEN_QCTRL_ENABLE);
        }
        if ((val & SPATTEN_QCTRL_ENABLE) && !enabled) {
            spatten_queue_enable(s, qid);
        } else if (!(val & SPATTEN_QCTRL_ENABLE) && enabled) {
            spatten_queue_disable(s, qid);
        } else if (!(val & SPATTEN_QCTRL_ENABLE)) {
            q->status &= ~SPATTEN_QSTS_ERROR;   /* acknowledge an error */
        }
        break;
    case SPATTEN_QREG_STATUS:
        qemu_log_mask(LOG_GUEST_ERROR,
                      "spatten: queue %u: write to read-only STATUS\n", qid);
        break;
    }
    return true;
}

static void spatten_doorbell(SpattenState *s, unsigned qid, bool cq,
                             uint32_t val)
{
    SpattenQueue *q = &s->q[qid];

    if (!(q->status & SPATTEN_QSTS_ENABLED)) {
        qemu_log_mask(LOG_GUEST_ERROR,
                      "spatten: queue %u: doorbell while disabled\n", qid);
        return;
    }
    if (!cq) {
        if (val >= q->sq_size) {
            qemu_log_mask(LOG_GUEST_ERROR,
                          "spatten: queue %u: SQ tail %u >= size %u\n",
                          qid, val, q->sq_size);
            q->status |= SPATTEN_QSTS_ERROR;
            return;
        }
        q->sq_tail = val;
    } else {
        if (val >= q->cq_size ||
            spatten_ring_used(q->cq_head, val, q->cq_size) >
            spatten_ring_used(q->cq_head, q->cq_tail, q->cq_size)) {
            qemu_log_mask(LOG_GUEST_ERROR,
                          "spatten: queue %u: bad CQ head %u "
                          "(head %u tail %u size %u)\n",
                          qid, val, q->cq_head, q->cq_tail, q->cq_size);
            q->status |= SPATTEN_QSTS_ERROR;
            return;
        }
        q->cq_head = val;
    }
    spatten_process_sq(s, qid);
}

static void spatten_ctrl_write(SpattenState *s, uint32_t val)
{
    if (val & ~(SPATTEN_CTRL_ENABLE | SPATTEN_CTRL_RESET)) {
        qemu_log_mask(LOG_GUEST_ERROR, "spatten: unknown CTRL bits 0x%x\n",
                      val & ~(SPATTEN_CTRL_ENABLE | SPATTEN_CTRL_RESET));
    }
    if (val & SPATTEN_CTRL_RESET) {
        spatten_reset_state(s);
        if (s->fault & SPATTEN_FAULT_RESET_STUCK) {
            /* The reset started (nothing runs) and never completes. */
            s->reset_stuck = true;
            s->ctrl = SPATTEN_CTRL_RESET;
            trace_spatten_reset_stuck();
        }
        return;
    }
    if ((val & SPATTEN_CTRL_ENABLE) && !(s->ctrl & SPATTEN_CTRL_ENABLE)) {
        s->ctrl = SPATTEN_CTRL_ENABLE;
        spatten_process_all(s);
    } else if (!(val & SPATTEN_CTRL_ENABLE)) {
        /* stop taking new entries; jobs in flight still complete */
        s->ctrl = 0;
    }
}

static void spatten_fault_write(SpattenState *s, uint32_t val)
{
    if (val & ~SPATTEN_FAULT_ALL) {
        qemu_log_mask(LOG_GUEST_ERROR, "spatten: unknown FAULT bits 0x%x\n",
                      val & ~SPATTEN_FAULT_ALL);
    }
    s->fault = val & SPATTEN_FAULT_ALL;
    trace_spatten_fault(s->fault);
}

static bool spatten_reg_read(SpattenState *s, hwaddr addr, uint64_t *val)
{
    switch (addr) {
    case SPATTEN_REG_ID:
        *val = SPATTEN_HW_ID;
        return true;
    case SPATTEN_REG_VERSION:
        *val = SPATTEN_HW_VERSION;
        return true;
    case SPATTEN_REG_CAP_ENGINES:
        *val = s->engines;
        return true;
    case SPATTEN_REG_CAP_QUEUES:
        *val = s->queues;
        return true;
    case SPATTEN_REG_CAP_QUEUE_DEPTH:
        *val = s->queue_depth;
        return true;
    case SPATTEN_REG_CAP_MAX_CONTEXT:
        *val = s->caps.max_context;
        return true;
    case SPATTEN_REG_CAP_MAX_HEADS:
        *val = s->caps.max_heads;
        return true;
    case SPATTEN_REG_CAP_HEAD_DIMS:
        *val = s->caps.head_dims;
        return true;
    case SPATTEN_REG_CAP_FORMATS:
        *val = s->caps.formats;
        return true;
    case SPATTEN_REG_CAP_SPLITS:
        *val = s->caps.splits;
        return true;
    case SPATTEN_REG_CAP_FEATURES:
        *val = s->caps.features;
        return true;
    case SPATTEN_REG_CAP_DMA_BITS:
        *val = s->dma_bits;
        return true;
    case SPATTEN_REG_CAP_DESC_SIZE:
        *val = SPATTEN_DESC_SIZE;
        return true;
    case SPATTEN_REG_CAP_DESC_SIZE_MAX:
        *val = SPATTEN_SQE_SIZE_MAX;
        return true;
    case SPATTEN_REG_CTRL:
        *val = s->ctrl;
        return true;
    case SPATTEN_REG_STATUS:
        *val = (s->ctrl & SPATTEN_CTRL_ENABLE) ? SPATTEN_STS_READY : 0;
        return true;
    case SPATTEN_REG_INTX_STATUS:
        *val = s->intx_status;
        return true;
    case SPATTEN_REG_FAULT:
        *val = s->fault;
        return true;
    }

    if (addr >= SPATTEN_REG_CNT_BASE &&
        addr < SPATTEN_REG_CNT(SPATTEN_CNT_NUM)) {
        unsigned n = (addr - SPATTEN_REG_CNT_BASE) / 8;

        *val = (addr & 4) ? s->cnt[n] >> 32 : (uint32_t)s->cnt[n];
        return true;
    }
    if (addr >= SPATTEN_REG_QUEUE_BASE &&
        addr < SPATTEN_REG_Q(s->queues, 0)) {
        unsigned qid = (addr - SPATTEN_REG_QUEUE_BASE) /
                       SPATTEN_REG_QUEUE_STRIDE;

        return spatten_queue_read(s, qid, (addr - SPATTEN_REG_QUEUE_BASE) %
                                  SPATTEN_REG_QUEUE_STRIDE, val);
    }
    if (addr >= SPATTEN_REG_DB_BASE &&
        addr < SPATTEN_REG_SQ_TAIL_DB(s->queues)) {
        *val = 0;   /* doorbells read as zero */
        return true;
    }
    return false;
}

static bool spatten_is_64bit_reg(SpattenState *s, hwaddr addr)
{
    if (addr >= SPATTEN_REG_CNT_BASE &&
        addr < SPATTEN_REG_CNT(SPATTEN_CNT_NUM)) {
        return (addr & 7) == 0;
    }
    if (addr >= SPATTEN_REG_QUEUE_BASE &&
        addr < SPATTEN_REG_Q(s->queues, 0)) {
        hwaddr reg = (addr - SPATTEN_REG_QUEUE_BASE) %
                     SPATTEN_REG_QUEUE_STRIDE;

        return reg == SPATTEN_QREG_SQ_BASE_LO ||
               reg == SPATTEN_QREG_CQ_BASE_LO;
    }
    return false;
}

static uint64_t spatten_mmio_read_reg(void *opaque, hwaddr addr,
                                      unsigned size)
{
    SpattenState *s = opaque;
    uint64_t lo = 0, hi = 0;

    if (size == 8) {
        if (!spatten_is_64bit_reg(s, addr)) {
            qemu_log_mask(LOG_GUEST_ERROR,
                          "spatten: 8-byte read of 32-bit register 0x%"
                          HWADDR_PRIx "\n", addr);
            return 0;
        }
        spatten_reg_read(s, addr, &lo);
        spatten_reg_read(s, addr + 4, &hi);
        return (hi << 32) | (uint32_t)lo;
    }
    if (size != 4 || !spatten_reg_read(s, addr, &lo)) {
        qemu_log_mask(LOG_GUEST_ERROR,
                      "spatten: read of unknown register 0x%" HWADDR_PRIx
                      " size %u\n", addr, size);
        return 0;
    }
    return (uint32_t)lo;
}

static void spatten_reg_write(SpattenState *s, hwaddr addr, uint32_t val)
{
    if (s->reset_stuck) {
        /* Wedged in reset (FAULT.RESET_STUCK): only FLR gets it out. */
        trace_spatten_reset_stuck_write(addr, val);
        return;
    }
    switch (addr) {
    case SPATTEN_REG_CTRL:
        spatten_ctrl_write(s, val);
        return;
    case SPATTEN_REG_INTX_STATUS:
        s->intx_status &= ~val;
        spatten_update_intx(s);
        return;
    case SPATTEN_REG_FAULT:
        spatten_fault_write(s, val);
        return;
    case SPATTEN_REG_ID ... SPATTEN_REG_CAP_DESC_SIZE_MAX:
    case SPATTEN_REG_STATUS:
        qemu_log_mask(LOG_GUEST_ERROR,
                      "spatten: write to read-only register 0x%"
                      HWADDR_PRIx "\n", addr);
        return;
    }

    if (addr >= SPATTEN_REG_CNT_BASE &&
        addr < SPATTEN_REG_CNT(SPATTEN_CNT_NUM)) {
        qemu_log_mask(LOG_GUEST_ERROR,
                      "spatten: write to read-only counter 0x%"
                      HWADDR_PRIx "\n", addr);
        return;
    }
    if (addr >= SPATTEN_REG_QUEUE_BASE &&
        addr < SPATTEN_REG_Q(s->queues, 0)) {
        unsigned qid = (addr - SPATTEN_REG_QUEUE_BASE) /
                       SPATTEN_REG_QUEUE_STRIDE;

        if (spatten_queue_write(s, qid, (addr - SPATTEN_REG_QUEUE_BASE) %
                                SPATTEN_REG_QUEUE_STRIDE, val)) {
            return;
        }
    } else if (addr >= SPATTEN_REG_DB_BASE &&
               addr < SPATTEN_REG_SQ_TAIL_DB(s->queues)) {
        unsigned qid = (addr - SPATTEN_REG_DB_BASE) / SPATTEN_REG_DB_STRIDE;

        spatten_doorbell(s, qid, addr & 4, val);
        return;
    }
    qemu_log_mask(LOG_GUEST_ERROR,
                  "spatten: write to unknown register 0x%" HWADDR_PRIx
                  " value 0x%x, ignored\n", addr, val);
}

static void spatten_mmio_write(void *opaque, hwaddr addr, uint64_t val,
                               unsigned size)
{
    SpattenState *s = opaque;

    trace_spatten_mmio_write(addr, size, val);
    if (size == 8) {
        if (!spatten_is_64bit_reg(s, addr) ||
            addr < SPATTEN_REG_QUEUE_BASE) {
            qemu_log_mask(LOG_GUEST_ERROR,
                          "spatten: 8-byte write to 0x%" HWADDR_PRIx
                          " ignored\n", addr);
            return;
        }
        spatten_reg_write(s, addr, (uint32_t)val);
        spatten_reg_write(s, addr + 4, val >> 32);
        return;
    }
    if (size != 4) {
        qemu_log_mask(LOG_GUEST_ERROR,
                      "spatten: %u-byte write to 0x%" HWADDR_PRIx
                      " ignored\n", size, addr);
        return;
    }
    spatten_reg_write(s, addr, val);
}

static uint64_t spatten_mmio_read(void *opaque, hwaddr addr, unsigned size)
{
    uint64_t val = spatten_mmio_read_reg(opaque, addr, size);

    trace_spatten_mmio_read(addr, size, val);
    return val;
}

const MemoryRegionOps spatten_mmio_ops = {
    .read = spatten_mmio_read,
    .write = spatten_mmio_write,
    .endianness = DEVICE_LITTLE_ENDIAN,
    .valid = {
        .min_access_size = 4,
        .max_access_size = 8,
    },
    .impl = {
        .min_access_size = 4,
        .max_access_size = 8,
    },
};
