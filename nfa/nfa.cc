// Stepping the NFA of one program over one key's partial matches.
//
// IMPLEMENTATION
// A port of Flink CEP's NFA (org.apache.flink.cep.nfa.NFA: process,
// computeNextStates, createDecisionGraph, findFinalStateAfterProceed,
// advanceTime, processMatchesAccordingToSkipStrategy), itself an
// implementation of SASE+ (Agrawal, Diao, Gyllstrom, Immerman, "Efficient
// pattern matching over event streams", SIGMOD 2008).
//
// For each run (partial match) and the implicit start run, the decision graph
// is built by following PROCEED (epsilon) edges whose conditions hold for the
// event; the TAKE and IGNORE edges reached are then applied: IGNORE keeps the
// run's bindings in a new state, TAKE appends a node binding the event to the
// source state's stage. A TAKE whose target can PROCEED to the final state also
// yields a completed match. Reaching a STOP state (a `not_*` stage saw its
// event) discards everything the run produced for this event except completed
// matches. Conditions are evaluated against the run's bindings *before* the
// event (Flink's ConditionContext), so a stage's own condition sees its earlier
// events, not the current one.
//
// Partial matches are chains of nodes in the SharedBuffer. Flink keeps one node
// per (event, state) and tells partial matches apart with Dewey-number edge
// versions; here every extension is its own node, so a node id *is* a version
// and extraction is a plain walk to the root. Prefixes are still shared:
// branches reference the same parent nodes.
//
// With a skip strategy a completed match is emitted only when no partial match
// that started earlier is alive (it could still complete and prune it), exactly
// as Flink does; runs are kept oldest first so ties resolve deterministically.
#include "nfa/nfa.h"

#include <algorithm>
#include <climits>

