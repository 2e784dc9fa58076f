/*
 * mem.c - the SNP guest kernel library's memory side: the boot-parameters
 * page (checked field by field), the command line, the memory map, a bump
 * page allocator over it, acceptance (eager at boot, or lazy with an
 * unaccepted-memory bitmap of 2M units as Linux's EFI unaccepted-memory
 * table: a unit is accepted on the first allocation that touches it, and
 * units only partly unaccepted are accepted at boot), the bounce-buffer
 * pool of shared pages, and snp_init (the boot sequence).
 */
#include <string.h>

#include "protsim/snp.h"
#include "snp_arch.h"

uint64_t snp_unaccepted_bitmap[SNP_BITMAP_UNITS / 64];

#define BOUNCE_POOL   256u
#define BOUNCE_CHUNK  16u
static uint64_t bounce_pool[BOUNCE_POOL];
static unsigned bounce_n;

void snp_reset(void)
{
	memset(&snp, 0, sizeof(snp));
	memset(snp_unaccepted_bitmap, 0, sizeof(snp_unaccepted_bitmap));
	bounce_n = 0;
	snp.accept = SNP_ACCEPT_EAGER;
	snp.psc = SNP_PSC_GHCB;
	snp.prefer_2m = true;
	snp.cbit_pos = 51;
}

__attribute__((noreturn)) static void bp_fail(unsigned code, const char *what, int idx)
{
	if (idx >= 0)
		snp_printf("snp: boot parameters: range %d: %s\n", idx, what);
	else
		snp_printf("snp: boot parameters: %s\n", what);
	snp_terminate(SNP_TERM_SET_LINUX, code, SNP_FAIL_BOOT_PARAMS);
}

static bool overlaps(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen)
{
	return a < b + blen && b < a + alen;
}

static bool is_mem(uint32_t type)
{
	return type == SNP_RANGE_RAM || type == SNP_RANGE_UNACCEPTED;
}

/* ------------------------------------------------------------------ */
/* Command line: words "key=value" separated by spaces                  */
/* ------------------------------------------------------------------ */

static const char *word_next(const char *p, const char **end)
{
	while (*p == ' ' || *p == '\t')
		p++;
	if (!*p)
		return NULL;
	*end = p;
	while (**end && **end != ' ' && **end != '\t')
		(*end)++;
	return p;
}

bool snp_cmdline_get(const char *key, char *buf, size_t len)
{
	size_t kl = strlen(key);
	const char *p = snp.cmdline, *w, *e;

	while ((w = word_next(p, &e))) {
		if ((size_t)(e - w) > kl && !strncmp(w, key, kl) && w[kl] == '=') {
			size_t n = (size_t)(e - w) - kl - 1;

			if (n >= len)
				n = len - 1;
			memcpy(buf, w + kl + 1, n);
			buf[n] = 0;
			return true;
		}
		p = e;
	}
	return false;
}

void snp_cmdline_check(const char *const *known)
{
	const char *p = snp.cmdline, *w, *e;

	while ((w = word_next(p, &e))) {
		bool ok = false;

		for (unsigned i = 0; known[i] && !ok; i++) {
			size_t kl = strlen(known[i]);

			ok = (size_t)(e - w) > kl && !strncmp(w, known[i], kl) && w[kl] == '=';
		}
		if (!ok) {
			snp_printf("snp: command line: unknown key in '%.*s'\n", (int)(e - w), w);
			snp_terminate(SNP_TERM_SET_LINUX, SNP_TERM_BP_CMDKEY, SNP_FAIL_BOOT_PARAMS);
		}
		p = e;
	}
}

