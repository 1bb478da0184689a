/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers shared by the execute-only (XO) conformance tests; the code is
 * in xo_common.c, linked into every program.
 *
 * Every check asks the running kernel which mechanism, if any, makes
 * PROT_EXEC-only memory unreadable, and states what it expects from that:
 *
 *   XO_MECH_NR       exec_only in /proc/cpuinfo: the guest PTE's NR bit;
 *                    reads and writes fault with SEGV_ACCERR.
 *   XO_MECH_PKEY     stock kernel on a PKU CPU: the execute-only pkey;
 *                    reads fault with SEGV_PKUERR.
 *   XO_MECH_READABLE stock kernel without PKU: PROT_EXEC implies read.
 *   XO_MECH_UNKNOWN  reads fault with SEGV_ACCERR but exec_only is not
 *                    advertised: a kernel bug, the capability check fails.
 *
 * XO_TEST_EXPECT_XO=1 in the environment forces XO_MECH_NR. It exists only
 * to show, on a kernel without XO, that every XO check fails there.
 *
 * The probes return NULL when the expectation holds and a message saying
 * what happened otherwise, so they work in threads and forked children as
 * well as under the harness' ASSERT/EXPECT. A message lives in a buffer of
 * the calling thread until that thread's next message.
 */
#ifndef XO_COMMON_H
#define XO_COMMON_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#ifndef SEGV_PKUERR
#define SEGV_PKUERR 4
#endif
#ifndef MFD_CLOEXEC
#define MFD_CLOEXEC 1U
#endif

#define XO_PAGE 4096UL

enum xo_mech {
	XO_MECH_READABLE,
	XO_MECH_PKEY,
	XO_MECH_NR,
	XO_MECH_UNKNOWN,
};

/* Set before main() by a constructor in xo_common.c (probing in a child). */
extern enum xo_mech xo_mech;
extern int xo_exec_only_advertised;	/* exec_only in /proc/cpuinfo */
extern int xo_forced;			/* XO_TEST_EXPECT_XO=1 */
/*
 * xo_try() installs its handlers once per process; a check that replaces
 * them with its own sets this to 0 so that the next xo_try() reinstalls
 * them. A fault outside xo_try() restores the default action and clears
 * it: the program dies of the signal, and the harness reports it.
 */
extern int xo_handlers_installed;

/* Why an XO-only check skips: what PROT_EXEC-only memory does instead. */
const char *xo_off_reason(void);
/* flag is a word of a "flags" line of /proc/cpuinfo. */
int xo_cpuinfo_has(const char *flag);

/* A message in the calling thread's buffer (arguments may point into it). */
const char *xo_fmt(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* ---- faults ---- */

struct xo_fault {
	int sig;
	int code;
	void *addr;
	int pkey;	/* si_pkey of a SEGV_PKUERR fault, else -1 */
};

/* Run fn(arg); return 0 if it completed, -1 with *f filled if it faulted. */
int xo_try(void (*fn)(void *), void *arg, struct xo_fault *f);
/* res and f of xo_try(): a SIGSEGV with code (0: ACCERR or PKUERR) at addr. */
const char *xo_expect_fault(int res, const struct xo_fault *f,
			    int code, const void *addr);
/* Any fault: signal, si_code and si_addr exactly (SI_KERNEL: addr NULL). */
const char *xo_expect_signal(int res, const struct xo_fault *f, int sig,
			     int code, const void *addr);

/* ---- the accesses, for xo_try(fn, struct xo_access *, ...) ---- */

struct xo_access {
	const void *src;
	void *dst;
	size_t size;
	uint64_t val;
};

void xo_do_load(void *arg);	/* val = size (1, 2, 4, 8) bytes at src, one access */
void xo_do_store(void *arg);	/* the low byte of val to dst */
void xo_do_movsb(void *arg);	/* rep movsb of size bytes, src to dst */
void xo_do_movdqu(void *arg);	/* 16 bytes, src to dst, through %xmm0 */
void xo_do_vmovdqu(void *arg);	/* 32 bytes, src to dst, through %ymm0 (AVX) */
void xo_do_call(void *arg);	/* val = the return value of a call of src */

/* ---- code placed in pages under test ---- */

#define XO_RET_IMM_LEN 6
/* mov $val, %eax; ret -- the same bytes in 32- and 64-bit mode. */
void xo_emit_ret_imm(void *dst, uint32_t val);
/* Fill a page with recognizable data, with a function at its start. */
void xo_fill_page(void *page, uint32_t magic);

/*
 * For XO-only checks: skip, saying why, unless the NR mechanism is
 * expected (a TEST_REQUIRE* skips, as in the KVM selftests).
 */
#define TEST_REQUIRE_XO() do { \
	if (xo_mech != XO_MECH_NR) \
		SKIP(return, "%s", xo_off_reason()); \
} while (0)

