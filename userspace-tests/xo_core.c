// SPDX-License-Identifier: GPL-2.0
/*
 * Core execute-only (XO) checks: fault semantics, execution, the
 * protection matrix, mprotect transitions, VMA splits, SMP visibility,
 * fork, execve, /proc/self/maps, pkeys, kernel accesses, ptrace and
 * signals. Built as 64-bit (xo_core) and 32-bit (xo_core_32).
 */
#include "xo_common.h"

#include <pthread.h>
#include <sched.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/user.h>
#include <cpuid.h>
#include <ucontext.h>
#include <asm/kvm_para.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <linux/aio_abi.h>
#include <linux/errqueue.h>
#include <linux/futex.h>
#include <linux/io_uring.h>

#include "kselftest_harness.h"

/* TCG guests are slow: allow more than the harness' 30 s per test. */
#undef TEST_TIMEOUT_DEFAULT
#define TEST_TIMEOUT_DEFAULT 120

#define MAGIC 0x5a0c0de0u

/* ---------------- user loads and stores ---------------- */

TEST(load_touched)
{
	uint8_t *p = xo_map_code(2, PROT_EXEC, MAGIC);
	size_t sizes[] = { 1, 2, 4, 8 };
	size_t offs[] = { 0, 1, 100, XO_PAGE - 8, XO_PAGE + 4000 };
	size_t i, j;

	ASSERT_NE(NULL, p);
	/* Touch both pages by executing them. */
	ASSERT_PROBE(xo_check_call(p, MAGIC));
	ASSERT_PROBE(xo_check_call(p + XO_PAGE, MAGIC + 1));
	for (i = 0; i < ARRAY_SIZE(sizes); i++)
		for (j = 0; j < ARRAY_SIZE(offs); j++)
			EXPECT_PROBE(xo_check_load(p + offs[j], sizes[i], p + offs[j]));
}

