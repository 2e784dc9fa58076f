/*
 * snp.c - the SNP guest kernel library's hypervisor interface: the GHCB
 * MSR protocol (SEV_INFO, hypervisor features, GHCB registration,
 * page-state change, terminate), the GHCB page and the NAE page-state
 * change with Linux's batching and its checks against a hypervisor that
 * lies, PVALIDATE with the 4K fallback, set_memory_encrypted/decrypted in
 * Linux's order, the hypercalls, and the #VC policy.
 *
 * The paths follow Linux's guest (arch/x86/coco/sev: __set_pages_state,
 * vmgexit_psc, pvalidate_pages, early_set_pages_state, snp_register_ghcb_
 * early); docs/guest-kernel.md lists where protsim is stricter.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "protsim/snp.h"
#include "snp_arch.h"

struct snp_state snp;

/* Linux's pvalidate() turns CF=1 (no update) into this value. */
#define PVALIDATE_FAIL_NOUPDATE 255
#define RMP_FAIL_SIZEMISMATCH_ 6
/* consecutive NAE PSC returns with nothing processed before giving up */
#define PSC_MAX_STALLS 16

#if !defined(__riscv)
/* host build: the library's console is a buffer the tests read */
char snp_host_log[8192];
size_t snp_host_log_len;
#endif

void snp_printf(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
#if defined(__riscv)
	vprintf(fmt, ap);
#else
	if (snp_host_log_len < sizeof(snp_host_log)) {
		int n = vsnprintf(snp_host_log + snp_host_log_len,
				  sizeof(snp_host_log) - snp_host_log_len, fmt, ap);

		if (n > 0)
			snp_host_log_len += (size_t)n;
		if (snp_host_log_len >= sizeof(snp_host_log))
			snp_host_log_len = sizeof(snp_host_log) - 1;
	}
#endif
	va_end(ap);
}

const char *snp_fail_name(enum snp_fail f)
{
	static const char *const names[] = {
		[SNP_FAIL_NONE] = "none",
		[SNP_FAIL_PSC_MSR_RESP] = "MSR PSC: wrong response code",
		[SNP_FAIL_PSC_MSR_ERROR] = "MSR PSC: error response",
		[SNP_FAIL_PSC_VMM_ERROR] = "PSC: sw_exit_info_1 reports an error",
		[SNP_FAIL_PSC_EXITINFO2] = "PSC: sw_exit_info_2 non-zero",
		[SNP_FAIL_PSC_RESERVED] = "PSC: reserved header field set",
		[SNP_FAIL_PSC_BACKWARDS] = "PSC: cur_entry went backwards",
		[SNP_FAIL_PSC_END_CHANGED] = "PSC: end_entry changed",
		[SNP_FAIL_PSC_NO_PROGRESS] = "PSC: no entry processed",
		[SNP_FAIL_PSC_UNPROCESSED] = "PSC: an entry left unprocessed",
		[SNP_FAIL_PVALIDATE] = "PVALIDATE failed",
		[SNP_FAIL_PVALIDATE_NOUPDATE] = "PVALIDATE: no update (CF=1)",
		[SNP_FAIL_REGISTER] = "GHCB GPA registration refused",
		[SNP_FAIL_PROTOCOL] = "no common GHCB protocol version",
		[SNP_FAIL_FEATURES] = "hypervisor without SNP",
		[SNP_FAIL_BOOT_PARAMS] = "bad boot parameters",
		[SNP_FAIL_VC] = "#VC",
		[SNP_FAIL_OOM] = "out of memory",
	};

	if ((unsigned)f < sizeof(names) / sizeof(names[0]) && names[f])
		return names[f];
	return "?";
}

void snp_terminate(unsigned set, unsigned code, enum snp_fail why)
{
	snp.fail = why;
	snp.term_set = set;
	snp.term_code = code;
	snp_printf("snp: terminate: reason set %u code 0x%x (%s)\n", set, code, snp_fail_name(why));
	snp.st.vmgexits++;
	(void)snp_arch_vmgexit(GHCB_MSR_TERM(set, code));
	snp_arch_halt();
}

void *snp_shared_ptr(uint64_t gpa)
{
	return snp_arch_shared(gpa, snp.cbit_pte ? 0 : 1ull << snp.cbit_pos);
}

static uint64_t vmgexit(uint64_t msr)
{
	snp.st.vmgexits++;
	return snp_arch_vmgexit(msr);
}

