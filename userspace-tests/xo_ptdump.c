// SPDX-License-Identifier: GPL-2.0
/*
 * xo-ptdump: which user page-table entries carry the XO (NR) bit, checked
 * against /proc/self/maps.
 *
 * debugfs' page_tables/current_user (or current_kernel without PTI) dumps
 * the page tables of the process reading it, so the tool builds a set of
 * mappings in its own address space, touches them, then reads both files:
 *
 *   every present entry of a --xp VMA carries NR, no other entry does.
 *
 *   xo-ptdump           TAP: the checks, one per mapping kind, plus the
 *                       whole address space; skips when XO is absent
 *   xo-ptdump --demo    human-readable: each VMA with its entries, NR marked
 *   xo-ptdump --list    only the NR ranges and their VMAs
 *   xo-ptdump --selftest the parser and cross-check on synthesized dumps
 *   xo-ptdump --run PROG [ARGS]  the same listing for PROG, read by PROG
 *                       itself at its first signal or at its exit
 */
#include "xo_common.h"

#include <ctype.h>
#include <limits.h>
#include "kselftest.h"

#define USER_TOP 0x800000000000UL

static const char *ptdump_path;

struct pt_range {
	unsigned long start, end;
	int present;
	int nr;
	char flags[96];
};

struct vma {
	unsigned long start, end;
	char perms[5];
	char name[128];
	const char *tag;	/* which scenario mapping, if any */
};

static struct pt_range ranges[8192];
static int nranges;
static struct vma vmas[1024];
static int nvmas;
static char dumpbuf[4 << 20];
static int any_nr_token;

static const char *find_ptdump(void)
{
	static const char * const paths[] = {
		"/sys/kernel/debug/page_tables/current_user",
		"/sys/kernel/debug/page_tables/current_kernel",
	};
	const char *override = getenv("XO_PTDUMP_PATH");
	size_t i;

	/* Only to exercise the tool where debugfs has no ptdump. */
	if (override)
		return override;
	for (i = 0; i < ARRAY_SIZE(paths); i++)
		if (access(paths[i], R_OK) == 0)
			return paths[i];
	return NULL;
}

static int read_maps_of(pid_t pid)
{
	char line[512], path[64];
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
	f = fopen(path, "r");

	if (!f)
		return -1;
	nvmas = 0;
	while (fgets(line, sizeof(line), f) && nvmas < (int)ARRAY_SIZE(vmas)) {
		struct vma *v = &vmas[nvmas];
		int pos = 0;

		memset(v, 0, sizeof(*v));
		if (sscanf(line, "%lx-%lx %4s %*s %*s %*s %n", &v->start, &v->end,
			   v->perms, &pos) < 3)
			continue;
		if (pos) {
			snprintf(v->name, sizeof(v->name), "%s", line + pos);
			v->name[strcspn(v->name, "\n")] = 0;
		}
		nvmas++;
	}
	fclose(f);
	return 0;
}

