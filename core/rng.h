/*
 * rng.h — the one random number generator of prunetune.
 *
 * xoshiro256** (Blackman & Vigna, 2018), seeded through splitmix64 so that any
 * 64-bit seed, including 0, gives a well-mixed state. It is small, fast and its
 * output is fully specified, so the same seed gives the same stream on every
 * platform: that is what makes a trial reproducible bit for bit.
 *
 * Every consumer owns its own pt_rng (no hidden global state). Independent
 * streams are derived with pt_rng_derive(seed, stream_id), e.g. one stream for
 * weight initialisation and one for batch shuffling, so adding draws to one
 * never shifts the other.
 */
#ifndef PT_RNG_H
#define PT_RNG_H

#include <stdint.h>

typedef struct {
    uint64_t s[4];
} pt_rng;

void pt_rng_seed(pt_rng *r, uint64_t seed);
/* Seeds r from (seed, stream): distinct streams are independent. */
void pt_rng_derive(pt_rng *r, uint64_t seed, uint64_t stream);
uint64_t pt_rng_next(pt_rng *r);
/* Uniform double in [0, 1) with 53 random bits. */
double pt_rng_uniform(pt_rng *r);
/* Uniform integer in [0, n), unbiased (Lemire's method); n > 0. */
uint32_t pt_rng_below(pt_rng *r, uint32_t n);
/* Standard normal deviate (Box-Muller; deterministic, no cached spare). */
double pt_rng_normal(pt_rng *r);
/* Fisher-Yates shuffle of idx[0..n). */
void pt_rng_shuffle(pt_rng *r, uint32_t *idx, uint32_t n);

#endif
