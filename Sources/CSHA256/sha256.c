// SHA-256 (FIPS 180-4). The compression function has two forms: the Intel
// SHA extensions (SHA-NI: sha256rnds2, sha256msg1, sha256msg2), chosen once
// at run time from CPUID, and plain C. Both are held to libsodium's
// crypto_hash_sha256 by CaseVaultCryptoTests for every length from 0 to
// 1 100 bytes, at random update splits, and to the FIPS 180-4 examples.
// With the extensions, two messages can also be hashed at once
// (casevault_sha256_update2: two independent chains of rounds interleaved),
// held to libsodium from every offset into a block on both forms.
// Nothing here depends on secret data for branches or memory addresses.
#include "casevault_sha256.h"
#include "casevault_vectors.h"
#include <string.h>

static const uint32_t K[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

// A store the compiler may not drop.
static void wipe(void *p, size_t n) {
    volatile uint8_t *v = (volatile uint8_t *)p;
    while (n--) *v++ = 0;
}

#define ROTR(x, n) (((x) >> (n)) | ((x) << (32 - (n))))

static void blocks_portable(uint32_t h[8], const uint8_t *p, size_t count) {
    uint32_t w[64];
    while (count--) {
        for (int t = 0; t < 16; t++) {
            w[t] = (uint32_t)p[4 * t] << 24 | (uint32_t)p[4 * t + 1] << 16 | (uint32_t)p[4 * t + 2] << 8 | p[4 * t + 3];
        }
        for (int t = 16; t < 64; t++) {
            uint32_t s0 = ROTR(w[t - 15], 7) ^ ROTR(w[t - 15], 18) ^ (w[t - 15] >> 3);
            uint32_t s1 = ROTR(w[t - 2], 17) ^ ROTR(w[t - 2], 19) ^ (w[t - 2] >> 10);
            w[t] = w[t - 16] + s0 + w[t - 7] + s1;
        }
        uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], hh = h[7];
        for (int t = 0; t < 64; t++) {
            uint32_t t1 = hh + (ROTR(e, 6) ^ ROTR(e, 11) ^ ROTR(e, 25)) + ((e & f) ^ (~e & g)) + K[t] + w[t];
            uint32_t t2 = (ROTR(a, 2) ^ ROTR(a, 13) ^ ROTR(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
            hh = g; g = f; f = e; e = d + t1; d = c; c = b; b = a; a = t1 + t2;
        }
        h[0] += a; h[1] += b; h[2] += c; h[3] += d; h[4] += e; h[5] += f; h[6] += g; h[7] += hh;
        p += 64;
    }
    // The schedule holds the last block (it can be plaintext): not left on the stack.
    wipe(w, sizeof w);
}

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#include <immintrin.h>

#define SHANI __attribute__((target("sha,sse4.1,ssse3")))

#define INLINE SHANI static inline __attribute__((always_inline))

// The state as the instructions want it: ABEF in one register, CDGH in the
// other.
INLINE void shani_load(const uint32_t h[8], __m128i *state0, __m128i *state1) {
    const __m128i tmp = _mm_shuffle_epi32(_mm_loadu_si128((const __m128i *)&h[0]), 0xB1);  // CDAB
    const __m128i efgh = _mm_shuffle_epi32(_mm_loadu_si128((const __m128i *)&h[4]), 0x1B);  // EFGH
    *state0 = _mm_alignr_epi8(tmp, efgh, 8);        // ABEF
    *state1 = _mm_blend_epi16(efgh, tmp, 0xF0);     // CDGH
}

INLINE void shani_store(uint32_t h[8], __m128i state0, __m128i state1) {
    const __m128i tmp = _mm_shuffle_epi32(state0, 0x1B);   // FEBA
    state1 = _mm_shuffle_epi32(state1, 0xB1);              // DCHG
    _mm_storeu_si128((__m128i *)&h[0], _mm_blend_epi16(tmp, state1, 0xF0));  // DCBA
    _mm_storeu_si128((__m128i *)&h[4], _mm_alignr_epi8(state1, tmp, 8));     // HGFE
}

// Group g (0 to 15, a constant once the callers' loops are unrolled) of a
// block's four-round groups: it adds K to the four schedule words W[g]
// (registers r[g % 4], loaded from the block for g < 4) and runs two
// sha256rnds2; meanwhile it finishes W[g+1] (sha256msg2 over
// msg1(W[g-3], W[g-2]) + W[g]:W[g-1] shifted by one word) and starts W[g+3]
// (sha256msg1(W[g-1], W[g])).
INLINE void shani_group(int g, __m128i *state0, __m128i *state1, __m128i r[4], const uint8_t *p) {
    const __m128i swap = _mm_set_epi64x(0x0c0d0e0f08090a0bULL, 0x0405060700010203ULL);
    if (g < 4) r[g] = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(p + 16 * g)), swap);
    const __m128i msg = _mm_add_epi32(r[g % 4], _mm_loadu_si128((const __m128i *)&K[4 * g]));
    *state1 = _mm_sha256rnds2_epu32(*state1, *state0, msg);
    if (g >= 3 && g <= 14) {
        const __m128i next = _mm_add_epi32(r[(g + 1) % 4], _mm_alignr_epi8(r[g % 4], r[(g + 3) % 4], 4));
        r[(g + 1) % 4] = _mm_sha256msg2_epu32(next, r[g % 4]);
    }
    *state0 = _mm_sha256rnds2_epu32(*state0, *state1, _mm_shuffle_epi32(msg, 0x0E));
    if (g >= 1 && g <= 12) r[(g + 3) % 4] = _mm_sha256msg1_epu32(r[(g + 3) % 4], r[g % 4]);
}