bool snp_parse_size(const char *s, uint64_t *out)
{
	uint64_t v = 0, mul = 1;

	if (!*s)
		return false;
	for (; *s >= '0' && *s <= '9'; s++) {
		if (v > (UINT64_MAX - 9) / 10)
			return false;
		v = v * 10 + (uint64_t)(*s - '0');
	}
	switch (*s) {
	case 0:
		break;
	case 'k': case 'K':
		mul = 1ull << 10;
		s++;
		break;
	case 'm': case 'M':
		mul = 1ull << 20;
		s++;
		break;
	case 'g': case 'G':
		mul = 1ull << 30;
		s++;
		break;
	default:
		return false;
	}
	if (*s || (v && mul > UINT64_MAX / v))
		return false;
	*out = v * mul;
	return true;
}

static void cmdline_library_keys(void)
{
	char v[16];

	if (snp_cmdline_get("accept", v, sizeof(v))) {
		if (!strcmp(v, "eager"))
			snp.accept = SNP_ACCEPT_EAGER;
		else if (!strcmp(v, "lazy"))
			snp.accept = SNP_ACCEPT_LAZY;
		else
			bp_fail(SNP_TERM_BP_CMDKEY, "accept= wants eager or lazy", -1);
	}
	if (snp_cmdline_get("psc", v, sizeof(v))) {
		if (!strcmp(v, "msr"))
			snp.psc = SNP_PSC_MSR;
		else if (!strcmp(v, "ghcb"))
			snp.psc = SNP_PSC_GHCB;
		else
			bp_fail(SNP_TERM_BP_CMDKEY, "psc= wants msr or ghcb", -1);
	}
	if (snp_cmdline_get("cbit", v, sizeof(v))) {
		if (!strcmp(v, "alias"))
			snp.cbit_pte = false;
		else if (!strcmp(v, "pte"))
			snp.cbit_pte = true;
		else
			bp_fail(SNP_TERM_BP_CMDKEY, "cbit= wants alias or pte", -1);
	}
	if (snp_cmdline_get("page", v, sizeof(v))) {
		if (!strcmp(v, "4k"))
			snp.prefer_2m = false;
		else if (!strcmp(v, "2m"))
			snp.prefer_2m = true;
		else
			bp_fail(SNP_TERM_BP_CMDKEY, "page= wants 4k or 2m", -1);
	}
}

/* ------------------------------------------------------------------ */
/* Boot parameters                                                     */
/* ------------------------------------------------------------------ */

static void sort_ranges(void)
{
	/* memory ranges by address first, devices after them */
	for (unsigned i = 1; i < snp.nr_ranges; i++) {
		struct snp_range r = snp.ranges[i];
		uint64_t k = (r.type == SNP_RANGE_DEVICE ? 1ull << 63 : 0) | (r.gpa >> 1);
		unsigned j = i;

		while (j > 0) {
			const struct snp_range *p = &snp.ranges[j - 1];
			uint64_t pk = (p->type == SNP_RANGE_DEVICE ? 1ull << 63 : 0) | (p->gpa >> 1);

			if (pk <= k)
				break;
			snp.ranges[j] = *p;
			j--;
		}
		snp.ranges[j] = r;
	}
}