long snp_hypercall(unsigned long nr, unsigned long a, unsigned long b, unsigned long c,
		   unsigned long d)
{
	snp.st.hypercalls++;
	return snp_arch_hypercall(nr, a, b, c, d);
}

long snp_map_gpa_range(uint64_t gpa, uint64_t npages, bool private_)
{
	return snp_hypercall(KVM_HC_MAP_GPA_RANGE, gpa, npages,
			     (private_ ? KVM_MAP_GPA_RANGE_ENCRYPTED : 0) | KVM_MAP_GPA_RANGE_PAGE_SZ_4K,
			     0);
}

/* ------------------------------------------------------------------ */
/* GHCB MSR protocol                                                   */
/* ------------------------------------------------------------------ */

void snp_negotiate(void)
{
	uint64_t v = vmgexit(GHCB_MSR_SEV_INFO_REQ);
	unsigned max, min;

	if ((v & GHCB_MSR_INFO_MASK) != GHCB_MSR_SEV_INFO_RESP)
		snp_terminate(SNP_TERM_SET_GEN, SNP_TERM_PROT_UNSUPPORTED, SNP_FAIL_PROTOCOL);
	max = (unsigned)GHCB_MSR_PROTO_MAX(v);
	min = (unsigned)GHCB_MSR_PROTO_MIN(v);
	/* the C-bit position: shared accesses go through gpa | 1 << pos */
	snp.cbit_pos = (unsigned)GHCB_MSR_CBIT_POS(v);
	if (snp.cbit_pos < 32 || snp.cbit_pos > 62)
		snp_terminate(SNP_TERM_SET_GEN, SNP_TERM_PROT_UNSUPPORTED, SNP_FAIL_PROTOCOL);
	if (max < GHCB_PROTOCOL_MIN || min > GHCB_PROTOCOL_MAX)
		snp_terminate(SNP_TERM_SET_GEN, SNP_TERM_PROT_UNSUPPORTED, SNP_FAIL_PROTOCOL);
	snp.ghcb_version = max < GHCB_PROTOCOL_MAX ? max : GHCB_PROTOCOL_MAX;
	if (snp.ghcb_version < GHCB_SNP_PROTOCOL_MIN)
		snp_terminate(SNP_TERM_SET_GEN, SNP_TERM_PROT_UNSUPPORTED, SNP_FAIL_PROTOCOL);

	v = vmgexit(GHCB_MSR_HV_FT_REQ);
	snp.hv_features = (v & GHCB_MSR_INFO_MASK) == GHCB_MSR_HV_FT_RESP ? v >> 12 : 0;
	if (!(snp.hv_features & GHCB_HV_FT_SNP))
		snp_terminate(SNP_TERM_SET_GEN, SNP_TERM_SNP_UNSUPPORTED, SNP_FAIL_FEATURES);
}

static void pvalidate_or_die(uint64_t gpa, int big, int validate, int *rc_out)
{
	int cf = 0;
	long rc = snp_arch_pvalidate(gpa, big, validate, &cf);

	if (big)
		snp.st.pvalidate_2m++;
	else
		snp.st.pvalidate_4k++;
	if (rc == 0 && cf)
		rc = PVALIDATE_FAIL_NOUPDATE;
	if (rc_out) {
		*rc_out = (int)rc;
		return;
	}
	if (rc) {
		snp_printf("snp: PVALIDATE(0x%llx, %s, %s) failed: %ld\n", (unsigned long long)gpa,
			   big ? "2M" : "4K", validate ? "validate" : "rescind", rc);
		snp_terminate(SNP_TERM_SET_LINUX, SNP_TERM_PVALIDATE,
			      rc == PVALIDATE_FAIL_NOUPDATE ? SNP_FAIL_PVALIDATE_NOUPDATE :
			      SNP_FAIL_PVALIDATE);
	}
}

/* One page through the MSR protocol (the caller orders the PVALIDATEs). */
static void msr_psc_page(uint64_t gfn, unsigned op)
{
	uint64_t v;

	snp.st.psc_requests++;
	v = vmgexit(GHCB_MSR_PSC_REQ_GFN(gfn, op));
	if ((v & GHCB_MSR_INFO_MASK) != GHCB_MSR_PSC_RESP)
		snp_terminate(SNP_TERM_SET_LINUX, SNP_TERM_PSC, SNP_FAIL_PSC_MSR_RESP);
	if (GHCB_MSR_PSC_RESP_ERR(v)) {
		snp_printf("snp: MSR PSC of gfn 0x%llx: error 0x%llx\n", (unsigned long long)gfn,
			   (unsigned long long)GHCB_MSR_PSC_RESP_ERR(v));
		snp_terminate(SNP_TERM_SET_LINUX, SNP_TERM_PSC, SNP_FAIL_PSC_MSR_ERROR);
	}
}

