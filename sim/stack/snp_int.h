/*
 * snp_int.h - the SNP host's machine-wide pieces: the ASID allocator with
 * mirrors (asid.c) and the SNP firmware (AMD-SP) model of a guest launch
 * (snp_fw.c).  Private to sim/stack (included by stack_int.h).
 * Reference: docs/stack.md, "ASIDs and mirrors" and "SNP firmware model
 * (launch)".
 */
#ifndef PROTSIM_SNP_INT_H
#define PROTSIM_SNP_INT_H

#include <stdbool.h>
#include <stdint.h>

#include "sim/sim.h"

struct stack;

/* ------------------------------------------------------------------ */
/* ASIDs and mirrors (asid.c)                                          */
/* ------------------------------------------------------------------ */

/*
 * The SNP ASIDs 1..snp.asids, as KVM's sev_asid_new()/sev_asid_free()
 * (arch/x86/kvm/svm/sev.c) hand them out, with the references of mirror
 * VMs (KVM_CAP_VM_COPY_ENC_CONTEXT_FROM, sev_vm_copy_enc_context_from()).
 * An ASID is held by the VM that took it (its owner) and by each mirror
 * of it; it is released only when the owner and every mirror have let it
 * go (a mirror holds a reference on its source VM in KVM, so the source's
 * ASID outlives the source until the last mirror is gone).  A released
 * ASID is free again at once (snp.asid_recycle=immediate) or, as KVM does,
 * waits in a reclaim set until no free ASID is left, when one DF_FLUSH
 * frees them all (snp.asid_recycle=flush).  Lowest free ASID first.
 */
struct stack_asids;

enum stack_asid_state {
	STACK_ASID_FREE,        /* can be handed out */
	STACK_ASID_USED,        /* held by its owner VM and/or mirrors */
	STACK_ASID_RECLAIM,     /* released, waits for a DF_FLUSH (recycle=flush) */
};
extern const char *const stack_asid_state_names[];   /* "free", "used", "reclaim" */

struct stack_asid_stats {
	uint64_t allocs;          /* ASIDs handed to a VM */
	uint64_t releases;        /* ASIDs released (owner and every mirror gone) */
	uint64_t busy;            /* requests refused with -EBUSY */
	uint64_t invalid;         /* requests refused with -EINVAL (asid= out of range) */
	uint64_t mirrors;         /* mirrors created */
	uint64_t mirror_refused;  /* mirror creations refused (-EINVAL) */
	uint64_t flushes;         /* DF_FLUSHes that recycled reclaimed ASIDs */
	uint64_t in_use;          /* ASIDs held now */
};

/*
 * An allocator of ASIDs 1..@max (1..1023: the RMP entry's 10-bit ASID
 * field); @snp_mirror allows a mirror of an SNP source; @recycle_flush
 * selects KVM's reclaim-on-exhaustion.
 */
struct stack_asids *stack_asids_new(uint32_t max, bool snp_mirror, bool recycle_flush);
void stack_asids_free(struct stack_asids *a);

/*
 * A new VM takes an ASID: the lowest free one (@want 0), or @want.
 * Return: 0 and *@asid; -EINVAL (@want beyond 1..max); -EBUSY (no ASID
 * free even after a flush, or @want held or waiting for a flush).
 */
int stack_asid_new(struct stack_asids *a, uint32_t want, uint32_t *asid);

/*
 * A mirror VM takes a reference on @src, the ASID of its source VM
 * (sev_vm_copy_enc_context_from()).  @src_is_mirror: the source is itself
 * a mirror.  Return: 0; -EINVAL when @src is not held by a live owner VM
 * (not an SEV guest), the source is a mirror, or the source is an SNP
 * guest (every ASID here is an SNP one) and snp.mirror is 0 (Linux:
 * "additional support is required for SNP").  The caller refuses first a
 * destination that already has an ASID (-EINVAL, as KVM).
 */
int stack_asid_mirror(struct stack_asids *a, uint32_t src, bool src_is_mirror);

/*
 * Drop the owner's (@mirror false) or one mirror's reference on @asid; the
 * last one releases it.  Dropping a reference not held is a programming
 * error (sim_fatal), as a double free.
 */
void stack_asid_put(struct stack_asids *a, uint32_t asid, bool mirror);

/* State of @asid (1..max; else FREE), its owner flag and mirror count. */
enum stack_asid_state stack_asid_state(const struct stack_asids *a, uint32_t asid, bool *owner,
				       unsigned *mirrors);
uint32_t stack_asids_max(const struct stack_asids *a);
const struct stack_asid_stats *stack_asid_stats(const struct stack_asids *a);
/* Register stack.asid.*; the owner removes the group before freeing. */
struct sim_stat_group *stack_asids_register_stats(struct stack_asids *a, struct sim *s);

/* ------------------------------------------------------------------ */
/* The SNP firmware: guest launch (snp_fw.c)                            */
/* ------------------------------------------------------------------ */

