/*
 * pvalidate.c - the SNP guest instructions on a page of guest memory
 * (run with --set vm.type=snp): RMPQUERY, RMPADJUST granting VMPL1
 * access, PVALIDATE rescind (and CF on a repeat), the #VC(0x404) on an
 * access to the unvalidated page, PVALIDATE back, FAIL_SIZEMISMATCH on a
 * 2M request for a 4K entry, and a GHCB MSR protocol VMGEXIT.
 */
#include <stdio.h>

#include "protsim.h"

static uint8_t page[4096] __attribute__((aligned(4096)));
static volatile int vc_seen;

static void on_trap(struct protsim_frame *f)
{
	if (f->mcause == CAUSE_VC) {
		vc_seen = 1;
		printf("  #VC: vc_code=0x%lx tval=%s\n", csr_read(CSR_VC_CODE),
		       f->mtval == (unsigned long)page ? "page" : "?");
		f->x[10] = 0xdead;                        /* the load's result (a0) */
		f->mepc += protsim_insn_len(f->mepc);     /* skip the load */
		return;
	}
	printf("unexpected trap %lu at 0x%lx\n", f->mcause, f->mepc);
	protsim_exit(98);
}

/* A load from @p into a0 that the trap handler can skip. */
static unsigned long load(volatile uint8_t *p)
{
	register unsigned long a0 __asm__("a0") = (unsigned long)p;

	__asm__ volatile(".option push\n\t.option norvc\n\tld a0, 0(a0)\n\t.option pop"
			 : "+r"(a0) :: "memory");
	return a0;
}

int main(void)
{
	unsigned long perms, sev = csr_read(CSR_SEV_STATUS);
	int big = -1, cf = -1;
	long rc;

	protsim_on_trap(on_trap);
	printf("sev_status=0x%lx vmpl=%lu\n", sev, csr_read(CSR_VMPL));
	if (!(sev & 4)) {
		printf("not an SNP guest (run with --set vm.type=snp)\n");
		return 2;
	}
	page[0] = 0x5a;
	rc = protsim_rmpquery((uintptr_t)page, &big, &perms);
	printf("rmpquery: rc=%ld 2m=%d perms=0x%06lx\n", rc, big, perms);
	rc = protsim_rmpadjust((uintptr_t)page, 0, 1, RMP_PERM_R | RMP_PERM_W, 0);
	printf("rmpadjust vmpl1 rw: rc=%ld\n", rc);
	rc = protsim_rmpadjust((uintptr_t)page, 0, 0, RMP_PERM_R, 0);
	printf("rmpadjust vmpl0 (not lower): rc=%ld\n", rc);
	rc = protsim_rmpquery((uintptr_t)page, &big, &perms);
	printf("rmpquery: rc=%ld 2m=%d perms=0x%06lx\n", rc, big, perms);
	rc = protsim_pvalidate((uintptr_t)page, 0, 0, &cf);
	printf("pvalidate rescind: rc=%ld cf=%d\n", rc, cf);
	rc = protsim_pvalidate((uintptr_t)page, 0, 0, &cf);
	printf("pvalidate rescind again: rc=%ld cf=%d\n", rc, cf);
	printf("load from the unvalidated page:\n");
	printf("  value=0x%lx vc_seen=%d\n", load(page), vc_seen);
	rc = protsim_pvalidate((uintptr_t)page, 0, 1, &cf);
	printf("pvalidate validate: rc=%ld cf=%d\n", rc, cf);
	printf("load again: value=0x%lx\n", load(page) & 0xff);
	rc = protsim_pvalidate((uintptr_t)page & ~0x1ffffful, 1, 1, &cf);
	printf("pvalidate 2M on 4K entries: rc=%ld\n", rc);
	printf("vmgexit SEV_INFO: 0x%lx\n", protsim_vmgexit(0x002));
	printf("hypercall version: %ld\n", protsim_hypercall(1, 0, 0, 0, 0));
	return 0;
}
