/*
 * iommu_mod.c - the IOMMU as a module of the machine: configuration keys,
 * attach/detach, and the operations of the operation language:
 *
 *   iommu attach dev=N [vm=N] [mode=snp|stage2|passthrough]  -> OK | ERROR(reason)
 *   iommu detach dev=N                                       -> OK | ERROR(reason)
 *   iommu map    dev=N iova=ADDR pa=ADDR size=SIZE perms=PERMS
 *   iommu unmap  dev=N iova=ADDR size=SIZE
 *                (attach/map/unmap: #PF(W,RMP) addr=SPA when a table page
 *                they would write is assigned; nothing is written)
 *   iommu inval  dev=N [iova=ADDR [size=SIZE]] | all=1       -> OK entries=N
 *   iommu log    [consume=0|1]                 (one line per entry) -> OK entries=N ...
 *   dma          dev=N iova=ADDR kind=read|write [len=N] [fill=BYTE]
 *                -> OK pa=ADDR [value=...] | IO_PAGE_FAULT(CAUSE) iova=ADDR done=N logged=0|1
 *
 * `dma` runs on the script agent's clock (the CPU line it is written on);
 * C callers use iommu_dma() or a DMA agent (iommu_dma_agent_new()).
 */
#include "iommu/iommu_int.h"

#include <stdlib.h>
#include <string.h>

#define DMA_LEN_MAX (1u << 20)   /* largest `dma len=` of a script line */

static const struct sim_cfg_key iommu_keys[] = {
	{ "iommu.devices", SIM_CFG_U64, 1, IOMMU_MAX_DEVICES, "256", NULL,
	  "Device-table entries: device ids 0 .. devices-1" },
	{ "iommu.iotlb_sets", SIM_CFG_U64, 1, 65536, "32", NULL,
	  "IOTLB sets (power of two; 1 = fully associative)" },
	{ "iommu.iotlb_ways", SIM_CFG_U64, 0, 64, "4", NULL,
	  "IOTLB ways (0 = no IOTLB: every DMA page walks)" },
	{ "iommu.pool_base", SIM_CFG_U64, 0, SIM_PA_LIMIT - 1, "0", NULL,
	  "Standalone IOMMU only: base of its own IO page-table pool (0 = machine.mem/4, 2m aligned); on a machine with host software the tables come from the host page allocator (s2.pool_base)" },
	{ "iommu.pool_size", SIM_CFG_SIZE, 4096, SIM_PA_LIMIT, "2m", NULL,
	  "Standalone IOMMU only: size of its own IO page-table pool" },
	{ "iommu.log_base", SIM_CFG_U64, 0, SIM_PA_LIMIT - 1, "0", NULL,
	  "Base of the event-log ring, 4k aligned (0 = right after the IO table pool)" },
	{ "iommu.log_entries", SIM_CFG_U64, IOMMU_LOG_MIN, IOMMU_LOG_MAX, "256", NULL,
	  "Event-log ring slots (power of two); a full ring holds log_entries-1 events" },
	{ "lat.iommu.request", SIM_CFG_U64, 0, 1000000, NULL, NULL,
	  "Fixed cost of one DMA request passing the IOMMU" },
	{ "lat.iommu.iotlb_hit", SIM_CFG_U64, 0, 1000000, NULL, NULL,
	  "One IOTLB probe (charged per 4K page of a DMA)" },
	{ "lat.iommu.walk", SIM_CFG_U64, 0, 1000000, NULL, NULL,
	  "Starting an IO page-table walk (its table reads cost memory cycles on top)" },
	{ "lat.iommu.rmp_check", SIM_CFG_U64, 0, 1000000, NULL, NULL,
	  "Fixed part of one RMP check of a DMA page (the RMP entry read costs memory cycles)" },
	{ "lat.iommu.line", SIM_CFG_U64, 0, 1000000, NULL, NULL,
	  "Moving one 64-byte line of DMA data over the device link" },
	{ "lat.iommu.fault", SIM_CFG_U64, 0, 1000000, NULL, NULL,
	  "Aborting a faulting DMA and raising its event (the log write costs memory cycles)" },
	{ "lat.iommu.inval_page", SIM_CFG_U64, 0, 10000000, NULL, NULL,
	  "INVALIDATE_IOMMU_PAGES for an address range plus COMPLETION_WAIT, as the driver sees it" },
	{ "lat.iommu.inval_dev", SIM_CFG_U64, 0, 10000000, NULL, NULL,
	  "Invalidating one device's IOTLB entries plus COMPLETION_WAIT" },
	{ "lat.iommu.inval_all", SIM_CFG_U64, 0, 10000000, NULL, NULL,
	  "INVALIDATE_IOMMU_ALL plus COMPLETION_WAIT" },
	{ "lat.iommu.map", SIM_CFG_U64, 0, 10000000, NULL, NULL,
	  "Driver cost of one IO map/unmap call (its table reads/writes cost memory cycles)" },
	{ "lat.iommu.attach", SIM_CFG_U64, 0, 10000000, NULL, NULL,
	  "Writing a device-table entry plus INVALIDATE_DEVTAB_ENTRY and COMPLETION_WAIT" },
	{ NULL, 0, 0, 0, NULL, NULL, NULL }
};

