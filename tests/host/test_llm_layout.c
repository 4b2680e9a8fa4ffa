// SPDX-License-Identifier: MIT
/*
 * KV layouts of descriptor version 3: the same job with its K (and LSB)
 * and V rows in a head-major cache of larger capacity, a token-major
 * cache, and paged caches behind a shuffled block table gives the packed
 * layout's output, importance, kept lists and statistics bit for bit;
 * only where the bytes are read from differs. The reads themselves are
 * checked through the test's own memory callbacks: nothing read twice,
 * one row per read in a token-major cache, never more than one block per
 * read in a paged one. Block-table entries outside a KV buffer fail the
 * job with ERR_BLOCK before anything is written.
 *
 * Every byte of a KV buffer that holds no row of the job is random, so a
 * read from a wrong row changes the output.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "llm_job.h"
#include "tap.h"

#define BLOCK_ROWS	16
#define SPARE_BLOCKS	3	/* blocks in the buffer no table entry names */

/* The jobs: each is run packed, then in every layout. */
struct job_case {
	const char *name;
	struct llm_spec s;
	int32_t k_amp, v_amp;
	const uint32_t *alive;	/* tok_alive, s.n_tok_alive entries */
};

enum layout_kind { L_PACKED, L_HEAD_MAJOR, L_TOKEN_MAJOR, L_PAGED_VLLM,
		   L_PAGED_HEADS, L_NUM };

static const char *const layout_name[L_NUM] = {
	"packed", "head-major, capacity + 37",
	"token-major [tokens][kv_heads][D]",
	"paged [blocks][16][kv_heads][D]", "paged [blocks][kv_heads][16][D]",
};

/*
 * Set @s's layout fields for @kind; returns the rows each KV buffer
 * holds (0: what the layout reaches) and fills @table (paged) with a
 * random permutation of the buffer's blocks.
 */
static uint64_t set_layout(struct llm_spec *s, enum layout_kind kind,
			   uint32_t *table, uint64_t seed)
{
	uint32_t hkv = s->kv_heads, cap = s->kv_rows + 37;
	uint32_t n_blocks = (s->kv_rows + BLOCK_ROWS - 1) / BLOCK_ROWS;
	uint32_t n_phys = n_blocks + SPARE_BLOCKS, *perm, i;

	s->head_stride = s->row_stride = s->block_stride = s->block_rows = 0;
	switch (kind) {
	case L_PACKED:
		return 0;
	case L_HEAD_MAJOR:
		s->head_stride = cap;
		s->row_stride = 1;
		return (uint64_t)hkv * cap;
	case L_TOKEN_MAJOR:
		s->head_stride = 1;
		s->row_stride = hkv;
		return (uint64_t)hkv * cap;
	case L_PAGED_VLLM:
		s->head_stride = 1;
		s->row_stride = hkv;
		break;
	default:
		s->head_stride = BLOCK_ROWS;
		s->row_stride = 1;
		break;
	}
	s->block_rows = BLOCK_ROWS;
	s->block_stride = BLOCK_ROWS * hkv;
	perm = calloc(n_phys, sizeof(*perm));
	for (i = 0; i < n_phys; i++)
		perm[i] = i;
	for (i = n_phys - 1; i > 0; i--) {	/* Fisher-Yates */
		uint32_t j = (uint32_t)(llm_rand(&seed) % (i + 1)), x = perm[i];

		perm[i] = perm[j];
		perm[j] = x;
	}
	memcpy(table, perm, n_blocks * sizeof(*table));
	free(perm);
	return (uint64_t)n_phys * s->block_stride;
}

/* One run of a job in one layout, with what the comparison needs. */
struct run {
	struct llm_test t;
	int rc;
};

static void run_layout(struct run *r, const struct job_case *jc,
		       enum layout_kind kind, uint64_t seed)
{
	struct llm_spec s = jc->s;
	uint32_t table[4096] = { 0 };
	uint64_t rows = set_layout(&s, kind, table, seed + kind);
	uint64_t *imp = calloc(s.kv_rows, sizeof(*imp)), rs = seed;
	uint32_t i;

	for (i = 0; i < s.kv_rows; i++)
		imp[i] = llm_rand(&rs) % 50000;
	/* Same seed: the same logical operands in every layout. */
	llm_test_init(&r->t, &s, 8192, jc->k_amp, jc->v_amp, seed, table,
		      rows);
	llm_put_u64s(&r->t.m, SPE_PLANE_TOK_IMP, imp, s.kv_rows);
	if (s.n_tok_alive)
		llm_put_u32s(&r->t.m, SPE_PLANE_TOK_ALIVE, jc->alive,
			     s.n_tok_alive);
	if (s.token_keep)
		llm_mem_alloc(&r->t.m, SPE_PLANE_TOK_KEPT,
			      (size_t)s.token_keep * 4);
	r->rc = llm_test_run(&r->t);
	free(imp);
}

