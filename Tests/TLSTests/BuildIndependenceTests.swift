// Building needs no OpenSSL: no source includes its headers or imports a module of it, and the package links nothing of it.
import Foundation
import XCTest

final class BuildIndependenceTests: XCTestCase {
    private static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    func testNoSourceIncludesOpenSSLAndThePackageLinksNone() throws {
        let sources = Self.root.appendingPathComponent("Sources")
        guard let walker = FileManager.default.enumerator(at: sources, includingPropertiesForKeys: nil) else {
            return XCTFail("cannot list \(sources.path)")
        }
        var checked = 0
        for case let url as URL in walker where ["c", "h", "swift"].contains(url.pathExtension) {
            let text = try String(contentsOf: url, encoding: .utf8)
            XCTAssertFalse(text.contains("#include <openssl/"), "\(url.path) includes an OpenSSL header")
            XCTAssertFalse(text.contains("import OpenSSL"), "\(url.path) imports OpenSSL")
            checked += 1
        }
        XCTAssertGreaterThan(checked, 100)
        let package = try String(contentsOf: Self.root.appendingPathComponent("Package.swift"), encoding: .utf8)
        for linked in ["linkedLibrary(\"ssl\")", "linkedLibrary(\"crypto\")", "-lssl", "-lcrypto", "unsafeFlags"] {
            XCTAssertFalse(package.contains(linked), "Package.swift has \(linked)")
        }
        // The shim names the libraries only as strings for dlopen.
        let shim = try String(contentsOf: sources.appendingPathComponent("CBrokerShim/tls.c"), encoding: .utf8)
        XCTAssertTrue(shim.contains("dlopen"))
    }
}
