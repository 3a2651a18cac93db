// Tests of base/json_writer.h and base/utf8.h: every string written is valid JSON and
// UTF-8 whatever the bytes, well-formed UTF-8 is kept, other bytes read as Latin-1.
#include "base/json_writer.h"

#include <doctest/doctest.h>

#include <cstdint>
#include <random>
#include <string>

#include "base/utf8.h"

namespace tern {
namespace {

std::string Quoted(std::string_view s) {
  std::string out;
  json::AppendString(out, s);
  return out;
}

// Decodes a JSON string literal the strict way (RFC 8259: no raw control bytes, only
// the defined escapes, \u with four hex digits, surrogates paired) into UTF-8; false
// when the literal is not valid JSON or not valid UTF-8.
bool DecodeLiteral(std::string_view text, std::string* out) {
  if (!IsValidUtf8(text) || text.size() < 2 || text.front() != '"' || text.back() != '"') {
    return false;
  }
  out->clear();
  auto hex4 = [&](size_t at, uint32_t* v) {
    if (at + 4 > text.size() - 1) return false;
    *v = 0;
    for (size_t k = at; k < at + 4; ++k) {
      const char c = text[k];
      const int d = c >= '0' && c <= '9'   ? c - '0'
                    : c >= 'a' && c <= 'f' ? c - 'a' + 10
                    : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                           : -1;
      if (d < 0) return false;
      *v = *v * 16 + static_cast<uint32_t>(d);
    }
    return true;
  };
  for (size_t i = 1; i + 1 < text.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    if (c < 0x20 || c == '"') return false;
    if (c != '\\') {
      out->push_back(static_cast<char>(c));
      continue;
    }
    if (i + 2 >= text.size()) return false;
    const char e = text[++i];
    switch (e) {
      case '"': case '\\': case '/': out->push_back(e); break;
      case 'b': out->push_back('\b'); break;
      case 'f': out->push_back('\f'); break;
      case 'n': out->push_back('\n'); break;
      case 'r': out->push_back('\r'); break;
      case 't': out->push_back('\t'); break;
      case 'u': {
        uint32_t cp;
        if (!hex4(i + 1, &cp)) return false;
        i += 4;
        if (cp >= 0xD800 && cp <= 0xDFFF) return false;  // AppendString never writes these
        if (cp < 0x80) {
          out->push_back(static_cast<char>(cp));
        } else if (cp < 0x800) {
          out->push_back(static_cast<char>(0xC0 | cp >> 6));
          out->push_back(static_cast<char>(0x80 | (cp & 63)));
        } else {
          out->push_back(static_cast<char>(0xE0 | cp >> 12));
          out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 63)));
          out->push_back(static_cast<char>(0x80 | (cp & 63)));
        }
        break;
      }
      default: return false;
    }
  }
  return true;
}

// What AppendString promises: well-formed sequences kept, every other byte as the
// code point of the same number.
std::string Expected(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size();) {
    const size_t n = Utf8SequenceLength(s, i);
    if (n != 0) {
      out.append(s.substr(i, n));
      i += n;
    } else {
      const unsigned char c = static_cast<unsigned char>(s[i++]);
      out.push_back(static_cast<char>(0xC0 | c >> 6));
      out.push_back(static_cast<char>(0x80 | (c & 63)));
    }
  }
  return out;
}

TEST_CASE("UTF-8: well-formed sequences and the ways to break one") {
  CHECK(IsValidUtf8(""));
  CHECK(IsValidUtf8("plain ascii \x7F"));
  CHECK(IsValidUtf8("\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80 \xF4\x8F\xBF\xBF \xED\x9F\xBF"));
  for (std::string_view bad :
       {"\x80", "\xBF", "\xC0\x80", "\xC1\xBF", "\xC3", "\xC3\x28", "\xE2\x82", "\xE0\x80\x80",
        "\xE0\x9F\xBF", "\xED\xA0\x80", "\xED\xBF\xBF", "\xF0\x8F\xBF\xBF", "\xF4\x90\x80\x80",
        "\xF5\x80\x80\x80", "\xFF", "\xFE", "\xF0\x9F\x98"}) {
    CAPTURE(bad);
    CHECK_FALSE(IsValidUtf8(bad));
  }
}

