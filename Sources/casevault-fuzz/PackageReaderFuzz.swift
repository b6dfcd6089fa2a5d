// The fuzz target for `package open`'s reader (issue 10, item 6).
//
// Built with libFuzzer (scripts/fuzz.sh: `swift build --product casevault-fuzz
// -Xswiftc -DFUZZING -Xswiftc -sanitize=fuzzer,address`), `main` hands
// `fuzzPackageReader` to libFuzzer's driver. Built normally, it is a replay driver:
// `casevault-fuzz FILE…` runs each file through the same entry, which is how
// a crash the fuzzer found is replayed and kept as a regression.
//
// Each input is tried twice: (1) as a whole package file (magic, recipient,
// sealed key, secretstream), and (2) as the tar inside a package correctly
// sealed to the recipient, which a hostile sender who knows the recipient's
// public key fully controls. Either must end in a refusal or an extraction:
// never a crash, a hang, or a file outside the output folder; and a refusal
// leaves nothing behind.
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

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzPackageReader(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    extract(bytes)
    var sealed: [UInt8] = []
    if let sealer = try? SealedPackage.Sealer(to: keys.publicKey, output: { sealed.append(contentsOf: $0) }) {
        try? bytes.withUnsafeBytes { try sealer.write($0) }
        try? sealer.finish()
        extract(sealed)
    }
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
