// Row filters: the conjuncts of a condition split into event-only parts and
// comparisons of an event term against one column of the run's row.
//
// IMPLEMENTATION
// A condition whose short-circuit plan (cond_plan.h) holds only operands and
// and_then jumps is the conjunction of its operands, whatever the jump targets.
// Of those, the event-only expressions and the CompareExprs with one side on the
// event and the other on the run's stages make the filter; the rest is left to
// the general path, which the Nfa still runs when the filter passes. A stage-only
// term with arithmetic (`buy.price * 1.002`) is fixed once its stages are bound,
// so it is computed into a derived column when the row is made, with the same
// TermValue the comparison would use: per event and run one comparison remains.
#include "nfa/row_filter.h"

#include <algorithm>

namespace tern::nfa {

namespace {

bool OnEvent(const Operand& o) { return o.kind == OperandKind::kField || o.kind == OperandKind::kConst; }

bool OnStages(const Operand& o, const std::vector<uint32_t>& col) {
  return o.kind == OperandKind::kConst || (o.kind == OperandKind::kStageField && col[o.arg] != kNoId);
}

bool EventTerm(const CompareTerm& t) { return OnEvent(t.a) && (t.arith == Op::kPop || OnEvent(t.b)); }

bool SameOperand(const Operand& a, const Operand& b) { return a.kind == b.kind && a.arg == b.arg; }

// The row column holding term `t`'s value, or kNoId when `t` is not stage-only.
uint32_t StageTermColumn(const CompareTerm& t, const std::vector<uint32_t>& col, uint32_t base_columns,
                         std::vector<CompareTerm>* derived) {
  if (t.arith == Op::kPop) return t.a.kind == OperandKind::kStageField ? col[t.a.arg] : kNoId;
  if (!OnStages(t.a, col) || !OnStages(t.b, col)) return kNoId;
  if (t.a.kind != OperandKind::kStageField && t.b.kind != OperandKind::kStageField) return kNoId;
  auto same = [&](const CompareTerm& d) { return d.arith == t.arith && SameOperand(d.a, t.a) && SameOperand(d.b, t.b); };
  auto it = std::find_if(derived->begin(), derived->end(), same);
  if (it == derived->end()) it = derived->insert(derived->end(), t);
  return base_columns + static_cast<uint32_t>(it - derived->begin());
}

void SetTruth(RowCompare& c) {
  // The truth by the order of the left operand against the right one, then turned
  // to the order of the column against the term.
  uint8_t by_left = 0;
  switch (c.cmp) {
    case Op::kLt: by_left = 0b001; break;
    case Op::kLe: by_left = 0b011; break;
    case Op::kEq: by_left = 0b010; break;
    case Op::kNe: by_left = 0b101; break;
    case Op::kGe: by_left = 0b110; break;
    case Op::kGt: by_left = 0b100; break;
    default: break;
  }
  const uint8_t reversed = static_cast<uint8_t>(((by_left & 1) << 2) | (by_left & 2) | ((by_left >> 2) & 1));
  c.number_truth = c.column_left ? by_left : reversed;
  c.string_truth = c.cmp == Op::kEq ? 0b01 : c.cmp == Op::kNe ? 0b10 : 0;
}

}  // namespace

bool BuildRowFilter(const Program& p, const CondPlans& plans, CondId cond,
                    const std::vector<uint32_t>& stage_value_col, uint32_t base_columns,
                    std::vector<CompareTerm>* derived, RowFilter* out) {
  *out = RowFilter{};
  out->cond = cond;
  out->exact = true;
  const CondRange r = plans.ranges[cond];
  // Derived columns are added only once the condition is known to be a conjunction.
  std::vector<CompareTerm> added = *derived;
  for (uint32_t s = r.begin; s < r.end; ++s) {
    const CondStep& st = plans.steps[s];
    switch (st.op) {
      case CondStepOp::kTrue:
      case CondStepOp::kAndThen: break;
      case CondStepOp::kNot:
      case CondStepOp::kOrElse: return false;
      case CondStepOp::kExpr:
        if (st.arg < p.exprs.size() && !p.exprs[st.arg].uses_stages) {
          out->event_exprs.push_back(st.arg);
        } else {
          out->exact = false;
        }
        break;
      case CondStepOp::kCompare: {
        const CompareExpr& c = plans.compares[st.arg];
        RowCompare rc;
        rc.cmp = c.cmp;
        rc.term = static_cast<uint32_t>(out->event_terms.size());
        if (EventTerm(c.x) && (rc.column = StageTermColumn(c.y, stage_value_col, base_columns, &added)) != kNoId) {
          out->event_terms.push_back(c.x);
        } else if (EventTerm(c.y) &&
                   (rc.column = StageTermColumn(c.x, stage_value_col, base_columns, &added)) != kNoId) {
          rc.column_left = true;
          out->event_terms.push_back(c.y);
        } else {
          out->exact = false;
          break;
        }
        SetTruth(rc);
        out->compares.push_back(rc);
        break;
      }
    }
  }
  if (out->event_exprs.empty() && out->compares.empty()) return false;
  *derived = std::move(added);
  return true;
}

}  // namespace tern::nfa
