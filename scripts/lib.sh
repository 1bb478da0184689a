# shellcheck shell=bash
# Shared helpers for the xo-kvm scripts. Source it; do not run it.
#
# Every script sets `set -euo pipefail` itself and then sources this file.

XO_TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
XO_CACHE=${XO_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/xo-kvm}
XO_WORK=${XO_WORK:-$XO_TOP/work}     # materialized git work trees (gitignored)
XO_BUILD=${XO_BUILD:-$XO_TOP/build}  # build outputs (gitignored)

# Pinned sources: name, version, sha256.
LINUX_DEB_PKG=linux-source-6.12
LINUX_DEB_VERSION=6.12.117-1~deb12u1
LINUX_DEB_SHA256=e849faf31ca3555757f3a8877cb01af92122f744f75d1f3102734651c4e14703
LINUX_TAR_SHA256=585a4a074597aefa2b1a68ada83a3184ba351c127544dea80618bbcceaa3961f
LINUX_VERSION=6.12.117
LINUX_BRANCH=${LINUX_VERSION%.*}   # 6.12: what a user's KERNEL_SRC must be
LINUX_SOURCE_TAR=$LINUX_DEB_PKG.tar.xz  # inside the .deb

QEMU_DEB_VERSION=1:10.0.13+ds-0+deb13u1
QEMU_ORIG_TAR=qemu_10.0.13+ds.orig.tar.xz
QEMU_ORIG_SHA256=6a0888e806c2ffc0c5f0733e974f9aea55491950d3c47c98669c8b236dde59ae
QEMU_DEBIAN_TAR=qemu_10.0.13+ds-0+deb13u1.debian.tar.xz
QEMU_VERSION=10.0.13
QEMU_BRANCH=${QEMU_VERSION%.*}     # 10.0: what a user's QEMU_SRC must be

# Bochs (emulated VT-x with EPT, the KVM host's CPU in check-kvm): Debian's
# trixie source package; its .dsc 404s, the orig tarball is what is pinned.
BOCHS_DEB_VERSION=3.0+dfsg-1
BOCHS_ORIG_TAR=bochs_3.0+dfsg.orig.tar.xz
BOCHS_ORIG_SHA256=78f6c73d4a6472d5130a87ab9dc306d02c7c71ed8e25b3a8ef642e2a7acd282b

# Where the trees are: a user's own checkout, or the materialized one.
KERNEL_TREE=${KERNEL_SRC:-$XO_WORK/linux}
QEMU_TREE=${QEMU_SRC:-$XO_WORK/qemu}
LINUX_SERIES=${LINUX_SERIES:-$XO_TOP/patches}
QEMU_SERIES=${QEMU_SERIES:-$XO_TOP/qemu-patches}
KERNEL_OUT=$XO_BUILD/kernel
QEMU_OUT=$XO_BUILD/qemu
QEMU_BIN=$QEMU_OUT/qemu-system-x86_64
BZIMAGE=$KERNEL_OUT/arch/x86/boot/bzImage
TESTS_OUT=$XO_BUILD/userspace-tests
BOCHS_SERIES=${BOCHS_SERIES:-$XO_TOP/bochs-patches}
BOCHS_OUT=$XO_BUILD/bochs
BOCHS_BIN=$BOCHS_OUT/bin/bochs     # with its BIOS files next to it (build-bochs)
# Haswell: VMX with EPT execute-only, A/D bits, unrestricted guest, VPID.
BOCHS_CPU=corei7_haswell_4770
KVM_SELFTESTS_OUT=$XO_BUILD/kvm-selftests
# The kernel for real VMs (make deb): defconfig + guest-kernel/vm.config,
# out of tree here; its packages go to DEB_OUT. The Debian guest make
# check-distro boots (build-distro-image) is made in DISTRO_OUT.
KERNEL_VM_OUT=$XO_BUILD/kernel-vm
DEB_OUT=$XO_BUILD/deb
DISTRO_OUT=$XO_BUILD/distro
DISTRO_SUITE=bookworm
DISTRO_MIRRORS=("deb http://deb.debian.org/debian $DISTRO_SUITE main"
	"deb http://deb.debian.org/debian $DISTRO_SUITE-updates main"
	"deb http://deb.debian.org/debian-security $DISTRO_SUITE-security main")
