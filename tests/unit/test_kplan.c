// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <errno.h>
#include <stdlib.h>
#include <sys/utsname.h>
#include "kfeatures.h"
#include "kplan.h"
#include "unit.h"

static bool mentions(const char *s, const char *word)
{
	return s && strstr(s, word);
}

static void test_release(void)
{
	CHECK(krelease_before("5.10.0-28-amd64", "5.11"));
	CHECK(krelease_before("4.19.1", "5.11"));
	CHECK(!krelease_before("5.11.0", "5.11"));
	CHECK(!krelease_before("6.18.44-fc-v1294", "5.11"));
	CHECK(!krelease_before("6.1", "5.17"));
	CHECK(krelease_before("6.1.0-18-cloud-amd64", "6.6"));
	CHECK(!krelease_before("garbage", "5.11"));
	CHECK(!krelease_before("6.1", "x"));
}

/* MEMLENS_DISABLE is read at each call: the rules follow it at once. */
static void test_rules_disabled(void)
{
	struct utsname u;
	struct kplan_way w;

	setenv("MEMLENS_DISABLE", "task_pt_regs, uprobe_multi,task_storage", 1);
	CHECK(kfeature_disabled(KF_TASK_PT_REGS) && !kfeature_has(KF_TASK_PT_REGS));
	CHECK(kfeature_disabled(KF_UPROBE_MULTI));
	/* A name is matched whole: "uprobe_multi" is not "uprobe_session". */
	CHECK(!kfeature_disabled(KF_UPROBE_SESSION));
	CHECK_STR(kfeature_detail(KF_TASK_PT_REGS), "disabled by MEMLENS_DISABLE");
	w = kplan_hooks();
	CHECK_STR(w.way, "uprobe");
	CHECK(mentions(w.reason, "uprobe_multi"));
	w = kplan_scratch();
	CHECK_STR(w.way, "percpu");
	/* Exact before 5.11: uprobe programs ran with preemption off. */
	CHECK(!uname(&u) && krelease_before(u.release, "5.11") ? !w.reason : w.reason != NULL);
	setenv("MEMLENS_DISABLE", "rss_stat", 1);
	w = kplan_rss();
	CHECK_STR(w.way, "none");
	CHECK(mentions(w.reason, "rss_stat"));
	setenv("MEMLENS_DISABLE", "rss_percpu,rss_atomic", 1);
	if (kfeature_has(KF_RSS_STAT))
		CHECK(mentions(kplan_rss().reason, "layout"));
	unsetenv("MEMLENS_DISABLE");
}

static void test_plans(void)
{
	struct kplan p;

	CHECK(kplan_command("nonsense", &p) == -ENOENT);
	CHECK(kplan_command("report", &p) == 0 && p.mode == KPLAN_FULL && !p.nr_reasons);
	/* Without BTF nothing loads: only that is said, not the reductions. */
	setenv("MEMLENS_DISABLE", "btf,uprobe_multi", 1);
	CHECK(kplan_command("leaks", &p) == 0);
	CHECK(p.mode == KPLAN_UNAVAILABLE && p.nr_reasons == 1);
	CHECK(mentions(p.reasons[0], "BTF"));
	CHECK(kplan_command("kmem", &p) == 0 && p.mode == KPLAN_UNAVAILABLE);
	CHECK(kplan_command("report", &p) == 0 && p.mode == KPLAN_FULL);
	setenv("MEMLENS_DISABLE", "task_storage,uprobe_multi", 1);
	if (kfeature_has(KF_BTF) && kfeature_has(KF_RINGBUF) && kfeature_has(KF_UPROBES) &&
	    kfeature_has(KF_TRACEFS)) {
		CHECK(kplan_command("leaks", &p) == 0 && p.mode == KPLAN_REDUCED);
		CHECK(p.nr_ways == 4);
		CHECK_STR(p.ways[0].way, "percpu");
		CHECK_STR(p.ways[1].way, "uprobe");
		/* Sessions are uprobe_multi links: none without them. */
		CHECK_STR(p.ways[2].way, "uretprobe");
		CHECK_STR(p.ways[3].rule, "blocks");
		CHECK_STR(p.ways[3].way, kfeature_has(KF_BPF_ATOMICS) ? "table" : "map");
	}
	/* No table of recent blocks without a compare-and-swap: said, not silent. */
	setenv("MEMLENS_DISABLE", "bpf_atomics", 1);
	if (kfeature_has(KF_BTF) && kfeature_has(KF_RINGBUF) && kfeature_has(KF_UPROBES) &&
	    kfeature_has(KF_TRACEFS)) {
		CHECK(kplan_command("record", &p) == 0 && p.mode == KPLAN_REDUCED);
		CHECK_STR(p.ways[p.nr_ways - 1].way, "map");
		CHECK(p.nr_reasons >= 1 && mentions(p.reasons[p.nr_reasons - 1], "atomics"));
	}
	unsetenv("MEMLENS_DISABLE");
	CHECK_STR(kplan_mode_name(KPLAN_REDUCED), "reduced");
	CHECK_STR(klockdown_name(KLOCKDOWN_INTEGRITY), "integrity");
	CHECK(!ktracepoint_has("no_such_tracepoint_here"));
	kfeatures_release();
}

void test_kplan(void)
{
	test_release();
	test_rules_disabled();
	test_plans();
}