TEST_CASE("UTF-8: a prefix never ends inside a sequence") {
  const std::string s = "ab\xC3\xA9" "c\xE2\x82\xAC" "d\xF0\x9F\x98\x80";
  CHECK(Utf8Prefix(s, 100) == s);
  CHECK(Utf8Prefix(s, 2) == "ab");
  CHECK(Utf8Prefix(s, 3) == "ab");
  CHECK(Utf8Prefix(s, 4) == "ab\xC3\xA9");
  CHECK(Utf8Prefix(s, 6) == "ab\xC3\xA9" "c");
  CHECK(Utf8Prefix(s, 7) == "ab\xC3\xA9" "c");
  CHECK(Utf8Prefix(s, 8) == "ab\xC3\xA9" "c\xE2\x82\xAC");
  CHECK(Utf8Prefix(s, 10) == "ab\xC3\xA9" "c\xE2\x82\xAC" "d");
  CHECK(Utf8Prefix(s, 12) == "ab\xC3\xA9" "c\xE2\x82\xAC" "d");
  // Bytes that are not UTF-8 anyway are cut like any byte.
  CHECK(Utf8Prefix("a\xFF\xFF\xFF\xFF", 3) == "a\xFF\xFF");
  for (size_t max = 0; max <= s.size(); ++max) {
    CAPTURE(max);
    CHECK(IsValidUtf8(Utf8Prefix(s, max)));
    CHECK(Utf8Prefix(s, max).size() + 3 >= max);
  }
}

TEST_CASE("JSON strings: invalid UTF-8 is written as its Latin-1 reading") {
  CHECK(Quoted("caf\xC3\xA9") == "\"caf\xC3\xA9\"");
  CHECK(Quoted("caf\xE9") == "\"caf\\u00e9\"");
  CHECK(Quoted("\xFF\xFE") == "\"\\u00ff\\u00fe\"");
  CHECK(Quoted("\xC3") == "\"\\u00c3\"");               // cut sequence at the end
  CHECK(Quoted("\xED\xA0\x80") == "\"\\u00ed\\u00a0\\u0080\"");  // a surrogate
  CHECK(Quoted("\xC0\xAF") == "\"\\u00c0\\u00af\"");   // overlong '/'
  CHECK(Quoted(std::string_view("a\x00" "b\x1F\x7F", 5)) == "\"a\\u0000b\\u001f\x7F\"");
}

TEST_CASE("JSON strings: random bytes always make a valid literal that reads back") {
  std::mt19937_64 rng(13);
  const std::string_view pieces[] = {"\xC3\xA9", "\xE2\x82\xAC", "\xF0\x9F\x98\x80", "\"", "\\",
                                     "\n", "a", "\xED\xA0\x80", "\xF4\x90\x80\x80"};
  for (int round = 0; round < 5000; ++round) {
    std::string s;
    const size_t length = rng() % 24;
    for (size_t k = 0; k < length; ++k) {
      if (rng() % 3 == 0) {
        s += pieces[rng() % std::size(pieces)];
      } else {
        s.push_back(static_cast<char>(rng() & 0xFF));
      }
    }
    const std::string text = Quoted(s);
    std::string decoded;
    CAPTURE(s);
    CAPTURE(text);
    REQUIRE(DecodeLiteral(text, &decoded));
    CHECK(decoded == Expected(s));
    if (IsValidUtf8(s)) CHECK(decoded == s);
  }
}

TEST_CASE("base64") {
  auto b64 = [](std::string_view s) {
    std::string out;
    json::AppendBase64(out, s);
    return out;
  };
  // RFC 4648 section 10.
  CHECK(b64("") == "\"\"");
  CHECK(b64("f") == "\"Zg==\"");
  CHECK(b64("fo") == "\"Zm8=\"");
  CHECK(b64("foo") == "\"Zm9v\"");
  CHECK(b64("foob") == "\"Zm9vYg==\"");
  CHECK(b64("fooba") == "\"Zm9vYmE=\"");
  CHECK(b64("foobar") == "\"Zm9vYmFy\"");
  CHECK(b64(std::string_view("\xFF\xFE\x00", 3)) == "\"//4A\"");
}

}  // namespace
}  // namespace tern
