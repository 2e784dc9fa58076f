/*
 * kvm_vcpu.c - guest programs on the VMs of `vm create`: the VMM loads an
 * RV64 ELF into guest memory (`vm load`), and KVM_RUN runs a vCPU on the
 * line's agent (`vcpu run`): cpu_vmrun() until the program exits, an exit
 * the host cannot answer, or the instruction limit, with KVM's exit
 * handling (kvm_mmu.c, kvm_sev.c) and the VMM (vmm.c) in between, as the
 * scripted guest actions use them (docs/script.md "vCPUs").
 *
 *   vm load  vm=N elf=PATH                    -> OK entry= base= size=
 *   vcpu run vm=N vcpu=K [max_insns=N] [boot=GPA]
 *            -> OK entry_pc= entry_sp= exit=... [code=N] exits= user_exits= insns=
 *
 * The console (HTIF) is the VMM's debug port: it reads the program's
 * tohost/fromhost words and write() buffers through the nested mapping
 * (untimed, a device's view of memory, as the minimal host's HTIF); its
 * output is printed before the result line, one `console:` line each.
 *
 * A VM may hold two programs: the one `vm load` wrote, and a firmware the
 * host kernel put into guest memory itself (pKVM's protected-VM firmware,
 * pkvm_host.c).  The vCPUs enter the firmware when there is one; it jumps
 * to the loaded program (its payload), and both programs' tohost words
 * are watched, so each has its own console channel and either may exit.
 */
#define _GNU_SOURCE   /* open_memstream */
#include "sim/stack/stack_int.h"
#include "sim/stack/pkvm_host.h"   /* pKVM hook */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PAGE_4K 0x1000ull
#define STACK_KVM_MAX_RETRIES 64   /* the same #NPF this many times: the run stops (stuck) */

/* The guest platform of a KVM VM that runs a program. */
struct stack_kvm_cpu {
	struct cpu_vm *cpu;              /* built at the first `vcpu run` */
	unsigned nharts;
	struct cpu_vmcb vmcb[STACK_KVM_MAX_VCPUS];
	struct cpu_budget budget[STACK_KVM_MAX_VCPUS];   /* each `vcpu run`'s max_insns */
	bool running[STACK_KVM_MAX_VCPUS];               /* in KVM_RUN (a `vcpu run` line) */
	unsigned nrunning;
	struct stack_kvm_img {
		bool loaded;
		uint64_t entry;
		uint64_t base, size;     /* the pages the program occupies */
		bool has_tohost;
		uint64_t tohost, fromhost;   /* GPAs */
		struct stack_htif htif;  /* its console channel (built with the platform) */
		struct stack_vm *v;
	} prog, fw;                      /* `vm load`'s; the host kernel's firmware (pKVM) */
	bool exited;                     /* the program asked to exit (HTIF) */
	int code;
	char *out;                       /* console output not printed yet (any vCPU's) */
	size_t outlen, outdone;
	FILE *outf;
};

static struct stack_kvm_cpu *kcpu(struct stack_vm *v)
{
	if (!v->run->cpu)
		v->run->cpu = sim_xcalloc(1, sizeof(*v->run->cpu));
	return v->run->cpu;
}

void stack_kvm_cpu_free(struct stack_vm *v)
{
	struct stack_kvm_cpu *k = v->run ? v->run->cpu : NULL;

	if (!k)
		return;
	/*
	 * The platform is retired, not freed: its harts' statistics stay
	 * registered (a destroyed VM's statistics are kept, and `protsim run`
	 * writes them at the end), so it goes with the machine
	 * (stack_kvm_cpu_reap).
	 */
	if (k->cpu) {
		struct stack *st = v->st;

		st->retired_cpu = sim_xrealloc(st->retired_cpu,
					       (st->nretired_cpu + 1) * sizeof(*st->retired_cpu));
		st->retired_cpu[st->nretired_cpu++] = k->cpu;
	}
	if (k->outf)
		fclose(k->outf);
	free(k->out);
	for (unsigned i = 0; i < STACK_KVM_MAX_VCPUS; i++)
		if (k->vmcb[i].vmcb_spa)
			stack_palloc_put(v->st->pool, k->vmcb[i].vmcb_spa, false);
	free(k);
	v->run->cpu = NULL;
}

void stack_kvm_cpu_reap(struct stack *st)
{
	for (size_t i = 0; i < st->nretired_cpu; i++)
		cpu_vm_free(st->retired_cpu[i]);
	free(st->retired_cpu);
	st->retired_cpu = NULL;
	st->nretired_cpu = 0;
}

