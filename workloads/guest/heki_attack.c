/*
 * heki_attack.c - a guest kernel that protects itself at the end of boot
 * (heki_guest.h: Heki pins, or VTL0 under VTL1, or nothing), then an
 * attacker with arbitrary kernel code execution: clear CR0.WP, clear
 * CR4.SMEP, patch kernel text, and (the confused deputy) have the VMM's
 * block device read a disk sector into kernel text.  Exit code: bit 0
 * WP cleared, bit 1 SMEP cleared, bit 2 text patched, bit 3 the device
 * wrote kernel text (bits 0-2 clear: the attack was blocked).
 * workloads/scenarios/heki-attack.ini runs it under each design.
 */
#include "heki_guest.h"

/* the kernel function the attacker rewrites */
__attribute__((noinline, aligned(16))) int kernel_check_permission(int uid)
{
	return uid == 0;
}

/* a 512-byte block of kernel text (the deputy's target) */
__asm__(".section .text\n.balign 512\n.globl deputy_target\ndeputy_target:\n.fill 512,1,0xa5\n.previous");
extern volatile uint8_t deputy_target[];

/* one split virtqueue of 4 descriptors (docs/guest-abi.md "The virtio-like block device") */
static struct { uint64_t addr; uint32_t len; uint16_t flags, next; } vq_desc[4] __attribute__((aligned(16)));
static volatile struct { uint16_t flags, idx, ring[4]; } vq_avail __attribute__((aligned(4)));
static volatile struct { uint16_t flags, idx; struct { uint32_t id, len; } ring[4]; } vq_used __attribute__((aligned(4)));
static struct { uint32_t type, reserved; uint64_t sector; } vq_hdr;
static volatile uint8_t vq_status;

/* Read sector 0 of the VMM's disk into @buf (512 bytes): the device's status, or -1 (no device). */
static int blk_read(uintptr_t buf)
{
	if (protsim_hypercall(0x100, (uintptr_t)vq_desc, (uintptr_t)&vq_avail, (uintptr_t)&vq_used, 4))
		return -1;
	vq_hdr.type = 0;
	vq_hdr.sector = 0;
	vq_status = 0xff;
	vq_desc[0].addr = (uintptr_t)&vq_hdr;
	vq_desc[0].len = 16;
	vq_desc[0].flags = 1;
	vq_desc[0].next = 1;
	vq_desc[1].addr = buf;
	vq_desc[1].len = 512;
	vq_desc[1].flags = 1 | 2;
	vq_desc[1].next = 2;
	vq_desc[2].addr = (uintptr_t)&vq_status;
	vq_desc[2].len = 1;
	vq_desc[2].flags = 2;
	vq_avail.ring[vq_avail.idx % 4] = 0;
	vq_avail.idx++;
	protsim_hypercall(0x101, 0, 0, 0, 0);
	return vq_used.idx == vq_avail.idx ? vq_status : -1;
}

int main(void)
{
	volatile uint32_t *text = (volatile uint32_t *)(uintptr_t)kernel_check_permission;
	unsigned long cr0, cr4;
	uint32_t before;
	enum design d;
	int wp, smep, patched, deputy, st;

	printf("kernel: booted, cr0=0x%lx cr4=0x%lx\n", csr_read(CSR_CR0), csr_read(CSR_CR4));
	d = kernel_protect();
	cr0 = csr_read(CSR_CR0);
	cr4 = csr_read(CSR_CR4);
	wp = cr_write(0, cr0 & ~CR0_WP);
	printf("attacker: clear CR0.WP: %s\n", wp ? "done" : last_cause == CAUSE_GP ? "#GP" : "no effect");
	smep = cr_write(4, cr4 & ~CR4_SMEP);
	printf("attacker: clear CR4.SMEP: %s\n", smep ? "done" : last_cause == CAUSE_GP ? "#GP" : "no effect");
	before = *text;
	last_cause = 0;
	*text = 0x00100513;   /* li a0, 1: every uid passes */
	patched = *text != before;
	printf("attacker: patch kernel text at 0x%lx: %s\n", (unsigned long)(uintptr_t)text,
	       patched ? "done" : last_cause == CAUSE_GP ? "#GP" : "no effect");
	/* the confused deputy: the VMM's device writes where the kernel cannot */
	st = blk_read((uintptr_t)deputy_target);
	deputy = deputy_target[0] != 0xa5;
	printf("attacker: the VMM's block device reads a sector into kernel text at 0x%lx: status %d, %s\n",
	       (unsigned long)(uintptr_t)deputy_target, st, deputy ? "text overwritten" : "text intact");
	printf("result (%s): attack %s%s\n", design_names[d],
	       !wp && !smep && !patched ? "blocked" : "succeeded",
	       deputy ? "; the VMM's device still wrote kernel text (confused deputy)" : "");
	return wp | smep << 1 | patched << 2 | deputy << 3;
}
