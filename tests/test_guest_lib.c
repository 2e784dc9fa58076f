/*
 * test_guest_lib.c - the SNP guest kernel library (workloads/guest/lib:
 * snp.c, mem.c, pgtable.c, virtio.c) compiled on the host against a mock
 * hypervisor: a VMGEXIT that answers the GHCB MSR protocol and processes
 * NAE PSC descriptors (and misbehaves on request), a PVALIDATE over an
 * RMP-like per-page state (assigned, validated, 2M entry) with
 * FAIL_SIZEMISMATCH, and a window of fake guest memory.  A terminate
 * request longjmps back into the test.
 *
 * Checked: boot-parameter validation (each error's terminate code), the
 * protocol negotiation, GHCB setup order, batching (entries per request,
 * 2M vs 4K entries), re-issue on partial processing, every check against
 * a misbehaving hypervisor, the 2M -> 4K PVALIDATE fallback, MSR vs GHCB
 * transport, eager vs lazy acceptance (pages, bitmap), set_memory_*
 * ordering and the C-bit, page tables, bounce buffers, the virtqueue.
 */
#include <criterion/criterion.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>

/* the library itself, built for the host (lib/snp_arch.h: the !__riscv side) */
#include "workloads/guest/lib/snp.c"
#include "workloads/guest/lib/mem.c"
#include "workloads/guest/lib/pgtable.c"
#include "workloads/guest/lib/virtio.c"

struct snp_host_arch snp_host;

#define WBASE   0x80000000ull            /* fake memory window */
#define WSIZE   (16ull << 20)
#define IMG_END 0x80100000ull            /* the image: [WBASE, IMG_END) */
#define BP_GPA  0x80100000ull            /* the boot page */
#define RAM_GPA 0x80200000ull            /* 2 MiB of accepted RAM */
#define UNA_GPA 0x80400000ull            /* unaccepted memory from here */
#define SPAN_PAGES (1ull << 20)          /* mock RMP state: 4 GiB from WBASE */

/* mock per-page state */
#define PG_PRIV  1u    /* assigned to the guest */
#define PG_VAL   2u    /* validated */
#define PG_2M    4u    /* part of a 2M RMP entry */

enum misbehave {
	MB_NONE, MB_EXITINFO2, MB_VMM_ERROR, MB_BACKWARDS, MB_END_CHANGED, MB_RESERVED,
	MB_NO_PROGRESS, MB_UNPROCESSED,
};

struct ev {
	char kind;         /* 'V' validate, 'R' rescind, 'S' PSC shared, 'P' PSC private */
	uint64_t gpa;
	int big;
};

static struct {
	jmp_buf jb;
	int term;
	unsigned term_set, term_code;
	uint8_t *pg;                   /* SPAN_PAGES states */
	bool rmp_2m;                   /* a 2M PSC entry makes a 2M RMP entry */
	uint64_t sev_info;             /* SEV_INFO response */
	uint64_t features;
	int reg_bad;                   /* registration answers another GFN */
	uint64_t ghcb;                 /* registered GHCB GPA */
	unsigned max_per_call;         /* NAE PSC entries processed per VMGEXIT (0: all) */
	enum misbehave mb;
	unsigned nae_calls, msr_psc, ndesc, desc_size[4096];
	unsigned e4k, e2m;
	unsigned bad_valid_bitmap, bad_order, bad_pvalidate;
	uint64_t msr_psc_err;          /* MSR PSC: error to answer */
	int msr_psc_badcode;
	int psc_keeps_valid;           /* a PSC to private leaves Validated as it was */
	uint64_t fail_pvalidate_gpa;   /* PVALIDATE of this GPA returns FAIL_INPUT */
	struct ev ev[4096];
	unsigned nev;
	unsigned long hc_nr[16], hc_a[16][4];
	unsigned nhc;
	long hc_ret;
	uint64_t paging_root;
	unsigned shared_refs;
} m;

void *snp_host_va(uint64_t gpa)
{
	if (gpa < WBASE || gpa >= WBASE + WSIZE)
		cr_assert_fail("the library touched GPA 0x%llx outside the window",
			       (unsigned long long)gpa);
	return snp_host.mem + (gpa - WBASE);
}

static uint8_t *pg(uint64_t gpa);

/* Every access through a shared pointer: the page must be shared by then. */
void *snp_host_shared(uint64_t gpa, uint64_t alias)
{
	m.shared_refs++;
	cr_assert_eq(alias, snp.cbit_pte ? 0 : 1ull << 51, "alias 0x%llx",
		     (unsigned long long)alias);
	cr_assert_eq(*pg(gpa), 0, "shared access to GPA 0x%llx while private",
		     (unsigned long long)gpa);
	return snp_host_va(gpa);
}

static uint8_t *pg(uint64_t gpa)
{
	uint64_t i = (gpa - WBASE) >> 12;

	cr_assert(gpa >= WBASE && i < SPAN_PAGES, "gpa 0x%llx outside the mock RMP",
		  (unsigned long long)gpa);
	return &m.pg[i];
}

static void event(char kind, uint64_t gpa, int big)
{
	if (m.nev < sizeof(m.ev) / sizeof(m.ev[0]))
		m.ev[m.nev++] = (struct ev){ kind, gpa, big };
}

/* ---- mock PVALIDATE ---- */

static long mock_pvalidate(uint64_t va, int big, int validate, int *cf)
{
	uint64_t n = big ? 512 : 1;
	bool all_same = true;

	event(validate ? 'V' : 'R', va, big);
	*cf = 0;
	if (va == m.fail_pvalidate_gpa)
		return 1;
	if (big && (va & (SNP_2M - 1)))
		return 1;
	for (uint64_t i = 0; i < n; i++)
		if (!(*pg(va + i * 4096) & PG_PRIV)) {
			m.bad_pvalidate++;          /* hardware: #NPF (not the guest's page) */
			return 1;
		}
	if (big && !(*pg(va) & PG_2M))
		return 6;                           /* FAIL_SIZEMISMATCH */
	if (!big && (*pg(va) & PG_2M)) {
		/* a 4K PVALIDATE on a 2M entry: #NPF, the host PSMASHes, the guest retries */
		uint64_t b = va & ~(SNP_2M - 1);

		for (uint64_t i = 0; i < 512; i++)
			*pg(b + i * 4096) &= (uint8_t)~PG_2M;
	}
	for (uint64_t i = 0; i < n; i++)
		if (((*pg(va + i * 4096) & PG_VAL) != 0) != (validate != 0))
			all_same = false;
	if (all_same) {
		*cf = 1;
		return 0;
	}
	for (uint64_t i = 0; i < n; i++) {
		if (validate)
			*pg(va + i * 4096) |= PG_VAL;
		else
			*pg(va + i * 4096) &= (uint8_t)~PG_VAL;
	}
	return 0;
}

/* ---- mock RMP changes (what KVM + the VMM + guest_memfd end in) ---- */

static void psc_page(uint64_t gpa, unsigned op, bool big_entry)
{
	uint8_t *s = pg(gpa);

	if (op == SNP_PSC_OP_SHARED) {
		if (*s & PG_VAL)
			m.bad_order++;              /* Linux rescinds first */
		*s = 0;
	} else {
		uint8_t keep = m.psc_keeps_valid ? (uint8_t)(*s & PG_VAL) : 0;

		/* assigned, not validated (RMPUPDATE clears Validated) */
		*s = (uint8_t)(PG_PRIV | keep | (big_entry && m.rmp_2m ? PG_2M : 0));
	}
}