bool stack_kvm_cpu_regs(struct stack_vm *v, unsigned vcpu, uint64_t *pc, uint64_t *sp)
{
	struct stack_kvm_cpu *k = v->run ? v->run->cpu : NULL;
	struct cpu_hart *h;

	if (!k || !k->cpu || vcpu >= k->nharts)
		return false;
	h = cpu_vm_hart(k->cpu, vcpu);
	*pc = cpu_hart_pc(h);
	*sp = cpu_hart_reg(h, 2);
	return true;
}

/* heki.h: the CR0/CR4 bits whose change exits, on every hart (pins, CR filter, VTL1) */
void stack_kvm_cpu_cr_intercepts(struct stack_vm *v)
{
	struct stack_kvm_cpu *k = v->run ? v->run->cpu : NULL;

	for (unsigned i = 0; k && k->cpu && i < k->nharts; i++) {
		cpu_hart_set_cr_intercept(cpu_vm_hart(k->cpu, i), 0, stack_heki_intercept(v, 0));
		cpu_hart_set_cr_intercept(cpu_vm_hart(k->cpu, i), 4, stack_heki_intercept(v, 4));
	}
}

/*
 * The firmware the host kernel put into guest memory itself (pKVM: the
 * protected-VM firmware copied into its slot, pkvm_host.c): the program
 * the vCPUs enter, before the one `vm load` wrote (its payload).
 */
void stack_kvm_set_firmware(struct stack_vm *v, uint64_t entry, uint64_t base, uint64_t size,
			    bool has_tohost, uint64_t tohost, uint64_t fromhost)
{
	struct stack_kvm_cpu *k = kcpu(v);

	k->fw = (struct stack_kvm_img){ .loaded = true, .entry = entry, .base = base, .size = size,
					.has_tohost = has_tohost, .tohost = tohost,
					.fromhost = fromhost };
}

/* The program the vCPUs enter: the firmware if the host put one in, else `vm load`'s. */
static struct stack_kvm_img *entry_img(struct stack_kvm_cpu *k)
{
	return k->fw.loaded ? &k->fw : &k->prog;
}

void stack_kvm_cpu_tlbi(struct stack_vm *v, enum cpu_tlbi what)
{
	struct stack_kvm_cpu *k = v->run ? v->run->cpu : NULL;

	for (unsigned i = 0; k && k->cpu && i < k->nharts; i++)
		cpu_vcpu_tlbi(cpu_vm_hart(k->cpu, i), what);
}

bool stack_kvm_vcpu_running(const struct stack_vm *v, int vcpu)
{
	const struct stack_kvm_cpu *k = v->run ? v->run->cpu : NULL;

	if (!k)
		return false;
	return vcpu < 0 ? k->nrunning > 0 : vcpu < STACK_KVM_MAX_VCPUS && k->running[vcpu];
}

void stack_kvm_vcpu_kick(struct stack_vm *v, unsigned vcpu, uint64_t *cycles)
{
	struct stack_kvm_cpu *k = v->run ? v->run->cpu : NULL;

	v->run->ctr.kicks++;
	if (!k || !k->cpu || vcpu >= k->nharts)
		return;
	cpu_vcpu_kick(NULL, cpu_vm_hart(k->cpu, vcpu));
	*cycles += v->st->lat.kick;
}

/*
 * The page behind @gpa as the VMM and its devices see it: the page the
 * nested table maps, else the guest_memfd page of a private GFN, else
 * the VMM's own (taken on use when @alloc).  0, or -1.
 */
static int page_of(struct stack_vm *v, uint64_t gpa, bool alloc, uint64_t *spa)
{
	const struct stack_kvm_slot *sl = stack_kvm_gfn_to_slot(v, gpa >> 12);
	bool big, prepared;

	if (!sl)
		return -1;
	if (stack_vm_gpa_spa(v, gpa, spa))
		return 0;
	if (sl->gmem && stack_kvm_get_memory_attributes(v, gpa >> 12) &&
	    v->st->snp_backing == STACK_SNP_BACKING_GMEM) {
		uint64_t off = sl->gmem_offset + ((gpa >> 12) - sl->base_gfn) * PAGE_4K;

		if (stack_gmem_page(sl->gmem, off, spa, &big, &prepared)) {
			struct sim_who none = { .agent = -1 };
			uint64_t cyc = 0;

			if (!alloc || stack_gmem_fallocate(sl->gmem, &none, STACK_GMEM_FALLOC_KEEP_SIZE,
							   off & ~(PAGE_4K - 1), PAGE_4K, &cyc) ||
			    stack_gmem_page(sl->gmem, off, spa, &big, &prepared))
				return -1;
		}
		*spa |= gpa & (PAGE_4K - 1);
		return 0;
	}
	return stack_kvm_backing(v, gpa, alloc, spa) ? -1 : 0;
}