void snp_boot_params(uint64_t gpa, uint64_t img_start, uint64_t img_end, uint64_t ram_start,
		     uint64_t ram_end)
{
	const volatile struct snp_boot_params *bp;
	bool any = false;
	uint32_t nr;

	snp.boot_gpa = gpa;
	if (!gpa) {
		ram_start = (ram_start + SNP_PAGE_SIZE - 1) & ~(SNP_PAGE_SIZE - 1);
		ram_end &= ~(SNP_PAGE_SIZE - 1);
		if (ram_end <= ram_start)
			bp_fail(SNP_TERM_BP_NOMEM, "no memory", -1);
		snp.nr_ranges = 1;
		snp.ranges[0] = (struct snp_range){ ram_start, ram_end - ram_start, SNP_RANGE_RAM, 0 };
		snp.cursor[0] = ram_start;
		snp.cmdline[0] = 0;
		return;
	}
	if (gpa & (SNP_PAGE_SIZE - 1))
		bp_fail(SNP_TERM_BP_ALIGN, "the page is not 4K-aligned", -1);
	bp = snp_va(gpa);
	if (bp->magic != SNP_BOOT_MAGIC)
		bp_fail(SNP_TERM_BP_MAGIC, "bad magic", -1);
	if (bp->version != SNP_BOOT_VERSION)
		bp_fail(SNP_TERM_BP_VERSION, "unknown version", -1);
	nr = bp->nr_ranges;
	if (nr > SNP_BOOT_MAX_RANGES)
		bp_fail(SNP_TERM_BP_COUNT, "more than 64 ranges", -1);
	/* read each field once: the page is the VMM's */
	for (unsigned i = 0; i < SNP_BOOT_CMDLINE; i++) {
		snp.cmdline[i] = bp->cmdline[i];
		if (!snp.cmdline[i])
			break;
		if (i == SNP_BOOT_CMDLINE - 1)
			bp_fail(SNP_TERM_BP_CMDLINE, "command line not NUL-terminated", -1);
	}
	snp.nr_ranges = nr;
	for (unsigned i = 0; i < nr; i++) {
		struct snp_range *r = &snp.ranges[i];

		r->gpa = bp->ranges[i].gpa;
		r->size = bp->ranges[i].size;
		r->type = bp->ranges[i].type;
		r->flags = bp->ranges[i].flags;
		if (r->type < SNP_RANGE_RAM || r->type > SNP_RANGE_DEVICE)
			bp_fail(SNP_TERM_BP_TYPE, "unknown type", (int)i);
		if (r->type == SNP_RANGE_DEVICE) {
			if (r->size || !r->flags || r->flags > VQ_MAX_SIZE || (r->flags & (r->flags - 1)))
				bp_fail(SNP_TERM_BP_DEVICE,
					"device: size must be 0, flags a power of two up to 256", (int)i);
			continue;
		}
		if (!r->size || ((r->gpa | r->size) & (SNP_PAGE_SIZE - 1)) || r->gpa + r->size < r->gpa)
			bp_fail(SNP_TERM_BP_ALIGN, "misaligned, empty or wrapping", (int)i);
		if (is_mem(r->type))
			any = true;
	}
	sort_ranges();
	for (unsigned i = 1; i < nr; i++) {
		const struct snp_range *a = &snp.ranges[i - 1], *b = &snp.ranges[i];

		if (b->type != SNP_RANGE_DEVICE && a->gpa + a->size > b->gpa)
			bp_fail(SNP_TERM_BP_OVERLAP, "overlaps the previous range", (int)i);
	}
	for (unsigned i = 0; i < nr; i++) {
		const struct snp_range *r = &snp.ranges[i];

		if (is_mem(r->type) && (overlaps(r->gpa, r->size, gpa, SNP_PAGE_SIZE) ||
					(img_end > img_start &&
					 overlaps(r->gpa, r->size, img_start, img_end - img_start))))
			bp_fail(SNP_TERM_BP_RESERVED, "usable memory over the image or the boot page", (int)i);
		snp.cursor[i] = r->gpa;
	}
	if (!any)
		bp_fail(SNP_TERM_BP_NOMEM, "no RAM or UNACCEPTED range", -1);
	cmdline_library_keys();
}

/* ------------------------------------------------------------------ */
/* Unaccepted-memory bitmap (2M units)                                 */
/* ------------------------------------------------------------------ */

static bool bm_test(uint64_t u)
{
	return (snp_unaccepted_bitmap[u / 64] >> (u % 64)) & 1;
}

static void bm_clear(uint64_t u)
{
	snp_unaccepted_bitmap[u / 64] &= ~(1ull << (u % 64));
}

/* Unit span [ua, ub) of [start, end) clipped to the bitmap. */
static bool bm_span(uint64_t start, uint64_t end, uint64_t *ua, uint64_t *ub)
{
	uint64_t lo = snp.bm_base, hi = snp.bm_base + snp.bm_units * SNP_UNIT;

	if (!snp.bm_units || end <= lo || start >= hi)
		return false;
	if (start < lo)
		start = lo;
	if (end > hi)
		end = hi;
	*ua = (start - lo) / SNP_UNIT;
	*ub = (end - lo + SNP_UNIT - 1) / SNP_UNIT;
	return true;
}

