// JsonScanner: RFC 8259 validation of one line in a single forward pass.
//
// IMPLEMENTATION
// A recursive-descent recogniser unrolled into loops: the root object's members are
// walked by ScanWith(), nested arrays/objects by SkipNested() with a 64-bit stack of
// "is an object" bits, so nesting costs no recursion and is capped at kMaxDepth.
// The text is followed by a zero byte, which no JSON token accepts, so every loop
// stops at the end of the line without a bounds check, and by readable bytes
// (kJsonScanPadding in all) of any value, so blocks of 8 or 16 bytes can be loaded
// anywhere in the line: whatever lies past the zero byte is never looked at (the
// loops stop before it; the bitmaps below are masked to the line). Key lookup is
// one probe of a hash table on the key's size and first 8 bytes.
// Strings are delimited one of two ways. First, one SSE2 pass over the line builds
// a bitmap of its quotes and checks for backslashes, control bytes and bytes
// >= 0x80. Without any (the usual line), every quote opens or closes a string, so
// string ends are popped off the bitmap (IndexedStrings) instead of being searched
// for: the scan's critical path is then a chain of bit operations, not of loads.
// Otherwise each string body is scanned 16 bytes at a time for '"', '\\' and control
// bytes (PlainStrings), escapes are checked, and bytes >= 0x80 are only noted; then
// simdjson::validate_utf8 (runtime-dispatched like the DOM parser, and the same
// validator) checks the whole line once. Digit runs are measured with one SSE2
// compare and converted with SWAR arithmetic, without a loop per digit.
//
// The subset is chosen so that acceptance implies simdjson DOM acceptance with the
// same values, and everything else is refused rather than decided here:
// - \u escapes (surrogate rules) are refused; other escapes are the fixed eight;
// - integers: simdjson stores up to 19 digits as INT64, or UINT64 above INT64_MAX
//   (positive only); we take the same, refuse 20+ digits;
// - other numbers: at most 19 digits in total (the significand fits a uint64
//   exactly) and a decimal exponent in [-307, 289], so the value is zero or a
//   normal double and never rounds to infinity; it is computed exactly as
//   m * 10^e or m / 10^e when m <= 2^53 and |e| <= 22 (Clinger 1990: both operands
//   exact, one correctly rounded operation), else by std::from_chars, which in
//   libstdc++ 12 is correctly rounded (fast_float), as simdjson's parser is.
#include "engine/json_scan.h"

#include <simdjson.h>

#include <algorithm>
#include <array>
#include <bit>
#include <charconv>
#include <cstdlib>
#include <cstring>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif
#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#endif

