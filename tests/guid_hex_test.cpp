// GUIDs in EFI layout, hex, SHA-2 and the memory-size parser.
#include <measure/engine/engine.hpp>
#include <measure/formats/guid.hpp>
#include <measure/util/errors.hpp>
#include <measure/util/hash.hpp>
#include <measure/util/size_text.hpp>

#include <catch2/catch.hpp>

using namespace mrforge;

TEST_CASE("GUIDs round-trip between registry text and EFI byte layout", "[guid]") {
  Guid g = Guid::parse("8BE4DF61-93CA-11D2-AA0D-00E098032B8C");
  // EFI layout: the first three groups little-endian (as in the UEFI_VARIABLE_DATA of real logs: 61dfe48bca93d211...).
  CHECK(to_hex(ByteView(g.bytes.data(), 16)) == "61dfe48bca93d211aa0d00e098032b8c");
  CHECK(g.str() == "8be4df61-93ca-11d2-aa0d-00e098032b8c");
  CHECK_THROWS_AS(Guid::parse("8be4df61-93ca-11d2-aa0d-00e098032b8"), InputError);
  CHECK_THROWS_AS(Guid::parse("8be4df61x93ca-11d2-aa0d-00e098032b8c"), InputError);
  CHECK_THROWS_AS(Guid::parse("zbe4df61-93ca-11d2-aa0d-00e098032b8c"), InputError);
}

TEST_CASE("Hex decoding rejects odd lengths and non-digits and SHA-384 digests must have 48 bytes", "[hex]") {
  CHECK(from_hex("00ffAB", "x") == Bytes{0x00, 0xff, 0xab});
  CHECK_THROWS_WITH(from_hex("abc", "--digest cfv"), Catch::Contains("--digest cfv") && Catch::Contains("odd"));
  CHECK_THROWS_WITH(from_hex("zz", "x"), Catch::Contains("not a hex digit"));
  CHECK_THROWS_WITH(sha384_from_hex("00", "--digest kernel"), Catch::Contains("96 hex digits"));
}

TEST_CASE("SHA-384 and SHA-256 match the FIPS 180-2 'abc' examples", "[hash]") {
  // FIPS 180-2, appendix D.1 / B.1.
  CHECK(to_hex(sha384(ByteView::of("abc"))) ==
        "cb00753f45a35e8bb5a03d699ac65007272c32ab0eded1631a8b605a43ff5bed8086072ba1e7cc2358baeca134c825a7");
  CHECK(to_hex(sha256(ByteView::of("abc"))) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  Hasher h(HashAlgorithm::sha384);
  h.update(ByteView::of("a")).update(ByteView::of("bc"));
  CHECK(to_hex(h.finish()) == to_hex(sha384(ByteView::of("abc"))));
}

TEST_CASE("Memory sizes accept 2G, 2048M, GiB suffixes and bytes, and refuse absurd values", "[memory]") {
  CHECK(parse_memory_size("2G") == (2ull << 30));
  CHECK(parse_memory_size("2048M") == (2ull << 30));
  CHECK(parse_memory_size("2GiB") == (2ull << 30));
  CHECK(parse_memory_size("2147483648") == (2ull << 30));
  CHECK(parse_memory_size("64g") == (64ull << 30));
  CHECK(parse_memory_size("1T") == (1ull << 40));
  CHECK(parse_memory_size("0x80000000") == (2ull << 30));
  CHECK_THROWS_WITH(parse_memory_size("0"), Catch::Contains("zero"));
  CHECK_THROWS_WITH(parse_memory_size("-1G"), Catch::Contains("not a size"));
  CHECK_THROWS_WITH(parse_memory_size("2X"), Catch::Contains("unknown unit"));
  CHECK_THROWS_WITH(parse_memory_size("100T"), Catch::Contains("64 TiB"));
  CHECK_THROWS_WITH(parse_memory_size("99999999999999999999999"), Catch::Contains("too large"));
  CHECK_THROWS_WITH(parse_memory_size("1000"), Catch::Contains("4 KiB"));
  CHECK(format_memory_size(2ull << 30) == "2 GiB");
  CHECK(format_memory_size(2560ull << 20) == "2560 MiB");
}