bool snp_range_unaccepted(uint64_t start, uint64_t end)
{
	uint64_t ua, ub;

	if (!bm_span(start, end, &ua, &ub))
		return false;
	for (uint64_t u = ua; u < ub; u++)
		if (bm_test(u))
			return true;
	return false;
}

/* Accept the UNACCEPTED memory inside [a, b). */
static void accept_span(uint64_t a, uint64_t b)
{
	for (unsigned i = 0; i < snp.nr_ranges; i++) {
		const struct snp_range *r = &snp.ranges[i];
		uint64_t s, e;

		if (r->type != SNP_RANGE_UNACCEPTED)
			continue;
		s = r->gpa > a ? r->gpa : a;
		e = r->gpa + r->size < b ? r->gpa + r->size : b;
		if (s < e)
			snp_accept_range(s, e);
	}
}

void snp_accept_memory(uint64_t start, uint64_t end)
{
	uint64_t ua, ub, u;

	if (!bm_span(start, end, &ua, &ub))
		return;
	for (u = ua; u < ub;) {
		uint64_t run;

		if (!bm_test(u)) {
			u++;
			continue;
		}
		/* a run of unaccepted units: one call, so the PSC batches fill up */
		for (run = u; run < ub && bm_test(run); run++)
			bm_clear(run);
		accept_span(snp.bm_base + u * SNP_UNIT, snp.bm_base + run * SNP_UNIT);
		u = run;
	}
}

/* Mark every 2M unit that holds UNACCEPTED memory. */
static void bm_setup(void)
{
	uint64_t lo = UINT64_MAX, hi = 0;

	for (unsigned i = 0; i < snp.nr_ranges; i++) {
		const struct snp_range *r = &snp.ranges[i];

		if (r->type != SNP_RANGE_UNACCEPTED)
			continue;
		if (r->gpa < lo)
			lo = r->gpa;
		if (r->gpa + r->size > hi)
			hi = r->gpa + r->size;
	}
	if (!hi)
		return;
	lo &= ~(SNP_UNIT - 1);
	hi = (hi + SNP_UNIT - 1) & ~(SNP_UNIT - 1);
	if ((hi - lo) / SNP_UNIT > SNP_BITMAP_UNITS)
		bp_fail(SNP_TERM_BP_NOMEM, "unaccepted memory spans more than the bitmap covers", -1);
	snp.bm_base = lo;
	snp.bm_units = (hi - lo) / SNP_UNIT;
	for (unsigned i = 0; i < snp.nr_ranges; i++) {
		const struct snp_range *r = &snp.ranges[i];

		if (r->type != SNP_RANGE_UNACCEPTED)
			continue;
		for (uint64_t u = (r->gpa - lo) / SNP_UNIT;
		     u < (r->gpa + r->size - lo + SNP_UNIT - 1) / SNP_UNIT; u++)
			snp_unaccepted_bitmap[u / 64] |= 1ull << (u % 64);
	}
}

/* Units only partly UNACCEPTED cannot be left to the bitmap (Linux accepts them at boot). */
static void accept_partial_units(void)
{
	for (unsigned i = 0; i < snp.nr_ranges; i++) {
		const struct snp_range *r = &snp.ranges[i];
		uint64_t a, b;

		if (r->type != SNP_RANGE_UNACCEPTED)
			continue;
		a = r->gpa;
		b = r->gpa + r->size;
		if (a & (SNP_UNIT - 1))
			snp_accept_memory(a, a + 1);
		if (b & (SNP_UNIT - 1))
			snp_accept_memory(b - 1, b);
	}
}

/* ------------------------------------------------------------------ */
/* Page allocator                                                      */
/* ------------------------------------------------------------------ */

