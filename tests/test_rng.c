/* test_rng.c — the RNG's known answers and the properties callers rely on. */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "allclose.h"
#include "rng.h"

Test(rng, splitmix_seeding_known_answer)
{
    pt_rng r;
    pt_rng_seed(&r, 0);
    /* First splitmix64 output for seed 0, from the reference implementation. */
    cr_assert_eq(r.s[0], 0xe220a8397b1dcdafULL);
}

Test(rng, xoshiro256ss_known_answer)
{
    pt_rng r = {{1, 2, 3, 4}};
    /* rotl(2 * 5, 7) * 9 = 1280 * 9 */
    cr_assert_eq(pt_rng_next(&r), 11520ULL);
}

Test(rng, same_seed_same_stream_and_streams_differ)
{
    pt_rng a, b, c;
    pt_rng_derive(&a, 42, 1);
    pt_rng_derive(&b, 42, 1);
    pt_rng_derive(&c, 42, 2);
    int same_c = 1;
    for (int i = 0; i < 100; i++) {
        uint64_t x = pt_rng_next(&a);
        cr_assert_eq(x, pt_rng_next(&b));
        same_c &= x == pt_rng_next(&c);
    }
    cr_assert(!same_c);
}

Test(rng, below_is_in_range_and_roughly_uniform)
{
    pt_rng r;
    pt_rng_seed(&r, 7);
    int count[10] = {0};
    for (int i = 0; i < 100000; i++) {
        uint32_t v = pt_rng_below(&r, 10);
        cr_assert_lt(v, 10u);
        count[v]++;
    }
    for (int k = 0; k < 10; k++)
        cr_assert(count[k] > 9500 && count[k] < 10500, "bucket %d has %d", k, count[k]);
}

Test(rng, uniform_and_normal_moments)
{
    pt_rng r;
    pt_rng_seed(&r, 3);
    double su = 0, sn = 0, sn2 = 0;
    int n = 200000;
    for (int i = 0; i < n; i++) {
        double u = pt_rng_uniform(&r);
        cr_assert(u >= 0.0 && u < 1.0);
        su += u;
        double z = pt_rng_normal(&r);
        cr_assert(isfinite(z));
        sn += z;
        sn2 += z * z;
    }
    /* Sampling error, not rounding: 6 standard deviations of each mean
     * (uniform: sqrt(1/12 / n); normal: 1/sqrt(n); z^2: sqrt(2 / n)). The
     * seed is fixed, so this never flickers; a biased generator (off by
     * more than ~0.5%) fails. */
    pt_assert_close(su / n, 0.5, 0, 6 * sqrt(1.0 / 12 / n));
    pt_assert_close(sn / n, 0.0, 0, 6 / sqrt(n));
    pt_assert_close(sn2 / n, 1.0, 0, 6 * sqrt(2.0 / n));
}

Test(rng, shuffle_is_a_permutation)
{
    pt_rng r;
    pt_rng_seed(&r, 9);
    uint32_t idx[1000];
    int seen[1000] = {0};
    for (uint32_t i = 0; i < 1000; i++)
        idx[i] = i;
    pt_rng_shuffle(&r, idx, 1000);
    int moved = 0;
    for (uint32_t i = 0; i < 1000; i++) {
        seen[idx[i]]++;
        moved += idx[i] != i;
    }
    for (int i = 0; i < 1000; i++)
        cr_assert_eq(seen[i], 1);
    cr_assert_gt(moved, 900);
}
