/*
 * test_stack_kvmmem.c - KVM's memory model of a VM (sim/stack/kvm_mem.c):
 * every rule and errno of KVM_SET_USER_MEMORY_REGION2 and of
 * KVM_SET_MEMORY_ATTRIBUTES with the slot table and the attribute runs
 * after each; the runs' merging and splitting; the zaps of the nested
 * table (which leaves go, whole; which stay; the TLB flush; their exact
 * cycles); the VMM's backing taken on use; a 1 TiB VM that costs nothing
 * until used; `vm page`'s query; the statistics.
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <string.h>

#include "sim/stack/stack_int.h"

#define G        0x100000000ull     /* 4 GiB: the slots' usual GPA */
#define M2       0x200000ull
#define K4       0x1000ull
#define SPA_RAM  0x10000000ull      /* a given VMM backing, below the pool */
#define GFN(a)   ((a) >> 12)

/* ------------------------------------------------------------------ */
/* A machine, a VM, a guest_memfd file                                 */
/* ------------------------------------------------------------------ */

static struct sim *machine(const char *const *sets)
{
	struct sim *s = sim_new(stack_modules);
	struct sim_err err;

	for (; sets && *sets; sets += 2)
		cr_assert(!sim_cfg_set(s, sets[0], sets[1], "test", 0, &err), "%s", err.msg);
	cr_assert(!sim_start(s, &err), "%s", err.msg);
	return s;
}

/* VM @id with a 4-level NPT nested table and KVM memory of @type (stats "vmID.mem"). */
static struct stack_vm *kvm_vm(struct sim *s, unsigned id, enum stack_kvm_vm_type type)
{
	struct stack *st = stack_get(s);
	struct sim_who who = { .agent = -1 };
	char prefix[16];
	struct stack_vm *v;

	cr_assert_eq(stack_vm_create(st, &who, id, s2_fmt(S2_FMT_NPT), 4, 0), S2_OK);
	v = stack_vm_find(st, id);
	snprintf(prefix, sizeof(prefix), "vm%u.mem", id);
	cr_assert_eq(stack_kvm_mem_init(v, type, prefix), 0);
	return v;
}

/*
 * A guest_memfd file as kvm_gmem_bind() sees it: bound to the VM that
 * created it, @pages long, each page bound to at most one slot.
 */
#define FILE_PAGES 4096
struct tfile {
	struct stack_vm *owner;
	uint64_t pages;
	unsigned binds;                   /* slots bound now */
	uint16_t slot_of[FILE_PAGES];     /* 0: free, else slot + 1 */
};

static int tfile_bind(void *file, struct stack_vm *v, uint32_t slot, uint64_t offset,
		      uint64_t npages)
{
	struct tfile *f = file;
	uint64_t first = offset >> 12;

	if (f->owner != v)
		return -EINVAL;
	if ((offset & 0xfff) || first > f->pages || npages > f->pages - first)
		return -EINVAL;
	for (uint64_t i = first; i < first + npages; i++)
		if (f->slot_of[i])
			return -EINVAL;
	for (uint64_t i = first; i < first + npages; i++)
		f->slot_of[i] = (uint16_t)(slot + 1);
	f->binds++;
	return 0;
}

static void tfile_unbind(void *file, struct stack_vm *v, uint32_t slot)
{
	struct tfile *f = file;

	(void)v;
	for (uint64_t i = 0; i < f->pages; i++)
		if (f->slot_of[i] == slot + 1)
			f->slot_of[i] = 0;
	f->binds--;
}

static const struct stack_kvm_gmem_ops tfile_ops = { tfile_bind, tfile_unbind };

static uint64_t stat(struct sim *s, const char *name)
{
	uint64_t v;

	cr_assert_eq(sim_stat_get(s, name, &v), 0, "no statistic %s", name);
	return v;
}

/* ------------------------------------------------------------------ */
/* KVM_SET_USER_MEMORY_REGION2: every rule                             */
/* ------------------------------------------------------------------ */

/* A request in a table: spa 0 = taken from the allocator, SPA_POOL = the pool's base. */
#define SPA_POOL 1ull
enum { NOFILE, FILE_OWN, FILE_OTHER, FILE_NULL };
struct req {
	uint32_t slot, flags;
	uint64_t gpa, size, spa;
	int file;                 /* NOFILE, FILE_OWN, FILE_OTHER (bound to another VM), FILE_NULL */
	uint64_t off;
};
struct slot_exp {
	uint32_t slot;            /* as_id << 16 | id */
	uint64_t gpa, size;
	uint32_t flags;
};
struct mr_case {
	char name[56];
	enum stack_kvm_vm_type type;
	struct req pre[3];
	unsigned npre;
	struct req req;
	int rc;
	struct slot_exp after[3];
	unsigned nafter;
	unsigned binds;           /* slots bound to the own file after */
	uint64_t changes;         /* memslot_changes after (pre requests included) */
};

#define GM STACK_KVM_MEM_GUEST_MEMFD
#define RO STACK_KVM_MEM_READONLY
#define LD STACK_KVM_MEM_LOG_DIRTY_PAGES
#define D  STACK_KVM_VM_DEFAULT
#define SW STACK_KVM_VM_SW_PROTECTED
#define SNP STACK_KVM_VM_SNP
#define ONE(...) { __VA_ARGS__ }
#define S0 { 0, 0, G, M2, 0, NOFILE, 0 }              /* slot 0 at 4G, 2M */
#define S0_AFTER { 0, G, M2, 0 }