SHANI static void blocks_shani(uint32_t h[8], const uint8_t *p, size_t count) {
    __m128i state0, state1;
    shani_load(h, &state0, &state1);
    for (; count > 0; count--, p += 64) {
        const __m128i save0 = state0, save1 = state1;
        __m128i r[4];
#pragma clang loop unroll(full)
        for (int g = 0; g < 16; g++) shani_group(g, &state0, &state1, r, p);
        state0 = _mm_add_epi32(state0, save0);
        state1 = _mm_add_epi32(state1, save1);
    }
    shani_store(h, state0, state1);
}

// Two messages at once, each as blocks_shani, their groups interleaved:
// the rounds of one message are a chain, each sha256rnds2 waiting for the
// one before, so one message leaves the unit idle most of the time; two
// independent chains run about 1.6 times as many bytes a second.
SHANI static void blocks_shani2(uint32_t ha[8], const uint8_t *pa, uint32_t hb[8], const uint8_t *pb, size_t count) {
    __m128i a0, a1, b0, b1;
    shani_load(ha, &a0, &a1);
    shani_load(hb, &b0, &b1);
    for (; count > 0; count--, pa += 64, pb += 64) {
        const __m128i saveA0 = a0, saveA1 = a1, saveB0 = b0, saveB1 = b1;
        __m128i ra[4], rb[4];
#pragma clang loop unroll(full)
        for (int g = 0; g < 16; g++) {
            shani_group(g, &a0, &a1, ra, pa);
            shani_group(g, &b0, &b1, rb, pb);
        }
        a0 = _mm_add_epi32(a0, saveA0);
        a1 = _mm_add_epi32(a1, saveA1);
        b0 = _mm_add_epi32(b0, saveB0);
        b1 = _mm_add_epi32(b1, saveB1);
    }
    shani_store(ha, a0, a1);
    shani_store(hb, b0, b1);
}

static int cpu_has_shani(void) {
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return 0;
    if (!(c & bit_SSSE3) || !(c & bit_SSE4_1)) return 0;
    if (__get_cpuid_max(0, 0) < 7) return 0;
    __cpuid_count(7, 0, a, b, c, d);
    return (b & (1u << 29)) != 0;  // CPUID.(EAX=7, ECX=0):EBX.SHA[bit 29]
}
#else
static void blocks_shani(uint32_t h[8], const uint8_t *p, size_t count) { blocks_portable(h, p, count); }
static void blocks_shani2(uint32_t ha[8], const uint8_t *pa, uint32_t hb[8], const uint8_t *pb, size_t count) {
    blocks_portable(ha, pa, count);
    blocks_portable(hb, pb, count);
}
static int cpu_has_shani(void) { return 0; }
#endif