namespace tern::engine {

namespace {

// The scanner's state lives in registers only if its helpers are inlined into one
// function; GCC's heuristics do not always see that.
#define TERN_SCAN_INLINE inline __attribute__((always_inline))

constexpr std::array<bool, 256> kWhitespace = [] {
  std::array<bool, 256> t{};
  t[' '] = t['\t'] = t['\n'] = t['\r'] = true;
  return t;
}();

// The byte after a backslash, for the escapes of the subset (not 'u').
constexpr std::array<char, 256> kUnescape = [] {
  std::array<char, 256> t{};
  t['"'] = '"';
  t['\\'] = '\\';
  t['/'] = '/';
  t['b'] = '\b';
  t['f'] = '\f';
  t['n'] = '\n';
  t['r'] = '\r';
  t['t'] = '\t';
  return t;
}();

constexpr double kPow10[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                             1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                             1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

TERN_SCAN_INLINE bool IsDigit(char c) { return static_cast<unsigned char>(c - '0') < 10; }

TERN_SCAN_INLINE uint64_t Load64(const char* p) {
  uint64_t v;
  std::memcpy(&v, p, 8);
  return v;  // little-endian order assumed by the users below
}

// simdjson's SWAR digit tricks (Lemire): are these 8 bytes all ASCII digits, and
// their value.
TERN_SCAN_INLINE bool AreEightDigits(uint64_t v) {
  return ((v & 0xF0F0F0F0F0F0F0F0) | (((v + 0x0606060606060606) & 0xF0F0F0F0F0F0F0F0) >> 4)) ==
         0x3333333333333333;
}

TERN_SCAN_INLINE uint32_t EightDigits(uint64_t v) {
  v = (v & 0x0F0F0F0F0F0F0F0F) * 2561 >> 8;
  v = (v & 0x00FF00FF00FF00FF) * 6553601 >> 16;
  return static_cast<uint32_t>((v & 0x0000FFFF0000FFFF) * 42949672960001 >> 32);
}

constexpr bool kLittleEndian = std::endian::native == std::endian::little;

TERN_SCAN_INLINE const char* SkipWhitespace(const char* p) {
  while (kWhitespace[static_cast<unsigned char>(*p)]) ++p;
  return p;
}

// p is just past an opening quote. Returns the closing quote, or nullptr on a control
// byte (the padding included), a bad escape or \u. Sets *escaped when the body has
// escapes and *high when a byte >= 0x80 was seen (maybe just past the string).
TERN_SCAN_INLINE const char* ScanString(const char* p, bool* escaped, bool* high) {
  while (true) {
#if defined(__SSE2__)
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    const unsigned high_bits = static_cast<unsigned>(_mm_movemask_epi8(v));
    const __m128i special =
        _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('"')),
                                  _mm_cmpeq_epi8(v, _mm_set1_epi8('\\'))),
                     _mm_cmplt_epi8(v, _mm_set1_epi8(0x20)));  // signed: also >= 0x80
    const unsigned stop = static_cast<unsigned>(_mm_movemask_epi8(special)) & ~high_bits;
    *high |= high_bits != 0;
    if (stop == 0) {
      p += 16;
      continue;
    }
    p += __builtin_ctz(stop);
#else
    unsigned char c = static_cast<unsigned char>(*p);
    if (c >= 0x80) {
      *high = true;
      ++p;
      continue;
    }
    if (c >= 0x20 && c != '"' && c != '\\') {
      ++p;
      continue;
    }
#endif
    if (*p == '"') return p;
    if (*p != '\\' || kUnescape[static_cast<unsigned char>(p[1])] == 0) return nullptr;
    *escaped = true;
    p += 2;
  }
}

// What ScanNumber saw.
struct Number {
  uint64_t mantissa = 0;  // all digits, without the decimal point
  int32_t exp10 = 0;      // value = mantissa * 10^exp10
  bool negative = false;
  bool is_float = false;  // has a fraction or an exponent
};

constexpr uint64_t kPow10Int[] = {1,
                                  10,
                                  100,
                                  1000,
                                  10000,
                                  100000,
                                  1000000,
                                  10000000,
                                  100000000,
                                  1000000000,
                                  10000000000,
                                  100000000000,
                                  1000000000000,
                                  10000000000000,
                                  100000000000000,
                                  1000000000000000,
                                  10000000000000000,
                                  100000000000000000,
                                  1000000000000000000,
                                  10000000000000000000u};

#if defined(__SSE2__)
// Bit i set when p[i] is an ASCII digit, for i < 16.
TERN_SCAN_INLINE unsigned DigitMask(const char* p) {
  const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
  // '0'..'9' map to -128..-119 as signed bytes, nothing else does.
  const __m128i shifted = _mm_add_epi8(v, _mm_set1_epi8(static_cast<char>(128 - '0')));
  return static_cast<unsigned>(
      _mm_movemask_epi8(_mm_cmplt_epi8(shifted, _mm_set1_epi8(-128 + 10))));
}
#endif

// The value of the `count` (1..16) ASCII digits at p (little-endian only).
TERN_SCAN_INLINE uint64_t DigitsValue(const char* p, size_t count) {
  if (count <= 8) return EightDigits(Load64(p) << (8 * (8 - count)));
  return EightDigits(Load64(p)) * kPow10Int[count - 8] +
         EightDigits(Load64(p + 8) << (8 * (16 - count)));
}