static uint32_t lat(const struct sim *s, const char *key)
{
	return (uint32_t)sim_cfg_u64(s, key);
}

static bool overlaps(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen)
{
	return a < b + blen && b < a + alen;
}

static int mod_attach(struct sim *s, struct sim_err *err)
{
	struct iommu_config cfg;
	struct rmp *rmp = sim_get_model(s, &rmp_module);
	struct iommu *io;
	uint64_t memsz = sim_mem_size(sim_mem(s));

	iommu_config_default(&cfg);
	cfg.devices = (uint32_t)sim_cfg_u64(s, "iommu.devices");
	cfg.iotlb_sets = (unsigned)sim_cfg_u64(s, "iommu.iotlb_sets");
	cfg.iotlb_ways = (unsigned)sim_cfg_u64(s, "iommu.iotlb_ways");
	cfg.pool_base = sim_cfg_u64(s, "iommu.pool_base");
	cfg.pool_size = sim_cfg_u64(s, "iommu.pool_size");
	cfg.log_base = sim_cfg_u64(s, "iommu.log_base");
	cfg.log_entries = (uint32_t)sim_cfg_u64(s, "iommu.log_entries");
	if (cfg.pool_base == 0)
		cfg.pool_base = (memsz / 4) & ~(SIM_SZ_2M - 1);
	if (cfg.log_base == 0)
		cfg.log_base = cfg.pool_base + cfg.pool_size;
	cfg.lat.request = lat(s, "lat.iommu.request");
	cfg.lat.iotlb_hit = lat(s, "lat.iommu.iotlb_hit");
	cfg.lat.walk = lat(s, "lat.iommu.walk");
	cfg.lat.rmp_check = lat(s, "lat.iommu.rmp_check");
	cfg.lat.line = lat(s, "lat.iommu.line");
	cfg.lat.fault = lat(s, "lat.iommu.fault");
	cfg.lat.inval_page = lat(s, "lat.iommu.inval_page");
	cfg.lat.inval_dev = lat(s, "lat.iommu.inval_dev");
	cfg.lat.inval_all = lat(s, "lat.iommu.inval_all");
	cfg.lat.map = lat(s, "lat.iommu.map");
	cfg.lat.attach = lat(s, "lat.iommu.attach");
	/* Before iommu_new(), which zeroes the log ring. */
	if (rmp_enabled(rmp)) {
		uint64_t rb = rmp_base(rmp), rl = rmp_end(rmp) - rb + 1;
		uint64_t logsz = (uint64_t)cfg.log_entries * IOMMU_LOG_ENTRY;

		if (overlaps(cfg.pool_base, cfg.pool_size, rb, rl) ||
		    overlaps(cfg.log_base, logsz, rb, rl))
			return sim_err_set(err, "iommu.%s: the IOMMU region [0x%llx, 0x%llx) overlaps "
					   "the RMP [0x%llx, 0x%llx)",
					   overlaps(cfg.pool_base, cfg.pool_size, rb, rl) ? "pool_base"
											   : "log_base",
					   (unsigned long long)cfg.pool_base,
					   (unsigned long long)(cfg.log_base + logsz),
					   (unsigned long long)rb, (unsigned long long)(rb + rl));
	}
	io = iommu_new(sim_mem(s), &cfg, err);
	if (!io)
		return -1;
	iommu_set_rmp(io, rmp);
	iommu_register_stats(io, s);
	sim_set_model(s, &iommu_module, io);
	return 0;
}