static int htif_gpa_to_spa(void *arg, uint64_t gpa, uint64_t *spa)
{
	return page_of(arg, gpa, false, spa);
}

static void htif_exit(void *arg, int code)
{
	struct stack_vm *v = arg;

	v->run->cpu->exited = true;
	v->run->cpu->code = code;
}

/* ------------------------------------------------------------------ */
/* vm load                                                             */
/* ------------------------------------------------------------------ */

/*
 * On a pKVM host the VMM writes guest memory through its own mapping: each
 * page of the program a user store through the host stage 2, all of them
 * checked before any is written.  A page the host no longer owns (donated
 * to the guest: the copy comes after the guest ran) faults: the load fails
 * with ERROR(EFAULT) and gpa= the first such page, nothing written.  0 to
 * go on; -1 when the result is set (the ELF freed).
 */
static int vmm_copy_check(struct sim_call *c, struct stack_vm *v, struct cpu_elf *elf)
{
	for (unsigned i = 0; i < elf->nseg; i++) {
		const struct cpu_elf_seg *sg = &elf->seg[i];

		for (uint64_t g = sg->paddr & ~(PAGE_4K - 1); g < sg->paddr + sg->memsz; g += PAGE_4K) {
			uint64_t spa;

			if (page_of(v, g, true, &spa) ||
			    stack_pkvm_vmm_access(v, sim_call_agent(c), spa, true)) {   /* pKVM hook */
				cpu_elf_free(elf);
				stack_put_errno(c, EFAULT);
				sim_call_field_hex(c, "gpa", g);
				sim_advance(sim_call_agent(c), v->st->lat.ioctl);
				return -1;
			}
		}
	}
	return 0;
}

/*
 * The VMM copies the program into guest memory, as QEMU's loader does
 * before the launch: each page of each segment goes to the page behind
 * its GPA (a private GFN of a guest_memfd slot: the file's page, not
 * prepared, so that `snp launch_update` measures it in place; else the
 * VMM's own page).  Every page of every segment must be in a memslot.
 */
void stack_op_vm_load(struct sim_call *c)
{
	struct stack_vm *v = stack_kvm_vm_of(c);
	struct cpu_elf *elf = NULL;
	struct sim_err err;
	uint64_t lo = UINT64_MAX, hi = 0, pages = 0;
	struct stack_kvm_cpu *k;
	char *path;
	int rc;

	if (!v)
		return;
	path = sim_arg_path(c, "elf", "");
	rc = cpu_elf_open(path, 0, SIM_PA_LIMIT, &elf, &err);
	free(path);
	if (rc) {
		sim_call_bad_arg(c, "elf", "%s", err.msg);
		return;
	}
	for (unsigned i = 0; i < elf->nseg; i++) {
		const struct cpu_elf_seg *sg = &elf->seg[i];

		for (uint64_t a = sg->paddr & ~(PAGE_4K - 1); a < sg->paddr + sg->memsz; a += PAGE_4K) {
			if (!stack_kvm_gfn_to_slot(v, a >> 12)) {
				sim_call_bad_arg(c, "elf", "%s: segment page 0x%llx is in no memslot of VM %u",
						 elf->path, (unsigned long long)a, v->id);
				cpu_elf_free(elf);
				return;
			}
		}
	}
	if (vmm_copy_check(c, v, elf))
		return;
	for (unsigned i = 0; i < elf->nseg; i++) {
		const struct cpu_elf_seg *sg = &elf->seg[i];

		for (uint64_t off = 0; off < sg->memsz;) {
			uint64_t gpa = sg->paddr + off, n = PAGE_4K - (gpa & (PAGE_4K - 1)), spa;
			static const uint8_t zero[PAGE_4K];

			if (n > sg->memsz - off)
				n = sg->memsz - off;
			if (page_of(v, gpa, true, &spa)) {
				cpu_elf_free(elf);
				stack_put_errno(c, ENOMEM);
				return;
			}
			if (off < sg->filesz) {
				uint64_t m = sg->filesz - off < n ? sg->filesz - off : n;

				sim_mem_poke(v->st->mem, spa, (const uint8_t *)sg->data + off, m);
				if (m < n)
					sim_mem_poke(v->st->mem, spa + m, zero, n - m);
			} else {
				sim_mem_poke(v->st->mem, spa, zero, n);
			}
			pages++;
			off += n;
		}
		if (sg->paddr < lo)
			lo = sg->paddr;
		if (sg->paddr + sg->memsz > hi)
			hi = sg->paddr + sg->memsz;
	}
	k = kcpu(v);
	lo &= ~(PAGE_4K - 1);
	hi = (hi + PAGE_4K - 1) & ~(PAGE_4K - 1);
	k->prog = (struct stack_kvm_img){ .loaded = true, .entry = elf->entry, .base = lo,
					  .size = hi - lo, .has_tohost = elf->has_tohost,
					  .tohost = elf->tohost,
					  .fromhost = elf->has_fromhost ? elf->fromhost : 0 };
	cpu_elf_free(elf);
	sim_call_result(c, "OK");
	sim_call_field_hex(c, "entry", k->prog.entry);
	sim_call_field_hex(c, "base", lo);
	sim_call_field_hex(c, "size", hi - lo);
	/* the copy: one page clear's worth of memory traffic per page */
	sim_advance(sim_call_agent(c), v->st->lat.ioctl + pages * v->st->lat.page_clear);
	stack_check_after(c);
}

