// The keyword, skip strategy and function tables.
// Tested by tests/unit/lsp/features_test.cc.
#include "lsp/vocabulary.h"

#include <array>

namespace tern::lsp {

namespace {

using K = WordKind;

// clang-format off
constexpr std::array<Word, 40> kWords = {{
    {"pattern", K::kClause, "`pattern NAME { ... }` declares a pattern: clauses, a sequence of stages, then `emit` and `on_timeout`."},
    {"key", K::kClause, "`key path, ...` partitions the stream: each key value runs its own NFA (default: one global partition)."},
    {"within", K::kClause, "`within DURATION`: on the pattern, the whole match must fit (last.time - first.time < DURATION); on a stage, each of its events must come less than DURATION after the previous bound event."},
    {"gap", K::kClause, "`gap DURATION`: every two consecutive bound events must be less than DURATION apart."},
    {"skip", K::kClause, "`skip STRATEGY`: the after-match skip strategy (default `no_skip`), as Flink's `AfterMatchSkipStrategy`."},
    {"from", K::kClause, "`from NAME, ...`: only events of these input streams (default: all)."},
    {"to", K::kClause, "`to \"topic\"`: where this pattern's alerts go, overriding the default destination."},
    {"begin", K::kContiguity, "`begin STAGE` starts the sequence (at the top of the pattern or inside a group)."},
    {"next", K::kContiguity, "Strict contiguity: the stage's event is the very next event of the key after the previous stage's last event."},
    {"followed_by", K::kContiguity, "Relaxed contiguity: events that do not match are skipped; the stage binds the first matching event only."},
    {"followed_by_any", K::kContiguity, "Non-deterministic relaxed contiguity: every later matching event starts its own branch (Flink's `followedByAny`)."},
    {"not_next", K::kContiguity, "The event right after the previous stage must not match this stage; it binds nothing."},
    {"not_followed_by", K::kContiguity, "No event matching this stage may occur between the previous stage and the next one; as the last stage it needs a window (absence detection)."},
    {"where", K::kStageSuffix, "`where CONDITION`: the events this stage accepts (without `where`, every event)."},
    {"times", K::kStageSuffix, "`times n`, `times n..m`, `times n..`: the stage binds n (to m, or more) events."},
    {"one_or_more", K::kStageSuffix, "`one_or_more` = `times 1..`: the stage binds one or more events."},
    {"optional", K::kStageSuffix, "`optional`: the stage may bind no event."},
    {"greedy", K::kStageSuffix, "`greedy`: a looping stage iterates as long as it can before the sequence moves on."},
    {"consecutive", K::kStageSuffix, "`consecutive`: strict contiguity between the iterations of a looping stage (default relaxed)."},
    {"allow_combinations", K::kStageSuffix, "`allow_combinations`: non-deterministic relaxed contiguity between the iterations of a looping stage."},
    {"until", K::kStageSuffix, "`until CONDITION`: a looping stage stops iterating at the first event satisfying it (that event is not bound)."},
    {"emit", K::kClause, "`emit { name = expr ... }`: the fields of the alert of a match."},
    {"on_timeout", K::kClause, "`on_timeout emit { ... }`: an alert for a partial match whose window closed, with these fields."},
    {"and", K::kOperator, "Logical and: true when both sides are true."},
    {"or", K::kOperator, "Logical or: true when either side is true (the weakest operator)."},
    {"not", K::kOperator, "Logical not; also `not in [..]`: not one of the listed values."},
    {"in", K::kOperator, "`x in [a, b, ...]`: x equals one of the listed values."},
    {"contains", K::kOperator, "`s contains t`: the string s contains the substring t, or the list s contains the element t."},
    {"starts_with", K::kOperator, "`s starts_with t`: the string s begins with t."},
    {"ends_with", K::kOperator, "`s ends_with t`: the string s ends with t."},
    {"matches", K::kOperator, "`s matches \"regex\"`: the string s matches the regular expression (ECMAScript syntax, run in linear time)."},
    {"true", K::kValue, "The boolean true."},
    {"false", K::kValue, "The boolean false."},
    {"null", K::kValue, "The null value: what a missing field or an unbound stage gives; only `== null` and `!= null` are true on it."},
    {"this", K::kValue, "The current event: `this.amount` (a bare `amount` means the same)."},
    {"no_skip", K::kSkip, "`skip no_skip`: every match is reported (the default)."},
    {"to_next", K::kSkip, "`skip to_next`: after a match, discard the partial matches that started with the same event."},
    {"past_last_event", K::kSkip, "`skip past_last_event`: after a match, discard every partial match that started before its last event."},
    {"to_first", K::kSkip, "`skip to_first(STAGE)`: after a match, discard partial matches that started before the first event bound to STAGE."},
    {"to_last", K::kSkip, "`skip to_last(STAGE)`: after a match, discard partial matches that started before the last event bound to STAGE."},
}};

constexpr std::array<Function, 14> kFunctions = {{
    {"count", "count(list) -> int", "The number of events (or values) in the list; 0 for an empty one."},
    {"sum", "sum(list) -> number", "The sum of the list's numbers; 0 for an empty list."},
    {"avg", "avg(list) -> double", "The mean of the list's numbers; null for an empty list."},
    {"min", "min(list) -> value", "The smallest value of the list; null for an empty list."},
    {"max", "max(list) -> value", "The largest value of the list; null for an empty list."},
    {"first", "first(list) -> value", "The first element of the list (the first event a looping stage bound); null when empty."},
    {"last", "last(list) -> value", "The last element of the list (the latest event a looping stage bound); null when empty."},
    {"len", "len(string | list) -> int", "The length of a string (in characters) or of a list."},
    {"abs", "abs(number) -> number", "The absolute value."},
    {"lower", "lower(string) -> string", "The string in lower case."},
    {"upper", "upper(string) -> string", "The string in upper case."},
    {"exists", "exists(path) -> bool", "True when the field path (or stage reference) is present and not null."},
    {"coalesce", "coalesce(a, b, ...) -> value", "The first argument that is not null."},
    {"time", "time(event) -> int", "The event's time, in epoch milliseconds."},
}};
// clang-format on

}  // namespace

std::span<const Word> Words() { return kWords; }
std::span<const Function> Functions() { return kFunctions; }

const Word* FindWord(std::string_view word) {
  for (const Word& w : kWords) {
    if (w.word == word) return &w;
  }
  return nullptr;
}

const Function* FindFunction(std::string_view name) {
  for (const Function& f : kFunctions) {
    if (f.name == name) return &f;
  }
  return nullptr;
}

}  // namespace tern::lsp
