/*
 * heki_kexec.c - a guest kernel that protects itself at the end of boot
 * (heki_guest.h), then kexecs into a new kernel image that boots with
 * different control-register values (CR0 without WP until its own setup,
 * CR4 without SMAP: a kernel built without SMAP support).  Under VTL1 the
 * jump goes through VTL1, which checks the image's SHA-256 against its
 * allow-list and tears itself down first.  Exit code: 0 the new kernel
 * runs with its values, 1 a CR write refused (#GP), 2 VTL1 refused the
 * image.  workloads/scenarios/heki-kexec.ini runs it under each design.
 */
#include "heki_guest.h"

#define IMAGE_SIZE 8192
static uint8_t image[IMAGE_SIZE] __attribute__((aligned(4096)));

int main(void)
{
	unsigned long cr0, cr4;
	enum design d;
	int ok0, ok4;

	printf("kernel: booted, cr0=0x%lx cr4=0x%lx\n", csr_read(CSR_CR0), csr_read(CSR_CR4));
	d = kernel_protect();
	/* kexec_load: the new image staged in memory (a fixed pattern: its hash is known) */
	for (unsigned i = 0; i < IMAGE_SIZE; i++)
		image[i] = (uint8_t)(i * 31 + 7);
	if (d == D_VTL) {
		long r = protsim_hypercall(HC_VTL_KEXEC, (uintptr_t)image, IMAGE_SIZE, 0, 0);

		printf("kexec: VTL1 checks the image: %ld\n", r);
		if (r) {
			printf("result (%s): kexec refused\n", design_names[d]);
			return 2;
		}
	}
	/* the new kernel's early boot: its own CR values */
	cr0 = csr_read(CSR_CR0);
	cr4 = csr_read(CSR_CR4);
	ok0 = cr_write(0, cr0 & ~CR0_WP);
	printf("new kernel: CR0 = 0x%lx: %s\n", cr0 & ~CR0_WP, ok0 ? "done" : "#GP");
	ok4 = cr_write(4, cr4 & ~CR4_SMAP);
	printf("new kernel: CR4 = 0x%lx: %s\n", cr4 & ~CR4_SMAP, ok4 ? "done" : "#GP");
	if (ok0)
		ok0 = cr_write(0, cr0);   /* and WP back on once its page tables are set */
	printf("result (%s): kexec %s\n", design_names[d], ok0 && ok4 ? "succeeded" : "failed");
	return ok0 && ok4 ? 0 : 1;
}
