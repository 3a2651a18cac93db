// Evaluation of conditions and expressions: a switch-dispatched stack machine
// over nfa::Value. No heap allocation once warm: the stack is sized from the
// program and lists/strings built during evaluation live in a reusable arena.
// Tested by tests/unit/nfa/eval_test.cc.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

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

// Per-event memo of the expressions that depend only on the current event.
// Owned by the engine, one per program.
struct ExprMemo {
  std::vector<uint64_t> epoch;  // event epoch at which value[i] was computed
  std::vector<uint8_t> value;   // 0 false, 1 true
  void Resize(size_t n) {
    epoch.assign(n, 0);
    value.assign(n, 0);
  }
};

// What a condition or expression sees.
struct EvalContext {
  const Program* program = nullptr;
  const StoredEvent* event = nullptr;    // the current event (`this`); may be null in emit
  const SharedBuffer* buffer = nullptr;  // for stage references
  NodeId node = kNoNode;                 // the partial match: its last binding
  ExprMemo* memo = nullptr;              // may be null
  uint64_t epoch = 0;                    // current event epoch for the memo
};

// Thread: engine thread. Locks: none.
class Evaluator {
 public:
  Evaluator();

  bool Condition(const EvalContext& ctx, CondId cond);
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
  bool ExprTruth(const EvalContext& ctx, ExprId expr);
  Value StageValue(const EvalContext& ctx, uint32_t stage);
  Value Member(const Value& base, uint32_t slot);
  Value Index(const Value& base, const Value& index);
  Value Call(Builtin fn, const Value* args, uint32_t n);

  std::vector<Value> stack_;
  std::vector<uint8_t> cond_stack_;
  std::vector<const StoredEvent*> walk_;  // stage walk scratch (copied into the arena)
  ScratchArena arena_;
};

}  // namespace tern::nfa