// The number of ASCII digits starting at p, and their value in *value (wrapped
// when there are more than 19). Without a loop for runs under 16 digits: a
// mispredicted loop exit per number cost more than the rest of it.
TERN_SCAN_INLINE size_t DigitRun(const char* p, uint64_t* value) {
#if defined(__SSE2__)
  if constexpr (kLittleEndian) {
    const size_t count = static_cast<size_t>(__builtin_ctz(~DigitMask(p)));
    if (count < 16) {
      *value = count == 0 ? 0 : DigitsValue(p, count);
      return count;
    }
  }
#endif
  size_t count = 0;
  uint64_t m = 0;
  while (IsDigit(p[count])) {
    m = m * 10 + static_cast<unsigned>(p[count] - '0');
    ++count;
  }
  *value = m;
  return count;
}

// p is at '-' or a digit. Returns the end of the number, or nullptr when it is not
// a JSON number or outside the subset (see the file comment).
TERN_SCAN_INLINE const char* ScanNumber(const char* p, Number* n) {
  n->negative = *p == '-';
  p += n->negative;
#if defined(__SSE2__)
  if constexpr (kLittleEndian) {
    // The usual numbers, decided from one 16-byte compare: integers of up to 15
    // digits, and decimals ("23.25") of up to 8 digits in all, whose two digit runs
    // are joined into one word and converted by one EightDigits. Both without an
    // exponent; the rest (and whatever is malformed) goes the general way below,
    // which would find the same Number.
    const unsigned digits = DigitMask(p);
    const unsigned count = static_cast<unsigned>(__builtin_ctz(~digits));
    const char after = p[count];
    if (count - 1 < 15 && (count == 1 || *p != '0')) {
      if (after == '.') {
        const unsigned fraction_count =
            static_cast<unsigned>(__builtin_ctz(~digits >> (count + 1)));
        const char* end = p + count + 1 + fraction_count;
        if (fraction_count - 1 < 8 && count + fraction_count <= 8 && (*end | 0x20) != 'e') {
          // The integer digits shifted up against the fraction's, both against the top.
          n->mantissa = EightDigits(((Load64(p) << (8 * (8 - count))) >> (8 * fraction_count)) |
                                    (Load64(p + count + 1) << (8 * (8 - fraction_count))));
          n->exp10 = -static_cast<int32_t>(fraction_count);
          n->is_float = true;
          return end;
        }
      } else if ((after | 0x20) != 'e') {
        n->mantissa = DigitsValue(p, count);
        n->exp10 = 0;
        n->is_float = false;
        return p + count;
      }
    }
  }
#endif
  uint64_t m;
  size_t count = DigitRun(p, &m);
  if (count == 0 || (count > 1 && *p == '0')) return nullptr;
  p += count;
  if (*p != '.' && (*p | 0x20) != 'e') {
    if (count > 19) return nullptr;
    if (n->negative && m > (uint64_t{1} << 63)) return nullptr;
    n->mantissa = m;
    n->exp10 = 0;
    n->is_float = false;
    return p;
  }
  n->is_float = true;
  int32_t exp10 = 0;
  if (*p == '.') {
    uint64_t fraction;
    const size_t fraction_count = DigitRun(++p, &fraction);
    if (fraction_count == 0) return nullptr;
    count += fraction_count;
    if (count > 19) return nullptr;
    m = m * kPow10Int[fraction_count] + fraction;
    exp10 = -static_cast<int32_t>(fraction_count);
    p += fraction_count;
  }
  if (count > 19) return nullptr;
  if ((*p | 0x20) == 'e') {
    ++p;
    bool negative_exp = *p == '-';
    if (*p == '-' || *p == '+') ++p;
    if (!IsDigit(*p)) return nullptr;
    int32_t e = 0;
    do {
      if (e < 100000) e = e * 10 + (*p - '0');
      ++p;
    } while (IsDigit(*p));
    exp10 += negative_exp ? -e : e;
  }
  if (exp10 < -307 || exp10 > 289) return nullptr;
  n->mantissa = m;
  n->exp10 = exp10;
  return p;
}

