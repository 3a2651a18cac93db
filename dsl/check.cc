// dsl::Check: name resolution and every rule of the language spec that does not need the
// compiled NFA (stage order, not_* placement, quantifiers and modifiers, windows, functions,
// literal types, regexes). Fills Pattern::stage_table, Expr::stage and Stage::binds_list.
// Tested by tests/unit/dsl/check_test.cc and the cases under tests/cases/diagnostics/.
//
// Every error of every pattern is reported; patterns with errors are then removed from the
// file. Walks recurse over the AST, whose nesting the parser caps (dsl/parser.cc,
// kMaxNesting), except along the left spine of an operator chain, which they loop over.
#include <algorithm>
#include <map>

#include <string>
#include <string_view>
#include <vector>

#include "base/duration.h"
#include "dsl/diag.h"
#include "dsl/dsl.h"
#include "dsl/regex.h"

namespace tern::dsl {
namespace {

using ast::BinaryOp;
using ast::Contiguity;
using ast::Expr;
using ast::ExprKind;
using ast::Pattern;
using ast::Stage;

constexpr int64_t kMaxTimes = 1000;  // `times` counts are unrolled into NFA states

// What Check knows about the value of an expression without any event.
enum class Type { kUnknown, kNull, kBool, kNumber, kString, kList };

const char* TypeName(Type t) {
  switch (t) {
    case Type::kNull:
      return "null";
    case Type::kBool:
      return "a bool";
    case Type::kNumber:
      return "a number";
    case Type::kString:
      return "a string";
    case Type::kList:
      return "a list";
    case Type::kUnknown:
      break;
  }
  return "a value";
}

struct Function {
  std::string_view name;
  size_t min_args;
  size_t max_args;  // SIZE_MAX = any number
  Type result;      // kNumber also covers "number or null"
};
constexpr Function kFunctions[] = {
    {"count", 1, 1, Type::kNumber},
    {"sum", 1, 1, Type::kNumber},
    {"avg", 1, 1, Type::kNumber},
    {"min", 1, 1, Type::kUnknown},
    {"max", 1, 1, Type::kUnknown},
    {"first", 1, 1, Type::kUnknown},
    {"last", 1, 1, Type::kUnknown},
    {"len", 1, 1, Type::kNumber},
    {"abs", 1, 1, Type::kNumber},
    {"lower", 1, 1, Type::kString},
    {"upper", 1, 1, Type::kString},
    {"exists", 1, 1, Type::kBool},
    {"coalesce", 1, SIZE_MAX, Type::kUnknown},
    {"time", 1, 1, Type::kNumber},
};

const Function* FindFunction(std::string_view name) {
  for (const Function& f : kFunctions) {
    if (f.name == name) return &f;
  }
  return nullptr;
}

bool IsNot(const Stage& s) {
  return s.contiguity == Contiguity::kNotNext || s.contiguity == Contiguity::kNotFollowedBy;
}
const char* NotKind(const Stage& s) {
  return s.contiguity == Contiguity::kNotNext ? "not_next" : "not_followed_by";
}
bool IsOptional(const Stage& s) { return s.optional || (s.has_quantifier && s.min == 0); }
bool CanRepeat(const Stage& s) { return s.max != 1; }

// For each byte of a string literal's value, where it came from in the source: the
// literal's escapes (dsl/x3_primitives.h, StringParser) turn one to twelve source bytes
// into one to four value bytes. `literal` is the source text of the token, quotes
// included; empty when it does not look like one.
struct LiteralByte {
  uint32_t begin;  // offset in `literal` of the character or escape that produced it
  uint32_t end;
};
std::vector<LiteralByte> LiteralBytes(std::string_view literal) {
  std::vector<LiteralByte> out;
  if (literal.size() < 2 || (literal[0] != '"' && literal[0] != '\'')) return out;
  const size_t last = literal.size() - 1;  // the closing quote
  size_t i = 1;
  auto hex4 = [&](size_t at) {
    uint32_t v = 0;
    for (size_t k = at; k < at + 4 && k < last; ++k) {
      char c = literal[k];
      v = v * 16 + static_cast<uint32_t>(c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10);
    }
    return v;
  };
  while (i < last) {
    size_t len = 1, bytes = 1;
    if (literal[i] == '\\' && i + 1 < last) {
      len = 2;
      if (literal[i + 1] == 'u') {
        uint32_t cp = hex4(i + 2);
        len = 6;
        if (cp >= 0xD800 && cp <= 0xDBFF) {  // a surrogate pair: one 4-byte character
          len = 12;
          cp = 0x10000;
        }
        bytes = cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
      }
    }
    for (size_t b = 0; b < bytes; ++b) {
      out.push_back({static_cast<uint32_t>(i), static_cast<uint32_t>(std::min(i + len, last))});
    }
    i += len;
  }
  return out;
}

// Checks one pattern. Created by Check() per pattern; lives for that call.
class PatternChecker {
 public:
  PatternChecker(Pattern& p, const SourceFile* file, DiagnosticSink& sink)
      : p_(p), file_(file), sink_(sink) {}

