#!/bin/sh
# The guest side of scripts/soak: for SECONDS, the XO keeper (xo_soak)
# beside Debian's trinity on the mm system calls (as user nobody) and
# stress-ng's memory stressors, with zram swap, KSM, THP and NUMA
# balancing on. scripts/soak puts trinity, stress-ng, their shared
# libraries and the dynamic loader in the initramfs (/soak/bin, /lib...).
#
#   xo-soak.sh SECONDS SEED
#
# Prints TAP: the keeper's own TAP indented as a subtest, then one result
# each for the keeper, trinity, stress-ng and the kernel's taint flags,
# and a line "# XO-SOAK-FIGURES ..." with the numbers scripts/soak reports.
# Kernel warnings the console's loglevel hid are printed from dmesg at the
# end (XO-GUEST-DMESG) so that the host sees them too.
secs=$1 seed=$2
case $secs in '' | *[!0-9]*) echo "usage: xo-soak.sh SECONDS SEED" >&2; exit 2 ;; esac
case $seed in '' | *[!0-9]*) echo "usage: xo-soak.sh SECONDS SEED" >&2; exit 2 ;; esac
bin=/soak/bin
out=/tmp/soak
# The OOM killer may take trinity's and stress-ng's processes, not this
# script (nor the keeper, which protects itself): they start from 0 again.
echo -1000 >/proc/$$/oom_score_adj
mkdir -p "$out/trinity" "$out/stress"
# trinity runs as nobody (busybox su needs the name; its setpriv cannot
# change the uid): it may write only its own directory.
grep -q '^nobody:' /etc/passwd || echo 'nobody:x:65534:65534:nobody:/nonexistent:/bin/sh' >>/etc/passwd
chown 65534:65534 "$out/trinity"

echo "TAP version 13"
echo "1..4"
taint0=$(cat /proc/sys/kernel/tainted)
# The mm events the soak is about, from /proc/vmstat, before and after.
events="pgfault pswpin pswpout pgmigrate_success numa_hint_faults thp_fault_alloc thp_split_pmd"
# (-1: no such counter; without VM_EVENT_COUNTERS there are none).
vmstat() { for e in $events; do awk -v e="$e" 'BEGIN { v = -1 } $1 == e { v = $2 } END { print v }' /proc/vmstat; done; }
vmstat >"$out/vm0"
printf '%s\n' $events >"$out/events"

# Swap to zram unless /init already set some up.
if ! grep -q '^/' /proc/swaps && [ -e /sys/block/zram0/disksize ]; then
	echo 256M >/sys/block/zram0/disksize && mkswap /dev/zram0 >/dev/null && swapon /dev/zram0 ||
		echo "# zram swap: could not set it up"
fi
swap=$(awk 'NR > 1 { print $1 }' /proc/swaps | paste -sd, -)
# KSM scanning, THP for every anonymous mapping, NUMA balancing.
[ ! -w /sys/kernel/mm/ksm/run ] || {
	echo 1000 >/sys/kernel/mm/ksm/pages_to_scan
	echo 20 >/sys/kernel/mm/ksm/sleep_millisecs
	echo 1 >/sys/kernel/mm/ksm/run
}
[ ! -w /sys/kernel/mm/transparent_hugepage/enabled ] ||
	echo always >/sys/kernel/mm/transparent_hugepage/enabled
[ ! -w /proc/sys/kernel/numa_balancing ] || echo 1 >/proc/sys/kernel/numa_balancing
nodes=$(ls -d /sys/devices/system/node/node* 2>/dev/null | wc -l)
echo "# soak: ${secs}s, seed $seed, swap ${swap:-none}, KSM $(cat /sys/kernel/mm/ksm/run 2>/dev/null || echo -)," \
	"THP $(sed 's/.*\[\(.*\)\].*/\1/' /sys/kernel/mm/transparent_hugepage/enabled 2>/dev/null || echo -)," \
	"NUMA nodes $nodes, balancing $(cat /proc/sys/kernel/numa_balancing 2>/dev/null || echo -)"

./xo_soak -d "$secs" -s "$seed" >"$out/keeper.out" 2>&1 &
keeper=$!

# trinity: only the mm system calls, a fixed seed, as nobody (it refuses
# root, and as root it could kill or corrupt the keeper). Victim files: its
# own directory, not a tree walk of /proc, /sys and /dev; no sockets (their
# cache takes minutes to build under TCG), perf or drm descriptors.
calls="mmap mprotect mremap madvise munmap userfaultfd process_vm_readv process_vm_writev
	vmsplice io_uring_setup io_uring_enter io_uring_register mlock mlock2 munlock mlockall
	munlockall msync brk remap_file_pages mincore mbind migrate_pages move_pages
	set_mempolicy get_mempolicy pkey_mprotect pkey_alloc pkey_free memfd_create"