static uint64_t *ghcb_u64(unsigned off)
{
	return (uint64_t *)snp_host_va(m.ghcb + off);
}

static void nae_psc(void)
{
	uint8_t *bm = snp_host_va(m.ghcb + GHCB_OFF_VALID_BITMAP);
	uint64_t scratch = *ghcb_u64(GHCB_OFF_SW_SCRATCH);
	struct snp_psc_hdr *h = snp_host_va(scratch);
	uint64_t *e = (uint64_t *)(void *)(h + 1);
	unsigned done = 0;

	for (unsigned off = GHCB_OFF_SW_EXIT_CODE; off <= GHCB_OFF_SW_SCRATCH; off += 8)
		if (!(bm[off / 64] & (1u << ((off / 8) % 8))))
			m.bad_valid_bitmap++;
	if (scratch != m.ghcb + GHCB_OFF_SHARED_BUF ||
	    *(uint16_t *)snp_host_va(m.ghcb + GHCB_OFF_PROTO_VERSION) != 2)
		m.bad_valid_bitmap++;
	m.nae_calls++;
	*ghcb_u64(GHCB_OFF_SW_EXIT_INFO1) = 0;
	*ghcb_u64(GHCB_OFF_SW_EXIT_INFO2) = 0;
	if (h->cur_entry == 0 && m.ndesc < 4096)
		m.desc_size[m.ndesc++] = h->end_entry + 1u;
	cr_assert(h->end_entry < SNP_PSC_MAX_COUNT, "end_entry %u", h->end_entry);
	switch (m.mb) {
	case MB_EXITINFO2:
		*ghcb_u64(GHCB_OFF_SW_EXIT_INFO2) = (1ull << 32) | 2;
		return;
	case MB_VMM_ERROR:
		*ghcb_u64(GHCB_OFF_SW_EXIT_INFO1) = 2;
		return;
	case MB_RESERVED:
		h->reserved = 1;
		return;
	case MB_NO_PROGRESS:
		return;
	case MB_END_CHANGED:
		h->end_entry = (uint16_t)(h->end_entry - 1);
		return;
	case MB_BACKWARDS:
		if (m.nae_calls > 1) {
			h->cur_entry = 0;
			return;
		}
		break;
	case MB_UNPROCESSED:
		h->cur_entry = (uint16_t)(h->end_entry + 1);
		return;
	default:
		break;
	}
	while (h->cur_entry <= h->end_entry && (!m.max_per_call || done < m.max_per_call)) {
		uint64_t x = e[h->cur_entry];
		unsigned big = SNP_PSC_E_2M(x), n = big ? 512 : 1;
		uint64_t gpa = SNP_PSC_E_GFN(x) << 12;

		for (unsigned i = 0; i < n; i++)
			psc_page(gpa + i * 4096ull, SNP_PSC_E_OP(x), big);
		event(SNP_PSC_E_OP(x) == SNP_PSC_OP_SHARED ? 'S' : 'P', gpa, (int)big);
		if (big)
			m.e2m++;
		else
			m.e4k++;
		e[h->cur_entry] = (x & ~0xfffull) | n;
		h->cur_entry++;
		done++;
	}
}

static uint64_t mock_vmgexit(uint64_t v)
{
	if (m.ghcb && v == m.ghcb) {
		cr_assert_eq(*ghcb_u64(GHCB_OFF_SW_EXIT_CODE), SVM_VMGEXIT_PSC);
		nae_psc();
		return v;
	}
	switch (v & 0xfff) {
	case GHCB_MSR_SEV_INFO_REQ:
		return m.sev_info;
	case GHCB_MSR_HV_FT_REQ:
		return (m.features << 12) | GHCB_MSR_HV_FT_RESP;
	case GHCB_MSR_REG_GPA_REQ:
		m.ghcb = v & ~0xfffull;
		if (*pg(m.ghcb) & PG_PRIV)
			m.bad_order++;                  /* the GHCB must be shared first */
		return ((v >> 12) + (uint64_t)m.reg_bad) << 12 | GHCB_MSR_REG_GPA_RESP;
	case GHCB_MSR_PSC_REQ: {
		unsigned op = (unsigned)((v >> 52) & 0xf);
		uint64_t gpa = ((v >> 12) & 0xffffffffffull) << 12;

		m.msr_psc++;
		if (m.msr_psc_badcode)
			return 0x777;
		if (m.msr_psc_err)
			return m.msr_psc_err << 32 | GHCB_MSR_PSC_RESP;
		psc_page(gpa, op, false);
		event(op == SNP_PSC_OP_SHARED ? 'S' : 'P', gpa, 0);
		return GHCB_MSR_PSC_RESP;
	}
	case GHCB_MSR_TERM_REQ:
		m.term = 1;
		m.term_set = (unsigned)((v >> 12) & 0xf);
		m.term_code = (unsigned)((v >> 16) & 0xff);
		longjmp(m.jb, 1);
	default:
		cr_assert_fail("unexpected VMGEXIT 0x%llx", (unsigned long long)v);
	}
	return 0;
}

static long mock_hypercall(unsigned long nr, unsigned long a, unsigned long b, unsigned long c,
			   unsigned long d)
{
	if (m.nhc < 16) {
		m.hc_nr[m.nhc] = nr;
		m.hc_a[m.nhc][0] = a;
		m.hc_a[m.nhc][1] = b;
		m.hc_a[m.nhc][2] = c;
		m.hc_a[m.nhc][3] = d;
		m.nhc++;
	}
	return m.hc_ret;
}

static void mock_halt(void)
{
	longjmp(m.jb, 2);
}

static void mock_paging_on(uint64_t root)
{
	m.paging_root = root;
}

/* ---- fixture and helpers ---- */

static struct snp_boot_params *bp;

static void setup(void)
{
	memset(&m, 0, sizeof(m));
	m.pg = calloc(SPAN_PAGES, 1);
	snp_host.mem = calloc(1, WSIZE);
	cr_assert(m.pg && snp_host.mem);
	snp_host.mem_base = WBASE;
	snp_host.mem_size = WSIZE;
	snp_host.pvalidate = mock_pvalidate;
	snp_host.vmgexit = mock_vmgexit;
	snp_host.hypercall = mock_hypercall;
	snp_host.halt = mock_halt;
	snp_host.paging_on = mock_paging_on;
	snp_host.sev_status = 7;
	m.sev_info = (2ull << 48) | (1ull << 32) | (51ull << 24) | GHCB_MSR_SEV_INFO_RESP;
	m.features = GHCB_HV_FT_SNP | GHCB_HV_FT_SNP_AP;
	m.rmp_2m = true;
	m.fail_pvalidate_gpa = ~0ull;
	/* launched: the image, the boot page and the RAM range are private and validated */
	for (uint64_t g = WBASE; g < UNA_GPA; g += 4096)
		*pg(g) = PG_PRIV | PG_VAL;
	snp_reset();
	snp_host_log_len = 0;
	snp_host_log[0] = 0;
	bp = snp_host_va(BP_GPA);
	bp->magic = SNP_BOOT_MAGIC;
	bp->version = SNP_BOOT_VERSION;
}

static void teardown(void)
{
	free(m.pg);
	free(snp_host.mem);
	m.pg = NULL;
	snp_host.mem = NULL;
}

/* a second scenario inside one test */
static void fresh(void)
{
	teardown();
	setup();
}

TestSuite(guest_lib, .init = setup, .fini = teardown);