/*
 * The written planes and the statistics of run @b agree with packed run
 * @a bit for bit, except that a paged job also reads its block table (4
 * bytes an entry), which the cycle model counts like any other bytes.
 */
static int same_results(const struct run *a, const struct run *b)
{
	static const enum spe_plane written[] = {
		SPE_PLANE_OUT, SPE_PLANE_TOK_IMP, SPE_PLANE_TOK_KEPT,
	};
	const struct llm_spec *s = &b->t.s;
	struct spe_stats st = b->t.res.stats;
	uint64_t table = spatten_hw_kv_blocks(s->kv_rows, s->block_rows) * 4;
	size_t i;

	for (i = 0; i < sizeof(written) / sizeof(written[0]); i++) {
		enum spe_plane p = written[i];

		if (a->t.m.size[p] != b->t.m.size[p] ||
		    (a->t.m.size[p] && memcmp(a->t.m.data[p], b->t.m.data[p],
					      a->t.m.size[p])))
			return 0;
	}
	if (st.bytes[SPE_PLANE_BLOCK_TABLE] != table)
		return 0;
	st.bytes[SPE_PLANE_BLOCK_TABLE] = 0;
	return !memcmp(&a->t.res.stats, &st, sizeof(st)) &&
	       (s->block_rows ? b->t.res.cycles >= a->t.res.cycles :
				b->t.res.cycles == a->t.res.cycles) &&
	       a->t.res.lsb_refetches == b->t.res.lsb_refetches;
}

/* Every read of @plane lies within one row (@rows == 1) or one aligned
 * chunk of @rows rows: token-major rows, blocks of a paged cache. */
static int reads_within(const struct llm_mem *m, enum spe_plane plane,
			uint32_t row_bytes, uint32_t rows)
{
	const struct llm_log *l = &m->rlog[plane];
	uint64_t chunk = (uint64_t)row_bytes * rows;
	size_t i;

	for (i = 0; i < l->n; i++)
		if (l->io[i].off / chunk !=
		    (l->io[i].off + l->io[i].len - 1) / chunk ||
		    l->io[i].off % row_bytes || l->io[i].len % row_bytes)
			return 0;
	return 1;
}

/*
 * The read pattern a layout promises, for the three KV planes: a row
 * stride above 1 gives one row per read, paging at most one block per
 * read, and a head-major cache the packed layout's runs.
 */
static int reads_as_promised(const struct run *r, const struct run *packed)
{
	static const enum spe_plane kv[] = {
		SPE_PLANE_K_MSB, SPE_PLANE_K_LSB, SPE_PLANE_V,
	};
	const struct llm_spec *s = &r->t.s;
	uint32_t bits[3] = {
		spatten_hw_fmt_bits(s->k_fmt), SPATTEN_LSB_BITS,
		spatten_hw_fmt_bits(s->v_fmt),
	};
	int i, good = !r->t.m.stray && llm_mem_once(&r->t.m) &&
		      llm_mem_counts_match(&r->t.m, &r->t.res.stats);

	for (i = 0; i < 3; i++) {
		uint32_t rb = llm_row_bytes(s->d, bits[i]);

		if (s->row_stride > 1)
			good &= reads_within(&r->t.m, kv[i], rb, 1);
		else if (s->block_rows)
			good &= reads_within(&r->t.m, kv[i], rb, BLOCK_ROWS);
		else
			good &= r->t.m.rlog[kv[i]].n ==
				packed->t.m.rlog[kv[i]].n;
	}
	return good;
}

static void check_job(const struct job_case *jc, uint64_t seed)
{
	struct run base, r;
	enum layout_kind kind;

	run_layout(&base, jc, L_PACKED, seed);
	if (ok(base.t.decode_rc == 0 && base.rc == 0,
	       "%s, packed: decodes (%d) and runs (%d); %" PRIu64
	       " refetches, %" PRIu64 " K bytes", jc->name, base.t.decode_rc,
	       base.rc, base.t.res.lsb_refetches,
	       base.t.res.stats.bytes[SPE_PLANE_K_MSB])) {
		for (kind = L_HEAD_MAJOR; kind < L_NUM; kind++) {
			run_layout(&r, jc, kind, seed);
			ok(r.t.decode_rc == 0 && r.rc == 0 &&
			   same_results(&base, &r),
			   "%s, %s: output, tok_imp, tok_kept and statistics "
			   "identical to packed (%" PRIu64 " table bytes)",
			   jc->name, layout_name[kind],
			   r.t.res.stats.bytes[SPE_PLANE_BLOCK_TABLE]);
			ok(r.t.decode_rc == 0 && r.rc == 0 &&
			   reads_as_promised(&r, &base),
			   "%s, %s: no byte read twice; %zu K reads, largest "
			   "%" PRIu64 " bytes", jc->name, layout_name[kind],
			   r.t.m.rlog[SPE_PLANE_K_MSB].n,
			   llm_mem_max_read(&r.t.m, SPE_PLANE_K_MSB));
			llm_test_free(&r.t);
		}
	}
	llm_test_free(&base.t);
}

