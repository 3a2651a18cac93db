// FOR TESTING ONLY. The brute-force reference matcher (see reference_matcher.h).
//
// =============================================================================
// The declarative semantics IsMatch checks
// =============================================================================
//
// Notation. e_0 .. e_{n-1}: the events in arrival order. An assignment binds a
// list L_s of events to every stage s (nothing to a not stage). B = all bound
// events in stream order, b_1 < ... < b_M. cond_s: the stage's condition.
// min_s / max_s / optional_s: its quantifier (a plain stage is 1 / 1 / no).
// The iteration of b in L_s is its 1-based position in L_s. For a stage P,
// first(P) and last(P) are the first and last events of L_P. The completion
// event c of a match is b_M, or b_M + 1 when the pattern ends with not_next:
// the event at which the match is complete and emitted.
//
// An assignment is a match if and only if M1 .. M7 all hold; M8 says how many
// times it is reported.
//
// M1 Counts. |L_s| is 0 (only when optional_s) or in [min_s, max_s]. Not
//    stages bind nothing. M >= 1: an empty match is never reported.
// M2 Order. Stages bind in declaration order: every event of L_s precedes
//    every event of L_t when s < t.
// M3 Conditions. Every event of L_s satisfies cond_s.
// M4 Contiguity. For two consecutive bound events b_j < b_{j+1}, where b_{j+1}
//    is bound to stage S:
//      - if b_j is bound to S too, S's inner contiguity applies (relaxed by
//        default, `consecutive` = strict, `allow_combinations` = any);
//      - otherwise S's declared contiguity applies (next = strict,
//        followed_by = relaxed, followed_by_any = any), whatever stages
//        (skipped optional ones, not stages) lie between.
//    strict:  b_{j+1} = b_j + 1.
//    relaxed (skip till next): no event strictly between b_j and b_{j+1}
//             satisfies cond_S. (Note: S's condition, not the previous stage's.)
//    any (skip till any): no constraint.
//    b_1 is unconstrained: every event may start a match, whichever stage
//    (the first, or a later one when all before it are optional and skipped)
//    binds it.
//    Why the stage of b_{j+1} decides even across skipped optional stages: in
//    Flink's NFA a skipped optional stage is left by a PROCEED edge, which is
//    followed (only) while handling an event; and a run that IGNOREs an event
//    in an optional or looping state moves to a copy of that state without the
//    PROCEED edge, so it is committed to bind that stage next. Hence a run
//    that binds b_{j+1} in stage S has, at event b_j + 1, already proceeded to
//    S's state, and S's ignore condition (the contiguity above) governs every
//    event up to b_{j+1}. Conformance: NFAITCase__testStartWithOptional,
//    __testStrictContinuityNoResultsAfterZeroOrMore, TimesOrMoreITCase__*.
// M5 not_next N after stage P (P is never optional: E0305). For every event b
//    of L_P whose iteration is >= min_P: the event b + 1 exists and does not
//    satisfy cond_N. (Flink: after each take that completes P's minimum count
//    the run sits in a state with a PROCEED into the not-next state, whose
//    PROCEED on cond_N reaches a stop state and discards everything the run
//    produced at that event. Once the run has ignored an event inside the loop
//    it is in the ignore copy, which has no PROCEED, so only b + 1 is checked.)
//    At the end of a pattern this also means the match is only complete when
//    the event after last(P) arrives (NotPatternITCase__testNotNext*).
// M6 not_followed_by N between stages P and S (not at the end). Let f be the
//    first bound event after last(P), or b_M when P binds the last bound
//    events. No event e with first(P) < e <= f satisfies cond_N, except e = c.
//    (Flink: every state of P after its first take -- the looping state, its
//    ignore copy, the times states -- and every state the run can be in up
//    to and including the one that binds f carries a PROCEED on cond_N into
//    a stop state. Reaching a stop state discards every partial match the
//    run produced at that event, but a match completed at that same event is
//    still emitted: hence the exception for c. When the pattern ends with
//    not_next, binding b_M does not complete the match, so an N at b_M kills
//    it. NotPatternITCase__testNotFollowedBy*, __testTimesWithNotFollowedByAfter,
//    __testIgnoreStateOfTimesWithNotFollowedBy.)
//    The check starts after first(P), not after last(P): an N event between
//    two iterations of a looping P kills the run
//    (NotPatternITCase__testNotFollowedByNextAfterOneOrMoreCombinations).
//    And it includes f itself: an event that satisfies both cond_S and
//    cond_N kills the run unless it completes the match.
// M7 Window. With `within W`: t(c) - t(b_1) < W (time advances before an
//    event is matched: spec §8, so a run whose window closed at c is gone).
// M8 Multiplicity. Each assignment satisfying M1..M7 is reported exactly once;
//    different assignments are different matches. This is where "a non-greedy
//    looping stage produces one match per admissible number of iterations"
//    comes from (NFAITCase__testSkipTillNextOneOrMore: a one_or_more stage
//    over a, a, a, a followed by b gives 4 matches; __testSkipTillAnyOneOrMore
//    with allow_combinations gives 8).
//
// Left out of the model (Unsupported), because they are not defined
// declaratively here with confidence:
//   - greedy, until, groups, after-match skip strategies, iterative conditions
//     (conditions over earlier stages), `gap` and per-stage `within`, keys;
//   - not_followed_by at the end (absence decided by a closing window);
//   - not_followed_by N next to a stage `times n..m` with n < m: as P,
//     Flink's optional times states carry N's stop edge but their ignore
//     copies do not; as S -- or as any stage of the run of optional stages
//     after N and the first non-optional one after them (Flink's
//     getCurrentNotCondition) -- the ignore copies of its optional times
//     states inherit N's stop edge, so N is checked between some of its
//     iterations. Neither is a property of the assignment alone;
//   - not_followed_by N followed by two optional stages S, T: when S binds an
//     event, Flink moves the run to a copy of T's entry state without N's
//     stop edge (copyWithoutTransitiveNots), but the copy's IGNORE edge leads
//     to T's original ignore state and its PROCEED to the next stage's
//     original entry, which both still check N; so N keeps being checked
//     after S bound, depending on how the run got there;
//   - not_next whose following stages are all optional: Flink then completes
//     the match on the take of last(P), evaluating the not condition on that
//     same event (a PROCEED chain through the not-next state), unlike §4;
//   - two not stages in a row; a not stage after an optional stage (E0305).
// =============================================================================
#include "tests/reference/reference_matcher.h"