namespace tern::nfa {

namespace {

// a + b, saturating: event times are user input and may be extreme.
int64_t SatAdd(int64_t a, int64_t b) {
  int64_t r;
  if (__builtin_add_overflow(a, b, &r)) return b > 0 ? INT64_MAX : INT64_MIN;
  return r;
}

// Whether a window opened at `from` for `length` ms (> 0) has closed at watermark
// `time`: from + length <= time, exactly. The sum may lie past INT64_MAX (such a
// window never closes at an event time); time - from fits in a uint64 once time > from.
bool WindowClosed(int64_t from, int64_t length, int64_t time) {
  return time > from &&
         static_cast<uint64_t>(time) - static_cast<uint64_t>(from) >= static_cast<uint64_t>(length);
}

// The last watermark at which that window is open: from + length - 1, saturating at
// INT64_MAX, which then means "open at every event time" (WindowClosed agrees:
// LastOpen < time exactly when the window has closed at time).
int64_t WindowLastOpen(int64_t from, int64_t length) { return SatAdd(from, length - 1); }

}  // namespace

Nfa::Nfa(const Program* program, SharedBuffer* buffer, Evaluator* evaluator, ExprMemo* memo)
    : program_(program),
      buffer_(buffer),
      evaluator_(evaluator),
      memo_(memo),
      cond_plans_(BuildCondPlans(*program)) {
  size_t n = program->states.size();
  edges_.reserve(program->edges.size());
  stack_.reserve(n * 2);
  produced_.reserve(program->edges.size() * 2);
  next_runs_.reserve(16);
  potential_.reserve(16);
  for (StateId s = 0; s < n; ++s) {
    StateType t = program->states[s].type;
    if ((t == StateType::kNormal || t == StateType::kPending) && s != program->start) wait_states_.push_back(s);
  }
  // The start state first: its leaves are then the first ones of noop_, in the same
  // order, and StartIsNoop reuses IsNoop's leaf mask of the same event.
  std::vector<StateId> roots = {program->start};
  roots.insert(roots.end(), wait_states_.begin(), wait_states_.end());
  BuildPlan(noop_, roots);
  BuildPlan(start_, {program->start});
  start_in_noop_ = !noop_.never && !start_.never;
  for (size_t i = 0; i < start_.leaves.size() && start_in_noop_; ++i) {
    start_in_noop_ = noop_.leaf_bit[start_.leaves[i].expr] == i;
  }
  BuildStepPlan();
}

void Nfa::BuildStepPlan() {
  const Program& p = *program_;
  // Stage value columns: every distinct (stage, slot) a condition reads with kStageField.
  stage_value_col_.assign(p.stage_fields.size(), kNoId);
  std::vector<StageField> columns;
  std::vector<uint8_t> is_cond_expr(p.exprs.size(), 0);
  for (const CondInstr& ci : p.cond_code) {
    if (ci.op == CondOp::kExpr && ci.arg < p.exprs.size()) is_cond_expr[ci.arg] = 1;
  }
  for (ExprId e = 0; e < p.exprs.size(); ++e) {
    if (!is_cond_expr[e]) continue;
    for (uint32_t pc = p.exprs[e].begin; pc < p.exprs[e].end; ++pc) {
      const Instr in = p.code[pc];
      if (in.op != Op::kStageField || in.arg >= p.stage_fields.size()) continue;
      const StageField f = p.stage_fields[in.arg];
      if (f.stage >= p.stages.size()) continue;  // left to the chain walk
      uint32_t c = 0;
      while (c < columns.size() && (columns[c].stage != f.stage || columns[c].slot != f.slot)) ++c;
      if (c == columns.size()) columns.push_back(f);
      stage_value_col_[in.arg] = c;
    }
  }
  base_columns_ = static_cast<uint32_t>(columns.size());
  column_slot_.clear();
  for (const StageField& f : columns) column_slot_.push_back(f.slot);
  stage_cols_begin_.assign(p.stages.size() + 1, 0);
  stage_cols_.clear();
  for (uint32_t s = 0; s < p.stages.size(); ++s) {
    stage_cols_begin_[s] = static_cast<uint32_t>(stage_cols_.size());
    for (uint32_t c = 0; c < columns.size(); ++c) {
      if (columns[c].stage == s) stage_cols_.push_back(c);
    }
  }
  stage_cols_begin_[p.stages.size()] = static_cast<uint32_t>(stage_cols_.size());

  has_state_windows_ = false;
  for (const State& st : p.states) has_state_windows_ = has_state_windows_ || st.window_ms > 0;

  // Step shapes.
  shapes_.assign(p.states.size(), StepShape{});
  for (StateId s = 0; s < p.states.size(); ++s) {
    const State& st = p.states[s];
    StepShape& shape = shapes_[s];
    uint32_t takes = 0, ignores = 0;
    for (uint32_t e = st.first_edge; e < st.first_edge + st.num_edges; ++e) {
      const Edge& edge = p.edges[e];
      if (edge.action == Action::kProceed) shape.has_proceed = true;
      if (edge.action == Action::kTake) {
        ++takes;
        shape.take_edge = e;
      }
      if (edge.action == Action::kIgnore && edge.target == s) {
        ++ignores;
        shape.ignore_edge = e;
      }
    }
    shape.take_or_stay = !shape.has_proceed && st.num_edges == 2 && takes == 1 && ignores == 1;
    if (!shape.take_or_stay) continue;
    const CondRange take = p.conds[p.edges[shape.take_edge].cond];
    const CondRange ignore = p.conds[p.edges[shape.ignore_edge].cond];
    const CondInstr* code = p.cond_code.data();
    if (ignore.end - ignore.begin == 1 && code[ignore.begin].op == CondOp::kTrue) {
      shape.ignore_kind = kIgnoreTrue;  // followed_by_any
    } else if (ignore.end - ignore.begin == take.end - take.begin + 1 && code[ignore.end - 1].op == CondOp::kNot &&
               std::equal(code + take.begin, code + take.end, code + ignore.begin,
                          [](const CondInstr& a, const CondInstr& b) { return a.op == b.op && a.arg == b.arg; })) {
      shape.ignore_kind = kIgnoreNotTake;  // followed_by: ignore what the TAKE does not take
    } else {
      shape.ignore_kind = kIgnoreCond;
    }
  }

  // Row filters, for the states where a run the TAKE does not fire for stays as it is.
  state_filter_.assign(p.states.size(), kNoId);
  derived_.clear();
  filters_.clear();
  for (StateId s = 0; s < p.states.size(); ++s) {
    const StepShape& shape = shapes_[s];
    if (s == p.start || !shape.take_or_stay || shape.ignore_kind == kIgnoreCond) continue;
    RowFilter f;
    if (!BuildRowFilter(p, cond_plans_, p.edges[shape.take_edge].cond, stage_value_col_, base_columns_, &derived_, &f)) {
      continue;
    }
    state_filter_[s] = static_cast<uint32_t>(filters_.size());
    filters_.push_back(std::move(f));
  }
  filter_state_.assign(filters_.size(), FilterEventState{});
  uint32_t tests = 0;
  for (size_t f = 0; f < filters_.size(); ++f) {
    filter_state_[f].tests_begin = tests;
    tests += static_cast<uint32_t>(filters_[f].compares.size());
  }
  filter_tests_.assign(tests, RowTest{});
  use_filters_ = !filters_.empty();

  stride_ = base_columns_ + static_cast<uint32_t>(derived_.size());
  missing_row_.assign(stride_, Value::Missing());
  if (stride_ != 0) ComputeDerived(missing_row_.data());
  seen_cols_.reserve(stride_);
  next_values_.reserve(16 * static_cast<size_t>(stride_));
}

void Nfa::ComputeDerived(Value* row) const {
  EvalContext ctx;
  ctx.program = program_;
  ctx.stage_values = row;
  ctx.stage_value_col = stage_value_col_.data();
  for (size_t d = 0; d < derived_.size(); ++d) row[base_columns_ + d] = TermValue(ctx, derived_[d]);
}

void Nfa::PrepareFilter(uint32_t f, const StoredEvent* event, uint64_t epoch) {
  const RowFilter& filter = filters_[f];
  FilterEventState& fs = filter_state_[f];
  fs.step = step_count_;
  const EvalContext ctx = EventContext(event, epoch);
  fs.none = false;
  for (ExprId e : filter.event_exprs) {
    if (!evaluator_->ExprTruth(ctx, e)) {
      fs.none = true;
      return;
    }
  }
  for (size_t c = 0; c < filter.compares.size(); ++c) {
    const RowCompare& rc = filter.compares[c];
    const CompareTerm& term = filter.event_terms[rc.term];
    const bool field = term.arith == Op::kPop && term.a.kind == OperandKind::kField;
    filter_tests_[fs.tests_begin + c] = PrepareRowTest(rc, field ? event->slot(term.a.arg) : TermValue(ctx, term));
  }
}

size_t Nfa::SkipFiltered(const KeyState& key, size_t k, StateId state, uint32_t f, const StoredEvent* event,
                         uint64_t epoch) {
  if (filter_state_[f].step != step_count_) PrepareFilter(f, event, epoch);
  const FilterEventState& fs = filter_state_[f];
  const size_t n = key.runs.size();
  const Run* runs = key.runs.data();
  if (fs.none) {
    while (k < n && runs[k].state == state) ++k;
    return k;
  }
  if (filters_[f].compares.empty()) return k;  // the event-only part holds: every run may take
  const RowTest* tests = filter_tests_.data() + fs.tests_begin;
  const RowTest* tests_end = tests + filters_[f].compares.size();
  const RowTest first = tests[0];
  const size_t stride = stride_;
  const Value* row = key.stage_values.data() + k * stride;
  for (; k < n && runs[k].state == state; ++k, row += stride) {
    // The first test (the likeliest to fail) inline; the run passes when all hold.
    if (!RowTestPasses(first, row[first.column])) continue;
    const RowTest* t = tests + 1;
    while (t != tests_end && RowTestPasses(*t, row[t->column])) ++t;
    if (t == tests_end) return k;
  }
  return k;
}

void Nfa::AppendRow(const Value* row, uint32_t stage, const StoredEvent* event) {
  if (stride_ == 0) return;
  const size_t at = next_values_.size();
  for (uint32_t c = 0; c < stride_; ++c) next_values_.push_back(row[c]);  // a few: cheaper than insert
  Value* out = next_values_.data() + at;
  if (stage >= stage_cols_begin_.size() - 1) return;  // not bound (kNoId)
  for (uint32_t k = stage_cols_begin_[stage]; k < stage_cols_begin_[stage + 1]; ++k) {
    const uint32_t c = stage_cols_[k];
    out[c] = event->slot(column_slot_[c]);
  }
  if (!derived_.empty()) ComputeDerived(out);
}

void Nfa::RebuildStageValues(KeyState& key) {
  // A restored (or otherwise copied) state: derive each run's row from its bindings,
  // the latest binding of a stage winning, as the chain walk of kStageField reads it.
  key.stage_values.assign(key.runs.size() * stride_, Value::Missing());
  for (size_t k = 0; k < key.runs.size(); ++k) {
    Value* row = key.stage_values.data() + k * stride_;
    seen_cols_.assign(stride_, 0);
    for (NodeId n = key.runs[k].node; n != kNoNode;) {
      const Node& node = buffer_->node(n);
      if (node.stage + 1u < stage_cols_begin_.size()) {
        for (uint32_t i = stage_cols_begin_[node.stage]; i < stage_cols_begin_[node.stage + 1]; ++i) {
          const uint32_t c = stage_cols_[i];
          if (seen_cols_[c]) continue;
          seen_cols_[c] = 1;
          row[c] = node.event->slot(column_slot_[c]);
        }
      }
      n = node.parent;
    }
    ComputeDerived(row);
  }
}

namespace {

// Three-valued (Kleene) truth for IsNoop: an expression that reads the partial match
// is unknown; `false and unknown` is still false.
constexpr uint8_t kFalse3 = 0, kTrue3 = 1, kUnknown3 = 2;
constexpr uint8_t kNoopUnknown = 0xFF;

}  // namespace

void Nfa::BuildPlan(NoopPlan& plan, const std::vector<StateId>& roots) {
  const Program& p = *program_;
  plan.leaf_bit.assign(p.exprs.size(), kNoLeaf);
  size_t max_depth = 1;
  for (StateId root : roots) {
    Walk(root, [&](StateId, const Edge& edge) {
      const CondRange r = p.conds[edge.cond];
      max_depth = std::max<size_t>(max_depth, r.end - r.begin);
      for (uint32_t pc = r.begin; pc < r.end; ++pc) {
        const CondInstr& ci = p.cond_code[pc];
        if (ci.op != CondOp::kExpr || p.exprs[ci.arg].uses_stages || plan.leaf_bit[ci.arg] != kNoLeaf) continue;
        plan.leaf_bit[ci.arg] = static_cast<uint32_t>(plan.leaves.size());
        const ExprInfo& info = p.exprs[ci.arg];
        NoopLeaf leaf{ci.arg, info.simple_op, info.simple_slot,
                      info.simple_op != Op::kPop ? &p.consts[info.simple_const] : nullptr};
        if (leaf.constant != nullptr && leaf.constant->is_number()) {
          switch (info.simple_op) {
            case Op::kLt: leaf.order_truth = 0b0001; break;
            case Op::kLe: leaf.order_truth = 0b0011; break;
            case Op::kEq: leaf.order_truth = 0b0010; break;
            case Op::kNe: leaf.order_truth = 0b1101; break;
            case Op::kGe: leaf.order_truth = 0b0110; break;
            case Op::kGt: leaf.order_truth = 0b0100; break;
            default: break;
          }
        }
        plan.leaves.push_back(leaf);
      }
      return edge.action == Action::kProceed ? WalkStep::kFollow : WalkStep::kContinue;
    });
  }
  tri_stack_.reserve(std::max(tri_stack_.capacity(), max_depth));
  if (plan.leaves.size() > kMaxNoopLeaves) {
    plan.never = true;
  } else if (plan.leaves.size() <= kMaxNoopTableLeaves) {
    plan.table.assign(size_t{1} << plan.leaves.size(), kNoopUnknown);
  }
}

uint8_t Nfa::CondValue3(const NoopPlan& plan, CondId cond, uint64_t leaf_mask) {
  const Program& p = *program_;
  const CondRange r = p.conds[cond];
  tri_stack_.clear();
  for (uint32_t pc = r.begin; pc < r.end; ++pc) {
    const CondInstr& ci = p.cond_code[pc];
    switch (ci.op) {
      case CondOp::kTrue: tri_stack_.push_back(kTrue3); break;
      case CondOp::kExpr: {
        const uint32_t bit = plan.leaf_bit[ci.arg];
        tri_stack_.push_back(bit == kNoLeaf ? kUnknown3 : ((leaf_mask >> bit) & 1) != 0 ? kTrue3 : kFalse3);
        break;
      }
      case CondOp::kNot: {
        uint8_t& v = tri_stack_.back();
        if (v != kUnknown3) v ^= 1;
        break;
      }
      case CondOp::kAnd:
      case CondOp::kOr: {
        const uint8_t b = tri_stack_.back();
        tri_stack_.pop_back();
        uint8_t& a = tri_stack_.back();
        const uint8_t dominant = ci.op == CondOp::kAnd ? kFalse3 : kTrue3;
        if (a == dominant || b == dominant) a = dominant;
        else if (a == kUnknown3 || b == kUnknown3) a = kUnknown3;
        // else both are the non-dominant value: a stays
        break;
      }
    }
  }
  return tri_stack_.empty() ? kFalse3 : tri_stack_.back();
}

bool Nfa::Fired(const NoopPlan& plan, StateId from, uint64_t leaf_mask, int* takes, int* ignores, bool* self_ignore) {
  *takes = *ignores = 0;
  *self_ignore = false;
  return Walk(from, [&](StateId s, const Edge& edge) {
    const uint8_t v = CondValue3(plan, edge.cond, leaf_mask);
    if (v == kUnknown3) return WalkStep::kStop;
    if (v == kFalse3) return WalkStep::kContinue;
    if (edge.action == Action::kProceed) return WalkStep::kFollow;
    if (edge.action == Action::kTake) {
      ++*takes;
    } else {
      ++*ignores;
      if (s == from && edge.target == from) *self_ignore = true;
    }
    return WalkStep::kContinue;
  });
}

uint8_t Nfa::DecideNoop(uint64_t leaf_mask) {
  int takes, ignores;
  bool self_ignore;
  if (!Fired(noop_, program_->start, leaf_mask, &takes, &ignores, &self_ignore) || takes > 0) return 0;
  for (StateId s : wait_states_) {
    if (!Fired(noop_, s, leaf_mask, &takes, &ignores, &self_ignore)) return 0;
    if (takes > 0 || ignores != 1 || !self_ignore) return 0;
  }
  return 1;
}

uint8_t Nfa::DecideStartNoop(uint64_t leaf_mask) {
  int takes, ignores;
  bool self_ignore;
  return Fired(start_, program_->start, leaf_mask, &takes, &ignores, &self_ignore) && takes == 0 ? 1 : 0;
}

template <typename Visit>
bool Nfa::Walk(StateId from, Visit&& visit) {
  const Program& p = *program_;
  stack_.clear();
  stack_.push_back(from);
  size_t guard = 0;
  while (!stack_.empty()) {
    StateId s = stack_.back();
    stack_.pop_back();
    const State& st = p.states[s];
    for (uint32_t e = st.first_edge; e < st.first_edge + st.num_edges; ++e) {
      const Edge& edge = p.edges[e];
      switch (visit(s, edge)) {
        case WalkStep::kStop: return false;
        case WalkStep::kFollow: stack_.push_back(edge.target); break;
        case WalkStep::kContinue: break;
      }
    }
    // The compiler never builds PROCEED cycles; this only bounds a broken program.
    if (++guard > p.states.size() * 4) return false;
  }
  return true;
}

uint64_t Nfa::LeafMask(const NoopPlan& plan, const StoredEvent* event, uint64_t epoch) {
  uint64_t mask = 0;
  const Value* slots = event->slots.data();
  const size_t num_slots = event->slots.size();
  const size_t n = plan.leaves.size();
  for (size_t i = 0; i < n; ++i) {
    const NoopLeaf& leaf = plan.leaves[i];
    const Value& v = leaf.slot < num_slots ? slots[leaf.slot] : StoredEvent::kMissingSlot;
    if (leaf.order_truth != 0 && v.is_number()) {
      // A number against a number constant: CompareNumbersOp as a table lookup.
      const Value& c = *leaf.constant;
      unsigned order;
      if (v.kind == ValueKind::kInt && c.kind == ValueKind::kInt) {
        order = v.i < c.i ? 0 : v.i == c.i ? 1 : 2;
      } else {
        const double x = v.as_double(), y = c.as_double();
        order = x < y ? 0 : x == y ? 1 : x > y ? 2 : 3;
      }
      mask |= uint64_t{(leaf.order_truth >> order) & 1u} << i;
      continue;
    }
    bool truth;
    if (leaf.simple_op == Op::kPop ||
        !FastCompare(leaf.simple_op, v, *leaf.constant, &truth)) {
      truth = EventExprTruth(leaf.expr, event, epoch);
    }
    mask |= uint64_t{truth} << i;
  }
  return mask;
}

bool Nfa::EventExprTruth(ExprId expr, const StoredEvent* event, uint64_t epoch) {
  return evaluator_->ExprTruth(EventContext(event, epoch), expr);
}

std::vector<Nfa::StartGuard> Nfa::StartGuards() {
  std::vector<StartGuard> guards;
  NoopPlan& plan = start_;
  if (plan.never || plan.table.empty()) return guards;
  const size_t n = plan.leaves.size();
  const uint64_t masks = uint64_t{1} << n;
  for (uint64_t m = 0; m < masks; ++m) {
    if (plan.table[m] == kNoopUnknown) plan.table[m] = DecideStartNoop(m);
  }
  for (size_t i = 0; i < n; ++i) {
    for (uint64_t fires_when = 0; fires_when < 2; ++fires_when) {
      // A guard: every combination with the leaf the other way round is a no-op.
      bool guard = true;
      for (uint64_t m = 0; m < masks && guard; ++m) {
        if (((m >> i) & 1) != fires_when) guard = plan.table[m] != 0;
      }
      if (guard) guards.push_back({plan.leaves[i].expr, fires_when != 0});
    }
  }
  return guards;
}

bool Nfa::Answer(NoopPlan& plan, uint8_t (Nfa::*decide)(uint64_t), uint64_t mask) {
  if (plan.table.empty()) return (this->*decide)(mask) != 0;
  uint8_t& decided = plan.table[mask];
  if (decided == kNoopUnknown) decided = (this->*decide)(mask);
  return decided != 0;
}

bool Nfa::IsNoop(const StoredEvent* event, uint64_t epoch) {
  if (noop_.never) return false;
  noop_mask_ = LeafMask(noop_, event, epoch);
  noop_mask_epoch_ = epoch;
  return Answer(noop_, &Nfa::DecideNoop, noop_mask_);
}

bool Nfa::StartIsNoop(const StoredEvent* event, uint64_t epoch) {
  if (start_.never) return false;
  uint64_t mask;
  if (start_in_noop_ && epoch != 0 && noop_mask_epoch_ == epoch) {
    // IsNoop has read this event's leaves: the start state's are the first of them.
    const size_t n = start_.leaves.size();
    mask = n == 64 ? noop_mask_ : noop_mask_ & ((uint64_t{1} << n) - 1);
  } else {
    mask = LeafMask(start_, event, epoch);
  }
  return Answer(start_, &Nfa::DecideStartNoop, mask);
}

StateId Nfa::FindFinalAfterProceed(StateId from, const EvalContext& ctx) {
  const Program& p = *program_;
  StateId found = kNoId;
  Walk(from, [&](StateId, const Edge& edge) {
    if (edge.action != Action::kProceed || !Cond(ctx, edge.cond)) return WalkStep::kContinue;
    if (p.states[edge.target].type != StateType::kFinal) return WalkStep::kFollow;
    found = edge.target;
    return WalkStep::kStop;
  });
  return found;
}

bool Nfa::ProcessRun(const Run& run, const Value* row, bool is_start, StoredEvent* event, uint64_t epoch) {
  const Program& p = *program_;
  EvalContext ctx = EventContext(event, epoch);
  ctx.node = run.node;
  ctx.stage_values = row;
  ctx.stage_value_col = stage_value_col_.data();

  // Decision graph: follow PROCEED edges, collect the TAKE / IGNORE edges that fire.
  edges_.clear();
  const StepShape& shape = shapes_[run.state];
  if (shape.has_proceed) {
    Walk(run.state, [&](StateId s, const Edge& edge) {
      if (!Cond(ctx, edge.cond)) return WalkStep::kContinue;
      if (edge.action == Action::kProceed) return WalkStep::kFollow;
      edges_.push_back({edge.target, s, edge.action});
      return WalkStep::kContinue;
    });
  } else if (shape.take_or_stay && !is_start) {
    // The common wait: TAKE(c) -> t and IGNORE(c') -> here. No walk, and when only
    // the IGNORE fires the run stays exactly as it is.
    const Edge& take_edge = p.edges[shape.take_edge];
    const bool take = Cond(ctx, take_edge.cond);
    const bool ignore = shape.ignore_kind == kIgnoreTrue      ? true
                        : shape.ignore_kind == kIgnoreNotTake ? !take
                                                              : Cond(ctx, p.edges[shape.ignore_edge].cond);
    if (!take && ignore) return true;
    const bool take_first = shape.take_edge < shape.ignore_edge;
    if (take && take_first) edges_.push_back({take_edge.target, run.state, Action::kTake});
    if (ignore) edges_.push_back({run.state, run.state, Action::kIgnore});
    if (take && !take_first) edges_.push_back({take_edge.target, run.state, Action::kTake});
  } else {
    // No PROCEED: the decision graph is the state's own edges.
    const State& st = p.states[run.state];
    for (uint32_t e = st.first_edge; e < st.first_edge + st.num_edges; ++e) {
      const Edge& edge = p.edges[e];
      if (is_start && edge.action == Action::kIgnore) continue;  // dropped below anyway
      if (Cond(ctx, edge.cond)) edges_.push_back({edge.target, run.state, edge.action});
    }
  }

  produced_.clear();
  produced_stages_.clear();
  // A run that ignores the event into its own state stays as it is: it keeps its
  // reference instead of taking a new one and dropping the old (the node is not
  // touched, which matters when many runs wait through a long window).
  bool kept = false;
  for (size_t k = 0; k < edges_.size(); ++k) {
    const Pending pe = edges_[k];
    if (pe.action == Action::kIgnore) {
      if (is_start) continue;  // the start run never ignores: it is always there anyway
      if (pe.state == run.state && !kept) {
        kept = true;
      } else {
        buffer_->Ref(run.node);
      }
      produced_.push_back({pe.state, run.node, run.start, run.prev_ts});
      produced_stages_.push_back(kNoId);
      continue;
    }
    // TAKE: bind the event to the source state's stage.
    const uint16_t stage = p.states[pe.source].stage;
    NodeId node = buffer_->Put(stage, event, run.node);
    EventId start = is_start ? event->id : run.start;
    produced_.push_back({pe.state, node, start, event->ts()});
    produced_stages_.push_back(stage);
    if (shapes_[pe.state].has_proceed) {
      StateId fin = FindFinalAfterProceed(pe.state, ctx);
      if (fin != kNoId) {
        buffer_->Ref(node);
        produced_.push_back({fin, node, start, event->ts()});
        produced_stages_.push_back(stage);
      }
    }
  }
  if (!is_start && !kept) buffer_->Release(run.node);

  // Completed matches always count; a STOP discards the rest of this run's branches.
  bool discard = false;
  for (const Run& r : produced_) {
    if (p.states[r.state].type == StateType::kStop) discard = true;
  }
  const size_t before = next_runs_.size();
  for (size_t k = 0; k < produced_.size(); ++k) {
    const Run& r = produced_[k];
    StateType t = p.states[r.state].type;
    if (t == StateType::kFinal) {
      potential_.push_back(r);
    } else if (t == StateType::kStop || discard) {
      buffer_->Release(r.node);
    } else {
      next_runs_.push_back(r);
      AppendRow(row, produced_stages_[k], event);
    }
  }
  // Its only continuation is an IGNORE into its own state (a TAKE always has a new
  // node): the run is unchanged.
  if (!is_start && next_runs_.size() == before + 1) {
    const Run& r = next_runs_.back();
    if (r.state == run.state && r.node == run.node && r.start == run.start && r.prev_ts == run.prev_ts) {
      next_runs_.pop_back();
      next_values_.resize(next_values_.size() - stride_);
      return true;
    }
  }
  return false;
}

void Nfa::Step(KeyState& key, StoredEvent* event, uint64_t epoch, std::vector<Output>& out) {
  SyncStageValues(key);
  next_runs_.clear();
  next_values_.clear();
  potential_.clear();
  // Runs that stay as they were are not copied: while nothing changed, next_runs_
  // holds only what the current run became, and key.runs is left alone.
  bool changed = false;
  const size_t n = key.runs.size();
  ++step_count_;
  for (size_t k = 0; k < n;) {
    const Run& run = key.runs[k];
    const Value* row = Row(key, k);
    const uint32_t f = use_filters_ ? state_filter_[run.state] : kNoId;
    if (f != kNoId) {
      const size_t j = SkipFiltered(key, k, run.state, f, event, epoch);
      if (j != k) {
        // Runs k..j-1 stay as they are.
        if (changed) {
          next_runs_.insert(next_runs_.end(), key.runs.begin() + static_cast<ptrdiff_t>(k),
                            key.runs.begin() + static_cast<ptrdiff_t>(j));
          next_values_.insert(next_values_.end(), key.stage_values.begin() + static_cast<ptrdiff_t>(k * stride_),
                              key.stage_values.begin() + static_cast<ptrdiff_t>(j * stride_));
        }
        k = j;
        continue;
      }
    }
    if (ProcessRun(run, row, false, event, epoch)) {
      if (changed) {
        next_runs_.push_back(run);
        if (stride_ != 0) next_values_.insert(next_values_.end(), row, row + stride_);
      }
      ++k;
      continue;
    }
    if (!changed) {
      changed = true;
      next_runs_.insert(next_runs_.begin(), key.runs.begin(), key.runs.begin() + static_cast<ptrdiff_t>(k));
      next_values_.insert(next_values_.begin(), key.stage_values.begin(),
                          key.stage_values.begin() + static_cast<ptrdiff_t>(k * stride_));
    }
    ++k;
  }
  Run start;
  start.state = program_->start;
  ProcessRun(start, stride_ == 0 ? nullptr : missing_row_.data(), true, event, epoch);
  if (changed) {
    key.runs.assign(next_runs_.begin(), next_runs_.end());  // copy: each vector keeps its capacity
    key.stage_values.assign(next_values_.begin(), next_values_.end());
  } else {
    // Only the start run's continuations are new: they come after every run.
    key.runs.insert(key.runs.end(), next_runs_.begin(), next_runs_.end());
    key.stage_values.insert(key.stage_values.end(), next_values_.begin(), next_values_.end());
  }
  EmitAccordingToSkip(key, out);
}

void Nfa::AdvanceTime(KeyState& key, int64_t time, std::vector<Output>& out) {
  Expire(key, time, /*end_of_time=*/false, out);
}

void Nfa::CloseAllWindows(KeyState& key, std::vector<Output>& out) {
  Expire(key, INT64_MAX, /*end_of_time=*/true, out);
}

void Nfa::Expire(KeyState& key, int64_t time, bool end_of_time, std::vector<Output>& out) {
  const Program& p = *program_;
  SyncStageValues(key);
  potential_.clear();
  auto prev_out = [&](const Run& r) {
    const int64_t window = p.states[r.state].window_ms;
    return window > 0 && (end_of_time || WindowClosed(r.prev_ts, window, time));
  };
  auto first_out = [&](const Run& r) {
    return p.within_ms > 0 && (end_of_time || WindowClosed(r.start.ts, p.within_ms, time));
  };
  // Only the whole-match window: a run is out when its start is at or before the
  // cutoff (start + within <= time, solved for start; nothing is out when time -
  // within lies below every event time).
  int64_t cutoff = INT64_MAX;
  if (!has_state_windows_) {
    if (p.within_ms <= 0 || (!end_of_time && __builtin_sub_overflow(time, p.within_ms, &cutoff))) return;
  }
  auto out_of_window = [&](const Run& r) {
    return has_state_windows_ ? prev_out(r) || first_out(r) : r.start.ts <= cutoff;
  };
  // The runs that stay are compacted in place, a block of consecutive ones at a
  // time (order kept).
  const size_t n = key.runs.size();
  size_t w = 0;
  bool changed = false;
  for (size_t k = 0; k < n;) {
    const Run r = key.runs[k];
    const State& st = p.states[r.state];
    if (!out_of_window(r)) {
      size_t j = k + 1;
      while (j < n && !out_of_window(key.runs[j])) ++j;
      if (w != k) {
        std::copy(key.runs.begin() + static_cast<ptrdiff_t>(k), key.runs.begin() + static_cast<ptrdiff_t>(j),
                  key.runs.begin() + static_cast<ptrdiff_t>(w));
        std::copy(key.stage_values.begin() + static_cast<ptrdiff_t>(k * stride_),
                  key.stage_values.begin() + static_cast<ptrdiff_t>(j * stride_),
                  key.stage_values.begin() + static_cast<ptrdiff_t>(w * stride_));
      }
      w += j - k;
      k = j;
      continue;
    }
    ++k;
    changed = true;
    if (st.type == StateType::kPending) {
      // Absence detected: nothing forbidden happened before the window closed.
      potential_.push_back(r);
      continue;
    }
    if (p.has_timeout) {
      Output o;
      o.kind = OutputKind::kTimeout;
      o.node = r.node;  // the reference moves to the output
      o.start = r.start;
      // When the window closed: the earlier end of the run's windows (however far
      // the watermark jumped past it), saturating like every time here.
      o.end = INT64_MAX;
      if (st.window_ms > 0) o.end = SatAdd(r.prev_ts, st.window_ms);
      if (p.within_ms > 0) o.end = std::min(o.end, SatAdd(r.start.ts, p.within_ms));
      out.push_back(o);
    } else {
      buffer_->Release(r.node);
    }
  }
  if (!changed) return;
  key.runs.resize(w);
  key.stage_values.resize(w * stride_);
  EmitAccordingToSkip(key, out);
}

int64_t Nfa::LastOpen(const KeyState& key) const {
  const Program& p = *program_;
  if (!has_state_windows_) {
    // Only the whole-match window: the earliest start decides.
    if (p.within_ms <= 0 || key.runs.empty()) return INT64_MAX;
    int64_t first = INT64_MAX;
    for (const Run& r : key.runs) first = std::min(first, r.start.ts);
    return WindowLastOpen(first, p.within_ms);
  }
  int64_t best = INT64_MAX;
  for (const Run& r : key.runs) {
    const State& st = p.states[r.state];
    if (st.window_ms > 0) best = std::min(best, WindowLastOpen(r.prev_ts, st.window_ms));
    if (p.within_ms > 0) best = std::min(best, WindowLastOpen(r.start.ts, p.within_ms));
  }
  return best;
}

void Nfa::Clear(KeyState& key) {
  for (const Run& r : key.runs) buffer_->Release(r.node);
  for (const Run& r : key.completed) buffer_->Release(r.node);
  key.runs.clear();
  key.completed.clear();
  key.stage_values.clear();
}

size_t Nfa::DropOldestRuns(KeyState& key, size_t keep) {
  if (key.runs.size() <= keep) return 0;
  const size_t drop = key.runs.size() - keep;
  for (size_t i = 0; i < drop; ++i) buffer_->Release(key.runs[i].node);
  key.runs.erase(key.runs.begin(), key.runs.begin() + static_cast<std::ptrdiff_t>(drop));
  key.stage_values.clear();  // no longer fits `runs`: rebuilt before its next use
  return drop;
}

// ---------------------------------------------------------------- skip strategies

bool Nfa::PruningId(NodeId match, EventId* id) {
  const Program& p = *program_;
  bool have = false;
  // The walk visits bindings from the last to the first.
  for (NodeId n = match; n != kNoNode; n = buffer_->node(n).parent) {
    const Node& node = buffer_->node(n);
    const EventId& e = node.event->id;
    switch (p.skip) {
      case SkipKind::kNoSkip: return false;
      case SkipKind::kToNext:  // the first event of the match
        if (!have || e < *id) *id = e;
        have = true;
        break;
      case SkipKind::kPastLastEvent:  // the last event of the match
        if (!have || *id < e) *id = e;
        have = true;
        break;
      case SkipKind::kToFirst:  // the first event of the named stage
        if (node.stage == p.skip_stage) {
          *id = e;  // keeps overwriting while walking back: ends on the first
          have = true;
        }
        break;
      case SkipKind::kToLast:  // the last event of the named stage
        if (node.stage == p.skip_stage && !have) {
          *id = e;
          have = true;
        }
        break;
    }
  }
  return have;
}

bool Nfa::ShouldPrune(const EventId& start, const EventId& pruning) const {
  switch (program_->skip) {
    case SkipKind::kToNext:
    case SkipKind::kPastLastEvent: return start <= pruning;
    case SkipKind::kToFirst:
    case SkipKind::kToLast: return start < pruning;
    case SkipKind::kNoSkip: return false;
  }
  return false;
}

void Nfa::Prune(RunVector& runs, ValueVector* values, const EventId& pruning) {
  size_t w = 0;
  for (size_t k = 0; k < runs.size(); ++k) {
    if (ShouldPrune(runs[k].start, pruning)) {
      buffer_->Release(runs[k].node);
    } else {
      if (values != nullptr && w != k) {
        std::copy_n(values->begin() + static_cast<ptrdiff_t>(k * stride_), stride_,
                    values->begin() + static_cast<ptrdiff_t>(w * stride_));
      }
      runs[w++] = runs[k];
    }
  }
  runs.resize(w);
  if (values != nullptr) values->resize(w * stride_);
}

void Nfa::EmitAccordingToSkip(KeyState& key, std::vector<Output>& out) {
  if (program_->skip == SkipKind::kNoSkip) {
    for (const Run& r : potential_) out.push_back({OutputKind::kMatch, r.node, r.start, r.prev_ts});
    potential_.clear();
    return;
  }
  if (potential_.empty() && key.completed.empty()) return;
  // Completed matches wait, oldest start first (stable: earlier-produced first on ties).
  for (const Run& r : potential_) {
    auto pos = std::upper_bound(key.completed.begin(), key.completed.end(), r,
                                [](const Run& a, const Run& b) { return a.start < b.start; });
    key.completed.insert(pos, r);
  }
  potential_.clear();
  while (!key.completed.empty()) {
    const Run m = key.completed.front();
    bool earlier_partial = false;
    for (const Run& r : key.runs) {
      if (r.start < m.start) {
        earlier_partial = true;
        break;
      }
    }
    if (earlier_partial) break;
    key.completed.erase(key.completed.begin());
    EventId pruning;
    if (PruningId(m.node, &pruning)) {
      Prune(key.runs, &key.stage_values, pruning);
      Prune(key.completed, nullptr, pruning);
    }
    out.push_back({OutputKind::kMatch, m.node, m.start, m.prev_ts});
  }
}

}  // namespace tern::nfa
