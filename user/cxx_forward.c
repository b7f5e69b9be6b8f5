// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * C++ operators that only hand the call on to the allocator below them.
 * On glibc, libstdc++'s operator delete is `endbr64; jmp free@plt` (or a
 * jump to another delete), and operator new calls malloc and returns what
 * it returns. Hooked, each costs its own traps on top of malloc's and
 * free's: a new+delete pair took seven where malloc+free take three.
 *
 * Where the code proves it, the operator is not hooked:
 * - a tail jump (CXX_TAIL): the callee runs on the caller's return
 *   address, so free's probe, or the callee's, sees exactly what the
 *   operator's would have (the pointer in rdi is untouched on the way);
 * - a call whose result is returned at once (CXX_CALLS): malloc's return
 *   probe records the block; its first frame would be inside new, and the
 *   fp walk would skip new's caller (libstdc++ keeps no frame pointer). So
 *   each return address of those calls is published with where new's
 *   caller's return address then is (sp + slot), read from the code after
 *   the call and checked against the CFI: the BPF side starts the stack
 *   there, as if at new's return (bpf/allocs.bpf.c, new_caller()).
 * Anything else stays hooked.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include "cxx_forward.h"
#include "elfsym.h"
#include "probe_site.h"
#include "unwind_table.h"

#define MAX_CODE 4096		/* a forwarder is short; longer ones stay hooked */

/* The code is read as x86_64's; elsewhere nothing is proven. */
#if defined(__x86_64__)
static const bool x86_64 = true;
#else
static const bool x86_64 = false;
#endif

/* Nothing proven, and why (where that is worth saying: -v, doctor). */
static void not_proven(struct cxx_forward *fw, const char *why)
{
	fw->kind = CXX_HOOKED;
	fw->nr_sites = 0;
	snprintf(fw->why, sizeof(fw->why), "%s", why);
}

static bool listed(const char *name, const char *const *names)
{
	for (; *names; names++)
		if (!strcmp(name, *names))
			return true;
	return false;
}

/*
 * What a branch to ELF address VADDR reaches, if one of NAMES: a PLT stub
 * of that name (whichever definition the loader binds: each is hooked or
 * proven in turn), or that function of EF itself. Into OUT.
 */
static bool reaches(struct elf_file *ef, uint64_t vaddr, const char *const *names, char *out,
		    size_t len)
{
	const char *name = elf_plt_symbol(ef, vaddr);
	uint64_t off, foff, size;

	if (name) {
		if (!listed(name, names))
			return false;
		snprintf(out, len, "%s@plt", name);
		return true;
	}
	if (elf_vaddr_to_offset(ef, vaddr, &off))
		return false;
	for (; *names; names++) {
		if (!elf_func_lookup(ef, *names, &foff, &size) && foff == off) {
			snprintf(out, len, "%s", *names);
			return true;
		}
	}
	return false;
}

static size_t read_code(struct elf_file *ef, uint64_t off, uint64_t size, unsigned char *code)
{
	size_t len = size && size < MAX_CODE ? size : 64;

	while (len && elf_read_at(ef, off, code, len))
		len /= 2;
	return len;
}

void cxx_forward_tail(struct elf_file *ef, uint64_t off, uint64_t size,
		      const char *const *targets, struct cxx_forward *fw)
{
	unsigned char code[MAX_CODE];
	unsigned int free_regs = probe_free_regs(1);	/* rdi kept */
	uint64_t vaddr;
	size_t len, pos = 0;
	struct insn in;
	int32_t rel;

	memset(fw, 0, sizeof(*fw));
	if (!x86_64)
		return;
	len = read_code(ef, off, size, code);
	if (elf_offset_vaddr(ef, off, &vaddr))
		return;
	for (int n = 0; n < 16 && pos < len; n++) {
		insn_decode(code + pos, len - pos, free_regs, &in);
		if (in.kind == INSN_ENDBR && pos == 0) {
			pos += in.len;
			continue;
		}
		if (in.kind == INSN_QUIET) {
			pos += in.len;
			continue;
		}
		if (in.kind != INSN_EMULATED || (code[pos] != 0xe9 && code[pos] != 0xeb))
			return;		/* anything but a jump: not a forwarder */
		if (code[pos] == 0xeb) {
			rel = (int8_t)code[pos + 1];
		} else {
			memcpy(&rel, code + pos + 1, sizeof(rel));
		}
		if (!reaches(ef, vaddr + pos + in.len + (int64_t)rel, targets, fw->target,
			     sizeof(fw->target)))
			return;
		fw->kind = CXX_TAIL;
		snprintf(fw->why, sizeof(fw->why), "jmp %s at +%zu", fw->target, pos);
		return;
	}
}

/*
 * From the return address of a call to the allocator: `test %rax,%rax;
 * je/jz` (NULL goes elsewhere) or not, then only pops of registers other
 * than rax and `add $n,%rsp`, then `ret`. The bytes popped: where the
 * caller's return address is.
 */
