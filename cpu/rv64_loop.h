/*
 * rv64_loop.h - the interpreter's run loop.  Included twice by rv64_run.c:
 * with RV_DETAILED 0 (fast mode: fixed CPI, no caches) and 1 (detailed
 * mode: cache model and stall cycles), as RV_RUN_FN.
 *
 * Threaded dispatch: every instruction of rv64_insns.def has two labels,
 * op_<name> (4-byte encoding) and op_<name>_c (2-byte), reached through
 * op_label[d->xop], a table of label addresses (GNU C "labels as
 * values", like __builtin_expect elsewhere: gcc and clang only); each
 * body ends with its own dispatch of the next instruction.  Why: a switch
 * in a loop costs a range check, a table load and a shared indirect jump
 * per instruction; here it is one load and one jump.  The two labels
 * only set `step`, the instruction's length, as a constant: the next
 * slot's address then depends on the (predicted) jump, not on loading
 * the length, so consecutive instructions do not wait for each other.
 *
 * Finding the next instruction:
 *   - sequential (NEXT): the next slot of the decode page, step/2 slots
 *     on.  No page check: a step past the page's last slot lands on a
 *     guard slot (RV_OP_PAGE_END, cpu_int.h) whose label goes to the full
 *     path.  Stepping gives the same slot as indexing by the new pc.
 *   - anything else (TAKEN: jumps, taken branches, traps, xRET, CSR and
 *     other out-of-line work, fence.i): `top`, as before: compare pc's
 *     page with the page of dp (fetch_tag), refetch if it differs, index
 *     the slot.  Out-of-line work resets fetch_tag (REFRESH), so the page
 *     is refetched exactly where it always was.
 * Loads, stores and atomics use the L0 TLB inline and leave only on a miss
 * (atomics also when misaligned).
 *
 * Macros for instruction bodies (cpu/insns/<mnemonic>.h):
 *   RS1 RS2 SRS1 SRS2 IMM PC NPC PRIV   operands and state
 *   WRITE_RD(v)   JUMP(t)   BRANCH(t)   results
 *   LOAD(T, addr, dst)   STORE(T, addr, v)   LR/SC/AMO   memory
 *   TRAP(cause, tval)   ILLEGAL()   REQUIRE_PRIV(p)      exceptions
 *   STALL(n)   LAT(name)                                 timing
 *   SLOW(call)   XRET(call)   FENCE_I()                 out-of-line work
 * JUMP, BRANCH, SLOW, XRET, FENCE_I and a STORE that takes an interrupt
 * leave the body: they must be its last statement.
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
/* L1D timing of a load/store that hit the L0 TLB; its common case inline. */
#define DACCESS(e, va, wr) do { \
	uint64_t spa_ = (e)->spa_page | ((va) & 0xfff); \
	if (cpu_cache_hint_hit(h->l1d, spa_ >> line_shift)) \
		stall += h->l1d->lat - 1; \
	else \
		stall += cpu_cache_data(h, spa_, (wr)); \
} while (0)
/*
 * Instruction fetch timing, at the start of every instruction: the L1I is
 * looked up once per new line, i.e. when the line of pc's system address
 * differs from h->last_iline.  iline_va (pc >> line_shift when that was
 * last compared) skips the compare while pc stays in one line: the
 * answer cannot change until dp changes or out-of-line code runs (it may
 * reset last_iline), and both go through SYNC, which forgets iline_va.
 * Idempotent, so the decode-on-first-use path may run it before decoding
 * and the instruction's label again after.
 */
#define FETCH_TIMING() do { \
	if (RV_UNLIKELY((pc >> line_shift) != iline_va)) { \
		uint64_t spa_ = dp->spa_page | (pc & 0xfff); \
		iline_va = pc >> line_shift; \
		if ((spa_ >> line_shift) != h->last_iline) { \
			h->last_iline = spa_ >> line_shift; \
			if (!cpu_cache_hint_hit(h->l1i, spa_ >> line_shift))   /* L1I hit: 0 */ \
				stall += cpu_cache_fetch(h, spa_); \
		} \
	} \
} while (0)
#define FORGET_ILINE() (iline_va = ~0ull)
#else
#define STALL(n) ((void)0)
#define DACCESS(e, va, wr) ((void)0)
#define FETCH_TIMING() ((void)0)
#define FORGET_ILINE() ((void)0)
#endif

/* Instructions attempted so far in this batch, the current one included. */
#define EXEC() (budget - left)

