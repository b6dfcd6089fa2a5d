// The chunk functions of libsodium's crypto_secretstream_xchacha20poly1305,
// with ChaCha20 on AVX-512 where the CPU has it, for CaseVaultCrypto. Same
// state, same bytes: see CaseVaultCrypto/SecretStream.swift and SECURITY.md
// §2 for why casevault does not call libsodium's push and pull directly.
#ifndef CASEVAULT_SECRETSTREAM_H
#define CASEVAULT_SECRETSTREAM_H

#include <stdint.h>
#include <sodium.h>

/// crypto_secretstream_xchacha20poly1305_push with the same arguments, state
/// and output. `out` must not overlap `m` (`ad` may lie in `out`: it is read
/// first, as libsodium reads it). Returns 0, or -1, with nothing written, for
/// a message longer than crypto_secretstream_xchacha20poly1305_MESSAGEBYTES_MAX
/// or a NULL `ad` with a non-zero `adlen` (where libsodium aborts).
int casevault_secretstream_push(crypto_secretstream_xchacha20poly1305_state *state,
                                unsigned char *out, unsigned long long *outlen_p,
                                const unsigned char *m, unsigned long long mlen,
                                const unsigned char *ad, unsigned long long adlen, unsigned char tag);

/// crypto_secretstream_xchacha20poly1305_pull with the same arguments, state
/// and output. `m` must not overlap `in`. Returns 0, or -1 when the chunk
/// does not authenticate (then nothing is written to `m` and the state is
/// unchanged), is too short or too long, or `ad` is NULL with a non-zero
/// `adlen`.
int casevault_secretstream_pull(crypto_secretstream_xchacha20poly1305_state *state,
                                unsigned char *m, unsigned long long *mlen_p, unsigned char *tag_p,
                                const unsigned char *in, unsigned long long inlen,
                                const unsigned char *ad, unsigned long long adlen);

/// crypto_stream_chacha20_ietf_xor_ic: `c` = `m` XOR the ChaCha20 (RFC 8439)
/// key stream from block `ic`. `c` may equal `m` but not overlap it otherwise.
void casevault_chacha20_ietf_xor_ic(unsigned char *c, const unsigned char *m, unsigned long long mlen,
                                    const unsigned char n[12], uint32_t ic, const unsigned char k[32]);

/// Poly1305 (RFC 8439 §2.5), incremental, for the chunks above: the state
/// of one message. Opaque to callers; wiped by casevault_poly1305_final.
typedef struct {
    uint32_t r[5], h[5], pad[4];
    uint32_t powers[16][5];      // r^1 .. r^16, made at the first vector run
    unsigned char buffer[16];    // a partial block
    size_t leftover;             // bytes of it in use
    int vectors;                 // 1: runs of 32 blocks or more go sixteen at a time on AVX-512
    int powers_ready;
} casevault_poly1305_state;

/// Starts a message under the 32-byte one-time key. `vectors` 1 allows the
/// AVX-512 code where the CPU has it; 0 keeps every block in plain C.
void casevault_poly1305_init(casevault_poly1305_state *state, const unsigned char key[32], int vectors);
/// Adds `length` bytes; any split of a message gives the same tag.
void casevault_poly1305_update(casevault_poly1305_state *state, const unsigned char *m, size_t length);
/// Writes the 16-byte tag and wipes the state.
void casevault_poly1305_final(casevault_poly1305_state *state, unsigned char mac[16]);

/// 1 when the CPU and the kernel support AVX-512F and it is in use; 0 when
/// every block comes from libsodium.
int casevault_chacha20_accelerated(void);
/// For tests: 1 forces libsodium's ChaCha20 until a matching call with 0
/// (calls nest and may overlap across threads).
void casevault_chacha20_force_portable(int on);

#endif