// The value of a number ScanNumber accepted (text is its span); false if from_chars
// disagrees with the scan, which the subset rules out.
TERN_SCAN_INLINE bool Convert(const Number& n, const char* begin, const char* end,
                              JsonMember* out) {
  if (!n.is_float) {
    if (n.negative) {
      out->kind = JsonKind::kInt;
      out->i = static_cast<int64_t>(~n.mantissa + 1);
    } else if (n.mantissa <= static_cast<uint64_t>(INT64_MAX)) {
      out->kind = JsonKind::kInt;
      out->i = static_cast<int64_t>(n.mantissa);
    } else {
      out->kind = JsonKind::kDouble;  // simdjson's UINT64, stored as EventParser does
      out->d = static_cast<double>(n.mantissa);
    }
    return true;
  }
  out->kind = JsonKind::kDouble;
  if (n.mantissa <= (uint64_t{1} << 53) && n.exp10 >= -22 && n.exp10 <= 22) {
    double d = static_cast<double>(n.mantissa);
    d = n.exp10 < 0 ? d / kPow10[-n.exp10] : d * kPow10[n.exp10];
    out->d = n.negative ? -d : d;
    return true;
  }
  auto r = std::from_chars(begin, end, out->d);
  return r.ec == std::errc() && r.ptr == end;
}

// How the scanner finds the end of a string: Strings::Close(open, &escaped) returns
// the closing quote of the string opening at `open`, or nullptr when the string is
// bad or outside the subset.

// Looks at the bytes of each string (any line).
struct PlainStrings {
  bool high = false;  // a byte >= 0x80 was seen
  TERN_SCAN_INLINE const char* Close(const char* open, bool* escaped) {
    return ScanString(open + 1, escaped, &high);
  }
};

// Pops quotes off a bitmap of the line's quote positions, built beforehand for lines
// without backslashes or control bytes: there every quote delimits a string, and as
// no other token may contain one, the next unpopped quote is always the opening one.
struct IndexedStrings {
  const char* base;       // the line, then 64 bytes further per word consumed
  const uint64_t* words;  // bit j of words[i]: line[64 i + j] is a quote
  const uint64_t* last;   // the last word
  uint64_t word;          // the unpopped quotes of *words

  TERN_SCAN_INLINE const char* Pop() {
    while (word == 0) {
      if (words >= last) return nullptr;
      word = *++words;
      base += 64;
    }
    const char* quote = base + __builtin_ctzll(word);
    word &= word - 1;
    return quote;
  }
  // `open` is the lowest unpopped quote: the scanner passes over a quote only through
  // Close() (no other token it accepts holds one), so it is not looked up again here,
  // where that costs a ctz and a compare per string (~40 instructions per W1 line);
  // json_scan_test's differential tests would catch a scanner that broke the rule.
  TERN_SCAN_INLINE const char* Close(const char* open, bool* /*escaped*/) {
    const uint64_t rest = word & (word - 1);
    if (rest != 0) {  // the usual case: both quotes in the current word
      word = rest & (rest - 1);
      return base + __builtin_ctzll(rest);
    }
    if (Pop() != open) return nullptr;  // (checked here, off the usual path, all the same)
    return Pop();
  }
};

// p is at the first byte of a scalar value. Returns its end or nullptr.
template <typename Strings>
TERN_SCAN_INLINE const char* SkipScalar(const char* p, Strings& strings) {
  switch (*p) {
    case '"': {
      bool escaped = false;
      const char* q = strings.Close(p, &escaped);
      return q == nullptr ? nullptr : q + 1;
    }
    case 't':
      return std::memcmp(p, "true", 4) == 0 ? p + 4 : nullptr;
    case 'f':
      return std::memcmp(p, "false", 5) == 0 ? p + 5 : nullptr;
    case 'n':
      return std::memcmp(p, "null", 4) == 0 ? p + 4 : nullptr;
    default: {
      if (*p != '-' && !IsDigit(*p)) return nullptr;
      Number n;
      return ScanNumber(p, &n);
    }
  }
}

