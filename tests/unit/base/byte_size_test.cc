// Tests of base/byte_size.h.
#include "base/byte_size.h"

#include <doctest/doctest.h>

namespace tern {
namespace {

TEST_CASE("ParseByteSize takes an integer and an optional binary unit") {
  uint64_t v = 0;
  CHECK(ParseByteSize("0", &v));
  CHECK(v == 0);
  CHECK(ParseByteSize("1048576", &v));
  CHECK(v == 1048576);
  CHECK(ParseByteSize("100B", &v));
  CHECK(v == 100);
  CHECK(ParseByteSize("64KiB", &v));
  CHECK(v == 65536);
  CHECK(ParseByteSize("1MiB", &v));
  CHECK(v == 1048576);
  CHECK(ParseByteSize("2GiB", &v));
  CHECK(v == (uint64_t{2} << 30));
  for (const char* bad : {"", "MiB", "1 MiB", " 1MiB", "1MB", "1KB", "1mib", "1.5MiB", "-1",
                          "+1", "1MiBs", "18446744073709551616", "17179869184GiB"}) {
    CAPTURE(bad);
    CHECK_FALSE(ParseByteSize(bad, &v));
  }
  CHECK(ParseByteSize("18446744073709551615", &v));
  CHECK(v == UINT64_MAX);
}

TEST_CASE("FormatByteSize reads back") {
  CHECK(FormatByteSize(0) == "0B");
  CHECK(FormatByteSize(100) == "100B");
  CHECK(FormatByteSize(1024) == "1KiB");
  CHECK(FormatByteSize(1536 * 1024) == "1536KiB");
  CHECK(FormatByteSize(1 << 20) == "1MiB");
  CHECK(FormatByteSize(uint64_t{3} << 30) == "3GiB");
  for (uint64_t v : {uint64_t{1}, uint64_t{1000}, uint64_t{4096}, uint64_t{1} << 40, UINT64_MAX}) {
    uint64_t back = 0;
    CHECK(ParseByteSize(FormatByteSize(v), &back));
    CHECK(back == v);
  }
}

}  // namespace
}  // namespace tern
