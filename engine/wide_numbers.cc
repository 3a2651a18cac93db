// Parsing JSON with numbers outside simdjson's range: a rewrite of those numbers as
// placeholders, a second parse, and their values set on the DOM's tape.
//
// Why the tape: the DOM keeps no position of an element in the text, so a placeholder
// cannot be told from the same value written in the input; but the tape lists numbers
// in text order, so the n-th number on it is the n-th number token of the text. The
// tape format (a word tagged 'l', 'u' or 'd', then the value) is simdjson's documented
// one (doc/tape.md), and dom::document exposes it; PatchTape checks that each
// placeholder is where the count says and refuses the text otherwise.
// Tested by tests/unit/engine/event_parser_test.cc (and the fuzzers in tests/fuzz/).
#include "engine/wide_numbers.h"

#include <charconv>
#include <cmath>
#include <cstring>
#include <string_view>

namespace tern::engine {

namespace dom = simdjson::dom;

namespace {

bool IsDigitChar(char c) { return c >= '0' && c <= '9'; }

// The meaning of a JSON number the DOM parser refuses, or false when the text is not a
// JSON number or one the DOM parser takes as it is (an underflow to 0 included).
bool WideNumber(std::string_view text, double* value) {
  size_t i = 0;
  const bool negative = i < text.size() && text[i] == '-';
  i += negative;
  const size_t int_begin = i;
  while (i < text.size() && IsDigitChar(text[i])) ++i;
  const size_t int_digits = i - int_begin;
  if (int_digits == 0 || (int_digits > 1 && text[int_begin] == '0')) return false;
  bool is_float = false;
  if (i < text.size() && text[i] == '.') {
    const size_t begin = ++i;
    while (i < text.size() && IsDigitChar(text[i])) ++i;
    if (i == begin) return false;
    is_float = true;
  }
  if (i < text.size() && (text[i] == 'e' || text[i] == 'E')) {
    ++i;
    if (i < text.size() && (text[i] == '+' || text[i] == '-')) ++i;
    const size_t begin = i;
    while (i < text.size() && IsDigitChar(text[i])) ++i;
    if (i == begin) return false;
    is_float = true;
  }
  if (i != text.size()) return false;
  if (!is_float) {
    uint64_t magnitude;
    const auto r = std::from_chars(text.data() + int_begin, text.data() + text.size(), magnitude);
    const bool fits = r.ec == std::errc() && (!negative || magnitude <= (uint64_t{1} << 63));
    if (fits) return false;  // int64, or uint64 above INT64_MAX: the DOM takes it
  }
  const auto r = std::from_chars(text.data(), text.data() + text.size(), *value);
  if (r.ec == std::errc()) return !is_float;  // finite: the DOM reads floats the same
  // Out of range (then from_chars leaves *value alone): an overflow when the first
  // significant digit is worth 10^0 or more, else an underflow, which the DOM parser
  // itself turns into 0. Without leading zeros (JSON has none), the first significant
  // digit is the integer part's first, or the first nonzero one of the fraction.
  const size_t e = text.find_first_of("eE");
  const std::string_view mantissa =
      text.substr(int_begin, e == std::string_view::npos ? std::string_view::npos : e - int_begin);
  int64_t first;  // the power of ten of the first significant digit, exponent aside
  if (mantissa[0] != '0') {
    first = static_cast<int64_t>(int_digits) - 1;
  } else {
    const size_t nonzero = mantissa.find_first_not_of("0.");
    if (nonzero == std::string_view::npos) return false;  // zero is never out of range
    first = 1 - static_cast<int64_t>(nonzero);  // "0.001": index 4, 10^-3
  }
  int64_t exponent = 0;
  if (e != std::string_view::npos) {
    size_t k = e + 1;
    const bool minus = text[k] == '-';
    k += text[k] == '+' || text[k] == '-';
    for (; k < text.size(); ++k) {
      if (exponent < 100000000) exponent = exponent * 10 + (text[k] - '0');
    }
    if (minus) exponent = -exponent;
  }
  if (first + exponent < 0) return false;  // an underflow
  *value = negative ? -HUGE_VAL : HUGE_VAL;
  return true;
}

// Rewrites text[0, size) in place: each number outside strings that WideNumber takes
// becomes "0.0" (never longer: such numbers have at least 5 characters) and a patch.
// Returns the new size.
size_t RewriteWideNumbers(char* text, size_t size, std::vector<NumberPatch>* patches) {
  patches->clear();
  size_t out = 0;
  uint32_t ordinal = 0;
  bool in_string = false;
  for (size_t i = 0; i < size;) {
    const char c = text[i];
    if (in_string) {
      text[out++] = text[i++];
      if (c == '\\' && i < size) {
        text[out++] = text[i++];
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    if (c != '-' && !IsDigitChar(c)) {
      in_string = c == '"';
      text[out++] = text[i++];
      continue;
    }
    size_t end = i + 1;
    while (end < size && (IsDigitChar(text[end]) || text[end] == '.' || text[end] == 'e' ||
                          text[end] == 'E' || text[end] == '+' || text[end] == '-')) {
      ++end;
    }
    double value;
    if (WideNumber(std::string_view(text + i, end - i), &value)) {
      patches->push_back({ordinal, value});
      std::memcpy(text + out, "0.0", 3);
      out += 3;
    } else {
      std::memmove(text + out, text + i, end - i);
      out += end - i;
    }
    ++ordinal;
    i = end;
  }
  return out;
}

// Sets the patched numbers' values on the tape of the document just parsed (simdjson's
// documented tape format: a number is a word tagged 'l', 'u' or 'd', then its value).
// False when the tape does not hold the numbers where the patches say.
bool PatchTape(dom::document& doc, const std::vector<NumberPatch>& patches) {
  uint64_t* tape = doc.tape.get();
  const size_t end = tape[0] & simdjson::internal::JSON_VALUE_MASK;  // the closing root word
  uint32_t ordinal = 0;
  size_t next = 0;
  for (size_t i = 1; i < end && next < patches.size();) {
    const char type = static_cast<char>(tape[i] >> 56);
    if (type != 'l' && type != 'u' && type != 'd') {
      ++i;
      continue;
    }
    if (ordinal == patches[next].ordinal) {
      if (type != 'd') return false;
      std::memcpy(&tape[i + 1], &patches[next].value, sizeof(double));
      ++next;
    }
    ++ordinal;
    i += 2;
  }
  return next == patches.size();
}

}  // namespace

simdjson::error_code ParseWithWideNumbers(dom::parser& parser, char* text, size_t size,
                                          std::vector<NumberPatch>& patches, dom::element* root) {
  simdjson::error_code code = parser.parse(text, size, false).get(*root);
  if (code != simdjson::NUMBER_ERROR) return code;
  const size_t rewritten = RewriteWideNumbers(text, size, &patches);
  if (patches.empty()) return code;  // a malformed number
  std::memset(text + rewritten, 0, size - rewritten + simdjson::SIMDJSON_PADDING);
  code = parser.parse(text, rewritten, false).get(*root);
  if (code == simdjson::SUCCESS && !PatchTape(parser.doc, patches)) return simdjson::NUMBER_ERROR;
  return code;
}

}  // namespace tern::engine
