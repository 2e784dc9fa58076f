/*
 * host.h - the host's own software touching guest memory (host.c,
 * ops_host.c): the writers (`host write|read ... by=kernel|vmm|daemon`),
 * the host RMP-fault strategies chosen by host.rmp_fault (const ops
 * tables), the processes a strategy may kill, and kexec/kdump with pages
 * still assigned (`host kexec`, host.kexec_convert).  Private to
 * sim/stack.  Reference: docs/strategies.md; semantics
 * ../shared/reference/protection-semantics.md §5 (F0-F4), §3 (VMSA),
 * §10.1 (IOMMU pages at kexec).
 */
#ifndef PROTSIM_STACK_HOST_H
#define PROTSIM_STACK_HOST_H

#include <stdbool.h>
#include <stdint.h>

#include "sim/stack/stack_int.h"

/* Who writes: the contract's by= values. */
enum host_writer {
	HOST_BY_KERNEL,      /* the kernel's direct map (4K: Linux splits it, adjust_direct_map) */
	HOST_BY_VMM,         /* the VM's VMM process (its device emulation, an I/O thread) */
	HOST_BY_DAEMON,      /* one host daemon serving every VM (a vswitch-like process) */
	HOST_BY_COUNT
};
extern const char *const host_writer_names[];   /* "kernel", "vmm", "daemon" */

/* What a strategy decides for one faulting page. */
enum host_verdict {
	HOST_V_RETRY,        /* the page was made writable: re-execute the store */
	HOST_V_OOPS,         /* kernel: unhandled RMP #PF, the task dies (or the host panics) */
	HOST_V_SIGBUS,       /* user: SIGBUS, the writing process dies */
};

/* Counters of one writer (host.kernel.*, host.vmm.*, host.daemon.*). */
struct host_wstats {
	uint64_t writes, reads, bytes;   /* requests served, bytes moved */
	uint64_t faults;                 /* RMP #PFs the writer took */
	uint64_t oops, sigbus;           /* outcomes that killed a task / process */
	uint64_t converted;              /* 4K pages a strategy made shared */
	uint64_t rmpupdates, psmash;     /* RMP instructions the strategies issued */
	uint64_t kicks, retries;         /* vCPU kicks, FAIL_INUSE retries */
	uint64_t splits;                 /* host huge mappings split (sigbus) */
	uint64_t guests_killed;          /* VMs a strategy killed */
	uint64_t failed;                 /* requests refused: the serving process is dead */
	uint64_t cycles;                 /* cycles spent handling RMP faults */
};

/* Counters of one VM (vmN.host.*). */
struct host_vmstats {
	uint64_t faults;                 /* host RMP #PFs on its pages */
	uint64_t converted;              /* of its pages, made shared by a strategy */
	uint64_t kicks, retries;
	uint64_t killed;                 /* 1: a strategy killed it */
	uint64_t vmm_dead;               /* 1: its VMM process died */
	uint64_t denied;                 /* its requests refused (VMM or daemon dead) */
	uint64_t cycles;                 /* host cycles spent on faults on its pages */
};

struct host_vm {
	struct host_vm *next;
	unsigned id;
	char prefix[24];                 /* the VM's stats prefix when first seen */
	bool vmm_dead;
	bool gone;                       /* dropped by a kexec (the old kernel's VM) */
	struct host_vmstats ctr;
	struct sim_stat_group *stats;
};

/* kexec (host.kexec_convert). */
enum host_kexec_mode { HOST_KEXEC_LAZY, HOST_KEXEC_EAGER, HOST_KEXEC_NONE };
struct host_kstats {
	uint64_t kexecs, kdumps;
	uint64_t vms_dropped;            /* VMs of the old kernel gone without teardown */
	uint64_t scanned;                /* eager: RMP entries read at boot */
	uint64_t scan_cycles;            /* eager: cycles of the boot scan */
	uint64_t converted;              /* pages the new kernel made shared */
	uint64_t psmash;
	uint64_t iommu_pages;            /* firmware-owned IOMMU pages reclaimed (amd_iommu_snp_disable) */
	uint64_t immutable;              /* pages it could not convert (immutable), reported */
	uint64_t faults;                 /* RMP #PFs the new kernel took */
	uint64_t dump_bytes;             /* kdump: bytes read */
	uint64_t dump_cycles;
	uint64_t last_dropped, last_converted, last_immutable;   /* of the last kexec (its result) */
};