static struct mr_case mr_cases[] = {
	/* creation */
	{ "create", D, {}, 0, S0, 0, ONE(S0_AFTER), 1, 0, 1 },
	{ "create given backing", D, {}, 0, { 0, 0, G, M2, SPA_RAM, NOFILE, 0 }, 0, ONE(S0_AFTER),
	  1, 0, 1 },
	{ "last user slot id 32763", D, {}, 0, { 32763, 0, G, M2, 0, NOFILE, 0 }, 0,
	  ONE({ 32763, G, M2, 0 }), 1, 0, 1 },
	{ "slot id 32764 is internal", D, {}, 0, { 32764, 0, G, M2, 0, NOFILE, 0 }, -EINVAL, {}, 0,
	  0, 0 },
	{ "slot id 0xffff", D, {}, 0, { 0xffff, 0, G, M2, 0, NOFILE, 0 }, -EINVAL, {}, 0, 0, 0 },
	/* check_memory_region_flags */
	{ "unknown flag", D, {}, 0, { 0, 1u << 3, G, M2, 0, NOFILE, 0 }, -EINVAL, {}, 0, 0, 0 },
	{ "guest_memfd on a default VM", D, {}, 0, { 0, GM, G, M2, 0, FILE_OWN, 0 }, -EINVAL, {}, 0,
	  0, 0 },
	{ "readonly on a default VM", D, {}, 0, { 0, RO, G, M2, 0, NOFILE, 0 }, 0,
	  ONE({ 0, G, M2, RO }), 1, 0, 1 },
	{ "readonly on sw_protected", SW, {}, 0, { 0, RO, G, M2, 0, NOFILE, 0 }, 0,
	  ONE({ 0, G, M2, RO }), 1, 0, 1 },
	{ "readonly on snp (protected state)", SNP, {}, 0, { 0, RO, G, M2, 0, NOFILE, 0 }, -EINVAL,
	  {}, 0, 0, 0 },
	{ "readonly with guest_memfd", SW, {}, 0, { 0, RO | GM, G, M2, 0, FILE_OWN, 0 }, -EINVAL,
	  {}, 0, 0, 0 },
	{ "dirty log with guest_memfd", SW, {}, 0, { 0, LD | GM, G, M2, 0, FILE_OWN, 0 }, -EINVAL,
	  {}, 0, 0, 0 },
	{ "dirty log on snp", SNP, {}, 0, { 0, LD, G, M2, 0, NOFILE, 0 }, 0, ONE({ 0, G, M2, LD }),
	  1, 0, 1 },
	/* general sanity checks */
	{ "size not page aligned", D, {}, 0, { 0, 0, G, M2 + 1, 0, NOFILE, 0 }, -EINVAL, {}, 0, 0,
	  0 },
	{ "gpa not page aligned", D, {}, 0, { 0, 0, G + 8, M2, 0, NOFILE, 0 }, -EINVAL, {}, 0, 0,
	  0 },
	{ "backing not page aligned", D, {}, 0, { 0, 0, G, M2, SPA_RAM + 8, NOFILE, 0 }, -EINVAL,
	  {}, 0, 0, 0 },
	{ "backing beyond the address width", D, {}, 0,
	  { 0, 0, G, M2, (1ull << 52) - K4, NOFILE, 0 },
	  -EINVAL, {}, 0, 0, 0 },
	{ "backing in the host page pool", D, {}, 0, { 0, 0, G, M2, SPA_POOL, NOFILE, 0 }, -EINVAL,
	  {}, 0, 0, 0 },
	{ "gmem offset not page aligned", SW, {}, 0, { 0, GM, G, M2, 0, FILE_OWN, 0x800 }, -EINVAL,
	  {}, 0, 0, 0 },
	{ "gmem offset + size wraps", SW, {}, 0, { 0, GM, G, M2, 0, FILE_OWN, UINT64_MAX - K4 + 1 },
	  -EINVAL, {}, 0, 0, 0 },
	{ "address space 1 (SMM) on a default VM", D, ONE(S0), 1,
	  { 1u << 16, 0, G, M2, 0, NOFILE, 0 }, 0,
	  ONE(S0_AFTER, { 1u << 16, G, M2, 0 }), 2, 0, 2 },
	{ "address space 2", D, {}, 0, { 2u << 16, 0, G, M2, 0, NOFILE, 0 }, -EINVAL, {}, 0, 0, 0 },
	{ "address space 1 with private memory", SW, {}, 0, { 1u << 16, 0, G, M2, 0, NOFILE, 0 },
	  -EINVAL, {}, 0, 0, 0 },
	{ "gpa + size wraps", D, {}, 0, { 0, 0, 0xfffffffffffff000ull, 2 * K4, 0, NOFILE, 0 },
	  -EINVAL, {}, 0, 0, 0 },
	{ "2^31 pages", D, {}, 0, { 0, 0, 0, 1ull << 43, 0, NOFILE, 0 }, -EINVAL, {}, 0, 0, 0 },
	{ "2^31 - 1 pages", D, {}, 0, { 0, 0, 0, (1ull << 43) - K4, 0, NOFILE, 0 }, 0,
	  ONE({ 0, 0, (1ull << 43) - K4, 0 }), 1, 0, 1 },
	/* deletion */
	{ "delete a slot that does not exist", D, {}, 0, { 0, 0, G, 0, 0, NOFILE, 0 }, -EINVAL, {},
	  0, 0, 0 },
	{ "delete", D, ONE(S0), 1, { 0, 0, 0, 0, 0, NOFILE, 0 }, 0, {}, 0, 0, 2 },
	{ "delete in the other address space", D, ONE(S0), 1, { 1u << 16, 0, G, 0, 0, NOFILE, 0 },
	  -EINVAL, ONE(S0_AFTER), 1, 0, 1 },
	/* overlap (kvm_check_memslot_overlap) */
	{ "overlap another slot", D, ONE(S0), 1, { 1, 0, G + M2 - K4, M2, 0, NOFILE, 0 }, -EEXIST,
	  ONE(S0_AFTER), 1, 0, 1 },
	{ "inside another slot", D, ONE(S0), 1, { 1, 0, G + K4, K4, 0, NOFILE, 0 }, -EEXIST,
	  ONE(S0_AFTER), 1, 0, 1 },
	{ "adjacent slots", D, ONE(S0), 1, { 1, 0, G + M2, M2, 0, NOFILE, 0 }, 0,
	  ONE(S0_AFTER, { 1, G + M2, M2, 0 }), 2, 0, 2 },
	{ "overlap across address spaces is fine", D, ONE(S0), 1,
	  { 1u << 16 | 1, 0, G, M2, 0, NOFILE, 0 },
	  0, ONE(S0_AFTER, { 1u << 16 | 1, G, M2, 0 }), 2, 0, 2 },
	/* modification */
	{ "the same request again", D, ONE(S0), 1, S0, 0, ONE(S0_AFTER), 1, 0, 1 },
	{ "resize", D, ONE(S0), 1, { 0, 0, G, 2 * M2, 0, NOFILE, 0 }, -EINVAL, ONE(S0_AFTER), 1, 0,
	  1 },
	{ "another backing", D, ONE(S0), 1, { 0, 0, G, M2, SPA_RAM, NOFILE, 0 }, -EINVAL,
	  ONE(S0_AFTER), 1, 0, 1 },
	{ "readonly toggled", D, ONE(S0), 1, { 0, RO, G, M2, 0, NOFILE, 0 }, -EINVAL, ONE(S0_AFTER),
	  1, 0, 1 },
	{ "dirty logging toggled (flags only)", D, ONE(S0), 1, { 0, LD, G, M2, 0, NOFILE, 0 }, 0,
	  ONE({ 0, G, M2, LD }), 1, 0, 2 },
	{ "move", D, ONE(S0), 1, { 0, 0, 2 * G, M2, 0, NOFILE, 0 }, 0, ONE({ 0, 2 * G, M2, 0 }), 1,
	  0, 2 },
	{ "move over its own old range", D, ONE(S0), 1, { 0, 0, G + K4, M2, 0, NOFILE, 0 }, 0,
	  ONE({ 0, G + K4, M2, 0 }), 1, 0, 2 },
	{ "move onto another slot", D, ONE(S0, { 1, 0, 2 * G, M2, 0, NOFILE, 0 }), 2,
	  { 0, 0, 2 * G + M2 - K4, M2, 0, NOFILE, 0 }, -EEXIST,
	  ONE(S0_AFTER, { 1, 2 * G, M2, 0 }), 2, 0, 2 },
	{ "move beyond the nested table's GPAs", D, ONE(S0), 1,
	  { 0, 0, 1ull << 48, M2, 0, NOFILE, 0 },
	  -EINVAL, ONE(S0_AFTER), 1, 0, 1 },
	/* the MMU's GPA range (kvm_arch_prepare_memory_region) */
	{ "beyond the nested table's GPAs", D, {}, 0,
	  { 0, 0, (1ull << 48) - K4, 2 * K4, 0, NOFILE, 0 },
	  -EINVAL, {}, 0, 0, 0 },
	{ "gmem slot beyond the GPAs: bound, then unbound", SW, {}, 0,
	  { 0, GM, 1ull << 48, K4, 0, FILE_OWN, 0 }, -EINVAL, {}, 0, 0, 0 },
	/* guest_memfd (kvm_gmem_bind) */
	{ "gmem slot", SW, {}, 0, { 0, GM, G, M2, 0, FILE_OWN, M2 }, 0, ONE({ 0, G, M2, GM }), 1, 1,
	  1 },
	{ "gmem slot on snp", SNP, {}, 0, { 0, GM, G, M2, 0, FILE_OWN, 0 }, 0,
	  ONE({ 0, G, M2, GM }), 1, 1, 1 },
	{ "gmem of another VM", SW, {}, 0, { 0, GM, G, M2, 0, FILE_OTHER, 0 }, -EINVAL, {}, 0, 0,
	  0 },
	{ "gmem fd that is no file", SW, {}, 0, { 0, GM, G, M2, 0, FILE_NULL, 0 }, -EBADF, {}, 0, 0,
	  0 },
	{ "gmem range beyond the file", SW, {}, 0,
	  { 0, GM, G, M2, 0, FILE_OWN, (FILE_PAGES - 1) * K4 },
	  -EINVAL, {}, 0, 0, 0 },
	{ "gmem range bound to another slot", SW, ONE({ 0, GM, G, M2, 0, FILE_OWN, 0 }), 1,
	  { 1, GM, 2 * G, M2, 0, FILE_OWN, M2 - K4 }, -EINVAL, ONE({ 0, G, M2, GM }), 1, 1, 1 },
	{ "two gmem slots, one file", SW, ONE({ 0, GM, G, M2, 0, FILE_OWN, 0 }), 1,
	  { 1, GM, 2 * G, M2, 0, FILE_OWN, M2 }, 0, ONE({ 0, G, M2, GM }, { 1, 2 * G, M2, GM }), 2, 2, 2 },
	{ "gmem slot re-issued", SW, ONE({ 0, GM, G, M2, 0, FILE_OWN, 0 }), 1,
	  { 0, GM, G, M2, 0, FILE_OWN, 0 }, -EINVAL, ONE({ 0, G, M2, GM }), 1, 1, 1 },
	{ "gmem slot moved", SW, ONE({ 0, GM, G, M2, 0, FILE_OWN, 0 }), 1,
	  { 0, GM, 2 * G, M2, 0, FILE_OWN, 0 }, -EINVAL, ONE({ 0, G, M2, GM }), 1, 1, 1 },
	{ "gmem slot moved without the flag", SW, ONE({ 0, GM, G, M2, 0, FILE_OWN, 0 }), 1,
	  { 0, 0, 2 * G, M2, 0, NOFILE, 0 }, -EINVAL, ONE({ 0, G, M2, GM }), 1, 1, 1 },
	{ "gmem slot's flags dropped", SW, ONE({ 0, GM, G, M2, 0, FILE_OWN, 0 }), 1,
	  { 0, 0, G, M2, 0, NOFILE, 0 }, -EINVAL, ONE({ 0, G, M2, GM }), 1, 1, 1 },
	{ "gmem slot deleted: unbound", SW, ONE({ 0, GM, G, M2, 0, FILE_OWN, 0 }), 1,
	  { 0, 0, 0, 0, 0, NOFILE, 0 }, 0, {}, 0, 0, 2 },
};