static void add(uint64_t gpa, uint64_t size, uint32_t type, uint32_t flags)
{
	bp->ranges[bp->nr_ranges++] = (struct snp_boot_range){ gpa, size, type, flags };
}

/* the usual map: image + boot page reserved, 2 MiB RAM, @una bytes unaccepted */
static void std_map(uint64_t una)
{
	add(WBASE, IMG_END - WBASE, SNP_RANGE_RESERVED, 0);
	add(BP_GPA, 4096, SNP_RANGE_RESERVED, 0);
	add(RAM_GPA, 2ull << 20, SNP_RANGE_RAM, 0);
	if (una)
		add(UNA_GPA, una, SNP_RANGE_UNACCEPTED, 0);
}

static void parse(void)
{
	snp_boot_params(BP_GPA, WBASE, IMG_END, 0, 0);
}

static void boot(void)
{
	parse();
	snp_init(0);
}

/* Run @stmt expecting a terminate request (set, code) for reason @why. */
#define EXPECT_TERM(stmt, set, code, why) do { \
	if (setjmp(m.jb) == 0) { \
		stmt; \
		cr_assert_fail("no terminate: " #stmt); \
	} \
	cr_assert_eq(m.term, 1, "halted without a terminate request"); \
	cr_assert_eq(m.term_set, (set), "reason set %u", m.term_set); \
	cr_assert_eq(m.term_code, (unsigned)(code), "reason code 0x%x (log: %s)", m.term_code, \
		     snp_host_log); \
	cr_assert_eq(snp.fail, (why), "fail %d (%s)", snp.fail, snp_fail_name(snp.fail)); \
} while (0)

#define NO_TERM(stmt) do { \
	if (setjmp(m.jb) == 0) { \
		stmt; \
	} else { \
		cr_assert_fail("terminated: set %u code 0x%x: %s", m.term_set, m.term_code, \
			       snp_host_log); \
	} \
} while (0)

static unsigned count_pages(uint64_t a, uint64_t b, uint8_t mask, uint8_t want)
{
	unsigned n = 0;

	for (uint64_t g = a; g < b; g += 4096)
		n += (*pg(g) & mask) == want;
	return n;
}

/* ================================================================== */
/* boot parameters                                                     */
/* ================================================================== */

Test(guest_lib, bp_valid_sorted_and_cmdline)
{
	add(RAM_GPA, 2ull << 20, SNP_RANGE_RAM, 0);
	add(0, 0, SNP_RANGE_DEVICE, 64);
	add(UNA_GPA, 4ull << 20, SNP_RANGE_UNACCEPTED, 0);
	add(WBASE, IMG_END - WBASE, SNP_RANGE_RESERVED, 0);
	add(BP_GPA, 4096, SNP_RANGE_RESERVED, 0);
	strcpy(bp->cmdline, "  accept=lazy psc=msr page=4k cbit=pte touch=16m ");
	NO_TERM(parse());
	cr_assert_eq(snp.nr_ranges, 5);
	cr_assert_eq(snp.ranges[0].gpa, WBASE);
	cr_assert_eq(snp.ranges[1].gpa, BP_GPA);
	cr_assert_eq(snp.ranges[2].gpa, RAM_GPA);
	cr_assert_eq(snp.ranges[3].gpa, UNA_GPA);
	cr_assert_eq(snp.ranges[4].type, SNP_RANGE_DEVICE);
	cr_assert_eq(snp.accept, SNP_ACCEPT_LAZY);
	cr_assert_eq(snp.psc, SNP_PSC_MSR);
	cr_assert_not(snp.prefer_2m);
	cr_assert(snp.cbit_pte);
	char v[16];
	uint64_t sz = 0;
	cr_assert(snp_cmdline_get("touch", v, sizeof(v)));
	cr_assert_str_eq(v, "16m");
	cr_assert(snp_parse_size(v, &sz));
	cr_assert_eq(sz, 16ull << 20);
	cr_assert_not(snp_cmdline_get("touc", v, sizeof(v)));
	static const char *const keys[] = { "accept", "psc", "page", "cbit", "touch", NULL };
	NO_TERM(snp_cmdline_check(keys));
	unsigned qs = 0;
	uint64_t cap = 1;
	cr_assert(vq_device(&qs, &cap));
	cr_assert_eq(qs, 64);
	cr_assert_eq(cap, 0);
}

Test(guest_lib, bp_none_is_all_ram_and_no_snp_call)
{
	snp_boot_params(0, 0, 0, 0x80123400ull, 0x82000000ull);
	cr_assert_eq(snp.nr_ranges, 1);
	cr_assert_eq(snp.ranges[0].gpa, 0x80124000ull);
	cr_assert_eq(snp.ranges[0].size, 0x82000000ull - 0x80124000ull);
	snp_host.paging_on = NULL;
	snp_host.sev_status = 0;
	NO_TERM(snp_init(0));
	cr_assert_eq(snp.st.vmgexits + snp.st.hypercalls, 0);
	cr_assert_not(snp.snp);
	cr_assert_eq(snp_alloc_pages(2), 0x80124000ull);
	cr_assert_eq(snp_alloc_pages(1), 0x80126000ull);
	snp_set_memory_decrypted(0x80124000ull, 2);   /* no SNP: nothing to do */
	cr_assert_eq(snp.st.vmgexits + snp.st.psc_requests + m.nev, 0);
}

Test(guest_lib, bp_errors)
{
	/* each case on a fresh page: mutate, parse, expect the code */
#define BP_CASE(code, ...) do { \
		fresh(); std_map(4ull << 20); __VA_ARGS__; \
		EXPECT_TERM(parse(), SNP_TERM_SET_LINUX, code, SNP_FAIL_BOOT_PARAMS); \
	} while (0)
	BP_CASE(SNP_TERM_BP_MAGIC, bp->magic ^= 1);
	BP_CASE(SNP_TERM_BP_VERSION, bp->version = 2);
	BP_CASE(SNP_TERM_BP_COUNT, bp->nr_ranges = 65);
	BP_CASE(SNP_TERM_BP_CMDLINE, memset(bp->cmdline, 'x', sizeof(bp->cmdline)));
	BP_CASE(SNP_TERM_BP_TYPE, bp->ranges[2].type = 5);
	BP_CASE(SNP_TERM_BP_TYPE, bp->ranges[2].type = 0);
	BP_CASE(SNP_TERM_BP_ALIGN, bp->ranges[2].gpa += 0x800);
	BP_CASE(SNP_TERM_BP_ALIGN, bp->ranges[3].size = 0x1800);
	BP_CASE(SNP_TERM_BP_ALIGN, bp->ranges[3].size = 0);
	BP_CASE(SNP_TERM_BP_ALIGN, bp->ranges[3].gpa = ~0xfffull);
	BP_CASE(SNP_TERM_BP_OVERLAP, add(UNA_GPA + (2ull << 20), 4096, SNP_RANGE_RAM, 0));
	BP_CASE(SNP_TERM_BP_OVERLAP, add(RAM_GPA - 4096, 8192, SNP_RANGE_RESERVED, 0));
	BP_CASE(SNP_TERM_BP_DEVICE, add(0, 4096, SNP_RANGE_DEVICE, 64));
	BP_CASE(SNP_TERM_BP_DEVICE, add(0, 0, SNP_RANGE_DEVICE, 48));
	BP_CASE(SNP_TERM_BP_DEVICE, add(0, 0, SNP_RANGE_DEVICE, 512));
	BP_CASE(SNP_TERM_BP_DEVICE, add(0, 0, SNP_RANGE_DEVICE, 0));
	BP_CASE(SNP_TERM_BP_RESERVED, bp->ranges[1].type = SNP_RANGE_RAM);          /* the boot page */
	BP_CASE(SNP_TERM_BP_RESERVED, bp->ranges[0].type = SNP_RANGE_UNACCEPTED);   /* the image */
	BP_CASE(SNP_TERM_BP_NOMEM, bp->nr_ranges = 2);
	BP_CASE(SNP_TERM_BP_CMDKEY, strcpy(bp->cmdline, "accept=sometimes"));
	BP_CASE(SNP_TERM_BP_CMDKEY, strcpy(bp->cmdline, "psc=carrier-pigeon"));
	BP_CASE(SNP_TERM_BP_CMDKEY, strcpy(bp->cmdline, "page=1g"));
	BP_CASE(SNP_TERM_BP_CMDKEY, strcpy(bp->cmdline, "cbit=yes"));
	fresh();
	std_map(0);
	EXPECT_TERM(snp_boot_params(BP_GPA + 8, WBASE, IMG_END, 0, 0), SNP_TERM_SET_LINUX,
		    SNP_TERM_BP_ALIGN, SNP_FAIL_BOOT_PARAMS);
	fresh();
	std_map(0);
	strcpy(bp->cmdline, "accept=lazy colour=blue");
	NO_TERM(parse());
	static const char *const keys[] = { "accept", NULL };
	EXPECT_TERM(snp_cmdline_check(keys), SNP_TERM_SET_LINUX, SNP_TERM_BP_CMDKEY,
		    SNP_FAIL_BOOT_PARAMS);
	cr_assert(strstr(snp_host_log, "colour=blue"), "%s", snp_host_log);
}