/* ------------------------------------------------------------------ */
/* The GHCB page                                                       */
/* ------------------------------------------------------------------ */

static inline volatile uint64_t *ghcb_q(uint8_t *g, unsigned off)
{
	return (volatile uint64_t *)(void *)(g + off);
}

static void ghcb_set(uint8_t *g, unsigned off, uint64_t v)
{
	volatile uint8_t *bm = g + GHCB_OFF_VALID_BITMAP;
	unsigned bit = off / 8;

	*ghcb_q(g, off) = v;
	bm[bit / 8] |= (uint8_t)(1u << (bit % 8));
}

static void ghcb_invalidate(uint8_t *g)
{
	memset(g + GHCB_OFF_VALID_BITMAP, 0, 16);
	*ghcb_q(g, GHCB_OFF_SW_EXIT_CODE) = 0;
}

/* Returns 0 when sw_exit_info_1 says OK, else its low 32 bits. */
static uint32_t ghcb_hv_call(unsigned hart, uint64_t code, uint64_t info1, uint64_t info2)
{
	uint8_t *g = snp_shared_ptr(snp.ghcb_gpa[hart]);

	*(volatile uint16_t *)(void *)(g + GHCB_OFF_PROTO_VERSION) = (uint16_t)snp.ghcb_version;
	*(volatile uint32_t *)(void *)(g + GHCB_OFF_USAGE) = 0;
	ghcb_set(g, GHCB_OFF_SW_EXIT_CODE, code);
	ghcb_set(g, GHCB_OFF_SW_EXIT_INFO1, info1);
	ghcb_set(g, GHCB_OFF_SW_EXIT_INFO2, info2);
	snp_arch_mb();
	(void)vmgexit(snp.ghcb_gpa[hart]);
	snp_arch_mb();
	return (uint32_t)*ghcb_q(g, GHCB_OFF_SW_EXIT_INFO1);
}

void snp_ghcb_setup(unsigned hart)
{
	uint64_t gpa, gfn, v;

	if (hart >= SNP_MAX_HARTS || snp.ghcb_gpa[hart])
		return;
	gpa = snp_alloc_pages(1);
	gfn = gpa >> 12;
	/* private -> shared with the MSR protocol (no GHCB yet): rescind, then PSC */
	pvalidate_or_die(gpa, 0, 0, NULL);
	msr_psc_page(gfn, SNP_PSC_OP_SHARED);
	snp.st.psc_pages++;
	snp.st.pages_shared++;
	if (snp.paging)
		snp_pt_set_cbit(gpa, 1, false);
	memset(snp_shared_ptr(gpa), 0, SNP_PAGE_SIZE);
	v = vmgexit((gfn << 12) | GHCB_MSR_REG_GPA_REQ);
	if ((v & GHCB_MSR_INFO_MASK) != GHCB_MSR_REG_GPA_RESP || (v >> 12) != gfn)
		snp_terminate(SNP_TERM_SET_LINUX, SNP_TERM_REGISTER, SNP_FAIL_REGISTER);
	snp.ghcb_gpa[hart] = gpa;
}

/* ------------------------------------------------------------------ */
/* Page-state change                                                   */
/* ------------------------------------------------------------------ */

