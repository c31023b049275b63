// The bounds-checked reader: every out-of-range access is a FormatError with source and absolute offset.
#include <measure/util/errors.hpp>
#include <measure/util/reader.hpp>

#include <catch2/catch.hpp>

using namespace mrforge;

TEST_CASE("The reader reads little-endian integers and tracks its position", "[reader]") {
  const uint8_t data[] = {0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09};
  Reader r(ByteView(data, sizeof data), "blob");
  CHECK(r.read_le<uint8_t>() == 0x01);
  CHECK(r.read_le<uint16_t>() == 0x0302);
  CHECK(r.read_le<uint32_t>() == 0x07060504u);
  CHECK(r.pos() == 7);
  CHECK(r.remaining() == 2);
  CHECK(r.peek_le<uint64_t>(1) == 0x0908070605040302ull);
  CHECK(r.pos() == 7);
}

TEST_CASE("Reading past the end names the source and the absolute offset", "[reader]") {
  const uint8_t data[8] = {};
  Reader outer(ByteView(data, sizeof data), "OVMF.fd", 0x1000);
  Reader r = outer.sub(4, 4, "descriptor");
  r.skip(2);
  try {
    r.read_le<uint32_t>();
    FAIL("no error");
  } catch (const FormatError &e) {
    CHECK(e.source() == "OVMF.fd");
    CHECK(e.offset() == 0x1006);
    CHECK(std::string(e.what()).rfind("OVMF.fd+0x1006: truncated", 0) == 0);
  }
  CHECK_THROWS_AS(outer.sub(5, 4, "x"), FormatError);
  CHECK_THROWS_AS(outer.sub(9, 0, "x"), FormatError);
  CHECK_THROWS_AS(outer.view(0, SIZE_MAX, "huge"), FormatError); // no overflow in the range check
  CHECK_NOTHROW(outer.sub(8, 0, "empty tail"));
  CHECK_THROWS_AS(r.seek(5), FormatError);
}

TEST_CASE("expect() checks magic bytes", "[reader]") {
  std::string text = "TDVF....";
  Reader r(ByteView::of(text), "fw");
  CHECK_NOTHROW(r.expect(ByteView::of("TDVF"), "signature"));
  CHECK_THROWS_WITH(r.expect(ByteView::of("TDVF"), "signature"), Catch::Contains("fw+0x4: bad signature"));
}

TEST_CASE("Checked arithmetic refuses to overflow", "[reader]") {
  Reader r(ByteView(), "hdr");
  CHECK(checked_add(r, 0, 1, 2, "sum") == 3);
  CHECK_THROWS_WITH(checked_add(r, 0, UINT64_MAX, 1, "offset + size"), Catch::Contains("offset + size overflows"));
  CHECK(checked_mul(r, 0, 1u << 20, 4096, "pages") == (1ull << 32));
  CHECK_THROWS_AS(checked_mul(r, 0, UINT64_MAX / 2, 3, "count * size"), FormatError);
}
