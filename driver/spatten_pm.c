// SPDX-License-Identifier: GPL-2.0
/*
 * SpAtten driver: runtime PM and system sleep.
 *
 * The device has no power state of its own beyond reset: suspending it
 * stops it (a reset, which also disables every queue and zeroes the
 * counters, saved first), resuming it resets it again and programs the
 * queues. Every job holds a runtime PM reference from SUBMIT until the
 * scheduler frees it, so the device is stopped only with no job
 * outstanding, after SPATTEN_AUTOSUSPEND_MS idle. System sleep pauses
 * the schedulers, lets the rings drain (failing what has not finished
 * within the job timeout, as a reset does) and stops the device.
 */
#include <linux/delay.h>
#include <linux/jiffies.h>
#include <linux/pci.h>
#include <linux/pm_runtime.h>

#include "spatten_compat.h"
#include "spatten_drv.h"
#include "spatten_pm.h"
#include "spatten_queue.h"
#include "spatten_trace.h"

static struct spatten_device *spatten_pm_dev(struct device *dev)
{
	return pci_get_drvdata(to_pci_dev(dev));
}

/**
 * spatten_pm_get() - make the device active and keep it so
 * @sdev: the board
 *
 * May sleep (resume). Process context, outside @reset_lock.
 *
 * Return: 0, or a negative errno and no reference taken.
 */
int spatten_pm_get(struct spatten_device *sdev)
{
	return pm_runtime_resume_and_get(sdev->drm.dev);
}

/**
 * spatten_pm_get_noresume() - one more reference on an active device
 * @sdev: the board, kept active by a reference of the caller
 */
void spatten_pm_get_noresume(struct spatten_device *sdev)
{
	pm_runtime_get_noresume(sdev->drm.dev);
}

/**
 * spatten_pm_put() - drop a reference; the device suspends when idle
 * @sdev: the board
 *
 * Does not sleep.
 */
void spatten_pm_put(struct spatten_device *sdev)
{
	pm_runtime_mark_last_busy(sdev->drm.dev);
	pm_runtime_put_autosuspend(sdev->drm.dev);
}

static bool spatten_pm_rings_empty(struct spatten_device *sdev)
{
	u32 i, inflight;

	for (i = 0; i < sdev->nr_queues; i++) {
		struct spatten_queue *q = &sdev->queues[i];

		spin_lock(&q->lock);
		inflight = q->inflight;
		spin_unlock(&q->lock);
		if (inflight)
			return false;
	}
	return true;
}

/* Wait for every ring to be empty (schedulers paused): 0 or -ETIMEDOUT. */
static int spatten_pm_drain(struct spatten_device *sdev, u32 timeout_ms)
{
	unsigned long end = jiffies + msecs_to_jiffies(timeout_ms);

	while (!spatten_pm_rings_empty(sdev)) {
		if (time_after(jiffies, end))
			return -ETIMEDOUT;
		usleep_range(1000, 2000);
	}
	return 0;
}

/*
 * Stop the device: counters saved, no more DMA or interrupts. A device
 * that does not stop is taken off the bus (broken), as after a reset.
 */
static void spatten_pm_hw_off(struct spatten_device *sdev)
{
	unsigned int i;

	lockdep_assert_held(&sdev->reset_lock);
	spin_lock(&sdev->cnt_lock);
	for (i = 0; i < SPATTEN_CNT_NUM; i++)
		sdev->cnt_base[i] += spatten_read_counter_hw(sdev, i);
	sdev->hw_off = true;
	spin_unlock(&sdev->cnt_lock);
	if (spatten_hw_disable(sdev)) {
		drm_err(&sdev->drm, "device does not stop: bus mastering off\n");
		WRITE_ONCE(sdev->broken, true);
		pci_clear_master(sdev->pdev);
	}
	spatten_irqs_sync(sdev);
}

/* Reset the device and program its queues (every ring empty). */
static int spatten_pm_hw_on(struct spatten_device *sdev)
{
	int ret;

	lockdep_assert_held(&sdev->reset_lock);
	ret = spatten_hw_reset(sdev);
	if (!ret)
		ret = spatten_queues_hw_init(sdev);
	if (ret) {
		drm_err(&sdev->drm, "device did not come back from suspend (%d)\n",
			ret);
		WRITE_ONCE(sdev->broken, true);
		spatten_hw_disable(sdev);
		pci_clear_master(sdev->pdev);
		return ret;
	}
	spin_lock(&sdev->cnt_lock);
	sdev->hw_off = false;
	spin_unlock(&sdev->cnt_lock);
	return 0;
}

static int spatten_pm_runtime_suspend(struct device *dev)
{
	struct spatten_device *sdev = spatten_pm_dev(dev);
	int ret = 0;

	mutex_lock(&sdev->reset_lock);
	if (sdev->unplugged || sdev->hw_off || READ_ONCE(sdev->broken))
		goto out_unlock;
	/* Not reached with a job outstanding: each holds a reference. */
	if (!spatten_pm_rings_empty(sdev)) {
		ret = -EBUSY;
		goto out_unlock;
	}
	spatten_pm_hw_off(sdev);
	atomic_inc(&sdev->nr_rt_suspends);
	trace_spatten_reset(SPATTEN_RESET_RUNTIME_SUSPEND, 0);
out_unlock:
	mutex_unlock(&sdev->reset_lock);
	return ret;
}