TEST(load_untouched)
{
	uint8_t *p = mmap(NULL, 2 * XO_PAGE, PROT_EXEC,
			  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	int fd = xo_code_memfd(1, MAGIC);
	uint8_t *q;

	ASSERT_NE(MAP_FAILED, p);
	/* Anonymous, never populated. */
	EXPECT_PROBE(xo_check_noread(p + 8));
	EXPECT_PROBE(xo_check_noread(p + XO_PAGE + 123));
	/* File-backed, page cache populated but not yet mapped. */
	ASSERT_LE(0, fd);
	q = mmap(NULL, XO_PAGE, PROT_EXEC, MAP_PRIVATE, fd, 0);
	ASSERT_NE(MAP_FAILED, q);
	EXPECT_PROBE(xo_check_load(q + 64, 4, q + 64));
	/* Then executing it must still work. */
	EXPECT_PROBE(xo_check_call(q, MAGIC));
}

TEST(store_touched_and_untouched)
{
	uint8_t *p = xo_map_code(1, PROT_EXEC, MAGIC);
	uint8_t *u = mmap(NULL, XO_PAGE, PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	ASSERT_NE(NULL, p);
	ASSERT_NE(MAP_FAILED, u);
	ASSERT_PROBE(xo_check_call(p, MAGIC));
	EXPECT_PROBE(xo_check_store_faults(p + 17));
	EXPECT_PROBE(xo_check_store_faults(u + 33));
	/* The failed store changed nothing. */
	EXPECT_PROBE(xo_check_call(p, MAGIC));
}

/* A load across the boundary between a readable and a PROT_EXEC-only page. */
TEST(load_straddling)
{
	uint8_t *p = xo_map_code(2, PROT_READ | PROT_EXEC, MAGIC);
	uint8_t *b = p + XO_PAGE;

	ASSERT_NE(NULL, p);
	/* Readable, then XO: the fault is on the first byte of the XO page. */
	ASSERT_EQ(0, mprotect(b, XO_PAGE, PROT_EXEC));
	EXPECT_PROBE(xo_check_load(b - 4, 8, b));
	EXPECT_PROBE(xo_check_load(b - 1, 2, b));
	EXPECT_PROBE(xo_check_load(b - 2, 4, b));
	/* XO, then readable: the fault is on the first byte. */
	ASSERT_EQ(0, mprotect(p, 2 * XO_PAGE, PROT_READ | PROT_EXEC));
	ASSERT_EQ(0, mprotect(p, XO_PAGE, PROT_EXEC));
	EXPECT_PROBE(xo_check_load(b - 4, 8, b - 4));
	EXPECT_PROBE(xo_check_load(b - 1, 2, b - 1));
}

TEST(load_string_and_simd)
{
	uint8_t *p = xo_map_code(2, PROT_READ | PROT_EXEC, MAGIC);
	uint8_t *b = p + XO_PAGE;

	ASSERT_NE(NULL, p);
	ASSERT_EQ(0, mprotect(b, XO_PAGE, PROT_EXEC));
	/* rep movsb from inside the XO page, and running into it. */
	EXPECT_PROBE(xo_check_load_sized(xo_do_movsb, b + 100, 32, b + 100, b + 100));
	EXPECT_PROBE(xo_check_load_sized(xo_do_movsb, b - 8, 32, b, b - 8));
	/* 16-byte SSE loads. */
	EXPECT_PROBE(xo_check_load_sized(xo_do_movdqu, b + 16, 16, b + 16, b + 16));
	EXPECT_PROBE(xo_check_load_sized(xo_do_movdqu, b - 8, 16, b, b - 8));
	/* 32-byte AVX loads, where the CPU and kernel support them. */
	if (__builtin_cpu_supports("avx")) {
		EXPECT_PROBE(xo_check_load_sized(xo_do_vmovdqu, b + 32, 32, b + 32, b + 32));
		EXPECT_PROBE(xo_check_load_sized(xo_do_vmovdqu, b - 16, 32, b, b - 16));
	} else {
		TH_LOG("no AVX: 32-byte loads not checked");
	}
}

/* Code in an XO page loads from its own page. */
TEST(code_reads_own_page)
{
	uint8_t *p = mmap(NULL, XO_PAGE, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
#ifdef __x86_64__
	/* lea -7(%rip),%rax; mov (%rax),%eax; ret */
	static const uint8_t code[] = { 0x48, 0x8d, 0x05, 0xf9, 0xff, 0xff, 0xff,
					0x8b, 0x00, 0xc3 };
	size_t fault_off = 0;
#else
	/* call 1f; 1: pop %eax; mov (%eax),%eax; ret */
	static const uint8_t code[] = { 0xe8, 0, 0, 0, 0, 0x58, 0x8b, 0x00, 0xc3 };
	size_t fault_off = 5;
#endif
	struct xo_access a = { .src = p };
	struct xo_fault f;
	int res;

	ASSERT_NE(MAP_FAILED, p);
	memcpy(p, code, sizeof(code));
	ASSERT_EQ(0, mprotect(p, XO_PAGE, PROT_EXEC));
	res = xo_try(xo_do_call, &a, &f);
	switch (xo_mech) {
	case XO_MECH_READABLE:
		ASSERT_EQ(0, res);
		EXPECT_EQ(0, memcmp(&a.val, code + fault_off, 4));
		break;
	case XO_MECH_PKEY:
		EXPECT_PROBE(xo_expect_fault(res, &f, SEGV_PKUERR, p + fault_off));
		break;
	default:
		EXPECT_PROBE(xo_expect_fault(res, &f, SEGV_ACCERR, p + fault_off));
		break;
	}
}

/* ---------------- execution ---------------- */

TEST(exec_first_touch)
{
	int fd = xo_code_memfd(2, MAGIC);
	uint8_t *p;

	ASSERT_LE(0, fd);
	p = mmap(NULL, 2 * XO_PAGE, PROT_EXEC, MAP_PRIVATE, fd, 0);
	ASSERT_NE(MAP_FAILED, p);
	EXPECT_PROBE(xo_check_call(p + XO_PAGE, MAGIC + 1));
	EXPECT_PROBE(xo_check_call(p, MAGIC));
	EXPECT_PROBE(xo_check_noread(p + 1));
}

TEST(exec_after_dontneed)
{
	int fd = xo_code_memfd(1, MAGIC);
	uint8_t *p;

	ASSERT_LE(0, fd);
	p = mmap(NULL, XO_PAGE, PROT_EXEC, MAP_PRIVATE, fd, 0);
	ASSERT_NE(MAP_FAILED, p);
	ASSERT_PROBE(xo_check_call(p, MAGIC));
	ASSERT_EQ(0, madvise(p, XO_PAGE, MADV_DONTNEED));
	/* Refaulted by an instruction fetch, then by a load. */
	EXPECT_PROBE(xo_check_call(p, MAGIC));
	ASSERT_EQ(0, madvise(p, XO_PAGE, MADV_DONTNEED));
	EXPECT_PROBE(xo_check_noread(p + 5));
	EXPECT_PROBE(xo_check_call(p, MAGIC));
}

TEST(exec_warm)
{
	uint8_t *p = xo_map_code(1, PROT_EXEC, MAGIC);
	uint32_t (*fn)(void) = (uint32_t (*)(void))p;
	unsigned int i, bad = 0;

	ASSERT_NE(NULL, p);
	ASSERT_PROBE(xo_check_call(p, MAGIC));
	for (i = 0; i < 100000; i++)
		bad += fn() != MAGIC;
	EXPECT_EQ(0, bad);
	EXPECT_PROBE(xo_check_noread(p + 3));
	EXPECT_PROBE(xo_check_call(p, MAGIC));
}

/* The permission matrix: each protection, first touch of a file page. */
FIXTURE(matrix) {
	int fd;
};

FIXTURE_VARIANT(matrix) {
	int prot;
};

FIXTURE_VARIANT_ADD(matrix, none) { .prot = PROT_NONE };
FIXTURE_VARIANT_ADD(matrix, r) { .prot = PROT_READ };
FIXTURE_VARIANT_ADD(matrix, w) { .prot = PROT_WRITE };
FIXTURE_VARIANT_ADD(matrix, rw) { .prot = PROT_READ | PROT_WRITE };
FIXTURE_VARIANT_ADD(matrix, x) { .prot = PROT_EXEC };
FIXTURE_VARIANT_ADD(matrix, rx) { .prot = PROT_READ | PROT_EXEC };
FIXTURE_VARIANT_ADD(matrix, wx) { .prot = PROT_WRITE | PROT_EXEC };
FIXTURE_VARIANT_ADD(matrix, rwx) { .prot = PROT_READ | PROT_WRITE | PROT_EXEC };

FIXTURE_SETUP(matrix)
{
	self->fd = xo_code_memfd(1, MAGIC);
	ASSERT_LE(0, self->fd);
}

FIXTURE_TEARDOWN(matrix)
{
	close(self->fd);
}

TEST_F(matrix, file_private)
{
	void *p = mmap(NULL, XO_PAGE, variant->prot, MAP_PRIVATE, self->fd, 0);

	ASSERT_NE(MAP_FAILED, p);
	EXPECT_PROBE(xo_check_prot(p, variant->prot, MAGIC));
}

TEST_F(matrix, anon_mprotect)
{
	void *p = xo_map_code(1, variant->prot, MAGIC);

	ASSERT_NE(NULL, p);
	EXPECT_PROBE(xo_check_prot(p, variant->prot, MAGIC));
}

/* ---------------- mprotect transitions ---------------- */

FIXTURE(transition) {
	uint8_t *p;
};

#define MAX_STEPS 4
FIXTURE_VARIANT(transition) {
	int steps[MAX_STEPS];
	int nsteps;
};

#define R PROT_READ
#define W PROT_WRITE
#define X PROT_EXEC
FIXTURE_VARIANT_ADD(transition, rw_to_x) { .steps = { R | W, X }, .nsteps = 2 };
FIXTURE_VARIANT_ADD(transition, none_rw_x) { .steps = { 0, R | W, X }, .nsteps = 3 };
FIXTURE_VARIANT_ADD(transition, none_w_x) { .steps = { 0, W, X }, .nsteps = 3 };
FIXTURE_VARIANT_ADD(transition, x_none_w_x) { .steps = { X, 0, W, X }, .nsteps = 4 };
FIXTURE_VARIANT_ADD(transition, x_rx) { .steps = { X, R | X }, .nsteps = 2 };
FIXTURE_VARIANT_ADD(transition, x_none_r) { .steps = { X, 0, R }, .nsteps = 3 };
FIXTURE_VARIANT_ADD(transition, x_rwx) { .steps = { X, R | W | X }, .nsteps = 2 };
FIXTURE_VARIANT_ADD(transition, rx_x_rx_x) { .steps = { R | X, X, R | X, X }, .nsteps = 4 };

FIXTURE_SETUP(transition)
{
	self->p = xo_map_code(1, PROT_READ | PROT_WRITE, MAGIC);
	ASSERT_NE(NULL, self->p);
}

FIXTURE_TEARDOWN(transition)
{
}

/*
 * Each step is checked in full. When a step is writable, new code is
 * written, so executing it later proves the X step sees the new bytes.
 */
TEST_F(transition, steps)
{
	uint32_t magic = MAGIC;
	int i;

	for (i = 0; i < variant->nsteps; i++) {
		int prot = variant->steps[i];
		const char *m;

		ASSERT_EQ(0, mprotect(self->p, XO_PAGE, prot));
		m = xo_check_prot(self->p, prot, magic);
		EXPECT_TRUE(!m) TH_LOG("step %d (prot %d): %s", i, prot, m);
		if (prot & PROT_WRITE) {
			magic += 0x100;
			xo_fill_page(self->p, magic);
		}
	}
}

/*
 * R-X -> --X changes only the NR bit of a present entry: the old readable
 * translation, cached by a load just before, must not survive mprotect().
 */
TEST(mprotect_rx_to_x_after_load)
{
	uint8_t *p = xo_map_code(1, PROT_READ | PROT_EXEC, MAGIC);
	uint8_t want[XO_PAGE];
	int round;

	ASSERT_NE(NULL, p);
	xo_fill_page(want, MAGIC);
	for (round = 0; round < 10; round++) {
		ASSERT_EQ(0, mprotect(p, XO_PAGE, PROT_READ | PROT_EXEC));
		ASSERT_PROBE(xo_check_readable(p + 64, want + 64, 1));
		ASSERT_EQ(0, mprotect(p, XO_PAGE, PROT_EXEC));
		EXPECT_PROBE(xo_check_load(p + 64, 1, p + 64));
	}
	EXPECT_PROBE(xo_check_call(p, MAGIC));
}

/* ---------------- partial ranges: VMA split and merge ---------------- */

static const char *check_perms(void *addr, const char *want,
			       unsigned long start, unsigned long end)
{
	unsigned long s, e;
	char perms[5];

	if (xo_maps_perms(getpid(), addr, perms, &s, &e))
		return xo_fmt("%p not in /proc/self/maps", addr);
	if (strcmp(perms, want))
		return xo_fmt("%p: maps perms %s, expected %s", addr, perms, want);
	if (start && (s != start || e != end))
		return xo_fmt("%p: VMA %lx-%lx, expected %lx-%lx", addr, s, e,
			      start, end);
	return NULL;
}

TEST(partial_split_merge)
{
	uint8_t *p = xo_map_code(4, PROT_READ | PROT_WRITE, MAGIC);
	unsigned long a = (unsigned long)p;
	uint8_t want[XO_PAGE];
	int i;

	ASSERT_NE(NULL, p);
	ASSERT_EQ(0, mprotect(p, 4 * XO_PAGE, PROT_READ | PROT_EXEC));
	for (i = 0; i < 4; i++)
		ASSERT_PROBE(xo_check_call(p + i * XO_PAGE, MAGIC + i));

	/* Split into RX | X X | RX. */
	ASSERT_EQ(0, mprotect(p + XO_PAGE, 2 * XO_PAGE, PROT_EXEC));
	EXPECT_PROBE(check_perms(p + XO_PAGE, "--xp", a + XO_PAGE, a + 3 * XO_PAGE));
	EXPECT_PROBE(check_perms(p, "r-xp", a, a + XO_PAGE));
	EXPECT_PROBE(check_perms(p + 3 * XO_PAGE, "r-xp", a + 3 * XO_PAGE, a + 4 * XO_PAGE));
	for (i = 0; i < 4; i++) {
		uint8_t *page = p + i * XO_PAGE;

		xo_fill_page(want, MAGIC + i);
		EXPECT_PROBE(xo_check_call(page, MAGIC + i));
		if (i == 1 || i == 2)
			EXPECT_PROBE(xo_check_load(page + 9, 1, page + 9));
		else
			EXPECT_PROBE(xo_check_readable(page + 9, want + 9, 16));
	}
	/* The XO range's edges are exact. */
	EXPECT_PROBE(xo_check_readable(p + XO_PAGE - 1, want + XO_PAGE - 1, 0));
	xo_fill_page(want, MAGIC);
	EXPECT_PROBE(xo_check_readable(p + XO_PAGE - 1, want + XO_PAGE - 1, 1));
	EXPECT_PROBE(xo_check_load(p + 3 * XO_PAGE - 1, 1, p + 3 * XO_PAGE - 1));

	/* Merge back: one RX VMA, all readable. */
	ASSERT_EQ(0, mprotect(p + XO_PAGE, 2 * XO_PAGE, PROT_READ | PROT_EXEC));
	EXPECT_PROBE(check_perms(p, "r-xp", a, a + 4 * XO_PAGE));
	for (i = 0; i < 4; i++) {
		xo_fill_page(want, MAGIC + i);
		EXPECT_PROBE(xo_check_readable(p + i * XO_PAGE + 9, want + 9, 16));
	}

	/* All XO, then one page in the middle readable again. */
	ASSERT_EQ(0, mprotect(p, 4 * XO_PAGE, PROT_EXEC));
	EXPECT_PROBE(check_perms(p, "--xp", a, a + 4 * XO_PAGE));
	ASSERT_EQ(0, mprotect(p + 2 * XO_PAGE, XO_PAGE, PROT_READ | PROT_EXEC));
	EXPECT_PROBE(check_perms(p + 2 * XO_PAGE, "r-xp", a + 2 * XO_PAGE, a + 3 * XO_PAGE));
	for (i = 0; i < 4; i++) {
		uint8_t *page = p + i * XO_PAGE;

		xo_fill_page(want, MAGIC + i);
		if (i == 2)
			EXPECT_PROBE(xo_check_readable(page + 50, want + 50, 8));
		else
			EXPECT_PROBE(xo_check_load(page + 50, 2, page + 50));
		EXPECT_PROBE(xo_check_call(page, MAGIC + i));
	}
}

/* ---------------- SMP: another CPU sees each mprotect ---------------- */

enum { CMD_LOAD = 1, CMD_CALL, CMD_EXIT };

struct mt_ctx {
	uint8_t *p;
	int seq;
	int done;
	int cmd;
	int readable;
	uint32_t magic;
	const char *msg;
	char buf[512];
};

static void *mt_thread(void *arg)
{
	struct mt_ctx *c = arg;
	int seen = 0;

	xo_pin_to_cpu(1);
	for (;;) {
		int seq = __atomic_load_n(&c->seq, __ATOMIC_ACQUIRE);
		const char *m = NULL;

		if (seq == seen)
			continue;
		seen = seq;
		if (c->cmd == CMD_EXIT)
			break;
		if (c->cmd == CMD_LOAD)
			m = c->readable ? xo_check_readable(c->p + 40, NULL, 4) :
					  xo_check_load(c->p + 40, 4, c->p + 40);
		else if (c->magic)
			m = xo_check_call(c->p, c->magic);
		else
			m = xo_check_call_faults(c->p);
		/* xo_fmt's buffer is per thread: copy it out. */
		if (m) {
			snprintf(c->buf, sizeof(c->buf), "%s", m);
			m = c->buf;
		}
		c->msg = m;
		__atomic_store_n(&c->done, seq, __ATOMIC_RELEASE);
	}
	return NULL;
}

/* Hand one command to the thread on the other CPU and wait for it. */
static const char *mt_run(struct mt_ctx *c, int cmd, uint32_t magic)
{
	int seq = c->seq + 1;

	c->cmd = cmd;
	c->magic = magic;
	__atomic_store_n(&c->seq, seq, __ATOMIC_RELEASE);
	if (cmd == CMD_EXIT)
		return NULL;
	while (__atomic_load_n(&c->done, __ATOMIC_ACQUIRE) != seq)
		;
	return c->msg;
}

/* A load the thread must be able to do. */
static const char *mt_load_ok(struct mt_ctx *c)
{
	const char *m;

	c->readable = 1;
	m = mt_run(c, CMD_LOAD, 0);
	c->readable = 0;
	return m;
}

TEST(smp_mprotect_visibility)
{
	struct mt_ctx c = { 0 };
	pthread_t t;
	int round;

	if (sysconf(_SC_NPROCESSORS_ONLN) < 2)
		SKIP(return, "needs 2 CPUs, %ld online", sysconf(_SC_NPROCESSORS_ONLN));
#ifndef __x86_64__
	{
		int word = 0;

		/* glibc's 32-bit threads use the time32 futex. */
		if (syscall(SYS_futex, &word, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0) < 0 &&
		    errno == ENOSYS)
			SKIP(return, "32-bit threads need CONFIG_COMPAT_32BIT_TIME (time32 futex: ENOSYS)");
	}
#endif
	xo_pin_to_cpu(0);
	c.p = xo_map_code(1, PROT_READ | PROT_WRITE, MAGIC);
	ASSERT_NE(NULL, c.p);
	ASSERT_EQ(0, pthread_create(&t, NULL, mt_thread, &c));

	for (round = 0; round < 20; round++) {
		uint32_t magic = MAGIC + round;

		xo_fill_page(c.p, magic);
		/* The other CPU caches a readable translation... */
		EXPECT_PROBE(mt_load_ok(&c));
		/* ...which mprotect(PROT_EXEC) must shoot down. */
		ASSERT_EQ(0, mprotect(c.p, XO_PAGE, PROT_EXEC));
		EXPECT_PROBE(mt_run(&c, CMD_CALL, magic));
		EXPECT_PROBE(mt_run(&c, CMD_LOAD, 0));
		ASSERT_EQ(0, mprotect(c.p, XO_PAGE, PROT_READ | PROT_EXEC));
		EXPECT_PROBE(mt_load_ok(&c));
		ASSERT_EQ(0, mprotect(c.p, XO_PAGE, PROT_EXEC));
		EXPECT_PROBE(mt_run(&c, CMD_LOAD, 0));
		ASSERT_EQ(0, mprotect(c.p, XO_PAGE, PROT_NONE));
		EXPECT_PROBE(mt_run(&c, CMD_CALL, 0));
		ASSERT_EQ(0, mprotect(c.p, XO_PAGE, PROT_READ | PROT_WRITE));
	}
	mt_run(&c, CMD_EXIT, 0);
	pthread_join(t, NULL);
}

/* ---------------- fork, COW, execve, maps ---------------- */

/* The child of fork_cow, with the parent's XO page p. */
static int fork_cow_child(void *arg)
{
	uint8_t *p = arg;
	int bad = 0;

	bad |= xo_child_report("load after fork", xo_check_noread(p + 1));
	bad |= xo_child_report("call after fork", xo_check_call(p, MAGIC));
	/* Break COW and write new code in the child's copy. */
	if (mprotect(p, XO_PAGE, PROT_READ | PROT_WRITE))
		return 2;
	xo_fill_page(p, MAGIC + 7);
	if (mprotect(p, XO_PAGE, PROT_EXEC))
		return 2;
	bad |= xo_child_report("call of new copy", xo_check_call(p, MAGIC + 7));
	bad |= xo_child_report("load of new copy", xo_check_noread(p + 1));
	return bad;
}

TEST(fork_cow)
{
	uint8_t *p = xo_map_code(1, PROT_EXEC, MAGIC);

	ASSERT_NE(NULL, p);
	ASSERT_PROBE(xo_check_call(p, MAGIC));
	EXPECT_PROBE(xo_run_in_child(fork_cow_child, p, 0));
	/* The parent still has its own copy, still XO. */
	EXPECT_PROBE(xo_check_call(p, MAGIC));
	EXPECT_PROBE(xo_check_noread(p + 1));
}

/* Touched in the parent only after fork: the shared COW page. */
TEST(fork_shared_cow_page)
{
	uint8_t *p = xo_map_code(1, PROT_READ | PROT_WRITE, MAGIC);
	pid_t pid;

	ASSERT_NE(NULL, p);
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		/* The child keeps reading the same frame through an RW PTE. */
		uint8_t want[XO_PAGE];

		xo_fill_page(want, MAGIC);
		usleep(100000);
		_exit(xo_child_report("child read of shared frame",
				      xo_check_readable(p + 10, want + 10, 32)));
	}
	ASSERT_EQ(0, mprotect(p, XO_PAGE, PROT_EXEC));
	EXPECT_PROBE(xo_check_call(p, MAGIC));
	EXPECT_PROBE(xo_check_noread(p + 10));
	EXPECT_PROBE(xo_wait_child(pid, 0));
}

/* Run in the image started by execve: the new mm behaves the same. */
static int exec_child_main(void)
{
	uint8_t *p = xo_map_code(1, PROT_EXEC, MAGIC + 3);
	char perms[5];
	int bad = 0;

	if (!p)
		return 2;
	bad |= xo_child_report("exec'd call", xo_check_call(p, MAGIC + 3));
	bad |= xo_child_report("exec'd load", xo_check_noread(p + 2));
	if (xo_maps_perms(getpid(), p, perms, NULL, NULL) || strcmp(perms, "--xp"))
		bad |= xo_child_report("exec'd maps", "not --xp");
	return bad;
}

/* The forked child of execve_new_image: exec_child_main() in a new image. */
static int exec_child(void *arg)
{
	char *const argv[] = { "xo_core", "--exec-child", NULL };

	setenv("XO_TEST_QUIET", "1", 1);
	execv("/proc/self/exe", argv);
	return 3;
}

TEST(execve_new_image)
{
	uint8_t *p = xo_map_code(1, PROT_EXEC, MAGIC);

	ASSERT_NE(NULL, p);
	ASSERT_PROBE(xo_check_call(p, MAGIC));
	EXPECT_PROBE(xo_run_in_child(exec_child, NULL, 0));
}

TEST(maps_shows_xp)
{
	uint8_t *p = xo_map_code(3, PROT_READ | PROT_EXEC, MAGIC);
	unsigned long a = (unsigned long)p;

	ASSERT_NE(NULL, p);
	ASSERT_EQ(0, mprotect(p + XO_PAGE, XO_PAGE, PROT_EXEC));
	EXPECT_PROBE(check_perms(p + XO_PAGE, "--xp", a + XO_PAGE, a + 2 * XO_PAGE));
	EXPECT_PROBE(check_perms(p, "r-xp", a, a + XO_PAGE));
	ASSERT_EQ(0, mprotect(p, 3 * XO_PAGE, PROT_WRITE | PROT_EXEC));
	EXPECT_PROBE(check_perms(p, "-wxp", a, a + 3 * XO_PAGE));
}

/* ---------------- pkeys ---------------- */

static int pkey_alloc_raw(unsigned int rights)
{
	return syscall(SYS_pkey_alloc, 0, rights);
}

static int smaps_pkey(const void *addr)
{
	char line[256];
	unsigned long s, e;
	int in = 0, key = -1;
	FILE *f = fopen("/proc/self/smaps", "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%lx-%lx ", &s, &e) == 2 && strchr(line, ' ') &&
		    line[strcspn(line, " ")] == ' ' && strchr(line, '-') < strchr(line, ' '))
			in = (unsigned long)addr >= s && (unsigned long)addr < e;
		else if (in && sscanf(line, "ProtectionKey: %d", &key) == 1)
			break;
	}
	fclose(f);
	return key;
}

