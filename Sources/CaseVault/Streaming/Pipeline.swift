internal import CaseVaultCrypto
internal import Foundation

/// What a pipeline's worker thread does with each piece of bytes, in order.
protocol ChunkConsumer: AnyObject, Sendable {
    func consume(_ bytes: UnsafeRawBufferPointer) throws
    /// Where the producer called `Pipeline.mark()`: every byte written
    /// before the mark has been consumed, none written after it.
    func mark() throws
}

extension ChunkConsumer {
    func mark() throws {}
}

/// Hands bytes to a consumer running on its own thread, so that producing
/// (reading + encrypting, or decrypting) and consuming (hashing, writing)
/// overlap on two cores. Profiling `casevault file` showed the BLAKE2b of
/// the ciphertext taking as long as the encryption itself; run one after
/// the other they halve throughput. Pipelines chain: filing runs
/// encrypt → hash → write as three stages (FileObjectStore.write).
///
/// Bytes are copied into a fixed pool of `SecureBytes` buffers (they may be
/// plaintext; ordinary memory for a pipeline made with `secret` false), so
/// memory stays flat whatever the size of the stream, and a producer that
/// gets ahead waits for a free buffer. Small writes are gathered: the
/// consumer is handed full buffers, and a shorter one only at a mark or at
/// the very end. A buffer whose size is a multiple of the page size starts
/// on a page boundary (sodium_malloc puts the bytes right before the
/// trailing guard page; ordinary buffers are allocated aligned), which is
/// what direct I/O needs (FileWriter).
///
/// `write`, `mark`, `finish` and `cancel` are for one producer thread.
final class Pipeline: @unchecked Sendable {
    // All mutable state below is guarded by `condition`, except `filling`,
    // which only the producer touches.
    private let condition = NSCondition()
    private var freeBuffers: [any ByteBlock]
    /// Buffers to consume, in order; a nil buffer carries only a mark.
    private var queue: [(buffer: (any ByteBlock)?, count: Int, mark: Bool)] = []
    private var inputEnded = false
    private var workerDone = false
    private var failure: (any Error)?
    private let consumer: any ChunkConsumer
    /// The buffer the producer is filling, not yet handed over.
    private var filling: (buffer: any ByteBlock, count: Int)?

    /// `secret` false: the bytes are never plaintext (ciphertext on its way
    /// to the disk), and the buffers are ordinary memory, page-aligned,
    /// which leaves the locked memory for what needs it.
    init(consumer: any ChunkConsumer, buffers: Int = 8, bufferSize: Int = SecretStream.cipherChunkSize, secret: Bool = true) {
        precondition(buffers >= 1 && bufferSize >= 1, "a pipeline needs at least one buffer of at least one byte")
        self.consumer = consumer
        freeBuffers = (0..<buffers).map { _ -> any ByteBlock in secret ? SecureBytes(count: bufferSize) : AlignedBlock(count: bufferSize) }
        let thread = Thread { [self] in work() }
        thread.stackSize = 1 << 20
        thread.start()
    }

    /// Copies `bytes` into the pipeline; blocks while every buffer is in use.
    /// Throws the consumer's error, if it has failed.
    func write(_ bytes: UnsafeRawBufferPointer) throws {
        condition.lock()
        // After finish or cancel nothing would consume the bytes, and the
        // writer would wait forever once the buffers ran out.
        precondition(!inputEnded, "Pipeline.write after finish or cancel")
        condition.unlock()
        var offset = 0
        while offset < bytes.count {
            if filling == nil {
                condition.lock()
                while freeBuffers.isEmpty && failure == nil { condition.wait() }
                if let failure {
                    condition.unlock()
                    throw failure
                }
                filling = (freeBuffers.removeLast(), 0)
                condition.unlock()
            }
            let (buffer, filled) = filling!
            let count = min(buffer.count - filled, bytes.count - offset)
            buffer.withUnsafeMutableBytes {
                ($0.baseAddress! + filled).copyMemory(from: bytes.baseAddress! + offset, byteCount: count)
            }
            offset += count
            filling = (buffer, filled + count)
            if filled + count == buffer.count { handOver() }
        }
    }

