// Completion: the context comes from the tokens before the cursor, read by a small state
// machine that follows the grammar's shape (clauses, stages, conditions, emit blocks)
// loosely enough for text that does not parse.
// Tested by tests/unit/lsp/features_test.cc.
#include <string>
#include <unordered_set>

#include "lsp/features.h"
#include "lsp/token_scan.h"
#include "lsp/vocabulary.h"

namespace tern::lsp {

namespace {

using dsl::TokenKind;

constexpr std::string_view kClauses[] = {"key", "within", "gap", "skip", "from", "to", "begin"};
constexpr std::string_view kContiguities[] = {"next", "followed_by", "followed_by_any", "not_next",
                                              "not_followed_by"};
constexpr std::string_view kQuantifiers[] = {"times", "one_or_more", "optional"};
constexpr std::string_view kModifiers[] = {"greedy", "consecutive", "allow_combinations", "until",
                                           "within"};
constexpr std::string_view kOperators[] = {"and", "or", "not", "in", "contains", "starts_with",
                                           "ends_with", "matches"};
constexpr std::string_view kValues[] = {"this", "true", "false", "null", "not"};
constexpr std::string_view kSkips[] = {"no_skip", "to_next", "past_last_event", "to_first", "to_last"};
constexpr std::string_view kEnds[] = {"emit", "on_timeout"};

bool IsOneOf(std::string_view w, std::initializer_list<std::string_view> list) {
  for (std::string_view x : list) {
    if (w == x) return true;
  }
  return false;
}

bool IsStageSuffixKeyword(std::string_view w) {
  return IsOneOf(w, {"times", "one_or_more", "optional", "greedy", "consecutive", "allow_combinations",
                     "within"});
}

// Where the cursor is in the grammar.
enum class Mode {
  kTopLevel,    // outside any pattern, or after its closing brace
  kPreBody,     // `pattern NAME` before `{`
  kHeader,      // clauses
  kStageName,   // after `begin`, a contiguity keyword or a group's `(`
  kStage,       // after a stage name, its quantifier or modifiers
  kCondition,   // in a `where` / `until` condition
  kEmitOpen,    // after `emit`, before `{`
  kEmitName,    // in an emit block, where a field name comes
  kEmitValue,   // in an emit block, after `name =`
  kAfterEmit,   // after an emit block's `}`
};

// Follows the pattern's tokens up to the cursor.
struct Machine {
  Mode mode = Mode::kPreBody;
  int depth = 0;           // ( and [ open in the current expression
  int group_depth = 0;     // stage groups open
  bool operand = false;    // the expression has a complete operand before the cursor
  bool seen_body = false;

  void Step(TokenKind kind, std::string_view w) {
    const bool keyword = kind == TokenKind::kKeyword;
    const bool punct = kind == TokenKind::kPunct;
    switch (mode) {
      case Mode::kTopLevel: return;
      case Mode::kPreBody:
        if (punct && w == "{") {
          mode = Mode::kHeader;
          seen_body = true;
        }
        return;
      case Mode::kHeader:
      case Mode::kStage:
      case Mode::kAfterEmit:
        if (keyword && IsContiguityKeyword(w)) {
          mode = Mode::kStageName;
        } else if (keyword && (w == "where" || w == "until")) {
          if (mode == Mode::kStage) Begin(Mode::kCondition);
        } else if (keyword && w == "emit") {
          mode = Mode::kEmitOpen;
        } else if (punct && w == ")") {
          if (group_depth > 0) --group_depth;
        } else if (punct && w == "}") {
          mode = Mode::kTopLevel;
        }
        return;
      case Mode::kStageName:
        if (punct && w == "(") {
          ++group_depth;
        } else if (kind == TokenKind::kName) {
          mode = Mode::kStage;
        } else if (keyword && IsContiguityKeyword(w)) {
          // `begin next`: still waiting for a name
        } else {
          mode = Mode::kStage;
        }
        return;
      case Mode::kCondition:
      case Mode::kEmitValue:
        Expression(kind, w);
        return;
      case Mode::kEmitOpen:
        if (punct && w == "{") mode = Mode::kEmitName;
        return;
      case Mode::kEmitName:
        if (punct && w == "=") {
          Begin(Mode::kEmitValue);
        } else if (punct && w == "}") {
          mode = Mode::kAfterEmit;
        }
        return;
    }
  }