/* NAE PSC of @d (copied into the GHCB's shared buffer), re-issued until done. */
static void vmgexit_psc(unsigned hart, const struct snp_psc_desc *d)
{
	uint8_t *g = snp_shared_ptr(snp.ghcb_gpa[hart]);
	volatile struct snp_psc_desc *b =
		(volatile struct snp_psc_desc *)(void *)(g + GHCB_OFF_SHARED_BUF);
	unsigned n = d->hdr.end_entry + 1u, cur0, end0, prev, stalls = 0;
	enum snp_fail why = SNP_FAIL_NONE;

	ghcb_invalidate(g);
	memcpy((void *)(uintptr_t)b, d, sizeof(d->hdr) + n * sizeof(d->entries[0]));
	cur0 = prev = b->hdr.cur_entry;
	end0 = b->hdr.end_entry;
	while (b->hdr.cur_entry <= b->hdr.end_entry) {
		uint32_t rc;
		unsigned cur;

		ghcb_set(g, GHCB_OFF_SW_SCRATCH, snp.ghcb_gpa[hart] + GHCB_OFF_SHARED_BUF);
		snp.st.psc_requests++;
		rc = ghcb_hv_call(hart, SVM_VMGEXIT_PSC, 0, 0);
		if (rc) {
			why = SNP_FAIL_PSC_VMM_ERROR;
			break;
		}
		if (*ghcb_q(g, GHCB_OFF_SW_EXIT_INFO2)) {
			why = SNP_FAIL_PSC_EXITINFO2;
			break;
		}
		if (b->hdr.reserved) {
			why = SNP_FAIL_PSC_RESERVED;
			break;
		}
		cur = b->hdr.cur_entry;
		/* Linux: against the values at the start; protsim also against the last call */
		if (cur < cur0 || cur < prev) {
			why = SNP_FAIL_PSC_BACKWARDS;
			break;
		}
		if (b->hdr.end_entry != end0) {
			why = SNP_FAIL_PSC_END_CHANGED;
			break;
		}
		if (cur == prev && ++stalls >= PSC_MAX_STALLS) {
			why = SNP_FAIL_PSC_NO_PROGRESS;
			break;
		}
		if (cur != prev)
			stalls = 0;
		prev = cur;
	}
	/* every entry done: cur_page covers it (KVM sets 512 or 1) */
	for (unsigned i = 0; why == SNP_FAIL_NONE && i < n; i++) {
		uint64_t e = b->entries[i];

		if (SNP_PSC_E_CUR_PAGE(e) < (SNP_PSC_E_2M(e) ? SNP_PAGES_2M : 1u))
			why = SNP_FAIL_PSC_UNPROCESSED;
	}
	if (why != SNP_FAIL_NONE) {
		snp_printf("snp: PSC failed: %s (cur_entry %u end_entry %u, exit_info_1 0x%llx "
			   "exit_info_2 0x%llx)\n", snp_fail_name(why), (unsigned)b->hdr.cur_entry,
			   (unsigned)b->hdr.end_entry,
			   (unsigned long long)*ghcb_q(g, GHCB_OFF_SW_EXIT_INFO1),
			   (unsigned long long)*ghcb_q(g, GHCB_OFF_SW_EXIT_INFO2));
		snp_terminate(SNP_TERM_SET_LINUX, SNP_TERM_PSC, why);
	}
}

/* PVALIDATE each entry of @d (validate: private, rescind: shared), 2M with the 4K fallback. */
static void pvalidate_entries(const struct snp_psc_desc *d)
{
	for (unsigned i = 0; i <= d->hdr.end_entry; i++) {
		uint64_t e = d->entries[i];
		uint64_t gpa = SNP_PSC_E_GFN(e) << 12;
		int big = (int)SNP_PSC_E_2M(e), validate = SNP_PSC_E_OP(e) == SNP_PSC_OP_PRIVATE;
		int rc;

		pvalidate_or_die(gpa, big, validate, &rc);
		if (rc == RMP_FAIL_SIZEMISMATCH_ && big) {
			snp.st.pvalidate_fallbacks++;
			rc = 0;
			for (unsigned p = 0; p < SNP_PAGES_2M && !rc; p++)
				pvalidate_or_die(gpa + p * SNP_PAGE_SIZE, 0, validate, &rc);
		}
		if (rc) {
			snp_printf("snp: PVALIDATE(0x%llx, %s, %s) failed: %d\n",
				   (unsigned long long)gpa, big ? "2M" : "4K",
				   validate ? "validate" : "rescind", rc);
			snp_terminate(SNP_TERM_SET_LINUX, SNP_TERM_PVALIDATE,
				      rc == PVALIDATE_FAIL_NOUPDATE ? SNP_FAIL_PVALIDATE_NOUPDATE :
				      SNP_FAIL_PVALIDATE);
		}
	}
}

/*
 * One batch: at most 64 entries, 2M ones where the address is 2M-aligned,
 * the rest of the range covers 2M and 2M is preferred; returns the GPA
 * after the batch.
 */