  void Run() {
    p_.stage_table.clear();
    for (Stage& s : p_.sequence) Collect(s, false);
    for (SourceSpan span : p_.repeated_spans) ReportRepeated(span);
    CheckWindows();
    CheckSkip();
    CheckSequence(p_.sequence, false);
    for (size_t i = 0; i < p_.stage_table.size(); ++i) {
      Stage& s = *stages_[i];
      if (s.where) CheckExpr(*s.where, static_cast<int>(i), false);
      if (s.until) CheckExpr(*s.until, static_cast<int>(i), false);
    }
    CheckGroupUntils(p_.sequence);
    CheckEmit(p_.emit);
    CheckEmit(p_.timeout_emit);
  }

 private:
  void Error(SourceSpan span, Diag id, std::initializer_list<std::string_view> args,
             std::string help = {}) {
    Report(sink_, file_, span, id, args, std::move(help));
  }

  std::string LineOf(SourceSpan span) const {
    return file_ == nullptr ? "?" : std::to_string(file_->Locate(span.begin).line);
  }

  std::string_view TextOf(SourceSpan span) const {
    if (file_ == nullptr || span.end > file_->text().size()) return {};
    return std::string_view(file_->text()).substr(span.begin, span.end - span.begin);
  }

  // Fills stage_table and binds_list (depth first, declaration order); reports duplicates.
  void Collect(Stage& s, bool enclosing_repeats) {
    bool repeats = enclosing_repeats || CanRepeat(s);
    if (s.is_group) {
      for (Stage& c : s.children) Collect(c, repeats);
      return;
    }
    s.binds_list = repeats;
    auto [it, inserted] = index_.emplace(s.name, static_cast<int>(p_.stage_table.size()));
    if (!inserted) {
      Error(s.name_span, Diag::kDuplicateStage, {s.name},
            "first declared on line " + LineOf(p_.stage_table[it->second]->name_span));
    }
    p_.stage_table.push_back(&s);
    stages_.push_back(&s);
  }

  void ReportRepeated(SourceSpan span) { Error(span, Diag::kRepeated, {TextOf(span)}); }

  void CheckWindows() {
    if (p_.within_ms && *p_.within_ms <= 0)
      Error(p_.within_span, Diag::kNonPositiveDuration, {"within"});
    if (p_.gap_ms && *p_.gap_ms <= 0) Error(p_.gap_span, Diag::kNonPositiveDuration, {"gap"});
    for (const Stage* s : p_.stage_table) CheckStageWindow(*s);
  }

  void CheckStageWindow(const Stage& s) {
    if (!s.within_ms) return;
    if (*s.within_ms <= 0) {
      Error(s.within_span, Diag::kNonPositiveDuration, {"within"});
    } else if (p_.within_ms && *p_.within_ms > 0 && *s.within_ms > *p_.within_ms) {
      Error(s.within_span, Diag::kStageWithinTooLong,
            {FormatDuration(*s.within_ms), FormatDuration(*p_.within_ms)});
    }
  }

