// StartFilter against Nfa::StartIsNoop on generated start conditions and events:
// never drops a group the event starts, and drops every group a conjunction of
// indexable guards rules out.
#include "engine/start_filter.h"

#include <doctest/doctest.h>

#include <memory>
#include <random>
#include <string>
#include <unordered_map>
#include <vector>

#include "compiler/compile.h"
#include "engine/event_parser.h"
#include "nfa/shared_buffer.h"

namespace tern::engine {
namespace {

// Leaves the filter indexes (numbers against numbers, strings against strings,
// the same constants often, some written differently), and two it cannot.
const char* kIndexed[] = {
    "amount < 2",    "amount < 2.0",  "amount <= 2", "amount > 2",     "amount >= 1.5", "amount == 500",
    "amount != 0",   "amount < -3",   "amount > 500", "amount >= 500", "amount < 0.5",  "amount <= 1",
    "type == \"auth\"",  "type != \"refund\"",        "type == \"decline\"",
    "merchant in [\"m1\", \"m2\"]",   "merchant not in [\"m3\"]",     "merchant in [\"m2\", \"m4\", \"m9\"]",
    "merchant == \"m1\"",
};
const char* kOther[] = {"amount * 2 > 3", "len(merchant) > 2", "amount < 9007199254740993"};

struct Setup {
  nfa::Schema schema;
  nfa::EventStore events;
  nfa::SharedBuffer buffer{&events};
  nfa::Evaluator evaluator;
  nfa::MemoStore memo_store;
  std::unordered_map<std::string, uint32_t> memo_slots;
  std::vector<std::shared_ptr<const nfa::Program>> programs;
  std::vector<std::unique_ptr<nfa::ExprMemo>> memos;
  std::vector<std::unique_ptr<nfa::Nfa>> nfas;

