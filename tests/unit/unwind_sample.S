/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Functions with known CFI for tests/unit/test_unwind_table.c, built as
 * build/unwind_sample.so. Instruction sizes are in the comments: the test
 * looks up rows at those offsets.
 */
	.text

	.globl	fp_func
	.type	fp_func, @function
fp_func:				/* with a frame pointer */
	.cfi_startproc
	pushq	%rbp			/* +0, 1 byte */
	.cfi_def_cfa_offset 16
	.cfi_offset %rbp, -16
	movq	%rsp, %rbp		/* +1, 3 bytes */
	.cfi_def_cfa_register %rbp
	call	.Lbig			/* +4, 5 bytes */
	popq	%rbp			/* +9, 1 byte */
	.cfi_def_cfa %rsp, 8
	ret				/* +10 */
	.cfi_endproc
	.size	fp_func, .-fp_func

	.globl	big_func
	.type	big_func, @function
big_func:				/* no frame pointer, a 4 KiB frame */
.Lbig:
	.cfi_startproc
	pushq	%rbx			/* +0, 1 byte */
	.cfi_def_cfa_offset 16
	.cfi_offset %rbx, -16
	subq	$4096, %rsp		/* +1, 7 bytes */
	.cfi_def_cfa_offset 4112
	nop				/* +8 */
	addq	$4096, %rsp		/* +9, 7 bytes */
	.cfi_def_cfa_offset 16
	popq	%rbx			/* +16 */
	.cfi_def_cfa_offset 8
	ret				/* +17 */
	.cfi_endproc
	.size	big_func, .-big_func

	.globl	expr_func
	.type	expr_func, @function
expr_func:				/* CFA by expression: not followed */
	.cfi_startproc
	/* DW_CFA_def_cfa_expression: DW_OP_breg7 (rsp) 8; DW_OP_deref */
	.cfi_escape 0x0f, 0x03, 0x77, 0x08, 0x06
	nop
	ret
	.cfi_endproc
	.size	expr_func, .-expr_func

	.globl	end_func
	.type	end_func, @function
end_func:				/* the outermost frame */
	.cfi_startproc
	.cfi_undefined rip
	nop
	ret
	.cfi_endproc
	.size	end_func, .-end_func

	.globl	nocfi_func
	.type	nocfi_func, @function
nocfi_func:				/* no CFI at all */
	nop
	ret
	.size	nocfi_func, .-nocfi_func

	.section .note.GNU-stack, "", @progbits
