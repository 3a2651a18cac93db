// The compiled, immutable form of one pattern: Flink-CEP-style NFA states with
// TAKE / IGNORE / PROCEED edges, their conditions, and the expression bytecode.
// Built by compiler::Compile, shared read-only by every key.
// Tested by tests/unit/compiler/compile_test.cc (via Dump()).
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <type_traits>
#include <vector>

#include "nfa/schema.h"
#include "nfa/value.h"

namespace re2 {
class RE2;
}

namespace tern::nfa {

using StateId = uint32_t;
using CondId = uint32_t;
using ExprId = uint32_t;
inline constexpr uint32_t kNoId = 0xFFFFFFFFu;

enum class StateType : uint8_t {
  kNormal,
  kFinal,    // reaching it completes a match
  kStop,     // reaching it kills the partial match (a `not_*` stage saw its event)
  kPending,  // `not_followed_by` at the end: completes when its window closes
};

enum class Action : uint8_t {
  kTake,     // bind the event to the source state's stage, move to target
  kIgnore,   // skip the event, move to target (often the source itself)
  kProceed,  // epsilon: move to target without consuming, evaluated with the same event
};

// One NFA state. Edges are [first_edge, first_edge + num_edges) in Program::edges.
struct State {
  StateType type = StateType::kNormal;
  bool is_start = false;
  uint16_t stage = 0;        // index into Program::stages of the stage this state binds for
  uint32_t first_edge = 0;
  uint32_t num_edges = 0;
  int64_t window_ms = 0;     // per-stage `within` / pattern `gap`: the run times out once
                             // watermark - previous event time >= window_ms; 0 = none
};

struct Edge {
  Action action = Action::kTake;
  StateId target = 0;
  CondId cond = 0;  // into Program::cond_code via Program::conds
};

static_assert(std::is_trivially_copyable_v<State>);
static_assert(std::is_trivially_copyable_v<Edge>);
static_assert(sizeof(Edge) == 12);

// Conditions are tiny postfix programs over booleans: push the value of an
// expression (memoised per event when it does not depend on the partial match),
// or combine with not / and / or.
enum class CondOp : uint8_t { kTrue, kExpr, kNot, kAnd, kOr };
struct CondInstr {
  CondOp op;
  uint32_t arg;  // ExprId for kExpr
};
struct CondRange {
  uint32_t begin;
  uint32_t end;
};

// Expression bytecode: a stack machine over nfa::Value.
enum class Op : uint8_t {
  kConst,        // push consts[arg]
  kField,        // push slot `arg` of the current event
  kThis,         // push the current event
  kStage,        // push what stage `arg` denotes in the partial match (event, null or event list)
  kMember,       // pop x; push slot `arg` of x (event), or the list of that slot (event list)
  kStageField,   // push stage_fields[arg]: a slot of the one event a single stage bound
                 // (missing if unbound) -- kStage + kMember without building a value
  kIndex,        // pop index, pop base; push base[index] (lists; negative from the end)
  kNeg,
  kNot,
  kAdd, kSub, kMul, kDiv, kMod,
  kEq, kNe, kLt, kLe, kGt, kGe,
  kIsNull,       // pop x; push x is null or missing   (`x == null`)
  kIsNotNull,    // pop x; push x is neither           (`x != null`)
  kContains, kStartsWith, kEndsWith,
  kMatches,      // pop x; push x matches regexes[arg]
  kIn,           // pop list, pop x; push x in list
  kNotIn,
  kJumpIfFalse,  // peek; if not true, jump to arg (leaves the value)  -- `and` short circuit
  kJumpIfTrue,   // peek; if true, jump to arg (leaves the value)      -- `or` short circuit
  kPop,
  kToBool,       // pop x; push Bool(x is true)
  kCall,         // call builtin `arg & 0xFF` with `arg >> 8` arguments
  kMakeList,     // pop `arg` values; push them as a value list
};

enum class Builtin : uint8_t {
  kCount, kSum, kAvg, kMin, kMax, kFirst, kLast, kLen, kAbs, kLower, kUpper, kExists,
  kCoalesce, kTime,
};

struct Instr {
  Op op;
  uint32_t arg;
};
static_assert(sizeof(Instr) == 8);

struct ExprInfo {
  uint32_t begin;      // into Program::code
  uint32_t end;
  bool uses_stages;    // false: depends only on the current event (memoisable per event)
  // `field <cmp> constant` and `field [not] in [constants]` are evaluated directly:
  // simple_op is the comparison (or kIn / kNotIn, simple_const then a value list), or
  // kPop when the expression is not of that shape.
  Op simple_op = Op::kPop;
  uint32_t simple_slot = 0;
  uint32_t simple_const = 0;
};

// What the alert shows for one Tern stage.
struct StageField {
  uint32_t stage;
  uint32_t slot;
};

struct StageInfo {
  std::string name;
  bool binds_list = false;
};

enum class SkipKind : uint8_t { kNoSkip, kToNext, kPastLastEvent, kToFirst, kToLast };

struct EmitField {
  std::string name;
  ExprId expr;
};

// How the author wrote the pattern, for pictures (`tern explain --dot`). Filled by
// compiler::Compile; hand-built programs may leave it empty. Descriptive only: matching,
// Dump, Fingerprint (and so durable state) never read it, so rewording or reformatting a
// pattern changes a picture, never a program's behaviour or identity.
// Texts are as written, comments dropped and each run of blanks and line breaks one space.
struct WrittenStage {
  std::string declaration;            // the stage without its `where`: "begin small times 3.. greedy"
  std::string where;                  // empty: no `where` (every event)
  std::vector<CondInstr> where_code;  // the `where` as compiled (ExprIds are unique to it), to
                                      // recognise it inside edge conditions; empty: no `where`
  std::string until;                  // empty: no `until`
  std::vector<CondInstr> until_code;
  int32_t group = -1;                 // innermost group around the stage (WrittenForm::groups); -1: none
};

struct WrittenGroup {
  std::string declaration;            // "followed_by (a next b) times 2 consecutive"
  std::string until;
  std::vector<CondInstr> until_code;
  int32_t parent = -1;                // enclosing group; -1: none
  bool repeated = false;              // `times` or a loop: its stages have states per round
};

struct WrittenState {
  std::string note;                   // which event of its stage the state takes ("2nd",
                                      // "4th and later", "2nd, round 1"); empty: not repeated
  int32_t group = -1;                 // >= 0: the loop-back state of that group (binds nothing)
};

struct WrittenForm {
  int64_t gap_ms = 0;                   // the pattern's `gap` (states carry it folded into window_ms)
  std::vector<std::string> expr_source;  // per expression; empty: unknown (use expr_text)
  std::vector<WrittenStage> stages;      // parallel to Program::stages
  std::vector<WrittenGroup> groups;      // declaration order (outer before inner)
  std::vector<WrittenState> states;      // parallel to Program::states
};

// Thread: any (immutable once built). Owned by shared_ptr<const Program>.
struct Program {
  std::string name;                 // pattern name
  std::string source_path;          // the .tern file it came from
  std::vector<uint32_t> key_slots;  // schema slots of the key paths; empty = global
  std::vector<std::string> key_paths;  // for explain / docs
  std::vector<std::string> from;    // input stream names; empty = all
  std::string to;                   // alert destination override; empty = default
  int64_t within_ms = 0;            // whole-match window; 0 = none
  SkipKind skip = SkipKind::kNoSkip;
  uint16_t skip_stage = 0;          // for kToFirst / kToLast

