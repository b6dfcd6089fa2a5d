// BLAKE3, hash mode, 32-byte output (SECURITY.md §2 describes where casevault
// uses it). Written from the BLAKE3 specification; the test vectors of the
// BLAKE3 team and a recursive implementation in the tests, which shares no
// code with this one, check it (Tests/CaseVaultCryptoTests/Blake3Tests.swift).
//
// The message is cut into chunks of 1 024 bytes, each hashed on its own
// (sixteen compressions of 64-byte blocks, counter = chunk index); chaining
// values are paired into parent nodes up a binary tree whose left subtrees
// are complete and as large as possible; the last compression, of the root,
// carries the ROOT flag. Sixteen chunks, and then their parents, are hashed
// side by side in the sixteen 32-bit lanes of AVX-512 registers, or eight at
// a time in AVX2's.
#include "casevault_blake3.h"
#include "casevault_vectors.h"

#include <string.h>

#define CHUNK_LEN 1024
#define BLOCK_LEN 64
#define LANES 16

enum { CHUNK_START = 1, CHUNK_END = 2, PARENT = 4, ROOT = 8 };

static const uint32_t IV[8] = {
    0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
};

// The message words each round reads, in order: round r + 1 applies the
// permutation (2, 6, 3, 10, 7, 0, 4, 13, 1, 11, 12, 5, 9, 14, 15, 8) to round r's.
static const uint8_t SCHEDULE[7][16] = {
    {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15},
    {2, 6, 3, 10, 7, 0, 4, 13, 1, 11, 12, 5, 9, 14, 15, 8},
    {3, 4, 10, 12, 13, 2, 7, 14, 6, 5, 9, 0, 11, 15, 8, 1},
    {10, 7, 12, 9, 14, 3, 13, 15, 4, 0, 11, 2, 5, 8, 1, 6},
    {12, 13, 9, 11, 15, 10, 14, 8, 7, 2, 5, 3, 0, 1, 6, 4},
    {9, 14, 11, 5, 8, 12, 15, 1, 13, 3, 0, 10, 2, 6, 4, 7},
    {11, 15, 5, 0, 1, 9, 8, 6, 14, 10, 2, 12, 3, 4, 7, 13},
};

static inline uint32_t load32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline uint32_t ror32(uint32_t w, unsigned c) { return (w >> c) | (w << (32 - c)); }

#define G(a, b, c, d, x, y)                                    \
    a = a + b + (x); d = ror32(d ^ a, 16); c = c + d; b = ror32(b ^ c, 12); \
    a = a + b + (y); d = ror32(d ^ a, 8);  c = c + d; b = ror32(b ^ c, 7);

// One compression: `cv` becomes the first eight words of the output.
static void compress(uint32_t cv[8], const uint32_t m[16], uint64_t counter, uint32_t block_len, uint32_t flags) {
    uint32_t v[16] = {
        cv[0], cv[1], cv[2], cv[3], cv[4], cv[5], cv[6], cv[7],
        IV[0], IV[1], IV[2], IV[3], (uint32_t)counter, (uint32_t)(counter >> 32), block_len, flags,
    };
    for (int r = 0; r < 7; r++) {
        const uint8_t *s = SCHEDULE[r];
        G(v[0], v[4], v[8], v[12], m[s[0]], m[s[1]])
        G(v[1], v[5], v[9], v[13], m[s[2]], m[s[3]])
        G(v[2], v[6], v[10], v[14], m[s[4]], m[s[5]])
        G(v[3], v[7], v[11], v[15], m[s[6]], m[s[7]])
        G(v[0], v[5], v[10], v[15], m[s[8]], m[s[9]])
        G(v[1], v[6], v[11], v[12], m[s[10]], m[s[11]])
        G(v[2], v[7], v[8], v[13], m[s[12]], m[s[13]])
        G(v[3], v[4], v[9], v[14], m[s[14]], m[s[15]])
    }
    for (int i = 0; i < 8; i++) cv[i] = v[i] ^ v[i + 8];
}

