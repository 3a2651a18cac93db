// Seeded, deterministic generators of JSON Lines event streams for the benchmark
// workloads: card transactions, exchange ticks and clickstreams.
// Tested by the CTest smoke runs of bench/scenarios (tern_gen, 2,000 events).
#pragma once

#include <cstdint>
#include <cstdio>
#include <queue>
#include <string>
#include <string_view>
#include <vector>

namespace tern::bench {

// Bump when the output for the same options changes: cached inputs under
// build/bench-data/ are keyed by it (tern_gen --version).
inline constexpr int kGeneratorVersion = 2;

enum class StreamKind { kCard, kTicks, kClicks };

// Every knob of every kind; each kind ignores the ones it does not use.
struct GenOptions {
  StreamKind kind = StreamKind::kCard;
  uint64_t events = 1000;  // lines written, follow-up events included
  uint64_t keys = 1000;    // distinct cards / symbols / users, chosen uniformly
  uint64_t seed = 1;
  int64_t start_ts = 1700000000000;  // epoch ms of the first event
  double ts_step = 1.0;              // ms between consecutive events (may be < 1)

  // card: {"ts","card_id","amount","merchant","type"}
  uint64_t merchants = 2000;
  double p_small = 0.01;             // amount in [0.10, 1.99]
  double p_large = 0.005;            // amount in [500.01, 3000.00]; otherwise [2.00, 499.99]
  double p_refund = 0.03;            // type "refund"
  double p_decline = 0.02;           // type "decline"; otherwise "auth"
  double p_attack = 0.0;             // per event: a card-testing burst starts on a random card:
                                     // 3-6 tiny auths at one merchant, then a large auth elsewhere
  double attack_spacing_ms = 20000;  // mean time between the burst's events

  // ticks: {"ts","symbol","exchange","price","qty"}
  uint64_t exchanges = 2;
  double p_spike = 0.001;  // quote 0.25-0.5 % above the symbol's reference price
                           // (otherwise within +-0.05 %)

  // clicks: {"ts","user_id","type","sku"} (+"price" on add_to_cart and purchase)
  uint64_t skus = 5000;
  double p_cart = 0.05;                      // type "add_to_cart"
  double p_purchase = 0.01;                  // type "purchase" unrelated to an earlier cart
  double p_convert = 0.3;                    // share of carts bought later by the same user
  double convert_delay_ms = 20 * 60 * 1000;  // mean delay cart -> purchase (uniform 0..2x)
};

// Sets one option from its command-line name without dashes ("p-small",
// "events", "kind", ...). Returns false with *error set on a bad name or value.
bool SetGenOption(GenOptions& options, std::string_view name, std::string_view value,
                  std::string* error);

// The option names SetGenOption accepts, one per line with their meaning.
const char* GenOptionHelp();

// Writes options.events lines. Same options, same bytes, on every machine.
// Thread: any (one instance per thread). Locks: none.
class Generator {
 public:
  explicit Generator(const GenOptions& options);

  // Appends the next line (with '\n'); false once options.events lines were made.
  bool Next(std::string& out);

  // Distinct keys written so far.
  uint64_t keys_seen() const { return keys_seen_; }

 private:
  struct Pending {  // a follow-up event scheduled for a later line
    uint64_t due;   // line index at which it is written (or the first free one after)
    uint64_t key;
    uint32_t kind;  // kind-specific: what to write
    uint32_t merchant_or_sku;
    int64_t cents;
    friend bool operator>(const Pending& a, const Pending& b) { return a.due > b.due; }
  };

  uint64_t Below(uint64_t n);
  double Uniform();                // [0, 1)
  uint64_t Delay(double mean_ms);  // lines, uniform in [1, 2 * mean / ts_step]
  void Card(std::string& out, int64_t ts);
  void Tick(std::string& out, int64_t ts);
  void Click(std::string& out, int64_t ts);

  GenOptions o_;
  uint64_t state_;      // splitmix64
  uint64_t index_ = 0;  // lines written so far
  std::priority_queue<Pending, std::vector<Pending>, std::greater<>> pending_;
  std::vector<double> reference_;  // ticks: per-symbol reference price (random walk)
  std::vector<bool> seen_;         // by key
  uint64_t keys_seen_ = 0;
  void Saw(uint64_t key) {
    if (!seen_[key]) {
      seen_[key] = true;
      ++keys_seen_;
    }
  }
};

}  // namespace tern::bench
