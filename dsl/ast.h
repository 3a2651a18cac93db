// The position-tagged AST of a .tern file, as produced by dsl::Parse and
// annotated by dsl::Check (name resolution). Consumed by compiler::Compile.
// Tested by tests/unit/dsl/parser_test.cc (via Dump()).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/source.h"

namespace tern::ast {

// ---------------------------------------------------------------- expressions

enum class ExprKind : uint8_t {
  kNull,
  kBool,      // bool_value
  kInt,       // int_value
  kDouble,    // double_value
  kString,    // text (unescaped)
  kDuration,  // int_value = length in milliseconds (a duration literal is an int64 in expressions)
  kList,      // args = elements: the right-hand side of `in [..]` / `not in [..]`
  kName,      // text = identifier; Check sets `stage` when it names a stage
  kThis,      // the current event
  kMember,    // args[0].text   (text = field name; back-quoted names are unquoted here)
  kIndex,     // args[0][args[1]]
  kCall,      // text = function name; args = arguments
  kUnary,     // unary_op args[0]
  kBinary,    // args[0] binary_op args[1]
};

enum class UnaryOp : uint8_t { kNeg, kNot };

enum class BinaryOp : uint8_t {
  kOr,
  kAnd,
  kEq,
  kNe,
  kLt,
  kLe,
  kGt,
  kGe,
  kIn,          // rhs is a kList
  kNotIn,       // rhs is a kList
  kContains,    // string contains substring, or list contains element
  kStartsWith,
  kEndsWith,
  kMatches,     // rhs is a kString literal holding an ECMAScript regex
  kAdd,
  kSub,
  kMul,
  kDiv,
  kMod,
};

struct Expr {
  ExprKind kind = ExprKind::kNull;
  SourceSpan span;
  bool bool_value = false;
  int64_t int_value = 0;
  double double_value = 0;
  std::string text;  // string literal, identifier, member name or function name
  UnaryOp unary_op = UnaryOp::kNeg;
  BinaryOp binary_op = BinaryOp::kOr;
  std::vector<Expr> args;
  // Set by dsl::Check on kName nodes: the index (into Pattern::stage_table) of the stage
  // the name refers to, or -1 when the name is a field of the current event.
  int32_t stage = -1;

  Expr() = default;
  Expr(Expr&&) noexcept = default;
  Expr& operator=(Expr&&) noexcept = default;
  // No copies: a copy would recurse once per level of a chain.
  Expr(const Expr&) = delete;
  Expr& operator=(const Expr&) = delete;
  // Iterative: a left-associative chain of 100k terms is a tree 100k levels deep.
  ~Expr() {
    bool deep = false;
    for (const Expr& a : args) deep = deep || !a.args.empty();
    if (!deep) return;
    std::vector<Expr> pending;
    for (Expr& a : args) {
      if (!a.args.empty()) pending.push_back(std::move(a));
    }
    while (!pending.empty()) {
      Expr x = std::move(pending.back());
      pending.pop_back();
      for (Expr& a : x.args) {
        if (!a.args.empty()) pending.push_back(std::move(a));
      }
    }  // each x dies with children that have no children of their own
  }
};

// ---------------------------------------------------------------- patterns

enum class Contiguity : uint8_t {
  kBegin,          // the first stage of a sequence (top level or inside a group)
  kNext,
  kFollowedBy,
  kFollowedByAny,
  kNotNext,
  kNotFollowedBy,
};

enum class SkipKind : uint8_t { kNoSkip, kToNext, kPastLastEvent, kToFirst, kToLast };

struct Skip {
  SkipKind kind = SkipKind::kNoSkip;
  std::string stage;  // for kToFirst / kToLast
  SourceSpan span;    // the whole `skip ...` clause; its absence leaves span empty
};

// A field path: `card_id`, `user.id`, `items[0].sku`.
struct PathSegment {
  std::string name;   // empty when this segment is an index
  int64_t index = 0;  // used when name is empty; negative counts from the end
};
struct Path {
  std::vector<PathSegment> segments;
  SourceSpan span;
};

// One stage: a single event (`name where ...`) or a group `( ... )`.
struct Stage {
  SourceSpan span;           // the whole stage including modifiers
  Contiguity contiguity = Contiguity::kBegin;  // how it attaches to the previous stage
  SourceSpan contiguity_span;                  // the keyword (`followed_by`, ...)

  bool is_group = false;
  std::string name;          // single stages only
  SourceSpan name_span;
  std::optional<Expr> where;            // single stages only; absent = accepts every event
  std::vector<Stage> children;          // group only; children[0].contiguity == kBegin

  // Quantifier. Without one a stage binds exactly one event (min = max = 1).
  bool has_quantifier = false;  // `times`, `one_or_more` or `optional` was written
  SourceSpan quantifier_span;
  int64_t min = 1;              // `times 0..m` is written as min = 0 (the compiler maps it to optional)
  int64_t max = 1;              // -1 = unbounded (`times n..`, `one_or_more`)
  bool optional = false;

  // Modifiers. Each *_span is empty when the modifier is absent.
  bool greedy = false;
  SourceSpan greedy_span;
  bool consecutive = false;
  SourceSpan consecutive_span;
  bool allow_combinations = false;
  SourceSpan allow_combinations_span;
  std::optional<Expr> until;
  SourceSpan until_span;
  std::optional<int64_t> within_ms;  // per-stage `within`
  SourceSpan within_span;

  // Set by dsl::Check on single stages: true when a reference to this stage denotes a
  // list of events (the stage or an enclosing group can bind more than one event).
  bool binds_list = false;

  // Set by dsl::Parse: the keyword of each quantifier or modifier written a second time
  // (`greedy greedy`, `times 2 one_or_more`). The AST keeps the last value; Check reports
  // each span (E0315) and drops the pattern.
  std::vector<SourceSpan> repeated_spans;
};

struct EmitField {
  std::string name;
  SourceSpan name_span;
  Expr value;
};

struct Pattern {
  std::string name;
  SourceSpan span;       // from `pattern` to the closing brace
  SourceSpan name_span;

  std::vector<Path> key;  // empty = one global partition
  std::optional<int64_t> within_ms;
  SourceSpan within_span;
  std::optional<int64_t> gap_ms;
  SourceSpan gap_span;
  Skip skip;
  std::vector<std::string> from;  // input stream names; empty = all
  std::optional<std::string> to;  // alert destination override

  std::vector<Stage> sequence;    // sequence[0].contiguity == kBegin

  bool has_emit = false;
  std::vector<EmitField> emit;
  bool has_timeout = false;
  std::vector<EmitField> timeout_emit;

  // Set by dsl::Parse: the keyword of each clause (`within`, `key`, `emit`, ...) written a
  // second time. The AST keeps the last value; Check reports each span (E0315).
  std::vector<SourceSpan> repeated_spans;

  // Filled by dsl::Check: every single (non-group) stage in declaration order,
  // depth first. Expr::stage indexes into this. Pointers stay valid as long as
  // `sequence` is not modified.
  std::vector<const Stage*> stage_table;
};

struct File {
  std::shared_ptr<const SourceFile> source;
  std::vector<Pattern> patterns;
};

// A stable, one-line-per-node textual form used by golden tests.
std::string Dump(const Expr& e);
std::string Dump(const Pattern& p);

}  // namespace tern::ast
