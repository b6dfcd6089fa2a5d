internal import CBlake3

/// BLAKE3 (hash mode, 32-byte output) over bytes that are not secret: the
/// name of every object a vault of format 3 or later stores (SECURITY.md
/// §2, §9). The C in `CBlake3` hashes sixteen 1 KiB chunks at a time on
/// AVX-512, eight on AVX2, and falls back to portable C elsewhere; every
/// path gives the bytes of the BLAKE3 team's test vectors (Blake3Tests),
/// at any update split.
///
/// Why not BLAKE2b, which names the objects of older vaults: BLAKE2b is one
/// long chain, so a 256 MiB filing waited 0.18 s on it, longer than
/// encrypting the same bytes; BLAKE3's tree lets sixteen chunks go through
/// one core at once (here, streamed from memory, about 3,400 MiB/s with
/// AVX-512 and 2,300 with AVX2; on 128 KiB pieces in the cache, as a
/// filing hands them over, about 7,500; `FastBlake2b` 1,420-1,500 either
/// way; `CASEVAULT_BENCH_ONLY=primitives casevault-bench` prints both). The portable code, about 870 MiB/s, is
/// slower than `FastBlake2b`: a CPU with neither AVX2 nor AVX-512 files
/// faster in a format-2 vault.
///
/// Its state is ordinary memory, not wiped: use it on ciphertext only.
public final class Blake3: ObjectHasher {
    private var state = casevault_blake3_state()
    private var finished = false

    public init() {
        casevault_blake3_init(&state)
    }

    public func update(_ bytes: UnsafeRawBufferPointer) {
        precondition(!finished, "BLAKE3 updated after finalize")
        guard let base = bytes.baseAddress, !bytes.isEmpty else { return }
        casevault_blake3_update(&state, base.assumingMemoryBound(to: UInt8.self), bytes.count)
    }

    public func update(_ bytes: some ReadableBytes) {
        bytes.withUnsafeBytes { update($0) }
    }

    public func finalize() -> [UInt8] {
        precondition(!finished, "BLAKE3 finalized twice")
        finished = true
        var out = [UInt8](repeating: 0, count: 32)
        out.withUnsafeMutableBufferPointer { casevault_blake3_final(&state, $0.baseAddress!) }
        return out
    }

    public static func hash(_ bytes: some ReadableBytes) -> [UInt8] {
        let hasher = Blake3()
        hasher.update(bytes)
        return hasher.finalize()
    }

    /// The code in use on this CPU: "avx512" (sixteen chunks at a time),
    /// "avx2" (eight) or "portable".
    public static var implementation: String {
        switch casevault_blake3_accelerated() {
        case 2: "avx512"
        case 1: "avx2"
        default: "portable"
        }
    }

    /// Runs `body` with the portable code forced, for the tests of every
    /// path and the benchmark; the bytes are the same, so other threads
    /// meanwhile are unaffected.
    public static func withPortableCode<T>(_ body: () throws -> T) rethrows -> T {
        casevault_blake3_force_portable(1)
        defer { casevault_blake3_force_portable(0) }
        return try body()
    }

    /// As `withPortableCode`, capping the code at AVX2.
    public static func withAVX2Code<T>(_ body: () throws -> T) rethrows -> T {
        casevault_blake3_force_avx2(1)
        defer { casevault_blake3_force_avx2(0) }
        return try body()
    }
}

/// A hash that names objects as their bytes stream past: `Blake3` for
/// vaults of format 3, `FastBlake2b` (32 bytes) before; libsodium's
/// `Blake2b` checks BLAKE2b names in `verify`.
public protocol ObjectHasher: AnyObject {
    func update(_ bytes: UnsafeRawBufferPointer)
    func finalize() -> [UInt8]
}

extension FastBlake2b: ObjectHasher {
    public func update(_ bytes: UnsafeRawBufferPointer) {
        update(raw: bytes)
    }
}

extension Blake2b: ObjectHasher {
    public func update(_ bytes: UnsafeRawBufferPointer) {
        feed(bytes)
    }

    /// The generic `update`, which the concrete one above would shadow.
    private func feed(_ bytes: some ReadableBytes) {
        update(bytes)
    }
}
