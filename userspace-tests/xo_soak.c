// SPDX-License-Identifier: GPL-2.0
/*
 * The XO keeper of scripts/soak: keeps execute-only mappings alive while a
 * fuzzer and memory stressors run beside it, and checks them all the time.
 *
 *   xo_soak [-d SECONDS] [-s SEED]
 *
 * The mappings: anonymous, a private /tmp file, a shared memfd, a 2M
 * MADV_HUGEPAGE range (a THP where the kernel gives one), two identical
 * MADV_MERGEABLE ranges and a readable twin for KSM to merge, one that
 * mprotect toggles between --x and r-x, and one that mremap moves. Each page
 * starts with "mov $magic, %eax; ret". A second process, forked after the
 * mappings were made, runs the same loop on its copies; each round the
 * parent also forks a short-lived checker, pages the anonymous ranges out
 * (MADV_PAGEOUT: to swap where there is some), moves one of their pages to
 * the other NUMA node (move_pages), toggles and moves.
 *
 * Each pass calls a random page of each mapping (the value must be its
 * magic), reads a random byte of it in a SIGSEGV-guarded probe (refused
 * while the mapping is PROT_EXEC-only, the right byte while it is r-x) and
 * now and then has the kernel read it (write() to a pipe: EFAULT). Any
 * failure is printed at once as a "# FAIL" line. At the end: TAP with the
 * counts, and a line
 *   # XO-SOAK-KEEPER execs=N probes=N kprobes=N ...
 * for the scripts. Exits 1 on any readable XO byte or wrong exec result.
 */
#include <time.h>
#include <sys/resource.h>
#include "xo_common.h"

#ifndef MADV_PAGEOUT
#define MADV_PAGEOUT 21
#endif
#ifndef MPOL_MF_MOVE
#define MPOL_MF_MOVE 2
#endif

#define THP_SIZE (2UL << 20)
#define ROUND_PASSES 50		/* passes between two perturbation rounds */
#define MAX_PRINTED_FAILS 20

struct region {
	const char *name;
	uint8_t *addr;
	size_t pages;
	uint32_t magic;		/* page i returns magic + i */
	int readable;		/* mapped r-x (or r--) now, not --x */
	int toggles;		/* mprotect --x <-> r-x each round */
	int exec;		/* PROT_EXEC at all (the readable KSM twin: no) */
	int anon;		/* page out and migrate it */
	int moves;		/* mremap moves it each round */
	uint8_t *spare;		/* the other half of the mremap reservation */
};

/* Shared between the parent, the forked keeper and the checkers. */
struct counts {
	unsigned long execs, probes, reads, kprobes, forks, pageouts, migrations;
	unsigned long remaps, toggles, rounds, fails, read_fails;
};
struct shared {
	struct counts c[2];	/* 0: the parent, 1: the forked keeper */
	int printed;
};

static struct region regions[16];
static int nregions;
static struct shared *sh;
static uint64_t rnd_state;
static int pipefd[2];

static uint64_t rnd(void)
{
	/* xorshift64 */
	rnd_state ^= rnd_state << 13;
	rnd_state ^= rnd_state >> 7;
	rnd_state ^= rnd_state << 17;
	return rnd_state;
}

