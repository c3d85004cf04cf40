/*
 * vectors.S - interrupt and exception entry points for the IDT (desc.c).
 *
 * The only interrupt is the LAPIC timer, which exists to end a `hlt` in
 * sys_wait_*; its handler acknowledges it and returns, 5 instructions.
 * Every exception other than a ud2 system call is fatal: trap_common
 * saves the registers and trap_fatal() prints a FAULT line and stops.
 */
#include "guest.h"

	.text
	.globl timer_entry, spurious_entry
timer_entry:
	pushq	%rax
	movl	$LAPIC_EOI, %eax	/* 64-bit code sign-extends a 32-bit */
	movl	$0, (%rax)		/* absolute address, so go via RAX */
	popq	%rax
	iretq

/* The LAPIC's spurious vector needs no EOI. */
spurious_entry:
	iretq

/* Exceptions with an error code: 8, 10-14, 17, 21, 29, 30. */
#define HAS_ERR(v) ((v) == 8 || ((v) >= 10 && (v) <= 14) || (v) == 17 || \
		    (v) == 21 || (v) == 29 || (v) == 30)

	.macro	exc v
	.balign	8
exc_\v:
	.if	!HAS_ERR(\v)
	pushq	$0
	.endif
	pushq	$\v
	jmp	trap_common
	.endm

	.irp	v, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15
	exc	\v
	.endr
	.irp	v, 16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
	exc	\v
	.endr

	.section .rodata
	.balign 8
	.globl exc_table
exc_table:
	.irp	v, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15
	.quad	exc_\v
	.endr
	.irp	v, 16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
	.quad	exc_\v
	.endr

	.text
/* Lay out struct trap_frame (kernel.h) and never come back. */
	.globl trap_common
trap_common:
	pushq	%rax
	pushq	%rbx
	pushq	%rcx
	pushq	%rdx
	pushq	%rsi
	pushq	%rdi
	pushq	%rbp
	pushq	%r8
	pushq	%r9
	pushq	%r10
	pushq	%r11
	pushq	%r12
	pushq	%r13
	pushq	%r14
	pushq	%r15
	movq	%rsp, %rdi
	andq	$-16, %rsp
	call	trap_fatal
1:	cli
	hlt
	jmp	1b

	/* No executable stack wanted (silences ld). */
	.section .note.GNU-stack, "", @progbits
