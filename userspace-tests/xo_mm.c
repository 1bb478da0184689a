// SPDX-License-Identifier: GPL-2.0
/*
 * Execute-only (XO) memory and the rest of mm: shared and file mappings
 * (XO belongs to the mapping, other mappings of the same frame stay
 * readable), the zero page, frame reuse, THP, mremap, madvise, mlock and
 * populate, data reads refused before populating, userfaultfd, O_DIRECT
 * I/O, uprobes and their XOL page, core dumps, CPU hotplug, and an ELF
 * binary with a PF_X-only PT_LOAD.
 */
#include "xo_common.h"

#include <dirent.h>
#include <elf.h>
#include <libgen.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/ptrace.h>
#include <sys/user.h>
#include <time.h>
#include <linux/mempolicy.h>
#include <linux/perf_event.h>
#include <linux/userfaultfd.h>

#include "kselftest_harness.h"

/* TCG guests are slow: allow more than the harness' 30 s per test. */
#undef TEST_TIMEOUT_DEFAULT
#define TEST_TIMEOUT_DEFAULT 120

#define MAGIC 0x6d6d0000u
#define SZ_2M (2UL << 20)

#ifndef MREMAP_DONTUNMAP
#define MREMAP_DONTUNMAP 4
#endif
#ifndef MADV_PAGEOUT
#define MADV_PAGEOUT 21
#endif
#ifndef MADV_COLD
#define MADV_COLD 20
#endif
#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ 22
#endif
#ifndef UFFD_USER_MODE_ONLY
#define UFFD_USER_MODE_ONLY 1
#endif

/* The physical frame behind addr, from /proc/self/pagemap (root only). */
static uint64_t pfn_of(const void *addr)
{
	uint64_t e = 0;
	int fd = open("/proc/self/pagemap", O_RDONLY);

	if (fd < 0)
		return 0;
	if (pread(fd, &e, 8, (uintptr_t)addr / XO_PAGE * 8) != 8)
		e = 0;
	close(fd);
	if (!(e & (1ULL << 63)))
		return 0;
	return e & ((1ULL << 55) - 1);
}

/* ---------------- shared mappings: XO is per mapping ---------------- */