static uint64_t alloc_from(unsigned i, uint64_t npages)
{
	const struct snp_range *r = &snp.ranges[i];
	uint64_t g = snp.cursor[i], len = npages * SNP_PAGE_SIZE;

	if (!is_mem(r->type) || len > r->gpa + r->size - g)
		return 0;
	snp.cursor[i] = g + len;
	if (r->type == SNP_RANGE_UNACCEPTED && snp_range_unaccepted(g, g + len)) {
		uint64_t ua, ub;

		/* lazy acceptance: the units this allocation touches */
		if (bm_span(g, g + len, &ua, &ub))
			for (uint64_t u = ua; u < ub; u++)
				snp.st.lazy_units += bm_test(u);
		snp_accept_memory(g, g + len);
	}
	snp.st.pages_allocated += npages;
	return g;
}

uint64_t snp_alloc_pages(uint64_t npages)
{
	uint64_t g;

	/* accepted RAM first, then UNACCEPTED (accepted on first use when lazy) */
	for (unsigned pass = 0; pass < 2; pass++)
		for (unsigned i = 0; i < snp.nr_ranges; i++)
			if (snp.ranges[i].type == (pass ? SNP_RANGE_UNACCEPTED : SNP_RANGE_RAM) &&
			    (g = alloc_from(i, npages)))
				return g;
	snp_printf("snp: out of memory (%llu pages wanted, %llu bytes free)\n",
		   (unsigned long long)npages, (unsigned long long)snp_free_bytes());
	snp_terminate(SNP_TERM_SET_LINUX, SNP_TERM_OOM, SNP_FAIL_OOM);
}

uint64_t snp_free_bytes(void)
{
	uint64_t n = 0;

	for (unsigned i = 0; i < snp.nr_ranges; i++)
		if (is_mem(snp.ranges[i].type))
			n += snp.ranges[i].gpa + snp.ranges[i].size - snp.cursor[i];
	return n;
}

/* ------------------------------------------------------------------ */
/* Bounce buffers                                                      */
/* ------------------------------------------------------------------ */

uint64_t snp_bounce_alloc(void)
{
	if (!bounce_n) {
		/* a chunk at a time, so one PSC request makes them all shared */
		uint64_t g = snp_alloc_pages(BOUNCE_CHUNK);

		snp_set_memory_decrypted(g, BOUNCE_CHUNK);
		for (unsigned i = BOUNCE_CHUNK; i-- > 0;)
			bounce_pool[bounce_n++] = g + i * SNP_PAGE_SIZE;
	}
	return bounce_pool[--bounce_n];
}

void snp_bounce_free(uint64_t gpa)
{
	if (bounce_n < BOUNCE_POOL) {
		bounce_pool[bounce_n++] = gpa;
		return;
	}
	/* the pool is full: the page goes back to private (and is not reused) */
	snp_set_memory_encrypted(gpa, 1);
}

/* ------------------------------------------------------------------ */
/* Boot sequence                                                       */
/* ------------------------------------------------------------------ */

void snp_init(unsigned hart)
{
	bool sev_snp = (snp_arch_sev_status() & 4) != 0;

	snp.snp = snp.boot_gpa && sev_snp;
	if (snp.snp) {
		snp_install_vc_handler();
		snp_negotiate();
	}
	bm_setup();
	/*
	 * cbit=pte: the C-bit map (needs vm.cbit_pte=1); also without boot
	 * parameters on an SNP vCPU, where it is all private (no SNP call in it)
	 */
	if (sev_snp && (snp.cbit_pte || !snp.boot_gpa)) {
		snp.cbit_pte = true;
		snp_paging_init();
	}
	if (snp.snp)
		snp_ghcb_setup(hart);
	accept_partial_units();
	if (snp.accept == SNP_ACCEPT_EAGER && snp.bm_units)
		snp_accept_memory(snp.bm_base, snp.bm_base + snp.bm_units * SNP_UNIT);
}