ParameterizedTestParameters(kvm_mem, memslot_rules)
{
	return cr_make_param_array(struct mr_case, mr_cases, sizeof(mr_cases) / sizeof(mr_cases[0]));
}

static int do_req(struct stack_vm *v, const struct req *q, struct tfile *own, struct tfile *other)
{
	struct stack_kvm_region r = {
		.slot = q->slot, .flags = q->flags, .gpa = q->gpa, .size = q->size,
		.spa = q->spa == 0 ? STACK_KVM_SPA_ALLOC :
		       q->spa == SPA_POOL ? stack_palloc_base(v->st->pool) : q->spa,
		.gmem_ops = q->file == NOFILE ? NULL : &tfile_ops,
		.gmem = q->file == FILE_OWN ? (void *)own : q->file == FILE_OTHER ? (void *)other : NULL,
		.gmem_offset = q->off,
	};
	struct sim_who who = { .agent = -1 };

	return stack_kvm_set_memory_region(v, &who, &r);
}

ParameterizedTest(struct mr_case *c, kvm_mem, memslot_rules)
{
	struct sim *s = machine(NULL);
	struct stack_vm *v = kvm_vm(s, 1, c->type), *w = kvm_vm(s, 2, c->type);
	static struct tfile own, other;
	const struct stack_kvm_mem *km = v->kvm;

	memset(&own, 0, sizeof(own));
	memset(&other, 0, sizeof(other));
	own = (struct tfile){ .owner = v, .pages = FILE_PAGES };
	other = (struct tfile){ .owner = w, .pages = FILE_PAGES };
	for (unsigned i = 0; i < c->npre; i++)
		cr_assert_eq(do_req(v, &c->pre[i], &own, &other), 0, "%s: setup %u", c->name, i);
	cr_assert_eq(do_req(v, &c->req, &own, &other), c->rc, "%s", c->name);
	cr_assert_eq(km->nslots, c->nafter, "%s: %zu slots", c->name, km->nslots);
	for (unsigned i = 0; i < c->nafter; i++) {
		const struct stack_kvm_slot *sl = &km->slots[i];
		const struct slot_exp *e = &c->after[i];

		cr_assert_eq((uint32_t)sl->as_id << 16 | sl->id, e->slot, "%s: slot %u", c->name, i);
		cr_assert_eq(sl->base_gfn, GFN(e->gpa), "%s: slot %u base", c->name, i);
		cr_assert_eq(sl->npages, GFN(e->size), "%s: slot %u pages", c->name, i);
		cr_assert_eq(sl->flags, e->flags, "%s: slot %u flags", c->name, i);
		cr_assert_eq(stack_kvm_id_to_slot(v, e->slot >> 16, e->slot & 0xffff), sl);
	}
	cr_assert_eq(own.binds, c->binds, "%s: %u binds", c->name, own.binds);
	cr_assert_eq(other.binds, 0);
	cr_assert_eq(stat(s, "vm1.mem.memslot_changes"), c->changes, "%s", c->name);
	/* the VM's pages counted once per slot */
	{
		uint64_t n = 0;

		for (size_t i = 0; i < km->nslots; i++)
			n += km->slots[i].npages;
		cr_assert_eq(km->nr_memslot_pages, n, "%s", c->name);
	}
	stack_vm_destroy(v);
	cr_assert_eq(own.binds, 0, "%s: destroying the VM unbinds its slots", c->name);
	cr_assert_eq(stat(s, "vm1.mem.memslot_changes"), c->changes, "the final values are kept");
	sim_free(s);
}

