# protsim exec: the instruction limit, bad ELF files, bad options, and their
# exit codes (121 bad usage, 122 bad configuration or ELF, 124 the limit).
. tests/guest/lib.sh
expect_run limit 124 - -- "$G/hello.elf" --max-insns 100
expect_err limit "instruction limit reached (100 instructions; --max-insns N to change it, 0 for none)"
expect_run not-elf 122 - -- tests/guest/hello.out
expect_err not-elf "protsim: tests/guest/hello.out: not an ELF file"
expect_run missing 122 - -- /nonexistent.elf
expect_err missing "protsim: /nonexistent.elf: cannot open: No such file or directory"
expect_run bad-key 122 - -- "$G/hello.elf" --set vm.typo=1
expect_err bad-key "protsim: --set: vm.typo: unknown key (did you mean 'vm.type'?)"
expect_run bad-mode 122 - -- "$G/hello.elf" --mode turbo
expect_err bad-mode "protsim: --mode: cpu.mode: must be one of fast, detailed (got 'turbo')"
expect_run bad-limit 121 - -- "$G/hello.elf" --max-insns lots
expect_err bad-limit "protsim exec: --max-insns: expected a number, got 'lots'"
expect_run no-prog 121 - --
expect_err no-prog "protsim exec: missing PROG.elf"
expect_run two-progs 121 - -- "$G/hello.elf" "$G/hello.elf"
expect_err two-progs "protsim exec: unexpected argument"
expect_run bad-option 121 - -- "$G/hello.elf" --stat
expect_err bad-option "protsim exec: unknown option '--stat' (did you mean '--stats'?)"
exit $fails
