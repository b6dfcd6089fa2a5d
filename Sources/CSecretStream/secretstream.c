// ChaCha20 sixteen blocks at a time on AVX-512, and libsodium's secretstream
// chunk functions rebuilt on it.
//
// Why: a handover export decrypts and re-encrypts every byte, and retrieval
// and filing encrypt or decrypt every byte; libsodium 1.0.18's ChaCha20 (its
// AVX2 code) runs at about 2.4 GB/s on the AMD EPYC machines measured, and
// this code at about 6 GB/s (`make bench` prints both). On the same CPUs
// Poly1305 runs sixteen blocks at a time (poly1305.c); elsewhere it is
// libsodium's. Everything else (HChaCha20, the Poly1305 key block, the
// rekey, the nonce update) is libsodium's own functions, called in the
// order libsodium's secretstream.c calls them, so the bytes are the same:
// the tests hold push, pull, the key stream and Poly1305 to libsodium's for
// every chunk length from 0 to 2 100 bytes, every tag, with and without
// associated data, on both paths.
//
// Nothing here branches or indexes memory on secret data. The key, the
// counter words and the key stream live in vector registers and, where the
// compiler spills them, on the stack; the block words and the Poly1305
// state and key block this file keeps are wiped before it returns, as
// libsodium does in its own secretstream.c.
#include "casevault_secretstream.h"
#include "casevault_vectors.h"
#include <string.h>

// The state's nonce: a 4-byte little-endian chunk counter, then the 8-byte
// nonce every MAC is XORed into (private names in libsodium's secretstream.c).
#define COUNTERBYTES 4
#define INONCEBYTES 8
#define STATE_COUNTER(state) ((state)->nonce)
#define STATE_INONCE(state) ((state)->nonce + COUNTERBYTES)

static const unsigned char pad0[16] = {0};

#if defined(__x86_64__)
#include <immintrin.h>

#define AVX512 __attribute__((target("avx512f")))

#define QUARTER(a, b, c, d)                                              \
    a = _mm512_add_epi32(a, b); d = _mm512_rol_epi32(_mm512_xor_si512(d, a), 16); \
    c = _mm512_add_epi32(c, d); b = _mm512_rol_epi32(_mm512_xor_si512(b, c), 12); \
    a = _mm512_add_epi32(a, b); d = _mm512_rol_epi32(_mm512_xor_si512(d, a), 8);  \
    c = _mm512_add_epi32(c, d); b = _mm512_rol_epi32(_mm512_xor_si512(b, c), 7);

// XORs `groups` runs of sixteen blocks (1 024 bytes each) of key stream,
// from block `counter`, into `out`. Register x[i] holds word i of sixteen
// consecutive blocks, one block per 32-bit lane; after the rounds a 16 × 16
// transpose puts each block's words together. The caller makes sure the
// block counter does not pass 2^32 - 1.
AVX512 static void xor_blocks16(unsigned char *out, const unsigned char *in, size_t groups,
                                const uint32_t words[16], uint32_t counter) {
    const __m512i lanes = _mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0);
    for (; groups > 0; groups--, counter += 16, in += 1024, out += 1024) {
        __m512i x[16];
        for (int i = 0; i < 16; i++) x[i] = _mm512_set1_epi32((int)words[i]);
        const __m512i counters = _mm512_add_epi32(_mm512_set1_epi32((int)counter), lanes);
        x[12] = counters;
        for (int round = 0; round < 10; round++) {
            QUARTER(x[0], x[4], x[8], x[12]) QUARTER(x[1], x[5], x[9], x[13])
            QUARTER(x[2], x[6], x[10], x[14]) QUARTER(x[3], x[7], x[11], x[15])
            QUARTER(x[0], x[5], x[10], x[15]) QUARTER(x[1], x[6], x[11], x[12])
            QUARTER(x[2], x[7], x[8], x[13]) QUARTER(x[3], x[4], x[9], x[14])
        }
        // The input words are broadcast again rather than kept: keeping them
        // needs sixteen more registers and the spills halved the speed.
        for (int i = 0; i < 16; i++) {
            x[i] = _mm512_add_epi32(x[i], i == 12 ? counters : _mm512_set1_epi32((int)words[i]));
        }
        // One block per register, each block's words together.
        casevault_transpose16(x);
        for (int b = 0; b < 16; b++) {
            const size_t at = 64 * (size_t)b;
            _mm512_storeu_si512((void *)(out + at), _mm512_xor_si512(x[b], _mm512_loadu_si512((const void *)(in + at))));
        }
    }
}

