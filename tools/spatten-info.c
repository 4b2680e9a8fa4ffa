// SPDX-License-Identifier: MIT
/*
 * spatten-info: find SpAtten boards with libpci, bound to a driver or not,
 * and show what they are: PCI address, IDs, bound driver, BARs, the
 * capability registers (read from BAR0 through sysfs when no driver is
 * bound; from the driver otherwise) and, with spatten.ko, the DRM device
 * node (/dev/accel/accel<N>, or /dev/dri/renderD<N> on kernels without the
 * accel subsystem), its counters and the DRM fdinfo of the open node.
 *
 * Exit status: 0 at least one board found, 1 none (or an error), 2 usage.
 *
 * Built with -DSPATTEN_INFO_SYSFS (the static guest build: Debian ships no
 * static libpci) it enumerates through /sys/bus/pci/devices instead.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#ifndef SPATTEN_INFO_SYSFS
#include <pci/pci.h>
#endif

#include "libspatten.h"

/*
 * One PCI function, from libpci (the normal build) or, where libpci is not
 * available as a static library (the guest's build, -DSPATTEN_INFO_SYSFS),
 * straight from /sys/bus/pci/devices.
 */
struct board {
	unsigned int domain, bus, dev, func;
	unsigned int vendor_id, device_id, device_class;
	uint64_t base[6], size[6];
	int io[6];
	char name[256];
};

static const char *prog = "spatten-info";

static void usage(FILE *f)
{
	fprintf(f,
"Usage: %s [-a] [--sim] [-h]\n"
"List SpAtten boards (PCI %04x:%04x) found with libpci, whether or not a\n"
"driver is bound: address, IDs, driver, BARs, capabilities and, with the\n"
"spatten driver, the device node (/dev/accel/accelN or /dev/dri/renderDN),\n"
"its counters and the drm- lines of its fdinfo.\n"
"\n"
"  -a, --all-vendors  also list devices of class 0x1200 (accelerators)\n"
"                     of other vendors\n"
"  -s, --sim          the simulation backend's board instead: what\n"
"                     programs get with SPATTEN_BACKEND=sim\n"
"  -h, --help         this text\n"
"\n"
"Reading the capability registers of a board without a driver maps BAR0\n"
"read-only through sysfs and needs root.\n"
"Exit status: 0 a board was found, 1 none (or an error), 2 bad arguments.\n",
		prog, SPATTEN_PCI_VENDOR_ID, SPATTEN_PCI_DEVICE_ID);
}

static void sysfs_driver(const struct board *d, char *buf, size_t len)
{
	char path[PATH_MAX], target[PATH_MAX];
	const char *base;
	ssize_t n;

	snprintf(path, sizeof(path),
		 "/sys/bus/pci/devices/%04x:%02x:%02x.%x/driver", d->domain,
		 d->bus, d->dev, d->func);
	n = readlink(path, target, sizeof(target) - 1);
	if (n <= 0) {
		snprintf(buf, len, "(none)");
		return;
	}
	target[n] = 0;
	base = strrchr(target, '/');
	snprintf(buf, len, "%.63s", base ? base + 1 : target);
}

static const char *feature_names[] = {
	"causal", "generation", "page-lists", "intx", "token-pruning",
	"head-pruning", "value-pruning", "progressive", "descriptor-v3",
	"gqa", "kv-layouts", "rope", "chunks", "importance-per-kv-head",
};

static void print_bits(const char *label, uint32_t v, const char *fmt_unit,
		       int shift_is_value)
{
	int b, first = 1;

	printf("    %-14s", label);
	for (b = 0; b < 32; b++) {
		if (!(v & (1u << b)))
			continue;
		if (shift_is_value)
			printf("%s%u", first ? "" : ", ", 1u << b);
		else
			printf("%s%d%s", first ? "" : ", ", b, fmt_unit);
		first = 0;
	}
	printf("%s\n", first ? "(none)" : "");
}