Test(guest_lib, parse_size)
{
	uint64_t v;

	cr_assert(snp_parse_size("4096", &v) && v == 4096);
	cr_assert(snp_parse_size("64k", &v) && v == 65536);
	cr_assert(snp_parse_size("2M", &v) && v == 2ull << 20);
	cr_assert(snp_parse_size("3g", &v) && v == 3ull << 30);
	cr_assert_not(snp_parse_size("", &v));
	cr_assert_not(snp_parse_size("12q", &v));
	cr_assert_not(snp_parse_size("1kk", &v));
	cr_assert_not(snp_parse_size("99999999999999999999", &v));
	cr_assert_not(snp_parse_size("99999999999g", &v));
}

/* ================================================================== */
/* negotiation and the GHCB                                            */
/* ================================================================== */

Test(guest_lib, negotiation_failures)
{
	std_map(0);
	m.sev_info = (1ull << 48) | (1ull << 32) | GHCB_MSR_SEV_INFO_RESP;   /* only version 1 */
	EXPECT_TERM(boot(), SNP_TERM_SET_GEN, SNP_TERM_PROT_UNSUPPORTED, SNP_FAIL_PROTOCOL);
	fresh();
	std_map(0);
	m.sev_info = 0x7;   /* not a SEV_INFO response */
	EXPECT_TERM(boot(), SNP_TERM_SET_GEN, SNP_TERM_PROT_UNSUPPORTED, SNP_FAIL_PROTOCOL);
	fresh();
	std_map(0);
	m.sev_info = (2ull << 48) | (1ull << 32) | (7ull << 24) | GHCB_MSR_SEV_INFO_RESP;   /* C-bit 7 */
	EXPECT_TERM(boot(), SNP_TERM_SET_GEN, SNP_TERM_PROT_UNSUPPORTED, SNP_FAIL_PROTOCOL);
	fresh();
	std_map(0);
	m.features = GHCB_HV_FT_SNP_AP;   /* no SNP bit */
	EXPECT_TERM(boot(), SNP_TERM_SET_GEN, SNP_TERM_SNP_UNSUPPORTED, SNP_FAIL_FEATURES);
	fresh();
	std_map(0);
	m.reg_bad = 1;      /* registration answers another GFN */
	EXPECT_TERM(boot(), SNP_TERM_SET_LINUX, SNP_TERM_REGISTER, SNP_FAIL_REGISTER);
}

Test(guest_lib, ghcb_setup_order)
{
	std_map(0);
	strcpy(bp->cmdline, "cbit=pte");
	NO_TERM(boot());
	cr_assert_eq(snp.ghcb_version, 2);
	cr_assert_eq(snp.hv_features, GHCB_HV_FT_SNP | GHCB_HV_FT_SNP_AP);
	cr_assert_neq(snp.ghcb_gpa[0], 0);
	cr_assert_eq(m.ghcb, snp.ghcb_gpa[0]);
	/* rescind, then MSR PSC to shared, then (checked by the mock) register */
	unsigned r = m.nev, s = m.nev;
	for (unsigned i = 0; i < m.nev; i++) {
		if (m.ev[i].gpa != m.ghcb)
			continue;
		if (m.ev[i].kind == 'R' && r == m.nev)
			r = i;
		if (m.ev[i].kind == 'S' && s == m.nev)
			s = i;
	}
	cr_assert(r < s && s < m.nev, "rescind %u, PSC %u", r, s);
	cr_assert_eq(m.msr_psc, 1);
	cr_assert_eq(m.bad_order, 0);
	cr_assert_eq(*pg(m.ghcb), 0, "the GHCB is shared and not validated");
	/* C-bit clear on the GHCB's PTE, set on its neighbour */
	uint64_t size = 0, pte = snp_pt_lookup(m.ghcb, &size);
	cr_assert(pte & SNP_PTE_V);
	cr_assert_not(pte & SNP_PTE_C);
	cr_assert_eq(size, 4096);
	cr_assert(snp_pt_lookup(m.ghcb + 4096, NULL) & SNP_PTE_C);
	cr_assert_eq(m.paging_root, snp.pt_root);
}

/* ================================================================== */
/* acceptance and batching                                             */
/* ================================================================== */

Test(guest_lib, eager_ghcb_2m_one_request)
{
	std_map(12ull << 20);                        /* six 2M units */
	NO_TERM(boot());
	cr_assert_eq(snp.st.pages_accepted, 6 * 512);
	cr_assert_eq(m.ndesc, 1);
	cr_assert_eq(m.desc_size[0], 6);
	cr_assert_eq(m.nae_calls, 1);
	cr_assert_eq(m.e2m, 6);
	cr_assert_eq(m.e4k, 0);
	cr_assert_eq(snp.st.pvalidate_2m, 6);
	cr_assert_eq(snp.st.pvalidate_fallbacks, 0);
	cr_assert_eq(count_pages(UNA_GPA, UNA_GPA + (12ull << 20), PG_PRIV | PG_VAL, PG_PRIV | PG_VAL),
		     6 * 512);
	cr_assert_eq(m.bad_valid_bitmap + m.bad_order + m.bad_pvalidate, 0);
	cr_assert_eq(snp.st.lazy_units, 0);
	cr_assert_not(snp_range_unaccepted(UNA_GPA, UNA_GPA + (12ull << 20)));
	/* the PVALIDATEs of a private change come after its PSC */
	unsigned last_p = 0, first_v = m.nev;
	for (unsigned i = 0; i < m.nev; i++) {
		if (m.ev[i].gpa < UNA_GPA)
			continue;
		if (m.ev[i].kind == 'P')
			last_p = i;
		if (m.ev[i].kind == 'V' && first_v == m.nev)
			first_v = i;
	}
	cr_assert(last_p < first_v, "PSC %u before PVALIDATE %u", last_p, first_v);
}

