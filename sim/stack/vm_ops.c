/*
 * vm_ops.c - the operations that name a VM, spelled as docs/script.md
 * gives them:
 *
 *   s2 create  vm= format=arm64|npt|ept [levels=3|4] [asid=]
 *   s2 map     vm= ipa= pa= size=4k|2m|1g perms=
 *   s2 unmap   vm= ipa= size=
 *   s2 protect vm= ipa= size= perms=
 *   s2 annotate vm= ipa= size= owner=        (extension: pKVM owner ids)
 *   s2 walk    vm= ipa=
 *   s2 access  vm= ipa= kind= [user=] [c=] [vmpl=]
 *   tlbi       [vm=] [ipa=]
 *   s1 create  vm= format=x86_64|sv39|sv48 root=
 *   s1 map     vm= va= ipa= size= perms= [user=] [c=]
 *   access     vm= va= kind= [user=] [vmpl=]
 *
 * Every operation that stores table entries is the host writing memory:
 * the pages it would write are RMP-checked before the first store
 * (stack_table_writes_ok, vm.c), and a refusal prints the host-write fault
 * token with nothing written.
 */
#define _GNU_SOURCE   /* strerrorname_np */
#include "sim/stack/stack_int.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

void stack_put_errno(struct sim_call *c, int err)
{
	const char *n = strerrorname_np(err < 0 ? -err : err);

	sim_call_result(c, "ERROR(%s)", n ? n : "EINVAL");
}

struct stack_vm *stack_kvm_vm_of(struct sim_call *c)
{
	struct stack_vm *v = stack_vm_find(stack_get(sim_call_sim(c)),
					   (unsigned)sim_arg_u64(c, "vm", 0));

	if (!v || !v->kvm || !v->run) {
		stack_put_errno(c, ENOENT);
		return NULL;
	}
	return v;
}

static const char *const s2_fmt_choices[] = { "arm64", "npt", "ept", NULL };
static const char *const s1_fmt_choices[] = { "x86_64", "sv39", "sv48", NULL };
static const char *const kind_choices[] = { "read", "write", "fetch", NULL };

/* perms= (letters checked when parsed) as a table's permission bits. */
static uint8_t arg_perms(struct sim_call *c)
{
	uint8_t p = 0;

	if (s2_perms_parse(sim_arg_str(c, "perms", ""), &p))
		sim_fatal("stack: perms '%s' passed the argument check",
			  sim_arg_str(c, "perms", ""));
	return p;
}

static int agent_of(struct sim_call *c)
{
	return sim_agent_id(sim_call_agent(c));
}

/* The line's agent as a timed call names it (struct sim_who): at its clock now. */
static struct sim_who op_who(struct sim_call *c)
{
	struct sim_agent *a = sim_call_agent(c);
	struct sim_who who = { .now = sim_now(a), .agent = sim_agent_id(a) };

	return who;
}

/* The VM named by vm= (ERROR(novm) printed if it does not exist). */
static struct stack_vm *op_vm(struct sim_call *c)
{
	struct stack_vm *v = stack_vm_find(stack_get(sim_call_sim(c)),
					   (unsigned)sim_arg_u64(c, "vm", 0));

	if (!v)
		sim_call_result(c, "ERROR(novm)");
	return v;
}

/*
 * A table write refused by the RMP: the host-write fault token,
 * "#PF(W,RMP) addr=SPA" (spurious=1 for a locked entry), as host_access
 * prints it; the checks are charged, nothing was written.
 */
static void op_host_fault(struct sim_call *c, const struct host_wr *hw)
{
	char tok[64];

	rmp_fault_format(&hw->f, tok, sizeof(tok));
	sim_call_result(c, "%s", tok);
	sim_call_field_hex(c, "addr", hw->f.addr);
	if (hw->f.spurious)
		sim_call_field(c, "spurious", "1");
	sim_advance(sim_call_agent(c), hw->cycles);
}

/*
 * Print OK or ERROR(reason) for a management result; charge the table
 * work: the memory cycles in @who (if any), the RMP checks of the new
 * table pages it took included.
 */
static void op_finish(struct sim_call *c, const struct sim_who *who, int rc)
{
	if (rc)
		sim_call_result(c, "ERROR(%s)", s2_rc_name(rc));
	else
		sim_call_result(c, "OK");
	if (who)
		sim_advance(sim_call_agent(c), who->mem_cycles);
}

