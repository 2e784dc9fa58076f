# protsim exec: console output through HTIF and the exit code, in both modes.
. tests/guest/lib.sh
expect_run hello 0 hello.out -- "$G/hello.elf"
expect_run hello-detailed 0 hello.out -- "$G/hello.elf" --mode detailed
expect_run compute 0 compute_small.out -- "$G/compute_small.elf"
expect_run compute-snp-detailed 0 compute_small.out -- "$G/compute_small.elf" --set vm.type=snp --mode detailed
exit $fails
