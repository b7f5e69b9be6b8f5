/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
#ifndef MEMLENS_SUBCOMMANDS_H
#define MEMLENS_SUBCOMMANDS_H

/* Each subcommand parses its own options and returns the exit code. */
int cmd_leaks(int argc, char **argv);
int cmd_allocs(int argc, char **argv);
int cmd_top(int argc, char **argv);
int cmd_hist(int argc, char **argv);
int cmd_reclaim(int argc, char **argv);
int cmd_kmem(int argc, char **argv);
int cmd_record(int argc, char **argv);
int cmd_report(int argc, char **argv);
int cmd_doctor(int argc, char **argv);

/* Their command lines (cli.h): options and help. */
struct cli_cmd;
extern const struct cli_cmd leaks_cli, allocs_cli, top_cli, hist_cli, reclaim_cli, kmem_cli,
	record_cli, report_cli, doctor_cli;

#endif
