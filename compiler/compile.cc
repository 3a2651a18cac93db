// Compiles checked patterns into NFA programs.
//
// IMPLEMENTATION
// The state construction is a port of Flink CEP's NFACompiler
// (org.apache.flink.cep.nfa.compiler.NFACompiler.NFAFactoryCompiler), so that
// the same pattern yields the same automaton and therefore the same matches:
// the pattern is walked from its last stage to its first; each stage becomes
// one state (single), a chain of states (`times`), or a looping state; `not_*`
// stages become STOP states reached by PROCEED edges, or a PENDING state when a
// `not_followed_by` ends the pattern; groups are compiled recursively, once per
// iteration for `times`. Consuming strategies map as in Flink: `next` STRICT,
// `followed_by` SKIP_TILL_NEXT, `followed_by_any` SKIP_TILL_ANY; inside a loop
// SKIP_TILL_NEXT by default, `consecutive` STRICT, `allow_combinations`
// SKIP_TILL_ANY. Conditions are kept as small trees (and/or/not over lowered
// expressions) and flattened into postfix code at the end. A compiled program is then
// checked for partial matches that no window bounds (W0101, UnboundedWait).
//
// Groups, where Tern completes or departs from the port (docs/language.md R6):
// - A group's `until` is Flink's GroupPattern#until: the take, ignore and
//   internal proceed conditions of every state inside the group get `not until`
//   (getTakeCondition, getIgnoreCondition, getTrueFunction); the loop's own
//   proceeds (back to the head, out of the group) keep the enclosing condition.
//   Nested groups inherit the untils of every enclosing group (Flink applies only
//   the innermost group's).
// - The first stage of a group takes the group's contiguity (Flink's head of a
//   group). When that stage is optional and skipped, the next stage becomes the
//   head: it is compiled a second time as the head (its entry state ignores by
//   the group's contiguity), and the skipped head proceeds there. So a group whose
//   optional prefix is skipped behaves exactly as the group without that prefix.
//   An iteration binds at least one event: the last stage never skips as head.
//   (NFACompiler#createSingletonState leaves the PROCEED of a group's head to the
//   group, so the port made an optional head required, and dropped the proceeds
//   of a head's optional `times` states too.)
// - A group that is the first stage of a group inherits the enclosing group's
//   contiguity, where Flink's Pattern.begin(group) makes it strict.
// - A group's `within` applies to every stage inside it.
// - The first stage of a group iterates by its own inner contiguity, not the group's.
// Tested by tests/unit/compiler/compile_test.cc and tests/unit/compiler/unbounded_test.cc.
#include "compiler/compile.h"

#include <algorithm>
#include <deque>
#include <map>
#include <memory>
#include <string>

#include "compiler/lower_expr.h"
#include "compiler/written.h"
#include "dsl/diag.h"
#include "dsl/dsl.h"

namespace tern::compiler {

namespace {

constexpr size_t kMaxStates = 20000;

enum class Strategy { kStrict, kSkipTillNext, kSkipTillAny, kNotNext, kNotFollow };

// Condition trees while building; index into Builder::conds_, -1 = no condition.
using Cond = int;
struct CondNode {
  nfa::CondOp op;
  uint32_t expr = 0;
  Cond a = -1, b = -1;
};

// Flink's Pattern, as a chain from each stage to its predecessor.
struct PNode {
  const ast::Stage* ast = nullptr;
  PNode* previous = nullptr;   // previous stage in its sequence; null for a sequence head
  bool is_group = false;
  PNode* raw = nullptr;        // groups: the last stage of the group's sequence
  std::string name;            // singles: the stage name; groups: a synthetic name
  uint16_t stage = 0;          // singles: index in the stage table
  Strategy strategy = Strategy::kStrict;
  Strategy inner = Strategy::kSkipTillNext;
  bool looping = false, times = false, optional = false, greedy = false;
  int64_t from = 1, to = 1;
  Cond condition = -1;         // the `where` (true when absent)
  Cond until = -1;
  int64_t window_ms = 0;       // per-stage `within`
  int32_t group_index = -1;    // groups: index into Program::written.groups
};

struct BEdge {
  nfa::Action action;
  int target;
  Cond cond;
};

struct BState {
  std::string name;
  nfa::StateType type = nfa::StateType::kNormal;
  bool is_start = false;
  uint16_t stage = 0;
  int64_t window_ms = 0;
  std::vector<BEdge> edges;
  std::string note;            // Program::written.states: which event of its stage it takes
  int32_t loop_group = -1;     // the loop-back state of this group (WrittenState::group)
};

// The builder's position, saved around the compilation of a nested group.
struct GroupScopeState {
  PNode* current;
  PNode* following;
  PNode* group;
  Cond until;
  Strategy entry;
  PNode* as_head;
  int head_skip;
  bool head_exits;
};

class Builder {
 public:
  Builder(const ast::Pattern& pattern, nfa::Program& program, nfa::Schema& schema,
          const WrittenText& written)
      : pattern_(pattern), program_(program), lowerer_(pattern, program, schema, &written),
        written_(written) {}

  bool Build(std::string* error);

 private:
  // ---- pattern chain
  PNode* MakeChain(const std::vector<ast::Stage>& seq, int32_t group = -1);
  // Program::written.stages and .groups: declarations, texts and compiled conditions.
  void DescribeStages();
  Strategy ToStrategy(ast::Contiguity c) const;

