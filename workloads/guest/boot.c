/*
 * boot.c - an SNP guest boot on the guest kernel library: read the VMM's
 * boot parameters (a1 at entry), negotiate the GHCB protocol, register a
 * GHCB, accept memory eagerly or lazily, then allocate and write touch=
 * bytes, and print what it took.
 *
 * Command line (boot parameters): accept=eager|lazy psc=msr|ghcb
 * page=4k|2m cbit=alias|pte touch=SIZE (bytes: 4096, 64k, 16m, 1g; default 1m).  Without boot
 * parameters (protsim exec) the free part of the link script's RAM is the
 * memory and no SNP call is made.  Exit 0 when every touched page reads
 * back what was written.
 */
#include <stdio.h>

#include "protsim.h"
#include "protsim/snp.h"

extern char __ram_start[], __ram_end[], __pages[];

static const char *const keys[] = { "accept", "psc", "page", "cbit", "touch", NULL };

int main(void)
{
	uint64_t touch = 1ull << 20, pages, sum = 0, want = 0, ram = 0, unacc = 0;
	char v[32];

	snp_reset();
	snp_boot_params(protsim_boot_arg, (uintptr_t)__ram_start, (uintptr_t)__pages,
			(uintptr_t)__pages, (uintptr_t)__ram_end);
	snp_cmdline_check(keys);
	if (snp_cmdline_get("touch", v, sizeof(v)) && !snp_parse_size(v, &touch)) {
		printf("boot: touch=%s: not a size\n", v);
		snp_terminate(SNP_TERM_SET_LINUX, SNP_TERM_BP_CMDKEY, SNP_FAIL_BOOT_PARAMS);
	}
	snp_init(0);

	for (unsigned i = 0; i < snp.nr_ranges; i++) {
		if (snp.ranges[i].type == SNP_RANGE_RAM)
			ram += snp.ranges[i].size;
		else if (snp.ranges[i].type == SNP_RANGE_UNACCEPTED)
			unacc += snp.ranges[i].size;
	}
	if (!snp.boot_gpa)
		printf("boot: no boot parameters: %llu KiB of RAM at 0x%llx, no SNP calls%s\n",
		       (unsigned long long)(ram >> 10), (unsigned long long)snp.ranges[0].gpa,
		       snp.paging ? " (SNP: C-bit page tables on)" : "");
	else
		printf("boot: %s guest, %u ranges: RAM %llu KiB, unaccepted %llu KiB; "
		       "accept=%s psc=%s page=%s cbit=%s\n", snp.snp ? "SNP" : "non-SNP", snp.nr_ranges,
		       (unsigned long long)(ram >> 10), (unsigned long long)(unacc >> 10),
		       snp.accept == SNP_ACCEPT_LAZY ? "lazy" : "eager",
		       snp.psc == SNP_PSC_MSR ? "msr" : "ghcb", snp.prefer_2m ? "2m" : "4k",
		       snp.cbit_pte ? "pte" : "alias");
	if (snp.snp)
		printf("boot: GHCB protocol %u, features 0x%llx, GHCB at 0x%llx\n", snp.ghcb_version,
		       (unsigned long long)snp.hv_features, (unsigned long long)snp.ghcb_gpa[0]);
	printf("boot: at boot: %llu pages accepted, %llu PSC requests\n",
	       (unsigned long long)snp.st.pages_accepted, (unsigned long long)snp.st.psc_requests);

	/* touch: allocate page by page (lazy acceptance on first use) and write every word */
	pages = (touch + SNP_PAGE_SIZE - 1) / SNP_PAGE_SIZE;
	for (uint64_t p = 0; p < pages; p++) {
		uint64_t g = snp_alloc_pages(1);
		volatile uint64_t *w = (volatile uint64_t *)(uintptr_t)g;

		for (unsigned i = 0; i < SNP_PAGE_SIZE / 8; i++) {
			uint64_t x = g ^ ((uint64_t)i * 0x9e3779b97f4a7c15ull);

			w[i] = x;
			want += x;
		}
		for (unsigned i = 0; i < SNP_PAGE_SIZE / 8; i++)
			sum += w[i];
	}
	if (pages)
		printf("boot: touched %llu KiB in %llu pages: %s\n",
		       (unsigned long long)(pages * SNP_PAGE_SIZE >> 10), (unsigned long long)pages,
		       sum == want ? "read back ok" : "READ BACK DIFFERS");
	printf("boot: accepted %llu pages (%llu lazy 2M units), PSC %llu requests for %llu pages "
	       "(%llu 4K and %llu 2M entries), PVALIDATE %llu 4K + %llu 2M (%llu fallbacks)\n",
	       (unsigned long long)snp.st.pages_accepted, (unsigned long long)snp.st.lazy_units,
	       (unsigned long long)snp.st.psc_requests, (unsigned long long)snp.st.psc_pages,
	       (unsigned long long)snp.st.psc_entries_4k, (unsigned long long)snp.st.psc_entries_2m,
	       (unsigned long long)snp.st.pvalidate_4k, (unsigned long long)snp.st.pvalidate_2m,
	       (unsigned long long)snp.st.pvalidate_fallbacks);
	printf("boot: exits caused: %llu (VMGEXIT %llu, HYPERCALL %llu); %llu KiB still free\n",
	       (unsigned long long)(snp.st.vmgexits + snp.st.hypercalls),
	       (unsigned long long)snp.st.vmgexits, (unsigned long long)snp.st.hypercalls,
	       (unsigned long long)(snp_free_bytes() >> 10));
	return sum == want ? 0 : 1;
}