static void test_layouts(void)
{
	static uint32_t alive[180];
	struct job_case jc = {
		.name = "S16 causal prefill 100, 8/2",
		.s = {
			.heads = 8, .kv_heads = 2, .d = 64, .q_rows = 100,
			.kv_rows = 100, .flags = SPATTEN_DESC_F_CAUSAL,
			.k_fmt = SPATTEN_FMT_S16, .v_fmt = SPATTEN_FMT_S16,
			.q_frac = 12, .k_frac = 12, .v_frac = 12,
			.out_frac = 12,
		},
		.k_amp = 8192, .v_amp = 16384,
	};
	uint32_t i, n = 0;

	check_job(&jc, 101);

	jc.name = "S8 K and V, causal prefill 100, 8/2";
	jc.s.k_fmt = jc.s.v_fmt = SPATTEN_FMT_S8;
	jc.s.k_frac = jc.s.v_frac = 5;
	jc.k_amp = jc.v_amp = 127;
	check_job(&jc, 102);

	/* Progressive: K as S8 MSBs + U4 LSBs (S12 keys), most rows refetch. */
	jc.name = "progressive S8+4 K, causal prefill 100, 8/2";
	jc.s.flags |= SPATTEN_DESC_F_PROGRESSIVE;
	jc.s.k_frac = 10;
	jc.s.lsb_threshold = 6000;
	jc.k_amp = 2047;
	check_job(&jc, 103);

	/*
	 * Generation over a gappy candidate list with token and value
	 * pruning: runs of kept slots break everywhere, V rows scattered.
	 */
	for (i = 0; i < 299; i++)
		if (i % 5 != 2 && i % 13 != 0 && n < 180)
			alive[n++] = i;
	jc = (struct job_case){
		.name = "gappy tok_alive, token_keep, value_keep, generation "
			"at 300, 8/2",
		.s = {
			.heads = 8, .kv_heads = 2, .d = 64, .generation = 1,
			.flags = SPATTEN_DESC_F_CAUSAL, .q_rows = 1,
			.kv_rows = 300, .q_start = 299,
			.k_fmt = SPATTEN_FMT_S16, .v_fmt = SPATTEN_FMT_S16,
			.q_frac = 12, .k_frac = 12, .v_frac = 12,
			.out_frac = 12, .n_tok_alive = n, .token_keep = 120,
			.value_keep = 20,
		},
		.k_amp = 8192, .v_amp = 16384, .alive = alive,
	};
	check_job(&jc, 104);

	/* Progressive with token pruning: LSB rows gathered by the table. */
	jc.name = "progressive, token_keep 120, generation at 300, 4/1";
	jc.s.heads = 4, jc.s.kv_heads = 1, jc.s.value_keep = 0;
	jc.s.flags |= SPATTEN_DESC_F_PROGRESSIVE;
	jc.s.k_fmt = SPATTEN_FMT_S8, jc.s.k_frac = 10;
	jc.s.lsb_threshold = 32768;
	jc.k_amp = 2047;
	check_job(&jc, 105);
}

/* ---- 4. Block-table entries out of a buffer -------------------------------- */

/*
 * A paged generation step over 100 slots ([blocks][kv_heads][16][D], 2
 * KV heads, so a block is 32 rows; 10 blocks in each buffer, 7 in the
 * table) with table entry @at set to @entry, and the V buffer (or with
 * @progressive the K LSB plane) cut to @short_rows rows. Returns the
 * status; *@clean says nothing was written (tok_imp is present, so a
 * write-back would show), no K or V byte read, the output all sentinels.
 */
