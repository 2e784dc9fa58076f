# protsim - one top-level build.
#
#   make            build build/protsim
#   make run        deps + build, then run the default scenario
#   make test       deps + build, then every test (script, CLI, determinism -O2 vs -O0,
#                   unit, unit under ASan+UBSan)
#   make bench      benchmarks (figures side by side in one run; SPIKE=path, BENCH_RUNS=n,
#                   BENCH=cpu); every figure also as CSV in BENCH_OUT (default out/bench)
#   make plots      the CSVs of the last `make bench` as bar charts (PNG, SVG) in BENCH_OUT/plots
#   make timeline-check  load a timeline into headless Chromium's trace viewer (optional;
#                   installs chromium; not part of `make test`)
#   make guest      RV64 guest programs (riscv64-unknown-elf-gcc + picolibc)
#   make deps       install missing Debian packages (root), or print the command
#   make install    PREFIX=/usr/local DESTDIR=  (make uninstall: the same variables)
#   make asan       the unit tests under ASan+UBSan (part of `make test`)
#   make layers     check every include against the module dependency lists
#   make fuzz       libFuzzer on the script, config, ELF, trace and lackey readers (FUZZ_TIME=60 s each)
#
# Variables: BUILD (output dir, default build), CC, O (optimisation level);
# for `make bench`: SPIKE, BENCH_RUNS, BENCH (see the bench target).
# Each module is a static archive; a module's unit tests link only the
# archives it depends on, so one module can be built and tested alone:
#   make BUILD=build-rmp build-rmp/tests/test_rmp && build-rmp/tests/test_rmp

CC      ?= cc
BUILD   ?= build
O       ?= 2
PREFIX  ?= /usr/local
DESTDIR ?=

PKGS    := libelf libzstd jansson libedit nettle
WARN    := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
           -Wpointer-arith -Wformat=2 -Wno-format-nonliteral
CFLAGS  ?= -O$(O) -g
ALL_CFLAGS = -std=c11 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE -I. $(WARN) $(CFLAGS) $(EXTRA_CFLAGS)
LDLIBS  := $(shell pkg-config --libs $(PKGS) 2>/dev/null || echo -lelf -lzstd -ljansson -ledit -lnettle) -lm
CRIT_LIBS := $(shell pkg-config --libs criterion 2>/dev/null || echo -lcriterion)