// -1 until the first use decides.
static int accelerated = -1;
// How many callers have asked for the portable code (tests, nested or at once).
static int forced_portable = 0;

int casevault_sha256_accelerated(void) {
    return casevault_detect_once(&accelerated, cpu_has_shani) && !casevault_nested_on(&forced_portable);
}

void casevault_sha256_force_portable(int on) { casevault_count_nested(&forced_portable, on); }

static void blocks(uint32_t h[8], const uint8_t *p, size_t count) {
    if (casevault_sha256_accelerated()) blocks_shani(h, p, count); else blocks_portable(h, p, count);
}

void casevault_sha256_init(casevault_sha256_state *state) {
    static const uint32_t iv[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
    memcpy(state->h, iv, sizeof iv);
    state->length = 0;
    state->used = 0;
}

void casevault_sha256_update(casevault_sha256_state *state, const uint8_t *bytes, size_t count) {
    if (count == 0) return;
    state->length += count;
    if (state->used > 0) {
        size_t take = 64 - state->used < count ? 64 - state->used : count;
        memcpy(state->block + state->used, bytes, take);
        state->used += (uint32_t)take;
        bytes += take;
        count -= take;
        if (state->used < 64) return;
        blocks(state->h, state->block, 1);
        state->used = 0;
    }
    if (count >= 64) {
        blocks(state->h, bytes, count / 64);
        bytes += count & ~(size_t)63;
        count &= 63;
    }
    if (count > 0) {
        memcpy(state->block, bytes, count);
        state->used = (uint32_t)count;
    }
}

void casevault_sha256_update2(casevault_sha256_state *a, const uint8_t *pa, casevault_sha256_state *b, const uint8_t *pb, size_t count) {
    if (!casevault_sha256_accelerated()) {
        casevault_sha256_update(a, pa, count);
        casevault_sha256_update(b, pb, count);
        return;
    }
    // Each state to a block boundary on its own, then the whole blocks both
    // have together, then what is left of each on its own.
    size_t ta = a->used > 0 ? 64 - a->used : 0, tb = b->used > 0 ? 64 - b->used : 0;
    if (ta > count) ta = count;
    if (tb > count) tb = count;
    casevault_sha256_update(a, pa, ta);
    casevault_sha256_update(b, pb, tb);
    const size_t ra = count - ta, rb = count - tb;
    const size_t both = (ra < rb ? ra : rb) / 64;
    if (both > 0) {
        blocks_shani2(a->h, pa + ta, b->h, pb + tb, both);
        a->length += both * 64;
        b->length += both * 64;
    }
    casevault_sha256_update(a, pa + ta + both * 64, ra - both * 64);
    casevault_sha256_update(b, pb + tb + both * 64, rb - both * 64);
}

void casevault_sha256_final(casevault_sha256_state *state, uint8_t out[32]) {
    uint64_t bits = state->length * 8;
    uint32_t used = state->used;
    state->block[used++] = 0x80;
    if (used > 56) {
        memset(state->block + used, 0, 64 - used);
        blocks(state->h, state->block, 1);
        used = 0;
    }
    memset(state->block + used, 0, 56 - used);
    for (int i = 0; i < 8; i++) state->block[56 + i] = (uint8_t)(bits >> (56 - 8 * i));
    blocks(state->h, state->block, 1);
    for (int i = 0; i < 8; i++) {
        out[4 * i] = (uint8_t)(state->h[i] >> 24);
        out[4 * i + 1] = (uint8_t)(state->h[i] >> 16);
        out[4 * i + 2] = (uint8_t)(state->h[i] >> 8);
        out[4 * i + 3] = (uint8_t)state->h[i];
    }
    wipe(state, sizeof *state);
}

void casevault_sha256(uint8_t out[32], const uint8_t *bytes, size_t count) {
    casevault_sha256_state state;
    casevault_sha256_init(&state);
    casevault_sha256_update(&state, bytes, count);
    casevault_sha256_final(&state, out);
}