#include <algorithm>
#include <functional>
#include <sstream>
#include <stdexcept>

namespace tern::reference {
namespace {

bool IsBoundedRange(const Stage& s) { return s.max != kUnbounded && s.min < s.max; }

// The contiguity rule between two consecutive bound events, per M4.
enum class Rule { kStrict, kRelaxed, kAny };

Rule EntryRule(const Stage& s) {
  switch (s.contiguity) {
    case Contiguity::kNext:
      return Rule::kStrict;
    case Contiguity::kFollowedByAny:
      return Rule::kAny;
    default:
      return Rule::kRelaxed;
  }
}

Rule InnerRule(const Stage& s) {
  switch (s.inner) {
    case Inner::kConsecutive:
      return Rule::kStrict;
    case Inner::kAllowCombinations:
      return Rule::kAny;
    default:
      return Rule::kRelaxed;
  }
}

std::string Quote(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

}  // namespace

std::string Unsupported(const Pattern& p) {
  if (p.stages.empty()) return "no stages";
  if (p.within_ms < 0) return "negative within";
  for (size_t i = 0; i < p.stages.size(); ++i) {
    const Stage& s = p.stages[i];
    for (size_t j = 0; j < i; ++j)
      if (p.stages[j].name == s.name) return "duplicate stage name " + s.name;
    if (s.name.empty()) return "empty stage name";
    if (s.IsNot()) {
      if (i == 0) return "a pattern cannot begin with a not stage";
      const Stage& prev = p.stages[i - 1];
      if (prev.IsNot()) return "two not stages in a row";
      if (prev.optional) return "a not stage after an optional stage (E0305)";
      if (s.optional || s.min != 1 || s.max != 1 || s.inner != Inner::kRelaxed || s.spell_times)
        return "a quantified not stage";
      bool last = i + 1 == p.stages.size();
      if (s.contiguity == Contiguity::kNotFollowedBy) {
        if (last) return "not_followed_by at the end";
        if (IsBoundedRange(prev)) return "not_followed_by next to a times n..m stage";
        // The stages whose entry states check N: the optional ones after it and the
        // first non-optional one.
        for (size_t j = i + 1; j < p.stages.size(); ++j) {
          if (IsBoundedRange(p.stages[j]))
            return "a times n..m stage among those checking a not_followed_by";
          if (!p.stages[j].optional) break;
        }
        if (i + 2 < p.stages.size() && p.stages[i + 1].optional && p.stages[i + 2].optional)
          return "not_followed_by followed by two optional stages";
      } else if (!last) {
        bool all_optional = true;
        for (size_t j = i + 1; j < p.stages.size(); ++j)
          if (!p.stages[j].IsNot() && !p.stages[j].optional) all_optional = false;
        if (all_optional) return "not_next followed by optional stages only";
      }
      continue;
    }
    if (s.min < 1) return "min < 1";
    if (s.max != kUnbounded && s.max < s.min) return "max < min";
    if (s.inner != Inner::kRelaxed && s.max == 1)
      return "inner contiguity on a stage that binds one event";
  }
  return "";
}

std::string Render(const Pattern& p) {
  std::ostringstream o;
  o << "pattern " << p.name << " {\n";
  if (p.within_ms > 0) o << "  within " << p.within_ms << "ms\n";
  for (size_t i = 0; i < p.stages.size(); ++i) {
    const Stage& s = p.stages[i];
    o << "  ";
    if (i == 0) {
      o << "begin";
    } else {
      switch (s.contiguity) {
        case Contiguity::kNext:
          o << "next";
          break;
        case Contiguity::kFollowedBy:
          o << "followed_by";
          break;
        case Contiguity::kFollowedByAny:
          o << "followed_by_any";
          break;
        case Contiguity::kNotNext:
          o << "not_next";
          break;
        case Contiguity::kNotFollowedBy:
          o << "not_followed_by";
          break;
      }
    }
    o << " " << s.name;
    if (s.equals) o << " where name == " << Quote(*s.equals);
    if (s.max == kUnbounded) {
      if (s.min == 1 && !s.spell_times)
        o << " one_or_more";
      else
        o << " times " << s.min << "..";
    } else if (s.min != s.max) {
      o << " times " << s.min << ".." << s.max;
    } else if (s.min != 1 || s.spell_times) {
      o << " times " << s.min;
    }
    if (s.optional) o << " optional";
    if (s.inner == Inner::kConsecutive) o << " consecutive";
    if (s.inner == Inner::kAllowCombinations) o << " allow_combinations";
    o << "\n";
  }
  o << "}\n";
  return o.str();
}

bool IsMatch(const Pattern& p, const std::vector<Event>& ev,
             const std::vector<std::vector<int>>& bound) {
  const int n = static_cast<int>(ev.size());
  const int k = static_cast<int>(p.stages.size());
  if (static_cast<int>(bound.size()) != k) return false;

  // M1 counts, M3 conditions, M2 order; collect B = (event, stage) in stream order.
  struct Bound {
    int event;
    int stage;
  };
  std::vector<Bound> all;
  for (int s = 0; s < k; ++s) {
    const Stage& st = p.stages[s];
    const int c = static_cast<int>(bound[s].size());
    if (st.IsNot()) {
      if (c != 0) return false;
      continue;
    }
    if (c == 0 ? !st.optional : (c < st.min || (st.max != kUnbounded && c > st.max))) return false;
    for (int e : bound[s]) {
      if (e < 0 || e >= n || !st.Accepts(ev[e].name)) return false;
      if (!all.empty() && all.back().event >= e) return false;  // M2 (and increasing)
      all.push_back({e, s});
    }
  }
  if (all.empty()) return false;
  const int first = all.front().event;
  const int last = all.back().event;
  // The completion event: b_M, or b_M + 1 when the pattern ends with not_next (M5 checks
  // that it exists).
  const int completion = p.stages.back().contiguity == Contiguity::kNotNext ? last + 1 : last;

  // M4 contiguity.
  for (size_t j = 0; j + 1 < all.size(); ++j) {
    const int from = all[j].event, to = all[j + 1].event;
    const Stage& s = p.stages[all[j + 1].stage];
    Rule rule = all[j].stage == all[j + 1].stage ? InnerRule(s) : EntryRule(s);
    if (rule == Rule::kStrict && to != from + 1) return false;
    if (rule == Rule::kRelaxed)
      for (int e = from + 1; e < to; ++e)
        if (s.Accepts(ev[e].name)) return false;
  }

  // M5 / M6 not stages. P = the stage before (bound: it is never optional).
  for (int s = 1; s < k; ++s) {
    const Stage& st = p.stages[s];
    if (!st.IsNot()) continue;
    const Stage& prev = p.stages[s - 1];
    const std::vector<int>& lp = bound[s - 1];
    if (lp.empty()) return false;  // cannot happen for a supported pattern
    if (st.contiguity == Contiguity::kNotNext) {
      for (int it = std::max(prev.min, 1); it <= static_cast<int>(lp.size()); ++it) {
        int after = lp[it - 1] + 1;
        if (after >= n || st.Accepts(ev[after].name)) return false;
      }
    } else {
      int f = last;
      for (const Bound& b : all)
        if (b.event > lp.back()) {
          f = b.event;
          break;
        }
      for (int e = lp.front() + 1; e <= f; ++e)
        if (e != completion && st.Accepts(ev[e].name)) return false;
    }
  }

  // M7 window.
  if (p.within_ms > 0) {
    if (completion >= n || ev[completion].ts - ev[first].ts >= p.within_ms) return false;
  }
  return true;
}

std::vector<Match> Matches(const Pattern& p, const std::vector<Event>& ev) {
  if (std::string why = Unsupported(p); !why.empty())
    throw std::invalid_argument("reference::Matches: unsupported pattern: " + why);
  if (ev.size() > 10) throw std::invalid_argument("reference::Matches: more than 10 events");
  const int n = static_cast<int>(ev.size());
  const int k = static_cast<int>(p.stages.size());

  // Brute force: every event is either unbound or bound to a stage at or after the
  // stage of the previous bound event (M2). Conditions and max counts prune early;
  // everything else is left to IsMatch.
  std::vector<Match> out;
  std::vector<std::vector<int>> bound(k);
  std::function<void(int, int)> go = [&](int e, int stage) {
    if (e == n) {
      if (IsMatch(p, ev, bound)) {
        Match m;
        for (int s = 0; s < k; ++s)
          if (!bound[s].empty()) m[p.stages[s].name] = bound[s];
        out.push_back(std::move(m));
      }
      return;
    }
    go(e + 1, stage);  // e unbound
    for (int s = stage; s < k; ++s) {
      const Stage& st = p.stages[s];
      if (st.IsNot() || !st.Accepts(ev[e].name)) continue;
      if (st.max != kUnbounded && static_cast<int>(bound[s].size()) >= st.max) continue;
      bound[s].push_back(e);
      go(e + 1, s);
      bound[s].pop_back();
    }
  };
  go(0, 0);
  std::sort(out.begin(), out.end());
  return out;
}

std::string Describe(const Match& m, int offset) {
  std::string out = "{";
  bool first_stage = true;
  for (const auto& [stage, events] : m) {
    if (!first_stage) out += " ";
    first_stage = false;
    out += stage + ":[";
    for (size_t i = 0; i < events.size(); ++i) {
      if (i) out += ",";
      out += std::to_string(events[i] + offset);
    }
    out += "]";
  }
  return out + "}";
}

}  // namespace tern::reference
