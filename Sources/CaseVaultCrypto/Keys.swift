internal import CSodium
import Glibc

/// An X25519 public key (32 bytes), used to seal secrets to a staff member,
/// a case tier or the recovery key.
public struct BoxPublicKey: Hashable, Sendable {
    public static let length = 32
    public let bytes: [UInt8]

    public init(bytes: [UInt8]) throws {
        guard bytes.count == Self.length else { throw CryptoError.invalidLength("X25519 public key") }
        self.bytes = bytes
    }
}

/// An X25519 key pair; the secret half lives in `SecureBytes`.
public final class BoxKeyPair {
    public static let secretKeyLength = 32
    public let publicKey: BoxPublicKey
    public let secretKey: SecureBytes

    /// A fresh random key pair.
    public init() {
        Sodium.ensureInitialized()
        var pk = [UInt8](repeating: 0, count: BoxPublicKey.length)
        let sk = SecureBytes(count: Self.secretKeyLength)
        let rc = pk.withUnsafeMutableBytes { p in
            sk.withUnsafeMutableBytes { s in
                crypto_box_keypair(p.baseAddress!.assumingMemoryBound(to: UInt8.self),
                                   s.baseAddress!.assumingMemoryBound(to: UInt8.self))
            }
        }
        precondition(rc == 0, "crypto_box_keypair failed")
        publicKey = try! BoxPublicKey(bytes: pk)
        secretKey = sk
    }

    /// Rebuilds the pair from its secret half (the public key is derived,
    /// never trusted from storage).
    public init(secretKey: SecureBytes) throws {
        Sodium.ensureInitialized()
        guard secretKey.count == Self.secretKeyLength else { throw CryptoError.invalidLength("X25519 secret key") }
        var pk = [UInt8](repeating: 0, count: BoxPublicKey.length)
        let rc = pk.withUnsafeMutableBytes { p in
            secretKey.withUnsafeBytes { s in
                crypto_scalarmult_base(p.baseAddress!.assumingMemoryBound(to: UInt8.self),
                                       s.baseAddress!.assumingMemoryBound(to: UInt8.self))
            }
        }
        guard rc == 0 else { throw CryptoError.invalidLength("X25519 secret key") }
        publicKey = try BoxPublicKey(bytes: pk)
        self.secretKey = secretKey
    }
}

/// An Ed25519 public key (32 bytes).
public struct SigningPublicKey: Hashable, Sendable {
    public static let length = 32
    public static let signatureLength = 64
    public let bytes: [UInt8]

    public init(bytes: [UInt8]) throws {
        guard bytes.count == Self.length else { throw CryptoError.invalidLength("Ed25519 public key") }
        self.bytes = bytes
    }

    /// Verifies a detached Ed25519 signature.
    public func isValidSignature(_ signature: [UInt8], for message: some ReadableBytes) -> Bool {
        Sodium.ensureInitialized()
        guard signature.count == Self.signatureLength else { return false }
        return message.withUnsafeBytes { m in
            signature.withUnsafeBytes { s in
                bytes.withUnsafeBytes { k in
                    crypto_sign_verify_detached(s.baseAddress!.assumingMemoryBound(to: UInt8.self),
                                                m.baseAddress?.assumingMemoryBound(to: UInt8.self), UInt64(m.count),
                                                k.baseAddress!.assumingMemoryBound(to: UInt8.self)) == 0
                }
            }
        }
    }
}

/// An Ed25519 key pair. libsodium's 64-byte secret key is the 32-byte seed
/// followed by the public key; we store and wipe all 64 bytes.
public final class SigningKeyPair {
    public static let secretKeyLength = 64
    public let publicKey: SigningPublicKey
    public let secretKey: SecureBytes

