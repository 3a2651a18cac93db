// Conditions rearranged for short-circuit evaluation: the postfix condition code
// of a Program (CondInstr) becomes jumping code over one boolean accumulator, with
// the operands of each `and` / `or` in the order expected to decide it soonest.
// Built once per program by the Nfa; evaluated by Evaluator::Condition.
// Tested by tests/unit/nfa/cond_plan_test.cc.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "nfa/program.h"

namespace tern::nfa {

enum class CondStepOp : uint8_t {
  kTrue,     // acc = true
  kExpr,     // acc = truth of expression `arg`
  kCompare,  // acc = truth of CondPlans::compares[arg] (an expression of that shape)
  kNot,      // acc = !acc
  kAndThen,  // if !acc, jump to `arg` (acc is the `and`'s value); else go on to the right operand
  kOrElse,   // if acc, jump to `arg` (acc is the `or`'s value); else go on to the right operand
};

struct CondStep {
  CondStepOp op;
  uint32_t arg;  // ExprId for kExpr, index for kCompare, absolute step index for the jumps
};

// An expression that reads the partial match and has the shape `x <cmp> y`, where x
// and y are each a term: an operand, or `operand <arith> operand`, an operand being
// a field of the event, a constant or a field of a single stage (kField, kConst,
// kStageField). Evaluated without the stack machine (Evaluator::CompareTruth), with
// the same arithmetic and comparison rules.
enum class OperandKind : uint8_t { kField, kConst, kStageField };
struct Operand {
  OperandKind kind = OperandKind::kConst;
  uint32_t arg = 0;  // the instruction's operand
};
struct CompareTerm {
  Operand a;
  Operand b;           // only with arith
  Op arith = Op::kPop;  // kAdd..kMod, or kPop: the term is `a`
};
struct CompareExpr {
  CompareTerm x;
  CompareTerm y;
  Op cmp = Op::kEq;  // kEq..kGe
};

// Thread: any (immutable once built). Owned by the Nfa of the program.
struct CondPlans {
  std::vector<CondRange> ranges;  // per CondId, into steps
  std::vector<CondStep> steps;
  std::vector<CompareExpr> compares;
};

// The CompareExpr form of an expression, when it has that shape and reads the
// partial match (expressions on the event alone go through the memo instead).
bool MatchCompare(const Program& p, ExprId expr, CompareExpr* out);

// Conditions have no side effects and their and/or combine plain booleans (an
// expression's truth: only Bool(true) is true, so null rules never reach this
// level), which is what makes skipping and reordering operands exact. An operand
// is placed first when its estimated cost divided by its chance of deciding the
// connective is smaller (the classic ordering of independent filters): event-only
// expressions are memoised per event and cost little; an expression that reads the
// partial match costs more; `a != b` is assumed mostly true, `a == b` mostly false,
// an ordering comparison true a third of the time (System R's defaults).
CondPlans BuildCondPlans(const Program& p);

// One plan per line, e.g. "c1: expr 3; and_then 4; expr 2" (for tests).
std::string DumpCondPlans(const CondPlans& plans);

}  // namespace tern::nfa
