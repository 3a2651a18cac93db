// Expression lowering: AST to postfix bytecode with short-circuit jumps.
// Member chains on an event (`this.a.b[0]`, `last(small).merchant`) fold into
// one schema slot, so reading a nested field costs one array access at runtime.
#include "compiler/lower_expr.h"

#include <memory>
#include <vector>

#include "dsl/regex.h"

namespace tern::compiler {

namespace {

bool IntLiteral(const ast::Expr& e, int64_t* out) {
  if (e.kind == ast::ExprKind::kInt) {
    *out = e.int_value;
    return true;
  }
  if (e.kind == ast::ExprKind::kUnary && e.unary_op == ast::UnaryOp::kNeg && e.args.size() == 1 &&
      e.args[0].kind == ast::ExprKind::kInt) {
    *out = -e.args[0].int_value;
    return true;
  }
  return false;
}

bool LookupBuiltin(const std::string& name, nfa::Builtin* out) {
  static const struct {
    const char* name;
    nfa::Builtin fn;
  } kTable[] = {
      {"count", nfa::Builtin::kCount}, {"sum", nfa::Builtin::kSum},       {"avg", nfa::Builtin::kAvg},
      {"min", nfa::Builtin::kMin},     {"max", nfa::Builtin::kMax},       {"first", nfa::Builtin::kFirst},
      {"last", nfa::Builtin::kLast},   {"len", nfa::Builtin::kLen},       {"abs", nfa::Builtin::kAbs},
      {"lower", nfa::Builtin::kLower}, {"upper", nfa::Builtin::kUpper},   {"exists", nfa::Builtin::kExists},
      {"coalesce", nfa::Builtin::kCoalesce}, {"time", nfa::Builtin::kTime},
  };
  for (const auto& f : kTable) {
    if (name == f.name) {
      *out = f.fn;
      return true;
    }
  }
  return false;
}

}  // namespace

void ExprLowerer::Emit(nfa::Op op, uint32_t arg) {
  program_.code.push_back({op, arg});
  switch (op) {
    case nfa::Op::kConst:
    case nfa::Op::kField:
    case nfa::Op::kThis:
    case nfa::Op::kStage:
    case nfa::Op::kStageField:
      ++depth_;
      break;
    case nfa::Op::kAdd: case nfa::Op::kSub: case nfa::Op::kMul: case nfa::Op::kDiv:
    case nfa::Op::kMod: case nfa::Op::kEq: case nfa::Op::kNe: case nfa::Op::kLt:
    case nfa::Op::kLe: case nfa::Op::kGt: case nfa::Op::kGe: case nfa::Op::kContains:
    case nfa::Op::kStartsWith: case nfa::Op::kEndsWith: case nfa::Op::kIn: case nfa::Op::kNotIn:
    case nfa::Op::kIndex: case nfa::Op::kPop:
      --depth_;
      break;
    case nfa::Op::kCall:
      depth_ -= static_cast<int>(arg >> 8) - 1;
      break;
    case nfa::Op::kMakeList:
      depth_ -= static_cast<int>(arg) - 1;
      break;
    default:
      break;
  }
  if (depth_ > max_depth_) max_depth_ = depth_;
}

uint32_t ExprLowerer::Const(const nfa::Value& v) {
  program_.consts.push_back(v);
  return static_cast<uint32_t>(program_.consts.size() - 1);
}

uint32_t ExprLowerer::StringConst(const std::string& s) {
  program_.const_strings.push_back(s);  // deque: the address stays valid
  return Const(nfa::Value::String(program_.const_strings.back()));
}

bool ExprLowerer::IsListTyped(const ast::Expr& e) const {
  if (e.kind == ast::ExprKind::kName && e.stage >= 0) {
    return pattern_.stage_table[static_cast<size_t>(e.stage)]->binds_list;
  }
  if (e.kind == ast::ExprKind::kMember) return IsListTyped(e.args[0]);
  return false;
}

nfa::ExprId ExprLowerer::Lower(const ast::Expr& e) {
  uses_stages_ = false;
  depth_ = 0;
  max_depth_ = 0;
  uint32_t begin = static_cast<uint32_t>(program_.code.size());
  Gen(e);
  uint32_t end = static_cast<uint32_t>(program_.code.size());
  nfa::ExprInfo info{begin, end, uses_stages_};
  if (end - begin == 3 && program_.code[begin].op == nfa::Op::kField && program_.code[begin + 1].op == nfa::Op::kConst) {
    nfa::Op op = program_.code[begin + 2].op;
    if (op == nfa::Op::kEq || op == nfa::Op::kNe || op == nfa::Op::kLt || op == nfa::Op::kLe ||
        op == nfa::Op::kGt || op == nfa::Op::kGe) {
      info.simple_op = op;
      info.simple_slot = program_.code[begin].arg;
      info.simple_const = program_.code[begin + 1].arg;
    }
  } else if (end - begin >= 4 && program_.code[begin].op == nfa::Op::kField &&
             (program_.code[end - 1].op == nfa::Op::kIn || program_.code[end - 1].op == nfa::Op::kNotIn) &&
             program_.code[end - 2].op == nfa::Op::kMakeList && program_.code[end - 2].arg == end - begin - 3) {
    // `field in [constants]`: the list is built once, here, instead of per evaluation.
    const uint32_t n = end - begin - 3;
    bool constants = true;
    for (uint32_t k = 0; k < n; ++k) constants = constants && program_.code[begin + 1 + k].op == nfa::Op::kConst;
    if (constants) {
      auto list = std::make_unique<nfa::Value[]>(n);
      for (uint32_t k = 0; k < n; ++k) list[k] = program_.consts[program_.code[begin + 1 + k].arg];
      nfa::Value v;
      v.kind = nfa::ValueKind::kValueList;
      v.len = n;
      v.values = list.get();
      program_.const_lists.push_back(std::move(list));
      info.simple_op = program_.code[end - 1].op;
      info.simple_slot = program_.code[begin].arg;
      info.simple_const = Const(v);
    }
  }
  program_.exprs.push_back(info);
  program_.expr_text.push_back(ast::Dump(e));
  program_.written.expr_source.push_back(written_ != nullptr ? written_->Of(e.span) : std::string());
  size_t need = static_cast<size_t>(max_depth_) + 4;
  if (need > program_.max_stack) program_.max_stack = need;
  return static_cast<nfa::ExprId>(program_.exprs.size() - 1);
}

void ExprLowerer::GenAccess(const ast::Expr& e) {
  // Collect the static path below the nearest base that is an event.
  std::vector<nfa::FieldSegment> segments;
  const ast::Expr* n = &e;
  for (;;) {
    if (n->kind == ast::ExprKind::kMember) {
      segments.insert(segments.begin(), nfa::FieldSegment{n->text, 0});
      n = &n->args[0];
      continue;
    }
    int64_t index;
    if (n->kind == ast::ExprKind::kIndex && IntLiteral(n->args[1], &index) && !IsListTyped(n->args[0]) &&
        !(n->args[0].kind == ast::ExprKind::kName && n->args[0].stage >= 0)) {
      segments.insert(segments.begin(), nfa::FieldSegment{"", index});
      n = &n->args[0];
      continue;
    }
    break;
  }
  if (segments.empty()) {  // an index on a list (or a dynamic index)
    Gen(n->args[0]);
    Gen(n->args[1]);
    Emit(nfa::Op::kIndex);
    return;
  }
  if (n->kind == ast::ExprKind::kName && n->stage < 0) {
    segments.insert(segments.begin(), nfa::FieldSegment{n->text, 0});
    Emit(nfa::Op::kField, schema_.Intern(segments));
    return;
  }
  if (n->kind == ast::ExprKind::kThis) {
    Emit(nfa::Op::kField, schema_.Intern(segments));
    return;
  }
  if (n->kind == ast::ExprKind::kName && n->stage >= 0 && !IsListTyped(*n)) {
    // A field of the event a single stage bound: one instruction, no event value.
    uses_stages_ = true;
    program_.stage_fields.push_back({static_cast<uint32_t>(n->stage), schema_.Intern(segments)});
    Emit(nfa::Op::kStageField, static_cast<uint32_t>(program_.stage_fields.size() - 1));
    return;
  }
  Gen(*n);
  Emit(nfa::Op::kMember, schema_.Intern(segments));
}

void ExprLowerer::Gen(const ast::Expr& e) {
  using K = ast::ExprKind;
  switch (e.kind) {
    case K::kNull: Emit(nfa::Op::kConst, Const(nfa::Value::Null())); return;
    case K::kBool: Emit(nfa::Op::kConst, Const(nfa::Value::Bool(e.bool_value))); return;
    case K::kInt:
    case K::kDuration: Emit(nfa::Op::kConst, Const(nfa::Value::Int(e.int_value))); return;
    case K::kDouble: Emit(nfa::Op::kConst, Const(nfa::Value::Double(e.double_value))); return;
    case K::kString: Emit(nfa::Op::kConst, StringConst(e.text)); return;
    case K::kList:
      for (const auto& a : e.args) Gen(a);
      Emit(nfa::Op::kMakeList, static_cast<uint32_t>(e.args.size()));
      return;
    case K::kName:
      if (e.stage >= 0) {
        uses_stages_ = true;
        Emit(nfa::Op::kStage, static_cast<uint32_t>(e.stage));
      } else {
        Emit(nfa::Op::kField, schema_.Intern({nfa::FieldSegment{e.text, 0}}));
      }
      return;
    case K::kThis: Emit(nfa::Op::kThis); return;
    case K::kMember:
    case K::kIndex: GenAccess(e); return;
    case K::kCall: {
      nfa::Builtin fn;
      if (!LookupBuiltin(e.text, &fn)) {
        error_ = "unknown function '" + e.text + "'";
        Emit(nfa::Op::kConst, Const(nfa::Value::Null()));
        return;
      }
      for (const auto& a : e.args) Gen(a);
      if (e.args.empty()) Emit(nfa::Op::kConst, Const(nfa::Value::Null()));
      uint32_t n = static_cast<uint32_t>(e.args.empty() ? 1 : e.args.size());
      Emit(nfa::Op::kCall, static_cast<uint32_t>(fn) | (n << 8));
      return;
    }
    case K::kUnary:
      Gen(e.args[0]);
      Emit(e.unary_op == ast::UnaryOp::kNeg ? nfa::Op::kNeg : nfa::Op::kNot);
      return;
    case K::kBinary: GenChain(e); return;
  }
}

// A left-associative chain (`a or b or c ...`) is a left-deep tree, one level per term:
// its left spine is walked in a loop, and recursion goes only into right operands, whose
// nesting the parser caps. The code is the same as a recursive walk would emit.
void ExprLowerer::GenChain(const ast::Expr& e) {
  using B = ast::BinaryOp;
  std::vector<const ast::Expr*> spine;
  const ast::Expr* x = &e;
  for (; x->kind == ast::ExprKind::kBinary && x->args.size() == 2; x = &x->args[0]) {
    spine.push_back(x);
  }
  const ast::Expr& bottom = *spine.back();
  const bool null_test = bottom.binary_op == B::kEq || bottom.binary_op == B::kNe;
  if (null_test && bottom.args[0].kind == ast::ExprKind::kNull &&
      bottom.args[1].kind != ast::ExprKind::kNull) {
    // `null == x` / `null != x` test x for null.
    Gen(bottom.args[1]);
    Emit(bottom.binary_op == B::kEq ? nfa::Op::kIsNull : nfa::Op::kIsNotNull);
  } else {
    Gen(bottom.args[0]);
    GenAfterLeft(bottom);
  }
  for (auto it = spine.rbegin() + 1; it != spine.rend(); ++it) GenAfterLeft(**it);
}

// The code of binary node `e` after its left operand's.
void ExprLowerer::GenAfterLeft(const ast::Expr& e) {
  using B = ast::BinaryOp;
  if (e.binary_op == B::kAnd || e.binary_op == B::kOr) {
    Emit(nfa::Op::kToBool);
    size_t jump = program_.code.size();
    Emit(e.binary_op == B::kAnd ? nfa::Op::kJumpIfFalse : nfa::Op::kJumpIfTrue);
    Emit(nfa::Op::kPop);
    Gen(e.args[1]);
    Emit(nfa::Op::kToBool);
    program_.code[jump].arg = static_cast<uint32_t>(program_.code.size());
    return;
  }
  if (e.binary_op == B::kMatches) {
    dsl::RegexError err;
    std::shared_ptr<const re2::RE2> re = dsl::CompileRegex(e.args[1].text, &err);
    if (re == nullptr) {  // dsl::Check reports it first; this is a safety net
      error_ = "invalid regular expression: " + err.what;
      re = dsl::CompileRegex("[]", &err);  // matches nothing; the pattern is dropped anyway
    }
    program_.regexes.push_back(std::move(re));
    program_.regex_sources.push_back(e.args[1].text);
    Emit(nfa::Op::kMatches, static_cast<uint32_t>(program_.regexes.size() - 1));
    return;
  }
  if ((e.binary_op == B::kEq || e.binary_op == B::kNe) && e.args[1].kind == ast::ExprKind::kNull) {
    // `x == null` / `x != null` test for null; any other comparison with a null value is
    // false.
    Emit(e.binary_op == B::kEq ? nfa::Op::kIsNull : nfa::Op::kIsNotNull);
    return;
  }
  Gen(e.args[1]);
  nfa::Op op = nfa::Op::kEq;
  switch (e.binary_op) {
    case B::kEq: op = nfa::Op::kEq; break;
    case B::kNe: op = nfa::Op::kNe; break;
    case B::kLt: op = nfa::Op::kLt; break;
    case B::kLe: op = nfa::Op::kLe; break;
    case B::kGt: op = nfa::Op::kGt; break;
    case B::kGe: op = nfa::Op::kGe; break;
    case B::kIn: op = nfa::Op::kIn; break;
    case B::kNotIn: op = nfa::Op::kNotIn; break;
    case B::kContains: op = nfa::Op::kContains; break;
    case B::kStartsWith: op = nfa::Op::kStartsWith; break;
    case B::kEndsWith: op = nfa::Op::kEndsWith; break;
    case B::kAdd: op = nfa::Op::kAdd; break;
    case B::kSub: op = nfa::Op::kSub; break;
    case B::kMul: op = nfa::Op::kMul; break;
    case B::kDiv: op = nfa::Op::kDiv; break;
    case B::kMod: op = nfa::Op::kMod; break;
    default: break;
  }
  Emit(op);
}

}  // namespace tern::compiler
