#!/bin/sh
# Suspend the guest to RAM and let the CMOS RTC alarm wake it. QEMU resets
# the vCPUs on wake-up, which clears MSR_KVM_EXEC_ONLY, so the kernel must
# enable XO again on the boot CPU (syscore resume) and on the other CPUs
# (brought back through CPU hotplug) before user space runs on them. Run it
# first, before the conformance checks (scripts/check: xo-on-suspend): they
# then show XO still works on every CPU; without the re-enable the guest
# takes reserved-bit page faults on the first XO page.
stats=/sys/power/suspend_stats/success
alarm=/sys/class/rtc/rtc0/wakealarm
echo "1..1"
if ! grep -qw mem /sys/power/state 2>/dev/null || [ ! -w "$alarm" ] || [ ! -r "$stats" ]; then
	echo "ok 1 suspend to RAM and resume # SKIP no suspend to RAM or no RTC wake alarm here" \
		"(needs CONFIG_SUSPEND, CONFIG_RTC_DRV_CMOS and a machine with S3)"
	exit 4
fi
# S3 ("deep"), not suspend-to-idle: only S3 resets the vCPUs.
if ! echo deep >/sys/power/mem_sleep 2>/dev/null; then
	echo "ok 1 suspend to RAM and resume # SKIP no S3 here: /sys/power/mem_sleep offers" \
		"$(cat /sys/power/mem_sleep 2>/dev/null || echo nothing)"
	exit 4
fi
before=$(cat "$stats")
echo 0 >"$alarm"
echo +2 >"$alarm"
start=$(date +%s)
if echo mem >/sys/power/state; then rc=0; else rc=$?; fi
after=$(cat "$stats")
log=$(dmesg | grep -E 'PM: suspend (entry|exit)|ACPI: PM: (Low-level resume|Waking up)')
echo "$log" | sed 's/^/# /'
if [ "$rc" -eq 0 ] && [ "$after" -eq $((before + 1)) ] &&
	echo "$log" | grep -qF 'PM: suspend entry (deep)' &&
	echo "$log" | grep -qF 'PM: suspend exit'; then
	echo "ok 1 suspend to RAM and resume ($(($(date +%s) - start)) s)"
else
	echo "not ok 1 suspend to RAM and resume: write status $rc, successful suspends $before -> $after, no S3 entry and exit in dmesg?"
	exit 1
fi
