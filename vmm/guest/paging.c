/*
 * paging.c - the page tables ring 3 runs under.
 *
 * Identity mapped, so that a guest-physical page number is an address
 * divided by 4096 (CORRUPT lines and the migration stream agree).  RAM is
 * mapped with 2 MiB pages, user accessible; the first 2 MiB get 4 KiB
 * pages so that page 0 stays absent (a null pointer faults) and the
 * ring-0 part of the image is supervisor-only (a stray ring-3 store
 * faults instead of corrupting the kernel).  The LAPIC page is
 * supervisor-only and uncached.
 *
 * Costs about 5 instructions per 2 MiB of RAM plus ~2500 for the first
 * 2 MiB, once: a few ms of emulated ring 0 under PVM.
 */
#include "kernel.h"

#define PTE_P   0x001
#define PTE_W   0x002
#define PTE_U   0x004
#define PTE_PWT 0x008
#define PTE_PCD 0x010
#define PTE_PS  0x080

#define PAGE 4096ULL
#define BIG  (2ULL << 20)

#define PT_ALIGNED __attribute__((aligned(4096)))

/* The loader zeroes the bss: an absent entry is a 0 entry. */
static uint64_t pml4[512] PT_ALIGNED;
static uint64_t pdpt[512] PT_ALIGNED;
static uint64_t pd_low[4][512] PT_ALIGNED; /* 0-4 GiB: RAM and the LAPIC */
static uint64_t pt_first[512] PT_ALIGNED;  /* 0-2 MiB in 4 KiB pages */

/* The page directory for addr's GiB; above 4 GiB one is taken from RAM. */
static uint64_t *
pd_for(uint64_t addr, uint64_t *alloc)
{
	uint64_t g = addr >> 30;

	if (g >= 512)
		panic("RAM above 512 GiB");
	if (pdpt[g] == 0) {
		uint64_t *pd;

		if (g < 4) {
			pd = pd_low[g];
		} else {
			/* Only the boot map's first GiB is reachable yet. */
			if (*alloc + PAGE > (1ULL << 30))
				panic("no RAM below 1 GiB for page tables");
			pd = (uint64_t *)(uintptr_t)*alloc;
			*alloc += PAGE;
			for (int i = 0; i < 512; i++)
				pd[i] = 0;
		}
		pdpt[g] = (uint64_t)(uintptr_t)pd | PTE_P | PTE_W | PTE_U;
	}
	return (uint64_t *)(uintptr_t)(pdpt[g] & ~(PAGE - 1));
}

void
pg_init(const struct mem_range *ram, int nram, uint64_t *alloc)
{
	uint64_t kstart = (uint64_t)(uintptr_t)__image_start;
	uint64_t kend = (uint64_t)(uintptr_t)__bss_end;
	uint64_t ustart = (uint64_t)(uintptr_t)__user_start;
	uint64_t uend = (uint64_t)(uintptr_t)__user_end;
	uint64_t *pd, pte;

	pml4[0] = (uint64_t)(uintptr_t)pdpt | PTE_P | PTE_W | PTE_U;

	for (int i = 0; i < nram; i++) {
		uint64_t a = ram[i].start & ~(BIG - 1);
		uint64_t end = ram[i].end;

		if (a < BIG)
			a = BIG; /* pt_first has the first 2 MiB */
		while (a < end) {
			/* One directory at a time: a GiB, or the range's end.
			 */
			uint64_t stop = (a | ((1ULL << 30) - 1)) + 1;

			pd = pd_for(a, alloc);
			for (; a < end && a < stop; a += BIG)
				pd[(a >> 21) & 511] =
				    a | PTE_P | PTE_W | PTE_U | PTE_PS;
		}
	}

	/* All user, then take the ring-0 parts of the image back: two
	 * tight loops cost a third of one that tests every page. */
	pd = pd_for(0, alloc);
	pd[0] = (uint64_t)(uintptr_t)pt_first | PTE_P | PTE_W | PTE_U;
	pte = PAGE | PTE_P | PTE_W | PTE_U;
	for (int i = 1; i < 512; i++, pte += PAGE)
		pt_first[i] = pte;
	for (uint64_t a = kstart; a < kend; a += PAGE)
		if (a < ustart || a >= uend)
			pt_first[a >> 12] &= ~(uint64_t)PTE_U;

	/* MMIO must be uncached: PCD|PWT selects UC with the reset PAT. */
	pd = pd_for(LAPIC_BASE, alloc);
	pd[(LAPIC_BASE >> 21) & 511] =
	    LAPIC_BASE | PTE_P | PTE_W | PTE_PCD | PTE_PWT | PTE_PS;

	__asm__ volatile("mov %0, %%cr3" : : "r"(pml4) : "memory");
}
