// Hover: markdown about the word under the cursor.
// Tested by tests/unit/lsp/features_test.cc.
#include <algorithm>
#include <string>

#include "base/duration.h"
#include "lsp/features.h"
#include "lsp/stage_ref.h"
#include "lsp/vocabulary.h"

namespace tern::lsp {

namespace {

constexpr size_t kMaxShown = 300;  // bytes of a condition shown

// "1 h 30 min = 5400000 ms"; "250 ms".
std::string DurationText(int64_t ms) {
  struct Unit {
    int64_t ms;
    const char* name;
  };
  static constexpr Unit kUnits[] = {{86400000, "d"}, {3600000, "h"}, {60000, "min"}, {1000, "s"}, {1, "ms"}};
  std::string parts;
  int64_t rest = ms;
  int count = 0;
  for (const Unit& u : kUnits) {
    const int64_t n = rest / u.ms;
    rest %= u.ms;
    if (n == 0) continue;
    if (!parts.empty()) parts += ' ';
    parts += std::to_string(n) + " " + u.name;
    ++count;
  }
  if (parts.empty()) return "0 ms";
  if (count == 1 && ms < 1000) return parts;
  return parts + " = " + std::to_string(ms) + " ms";
}

// A condition as one line: whitespace runs (newlines too) as one space, cut when long.
std::string OneLine(std::string_view text) {
  std::string out;
  bool space = false;
  for (char c : text) {
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
      space = !out.empty();
      continue;
    }
    if (space) out += ' ';
    space = false;
    out += c;
    if (out.size() >= kMaxShown) {
      out += " ...";
      break;
    }
  }
  return out;
}

// Inline code that survives backticks in the text.
std::string Code(std::string_view s) {
  const bool ticks = s.find('`') != std::string_view::npos;
  return ticks ? "`` " + std::string(s) + " ``" : "`" + std::string(s) + "`";
}

std::string_view ContiguityMeaning(ast::Contiguity c) {
  switch (c) {
    case ast::Contiguity::kBegin: return "the first stage";
    case ast::Contiguity::kNext: return "strict: the very next event of the key";
    case ast::Contiguity::kFollowedBy: return "relaxed: skips events until the first that matches";
    case ast::Contiguity::kFollowedByAny: return "non-deterministic relaxed: every later match branches";
    case ast::Contiguity::kNotNext: return "the next event must not match; binds nothing";
    case ast::Contiguity::kNotFollowedBy: return "no matching event before the next stage; binds nothing";
  }
  return "";
}

struct StagePlace {
  size_t index = 0;     // among the pattern's single stages, declaration order
  size_t count = 0;
  bool in_group = false;
};

StagePlace PlaceOf(const ast::Pattern& p, const ast::Stage* target) {
  StagePlace place;
  struct Item {
    const ast::Stage* stage;
    bool in_group;
  };
  std::vector<Item> stack;
  for (auto it = p.sequence.rbegin(); it != p.sequence.rend(); ++it) stack.push_back({&*it, false});
  while (!stack.empty()) {
    Item item = stack.back();
    stack.pop_back();
    if (!item.stage->is_group) {
      if (item.stage == target) {
        place.index = place.count;
        place.in_group = item.in_group;
      }
      ++place.count;
    }
    for (auto it = item.stage->children.rbegin(); it != item.stage->children.rend(); ++it) {
      stack.push_back({&*it, true});
    }
  }
  return place;
}

std::string StageHover(const Analysis& a, const StageRef& ref) {
  const std::string_view text = a.text();
  std::string md = "**stage " + Code(ref.name) + "**";
  if (ref.stage == nullptr) {
    return md + "\n\nThe pattern does not parse yet (see the diagnostics): only the declaration is known.";
  }
  const ast::Pattern& p = *ref.pattern;
  const ast::Stage& s = *ref.stage;
  const StagePlace place = PlaceOf(p, &s);
  md += " of pattern " + Code(p.name) + ", stage " + std::to_string(place.index + 1) + " of " +
        std::to_string(place.count) + "\n\n";

  md += "- contiguity: " + Code(ContiguityWord(s.contiguity)) + " (";
  md += (s.contiguity == ast::Contiguity::kBegin && place.in_group) ? "the first stage of its group"
                                                                    : ContiguityMeaning(s.contiguity);
  md += ")";
  if (place.in_group) md += ", inside a group";
  md += "\n";
  md += "- condition: " + (s.where ? Code(OneLine(SpanText(text, s.where->span))) : "none (every event)") + "\n";

  std::string quantifier = s.has_quantifier ? Code(OneLine(SpanText(text, s.quantifier_span))) : "one event";
  if (s.max != 1) {
    quantifier += s.consecutive            ? " (strict between iterations)"
                  : s.allow_combinations ? " (non-deterministic relaxed between iterations)"
                                         : " (relaxed between iterations)";
  }
  if (s.greedy) quantifier += ", " + Code("greedy");
  md += "- quantifier: " + quantifier + "\n";
  if (s.until) md += "- until: " + Code(OneLine(SpanText(text, s.until->span))) + "\n";
  if (s.within_ms) {
    md += "- window: " + Code("within " + FormatDuration(*s.within_ms)) + " (the stage's own)\n";
  } else if (p.within_ms) {
    md += "- window: " + Code("within " + FormatDuration(*p.within_ms)) + " (the pattern's)\n";
  }
  if (p.gap_ms) md += "- gap: " + Code("gap " + FormatDuration(*p.gap_ms)) + " between bound events\n";

  const ast::Pattern* checked = a.Checked(p);
  if (checked != nullptr) {
    if (const ast::Stage* cs = FindStage(*checked, s.name); cs != nullptr && cs->binds_list) {
      md += "- refers to the list of its events: " + Code("count(" + s.name + ")") + ", " +
            Code("last(" + s.name + ")") + ", " + Code(s.name + "[0]") + "\n";
    }
  }
  const nfa::Program* program = a.Program(p);
  if (program == nullptr) {
    md += "- not compiled: the pattern has errors (see the diagnostics)\n";
    return md;
  }
  size_t stage_index = program->stages.size();
  for (size_t i = 0; i < program->stages.size(); ++i) {
    if (program->stages[i].name == s.name) stage_index = i;
  }
  std::string names;
  size_t states = 0;
  int64_t window = 0;
  for (size_t i = 0; i < program->states.size(); ++i) {
    const nfa::State& st = program->states[i];
    if (st.stage != stage_index || st.type == nfa::StateType::kFinal) continue;
    if (++states <= 6 && i < program->state_names.size()) {
      names += (names.empty() ? "" : ", ") + Code(program->state_names[i]);
    }
    window = std::max(window, st.window_ms);
  }
  if (states > 6) names += ", ...";
  md += "- compiled: " + std::to_string(states) + " NFA state" + (states == 1 ? "" : "s");
  if (!names.empty()) md += " (" + names + ")";
  if (window > 0) md += ", timing out " + FormatDuration(window) + " after the previous bound event";
  md += "\n";
  return md;
}

std::string PatternHover(const Analysis& a, const ast::Pattern& p) {
  const std::string_view text = a.text();
  std::string md = "**pattern " + Code(p.name) + "**\n\n";
  std::string key;
  for (const ast::Path& path : p.key) key += (key.empty() ? "" : ", ") + SpanText(text, path.span);
  md += "- key: " + (key.empty() ? std::string("none (one global partition)") : Code(key)) + "\n";
  md += "- window: " + (p.within_ms ? Code("within " + FormatDuration(*p.within_ms)) : std::string("none"));
  if (p.gap_ms) md += ", " + Code("gap " + FormatDuration(*p.gap_ms));
  md += "\n";
  std::string skip;
  switch (p.skip.kind) {
    case ast::SkipKind::kNoSkip: skip = "no_skip"; break;
    case ast::SkipKind::kToNext: skip = "to_next"; break;
    case ast::SkipKind::kPastLastEvent: skip = "past_last_event"; break;
    case ast::SkipKind::kToFirst: skip = "to_first(" + p.skip.stage + ")"; break;
    case ast::SkipKind::kToLast: skip = "to_last(" + p.skip.stage + ")"; break;
  }
  md += "- skip: " + Code(skip) + "\n";
  std::vector<const ast::Stage*> singles;
  std::vector<const ast::Stage*> stack;
  for (auto it = p.sequence.rbegin(); it != p.sequence.rend(); ++it) stack.push_back(&*it);
  while (!stack.empty()) {
    const ast::Stage* s = stack.back();
    stack.pop_back();
    if (!s->is_group) singles.push_back(s);
    for (auto it = s->children.rbegin(); it != s->children.rend(); ++it) stack.push_back(&*it);
  }
  md += "- stages: " + std::to_string(singles.size()) + " (";
  for (size_t i = 0; i < singles.size() && i < 12; ++i) md += (i > 0 ? ", " : "") + Code(singles[i]->name);
  if (singles.size() > 12) md += ", ...";
  md += ")\n";
  if (!p.from.empty()) {
    std::string from;
    for (const std::string& f : p.from) from += (from.empty() ? "" : ", ") + f;
    md += "- from: " + Code(from) + "\n";
  }
  if (p.to) md += "- to: " + Code(*p.to) + "\n";
  if (p.has_emit) md += "- emit: " + std::to_string(p.emit.size()) + " field" + (p.emit.size() == 1 ? "" : "s") + "\n";
  if (p.has_timeout) md += "- on_timeout: " + std::to_string(p.timeout_emit.size()) + " fields\n";
  if (const nfa::Program* program = a.Program(p)) {
    md += "- compiled: " + std::to_string(program->states.size()) + " NFA states, " +
          std::to_string(program->edges.size()) + " edges\n";
  } else {
    md += "- not compiled: the pattern has errors (see the diagnostics)\n";
  }
  return md;
}

}  // namespace