static void op_s2_create(struct sim_call *c)
{
	struct stack *st = stack_get(sim_call_sim(c));
	const struct s2_fmt_ops *f = s2_fmt_by_name(s2_fmt_choices[sim_arg_enum(c, "format", 0)]);
	unsigned vm = (unsigned)sim_arg_u64(c, "vm", 0);
	uint64_t levels = sim_arg_u64(c, "levels", f->max_levels);
	struct sim_who who = op_who(c);
	int rc;

	if (levels < f->min_levels || levels > f->max_levels) {
		if (f->min_levels == f->max_levels)
			sim_call_bad_arg(c, "levels", "format %s has %u levels", f->name, f->max_levels);
		else
			sim_call_bad_arg(c, "levels", "format %s has %u to %u levels", f->name,
					 f->min_levels, f->max_levels);
		return;
	}
	/* The root comes from the host page allocator: never an assigned page. */
	rc = stack_vm_create(st, &who, vm, f, (unsigned)levels,
			     (uint32_t)sim_arg_u64(c, "asid", 0));
	op_finish(c, rc ? NULL : &who, rc);
}

/*
 * Before a nested-table operation of VM @v: the RMP check of the table
 * pages it would write (host stores).  Return: false if refused (the
 * fault token printed); else true with the checks charged.
 */
static bool s2_writes_ok(struct sim_call *c, struct stack_vm *v, enum s2_wset_op op, uint64_t ipa,
			 uint64_t pa, uint64_t size, uint64_t leaf, const struct s2_prot *prot)
{
	struct host_wr hw;
	bool ok;

	ok = stack_table_writes_ok(v, v->s2, false, agent_of(c), op, ipa, pa, size, leaf, prot,
				   &hw);
	stack_vm_count_op(v, !ok);
	if (!ok) {
		op_host_fault(c, &hw);
		return false;
	}
	sim_advance(sim_call_agent(c), hw.cycles);
	return true;
}

static void op_s2_map(struct sim_call *c)
{
	struct stack_vm *v = op_vm(c);
	struct s2_prot prot = { .perms = arg_perms(c) };
	uint64_t ipa = sim_arg_u64(c, "ipa", 0), pa = sim_arg_u64(c, "pa", 0);
	uint64_t size = sim_arg_u64(c, "size", 0);
	struct sim_who who;
	int rc;

	if (!v || !s2_writes_ok(c, v, S2_WSET_MAP, ipa, pa, size, size, &prot))
		return;
	who = op_who(c);
	rc = s2_map(v->s2, &who, ipa, pa, size, size, &prot);
	op_finish(c, &who, rc);
}

static void op_s2_unmap(struct sim_call *c)
{
	struct stack_vm *v = op_vm(c);
	uint64_t ipa = sim_arg_u64(c, "ipa", 0), size = sim_arg_u64(c, "size", 0);
	struct sim_who who;
	int rc;

	if (!v || !s2_writes_ok(c, v, S2_WSET_UNMAP, ipa, 0, size, 0, NULL))
		return;
	who = op_who(c);
	rc = s2_unmap(v->s2, &who, ipa, size);
	op_finish(c, &who, rc);
}

static void op_s2_protect(struct sim_call *c)
{
	struct stack_vm *v = op_vm(c);
	struct s2_prot prot = { .perms = arg_perms(c) };
	uint64_t ipa = sim_arg_u64(c, "ipa", 0), size = sim_arg_u64(c, "size", 0);
	struct sim_who who;
	int rc;

	if (!v || !s2_writes_ok(c, v, S2_WSET_PROTECT, ipa, 0, size, 0, &prot))
		return;
	who = op_who(c);
	rc = s2_protect(v->s2, &who, ipa, size, prot.perms);
	op_finish(c, &who, rc);
}

static void op_s2_annotate(struct sim_call *c)
{
	struct stack_vm *v = op_vm(c);
	uint64_t ipa = sim_arg_u64(c, "ipa", 0), size = sim_arg_u64(c, "size", 0);
	uint8_t owner = (uint8_t)sim_arg_u64(c, "owner", 0);
	struct sim_who who;
	int rc;

	if (!v || !s2_writes_ok(c, v, S2_WSET_ANNOTATE, ipa, 0, size, 0, NULL))
		return;
	who = op_who(c);
	rc = s2_annotate(v->s2, &who, ipa, size, owner);
	op_finish(c, &who, rc);
}

