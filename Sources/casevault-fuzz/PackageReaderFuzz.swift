// The fuzz target for `package open`'s and `import case`'s readers (issue 10, item 6).
//
// Built with libFuzzer (scripts/fuzz.sh: `swift build --product casevault-fuzz
// -Xswiftc -DFUZZING -Xswiftc -sanitize=fuzzer,address`), `main` hands
// `fuzzPackageReader` to libFuzzer's driver. Built normally, it is a replay driver:
// `casevault-fuzz FILE…` runs each file through the same entry, which is how
// a crash the fuzzer found is replayed and kept as a regression.
//
// Each input is tried five ways: (1) as a whole package file (magic,
// recipient, sealed key, secretstream), and (2) as the tar inside a package
// correctly sealed to the recipient, which a hostile sender who knows the
// recipient's public key fully controls; (3) as a whole case-transfer file
// and (4) as the tar inside one correctly sealed under each of its four
// magics (and under -v4 into a vault of format 2, which refuses it), each
// unpacked and its history parsed and verified; (5) as a transfer's
// `history.json` itself.
// Each must end in a refusal or a result: never a crash or a hang; a
// refused package leaves nothing behind.
@testable import CaseVault
import CaseVaultArchive
import CaseVaultCrypto
import Foundation

nonisolated(unsafe) private let keys = BoxKeyPair()  // one process, one fuzzing thread
private let root: String = {
    let path = NSTemporaryDirectory() + "casevault-fuzz-\(getpid())"
    try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}()
/// Small limits, so that each input stays fast.
private let limits = ArchiveLimits(maxEntries: 256, maxEntrySize: 1 << 20, maxTotalSize: 4 << 20, maxPathLength: 1_024)

private func extract(_ bytes: [UInt8]) {
    let folder = root + "/out"
    var offset = 0
    let input: (UnsafeMutableRawBufferPointer) throws -> Int = { buffer in
        let n = min(buffer.count, bytes.count - offset)
        if n > 0 { bytes.withUnsafeBytes { buffer.baseAddress!.copyMemory(from: $0.baseAddress! + offset, byteCount: n) } }
        offset += n
        return n
    }
    do {
        _ = try Vault.extractPackage(input: input, into: folder, keys: keys, recipientID: "fuzz", limits: limits)
        try FileManager.default.removeItem(atPath: folder)
    } catch {
        if FileManager.default.fileExists(atPath: folder) { fatalError("a refused package left \(folder)") }
    }
    let left = (try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []
    if !left.isEmpty { fatalError("leftovers after a package: \(left)") }
}

private func reader(_ bytes: [UInt8]) -> (UnsafeMutableRawBufferPointer) throws -> Int {
    var offset = 0
    return { buffer in
        let n = min(buffer.count, bytes.count - offset)
        if n > 0 { bytes.withUnsafeBytes { buffer.baseAddress!.copyMemory(from: $0.baseAddress! + offset, byteCount: n) } }
        offset += n
        return n
    }
}

private func sealed(_ bytes: [UInt8], magic: [UInt8]) -> [UInt8] {
    var out: [UInt8] = []
    guard let sealer = try? SealedPackage.Sealer(to: keys.publicKey, magic: magic, output: { out.append(contentsOf: $0) }) else { return [] }
    try? bytes.withUnsafeBytes { try sealer.write($0) }
    try? sealer.finish()
    return out
}

/// A history, parsed and verified as `import case` and the projection do.
private func verifyHistory(_ bytes: [UInt8]) {
    guard let history = try? CaseHistory(parsing: bytes) else { return }
    _ = try? history.verify(toVault: "00000000-0000-0000-0000-000000000000", toMember: "fuzz",
                            toBoxPublicKey: keys.publicKey.bytes.hexString)
}

/// A transfer file unpacked (objects read into memory, as far as the limits let them), then its history checked.
/// `naming`: the receiving vault's (format 3 takes every magic, format 2 refuses -v3 and -v4).
private func unpackTransfer(_ bytes: [UInt8], naming: ObjectNaming = .blake3) {
    guard let unpacked = try? Vault.unpackTransfer(input: reader(bytes), keys: keys, limits: limits, naming: naming, storeObject: { _, stream in
        var total: Int64 = 0
        try stream { total += Int64($0.count) }
        return total
    }) else { return }
    verifyHistory(unpacked.history)
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzPackageReader(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    extract(bytes)
    extract(sealed(bytes, magic: SealedPackage.magic))
    unpackTransfer(bytes)
    unpackTransfer(sealed(bytes, magic: SealedPackage.transferMagic))
    unpackTransfer(sealed(bytes, magic: SealedPackage.transferMagicV2))
    unpackTransfer(sealed(bytes, magic: SealedPackage.transferMagicV3))
    unpackTransfer(sealed(bytes, magic: SealedPackage.transferMagicV4))
    unpackTransfer(sealed(bytes, magic: SealedPackage.transferMagicV4), naming: .blake2b)
    verifyHistory(bytes)
    return 0
}

#if FUZZING
/// libFuzzer's driver, with this target's entry (SwiftPM gives every
/// executable its own `main`, so libFuzzer's is not used).
@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(_ argc: UnsafeMutablePointer<CInt>,
                         _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>>,
                         _ callback: @convention(c) (UnsafePointer<UInt8>, Int) -> CInt) -> CInt

@main struct FuzzDriver {
    static func main() {
        var argc = CommandLine.argc
        var argv = CommandLine.unsafeArgv
        exit(LLVMFuzzerRunDriver(&argc, &argv, fuzzPackageReader))
    }
}
#else
/// Replays inputs (a corpus, or a crash the fuzzer saved) through the entry.
@main struct ReplayDriver {
    static func main() throws {
        let paths = CommandLine.arguments.dropFirst()
        guard !paths.isEmpty else {
            print("usage: casevault-fuzz FILE…  (replays each through the package reader; scripts/fuzz.sh fuzzes it)")
            return
        }
        for path in paths {
            let data = try Data(contentsOf: URL(fileURLWithPath: path))
            _ = data.withUnsafeBytes { fuzzPackageReader($0.bindMemory(to: UInt8.self).baseAddress ?? UnsafePointer(bitPattern: 1)!, data.count) }
            print("ok \(path)")
        }
        try? FileManager.default.removeItem(atPath: root)
    }
}
#endif