Test(kvm_mem, lookup_by_gfn)
{
	struct sim *s = machine(NULL);
	struct stack_vm *v = kvm_vm(s, 1, STACK_KVM_VM_DEFAULT);
	static struct tfile f;
	const struct req rs[] = {
		{ 3, 0, G, M2, 0, NOFILE, 0 },
		{ 1, 0, 3 * G, M2, 0, NOFILE, 0 },
		{ 7, 0, 0, K4, 0, NOFILE, 0 },
		{ 1u << 16 | 2, 0, G - K4, 2 * K4, 0, NOFILE, 0 },   /* SMM space: not seen */
	};

	for (size_t i = 0; i < sizeof(rs) / sizeof(rs[0]); i++)
		cr_assert_eq(do_req(v, &rs[i], &f, &f), 0);
	cr_assert_null(stack_kvm_gfn_to_slot(v, GFN(G) - 1));
	cr_assert_eq(stack_kvm_gfn_to_slot(v, GFN(G))->id, 3);
	cr_assert_eq(stack_kvm_gfn_to_slot(v, GFN(G + M2) - 1)->id, 3);
	cr_assert_null(stack_kvm_gfn_to_slot(v, GFN(G + M2)));
	cr_assert_eq(stack_kvm_gfn_to_slot(v, GFN(3 * G))->id, 1);
	cr_assert_eq(stack_kvm_gfn_to_slot(v, 0)->id, 7);
	cr_assert_null(stack_kvm_gfn_to_slot(v, 1));
	cr_assert_null(stack_kvm_id_to_slot(v, 0, 2));
	cr_assert_eq(stack_kvm_id_to_slot(v, 1, 2)->base_gfn, GFN(G) - 1);
	sim_free(s);
}

/* ------------------------------------------------------------------ */
/* KVM_SET_MEMORY_ATTRIBUTES: every rule, the runs after               */
/* ------------------------------------------------------------------ */

struct attr_req {
	uint64_t gpa, size, attrs, flags;
};
struct attr_case {
	char name[56];
	enum stack_kvm_vm_type type;
	struct attr_req pre[3];       /* GFN runs are given as GPAs */
	unsigned npre;
	struct attr_req req;
	int rc;
	struct stack_kvm_range after[3];   /* GFNs */
	unsigned nafter;
	uint64_t changes;             /* attr_changes after, pre included */
};

#define P STACK_KVM_MEMORY_ATTRIBUTE_PRIVATE
#define PG(n) ((uint64_t)(n) * K4)
#define SET(a, b) { PG(a), PG((b) - (a)), P, 0 }      /* pages [a, b) private */
#define CLR(a, b) { PG(a), PG((b) - (a)), 0, 0 }      /* pages [a, b) shared */
#define R(a, b) { a, b }

static struct attr_case attr_cases[] = {
	/* the ioctl's checks */
	{ "private on a default VM", D, {}, 0, SET(0, 4), -EINVAL, {}, 0, 0 },
	{ "shared on a default VM: nothing to do", D, {}, 0, CLR(0, 4), 0, {}, 0, 0 },
	{ "flags", SW, {}, 0, { 0, PG(4), P, 1 }, -EINVAL, {}, 0, 0 },
	{ "an attribute other than private", SNP, {}, 0, { 0, PG(4), 1ull << 0, 0 }, -EINVAL, {}, 0,
	  0 },
	{ "private and another", SNP, {}, 0, { 0, PG(4), P | 1ull << 4, 0 }, -EINVAL, {}, 0, 0 },
	{ "size 0", SW, {}, 0, { 0, 0, P, 0 }, -EINVAL, {}, 0, 0 },
	{ "address + size wraps", SW, {}, 0, { 0xfffffffffffff000ull, PG(2), P, 0 }, -EINVAL, {}, 0,
	  0 },
	{ "address not page aligned", SW, {}, 0, { 8, PG(4), P, 0 }, -EINVAL, {}, 0, 0 },
	{ "size not page aligned", SW, {}, 0, { 0, PG(4) + 8, P, 0 }, -EINVAL, {}, 0, 0 },
	{ "private on snp", SNP, {}, 0, SET(16, 20), 0, ONE(R(16, 20)), 1, 1 },
	{ "the last page below 2^64", SW, {}, 0, { 0xffffffffffffe000ull, PG(1), P, 0 }, 0,
	  ONE(R(0xffffffffffffeull, 0xfffffffffffffull)), 1, 1 },
	/* merging */
	{ "two runs joined by the gap", SW, ONE(SET(0, 4), SET(8, 12)), 2, SET(4, 8), 0, ONE(R(0,
	  12)), 1, 3 },
	{ "adjacent on the left", SW, ONE(SET(0, 4)), 1, SET(4, 6), 0, ONE(R(0, 6)), 1, 2 },
	{ "adjacent on the right", SW, ONE(SET(6, 9)), 1, SET(4, 6), 0, ONE(R(4, 9)), 1, 2 },
	{ "over three runs", SW, ONE(SET(2, 3), SET(5, 6), SET(8, 9)), 3, SET(1, 10), 0, ONE(R(1,
	  10)), 1, 4 },
	{ "across the end of one", SW, ONE(SET(0, 4), SET(10, 12)), 2, SET(3, 6), 0,
	  ONE(R(0, 6), R(10, 12)), 2, 3 },
	{ "apart", SW, ONE(SET(0, 4)), 1, SET(5, 6), 0, ONE(R(0, 4), R(5, 6)), 2, 2 },
	{ "already private: nothing to do", SW, ONE(SET(0, 12)), 1, SET(4, 8), 0, ONE(R(0, 12)), 1,
	  1 },
	/* splitting */
	{ "a hole in a run", SW, ONE(SET(0, 12)), 1, CLR(4, 8), 0, ONE(R(0, 4), R(8, 12)), 2, 2 },
	{ "the left part", SW, ONE(SET(0, 12)), 1, CLR(0, 4), 0, ONE(R(4, 12)), 1, 2 },
	{ "the right part", SW, ONE(SET(0, 12)), 1, CLR(8, 12), 0, ONE(R(0, 8)), 1, 2 },
	{ "across two runs", SW, ONE(SET(0, 4), SET(6, 10)), 2, CLR(2, 8), 0, ONE(R(0, 2), R(8,
	  10)), 2, 3 },
	{ "all of them", SW, ONE(SET(0, 4), SET(6, 10), SET(20, 21)), 3, CLR(0, 30), 0, {}, 0, 4 },
	{ "already shared: nothing to do", SW, ONE(SET(0, 4)), 1, CLR(4, 8), 0, ONE(R(0, 4)), 1,
	  1 },
	{ "one page of a run's edge", SW, ONE(SET(0, 4)), 1, CLR(3, 4), 0, ONE(R(0, 3)), 1, 2 },
};

ParameterizedTestParameters(kvm_mem, attribute_rules)
{
	return cr_make_param_array(struct attr_case, attr_cases,
				   sizeof(attr_cases) / sizeof(attr_cases[0]));
}