TEST(pkeys_not_consumed)
{
	uint8_t *p;
	int n = 0, key, expected;

	if (!xo_cpuinfo_has("ospke"))
		SKIP(return, "no PKU: no ospke in /proc/cpuinfo");
	p = xo_map_code(1, PROT_EXEC, MAGIC);
	ASSERT_NE(NULL, p);
	EXPECT_PROBE(xo_check_call(p, MAGIC));
	EXPECT_PROBE(xo_check_noread(p + 4));
	while (pkey_alloc_raw(0) >= 0)
		n++;
	key = smaps_pkey(p);
	/* Pkey execute-only holds one key for the mm; XO holds none. */
	expected = xo_mech == XO_MECH_PKEY ? 14 : 15;
	EXPECT_EQ(expected, n) TH_LOG("pkeys allocatable after PROT_EXEC mmap: %d", n);
	if (xo_mech == XO_MECH_PKEY) {
		EXPECT_NE(0, key) TH_LOG("pkey XO VMA has ProtectionKey 0");
	} else {
		EXPECT_EQ(0, key) TH_LOG("XO VMA ProtectionKey %d, expected 0", key);
	}
}

TEST(pkey_mprotect_works)
{
	uint8_t *rw, *x;
	int key;
	struct xo_access a = { .size = 1 };
	struct xo_fault f;
	int res;

	if (!xo_cpuinfo_has("ospke"))
		SKIP(return, "no PKU: no ospke in /proc/cpuinfo");
	x = xo_map_code(1, PROT_EXEC, MAGIC);
	rw = xo_map_code(1, PROT_READ | PROT_WRITE, MAGIC);
	ASSERT_NE(NULL, x);
	ASSERT_NE(NULL, rw);
	key = pkey_alloc_raw(1 /* PKEY_DISABLE_ACCESS */);
	ASSERT_LT(0, key);
	ASSERT_EQ(0, syscall(SYS_pkey_mprotect, rw, XO_PAGE, PROT_READ | PROT_WRITE, key));
	a.src = rw + 8;
	res = xo_try(xo_do_load, &a, &f);
	EXPECT_PROBE(xo_expect_fault(res, &f, SEGV_PKUERR, rw + 8));
	/* An access-disabled pkey on XO: fetch still allowed, loads fault. */
	ASSERT_EQ(0, syscall(SYS_pkey_mprotect, x, XO_PAGE, PROT_EXEC, key));
	EXPECT_PROBE(xo_check_call(x, MAGIC));
	a.src = x + 8;
	res = xo_try(xo_do_load, &a, &f);
	EXPECT_PROBE(xo_expect_fault(res, &f, 0, x + 8));
	/* Back to key 0 and readable. */
	ASSERT_EQ(0, syscall(SYS_pkey_mprotect, x, XO_PAGE, PROT_READ | PROT_EXEC, 0));
	EXPECT_PROBE(xo_check_readable(x, (uint8_t[]){ 0xb8 }, 1));
	ASSERT_EQ(0, syscall(SYS_pkey_free, key));
}

static uint32_t rdpkru(void)
{
	uint32_t eax, edx;

	asm volatile(".byte 0x0f,0x01,0xee" : "=a"(eax), "=d"(edx) : "c"(0));
	return eax;
}

static void wrpkru(uint32_t pkru)
{
	asm volatile(".byte 0x0f,0x01,0xef" : : "a"(pkru), "c"(0), "d"(0) : "memory");
}

/* A fault at addr with si_code code and (SEGV_PKUERR) si_pkey pkey. */
static const char *expect_fault_pkey(int res, const struct xo_fault *f, int code,
				     const void *addr, int pkey)
{
	const char *m = xo_expect_fault(res, f, code, addr);

	if (!m && code == SEGV_PKUERR && f->pkey != pkey)
		return xo_fmt("SEGV_PKUERR with si_pkey %d, expected %d", f->pkey, pkey);
	return m;
}

/*
 * A page with NR and a protection key at once: which fault wins. A load
 * from an XO page whose key has access disabled in PKRU is reported as
 * the key's: SEGV_PKUERR with si_pkey the key. The hardware checks the
 * key as part of the (guest) linear access rights: under KVM that comes
 * before the data access through the XO alias that EPT refuses, and
 * QEMU's TCG walker checks PKRU before the entry's own rights; and
 * whatever the error code, the kernel's access_error() and
 * bad_area_access_from_pkeys() blame the key when the VMA's key denies
 * the access (arch_vma_access_permitted()). With the key allowing reads
 * (PKRU access bit clear, or write-disable only) NR alone refuses the
 * load: SEGV_ACCERR. Stores fault SEGV_PKUERR with access or write
 * disabled. Fetches ignore keys and work throughout. Without XO the same
 * page (pkey_mprotect(PROT_EXEC, key)) is readable once the key allows it.
 */
TEST(pkey_and_nr_fault_order)
{
	struct xo_access a = { .size = 4 };
	struct xo_fault f;
	uint32_t pkru0, ad, wd;
	uint8_t want[XO_PAGE];
	uint8_t *x;
	int key, res;

	if (!xo_cpuinfo_has("ospke"))
		SKIP(return, "no PKU: no ospke in /proc/cpuinfo (Bochs' Haswell model has none)");
	x = xo_map_code(1, PROT_EXEC, MAGIC + 0x33);
	ASSERT_NE(NULL, x);
	xo_fill_page(want, MAGIC + 0x33);
	key = pkey_alloc_raw(1 /* PKEY_DISABLE_ACCESS */);
	ASSERT_LT(0, key);
	ASSERT_EQ(0, syscall(SYS_pkey_mprotect, x, XO_PAGE, PROT_EXEC, key));
	pkru0 = rdpkru();
	ad = 1u << (2 * key);
	wd = 2u << (2 * key);
	ASSERT_NE(0, pkru0 & ad);

	/* Access disabled: the key wins. */
	EXPECT_PROBE(xo_check_call(x, MAGIC + 0x33));
	a.src = x + 8;
	res = xo_try(xo_do_load, &a, &f);
	EXPECT_PROBE(expect_fault_pkey(res, &f, SEGV_PKUERR, x + 8, key));
	a.dst = x + 16;
	res = xo_try(xo_do_store, &a, &f);
	EXPECT_PROBE(expect_fault_pkey(res, &f, SEGV_PKUERR, x + 16, key));

	/* Access allowed, then write disabled only: NR alone. */
	wrpkru(pkru0 & ~(ad | wd));
	EXPECT_PROBE(xo_check_call(x, MAGIC + 0x33));
	a.src = x + 8;
	res = xo_try(xo_do_load, &a, &f);
	if (xo_mech == XO_MECH_NR) {
		EXPECT_PROBE(xo_expect_fault(res, &f, SEGV_ACCERR, x + 8));
	} else {
		EXPECT_EQ(0, res) TH_LOG("no XO, key allows access: load faulted si_code %d", f.code);
		EXPECT_EQ(0, memcmp(&a.val, want + 8, 4));
	}
	wrpkru((pkru0 & ~ad) | wd);
	a.src = x + 12;
	res = xo_try(xo_do_load, &a, &f);
	if (xo_mech == XO_MECH_NR) {
		EXPECT_PROBE(xo_expect_fault(res, &f, SEGV_ACCERR, x + 12));
	} else {
		EXPECT_EQ(0, res) TH_LOG("no XO, key write-disabled: load faulted si_code %d", f.code);
	}
	a.dst = x + 16;
	res = xo_try(xo_do_store, &a, &f);
	EXPECT_PROBE(expect_fault_pkey(res, &f, SEGV_PKUERR, x + 16, key));
	EXPECT_PROBE(xo_check_call(x, MAGIC + 0x33));
	wrpkru(pkru0);
	ASSERT_EQ(0, syscall(SYS_pkey_mprotect, x, XO_PAGE, PROT_EXEC, 0));
	ASSERT_EQ(0, syscall(SYS_pkey_free, key));
}

/* ---------------- kernel accesses to XO memory ---------------- */

FIXTURE(kaccess) {
	uint8_t *p;
	uint8_t want[XO_PAGE];
};

FIXTURE_SETUP(kaccess)
{
	self->p = xo_map_code(2, PROT_EXEC, MAGIC);
	ASSERT_NE(NULL, self->p);
	xo_fill_page(self->want, MAGIC);
	/* Present PTEs: the fast GUP and uaccess paths see the NR entry. */
	ASSERT_PROBE(xo_check_call(self->p, MAGIC));
	ASSERT_PROBE(xo_check_call(self->p + XO_PAGE, MAGIC + 1));
}

FIXTURE_TEARDOWN(kaccess)
{
}

/* Kernel copies from XO: EFAULT where XO holds, the bytes where readable. */
static void expect_copy_from(struct __test_metadata *_metadata, const char *what,
			     ssize_t ret, int err, const uint8_t *got,
			     const uint8_t *want, size_t n)
{
	if (xo_mech == XO_MECH_READABLE) {
		EXPECT_EQ((ssize_t)n, ret) TH_LOG("%s: errno %d", what, err);
		if (ret == (ssize_t)n && got)
			EXPECT_EQ(0, memcmp(got, want, n)) TH_LOG("%s: wrong bytes", what);
	} else {
		EXPECT_EQ(-1, ret) TH_LOG("%s returned %zd, expected EFAULT", what, ret);
		EXPECT_EQ(EFAULT, err) TH_LOG("%s: errno %d, expected EFAULT", what, err);
	}
}

