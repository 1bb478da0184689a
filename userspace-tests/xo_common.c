// SPDX-License-Identifier: GPL-2.0
/*
 * Helpers shared by the execute-only (XO) conformance tests: what each
 * mechanism (xo_mech) makes of an access, the probes that check it, and
 * the child processes of the checks. Declared, and described, in
 * xo_common.h; linked into every program of the suite, 64- and 32-bit.
 */
#include "xo_common.h"

enum xo_mech xo_mech = XO_MECH_UNKNOWN;
int xo_exec_only_advertised;
int xo_forced;

static __thread sigjmp_buf xo_jmp;
static __thread volatile int xo_armed;
static __thread struct xo_fault xo_seen;
static __thread char xo_msg[512];
int xo_handlers_installed;

const char *xo_fmt(const char *fmt, ...)
{
	char buf[sizeof(xo_msg)];
	va_list ap;

	/* Arguments may point into xo_msg itself (messages get prefixed). */
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	memcpy(xo_msg, buf, sizeof(xo_msg));
	return xo_msg;
}

static void xo_fault_handler(int sig, siginfo_t *si, void *uc)
{
	if (!xo_armed) {
		/* Not ours: die of it, the harness reports the signal. */
		signal(sig, SIG_DFL);
		xo_handlers_installed = 0;
		return;
	}
	xo_seen.sig = sig;
	xo_seen.code = si->si_code;
	xo_seen.addr = si->si_addr;
	xo_seen.pkey = sig == SIGSEGV && si->si_code == SEGV_PKUERR ? (int)si->si_pkey : -1;
	xo_armed = 0;
	siglongjmp(xo_jmp, 1);
}

static void xo_install_handlers(void)
{
	struct sigaction sa = {
		.sa_sigaction = xo_fault_handler,
		.sa_flags = SA_SIGINFO | SA_NODEFER,
	};

	if (xo_handlers_installed)
		return;
	xo_handlers_installed = 1;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGSEGV, &sa, NULL);
	sigaction(SIGBUS, &sa, NULL);
	sigaction(SIGILL, &sa, NULL);
	sigaction(SIGTRAP, &sa, NULL);
}

int __attribute__((noinline))
xo_try(void (*fn)(void *), void *arg, struct xo_fault *f)
{
	xo_install_handlers();
	if (sigsetjmp(xo_jmp, 1)) {
		*f = xo_seen;
		return -1;
	}
	xo_armed = 1;
	fn(arg);
	xo_armed = 0;
	memset(f, 0, sizeof(*f));
	return 0;
}

static const char *xo_code_name(int code)
{
	switch (code) {
	case SEGV_MAPERR: return "SEGV_MAPERR";
	case SEGV_ACCERR: return "SEGV_ACCERR";
	case SEGV_PKUERR: return "SEGV_PKUERR";
	default: return "si_code?";
	}
}

const char *xo_expect_fault(int res, const struct xo_fault *f,
			    int code, const void *addr)
{
	if (res == 0)
		return xo_fmt("access at %p completed, expected SIGSEGV %s",
			      addr, code ? xo_code_name(code) : "ACCERR/PKUERR");
	if (f->sig != SIGSEGV)
		return xo_fmt("signal %d (si_code %d) at %p, expected SIGSEGV",
			      f->sig, f->code, f->addr);
	if (code && f->code != code)
		return xo_fmt("SIGSEGV %s (%d), expected %s at %p",
			      xo_code_name(f->code), f->code,
			      xo_code_name(code), addr);
	if (!code && f->code != SEGV_ACCERR && f->code != SEGV_PKUERR)
		return xo_fmt("SIGSEGV %s (%d), expected ACCERR or PKUERR",
			      xo_code_name(f->code), f->code);
	if (f->addr != addr)
		return xo_fmt("SIGSEGV %s si_addr %p, expected %p",
			      xo_code_name(f->code), f->addr, addr);
	return NULL;
}

const char *xo_expect_signal(int res, const struct xo_fault *f, int sig,
			     int code, const void *addr)
{
	if (res == 0)
		return xo_fmt("completed, expected signal %d si_code %#x si_addr %p",
			      sig, code, addr);
	if (f->sig != sig || f->code != code || f->addr != addr)
		return xo_fmt("signal %d si_code %#x si_addr %p, expected signal %d si_code %#x si_addr %p",
			      f->sig, f->code, f->addr, sig, code, addr);
	return NULL;
}

/* ---- the accesses ---- */