  // As the engine binds them: identical event-only expressions share a memo slot.
  void Load(const std::string& source) {
    DiagnosticSink sink;
    programs = compiler::CompileSource(std::make_shared<SourceFile>("t.tern", source), schema, sink);
    REQUIRE_MESSAGE(!sink.has_errors(), RenderAll(sink.diagnostics()));
    for (const auto& p : programs) {
      auto memo = std::make_unique<nfa::ExprMemo>();
      memo->store = &memo_store;
      for (nfa::ExprId e = 0; e < p->exprs.size(); ++e) {
        std::string identity = nfa::ExprIdentity(*p, e);
        if (identity.empty()) {
          memo->slot.push_back(memo_store.Add());
          continue;
        }
        auto [it, added] = memo_slots.try_emplace(identity, 0);
        if (added) it->second = memo_store.Add();
        memo->slot.push_back(it->second);
      }
      nfas.push_back(std::make_unique<nfa::Nfa>(p.get(), &buffer, &evaluator, memo.get()));
      memos.push_back(std::move(memo));
    }
  }
  std::vector<StartFilter::Group> Groups() {
    std::vector<StartFilter::Group> groups;
    for (size_t i = 0; i < programs.size(); ++i) groups.push_back({nfas[i].get(), programs[i].get(), memos[i].get()});
    return groups;
  }
};

std::string RandomEvent(std::mt19937_64& rng, int ts) {
  const char* amounts[] = {"0", "1", "1.5", "2", "2.0", "500", "-3", "0.7", "-0.0", "1e308", "750",
                           "9007199254740993", "\"2\"", "null", "true", "2.5", "499.99"};
  const char* types[] = {"\"auth\"", "\"refund\"", "\"decline\"", "7", "\"\"", "null"};
  const char* merchants[] = {"\"m1\"", "\"m2\"", "\"m3\"", "\"m4\"", "\"m9\"", "\"m10\"", "3"};
  std::string e = "{\"ts\":" + std::to_string(ts) + ",\"card\":\"c1\"";
  if (rng() % 10 != 0) e += std::string(",\"amount\":") + amounts[rng() % std::size(amounts)];
  if (rng() % 10 != 0) e += std::string(",\"type\":") + types[rng() % std::size(types)];
  if (rng() % 10 != 0) e += std::string(",\"merchant\":") + merchants[rng() % std::size(merchants)];
  return e + "}";
}

TEST_CASE("start filter: never drops a group an event starts; drops what indexed guards rule out") {
  std::mt19937_64 rng(11);
  for (int round = 0; round < 8; ++round) {
    // Conjunctions of indexed leaves (decided by the filter alone) and free shapes.
    std::string source;
    std::vector<bool> exact;
    for (int p = 0; p < 30; ++p) {
      std::string cond;
      const bool conjunction = rng() % 3 != 0;
      const int n = 1 + static_cast<int>(rng() % 3);
      for (int k = 0; k < n; ++k) {
        std::string leaf = rng() % 8 == 0 ? kOther[rng() % std::size(kOther)] : kIndexed[rng() % std::size(kIndexed)];
        if (!conjunction && rng() % 3 == 0) leaf = "not (" + leaf + ")";
        if (k > 0) cond += conjunction || rng() % 2 == 0 ? " and " : " or ";
        cond += leaf;
      }
      exact.push_back(conjunction && cond.find("amount * 2") == std::string::npos &&
                      cond.find("len(") == std::string::npos && cond.find("9007") == std::string::npos);
      // `until` makes a guard that wants its leaf false: the start TAKEs on `cond and not until`.
      std::string until;
      if (rng() % 3 == 0) until = std::string(" times 1.. until ") + kIndexed[rng() % std::size(kIndexed)];
      source += "pattern p" + std::to_string(p) + " { key card within 20ms begin a where " + cond + until +
                " followed_by b where amount > 0 }\n";
    }
    Setup s;
    s.Load(source);
    // Small samples: the triggers are chosen, used, and chosen again.
    StartFilter filter(100 + 50 * static_cast<uint32_t>(round), 700);
    filter.Build(s.Groups());
    CHECK(filter.indexes() >= 2);
    EventParser parser(s.schema, "ts");
    std::vector<uint32_t> candidates;
    size_t dropped = 0;
    for (int i = 0; i < 2000; ++i) {
      const std::string line = RandomEvent(rng, i);
      nfa::StoredEvent* e = s.events.Acquire();
      REQUIRE(parser.Parse(line, *e, nullptr));
      const uint64_t epoch = static_cast<uint64_t>(round) * 1000 + static_cast<uint64_t>(i) + 1;
      filter.Candidates(e, epoch, &candidates);
      std::vector<bool> candidate(s.programs.size(), false);
      for (uint32_t g : candidates) candidate[g] = true;
      for (size_t p = 0; p < s.programs.size(); ++p) {
        const bool starts = !s.nfas[p]->StartIsNoop(e, epoch);
        INFO(line, " pattern p", p, " ", s.programs[p]->expr_text.empty() ? "" : s.programs[p]->expr_text[0]);
        if (starts) CHECK_MESSAGE(candidate[p], "dropped a group the event starts");
        if (exact[p]) CHECK_MESSAGE(candidate[p] == starts, "kept a group its guards rule out");
        dropped += candidate[p] ? 0 : 1;
      }
      s.events.Unref(e);
    }
    CHECK(dropped > 10000);
  }
}

TEST_CASE("start filter: contradictory guards start nothing; unguarded groups always pass") {
  Setup s;
  s.Load(R"(
pattern never { key card begin a where amount < 1 and amount > 5 followed_by b }
pattern any { key card begin a followed_by b where amount > 5 }
pattern stage { key card begin a where amount > 1 followed_by b where amount > a.amount }
)");
  StartFilter filter;
  filter.Build(s.Groups());
  EventParser parser(s.schema, "ts");
  std::vector<uint32_t> candidates;
  for (const char* line : {R"({"ts":1,"card":"c","amount":0})", R"({"ts":2,"card":"c","amount":3})",
                           R"({"ts":3,"card":"c","amount":9})", R"({"ts":4,"card":"c"})"}) {
    nfa::StoredEvent* e = s.events.Acquire();
    REQUIRE(parser.Parse(line, *e, nullptr));
    filter.Candidates(e, e->ts(), &candidates);
    std::vector<uint32_t> want = {1};
    if (!s.nfas[2]->StartIsNoop(e, e->ts())) want.push_back(2);
    CHECK(s.nfas[0]->StartIsNoop(e, e->ts()));
    CHECK(candidates == want);
    s.events.Unref(e);
  }
}

}  // namespace
}  // namespace tern::engine
