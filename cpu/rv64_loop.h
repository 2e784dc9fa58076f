/*
 * rv64_loop.h - the interpreter's run loop.  Included twice by rv64_run.c:
 * with RV_DETAILED 0 (fast mode: fixed CPI, no caches) and 1 (detailed
 * mode: cache model and stall cycles), as RV_RUN_FN.
 *
 * Each iteration: find the decoded slot of pc (the decode page of the
 * current fetch page is kept in locals), dispatch on the op with one
 * switch generated from rv64_insns.def, advance pc.  Loads and stores
 * use the L0 TLB inline and leave the loop only on a miss.  Anything
 * that traps jumps to `trapped`; a VM exit leaves the loop.
 *
 * Macros for instruction bodies (cpu/insns/<mnemonic>.h):
 *   RS1 RS2 SRS1 SRS2 IMM PC NPC PRIV   operands and state
 *   WRITE_RD(v)   JUMP(t)   BRANCH(t)   results
 *   LOAD(T, addr, dst)   STORE(T, addr, v)   LR/SC/AMO   memory
 *   TRAP(cause, tval)   ILLEGAL()   REQUIRE_PRIV(p)      exceptions
 *   STALL(n)   LAT(name)                                 timing
 *   SLOW(call)   XRET(call)   FENCE_I()                 out-of-line work
 */

#define RS1   (xr[d->rs1])
#define RS2   (xr[d->rs2])
#define SRS1  ((int64_t)RS1)
#define SRS2  ((int64_t)RS2)
#define IMM   ((int64_t)d->imm)
#define PC    pc
#define NPC   (pc + d->len)
#define PRIV  (h->priv)
#define SEXT32(v) ((uint64_t)(int64_t)(int32_t)(uint32_t)(v))
#define WRITE_RD(v) (xr[d->rd] = (uint64_t)(v))
#define LAT(name) (lat->name)

#if RV_DETAILED
#define STALL(n) (stall += (n))
#define DACCESS(e, va, wr) (stall += cpu_cache_data(h, (e)->spa_page | ((va) & 0xfff), (wr)))
#else
#define STALL(n) ((void)0)
#define DACCESS(e, va, wr) ((void)0)
#endif

#define JUMP(t)   do { npc = (t); STALL(LAT(taken)); } while (0)
#define BRANCH(t) JUMP(t)

/* Publish the loop's counters to the hart before any out-of-line call. */
#define SYNC() do { h->pc = pc; h->batch_exec = exec; h->batch_retired = exec - 1 - notret; \
		    h->batch_stall = stall; } while (0)

#define TRAP(cause, tval) do { SYNC(); rv_trap(h, (cause), (tval)); goto trapped; } while (0)
#define ILLEGAL() TRAP(RV_CAUSE_ILLEGAL, d->raw)
#define REQUIRE_PRIV(p) do { if (h->priv < (p)) ILLEGAL(); } while (0)

/* Out-of-line work: 0 = done (continue at npc), else trap taken / exit pending. */
#define SLOW(call) do { int st_; SYNC(); st_ = (call); if (st_) goto trapped; \
			REFRESH(); IRQ_AFTER(); } while (0)
/* State cached in locals that out-of-line paths may change. */
#define REFRESH() do { fetch_tag = ~0ull; dmode = h->dmode; } while (0)
/* After an instruction that may have enabled a pending interrupt. */
#define IRQ_AFTER() do { if (RV_UNLIKELY(h->mip & h->mie)) { h->pc = npc; \
			 if (rv_check_irq(h)) { npc = h->pc; STALL(LAT(trap)); } } } while (0)
#define XRET(call) do { SYNC(); call; npc = h->pc; REFRESH(); STALL(LAT(trap)); \
			IRQ_AFTER(); } while (0)
#define FENCE_I() do { rv_dcache_flush(h); fetch_tag = ~0ull; dp = NULL; } while (0)

#define LOAD(T, addr, dst) do { \
	uint64_t va_ = (addr); \
	const struct rv_tlb_ent *e_ = &h->tlb_r[(va_ >> 12) & (RV_TLB_SIZE - 1)]; \
	if (RV_LIKELY(e_->tag == ((va_ & ~0xfffull) | dmode)) && \
	    RV_LIKELY((va_ & 0xfff) <= 0x1000 - sizeof(T))) { \
		T v_; \
		memcpy(&v_, (const void *)(e_->addend + (uintptr_t)va_), sizeof(T)); \
		(dst) = v_; \
		DACCESS(e_, va_, false); \
	} else { \
		uint64_t v_; \
		SYNC(); \
		if (rv_load_slow(h, va_, sizeof(T), &v_, pc)) \
			goto trapped; \
		(dst) = (T)v_; \
		stall = h->batch_stall; \
	} \
} while (0)

#define STORE(T, addr, val) do { \
	uint64_t va_ = (addr); \
	T v_ = (T)(val); \
	const struct rv_tlb_ent *e_ = &h->tlb_w[(va_ >> 12) & (RV_TLB_SIZE - 1)]; \
	if (RV_LIKELY(e_->tag == ((va_ & ~0xfffull) | dmode)) && \
	    RV_LIKELY((va_ & 0xfff) <= 0x1000 - sizeof(T))) { \
		memcpy((void *)(e_->addend + (uintptr_t)va_), &v_, sizeof(T)); \
		DACCESS(e_, va_, true); \
	} else { \
		SYNC(); \
		if (rv_store_slow(h, va_, sizeof(T), (uint64_t)v_, pc)) \
			goto trapped; \
		stall = h->batch_stall; \
		if (RV_UNLIKELY(h->done)) { why = CPU_STOP_HALT; pc = npc; goto out; } \
		IRQ_AFTER();   /* a device store (CLINT) may raise an interrupt */ \
	} \
} while (0)

