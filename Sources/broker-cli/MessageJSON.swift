// The `sub --json` line of a message with its position, and its payload as UTF-8 text or, failing that, base64.
import BrokerClient
import Protocol

extension JSONFormat {
    /// Appends one JSON object and a LF:
    /// `{"topic": ..., "epoch": ..., "seq": ..., "payload": ..., "time": ...}`.
    ///
    /// - `epoch` is there when the stream's epoch is known (a subscription to the
    ///   concrete topic, version 2), `seq` whenever the message has one (version 2);
    ///   `seq` is a decimal string, as it may pass 2^53 (JSON readers' exact integers).
    /// - A payload that is valid UTF-8 is a JSON string (escaped as needed); any other
    ///   payload is its base64 text (RFC 4648) followed by `"base64": true`, so every
    ///   byte survives. Every value is a string except that flag.
    static func appendMessage(_ message: MessageView, formattedTime: String, to out: inout [UInt8]) {
        out.append(contentsOf: #"{"topic": "#.utf8)
        appendString(message.topic.utf8, to: &out)
        if let epoch = message.epoch {
            out.append(contentsOf: #", "epoch": "#.utf8)
            appendString(epoch.utf8, to: &out)
        }
        if let seq = message.seq {
            out.append(contentsOf: #", "seq": ""#.utf8)
            out.append(contentsOf: String(seq).utf8)
            out.append(0x22)
        }
        out.append(contentsOf: #", "payload": "#.utf8)
        if !appendText(message.payload, to: &out) {
            out.append(0x22)
            Base64.append(message.payload, to: &out)
            out.append(contentsOf: #"", "base64": true"#.utf8)
        }
        out.append(contentsOf: #", "time": ""#.utf8)
        out.append(contentsOf: formattedTime.utf8)
        out.append(contentsOf: "\"}\n".utf8)
    }

    /// Appends `bytes` as a quoted JSON string when they are valid UTF-8; false (nothing
    /// appended) when they are not.
    static func appendText(_ bytes: UnsafeRawBufferPointer, to out: inout [UInt8]) -> Bool {
        // The common case, printable ASCII without quote or backslash, is copied as it is.
        if bytes.allSatisfy({ $0 >= 0x20 && $0 < 0x7F && $0 != 0x22 && $0 != 0x5C }) {
            out.append(0x22)
            out.append(contentsOf: bytes)
            out.append(0x22)
            return true
        }
        let text = String(decoding: bytes, as: UTF8.self)
        guard text.utf8.elementsEqual(bytes) else { return false }  // a repair changed a byte: not UTF-8
        out.append(0x22)
        for byte in text.utf8 { appendEscaped(byte, to: &out) }
        out.append(0x22)
        return true
    }
}
