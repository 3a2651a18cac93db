// FOR TESTING ONLY. The brute-force reference matcher (see reference_matcher.h).
//
// =============================================================================
// The declarative semantics IsMatch checks
// =============================================================================
//
// Notation. e_0 .. e_{n-1}: the events in arrival order. An assignment binds
// each bound event to a slot: a stage of the pattern, an iteration and, for a
// group, one of its child stages (see Slot). L_s is the list of events bound
// to stage s (to any child of a group s), in stream order; not stages bind
// nothing. B = all bound events in stream order, b_1 < ... < b_M. cond_x: the
// condition of single stage x. min_s / max_s / optional_s: the quantifier of
// stage s (a plain stage is 1 / 1 / no); for a group they count iterations.
// The iteration of b in L_s is its 1-based position in L_s for a single
// stage. For a stage P, first(P) and last(P) are the first and last events of
// L_P. The completion event c of a match is b_M, or b_M + 1 when the pattern
// ends with not_next: the event at which the match is complete and emitted.
//
// An assignment is a match if and only if M1 .. M7 and M9 all hold; M8 says
// how many times it is reported.
//
// M1 Counts. |L_s| of a single stage is 0 (only when optional_s) or in
//    [min_s, max_s]. A group binds 0 iterations (only when optional_s) or a
//    number in [min_s, max_s]; each iteration binds at most one event to each
//    child, exactly one to each child that is not optional, and at least one
//    event (so a group of optional children is not skipped by binding
//    nothing: only an optional group binds nothing). Not stages bind
//    nothing. M >= 1: an empty match is never reported.
// M2 Order. Slots increase with the events: stages bind in declaration
//    order, a group's iterations one after the other (numbered 1, 2, ...),
//    and within an iteration its children in declaration order.
// M3 Conditions. Every event bound to single stage (or child) x satisfies
//    cond_x.
// M4 Contiguity. For two consecutive bound events b_j < b_{j+1}, where
//    b_{j+1} is bound to single stage S, or to child S of group G:
//      - S single and b_j bound to S too: S's inner contiguity applies
//        (relaxed by default, `consecutive` = strict, `allow_combinations` =
//        any);
//      - S in G and b_j in the same iteration of G: S's declared contiguity;
//      - S in G and b_j in the previous iteration of G: G's inner contiguity;
//      - otherwise the declared contiguity of S (single) or of G: whatever
//        stages (skipped optional ones, not stages) lie between, and whatever
//        optional children of G before S are skipped in this iteration.
//    strict:  b_{j+1} = b_j + 1.
//    relaxed (skip till next): no event strictly between b_j and b_{j+1}
//             satisfies cond_S. (Note: S's condition, not the previous stage's,
//             nor that of a skipped first child of a group.)
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
//    Groups: the first child of a group takes the group's contiguity (Flink's
//    head of a group: the group's declared one on entry, its inner one between
//    iterations); when optional children at the start of an iteration bind
//    nothing, the first child that binds takes that role (issue 13: a group
//    entered with `next` whose first child is skipped stays strict).
//    Conformance: GroupITCase__*.
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
// M8 Multiplicity. Each assignment satisfying M1..M7 and M9 is reported
//    exactly once; different assignments are different matches. This is where
//    "a non-greedy looping stage produces one match per admissible number of
//    iterations" comes from (NFAITCase__testSkipTillNextOneOrMore: a
//    one_or_more stage over a, a, a, a followed by b gives 4 matches;
//    __testSkipTillAnyOneOrMore with allow_combinations gives 8). Two
//    assignments that differ only in where a group's iterations split (a1 b2
//    as one iteration of (a optional, b optional), or as two) are two matches
//    with the same events: the NFA reaches them by different paths.
// M9 Until (a looping group G with `until U`; Flink's GroupPattern#until: every
//    take, ignore and proceed inside the group requires not U, and only the
//    loop's way out does not). Let p be the last bound event before first(G)
//    (if any) and L = last(G). No event e with p < e <= L (first(G) <= e <= L
//    when G binds b_1) satisfies U: inside an iteration a U event kills the
//    run, between iterations it ends the loop. And when the last iteration of
//    G binds no event to G's last child and an event is bound after L, the
//    event L + 1 does not satisfy U either: the run leaves the skipped
//    children by proceeds inside the group at that event. (When nothing is
//    bound after L the match completes at L, the proceeds being evaluated on
//    L itself.)
//
// Left out of the model (Unsupported), because they are not defined
// declaratively here with confidence:
//   - greedy, until on single stages, nested groups, quantified stages inside
//     a group (the head of a group iterates by the group's inner contiguity,
//     Flink's quirk), not stages in a pattern with a group, after-match skip
//     strategies, iterative conditions (conditions over earlier stages), `gap`
//     and per-stage `within`, keys;
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
#include <set>
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