TEST_F(kaccess, write_from_xo)
{
	uint8_t buf[64];
	int fds[2];
	ssize_t ret;
	int err;

	ASSERT_EQ(0, pipe(fds));
	ret = write(fds[1], self->p + 16, 64);
	err = errno;
	if (ret > 0)
		ASSERT_EQ(ret, read(fds[0], buf, ret));
	expect_copy_from(_metadata, "write(pipe, xo)", ret, err, buf, self->want + 16, 64);
	/* A copy spanning both XO pages. */
	ret = write(fds[1], self->p + XO_PAGE - 8, 16);
	err = errno;
	if (ret > 0)
		ASSERT_EQ(ret, read(fds[0], buf, ret));
	expect_copy_from(_metadata, "write(pipe, xo across pages)", ret, err, NULL, NULL, 16);
}

TEST_F(kaccess, send_from_xo)
{
	uint8_t buf[64];
	int sv[2];
	ssize_t ret;
	int err;

	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
	ret = send(sv[0], self->p + 32, 64, MSG_DONTWAIT);
	err = errno;
	if (ret > 0)
		ASSERT_EQ(ret, recv(sv[1], buf, ret, 0));
	expect_copy_from(_metadata, "send(xo)", ret, err, buf, self->want + 32, 64);
}

/* A kernel store into XO: never allowed (no VM_WRITE) in any mode. */
TEST_F(kaccess, read_into_xo)
{
	char msg[64] = "overwrite";
	int fds[2];

	ASSERT_EQ(0, pipe(fds));
	ASSERT_EQ(sizeof(msg), write(fds[1], msg, sizeof(msg)));
	EXPECT_EQ(-1, read(fds[0], self->p, sizeof(msg)));
	EXPECT_EQ(EFAULT, errno);
	EXPECT_PROBE(xo_check_call(self->p, MAGIC));
}

TEST_F(kaccess, vmsplice_from_xo)
{
	struct iovec iov = { .iov_base = self->p + 64, .iov_len = 128 };
	int fds[2];
	ssize_t ret;

	TEST_REQUIRE_XO();
	ASSERT_EQ(0, pipe(fds));
	/* Pinning the pages for a pipe is a read through GUP: refused. */
	ret = vmsplice(fds[1], &iov, 1, 0);
	EXPECT_EQ(-1, ret) TH_LOG("vmsplice of XO returned %zd", ret);
	EXPECT_EQ(EFAULT, errno);
}

/* A raw io_uring with one SQE in flight at a time. */
struct uring {
	int fd;
	unsigned int *sq_tail, *sq_mask, *sq_array, *cq_head, *cq_tail, *cq_mask;
	struct io_uring_sqe *sqe;
	struct io_uring_cqe *cqes;
};

/* 0, or -errno of io_uring_setup (or -ENOMEM for the ring mappings). */
static int uring_setup(struct uring *r)
{
	struct io_uring_params params = { 0 };
	size_t sq_len, cq_len;
	uint8_t *sq, *cq;

	r->fd = syscall(__NR_io_uring_setup, 4, &params);
	if (r->fd < 0)
		return -errno;
	sq_len = params.sq_off.array + params.sq_entries * sizeof(unsigned int);
	cq_len = params.cq_off.cqes + params.cq_entries * sizeof(struct io_uring_cqe);
	sq = mmap(NULL, sq_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE,
		  r->fd, IORING_OFF_SQ_RING);
	cq = mmap(NULL, cq_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE,
		  r->fd, IORING_OFF_CQ_RING);
	r->sqe = mmap(NULL, params.sq_entries * sizeof(*r->sqe), PROT_READ | PROT_WRITE,
		      MAP_SHARED | MAP_POPULATE, r->fd, IORING_OFF_SQES);
	if (sq == MAP_FAILED || cq == MAP_FAILED || r->sqe == MAP_FAILED) {
		close(r->fd);
		return -ENOMEM;
	}
	r->sq_tail = (unsigned int *)(sq + params.sq_off.tail);
	r->sq_mask = (unsigned int *)(sq + params.sq_off.ring_mask);
	r->sq_array = (unsigned int *)(sq + params.sq_off.array);
	r->cq_head = (unsigned int *)(cq + params.cq_off.head);
	r->cq_tail = (unsigned int *)(cq + params.cq_off.tail);
	r->cq_mask = (unsigned int *)(cq + params.cq_off.ring_mask);
	r->cqes = (struct io_uring_cqe *)(cq + params.cq_off.cqes);
	return 0;
}

/* Submit one op, wait for its CQE: 0 with *res, or -1. */
static int uring_run(struct uring *r, int op, int fd, void *buf, unsigned int len,
		     int buf_index, int *res)
{
	memset(r->sqe, 0, sizeof(*r->sqe));
	r->sqe->opcode = op;
	r->sqe->fd = fd;
	r->sqe->addr = (uintptr_t)buf;
	r->sqe->len = len;
	r->sqe->off = (uint64_t)-1;
	r->sqe->buf_index = buf_index;
	r->sq_array[*r->sq_tail & *r->sq_mask] = 0;
	__atomic_store_n(r->sq_tail, *r->sq_tail + 1, __ATOMIC_RELEASE);
	if (syscall(__NR_io_uring_enter, r->fd, 1, 1, IORING_ENTER_GETEVENTS, NULL, 0) < 0)
		return -1;
	if (__atomic_load_n(r->cq_tail, __ATOMIC_ACQUIRE) == *r->cq_head)
		return -1;
	*res = r->cqes[*r->cq_head & *r->cq_mask].res;
	__atomic_store_n(r->cq_head, *r->cq_head + 1, __ATOMIC_RELEASE);
	return 0;
}

/* One IORING_OP_WRITE or IORING_OP_READ through a raw io_uring; its res. */
static int io_uring_rw_once(int op, int fd, void *buf, unsigned int len, int *res)
{
	struct uring r;
	int ret = uring_setup(&r);

	if (ret)
		return ret;
	ret = uring_run(&r, op, fd, buf, len, 0, res);
	close(r.fd);
	return ret;
}

/* The kernel copies from XO on the task's behalf, maybe from an io-wq worker. */
TEST_F(kaccess, io_uring_write_from_xo)
{
	int fds[2], res = 0, ret;

	TEST_REQUIRE_XO();
	ASSERT_EQ(0, pipe(fds));
	ret = io_uring_rw_once(IORING_OP_WRITE, fds[1], self->p + 64, 64, &res);
	if (ret == -ENOSYS || ret == -EPERM)
		SKIP(return, "io_uring_setup: %s", strerror(-ret));
	ASSERT_EQ(0, ret);
	EXPECT_EQ(-EFAULT, res);
}

TEST_F(kaccess, io_uring_read_into_xo)
{
	char msg[64] = "overwrite";
	int fds[2], res = 0, ret;

	ASSERT_EQ(0, pipe(fds));
	ASSERT_EQ(sizeof(msg), write(fds[1], msg, sizeof(msg)));
	ret = io_uring_rw_once(IORING_OP_READ, fds[0], self->p, sizeof(msg), &res);
	if (ret == -ENOSYS || ret == -EPERM)
		SKIP(return, "io_uring_setup: %s", strerror(-ret));
	ASSERT_EQ(0, ret);
	EXPECT_EQ(-EFAULT, res);
	EXPECT_PROBE(xo_check_call(self->p, MAGIC));
}

static int uring_register_buffer(struct uring *r, void *p, size_t len)
{
	struct iovec iov = { .iov_base = p, .iov_len = len };

	return syscall(__NR_io_uring_register, r->fd, IORING_REGISTER_BUFFERS, &iov, 1);
}

/*
 * io_uring fixed buffers. IORING_REGISTER_BUFFERS pins the range with
 * pin_user_pages_fast(FOLL_WRITE | FOLL_LONGTERM) (6.12 io_pin_pages()),
 * and READ_FIXED/WRITE_FIXED then use the pinned frames through the
 * kernel's mapping, never the user address. So what XO needs: a range
 * holding an XO page cannot be registered (EFAULT in every mode: an XO
 * mapping has no VM_WRITE, and GUP-fast refuses NR entries besides), and
 * a registered buffer whose address range is later mapped over by XO
 * code sends the old pinned bytes, never the code, and READ_FIXED lands
 * in the old frame. A frame pinned while it was writable stays reachable
 * through the pin after mprotect(PROT_EXEC) of its mapping: XO belongs to
 * the mapping (as with an RW alias), and the pin was a readable access.
 */
TEST_F(kaccess, io_uring_fixed_buffers)
{
	uint8_t got[64], old[XO_PAGE];
	char msg[64] = "read-fixed";
	uint8_t *mixed, *buf;
	struct uring r;
	int fds[2], res = 0, ret;

	ret = uring_setup(&r);
	if (ret == -ENOSYS || ret == -EPERM)
		SKIP(return, "io_uring_setup: %s", strerror(-ret));
	ASSERT_EQ(0, ret);
	ASSERT_EQ(0, pipe(fds));

	/* The XO pages: refused. */
	EXPECT_EQ(-1, uring_register_buffer(&r, self->p, 2 * XO_PAGE))
		TH_LOG("IORING_REGISTER_BUFFERS of XO succeeded");
	EXPECT_EQ(EFAULT, errno);
	/* A readable page followed by an XO one: refused, nothing registered. */
	mixed = xo_map_code(2, PROT_READ | PROT_WRITE, MAGIC + 0x80);
	ASSERT_NE(NULL, mixed);
	ASSERT_EQ(0, mprotect(mixed + XO_PAGE, XO_PAGE, PROT_EXEC));
	ASSERT_PROBE(xo_check_call(mixed + XO_PAGE, MAGIC + 0x81));
	EXPECT_EQ(-1, uring_register_buffer(&r, mixed, 2 * XO_PAGE));
	EXPECT_EQ(EFAULT, errno);
	ASSERT_EQ(0, uring_run(&r, IORING_OP_WRITE_FIXED, fds[1], mixed, 64, 0, &res));
	EXPECT_EQ(-EFAULT, res) TH_LOG("WRITE_FIXED without a registered buffer: res %d", res);

	/* A registered page, then XO code mapped over its address. */
	buf = xo_map_code(1, PROT_READ | PROT_WRITE, MAGIC + 0x90);
	ASSERT_NE(NULL, buf);
	memcpy(old, buf, XO_PAGE);
	ASSERT_EQ(0, uring_register_buffer(&r, buf, XO_PAGE))
		TH_LOG("IORING_REGISTER_BUFFERS of RW: %s", strerror(errno));
	ASSERT_EQ(buf, mmap(buf, XO_PAGE, PROT_READ | PROT_WRITE,
			    MAP_FIXED | MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
	xo_fill_page(buf, MAGIC + 0xa0);
	ASSERT_EQ(0, mprotect(buf, XO_PAGE, PROT_EXEC));
	ASSERT_PROBE(xo_check_call(buf, MAGIC + 0xa0));
	ASSERT_EQ(0, uring_run(&r, IORING_OP_WRITE_FIXED, fds[1], buf + 16, 64, 0, &res));
	ASSERT_EQ(64, res) TH_LOG("WRITE_FIXED: res %d", res);
	ASSERT_EQ(64, read(fds[0], got, 64));
	EXPECT_EQ(0, memcmp(got, old + 16, 64)) TH_LOG("WRITE_FIXED did not send the pinned frame's bytes");
	ASSERT_EQ(sizeof(msg), write(fds[1], msg, sizeof(msg)));
	ASSERT_EQ(0, uring_run(&r, IORING_OP_READ_FIXED, fds[0], buf, sizeof(msg), 0, &res));
	EXPECT_EQ(sizeof(msg), res);
	EXPECT_PROBE(xo_check_call(buf, MAGIC + 0xa0));
	EXPECT_PROBE(xo_check_noread(buf + 16));
	ASSERT_EQ(0, syscall(__NR_io_uring_register, r.fd, IORING_UNREGISTER_BUFFERS, NULL, 0));

	/* Pinned while writable, then made XO: the pin still reaches the frame. */
	buf = xo_map_code(1, PROT_READ | PROT_WRITE, MAGIC + 0xb0);
	ASSERT_NE(NULL, buf);
	memcpy(old, buf, XO_PAGE);
	ASSERT_EQ(0, uring_register_buffer(&r, buf, XO_PAGE));
	ASSERT_EQ(0, mprotect(buf, XO_PAGE, PROT_EXEC));
	EXPECT_PROBE(xo_check_call(buf, MAGIC + 0xb0));
	EXPECT_PROBE(xo_check_noread(buf + 16));
	ASSERT_EQ(0, uring_run(&r, IORING_OP_WRITE_FIXED, fds[1], buf + 16, 64, 0, &res));
	EXPECT_EQ(64, res);
	if (res == 64) {
		ASSERT_EQ(64, read(fds[0], got, 64));
		EXPECT_EQ(0, memcmp(got, old + 16, 64));
	}
	close(r.fd);
}

/* Bring up lo if it is down (the test guest's /init may not); 0 when up. */
static int loopback_up(void)
{
	struct ifreq ifr = { 0 };
	int s = socket(AF_INET, SOCK_DGRAM, 0), ret = -1;

	if (s < 0)
		return -1;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "lo");
	if (!ioctl(s, SIOCGIFFLAGS, &ifr)) {
		ret = 0;
		if (!(ifr.ifr_flags & IFF_UP)) {
			ifr.ifr_flags |= IFF_UP;
			ret = ioctl(s, SIOCSIFFLAGS, &ifr);
		}
	}
	close(s);
	return ret;
}

/* A connected TCP pair over 127.0.0.1: 0, or -1 (errno). */
static int tcp_pair(int *client, int *server)
{
	struct sockaddr_in a = { .sin_family = AF_INET,
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);
	int l = socket(AF_INET, SOCK_STREAM, 0);

	if (l < 0)
		return -1;
	if (bind(l, (struct sockaddr *)&a, sizeof(a)) || listen(l, 1) ||
	    getsockname(l, (struct sockaddr *)&a, &len))
		goto fail;
	*client = socket(AF_INET, SOCK_STREAM, 0);
	if (*client < 0 || connect(*client, (struct sockaddr *)&a, sizeof(a)))
		goto fail;
	*server = accept(l, NULL, NULL);
	if (*server < 0)
		goto fail;
	close(l);
	return 0;
fail:
	close(l);
	return -1;
}

/* Receive exactly n bytes (2 s at most). */
static ssize_t recv_all(int fd, uint8_t *buf, size_t n)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	size_t got = 0;

	while (got < n && poll(&pfd, 1, 2000) == 1) {
		ssize_t r = recv(fd, buf + got, n - got, MSG_DONTWAIT);

		if (r <= 0)
			break;
		got += r;
	}
	return got;
}