// The chaining value of a chunk of `len` bytes (0 only for the empty
// message: one empty block), `root` added to its last block's flags.
static void hash_chunk(uint32_t cv[8], const uint8_t *in, size_t len, uint64_t counter, uint32_t root) {
    memcpy(cv, IV, sizeof IV);
    size_t blocks = len == 0 ? 1 : (len + BLOCK_LEN - 1) / BLOCK_LEN;
    for (size_t b = 0; b < blocks; b++) {
        size_t n = b + 1 < blocks ? BLOCK_LEN : len - b * BLOCK_LEN;
        uint8_t padded[BLOCK_LEN] = {0};
        const uint8_t *block = in + b * BLOCK_LEN;
        if (n < BLOCK_LEN) {
            if (n > 0) memcpy(padded, block, n);
            block = padded;
        }
        uint32_t m[16];
        for (int i = 0; i < 16; i++) m[i] = load32(block + 4 * i);
        uint32_t flags = (b == 0 ? CHUNK_START : 0) | (b + 1 == blocks ? CHUNK_END | root : 0);
        compress(cv, m, counter, (uint32_t)n, flags);
    }
}

// The chaining value of the parent of `left` and `right`.
static void hash_parent(uint32_t out[8], const uint32_t left[8], const uint32_t right[8], uint32_t root) {
    uint32_t m[16];
    memcpy(m, left, 32);
    memcpy(m + 8, right, 32);
    memcpy(out, IV, sizeof IV);
    compress(out, m, 0, BLOCK_LEN, PARENT | root);
}

#if defined(__x86_64__)
#include <immintrin.h>

#define AVX512 __attribute__((target("avx512f")))

#define G16(a, b, c, d, x, y)                                                              \
    a = _mm512_add_epi32(_mm512_add_epi32(a, b), x); d = _mm512_ror_epi32(_mm512_xor_si512(d, a), 16); \
    c = _mm512_add_epi32(c, d); b = _mm512_ror_epi32(_mm512_xor_si512(b, c), 12);          \
    a = _mm512_add_epi32(_mm512_add_epi32(a, b), y); d = _mm512_ror_epi32(_mm512_xor_si512(d, a), 8);  \
    c = _mm512_add_epi32(c, d); b = _mm512_ror_epi32(_mm512_xor_si512(b, c), 7);

// Sixteen inputs of `blocks` blocks each, side by side: input i starts at
// `inputs[i]` and is hashed with counter `counter + i` (`step` 1, chunks) or
// `counter` (`step` 0, parents); the first block gets `start`, the last `end`,
// every block `flags`. Writes the sixteen chaining values to `out`, eight
// words each.
AVX512 static void hash16(const uint8_t *const inputs[LANES], size_t blocks, uint64_t counter, int step,
                          uint32_t flags, uint32_t start, uint32_t end, uint32_t out[LANES][8]) {
    const __m512i lanes = _mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0);
    const __m512i low = _mm512_set1_epi32((int)(uint32_t)counter);
    const __m512i counterLow = step ? _mm512_add_epi32(low, lanes) : low;
    // The carry into the high word where a lane's low word wrapped.
    const __mmask16 carried = _mm512_cmplt_epu32_mask(counterLow, low);
    const __m512i counterHigh = _mm512_mask_add_epi32(_mm512_set1_epi32((int)(uint32_t)(counter >> 32)), carried,
                                                      _mm512_set1_epi32((int)(uint32_t)(counter >> 32)), _mm512_set1_epi32(1));
    __m512i h[8];
    for (int i = 0; i < 8; i++) h[i] = _mm512_set1_epi32((int)IV[i]);
    for (size_t b = 0; b < blocks; b++) {
        __m512i m[16];
        for (int i = 0; i < LANES; i++) m[i] = _mm512_loadu_si512((const void *)(inputs[i] + b * BLOCK_LEN));
        casevault_transpose16(m);
        uint32_t blockFlags = flags | (b == 0 ? start : 0) | (b + 1 == blocks ? end : 0);
        __m512i v[16] = {
            h[0], h[1], h[2], h[3], h[4], h[5], h[6], h[7],
            _mm512_set1_epi32((int)IV[0]), _mm512_set1_epi32((int)IV[1]), _mm512_set1_epi32((int)IV[2]), _mm512_set1_epi32((int)IV[3]),
            counterLow, counterHigh, _mm512_set1_epi32(BLOCK_LEN), _mm512_set1_epi32((int)blockFlags),
        };
        for (int r = 0; r < 7; r++) {
            const uint8_t *s = SCHEDULE[r];
            G16(v[0], v[4], v[8], v[12], m[s[0]], m[s[1]])
            G16(v[1], v[5], v[9], v[13], m[s[2]], m[s[3]])
            G16(v[2], v[6], v[10], v[14], m[s[4]], m[s[5]])
            G16(v[3], v[7], v[11], v[15], m[s[6]], m[s[7]])
            G16(v[0], v[5], v[10], v[15], m[s[8]], m[s[9]])
            G16(v[1], v[6], v[11], v[12], m[s[10]], m[s[11]])
            G16(v[2], v[7], v[8], v[13], m[s[12]], m[s[13]])
            G16(v[3], v[4], v[9], v[14], m[s[14]], m[s[15]])
        }
        for (int i = 0; i < 8; i++) h[i] = _mm512_xor_si512(v[i], v[i + 8]);
    }
    uint32_t words[8][LANES];
    for (int i = 0; i < 8; i++) _mm512_storeu_si512((void *)words[i], h[i]);
    for (int lane = 0; lane < LANES; lane++) {
        for (int i = 0; i < 8; i++) out[lane][i] = words[i][lane];
    }
}