// p is at a member name's opening quote inside a nested object. Returns the start
// of the member's value or nullptr.
template <typename Strings>
TERN_SCAN_INLINE const char* SkipKey(const char* p, Strings& strings) {
  if (*p != '"') return nullptr;
  bool escaped = false;
  p = strings.Close(p, &escaped);
  if (p == nullptr) return nullptr;
  p = SkipWhitespace(p + 1);
  if (*p != ':') return nullptr;
  return SkipWhitespace(p + 1);
}

// p is at '[' or '{'. Returns the end of the container or nullptr.
template <typename Strings>
TERN_SCAN_INLINE const char* SkipNested(const char* p, Strings& strings) {
  uint64_t objects = 0;  // bit d: the container at depth d+1 (from the top) is an object
  int depth = 0;
  while (true) {
    // p is at the first byte of a value.
    if (*p == '[' || *p == '{') {
      if (depth == JsonScanner::kMaxDepth) return nullptr;
      const bool is_object = *p == '{';
      objects = (objects << 1) | static_cast<uint64_t>(is_object);
      ++depth;
      p = SkipWhitespace(p + 1);
      if (*p == (is_object ? '}' : ']')) {
        ++p;
        objects >>= 1;
        --depth;
      } else {
        if (is_object && (p = SkipKey(p, strings)) == nullptr) return nullptr;
        continue;
      }
    } else if ((p = SkipScalar(p, strings)) == nullptr) {
      return nullptr;
    }
    // p is just past a value: close containers until one continues.
    while (true) {
      if (depth == 0) return p;
      p = SkipWhitespace(p);
      const bool is_object = (objects & 1) != 0;
      if (*p == ',') {
        p = SkipWhitespace(p + 1);
        if (is_object && (p = SkipKey(p, strings)) == nullptr) return nullptr;
        break;
      }
      if (*p != (is_object ? '}' : ']')) return nullptr;
      ++p;
      objects >>= 1;
      --depth;
    }
  }
}

#if defined(__SSE2__)
// Stores one 64-byte chunk's quote bits and gathers its other bits, both cut to the
// line in the last chunk (the padding after it: a zero byte, then anything).
inline void StoreChunk(size_t chunk, size_t size, uint64_t quotes, uint64_t others, uint64_t* words,
                       uint64_t* other) {
  if (64 * chunk + 64 > size) {
    const uint64_t in_line = (uint64_t{1} << (size % 64)) - 1;
    quotes &= in_line;
    others &= in_line;
  }
  words[chunk] = quotes;
  *other |= others;
}

// The quote bitmap of a line, for IndexedStrings: bit j of words[i] is set when
// data[64 i + j] is a quote, up to `size`; words[(size + 63) / 64] = 0. Returns
// whether the line has a backslash, a control byte or a byte >= 0x80 (then the bitmap
// cannot be used). Reads whole 64-byte blocks: the padding, masked.
using QuoteWordsFn = bool (*)(const char* data, size_t size, uint64_t* words);

bool QuoteWordsSse2(const char* data, size_t size, uint64_t* words) {
  const size_t count = (size + 63) / 64;
  uint64_t other = 0;
  for (size_t chunk = 0; chunk < count; ++chunk) {
    uint64_t quotes = 0, others = 0;
    for (int k = 0; k < 4; ++k) {
      const __m128i v =
          _mm_loadu_si128(reinterpret_cast<const __m128i*>(data + 64 * chunk + 16 * k));
      quotes |= static_cast<uint64_t>(static_cast<uint32_t>(
                    _mm_movemask_epi8(_mm_cmpeq_epi8(v, _mm_set1_epi8('"')))))
                << (16 * k);
      others |= static_cast<uint64_t>(static_cast<uint32_t>(_mm_movemask_epi8(
                    _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('\\')),
                                 _mm_cmplt_epi8(v, _mm_set1_epi8(0x20))))))  // signed
                << (16 * k);
    }
    StoreChunk(chunk, size, quotes, others, words, &other);
  }
  words[count] = 0;
  return other != 0;
}

