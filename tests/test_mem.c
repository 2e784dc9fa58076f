/*
 * test_mem.c - sparse physical memory: zero fill, page crossing, sparseness,
 * 52-bit addresses, the timing hook, pattern fill ranges (sim_mem_fill).
 */
#include <criterion/criterion.h>
#include <signal.h>
#include <string.h>

#include "sim/sim.h"

Test(mem, untouched_reads_zero_and_allocates_nothing)
{
	struct sim_mem *m = sim_mem_new(1ull << 40, 100);
	uint8_t buf[64];

	memset(buf, 0xAA, sizeof(buf));
	cr_expect_eq(sim_mem_read(m, 0, SIM_SRC_DATA, 0x12345678, buf, sizeof(buf)), 100);
	for (size_t i = 0; i < sizeof(buf); i++)
		cr_assert_eq(buf[i], 0);
	cr_expect_eq(sim_mem_peek64(m, 0xFFFFFFFFF000ull), 0);
	cr_expect_eq(sim_mem_frames(m), 0);
	sim_mem_free(m);
}

Test(mem, write_then_read_across_a_page_boundary)
{
	struct sim_mem *m = sim_mem_new(1ull << 32, 7);
	uint8_t in[32], out[32];

	for (int i = 0; i < 32; i++)
		in[i] = (uint8_t)(i * 3 + 1);
	cr_expect_eq(sim_mem_write(m, 0, SIM_SRC_DATA, 0x1FF0, in, 32), 7);
	cr_expect_eq(sim_mem_frames(m), 2);
	sim_mem_read(m, 0, SIM_SRC_DATA, 0x1FF0, out, 32);
	cr_expect_eq(memcmp(in, out, 32), 0);
	sim_mem_write64(m, 1, SIM_SRC_DATA, 0x2FFC, 0x1122334455667788ull);
	cr_expect_eq(sim_mem_peek64(m, 0x2FFC), 0x1122334455667788ull);
	cr_expect_eq(sim_mem_frames(m), 3);
	sim_mem_free(m);
}

Test(mem, footprint_is_proportional_to_touched_frames)
{
	struct sim_mem *m = sim_mem_new(1ull << 40, 1);
	uint64_t x = 12345;

	for (int i = 0; i < 1000; i++) {
		x = x * 6364136223846793005ull + 1442695040888963407ull;
		uint64_t pa = (x >> 20) % (1ull << 40);
		sim_mem_poke64(m, pa & ~7ull, (uint64_t)i + 1);
	}
	/* 1000 random 8-byte writes over 1 TiB: at most 1000 frames. */
	cr_expect_leq(sim_mem_frames(m), 1000);
	cr_expect_geq(sim_mem_frames(m), 990);
	sim_mem_free(m);
}

Test(mem, top_of_the_52_bit_space)
{
	struct sim_mem *m = sim_mem_new(SIM_PA_LIMIT, 1);

	sim_mem_poke64(m, SIM_PA_LIMIT - 8, 0xDEADBEEFull);
	cr_expect_eq(sim_mem_peek64(m, SIM_PA_LIMIT - 8), 0xDEADBEEFull);
	cr_expect_eq(sim_mem_peek64(m, 0), 0);
	sim_mem_free(m);
}

Test(mem, beyond_52_bits_is_an_internal_error, .signal = SIGABRT)
{
	struct sim_mem *m = sim_mem_new(SIM_PA_LIMIT, 1);

	sim_mem_poke64(m, SIM_PA_LIMIT - 4, 1);
}

struct seen {
	int calls;
	int agent;
	enum sim_mem_src src;
	uint64_t pa;
	uint32_t len;
	bool write;
};

static uint32_t spy(void *arg, int agent, enum sim_mem_src src, uint64_t pa, uint32_t len, bool write)
{
	struct seen *s = arg;

	s->calls++;
	s->agent = agent;
	s->src = src;
	s->pa = pa;
	s->len = len;
	s->write = write;
	return 33 + len;
}