#define AVX2 __attribute__((target("avx2")))

// Rotations right by 16 and 8 as byte shuffles, by 12 and 7 as shifts
// (AVX2 has no rotate).
AVX2 static inline __m256i ror8x16(__m256i x) {
    return _mm256_shuffle_epi8(x, _mm256_set_epi8(13, 12, 15, 14, 9, 8, 11, 10, 5, 4, 7, 6, 1, 0, 3, 2,
                                                  13, 12, 15, 14, 9, 8, 11, 10, 5, 4, 7, 6, 1, 0, 3, 2));
}
AVX2 static inline __m256i ror8x8(__m256i x) {
    return _mm256_shuffle_epi8(x, _mm256_set_epi8(12, 15, 14, 13, 8, 11, 10, 9, 4, 7, 6, 5, 0, 3, 2, 1,
                                                  12, 15, 14, 13, 8, 11, 10, 9, 4, 7, 6, 5, 0, 3, 2, 1));
}
#define ROR8(x, c) _mm256_or_si256(_mm256_srli_epi32(x, c), _mm256_slli_epi32(x, 32 - (c)))

#define G8(a, b, c, d, x, y)                                                                  \
    a = _mm256_add_epi32(_mm256_add_epi32(a, b), x); d = ror8x16(_mm256_xor_si256(d, a));    \
    c = _mm256_add_epi32(c, d); b = ROR8(_mm256_xor_si256(b, c), 12);                         \
    a = _mm256_add_epi32(_mm256_add_epi32(a, b), y); d = ror8x8(_mm256_xor_si256(d, a));     \
    c = _mm256_add_epi32(c, d); b = ROR8(_mm256_xor_si256(b, c), 7);

// Transposes eight rows of eight words: afterwards x[w], lane i, is what
// x[i], lane w, was.
AVX2 static inline void transpose8(__m256i x[8]) {
    __m256i t[8];
    for (int i = 0; i < 8; i += 2) {
        t[i] = _mm256_unpacklo_epi32(x[i], x[i + 1]);
        t[i + 1] = _mm256_unpackhi_epi32(x[i], x[i + 1]);
    }
    // u[4g + m], 128-bit half h: word 4h + m of rows 4g..4g+3.
    __m256i u[8];
    for (int g = 0; g < 8; g += 4) {
        u[g] = _mm256_unpacklo_epi64(t[g], t[g + 2]);
        u[g + 1] = _mm256_unpackhi_epi64(t[g], t[g + 2]);
        u[g + 2] = _mm256_unpacklo_epi64(t[g + 1], t[g + 3]);
        u[g + 3] = _mm256_unpackhi_epi64(t[g + 1], t[g + 3]);
    }
    for (int m = 0; m < 4; m++) {
        x[m] = _mm256_permute2x128_si256(u[m], u[4 + m], 0x20);
        x[4 + m] = _mm256_permute2x128_si256(u[m], u[4 + m], 0x31);
    }
}

