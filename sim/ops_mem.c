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

/* Read @size bytes at @pa?  Validate; on failure set ERROR(out-of-range). */
static bool mem_op_check(struct sim_call *c, uint64_t pa, uint64_t size)
{
	uint64_t memsz = sim_mem_size(sim_mem(sim_call_sim(c)));

	if (size != 1 && size != 2 && size != 4 && size != 8) {
		sim_call_bad_arg(c, "size", "must be 1, 2, 4 or 8 (got %llu)",
				 (unsigned long long)size);
		return false;
	}
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
	uint64_t n = sim_arg_u64(c, "cycles", 0);

	if (n > SIM_SCRIPT_NOP_MAX) {
		sim_call_bad_arg(c, "cycles", "%llu is too many (at most 2^40)",
				 (unsigned long long)n);
		return;
	}
	sim_advance(sim_call_agent(c), n);
	sim_call_result(c, "OK");
}

static const struct sim_arg_spec mem_write_args[] = {
	{ "pa", SIM_ARG_U64, true, NULL },       /* physical address */
	{ "value", SIM_ARG_U64, true, NULL },    /* value, stored little-endian */
	{ "size", SIM_ARG_U64, false, NULL },    /* bytes: 1, 2, 4 or 8 (default 8) */
	{ NULL, 0, false, NULL }
};

static const struct sim_arg_spec mem_read_args[] = {
	{ "pa", SIM_ARG_U64, true, NULL },
	{ "size", SIM_ARG_U64, false, NULL },
	{ NULL, 0, false, NULL }
};

static const struct sim_arg_spec nop_args[] = {
	{ "cycles", SIM_ARG_U64, true, NULL },   /* idle cycles */
	{ NULL, 0, false, NULL }
};

const struct sim_op sim_core_ops[] = {
	{ "mem write", mem_write_args, "mem write pa=ADDR value=N [size=1|2|4|8]",
	  "store size bytes (default 8) of value, little-endian, at physical address pa",
	  op_mem_write },
	{ "mem read", mem_read_args, "mem read pa=ADDR [size=1|2|4|8]",
	  "load size bytes (default 8) at physical address pa: OK value=0x...", op_mem_read },
	{ "nop", nop_args, "nop cycles=N", "idle for N cycles", op_nop },
	{ NULL, NULL, NULL, NULL, NULL }
};