/* The MSG_ZEROCOPY completion on the error queue (2 s at most): 0 when seen. */
static int zerocopy_completion(int fd)
{
	char control[128];
	struct msghdr m = { .msg_control = control, .msg_controllen = sizeof(control) };
	struct pollfd pfd = { .fd = fd, .events = 0 };
	struct cmsghdr *cm;
	int i;

	for (i = 0; i < 200; i++) {
		m.msg_controllen = sizeof(control);
		if (recvmsg(fd, &m, MSG_ERRQUEUE | MSG_DONTWAIT) >= 0)
			break;
		poll(&pfd, 1, 10);
	}
	for (cm = CMSG_FIRSTHDR(&m); i < 200 && cm; cm = CMSG_NXTHDR(&m, cm)) {
		struct sock_extended_err *e = (struct sock_extended_err *)CMSG_DATA(cm);

		if (e->ee_errno == 0 && e->ee_origin == SO_EE_ORIGIN_ZEROCOPY)
			return 0;
	}
	return -1;
}

/*
 * MSG_ZEROCOPY over TCP pins the send buffer's pages (GUP-fast, no
 * FOLL_WRITE: iov_iter_get_pages2()) and hands them to the stack: from
 * present XO pages GUP-fast must refuse the NR entries and slow GUP finds
 * no VM_READ, so send() fails with EFAULT and nothing arrives. Stock
 * GUP-fast takes the readable PTE and sends the code. An RW buffer is
 * the control that the zerocopy path (with its completion) is taken.
 */
TEST_F(kaccess, msg_zerocopy_from_xo)
{
	uint8_t *rw = xo_map_code(2, PROT_READ | PROT_WRITE, MAGIC + 0xc0);
	uint8_t got[2 * XO_PAGE];
	int c, s, one = 1, err;
	ssize_t ret;

	ASSERT_NE(NULL, rw);
	if (loopback_up() || tcp_pair(&c, &s))
		SKIP(return, "no TCP over lo: %s (guest config: CONFIG_INET)", strerror(errno));
	if (setsockopt(c, SOL_SOCKET, SO_ZEROCOPY, &one, sizeof(one)))
		SKIP(return, "SO_ZEROCOPY: %s", strerror(errno));
	/* Control: an RW buffer goes out zerocopy and arrives. */
	ASSERT_EQ(2 * XO_PAGE, send(c, rw, 2 * XO_PAGE, MSG_ZEROCOPY))
		TH_LOG("MSG_ZEROCOPY send from RW: %s", strerror(errno));
	ASSERT_EQ(2 * XO_PAGE, recv_all(s, got, 2 * XO_PAGE));
	EXPECT_EQ(0, memcmp(got, rw, 2 * XO_PAGE));
	EXPECT_EQ(0, zerocopy_completion(c)) TH_LOG("no MSG_ZEROCOPY completion: the send was not zerocopy");

	ret = send(c, self->p, 2 * XO_PAGE, MSG_ZEROCOPY | MSG_DONTWAIT);
	err = errno;
	if (xo_mech == XO_MECH_READABLE) {
		EXPECT_EQ(2 * XO_PAGE, ret) TH_LOG("stock MSG_ZEROCOPY from --x: %s", strerror(err));
		EXPECT_EQ(2 * XO_PAGE, recv_all(s, got, 2 * XO_PAGE));
		EXPECT_EQ(0, memcmp(got, self->want, 64)) TH_LOG("wrong bytes");
	} else {
		EXPECT_EQ(-1, ret) TH_LOG("MSG_ZEROCOPY send from XO returned %zd", ret);
		EXPECT_EQ(EFAULT, err) TH_LOG("errno %d", err);
		EXPECT_EQ(0, recv_all(s, got, 1)) TH_LOG("bytes of the XO pages arrived");
	}
	close(c);
	close(s);
}

/* Linux AIO: one IOCB_CMD_PWRITE; its io_event res, or -errno of the syscalls. */
static long aio_pwrite_once(int fd, const void *buf, size_t len, off_t off)
{
	aio_context_t ctx = 0;
	struct iocb cb = { 0 }, *cbs[1] = { &cb };
	struct io_event ev;
	long ret;

	if (syscall(SYS_io_setup, 1, &ctx))
		return -errno;
	cb.aio_fildes = fd;
	cb.aio_lio_opcode = IOCB_CMD_PWRITE;
	cb.aio_buf = (uintptr_t)buf;
	cb.aio_nbytes = len;
	cb.aio_offset = off;
	ret = syscall(SYS_io_submit, ctx, 1, cbs);
	if (ret != 1) {
		ret = ret < 0 ? -errno : -EIO;
	} else {
#if !defined(__x86_64__) && defined(SYS_io_pgetevents_time64)
		ret = syscall(SYS_io_pgetevents_time64, ctx, 1, 1, &ev, NULL, NULL);
#else
		ret = syscall(SYS_io_getevents, ctx, 1, 1, &ev, NULL);
#endif
		ret = ret == 1 ? (long)ev.res : -errno;
	}
	syscall(SYS_io_destroy, ctx);
	return ret;
}

/* Buffered AIO (tmpfs): copied from the buffer in io_submit(): EFAULT. */
TEST_F(kaccess, aio_write_from_xo)
{
	int fd = syscall(SYS_memfd_create, "xo-aio", MFD_CLOEXEC);
	uint8_t *rw = xo_map_code(1, PROT_READ | PROT_WRITE, MAGIC + 0xd0);
	uint8_t got[64];
	long res;

	ASSERT_LE(0, fd);
	ASSERT_NE(NULL, rw);
	res = aio_pwrite_once(fd, rw, 64, 0);
	if (res == -ENOSYS)
		SKIP(return, "io_setup: ENOSYS (guest config: CONFIG_AIO)");
	ASSERT_EQ(64, res) TH_LOG("AIO pwrite from RW: %ld", res);
	res = aio_pwrite_once(fd, self->p + 16, 64, 64);
	if (xo_mech == XO_MECH_READABLE) {
		EXPECT_EQ(64, res);
		ASSERT_EQ(64, pread(fd, got, 64, 64));
		EXPECT_EQ(0, memcmp(got, self->want + 16, 64));
	} else {
		EXPECT_EQ(-EFAULT, res) TH_LOG("AIO pwrite from XO: res %ld", res);
		EXPECT_EQ(0, pread(fd, got, 64, 64)) TH_LOG("the file grew: XO bytes written");
	}
	close(fd);
}

/*
 * O_DIRECT AIO: the block layer pins the buffer (pin_user_pages_fast()),
 * as for o_direct_from_and_into_xo in xo_mm; the ramdisk is unchanged.
 */
TEST_F(kaccess, aio_o_direct_write_from_xo)
{
	const char *path = getenv("XO_TEST_DIRECT_IO") ?: "/dev/ram0";
	uint8_t *rw = xo_map_code(2, PROT_READ | PROT_WRITE, MAGIC + 0xe0);
	uint8_t *back;
	long res;
	int fd;

	ASSERT_NE(NULL, rw);
	back = rw + XO_PAGE;
	fd = open(path, O_RDWR | O_DIRECT);
	if (fd < 0)
		SKIP(return, "%s: %s (the guest needs CONFIG_BLK_DEV_RAM)", path, strerror(errno));
	res = aio_pwrite_once(fd, rw, XO_PAGE, XO_PAGE);
	if (res == -ENOSYS)
		SKIP(return, "io_setup: ENOSYS (guest config: CONFIG_AIO)");
	ASSERT_EQ(XO_PAGE, res) TH_LOG("O_DIRECT AIO pwrite from RW: %ld", res);
	res = aio_pwrite_once(fd, self->p, XO_PAGE, XO_PAGE);
	memset(back, 0, XO_PAGE);
	ASSERT_EQ(XO_PAGE, pread(fd, back, XO_PAGE, XO_PAGE));
	if (xo_mech == XO_MECH_READABLE) {
		EXPECT_EQ(XO_PAGE, res);
		EXPECT_EQ(0, memcmp(back, self->want, XO_PAGE)) TH_LOG("the device lacks the code");
	} else {
		EXPECT_EQ(-EFAULT, res) TH_LOG("O_DIRECT AIO pwrite from XO: res %ld", res);
		EXPECT_EQ(0, memcmp(back, rw, XO_PAGE)) TH_LOG("the device changed");
	}
	EXPECT_PROBE(xo_check_call(self->p, MAGIC));
	close(fd);
}

/* 32-bit: the time64 futex, which needs no CONFIG_COMPAT_32BIT_TIME. */
#if !defined(__x86_64__) && defined(SYS_futex_time64)
#define SYS_futex_any SYS_futex_time64
#else
#define SYS_futex_any SYS_futex
#endif

TEST_F(kaccess, futex_on_xo)
{
	long ret;

	/* The word holds 0x??0c0de0-ish code bytes, never 0. */
	ret = syscall(SYS_futex_any, (uint32_t *)(self->p + 8), FUTEX_WAIT_PRIVATE, 0,
		      NULL, NULL, 0);
	if (xo_mech == XO_MECH_READABLE) {
		EXPECT_EQ(-1, ret);
		EXPECT_EQ(EAGAIN, errno);
	} else {
		EXPECT_EQ(-1, ret);
		EXPECT_EQ(EFAULT, errno) TH_LOG("futex on XO: errno %d", errno);
	}
	errno = 0;
	ret = syscall(SYS_futex_any, (uint32_t *)(self->p + 8), FUTEX_WAKE_PRIVATE, 1,
		      NULL, NULL, 0);
	/* FUTEX_WAKE reads nothing: it works on any address. */
	EXPECT_EQ(0, ret);
}