Test(guest_lib, batching_64_entries)
{
	std_map(200ull << 20);                       /* 100 units: 64 + 36 */
	NO_TERM(boot());
	cr_assert_eq(m.ndesc, 2);
	cr_assert_eq(m.desc_size[0], 64);
	cr_assert_eq(m.desc_size[1], 36);
	cr_assert_eq(m.e2m, 100);
	cr_assert_eq(snp.st.pages_accepted, 100 * 512);
}

Test(guest_lib, batching_4k_preference)
{
	std_map(2ull << 20);
	strcpy(bp->cmdline, "page=4k");
	NO_TERM(boot());
	cr_assert_eq(m.ndesc, 8);                    /* 512 4K entries, 64 a request */
	for (unsigned i = 0; i < m.ndesc; i++)
		cr_assert_eq(m.desc_size[i], 64);
	cr_assert_eq(m.e4k, 512);
	cr_assert_eq(m.e2m, 0);
	cr_assert_eq(snp.st.pvalidate_4k, 512 + 1);  /* + the GHCB's rescind */
	cr_assert_eq(snp.st.pvalidate_2m, 0);
}

Test(guest_lib, batching_unaligned_start)
{
	/* [UNA + 4K, UNA + 4M) in one call: 511 4K entries up to the 2M boundary, then a 2M one */
	std_map(0);
	NO_TERM(boot());
	unsigned d0 = m.ndesc;
	NO_TERM(snp_accept_range(UNA_GPA + 4096, UNA_GPA + (4ull << 20)));
	cr_assert_eq(m.e4k, 511);
	cr_assert_eq(m.e2m, 1);
	cr_assert_eq(m.ndesc - d0, 8);
	for (unsigned i = d0; i < m.ndesc; i++)
		cr_assert_eq(m.desc_size[i], 64);
	cr_assert_eq(snp.st.pages_accepted, 1023);
	cr_assert_eq(snp.st.pvalidate_2m, 1);
	cr_assert_eq(count_pages(UNA_GPA + 4096, UNA_GPA + (4ull << 20), PG_VAL, PG_VAL), 1023);
	cr_assert_eq(*pg(UNA_GPA), 0);
}

Test(guest_lib, reissue_on_partial_processing)
{
	std_map(40ull << 20);                        /* 20 entries */
	m.max_per_call = 3;
	NO_TERM(boot());
	cr_assert_eq(m.ndesc, 1);
	cr_assert_eq(m.nae_calls, 7);                /* ceil(20 / 3) */
	cr_assert_eq(snp.st.psc_requests, 7 + 1);    /* + the GHCB's MSR PSC */
	cr_assert_eq(count_pages(UNA_GPA, UNA_GPA + (40ull << 20), PG_VAL, PG_VAL), 20 * 512);
}

Test(guest_lib, fallback_to_4k_on_sizemismatch)
{
	std_map(4ull << 20);
	m.rmp_2m = false;                            /* the host keeps 4K RMP entries */
	NO_TERM(boot());
	cr_assert_eq(snp.st.pvalidate_2m, 2);
	cr_assert_eq(snp.st.pvalidate_fallbacks, 2);
	cr_assert_eq(snp.st.pvalidate_4k, 2 * 512 + 1);
	cr_assert_eq(count_pages(UNA_GPA, UNA_GPA + (4ull << 20), PG_VAL, PG_VAL), 1024);
}

Test(guest_lib, msr_transport)
{
	std_map(4ull << 20);
	strcpy(bp->cmdline, "psc=msr");
	NO_TERM(boot());
	cr_assert_eq(m.nae_calls, 0);
	cr_assert_eq(m.msr_psc, 1024 + 1);
	cr_assert_eq(snp.st.psc_requests, 1025);
	/* the PVALIDATE size is the entry's; page by page the host made 4K RMP entries */
	cr_assert_eq(snp.st.pvalidate_2m, 2);
	cr_assert_eq(snp.st.pvalidate_fallbacks, 2);
	cr_assert_eq(count_pages(UNA_GPA, UNA_GPA + (4ull << 20), PG_VAL, PG_VAL), 1024);
}

Test(guest_lib, msr_psc_errors)
{
	std_map(2ull << 20);
	strcpy(bp->cmdline, "psc=msr");
	NO_TERM(parse());
	NO_TERM(snp_negotiate());
	m.msr_psc_err = 0x100;
	EXPECT_TERM(snp_ghcb_setup(0), SNP_TERM_SET_LINUX, SNP_TERM_PSC, SNP_FAIL_PSC_MSR_ERROR);
	fresh();
	std_map(2ull << 20);
	NO_TERM(parse());
	m.msr_psc_badcode = 1;
	EXPECT_TERM(snp_init(0), SNP_TERM_SET_LINUX, SNP_TERM_PSC, SNP_FAIL_PSC_MSR_RESP);
}

/* Every check against a hypervisor that lies about the NAE PSC. */
Test(guest_lib, misbehaving_hypervisor)
{
	static const struct { enum misbehave mb; unsigned per_call; enum snp_fail why; } cases[] = {
		{ MB_EXITINFO2, 0, SNP_FAIL_PSC_EXITINFO2 },
		{ MB_VMM_ERROR, 0, SNP_FAIL_PSC_VMM_ERROR },
		{ MB_BACKWARDS, 2, SNP_FAIL_PSC_BACKWARDS },
		{ MB_END_CHANGED, 0, SNP_FAIL_PSC_END_CHANGED },
		{ MB_RESERVED, 0, SNP_FAIL_PSC_RESERVED },
		{ MB_NO_PROGRESS, 0, SNP_FAIL_PSC_NO_PROGRESS },
		{ MB_UNPROCESSED, 0, SNP_FAIL_PSC_UNPROCESSED },
	};

	static unsigned i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (i)
			fresh();
		std_map(12ull << 20);
		m.mb = cases[i].mb;
		m.max_per_call = cases[i].per_call;
		EXPECT_TERM(boot(), SNP_TERM_SET_LINUX, SNP_TERM_PSC, cases[i].why);
		if (cases[i].mb == MB_NO_PROGRESS)
			cr_assert_eq(m.nae_calls, 16, "gave up after %u calls", m.nae_calls);
		/* nothing was validated on the hypervisor's word */
		cr_assert_eq(count_pages(UNA_GPA, UNA_GPA + (12ull << 20), PG_VAL, PG_VAL), 0,
			     "case %u", i);
	}
}

Test(guest_lib, pvalidate_failures)
{
	std_map(2ull << 20);
	m.fail_pvalidate_gpa = UNA_GPA;
	EXPECT_TERM(boot(), SNP_TERM_SET_LINUX, SNP_TERM_PVALIDATE, SNP_FAIL_PVALIDATE);
	fresh();
	/* a host that leaves Validated set through a PSC to private: CF=1 on the validate */
	std_map(0);
	NO_TERM(boot());
	m.psc_keeps_valid = 1;
	EXPECT_TERM(snp_set_memory_encrypted(RAM_GPA + (1ull << 20), 1), SNP_TERM_SET_LINUX,
		    SNP_TERM_PVALIDATE, SNP_FAIL_PVALIDATE_NOUPDATE);
	/* rescinding a page that is not validated: CF=1 too */
	fresh();
	std_map(0);
	NO_TERM(boot());
	*pg(RAM_GPA + (1ull << 20)) = PG_PRIV;
	EXPECT_TERM(snp_set_memory_decrypted(RAM_GPA + (1ull << 20), 1), SNP_TERM_SET_LINUX,
		    SNP_TERM_PVALIDATE, SNP_FAIL_PVALIDATE_NOUPDATE);
}