  void CheckSkip() {
    const ast::Skip& skip = p_.skip;
    if (skip.kind != ast::SkipKind::kToFirst && skip.kind != ast::SkipKind::kToLast) return;
    // Point at the stage name inside `skip to_first(name)`.
    SourceSpan span = skip.span;
    std::string_view text = TextOf(span);
    if (size_t paren = text.find('('); paren != std::string_view::npos) {
      size_t at = text.find(skip.stage, paren);
      if (at != std::string_view::npos) {
        span = {span.begin + static_cast<uint32_t>(at),
                span.begin + static_cast<uint32_t>(at + skip.stage.size())};
      }
    }
    const char* strategy = skip.kind == ast::SkipKind::kToFirst ? "to_first" : "to_last";
    auto it = index_.find(skip.stage);
    if (it == index_.end()) {
      std::vector<std::string_view> names;
      for (const auto& [name, index] : index_) names.push_back(name);
      std::string_view best = ClosestMatch(skip.stage, names);
      Error(span, Diag::kUnknownSkipStage, {skip.stage, strategy},
            best.empty() ? "" : "did you mean '" + std::string(best) + "'?");
    } else if (IsNot(*p_.stage_table[it->second])) {
      Error(span, Diag::kNotStageReference, {skip.stage},
            std::string("it is a '") + NotKind(*p_.stage_table[it->second]) +
                "' stage; skip to a stage that binds events");
    }
  }

  void CheckSequence(std::vector<Stage>& seq, bool in_group) {
    for (size_t i = 0; i < seq.size(); ++i) {
      Stage& s = seq[i];
      const Stage* prev = i > 0 ? &seq[i - 1] : nullptr;
      for (SourceSpan span : s.repeated_spans) ReportRepeated(span);
      CheckQuantifier(s);
      if (IsNot(s)) {
        CheckNotStage(s, prev, in_group, i + 1 == seq.size());
      } else {
        CheckModifiers(s, prev);
      }
      if (s.is_group) {
        CheckStageWindow(s);
        CheckSequence(s.children, true);
      }
    }
  }

  void CheckQuantifier(const Stage& s) {
    if (!s.has_quantifier || IsNot(s)) return;
    if (s.min == 0 && s.max == 0) {
      Error(s.quantifier_span, Diag::kInvalidTimesRange, {"the stage could never bind an event"},
            "use 'optional' for a stage that may bind nothing");
    } else if (s.max >= 0 && s.max < s.min) {
      Error(s.quantifier_span, Diag::kInvalidTimesRange,
            {"the upper bound " + std::to_string(s.max) + " is below the lower bound " +
             std::to_string(s.min)});
    } else if (s.min > kMaxTimes || s.max > kMaxTimes) {
      Error(s.quantifier_span, Diag::kTimesTooLarge,
            {std::to_string(std::max(s.min, s.max)), std::to_string(kMaxTimes)},
            s.max < 0 ? "" : "use 'times n..' for an open-ended loop");
    }
  }