/*
 * Check a probe result (NULL, or what went wrong) under the harness:
 * EXPECT_PROBE goes on after a failure, ASSERT_PROBE ends the test, as
 * the harness' EXPECT_* and ASSERT_* do.
 */
#define EXPECT_PROBE(expr) do { \
	const char *__m = (expr); \
	EXPECT_TRUE(!__m) TH_LOG("%s: %s", #expr, __m); \
} while (0)
#define ASSERT_PROBE(expr) do { \
	const char *__m = (expr); \
	ASSERT_TRUE(!__m) TH_LOG("%s: %s", #expr, __m); \
} while (0)

/* ---- probes with the expectation of the current mechanism ---- */

/*
 * A load (fn: xo_do_load, or a copy: xo_do_movsb, ...) of size bytes at p
 * from memory that includes PROT_EXEC-only bytes starting at fault_addr.
 * want: the bytes expected if readable (NULL: not compared).
 */
const char *xo_check_load_sized(void (*fn)(void *), const void *p,
				size_t size, const void *fault_addr,
				const void *want);
/* The same with xo_do_load, comparing with the bytes at p if readable. */
const char *xo_check_load(const void *p, size_t size, const void *fault_addr);
/* PROT_EXEC-only: a 1-byte load at p. */
const char *xo_check_noread(const void *p);
/* n 1-byte loads from p must work and give want (NULL: any bytes). */
const char *xo_check_readable(const void *p, const void *want, size_t n);
/* A store to memory without PROT_WRITE. */
const char *xo_check_store_faults(void *p);
/* A store of v at p must work. */
const char *xo_check_store_ok(void *p, uint8_t v);
/* A call of code must work and return magic. */
const char *xo_check_call(void *code, uint32_t magic);
/* A call of code must fault with SEGV_ACCERR at code. */
const char *xo_check_call_faults(void *code);
/* A 1-byte load or store at p must fault with SEGV_ACCERR (PROT_NONE). */
const char *xo_check_access_faults(void (*fn)(void *), void *p);
/*
 * All three access types on a page holding xo_fill_page(page, magic),
 * mapped with prot. Exec first, so a fresh mapping is first touched by it.
 */
const char *xo_check_prot(void *page, int prot, uint32_t magic);

/* ---- checks in a forked child ---- */

/*
 * The child's side: m (a probe result) on stderr as "# child: what: m";
 * 1 if there was one, else 0, to be or-ed into the child's exit status.
 */
int xo_child_report(const char *what, const char *m);
/*
 * Wait for the child pid: NULL when it exited with status 0 (want_sig 0)
 * or was killed by signal want_sig; else how it ended instead.
 */
const char *xo_wait_child(pid_t pid, int want_sig);
/*
 * fork(); the child runs fn(arg) and _exit()s with what it returns; then
 * xo_wait_child(). For a check whose parent has nothing to do meanwhile.
 */
const char *xo_run_in_child(int (*fn)(void *), void *arg, int want_sig);

/* ---- mappings ---- */

/* pages of xo_fill_page(magic + i), mapped private anonymous with prot. */
void *xo_map_code(size_t pages, int prot, uint32_t magic);
/* A memfd holding pages filled by xo_fill_page(magic + i). */
int xo_code_memfd(size_t pages, uint32_t magic);
/* Pin the calling thread to cpu; 0 when it now runs there. */
int xo_pin_to_cpu(int cpu);
/*
 * The permission string of the /proc/PID/maps line containing addr, and
 * its range if start and end are not NULL; -1 if there is none.
 */
int xo_maps_perms(pid_t pid, const void *addr, char perms[5],
		  unsigned long *start, unsigned long *end);

#endif /* XO_COMMON_H */
