/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
#ifndef MEMLENS_ELFSYM_H
#define MEMLENS_ELFSYM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct elf_file;

int elf_file_open(const char *path, struct elf_file **ef);
void elf_file_close(struct elf_file *ef);
/* File offset of function NAME (what a uprobe attaches to); -ENOENT if absent. */
int elf_func_offset(struct elf_file *ef, const char *name, uint64_t *offset);

/* The same, and its size in bytes (0: not known). */
int elf_func_lookup(struct elf_file *ef, const char *name, uint64_t *offset, uint64_t *size);

/*
 * Whether a symbol (function, ifunc or untyped, any binding, .dynsym or
 * .symtab) starts in the file offsets (FROM, TO]: another way into that
 * code (an alternate entry, another function), reached by a call, the PLT
 * or a function pointer. 1: one does, 0: none, negative errno.
 */
int elf_symbol_within(struct elf_file *ef, uint64_t from, uint64_t to);

/* Read LEN bytes of the file at file offset OFF. */
int elf_read_at(struct elf_file *ef, uint64_t off, void *buf, size_t len);

/*
 * The executable PT_LOAD segment holding file offset OFF: its file offset
 * START and SIZE bytes in the file. -ENOENT when OFF is in none.
 */
int elf_exec_segment(struct elf_file *ef, uint64_t off, uint64_t *start, uint64_t *size);

/* The address of file offset OFF, as the ELF file's code sees it. */
int elf_offset_vaddr(struct elf_file *ef, uint64_t off, uint64_t *vaddr);
/* The symbol a PLT stub at VADDR jumps to through its GOT slot; NULL if not one. */
const char *elf_plt_symbol(struct elf_file *ef, uint64_t vaddr);
/*
 * 1 if a row of the call frame information begins at VADDR with the CFA
 * at rsp + 8 (an instruction boundary, the frame popped), 0 if not,
 * -ENOENT without CFI.
 */
int elf_frame_popped_at(struct elf_file *ef, uint64_t vaddr);
/* Is the CFA at rsp + 8 at VADDR (1), in a row that begins at *ROW? */
int elf_frame_entry_cfa(struct elf_file *ef, uint64_t vaddr, uint64_t *row);
/* The GOT slot a PLT stub at VADDR jumps through, or 0. */
uint64_t elf_plt_slot(struct elf_file *ef, uint64_t vaddr);
/* The symbol the relocation of GOT slot SLOT names (JUMP_SLOT, GLOB_DAT), or NULL. */
const char *elf_slot_symbol(struct elf_file *ef, uint64_t slot);

/* 1 if the file names a dynamic loader (PT_INTERP): it can map libraries. */
int elf_has_interp(struct elf_file *ef);

/* The file offset of ELF address VADDR. */
int elf_vaddr_to_offset(struct elf_file *ef, uint64_t vaddr, uint64_t *off);
/* The symbol whose address the GOT slot at ELF address SLOT is given; NULL if none. */
const char *elf_got_symbol(struct elf_file *ef, uint64_t slot);
/* Has the file a section called NAME? */
bool elf_has_section(struct elf_file *ef, const char *name);
/* The libelf handle, for DWARF CFI (unwind_table.c). */
struct Elf;
struct Elf *elf_file_elf(struct elf_file *ef);

#endif
