# guest.mk - RV64 guest programs (included by the top Makefile).
#   make guest  ->  $(BUILD)/guest/{hello,compute,compute_small,smp,pvalidate,crwrite,
#                   heki_attack,heki_kexec,pvm_payload}.elf
#                   and the SNP guest kernel library's programs {boot,virtio,pvmfw}.elf
# riscv64-unknown-elf-gcc + picolibc (stdio), our own crt and flat linker
# script (workloads/guest/link.ld); -misa-spec=2.2 so that I includes Zicsr/
# Zifencei without an _zicsr suffix (which would pick the wrong multilib);
# compiled to .o, then linked, so the
# ELFs are byte-reproducible.

GUEST_CC     ?= riscv64-unknown-elf-gcc
GUEST_SRC    := workloads/guest
GUEST_OUT    := $(BUILD)/guest
GUEST_ARCH   := -march=rv64imac -misa-spec=2.2 -mabi=lp64 -mcmodel=medany
# The SDK's flags (installed in protsim-guest.mk) and ours: ours add -Werror.
GUEST_SDK_CFLAGS  := $(GUEST_ARCH) -O2 -g0 -ffreestanding -fno-builtin-printf -Wall -Wextra \
                     --specs=picolibc.specs
GUEST_SDK_LDFLAGS := $(GUEST_ARCH) --specs=picolibc.specs -nostartfiles -static \
                     -Wl,--no-warn-rwx-segments -Wl,--build-id=none
GUEST_CFLAGS := $(GUEST_SDK_CFLAGS) -Werror -I$(GUEST_SRC)/include
GUEST_LDFLAGS := $(GUEST_SDK_LDFLAGS) -T $(GUEST_SRC)/link.ld
GUEST_LIB    := $(GUEST_OUT)/crt.o $(GUEST_OUT)/trap.o $(GUEST_OUT)/htif.o
# The SDK's library: everything but the start-up object.
GUEST_SDK_LIB := $(GUEST_OUT)/libprotsim-guest.a
GUEST_PROGS  := hello compute compute_small smp pvalidate crwrite heki_attack heki_kexec pvm_payload
GUEST_ELFS   := $(patsubst %,$(GUEST_OUT)/%.elf,$(GUEST_PROGS))
# The SNP guest kernel library (lib/snp.c ...: docs/guest-kernel.md), linked
# as objects into the programs built on it.
GUEST_SNP_LIB   := $(patsubst %,$(GUEST_OUT)/lib/%.o,snp mem pgtable virtio)
GUEST_SNP_HDRS  := $(GUEST_SRC)/include/protsim.h $(GUEST_SRC)/include/protsim/snp.h \
                   $(GUEST_SRC)/lib/snp_arch.h
GUEST_SNP_PROGS := boot virtio pvmfw
GUEST_SNP_ELFS  := $(patsubst %,$(GUEST_OUT)/%.elf,$(GUEST_SNP_PROGS))
GUEST_ELFS      += $(GUEST_SNP_ELFS)

# The SDK's SNP library: the guest kernel library's objects.
GUEST_SDK_SNP_LIB := $(GUEST_OUT)/libprotsim-snp.a

guest:: $(GUEST_ELFS) $(GUEST_SDK_LIB) $(GUEST_SDK_SNP_LIB) $(GUEST_OUT)/crt_snp.o

$(GUEST_SDK_SNP_LIB): $(GUEST_SNP_LIB)
	rm -f $@ && riscv64-unknown-elf-ar rcs $@ $^

$(GUEST_SDK_LIB): $(GUEST_OUT)/trap.o $(GUEST_OUT)/htif.o
	rm -f $@ && riscv64-unknown-elf-ar rcs $@ $^

$(GUEST_OUT)/crt.o: $(GUEST_SRC)/crt.S
	@mkdir -p $(@D)
	$(GUEST_CC) $(GUEST_CFLAGS) -c $< -o $@
$(GUEST_OUT)/crt_snp.o: $(GUEST_SRC)/crt.S
	@mkdir -p $(@D)
	$(GUEST_CC) $(GUEST_CFLAGS) -DPROTSIM_BOOT_ARG -c $< -o $@
$(GUEST_OUT)/trap.o: $(GUEST_SRC)/lib/trap.S
	@mkdir -p $(@D)
	$(GUEST_CC) $(GUEST_CFLAGS) -c $< -o $@
$(GUEST_OUT)/htif.o: $(GUEST_SRC)/lib/htif.c $(GUEST_SRC)/include/protsim.h
	@mkdir -p $(@D)
	$(GUEST_CC) $(GUEST_CFLAGS) -c $< -o $@
$(GUEST_OUT)/%.o: $(GUEST_SRC)/%.c $(GUEST_SRC)/include/protsim.h
	@mkdir -p $(@D)
	$(GUEST_CC) $(GUEST_CFLAGS) -c $< -o $@
$(GUEST_OUT)/compute_small.o: $(GUEST_SRC)/compute.c $(GUEST_SRC)/include/protsim.h
	@mkdir -p $(@D)
	$(GUEST_CC) $(GUEST_CFLAGS) -DITERS=2 -c $< -o $@
$(GUEST_OUT)/%.elf: $(GUEST_OUT)/%.o $(GUEST_LIB) $(GUEST_SRC)/link.ld
	$(GUEST_CC) $(GUEST_LDFLAGS) $(GUEST_LIB) $< -o $@
$(GUEST_OUT)/lib/%.o: $(GUEST_SRC)/lib/%.c $(GUEST_SNP_HDRS)
	@mkdir -p $(@D)
	$(GUEST_CC) $(GUEST_CFLAGS) -c $< -o $@
$(patsubst %.elf,%.o,$(GUEST_SNP_ELFS)): $(GUEST_SNP_HDRS)
# their start-up keeps a1 (the boot-parameters GPA): crt_snp.o
GUEST_SNP_CRT := $(GUEST_OUT)/crt_snp.o $(GUEST_OUT)/trap.o $(GUEST_OUT)/htif.o
$(GUEST_SNP_ELFS): $(GUEST_OUT)/%.elf: $(GUEST_OUT)/%.o $(GUEST_SNP_CRT) $(GUEST_SNP_LIB) \
                   $(GUEST_SRC)/link.ld
	$(GUEST_CC) $(GUEST_LDFLAGS) $(GUEST_SNP_CRT) $< $(GUEST_SNP_LIB) -o $@

# the protected-VM firmware sits in its own memslot below the payload's RAM
# (crosvm's AARCH64_PROTECTED_VM_FW_START: 2 MiB below 0x80000000; docs/pkvm.md)
$(GUEST_OUT)/pvmfw.elf: GUEST_LDFLAGS += -Wl,--defsym=PROTSIM_RAM_BASE=0x7fe00000

.PRECIOUS: $(GUEST_OUT)/%.o
# the CR-protection programs share heki_guest.h (docs/cr-protection.md)
$(GUEST_OUT)/heki_attack.o $(GUEST_OUT)/heki_kexec.o: $(GUEST_SRC)/heki_guest.h
