/*
 * ebb.h - small things every ebb component uses.
 *
 * Error convention (all components): a function that can fail returns 0 on
 * success or a negative errno; where the caller needs words, it passes a
 * struct ebb_err and the function fills it at the place where the cause is
 * known.  Only main() exits.
 */
#ifndef EBB_H
#define EBB_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#define EBB_NITEMS(a)	(sizeof(a) / sizeof((a)[0]))
#define EBB_MIN(a, b)	((a) < (b) ? (a) : (b))
#define EBB_MAX(a, b)	((a) > (b) ? (a) : (b))
#define EBB_UNUSED	__attribute__((unused))
#define EBB_PRINTF(f, a) __attribute__((format(printf, f, a)))

/* A caller-owned error message: where, and what went wrong. */
struct ebb_err {
	char	msg[512];
};

void	ebb_err_set(struct ebb_err *, const char *, ...) EBB_PRINTF(2, 3);

/*
 * Allocation that cannot fail.  ebb's daemons and tools size their memory at
 * start-up from the fleet they manage; running out of it there is not a
 * condition any caller could recover from, so these abort with a message
 * (as Redis' zmalloc does) instead of threading ENOMEM through pure code.
 */
void	*ebb_malloc(size_t);
void	*ebb_calloc(size_t, size_t);
void	*ebb_realloc(void *, size_t);
void	*ebb_reallocarray(void *, size_t, size_t);
char	*ebb_strdup(const char *);

/* The value of a hex digit, or -1. */
int	ebb_hexval(int ch);

/* Reads a whole file into a NUL-terminated buffer; 0 or -errno. */
int	 ebb_read_file(const char *path, char **buf, size_t *len,
	     struct ebb_err *);

#endif /* EBB_H */
