// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Operator new failing under memlens: each variant asked for 4 PiB, which
 * no allocator gives, and the program goes on. A return probe on a new
 * that throws would stop the exception (the kernel's trampoline has no
 * unwind info) and std::terminate kill the program. Then exactly known
 * leaks through aligned new, which libstdc++ hands to aligned_alloc:
 *
 *   leak_aligned64   3 x new A (alignas(64), 64 bytes)   192 bytes
 *
 * Exit status: 0, or how many of the five failures were not seen.
 */
#include <cstdio>
#include <new>

struct alignas(64) A {
	char c[64];
};

static const unsigned long long huge = 1ULL << 52;
static void *volatile keep[8];

/* 1 if new threw std::bad_alloc. */
__attribute__((noinline)) static int plain()
{
	try {
		keep[0] = new char[huge];
	} catch (std::bad_alloc &) {
		return 1;
	}
	return 0;
}

__attribute__((noinline)) static int object()
{
	try {
		keep[0] = ::operator new(huge);
	} catch (std::bad_alloc &) {
		return 1;
	}
	return 0;
}

__attribute__((noinline)) static int aligned()
{
	try {
		keep[0] = new A[huge];
	} catch (std::bad_alloc &) {
		return 1;
	}
	return 0;
}

/* 1 if the nothrow new gave NULL. */
__attribute__((noinline)) static int nothrow()
{
	keep[0] = new (std::nothrow) char[huge];
	return !keep[0];
}

__attribute__((noinline)) static int nothrow_aligned()
{
	keep[0] = new (std::nothrow) A[huge];
	return !keep[0];
}

__attribute__((noinline)) void leak_aligned64()
{
	for (int i = 0; i < 3; i++)
		keep[1 + i] = new A();
}

int main()
{
	int seen = plain() + object() + aligned() + nothrow() + nothrow_aligned();

	leak_aligned64();
	printf("%d of 5 failures seen\n", seen);
	return 5 - seen;
}
