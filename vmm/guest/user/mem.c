/*
 * mem.c - memset and memcpy, which GCC may emit calls to even with
 * -ffreestanding (struct copies, large zero fills).  In ring 3's pages so
 * that ring 3 can call them; ring 0 code is written not to need them.
 */
#include "ulib.h"

void *
memset(void *d, int c, size_t n)
{
	unsigned char *p = d;

	while (n-- > 0)
		*p++ = (unsigned char)c;
	return d;
}

void *
memcpy(void *d, const void *s, size_t n)
{
	unsigned char *p = d;
	const unsigned char *q = s;

	while (n-- > 0)
		*p++ = *q++;
	return d;
}