static void print_caps(uint32_t ver, uint32_t engines, uint32_t queues,
		       uint32_t depth, uint32_t ctx, uint32_t heads,
		       uint32_t dims, uint32_t fmts, uint32_t splits,
		       uint32_t feats, uint32_t dma)
{
	static const char *fmt_names[] = { "S16", "S4", "S6", "S8", "S10",
					   "S12" };
	unsigned int i;
	int first = 1;

	printf("    version       %u.%u\n", ver >> 16, ver & 0xffff);
	printf("    engines       %u\n    queues        %u x %u entries\n",
	       engines, queues, depth);
	printf("    max context   %u tokens\n    max heads     %u\n", ctx,
	       heads);
	print_bits("head dims", dims, "", 1);
	printf("    %-14s", "formats");
	for (i = 0; i < 6; i++)
		if (fmts & (1u << i)) {
			printf("%s%s", first ? "" : ", ", fmt_names[i]);
			first = 0;
		}
	printf("\n");
	printf("    %-14s", "key splits");
	first = 1;
	for (i = 0; i < 32; i++)
		if (splits & (1u << i)) {
			printf("%s%u+4", first ? "" : ", ", i);
			first = 0;
		}
	printf("%s\n", first ? "(none)" : "");
	printf("    %-14s", "features");
	first = 1;
	for (i = 0; i < sizeof(feature_names) / sizeof(feature_names[0]); i++)
		if (feats & (1u << i)) {
			printf("%s%s", first ? "" : ", ", feature_names[i]);
			first = 0;
		}
	printf("\n    dma bits      %u\n", dma);
}

/* Capability registers straight from BAR0 (no driver needed). */
static int caps_from_bar(const struct board *d)
{
	char path[PATH_MAX];
	volatile uint32_t *r;
	int fd;

	snprintf(path, sizeof(path),
		 "/sys/bus/pci/devices/%04x:%02x:%02x.%x/resource0", d->domain,
		 d->bus, d->dev, d->func);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	r = mmap(NULL, SPATTEN_BAR0_SIZE, PROT_READ, MAP_SHARED, fd, 0);
	close(fd);
	if (r == MAP_FAILED)
		return -errno;
	if (r[SPATTEN_REG_ID / 4] != SPATTEN_HW_ID) {
		printf("    registers     ID 0x%08x: not a SpAtten register "
		       "file\n", r[SPATTEN_REG_ID / 4]);
	} else {
		printf("  capabilities (BAR0 registers):\n");
		print_caps(r[SPATTEN_REG_VERSION / 4],
			   r[SPATTEN_REG_CAP_ENGINES / 4],
			   r[SPATTEN_REG_CAP_QUEUES / 4],
			   r[SPATTEN_REG_CAP_QUEUE_DEPTH / 4],
			   r[SPATTEN_REG_CAP_MAX_CONTEXT / 4],
			   r[SPATTEN_REG_CAP_MAX_HEADS / 4],
			   r[SPATTEN_REG_CAP_HEAD_DIMS / 4],
			   r[SPATTEN_REG_CAP_FORMATS / 4],
			   r[SPATTEN_REG_CAP_SPLITS / 4],
			   r[SPATTEN_REG_CAP_FEATURES / 4],
			   r[SPATTEN_REG_CAP_DMA_BITS / 4]);
	}
	munmap((void *)r, SPATTEN_BAR0_SIZE);
	return 0;
}

/* The device's counters, then the driver's. */
static const char *counter_names[] = {
	"jobs ok", "jobs failed", "bytes Q", "bytes K MSB", "bytes K LSB",
	"bytes V", "bytes written", "LSB refetches", "cycles", "bytes meta",
	"resets", "timeouts", "irqs dropped",
};
#define N_COUNTER_NAMES	(sizeof(counter_names) / sizeof(counter_names[0]))

/*
 * The DRM fdinfo of our own open node (/proc/self/fdinfo/<fd>): its
 * "drm-" keys (driver, client id, memory, engine time), if the kernel
 * gives any. Nothing is printed otherwise.
 */