    /// Queues the buffer being filled for the consumer, and the mark after it.
    private func handOver(mark: Bool = false) {
        let filled = filling
        filling = nil
        condition.lock()
        if let (buffer, count) = filled, count > 0 {
            queue.append((buffer, count, mark))
        } else {
            if let (buffer, _) = filled { freeBuffers.append(buffer) }
            if mark { queue.append((nil, 0, true)) }
        }
        condition.broadcast()
        condition.unlock()
    }

    /// Marks the stream here without waiting: the consumer's `mark()` runs
    /// after it has consumed every byte written before this call (the
    /// buffer being filled is handed over short) and before any written
    /// after. An export marks the end of each file for the stage hashing
    /// the files. Throws the consumer's error, if it has failed.
    func mark() throws {
        condition.lock()
        precondition(!inputEnded, "Pipeline.mark after finish or cancel")
        let failure = self.failure
        condition.unlock()
        if let failure { throw failure }
        handOver(mark: true)
    }

    /// Waits until the consumer has taken everything; rethrows its error.
    func finish() throws {
        handOver()
        condition.lock()
        inputEnded = true
        condition.broadcast()
        while !workerDone { condition.wait() }
        let failure = self.failure
        condition.unlock()
        if let failure { throw failure }
    }

    /// Stops the worker after the producer failed: queued bytes are dropped.
    func cancel() {
        filling = nil
        condition.lock()
        queue.removeAll()
        inputEnded = true
        condition.broadcast()
        while !workerDone { condition.wait() }
        condition.unlock()
    }

    private func work() {
        while true {
            condition.lock()
            while queue.isEmpty && !inputEnded { condition.wait() }
            if queue.isEmpty || failure != nil {
                workerDone = true
                condition.broadcast()
                condition.unlock()
                return
            }
            let (buffer, count, mark) = queue.removeFirst()
            condition.unlock()
            do {
                try buffer?.withUnsafeBytes { try consumer.consume(UnsafeRawBufferPointer(rebasing: $0[0..<count])) }
                if mark { try consumer.mark() }
            } catch {
                condition.lock()
                failure = error
                queue.removeAll()
                condition.broadcast()
                condition.unlock()
            }
            condition.lock()
            if let buffer { freeBuffers.append(buffer) }
            condition.broadcast()
            condition.unlock()
        }
    }
}

/// A pipeline is itself a stage another pipeline's worker can hand to (a
/// mark passes on to its own consumer).
extension Pipeline: ChunkConsumer {
    func consume(_ bytes: UnsafeRawBufferPointer) throws { try write(bytes) }
}

/// A value one thread sets and another reads after a wait (a semaphore,
/// a group, a thread's end) orders the two.
final class Box<T>: @unchecked Sendable {
    var value: T
    init(_ value: T) { self.value = value }
}

/// A truth one thread sets and others read as it changes (no ordering
/// beyond that of the value itself).
final class Flag: @unchecked Sendable {
    private let lock = NSLock()
    private var current: Bool
    init(_ value: Bool) { current = value }
    var value: Bool {
        get { lock.withLock { current } }
        set { lock.withLock { current = newValue } }
    }
}

/// The numbers 0, 1, 2, … each handed out once, to whichever thread asks
/// first: how `Parallel`'s workers take the next piece of work.
final class Tickets: @unchecked Sendable {
    private let lock = NSLock()
    private var next = 0

    func take() -> Int {
        lock.withLock {
            defer { next += 1 }
            return next
        }
    }
}

