# protsim exec: the PVALIDATE/RMPADJUST demo on an SNP guest; #UD elsewhere.
. tests/guest/lib.sh
expect_run pvalidate-snp 0 pvalidate.out -- "$G/pvalidate.elf" --set vm.type=snp
expect_run pvalidate-npt 2 - -- "$G/pvalidate.elf"
exit $fails
