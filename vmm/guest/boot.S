/*
 * boot.S - multiboot header and the 32-bit entry that gets to long mode.
 *
 * A multiboot loader (QEMU -kernel, GRUB, ebb-vmm) enters _start in 32-bit
 * protected mode with paging off, EAX = 0x2badb002 and EBX = the physical
 * address of the multiboot information.  We build an identity map of the
 * first GiB with 2 MiB pages (enough for the image and whatever the loader
 * put next to it), switch on PAE and long mode, and call kmain() in 64-bit
 * code.  kmain() replaces these boot page tables with the real ones.
 * A VMM that prefers to start in long mode enters at entry64 instead.
 *
 * Every instruction here runs once; under PVM ring 0 is emulated at about
 * 1 M instructions/s, so the page loop (512 x 5) is the bulk of it: ~2.5 ms.
 */
#include "guest.h"

#define MB_MAGIC	0x1badb002
#define EBB_ENTRY64_MAGIC 0xebb64e64
/*
 * Bit 0: modules page aligned, so a trace never shares a page with ring-0
 * data.  Bit 1: give us the memory map.  Bit 16: the load addresses are in
 * this header (the "a.out kludge"), because QEMU refuses to load an ELF64
 * multiboot image ("Cannot load x86-64 image, give a 32bit one") but copies
 * a file region to load_addr happily; ebb-vmm needs no ELF parser either.
 */
#define MB_FLAGS	((1 << 0) | (1 << 1) | (1 << 16))

#define CR0_PE		(1 << 0)
#define CR0_WP		(1 << 16)
#define CR0_PG		(1 << 31)
#define CR4_PAE		(1 << 5)
#define CR4_SMEP	(1 << 20)
#define CR4_SMAP	(1 << 21)
#define MSR_EFER	0xc0000080
#define EFER_LME	(1 << 8)
#define PTE_P		1
#define PTE_W		2
#define PTE_PS		0x80

	/* Must lie 4-aligned in the first 8 KiB of the file (guest.ld). */
	.section .multiboot, "a"
	.balign 4
	.globl mb_header
mb_header:
	.long MB_MAGIC
	.long MB_FLAGS
	.long -(MB_MAGIC + MB_FLAGS)
	.long mb_header		/* header_addr */
	.long __image_start	/* load_addr: file bytes go here... */
	.long __load_end	/* load_end_addr: ...up to here */
	.long __bss_end		/* bss_end_addr: the loader zeroes the rest */
	.long _start		/* entry_addr */
	/*
	 * Not multiboot: a second way in for a VMM that starts its vCPU in
	 * long mode (ebb-vmm may, to spare PVM's emulator the 32-bit part):
	 * the magic below, then the address of entry64.
	 */
	.long EBB_ENTRY64_MAGIC
	.long entry64

	.section .boot, "ax"
	.code32
	.globl _start
_start:
	cli
	cld
	/* Keep the loader's magic and info pointer for kmain(magic, mbi). */
	movl	%eax, %edi
	movl	%ebx, %esi
	movl	$kstack_top, %esp

	/* No long mode, no guest: say so rather than triple-fault. */
	movl	$0x80000000, %eax
	cpuid
	cmpl	$0x80000001, %eax
	jb	no_long_mode
	movl	$0x80000001, %eax
	cpuid
	btl	$29, %edx
	jnc	no_long_mode

	/* Identity map 0-1 GiB: PML4[0] -> PDPT[0] -> PD of 2 MiB pages. */
	movl	$(boot_pdpt + PTE_P + PTE_W), boot_pml4
	movl	$(boot_pd + PTE_P + PTE_W), boot_pdpt
	movl	$boot_pd, %ebx
	movl	$(PTE_P + PTE_W + PTE_PS), %eax
1:	movl	%eax, (%ebx)
	addl	$8, %ebx
	addl	$0x200000, %eax
	cmpl	$(boot_pd + 4096), %ebx
	jb	1b

	/* PAE and nothing else: no SMEP/SMAP a BIOS may have left (ring 0
	 * reads ring 3's buffers and may run with user pages mapped). */
	movl	$CR4_PAE, %eax
	movl	%eax, %cr4
	movl	$boot_pml4, %eax
	movl	%eax, %cr3
	movl	$MSR_EFER, %ecx
	rdmsr
	orl	$EFER_LME, %eax
	wrmsr
	movl	%cr0, %eax
	orl	$(CR0_PE | CR0_WP | CR0_PG), %eax
	movl	%eax, %cr0

	/* Paging is on and we are in compatibility mode; a far jump into a
	 * 64-bit code segment finishes the switch. */
	lgdt	gdt_ptr
	ljmp	$SEL_KCODE, $start64

no_long_mode:
	movl	$no_lm_msg, %esi
	movw	$COM1, %dx
	movl	$(no_lm_end - no_lm_msg), %ecx
	rep outsb
2:	hlt
	jmp	2b

	.code64
/*
 * The long-mode entry: paging on with at least the first GiB identity
 * mapped, interrupts off, EAX = 0x2badb002, EBX = the multiboot info, as
 * at _start.  Load our GDT and reload CS through a far return.
 */
	.globl entry64
entry64:
	cli
	cld
	movl	%eax, %edi
	movl	%ebx, %esi
	movq	%cr4, %rax		/* as above: no SMEP, no SMAP */
	andq	$~(CR4_SMEP | CR4_SMAP), %rax
	movq	%rax, %cr4
	lgdt	gdt_ptr
	pushq	$SEL_KCODE
	pushq	$start64
	lretq

start64:
	movl	$SEL_KDATA, %eax
	movl	%eax, %ds
	movl	%eax, %es
	movl	%eax, %ss
	xorl	%eax, %eax
	movl	%eax, %fs
	movl	%eax, %gs
	/* The upper halves of registers are undefined after the switch. */
	movl	%edi, %edi
	movl	%esi, %esi
	movq	$kstack_top, %rsp
	call	kmain
3:	cli
	hlt
	jmp	3b

	.section .rodata
no_lm_msg:
	.ascii	"ERROR ebb-guest needs a 64-bit (long mode) CPU\n"
no_lm_end:

	.data
	.balign 8
	.globl gdt_ptr
gdt_ptr:
	.word	GDT_SIZE - 1
	.quad	gdt		/* 32-bit lgdt reads only the low 4 bytes */

	.bss
	.balign 4096
boot_pml4:	.skip 4096
boot_pdpt:	.skip 4096
boot_pd:	.skip 4096
	.globl kstack_top
kstack:		.skip 16384
kstack_top:

	/* No executable stack wanted (silences ld). */
	.section .note.GNU-stack, "", @progbits
