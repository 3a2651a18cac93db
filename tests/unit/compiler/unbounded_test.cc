// W0101: the compiler warns about a pattern whose partial matches can wait forever
// (compiler/compile.cc, UnboundedWait), table-driven over keys, windows, contiguity,
// quantifiers, `not_*` stages and groups.
#include <doctest/doctest.h>

#include <memory>
#include <string>

#include "compiler/compile.h"

namespace tern::compiler {
namespace {

struct Row {
  const char* pattern;
  const char* waits_at;  // the stage W0101 names, "" for no warning
};

TEST_CASE("W0101: partial matches that no window discards") {
  const Row rows[] = {
      // Keyed: any wait without a window.
      {"key k begin a followed_by b", "b"},
      {"key k begin a next b", "b"},  // strict, but the key may send nothing more
      {"key k within 1m begin a followed_by b", ""},
      {"key k gap 1m begin a followed_by b", ""},
      {"key k begin a followed_by b within 5m", ""},
      {"key k begin a followed_by b within 5m followed_by c", "c"},
      {"key k begin a", ""},  // completes with its first event
      {"key k begin a where x == 1 or x == 2", ""},
      {"key k begin a times 3", "a"},
      {"key k begin a one_or_more", "a"},
      {"key k begin a one_or_more within 1m", ""},
      {"key k begin a optional followed_by b within 1m", ""},
      {"key k begin a not_next x", "x"},
      {"key k begin a not_next x within 1m", ""},
      {"key k within 1m begin a not_followed_by x", ""},
      {"key k begin a followed_by b within 1m not_followed_by x within 1m", ""},
      {"key k begin (a next b) times 2", "a"},
      {"key k begin a followed_by (b within 1m next c) one_or_more", "c"},
      {"key k begin a followed_by (b within 1m next c within 1m) one_or_more", ""},
      // Unkeyed: only a wait that skips events piles up.
      {"begin a next b", ""},
      {"begin a next b next c", ""},
      {"begin a followed_by b", "b"},
      {"begin a followed_by_any b", "b"},
      {"begin a next b followed_by c", "c"},
      {"begin a one_or_more consecutive", ""},
      {"begin a one_or_more", "a"},
      {"begin a times 2..4 allow_combinations", "a"},
      {"begin a not_next x", ""},
      {"begin (a next b) one_or_more consecutive", ""},
      {"begin (a next b) one_or_more", "a"},
      {"within 1m begin a followed_by b", ""},
      {"gap 1m begin a one_or_more followed_by b", ""},
  };
  for (const Row& row : rows) {
    CAPTURE(std::string(row.pattern));
    nfa::Schema schema;
    DiagnosticSink sink;
    auto source =
        std::make_shared<SourceFile>("u.tern", std::string("pattern p { ") + row.pattern + " }");
    auto programs = CompileSource(source, schema, sink);
    CHECK(!sink.has_errors());
    CHECK(programs.size() == 1);  // a warning keeps the pattern
    std::string warned;
    for (const Diagnostic& d : sink.diagnostics()) {
      CHECK(d.severity == Severity::kWarning);
      CHECK(d.code == "W0101");
      warned = d.message;
    }
    if (*row.waits_at == '\0') {
      CHECK(sink.diagnostics().empty());
    } else {
      CHECK(warned == std::string("a partial match can wait at '") + row.waits_at + "' forever");
    }
  }
}

}  // namespace
}  // namespace tern::compiler
