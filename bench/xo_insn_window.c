// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * A QEMU TCG plugin for make bench: counts the guest instructions each vCPU
 * executes between the begin and end markers of bench/xo_bench.c, so that
 * a benchmark's count is its own work (user and kernel, interrupts that
 * fall into the window included) and not the boot.
 *
 *   -plugin build/bench/libxo_insn_window.so,out=FILE[,profile=N]
 *
 * The markers are recognised at translation time by their bytes:
 *
 *   0f 1f 80 01 00 4f 58    nopl 0x584f0001(%rax)   begin of window %rax
 *   0f 1f 80 02 00 4f 58    nopl 0x584f0002(%rax)   end of window %rax
 *
 * Every instruction gets an inline add to its vCPU's counter (one for user
 * addresses, one for kernel ones: the top address bit), so the count is
 * exact, also when an instruction faults in the middle of a block; only
 * the markers get a callback, which snapshots the counters. Each window
 * ends in one line of FILE:
 *
 *   XO-WINDOW id=ID vcpu=V insns=N user=U kernel=K all_vcpus=A
 *
 * (N = U + K on the vCPU that ran the markers; A the sum over all vCPUs
 * in the same span, for work that migrates). With profile=N, at exit also
 * the N translation blocks that ran most instructions in all windows of
 * each ID (counted per block entry, so an approximation where a block
 * faults half-way):
 *
 *   XO-PROF id=ID addr=0x... insns=N
 *
 * which scripts/bench maps to kernel symbols with System.map.
 */
#include <glib.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <qemu-plugin.h>

QEMU_PLUGIN_EXPORT int qemu_plugin_version = QEMU_PLUGIN_VERSION;

struct vcpu_count {
	uint64_t user, kernel;	/* all instructions since boot */
	uint64_t open;		/* a window is open on this vCPU */
	uint64_t id, user0, kernel0, all0;
};

static struct qemu_plugin_scoreboard *counts;
static qemu_plugin_u64 c_user, c_kernel, c_open;
static struct qemu_plugin_register *rax;
static FILE *out;
static GMutex lock;
static int profile_n;
static GHashTable *blocks;	/* vaddr -> struct block */

#define MAX_ID 64		/* window IDs with a profile: 0 .. MAX_ID - 1 */
struct block {
	uint64_t vaddr;
	uint64_t n_insns;
	uint64_t ran[MAX_ID];	/* instructions in the windows of each ID */
};
static uint64_t open_id;	/* the ID of the open window (profile: one vCPU) */

static const uint8_t marker[2][7] = {
	{ 0x0f, 0x1f, 0x80, 0x01, 0x00, 0x4f, 0x58 },
	{ 0x0f, 0x1f, 0x80, 0x02, 0x00, 0x4f, 0x58 },
};
#define BEGIN ((void *)1)
#define END ((void *)2)

static uint64_t all_vcpus(void)
{
	return qemu_plugin_u64_sum(c_user) + qemu_plugin_u64_sum(c_kernel);
}

static uint64_t read_rax(void)
{
	GByteArray *buf = g_byte_array_new();
	uint64_t v = UINT64_MAX;

	if (rax && qemu_plugin_read_register(rax, buf) == 8)
		memcpy(&v, buf->data, 8);
	g_byte_array_free(buf, TRUE);
	return v;
}

static uint64_t sort_id;
static gint by_ran(gconstpointer a, gconstpointer b)
{
	const struct block *x = *(struct block *const *)a, *y = *(struct block *const *)b;

	return x->ran[sort_id] < y->ran[sort_id] ? 1 : x->ran[sort_id] > y->ran[sort_id] ? -1 : 0;
}

/* The blocks that ran most instructions in the windows of each ID. */
static void print_profile(void)
{
	GHashTableIter it;
	gpointer k, v;
	guint i;

	for (sort_id = 0; sort_id < MAX_ID; sort_id++) {
		GPtrArray *ran = g_ptr_array_new();

		g_hash_table_iter_init(&it, blocks);
		while (g_hash_table_iter_next(&it, &k, &v)) {
			if (((struct block *)v)->ran[sort_id])
				g_ptr_array_add(ran, v);
		}
		g_ptr_array_sort(ran, by_ran);
		for (i = 0; i < ran->len && (int)i < profile_n; i++) {
			struct block *b = g_ptr_array_index(ran, i);

			fprintf(out, "XO-PROF id=%" PRIu64 " addr=0x%" PRIx64 " insns=%" PRIu64 "\n",
				sort_id, b->vaddr, b->ran[sort_id]);
		}
		g_ptr_array_free(ran, TRUE);
	}
}

static void on_marker(unsigned int vcpu, void *kind)
{
	struct vcpu_count *c = qemu_plugin_scoreboard_find(counts, vcpu);
	uint64_t id = read_rax();

	g_mutex_lock(&lock);
	if (kind == BEGIN) {
		c->open = 1;
		c->id = id;
		open_id = id < MAX_ID ? id : 0;
		c->user0 = c->user;
		c->kernel0 = c->kernel;
		c->all0 = all_vcpus();
	} else if (c->open && c->id == id) {
		uint64_t u = c->user - c->user0, k = c->kernel - c->kernel0;

		c->open = 0;
		fprintf(out, "XO-WINDOW id=%" PRIu64 " vcpu=%u insns=%" PRIu64 " user=%" PRIu64
			" kernel=%" PRIu64 " all_vcpus=%" PRIu64 "\n",
			id, vcpu, u + k, u, k, all_vcpus() - c->all0);
	} else {
		fprintf(out, "XO-WINDOW-ERROR id=%" PRIu64 " vcpu=%u: an end marker without its begin\n",
			id, vcpu);
		c->open = 0;
	}
	g_mutex_unlock(&lock);
}