ParameterizedTest(struct attr_case *c, kvm_mem, attribute_rules)
{
	struct sim *s = machine(NULL);
	struct stack_vm *v = kvm_vm(s, 1, c->type);
	const struct stack_kvm_mem *km = v->kvm;
	struct sim_who who = { .agent = -1 };

	for (unsigned i = 0; i < c->npre; i++)
		cr_assert_eq(stack_kvm_set_memory_attributes(v, &who, c->pre[i].gpa, c->pre[i].size,
							     c->pre[i].attrs, c->pre[i].flags), 0,
			     "%s: setup %u", c->name, i);
	cr_assert_eq(stack_kvm_set_memory_attributes(v, &who, c->req.gpa, c->req.size, c->req.attrs,
						     c->req.flags), c->rc, "%s", c->name);
	cr_assert_eq(km->nattr, c->nafter, "%s: %zu runs", c->name, km->nattr);
	for (unsigned i = 0; i < c->nafter; i++) {
		cr_assert_eq(km->attr[i].start, c->after[i].start, "%s: run %u start 0x%llx", c->name,
			     i, (unsigned long long)km->attr[i].start);
		cr_assert_eq(km->attr[i].end, c->after[i].end, "%s: run %u end", c->name, i);
		/* the per-GFN view agrees at the run's edges */
		cr_assert_eq(stack_kvm_get_memory_attributes(v, c->after[i].start), P);
		cr_assert_eq(stack_kvm_get_memory_attributes(v, c->after[i].end - 1), P);
		cr_assert_eq(stack_kvm_get_memory_attributes(v, c->after[i].end), 0);
		if (c->after[i].start)
			cr_assert_eq(stack_kvm_get_memory_attributes(v, c->after[i].start - 1), 0);
		cr_assert(stack_kvm_range_has_attributes(v, c->after[i].start, c->after[i].end, P));
	}
	cr_assert_eq(stat(s, "vm1.mem.attr_changes"), c->changes, "%s", c->name);
	cr_assert_eq(stat(s, "vm1.mem.zaps"), 0, "no slot, no zap");
	sim_free(s);
}

Test(kvm_mem, has_attributes_is_exact)
{
	struct sim *s = machine(NULL);
	struct stack_vm *v = kvm_vm(s, 1, STACK_KVM_VM_SNP);
	struct sim_who who = { .agent = -1 };

	cr_assert_eq(stack_kvm_set_memory_attributes(v, &who, PG(10), PG(10), P, 0), 0);
	cr_assert(stack_kvm_range_has_attributes(v, 10, 20, P));
	cr_assert(!stack_kvm_range_has_attributes(v, 9, 20, P));
	cr_assert(!stack_kvm_range_has_attributes(v, 10, 21, P));
	cr_assert(stack_kvm_range_has_attributes(v, 0, 10, 0));
	cr_assert(stack_kvm_range_has_attributes(v, 20, 1000, 0));
	cr_assert(!stack_kvm_range_has_attributes(v, 0, 11, 0));
	cr_assert(!stack_kvm_range_has_attributes(v, 19, 30, 0));
	cr_assert(!stack_kvm_range_has_attributes(v, 10, 20, 1), "unsupported attribute");
	sim_free(s);
}

/* ------------------------------------------------------------------ */
/* Zaps of the nested table                                            */
/* ------------------------------------------------------------------ */

static void map(struct stack_vm *v, uint64_t gpa, uint64_t spa, uint64_t size)
{
	struct s2_prot prot = { .perms = S2_PERM_ALL };

	cr_assert_eq(s2_map(v->s2, NULL, gpa, spa, size, size, &prot), S2_OK, "map 0x%llx",
		     (unsigned long long)gpa);
}

static bool mapped(struct stack_vm *v, uint64_t gpa)
{
	return s2_get_leaf(v->s2, NULL, gpa, NULL, NULL, NULL) == S2_OK;
}

Test(kvm_mem, attribute_change_zaps_the_slots_part_whole_leaves)
{
	struct sim *s = machine(NULL);
	struct stack_vm *v = kvm_vm(s, 1, STACK_KVM_VM_SW_PROTECTED);
	const struct req slot = { 0, 0, G, 2 * M2, 0, NOFILE, 0 };
	struct sim_who who = { .agent = -1 };
	static struct tfile f;

	cr_assert_eq(do_req(v, &slot, &f, &f), 0);
	map(v, G, SPA_RAM, K4);
	map(v, G + K4, SPA_RAM + K4, K4);
	map(v, G + M2, SPA_RAM + M2, M2);          /* a 2M leaf */
	map(v, G + 2 * M2, SPA_RAM + 2 * M2, K4);  /* outside every slot */

	/* one 4K page private: its leaf goes, its neighbour stays */
	cr_assert_eq(stack_kvm_set_memory_attributes(v, &who, G, K4, P, 0), 0);
	cr_assert(!mapped(v, G));
	cr_assert(mapped(v, G + K4));
	cr_assert_eq(stat(s, "vm1.mem.pages_zapped"), 1);
	cr_assert_eq(stat(s, "vm1.mem.zaps"), 1);
	/* again: nothing to do, nothing zapped */
	cr_assert_eq(stack_kvm_set_memory_attributes(v, &who, G, K4, P, 0), 0);
	cr_assert_eq(stat(s, "vm1.mem.attr_changes"), 1);
	cr_assert_eq(stat(s, "vm1.mem.pages_zapped"), 1);
	/* one 4K page inside the 2M leaf: the whole leaf goes (no split) */
	cr_assert_eq(stack_kvm_set_memory_attributes(v, &who, G + M2 + 5 * K4, K4, P, 0), 0);
	for (uint64_t a = G + M2; a < G + 2 * M2; a += 64 * K4)
		cr_assert(!mapped(v, a), "0x%llx", (unsigned long long)a);
	cr_assert_eq(stat(s, "vm1.mem.pages_zapped"), 1 + 512);
	cr_assert_eq(stat(s, "vm1.mem.zaps"), 2);
	/* a range beyond the slot: the part outside is not zapped, the attributes change anyway */
	cr_assert_eq(stack_kvm_set_memory_attributes(v, &who, G + 2 * M2, K4, P, 0), 0);
	cr_assert(mapped(v, G + 2 * M2), "outside every memslot: kvm_handle_gfn_range skips it");
	cr_assert_eq(stack_kvm_get_memory_attributes(v, GFN(G + 2 * M2)), P);
	cr_assert_eq(stat(s, "vm1.mem.zaps"), 2);
	/* back to shared: the remaining 4K leaf in range goes */
	cr_assert_eq(stack_kvm_set_memory_attributes(v, &who, G, 2 * K4, 0, 0), 0);
	cr_assert(!mapped(v, G + K4));
	cr_assert_eq(stat(s, "vm1.mem.pages_zapped"), 2 + 512);
	cr_assert_eq(stat(s, "vm1.mem.attr_changes"), 4);
	sim_free(s);
}