    public init() {
        Sodium.ensureInitialized()
        var pk = [UInt8](repeating: 0, count: SigningPublicKey.length)
        let sk = SecureBytes(count: Self.secretKeyLength)
        let rc = pk.withUnsafeMutableBytes { p in
            sk.withUnsafeMutableBytes { s in
                crypto_sign_keypair(p.baseAddress!.assumingMemoryBound(to: UInt8.self),
                                    s.baseAddress!.assumingMemoryBound(to: UInt8.self))
            }
        }
        precondition(rc == 0, "crypto_sign_keypair failed")
        publicKey = try! SigningPublicKey(bytes: pk)
        secretKey = sk
    }

    /// Rebuilds the pair from its 64-byte secret key. The public half is
    /// re-derived from the seed, so a secret key whose embedded public key
    /// was altered is rejected.
    public init(secretKey: SecureBytes) throws {
        Sodium.ensureInitialized()
        guard secretKey.count == Self.secretKeyLength else { throw CryptoError.invalidLength("Ed25519 secret key") }
        var derived = [UInt8](repeating: 0, count: SigningPublicKey.length)
        let scratch = SecureBytes(count: Self.secretKeyLength)
        let rc = derived.withUnsafeMutableBytes { p in
            scratch.withUnsafeMutableBytes { s in
                secretKey.withUnsafeBytes { seed in
                    crypto_sign_seed_keypair(p.baseAddress!.assumingMemoryBound(to: UInt8.self),
                                             s.baseAddress!.assumingMemoryBound(to: UInt8.self),
                                             seed.baseAddress!.assumingMemoryBound(to: UInt8.self))
                }
            }
        }
        guard rc == 0, secretKey.isEqual(to: scratch) else { throw CryptoError.authenticationFailed }
        publicKey = try SigningPublicKey(bytes: derived)
        self.secretKey = secretKey
    }

    /// A detached Ed25519 signature of `message`.
    public func sign(_ message: some ReadableBytes) -> [UInt8] {
        var signature = [UInt8](repeating: 0, count: SigningPublicKey.signatureLength)
        let rc = signature.withUnsafeMutableBytes { sig in
            message.withUnsafeBytes { m in
                secretKey.withUnsafeBytes { s in
                    crypto_sign_detached(sig.baseAddress!.assumingMemoryBound(to: UInt8.self), nil,
                                         m.baseAddress?.assumingMemoryBound(to: UInt8.self), UInt64(m.count),
                                         s.baseAddress!.assumingMemoryBound(to: UInt8.self))
                }
            }
        }
        precondition(rc == 0, "crypto_sign_detached failed")
        return signature
    }
}

/// How many sealed keys (`SealedBox.open`: a tier key, a file key, a
/// package or transfer key) the calling thread has tried to open: what a
/// test counts to show that a workflow (an auditor's) unseals nothing.
/// Per thread, so tests running at once do not see each other's.
public enum UnsealCount {
    private static let key: pthread_key_t = {
        var key = pthread_key_t()
        precondition(pthread_key_create(&key, nil) == 0, "pthread_key_create failed")
        return key
    }()

    public static var onThisThread: Int { Int(bitPattern: pthread_getspecific(key)) }

    static func increment() { _ = pthread_setspecific(key, UnsafeRawPointer(bitPattern: onThisThread + 1)) }
}

/// Anonymous public-key encryption (`crypto_box_seal`): an ephemeral X25519
/// key, XSalsa20-Poly1305, 48 bytes of overhead. Used for every grant: a
/// case tier's secret key sealed to a holder, a file key sealed to a tier.
public enum SealedBox {
    public static let overhead = 48

    public static func seal(_ message: SecureBytes, to recipient: BoxPublicKey) -> [UInt8] {
        Sodium.ensureInitialized()
        var out = [UInt8](repeating: 0, count: message.count + overhead)
        let rc = out.withUnsafeMutableBytes { o in
            message.withUnsafeBytes { m in
                recipient.bytes.withUnsafeBytes { k in
                    crypto_box_seal(o.baseAddress!.assumingMemoryBound(to: UInt8.self),
                                    m.baseAddress!.assumingMemoryBound(to: UInt8.self), UInt64(m.count),
                                    k.baseAddress!.assumingMemoryBound(to: UInt8.self))
                }
            }
        }
        precondition(rc == 0, "crypto_box_seal failed")
        return out
    }