static uint64_t set_pages_batch(struct snp_psc_desc *d, uint64_t gpa, uint64_t end, unsigned op)
{
	unsigned i = 0, hart = snp_arch_hartid();

	memset(d, 0, sizeof(*d));
	while (gpa < end && i < SNP_PSC_MAX_ENTRY) {
		bool big = snp.prefer_2m && (gpa & (SNP_2M - 1)) == 0 && end - gpa >= SNP_2M;

		d->hdr.end_entry = (uint16_t)i;
		d->entries[i++] = SNP_PSC_ENTRY(gpa >> 12, op, big);
		if (big)
			snp.st.psc_entries_2m++;
		else
			snp.st.psc_entries_4k++;
		gpa += big ? SNP_2M : SNP_PAGE_SIZE;
	}
	snp.st.psc_batches++;
	/* validation is rescinded before the page goes to shared */
	if (op == SNP_PSC_OP_SHARED)
		pvalidate_entries(d);
	/* the NAE event through this vCPU's GHCB; the MSR protocol before it exists */
	if (snp.psc == SNP_PSC_GHCB && hart < SNP_MAX_HARTS && snp.ghcb_gpa[hart]) {
		vmgexit_psc(hart, d);
	} else {
		for (unsigned k = 0; k <= d->hdr.end_entry; k++) {
			uint64_t e = d->entries[k], gfn = SNP_PSC_E_GFN(e);
			unsigned np = SNP_PSC_E_2M(e) ? SNP_PAGES_2M : 1u;

			for (unsigned p = 0; p < np; p++)
				msr_psc_page(gfn + p, op);
		}
	}
	/* the RMP now matches: validate what became private */
	if (op == SNP_PSC_OP_PRIVATE)
		pvalidate_entries(d);
	return gpa;
}

void snp_set_pages_state(uint64_t gpa, uint64_t npages, unsigned op)
{
	struct snp_psc_desc d;
	uint64_t end;

	gpa &= ~(SNP_PAGE_SIZE - 1);
	end = gpa + npages * SNP_PAGE_SIZE;
	snp.st.psc_pages += npages;
	while (gpa < end)
		gpa = set_pages_batch(&d, gpa, end, op);
}

void snp_set_memory_decrypted(uint64_t gpa, uint64_t npages)
{
	if (!snp.snp || !npages)
		return;
	/* Linux: PVALIDATE rescind + PSC shared, then the C-bit cleared and the TLB flushed */
	snp_set_pages_state(gpa, npages, SNP_PSC_OP_SHARED);
	if (snp.paging)
		snp_pt_set_cbit(gpa, npages, false);
	snp.st.pages_shared += npages;
}

void snp_set_memory_encrypted(uint64_t gpa, uint64_t npages)
{
	if (!snp.snp || !npages)
		return;
	/* Linux: the C-bit set first, then PSC private + PVALIDATE */
	if (snp.paging)
		snp_pt_set_cbit(gpa, npages, true);
	snp_set_pages_state(gpa, npages, SNP_PSC_OP_PRIVATE);
	snp.st.pages_private += npages;
}

void snp_accept_range(uint64_t start, uint64_t end)
{
	if (end <= start)
		return;
	if (snp.snp)
		snp_set_pages_state(start, (end - start) / SNP_PAGE_SIZE, SNP_PSC_OP_PRIVATE);
	snp.st.pages_accepted += (end - start) / SNP_PAGE_SIZE;
}

/* ------------------------------------------------------------------ */
/* #VC                                                                 */
/* ------------------------------------------------------------------ */

const char *snp_vc_name(unsigned long code)
{
	switch (code) {
	case 0x404:
		return "page not validated";
	case 0x405:
		return "VMPL permission";
	case 0x400:
		return "nested page fault";
	case 0x72:
		return "CPUID";
	case 0x7b:
		return "I/O instruction";
	case 0x7c:
		return "MSR access";
	default:
		return "unknown";
	}
}

void snp_vc_fatal(unsigned long code, uint64_t gva, uint64_t pc)
{
	snp_printf("snp: #VC 0x%lx (%s) at pc 0x%llx, address 0x%llx\n", code, snp_vc_name(code),
		   (unsigned long long)pc, (unsigned long long)gva);
	snp_terminate(SNP_TERM_SET_LINUX,
		      code == 0x404 ? SNP_TERM_VC_NOT_VALIDATED : SNP_TERM_VC_OTHER, SNP_FAIL_VC);
}

#if defined(__riscv)
static void vc_trap(struct protsim_frame *f)
{
	if (f->mcause == CAUSE_VC)
		snp_vc_fatal(csr_read(CSR_VC_CODE), f->mtval, f->mepc);
	snp_printf("unexpected trap: mcause=0x%lx mepc=0x%lx mtval=0x%lx\n", f->mcause, f->mepc,
		   f->mtval);
	protsim_exit(99);
}

void snp_install_vc_handler(void)
{
	protsim_on_trap(vc_trap);
}
#else
void snp_install_vc_handler(void)
{
}
#endif
