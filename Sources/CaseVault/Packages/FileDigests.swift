internal import CaseVaultCrypto

/// The manifest's SHA-256 of each file of an export, on the stage that
/// hashes them (a `Pipeline`'s consumer), two files at a time.
///
/// Why: SHA-256 was the slowest stage of a handover export. One message's
/// rounds are a chain, each step waiting for the one before; two messages
/// interleaved run about 1.6 times the bytes a second
/// (`SHA256.Hasher.update(_:alongside:_:)`). The files of an export come one
/// after the other, so the last bytes of each file, up to `holdLimit`, are
/// held back and hashed alongside the first bytes of the next. Of a file
/// longer than the limit, what does not fit is hashed alone; memory stays
/// flat whatever the files' sizes. The held bytes are plaintext: they are
/// kept in `SecureBytes`, as every buffer of the pipeline is.
///
/// The producer marks the end of each file (`Pipeline.mark`), and calls
/// `finish` after `Pipeline.finish` (which orders the two threads): one
/// digest per marked file, in the files' order.
final class FileDigests: ChunkConsumer, @unchecked Sendable {
    private var digests: [[UInt8]] = []
    /// The file being received.
    private var current = SHA256.Hasher()
    /// The file before it: ended, its last bytes (`held`) not yet hashed.
    /// Never with nothing held: it is finished as soon as that happens.
    private var previous: SHA256.Hasher?
    /// Bytes received and not yet hashed: of `previous` when there is one,
    /// else of `current`.
    private let held: HeldBytes

    init(holdLimit: Int, piece: Int = 256 << 10) {
        held = HeldBytes(limit: holdLimit, piece: piece)
    }

    /// The hashing stage of an export or of `package open`: the digests and
    /// the pipeline that feeds them, four buffers of 256 KiB and up to 4 MiB
    /// held, all locked: 5 MiB, which keeps either command under the usual
    /// 8 MiB RLIMIT_MEMLOCK (SECURITY.md §7).
    static func stage() -> (digests: FileDigests, pipeline: Pipeline) {
        let digests = FileDigests(holdLimit: 4 << 20)
        return (digests, Pipeline(consumer: digests, buffers: 4, bufferSize: 256 << 10))
    }

    func consume(_ bytes: UnsafeRawBufferPointer) throws {
        var rest = bytes
        while !rest.isEmpty {
            if let previous {
                // The previous file's held bytes alongside as many new ones.
                let count = held.withFront { front in
                    let count = min(front.count, rest.count)
                    previous.update(UnsafeRawBufferPointer(rebasing: front[..<count]), alongside: current,
                                    UnsafeRawBufferPointer(rebasing: rest[..<count]))
                    return count
                }
                held.removeFirst(count)
                rest = UnsafeRawBufferPointer(rebasing: rest[count...])
                if held.isEmpty {
                    digests.append(previous.finalize())
                    self.previous = nil
                }
            } else {
                // Held for the next file; when no more fits, the oldest alone.
                if held.isFull {
                    held.removeFirst(held.withFront { front in
                        current.update(front)
                        return front.count
                    })
                }
                rest = UnsafeRawBufferPointer(rebasing: rest[held.append(rest)...])
            }
        }
    }

    /// The end of a file.
    func mark() throws {
        if let previous {
            // This file ended before the previous one's held bytes ran out:
            // all of it was hashed alongside them.
            hashHeldAlone(into: previous)
            digests.append(previous.finalize())
            self.previous = nil
            digests.append(current.finalize())
        } else if held.isEmpty {
            digests.append(current.finalize())
        } else {
            previous = current
        }
        current = SHA256.Hasher()
    }

    /// The digests of every marked file, in order, once the last file's
    /// held bytes are hashed. Bytes after the last mark have no digest.
    func finish() -> [[UInt8]] {
        if let previous {
            hashHeldAlone(into: previous)
            digests.append(previous.finalize())
            self.previous = nil
        }
        return digests
    }

    private func hashHeldAlone(into hasher: SHA256.Hasher) {
        while !held.isEmpty {
            held.removeFirst(held.withFront { front in
                hasher.update(front)
                return front.count
            })
        }
    }
}

/// First in, first out: up to `limit` bytes, in pieces of locked memory
/// (`SecureBytes`) taken as needed and reused, all wiped when this goes.
final class HeldBytes {
    let limit: Int
    let piece: Int
    private var pieces: [(buffer: SecureBytes, start: Int, end: Int)] = []
    private var spare: [SecureBytes] = []
    private(set) var count = 0

    init(limit: Int, piece: Int) {
        precondition(limit >= 1 && piece >= 1, "held bytes need room for a byte")
        self.limit = limit
        self.piece = piece
    }

    var isEmpty: Bool { count == 0 }
    var isFull: Bool { count == limit }

    /// Appends as much of `bytes` as fits; returns how much that was.
    func append(_ bytes: UnsafeRawBufferPointer) -> Int {
        var taken = 0
        while taken < bytes.count && count < limit {
            if pieces.isEmpty || pieces[pieces.count - 1].end == piece {
                pieces.append((spare.popLast() ?? SecureBytes(count: piece), 0, 0))
            }
            let last = pieces.count - 1, end = pieces[last].end
            let n = min(piece - end, bytes.count - taken, limit - count)
            pieces[last].buffer.withUnsafeMutableBytes { ($0.baseAddress! + end).copyMemory(from: bytes.baseAddress! + taken, byteCount: n) }
            pieces[last].end += n
            taken += n
            count += n
        }
        return taken
    }

    /// The oldest bytes held, as many as lie together (not empty).
    func withFront<T>(_ body: (UnsafeRawBufferPointer) throws -> T) rethrows -> T {
        precondition(!isEmpty, "nothing held")
        let (buffer, start, end) = pieces[0]
        return try buffer.withUnsafeBytes { try body(UnsafeRawBufferPointer(rebasing: $0[start..<end])) }
    }

    /// Drops the `n` oldest bytes, at most the front's.
    func removeFirst(_ n: Int) {
        precondition(n >= 0 && !pieces.isEmpty && n <= pieces[0].end - pieces[0].start, "more than the front holds")
        pieces[0].start += n
        count -= n
        if pieces[0].start == pieces[0].end { spare.append(pieces.removeFirst().buffer) }
    }
}
