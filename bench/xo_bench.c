// SPDX-License-Identifier: GPL-2.0
/*
 * The in-guest microbenchmarks of make bench (scripts/bench): what the XO
 * series costs off the XO path (page faults, mmap, mprotect, fork, exec,
 * GUP-fast), what XO itself costs next to its references (mprotect to X vs
 * RX, a first exec fault on XO vs RX, a refused read of XO vs PROT_NONE),
 * and a workload whose code is XO (for QEMU's +xo under TCG).
 *
 *   xo_bench [-s SCALE] [-r ROUNDS] [-b NAME[,NAME...]] | -l
 *
 * Each benchmark runs its loop in windows of a few iterations (its unit:
 * one fork, 64 page faults, ...), each between two marker instructions,
 * the multi-byte NOPs
 *
 *   nopl 0x584f0001(%rax)    begin   (0f 1f 80 01 00 4f 58; 'X' 'O')
 *   nopl 0x584f0002(%rax)    end     (0f 1f 80 02 00 4f 58)
 *
 * with the benchmark's id in %rax, so the TCG plugin bench/xo_insn_window.c
 * counts the guest instructions (user and kernel) of exactly that work and
 * not the boot. On hardware they are NOPs. Windows short next to the
 * guest's timer tick let the median window be one without a tick (in this
 * debug kernel a tick costs tens of thousands of instructions). Each
 * benchmark's loop (all its windows) is also timed with CLOCK_MONOTONIC (in
 * the guest: under TCG the host's time, in Bochs the emulated time) and
 * reported as one line
 *
 *   # XO-BENCH id=N name=NAME round=R iters=I unit=U ns=T [mech=M]
 *
 * The rounds interleave the benchmarks (1, 2, ..., 1, 2, ...) so that noise
 * falls on all of them alike. A measurement, not a timed test: its TAP
 * result (one per benchmark) fails only when the work itself fails (a
 * system call error, a read of XO memory that faults with the wrong
 * signal), never on a number.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>

#ifndef SEGV_PKUERR
#define SEGV_PKUERR 4
#endif

#define PAGE 4096UL
#define BLOCK 64		/* pages per inner block of the fault loops */
#define MAX_ROUNDS 64
#define MIN_WINDOWS 8	/* per benchmark and round */

