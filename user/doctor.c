// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * memlens doctor: what this kernel offers memlens (kfeatures) and how each
 * subcommand will run here (kplan), with the reason for each reduction.
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <unistd.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/utsname.h>
#include "alloc_probes.h"
#include "cli.h"
#include "kfeatures.h"
#include "kplan.h"
#include "output.h"
#include "procmaps.h"
#include "subcommands.h"
#include "util.h"
#include "verifier_cost.h"

static const char doctor_usage[] =
"Usage: memlens doctor [--json] [--verifier]\n"
"\n"
"What this kernel offers memlens (BTF, uprobe_multi, ring buffer, task storage,\n"
"tracefs, memory cgroups, lockdown, ...) and how each command\n"
"will run here: full, reduced (and why), or unavailable (and why).\n"
"MEMLENS_DISABLE=name,... makes memlens act as if those features were missing.\n"
"\n";

enum { OPT_JSON = CLI_CMD_KEYS, OPT_VERIFIER };

static const struct cli_opt doctor_opts[] = {
	{ "json", OPT_JSON, NULL, 0, "one JSON object instead of the tables" },
	{ "verifier", OPT_VERIFIER, NULL, 0,
	  "load every BPF program in every mode and print what the\n"
	  "kernel's verifier spent on each; exit 1 if one is\n"
	  "refused or over memlens's budget (10% of the limit)" },
	{},
};

const struct cli_cmd doctor_cli = {
	.name = "doctor",
	.usage = doctor_usage,
	.epilog = "\n"
		  "Exit code 0 when every command can run here, reduced or not; 1 when one\n"
		  "cannot (or on errors); 2 on bad usage.\n",
	.tables = (const struct cli_opt *const[]){ doctor_opts, cli_help, NULL },
};

/* 0, or -EINVAL (said); --help exits. */
static int parse_args(int argc, char **argv, bool *json, bool *verifier)
{
	struct cli_parser p;
	int opt;

	if (cli_parser_init(&p, &doctor_cli))
		return -E2BIG;
	while ((opt = cli_next(&p, argc, argv)) != -1) {
		switch (opt) {
		case OPT_JSON:
			*json = true;
			break;
		case OPT_VERIFIER:
			*verifier = true;
			break;
		case 'h':
			cli_help_exit(&doctor_cli);
		case CLI_BAD:
			return -EINVAL;
		default:
			bad_option("doctor", '?', argv[optind - 1]);
			return -EINVAL;
		}
	}
	if (optind < argc) {
		error_msg("doctor: unexpected argument '%s' (see memlens doctor --help)",
			  argv[optind]);
		return -EINVAL;
	}
	return 0;
}

static void print_feature(const char *name, const char *here, const char *since,
			  const char *detail)
{
	if (*detail)
		printf("%-16s %-9s %-7s %s\n", name, here, since, detail);
	else
		printf("%-16s %-9s %s\n", name, here, since);
}

static void print_features(void)
{
	print_feature("FEATURE", "HERE", "SINCE", "DETAIL");
	for (int f = 0; f < KF_NR; f++) {
		bool has = kfeature_has(f);

		print_feature(kfeature_name(f), has ? "yes" : "no", kfeature_since(f),
			      kfeature_detail(f));
	}
	print_feature("lockdown", klockdown_name(klockdown()), "5.4", "");
}

/* "leaks: full", "leaks: reduced: A; B", "kmem: unavailable: A". */
static void print_plan(const char *cmd, const struct kplan *p)
{
	printf("%s: %s", cmd, kplan_mode_name(p->mode));
	for (unsigned int i = 0; i < p->nr_reasons; i++)
		printf("%s%s", i ? "; " : ": ", p->reasons[i]);
	putchar('\n');
}

static void print_json_features(void)
{
	fputs("\"features\":{", stdout);
	for (int f = 0; f < KF_NR; f++)
		printf("\"%s\":%s,", kfeature_name(f), kfeature_has(f) ? "true" : "false");
	printf("\"lockdown\":\"%s\"},\"since\":{", klockdown_name(klockdown()));
	for (int f = 0; f < KF_NR; f++)
		printf("%s\"%s\":\"%s\"", f ? "," : "", kfeature_name(f), kfeature_since(f));
	fputs("},\"details\":{", stdout);
	for (int f = 0, n = 0; f < KF_NR; f++) {
		if (!*kfeature_detail(f))
			continue;
		printf("%s\"%s\":", n++ ? "," : "", kfeature_name(f));
		json_print_string(stdout, kfeature_detail(f));
	}
	putchar('}');
}

