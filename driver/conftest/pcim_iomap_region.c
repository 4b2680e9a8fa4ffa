// SPDX-License-Identifier: GPL-2.0
/* pcim_iomap_region() (pcim_iomap_regions() + pcim_iomap_table() before) */
#include <linux/pci.h>

void __iomem *spatten_conftest(struct pci_dev *pdev);
void __iomem *spatten_conftest(struct pci_dev *pdev)
{
	return pcim_iomap_region(pdev, 0, "x");
}
