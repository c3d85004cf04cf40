/*
 * multiboot.c - read what the multiboot loader tells us.
 *
 * Multiboot 1 information (flags say which fields are valid): the command
 * line, the memory map (or just mem_upper) and the modules.  We copy what
 * ring 3 needs into struct boot_info, since ring 3 must never read
 * ring-0 pages and the loader's structures may sit anywhere.
 */
#include "kernel.h"
#include "multiboot.h"

#define MB_BOOT_MAGIC 0x2badb002

#define MBI_MEM     (1 << 0)
#define MBI_CMDLINE (1 << 2)
#define MBI_MODS    (1 << 3)
#define MBI_MMAP    (1 << 6)

#define MMAP_RAM 1

struct mbi {
	uint32_t flags;
	uint32_t mem_lower, mem_upper; /* KiB below 1 MiB and above it */
	uint32_t boot_device;
	uint32_t cmdline;
	uint32_t mods_count, mods_addr;
	uint32_t syms[4];
	uint32_t mmap_length, mmap_addr;
};

struct mb_mmap {
	uint32_t size; /* of the rest of this entry, not counting itself */
	uint64_t addr, len;
	uint32_t type;
} __attribute__((packed));

struct mb_mod {
	uint32_t start, end, string, reserved;
};

static int
add_ram(struct mem_range *ram, int nram, uint64_t start, uint64_t end)
{
	if (end <= start || nram == MB_MAX_RAM)
		return nram;
	ram[nram].start = start;
	ram[nram].end = end;
	return nram + 1;
}

/*
 * Fill bi->cmdline, bi->ram_bytes and bi->mod_*; return the RAM ranges in
 * ram[] (their count) and the first byte after the image and the modules,
 * where free RAM begins, in *used_end.
 */
int
mb_parse(uint32_t magic, uint32_t addr, struct boot_info *bi,
         struct mem_range *ram, uint64_t *used_end)
{
	const struct mbi *mbi = (const struct mbi *)(uintptr_t)addr;
	uint64_t end = (uint64_t)(uintptr_t)__bss_end;
	int nram = 0;

	if (magic != MB_BOOT_MAGIC)
		panic("not started by a multiboot loader (EAX != 0x2badb002)");

	if (mbi->flags & MBI_CMDLINE) {
		const char *s = (const char *)(uintptr_t)mbi->cmdline;
		size_t i;

		for (i = 0; s[i] != '\0' && i < sizeof(bi->cmdline) - 1; i++)
			bi->cmdline[i] = s[i];
	}

	if (mbi->flags & MBI_MMAP) {
		uint64_t p = mbi->mmap_addr;
		uint64_t stop = p + mbi->mmap_length;

		while (p < stop) {
			const struct mb_mmap *e = (const void *)(uintptr_t)p;

			if (e->type == MMAP_RAM)
				nram = add_ram(ram, nram, e->addr,
				               e->addr + e->len);
			p += e->size + 4;
		}
	} else if (mbi->flags & MBI_MEM) {
		nram = add_ram(ram, nram, 0, (uint64_t)mbi->mem_lower << 10);
		nram = add_ram(ram, nram, 1 << 20,
		               (1 << 20) + ((uint64_t)mbi->mem_upper << 10));
	}
	if (nram == 0)
		panic("the loader gave no memory map");
	for (int i = 0; i < nram; i++)
		bi->ram_bytes += ram[i].end - ram[i].start;

	if ((mbi->flags & MBI_MODS) && mbi->mods_count > 0) {
		const struct mb_mod *m =
		    (const struct mb_mod *)(uintptr_t)mbi->mods_addr;

		bi->mod_start = m[0].start;
		bi->mod_end = m[0].end;
		for (uint32_t i = 0; i < mbi->mods_count; i++)
			if (m[i].end > end)
				end = m[i].end;
	}
	*used_end = (end + 4095) & ~(uint64_t)4095;
	return nram;
}
