/*
 * test_elf.c - the ELF loader: a minimal valid RV64 executable is built
 * in memory, then broken one way per case; every bad file must give its
 * exact one-line error naming the file and the problem.
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>

#include <elf.h>
#include <stdlib.h>
#include <unistd.h>

#include "cpu/cpu.h"

#define BASE 0x80000000ull
#define MSIZE 0x100000ull

struct img {
	Elf64_Ehdr eh;
	Elf64_Phdr ph[2];
	uint8_t code[16];
};

static void good(struct img *m)
{
	memset(m, 0, sizeof(*m));
	memcpy(m->eh.e_ident, ELFMAG, SELFMAG);
	m->eh.e_ident[EI_CLASS] = ELFCLASS64;
	m->eh.e_ident[EI_DATA] = ELFDATA2LSB;
	m->eh.e_ident[EI_VERSION] = EV_CURRENT;
	m->eh.e_type = ET_EXEC;
	m->eh.e_machine = 243;
	m->eh.e_version = EV_CURRENT;
	m->eh.e_entry = BASE;
	m->eh.e_phoff = offsetof(struct img, ph);
	m->eh.e_ehsize = sizeof(Elf64_Ehdr);
	m->eh.e_phentsize = sizeof(Elf64_Phdr);
	m->eh.e_phnum = 2;
	m->ph[0].p_type = PT_LOAD;
	m->ph[0].p_flags = PF_R | PF_X;
	m->ph[0].p_offset = offsetof(struct img, code);
	m->ph[0].p_vaddr = m->ph[0].p_paddr = BASE;
	m->ph[0].p_filesz = 16;
	m->ph[0].p_memsz = 16;
	m->ph[1].p_type = PT_LOAD;
	m->ph[1].p_flags = PF_R | PF_W;
	m->ph[1].p_offset = offsetof(struct img, code);
	m->ph[1].p_vaddr = m->ph[1].p_paddr = BASE + 0x1000;
	m->ph[1].p_filesz = 8;
	m->ph[1].p_memsz = 0x2000;
	m->code[0] = 0x13;   /* nop */
}

/* ORDER: the cases below name these mutations. */
enum mut {
	M_NONE, M_MAGIC, M_CLASS32, M_BIGENDIAN, M_MACHINE, M_TYPE, M_FLOAT, M_TRUNC_PH,
	M_TRUNC_SEG, M_FILESZ, M_OUTSIDE, M_OVERLAP, M_NOLOAD, M_ENTRY, M_SHORT,
};

struct elf_case {
	char name[24];
	enum mut mut;
	char msg[200];     /* after "FILE: " */
};

static struct elf_case cases[] = {
	{ "valid", M_NONE, "" },
	{ "bad magic", M_MAGIC, "not an ELF file" },
	{ "short file", M_SHORT, "not an ELF file" },
	{ "ELF32", M_CLASS32, "not a 64-bit ELF file (ELF class 1; an RV64 program is needed)" },
	{ "big-endian", M_BIGENDIAN, "not a little-endian ELF file" },
	{ "x86-64", M_MACHINE, "not a RISC-V program (e_machine 62)" },
	{ "shared object", M_TYPE, "not an executable (e_type 3; link it with a linker script)" },
	{ "hard float", M_FLOAT, "hard-float ABI (e_flags 0x4): build with -mabi=lp64 (protsim has no F/D extension)" },
	{ "phdrs truncated", M_TRUNC_PH, "truncated: program headers beyond the end of the file" },
	{ "segment truncated", M_TRUNC_SEG, "truncated: segment 0 needs file bytes 0xb0..0x10b0, the file has 0xc0" },
	{ "filesz > memsz", M_FILESZ, "segment 1: file size 0x8 larger than memory size 0x4" },
	{ "outside memory", M_OUTSIDE, "segment 1 at 0x800ff000+0x2000 is outside guest memory 0x80000000..0x80100000" },
	{ "overlap", M_OVERLAP, "segment 1 at 0x80000008+0x2000 overlaps the segment at 0x80000000+0x10" },
	{ "no PT_LOAD", M_NOLOAD, "no loadable segment" },
	{ "entry outside", M_ENTRY, "entry point 0x80001000 is not inside an executable segment" },
};

