/* SPDX-License-Identifier: GPL-2.0 */
/*
 * SpAtten driver: the kernel API differences between the kernels the
 * driver is built for. Each switch is a SPATTEN_HAVE_* result of a compile
 * probe (driver/conftest/, scripts/kconftest.sh), never a version number.
 */
#ifndef SPATTEN_COMPAT_H
#define SPATTEN_COMPAT_H

#include <linux/err.h>
#include <linux/kthread.h>
#include <linux/mm.h>
#include <linux/pci.h>
#include <drm/gpu_scheduler.h>

#include "spatten_conftest.h"

/* PCI_IRQ_LEGACY was renamed PCI_IRQ_INTX (6.8) and later removed. */
#ifdef PCI_IRQ_INTX
#define SPATTEN_PCI_IRQ_INTX	PCI_IRQ_INTX
#else
#define SPATTEN_PCI_IRQ_INTX	PCI_IRQ_LEGACY
#endif

/**
 * spatten_pcim_iomap_bar() - request and map one BAR, device-managed
 * @pdev: the PCI device, enabled with pcim_enable_device()
 * @bar: BAR number
 * @name: owner name for the resource tree
 *
 * Return: the mapping, or an ERR_PTR() on failure.
 */
static inline void __iomem *spatten_pcim_iomap_bar(struct pci_dev *pdev,
						   int bar, const char *name)
{
#ifdef SPATTEN_HAVE_PCIM_IOMAP_REGION
	return pcim_iomap_region(pdev, bar, name);
#else
	void __iomem *addr;
	int ret;

	ret = pcim_iomap_regions(pdev, BIT(bar), name);
	if (ret)
		return IOMEM_ERR_PTR(ret);
	addr = pcim_iomap_table(pdev)[bar];
	return addr ? addr : IOMEM_ERR_PTR(-ENOMEM);
#endif
}

/* A job takes one ring entry: one scheduler credit. */
static inline int spatten_sched_job_init(struct drm_sched_job *job,
					 struct drm_sched_entity *entity,
					 void *owner, u64 client_id)
{
#ifdef SPATTEN_HAVE_SCHED_JOB_INIT_CREDITS
	return drm_sched_job_init(job, entity, 1, owner, client_id);
#else
	return drm_sched_job_init(job, entity, owner);
#endif
}

/* Restart a stopped scheduler; jobs without a hardware fence complete. */
static inline void spatten_sched_start(struct drm_gpu_scheduler *sched)
{
#ifdef SPATTEN_HAVE_SCHED_START_ONE_ARG
	drm_sched_start(sched);
#else
	drm_sched_start(sched, true);
#endif
}

/* Hold a scheduler's job submission (run_job) without touching its jobs. */
static inline void spatten_sched_pause(struct drm_gpu_scheduler *sched)
{
#ifdef SPATTEN_HAVE_SCHED_WQUEUE_STOP
	drm_sched_wqueue_stop(sched);
#else
	kthread_park(sched->thread);
#endif
}

static inline void spatten_sched_resume(struct drm_gpu_scheduler *sched)
{
#ifdef SPATTEN_HAVE_SCHED_WQUEUE_STOP
	drm_sched_wqueue_start(sched);
#else
	kthread_unpark(sched->thread);
#endif
}

/* Pin user pages with the caller holding the mmap lock for reading. */
static inline long spatten_pin_user_pages(unsigned long start,
					  unsigned long nr_pages,
					  unsigned int gup_flags,
					  struct page **pages)
{
#ifdef SPATTEN_HAVE_PIN_USER_PAGES_VMAS
	return pin_user_pages(start, nr_pages, gup_flags, pages, NULL);
#else
	return pin_user_pages(start, nr_pages, gup_flags, pages);
#endif
}

#endif /* SPATTEN_COMPAT_H */