void xo_do_load(void *arg)
{
	struct xo_access *a = arg;
	const void *p = a->src;

	switch (a->size) {
	case 1:
		a->val = *(const volatile uint8_t *)p;
		break;
	case 2:
		a->val = *(const volatile uint16_t *)p;
		break;
	case 4:
		a->val = *(const volatile uint32_t *)p;
		break;
	default:
#ifdef __x86_64__
		asm volatile("movq (%1), %0" : "=r"(a->val) : "r"(p) : "memory");
#else
		/* One 8-byte access, not two 4-byte ones. */
		asm volatile("movq (%1), %%xmm0\n\tmovq %%xmm0, %0"
			     : "=m"(a->val) : "r"(p) : "xmm0", "memory");
#endif
		break;
	}
}

void xo_do_store(void *arg)
{
	struct xo_access *a = arg;

	*(volatile uint8_t *)a->dst = (uint8_t)a->val;
}

void xo_do_movsb(void *arg)
{
	struct xo_access *a = arg;
	const void *s = a->src;
	void *d = a->dst;
	size_t n = a->size;

	asm volatile("rep movsb" : "+D"(d), "+S"(s), "+c"(n) : : "memory");
}

void xo_do_movdqu(void *arg)
{
	struct xo_access *a = arg;

	asm volatile("movdqu (%1), %%xmm0\n\tmovdqu %%xmm0, (%0)"
		     : : "r"(a->dst), "r"(a->src) : "xmm0", "memory");
}

void xo_do_vmovdqu(void *arg)
{
	struct xo_access *a = arg;

	asm volatile("vmovdqu (%1), %%ymm0\n\tvmovdqu %%ymm0, (%0)\n\tvzeroupper"
		     : : "r"(a->dst), "r"(a->src) : "xmm0", "memory");
}

void xo_do_call(void *arg)
{
	struct xo_access *a = arg;
	uint32_t (*fn)(void) = (uint32_t (*)(void))a->src;

	a->val = fn();
}

/* ---- code placed in pages under test ---- */

void xo_emit_ret_imm(void *dst, uint32_t val)
{
	uint8_t *p = dst;

	p[0] = 0xb8;
	memcpy(p + 1, &val, 4);
	p[5] = 0xc3;
}

void xo_fill_page(void *page, uint32_t magic)
{
	uint8_t *p = page;
	size_t i;

	for (i = 0; i < XO_PAGE; i++)
		p[i] = (uint8_t)(i * 7 + magic);
	xo_emit_ret_imm(p, magic);
}

/* ---- mechanism detection ---- */

int xo_cpuinfo_has(const char *flag)
{
	char line[8192];
	FILE *f = fopen("/proc/cpuinfo", "r");
	int found = 0;

	if (!f)
		return 0;
	while (!found && fgets(line, sizeof(line), f)) {
		char *tok, *save;

		if (strncmp(line, "flags", 5))
			continue;
		for (tok = strtok_r(line, " \t\n:", &save); tok;
		     tok = strtok_r(NULL, " \t\n:", &save))
			if (!strcmp(tok, flag))
				found = 1;
	}
	fclose(f);
	return found;
}

/* Probe in a child so the tests' own mm stays pristine (no pkey taken). */
static enum xo_mech xo_probe_mech(void)
{
	int status;
	pid_t pid = fork();