/* Parse "0x...-0x...   4K   USR ro  NX NR pte" lines of the user half. */
static void parse_ptdump(void)
{
	char *line, *save;
	int in_user = 1;

	nranges = 0;
	any_nr_token = 0;
	for (line = strtok_r(dumpbuf, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		struct pt_range *r = &ranges[nranges];
		char *tok, *tsave, *p;
		int fields = 0;

		if (!strncmp(line, "---[", 4)) {
			in_user = !!strstr(line, "User Space");
			continue;
		}
		if (!in_user || strncmp(line, "0x", 2) ||
		    nranges >= (int)ARRAY_SIZE(ranges))
			continue;
		memset(r, 0, sizeof(*r));
		if (sscanf(line, "0x%lx-0x%lx", &r->start, &r->end) != 2)
			continue;
		if (r->start >= USER_TOP)
			continue;
		/* Skip the range and the size; the rest are flag tokens. */
		p = strchr(line, ' ');
		for (tok = strtok_r(p, " \t", &tsave); tok;
		     tok = strtok_r(NULL, " \t", &tsave)) {
			if (fields++ == 0)
				continue;	/* size */
			if (!strcmp(tok, "USR") || !strcmp(tok, "ro") || !strcmp(tok, "RW"))
				r->present = 1;
			if (!strcmp(tok, "NR")) {
				r->nr = 1;
				any_nr_token = 1;
			}
			strncat(r->flags, tok, sizeof(r->flags) - strlen(r->flags) - 2);
			strcat(r->flags, " ");
		}
		nranges++;
	}
}

/* Read a whole dump into dumpbuf. */
static int load_dump(const char *path)
{
	int fd = open(path, O_RDONLY);
	size_t len = 0;
	ssize_t n;

	if (fd < 0)
		return -1;
	while ((n = read(fd, dumpbuf + len, sizeof(dumpbuf) - 1 - len)) > 0)
		len += n;
	close(fd);
	dumpbuf[len] = 0;
	return 0;
}

static int read_ptdump(void)
{
	if (load_dump(ptdump_path))
		return -1;
	parse_ptdump();
	return 0;
}

/*
 * Lines of a whole dump that carry the NR token, or -1 if it cannot be
 * read. Uses dumpbuf: call it before snapshot() refills it.
 */
static int count_nr_lines(const char *path)
{
	char *line, *save, *tok, *tsave;
	int count = 0;

	if (load_dump(path))
		return -1;
	for (line = strtok_r(dumpbuf, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save))
		for (tok = strtok_r(line, " \t", &tsave); tok;
		     tok = strtok_r(NULL, " \t", &tsave))
			if (!strcmp(tok, "NR")) {
				count++;
				break;
			}
	return count;
}

static int read_maps(void)
{
	return read_maps_of(getpid());
}

static int is_xo_vma(const struct vma *v)
{
	return v->perms[0] == '-' && v->perms[1] == '-' && v->perms[2] == 'x' &&
	       v->start < USER_TOP;
}

/* ---- the mappings under inspection ---- */

struct scenario {
	const char *tag;
	void *addr;
	size_t len;
	int expect_nr;		/* 1: present entries must carry NR */
	int need_present;	/* the kernel must have populated it */
};

static struct scenario scen[16];
static int nscen;

static void add_scen(const char *tag, void *addr, size_t len, int expect_nr,
		     int need_present)
{
	scen[nscen++] = (struct scenario){ tag, addr, len, expect_nr, need_present };
}

static void touch_exec(void *p, size_t len)
{
	size_t off;

	for (off = 0; off < len; off += XO_PAGE)
		((uint32_t (*)(void))((uint8_t *)p + off))();
}

static void touch_read(const void *p, size_t len)
{
	size_t off;

	for (off = 0; off < len; off += XO_PAGE)
		(void)*(const volatile uint8_t *)((const uint8_t *)p + off);
}

static int setup_scenario(void)
{
	uint8_t *p, *q, *thp;
	int fd;

	p = xo_map_code(4, PROT_EXEC, 0x1000);
	if (!p)
		return -1;
	touch_exec(p, 4 * XO_PAGE);
	add_scen("anon --x, executed", p, 4 * XO_PAGE, 1, 1);

	p = mmap(NULL, 2 * XO_PAGE, PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	add_scen("anon --x, never touched", p, 2 * XO_PAGE, 1, 0);

	fd = xo_code_memfd(2, 0x2000);
	p = mmap(NULL, 2 * XO_PAGE, PROT_EXEC, MAP_PRIVATE, fd, 0);
	touch_exec(p, 2 * XO_PAGE);
	add_scen("file --x private, executed", p, 2 * XO_PAGE, 1, 1);

	/* Same frames: RW alias readable, X alias XO. */
	q = mmap(NULL, 2 * XO_PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	p = mmap(NULL, 2 * XO_PAGE, PROT_EXEC, MAP_SHARED, fd, 0);
	touch_read(q, 2 * XO_PAGE);
	touch_exec(p, 2 * XO_PAGE);
	add_scen("memfd rw- shared alias", q, 2 * XO_PAGE, 0, 1);
	add_scen("memfd --x shared alias", p, 2 * XO_PAGE, 1, 1);

	p = xo_map_code(2, PROT_READ | PROT_EXEC, 0x3000);
	touch_exec(p, 2 * XO_PAGE);
	add_scen("anon r-x, executed", p, 2 * XO_PAGE, 0, 1);

	p = xo_map_code(2, PROT_READ | PROT_WRITE, 0x4000);
	add_scen("anon rw-, written", p, 2 * XO_PAGE, 0, 1);

	p = xo_map_code(2, PROT_WRITE | PROT_EXEC, 0x5000);
	touch_exec(p, 2 * XO_PAGE);
	add_scen("anon -wx, executed", p, 2 * XO_PAGE, 0, 1);

	/* RX | X | RX: only the middle VMA is XO. */
	p = xo_map_code(3, PROT_READ | PROT_EXEC, 0x6000);
	mprotect(p + XO_PAGE, XO_PAGE, PROT_EXEC);
	touch_exec(p, 3 * XO_PAGE);
	add_scen("split: r-x head", p, XO_PAGE, 0, 1);
	add_scen("split: --x middle", p + XO_PAGE, XO_PAGE, 1, 1);
	add_scen("split: r-x tail", p + 2 * XO_PAGE, XO_PAGE, 0, 1);

	/* A transparent huge page made XO: a 2M leaf entry. */
	thp = mmap(NULL, 4 << 20, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (thp != MAP_FAILED) {
		thp = (uint8_t *)(((uintptr_t)thp + (2 << 20) - 1) & ~((2UL << 20) - 1));
		madvise(thp, 2 << 20, MADV_HUGEPAGE);
		memset(thp, 0xc3, 2 << 20);	/* ret everywhere */
		mprotect(thp, 2 << 20, PROT_EXEC);
		touch_exec(thp, 2 << 20);
		add_scen("anon --x 2M (THP if available)", thp, 2 << 20, 1, 1);
	}
	return 0;
}

/* ---- the cross-check ---- */

static int vma_index(unsigned long addr)
{
	int i;

	for (i = 0; i < nvmas; i++)
		if (addr >= vmas[i].start && addr < vmas[i].end)
			return i;
	return -1;
}

/*
 * Walk every present entry range, split at VMA boundaries. Report each
 * violation through report(); return how many there were.
 */
static int cross_check(void (*report)(const char *fmt, ...), int *xo_present)
{
	int i, bad = 0;

	*xo_present = 0;
	for (i = 0; i < nranges; i++) {
		const struct pt_range *r = &ranges[i];
		unsigned long a = r->start;

		if (!r->present)
			continue;
		while (a < r->end) {
			int v = vma_index(a);
			unsigned long e = v >= 0 && vmas[v].end < r->end ? vmas[v].end : r->end;

			if (v < 0) {
				/* Present without a VMA: only NR would matter. */
				if (r->nr) {
					report("%#lx-%#lx: NR outside any VMA", a, e);
					bad++;
				}
				break;
			}
			if (is_xo_vma(&vmas[v])) {
				(*xo_present)++;
				if (!r->nr) {
					report("%#lx-%#lx in --xp VMA %lx-%lx %s: present without NR [%s]",
					       a, e, vmas[v].start, vmas[v].end,
					       vmas[v].name, r->flags);
					bad++;
				}
			} else if (r->nr) {
				report("%#lx-%#lx in %s VMA %lx-%lx %s: NR on a readable mapping [%s]",
				       a, e, vmas[v].perms, vmas[v].start, vmas[v].end,
				       vmas[v].name, r->flags);
				bad++;
			}
			a = e;
		}
	}
	return bad;
}

/* Present entries and NR entries inside [addr, addr + len). */
static void count_in(const void *addr, size_t len, unsigned long *present,
		     unsigned long *nr, char *levels, size_t levels_len)
{
	unsigned long s = (unsigned long)addr, e = s + len;
	int i;

	*present = *nr = 0;
	levels[0] = 0;
	for (i = 0; i < nranges; i++) {
		const struct pt_range *r = &ranges[i];
		unsigned long a = r->start > s ? r->start : s;
		unsigned long b = r->end < e ? r->end : e;
		const char *lvl;

		if (!r->present || a >= b)
			continue;
		*present += b - a;
		if (r->nr)
			*nr += b - a;
		/* The last flag token is the level name (pte, pmd, pud). */
		lvl = r->flags + strlen(r->flags);
		while (lvl > r->flags && lvl[-1] == ' ')
			lvl--;
		while (lvl > r->flags && lvl[-1] != ' ')
			lvl--;
		if (!strstr(levels, lvl))
			strncat(levels, lvl, levels_len - strlen(levels) - 1);
	}
}

static int snapshot(void)
{
	if (read_maps())
		return -1;
	return read_ptdump();
}

/* ---- TAP mode ---- */

static void tap_report(const char *fmt, ...)
{
	va_list ap;

	printf("# ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
}

static int tap_main(void)
{
	int i, bad, xo_present, kernel_nr;

	ksft_print_header();
	if (!ptdump_path) {
		ksft_set_plan(1);
		ksft_test_result_skip("xo_ptdump: no /sys/kernel/debug/page_tables/current_{user,kernel} (debugfs or CONFIG_PTDUMP_DEBUGFS missing)\n");
		ksft_print_cnts();
		exit(KSFT_SKIP);
	}
	/* The kernel's own mappings (page_tables/kernel) are never XO. */
	kernel_nr = count_nr_lines("/sys/kernel/debug/page_tables/kernel");
	if (setup_scenario() || snapshot())
		ksft_exit_fail_msg("setup failed: %s\n", strerror(errno));

	if (xo_mech != XO_MECH_NR) {
		/* Without XO no entry may carry NR. */
		ksft_set_plan(2);
		ksft_test_result(!any_nr_token, "no_nr_without_xo\n");
		ksft_test_result_skip("xo_ptdump: XO absent: %s\n", xo_off_reason());
		if (any_nr_token)
			ksft_exit_fail();
		/* Only the skip is news: report the run as skipped. */
		ksft_print_cnts();
		exit(KSFT_SKIP);
	}

	ksft_set_plan(nscen + 3);
	ksft_print_msg("ptdump source: %s\n", ptdump_path);
	for (i = 0; i < nscen; i++) {
		unsigned long present, nr;
		char levels[64], name[96];
		int ok;
		size_t j;

		count_in(scen[i].addr, scen[i].len, &present, &nr, levels, sizeof(levels));
		snprintf(name, sizeof(name), "%s", scen[i].tag);
		for (j = 0; name[j]; j++)
			if (!isalnum((unsigned char)name[j]))
				name[j] = '_';
		ksft_print_msg("%s: %lu bytes present, %lu with NR, levels: %s\n",
			       scen[i].tag, present, nr, levels[0] ? levels : "-");
		if (scen[i].expect_nr)
			ok = nr == present && (present || !scen[i].need_present);
		else
			ok = nr == 0 && (present || !scen[i].need_present);
		ksft_test_result(ok, "mapping_%s\n", name);
	}
	bad = cross_check(tap_report, &xo_present);
	ksft_test_result(bad == 0, "every_present_xp_entry_has_nr_and_no_other\n");
	ksft_test_result(xo_present > 0 && any_nr_token, "nr_entries_seen\n");
	if (kernel_nr)
		ksft_print_msg("page_tables/kernel: %s\n", kernel_nr < 0 ?
			       "cannot be read" : "NR on kernel mappings");
	ksft_test_result(kernel_nr == 0, "no_nr_in_kernel_dump\n");
	ksft_finished();
}

/*
 * --selftest: check the parser and the cross-check on dumps synthesized in
 * the kernel's format from this process's VMAs (no debugfs needed): a
 * correct one, then one with NR moved onto the wrong VMAs.
 */
static void synth_dump(const void *drop_nr, const void *add_nr)
{
	size_t len = 0;
	int i;

	len += sprintf(dumpbuf + len, "---[ User Space ]---\n");
	for (i = 0; i < nvmas; i++) {
		const struct vma *v = &vmas[i];
		int nr = is_xo_vma(v);

		if (v->start >= USER_TOP)
			continue;
		if (drop_nr && (unsigned long)drop_nr >= v->start &&
		    (unsigned long)drop_nr < v->end)
			nr = 0;
		if (add_nr && (unsigned long)add_nr >= v->start &&
		    (unsigned long)add_nr < v->end)
			nr = 1;
		len += sprintf(dumpbuf + len,
			       "0x%016lx-0x%016lx %9luK     USR %s                     %s %spte\n",
			       v->start, v->end, (v->end - v->start) >> 10,
			       v->perms[1] == 'w' ? "RW" : "ro",
			       v->perms[2] == 'x' ? "x " : "NX", nr ? "NR " : "");
	}
	len += sprintf(dumpbuf + len, "0x0000800000000000-0xffff800000000000   16777088T                               pgd\n");
	len += sprintf(dumpbuf + len, "---[ Kernel Space ]---\n0xffff800000000000-0xffff880000000000           8T     RW                 GLB NX NR pte\n");
	parse_ptdump();
}

static void quiet_report(const char *fmt, ...)
{
}

static int selftest_main(void)
{
	int bad, xo_present;
	void *xo_vma, *rw_vma;

	ksft_print_header();
	ksft_set_plan(3);
	if (setup_scenario() || read_maps())
		ksft_exit_fail_msg("setup failed\n");
	xo_vma = scen[0].addr;
	rw_vma = scen[3].addr;

	synth_dump(NULL, NULL);
	bad = cross_check(tap_report, &xo_present);
	ksft_test_result(bad == 0 && xo_present > 0 && nranges > nscen,
			 "synthetic_correct_dump_accepted\n");
	synth_dump(xo_vma, NULL);
	bad = cross_check(quiet_report, &xo_present);
	ksft_test_result(bad == 1, "synthetic_missing_nr_caught\n");
	synth_dump(NULL, rw_vma);
	bad = cross_check(quiet_report, &xo_present);
	ksft_test_result(bad == 1, "synthetic_nr_on_readable_caught\n");
	ksft_finished();
}

/* ---- human-readable modes ---- */

static void print_report(const char *fmt, ...)
{
	va_list ap;

	/* Without XO these are what the stock kernel does, not errors. */
	printf(xo_mech == XO_MECH_NR ? "  !! " : "  (no XO) ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
}

static const char *scen_tag(const struct vma *v)
{
	int i;

	for (i = 0; i < nscen; i++) {
		unsigned long s = (unsigned long)scen[i].addr;

		if (s >= v->start && s < v->end)
			return scen[i].tag;
	}
	return NULL;
}

/* Each VMA and its present entries; then the verdict as an exit status. */
static int print_listing(int list_only, const char *who, int synthetic)
{
	int i, j, bad, xo_present;

	printf("page tables: %s; VMAs: %s\n\n", ptdump_path, who);
	for (i = 0; i < nvmas; i++) {
		const struct vma *v = &vmas[i];
		const char *tag = scen_tag(v);
		int has_nr = 0;

		if (v->start >= USER_TOP)
			continue;
		for (j = 0; j < nranges; j++)
			if (ranges[j].present && ranges[j].nr &&
			    ranges[j].start < v->end && ranges[j].end > v->start)
				has_nr = 1;
		if (list_only && !has_nr && !is_xo_vma(v))
			continue;
		printf("%012lx-%012lx %s %-6s %s%s%s\n", v->start, v->end, v->perms,
		       is_xo_vma(v) ? "XO" : "", v->name,
		       tag ? "  <- " : "", tag ? tag : "");
		for (j = 0; j < nranges; j++) {
			const struct pt_range *r = &ranges[j];
			unsigned long a, b;

			if (!r->present || r->start >= v->end || r->end <= v->start)
				continue;
			a = r->start > v->start ? r->start : v->start;
			b = r->end < v->end ? r->end : v->end;
			printf("    %012lx-%012lx %6luK  %-36s %s\n", a, b, (b - a) >> 10,
			       r->flags, r->nr ? "<- NR" : "");
		}
	}
	printf("\n");
	bad = cross_check(print_report, &xo_present);
	if (xo_mech != XO_MECH_NR && !synthetic) {
		printf("XO absent (%s); NR tokens %s\n", xo_off_reason(),
		       any_nr_token ? "PRESENT (wrong)" : "absent");
		return any_nr_token ? KSFT_FAIL : KSFT_SKIP;
	}
	printf("%s: %d violation(s); %s present in --xp VMAs\n",
	       bad ? "MISMATCH" : "OK: every present --xp entry has NR, no other entry has",
	       bad, xo_present ? "entries" : "NO entries");
	return bad || !xo_present ? KSFT_FAIL : KSFT_PASS;
}

static void print_mode(void)
{
	printf("xo-ptdump: exec_only %s, XO mechanism expected: %s\n",
	       xo_exec_only_advertised ? "advertised" : "NOT advertised",
	       xo_mech == XO_MECH_NR ? "NR bit" : xo_off_reason());
}

static int demo_main(int list_only, int synthetic)
{
	char who[64];

	print_mode();
	if (synthetic) {
		/* Show the output format without debugfs: a made-up dump. */
		ptdump_path = "SYNTHETIC dump (--demo-synthetic), not the kernel's";
		if (setup_scenario() || read_maps())
			return KSFT_FAIL;
		synth_dump(NULL, NULL);
	} else if (!ptdump_path) {
		printf("no page_tables in debugfs: mount debugfs and enable CONFIG_PTDUMP_DEBUGFS\n");
		return KSFT_SKIP;
	} else if (setup_scenario() || snapshot()) {
		perror("setup");
		return KSFT_FAIL;
	}
	snprintf(who, sizeof(who), "/proc/self/maps (pid %d)", getpid());
	return print_listing(list_only, who, synthetic);
}

/*
 * --run PROG [ARGS]: the dump must be read by PROG itself, so PROG runs
 * under ptrace and, at its first signal (a fault, say) or at its
 * exit_group(), is made to open and read the ptdump file: syscalls
 * injected at a syscall instruction found in its executable mappings, path
 * and buffer below its stack pointer. x86-64 tracees only.
 */
#include <sys/ptrace.h>
#include <sys/user.h>

static unsigned long find_syscall_insn(pid_t pid, int memfd)
{
	static uint8_t text[1 << 16];
	int i;

	for (i = 0; i < nvmas; i++) {
		unsigned long a;

		if (vmas[i].perms[2] != 'x' || vmas[i].perms[0] != 'r')
			continue;
		for (a = vmas[i].start; a < vmas[i].end; a += sizeof(text)) {
			size_t len = vmas[i].end - a < sizeof(text) ?
				     vmas[i].end - a : sizeof(text);
			ssize_t n = pread(memfd, text, len, (off_t)a);
			ssize_t k;

			for (k = 0; k + 1 < n; k++)
				if (text[k] == 0x0f && text[k + 1] == 0x05)
					return a + k;
		}
	}
	return 0;
}

static long inject(pid_t pid, const struct user_regs_struct *base, unsigned long insn,
		   long nr, long a1, long a2, long a3)
{
	struct user_regs_struct r = *base;
	int status;

	r.rip = insn;
	r.rax = nr;
	r.orig_rax = -1;
	r.rdi = a1;
	r.rsi = a2;
	r.rdx = a3;
	if (ptrace(PTRACE_SETREGS, pid, NULL, &r) ||
	    ptrace(PTRACE_SINGLESTEP, pid, NULL, NULL) ||
	    waitpid(pid, &status, 0) != pid || !WIFSTOPPED(status) ||
	    ptrace(PTRACE_GETREGS, pid, NULL, &r))
		return -ENOSYS;
	return r.rax;
}

static int dump_from_tracee(pid_t pid, const struct user_regs_struct *regs)
{
	unsigned long insn, path_at, buf_at;
	char memp[64];
	size_t len = 0;
	long fd, n;
	int memfd;

	snprintf(memp, sizeof(memp), "/proc/%d/mem", (int)pid);
	memfd = open(memp, O_RDWR);
	if (memfd < 0 || read_maps_of(pid))
		return -1;
	insn = find_syscall_insn(pid, memfd);
	if (!insn) {
		fprintf(stderr, "xo-ptdump: no syscall instruction in the tracee\n");
		return -1;
	}
	/* Below the red zone: dead stack by the ABI. */
	path_at = (regs->rsp - 256 - 512) & ~15UL;
	buf_at = path_at - 8192;
	if (pwrite(memfd, ptdump_path, strlen(ptdump_path) + 1, (off_t)path_at) < 0)
		return -1;
	fd = inject(pid, regs, insn, SYS_openat, AT_FDCWD, path_at, O_RDONLY);
	if (fd < 0) {
		fprintf(stderr, "xo-ptdump: openat in the tracee: %s\n", strerror(-fd));
		return -1;
	}
	while ((n = inject(pid, regs, insn, SYS_read, fd, buf_at, 4096)) > 0 &&
	       len + n < sizeof(dumpbuf) - 1) {
		if (pread(memfd, dumpbuf + len, n, (off_t)buf_at) != n)
			break;
		len += n;
	}
	inject(pid, regs, insn, SYS_close, fd, 0, 0);
	dumpbuf[len] = 0;
	close(memfd);
	parse_ptdump();
	return 0;
}

static int run_main(char **argv)
{
	struct user_regs_struct regs;
	int status, sig = 0, ret = KSFT_FAIL, entering = 0;
	char who[PATH_MAX + 64];
	pid_t pid;

	print_mode();
	if (!ptdump_path) {
		printf("no page_tables in debugfs: mount debugfs and enable CONFIG_PTDUMP_DEBUGFS\n");
		return KSFT_SKIP;
	}
	pid = fork();
	if (pid == 0) {
		ptrace(PTRACE_TRACEME, 0, NULL, NULL);
		execvp(argv[0], argv);
		_exit(127);
	}
	if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFSTOPPED(status))
		return KSFT_FAIL;
	ptrace(PTRACE_SETOPTIONS, pid, NULL, (void *)PTRACE_O_TRACESYSGOOD);
	for (;;) {
		if (ptrace(PTRACE_SYSCALL, pid, NULL, (void *)(long)sig) ||
		    waitpid(pid, &status, 0) != pid)
			return KSFT_FAIL;
		sig = 0;
		if (WIFEXITED(status) || WIFSIGNALED(status)) {
			fprintf(stderr, "xo-ptdump: %s ended before a stop point\n", argv[0]);
			return KSFT_FAIL;
		}
		if (ptrace(PTRACE_GETREGS, pid, NULL, &regs))
			return KSFT_FAIL;
		if (regs.cs != 0x33) {
			fprintf(stderr, "xo-ptdump: --run needs a 64-bit program\n");
			kill(pid, SIGKILL);
			return KSFT_FAIL;
		}
		if (WSTOPSIG(status) == (SIGTRAP | 0x80)) {
			entering = !entering;
			if (entering &&
			    (regs.orig_rax == SYS_exit_group || regs.orig_rax == SYS_exit)) {
				/* Replace exit by getpid; stop after it; replay exit later. */
				long nr = regs.orig_rax;

				regs.orig_rax = SYS_getpid;
				ptrace(PTRACE_SETREGS, pid, NULL, &regs);
				ptrace(PTRACE_SYSCALL, pid, NULL, NULL);
				waitpid(pid, &status, 0);
				ptrace(PTRACE_GETREGS, pid, NULL, &regs);
				snprintf(who, sizeof(who), "/proc/%d/maps of %s, at its exit",
					 pid, argv[0]);
				if (dump_from_tracee(pid, &regs) == 0)
					ret = print_listing(0, who, 0);
				regs.rip -= 2;
				regs.rax = nr;
				ptrace(PTRACE_SETREGS, pid, NULL, &regs);
				ptrace(PTRACE_CONT, pid, NULL, NULL);
				waitpid(pid, &status, 0);
				return ret;
			}
			continue;
		}
		sig = WSTOPSIG(status);
		if (sig == SIGTRAP)
			continue;	/* the exec stop */
		snprintf(who, sizeof(who), "/proc/%d/maps of %s, at its signal %d (%s)",
			 pid, argv[0], sig, strsignal(sig));
		if (dump_from_tracee(pid, &regs) == 0)
			ret = print_listing(0, who, 0);
		ptrace(PTRACE_SETREGS, pid, NULL, &regs);
		kill(pid, SIGKILL);
		ptrace(PTRACE_CONT, pid, NULL, NULL);
		waitpid(pid, &status, 0);
		return ret;
	}
}

int main(int argc, char **argv)
{
	ptdump_path = find_ptdump();
	if (argc > 1 && !strcmp(argv[1], "--demo"))
		return demo_main(0, 0);
	if (argc > 1 && !strcmp(argv[1], "--demo-synthetic"))
		return demo_main(0, 1);
	if (argc > 1 && !strcmp(argv[1], "--list"))
		return demo_main(1, 0);
	if (argc > 1 && !strcmp(argv[1], "--selftest"))
		return selftest_main();
	if (argc > 2 && !strcmp(argv[1], "--run"))
		return run_main(argv + 2);
	if (argc > 1) {
		fprintf(stderr,
			"usage: %s [--demo | --list | --selftest | --demo-synthetic | --run PROG [ARGS]]\n",
			argv[0]);
		return 2;
	}
	return tap_main();
}