/*
 * Firmware status codes (SEV-SNP Firmware ABI, "Status Codes"; the same
 * numbers as Linux's include/uapi/linux/psp-sev.h SEV_RET_*).  KVM turns
 * every non-zero status of a command it issues into -EIO (the PSP
 * driver's __sev_do_cmd_locked()) and reports the status itself in the
 * ioctl's error field: stack_snp_errno().
 */
enum stack_snp_status {
	STACK_SNP_SUCCESS             = 0x00,
	STACK_SNP_INVALID_GUEST_STATE = 0x02,
	STACK_SNP_POLICY_FAILURE      = 0x07,
	STACK_SNP_INVALID_ADDRESS     = 0x09,
	STACK_SNP_ASID_OWNED          = 0x0c,
	STACK_SNP_INVALID_ASID        = 0x0d,
	STACK_SNP_INVALID_PARAM       = 0x16,
	STACK_SNP_RESOURCE_LIMIT      = 0x17,
	STACK_SNP_INVALID_PAGE_SIZE   = 0x19,
	STACK_SNP_INVALID_PAGE_STATE  = 0x1a,
	STACK_SNP_INVALID_PAGE_OWNER  = 0x1c,
};
/* "SUCCESS", "INVALID_GUEST_STATE", ... ("?" for another value). */
const char *stack_snp_status_name(enum stack_snp_status st);
/* What KVM returns for @st: 0 for SUCCESS, else -EIO. */
int stack_snp_errno(enum stack_snp_status st);

/* Guest states (ABI "Guest States" of SNP guests). */
enum stack_snp_gstate {
	STACK_SNP_GSTATE_INIT,      /* after SNP_GCTX_CREATE */
	STACK_SNP_GSTATE_LAUNCH,    /* after SNP_LAUNCH_START */
	STACK_SNP_GSTATE_RUNNING,   /* after SNP_LAUNCH_FINISH */
};
extern const char *const stack_snp_gstate_names[];   /* "init", "launch", "running" */

/* LAUNCH_UPDATE page types (ABI PAGE_TYPE encodings). */
enum stack_snp_page_type {
	STACK_SNP_PAGE_NORMAL     = 1,
	STACK_SNP_PAGE_VMSA       = 2,
	STACK_SNP_PAGE_ZERO       = 3,
	STACK_SNP_PAGE_UNMEASURED = 4,
	STACK_SNP_PAGE_SECRETS    = 5,
	STACK_SNP_PAGE_CPUID      = 6,
};
/* "normal", "vmsa", "zero", "unmeasured", "secrets", "cpuid" ("?" otherwise). */
const char *stack_snp_page_type_name(enum stack_snp_page_type t);

#define STACK_SNP_DIGEST_SIZE 48                  /* SHA-384 */
#define STACK_SNP_PAGE_INFO_SIZE 0x70             /* ABI PAGE_INFO */
#define STACK_SNP_VMSA_GPA 0xfffffffff000ull      /* KVM's INITIAL_VMSA_GPA for launch VMSAs */
#define STACK_SNP_POLICY_MBO (1ull << 17)         /* policy bit 17: reserved, must be one */
#define STACK_SNP_POLICY_DEFAULT 0x30000ull       /* SMT allowed | MBO (QEMU's default) */
#define STACK_SNP_CPUID_MAX 64u                   /* CPUID page: at most 64 functions */

/* The machine's firmware: the guest contexts, which ASID each is bound to. */
struct stack_snp_fw;
struct stack_snp_fw_stats {
	uint64_t commands;        /* firmware commands issued */
	uint64_t failed;          /* of those, returned a status other than SUCCESS */
	uint64_t pages;           /* pages LAUNCH_UPDATE took into a guest */
	uint64_t guests;          /* guest contexts now */
};
struct stack_snp_fw *stack_snp_fw_new(struct stack *st, uint64_t lat_cmd, uint64_t lat_page);
/* Frees every guest context left (decommissioned, context pages reclaimed). */
void stack_snp_fw_free(struct stack_snp_fw *fw);
const struct stack_snp_fw_stats *stack_snp_fw_stats(const struct stack_snp_fw *fw);
struct sim_stat_group *stack_snp_fw_register_stats(struct stack_snp_fw *fw, struct sim *s);

/* One guest's firmware context (its guest context page is a firmware page). */
struct stack_snp_guest;

/*
 * The commands.  Each adds its latency to *@cycles (NULL: not counted):
 * lat.stack.fw_cmd per command, lat.stack.fw_page per page LAUNCH_UPDATE
 * takes.  A refused command changes nothing.
 */
/* SNP_GCTX_CREATE: a context page from the host page allocator becomes a firmware page. */
enum stack_snp_status stack_snp_gctx_create(struct stack_snp_fw *fw, struct stack_snp_guest **out,
					    uint64_t *cycles);