static void show_fdinfo(int fd)
{
	char path[64], line[256];
	int header = 0;
	FILE *f;

	if (fd < 0)
		return;
	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	f = fopen(path, "re");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		char *key = line, *val;
		size_t l = strlen(line);

		if (strncmp(line, "drm-", 4))
			continue;
		if (l && line[l - 1] == '\n')
			line[--l] = 0;
		val = strchr(line, ':');
		if (!val)
			continue;
		*val++ = 0;
		val += strspn(val, " \t");
		if (!header) {
			printf("  fdinfo (this open file):\n");
			header = 1;
		}
		printf("    %-22s %s\n", key, val);
	}
	fclose(f);
}

/*
 * A devcoredump of this board (a hang: /sys/class/devcoredump/devcd<N>,
 * whose failing_device is the PCI function): where it is and its summary
 * lines. Reading it does not dismiss it (writing to data does).
 */
static void show_devcoredump(const char *addr)
{
	const char *dir = "/sys/class/devcoredump";
	char path[512], link[512], line[256];
	struct dirent *e;
	int found = 0;
	ssize_t n;
	DIR *d;
	FILE *f;

	d = opendir(dir);
	while (d && (e = readdir(d))) {
		if (strncmp(e->d_name, "devcd", 5))
			continue;
		snprintf(path, sizeof(path), "%s/%s/failing_device", dir,
			 e->d_name);
		n = readlink(path, link, sizeof(link) - 1);
		if (n <= 0)
			continue;
		link[n] = 0;
		if (strcmp(strrchr(link, '/') ? strrchr(link, '/') + 1 : link,
			   addr))
			continue;
		snprintf(path, sizeof(path), "%s/%s/data", dir, e->d_name);
		printf("  devcoredump     %s (write to it to dismiss)\n", path);
		found = 1;
		f = fopen(path, "r");
		while (f && fgets(line, sizeof(line), f)) {
			if (!strncmp(line, "reason:", 7) ||
			    !strncmp(line, "guilty:", 7))
				printf("    %s", line);
			if (!strncmp(line, "registers:", 10))
				break;
		}
		if (f)
			fclose(f);
	}
	if (d)
		closedir(d);
	if (!found)
		printf("  devcoredump     none\n");
}

static int show_driver(const char *addr)
{
	struct spatten_board boards[16];
	struct spatten_counters cnt;
	struct spatten_info in;
	struct spatten_dev *dev;
	int n, i, ret;
	unsigned int k;

	n = spatten_list_boards(boards, 16);
	for (i = 0; i < n && i < 16; i++) {
		if (strcmp(boards[i].pci_addr, addr))
			continue;
		printf("  device node     %s (" SPATTEN_BOARD_PREFIX "%u)\n",
		       boards[i].path, boards[i].index);
		ret = spatten_open_backend(boards[i].path,
					   SPATTEN_BACKEND_DEVICE, &dev);
		if (ret < 0) {
			printf("    (cannot open: %s)\n",
			       spatten_last_error() ? spatten_last_error() :
			       strerror(-ret));
			return 0;
		}
		if (!spatten_get_info(dev, &in)) {
			printf("  capabilities (driver, API %u):\n",
			       in.api_version);
			print_caps(in.hw_version, in.num_engines,
				   in.num_queues, in.queue_depth,
				   in.max_context, in.max_heads, in.head_dims,
				   in.formats, in.splits, in.features,
				   in.dma_bits);
			printf("    max buffer    %" PRIu64 " MiB\n",
			       (uint64_t)(in.max_bo_size >> 20));
		}
		if (!spatten_get_counters(dev, &cnt)) {
			printf("  counters:\n");
			for (k = 0; k < cnt.num && k < N_COUNTER_NAMES; k++)
				printf("    %-14s%" PRIu64 "\n",
				       counter_names[k], (uint64_t)cnt.value[k]);
		}
		show_fdinfo(spatten_fd(dev));
		spatten_close(dev);
		show_devcoredump(addr);
		return 1;
	}
	return 0;
}

