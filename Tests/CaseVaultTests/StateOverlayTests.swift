@testable import CaseVault
import Foundation
import Testing

/// The overlay a write transaction's events read each other's changes
/// through (`StateOverlay`): it answers only under the root its changes
/// lead to, never lets a walk override a change, and stops answering once
/// a change went around it.
@Suite struct StateOverlayTests {
    private func bytes(_ byte: UInt8) -> [UInt8] { [UInt8](repeating: byte, count: 32) }

    @Test func answersOnlyUnderTheRootItsChangesLeadTo() {
        let (base, next, last) = (bytes(1), bytes(2), bytes(3))
        let (key, untouched) = (bytes(9), bytes(8))
        let overlay = StateOverlay(root: base)
        #expect(overlay.value(key, under: base) == nil)  // never seen
        overlay.found(untouched, [5], under: base)
        overlay.found(bytes(7), nil, under: base)
        #expect(overlay.value(bytes(7), under: base) == .some(nil))  // known to hold nothing
        overlay.changed(key, to: [6], from: base, to: next)
        #expect(overlay.value(key, under: next) == .some([6]))
        #expect(overlay.value(untouched, under: next) == .some([5]))  // unchanged since the start
        #expect(overlay.value(key, under: base) == nil && overlay.value(untouched, under: base) == nil)  // not for an older root
        overlay.found(key, [4], under: next)  // a walk never overrides what the transaction set
        #expect(overlay.value(key, under: next) == .some([6]))
        overlay.found(bytes(10), [4], under: base)  // nor is a walk under another root taken
        #expect(overlay.value(bytes(10), under: next) == nil)
        overlay.changed(key, to: nil, from: next, to: last)
        #expect(overlay.value(key, under: last) == .some(nil))  // removed
        // A change from a root the overlay did not reach: it missed one, and answers nothing more.
        overlay.changed(untouched, to: [3], from: bytes(42), to: bytes(43))
        #expect(overlay.value(untouched, under: bytes(43)) == nil && overlay.value(key, under: last) == nil)
    }

    /// Events appended in one transaction read what the ones before them
    /// changed: a tag added and removed in one append, each checked against
    /// the state the other left; the same tag added twice is refused by the
    /// second, as it would be alone; and the vault verifies clean (the
    /// replay, which reads without an overlay, reaches the same roots).
    @Test func eventsAppendedTogetherSeeEachOthersChanges() throws {
        let p = try Programme()
        let number = try p.openCase()
        func append(_ items: [EventData]) throws {
            _ = try p.vault.write { writer, head in
                try Ledger.append(items, by: p["halima"], at: Date(), vaultID: p.vault.config.vaultId, head: &head, in: writer)
            }
        }
        try append([.tagAdded(CaseTagged(case: number, tag: "urgent")), .tagRemoved(CaseTagged(case: number, tag: "urgent")),
                    .tagAdded(CaseTagged(case: number, tag: "court"))])
        #expect(try p.vault.tags(of: number) == ["court"])
        expectIntegrity("is already tagged urgent") {
            try append([.tagAdded(CaseTagged(case: number, tag: "urgent")), .tagAdded(CaseTagged(case: number, tag: "urgent"))])
        }
        expectIntegrity("is not tagged court") {
            try append([.tagRemoved(CaseTagged(case: number, tag: "court")), .tagRemoved(CaseTagged(case: number, tag: "court"))])
        }
        #expect(try p.vault.tags(of: number) == ["court"])
        #expect(try p.vault.verify().isClean)
    }
}