static void print_json_plan(const char *cmd, const struct kplan *p)
{
	printf("\"%s\":{\"mode\":\"%s\",\"reasons\":[", cmd, kplan_mode_name(p->mode));
	for (unsigned int i = 0; i < p->nr_reasons; i++) {
		if (i)
			putchar(',');
		json_print_string(stdout, p->reasons[i]);
	}
	fputs("],\"ways\":{", stdout);
	for (unsigned int i = 0; i < p->nr_ways; i++)
		printf("%s\"%s\":\"%s\"", i ? "," : "", p->ways[i].rule, p->ways[i].way);
	fputs("}}", stdout);
}

struct cost_table {
	bool json;
	int nr;
	int over_budget;
	int refused;
	struct prog_cost worst;
};

static void print_cost(const struct prog_cost *c, void *arg)
{
	struct cost_table *t = arg;
	const char *err = c->err == -ECANCELED ? "not tried" : c->err ? strerror(-c->err) : NULL;

	if (c->err && c->err != -ECANCELED)
		t->refused++;
	else if (c->insns > VERIFIER_BUDGET)
		t->over_budget++;
	if (c->insns > t->worst.insns)
		t->worst = *c;
	if (!t->json) {
		printf("%-20s %-24s %8ld %8ld %10ld%s%s%s%s\n", c->mode, c->prog, c->insns,
		       c->peak_states, c->usec, err ? "  " : "", err ? err : "",
		       *c->why ? ": " : "", c->why);
		t->nr++;
		return;
	}
	printf("%s{\"mode\":\"%s\",\"program\":\"%s\",\"insns\":%ld,\"peak_states\":%ld,"
	       "\"total_states\":%ld,\"usec\":%ld,\"error\":", t->nr++ ? "," : "", c->mode,
	       c->prog, c->insns, c->peak_states, c->total_states, c->usec);
	if (err)
		json_print_string(stdout, err);
	else
		fputs("null", stdout);
	fputs(",\"why\":", stdout);
	json_print_string(stdout, c->why);
	putchar('}');
}

/*
 * memlens doctor --verifier: every program of every object in every mode,
 * loaded and unloaded. 1 if one is refused or over budget.
 */
static int print_verifier_costs(bool json)
{
	struct cost_table t = { .json = json, .worst.insns = -1 };
	int err;

	if (json)
		printf("{\"limit\":%d,\"budget\":%d,\"programs\":[", VERIFIER_INSN_LIMIT,
		       VERIFIER_BUDGET);
	else
		printf("%-20s %-24s %8s %8s %10s\n", "MODE", "PROGRAM", "INSNS", "PEAK", "TIME_US");
	err = verifier_costs(print_cost, &t);
	if (json)
		printf("],\"refused\":%d,\"over_budget\":%d}\n", t.refused, t.over_budget);
	else if (t.worst.insns >= 0)
		printf("\nlargest: %s (%s), %ld insns, %.1f%% of the verifier's limit; "
		       "budget %d%%: %d over, %d refused\n", t.worst.prog, t.worst.mode,
		       t.worst.insns, 100.0 * t.worst.insns / VERIFIER_INSN_LIMIT,
		       100 * VERIFIER_BUDGET / VERIFIER_INSN_LIMIT, t.over_budget, t.refused);
	if (output_check(stdout, "stdout"))
		return 1;
	if (err) {
		error_msg("doctor: cannot load BPF objects: %s", strerror(-err));
		return 1;
	}
	if (t.refused || t.over_budget) {
		error_msg("doctor: %d program(s) refused, %d over budget", t.refused,
			  t.over_budget);
		return 1;
	}
	return 0;
}

struct probe_list {
	bool json;
	int nr;
};

