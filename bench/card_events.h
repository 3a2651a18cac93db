// Constant-seeded generator of card-transaction events as JSON Lines, shared by
// the parse benches (bench/parse_bench.cc, bench/parse_only.cc).
// Tested by running the benches (CTest smoke).
#pragma once

#include <charconv>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "nfa/schema.h"

namespace tern::bench {

// "a.b[0].c" / "tags[-1]" to schema segments (no back-quotes: bench fields are plain).
inline std::vector<nfa::FieldSegment> FieldPathFromText(const std::string& text) {
  std::vector<nfa::FieldSegment> segments;
  size_t i = 0;
  while (i < text.size()) {
    if (text[i] == '.') {
      ++i;
    } else if (text[i] == '[') {
      size_t close = text.find(']', i);
      if (close == std::string::npos) close = text.size();
      nfa::FieldSegment index;
      std::from_chars(text.data() + i + 1, text.data() + close, index.index);
      segments.push_back(index);
      i = close + 1;
    } else {
      size_t stop = text.find_first_of(".[", i);
      if (stop == std::string::npos) stop = text.size();
      segments.push_back({text.substr(i, stop - i), 0});
      i = stop;
    }
  }
  return segments;
}

// The fields a typical card pattern reads (key, type, amount, merchant, nested ip).
inline const std::vector<std::string> kCardFields = {"card_id", "type",    "amount",
                                                     "merchant", "country", "device.ip"};

// splitmix64: a fixed, portable sequence for a given seed.
class SplitMix {
 public:
  explicit SplitMix(uint64_t seed) : state_(seed) {}
  uint64_t Next() {
    uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  uint64_t Below(uint64_t n) { return Next() % n; }

 private:
  uint64_t state_;
};

// Appends one event line (with '\n') per call; about 260 bytes each.
class CardEventGenerator {
 public:
  explicit CardEventGenerator(uint64_t seed = 1) : rng_(seed) {}

  void Append(std::string& out) {
    static const char* kTypes[] = {"auth", "auth", "auth", "capture", "refund", "decline"};
    static const char* kCountries[] = {"DE", "FR", "US", "GB", "NL", "ES", "IT", "PL"};
    static const char* kChannels[] = {"pos", "ecom", "atm", "moto"};
    static const char* kMerchants[] = {"Corner Shop", "Fuel \\\"Express\\\"", "Books & Co",
                                       "Caf\\u00e9 Central", "Online Store 24"};
    ts_ += static_cast<int64_t>(rng_.Below(2000));
    uint64_t amount_cents = rng_.Below(4) == 0 ? rng_.Below(200) : rng_.Below(200000);
    char buf[512];
    int n = std::snprintf(
        buf, sizeof buf,
        "{\"id\":%llu,\"ts\":%lld,\"card_id\":\"c%07llu\",\"type\":\"%s\",\"amount\":%llu.%02llu,"
        "\"currency\":\"EUR\",\"merchant\":\"m%05llu\",\"merchant_name\":\"%s\",\"mcc\":\"%04llu\","
        "\"country\":\"%s\",\"channel\":\"%s\",\"device\":{\"id\":\"d%06llu\",\"ip\":\"10.%llu.%llu.%llu\"},"
        "\"tags\":[\"t%llu\",\"t%llu\"],\"approved\":%s,\"note\":null}\n",
        static_cast<unsigned long long>(++id_), static_cast<long long>(ts_),
        static_cast<unsigned long long>(rng_.Below(100000)), kTypes[rng_.Below(6)],
        static_cast<unsigned long long>(amount_cents / 100),
        static_cast<unsigned long long>(amount_cents % 100),
        static_cast<unsigned long long>(rng_.Below(20000)), kMerchants[rng_.Below(5)],
        static_cast<unsigned long long>(rng_.Below(10000)), kCountries[rng_.Below(8)],
        kChannels[rng_.Below(4)], static_cast<unsigned long long>(rng_.Below(1000000)),
        static_cast<unsigned long long>(rng_.Below(256)),
        static_cast<unsigned long long>(rng_.Below(256)),
        static_cast<unsigned long long>(rng_.Below(256)),
        static_cast<unsigned long long>(rng_.Below(50)),
        static_cast<unsigned long long>(rng_.Below(50)), rng_.Below(10) == 0 ? "false" : "true");
    out.append(buf, static_cast<size_t>(n));
  }

 private:
  SplitMix rng_;
  uint64_t id_ = 0;
  int64_t ts_ = 1714564800000;  // 2024-05-01T12:00:00Z
};

}  // namespace tern::bench
