/*
 * fuzz.h - what every fuzz target shares: the libFuzzer entry point's
 * prototype (-Wmissing-prototypes wants one) and a helper that turns the
 * fuzzer's bytes into the NUL-terminated text the parsers take.
 *
 * Each tests/fuzz/fuzz_*.c is built twice: with clang's libFuzzer when
 * EBB_FUZZ=ON, and always with replay_main.c, which feeds it every file
 * of its corpus so that the normal and the ASan builds rerun them.
 */
#ifndef EBB_FUZZ_H
#define EBB_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "ebb.h"

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The input as a C string (caller frees).  An embedded NUL ends the text
   early, as it would for a file read with ebb_read_file(). */
static inline char *
fuzz_text(const uint8_t *data, size_t size)
{
	char *s = ebb_malloc(size + 1);

	memcpy(s, data, size);
	s[size] = '\0';
	return s;
}

#endif /* EBB_FUZZ_H */
