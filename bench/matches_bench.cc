// Cost of one `matches` condition on typical short fields (e-mail addresses, codes,
// user agents): the compiled expression run by nfa::Evaluator, as a stage condition is.
// The figures behind the switch from std::regex to RE2 (dsl/regex.cc): RE2 is linear in
// the field and must not be slower on these. Events are parsed once, from a constant seed.
// Tested by the CTest smoke run (tiny argument).
#include <benchmark/benchmark.h>

#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "compiler/compile.h"
#include "engine/engine.h"
#include "engine/event_parser.h"
#include "nfa/eval.h"

namespace tern::bench {
namespace {

struct Case {
  const char* name;
  const char* regex;  // as written in a .tern string literal
};
// Anchored, unanchored, alternation, and a search that fails on most fields.
constexpr Case kCases[] = {
    {"email_domain", R"(^[^@]+@(mailinator|yopmail)\\.com$)"},
    {"code", R"(^[A-Z]{2}-\\d+$)"},
    {"digits", R"(\\d{3})"},
    {"agent", R"((Headless|PhantomJS|curl)/)"},
};

// Short fields of the kinds the cases read, from a constant seed.
std::vector<std::string> Fields(size_t n) {
  static const char* kDomains[] = {"example.com", "mailinator.com", "gmail.com", "yopmail.com",
                                   "corp.example.org"};
  static const char* kAgents[] = {"Mozilla/5.0 (X11; Linux x86_64)", "HeadlessChrome/120.0",
                                  "curl/8.4.0", "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1)"};
  uint64_t x = 88172645463325252ull;
  std::vector<std::string> out;
  for (size_t i = 0; i < n; ++i) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    char buf[96];
    switch (x % 3) {
      case 0:
        std::snprintf(buf, sizeof buf, "user%u@%s", static_cast<unsigned>(x >> 40) % 10000,
                      kDomains[(x >> 8) % 5]);
        break;
      case 1:
        std::snprintf(buf, sizeof buf, "%c%c-%u", 'A' + static_cast<char>((x >> 12) % 26),
                      'A' + static_cast<char>((x >> 20) % 26),
                      static_cast<unsigned>(x >> 33) % 100000);
        break;
      default:
        std::snprintf(buf, sizeof buf, "%s", kAgents[(x >> 16) % 4]);
        break;
    }
    out.emplace_back(buf);
  }
  return out;
}

void BM_Matches_Condition(benchmark::State& state) {
  const Case& c = kCases[state.range(0)];
  const size_t n = static_cast<size_t>(state.range(1));
  state.SetLabel(c.name);
  engine::Engine engine;
  DiagnosticSink sink;
  const std::string text = std::string("pattern p { begin e where s matches \"") + c.regex + "\" }";
  auto programs =
      compiler::CompileSource(std::make_shared<SourceFile>("m.tern", text), engine.schema(), sink);
  if (sink.has_errors() || programs.size() != 1) {
    state.SkipWithError(RenderAll(sink.diagnostics()).c_str());
    return;
  }
  const nfa::Program& program = *programs[0];
  engine::EventParser parser(engine.schema(), "ts");
  std::vector<nfa::StoredEvent*> events;
  int64_t bytes = 0;
  std::string error;
  for (const std::string& field : Fields(n)) {
    nfa::StoredEvent* e = engine.NewEvent();
    if (!parser.Parse("{\"ts\":1,\"s\":\"" + field + "\"}", *e, &error)) {
      state.SkipWithError(error.c_str());
      return;
    }
    events.push_back(e);
    bytes += static_cast<int64_t>(field.size());
  }
  nfa::Evaluator evaluator;
  nfa::EvalContext ctx;
  ctx.program = &program;
  size_t hits = 0;
  for (auto _ : state) {
    for (const nfa::StoredEvent* e : events) {
      ctx.event = e;
      hits += nfa::Evaluator::Truthy(evaluator.Evaluate(ctx, 0)) ? 1 : 0;
    }
  }
  benchmark::DoNotOptimize(hits);
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(events.size()));
  state.SetBytesProcessed(state.iterations() * bytes);
  state.counters["match_rate"] =
      static_cast<double>(hits) / static_cast<double>(state.iterations() * events.size());
}

BENCHMARK(BM_Matches_Condition)->ArgsProduct({{0, 1, 2, 3}, {1000}});

}  // namespace
}  // namespace tern::bench

BENCHMARK_MAIN();