/// Work spread over the cores, for `verify`'s bulk steps and others.
enum Parallel {
    /// `transform` over `items` on every core (or `cores` of them), results in order.
    ///
    /// The items go in small contiguous chunks, taken by whichever thread is
    /// free: verify's replay thread shares the cores with this work, and a
    /// fixed half per thread left one thread idle while the other, pre-empted,
    /// finished its half.
    ///
    /// `grain`: the fewest items worth a thread of their own (1 where each
    /// item is large work, such as the digest of a whole file).
    /// `cores`: at most this many threads (the caller's among them), for
    /// work that leaves a core to a thread of its own meanwhile.
    static func map<T, R>(_ items: [T], grain: Int = 64, cores: Int? = nil, _ transform: (T) -> R) -> [R] {
        let available = min(ProcessInfo.processInfo.activeProcessorCount, max(1, cores ?? .max))
        let workers = min(available, max(1, items.count / max(1, grain)))
        guard workers > 1 else { return items.map(transform) }
        let chunks = min(items.count, workers * 16)
        var results = [R?](repeating: nil, count: items.count)
        results.withUnsafeMutableBufferPointer { out in
            // One iteration per worker (so no more threads than that), each
            // taking the next chunk while any is left; each chunk is taken
            // once and writes only its own indices; the call returns once
            // every iteration has ended.
            nonisolated(unsafe) let out = out
            nonisolated(unsafe) let items = items
            nonisolated(unsafe) let transform = transform
            let tickets = Tickets()
            DispatchQueue.concurrentPerform(iterations: workers) { _ in
                while case let chunk = tickets.take(), chunk < chunks {
                    for index in (items.count * chunk / chunks)..<(items.count * (chunk + 1) / chunks) {
                        out[index] = transform(items[index])
                    }
                }
            }
        }
        return results.map { $0! }
    }

    /// `transform` over `items` on `threads` threads (the caller's among
    /// them), each taking the next item when it is free; results in order.
    /// For work that mostly waits on the disk, where more threads than
    /// cores keep it busy: a bulk filing's small objects, each a file
    /// created, written and synced (0.2–0.6 ms of waiting for about 0.05 ms
    /// of computing on this machine's file system).
    static func map<T, R>(_ items: [T], threads: Int, _ transform: @escaping (T) -> R) -> [R] {
        let workers = min(max(1, threads), items.count)
        guard workers > 1 else { return items.map(transform) }
        var results = [R?](repeating: nil, count: items.count)
        results.withUnsafeMutableBufferPointer { out in
            // Each index is taken once and written by the thread that took
            // it; the call returns once every thread has finished with `out`.
            nonisolated(unsafe) let out = out
            nonisolated(unsafe) let items = items
            nonisolated(unsafe) let transform = transform
            let tickets = Tickets()
            let work: @Sendable () -> Void = {
                while case let index = tickets.take(), index < items.count {
                    out[index] = transform(items[index])
                }
            }
            let done = DispatchGroup()
            for _ in 1..<workers {
                done.enter()
                Thread { work(); done.leave() }.start()
            }
            work()
            done.wait()
        }
        return results.map { $0! }
    }
}

/// A bounded queue from one thread to another: `put` waits while it is
/// full, `take` while it is empty. After `finish`, `take` drains it and
/// then returns nil; after `cancel`, `put` returns false and `take` nil.
final class Handoff<T>: @unchecked Sendable {
    private let condition = NSCondition()
    private var items: [T] = []
    private var finished = false, cancelled = false
    let capacity: Int

    init(capacity: Int) { self.capacity = max(1, capacity) }

    func put(_ item: T) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        while items.count >= capacity && !cancelled { condition.wait() }
        guard !cancelled else { return false }
        items.append(item)
        condition.broadcast()
        return true
    }

    func take() -> T? {
        condition.lock()
        defer { condition.unlock() }
        while items.isEmpty && !finished && !cancelled { condition.wait() }
        guard !cancelled, !items.isEmpty else { return nil }
        condition.broadcast()
        return items.removeFirst()
    }

    func finish() {
        condition.lock()
        finished = true
        condition.broadcast()
        condition.unlock()
    }

    /// Whether `cancel` was called (`take`'s nil then means: stop).
    var isCancelled: Bool {
        condition.lock()
        defer { condition.unlock() }
        return cancelled
    }

    /// Returns what was waiting, never to be taken (for a caller whose
    /// items hold something to release).
    @discardableResult
    func cancel() -> [T] {
        condition.lock()
        cancelled = true
        let left = items
        items.removeAll()
        condition.broadcast()
        condition.unlock()
        return left
    }
}