targs=
for c in $calls; do targs="$targs -c $c"; done
dd if=/dev/urandom of="$out/trinity/victim" bs=4096 count=64 2>/dev/null
chown 65534:65534 "$out/trinity/victim"
echo "# trinity -s $seed$targs"
(cd "$out/trinity" && echo 0 >/proc/self/oom_score_adj && exec su -s /bin/sh -c \
	"exec $bin/trinity -q -l off -s $seed -C 4 -V $out/trinity --disable-fds=sockets,perf,drm $targs" nobody) >"$out/trinity.out" 2>&1 &
trinity=$!

# stress-ng: the memory stressors this version has, one instance each
# (numa finds the fake nodes in /proc/self/status' Mems_allowed, which
# needs CPUSETS).
stressors="vm mmap madvise mremap userfaultfd mprotect vm-splice vm-rw mlock msync
	pagemove pageswap remap memfd mmapfixed brk numa"
sargs=
for s in $stressors; do sargs="$sargs --$s 1"; done
echo "# stress-ng$sargs"
(cd "$out/stress" && echo 0 >/proc/self/oom_score_adj && exec "$bin/stress-ng" $sargs \
	--vm-bytes 64M --mmap-bytes 32M --mremap-bytes 32M --memfd-bytes 32M --msync-bytes 16M \
	--pagemove-bytes 16M \
	--timeout "${secs}s" --verify --metrics-brief --yaml "$out/stress.yaml") >"$out/stress.out" 2>&1 &
stress=$!

wait "$keeper"
krc=$?
# The keeper's time is up: trinity stops on SIGINT and prints its totals.
kill -INT "$trinity" 2>/dev/null
i=0
while kill -0 "$trinity" 2>/dev/null && [ $i -lt 60 ]; do sleep 1; i=$((i + 1)); done
kill -KILL "$trinity" 2>/dev/null
wait "$trinity"
wait "$stress"
src=$?

sed 's/^/    /' "$out/keeper.out"
keeper_line=$(grep -h 'XO-SOAK-KEEPER' "$out/keeper.out" | sed 's/.*XO-SOAK-KEEPER //')
if [ $krc -eq 0 ] && [ -n "$keeper_line" ]; then
	echo "ok 1 keeper # $keeper_line"
else
	echo "not ok 1 keeper # exit $krc"
fi

grep -E '^\[main\] (Ran|Bailing|.*tainted)|Enabled [0-9]+ syscalls|Initial random seed|passed random seed' \
	"$out/trinity.out" | sed 's/^/# trinity: /'
syscalls=$(sed -n 's/.*Ran \([0-9]*\) syscalls.*/\1/p' "$out/trinity.out" | tail -n 1)
if [ -n "$syscalls" ] && [ "$syscalls" -gt 0 ] && ! grep -q 'tainted' "$out/trinity.out"; then
	echo "ok 2 trinity # ran $syscalls syscalls, seed $seed"
else
	tail -n 20 "$out/trinity.out" | sed 's/^/# trinity: /'
	echo "not ok 2 trinity # ran ${syscalls:-no} syscalls, seed $seed"
fi

# stress-ng's YAML: "- stressor: NAME" then "bogo-ops: N".
bogo=$(awk '/stressor:/ { n++ } /bogo-ops:/ { s += $2 } END { print n + 0, s + 0 }' "$out/stress.yaml" 2>/dev/null)
grep -E 'stress-ng: (info|fail|error|warn|metrc)' "$out/stress.out" | grep -vE 'dispatching|setting to a|defaulting to' |
	sed 's/^/# /' | tail -n 40
set -- $bogo
if [ $src -eq 0 ] && [ "${2:-0}" -gt 0 ]; then
	echo "ok 3 stress-ng # $1 stressors, $2 bogo ops"
else
	echo "not ok 3 stress-ng # exit $src, ${1:-0} stressors, ${2:-0} bogo ops"
fi

# Warnings (printk level 4) the console did not show; a taint flag set
# during the soak (W: a WARN, B: a bad page, D: an oops, L: a soft lockup).
dmesg -r | sed -n 's/^<4>//p' | sed 's/^/XO-GUEST-DMESG /'
taint=$(cat /proc/sys/kernel/tainted)
if [ "$taint" = "$taint0" ]; then
	echo "ok 4 kernel not tainted by the soak # tainted=$taint"
else
	echo "not ok 4 kernel not tainted by the soak # tainted $taint0 -> $taint"
fi
deltas=$(vmstat | paste -d' ' - "$out/vm0" | awk '{ if ($1 < 0 || $2 < 0) print "n/a"; else printf "%d\n", $1 - $2 }' | paste -d= "$out/events" - | paste -sd' ' -)
ksm=$(cat /sys/kernel/mm/ksm/pages_sharing 2>/dev/null || echo 0)
echo "# XO-SOAK-FIGURES seconds=$secs seed=$seed syscalls=${syscalls:-0} stressors=${1:-0} bogo_ops=${2:-0} $keeper_line $deltas ksm_pages_sharing=$ksm"
