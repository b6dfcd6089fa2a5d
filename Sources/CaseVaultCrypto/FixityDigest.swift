// The digests a BagIt manifest may name (RFC 8493 §2.4), for checking the
// fixity of bags casevault did not write. SHA-256 and SHA-512 are
// libsodium's; MD5, SHA-1 and SHA-224 are written here from RFC 1321 and
// FIPS 180-4 because libsodium has none of them. They are used only to
// compare a file with the digest its manifest states, never to sign, seal
// or name anything of casevault's: MD5 and SHA-1 are broken for those.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A manifest's algorithm, by the name BagIt gives it in the file name
/// (`manifest-md5.txt`).
public enum FixityDigest: String, CaseIterable, Sendable {
    case md5, sha1, sha224, sha256, sha512

    /// The digest's length in bytes.
    public var length: Int {
        switch self {
        case .md5: 16
        case .sha1: 20
        case .sha224: 28
        case .sha256: 32
        case .sha512: 64
        }
    }

    public func hash(_ bytes: [UInt8]) -> [UInt8] {
        switch self {
        case .md5: MD5.hash(bytes)
        case .sha1: SHA1.hash(bytes)
        case .sha224: SHA256Core.hash(bytes, initial: SHA256Core.sha224Initial, words: 7)
        case .sha256: SHA256.hash(bytes)
        case .sha512: SHA512.hash(bytes)
        }
    }
}

/// The message padding of MD5 and the SHA-1/SHA-2 32-bit family: 0x80,
/// zeros to 56 mod 64, then the length in bits as 64 bits.
private func padded(_ bytes: [UInt8], bigEndianLength: Bool) -> [UInt8] {
    var message = bytes
    let bits = UInt64(bytes.count) &* 8
    message.append(0x80)
    while message.count % 64 != 56 { message.append(0) }
    for i in 0..<8 {
        let shift = bigEndianLength ? UInt64(56 - 8 * i) : UInt64(8 * i)
        message.append(UInt8(truncatingIfNeeded: bits >> shift))
    }
    return message
}

private func rotateLeft(_ x: UInt32, _ n: UInt32) -> UInt32 { (x << n) | (x >> (32 - n)) }

/// RFC 1321.
enum MD5 {
    static let shifts: [UInt32] = [7, 12, 17, 22, 5, 9, 14, 20, 4, 11, 16, 23, 6, 10, 15, 21]
    /// K[i] = floor(|sin(i + 1)| × 2^32), as RFC 1321 §3.4 defines the table.
    static let constants: [UInt32] = (0..<64).map { i in UInt32(truncatingIfNeeded: Int64(abs(sin(Double(i + 1))) * 4_294_967_296.0)) }

    static func hash(_ bytes: [UInt8]) -> [UInt8] {
        var state: (UInt32, UInt32, UInt32, UInt32) = (0x6745_2301, 0xefcd_ab89, 0x98ba_dcfe, 0x1032_5476)
        let message = padded(bytes, bigEndianLength: false)
        var m = [UInt32](repeating: 0, count: 16)
        for block in stride(from: 0, to: message.count, by: 64) {
            for j in 0..<16 {
                let o = block + 4 * j
                m[j] = UInt32(message[o]) | UInt32(message[o + 1]) << 8 | UInt32(message[o + 2]) << 16 | UInt32(message[o + 3]) << 24
            }
            var (a, b, c, d) = state
            for i in 0..<64 {
                var f: UInt32, g: Int
                switch i / 16 {
                case 0: f = (b & c) | (~b & d); g = i
                case 1: f = (d & b) | (~d & c); g = (5 * i + 1) % 16
                case 2: f = b ^ c ^ d; g = (3 * i + 5) % 16
                default: f = c ^ (b | ~d); g = (7 * i) % 16
                }
                f = f &+ a &+ constants[i] &+ m[g]
                a = d; d = c; c = b
                b = b &+ rotateLeft(f, shifts[(i / 16) * 4 + i % 4])
            }
            state = (state.0 &+ a, state.1 &+ b, state.2 &+ c, state.3 &+ d)
        }
        return [state.0, state.1, state.2, state.3].flatMap { w in (0..<4).map { UInt8(truncatingIfNeeded: w >> (8 * $0)) } }
    }
}