static int returns_result(const unsigned char *c, size_t len, uint32_t *slot)
{
	size_t p = 0;

	*slot = 0;
	if (len >= 5 && !memcmp(c, "\x48\x85\xc0", 3)) {
		p = 3;
		if (c[p] == 0x74)
			p += 2;
		else if (len >= p + 6 && c[p] == 0x0f && c[p + 1] == 0x84)
			p += 6;
		else
			return -ENOENT;
	}
	for (int n = 0; n < 16 && p < len; n++) {
		if (c[p] == 0xc3)
			return 0;
		if (c[p] >= 0x59 && c[p] <= 0x5f && c[p] != 0x5c) {	/* pop, not rax nor rsp */
			*slot += 8;
			p += 1;
		} else if (p + 1 < len && c[p] == 0x41 && c[p + 1] >= 0x58 && c[p + 1] <= 0x5f) {
			*slot += 8;	/* pop %r8..%r15 */
			p += 2;
		} else if (p + 3 < len && c[p] == 0x48 && c[p + 1] == 0x83 && c[p + 2] == 0xc4 &&
			   !(c[p + 3] & 0x80)) {
			*slot += c[p + 3];	/* add $imm8,%rsp */
			p += 4;
		} else {
			return -ENOENT;
		}
	}
	return -ENOENT;
}

/*
 * The CFI at the return address VADDR agrees: CFA = rsp + SLOT + 8, and
 * the caller's rbp in rbp, or saved below the return address (aligned new
 * uses rbp for itself). Into *SLOT, with NEW_SITE_SLOT(), where that is.
 */
static bool cfi_agrees(struct elf_file *ef, uint64_t vaddr, uint32_t *slot)
{
	struct unwind_row row;
	int64_t rbp;

	if (unwind_row_at(elf_file_elf(ef), vaddr, &row) || (row.rules & 0xf) != UNWIND_CFA_RSP ||
	    (int64_t)row.cfa_off8 * 8 != (int64_t)*slot + 8)
		return false;
	if ((row.rules >> 4) == UNWIND_RBP_SAME)
		return true;
	if ((row.rules >> 4) != UNWIND_RBP_SAVED)
		return false;
	rbp = (int64_t)*slot + 8 + (int64_t)row.rbp_off8 * 8;	/* from sp */
	if (rbp < 0 || rbp >= *slot)
		return false;
	*slot = NEW_SITE_SLOT(*slot, (uint32_t)rbp + 1);
	return true;
}

void cxx_forward_calls(struct elf_file *ef, uint64_t off, uint64_t size, const char *callee,
		       struct cxx_forward *fw)
{
	const char *const names[] = { callee, NULL };
	unsigned char code[MAX_CODE];
	const char *got;
	char target[64];
	uint64_t vaddr;
	size_t len;
	int32_t rel;

	memset(fw, 0, sizeof(*fw));
	if (!x86_64 || !size || size > MAX_CODE || elf_offset_vaddr(ef, off, &vaddr))
		return;
	len = read_code(ef, off, size, code);
	if (len != size)
		return;
	/*
	 * Every byte is tried as a call: a real call to CALLEE is always
	 * found. Bytes that only look like one either fail the checks below
	 * (the operator stays hooked) or give an address no call returns to.
	 */
	for (size_t i = 0; i + 5 <= len; i++) {
		/* call *slot(%rip) or jmp *slot(%rip) to it: not followed here. */
		if (i + 6 <= len && code[i] == 0xff && (code[i + 1] == 0x15 || code[i + 1] == 0x25)) {
			memcpy(&rel, code + i + 2, sizeof(rel));
			got = elf_got_symbol(ef, vaddr + i + 6 + (int64_t)rel);
			if (got && !strcmp(got, callee)) {
				not_proven(fw, "calls it through the GOT");
				return;
			}
		}
		if (code[i] != 0xe8 || i + 5 > len)
			continue;
		memcpy(&rel, code + i + 1, sizeof(rel));
		if (!reaches(ef, vaddr + i + 5 + (int64_t)rel, names, target, sizeof(target)))
			continue;
		if (fw->nr_sites == NEW_SITES_MAX) {
			not_proven(fw, "too many calls");
			return;
		}
		if (returns_result(code + i + 5, len - i - 5, &fw->slot[fw->nr_sites])) {
			not_proven(fw, "does more than return the block");
			return;
		}
		if (!cfi_agrees(ef, vaddr + i + 5, &fw->slot[fw->nr_sites])) {
			not_proven(fw, "its CFI does not confirm the stack depth");
			return;
		}
		fw->site[fw->nr_sites++] = off + i + 5;
		snprintf(fw->target, sizeof(fw->target), "%s", target);
	}
	if (!fw->nr_sites)
		return;
	fw->kind = CXX_CALLS;
	snprintf(fw->why, sizeof(fw->why),
		 "calls %s at +%llu and returns what it returns; its caller's return address at "
		 "sp+%u there%s (code and CFI agree)", fw->target,
		 (unsigned long long)(fw->site[0] - off - 5), NEW_SITE_RET(fw->slot[0]),
		 NEW_SITE_RBP(fw->slot[0]) ? ", its rbp below" : "");
}
