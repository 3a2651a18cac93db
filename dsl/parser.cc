// dsl::Parse: a Boost.Spirit X3 grammar for .tern files (spec §2, §3, §7) that builds the
// AST of dsl/ast.h with byte-offset spans, plus the error recovery around it.
// Tested by tests/unit/dsl/parser_test.cc and tests/fuzz/dsl_fuzzer.cc.
//
// IMPLEMENTATION
// The grammar is X3 over `const char*`. Tokens (keywords, names, numbers, strings) are small
// hand-written X3 primitives so that lexical errors ("unterminated string", "unknown duration
// unit") carry exact spans. Every point after which the input must continue in one way is
// wrapped in Expect("what")[p]; when p fails it throws SyntaxError with the position. The
// rule attributes are built only by semantic actions (X3 then parses the right-hand sides
// with unused attributes), so the AST types need no Fusion adaptation.
// Parse() runs the `pattern` rule once per pattern; when it throws, the error is reported and
// parsing resumes at the next `pattern` keyword (dsl/recovery.cc, which also names the
// offending token: "expected '}', found keyword 'where'"). Nothing thrown here leaves the file.
// Recursion is bounded twice: the Nest directive caps how deep the grammar recurses
// (parentheses, `not`, unary minus, groups) and every built expression node carries its
// nesting depth, capped too. A left-associative chain (`a or b or c`, `x + y - z`) is a
// left-deep tree, one level per term, but it is not nesting: its operands sit side by side
// in the text, and a chain of 100k terms is legal. So a binary node's depth is its left
// operand's, or its right operand's plus one, whichever is more; the walks over expressions
// (Check, Dump, the compiler, Expr's destructor) follow a chain's left spine in a loop and
// recurse only into the other operands, whose depth the cap bounds.
#include <algorithm>
#include <boost/spirit/home/x3.hpp>
#include <cstring>
#include <exception>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "dsl/diag.h"
#include "dsl/dsl.h"
#include "dsl/recovery.h"
#include "dsl/tokens.h"
#include "dsl/x3_primitives.h"

