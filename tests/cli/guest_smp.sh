# protsim exec: four harts sharing counters (LR/SC and AMO), any batch size.
. tests/guest/lib.sh
expect_run smp 0 smp.out -- "$G/smp.elf" --set vm.vcpus=4
expect_run smp-batch1 0 smp.out -- "$G/smp.elf" --set vm.vcpus=4 --set cpu.batch=1
exit $fails
