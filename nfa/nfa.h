// The per-key NFA runtime: one event or one time advance applied to one key's
// state, for one program. Produces completed matches and timeouts as node
// chains in the shared buffer; the engine materialises and releases them.
// Tested by tests/unit/engine/engine_test.cc, tests/unit/nfa/row_filter_test.cc,
// tests/reference/reference_test.cc (against the brute-force matcher) and the
// recorded-stream and conformance cases.
#pragma once

#include <cstdint>
#include <type_traits>
#include <vector>

#include "base/pool_allocator.h"
#include "nfa/cond_plan.h"
#include "nfa/eval.h"
#include "nfa/event.h"
#include "nfa/program.h"
#include "nfa/row_filter.h"
#include "nfa/shared_buffer.h"

namespace tern::nfa {

// A partial match (Flink's ComputationState): where it is, what it bound.
struct Run {
  StateId state = 0;
  NodeId node = kNoNode;  // its last binding; holds one reference
  EventId start;          // its first bound event
  int64_t prev_ts = 0;    // time of its last bound event
};
static_assert(std::is_trivially_copyable_v<Run>);

// A key's runs live in pooled blocks: growing and shrinking them does not call
// malloc once warm.
using RunVector = std::vector<Run, PoolAllocator<Run>>;
using ValueVector = std::vector<Value, PoolAllocator<Value>>;

// Everything one key holds for one program: a plain value (runs reference
// shared-buffer nodes by id), so it can be serialised and restored.
// Thread: engine thread. Locks: none.
struct KeyState {
  RunVector runs;              // live partial matches, oldest first (the start run is implicit)
  RunVector completed;         // matches held back by an earlier partial match (skip strategies)
  // Per run, in the order of `runs`, Nfa::stage_value_stride() values: the fields of
  // single stages that the program's conditions read, copied from the bound event
  // when the run bound the stage (missing while unbound), so a condition reads the
  // key's own data instead of node -> event -> slots. Strings point into the bound
  // events, which the runs' node chains keep alive. Derived from `runs` and the
  // buffer, so never serialised: whenever its size does not fit `runs` (a restored
  // state), the Nfa rebuilds it before using it.
  ValueVector stage_values;
  bool empty() const { return runs.empty() && completed.empty(); }
  // Copies `other` into this state (each vector keeps its capacity) and empties it.
  void TakeFrom(KeyState& other) {
    runs.assign(other.runs.begin(), other.runs.end());
    completed.assign(other.completed.begin(), other.completed.end());
    stage_values.assign(other.stage_values.begin(), other.stage_values.end());
    other.runs.clear();
    other.completed.clear();
    other.stage_values.clear();
  }
};

enum class OutputKind : uint8_t { kMatch, kTimeout };

// A finished match or timeout. `node` holds one reference the receiver releases.
struct Output {
  OutputKind kind = OutputKind::kMatch;
  NodeId node = kNoNode;
  EventId start;
  int64_t end = 0;  // last event time, or the time the window closed (timeouts)
};

// Runs one program. Scratch buffers are sized once and reused, so stepping a
// warm NFA does not allocate.
// Thread: engine thread. Locks: none.
class Nfa {
 public:
  Nfa(const Program* program, SharedBuffer* buffer, Evaluator* evaluator, ExprMemo* memo);

  // Applies `event` to the key (Flink NFA#process). The caller has already
  // advanced the key's time to the event's time.
  void Step(KeyState& key, StoredEvent* event, uint64_t epoch, std::vector<Output>& out);

  // Times out every run whose window has closed at watermark `time` (Flink
  // NFA#advanceTime): timeouts for patterns with on_timeout, matches for pending
  // absence runs. A window opened at t for D closes when time >= t + D, computed
  // exactly: one that ends past INT64_MAX closes only at the end of time.
  void AdvanceTime(KeyState& key, int64_t time, std::vector<Output>& out);
  // The end of time (end of input): closes every window, those ending past
  // INT64_MAX included.
  void CloseAllWindows(KeyState& key, std::vector<Output>& out);

  // The largest watermark at which AdvanceTime leaves this key as it is: its earliest
  // window ends 1 ms later. INT64_MAX when no window of the key ends at an event time
  // (it has none, or only windows ending past INT64_MAX, which CloseAllWindows closes).
  int64_t LastOpen(const KeyState& key) const;

  // True when `event` can change no key's runs and start none: from every state a
  // run can wait in, the edges that fire are exactly its own IGNORE self-loop, and
  // nothing fires from the start state. Decided from the expressions that read only
  // the event (memoised), so the engine can skip the key lookup; false whenever an
  // expression that reads the partial match could change the answer.
  bool IsNoop(const StoredEvent* event, uint64_t epoch);

  // True when `event` starts no partial match: no TAKE fires from the start state.
  // Decided like IsNoop; a key without partial matches is left as it is by Step.
  // Programs with equal nfa::StartIdentity give the same answer.
  bool StartIsNoop(const StoredEvent* event, uint64_t epoch);