Test(kvm_mem, delete_and_move_zap_the_old_range)
{
	struct sim *s = machine(NULL);
	struct stack_vm *v = kvm_vm(s, 1, STACK_KVM_VM_DEFAULT);
	const struct req s0 = { 0, 0, G, M2, 0, NOFILE, 0 }, s1 = { 1, 0, 2 * G, M2, 0, NOFILE, 0 };
	const struct req mv = { 0, 0, 3 * G, M2, 0, NOFILE, 0 }, del = { 1, 0, 0, 0, 0, NOFILE, 0 };
	const struct req ld = { 1, LD, 2 * G, M2, 0, NOFILE, 0 };
	static struct tfile f;

	cr_assert_eq(do_req(v, &s0, &f, &f), 0);
	cr_assert_eq(do_req(v, &s1, &f, &f), 0);
	map(v, G + 3 * K4, SPA_RAM, K4);
	map(v, 2 * G + 7 * K4, SPA_RAM + K4, K4);
	/* a flags-only change zaps nothing */
	cr_assert_eq(do_req(v, &ld, &f, &f), 0);
	cr_assert(mapped(v, 2 * G + 7 * K4));
	cr_assert_eq(do_req(v, &mv, &f, &f), 0);
	cr_assert(!mapped(v, G + 3 * K4), "moved: the old range is zapped");
	cr_assert(mapped(v, 2 * G + 7 * K4));
	cr_assert_eq(do_req(v, &del, &f, &f), 0);
	cr_assert(!mapped(v, 2 * G + 7 * K4), "deleted: zapped");
	cr_assert_eq(stat(s, "vm1.mem.pages_zapped"), 2);
	cr_assert_eq(stat(s, "vm1.mem.memslot_changes"), 5);
	sim_free(s);
}

/*
 * The cycles of a zap, where the model defines them: with the flat memory
 * timing (lat.mem.dram per 8-byte access) and the RMP off, zapping one 4K
 * leaf whose table keeps another leaf is one s2_unmap walk of NPT levels
 * 4..1: 4 entry reads down, the leaf's write, its re-read after the visit
 * and the re-reads of the 3 table entries for their post-order visits
 * (s2_walk), 9 accesses; then one flush of the VM's TLBs
 * (lat.s2.tlbi_vm, the cost of one invalidation).  A zap that finds no
 * leaf makes the same walk without the write (8 accesses) and flushes
 * nothing; a range outside every memslot is not walked at all.
 */
Test(kvm_mem, zap_cycles)
{
	static const char *const sets[] = {
		"lat.mem.dram", "10", "lat.s2.tlbi_vm", "77", "rmp.mode", "off", NULL,
	};
	struct sim *s = machine(sets);
	struct stack_vm *v = kvm_vm(s, 1, STACK_KVM_VM_SNP);
	const struct req slot = { 0, 0, G, M2, 0, NOFILE, 0 };
	struct sim_who who = { .agent = -1, .mem_cycles = 1000 };
	static struct tfile f;

	(void)s2_ctx_mmu(stack_get(s)->s2, 0);   /* an MMU to invalidate */
	cr_assert_eq(do_req(v, &slot, &f, &f), 0);
	map(v, G, SPA_RAM, K4);
	map(v, G + K4, SPA_RAM + K4, K4);
	cr_assert_eq(stat(s, "s2.tlbi.vm"), 0);
	cr_assert_eq(stack_kvm_set_memory_attributes(v, &who, G, K4, P, 0), 0);
	cr_assert_eq(who.mem_cycles, 1000 + 9 * 10 + 77, "zap: %llu",
		     (unsigned long long)who.mem_cycles);
	cr_assert_eq(stat(s, "s2.tlbi.vm"), 1, "one flush of the VM's entries");
	/* a page in the same table that is not mapped: the walk without the write, no flush */
	who.mem_cycles = 0;
	cr_assert_eq(stack_kvm_set_memory_attributes(v, &who, G + 2 * K4, K4, P, 0), 0);
	cr_assert_eq(who.mem_cycles, 8 * 10, "empty zap: %llu", (unsigned long long)who.mem_cycles);
	cr_assert_eq(stat(s, "s2.tlbi.vm"), 1, "nothing zapped, no flush");
	/* no memslot there: no zap at all */
	who.mem_cycles = 0;
	cr_assert_eq(stack_kvm_set_memory_attributes(v, &who, 8 * G, K4, P, 0), 0);
	cr_assert_eq(who.mem_cycles, 0);
	sim_free(s);
}

/*
 * A zap that would store into a table page the RMP has assigned is
 * refused before anything changes: -EFAULT, attributes and mappings as
 * they were (the host kernel would take an RMP #PF on that store).
 */
Test(kvm_mem, zap_into_an_assigned_table_page_is_refused)
{
	struct sim *s = machine(NULL);
	struct stack *st = stack_get(s);
	struct stack_vm *v = kvm_vm(s, 1, STACK_KVM_VM_SNP);
	const struct req slot = { 0, 0, G, M2, 0, NOFILE, 0 };
	struct sim_who who = { .agent = -1 };
	struct rmp_entry asg = { .assigned = true, .asid = 1 };
	static const struct rmp_entry shared;
	struct s2_wset ws = { 0 };
	static struct tfile f;

	cr_assert(rmp_enabled(st->rmp));
	cr_assert_eq(do_req(v, &slot, &f, &f), 0);
	map(v, G, SPA_RAM, K4);
	map(v, G + K4, SPA_RAM + K4, K4);
	cr_assert_eq(s2_write_set(v->s2, S2_WSET_UNMAP, G, 0, K4, 0, NULL, &ws), S2_OK);
	cr_assert_eq(ws.n, 1, "the leaf table page");
	cr_assert_eq(rmp_fw_write(st->rmp, ws.pages[0], &asg), RMP_RC_SUCCESS);
	cr_assert_eq(stack_kvm_set_memory_attributes(v, &who, G, K4, P, 0), -EFAULT);
	cr_assert(mapped(v, G));
	cr_assert_eq(stack_kvm_get_memory_attributes(v, GFN(G)), 0);
	cr_assert_eq(stat(s, "vm1.mem.zap_refused"), 1);
	cr_assert_eq(stat(s, "vm1.mem.attr_changes"), 0);
	/* deleting the slot needs the same zap */
	{
		const struct req del = { 0, 0, 0, 0, 0, NOFILE, 0 };

		cr_assert_eq(do_req(v, &del, &f, &f), -EFAULT);
		cr_assert_eq(v->kvm->nslots, 1);
	}
	/* once hypervisor-owned again, it goes through */
	cr_assert_eq(rmp_fw_write(st->rmp, ws.pages[0], &shared), RMP_RC_SUCCESS);
	cr_assert_eq(stack_kvm_set_memory_attributes(v, &who, G, K4, P, 0), 0);
	cr_assert(!mapped(v, G));
	s2_wset_free(&ws);
	sim_free(s);
}

/* ------------------------------------------------------------------ */
/* Size: a 1 TiB VM costs nothing until used                           */
/* ------------------------------------------------------------------ */