static int spatten_pm_runtime_resume(struct device *dev)
{
	struct spatten_device *sdev = spatten_pm_dev(dev);
	int ret;

	mutex_lock(&sdev->reset_lock);
	if (!sdev->unplugged && sdev->hw_off && !READ_ONCE(sdev->broken)) {
		/* A failure marks the board broken: SUBMIT fails -EIO. */
		ret = spatten_pm_hw_on(sdev);
		atomic_inc(&sdev->nr_rt_resumes);
		trace_spatten_reset(SPATTEN_RESET_RUNTIME_RESUME, ret);
	}
	mutex_unlock(&sdev->reset_lock);
	return 0;
}

/*
 * System sleep (and hibernation): no new job reaches a ring, the jobs on
 * them finish (or fail after the job timeout), the device stops. The PCI
 * core resumed the device from runtime suspend before this.
 */
static int spatten_pm_suspend(struct device *dev)
{
	struct spatten_device *sdev = spatten_pm_dev(dev);
	int ret = 0;
	u32 i;

	mutex_lock(&sdev->reset_lock);
	if (sdev->unplugged || sdev->pm_paused)
		goto out_unlock;
	/*
	 * The job timeouts wait with the schedulers: the drain below bounds
	 * the jobs on the device. A handler that fired already waits for
	 * @reset_lock and sees @pm_paused (spatten_timedout_job()).
	 */
	for (i = 0; i < sdev->nr_queues; i++) {
		struct spatten_queue *q = &sdev->queues[i];

		spatten_sched_pause(&q->sched);
		q->tdr_left = drm_sched_suspend_timeout(&q->sched);
	}
	sdev->pm_paused = true;
	if (!sdev->hw_off && !READ_ONCE(sdev->broken)) {
		ret = spatten_pm_drain(sdev, READ_ONCE(sdev->timeout_ms));
		if (ret)
			drm_warn(&sdev->drm, "jobs still on the device at suspend: aborted\n");
		spatten_pm_hw_off(sdev);
		if (ret)
			spatten_queues_fail_ring(sdev, NULL);
		sdev->pm_sys_off = true;
	}
	atomic_inc(&sdev->nr_suspends);
	trace_spatten_reset(SPATTEN_RESET_SUSPEND, ret);
out_unlock:
	mutex_unlock(&sdev->reset_lock);
	return 0;
}

static int spatten_pm_resume(struct device *dev)
{
	struct spatten_device *sdev = spatten_pm_dev(dev);
	int ret = 0;

	mutex_lock(&sdev->reset_lock);
	if (sdev->unplugged || !sdev->pm_paused)
		goto out_unlock;
	if (sdev->pm_sys_off && !READ_ONCE(sdev->broken))
		ret = spatten_pm_hw_on(sdev);
	sdev->pm_sys_off = false;
	spatten_pm_unpause(sdev);
	atomic_inc(&sdev->nr_resumes);
	trace_spatten_reset(SPATTEN_RESET_RESUME, ret);
out_unlock:
	mutex_unlock(&sdev->reset_lock);
	return 0;
}

/**
 * spatten_pm_unpause() - let the schedulers paused by a system suspend run
 * @sdev: the board; the caller holds @reset_lock
 */
void spatten_pm_unpause(struct spatten_device *sdev)
{
	u32 i;

	lockdep_assert_held(&sdev->reset_lock);
	if (!sdev->pm_paused)
		return;
	for (i = 0; i < sdev->nr_queues; i++) {
		struct spatten_queue *q = &sdev->queues[i];

		drm_sched_resume_timeout(&q->sched, q->tdr_left);
		spatten_sched_resume(&q->sched);
	}
	sdev->pm_paused = false;
}

const struct dev_pm_ops spatten_pm_ops = {
	SYSTEM_SLEEP_PM_OPS(spatten_pm_suspend, spatten_pm_resume)
	RUNTIME_PM_OPS(spatten_pm_runtime_suspend, spatten_pm_runtime_resume,
		       NULL)
};

/**
 * spatten_pm_init() - enable runtime PM with autosuspend (end of probe)
 * @sdev: the board, registered
 *
 * Drops the reference the PCI core took for probe.
 */
void spatten_pm_init(struct spatten_device *sdev)
{
	struct device *dev = sdev->drm.dev;

	pm_runtime_set_autosuspend_delay(dev, SPATTEN_AUTOSUSPEND_MS);
	pm_runtime_use_autosuspend(dev);
	pm_runtime_allow(dev);
	spatten_pm_put(sdev);
}

/**
 * spatten_pm_fini() - undo spatten_pm_init() (start of remove)
 * @sdev: the board, active (the PCI core resumed it for remove)
 */
void spatten_pm_fini(struct spatten_device *sdev)
{
	struct device *dev = sdev->drm.dev;

	pm_runtime_get_noresume(dev);
	pm_runtime_forbid(dev);
	pm_runtime_dont_use_autosuspend(dev);
}