/* Atomics always take the out-of-line path (rv64_run.c: rv_atomic). */
#define LR(T, addr, dst) do { uint64_t v_; SYNC(); \
	if (rv_atomic(h, RV_AT_LR, (addr), sizeof(T), 0, &v_, pc)) goto trapped; \
	(dst) = (T)v_; stall = h->batch_stall; } while (0)
#define SC(T, addr, val) do { uint64_t v_; SYNC(); \
	if (rv_atomic(h, RV_AT_SC, (addr), sizeof(T), (uint64_t)(T)(val), &v_, pc)) goto trapped; \
	WRITE_RD(v_); stall = h->batch_stall; \
	if (RV_UNLIKELY(h->done)) { why = CPU_STOP_HALT; pc = npc; goto out; } } while (0)
#define AMO(U, addr, bval, expr) do { uint64_t a, b = (bval), spa_; SYNC(); \
	if (rv_atomic(h, RV_AT_AMO, (addr), sizeof(U), 0, &spa_, pc)) goto trapped; \
	a = rv_phys_read(h, spa_, sizeof(U)); \
	rv_phys_write(h, spa_, sizeof(U), (uint64_t)(U)(expr)); \
	WRITE_RD(sizeof(U) == 4 ? SEXT32(a) : a); stall = h->batch_stall; \
	if (RV_UNLIKELY(h->done)) { why = CPU_STOP_HALT; pc = npc; goto out; } } while (0)

enum cpu_stop RV_RUN_FN(struct cpu_hart *h, uint64_t budget, uint64_t *executed, uint64_t *stall_out)
{
	uint64_t *const xr = h->x;
	const struct cpu_lat *const lat = &h->vm->lat;

	(void)lat;
	uint64_t pc = h->pc;
	uint64_t exec = 0;           /* instructions attempted (retired + trapped) */
	uint64_t notret = 0;         /* of which did not retire (trapped, exited) */
	unsigned dmode = h->dmode;   /* data translation class (see REFRESH) */
	uint64_t stall = 0;          /* detailed: cycles beyond one per instruction */
	uint64_t fetch_tag = ~0ull;  /* va page | fmode of dp */
	struct rv_dpage *dp = NULL;
	enum cpu_stop why = CPU_STOP_BUDGET;

	while (exec < budget) {
		const struct rv_dinsn *d;
		struct rv_dinsn tmp;
		uint64_t npc;

		exec++;
		/*
		 * fetch_tag is the page of dp; every change of the fetch mode
		 * (privilege, satp, ...) happens in an out-of-line path that
		 * resets it, so the mode need not be compared here.
		 */
		if (RV_UNLIKELY((pc & ~0xfffull) != fetch_tag)) {
			int st = 0;

			SYNC();
			dp = rv_fetch_page(h, pc, &st);
			stall = h->batch_stall;
			if (!dp)
				goto trapped;
			fetch_tag = pc & ~0xfffull;
		}
		d = &dp->slot[(pc & 0xfff) >> 1];
#if RV_DETAILED
		{
			uint64_t spa = dp->spa_page | (pc & 0xfff);

			if ((spa >> h->vm->line_shift) != h->last_iline) {
				h->last_iline = spa >> h->vm->line_shift;
				stall += cpu_cache_fetch(h, spa);
			}
		}
#endif
dispatch:
		npc = pc + d->len;
		switch (d->op) {
		case RV_OP_NONE:
			/* first execution of this slot: decode it, then dispatch */
			SYNC();
			if (rv_fill_slot(h, dp, pc, &tmp))
				goto trapped;
			if (d->op == RV_OP_NONE)
				d = &tmp;    /* crosses a page: not cached */
			goto dispatch;
#define RV_INSN(name, match, mask, fmt, flags, ...) \
		case RV_OP_##name: { __VA_ARGS__ } break;
#include "cpu/rv64_insns.def"
#undef RV_INSN
		default:
			ILLEGAL();
		}
		pc = npc;
		continue;
trapped:
		/* h->pc is the trap handler, or the exiting instruction */
		notret++;
		if (h->exit_pending) {
			why = CPU_STOP_EXIT;
			pc = h->pc;
			break;
		}
		if (h->done) {
			why = CPU_STOP_HALT;
			pc = h->pc;
			break;
		}
		pc = h->pc;
		REFRESH();
		STALL(LAT(trap));
	}
out:
	h->pc = pc;
	h->instret += exec - notret;
	h->batch_exec = h->batch_retired = h->batch_stall = 0;
	*executed = exec;
	*stall_out = stall;
	return why;
}

#undef RS1
#undef RS2
#undef SRS1
#undef SRS2
#undef IMM
#undef PC
#undef NPC
#undef PRIV
#undef SEXT32
#undef WRITE_RD
#undef LAT
#undef STALL
#undef DACCESS
#undef JUMP
#undef BRANCH
#undef SYNC
#undef TRAP
#undef ILLEGAL
#undef REQUIRE_PRIV
#undef SLOW
#undef IRQ_AFTER
#undef XRET
#undef FENCE_I
#undef REFRESH
#undef LOAD
#undef STORE
#undef LR
#undef SC
#undef AMO