/* ------------------------------------------------------------------ */
/* vm boot: the boot-parameters page (docs/guest-abi.md)               */
/* ------------------------------------------------------------------ */

#define BOOT_MAGIC    0x544f4f424d495350ull   /* "PSIMBOOT" */
#define BOOT_CMDLINE  512
#define BOOT_RANGES   64
enum { R_RAM = 1, R_UNACCEPTED = 2, R_RESERVED = 3, R_DEVICE = 4 };

struct boot_range {
	uint64_t gpa, size;
	uint32_t type, flags;
};

/* Add [lo, hi) of @type, cut around the reserved ranges @res (sorted, disjoint). */
static int add_cut(struct boot_range *r, unsigned *n, uint64_t lo, uint64_t hi, uint32_t type,
		   const struct boot_range *res, unsigned nres)
{
	for (unsigned i = 0; i < nres && lo < hi; i++) {
		uint64_t rl = res[i].gpa, rh = res[i].gpa + res[i].size;

		if (rh <= lo || rl >= hi)
			continue;
		if (rl > lo) {
			if (*n == BOOT_RANGES)
				return -1;
			r[(*n)++] = (struct boot_range){ lo, rl - lo, type, 0 };
		}
		lo = rh;
	}
	if (lo < hi) {
		if (*n == BOOT_RANGES)
			return -1;
		r[(*n)++] = (struct boot_range){ lo, hi - lo, type, 0 };
	}
	return 0;
}

/*
 * The VMM writes the boot-parameters page at @gpa, as QEMU builds the
 * firmware's memory map: the program's image and the page itself
 * RESERVED, every other page of the memslots UNACCEPTED (private memory
 * the guest accepts before use), the command line (`,` stands for a
 * space).  The page is private guest memory like the image, for the
 * launch to measure.
 */
void stack_kvm_image(struct stack_vm *v, uint64_t *base, uint64_t *size)
{
	struct stack_kvm_cpu *k = v->run ? v->run->cpu : NULL;

	*base = k && k->prog.loaded ? k->prog.base : 0;
	*size = k && k->prog.loaded ? k->prog.size : 0;
}