// As hash16, eight inputs at a time in the 32-bit lanes of AVX2 registers.
AVX2 static void hash8(const uint8_t *const inputs[8], size_t blocks, uint64_t counter, int step,
                       uint32_t flags, uint32_t start, uint32_t end, uint32_t out[8][8]) {
    const __m256i low = _mm256_set1_epi32((int)(uint32_t)counter);
    const __m256i counterLow = step ? _mm256_add_epi32(low, _mm256_set_epi32(7, 6, 5, 4, 3, 2, 1, 0)) : low;
    // A lane's low word wrapped where it is now below the base (unsigned:
    // compared with the sign bits flipped); the carry makes its high word one more.
    const __m256i sign = _mm256_set1_epi32((int)0x80000000u);
    const __m256i carried = _mm256_cmpgt_epi32(_mm256_xor_si256(low, sign), _mm256_xor_si256(counterLow, sign));
    const __m256i counterHigh = _mm256_sub_epi32(_mm256_set1_epi32((int)(uint32_t)(counter >> 32)), carried);
    __m256i h[8];
    for (int i = 0; i < 8; i++) h[i] = _mm256_set1_epi32((int)IV[i]);
    for (size_t b = 0; b < blocks; b++) {
        __m256i m[16];
        for (int i = 0; i < 8; i++) {
            m[i] = _mm256_loadu_si256((const __m256i *)(const void *)(inputs[i] + b * BLOCK_LEN));
            m[8 + i] = _mm256_loadu_si256((const __m256i *)(const void *)(inputs[i] + b * BLOCK_LEN + 32));
        }
        transpose8(m);
        transpose8(m + 8);
        uint32_t blockFlags = flags | (b == 0 ? start : 0) | (b + 1 == blocks ? end : 0);
        __m256i v[16] = {
            h[0], h[1], h[2], h[3], h[4], h[5], h[6], h[7],
            _mm256_set1_epi32((int)IV[0]), _mm256_set1_epi32((int)IV[1]), _mm256_set1_epi32((int)IV[2]), _mm256_set1_epi32((int)IV[3]),
            counterLow, counterHigh, _mm256_set1_epi32(BLOCK_LEN), _mm256_set1_epi32((int)blockFlags),
        };
        for (int r = 0; r < 7; r++) {
            const uint8_t *s = SCHEDULE[r];
            G8(v[0], v[4], v[8], v[12], m[s[0]], m[s[1]])
            G8(v[1], v[5], v[9], v[13], m[s[2]], m[s[3]])
            G8(v[2], v[6], v[10], v[14], m[s[4]], m[s[5]])
            G8(v[3], v[7], v[11], v[15], m[s[6]], m[s[7]])
            G8(v[0], v[5], v[10], v[15], m[s[8]], m[s[9]])
            G8(v[1], v[6], v[11], v[12], m[s[10]], m[s[11]])
            G8(v[2], v[7], v[8], v[13], m[s[12]], m[s[13]])
            G8(v[3], v[4], v[9], v[14], m[s[14]], m[s[15]])
        }
        for (int i = 0; i < 8; i++) h[i] = _mm256_xor_si256(v[i], v[i + 8]);
    }
    transpose8(h);
    for (int lane = 0; lane < 8; lane++) _mm256_storeu_si256((__m256i *)(void *)out[lane], h[lane]);
}