Test(kvm_mem, one_tib_vm_costs_what_it_uses)
{
	struct sim *s = machine(NULL);
	struct stack *st = stack_get(s);
	struct stack_vm *v = kvm_vm(s, 1, STACK_KVM_VM_SNP);
	const uint64_t T = 1ull << 40;
	const struct req slot = { 0, 0, 0, T, 0, NOFILE, 0 };
	struct sim_who who = { .agent = -1 };
	uint64_t pages0 = stack_palloc_stats(st->pool)->pages, tables0 = v->table_pages, spa;
	static struct tfile f;

	cr_assert_eq(do_req(v, &slot, &f, &f), 0);
	cr_assert_eq(stack_palloc_stats(st->pool)->pages, pages0, "no backing taken yet");
	/* the whole TiB private, a hole, half of it shared again, one page back */
	cr_assert_eq(stack_kvm_set_memory_attributes(v, &who, 0, T, P, 0), 0);
	cr_assert_eq(stack_kvm_set_memory_attributes(v, &who, T / 2 + K4, K4, 0, 0), 0);
	cr_assert_eq(stack_kvm_set_memory_attributes(v, &who, T / 4, T / 2, 0, 0), 0);
	cr_assert_eq(stack_kvm_set_memory_attributes(v, &who, T / 2, K4, P, 0), 0);
	cr_assert_eq(v->kvm->nattr, 3);
	cr_assert_eq(v->kvm->attr[0].start, 0);
	cr_assert_eq(v->kvm->attr[0].end, GFN(T / 4));
	cr_assert_eq(v->kvm->attr[1].start, GFN(T / 2));
	cr_assert_eq(v->kvm->attr[1].end, GFN(T / 2) + 1);
	cr_assert_eq(v->kvm->attr[2].start, GFN(3 * T / 4));
	cr_assert_eq(v->kvm->attr[2].end, GFN(T));
	cr_assert_leq(v->kvm->attr_cap, 8, "runs, not pages: %zu", v->kvm->attr_cap);
	cr_assert_eq(stack_palloc_stats(st->pool)->pages, pages0);
	cr_assert_eq(v->table_pages, tables0, "zaps of an empty table take no table page");
	/* one page touched: one 2M block of backing */
	cr_assert_eq(stack_kvm_backing(v, T - K4, true, &spa), 0);
	cr_assert_eq(stack_palloc_stats(st->pool)->pages, pages0 + 512);
	cr_assert_eq(stat(s, "vm1.mem.backing_pages"), 512);
	cr_assert_eq(stat(s, "vm1.mem.attr_changes"), 4);
	cr_assert_eq(stat(s, "vm1.mem.pages_zapped"), 0);
	sim_free(s);
}

/* ------------------------------------------------------------------ */
/* The VMM's backing                                                   */
/* ------------------------------------------------------------------ */

Test(kvm_mem, backing_on_use_in_2m_and_4k_pieces)
{
	struct sim *s = machine(NULL);
	struct stack *st = stack_get(s);
	struct stack_vm *v = kvm_vm(s, 1, STACK_KVM_VM_DEFAULT);
	const struct req a = { 0, 0, G, 2 * M2, 0, NOFILE, 0 };            /* 2M aligned */
	const struct req b = { 1, 0, 2 * G + K4, M2, 0, NOFILE, 0 };       /* not */
	const struct req c = { 2, 0, 3 * G, M2, SPA_RAM, NOFILE, 0 };     /* given */
	const struct req del = { 0, 0, 0, 0, 0, NOFILE, 0 };
	uint64_t pages0 = stack_palloc_stats(st->pool)->pages, x, y;
	static struct tfile f;

	cr_assert_eq(do_req(v, &a, &f, &f), 0);
	cr_assert_eq(do_req(v, &b, &f, &f), 0);
	cr_assert_eq(do_req(v, &c, &f, &f), 0);
	cr_assert_eq(stack_kvm_backing(v, G + 5 * K4 + 8, false, &x), -ENODATA);
	cr_assert_eq(stack_kvm_backing(v, G - K4, true, &x), -ENOENT);
	/* slot 0: a 2M block for the first 2M, another for the second */
	cr_assert_eq(stack_kvm_backing(v, G + 5 * K4 + 8, true, &x), 0);
	cr_assert_eq(x & 0xfff, 8);
	cr_assert_eq((x - 5 * K4 - 8) & (M2 - 1), 0, "a naturally aligned 2M block");
	cr_assert_eq(stack_palloc_state(st->pool, x), STACK_PAGE_USED);
	cr_assert_eq(stack_kvm_backing(v, G, false, &y), 0);
	cr_assert_eq(y, x - 5 * K4 - 8, "the same block");
	cr_assert_eq(stat(s, "vm1.mem.backing_pages"), 512);
	cr_assert_eq(stack_kvm_backing(v, G + M2, true, &y), 0);
	cr_assert_eq(stat(s, "vm1.mem.backing_pages"), 1024);
	/* slot 1 covers no whole aligned 2M of GPAs: 4K pages */
	cr_assert_eq(stack_kvm_backing(v, 2 * G + K4, true, &x), 0);
	cr_assert_eq(stack_kvm_backing(v, 2 * G + 2 * K4, true, &y), 0);
	cr_assert_eq(stat(s, "vm1.mem.backing_pages"), 1026);
	cr_assert_eq(stack_palloc_stats(st->pool)->pages, pages0 + 1026);
	/* a given backing is an offset, nothing taken */
	cr_assert_eq(stack_kvm_backing(v, 3 * G + 3 * K4, false, &x), 0);
	cr_assert_eq(x, SPA_RAM + 3 * K4);
	cr_assert_eq(stat(s, "vm1.mem.backing_pages"), 1026);
	/* a move keeps the backing: the same pages at the new GPAs */
	{
		const struct req mv = { 1, 0, 4 * G + K4, M2, 0, NOFILE, 0 };
		uint64_t z;

		cr_assert_eq(do_req(v, &mv, &f, &f), 0);
		cr_assert_eq(stack_kvm_backing(v, 2 * G + K4, false, &z), -ENOENT);
		cr_assert_eq(stack_kvm_backing(v, 4 * G + 2 * K4, false, &z), 0);
		cr_assert_eq(z, y);
	}
	/* deleting slot 0 gives its blocks back */
	cr_assert_eq(do_req(v, &del, &f, &f), 0);
	cr_assert_eq(stat(s, "vm1.mem.backing_pages"), 2);
	cr_assert_eq(stack_palloc_stats(st->pool)->pages, pages0 + 2);
	stack_vm_destroy(v);
	cr_assert_eq(stack_palloc_stats(st->pool)->pages, pages0 - 1, "the VM's root went too");
	sim_free(s);
}

Test(kvm_mem, backing_when_the_pool_is_used_up)
{
	static const char *const sets[] = { "s2.pool_size", "16k", NULL };
	struct sim *s = machine(sets);
	struct stack_vm *v = kvm_vm(s, 1, STACK_KVM_VM_DEFAULT);
	const struct req a = { 0, 0, G, 2 * M2, 0, NOFILE, 0 };
	uint64_t x;
	int rc = 0;
	static struct tfile f;

	cr_assert_eq(do_req(v, &a, &f, &f), 0);
	/* no 2M block in a 16K pool: 4K pages until none is left */
	for (unsigned i = 0; i < 8 && !rc; i++)
		rc = stack_kvm_backing(v, G + i * K4, true, &x);
	cr_assert_eq(rc, -ENOMEM);
	cr_assert_eq(stat(s, "vm1.mem.backing_pages"), 3, "16K pool: root + 3 pages");
	sim_free(s);
}

/* ------------------------------------------------------------------ */
/* `vm page`                                                           */
/* ------------------------------------------------------------------ */