static void show(const struct board *d, int spatten)
{
	char addr[32], drv[64];
	int i;

	snprintf(addr, sizeof(addr), "%04x:%02x:%02x.%x", d->domain, d->bus,
		 d->dev, d->func);
	sysfs_driver(d, drv, sizeof(drv));
	printf("%s  %04x:%04x  class %04x  %s\n", addr, d->vendor_id,
	       d->device_id, d->device_class,
	       spatten ? "SpAtten sparse-attention accelerator" : d->name);
	printf("  driver          %s\n", drv);
	for (i = 0; i < 6; i++) {
		if (!d->size[i])
			continue;
		printf("  BAR%d            0x%" PRIx64 " (%" PRIu64 " KiB, %s)\n",
		       i, d->base[i], d->size[i] >> 10,
		       d->io[i] ? "I/O" : "memory");
	}
	if (!spatten)
		return;
	if (!strcmp(drv, "spatten") && show_driver(addr))
		return;
	{
		int ret = caps_from_bar(d);

		if (ret < 0)
			printf("  capabilities    (BAR0 not readable: %s; run "
			       "as root, or load spatten.ko)\n",
			       strerror(-ret));
	}
	if (strcmp(drv, "spatten"))
		printf("  hint            no spatten driver bound: insmod "
		       "spatten.ko (or modprobe spatten)\n");
}

static int wanted(const struct board *d, int all, int *spatten)
{
	*spatten = d->vendor_id == SPATTEN_PCI_VENDOR_ID &&
		   d->device_id == SPATTEN_PCI_DEVICE_ID;
	return *spatten || (all && (d->device_class >> 8) == 0x12);
}

#ifndef SPATTEN_INFO_SYSFS
/* Every function libpci finds; returns the SpAtten boards shown. */
static int scan(int all)
{
	struct pci_access *pacc;
	struct pci_dev *p;
	int found = 0, i;

	pacc = pci_alloc();
	if (!pacc) {
		fprintf(stderr, "%s: libpci: cannot initialise\n", prog);
		return -1;
	}
	pci_init(pacc);
	pci_scan_bus(pacc);
	for (p = pacc->devices; p; p = p->next) {
		struct board d;
		int spatten;

		memset(&d, 0, sizeof(d));
		pci_fill_info(p, PCI_FILL_IDENT | PCI_FILL_BASES |
			      PCI_FILL_SIZES | PCI_FILL_CLASS);
		d.domain = (unsigned int)p->domain;
		d.bus = p->bus;
		d.dev = p->dev;
		d.func = p->func;
		d.vendor_id = p->vendor_id;
		d.device_id = p->device_id;
		d.device_class = p->device_class;
		for (i = 0; i < 6; i++) {
			d.io[i] = !!(p->base_addr[i] &
				     PCI_BASE_ADDRESS_SPACE_IO);
			d.base[i] = p->base_addr[i] & (d.io[i] ?
				    PCI_ADDR_IO_MASK : PCI_ADDR_MEM_MASK);
			d.size[i] = p->size[i];
		}
		if (!wanted(&d, all, &spatten))
			continue;
		pci_lookup_name(pacc, d.name, sizeof(d.name),
				PCI_LOOKUP_DEVICE, d.vendor_id, d.device_id);
		show(&d, spatten);
		found += spatten;
	}
	pci_cleanup(pacc);
	return found;
}
#else
static unsigned long read_hex(const char *dir, const char *file)
{
	char p[PATH_MAX], buf[64];
	unsigned long v = 0;
	FILE *f;

	snprintf(p, sizeof(p), "%s/%s", dir, file);
	f = fopen(p, "r");
	if (!f)
		return 0;
	if (fgets(buf, sizeof(buf), f))
		v = strtoul(buf, NULL, 16);
	fclose(f);
	return v;
}