static void on_block(unsigned int vcpu, void *udata)
{
	struct block *b = udata;

	(void)vcpu;
	/* Only in a window (a conditional callback); racy only on SMP. */
	b->ran[open_id] += b->n_insns;
}

static void tb_trans(qemu_plugin_id_t id, struct qemu_plugin_tb *tb)
{
	size_t n = qemu_plugin_tb_n_insns(tb), i;

	(void)id;
	for (i = 0; i < n; i++) {
		struct qemu_plugin_insn *insn = qemu_plugin_tb_get_insn(tb, i);
		uint8_t bytes[7];
		int kernel = (int64_t)qemu_plugin_insn_vaddr(insn) < 0;

		qemu_plugin_register_vcpu_insn_exec_inline_per_vcpu(insn, QEMU_PLUGIN_INLINE_ADD_U64,
								    kernel ? c_kernel : c_user, 1);
		if (kernel || qemu_plugin_insn_size(insn) != sizeof(bytes) ||
		    qemu_plugin_insn_data(insn, bytes, sizeof(bytes)) != sizeof(bytes))
			continue;
		if (!memcmp(bytes, marker[0], sizeof(bytes)))
			qemu_plugin_register_vcpu_insn_exec_cb(insn, on_marker, QEMU_PLUGIN_CB_R_REGS, BEGIN);
		else if (!memcmp(bytes, marker[1], sizeof(bytes)))
			qemu_plugin_register_vcpu_insn_exec_cb(insn, on_marker, QEMU_PLUGIN_CB_R_REGS, END);
	}
	if (profile_n) {
		uint64_t va = qemu_plugin_tb_vaddr(tb);
		struct block *b;

		g_mutex_lock(&lock);
		b = g_hash_table_lookup(blocks, &va);
		if (!b) {
			b = g_new0(struct block, 1);
			b->vaddr = va;
			g_hash_table_insert(blocks, &b->vaddr, b);
		}
		/* A block retranslated at the same address may differ in length. */
		b->n_insns = n;
		g_mutex_unlock(&lock);
		qemu_plugin_register_vcpu_tb_exec_cond_cb(tb, on_block, QEMU_PLUGIN_CB_NO_REGS,
							  QEMU_PLUGIN_COND_NE, c_open, 0, b);
	}
}

static void vcpu_init(qemu_plugin_id_t id, unsigned int vcpu)
{
	GArray *regs;
	guint i;

	(void)id;
	(void)vcpu;
	if (rax)
		return;
	regs = qemu_plugin_get_registers();
	for (i = 0; regs && i < regs->len; i++) {
		qemu_plugin_reg_descriptor *r = &g_array_index(regs, qemu_plugin_reg_descriptor, i);

		if (!strcmp(r->name, "rax"))
			rax = r->handle;
	}
	if (regs)
		g_array_free(regs, TRUE);
	if (!rax)
		fprintf(stderr, "xo_insn_window: the vCPU has no register rax\n");
}

static void at_exit(qemu_plugin_id_t id, void *p)
{
	(void)id;
	(void)p;
	if (profile_n)
		print_profile();
	fprintf(out, "XO-TOTAL insns=%" PRIu64 "\n", all_vcpus());
	fclose(out);
}

QEMU_PLUGIN_EXPORT int qemu_plugin_install(qemu_plugin_id_t id, const qemu_info_t *info,
					   int argc, char **argv)
{
	const char *path = NULL;
	int i;

	if (strcmp(info->target_name, "x86_64") || !info->system_emulation) {
		fprintf(stderr, "xo_insn_window: only for qemu-system-x86_64\n");
		return -1;
	}
	for (i = 0; i < argc; i++) {
		if (!strncmp(argv[i], "out=", 4)) {
			path = argv[i] + 4;
		} else if (!strncmp(argv[i], "profile=", 8)) {
			profile_n = atoi(argv[i] + 8);
		} else {
			fprintf(stderr, "xo_insn_window: unknown option %s (out=FILE, profile=N)\n", argv[i]);
			return -1;
		}
	}
	if (!path) {
		fprintf(stderr, "xo_insn_window: out=FILE is needed\n");
		return -1;
	}
	out = fopen(path, "w");
	if (!out) {
		perror(path);
		return -1;
	}
	counts = qemu_plugin_scoreboard_new(sizeof(struct vcpu_count));
	c_user = qemu_plugin_scoreboard_u64_in_struct(counts, struct vcpu_count, user);
	c_kernel = qemu_plugin_scoreboard_u64_in_struct(counts, struct vcpu_count, kernel);
	c_open = qemu_plugin_scoreboard_u64_in_struct(counts, struct vcpu_count, open);
	blocks = g_hash_table_new(g_int64_hash, g_int64_equal);
	qemu_plugin_register_vcpu_init_cb(id, vcpu_init);
	qemu_plugin_register_vcpu_tb_trans_cb(id, tb_trans);
	qemu_plugin_register_atexit_cb(id, at_exit, NULL);
	return 0;
}
