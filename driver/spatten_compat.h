/* SPDX-License-Identifier: GPL-2.0 */
/*
 * SpAtten driver: the few kernel API differences between the kernels the
 * driver is built for (Debian's 6.1 and 6.12). Every kernel version switch
 * of the driver lives here.
 *
 * SPATTEN_KERNEL_AT_LEAST() compares the major and minor numbers of the
 * kernel being built against (the same information as the version code;
 * the sublevel does not matter for these switches).
 */
#ifndef SPATTEN_COMPAT_H
#define SPATTEN_COMPAT_H

#include <linux/err.h>
#include <linux/mm.h>
#include <linux/pci.h>
#include <linux/version.h>

#define SPATTEN_KERNEL_AT_LEAST(major, minor) \
	(KERNEL_VERSION(LINUX_VERSION_MAJOR, LINUX_VERSION_PATCHLEVEL, 0) >= \
	 KERNEL_VERSION(major, minor, 0))

/* PCI_IRQ_LEGACY was renamed PCI_IRQ_INTX in 6.8 and later removed. */
#if SPATTEN_KERNEL_AT_LEAST(6, 8)
#define SPATTEN_PCI_IRQ_INTX	PCI_IRQ_INTX
#else
#define SPATTEN_PCI_IRQ_INTX	PCI_IRQ_LEGACY
#endif

/* vma->vm_flags became read-only in 6.3: use vm_flags_set() there. */
static inline void spatten_vm_flags_set(struct vm_area_struct *vma,
					unsigned long flags)
{
#if SPATTEN_KERNEL_AT_LEAST(6, 3)
	vm_flags_set(vma, flags);
#else
	vma->vm_flags |= flags;
#endif
}

/**
 * spatten_pcim_iomap_bar() - request and map one BAR, device-managed
 * @pdev: the PCI device, enabled with pcim_enable_device()
 * @bar: BAR number
 * @name: owner name for the resource tree
 *
 * 6.11 added pcim_iomap_region() and deprecated the pcim_iomap_regions() +
 * pcim_iomap_table() pair that older kernels offer.
 *
 * Return: the mapping, or an ERR_PTR() on failure.
 */
static inline void __iomem *spatten_pcim_iomap_bar(struct pci_dev *pdev,
						   int bar, const char *name)
{
#if SPATTEN_KERNEL_AT_LEAST(6, 11)
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

#endif /* SPATTEN_COMPAT_H */