/// FIPS 180-4 §6.1.
enum SHA1 {
    static func hash(_ bytes: [UInt8]) -> [UInt8] {
        var h: [UInt32] = [0x6745_2301, 0xefcd_ab89, 0x98ba_dcfe, 0x1032_5476, 0xc3d2_e1f0]
        let message = padded(bytes, bigEndianLength: true)
        var w = [UInt32](repeating: 0, count: 80)
        for block in stride(from: 0, to: message.count, by: 64) {
            for t in 0..<16 { w[t] = bigEndianWord(message, block + 4 * t) }
            for t in 16..<80 { w[t] = rotateLeft(w[t - 3] ^ w[t - 8] ^ w[t - 14] ^ w[t - 16], 1) }
            var (a, b, c, d, e) = (h[0], h[1], h[2], h[3], h[4])
            for t in 0..<80 {
                let f: UInt32, k: UInt32
                switch t / 20 {
                case 0: f = (b & c) | (~b & d); k = 0x5a82_7999
                case 1: f = b ^ c ^ d; k = 0x6ed9_eba1
                case 2: f = (b & c) | (b & d) | (c & d); k = 0x8f1b_bcdc
                default: f = b ^ c ^ d; k = 0xca62_c1d6
                }
                let temp = rotateLeft(a, 5) &+ f &+ e &+ k &+ w[t]
                e = d; d = c; c = rotateLeft(b, 30); b = a; a = temp
            }
            h[0] &+= a; h[1] &+= b; h[2] &+= c; h[3] &+= d; h[4] &+= e
        }
        return h.flatMap(bigEndianBytes)
    }
}

/// FIPS 180-4 §6.2, with the initial value as a parameter: SHA-224 is
/// SHA-256 from another initial value, cut to seven words (§6.3).
enum SHA256Core {
    static let sha256Initial: [UInt32] = [0x6a09_e667, 0xbb67_ae85, 0x3c6e_f372, 0xa54f_f53a, 0x510e_527f, 0x9b05_688c, 0x1f83_d9ab, 0x5be0_cd19]
    static let sha224Initial: [UInt32] = [0xc105_9ed8, 0x367c_d507, 0x3070_dd17, 0xf70e_5939, 0xffc0_0b31, 0x6858_1511, 0x64f9_8fa7, 0xbefa_4fa4]
    /// K[i]: the first 32 bits of the fractional parts of the cube roots
    /// of the first 64 primes (§4.2.2), computed; the known-answer tests
    /// and the comparison with libsodium's SHA-256 check them.
    static let constants: [UInt32] = {
        var primes: [Int] = []
        var n = 2
        while primes.count < 64 {
            if primes.allSatisfy({ n % $0 != 0 }) { primes.append(n) }
            n += 1
        }
        return primes.map { p in
            let root = cbrt(Double(p))
            return UInt32(truncatingIfNeeded: Int64((root - root.rounded(.down)) * 4_294_967_296.0))
        }
    }()

    static func hash(_ bytes: [UInt8], initial: [UInt32], words: Int) -> [UInt8] {
        var h = initial
        let message = padded(bytes, bigEndianLength: true)
        var w = [UInt32](repeating: 0, count: 64)
        func rotateRight(_ x: UInt32, _ n: UInt32) -> UInt32 { (x >> n) | (x << (32 - n)) }
        for block in stride(from: 0, to: message.count, by: 64) {
            for t in 0..<16 { w[t] = bigEndianWord(message, block + 4 * t) }
            for t in 16..<64 {
                let s0 = rotateRight(w[t - 15], 7) ^ rotateRight(w[t - 15], 18) ^ (w[t - 15] >> 3)
                let s1 = rotateRight(w[t - 2], 17) ^ rotateRight(w[t - 2], 19) ^ (w[t - 2] >> 10)
                w[t] = w[t - 16] &+ s0 &+ w[t - 7] &+ s1
            }
            var (a, b, c, d, e, f, g, hh) = (h[0], h[1], h[2], h[3], h[4], h[5], h[6], h[7])
            for t in 0..<64 {
                let t1 = hh &+ (rotateRight(e, 6) ^ rotateRight(e, 11) ^ rotateRight(e, 25)) &+ ((e & f) ^ (~e & g)) &+ constants[t] &+ w[t]
                let t2 = (rotateRight(a, 2) ^ rotateRight(a, 13) ^ rotateRight(a, 22)) &+ ((a & b) ^ (a & c) ^ (b & c))
                hh = g; g = f; f = e; e = d &+ t1; d = c; c = b; b = a; a = t1 &+ t2
            }
            h[0] &+= a; h[1] &+= b; h[2] &+= c; h[3] &+= d; h[4] &+= e; h[5] &+= f; h[6] &+= g; h[7] &+= hh
        }
        return h.prefix(words).flatMap(bigEndianBytes)
    }
}

private func bigEndianWord(_ bytes: [UInt8], _ o: Int) -> UInt32 {
    UInt32(bytes[o]) << 24 | UInt32(bytes[o + 1]) << 16 | UInt32(bytes[o + 2]) << 8 | UInt32(bytes[o + 3])
}

private func bigEndianBytes(_ w: UInt32) -> [UInt8] { [UInt8(w >> 24), UInt8(truncatingIfNeeded: w >> 16), UInt8(truncatingIfNeeded: w >> 8), UInt8(truncatingIfNeeded: w)] }
