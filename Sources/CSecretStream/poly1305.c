// Poly1305 (RFC 8439 §2.5) for the secretstream chunks of secretstream.c,
// sixteen blocks at a time on AVX-512.
//
// Why: after ChaCha20 moved to AVX-512, libsodium 1.0.18's Poly1305 (its
// SSE2 code, about 5 000 MiB/s here) took more of each chunk than ChaCha20 did,
// and a handover export authenticates every byte twice. This code runs at
// about 17 000 MiB/s on the AMD EPYC machines measured (`make bench` prints
// the secretstream with both).
//
// The numbers: 130-bit values in five 26-bit limbs (radix 2^26, as
// poly1305-donna-32), r clamped as RFC 8439 says, and 5 r_i for the limbs
// that wrap, since 2^130 = 5 (mod p). One block is h = (h + m + 2^128) r
// mod p. The vector code keeps sixteen accumulators, one per 64-bit lane of
// two registers, lane j starting at block j of a run of 16k blocks; each
// step multiplies every lane by r^16 and adds the next sixteen blocks, and
// at the end lane j is multiplied by r^(16-j) and the lanes are added. That
// is the same polynomial in r as one block at a time:
// ((h + m_0) r + m_1) r ... = (h + m_0) r^16k + m_1 r^(16k-1) + ... + m_(16k-1) r.
//
// Bounds (why no product or sum overflows): after each multiplication the
// carry pass leaves limbs below 2^26, except limb 1, below 2^26 + 2^10.
// Adding a block's limbs (each below 2^26) keeps every limb below 2^27.1,
// so every factor of vpmuludq fits its 32 bits; r and its powers are carried
// the same way, so 5 r_i < 2^28.4 and each of the five products summed into
// a limb is below 2^55.5, the sum below 2^58. The carry out of limb 4 is
// below 2^32.1 and is multiplied by 5 with 64-bit shifts and adds, never by
// vpmuludq. The final lane sum is sixteen limbs below 2^26.1, below 2^30.1.
//
// Nothing here branches or indexes memory on secret data; the final
// reduction selects with masks. The state (r, its powers, the pad, h and
// the pending partial block) is wiped by casevault_poly1305_final, as
// libsodium wipes its own; like libsodium, locals and registers are not.
#include "casevault_secretstream.h"
#include "casevault_vectors.h"
#include <string.h>

#define MASK26 0x3ffffffu

