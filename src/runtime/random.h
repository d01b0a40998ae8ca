/* Counter-based random numbers: value i of stream `seed` depends only on (seed, i), so parallel
 * fills give the same values for any thread count. SplitMix64's finaliser does the mixing. */
#ifndef MTI_RUNTIME_RANDOM_H
#define MTI_RUNTIME_RANDOM_H

#include <math.h>
#include <stdint.h>

static inline uint64_t mti_mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* The stream key for a seed. */
static inline uint64_t mti_random_key(uint64_t seed) { return mti_mix64(seed + 0x9e3779b97f4a7c15ull); }

/* 64 random bits number i of the stream `key`. */
static inline uint64_t mti_random_bits(uint64_t key, uint64_t i)
{
    return mti_mix64(key ^ i * 0x9e3779b97f4a7c15ull);
}

/* A float uniform in [0, 1) with 24 random bits. */
static inline float mti_random_unit(uint64_t key, uint64_t i)
{
    return (float)(mti_random_bits(key, i) >> 40) * 0x1.0p-24f;
}

/* A standard normal value (Box-Muller, in double) from draw i of the stream `key`: u1 in (0, 1)
 * from the high 32 bits, u2 in [0, 1) from the low 32. One value per draw, so each element stands
 * alone (|value| <= 6.7: the tail beyond has probability ~2e-11). */
static inline double mti_random_normal(uint64_t key, uint64_t i)
{
    const uint64_t bits = mti_random_bits(key, i);
    const double u1 = ((double)(bits >> 32) + 0.5) * 0x1.0p-32;
    const double u2 = (double)(bits & 0xffffffffu) * 0x1.0p-32;
    return sqrt(-2.0 * log(u1)) * cos(2.0 * 3.14159265358979323846 * u2);
}

#endif
