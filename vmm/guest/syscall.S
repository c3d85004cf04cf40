/*
 * syscall.S - the ud2 system call gate, and the first drop to ring 3.
 *
 * These are the hot ring-0 paths: under PVM every instruction here is
 * emulated (~1 us each), so each path is counted.  A heartbeat costs one
 * call (SYS_WAIT_* prints the line and sleeps in the same trap):
 *   gate 14 + wait 10 + timer interrupt 5 (vectors.S) = 29 instructions,
 * plus the one `rep outsb` that moves the line to the UART.
 *
 * Ring 3 code is trusted: it is this image's own (user/).  The checks here
 * tell a call from a genuine fault, they do not defend against a hostile
 * caller; a bad buffer pointer simply faults in ring 0 and is reported.
 */
#include "guest.h"

	.text
	.globl ud_entry
/*
 * #UD (vector 6), an interrupt gate: IF is clear, and the frame is
 * RIP, CS, RFLAGS, RSP, SS with RIP at the faulting ud2.
 */
ud_entry:
	testb	$3, 8(%rsp)		/* from ring 3? */
	jz	ud_fault
	movq	(%rsp), %r11
	cmpw	$0x0b0f, (%r11)		/* really `ud2` (bytes 0f 0b)? */
	jne	ud_fault
	movq	%rax, %rdx
	shrq	$32, %rdx
	cmpl	$SYS_MAGIC, %edx
	jne	ud_fault
	addq	$2, (%rsp)		/* resume after the ud2 */
	movzbl	%al, %eax
	cmpl	$SYS_COUNT, %eax
	jae	ud_fault
	jmp	*sys_table(, %rax, 8)

ud_fault:
	pushq	$0			/* #UD has no error code */
	pushq	$6
	jmp	trap_common

	.section .rodata
	.balign 8
sys_table:
	.quad	sys_puts, sys_wait_tsc, sys_wait_lapic, sys_corrupt, sys_halt
	.text

/*
 * `rep outsb` moves the whole line in one instruction: one emulated
 * instruction under PVM and, with KVM, one exit for the string rather
 * than one per byte.  The UART is not polled for THRE: virtual UARTs
 * (QEMU's with its FIFO off, ebb-vmm's) take a byte on every write, and
 * polling would cost an exit per byte.
 */
sys_puts:
	movw	$COM1, %dx
	rep outsb
	iretq

/*
 * Print, arm the LAPIC timer in TSC-deadline mode, sleep.  IF is still
 * clear from the gate, so the timer cannot fire between the wrmsr and the
 * hlt; `sti` takes effect after the next instruction, so `sti; hlt` cannot
 * miss it either.  The timer's handler returns to the iretq below.
 */
sys_wait_tsc:
	movw	$COM1, %dx
	rep outsb
	movq	%rdi, %rax
	movq	%rdi, %rdx
	shrq	$32, %rdx
	movl	$MSR_TSC_DEADLINE, %ecx
	wrmsr
	sti
	hlt
	iretq

/* The same with the one-shot LAPIC timer, for CPUs without TSC-deadline. */
sys_wait_lapic:
	movw	$COM1, %dx
	rep outsb
	movl	$LAPIC_TMICT, %eax	/* zero-extends: below 4 GiB */
	movl	%edi, (%rax)
	sti
	hlt
	iretq

/* Self-test only: a corruption ring 3 did not write. */
sys_corrupt:
	notq	(%rdi)
	iretq

sys_halt:
	cli
	hlt
	jmp	sys_halt

/*
 * enter_user(entry, stack): the one-way trip to ring 3, with interrupts
 * on (IF=1) and IOPL 0, so ring 3 cannot touch ports (under PVM `out` at
 * IOPL 3 is unreliable anyway; output goes through SYS_PUTS).
 */
	.globl enter_user
enter_user:
	pushq	$SEL_UDATA
	pushq	%rsi
	pushq	$0x202
	pushq	$SEL_UCODE
	pushq	%rdi
	iretq

	/* No executable stack wanted (silences ld). */
	.section .note.GNU-stack, "", @progbits