#else
static void hash16(const uint8_t *const inputs[LANES], size_t blocks, uint64_t counter, int step,
                   uint32_t flags, uint32_t start, uint32_t end, uint32_t out[LANES][8]) {
    (void)inputs; (void)blocks; (void)counter; (void)step; (void)flags; (void)start; (void)end; (void)out;
}
static void hash8(const uint8_t *const inputs[8], size_t blocks, uint64_t counter, int step,
                  uint32_t flags, uint32_t start, uint32_t end, uint32_t out[8][8]) {
    (void)inputs; (void)blocks; (void)counter; (void)step; (void)flags; (void)start; (void)end; (void)out;
}
#endif

// -1 until the first use decides.
static int level = -1;
// How many callers have capped the code at AVX2, and at portable C (tests,
// nested or at once).
static int capped_avx2 = 0, capped_portable = 0;

// The vector code in use now: the CPU's, less any cap.
static int current_level(void) {
    int value = casevault_detect_once(&level, casevault_cpu_vectors);
    if (casevault_nested_on(&capped_portable)) return 0;
    if (value > 1 && casevault_nested_on(&capped_avx2)) return 1;
    return value;
}

int casevault_blake3_accelerated(void) { return current_level(); }

void casevault_blake3_force_portable(int on) { casevault_count_nested(&capped_portable, on); }
void casevault_blake3_force_avx2(int on) { casevault_count_nested(&capped_avx2, on); }

// The chaining values of `count` (a power of two, 2..16) whole chunks from
// `counter`, reduced to the two children of their subtree's top: out[0] the
// left half's, out[1] the right half's. With vector code, all the chunks go
// through it side by side, and then each level of parents; a subtree
// smaller than the registers (where a chunk counter is not a multiple of 16,
// after a piece that ended mid-chunk) leaves lanes idle, which still beats
// one compression at a time.
static void hash_subtree(uint32_t out[2][8], const uint8_t *in, size_t count, uint64_t counter) {
    uint32_t cvs[LANES][8];
    const int vectors = current_level();
    const size_t width = vectors == 2 ? LANES : vectors == 1 ? 8 : 0;
    if (width > 0) {
        const uint8_t *inputs[LANES];
        // Idle lanes repeat the group's first input; their values are dropped.
        for (size_t group = 0; group < count; group += width) {
            for (size_t i = 0; i < width; i++) inputs[i] = in + (group + (group + i < count ? i : 0)) * CHUNK_LEN;
            if (width == LANES) hash16(inputs, CHUNK_LEN / BLOCK_LEN, counter + group, 1, 0, CHUNK_START, CHUNK_END, cvs + group);
            else hash8(inputs, CHUNK_LEN / BLOCK_LEN, counter + group, 1, 0, CHUNK_START, CHUNK_END, cvs + group);
        }
        for (size_t n = count / 2; n >= 2; n /= 2) {
            uint32_t parents[LANES][8];
            for (size_t i = 0; i < width; i++) inputs[i] = (const uint8_t *)cvs[2 * (i < n ? i : 0)];
            if (width == LANES) hash16(inputs, 1, 0, 0, PARENT, 0, 0, parents);
            else hash8(inputs, 1, 0, 0, PARENT, 0, 0, parents);
            memcpy(cvs, parents, n * sizeof parents[0]);
        }
    } else {
        for (size_t i = 0; i < count; i++) hash_chunk(cvs[i], in + i * CHUNK_LEN, CHUNK_LEN, counter + i, 0);
        // In place: parent i overwrites a value already read (i <= 2i).
        for (size_t n = count / 2; n >= 2; n /= 2) {
            for (size_t i = 0; i < n; i++) hash_parent(cvs[i], cvs[2 * i], cvs[2 * i + 1], 0);
        }
    }
    memcpy(out[0], cvs[0], 32);
    memcpy(out[1], cvs[1], 32);
}

void casevault_blake3_subtree16(const uint8_t *in, uint64_t counter, uint8_t out[64]) {
    uint32_t halves[2][8];
    hash_subtree(halves, in, LANES, counter);
    for (int i = 0; i < 16; i++) {
        uint32_t w = halves[i / 8][i % 8];
        for (int j = 0; j < 4; j++) out[4 * i + j] = (uint8_t)(w >> (8 * j));
    }
}