/*
 * s2 walk: print every descriptor on the path (untimed, as a debugger
 * reads memory), then the outcome an access would see.
 */
static void op_s2_walk(struct sim_call *c)
{
	struct stack_vm *v = op_vm(c);
	struct s2_path path;
	char pb[8], sb[32];

	if (!v)
		return;
	s2_pgt_path(v->s2, sim_arg_u64(c, "ipa", 0), &path);
	for (unsigned i = 0; i < path.n; i++)
		sim_call_printf(c, "L%d addr=0x%llx desc=0x%016llx", path.step[i].level,
				(unsigned long long)path.step[i].addr,
				(unsigned long long)path.step[i].desc);
	switch (path.outcome) {
	case S2_PATH_TRANSLATION:
		sim_call_result(c, "#S2F(level=%d,type=translation)", path.level);
		if (path.owner)
			sim_call_field_u64(c, "owner", path.owner);
		return;
	case S2_PATH_ACCESS:
		sim_call_result(c, "#S2F(level=%d,type=access)", path.level);
		return;
	case S2_PATH_OK:
		sim_call_result(c, "OK");
		sim_call_field_hex(c, "pa", path.pa);
		sim_call_field(c, "size", "%s", sim_fmt_size(path.size, sb));
		sim_call_field(c, "perms", "%s", s2_perms_str(path.perms, pb));
		if (path.sw)
			sim_call_field_u64(c, "sw", path.sw);
		return;
	}
}

/* Print a translation's outcome and charge its latency (x->cycles: memory included). */
static void op_xlate_finish(struct sim_call *c, struct stack_vm *v, int rc,
			    const struct s2_xlate *x)
{
	char buf[128];

	stack_vm_count_access(v, rc, &x->fault);
	if (rc) {
		sim_call_result(c, "%s", stack_vm_fault_str(v, &x->fault, buf, sizeof(buf)));
		if (x->fault.type != S2_FAULT_CHECK)
			sim_call_field_hex(c, "code", x->fault.code);
		sim_call_field_hex(c, "addr", x->fault.addr);
	} else {
		sim_call_result(c, "OK");
		sim_call_field_hex(c, "pa", x->pa);
	}
	sim_call_field_u64(c, "refs", x->refs);
	sim_advance(sim_call_agent(c), x->cycles);
}

/*
 * The access an `s2 access` (@s2_only) or `access` line asks for, made by
 * its agent (@who).  Only a stage-2-only access gives the C-bit; a 2D walk
 * takes it from the stage-1 leaf.
 */
static struct s2_req access_req(struct sim_call *c, const struct stack_vm *v, bool s2_only,
				struct sim_who *who)
{
	struct s2_req req = { .src = SIM_SRC_PTW };

	req.vmpl = (uint8_t)sim_arg_u64(c, "vmpl", 0);
	req.acc = (enum s2_access)sim_arg_enum(c, "kind", 0);
	req.user = sim_arg_bool(c, "user", false);
	req.c = s2_only && sim_arg_bool(c, "c", v->asid != 0);
	req.who = who;
	return req;
}

/*
 * One translation of the VM named by vm=: stage 2 alone (`s2 access`,
 * @two_d false, of ipa=) or the nested walk (`access`, of va=).
 */
static void op_translate(struct sim_call *c, bool two_d)
{
	struct stack_vm *v = op_vm(c);
	struct sim_who who = op_who(c);
	struct s2_req req;
	struct s2_xlate x;
	struct s2_mmu *m;
	int rc;

	if (!v)
		return;
	if (two_d && !v->s1) {
		sim_call_result(c, "ERROR(nos1)");
		return;
	}
	req = access_req(c, v, !two_d, &who);
	m = s2_ctx_mmu(v->st->s2, who.agent);
	if (two_d)
		rc = s2_mmu_translate_2d(m, &v->space, sim_arg_u64(c, "va", 0), &req, &x);
	else
		rc = s2_mmu_translate(m, &v->space, sim_arg_u64(c, "ipa", 0), &req, &x);
	op_xlate_finish(c, v, rc, &x);
}

static void op_s2_access(struct sim_call *c)
{
	op_translate(c, false);
}

static void op_access(struct sim_call *c)
{
	op_translate(c, true);
}

