// SHA-1 against FIPS 180-4's vectors, RFC 6455's handshake example, and every padding case.
import Testing
import Protocol

@Suite struct SHA1Tests {
    @Test func theStandardVectors() {
        #expect(SHA1.hex(of: []) == "da39a3ee5e6b4b0d3255bfef95601890afd80709")
        #expect(SHA1.hex(of: Array("abc".utf8)) == "a9993e364706816aba3e25717850c26c9cd0d89d")
        #expect(SHA1.hex(of: Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8))
            == "84983e441c3bd26ebaae4aa1f95129e5e54670f1")
        #expect(SHA1.hex(of: Array("The quick brown fox jumps over the lazy dog".utf8)) == "2fd4e1c67a2d28fced849ee1bb76e7391b93eb12")
        #expect(SHA1.hex(of: [UInt8](repeating: UInt8(ascii: "a"), count: 1_000_000)) == "34aa973cd4c4daa4f61eeb2bdbad27316534016f")
    }

    @Test func rfc6455sAcceptKeyExample() {
        // "dGhlIHNhbXBsZSBub25jZQ==" + the protocol's GUID; base64 of the digest is s3pPLMBiTxaQ9kYGzzhZRbK+xOo=.
        let input = Array("dGhlIHNhbXBsZSBub25jZQ==258EAFA5-E914-47DA-95CA-C5AB0DC85B11".utf8)
        #expect(SHA1.digest(of: input) == [0xb3, 0x7a, 0x4f, 0x2c, 0xc0, 0x62, 0x4f, 0x16, 0x90, 0xf6,
                                           0x46, 0x06, 0xcf, 0x38, 0x59, 0x45, 0xb2, 0xbe, 0xc4, 0xea])
    }

    /// Lengths around the 56-byte padding limit and the 64-byte block (digests from an
    /// independent implementation): the length field in the same block, in the next one, and exactly full.
    @Test(arguments: [
        (55, "c1c8bbdc22796e28c0e15163d20899b65621d65a"), (56, "c2db330f6083854c99d4b5bfb6e8f29f201be699"),
        (57, "f08f24908d682555111be7ff6f004e78283d989a"), (63, "03f09f5b158a7a8cdad920bddc29b81c18a551f5"),
        (64, "0098ba824b5c16427bd7a1122a5a442a25ec644d"), (65, "11655326c708d70319be2610e8a57d9a5b959d3b"),
        (119, "ee971065aaa017e0632a8ca6c77bb3bf8b1dfc56"), (120, "f34c1488385346a55709ba056ddd08280dd4c6d6"),
        (128, "ad5b3fdbcb526778c2839d2f151ea753995e26a0"),
    ])
    func everyPaddingCase(length: Int, expected: String) {
        #expect(SHA1.hex(of: [UInt8](repeating: UInt8(ascii: "a"), count: length)) == expected)
    }

    @Test func everyByteValue() {
        let input = (0..<4).flatMap { _ in (0...255).map { UInt8($0) } }
        #expect(SHA1.hex(of: input) == "5b00669c480d5cffbdfa8bdba99561160f2d1b77")
    }
}