static void mod_detach(struct sim *s)
{
	iommu_free(sim_get_model(s, &iommu_module));
	sim_set_model(s, &iommu_module, NULL);
}

static void mod_summary(struct sim *s, FILE *out)
{
	const struct iommu *io = sim_get_model(s, &iommu_module);
	const struct iommu_counters *c;

	if (!io)
		return;
	c = iommu_counters(io);
	fprintf(out, "iommu: %llu DMA reads, %llu writes, %llu bytes; faults: %llu translation, "
		"%llu permission, %llu RMP; IOTLB %llu hits / %llu misses\n",
		(unsigned long long)c->dma_reads, (unsigned long long)c->dma_writes,
		(unsigned long long)c->dma_bytes,
		(unsigned long long)c->faults[IOMMU_CAUSE_TRANSLATION],
		(unsigned long long)c->faults[IOMMU_CAUSE_PERMISSION],
		(unsigned long long)c->faults[IOMMU_CAUSE_RMP], (unsigned long long)c->iotlb_hit,
		(unsigned long long)c->iotlb_miss);
}

/* ------------------------------------------------------------------ */
/* Script operations                                                   */
/* ------------------------------------------------------------------ */

/* The model (its RMP, if the machine has one, was bound at attach: .needs). */
static struct iommu *call_io(struct sim_call *c)
{
	struct sim *s = sim_call_sim(c);
	struct iommu *io = sim_get_model(s, &iommu_module);

	if (!io)
		sim_fatal("iommu: script operation without an attached IOMMU model");
	return io;
}

static struct sim_who call_who(struct sim_call *c)
{
	struct sim_agent *a = sim_call_agent(c);
	struct sim_who w = { .now = sim_now(a), .agent = sim_agent_id(a) };

	return w;
}

/* dev=N, validated.  Return false after sim_call_bad_arg(). */
static bool arg_dev(struct sim_call *c, const struct iommu *io, uint32_t *dev)
{
	uint64_t d = sim_arg_u64(c, "dev", 0);

	if (d >= io->cfg.devices) {
		sim_call_bad_arg(c, "dev", "%llu: must be below iommu.devices (%u)",
				 (unsigned long long)d, io->cfg.devices);
		return false;
	}
	*dev = (uint32_t)d;
	return true;
}

/*
 * Management result: OK, ERROR(reason), or for a table store the RMP
 * refused the host-write fault token "#PF(W,RMP) addr=SPA" (as
 * host_access prints it); advance by the cost.
 */
static void mgmt_result(struct sim_call *c, const struct iommu *io, int rc, uint64_t cycles)
{
	struct rmp_fault f;

	sim_advance(sim_call_agent(c), cycles);
	if (rc == IOMMU_OK) {
		sim_call_result(c, "OK");
	} else if (rc == IOMMU_ERR_RMP && iommu_host_fault(io, &f)) {
		char tok[64];

		rmp_fault_format(&f, tok, sizeof(tok));
		sim_call_result(c, "%s", tok);
		sim_call_field_hex(c, "addr", f.addr);
		if (f.spurious)
			sim_call_field(c, "spurious", "1");
	} else {
		sim_call_result(c, "ERROR(%s)", iommu_rc_name(rc));
	}
}

static const char *const mode_choices[] = { "snp", "stage2", "passthrough", NULL };
static const char *const kind_choices[] = { "read", "write", NULL };

