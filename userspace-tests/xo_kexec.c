// SPDX-License-Identifier: GPL-2.0
/*
 * Helper of xo-kexec.sh, the check that the KVM XO enable bit does not
 * leak into a kexec'd kernel (Documentation/virt/kvm/x86/msr.rst,
 * MSR_KVM_EXEC_ONLY):
 *
 *   xo_kexec msr              print "cpuN 0xVALUE" for every online CPU
 *   xo_kexec set-enable CPU   set KVM_EXEC_ONLY_ENABLE on CPU behind the
 *                             kernel's back (a stale bit, as a crashed or
 *                             older kernel would leave it)
 *   xo_kexec exec KERNEL INITRD CMDLINE
 *                             kexec_file_load() and reboot into it
 *
 * The MSR is read and written through /dev/cpu/N/msr (CONFIG_X86_MSR).
 * Exit status 0 on success, 1 on a failed operation, 2 on bad usage.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/reboot.h>
#include <sys/reboot.h>
#include <sys/syscall.h>

#define MSR_KVM_EXEC_ONLY	0x4b564d09
#define KVM_EXEC_ONLY_ENABLE	(1ULL << 8)

static int msr_fd(int cpu, int flags)
{
	char path[64];
	int fd;

	snprintf(path, sizeof(path), "/dev/cpu/%d/msr", cpu);
	fd = open(path, flags);
	if (fd < 0 && errno != ENOENT && errno != ENXIO)
		fprintf(stderr, "xo_kexec: %s: %s\n", path, strerror(errno));
	return fd;
}

static int msr_read(int fd, uint64_t *val)
{
	return pread(fd, val, sizeof(*val), MSR_KVM_EXEC_ONLY) == sizeof(*val) ? 0 : -1;
}

static int cmd_msr(void)
{
	long ncpus = sysconf(_SC_NPROCESSORS_CONF);
	int cpu, seen = 0;

	for (cpu = 0; cpu < ncpus; cpu++) {
		uint64_t val;
		int fd = msr_fd(cpu, O_RDONLY);

		if (fd < 0)
			continue;
		if (msr_read(fd, &val)) {
			fprintf(stderr, "xo_kexec: cpu%d: rdmsr 0x%x: %s\n", cpu,
				MSR_KVM_EXEC_ONLY, strerror(errno));
			close(fd);
			return 1;
		}
		close(fd);
		printf("cpu%d 0x%" PRIx64 "\n", cpu, val);
		seen++;
	}
	if (!seen) {
		fprintf(stderr, "xo_kexec: no /dev/cpu/N/msr (CONFIG_X86_MSR?)\n");
		return 1;
	}
	return 0;
}

static int cmd_set_enable(int cpu)
{
	uint64_t val;
	int fd = msr_fd(cpu, O_RDWR);

	if (fd < 0)
		return 1;
	if (msr_read(fd, &val)) {
		fprintf(stderr, "xo_kexec: cpu%d: rdmsr: %s\n", cpu, strerror(errno));
		return 1;
	}
	val |= KVM_EXEC_ONLY_ENABLE;
	if (pwrite(fd, &val, sizeof(val), MSR_KVM_EXEC_ONLY) != sizeof(val)) {
		fprintf(stderr, "xo_kexec: cpu%d: wrmsr 0x%" PRIx64 ": %s\n", cpu, val,
			strerror(errno));
		return 1;
	}
	close(fd);
	return 0;
}

static int cmd_exec(const char *kernel, const char *initrd, const char *cmdline)
{
	int kfd = open(kernel, O_RDONLY), ifd = open(initrd, O_RDONLY);

	if (kfd < 0 || ifd < 0) {
		fprintf(stderr, "xo_kexec: cannot open %s: %s\n",
			kfd < 0 ? kernel : initrd, strerror(errno));
		return 1;
	}
	/* The length includes the terminating NUL. */
	if (syscall(SYS_kexec_file_load, kfd, ifd, strlen(cmdline) + 1, cmdline, 0UL)) {
		fprintf(stderr, "xo_kexec: kexec_file_load: %s\n", strerror(errno));
		return 1;
	}
	sync();
	reboot(LINUX_REBOOT_CMD_KEXEC);
	fprintf(stderr, "xo_kexec: reboot(LINUX_REBOOT_CMD_KEXEC): %s\n", strerror(errno));
	return 1;
}

int main(int argc, char **argv)
{
	if (argc == 2 && !strcmp(argv[1], "msr"))
		return cmd_msr();
	if (argc == 3 && !strcmp(argv[1], "set-enable"))
		return cmd_set_enable(atoi(argv[2]));
	if (argc == 5 && !strcmp(argv[1], "exec"))
		return cmd_exec(argv[2], argv[3], argv[4]);
	fprintf(stderr, "usage: xo_kexec msr | set-enable CPU | exec KERNEL INITRD CMDLINE\n");
	return 2;
}
