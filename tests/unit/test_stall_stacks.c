// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <signal.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "procmaps.h"
#include "stall_stacks.h"
#include "symbolize.h"
#include "unit.h"

__attribute__((noinline)) void stall_stacks_marker(void)
{
	__asm__ volatile("" ::: "memory");
}

#ifdef __x86_64__

/*
 * x86-64, run from an anonymous page: munmap(%rdi, %rsi), then pause()
 * for ever. The program's own code can go while the process lives on.
 */
static const unsigned char unmap_and_pause[] = {
	0xb8, 0x0b, 0x00, 0x00, 0x00,	/* mov $__NR_munmap, %eax */
	0x0f, 0x05,			/* syscall */
	0xb8, 0x22, 0x00, 0x00, 0x00,	/* 1: mov $__NR_pause, %eax */
	0x0f, 0x05,			/* syscall */
	0xeb, 0xf7,			/* jmp 1b */
};

/* The child: once told, unmaps everything the program file maps, and waits. */
static void child_unmap_program(int cmd)
{
	uint64_t at = (uint64_t)(uintptr_t)stall_stacks_marker, lo = UINT64_MAX, hi = 0;
	struct vma_list maps = {};
	const struct vma *prog;
	void (*run)(uint64_t, uint64_t);
	void *page;
	char c;

	if (vma_list_load(getpid(), &maps) || !(prog = vma_find(&maps, at)))
		_exit(1);
	for (size_t i = 0; i < maps.nr; i++) {
		if (strcmp(maps.v[i].path, prog->path))
			continue;
		lo = maps.v[i].start < lo ? maps.v[i].start : lo;
		hi = maps.v[i].end > hi ? maps.v[i].end : hi;
	}
	page = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (page == MAP_FAILED)
		_exit(1);
	memcpy(page, unmap_and_pause, sizeof(unmap_and_pause));
	if (mprotect(page, 4096, PROT_READ | PROT_EXEC) || read(cmd, &c, 1) != 1)
		_exit(1);
	run = (void (*)(uint64_t, uint64_t))page;
	run(lo, hi - lo);
}

/* Does process PID map code from the file that holds this function? */
static bool maps_program(pid_t pid)
{
	uint64_t at = (uint64_t)(uintptr_t)stall_stacks_marker;
	struct vma_list own = {}, maps = {};
	const struct vma *prog;
	bool found = false;

	if (vma_list_load(getpid(), &own) || !(prog = vma_find(&own, at)))
		return true;
	if (!vma_list_load(pid, &maps))
		for (size_t i = 0; i < maps.nr && !found; i++)
			found = maps.v[i].exec && !strcmp(maps.v[i].path, prog->path);
	vma_list_free(&maps);
	vma_list_free(&own);
	return found;
}

/*
 * A process read at its exec whose maps, at its first stall, no longer
 * show its program (as an OOM victim's can while it exits): its program's
 * frames are named from what was read at exec, under what is read now.
 */
static void test_program_gone_from_maps(void)
{
	struct stall_stacks *s = stall_stacks_new(NULL);
	struct timespec pause_10ms = { 0, 10 * 1000 * 1000 };
	uint64_t at = (uint64_t)(uintptr_t)stall_stacks_marker + 1;
	struct symbolizer *sym;
	struct frame_info fi = {};
	void (*old_pipe)(int);
	int cmd[2], tries = 0;
	pid_t pid;

	if (!s || pipe(cmd)) {
		CHECK(!"a stall_stacks and a pipe");
		stall_stacks_free(s);
		return;
	}
	pid = fork();
	if (pid < 0) {
		CHECK(pid >= 0);
		close(cmd[0]);
		close(cmd[1]);
		stall_stacks_free(s);
		return;
	}
	if (pid == 0) {
		/* Not left paused, its program gone, if the tests die. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		close(cmd[1]);
		child_unmap_program(cmd[0]);
		_exit(1);
	}
	close(cmd[0]);
	stall_stacks_early(s, pid, "unit");
	/* A child gone early (no exec mapping allowed) fails a check, not the tests. */
	old_pipe = signal(SIGPIPE, SIG_IGN);
	CHECK(write(cmd[1], "x", 1) == 1);
	signal(SIGPIPE, old_pipe);
	while (maps_program(pid) && tries++ < 500)
		nanosleep(&pause_10ms, NULL);
	CHECK(!maps_program(pid));
	stall_stacks_seen(s, pid, pid, "unit");
	CHECK(stall_stacks_early_only(s) == 0 && stall_stacks_unread(s) == 0);
	sym = stall_stacks_symbolizer(s, pid);
	CHECK(sym != NULL);
	if (sym)
		symbolizer_resolve(sym, at, &fi);
	CHECK_STR(fi.symbol, "stall_stacks_marker");
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	close(cmd[1]);
	stall_stacks_free(s);
}

#endif /* __x86_64__ */

void test_stall_stacks(void)
{
#ifdef __x86_64__
	test_program_gone_from_maps();
#endif
}
