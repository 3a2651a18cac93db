// Postfix condition code to short-circuit jumping code.
//
// IMPLEMENTATION
// Each condition's postfix code is parsed into a tree (explicit stack), every
// node gets an estimated evaluation cost and probability of being true, and the
// tree is emitted depth first (explicit stack again) as jumping code over one
// accumulator: `a and b` becomes [a, and_then END, b] and `a or b` becomes
// [a, or_else END, b] -- the connective's value is whatever the last operand
// evaluated left in the accumulator, so no value stack is needed. For `a and b`
// the operand order with the smaller expected cost c1 + P(continue) * c2 goes
// first (for independent filters that is ordering by cost / P(decides)).
#include "nfa/cond_plan.h"

#include <algorithm>

namespace tern::nfa {

namespace {

struct TreeNode {
  CondOp op;
  uint32_t arg;    // ExprId for kExpr
  int32_t a = -1;  // operands (kNot: a only)
  int32_t b = -1;
  bool swap = false;  // evaluate b before a
  double cost = 0;    // expected cost of evaluating the subtree
  double p_true = 0;  // estimated probability that it is true
};

// Probability that an expression is true, from the operator that produces its value.
double ExprProbability(const Program& p, const ExprInfo& info) {
  Op top = info.simple_op;
  if (top == Op::kPop && info.end > info.begin) top = p.code[info.end - 1].op;
  switch (top) {
    case Op::kEq:
    case Op::kIsNull:
    case Op::kIn: return 0.1;
    case Op::kNe:
    case Op::kIsNotNull:
    case Op::kNotIn: return 0.9;
    case Op::kLt:
    case Op::kLe:
    case Op::kGt:
    case Op::kGe: return 1.0 / 3.0;
    default: return 0.5;
  }
}

double ExprCost(const ExprInfo& info) {
  // Event-only expressions cost one memo lookup (or one comparison) per event.
  if (!info.uses_stages) return 1;
  return 8 + 0.5 * static_cast<double>(info.end - info.begin);
}

// Builds the tree of one condition; returns the root, or -1 when the code is not
// a well-formed postfix expression (never produced by the compiler).
int32_t Parse(const Program& p, CondRange r, std::vector<TreeNode>& nodes) {
  std::vector<int32_t> stack;
  for (uint32_t pc = r.begin; pc < r.end; ++pc) {
    const CondInstr& ci = p.cond_code[pc];
    TreeNode n{ci.op, ci.arg};
    switch (ci.op) {
      case CondOp::kTrue:
        n.cost = 0;
        n.p_true = 1;
        break;
      case CondOp::kExpr: {
        if (ci.arg >= p.exprs.size()) return -1;
        const ExprInfo& info = p.exprs[ci.arg];
        n.cost = ExprCost(info);
        n.p_true = ExprProbability(p, info);
        break;
      }
      case CondOp::kNot: {
        if (stack.empty()) return -1;
        n.a = stack.back();
        stack.pop_back();
        n.cost = nodes[n.a].cost;
        n.p_true = 1 - nodes[n.a].p_true;
        break;
      }
      case CondOp::kAnd:
      case CondOp::kOr: {
        if (stack.size() < 2) return -1;
        n.b = stack.back();
        stack.pop_back();
        n.a = stack.back();
        stack.pop_back();
        const TreeNode& x = nodes[n.a];
        const TreeNode& y = nodes[n.b];
        const bool is_and = ci.op == CondOp::kAnd;
        // P(the second operand must be evaluated) after each first operand.
        const double go_on_x = is_and ? x.p_true : 1 - x.p_true;
        const double go_on_y = is_and ? y.p_true : 1 - y.p_true;
        const double x_first = x.cost + go_on_x * y.cost;
        const double y_first = y.cost + go_on_y * x.cost;
        n.swap = y_first < x_first;
        n.cost = std::min(x_first, y_first);
        n.p_true = is_and ? x.p_true * y.p_true : 1 - (1 - x.p_true) * (1 - y.p_true);
        break;
      }
    }
    nodes.push_back(n);
    stack.push_back(static_cast<int32_t>(nodes.size() - 1));
  }
  return stack.size() == 1 ? stack.back() : -1;
}

void Emit(const std::vector<TreeNode>& nodes, int32_t root, std::vector<CondStep>& out) {
  struct Frame {
    int32_t node;
    uint8_t phase;  // 0: not started; 1: first operand emitted; 2: second operand emitted
    size_t jump;    // index of the and_then / or_else step to patch
  };
  std::vector<Frame> stack{{root, 0, 0}};
  while (!stack.empty()) {
    Frame& f = stack.back();
    const TreeNode& n = nodes[f.node];
    switch (n.op) {
      case CondOp::kTrue:
      case CondOp::kExpr:
        out.push_back({n.op == CondOp::kTrue ? CondStepOp::kTrue : CondStepOp::kExpr, n.arg});
        stack.pop_back();
        break;
      case CondOp::kNot:
        if (f.phase == 0) {
          f.phase = 1;
          stack.push_back({n.a, 0, 0});
        } else {
          out.push_back({CondStepOp::kNot, 0});
          stack.pop_back();
        }
        break;
      case CondOp::kAnd:
      case CondOp::kOr: {
        const int32_t first = n.swap ? n.b : n.a;
        const int32_t second = n.swap ? n.a : n.b;
        if (f.phase == 0) {
          f.phase = 1;
          stack.push_back({first, 0, 0});
        } else if (f.phase == 1) {
          f.phase = 2;
          f.jump = out.size();
          out.push_back({n.op == CondOp::kAnd ? CondStepOp::kAndThen : CondStepOp::kOrElse, 0});
          stack.push_back({second, 0, 0});
        } else {
          out[f.jump].arg = static_cast<uint32_t>(out.size());
          stack.pop_back();
        }
        break;
      }
    }
  }
}

bool IsArith(Op op) {
  return op == Op::kAdd || op == Op::kSub || op == Op::kMul || op == Op::kDiv || op == Op::kMod;
}

bool IsComparison(Op op) {
  return op == Op::kEq || op == Op::kNe || op == Op::kLt || op == Op::kLe || op == Op::kGt || op == Op::kGe;
}

}  // namespace

bool MatchCompare(const Program& p, ExprId expr, CompareExpr* out) {
  if (expr >= p.exprs.size()) return false;
  const ExprInfo& info = p.exprs[expr];
  if (!info.uses_stages || info.end - info.begin < 3 || info.end - info.begin > 7) return false;
  // Simulates the stack: each entry is a term; an arithmetic op combines two plain operands.
  CompareTerm terms[4];
  int depth = 0;
  for (uint32_t pc = info.begin; pc < info.end; ++pc) {
    const Instr in = p.code[pc];
    const bool last = pc + 1 == info.end;
    switch (in.op) {
      case Op::kField:
      case Op::kConst:
      case Op::kStageField: {
        if (last || depth == 4) return false;
        if (in.op == Op::kConst && in.arg >= p.consts.size()) return false;
        if (in.op == Op::kStageField && in.arg >= p.stage_fields.size()) return false;
        CompareTerm t;
        t.a.kind = in.op == Op::kField ? OperandKind::kField
                   : in.op == Op::kConst ? OperandKind::kConst
                                         : OperandKind::kStageField;
        t.a.arg = in.arg;
        terms[depth++] = t;
        break;
      }
      default:
        if (IsArith(in.op) && !last) {
          if (depth < 2 || terms[depth - 1].arith != Op::kPop || terms[depth - 2].arith != Op::kPop) return false;
          CompareTerm& t = terms[depth - 2];
          t.b = terms[depth - 1].a;
          t.arith = in.op;
          --depth;
          break;
        }
        if (IsComparison(in.op) && last && depth == 2) {
          out->x = terms[0];
          out->y = terms[1];
          out->cmp = in.op;
          return true;
        }
        return false;
    }
  }
  return false;
}

CondPlans BuildCondPlans(const Program& p) {
  CondPlans plans;
  plans.ranges.reserve(p.conds.size());
  std::vector<TreeNode> nodes;
  for (const CondRange r : p.conds) {
    CondRange out;
    out.begin = static_cast<uint32_t>(plans.steps.size());
    nodes.clear();
    const int32_t root = Parse(p, r, nodes);
    if (root >= 0) {
      Emit(nodes, root, plans.steps);
      for (uint32_t s = out.begin; s < plans.steps.size(); ++s) {
        CondStep& step = plans.steps[s];
        CompareExpr c;
        if (step.op != CondStepOp::kExpr || !MatchCompare(p, step.arg, &c)) continue;
        step.op = CondStepOp::kCompare;
        step.arg = static_cast<uint32_t>(plans.compares.size());
        plans.compares.push_back(c);
      }
    } else {
      // Malformed code is false, as the postfix evaluator reads an empty stack.
      plans.steps.push_back({CondStepOp::kTrue, 0});
      plans.steps.push_back({CondStepOp::kNot, 0});
    }
    out.end = static_cast<uint32_t>(plans.steps.size());
    plans.ranges.push_back(out);
  }
  return plans;
}

std::string DumpCondPlans(const CondPlans& plans) {
  std::string out;
  for (size_t c = 0; c < plans.ranges.size(); ++c) {
    out += "c" + std::to_string(c) + ":";
    const CondRange r = plans.ranges[c];
    for (uint32_t s = r.begin; s < r.end; ++s) {
      const CondStep& st = plans.steps[s];
      out += s == r.begin ? " " : "; ";
      switch (st.op) {
        case CondStepOp::kTrue: out += "true"; break;
        case CondStepOp::kExpr: out += "expr " + std::to_string(st.arg); break;
        case CondStepOp::kCompare: out += "compare " + std::to_string(st.arg); break;
        case CondStepOp::kNot: out += "not"; break;
        case CondStepOp::kAndThen: out += "and_then " + std::to_string(st.arg - r.begin); break;
        case CondStepOp::kOrElse: out += "or_else " + std::to_string(st.arg - r.begin); break;
      }
    }
    out += "\n";
  }
  return out;
}

}  // namespace tern::nfa