	if (pid == 0) {
		struct xo_access a;
		struct xo_fault f;
		void *p = mmap(NULL, XO_PAGE, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

		if (p == MAP_FAILED)
			_exit(10);
		xo_fill_page(p, 0x1234);
		if (mprotect(p, XO_PAGE, PROT_EXEC))
			_exit(10);
		a.src = p;
		a.size = 1;
		if (xo_try(xo_do_load, &a, &f) == 0)
			_exit(XO_MECH_READABLE);
		if (f.sig == SIGSEGV && f.code == SEGV_PKUERR)
			_exit(XO_MECH_PKEY);
		_exit(XO_MECH_UNKNOWN);
	}
	if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
		return XO_MECH_UNKNOWN;
	return WEXITSTATUS(status) <= XO_MECH_UNKNOWN ?
		(enum xo_mech)WEXITSTATUS(status) : XO_MECH_UNKNOWN;
}

static void __attribute__((constructor)) xo_detect(void)
{
	const char *force = getenv("XO_TEST_EXPECT_XO");
	enum xo_mech probed = xo_probe_mech();

	xo_exec_only_advertised = xo_cpuinfo_has("exec_only");
	xo_forced = force && !strcmp(force, "1");
	if (xo_exec_only_advertised || xo_forced)
		xo_mech = XO_MECH_NR;
	else
		xo_mech = probed;
	if (getenv("XO_TEST_QUIET"))
		return;
	printf("# xo: exec_only %s%s; PROT_EXEC-only memory here: %s\n",
	       xo_exec_only_advertised ? "advertised" : "not advertised",
	       xo_forced ? " (XO_TEST_EXPECT_XO=1: expecting XO anyway)" : "",
	       probed == XO_MECH_READABLE ? "readable" :
	       probed == XO_MECH_PKEY ? "pkey execute-only (SEGV_PKUERR)" :
	       "unreadable (SEGV_ACCERR)");
}

const char *xo_off_reason(void)
{
	switch (xo_mech) {
	case XO_MECH_PKEY:
		return "XO off (no exec_only in /proc/cpuinfo): kernel uses pkey execute-only";
	case XO_MECH_READABLE:
		return "XO off (no exec_only in /proc/cpuinfo): PROT_EXEC-only memory is readable";
	default:
		return "XO off (no exec_only in /proc/cpuinfo), yet PROT_EXEC-only reads fault with SEGV_ACCERR";
	}
}

/* ---- probes with the expectation of the current mechanism ---- */

const char *xo_check_load_sized(void (*fn)(void *), const void *p,
				size_t size, const void *fault_addr,
				const void *want)
{
	uint8_t buf[64] __attribute__((aligned(32)));
	struct xo_access a = { .src = p, .dst = buf, .size = size };
	struct xo_fault f;
	int res = xo_try(fn, &a, &f);

	switch (xo_mech) {
	case XO_MECH_NR:
	case XO_MECH_UNKNOWN:
		return xo_expect_fault(res, &f, SEGV_ACCERR, fault_addr);
	case XO_MECH_PKEY:
		return xo_expect_fault(res, &f, SEGV_PKUERR, fault_addr);
	case XO_MECH_READABLE:
		if (res)
			return xo_fmt("stock kernel: read at %p faulted (signal %d %s addr %p), expected readable",
				      p, f.sig, xo_code_name(f.code), f.addr);
		if (want && fn == xo_do_load && memcmp(&a.val, want, size))
			return xo_fmt("stock kernel: read at %p gave wrong bytes", p);
		if (want && fn != xo_do_load && memcmp(buf, want, size))
			return xo_fmt("stock kernel: copy from %p gave wrong bytes", p);
		return NULL;
	}
	return "bad mechanism";
}

const char *xo_check_load(const void *p, size_t size, const void *fault_addr)
{
	return xo_check_load_sized(xo_do_load, p, size, fault_addr, p);
}

const char *xo_check_noread(const void *p)
{
	/* want = NULL: the bytes cannot be compared by reading them. */
	return xo_check_load_sized(xo_do_load, p, 1, p, NULL);
}

const char *xo_check_readable(const void *p, const void *want, size_t n)
{
	struct xo_access a = { .src = p, .size = 1 };
	struct xo_fault f;
	size_t i;

	for (i = 0; i < n; i++) {
		a.src = (const uint8_t *)p + i;
		if (xo_try(xo_do_load, &a, &f))
			return xo_fmt("read at %p faulted: signal %d %s si_addr %p",
				      a.src, f.sig, xo_code_name(f.code), f.addr);
		if (want && (uint8_t)a.val != ((const uint8_t *)want)[i])
			return xo_fmt("read at %p gave %#x, expected %#x", a.src,
				      (unsigned int)(uint8_t)a.val,
				      ((const uint8_t *)want)[i]);
	}
	return NULL;
}

const char *xo_check_store_faults(void *p)
{
	struct xo_access a = { .dst = p, .val = 0xcc };
	struct xo_fault f;
	int res = xo_try(xo_do_store, &a, &f);

	/* The pkey path may report either reason for a write. */
	return xo_expect_fault(res, &f, xo_mech == XO_MECH_PKEY ? 0 : SEGV_ACCERR, p);
}

const char *xo_check_store_ok(void *p, uint8_t v)
{
	struct xo_access a = { .dst = p, .val = v };
	struct xo_fault f;

	if (xo_try(xo_do_store, &a, &f))
		return xo_fmt("store at %p faulted: signal %d %s si_addr %p",
			      p, f.sig, xo_code_name(f.code), f.addr);
	return NULL;
}

const char *xo_check_call(void *code, uint32_t magic)
{
	struct xo_access a = { .src = code };
	struct xo_fault f;

	if (xo_try(xo_do_call, &a, &f))
		return xo_fmt("call %p faulted: signal %d %s si_addr %p",
			      code, f.sig, xo_code_name(f.code), f.addr);
	if ((uint32_t)a.val != magic)
		return xo_fmt("call %p returned %#x, expected %#x", code,
			      (uint32_t)a.val, magic);
	return NULL;
}

const char *xo_check_call_faults(void *code)
{
	struct xo_access a = { .src = code };
	struct xo_fault f;
	int res = xo_try(xo_do_call, &a, &f);

	return xo_expect_fault(res, &f, SEGV_ACCERR, code);
}

const char *xo_check_access_faults(void (*fn)(void *), void *p)
{
	struct xo_access a = { .src = p, .dst = p, .size = 1, .val = 1 };
	struct xo_fault f;
	int res = xo_try(fn, &a, &f);

	return xo_expect_fault(res, &f, SEGV_ACCERR, p);
}

const char *xo_check_prot(void *page, int prot, uint32_t magic)
{
	uint8_t want[XO_PAGE];
	const char *m;
	uint8_t *p = page;

	xo_fill_page(want, magic);
	m = (prot & PROT_EXEC) ? xo_check_call(page, magic) :
				 xo_check_call_faults(page);
	if (m)
		return xo_fmt("exec: %s", m);
	if (prot & (PROT_READ | PROT_WRITE))
		m = xo_check_readable(p + 100, want + 100, 64);
	else if (prot & PROT_EXEC)
		m = xo_check_load_sized(xo_do_load, p + 100, 4, p + 100, want + 100);
	else
		m = xo_check_access_faults(xo_do_load, p + 100);
	if (m)
		return xo_fmt("read: %s", m);
	if (prot & PROT_WRITE)
		m = xo_check_store_ok(p + 200, want[200]);
	else if (prot & PROT_EXEC)
		m = xo_check_store_faults(p + 200);
	else
		m = xo_check_access_faults(xo_do_store, p + 200);
	if (m)
		return xo_fmt("write: %s", m);
	return NULL;
}

/* ---- checks in a forked child ---- */

int xo_child_report(const char *what, const char *m)
{
	if (!m)
		return 0;
	fprintf(stderr, "# child: %s: %s\n", what, m);
	return 1;
}

const char *xo_wait_child(pid_t pid, int want_sig)
{
	char want[64];
	int status;

	if (want_sig)
		snprintf(want, sizeof(want), "death by signal %d (%s)",
			 want_sig, strsignal(want_sig));
	else
		snprintf(want, sizeof(want), "exit status 0");
	if (waitpid(pid, &status, 0) != pid)
		return xo_fmt("waitpid(%d): %s, expected %s", (int)pid, strerror(errno), want);
	if (WIFEXITED(status) && !want_sig && WEXITSTATUS(status) == 0)
		return NULL;
	if (WIFSIGNALED(status) && want_sig && WTERMSIG(status) == want_sig)
		return NULL;
	if (WIFEXITED(status))
		return xo_fmt("child status %#x: exit status %d, expected %s",
			      status, WEXITSTATUS(status), want);
	if (WIFSIGNALED(status))
		return xo_fmt("child status %#x: killed by signal %d (%s), expected %s",
			      status, WTERMSIG(status), strsignal(WTERMSIG(status)), want);
	return xo_fmt("child status %#x: stopped by signal %d, expected %s",
		      status, WSTOPSIG(status), want);
}

const char *xo_run_in_child(int (*fn)(void *), void *arg, int want_sig)
{
	pid_t pid = fork();

	if (pid < 0)
		return xo_fmt("fork: %s", strerror(errno));
	if (pid == 0)
		_exit(fn(arg));
	return xo_wait_child(pid, want_sig);
}

/* ---- mappings ---- */

void *xo_map_code(size_t pages, int prot, uint32_t magic)
{
	uint8_t *p = mmap(NULL, pages * XO_PAGE, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	size_t i;

	if (p == MAP_FAILED)
		return NULL;
	for (i = 0; i < pages; i++)
		xo_fill_page(p + i * XO_PAGE, magic + i);
	if (mprotect(p, pages * XO_PAGE, prot)) {
		munmap(p, pages * XO_PAGE);
		return NULL;
	}
	return p;
}

int xo_code_memfd(size_t pages, uint32_t magic)
{
	uint8_t page[XO_PAGE];
	int fd = syscall(SYS_memfd_create, "xo-code", MFD_CLOEXEC);
	size_t i;

	if (fd < 0)
		return -1;
	for (i = 0; i < pages; i++) {
		xo_fill_page(page, magic + i);
		if (write(fd, page, XO_PAGE) != (ssize_t)XO_PAGE) {
			close(fd);
			return -1;
		}
	}
	return fd;
}

int xo_pin_to_cpu(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set))
		return -1;
	return sched_getcpu() == cpu ? 0 : -1;
}

int xo_maps_perms(pid_t pid, const void *addr, char perms[5],
		  unsigned long *start, unsigned long *end)
{
	char path[64], line[512];
	FILE *f;
	int found = 0;

	snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		unsigned long s, e;
		char p[5];

		if (sscanf(line, "%lx-%lx %4s", &s, &e, p) != 3)
			continue;
		if ((unsigned long)addr >= s && (unsigned long)addr < e) {
			memcpy(perms, p, 5);
			if (start)
				*start = s;
			if (end)
				*end = e;
			found = 1;
			break;
		}
	}
	fclose(f);
	return found ? 0 : -1;
}
