# protsim exec: the instruction limit, bad ELF files, bad options.
. tests/guest/lib.sh
expect_run limit 124 - -- "$G/hello.elf" --max-insns 100
expect_err limit "instruction limit reached (100 instructions)"
expect_run not-elf 2 - -- tests/guest/hello.out
expect_err not-elf "protsim: tests/guest/hello.out: not an ELF file"
expect_run missing 2 - -- /nonexistent.elf
expect_err missing "protsim: /nonexistent.elf: cannot open: No such file or directory"
expect_run bad-key 2 - -- "$G/hello.elf" --set vm.typo=1
expect_err bad-key "vm.typo"
expect_run bad-mode 2 - -- "$G/hello.elf" --mode turbo
expect_err bad-mode "cpu.mode"
expect_run no-prog 2 - --
expect_err no-prog "no program given"
exit $fails