Test(guest_lib, lazy_acceptance)
{
	std_map(0);
	/* 8M + 12K unaccepted from UNA: four whole units, a partial one at the end */
	add(UNA_GPA, (8ull << 20) + 3 * 4096, SNP_RANGE_UNACCEPTED, 0);
	strcpy(bp->cmdline, "accept=lazy");
	NO_TERM(boot());
	/* at boot only the partial unit (3 pages) */
	cr_assert_eq(snp.st.pages_accepted, 3);
	cr_assert_eq(snp.bm_base, UNA_GPA);
	cr_assert_eq(snp.bm_units, 5);
	cr_assert_eq(snp_unaccepted_bitmap[0], 0xf, "bitmap 0x%llx",
		     (unsigned long long)snp_unaccepted_bitmap[0]);
	cr_assert_eq(count_pages(UNA_GPA, UNA_GPA + (8ull << 20), PG_PRIV, PG_PRIV), 0);
	/* use up the RAM range: no acceptance */
	uint64_t used = snp.st.pages_allocated;
	NO_TERM(snp_alloc_pages(512 - used));
	cr_assert_eq(snp.st.lazy_units, 0);
	/* the first page from UNACCEPTED accepts its unit, and only it */
	uint64_t g = 0;
	NO_TERM(g = snp_alloc_pages(1));
	cr_assert_eq(g, UNA_GPA);
	cr_assert_eq(snp.st.lazy_units, 1);
	cr_assert_eq(snp.st.pages_accepted, 3 + 512);
	cr_assert_eq(snp_unaccepted_bitmap[0], 0xe);
	cr_assert_eq(count_pages(UNA_GPA, UNA_GPA + SNP_2M, PG_VAL, PG_VAL), 512);
	cr_assert_eq(count_pages(UNA_GPA + SNP_2M, UNA_GPA + (8ull << 20), PG_PRIV, PG_PRIV), 0);
	/* the rest of that unit: nothing more */
	NO_TERM(snp_alloc_pages(511));
	cr_assert_eq(snp.st.lazy_units, 1);
	/* an allocation across two units accepts both in one run */
	unsigned calls = m.nae_calls;
	NO_TERM(snp_alloc_pages(513));
	cr_assert_eq(snp.st.lazy_units, 3);
	cr_assert_eq(snp_unaccepted_bitmap[0], 0x8);
	cr_assert_eq(m.nae_calls, calls + 1);
	cr_assert_eq(snp.st.pages_accepted, 3 + 3 * 512);
}

Test(guest_lib, eager_vs_lazy_totals)
{
	std_map(16ull << 20);
	NO_TERM(boot());
	uint64_t eager = snp.st.pages_accepted;
	fresh();
	std_map(16ull << 20);
	strcpy(bp->cmdline, "accept=lazy");
	NO_TERM(boot());
	cr_assert_eq(eager, 8 * 512);
	cr_assert_eq(snp.st.pages_accepted, 0);
	cr_assert_eq(snp_unaccepted_bitmap[0], 0xff);
	/* accepting the whole bitmap gives what eager did */
	NO_TERM(snp_accept_memory(UNA_GPA, UNA_GPA + (16ull << 20)));
	cr_assert_eq(snp.st.pages_accepted, eager);
	cr_assert_eq(snp_unaccepted_bitmap[0], 0);
}

Test(guest_lib, out_of_memory)
{
	std_map(0);
	NO_TERM(boot());
	EXPECT_TERM(snp_alloc_pages(1000), SNP_TERM_SET_LINUX, SNP_TERM_OOM, SNP_FAIL_OOM);
}

/* ================================================================== */
/* set_memory_*, page tables, bounce buffers                           */
/* ================================================================== */

Test(guest_lib, set_memory_order_and_cbit)
{
	std_map(0);
	strcpy(bp->cmdline, "cbit=pte");
	NO_TERM(boot());
	uint64_t g = 0;
	NO_TERM(g = snp_alloc_pages(4));
	static unsigned start;
	start = m.nev;
	NO_TERM(snp_set_memory_decrypted(g, 4));
	/* four rescinds, then four shared PSC entries */
	cr_assert_eq(m.nev - start, 8);
	for (unsigned i = 0; i < 4; i++) {
		cr_assert_eq(m.ev[start + i].kind, 'R');
		cr_assert_eq(m.ev[start + 4 + i].kind, 'S');
	}
	cr_assert_eq(m.bad_order, 0);
	cr_assert_eq(count_pages(g, g + 4 * 4096, 0xff, 0), 4);
	for (unsigned i = 0; i < 4; i++)
		cr_assert_not(snp_pt_lookup(g + i * 4096, NULL) & SNP_PTE_C);
	start = m.nev;
	NO_TERM(snp_set_memory_encrypted(g + 4096, 2));
	cr_assert_eq(m.ev[start].kind, 'P');
	cr_assert_eq(m.ev[start + 1].kind, 'P');
	cr_assert_eq(m.ev[start + 2].kind, 'V');
	cr_assert_eq(m.ev[start + 3].kind, 'V');
	cr_assert(snp_pt_lookup(g + 4096, NULL) & SNP_PTE_C);
	cr_assert_not(snp_pt_lookup(g, NULL) & SNP_PTE_C);
	cr_assert_eq(count_pages(g + 4096, g + 3 * 4096, 0xff, PG_PRIV | PG_VAL), 2);
	cr_assert_eq(snp.st.pages_shared, 1 + 4);
	cr_assert_eq(snp.st.pages_private, 2);
}

Test(guest_lib, page_tables)
{
	/* 1G-aligned unaccepted memory gets a 1G leaf */
	std_map(0);
	add(0xc0000000ull, 1ull << 30, SNP_RANGE_UNACCEPTED, 0);
	strcpy(bp->cmdline, "accept=lazy cbit=pte");
	NO_TERM(boot());
	uint64_t size = 0, pte;
	pte = snp_pt_lookup(0xc0000000ull + 12345 * 4096, &size);
	cr_assert_eq(size, 1ull << 30);
	cr_assert_eq(pte & 0x1ff, (uint64_t)(SNP_PTE_V | SNP_PTE_R | SNP_PTE_W | SNP_PTE_X | SNP_PTE_U |
					     SNP_PTE_A | SNP_PTE_D | SNP_PTE_C));
	cr_assert_eq((pte >> 10) << 12, 0xc0000000ull);
	/* the RAM range's 2M leaf was split for the GHCB (its C-bit cleared) */
	cr_assert_eq(snp.st.pt_splits, 1);
	pte = snp_pt_lookup(RAM_GPA + 8192, &size);
	cr_assert(pte & SNP_PTE_C);
	cr_assert_eq(size, 4096);
	snp_pt_lookup(WBASE, &size);
	cr_assert_eq(size, 4096, "the 1 MiB image: 4K leaves");
	cr_assert_eq(snp_pt_lookup(0x40000000ull, &size), 0);
	/* one 4K page of the 1G leaf to shared: split 1G -> 2M -> 4K */
	uint64_t splits = snp.st.pt_splits;
	snp_pt_set_cbit(0xc0201000ull, 1, false);
	cr_assert_eq(snp.st.pt_splits, splits + 2);
	pte = snp_pt_lookup(0xc0201000ull, &size);
	cr_assert_eq(size, 4096);
	cr_assert_not(pte & SNP_PTE_C);
	cr_assert_eq((pte >> 10) << 12, 0xc0201000ull);
	cr_assert(snp_pt_lookup(0xc0200000ull, &size) & SNP_PTE_C);
	cr_assert_eq(size, 4096);
	cr_assert(snp_pt_lookup(0xc0400000ull, &size) & SNP_PTE_C);
	cr_assert_eq(size, 1ull << 21);
	/* a whole 2M leaf changes without a split */
	snp_pt_set_cbit(0xc0600000ull, 512, false);
	cr_assert_eq(snp.st.pt_splits, splits + 2);
	cr_assert_not(snp_pt_lookup(0xc0600000ull, &size) & SNP_PTE_C);
}