#if defined(__x86_64__) && defined(__GNUC__)
// The same with 32-byte compares, for CPUs with AVX2 (picked once, at start-up).
__attribute__((target("avx2"))) bool QuoteWordsAvx2(const char* data, size_t size,
                                                    uint64_t* words) {
  const size_t count = (size + 63) / 64;
  const __m256i quote = _mm256_set1_epi8('"');
  const __m256i backslash = _mm256_set1_epi8('\\');
  const __m256i space = _mm256_set1_epi8(0x20);
  uint64_t other = 0;
  for (size_t chunk = 0; chunk < count; ++chunk) {
    const __m256i lo = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(data + 64 * chunk));
    const __m256i hi =
        _mm256_loadu_si256(reinterpret_cast<const __m256i*>(data + 64 * chunk + 32));
    uint64_t quotes =
        static_cast<uint32_t>(_mm256_movemask_epi8(_mm256_cmpeq_epi8(lo, quote))) |
        static_cast<uint64_t>(
            static_cast<uint32_t>(_mm256_movemask_epi8(_mm256_cmpeq_epi8(hi, quote))))
            << 32;
    // Signed: bytes >= 0x80 are below 0x20 too.
    uint64_t others =
        static_cast<uint32_t>(_mm256_movemask_epi8(_mm256_or_si256(
            _mm256_cmpeq_epi8(lo, backslash), _mm256_cmpgt_epi8(space, lo)))) |
        static_cast<uint64_t>(static_cast<uint32_t>(_mm256_movemask_epi8(_mm256_or_si256(
            _mm256_cmpeq_epi8(hi, backslash), _mm256_cmpgt_epi8(space, hi)))))
            << 32;
    StoreChunk(chunk, size, quotes, others, words, &other);
  }
  words[count] = 0;
  return other != 0;
}
#endif

QuoteWordsFn PickQuoteWords() {
#if defined(__x86_64__) && defined(__GNUC__)
  __builtin_cpu_init();
  if (std::getenv("TERN_JSON_SCAN_NO_AVX2") == nullptr && __builtin_cpu_supports("avx2")) {
    return QuoteWordsAvx2;
  }
#endif
  return QuoteWordsSse2;
}

const QuoteWordsFn kQuoteWords = PickQuoteWords();
#endif

}  // namespace

void JsonScanner::SetNames(std::vector<std::string> names) {
  names_ = std::move(names);
  heads_.clear();
  for (const std::string& name : names_) {
    Head head;
    head.size = static_cast<uint32_t>(name.size());
    char bytes[8] = {};
    std::memcpy(bytes, name.data(), std::min<size_t>(name.size(), 8));
    head.word = Load64(bytes);
    heads_.push_back(head);
  }
  size_t table_size = 16;
  table_shift_ = 60;
  while (table_size < 4 * names_.size()) {
    table_size *= 2;
    --table_shift_;
  }
  table_.assign(table_size, 0);
  for (size_t i = 0; i < names_.size(); ++i) {
    uint32_t at = Hash(heads_[i].word, heads_[i].size, table_shift_);
    while (table_[at] != 0) at = (at + 1) & (table_size - 1);
    table_[at] = static_cast<uint32_t>(i + 1);
  }
  seen_.assign(names_.size(), 0);
  generation_ = 0;
  order_.fill(0);
  members_.assign(names_.size(), JsonMember());
}