ParameterizedTestParameters(elf, load)
{
	return cr_make_param_array(struct elf_case, cases, sizeof(cases) / sizeof(cases[0]));
}

ParameterizedTest(struct elf_case *c, elf, load)
{
	char path[] = "/tmp/protsim-elf-XXXXXX";
	int fd = mkstemp(path);
	struct img m;
	size_t len = sizeof(m);
	struct cpu_elf *e = NULL;
	struct sim_err err = { { 0 } };
	char want[300];
	int rc;

	cr_assert(fd >= 0);
	good(&m);
	switch (c->mut) {
	case M_NONE: break;
	case M_MAGIC: m.eh.e_ident[1] = 'X'; break;
	case M_SHORT: len = 3; break;
	case M_CLASS32: m.eh.e_ident[EI_CLASS] = ELFCLASS32; break;
	case M_BIGENDIAN: m.eh.e_ident[EI_DATA] = ELFDATA2MSB; break;
	case M_MACHINE: m.eh.e_machine = 62; break;
	case M_TYPE: m.eh.e_type = ET_DYN; break;
	case M_FLOAT: m.eh.e_flags = 0x4; break;
	case M_TRUNC_PH: m.eh.e_phnum = 40; break;
	case M_TRUNC_SEG: m.ph[0].p_filesz = 0x1000; m.ph[0].p_memsz = 0x1000; break;
	case M_FILESZ: m.ph[1].p_memsz = 4; break;
	case M_OUTSIDE: m.ph[1].p_paddr = BASE + MSIZE - 0x1000; break;
	case M_OVERLAP: m.ph[1].p_paddr = BASE + 8; break;
	case M_NOLOAD: m.ph[0].p_type = PT_NOTE; m.ph[1].p_type = PT_NOTE; break;
	case M_ENTRY: m.eh.e_entry = BASE + 0x1000; break;
	}
	cr_assert_eq(write(fd, &m, len), (ssize_t)len);
	close(fd);
	rc = cpu_elf_open(path, BASE, MSIZE, &e, &err);
	if (c->mut == M_NONE) {
		cr_assert_eq(rc, 0, "%s", err.msg);
		cr_assert_eq(e->nseg, 2);
		cr_assert_eq(e->entry, BASE);
		cr_assert_eq(e->seg[1].paddr, BASE + 0x1000);
		cr_assert_eq(e->seg[1].memsz, 0x2000);
		cr_assert_eq(e->seg[0].data[0], 0x13);
		cr_assert(!e->has_tohost);
		cpu_elf_free(e);
	} else {
		snprintf(want, sizeof(want), "%s: %s", path, c->msg);
		cr_assert_eq(rc, -1, "%s: accepted", c->name);
		cr_assert_null(e);
		cr_assert_str_eq(err.msg, want, "%s", c->name);
	}
	unlink(path);
}

Test(elf, missing_file)
{
	struct cpu_elf *e = NULL;
	struct sim_err err;

	cr_assert_eq(cpu_elf_open("/nonexistent/prog.elf", BASE, MSIZE, &e, &err), -1);
	cr_assert_str_eq(err.msg, "/nonexistent/prog.elf: cannot open: No such file or directory");
}

Test(elf, directory)
{
	struct cpu_elf *e = NULL;
	struct sim_err err;

	cr_assert_eq(cpu_elf_open("/tmp", BASE, MSIZE, &e, &err), -1);
	cr_assert_str_eq(err.msg, "/tmp: not a regular file (a directory)");
}

/* A real guest program: symbols found, segments at p_paddr. */
Test(elf, guest_hello_symbols)
{
	const char *dir = getenv("GUEST_DIR") ? getenv("GUEST_DIR") : "build/guest";
	char path[512];
	struct cpu_elf *e = NULL;
	struct sim_err err;

	snprintf(path, sizeof(path), "%s/hello.elf", dir);
	cr_assert_eq(cpu_elf_open(path, BASE, 64ull << 20, &e, &err), 0, "%s (run make guest)", err.msg);
	cr_assert(e->has_tohost);
	cr_assert(e->has_fromhost);
	cr_assert_eq(e->tohost & 63, 0, "tohost is 64-byte aligned");
	cr_assert_eq(e->entry, BASE);
	cr_assert(e->rvc);
	cpu_elf_free(e);
}