# The conformance suite's sources live in userspace-tests/; the guest series
# carries the same files as a kselftest (scripts/sync-kselftest), config
# (the kernel options the suite needs) as the kselftest's config.
SUITE_SOURCES=(xo_core.c xo_mm.c xo_ptdump.c xo_common.h xo_common.c xo_elf_xonly.S xo_elf_xonly.lds config)
SUITE_KSELFTEST_DIR=tools/testing/selftests/x86/kvm_xo
# Firmware is not built with QEMU: it comes from Debian's seabios and
# qemu-system-data. No NIC: the default one wants an option ROM not there.
QEMU_FW_ARGS=(-L /usr/share/seabios -L /usr/share/qemu -nic none)

# ccache keyed on paths relative to the checkout, so a fresh clone elsewhere
# (CI) still hits the cache.
export CCACHE_BASEDIR=${CCACHE_BASEDIR:-$XO_TOP}

XO_START=${XO_START:-$(date +%s)}
export XO_START

# Fall back to plain output when stdout is not a terminal (CI logs).
if [ -t 1 ]; then _b=$'\e[1m' _r=$'\e[31m' _n=$'\e[0m'; else _b= _r= _n=; fi

elapsed() {
	local s=$(($(date +%s) - XO_START))
	printf '%d:%02d' $((s / 60)) $((s % 60))
}

# stage NAME: announce a pipeline stage with the time since the top-level command started.
stage() { printf '%s==> [%s] %s%s\n' "$_b" "$(elapsed)" "$*" "$_n"; }
info() { printf '    %s\n' "$*"; }
warn() { printf '%swarning:%s %s\n' "$_r" "$_n" "$*" >&2; }
die() {
	printf '%serror:%s %s\n' "$_r" "$_n" "$*" >&2
	exit 1
}

need_cmd() {
	local c
	for c in "$@"; do
		command -v "$c" >/dev/null 2>&1 ||
			die "'$c' not found; run 'make deps' (as root) or see README.md"
	done
}

sha256_ok() { # FILE SHA256
	[ "$(sha256sum "$1" | cut -d' ' -f1)" = "$2" ]
}

njobs() { nproc 2>/dev/null || echo 2; }

# kernel_make SRC OUT ARGS...: an out-of-tree kernel make with ccache and
# fixed build identity (reproducible objects, so ccache hits across trees).
kernel_make() {
	local src=$1 out=$2
	shift 2
	make -C "$src" O="$out" -j "$(njobs)" CC="ccache gcc" \
		KBUILD_BUILD_TIMESTAMP="xo-kvm" KBUILD_BUILD_USER=xo KBUILD_BUILD_HOST=xo-kvm "$@"
}

# kernel_configure SRC OUT BASE-TARGET FRAGMENT...: write OUT/.config as
# BASE-TARGET (tinyconfig, defconfig) plus the fragments, merged in order
# with the tree's scripts/kconfig/merge_config.sh, then olddefconfig. Fails
# naming every option a fragment asks for that did not survive (a missing
# dependency silently drops it otherwise), "is not set" lines included.
kernel_configure() {
	local src=$1 out=$2 base=$3 dropped
	shift 3
	mkdir -p "$out"
	kernel_make "$src" "$out" -s "$base" >/dev/null
	"$src/scripts/kconfig/merge_config.sh" -m -O "$out" "$out/.config" "$@" \
		>"$out/merge_config.log" 2>&1
	kernel_make "$src" "$out" -s olddefconfig >/dev/null
	dropped=$(sed -nE 's/^(CONFIG_[A-Za-z0-9_]+=.*)$/\1/p; s/^# (CONFIG_[A-Za-z0-9_]+) is not set$/\1=n/p' "$@" |
		while IFS= read -r line; do
			case $line in
			*=n) ! grep -qE "^${line%=n}=" "$out/.config" && continue ;;
			*) ! grep -qxF "$line" "$out/.config" || continue ;;
			esac
			echo "  $line (got: $(grep -E "^(# )?${line%%=*}[= ]" "$out/.config" || echo 'not present'))"
		done)
	[ -z "$dropped" ] || die "kernel config options requested but not set:
$dropped"
}