// Pairs the stack's top entries until it holds one per 1 bit of
// `chunks` (the count of chunks left of what comes next): the complete
// subtrees left of it. Lazy: a subtree is merged only once more input shows
// it is not the root.
static void merge(casevault_blake3_state *s, uint64_t chunks) {
    while (s->stack_len > (uint8_t)__builtin_popcountll(chunks)) {
        uint32_t *left = s->stack[s->stack_len - 2], *right = s->stack[s->stack_len - 1];
        hash_parent(left, left, right, 0);
        s->stack_len--;
    }
}

static void push(casevault_blake3_state *s, const uint32_t cv[8], uint64_t counter) {
    merge(s, counter);
    memcpy(s->stack[s->stack_len++], cv, 32);
}

void casevault_blake3_init(casevault_blake3_state *s) {
    memset(s, 0, sizeof *s);
}

void casevault_blake3_update(casevault_blake3_state *s, const uint8_t *in, size_t len) {
    if (len == 0) return;
    if (s->chunk_len > 0) {
        size_t take = CHUNK_LEN - s->chunk_len < len ? CHUNK_LEN - s->chunk_len : len;
        memcpy(s->chunk + s->chunk_len, in, take);
        s->chunk_len += take;
        in += take;
        len -= take;
        if (len == 0) return;
        // Full, and more follows: not the root.
        uint32_t cv[8];
        hash_chunk(cv, s->chunk, CHUNK_LEN, s->chunk_counter, 0);
        push(s, cv, s->chunk_counter);
        s->chunk_counter++;
        s->chunk_len = 0;
    }
    // Whole subtrees while more than a chunk remains. A subtree of two or
    // more chunks may end the input: its two halves go on the stack unmerged,
    // so the root (should nothing follow) is still to be made. A lone last
    // chunk waits in `chunk` instead, since it may be the root itself.
    while (len > CHUNK_LEN) {
        size_t count = LANES;
        while (count > 1 && (size_t)count * CHUNK_LEN > len) count /= 2;
        while (s->chunk_counter & (count - 1)) count /= 2;
        if (count == 1) {
            uint32_t cv[8];
            hash_chunk(cv, in, CHUNK_LEN, s->chunk_counter, 0);
            push(s, cv, s->chunk_counter);
        } else {
            uint32_t halves[2][8];
            hash_subtree(halves, in, count, s->chunk_counter);
            push(s, halves[0], s->chunk_counter);
            push(s, halves[1], s->chunk_counter + count / 2);
        }
        s->chunk_counter += count;
        in += count * CHUNK_LEN;
        len -= count * CHUNK_LEN;
    }
    if (len > 0) {
        memcpy(s->chunk, in, len);
        s->chunk_len = len;
        merge(s, s->chunk_counter);
    }
}

void casevault_blake3_final(const casevault_blake3_state *s, uint8_t out[32]) {
    uint32_t cv[8];
    if (s->stack_len == 0) {
        // One chunk at most (none: the empty message, one empty block).
        hash_chunk(cv, s->chunk, s->chunk_len, s->chunk_counter, ROOT);
    } else {
        // The rightmost node: the waiting chunk, or, when the input ended
        // with a whole subtree, its right half (its left half is below it).
        int i = s->stack_len - 1;
        if (s->chunk_len > 0) {
            hash_chunk(cv, s->chunk, s->chunk_len, s->chunk_counter, 0);
        } else {
            memcpy(cv, s->stack[i--], 32);
        }
        for (; i >= 0; i--) hash_parent(cv, s->stack[i], cv, i == 0 ? ROOT : 0);
    }
    for (int i = 0; i < 8; i++) {
        out[4 * i] = (uint8_t)cv[i];
        out[4 * i + 1] = (uint8_t)(cv[i] >> 8);
        out[4 * i + 2] = (uint8_t)(cv[i] >> 16);
        out[4 * i + 3] = (uint8_t)(cv[i] >> 24);
    }
}
