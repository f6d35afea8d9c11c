import XCTest
@testable import DeepScratchC

/// The C ABI's version functions agree with each other and with the header.
final class VersionTests: XCTestCase {
    /// The `DS_VERSION_*` macros of include/deepscratch.h, read from the file
    /// itself so the test fails when header and library drift apart.
    private func headerVersion() throws -> (major: Int, minor: Int, patch: Int, string: String) {
        // #filePath = <root>/Tests/DeepScratchCTests/VersionTests.swift
        var root = #filePath.split(separator: "/", omittingEmptySubsequences: false).dropLast(3).joined(separator: "/")
        if root.isEmpty { root = "/" }
        let text = try String(contentsOfFile: root + "/include/deepscratch.h", encoding: .utf8)
        func value(_ name: String) -> String? {
            for line in text.split(separator: "\n") {
                let parts = line.split(separator: " ", omittingEmptySubsequences: true)
                if parts.count >= 3, parts[0] == "#define", parts[1] == name { return String(parts[2]) }
            }
            return nil
        }
        let major = try XCTUnwrap(value("DS_VERSION_MAJOR").flatMap(Int.init))
        let minor = try XCTUnwrap(value("DS_VERSION_MINOR").flatMap(Int.init))
        let patch = try XCTUnwrap(value("DS_VERSION_PATCH").flatMap(Int.init))
        let string = try XCTUnwrap(value("DS_VERSION_STRING")).trimmingCharacters(in: CharacterSet(charactersIn: "\""))
        return (major, minor, patch, string)
    }

    func testVersionStringMatchesTheHeaderMacros() throws {
        let header = try headerVersion()
        let library = String(cString: ds_version())
        XCTAssertEqual(library, header.string)
        XCTAssertEqual(library, "\(header.major).\(header.minor).\(header.patch)")
    }

    func testMajorVersionMatchesTheHeader() throws {
        XCTAssertEqual(Int(ds_version_major()), try headerVersion().major)
    }

    func testVersionStringIsStaticAndStable() {
        // The same pointer every call: a static string the caller never frees.
        XCTAssertEqual(ds_version(), ds_version())
    }
}
