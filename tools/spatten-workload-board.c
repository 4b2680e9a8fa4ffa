// SPDX-License-Identifier: MIT
/*
 * Messages about the board (see spatten-workload.h): why it could not be
 * opened (no board, no driver, permissions: the PCI bus is looked at), and
 * which of its limits a workload exceeds.
 */
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "spatten-workload-priv.h"

static int pci_board_present(char *addr, size_t len)
{
	struct dirent *de;
	DIR *d = opendir("/sys/bus/pci/devices");
	int found = 0;

	if (!d)
		return 0;
	while (!found && (de = readdir(d))) {
		char p[512], buf[32];
		unsigned int ven = 0, dev = 0;
		FILE *f;

		if (de->d_name[0] == '.')
			continue;
		snprintf(p, sizeof(p), "/sys/bus/pci/devices/%s/vendor",
			 de->d_name);
		f = fopen(p, "r");
		if (!f)
			continue;
		if (fgets(buf, sizeof(buf), f))
			ven = (unsigned int)strtoul(buf, NULL, 16);
		fclose(f);
		snprintf(p, sizeof(p), "/sys/bus/pci/devices/%s/device",
			 de->d_name);
		f = fopen(p, "r");
		if (!f)
			continue;
		if (fgets(buf, sizeof(buf), f))
			dev = (unsigned int)strtoul(buf, NULL, 16);
		fclose(f);
		if (ven == SPATTEN_PCI_VENDOR_ID && dev == SPATTEN_PCI_DEVICE_ID) {
			snprintf(addr, len, "%.31s", de->d_name);
			found = 1;
		}
	}
	closedir(d);
	return found;
}

void wl_explain_open_error(const char *prog, const char *path, int err)
{
	char addr[64], where[4096], why[256];
	int boards;

	/* the library's reason first: the next call replaces it */
	snprintf(why, sizeof(why), "%s", wl_reason(err));
	boards = spatten_list_boards(NULL, 0);

	/* "PATH: " when one was given; the first board otherwise */
	snprintf(where, sizeof(where), "%s%s", path ? path : "",
		 path ? ": " : "");
	if (err == -ENOENT && boards > 0 && path &&
	    !strncmp(path, SPATTEN_BOARD_PREFIX, strlen(SPATTEN_BOARD_PREFIX))) {
		fprintf(stderr, "%s: %sno such board (%d SpAtten board%s, "
			"numbered from 0)\n", prog, where, boards,
			boards == 1 ? "" : "s");
	} else if (err == -ENOENT || err == -ENODEV || err == -ENXIO) {
		if (pci_board_present(addr, sizeof(addr)))
			fprintf(stderr, "%s: %sno SpAtten device node, but a "
				"SpAtten board is at PCI %s: is the driver "
				"loaded? (modprobe spatten / insmod "
				"spatten.ko)\n", prog, where, addr);
		else
			fprintf(stderr, "%s: %sno SpAtten device (no board "
				"found on the PCI bus either; "
				"%s runs the simulation)\n",
				prog, where, wl_sim_flag);
	} else if (err == -EACCES || err == -EPERM) {
		fprintf(stderr, "%s: %spermission denied (root, or the "
			"udev rule's group)\n", prog, where);
	} else if (err == -EPROTO) {
		fprintf(stderr, "%s: %sthe driver speaks another API "
			"version than this library (%d)\n", prog, where,
			SPATTEN_API_VERSION);
	} else if (err == -ENOTTY) {
		fprintf(stderr, "%s: %snot a SpAtten device\n", prog, where);
	} else if (err == -EINVAL && getenv(SPATTEN_BACKEND_ENV)) {
		fprintf(stderr, "%s: %s=%s: expected \"sim\" or \"device\"\n",
			prog, SPATTEN_BACKEND_ENV, getenv(SPATTEN_BACKEND_ENV));
	} else if (err == -EINVAL && path &&
		   !strncmp(path, SPATTEN_BOARD_PREFIX,
			    strlen(SPATTEN_BOARD_PREFIX))) {
		fprintf(stderr, "%s: %sexpected " SPATTEN_BOARD_PREFIX
			"N, N the board number (0 for the first)\n", prog,
			where);
	} else {
		fprintf(stderr, "%s: %s%s\n", prog, where, why);
	}
}

/* Falls back to the generic hint when the capabilities cannot be read. */
void wl_explain_caps(struct spatten_dev *dev, const struct wl_opts *o,
		     const struct spatten_session_opts *c)
{
	struct spatten_info info;
	const char *p = wl_prog;

	if (spatten_get_info(dev, &info) < 0) {
		fprintf(stderr, "%s: cannot set up the session: the board "
			"lacks a feature, format or size this workload needs "
			"(see spatten-info)\n", p);
		return;
	}
	if (c->max_context > info.max_context && wl_budget(o))
		fprintf(stderr, "%s: a cache of %u slots: more than the "
			"board's max context of %u tokens\n", p,
			c->max_context, info.max_context);
	else if (c->max_context > info.max_context)
		fprintf(stderr, "%s: %sprompt + steps = %u tokens: more than "
			"the board's max context of %u tokens\n", p,
			o->fill ? "fill + " : "", c->max_context,
			info.max_context);
	else if (c->n_heads > info.max_heads)
		fprintf(stderr, "%s: %u heads: more than the board's max of "
			"%u heads\n", p, c->n_heads, info.max_heads);
	else if (!(info.head_dims & c->head_dim))
		fprintf(stderr, "%s: head dimension %u: the board supports "
			"the dimensions of mask 0x%x\n", p, c->head_dim,
			info.head_dims);
	else
		fprintf(stderr, "%s: cannot set up the session: the board "
			"lacks a feature or format this workload needs (K %u "
			"bits%s, V %u bits%s%s; see spatten-info)\n", p,
			c->k_bits, c->flags & SPATTEN_SESSION_PROGRESSIVE ?
			" progressive" : "", c->v_bits,
			c->n_kv_heads != c->n_heads ? ", grouped-query heads" :
			"", c->rope_base ? ", RoPE" : "");
}

/*
 * The session keeps each plane of a layer's cache (K, K LSBs, V) in a
 * buffer of its own: at long contexts the largest, not the context, is
 * the limit (a llama3-8b layer at 131072 slots with S16 values: 256 MiB).
 * Return: 1 after a message, 0 when every buffer fits.
 */
int wl_explain_bo_size(struct spatten_dev *dev, const struct wl_opts *o,
		       const struct spatten_session_opts *c)
{
	uint32_t bits = o->k_bits > o->v_bits ? o->k_bits : o->v_bits;
	uint64_t row = (uint64_t)o->m.kv_heads * o->m.head_dim * bits / 8;
	uint64_t bytes = (uint64_t)c->max_context * row;
	struct spatten_info info;

	if (spatten_get_info(dev, &info) < 0 || bytes <= info.max_bo_size)
		return 0;
	fprintf(stderr, "%s: a layer's %u-bit KV-cache plane of %u slots x "
		"%llu bytes = %llu MiB: more than the board's largest buffer "
		"(%llu MiB); fewer slots (--kv-budget) or bits (--k-bits, "
		"--v-bits)\n", wl_prog, bits, c->max_context,
		(unsigned long long)row, (unsigned long long)(bytes >> 20),
		(unsigned long long)(info.max_bo_size >> 20));
	return 1;
}