void stack_op_vm_boot(struct sim_call *c)
{
	struct stack_vm *v = stack_kvm_vm_of(c);
	uint64_t gpa = sim_arg_u64(c, "gpa", 0), spa;
	const char *cmd = sim_arg_str(c, "cmdline", "");
	struct stack_kvm_cpu *k;
	struct boot_range res[2], r[BOOT_RANGES];
	unsigned n = 0, nres = 0;
	uint8_t page[PAGE_4K];
	uint32_t u32;

	if (!v)
		return;
	k = v->run->cpu;
	if (!k || !k->prog.loaded) {
		sim_call_bad_arg(c, "vm", "VM %u has no program: `vm load` first", v->id);
		return;
	}
	if (strlen(cmd) >= BOOT_CMDLINE) {
		sim_call_bad_arg(c, "cmdline", "at most %d bytes", BOOT_CMDLINE - 1);
		return;
	}
	if (gpa < k->prog.base + k->prog.size && k->prog.base < gpa + PAGE_4K) {
		sim_call_bad_arg(c, "gpa", "0x%llx is inside the program's image",
				 (unsigned long long)gpa);
		return;
	}
	if (page_of(v, gpa, true, &spa)) {
		sim_call_bad_arg(c, "gpa", "0x%llx is in no memslot of VM %u",
				 (unsigned long long)gpa, v->id);
		return;
	}
	if (stack_pkvm_vmm_access(v, sim_call_agent(c), spa, true)) {   /* pKVM hook */
		stack_put_errno(c, EFAULT);   /* the VMM's store faults: the guest owns the page */
		sim_advance(sim_call_agent(c), v->st->lat.ioctl);
		return;
	}
	/* the reserved ranges, sorted */
	res[nres++] = (struct boot_range){ k->prog.base, k->prog.size, R_RESERVED, 0 };
	res[nres++] = (struct boot_range){ gpa, PAGE_4K, R_RESERVED, 0 };
	if (res[1].gpa < res[0].gpa) {
		struct boot_range t = res[0];

		res[0] = res[1];
		res[1] = t;
	}
	for (unsigned i = 0; i < nres; i++)
		r[n++] = res[i];
	if (sim_arg_has(c, "disk")) {
		uint64_t q = sim_arg_u64(c, "queue", 64);

		if (!q || q > 256 || (q & (q - 1))) {
			sim_call_bad_arg(c, "queue", "%llu: a power of two, 1..256", (unsigned long long)q);
			return;
		}
		if (stack_vblk_create(v, sim_arg_u64(c, "disk", 0))) {
			sim_call_bad_arg(c, "disk", "VM %u has its block device already", v->id);
			return;
		}
		r[n++] = (struct boot_range){ sim_arg_u64(c, "disk", 0), 0, R_DEVICE, (uint32_t)q };
	}
	for (size_t i = 0; i < v->kvm->nslots; i++) {
		const struct stack_kvm_slot *sl = &v->kvm->slots[i];

		if (sl->as_id == 0 &&
		    add_cut(r, &n, sl->base_gfn << 12, (sl->base_gfn + sl->npages) << 12,
			    R_UNACCEPTED, res, nres)) {
			sim_call_bad_arg(c, "vm", "more than %d memory ranges", BOOT_RANGES);
			return;
		}
	}
	memset(page, 0, sizeof(page));
	memcpy(page, &(uint64_t){ BOOT_MAGIC }, 8);
	u32 = 1;
	memcpy(page + 8, &u32, 4);
	u32 = n;
	memcpy(page + 12, &u32, 4);
	for (size_t i = 0; cmd[i]; i++)
		page[16 + i] = cmd[i] == ',' ? ' ' : (uint8_t)cmd[i];
	for (unsigned i = 0; i < n; i++) {
		uint8_t *e = page + 16 + BOOT_CMDLINE + 24 * i;

		memcpy(e, &r[i].gpa, 8);
		memcpy(e + 8, &r[i].size, 8);
		memcpy(e + 16, &r[i].type, 4);
		memcpy(e + 20, &r[i].flags, 4);
	}
	sim_mem_poke(v->st->mem, spa & ~(PAGE_4K - 1), page, sizeof(page));
	sim_call_result(c, "OK");
	sim_call_field_hex(c, "gpa", gpa);
	sim_call_field_u64(c, "ranges", n);
	sim_advance(sim_call_agent(c), v->st->lat.ioctl + v->st->lat.page_clear);
	stack_check_after(c);
}

/* ------------------------------------------------------------------ */
/* vcpu run                                                            */
/* ------------------------------------------------------------------ */

/* The guest platform, at the first run: harts for the vCPUs created so far. */
static int platform(struct sim_call *c, struct stack_vm *v, struct stack_kvm_cpu *k)
{
	struct stack_kvm_img *run = entry_img(k);
	struct cpu_vm_cfg cfg = { 0 };
	struct sim_err err;
	uint64_t tspa;
	char vp[24];

	if (k->cpu)
		return 0;
	if (!run->has_tohost || page_of(v, run->tohost & ~(PAGE_4K - 1), true, &tspa)) {
		sim_call_bad_arg(c, "vm", "the program has no tohost word in guest memory (HTIF)");
		return -1;
	}
	for (unsigned i = 0; i < STACK_KVM_MAX_VCPUS; i++)
		if (v->run->vcpu[i].created)
			k->nharts = i + 1;
	snprintf(vp, sizeof(vp), "%s.", v->prefix);
	cfg.type = v->asid ? CPU_VM_SNP : CPU_VM_NPT;
	cfg.nharts = k->nharts;
	/* the RAM window is the tohost page: the doorbell's (stage 2 serves the rest) */
	cfg.mem_base = run->tohost & ~(PAGE_4K - 1);
	cfg.mem_size = PAGE_4K;
	cfg.spa_base = tspa;
	cfg.npt = v->s2;
	cfg.vmid = v->id;
	stack_pkvm_vcpu_platform(v, &cfg.npt, &cfg.vmid);   /* pKVM hook: the hyp's guest stage 2 */
	cfg.asid = v->asid;
	cfg.vcpu_prefix = vp;
	cfg.vm_prefix = v->prefix;
	k->cpu = cpu_vm_new(v->st->s, &cfg, &err);
	if (!k->cpu) {
		sim_call_bad_arg(c, "vm", "%s", err.msg);
		return -1;
	}
	for (unsigned i = 0; i < k->nharts; i++) {
		struct cpu_hart *h = cpu_vm_hart(k->cpu, i);

		if (stack_palloc_get(v->st->pool, false, &k->vmcb[i].vmcb_spa)) {
			sim_call_bad_arg(c, "vm", "s2.pool_size: no host page left for a VMCB");
			return -1;
		}
		k->vmcb[i].vmsa_spa = v->run->vcpu[i].vmsa_spa;
		k->vmcb[i].vmsa_gpa = v->run->vcpu[i].vmsa_gpa;
		k->vmcb[i].budget = &k->budget[i];
		cpu_hart_set_pc(h, run->entry);
		cpu_hart_set_reg(h, 10, i);   /* a0: hart id */
	}
	stack_kvm_cpu_cr_intercepts(v);   /* heki.h */
	return 0;
}

