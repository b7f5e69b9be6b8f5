/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
#ifndef MEMLENS_ELFSYM_H
#define MEMLENS_ELFSYM_H

#include <stdint.h>

struct elf_file;

int elf_file_open(const char *path, struct elf_file **ef);
void elf_file_close(struct elf_file *ef);
/* File offset of function NAME (what a uprobe attaches to); -ENOENT if absent. */
int elf_func_offset(struct elf_file *ef, const char *name, uint64_t *offset);

#endif
