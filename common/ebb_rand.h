/*
 * ebb_rand.h - a small seeded PRNG (xoshiro256**) whose state the caller
 * owns, so that pure code (policy/, sim/) stays deterministic and free of
 * globals: the same seed gives the same plan on every machine.
 */
#ifndef EBB_RAND_H
#define EBB_RAND_H

#include <stdint.h>

struct ebb_rand {
	uint64_t	s[4];
};

void		ebb_rand_seed(struct ebb_rand *, uint64_t seed);
uint64_t	ebb_rand_next(struct ebb_rand *);
/* Uniform in [0, 1). */
double		ebb_rand_double(struct ebb_rand *);
/* Uniform integer in [0, n), n > 0, without modulo bias. */
uint64_t	ebb_rand_below(struct ebb_rand *, uint64_t n);
/* Standard normal deviate (Box-Muller). */
double		ebb_rand_normal(struct ebb_rand *);

#endif /* EBB_RAND_H */
