// SHA-256 (FIPS 180-4) for CaseVaultCrypto: the Intel SHA extensions where
// the CPU has them, portable C otherwise. See CaseVaultCrypto/Hashing.swift
// and SECURITY.md §2 for why casevault does not use libsodium's here.
#ifndef CASEVAULT_SHA256_H
#define CASEVAULT_SHA256_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint32_t h[8];
    uint64_t length;      // bytes hashed so far
    uint8_t block[64];    // the pending partial block
    uint32_t used;        // bytes of it in use
} casevault_sha256_state;

void casevault_sha256_init(casevault_sha256_state *state);
void casevault_sha256_update(casevault_sha256_state *state, const uint8_t *bytes, size_t count);
/// `count` bytes of `pa` into `a` and `count` bytes of `pb` into `b`: the
/// same as two calls of casevault_sha256_update, but with SHA-NI the whole
/// blocks of the two messages run interleaved (two independent chains of
/// rounds), about 1.6 times the bytes a second of one message. `a` and `b`
/// must be different states.
void casevault_sha256_update2(casevault_sha256_state *a, const uint8_t *pa, casevault_sha256_state *b, const uint8_t *pb, size_t count);
/// Writes the 32-byte digest and wipes the state.
void casevault_sha256_final(casevault_sha256_state *state, uint8_t out[32]);
/// One call: init, update, final.
void casevault_sha256(uint8_t out[32], const uint8_t *bytes, size_t count);

/// 1 when the CPU has the SHA extensions (and SSSE3, SSE4.1) and they are
/// in use; 0 when the portable code runs.
int casevault_sha256_accelerated(void);
/// For tests: 1 forces the portable code until a matching call with 0
/// (calls nest and may overlap across threads).
void casevault_sha256_force_portable(int on);

#endif
