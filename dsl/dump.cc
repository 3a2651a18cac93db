// ast::Dump: stable textual forms of expressions (one S-expression line) and patterns (one
// line per pattern, stage, emit block) for golden tests and debugging.
// Tested by tests/unit/dsl/parser_test.cc and tests/unit/dsl/check_test.cc.
//
// Expressions: `(and (> amount 10) (== type "auth"))`. Literals print as written except that
// doubles always show a '.' or an exponent, durations print in milliseconds (`300000ms`) and
// strings print JSON-escaped in double quotes. A name that Check resolved to a stage prints
// as `@name`; fields of the current event print bare. Members are `(. base field)`, indexing
// `([] base index)`, calls `(count @small)`, unary `(neg x)` / `(not x)`.
#include <charconv>
#include <cstdio>
#include <string>
#include <vector>

#include "dsl/ast.h"
#include "dsl/tokens.h"

namespace tern::ast {
namespace {

const char* OpName(BinaryOp op) {
  switch (op) {
    case BinaryOp::kOr:
      return "or";
    case BinaryOp::kAnd:
      return "and";
    case BinaryOp::kEq:
      return "==";
    case BinaryOp::kNe:
      return "!=";
    case BinaryOp::kLt:
      return "<";
    case BinaryOp::kLe:
      return "<=";
    case BinaryOp::kGt:
      return ">";
    case BinaryOp::kGe:
      return ">=";
    case BinaryOp::kIn:
      return "in";
    case BinaryOp::kNotIn:
      return "not_in";
    case BinaryOp::kContains:
      return "contains";
    case BinaryOp::kStartsWith:
      return "starts_with";
    case BinaryOp::kEndsWith:
      return "ends_with";
    case BinaryOp::kMatches:
      return "matches";
    case BinaryOp::kAdd:
      return "+";
    case BinaryOp::kSub:
      return "-";
    case BinaryOp::kMul:
      return "*";
    case BinaryOp::kDiv:
      return "/";
    case BinaryOp::kMod:
      return "%";
  }
  return "?";
}

const char* ContiguityName(Contiguity c) {
  switch (c) {
    case Contiguity::kBegin:
      return "begin";
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
  return "?";
}

void AppendQuoted(std::string& out, const std::string& s) {
  out += '"';
  for (char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(c));
          out += buf;
        } else {
          out += c;
        }
    }
  }
  out += '"';
}

// An identifier that can be written without back-quotes.
bool IsPlainName(const std::string& s) {
  if (s.empty() || dsl::syntax::IsKeyword(s)) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
    if (!alpha && !(i > 0 && c >= '0' && c <= '9')) return false;
  }
  return true;
}

void AppendName(std::string& out, const std::string& s) {
  if (IsPlainName(s)) {
    out += s;
  } else {
    out += '`' + s + '`';
  }
}

void AppendDouble(std::string& out, double d) {
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, d);
  std::string s(buf, ec == std::errc() ? end : buf);
  if (s.find_first_of(".eEn") == std::string::npos) s += ".0";  // keep it visibly a double
  out += s;
}

// Recursion depth is bounded by the parser's nesting cap (dsl/parser.cc).
void AppendExpr(std::string& out, const Expr& e) {
  switch (e.kind) {
    case ExprKind::kNull:
      out += "null";
      return;
    case ExprKind::kBool:
      out += e.bool_value ? "true" : "false";
      return;
    case ExprKind::kInt:
      out += std::to_string(e.int_value);
      return;
    case ExprKind::kDouble:
      AppendDouble(out, e.double_value);
      return;
    case ExprKind::kString:
      AppendQuoted(out, e.text);
      return;
    case ExprKind::kDuration:
      out += std::to_string(e.int_value) + "ms";
      return;
    case ExprKind::kThis:
      out += "this";
      return;
    case ExprKind::kName:
      if (e.stage >= 0) out += '@';
      AppendName(out, e.text);
      return;
    case ExprKind::kList:
      out += '[';
      for (size_t i = 0; i < e.args.size(); ++i) {
        if (i > 0) out += ' ';
        AppendExpr(out, e.args[i]);
      }
      out += ']';
      return;
    case ExprKind::kMember:
      out += "(. ";
      if (!e.args.empty()) AppendExpr(out, e.args[0]);
      out += ' ';
      AppendName(out, e.text);
      out += ')';
      return;
    case ExprKind::kIndex:
      out += "([]";
      for (const Expr& a : e.args) {
        out += ' ';
        AppendExpr(out, a);
      }
      out += ')';
      return;
    case ExprKind::kCall:
      out += '(';
      AppendName(out, e.text);
      for (const Expr& a : e.args) {
        out += ' ';
        AppendExpr(out, a);
      }
      out += ')';
      return;
    case ExprKind::kUnary:
      out += e.unary_op == UnaryOp::kNeg ? "(neg " : "(not ";
      if (!e.args.empty()) AppendExpr(out, e.args[0]);
      out += ')';
      return;
    case ExprKind::kBinary: {
      if (e.args.size() != 2) {
        out += '(';
        out += OpName(e.binary_op);
        for (const Expr& a : e.args) {
          out += ' ';
          AppendExpr(out, a);
        }
        out += ')';
        return;
      }
      // A left-associative chain nests one level per term down args[0]: loop over that
      // spine, recurse only into the right operands (bounded by the parser).
      std::vector<const Expr*> spine;
      const Expr* x = &e;
      for (; x->kind == ExprKind::kBinary && x->args.size() == 2; x = &x->args[0]) {
        spine.push_back(x);
        out += '(';
        out += OpName(x->binary_op);
        out += ' ';
      }
      AppendExpr(out, *x);
      for (auto it = spine.rbegin(); it != spine.rend(); ++it) {
        out += ' ';
        AppendExpr(out, (*it)->args[1]);
        out += ')';
      }
      return;
    }
  }
}