TEST(shared_anon_two_mappings)
{
	uint8_t *rw = mmap(NULL, XO_PAGE, PROT_READ | PROT_WRITE,
			   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	uint8_t want[XO_PAGE];
	uint8_t *x;

	ASSERT_NE(MAP_FAILED, rw);
	xo_fill_page(rw, MAGIC);
	/* old_size 0 on a shared mapping: a second mapping of the same pages. */
	x = mremap(rw, 0, XO_PAGE, MREMAP_MAYMOVE);
	ASSERT_NE(MAP_FAILED, x);
	ASSERT_EQ(0, mprotect(x, XO_PAGE, PROT_EXEC));
	EXPECT_PROBE(xo_check_call(x, MAGIC));
	EXPECT_PROBE(xo_check_noread(x + 20));
	xo_fill_page(want, MAGIC);
	EXPECT_PROBE(xo_check_readable(rw + 20, want + 20, 64));
	if (pfn_of(rw))
		EXPECT_EQ(pfn_of(rw), pfn_of(x)) TH_LOG("aliases are not the same frame");
	/* Code written through one mapping runs through the other. */
	xo_fill_page(rw, MAGIC + 1);
	EXPECT_PROBE(xo_check_call(x, MAGIC + 1));
	EXPECT_PROBE(xo_check_noread(x + 20));
	EXPECT_PROBE(xo_check_store_faults(x + 20));
}

/* JIT style: an RW alias and an X alias of one memfd. */
TEST(memfd_jit_aliases)
{
	int fd = xo_code_memfd(2, MAGIC);
	uint8_t want[XO_PAGE], buf[XO_PAGE];
	uint8_t *rw, *x;
	int i, pfd[2];
	ssize_t ret;

	ASSERT_LE(0, fd);
	rw = mmap(NULL, 2 * XO_PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	x = mmap(NULL, 2 * XO_PAGE, PROT_EXEC, MAP_SHARED, fd, 0);
	ASSERT_NE(MAP_FAILED, rw);
	ASSERT_NE(MAP_FAILED, x);
	for (i = 0; i < 50; i++) {
		xo_emit_ret_imm(rw + XO_PAGE, MAGIC + 100 + i);
		EXPECT_PROBE(xo_check_call(x + XO_PAGE, MAGIC + 100 + i));
	}
	EXPECT_PROBE(xo_check_call(x, MAGIC));
	EXPECT_PROBE(xo_check_noread(x + 8));
	EXPECT_PROBE(xo_check_noread(x + XO_PAGE + 8));
	xo_fill_page(want, MAGIC);
	EXPECT_PROBE(xo_check_readable(rw + 8, want + 8, 32));
	ASSERT_EQ(XO_PAGE, pread(fd, buf, XO_PAGE, 0));
	EXPECT_EQ(0, memcmp(buf, want, XO_PAGE));
	if (pfn_of(rw))
		EXPECT_EQ(pfn_of(rw), pfn_of(x));

	/* The kernel copies from the RW alias, not from the X alias. */
	ASSERT_EQ(0, pipe(pfd));
	EXPECT_EQ(64, write(pfd[1], rw + 8, 64));
	ret = write(pfd[1], x + 8, 64);
	if (xo_mech == XO_MECH_READABLE) {
		EXPECT_EQ(64, ret);
	} else {
		EXPECT_EQ(-1, ret) TH_LOG("write(pipe, X alias) returned %zd", ret);
		EXPECT_EQ(EFAULT, errno);
	}
}

/* A file mapped XO while another mapping and read(2) read it. */
TEST(file_xo_and_readers)
{
	char path[] = "/tmp/xo-file-XXXXXX";
	uint8_t page[XO_PAGE], buf[XO_PAGE];
	uint8_t *xp, *xs, *r;
	int fd = mkstemp(path);

	if (fd < 0)
		SKIP(return, "no writable /tmp: %s", strerror(errno));
	unlink(path);
	xo_fill_page(page, MAGIC);
	ASSERT_EQ(XO_PAGE, write(fd, page, XO_PAGE));
	xp = mmap(NULL, XO_PAGE, PROT_EXEC, MAP_PRIVATE, fd, 0);
	xs = mmap(NULL, XO_PAGE, PROT_EXEC, MAP_SHARED, fd, 0);
	r = mmap(NULL, XO_PAGE, PROT_READ, MAP_SHARED, fd, 0);
	ASSERT_NE(MAP_FAILED, xp);
	ASSERT_NE(MAP_FAILED, xs);
	ASSERT_NE(MAP_FAILED, r);

	EXPECT_PROBE(xo_check_call(xp, MAGIC));
	EXPECT_PROBE(xo_check_call(xs, MAGIC));
	EXPECT_PROBE(xo_check_noread(xp + 30));
	EXPECT_PROBE(xo_check_noread(xs + 30));
	EXPECT_PROBE(xo_check_readable(r + 30, page + 30, 64));
	ASSERT_EQ(XO_PAGE, pread(fd, buf, XO_PAGE, 0));
	EXPECT_EQ(0, memcmp(buf, page, XO_PAGE));

	/* New code through write(2): every mapping sees the page cache. */
	xo_emit_ret_imm(page, MAGIC + 5);
	ASSERT_EQ(XO_RET_IMM_LEN, pwrite(fd, page, XO_RET_IMM_LEN, 0));
	EXPECT_PROBE(xo_check_call(xp, MAGIC + 5));
	EXPECT_PROBE(xo_check_call(xs, MAGIC + 5));
	EXPECT_PROBE(xo_check_readable(r, page, XO_RET_IMM_LEN));
	EXPECT_PROBE(xo_check_noread(xs + 1));
}

TEST(zero_page)
{
	uint8_t *a = mmap(NULL, XO_PAGE, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	uint8_t *b = mmap(NULL, XO_PAGE, PROT_READ,
			  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	uint8_t zeros[64] = { 0 };

	ASSERT_NE(MAP_FAILED, a);
	ASSERT_NE(MAP_FAILED, b);
	/* Both read faults map the shared zero page. */
	EXPECT_PROBE(xo_check_readable(a, zeros, 1));
	EXPECT_PROBE(xo_check_readable(b, zeros, 1));
	/* Informational: some kernels do not report the zero page's PFN. */
	TH_LOG("frames: %s", pfn_of(a) && pfn_of(a) == pfn_of(b) ?
	       "both mappings on one (zero) frame" : "pagemap shows different frames");
	ASSERT_EQ(0, mprotect(a, XO_PAGE, PROT_EXEC));
	EXPECT_PROBE(xo_check_load_sized(xo_do_load, a + 16, 4, a + 16, zeros));
	EXPECT_PROBE(xo_check_readable(b + 16, zeros, 64));
	/* Made writable again: a new private page, zero and readable. */
	ASSERT_EQ(0, mprotect(a, XO_PAGE, PROT_READ | PROT_WRITE));
	EXPECT_PROBE(xo_check_readable(a + 16, zeros, 64));
	EXPECT_PROBE(xo_check_store_ok(a, 1));
}

/* Frames freed from XO mappings come back readable elsewhere. */
TEST(frames_reused_after_munmap)
{
	const size_t xo_pages = 256, rw_pages = 16384;
	int fd = xo_code_memfd(4, MAGIC);
	uint8_t want[XO_PAGE];
	uint8_t *p;
	size_t i, bad = 0;
	int round;

	ASSERT_LE(0, fd);
	for (round = 0; round < 8; round++) {
		p = xo_map_code(xo_pages, PROT_EXEC, MAGIC);
		ASSERT_NE(NULL, p);
		for (i = 0; i < xo_pages; i++)
			((uint32_t (*)(void))(p + i * XO_PAGE))();
		ASSERT_EQ(0, munmap(p, xo_pages * XO_PAGE));
	}
	/* 64 MiB of fresh anonymous memory: no page may fault. */
	p = mmap(NULL, rw_pages * XO_PAGE, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, p);
	for (i = 0; i < rw_pages; i++)
		p[i * XO_PAGE] = (uint8_t)i;
	for (i = 0; i < rw_pages; i++) {
		uint8_t v = (uint8_t)i;

		if (xo_check_readable(p + i * XO_PAGE, &v, 1))
			bad++;
	}
	EXPECT_EQ(0, bad) TH_LOG("%zu pages of new memory unreadable", bad);
	munmap(p, rw_pages * XO_PAGE);

	/* The same page-cache frames: XO mapping gone, RW mapping reads them. */
	p = mmap(NULL, 4 * XO_PAGE, PROT_EXEC, MAP_SHARED, fd, 0);
	ASSERT_NE(MAP_FAILED, p);
	for (i = 0; i < 4; i++)
		EXPECT_PROBE(xo_check_call(p + i * XO_PAGE, MAGIC + i));
	ASSERT_EQ(0, munmap(p, 4 * XO_PAGE));
	p = mmap(NULL, 4 * XO_PAGE, PROT_READ, MAP_SHARED, fd, 0);
	ASSERT_NE(MAP_FAILED, p);
	for (i = 0; i < 4; i++) {
		xo_fill_page(want, MAGIC + i);
		EXPECT_PROBE(xo_check_readable(p + i * XO_PAGE, want, 64));
	}
}

/* ---------------- THP ---------------- */

/* "start-end perms ...": a VMA header line of smaps, not a field line. */
static int isxdigit_line(const char *line)
{
	const char *dash = strchr(line, '-'), *sp = strchr(line, ' ');

	return dash && sp && dash < sp && strchr("0123456789abcdef", line[0]);
}

static unsigned long smaps_kb(const void *addr, const char *field)
{
	char line[256];
	unsigned long s, e, kb = 0;
	int in = 0;
	size_t flen = strlen(field);
	FILE *f = fopen("/proc/self/smaps", "r");

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%lx-%lx ", &s, &e) == 2 && line[strcspn(line, " ")] == ' ' &&
		    isxdigit_line(line))
			in = (unsigned long)addr >= s && (unsigned long)addr < e;
		else if (in && !strncmp(line, field, flen) && line[flen] == ':') {
			if (sscanf(line + flen + 1, "%lu", &kb) != 1)
				kb = 0;	/* unparsable: as if absent */
			break;
		}
	}
	fclose(f);
	return kb;
}

TEST(thp_pmd)
{
	uint8_t *raw = mmap(NULL, 2 * SZ_2M, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	uint8_t *p;
	unsigned long huge_kb;
	size_t off;

	ASSERT_NE(MAP_FAILED, raw);
	p = (uint8_t *)(((uintptr_t)raw + SZ_2M - 1) & ~(SZ_2M - 1));
	madvise(p, SZ_2M, MADV_HUGEPAGE);
	for (off = 0; off < SZ_2M; off += XO_PAGE)
		xo_fill_page(p + off, MAGIC + off / XO_PAGE);
	huge_kb = smaps_kb(p, "AnonHugePages");
	TH_LOG("AnonHugePages of the range: %lu kB%s", huge_kb,
	       huge_kb >= 2048 ? "" : " (no THP: checks run on 4K pages)");

	ASSERT_EQ(0, mprotect(p, SZ_2M, PROT_EXEC));
	if (huge_kb >= 2048)
		EXPECT_LE(2048, smaps_kb(p, "AnonHugePages")) TH_LOG("mprotect split the THP");
	for (off = 0; off < SZ_2M; off += 97 * XO_PAGE) {
		EXPECT_PROBE(xo_check_call(p + off, MAGIC + off / XO_PAGE));
		EXPECT_PROBE(xo_check_noread(p + off + 64));
	}
	EXPECT_PROBE(xo_check_noread(p + SZ_2M - 1));
	EXPECT_PROBE(xo_check_store_faults(p + 4096 * 3));

	/* Part of the huge page readable again: split, each part correct. */
	ASSERT_EQ(0, mprotect(p + SZ_2M / 2, XO_PAGE, PROT_READ | PROT_EXEC));
	EXPECT_PROBE(xo_check_readable(p + SZ_2M / 2 + 64, NULL, 4));
	EXPECT_PROBE(xo_check_noread(p + SZ_2M / 2 - 1));
	EXPECT_PROBE(xo_check_noread(p + SZ_2M / 2 + XO_PAGE));
	EXPECT_PROBE(xo_check_call(p + SZ_2M / 2 + XO_PAGE, MAGIC + SZ_2M / 2 / XO_PAGE + 1));
}

/* ---------------- mremap ---------------- */

TEST(mremap_move)
{
	uint8_t *p = xo_map_code(2, PROT_EXEC, MAGIC);
	uint8_t *dst = mmap(NULL, 2 * XO_PAGE, PROT_NONE,
			    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	uint8_t *q;
	struct xo_access a = { .size = 1 };
	struct xo_fault f;

	ASSERT_NE(NULL, p);
	ASSERT_NE(MAP_FAILED, dst);
	ASSERT_PROBE(xo_check_call(p, MAGIC));
	q = mremap(p, 2 * XO_PAGE, 2 * XO_PAGE, MREMAP_MAYMOVE | MREMAP_FIXED, dst);
	ASSERT_EQ(dst, q);
	EXPECT_PROBE(xo_check_call(q, MAGIC));
	EXPECT_PROBE(xo_check_call(q + XO_PAGE, MAGIC + 1));
	EXPECT_PROBE(xo_check_noread(q + 10));
	EXPECT_PROBE(xo_check_noread(q + XO_PAGE + 10));
	a.src = p;
	EXPECT_PROBE(xo_expect_fault(xo_try(xo_do_load, &a, &f), &f, SEGV_MAPERR, p));
}

TEST(mremap_grow)
{
	uint8_t *p = xo_map_code(2, PROT_EXEC, MAGIC);
	char perms[5];
	unsigned long s, e;
	uint8_t *q;

	ASSERT_NE(NULL, p);
	ASSERT_PROBE(xo_check_call(p + XO_PAGE, MAGIC + 1));
	q = mremap(p, 2 * XO_PAGE, 8 * XO_PAGE, MREMAP_MAYMOVE);
	ASSERT_NE(MAP_FAILED, q);
	EXPECT_PROBE(xo_check_call(q, MAGIC));
	EXPECT_PROBE(xo_check_call(q + XO_PAGE, MAGIC + 1));
	EXPECT_PROBE(xo_check_noread(q + 10));
	/* The new tail: untouched XO. */
	EXPECT_PROBE(xo_check_noread(q + 5 * XO_PAGE + 10));
	EXPECT_PROBE(xo_check_store_faults(q + 7 * XO_PAGE));
	ASSERT_EQ(0, xo_maps_perms(getpid(), q, perms, &s, &e));
	EXPECT_STREQ("--xp", perms);
	EXPECT_LE((unsigned long)q + 8 * XO_PAGE, e);
}

TEST(mremap_dontunmap)
{
	uint8_t *p = xo_map_code(2, PROT_EXEC, MAGIC);
	char perms[5];
	uint8_t *q;

	ASSERT_NE(NULL, p);
	ASSERT_PROBE(xo_check_call(p, MAGIC));
	/* glibc 2.36's mremap() rejects MREMAP_DONTUNMAP: use the syscall. */
	q = (uint8_t *)syscall(SYS_mremap, p, 2 * XO_PAGE, 2 * XO_PAGE,
			       MREMAP_MAYMOVE | MREMAP_DONTUNMAP, 0);
	if (q == MAP_FAILED && errno == EINVAL)
		SKIP(return, "MREMAP_DONTUNMAP not supported: EINVAL");
	ASSERT_NE(MAP_FAILED, q);
	EXPECT_PROBE(xo_check_call(q, MAGIC));
	EXPECT_PROBE(xo_check_call(q + XO_PAGE, MAGIC + 1));
	EXPECT_PROBE(xo_check_noread(q + 10));
	/* The old range stays mapped, empty, and keeps its protection. */
	ASSERT_EQ(0, xo_maps_perms(getpid(), p, perms, NULL, NULL));
	EXPECT_STREQ("--xp", perms);
	EXPECT_PROBE(xo_check_noread(p + 10));
}

/* ---------------- madvise, mlock, populate ---------------- */

TEST(madvise_hints)
{
	int fd = xo_code_memfd(2, MAGIC);
	uint8_t *f, *a;

	ASSERT_LE(0, fd);
	f = mmap(NULL, 2 * XO_PAGE, PROT_EXEC, MAP_PRIVATE, fd, 0);
	ASSERT_NE(MAP_FAILED, f);
	a = xo_map_code(2, PROT_EXEC, MAGIC);
	ASSERT_NE(NULL, a);

	ASSERT_EQ(0, madvise(f, 2 * XO_PAGE, MADV_WILLNEED));
	EXPECT_PROBE(xo_check_noread(f + 3));
	EXPECT_PROBE(xo_check_call(f, MAGIC));
	/* Reclaim hints: the entries come back XO. */
	if (madvise(f, 2 * XO_PAGE, MADV_PAGEOUT) == 0) {
		EXPECT_PROBE(xo_check_noread(f + XO_PAGE + 3));
		EXPECT_PROBE(xo_check_call(f + XO_PAGE, MAGIC + 1));
	}
	if (madvise(a, 2 * XO_PAGE, MADV_COLD) == 0) {
		EXPECT_PROBE(xo_check_call(a, MAGIC));
		EXPECT_PROBE(xo_check_noread(a + 3));
	}
	/* Anonymous DONTNEED: zero-filled, still XO. */
	ASSERT_EQ(0, madvise(a, 2 * XO_PAGE, MADV_DONTNEED));
	EXPECT_PROBE(xo_check_load_sized(xo_do_load, a + 100, 1, a + 100, (uint8_t[]){ 0 }));
	EXPECT_PROBE(xo_check_noread(a + XO_PAGE + 100));
	/* MADV_FREE on XO anon memory: accepted or not, the page stays XO. */
	madvise(a, XO_PAGE, MADV_FREE);
	EXPECT_PROBE(xo_check_noread(a + 100));
}

TEST(mlock_and_map_populate)
{
	int fd = xo_code_memfd(4, MAGIC);
	uint8_t *p, *a;

	ASSERT_LE(0, fd);
	/* Populated by the kernel before any user access. */
	p = mmap(NULL, 4 * XO_PAGE, PROT_EXEC, MAP_PRIVATE | MAP_POPULATE, fd, 0);
	ASSERT_NE(MAP_FAILED, p);
	if (pfn_of(p + 2 * XO_PAGE) == 0)
		TH_LOG("pagemap: MAP_POPULATE page not present (or no pagemap PFNs)");
	EXPECT_PROBE(xo_check_noread(p + 2 * XO_PAGE + 7));
	EXPECT_PROBE(xo_check_call(p + 2 * XO_PAGE, MAGIC + 2));

	a = mmap(NULL, 4 * XO_PAGE, PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE,
		 -1, 0);
	ASSERT_NE(MAP_FAILED, a);
	EXPECT_PROBE(xo_check_noread(a + 7));

	a = xo_map_code(4, PROT_EXEC, MAGIC);
	ASSERT_NE(NULL, a);
	if (mlock(a, 4 * XO_PAGE) == 0) {
		EXPECT_PROBE(xo_check_noread(a + XO_PAGE + 7));
		EXPECT_PROBE(xo_check_call(a + 3 * XO_PAGE, MAGIC + 3));
		ASSERT_EQ(0, munlock(a, 4 * XO_PAGE));
	} else {
		TH_LOG("mlock: %s (not checked)", strerror(errno));
	}
}

TEST(madv_populate_read)
{
	int fd = xo_code_memfd(2, MAGIC);
	uint8_t *p;
	int ret;

	ASSERT_LE(0, fd);
	p = mmap(NULL, 2 * XO_PAGE, PROT_EXEC, MAP_PRIVATE, fd, 0);
	ASSERT_NE(MAP_FAILED, p);
	ret = madvise(p, 2 * XO_PAGE, MADV_POPULATE_READ);
	if (ret && errno == EINVAL && !pfn_of(p))
		TH_LOG("MADV_POPULATE_READ: EINVAL");
	/* GUP without FOLL_FORCE needs VM_READ: refused on every kernel. */
	EXPECT_EQ(-1, ret) TH_LOG("MADV_POPULATE_READ of a --x mapping succeeded");
	EXPECT_TRUE(errno == EFAULT || errno == EINVAL || errno == ENOMEM)
		TH_LOG("errno %d", errno);
	EXPECT_PROBE(xo_check_noread(p + 9));
	EXPECT_PROBE(xo_check_call(p + XO_PAGE, MAGIC + 1));
}

/* ---------------- data reads refused at fault entry ---------------- */

/* Whether the page at p is resident (mincore: mapped, or in the page cache). */
static int resident(const void *p)
{
	unsigned char v = 0;

	if (mincore((void *)((uintptr_t)p & ~(XO_PAGE - 1)), XO_PAGE, &v))
		return -1;
	return v & 1;
}

/*
 * A data read of a never-populated XO page can never succeed, so the fault
 * handler must refuse it from the VMA (as pkeys' arch_vma_access_permitted()
 * and arm64's VM_READ check do) before handle_mm_fault() maps the zero page
 * or allocates/reads the file page. A kernel read (a copy_from_user() of
 * write(2)) takes the same path. Stock kernels populate the page.
 */
TEST(read_untouched_not_populated)
{
	int fd = syscall(SYS_memfd_create, "xo-hole", MFD_CLOEXEC);
	int refused = xo_mech != XO_MECH_READABLE;
	uint8_t *a, *r, *fp, *fs;
	int pfd[2];

	a = mmap(NULL, 2 * XO_PAGE, PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	r = mmap(NULL, XO_PAGE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, a);
	ASSERT_NE(MAP_FAILED, r);
	/* Control: mincore sees the zero page a read maps in a readable VMA. */
	ASSERT_EQ(0, resident(r));
	EXPECT_PROBE(xo_check_readable(r + 8, (uint8_t[]){ 0 }, 1));
	ASSERT_EQ(1, resident(r)) TH_LOG("mincore does not report the zero page");

	/* Anonymous: the user read faults and leaves the page unpopulated. */
	EXPECT_PROBE(xo_check_noread(a + 8));
	if (refused) {
		EXPECT_EQ(0, resident(a)) TH_LOG("the refused read populated the anonymous XO page");
	}
	/* A kernel read of the second page: EFAULT, nothing populated. */
	ASSERT_EQ(0, pipe(pfd));
	if (refused) {
		EXPECT_EQ(-1, write(pfd[1], a + XO_PAGE, 16));
		EXPECT_EQ(EFAULT, errno);
		EXPECT_EQ(0, resident(a + XO_PAGE))
			TH_LOG("the refused copy_from_user() populated the anonymous XO page");
	} else {
		EXPECT_EQ(16, write(pfd[1], a + XO_PAGE, 16));
	}
	close(pfd[0]);
	close(pfd[1]);

	/* File: a hole of a memfd, private and shared; no page cache page. */
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, ftruncate(fd, 2 * XO_PAGE));
	fp = mmap(NULL, XO_PAGE, PROT_EXEC, MAP_PRIVATE, fd, 0);
	fs = mmap(NULL, XO_PAGE, PROT_EXEC, MAP_SHARED, fd, XO_PAGE);
	ASSERT_NE(MAP_FAILED, fp);
	ASSERT_NE(MAP_FAILED, fs);
	ASSERT_EQ(0, resident(fp));
	ASSERT_EQ(0, resident(fs));
	EXPECT_PROBE(xo_check_noread(fp + 100));
	EXPECT_PROBE(xo_check_noread(fs + 200));
	if (refused) {
		EXPECT_EQ(0, resident(fp)) TH_LOG("the refused read put a page into the page cache (private)");
		EXPECT_EQ(0, resident(fs)) TH_LOG("the refused read put a page into the page cache (shared)");
	} else {
		TH_LOG("stock: resident after the reads: private %d, shared %d",
		       resident(fp), resident(fs));
	}
	close(fd);
}

/*
 * PROT_WRITE without PROT_READ stays readable (write implies read, as on
 * arm64; powerpc's 2023 regression made such mappings unreadable): a read
 * as the first touch of anon and file pages, by user and kernel, succeeds.
 */
TEST(write_only_stays_readable)
{
	static const int prots[] = { PROT_WRITE, PROT_WRITE | PROT_EXEC };
	uint8_t want[XO_PAGE], zeros[16] = { 0 }, buf[16];
	int fd = xo_code_memfd(2, MAGIC + 0x70);
	unsigned int i;

	ASSERT_LE(0, fd);
	xo_fill_page(want, MAGIC + 0x70);
	for (i = 0; i < ARRAY_SIZE(prots); i++) {
		uint8_t *a = mmap(NULL, 2 * XO_PAGE, prots[i],
				  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		uint8_t *fp = mmap(NULL, XO_PAGE, prots[i], MAP_PRIVATE, fd, 0);
		uint8_t *fs = mmap(NULL, XO_PAGE, prots[i], MAP_SHARED, fd, 0);
		int pfd[2];

		ASSERT_NE(MAP_FAILED, a);
		ASSERT_NE(MAP_FAILED, fp);
		ASSERT_NE(MAP_FAILED, fs);
		TH_LOG("prot %#x", prots[i]);
		EXPECT_PROBE(xo_check_readable(a + 8, zeros, 8));
		EXPECT_PROBE(xo_check_readable(fp + 16, want + 16, 16));
		EXPECT_PROBE(xo_check_readable(fs + 32, want + 32, 16));
		/* A kernel read as the first touch. */
		ASSERT_EQ(0, pipe(pfd));
		EXPECT_EQ(16, write(pfd[1], a + XO_PAGE, 16)) TH_LOG("%s", strerror(errno));
		EXPECT_EQ(16, read(pfd[0], buf, 16));
		EXPECT_EQ(0, memcmp(buf, zeros, 16));
		close(pfd[0]);
		close(pfd[1]);
		EXPECT_PROBE(xo_check_store_ok(a, 1));
		munmap(a, 2 * XO_PAGE);
		munmap(fp, XO_PAGE);
		munmap(fs, XO_PAGE);
	}
	close(fd);
}

/* ---------------- userfaultfd ---------------- */

struct uffd_ctx {
	int uffd;
	uint8_t *base;
	int events;
	uint32_t magic;
};

static void *uffd_thread(void *arg)
{
	struct uffd_ctx *c = arg;
	uint8_t page[XO_PAGE] __attribute__((aligned(4096)));

	for (;;) {
		struct pollfd pfd = { .fd = c->uffd, .events = POLLIN };
		struct uffd_msg msg;
		struct uffdio_copy copy;
		unsigned long addr;

		if (poll(&pfd, 1, -1) <= 0)
			continue;
		if (read(c->uffd, &msg, sizeof(msg)) != sizeof(msg))
			continue;
		if (msg.event != UFFD_EVENT_PAGEFAULT)
			continue;
		addr = msg.arg.pagefault.address & ~(XO_PAGE - 1);
		__atomic_add_fetch(&c->events, 1, __ATOMIC_SEQ_CST);
		xo_fill_page(page, c->magic + (addr - (unsigned long)c->base) / XO_PAGE);
		copy = (struct uffdio_copy){ .dst = addr, .src = (uintptr_t)page,
					     .len = XO_PAGE };
		ioctl(c->uffd, UFFDIO_COPY, &copy);
	}
	return NULL;
}

TEST(userfaultfd_missing)
{
	struct uffd_ctx c = { .magic = MAGIC };
	struct uffdio_api api = { .api = UFFD_API };
	struct uffdio_register reg;
	uint8_t want[XO_PAGE];
	pthread_t t;
	int events;

	c.uffd = syscall(SYS_userfaultfd, O_CLOEXEC | UFFD_USER_MODE_ONLY);
	if (c.uffd < 0)
		c.uffd = syscall(SYS_userfaultfd, O_CLOEXEC);
	if (c.uffd < 0)
		SKIP(return, "userfaultfd: %s", strerror(errno));
	ASSERT_EQ(0, ioctl(c.uffd, UFFDIO_API, &api));
	c.base = mmap(NULL, 4 * XO_PAGE, PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, c.base);
	reg = (struct uffdio_register){
		.range = { .start = (uintptr_t)c.base, .len = 4 * XO_PAGE },
		.mode = UFFDIO_REGISTER_MODE_MISSING,
	};
	ASSERT_EQ(0, ioctl(c.uffd, UFFDIO_REGISTER, &reg));
	ASSERT_EQ(0, pthread_create(&t, NULL, uffd_thread, &c));

	/* An instruction fetch is resolved by the monitor... */
	EXPECT_PROBE(xo_check_call(c.base, MAGIC));
	EXPECT_EQ(1, c.events);
	/* ...and the installed page is XO. */
	EXPECT_PROBE(xo_check_noread(c.base + 12));
	/*
	 * A load from a missing page faults all the same, and is refused
	 * from the VMA before the monitor hears of it (pkeys and XO alike):
	 * the monitor would resolve a fault that can never succeed.
	 */
	xo_fill_page(want, MAGIC + 1);
	EXPECT_PROBE(xo_check_load_sized(xo_do_load, c.base + XO_PAGE + 12, 1,
				  c.base + XO_PAGE + 12, want + 12));
	events = __atomic_load_n(&c.events, __ATOMIC_SEQ_CST);
	TH_LOG("monitor events after the load: %d", events);
	if (xo_mech == XO_MECH_READABLE) {
		EXPECT_EQ(2, events);
	} else {
		EXPECT_EQ(1, events) TH_LOG("the load from a missing XO page raised a MISSING event");
	}
	/* Still missing, or (stock) what the monitor put there. */
	EXPECT_PROBE(xo_check_noread(c.base + XO_PAGE + 12));
	EXPECT_EQ(xo_mech == XO_MECH_READABLE ? 2 : 1,
		  __atomic_load_n(&c.events, __ATOMIC_SEQ_CST));
	EXPECT_PROBE(xo_check_call(c.base + 2 * XO_PAGE, MAGIC + 2));
}

/* A userfaultfd with the features asked for; -1 (errno set) if any is missing. */
static int uffd_open(uint64_t features)
{
	struct uffdio_api api = { .api = UFFD_API };
	int fd = syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK | UFFD_USER_MODE_ONLY);

	if (fd < 0)
		fd = syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return -1;
	/* UFFDIO_API is once per fd: learn the features on a first one. */
	if (ioctl(fd, UFFDIO_API, &api) || (api.features & features) != features) {
		close(fd);
		errno = EOPNOTSUPP;
		return -1;
	}
	close(fd);
	fd = syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK | UFFD_USER_MODE_ONLY);
	if (fd < 0)
		fd = syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	api = (struct uffdio_api){ .api = UFFD_API, .features = features };
	if (fd >= 0 && ioctl(fd, UFFDIO_API, &api)) {
		close(fd);
		return -1;
	}
	return fd;
}

static int uffd_register(int uffd, void *p, size_t len, uint64_t mode)
{
	struct uffdio_register reg = {
		.range = { .start = (uintptr_t)p, .len = len },
		.mode = mode,
	};

	return ioctl(uffd, UFFDIO_REGISTER, &reg);
}

/* No event is pending on a non-blocking uffd. */
static int uffd_no_event(int uffd)
{
	struct uffd_msg msg;

	return read(uffd, &msg, sizeof(msg)) < 0 && errno == EAGAIN;
}

#define UFFD_SKIP_IF_MISSING(fd, what) do { \
	if ((fd) < 0) \
		SKIP(return, "userfaultfd%s: %s (guest config: CONFIG_USERFAULTFD)", \
		     what, strerror(errno)); \
} while (0)

/*
 * UFFDIO_COPY reads its source with copy_from_user(): from an XO source
 * that must fail with EFAULT like any other kernel read, page by page
 * (a copy running from a readable page into an XO one stops at the XO
 * page: EAGAIN with the readable page copied). The page a copy installs
 * in an XO range takes the range's protection: it runs and is XO.
 * Registered pages that stay missing are never touched here (nothing
 * would resolve the fault): mincore() tells what is installed.
 */
TEST(userfaultfd_copy_from_xo)
{
	int uffd = uffd_open(0);
	uint8_t *dst, *src_x, *src_rw, *mixed;
	struct uffdio_copy copy;
	int readable = xo_mech == XO_MECH_READABLE;
	int ret;

	UFFD_SKIP_IF_MISSING(uffd, "");
	dst = mmap(NULL, 4 * XO_PAGE, PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, dst);
	ASSERT_EQ(0, uffd_register(uffd, dst, 4 * XO_PAGE, UFFDIO_REGISTER_MODE_MISSING));
	src_x = xo_map_code(1, PROT_EXEC, MAGIC + 0x10);
	src_rw = xo_map_code(1, PROT_READ | PROT_WRITE, MAGIC + 0x20);
	/* A readable page followed by an XO one. */
	mixed = xo_map_code(2, PROT_READ | PROT_WRITE, MAGIC + 0x30);
	ASSERT_NE(NULL, src_x);
	ASSERT_NE(NULL, src_rw);
	ASSERT_NE(NULL, mixed);
	ASSERT_EQ(0, mprotect(mixed + XO_PAGE, XO_PAGE, PROT_EXEC));
	/* Present XO sources: executed first. */
	ASSERT_PROBE(xo_check_call(src_x, MAGIC + 0x10));
	ASSERT_PROBE(xo_check_call(mixed + XO_PAGE, MAGIC + 0x31));

	/* From an XO source: EFAULT, nothing installed. */
	copy = (struct uffdio_copy){ .dst = (uintptr_t)dst, .src = (uintptr_t)src_x,
				     .len = XO_PAGE };
	ret = ioctl(uffd, UFFDIO_COPY, &copy);
	if (readable) {
		EXPECT_EQ(0, ret) TH_LOG("stock: UFFDIO_COPY from --x: %s", strerror(errno));
		EXPECT_EQ(XO_PAGE, copy.copy);
		EXPECT_PROBE(xo_check_call(dst, MAGIC + 0x10));
	} else {
		EXPECT_EQ(-1, ret) TH_LOG("UFFDIO_COPY from an XO source succeeded");
		EXPECT_EQ(EFAULT, errno);
		EXPECT_EQ(-EFAULT, copy.copy);
		EXPECT_EQ(0, resident(dst)) TH_LOG("the failed copy installed a page");
		/* From a readable source: works, and the new page is XO. */
		copy = (struct uffdio_copy){ .dst = (uintptr_t)dst, .src = (uintptr_t)src_rw,
					     .len = XO_PAGE };
		ASSERT_EQ(0, ioctl(uffd, UFFDIO_COPY, &copy)) TH_LOG("UFFDIO_COPY: %s", strerror(errno));
		EXPECT_EQ(XO_PAGE, copy.copy);
		EXPECT_EQ(1, resident(dst));
		EXPECT_PROBE(xo_check_call(dst, MAGIC + 0x20));
		EXPECT_PROBE(xo_check_noread(dst + 16));
	}

	/* Readable then XO: the first page is copied, the copy stops at the second. */
	copy = (struct uffdio_copy){ .dst = (uintptr_t)dst + 2 * XO_PAGE,
				     .src = (uintptr_t)mixed, .len = 2 * XO_PAGE };
	ret = ioctl(uffd, UFFDIO_COPY, &copy);
	if (readable) {
		EXPECT_EQ(0, ret);
		EXPECT_EQ(2 * XO_PAGE, copy.copy);
		EXPECT_PROBE(xo_check_call(dst + 3 * XO_PAGE, MAGIC + 0x31));
	} else {
		EXPECT_EQ(-1, ret);
		EXPECT_EQ(EAGAIN, errno) TH_LOG("partial copy: errno %d, expected EAGAIN", errno);
		EXPECT_EQ(XO_PAGE, copy.copy) TH_LOG("copied %lld bytes, expected one page",
						     (long long)copy.copy);
		EXPECT_EQ(0, resident(dst + 3 * XO_PAGE)) TH_LOG("the XO source page was copied");
		/* The rest, from the XO page alone: EFAULT. */
		copy = (struct uffdio_copy){ .dst = (uintptr_t)dst + 3 * XO_PAGE,
					     .src = (uintptr_t)mixed + XO_PAGE, .len = XO_PAGE };
		EXPECT_EQ(-1, ioctl(uffd, UFFDIO_COPY, &copy));
		EXPECT_EQ(EFAULT, errno);
		EXPECT_EQ(0, resident(dst + 3 * XO_PAGE));
	}
	EXPECT_PROBE(xo_check_call(dst + 2 * XO_PAGE, MAGIC + 0x30));
	EXPECT_PROBE(xo_check_noread(dst + 2 * XO_PAGE + 8));
	/* The sources are intact and still XO. */
	EXPECT_PROBE(xo_check_call(src_x, MAGIC + 0x10));
	EXPECT_PROBE(xo_check_noread(src_x + 8));
	EXPECT_PROBE(xo_check_noread(mixed + XO_PAGE + 8));
	EXPECT_TRUE(uffd_no_event(uffd));
	close(uffd);
}

/*
 * UFFDIO_ZEROPAGE in an XO range maps the shared zero page with the
 * range's protection: loads fault, and the same page made readable
 * (mprotect) reads zeros, on the zero page's frame.
 */
TEST(userfaultfd_zeropage)
{
	int uffd = uffd_open(0);
	uint8_t *x, *r;
	uint8_t zeros[64] = { 0 };
	struct uffdio_zeropage zp;
	uint64_t zero_pfn;

	UFFD_SKIP_IF_MISSING(uffd, "");
	x = mmap(NULL, 2 * XO_PAGE, PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	r = mmap(NULL, XO_PAGE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, x);
	ASSERT_NE(MAP_FAILED, r);
	EXPECT_PROBE(xo_check_readable(r, zeros, 1));
	zero_pfn = pfn_of(r);
	ASSERT_EQ(0, uffd_register(uffd, x, 2 * XO_PAGE, UFFDIO_REGISTER_MODE_MISSING));
	zp = (struct uffdio_zeropage){ .range = { .start = (uintptr_t)x, .len = XO_PAGE } };
	ASSERT_EQ(0, ioctl(uffd, UFFDIO_ZEROPAGE, &zp)) TH_LOG("UFFDIO_ZEROPAGE: %s", strerror(errno));
	EXPECT_EQ(XO_PAGE, zp.zeropage);
	ASSERT_EQ(1, resident(x)) TH_LOG("UFFDIO_ZEROPAGE installed nothing");
	if (zero_pfn) {
		EXPECT_EQ(zero_pfn, pfn_of(x)) TH_LOG("not the zero page's frame");
	}
	EXPECT_PROBE(xo_check_load_sized(xo_do_load, x + 16, 4, x + 16, zeros));
	EXPECT_PROBE(xo_check_load_sized(xo_do_load, x + XO_PAGE - 8, 8, x + XO_PAGE - 8, zeros));
	EXPECT_PROBE(xo_check_store_faults(x + 32));
	/* The second page is still missing and the load above raised nothing. */
	EXPECT_EQ(0, resident(x + XO_PAGE));
	EXPECT_TRUE(uffd_no_event(uffd));
	/* The same entry made readable: zeros. */
	ASSERT_EQ(0, mprotect(x, XO_PAGE, PROT_READ));
	EXPECT_PROBE(xo_check_readable(x + 16, zeros, 64));
	ASSERT_EQ(0, mprotect(x, XO_PAGE, PROT_EXEC));
	EXPECT_PROBE(xo_check_load_sized(xo_do_load, x + 16, 4, x + 16, zeros));
	close(uffd);
}

/* pagemap bit 57: the PTE is uffd-wp write-protected. */
static int uffd_wp_bit(const void *addr)
{
	uint64_t e = 0;
	int fd = open("/proc/self/pagemap", O_RDONLY);

	if (fd < 0)
		return -1;
	if (pread(fd, &e, 8, (uintptr_t)addr / XO_PAGE * 8) != 8)
		e = 0;
	close(fd);
	return (e >> 57) & 1;
}

static int uffd_wp(int uffd, void *p, size_t len, int on)
{
	struct uffdio_writeprotect wp = {
		.range = { .start = (uintptr_t)p, .len = len },
		.mode = on ? UFFDIO_WRITEPROTECT_MODE_WP : 0,
	};

	return ioctl(uffd, UFFDIO_WRITEPROTECT, &wp);
}

/*
 * uffd-wp rewrites present PTEs (change_protection() with MM_CP_UFFD_WP
 * and _RESOLVE): write-protecting and unprotecting an XO range keeps
 * NR, and an R-X range write-protected, made --x and unprotected is XO.
 * A store to XO memory faults (no VM_WRITE) without a WP event.
 */
TEST(userfaultfd_wp)
{
	int uffd = uffd_open(UFFD_FEATURE_PAGEFAULT_FLAG_WP);
	uint8_t *p;
	int i;

	UFFD_SKIP_IF_MISSING(uffd, " with UFFD_FEATURE_PAGEFAULT_FLAG_WP");
	p = xo_map_code(2, PROT_EXEC, MAGIC + 0x40);
	ASSERT_NE(NULL, p);
	ASSERT_PROBE(xo_check_call(p, MAGIC + 0x40));
	ASSERT_PROBE(xo_check_call(p + XO_PAGE, MAGIC + 0x41));
	ASSERT_EQ(0, uffd_register(uffd, p, 2 * XO_PAGE, UFFDIO_REGISTER_MODE_WP))
		TH_LOG("UFFDIO_REGISTER_MODE_WP: %s", strerror(errno));

	for (i = 0; i < 3; i++) {
		ASSERT_EQ(0, uffd_wp(uffd, p, 2 * XO_PAGE, 1)) TH_LOG("WP: %s", strerror(errno));
		EXPECT_EQ(1, uffd_wp_bit(p)) TH_LOG("round %d: no uffd-wp bit after protect", i);
		EXPECT_EQ(1, uffd_wp_bit(p + XO_PAGE));
		EXPECT_PROBE(xo_check_call(p, MAGIC + 0x40));
		EXPECT_PROBE(xo_check_noread(p + 8));
		EXPECT_PROBE(xo_check_noread(p + XO_PAGE + 8));
		EXPECT_PROBE(xo_check_store_faults(p + 16));
		ASSERT_EQ(0, uffd_wp(uffd, p, 2 * XO_PAGE, 0)) TH_LOG("unprotect: %s", strerror(errno));
		EXPECT_EQ(0, uffd_wp_bit(p)) TH_LOG("round %d: uffd-wp bit after unprotect", i);
		EXPECT_PROBE(xo_check_call(p + XO_PAGE, MAGIC + 0x41));
		EXPECT_PROBE(xo_check_noread(p + 8));
		EXPECT_PROBE(xo_check_noread(p + XO_PAGE + 8));
	}
	/* R-X under WP, made --x, unprotected: XO. */
	ASSERT_EQ(0, mprotect(p, 2 * XO_PAGE, PROT_READ | PROT_EXEC));
	ASSERT_EQ(0, uffd_wp(uffd, p, 2 * XO_PAGE, 1));
	EXPECT_PROBE(xo_check_readable(p + 1, (uint8_t[]){ (MAGIC + 0x40) & 0xff }, 1));
	ASSERT_EQ(0, mprotect(p, 2 * XO_PAGE, PROT_EXEC));
	EXPECT_EQ(1, uffd_wp_bit(p)) TH_LOG("mprotect dropped the uffd-wp bit");
	EXPECT_PROBE(xo_check_noread(p + 8));
	ASSERT_EQ(0, uffd_wp(uffd, p, 2 * XO_PAGE, 0));
	EXPECT_PROBE(xo_check_noread(p + 8));
	EXPECT_PROBE(xo_check_noread(p + XO_PAGE + 8));
	EXPECT_PROBE(xo_check_call(p, MAGIC + 0x40));
	/* The stores above faulted on VM_WRITE: no WP event. */
	EXPECT_TRUE(uffd_no_event(uffd));
	close(uffd);
}

struct uffd_minor_ctx {
	int uffd;
	uint8_t *x, *rw;	/* the registered --x mapping, an RW alias */
	int events;
	volatile int stop;
};

/* Resolves minor faults: rewrites the function's immediate (page n: MAGIC + 0x100 + n), then CONTINUE. */
static void *uffd_minor_thread(void *arg)
{
	struct uffd_minor_ctx *c = arg;

	while (!c->stop) {
		struct pollfd pfd = { .fd = c->uffd, .events = POLLIN };
		struct uffdio_continue cont;
		struct uffd_msg msg;
		unsigned long off;

		if (poll(&pfd, 1, 100) <= 0)
			continue;
		if (read(c->uffd, &msg, sizeof(msg)) != sizeof(msg) ||
		    msg.event != UFFD_EVENT_PAGEFAULT ||
		    !(msg.arg.pagefault.flags & UFFD_PAGEFAULT_FLAG_MINOR))
			continue;
		off = (msg.arg.pagefault.address & ~(XO_PAGE - 1)) - (uintptr_t)c->x;
		xo_emit_ret_imm(c->rw + off, MAGIC + 0x100 + off / XO_PAGE);
		__atomic_add_fetch(&c->events, 1, __ATOMIC_SEQ_CST);
		cont = (struct uffdio_continue){
			.range = { .start = (uintptr_t)c->x + off, .len = XO_PAGE },
		};
		ioctl(c->uffd, UFFDIO_CONTINUE, &cont);
	}
	return NULL;
}

/*
 * Minor faults on a shmem XO mapping: the page is in the page cache, the
 * monitor changes it through an RW alias and UFFDIO_CONTINUE maps it
 * with the XO mapping's protection. A load from a not yet mapped page is
 * refused before the monitor hears of it (as in userfaultfd_missing).
 */
TEST(userfaultfd_minor_shmem)
{
	struct uffd_minor_ctx c = { 0 };
	uint8_t want[XO_PAGE];
	pthread_t t;
	int fd, events;

	c.uffd = uffd_open(UFFD_FEATURE_MINOR_SHMEM);
	UFFD_SKIP_IF_MISSING(c.uffd, " with UFFD_FEATURE_MINOR_SHMEM");
	fd = xo_code_memfd(3, MAGIC + 0x50);
	ASSERT_LE(0, fd);
	c.rw = mmap(NULL, 3 * XO_PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	c.x = mmap(NULL, 3 * XO_PAGE, PROT_EXEC, MAP_SHARED, fd, 0);
	ASSERT_NE(MAP_FAILED, c.rw);
	ASSERT_NE(MAP_FAILED, c.x);
	ASSERT_EQ(0, uffd_register(c.uffd, c.x, 3 * XO_PAGE, UFFDIO_REGISTER_MODE_MINOR))
		TH_LOG("UFFDIO_REGISTER_MODE_MINOR: %s", strerror(errno));
	ASSERT_EQ(0, pthread_create(&t, NULL, uffd_minor_thread, &c));

	/* A fetch: minor fault, the monitor's version of the page runs... */
	EXPECT_PROBE(xo_check_call(c.x, MAGIC + 0x100));
	EXPECT_EQ(1, __atomic_load_n(&c.events, __ATOMIC_SEQ_CST));
	/* ...and is XO; the alias reads it. */
	EXPECT_PROBE(xo_check_noread(c.x + 12));
	EXPECT_PROBE(xo_check_readable(c.rw + 1, (uint8_t[]){ 0x00 }, 1));
	/* A load from the second page: refused before any event (stock: an event). */
	xo_fill_page(want, MAGIC + 0x51);
	xo_emit_ret_imm(want, MAGIC + 0x101);
	EXPECT_PROBE(xo_check_load_sized(xo_do_load, c.x + XO_PAGE + 1, 4, c.x + XO_PAGE + 1, want + 1));
	events = __atomic_load_n(&c.events, __ATOMIC_SEQ_CST);
	if (xo_mech == XO_MECH_READABLE) {
		EXPECT_EQ(2, events);
	} else {
		EXPECT_EQ(1, events) TH_LOG("the load from an unmapped XO page raised a MINOR event");
	}
	EXPECT_PROBE(xo_check_call(c.x + 2 * XO_PAGE, MAGIC + 0x102));
	EXPECT_PROBE(xo_check_noread(c.x + 2 * XO_PAGE + 8));
	EXPECT_EQ(events + 1, __atomic_load_n(&c.events, __ATOMIC_SEQ_CST));
	c.stop = 1;
	pthread_join(t, NULL);
	close(c.uffd);
	close(fd);
}

/*
 * UFFDIO_MOVE (anon, 6.8+) takes a page's frame out of one range and maps
 * it in another with the destination's protection (move_present_pte()
 * builds the PTE from dst_vma->vm_page_prot). What must happen with XO:
 * an XO page's frame never changes its protection by moving, and a
 * readable frame never lands in an XO range. 6.12 guarantees both by
 * refusing every move in which either range is not writable
 * (validate_move_areas(): equal access flags and vm_page_prot, VM_WRITE),
 * so an XO range is neither source nor destination: EINVAL, the source
 * page in place (and XO), the destination still missing. An RW -> RW
 * move is the control that the ioctl works.
 */
TEST(userfaultfd_move)
{
	int uffd = uffd_open(UFFD_FEATURE_MOVE);
	uint8_t *rw_src, *rw_dst, *x_src, *x_dst;
	uint8_t want[XO_PAGE];
	struct uffdio_move mv;

	UFFD_SKIP_IF_MISSING(uffd, " with UFFD_FEATURE_MOVE (6.8+, CONFIG_TRANSPARENT_HUGEPAGE)");
	rw_src = xo_map_code(2, PROT_READ | PROT_WRITE, MAGIC + 0x60);
	rw_dst = mmap(NULL, 2 * XO_PAGE, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	x_src = xo_map_code(1, PROT_EXEC, MAGIC + 0x70);
	x_dst = mmap(NULL, 2 * XO_PAGE, PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(NULL, rw_src);
	ASSERT_NE(MAP_FAILED, rw_dst);
	ASSERT_NE(NULL, x_src);
	ASSERT_NE(MAP_FAILED, x_dst);
	ASSERT_PROBE(xo_check_call(x_src, MAGIC + 0x70));
	ASSERT_EQ(0, uffd_register(uffd, rw_dst, 2 * XO_PAGE, UFFDIO_REGISTER_MODE_MISSING));
	ASSERT_EQ(0, uffd_register(uffd, x_dst, 2 * XO_PAGE, UFFDIO_REGISTER_MODE_MISSING));

	/* Control: RW -> RW moves the frame. */
	mv = (struct uffdio_move){ .dst = (uintptr_t)rw_dst, .src = (uintptr_t)rw_src,
				   .len = XO_PAGE };
	ASSERT_EQ(0, ioctl(uffd, UFFDIO_MOVE, &mv)) TH_LOG("RW -> RW UFFDIO_MOVE: %s", strerror(errno));
	EXPECT_EQ(XO_PAGE, mv.move);
	xo_fill_page(want, MAGIC + 0x60);
	EXPECT_PROBE(xo_check_readable(rw_dst, want, 64));
	EXPECT_EQ(0, resident(rw_src)) TH_LOG("the moved page is still at the source");

	/* XO -> RW: refused; the XO page stays where it is, XO. */
	mv = (struct uffdio_move){ .dst = (uintptr_t)rw_dst + XO_PAGE, .src = (uintptr_t)x_src,
				   .len = XO_PAGE };
	EXPECT_EQ(-1, ioctl(uffd, UFFDIO_MOVE, &mv)) TH_LOG("UFFDIO_MOVE of an XO page into RW succeeded");
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(0, resident(rw_dst + XO_PAGE));
	/* RW -> XO: refused; the readable page stays, the XO range missing. */
	mv = (struct uffdio_move){ .dst = (uintptr_t)x_dst, .src = (uintptr_t)rw_src + XO_PAGE,
				   .len = XO_PAGE };
	EXPECT_EQ(-1, ioctl(uffd, UFFDIO_MOVE, &mv)) TH_LOG("UFFDIO_MOVE of a readable page into XO succeeded");
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(0, resident(x_dst));
	xo_fill_page(want, MAGIC + 0x61);
	EXPECT_PROBE(xo_check_readable(rw_src + XO_PAGE, want, 64));
	/* XO -> XO (same protection, not writable): refused too. */
	mv = (struct uffdio_move){ .dst = (uintptr_t)x_dst + XO_PAGE, .src = (uintptr_t)x_src,
				   .len = XO_PAGE };
	EXPECT_EQ(-1, ioctl(uffd, UFFDIO_MOVE, &mv)) TH_LOG("UFFDIO_MOVE XO -> XO succeeded");
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(0, resident(x_dst + XO_PAGE));
	EXPECT_PROBE(xo_check_call(x_src, MAGIC + 0x70));
	EXPECT_PROBE(xo_check_noread(x_src + 8));
	EXPECT_TRUE(uffd_no_event(uffd));
	close(uffd);
}

/* ---------------- O_DIRECT: the block layer pins user pages ---------------- */

/*
 * O_DIRECT I/O pins the buffer with pin_user_pages_fast(): GUP-fast must
 * refuse the present NR entries and slow GUP finds no VM_READ. Stock
 * GUP-fast takes the readable PTE of a PROT_EXEC page. XO_TEST_DIRECT_IO
 * names another device or file, to run this where there is no /dev/ram0.
 */
TEST(o_direct_from_and_into_xo)
{
	const char *path = getenv("XO_TEST_DIRECT_IO") ?: "/dev/ram0";
	uint8_t want[XO_PAGE], code[XO_PAGE];
	uint8_t *x, *rw, *back;
	ssize_t ret;
	int fd, err;

	fd = open(path, O_RDWR | O_DIRECT);
	if (fd < 0)
		SKIP(return, "%s: %s (the guest needs CONFIG_BLK_DEV_RAM)", path, strerror(errno));
	x = xo_map_code(1, PROT_EXEC, MAGIC);
	rw = xo_map_code(2, PROT_READ | PROT_WRITE, MAGIC + 0x40);
	ASSERT_NE(NULL, x);
	ASSERT_NE(NULL, rw);
	back = rw + XO_PAGE;
	xo_fill_page(want, MAGIC + 0x40);
	xo_fill_page(code, MAGIC);
	ASSERT_PROBE(xo_check_call(x, MAGIC));

	/* Control: RW buffers round-trip. */
	ASSERT_EQ(XO_PAGE, pwrite(fd, rw, XO_PAGE, 0))
		TH_LOG("O_DIRECT write: %s", strerror(errno));
	memset(back, 0, XO_PAGE);
	ASSERT_EQ(XO_PAGE, pread(fd, back, XO_PAGE, 0));
	ASSERT_EQ(0, memcmp(back, want, XO_PAGE));

	ret = pwrite(fd, x, XO_PAGE, 0);
	err = errno;
	memset(back, 0, XO_PAGE);
	ASSERT_EQ(XO_PAGE, pread(fd, back, XO_PAGE, 0));
	if (xo_mech == XO_MECH_READABLE) {
		EXPECT_EQ(XO_PAGE, ret) TH_LOG("O_DIRECT write from --x: %s", strerror(err));
		EXPECT_EQ(0, memcmp(back, code, XO_PAGE)) TH_LOG("the device lacks the code");
	} else {
		EXPECT_EQ(-1, ret) TH_LOG("O_DIRECT write from --x returned %zd", ret);
		EXPECT_EQ(EFAULT, err);
		EXPECT_EQ(0, memcmp(back, want, XO_PAGE)) TH_LOG("the device changed");
	}

	/* Into XO: GUP for write, no VM_WRITE, in every mode. */
	EXPECT_EQ(-1, pread(fd, x, XO_PAGE, 0));
	EXPECT_EQ(EFAULT, errno);
	EXPECT_PROBE(xo_check_call(x, MAGIC));
	EXPECT_PROBE(xo_check_noread(x + 8));
	close(fd);
}

/* ---------------- uprobes ---------------- */

/* The one number fmt (a scanf format) finds in file path, or -1. */
static int scan_int_file(const char *path, const char *fmt)
{
	FILE *f = fopen(path, "r");
	int v = -1;

	if (f) {
		if (fscanf(f, fmt, &v) != 1)
			v = -1;
		fclose(f);
	}
	return v;
}

static int uprobe_pmu_type(void)
{
	return scan_int_file("/sys/bus/event_source/devices/uprobe/type", "%d");
}

/* The bit of perf_event_attr.config that makes a uprobe a return probe. */
static int uprobe_retprobe_bit(void)
{
	return scan_int_file("/sys/bus/event_source/devices/uprobe/format/retprobe",
			     "config:%d");
}

/* The start of the mapping named name in /proc/self/maps. */
static int maps_find(const char *name, unsigned long *start)
{
	char line[512];
	FILE *f = fopen("/proc/self/maps", "r");
	int ret = -1;

	if (!f)
		return -1;
	while (ret && fgets(line, sizeof(line), f))
		if (strstr(line, name) && sscanf(line, "%lx-", start) == 1)
			ret = 0;
	fclose(f);
	return ret;
}

/*
 * A uprobe on code in a --x file mapping: the kernel writes its int3 into
 * a COW copy of the page (FOLL_FORCE), which must stay XO, and runs the
 * probed instruction out of line; the perf counter sees every call.
 */
TEST(uprobe_on_xo_code)
{
	char path[] = "/tmp/xo-uprobe-XXXXXX";
	struct perf_event_attr attr = { 0 };
	const unsigned int calls = 20;
	uint8_t page[XO_PAGE];
	uint64_t count = 0;
	unsigned int i;
	int fd, pfd, rfd = -1, rbit, type = uprobe_pmu_type();
	unsigned long xol;
	char perms[5];
	uint8_t *x;

	if (type < 0)
		SKIP(return, "no uprobe PMU (/sys/bus/event_source/devices/uprobe/type): needs CONFIG_UPROBE_EVENTS");
	fd = mkstemp(path);
	if (fd < 0)
		SKIP(return, "no writable /tmp: %s", strerror(errno));
	xo_fill_page(page, MAGIC + 0x50);
	ASSERT_EQ(XO_PAGE, write(fd, page, XO_PAGE));
	x = mmap(NULL, XO_PAGE, PROT_EXEC, MAP_PRIVATE, fd, 0);
	ASSERT_NE(MAP_FAILED, x);
	ASSERT_PROBE(xo_check_call(x, MAGIC + 0x50));

	/* The function at file offset 0, counted for this process. */
	attr.size = sizeof(attr);
	attr.type = type;
	attr.config1 = (uintptr_t)path;
	attr.config2 = 0;
	pfd = syscall(SYS_perf_event_open, &attr, 0, -1, -1, 0);
	ASSERT_LE(0, pfd) TH_LOG("perf_event_open(uprobe %s+0): %s", path, strerror(errno));
	/* And a return probe: its trampoline is in the XOL page as well. */
	rbit = uprobe_retprobe_bit();
	if (rbit >= 0) {
		attr.config = 1ULL << rbit;
		rfd = syscall(SYS_perf_event_open, &attr, 0, -1, -1, 0);
		EXPECT_LE(0, rfd) TH_LOG("perf_event_open(uretprobe): %s", strerror(errno));
	}
	for (i = 0; i < calls; i++)
		EXPECT_PROBE(xo_check_call(x, MAGIC + 0x50));
	ASSERT_EQ(sizeof(count), read(pfd, &count, sizeof(count)));
	EXPECT_EQ(calls, count);
	if (rfd >= 0) {
		count = 0;
		ASSERT_EQ(sizeof(count), read(rfd, &count, sizeof(count)));
		EXPECT_EQ(calls, count) TH_LOG("uretprobe hits");
		close(rfd);
	}
	EXPECT_PROBE(xo_check_noread(x + 1));
	ASSERT_EQ(0, xo_maps_perms(getpid(), x, perms, NULL, NULL));
	EXPECT_STREQ("--xp", perms);

	/*
	 * The out-of-line (XOL) page the instruction ran from: a VM_EXEC-only
	 * special mapping, so with XO it is XO too (it holds copies of the
	 * probed, possibly XO, instructions). Without XO it is readable: no
	 * pkey applies to it.
	 */
	ASSERT_EQ(0, maps_find("[uprobes]", &xol)) TH_LOG("no [uprobes] mapping");
	ASSERT_EQ(0, xo_maps_perms(getpid(), (void *)xol, perms, NULL, NULL));
	EXPECT_STREQ("--xp", perms);
	if (xo_mech == XO_MECH_NR) {
		EXPECT_PROBE(xo_check_noread((void *)xol));
	} else {
		EXPECT_PROBE(xo_check_readable((void *)xol, NULL, 1));
	}

	/* Unregistered: the original code again, still XO. */
	close(pfd);
	EXPECT_PROBE(xo_check_call(x, MAGIC + 0x50));
	EXPECT_PROBE(xo_check_noread(x + 1));
	unlink(path);
}

/* ---------------- core dumps ---------------- */

/*
 * A core dump contains anonymous XO code, as it contains the rest of the
 * process: the dump is the owner's debugging view, like ptrace, which reads
 * XO by design (Documentation/arch/x86/kvm-xo.rst). Its PT_LOAD says PF_X
 * only. Under pkeys the dumper's PKRU denies the read: the page is zeros.
 */
TEST(core_dump_of_xo_code)
{
	char dir[] = "/tmp/xo-core-XXXXXX", pattern[256] = "", path[PATH_MAX] = "";
	uint8_t want[XO_PAGE], *core = NULL, *x;
	Elf64_Ehdr *eh;
	Elf64_Phdr *ph = NULL;
	struct dirent *de;
	int fd, status, i;
	ssize_t len;
	size_t size;
	DIR *d;
	pid_t pid;

	fd = open("/proc/sys/kernel/core_pattern", O_RDONLY);
	if (fd < 0)
		SKIP(return, "no /proc/sys/kernel/core_pattern: the kernel has no CONFIG_COREDUMP");
	len = read(fd, pattern, sizeof(pattern) - 1);
	close(fd);
	if (len > 0 && pattern[len - 1] == '\n')
		pattern[len - 1] = 0;
	if (pattern[0] == '|' || strchr(pattern, '/') || strchr(pattern, '%') ||
	    strncmp(pattern, "core", 4))
		SKIP(return, "core_pattern \"%s\": not a plain core file in the cwd", pattern);
	ASSERT_NE(NULL, mkdtemp(dir));
	x = xo_map_code(1, PROT_EXEC, MAGIC + 0x60);
	ASSERT_NE(NULL, x);
	xo_fill_page(want, MAGIC + 0x60);
	ASSERT_PROBE(xo_check_call(x, MAGIC + 0x60));

	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		struct rlimit rl = { RLIM_INFINITY, RLIM_INFINITY };

		if (chdir(dir) || setrlimit(RLIMIT_CORE, &rl))
			_exit(2);
		prctl(PR_SET_DUMPABLE, 1);
		/* The default: anonymous private and shared, ELF headers. */
		fd = open("/proc/self/coredump_filter", O_WRONLY);
		if (fd >= 0) {
			if (write(fd, "0x33", 4) != 4)
				_exit(2);
			close(fd);
		}
		signal(SIGABRT, SIG_DFL);
		abort();
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT)
		TH_LOG("status %#x", status);
	ASSERT_TRUE(WCOREDUMP(status)) TH_LOG("no core dumped");
	d = opendir(dir);
	ASSERT_NE(NULL, d);
	while ((de = readdir(d)))
		if (!strncmp(de->d_name, "core", 4))
			snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
	closedir(d);
	ASSERT_NE(0, path[0]) TH_LOG("no core file in %s", dir);
	fd = open(path, O_RDONLY);
	ASSERT_LE(0, fd);
	size = lseek(fd, 0, SEEK_END);
	core = malloc(size);
	ASSERT_NE(NULL, core);
	ASSERT_EQ((ssize_t)size, pread(fd, core, size, 0));
	close(fd);
	unlink(path);
	rmdir(dir);

	eh = (Elf64_Ehdr *)core;
	ASSERT_EQ(0, memcmp(eh->e_ident, ELFMAG, SELFMAG));
	ASSERT_EQ(ET_CORE, eh->e_type);
	ASSERT_LE(eh->e_phoff + (size_t)eh->e_phnum * sizeof(*ph), size);
	for (i = 0; i < eh->e_phnum; i++) {
		Elf64_Phdr *p = (Elf64_Phdr *)(core + eh->e_phoff) + i;

		if (p->p_type == PT_LOAD && p->p_vaddr == (uintptr_t)x)
			ph = p;
	}
	ASSERT_NE(NULL, ph) TH_LOG("no PT_LOAD for the XO page %p", x);
	EXPECT_EQ(PF_X, ph->p_flags);
	ASSERT_EQ(XO_PAGE, ph->p_filesz);
	ASSERT_LE(ph->p_offset + XO_PAGE, size);
	if (xo_mech == XO_MECH_PKEY) {
		static const uint8_t zeros[XO_PAGE];

		EXPECT_EQ(0, memcmp(core + ph->p_offset, zeros, XO_PAGE))
			TH_LOG("pkey: the dump has the XO page's bytes");
	} else {
		EXPECT_EQ(0, memcmp(core + ph->p_offset, want, XO_PAGE))
			TH_LOG("the dump lacks the XO code");
	}
	/* The dumping process's own mapping is still XO. */
	EXPECT_PROBE(xo_check_noread(x + 5));
	free(core);
}

/* ---------------- swap, migration, NUMA balancing, KSM, hugetlb ---------------- */

/*
 * Each check below runs an mm operation that takes the pages of an XO
 * mapping away and brings them back (a swap entry, a migration entry, a
 * NUMA-hinting PROT_NONE entry, a KSM frame, a split or collapsed huge
 * page): the entry the kernel rebuilds must be XO again (calls work, loads
 * fault), and a readable mapping of the same data must stay readable.
 */

#ifndef MADV_MERGEABLE
#define MADV_MERGEABLE 12
#endif
#ifndef MADV_UNMERGEABLE
#define MADV_UNMERGEABLE 13
#endif
#ifndef MADV_HUGEPAGE
#define MADV_HUGEPAGE 14
#endif
#ifndef MADV_COLLAPSE
#define MADV_COLLAPSE 25
#endif
#ifndef MAP_HUGETLB
#define MAP_HUGETLB 0x40000
#endif
#ifndef MAP_HUGE_SHIFT
#define MAP_HUGE_SHIFT 26
#endif
#ifndef MFD_HUGETLB
#define MFD_HUGETLB 4U
#endif

#define PM_SWAPPED (1ULL << 62)
#define PM_PRESENT (1ULL << 63)
#define KPF_THP_BIT 22

/* The raw /proc/self/pagemap entry of addr (0 when unreadable). */
static uint64_t pagemap_of(const void *addr)
{
	uint64_t e = 0;
	int fd = open("/proc/self/pagemap", O_RDONLY);

	if (fd < 0)
		return 0;
	if (pread(fd, &e, 8, (uintptr_t)addr / XO_PAGE * 8) != 8)
		e = 0;
	close(fd);
	return e;
}

/* Whether /proc/kpageflags says the frame pfn belongs to a THP (-1: unknown). */
static int pfn_is_thp(uint64_t pfn)
{
	uint64_t flags = 0;
	int fd = open("/proc/kpageflags", O_RDONLY);

	if (fd < 0 || !pfn)
		return -1;
	if (pread(fd, &flags, 8, pfn * 8) != 8) {
		close(fd);
		return -1;
	}
	close(fd);
	return !!(flags & (1ULL << KPF_THP_BIT));
}

static int write_str(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = write(fd, s, strlen(s));
	close(fd);
	return n == (ssize_t)strlen(s) ? 0 : -1;
}

static long read_long(const char *path)
{
	char buf[64] = "";
	int fd = open(path, O_RDONLY);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = 0;
	return strtol(buf, NULL, 0);
}

static int write_long(const char *path, long v)
{
	char buf[32];

	snprintf(buf, sizeof(buf), "%ld", v);
	return write_str(path, buf);
}

/* A number of this task's /proc/self/sched ("name : value"; -1: absent). */
static long sched_stat(const char *name)
{
	char line[256];
	size_t n = strlen(name);
	long v = -1;
	FILE *f = fopen("/proc/self/sched", "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, name, n) && (line[n] == ' ' || line[n] == ':')) {
			char *colon = strchr(line, ':');

			if (colon)
				v = strtol(colon + 1, NULL, 10);
			break;
		}
	fclose(f);
	return v;
}

static void sleep_ms(unsigned int ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/*
 * pages pages at x, filled by xo_fill_page(magic + i) and mapped XO: each
 * page's function returns its magic, and loads at two offsets of each
 * page (never touched by the call's first bytes) fault as the mechanism says.
 */
static const char *xo_pages_ok(uint8_t *x, size_t pages, uint32_t magic)
{
	const char *m;
	size_t i;

	for (i = 0; i < pages; i++) {
		uint8_t *pg = x + i * XO_PAGE;

		m = xo_check_call(pg, magic + i);
		if (!m)
			m = xo_check_noread(pg + 64);
		if (!m)
			m = xo_check_noread(pg + XO_PAGE - 1);
		if (m)
			return xo_fmt("XO page %zu: %s", i, m);
	}
	return NULL;
}

/* The same, read through a readable mapping r of the same data. */
static const char *readable_pages_ok(const uint8_t *r, size_t pages, uint32_t magic)
{
	uint8_t want[XO_PAGE];
	const char *m;
	size_t i;

	for (i = 0; i < pages; i++) {
		xo_fill_page(want, magic + i);
		m = xo_check_readable(r + i * XO_PAGE + 60, want + 60, 16);
		if (m)
			return xo_fmt("readable page %zu: %s", i, m);
	}
	return NULL;
}

/*
 * A MAP_SHARED anonymous (shmem) object of pages pages, filled with code:
 * *rw its read-write mapping, the return value a second, XO, mapping of
 * the same frames (mremap of old_size 0 duplicates a shared mapping).
 */
static uint8_t *shared_xo_alias(size_t pages, uint32_t magic, uint8_t **rw)
{
	size_t i, len = pages * XO_PAGE;
	uint8_t *s = mmap(NULL, len, PROT_READ | PROT_WRITE,
			  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	uint8_t *x;

	if (s == MAP_FAILED)
		return NULL;
	for (i = 0; i < pages; i++)
		xo_fill_page(s + i * XO_PAGE, magic + i);
	x = mremap(s, 0, len, MREMAP_MAYMOVE);
	if (x == MAP_FAILED || mprotect(x, len, PROT_EXEC))
		return NULL;
	*rw = s;
	return x;
}

/*
 * A check that changes the whole machine (KSM and the NUMA scanner's
 * knobs, CPU hotplug) runs only in the test guest (xo.timeout= on its
 * command line), or when the environment variable ENV is 1.
 */
static int machine_change_allowed(const char *env_name)
{
	char cmdline[4096] = "";
	const char *env = getenv(env_name);
	int fd = open("/proc/cmdline", O_RDONLY);

	if (fd >= 0) {
		if (read(fd, cmdline, sizeof(cmdline) - 1) < 0)
			cmdline[0] = 0;
		close(fd);
	}
	return (env && !strcmp(env, "1")) || strstr(cmdline, "xo.timeout=");
}

static int machine_tuning_allowed(void)
{
	return machine_change_allowed("XO_TEST_TUNE");
}

#define NEED_TUNING(what) do { \
	if (!machine_tuning_allowed()) \
		SKIP(return, "changes %s machine-wide: only in the test guest (xo.timeout= in /proc/cmdline) or with XO_TEST_TUNE=1", what); \
} while (0)

static int swap_active(void)
{
	char line[256];
	int n = 0;
	FILE *f = fopen("/proc/swaps", "r");

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		n++;
	fclose(f);
	return n > 1;
}

/* How many of pages pages at p pagemap reports swapped out. */
static size_t count_swapped(const uint8_t *p, size_t pages)
{
	size_t i, n = 0;

	for (i = 0; i < pages; i++)
		if ((pagemap_of(p + i * XO_PAGE) & (PM_SWAPPED | PM_PRESENT)) == PM_SWAPPED)
			n++;
	return n;
}

static size_t count_resident(const uint8_t *p, size_t pages)
{
	size_t i, n = 0;

	for (i = 0; i < pages; i++)
		n += resident(p + i * XO_PAGE) == 1;
	return n;
}

#define SWAP_PAGES 16

/*
 * MADV_PAGEOUT writes XO anonymous pages (private, and shmem through its
 * one XO mapping) to the zram swap device; the swap PTE (anon) or the
 * swapped shmem page holds no permission. Brought back by an instruction
 * fetch (do_swap_page, shmem_fault), each entry is XO again. A load from a
 * swapped-out XO page is refused from the VMA and leaves it swapped out,
 * as from a never-populated one (read_untouched_not_populated).
 */
TEST(swap_out_in_xo_anon)
{
	const size_t len = SWAP_PAGES * XO_PAGE;
	const uint32_t magic = MAGIC + 0x100;
	int refused = xo_mech != XO_MECH_READABLE;
	uint8_t *x, *r, *sx, *srw, *sr;
	size_t swapped, i;
	int round;

	if (!swap_active())
		SKIP(return, "no swap device in /proc/swaps (the test guest's /init swaps on zram0)");
	x = xo_map_code(SWAP_PAGES, PROT_EXEC, magic);
	r = xo_map_code(SWAP_PAGES, PROT_READ, magic);
	sx = shared_xo_alias(SWAP_PAGES, magic, &srw);
	ASSERT_NE(NULL, x);
	ASSERT_NE(NULL, r);
	ASSERT_NE(NULL, sx);
	ASSERT_PROBE(xo_pages_ok(x, SWAP_PAGES, magic));
	ASSERT_PROBE(xo_pages_ok(sx, SWAP_PAGES, magic));
	/* The shmem pages must be mapped once to be paged out: drop the RW view. */
	ASSERT_EQ(0, munmap(srw, len));

	for (round = 0; round < 5; round++) {
		ASSERT_EQ(0, madvise(x, len, MADV_PAGEOUT))
			TH_LOG("MADV_PAGEOUT: %s", strerror(errno));
		ASSERT_EQ(0, madvise(r, len, MADV_PAGEOUT));
		ASSERT_EQ(0, madvise(sx, len, MADV_PAGEOUT));
		if (count_swapped(x, SWAP_PAGES) == SWAP_PAGES &&
		    count_swapped(r, SWAP_PAGES) == SWAP_PAGES &&
		    count_resident(sx, SWAP_PAGES) == 0)
			break;
		sleep_ms(100);
	}
	swapped = count_swapped(x, SWAP_PAGES);
	TH_LOG("after MADV_PAGEOUT: XO anon %zu/%d swapped, readable anon %zu/%d, XO shmem %zu/%d resident",
	       swapped, SWAP_PAGES, count_swapped(r, SWAP_PAGES), SWAP_PAGES,
	       count_resident(sx, SWAP_PAGES), SWAP_PAGES);
	ASSERT_EQ(SWAP_PAGES, swapped) TH_LOG("the XO anon pages were not swapped out");
	ASSERT_EQ(0, count_resident(sx, SWAP_PAGES))
		TH_LOG("the XO shmem pages were not swapped out");

	/* Loads first: refused from the VMA, nothing swapped in. */
	for (i = 0; i < SWAP_PAGES; i += 3) {
		EXPECT_PROBE(xo_check_noread(x + i * XO_PAGE + 64));
		EXPECT_PROBE(xo_check_noread(sx + i * XO_PAGE + 64));
	}
	if (refused) {
		EXPECT_EQ(SWAP_PAGES, count_swapped(x, SWAP_PAGES))
			TH_LOG("a refused load swapped an XO anon page in");
		EXPECT_EQ(0, count_resident(sx, SWAP_PAGES))
			TH_LOG("a refused load swapped an XO shmem page in");
	}
	/* Instruction fetches swap them in: XO entries, the right code. */
	EXPECT_PROBE(xo_pages_ok(x, SWAP_PAGES, magic));
	EXPECT_PROBE(xo_pages_ok(sx, SWAP_PAGES, magic));
	EXPECT_EQ(0, count_swapped(x, SWAP_PAGES)) TH_LOG("calls left XO pages swapped out");
	EXPECT_EQ(SWAP_PAGES, count_resident(sx, SWAP_PAGES));
	EXPECT_PROBE(xo_check_store_faults(x + 200));
	/* The readable copy swaps in readable; a new readable view of the shmem too. */
	EXPECT_PROBE(readable_pages_ok(r, SWAP_PAGES, magic));
	sr = mremap(sx, 0, len, MREMAP_MAYMOVE);
	ASSERT_NE(MAP_FAILED, sr);
	ASSERT_EQ(0, mprotect(sr, len, PROT_READ));
	EXPECT_PROBE(readable_pages_ok(sr, SWAP_PAGES, magic));
	/* Out once more and in: again loads first, then calls. */
	ASSERT_EQ(0, munmap(sr, len));
	ASSERT_EQ(0, madvise(x, len, MADV_PAGEOUT));
	for (i = 0; i < SWAP_PAGES; i++)
		EXPECT_PROBE(xo_check_noread(x + i * XO_PAGE + 100));
	EXPECT_PROBE(xo_pages_ok(x, SWAP_PAGES, magic));
}

/* ---- NUMA: the two nodes of numa=fake=2 ---- */

static int numa_nodes(void)
{
	char buf[64] = "";
	int fd = open("/sys/devices/system/node/online", O_RDONLY);
	int a, b;
	ssize_t n;

	if (fd < 0)
		return 1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 1;
	buf[n] = 0;
	if (sscanf(buf, "%d-%d", &a, &b) == 2)
		return b - a + 1;
	return 1;
}

/* The node of the page at p (move_pages query), or -errno. */
static int node_of(const void *p)
{
	void *pages[1] = { (void *)p };
	int status = -1;

	if (syscall(SYS_move_pages, 0, 1UL, pages, NULL, &status, 0))
		return -errno;
	return status;
}

/*
 * Move pages pages at p to node; 0 when every one now is there (status
 * per page), else the number that is not, -1 on a syscall error.
 */
static int move_to_node(uint8_t *p, size_t pages, int node)
{
	void *addrs[64];
	int nodes[64], status[64];
	size_t i;
	int bad = 0;

	if (pages > 64)
		return -1;
	for (i = 0; i < pages; i++) {
		addrs[i] = p + i * XO_PAGE;
		nodes[i] = node;
		status[i] = -1;
	}
	if (syscall(SYS_move_pages, 0, (unsigned long)pages, addrs, nodes, status,
		    MPOL_MF_MOVE_ALL))
		return -1;
	for (i = 0; i < pages; i++)
		bad += status[i] != node;
	return bad;
}

static int current_node(void)
{
	unsigned int cpu, node;

	if (syscall(SYS_getcpu, &cpu, &node, NULL))
		return -1;
	return (int)node;
}

#define NEED_TWO_NODES() do { \
	if (numa_nodes() < 2) \
		SKIP(return, "one NUMA node online: the test guest boots with numa=fake=2"); \
} while (0)

struct exec_loop {
	uint8_t *x;
	size_t pages;
	uint32_t magic;
	volatile int stop;
	unsigned long rounds, bad;
	char first_bad[256];
};

/* Call and probe the XO pages until told to stop; count what goes wrong. */
static void *exec_loop_thread(void *arg)
{
	struct exec_loop *l = arg;

	while (!l->stop) {
		const char *m = xo_pages_ok(l->x, l->pages, l->magic);

		if (m && !l->bad++)
			snprintf(l->first_bad, sizeof(l->first_bad), "%s", m);
		l->rounds++;
	}
	return NULL;
}

#define MIG_PAGES 8

/*
 * move_pages(2) between the two fake nodes: each page is unmapped to a
 * migration entry, copied, and mapped again from it (remove_migration_pte)
 * on the other node, for private XO pages, a readable copy, and a shmem
 * frame with an XO and an RW mapping. A second thread calls and probes
 * the XO pages meanwhile, so faults meet the migration entries.
 */
TEST(migrate_move_pages_xo)
{
	const uint32_t magic = MAGIC + 0x200;
	uint8_t *x, *r, *sx, *srw;
	uint64_t before[MIG_PAGES];
	struct exec_loop l = { .pages = MIG_PAGES, .magic = magic };
	pthread_t t;
	int from, to, i, moved = 0;

	NEED_TWO_NODES();
	x = xo_map_code(MIG_PAGES, PROT_EXEC, magic);
	r = xo_map_code(MIG_PAGES, PROT_READ, magic);
	sx = shared_xo_alias(MIG_PAGES, magic, &srw);
	ASSERT_NE(NULL, x);
	ASSERT_NE(NULL, r);
	ASSERT_NE(NULL, sx);
	ASSERT_PROBE(xo_pages_ok(x, MIG_PAGES, magic));
	ASSERT_PROBE(xo_pages_ok(sx, MIG_PAGES, magic));
	EXPECT_PROBE(readable_pages_ok(r, MIG_PAGES, magic));

	from = node_of(x);
	ASSERT_LE(0, from) TH_LOG("move_pages query: %s", strerror(-from));
	to = !from;
	for (i = 0; i < MIG_PAGES; i++)
		before[i] = pfn_of(x + i * XO_PAGE);
	ASSERT_EQ(0, move_to_node(x, MIG_PAGES, to)) TH_LOG("move_pages: %s", strerror(errno));
	ASSERT_EQ(0, move_to_node(r, MIG_PAGES, to));
	ASSERT_EQ(0, move_to_node(sx, MIG_PAGES, to));
	for (i = 0; i < MIG_PAGES; i++)
		moved += before[i] && pfn_of(x + i * XO_PAGE) != before[i];
	EXPECT_EQ(MIG_PAGES, moved) TH_LOG("pagemap: %d of %d XO frames changed", moved, MIG_PAGES);
	EXPECT_EQ(to, node_of(x + XO_PAGE));
	EXPECT_PROBE(xo_pages_ok(x, MIG_PAGES, magic));
	EXPECT_PROBE(xo_pages_ok(sx, MIG_PAGES, magic));
	EXPECT_PROBE(readable_pages_ok(r, MIG_PAGES, magic));
	EXPECT_PROBE(readable_pages_ok(srw, MIG_PAGES, magic));
	EXPECT_PROBE(xo_check_store_faults(x + 300));

	/* Back and forth while another thread runs the code and probes it. */
	l.x = x;
	ASSERT_EQ(0, pthread_create(&t, NULL, exec_loop_thread, &l));
	for (i = 0; i < 20; i++) {
		EXPECT_EQ(0, move_to_node(x, MIG_PAGES, i & 1 ? to : from));
		EXPECT_EQ(0, move_to_node(sx, MIG_PAGES, i & 1 ? to : from));
	}
	l.stop = 1;
	pthread_join(t, NULL);
	TH_LOG("20 migrations under %lu rounds of calls and loads", l.rounds);
	EXPECT_EQ(0, l.bad) TH_LOG("%lu bad rounds, first: %s", l.bad, l.first_bad);
	EXPECT_PROBE(xo_pages_ok(x, MIG_PAGES, magic));
	EXPECT_PROBE(xo_pages_ok(sx, MIG_PAGES, magic));
	EXPECT_PROBE(readable_pages_ok(srw, MIG_PAGES, magic));
}

#define COMPACT_PAGES 64

/*
 * /proc/sys/vm/compact_memory migrates movable pages of every zone towards
 * its end. XO pages allocated between filler pages that are then freed
 * sit in sparse page blocks, which compaction empties: their entries go
 * through migration entries. Which frames move is up to the scanners (with
 * two nodes the pages are put low on the little-used node 1 first); the
 * check needs one XO page moved, else it says so and skips.
 */
TEST(migrate_compact_memory_xo)
{
	const uint32_t magic = MAGIC + 0x300;
	const size_t len = COMPACT_PAGES * XO_PAGE;
	uint8_t *x, *fill, *r;
	uint64_t before[COMPACT_PAGES];
	int i, moved = 0, attempt;

	if (access("/proc/sys/vm/compact_memory", W_OK))
		SKIP(return, "/proc/sys/vm/compact_memory: %s", strerror(errno));
	x = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	fill = mmap(NULL, 8 * len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, x);
	ASSERT_NE(MAP_FAILED, fill);
	/* Interleaved allocation: one XO page, then eight filler pages. */
	for (i = 0; i < COMPACT_PAGES; i++) {
		int j;

		xo_fill_page(x + i * XO_PAGE, magic + i);
		for (j = 0; j < 8; j++)
			fill[(i * 8 + j) * XO_PAGE] = 1;
	}
	ASSERT_EQ(0, munmap(fill, 8 * len));
	ASSERT_EQ(0, mprotect(x, len, PROT_EXEC));
	r = xo_map_code(COMPACT_PAGES, PROT_READ, magic);
	ASSERT_NE(NULL, r);
	ASSERT_PROBE(xo_pages_ok(x, COMPACT_PAGES, magic));
	/*
	 * With two nodes, onto node 1, which the kernel hardly uses, below
	 * 16M of filler bound there first and freed after: compaction's free
	 * scanner starts at the top of the zone, so pages in the top page
	 * blocks would stay where they are.
	 */
	if (numa_nodes() >= 2) {
		unsigned long node1 = 1UL << 1;
		size_t big = 4096 * XO_PAGE, off;

		fill = mmap(NULL, big, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		ASSERT_NE(MAP_FAILED, fill);
		ASSERT_EQ(0, syscall(SYS_mbind, fill, big, MPOL_BIND, &node1, 8 * sizeof(node1), 0))
			TH_LOG("mbind: %s", strerror(errno));
		for (off = 0; off < big; off += XO_PAGE)
			fill[off] = 1;
		ASSERT_EQ(0, move_to_node(x, COMPACT_PAGES, 1));
		ASSERT_EQ(0, move_to_node(r, COMPACT_PAGES, 1));
		ASSERT_EQ(0, munmap(fill, big));
	}
	for (i = 0; i < COMPACT_PAGES; i++)
		before[i] = pfn_of(x + i * XO_PAGE);
	ASSERT_NE(0, before[0]) TH_LOG("no PFNs in /proc/self/pagemap");

	for (attempt = 0; attempt < 3 && !moved; attempt++) {
		ASSERT_EQ(0, write_str("/proc/sys/vm/compact_memory", "1"))
			TH_LOG("compact_memory: %s", strerror(errno));
		for (i = 0; i < COMPACT_PAGES; i++)
			moved += pfn_of(x + i * XO_PAGE) != before[i];
	}
	TH_LOG("compaction moved %d of %d XO pages (%d runs; PFNs %#llx..%#llx before)", moved,
	       COMPACT_PAGES, attempt, (unsigned long long)before[0],
	       (unsigned long long)before[COMPACT_PAGES - 1]);
	EXPECT_PROBE(xo_pages_ok(x, COMPACT_PAGES, magic));
	EXPECT_PROBE(readable_pages_ok(r, COMPACT_PAGES, magic));
	EXPECT_PROBE(xo_check_store_faults(x + 100));
	if (!moved)
		SKIP(return, "compaction moved none of the XO pages (they sat beyond the scanners' meeting point)");
}

/* ---- THP helpers ---- */

static int thp_madvise_allowed(void)
{
	char buf[128] = "";
	int fd = open("/sys/kernel/mm/transparent_hugepage/enabled", O_RDONLY);

	if (fd < 0)
		return 0;
	if (read(fd, buf, sizeof(buf) - 1) < 0)
		buf[0] = 0;
	close(fd);
	return !strstr(buf, "[never]");
}

/*
 * A 2M-aligned anonymous THP filled with code (page i: magic + i) and made
 * XO; NULL if the fault did not get a huge page (*why says).
 */
static uint8_t *xo_thp(uint32_t magic, const char **why)
{
	uint8_t *raw = mmap(NULL, 2 * SZ_2M, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	uint8_t *p;
	size_t off;

	*why = NULL;
	if (raw == MAP_FAILED) {
		*why = "mmap failed";
		return NULL;
	}
	p = (uint8_t *)(((uintptr_t)raw + SZ_2M - 1) & ~(SZ_2M - 1));
	if (madvise(p, SZ_2M, MADV_HUGEPAGE)) {
		*why = "MADV_HUGEPAGE failed";
		return NULL;
	}
	for (off = 0; off < SZ_2M; off += XO_PAGE)
		xo_fill_page(p + off, magic + off / XO_PAGE);
	if (smaps_kb(p, "AnonHugePages") < 2048) {
		*why = "the fault got no huge page (AnonHugePages 0 kB: no free 2M block)";
		return NULL;
	}
	if (mprotect(p, SZ_2M, PROT_EXEC)) {
		*why = "mprotect failed";
		return NULL;
	}
	return p;
}

#define NEED_XO_THP(p, magic) do { \
	const char *__why; \
	if (!thp_madvise_allowed()) \
		SKIP(return, "transparent_hugepage/enabled is [never]"); \
	p = xo_thp(magic, &__why); \
	if (!p) \
		SKIP(return, "no THP: %s", __why); \
} while (0)

/* Calls and loads over a 2M range of code (page i: magic + i), sampled. */
static const char *xo_thp_ok(uint8_t *p, uint32_t magic)
{
	size_t off;
	const char *m;

	for (off = 0; off < SZ_2M; off += 61 * XO_PAGE) {
		m = xo_check_call(p + off, magic + off / XO_PAGE);
		if (!m)
			m = xo_check_noread(p + off + 80);
		if (m)
			return xo_fmt("at +%#zx: %s", off, m);
	}
	m = xo_check_call(p + SZ_2M - XO_PAGE, magic + SZ_2M / XO_PAGE - 1);
	if (!m)
		m = xo_check_noread(p + SZ_2M - 1);
	return m;
}

/*
 * /sys/kernel/debug/split_huge_pages splits the THPs of a range: an anon
 * THP is unmapped to migration entries (try_to_migrate), split, and its
 * 512 pages mapped again from them. A PMD-mapped XO THP, and a THP whose
 * PMD mprotect() already split into an XO half and an r-x half: each new
 * entry takes the protection of its own VMA.
 */
TEST(split_huge_pages_xo_thp)
{
	const char *ctl = "/sys/kernel/debug/split_huge_pages";
	const uint32_t magic = MAGIC + 0x400;
	uint8_t *p, *q, want[XO_PAGE];
	const char *why;
	char cmd[128];
	int thp;

	if (access(ctl, W_OK))
		SKIP(return, "%s: %s (debugfs not mounted?)", ctl, strerror(errno));
	NEED_XO_THP(p, magic);
	ASSERT_PROBE(xo_thp_ok(p, magic));
	snprintf(cmd, sizeof(cmd), "%d,%#lx,%#lx", getpid(), (unsigned long)p,
		 (unsigned long)(p + SZ_2M));
	ASSERT_EQ(0, write_str(ctl, cmd)) TH_LOG("%s <- %s: %s", ctl, cmd, strerror(errno));
	EXPECT_EQ(0, smaps_kb(p, "AnonHugePages")) TH_LOG("the XO THP was not split");
	thp = pfn_is_thp(pfn_of(p + XO_PAGE));
	EXPECT_NE(1, thp) TH_LOG("kpageflags: still a THP frame");
	EXPECT_PROBE(xo_thp_ok(p, magic));
	EXPECT_PROBE(xo_check_store_faults(p + 5 * XO_PAGE));

	/* Mixed: the upper half r-x, the PMD split into PTEs of one folio. */
	q = xo_thp(magic + 0x1000, &why);
	if (!q)
		SKIP(return, "second THP: %s", why);
	ASSERT_EQ(0, mprotect(q + SZ_2M / 2, SZ_2M / 2, PROT_READ | PROT_EXEC));
	EXPECT_EQ(1, pfn_is_thp(pfn_of(q + SZ_2M / 2)))
		TH_LOG("kpageflags: not a THP before the split");
	snprintf(cmd, sizeof(cmd), "%d,%#lx,%#lx", getpid(), (unsigned long)q,
		 (unsigned long)(q + SZ_2M));
	ASSERT_EQ(0, write_str(ctl, cmd)) TH_LOG("%s <- %s: %s", ctl, cmd, strerror(errno));
	EXPECT_EQ(0, pfn_is_thp(pfn_of(q + SZ_2M / 2)))
		TH_LOG("kpageflags: the PTE-mapped THP was not split");
	EXPECT_PROBE(xo_pages_ok(q, 4, magic + 0x1000));
	EXPECT_PROBE(xo_pages_ok(q + SZ_2M / 2 - 4 * XO_PAGE, 4, magic + 0x1000 + 256 - 4));
	xo_fill_page(want, magic + 0x1000 + 256);
	EXPECT_PROBE(xo_check_readable(q + SZ_2M / 2 + 64, want + 64, 64));
	EXPECT_PROBE(xo_check_call(q + SZ_2M / 2, magic + 0x1000 + 256));
	xo_fill_page(want, magic + 0x1000 + 511);
	EXPECT_PROBE(xo_check_readable(q + SZ_2M - XO_PAGE + 64, want + 64, 64));
}

#define NUMAB "/sys/kernel/debug/sched/numa_balancing/"

FIXTURE(numa_hinting) {
	long delay, period_min, balancing;
};

FIXTURE_SETUP(numa_hinting)
{
	self->delay = read_long(NUMAB "scan_delay_ms");
	self->period_min = read_long(NUMAB "scan_period_min_ms");
	self->balancing = read_long("/proc/sys/kernel/numa_balancing");
}

FIXTURE_TEARDOWN(numa_hinting)
{
	if (self->delay >= 0)
		write_long(NUMAB "scan_delay_ms", self->delay);
	if (self->period_min >= 0)
		write_long(NUMAB "scan_period_min_ms", self->period_min);
	if (self->balancing >= 0)
		write_long("/proc/sys/kernel/numa_balancing", self->balancing);
}

#define HINT_PAGES 16

/*
 * NUMA balancing's scanner (task_numa_work, change_prot_numa) turns the
 * task's PTEs into PROT_NONE hinting entries; the fault on one restores
 * the PTE from the VMA (do_numa_page) or migrates the page to the node of
 * the faulting CPU. Nothing in user space can ask for a scan: the check
 * shortens the scan delay and period (debugfs sched/numa_balancing),
 * puts the pages on the node this CPU is not on (a single-threaded task's
 * scan skips pages already local), and runs the code until the hinting
 * faults have brought every XO page home. A load of an XO page must fault
 * at every stage, as must a load as the first touch of a hinting entry.
 */
TEST_F_TIMEOUT(numa_hinting, faults_on_xo_pages, 180)
{
	const uint32_t magic = MAGIC + 0x500;
	long seq0, migrated0, seq, migrated;
	uint8_t *x, *r;
	int here, away, i, home = 0, loads_bad = 0;
	time_t deadline;

	NEED_TWO_NODES();
	NEED_TUNING("the NUMA balancing scan period");
	if (self->balancing < 0)
		SKIP(return, "no /proc/sys/kernel/numa_balancing");
	if (self->delay < 0 || self->period_min < 0)
		SKIP(return, "no %s (debugfs not mounted?)", NUMAB);
	seq0 = sched_stat("mm->numa_scan_seq");
	migrated0 = sched_stat("numa_pages_migrated");
	if (seq0 < 0 || migrated0 < 0)
		SKIP(return, "no NUMA numbers in /proc/self/sched (needs CONFIG_SCHED_DEBUG)");
	ASSERT_EQ(0, write_long("/proc/sys/kernel/numa_balancing", 1));
	ASSERT_EQ(0, write_long(NUMAB "scan_delay_ms", 0));
	ASSERT_EQ(0, write_long(NUMAB "scan_period_min_ms", 10));
	ASSERT_EQ(0, xo_pin_to_cpu(0));
	here = current_node();
	ASSERT_LE(0, here);
	away = !here;

	x = xo_map_code(HINT_PAGES, PROT_EXEC, magic);
	r = xo_map_code(HINT_PAGES, PROT_READ, magic);
	ASSERT_NE(NULL, x);
	ASSERT_NE(NULL, r);
	ASSERT_PROBE(xo_pages_ok(x, HINT_PAGES, magic));
	ASSERT_EQ(0, move_to_node(x, HINT_PAGES, away));
	ASSERT_EQ(0, move_to_node(r, HINT_PAGES, away));

	deadline = time(NULL) + 90;
	while (time(NULL) < deadline) {
		/* Loads first, so some meet a fresh hinting entry as first touch. */
		for (i = 0; i < HINT_PAGES; i++)
			loads_bad += !!xo_check_noread(x + i * XO_PAGE + 64);
		EXPECT_PROBE(xo_pages_ok(x, HINT_PAGES, magic));
		EXPECT_PROBE(readable_pages_ok(r, HINT_PAGES, magic));
		for (home = 0, i = 0; i < HINT_PAGES; i++)
			home += node_of(x + i * XO_PAGE) == here;
		if (home == HINT_PAGES || _metadata->exit_code)
			break;
	}
	seq = sched_stat("mm->numa_scan_seq");
	migrated = sched_stat("numa_pages_migrated");
	TH_LOG("NUMA balancing: %ld scan passes, %ld pages migrated by hinting faults; %d/%d XO pages back on node %d",
	       seq - seq0, migrated - migrated0, home, HINT_PAGES, here);
	EXPECT_EQ(0, loads_bad) TH_LOG("%d loads of XO pages did not fault as expected", loads_bad);
	ASSERT_LT(seq0, seq) TH_LOG("the scanner made no pass in 90 s");
	/* Only a hinting fault migrates pages and counts them here. */
	EXPECT_EQ(HINT_PAGES, home) TH_LOG("hinting faults did not migrate the XO pages home");
	EXPECT_LE(migrated0 + HINT_PAGES, migrated);
	EXPECT_PROBE(xo_pages_ok(x, HINT_PAGES, magic));
	EXPECT_PROBE(readable_pages_ok(r, HINT_PAGES, magic));
	EXPECT_PROBE(xo_check_store_faults(x + 8));
}

#define KSM "/sys/kernel/mm/ksm/"
#define KSM_PAGES 8

FIXTURE(ksm) {
	long run, pages_to_scan, sleep_ms;
};

FIXTURE_SETUP(ksm)
{
	self->run = read_long(KSM "run");
	self->pages_to_scan = read_long(KSM "pages_to_scan");
	self->sleep_ms = read_long(KSM "sleep_millisecs");
}

FIXTURE_TEARDOWN(ksm)
{
	if (self->run < 0)
		return;
	write_long(KSM "pages_to_scan", self->pages_to_scan);
	write_long(KSM "sleep_millisecs", self->sleep_ms);
	write_long(KSM "run", self->run);
}

/*
 * KSM merges an XO page and a readable (RW) page of the same bytes into
 * one write-protected KSM frame, mapped XO in one VMA (replace_page maps
 * it with the VMA's protection) and readable in the other. A write to
 * the RW page breaks the sharing by CoW; MADV_UNMERGEABLE unshares the
 * XO page (break_ksm: an UNSHARE fault), which must stay XO.
 */
TEST_F_TIMEOUT(ksm, merge_xo_and_readable, 180)
{
	const uint32_t magic = MAGIC + 0x600;
	const size_t len = KSM_PAGES * XO_PAGE;
	uint8_t *x, *rw, want[XO_PAGE];
	uint64_t kpfn;
	int i, merged = 0;
	time_t deadline;

	if (self->run < 0)
		SKIP(return, "no %s", KSM "run");
	NEED_TUNING("KSM's settings");
	x = xo_map_code(KSM_PAGES, PROT_EXEC, magic);
	rw = xo_map_code(KSM_PAGES, PROT_READ | PROT_WRITE, magic);
	ASSERT_NE(NULL, x);
	ASSERT_NE(NULL, rw);
	ASSERT_PROBE(xo_pages_ok(x, KSM_PAGES, magic));
	ASSERT_NE(0, pfn_of(x)) TH_LOG("no PFNs in /proc/self/pagemap");
	ASSERT_EQ(0, madvise(x, len, MADV_MERGEABLE)) TH_LOG("MADV_MERGEABLE: %s", strerror(errno));
	ASSERT_EQ(0, madvise(rw, len, MADV_MERGEABLE));
	ASSERT_EQ(0, write_long(KSM "pages_to_scan", 10000));
	ASSERT_EQ(0, write_long(KSM "sleep_millisecs", 10));
	ASSERT_EQ(0, write_long(KSM "run", 1));

	deadline = time(NULL) + 60;
	while (time(NULL) < deadline) {
		for (merged = 0, i = 0; i < KSM_PAGES; i++)
			merged += pfn_of(x + i * XO_PAGE) &&
				  pfn_of(x + i * XO_PAGE) == pfn_of(rw + i * XO_PAGE);
		if (merged == KSM_PAGES)
			break;
		sleep_ms(50);
	}
	TH_LOG("KSM: %d/%d page pairs on one frame, pages_shared %ld, full_scans %ld",
	       merged, KSM_PAGES, read_long(KSM "pages_shared"), read_long(KSM "full_scans"));
	ASSERT_EQ(KSM_PAGES, merged) TH_LOG("KSM did not merge the XO and RW pages in 60 s");
	EXPECT_PROBE(xo_pages_ok(x, KSM_PAGES, magic));
	EXPECT_PROBE(readable_pages_ok(rw, KSM_PAGES, magic));
	EXPECT_PROBE(xo_check_store_faults(x + 100));

	/* CoW break from the RW side: its new page is private, the XO one stays. */
	kpfn = pfn_of(x);
	EXPECT_PROBE(xo_check_store_ok(rw + 100, 0x5a));
	EXPECT_NE(kpfn, pfn_of(rw)) TH_LOG("the write did not break the sharing");
	EXPECT_EQ(kpfn, pfn_of(x));
	EXPECT_PROBE(xo_pages_ok(x, KSM_PAGES, magic));
	xo_fill_page(want, magic);
	want[100] = 0x5a;
	EXPECT_PROBE(xo_check_readable(rw + 96, want + 96, 8));

	/* Unmerge the XO side: a copy by an UNSHARE fault, XO. */
	kpfn = pfn_of(x + XO_PAGE);
	ASSERT_EQ(0, write_long(KSM "run", 0));
	ASSERT_EQ(0, madvise(x, len, MADV_UNMERGEABLE))
		TH_LOG("MADV_UNMERGEABLE: %s", strerror(errno));
	EXPECT_NE(kpfn, pfn_of(x + XO_PAGE))
		TH_LOG("MADV_UNMERGEABLE left the XO page on the KSM frame");
	EXPECT_PROBE(xo_pages_ok(x, KSM_PAGES, magic));
	EXPECT_PROBE(readable_pages_ok(rw + XO_PAGE, KSM_PAGES - 1, magic + 1));
}

/* ---- hugetlbfs ---- */

static long hugepages_free(unsigned int shift)
{
	char path[128];

	snprintf(path, sizeof(path), "/sys/kernel/mm/hugepages/hugepages-%lukB/free_hugepages",
		 (1UL << shift) >> 10);
	return read_long(path);
}

/*
 * hugetlb pages of 1 << shift bytes: a memfd mapped RW and XO (the frame
 * shared, huge_pte entries of both protections), an untouched private
 * PROT_EXEC mapping whose load is refused without allocating a page, and
 * (with a second free page) a private page made XO by mprotect.
 */
static void hugetlb_xo(struct __test_metadata *_metadata, unsigned int shift)
{
	const size_t sz = 1UL << shift;
	const uint32_t magic = MAGIC + 0x700 + shift;
	const size_t offs[] = { 0, XO_PAGE, sz / 2, sz - XO_PAGE };
	int refused = xo_mech != XO_MECH_READABLE;
	uint8_t *rw, *x, *a, want[XO_PAGE];
	long free0;
	unsigned int i;
	int fd;

	free0 = hugepages_free(shift);
	if (free0 < 0 && shift == 30)
		SKIP(return, "no 1G hugetlb pool: without CONTIG_ALLOC (CMA, memory isolation) 6.12 has one only when booted with hugepagesz=1G (run-guest --mem 5G or more)");
	if (free0 < 0)
		SKIP(return, "no %lu kB hugetlb pool (/sys/kernel/mm/hugepages)", sz >> 10);
	if (free0 < 1)
		SKIP(return, "no free %lu kB hugetlb page (%s)", sz >> 10,
		     shift == 30 ? "one is reserved at boot with run-guest --mem 5G or more" :
				   "the test guest's /init reserves 16");
	fd = syscall(SYS_memfd_create, "xo-hugetlb",
		     MFD_CLOEXEC | MFD_HUGETLB | (shift << MAP_HUGE_SHIFT));
	ASSERT_LE(0, fd) TH_LOG("memfd_create(MFD_HUGETLB): %s", strerror(errno));
	ASSERT_EQ(0, ftruncate(fd, sz));
	rw = mmap(NULL, sz, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	ASSERT_NE(MAP_FAILED, rw) TH_LOG("mmap RW: %s", strerror(errno));
	for (i = 0; i < ARRAY_SIZE(offs); i++)
		xo_fill_page(rw + offs[i], magic + i);
	x = mmap(NULL, sz, PROT_EXEC, MAP_SHARED, fd, 0);
	ASSERT_NE(MAP_FAILED, x) TH_LOG("mmap --x: %s", strerror(errno));
	ASSERT_EQ(0, ((uintptr_t)x) & (sz - 1));
	for (i = 0; i < ARRAY_SIZE(offs); i++) {
		xo_fill_page(want, magic + i);
		EXPECT_PROBE(xo_check_call(x + offs[i], magic + i));
		EXPECT_PROBE(xo_check_noread(x + offs[i] + 64));
		EXPECT_PROBE(xo_check_readable(rw + offs[i] + 64, want + 64, 64));
	}
	EXPECT_PROBE(xo_check_noread(x + sz - 1));
	EXPECT_PROBE(xo_check_store_faults(x + 8));
	if (pfn_of(rw))
		EXPECT_EQ(pfn_of(rw + XO_PAGE), pfn_of(x + XO_PAGE));
	/* New code through the RW mapping runs through the XO one. */
	xo_emit_ret_imm(rw + sz / 2, magic + 99);
	EXPECT_PROBE(xo_check_call(x + sz / 2, magic + 99));
	EXPECT_PROBE(xo_check_noread(x + sz / 2 + 1));
	ASSERT_EQ(0, munmap(rw, sz));
	EXPECT_PROBE(xo_check_call(x + sz - XO_PAGE, magic + 3));

	/* Untouched private PROT_EXEC|MAP_HUGETLB: the load allocates nothing. */
	free0 = hugepages_free(shift);
	a = mmap(NULL, sz, PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB |
		 (shift << MAP_HUGE_SHIFT), -1, 0);
	if (a == MAP_FAILED) {
		TH_LOG("private MAP_HUGETLB: %s (%ld free): not checked", strerror(errno), free0);
	} else {
		EXPECT_PROBE(xo_check_noread(a + 4096 + 5));
		if (refused)
			EXPECT_EQ(free0, hugepages_free(shift))
				TH_LOG("the refused load allocated a hugetlb page");
		ASSERT_EQ(0, munmap(a, sz));
	}

	/* Private, written, then XO by mprotect (hugetlb_change_protection). */
	if (hugepages_free(shift) < 1) {
		TH_LOG("one free %lu kB page only: private XO page not checked", sz >> 10);
		return;
	}
	a = mmap(NULL, sz, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB |
		 (shift << MAP_HUGE_SHIFT), -1, 0);
	ASSERT_NE(MAP_FAILED, a) TH_LOG("private MAP_HUGETLB: %s", strerror(errno));
	for (i = 0; i < ARRAY_SIZE(offs); i++)
		xo_fill_page(a + offs[i], magic + 10 + i);
	ASSERT_EQ(0, mprotect(a, sz, PROT_EXEC));
	for (i = 0; i < ARRAY_SIZE(offs); i++) {
		EXPECT_PROBE(xo_check_call(a + offs[i], magic + 10 + i));
		EXPECT_PROBE(xo_check_noread(a + offs[i] + 64));
	}
	ASSERT_EQ(0, mprotect(a, sz, PROT_READ));
	xo_fill_page(want, magic + 10);
	EXPECT_PROBE(xo_check_readable(a + 64, want + 64, 64));
	munmap(a, sz);
	close(fd);
}

TEST(hugetlb_xo_2m)
{
	hugetlb_xo(_metadata, 21);
}

TEST(hugetlb_xo_1g)
{
	if (!xo_cpuinfo_has("pdpe1gb"))
		SKIP(return, "the CPU has no 1G pages (no pdpe1gb in /proc/cpuinfo)");
	hugetlb_xo(_metadata, 30);
}

/*
 * MADV_COLLAPSE of an XO range. A shmem (memfd) range mapped XO and RW
 * collapses into one 2M page (collapse_file, which retracts the PTE
 * tables); the next fault maps it with a PMD of the XO VMA's protection
 * (do_set_pmd). An
 * anonymous XO range does not collapse in 6.12: khugepaged's scan wants
 * a writable PTE (SCAN_PAGE_RO, EINVAL), r-x or --x alike; it stays XO.
 */
TEST(madv_collapse_xo)
{
	const uint32_t magic = MAGIC + 0x800;
	uint8_t *raw, *rw, *x, *a;
	size_t off;
	int fd, ret;

	fd = syscall(SYS_memfd_create, "xo-collapse", MFD_CLOEXEC);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, ftruncate(fd, SZ_2M));
	raw = mmap(NULL, 3 * SZ_2M, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, raw);
	x = (uint8_t *)(((uintptr_t)raw + SZ_2M - 1) & ~(SZ_2M - 1));
	rw = mmap(NULL, SZ_2M, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	ASSERT_NE(MAP_FAILED, rw);
	for (off = 0; off < SZ_2M; off += XO_PAGE)
		xo_fill_page(rw + off, magic + off / XO_PAGE);
	ASSERT_EQ(x, mmap(x, SZ_2M, PROT_EXEC, MAP_SHARED | MAP_FIXED, fd, 0));
	ASSERT_PROBE(xo_thp_ok(x, magic));
	EXPECT_EQ(0, smaps_kb(x, "ShmemPmdMapped")) TH_LOG("already huge before MADV_COLLAPSE");
	ret = madvise(x, SZ_2M, MADV_COLLAPSE);
	if (ret && errno == EAGAIN)
		ret = madvise(x, SZ_2M, MADV_COLLAPSE);
	if (ret && errno == ENOMEM)
		SKIP(return, "MADV_COLLAPSE: ENOMEM (no free 2M block)");
	ASSERT_EQ(0, ret) TH_LOG("MADV_COLLAPSE of the XO shmem range: %s", strerror(errno));
	/* The page tables were retracted: the first call maps the PMD. */
	EXPECT_PROBE(xo_thp_ok(x, magic));
	EXPECT_LE(2048, smaps_kb(x, "ShmemPmdMapped"))
		TH_LOG("the XO range is not PMD-mapped after MADV_COLLAPSE");
	EXPECT_PROBE(xo_check_store_faults(x + 3 * XO_PAGE));
	EXPECT_PROBE(readable_pages_ok(rw, 8, magic));
	EXPECT_PROBE(readable_pages_ok(rw + SZ_2M - 8 * XO_PAGE, 8, magic + 512 - 8));
	close(fd);

	/* Anonymous: 4K pages (no MADV_HUGEPAGE), XO, asked to collapse. */
	a = (uint8_t *)mmap(x + SZ_2M, SZ_2M, PROT_READ | PROT_WRITE,
			    MAP_FIXED | MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_EQ(x + SZ_2M, a);
	for (off = 0; off < SZ_2M; off += XO_PAGE)
		xo_fill_page(a + off, magic + off / XO_PAGE);
	ASSERT_EQ(0, mprotect(a, SZ_2M, PROT_EXEC));
	ret = madvise(a, SZ_2M, MADV_COLLAPSE);
	TH_LOG("MADV_COLLAPSE of the anonymous XO range: %s", ret ? strerror(errno) : "collapsed");
	if (ret) {
		EXPECT_EQ(EINVAL, errno);
	} else {
		EXPECT_LE(2048, smaps_kb(a, "AnonHugePages"));
	}
	EXPECT_PROBE(xo_thp_ok(a, magic));
}

/*
 * fork copies the PMD of an XO THP (copy_huge_pmd, write-protected and
 * shared): both processes run the code and cannot read it, the child's
 * range is still PMD-mapped.
 */
struct xo_thp_code {
	uint8_t *p;
	uint32_t magic;
};

/* The child of fork_xo_thp, with the parent's XO THP. */
static int fork_xo_thp_child(void *arg)
{
	const struct xo_thp_code *t = arg;
	int bad = xo_child_report("THP after fork", xo_thp_ok(t->p, t->magic));

	if (smaps_kb(t->p, "AnonHugePages") < 2048)
		bad |= xo_child_report("smaps", "the child's copy is not PMD-mapped");
	bad |= xo_child_report("store", xo_check_store_faults(t->p + 64));
	return bad;
}

TEST(fork_xo_thp)
{
	const uint32_t magic = MAGIC + 0x900;
	struct xo_thp_code t = { .magic = magic };
	uint8_t *p;

	NEED_XO_THP(p, magic);
	ASSERT_PROBE(xo_thp_ok(p, magic));
	EXPECT_LE(2048, smaps_kb(p, "AnonHugePages")) TH_LOG("mprotect split the THP");
	t.p = p;
	EXPECT_PROBE(xo_run_in_child(fork_xo_thp_child, &t, 0));
	EXPECT_PROBE(xo_thp_ok(p, magic));
	EXPECT_LE(2048, smaps_kb(p, "AnonHugePages"));
}

/*
 * mremap of a whole XO THP to another 2M-aligned address moves its PMD
 * (move_huge_pmd); moving 1M of it splits the PMD first. Both stay XO.
 */
TEST(mremap_xo_thp)
{
	const uint32_t magic = MAGIC + 0xa00;
	uint8_t *p, *raw, *dst, *q, *half, *hole;
	struct xo_access a = { .size = 1 };
	struct xo_fault f;

	NEED_XO_THP(p, magic);
	ASSERT_PROBE(xo_thp_ok(p, magic));
	raw = mmap(NULL, 3 * SZ_2M, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, raw);
	dst = (uint8_t *)(((uintptr_t)raw + SZ_2M - 1) & ~(SZ_2M - 1));
	q = mremap(p, SZ_2M, SZ_2M, MREMAP_MAYMOVE | MREMAP_FIXED, dst);
	ASSERT_EQ(dst, q);
	EXPECT_LE(2048, smaps_kb(q, "AnonHugePages")) TH_LOG("the PMD did not move whole");
	EXPECT_PROBE(xo_thp_ok(q, magic));
	a.src = p;
	EXPECT_PROBE(xo_expect_fault(xo_try(xo_do_load, &a, &f), &f, SEGV_MAPERR, p));

	/* Half of it elsewhere: the PMD splits, both halves XO. */
	hole = mmap(NULL, SZ_2M / 2, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, hole);
	half = mremap(q + SZ_2M / 2, SZ_2M / 2, SZ_2M / 2, MREMAP_MAYMOVE | MREMAP_FIXED, hole);
	ASSERT_NE(MAP_FAILED, half) TH_LOG("mremap of half: %s", strerror(errno));
	EXPECT_PROBE(xo_pages_ok(q, 4, magic));
	EXPECT_PROBE(xo_pages_ok(q + SZ_2M / 2 - 2 * XO_PAGE, 2, magic + 254));
	EXPECT_PROBE(xo_pages_ok(half, 4, magic + 256));
	EXPECT_PROBE(xo_pages_ok(half + SZ_2M / 2 - 2 * XO_PAGE, 2, magic + 510));
}

/*
 * A debugger reads and writes an XO THP of its tracee, by design (as
 * ptrace_and_proc_mem in xo_core: FOLL_FORCE, Documentation/arch/x86/
 * kvm-xo.rst): PEEKDATA sees the code. POKEDATA breaks the shared THP by
 * CoW into a 4K copy, which must be XO in the tracee; the rest of the THP
 * and the parent's copy are unchanged.
 */
TEST(ptrace_xo_thp)
{
	const uint32_t magic = MAGIC + 0xb00;
	uint8_t want[XO_PAGE], code[sizeof(long)];
	int status, i;
	long word;
	uint8_t *p;
	pid_t pid;

	NEED_XO_THP(p, magic);
	ASSERT_PROBE(xo_thp_ok(p, magic));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		int bad = 0;

		ptrace(PTRACE_TRACEME, 0, NULL, NULL);
		raise(SIGSTOP);
		bad |= xo_child_report("call of poked code",
				       xo_check_call(p + SZ_2M / 2, magic + 0x77));
		bad |= xo_child_report("load after poke", xo_check_noread(p + SZ_2M / 2 + 1));
		bad |= xo_child_report("rest of the THP", xo_pages_ok(p, 4, magic));
		bad |= xo_child_report("rest of the THP",
				       xo_pages_ok(p + SZ_2M / 2 + XO_PAGE, 4, magic + 257));
		_exit(bad);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFSTOPPED(status));
	for (i = 0; i < 3; i++) {
		size_t off = i * (SZ_2M / 2 - XO_PAGE) + 128;

		xo_fill_page(want, magic + off / XO_PAGE);
		errno = 0;
		word = ptrace(PTRACE_PEEKDATA, pid, p + off, NULL);
		EXPECT_EQ(0, errno) TH_LOG("PEEKDATA at +%#zx: %s", off, strerror(errno));
		EXPECT_EQ(0, memcmp(&word, want + 128, sizeof(word)))
			TH_LOG("PEEKDATA bytes at +%#zx", off);
	}
	errno = 0;
	word = ptrace(PTRACE_PEEKDATA, pid, p + SZ_2M / 2, NULL);
	ASSERT_EQ(0, errno);
	memcpy(code, &word, sizeof(code));
	xo_emit_ret_imm(code, magic + 0x77);
	memcpy(&word, code, sizeof(word));
	ASSERT_EQ(0, ptrace(PTRACE_POKEDATA, pid, p + SZ_2M / 2, (void *)word))
		TH_LOG("POKEDATA: %s", strerror(errno));
	ASSERT_EQ(0, ptrace(PTRACE_DETACH, pid, NULL, NULL));
	EXPECT_PROBE(xo_wait_child(pid, 0));
	EXPECT_PROBE(xo_thp_ok(p, magic));
}

/* ---------------- CPU hotplug ---------------- */

#define CPU1_ONLINE "/sys/devices/system/cpu/cpu1/online"

static int cpu1_set_online(int on)
{
	int fd = open(CPU1_ONLINE, O_WRONLY);
	int ret;

	if (fd < 0)
		return -1;
	ret = write(fd, on ? "1" : "0", 1) == 1 ? 0 : -1;
	close(fd);
	return ret;
}

static int hotplug_allowed(void)
{
	return machine_change_allowed("XO_TEST_HOTPLUG");
}

FIXTURE(cpu_hotplug) {
	int offlined;
};

FIXTURE_SETUP(cpu_hotplug)
{
}

/* In the parent: CPU 1 comes back even if the test dies. */
FIXTURE_TEARDOWN_PARENT(cpu_hotplug)
{
	if (self->offlined)
		EXPECT_EQ(0, cpu1_set_online(1)) TH_LOG("CPU 1 left offline: %s", strerror(errno));
}

/*
 * The XO enable MSR is per CPU and written by cpu_init(): a CPU that comes
 * back online must treat NR as a permission bit again, not as a reserved
 * bit (which would make the load a reserved-bit fault, a "bad pagetable").
 */
TEST_F(cpu_hotplug, cpu1_offline_online)
{
	uint8_t *old, *fresh;

	if (sysconf(_SC_NPROCESSORS_ONLN) < 2)
		SKIP(return, "needs 2 CPUs, %ld online", sysconf(_SC_NPROCESSORS_ONLN));
	if (access(CPU1_ONLINE, W_OK))
		SKIP(return, "%s: %s (CPU 1 cannot be offlined)", CPU1_ONLINE, strerror(errno));
	if (!hotplug_allowed())
		SKIP(return, "offlines CPU 1: only in the test guest (xo.timeout= in /proc/cmdline) or with XO_TEST_HOTPLUG=1");
	old = xo_map_code(1, PROT_EXEC, MAGIC + 0x60);
	ASSERT_NE(NULL, old);
	ASSERT_EQ(0, xo_pin_to_cpu(0));
	ASSERT_PROBE(xo_check_call(old, MAGIC + 0x60));

	self->offlined = 1;
	ASSERT_EQ(0, cpu1_set_online(0)) TH_LOG("offline CPU 1: %s", strerror(errno));
	ASSERT_EQ(0, cpu1_set_online(1)) TH_LOG("online CPU 1: %s", strerror(errno));
	self->offlined = 0;

	ASSERT_EQ(0, xo_pin_to_cpu(1)) TH_LOG("cannot run on CPU 1");
	/* An entry made before the hotplug, and one made after. */
	fresh = xo_map_code(1, PROT_EXEC, MAGIC + 0x61);
	ASSERT_NE(NULL, fresh);
	EXPECT_PROBE(xo_check_call(old, MAGIC + 0x60));
	EXPECT_PROBE(xo_check_load(old + 24, 4, old + 24));
	EXPECT_PROBE(xo_check_call(fresh, MAGIC + 0x61));
	EXPECT_PROBE(xo_check_load(fresh + 24, 4, fresh + 24));
	EXPECT_PROBE(xo_check_store_faults(fresh + 24));
	EXPECT_EQ(1, sched_getcpu());
}

/* ---------------- an ELF binary with a PF_X-only PT_LOAD ---------------- */

#define ELF_XO_FUNC 0x500000UL
#define ELF_XO_DATA 0x500008UL

TEST(elf_pf_x_only_segment)
{
	char exe[PATH_MAX], prog[PATH_MAX + 32], perms[5];
	char *dir;
	struct user_regs_struct regs;
	siginfo_t si;
	int status;
	ssize_t n;
	long word;
	pid_t pid;

	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	ASSERT_LT(0, n);
	exe[n] = 0;
	dir = dirname(exe);
	if (strlen(dir) > sizeof(prog) - 32)
		SKIP(return, "path too long");
	strcpy(prog, dir);
	strcat(prog, "/xo_elf_xonly");
	if (access(prog, X_OK))
		SKIP(return, "%s not built", prog);

	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		ptrace(PTRACE_TRACEME, 0, NULL, NULL);
		execl(prog, prog, NULL);
		_exit(127);
	}
	/* The exec stop. */
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFSTOPPED(status) && WSTOPSIG(status) == SIGTRAP);
	ASSERT_EQ(0, xo_maps_perms(pid, (void *)ELF_XO_FUNC, perms, NULL, NULL));
	EXPECT_STREQ("--xp", perms);
	/* The debugger reads the XO segment. */
	errno = 0;
	word = ptrace(PTRACE_PEEKTEXT, pid, (void *)ELF_XO_FUNC, NULL);
	EXPECT_EQ(0, errno);
	EXPECT_EQ(0xb8, word & 0xff) TH_LOG("PEEKTEXT: %#lx", word);

	ASSERT_EQ(0, ptrace(PTRACE_CONT, pid, NULL, NULL));
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	if (xo_mech == XO_MECH_READABLE) {
		EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
			TH_LOG("status %#x", status);
		if (WIFSTOPPED(status))
			kill(pid, SIGKILL);
		return;
	}
	/* The call worked; the load from the segment faulted. */
	ASSERT_TRUE(WIFSTOPPED(status) && WSTOPSIG(status) == SIGSEGV)
		TH_LOG("status %#x, expected a SIGSEGV stop", status);
	ASSERT_EQ(0, ptrace(PTRACE_GETSIGINFO, pid, NULL, &si));
	ASSERT_EQ(0, ptrace(PTRACE_GETREGS, pid, NULL, &regs));
	EXPECT_EQ(ELF_XO_DATA, (unsigned long)si.si_addr);
	EXPECT_EQ(xo_mech == XO_MECH_PKEY ? SEGV_PKUERR : SEGV_ACCERR, si.si_code);
	EXPECT_GT(ELF_XO_FUNC, regs.rip) TH_LOG("faulted at rip %#llx", regs.rip);
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
}

TEST_HARNESS_MAIN
