// Benchmark stream generators: splitmix64 draws, hand-rolled number formatting
// (no printf), and a queue of scheduled follow-up events (card-testing bursts,
// carts that are bought later) so that matches occur at a chosen rate.
#include "bench/gen/generator.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <string>

namespace tern::bench {

namespace {

constexpr const char* kSymbols[] = {"BTC-USD",  "ETH-USD",  "SOL-USD", "XRP-USD",  "ADA-USD",
                                    "DOGE-USD", "AVAX-USD", "DOT-USD", "LINK-USD", "LTC-USD"};
constexpr const char* kExchanges[] = {"binance", "coinbase", "kraken", "bitstamp",
                                      "okx",     "bybit",    "gemini", "bitfinex"};
constexpr uint64_t kMaxExchanges = sizeof kExchanges / sizeof kExchanges[0];

enum PendingKind : uint32_t { kSmallAuth, kLargeAuth, kPurchase };

int Digits(uint64_t n) {
  int d = 1;
  while (n >= 10) {
    n /= 10;
    ++d;
  }
  return d;
}

void AppendUint(std::string& out, uint64_t v) {
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, r.ptr);
}

// v zero-padded to `width` digits.
void AppendPadded(std::string& out, uint64_t v, int width) {
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  for (int pad = width - static_cast<int>(r.ptr - buf); pad > 0; --pad) out.push_back('0');
  out.append(buf, r.ptr);
}

// v / 10^decimals with exactly `decimals` digits after the point.
void AppendFixed(std::string& out, int64_t v, int decimals) {
  if (v < 0) {
    out.push_back('-');
    v = -v;
  }
  uint64_t scale = 1;
  for (int i = 0; i < decimals; ++i) scale *= 10;
  AppendUint(out, static_cast<uint64_t>(v) / scale);
  out.push_back('.');
  AppendPadded(out, static_cast<uint64_t>(v) % scale, decimals);
}

template <typename T>
bool ParseNumber(std::string_view text, T* out) {
  auto r = std::from_chars(text.data(), text.data() + text.size(), *out);
  return r.ec == std::errc() && r.ptr == text.data() + text.size();
}

}  // namespace

const char* GenOptionHelp() {
  return "  --kind card|ticks|clicks      stream kind (default card)\n"
         "  --events N                    lines to write (default 1000)\n"
         "  --keys N                      distinct cards / symbols / users (default 1000)\n"
         "  --seed N                      (default 1)\n"
         "  --start-ts MS                 time of the first event (default 1700000000000)\n"
         "  --ts-step MS                  time between events, may be fractional (default 1)\n"
         " card:\n"
         "  --merchants N                 (default 2000)\n"
         "  --p-small P                   share of amounts in [0.10, 1.99] (default 0.01)\n"
         "  --p-large P                   share of amounts in [500.01, 3000] (default 0.005)\n"
         "  --p-refund P, --p-decline P   share of these types; the rest is auth (0.03, 0.02)\n"
         "  --p-attack P                  per event, start a card-testing burst (default 0)\n"
         "  --attack-spacing-ms MS        mean time between a burst's events (default 20000)\n"
         " ticks:\n"
         "  --exchanges N                 venues, at most 8 (default 2)\n"
         "  --p-spike P                   quotes 0.25-0.5 % above reference (default 0.001)\n"
         " clicks:\n"
         "  --skus N                      (default 5000)\n"
         "  --p-cart P, --p-purchase P    add_to_cart and unrelated purchase shares (0.05, 0.01)\n"
         "  --p-convert P                 share of carts bought later by the same user (0.3)\n"
         "  --convert-delay-ms MS         mean cart-to-purchase delay (default 1200000)\n";
}