struct host_fault_ops;

/* The host software model (the host module's). */
struct host {
	struct stack *st;
	const struct host_fault_ops *ops;   /* host.rmp_fault */
	bool panic_on_oops;
	bool fallback_kill;                 /* host.convert_fallback=kill_guest */
	unsigned retries;                   /* host.convert_retries */
	enum host_kexec_mode kexec_mode;
	bool panicked;                      /* an oops with panic_on_oops: the host is down */
	bool daemon_dead;
	unsigned kexec_gen;                 /* kernels booted since the machine started */
	struct host_wstats w[HOST_BY_COUNT];
	struct sim_stat_group *wstats[HOST_BY_COUNT];
	struct host_kstats k;
	struct sim_stat_group *kstats;
	uint64_t oopses, panics;
	bool snp_migrate;                   /* snp.migrate: `vm migrate` of an SNP source allowed */
	uint64_t violations;                /* host stores that landed on an assigned page (must stay 0) */
	struct host_vm *vms;
	uint64_t *splits;                   /* (process << 52 | 2M SPA) split to 4K */
	size_t nsplits, capsplits;
};

/*
 * One write (or read) of a page in progress: the writer, its agent, the
 * page and the VM it belongs to.
 */
struct host_ctx {
	struct host *h;
	struct sim_agent *a;
	enum host_writer by;
	unsigned proc;                   /* its process: VM id for a VMM, S2_MAX_VMS the daemon */
	uint64_t spa;                    /* the page */
	uint64_t map_size;               /* the writer's mapping of it (4K, 2M) */
	struct rmp_fault f;              /* the fault */
	struct stack_vm *owner;          /* the VM the page is assigned to, or NULL */
	bool converted, killed;          /* what happened (the result's fields) */
};

/* One strategy (host.rmp_fault): what the host does with an RMP #PF. */
struct host_fault_ops {
	const char *name;
	enum host_verdict (*kernel)(struct host_ctx *x);   /* kernel-mode fault */
	enum host_verdict (*user)(struct host_ctx *x);     /* user-mode fault (VMM, daemon) */
};
extern const struct host_fault_ops *const host_fault_ops_table[];   /* by host.rmp_fault index */

struct host *host_get(const struct sim *s);
/*
 * A store by @v's VMM (its device emulation, on agent @a: the I/O thread,
 * or the vCPU thread) of @len bytes at @gpa through its own mapping of
 * guest memory: each page RMP-checked as a user write, a fault answered
 * by the host.rmp_fault strategy.  Return 0 stored; 1 the machine has no
 * host model (the caller stores as it likes); -EFAULT or -ENOMEM no
 * mapping, or the store could not be done; -EPIPE the VMM is dead (it
 * died of this store's SIGBUS, or before) or the host panicked.
 */
int stack_host_vmm_store(struct stack_vm *v, struct sim_agent *a, uint64_t gpa, const void *buf,
			 size_t len);
struct host_vm *host_vm(struct host *h, struct stack_vm *v);
/* @v was dropped by a kexec (NULL @h: no host module). */
bool host_vm_gone(const struct host *h, const struct stack_vm *v);
/* The VM @spa's RMP entry names (asid, not a mirror), or NULL. */
struct stack_vm *host_owner(struct host *h, uint64_t spa);
/* Fault handling: run the strategy on x (x->f filled); counts, charges. */
enum host_verdict host_fault(struct host_ctx *x);
/* Kill VM @v (kill_guest): stop its vCPUs, reclaim its pages to shared. */
void host_kill_guest(struct host_ctx *x, struct stack_vm *v);
/* Is the 2M region @spa2m split in process @proc's mapping? */
bool host_split(const struct host *h, unsigned proc, uint64_t spa2m);
/* `vm migrate` (migrate.c) */
void stack_op_vm_migrate(struct sim_call *c);
/* kexec/kdump (host_kexec.c) */
void host_kexec(struct host *h, struct sim_agent *a, bool kdump);
/* lazy kexec: a page the new kernel wrote faulted: convert it (true) or report it (false). */
bool host_kexec_fault(struct host_ctx *x);

#endif /* PROTSIM_STACK_HOST_H */