Test(kvm_mem, page_query)
{
	struct sim *s = machine(NULL);
	struct stack_vm *v = kvm_vm(s, 1, STACK_KVM_VM_SNP);
	static struct tfile f;
	struct stack_kvm_page pg;
	struct sim_who who = { .agent = -1 };
	const struct req gm = { 4, GM, G, 2 * M2, 0, FILE_OWN, 0 };
	uint64_t x;

	f = (struct tfile){ .owner = v, .pages = FILE_PAGES };
	cr_assert_eq(do_req(v, &gm, &f, &f), 0);
	cr_assert_eq(stack_kvm_page_query(v, &who, G - K4, &pg), -ENOENT);
	cr_assert_eq(stack_kvm_page_query(v, &who, G + 0x123, &pg), 0);
	cr_assert_eq(pg.slot, 4);
	cr_assert(pg.gmem);
	cr_assert(!pg.private_ && !pg.mapped && !pg.shared_backed);
	map(v, G + M2, SPA_RAM + M2, M2);
	cr_assert_eq(stack_kvm_set_memory_attributes(v, &who, G, K4, P, 0), 0);
	cr_assert_eq(stack_kvm_backing(v, G, true, &x), 0);
	cr_assert_eq(stack_kvm_page_query(v, &who, G + 0x123, &pg), 0);
	cr_assert(pg.private_);
	cr_assert(!pg.mapped);
	cr_assert(pg.shared_backed);
	cr_assert_eq(pg.shared_spa, x + 0x123);
	who.mem_cycles = 0;
	cr_assert_eq(stack_kvm_page_query(v, &who, G + M2 + 0x5008, &pg), 0);
	cr_assert(!pg.private_);
	cr_assert(pg.mapped);
	cr_assert_eq(pg.leaf_size, M2);
	cr_assert_eq(pg.spa, SPA_RAM + M2 + 0x5008);
	cr_assert_gt(who.mem_cycles, 0, "the leaf lookup is a timed software walk");
	sim_free(s);
}

Test(kvm_mem, init_rules)
{
	struct sim *s = machine(NULL);
	struct stack *st = stack_get(s);
	struct sim_who who = { .agent = -1 };
	struct stack_vm *v;
	struct stack_kvm_region r = { .size = K4, .spa = STACK_KVM_SPA_ALLOC };

	cr_assert_eq(stack_vm_create(st, &who, 5, s2_fmt(S2_FMT_NPT), 4, 0), S2_OK);
	v = stack_vm_find(st, 5);
	cr_assert_eq(stack_kvm_set_memory_region(v, &who, &r), -ENOENT, "no KVM state");
	cr_assert_eq(stack_kvm_set_memory_attributes(v, &who, 0, K4, 0, 0), -ENOENT);
	cr_assert_eq(stack_kvm_mem_init(v, STACK_KVM_VM_TYPES, "vm5.mem"), -EINVAL);
	cr_assert_eq(stack_kvm_mem_init(v, STACK_KVM_VM_SNP, "vm5.mem"), 0);
	cr_assert_eq(stack_kvm_mem_init(v, STACK_KVM_VM_SNP, "vm5.mem"), -EEXIST);
	cr_assert_eq(stack_kvm_mem_init(v, STACK_KVM_VM_SNP, "vm5.other"), -EEXIST, "one per VM");
	/* a prefix already used in the run (a destroyed VM's kept statistics) */
	stack_vm_destroy(v);
	cr_assert_eq(stack_vm_create(st, &who, 6, s2_fmt(S2_FMT_NPT), 4, 0), S2_OK);
	v = stack_vm_find(st, 6);
	cr_assert_eq(stack_kvm_mem_init(v, STACK_KVM_VM_SNP, "vm5.mem"), -EEXIST);
	cr_assert_eq(stack_kvm_mem_init(v, STACK_KVM_VM_SNP, "vm6.mem"), 0);
	cr_assert(sim_stat_has_prefix(s, "vm5.mem"));
	cr_assert_str_eq(stack_kvm_vm_type_names[STACK_KVM_VM_SW_PROTECTED], "sw_protected");
	sim_free(s);
}

/* The post-set hook: once per slot the changed range meets, with the part inside it. */
struct hook_log {
	unsigned n;
	struct { uint16_t slot; uint64_t start, end, attrs; int agent; } e[4];
};

static void log_post_set(void *arg, struct stack_vm *v, struct sim_who *who,
			 const struct stack_kvm_slot *slot, uint64_t start, uint64_t end,
			 uint64_t attributes)
{
	struct hook_log *l = arg;

	(void)v;
	cr_assert_lt(l->n, 4);
	l->e[l->n].slot = slot->id;
	l->e[l->n].start = start;
	l->e[l->n].end = end;
	l->e[l->n].attrs = attributes;
	l->e[l->n].agent = who ? who->agent : -2;
	l->n++;
}

Test(kvm_mem, post_set_hook_per_slot)
{
	struct sim *s = machine(NULL);
	struct stack_vm *v = kvm_vm(s, 1, STACK_KVM_VM_SW_PROTECTED);
	const struct req a = { 3, 0, G, M2, 0, NOFILE, 0 }, b = { 1, 0, G + 2 * M2, M2, 0, NOFILE, 0 };
	struct sim_who who = { .agent = 5 };
	static struct hook_log l;
	const struct stack_kvm_attr_hook h = { log_post_set, &l };
	static struct tfile f;

	cr_assert_eq(do_req(v, &a, &f, &f), 0);
	cr_assert_eq(do_req(v, &b, &f, &f), 0);
	cr_assert_eq(stack_kvm_set_attr_hook(v, &h), 0);
	/* from inside slot 3 to inside slot 1, across the gap between them */
	cr_assert_eq(stack_kvm_set_memory_attributes(v, &who, G + M2 - K4, 2 * M2, P, 0), 0);
	cr_assert_eq(l.n, 2);
	cr_assert_eq(l.e[0].slot, 3);
	cr_assert_eq(l.e[0].start, GFN(G + M2 - K4));
	cr_assert_eq(l.e[0].end, GFN(G + M2));
	cr_assert_eq(l.e[1].slot, 1);
	cr_assert_eq(l.e[1].start, GFN(G + 2 * M2));
	cr_assert_eq(l.e[1].end, GFN(G + 3 * M2 - K4));
	cr_assert_eq(l.e[1].attrs, P);
	cr_assert_eq(l.e[1].agent, 5);
	/* nothing to do: no call; a refused call: none either */
	cr_assert_eq(stack_kvm_set_memory_attributes(v, &who, G + M2 - K4, K4, P, 0), 0);
	cr_assert_eq(stack_kvm_set_memory_attributes(v, &who, G, K4, P, 1), -EINVAL);
	cr_assert_eq(l.n, 2);
	/* outside every slot: none */
	cr_assert_eq(stack_kvm_set_memory_attributes(v, &who, 8 * G, K4, P, 0), 0);
	cr_assert_eq(l.n, 2);
	cr_assert_eq(stack_kvm_set_attr_hook(v, NULL), 0);
	cr_assert_eq(stack_kvm_set_memory_attributes(v, &who, G, K4, P, 0), 0);
	cr_assert_eq(l.n, 2);
	sim_free(s);
}