  void CheckNotStage(const Stage& s, const Stage* prev, bool in_group, bool last) {
    const char* kind = NotKind(s);
    SourceSpan at = s.contiguity_span;
    if (prev == nullptr)
      Error(at, Diag::kNotStageFirst, {in_group ? "a group" : "a pattern", kind});
    if (s.is_group) Error(at, Diag::kNotStageGroup, {kind}, "negate single stages, one at a time");
    if (s.has_quantifier) Error(s.quantifier_span, Diag::kNotStageQuantified, {kind});
    if (s.greedy) Error(s.greedy_span, Diag::kNotStageModifier, {kind, "greedy"});
    if (s.consecutive) Error(s.consecutive_span, Diag::kNotStageModifier, {kind, "consecutive"});
    if (s.allow_combinations) {
      Error(s.allow_combinations_span, Diag::kNotStageModifier, {kind, "allow_combinations"});
    }
    if (s.until) Error(s.until_span, Diag::kNotStageModifier, {kind, "until"});
    if (prev != nullptr && IsOptional(*prev)) {
      std::string prev_name = prev->is_group ? "the group before it" : "'" + prev->name + "'";
      Error(at, Diag::kNotAfterOptional, {kind},
            prev_name + " is optional; write two patterns, one with and one without it");
    }
    if (in_group && last) Error(at, Diag::kNotStageLastInGroup, {kind});
    if (!in_group && last && s.contiguity == Contiguity::kNotFollowedBy && !p_.within_ms &&
        !p_.gap_ms && !s.within_ms) {
      Error(at, Diag::kNotFollowedByAtEnd, {},
            "add a 'within' to the pattern (or to this stage) so absence can be decided");
    }
  }

  void CheckModifiers(const Stage& s, const Stage* prev) {
    const char* needs_loop = "give the stage 'times n..m', 'times n..' or 'one_or_more'";
    if (s.greedy) {
      if (s.is_group) {
        Error(s.greedy_span, Diag::kModifierOnGroup, {"greedy"},
              "put it on the looping stages inside the group");
      } else if (!CanRepeat(s)) {
        Error(s.greedy_span, Diag::kModifierNeedsRepetition, {"greedy"}, needs_loop);
      }
    }
    if (s.consecutive && !CanRepeat(s)) {
      Error(s.consecutive_span, Diag::kModifierNeedsRepetition, {"consecutive"}, needs_loop);
    }
    if (s.allow_combinations && !CanRepeat(s)) {
      Error(s.allow_combinations_span, Diag::kModifierNeedsRepetition, {"allow_combinations"},
            needs_loop);
    }
    if (s.consecutive && s.allow_combinations) {
      SourceSpan later = s.consecutive_span.begin > s.allow_combinations_span.begin
                             ? s.consecutive_span
                             : s.allow_combinations_span;
      Error(later, Diag::kConsecutiveAndCombinations, {});
    }
    if (s.greedy && s.allow_combinations && !s.is_group && CanRepeat(s)) {
      Error(s.greedy_span, Diag::kGreedyWithCombinations, {});
    }
    // A group takes `until` (Flink's GroupPattern#until) but not `greedy` (Flink:
    // "Option not applicable to group pattern").
    if (s.until) {
      if (s.max != -1) {
        Error(s.until_span, Diag::kUntilNotLooping, {}, "use 'one_or_more' or 'times n..'");
      }
    }
    if (prev != nullptr && prev->greedy && IsOptional(s)) {
      std::string_view text = TextOf(s.quantifier_span);
      SourceSpan at = s.quantifier_span;
      if (size_t pos = text.rfind("optional"); pos != std::string_view::npos) {
        at = {at.begin + static_cast<uint32_t>(pos), at.begin + static_cast<uint32_t>(pos + 8)};
      }
      Error(at, Diag::kOptionalAfterGreedy, {},
            "'" + prev->name + "' is greedy; make one of the two stages non-greedy or required");
    }
  }

  // A group's `until` may name the stages inside the group and those before it.
  void CheckGroupUntils(std::vector<Stage>& seq) {
    for (Stage& s : seq) {
      if (!s.is_group) continue;
      CheckGroupUntils(s.children);
      if (s.until) CheckExpr(*s.until, LastStageIndex(s), false);
    }
  }

  int LastStageIndex(const Stage& group) const {
    int last = -1;
    for (size_t i = 0; i < p_.stage_table.size(); ++i) {
      if (Contains(group, p_.stage_table[i])) last = static_cast<int>(i);
    }
    return last;
  }

  static bool Contains(const Stage& group, const Stage* s) {
    for (const Stage& c : group.children) {
      if (&c == s || (c.is_group && Contains(c, s))) return true;
    }
    return false;
  }