TEST(path_argument_in_xo)
{
	uint8_t *p = mmap(NULL, XO_PAGE, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	struct stat st;
	int ret, err;

	ASSERT_NE(MAP_FAILED, p);
	snprintf((char *)p, XO_PAGE, "/proc/self/maps");
	ASSERT_EQ(0, mprotect(p, XO_PAGE, PROT_EXEC));
	ret = stat((char *)p, &st);
	err = errno;
	if (xo_mech == XO_MECH_READABLE) {
		EXPECT_EQ(0, ret) TH_LOG("stat errno %d", err);
	} else {
		EXPECT_EQ(-1, ret);
		EXPECT_EQ(EFAULT, err) TH_LOG("stat(xo path): errno %d", err);
	}
	ret = open((char *)p, O_RDONLY);
	err = errno;
	if (xo_mech == XO_MECH_READABLE) {
		EXPECT_LE(0, ret);
	} else {
		EXPECT_EQ(-1, ret);
		EXPECT_EQ(EFAULT, err) TH_LOG("open(xo path): errno %d", err);
	}
}

/* Syscall structures the kernel reads from, or writes to, XO memory. */
TEST(struct_arguments_in_xo)
{
	uint8_t *p = mmap(NULL, XO_PAGE, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	static char data[8] = "xo-data";
	/* struct __kernel_timespec, read by the kernel itself (no libc copy). */
	int64_t ts[2] = { 0, 1000 };
	struct iovec iov = { data, sizeof(data) };
	int fds[2], err;
	long ret;

	ASSERT_NE(MAP_FAILED, p);
	ASSERT_EQ(0, pipe(fds));
	memcpy(p, &ts, sizeof(ts));
	memcpy(p + 64, &iov, sizeof(iov));
	ASSERT_EQ(0, mprotect(p, XO_PAGE, PROT_EXEC));

#if !defined(__x86_64__) && defined(SYS_clock_nanosleep_time64)
	ret = syscall(SYS_clock_nanosleep_time64, CLOCK_MONOTONIC, 0, p, NULL);
#else
	ret = syscall(SYS_clock_nanosleep, CLOCK_MONOTONIC, 0, p, NULL);
#endif
	err = errno;
	if (xo_mech == XO_MECH_READABLE) {
		EXPECT_EQ(0, ret);
	} else {
		EXPECT_EQ(-1, ret);
		EXPECT_EQ(EFAULT, err) TH_LOG("clock_nanosleep(xo timespec): errno %d", err);
	}
	ret = writev(fds[1], (struct iovec *)(p + 64), 1);
	err = errno;
	if (xo_mech == XO_MECH_READABLE) {
		EXPECT_EQ(sizeof(data), ret);
	} else {
		EXPECT_EQ(-1, ret);
		EXPECT_EQ(EFAULT, err) TH_LOG("writev(xo iovec): errno %d", err);
	}
	/* A kernel store: refused in every mode. */
	EXPECT_EQ(-1, syscall(SYS_getrandom, p + 128, 16, 0));
	EXPECT_EQ(EFAULT, errno);
}

/* Remote reads by GUP without FOLL_FORCE: VM_READ is required everywhere. */
TEST_F(kaccess, process_vm_readv)
{
	uint8_t buf[64];
	struct iovec local = { .iov_base = buf, .iov_len = sizeof(buf) };
	struct iovec remote = { .iov_base = self->p + 8, .iov_len = sizeof(buf) };
	int status;
	pid_t pid = fork();

	ASSERT_LE(0, pid);
	if (pid == 0) {
		pause();
		_exit(0);
	}
	EXPECT_EQ(-1, process_vm_readv(pid, &local, 1, &remote, 1, 0));
	EXPECT_EQ(EFAULT, errno);
	EXPECT_EQ(-1, process_vm_writev(pid, &local, 1, &remote, 1, 0));
	EXPECT_EQ(EFAULT, errno);
	/* On itself, too. */
	EXPECT_EQ(-1, process_vm_readv(getpid(), &local, 1, &remote, 1, 0));
	EXPECT_EQ(EFAULT, errno);
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
}

/* ---------------- mprotect(--x <-> r-x) racing kernel readers ---------------- */

/*
 * One thread flips a present page between --x and r-x with mprotect();
 * another reads it, round after round, through vmsplice() (GUP-fast into
 * a pipe), an O_DIRECT write (pin_user_pages_fast()), process_vm_readv()
 * (remote GUP) and a user load. The criterion needs no timing luck: the
 * flipper publishes a counter, seq % 4 ==
 *   0  --x, set after mprotect(PROT_EXEC) returned (entries NR, TLBs flushed)
 *   1  before mprotect(PROT_READ | PROT_EXEC) is called
 *   2  r-x, set after that mprotect returned
 *   3  before mprotect(PROT_EXEC) is called
 * and a reader samples it before and after each read (with full fences).
 * A read that saw the same 4k+0 on both sides ran wholly while the page
 * was XO: it must fail (EFAULT, or SEGV_ACCERR at the address); one that
 * saw the same 4k+2 ran wholly while the page was readable: it must
 * return the page's marker bytes. Reads spanning a change prove nothing
 * and only must not fail otherwise. The flipper holds each state until
 * the reader has finished a full round of all readers inside it, so every
 * reader is judged in every state (counted and required), while the
 * flips themselves land at arbitrary points of the reader's loop.
 */
enum { RD_VMSPLICE, RD_ODIRECT, RD_PVM, RD_LOAD, RD_N };
static const char *const rd_name[RD_N] = {
	"vmsplice", "O_DIRECT write", "process_vm_readv", "user load",
};

struct race {
	uint8_t *p;
	uint8_t want[XO_PAGE];
	uint8_t *buf;
	int pipe[2];
	int dio_fd;
	unsigned long seq;
	unsigned long rounds;
	volatile int stop;
	unsigned long judged_xo[RD_N], judged_r[RD_N], spanning[RD_N];
	unsigned long leaks[RD_N], refused[RD_N], wrong[RD_N], odd[RD_N];
	char first[RD_N][160];
};

static unsigned long race_seq(struct race *r)
{
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	return __atomic_load_n(&r->seq, __ATOMIC_SEQ_CST);
}

/* One read: 1 = got the bytes, 0 = refused as XO must, -1 = other error. */
static int race_read(struct race *r, int rd, char *why, size_t n)
{
	struct iovec iov = { .iov_base = r->p, .iov_len = XO_PAGE };
	struct iovec local = { .iov_base = r->buf, .iov_len = XO_PAGE };
	struct xo_access a = { .src = r->p + 64, .size = 8 };
	struct xo_fault f;
	ssize_t ret = -1;

	switch (rd) {
	case RD_VMSPLICE:
		ret = vmsplice(r->pipe[1], &iov, 1, SPLICE_F_NONBLOCK);
		if (ret > 0 && read(r->pipe[0], r->buf, ret) != ret) {
			snprintf(why, n, "pipe read failed");
			return -1;
		}
		break;
	case RD_ODIRECT:
		ret = pwrite(r->dio_fd, r->p, XO_PAGE, XO_PAGE);
		if (ret == (ssize_t)XO_PAGE)
			memcpy(r->buf, r->want, XO_PAGE);	/* not read back */
		break;
	case RD_PVM:
		ret = process_vm_readv(getpid(), &local, 1, &iov, 1, 0);
		break;
	case RD_LOAD:
		if (xo_try(xo_do_load, &a, &f)) {
			if (f.sig == SIGSEGV && f.code == SEGV_ACCERR && f.addr == a.src)
				return 0;
			snprintf(why, n, "load: signal %d si_code %d si_addr %p",
				 f.sig, f.code, f.addr);
			return -1;
		}
		memcpy(r->buf + 64, &a.val, 8);
		if (memcmp(r->buf + 64, r->want + 64, 8)) {
			snprintf(why, n, "load: wrong bytes");
			return -1;
		}
		return 1;
	}
	if (ret < 0 && errno == EFAULT)
		return 0;
	if (ret != (ssize_t)XO_PAGE) {
		snprintf(why, n, "%s returned %zd (errno %d)", rd_name[rd], ret, errno);
		return -1;
	}
	if (memcmp(r->buf, r->want, XO_PAGE)) {
		snprintf(why, n, "%s: wrong bytes", rd_name[rd]);
		return -1;
	}
	return 1;
}

static void race_note(struct race *r, int rd, const char *fmt, unsigned long s1,
		      unsigned long s2, const char *why)
{
	if (!r->first[rd][0])
		snprintf(r->first[rd], sizeof(r->first[rd]), fmt, s1, s2, why);
}

static void *race_reader(void *arg)
{
	struct race *r = arg;
	char why[128];

	while (!r->stop) {
		int rd;

		for (rd = 0; rd < RD_N; rd++) {
			unsigned long s1, s2;
			int res;

			if (rd == RD_ODIRECT && r->dio_fd < 0)
				continue;
			why[0] = 0;
			s1 = race_seq(r);
			res = race_read(r, rd, why, sizeof(why));
			s2 = race_seq(r);
			if (s1 == s2 && s1 % 4 == 0) {
				r->judged_xo[rd]++;
				if (res == 1) {
					r->leaks[rd]++;
					race_note(r, rd, "seq %lu..%lu (--x throughout): bytes read%s", s1, s2, why);
				}
			} else if (s1 == s2 && s1 % 4 == 2) {
				r->judged_r[rd]++;
				if (res == 0) {
					r->refused[rd]++;
					race_note(r, rd, "seq %lu..%lu (r-x throughout): refused%s", s1, s2, why);
				}
			} else {
				r->spanning[rd]++;
			}
			if (res < 0) {
				r->wrong[rd]++;
				race_note(r, rd, "seq %lu..%lu: %s", s1, s2, why);
			}
		}
		__atomic_add_fetch(&r->rounds, 1, __ATOMIC_SEQ_CST);
	}
	return NULL;
}

static double race_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Hold the current state until the reader did a whole round inside it. */
static int race_hold(struct race *r, double deadline)
{
	unsigned long r0 = __atomic_load_n(&r->rounds, __ATOMIC_SEQ_CST);

	while (__atomic_load_n(&r->rounds, __ATOMIC_SEQ_CST) < r0 + 2) {
		if (race_now() > deadline)
			return -1;
		sched_yield();
	}
	return 0;
}

/* Publish the next state (seq + 1). */
static void race_step(struct race *r)
{
	__atomic_store_n(&r->seq, r->seq + 1, __ATOMIC_SEQ_CST);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
}

/* 3 s, longer (up to 30 s) on a slow host until 20 cycles are done. */
#define RACE_SECONDS 3.0
#define RACE_MAX_SECONDS 30.0
#define RACE_MIN_CYCLES 20

TEST(mprotect_race_kernel_readers)
{
	const char *path = getenv("XO_TEST_DIRECT_IO") ?: "/dev/ram0";
	struct race *r;
	unsigned long cycles = 0;
	double start, deadline;
	pthread_t t;
	int rd, two_cpus = sysconf(_SC_NPROCESSORS_ONLN) >= 2;

	TEST_REQUIRE_XO();
#ifndef __x86_64__
	{
		int word = 0;

		if (syscall(SYS_futex, &word, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0) < 0 &&
		    errno == ENOSYS)
			SKIP(return, "32-bit threads need CONFIG_COMPAT_32BIT_TIME (time32 futex: ENOSYS)");
	}
#endif
	r = mmap(NULL, sizeof(*r), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, r);
	r->p = xo_map_code(1, PROT_EXEC, MAGIC + 0x77);
	r->buf = mmap(NULL, XO_PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(NULL, r->p);
	ASSERT_NE(MAP_FAILED, r->buf);
	xo_fill_page(r->want, MAGIC + 0x77);
	/* Present, executed: GUP-fast and the TLB see the NR entry. */
	ASSERT_PROBE(xo_check_call(r->p, MAGIC + 0x77));
	ASSERT_EQ(0, pipe(r->pipe));
	r->dio_fd = open(path, O_RDWR | O_DIRECT);
	if (r->dio_fd < 0)
		TH_LOG("no O_DIRECT reader: %s: %s", path, strerror(errno));
	if (two_cpus)
		xo_pin_to_cpu(0);
	ASSERT_EQ(0, pthread_create(&t, NULL, race_reader, r));
	if (two_cpus) {
		cpu_set_t set;

		CPU_ZERO(&set);
		CPU_SET(1, &set);
		pthread_setaffinity_np(t, sizeof(set), &set);
	}

	start = race_now();
	deadline = start + RACE_MAX_SECONDS + 30;	/* a stuck reader */
	while ((race_now() - start < RACE_SECONDS || cycles < RACE_MIN_CYCLES) &&
	       race_now() - start < RACE_MAX_SECONDS) {
		if (race_hold(r, deadline))
			break;
		race_step(r);	/* 1 */
		if (mprotect(r->p, XO_PAGE, PROT_READ | PROT_EXEC))
			break;
		race_step(r);	/* 2 */
		if (race_hold(r, deadline))
			break;
		race_step(r);	/* 3 */
		if (mprotect(r->p, XO_PAGE, PROT_EXEC))
			break;
		race_step(r);	/* 0 */
		cycles++;
	}
	r->stop = 1;
	pthread_join(t, NULL);
	EXPECT_EQ(0, r->seq % 4) TH_LOG("the flipper stopped early (mprotect: %s, or the reader stalled)",
				       strerror(errno));
	TH_LOG("%lu --x/r-x cycles in %.1f s, %lu reader rounds", cycles, race_now() - start, r->rounds);
	EXPECT_LE(RACE_MIN_CYCLES, cycles);
	for (rd = 0; rd < RD_N; rd++) {
		if (rd == RD_ODIRECT && r->dio_fd < 0)
			continue;
		TH_LOG("%-16s judged --x %lu (read: %lu), judged r-x %lu (refused: %lu), spanning %lu, errors %lu%s%s",
		       rd_name[rd], r->judged_xo[rd], r->leaks[rd], r->judged_r[rd],
		       r->refused[rd], r->spanning[rd], r->wrong[rd],
		       r->first[rd][0] ? "; first: " : "", r->first[rd]);
		EXPECT_EQ(0, r->leaks[rd]) TH_LOG("%s read XO bytes", rd_name[rd]);
		EXPECT_EQ(0, r->refused[rd]) TH_LOG("%s refused a readable page", rd_name[rd]);
		EXPECT_EQ(0, r->wrong[rd]);
		/* Every state held for a whole round: each reader judged in each. */
		EXPECT_LE(cycles, r->judged_xo[rd]);
		EXPECT_LE(cycles, r->judged_r[rd]);
	}
	EXPECT_PROBE(xo_check_call(r->p, MAGIC + 0x77));
	EXPECT_PROBE(xo_check_noread(r->p + 8));
	if (r->dio_fd >= 0)
		close(r->dio_fd);
}

/* ---------------- ptrace and /proc/pid/mem ---------------- */

static int poke_bytes(pid_t pid, uint8_t *addr, const uint8_t *src, size_t n)
{
	size_t i;

	for (i = 0; i < n; i += sizeof(long)) {
		long word;

		errno = 0;
		word = ptrace(PTRACE_PEEKTEXT, pid, addr + i, NULL);
		if (errno)
			return -1;
		memcpy(&word, src + i, n - i < sizeof(long) ? n - i : sizeof(long));
		if (ptrace(PTRACE_POKETEXT, pid, addr + i, (void *)word))
			return -1;
	}
	return 0;
}

TEST(ptrace_and_proc_mem)
{
	uint8_t *p = xo_map_code(1, PROT_EXEC, MAGIC);
	uint8_t want[XO_PAGE], got[XO_PAGE], code[8];
	char path[64];
	int status, fd;
	long word;
	pid_t pid;

	ASSERT_NE(NULL, p);
	xo_fill_page(want, MAGIC);
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		int bad = 0;

		ptrace(PTRACE_TRACEME, 0, NULL, NULL);
		raise(SIGSTOP);
		/* The debugger wrote MAGIC + 2 at the start: run it. */
		bad |= xo_child_report("call of poked code", xo_check_call(p, MAGIC + 2));
		/* The COW copy made by the debugger's write is XO too. */
		bad |= xo_child_report("load after poke", xo_check_noread(p + 1));
		_exit(bad);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFSTOPPED(status));

	errno = 0;
	word = ptrace(PTRACE_PEEKTEXT, pid, p + 64, NULL);
	EXPECT_EQ(0, errno);
	EXPECT_EQ(0, memcmp(&word, want + 64, sizeof(word))) TH_LOG("PEEKTEXT bytes differ");

	xo_emit_ret_imm(code, MAGIC + 1);
	EXPECT_EQ(0, poke_bytes(pid, p, code, XO_RET_IMM_LEN));

	snprintf(path, sizeof(path), "/proc/%d/mem", pid);
	fd = open(path, O_RDWR);
	ASSERT_LE(0, fd);
	EXPECT_EQ(XO_PAGE, pread(fd, got, XO_PAGE, (off_t)(uintptr_t)p));
	EXPECT_EQ(0, memcmp(got, code, XO_RET_IMM_LEN)) TH_LOG("/proc/pid/mem misses the poke");
	EXPECT_EQ(0, memcmp(got + 64, want + 64, XO_PAGE - 64))
		TH_LOG("/proc/pid/mem bytes differ");
	xo_emit_ret_imm(code, MAGIC + 2);
	EXPECT_EQ(XO_RET_IMM_LEN, pwrite(fd, code, XO_RET_IMM_LEN, (off_t)(uintptr_t)p));
	close(fd);

	/* Detach: the tracee's own fault probes must not stop it. */
	ASSERT_EQ(0, ptrace(PTRACE_DETACH, pid, NULL, NULL));
	EXPECT_PROBE(xo_wait_child(pid, 0));
	/* The debugger's writes went to the child's copy only. */
	EXPECT_PROBE(xo_check_call(p, MAGIC));
}

#ifdef __x86_64__
#define REG_IP(r) ((r).rip)
#define REG_SP(r) ((r).rsp)
#define REG_AX(r) ((r).rax)
#else
#define REG_IP(r) ((r).eip)
#define REG_SP(r) ((r).esp)
#define REG_AX(r) ((r).eax)
#endif
#define REG_FL(r) ((r).eflags)
#define EFLAGS_TF 0x100UL

/* One PTRACE_SINGLESTEP; the tracee's registers after it. */
static const char *step_tracee(pid_t pid, struct user_regs_struct *regs)
{
	int status;

	if (ptrace(PTRACE_SINGLESTEP, pid, NULL, NULL))
		return xo_fmt("PTRACE_SINGLESTEP: %s", strerror(errno));
	if (waitpid(pid, &status, 0) != pid)
		return xo_fmt("waitpid: %s", strerror(errno));
	if (!WIFSTOPPED(status) || WSTOPSIG(status) != SIGTRAP)
		return xo_fmt("status %#x, expected a SIGTRAP stop", status);
	if (ptrace(PTRACE_GETREGS, pid, NULL, regs))
		return xo_fmt("PTRACE_GETREGS: %s", strerror(errno));
	return NULL;
}

/*
 * PTRACE_SINGLESTEP through XO code. Before each step the kernel reads the
 * instruction (is_setting_trap_flag(): access_process_vm, FOLL_FORCE) to
 * tell a popf that sets TF itself from the TF it set for the step: only if
 * it read the popf does the tracer see the tracee's own TF afterwards.
 */
TEST(singlestep_through_xo)
{
	/* int3; pushf; popf; mov $MAGIC,%eax; nop; ret */
	uint8_t code[] = { 0xcc, 0x9c, 0x9d, 0xb8, 0, 0, 0, 0, 0x90, 0xc3 };
	/* The IP after stepping pushf, popf, mov, nop. */
	static const size_t next[] = { 2, 3, 8, 9 };
	uint8_t *p = mmap(NULL, XO_PAGE, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	uint32_t magic = MAGIC;
	struct user_regs_struct regs;
	unsigned long ret_addr;
	int status;
	size_t i;
	long word;
	pid_t pid;

	ASSERT_NE(MAP_FAILED, p);
	memcpy(code + 4, &magic, 4);
	memcpy(p, code, sizeof(code));
	ASSERT_EQ(0, mprotect(p, XO_PAGE, PROT_EXEC));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		uint32_t (*fn)(void) = (uint32_t (*)(void))p;
		int bad;

		ptrace(PTRACE_TRACEME, 0, NULL, NULL);
		bad = xo_child_report("stepped code's result",
				      fn() == MAGIC ? NULL : "wrong value");
		bad |= xo_child_report("load after stepping", xo_check_noread(p + 2));
		_exit(bad);
	}
	/* The int3. */
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFSTOPPED(status) && WSTOPSIG(status) == SIGTRAP)
		TH_LOG("status %#x, expected the int3's SIGTRAP stop", status);
	ASSERT_EQ(0, ptrace(PTRACE_GETREGS, pid, NULL, &regs));
	ASSERT_EQ((uintptr_t)p + 1, REG_IP(regs));
	for (i = 0; i < ARRAY_SIZE(next); i++) {
		ASSERT_PROBE(step_tracee(pid, &regs));
		EXPECT_EQ((uintptr_t)p + next[i], REG_IP(regs)) TH_LOG("step %zu", i);
		if (i == 0) {
			/* pushf saved the TF of the step, which ptrace hides. */
			errno = 0;
			word = ptrace(PTRACE_PEEKDATA, pid, REG_SP(regs), NULL);
			EXPECT_EQ(0, errno);
			EXPECT_TRUE(word & EFLAGS_TF) TH_LOG("pushf saved %#lx", word);
			EXPECT_FALSE(REG_FL(regs) & EFLAGS_TF)
				TH_LOG("debugger's TF visible: %#lx", (unsigned long)REG_FL(regs));
		}
		if (i == 1) {
			EXPECT_TRUE(REG_FL(regs) & EFLAGS_TF)
				TH_LOG("TF set by popf hidden (%#lx): the kernel did not read the popf",
				       (unsigned long)REG_FL(regs));
		}
	}
	EXPECT_EQ(MAGIC, (uint32_t)REG_AX(regs));
	/* The ret, back to the caller. */
	errno = 0;
	ret_addr = ptrace(PTRACE_PEEKDATA, pid, REG_SP(regs), NULL);
	ASSERT_EQ(0, errno);
	ASSERT_PROBE(step_tracee(pid, &regs));
	EXPECT_EQ(ret_addr, REG_IP(regs)) TH_LOG("after ret");
	/* The tracee's popf left TF set: clear it, then let it run. */
	REG_FL(regs) &= ~EFLAGS_TF;
	ASSERT_EQ(0, ptrace(PTRACE_SETREGS, pid, NULL, &regs));
	ASSERT_EQ(0, ptrace(PTRACE_DETACH, pid, NULL, NULL));
	EXPECT_PROBE(xo_wait_child(pid, 0));
}

/* ---------------- signals ---------------- */

static volatile uint32_t handler_flag;

TEST(signal_handler_in_xo)
{
	uint8_t *p = mmap(NULL, XO_PAGE, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	struct sigaction sa = { 0 };
	uint8_t *c = p;
	uintptr_t flag = (uintptr_t)&handler_flag;

	ASSERT_NE(MAP_FAILED, p);
	/* movabs/mov $&handler_flag, %rax/%eax; movl $MAGIC, (%rax); ret */
#ifdef __x86_64__
	*c++ = 0x48;
#endif
	*c++ = 0xb8;
	memcpy(c, &flag, sizeof(flag));
	c += sizeof(flag);
	*c++ = 0xc7;
	*c++ = 0x00;
	*(uint32_t *)c = MAGIC;
	c += 4;
	*c++ = 0xc3;
	ASSERT_EQ(0, mprotect(p, XO_PAGE, PROT_EXEC));
	sa.sa_handler = (void (*)(int))p;
	ASSERT_EQ(0, sigaction(SIGUSR1, &sa, NULL));
	ASSERT_EQ(0, raise(SIGUSR1));
	EXPECT_EQ(MAGIC, handler_flag);
	handler_flag = 0;
	ASSERT_EQ(0, raise(SIGUSR1));
	EXPECT_EQ(MAGIC, handler_flag);
	EXPECT_PROBE(xo_check_noread(p + 1));
}

extern char xo_uc_load_insn[], xo_uc_load_done[];

static uint8_t __attribute__((noinline, noclone)) uc_load(const void *p)
{
	uint8_t v = 0;

	asm volatile(".globl xo_uc_load_insn\nxo_uc_load_insn:\n\t"
		     "movb (%1), %0\n\t"
		     ".globl xo_uc_load_done\nxo_uc_load_done:\n\t"
		     : "+q"(v) : "r"(p) : "memory");
	return v;
}

static volatile int uc_faults;
static volatile int uc_codes[4];
static volatile int uc_pkru_cleared;

static void uc_handler(int sig, siginfo_t *si, void *ctx)
{
	ucontext_t *uc = ctx;
	int n = uc_faults++;

	if (n < 4)
		uc_codes[n] = si->si_code;
#ifdef __x86_64__
	if (n == 0 && uc->uc_mcontext.fpregs) {
		/* Grant every pkey in the PKRU the kernel will restore. */
		uint8_t *fx = (uint8_t *)uc->uc_mcontext.fpregs;
		uint32_t magic1, xfeatures, eax, ebx, ecx, edx;

		memcpy(&magic1, fx + 464, 4);
		memcpy(&xfeatures, fx + 472, 4);
		if (magic1 == 0x46505853 && (xfeatures & (1u << 9))) {
			uint64_t bv;

			asm volatile("cpuid" : "=a"(eax), "=b"(ebx), "=c"(ecx), "=d"(edx)
				     : "a"(0xd), "c"(9));
			memset(fx + ebx, 0, 4);
			memcpy(&bv, fx + 512, 8);
			bv |= 1u << 9;
			memcpy(fx + 512, &bv, 8);
			uc_pkru_cleared = 1;
		}
	}
#endif
	/* Also set RF (AC would turn misaligned accesses into SIGBUS). */
	if (n == 0) {
		uc->uc_mcontext.gregs[REG_EFL] |= 1 << 16;
		return;	/* retry the load */
	}
#ifdef __x86_64__
	uc->uc_mcontext.gregs[REG_RIP] = (greg_t)xo_uc_load_done;
#else
	uc->uc_mcontext.gregs[REG_EIP] = (greg_t)xo_uc_load_done;
#endif
}

TEST(handler_cannot_unprotect_via_ucontext)
{
	uint8_t *p = xo_map_code(1, PROT_EXEC, MAGIC);
	struct sigaction sa = { .sa_sigaction = uc_handler, .sa_flags = SA_SIGINFO };

	TEST_REQUIRE_XO();
	ASSERT_NE(NULL, p);
	ASSERT_EQ(0, sigaction(SIGSEGV, &sa, NULL));
	xo_handlers_installed = 0;
	uc_load(p + 5);
	/* First fault, retried after the edits, must fault again. */
	EXPECT_EQ(2, uc_faults) TH_LOG("faults: %d", uc_faults);
	EXPECT_EQ(SEGV_ACCERR, uc_codes[0]);
	EXPECT_EQ(SEGV_ACCERR, uc_codes[1]);
	TH_LOG("PKRU in the signal frame %s", uc_pkru_cleared ? "cleared" : "absent");
}

/* ---------------- the kernel reading the code that faulted ---------------- */

/* Write val to a /proc/sys file, keeping its old value in old (n bytes). */
static int sysctl_swap(const char *path, const char *val, char *old, size_t n)
{
	int fd = open(path, O_RDWR);
	ssize_t r;

	if (fd < 0)
		return -1;
	r = read(fd, old, n - 1);
	old[r > 0 ? r : 0] = 0;
	r = r > 0 ? pwrite(fd, val, strlen(val), 0) : -1;
	close(fd);
	return r > 0 ? 0 : -1;
}

/* The text of the next /dev/kmsg record, NULL when there is none. */
static const char *kmsg_next(int fd, char *buf, size_t n)
{
	ssize_t r;
	char *t;

	/* EPIPE: records were overwritten; the read goes on after them. */
	do
		r = read(fd, buf, n - 1);
	while (r < 0 && errno == EPIPE);
	if (r <= 0)
		return NULL;
	buf[r] = 0;
	t = strchr(buf, ';');
	if (!t)
		return "";
	t++;
	t[strcspn(t, "\n")] = 0;
	return t;
}

/*
 * A process without a SIGSEGV handler crashes in XO code: the kernel logs
 * it (show_signal_msg()) with show_opcodes(), which copies the code around
 * the IP from user memory. It must not read XO code; stock prints it.
 */
TEST(show_opcodes_on_xo_page)
{
	/* xor %eax,%eax; mov (%rax|%eax),%eax; ret: a load of NULL. */
	static const uint8_t crash[] = { 0x31, 0xc0, 0x8b, 0x00, 0xc3 };
	/* show_opcodes() dumps ip - 42 .. ip + 21: all inside the page. */
	const size_t off = 0x100, ip_off = off + 2;
	char tag[64], buf[1024], code_line[512] = "", want[512], *w = want;
	char old_trace[16], old_rate[16];
	unsigned long long seg_ip = 0;
	uint8_t page[XO_PAGE];
	struct xo_access a;
	struct xo_fault f;
	const char *t, *child_death = NULL;
	int kmsg, seg = 0, i;
	uint8_t *p;
	pid_t pid;

	xo_fill_page(page, MAGIC);
	memcpy(page + off, crash, sizeof(crash));
	p = mmap(NULL, XO_PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, p);
	memcpy(p, page, XO_PAGE);
	ASSERT_EQ(0, mprotect(p, XO_PAGE, PROT_EXEC));
	/* The crash, caught: the same fault in every mode. */
	a.src = p + off;
	EXPECT_PROBE(xo_expect_fault(xo_try(xo_do_call, &a, &f), &f, SEGV_MAPERR, NULL));

	kmsg = open("/dev/kmsg", O_RDONLY | O_NONBLOCK);
	if (kmsg < 0)
		SKIP(return, "/dev/kmsg: %s", strerror(errno));
	lseek(kmsg, 0, SEEK_END);
	if (sysctl_swap("/proc/sys/debug/exception-trace", "1", old_trace, sizeof(old_trace)))
		SKIP(return, "cannot set /proc/sys/debug/exception-trace: %s", strerror(errno));
	/* printk_ratelimit 0: the segfault report is never suppressed. */
	if (sysctl_swap("/proc/sys/kernel/printk_ratelimit", "0", old_rate, sizeof(old_rate)))
		old_rate[0] = 0;
	pid = fork();
	if (pid == 0) {
		signal(SIGSEGV, SIG_DFL);
		((void (*)(void))(p + off))();
		_exit(0);
	}
	if (pid > 0)
		child_death = xo_wait_child(pid, SIGSEGV);
	sysctl_swap("/proc/sys/debug/exception-trace", old_trace, buf, sizeof(buf));
	if (old_rate[0])
		sysctl_swap("/proc/sys/kernel/printk_ratelimit", old_rate, buf, sizeof(buf));
	ASSERT_LT(0, pid);
	ASSERT_PROBE(child_death);

	snprintf(tag, sizeof(tag), "[%d]: segfault at 0 ip ", pid);
	while ((t = kmsg_next(kmsg, buf, sizeof(buf)))) {
		const char *s = strstr(t, tag);

		if (!seg && s) {
			seg = 1;
			seg_ip = strtoull(s + strlen(tag), NULL, 16);
		} else if (seg && !strncmp(t, "Code: ", 6)) {
			snprintf(code_line, sizeof(code_line), "%s", t);
			break;
		}
	}
	close(kmsg);
	ASSERT_TRUE(seg) TH_LOG("no \"%s\" in /dev/kmsg", tag);
	EXPECT_EQ((uintptr_t)(p + ip_off), seg_ip);
	if (xo_mech == XO_MECH_READABLE) {
		w += sprintf(w, "Code:");
		for (i = 0; i < 64; i++)
			w += sprintf(w, i == 42 ? " <%02x>" : " %02x", page[ip_off - 42 + i]);
	} else {
		sprintf(want, "Code: Unable to access opcode bytes at 0x%lx.",
			(unsigned long)(uintptr_t)(p + ip_off - 42));
	}
	EXPECT_STREQ(want, code_line);
}

struct umip_call {
	void (*fn)(void *buf);
	uint8_t buf[16];
};

static void umip_do_call(void *arg)
{
	struct umip_call *c = arg;

	c->fn(c->buf);
}

/*
 * With UMIP, sgdt in user mode raises #GP and the kernel emulates it:
 * fixup_umip_exception() fetches the instruction with copy_from_user(),
 * which XO refuses, so the task gets the #GP's SIGSEGV instead.
 */
TEST(umip_sgdt_from_xo)
{
#ifdef __x86_64__
	/* sgdt (%rdi); ret */
	static const uint8_t code[] = { 0x0f, 0x01, 0x07, 0xc3 };
	const uint64_t base = 0xfffffffffffe0000ULL;	/* UMIP_DUMMY_GDT_BASE */
#else
	/* mov 4(%esp),%eax; sgdt (%eax); ret */
	static const uint8_t code[] = { 0x8b, 0x44, 0x24, 0x04, 0x0f, 0x01, 0x00, 0xc3 };
	const uint32_t base = 0xfffe0000;		/* its low 32 bits */
#endif
	/* Limit 0, then the base. */
	uint8_t want[16];
	struct umip_call c;
	struct xo_fault f;
	uint8_t *rx, *x;
	int res;

	if (!xo_cpuinfo_has("umip"))
		SKIP(return, "no umip in /proc/cpuinfo: sgdt is not emulated here");
	memset(want, 0x55, sizeof(want));
	memset(want, 0, 2);
	memcpy(want + 2, &base, sizeof(base));
	rx = mmap(NULL, 2 * XO_PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, rx);
	x = rx + XO_PAGE;
	memcpy(rx, code, sizeof(code));
	memcpy(x, code, sizeof(code));
	ASSERT_EQ(0, mprotect(rx, XO_PAGE, PROT_READ | PROT_EXEC));
	ASSERT_EQ(0, mprotect(x, XO_PAGE, PROT_EXEC));

	/* From a readable page the kernel emulates it. */
	c.fn = (void (*)(void *))rx;
	memset(c.buf, 0x55, sizeof(c.buf));
	res = xo_try(umip_do_call, &c, &f);
	ASSERT_EQ(0, res) TH_LOG("sgdt from r-x: signal %d si_code %#x si_addr %p",
				 f.sig, f.code, f.addr);
	EXPECT_EQ(0, memcmp(want, c.buf, sizeof(want))) TH_LOG("sgdt from r-x: not the dummy GDT");

	c.fn = (void (*)(void *))x;
	memset(c.buf, 0x55, sizeof(c.buf));
	res = xo_try(umip_do_call, &c, &f);
	if (xo_mech == XO_MECH_READABLE) {
		ASSERT_EQ(0, res) TH_LOG("sgdt from --x: signal %d si_code %#x si_addr %p",
					 f.sig, f.code, f.addr);
		EXPECT_EQ(0, memcmp(want, c.buf, sizeof(want)));
	} else {
		/* gp_user_force_sig_segv(): force_sig(), no address. */
		EXPECT_PROBE(xo_expect_signal(res, &f, SIGSEGV, SI_KERNEL, NULL));
		EXPECT_EQ(0x55, c.buf[0]) TH_LOG("sgdt from --x stored a result");
	}
	EXPECT_PROBE(xo_check_noread(x));
}

/* ---------------- where the feature came from ---------------- */

/*
 * exec_only must come from KVM_FEATURE_EXEC_ONLY in KVM's CPUID leaves,
 * which the guest finds by searching every 0x100 leaves from 0x40000000
 * for KVM's signature: behind Hyper-V they sit at 0x40000100.
 */
TEST(kvm_feature_in_kvm_leaves)
{
	unsigned int eax, ebx, ecx, edx, base, found = 0;
	char sig[13] = "";

	__cpuid(1, eax, ebx, ecx, edx);
	if (ecx & (1u << 31)) {
		for (base = 0x40000000; base < 0x40010000 && !found; base += 0x100) {
			__cpuid(base, eax, ebx, ecx, edx);
			memcpy(sig, &ebx, 4);
			memcpy(sig + 4, &ecx, 4);
			memcpy(sig + 8, &edx, 4);
			if (!memcmp(sig, "KVMKVMKVM\0\0\0", 12))
				found = base;
		}
	}
	if (found) {
		__cpuid(found + 1, eax, ebx, ecx, edx);
		ksft_print_msg("KVM CPUID leaves at %#x, KVM_FEATURE_EXEC_ONLY %s\n", found,
			       eax & (1u << KVM_FEATURE_EXEC_ONLY) ? "offered" : "not offered");
	} else {
		ksft_print_msg("no KVM CPUID leaves\n");
	}
	if (xo_mech != XO_MECH_NR)
		SKIP(return, "%s: nothing to check", xo_off_reason());
	ASSERT_NE(0, found) TH_LOG("exec_only without KVM's CPUID leaves");
	EXPECT_TRUE(eax & (1u << KVM_FEATURE_EXEC_ONLY))
		TH_LOG("exec_only, but KVM_FEATURE_EXEC_ONLY not offered at %#x", found + 1);
}

int main(int argc, char **argv)
{
	if (argc > 1 && !strcmp(argv[1], "--exec-child"))
		return exec_child_main();
	return test_harness_run(argc, argv);
}