Test(mem, timing_hook_sees_every_access)
{
	struct sim_mem *m = sim_mem_new(1ull << 30, 1);
	struct seen seen = { 0 };
	struct sim_mem_timing t = { spy, &seen };
	uint64_t v;

	sim_mem_set_timing(m, &t);
	cr_expect_eq(sim_mem_write64(m, 3, SIM_SRC_RMP, 0x5000, 9), 41);
	cr_expect_eq(seen.agent, 3);
	cr_expect_eq(seen.src, SIM_SRC_RMP);
	cr_expect_eq(seen.pa, 0x5000);
	cr_expect(seen.write);
	cr_expect_eq(sim_mem_read64(m, 2, SIM_SRC_PTW, 0x5000, &v), 41);
	cr_expect_eq(v, 9);
	cr_expect(!seen.write);
	cr_expect_eq(seen.src, SIM_SRC_PTW);
	/* Untimed peek/poke do not call the hook. */
	sim_mem_peek64(m, 0x5000);
	sim_mem_poke64(m, 0x6000, 1);
	cr_expect_eq(seen.calls, 2);
	sim_mem_set_timing(m, NULL);
	cr_expect_eq(sim_mem_read64(m, 0, SIM_SRC_DATA, 0, &v), 1);
	sim_mem_free(m);
}

Test(mem, cached_zero_frame_is_never_written_through)
{
	struct sim_mem *m = sim_mem_new(1ull << 30, 1);
	uint64_t v = 1;

	/* A timed read of a never-written frame caches the shared zero frame ... */
	sim_mem_read64(m, 0, SIM_SRC_RMP, 0x7000, &v);
	cr_expect_eq(v, 0);
	cr_expect_eq(sim_mem_frames(m), 0);
	/* ... which is neither handed out as a frame nor written through. */
	cr_expect_null(sim_mem_frame(m, 0x7000, false));
	sim_mem_write64(m, 0, SIM_SRC_DATA, 0x7008, 0xABCD);
	cr_expect_eq(sim_mem_frames(m), 1);
	sim_mem_read64(m, 0, SIM_SRC_RMP, 0x7008, &v);
	cr_expect_eq(v, 0xABCD);
	/* Another never-written frame still reads zero. */
	sim_mem_read64(m, 0, SIM_SRC_RMP, 0x9000 + 0x7008, &v);
	cr_expect_eq(v, 0);
	cr_expect_not_null(sim_mem_frame(m, 0x7000, false));
	cr_expect_eq(sim_mem_peek64(m, 0x7008), 0xABCD);
	sim_mem_free(m);
}

/* A two-frame pattern: frame k of it holds bytes k*0x10 + (offset / 8 & 0xf). */
static void make_pattern(uint8_t *pat)
{
	for (unsigned k = 0; k < 2; k++)
		for (unsigned i = 0; i < 4096; i++)
			pat[k * 4096 + i] = (uint8_t)(k * 0x10 + ((i / 8) & 0xf));
}

static uint8_t pattern_byte(uint64_t lo, uint64_t pa)
{
	return (uint8_t)(((pa - lo) >> 12) % 2 * 0x10 + (((pa & 0xfff) / 8) & 0xf));
}

/*
 * sim_mem_fill: every read path sees the pattern (peek, timed read, the
 * inline 8-byte load, across frames), nothing is allocated until a write,
 * which allocates one frame holding the pattern plus the write; frames
 * outside the range still read zero.
 */
