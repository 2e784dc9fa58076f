/*
 * elf.c - loading RV64 guest programs with libelf: validation of the
 * file (every problem is a one-line error naming the file), PT_LOAD
 * segments (placed at p_paddr, as qemu-system -kernel does), the entry
 * point, and the HTIF symbols tohost/fromhost.
 */
#include "cpu/cpu_int.h"

#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef EM_RISCV
#define EM_RISCV 243
#endif
#ifndef EF_RISCV_RVC
#define EF_RISCV_RVC 0x1
#endif
#ifndef EF_RISCV_FLOAT_ABI
#define EF_RISCV_FLOAT_ABI 0x6
#endif

void cpu_elf_free(struct cpu_elf *e)
{
	if (!e)
		return;
	free(e->path);
	free(e->image);
	free(e);
}

/*
 * Read the whole file: libelf then works on memory we own.  The open does
 * not block (O_NONBLOCK: a FIFO with no writer would wait for one
 * forever), and anything but a regular file (a FIFO, a device, a
 * directory) is refused before a byte is read.
 */
static int slurp(const char *path, uint8_t **buf, size_t *len, struct sim_err *err)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_NONBLOCK);
	size_t got = 0;

	if (fd < 0)
		return sim_err_set(err, "%s: cannot open: %s", path, strerror(errno));
	if (fstat(fd, &st)) {
		int e = errno;

		close(fd);
		return sim_err_set(err, "%s: cannot open: %s", path, strerror(e));
	}
	if (!S_ISREG(st.st_mode)) {
		const char *what = S_ISDIR(st.st_mode) ? "a directory" :
				   S_ISFIFO(st.st_mode) ? "a FIFO" :
				   S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode) ? "a device" :
				   S_ISSOCK(st.st_mode) ? "a socket" : "a special file";

		close(fd);
		return sim_err_set(err, "%s: not a regular file (%s)", path, what);
	}
	/* A regular file never blocks; reads go back to blocking mode anyway. */
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
	*len = (size_t)st.st_size;
	*buf = malloc(*len ? *len : 1);
	if (!*buf)
		sim_fatal("cpu: out of host memory");
	while (got < *len) {
		ssize_t n = read(fd, *buf + got, *len - got);

		if (n <= 0) {
			close(fd);
			free(*buf);
			return sim_err_set(err, "%s: read error: %s", path,
					   n < 0 ? strerror(errno) : "unexpected end of file");
		}
		got += (size_t)n;
	}
	close(fd);
	return 0;
}

static void find_symbols(Elf *elf, struct cpu_elf *out)
{
	Elf_Scn *scn = NULL;

	while ((scn = elf_nextscn(elf, scn)) != NULL) {
		GElf_Shdr sh;
		Elf_Data *data;

		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_SYMTAB || !sh.sh_entsize)
			continue;
		data = elf_getdata(scn, NULL);
		if (!data)
			continue;
		for (size_t i = 0; i < sh.sh_size / sh.sh_entsize; i++) {
			GElf_Sym sym;
			const char *name;

			if (!gelf_getsym(data, (int)i, &sym))
				break;
			name = elf_strptr(elf, sh.sh_link, sym.st_name);
			if (!name)
				continue;
			if (!strcmp(name, "tohost")) {
				out->has_tohost = true;
				out->tohost = sym.st_value;
			} else if (!strcmp(name, "fromhost")) {
				out->has_fromhost = true;
				out->fromhost = sym.st_value;
			}
		}
	}
}

int cpu_elf_open(const char *path, uint64_t mem_base, uint64_t mem_size,
		 struct cpu_elf **outp, struct sim_err *err)
{
	struct cpu_elf *out;
	uint8_t *buf = NULL;
	size_t len = 0, nph;
	Elf *elf = NULL;
	GElf_Ehdr eh;
	bool entry_ok = false;
	int rc = -1;