bool SetGenOption(GenOptions& o, std::string_view raw_name, std::string_view value,
                  std::string* error) {
  std::string name(raw_name);
  for (char& c : name) {
    if (c == '_') c = '-';
  }
  bool ok = true;
  if (name == "kind") {
    if (value == "card") {
      o.kind = StreamKind::kCard;
    } else if (value == "ticks") {
      o.kind = StreamKind::kTicks;
    } else if (value == "clicks") {
      o.kind = StreamKind::kClicks;
    } else {
      ok = false;
    }
  } else if (name == "events") {
    ok = ParseNumber(value, &o.events);
  } else if (name == "keys") {
    ok = ParseNumber(value, &o.keys) && o.keys > 0;
  } else if (name == "seed") {
    ok = ParseNumber(value, &o.seed);
  } else if (name == "start-ts") {
    ok = ParseNumber(value, &o.start_ts);
  } else if (name == "ts-step") {
    ok = ParseNumber(value, &o.ts_step) && o.ts_step >= 0;
  } else if (name == "merchants") {
    ok = ParseNumber(value, &o.merchants) && o.merchants > 1;
  } else if (name == "p-small") {
    ok = ParseNumber(value, &o.p_small);
  } else if (name == "p-large") {
    ok = ParseNumber(value, &o.p_large);
  } else if (name == "p-refund") {
    ok = ParseNumber(value, &o.p_refund);
  } else if (name == "p-decline") {
    ok = ParseNumber(value, &o.p_decline);
  } else if (name == "p-attack") {
    ok = ParseNumber(value, &o.p_attack);
  } else if (name == "attack-spacing-ms") {
    ok = ParseNumber(value, &o.attack_spacing_ms) && o.attack_spacing_ms > 0;
  } else if (name == "exchanges") {
    ok = ParseNumber(value, &o.exchanges) && o.exchanges >= 1 && o.exchanges <= kMaxExchanges;
  } else if (name == "p-spike") {
    ok = ParseNumber(value, &o.p_spike);
  } else if (name == "skus") {
    ok = ParseNumber(value, &o.skus) && o.skus > 0;
  } else if (name == "p-cart") {
    ok = ParseNumber(value, &o.p_cart);
  } else if (name == "p-purchase") {
    ok = ParseNumber(value, &o.p_purchase);
  } else if (name == "p-convert") {
    ok = ParseNumber(value, &o.p_convert);
  } else if (name == "convert-delay-ms") {
    ok = ParseNumber(value, &o.convert_delay_ms) && o.convert_delay_ms > 0;
  } else {
    *error = "unknown generator option '" + std::string(raw_name) + "'";
    return false;
  }
  if (!ok) {
    *error = "invalid value '" + std::string(value) + "' for '" + std::string(raw_name) + "'";
  }
  return ok;
}

Generator::Generator(const GenOptions& options)
    : o_(options), state_(options.seed), seen_(options.keys, false) {
  if (o_.kind == StreamKind::kTicks) {
    reference_.resize(o_.keys);
    // Log-uniform between 20 and 60,000 (quotes are in cents, so a cent is at
    // most 0.05 % of a price and rounding never fakes a 0.2 % spread).
    for (double& price : reference_) price = 20 * std::exp(Uniform() * std::log(60000 / 20.0));
  }
}

uint64_t Generator::Below(uint64_t n) {
  uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  z ^= z >> 31;
  return n == 0 ? z : z % n;
}

double Generator::Uniform() { return static_cast<double>(Below(0) >> 11) * 0x1.0p-53; }

uint64_t Generator::Delay(double mean_ms) {
  double step = o_.ts_step > 0 ? o_.ts_step : 1.0;
  double lines = Uniform() * 2 * mean_ms / step;
  return lines < 1 ? 1 : static_cast<uint64_t>(lines);
}

bool Generator::Next(std::string& out) {
  if (index_ >= o_.events) return false;
  const int64_t ts = o_.start_ts + static_cast<int64_t>(static_cast<double>(index_) * o_.ts_step);
  switch (o_.kind) {
    case StreamKind::kCard:
      Card(out, ts);
      break;
    case StreamKind::kTicks:
      Tick(out, ts);
      break;
    case StreamKind::kClicks:
      Click(out, ts);
      break;
  }
  ++index_;
  return true;
}

