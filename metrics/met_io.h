/*
 * met_io.h - reading /proc the cheap way, shared by the met_ samplers.
 *
 * The agent samples the same few files every period for as long as the
 * host runs, so each sampler opens its files once and re-reads them with a
 * single pread() at offset 0 into a buffer it owns.  /proc's seq_file
 * files restart from their first record when read at offset 0, and the
 * kernel keeps the open file's formatting buffer between reads, so neither
 * side allocates per sample.  Numbers are parsed by hand: the formats are
 * fixed and strtoull/sscanf would cost more than the parsing itself.
 *
 * Parsers work on a NUL-terminated buffer (met_io_pread guarantees the
 * NUL) and return the position after what they consumed, or NULL when the
 * text is not what they expect.
 */
#ifndef MET_IO_H
#define MET_IO_H

#include <stddef.h>
#include <stdint.h>

#include "ebb.h"

/* The root used when a caller passes NULL. */
#define MET_PROC_ROOT	"/proc"

/*
 * Opens root/rel read-only (root NULL means MET_PROC_ROOT) and sets *fd.
 * Returns 0 or -errno, with the path in err.
 */
int	 met_io_open(const char *root, const char *rel, int *fd,
	    struct ebb_err *err);

/*
 * One pread() of up to cap - 1 bytes (cap >= 2) at offset 0;
 * buf[*len] = '\0'.
 * *len == cap - 1 means the file may hold more than was read.  Returns 0
 * or -errno (a /proc file of a process that has exited gives -ESRCH).
 */
int	 met_io_pread(int fd, char *buf, size_t cap, size_t *len);

/* Closes *fd if it is open and marks it closed (-1). */
void	 met_io_close(int *fd);

/* Skips spaces and tabs (not newlines). */
const char *met_io_blank(const char *p);
/* The character after the next '\n', or NULL if there is none. */
const char *met_io_next_line(const char *p);
/* Decimal digits into *v; NULL if there is no digit or it overflows. */
const char *met_io_u64(const char *p, uint64_t *v);
/*
 * An unsigned decimal with an optional fraction ("1653.21"), as /proc
 * prints load averages and uptimes.  The result is the correctly rounded
 * double (the same strtod gives) for up to 19 significant digits.
 */
const char *met_io_decimal(const char *p, double *v);
/* Skips one blank-separated field (and the blanks before it). */
const char *met_io_field(const char *p);

/* Writes v in decimal (no NUL); returns the length, at most 20. */
size_t	 met_io_utoa(char *buf, uint64_t v);

#endif /* MET_IO_H */