#else
static void xor_blocks16(unsigned char *out, const unsigned char *in, size_t groups, const uint32_t words[16], uint32_t counter) {
    (void)out; (void)in; (void)groups; (void)words; (void)counter;
}
#endif

// -1 until the first use decides.
static int accelerated = -1;
// How many callers have asked for libsodium's code (tests, nested or at once).
static int forced_portable = 0;

static int has_avx512f(void) { return casevault_cpu_vectors() == 2; }

int casevault_chacha20_accelerated(void) {
    return casevault_detect_once(&accelerated, has_avx512f) && !casevault_nested_on(&forced_portable);
}

void casevault_chacha20_force_portable(int on) { casevault_count_nested(&forced_portable, on); }

static uint32_t load32_le(const unsigned char *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

void casevault_chacha20_ietf_xor_ic(unsigned char *c, const unsigned char *m, unsigned long long mlen,
                                    const unsigned char n[12], uint32_t ic, const unsigned char k[32]) {
    unsigned long long done = 0;
    const unsigned long long blocks = (mlen + 63) / 64;
    // Only while the 32-bit block counter cannot wrap; a stream that would
    // wrap goes to libsodium whole, which refuses it as it always has.
    if (mlen >= 1024 && mlen <= crypto_stream_chacha20_ietf_MESSAGEBYTES_MAX && (unsigned long long)ic + blocks <= (1ULL << 32)
        && casevault_chacha20_accelerated()) {
        uint32_t words[16] = {0x61707865, 0x3320646e, 0x79622d32, 0x6b206574};
        for (int i = 0; i < 8; i++) words[4 + i] = load32_le(k + 4 * i);
        words[12] = ic;
        for (int i = 0; i < 3; i++) words[13 + i] = load32_le(n + 4 * i);
        const size_t groups = (size_t)(mlen / 1024);
        xor_blocks16(c, m, groups, words, ic);
        sodium_memzero(words, sizeof words);
        done = (unsigned long long)groups * 1024;
        ic += (uint32_t)(groups * 16);
    }
    if (done < mlen) crypto_stream_chacha20_ietf_xor_ic(c + done, m + done, mlen - done, n, ic, k);
}

// The Poly1305 of one chunk: casevault's (poly1305.c, AVX-512) where the
// AVX-512 ChaCha20 is in use, libsodium's otherwise; the same tag either way.
typedef struct {
    int own;
    union {
        casevault_poly1305_state own;
        crypto_onetimeauth_poly1305_state sodium;
    } u;
} mac_state;

static void mac_update(mac_state *poly, const unsigned char *m, unsigned long long length) {
    if (poly->own) casevault_poly1305_update(&poly->u.own, m, (size_t)length);
    else crypto_onetimeauth_poly1305_update(&poly->u.sodium, m, length);
}

// Poly1305 of a chunk, as libsodium's secretstream.c: the key from block 0,
// then the associated data and its padding (read first, before any output
// is written, as libsodium does: the caller's `ad` may lie in `out`)...
static void mac_begin(mac_state *poly, crypto_secretstream_xchacha20poly1305_state *state,
                      const unsigned char *ad, unsigned long long adlen) {
    unsigned char key[64];
    crypto_stream_chacha20_ietf(key, sizeof key, state->nonce, state->k);
    poly->own = casevault_chacha20_accelerated();
    if (poly->own) casevault_poly1305_init(&poly->u.own, key, 1);
    else crypto_onetimeauth_poly1305_init(&poly->u.sodium, key);
    sodium_memzero(key, sizeof key);
    mac_update(poly, ad, adlen);
    mac_update(poly, pad0, (0x10 - adlen) & 0xf);
}

// ...then the encrypted tag block, the ciphertext, its padding and the two
// lengths (64-bit little-endian); the state is wiped.
static void mac_end(unsigned char mac[crypto_onetimeauth_poly1305_BYTES], mac_state *poly,
                    unsigned long long adlen, const unsigned char block[64], const unsigned char *c, unsigned long long mlen) {
    unsigned char lengths[8];
    mac_update(poly, block, 64);
    mac_update(poly, c, mlen);
    mac_update(poly, pad0, (0x10 - 64 + mlen) & 0xf);
    for (int i = 0; i < 8; i++) lengths[i] = (unsigned char)(adlen >> (8 * i));
    mac_update(poly, lengths, 8);
    const unsigned long long total = 64 + mlen;
    for (int i = 0; i < 8; i++) lengths[i] = (unsigned char)(total >> (8 * i));
    mac_update(poly, lengths, 8);
    if (poly->own) casevault_poly1305_final(&poly->u.own, mac);
    else crypto_onetimeauth_poly1305_final(&poly->u.sodium, mac);
    sodium_memzero(poly, sizeof *poly);
}

// After each chunk: the MAC into the nonce, the counter up, and a rekey on
// a REKEY tag or when the counter wraps.
static void advance(crypto_secretstream_xchacha20poly1305_state *state, const unsigned char *mac, unsigned char tag) {
    for (size_t i = 0; i < INONCEBYTES; i++) STATE_INONCE(state)[i] ^= mac[i];
    sodium_increment(STATE_COUNTER(state), COUNTERBYTES);
    if ((tag & crypto_secretstream_xchacha20poly1305_TAG_REKEY) != 0
        || sodium_is_zero(STATE_COUNTER(state), COUNTERBYTES)) {
        crypto_secretstream_xchacha20poly1305_rekey(state);
    }
}

int casevault_secretstream_push(crypto_secretstream_xchacha20poly1305_state *state,
                                unsigned char *out, unsigned long long *outlen_p,
                                const unsigned char *m, unsigned long long mlen,
                                const unsigned char *ad, unsigned long long adlen, unsigned char tag) {
    if (outlen_p != NULL) *outlen_p = 0;
    // libsodium aborts on these; nothing is read or written here.
    if (mlen > crypto_secretstream_xchacha20poly1305_MESSAGEBYTES_MAX || (ad == NULL && adlen != 0)) return -1;
    mac_state poly;
    mac_begin(&poly, state, ad, adlen);
    unsigned char block[64] = {0};
    block[0] = tag;
    casevault_chacha20_ietf_xor_ic(block, block, sizeof block, state->nonce, 1, state->k);
    out[0] = block[0];
    unsigned char *c = out + 1;
    casevault_chacha20_ietf_xor_ic(c, m, mlen, state->nonce, 2, state->k);
    unsigned char *mac = c + mlen;
    mac_end(mac, &poly, adlen, block, c, mlen);
    sodium_memzero(block, sizeof block);
    advance(state, mac, tag);
    if (outlen_p != NULL) *outlen_p = crypto_secretstream_xchacha20poly1305_ABYTES + mlen;
    return 0;
}

int casevault_secretstream_pull(crypto_secretstream_xchacha20poly1305_state *state,
                                unsigned char *m, unsigned long long *mlen_p, unsigned char *tag_p,
                                const unsigned char *in, unsigned long long inlen,
                                const unsigned char *ad, unsigned long long adlen) {
    if (mlen_p != NULL) *mlen_p = 0;
    if (tag_p != NULL) *tag_p = 0xff;
    if (inlen < crypto_secretstream_xchacha20poly1305_ABYTES) return -1;
    const unsigned long long mlen = inlen - crypto_secretstream_xchacha20poly1305_ABYTES;
    if (mlen > crypto_secretstream_xchacha20poly1305_MESSAGEBYTES_MAX || (ad == NULL && adlen != 0)) return -1;
    mac_state poly;
    mac_begin(&poly, state, ad, adlen);
    unsigned char block[64] = {0};
    block[0] = in[0];
    casevault_chacha20_ietf_xor_ic(block, block, sizeof block, state->nonce, 1, state->k);
    const unsigned char tag = block[0];
    block[0] = in[0];
    const unsigned char *c = in + 1;
    unsigned char mac[crypto_onetimeauth_poly1305_BYTES];
    mac_end(mac, &poly, adlen, block, c, mlen);
    sodium_memzero(block, sizeof block);
    if (sodium_memcmp(mac, c + mlen, sizeof mac) != 0) {
        sodium_memzero(mac, sizeof mac);
        return -1;
    }
    casevault_chacha20_ietf_xor_ic(m, c, mlen, state->nonce, 2, state->k);
    advance(state, mac, tag);
    if (mlen_p != NULL) *mlen_p = mlen;
    if (tag_p != NULL) *tag_p = tag;
    return 0;
}