static uint32_t load32(const unsigned char *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void store32(unsigned char *p, uint32_t v) {
    p[0] = (unsigned char)v; p[1] = (unsigned char)(v >> 8); p[2] = (unsigned char)(v >> 16); p[3] = (unsigned char)(v >> 24);
}

// a = a * b mod p, partly reduced (limbs as the header comment says): a's
// limbs below 2^27.1, b's as a carry pass leaves them.
static void multiply(uint32_t a[5], const uint32_t b[5]) {
    const uint64_t s1 = b[1] * 5ull, s2 = b[2] * 5ull, s3 = b[3] * 5ull, s4 = b[4] * 5ull;
    const uint64_t a0 = a[0], a1 = a[1], a2 = a[2], a3 = a[3], a4 = a[4];
    uint64_t d0 = a0 * b[0] + a1 * s4 + a2 * s3 + a3 * s2 + a4 * s1;
    uint64_t d1 = a0 * b[1] + a1 * b[0] + a2 * s4 + a3 * s3 + a4 * s2;
    uint64_t d2 = a0 * b[2] + a1 * b[1] + a2 * b[0] + a3 * s4 + a4 * s3;
    uint64_t d3 = a0 * b[3] + a1 * b[2] + a2 * b[1] + a3 * b[0] + a4 * s4;
    uint64_t d4 = a0 * b[4] + a1 * b[3] + a2 * b[2] + a3 * b[1] + a4 * b[0];
    uint64_t c;
    c = d0 >> 26; d1 += c;
    c = d1 >> 26; d2 += c;
    c = d2 >> 26; d3 += c;
    c = d3 >> 26; d4 += c;
    c = d4 >> 26;
    d0 = (d0 & MASK26) + c * 5;
    a[1] = (uint32_t)((d1 & MASK26) + (d0 >> 26));
    a[0] = (uint32_t)(d0 & MASK26);
    a[2] = (uint32_t)(d2 & MASK26); a[3] = (uint32_t)(d3 & MASK26); a[4] = (uint32_t)(d4 & MASK26);
}

// One block at a time; `hibit` is 2^128 as limb 4 sees it (1 << 24), or 0
// for the padded last block.
static void blocks_scalar(casevault_poly1305_state *st, const unsigned char *m, size_t count, uint32_t hibit) {
    for (; count > 0; count--, m += 16) {
        st->h[0] += load32(m) & MASK26;
        st->h[1] += (load32(m + 3) >> 2) & MASK26;
        st->h[2] += (load32(m + 6) >> 4) & MASK26;
        st->h[3] += (load32(m + 9) >> 6) & MASK26;
        st->h[4] += (load32(m + 12) >> 8) | hibit;
        multiply(st->h, st->r);
    }
}

#if defined(__x86_64__)
#include <immintrin.h>

#define AVX512 __attribute__((target("avx512f")))

// d = a * (r, s) in every lane, then one carry pass.
AVX512 static inline void multiply8(__m512i a[5], const __m512i r[5], const __m512i s[5]) {
    const __m512i mask = _mm512_set1_epi64(MASK26);
    __m512i d0 = _mm512_mul_epu32(a[0], r[0]), d1 = _mm512_mul_epu32(a[0], r[1]), d2 = _mm512_mul_epu32(a[0], r[2]);
    __m512i d3 = _mm512_mul_epu32(a[0], r[3]), d4 = _mm512_mul_epu32(a[0], r[4]);
    d0 = _mm512_add_epi64(d0, _mm512_mul_epu32(a[1], s[4]));
    d1 = _mm512_add_epi64(d1, _mm512_mul_epu32(a[1], r[0]));
    d2 = _mm512_add_epi64(d2, _mm512_mul_epu32(a[1], r[1]));
    d3 = _mm512_add_epi64(d3, _mm512_mul_epu32(a[1], r[2]));
    d4 = _mm512_add_epi64(d4, _mm512_mul_epu32(a[1], r[3]));
    d0 = _mm512_add_epi64(d0, _mm512_mul_epu32(a[2], s[3]));
    d1 = _mm512_add_epi64(d1, _mm512_mul_epu32(a[2], s[4]));
    d2 = _mm512_add_epi64(d2, _mm512_mul_epu32(a[2], r[0]));
    d3 = _mm512_add_epi64(d3, _mm512_mul_epu32(a[2], r[1]));
    d4 = _mm512_add_epi64(d4, _mm512_mul_epu32(a[2], r[2]));
    d0 = _mm512_add_epi64(d0, _mm512_mul_epu32(a[3], s[2]));
    d1 = _mm512_add_epi64(d1, _mm512_mul_epu32(a[3], s[3]));
    d2 = _mm512_add_epi64(d2, _mm512_mul_epu32(a[3], s[4]));
    d3 = _mm512_add_epi64(d3, _mm512_mul_epu32(a[3], r[0]));
    d4 = _mm512_add_epi64(d4, _mm512_mul_epu32(a[3], r[1]));
    d0 = _mm512_add_epi64(d0, _mm512_mul_epu32(a[4], s[1]));
    d1 = _mm512_add_epi64(d1, _mm512_mul_epu32(a[4], s[2]));
    d2 = _mm512_add_epi64(d2, _mm512_mul_epu32(a[4], s[3]));
    d3 = _mm512_add_epi64(d3, _mm512_mul_epu32(a[4], s[4]));
    d4 = _mm512_add_epi64(d4, _mm512_mul_epu32(a[4], r[0]));
    d1 = _mm512_add_epi64(d1, _mm512_srli_epi64(d0, 26));
    d2 = _mm512_add_epi64(d2, _mm512_srli_epi64(d1, 26));
    d3 = _mm512_add_epi64(d3, _mm512_srli_epi64(d2, 26));
    d4 = _mm512_add_epi64(d4, _mm512_srli_epi64(d3, 26));
    const __m512i c = _mm512_srli_epi64(d4, 26);
    d0 = _mm512_add_epi64(_mm512_and_si512(d0, mask), _mm512_add_epi64(c, _mm512_slli_epi64(c, 2)));
    a[1] = _mm512_add_epi64(_mm512_and_si512(d1, mask), _mm512_srli_epi64(d0, 26));
    a[0] = _mm512_and_si512(d0, mask);
    a[2] = _mm512_and_si512(d2, mask);
    a[3] = _mm512_and_si512(d3, mask);
    a[4] = _mm512_and_si512(d4, mask);
}

// Adds blocks 0..7 at `m` to the lanes, block j to lane j.
AVX512 static inline void add_blocks8(__m512i a[5], const unsigned char *m) {
    const __m512i mask = _mm512_set1_epi64(MASK26), hibit = _mm512_set1_epi64(1 << 24);
    const __m512i evens = _mm512_set_epi64(14, 12, 10, 8, 6, 4, 2, 0), odds = _mm512_set_epi64(15, 13, 11, 9, 7, 5, 3, 1);
    const __m512i x = _mm512_loadu_si512((const void *)m), y = _mm512_loadu_si512((const void *)(m + 64));
    const __m512i lo = _mm512_permutex2var_epi64(x, evens, y), hi = _mm512_permutex2var_epi64(x, odds, y);
    a[0] = _mm512_add_epi64(a[0], _mm512_and_si512(lo, mask));
    a[1] = _mm512_add_epi64(a[1], _mm512_and_si512(_mm512_srli_epi64(lo, 26), mask));
    a[2] = _mm512_add_epi64(a[2], _mm512_and_si512(_mm512_or_si512(_mm512_srli_epi64(lo, 52), _mm512_slli_epi64(hi, 12)), mask));
    a[3] = _mm512_add_epi64(a[3], _mm512_and_si512(_mm512_srli_epi64(hi, 14), mask));
    a[4] = _mm512_add_epi64(a[4], _mm512_or_si512(_mm512_srli_epi64(hi, 40), hibit));
}

// `groups` runs of sixteen full blocks (groups >= 1), into st->h. Two sets
// of eight lanes, a for blocks 0..7 of each run and b for blocks 8..15,
// each stepped by r^16: two chains of multiplications the CPU overlaps.
AVX512 static void blocks16(casevault_poly1305_state *st, const unsigned char *m, size_t groups) {
    if (!st->powers_ready) {
        // powers[k] = r^(k+1), k = 0..15.
        memcpy(st->powers[0], st->r, sizeof st->r);
        for (int k = 1; k < 16; k++) {
            memcpy(st->powers[k], st->powers[k - 1], sizeof st->r);
            multiply(st->powers[k], st->r);
        }
        st->powers_ready = 1;
    }
    __m512i a[5], b[5], r[5], s[5];
    for (int i = 0; i < 5; i++) {
        r[i] = _mm512_set1_epi64(st->powers[15][i]);
        s[i] = _mm512_set1_epi64(st->powers[15][i] * 5ull);
        // Lane 0 of a starts from h.
        a[i] = _mm512_set_epi64(0, 0, 0, 0, 0, 0, 0, st->h[i]);
        b[i] = _mm512_setzero_si512();
    }
    add_blocks8(a, m);
    add_blocks8(b, m + 128);
    for (groups--, m += 256; groups > 0; groups--, m += 256) {
        multiply8(a, r, s);
        multiply8(b, r, s);
        add_blocks8(a, m);
        add_blocks8(b, m + 128);
    }
    // Lane j of a by r^(16-j), lane j of b by r^(8-j); then every lane added.
    for (int i = 0; i < 5; i++) {
        r[i] = _mm512_set_epi64(st->powers[8][i], st->powers[9][i], st->powers[10][i], st->powers[11][i],
                                st->powers[12][i], st->powers[13][i], st->powers[14][i], st->powers[15][i]);
        s[i] = _mm512_add_epi64(r[i], _mm512_slli_epi64(r[i], 2));
    }
    multiply8(a, r, s);
    for (int i = 0; i < 5; i++) {
        r[i] = _mm512_set_epi64(st->powers[0][i], st->powers[1][i], st->powers[2][i], st->powers[3][i],
                                st->powers[4][i], st->powers[5][i], st->powers[6][i], st->powers[7][i]);
        s[i] = _mm512_add_epi64(r[i], _mm512_slli_epi64(r[i], 2));
    }
    multiply8(b, r, s);
    for (int i = 0; i < 5; i++) st->h[i] = (uint32_t)_mm512_reduce_add_epi64(_mm512_add_epi64(a[i], b[i]));
    // Sixteen limbs below 2^26.1 each: below 2^30.1. One carry pass, as after a block.
    uint32_t c;
    c = st->h[0] >> 26; st->h[0] &= MASK26; st->h[1] += c;
    c = st->h[1] >> 26; st->h[1] &= MASK26; st->h[2] += c;
    c = st->h[2] >> 26; st->h[2] &= MASK26; st->h[3] += c;
    c = st->h[3] >> 26; st->h[3] &= MASK26; st->h[4] += c;
    c = st->h[4] >> 26; st->h[4] &= MASK26; st->h[0] += c * 5;
    c = st->h[0] >> 26; st->h[0] &= MASK26; st->h[1] += c;
}
#endif

// The vector code runs on runs of at least this many blocks (its setup and
// lane sums cost about as much as a few blocks).
#define VECTOR_BLOCKS 32

static void blocks(casevault_poly1305_state *st, const unsigned char *m, size_t count) {
#if defined(__x86_64__)
    if (count >= VECTOR_BLOCKS && st->vectors) {
        const size_t groups = count / 16;
        blocks16(st, m, groups);
        m += groups * 256;
        count -= groups * 16;
    }
#endif
    blocks_scalar(st, m, count, 1u << 24);
}

// -1 until the first use decides (CPUID is slow under a hypervisor: asked once).
static int avx512 = -1;
static int has_avx512f(void) { return casevault_cpu_vectors() == 2; }

void casevault_poly1305_init(casevault_poly1305_state *st, const unsigned char key[32], int vectors) {
    memset(st, 0, sizeof *st);
    st->r[0] = load32(key) & 0x3ffffff;
    st->r[1] = (load32(key + 3) >> 2) & 0x3ffff03;
    st->r[2] = (load32(key + 6) >> 4) & 0x3ffc0ff;
    st->r[3] = (load32(key + 9) >> 6) & 0x3f03fff;
    st->r[4] = (load32(key + 12) >> 8) & 0x00fffff;
    for (int i = 0; i < 4; i++) st->pad[i] = load32(key + 16 + 4 * i);
#if defined(__x86_64__)
    st->vectors = vectors && casevault_detect_once(&avx512, has_avx512f);
#else
    (void)vectors;
#endif
}

void casevault_poly1305_update(casevault_poly1305_state *st, const unsigned char *m, size_t length) {
    if (st->leftover > 0) {
        size_t take = 16 - st->leftover;
        if (take > length) take = length;
        if (take > 0) memcpy(st->buffer + st->leftover, m, take);
        st->leftover += take;
        m += take;
        length -= take;
        if (st->leftover < 16) return;
        blocks_scalar(st, st->buffer, 1, 1u << 24);
        st->leftover = 0;
    }
    if (length >= 16) {
        const size_t full = length / 16;
        blocks(st, m, full);
        m += full * 16;
        length -= full * 16;
    }
    if (length > 0) {
        memcpy(st->buffer, m, length);
        st->leftover = length;
    }
}

void casevault_poly1305_final(casevault_poly1305_state *st, unsigned char mac[16]) {
    if (st->leftover > 0) {
        st->buffer[st->leftover] = 1;
        memset(st->buffer + st->leftover + 1, 0, 16 - st->leftover - 1);
        blocks_scalar(st, st->buffer, 1, 0);
    }
    uint32_t h0 = st->h[0], h1 = st->h[1], h2 = st->h[2], h3 = st->h[3], h4 = st->h[4], c;
    // Fully carried: every limb below 2^26, h below 2^130 + a little.
    c = h1 >> 26; h1 &= MASK26; h2 += c;
    c = h2 >> 26; h2 &= MASK26; h3 += c;
    c = h3 >> 26; h3 &= MASK26; h4 += c;
    c = h4 >> 26; h4 &= MASK26; h0 += c * 5;
    c = h0 >> 26; h0 &= MASK26; h1 += c;
    // g = h - p = h + 5 - 2^130; h if that is negative, else g, by mask.
    uint32_t g0 = h0 + 5; c = g0 >> 26; g0 &= MASK26;
    uint32_t g1 = h1 + c; c = g1 >> 26; g1 &= MASK26;
    uint32_t g2 = h2 + c; c = g2 >> 26; g2 &= MASK26;
    uint32_t g3 = h3 + c; c = g3 >> 26; g3 &= MASK26;
    uint32_t g4 = h4 + c - (1u << 26);
    uint32_t keep_g = (g4 >> 31) - 1;  // all ones when g >= 0
    h0 = (h0 & ~keep_g) | (g0 & keep_g);
    h1 = (h1 & ~keep_g) | (g1 & keep_g);
    h2 = (h2 & ~keep_g) | (g2 & keep_g);
    h3 = (h3 & ~keep_g) | (g3 & keep_g);
    h4 = (h4 & ~keep_g) | (g4 & keep_g);
    // h mod 2^128, plus the pad, mod 2^128.
    uint64_t f;
    f = (uint64_t)(h0 | (h1 << 26)) + st->pad[0]; store32(mac, (uint32_t)f);
    f = (uint64_t)((h1 >> 6) | (h2 << 20)) + st->pad[1] + (f >> 32); store32(mac + 4, (uint32_t)f);
    f = (uint64_t)((h2 >> 12) | (h3 << 14)) + st->pad[2] + (f >> 32); store32(mac + 8, (uint32_t)f);
    f = (uint64_t)((h3 >> 18) | (h4 << 8)) + st->pad[3] + (f >> 32); store32(mac + 12, (uint32_t)f);
    sodium_memzero(st, sizeof *st);
}