Test(guest_lib, bounce_buffers)
{
	std_map(0);
	strcpy(bp->cmdline, "cbit=pte");
	NO_TERM(boot());
	unsigned calls = m.nae_calls;
	uint64_t a = 0, b = 0;
	NO_TERM(a = snp_bounce_alloc());
	NO_TERM(b = snp_bounce_alloc());
	cr_assert_neq(a, b);
	cr_assert_eq(m.nae_calls, calls + 1, "one PSC request for the chunk");
	cr_assert_eq(*pg(a), 0);
	cr_assert_not(snp_pt_lookup(a, NULL) & SNP_PTE_C);
	snp_bounce_free(a);
	uint64_t c = 0;
	NO_TERM(c = snp_bounce_alloc());
	cr_assert_eq(c, a);
	cr_assert_eq(m.nae_calls, calls + 1);
}

/* ================================================================== */
/* hypercalls, #VC                                                     */
/* ================================================================== */

Test(guest_lib, map_gpa_range_hypercall)
{
	m.hc_ret = 0;
	cr_assert_eq(snp_map_gpa_range(0x80400000ull, 16, true), 0);
	cr_assert_eq(snp_map_gpa_range(0x80600000ull, 1, false), 0);
	cr_assert_eq(m.nhc, 2);
	cr_assert_eq(m.hc_nr[0], 12);
	cr_assert_eq(m.hc_a[0][0], 0x80400000ull);
	cr_assert_eq(m.hc_a[0][1], 16);
	cr_assert_eq(m.hc_a[0][2], 0x10);
	cr_assert_eq(m.hc_a[1][2], 0);
	cr_assert_eq(snp.st.hypercalls, 2);
}

Test(guest_lib, vc_handler_policy)
{
	cr_assert_str_eq(snp_vc_name(0x404), "page not validated");
	cr_assert_str_eq(snp_vc_name(0x123), "unknown");
	EXPECT_TERM(snp_vc_fatal(0x404, 0x80400000ull, 0x80001000ull), SNP_TERM_SET_LINUX,
		    SNP_TERM_VC_NOT_VALIDATED, SNP_FAIL_VC);
	cr_assert(strstr(snp_host_log, "#VC 0x404 (page not validated)"), "%s", snp_host_log);
	cr_assert(strstr(snp_host_log, "0x80400000"), "%s", snp_host_log);
	fresh();
	EXPECT_TERM(snp_vc_fatal(0x72, 0, 0), SNP_TERM_SET_LINUX, SNP_TERM_VC_OTHER, SNP_FAIL_VC);
}

/* ================================================================== */
/* the virtqueue                                                       */
/* ================================================================== */

static void device_complete(struct vq *q, uint16_t id, uint32_t len, uint8_t status)
{
	struct vq_used *u = snp_host_va(q->used_gpa);
	const struct vq_desc *d = snp_host_va(q->desc_gpa);
	uint16_t st = d[id].next;

	st = d[st].next;   /* header -> data -> status */
	*(uint8_t *)snp_host_va(d[st].addr) = status;
	u->ring[u->idx & (q->size - 1)] = (struct vq_used_elem){ id, len };
	u->idx++;
}

Test(guest_lib, virtqueue)
{
	std_map(0);
	add(2048, 0, SNP_RANGE_DEVICE, 8);
	NO_TERM(boot());
	static struct vq q;
	static unsigned qs;
	static uint64_t cap;
	cr_assert(vq_device(&qs, &cap));
	cr_assert_eq(cap, 2048);
	cr_assert_eq(vq_setup(&q, 3, cap), -22);
	m.nhc = 0;
	long rc = -1;
	NO_TERM(rc = vq_setup(&q, qs, cap));
	cr_assert_eq(rc, 0);
	cr_assert_eq(m.nhc, 1);
	cr_assert_eq(m.hc_nr[0], PROTSIM_HC_VIRTIO_SETUP);
	cr_assert_eq(m.hc_a[0][0], q.desc_gpa);
	cr_assert_eq(m.hc_a[0][1], q.avail_gpa);
	cr_assert_eq(m.hc_a[0][2], q.used_gpa);
	cr_assert_eq(m.hc_a[0][3], 8);
	cr_assert_eq(*pg(q.desc_gpa) | *pg(q.avail_gpa) | *pg(q.used_gpa), 0, "rings shared");

	static struct vblk_req r[3];
	static unsigned i;
	memset(r, 0, sizeof(r));
	for (i = 0; i < 3; i++) {
		NO_TERM(r[i].hdr_gpa = snp_bounce_alloc());
		NO_TERM(r[i].data_gpa = snp_bounce_alloc());
		r[i].len = 4096;
		cr_assert_eq(*pg(r[i].data_gpa), 0);
	}
	cr_assert_eq(vq_add(&q, &r[0], VBLK_T_OUT, 16), 0);
	cr_assert_eq(vq_add(&q, &r[1], VBLK_T_IN, 24), 0);
	cr_assert_eq(vq_add(&q, &r[2], VBLK_T_IN, 32), -1, "8 descriptors hold two chains");
	const struct vq_desc *d = snp_host_va(q.desc_gpa);
	const struct vq_avail *av = snp_host_va(q.avail_gpa);
	cr_assert_eq(av->idx, 2);
	cr_assert_eq(av->ring[0], r[0].head);
	cr_assert_eq(av->ring[1], r[1].head);
	/* the write chain: header (read), data (read), status (write) */
	const struct vq_desc *h = &d[r[0].head], *dd = &d[h->next], *s = &d[dd->next];
	cr_assert_eq(h->addr, r[0].hdr_gpa);
	cr_assert_eq(h->len, 16);
	cr_assert_eq(h->flags, VQ_DESC_F_NEXT);
	cr_assert_eq(dd->addr, r[0].data_gpa);
	cr_assert_eq(dd->len, 4096);
	cr_assert_eq(dd->flags, VQ_DESC_F_NEXT);
	cr_assert_eq(s->addr, r[0].hdr_gpa + 16);
	cr_assert_eq(s->len, 1);
	cr_assert_eq(s->flags, VQ_DESC_F_WRITE);
	const struct vblk_req_hdr *rh = snp_host_va(r[0].hdr_gpa);
	cr_assert_eq(rh->type, VBLK_T_OUT);
	cr_assert_eq(rh->sector, 16);
	/* the read chain: the data descriptor is device-writable */
	h = &d[r[1].head];
	cr_assert_eq(d[h->next].flags, VQ_DESC_F_NEXT | VQ_DESC_F_WRITE);
	cr_assert_eq(((const struct vblk_req_hdr *)snp_host_va(r[1].hdr_gpa))->type, VBLK_T_IN);
	m.nhc = 0;
	vq_kick(&q);
	cr_assert_eq(m.hc_nr[0], PROTSIM_HC_VIRTIO_NOTIFY);
	/* nothing used yet */
	cr_assert_eq(vq_reap(&q, r, 2), 0);
	/* completions out of order; a bogus id is consumed and ignored */
	device_complete(&q, r[1].head, 4097, VBLK_S_OK);
	cr_assert_eq(vq_reap(&q, r, 2), 1);
	cr_assert(r[1].done);
	cr_assert_not(r[0].done);
	cr_assert_eq(r[1].status, VBLK_S_OK);
	cr_assert_eq(r[1].used_len, 4097);
	cr_assert_eq(q.nfree, 5);
	device_complete(&q, r[0].head, 1, VBLK_S_IOERR);
	struct vq_used *u = snp_host_va(q.used_gpa);
	u->ring[u->idx & 7] = (struct vq_used_elem){ 7, 0 };
	u->idx++;
	cr_assert_eq(vq_reap(&q, r, 2), 2);
	cr_assert(r[0].done);
	cr_assert_eq(r[0].status, VBLK_S_IOERR);
	cr_assert_eq(q.nfree, 8);
	cr_assert_eq(q.completions, 3);
	/* the ring wraps: descriptors come back and are reused */
	for (unsigned round = 0; round < 5; round++) {
		cr_assert_eq(vq_add(&q, &r[2], VBLK_T_IN, round), 0);
		device_complete(&q, r[2].head, 4097, VBLK_S_OK);
		cr_assert_eq(vq_reap(&q, &r[2], 1), 1);
		cr_assert(r[2].done);
	}
	cr_assert_eq(q.nfree, 8);
}