namespace tern::dsl {
namespace {

using namespace syntax;  // NOLINT: the grammar is written in terms of the token primitives
using ast::BinaryOp;
using ast::Contiguity;
using ast::ExprKind;

// An expression under construction. X3 rules have no locals, so the scratch fields used
// while one rule combines its operands live here too.
struct PExpr {
  ast::Expr e;
  int depth = 1;                // height of `e`; <= kMaxNesting
  BinaryOp op = BinaryOp::kOr;  // pending operator of a binary chain
  uint32_t start = 0;           // pending start offset (`not`, unary `-`)
  ast::Expr aux;                // pending index expression of `a[i]`
  int aux_depth = 0;
};

void CheckDepth(int depth, SourceSpan span) {
  if (depth > kMaxNesting) ThrowAt(Diag::kTooDeep, span, {std::to_string(kMaxNesting)});
}

// ---------------------------------------------------------------- expression building

ast::Expr Leaf(ExprKind kind, SourceSpan span) {
  ast::Expr e;
  e.kind = kind;
  e.span = span;
  return e;
}

PExpr Wrap(ast::Expr e, int depth) {
  PExpr p;
  p.e = std::move(e);
  p.depth = depth;
  return p;
}

void CombineBinary(PExpr& lhs, BinaryOp op, PExpr&& rhs) {
  ast::Expr e;
  e.kind = ExprKind::kBinary;
  e.binary_op = op;
  e.span = {lhs.e.span.begin, rhs.e.span.end};
  // The left operand continues the chain; only the right one nests (see the top).
  int depth = std::max(lhs.depth, rhs.depth + 1);
  CheckDepth(depth, rhs.e.span);
  e.args.reserve(2);
  e.args.push_back(std::move(lhs.e));
  e.args.push_back(std::move(rhs.e));
  lhs.e = std::move(e);
  lhs.depth = depth;
}

// Actions: `_val` is the rule's PExpr, `_attr` what the subject parsed.
auto const assign = [](auto& ctx) { x3::_val(ctx) = std::move(x3::_attr(ctx)); };
auto const set_op = [](auto& ctx) { x3::_val(ctx).op = x3::_attr(ctx); };
auto const combine = [](auto& ctx) {
  auto& v = x3::_val(ctx);
  CombineBinary(v, v.op, std::move(x3::_attr(ctx)));
};
template <BinaryOp kOp>
struct CombineWith {
  template <typename Ctx>
  void operator()(Ctx& ctx) const {
    CombineBinary(x3::_val(ctx), kOp, std::move(x3::_attr(ctx)));
  }
};
auto const set_start = [](auto& ctx) { x3::_val(ctx).start = x3::_attr(ctx).begin; };

auto const make_not = [](auto& ctx) {
  auto& v = x3::_val(ctx);
  PExpr& operand = x3::_attr(ctx);
  ast::Expr e = Leaf(ExprKind::kUnary, {v.start, operand.e.span.end});
  e.unary_op = ast::UnaryOp::kNot;
  int depth = operand.depth + 1;
  CheckDepth(depth, e.span);
  e.args.push_back(std::move(operand.e));
  v.e = std::move(e);
  v.depth = depth;
};

// Unary minus; folded into number literals so that `-7` is the literal -7 (spec §2).
auto const make_neg = [](auto& ctx) {
  auto& v = x3::_val(ctx);
  PExpr& operand = x3::_attr(ctx);
  SourceSpan span{v.start, operand.e.span.end};
  if (operand.e.kind == ExprKind::kInt && operand.e.int_value != INT64_MIN) {
    v.e = std::move(operand.e);
    v.e.int_value = -v.e.int_value;
    v.e.span = span;
    v.depth = 1;
    return;
  }
  if (operand.e.kind == ExprKind::kDouble) {
    v.e = std::move(operand.e);
    v.e.double_value = -v.e.double_value;
    v.e.span = span;
    v.depth = 1;
    return;
  }
  ast::Expr e = Leaf(ExprKind::kUnary, span);
  e.unary_op = ast::UnaryOp::kNeg;
  int depth = operand.depth + 1;
  CheckDepth(depth, span);
  e.args.push_back(std::move(operand.e));
  v.e = std::move(e);
  v.depth = depth;
};

auto const make_number = [](auto& ctx) {
  NumTok& n = x3::_attr(ctx);
  ast::Expr e;
  e.span = n.span;
  switch (n.kind) {
    case NumKind::kInt:
      e.kind = ExprKind::kInt;
      e.int_value = n.int_value;
      break;
    case NumKind::kDouble:
      e.kind = ExprKind::kDouble;
      e.double_value = n.double_value;
      break;
    case NumKind::kDuration:
      e.kind = ExprKind::kDuration;
      e.int_value = n.int_value;
      break;
  }
  x3::_val(ctx) = Wrap(std::move(e), 1);
};
auto const make_string = [](auto& ctx) {
  Tok& t = x3::_attr(ctx);
  ast::Expr e = Leaf(ExprKind::kString, t.span);
  e.text = std::move(t.text);
  x3::_val(ctx) = Wrap(std::move(e), 1);
};
template <ExprKind kKind, bool kValue = false>
struct MakeLeaf {
  template <typename Ctx>
  void operator()(Ctx& ctx) const {
    ast::Expr e = Leaf(kKind, x3::_attr(ctx));
    e.bool_value = kValue;
    x3::_val(ctx) = Wrap(std::move(e), 1);
  }
};
// A bare name; a back-quoted one is always a field of the current event (`this.name`), so
// it can name a field that has the same name as a stage.
auto const make_name = [](auto& ctx) {
  Tok& t = x3::_attr(ctx);
  if (!t.quoted) {
    ast::Expr e = Leaf(ExprKind::kName, t.span);
    e.text = std::move(t.text);
    x3::_val(ctx) = Wrap(std::move(e), 1);
    return;
  }
  ast::Expr e = Leaf(ExprKind::kMember, t.span);
  e.text = std::move(t.text);
  e.args.push_back(Leaf(ExprKind::kThis, t.span));
  x3::_val(ctx) = Wrap(std::move(e), 2);
};
auto const make_member = [](auto& ctx) {
  auto& v = x3::_val(ctx);
  Tok& t = x3::_attr(ctx);
  ast::Expr e = Leaf(ExprKind::kMember, {v.e.span.begin, t.span.end});
  e.text = std::move(t.text);
  int depth = v.depth + 1;
  CheckDepth(depth, t.span);
  e.args.push_back(std::move(v.e));
  v.e = std::move(e);
  v.depth = depth;
};
auto const set_index = [](auto& ctx) {
  auto& v = x3::_val(ctx);
  v.aux = std::move(x3::_attr(ctx).e);
  v.aux_depth = x3::_attr(ctx).depth;
};
auto const make_index = [](auto& ctx) {
  auto& v = x3::_val(ctx);
  ast::Expr e = Leaf(ExprKind::kIndex, {v.e.span.begin, x3::_attr(ctx).end});
  int depth = 1 + std::max(v.depth, v.aux_depth);
  CheckDepth(depth, {v.aux.span.begin, x3::_attr(ctx).end});
  e.args.reserve(2);
  e.args.push_back(std::move(v.e));
  e.args.push_back(std::move(v.aux));
  v.e = std::move(e);
  v.depth = depth;
};
auto const start_call = [](auto& ctx) {
  Tok& t = x3::_attr(ctx);
  ast::Expr e = Leaf(ExprKind::kCall, t.span);
  e.text = std::move(t.text);
  x3::_val(ctx) = Wrap(std::move(e), 1);
};
auto const start_list = [](auto& ctx) {
  x3::_val(ctx) = Wrap(Leaf(ExprKind::kList, x3::_attr(ctx)), 1);
};
auto const add_arg = [](auto& ctx) {
  auto& v = x3::_val(ctx);
  PExpr& arg = x3::_attr(ctx);
  v.depth = std::max(v.depth, arg.depth + 1);
  v.e.args.push_back(std::move(arg.e));
};
auto const close_args = [](auto& ctx) {
  auto& v = x3::_val(ctx);
  v.e.span.end = x3::_attr(ctx).end;
  CheckDepth(v.depth, v.e.span);
};

// ---------------------------------------------------------------- expression grammar

x3::rule<class ExprId, PExpr> const expr = "expression";
x3::rule<class AndId, PExpr> const and_expr = "expression";
x3::rule<class NotId, PExpr> const not_expr = "expression";
x3::rule<class CmpId, PExpr> const cmp_expr = "expression";
x3::rule<class InRhsId, PExpr> const in_rhs = "list";
x3::rule<class AddId, PExpr> const add_expr = "expression";
x3::rule<class MulId, PExpr> const mul_expr = "expression";
x3::rule<class UnaryId, PExpr> const unary_expr = "expression";
x3::rule<class PostfixId, PExpr> const postfix_expr = "expression";
x3::rule<class PrimaryId, PExpr> const primary_expr = "expression";
x3::rule<class CallId, PExpr> const call_expr = "call";
x3::rule<class ListId, PExpr> const list_expr = "list";

struct CmpSymbols : x3::symbols<BinaryOp> {
  CmpSymbols() {
    add("==", BinaryOp::kEq)("!=", BinaryOp::kNe)("<", BinaryOp::kLt)("<=", BinaryOp::kLe)(
        ">", BinaryOp::kGt)(">=", BinaryOp::kGe);
  }
};
struct AddSymbols : x3::symbols<BinaryOp> {
  AddSymbols() { add("+", BinaryOp::kAdd)("-", BinaryOp::kSub); }
};
struct MulSymbols : x3::symbols<BinaryOp> {
  MulSymbols() { add("*", BinaryOp::kMul)("/", BinaryOp::kDiv)("%", BinaryOp::kMod); }
};
CmpSymbols const cmp_sym;
AddSymbols const add_sym;
MulSymbols const mul_sym;

auto const cmp_start = cmp_sym | Kw("in") | (Kw("not") >> Kw("in")) | Kw("contains") |
                       Kw("starts_with") | Kw("ends_with") | Kw("matches");

auto const expr_def =
    Nest[and_expr[assign] >>
         *(Kw("or") >> Expect("an expression after 'or'")[and_expr][CombineWith<BinaryOp::kOr>{}])];

auto const and_expr_def =
    not_expr[assign] >>
    *(Kw("and") >> Expect("an expression after 'and'")[not_expr][CombineWith<BinaryOp::kAnd>{}]);

auto const not_expr_def =
    (Kw("not")[set_start] >> Nest[Expect("an expression after 'not'")[not_expr]][make_not]) |
    cmp_expr[assign];

auto const cmp_expr_def =
    add_expr[assign] >>
    -((cmp_sym[set_op] >> Expect("an expression after {prev}")[add_expr][combine]) |
      (Kw("in") >>
       Expect("a list after 'in', like [\"a\", \"b\"]")[in_rhs][CombineWith<BinaryOp::kIn>{}]) |
      (Kw("not") >> Expect("'in' after 'not' (as in 'x not in [...]')")[Kw("in")] >>
       Expect(
           "a list after 'not in', like [\"a\", \"b\"]")[in_rhs][CombineWith<BinaryOp::kNotIn>{}]) |
      (Kw("contains") >>
       Expect("an expression after 'contains'")[add_expr][CombineWith<BinaryOp::kContains>{}]) |
      (Kw("starts_with") >>
       Expect(
           "an expression after 'starts_with'")[add_expr][CombineWith<BinaryOp::kStartsWith>{}]) |
      (Kw("ends_with") >>
       Expect("an expression after 'ends_with'")[add_expr][CombineWith<BinaryOp::kEndsWith>{}]) |
      (Kw("matches") >>
       Expect("a regular expression string after 'matches'")[add_expr]
                                                            [CombineWith<BinaryOp::kMatches>{}])) >>
    -(&cmp_start >>
      Fail(Diag::kChainedComparison, "combine comparisons with 'and', e.g. a < b and b < c"));

auto const in_rhs_def = list_expr[assign] | add_expr[assign];

auto const add_expr_def = mul_expr[assign] >>
                          *(add_sym[set_op] >>
                            Expect("an expression after {prev}")[mul_expr][combine]);

auto const mul_expr_def = unary_expr[assign] >>
                          *(mul_sym[set_op] >>
                            Expect("an expression after {prev}")[unary_expr][combine]);

auto const unary_expr_def =
    (Sym("-")[set_start] >> Nest[Expect("an expression after '-'")[unary_expr]][make_neg]) |
    postfix_expr[assign];

auto const postfix_expr_def = primary_expr[assign] >>
                              *((Sym(".") >>
                                 Expect("a field name after '.'")[kFieldName][make_member]) |
                                (Sym("[") >> Expect("an index inside '[ ]'")[expr][set_index] >>
                                 Expect("']' to close the index")[Sym("]")][make_index]));

auto const primary_expr_def =
    kNumber[make_number] | kString[make_string] | Kw("true")[MakeLeaf<ExprKind::kBool, true>{}] |
    Kw("false")[MakeLeaf<ExprKind::kBool, false>{}] | Kw("null")[MakeLeaf<ExprKind::kNull>{}] |
    Kw("this")[MakeLeaf<ExprKind::kThis>{}] | call_expr[assign] | kFieldName[make_name] |
    (Sym("(") >> Expect("an expression after '('")[expr][assign] >>
     Expect("')' to close the parenthesis")[Sym(")")]) |
    list_expr[assign];

auto const call_expr_def = (kIdent >> &Sym("("))[start_call] >> Sym("(") >>
                           -(expr[add_arg] >>
                             *(Sym(",") >> Expect("an argument after ','")[expr][add_arg])) >>
                           Expect("')' to close the argument list")[Sym(")")][close_args];

auto const list_expr_def = Sym("[")[start_list] >>
                           -(expr[add_arg] >>
                             *(Sym(",") >> Expect("a list element after ','")[expr][add_arg])) >>
                           Expect("']' to close the list")[Sym("]")][close_args];

BOOST_SPIRIT_DEFINE(expr, and_expr, not_expr, cmp_expr, in_rhs, add_expr, mul_expr, unary_expr,
                    postfix_expr, primary_expr, call_expr, list_expr)

// ---------------------------------------------------------------- stages

void Extend(SourceSpan& span, SourceSpan with) { span.end = std::max(span.end, with.end); }

template <typename Ctx>
bool StartsWithWord(const Ctx& ctx, uint32_t offset, std::string_view word) {
  return std::strncmp(State(ctx).base + offset, word.data(), word.size()) == 0;
}

bool HasModifier(const ast::Stage& s) {
  return s.greedy || s.consecutive || s.allow_combinations || s.until_span.end != 0 ||
         s.within_ms.has_value();
}

// `times` / `one_or_more`: the repeating part of a quantifier.
template <typename Ctx>
void OnRepeat(Ctx& ctx, ast::Stage& s, SourceSpan kw, const char* word) {
  if (HasModifier(s)) {
    ThrowAt(Diag::kQuantifierOrder, kw,
            {std::string("'") + word + "'", "before the stage's modifiers"},
            "write the quantifier first, e.g. 'one_or_more optional greedy'");
  }
  bool repeat_written =
      s.has_quantifier && !StartsWithWord(ctx, s.quantifier_span.begin, "optional");
  if (repeat_written) {
    s.repeated_spans.push_back(kw);
  } else if (s.optional) {
    ThrowAt(Diag::kQuantifierOrder, kw, {std::string("'") + word + "'", "before 'optional'"},
            std::string("write '") + word + " ... optional'");
  }
  s.has_quantifier = true;
  s.quantifier_span = kw;
  Extend(s.span, kw);
}

auto const on_times = [](auto& ctx) { OnRepeat(ctx, x3::_val(ctx), x3::_attr(ctx), "times"); };
auto const on_one_or_more = [](auto& ctx) {
  ast::Stage& s = x3::_val(ctx);
  OnRepeat(ctx, s, x3::_attr(ctx), "one_or_more");
  s.min = 1;
  s.max = -1;
};
template <typename Ctx>
int64_t Count(Ctx& ctx, const NumTok& n) {
  if (n.kind != NumKind::kInt) {
    SyntaxError e;
    e.id = Diag::kExpected;
    e.pos = n.span.begin;
    e.token_span = true;
    e.args.push_back("a whole number");
    throw e;
  }
  ast::Stage& s = x3::_val(ctx);
  Extend(s.quantifier_span, n.span);
  Extend(s.span, n.span);
  return n.int_value;
}
auto const set_times_min = [](auto& ctx) {
  ast::Stage& s = x3::_val(ctx);
  s.min = s.max = Count(ctx, x3::_attr(ctx));
};
auto const set_times_open = [](auto& ctx) {
  ast::Stage& s = x3::_val(ctx);
  s.max = -1;
  Extend(s.quantifier_span, x3::_attr(ctx));
  Extend(s.span, x3::_attr(ctx));
};
auto const set_times_max = [](auto& ctx) { x3::_val(ctx).max = Count(ctx, x3::_attr(ctx)); };

auto const on_optional = [](auto& ctx) {
  ast::Stage& s = x3::_val(ctx);
  SourceSpan kw = x3::_attr(ctx);
  if (s.optional) {
    s.repeated_spans.push_back(kw);
    return;
  }
  if (HasModifier(s)) {
    ThrowAt(Diag::kQuantifierOrder, kw,
            {"'optional'", "right after the quantifier, before the modifiers"},
            "e.g. 'one_or_more optional greedy'");
  }
  s.optional = true;
  if (!s.has_quantifier) s.quantifier_span = kw;
  s.has_quantifier = true;
  Extend(s.quantifier_span, kw);
  Extend(s.span, kw);
};

template <bool ast::Stage::*kFlag, SourceSpan ast::Stage::*kSpan>
struct OnFlagModifier {
  template <typename Ctx>
  void operator()(Ctx& ctx) const {
    ast::Stage& s = x3::_val(ctx);
    SourceSpan kw = x3::_attr(ctx);
    if (s.*kFlag) s.repeated_spans.push_back(kw);
    s.*kFlag = true;
    s.*kSpan = kw;
    Extend(s.span, kw);
  }
};
auto const on_until = [](auto& ctx) {
  ast::Stage& s = x3::_val(ctx);
  SourceSpan kw = x3::_attr(ctx);
  if (s.until_span.end != 0) s.repeated_spans.push_back(kw);
  s.until_span = kw;
  Extend(s.span, kw);
};
auto const set_until = [](auto& ctx) {
  ast::Stage& s = x3::_val(ctx);
  s.until = std::move(x3::_attr(ctx).e);
  Extend(s.span, s.until->span);
};
auto const on_stage_within = [](auto& ctx) {
  ast::Stage& s = x3::_val(ctx);
  SourceSpan kw = x3::_attr(ctx);
  if (s.within_span.end != 0) s.repeated_spans.push_back(kw);
  s.within_span = kw;
  Extend(s.span, kw);
};

// A duration after `within` / `gap`. Returns milliseconds and extends `span`.
template <typename Ctx>
int64_t Duration(Ctx& ctx, const NumTok& n) {
  if (n.kind != NumKind::kDuration) {
    std::string text(State(ctx).base + n.span.begin, State(ctx).base + n.span.end);
    std::string help = n.kind == NumKind::kInt ? "write e.g. " + text + "s or " + text + "ms"
                                               : "use a whole number with a unit, e.g. 1500ms";
    ThrowAt(Diag::kDurationWithoutUnit, n.span, {text}, help);
  }
  return n.int_value;
}
auto const set_stage_within = [](auto& ctx) {
  ast::Stage& s = x3::_val(ctx);
  s.within_ms = Duration(ctx, x3::_attr(ctx));
  Extend(s.within_span, x3::_attr(ctx).span);
  Extend(s.span, x3::_attr(ctx).span);
};

auto const stage_suffix =
    (Kw("times")[on_times] >>
     Expect("a repetition count after 'times', like 3, 2..5 or 2..")[kNumber][set_times_min] >>
     -(Sym("..")[set_times_open] >> -kNumber[set_times_max])) |
    Kw("one_or_more")[on_one_or_more] | Kw("optional")[on_optional] |
    Kw("greedy")[OnFlagModifier<&ast::Stage::greedy, &ast::Stage::greedy_span>{}] |
    Kw("consecutive")[OnFlagModifier<&ast::Stage::consecutive, &ast::Stage::consecutive_span>{}] |
    Kw("allow_combinations")[OnFlagModifier<&ast::Stage::allow_combinations,
                                            &ast::Stage::allow_combinations_span>{}] |
    (Kw("until")[on_until] >> Expect("a condition after 'until'")[expr][set_until]) |
    (Kw("within")[on_stage_within] >>
     Expect("a duration after 'within', like 10s")[kNumber][set_stage_within]);

auto const set_stage_name = [](auto& ctx) {
  ast::Stage& s = x3::_val(ctx);
  Tok& t = x3::_attr(ctx);
  s.name = std::move(t.text);
  s.name_span = t.span;
  s.span = t.span;
};
auto const set_where = [](auto& ctx) {
  ast::Stage& s = x3::_val(ctx);
  s.where = std::move(x3::_attr(ctx).e);
  Extend(s.span, s.where->span);
};
auto const start_group = [](auto& ctx) {
  ast::Stage& s = x3::_val(ctx);
  s.is_group = true;
  s.span = x3::_attr(ctx);
};
// The first stage of a sequence: appended as is.
auto const add_first_child = [](auto& ctx) {
  ast::Stage& s = x3::_val(ctx);
  s.children.push_back(std::move(x3::_attr(ctx)));
  s.children.back().contiguity = Contiguity::kBegin;
};
template <Contiguity kKind>
struct PushChild {  // a contiguity keyword: a placeholder child that records it
  template <typename Ctx>
  void operator()(Ctx& ctx) const {
    ast::Stage child;
    child.contiguity = kKind;
    child.contiguity_span = x3::_attr(ctx);
    x3::_val(ctx).children.push_back(std::move(child));
  }
};
template <typename Stage>
void FillLast(std::vector<ast::Stage>& stages, Stage&& parsed) {
  ast::Stage& last = stages.back();
  Contiguity c = last.contiguity;
  SourceSpan c_span = last.contiguity_span;
  last = std::forward<Stage>(parsed);
  last.contiguity = c;
  last.contiguity_span = c_span;
}
auto const fill_last_child = [](auto& ctx) {
  FillLast(x3::_val(ctx).children, std::move(x3::_attr(ctx)));
};
auto const end_group = [](auto& ctx) { Extend(x3::_val(ctx).span, x3::_attr(ctx)); };

[[noreturn]] void ThrowNotFirst(SourceSpan kw, const char* what, const char* kind) {
  ThrowAt(Diag::kNotStageFirst, kw, {what, kind},
          "absence is checked after a stage: put a stage before it");
}
template <bool kGroup, bool kNext>
struct NotFirst {
  template <typename Ctx>
  void operator()(Ctx& ctx) const {
    ThrowNotFirst(x3::_attr(ctx), kGroup ? "a group" : "a pattern",
                  kNext ? "not_next" : "not_followed_by");
  }
};
template <bool kGroup>
auto NotStageFirst() {
  return -(Kw("not_next")[NotFirst<kGroup, true>{}] |
           Kw("not_followed_by")[NotFirst<kGroup, false>{}]);
}

x3::rule<class StageId, ast::Stage> const stage = "stage";
x3::rule<class SingleId, ast::Stage> const single_stage = "stage";
x3::rule<class GroupId, ast::Stage> const group_stage = "group";

// Contiguity keywords push a placeholder child on `_val`'s `children` (groups) or
// `sequence` (patterns); the stage that follows is then moved into it.
template <typename Push>
auto ContiguityKeywords() {
  return Kw("next")[Push::template Make<Contiguity::kNext>()] |
         Kw("followed_by_any")[Push::template Make<Contiguity::kFollowedByAny>()] |
         Kw("followed_by")[Push::template Make<Contiguity::kFollowedBy>()] |
         Kw("not_next")[Push::template Make<Contiguity::kNotNext>()] |
         Kw("not_followed_by")[Push::template Make<Contiguity::kNotFollowedBy>()];
}
struct PushGroupChild {
  template <Contiguity kKind>
  static PushChild<kKind> Make() {
    return {};
  }
};

auto const stage_def = group_stage[assign] | single_stage[assign];

auto const single_stage_def = kIdent[set_stage_name] >>
                              -(Kw("where") >>
                                Expect("a condition after 'where'")[expr][set_where]) >>
                              *stage_suffix;

auto const group_stage_def =
    Sym("(")[start_group] >>
    Nest[NotStageFirst<true>() >> Expect("a stage after '('")[stage][add_first_child] >>
         *(ContiguityKeywords<PushGroupChild>() >>
           Expect("a stage after {prev}")[stage][fill_last_child]) >>
         Expect("')' to close the group, or the group's next stage")[Sym(")")][end_group]] >>
    *stage_suffix;

BOOST_SPIRIT_DEFINE(stage, single_stage, group_stage)

// ---------------------------------------------------------------- patterns

template <typename Ctx>
void Repeated(Ctx& ctx, bool seen, SourceSpan kw) {
  if (seen) x3::_val(ctx).repeated_spans.push_back(kw);
  Extend(x3::_val(ctx).span, kw);
}

auto const start_pattern = [](auto& ctx) { x3::_val(ctx).span = x3::_attr(ctx); };
auto const set_pattern_name = [](auto& ctx) {
  ast::Pattern& p = x3::_val(ctx);
  p.name = std::move(x3::_attr(ctx).text);
  p.name_span = x3::_attr(ctx).span;
};
auto const on_key = [](auto& ctx) {
  Repeated(ctx, !x3::_val(ctx).key.empty(), x3::_attr(ctx));
  x3::_val(ctx).key.clear();
};
auto const start_path = [](auto& ctx) {
  Tok& t = x3::_attr(ctx);
  ast::Path path;
  path.span = t.span;
  path.segments.push_back({std::move(t.text), 0});
  x3::_val(ctx).key.push_back(std::move(path));
};
auto const add_path_field = [](auto& ctx) {
  ast::Path& path = x3::_val(ctx).key.back();
  path.segments.push_back({std::move(x3::_attr(ctx).text), 0});
  Extend(path.span, x3::_attr(ctx).span);
};
auto const add_path_index = [](auto& ctx) {
  ast::Path& path = x3::_val(ctx).key.back();
  path.segments.push_back({"", x3::_attr(ctx).int_value});
};
auto const end_path = [](auto& ctx) { Extend(x3::_val(ctx).key.back().span, x3::_attr(ctx)); };
auto const on_within = [](auto& ctx) {
  Repeated(ctx, x3::_val(ctx).within_ms.has_value(), x3::_attr(ctx));
  x3::_val(ctx).within_span = x3::_attr(ctx);
};
auto const set_within = [](auto& ctx) {
  ast::Pattern& p = x3::_val(ctx);
  p.within_ms = Duration(ctx, x3::_attr(ctx));
  Extend(p.within_span, x3::_attr(ctx).span);
};
auto const on_gap = [](auto& ctx) {
  Repeated(ctx, x3::_val(ctx).gap_ms.has_value(), x3::_attr(ctx));
  x3::_val(ctx).gap_span = x3::_attr(ctx);
};
auto const set_gap = [](auto& ctx) {
  ast::Pattern& p = x3::_val(ctx);
  p.gap_ms = Duration(ctx, x3::_attr(ctx));
  Extend(p.gap_span, x3::_attr(ctx).span);
};
auto const on_skip = [](auto& ctx) {
  ast::Pattern& p = x3::_val(ctx);
  Repeated(ctx, p.skip.span.end != 0, x3::_attr(ctx));
  p.skip = ast::Skip{};
  p.skip.span = x3::_attr(ctx);
};
template <ast::SkipKind kKind>
struct SetSkip {
  template <typename Ctx>
  void operator()(Ctx& ctx) const {
    ast::Pattern& p = x3::_val(ctx);
    p.skip.kind = kKind;
    Extend(p.skip.span, x3::_attr(ctx));
  }
};
auto const set_skip_stage = [](auto& ctx) {
  ast::Pattern& p = x3::_val(ctx);
  p.skip.stage = x3::_attr(ctx).text;
  Extend(p.skip.span, x3::_attr(ctx).span);
};
auto const end_skip = [](auto& ctx) { Extend(x3::_val(ctx).skip.span, x3::_attr(ctx)); };
auto const unknown_skip = [](auto& ctx) {
  static constexpr std::string_view kStrategies[] = {"no_skip", "to_next", "past_last_event",
                                                     "to_first", "to_last"};
  Tok& t = x3::_attr(ctx);
  std::string_view best = ClosestMatch(t.text, kStrategies);
  ThrowAt(Diag::kUnknownSkipStrategy, t.span, {t.text},
          best.empty() ? "use no_skip, to_next, past_last_event, to_first(stage) or to_last(stage)"
                       : "did you mean '" + std::string(best) + "'?");
};
auto const on_from = [](auto& ctx) {
  Repeated(ctx, !x3::_val(ctx).from.empty(), x3::_attr(ctx));
  x3::_val(ctx).from.clear();
};
auto const add_from = [](auto& ctx) { x3::_val(ctx).from.push_back(x3::_attr(ctx).text); };
auto const on_to = [](auto& ctx) { Repeated(ctx, x3::_val(ctx).to.has_value(), x3::_attr(ctx)); };
auto const set_to = [](auto& ctx) { x3::_val(ctx).to = x3::_attr(ctx).text; };

auto const path = kFieldName[start_path] >>
                  *((Sym(".") >> Expect("a field name after '.'")[kFieldName][add_path_field]) |
                    (Sym("[") >>
                     Expect("an integer index inside '[ ]'")[kPathIndex][add_path_index] >>
                     Expect("']' to close the index")[Sym("]")][end_path]));

auto const skip_strategy = Kw("no_skip")[SetSkip<ast::SkipKind::kNoSkip>{}] |
                           Kw("to_next")[SetSkip<ast::SkipKind::kToNext>{}] |
                           Kw("past_last_event")[SetSkip<ast::SkipKind::kPastLastEvent>{}] |
                           ((Kw("to_first")[SetSkip<ast::SkipKind::kToFirst>{}] |
                             Kw("to_last")[SetSkip<ast::SkipKind::kToLast>{}]) >>
                            Expect("'(' and a stage name after {prev}")[Sym("(")] >>
                            Expect("a stage name inside '( )'")[kIdent][set_skip_stage] >>
                            Expect("')' after the stage name")[Sym(")")][end_skip]) |
                           kIdent[unknown_skip];

auto const clause =
    (Kw("key")[on_key] >> Expect("a field path after 'key'")[path] >>
     *(Sym(",") >> Expect("a field path after ','")[path])) |
    (Kw("within")[on_within] >>
     Expect("a duration after 'within', like 10m")[kNumber][set_within]) |
    (Kw("gap")[on_gap] >> Expect("a duration after 'gap', like 30s")[kNumber][set_gap]) |
    (Kw("skip")[on_skip] >>
     Expect("a skip strategy after 'skip' (no_skip, to_next, past_last_event, to_first(stage) "
            "or to_last(stage))")[skip_strategy]) |
    (Kw("from")[on_from] >> Expect("a stream name after 'from'")[kIdent][add_from] >>
     *(Sym(",") >> Expect("a stream name after ','")[kIdent][add_from])) |
    (Kw("to")[on_to] >> Expect("a destination string after 'to'")[kString][set_to]);

auto const add_first_stage = [](auto& ctx) {
  ast::Pattern& p = x3::_val(ctx);
  p.sequence.push_back(std::move(x3::_attr(ctx)));
  p.sequence.back().contiguity = Contiguity::kBegin;
};
template <Contiguity kKind>
struct PushPatternStage {
  template <typename Ctx>
  void operator()(Ctx& ctx) const {
    ast::Stage child;
    child.contiguity = kKind;
    child.contiguity_span = x3::_attr(ctx);
    x3::_val(ctx).sequence.push_back(std::move(child));
  }
};
struct PushPatternStageGen {
  template <Contiguity kKind>
  static PushPatternStage<kKind> Make() {
    return {};
  }
};
auto const fill_last_stage = [](auto& ctx) {
  FillLast(x3::_val(ctx).sequence, std::move(x3::_attr(ctx)));
};

template <bool kTimeout>
struct OnEmitField {
  template <typename Ctx>
  void operator()(Ctx& ctx) const {
    ast::Pattern& p = x3::_val(ctx);
    ast::EmitField f;
    f.name = std::move(x3::_attr(ctx).text);
    f.name_span = x3::_attr(ctx).span;
    (kTimeout ? p.timeout_emit : p.emit).push_back(std::move(f));
  }
};
template <bool kTimeout>
struct SetEmitValue {
  template <typename Ctx>
  void operator()(Ctx& ctx) const {
    ast::Pattern& p = x3::_val(ctx);
    (kTimeout ? p.timeout_emit : p.emit).back().value = std::move(x3::_attr(ctx).e);
  }
};
auto const on_emit = [](auto& ctx) {
  ast::Pattern& p = x3::_val(ctx);
  if (p.has_timeout && !p.has_emit) {
    ThrowAt(Diag::kQuantifierOrder, x3::_attr(ctx), {"'emit'", "before 'on_timeout'"});
  }
  Repeated(ctx, p.has_emit, x3::_attr(ctx));
  p.has_emit = true;
  p.emit.clear();
};
auto const on_timeout = [](auto& ctx) {
  ast::Pattern& p = x3::_val(ctx);
  Repeated(ctx, p.has_timeout, x3::_attr(ctx));
  p.has_timeout = true;
  p.timeout_emit.clear();
};

template <bool kTimeout>
auto EmitBody() {
  return Expect("'{' after 'emit'")[Sym("{")] >>
         *(kFieldName[OnEmitField<kTimeout>{}] >> Expect("'=' after the field name")[Sym("=")] >>
           Expect("an expression after '='")[expr][SetEmitValue<kTimeout>{}] >> -Sym(",")) >>
         Expect("'}' to close 'emit', or a field like 'name = expression'")[Sym("}")];
}

auto const end_pattern = [](auto& ctx) { Extend(x3::_val(ctx).span, x3::_attr(ctx)); };

x3::rule<class PatternId, ast::Pattern> const pattern = "pattern";

auto const pattern_def =
    Kw("pattern")[start_pattern] >>
    Expect("a pattern name after 'pattern'")[kIdent][set_pattern_name] >>
    Expect("'{' after the pattern name")[Sym("{")] >> *clause >>
    Expect("a clause (key, within, gap, skip, from, to) or 'begin'")[Kw("begin")] >>
    NotStageFirst<false>() >> Expect("a stage after 'begin'")[stage][add_first_stage] >>
    *(ContiguityKeywords<PushPatternStageGen>() >>
      Expect("a stage after {prev}")[stage][fill_last_stage]) >>
    *((Kw("emit")[on_emit] >> EmitBody<false>()) |
      (Kw("on_timeout")[on_timeout] >> Expect("'emit' after 'on_timeout'")[Kw("emit")] >>
       EmitBody<true>())) >>
    Expect("'}' to close the pattern, or the next stage (next, followed_by, ...)")[Sym("}")]
                                                                                  [end_pattern];

BOOST_SPIRIT_DEFINE(pattern)

}  // namespace

ast::File Parse(std::shared_ptr<const SourceFile> source, DiagnosticSink& sink) {
  ast::File file;
  file.source = source;
  if (source == nullptr) return file;
  const std::string& text = source->text();
  const SourceFile* src = source.get();
  if (text.size() >= UINT32_MAX) {
    Report(sink, nullptr, {}, Diag::kInternal, {"the file is larger than 4 GiB"});
    return file;
  }
  Recovery recovery(text);
  ParseState state;
  state.base = text.data();
  const char* const last = text.data() + text.size();
  const char* at = text.data();
  if (text.starts_with("\xEF\xBB\xBF")) at += 3;  // a UTF-8 byte order mark
  auto const grammar = x3::with<StateTag>(state)[pattern];

  while (true) {
    kSkipper.parse(at, last, x3::unused, x3::unused, x3::unused);
    if (at == last) break;
    const char* it = at;
    ast::Pattern p;
    uint32_t error_pos = 0;
    try {
      state.nesting = 0;
      if (x3::phrase_parse(it, last, grammar, kSkipper, p)) {
        file.patterns.push_back(std::move(p));
        at = it;
        continue;
      }
      SyntaxError e;
      e.pos = static_cast<uint32_t>(at - text.data());
      e.token_span = true;
      e.args.push_back("'pattern'");
      error_pos = e.pos + 1;  // skip the offending token
      sink.Add(ToDiagnostic(e, *src, recovery));
    } catch (const SyntaxError& e) {
      sink.Add(ToDiagnostic(e, *src, recovery));
      error_pos = std::max<uint32_t>(e.pos, static_cast<uint32_t>(at - text.data()) + 1);
    } catch (const x3::expectation_failure<const char*>& e) {
      // Not used by the grammar (it uses Expect[]), but never let one escape.
      SyntaxError se;
      se.pos = static_cast<uint32_t>(e.where() - text.data());
      se.token_span = true;
      se.args.push_back(e.which());
      sink.Add(ToDiagnostic(se, *src, recovery));
      error_pos = std::max<uint32_t>(se.pos, static_cast<uint32_t>(at - text.data()) + 1);
    } catch (const std::exception& e) {
      Report(sink, src,
             {static_cast<uint32_t>(at - text.data()), static_cast<uint32_t>(at - text.data())},
             Diag::kInternal, {e.what()});
      break;
    }
    size_t resume = recovery.ResumeAfter(error_pos);
    if (resume == std::string_view::npos) break;
    at = text.data() + resume;
  }
  return file;
}

}  // namespace tern::dsl