// The single stage an event bound to `slot` is bound to.
const Stage& Bound(const Pattern& p, const Slot& slot) {
  const Stage& s = p.stages[slot.stage];
  return slot.child < 0 ? s : s.children[slot.child];
}

// M4: the rule between an event bound to `prev` and the next bound event, bound to
// `next`.
Rule ContiguityRule(const Pattern& p, const Slot& prev, const Slot& next) {
  const Stage& s = p.stages[next.stage];
  if (prev.stage != next.stage) return EntryRule(s);
  if (!s.IsGroup()) return InnerRule(s);
  if (prev.iteration == next.iteration) return EntryRule(s.children[next.child]);
  return InnerRule(s);
}

// M4 for the events `from` < `to`, `to` bound to `next`.
bool Contiguous(const Pattern& p, const std::vector<Event>& ev, int from, const Slot& prev, int to,
                const Slot& next) {
  Rule rule = ContiguityRule(p, prev, next);
  if (rule == Rule::kStrict) return to == from + 1;
  if (rule == Rule::kRelaxed) {
    const Stage& s = Bound(p, next);
    for (int e = from + 1; e < to; ++e)
      if (s.Accepts(ev[e].name)) return false;
  }
  return true;
}

bool Accepts(const std::optional<std::string>& equals, const std::optional<std::string>& name) {
  return !equals || (name && *name == *equals);
}

std::string Quote(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

const char* Keyword(Contiguity c) {
  switch (c) {
    case Contiguity::kNext:
      return "next";
    case Contiguity::kFollowedBy:
      return "followed_by";
    case Contiguity::kFollowedByAny:
      return "followed_by_any";
    case Contiguity::kNotNext:
      return "not_next";
    case Contiguity::kNotFollowedBy:
      return "not_followed_by";
  }
  return "";
}

void RenderQuantifier(std::ostringstream& o, const Stage& s) {
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
  if (s.until) o << " until name == " << Quote(*s.until);
}

std::string UnsupportedQuantifier(const Stage& s) {
  if (s.min < 1) return "min < 1";
  if (s.max != kUnbounded && s.max < s.min) return "max < min";
  if (s.inner != Inner::kRelaxed && s.max == 1)
    return "inner contiguity on a stage that binds one event";
  if (s.until && (!s.IsGroup() || s.max != kUnbounded))
    return "until on a single stage or a group that does not loop";
  return "";
}

}  // namespace

std::string Unsupported(const Pattern& p) {
  if (p.stages.empty()) return "no stages";
  if (p.within_ms < 0) return "negative within";
  std::set<std::string> names;
  bool has_group = false, has_not = false;
  for (const Stage& s : p.stages) {
    has_group = has_group || s.IsGroup();
    has_not = has_not || s.IsNot();
    for (const Stage& c : s.IsGroup() ? s.children : std::vector<Stage>{s}) {
      if (c.name.empty()) return "empty stage name";
      if (!names.insert(c.name).second) return "duplicate stage name " + c.name;
    }
  }
  if (has_group && has_not) return "a not stage in a pattern with a group";
  for (size_t i = 0; i < p.stages.size(); ++i) {
    const Stage& s = p.stages[i];
    if (s.IsGroup()) {
      if (s.IsNot()) return "a not group";
      for (const Stage& c : s.children) {
        if (c.IsGroup()) return "a nested group";
        if (c.IsNot()) return "a not stage in a group";
        if (c.min != 1 || c.max != 1 || c.inner != Inner::kRelaxed || c.spell_times || c.until)
          return "a quantified stage in a group";
      }
      if (std::string q = UnsupportedQuantifier(s); !q.empty()) return q;
      continue;
    }
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
    if (std::string q = UnsupportedQuantifier(s); !q.empty()) return q;
  }
  return "";
}