  void CheckEmit(std::vector<ast::EmitField>& fields) {
    std::map<std::string_view, SourceSpan> seen;
    for (ast::EmitField& f : fields) {
      auto [it, inserted] = seen.emplace(f.name, f.name_span);
      if (!inserted) {
        Error(f.name_span, Diag::kDuplicateEmitField, {f.name},
              "first given on line " + LineOf(it->second));
      }
      CheckExpr(f.value, kEmitScope, false);
    }
  }

  // `scope` is the stage_table index of the stage whose condition this is, or kEmitScope.
  static constexpr int kEmitScope = INT32_MAX;

  Type CheckExpr(Expr& e, int scope, bool list_allowed) {
    switch (e.kind) {
      case ExprKind::kNull:
        return Type::kNull;
      case ExprKind::kBool:
        return Type::kBool;
      case ExprKind::kInt:
      case ExprKind::kDouble:
      case ExprKind::kDuration:
        return Type::kNumber;
      case ExprKind::kString:
        return Type::kString;
      case ExprKind::kThis:
        return Type::kUnknown;
      case ExprKind::kList:
        if (!list_allowed) Error(e.span, Diag::kListOutsideIn, {});
        for (Expr& a : e.args) CheckExpr(a, scope, false);
        return Type::kList;
      case ExprKind::kName:
        ResolveName(e, scope);
        return Type::kUnknown;
      case ExprKind::kMember:
      case ExprKind::kIndex:
        for (Expr& a : e.args) CheckExpr(a, scope, false);
        return Type::kUnknown;
      case ExprKind::kCall:
        return CheckCall(e, scope);
      case ExprKind::kUnary: {
        Type t = e.args.empty() ? Type::kUnknown : CheckExpr(e.args[0], scope, false);
        if (e.unary_op == ast::UnaryOp::kNot) return Type::kBool;
        if (t == Type::kString || t == Type::kBool || t == Type::kList) {
          Error(e.span, Diag::kArithmeticType, {"-", TypeName(t)});
        }
        return t == Type::kNumber ? Type::kNumber : Type::kUnknown;
      }
      case ExprKind::kBinary:
        return CheckChain(e, scope);
    }
    return Type::kUnknown;
  }

  void ResolveName(Expr& e, int scope) {
    auto it = index_.find(e.text);
    if (it == index_.end()) return;  // a field of the current event
    int j = it->second;
    e.stage = j;
    const Stage& target = *p_.stage_table[j];
    if (IsNot(target)) {
      Error(e.span, Diag::kNotStageReference, {e.text},
            std::string("it is a '") + NotKind(target) +
                "' stage: it only checks that no such event occurs");
    } else if (scope != kEmitScope && j > scope) {
      Error(e.span, Diag::kForwardReference, {e.text},
            "'" + e.text + "' is declared on line " + LineOf(target.name_span) +
                "; for the event's field of that name write `" + e.text + "`");
    }
  }

  Type CheckCall(Expr& e, int scope) {
    for (Expr& a : e.args) CheckExpr(a, scope, false);
    const Function* f = FindFunction(e.text);
    SourceSpan name_span{e.span.begin, e.span.begin + static_cast<uint32_t>(e.text.size())};
    if (f == nullptr) {
      std::vector<std::string_view> names;
      for (const Function& fn : kFunctions) names.push_back(fn.name);
      std::string_view best = ClosestMatch(e.text, names);
      Error(name_span, Diag::kUnknownFunction, {e.text},
            best.empty() ? "the functions are count, sum, avg, min, max, first, last, len, abs, "
                           "lower, upper, exists, coalesce and time"
                         : "did you mean '" + std::string(best) + "'?");
      return Type::kUnknown;
    }
    size_t n = e.args.size();
    if (n < f->min_args || n > f->max_args) {
      std::string expected = f->max_args == SIZE_MAX ? "at least 1 argument" : "exactly 1 argument";
      Error(e.span, Diag::kWrongArity, {e.text, expected, std::to_string(n)});
      return f->result;
    }
    if (f->name == "exists" && !IsPath(e.args[0]))
      Error(e.args[0].span, Diag::kExistsNeedsPath, {});
    return f->result;
  }