  // A test on one event-only expression that every event starting a partial match
  // passes: whenever the expression's truth differs from `fires_when`, StartIsNoop
  // is true. The engine evaluates the guards of many programs at once, through
  // indexes over their constants, and asks StartIsNoop only when they pass.
  struct StartGuard {
    ExprId expr;
    bool fires_when;
  };
  // Every guard of the start state, found by deciding StartIsNoop for each combination
  // of its leaf values (none when there are too many leaves to tabulate). An expression
  // guarding both ways means the start never fires.
  std::vector<StartGuard> StartGuards();

  // The condition truth of an event-only expression for `event` (memoised).
  [[gnu::noinline]] bool EventExprTruth(ExprId expr, const StoredEvent* event, uint64_t epoch);

  // Releases everything the key holds (used when a program is unloaded).
  void Clear(KeyState& key);
  // Drops the oldest partial matches of the key until at most `keep` are left; returns
  // how many it dropped (the per-key bound on state, engine::Options).
  size_t DropOldestRuns(KeyState& key, size_t keep);

  // Values per run in KeyState::stage_values (0 when no condition reads a stage field).
  uint32_t stage_value_stride() const { return stride_; }

  // Off: every run is stepped, none passed over by its state's row filter (for tests
  // comparing the two).
  void TestingOnlySetRowFilters(bool on) { use_filters_ = on && !filters_.empty(); }

 private:
  struct Pending {
    StateId state;
    StateId source;  // the state whose edge fired (its stage is what TAKE binds)
    Action action;
  };
  // Depth-first walk over the states reachable from `from`: `visit(state, edge)` is
  // called for every edge of every state reached and says whether to follow the
  // edge's target, go on, or stop. Returns false when stopped (or on a broken
  // program's cycle). Shared by the decision graph, IsNoop and FindFinalAfterProceed.
  enum class WalkStep : uint8_t { kContinue, kFollow, kStop };
  template <typename Visit>
  bool Walk(StateId from, Visit&& visit);
  // Applies the event to one run. Returns true when the run stays exactly as it was
  // (then it is not appended to next_runs_); otherwise appends what it becomes.
  bool ProcessRun(const Run& run, const Value* row, bool is_start, StoredEvent* event, uint64_t epoch);
  void BuildStepPlan();
  bool Cond(const EvalContext& ctx, CondId cond) { return evaluator_->Condition(ctx, cond_plans_, cond); }
  // Appends a stage value row to next_values_: `row`, with the columns of `stage`
  // taken from `event` (kNoId: the run did not bind the event).
  void AppendRow(const Value* row, uint32_t stage, const StoredEvent* event);
  const Value* Row(const KeyState& key, size_t run) const {
    return stride_ == 0 ? nullptr : key.stage_values.data() + run * stride_;
  }
  // Rebuilds key.stage_values when it does not fit key.runs (a restored state).
  void SyncStageValues(KeyState& key) {
    if (key.stage_values.size() != key.runs.size() * stride_) RebuildStageValues(key);
  }
  void RebuildStageValues(KeyState& key);
  // What a condition on `event` sees, before a partial match is set.
  EvalContext EventContext(const StoredEvent* event, uint64_t epoch) const {
    EvalContext ctx;
    ctx.program = program_;
    ctx.event = event;
    ctx.buffer = buffer_;
    ctx.memo = memo_;
    ctx.epoch = epoch;
    return ctx;
  }
  // Fills the derived columns of `row` (row filters) from its stage columns.
  void ComputeDerived(Value* row) const;
  // The first run from `k` on that is not in state `state` (whose row filter is `f`) or
  // that the filter lets through: the runs before it cannot take the event, so they
  // stay as they are.
  size_t SkipFiltered(const KeyState& key, size_t k, StateId state, uint32_t f, const StoredEvent* event,
                      uint64_t epoch);
  void PrepareFilter(uint32_t f, const StoredEvent* event, uint64_t epoch);
  StateId FindFinalAfterProceed(StateId from, const EvalContext& ctx);
  void EmitAccordingToSkip(KeyState& key, std::vector<Output>& out);
  void Expire(KeyState& key, int64_t time, bool end_of_time, std::vector<Output>& out);
  bool PruningId(NodeId match, EventId* id);
  bool ShouldPrune(const EventId& start, const EventId& pruning) const;
  void Prune(RunVector& runs, ValueVector* values, const EventId& pruning);

  const Program* program_;
  SharedBuffer* buffer_;
  Evaluator* evaluator_;
  ExprMemo* memo_;

  CondPlans cond_plans_;  // the conditions, short-circuited (BuildCondPlans)

  // Stage value cache (KeyState::stage_values): one column per distinct (stage,
  // slot) that a condition reads with kStageField.
  uint32_t stride_ = 0;                      // columns
  std::vector<uint32_t> stage_value_col_;    // per Program::stage_fields entry: column or kNoId
  std::vector<uint32_t> column_slot_;        // per column: the schema slot
  std::vector<uint32_t> stage_cols_begin_;   // per stage s: its columns are
  std::vector<uint32_t> stage_cols_;         //   stage_cols_[begin[s], begin[s + 1])
  std::vector<Value> missing_row_;           // stride_ missing values: the start run's row
  uint32_t base_columns_ = 0;                // columns [0, base_columns_) are stage fields,
  std::vector<CompareTerm> derived_;         //   the rest the stage-only terms of row filters