static void op_attach(struct sim_call *c)
{
	struct iommu *io = call_io(c);
	struct sim_who who = call_who(c);
	enum iommu_mode mode = (enum iommu_mode)sim_arg_enum(c, "mode", IOMMU_MODE_SNP);
	struct s2_pgt *t = NULL;
	uint64_t vm = sim_arg_u64(c, "vm", 0), cycles = 0;
	uint32_t dev;
	int rc;

	if (!arg_dev(c, io, &dev))
		return;
	if (vm >= S2_MAX_VMS) {
		sim_call_bad_arg(c, "vm", "%llu: must be below %u", (unsigned long long)vm,
				 S2_MAX_VMS);
		return;
	}
	if (mode == IOMMU_MODE_STAGE2 && io->vm_table)
		t = io->vm_table(io->vm_table_arg, (unsigned)vm);
	rc = iommu_attach(io, &who, dev, mode, sim_arg_has(c, "vm") ? (int)vm : -1, t, &cycles);
	mgmt_result(c, io, rc, cycles);
}

static void op_detach(struct sim_call *c)
{
	struct iommu *io = call_io(c);
	struct sim_who who = call_who(c);
	uint64_t cycles = 0;
	uint32_t dev;
	int rc;

	if (!arg_dev(c, io, &dev))
		return;
	rc = iommu_detach(io, &who, dev, &cycles);
	mgmt_result(c, io, rc, cycles);
}

/* perms=: "none" or letters from r w. */
static bool arg_perms(struct sim_call *c, uint8_t *perms)
{
	const char *p = sim_arg_str(c, "perms", "");

	*perms = 0;
	if (strcmp(p, "none") == 0)
		return true;
	for (const char *q = p; *q; q++) {
		uint8_t bit = *q == 'r' ? S2_PERM_R : *q == 'w' ? S2_PERM_W : 0;

		if (!bit || (*perms & bit)) {
			sim_call_bad_arg(c, "perms", "'%s': must be none or letters from r w", p);
			return false;
		}
		*perms |= bit;
	}
	if (!*perms) {
		sim_call_bad_arg(c, "perms", "'%s': must be none or letters from r w", p);
		return false;
	}
	return true;
}

static void op_map(struct sim_call *c)
{
	struct iommu *io = call_io(c);
	struct sim_who who = call_who(c);
	uint64_t cycles = 0;
	uint32_t dev;
	uint8_t perms;
	int rc;

	if (!arg_dev(c, io, &dev) || !arg_perms(c, &perms))
		return;
	if (sim_arg_u64(c, "size", 0) == 0) {
		sim_call_bad_arg(c, "size", "must not be 0");
		return;
	}
	/* (The cost is read after the call: argument order is unspecified.) */
	rc = iommu_map(io, &who, dev, sim_arg_u64(c, "iova", 0), sim_arg_u64(c, "pa", 0),
		       sim_arg_u64(c, "size", 0), perms, &cycles);
	mgmt_result(c, io, rc, cycles);
}

static void op_unmap(struct sim_call *c)
{
	struct iommu *io = call_io(c);
	struct sim_who who = call_who(c);
	uint64_t cycles = 0;
	uint32_t dev;
	int rc;

	if (!arg_dev(c, io, &dev))
		return;
	if (sim_arg_u64(c, "size", 0) == 0) {
		sim_call_bad_arg(c, "size", "must not be 0");
		return;
	}
	rc = iommu_unmap(io, &who, dev, sim_arg_u64(c, "iova", 0), sim_arg_u64(c, "size", 0),
			 &cycles);
	mgmt_result(c, io, rc, cycles);
}

