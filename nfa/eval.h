// Evaluation of conditions and expressions: a switch-dispatched stack machine
// over nfa::Value. No heap allocation once warm: the stack is sized from the
// program and lists/strings built during evaluation live in a reusable arena.
// Tested by tests/unit/nfa/eval_test.cc.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <vector>

#include "nfa/cond_plan.h"
#include "nfa/event.h"
#include "nfa/program.h"
#include "nfa/shared_buffer.h"
#include "nfa/value.h"

namespace tern::nfa {

// Bump allocator made of fixed blocks that never move; Reset() keeps the blocks.
class ScratchArena {
 public:
  void* Allocate(size_t bytes, size_t align = alignof(std::max_align_t));
  template <typename T>
  T* AllocateArray(size_t n) {
    return static_cast<T*>(Allocate(n * sizeof(T) + (n == 0 ? 1 : 0), alignof(T)));
  }
  void Reset() {
    block_ = 0;
    used_ = 0;
  }

 private:
  static constexpr size_t kBlockSize = 64 * 1024;
  std::vector<std::unique_ptr<std::byte[]>> blocks_;
  std::vector<size_t> sizes_;
  size_t block_ = 0;  // current block
  size_t used_ = 0;   // bytes used in the current block
};

// Per-event memo of the expressions that depend only on the current event: one
// store per engine, shared by all its programs. The engine gives identical
// expressions of different programs the same slot (nfa::ExprIdentity), so a
// condition that a hundred patterns share is evaluated once per event.
struct MemoStore {
  std::vector<uint64_t> epoch;  // event epoch at which value[i] was computed
  std::vector<uint8_t> value;   // 0 false, 1 true
  uint32_t Add() {
    epoch.push_back(0);
    value.push_back(0);
    return static_cast<uint32_t>(epoch.size() - 1);
  }
};

// One program's view of a MemoStore: the slot of each of its expressions.
struct ExprMemo {
  MemoStore* store = nullptr;
  std::vector<uint32_t> slot;  // per ExprId
};

// What a condition or expression sees.
struct EvalContext {
  const Program* program = nullptr;
  const StoredEvent* event = nullptr;    // the current event (`this`); may be null in emit
  const SharedBuffer* buffer = nullptr;  // for stage references
  NodeId node = kNoNode;                 // the partial match: its last binding
  ExprMemo* memo = nullptr;              // may be null
  uint64_t epoch = 0;                    // current event epoch for the memo
  // The partial match's copies of the stage fields its conditions read (the Nfa's
  // per-run cache, KeyState::stage_values): kStageField operand i reads
  // stage_values[stage_value_col[i]] unless that column is kNoId; both null (emit,
  // tests): every kStageField walks the node chain.
  const Value* stage_values = nullptr;
  const uint32_t* stage_value_col = nullptr;
};

// Compare(op, a, b) for two numbers, without the general dispatch. With a double
// involved this is the IEEE comparison, which is what CompareNumbers/Order/Equal
// amount to (NaN: every operator false except !=).
inline bool CompareNumbersOp(Op op, const Value& a, const Value& b) {
  if (a.kind == ValueKind::kInt && b.kind == ValueKind::kInt) {
    switch (op) {
      case Op::kEq: return a.i == b.i;
      case Op::kNe: return a.i != b.i;
      case Op::kLt: return a.i < b.i;
      case Op::kLe: return a.i <= b.i;
      case Op::kGt: return a.i > b.i;
      default: return a.i >= b.i;
    }
  }
  const double x = a.as_double(), y = b.as_double();
  switch (op) {
    case Op::kEq: return x == y;
    case Op::kNe: return x != y;
    case Op::kLt: return x < y;
    case Op::kLe: return x <= y;
    case Op::kGt: return x > y;
    default: return x >= y;
  }
}

// Compare(op, a, b) for the cheap shapes -- two numbers, or two strings under == and
// != -- without the general dispatch; false when the shape is another (then *out is
// untouched and Compare decides).
inline bool FastCompare(Op op, const Value& a, const Value& b, bool* out) {
  if (op == Op::kIn || op == Op::kNotIn) {
    // `a [not] in b`, b a list of constants: null is in nothing (and `not in` is false
    // for it too); strings and numbers compare as Evaluator::Equal does.
    if (a.is_null()) {
      *out = false;
      return true;
    }
    bool found = false;
    if (a.kind == ValueKind::kString) {
      for (uint32_t k = 0; k < b.len && !found; ++k) {
        const Value& v = b.values[k];
        found = v.kind == ValueKind::kString && v.len == a.len && BytesEqual(v.str, a.str, a.len);
      }
    } else if (a.is_number()) {
      for (uint32_t k = 0; k < b.len && !found; ++k) {
        found = b.values[k].is_number() && CompareNumbersOp(Op::kEq, b.values[k], a);
      }
    } else {
      return false;
    }
    *out = op == Op::kIn ? found : !found;
    return true;
  }
  if (a.is_number() && b.is_number()) {
    *out = CompareNumbersOp(op, a, b);
    return true;
  }
  if (a.kind == ValueKind::kString && b.kind == ValueKind::kString && (op == Op::kEq || op == Op::kNe)) {
    const bool eq = a.len == b.len && BytesEqual(a.str, b.str, a.len);
    *out = op == Op::kEq ? eq : !eq;
    return true;
  }
  return false;
}

// Thread: engine thread. Locks: none.
class Evaluator {
 public:
  Evaluator();

