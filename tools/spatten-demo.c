// SPDX-License-Identifier: MIT
/*
 * spatten-demo: the README's main job. Runs GPT-2-small-shaped attention
 * (12 layers x 12 heads, D = 64) on a SpAtten board through a libspatten
 * session: a 192-token prompt summarized, then 8 generated tokens, with
 * cascade token and head pruning, local value pruning and progressive
 * quantization all on, and prints per layer what each mechanism saved.
 * Selected output rows (4 per layer and head of the prompt, every row of
 * the generation steps) are checked against a float reference of the same
 * pruned computation; the tolerance is the engine's documented bound
 * (spe_out_tolerance(), docs/engine.md).
 *
 * Exit status: 0 every checked row within the tolerance, 1 an error or a
 * row beyond it, 2 bad arguments. spatten-run runs other shapes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "spatten-report.h"
#include "spatten-workload.h"

int main(int argc, char **argv)
{
	struct wl_opts o;
	struct wl_result *r;
	int i, ret;

	wl_opts_default(&o, wl_model_find("gpt2-small"));
	o.prompt = 192;
	o.steps = 8;
	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			printf("Usage: %s [--sim] [--json]\n"
			       "Runs GPT-2-small-shaped attention with every "
			       "SpAtten mechanism on the device\n(or, with "
			       "--sim, the in-process simulation) and checks "
			       "it against a float\nreference. Exit status: "
			       "0 ok, 1 failure, 2 bad arguments.\n", argv[0]);
			return rep_stdout_done("spatten-demo", 0);
		} else if (!strcmp(argv[i], "--sim")) {
			o.backend = SPATTEN_BACKEND_SIM;
		} else if (!strcmp(argv[i], "--json")) {
			o.json = 1;
		} else {
			fprintf(stderr, "%s: unknown argument '%s'\nTry '%s "
				"--help'.\n", argv[0], argv[i], argv[0]);
			return 2;
		}
	}
	wl_prog = "spatten-demo";
	wl_sim_flag = "--sim";
	r = calloc(1, sizeof(*r));
	if (!r)
		return 1;
	if (!o.json)
		printf("SpAtten demo: GPT-2-small-shaped attention, %u-token "
		       "prompt + %u generated tokens,\ncascade token/head "
		       "pruning, local value pruning and progressive "
		       "quantization on.\n\n", o.prompt, o.steps);
	ret = wl_run(&o, r);
	if (ret < 0) {
		free(r);
		return 1;
	}
	wl_report(stdout, &o, r);
	if (!o.json)
		printf("\nColumns: tokens kept of the context (cascade token "
		       "pruning), heads computed (cascade\nhead pruning, "
		       "average per pass), V rows kept per query (local value "
		       "pruning,\naverage), (head, query) rows that refetched "
		       "the key LSBs (progressive\nquantization), bytes read "
		       "vs a dense 16-bit job, modeled cycles, max |error|.\n");
	ret = r->worst_ratio <= 1.0 ? 0 : 1;
	if (!o.json)
		printf("%s\n", ret ? "FAIL: an output row is beyond the "
		       "tolerance" : "PASS");
	free(r);
	return rep_stdout_done("spatten-demo", ret);
}
