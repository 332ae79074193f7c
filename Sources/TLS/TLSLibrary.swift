// Loading the system's OpenSSL 3 at run time, once per process.
import CBrokerShim

/// The system's OpenSSL 3 (`libssl.so.3`, `libcrypto.so.3`), opened with `dlopen` the first time
/// TLS is asked for. Building needs no OpenSSL; a process that never configures TLS never loads it.
/// Any thread; loading happens once.
public enum TLSLibrary {
    /// Loads the library if it is not loaded yet; throws why it cannot be (missing, too old).
    public static func load() throws(TLSError) {
        var message = [CChar](repeating: 0, count: 512)
        if cbroker_tls_load(&message, message.count) != 0 { throw TLSError(text(of: message)) }
    }

    /// Whether the library can be loaded on this system.
    public static var isAvailable: Bool { (try? load()) != nil }
}

/// Reads a C string the shim wrote into `buffer`.
func text(of buffer: [CChar]) -> String {
    buffer.withUnsafeBufferPointer { pointer in
        guard let base = pointer.baseAddress else { return "" }
        return String(cString: base)
    }
}
