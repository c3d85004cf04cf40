/*
 * ebb_rand.c - xoshiro256** seeded through splitmix64, as its authors
 * recommend, so that nearby seeds give unrelated streams.
 */
#include <math.h>

#include "ebb_rand.h"

static uint64_t
splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

void
ebb_rand_seed(struct ebb_rand *r, uint64_t seed)
{
	for (int i = 0; i < 4; i++)
		r->s[i] = splitmix64(&seed);
}

static inline uint64_t
rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

uint64_t
ebb_rand_next(struct ebb_rand *r)
{
	uint64_t *s = r->s;
	uint64_t result = rotl(s[1] * 5, 7) * 9;
	uint64_t t = s[1] << 17;

	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return result;
}

double
ebb_rand_double(struct ebb_rand *r)
{
	/* The top 53 bits fill a double's mantissa exactly. */
	return (double)(ebb_rand_next(r) >> 11) * 0x1.0p-53;
}

uint64_t
ebb_rand_below(struct ebb_rand *r, uint64_t n)
{
	/* Reject the short last bucket so every value is equally likely. */
	uint64_t limit = UINT64_MAX - UINT64_MAX % n;
	uint64_t x;

	do
		x = ebb_rand_next(r);
	while (x >= limit);
	return x % n;
}

double
ebb_rand_normal(struct ebb_rand *r)
{
	double u1, u2;

	do
		u1 = ebb_rand_double(r);
	while (u1 <= 0.0);
	u2 = ebb_rand_double(r);
	return sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
}
