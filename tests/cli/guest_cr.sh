# protsim exec: CR0.WP cleared from S-mode, without and with a CR0 intercept.
. tests/guest/lib.sh
expect_run crwrite 0 crwrite.out -- "$G/crwrite.elf"
expect_run crwrite-intercept 0 crwrite_intercept.out -- "$G/crwrite.elf" --set vm.cr0_intercept=0x10000
expect_run crwrite-allowed 0 crwrite.out -- "$G/crwrite.elf" --set vm.cr0_intercept=0x10000 --set vm.cr_policy=allow
exit $fails
