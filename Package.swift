// swift-tools-version:6.1
// casevault: an encrypted, versioned, auditable archive for case-management records.
// Layers (see SECURITY.md and design §2): casevault (CLI) → CaseVault (core) →
// CaseVaultCrypto / CaseVaultArchive → CSodium, CSHA256, CSecretStream, CBlake3 (→ CVectors) / CArchive. Arrows only point down.

import PackageDescription

let strictness: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("InternalImportsByDefault"),
    .enableUpcomingFeature("MemberImportVisibility"),
]

let package = Package(
    name: "casevault",
    products: [
        .executable(name: "casevault", targets: ["casevault"]),
        .library(name: "CaseVault", targets: ["CaseVault"]),
    ],
    dependencies: [
        .package(url: "https://github.com/groue/GRDB.swift", exact: "7.10.0"),
        .package(url: "https://github.com/apple/swift-argument-parser", exact: "1.8.2"),
    ],
    targets: [
        .systemLibrary(
            name: "CSodium",
            pkgConfig: "libsodium",
            providers: [.apt(["libsodium-dev"])]
        ),
        .systemLibrary(
            name: "CArchive",
            pkgConfig: "libarchive",
            providers: [.apt(["libarchive-dev"])]
        ),
        // SHA-256 with the CPU's SHA extensions (SECURITY.md §2): C that only
        // CaseVaultCrypto calls. Optimised in every configuration: the debug
        // tests hash every state-map node with it.
        .target(
            name: "CSHA256",
            dependencies: ["CVectors"],
            cSettings: [.unsafeFlags(["-O2"])]
        ),
        // libsodium's secretstream chunk functions with ChaCha20 on AVX-512
        // (SECURITY.md §2): C that only CaseVaultCrypto calls, optimised in
        // every configuration (-O3: at -O2 clang keeps less of the sixteen
        // blocks in registers, a fifth slower).
        // What CSHA256, CSecretStream and CBlake3 share: which vector code
        // the CPU allows, the choice made once and forced off by tests, and
        // the 16 × 16 word transpose.
        .target(
            name: "CVectors",
            cSettings: [.unsafeFlags(["-O3"])]
        ),
        .target(
            name: "CSecretStream",
            dependencies: ["CSodium", "CVectors"],
            cSettings: [.unsafeFlags(["-O3"])]
        ),
        // BLAKE3, sixteen chunks at a time on AVX-512 (SECURITY.md §2): the
        // names of the objects of a vault of format 3. C that only
        // CaseVaultCrypto calls, optimised in every configuration.
        .target(
            name: "CBlake3",
            dependencies: ["CVectors"],
            cSettings: [.unsafeFlags(["-O3"])]
        ),
        .target(
            name: "CaseVaultCrypto",
            dependencies: ["CSodium", "CSHA256", "CSecretStream", "CBlake3"],
            swiftSettings: strictness
        ),
        .target(
            name: "CaseVaultArchive",
            dependencies: ["CArchive"],
            swiftSettings: strictness
        ),
        // The domain: events, the projection, policy, trust, services, and
        // the ports (catalog, objects) it needs. No SQL, no GRDB.
        .target(
            name: "CaseVault",
            dependencies: ["CaseVaultCrypto", "CaseVaultArchive"],
            swiftSettings: strictness
        ),
        // The catalog port in SQLite: the only importer of GRDB.
        .target(
            name: "CaseVaultSQLite",
            dependencies: [
                "CaseVault", "CaseVaultCrypto",
                .product(name: "GRDB", package: "GRDB.swift"),
            ],
            swiftSettings: strictness
        ),
        .executableTarget(
            name: "casevault",
            dependencies: [
                "CaseVault", "CaseVaultSQLite",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: strictness
        ),
        // `make bench`: throughput and memory against raw secretstream, and
        // the log's costs at scale.
        .executableTarget(
            name: "casevault-bench",
            dependencies: ["CaseVault", "CaseVaultSQLite", "CaseVaultCrypto"],
            swiftSettings: strictness
        ),
        // The fuzz target for untrusted input (scripts/fuzz.sh); built
        // normally, a driver that replays saved inputs.
        .executableTarget(
            name: "casevault-fuzz",
            dependencies: ["CaseVault", "CaseVaultArchive", "CaseVaultCrypto"],
            swiftSettings: strictness
        ),
        .testTarget(
            name: "CaseVaultCryptoTests",
            // libsodium and CSecretStream directly: libsodium's secretstream
            // is the oracle casevault's push and pull are held to. CBlake3
            // for its test hook (chunk counters past 2^32).
            dependencies: ["CaseVaultCrypto", "CSodium", "CSecretStream", "CBlake3"],
            exclude: ["Vectors"],
            swiftSettings: strictness
        ),
        .testTarget(
            name: "CaseVaultArchiveTests",
            dependencies: ["CaseVaultArchive"],
            exclude: ["Fixtures"],
            swiftSettings: strictness
        ),
        .testTarget(
            name: "CaseVaultTests",
            dependencies: [
                "CaseVault", "CaseVaultSQLite", "CaseVaultCrypto",
                // Tests tamper with the catalog directly, as an attacker would.
                .product(name: "GRDB", package: "GRDB.swift"),
            ],
            exclude: ["Fixtures"],
            swiftSettings: strictness
        ),
        .testTarget(
            name: "casevaultTests",
            // The core too: crash and concurrency tests check the vault the
            // binary left behind.
            dependencies: ["casevault", "CaseVault", "CaseVaultSQLite"],
            swiftSettings: strictness
        ),
    ],
    swiftLanguageModes: [.v6]
)