# run_logged LOG CMD...: run a long command with its output in LOG, printing a
# heartbeat line every minute so a terminal never sits silent; on failure show
# the end of the log.
run_logged() {
	local log=$1 pid rc t0 last
	shift
	mkdir -p "$(dirname "$log")"
	t0=$(date +%s)
	"$@" >"$log" 2>&1 &
	pid=$!
	last=$t0
	while kill -0 "$pid" 2>/dev/null; do
		sleep 2
		if [ $(($(date +%s) - last)) -ge 60 ]; then
			last=$(date +%s)
			info "... still running ($(($(date +%s) - t0))s): $(tail -n 1 "$log" | cut -c1-100)"
		fi
	done
	rc=0
	wait "$pid" || rc=$?
	if [ "$rc" -ne 0 ]; then
		tail -n 40 "$log" >&2
		die "command failed (exit $rc), full log: $log"
	fi
	info "done in $(($(date +%s) - t0))s (log: ${log#"$XO_TOP"/})"
}

# copy_ldd_closure ROOT BIN...: copy the shared libraries the BINs load, and
# the dynamic loader, into ROOT at the paths the loader looks in (ROOT is an
# initramfs tree). Prints the host paths copied, one a line.
copy_ldd_closure() {
	local root=$1 libs lib
	shift
	libs=$(for lib in "$@"; do ldd "$lib"; done |
		awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }' | LC_ALL=C sort -u)
	[ -n "$libs" ] || { echo "ldd lists no library for $*" >&2; return 1; }
	while read -r lib; do
		mkdir -p "$root$(dirname "$lib")"
		cp -L "$lib" "$root$lib"
	done <<<"$libs"
	echo "$libs"
}

# The series file lists patch file names, one per line; '#' starts a comment.
series_patches() { # DIR
	[ -f "$1/series" ] || return 0
	sed -e 's/#.*//' -e 's/[[:space:]]*$//' "$1/series" | grep -v '^$' || true
}

# Identity for commits made by the scripts (base commit, git am), so that a
# user without a git identity can still materialize the trees.
git_tree() { # DIR ARGS...
	local d=$1
	shift
	git -C "$d" -c user.name="xo-kvm scripts" -c user.email="xo-kvm@localhost" \
		-c core.autocrlf=false "$@"
}

# select_tree linux|qemu: set $tree (materialized work tree), $series_dir and
# $user_src (KERNEL_SRC/QEMU_SRC, empty when unset) for that source.
select_tree() {
	case ${1:-} in
	linux) tree=$XO_WORK/linux series_dir=$LINUX_SERIES user_src=${KERNEL_SRC:-} ;;
	qemu) tree=$XO_WORK/qemu series_dir=$QEMU_SERIES user_src=${QEMU_SRC:-} ;;
	*) return 1 ;;
	esac
}

# last_program_output LOG NAME: what the last run of program NAME printed in a
# guest console log (between its XO-TEST-BEGIN and XO-TEST-END markers; the
# lines may carry printk timestamps, as kvm-host/init's do).
last_program_output() {
	tr -d '\r' <"$1" | sed -E 's/^\[ *[0-9]+\.[0-9]+\] //' | awk -v name="$2" '
		$1 == "XO-TEST-BEGIN" && $2 == name { n = 0; on = 1; next }
		$1 == "XO-TEST-END" && $2 == name { on = 0; keep = n; for (i = 0; i < n; i++) k[i] = b[i]; next }
		on { b[n++] = $0 }
		END { for (i = 0; i < keep; i++) print k[i] }'
}

