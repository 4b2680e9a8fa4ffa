/* SPDX-License-Identifier: GPL-2.0 */
/*
 * SpAtten driver: runtime PM and system sleep.
 */
#ifndef SPATTEN_PM_H
#define SPATTEN_PM_H

#include <linux/pm.h>

#include "spatten_drv.h"

/* Idle time before the device is stopped (power/autosuspend_delay_ms). */
#define SPATTEN_AUTOSUSPEND_MS		1000

extern const struct dev_pm_ops spatten_pm_ops;

void spatten_pm_init(struct spatten_device *sdev);
void spatten_pm_fini(struct spatten_device *sdev);
int spatten_pm_get(struct spatten_device *sdev);
void spatten_pm_get_noresume(struct spatten_device *sdev);
void spatten_pm_put(struct spatten_device *sdev);
void spatten_pm_unpause(struct spatten_device *sdev);

#endif /* SPATTEN_PM_H */
