// SPDX-License-Identifier: GPL-2.0
/*
 * What a refused read of execute-only memory costs, next to the same read
 * of PROT_NONE memory: each is a #PF that ends in SIGSEGV and a siglongjmp
 * out of the handler. Under TCG both are the guest kernel's work; under
 * KVM the XO one also takes an EPT violation exit to the host, which
 * injects the #PF, while the PROT_NONE one never leaves the guest.
 *
 *   xo_fault_cost [-n FAULTS] [-r ROUNDS]
 *
 * Times ROUNDS rounds of FAULTS faults of each kind, alternating, with
 * CLOCK_MONOTONIC (in Bochs that is emulated time: the clock advances per
 * instruction) and prints the median round's time per fault, and a line
 *   # XO-COST xo_read_ns=N prot_none_read_ns=N ratio=R
 * for the scripts. A measurement, not a timed test: a check fails only when
 * a fault does not come as the mechanism says it must (an XO read that
 * succeeds with exec_only advertised), never on a number.
 */
#include <time.h>
#include "xo_common.h"

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/*
 * FAULTS reads of p, each refused: the time per fault in *ns. Returns
 * NULL, or what went wrong (a read that did not fault, or faulted with
 * another signal or code than SEGV_ACCERR).
 */
static const char *time_read_faults(const void *p, int faults, uint64_t *ns)
{
	struct xo_access a = { .src = p, .size = 1 };
	struct xo_fault f;
	uint64_t t0 = now_ns();
	int i;

	for (i = 0; i < faults; i++) {
		if (xo_try(xo_do_load, &a, &f) == 0)
			return xo_fmt("read %d of %p did not fault", i, p);
		if (f.sig != SIGSEGV || f.code != SEGV_ACCERR)
			return xo_fmt("read of %p: signal %d code %d, want SIGSEGV/SEGV_ACCERR",
				      p, f.sig, f.code);
	}
	*ns = (now_ns() - t0) / faults;
	return NULL;
}

static uint64_t median(uint64_t *t, int n)
{
	qsort(t, n, sizeof(t[0]), cmp_u64);
	return t[n / 2];
}

int main(int argc, char **argv)
{
	int faults = 2000, rounds = 5, opt, failed = 0, r;
	uint64_t none_t[64], xo_t[64], none_ns, xo_ns;
	const char *m, *none_err = NULL, *xo_err = NULL;
	uint8_t *none, *xo;

	while ((opt = getopt(argc, argv, "n:r:")) != -1) {
		switch (opt) {
		case 'n':
			faults = atoi(optarg);
			break;
		case 'r':
			rounds = atoi(optarg);
			break;
		default:
			fprintf(stderr, "usage: %s [-n FAULTS] [-r ROUNDS]\n", argv[0]);
			return 2;
		}
	}
	if (faults < 1 || rounds < 1 || rounds > 64) {
		fprintf(stderr, "%s: need 1 <= FAULTS and 1 <= ROUNDS <= 64\n", argv[0]);
		return 2;
	}
	printf("TAP version 13\n1..2\n");
	printf("# %d rounds of %d faults each; median round, per fault\n", rounds, faults);

	/* Both pages populated first: only the permission fault is timed. */
	none = mmap(NULL, XO_PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	xo = mmap(NULL, XO_PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (none == MAP_FAILED || xo == MAP_FAILED) {
		printf("Bail out! mmap: %s\n", strerror(errno));
		return 1;
	}
	xo_fill_page(none, 0x11);
	xo_fill_page(xo, 0x22);
	if (mprotect(none, XO_PAGE, PROT_NONE) || mprotect(xo, XO_PAGE, PROT_EXEC)) {
		printf("Bail out! mprotect: %s\n", strerror(errno));
		return 1;
	}

	/*
	 * The XO page is executed once, so the fetch side (the alias under
	 * KVM) is mapped; then the rounds alternate between the two kinds,
	 * so that noise (the host's work, timers) falls on both alike.
	 */
	if (xo_mech == XO_MECH_NR) {
		m = xo_check_call(xo, 0x22);
		if (m) {
			printf("not ok 1 prot_none_read_fault # not timed\n");
			printf("not ok 2 xo_read_fault # %s\n", m);
			return 1;
		}
	}
	for (r = 0; r < rounds; r++) {
		none_err = time_read_faults(none, faults, &none_t[r]);
		if (xo_mech == XO_MECH_NR && !none_err)
			xo_err = time_read_faults(xo, faults, &xo_t[r]);
		if (none_err || xo_err)
			break;
	}
	if (none_err) {
		printf("not ok 1 prot_none_read_fault # %s\n", none_err);
		failed++;
	} else {
		/* All rounds, or those before the XO read that did not fault. */
		none_ns = median(none_t, r < rounds ? r + 1 : rounds);
		printf("ok 1 prot_none_read_fault # %llu ns per fault\n",
		       (unsigned long long)none_ns);
	}
	if (xo_mech != XO_MECH_NR) {
		printf("ok 2 xo_read_fault # SKIP %s\n", xo_off_reason());
	} else if (xo_err || none_err) {
		printf("not ok 2 xo_read_fault # %s\n", xo_err ? xo_err : "not timed");
		failed++;
	} else {
		xo_ns = median(xo_t, rounds);
		printf("ok 2 xo_read_fault # %llu ns per fault\n", (unsigned long long)xo_ns);
		printf("# XO-COST xo_read_ns=%llu prot_none_read_ns=%llu ratio=%.2f\n",
		       (unsigned long long)xo_ns, (unsigned long long)none_ns,
		       (double)xo_ns / none_ns);
	}
	return failed ? 1 : 0;
}