# kvm_list_entries LIST...: the entries of kvm-host/*.list files, one line
# each, white space folded: "NAME LIMIT [ARGS...]" (run NAME with ARGS for
# at most LIMIT seconds) or "NAME skip REASON". Comments and blank lines are
# dropped; a malformed line or a name listed twice in a file fails, naming
# FILE:LINE.
kvm_list_entries() {
	awk '
	FNR == 1 { delete seen }
	{ sub(/\r$/, "") }
	/^[ \t]*(#|$)/ { next }
	{
		bad = ""
		if (NF < 2) bad = "needs a NAME and a LIMIT"
		else if ($1 !~ /^[A-Za-z0-9_][A-Za-z0-9_.\/-]*$/ || $1 ~ /\.\./) bad = "NAME must be a path under tools/testing/selftests/kvm"
		else if ($2 == "skip" && NF < 3) bad = "a skip needs a reason"
		else if ($2 != "skip" && $2 !~ /^[1-9][0-9]*$/) bad = "LIMIT must be whole seconds or skip"
		else if ($1 in seen) bad = "listed twice (first on line " seen[$1] ")"
		if (bad != "") { printf "%s:%d: %s: %s\n", FILENAME, FNR, bad, $0 > "/dev/stderr"; err = 1; next }
		seen[$1] = FNR
		$1 = $1
		print
	}
	END { exit err }' "$@"
}

# kvm_list_runnable LIST...: the names of the tests the lists run (not skip).
kvm_list_runnable() {
	local entries
	entries=$(kvm_list_entries "$@") || return 1
	awk '$2 != "skip" { print $1 }' <<<"$entries"
}

# kvm_list_for_run KSFT-DIR LIST [NAME...]: LIST's entries as one boot runs
# them: only the NAMEs if any are given (each must be listed), and a test
# whose source KSFT-DIR/NAME.c is not there (yet) becomes
# "NAME skip not in the kernel series yet". Names under l2/ are not
# selftests but L2 guests (scripts/build-kvm-l2 writes them and the payload
# that has them).
kvm_list_for_run() {
	local dir=$1 list=$2 entries name limit args n
	shift 2
	entries=$(kvm_list_entries "$list") || return 1
	for n in "$@"; do
		awk -v n="$n" '$1 == n { f = 1 } END { exit !f }' <<<"$entries" ||
			{ echo "$n is not in $list" >&2; return 1; }
	done
	while read -r name limit args; do
		if [ $# -gt 0 ] && ! printf '%s\n' "$@" | grep -qxF "$name"; then
			continue
		fi
		if [ "$limit" != skip ] && [ "${name#l2/}" = "$name" ] && [ ! -f "$dir/$name.c" ]; then
			echo "$name skip not in the kernel series yet"
		else
			echo "$name $limit${args:+ $args}"
		fi
	done <<<"$entries"
}

# kernel_splats LOG: the lines of a (CR-free) console log where the kernel
# warned, oopsed, panicked, or lockdep, RCU or the hung-task detector
# reported, or the mm found a corrupt page-table entry or swap entry
# (pte_ERROR() and friends: "mm/x.c:12: bad pmd ...", "Bad swap file
# entry"): at the start of a line, or of a printk message ("[ 1.2] ...",
# also where the console wrote one into the middle of a user line),
# optionally after a "subsystem: " or "file.c:LINE: " prefix. Exit 1 when
# there is none.
kernel_splats() {
	grep -E '(^|\[ *[0-9]+\.[0-9]+\] )([A-Za-z0-9_/.-]+(:[0-9]+)?: )?(WARNING:|BUG:|Oops|Kernel panic|kernel BUG|general protection fault|INFO: |UBSAN:|possible circular locking|possible recursive locking|inconsistent lock state|bad (pte|pmd|pud|p4d|pgd) |Bad swap )' "$1"
}

# counts_in FILE: "P F S" of the last counts line in FILE ("N passed, N
# failed[, N skipped]", optionally after a "label: " prefix), or nothing.
counts_in() {
	sed -nE 's/^([A-Za-z0-9_.-]+: )?([0-9]+) passed, ([0-9]+) failed(, ([0-9]+) skipped)?$/\2 \3 \5/p' "$1" |
		tail -n 1 | awk '{ print $1, $2, ($3 == "" ? 0 : $3) }'
}

# tally NAME FILE STATUS: add the counts of a step's output FILE to the
# caller's P, F and S, and print them as "# NAME: N passed, N failed, N
# skipped" (a TAP comment). A step without a counts line counts as one
# failure, and so does a non-zero STATUS when no failure was counted (a
# timeout, a kernel splat, a crash after the last result).
tally() {
	local name=$1 file=$2 rc=$3 c p f s
	c=$(counts_in "$file")
	if [ -z "$c" ]; then
		echo "# $name: no counts line (exit $rc)"
		c="0 1 0"
	fi
	read -r p f s <<<"$c"
	[ "$rc" -eq 0 ] || [ "$f" -gt 0 ] || f=1
	P=$((P + p)) F=$((F + f)) S=$((S + s))
	echo "# $name: $p passed, $f failed, $s skipped"
}

# TAP (version 13) for the scripts that count results. Their output:
#   TAP version 13
#   1..N                      the plan: here when N is known up front
#                             (tap_begin N), else after the last result
#   ok 1 DESC                 one line per result (tap_pass, tap_fail,
#   not ok 2 DESC # NOTE      tap_skip), a NOTE after "# " optional
#   ok 3 DESC # SKIP REASON
#   # ...                     anything else, a sub-step's output too
#                             (tap_nest, tap_note), prefixed by "# "
#   N passed, N failed, N skipped    last: the counts line counts_in reads
# The counts are the caller's P, F and S, which tally adds a step's own
# counts to: a step with results of its own (tap_step) is one TAP line but
# all its results in the counts.
tap_begin() { # [N]
	P=0 F=0 S=0 TAP_N=0 TAP_PLAN=${1:-}
	echo "TAP version 13"
	[ -z "$TAP_PLAN" ] || echo "1..$TAP_PLAN"
}
_tap_line() { # ok|"not ok" DESC [DIRECTIVE]
	TAP_N=$((TAP_N + 1))
	echo "$1 $TAP_N $2${3:+ # $3}"
}
tap_pass() { P=$((P + 1)); _tap_line ok "$1" "${2:-}"; }        # DESC [NOTE]
tap_fail() { F=$((F + 1)); _tap_line "not ok" "$1" "${2:-}"; }  # DESC [NOTE]
tap_skip() { S=$((S + 1)); _tap_line ok "$1" "SKIP $2"; }       # DESC REASON
# tap_check DESC CMD...: one result, passed when CMD succeeds (its output
# nested).
tap_check() {
	local d=$1 rc
	shift
	{ "$@" 2>&1 | tap_nest; rc=${PIPESTATUS[0]}; } || true
	if [ "$rc" -eq 0 ]; then tap_pass "$d"; else tap_fail "$d"; fi
	return "$rc"
}
# tap_nest [FILE]: FILE or stdin as nested output, each line after "# ".
# shellcheck disable=SC2120 # the scripts pass FILE, lib.sh itself does not
tap_nest() { sed -u 's/^/# /' "$@"; }
tap_note() { printf '# %s\n' "$@"; }  # LINE...
# tap_step NAME FILE STATUS: the TAP line of a step whose output FILE
# ends with its own counts line: tally adds those, then "ok N NAME", or
# "not ok N NAME" when it added a failure. Returns 1 then.
tap_step() {
	local f0=$F
	tally "$@"
	if [ "$F" -eq "$f0" ]; then _tap_line ok "$1"; else _tap_line "not ok" "$1"; return 1; fi
}
# tap_run_step NAME OUT CMD...: run such a step, its output nested and
# kept in OUT, then tap_step NAME OUT STATUS.
tap_run_step() {
	local name=$1 out=$2 rc
	shift 2
	mkdir -p "$(dirname "$out")"
	{ "$@" 2>&1 | tee "$out" | tap_nest; rc=${PIPESTATUS[0]}; } || true
	tap_step "$name" "$out" "$rc"
}
# tap_bail REASON: stop the run ("Bail out!"), with at least one failure
# in its counts line; exits 1.
tap_bail() {
	echo "Bail out! $1"
	[ "$F" -gt 0 ] || F=1
	echo "$P passed, $F failed, $S skipped"
	exit 1
}
# tap_end [LABEL]: the plan if tap_begin had none, then the counts line
# "[LABEL: ]N passed, N failed, N skipped". A plan the results did not
# meet is one more failure. Returns 1 when anything failed.
tap_end() {
	if [ -z "$TAP_PLAN" ]; then
		echo "1..$TAP_N"
	elif [ "$TAP_N" -ne "$TAP_PLAN" ]; then
		tap_note "planned $TAP_PLAN results, got $TAP_N"
		F=$((F + 1))
	fi
	echo "${1:+$1: }$P passed, $F failed, $S skipped"
	[ "$F" -eq 0 ]
}
