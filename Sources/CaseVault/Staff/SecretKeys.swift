internal import CaseVaultCrypto

/// Whatever opens boxes sealed to a public key: a key pair in this
/// process's wiped memory, or a member's keys held by the agent.
protocol Unsealer: AnyObject {
    var boxPublicKey: BoxPublicKey { get }
    /// Opens a `crypto_box_seal` box; throws CryptoError.authenticationFailed
    /// when it was not sealed to this key or was altered.
    func unseal(_ sealed: [UInt8]) throws -> SecureBytes
}

extension BoxKeyPair: Unsealer {
    var boxPublicKey: BoxPublicKey { publicKey }
    func unseal(_ sealed: [UInt8]) throws -> SecureBytes { try SealedBox.open(sealed, with: self) }
}

/// A member's two secret keys, used but never handed out: the box key
/// opens what is sealed to the member, the signing key signs their events
/// and checkpoints.
protocol SecretKeys: Unsealer {
    var signingPublicKey: SigningPublicKey { get }
    func sign(_ message: [UInt8]) throws -> [UInt8]
    /// Each message's signature, in order (an agent signs them in one
    /// request).
    func signAll(_ messages: [[UInt8]]) throws -> [[UInt8]]
}

extension SecretKeys {
    func signAll(_ messages: [[UInt8]]) throws -> [[UInt8]] { try messages.map(sign) }
}

/// The keys unwrapped in this process (SECURITY.md §4, §7).
final class LocalKeys: SecretKeys {
    let box: BoxKeyPair
    let signing: SigningKeyPair

    init(box: BoxKeyPair, signing: SigningKeyPair) {
        self.box = box
        self.signing = signing
    }

    var boxPublicKey: BoxPublicKey { box.publicKey }
    var signingPublicKey: SigningPublicKey { signing.publicKey }
    func unseal(_ sealed: [UInt8]) throws -> SecureBytes { try SealedBox.open(sealed, with: box) }
    func sign(_ message: [UInt8]) throws -> [UInt8] { signing.sign(message) }
}