  bool Condition(const EvalContext& ctx, CondId cond);
  // The same truth, short-circuited: `plans` is BuildCondPlans(*ctx.program).
  bool Condition(const EvalContext& ctx, const CondPlans& plans, CondId cond);
  // Condition truth of one expression (memoised when it reads only the event).
  bool ExprTruth(const EvalContext& ctx, ExprId expr);
  // The value of an expression. Lists and strings it points to stay valid until
  // the next call.
  Value Evaluate(const EvalContext& ctx, ExprId expr);
  // Condition truth of an expression's value: only Bool(true) is true.
  static bool Truthy(const Value& v) { return v.kind == ValueKind::kBool && v.b; }

  // Equality as the language defines it (numbers by value, null == null).
  static bool Equal(const Value& a, const Value& b);
  // The comparison operators (== != < <= > >=) as the language defines them.
  static bool Compare(Op op, const Value& a, const Value& b);

 private:
  Value Run(const EvalContext& ctx, ExprId expr);
  Value StageValue(const EvalContext& ctx, uint32_t stage);
  // The truth of an expression of CompareExpr shape, as Run computes it.
  bool CompareTruth(const EvalContext& ctx, const CompareExpr& c);
  Value Member(const Value& base, uint32_t slot);
  Value Index(const Value& base, const Value& index);
  Value Call(Builtin fn, const Value* args, uint32_t n);

  std::vector<Value> stack_;
  std::vector<uint8_t> cond_stack_;
  std::vector<const StoredEvent*> walk_;  // stage walk scratch (copied into the arena)
  ScratchArena arena_;
};

// Evaluator::Compare with the common shapes inline: numbers that are not NaN (the
// general path treats NaN specially) and strings under == / !=.
inline bool CompareInline(Op op, const Value& a, const Value& b) {
  if (a.is_number() && b.is_number() && !(a.kind == ValueKind::kDouble && std::isnan(a.d)) &&
      !(b.kind == ValueKind::kDouble && std::isnan(b.d))) {
    return CompareNumbersOp(op, a, b);
  }
  bool out;
  if (a.kind == ValueKind::kString && b.kind == ValueKind::kString && FastCompare(op, a, b, &out)) return out;
  return Evaluator::Compare(op, a, b);
}

// The value of a CompareExpr term (an operand, or `operand <arith> operand`), as the
// stack machine computes it.
Value TermValue(const EvalContext& ctx, const CompareTerm& t);

}  // namespace tern::nfa
