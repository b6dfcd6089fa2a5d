/// Errors of the crypto layer. Every authentication failure — wrong key,
/// wrong passphrase, wrong associated data, a flipped bit, a truncated,
/// reordered or extended stream — is the single case `authenticationFailed`,
/// so no caller (and no attacker watching a caller) learns which check failed.
public enum CryptoError: Error, Equatable, Sendable {
    case authenticationFailed
    /// An input had a length the primitive cannot take (a key, a nonce, a blob).
    case invalidLength(String)
    /// Key-derivation parameters outside what this build accepts.
    case unsupportedParameters(String)
    /// libsodium could not allocate memory (Argon2id with a large memory limit).
    case outOfMemory
    /// The input a stream was reading from reported an error.
    case inputFailed
}
