// casevault-bench: `make bench`. Measures, in one run on this machine:
//   - raw secretstream (in memory, 64 KiB chunks): libsodium's, the
//     baseline of the targets (issue 3), and as casevault runs it
//     (CSecretStream: libsodium's construction, ChaCha20 and Poly1305 on
//     AVX-512 where the CPU has it) for context;
//   - `casevault file` and `casevault get -o` on a 256 MiB file, end to end
//     through the release binary (process start, unlock, catalog, fsync);
//   - peak resident memory of file and get on a 1 GiB file;
//   - the event log at scale (LogScale.swift): verify of 100,000+ events
//     beside raw Ed25519, and file/get of a small form at 1,000 and 100,000
//     events.
// CASEVAULT_BENCH_ONLY=throughput, =log, =cases, =rotation, =export or =audit runs one part;
// =primitives prints the in-memory rates of secretstream, BLAKE2b and SHA-256 as JSON;
// =versions (VersionScale.swift, not part of a plain run: it seeds a vault of
// a million versions) the scale of a national programme.
// Prints medians of several runs and the ratios to the baseline. The
// machine is shared and noisy: compare ratios, not absolute figures.
import CaseVault
import CaseVaultCrypto
import Foundation
#if canImport(Glibc)
import Glibc
#endif

let arguments = CommandLine.arguments
guard arguments.count >= 2 else {
    FileHandle.standardError.write(Data("usage: casevault-bench PATH-TO-CASEVAULT [runs]\n".utf8))
    exit(64)
}
let binary: String = CommandLine.arguments[1]
let runs = arguments.count > 2 ? Int(arguments[2]) ?? 5 : 5
let mib: Int = 1 << 20
let benchSize: Int = 256 * mib
let bigSize: Int = 1024 * mib

func median(_ values: [Double]) -> Double {
    let sorted = values.sorted()
    return sorted.count % 2 == 1 ? sorted[sorted.count / 2] : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
}

func now() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}

/// The program and arguments that run casevault with `args`, on CPU `cpu`
/// alone when one is given (util-linux's taskset).
func commandLine(_ args: [String], cpu: Int?) -> (path: String, argv: [String]) {
    guard let cpu else { return (binary, [binary] + args) }
    return ("/usr/bin/taskset", ["taskset", "-c", String(cpu), binary] + args)
}

