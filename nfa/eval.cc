// The expression stack machine and the builtin functions.
//
// IMPLEMENTATION
// Expressions are compiled (compiler/lower_expr.cc) to postfix code over a
// value stack. Stage references walk the partial match's node chain in the
// shared buffer and materialise the stage's events into the arena, as Flink's
// IterativeCondition.Context#getEventsForPattern does; conditions that never
// reference a stage are memoised per event (ExprMemo), which makes the common
// case one evaluation per event and pattern no matter how many runs test it.
// Null rules (spec §7): arithmetic with null gives null, comparisons with null
// are false except == / != null, a null condition is false, division by zero
// gives null, values of different types never compare equal or ordered.
#include "nfa/eval.h"

#include <re2/re2.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string_view>

namespace tern::nfa {

// ---------------------------------------------------------------- arena

void* ScratchArena::Allocate(size_t bytes, size_t align) {
  for (;;) {
    if (block_ < blocks_.size()) {
      size_t offset = (used_ + align - 1) & ~(align - 1);
      if (offset + bytes <= sizes_[block_]) {
        used_ = offset + bytes;
        return blocks_[block_].get() + offset;
      }
      ++block_;
      used_ = 0;
      continue;
    }
    size_t size = std::max(kBlockSize, bytes + align);
    blocks_.push_back(std::make_unique<std::byte[]>(size));
    sizes_.push_back(size);
    block_ = blocks_.size() - 1;
    used_ = 0;
  }
}

// ---------------------------------------------------------------- helpers

namespace {

int CompareNumbers(const Value& a, const Value& b) {
  if (a.kind == ValueKind::kInt && b.kind == ValueKind::kInt) return (a.i > b.i) - (a.i < b.i);
  double x = a.as_double(), y = b.as_double();
  return (x > y) - (x < y);
}

// Three-way order for values of the same comparable type; false when not comparable.
bool Order(const Value& a, const Value& b, int* out) {
  if (a.is_number() && b.is_number()) {
    if ((a.kind == ValueKind::kDouble && std::isnan(a.d)) ||
        (b.kind == ValueKind::kDouble && std::isnan(b.d))) {
      return false;
    }
    *out = CompareNumbers(a, b);
    return true;
  }
  if (a.kind == ValueKind::kString && b.kind == ValueKind::kString) {
    int c = a.as_string().compare(b.as_string());
    *out = (c > 0) - (c < 0);
    return true;
  }
  return false;
}

// Scans a raw JSON array of scalars (an array field used with `contains`, `in`,
// `len` or an index) without a JSON library: returns false when the text is not
// an array. Each element is handed to `f` as a Value (strings stay escaped-free
// only when they contain no backslash; escaped strings compare by raw text).
template <typename F>
bool ScanJsonArray(std::string_view text, F&& f) {
  size_t i = 0;
  auto skip_ws = [&] {
    while (i < text.size() && (text[i] == ' ' || text[i] == '\t' || text[i] == '\n' || text[i] == '\r')) ++i;
  };
  skip_ws();
  if (i >= text.size() || text[i] != '[') return false;
  ++i;
  skip_ws();
  if (i < text.size() && text[i] == ']') return true;
  while (i < text.size()) {
    skip_ws();
    size_t begin = i;
    Value v;
    if (text[i] == '"') {
      ++i;
      while (i < text.size() && text[i] != '"') i += text[i] == '\\' ? 2 : 1;
      v = Value::String(text.substr(begin + 1, i - begin - 1));
      ++i;
    } else if (text[i] == '[' || text[i] == '{') {
      int depth = 0;
      bool in_string = false;
      for (; i < text.size(); ++i) {
        char c = text[i];
        if (in_string) {
          if (c == '\\') ++i;
          else if (c == '"') in_string = false;
        } else if (c == '"') {
          in_string = true;
        } else if (c == '[' || c == '{') {
          ++depth;
        } else if (c == ']' || c == '}') {
          if (--depth == 0) {
            ++i;
            break;
          }
        }
      }
      v = Value::Json(text.substr(begin, i - begin));
    } else {
      while (i < text.size() && text[i] != ',' && text[i] != ']' && text[i] != ' ') ++i;
      std::string_view tok = text.substr(begin, i - begin);
      if (tok == "true") v = Value::Bool(true);
      else if (tok == "false") v = Value::Bool(false);
      else if (tok == "null") v = Value::Null();
      else {
        bool integral = tok.find_first_of(".eE") == std::string_view::npos;
        if (integral) {
          int64_t x = 0;
          bool neg = !tok.empty() && tok[0] == '-';
          for (size_t k = neg ? 1 : 0; k < tok.size(); ++k) x = x * 10 + (tok[k] - '0');
          v = Value::Int(neg ? -x : x);
        } else {
          v = Value::Double(std::strtod(std::string(tok).c_str(), nullptr));
        }
      }
    }
    if (!f(v)) return true;
    skip_ws();
    if (i < text.size() && text[i] == ',') {
      ++i;
      continue;
    }
    break;
  }
  return true;
}

bool IsJsonArray(const Value& v) {
  if (v.kind != ValueKind::kJson) return false;
  std::string_view t = v.as_string();
  size_t i = t.find_first_not_of(" \t\r\n");
  return i != std::string_view::npos && t[i] == '[';
}

}  // namespace

namespace {

// a <op> b for kAdd..kMod (spec §7: null unless both are numbers; integer
// arithmetic unless it overflows, then double; division by zero gives null).
Value Arith(Op op, const Value& a, const Value& b) {
  if (!a.is_number() || !b.is_number()) return Value::Null();
  if (a.kind == ValueKind::kInt && b.kind == ValueKind::kInt && op != Op::kDiv) {
    int64_t r;
    bool ovf = false;
    switch (op) {
      case Op::kAdd: ovf = __builtin_add_overflow(a.i, b.i, &r); break;
      case Op::kSub: ovf = __builtin_sub_overflow(a.i, b.i, &r); break;
      case Op::kMul: ovf = __builtin_mul_overflow(a.i, b.i, &r); break;
      default:  // kMod
        if (b.i == 0) return Value::Null();
        r = (b.i == -1) ? 0 : a.i % b.i;
        break;
    }
    if (!ovf) return Value::Int(r);
  }
  double x = a.as_double(), y = b.as_double();
  switch (op) {
    case Op::kAdd: return Value::Double(x + y);
    case Op::kSub: return Value::Double(x - y);
    case Op::kMul: return Value::Double(x * y);
    case Op::kDiv: return y == 0 ? Value::Null() : Value::Double(x / y);
    default: return y == 0 ? Value::Null() : Value::Double(std::fmod(x, y));
  }
}

// kStageField operand `arg`: the run's copy of the field when the caller has the
// run's stage values, else the latest binding of the stage in the node chain.
Value StageFieldWalk(const EvalContext& ctx, uint32_t arg) {
  const StageField& f = ctx.program->stage_fields[arg];
  for (NodeId n = ctx.node; n != kNoNode;) {
    const Node& node = ctx.buffer->node(n);
    if (node.stage == f.stage) return node.event->slot(f.slot);
    n = node.parent;
  }
  return Value::Missing();
}

inline Value StageFieldValue(const EvalContext& ctx, uint32_t arg) {
  if (ctx.stage_values != nullptr) {
    const uint32_t col = ctx.stage_value_col[arg];
    if (col != kNoId) return ctx.stage_values[col];
  }
  return StageFieldWalk(ctx, arg);
}

inline Value OperandValue(const EvalContext& ctx, Operand o) {
  switch (o.kind) {
    case OperandKind::kField: return ctx.event != nullptr ? ctx.event->slot(o.arg) : Value::Missing();
    case OperandKind::kConst: return ctx.program->consts[o.arg];
    case OperandKind::kStageField: return StageFieldValue(ctx, o.arg);
  }
  return Value::Missing();
}

// Arith with + - * on doubles inline (what Arith computes when a double is involved).
inline Value ArithInline(Op op, const Value& a, const Value& b) {
  if (((a.kind == ValueKind::kDouble && b.is_number()) || (b.kind == ValueKind::kDouble && a.is_number()))) {
    const double x = a.as_double(), y = b.as_double();
    switch (op) {
      case Op::kAdd: return Value::Double(x + y);
      case Op::kSub: return Value::Double(x - y);
      case Op::kMul: return Value::Double(x * y);
      default: break;
    }
  }
  return Arith(op, a, b);
}

}  // namespace


bool Evaluator::Equal(const Value& a, const Value& b) {
  if (a.is_null() || b.is_null()) return a.is_null() && b.is_null();
  if (a.is_number() && b.is_number()) return CompareNumbers(a, b) == 0 && !(a.kind == ValueKind::kDouble && std::isnan(a.d));
  if (a.kind != b.kind) return false;
  switch (a.kind) {
    case ValueKind::kBool: return a.b == b.b;
    case ValueKind::kString:
    case ValueKind::kJson: return a.len == b.len && BytesEqual(a.str, b.str, a.len);
    case ValueKind::kEvent: return a.event->id == b.event->id;
    case ValueKind::kEventList:
      if (a.len != b.len) return false;
      for (uint32_t k = 0; k < a.len; ++k)
        if (!(a.events[k]->id == b.events[k]->id)) return false;
      return true;
    case ValueKind::kValueList:
      if (a.len != b.len) return false;
      for (uint32_t k = 0; k < a.len; ++k)
        if (!Equal(a.values[k], b.values[k])) return false;
      return true;
    default: return false;
  }
}

bool Evaluator::Compare(Op op, const Value& a, const Value& b) {
  if (op == Op::kEq || op == Op::kNe) {
    // Every comparison with a null value is false; `x == null` and `x != null`
    // against the literal compile to kIsNull / kIsNotNull instead.
    if (a.is_null() || b.is_null()) return false;
    bool comparable = (a.is_number() && b.is_number()) || a.kind == b.kind;
    if (!comparable) return false;  // values of different types never compare
    bool eq = Equal(a, b);
    return op == Op::kEq ? eq : !eq;
  }
  int c;
  if (!Order(a, b, &c)) return false;
  return op == Op::kLt ? c < 0 : op == Op::kLe ? c <= 0 : op == Op::kGt ? c > 0 : c >= 0;
}

// ---------------------------------------------------------------- evaluator

Evaluator::Evaluator() {
  stack_.resize(256);
  cond_stack_.reserve(64);
  walk_.reserve(256);
}

bool Evaluator::Condition(const EvalContext& ctx, CondId cond) {
  const Program& p = *ctx.program;
  const CondRange r = p.conds[cond];
  // Fast paths for the shapes the compiler produces most: `true` and a single expression.
  if (r.end - r.begin == 1) {
    const CondInstr& ci = p.cond_code[r.begin];
    if (ci.op == CondOp::kTrue) return true;
    if (ci.op == CondOp::kExpr) return ExprTruth(ctx, ci.arg);
  }
  cond_stack_.clear();
  for (uint32_t pc = r.begin; pc < r.end; ++pc) {
    const CondInstr& ci = p.cond_code[pc];
    switch (ci.op) {
      case CondOp::kTrue: cond_stack_.push_back(1); break;
      case CondOp::kExpr: cond_stack_.push_back(ExprTruth(ctx, ci.arg) ? 1 : 0); break;
      case CondOp::kNot: cond_stack_.back() ^= 1; break;
      case CondOp::kAnd: {
        uint8_t b = cond_stack_.back();
        cond_stack_.pop_back();
        cond_stack_.back() &= b;
        break;
      }
      case CondOp::kOr: {
        uint8_t b = cond_stack_.back();
        cond_stack_.pop_back();
        cond_stack_.back() |= b;
        break;
      }
    }
  }
  return !cond_stack_.empty() && cond_stack_.back() != 0;
}

bool Evaluator::Condition(const EvalContext& ctx, const CondPlans& plans, CondId cond) {
  const CondRange r = plans.ranges[cond];
  const CondStep* steps = plans.steps.data();
  bool acc = false;
  for (uint32_t s = r.begin; s < r.end;) {
    const CondStep st = steps[s];
    switch (st.op) {
      case CondStepOp::kTrue: acc = true; ++s; break;
      case CondStepOp::kExpr: acc = ExprTruth(ctx, st.arg); ++s; break;
      case CondStepOp::kCompare: acc = CompareTruth(ctx, plans.compares[st.arg]); ++s; break;
      case CondStepOp::kNot: acc = !acc; ++s; break;
      case CondStepOp::kAndThen: s = acc ? s + 1 : st.arg; break;
      case CondStepOp::kOrElse: s = acc ? st.arg : s + 1; break;
    }
  }
  return acc;
}

bool Evaluator::ExprTruth(const EvalContext& ctx, ExprId expr) {
  const ExprInfo& info = ctx.program->exprs[expr];
  if (info.uses_stages || ctx.event == nullptr) return Truthy(Evaluate(ctx, expr));
  if (info.simple_op != Op::kPop) {
    // `field <cmp> constant` on numbers or string equality: a machine comparison,
    // cheaper than the memo.
    bool truth;
    if (FastCompare(info.simple_op, ctx.event->slot(info.simple_slot), ctx.program->consts[info.simple_const], &truth)) {
      return truth;
    }
  }
  // Event-only: memoised per event (the memo may be shared with other programs, so
  // even `field <cmp> constant` is worth looking up: a string comparison is not free).
  MemoStore* store = ctx.memo != nullptr ? ctx.memo->store : nullptr;
  uint32_t slot = 0;
  if (store != nullptr) {
    slot = ctx.memo->slot[expr];
    if (store->epoch[slot] == ctx.epoch) return store->value[slot] != 0;
  }
  bool v;
  if (info.simple_op != Op::kPop && info.simple_op != Op::kIn && info.simple_op != Op::kNotIn) {
    // `field <cmp> constant`: no stack machine.
    v = Compare(info.simple_op, ctx.event->slot(info.simple_slot), ctx.program->consts[info.simple_const]);
  } else {
    v = Truthy(Evaluate(ctx, expr));
  }
  if (store != nullptr) {
    store->epoch[slot] = ctx.epoch;
    store->value[slot] = v ? 1 : 0;
  }
  return v;
}

Value Evaluator::Evaluate(const EvalContext& ctx, ExprId expr) {
  arena_.Reset();
  return Run(ctx, expr);
}

Value TermValue(const EvalContext& ctx, const CompareTerm& t) {
  const Value a = OperandValue(ctx, t.a);
  return t.arith == Op::kPop ? a : ArithInline(t.arith, a, OperandValue(ctx, t.b));
}

bool Evaluator::CompareTruth(const EvalContext& ctx, const CompareExpr& c) {
  const Value x = TermValue(ctx, c.x);
  return CompareInline(c.cmp, x, TermValue(ctx, c.y));
}

Value Evaluator::StageValue(const EvalContext& ctx, uint32_t stage) {
  const Program& p = *ctx.program;
  walk_.clear();
  NodeId n = ctx.node;
  while (n != kNoNode) {
    const Node& node = ctx.buffer->node(n);
    if (node.stage == stage) walk_.push_back(node.event);
    n = node.parent;
  }
  if (!p.stages[stage].binds_list) {
    // A stage that binds at most one event denotes it (null if unbound).
    return walk_.empty() ? Value::Null() : Value::Event(walk_.front());
  }
  const StoredEvent** list = arena_.AllocateArray<const StoredEvent*>(walk_.size());
  // The walk goes from the last binding back: reverse into binding order.
  for (size_t k = 0; k < walk_.size(); ++k) list[k] = walk_[walk_.size() - 1 - k];
  Value v;
  v.kind = ValueKind::kEventList;
  v.len = static_cast<uint32_t>(walk_.size());
  v.events = list;
  return v;
}

Value Evaluator::Member(const Value& base, uint32_t slot) {
  switch (base.kind) {
    case ValueKind::kEvent: return base.event->slot(slot);
    case ValueKind::kEventList: {
      Value* out = arena_.AllocateArray<Value>(base.len);
      for (uint32_t k = 0; k < base.len; ++k) out[k] = base.events[k]->slot(slot);
      Value v;
      v.kind = ValueKind::kValueList;
      v.len = base.len;
      v.values = out;
      return v;
    }
    default: return Value::Missing();
  }
}

Value Evaluator::Index(const Value& base, const Value& index) {
  if (index.kind != ValueKind::kInt) return Value::Null();
  auto resolve = [&](uint32_t len, int64_t* k) {
    int64_t i = index.i < 0 ? static_cast<int64_t>(len) + index.i : index.i;
    if (i < 0 || i >= static_cast<int64_t>(len)) return false;
    *k = i;
    return true;
  };
  int64_t k;
  switch (base.kind) {
    case ValueKind::kEventList:
      return resolve(base.len, &k) ? Value::Event(base.events[k]) : Value::Null();
    case ValueKind::kValueList:
      return resolve(base.len, &k) ? base.values[k] : Value::Null();
    case ValueKind::kJson: {
      if (!IsJsonArray(base)) return Value::Null();
      uint32_t n = 0;
      ScanJsonArray(base.as_string(), [&](const Value&) { ++n; return true; });
      if (!resolve(n, &k)) return Value::Null();
      Value out = Value::Null();
      int64_t at = 0;
      ScanJsonArray(base.as_string(), [&](const Value& v) {
        if (at++ == k) {
          out = v;
          return false;
        }
        return true;
      });
      return out;
    }
    default: return Value::Null();
  }
}

namespace {

// Iterates the elements of any list-like value.
template <typename F>
void ForEachElement(const Value& list, F&& f) {
  switch (list.kind) {
    case ValueKind::kEventList:
      for (uint32_t k = 0; k < list.len; ++k) f(Value::Event(list.events[k]));
      break;
    case ValueKind::kValueList:
      for (uint32_t k = 0; k < list.len; ++k) f(list.values[k]);
      break;
    case ValueKind::kJson:
      ScanJsonArray(list.as_string(), [&](const Value& v) {
        f(v);
        return true;
      });
      break;
    default:
      if (!list.is_null()) f(list);  // a single value counts as a list of one
      break;
  }
}

bool IsList(const Value& v) {
  return v.kind == ValueKind::kEventList || v.kind == ValueKind::kValueList || IsJsonArray(v);
}

}  // namespace

Value Evaluator::Call(Builtin fn, const Value* args, uint32_t n) {
  const Value& a = args[0];
  switch (fn) {
    case Builtin::kCount: {
      if (a.is_null()) return Value::Int(0);
      int64_t c = 0;
      ForEachElement(a, [&](const Value&) { ++c; });
      return Value::Int(c);
    }
    case Builtin::kSum:
    case Builtin::kAvg: {
      int64_t isum = 0;
      double dsum = 0;
      bool is_double = false, overflow = false;
      int64_t count = 0;
      ForEachElement(a, [&](const Value& v) {
        if (!v.is_number()) return;
        ++count;
        if (v.kind == ValueKind::kDouble) is_double = true;
        dsum += v.as_double();
        if (v.kind == ValueKind::kInt && __builtin_add_overflow(isum, v.i, &isum)) overflow = true;
      });
      if (fn == Builtin::kAvg) return count == 0 ? Value::Null() : Value::Double(dsum / static_cast<double>(count));
      if (is_double || overflow) return Value::Double(dsum);
      return Value::Int(isum);
    }
    case Builtin::kMin:
    case Builtin::kMax: {
      Value best = Value::Null();
      bool have = false;
      ForEachElement(a, [&](const Value& v) {
        if (v.is_null()) return;
        if (!have) {
          best = v;
          have = true;
          return;
        }
        int c;
        if (Order(v, best, &c) && ((fn == Builtin::kMin && c < 0) || (fn == Builtin::kMax && c > 0))) best = v;
      });
      return best;
    }
    case Builtin::kFirst:
    case Builtin::kLast: {
      if (!IsList(a)) return a.kind == ValueKind::kMissing ? Value::Null() : a;
      Value out = Value::Null();
      bool first = true;
      ForEachElement(a, [&](const Value& v) {
        if (fn == Builtin::kLast || first) out = v;
        first = false;
      });
      return out;
    }
    case Builtin::kLen: {
      if (a.kind == ValueKind::kString) {
        // Length in Unicode code points.
        int64_t len = 0;
        for (uint32_t k = 0; k < a.len; ++k)
          if ((static_cast<unsigned char>(a.str[k]) & 0xC0) != 0x80) ++len;
        return Value::Int(len);
      }
      if (IsList(a)) {
        int64_t c = 0;
        ForEachElement(a, [&](const Value&) { ++c; });
        return Value::Int(c);
      }
      return Value::Null();
    }
    case Builtin::kAbs:
      if (a.kind == ValueKind::kInt) return a.i == INT64_MIN ? Value::Double(-static_cast<double>(a.i)) : Value::Int(a.i < 0 ? -a.i : a.i);
      if (a.kind == ValueKind::kDouble) return Value::Double(std::fabs(a.d));
      return Value::Null();
    case Builtin::kLower:
    case Builtin::kUpper: {
      if (a.kind != ValueKind::kString) return Value::Null();
      char* out = arena_.AllocateArray<char>(a.len);
      for (uint32_t k = 0; k < a.len; ++k) {
        char c = a.str[k];
        if (fn == Builtin::kLower && c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
        if (fn == Builtin::kUpper && c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
        out[k] = c;
      }
      return Value::String(std::string_view(out, a.len));
    }
    case Builtin::kExists:
      return Value::Bool(a.kind != ValueKind::kMissing);
    case Builtin::kCoalesce:
      for (uint32_t k = 0; k < n; ++k)
        if (!args[k].is_null()) return args[k];
      return Value::Null();
    case Builtin::kTime:
      if (a.kind == ValueKind::kEvent) return Value::Int(a.event->ts());
      return Value::Null();
  }
  return Value::Null();
}

Value Evaluator::Run(const EvalContext& ctx, ExprId expr) {
  const Program& p = *ctx.program;
  const ExprInfo& info = p.exprs[expr];
  if (stack_.size() < p.max_stack) stack_.resize(p.max_stack);
  Value* sp = stack_.data();  // next free slot
  const Instr* code = p.code.data();
  uint32_t pc = info.begin;
  while (pc < info.end) {
    const Instr in = code[pc++];
    switch (in.op) {
      case Op::kConst: *sp++ = p.consts[in.arg]; break;
      case Op::kField: *sp++ = ctx.event != nullptr ? ctx.event->slot(in.arg) : Value::Missing(); break;
      case Op::kThis: *sp++ = ctx.event != nullptr ? Value::Event(ctx.event) : Value::Null(); break;
      case Op::kStage: *sp++ = StageValue(ctx, in.arg); break;
      case Op::kMember: sp[-1] = Member(sp[-1], in.arg); break;
      case Op::kStageField: *sp++ = StageFieldValue(ctx, in.arg); break;
      case Op::kIndex: {
        Value idx = *--sp;
        sp[-1] = Index(sp[-1], idx);
        break;
      }
      case Op::kNeg: {
        Value& x = sp[-1];
        if (x.kind == ValueKind::kInt) x = x.i == INT64_MIN ? Value::Double(-static_cast<double>(x.i)) : Value::Int(-x.i);
        else if (x.kind == ValueKind::kDouble) x = Value::Double(-x.d);
        else x = Value::Null();
        break;
      }
      case Op::kNot: sp[-1] = Value::Bool(!Truthy(sp[-1])); break;
      case Op::kIsNull: sp[-1] = Value::Bool(sp[-1].is_null()); break;
      case Op::kIsNotNull: sp[-1] = Value::Bool(!sp[-1].is_null()); break;
      case Op::kToBool: sp[-1] = Value::Bool(Truthy(sp[-1])); break;
      case Op::kAdd:
      case Op::kSub:
      case Op::kMul:
      case Op::kDiv:
      case Op::kMod: {
        Value b = *--sp;
        sp[-1] = Arith(in.op, sp[-1], b);
        break;
      }
      case Op::kEq:
      case Op::kNe:
      case Op::kLt:
      case Op::kLe:
      case Op::kGt:
      case Op::kGe: {
        Value b = *--sp;
        sp[-1] = Value::Bool(CompareInline(in.op, sp[-1], b));
        break;
      }
      case Op::kContains: {
        Value b = *--sp;
        Value& a = sp[-1];
        if (a.kind == ValueKind::kString && b.kind == ValueKind::kString) {
          a = Value::Bool(a.as_string().find(b.as_string()) != std::string_view::npos);
        } else if (IsList(a) && !b.is_null()) {
          bool found = false;
          ForEachElement(a, [&](const Value& v) { found = found || Equal(v, b); });
          a = Value::Bool(found);
        } else {
          a = Value::Bool(false);
        }
        break;
      }
      case Op::kStartsWith:
      case Op::kEndsWith: {
        Value b = *--sp;
        Value& a = sp[-1];
        if (a.kind != ValueKind::kString || b.kind != ValueKind::kString) {
          a = Value::Bool(false);
          break;
        }
        std::string_view s = a.as_string(), t = b.as_string();
        a = Value::Bool(in.op == Op::kStartsWith ? s.starts_with(t) : s.ends_with(t));
        break;
      }
      case Op::kMatches: {
        Value& a = sp[-1];
        if (a.kind != ValueKind::kString) {
          a = Value::Bool(false);
          break;
        }
        // Search semantics, no captures: RE2 runs its DFA and allocates nothing once warm.
        a = Value::Bool(p.regexes[in.arg]->Match(re2::StringPiece(a.str, a.len), 0, a.len,
                                                 re2::RE2::UNANCHORED, nullptr, 0));
        break;
      }
      case Op::kIn:
      case Op::kNotIn: {
        Value list = *--sp;
        Value& a = sp[-1];
        if (a.is_null()) {
          a = Value::Bool(false);
          break;
        }
        bool found = false;
        ForEachElement(list, [&](const Value& v) { found = found || Equal(v, a); });
        a = Value::Bool(in.op == Op::kIn ? found : !found);
        break;
      }
      case Op::kJumpIfFalse:
        if (!Truthy(sp[-1])) pc = in.arg;
        break;
      case Op::kJumpIfTrue:
        if (Truthy(sp[-1])) pc = in.arg;
        break;
      case Op::kPop: --sp; break;
      case Op::kCall: {
        uint32_t nargs = in.arg >> 8;
        Builtin fn = static_cast<Builtin>(in.arg & 0xFF);
        Value* args = sp - nargs;
        Value r = Call(fn, args, nargs);
        sp = args;
        *sp++ = r;
        break;
      }
      case Op::kMakeList: {
        uint32_t n = in.arg;
        Value* out = arena_.AllocateArray<Value>(n);
        std::memcpy(static_cast<void*>(out), sp - n, n * sizeof(Value));
        sp -= n;
        Value v;
        v.kind = ValueKind::kValueList;
        v.len = n;
        v.values = out;
        *sp++ = v;
        break;
      }
    }
  }
  return sp > stack_.data() ? sp[-1] : Value::Null();
}

}  // namespace tern::nfa
