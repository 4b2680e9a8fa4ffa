/* SPDX-License-Identifier: MIT */
/* GPT-2-small-shaped attention with cascade pruning, through a session. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <libspatten.h>

enum { LAYERS = 12, HEADS = 12, D = 64, PROMPT = 128, STEPS = 4 };

int main(void)
{
	size_t n = (size_t)HEADS * PROMPT * D, i;
	float *x = malloc(4 * n * sizeof(*x));	/* Q, K, V, output */
	struct spatten_session_config cfg;
	struct spatten_layer_stats st;
	struct spatten_session *s;
	struct spatten_dev *dev;
	int ret, l, t;

	for (i = 0; i < 3 * n; i++)
		x[i] = (float)rand() / RAND_MAX * 2 - 1;
	spatten_session_config_init(&cfg, LAYERS, HEADS, D, PROMPT + STEPS);
	spatten_schedule_paper(&cfg.schedule, LAYERS, 0.9f, 0.1f, 1.0f, 0.75f, 0.2f);
	cfg.flags |= SPATTEN_SESSION_PROGRESSIVE, cfg.k_bits = 8, cfg.k_frac = 8; /* 8+4-bit keys */
	if ((ret = spatten_open(NULL, &dev)) || (ret = spatten_session_create(dev, &cfg, &s)))
		return fprintf(stderr, "spatten: %s\n", strerror(-ret)), 1;
	for (t = 0; t <= STEPS; t++)		/* the prompt, then one token per step */
		for (l = 0; l < LAYERS; l++)
			if ((ret = spatten_session_layer(s, l, t ? 1 : PROMPT, x, x + n, x + 2 * n, x + 3 * n)))
				return fprintf(stderr, "layer %d: %s\n", l, strerror(-ret)), 1;
	for (l = 0; l < LAYERS && !spatten_session_layer_stats(s, l, &st, NULL); l++)
		printf("layer %2d: %3u/%u tokens, %2u heads, %2u LSB refetches, %6llu of %6llu bytes, %4llu cycles\n",
		       l, st.tokens_kept, st.kv_rows, st.heads_alive, st.lsb_refetches,
		       (unsigned long long)(st.bytes_q + st.bytes_k_msb + st.bytes_k_lsb + st.bytes_v),
		       (unsigned long long)st.bytes_dense, (unsigned long long)st.cycles);
	spatten_session_destroy(s);
	spatten_close(dev);
	free(x);
	return 0;
}