  // ---- conditions
  Cond NewCond(CondNode n) {
    conds_.push_back(n);
    return static_cast<Cond>(conds_.size() - 1);
  }
  Cond True() {
    if (true_ < 0) true_ = NewCond({nfa::CondOp::kTrue});
    return true_;
  }
  // A missing operand (-1, Flink's null condition) never reaches the runtime: the
  // combinators pass the other operand through.
  Cond Not(Cond c) { return c < 0 ? -1 : NewCond({nfa::CondOp::kNot, 0, c, -1}); }
  Cond And(Cond a, Cond b) { return a < 0 ? b : b < 0 ? a : NewCond({nfa::CondOp::kAnd, 0, a, b}); }
  Cond Or(Cond a, Cond b) { return a < 0 ? b : b < 0 ? a : NewCond({nfa::CondOp::kOr, 0, a, b}); }
  Cond Condition(const PNode* p) const { return p->condition; }
  // A `where`/`until` expression as a condition. Top-level `and`/`or` become condition
  // operators over their operands, so that an event-only operand is evaluated (and
  // memoised, and shared across patterns) on its own and decides the condition even
  // when the other operand reads earlier stages: `type == "auth" and amount >=
  // declined.amount` is known to be false for a refund without touching the partial
  // match. Same truth as the whole expression: both are Truthy(a) op Truthy(b).
  Cond LowerCondition(const ast::Expr& e, int depth = 0);
  void Flatten(Cond c, std::vector<nfa::CondInstr>& out) const;

  // ---- states
  int CreateState(const std::string& name, nfa::StateType type, uint16_t stage);
  // A state of current_: its note says which event of the stage (and round of the groups
  // around it) it takes, from iteration_.
  int CreateState(nfa::StateType type);
  void AddTake(int from, int to, Cond c) { states_[from].edges.push_back({nfa::Action::kTake, to, c}); }
  void AddIgnore(int from, int to, Cond c) { states_[from].edges.push_back({nfa::Action::kIgnore, to, c}); }
  void AddProceed(int from, int to, Cond c) { states_[from].edges.push_back({nfa::Action::kProceed, to, c}); }
  int Copy(int state);

  // ---- the NFACompiler port
  int CreateMiddleStates(int sink, int* head_skip = nullptr);
  int ConvertPattern(int sink);
  int CreateTimesState(int sink, int proceed, int64_t from, int64_t to);
  void UpdateWithGreedyCondition(int state, Cond take);
  int CreateSingletonState(int sink);
  int CreateSingletonState(int sink, int proceed, Cond take, Cond ignore, bool optional);
  // What entering a group changes, saved before and restored after compiling it.
  GroupScopeState SaveGroupScope() const;
  void RestoreGroupScope(const GroupScopeState& saved);
  int CreateGroupPatternState(PNode* group, int sink, int proceed, bool optional);
  int CreateLoopingGroupPatternState(PNode* group, int sink);
  void EnterGroup(PNode* group, bool exits);
  int CreateLooping(int sink);
  void AddStopStates(int state);
  void AddStopStateToLooping(int state);
  std::vector<std::pair<Cond, std::string>> CurrentNotConditions();
  int CreateStopState(Cond not_condition, const PNode* not_pattern);
  int CopyWithoutTransitiveNots(int sink);
  Cond InnerIgnoreCondition(const PNode* p);
  Cond IgnoreCondition(const PNode* p);
  Cond TakeCondition(const PNode* p);
  Cond ExtendWithUntil(Cond c, Cond until, bool is_take);
  // Flink's getTrueFunction: the condition of a PROCEED inside the current group.
  Cond TrueFunction() { return ExtendWithUntil(True(), group_until_, true); }
  // Where the entry state of the stage being converted goes when it is optional and
  // binds nothing: `proceed` (the next stage), except for the head of a group, which
  // skips to the next stage compiled as the head (none for the last stage).
  int EntrySkip(int proceed) const { return HeadOfGroup(current_) ? head_skip_ : proceed; }
  // Every stage before `p` in its sequence is optional: `p` can be a group's first
  // bound stage.
  static bool OptionalPrefix(const PNode* p) {
    for (const PNode* q = p->previous; q != nullptr; q = q->previous) {
      if (!q->optional || q->strategy == Strategy::kNotNext || q->strategy == Strategy::kNotFollow) return false;
    }
    return true;
  }
  // Greedy only restricts a stage that something follows: at the end of a pattern
  // every iteration count completes a match, as in Flink (GreedyITCase#testEndWith*).
  bool Greedy(int sink) const {
    return current_->greedy && sink >= 0 && states_[sink].type != nfa::StateType::kFinal;
  }
  bool HeadOfOptionalGroup(const PNode* p) const {
    return HeadOfGroup(p) && CurrentGroupFirstOfLoop() && current_group_->optional;
  }
  bool HeadOfGroup(const PNode* p) const {
    return current_group_ != nullptr && (p->previous == nullptr || p == as_head_);
  }
  void SetFirstOfLoop(bool v) {
    if (current_->is_group) first_of_loop_[current_] = v;
  }
  bool CurrentGroupFirstOfLoop() const {
    auto it = first_of_loop_.find(current_group_);
    return it == first_of_loop_.end() ? true : it->second;
  }

  const ast::Pattern& pattern_;
  nfa::Program& program_;
  ExprLowerer lowerer_;
  const WrittenText& written_;
  // The repetitions being compiled, outermost first: the stage or group repeated, which
  // of its events or rounds the states made now take, and whether later ones too (a loop).
  struct Iteration {
    const PNode* node;
    int64_t n;
    bool and_later;
  };
  std::vector<Iteration> iteration_;

  std::deque<PNode> nodes_;
  std::vector<CondNode> conds_;
  Cond true_ = -1;
  std::vector<BState> states_;
  std::map<std::string, int> name_counts_;
  std::map<std::string, int> stop_states_;
  std::map<int, int> original_state_map_;  // greedy + until: state -> its copy before the greedy update
  std::map<const PNode*, bool> first_of_loop_;

