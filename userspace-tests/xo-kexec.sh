#!/bin/sh
# The KVM XO enable bit across kexec (scripts/check: xo-kexec). kexec enters
# the next kernel without RESET or INIT on the CPU that jumps to it, so the
# MSR_KVM_EXEC_ONLY enable bit survives unless the kernel turns it off on
# the way out, and a kernel that does not use XO must find the bit reserved.
# One guest boot, four kernels, the same image, chained by kexec_file_load;
# xo.kexec=N on the command line says which stage this is:
#   1  XO on: enabled on every CPU; kexec into 2 with nokvmxo
#   2  nokvmxo: the MSR is off on every CPU and the kernel had nothing to
#      clear (1 disabled it); then set the enable bit by hand on the boot
#      CPU, as a crashed or older kernel would leave it; kexec into 3
#   3  nokvmxo: the kernel cleared the stale bit; kexec into 4 with XO on
#   4  XO on again after three kexecs: enabled on every CPU, and an XO page
#      runs and refuses reads (xo_core's load_touched)
# Needs /tests/bzImage (run-guest --file) and /tests/xo_kexec. A stage that
# fails does not go on, so the run stops short of XO-GUEST-DONE.
stage=1
for arg in $(cat /proc/cmdline); do
	case $arg in xo.kexec=*) stage=${arg#xo.kexec=} ;; esac
done
n=0 failed=0
ok() { n=$((n + 1)); echo "ok $n stage $stage: $*"; }
not_ok() { n=$((n + 1)); failed=1; echo "not ok $n stage $stage: $*"; }
check() { # DESCRIPTION COMMAND...
	what=$1
	shift
	if "$@"; then ok "$what"; else not_ok "$what"; fi
}

# msr_all PATTERN: every CPU's MSR_KVM_EXEC_ONLY value matches PATTERN
# (a case pattern on "0x<hex>").
msr_all() {
	vals=$(./xo_kexec msr) || return 1
	echo "$vals" | sed 's/^/# /'
	[ "$(echo "$vals" | wc -l)" -eq "$(grep -c ^processor /proc/cpuinfo)" ] || return 1
	echo "$vals" | while read -r _ v; do
		# shellcheck disable=SC2254
		case $(((v & 0x100) != 0)) in $1) ;; *) exit 1 ;; esac
	done
}
enabled() { msr_all 1; }
disabled() { msr_all 0; }
has_dmesg() { dmesg | grep -qF "$1"; }
no_dmesg() { ! dmesg | grep -qF "$1"; }
xo_flag() { grep -qw exec_only /proc/cpuinfo; }
no_xo_flag() { ! xo_flag; }

# next STAGE EXTRA-ARGS: have /init kexec into STAGE once the run-list ends,
# with this command line less the previous stage's arguments.
next() {
	to=$1 extra=$2 cmdline=
	for arg in $(cat /proc/cmdline); do
		case $arg in xo.kexec=* | nokvmxo | msr.allow_writes=*) ;; *) cmdline="$cmdline $arg" ;; esac
	done
	# The same root file system, bzImage and all, as the next initrd.
	if ! (cd / && find . -xdev | cpio -o -H newc >/tmp/next.cpio 2>/dev/null); then
		not_ok "pack the next stage's initrd"
		return
	fi
	echo "./xo_kexec exec /tests/bzImage /tmp/next.cpio '${cmdline# } xo.kexec=$to $extra'" >/tmp/xo-next-stage
	ok "kexec into stage $to (${extra:-XO on}) after the run-list"
}

case $stage in 1 | 3) plan=3 ;; 2 | 4) plan=4 ;; *) plan=1 ;; esac
echo "1..$plan"
dmesg | grep 'kvm-xo:' | sed 's/^/# /'
case $stage in
1)
	check "XO enabled: exec_only" xo_flag
	check "MSR_KVM_EXEC_ONLY enabled on every CPU" enabled
	# msr.allow_writes=on: stage 2 writes the MSR through /dev/cpu/0/msr.
	next 2 "nokvmxo msr.allow_writes=on"
	;;
2)
	check "nokvmxo: XO off, no exec_only" no_xo_flag
	check "nothing to clear: the previous kernel turned the MSR off" \
		no_dmesg 'cleared the enable bit'
	check "MSR_KVM_EXEC_ONLY disabled on every CPU" disabled
	if ./xo_kexec set-enable 0 && ./xo_kexec msr | grep -q '^cpu0 0x1..$'; then
		next 3 "nokvmxo"
	else
		not_ok "set the enable bit by hand on CPU 0"
	fi
	;;
3)
	check "the kernel cleared the stale enable bit" \
		has_dmesg 'cleared the enable bit a previous kernel left set'
	check "MSR_KVM_EXEC_ONLY disabled on every CPU" disabled
	next 4 ""
	;;
4)
	check "XO enabled again after three kexecs: exec_only" xo_flag
	check "MSR_KVM_EXEC_ONLY enabled on every CPU" enabled
	check "dmesg: XO enabled" has_dmesg 'XO enabled, NR bit'
	check "an XO page runs and refuses reads (xo_core -t load_touched)" \
		sh -c './xo_core -t load_touched >/tmp/core.log 2>&1; rc=$?; sed "s/^/# /" /tmp/core.log; [ $rc -eq 0 ]'
	;;
*)
	not_ok "unknown stage xo.kexec=$stage"
	;;
esac
exit $failed
