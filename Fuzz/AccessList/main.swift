// libFuzzer target: AccessListParser on the input as an acl_file, and the pattern algebra on what it accepts.
//
// Built with the sources of Sources/Protocol, Sources/Broker/Config and Sources/Broker/Access in
// one module (see scripts/fuzz.sh). Every check traps on failure so libFuzzer reports it.

#if canImport(Glibc)
import Glibc
#endif

func fail(_ message: String) -> Never {
    var line = "fuzz invariant violated: \(message)\n"
    line.withUTF8 { _ = write(2, $0.baseAddress, $0.count) }
    abort()
}

func check(_ condition: Bool, _ message: @autoclosure () -> String) {
    if !condition { fail(message()) }
}

/// The token the in-memory token file holds: never in an error's text.
let secretToken = "fuzz-secret-token-4711"
let files = ConfigFileAccess.inMemory(["/acl/fuzz.acl": "", "/acl/t": secretToken + "\n", "/t": secretToken])

func hex(_ bytes: [UInt8]) -> String {
    let digits = Array("0123456789abcdef".utf8)
    return String(decoding: bytes.flatMap { [digits[Int($0 >> 4)], digits[Int($0 & 0x0F)]] }, as: UTF8.self)
}

/// The list written back as an acl_file (tokens as their digests).
func rendered(_ list: AccessList) -> String {
    var text = ""
    for name in list.userNames {
        guard let user = list.user(name) else { fail("userNames lists \(name), user(\(name)) is nil") }
        text += "user \(name)\n"
        if let digest = user.tokenDigest { text += "token_sha256 \(hex(digest))\n" }
        text += "certificate \(user.certificateLogin ? "on" : "off")\n"
        for (key, patterns) in [("publish_allow", user.publish.allow), ("publish_deny", user.publish.deny),
                                ("subscribe_allow", user.subscribe.allow), ("subscribe_deny", user.subscribe.deny)]
        where !patterns.isEmpty {
            text += "\(key) \(patterns.map(\.description).joined(separator: " "))\n"
        }
    }
    return text
}

func checkPatterns(_ patterns: [RulePattern]) {
    for p in patterns {
        check(p.covers(p), "\(p) does not cover itself")
        check(p.overlaps(p), "\(p) does not overlap itself")
        check(RulePattern(p.bytes) == p, "\(p) parses differently")
        for q in patterns {
            check(p.overlaps(q) == q.overlaps(p), "overlaps is not symmetric for \(p), \(q)")
            if p.covers(q) { check(p.overlaps(q), "\(p) covers \(q) but does not overlap it") }
            if p.covers(q) && q.covers(p) { check(p == q, "\(p) and \(q) cover each other but differ") }
            for r in patterns where p.covers(q) && q.covers(r) {
                check(p.covers(r), "covers is not transitive: \(p) ⊇ \(q) ⊇ \(r)")
            }
        }
        // A concrete pattern is a topic: matching it agrees with covering it.
        if !p.bytes.contains(UInt8(ascii: "*")) && !p.bytes.contains(UInt8(ascii: ">")) {
            for q in patterns {
                let matched = p.bytes.withUnsafeBytes { q.matches(topic: $0) }
                check(matched == q.covers(p), "\(q) matches the topic \(p): \(matched), covers it: \(q.covers(p))")
            }
        }
    }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ start: UnsafeRawPointer, _ count: Int) -> CInt {
    let text = String(decoding: UnsafeRawBufferPointer(start: start, count: count), as: UTF8.self)
    let list: AccessList
    do {
        list = try AccessListParser.parse(text, file: "/acl/fuzz.acl", files: files)
    } catch {
        let description = error.description
        check(!description.contains(secretToken), "an error shows the token file's token: \(description)")
        for scalar in description.unicodeScalars where scalar.value < 0x20 || scalar.value == 0x7F {
            fail("error description contains control U+\(String(scalar.value, radix: 16))")
        }
        guard case let .badFileEntry(file, line, _, _) = error else { fail("parser threw \(error)") }
        check(file == "/acl/fuzz.acl", "error names \(file)")
        let lines = text.utf8.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).count
        check(line >= 1 && line <= lines, "error line \(line) outside 1...\(lines)")
        return 0
    }
    var patterns: [RulePattern] = []
    for name in list.userNames {
        guard let user = list.user(name) else { fail("no user \(name)") }
        check(user.tokenDigest != nil || user.certificateLogin, "user \(name) cannot log in")
        check(user.tokenDigest.map { $0.count == 32 } ?? true, "a digest of \(user.tokenDigest?.count ?? 0) bytes")
        patterns += user.publish.allow + user.publish.deny + user.subscribe.allow + user.subscribe.deny
        // Whatever an allow pattern names and no deny pattern touches may be subscribed to.
        for allowed in user.subscribe.allow where !user.subscribe.deny.contains(where: { $0.overlaps(allowed) }) {
            check(user.subscribe.permits(subscription: allowed), "\(name) may not subscribe to its own allow \(allowed)")
        }
        for denied in user.subscribe.deny {
            check(!user.subscribe.permits(subscription: denied), "\(name) may subscribe to its deny \(denied)")
        }
    }
    checkPatterns(Array(patterns.prefix(24)))
    // Written back and read again: the same users and grants.
    do {
        let again = try AccessListParser.parse(rendered(list), file: "/acl/fuzz.acl", files: files)
        check(again == list, "the rendered list parses differently")
    } catch {
        fail("the rendered list is refused: \(error)")
    }
    return 0
}
