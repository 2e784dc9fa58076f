/*
 * vmrun.c - VMRUN: the world switch in, the host's reply, the guest's
 * batches until a #VMEXIT, the world switch out; kicks.  The top of the
 * CPU: it calls the run loop (rv64_run.c), the world switches (prot.c)
 * and nothing calls back into it from below.
 *
 * Batching and determinism: a hart runs cpu.batch instructions (fewer at
 * an exit, a kick, the host's budget or the lookahead horizon, see
 * batch_budget) and then advances its agent's clock once by the cycles
 * they took.  Other agents run only at those points, so a hart's memory
 * effects inside a batch appear to other agents at the batch's end; RMP
 * instructions and exits flush the batch first, so they happen at their
 * exact cycle.  Batch boundaries depend only on counts of instructions
 * and on simulated clocks, never on the host, so runs are deterministic;
 * cpu.batch=1 interleaves harts instruction by instruction.
 */
#include "cpu/cpu_prot.h"

/*
 * The instructions a batch may run.  cpu.batch, the host's budget, and
 * the lookahead horizon: no batch runs past the clock of a runnable agent
 * that is not a vCPU (a host CPU, a DMA engine), so that a kick or an RMP
 * change from it reaches this hart at its first instruction boundary at
 * or after the agent's cycle (fast mode; in detailed mode the batch may
 * overrun by its own stall cycles).  vCPUs of the same VM interleave by
 * cpu.batch among themselves.
 */
static uint64_t batch_budget(struct cpu_hart *h)
{
	struct cpu_vm *vm = h->vm;
	uint64_t budget = vm->batch, now = sim_now(h->agent);
	uint64_t hz = sim_horizon(h->agent, ~(1u << SIM_AGENT_VCPU)), n;

	if (hz != UINT64_MAX) {
		n = hz > now ? hz - now : 1;
		if (vm->mode == CPU_MODE_FAST)
			n = (n + vm->lat.cpi - 1) / vm->lat.cpi;
		if (n < budget)
			budget = n;
	}
	if (h->budget && h->budget->max && h->budget->max - h->budget->used < budget)
		budget = h->budget->max - h->budget->used;
	return budget;
}

/* Run batches until an exit, a kick or the end of the budget. */
static enum cpu_exit_reason run_guest(struct cpu_hart *h, struct cpu_exit *out)
{
	struct cpu_vm *vm = h->vm;

	for (;;) {
		uint64_t budget, exec = 0, stall = 0, cyc;
		enum cpu_stop why;

		if (h->done) {
			h->done = false;
			memset(out, 0, sizeof(*out));
			out->reason = CPU_EXIT_INTR;
			out->cycle = sim_now(h->agent);
			out->pc = h->pc;
			return CPU_EXIT_INTR;
		}
		if (h->budget && h->budget->max && h->budget->used >= h->budget->max) {
			memset(out, 0, sizeof(*out));
			out->reason = CPU_EXIT_BUDGET;
			out->cycle = sim_now(h->agent);
			out->pc = h->pc;
			return CPU_EXIT_BUDGET;
		}
		sim_sync(h->agent);          /* the batch is one step, in global order */
		budget = batch_budget(h);
		sim_hold(h->agent, true);
		cpu_clint_tick(h);
		if (h->mip & h->mie)
			rv_check_irq(h);
		if (vm->mode == CPU_MODE_FAST)
			why = rv_run_fast(h, budget, &exec, &stall);
		else
			why = rv_run_detailed(h, budget, &exec, &stall);
		cyc = (vm->mode == CPU_MODE_FAST ? exec * vm->lat.cpi : exec + stall) +
		      h->batch_extra;
		h->batch_extra = 0;
		h->st.cycles += cyc;
		h->st.insns = h->instret;
		if (h->budget)
			h->budget->used += exec;
		sim_advance(h->agent, cyc);
		sim_hold(h->agent, false);
		if (why == CPU_STOP_EXIT) {
			h->exit_pending = false;
			h->st.exits[h->exit.reason]++;
			h->exit.cycle = sim_now(h->agent);
			*out = h->exit;
			return h->exit.reason;
		}
	}
}

/* The host's reply to the last exit, on the state VMRUN just restored. */
static void apply_reply(struct cpu_hart *h, const struct cpu_reply *r)
{
	const struct cpu_exit *e = &h->exit;

	switch (r->action) {
	case CPU_REPLY_RETRY:
		h->pc = e->pc;
		/* a retried instruction (#NPF resolved) counts once, when it completes */
		if (h->budget && h->budget->used)
			h->budget->used--;
		break;
	case CPU_REPLY_SKIP:
		h->pc = e->pc + e->len;
		if (e->reason == CPU_EXIT_HYPERCALL) {
			h->x[10] = r->ret;
			for (unsigned i = 0; i < r->nmore && i < 3; i++)
				h->x[11 + i] = r->more[i];
		} else if (e->reason == CPU_EXIT_VMGEXIT) {
			h->ghcb = r->ret;
			h->x[10] = r->ret;
		} else if (e->reason == CPU_EXIT_CR_WRITE) {
			h->x[h->exit_rd] = e->cr_old;
			if (r->cr_allow)
				cpu_cr_commit(h, e->cr, e->cr_new);
		}
		break;
	case CPU_REPLY_INJECT:
		h->pc = e->pc;
		rv_trap(h, r->inject_cause, r->inject_tval);
		break;
	case CPU_REPLY_RESUME:
		break;
	}
	h->x[RV_RD_SINK] = 0;
}

enum cpu_exit_reason cpu_vmrun(struct cpu_hart *h, struct cpu_vmcb *vmcb, struct cpu_exit *out)
{
	enum cpu_exit_reason r;
	struct rmp_fault f;

	h->budget = vmcb->budget;
	if (cpu_world_enter(h, vmcb, &f)) {
		memset(out, 0, sizeof(*out));
		out->reason = CPU_EXIT_INVALID;
		out->cycle = sim_now(h->agent);
		out->pc = h->pc;
		rmp_fault_format(&f, out->fault, sizeof(out->fault));
		vmcb->has_reply = false;
		return CPU_EXIT_INVALID;
	}
	if (vmcb->has_reply) {
		apply_reply(h, &vmcb->reply);
		vmcb->has_reply = false;
	}
	r = run_guest(h, out);
	h->exit = *out;
	cpu_world_exit(h, vmcb);
	return r;
}

void cpu_vcpu_kick(struct sim_agent *from, struct cpu_hart *h)
{
	if (from)
		sim_sync(from);
	h->done = true;
}