Test(guest_lib, per_hart_ghcb)
{
	std_map(0);
	NO_TERM(boot());
	uint64_t g0 = snp.ghcb_gpa[0];
	/* hart 1 without a GHCB: its PSC goes page by page through the MSR protocol */
	snp_host.hart = 1;
	unsigned msr = m.msr_psc, nae = m.nae_calls;
	uint64_t g = 0;
	NO_TERM(g = snp_alloc_pages(2));
	NO_TERM(snp_set_memory_decrypted(g, 2));
	cr_assert_eq(m.msr_psc, msr + 2);
	cr_assert_eq(m.nae_calls, nae);
	/* with its own GHCB (registered: the mock now answers NAE events on it) */
	NO_TERM(snp_ghcb_setup(1));
	cr_assert_neq(snp.ghcb_gpa[1], g0);
	cr_assert_eq(m.ghcb, snp.ghcb_gpa[1]);
	NO_TERM(snp_set_memory_encrypted(g, 2));
	cr_assert_eq(m.nae_calls, nae + 1);
	cr_assert_eq(count_pages(g, g + 2 * 4096, 0xff, PG_PRIV | PG_VAL), 2);
}

/*
 * Random conversions (fixed seed): shared and private ranges of 1..600
 * pages over 8 MiB of accepted memory, with the host processing 1..5
 * entries a call and 2M or 4K RMP entries, both transports.  After each
 * step the mock RMP and the C-bits match a model: shared = not assigned
 * and C clear, private = assigned, validated and C set.
 */
Test(guest_lib, random_conversions_match_the_model)
{
	static uint8_t model[2048];        /* 1 = shared, over [UNA, UNA + 8M) */
	static unsigned step, conversions;
	static uint64_t x, first, n;
	static bool share;

	std_map(8ull << 20);
	strcpy(bp->cmdline, "cbit=pte");
	NO_TERM(boot());
	memset(model, 0, sizeof(model));
	x = 12345;
	for (step = 0; step < 300; step++) {
		x = x * 6364136223846793005ull + 1442695040888963407ull;
		first = (x >> 20) % 2048;
		n = 1 + (x >> 40) % 600;
		share = (x >> 8) & 1;

		if (first + n > 2048)
			n = 2048 - first;
		m.max_per_call = 1 + (unsigned)((x >> 12) % 5);
		m.rmp_2m = (x >> 16) & 1;
		snp.psc = (x >> 18) & 1 ? SNP_PSC_MSR : SNP_PSC_GHCB;
		/* only whole runs in one state change (as Linux callers do) */
		for (uint64_t i = first; i < first + n; i++)
			if (model[i] != model[first]) {
				n = i - first;
				break;
			}
		if (model[first] == share)
			continue;
		if (share)
			NO_TERM(snp_set_memory_decrypted(UNA_GPA + first * 4096, n));
		else
			NO_TERM(snp_set_memory_encrypted(UNA_GPA + first * 4096, n));
		memset(model + first, share, n);
		conversions++;
		for (unsigned i = 0; i < 2048; i++) {
			uint64_t g = UNA_GPA + i * 4096ull;
			uint8_t st = *pg(g) & (PG_PRIV | PG_VAL);
			bool c = (snp_pt_lookup(g, NULL) & SNP_PTE_C) != 0;

			cr_assert_eq(st, model[i] ? 0 : PG_PRIV | PG_VAL, "step %u page %u state %u",
				     step, i, st);
			cr_assert_eq(c, !model[i], "step %u page %u C-bit", step, i);
		}
	}
	cr_assert_eq(m.bad_order + m.bad_pvalidate + m.bad_valid_bitmap, 0);
	cr_assert_gt(snp.st.pt_splits, 2);
	cr_assert_gt(conversions, 100, "%u conversions", conversions);
}

/* No RAM range: boot's own pages (page tables, GHCB) accept their unit over the MSR protocol. */
Test(guest_lib, boot_without_ram_range)
{
	add(WBASE, IMG_END - WBASE, SNP_RANGE_RESERVED, 0);
	add(BP_GPA, 4096, SNP_RANGE_RESERVED, 0);
	add(UNA_GPA, 8ull << 20, SNP_RANGE_UNACCEPTED, 0);
	NO_TERM(boot());
	cr_assert_eq(m.msr_psc, 512 + 1, "the first unit page by page, then the GHCB to shared");
	cr_assert_eq(m.ndesc, 1);
	cr_assert_eq(m.desc_size[0], 3, "the other three units in one NAE request");
	cr_assert_eq(snp.st.pages_accepted, 4 * 512);
	cr_assert_eq(snp_unaccepted_bitmap[0], 0);
	cr_assert(snp.ghcb_gpa[0] >= UNA_GPA && snp.ghcb_gpa[0] < UNA_GPA + SNP_2M);
	cr_assert_eq(count_pages(UNA_GPA, UNA_GPA + (8ull << 20), PG_PRIV | PG_VAL, PG_PRIV | PG_VAL),
		     4 * 512 - 1);
}

/* The default: no page tables; the GHCB and the rings through the C-bit alias (bit 51). */
Test(guest_lib, cbit_alias_default)
{
	std_map(0);
	add(0, 0, SNP_RANGE_DEVICE, 16);
	NO_TERM(boot());
	cr_assert_not(snp.cbit_pte);
	cr_assert_not(snp.paging);
	cr_assert_eq(m.paging_root, 0);
	cr_assert_eq(snp.cbit_pos, 51);
	cr_assert_eq(snp_pt_lookup(RAM_GPA, NULL), 0);
	unsigned refs = m.shared_refs;
	cr_assert_gt(refs, 0, "the GHCB zeroed through the alias");
	uint64_t g = 0;
	NO_TERM(g = snp_alloc_pages(1));
	NO_TERM(snp_set_memory_decrypted(g, 1));
	cr_assert_gt(m.shared_refs, refs, "the NAE PSC through the alias");
	cr_assert_eq((uint8_t *)snp_shared_ptr(g), snp_host.mem + (g - WBASE));
	static struct vq q;
	NO_TERM(vq_setup(&q, 16, 0));
	cr_assert_eq((void *)q.used, snp_host_va(q.used_gpa));
}
