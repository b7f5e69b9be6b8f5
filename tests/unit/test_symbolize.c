// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>
#include "symbolize.h"
#include "unit.h"

static int marker_line;

/* Returns the address right after a call in it, as a stack frame holds. */
__attribute__((noinline)) uint64_t symbolize_marker(void)
{
	marker_line = __LINE__ + 1;
	return (uint64_t)(uintptr_t)__builtin_return_address(0);
}

__attribute__((noinline)) uint64_t symbolize_caller(int *line)
{
	uint64_t ret;

	*line = __LINE__ + 1;
	ret = symbolize_marker();
	__asm__ volatile("" ::: "memory");	/* keep the call a call */
	return ret;
}

static void test_own_frames(void)
{
	struct symbolizer *s = symbolizer_new(getpid());
	struct frame_info fi;
	uint64_t ret;
	int line;

	CHECK(s != NULL);
	CHECK(symbolizer_refresh(s) == 0);
	ret = symbolize_caller(&line);
	symbolizer_resolve(s, ret, &fi);
	CHECK_STR(fi.symbol, "symbolize_caller");
	CHECK(fi.sym_offset == ret - (uint64_t)(uintptr_t)symbolize_caller);
	CHECK(fi.file && strstr(fi.file, "test_symbolize.c"));
	CHECK_U64(fi.line, line);
	CHECK(fi.module && strstr(fi.module, "unit_tests"));

	symbolizer_resolve(s, 16, &fi);
	CHECK(fi.module == NULL && fi.symbol == NULL);
	symbolizer_free(s);
}

/* A process that is gone still symbolizes from what was read while it ran. */
static void test_exited_process(void)
{
	struct symbolizer *s;
	struct frame_info fi;
	uint64_t ret;
	int line;
	pid_t pid = fork();

	if (pid == 0) {
		pause();
		_exit(0);
	}
	s = symbolizer_new(pid);
	CHECK(symbolizer_refresh(s) == 0);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	CHECK(symbolizer_refresh(s) < 0);
	ret = symbolize_caller(&line);	/* the child ran the same binary */
	symbolizer_resolve(s, ret, &fi);
	CHECK_STR(fi.symbol, "symbolize_caller");
	CHECK_U64(fi.line, line);
	symbolizer_free(s);
}

void test_symbolize(void)
{
	(void)marker_line;
	test_own_frames();
	test_exited_process();
}
