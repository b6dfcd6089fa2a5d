// BLAKE3 (https://github.com/BLAKE3-team/BLAKE3-specs), hash mode with a
// 32-byte output, for CaseVaultCrypto: the name of every object a vault of
// format 3 or later stores (SECURITY.md §2). Sixteen chunks at a time on
// AVX-512, eight on AVX2, where the CPU has them; portable C everywhere else.
// Same bytes on every path.
#ifndef CASEVAULT_BLAKE3_H
#define CASEVAULT_BLAKE3_H

#include <stddef.h>
#include <stdint.h>

/// A hash in progress. Plain data: copy it to fork a hash, zero it or drop
/// it when done (it holds no secret: object names hash ciphertext).
typedef struct {
    /// Chaining values of the complete subtrees left of `chunk`, largest
    /// first: one per 1 bit of the chunk count (at most 54: a message of
    /// 2^64 bytes has 2^54 chunks), and, until more input comes, the two
    /// halves of a subtree that ended the input, unmerged.
    uint32_t stack[56][8];
    uint8_t stack_len;
    /// The last chunk seen, not compressed until more input shows it is not
    /// the last of the message (the last chunk of a one-chunk message is the
    /// root); empty after an input that ended with a whole subtree.
    uint8_t chunk[1024];
    size_t chunk_len;
    /// Index of `chunk` in the message.
    uint64_t chunk_counter;
} casevault_blake3_state;

void casevault_blake3_init(casevault_blake3_state *state);
/// Any lengths, in any pieces: the hash depends only on the bytes.
void casevault_blake3_update(casevault_blake3_state *state, const uint8_t *in, size_t len);
/// The 32-byte hash of everything given so far; `state` is left as it was.
void casevault_blake3_final(const casevault_blake3_state *state, uint8_t out[32]);

/// The vector code in use: 2 for AVX-512F (sixteen chunks at a time), 1 for
/// AVX2 (eight), 0 when every block goes through the portable code. Chosen
/// from CPUID and XCR0 at the first call.
int casevault_blake3_accelerated(void);
/// For tests and the benchmark: 1 forces the portable code until a matching
/// call with 0 (calls nest and may overlap across threads).
void casevault_blake3_force_portable(int on);
/// The same, capping the code at AVX2 (a CPU with AVX-512 then runs the AVX2 path).
void casevault_blake3_force_avx2(int on);

/// For tests: the chaining values of the two halves of the subtree of
/// sixteen whole chunks `in` (16 KiB) whose first chunk has index `counter`
/// (a multiple of 16 in a hash; any value here), as 64 bytes: what the hash takes from each such
/// subtree. Lets a test reach chunk counters past 2^32 without 4 TiB of input.
void casevault_blake3_subtree16(const uint8_t *in, uint64_t counter, uint8_t out[64]);

#endif