/* Run the instruction in slot d (the slot of pc). */
#define DISPATCH() goto *op_label[d->xop]
/*
 * Continue with the next instruction in sequence (see the top comment):
 * its slot is step / 2 slots on (each slot covers 2 bytes).
 */
#define NEXT() do { \
	pc += step; \
	d = (const struct rv_dinsn *)((const char *)d + step * (sizeof(*d) / 2)); \
	if (RV_UNLIKELY(left == 0)) \
		goto out; \
	left--; \
	DISPATCH(); \
} while (0)
/* Continue at npc (which the caller set) through the full fetch path. */
#define TAKEN() goto taken

#define JUMP(t)   do { npc = (t); STALL(LAT(taken)); TAKEN(); } while (0)
#define BRANCH(t) JUMP(t)

/* Publish the loop's counters to the hart before any out-of-line call. */
#define SYNC() do { h->pc = pc; h->batch_exec = EXEC(); h->batch_retired = EXEC() - 1 - notret; \
		    h->batch_stall = stall; FORGET_ILINE(); } while (0)

#define TRAP(cause, tval) do { SYNC(); rv_trap(h, (cause), (tval)); goto trapped; } while (0)
#define ILLEGAL() TRAP(RV_CAUSE_ILLEGAL, d->raw)
#define REQUIRE_PRIV(p) do { if (h->priv < (p)) ILLEGAL(); } while (0)

/* Out-of-line work: 0 = done (continue at NPC), else trap taken / exit pending. */
#define SLOW(call) do { int st_; npc = NPC; SYNC(); st_ = (call); if (st_) goto trapped; \
			REFRESH(); IRQ_AFTER(); TAKEN(); } while (0)
/* State cached in locals that out-of-line paths may change. */
#define REFRESH() do { fetch_tag = ~0ull; dmode = h->dmode; } while (0)
/*
 * After an instruction that may have enabled a pending interrupt (npc set).
 * Taking it changes privilege and pc, so the cached translation class and
 * fetch page are refreshed (a CLINT store from S/U mode can get here).
 */
#define IRQ_AFTER() do { if (RV_UNLIKELY(h->mip & h->mie)) { h->pc = npc; \
			 if (rv_check_irq(h)) { npc = h->pc; REFRESH(); STALL(LAT(trap)); TAKEN(); } } } while (0)
#define XRET(call) do { SYNC(); call; npc = h->pc; REFRESH(); STALL(LAT(trap)); \
			IRQ_AFTER(); TAKEN(); } while (0)
#define FENCE_I() do { npc = NPC; rv_dcache_flush(h); fetch_tag = ~0ull; dp = NULL; TAKEN(); } while (0)

/*
 * L0 TLB tag an access of @len bytes at @va must match: the page of its
 * last byte.  That is va's page unless the access crosses into the next
 * page, and the entry at va's index never holds the next page, so one
 * compare checks the page, the class and "does not cross a page".
 */
#define TLB_TAG(va, len) ((((va) + (len) - 1) & ~0xfffull) | dmode)

#define LOAD(T, addr, dst) do { \
	uint64_t va_ = (addr); \
	const struct rv_tlb_ent *e_ = &h->tlb_r[(va_ >> 12) & (RV_TLB_SIZE - 1)]; \
	if (RV_LIKELY(e_->tag == TLB_TAG(va_, sizeof(T)))) { \
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
	if (RV_LIKELY(e_->tag == TLB_TAG(va_, sizeof(T)))) { \
		memcpy((void *)(e_->addend + (uintptr_t)va_), &v_, sizeof(T)); \
		DACCESS(e_, va_, true); \
	} else { \
		SYNC(); \
		if (rv_store_slow(h, va_, sizeof(T), (uint64_t)v_, pc)) \
			goto trapped; \
		stall = h->batch_stall; \
		npc = NPC; \
		if (RV_UNLIKELY(h->done)) { why = CPU_STOP_HALT; pc = npc; goto out; } \
		IRQ_AFTER();   /* a device store (CLINT) may raise an interrupt */ \
	} \
} while (0)

/*
 * Atomics use the L0 TLB like loads and stores: LR the read entries, SC
 * and AMOs the write entries, so an SC or AMO needs what a store needs
 * (stage-1 W, stage-2 write, the RMP's write check: rv_atomic translates
 * them as S2_ACC_WRITE) and an LR what a load needs.  Only aligned
 * accesses stay inline: a misaligned one goes to rv_atomic, which raises
 * the misaligned exception before translating.  The tohost page and
 * devices are never in the write entries, so an SC/AMO to them takes the
 * slow path (HTIF sees it; the CLINT gives an access fault).  The inline
 * path does exactly what rv_atomic does after translating: the same
 * reservation rules, the same L1D access (DACCESS = cpu_cache_data).
 * h->at_slow (a test hook) sends every atomic to rv_atomic.
 */
