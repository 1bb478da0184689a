#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# On a kernel WITHOUT XO: every program must pass in its own mode, and with
# XO_TEST_EXPECT_XO=1 every check must fail except those whose expectation
# is the same with and without XO (listed here). Proves the XO checks can
# fail, and fail for the reason printed.
#
# Usage: host-selfcheck.sh OUTDIR
set -u
out=${1:?usage: host-selfcheck.sh OUTDIR}

# The same result with and without XO: not evidence of XO either way.
mode_independent='
global.store_touched_and_untouched
global.maps_shows_xp
global.frames_reused_after_munmap
global.pkeys_not_consumed
global.pkey_mprotect_works
global.write_only_stays_readable
kaccess.read_into_xo
kaccess.io_uring_read_into_xo
kaccess.process_vm_readv
matrix.none.file_private
matrix.none.anon_mprotect
matrix.r.file_private
matrix.r.anon_mprotect
matrix.w.file_private
matrix.w.anon_mprotect
matrix.rw.file_private
matrix.rw.anon_mprotect
matrix.rx.file_private
matrix.rx.anon_mprotect
matrix.wx.file_private
matrix.wx.anon_mprotect
matrix.rwx.file_private
matrix.rwx.anon_mprotect
'
grep -qw exec_only /proc/cpuinfo && { echo "this kernel has exec_only: run it elsewhere"; exit 2; }
# O_DIRECT goes to a file next to the programs (no /dev/ram0 here).
XO_TEST_DIRECT_IO=$out/xo-direct-io.img
export XO_TEST_DIRECT_IO
dd if=/dev/zero of="$XO_TEST_DIRECT_IO" bs=4096 count=2 2>/dev/null
bad=0
for prog in xo_core xo_mm; do
	log=$("$out/$prog" 2>&1)
	nf=$(printf '%s\n' "$log" | grep -c '^not ok')
	echo "$prog, stock expectations: $(printf '%s\n' "$log" | grep -c '^ok') ok, $nf not ok"
	[ "$nf" -eq 0 ] || bad=1
	log=$(XO_TEST_EXPECT_XO=1 "$out/$prog" 2>&1)
	echo "$prog, XO expected: $(printf '%s\n' "$log" | grep -c '^not ok') not ok"
	for name in $(printf '%s\n' "$log" | grep '^ok ' | grep -v '# SKIP' | awk '{print $3}'); do
		if ! printf '%s\n' "$mode_independent" | grep -qx "$name"; then
			echo "  PASSES although XO is expected: $name"
			bad=1
		fi
	done
done
rm -f "$XO_TEST_DIRECT_IO"
[ $bad -eq 0 ] && echo "host self-check: OK" || echo "host self-check: FAILED"
exit $bad
