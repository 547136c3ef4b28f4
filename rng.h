/* rng.h -- the one seeded random stream of the emulations (network.c's
 * STCP_NETEM and linkem's loss), so a seed replays the same way in both.
 * SplitMix64: small, fast, good enough for emulation, not for secrets. */
#ifndef RNG_H
#define RNG_H

#include <stdint.h>

static inline uint64_t splitmix64(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* A uniform number in [0, 1). */
static inline double rng_unit(uint64_t *state)
{
    return (double)(splitmix64(state) >> 11) * (1.0 / 9007199254740992.0);
}

#endif /* RNG_H */