  void Begin(Mode m) {
    mode = m;
    depth = 0;
    operand = false;
  }

  void Expression(TokenKind kind, std::string_view w) {
    const bool keyword = kind == TokenKind::kKeyword;
    const bool punct = kind == TokenKind::kPunct;
    const bool in_condition = mode == Mode::kCondition;
    if (punct && (w == "(" || w == "[")) {
      ++depth;
      operand = false;
    } else if (punct && (w == ")" || w == "]")) {
      if (depth == 0 && in_condition) {  // closes a stage group
        if (group_depth > 0) --group_depth;
        mode = Mode::kStage;
        return;
      }
      if (depth > 0) --depth;
      operand = true;
    } else if (punct && w == "}") {
      mode = in_condition ? Mode::kTopLevel : Mode::kAfterEmit;
    } else if (punct && w == "," && depth == 0 && !in_condition) {
      mode = Mode::kEmitName;
    } else if (punct) {
      operand = false;  // an operator, `.` or `,`
    } else if (keyword && in_condition && depth == 0 && IsContiguityKeyword(w)) {
      mode = Mode::kStageName;
    } else if (keyword && in_condition && depth == 0 && IsStageSuffixKeyword(w)) {
      mode = Mode::kStage;
    } else if (keyword && in_condition && depth == 0 && w == "until") {
      Begin(Mode::kCondition);
    } else if (keyword && depth == 0 && w == "emit") {
      mode = Mode::kEmitOpen;
    } else if (keyword && depth == 0 && w == "on_timeout") {
      mode = Mode::kAfterEmit;
    } else if (keyword && IsOneOf(w, {"this", "true", "false", "null"})) {
      operand = true;
    } else if (keyword) {
      operand = false;  // and, or, not, in, contains, ...
    } else if (!in_condition && operand && depth == 0 &&
               (kind == TokenKind::kName || kind == TokenKind::kQuotedName)) {
      mode = Mode::kEmitName;  // `a = x  b = y`: the next field's name
    } else {
      operand = true;  // a name, literal or duration
    }
  }
};

class Items {
 public:
  explicit Items(std::vector<CompletionItem>* out) : out_(out) {}
  void Keywords(std::span<const std::string_view> words) {
    for (std::string_view w : words) Keyword(w);
  }
  void Keyword(std::string_view w) {
    if (!labels_.insert(std::string(w)).second) return;  // `within` is a clause and a modifier
    const Word* word = FindWord(w);
    out_->push_back({std::string(w), CompletionKind::kKeyword, "keyword",
                     word != nullptr ? std::string(word->doc) : ""});
  }
  void Functions() {
    for (const Function& f : lsp::Functions()) {
      if (!labels_.insert(std::string(f.name)).second) continue;
      out_->push_back({std::string(f.name), CompletionKind::kFunction, std::string(f.signature),
                       std::string(f.doc)});
    }
  }
  void Stage(std::string_view name, std::string_view pattern) {
    if (!labels_.insert(std::string(name)).second) return;  // a stage declared twice (E0202)
    out_->push_back({std::string(name), CompletionKind::kVariable, "stage of " + std::string(pattern), ""});
  }

