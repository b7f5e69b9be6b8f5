// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* Kernel symbols for kernel stacks: /proc/kallsyms, read once, sorted. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "ksyms.h"
#include "util.h"

#define KSYMS_MAX_OFFSET	(1 << 20)

static int add(struct ksyms *k, uint64_t addr, const char *name, const char *module)
{
	struct ksym *s;

	if (array_grow((void **)&k->syms, k->nr, &k->cap, sizeof(*k->syms)))
		return -ENOMEM;
	s = &k->syms[k->nr];
	s->addr = addr;
	s->name = strdup(name);
	s->module = module ? strdup(module) : NULL;
	if (!s->name || (module && !s->module)) {
		free(s->name);
		free(s->module);
		return -ENOMEM;
	}
	k->nr++;
	return 0;
}

static int by_addr(const void *a, const void *b)
{
	const struct ksym *x = a, *y = b;

	return x->addr < y->addr ? -1 : x->addr > y->addr;
}

int ksyms_read(FILE *f, struct ksyms *k)
{
	/* KSYM_NAME_LEN is 512 since 6.1 (Rust): whole lines, however long. */
	char *line = NULL, name[512], module[128];
	unsigned long long addr;
	size_t cap = 0;
	char type;
	int n, err = 0;

	memset(k, 0, sizeof(*k));
	while (getline(&line, &cap, f) > 0) {
		module[0] = 0;
		n = sscanf(line, "%llx %c %511s [%127[^]]]", &addr, &type, name, module);
		if (n < 3)
			continue;
		/* Text only: stacks hold return addresses. */
		if (type != 't' && type != 'T' && type != 'w' && type != 'W')
			continue;
		err = add(k, addr, name, n == 4 ? module : NULL);
		if (err) {
			ksyms_free(k);
			break;
		}
	}
	free(line);
	if (!err)
		qsort(k->syms, k->nr, sizeof(*k->syms), by_addr);
	return err;
}

int ksyms_load(struct ksyms *k)
{
	FILE *f = fopen("/proc/kallsyms", "re");
	int err;

	if (!f)
		return -errno;
	err = ksyms_read(f, k);
	fclose(f);
	/* Addresses all 0: kptr_restrict hides them from us. */
	if (!err && (!k->nr || !k->syms[k->nr - 1].addr)) {
		ksyms_free(k);
		return -EPERM;
	}
	return err;
}

void ksyms_free(struct ksyms *k)
{
	for (size_t i = 0; i < k->nr; i++) {
		free(k->syms[i].name);
		free(k->syms[i].module);
	}
	free(k->syms);
	memset(k, 0, sizeof(*k));
}

const struct ksym *ksyms_find(const struct ksyms *k, uint64_t addr)
{
	size_t lo = 0, hi = k->nr;

	/* The first symbol above ADDR, then one back. */
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (k->syms[mid].addr <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo ? &k->syms[lo - 1] : NULL;
}

/* The symbol of ADDR if a name would not mislead: past the last one, or far from any. */
static const struct ksym *ksyms_near(const struct ksyms *k, uint64_t addr)
{
	const struct ksym *s = ksyms_find(k, addr);

	return s && addr - s->addr <= KSYMS_MAX_OFFSET ? s : NULL;
}

const char *ksyms_name(const struct ksyms *k, uint64_t addr)
{
	const struct ksym *s = ksyms_near(k, addr);

	return s ? s->name : NULL;
}

const char *ksyms_format(const struct ksyms *k, uint64_t addr, char *buf, size_t len)
{
	const struct ksym *s = ksyms_near(k, addr);

	if (!s) {
		snprintf(buf, len, "0x%llx", (unsigned long long)addr);
		return buf;
	}
	snprintf(buf, len, "%s+0x%llx%s%s%s", s->name, (unsigned long long)(addr - s->addr),
		 s->module ? " [" : "", s->module ? s->module : "", s->module ? "]" : "");
	return buf;
}

bool ksyms_tracing_frame(const char *name)
{
	static const char *const prefixes[] = {
		"bpf_prog_", "bpf_trace_run", "__bpf_trace_", "__traceiter_",
	};

	for (size_t i = 0; name && i < sizeof(prefixes) / sizeof(prefixes[0]); i++)
		if (!strncmp(name, prefixes[i], strlen(prefixes[i])))
			return true;
	return false;
}