void AppendPath(std::string& out, const Path& p) {
  for (size_t i = 0; i < p.segments.size(); ++i) {
    const PathSegment& s = p.segments[i];
    if (s.name.empty()) {
      out += '[' + std::to_string(s.index) + ']';
    } else {
      if (i > 0) out += '.';
      AppendName(out, s.name);
    }
  }
}

void AppendStage(std::string& out, const Stage& s, int indent) {
  out.append(static_cast<size_t>(indent), ' ');
  out += ContiguityName(s.contiguity);
  out += ' ';
  if (s.is_group) {
    out += "(group)";
  } else {
    AppendName(out, s.name);
  }
  if (s.where) {
    out += " where ";
    AppendExpr(out, *s.where);
  }
  if (s.has_quantifier && !(s.min == 1 && s.max == 1)) {
    out += " times=" + std::to_string(s.min);
    if (s.max != s.min) out += ".." + (s.max < 0 ? std::string() : std::to_string(s.max));
  }
  if (s.optional) out += " optional";
  if (s.greedy) out += " greedy";
  if (s.consecutive) out += " consecutive";
  if (s.allow_combinations) out += " allow_combinations";
  if (s.until) {
    out += " until=";
    AppendExpr(out, *s.until);
  }
  if (s.within_ms) out += " within=" + std::to_string(*s.within_ms) + "ms";
  if (s.binds_list) out += " binds_list";
  out += '\n';
  for (const Stage& c : s.children) AppendStage(out, c, indent + 2);
}

void AppendEmit(std::string& out, const char* head, const std::vector<EmitField>& fields) {
  out += head;
  for (const EmitField& f : fields) {
    out += ' ';
    AppendName(out, f.name);
    out += '=';
    AppendExpr(out, f.value);
  }
  out += '\n';
}

}  // namespace

std::string Dump(const Expr& e) {
  std::string out;
  AppendExpr(out, e);
  return out;
}

std::string Dump(const Pattern& p) {
  std::string out = "pattern ";
  AppendName(out, p.name);
  if (!p.key.empty()) {
    out += " key=";
    for (size_t i = 0; i < p.key.size(); ++i) {
      if (i > 0) out += ',';
      AppendPath(out, p.key[i]);
    }
  }
  if (p.within_ms) out += " within=" + std::to_string(*p.within_ms) + "ms";
  if (p.gap_ms) out += " gap=" + std::to_string(*p.gap_ms) + "ms";
  switch (p.skip.kind) {
    case SkipKind::kNoSkip:
      break;
    case SkipKind::kToNext:
      out += " skip=to_next";
      break;
    case SkipKind::kPastLastEvent:
      out += " skip=past_last_event";
      break;
    case SkipKind::kToFirst:
      out += " skip=to_first(" + p.skip.stage + ")";
      break;
    case SkipKind::kToLast:
      out += " skip=to_last(" + p.skip.stage + ")";
      break;
  }
  if (!p.from.empty()) {
    out += " from=";
    for (size_t i = 0; i < p.from.size(); ++i) out += (i > 0 ? "," : "") + p.from[i];
  }
  if (p.to) {
    out += " to=";
    AppendQuoted(out, *p.to);
  }
  out += '\n';
  for (const Stage& s : p.sequence) AppendStage(out, s, 2);
  if (p.has_emit) AppendEmit(out, "  emit", p.emit);
  if (p.has_timeout) AppendEmit(out, "  on_timeout emit", p.timeout_emit);
  return out;
}

}  // namespace tern::ast