// The lookup state in locals: inlined into one function with the scan loop, it stays
// in registers, where members of `this` would be reloaded after every store through
// a JsonMember*.
struct JsonScanner::Keys {
  const uint32_t* table;       // table_
  uint32_t last;               // table_.size() - 1
  int shift;                   // table_shift_
  const Head* heads;           // heads_
  const std::string* names;    // names_
  uint32_t* seen;              // seen_
  uint32_t generation;         // generation_
  JsonMember* members;         // members_
  uint32_t* order;             // order_
  size_t missing;              // names not yet seen in the current line
  size_t escaped_bytes;        // for escaped_bytes_
  bool container;              // for found_container_
};

namespace {

// The low min(n, 8) bytes of a word.
constexpr uint64_t kPrefixMask[9] = {0,
                                     0xFF,
                                     0xFFFF,
                                     0xFFFFFF,
                                     0xFFFFFFFF,
                                     0xFFFFFFFFFF,
                                     0xFFFFFFFFFFFF,
                                     0xFFFFFFFFFFFFFF,
                                     ~uint64_t{0}};

}  // namespace

// The key is followed by at least 8 readable bytes (its closing quote and the padding).
TERN_SCAN_INLINE JsonMember* JsonScanner::LookupPlain(Keys& keys, const char* key, size_t size,
                                                      uint32_t ordinal) {
  const uint64_t word = Load64(key) & kPrefixMask[size < 8 ? size : 8];
  auto equal = [&](size_t i) {
    const Head& head = keys.heads[i];
    return head.word == word && head.size == size &&
           (size <= 8 || std::memcmp(keys.names[i].data() + 8, key + 8, size - 8) == 0);
  };
  // First the name found at this position in the previous lines, then the table.
  const uint32_t guess = ordinal < kPredicted ? keys.order[ordinal] : 0;
  size_t i;
  if (guess != 0 && equal(guess - 1)) {
    i = guess - 1;
  } else {
    for (uint32_t at = Hash(word, size, keys.shift);; at = (at + 1) & keys.last) {
      const uint32_t entry = keys.table[at];
      if (entry == 0) return nullptr;
      if (equal(entry - 1)) {
        i = entry - 1;
        break;
      }
    }
    if (ordinal < kPredicted) keys.order[ordinal] = static_cast<uint32_t>(i + 1);
  }
  if (keys.seen[i] == keys.generation) return nullptr;  // a later duplicate
  keys.seen[i] = keys.generation;
  --keys.missing;
  return &keys.members[i];
}

const char* JsonScanner::Unescape(const char* key, size_t* size) {
  key_scratch_.clear();
  AppendUnescaped(key_scratch_, std::string_view(key, *size));
  *size = key_scratch_.size();
  key_scratch_.append(8, '\0');
  return key_scratch_.data();
}

TERN_SCAN_INLINE JsonMember* JsonScanner::Lookup(Keys& keys, const char* key, size_t size,
                                                 bool escaped, uint32_t ordinal) {
  // (Unescape does not see `keys`, so that it can stay in registers.)
  if (escaped) key = Unescape(key, &size);
  return LookupPlain(keys, key, size, ordinal);
}

