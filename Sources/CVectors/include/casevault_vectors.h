// What CSHA256, CSecretStream and CBlake3 share: which vector code the CPU
// allows, the choice made once and forced off by tests, and the 16 × 16
// word transpose the last two use to move between one block per 32-bit
// lane and one block per register.
#ifndef CASEVAULT_VECTORS_H
#define CASEVAULT_VECTORS_H

/// 2 when the CPU has AVX-512F and the kernel saves its registers (CPUID
/// leaf 7 EBX bit 16; OSXSAVE and XCR0 bits 1, 2, 5, 6 and 7); 1 when it
/// has AVX2 (leaf 7 EBX bit 5; XCR0 bits 1 and 2); 0 otherwise, and on
/// every CPU that is not x86-64. Asked of the CPU at every call: callers
/// keep the answer.
int casevault_cpu_vectors(void);

/// The answer of `detect`, asked at the first call and kept in `*cached`
/// (-1 until then; a race stores the same answer twice).
int casevault_detect_once(int *cached, int (*detect)(void));

/// A test's switch to force a portable path: 1 adds one to `*count`, 0
/// takes one off but never below 0 (an unmatched 0 must not leave the path
/// forced for good). Calls nest and may overlap across threads.
void casevault_count_nested(int *count, int on);

/// Whether `*count` (a `casevault_count_nested` counter) is above 0.
int casevault_nested_on(const int *count);

#if defined(__x86_64__)
#include <immintrin.h>

/// Transposes sixteen rows of sixteen 32-bit words in place: afterwards
/// x[w], lane i, is what x[i], lane w, was. Pairs of words, then quads
/// within 128-bit lanes, then the 128-bit lanes.
__attribute__((target("avx512f"))) static inline void casevault_transpose16(__m512i x[16]) {
    __m512i t[16];
    for (int i = 0; i < 16; i += 2) {
        t[i] = _mm512_unpacklo_epi32(x[i], x[i + 1]);
        t[i + 1] = _mm512_unpackhi_epi32(x[i], x[i + 1]);
    }
    for (int i = 0; i < 16; i += 4) {
        x[i] = _mm512_unpacklo_epi64(t[i], t[i + 2]);
        x[i + 1] = _mm512_unpackhi_epi64(t[i], t[i + 2]);
        x[i + 2] = _mm512_unpacklo_epi64(t[i + 1], t[i + 3]);
        x[i + 3] = _mm512_unpackhi_epi64(t[i + 1], t[i + 3]);
    }
    // Now x[4g + m], 128-bit lane L, holds word 4L + m of rows 4g..4g+3.
    for (int m = 0; m < 4; m++) {
        const __m512i a = x[m], b = x[4 + m], c = x[8 + m], d = x[12 + m];
        const __m512i abEven = _mm512_shuffle_i32x4(a, b, 0x88), abOdd = _mm512_shuffle_i32x4(a, b, 0xdd);
        const __m512i cdEven = _mm512_shuffle_i32x4(c, d, 0x88), cdOdd = _mm512_shuffle_i32x4(c, d, 0xdd);
        t[m] = _mm512_shuffle_i32x4(abEven, cdEven, 0x88);      // word m
        t[4 + m] = _mm512_shuffle_i32x4(abOdd, cdOdd, 0x88);    // word 4 + m
        t[8 + m] = _mm512_shuffle_i32x4(abEven, cdEven, 0xdd);  // word 8 + m
        t[12 + m] = _mm512_shuffle_i32x4(abOdd, cdOdd, 0xdd);   // word 12 + m
    }
    for (int i = 0; i < 16; i++) x[i] = t[i];
}
#endif

#endif