  PNode* current_ = nullptr;
  PNode* following_ = nullptr;
  PNode* current_group_ = nullptr;
  // The state of the group being compiled (saved and restored around nested groups).
  Cond group_until_ = -1;                    // `until` of current_group_ or of any group around it
  Strategy group_entry_ = Strategy::kStrict;  // contiguity of current_group_'s first iteration
  PNode* as_head_ = nullptr;                 // stage compiled as the head after an optional prefix
  int head_skip_ = -1;                       // EntrySkip target of the head; -1 = cannot skip
  bool head_exits_ = false;                  // the head's entry state has a PROCEED out of the group
  std::map<int, bool> greedy_updated_;       // sinks already restricted by a greedy stage
  std::string error_;
  int group_counter_ = 0;
};

Strategy Builder::ToStrategy(ast::Contiguity c) const {
  switch (c) {
    case ast::Contiguity::kBegin:
    case ast::Contiguity::kNext: return Strategy::kStrict;
    case ast::Contiguity::kFollowedBy: return Strategy::kSkipTillNext;
    case ast::Contiguity::kFollowedByAny: return Strategy::kSkipTillAny;
    case ast::Contiguity::kNotNext: return Strategy::kNotNext;
    case ast::Contiguity::kNotFollowedBy: return Strategy::kNotFollow;
  }
  return Strategy::kStrict;
}

PNode* Builder::MakeChain(const std::vector<ast::Stage>& seq, int32_t group) {
  PNode* prev = nullptr;
  for (const ast::Stage& s : seq) {
    nodes_.emplace_back();
    PNode* p = &nodes_.back();
    p->ast = &s;
    p->previous = prev;
    p->is_group = s.is_group;
    p->strategy = ToStrategy(s.contiguity);
    if (s.consecutive) p->inner = Strategy::kStrict;
    if (s.allow_combinations) p->inner = Strategy::kSkipTillAny;
    p->optional = s.optional;
    p->greedy = s.greedy;
    if (s.max == -1) {  // `times n..` / `one_or_more`
      p->looping = true;
      p->from = s.min;
      p->to = s.min;
    } else if (s.has_quantifier && (s.min != 1 || s.max != 1)) {
      p->times = true;
      p->from = s.min;
      p->to = s.max;
    }
    if (p->from == 0) {  // Flink's times(0, m): optional, from 1
      p->optional = true;
      p->from = 1;
      if (p->to == 0) p->to = 1;
    }
    if (s.within_ms) p->window_ms = *s.within_ms;
    if (s.is_group) {
      p->name = "$group" + std::to_string(group_counter_++) + "$";
      p->stage = 0;
      p->group_index = static_cast<int32_t>(program_.written.groups.size());
      program_.written.groups.push_back({});
      program_.written.groups.back().parent = group;
      p->raw = MakeChain(s.children, p->group_index);
      p->condition = True();  // Flink: a pattern without a condition accepts everything
      // Inner states of a group belong to inner stages; the group's own name is synthetic.
    } else {
      p->name = s.name;
      for (size_t k = 0; k < pattern_.stage_table.size(); ++k) {
        if (pattern_.stage_table[k] == &s) p->stage = static_cast<uint16_t>(k);
      }
      if (p->stage < program_.written.stages.size()) program_.written.stages[p->stage].group = group;
      if (s.where) {
        p->condition = LowerCondition(*s.where);
      } else {
        p->condition = True();
      }
    }
    if (s.until) p->until = LowerCondition(*s.until);
    prev = p;
  }
  return prev;
}

Cond Builder::LowerCondition(const ast::Expr& e, int depth) {
  // Splitting stops at a small depth (the rest stays one expression), so user-shaped
  // `a and b and c ...` chains never recurse deeply.
  constexpr int kMaxSplitDepth = 16;
  if (e.kind == ast::ExprKind::kBinary && depth < kMaxSplitDepth &&
      (e.binary_op == ast::BinaryOp::kAnd || e.binary_op == ast::BinaryOp::kOr)) {
    Cond a = LowerCondition(e.args[0], depth + 1);
    Cond b = LowerCondition(e.args[1], depth + 1);
    return e.binary_op == ast::BinaryOp::kAnd ? And(a, b) : Or(a, b);
  }
  nfa::ExprId id = lowerer_.Lower(e);
  return NewCond({nfa::CondOp::kExpr, id, -1, -1});
}

int Builder::CreateState(const std::string& name, nfa::StateType type, uint16_t stage) {
  int n = name_counts_[name]++;
  BState st;
  st.name = n == 0 ? name : name + ":" + std::to_string(n);
  st.type = type;
  st.stage = stage;
  states_.push_back(std::move(st));
  if (states_.size() > kMaxStates && error_.empty()) {
    error_ = "the pattern compiles to more than " + std::to_string(kMaxStates) + " states";
  }
  return static_cast<int>(states_.size() - 1);
}

// "1st", "2nd", "3rd", "4th", ..., "11th", "21st".
std::string Ordinal(int64_t n) {
  const char* suffix = "th";
  if (n % 100 < 11 || n % 100 > 13) {
    suffix = n % 10 == 1 ? "st" : n % 10 == 2 ? "nd" : n % 10 == 3 ? "rd" : "th";
  }
  return std::to_string(n) + suffix;
}

int Builder::CreateState(nfa::StateType type) {
  int s = CreateState(current_->name, type, current_->stage);
  // "2nd", "4th and later", "round 2", "2nd, round 3 and later"; rounds of nested groups
  // outer first: "round 1.3", "round 2+.1".
  std::string own;
  std::vector<std::string> rounds;
  for (const Iteration& it : iteration_) {
    if (!it.node->is_group) {
      own = Ordinal(it.n) + (it.and_later ? " and later" : "");
    } else {
      rounds.push_back(std::to_string(it.n) + (it.and_later ? "+" : ""));
    }
  }
  std::string note = own;
  if (rounds.size() == 1 && rounds[0].back() == '+') {
    rounds[0].pop_back();
    rounds[0] += " and later";
  }
  for (size_t k = 0; k < rounds.size(); ++k) {
    note += k > 0 ? "." : note.empty() ? "round " : ", round ";
    note += rounds[k];
  }
  states_[s].note = std::move(note);
  return s;
}

int Builder::Copy(int state) {
  std::string base = states_[state].name;
  size_t colon = base.find(':');
  if (colon != std::string::npos) base = base.substr(0, colon);
  int copy = CreateState(base, states_[state].type, states_[state].stage);
  states_[copy].note = states_[state].note;
  states_[copy].loop_group = states_[state].loop_group;
  std::vector<BEdge> edges = states_[state].edges;
  for (const BEdge& e : edges) {
    states_[copy].edges.push_back({e.action, e.target == state ? copy : e.target, e.cond});
  }
  return copy;
}

// ---- conditions (NFACompiler#getInnerIgnoreCondition, #getIgnoreCondition, #getTakeCondition)

Cond Builder::ExtendWithUntil(Cond c, Cond until, bool is_take) {
  if (until >= 0 && c >= 0) return And(Not(until), c);
  if (until >= 0 && is_take) return Not(until);
  return c;
}

// Between a stage's own iterations, its own inner contiguity. (NFACompiler gives the
// first stage of a group the group's inner one here, which silently drops that stage's
// `consecutive` / `allow_combinations`; the group's inner contiguity is for the group's
// iterations, IgnoreCondition below.)
Cond Builder::InnerIgnoreCondition(const PNode* p) {
  Strategy s = p->inner;
  Cond c = -1;
  switch (s) {
    case Strategy::kStrict: c = -1; break;
    case Strategy::kSkipTillNext: c = Not(Condition(p)); break;
    case Strategy::kSkipTillAny: c = True(); break;
    default: break;
  }
  return ExtendWithUntil(c, group_until_, false);
}

Cond Builder::IgnoreCondition(const PNode* p) {
  Strategy s = p->strategy;
  if (HeadOfGroup(p)) {
    // The head of a group takes the group's strategy on the first iteration and the
    // group's inner strategy on the following ones.
    s = CurrentGroupFirstOfLoop() ? group_entry_ : current_group_->inner;
  }
  Cond c = -1;
  switch (s) {
    case Strategy::kStrict: c = -1; break;
    case Strategy::kSkipTillNext: c = Not(Condition(p)); break;
    case Strategy::kSkipTillAny: c = True(); break;
    default: break;
  }
  return ExtendWithUntil(c, group_until_, false);
}

Cond Builder::TakeCondition(const PNode* p) { return ExtendWithUntil(Condition(p), group_until_, true); }

// ---- states (NFACompiler#createMiddleStates and friends)

int Builder::CreateMiddleStates(int sink, int* head_skip) {
  int last_sink = sink;
  // Inside a group: the stage after current_ compiled as the group's head, when every
  // stage before it is optional (the target of the skip of the stage before it).
  int next_head = -1;
  while (current_->previous != nullptr) {
    if (current_->strategy == Strategy::kNotFollow) {
      // A `not_followed_by` becomes edge conditions of its neighbours, except at the
      // very end of a pattern with a window, where it is a pending state.
      if ((current_->window_ms > 0 || program_.within_ms > 0 || pattern_.gap_ms.has_value()) &&
          states_[last_sink].type == nfa::StateType::kFinal) {
        int not_follow = CreateState(nfa::StateType::kPending);
        Cond not_cond = TakeCondition(current_);
        int stop = CreateStopState(not_cond, current_);
        AddProceed(not_follow, stop, not_cond);
        AddIgnore(not_follow, not_follow, Not(not_cond));
        last_sink = not_follow;
      }
    } else if (current_->strategy == Strategy::kNotNext) {
      int not_next = CreateState(nfa::StateType::kNormal);
      Cond not_cond = TakeCondition(current_);
      int stop = CreateStopState(not_cond, current_);
      if (states_[last_sink].type == nfa::StateType::kFinal) {
        AddIgnore(not_next, last_sink, Not(not_cond));  // so that the proceed to final is not fired
      } else {
        AddProceed(not_next, last_sink, Not(not_cond));
      }
      AddProceed(not_next, stop, not_cond);
      last_sink = not_next;
    } else {
      int entry = ConvertPattern(last_sink);
      if (current_group_ != nullptr && OptionalPrefix(current_)) {
        // The same stage again, as the head of the group: where the run goes when the
        // optional stages before it bind nothing in this iteration.
        PNode* old_as_head = as_head_;
        int old_head_skip = head_skip_;
        as_head_ = current_;
        head_skip_ = next_head;
        next_head = ConvertPattern(last_sink);
        as_head_ = old_as_head;
        head_skip_ = old_head_skip;
      } else {
        next_head = -1;
      }
      last_sink = entry;
    }
    following_ = current_;
    current_ = current_->previous;
  }
  if (head_skip != nullptr) *head_skip = next_head;
  return last_sink;
}

int Builder::ConvertPattern(int sink) {
  // Past the state limit the pattern is rejected: stop building, since nested `times`
  // and optional first stages of nested groups multiply states (and time) quickly.
  if (!error_.empty()) return sink;
  int last_sink;
  if (current_->looping) {
    // Once the loop has started, the `not_*` before the optional stage no longer apply.
    SetFirstOfLoop(false);
    int s = CopyWithoutTransitiveNots(sink);
    int looping = CreateLooping(s);
    SetFirstOfLoop(true);
    last_sink = CreateTimesState(looping, sink, current_->from, current_->from);
  } else if (current_->times) {
    last_sink = CreateTimesState(sink, sink, current_->from, current_->to);
  } else {
    last_sink = CreateSingletonState(sink);
  }
  AddStopStates(last_sink);
  return last_sink;
}

int Builder::CreateTimesState(int sink, int proceed, int64_t from, int64_t to) {
  int last_sink = sink;
  SetFirstOfLoop(false);
  Cond until = current_->until;
  Cond inner_ignore = ExtendWithUntil(InnerIgnoreCondition(current_), until, false);
  Cond take = ExtendWithUntil(TakeCondition(current_), until, true);
  // A stage compiled twice (as a group's head, see CreateMiddleStates) restricts its
  // sink once, and keeps the copy made before the first restriction.
  if (Greedy(sink) && from != to && !greedy_updated_[sink]) {
    if (until >= 0) original_state_map_[sink] = Copy(sink);
    UpdateWithGreedyCondition(sink, take);
    greedy_updated_[sink] = true;
  }
  // Built from the last event back: the state made at optional step i takes event
  // number to + from - i, the one at required step i event number from - i.
  for (int64_t i = from; i < to && error_.empty(); ++i) {
    iteration_.push_back({current_, to + from - i, false});
    last_sink = CreateSingletonState(last_sink, proceed, take, inner_ignore, true);
    AddStopStateToLooping(last_sink);
    iteration_.pop_back();
  }
  for (int64_t i = 0; i < from - 1 && error_.empty(); ++i) {
    iteration_.push_back({current_, from - i, false});
    last_sink = CreateSingletonState(last_sink, -1, take, inner_ignore, false);
    AddStopStateToLooping(last_sink);
    iteration_.pop_back();
  }
  SetFirstOfLoop(true);
  iteration_.push_back({current_, 1, false});
  int entry = CreateSingletonState(last_sink, EntrySkip(proceed), take, IgnoreCondition(current_), current_->optional);
  iteration_.pop_back();
  return entry;
}

void Builder::UpdateWithGreedyCondition(int state, Cond take) {
  for (BEdge& e : states_[state].edges) e.cond = And(e.cond, Not(take));
}

int Builder::CreateSingletonState(int sink) {
  return CreateSingletonState(sink, EntrySkip(sink), TakeCondition(current_), IgnoreCondition(current_),
                              current_->optional);
}

int Builder::CreateSingletonState(int sink, int proceed, Cond take, Cond ignore, bool optional) {
  if (current_->is_group) return CreateGroupPatternState(current_, sink, proceed, optional);

  int singleton = CreateState(nfa::StateType::kNormal);
  // Once an event is accepted, the `not_*` before an optional stage no longer apply.
  int s = CopyWithoutTransitiveNots(sink);
  AddTake(singleton, s, take);

  // `proceed` < 0: the entry of a group's last stage as the head, which cannot be
  // skipped (an iteration binds at least one event).
  if (optional && proceed >= 0) {
    if (Greedy(proceed)) {
      if (current_->until >= 0) {
        auto it = original_state_map_.find(proceed);
        if (it != original_state_map_.end()) AddProceed(singleton, it->second, And(TrueFunction(), current_->until));
      }
      AddProceed(singleton, proceed, And(TrueFunction(), Not(take)));
    } else {
      AddProceed(singleton, proceed, TrueFunction());
    }
  }

  if (ignore >= 0) {
    int ignore_state;
    // An optional stage (or the head of an optional group, first iteration) ignores into
    // a separate state without the PROCEED, so skipping events cannot re-enter the path
    // around the stage once per skipped event.
    // The same holds for the head of a group copy that can be left (an optional group,
    // the iterations of a loop or of `times n..m` past n): a run that ignored an event
    // waiting for the next iteration is committed to it, as in a looping single stage.
    // (Flink ignores into the state itself there, so a run can skip events and leave the
    // group later: the stage after the group loses its contiguity, and each event so
    // skipped yields the same match once more.)
    if (optional || HeadOfOptionalGroup(current_) || (HeadOfGroup(current_) && head_exits_)) {
      ignore_state = CreateState(nfa::StateType::kNormal);
      states_[ignore_state].note += states_[ignore_state].note.empty() ? "after a skip" : " (after a skip)";
      AddTake(ignore_state, s, take);
      AddIgnore(ignore_state, ignore_state, ignore);
      AddStopStates(ignore_state);
    } else {
      ignore_state = singleton;
    }
    AddIgnore(singleton, ignore_state, ignore);
  }
  return singleton;
}

// Makes `group` (== current_) the group being compiled; the caller saved the state.
// `exits`: the entry state of this copy of the group gets a PROCEED out of it.
void Builder::EnterGroup(PNode* group, bool exits) {
  // The first state of a group that heads its enclosing group is also the enclosing
  // group's first state, with its way out.
  head_exits_ = exits || (HeadOfGroup(group) && head_exits_);
  // A group that is the first bound stage of its enclosing group enters with the
  // enclosing group's contiguity, as a single head stage does.
  if (HeadOfGroup(group)) {
    group_entry_ = CurrentGroupFirstOfLoop() ? group_entry_ : current_group_->inner;
  } else {
    group_entry_ = group->strategy;
  }
  group_until_ = Or(group_until_, group->until);
  current_group_ = group;
  as_head_ = nullptr;
  head_skip_ = -1;
  current_ = group->raw;
}

GroupScopeState Builder::SaveGroupScope() const {
  return {current_, following_, current_group_, group_until_,
          group_entry_, as_head_, head_skip_, head_exits_};
}

void Builder::RestoreGroupScope(const GroupScopeState& saved) {
  current_ = saved.current;
  following_ = saved.following;
  current_group_ = saved.group;
  group_until_ = saved.until;
  group_entry_ = saved.entry;
  as_head_ = saved.as_head;
  head_skip_ = saved.head_skip;
  head_exits_ = saved.head_exits;
}

int Builder::CreateGroupPatternState(PNode* group, int sink, int proceed, bool optional) {
  const GroupScopeState saved = SaveGroupScope();
  Cond proceed_cond = TrueFunction();  // the enclosing group's
  EnterGroup(group, optional && proceed >= 0);
  int last_sink = CreateMiddleStates(sink, &head_skip_);
  last_sink = ConvertPattern(last_sink);
  if (optional && proceed >= 0) {
    // The first state of an optional group can skip the whole group.
    AddProceed(last_sink, proceed, proceed_cond);
  }
  RestoreGroupScope(saved);
  return last_sink;
}

int Builder::CreateLoopingGroupPatternState(PNode* group, int sink) {
  const GroupScopeState saved = SaveGroupScope();
  Cond proceed_cond = TrueFunction();  // the enclosing group's: `until` does not stop leaving
  int dummy = CreateState(group->name, nfa::StateType::kNormal, group->raw->stage);
  states_[dummy].loop_group = group->group_index;
  iteration_.push_back({group, group->from + 1, true});
  EnterGroup(group, true);
  int last_sink = CreateMiddleStates(dummy, &head_skip_);
  last_sink = ConvertPattern(last_sink);
  iteration_.pop_back();
  AddProceed(last_sink, sink, proceed_cond);
  AddProceed(dummy, last_sink, proceed_cond);
  RestoreGroupScope(saved);
  return last_sink;
}

int Builder::CreateLooping(int sink) {
  if (current_->is_group) return CreateLoopingGroupPatternState(current_, sink);
  Cond until = current_->until;
  Cond ignore = ExtendWithUntil(InnerIgnoreCondition(current_), until, false);
  Cond take = ExtendWithUntil(TakeCondition(current_), until, true);

  iteration_.push_back({current_, current_->from + 1, true});
  int looping = CreateState(nfa::StateType::kNormal);
  if (Greedy(sink)) {
    if (until >= 0) {
      // A stage compiled twice (as a group's head) copies its sink before the first
      // greedy restriction only.
      auto it = original_state_map_.find(sink);
      int sink_copy = greedy_updated_[sink] && it != original_state_map_.end() ? it->second : Copy(sink);
      AddProceed(looping, sink_copy, And(TrueFunction(), until));
      original_state_map_[sink] = sink_copy;
    }
    AddProceed(looping, sink, until >= 0 ? And(TrueFunction(), Not(Or(take, until))) : And(TrueFunction(), Not(take)));
    if (!greedy_updated_[sink]) UpdateWithGreedyCondition(sink, TakeCondition(current_));
    greedy_updated_[sink] = true;
  } else {
    AddProceed(looping, sink, TrueFunction());
  }
  AddTake(looping, looping, take);
  AddStopStateToLooping(looping);
  if (ignore >= 0) {
    int ignore_state = CreateState(nfa::StateType::kNormal);
    states_[ignore_state].note += " (after a skip)";
    AddTake(ignore_state, looping, take);
    AddIgnore(ignore_state, ignore_state, ignore);
    AddIgnore(looping, ignore_state, ignore);
    AddStopStateToLooping(ignore_state);
  }
  iteration_.pop_back();
  return looping;
}

void Builder::AddStopStates(int state) {
  for (const auto& [cond, name] : CurrentNotConditions()) {
    auto it = stop_states_.find(name);
    int stop = it != stop_states_.end() ? it->second : -1;
    if (stop < 0) continue;  // created with the not stage below
    AddProceed(state, stop, cond);
  }
}

void Builder::AddStopStateToLooping(int state) {
  if (following_ != nullptr && following_->strategy == Strategy::kNotFollow) {
    Cond not_cond = TakeCondition(following_);
    int stop = CreateStopState(not_cond, following_);
    AddProceed(state, stop, not_cond);
  }
}

std::vector<std::pair<Cond, std::string>> Builder::CurrentNotConditions() {
  std::vector<std::pair<Cond, std::string>> out;
  PNode* p = current_;
  while (p->previous != nullptr && (p->previous->optional || p->previous->strategy == Strategy::kNotFollow)) {
    p = p->previous;
    if (p->strategy == Strategy::kNotFollow) {
      Cond c = TakeCondition(p);
      CreateStopState(c, p);
      out.emplace_back(c, p->name);
    }
  }
  return out;
}

int Builder::CreateStopState(Cond not_condition, const PNode* not_pattern) {
  // All states that can stop on the same `not_*` stage share one stop state.
  auto it = stop_states_.find(not_pattern->name);
  if (it != stop_states_.end()) return it->second;
  int stop = CreateState(not_pattern->name, nfa::StateType::kStop, not_pattern->stage);
  AddTake(stop, stop, not_condition);
  stop_states_[not_pattern->name] = stop;
  return stop;
}

int Builder::CopyWithoutTransitiveNots(int sink) {
  auto nots = CurrentNotConditions();
  if (nots.empty() || !current_->optional) return sink;
  std::string base = states_[sink].name;
  size_t colon = base.find(':');
  if (colon != std::string::npos) base = base.substr(0, colon);
  int copy = CreateState(base, states_[sink].type, states_[sink].stage);
  states_[copy].note = states_[sink].note;
  states_[copy].loop_group = states_[sink].loop_group;
  std::vector<BEdge> edges = states_[sink].edges;
  for (const BEdge& e : edges) {
    if (e.action == nfa::Action::kProceed) {
      bool remove = false;
      if (states_[e.target].type == nfa::StateType::kStop) {
        for (const auto& n : nots) {
          if (states_[e.target].name == n.second) remove = true;
        }
      }
      if (!remove) states_[copy].edges.push_back(e);
    } else {
      states_[copy].edges.push_back({e.action, e.target == sink ? copy : e.target, e.cond});
    }
  }
  return copy;
}

void Builder::Flatten(Cond c, std::vector<nfa::CondInstr>& out) const {
  // Iterative post-order walk (user-shaped trees are never walked recursively).
  struct Item {
    Cond c;
    bool expanded;
  };
  std::vector<Item> stack{{c, false}};
  while (!stack.empty()) {
    Item it = stack.back();
    stack.pop_back();
    const CondNode& n = conds_[static_cast<size_t>(it.c)];
    if (n.op == nfa::CondOp::kTrue || n.op == nfa::CondOp::kExpr) {
      out.push_back({n.op, n.expr});
      continue;
    }
    if (it.expanded) {
      out.push_back({n.op, 0});
      continue;
    }
    stack.push_back({it.c, true});
    if (n.b >= 0) stack.push_back({n.b, false});
    stack.push_back({n.a, false});
  }
}

void Builder::DescribeStages() {
  nfa::WrittenForm& w = program_.written;
  for (const PNode& p : nodes_) {
    const ast::Stage& s = *p.ast;
    if (p.is_group) {
      nfa::WrittenGroup& g = w.groups[static_cast<size_t>(p.group_index)];
      g.declaration = StageDeclaration(written_, s, p.previous == nullptr && g.parent >= 0);
      g.repeated = p.looping || p.times;
      if (s.until) {
        g.until = written_.Of(s.until->span);
        Flatten(p.until, g.until_code);
      }
      continue;
    }
    if (p.stage >= w.stages.size()) continue;
    nfa::WrittenStage& ws = w.stages[p.stage];
    ws.declaration = StageDeclaration(written_, s, p.previous == nullptr && ws.group >= 0);
    if (s.where) {
      ws.where = written_.Of(s.where->span);
      Flatten(p.condition, ws.where_code);
    }
    if (s.until) {
      ws.until = written_.Of(s.until->span);
      Flatten(p.until, ws.until_code);
    }
  }
}

bool Builder::Build(std::string* error) {
  program_.within_ms = pattern_.within_ms.value_or(0);
  program_.written.gap_ms = pattern_.gap_ms.value_or(0);
  program_.written.stages.resize(pattern_.stage_table.size());

  PNode* last = MakeChain(pattern_.sequence);
  current_ = last;
  following_ = nullptr;

  int final_state = CreateState("$final$", nfa::StateType::kFinal, 0);
  int sink = CreateMiddleStates(final_state);
  int start = ConvertPattern(sink);
  states_[start].is_start = true;

  if (!lowerer_.error().empty()) error_ = lowerer_.error();
  if (!error_.empty()) {
    *error = error_;
    return false;
  }

  // Windows: a stage's own `within` and the pattern's `gap` apply to runs waiting in
  // any state of that stage (Flink's PREVIOUS_AND_CURRENT).
  // A group's `within` applies to every stage inside it (the shortest window wins).
  auto shorter = [](int64_t a, int64_t b) { return a == 0 ? b : b == 0 ? a : std::min(a, b); };
  std::vector<int64_t> stage_window(pattern_.stage_table.size(), 0);
  std::vector<std::pair<const PNode*, int64_t>> chains{{last, pattern_.gap_ms.value_or(0)}};
  while (!chains.empty()) {
    auto [p, enclosing] = chains.back();
    chains.pop_back();
    for (; p != nullptr; p = p->previous) {
      int64_t w = shorter(p->ast->within_ms.value_or(0), enclosing);
      if (p->is_group) {
        chains.emplace_back(p->raw, w);
      } else {
        stage_window[p->stage] = w;
      }
    }
  }

  // Flatten into the program.
  program_.states.clear();
  program_.edges.clear();
  std::map<Cond, nfa::CondId> cond_ids;
  for (size_t s = 0; s < states_.size(); ++s) {
    const BState& b = states_[s];
    nfa::State st;
    st.type = b.type;
    st.is_start = b.is_start;
    st.stage = b.stage;
    st.window_ms = b.type == nfa::StateType::kFinal ? 0 : stage_window.empty() ? 0 : stage_window[b.stage];
    st.first_edge = static_cast<uint32_t>(program_.edges.size());
    st.num_edges = static_cast<uint32_t>(b.edges.size());
    for (const BEdge& e : b.edges) {
      auto it = cond_ids.find(e.cond);
      nfa::CondId id;
      if (it != cond_ids.end()) {
        id = it->second;
      } else {
        nfa::CondRange r;
        r.begin = static_cast<uint32_t>(program_.cond_code.size());
        Flatten(e.cond, program_.cond_code);
        r.end = static_cast<uint32_t>(program_.cond_code.size());
        program_.conds.push_back(r);
        id = static_cast<nfa::CondId>(program_.conds.size() - 1);
        cond_ids[e.cond] = id;
      }
      program_.edges.push_back({e.action, static_cast<nfa::StateId>(e.target), id});
    }
    program_.states.push_back(st);
    program_.state_names.push_back(b.name);
    program_.written.states.push_back({b.note, b.loop_group});
  }
  program_.start = static_cast<nfa::StateId>(start);
  DescribeStages();
  return true;
}

// W0101: where a partial match can wait forever, or kNoId. Between events a run rests in
// the target of a TAKE or IGNORE edge (a normal or pending state), and only the pattern's
// `within` or that state's window (its stage's `within`, or the pattern's `gap`) discards
// it there. Keyed, resting there is enough: a key that sends nothing more keeps its run
// forever, so memory grows with the number of keys. Unkeyed, all runs meet every event and
// strict contiguity settles a waiting run at the next one; runs pile up only where a run
// can skip an event and go on waiting: an IGNORE edge into a state without a window. Of
// the states found, the one of the earliest stage is reported.
nfa::StateId UnboundedWait(const nfa::Program& p, bool keyed) {
  if (p.within_ms > 0 || p.states.empty()) return nfa::kNoId;
  std::vector<bool> reached(p.states.size(), false);
  std::vector<nfa::StateId> stack = {p.start};
  reached[p.start] = true;
  while (!stack.empty()) {
    const nfa::State& st = p.states[stack.back()];
    stack.pop_back();
    for (uint32_t e = st.first_edge; e < st.first_edge + st.num_edges; ++e) {
      const nfa::StateId t = p.edges[e].target;
      if (!reached[t]) {
        reached[t] = true;
        stack.push_back(t);
      }
    }
  }
  auto unbounded = [&](nfa::StateId t) {
    const nfa::State& st = p.states[t];
    return (st.type == nfa::StateType::kNormal || st.type == nfa::StateType::kPending) &&
           st.window_ms == 0;
  };
  auto skips_and_waits = [&](nfa::StateId t) {
    const nfa::State& st = p.states[t];
    for (uint32_t e = st.first_edge; e < st.first_edge + st.num_edges; ++e) {
      if (p.edges[e].action == nfa::Action::kIgnore && unbounded(p.edges[e].target)) return true;
    }
    return false;
  };
  nfa::StateId found = nfa::kNoId;
  for (nfa::StateId s = 0; s < p.states.size(); ++s) {
    if (!reached[s]) continue;
    const nfa::State& st = p.states[s];
    for (uint32_t e = st.first_edge; e < st.first_edge + st.num_edges; ++e) {
      const nfa::Edge& edge = p.edges[e];
      if (edge.action == nfa::Action::kProceed || !unbounded(edge.target)) continue;
      if (!keyed && !skips_and_waits(edge.target)) continue;
      if (found == nfa::kNoId || p.states[edge.target].stage < p.states[found].stage) {
        found = edge.target;
      }
    }
  }
  return found;
}

void WarnIfUnbounded(const ast::File& file, const ast::Pattern& pattern, const nfa::Program& p,
                     DiagnosticSink& sink) {
  const bool keyed = !pattern.key.empty();
  const nfa::StateId s = UnboundedWait(p, keyed);
  if (s == nfa::kNoId || p.states[s].stage >= pattern.stage_table.size()) return;
  const ast::Stage& stage = *pattern.stage_table[p.states[s].stage];
  const std::string fix =
      "give the pattern a 'within' (or a 'gap', or '" + stage.name + "' a 'within')";
  std::string help =
      keyed ? "no window discards it: a key that sends nothing more keeps its partial match, so "
              "memory grows with the number of keys; " + fix
            : "no window discards it: partial matches skip the events they cannot use while they "
              "wait here, so one more piles up with every start event; " + fix;
  dsl::Report(sink, file.source.get(), stage.name_span, dsl::Diag::kUnboundedPartialMatches,
              {stage.name}, std::move(help));
}

std::shared_ptr<nfa::Program> CompilePattern(const ast::File& file, const ast::Pattern& pattern,
                                             const WrittenText& written, nfa::Schema& schema,
                                             DiagnosticSink& sink) {
  auto program = std::make_shared<nfa::Program>();
  nfa::Program& p = *program;
  p.name = pattern.name;
  p.source_path = file.source ? file.source->path() : "";
  for (const ast::Path& k : pattern.key) {
    std::vector<nfa::FieldSegment> segs;
    for (const auto& s : k.segments) segs.push_back({s.name, s.index});
    p.key_slots.push_back(schema.Intern(segs));
    p.key_paths.push_back(nfa::Schema::Canonical(segs));
  }
  p.from = pattern.from;
  p.to = pattern.to.value_or("");
  for (const ast::Stage* s : pattern.stage_table) p.stages.push_back({s->name, s->binds_list});
  switch (pattern.skip.kind) {
    case ast::SkipKind::kNoSkip: p.skip = nfa::SkipKind::kNoSkip; break;
    case ast::SkipKind::kToNext: p.skip = nfa::SkipKind::kToNext; break;
    case ast::SkipKind::kPastLastEvent: p.skip = nfa::SkipKind::kPastLastEvent; break;
    case ast::SkipKind::kToFirst: p.skip = nfa::SkipKind::kToFirst; break;
    case ast::SkipKind::kToLast: p.skip = nfa::SkipKind::kToLast; break;
  }
  if (p.skip == nfa::SkipKind::kToFirst || p.skip == nfa::SkipKind::kToLast) {
    for (size_t k = 0; k < p.stages.size(); ++k) {
      if (p.stages[k].name == pattern.skip.stage) p.skip_stage = static_cast<uint16_t>(k);
    }
  }

  Builder builder(pattern, p, schema, written);
  std::string error;
  if (!builder.Build(&error)) {
    sink.Error(file.source.get(), pattern.name_span, "E0501", "cannot compile pattern '" + pattern.name + "': " + error);
    return nullptr;
  }

  ExprLowerer emit_lowerer(pattern, p, schema, &written);
  p.has_emit = pattern.has_emit;
  for (const ast::EmitField& f : pattern.emit) p.emit.push_back({f.name, emit_lowerer.Lower(f.value)});
  p.has_timeout = pattern.has_timeout;
  for (const ast::EmitField& f : pattern.timeout_emit) p.timeout_emit.push_back({f.name, emit_lowerer.Lower(f.value)});
  if (!emit_lowerer.error().empty()) {
    sink.Error(file.source.get(), pattern.name_span, "E0501",
               "cannot compile pattern '" + pattern.name + "': " + emit_lowerer.error());
    return nullptr;
  }
  WarnIfUnbounded(file, pattern, p, sink);
  return program;
}

}  // namespace

std::vector<std::shared_ptr<const nfa::Program>> Compile(const ast::File& file, nfa::Schema& schema,
                                                         DiagnosticSink& sink) {
  std::vector<std::shared_ptr<const nfa::Program>> out;
  const WrittenText written(file.source.get());
  for (const ast::Pattern& pattern : file.patterns) {
    auto p = CompilePattern(file, pattern, written, schema, sink);
    if (p) out.push_back(std::move(p));
  }
  return out;
}

std::vector<std::shared_ptr<const nfa::Program>> CompileSource(std::shared_ptr<const SourceFile> source,
                                                               nfa::Schema& schema, DiagnosticSink& sink) {
  ast::File file = dsl::ParseAndCheck(std::move(source), sink);
  return Compile(file, schema, sink);
}

}  // namespace tern::compiler