  // Row filters: per state where a run stays unchanged unless its TAKE fires (TAKE or
  // stay, the IGNORE true or its negation), the filter of the TAKE's condition.
  std::vector<RowFilter> filters_;
  std::vector<uint32_t> state_filter_;  // per state: index into filters_, or kNoId
  bool use_filters_ = false;
  struct FilterEventState {
    uint64_t step = 0;        // the Step call it was prepared for (step_count_)
    bool none = false;        // an event-only conjunct is false: no run passes
    uint32_t tests_begin = 0; // its compares, prepared for the event, in filter_tests_
  };
  std::vector<FilterEventState> filter_state_;
  std::vector<RowTest> filter_tests_;
  uint64_t step_count_ = 0;

  // Per state: how a run waiting there is stepped.
  struct StepShape {
    bool has_proceed = false;  // some edge is PROCEED: the decision graph needs Walk
    // Exactly one TAKE and one IGNORE back to the state itself, no PROCEED: a run
    // stays as it is when the TAKE does not fire and the IGNORE does.
    bool take_or_stay = false;
    uint8_t ignore_kind = 0;   // kIgnoreCond, kIgnoreTrue, kIgnoreNotTake
    uint32_t take_edge = 0;
    uint32_t ignore_edge = 0;
  };
  static constexpr uint8_t kIgnoreCond = 0, kIgnoreTrue = 1, kIgnoreNotTake = 2;
  std::vector<StepShape> shapes_;
  bool has_state_windows_ = false;  // some state has a window (per-stage `within`, `gap`)

  // Scratch, reused across calls.
  std::vector<Run> next_runs_;
  std::vector<Value> next_values_;  // stage value rows of next_runs_
  std::vector<uint32_t> produced_stages_;  // per produced_ entry: the stage it bound the event to, or kNoId
  std::vector<uint8_t> seen_cols_;       // SyncStageValues scratch
  std::vector<Run> potential_;
  std::vector<Run> produced_;
  std::vector<Pending> edges_;
  std::vector<StateId> stack_;
  std::vector<StateId> wait_states_;  // states a run can wait in (normal, pending)

  // The plans of IsNoop (start and wait states) and StartIsNoop (start state). The
  // answer is a function of the truth of the event-only leaf expressions the walks
  // from the plan's states can reach (expressions that read the partial match count as
  // unknown), so it is decided once per combination of leaf values and looked up
  // afterwards.
  static constexpr uint32_t kNoLeaf = 0xFFFFFFFFu;
  static constexpr size_t kMaxNoopTableLeaves = 12;  // table of 2^12 bytes at most
  static constexpr size_t kMaxNoopLeaves = 64;       // beyond: the answer is always false
  struct NoopLeaf {
    ExprId expr;
    Op simple_op;          // kPop unless `field <cmp> constant`
    uint32_t slot;         // for simple_op
    const Value* constant;  // for simple_op
    // `field <cmp> number`: the truth for a number field by its order against the
    // constant, bit 0 less, 1 equal, 2 greater, 3 unordered (NaN); 0 = not this shape.
    uint8_t order_truth = 0;
  };
  struct NoopPlan {
    std::vector<NoopLeaf> leaves;  // bit i of the leaf mask = truth of leaves[i]
    std::vector<uint32_t> leaf_bit;  // per expression: its bit, or kNoLeaf
    std::vector<uint8_t> table;    // per leaf mask: kNoopUnknown, 0 or 1; empty if too many leaves
    bool never = false;            // too many leaves to decide
  };
  void BuildPlan(NoopPlan& plan, const std::vector<StateId>& roots);
  // A leaf FastCompare cannot decide goes to EventExprTruth (out of line).
  uint64_t LeafMask(const NoopPlan& plan, const StoredEvent* event, uint64_t epoch);
  uint8_t CondValue3(const NoopPlan& plan, CondId cond, uint64_t leaf_mask);
  // Follows PROCEED edges from `from` like the decision graph, counting the TAKE and
  // IGNORE edges that fire under the leaf mask; false when one might or might not fire.
  bool Fired(const NoopPlan& plan, StateId from, uint64_t leaf_mask, int* takes, int* ignores, bool* self_ignore);
  uint8_t DecideNoop(uint64_t leaf_mask);
  uint8_t DecideStartNoop(uint64_t leaf_mask);
  // The plan's answer for an event's leaf mask: looked up, decided on first sight.
  bool Answer(NoopPlan& plan, uint8_t (Nfa::*decide)(uint64_t), uint64_t mask);
  NoopPlan noop_;
  NoopPlan start_;
  // start_'s leaves are noop_'s first ones, in order: its mask is a prefix of noop_'s.
  bool start_in_noop_ = false;
  uint64_t noop_mask_ = 0;        // noop_'s leaf mask of the event of
  uint64_t noop_mask_epoch_ = 0;  // this epoch (0: none)
  std::vector<uint8_t> tri_stack_;    // CondValue3 scratch
};

}  // namespace tern::nfa