void Generator::Card(std::string& out, int64_t ts) {
  uint64_t card, merchant;
  int64_t cents;
  const char* type = "auth";
  if (!pending_.empty() && pending_.top().due <= index_) {
    Pending p = pending_.top();
    pending_.pop();
    card = p.key;
    merchant = p.merchant_or_sku;
    cents = p.cents;
  } else {
    card = Below(o_.keys);
    merchant = Below(o_.merchants);
    double u = Uniform();
    if (u < o_.p_small) {
      cents = 10 + static_cast<int64_t>(Below(190));
    } else if (u < o_.p_small + o_.p_large) {
      cents = 50001 + static_cast<int64_t>(Below(250000));
    } else {
      // Everyday spending, log-uniform in [2.00, 499.99] (median about 31.60).
      cents = static_cast<int64_t>(200.0 * std::exp(Uniform() * std::log(49999.0 / 200.0)));
    }
    double t = Uniform();
    if (t < o_.p_refund) {
      type = "refund";
    } else if (t < o_.p_refund + o_.p_decline) {
      type = "decline";
    }
    if (o_.p_attack > 0 && Uniform() < o_.p_attack) {
      // A card-testing burst: tiny auths at one merchant, then a cash-out elsewhere.
      uint64_t victim = Below(o_.keys);
      uint32_t shop = static_cast<uint32_t>(Below(o_.merchants));
      uint64_t probes = 3 + Below(4);
      uint64_t due = index_ + 1;
      for (uint64_t i = 0; i < probes; ++i) {
        pending_.push({due, victim, kSmallAuth, shop, 10 + static_cast<int64_t>(Below(190))});
        due += Delay(o_.attack_spacing_ms);
      }
      uint32_t other = static_cast<uint32_t>((shop + 1 + Below(o_.merchants - 1)) % o_.merchants);
      pending_.push({due, victim, kLargeAuth, other, 50001 + static_cast<int64_t>(Below(250000))});
    }
  }
  Saw(card);
  out += "{\"ts\":";
  AppendUint(out, static_cast<uint64_t>(ts));
  out += ",\"card_id\":\"c";
  AppendPadded(out, card, std::max(6, Digits(o_.keys - 1)));
  out += "\",\"amount\":";
  AppendFixed(out, cents, 2);
  out += ",\"merchant\":\"m";
  AppendPadded(out, merchant, std::max(4, Digits(o_.merchants - 1)));
  out += "\",\"type\":\"";
  out += type;
  out += "\"}\n";
}

void Generator::Tick(std::string& out, int64_t ts) {
  uint64_t symbol = Below(o_.keys);
  uint64_t exchange = Below(o_.exchanges);
  double& ref = reference_[symbol];
  ref *= 1 + (Uniform() - 0.5) * 0.0002;  // +-0.01 % drift per tick
  double quote = Uniform() < o_.p_spike ? ref * (1.0025 + Uniform() * 0.0025)
                                        : ref * (1 + (Uniform() - 0.5) * 0.001);
  int64_t cents = std::llround(quote * 100);
  if (cents < 1) cents = 1;
  Saw(symbol);
  out += "{\"ts\":";
  AppendUint(out, static_cast<uint64_t>(ts));
  out += ",\"symbol\":\"";
  if (symbol < sizeof kSymbols / sizeof kSymbols[0]) {
    out += kSymbols[symbol];
  } else {
    out += 'T';
    AppendPadded(out, symbol, 4);
    out += "-USD";
  }
  out += "\",\"exchange\":\"";
  out += kExchanges[exchange];
  out += "\",\"price\":";
  AppendFixed(out, cents, 2);
  out += ",\"qty\":";
  AppendFixed(out, 1 + static_cast<int64_t>(Below(200000)), 4);
  out += "}\n";
}

void Generator::Click(std::string& out, int64_t ts) {
  uint64_t user, sku;
  int64_t cents = 0;
  const char* type = "view";
  if (!pending_.empty() && pending_.top().due <= index_) {
    Pending p = pending_.top();
    pending_.pop();
    user = p.key;
    sku = p.merchant_or_sku;
    cents = p.cents;
    type = "purchase";
  } else {
    user = Below(o_.keys);
    sku = Below(o_.skus);
    double u = Uniform();
    if (u < o_.p_cart) {
      type = "add_to_cart";
      cents = 199 + static_cast<int64_t>(Below(20000));
      if (Uniform() < o_.p_convert) {
        pending_.push({index_ + Delay(o_.convert_delay_ms), user, kPurchase,
                       static_cast<uint32_t>(sku), cents});
      }
    } else if (u < o_.p_cart + o_.p_purchase) {
      type = "purchase";
      cents = 199 + static_cast<int64_t>(Below(20000));
    }
  }
  Saw(user);
  out += "{\"ts\":";
  AppendUint(out, static_cast<uint64_t>(ts));
  out += ",\"user_id\":\"u";
  AppendPadded(out, user, std::max(7, Digits(o_.keys - 1)));
  out += "\",\"type\":\"";
  out += type;
  out += "\",\"sku\":\"sku";
  AppendPadded(out, sku, std::max(5, Digits(o_.skus - 1)));
  out += '"';
  if (cents != 0) {
    out += ",\"price\":";
    AppendFixed(out, cents, 2);
  }
  out += "}\n";
}

}  // namespace tern::bench
