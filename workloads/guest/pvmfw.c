/*
 * pvmfw.c - a pvmfw-like protected-VM firmware (docs/pkvm.md, "The
 * protected-VM ABI").  On a pKVM host `vm cap cap=protected_vm` copies
 * this image into the VM's firmware memslot and the primary vCPU starts
 * at the slot's base with the stack at its end (KVM_CAP_ARM_PROTECTED_VM,
 * RFC June 2021).  It is linked at 0x7fe00000, where crosvm puts the
 * protected-VM firmware (2 MiB below the start of RAM at 0x80000000).  It
 * starts, reports what the hypervisor offers
 * (ARM_SMCCC_VENDOR_HYP_KVM_HYP_MEMINFO: the granule and HAS_RANGE), and
 * jumps to the guest payload whose entry the VMM passed in the boot
 * argument register (a1: the RV64 counterpart of the preserved X0-X14),
 * e.g. pvm_payload.c loaded at 0x80000000; with none it reports so and
 * exits.  The payload starts over on its own stack and never returns.
 * Built by `make guest` on the SNP start-up (crt_snp.o keeps a1).
 */
#include <stdint.h>
#include <stdio.h>

#include "protsim.h"

#define SMCCC_HYP_MEMINFO 0xC6000002ul

int main(void)
{
	long granule = protsim_hypercall(SMCCC_HYP_MEMINFO, 0, 0, 0, 0);

	printf("pvmfw: protected VM firmware, boot protocol 0\n");
	if (granule > 0)
		printf("pvmfw: hypervisor memory services, granule %ld\n", granule);
	else
		printf("pvmfw: no pKVM memory services (HYP_MEMINFO: %ld)\n", granule);
	if (!protsim_boot_arg) {
		printf("pvmfw: no payload\n");
		return 0;
	}
	printf("pvmfw: jumping to the payload at 0x%lx\n", (unsigned long)protsim_boot_arg);
	((void (*)(void))(uintptr_t)protsim_boot_arg)();
	return 0;
}
