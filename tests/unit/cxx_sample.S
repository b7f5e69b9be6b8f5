/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * C++ operators that only forward to malloc and free, and some that look
 * as if they did but do not, for tests/unit/test_cxx_forward.c, built as
 * build/cxx_sample.so: libstdc++'s code on glibc (Debian 12), and its
 * near misses. Never run: only read.
 */
	.text

	.globl	_ZdlPv			/* operator delete(void *): jmp free@plt */
	.type	_ZdlPv, @function
_ZdlPv:
	.cfi_startproc
	endbr64
	jmp	free@PLT
	.cfi_endproc
	.size	_ZdlPv, .-_ZdlPv

	.globl	_ZdlPvmSt11align_val_t	/* a quiet mov first, then jmp to another delete */
	.type	_ZdlPvmSt11align_val_t, @function
_ZdlPvmSt11align_val_t:
	.cfi_startproc
	endbr64
	movq	%rdx, %rsi
	jmp	_ZdlPv@PLT
	.cfi_endproc
	.size	_ZdlPvmSt11align_val_t, .-_ZdlPvmSt11align_val_t

	.globl	bad_delete_rdi		/* changes the pointer before it jumps */
	.type	bad_delete_rdi, @function
bad_delete_rdi:
	.cfi_startproc
	endbr64
	movq	%rsi, %rdi
	jmp	free@PLT
	.cfi_endproc
	.size	bad_delete_rdi, .-bad_delete_rdi

	.globl	bad_delete_elsewhere	/* jumps to something that is no free */
	.type	bad_delete_elsewhere, @function
bad_delete_elsewhere:
	.cfi_startproc
	endbr64
	jmp	pool_put@PLT
	.cfi_endproc
	.size	bad_delete_elsewhere, .-bad_delete_elsewhere

	.globl	_Znwm			/* operator new(size_t): libstdc++'s */
	.type	_Znwm, @function
_Znwm:
.Lznwm:
	.cfi_startproc
	endbr64
	testq	%rdi, %rdi
	movl	$1, %eax
	pushq	%rbx
	.cfi_def_cfa_offset 16
	.cfi_offset %rbx, -16
	cmovne	%rdi, %rax
	movq	%rax, %rbx
.Lretry:
	movq	%rbx, %rdi
	call	malloc@PLT		/* the return address: _Znwm+28 */
	testq	%rax, %rax
	je	.Lfail
	popq	%rbx
	.cfi_remember_state
	.cfi_def_cfa_offset 8
	ret
.Lfail:
	.cfi_restore_state
	call	handler@PLT
	jmp	.Lretry
	.cfi_endproc
	.size	_Znwm, .-_Znwm

	.globl	_Znam			/* operator new[]: a jump to new in the same file */
	.type	_Znam, @function
_Znam:
	.cfi_startproc
	endbr64
	jmp	.Lznwm
	.cfi_endproc
	.size	_Znam, .-_Znam

	.globl	_ZnwmRKSt9nothrow_t	/* nothrow new: calls new, returns its result */
	.type	_ZnwmRKSt9nothrow_t, @function
_ZnwmRKSt9nothrow_t:
	.cfi_startproc
	endbr64
	subq	$8, %rsp
	.cfi_def_cfa_offset 16
	call	_Znwm@PLT		/* the return address: +13 */
	addq	$8, %rsp
	.cfi_def_cfa_offset 8
	ret
	.cfi_endproc
	.size	_ZnwmRKSt9nothrow_t, .-_ZnwmRKSt9nothrow_t

	.globl	bad_new_keeps		/* writes the block somewhere before returning it */
	.type	bad_new_keeps, @function
bad_new_keeps:
	.cfi_startproc
	pushq	%rbx
	.cfi_def_cfa_offset 16
	call	malloc@PLT
	testq	%rax, %rax
	je	1f
	movq	%rax, (%rbx)
	popq	%rbx
	.cfi_def_cfa_offset 8
	ret
1:	ud2
	.cfi_endproc
	.size	bad_new_keeps, .-bad_new_keeps

	.globl	bad_new_cfi		/* its CFI says 16 bytes more than its code pops */
	.type	bad_new_cfi, @function
bad_new_cfi:
	.cfi_startproc
	pushq	%rbx
	.cfi_def_cfa_offset 32
	call	malloc@PLT
	testq	%rax, %rax
	je	1f
	popq	%rbx
	.cfi_def_cfa_offset 8
	ret
1:	ud2
	.cfi_endproc
	.size	bad_new_cfi, .-bad_new_cfi

	.globl	bad_new_rbp		/* saves and changes rbp: the caller's is where it saved it */
	.type	bad_new_rbp, @function
bad_new_rbp:
	.cfi_startproc
	pushq	%rbp
	.cfi_def_cfa_offset 16
	.cfi_offset %rbp, -16
	movq	%rsp, %rbp
	call	malloc@PLT
	testq	%rax, %rax
	je	1f
	popq	%rbp
	.cfi_def_cfa_offset 8
	ret
1:	ud2
	.cfi_endproc
	.size	bad_new_rbp, .-bad_new_rbp

	.section .note.GNU-stack,"",@progbits
