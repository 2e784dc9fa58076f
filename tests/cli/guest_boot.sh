# protsim exec: the guest kernel library's programs without boot parameters
# (a1 = 0): boot takes the link script's free RAM, makes no SNP call, and
# touches 1 MiB through its allocator (on an SNP vCPU through its C-bit
# page tables, M mode with MPRV); virtio finds no device.
. tests/guest/lib.sh
expect_run boot-npt 0 boot.out -- "$G/boot.elf"
expect_run boot-snp 0 boot-snp.out -- "$G/boot.elf" --set vm.type=snp --set vm.cbit_pte=1
expect_run boot-snp-cbit0 0 boot-snp.out -- "$G/boot.elf" --set vm.type=snp
expect_run virtio-nodev 2 - -- "$G/virtio.elf"
grep -q 'no device in the boot parameters' "$tmp/out" || {
	echo "virtio-nodev: output: $(cat "$tmp/out")"; fails=$((fails + 1)); }
exit $fails