/* The markers: distinctive NOPs the plugin recognises by their bytes. */
static inline void mark(unsigned long kind, unsigned long id)
{
	if (kind == 1)
		asm volatile("nopl 0x584f0001(%%rax)" : : "a"(id) : "memory");
	else
		asm volatile("nopl 0x584f0002(%%rax)" : : "a"(id) : "memory");
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static char err[256];
#define FAIL(...) (snprintf(err, sizeof(err), __VA_ARGS__), err)

static char self_path[4096];

/* --- state shared by the benchmarks (set up outside the windows) ------- */
static uint8_t *region;		/* BLOCK pages, anonymous */
static long cur_iters;		/* the running benchmark's iterations */
static uint8_t *code_pages;	/* a memfd of BLOCK pages, each a "ret" */
static int code_fd = -1;
static uint8_t *fault_page;	/* the page a read-fault benchmark reads */
static int pipe_fd[2] = { -1, -1 };
/* How PROT_EXEC is refused to reads (mech_of), from the probe at the start. */
static const char *mech = "";
static int fault_readable;

static sigjmp_buf jmp;
static volatile int fault_code;

static void on_segv(int sig, siginfo_t *si, void *uc)
{
	(void)sig;
	(void)uc;
	fault_code = si->si_code;
	siglongjmp(jmp, 1);
}

static void *map_anon(size_t len, int prot)
{
	void *p = mmap(NULL, len, prot, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

/* --- 1. off the XO path ------------------------------------------------ */

static const char *setup_region(void)
{
	region = map_anon(BLOCK * PAGE, PROT_READ | PROT_WRITE);
	if (!region)
		return FAIL("mmap: %s", strerror(errno));
	/* 4K faults, not one THP per 2M. */
	madvise(region, BLOCK * PAGE, MADV_NOHUGEPAGE);
	memset(region, 1, BLOCK * PAGE);
	return NULL;
}

static void teardown_region(void)
{
	if (region)
		munmap(region, BLOCK * PAGE);
	region = NULL;
}

/* A write to a page MADV_DONTNEED dropped: an anonymous page fault. */
static const char *run_anon_fault(long from, long n)
{
	long i;

	for (i = from; i < from + n; i++) {
		if (i % BLOCK == 0 && madvise(region, BLOCK * PAGE, MADV_DONTNEED))
			return FAIL("madvise: %s", strerror(errno));
		((volatile uint8_t *)region)[(i % BLOCK) * PAGE] = 2;
	}
	return NULL;
}

static const char *run_mmap_munmap(long from, long n)
{
	long i;
	void *p;

	for (i = from; i < from + n; i++) {
		p = mmap(NULL, 16 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (p == MAP_FAILED)
			return FAIL("mmap: %s", strerror(errno));
		if (munmap(p, 16 * PAGE))
			return FAIL("munmap: %s", strerror(errno));
	}
	return NULL;
}

/* mprotect of BLOCK populated pages to PROT and back to RW. */
static const char *mprotect_loop(long n, int prot)
{
	long i;

	for (i = 0; i < n; i++) {
		if (mprotect(region, BLOCK * PAGE, prot))
			return FAIL("mprotect: %s", strerror(errno));
		if (mprotect(region, BLOCK * PAGE, PROT_READ | PROT_WRITE))
			return FAIL("mprotect RW: %s", strerror(errno));
	}
	return NULL;
}

static const char *run_mprotect_rw_rx(long from, long n)
{
	(void)from;
	return mprotect_loop(n, PROT_READ | PROT_EXEC);
}

static const char *run_mprotect_rw_x(long from, long n)
{
	(void)from;
	return mprotect_loop(n, PROT_EXEC);
}

static const char *wait_child(pid_t pid)
{
	int status;

	if (pid < 0)
		return FAIL("fork: %s", strerror(errno));
	if (waitpid(pid, &status, 0) != pid)
		return FAIL("waitpid: %s", strerror(errno));
	if (!WIFEXITED(status) || WEXITSTATUS(status))
		return FAIL("child status 0x%x", status);
	return NULL;
}

static const char *run_fork_exit(long from, long n)
{
	const char *m;
	long i;
	pid_t pid;

	for (i = from; i < from + n; i++) {
		pid = fork();
		if (pid == 0)
			_exit(0);
		m = wait_child(pid);
		if (m)
			return m;
	}
	return NULL;
}

/* This program is static: exec it again, where it exits at once. */
static const char *run_exec_static(long from, long n)
{
	char *argv[] = { self_path, "--exit", NULL };
	const char *m;
	long i;
	pid_t pid;

	for (i = from; i < from + n; i++) {
		pid = fork();
		if (pid == 0) {
			execv(self_path, argv);
			_exit(127);
		}
		m = wait_child(pid);
		if (m)
			return m;
	}
	return NULL;
}

static const char *setup_pipe(void)
{
	const char *m = setup_region();

	if (m)
		return m;
	if (pipe(pipe_fd))
		return FAIL("pipe: %s", strerror(errno));
	return NULL;
}

static void teardown_pipe(void)
{
	teardown_region();
	close(pipe_fd[0]);
	close(pipe_fd[1]);
	pipe_fd[0] = pipe_fd[1] = -1;
}

/* vmsplice pins the user pages with get_user_pages_fast(). */
static const char *run_vmsplice(long from, long n)
{
	static uint8_t sink[16 * PAGE];
	struct iovec iov = { .iov_base = NULL, .iov_len = 16 * PAGE };
	ssize_t len, got;
	long i;

	for (i = from; i < from + n; i++) {
		iov.iov_base = region + (i % (BLOCK / 16)) * 16 * PAGE;
		len = vmsplice(pipe_fd[1], &iov, 1, 0);
		if (len <= 0)
			return FAIL("vmsplice: %s", len ? strerror(errno) : "0 bytes");
		for (got = 0; got < len;) {
			ssize_t r = read(pipe_fd[0], sink, len - got);

			if (r <= 0)
				return FAIL("read from the pipe: %s", r ? strerror(errno) : "EOF");
			got += r;
		}
	}
	return NULL;
}

/* --- 2. the cost of XO itself ------------------------------------------ */

/* fault_around_bytes: one fault per page, not one per 16. */
static char fault_around_saved[32];
static void set_fault_around(const char *v, char *save)
{
	int fd = open("/sys/kernel/debug/fault_around_bytes", O_RDWR);
	ssize_t n;

	if (fd < 0)
		return;
	if (save) {
		n = read(fd, save, 31);
		save[n > 0 ? n : 0] = 0;
		lseek(fd, 0, SEEK_SET);
	}
	if (v[0] && write(fd, v, strlen(v)) < 0)
		fprintf(stderr, "fault_around_bytes: %s\n", strerror(errno));
	close(fd);
}

/*
 * A new memfd of PAGES pages, each a "ret", mapped PROT at *MAP, its fd in
 * *FD; fault_around_bytes 4096 (one fault per page).
 */
static const char *map_ret_pages(long pages, int prot, uint8_t **map, int *fd)
{
	static const uint8_t ret = 0xc3;
	long i;

	*fd = memfd_create("xo_bench", 0);
	if (*fd < 0)
		return FAIL("memfd_create: %s", strerror(errno));
	for (i = 0; i < pages; i++)
		if (pwrite(*fd, &ret, 1, i * PAGE) != 1)
			return FAIL("pwrite: %s", strerror(errno));
	if (ftruncate(*fd, pages * PAGE))
		return FAIL("ftruncate: %s", strerror(errno));
	*map = mmap(NULL, pages * PAGE, prot, MAP_PRIVATE, *fd, 0);
	if (*map == MAP_FAILED)
		return FAIL("mmap of the memfd: %s", strerror(errno));
	set_fault_around("4096", fault_around_saved);
	return NULL;
}

static const char *setup_code(int prot)
{
	return map_ret_pages(BLOCK, prot, &code_pages, &code_fd);
}

static const char *setup_code_rx(void) { return setup_code(PROT_READ | PROT_EXEC); }
static const char *setup_code_x(void) { return setup_code(PROT_EXEC); }

static void teardown_code(void)
{
	munmap(code_pages, BLOCK * PAGE);
	close(code_fd);
	code_fd = -1;
	set_fault_around(fault_around_saved, NULL);
}

/* A call into a page the last MADV_DONTNEED unmapped: an exec fault. */
static const char *run_exec_fault(long from, long n)
{
	long i;

	for (i = from; i < from + n; i++) {
		if (i % BLOCK == 0 && madvise(code_pages, BLOCK * PAGE, MADV_DONTNEED))
			return FAIL("madvise: %s", strerror(errno));
		((void (*)(void))(code_pages + (i % BLOCK) * PAGE))();
	}
	return NULL;
}

/*
 * A first execution of memory never executed before: each round maps a
 * new memfd of ITERS pages (a "ret" in each), calls every page once and
 * keeps the memfd open to the end, so the next round's pages are other
 * guest memory, not these recycled. Under KVM with XO, the first call into
 * each page of exec_first_x also faults in the XO alias of its frame in
 * EPT (an EPT violation); the RX page's frame is mapped already (pwrite
 * wrote it). Under TCG both are a first-touch exec fault.
 */
#define FIRST_KEEP 16	/* memfds kept: 16 rounds of 1024 pages, 64 MiB */
static int first_fds[FIRST_KEEP];
static int first_nfds;
static uint8_t *first_pages;
static long first_len;

static const char *setup_first(int prot)
{
	const char *m;
	int fd;

	first_len = cur_iters * PAGE;
	m = map_ret_pages(cur_iters, prot, &first_pages, &fd);
	if (fd >= 0) {
		if (first_nfds == FIRST_KEEP)
			close(first_fds[--first_nfds]);	/* past 16 rounds: recycled */
		first_fds[first_nfds++] = fd;
	}
	return m;
}

static const char *setup_first_rx(void) { return setup_first(PROT_READ | PROT_EXEC); }
static const char *setup_first_x(void) { return setup_first(PROT_EXEC); }

static void teardown_first(void)
{
	munmap(first_pages, first_len);
	set_fault_around(fault_around_saved, NULL);
}

static const char *run_exec_first(long from, long n)
{
	long i;

	for (i = from; i < from + n; i++)
		((void (*)(void))(first_pages + i * PAGE))();
	return NULL;
}

/*
 * How this kernel refuses a read of PROT_EXEC memory: "nr" (the NR bit:
 * SEGV_ACCERR with exec_only in /proc/cpuinfo), "pkey" (the execute-only
 * protection key: SEGV_PKUERR), "readable" (nothing refuses it), else
 * "accerr-without-exec_only" or "other".
 */
static const char *mech_of(int readable, int code)
{
	char line[4096];
	int exec_only = 0;
	FILE *f;

	if (readable)
		return "readable";
	if (code == SEGV_PKUERR)
		return "pkey";
	if (code != SEGV_ACCERR)
		return "other";
	f = fopen("/proc/cpuinfo", "r");
	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, "flags", 5) && strstr(line, " exec_only"))
			exec_only = 1;
	if (f)
		fclose(f);
	return exec_only ? "nr" : "accerr-without-exec_only";
}

static const char *setup_fault(int prot)
{
	/* SA_NODEFER: siglongjmp need not restore the signal mask. */
	struct sigaction sa = { .sa_sigaction = on_segv, .sa_flags = SA_SIGINFO | SA_NODEFER };
	volatile int readable = 0;

	fault_page = map_anon(PAGE, PROT_READ | PROT_WRITE);
	if (!fault_page)
		return FAIL("mmap: %s", strerror(errno));
	memset(fault_page, 0xc3, PAGE);	/* ret */
	if (mprotect(fault_page, PAGE, prot))
		return FAIL("mprotect: %s", strerror(errno));
	if (prot & PROT_EXEC)	/* executed once: only the read is timed */
		((void (*)(void))fault_page)();
	if (sigaction(SIGSEGV, &sa, NULL))
		return FAIL("sigaction: %s", strerror(errno));
	/* One read first: is it refused at all, and how. */
	fault_code = 0;
	if (sigsetjmp(jmp, 0) == 0) {
		(void)*(volatile uint8_t *)fault_page;
		readable = 1;
	}
	fault_readable = readable;
	if (prot & PROT_EXEC)
		mech = mech_of(readable, fault_code);
	return NULL;
}

static const char *setup_fault_none(void) { return setup_fault(PROT_NONE); }
static const char *setup_fault_x(void) { return setup_fault(PROT_EXEC); }

static void teardown_fault(void)
{
	signal(SIGSEGV, SIG_DFL);
	munmap(fault_page, PAGE);
}

/* A read that faults, SIGSEGV, siglongjmp out of the handler. */
static const char *run_read_fault(long from, long n)
{
	volatile long i;

	for (i = from; i < from + n; i++) {
		if (sigsetjmp(jmp, 0) == 0) {
			(void)*(volatile uint8_t *)fault_page;
			return FAIL("read %ld did not fault", (long)i);
		}
	}
	return NULL;
}

/* --- 3. a workload whose code is XO ------------------------------------ */

/*
 * CODE_PAGES pages, each a function that adds its page number to %rax;
 * each iteration calls them all, reads a word of each of DATA_PAGES data
 * pages and makes one system call (with PTI a CR3 switch: under TCG a
 * flush of the soft TLB, so the code pages are translated again).
 */
#define CODE_PAGES 64
#define DATA_PAGES 64
static uint8_t *xcode, *xdata;

static const char *setup_xcode(int prot)
{
	unsigned long i;
	uint8_t *f;

	xcode = map_anon(CODE_PAGES * PAGE, PROT_READ | PROT_WRITE);
	xdata = map_anon(DATA_PAGES * PAGE, PROT_READ | PROT_WRITE);
	if (!xcode || !xdata)
		return FAIL("mmap: %s", strerror(errno));
	for (i = 0; i < CODE_PAGES; i++) {
		f = xcode + i * PAGE;
		f[0] = 0x48; f[1] = 0x05;		/* add $imm32, %rax */
		memcpy(f + 2, &(uint32_t){ i + 1 }, 4);
		f[6] = 0xc3;				/* ret */
	}
	memset(xdata, 3, DATA_PAGES * PAGE);
	if (mprotect(xcode, CODE_PAGES * PAGE, prot))
		return FAIL("mprotect: %s", strerror(errno));
	return NULL;
}

static const char *setup_xcode_x(void) { return setup_xcode(PROT_EXEC); }
static const char *setup_xcode_rx(void) { return setup_xcode(PROT_READ | PROT_EXEC); }

static void teardown_xcode(void)
{
	munmap(xcode, CODE_PAGES * PAGE);
	munmap(xdata, DATA_PAGES * PAGE);
}

static const char *run_xcode(long from, long n)
{
	unsigned long sum = 0, want = 0, r, i, p;

	for (i = 0; i < (unsigned long)n; i++) {
		for (p = 0; p < CODE_PAGES; p++) {
			r = 0;
			/* Below the red zone: the call pushes its return address. */
			asm volatile("sub $128, %%rsp\n\tcall *%1\n\tadd $128, %%rsp"
				     : "+a"(r) : "r"(xcode + p * PAGE) : "memory", "cc");
			sum += r + xdata[(p % DATA_PAGES) * PAGE];
			want += p + 1 + 3;
		}
		syscall(SYS_getppid);
	}
	if (sum != want)
		return FAIL("the XO code computed %lu, want %lu", sum, want);
	return NULL;
}

/* --- the table ------------------------------------------------------------ */

struct bench {
	int id;
	const char *name;
	long iters;		/* at scale 1 */
	const char *(*setup)(void);
	const char *(*run)(long from, long n);
	void (*teardown)(void);
	long unit;		/* iterations per window */
	const char *what;
	int xo;			/* its memory is PROT_EXEC-only: print mech= */
};

static const struct bench benches[] = {
	{ 1, "anon_fault", 4096, setup_region, run_anon_fault, teardown_region, 64,
	  "write fault on an anonymous page (MADV_DONTNEED each 64)" },
	{ 2, "mmap_munmap", 2048, NULL, run_mmap_munmap, NULL, 16,
	  "mmap + munmap of 16 anonymous pages" },
	{ 3, "mprotect_rw_rx", 1024, setup_region, run_mprotect_rw_rx, teardown_region, 8,
	  "mprotect of 64 populated pages RW->RX->RW" },
	{ 4, "fork_exit", 128, NULL, run_fork_exit, NULL, 1,
	  "fork, _exit, waitpid" },
	{ 5, "exec_static", 64, NULL, run_exec_static, NULL, 1,
	  "fork, execv of this static binary (exits at once), waitpid" },
	{ 6, "vmsplice_gup", 1024, setup_pipe, run_vmsplice, teardown_pipe, 4,
	  "vmsplice of 16 pages into a pipe (GUP-fast), read back" },
	{ 7, "mprotect_rw_x", 1024, setup_region, run_mprotect_rw_x, teardown_region, 8,
	  "mprotect of 64 populated pages RW->X->RW", 1 },
	{ 8, "exec_fault_rx", 4096, setup_code_rx, run_exec_fault, teardown_code, 64,
	  "call into an RX memfd page not mapped yet (first-touch exec fault)" },
	{ 9, "exec_fault_x", 4096, setup_code_x, run_exec_fault, teardown_code, 64,
	  "the same into a PROT_EXEC (XO) page", 1 },
	{ 14, "exec_first_rx", 1024, setup_first_rx, run_exec_first, teardown_first, 64,
	  "call into an RX page never executed before (a new memfd each round)" },
	{ 15, "exec_first_x", 1024, setup_first_x, run_exec_first, teardown_first, 64,
	  "the same into XO (under KVM: the EPT fault-in of its XO alias)", 1 },
	{ 10, "read_fault_none", 2048, setup_fault_none, run_read_fault, teardown_fault, 16,
	  "read of PROT_NONE -> SIGSEGV -> siglongjmp" },
	{ 11, "read_fault_x", 2048, setup_fault_x, run_read_fault, teardown_fault, 16,
	  "read of PROT_EXEC (XO: NR bit or pkey) -> SIGSEGV -> siglongjmp", 1 },
	{ 12, "xcode_x", 512, setup_xcode_x, run_xcode, teardown_xcode, 1,
	  "calls into 64 PROT_EXEC code pages, 64 data reads, one syscall", 1 },
	{ 13, "xcode_rx", 512, setup_xcode_rx, run_xcode, teardown_xcode, 1,
	  "the same with RX code" },
};
#define NBENCH (int)(sizeof(benches) / sizeof(benches[0]))

static void usage(const char *prog)
{
	fprintf(stderr, "usage: %s [-s SCALE] [-r ROUNDS] [-b NAME[,NAME...]] | -l\n"
		"  -s SCALE   iterations times SCALE (a number > 0; default 1)\n"
		"  -r ROUNDS  rounds of every benchmark, interleaved (1-%d; default 3)\n"
		"  -b NAMES   only these benchmarks\n"
		"  -l         list the benchmarks\n", prog, MAX_ROUNDS);
}

int main(int argc, char **argv)
{
	int rounds = 3, opt, i, r, n = 0, failed = 0, sel[NBENCH] = { 0 }, skip[NBENCH] = { 0 }, any = 0;
	const char *msg[NBENCH] = { 0 };
	double scale = 1;
	char *names = NULL, *tok;
	ssize_t len;

	if (argc == 2 && !strcmp(argv[1], "--exit"))
		_exit(0);
	while ((opt = getopt(argc, argv, "s:r:b:l")) != -1) {
		switch (opt) {
		case 's':
			scale = atof(optarg);
			break;
		case 'r':
			rounds = atoi(optarg);
			break;
		case 'b':
			names = optarg;
			break;
		case 'l':
			for (i = 0; i < NBENCH; i++)
				printf("%-16s %s\n", benches[i].name, benches[i].what);
			return 0;
		default:
			usage(argv[0]);
			return 2;
		}
	}
	if (!(scale > 0) || rounds < 1 || rounds > MAX_ROUNDS || optind != argc) {
		usage(argv[0]);
		return 2;
	}
	for (tok = names ? strtok(names, ",") : NULL; tok; tok = strtok(NULL, ",")) {
		for (i = 0; i < NBENCH && strcmp(benches[i].name, tok); i++)
			;
		if (i == NBENCH) {
			fprintf(stderr, "%s: no benchmark '%s' (-l lists them)\n", argv[0], tok);
			return 2;
		}
		sel[i] = any = 1;
	}
	for (i = 0; i < NBENCH; i++) {
		if (!any)
			sel[i] = 1;
		n += sel[i];
	}
	len = readlink("/proc/self/exe", self_path, sizeof(self_path) - 1);
	if (len <= 0) {
		printf("Bail out! readlink /proc/self/exe: %s\n", strerror(errno));
		return 1;
	}
	self_path[len] = 0;
	/* NUMA balancing would unmap pages under the loops at random. */
	{
		int fd = open("/proc/sys/kernel/numa_balancing", O_WRONLY);

		if (fd >= 0) {
			if (write(fd, "0", 1) != 1)
				perror("numa_balancing");
			close(fd);
		}
	}

	/* The mechanism, from one read of a PROT_EXEC page. */
	if (setup_fault_x())
		mech = "unknown";
	teardown_fault();

	printf("TAP version 13\n1..%d\n", n);
	printf("# scale %g, %d rounds; a read of PROT_EXEC memory here: %s\n", scale, rounds, mech);
	fflush(stdout);
	for (r = 0; r < rounds; r++) {
		for (i = 0; i < NBENCH; i++) {
			const struct bench *b = &benches[i];
			long iters = (long)(b->iters * scale), done;
			uint64_t t0, t1;
			const char *m = NULL;

			if (!sel[i] || msg[i] || skip[i])
				continue;
			/* Whole windows, at least MIN_WINDOWS of them. */
			iters = (iters + b->unit - 1) / b->unit * b->unit;
			if (iters < MIN_WINDOWS * b->unit)
				iters = MIN_WINDOWS * b->unit;
			cur_iters = iters;
			if (b->setup)
				m = b->setup();
			if (!m && b->run == run_read_fault && fault_readable) {
				/* Nothing to time: the read does not fault. */
				skip[i] = 1;
			} else if (!m) {
				t0 = now_ns();
				for (done = 0; done < iters && !m; done += b->unit) {
					mark(1, b->id);
					m = b->run(done, b->unit);
					mark(2, b->id);
				}
				t1 = now_ns();
				if (!m)
					printf("# XO-BENCH id=%d name=%s round=%d iters=%ld unit=%ld ns=%llu%s%s\n",
					       b->id, b->name, r, iters, b->unit, (unsigned long long)(t1 - t0),
					       b->xo ? " mech=" : "", b->xo ? mech : "");
			}
			if (b->teardown)
				b->teardown();
			if (m)
				msg[i] = strdup(m);
			fflush(stdout);
		}
	}
	for (i = 0, n = 0; i < NBENCH; i++) {
		if (!sel[i])
			continue;
		n++;
		if (msg[i]) {
			printf("not ok %d %s # %s\n", n, benches[i].name, msg[i]);
			failed++;
		} else if (skip[i]) {
			printf("ok %d %s # SKIP PROT_EXEC memory is readable here (no NR bit, no PKU): no fault to time\n",
			       n, benches[i].name);
		} else {
			printf("ok %d %s\n", n, benches[i].name);
		}
	}
	return failed ? 1 : 0;
}
