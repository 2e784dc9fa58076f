/*
 * modules.c - the one list of modules a protsim machine is built from, in
 * attach order (lowest layer first; sim_new checks each module's .needs).
 * Every command that builds a machine (run, script, shell, exec) uses it.
 */
#include "sim/stack/stack.h"
#include "rmp/rmp.h"
#include "stage2/s2.h"
#include "iommu/iommu.h"
#include "cpu/cpu.h"
#include "sim/stack/pkvm_host.h"

const struct sim_module *const stack_modules[] = {
	&rmp_module,
	&s2_module,
	&iommu_module,
	&cpu_module,
	&stack_module,
	&stack_kvm_module,
	&stack_guest_module,
	&stack_heki_module,     /* CR protection: Heki, the VMM's CR filter, VTLs */
	&stack_pkvm_module,   /* machine host=pkvm (pkvm_host.c, ops_pkvm.c) */
	&stack_host_module,   /* host writers, RMP-fault strategies, kexec (host.c) */
	NULL
};