/// Runs the binary, returns (seconds, exit status, the child's resource use).
func spawnUsage(_ args: [String], environment: [String: String], stdout: String = "/dev/null", cpu: Int? = nil) -> (Double, Int32, rusage) {
    var pid: pid_t = 0
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    posix_spawn_file_actions_addopen(&actions, 1, stdout, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
    posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
    let command = commandLine(args, cpu: cpu)
    let argv = command.argv.map { strdup($0) } + [nil]
    let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
    defer { (argv + envp).forEach { free($0) } }
    let start = now()
    guard posix_spawn(&pid, command.path, &actions, nil, argv, envp) == 0 else { fatalError("cannot start \(command.path)") }
    var status: Int32 = 0
    var usage = rusage()
    wait4(pid, &status, 0, &usage)
    let elapsed = now() - start
    posix_spawn_file_actions_destroy(&actions)
    return (elapsed, (status >> 8) & 0xff, usage)
}

/// Runs the binary, returns (seconds, exit status, peak RSS in MiB).
func spawn(_ args: [String], environment: [String: String], stdout: String = "/dev/null") -> (Double, Int32, Double) {
    let (elapsed, status, usage) = spawnUsage(args, environment: environment, stdout: stdout)
    return (elapsed, status, Double(usage.ru_maxrss) / 1024)
}

/// CPU seconds (user and system) a child used.
func cpuSeconds(_ usage: rusage) -> Double {
    Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6
}

/// Starts every command at once (each on its CPU of `cpus`, when given)
/// and returns the seconds until the last ends.
@discardableResult
func spawnTogether(_ commands: [[String]], environment: [String: String], cpus: [Int]? = nil, mayFail: Bool = false) -> Double? {
    let start = now()
    var pids: [pid_t] = []
    for (index, args) in commands.enumerated() {
        var pid: pid_t = 0
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
        let command = commandLine(args, cpu: cpus.map { $0[index % $0.count] })
        let argv = command.argv.map { strdup($0) } + [nil]
        let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        guard posix_spawn(&pid, command.path, &actions, nil, argv, envp) == 0 else { fatalError("cannot start \(command.path)") }
        (argv + envp).forEach { free($0) }
        posix_spawn_file_actions_destroy(&actions)
        pids.append(pid)
    }
    var failed = false
    for pid in pids {
        var status: Int32 = 0
        waitpid(pid, &status, 0)
        failed = failed || (status >> 8) & 0xff != 0
    }
    if failed {
        if mayFail { return nil }
        fatalError("a concurrent filing failed")
    }
    return now() - start
}

func fillFile(_ path: String, size: Int) {
    let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
    var block = [UInt8](repeating: 0, count: 4 * mib)
    var state: UInt64 = 0x9E37_79B9_7F4A_7C15
    var written = 0
    while written < size {
        for i in stride(from: 0, to: block.count, by: 8) {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            withUnsafeBytes(of: state) { for j in 0..<8 { block[i + j] = $0[j] } }
        }
        let n = min(block.count, size - written)
        _ = block.withUnsafeBytes { write(fd, $0.baseAddress, n) }
        written += n
    }
    close(fd)
}

// 1. Raw secretstream, in memory: each 64 KiB chunk is pushed into one
// buffer and pulled out of it again, timing push and pull separately. Two
// small buffers only: this process must stay small, because Linux keeps
// ru_maxrss across exec and a spawned child starts inside our memory.
func rawSecretstream() -> (encrypt: Double, decrypt: Double) {
    let key = SecretStream.generateKey()
    let encryptor = try! SecretStreamEncryptor(key: key)
    let decryptor = try! SecretStreamDecryptor(key: key, header: encryptor.header)
    let plain = [UInt8](repeating: 0x5a, count: SecretStream.chunkSize)
    var cipher = [UInt8](repeating: 0, count: SecretStream.cipherChunkSize)
    var back = [UInt8](repeating: 0, count: SecretStream.chunkSize)
    let ad = [UInt8](repeating: 1, count: 300)  // about the size of a real stamp binding
    let chunks = benchSize / SecretStream.chunkSize
    var pushSeconds = 0.0, pullSeconds = 0.0
    for index in 0..<chunks {
        let t0 = now()
        let n = try! plain.withUnsafeBytes { p in
            try cipher.withUnsafeMutableBytes { try encryptor.push(p, associatedData: ad, isFinal: index == chunks - 1, into: $0) }
        }
        let t1 = now()
        _ = try! cipher.withUnsafeBytes { c in
            try back.withUnsafeMutableBytes { try decryptor.pull(UnsafeRawBufferPointer(rebasing: c[0..<n]), associatedData: ad, into: $0) }
        }
        pullSeconds += now() - t1
        pushSeconds += t1 - t0
    }
    let size = Double(benchSize) / Double(mib)
    return (size / pushSeconds, size / pullSeconds)
}

/// In memory, medians of five runs over 256 MiB, MiB/s: secretstream push
/// and pull as casevault runs them, BLAKE3-256 (`Blake3`, which names the
/// objects and packages of a format-3 vault), BLAKE2b-256 (`FastBlake2b`,
/// which names a format-2 vault's objects and packages) and SHA-256
/// (`CSHA256`, a package's manifest).
/// What no filing, retrieval or export can go faster than on this machine:
/// the peers' report (scripts/bench-peers-report.py) sets its figures
/// beside them.
func printPrimitiveRates() {
    var encrypt: [Double] = [], decrypt: [Double] = [], blake2b: [Double] = [], blake3: [Double] = [], sha256: [Double] = []
    for _ in 1...5 {
        let raw = rawSecretstream()
        encrypt.append(raw.encrypt)
        decrypt.append(raw.decrypt)
        blake2b.append(hashRate(FastBlake2b()))
        blake3.append(hashRate(Blake3(), piece: 128 << 10))
        let sha = SHA256.Hasher()
        sha256.append(hashRate { sha.update($0) } finish: { _ = sha.finalize() })
    }
    let rates = ["secretstreamEncrypt": median(encrypt), "secretstreamDecrypt": median(decrypt),
                 "blake2b": median(blake2b), "blake3": median(blake3), "sha256": median(sha256)]
    let data = try! JSONSerialization.data(withJSONObject: rates, options: [.sortedKeys])
    print(String(decoding: data, as: UTF8.self))
}

/// One core's throughput, MiB/s, of a hash over `benchSize` bytes in
/// memory, fed `piece` bytes at a time: a secretstream chunk's 64 KiB, the
/// 128 KiB a filing hands BLAKE3 (ObjectStore), or the 256 KiB an export's
/// stages hand on.
func hashRate(piece: Int = SecretStream.chunkSize, _ update: (UnsafeRawBufferPointer) -> Void, finish: () -> Void) -> Double {
    let bytes = [UInt8](repeating: 0x33, count: piece)
    let start = now()
    bytes.withUnsafeBytes { for _ in 0..<(benchSize / piece) { update($0) } }
    finish()
    return Double(benchSize) / Double(mib) / (now() - start)
}

func hashRate(_ hasher: some ObjectHasher, piece: Int = SecretStream.chunkSize) -> Double {
    hashRate(piece: piece, { hasher.update($0) }, finish: { _ = hasher.finalize() })
}

/// The disk's own floor, the way casevault now does its I/O (direct,
/// 1 MiB blocks): 256 MiB written to a new file and fsynced, then read
/// back. `get -o` must do both on the same device, and an export reads
/// every object and writes the package.
func rawDisk(in scratch: String) -> (write: Double, read: Double) {
    let path = "\(scratch)/disk.bin"
    let block = UnsafeMutableRawPointer.allocate(byteCount: DirectIO.blockSize, alignment: DirectIO.alignment)
    defer { block.deallocate(); unlink(path) }
    let blockSize = DirectIO.blockSize
    block.initializeMemory(as: UInt8.self, repeating: 0x5a, count: blockSize)
    var start = now()
    var output = open(path, O_WRONLY | O_CREAT | O_TRUNC | DirectIO.openFlag, 0o600)
    if output < 0 { output = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o600) }  // no direct I/O here
    guard output >= 0 else { fatalError("cannot create \(path)") }
    for _ in 0..<(benchSize / blockSize) {
        guard write(output, block, blockSize) == blockSize else { fatalError("disk floor: write failed (errno \(errno))") }
    }
    guard fsync(output) == 0 else { fatalError("disk floor: fsync failed (errno \(errno))") }
    close(output)
    let writeRate = Double(benchSize) / Double(mib) / (now() - start)
    start = now()
    var input = open(path, O_RDONLY | DirectIO.openFlag)
    if input < 0 { input = open(path, O_RDONLY) }
    var total = 0
    while true {
        let n = read(input, block, blockSize)
        guard n >= 0 else { fatalError("disk floor: read failed (errno \(errno))") }
        if n == 0 { break }
        total += n
    }
    guard total == benchSize else { fatalError("disk floor: read \(total) of \(benchSize) bytes") }
    close(input)
    return (writeRate, Double(benchSize) / Double(mib) / (now() - start))
}