std::optional<HoverInfo> HoverAt(const Analysis& a, uint32_t offset) {
  const dsl::Token* token = a.TokenAt(offset);
  if (token == nullptr) return std::nullopt;
  const std::string_view text = a.text();
  const std::string_view word = dsl::TokenText(text, *token);
  switch (token->kind) {
    case dsl::TokenKind::kDuration: {
      int64_t ms = 0;
      if (!ParseDuration(word, &ms)) return HoverInfo{Code(word) + ": not a valid duration", token->span};
      return HoverInfo{"**" + Code(word) + "** = " + DurationText(ms), token->span};
    }
    case dsl::TokenKind::kKeyword: {
      const Word* w = FindWord(word);
      if (w == nullptr) return std::nullopt;
      return HoverInfo{"**" + Code(word) + "** (keyword)\n\n" + std::string(w->doc), token->span};
    }
    case dsl::TokenKind::kName: break;
    default: return std::nullopt;
  }
  const dsl::Token* prev = PreviousToken(a, token);
  if (prev != nullptr && dsl::TokenText(text, *prev) == "pattern") {
    for (const ast::Pattern& p : a.parsed.patterns) {
      if (p.name_span.begin == token->span.begin) return HoverInfo{PatternHover(a, p), token->span};
    }
    return HoverInfo{"**pattern " + Code(word) + "**\n\nThe pattern does not parse yet (see the diagnostics).",
                     token->span};
  }
  if (std::optional<StageRef> ref = StageRefAt(a, offset)) return HoverInfo{StageHover(a, *ref), token->span};
  const dsl::Token* next = NextToken(a, token);
  const bool called = next != nullptr && dsl::TokenText(text, *next) == "(";
  if (const Function* f = FindFunction(word); f != nullptr && called && (prev == nullptr || dsl::TokenText(text, *prev) != ".")) {
    return HoverInfo{"```\n" + std::string(f->signature) + "\n```\n" + std::string(f->doc), token->span};
  }
  if (const Word* w = FindWord(word); w != nullptr && w->kind == WordKind::kSkip) {
    return HoverInfo{"**" + Code(word) + "** (skip strategy)\n\n" + std::string(w->doc), token->span};
  }
  return std::nullopt;
}

}  // namespace tern::lsp