  std::vector<State> states;
  std::vector<Edge> edges;
  std::vector<std::string> state_names;  // for explain: "middle", "middle:1", "$final$"
  StateId start = 0;
  std::vector<StageInfo> stages;    // Tern stages (single stages), declaration order

  std::vector<CondRange> conds;
  std::vector<CondInstr> cond_code;
  std::vector<ExprInfo> exprs;
  std::vector<std::string> expr_text;  // per expression, its source form (for explain)
  std::vector<Instr> code;
  std::vector<StageField> stage_fields;  // kStageField operands
  std::vector<Value> consts;
  std::deque<std::string> const_strings;   // storage for string constants (deque: stable addresses)
  std::vector<std::unique_ptr<Value[]>> const_lists;
  // kMatches operands, compiled by dsl::CompileRegex (RE2: linear time, memory within
  // dsl::kRegexMaxMem). RE2 objects are immutable and thread-safe for matching.
  std::vector<std::shared_ptr<const re2::RE2>> regexes;
  std::vector<std::string> regex_sources;  // per regex, its text (ECMAScript syntax)

  bool has_emit = false;
  std::vector<EmitField> emit;
  bool has_timeout = false;
  std::vector<EmitField> timeout_emit;

  size_t max_stack = 64;            // evaluation stack depth needed (upper bound)

  WrittenForm written;              // descriptive: for pictures only
};

// The words the language and the listings use: "take", "ignore", "proceed";
// "no_skip", "past_last_event", ...
const char* ActionName(Action a);
const char* SkipName(SkipKind k);

// Human-readable listing of states and transitions (`tern explain`).
// The identity of an expression that reads only the event: equal strings mean the
// two expressions compute the same value for every event (their code with constants
// and regexes written out, jumps made relative). Programs of one engine share a
// schema, so field slots compare as they are. Empty for expressions that read the
// partial match. Used to evaluate each distinct condition once per event across
// every loaded pattern.
std::string ExprIdentity(const Program& p, ExprId expr);

// The identity of what the start state does with an event: the walk from the start
// state (its edges, actions and conditions, PROCEED targets unrolled), with event-only
// expressions written as their ExprIdentity and the others as "unknown". Two programs
// of one engine with equal start identities agree on Nfa::StartIsNoop for every event,
// so the engine decides it once per event for all of them.
std::string StartIdentity(const Program& p);

// Everything that makes a program behave as it does (states, conditions, windows,
// key, skip, emit, streams), as text: equal fingerprints, same alerts for the same
// input. A reload keeps the partial matches of patterns whose fingerprint is unchanged.
std::string Fingerprint(const Program& p);

std::string Dump(const Program& p);
// Graphviz (`tern explain --dot`), readable without the text listing: states grouped
// by stage (and group) with the stage as written, edges labelled with their action and
// condition as written, the pattern's key, windows and skip on top. nfa/program_dot.cc.
std::string DumpDot(const Program& p);

}  // namespace tern::nfa
