/* SPDX-License-Identifier: MIT */
/* GPT-2-small-shaped attention with cascade pruning, through a session. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <libspatten.h>

enum { LAYERS = 12, HEADS = 12, D = 64, PROMPT = 128, STEPS = 4 };

int main(void)
{
	size_t n = (size_t)HEADS * PROMPT * D;
	float *x = malloc(4 * n * sizeof(*x));	/* Q, K, V, then the output */
	struct spatten_session_config cfg;
	struct spatten_session *s = NULL;
	struct spatten_dev *dev = NULL;
	struct spatten_layer_stats st;
	int ret;

	for (size_t i = 0; i < 3 * n; i++)
		x[i] = (float)rand() / RAND_MAX * 2 - 1;
	spatten_session_config_init(&cfg, LAYERS, HEADS, D, PROMPT + STEPS);
	/* tokens 0.9 -> 0.1 of the context, heads 1.0 -> 0.75, values 20% */
	spatten_schedule_paper(&cfg.schedule, LAYERS, 0.9f, 0.1f, 1.0f, 0.75f, 0.2f);
	cfg.flags |= SPATTEN_SESSION_PROGRESSIVE;	/* keys: 8 MSBs + 4 LSBs */
	cfg.k_bits = 8;
	cfg.k_frac = 8;
	ret = spatten_open(NULL, &dev);
	if (!ret)
		ret = spatten_session_create(dev, &cfg, &s);
	for (int t = 0; !ret && t <= STEPS; t++)	/* the prompt, then one token a step */
		for (int l = 0; !ret && l < LAYERS; l++)
			ret = spatten_session_layer(s, l, t ? 1 : PROMPT, x, x + n, x + 2 * n, x + 3 * n);
	for (int l = 0; !ret && l < LAYERS; l++) {
		spatten_session_layer_stats(s, l, &st, NULL);
		printf("layer %2d: %4u of %u tokens, %2u heads, %u LSB refetches, %llu cycles\n",
		       l, st.tokens_kept, st.kv_rows, st.heads_alive, st.lsb_refetches,
		       (unsigned long long)st.cycles);
	}
	if (ret)	/* the library says why: "no SpAtten board 0 found ..." */
		fprintf(stderr, "spatten: %s\n", spatten_last_error() ?
			spatten_last_error() : strerror(-ret));
	spatten_session_destroy(s);
	spatten_close(dev);
	free(x);
	return ret ? 1 : 0;
}
