/*
 * ops_mem.c - the engine-level operations of the operation language:
 *
 *   mem write pa=ADDR value=N [size=1|2|4|8]   -> OK
 *   mem read  pa=ADDR [size=1|2|4|8]           -> OK value=0x...
 *   nop       cycles=N                         -> OK
 *
 * Memory accesses are timed data accesses of the running agent through
 * sim_mem_read()/sim_mem_write(), so their latency is whatever the memory
 * timing (flat DRAM or the CPU's cache model) charges.  Values are stored
 * little-endian, as on every architecture protsim models.
 */
#include "sim/script_int.h"

/* Are @size bytes at @pa in memory?  If not, set ERROR(out-of-range). */
static bool mem_op_check(struct sim_call *c, uint64_t pa, uint64_t size)
{
	uint64_t memsz = sim_mem_size(sim_mem(sim_call_sim(c)));

	/* size is 1, 2, 4 or 8: its spec was checked when the line was parsed. */
	if (size > memsz || pa > memsz - size) {
		sim_call_result(c, "ERROR(out-of-range)");
		return false;
	}
	return true;
}

static void op_mem_write(struct sim_call *c)
{
	struct sim_agent *a = sim_call_agent(c);
	uint64_t pa = sim_arg_u64(c, "pa", 0), value = sim_arg_u64(c, "value", 0);
	uint64_t size = sim_arg_u64(c, "size", 8);
	uint8_t buf[8];

	if (size < 8 && size > 0 && (value >> (8 * size)) != 0) {
		sim_call_bad_arg(c, "value", "0x%llx does not fit in %llu byte%s",
				 (unsigned long long)value, (unsigned long long)size,
				 size == 1 ? "" : "s");
		return;
	}
	if (!mem_op_check(c, pa, size))
		return;
	for (uint64_t i = 0; i < size; i++)
		buf[i] = (uint8_t)(value >> (8 * i));
	sim_advance(a, sim_mem_write(sim_mem(sim_call_sim(c)), sim_agent_id(a), SIM_SRC_DATA, pa,
				     buf, (uint32_t)size));
	sim_call_result(c, "OK");
}

static void op_mem_read(struct sim_call *c)
{
	struct sim_agent *a = sim_call_agent(c);
	uint64_t pa = sim_arg_u64(c, "pa", 0), size = sim_arg_u64(c, "size", 8), value = 0;
	uint8_t buf[8];

	if (!mem_op_check(c, pa, size))
		return;
	sim_advance(a, sim_mem_read(sim_mem(sim_call_sim(c)), sim_agent_id(a), SIM_SRC_DATA, pa,
				    buf, (uint32_t)size));
	for (uint64_t i = 0; i < size; i++)
		value |= (uint64_t)buf[i] << (8 * i);
	sim_call_result(c, "OK");
	sim_call_field_hex(c, "value", value);
}

static void op_nop(struct sim_call *c)
{
	/* At most SIM_SCRIPT_NOP_MAX: checked when the line was parsed. */
	sim_advance(sim_call_agent(c), sim_arg_u64(c, "cycles", 0));
	sim_call_result(c, "OK");
}

/* The region of interest starts at this line's cycle (sim_stats_roi). */
static void op_roi(struct sim_call *c)
{
	sim_stats_roi(sim_call_sim(c), sim_now(sim_call_agent(c)));
	sim_call_result(c, "OK");
}

static const struct sim_arg_spec roi_args[] = {
	SIM_A_END
};

static const struct sim_arg_spec mem_write_args[] = {
	SIM_A_U64M("pa", true, "ADDR"),                  /* physical address */
	SIM_A_U64("value", true),                        /* value, stored little-endian */
	SIM_A_SIZESET("size", false, 1 | 2 | 4 | 8),     /* bytes (default 8) */
	SIM_A_END
};

static const struct sim_arg_spec mem_read_args[] = {
	SIM_A_U64M("pa", true, "ADDR"),
	SIM_A_SIZESET("size", false, 1 | 2 | 4 | 8),
	SIM_A_END
};

static const struct sim_arg_spec nop_args[] = {
	SIM_A_INT("cycles", true, 0, SIM_SCRIPT_NOP_MAX),   /* idle cycles */
	SIM_A_END
};

const struct sim_op sim_core_ops[] = {
	{ "mem write", mem_write_args,
	  "store size bytes (default 8) of value, little-endian, at physical address pa",
	  op_mem_write },
	{ "mem read", mem_read_args,
	  "load size bytes (default 8) at physical address pa: OK value=0x...", op_mem_read },
	{ "nop", nop_args, "idle for N cycles", op_nop },
	{ "roi", roi_args,
	  "the region of interest starts here: every statistic counts from this line's cycle on",
	  op_roi },
	{ NULL, NULL, NULL, NULL }
};