  static bool IsPath(const Expr& e) {
    const Expr* x = &e;
    while (x->kind == ExprKind::kMember || x->kind == ExprKind::kIndex) {
      if (x->args.empty()) return false;
      x = &x->args[0];
    }
    return x->kind == ExprKind::kName || x->kind == ExprKind::kThis;
  }

  // A left-associative chain (`a or b or c ...`, one level per term) walked along its left
  // spine in a loop: recursion goes only into right operands, which the parser's nesting
  // cap bounds (dsl/parser.cc).
  Type CheckChain(Expr& e, int scope) {
    std::vector<Expr*> spine;
    for (Expr* x = &e; x->kind == ExprKind::kBinary && x->args.size() == 2; x = &x->args[0]) {
      spine.push_back(x);
    }
    if (spine.empty()) return Type::kUnknown;
    Type l = CheckExpr(spine.back()->args[0], scope, false);
    for (auto it = spine.rbegin(); it != spine.rend(); ++it) l = CheckBinary(**it, l, scope);
    return l;
  }

  // One binary node whose left operand, of type `l`, was checked already.
  Type CheckBinary(Expr& e, Type l, int scope) {
    BinaryOp op = e.binary_op;
    bool membership = op == BinaryOp::kIn || op == BinaryOp::kNotIn;
    Type r = CheckExpr(e.args[1], scope, membership);
    const char* name = nullptr;
    switch (op) {
      case BinaryOp::kOr:
      case BinaryOp::kAnd:
        return Type::kBool;
      case BinaryOp::kEq:
      case BinaryOp::kNe:
      case BinaryOp::kLt:
      case BinaryOp::kLe:
      case BinaryOp::kGt:
      case BinaryOp::kGe:
        if (l != r && l != Type::kUnknown && r != Type::kUnknown && l != Type::kNull &&
            r != Type::kNull) {
          Error(e.span, Diag::kTypeMismatch, {TypeName(l), TypeName(r)});
        }
        return Type::kBool;
      case BinaryOp::kIn:
      case BinaryOp::kNotIn:
        if (e.args[1].kind != ExprKind::kList) {
          Error(e.args[1].span, Diag::kInNeedsList, {op == BinaryOp::kIn ? "in" : "not in"},
                "write the candidates in brackets, e.g. [\"a\", \"b\"]");
        }
        return Type::kBool;
      case BinaryOp::kContains:
        if (l == Type::kNumber || l == Type::kBool) {
          Error(e.args[0].span, Diag::kStringOperandType,
                {"contains", "a string or a list", "left", TypeName(l)});
        }
        return Type::kBool;
      case BinaryOp::kStartsWith:
        name = "starts_with";
        break;
      case BinaryOp::kEndsWith:
        name = "ends_with";
        break;
      case BinaryOp::kMatches:
        name = "matches";
        break;
      case BinaryOp::kAdd:
        name = "+";
        break;
      case BinaryOp::kSub:
        name = "-";
        break;
      case BinaryOp::kMul:
        name = "*";
        break;
      case BinaryOp::kDiv:
        name = "/";
        break;
      case BinaryOp::kMod:
        name = "%";
        break;
    }
    bool string_op =
        op == BinaryOp::kStartsWith || op == BinaryOp::kEndsWith || op == BinaryOp::kMatches;
    if (string_op) {
      auto not_string = [](Type t) {
        return t != Type::kUnknown && t != Type::kString && t != Type::kNull;
      };
      if (not_string(l))
        Error(e.args[0].span, Diag::kStringOperandType, {name, "a string", "left", TypeName(l)});
      if (op == BinaryOp::kMatches) {
        CheckRegex(e.args[1]);
      } else if (not_string(r)) {
        Error(e.args[1].span, Diag::kStringOperandType, {name, "a string", "right", TypeName(r)});
      }
      return Type::kBool;
    }
    // Arithmetic.
    bool bad_left = l == Type::kString || l == Type::kBool || l == Type::kList;
    bool bad_right = r == Type::kString || r == Type::kBool || r == Type::kList;
    if (bad_left) Error(e.args[0].span, Diag::kArithmeticType, {name, TypeName(l)});
    if (bad_right) Error(e.args[1].span, Diag::kArithmeticType, {name, TypeName(r)});
    return l == Type::kNumber && r == Type::kNumber ? Type::kNumber : Type::kUnknown;
  }