static void print_probe(const struct alloc_probe_info *pi, void *arg)
{
	struct probe_list *l = arg;

	if (!l->json) {
		printf("  %-36s 0x%-8llx %s\n", pi->func, (unsigned long long)pi->entry, pi->how);
		return;
	}
	printf("%s{\"function\":\"%s\",\"entry\":%llu,\"probe\":%u,\"insn\":\"%s\","
	       "\"emulated\":%s,\"hooked\":%s,\"how\":", l->nr++ ? "," : "", pi->func,
	       (unsigned long long)pi->entry, pi->skip, pi->insn, pi->emulated ? "true" : "false",
	       pi->hooked ? "true" : "false");
	json_print_string(stdout, pi->how);
	putchar('}');
}

/*
 * Where memlens would probe the allocators of this system: its own libc,
 * and libstdc++, jemalloc and tcmalloc beside it. A probe on an
 * instruction the kernel emulates costs one trap; elsewhere two.
 */
static void print_probes(bool json)
{
	static const char *const others[] = { "libstdc++.so.6", "libjemalloc.so.2",
					       "libtcmalloc.so.4", "libtcmalloc_minimal.so.4" };
	char path[PATH_MAX], real[PATH_MAX], *slash;
	struct probe_list l = { .json = json };
	struct vma_list maps = {};
	const struct vma *libc;
	int printed = 0;

	if (vma_list_load(getpid(), &maps))
		return;
	libc = vma_find_libc(&maps);
	snprintf(path, sizeof(path), "%s", libc ? libc->path : "");
	vma_list_free(&maps);
	if (!*path)
		return;
	if (json)
		fputs(",\"probes\":{", stdout);
	else
		puts("ALLOCATOR PROBES: FUNCTION, ENTRY (FILE OFFSET), PROBE");
	slash = strrchr(path, '/');
	for (size_t i = 0; i <= sizeof(others) / sizeof(others[0]); i++) {
		if (i)
			snprintf(slash + 1, sizeof(path) - (slash + 1 - path), "%s", others[i - 1]);
		if (!realpath(path, real) || access(real, R_OK))
			continue;
		if (json) {
			printf("%s", printed++ ? "," : "");
			json_print_string(stdout, real);
			fputs(":[", stdout);
		} else {
			printf("%s\n", real);
		}
		l.nr = 0;
		alloc_probes_describe(real, print_probe, &l);
		if (json)
			putchar(']');
	}
	if (json) {
		putchar('}');
		return;
	}
	if (!strcmp(kplan_sampling().way, "uprobe_session"))
		puts("--sample-bytes: uprobe sessions: a call left unsampled skips its return probe");
	else
		puts("--sample-bytes: uprobe + uretprobe: no uprobe sessions (6.13), every call "
		     "takes its return probe");
	putchar('\n');
}

/* Every plan, printed; the number of commands that cannot run here. */
static int print_plans(bool json)
{
	struct kplan plan;
	int unavailable = 0, printed = 0;

	for (size_t i = 0; i < kplan_nr_commands; i++) {
		const char *cmd = kplan_commands[i];

		if (kplan_command(cmd, &plan))
			continue;
		if (plan.mode == KPLAN_UNAVAILABLE)
			unavailable++;
		if (!json) {
			print_plan(cmd, &plan);
			continue;
		}
		if (printed++)
			putchar(',');
		print_json_plan(cmd, &plan);
	}
	return unavailable;
}

int cmd_doctor(int argc, char **argv)
{
	bool json = false, verifier = false;
	struct utsname u;
	int unavailable, err;

	err = parse_args(argc, argv, &json, &verifier);
	if (err)
		return EXIT_USAGE;
	/* Unprivileged, every BPF probe fails: the answer would be wrong. */
	if (check_privileges())
		return 1;
	setup_libbpf_logging();
	ignore_sigpipe();
	if (verifier)
		return print_verifier_costs(json);
	if (uname(&u))
		strcpy(u.release, "?");
	if (json) {
		fputs("{\"kernel\":", stdout);
		json_print_string(stdout, u.release);
		fputs(",\"machine\":", stdout);
		json_print_string(stdout, u.machine);
		putchar(',');
		print_json_features();
		print_probes(true);
		fputs(",\"commands\":{", stdout);
		unavailable = print_plans(true);
		fputs("}}\n", stdout);
	} else {
		printf("Linux %s %s\n\n", u.release, u.machine);
		print_features();
		putchar('\n');
		print_probes(false);
		unavailable = print_plans(false);
	}
	kfeatures_release();
	if (output_check(stdout, "stdout"))
		return 1;
	return unavailable ? 1 : 0;
}