Test(mem, fill_reads_the_pattern_and_allocates_on_write)
{
	struct sim_mem *m = sim_mem_new(1ull << 40, 5);
	static uint8_t pat[8192];
	const uint64_t lo = 0x100000, len = 0x40000;
	uint8_t buf[24];
	uint64_t v, cyc = 0;

	make_pattern(pat);
	sim_mem_fill(m, lo, len, pat, 2);
	cr_assert_eq(sim_mem_frames(m), 0);
	for (uint64_t pa = lo - 0x1000; pa < lo + len + 0x1000; pa += 0x208) {
		bool in = pa >= lo && pa < lo + len;

		sim_mem_peek(m, pa, buf, 1);
		cr_assert_eq(buf[0], in ? pattern_byte(lo, pa) : 0, "pa=0x%llx", (unsigned long long)pa);
	}
	cr_assert_eq(sim_mem_read(m, 0, SIM_SRC_RMP, lo + 0x1ff8, buf, 16), 5, "timed as any read");
	cr_assert_eq(buf[0], pattern_byte(lo, lo + 0x1ff8));
	cr_assert_eq(buf[8], pattern_byte(lo, lo + 0x2000), "across frames: the next frame's part");
	v = sim_mem_load64(m, 0, SIM_SRC_PTW, lo + 0x1010, &cyc);
	cr_assert_eq(v, 0x1212121212121212ull);
	v = sim_mem_load64(m, 0, SIM_SRC_PTW, lo + 0x1010, &cyc);   /* now a frame-cache hit */
	cr_assert_eq(v, 0x1212121212121212ull);
	cr_assert_eq(cyc, 10);
	cr_assert_null(sim_mem_frame(m, lo, false), "never written: no frame handed out");
	cr_assert_eq(sim_mem_frames(m), 0);
	sim_mem_write64(m, 0, SIM_SRC_DATA, lo + 0x1008, 0xabcdull);
	cr_assert_eq(sim_mem_frames(m), 1);
	cr_assert_eq(sim_mem_peek64(m, lo + 0x1008), 0xabcdull);
	cr_assert_eq(sim_mem_peek64(m, lo + 0x1010), 0x1212121212121212ull, "rest of the frame kept");
	cr_assert_eq(sim_mem_peek64(m, lo + 0x3010), 0x1212121212121212ull, "other frames unchanged");
	cr_assert_not_null(sim_mem_frame(m, lo + 0x1000, false));
	sim_mem_free(m);
}

/*
 * A fill overwrites frames already written in its range and replaces the
 * stand-ins cached for never-written ones; a later fill over part of an
 * earlier one wins there.  Cost: a fill over the whole 52-bit space with
 * a few frames written allocates nothing more.
 */
Test(mem, fill_overwrites_and_stacks)
{
	struct sim_mem *m = sim_mem_new(SIM_PA_LIMIT, 1);
	static uint8_t pat[8192], ones[4096];
	uint64_t v;

	make_pattern(pat);
	memset(ones, 0xff, sizeof(ones));
	sim_mem_poke64(m, 0x5008, 7);
	sim_mem_poke64(m, SIM_PA_LIMIT - 8, 9);
	sim_mem_read64(m, 0, SIM_SRC_DATA, 0x9000, &v);   /* caches the zero stand-in */
	cr_assert_eq(v, 0);
	sim_mem_fill(m, 0, SIM_PA_LIMIT, pat, 2);
	cr_assert_eq(sim_mem_frames(m), 2);
	cr_assert_eq(sim_mem_peek64(m, 0x5008), 0x1111111111111111ull, "written frame overwritten");
	cr_assert_eq(sim_mem_peek64(m, SIM_PA_LIMIT - 8), 0x1f1f1f1f1f1f1f1full);
	sim_mem_read64(m, 0, SIM_SRC_DATA, 0x9000, &v);
	cr_assert_eq(v, 0x1010101010101010ull, "no stale zero stand-in");
	sim_mem_fill(m, 0x8000, 0x2000, ones, 1);
	cr_assert_eq(sim_mem_peek64(m, 0x9000), ~0ull, "the newer fill wins");
	cr_assert_eq(sim_mem_peek64(m, 0xa000), 0x0000000000000000ull, "the older one around it");
	cr_assert_eq(sim_mem_peek64(m, 0x7000), 0x1010101010101010ull);
	cr_assert_eq(sim_mem_frames(m), 2);
	sim_mem_free(m);
}