static void op_tlbi(struct sim_call *c)
{
	struct s2_ctx *ctx = stack_get(sim_call_sim(c))->s2;
	uint32_t vm = (uint32_t)sim_arg_u64(c, "vm", 0), cost;

	if (sim_arg_has(c, "ipa") && !sim_arg_has(c, "vm")) {
		sim_call_bad_arg(c, "ipa", "needs vm=");
		return;
	}
	/* Broadcast (inner shareable): every MMU drops the entries; the issuer pays once. */
	(void)s2_ctx_mmu(ctx, agent_of(c));
	if (!sim_arg_has(c, "vm"))
		cost = s2_ctx_tlbi(ctx, S2_TLBI_ALL, 0, 0);
	else if (sim_arg_has(c, "ipa"))
		cost = s2_ctx_tlbi(ctx, S2_TLBI_IPA, vm, sim_arg_u64(c, "ipa", 0));
	else
		cost = s2_ctx_tlbi(ctx, S2_TLBI_VM, vm, 0);
	sim_call_result(c, "OK");
	sim_advance(sim_call_agent(c), cost);
}

/*
 * s1 create and s1 map stand for the host (the VMM) building a guest's
 * stage-1 tables in guest memory, as a VMM writes a guest's boot page
 * tables before launch: every store is a host data write to the system
 * page stage 2 maps the table GPA to, RMP-checked for Hypervisor-Owned
 * (APM vol. 2 section 15.36.10, Table 15-39).  A table page that is
 * assigned (a guest's private page, a firmware page) refuses the whole
 * operation with #PF(W,RMP) before anything is written; an SNP guest's
 * private tables are therefore built before its pages are assigned (as
 * SNP_LAUNCH_UPDATE converts pages the host has filled).  A guest
 * writing its own tables is a guest access (the CPU model's business).
 */
static void op_s1_create(struct sim_call *c)
{
	const struct s2_fmt_ops *f = s2_fmt_by_name(s1_fmt_choices[sim_arg_enum(c, "format", 0)]);
	struct stack_vm *v = op_vm(c);
	struct host_wr hw = { 0 };
	struct sim_who who;
	uint64_t root = sim_arg_u64(c, "root", 0), spa;
	int rc;

	if (!v)
		return;
	/* The root page is zeroed: check its system page (the other refusals come first). */
	if (!v->s1 && !(root & (SIM_PAGE_SIZE - 1)) && stack_vm_gpa_spa(v, root, &spa) &&
	    !stack_root_write_ok(v->st, agent_of(c), spa, &hw)) {
		op_host_fault(c, &hw);
		return;
	}
	who = op_who(c);
	rc = stack_vm_s1_create(v, &who, f, root);
	sim_advance(sim_call_agent(c), hw.cycles);
	op_finish(c, rc ? NULL : &who, rc);
}

static void op_s1_map(struct sim_call *c)
{
	struct stack_vm *v = op_vm(c);
	struct s2_prot prot = { .perms = arg_perms(c) };
	struct host_wr hw;
	struct sim_who who;
	uint64_t va = sim_arg_u64(c, "va", 0), ipa = sim_arg_u64(c, "ipa", 0);
	uint64_t size = sim_arg_u64(c, "size", 0);
	bool ok;
	int rc;

	if (!v)
		return;
	if (!v->s1) {
		sim_call_result(c, "ERROR(nos1)");
		return;
	}
	prot.user = sim_arg_bool(c, "user", false);
	prot.c = sim_arg_bool(c, "c", v->asid != 0);
	ok = stack_table_writes_ok(v, v->s1, true, agent_of(c), S2_WSET_MAP, va, ipa, size, size,
				   &prot, &hw);
	stack_vm_count_op(v, !ok);
	if (!ok) {
		op_host_fault(c, &hw);
		return;
	}
	sim_advance(sim_call_agent(c), hw.cycles);
	who = op_who(c);
	rc = s2_map(v->s1, &who, va, ipa, size, size, &prot);
	op_finish(c, &who, rc);
}

/*
 * Argument specs: values are checked when the script is parsed, so the
 * op bodies read values already in range.
 */
#define A_VM(r)       SIM_A_INT("vm", r, 0, S2_MAX_VMS - 1)
#define A_LEAF_SIZE   SIM_A_SIZESET("size", true, SIM_SZ_4K | SIM_SZ_2M | SIM_SZ_1G)
#define A_RANGE_SIZE  SIM_A_SIZE_IN("size", true, 1, 0)          /* not 0 */
#define A_PERMS       SIM_A_PERMS("perms", true, "rwxus")        /* s2_perms_parse() */
#define A_VMPL        SIM_A_INT("vmpl", false, 0, 3)

