// Byte constants and small byte helpers shared by the framer, parser and encoder.

@usableFromInline enum ASCII {
    @usableFromInline static let lf: UInt8 = 0x0A
    @usableFromInline static let cr: UInt8 = 0x0D
    @usableFromInline static let space: UInt8 = 0x20
    @usableFromInline static let zero: UInt8 = 0x30
    @usableFromInline static let upperO: UInt8 = 0x4F
    @usableFromInline static let upperK: UInt8 = 0x4B
    @usableFromInline static let firstPrintable: UInt8 = 0x21
    @usableFromInline static let lastPrintable: UInt8 = 0x7E
}

extension UnsafeRawBufferPointer {
    /// The index of the first `byte` at or after `from`, or nil.
    @inlinable
    func firstIndex(of byte: UInt8, from: Int) -> Int? {
        guard from < count, let base = baseAddress else { return nil }
        guard let hit = memchr(base + from, Int32(byte), count - from) else { return nil }
        return UnsafeRawPointer(hit) - base
    }

    /// The bytes in `range`, as a buffer over the same memory.
    @inlinable
    func slice(_ range: Range<Int>) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(rebasing: self[range])
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