static void op_inval(struct sim_call *c)
{
	struct iommu *io = call_io(c);
	uint64_t cycles = 0;
	unsigned n;
	uint32_t dev;

	if (sim_arg_bool(c, "all", false)) {
		if (sim_arg_has(c, "dev") || sim_arg_has(c, "iova") || sim_arg_has(c, "size")) {
			sim_call_bad_arg(c, "all", "all=1 takes no dev, iova or size");
			return;
		}
		n = iommu_inval_all(io, &cycles);
	} else {
		if (!sim_arg_has(c, "dev")) {
			sim_call_bad_arg(c, "dev", "required (or all=1)");
			return;
		}
		if (!arg_dev(c, io, &dev))
			return;
		if (sim_arg_has(c, "size") && !sim_arg_has(c, "iova")) {
			sim_call_bad_arg(c, "size", "needs iova=");
			return;
		}
		if (sim_arg_has(c, "iova")) {
			uint64_t size = sim_arg_u64(c, "size", SIM_SZ_4K);

			if (size == 0) {
				sim_call_bad_arg(c, "size", "must not be 0");
				return;
			}
			n = iommu_inval_range(io, dev, sim_arg_u64(c, "iova", 0), size, &cycles);
		} else {
			n = iommu_inval_dev(io, dev, &cycles);
		}
	}
	sim_advance(sim_call_agent(c), cycles);
	sim_call_result(c, "OK");
	sim_call_field_u64(c, "entries", n);
}

static void op_log(struct sim_call *c)
{
	struct iommu *io = call_io(c);
	struct sim_agent *a = sim_call_agent(c);
	unsigned n = iommu_log_pending(io);
	bool stopped = iommu_log_overflowed(io);
	uint64_t cycles = 0;

	for (unsigned i = 0; i < n; i++) {
		unsigned slot = (iommu_log_head(io) + i) % io->cfg.log_entries;
		uint8_t raw[IOMMU_LOG_ENTRY];
		struct iommu_event ev;
		char line[256];

		/* The host driver reads each entry from memory. */
		cycles += sim_mem_read(io->mem, sim_agent_id(a), SIM_SRC_DATA,
				       io->cfg.log_base + (uint64_t)slot * IOMMU_LOG_ENTRY, raw,
				       sizeof(raw));
		iommu_event_decode(raw, &ev);
		iommu_event_format(&ev, line, sizeof(line));
		sim_call_printf(c, "log[%u] %s", i, line);
	}
	if (sim_arg_bool(c, "consume", true))
		iommu_log_consume(io, n);
	sim_advance(a, cycles);
	sim_call_result(c, "OK");
	sim_call_field_u64(c, "entries", n);
	sim_call_field_u64(c, "overflow", stopped);
	sim_call_field_u64(c, "dropped", io->ctr.log_dropped);
}

static void op_dma(struct sim_call *c)
{
	struct iommu *io = call_io(c);
	struct sim_who who = call_who(c);
	bool write = sim_arg_enum(c, "kind", 0) == 1;
	uint64_t len = sim_arg_u64(c, "len", 8), fill = sim_arg_u64(c, "fill", 0xa5);
	struct iommu_dma_res res;
	uint8_t *buf;
	uint32_t dev;

	if (!arg_dev(c, io, &dev))
		return;
	if (len == 0 || len > DMA_LEN_MAX) {
		sim_call_bad_arg(c, "len", "%llu: must be 1..%u", (unsigned long long)len,
				 DMA_LEN_MAX);
		return;
	}
	if (fill > 0xff) {
		sim_call_bad_arg(c, "fill", "0x%llx: must be a byte (0..0xff)",
				 (unsigned long long)fill);
		return;
	}
	if (sim_arg_has(c, "fill") && !write) {
		sim_call_bad_arg(c, "fill", "only for kind=write");
		return;
	}
	buf = malloc(len);
	if (!buf)
		sim_fatal("iommu: out of memory");
	memset(buf, (int)fill, len);
	iommu_dma(io, &who, dev, sim_arg_u64(c, "iova", 0), write, buf, (uint32_t)len, &res);
	sim_advance(sim_call_agent(c), res.cycles);
	if (res.cause == IOMMU_CAUSE_NONE) {
		sim_call_result(c, "OK");
		sim_call_field_hex(c, "pa", res.pa);
		if (!write) {
			uint64_t v = 0;

			for (uint64_t i = 0; i < len && i < 8; i++)
				v |= (uint64_t)buf[i] << (8 * i);
			sim_call_field_hex(c, "value", v);
		}
	} else {
		sim_call_result(c, "IO_PAGE_FAULT(%s)", iommu_cause_name(res.cause));
		sim_call_field_hex(c, "iova", res.fault_iova);
		sim_call_field_u64(c, "done", res.done);
		sim_call_field_u64(c, "logged", res.logged);
	}
	free(buf);
}

