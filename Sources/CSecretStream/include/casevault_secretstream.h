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

/// 1 when the CPU and the kernel support AVX-512F and it is in use; 0 when
/// every block comes from libsodium.
int casevault_chacha20_accelerated(void);
/// For tests: 1 forces libsodium's ChaCha20 until a matching call with 0
/// (calls nest and may overlap across threads).
void casevault_chacha20_force_portable(int on);

#endif
