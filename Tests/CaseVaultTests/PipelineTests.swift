@testable import CaseVault
import Foundation
import Testing

/// The two-thread pipeline behind filing and get -o.
@Suite struct PipelineTests {
    final class Collector: ChunkConsumer, @unchecked Sendable {
        var bytes: [UInt8] = []
        var sizes: [Int] = []
        var calls = 0
        /// Where each mark fell: how many bytes had been consumed.
        var marks: [Int] = []
        let failAt: Int?
        init(failAt: Int? = nil) { self.failAt = failAt }
        struct Boom: Error, Equatable {}
        func consume(_ chunk: UnsafeRawBufferPointer) throws {
            calls += 1
            if calls == failAt { throw Boom() }
            bytes += chunk
            sizes.append(chunk.count)
        }
        func mark() throws { marks.append(bytes.count) }
    }

    /// More threads than items or cores: each item is done once, on
    /// several threads at once, and the results come back in order.
    @Test(arguments: [1, 4, 300])
    func parallelMapOnThreadsDoesEachItemOnceInOrder(threads: Int) {
        let lock = NSLock()
        nonisolated(unsafe) var seen: [Int: Int] = [:]
        nonisolated(unsafe) var names = Set<String>()
        let results = Parallel.map(Array(0..<200), threads: threads) { item -> Int in
            lock.lock()
            seen[item, default: 0] += 1
            names.insert("\(pthread_self())")
            lock.unlock()
            usleep(UInt32(item % 3) * 100)
            return item * 2
        }
        #expect(results == (0..<200).map { $0 * 2 })
        #expect(seen.count == 200 && seen.values.allSatisfy { $0 == 1 })
        #expect(threads == 1 ? names.count == 1 : names.count > 1)
        #expect(Parallel.map([Int](), threads: 4) { $0 }.isEmpty)
    }

    /// Capped below the cores, on that many threads at most (the caller's
    /// among them); every item once, results in order, whatever the cap.
    @Test(arguments: [1, 2, 64])
    func parallelMapKeepsToTheCoresItIsGiven(cores: Int) {
        let lock = NSLock()
        nonisolated(unsafe) var seen: [Int: Int] = [:]
        nonisolated(unsafe) var names = Set<String>()
        let results = Parallel.map(Array(0..<5_000), grain: 1, cores: cores) { item -> Int in
            lock.lock()
            seen[item, default: 0] += 1
            names.insert("\(pthread_self())")
            lock.unlock()
            return item * 3
        }
        #expect(results == (0..<5_000).map { $0 * 3 })
        #expect(seen.count == 5_000 && seen.values.allSatisfy { $0 == 1 })
        #expect(names.count <= min(cores, ProcessInfo.processInfo.activeProcessorCount))
        if cores == 1 { #expect(names == ["\(pthread_self())"]) }
    }

    @Test(arguments: [1, 2, 8])
    func everythingArrivesInOrderWhateverThePoolSize(buffers: Int) throws {
        let collector = Collector()
        let pipeline = Pipeline(consumer: collector, buffers: buffers, bufferSize: 1_000)
        let input = pattern(123_457, seed: 3)
        var offset = 0
        while offset < input.count {
            let end = min(input.count, offset + 777)
            try input[offset..<end].withUnsafeBytes { try pipeline.write($0) }
            offset = end
        }
        try pipeline.finish()
        #expect(collector.bytes == input)
        // Small writes are gathered: full buffers, then the remainder once.
        #expect(collector.sizes == Array(repeating: 1_000, count: 123) + [457])
    }

    @Test func aWriteLargerThanABufferIsSplitIntoFullBuffers() throws {
        let collector = Collector()
        let pipeline = Pipeline(consumer: collector, buffers: 2, bufferSize: 4096)
        let input = pattern(3 * 4096 + 5)
        try input.withUnsafeBytes { try pipeline.write($0) }
        try pipeline.finish()
        #expect(collector.sizes == [4096, 4096, 4096, 5])
        #expect(collector.bytes == input)
    }

    /// Filing's chain: producer → stage 2 → stage 3. A failure in the last
    /// stage reaches the producer, through the stage in between.
    @Test func aFailureInTheLastOfChainedStagesReachesTheProducer() {
        let last = Collector(failAt: 2)
        let stage3 = Pipeline(consumer: last, buffers: 2, bufferSize: 300)
        let stage2 = Pipeline(consumer: stage3, buffers: 2, bufferSize: 100)  // a pipeline is a stage of another
        #expect(throws: Collector.Boom.self) {
            do {
                for _ in 0..<1_000 { try pattern(100).withUnsafeBytes { try stage2.write($0) } }
                try stage2.finish()
                try stage3.finish()
            } catch {
                stage2.cancel()
                stage3.cancel()
                throw error
            }
        }
        #expect(last.calls == 2)
    }