/* Every function sysfs lists; returns the SpAtten boards shown. */
static int scan(int all)
{
	const char *root = "/sys/bus/pci/devices";
	struct dirent **names;
	int n, k, found = 0;

	n = scandir(root, &names, NULL, alphasort);
	if (n < 0) {
		fprintf(stderr, "%s: %s: %s\n", prog, root, strerror(errno));
		return -1;
	}
	for (k = 0; k < n; k++) {
		char dir[PATH_MAX], line[PATH_MAX + 16];
		struct board d;
		int spatten, i = 0;
		FILE *f;

		memset(&d, 0, sizeof(d));
		if (names[k]->d_name[0] == '.' ||
		    sscanf(names[k]->d_name, "%x:%x:%x.%x", &d.domain, &d.bus,
			   &d.dev, &d.func) != 4)
			goto next;
		snprintf(dir, sizeof(dir), "%s/%s", root, names[k]->d_name);
		d.vendor_id = (unsigned int)read_hex(dir, "vendor");
		d.device_id = (unsigned int)read_hex(dir, "device");
		d.device_class = (unsigned int)(read_hex(dir, "class") >> 8);
		snprintf(d.name, sizeof(d.name), "(sysfs)");
		snprintf(line, sizeof(line), "%s/resource", dir);
		f = fopen(line, "r");
		while (f && i < 6 && fgets(line, sizeof(line), f)) {
			unsigned long long a, b, fl;

			if (sscanf(line, "%llx %llx %llx", &a, &b, &fl) == 3 &&
			    b > a) {
				d.base[i] = a;
				d.size[i] = b - a + 1;
				d.io[i] = !!(fl & 0x100);	/* IORESOURCE_IO */
			}
			i++;
		}
		if (f)
			fclose(f);
		if (wanted(&d, all, &spatten)) {
			show(&d, spatten);
			found += spatten;
		}
next:
		free(names[k]);
	}
	free(names);
	return found;
}
#endif

/* The simulation backend's board: its limits and features. */
static int show_sim(void)
{
	struct spatten_dev *dev;
	struct spatten_info in;
	int ret;

	ret = spatten_open_backend(NULL, SPATTEN_BACKEND_SIM, &dev);
	if (!ret)
		ret = spatten_get_info(dev, &in);
	if (ret < 0) {
		fprintf(stderr, "%s: the simulation backend: %s\n", prog,
			spatten_last_error() ? spatten_last_error() :
			strerror(-ret));
		spatten_close(dev);	/* NULL when the open failed */
		return 1;
	}
	printf("simulation backend (libspatten %d.%d, in-process: the "
	       "device's engine and the driver's checks; SPATTEN_BACKEND=sim)\n",
	       SPATTEN_LIB_VERSION_MAJOR, SPATTEN_LIB_VERSION_MINOR);
	printf("  capabilities (API %u):\n", in.api_version);
	print_caps(in.hw_version, in.num_engines, in.num_queues,
		   in.queue_depth, in.max_context, in.max_heads, in.head_dims,
		   in.formats, in.splits, in.features, in.dma_bits);
	printf("    max buffer    %" PRIu64 " MiB\n",
	       (uint64_t)(in.max_bo_size >> 20));
	spatten_close(dev);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "all-vendors", no_argument, NULL, 'a' },
		{ "sim", no_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int all = 0, sim = 0, found, c;

	while ((c = getopt_long(argc, argv, "ash", lo, NULL)) != -1) {
		switch (c) {
		case 'a':
			all = 1;
			break;
		case 's':
			sim = 1;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			fprintf(stderr, "Try '%s --help'.\n", prog);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "%s: unexpected argument '%s'\nTry '%s "
			"--help'.\n", prog, argv[optind], prog);
		return 2;
	}
	if (sim)
		return show_sim();
	found = scan(all);
	if (found < 0)
		return 1;
	if (!found) {
		fprintf(stderr, "%s: no SpAtten board (PCI %04x:%04x) found; "
			"programs can run on the simulation backend "
			"(SPATTEN_BACKEND=sim; '%s --sim' shows its limits)\n",
			prog, SPATTEN_PCI_VENDOR_ID, SPATTEN_PCI_DEVICE_ID,
			prog);
		return 1;
	}
	return 0;
}
