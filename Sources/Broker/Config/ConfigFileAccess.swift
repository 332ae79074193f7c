#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
// The fuzz build (scripts/fuzz.sh) compiles Config alone, with a stand-in for SystemError's text.
#if canImport(Posix)
import Posix
#endif

/// The file system operations configuration loading needs, injectable so
/// tests can run without real files.
///
/// Guarantees: `read` returns the whole file as UTF-8 text or a short,
/// one-line reason (e.g. `No such file or directory`); `exists` never throws.
/// `live` uses the real file system through Glibc.
public struct ConfigFileAccess: Sendable {
    /// Whether something exists at the path (readable or not).
    public var exists: @Sendable (_ path: String) -> Bool
    /// The file's text, or a reason it could not be read.
    public var read: @Sendable (_ path: String) -> Result<String, FileReadFailure>

    public init(
        exists: @escaping @Sendable (_ path: String) -> Bool,
        read: @escaping @Sendable (_ path: String) -> Result<String, FileReadFailure>
    ) {
        self.exists = exists
        self.read = read
    }

    /// An in-memory file system holding exactly `files` (path → text).
    public static func inMemory(_ files: [String: String]) -> ConfigFileAccess {
        ConfigFileAccess(
            exists: { files[$0] != nil },
            read: { path in
                files[path].map { .success($0) } ?? .failure(FileReadFailure(reason: "No such file or directory"))
            })
    }

    /// The real file system.
    public static let live = ConfigFileAccess(
        exists: { path in access(path, F_OK) == 0 },
        read: readWholeFile)

    /// Reads a configuration file (at most 16 MiB) with open/read.
    static func readWholeFile(_ path: String) -> Result<String, FileReadFailure> {
        let limit = 16 << 20
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return .failure(.errno(errno)) }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let count = chunk.withUnsafeMutableBytes { readBytes(fd, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                return .failure(.errno(errno))
            }
            if count == 0 { break }
            bytes.append(contentsOf: chunk[0..<count])
            if bytes.count > limit {
                return .failure(FileReadFailure(reason: "file is larger than \(limit) bytes"))
            }
        }
        guard let text = String(validating: bytes, as: UTF8.self) else {
            return .failure(FileReadFailure(reason: "file is not valid UTF-8"))
        }
        return .success(text)
    }
}

/// `read(2)`, named so it cannot clash with `ConfigFileAccess.read`.
private func readBytes(_ fd: Int32, _ buffer: UnsafeMutableRawPointer?, _ count: Int) -> Int {
    read(fd, buffer, count)
}

/// Why a file could not be read: a short, one-line reason.
public struct FileReadFailure: Error, Sendable, Equatable {
    public let reason: String
    public init(reason: String) { self.reason = reason }

    static func errno(_ code: Int32) -> FileReadFailure {
        FileReadFailure(reason: SystemError.text(errno: code))
    }
}

/// Loads a configuration file: reads it through a `ConfigFileAccess` and
/// parses it with `ConfigFileParser`.
///
/// Guarantees: an unreadable file gives `ConfigError.unreadableFile` naming
/// the path; a bad entry gives `ConfigError.badFileEntry` naming the path and
/// line. Both exit with 78.
public enum ConfigLoader {
    public static func load(
        path: String, base: BrokerConfig = BrokerConfig(), files: ConfigFileAccess = .live
    ) throws(ConfigError) -> BrokerConfig {
        switch files.read(path) {
        case let .success(text):
            return try ConfigFileParser.parse(text, file: path, base: base)
        case let .failure(failure):
            throw ConfigError.unreadableFile(file: path, reason: "cannot read configuration file: \(failure.reason)")
        }
    }
}
