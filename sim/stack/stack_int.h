/*
 * stack_int.h - what the files of sim/stack share.  Private to sim/stack.
 */
#ifndef PROTSIM_STACK_INT_H
#define PROTSIM_STACK_INT_H

#include "sim/stack/stack.h"
#include "rmp/rmp.h"
#include "stage2/s2.h"

/*
 * One VM of the machine: its nested (stage-2) table, whose pages come from
 * the host page allocator, optionally a guest stage-1 table in guest
 * memory, its ASID (non-zero: an SNP guest) and the RMP check its
 * translations make.  The VM number is also its TLB tag.
 */
struct stack_vm {
	struct stack *st;                /* the machine's host software */
	unsigned id;                     /* VM number (vm=), 0..S2_MAX_VMS-1 */
	uint32_t asid;                   /* != 0: SNP guest */
	struct s2_pgt *s2;               /* nested table */
	struct s2_pgt *s1;               /* guest stage-1 table, or NULL */
	uint64_t s1_next;                /* next GPA handed out for a stage-1 table page */
	struct s2_space space;           /* what an MMU translates with */
	struct s2_check_hook hook;       /* -> the RMP check of the VM's accesses */
	struct rmp_fault last;           /* the last refused RMP check */
	struct stack_vm_stats {          /* vmN.* (registered at creation) */
		uint64_t table_ops;      /* table operations that changed or could change a table */
		uint64_t refused;        /* of those, refused by the RMP (host write to an assigned page) */
		uint64_t accesses;       /* s2 access / access translations */
		uint64_t faults;         /* of those, faulted (stage 1, stage 2 or RMP) */
		uint64_t rmp_faults;     /* of those, refused by the RMP check */
	} ctr;
	struct sim_stat_group *stats;
};

/* Count a finished table operation (@refused: the RMP refused it) / a translation of @v. */
void stack_vm_count_op(struct stack_vm *v, bool refused);
void stack_vm_count_access(struct stack_vm *v, int rc, const struct s2_fault *f);

/* The host software of one machine: the stack module's model. */
struct stack {
	struct sim *s;
	struct sim_mem *mem;
	struct rmp *rmp;                 /* may be NULL or off */
	struct s2_ctx *s2;               /* the machine's MMUs */
	struct stack_palloc *pool;       /* nested-table pages (s2.pool_base, s2.pool_size) */
	struct stack_vm *vm[S2_MAX_VMS];
	/*
	 * The operation under way: its agent, and the cycles of the RMP checks
	 * of the host's stores into the table pages it took (charged with the
	 * operation's table work).
	 */
	int op_agent;
	uint64_t op_check_cycles;
};

/* vm.c */
struct stack *stack_get(const struct sim *s);
/*
 * Create VM @id, its nested root zeroed by @who (memory cycles added to
 * who->mem_cycles): S2_OK, S2_ERR_EXISTS, S2_ERR_INVAL, S2_ERR_NOMEM
 * (pool used up).
 */
int stack_vm_create(struct stack *st, struct sim_who *who, unsigned id,
		    const struct s2_fmt_ops *fmt, unsigned levels, uint32_t asid);
struct stack_vm *stack_vm_find(struct stack *st, unsigned id);
/*
 * Give VM @v a guest stage-1 table of @fmt rooted at guest-physical
 * @root, zeroed by @who (memory cycles added to who->mem_cycles); further
 * table pages are taken from root + 4K upward (guest memory the caller
 * keeps free).  S2_OK, S2_ERR_EXISTS, S2_ERR_INVAL, S2_ERR_ALIGN,
 * S2_ERR_RANGE, or the table's own error (root unmapped).
 */
int stack_vm_s1_create(struct stack_vm *v, struct sim_who *who, const struct s2_fmt_ops *fmt,
		       uint64_t root);
/* System address of guest-physical @gpa through @v's stage 2 (untimed); false if unmapped. */
bool stack_vm_gpa_spa(struct stack_vm *v, uint64_t gpa, uint64_t *spa);
/* A fault of @v as printed: the RMP token of the last refused check, or the stage-2 fault. */
const char *stack_vm_fault_str(const struct stack_vm *v, const struct s2_fault *f, char *buf,
			       size_t len);

/*
 * Host stores into table pages (the host writing memory: RMP-checked as
 * host data writes).  host_wr is a refusal: the fault and the cycles the
 * checks took.
 */
struct host_wr {
	struct rmp_fault f;
	uint64_t cycles;
};
/*
 * Check the pages that operation @op on table @p of VM @v would write
 * (its stage 2, or its stage 1 when @s1: then also the guest pages its new
 * tables would take).  Return: true to go ahead (checks' cycles in @hw),
 * false with @hw->f filled: refused, nothing may be written.
 */
bool stack_table_writes_ok(struct stack_vm *v, struct s2_pgt *p, bool s1, int agent,
			   enum s2_wset_op op, uint64_t ia, uint64_t pa, uint64_t size,
			   uint64_t leaf, const struct s2_prot *prot, struct host_wr *hw);
/* Check the one page a new table root at system address @pa would be (zeroed). */
bool stack_root_write_ok(struct stack *st, int agent, uint64_t pa, struct host_wr *hw);

/* Start a table operation of agent @agent; the cycles of its page checks so far (and reset). */
void stack_op_begin(struct stack *st, int agent);
uint64_t stack_op_check_cycles(struct stack *st);

/* vm_ops.c */
extern const struct sim_op stack_vm_ops[];

#endif /* PROTSIM_STACK_INT_H */