/*
 * Argument specs: values are checked when the script is parsed, so the
 * op bodies' own checks never see a value outside these ranges (dev= below
 * iommu.devices depends on the machine and stays a run-time check).
 */
#define A_DEV(r)      SIM_A_INT("dev", r, 0, IOMMU_MAX_DEVICES - 1)   /* 16-bit DeviceID */
#define A_IOVA(r)     SIM_A_U64M("iova", r, "ADDR")
#define A_SIZE(r)     SIM_A_SIZE_IN("size", r, 1, 0)                   /* not 0 */

static const struct sim_arg_spec attach_args[] = {
	A_DEV(true),
	SIM_A_INT("vm", false, 0, S2_MAX_VMS - 1),
	SIM_A_ENUM("mode", false, mode_choices),
	SIM_A_END
};

static const struct sim_arg_spec dev_args[] = {
	A_DEV(true),
	SIM_A_END
};

static const struct sim_arg_spec map_args[] = {
	A_DEV(true),
	A_IOVA(true),
	SIM_A_U64M("pa", true, "ADDR"),
	A_SIZE(true),
	SIM_A_PERMS("perms", true, "rw"),
	SIM_A_END
};

static const struct sim_arg_spec unmap_args[] = {
	A_DEV(true),
	A_IOVA(true),
	A_SIZE(true),
	SIM_A_END
};

static const struct sim_arg_spec inval_args[] = {
	A_DEV(false),
	A_IOVA(false),
	A_SIZE(false),
	SIM_A_BOOL("all", false),
	SIM_A_END
};

static const struct sim_arg_spec log_args[] = {
	SIM_A_BOOL("consume", false),
	SIM_A_END
};

static const struct sim_arg_spec dma_args[] = {
	A_DEV(true),
	A_IOVA(true),
	SIM_A_ENUM("kind", true, kind_choices),
	SIM_A_SIZE_IN("len", false, 1, DMA_LEN_MAX),
	SIM_A_INT("fill", false, 0, 0xff),
	SIM_A_END
};

static const struct sim_op iommu_ops[] = {
	{ "iommu attach", attach_args,
	  "attach a device: snp = own IO page table, stage2 = VM vm's stage 2, passthrough = "
	  "identity (SNP on: DMA writes RMP-checked in every mode)", op_attach },
	{ "iommu detach", dev_args,
	  "detach a device (frees its IO table, invalidates its IOTLB entries)", op_detach },
	{ "iommu map", map_args,
	  "map device addresses in an snp-mode device's IO page table (perms: r, rw)", op_map },
	{ "iommu unmap", unmap_args,
	  "unmap device addresses (the IOTLB keeps stale entries until iommu inval)", op_unmap },
	{ "iommu inval", inval_args,
	  "invalidate IOTLB entries of a device (dev=), of a device address range (dev= iova= "
	  "[size=], default 4k), or all (all=1): OK entries=N", op_inval },
	{ "iommu log", log_args,
	  "print the pending event-log entries, oldest first, and consume them (default)",
	  op_log },
	{ "dma", dma_args,
	  "a device DMA through the IOMMU: OK pa=ADDR or IO_PAGE_FAULT(TRANSLATION|PERMISSION|RMP)",
	  op_dma },
	{ NULL, NULL, NULL, NULL }
};

const struct sim_module iommu_module = {
	.name = "iommu",
	.needs = (const char *const[]){ "rmp", "s2", NULL },
	.keys = iommu_keys,
	.ops = iommu_ops,
	.attach = mod_attach,
	.detach = mod_detach,
	.summary = mod_summary,
};