static void tohost_bell(void *arg, struct cpu_hart *h, uint64_t val)
{
	struct stack_kvm_img *img = arg;
	struct stack_vm *v = img->v;

	stack_htif_tohost(&img->htif, val);
	if (v->run->cpu->exited)   /* the program is over: every vCPU leaves guest mode */
		for (unsigned i = 0; i < v->run->cpu->nharts; i++)
			cpu_vcpu_kick(NULL, cpu_vm_hart(v->run->cpu->cpu, i));
	(void)h;
}

/*
 * The console channel of program @img (the firmware or `vm load`'s): its
 * tohost word watched on the platform, its HTIF built the first time.
 * 0, or -1 (the word is in no memslot: the run fails).
 */
static int watch_program(struct sim_call *c, struct stack_vm *v, struct stack_kvm_cpu *k,
			 struct stack_kvm_img *img)
{
	uint64_t spa;

	if (!img->loaded || !img->has_tohost)
		return 0;
	if (!img->htif.mem) {
		if (page_of(v, img->tohost & ~(PAGE_4K - 1), true, &spa)) {
			sim_call_bad_arg(c, "vm", "the program at 0x%llx has its tohost word in no memslot",
					 (unsigned long long)img->base);
			return -1;
		}
		img->v = v;
		img->htif = (struct stack_htif){ .mem = v->st->mem, .gpa_to_spa = htif_gpa_to_spa,
						 .exit = htif_exit, .arg = v, .max_len = 1ull << 20,
						 .fromhost = img->fromhost,
						 .tohost_spa = spa | (img->tohost & (PAGE_4K - 1)) };
	}
	img->htif.console = k->outf;
	if (cpu_vm_watch(k->cpu, img->htif.tohost_spa, tohost_bell, img))
		sim_fatal("stack: vcpu run: a tohost word not watched");
	return 0;
}

/* The host's outcome of one exit: re-enter, or stop with @why. */
static const char *handle(struct stack_vm *v, unsigned idx, struct cpu_hart *h,
			  const struct cpu_exit *e, struct cpu_reply *r, uint64_t *uexits)
{
	struct sim_agent *a = cpu_hart_agent(h);
	struct sim_who who = { .now = sim_now(a), .agent = sim_agent_id(a) };
	struct stack_uexit ue = { 0 };
	uint64_t cyc = 0;
	enum stack_kvm_rc rc;
	const char *why;

	if (stack_pkvm_vcpu_exit(v, idx, h, e, r, &why))   /* pKVM hook: NPF, HYPERCALL at EL2 */
		return why;
	switch (e->reason) {
	case CPU_EXIT_NPF:
	case CPU_EXIT_VMGEXIT:
	case CPU_EXIT_HYPERCALL:
	case CPU_EXIT_CR_WRITE:   /* heki.c: the pins, VTL1, the VMM's CR filter */
		rc = stack_kvm_handle(v, idx, &who, e, &ue, &cyc, uexits);
		break;
	case CPU_EXIT_HLT:
		sim_advance(a, v->st->lat.kvm_exit);
		r->action = CPU_REPLY_SKIP;
		return "hlt";
	case CPU_EXIT_INTR:
		r->action = CPU_REPLY_RESUME;
		return v->run->cpu->exited ? "exited" : NULL;
	case CPU_EXIT_BUDGET:
		r->action = CPU_REPLY_RESUME;
		return "limit";
	default:
		return "invalid";
	}
	sim_advance(a, cyc + who.mem_cycles);
	switch (rc) {
	case STACK_KVM_RETRY:
		r->action = CPU_REPLY_RETRY;
		return NULL;
	case STACK_KVM_DONE:
		if (e->reason == CPU_EXIT_NPF) {
			/* emulated MMIO: no device there; the VMM reports an access fault */
			r->action = CPU_REPLY_INJECT;
			r->inject_cause = (e->npf_info & RMP_NPF_W) ? CPU_CAUSE_STORE_ACCESS
					: CPU_CAUSE_LOAD_ACCESS;
			r->inject_tval = e->npf_gpa;
			return NULL;
		}
		r->action = CPU_REPLY_SKIP;
		r->ret = v->run->vcpu[idx].resp;
		r->cr_allow = e->reason == CPU_EXIT_CR_WRITE;
		return NULL;
	case STACK_KVM_GP:   /* heki.h: #GP(0), the CR write not done */
		r->action = CPU_REPLY_INJECT;
		r->inject_cause = CPU_CAUSE_GP;
		r->inject_tval = 0;
		return NULL;
	default:
		v->run->killed = true;
		return ue.reason == STACK_UEXIT_SYSTEM_EVENT ? "terminated" : "killed";
	}
}