 private:
  std::vector<CompletionItem>* out_;
  std::unordered_set<std::string> labels_;  // those in *out_: a pattern may have many stages
};

}  // namespace

std::vector<CompletionItem> CompleteAt(const Analysis& a, uint32_t offset) {
  std::vector<CompletionItem> out;
  Items items(&out);
  const std::string_view text = a.text();
  offset = std::min<uint32_t>(offset, static_cast<uint32_t>(text.size()));

  // Nothing inside a comment or a string; a word being typed is not context.
  uint32_t context_end = offset;
  if (const dsl::Token* t = a.TokenAt(offset)) {
    const bool inside = t->span.begin < offset && offset < t->span.end;
    const bool at_end = t->span.begin < offset && offset == t->span.end;
    if (t->kind == TokenKind::kComment && (inside || at_end)) return out;
    if ((t->kind == TokenKind::kString || t->kind == TokenKind::kQuotedName) &&
        (inside || (at_end && t->unterminated))) {
      return out;
    }
    if ((t->kind == TokenKind::kName || t->kind == TokenKind::kKeyword) && (inside || at_end)) {
      context_end = t->span.begin;
    }
  }

  PatternTokens pattern = PatternTokensAt(a.tokens, text, context_end);
  std::vector<const dsl::Token*> before;
  for (const dsl::Token* t : pattern.tokens) {
    if (t->span.end <= context_end) before.push_back(t);
  }
  if (before.empty()) {
    items.Keyword("pattern");
    return out;
  }
  Machine m;
  for (size_t i = 1; i < before.size(); ++i) m.Step(before[i]->kind, dsl::TokenText(text, *before[i]));
  const std::string_view last = dsl::TokenText(text, *before.back());
  const std::string_view last2 = before.size() >= 2 ? dsl::TokenText(text, *before[before.size() - 2]) : "";
  const std::string_view pattern_name =
      before.size() >= 2 && before[1]->kind == TokenKind::kName ? dsl::TokenText(text, *before[1]) : "";

  // Stages: those declared before the cursor (a condition may name earlier stages and its
  // own), or all of the pattern's (emit, skip).
  const std::vector<DeclaredStage> declared = DeclaredStages(pattern, text);
  auto stages = [&](bool all) {
    for (const DeclaredStage& d : declared) {
      if (all || d.span.begin < context_end) items.Stage(d.name, pattern_name);
    }
  };
  auto operands = [&](bool all_stages) {
    stages(all_stages);
    items.Functions();
    items.Keywords(kValues);
  };
  auto stage_suffixes = [&](bool where) {
    if (where) items.Keyword("where");
    items.Keywords(kQuantifiers);
    items.Keywords(kModifiers);
    items.Keywords(kContiguities);
    items.Keywords(kEnds);
  };

  if (last == "skip" && m.mode != Mode::kTopLevel) {  // a clause written late is still a clause
    items.Keywords(kSkips);
    return out;
  }
  switch (m.mode) {
    case Mode::kTopLevel: items.Keyword("pattern"); break;
    case Mode::kPreBody: break;  // naming the pattern
    case Mode::kHeader:
      if (last == "to_first" || last == "to_last" ||
          (last == "(" && (last2 == "to_first" || last2 == "to_last"))) {
        stages(true);
      } else if (!IsOneOf(last, {"key", "from", "within", "gap", "to", ",", ".", "[", "("})) {
        items.Keywords(kClauses);
      }
      break;
    case Mode::kStageName: break;  // naming a stage
    case Mode::kStage:
      if (IsOneOf(last, {"times", "within", ".."})) break;
      stage_suffixes(before.back()->kind == TokenKind::kName);
      break;
    case Mode::kCondition:
    case Mode::kEmitValue: {
      const bool condition = m.mode == Mode::kCondition;
      if (last == ".") break;  // a field: unknown
      if (!m.operand) {
        operands(!condition);
        break;
      }
      items.Keywords(kOperators);
      if (condition && m.depth == 0) stage_suffixes(false);
      break;
    }
    case Mode::kEmitOpen:
    case Mode::kEmitName: break;
    case Mode::kAfterEmit: items.Keyword("on_timeout"); break;
  }
  return out;
}

}  // namespace tern::lsp