/// One full measurement with the vault and files under `folder`.
/// `judged`: whether this folder's figures are held against the targets.
func measure(in folder: String, label: String, judged: Bool) -> Bool {
    let scratch = folder + "/casevault-bench-" + UUID().uuidString
    mkdir(scratch, 0o700)
    defer { _ = try? FileManager.default.removeItem(atPath: scratch) }
    print("")
    print("== \(label): \(folder)")
    for id in ["amina", "grace", "halima"] {
        guard FileManager.default.createFile(atPath: "\(scratch)/\(id).pw", contents: Data("\(id) bench passphrase\n".utf8)) else {
            fatalError("cannot write \(scratch)/\(id).pw")
        }
    }
    let env: [String: String] = ProcessInfo.processInfo.environment.merging([
        "CASEVAULT_INSECURE_TEST_KDF": "1",  // measure throughput, not Argon2id
        "CASEVAULT_DIR": "\(scratch)/vault",
    ]) { $1 }
    func must(_ args: [String]) {
        let (_, status, _) = spawn(args, environment: env)
        guard status == 0 else { fatalError("casevault \(args.joined(separator: " ")) failed with \(status)") }
    }
    must(["init", "\(scratch)/vault", "--admin-id", "amina", "--admin-name", "Amina", "--new-passphrase-file", "\(scratch)/amina.pw"])
    for (id, role) in [("grace", "case-manager"), ("halima", "case-supervisor")] {
        must(["staff", "add", "--as", "amina", "--passphrase-file", "\(scratch)/amina.pw", "--id", id, "--name", id,
              "--role", role, "--new-passphrase-file", "\(scratch)/\(id).pw"])
    }
    must(["case", "open", "--as", "halima", "--passphrase-file", "\(scratch)/halima.pw", "--category", "CP",
          "--admitted", "2024", "--client", "1", "--manager", "grace", "--supervisor", "halima"])
    must(["case", "open", "--as", "halima", "--passphrase-file", "\(scratch)/halima.pw", "--category", "CP",
          "--admitted", "2024", "--client", "2", "--manager", "grace", "--supervisor", "halima"])

    fillFile("\(scratch)/input.bin", size: benchSize)

    /// The object hashes over the same volume, in memory: `Blake3`, which
    /// names a format-3 vault's objects, `FastBlake2b`, which names a
    /// format-2 vault's, and libsodium's BLAKE2b, for comparison.
    func rawHashes() -> (blake3: Double, swift: Double, libsodium: Double) {
        (hashRate(Blake3(), piece: 128 << 10), hashRate(FastBlake2b()), hashRate(Blake2b()))
    }

    var sodiumEncrypt: [Double] = [], sodiumDecrypt: [Double] = []
    var rawEncrypt: [Double] = [], rawDecrypt: [Double] = [], diskWrites: [Double] = [], diskReads: [Double] = [], hashes: [Double] = [], sodiumHashes: [Double] = [], treeHashes: [Double] = []
    var fileRates: [Double] = [], getRates: [Double] = [], streamRates: [Double] = [], fileRSS: [Double] = [], getRSS: [Double] = []
    var pairRatios: [Double] = [], pinnedRatios: [Double] = [], fileCores: [Double] = []
    let size = Double(benchSize) / Double(mib)
    for run in 1...runs {
        // Interleaved, so a noisy neighbour hurts baseline and product alike.
        let raw = rawSecretstream()
        rawEncrypt.append(raw.encrypt)
        rawDecrypt.append(raw.decrypt)
        let sodium = SecretStream.withPortableCode { rawSecretstream() }
        sodiumEncrypt.append(sodium.encrypt)
        sodiumDecrypt.append(sodium.decrypt)
        let disk = rawDisk(in: scratch)
        diskWrites.append(disk.write)
        diskReads.append(disk.read)
        let hash = rawHashes()
        treeHashes.append(hash.blake3)
        hashes.append(hash.swift)
        sodiumHashes.append(hash.libsodium)
        let (fileSeconds, fileStatus, fileUsage) = spawnUsage(["file", "CP-2024-0001", "--as", "grace", "--passphrase-file", "\(scratch)/grace.pw",
                                                                "--name", "Bench", "--type", "document", "\(scratch)/input.bin"], environment: env)
        guard fileStatus == 0 else { fatalError("file failed") }
        let fileMemory = Double(fileUsage.ru_maxrss) / 1024
        fileCores.append(cpuSeconds(fileUsage) / fileSeconds)
        let out = "\(scratch)/out-\(run).bin"
        let (getSeconds, getStatus, getMemory) = spawn(["get", "CP-2024-0001", "Bench", "--as", "grace", "--passphrase-file", "\(scratch)/grace.pw",
                                                         "-o", out], environment: env)
        guard getStatus == 0 else { fatalError("get failed") }
        unlink(out)
        let (streamSeconds, streamStatus, _) = spawn(["get", "CP-2024-0001", "Bench", "--as", "grace", "--passphrase-file",
                                                      "\(scratch)/grace.pw"], environment: env)
        guard streamStatus == 0 else { fatalError("get to standard output failed") }
        // Two filings of the same size into two cases at once: they overlap
        // (each commits in a short transaction), so together they take well
        // under twice one alone.
        let pair = [
            ["file", "CP-2024-0001", "--as", "grace", "--passphrase-file", "\(scratch)/grace.pw", "--name", "Pair", "--type", "document", "\(scratch)/input.bin"],
            ["file", "CP-2024-0002", "--as", "grace", "--passphrase-file", "\(scratch)/grace.pw", "--name", "Pair", "--type", "document", "\(scratch)/input.bin"],
        ]
        pairRatios.append(spawnTogether(pair, environment: env)! / fileSeconds)
        // The same with each process held to one CPU, and one alone on
        // one CPU: one filing keeps both cores of this machine busy
        // (encrypt | hash | write), so unpinned, two can only share them;
        // pinned, each has a core and only a lock could make them wait.
        if FileManager.default.isExecutableFile(atPath: "/usr/bin/taskset") {
            let (oneSeconds, oneStatus, _) = spawnUsage(["file", "CP-2024-0001", "--as", "grace", "--passphrase-file", "\(scratch)/grace.pw",
                                                         "--name", "Alone", "--type", "document", "\(scratch)/input.bin"], environment: env, cpu: 0)
            // (taskset fails where CPUs 0 and 1 are not both ours: then the pinned pair is not measured.)
            if oneStatus == 0, let pairPinned = spawnTogether(pair, environment: env, cpus: [0, 1], mayFail: true) {
                pinnedRatios.append(pairPinned / oneSeconds)
            }
        }
        streamRates.append(size / streamSeconds)
        fileRates.append(size / fileSeconds)
        getRates.append(size / getSeconds)
        fileRSS.append(fileMemory)
        getRSS.append(getMemory)
    }

    /// The range of the runs behind a median, so a bimodal disk shows.
    func spread(_ values: [Double]) -> String {
        String(format: "; runs %.0f–%.0f", values.min() ?? 0, values.max() ?? 0)
    }
    func row(_ name: String, _ value: Double, _ unit: String, _ note: String = "") {
        print(name.padding(toLength: 44, withPad: " ", startingAt: 0) + String(format: "%9.1f %@", value, unit) + (note.isEmpty ? "" : "   " + note))
    }
    // The targets' baseline is raw libsodium secretstream, as issue 3 sets
    // it ("beside raw libsodium secretstream MiB/s measured in the same
    // run"). casevault's own chunks (ChaCha20 and Poly1305 on AVX-512) run
    // about three times as fast here: against them the ratio would measure
    // how much faster than the disk the primitive has become, not the
    // product. Both are printed.
    // (Without AVX-512 the two are the same code, measured twice.)
    let ownEncrypt = median(rawEncrypt), ownDecrypt = median(rawDecrypt)
    let baseEncrypt = median(sodiumEncrypt), baseDecrypt = median(sodiumDecrypt)
    let fileRate = median(fileRates), getRate = median(getRates)
    print("")
    row("raw libsodium secretstream encrypt", baseEncrypt, "MiB/s", "baseline (in memory)")
    row("raw libsodium secretstream decrypt", baseDecrypt, "MiB/s", "baseline (in memory)")
    row("  as casevault runs it: encrypt", ownEncrypt, "MiB/s", "context: what every filed byte passes through")
    row("  as casevault runs it: decrypt", ownDecrypt, "MiB/s", "context: what every read byte passes through")
    row("raw BLAKE3-256, \(Blake3.implementation) (in memory)", median(treeHashes), "MiB/s", "context: names a format-3 vault's objects")
    row("raw BLAKE2b-256, FastBlake2b (in memory)", median(hashes), "MiB/s", "context: names a format-2 vault's objects")
    row("raw BLAKE2b-256, libsodium (in memory)", median(sodiumHashes), "MiB/s", "context: what FastBlake2b replaced")
    row("disk: write 256 MiB (direct) + fsync", median(diskWrites), "MiB/s", "context: this disk, now" + spread(diskWrites))
    row("disk: read 256 MiB (direct)", median(diskReads), "MiB/s", "context: this disk, now" + spread(diskReads))
    row("casevault file, 256 MiB (end to end)", fileRate, "MiB/s", String(format: "%.0f %% of raw encrypt (target ≥ 60 %%), %.0f %% of casevault's own",
                                                                          100 * fileRate / baseEncrypt, 100 * fileRate / ownEncrypt) + spread(fileRates))
    row("casevault get -o, 256 MiB (end to end)", getRate, "MiB/s", String(format: "%.0f %% of raw decrypt (target ≥ 60 %%), %.0f %% of casevault's own",
                                                                            100 * getRate / baseDecrypt, 100 * getRate / ownDecrypt) + spread(getRates))
    // get -o reads and writes the same bytes on one device, which serves
    // the two one after the other (measured: concurrent ≈ sum).
    let getFloor = median(zip(diskReads, diskWrites).map { 1 / (1 / $0 + 1 / $1) })
    row("  disk floor for get -o (read, then write)", getFloor, "MiB/s",
        String(format: "get -o reached %.0f %% of it", 100 * getRate / getFloor))
    let streamRate = median(streamRates)
    row("casevault get > /dev/null (end to end)", streamRate, "MiB/s",
        String(format: "%.0f %% of raw decrypt, %.0f %% of casevault's own; reads only", 100 * streamRate / baseDecrypt, 100 * streamRate / ownDecrypt)
            + spread(streamRates))
    row("cores one filing keeps busy", median(fileCores), "", "CPU seconds ÷ wall seconds, of \(ProcessInfo.processInfo.activeProcessorCount)")
    row("two files of 256 MiB into two cases at once", median(pairRatios), "×",
        String(format: "the time of one alone (serial would be 2×); runs %.2f–%.2f", pairRatios.min() ?? 0, pairRatios.max() ?? 0))
    if !pinnedRatios.isEmpty {
        row("  the same, one CPU each (taskset)", median(pinnedRatios), "×",
            String(format: "the time of one alone on one CPU; runs %.2f–%.2f", pinnedRatios.min() ?? 0, pinnedRatios.max() ?? 0))
    }
    row("peak RSS, file 256 MiB", median(fileRSS), "MiB")
    row("peak RSS, get 256 MiB", median(getRSS), "MiB")

    fillFile("\(scratch)/big.bin", size: bigSize)
    let (_, bigFileStatus, bigFileRSS) = spawn(["file", "CP-2024-0001", "--as", "grace", "--passphrase-file", "\(scratch)/grace.pw",
                                                 "--name", "Big", "--type", "document", "\(scratch)/big.bin"], environment: env)
    unlink("\(scratch)/big.bin")
    let (_, bigGetStatus, bigGetRSS) = spawn(["get", "CP-2024-0001", "Big", "--as", "grace", "--passphrase-file", "\(scratch)/grace.pw",
                                               "-o", "\(scratch)/big-out.bin"], environment: env)
    guard bigFileStatus == 0, bigGetStatus == 0 else { fatalError("1 GiB run failed") }
    row("peak RSS, file 1 GiB", bigFileRSS, "MiB", "target < 64 MiB")
    row("peak RSS, get 1 GiB", bigGetRSS, "MiB", "target < 64 MiB")

    print("")
    guard judged else {
        print("Diagnostic only, no verdict: tmpfs is itself the page cache, so every byte written is")
        print("copied into freshly allocated pages whatever the I/O mode; on a VM that cost varies widely.")
        return true
    }
    // One line per target of the issue, each with what decided it.
    func verdict(_ met: Bool, _ text: String) -> Bool {
        print((met ? "  met     " : "  MISSED  ") + text)
        return met
    }
    print("Targets:")
    var met = verdict(fileRate >= 0.6 * baseEncrypt, String(format: "filing ≥ 60 %% of raw encrypt: %.0f %%", 100 * fileRate / baseEncrypt))
    met = verdict(streamRate >= 0.6 * baseDecrypt,
                  String(format: "retrieval (get) ≥ 60 %% of raw decrypt: %.0f %%", 100 * streamRate / baseDecrypt)) && met
    met = verdict(getRate >= 0.6 * baseDecrypt,
                  String(format: "retrieval to a file (get -o) ≥ 60 %% of raw decrypt: %.0f %%", 100 * getRate / baseDecrypt)) && met
    if getRate < 0.6 * baseDecrypt && getFloor < 0.6 * baseDecrypt {
        print(String(format: "          this disk cannot: reading and writing 256 MiB alone runs at %.0f %% of raw decrypt;", 100 * getFloor / baseDecrypt))
        print(String(format: "          get -o reached %.0f %% of that floor", 100 * getRate / getFloor))
    }
    // A filing alone already keeps most of two cores busy (encrypt | hash |
    // write), so two at once cannot approach 1× on a machine of two: the
    // CPU they need is nearly twice one's. Held apart by a lock for their
    // whole upload, as before, they took 2× or more either way. Where one
    // filing leaves a core idle the unpinned pair shows the overlap; where
    // it does not, the pinned pair (one core each) does.
    // Pinned, nothing but the disk is shared, and two that overlap take
    // about 1×: the limit is tighter there.
    let cores = Double(ProcessInfo.processInfo.activeProcessorCount)
    if median(fileCores) > cores / 2 && !pinnedRatios.isEmpty {
        met = verdict(median(pinnedRatios) < 1.3, String(format: "two 256 MiB filings into two cases overlap: %.2f× one alone, one CPU each (< 1.3×), as one filing keeps %.1f of %.0f cores busy (unpinned: %.2f×)",
                                                         median(pinnedRatios), median(fileCores), cores, median(pairRatios))) && met
    } else {
        met = verdict(median(pairRatios) < 1.75, String(format: "two 256 MiB filings into two cases overlap: %.2f× one alone (well under 2×: < 1.75×)", median(pairRatios))) && met
    }
    met = verdict(bigFileRSS < 64 && bigGetRSS < 64,
                  String(format: "peak resident memory < 64 MiB for 1 GiB: file %.0f MiB, get %.0f MiB", bigFileRSS, bigGetRSS)) && met
    return met
}