/* Print the console text the VM's program wrote since the last print, as `console:` lines. */
static void console_flush(struct sim_call *c, struct stack_kvm_cpu *k)
{
	char *p;

	fflush(k->outf);
	for (p = k->out + k->outdone; p < k->out + k->outlen;) {
		char *nl = memchr(p, '\n', (size_t)(k->out + k->outlen - p));

		if (!nl) {
			sim_call_printf(c, "console: %.*s", (int)(k->out + k->outlen - p), p);
			break;
		}
		sim_call_printf(c, "console: %.*s", (int)(nl - p), p);
		p = nl + 1;
	}
	k->outdone = k->outlen;
}

/*
 * KVM_RUN of one vCPU.  The interpreter holds the line's agent; while the
 * guest runs the hold is let go, so that the guest's batches and each
 * exit's handling are steps of their own and vCPUs of the same VM on other
 * agents run at the same time, interleaved in global order.  The setup
 * and the end (the result) stay in the line's held step.
 */
static void vcpu_run(struct sim_call *c, struct stack_vm *v, unsigned idx)
{
	struct stack_kvm_cpu *k;
	struct stack_kvm_vcpu *vc;
	struct cpu_hart *h;
	struct sim_agent *a = sim_call_agent(c);
	uint64_t exits = 0, uexits = 0, insns0, last_gpa = UINT64_MAX, last_info = 0;
	uint64_t t_start = sim_now(a);
	unsigned same = 0;
	const char *why = NULL;
	struct cpu_exit e;
	bool first;

	vc = &v->run->vcpu[idx];
	first = !vc->ran;
	if (stack_pkvm_op_vcpu_run(c))   /* pKVM hook: KVM_RUN's checks on a pKVM VM */
		return;
	k = v->run->cpu;
	if (!vc->created) {
		stack_put_errno(c, ENOENT);
		return;
	}
	if (v->run->killed) {
		sim_call_result(c, "KILLED");
		return;
	}
	if (k && k->running[idx]) {
		stack_put_errno(c, EBUSY);   /* another thread is in KVM_RUN on this vCPU */
		return;
	}
	if (v->kvm->type == STACK_KVM_VM_SNP && vc->ap_request) {
		/* vcpu_enter_guest: KVM_REQ_UPDATE_PROTECTED_GUEST_STATE first */
		struct sim_who who = { .now = sim_now(a), .agent = sim_agent_id(a) };
		uint64_t cyc = 0;

		(void)stack_kvm_ap_update(v, idx, &who, false, &cyc);
		sim_advance(a, cyc + who.mem_cycles);
	}
	if (vc->power_off || !k || !entry_img(k)->loaded ||
	    (v->kvm->type == STACK_KVM_VM_SNP &&
	     (!v->snp || stack_snp_gstate(v->snp) != STACK_SNP_GSTATE_RUNNING || !vc->vmsa_spa))) {
		stack_put_errno(c, EINVAL);
		return;
	}
	if (platform(c, v, k))
		return;
	if (idx >= k->nharts) {
		stack_put_errno(c, EINVAL);   /* created after the platform was built */
		return;
	}
	h = cpu_vm_hart(k->cpu, idx);
	k->vmcb[idx].vmsa_spa = vc->vmsa_spa;   /* an AP's VMSA may have replaced KVM's */
	k->vmcb[idx].vmsa_gpa = vc->vmsa_gpa;
	cpu_hart_bind(h, a);
	stack_pkvm_vcpu_regs(v, idx, h);   /* pKVM hook: the primary's reset state, CPU_ON's entry */
	if (!k->outf)
		k->outf = open_memstream(&k->out, &k->outlen);
	if (watch_program(c, v, k, &k->fw) || watch_program(c, v, k, &k->prog))
		return;
	if (sim_arg_has(c, "boot") && first)
		cpu_hart_set_reg(h, 11, sim_arg_u64(c, "boot", 0));   /* a1: the boot parameters */
	vc->ran = true;
	sim_call_field_hex(c, "entry_pc", cpu_hart_pc(h));
	sim_call_field_hex(c, "entry_sp", cpu_hart_reg(h, 2));
	k->budget[idx].max = sim_arg_u64(c, "max_insns", STACK_EXEC_MAX_INSNS);
	k->budget[idx].used = 0;
	insns0 = cpu_hart_insns(h);
	k->running[idx] = true;
	k->nrunning++;
	sim_hold(a, false);
	while (!why && !k->exited && !v->run->killed) {   /* host.c: kill_guest stops a running VM */
		uint64_t t_in = sim_now(a);
		enum cpu_exit_reason r = cpu_vmrun(h, &k->vmcb[idx], &e);

		/* the exit's handling is one step, in global order */
		sim_sync(a);
		sim_hold(a, true);
		memset(&k->vmcb[idx].reply, 0, sizeof(k->vmcb[idx].reply));
		exits += r < CPU_EXIT_GUEST;
		why = handle(v, idx, h, &e, &k->vmcb[idx].reply, &uexits);
		stack_record_exit(v->st->s, a, &e, t_in);
		k->vmcb[idx].has_reply = true;
		/* the same #NPF again and again with nothing changing: the guest is stuck */
		if (r == CPU_EXIT_NPF && e.npf_gpa == last_gpa && e.npf_info == last_info) {
			if (++same == STACK_KVM_MAX_RETRIES && !why)
				why = "stuck";
		} else {
			same = 0;
		}
		last_gpa = r == CPU_EXIT_NPF ? e.npf_gpa : UINT64_MAX;
		last_info = e.npf_info;
		sim_hold(a, false);
	}
	sim_sync(a);
	sim_hold(a, true);
	k->running[idx] = false;
	k->nrunning--;
	console_flush(c, k);
	if (k->exited)
		why = "exited";
	sim_call_result(c, "%s", v->run->killed ? "KILLED" : "OK");
	sim_call_field(c, "exit", "%s", why);
	v->run->last.valid = true;
	snprintf(v->run->last.exit, sizeof(v->run->last.exit), "%s", why);
	v->run->last.code = k->exited ? k->code : 0;
	v->run->last.cycles = sim_now(a) - t_start;
	v->run->last.exits = exits;
	v->run->last.user_exits = uexits;
	v->run->last.insns = cpu_hart_insns(h) - insns0;
	if (k->exited)
		sim_call_field_u64(c, "code", (uint64_t)k->code);
	else if (!strcmp(why, "invalid") || !strcmp(why, "stuck"))
		sim_call_field(c, "fault", "%s", e.fault);
	if (!strcmp(why, "stuck"))
		sim_call_field_hex(c, "gpa", e.npf_gpa);
	sim_call_field_u64(c, "exits", exits);
	sim_call_field_u64(c, "user_exits", uexits);
	sim_call_field_u64(c, "insns", cpu_hart_insns(h) - insns0);
	stack_check_after(c);
}

