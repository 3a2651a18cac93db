// FOR TESTING ONLY. Never link this into the product.
//
// A brute-force reference matcher for a restricted model of Tern patterns
// (STYLE.md §6). It is deliberately simple and slow: it enumerates every way
// of binding the events of a short stream (<= 10 events) to the stages of a
// pattern and keeps the assignments that satisfy a declarative definition of
// Flink CEP's matching semantics, written down at the top of
// reference_matcher.cc. The property test (reference_test.cc) runs random
// patterns and streams through it and through the engine and compares them.
//
// The model: a sequence of stages, each with a condition over one string
// field `name` (`name == "x"`, or every event), a contiguity to the previous
// stage, a quantifier, an inner contiguity for repeating stages, and an
// optional pattern `within`. A stage may be a group of plain or optional
// single stages (one level), quantified as a whole, with an `until` when it
// loops. No key, no emit, no greedy, no until on single stages, no nested
// groups, no not stages in a pattern with a group, no skip strategies, no
// iterative conditions, no `gap` or stage `within`, no `not_followed_by` at
// the end (see the .cc for why).
// Tested by tests/reference/reference_test.cc.
#pragma once

#include <compare>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace tern::reference {

enum class Contiguity : uint8_t {
  kNext,           // strict
  kFollowedBy,     // relaxed: skip till next
  kFollowedByAny,  // non-deterministic relaxed: skip till any
  kNotNext,
  kNotFollowedBy,
};

// Contiguity between the iterations of one repeating stage.
enum class Inner : uint8_t {
  kRelaxed,            // default: skip till next
  kConsecutive,        // strict
  kAllowCombinations,  // skip till any
};

inline constexpr int kUnbounded = -1;

struct Stage {
  std::string name;                   // an identifier, unique in the pattern; unused for groups
  std::optional<std::string> equals;  // condition `name == "<equals>"`; nullopt: every event
  Contiguity contiguity = Contiguity::kFollowedBy;  // to the previous stage; ignored for stage 0
  // Quantifier: binds between `min` and `max` events (max == kUnbounded: no upper bound),
  // or none at all when `optional`. min = max = 1 and !optional is a plain stage.
  int min = 1;
  int max = 1;
  bool optional = false;
  bool spell_times = false;  // render `times 1` / `times 1..` instead of nothing / `one_or_more`
  Inner inner = Inner::kRelaxed;
  // A group: its single stages (non-empty), in order; the first one's contiguity is not
  // used (the group's applies). `equals` is unused for a group.
  std::vector<Stage> children;
  std::optional<std::string> until;  // groups that loop: `until name == "<until>"`

  bool IsGroup() const { return !children.empty(); }
  bool IsNot() const {
    return contiguity == Contiguity::kNotNext || contiguity == Contiguity::kNotFollowedBy;
  }
  bool Accepts(const std::optional<std::string>& event_name) const {
    return !equals || (event_name && *event_name == *equals);
  }
};

struct Pattern {
  std::string name = "p";
  std::vector<Stage> stages;
  int64_t within_ms = 0;  // 0: no window
};

struct Event {
  std::optional<std::string> name;  // the `name` field; nullopt when the event has none
  int64_t ts = 0;
};

// One match: stage name -> the 0-based indices (into the stream) of the events bound
// to it, in stream order. Stages that bound nothing are absent (as in alerts).
using Match = std::map<std::string, std::vector<int>>;

// Empty when `p` is inside the model (and valid Tern); otherwise why it is not.
std::string Unsupported(const Pattern& p);

// The pattern as .tern source text.
std::string Render(const Pattern& p);

// Every match of `p` over `events` (a multiset, sorted). Requires Unsupported(p) empty
// and events.size() <= 10. Events are in arrival order; their times should not decrease.
std::vector<Match> Matches(const Pattern& p, const std::vector<Event>& events);

// Where an assignment binds one event: stage `stage` of the pattern, its iteration
// `iteration` (1-based: the position among the stage's events for a single stage, the
// iteration of the group for a group), and for a group the index of the child stage.
struct Slot {
  int stage = 0;
  int iteration = 1;
  int child = -1;  // -1 for a single stage
  auto operator<=>(const Slot&) const = default;
};

// The declarative check itself: whether binding each event to `slots[e]` (nullopt:
// unbound) is a match of `p`.
bool IsMatch(const Pattern& p, const std::vector<Event>& events,
             const std::vector<std::optional<Slot>>& slots);

// `{a:[0,2] b:[4]}` with the given offset added to every index (1: event ids).
std::string Describe(const Match& m, int offset = 0);

}  // namespace tern::reference