template <typename Strings>
bool JsonScanner::ScanWith(const char* data, size_t size, Strings& strings, Keys& keys) {
  const char* p = data;
  uint32_t ordinal = 0;  // of the root member being scanned
  if (*p != '{') {
    p = SkipWhitespace(p);
    if (*p != '{') return false;
  }
  ++p;
  if (*p != '"') {
    p = SkipWhitespace(p);
    if (*p == '}') goto closed;
  }
  while (true) {
    // p is at the opening quote of a member name (or not, and the line is refused).
    if (*p != '"') return false;
    {
      const char* key = p + 1;
      bool key_escaped = false;
      p = strings.Close(p, &key_escaped);
      if (p == nullptr) return false;
      JsonMember* member = nullptr;
      if (keys.missing > 0) {
        member = Lookup(keys, key, static_cast<size_t>(p - key), key_escaped, ordinal);
      }
      ++ordinal;
      ++p;
      if (*p != ':') {
        p = SkipWhitespace(p);
        if (*p != ':') return false;
      }
      ++p;
      if (*p != '"' && kWhitespace[static_cast<unsigned char>(*p)]) p = SkipWhitespace(p);
      const char* begin = p;
      switch (*p) {
        case '"': {
          bool escaped = false;
          p = strings.Close(begin, &escaped);
          if (p == nullptr) return false;
          ++p;
          if (member != nullptr) {
            member->kind = JsonKind::kString;
            member->escaped = escaped;
            member->begin = begin + 1;
            member->size = static_cast<uint32_t>(p - begin - 2);
            if (escaped) keys.escaped_bytes += member->size;
          }
          break;
        }
        case '[':
        case '{':
          p = SkipNested(p, strings);
          if (p == nullptr) return false;
          if (member != nullptr) {
            member->kind = *begin == '[' ? JsonKind::kArray : JsonKind::kObject;
            keys.container = true;
            member->begin = begin;
            member->size = static_cast<uint32_t>(p - begin);
          }
          break;
        case 't':
          if (std::memcmp(p, "true", 4) != 0) return false;
          p += 4;
          if (member != nullptr) member->kind = JsonKind::kTrue;
          break;
        case 'f':
          if (std::memcmp(p, "false", 5) != 0) return false;
          p += 5;
          if (member != nullptr) member->kind = JsonKind::kFalse;
          break;
        case 'n':
          if (std::memcmp(p, "null", 4) != 0) return false;
          p += 4;
          if (member != nullptr) member->kind = JsonKind::kNull;
          break;
        default: {
          if (*p != '-' && !IsDigit(*p)) return false;
          Number n;
          p = ScanNumber(begin, &n);
          if (p == nullptr) return false;
          if (member != nullptr) {
            if (!Convert(n, begin, p, member)) return false;
            member->begin = begin;
            member->size = static_cast<uint32_t>(p - begin);
          }
          break;
        }
      }
    }
    if (*p != ',') {
      p = SkipWhitespace(p);
      if (*p != ',') break;
    }
    ++p;
    if (*p != '"') p = SkipWhitespace(p);
  }
  if (*p != '}') return false;
closed:
  p = SkipWhitespace(p + 1);
  return p == data + size;
}

bool JsonScanner::Scan(const char* data, size_t size) {
  if (size == 0) return false;
  if (++generation_ == 0) {  // wrapped: forget the lines 2^32 ago
    std::fill(seen_.begin(), seen_.end(), 0);
    generation_ = 1;
  }
  Keys keys{table_.data(),  static_cast<uint32_t>(table_.size() - 1),
            table_shift_,   heads_.data(),
            names_.data(),  seen_.data(),
            generation_,    members_.data(),
            order_.data(),  names_.size(),  0,
            false};
  bool high = false;  // a byte >= 0x80: the line needs a UTF-8 check
  bool ok;
#if defined(__SSE2__)
  // The quote bitmap, and whether backslashes, control bytes or (to keep it short)
  // bytes >= 0x80 rule it out.
  const size_t count = (size + 63) / 64;
  if (quote_words_.size() < count + 1) quote_words_.resize(count + 1);
  uint64_t* words = quote_words_.data();
  if (!kQuoteWords(data, size, words)) {
    IndexedStrings strings{data, words, words + count - 1, words[0]};
    ok = ScanWith(data, size, strings, keys);
  } else
#endif
  {
    PlainStrings strings;
    ok = ScanWith(data, size, strings, keys);
    high = strings.high;
  }
  if (!ok) return false;
  found_container_ = keys.container;
  escaped_bytes_ = keys.escaped_bytes;
  return !high || simdjson::validate_utf8(data, size);
}

void AppendUnescaped(std::string& out, std::string_view body) {
  size_t start = 0;
  while (true) {
    const size_t slash = body.find('\\', start);
    if (slash == std::string_view::npos) break;
    out.append(body.data() + start, slash - start);
    out += kUnescape[static_cast<unsigned char>(body[slash + 1])];
    start = slash + 2;
  }
  out.append(body.data() + start, body.size() - start);
}

}  // namespace tern::engine
