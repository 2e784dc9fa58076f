/*
 * heki_run.c - the scenario's CR-protection VM (section [heki], heki.elf
 * set; docs/cr-protection.md): the VMM's sequence of ioctls, written in
 * the operation language and run on cpu0 (its lines in OUT/heki.log):
 * VM heki.vm of type default with heki.mem_size of memory at 0x80000000,
 * the program loaded, the VMM's block device (64 sectors, with the
 * boot-parameters page at 0x80800000, which the programs ignore), for heki.cr_protection=vtl a VTL1 (`vtl enable`)
 * with the kexec allow-list entry heki.kexec_sha256, then vCPU 0 run until
 * the program exits.  The design decides the rest (heki.h): the guest
 * finds what the host offers.  The summary prints one line per run:
 * the design, the program's verdict (its exit code), cycles, exits and
 * what each design's machinery did.
 */
#include "sim/stack/stack_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int stack_run_heki(struct sim *s, const char *scenario, const char *out_dir, struct sim_err *err)
{
	static const char *const design[] = { "none", "kvm", "vmm", "vtl" };
	struct stack *st = stack_get(s);
	unsigned id = (unsigned)sim_cfg_u64(s, "heki.vm");
	const char *sha = sim_cfg_str(s, "heki.kexec_sha256");
	char *path, *log, *text, *extra;
	FILE *logf;
	int rc;

	if (!sim_cfg_str(s, "heki.elf")[0])
		return 0;
	path = sim_path_beside(scenario, sim_cfg_str(s, "heki.elf"));
	if (strpbrk(path, " \t\"#")) {
		free(path);
		return sim_cfg_error(s, "heki.elf", err, "a path without spaces, quotes or '#'");
	}
	if (sha[0] && (strlen(sha) != 64 || strspn(sha, "0123456789abcdefABCDEF") != 64)) {
		free(path);
		return sim_cfg_error(s, "heki.kexec_sha256", err, "64 hex digits (a SHA-256)");
	}
	if (st->snp_vm == id || (id < STACK_RUN_VMS && st->run[id].v)) {
		free(path);
		return sim_cfg_error(s, "heki.vm", err, "%u: another VM of the scenario has that number", id);
	}
	log = sim_xprintf("%s/heki.log", out_dir);
	logf = fopen(log, "w");
	if (!logf) {
		rc = sim_err_set(err, "%s: cannot write: %s", log, strerror(errno));
		free(log);
		free(path);
		return rc;
	}
	fprintf(logf, "# heki.cr_protection=%s\n", design[st->heki.design]);
	if (st->heki.design != STACK_CR_VTL)
		extra = sim_xprintf("%s", "");
	else if (sha[0])
		extra = sim_xprintf("vtl enable vm=%u\nvtl allow vm=%u sha256=%s\n", id, id, sha);
	else
		extra = sim_xprintf("vtl enable vm=%u\n", id);
	text = sim_xprintf("vm create vm=%u type=default\n"
			   "vm memslot vm=%u slot=0 gpa=0x80000000 size=0x%llx\n"
			   "vm load vm=%u elf=%s\n"
			   "vm boot vm=%u gpa=0x80800000 disk=64\n"
			   "%s"
			   "vcpu run vm=%u vcpu=0 max_insns=%llu\n",
			   id, id, (unsigned long long)sim_cfg_u64(s, "heki.mem_size"), id, path, id, extra,
			   id, (unsigned long long)sim_cfg_u64(s, "heki.max_insns"));
	free(extra);
	rc = sim_script_run_text(s, text, "heki", logf, stderr);
	free(text);
	fclose(logf);
	st->heki.run_vm = id;
	st->heki.ran = true;
	free(st->heki.run_elf);
	free(st->heki.run_log);
	st->heki.run_elf = path;
	st->heki.run_log = log;
	if (rc)
		return sim_err_set(err, "heki.elf: the VMM could not set up or run the VM (%s)", log);
	return 1;
}

void stack_run_heki_free(struct stack *st)
{
	free(st->heki.run_elf);
	free(st->heki.run_log);
	st->heki.run_elf = st->heki.run_log = NULL;
	st->heki.ran = false;
}

/*
 * The verdict of the program's exit code (heki_attack.c, heki_kexec.c):
 * attack: bit 0 WP cleared, bit 1 SMEP cleared, bit 2 text patched, bit 3
 * the VMM's device wrote kernel text;
 * kexec: 0 done, 1 a CR write refused, 2 VTL1 refused the image.
 */
static void verdict(FILE *out, const char *elf, int code)
{
	if (strstr(elf, "kexec")) {
		fprintf(out, "kexec %s", code == 0 ? "succeeded" : code == 1 ? "failed (#GP on the new kernel's CR values)"
					     : code == 2 ? "refused by VTL1 (image not allowed)" : "unknown");
		return;
	}
	if (!(code & 7))
		fprintf(out, "attack blocked (WP, SMEP, text)");
	else
		fprintf(out, "attack succeeded:%s%s%s", code & 1 ? " WP cleared" : "",
			code & 2 ? " SMEP cleared" : "", code & 4 ? " text patched" : "");
	if (code & 8)
		fprintf(out, "; the VMM's device wrote kernel text (confused deputy)");
}

void stack_heki_summary(struct sim *s, FILE *out)
{
	static const char *const design[] = { "none", "kvm", "vmm", "vtl" };
	struct stack *st = stack_get(s);
	struct stack_vm *v;
	const struct stack_kvm_last_run *l;
	struct stack_heki *h;
	struct stack_heki_stats z = { 0 }, *c;

	if (!st || !st->heki.ran || st->heki.run_vm >= S2_MAX_VMS || !(v = st->vm[st->heki.run_vm]) || !v->run ||
	    !v->run->last.valid)
		return;
	l = &v->run->last;
	h = stack_heki_of(v, false);
	c = h ? &h->ctr : &z;
	fprintf(out, "heki: %s cr_protection=%s %s: %s", v->prefix, design[st->heki.design], st->heki.run_elf,
		l->exit);
	if (!strcmp(l->exit, "exited")) {
		fprintf(out, " (code %d): ", l->code);
		verdict(out, st->heki.run_elf, l->code);
	}
	fprintf(out, "; %llu cycles, %llu instructions; log %s\n", (unsigned long long)l->cycles,
		(unsigned long long)l->insns, st->heki.run_log);
	fprintf(out, "heki: %s exits %llu (cr %llu, hypercall %llu, npf %llu), to the VMM %llu; "
		"CR writes refused %llu, allowed %llu; pins 0x%llx/0x%llx, VMM filter 0x%llx/0x%llx; "
		"VTL calls %llu (refusals %llu), memory denials %llu, kexec ok %llu refused %llu\n",
		v->prefix, (unsigned long long)l->exits,
		(unsigned long long)v->run->ctr.exits[CPU_EXIT_CR_WRITE],
		(unsigned long long)v->run->ctr.exits[CPU_EXIT_HYPERCALL],
		(unsigned long long)v->run->ctr.exits[CPU_EXIT_NPF], (unsigned long long)l->user_exits,
		(unsigned long long)c->cr_denied, (unsigned long long)c->cr_allowed,
		(unsigned long long)(h ? h->pinned_cr0 : 0), (unsigned long long)(h ? h->pinned_cr4 : 0),
		(unsigned long long)(h ? h->filter[0] : 0), (unsigned long long)(h ? h->filter[1] : 0),
		(unsigned long long)c->vtl_calls, (unsigned long long)c->vtl_denied,
		(unsigned long long)c->mem_denials, (unsigned long long)c->kexec_ok,
		(unsigned long long)c->kexec_refused);
}