/* Inline when aligned, in the L0 TLB, and the test hook is off. */
#define AT_HIT(e, va, len) \
	RV_LIKELY(!((va) & ((len) - 1)) && (e)->tag == TLB_TAG(va, len) && !h->at_slow)

#define LR(T, addr, dst) do { \
	uint64_t va_ = (addr); \
	const struct rv_tlb_ent *e_ = &h->tlb_r[(va_ >> 12) & (RV_TLB_SIZE - 1)]; \
	if (AT_HIT(e_, va_, sizeof(T))) { \
		T v_; \
		memcpy(&v_, (const void *)(e_->addend + (uintptr_t)va_), sizeof(T)); \
		h->resv_addr = e_->spa_page | (va_ & 0xfff); \
		h->resv_val = (uint64_t)(int64_t)v_; \
		h->resv_valid = true; \
		(dst) = v_; \
		DACCESS(e_, va_, false); \
	} else { \
		uint64_t v_; \
		SYNC(); \
		if (rv_atomic(h, RV_AT_LR, va_, sizeof(T), 0, &v_, pc)) \
			goto trapped; \
		(dst) = (T)v_; \
		stall = h->batch_stall; \
	} \
} while (0)

#define SC(T, addr, val) do { \
	uint64_t va_ = (addr); \
	T v_ = (T)(val); \
	const struct rv_tlb_ent *e_ = &h->tlb_w[(va_ >> 12) & (RV_TLB_SIZE - 1)]; \
	if (AT_HIT(e_, va_, sizeof(T))) { \
		void *p_ = (void *)(e_->addend + (uintptr_t)va_); \
		T m_; \
		memcpy(&m_, p_, sizeof(T)); \
		DACCESS(e_, va_, true); \
		if (h->resv_valid && h->resv_addr == (e_->spa_page | (va_ & 0xfff)) && \
		    m_ == (T)h->resv_val) { \
			memcpy(p_, &v_, sizeof(T)); \
			WRITE_RD(0); \
		} else { \
			WRITE_RD(1); \
		} \
		h->resv_valid = false; \
	} else { \
		uint64_t r_; \
		SYNC(); \
		if (rv_atomic(h, RV_AT_SC, va_, sizeof(T), (uint64_t)v_, &r_, pc)) \
			goto trapped; \
		WRITE_RD(r_); \
		stall = h->batch_stall; \
		if (RV_UNLIKELY(h->done)) { why = CPU_STOP_HALT; pc = NPC; goto out; } \
	} \
} while (0)

/* a = the old value (zero-extended), b = the operand; memory = (U)(expr). */
#define AMO(U, addr, bval, expr) do { \
	uint64_t va_ = (addr), a = 0, b = (bval); \
	const struct rv_tlb_ent *e_ = &h->tlb_w[(va_ >> 12) & (RV_TLB_SIZE - 1)]; \
	if (AT_HIT(e_, va_, sizeof(U))) { \
		void *p_ = (void *)(e_->addend + (uintptr_t)va_); \
		U n_; \
		memcpy(&a, p_, sizeof(U)); \
		n_ = (U)(expr); \
		memcpy(p_, &n_, sizeof(U)); \
		DACCESS(e_, va_, true); \
	} else { \
		uint64_t spa_; \
		SYNC(); \
		if (rv_atomic(h, RV_AT_AMO, va_, sizeof(U), 0, &spa_, pc)) \
			goto trapped; \
		a = rv_phys_read(h, spa_, sizeof(U)); \
		rv_phys_write(h, spa_, sizeof(U), (uint64_t)(U)(expr)); \
		stall = h->batch_stall; \
		if (RV_UNLIKELY(h->done)) { \
			WRITE_RD(sizeof(U) == 4 ? SEXT32(a) : a); \
			why = CPU_STOP_HALT; pc = NPC; goto out; \
		} \
	} \
	WRITE_RD(sizeof(U) == 4 ? SEXT32(a) : a); \
} while (0)

