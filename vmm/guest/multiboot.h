/*
 * multiboot.h - the multiboot 1 information, as much as ebb-guest reads.
 */
#ifndef EBB_GUEST_MULTIBOOT_H
#define EBB_GUEST_MULTIBOOT_H

#include <stdint.h>

#include "guest.h"

#define MB_MAX_RAM 16

int mb_parse(uint32_t magic, uint32_t mbi, struct boot_info *bi,
             struct mem_range *ram, uint64_t *used_end);

#endif