# ORDER: modules from the top layer down (link order).
MODULES := stack cpu iommu stage2 rmp wl sim
SRC_stack  := $(wildcard sim/stack/*.c)
SRC_cpu    := $(wildcard cpu/*.c)
SRC_iommu  := $(wildcard iommu/*.c)
SRC_stage2 := $(wildcard stage2/*.c)
SRC_rmp    := $(wildcard rmp/*.c)
SRC_wl     := $(wildcard workloads/*.c)
SRC_sim    := $(filter-out sim/main.c,$(wildcard sim/*.c)) $(wildcard sim/*.S)

# What each module's archive needs below it.
DEP_sim    := sim
DEP_wl     := wl sim
DEP_rmp    := rmp sim
DEP_stage2 := stage2 rmp sim
DEP_iommu  := iommu stage2 rmp sim
DEP_cpu    := cpu iommu stage2 rmp sim
DEP_stack  := stack cpu iommu stage2 rmp wl sim

objs_of = $(patsubst %.c,$(BUILD)/%.o,$(patsubst %.S,$(BUILD)/%.o,$(SRC_$(1))))
lib_of  = $(BUILD)/lib/lib$(1).a
libs_of = $(foreach m,$(DEP_$(1)),$(if $(SRC_$(m)),$(call lib_of,$(m))))
ALL_LIBS := $(foreach m,$(MODULES),$(if $(SRC_$(m)),$(call lib_of,$(m))))

# A test file's module is the part of its name after test_ up to _ or .c:
# tests/test_rmp.c and tests/test_rmp_race.c -> rmp.  s2/tlb -> stage2,
# rv/elf -> cpu; cpu -> stack (its tests run guests in the stack's VMs);
# anything unknown -> sim.
test_stem = $(word 1,$(subst _, ,$(patsubst test_%,%,$(basename $(notdir $(1))))))
MODMAP    := rmp:rmp s2:stage2 tlb:stage2 iommu:iommu cpu:stack rv:cpu elf:cpu stack:stack wl:wl
map_mod   = $(strip $(foreach p,$(MODMAP),$(if $(filter $(1),$(word 1,$(subst :, ,$(p)))),$(word 2,$(subst :, ,$(p))))))
test_mod  = $(or $(call map_mod,$(call test_stem,$(1))),sim)

TEST_SRCS := $(wildcard tests/test_*.c)
TEST_BINS := $(patsubst tests/%.c,$(BUILD)/tests/%,$(TEST_SRCS))
UNIT      := $(BUILD)/tests/unit
PROTSIM   := $(BUILD)/protsim

ALL_OBJS := $(foreach m,$(MODULES),$(call objs_of,$(m))) $(BUILD)/sim/main.o \
            $(patsubst tests/%.c,$(BUILD)/tests/%.o,$(TEST_SRCS))

.PHONY: all deps run test test-scripts test-unit asan bench plots timeline-check fuzz guest install uninstall clean layers FORCE
.DEFAULT_GOAL := all

all: $(PROTSIM)

# V=1 shows full command lines.
Q := $(if $(V),,@)

$(BUILD)/%.o: %.c Makefile
	@mkdir -p $(@D)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(ALL_CFLAGS) $(VERSION_DEFS) -MMD -MP -c $< -o $@

# `protsim --version` names the commit and the build type.  Only main.o
# gets them (no simulation output may depend on the build: the determinism
# check compares an -O2 and an -O0 build byte for byte), and it is rebuilt
# when they change ($(BUILD)/version.txt is rewritten only then).
GIT_COMMIT := $(shell c=$$(git rev-parse --short=12 HEAD 2>/dev/null) && \
              { git diff --quiet HEAD -- 2>/dev/null || c=$$c-dirty; echo $$c; } || echo unknown)
BUILD_TYPE := $(or $(strip $(lastword $(filter -O%,$(CFLAGS) $(EXTRA_CFLAGS))) \
              $(if $(findstring -fsanitize=address,$(CFLAGS) $(EXTRA_CFLAGS)),asan+ubsan)),unknown)
$(BUILD)/sim/main.o: VERSION_DEFS = -DPROTSIM_COMMIT='"$(GIT_COMMIT)"' \
                                   -DPROTSIM_BUILD='"$(BUILD_TYPE)"'
$(BUILD)/sim/main.o: $(BUILD)/version.txt
$(BUILD)/version.txt: FORCE
	@mkdir -p $(@D)
	@echo '$(GIT_COMMIT) $(BUILD_TYPE)' | cmp -s - $@ || echo '$(GIT_COMMIT) $(BUILD_TYPE)' > $@
FORCE:

$(BUILD)/%.o: %.S Makefile
	@mkdir -p $(@D)
	@$(if $(Q),echo "  AS      $<")
	$(Q)$(CC) $(ALL_CFLAGS) -MMD -MP -c $< -o $@

# Latency profiles are embedded with .incbin; make does not see that.
$(BUILD)/sim/profiles.o: $(wildcard sim/profiles/*.prof)

define module_lib
$(call lib_of,$(1)): $(call objs_of,$(1))
	@mkdir -p $$(@D)
	$(Q)rm -f $$@ && ar rcs $$@ $$^
endef
$(foreach m,$(MODULES),$(if $(SRC_$(m)),$(eval $(call module_lib,$(m)))))

$(PROTSIM): $(BUILD)/sim/main.o $(ALL_LIBS)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(ALL_CFLAGS) -o $@ $< $(ALL_LIBS) $(LDLIBS)

# One Criterion binary per test file (links only what its module needs) ...
$(BUILD)/tests/test_%: $(BUILD)/tests/test_%.o
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(ALL_CFLAGS) -o $@ $< $(call libs_of,$(call test_mod,$@)) $(CRIT_LIBS) $(LDLIBS)
$(foreach t,$(TEST_BINS),$(eval $(t): $(call libs_of,$(call test_mod,$(t)))))

# The guest kernel library's test compiles the guest library's C for the
# host (workloads/guest/lib/snp_arch.h keeps the RV64 parts out).
$(BUILD)/tests/test_guest_lib.o: ALL_CFLAGS += -Iworkloads/guest/include
$(BUILD)/tests/test_guest_lib.o: $(wildcard workloads/guest/lib/*.c workloads/guest/lib/*.h \
                                  workloads/guest/include/protsim/*.h)

# ... and all of them in one binary for `make test`.
$(UNIT): $(patsubst tests/%.c,$(BUILD)/tests/%.o,$(TEST_SRCS)) $(ALL_LIBS)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(ALL_CFLAGS) -o $@ $(filter %.o,$^) $(ALL_LIBS) $(CRIT_LIBS) $(LDLIBS)

deps:
	@sh sim/tools/deps.sh

run: deps
	@$(MAKE) --no-print-directory all guest
	$(PROTSIM) run workloads/scenarios/default.ini --out out

test: deps
	@$(MAKE) --no-print-directory layers
	@$(MAKE) --no-print-directory all $(UNIT) guest
	@$(MAKE) --no-print-directory asan
	@$(MAKE) --no-print-directory BUILD=build-O0 O=0 build-O0/protsim
	@echo "== script and CLI tests"
	@sh tests/run_scripts.sh $(PROTSIM)
	@echo "== determinism: -O2 vs -O0 builds, and repeated runs"
	@GUEST_DIR=$(BUILD)/guest sh tests/determinism.sh $(PROTSIM) build-O0/protsim
	@echo "== unit tests"
	@PROTSIM=$(PROTSIM) $(UNIT) -j2 --color=never

# Every file's includes against the DEP_ lists above (sim/tools/layers.sh).
LAYER_SPECS = $(foreach m,$(MODULES),$(m):$(subst $(eval) ,$(comma),$(strip $(DEP_$(m)))))
comma := ,
layers:
	@sh sim/tools/layers.sh $(LAYER_SPECS)

test-scripts: all
	@sh tests/run_scripts.sh $(PROTSIM)

test-unit: $(UNIT)
	@PROTSIM=$(PROTSIM) $(UNIT) -j2 --color=never

# Unit tests under AddressSanitizer and UndefinedBehaviorSanitizer.
asan:
	@$(MAKE) --no-print-directory BUILD=build-asan O=1 \
	  EXTRA_CFLAGS="-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer" \
	  build-asan/protsim build-asan/tests/unit
	@echo "== unit tests under ASan+UBSan"
	@ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 PROTSIM=build-asan/protsim \
	  build-asan/tests/unit -j2 --color=never -q || { echo "ASan/UBSan unit run failed" >&2; \
	  ASAN_OPTIONS=detect_leaks=1 PROTSIM=build-asan/protsim build-asan/tests/unit -j1 --color=never; exit 1; }
	@echo "ASan+UBSan unit run: clean"

# The CPU benchmark runs qemu-system-riscv64 -M spike (installed here) and
# Spike (not in Debian: SPIKE=/path/to/spike for a local build, else `spike`
# on the PATH if any) on the same ELFs, alternating with protsim,
# BENCH_RUNS times each (default 5); BENCH=cpu runs one section only.
SPIKE      ?=
BENCH_RUNS ?= 5
BENCH      ?=
BENCH_OUT  ?= out/bench
bench: deps
	@PROTSIM_DEPS_EXTRA=qemu-system-misc sh sim/tools/deps.sh
	@$(MAKE) --no-print-directory all $(BUILD)/bench/bench guest
	@rm -f $(BENCH_OUT)/[0-9][0-9]-*.csv && mkdir -p $(BENCH_OUT)
	GUEST_DIR=$(BUILD)/guest SPIKE=$(SPIKE) BENCH_RUNS=$(BENCH_RUNS) BENCH_OUT=$(BENCH_OUT) \
	  $(BUILD)/bench/bench $(BENCH)

# A timeline in a real viewer (optional; not part of `make test`: it
# installs Chromium): speedscope's release build from npm, in headless
# Chromium, loads timelines of the default scenario, a script, a guest
# program and snp-boot.ini (sim/tools/timeline_check.sh, docs/outputs.md).
SPEEDSCOPE := speedscope@1.25.0
VIEWER_DIR := build-viewer
timeline-check: deps
	@command -v npm >/dev/null 2>&1 && PROTSIM_DEPS_EXTRA=chromium sh sim/tools/deps.sh || \
	  PROTSIM_DEPS_EXTRA="chromium nodejs npm" sh sim/tools/deps.sh
	@$(MAKE) --no-print-directory all guest
	@test -f $(VIEWER_DIR)/node_modules/speedscope/dist/release/index.html || \
	  npm install --prefix $(VIEWER_DIR) --no-audit --no-fund --no-save $(SPEEDSCOPE) >/dev/null
	@sh sim/tools/timeline_check.sh $(PROTSIM) $(BUILD)/guest \
	  $(VIEWER_DIR)/node_modules/speedscope/dist/release/index.html

# The benchmark's CSVs as bar charts through `protsim plot` (gnuplot);
# runs `make bench` first when it has not written them yet.
plots: all
	@ls $(BENCH_OUT)/[0-9][0-9]-*.csv >/dev/null 2>&1 || $(MAKE) --no-print-directory bench
	@sh sim/tools/plots.sh $(PROTSIM) $(BENCH_OUT)

BENCH_SRCS := $(wildcard bench/*.c)
$(BUILD)/bench/bench: $(patsubst %.c,$(BUILD)/%.o,$(BENCH_SRCS)) $(ALL_LIBS)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(ALL_CFLAGS) -o $@ $(filter %.o,$^) $(ALL_LIBS) $(LDLIBS)
ALL_OBJS += $(patsubst %.c,$(BUILD)/%.o,$(BENCH_SRCS))

# Guest programs: filled in by the CPU model (workloads/guest/).
-include workloads/guest/guest.mk
guest::

# Coverage-guided fuzzing of every parser (clang + libFuzzer, ASan, UBSan):
# the script interpreter (with the RMP, stage-2 and IOMMU ops), scenario
# and profile files with every module's attach checks, ELF files, trace
# files (protsim trace dump: the zstd layer and the record decoder), and
# valgrind Lackey logs (protsim import lackey).
# FUZZ_TIME seconds each (default 60).  Crashes are left in build-fuzz/.
FUZZ_TIME ?= 60
FUZZ_CC   := clang
FUZZ_FLAGS = -g -O1 -std=c11 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE -I. \
             -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
FUZZ_SRCS  = $(SRC_sim) $(SRC_rmp) $(SRC_stage2) $(SRC_iommu) $(SRC_cpu) $(SRC_stack)
FUZZERS   := script config elf trace lackey

build-fuzz/fuzz_script: tests/fuzz/fuzz_script.c $(FUZZ_SRCS)
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_FLAGS) -DFUZZ_WITH_MODULES -o $@ $^ $(LDLIBS)
build-fuzz/fuzz_%: tests/fuzz/fuzz_%.c $(FUZZ_SRCS)
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_FLAGS) -o $@ $^ $(LDLIBS)

fuzz: deps guest $(PROTSIM) $(addprefix build-fuzz/fuzz_,$(FUZZERS))
	@mkdir -p build-fuzz/corpus-script build-fuzz/corpus-config build-fuzz/corpus-elf \
	  build-fuzz/corpus-trace build-fuzz/corpus-lackey
	@# trace seeds: the first byte picks the layer (tests/fuzz/fuzz_trace.c)
	@$(PROTSIM) script tests/scripts/rmp_race_pvalidate.ps --trace build-fuzz/seed.zst >/dev/null
	@{ printf '\000'; cat build-fuzz/seed.zst; } > build-fuzz/corpus-trace/seed-zstd
	@{ printf '\001'; zstd -dcq build-fuzz/seed.zst; } > build-fuzz/corpus-trace/seed-raw
	@$(PROTSIM) import lackey workloads/lackey/ls-head.lackey -o build-fuzz/seed-access.zst --limit 100 >/dev/null
	@{ printf '\001'; zstd -dcq build-fuzz/seed-access.zst; } > build-fuzz/corpus-trace/seed-access
	@{ printf '\002'; head -c 3000 workloads/lackey/ls-head.lackey; } > build-fuzz/corpus-lackey/seed
	@cp -n tests/scripts/*.ps build-fuzz/corpus-script/ 2>/dev/null || true
	@cp -n workloads/scenarios/*.ini sim/profiles/*.prof build-fuzz/corpus-config/ 2>/dev/null || true
	@cp -n $(BUILD)/guest/*.elf build-fuzz/corpus-elf/ 2>/dev/null || true
	cd build-fuzz && ./fuzz_script -max_total_time=$(FUZZ_TIME) -max_len=1024 \
	  -dict=../tests/fuzz/modules.dict corpus-script
	cd build-fuzz && ./fuzz_config -max_total_time=$(FUZZ_TIME) -max_len=1024 corpus-config
	cd build-fuzz && ./fuzz_elf -max_total_time=$(FUZZ_TIME) -max_len=65536 corpus-elf
	cd build-fuzz && ./fuzz_trace -max_total_time=$(FUZZ_TIME) -max_len=4096 corpus-trace
	cd build-fuzz && ./fuzz_lackey -max_total_time=$(FUZZ_TIME) -max_len=4096 corpus-lackey

# make install PREFIX=... DESTDIR=...: the binary, protsim(1), scenarios,
# docs and labs, the guest SDK and the prebuilt guest programs, listed in
# PREFIX/share/protsim/install-manifest; make uninstall removes exactly those.
install: all guest $(BUILD)/protsim.1
	@sed -e 's|@SDK@|$(PREFIX)/share/protsim/sdk|g' -e 's|@CFLAGS@|$(GUEST_SDK_CFLAGS)|' \
	  -e 's|@LDFLAGS@|$(GUEST_SDK_LDFLAGS)|' workloads/guest/sdk/protsim-guest.mk.in \
	  > $(BUILD)/guest/protsim-guest.mk
	@sh sim/tools/install.sh install $(BUILD) $(PREFIX) $(DESTDIR)

uninstall:
	@sh sim/tools/install.sh uninstall $(BUILD) $(PREFIX) $(DESTDIR)

$(BUILD)/protsim.1: $(PROTSIM) sim/tools/manpage.sh
	@sh sim/tools/manpage.sh $(PROTSIM) > $@.tmp && mv $@.tmp $@

clean:
	rm -rf $(BUILD) build-asan build-O0 build-fuzz build-viewer out

-include $(ALL_OBJS:.o=.d)