enum cpu_stop RV_RUN_FN(struct cpu_hart *h, uint64_t budget, uint64_t *executed, uint64_t *stall_out)
{
	static const void *const op_label[RV_XOP(RV_OP_PAGE_END, 2) + 1] = {
		[RV_XOP(RV_OP_NONE, 0)] = &&op_NONE,
		[RV_XOP(RV_OP_NONE, 2)] = &&op_NONE,
		[RV_XOP(RV_OP_ILLEGAL, 4)] = &&op_ILLEGAL,
		[RV_XOP(RV_OP_ILLEGAL, 2)] = &&op_ILLEGAL,
#define RV_INSN(name, match, mask, fmt, flags, ...) \
		[RV_XOP(RV_OP_##name, 4)] = &&op_##name, [RV_XOP(RV_OP_##name, 2)] = &&op_##name##_c,
#include "cpu/rv64_insns.def"
#undef RV_INSN
		[RV_XOP(RV_OP_PAGE_END, 0)] = &&op_PAGE_END,
		[RV_XOP(RV_OP_PAGE_END, 2)] = &&op_PAGE_END,
	};
	uint64_t *const xr = h->x;
	const struct cpu_lat *const lat = &h->vm->lat;
#if RV_DETAILED
	const unsigned line_shift = h->vm->line_shift;
	uint64_t iline_va = ~0ull;   /* see FETCH_TIMING */
#endif

	(void)lat;
	uint64_t pc = h->pc;
	uint64_t npc = pc;           /* where TAKEN continues */
	uint64_t left = budget;      /* instructions this batch may still attempt */
	uint64_t notret = 0;         /* attempted that did not retire (trapped, exited) */
	unsigned dmode = h->dmode;   /* data translation class (see REFRESH) */
	uint64_t stall = 0;          /* detailed: cycles beyond one per instruction */
	uint64_t fetch_tag = ~0ull;  /* va page | fmode of dp */
	struct rv_dpage *dp = NULL;
	const struct rv_dinsn *d;
	uint64_t step = 0;           /* length of the instruction being run (its label's) */
	/* a page-crossing instruction, decoded each time, and guards after it */
	struct rv_dinsn cross[1 + RV_DPAGE_GUARD];
	enum cpu_stop why = CPU_STOP_BUDGET;

top:
	/* pc is the next instruction, reached by anything but a sequential step */
	if (RV_UNLIKELY(left == 0))
		goto out;
	left--;
fetch:
	/*
	 * fetch_tag is the page of dp; every change of the fetch mode
	 * (privilege, satp, ...) happens in an out-of-line path that resets
	 * it, so the mode need not be compared here.
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
	DISPATCH();

op_PAGE_END:
	/* a sequential step left the page: already counted, fetch the new one */
	goto fetch;

op_NONE:
	/* first execution of this slot: decode it, then dispatch */
	FETCH_TIMING();
	SYNC();
	if (rv_fill_slot(h, dp, pc, &cross[0]))
		goto trapped;
	if (d->op == RV_OP_NONE) {
		/* crosses a page: not cached; stepping past it lands on a guard */
		for (unsigned g = 1; g <= RV_DPAGE_GUARD; g++) {
			memset(&cross[g], 0, sizeof(cross[g]));
			cross[g].op = RV_OP_PAGE_END;
			cross[g].xop = RV_XOP(RV_OP_PAGE_END, 0);
		}
		d = &cross[0];
	}
	DISPATCH();

op_ILLEGAL:
	FETCH_TIMING();
	ILLEGAL();

#define RV_INSN(name, match, mask, fmt, flags, ...) \
op_##name##_c: \
	step = 2; \
	goto op_##name##_body; \
op_##name: \
	step = 4; \
op_##name##_body: \
	FETCH_TIMING(); \
	{ __VA_ARGS__ } \
	NEXT();
#include "cpu/rv64_insns.def"
#undef RV_INSN

taken:
	pc = npc;
	goto top;

trapped:
	/* h->pc is the trap handler, or the exiting instruction */
	notret++;
	if (h->exit_pending) {
		why = CPU_STOP_EXIT;
		pc = h->pc;
		goto out;
	}
	if (h->done) {
		why = CPU_STOP_HALT;
		pc = h->pc;
		goto out;
	}
	pc = h->pc;
	REFRESH();
	STALL(LAT(trap));
	goto top;

out:
	h->pc = pc;
	h->instret += EXEC() - notret;
	h->batch_exec = h->batch_retired = h->batch_stall = 0;
	*executed = EXEC();
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
#undef FETCH_TIMING
#undef FORGET_ILINE
#undef EXEC
#undef DISPATCH
#undef NEXT
#undef TAKEN
#undef TLB_TAG
#undef LOAD
#undef STORE
#undef LR
#undef SC
#undef AMO
#undef AT_HIT