print("casevault benchmark: \(runs) runs each, medians; \(ProcessInfo.processInfo.activeProcessorCount) cores")
print("Baselines are measured in the same run, interleaved with the product's runs.")
// The judged run uses this checkout's file system (.build, beside the
// binaries): a real disk, as a vault would be on, where /tmp may be tmpfs.
let diskFolder = FileManager.default.currentDirectoryPath + "/.build"
guard FileManager.default.fileExists(atPath: diskFolder) else {
    FileHandle.standardError.write(Data("casevault-bench: run from the checkout (make bench): no .build folder here\n".utf8))
    exit(64)
}
var device = stat()
if stat(diskFolder, &device) == 0, !DirectIO.isBlockDevice(UInt64(device.st_dev)) {
    print("note: \(diskFolder) is not on a block device (tmpfs, overlay, btrfs or network): casevault")
    print("      uses the page cache there, and the judged figures are not a disk's")
}
let only = ProcessInfo.processInfo.environment["CASEVAULT_BENCH_ONLY"]
var allMet = true
if only == "primitives" {
    // For scripts/bench-peers.sh (not part of a plain run): the rates of the
    // work every filed, retrieved or exported byte needs, as one JSON object.
    printPrimitiveRates()
    exit(0)
}
if only == nil || only == "throughput" {
    allMet = measure(in: diskFolder, label: "on disk, where vaults live", judged: true)
    if FileManager.default.fileExists(atPath: "/dev/shm") {
        allMet = measure(in: "/dev/shm", label: "in memory (tmpfs)", judged: false) && allMet
    }
}
if only == nil || only == "log" {
    allMet = measureLogAtScale(in: diskFolder) && allMet
}
if only == nil || only == "cases" {
    allMet = measureCasesAtScale(in: diskFolder) && allMet
}
if only == "versions" {  // long: a vault of a million versions is seeded (not in a plain `make bench`)
    allMet = measureVersionsAtScale(in: diskFolder) && allMet
}
if only == nil || only == "rotation" {
    allMet = measureRotationAtScale(in: diskFolder) && allMet
}
if only == nil || only == "export" {
    allMet = measureExportAtScale(in: diskFolder) && allMet
}
if only == nil || only == "audit" {
    allMet = measureAuditAtScale(in: diskFolder) && allMet
}