static int bad_block_job(uint32_t at, uint32_t entry, uint32_t short_rows,
			 int progressive, int *clean)
{
	struct llm_spec s = {
		.heads = 8, .kv_heads = 2, .d = 64, .generation = 1,
		.flags = SPATTEN_DESC_F_CAUSAL, .q_rows = 1, .kv_rows = 100,
		.q_start = 99, .k_fmt = SPATTEN_FMT_S16,
		.v_fmt = SPATTEN_FMT_S16, .q_frac = 12, .k_frac = 12,
		.v_frac = 12, .out_frac = 12, .block_rows = BLOCK_ROWS,
		.head_stride = BLOCK_ROWS, .row_stride = 1,
		.block_stride = 2 * BLOCK_ROWS,
	};
	/* Blocks 2, 5 and 9 unused; slots 96-99 are in table[6]. */
	uint32_t table[7] = { 6, 0, 7, 3, 8, 1, 4 }, x, h;
	uint64_t imp[100] = { 0 };
	struct llm_test t;
	int rc;

	if (progressive) {
		s.flags |= SPATTEN_DESC_F_PROGRESSIVE;
		s.k_fmt = SPATTEN_FMT_S8;
		s.lsb_threshold = 32768;
	}
	if (entry < 10)		/* placeable: the rows are really there */
		table[at] = entry;
	llm_test_init(&t, &s, 8192, progressive ? 2047 : 8192, 16384, 111,
		      table, 10ull * s.block_stride);
	table[at] = entry;
	llm_put_u32s(&t.m, SPE_PLANE_BLOCK_TABLE, table, 7);
	llm_put_u64s(&t.m, SPE_PLANE_TOK_IMP, imp, 100);
	/* A shorter buffer: the descriptor's len is the size. */
	if (progressive)
		t.m.size[SPE_PLANE_K_LSB] = (size_t)short_rows * s.d / 2;
	else
		t.m.size[SPE_PLANE_V] = (size_t)short_rows * s.d * 2;
	rc = llm_test_run(&t);
	*clean = t.decode_rc == 0 && !llm_mem_written(&t.m) &&
		 !t.m.rbytes[SPE_PLANE_K_MSB] && !t.m.rbytes[SPE_PLANE_V];
	for (h = 0; h < s.heads; h++)
		for (x = 0; x < s.d; x++)
			*clean &= (uint16_t)llm_out(&t.m, &s, h, 0, x) ==
				  LLM_OUT_SENTINEL;
	llm_test_free(&t);
	return rc;
}

static void test_bad_blocks(void)
{
	int rc, clean;

	rc = bad_block_job(3, 3, 320, 0, &clean);
	ok(rc == 0, "paged: a valid table runs (%d)", rc);
	rc = bad_block_job(3, 9, 320, 0, &clean);
	ok(rc == 0, "paged: block 9, the last in the buffers, runs (%d)", rc);
	rc = bad_block_job(3, 10, 320, 0, &clean);
	ok(rc == SPATTEN_HW_ERR_BLOCK && clean,
	   "paged: block 10 of 10-block buffers: ERR_BLOCK (%d), nothing "
	   "written, no K or V read", rc);
	rc = bad_block_job(3, 0xffffffffu, 320, 0, &clean);
	ok(rc == SPATTEN_HW_ERR_BLOCK && clean,
	   "paged: block 0xffffffff: ERR_BLOCK (%d), nothing written", rc);
	rc = bad_block_job(3, 9, 288, 0, &clean);
	ok(rc == SPATTEN_HW_ERR_BLOCK && clean,
	   "paged: block 9 inside K but beyond a 9-block V: ERR_BLOCK (%d), "
	   "nothing written", rc);
	rc = bad_block_job(3, 9, 319, 0, &clean);
	ok(rc == SPATTEN_HW_ERR_BLOCK && clean,
	   "paged: block 9 in a V buffer one row short of it: ERR_BLOCK (%d), "
	   "nothing written", rc);
	/* Slots 96-99 of head 1 are rows 304-307: used rows fit, not the block. */
	rc = bad_block_job(6, 9, 308, 0, &clean);
	ok(rc == SPATTEN_HW_ERR_BLOCK && clean,
	   "paged: last, partly used block 9 whose used rows fit a 308-row V "
	   "but the whole block does not: ERR_BLOCK (%d), nothing written",
	   rc);
	rc = bad_block_job(3, 3, 288, 1, &clean);
	ok(rc == 0, "paged progressive, 9-block LSB plane, blocks <= 8: runs "
	   "(%d)", rc);
	rc = bad_block_job(3, 9, 288, 1, &clean);
	ok(rc == SPATTEN_HW_ERR_BLOCK && clean,
	   "paged progressive: block 9 beyond a 9-block LSB plane: ERR_BLOCK "
	   "(%d), nothing written", rc);
}

int main(void)
{
	test_layouts();
	test_bad_blocks();
	return done_testing();
}