    /// `mark` (an export's end of each file): the consumer's mark comes
    /// after every byte written before it, the buffer being filled handed
    /// over short, and before any written after; marks with nothing between
    /// them, or at the start, are each delivered; a chained pipeline passes
    /// a mark on; a consumer's failure comes back from a later mark.
    @Test func marksFallBetweenTheBytesWrittenBeforeAndAfter() throws {
        let collector = Collector()
        let pipeline = Pipeline(consumer: collector, buffers: 2, bufferSize: 1_000)
        try pipeline.mark()
        let first = pattern(2_500, seed: 1), second = pattern(700, seed: 2)
        try first.withUnsafeBytes { try pipeline.write($0) }
        try pipeline.mark()
        try second.withUnsafeBytes { try pipeline.write($0) }
        try pipeline.mark()
        try pipeline.mark()
        try pipeline.finish()
        #expect(collector.bytes == first + second && collector.sizes == [1_000, 1_000, 500, 700])
        #expect(collector.marks == [0, 2_500, 3_200, 3_200])

        let last = Collector()
        let downstream = Pipeline(consumer: last, buffers: 2, bufferSize: 64)
        let upstream = Pipeline(consumer: downstream, buffers: 2, bufferSize: 100)
        try pattern(150).withUnsafeBytes { try upstream.write($0) }
        try upstream.mark()
        try pattern(10).withUnsafeBytes { try upstream.write($0) }
        try upstream.finish()
        try downstream.finish()
        #expect(last.marks == [150] && last.bytes.count == 160)

        let failing = Collector(failAt: 1)
        let broken = Pipeline(consumer: failing, buffers: 2, bufferSize: 100)
        try pattern(100).withUnsafeBytes { try broken.write($0) }
        #expect(throws: Collector.Boom.self) {
            for _ in 0..<1_000 {
                try broken.mark()
                usleep(1_000)
            }
        }
        broken.cancel()
    }

    @Test func finishingAnEmptyPipelineConsumesNothing() throws {
        let collector = Collector()
        let pipeline = Pipeline(consumer: collector, buffers: 1, bufferSize: 10)
        try pipeline.finish()
        #expect(collector.calls == 0)
    }

    @Test func aConsumerFailureReachesTheProducer() {
        let collector = Collector(failAt: 3)
        let pipeline = Pipeline(consumer: collector, buffers: 2, bufferSize: 100)
        #expect(throws: Collector.Boom.self) {
            for _ in 0..<1_000 { try pattern(100).withUnsafeBytes { try pipeline.write($0) } }
            try pipeline.finish()
        }
        #expect(collector.calls == 3)
    }

    @Test func cancelStopsTheWorkerAfterAProducerFailure() {
        let collector = Collector()
        let pipeline = Pipeline(consumer: collector, buffers: 4, bufferSize: 100)
        try? pattern(250).withUnsafeBytes { try pipeline.write($0) }
        pipeline.cancel()  // returns only once the worker has stopped
        // What was consumed before the cancel is an intact prefix, in order.
        #expect(collector.bytes == Array(pattern(250).prefix(collector.bytes.count)))
        #expect(collector.bytes.count % 100 == 0 || collector.bytes.count == 250)
    }
}

@Suite struct KeyTrustTests {
    @Test func filingRefusesACaseKeyThatDiffersFromItsSignedEvent() throws {
        let p = try Programme()
        try p.openCase()
        let attacker = String(repeating: "ab", count: 32)
        try p.tamper("UPDATE cases SET confidential_public_key = X'\(attacker)'")
        #expect(throws: VaultError.integrityFailure("case CP-2024-0042 (or one of its grants) in the catalog differs from its signed state")) {
            try p.file([1, 2, 3], confidential: true)
        }
        #expect(try p.vault.objects.allObjects().isEmpty)
        #expect(try p.vault.checkReferences().versionCount == 0)
    }

    @Test func openingACaseRefusesAStaffKeyThatDiffersFromItsSignedEvent() throws {
        let p = try Programme()
        try p.tamper("UPDATE staff SET box_public_key = X'\(String(repeating: "cd", count: 32))' WHERE id = 'grace'")
        #expect(throws: VaultError.integrityFailure("staff member 'grace' in the catalog differs from its signed state")) {
            try p.openCase()
        }
        #expect(try p.vault.cases().isEmpty)
    }

    @Test func aForgedStaffAddedEventIsCaught() throws {
        let p = try Programme()
        // Change grace's key in both the row and her event, without re-signing:
        // the row no longer matches the signed state, and the event no longer
        // matches the leaf the log's tree (and every checkpoint) committed to.
        let forged = String(repeating: "ef", count: 32)
        try p.tamper("UPDATE staff SET box_public_key = X'\(forged)' WHERE id = 'grace'")
        try p.tamper("""
            UPDATE events SET body = CAST(json_set(CAST(body AS TEXT), '$.data.boxPublicKey', '\(forged)') AS BLOB)
            WHERE type = 'staff.added' AND json_extract(CAST(body AS TEXT), '$.data.id') = 'grace'
            """)
        #expect(throws: VaultError.integrityFailure("staff member 'grace' in the catalog differs from its signed state")) { try p.openCase() }
        let report = try p.vault.verify()
        #expect(report.findings.contains { $0.kind == .badSignature && $0.subject == "event 3" }, "\(report.findings)")
    }

    @Test func editedTierOrTypeColumnsFailAuthentication() throws {
        let p = try Programme()
        try p.openCase()
        try p.file(Array("notes".utf8), type: "report")
        try p.tamper("UPDATE versions SET type = 'letter'")
        #expect { _ = try p.read() } throws: { error in
            if case VaultError.integrityFailure = error { return true }
            return false
        }
        try p.tamper("UPDATE versions SET type = 'report', tier = 'confidential'")
        // Grace holds both tiers, so the grant is found; the sealed key and AD no longer fit.
        #expect { _ = try p.read() } throws: { error in
            if case VaultError.integrityFailure = error { return true }
            return false
        }
    }
}