  void CheckRegex(const Expr& rhs) {
    if (rhs.kind != ExprKind::kString) {
      Error(rhs.span, Diag::kMatchesNeedsString, {},
            "e.g. email matches \"^[^@]+@example\\\\.com$\"");
      return;
    }
    RegexError err;
    if (CompileRegex(rhs.text, &err) != nullptr) return;
    // The caret goes under the offending part of the regex when the literal's bytes
    // map back to the source; otherwise under the whole literal.
    SourceSpan at = rhs.span;
    if (err.end > err.begin) {
      std::vector<LiteralByte> bytes = LiteralBytes(TextOf(rhs.span));
      if (bytes.size() == rhs.text.size() && err.end <= bytes.size()) {
        at = {rhs.span.begin + bytes[err.begin].begin, rhs.span.begin + bytes[err.end - 1].end};
      }
    }
    if (err.unsupported) {
      Error(at, Diag::kUnsupportedRegex, {err.what}, err.help);
    } else {
      Error(at, Diag::kInvalidRegex, {err.what}, err.help);
    }
  }

  Pattern& p_;
  const SourceFile* file_;
  DiagnosticSink& sink_;
  std::map<std::string, int, std::less<>> index_;  // stage name -> stage_table index
  std::vector<Stage*> stages_;                     // stage_table, writable
};

}  // namespace

void Check(ast::File& file, DiagnosticSink& sink) {
  const SourceFile* src = file.source.get();
  std::map<std::string, SourceSpan, std::less<>> names;
  std::vector<bool> failed(file.patterns.size(), false);
  for (size_t i = 0; i < file.patterns.size(); ++i) {
    Pattern& p = file.patterns[i];
    size_t before = sink.error_count();
    auto [it, inserted] = names.emplace(p.name, p.name_span);
    if (!inserted) {
      std::string line = src == nullptr ? "?" : std::to_string(src->Locate(it->second.begin).line);
      Report(sink, src, p.name_span, Diag::kDuplicatePattern, {p.name},
             "first declared on line " + line);
    }
    PatternChecker(p, src, sink).Run();
    failed[i] = sink.error_count() != before;
  }
  size_t kept = 0;
  for (size_t i = 0; i < file.patterns.size(); ++i) {
    if (failed[i]) continue;
    // Moving a Pattern moves its vectors' buffers, so stage_table pointers stay valid.
    if (kept != i) file.patterns[kept] = std::move(file.patterns[i]);
    ++kept;
  }
  file.patterns.erase(file.patterns.begin() + static_cast<std::ptrdiff_t>(kept),
                      file.patterns.end());
}

ast::File ParseAndCheck(std::shared_ptr<const SourceFile> source, DiagnosticSink& sink) {
  ast::File file;
  DiagnosticSink local;
  try {
    file = Parse(source, local);
    Check(file, local);
  } catch (const std::exception& e) {
    Report(local, nullptr, {}, Diag::kInternal, {e.what()});
    file.patterns.clear();
  }
  file.source = std::move(source);  // the diagnostics point into it
  // Parse reports before Check; users read errors in file order.
  std::vector<Diagnostic> diags = local.diagnostics();
  std::stable_sort(diags.begin(), diags.end(), [](const Diagnostic& a, const Diagnostic& b) {
    return a.span.begin < b.span.begin;
  });
  for (Diagnostic& d : diags) sink.Add(std::move(d));
  return file;
}

}  // namespace tern::dsl