/* read: the failure is an XO byte that could be read. */
static void fail(struct counts *c, int read, const char *fmt, ...)
{
	char buf[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	c->fails++;
	c->read_fails += read;
	if (__atomic_fetch_add(&sh->printed, 1, __ATOMIC_RELAXED) < MAX_PRINTED_FAILS) {
		printf("# FAIL [pid %d] %s\n", (int)getpid(), buf);
		fflush(stdout);
	}
}

static void die(const char *what)
{
	printf("Bail out! %s: %s\n", what, strerror(errno));
	exit(1);
}

/* pages of xo_fill_page(magic + i), mapped with prot. */
static uint8_t *fill_anon(size_t pages, uint32_t magic, int prot, size_t align)
{
	size_t len = pages * XO_PAGE;
	uint8_t *p = mmap(NULL, len + align, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	uint8_t *a;
	size_t i;

	if (p == MAP_FAILED)
		die("mmap");
	a = p;
	if (align) {
		a = (uint8_t *)(((uintptr_t)p + align - 1) & ~(align - 1));
		if (a > p)
			munmap(p, a - p);
		munmap(a + len, p + align - a);
		madvise(a, len, MADV_HUGEPAGE);
	}
	for (i = 0; i < pages; i++)
		xo_fill_page(a + i * XO_PAGE, magic + i);
	if (mprotect(a, len, prot))
		die("mprotect");
	return a;
}

static struct region *add(const char *name, uint8_t *addr, size_t pages,
			  uint32_t magic, int prot)
{
	struct region *r = &regions[nregions++];

	r->name = name;
	r->addr = addr;
	r->pages = pages;
	r->magic = magic;
	r->exec = !!(prot & PROT_EXEC);
	r->readable = !!(prot & PROT_READ);
	return r;
}

static uint8_t *map_file(int fd, size_t pages, int flags)
{
	uint8_t *p = mmap(NULL, pages * XO_PAGE, PROT_EXEC, flags, fd, 0);

	if (p == MAP_FAILED)
		die("mmap file");
	return p;
}

static void setup(void)
{
	char tmpl[] = "/tmp/xo_soak.XXXXXX";
	uint8_t page[XO_PAGE];
	struct region *r;
	int fd, i;

	r = add("anon", fill_anon(8, 0x1000, PROT_EXEC, 0), 8, 0x1000, PROT_EXEC);
	r->anon = 1;

	fd = mkstemp(tmpl);
	if (fd < 0)
		die("mkstemp");
	unlink(tmpl);
	for (i = 0; i < 4; i++) {
		xo_fill_page(page, 0x2000 + i);
		if (write(fd, page, XO_PAGE) != (ssize_t)XO_PAGE)
			die("write /tmp file");
	}
	add("file-private", map_file(fd, 4, MAP_PRIVATE), 4, 0x2000, PROT_EXEC);
	close(fd);

	fd = xo_code_memfd(4, 0x3000);
	if (fd < 0)
		die("memfd");
	add("memfd-shared", map_file(fd, 4, MAP_SHARED), 4, 0x3000, PROT_EXEC);
	close(fd);

	r = add("thp", fill_anon(THP_SIZE / XO_PAGE, 0x4000, PROT_EXEC, THP_SIZE),
		THP_SIZE / XO_PAGE, 0x4000, PROT_EXEC);
	r->anon = 1;

	/* Two identical XO ranges and a readable one: KSM merges them all. */
	for (i = 0; i < 3; i++) {
		int prot = i < 2 ? PROT_EXEC : PROT_READ;

		r = add(i == 0 ? "ksm-xo-a" : i == 1 ? "ksm-xo-b" : "ksm-readable",
			fill_anon(4, 0x5000, prot, 0), 4, 0x5000, prot);
		madvise(r->addr, 4 * XO_PAGE, MADV_MERGEABLE);
		r->anon = 1;
	}

	r = add("toggle", fill_anon(4, 0x6000, PROT_EXEC, 0), 4, 0x6000, PROT_EXEC);
	r->toggles = 1;
	r->anon = 1;

	/* A 2x reservation: the range moves between its halves. */
	r = add("mremap", fill_anon(8, 0x7000, PROT_EXEC, 0), 8, 0x7000, PROT_EXEC);
	r->spare = mmap(NULL, 8 * XO_PAGE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (r->spare == MAP_FAILED)
		die("mmap spare");
	r->moves = 1;
	r->anon = 1;
}

static uint8_t expected_byte(const struct region *r, size_t page, size_t off)
{
	uint8_t buf[XO_PAGE];

	xo_fill_page(buf, r->magic + page);
	return buf[off];
}

/* One pass over every mapping: exec, user probe, sometimes a kernel read. */
static void pass(struct counts *c, int kernel_read)
{
	int i;

	for (i = 0; i < nregions; i++) {
		struct region *r = &regions[i];
		size_t page = rnd() % r->pages, off = rnd() % XO_PAGE;
		uint8_t *p = r->addr + page * XO_PAGE, want;
		const char *m;

		if (r->exec) {
			m = xo_check_call(p, r->magic + page);
			c->execs++;
			if (m)
				fail(c, 0, "%s page %zu: exec: %s", r->name, page, m);
		}
		if (r->readable) {
			want = expected_byte(r, page, off);
			m = xo_check_readable(p + off, &want, 1);
			c->reads++;
		} else {
			m = xo_check_noread(p + off);
			c->probes++;
		}
		if (m)
			fail(c, !r->readable, "%s page %zu offset %zu (%s): probe: %s", r->name, page, off,
			     r->readable ? "r-x" : "--x", m);
		if (kernel_read && !r->readable && xo_mech == XO_MECH_NR) {
			ssize_t n = write(pipefd[1], p + off % (XO_PAGE - 16), 16);
			char sink[64];

			c->kprobes++;
			if (n >= 0) {
				fail(c, 1, "%s page %zu: write(pipe) from XO bytes returned %zd, expected EFAULT",
				     r->name, page, n);
				if (read(pipefd[0], sink, sizeof(sink)) < 0)
					die("read pipe");
			} else if (errno != EFAULT) {
				fail(c, 0, "%s page %zu: write(pipe) from XO bytes: %s, expected EFAULT",
				     r->name, page, strerror(errno));
			}
		}
	}
}

/* What changes the mappings under the checks, once per round. */
static void perturb(struct counts *c, int round)
{
	int i;

	for (i = 0; i < nregions; i++) {
		struct region *r = &regions[i];
		size_t len = r->pages * XO_PAGE;

		if (r->toggles) {
			int prot = r->readable ? PROT_EXEC : PROT_READ | PROT_EXEC;

			if (mprotect(r->addr, len, prot))
				fail(c, 0, "%s: mprotect: %s", r->name, strerror(errno));
			else
				r->readable = !r->readable;
			c->toggles++;
		}
		if (r->moves) {
			uint8_t *to = r->spare, *from = r->addr;

			if (mremap(from, len, len, MREMAP_MAYMOVE | MREMAP_FIXED, to) != to) {
				fail(c, 0, "%s: mremap: %s", r->name, strerror(errno));
			} else {
				/* Keep the old half reserved for the way back. */
				if (mmap(from, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED,
					 -1, 0) == MAP_FAILED)
					die("mmap reserve");
				r->addr = to;
				r->spare = from;
				c->remaps++;
			}
		}
		if (r->anon) {
			void *pg = r->addr + (rnd() % r->pages) * XO_PAGE;
			int node = round & 1, status = -1;

			if (madvise(r->addr, len, MADV_PAGEOUT) == 0)
				c->pageouts++;
			if (syscall(SYS_move_pages, 0, 1UL, &pg, &node, &status, MPOL_MF_MOVE) == 0 &&
			    status == node)
				c->migrations++;
		}
	}
}

/* A short-lived child: one pass over the inherited mappings. */
static void fork_checker(struct counts *c)
{
	int status;
	pid_t pid = fork();

	if (pid < 0) {
		/* The stressors may exhaust memory for a moment: not ours. */
		return;
	}
	if (pid == 0) {
		pass(c, 1);
		_exit(0);
	}
	if (waitpid(pid, &status, 0) != pid)
		fail(c, 0, "waitpid of a checker: %s", strerror(errno));
	else if (!WIFEXITED(status) || WEXITSTATUS(status))
		fail(c, 0, "a forked checker died (status %#x)", status);
	c->forks++;
}

/* AnonHugePages of the mapping that starts at addr, in kB; -1 if unknown. */
static long huge_kb(const void *addr)
{
	char line[256];
	FILE *f = fopen("/proc/self/smaps", "r");
	long kb = -1;
	int in = 0;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		unsigned long s, e;

		if (sscanf(line, "%lx-%lx ", &s, &e) == 2 && strchr(line, '-') < strchr(line, ' '))
			in = s == (unsigned long)addr;
		else if (in && sscanf(line, "AnonHugePages: %ld kB", &kb) == 1)
			break;
	}
	fclose(f);
	return kb;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void keep(struct counts *c, double end, int parent)
{
	int n = 0, round = 0;
	struct region *r;

	/*
	 * MADV_PAGEOUT skips pages a forked process also maps: a range made
	 * after the fork, in each process, is one that really goes to swap
	 * (and comes back as a major fault on the next call).
	 */
	r = add("anon-own", fill_anon(8, 0x8000, PROT_EXEC, 0), 8, 0x8000, PROT_EXEC);
	r->anon = 1;

	while (now() < end) {
		pass(c, n % 8 == 0);
		if (++n % ROUND_PASSES)
			continue;
		perturb(c, round++);
		c->rounds++;
		if (parent)
			fork_checker(c);
	}
}

int main(int argc, char **argv)
{
	int duration = 60, opt, status, fd, failed = 0;
	unsigned long long seed = 0;
	struct counts t = { 0 };
	struct rusage self, kids;
	double t0, end;
	pid_t child;
	int i;

	while ((opt = getopt(argc, argv, "d:s:")) != -1) {
		switch (opt) {
		case 'd':
			duration = atoi(optarg);
			break;
		case 's':
			seed = strtoull(optarg, NULL, 0);
			break;
		default:
			fprintf(stderr, "usage: %s [-d SECONDS] [-s SEED]\n", argv[0]);
			return 2;
		}
	}
	if (duration < 1 || optind != argc) {
		fprintf(stderr, "usage: %s [-d SECONDS >= 1] [-s SEED]\n", argv[0]);
		return 2;
	}
	if (!seed)
		seed = (unsigned long long)time(NULL) ^ ((unsigned long long)getpid() << 32);
	rnd_state = seed;
	/* The stressors must not get the keeper OOM-killed. */
	fd = open("/proc/self/oom_score_adj", O_WRONLY);
	if (fd >= 0) {
		if (write(fd, "-1000", 5) < 0)
			printf("# oom_score_adj: %s\n", strerror(errno));
		close(fd);
	}
	printf("TAP version 13\n");
	printf("# keeper: %d s, seed %llu\n", duration, seed);
	fflush(stdout);

	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED)
		die("mmap counts");
	if (pipe(pipefd))
		die("pipe");
	setup();
	for (i = 0; i < nregions; i++)
		printf("# mapping %-13s %p %3zu pages %s\n", regions[i].name, regions[i].addr,
		       regions[i].pages, regions[i].exec ? (regions[i].readable ? "r-x" : "--x") : "r--");
	for (i = 0; i < nregions; i++)
		if (!strcmp(regions[i].name, "thp"))
			printf("# thp: %ld kB of AnonHugePages\n", huge_kb(regions[i].addr));
	fflush(stdout);

	t0 = now();
	end = t0 + duration;
	child = fork();
	if (child < 0)
		die("fork");
	if (child == 0) {
		rnd_state = seed * 2654435761ULL + 1;
		keep(&sh->c[1], end, 0);
		_exit(0);
	}
	keep(&sh->c[0], end, 1);
	if (waitpid(child, &status, 0) != child)
		fail(&sh->c[0], 0, "waitpid of the forked keeper: %s", strerror(errno));
	else if (!WIFEXITED(status) || WEXITSTATUS(status))
		fail(&sh->c[0], 0, "the forked keeper died (status %#x)", status);

	for (i = 0; i < 2; i++) {
		struct counts *c = &sh->c[i];

		t.execs += c->execs;
		t.probes += c->probes;
		t.reads += c->reads;
		t.kprobes += c->kprobes;
		t.forks += c->forks;
		t.pageouts += c->pageouts;
		t.migrations += c->migrations;
		t.remaps += c->remaps;
		t.toggles += c->toggles;
		t.rounds += c->rounds;
		t.fails += c->fails;
		t.read_fails += c->read_fails;
	}
	printf("1..3\n");
	if (t.execs == 0 || t.probes == 0 || t.rounds == 0) {
		printf("not ok 1 keeper ran # %lu execs, %lu probes, %lu rounds in %d s\n",
		       t.execs, t.probes, t.rounds, duration);
		failed++;
	} else {
		printf("ok 1 keeper ran # %lu rounds in %.0f s\n", t.rounds, now() - t0);
	}
	if (t.fails - t.read_fails) {
		printf("not ok 2 xo mappings work # %lu failures besides reads (the first ones above)\n",
		       t.fails - t.read_fails);
		failed++;
	} else {
		printf("ok 2 xo mappings work # %lu execs right, %lu readable-twin reads right, 0 failures\n",
		       t.execs, t.reads);
	}
	if (xo_mech != XO_MECH_NR && !t.read_fails)
		printf("ok 3 no xo byte readable # SKIP %s\n", xo_off_reason());
	else if (t.read_fails)
		printf("not ok 3 no xo byte readable # %lu reads of XO bytes were not refused (above)\n",
		       t.read_fails);
	else
		printf("ok 3 no xo byte readable # %lu user probes, %lu kernel reads refused\n",
		       t.probes, t.kprobes);
	/* The page faults the keeper and its children took (swap-ins are major). */
	getrusage(RUSAGE_SELF, &self);
	getrusage(RUSAGE_CHILDREN, &kids);
	printf("# XO-SOAK-KEEPER execs=%lu probes=%lu kprobes=%lu reads=%lu forks=%lu pageouts=%lu migrations=%lu remaps=%lu toggles=%lu fails=%lu minflt=%ld majflt=%ld\n",
	       t.execs, t.probes, t.kprobes, t.reads, t.forks, t.pageouts, t.migrations,
	       t.remaps, t.toggles, t.fails, self.ru_minflt + kids.ru_minflt,
	       self.ru_majflt + kids.ru_majflt);
	return failed || t.fails ? 1 : 0;
}
