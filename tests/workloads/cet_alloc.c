// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * An allocator of its own, preloaded and hooked with --allocator: glibc's
 * malloc behind thin wrappers that keep their own totals, built with and
 * without -fcf-protection=full. Built with it, every function begins with
 * endbr64, which the kernel single-steps (tests/e2e-probes.sh, bench/).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <malloc.h>
#include <stddef.h>
#include <stdint.h>

void *__libc_malloc(size_t size);
void *__libc_calloc(size_t nmemb, size_t size);
void *__libc_realloc(void *ptr, size_t size);
void *__libc_memalign(size_t align, size_t size);
void __libc_free(void *ptr);

/* What the wrappers keep across the call: a push in each prologue. */
static size_t allocated, freed;

void *malloc(size_t size)
{
	void *p = __libc_malloc(size);

	if (p)
		allocated += size;
	return p;
}

void free(void *ptr)
{
	size_t size;

	if (!ptr)
		return;
	size = malloc_usable_size(ptr);
	__libc_free(ptr);
	freed += size;
}

void *calloc(size_t nmemb, size_t size)
{
	void *p = __libc_calloc(nmemb, size);

	if (p)
		allocated += nmemb * size;
	return p;
}

void *realloc(void *ptr, size_t size)
{
	void *p = __libc_realloc(ptr, size);

	if (p)
		allocated += size;
	return p;
}

int posix_memalign(void **memptr, size_t align, size_t size)
{
	void *p = __libc_memalign(align, size);

	if (!p)
		return ENOMEM;
	allocated += size;
	*memptr = p;
	return 0;
}

void *aligned_alloc(size_t align, size_t size)
{
	void *p = __libc_memalign(align, size);

	if (p)
		allocated += size;
	return p;
}

void *memalign(size_t align, size_t size)
{
	return aligned_alloc(align, size);
}