static const struct sim_arg_spec s2_create_args[] = {
	A_VM(true),
	SIM_A_ENUM("format", true, s2_fmt_choices),
	SIM_A_U64("levels", false),                  /* the format's range: checked at run time */
	SIM_A_INT("asid", false, 0, UINT32_MAX),
	SIM_A_END
};
static const struct sim_arg_spec s2_map_args[] = {
	A_VM(true),
	SIM_A_ADDR("ipa", true),
	SIM_A_ADDR("pa", true),
	A_LEAF_SIZE,
	A_PERMS,
	SIM_A_END
};
static const struct sim_arg_spec s2_unmap_args[] = {
	A_VM(true),
	SIM_A_ADDR("ipa", true),
	A_RANGE_SIZE,
	SIM_A_END
};
static const struct sim_arg_spec s2_protect_args[] = {
	A_VM(true),
	SIM_A_ADDR("ipa", true),
	A_RANGE_SIZE,
	A_PERMS,
	SIM_A_END
};
static const struct sim_arg_spec s2_annotate_args[] = {
	A_VM(true),
	SIM_A_ADDR("ipa", true),
	A_RANGE_SIZE,
	SIM_A_INT("owner", true, 0, 255),
	SIM_A_END
};
static const struct sim_arg_spec s2_walk_args[] = {
	A_VM(true),
	SIM_A_ADDR("ipa", true),
	SIM_A_END
};
static const struct sim_arg_spec s2_access_args[] = {
	A_VM(true),
	SIM_A_ADDR("ipa", true),
	SIM_A_ENUM("kind", true, kind_choices),
	SIM_A_BOOL("user", false),
	SIM_A_BOOL("c", false),
	A_VMPL,
	SIM_A_END
};
static const struct sim_arg_spec tlbi_args[] = {
	A_VM(false),
	SIM_A_ADDR("ipa", false),
	SIM_A_END
};
static const struct sim_arg_spec s1_create_args[] = {
	A_VM(true),
	SIM_A_ENUM("format", true, s1_fmt_choices),
	SIM_A_ADDRM("root", true, "GPA"),
	SIM_A_END
};
static const struct sim_arg_spec s1_map_args[] = {
	A_VM(true),
	SIM_A_U64M("va", true, "ADDR"),              /* any 64-bit virtual address */
	SIM_A_ADDR("ipa", true),
	A_LEAF_SIZE,
	A_PERMS,
	SIM_A_BOOL("user", false),
	SIM_A_BOOL("c", false),
	SIM_A_END
};
static const struct sim_arg_spec access_args[] = {
	A_VM(true),
	SIM_A_U64M("va", true, "ADDR"),
	SIM_A_ENUM("kind", true, kind_choices),
	SIM_A_BOOL("user", false),
	A_VMPL,
	SIM_A_END
};

const struct sim_op stack_vm_ops[] = {
	{ "s2 create", s2_create_args,
	  "Create VM N's stage-2 table (asid=N: an SNP guest, RMP-checked)", op_s2_create },
	{ "s2 map", s2_map_args,
	  "Map one stage-2 leaf of that size", op_s2_map },
	{ "s2 unmap", s2_unmap_args,
	  "Unmap a range (blocks split; TLBs keep stale entries until tlbi)", op_s2_unmap },
	{ "s2 protect", s2_protect_args,
	  "Change the permissions of the mapped leaves of a range", op_s2_protect },
	{ "s2 annotate", s2_annotate_args,
	  "Make a range invalid, holding a pKVM owner id", op_s2_annotate },
	{ "s2 walk", s2_walk_args,
	  "Print the raw descriptors on the path of ipa and the outcome", op_s2_walk },
	{ "s2 access", s2_access_args,
	  "Translate ipa through the TLB and stage 2 (and the RMP check)", op_s2_access },
	{ "tlbi", tlbi_args,
	  "Invalidate the TLBs and walk caches of a VM (or one IPA; no vm=: everything)", op_tlbi },
	{ "s1 create", s1_create_args,
	  "Give VM N a guest stage-1 table at root (tables grow upward from root)", op_s1_create },
	{ "s1 map", s1_map_args,
	  "Map one guest stage-1 leaf", op_s1_map },
	{ "access", access_args,
	  "Full nested translation of a guest virtual address", op_access },
	{ NULL, NULL, NULL, NULL }
};