    public static func open(_ sealed: [UInt8], with keyPair: BoxKeyPair) throws -> SecureBytes {
        Sodium.ensureInitialized()
        UnsealCount.increment()
        guard sealed.count >= overhead else { throw CryptoError.authenticationFailed }
        let out = SecureBytes(count: sealed.count - overhead)
        let rc = out.withUnsafeMutableBytes { o in
            sealed.withUnsafeBytes { c in
                keyPair.publicKey.bytes.withUnsafeBytes { p in
                    keyPair.secretKey.withUnsafeBytes { s in
                        crypto_box_seal_open(o.baseAddress!.assumingMemoryBound(to: UInt8.self),
                                             c.baseAddress!.assumingMemoryBound(to: UInt8.self), UInt64(c.count),
                                             p.baseAddress!.assumingMemoryBound(to: UInt8.self),
                                             s.baseAddress!.assumingMemoryBound(to: UInt8.self))
                    }
                }
            }
        }
        guard rc == 0 else { throw CryptoError.authenticationFailed }
        return out
    }
}

/// Secret-key authenticated encryption (`crypto_secretbox_easy`:
/// XSalsa20-Poly1305, 24-byte nonce, 16-byte tag before the ciphertext).
public enum SecretBox {
    public static let keyLength = 32
    public static let nonceLength = 24
    public static let macLength = 16

    public static func seal(_ message: SecureBytes, key: SecureBytes, nonce: [UInt8]) throws -> [UInt8] {
        Sodium.ensureInitialized()
        guard key.count == keyLength else { throw CryptoError.invalidLength("secretbox key") }
        guard nonce.count == nonceLength else { throw CryptoError.invalidLength("secretbox nonce") }
        var out = [UInt8](repeating: 0, count: message.count + macLength)
        let rc = out.withUnsafeMutableBytes { o in
            message.withUnsafeBytes { m in
                nonce.withUnsafeBytes { n in
                    key.withUnsafeBytes { k in
                        crypto_secretbox_easy(o.baseAddress!.assumingMemoryBound(to: UInt8.self),
                                              m.baseAddress!.assumingMemoryBound(to: UInt8.self), UInt64(m.count),
                                              n.baseAddress!.assumingMemoryBound(to: UInt8.self),
                                              k.baseAddress!.assumingMemoryBound(to: UInt8.self))
                    }
                }
            }
        }
        precondition(rc == 0, "crypto_secretbox_easy failed")
        return out
    }

    public static func open(_ sealed: some ReadableBytes, key: SecureBytes, nonce: [UInt8]) throws -> SecureBytes {
        Sodium.ensureInitialized()
        guard key.count == keyLength else { throw CryptoError.invalidLength("secretbox key") }
        guard nonce.count == nonceLength else { throw CryptoError.authenticationFailed }
        return try sealed.withUnsafeBytes { c in
            guard c.count >= macLength else { throw CryptoError.authenticationFailed }
            let out = SecureBytes(count: c.count - macLength)
            let rc = out.withUnsafeMutableBytes { o in
                nonce.withUnsafeBytes { n in
                    key.withUnsafeBytes { k in
                        crypto_secretbox_open_easy(o.baseAddress!.assumingMemoryBound(to: UInt8.self),
                                                   c.baseAddress!.assumingMemoryBound(to: UInt8.self), UInt64(c.count),
                                                   n.baseAddress!.assumingMemoryBound(to: UInt8.self),
                                                   k.baseAddress!.assumingMemoryBound(to: UInt8.self))
                    }
                }
            }
            guard rc == 0 else { throw CryptoError.authenticationFailed }
            return out
        }
    }
}