std::string Render(const Pattern& p) {
  std::ostringstream o;
  o << "pattern " << p.name << " {\n";
  if (p.within_ms > 0) o << "  within " << p.within_ms << "ms\n";
  for (size_t i = 0; i < p.stages.size(); ++i) {
    const Stage& s = p.stages[i];
    o << "  " << (i == 0 ? "begin" : Keyword(s.contiguity));
    if (s.IsGroup()) {
      o << " (\n";
      for (size_t k = 0; k < s.children.size(); ++k) {
        const Stage& c = s.children[k];
        o << "    ";
        if (k > 0) o << Keyword(c.contiguity) << " ";
        o << c.name;
        if (c.equals) o << " where name == " << Quote(*c.equals);
        if (c.optional) o << " optional";
        o << "\n";
      }
      o << "  )";
    } else {
      o << " " << s.name;
      if (s.equals) o << " where name == " << Quote(*s.equals);
    }
    RenderQuantifier(o, s);
    o << "\n";
  }
  o << "}\n";
  return o.str();
}

bool IsMatch(const Pattern& p, const std::vector<Event>& ev,
             const std::vector<std::optional<Slot>>& slots) {
  const int n = static_cast<int>(ev.size());
  const int k = static_cast<int>(p.stages.size());
  if (static_cast<int>(slots.size()) != n) return false;

  // B = (event, slot) in stream order.
  struct BoundEvent {
    int event;
    Slot slot;
  };
  std::vector<BoundEvent> all;
  for (int e = 0; e < n; ++e)
    if (slots[e]) all.push_back({e, *slots[e]});
  if (all.empty()) return false;  // M1: M >= 1

  // M2 order and numbering, M3 conditions.
  for (size_t j = 0; j < all.size(); ++j) {
    const Slot& s = all[j].slot;
    if (s.stage < 0 || s.stage >= k) return false;
    const Stage& st = p.stages[s.stage];
    if (st.IsNot()) return false;
    if (st.IsGroup() != (s.child >= 0)) return false;
    if (s.child >= static_cast<int>(st.children.size())) return false;
    if (!Bound(p, s).Accepts(ev[all[j].event].name)) return false;
    const Slot* prev = j > 0 ? &all[j - 1].slot : nullptr;
    bool first_of_stage = prev == nullptr || prev->stage != s.stage;
    if (!first_of_stage && !(*prev < s)) return false;
    if (prev != nullptr && prev->stage > s.stage) return false;
    // Iterations are numbered 1, 2, ...; a single stage binds one event per iteration.
    if (first_of_stage ? s.iteration != 1
                       : s.iteration != prev->iteration + (st.IsGroup() ? 0 : 1) &&
                             s.iteration != prev->iteration + 1)
      return false;
  }

  // M1 counts: events per single stage, iterations per group, children per iteration.
  std::vector<std::vector<int>> bound(k);  // events per stage
  std::vector<int> iterations(k, 0);
  std::map<std::pair<int, int>, std::vector<int>> children;  // (group, iteration) -> children
  for (const BoundEvent& b : all) {
    bound[b.slot.stage].push_back(b.event);
    iterations[b.slot.stage] = std::max(iterations[b.slot.stage], b.slot.iteration);
    if (b.slot.child >= 0) children[{b.slot.stage, b.slot.iteration}].push_back(b.slot.child);
  }
  for (int s = 0; s < k; ++s) {
    const Stage& st = p.stages[s];
    if (st.IsNot()) continue;
    const int c = st.IsGroup() ? iterations[s] : static_cast<int>(bound[s].size());
    if (c == 0 ? !st.optional : (c < st.min || (st.max != kUnbounded && c > st.max))) return false;
    for (int it = 1; it <= iterations[s] && st.IsGroup(); ++it) {
      const std::vector<int>& got = children[{s, it}];  // strictly increasing (M2)
      for (int ch = 0; ch < static_cast<int>(st.children.size()); ++ch)
        if (!st.children[ch].optional && std::find(got.begin(), got.end(), ch) == got.end())
          return false;
    }
  }
  const int first = all.front().event;
  const int last = all.back().event;
  // The completion event: b_M, or b_M + 1 when the pattern ends with not_next (M5 checks
  // that it exists).
  const int completion = p.stages.back().contiguity == Contiguity::kNotNext ? last + 1 : last;

  // M4 contiguity.
  for (size_t j = 0; j + 1 < all.size(); ++j)
    if (!Contiguous(p, ev, all[j].event, all[j].slot, all[j + 1].event, all[j + 1].slot))
      return false;

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
      for (const BoundEvent& b : all)
        if (b.event > lp.back()) {
          f = b.event;
          break;
        }
      for (int e = lp.front() + 1; e <= f; ++e)
        if (e != completion && st.Accepts(ev[e].name)) return false;
    }
  }

  // M9 until.
  for (int s = 0; s < k; ++s) {
    const Stage& st = p.stages[s];
    if (!st.until || bound[s].empty()) continue;
    int p_event = -1;  // the last bound event before the group
    for (const BoundEvent& b : all)
      if (b.event < bound[s].front()) p_event = b.event;
    const int from = p_event < 0 ? bound[s].front() : p_event + 1;
    const int to = bound[s].back();
    for (int e = from; e <= to; ++e)
      if (Accepts(st.until, ev[e].name)) return false;
    const std::vector<int>& got = children[{s, iterations[s]}];
    bool ends_inside = got.back() + 1 != static_cast<int>(st.children.size());
    if (ends_inside && last > to && to + 1 < n && Accepts(st.until, ev[to + 1].name)) return false;
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

  // Brute force: every event is either unbound or bound to a slot after the slot of
  // the previous bound event (M2). Conditions, max counts and the contiguity with the
  // previous bound event (M4) prune early; everything else is left to IsMatch.
  std::vector<Match> out;
  std::vector<std::optional<Slot>> slots(n);
  std::function<void(int, int)> go = [&](int e, int prev) {  // prev: last bound event or -1
    if (e == n) {
      if (IsMatch(p, ev, slots)) {
        Match m;
        for (int i = 0; i < n; ++i)
          if (slots[i]) m[Bound(p, *slots[i]).name].push_back(i);
        out.push_back(std::move(m));
      }
      return;
    }
    go(e + 1, prev);  // e unbound
    std::vector<Slot> candidates;
    const Slot* last = prev >= 0 ? &*slots[prev] : nullptr;
    for (int s = last ? last->stage : 0; s < k; ++s) {
      const Stage& st = p.stages[s];
      if (st.IsNot()) continue;
      const bool same = last != nullptr && last->stage == s;
      if (!st.IsGroup()) {
        int it = same ? last->iteration + 1 : 1;
        if (st.max == kUnbounded || it <= st.max) candidates.push_back({s, it, -1});
        continue;
      }
      const int nc = static_cast<int>(st.children.size());
      if (same)
        for (int c = last->child + 1; c < nc; ++c) candidates.push_back({s, last->iteration, c});
      int it = same ? last->iteration + 1 : 1;
      if (st.max == kUnbounded || it <= st.max)
        for (int c = 0; c < nc; ++c) candidates.push_back({s, it, c});
    }
    for (const Slot& slot : candidates) {
      if (!Bound(p, slot).Accepts(ev[e].name)) continue;
      if (last != nullptr && !Contiguous(p, ev, prev, *last, e, slot)) continue;
      slots[e] = slot;
      go(e + 1, e);
      slots[e].reset();
    }
  };
  go(0, -1);
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
