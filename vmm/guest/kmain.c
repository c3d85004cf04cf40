/*
 * kmain.c - ring 0's whole life: set the machine up, then become ring 3.
 *
 * After enter_user() ring 0 runs only when ring 3 traps (syscall.S) or the
 * timer ends a hlt (vectors.S).  The order below matters: the memory map
 * must be read before the boot page tables go away, and the IDT must exist
 * before anything can fault or interrupt.
 */
#include "kernel.h"
#include "multiboot.h"

void
panic(const char *why)
{
	ser_puts("ERROR ebb-guest: ");
	ser_puts(why);
	ser_puts("\n");
	for (;;)
		__asm__ volatile("cli; hlt");
}

/* RAM from `used` up, in whole pages: what ring 3 may fill. */
static void
set_free(struct boot_info *bi, const struct mem_range *ram, int nram,
         uint64_t used)
{
	for (int i = 0; i < nram && bi->nfree < BI_MAX_FREE; i++) {
		uint64_t s = ram[i].start > used ? ram[i].start : used;
		uint64_t e = ram[i].end & ~4095ULL;

		s = (s + 4095) & ~4095ULL;
		if (e <= s)
			continue;
		bi->free[bi->nfree].start = s;
		bi->free[bi->nfree].end = e;
		bi->nfree++;
	}
}

void
kmain(uint32_t magic, uint32_t mbi)
{
	struct boot_info *bi = &boot_info;
	struct mem_range ram[MB_MAX_RAM];
	uint64_t used;
	int nram;

	bi->tsc_boot = rdtsc();
	ser_init();
	desc_init();
	nram = mb_parse(magic, mbi, bi, ram, &used);
	pg_init(ram, nram, &used);
	bi->tsc_hz = tsc_calibrate(&bi->tsc_from, &bi->tsc_ppm);
	lapic_init(bi);
	set_free(bi, ram, nram, used);
	/* As if called: the ABI wants RSP = 8 mod 16 at a function's entry. */
	enter_user(u_main, u_stack + U_STACK_SIZE - 8);
}
