/*
 * trap.c - the end of the road for an exception that is not a system call.
 *
 * One line, parseable like the others (FAULT vec=14 err=0x2 rip=...), so a
 * test or an operator sees why the guest stopped, then a halt with
 * interrupts off.  A heartbeat that stops after a FAULT line is a guest
 * bug, not a lost migration.
 */
#include "kernel.h"

static void
field(const char *name, uint64_t v)
{
	ser_puts(name);
	ser_hex(v);
}

void
trap_fatal(struct trap_frame *f)
{
	uint64_t cr2;

	__asm__ volatile("mov %%cr2, %0" : "=r"(cr2));
	ser_puts("FAULT vec=");
	ser_dec(f->vector);
	field(" err=", f->error);
	field(" rip=", f->rip);
	field(" cs=", f->cs);
	field(" rsp=", f->rsp);
	field(" rflags=", f->rflags);
	field(" cr2=", cr2);
	field(" rax=", f->rax);
	ser_puts("\n");
	for (;;)
		__asm__ volatile("cli; hlt");
}