/* SNP_LAUNCH_START with @policy: INIT -> LAUNCH, the launch digest zeroed. */
enum stack_snp_status stack_snp_launch_start(struct stack_snp_guest *g, uint64_t policy,
					     uint64_t *cycles);
/* SNP_ACTIVATE: bind @asid (1..1023, not bound to another guest) in LAUNCH or RUNNING. */
enum stack_snp_status stack_snp_activate(struct stack_snp_guest *g, uint32_t asid,
					 uint64_t *cycles);

/* One LAUNCH_UPDATE request: @npages 4K pages from (@spa, @gpa) upward. */
struct stack_snp_update {
	uint64_t spa;             /* system address of the first page */
	uint64_t gpa;             /* its GPA (STACK_SNP_VMSA_GPA for a launch VMSA) */
	uint64_t npages;
	enum stack_snp_page_type type;
	bool imi;                 /* IMI_PAGE (measured as given) */
	uint8_t vmpl_perms[4];    /* [1..3]: VMPL1..3 permissions given to the pages; [0] unused */
};
/*
 * SNP_LAUNCH_UPDATE, one command per page as KVM issues them
 * (sev_gmem_post_populate()), stopping at the first refused page.  Each
 * page must be Pre-Guest (assigned to the guest's ASID at its GPA, 4K,
 * immutable, not validated, not a VMSA); it leaves the command validated
 * and mutable (a VMSA page also VMSA), its contents as the type says, and
 * the launch digest extended with its PAGE_INFO.  *@done: pages taken.
 */
enum stack_snp_status stack_snp_launch_update(struct stack_snp_guest *g,
					      const struct stack_snp_update *u, uint64_t *done,
					      uint64_t *cycles);
/*
 * KVM's population of one page (sev_gmem_post_populate(), one 4K page per
 * call): the page must be shared (-EEXIST if assigned, -EINVAL if not
 * RMP-covered); RMPUPDATE makes it Pre-Guest for the guest's ASID at @gpa
 * (timed on @who: memory cycles in who->mem_cycles, the instruction's
 * latency in *@cycles; refused: -EFAULT, as rmpupdate()); then
 * LAUNCH_UPDATE.  A refused LAUNCH_UPDATE returns -EIO with the status in
 * *@fw_error, and the page is reclaimed (SNP_PAGE_RECLAIM, then RMPUPDATE
 * to hypervisor-owned: snp_page_reclaim()).  @type, @imi, @vmpl_perms as
 * in struct stack_snp_update.  Return: 0 or the negative errno.
 */
int stack_snp_kvm_populate(struct stack_snp_guest *g, struct sim_who *who, uint64_t spa,
			   uint64_t gpa, const struct stack_snp_update *how,
			   enum stack_snp_status *fw_error, uint64_t *cycles);
/*
 * SNP_PAGE_RECLAIM of @spa: a page with Immutable set (a firmware or
 * Pre-Guest page) becomes a Reclaim page (assigned, ASID 0, mutable),
 * which the hypervisor can RMPUPDATE back to itself.  INVALID_ADDRESS (not
 * 4K aligned or not covered), INVALID_PAGE_SIZE (2M), INVALID_PAGE_STATE
 * (not assigned or mutable).
 */
enum stack_snp_status stack_snp_page_reclaim(struct stack_snp_fw *fw, uint64_t spa,
					     uint64_t *cycles);
/* SNP_LAUNCH_FINISH: LAUNCH -> RUNNING; the digest is the measurement. */
enum stack_snp_status stack_snp_launch_finish(struct stack_snp_guest *g, uint64_t *cycles);
/*
 * SNP_DECOMMISSION, then the context page reclaimed (SNP_PAGE_RECLAIM and
 * RMPUPDATE to hypervisor, as KVM's snp_free_firmware_page()) and given
 * back to the host page allocator; @g is freed.
 */
void stack_snp_decommission(struct stack_snp_guest *g);

enum stack_snp_gstate stack_snp_gstate(const struct stack_snp_guest *g);
uint32_t stack_snp_asid(const struct stack_snp_guest *g);          /* 0: not activated */
uint64_t stack_snp_policy(const struct stack_snp_guest *g);
uint64_t stack_snp_gctx_page(const struct stack_snp_guest *g);     /* the context page's SPA */
/* The launch digest (48 bytes): the measurement once RUNNING. */
const uint8_t *stack_snp_digest(const struct stack_snp_guest *g);

/* The PAGE_INFO the digest hashes (exported for tests): @out, 0x70 bytes. */
void stack_snp_page_info(const uint8_t digest[STACK_SNP_DIGEST_SIZE],
			 const uint8_t contents[STACK_SNP_DIGEST_SIZE], enum stack_snp_page_type type,
			 bool imi, const uint8_t vmpl_perms[4], uint64_t gpa,
			 uint8_t out[STACK_SNP_PAGE_INFO_SIZE]);

#endif /* PROTSIM_SNP_INT_H */
