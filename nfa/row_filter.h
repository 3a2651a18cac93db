// Tests on a run's stage value row (KeyState::stage_values) that let Nfa::Step pass
// over the runs an event cannot change without stepping them: a necessary condition
// of a TAKE, split into what is computed once per event and one comparison per run.
// Built once per program by the Nfa.
// Tested by tests/unit/nfa/row_filter_test.cc.
#pragma once

#include <cmath>
#include <cstdint>
#include <vector>

#include "nfa/cond_plan.h"
#include "nfa/eval.h"
#include "nfa/program.h"

namespace tern::nfa {

// `event term <cmp> row column` (or the other way round): one side reads only the
// event and constants, the other is a stage field the run has a column for, or a
// stage-only term kept in a derived column.
struct RowCompare {
  Op cmp = Op::kEq;          // kEq..kGe
  bool column_left = false;  // the column is the comparison's left operand
  uint32_t column = 0;       // into a stage value row
  uint32_t term = 0;         // into RowFilter::event_terms
  // For RowTest: the truth by the order of the column against a number term (bit 0
  // less, 1 equal, 2 greater), and for a string term bit 0 equal, bit 1 not (0 unless
  // `cmp` is == or !=).
  uint8_t number_truth = 0;
  uint8_t string_truth = 0;
};

// A conjunction of tests, all implied by one condition (whose top level is an `and`
// of them and possibly of other operands): when one of them is false, so is the
// condition. Thread: any (immutable once built). Owned by the Nfa of the program.
struct RowFilter {
  CondId cond = 0;
  std::vector<ExprId> event_exprs;       // operands that read only the event
  std::vector<CompareTerm> event_terms;  // per compare: its event side (kField / kConst operands)
  std::vector<RowCompare> compares;      // in the plan's order (likeliest to fail first)
  bool exact = false;                    // every operand is above: the filter is the condition
};

// One RowCompare with its event side known (prepared once per event): the comparison
// of a row's column against it, as CompareInline decides it, with the usual shapes
// -- numbers that are not NaN, strings under == / != -- reduced to a few machine
// instructions.
struct RowTest {
  enum class Mode : uint8_t { kNumber, kString, kGeneral };
  Mode mode = Mode::kGeneral;
  // kNumber: bit o is the truth when the column is less (0), equal (1) or greater
  // (2) than the term. kString: bit 0 is the truth when they are equal, bit 1 when not.
  uint8_t truth = 0;
  bool term_int = false;  // kNumber: the term is an integer (else a double, not NaN)
  Op cmp = Op::kEq;
  bool column_left = false;
  uint32_t column = 0;
  Value term;
};

inline RowTest PrepareRowTest(const RowCompare& c, const Value& term) {
  RowTest t;
  t.cmp = c.cmp;
  t.column_left = c.column_left;
  t.column = c.column;
  t.term = term;
  if (term.kind == ValueKind::kInt || (term.kind == ValueKind::kDouble && !std::isnan(term.d))) {
    t.mode = RowTest::Mode::kNumber;
    t.truth = c.number_truth;
    t.term_int = term.kind == ValueKind::kInt;
  } else if (term.kind == ValueKind::kString && c.string_truth != 0) {
    t.mode = RowTest::Mode::kString;
    t.truth = c.string_truth;
  }
  return t;
}

// CompareInline(cmp, column, term), or with the operands the other way round.
inline bool RowTestPasses(const RowTest& t, const Value& v) {
  unsigned bit = 3;  // the bit of `truth` that decides; 3: decided by CompareInline
  if (t.mode == RowTest::Mode::kNumber) {
    if (v.kind == ValueKind::kDouble) {
      const double y = t.term_int ? static_cast<double>(t.term.i) : t.term.d;
      bit = v.d < y ? 0 : v.d > y ? 2 : v.d == y ? 1 : 3;  // NaN: 3
    } else if (v.kind == ValueKind::kInt) {
      if (t.term_int) {
        bit = v.i < t.term.i ? 0 : v.i == t.term.i ? 1 : 2;
      } else {
        const double x = static_cast<double>(v.i);
        bit = x < t.term.d ? 0 : x == t.term.d ? 1 : 2;
      }
    }
  } else if (t.mode == RowTest::Mode::kString && v.kind == ValueKind::kString) {
    bit = v.len == t.term.len && BytesEqual(v.str, t.term.str, v.len) ? 0 : 1;
  }
  if (bit != 3) return (t.truth >> bit) & 1u;
  return t.column_left ? CompareInline(t.cmp, v, t.term) : CompareInline(t.cmp, t.term, v);
}

// The filter of condition `cond`, when its plan is a conjunction (only operands and
// `and`) with at least one operand of the shapes above. `stage_value_col` maps
// kStageField operands to row columns (kNoId: none); `base_columns` is their count.
// A stage-only term `a <arith> b` gets a derived column, base_columns + its index in
// `derived` (added when new): its value for the row, computed when the row is made.
bool BuildRowFilter(const Program& p, const CondPlans& plans, CondId cond,
                    const std::vector<uint32_t>& stage_value_col, uint32_t base_columns,
                    std::vector<CompareTerm>* derived, RowFilter* out);

}  // namespace tern::nfa