void stack_op_vcpu_run(struct sim_call *c)
{
	struct stack_vm *v = stack_kvm_vm_of(c);

	/* the line is held (setup, the end); vcpu_run lets go while the guest runs */
	if (v)
		vcpu_run(c, v, (unsigned)sim_arg_u64(c, "vcpu", 0));
}

const struct sim_arg_spec stack_vm_load_args[] = {
	SIM_A_INT("vm", true, 0, S2_MAX_VMS - 1), SIM_A_STR("elf", true), SIM_A_END
};
const struct sim_arg_spec stack_vm_boot_args[] = {
	SIM_A_INT("vm", true, 0, S2_MAX_VMS - 1), SIM_A_ADDR_ALIGN("gpa", true, PAGE_4K),
	SIM_A_STR("cmdline", false), SIM_A_INT("disk", false, 1, 1u << 24),
	SIM_A_INT("queue", false, 1, 256), SIM_A_END
};
const struct sim_arg_spec stack_vcpu_run_args[] = {
	SIM_A_INT("vm", true, 0, S2_MAX_VMS - 1), SIM_A_INT("vcpu", true, 0, STACK_KVM_MAX_VCPUS - 1),
	SIM_A_U64("max_insns", false), SIM_A_ADDR("boot", false), SIM_A_END
};