	*outp = NULL;
	if (slurp(path, &buf, &len, err))
		return -1;
	out = calloc(1, sizeof(*out));
	if (!out)
		sim_fatal("cpu: out of host memory");
	out->path = strdup(path);
	out->image = buf;
	if (!out->path)
		sim_fatal("cpu: out of host memory");
	if (len < EI_NIDENT || memcmp(buf, ELFMAG, SELFMAG) != 0) {
		sim_err_set(err, "%s: not an ELF file", path);
		goto out;
	}
	if (buf[EI_CLASS] != ELFCLASS64) {
		sim_err_set(err, "%s: not a 64-bit ELF file (ELF class %u; an RV64 program is needed)",
			    path, buf[EI_CLASS]);
		goto out;
	}
	if (buf[EI_DATA] != ELFDATA2LSB) {
		sim_err_set(err, "%s: not a little-endian ELF file", path);
		goto out;
	}
	elf_version(EV_CURRENT);
	elf = elf_memory((char *)buf, len);
	if (!elf || elf_kind(elf) != ELF_K_ELF || !gelf_getehdr(elf, &eh)) {
		sim_err_set(err, "%s: truncated or corrupt ELF header: %s", path, elf_errmsg(-1));
		goto out;
	}
	if (eh.e_machine != EM_RISCV) {
		sim_err_set(err, "%s: not a RISC-V program (e_machine %u)", path, eh.e_machine);
		goto out;
	}
	if (eh.e_type != ET_EXEC) {
		sim_err_set(err, "%s: not an executable (e_type %u; link it with a linker script)",
			    path, eh.e_type);
		goto out;
	}
	if (eh.e_flags & EF_RISCV_FLOAT_ABI) {
		sim_err_set(err, "%s: hard-float ABI (e_flags 0x%x): build with -mabi=lp64 "
			    "(protsim has no F/D extension)", path, (unsigned)eh.e_flags);
		goto out;
	}
	out->rvc = (eh.e_flags & EF_RISCV_RVC) != 0;
	out->entry = eh.e_entry;
	nph = eh.e_phnum;   /* (PN_XNUM extended numbering is not supported) */
	if (eh.e_phoff > len ||
	    (uint64_t)nph * eh.e_phentsize > len - eh.e_phoff) {
		sim_err_set(err, "%s: truncated: program headers beyond the end of the file", path);
		goto out;
	}
	for (size_t i = 0; i < nph; i++) {
		GElf_Phdr ph;
		struct cpu_elf_seg *sg;

		if (!gelf_getphdr(elf, (int)i, &ph)) {
			sim_err_set(err, "%s: corrupt program header %zu: %s", path, i, elf_errmsg(-1));
			goto out;
		}
		if (ph.p_type != PT_LOAD || ph.p_memsz == 0)
			continue;
		if (ph.p_filesz > ph.p_memsz) {
			sim_err_set(err, "%s: segment %zu: file size 0x%llx larger than memory size 0x%llx",
				    path, i, (unsigned long long)ph.p_filesz,
				    (unsigned long long)ph.p_memsz);
			goto out;
		}
		if (ph.p_offset > len || ph.p_filesz > len - ph.p_offset) {
			sim_err_set(err, "%s: truncated: segment %zu needs file bytes 0x%llx..0x%llx, "
				    "the file has 0x%zx", path, i, (unsigned long long)ph.p_offset,
				    (unsigned long long)(ph.p_offset + ph.p_filesz), len);
			goto out;
		}
		if (ph.p_paddr < mem_base || ph.p_paddr - mem_base > mem_size ||
		    ph.p_memsz > mem_size - (ph.p_paddr - mem_base)) {
			sim_err_set(err, "%s: segment %zu at 0x%llx+0x%llx is outside guest memory "
				    "0x%llx..0x%llx", path, i, (unsigned long long)ph.p_paddr,
				    (unsigned long long)ph.p_memsz, (unsigned long long)mem_base,
				    (unsigned long long)(mem_base + mem_size));
			goto out;
		}
		for (unsigned j = 0; j < out->nseg; j++) {
			const struct cpu_elf_seg *o = &out->seg[j];

			if (ph.p_paddr < o->paddr + o->memsz && o->paddr < ph.p_paddr + ph.p_memsz) {
				sim_err_set(err, "%s: segment %zu at 0x%llx+0x%llx overlaps the segment "
					    "at 0x%llx+0x%llx", path, i, (unsigned long long)ph.p_paddr,
					    (unsigned long long)ph.p_memsz,
					    (unsigned long long)o->paddr, (unsigned long long)o->memsz);
				goto out;
			}
		}
		if (out->nseg == CPU_ELF_MAX_SEGS) {
			sim_err_set(err, "%s: more than %d loadable segments", path, CPU_ELF_MAX_SEGS);
			goto out;
		}
		sg = &out->seg[out->nseg++];
		sg->paddr = ph.p_paddr;
		sg->vaddr = ph.p_vaddr;
		sg->filesz = ph.p_filesz;
		sg->memsz = ph.p_memsz;
		sg->flags = ph.p_flags;
		sg->data = buf + ph.p_offset;
		if ((ph.p_flags & PF_X) && eh.e_entry >= ph.p_paddr &&
		    eh.e_entry - ph.p_paddr < ph.p_memsz)
			entry_ok = true;
	}
	if (out->nseg == 0) {
		sim_err_set(err, "%s: no loadable segment", path);
		goto out;
	}
	if (!entry_ok) {
		sim_err_set(err, "%s: entry point 0x%llx is not inside an executable segment",
			    path, (unsigned long long)eh.e_entry);
		goto out;
	}
	find_symbols(elf, out);
	rc = 0;
out:
	if (elf)
		elf_end(elf);
	if (rc)
		cpu_elf_free(out);
	else
		*outp = out;
	return rc;
}
