internal import CaseVaultCrypto
internal import Foundation

/// The second stage of a two-stage pipeline: what the worker thread does
/// with each piece of bytes, in order.
protocol ChunkConsumer: AnyObject, Sendable {
    func consume(_ bytes: UnsafeRawBufferPointer) throws
}

/// Hands bytes to a consumer running on its own thread, so that producing
/// (reading + encrypting, or decrypting) and consuming (hashing + writing)
/// overlap on two cores. Profiling `casevault file` showed the BLAKE2b of
/// the ciphertext taking as long as the encryption itself; run one after
/// the other they halve throughput.
///
/// Bytes are copied into a fixed pool of `SecureBytes` buffers (they may be
/// plaintext), so memory stays flat whatever the size of the stream, and
/// a producer that gets ahead waits for a free buffer.
final class Pipeline: @unchecked Sendable {
    // All mutable state below is guarded by `condition`.
    private let condition = NSCondition()
    private var freeBuffers: [SecureBytes]
    private var queue: [(buffer: SecureBytes, count: Int)] = []
    private var inputEnded = false
    private var workerDone = false
    private var failure: (any Error)?
    private let consumer: any ChunkConsumer

    init(consumer: any ChunkConsumer, buffers: Int = 8, bufferSize: Int = SecretStream.cipherChunkSize) {
        self.consumer = consumer
        freeBuffers = (0..<buffers).map { _ in SecureBytes(count: bufferSize) }
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
            condition.lock()
            while freeBuffers.isEmpty && failure == nil { condition.wait() }
            if let failure {
                condition.unlock()
                throw failure
            }
            let buffer = freeBuffers.removeLast()
            condition.unlock()
            let count = min(buffer.count, bytes.count - offset)
            buffer.withUnsafeMutableBytes { $0.baseAddress!.copyMemory(from: bytes.baseAddress! + offset, byteCount: count) }
            offset += count
            condition.lock()
            queue.append((buffer, count))
            condition.broadcast()
            condition.unlock()
        }
    }

    /// Waits until the consumer has taken everything; rethrows its error.
    func finish() throws {
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
            let (buffer, count) = queue.removeFirst()
            condition.unlock()
            do {
                try buffer.withUnsafeBytes { try consumer.consume(UnsafeRawBufferPointer(rebasing: $0[0..<count])) }
            } catch {
                condition.lock()
                failure = error
                queue.removeAll()
                condition.broadcast()
                condition.unlock()
            }
            condition.lock()
            freeBuffers.append(buffer)
            condition.broadcast()
            condition.unlock()
        }
    }
}
